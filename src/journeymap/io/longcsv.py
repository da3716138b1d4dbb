"""The long CSV layout: a whole map as one table that a spreadsheet can edit.

Every value of the map is one row, so nothing is lost: reading the file back gives a
map equal to the one written. The columns are::

    kind,stage,step,id,lane,index,field,value

- ``kind``: what the row describes: ``map``, ``scope``, ``persona``, ``stakeholder``,
  ``stage``, ``substage``, ``step``, ``fork`` or ``opportunity``.
- ``stage`` and ``step``: the ids of the stage and the step the row belongs to (on
  ``stage``, ``substage`` and ``step`` rows).
- ``id``: the id of a persona, stakeholder, sub-stage, fork or opportunity.
- ``lane`` and ``index``: for a list, its name and the item's position (from 0), e.g.
  ``actions`` and ``0``; empty for a single value.
- ``field``: the value's name, e.g. ``name``, ``emotion``, or ``text`` of a card.
  Lists inside a list item are written with dots: ``evidence.0.kind``.
- ``value``: the value as text. Numbers, ``true``/``false``, dates (``2026-11-20``)
  and durations (``2h``, ``1d 4h``) are written as a person would type them. Event and
  segment rules and persona demographics are JSON, e.g. ``{"match": {"event":
  "product_view"}}``.

A few rows of a map::

    kind,stage,step,id,lane,index,field,value
    map,,,,,,schema,journeymap/1
    map,,,,,,id,ridgeway-backpack
    map,,,,,,title,Carla buys a backpack for her camping trip
    persona,,,carla,,,name,Carla Mendes
    persona,,,carla,goals,0,,A comfortable 45-litre pack
    stage,consideration,,,,,name,Consideration
    step,consideration,visit-site,,,,name,Visits the Ridgeway site
    step,consideration,visit-site,,actions,0,text,Reads the size chart
    step,consideration,visit-site,,,,emotion,1
    step,consideration,visit-site,,pain_points,0,id,price-doubt
    step,consideration,visit-site,,pain_points,0,text,Unsure the price is fair
    step,consideration,visit-site,,pain_points,0,evidence.0.kind,survey
    step,consideration,visit-site,,,,events,"{""match"": {""event"": ""product_view""}}"
    fork,,,buy-or-leave,,,at,visit-site
    fork,,,buy-or-leave,branches,0,id,buy

Rows come in a fixed order: the map, its scope, personas, stakeholders, each stage
followed by its steps (those of a sub-stage after a ``substage`` row, each with a
``substage`` field naming it), forks and opportunities; inside a row group, fields in
the order of the document. Reading takes the rows in any order: stages, steps and
the other groups keep the order in which they first appear, list items are ordered by
``index``. A value left out takes its
default; to clear a value, delete its row (an empty text cell is an empty text).

Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-`` or
``@``) is written with a leading ``'``, which reading removes again.

Written as UTF-8 without a byte-order mark; read with or without one (Excel writes
one). Every problem is reported at once, each located by row and column
(``map.csv:12:8`` is row 12, column 8) with a hint on how to fix it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from journeymap.errors import Location, MapFormatError, MapValidationError, Problem
from journeymap.io.maps import Converted
from journeymap.model import (
    SCHEMA,
    Fork,
    JourneyMap,
    Opportunity,
    Persona,
    Scope,
    Stage,
    Stakeholder,
    Step,
    SubStage,
    format_duration,
    parse_duration,
    validate_map,
)
from journeymap.model.validate import did_you_mean

__all__ = ["COLUMNS", "KINDS", "read_long_csv", "write_long_csv"]

COLUMNS = ("kind", "stage", "step", "id", "lane", "index", "field", "value")
"""The header of a long CSV file, in order."""

_KIND, _STAGE, _STEP, _ID, _LANE, _INDEX, _FIELD, _VALUE = range(1, 9)
_SUBSTAGE_FIELD = "substage"
_FORMULA_START = tuple("=+-@")
_NUMBER = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.I)


@dataclass(frozen=True)
class _Kind:
    """A kind of row group: which model it holds and which columns identify it."""

    model: type[BaseModel]
    keys: tuple[int, ...] = ()
    """Key columns, in order; the last one holds the model's own id (if it has one)."""
    children: frozenset[str] = frozenset()
    """Fields written as row groups of their own."""

    @property
    def own_id(self) -> int | None:
        return self.keys[-1] if self.keys and "id" in self.model.model_fields else None


