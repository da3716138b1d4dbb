"""The evidenced map as a JSON-able document, and back.

:func:`dump_evidenced` turns an :class:`~journeymap.insights.evidence.EvidencedMap`
into plain data (dicts, lists, strings, numbers, booleans, None): the map as its own
document (:meth:`~journeymap.model.JourneyMap.to_data`), datetimes as ISO 8601 with
their offset, tuples as lists, ``numbers`` as ``[label, value]`` pairs. The caller
writes it (``json.dumps``) where it wants. :func:`load_evidenced` reads it back,
validating the map with :func:`journeymap.model.validate_map` and every other field
against its type; a bad document raises :class:`EvidenceFormatError` naming the path
of the bad field (``snapshot.steps[2].conversion.low``).

Numbers that are not finite (NaN, infinity) have no JSON form and are written as None.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from journeymap.errors import JourneyError
from journeymap.insights import evidence
from journeymap.insights.evidence import EvidencedMap
from journeymap.model import JourneyMap, validate_map

__all__ = ["EVIDENCE_SCHEMA", "EvidenceFormatError", "dump_evidenced", "load_evidenced"]

EVIDENCE_SCHEMA = "journeymap-evidence/1"
"""The ``schema`` value of an evidenced-map document."""


class EvidenceFormatError(JourneyError, ValueError):
    """An evidenced-map document that does not fit the format; says which field and why."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"evidenced map: {path or 'document'}: {message}")


def _dump(value: Any, path: str) -> Any:
    if isinstance(value, JourneyMap):
        return value.to_data()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _dump(getattr(value, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise EvidenceFormatError(
                path, f"{value.isoformat()} has no time zone; snapshots keep aware UTC times"
            )
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_dump(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dump_evidenced(ev: EvidencedMap) -> dict[str, Any]:
    """The evidenced map as plain, JSON-able data (see the module docs for the shape).

    >>> import json
    >>> from datetime import datetime, timezone
    >>> from journeymap.insights.evidence import Snapshot
    >>> from journeymap.model import JourneyMap
    >>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
    ...     {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"}]}]})
    >>> t = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    >>> doc = dump_evidenced(EvidencedMap(jmap, Snapshot(t, t, None, None, 0, 0, 0, None,
    ...     None, "duckdb", (), ())))
    >>> doc["schema"], doc["snapshot"]["as_of"], load_evidenced(json.loads(json.dumps(doc))).map == jmap
    ('journeymap-evidence/1', '2026-11-01T09:30:00+00:00', True)
    """
    data = _dump(ev, "")
    assert isinstance(data, dict)
    return {"schema": EVIDENCE_SCHEMA, **data}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "a text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _fits(value: Any, kind: Any) -> bool:
    """Whether ``value`` already has exactly the plain type ``kind`` (no conversion)."""
    if kind is type(None):
        return value is None
    if kind in (int, float, str, bool):
        return type(value) is kind
    return False


def _load(value: Any, kind: Any, path: str) -> Any:
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if _fits(value, arg):
                return value
        if value is None and float in args:
            return math.nan
        problems = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _load(value, arg, path)
            except EvidenceFormatError as exc:
                problems.append(exc)
        if len(problems) == 1:
            raise problems[0]
        allowed = " or ".join(_name(a) for a in args)
        raise EvidenceFormatError(path, f"expected {allowed}, got {_kind(value)} {value!r}")
    if origin is typing.Literal:
        if value in args and type(value) is type(args[0]):
            return value
        raise EvidenceFormatError(
            path, f"{value!r} is not one of: {', '.join(repr(a) for a in args)}"
        )
    if origin is tuple:
        if not isinstance(value, list):
            raise EvidenceFormatError(path, f"expected a list, got {_kind(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise EvidenceFormatError(
                path, f"expected a list of {len(args)} items, got {len(value)}"
            )
        return tuple(
            _load(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if kind is JourneyMap:
        return _load_map(value, path)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _load_dataclass(value, kind, path)
    if kind is datetime:
        return _load_datetime(value, path)
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if value is None:
            return math.nan
        raise EvidenceFormatError(path, f"expected a number, got {_kind(value)} {value!r}")
    if kind in (int, str, bool):
        if type(value) is kind:
            return value
        raise EvidenceFormatError(path, f"expected {_name(kind)}, got {_kind(value)} {value!r}")
    raise EvidenceFormatError(path, f"cannot read a value of type {kind!r}")  # pragma: no cover


def _name(kind: Any) -> str:
    if kind is type(None):
        return "null"
    return {int: "a whole number", float: "a number", str: "a text", bool: "true/false"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _load_datetime(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise EvidenceFormatError(path, f"expected an ISO 8601 time text, got {_kind(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EvidenceFormatError(
            path, f"{value!r} is not an ISO 8601 time such as 2026-11-01T09:30:00+00:00"
        ) from exc
    if moment.utcoffset() is None:
        raise EvidenceFormatError(
            path, f"{value!r} has no offset; write it with one, e.g. {value}+00:00"
        )
    return moment


def _load_map(value: Any, path: str) -> JourneyMap:
    jmap, problems = validate_map(value)
    if jmap is None:
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0] if errors else problems[0]
        where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.path)
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise EvidenceFormatError(where, f"{first}{more}")
    return jmap


def _load_dataclass(value: Any, kind: type[Any], path: str) -> Any:
    if not isinstance(value, Mapping):
        raise EvidenceFormatError(path, f"expected a mapping, got {_kind(value)}")
    hints = typing.get_type_hints(kind, vars(evidence))
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = [k for k in value if k not in fields]
    if unknown:
        raise EvidenceFormatError(
            f"{path}.{unknown[0]}".lstrip("."),
            f"unknown field; fields of {kind.__name__} are: {', '.join(fields)}",
        )
    loaded: dict[str, Any] = {}
    for name, spec in fields.items():
        where = f"{path}.{name}".lstrip(".")
        if name not in value:
            no_default = (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            )
            if no_default:
                raise EvidenceFormatError(where, "is missing")
            continue
        loaded[name] = _load(value[name], hints[name], where)
    return kind(**loaded)


def load_evidenced(data: Mapping[str, Any]) -> EvidencedMap:
    """Read an evidenced map written by :func:`dump_evidenced` (after ``json.loads``).

    The map is validated like a map file; every other field is checked against its type.
    A number written as None (NaN on the way out) reads back as NaN where only a number
    is allowed.
    """
    if not isinstance(data, Mapping):
        raise EvidenceFormatError("", f"expected a mapping, got {_kind(data)}")
    schema = data.get("schema")
    if schema != EVIDENCE_SCHEMA:
        raise EvidenceFormatError(
            "schema",
            f"expected '{EVIDENCE_SCHEMA}', got {schema!r}; is this an evidenced map "
            "written by journeymap?",
        )
    body = {k: v for k, v in data.items() if k != "schema"}
    loaded: EvidencedMap = _load_dataclass(body, EvidencedMap, "")
    return loaded