KINDS: dict[str, _Kind] = {
    "map": _Kind(
        JourneyMap,
        children=frozenset(
            {"scope", "personas", "stakeholders", "stages", "forks", "opportunities"}
        ),
    ),
    "scope": _Kind(Scope),
    "persona": _Kind(Persona, (_ID,)),
    "stakeholder": _Kind(Stakeholder, (_ID,)),
    "stage": _Kind(Stage, (_STAGE,), frozenset({"steps", "substages"})),
    "substage": _Kind(SubStage, (_STAGE, _ID), frozenset({"steps"})),
    "step": _Kind(Step, (_STAGE, _STEP)),
    "fork": _Kind(Fork, (_ID,)),
    "opportunity": _Kind(Opportunity, (_ID,)),
}
"""The kinds of rows, and the document part each describes."""


# --- the shape of a field ------------------------------------------------------------

_Scalar = type[Any]


@dataclass(frozen=True)
class _Shape:
    form: Literal["scalar", "scalars", "models", "json"]
    types: frozenset[_Scalar] = frozenset()
    model: type[BaseModel] | None = None


_SCALARS = (str, bool, int, float, datetime, date, timedelta)


def _scalar_types(annotation: Any) -> frozenset[_Scalar] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_types(typing.get_args(annotation)[0])
    if origin is Literal:
        return frozenset({str})
    if origin in (typing.Union, types.UnionType):
        found: set[_Scalar] = set()
        for arm in typing.get_args(annotation):
            if arm is type(None):
                continue
            inner = _scalar_types(arm)
            if inner is None:
                return None
            found |= inner
        return frozenset(found)
    if annotation in _SCALARS:
        return frozenset({annotation})
    return None


def _unwrap(annotation: Any) -> Any:
    """The annotation without ``Annotated`` and without ``None`` in a union."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(arms) == 1:
            return _unwrap(arms[0])
    return annotation


def _shape(info: FieldInfo) -> _Shape:
    annotation = _unwrap(info.annotation)
    if typing.get_origin(annotation) is list:
        item = _unwrap(typing.get_args(annotation)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return _Shape("models", model=item)
        inner = _scalar_types(item)
        return _Shape("scalars", inner) if inner else _Shape("json")
    scalar = _scalar_types(annotation)
    return _Shape("scalar", scalar) if scalar else _Shape("json")


def _fields(model: type[BaseModel]) -> dict[str, tuple[str, FieldInfo]]:
    """The model's fields by their written name (alias first): (attribute, info)."""
    return {info.alias or name: (name, info) for name, info in model.model_fields.items()}


# --- cells --------------------------------------------------------------------------


def _guard(text: str) -> str:
    """Text as a cell no spreadsheet runs as a formula (reversed by :func:`_unguard`)."""
    if text.startswith(_FORMULA_START) or _is_guarded(text):
        return "'" + text
    return text


def _is_guarded(cell: str) -> bool:
    return cell.startswith("'") and (cell[1:2] == "'" or cell[1:].startswith(_FORMULA_START))


def _unguard(cell: str) -> str:
    return cell[1:] if _is_guarded(cell) else cell


def _encode_duration(value: timedelta) -> str:
    text = format_duration(value)
    try:
        if parse_duration(text) == value:
            return text
    except ValueError:
        pass
    return repr(value.total_seconds())


def _encode(value: Any, kinds: frozenset[_Scalar]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 4000, as typed, rather than 4000.0
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, timedelta):
        return _encode_duration(value)
    text = str(value)
    if kinds - {str} and (_NUMBER.fullmatch(text) or text.startswith('"')):
        # a text in a field that also takes numbers: quoted so that it stays a text
        return json.dumps(text, ensure_ascii=False)
    return _guard(text)


def _json(value: Any) -> str:
    data = (
        value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if isinstance(value, BaseModel)
        else value
    )
    return json.dumps(data, ensure_ascii=False)


class _CellError(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def _decode(cell: str, kinds: frozenset[_Scalar]) -> Any:
    """A cell's value for a field that takes ``kinds``; :class:`_CellError` if it cannot."""
    if kinds == {str}:
        return _unguard(cell)
    text = cell.strip()
    if str in kinds:
        if text.startswith('"'):
            try:
                quoted = json.loads(text)
            except json.JSONDecodeError:
                quoted = None
            if isinstance(quoted, str):
                return quoted
        if not _NUMBER.fullmatch(text):
            return _unguard(cell)
    if not text:
        raise _CellError("the value is empty", "write a value, or delete the row to unset it")
    if bool in kinds:
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise _CellError(f"{text!r} is not true or false", "write true or false")
    if timedelta in kinds:
        if _NUMBER.fullmatch(text):
            seconds = float(text)
            if math.isfinite(seconds):
                return timedelta(seconds=seconds)
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise _CellError(f"{text!r} is not a duration", str(exc)) from None
    if int in kinds and float not in kinds:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        raise _CellError(f"{text!r} is not a whole number", "write digits only, e.g. 3")
    if float in kinds:
        if _NUMBER.fullmatch(text):
            return float(text)
        raise _CellError(f"{text!r} is not a number", "write a number such as 12.5")
    if datetime in kinds or date in kinds:
        return _decode_date(text, kinds)
    raise _CellError(f"cannot read {text!r}", "see docs/interchange.md for the value forms")


def _decode_date(text: str, kinds: frozenset[_Scalar]) -> date:
    try:
        if datetime in kinds and (date not in kinds or len(text) > 10):
            return datetime.fromisoformat(text)
        return date.fromisoformat(text)
    except ValueError:
        example = "2026-11-20 or 2026-11-20T09:30" if datetime in kinds else "2026-11-20"
        raise _CellError(f"{text!r} is not a date", f"write it as {example}") from None


# --- writing ------------------------------------------------------------------------

_Row = tuple[str, str, str, str, str, str, str, str]


def _is_default(node: BaseModel, name: str, info: FieldInfo) -> bool:
    if info.is_required():
        return False
    return bool(getattr(node, name) == info.get_default(call_default_factory=True))


def _item_cells(node: BaseModel) -> list[tuple[str, str]]:
    """(field path, value) of every non-default value inside a list item."""
    out: list[tuple[str, str]] = []
    fields = _fields(type(node))
    for key, (name, info) in fields.items():
        if _is_default(node, name, info):
            continue
        out += _value_cells(key, getattr(node, name), _shape(info))
    if not out:
        # an item with nothing but defaults still needs a row to exist
        key, (name, info) = next((k, f) for k, f in fields.items() if _shape(f[1]).form == "scalar")
        out.append((key, _encode(getattr(node, name), _shape(info).types)))
    return out


def _value_cells(key: str, value: Any, shape: _Shape) -> list[tuple[str, str]]:
    if shape.form == "scalar":
        return [(key, _encode(value, shape.types))]
    if shape.form == "json":
        return [(key, _json(value))]
    out: list[tuple[str, str]] = []
    for i, item in enumerate(value):
        if shape.form == "scalars":
            out.append((f"{key}.{i}", _encode(item, shape.types)))
        else:
            out += [(f"{key}.{i}.{path}", cell) for path, cell in _item_cells(item)]
    return out


def _group_rows(kind: str, keys: dict[int, str], node: BaseModel) -> list[_Row]:
    spec = KINDS[kind]
    rows: list[_Row] = []

    def row(lane: str, index: str, name: str, value: str) -> None:
        cells = [kind, "", "", "", lane, index, name, value]
        for column, text in keys.items():
            cells[column - 1] = text
        rows.append(typing.cast(_Row, tuple(cells)))

    if kind == "map":
        row("", "", "schema", SCHEMA)
    for key, (name, info) in _fields(type(node)).items():
        if name in spec.children or key == "schema" or (spec.own_id and name == "id"):
            continue
        if _is_default(node, name, info):
            continue
        shape = _shape(info)
        value = getattr(node, name)
        if shape.form in ("scalar", "json"):
            row("", "", key, _value_cells(key, value, shape)[0][1])
            continue
        for i, item in enumerate(value):
            if shape.form == "scalars":
                row(key, str(i), "", _encode(item, shape.types))
            else:
                for path, cell in _item_cells(item):
                    row(key, str(i), path, cell)
    return rows


def _all_rows(jmap: JourneyMap) -> Iterator[_Row]:
    yield from _group_rows("map", {}, jmap)
    if jmap.scope != Scope():
        yield from _group_rows("scope", {}, jmap.scope)
    for persona in jmap.personas:
        yield from _group_rows("persona", {_ID: persona.id}, persona)
    for stakeholder in jmap.stakeholders:
        yield from _group_rows("stakeholder", {_ID: stakeholder.id}, stakeholder)
    for stage in jmap.stages:
        yield from _group_rows("stage", {_STAGE: stage.id}, stage)
        for step in stage.steps:
            yield from _group_rows("step", {_STAGE: stage.id, _STEP: step.id}, step)
        for sub in stage.substages:
            yield from _group_rows("substage", {_STAGE: stage.id, _ID: sub.id}, sub)
            for step in sub.steps:
                keys = {_STAGE: stage.id, _STEP: step.id}
                yield ("step", stage.id, step.id, "", "", "", _SUBSTAGE_FIELD, sub.id)
                yield from _group_rows("step", keys, step)
    for fork in jmap.forks:
        yield from _group_rows("fork", {_ID: fork.id}, fork)
    for opportunity in jmap.opportunities:
        yield from _group_rows("opportunity", {_ID: opportunity.id}, opportunity)


def write_long_csv(jmap: JourneyMap) -> Converted:
    """The whole map as long CSV text (UTF-8, no byte-order mark); nothing is left out.

    One row per value, in a fixed order; see the module docstring for the columns.
    """
    lines = [",".join(COLUMNS)]
    lines += [",".join(_csv_cell(cell) for cell in row) for row in _all_rows(jmap)]
    return Converted("\n".join(lines) + "\n")


def _csv_cell(text: str) -> str:
    """A cell, quoted when it holds a comma, a quote or a line break (RFC 4180)."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


# --- reading ------------------------------------------------------------------------


class _Indexed(dict[int, Any]):
    """List items by their written index, until they are put in order."""


@dataclass
class _Group:
    """The rows of one stage, step, persona…: the data they build and where it came from."""

    kind: str
    keys: dict[int, str]
    row: int
    data: dict[str, Any] = field(default_factory=dict)
    cells: list[tuple[tuple[str | int, ...], int, int]] = field(default_factory=list)
    """(path inside the group, row, column) of every value, to locate problems."""
    substage: tuple[str, int] | None = None


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.groups: dict[tuple[str, ...], _Group] = {}

    def fail(self, row: int, column: int, message: str, hint: str | None) -> None:
        self.problems.append(_problem((), message, hint, None, self.source, row, column))

    def read_rows(self, text: str) -> None:
        reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
        rows: list[list[str]] = []
        try:
            rows.extend(reader)
        except csv.Error as exc:
            raise MapFormatError(
                f"{self.source}: row {len(rows) + 1}: not valid CSV: {exc}; check that every "
                "quoted cell ends with a '\"' (save the file again from the spreadsheet)"
            ) from None
        if not rows or not any(c.strip() for c in rows[0]):
            raise MapFormatError(
                f"{self.source}:1:1: no header row; the first row must be: {','.join(COLUMNS)}"
            )
        order = self.read_header(rows[0])
        for number, cells in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in cells):
                continue  # a blank row holds nothing
            extra = [i for i in range(len(cells)) if i not in order.values() and cells[i].strip()]
            if extra:
                self.fail(
                    number,
                    extra[0] + 1,
                    f"a value outside the {len(COLUMNS)} columns: {cells[extra[0]]!r}",
                    "move it into the 'value' column, or delete it",
                )
                continue
            row = ["" for _ in COLUMNS]
            for position, column in order.items():
                if column < len(cells):
                    row[position - 1] = cells[column]
            self.read_row(number, row)

    def read_header(self, header: list[str]) -> dict[int, int]:
        names = [h.strip().lower() for h in header]
        order: dict[int, int] = {}
        problems = []
        for i, name in enumerate(names):
            if name in COLUMNS:
                order[COLUMNS.index(name) + 1] = i
            elif name:
                hint = did_you_mean(name, COLUMNS) or f"the columns are: {', '.join(COLUMNS)}"
                problems.append((i + 1, f"unknown column {name!r}", hint))
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            problems.append(
                (
                    1,
                    f"missing column{'s' * (len(missing) > 1)}: {', '.join(missing)}",
                    f"the header row must be: {','.join(COLUMNS)}",
                )
            )
        if problems:
            for column, message, hint in problems:
                self.fail(1, column, message, hint)
            raise MapValidationError(self.problems, source=self.source)
        return order

    def read_row(self, number: int, row: list[str]) -> None:
        kind = row[_KIND - 1].strip().lower()
        if kind not in KINDS:
            hint = did_you_mean(kind, KINDS) or f"use one of: {', '.join(KINDS)}"
            self.fail(number, _KIND, f"unknown kind {row[_KIND - 1]!r}", hint)
            return
        spec = KINDS[kind]
        keys: dict[int, str] = {}
        for column in (_STAGE, _STEP, _ID):
            text = row[column - 1].strip()
            if column in spec.keys and not text:
                self.fail(
                    number,
                    column,
                    f"a {kind} row needs the {COLUMNS[column - 1]} id",
                    f"fill in column '{COLUMNS[column - 1]}'",
                )
                return
            if column not in spec.keys and text:
                self.fail(
                    number,
                    column,
                    f"a {kind} row has nothing in column '{COLUMNS[column - 1]}' (found {text!r})",
                    f"clear the cell; {kind} rows are identified by "
                    + (", ".join(COLUMNS[k - 1] for k in spec.keys) or "their kind alone"),
                )
                return
            if text:
                keys[column] = text
        ident = (kind, *keys.values())
        group = self.groups.get(ident)
        if group is None:
            group = self.groups[ident] = _Group(kind, keys, number)
        lane, index, name = (row[c - 1].strip() for c in (_LANE, _INDEX, _FIELD))
        value = row[_VALUE - 1]
        if kind == "step" and not lane and name == _SUBSTAGE_FIELD:
            if group.substage is not None:
                self.fail(
                    number,
                    _FIELD,
                    f"a second sub-stage for this step (the first is on row {group.substage[1]})",
                    "keep one 'substage' row per step",
                )
            else:
                group.substage = (value.strip(), number)
            return
        path: list[tuple[str, int]] = []
        if lane:
            path += [(lane, _LANE), (index, _INDEX)]
            if name:
                path += [(part, _FIELD) for part in name.split(".")]
        elif index:
            self.fail(number, _INDEX, "an index without a lane", "fill in 'lane', or clear 'index'")
            return
        elif not name:
            self.fail(
                number,
                _FIELD,
                "the row names no field",
                "fill in 'field' (e.g. name), or 'lane' and 'index' for a list item",
            )
            return
        else:
            path.append((name, _FIELD))
        self.place(group, spec, path, value, number)

    def place(
        self, group: _Group, spec: _Kind, path: list[tuple[str, int]], cell: str, number: int
    ) -> None:
        """Put the value of ``cell`` at ``path`` inside the group's data."""
        model: type[BaseModel] = spec.model
        target: dict[Any, Any] = group.data
        where: list[str | int] = []
        top = True
        while path:
            (key, column), path = path[0], path[1:]
            fields = _fields(model)
            hidden = spec.children | ({"id"} if spec.own_id else set()) if top else set()
            if key not in fields or fields[key][0] in hidden:
                choices = [k for k, (n, _) in fields.items() if n not in hidden]
                if spec.own_id and top and key == "id":
                    hint = f"the id goes in column '{COLUMNS[spec.own_id - 1]}'"
                else:
                    hint = did_you_mean(key, choices) or f"use one of: {', '.join(choices)}"
                self.fail(number, column, f"{model.__name__} has no field {key!r}", hint)
                return
            shape = _shape(fields[key][1])
            is_lane = top and column == _LANE
            if shape.form in ("scalars", "models"):
                if top and not is_lane:
                    self.fail(
                        number,
                        column,
                        f"'{key}' is a list",
                        f"write each item on its own row with lane '{key}' and index 0, 1, …",
                    )
                    return
                if not path:
                    self.fail(number, column, f"'{key}' is a list: which item?", "add .0, .1 …")
                    return
                (index_text, index_column), path = path[0], path[1:]
                if not re.fullmatch(r"\d+", index_text):
                    self.fail(
                        number,
                        index_column,
                        f"index {index_text!r} is not a whole number",
                        "number list items 0, 1, 2 …",
                    )
                    return
                index = int(index_text)
                items = target.setdefault(key, _Indexed())
                where += [key, index]
                if shape.form == "scalars":
                    if path:
                        self.fail(
                            number,
                            path[0][1],
                            f"items of '{key}' are plain values with no field {path[0][0]!r}",
                            "leave 'field' empty",
                        )
                        return
                    self.put(group, items, index, cell, shape, where, number)
                    return
                assert shape.model is not None
                if not path:
                    sub = _fields(shape.model)
                    self.fail(
                        number,
                        _FIELD,
                        f"which field of the {shape.model.__name__}?",
                        f"fill in 'field' with one of: {', '.join(sub)}",
                    )
                    return
                target = items.setdefault(index, {})
                model = shape.model
                top = False
                continue
            if is_lane:
                self.fail(
                    number,
                    column,
                    f"'{key}' is not a list",
                    f"leave 'lane' and 'index' empty and write '{key}' in 'field'",
                )
                return
            if path:
                self.fail(
                    number,
                    path[0][1],
                    f"'{key}' holds a single value, not {path[0][0]!r}",
                    f"write '{'.'.join(str(w) for w in [*where, key])}' in 'field'",
                )
                return
            where.append(key)
            self.put(group, target, key, cell, shape, where, number)
            return

    def put(
        self,
        group: _Group,
        target: dict[Any, Any],
        key: str | int,
        cell: str,
        shape: _Shape,
        where: list[str | int],
        number: int,
    ) -> None:
        path = tuple(where)
        if key in target:
            first = next(r for p, r, _ in group.cells if p == path)
            self.fail(
                number,
                _FIELD,
                f"a second value for '{_dotted(path)}' (the first is on row {first})",
                "keep one of the two rows",
            )
            return
        if shape.form == "json":
            try:
                value = json.loads(cell)
            except json.JSONDecodeError as exc:
                self.fail(
                    number,
                    _VALUE,
                    f"'{_dotted(path)}' is not valid JSON: {exc.msg} at character {exc.pos + 1}",
                    'write it as JSON, e.g. {"match": {"event": "product_view"}}',
                )
                return
        else:
            try:
                value = _decode(cell, shape.types)
            except _CellError as exc:
                self.fail(number, _VALUE, f"'{_dotted(path)}': {exc}", exc.hint)
                return
        target[key] = value
        group.cells.append((path, number, _VALUE))

    def assemble(self) -> tuple[dict[str, Any], dict[tuple[str | int, ...], tuple[int, int]]]:
        """The map's data, and the row and column of each of its parts."""
        placed: list[tuple[tuple[str | int, ...], _Group]] = []
        groups = list(self.groups.values())
        by_kind: dict[str, list[_Group]] = {k: [] for k in KINDS}
        for group in groups:
            by_kind[group.kind].append(group)
        data: dict[str, Any] = {}
        if not by_kind["map"]:
            self.fail(
                2,
                _KIND,
                "no 'map' rows",
                "add the rows map,,,,,,schema,journeymap/1 and map,,,,,,id,… and map,,,,,,title,…",
            )
        else:
            data = by_kind["map"][0].data
            placed.append(((), by_kind["map"][0]))
        if by_kind["scope"]:
            data["scope"] = by_kind["scope"][0].data
            placed.append((("scope",), by_kind["scope"][0]))
        for kind, key in (
            ("persona", "personas"),
            ("stakeholder", "stakeholders"),
            ("fork", "forks"),
            ("opportunity", "opportunities"),
        ):
            items = data.setdefault(key, [])
            for group in by_kind[kind]:
                placed.append(((key, len(items)), group))
                items.append({"id": group.keys[_ID], **group.data})
        stages: list[dict[str, Any]] = []
        stage_index: dict[str, int] = {}
        for group in by_kind["stage"]:
            stage_id = group.keys[_STAGE]
            stage_index[stage_id] = len(stages)
            placed.append((("stages", len(stages)), group))
            stages.append({"id": stage_id, **group.data, "steps": [], "substages": []})
        data["stages"] = stages
        subs: dict[tuple[str, str], tuple[int, int]] = {}
        for group in by_kind["substage"]:
            stage_id = group.keys[_STAGE]
            if stage_id not in stage_index:
                self.missing_stage(group, "sub-stage", stage_index)
                continue
            si = stage_index[stage_id]
            substages = stages[si]["substages"]
            subs[(stage_id, group.keys[_ID])] = (si, len(substages))
            placed.append((("stages", si, "substages", len(substages)), group))
            substages.append({"id": group.keys[_ID], **group.data, "steps": []})
        for group in by_kind["step"]:
            stage_id = group.keys[_STAGE]
            if stage_id not in stage_index:
                self.missing_stage(group, "step", stage_index)
                continue
            si = stage_index[stage_id]
            step = {"id": group.keys[_STEP], **group.data}
            if group.substage is None:
                steps = stages[si]["steps"]
                placed.append((("stages", si, "steps", len(steps)), group))
            elif (stage_id, group.substage[0]) in subs:
                _, sub = subs[(stage_id, group.substage[0])]
                steps = stages[si]["substages"][sub]["steps"]
                placed.append((("stages", si, "substages", sub, "steps", len(steps)), group))
            else:
                known = [s for (st, s) in subs if st == stage_id]
                hint = did_you_mean(group.substage[0], known) or (
                    f"add a row substage,{stage_id},,{group.substage[0]},,,name,…"
                    if not known
                    else f"sub-stages of '{stage_id}' are: {', '.join(known)}"
                )
                self.fail(
                    group.substage[1],
                    _VALUE,
                    f"step '{group.keys[_STEP]}' names sub-stage {group.substage[0]!r}, "
                    f"which stage '{stage_id}' does not have",
                    hint,
                )
                continue
            steps.append(step)
        positions: dict[tuple[str | int, ...], tuple[int, int]] = {}
        for prefix, group in placed:
            positions.setdefault(prefix, (group.row, _KIND))
            own = group.keys and KINDS[group.kind].own_id
            if own:
                positions[(*prefix, "id")] = (group.row, own)
            for path, row, column in group.cells:
                at = _ordered_path(group.data, path)
                for end in range(1, len(at)):
                    positions.setdefault((*prefix, *at[:end]), (row, _LANE))
                positions[(*prefix, *at)] = (row, column)
        return _in_order(data), positions

    def missing_stage(self, group: _Group, what: str, known: dict[str, int]) -> None:
        stage_id = group.keys[_STAGE]
        hint = did_you_mean(stage_id, known) or (
            f"add a row stage,{stage_id},,,,,name,… (stages are: {', '.join(known)})"
            if known
            else f"add a row stage,{stage_id},,,,,name,…"
        )
        self.fail(
            group.row, _STAGE, f"the {what} is in stage {stage_id!r}, which has no rows", hint
        )


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def _ordered_path(data: dict[str, Any], path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """``path`` with each written index replaced by the item's place in its list."""
    out: list[str | int] = []
    node: Any = data
    for part in path:
        if isinstance(node, _Indexed) and isinstance(part, int):
            out.append(sorted(node).index(part))
        else:
            out.append(part)
        node = node[part]
    return tuple(out)


def _in_order(node: Any) -> Any:
    if isinstance(node, _Indexed):
        return [_in_order(node[i]) for i in sorted(node)]
    if isinstance(node, dict):
        return {k: _in_order(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_in_order(v) for v in node]
    return node


def _problem(
    path: tuple[str | int, ...],
    message: str,
    hint: str | None,
    where: str | None,
    source: str,
    row: int,
    column: int,
) -> Problem:
    name = COLUMNS[column - 1] if column <= len(COLUMNS) else "past the last column"
    here = f"row {row}, column {column} ({name})"
    return Problem(
        path,
        message,
        hint=hint,
        where=f"{here}, {where}" if where else here,
        location=Location(source, row, column),
    )


def read_long_csv(text: str, *, source: str = "<csv>") -> JourneyMap:
    """Read a map from long CSV text (a leading byte-order mark is fine).

    Raises :class:`~journeymap.errors.MapValidationError` listing every problem, each
    located by row and column, or :class:`~journeymap.errors.MapFormatError` when the
    text is not CSV at all.
    """
    reader = _Reader(source)
    reader.read_rows(text)
    data, positions = reader.assemble()
    if reader.problems:
        reader.problems.sort(
            key=lambda p: (p.location.line, p.location.column) if p.location else (0, 0)
        )
        raise MapValidationError(reader.problems, source=source)
    jmap, problems = validate_map(data)
    if jmap is not None:
        return jmap
    located = []
    for problem in problems:
        if problem.severity != "error":
            continue
        path = problem.path
        while path and path not in positions:
            path = path[:-1]
        row, column = positions.get(path, (2, _KIND))
        located.append(
            _problem(
                problem.path, problem.message, problem.hint, problem.where, source, row, column
            )
        )
    raise MapValidationError(located, source=source)
