"""Events → steps → stages, through each step's event-matching rule from the map.

A step's ``events`` rule is structured data (:class:`journeymap.model.rules.EventRule`):
conditions on event columns (``event``, ``channel``, ``region`` …) or on paths into the
JSON ``properties`` column (``properties.plan``, ``properties.cart.total``). They are
compiled to Ibis predicates, never to SQL text, so a rule written by a user in the web
app cannot inject anything, and the same rule runs on DuckDB and on Spark.

Rules of matching:

- ``match`` conditions must all hold; ``any`` holds when every condition of one of its
  alternatives holds; a rule with both needs both.
- A missing value (null column, absent property) never satisfies ``eq``, ``in``,
  ``gt``/``gte``/``lt``/``lte``, ``contains`` or ``exists: true``; it always satisfies
  ``ne``, ``not_in`` and ``exists: false`` ("not equal to x" includes "has no value").
- Property values compare as text for string operands and as numbers for numeric
  operands (a property holding ``"3"`` or ``3`` equals ``3``); booleans compare with
  ``true``/``false``. On a timestamp column a string operand is read as an ISO
  timestamp (``ts: {gte: "2024-01-01"}``).
- An event that matches several steps goes to the **first of them in journey order**
  (stages in order, each stage's own steps before its sub-stages' steps), so every
  event counts once and a more specific step should be listed before a general one.
- Events that match no step are kept, with ``step_id`` and ``stage_id`` set to the
  ``other`` label and ``step_index = stage_index = -1``; their share is reported.

>>> from journeymap.model import JourneyMap
>>> import ibis
>>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
...     {"id": "s", "name": "S", "steps": [
...         {"id": "view", "name": "View", "events": {"match": {"event": "product_view"}}}]}]})
>>> mapped = map_events(ibis.table({"event": "string"}, name="events"), jmap)
>>> mapped.table.columns[-4:]
('step_id', 'stage_id', 'step_index', 'stage_index')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeymap.errors import JourneyError
from journeymap.model.journey import JourneyMap
from journeymap.model.rules import Condition, EventRule

__all__ = [
    "MappedEvents",
    "MappingError",
    "StepInfo",
    "compile_condition",
    "compile_rule",
    "list_steps",
    "map_events",
    "resolve_field",
]

OTHER = "other"


class MappingError(JourneyError, ValueError):
    """An event rule that cannot be applied to the events table (unknown column, bad value)."""


@dataclass(frozen=True)
class StepInfo:
    """One step of a map in journey order, as the analytics see it."""

    step_id: str
    stage_id: str
    step_index: int
    stage_index: int
    name: str
    rule: EventRule | None


@dataclass(frozen=True)
class MappedEvents:
    """Events with the step and stage each one belongs to.

    ``table`` holds every input event plus ``step_id``, ``stage_id`` (strings; the
    ``other`` label when no step matched), ``step_index`` and ``stage_index`` (int64,
    0-based journey order; -1 for unmatched events). ``unmatched_share`` is a scalar
    expression: the share of events that matched no step (null when there are no events).
    ``steps`` lists the map's steps in journey order.
    """

    table: ir.Table
    unmatched_share: ir.FloatingScalar
    steps: tuple[StepInfo, ...]
    other: str = OTHER


def list_steps(jmap: JourneyMap) -> tuple[StepInfo, ...]:
    """The map's steps in journey order, with their stage and 0-based indexes."""
    out: list[StepInfo] = []
    for stage_index, stage in enumerate(jmap.stages):
        for step in stage.all_steps():
            out.append(
                StepInfo(
                    step_id=step.id,
                    stage_id=stage.id,
                    step_index=len(out),
                    stage_index=stage_index,
                    name=step.name,
                    rule=step.events,
                )
            )
    return tuple(out)


def map_events(events: ir.Table, jmap: JourneyMap, *, other: str = OTHER) -> MappedEvents:
    """Attach to each event the first step (in journey order) whose rule it matches.

    Steps without an ``events`` rule never match. The result keeps every input row;
    see the module docstring for the matching rules.
    """
    steps = list_steps(jmap)
    for col in ("step_id", "stage_id", "step_index", "stage_index"):
        if col in events.columns:
            raise MappingError(
                f"the events table already has a '{col}' column; map raw events, "
                "not events that were mapped before"
            )
    ruled = [s for s in steps if s.rule is not None]
    step_index: ir.IntegerValue
    if ruled:
        branches = [
            (compile_rule(s.rule, events), ibis.literal(s.step_index, "int64"))
            for s in ruled
            if s.rule is not None
        ]
        step_index = ibis.cases(*branches, else_=ibis.literal(-1, "int64"))
    else:
        step_index = ibis.literal(-1, "int64")
    table = events.mutate(step_index=step_index)
    by_index = {s.step_index: s for s in steps}
    step_id = table.step_index.substitute(
        {i: s.step_id for i, s in by_index.items()}, else_=ibis.literal(other)
    )
    stage_id = table.step_index.substitute(
        {i: s.stage_id for i, s in by_index.items()}, else_=ibis.literal(other)
    )
    stage_index = table.step_index.substitute(
        {i: s.stage_index for i, s in by_index.items()}, else_=ibis.literal(-1, "int64")
    ).cast("int64")
    table = table.mutate(
        step_id=step_id.cast("string"),
        stage_id=stage_id.cast("string"),
        stage_index=stage_index,
    ).relocate("step_index", after="stage_id")
    share = (table.step_index == -1).cast("float64").mean()
    return MappedEvents(table=table, unmatched_share=share, steps=steps, other=other)


def compile_rule(rule: EventRule, table: ir.Table) -> ir.BooleanValue:
    """The Ibis predicate that is true for the rows of ``table`` that ``rule`` matches.

    Never null: a row for which a condition cannot be decided does not match.
    """
    preds: list[ir.BooleanValue] = []
    if rule.match:
        preds.append(_all(rule.match, table))
    if rule.any:
        alternatives = [_all(alt, table) for alt in rule.any]
        preds.append(_or(alternatives))
    return _and(preds)


def _all(conditions: Mapping[str, Condition], table: ir.Table) -> ir.BooleanValue:
    return _and([compile_condition(field, cond, table) for field, cond in conditions.items()])


def _and(preds: list[ir.BooleanValue]) -> ir.BooleanValue:
    if not preds:
        return ibis.literal(True)
    out = preds[0]
    for p in preds[1:]:
        out = out & p
    return out


def _or(preds: list[ir.BooleanValue]) -> ir.BooleanValue:
    if not preds:
        return ibis.literal(False)
    out = preds[0]
    for p in preds[1:]:
        out = out | p
    return out


@dataclass(frozen=True)
class _Field:
    """A resolved field: a typed column, or the text and presence of a JSON property."""

    value: ir.Value
    is_property: bool


def resolve_field(field: str, table: ir.Table) -> ir.Value:
    """The Ibis value a rule field names: a column, or the text of a JSON property path.

    ``event`` is the column; ``properties.cart.total`` is the property at that path
    inside the JSON ``properties`` column, as text (JSON strings unquoted, numbers and
    booleans as written, absent or JSON null as null).
    """
    return _resolve(field, table).value


def _resolve(field: str, table: ir.Table) -> _Field:
    head, _, rest = field.partition(".")
    if head not in table.columns:
        hint = (
            f"; for a property write 'properties.{field}'" if "properties" in table.columns else ""
        )
        raise MappingError(
            f"event rule field '{field}': the events table has no column '{head}'; "
            f"columns are: {', '.join(table.columns)}{hint}"
        )
    column = table[head]
    if not rest:
        return _Field(column, is_property=False)
    dtype = column.type()
    if dtype.is_struct():
        value: ir.Value = column
        for part in rest.split("."):
            value = value[part]
        return _Field(value, is_property=False)
    if not (dtype.is_json() or dtype.is_string()):
        raise MappingError(
            f"event rule field '{field}': column '{head}' is {dtype}, which has no "
            f"fields; use a path into the JSON properties column, e.g. 'properties.{rest}'"
        )
    return _Field(_json_text(column, rest.split(".")), is_property=True)


def _json_text(column: ir.Value, path: list[str]) -> ir.StringValue:
    """The JSON value at ``path`` as text, the same way on every engine.

    A JSON column (DuckDB and most SQL engines) unwraps strings properly. A text column
    (Spark has no JSON type) goes through ``get_json_object``, which already returns
    strings unquoted; other engines reading JSON text get the quotes stripped here.
    """
    is_json = column.type().is_json()
    node: Any = column if is_json else column.cast(dt.JSON())
    for part in path:
        node = node[part]
    raw = node.cast("string")
    if is_json:
        text = ibis.coalesce(node.str, raw)
    else:
        quoted = raw.startswith('"') & raw.endswith('"') & (raw.length() >= 2)
        text = ibis.ifelse(quoted, raw.substr(1, raw.length() - 2), raw)
    # JSON null is "no value", like an absent key.
    return ibis.ifelse(text == "null", ibis.null("string"), text).cast("string")


def compile_condition(field: str, condition: Condition, table: ir.Table) -> ir.BooleanValue:
    """The predicate for one ``field: condition`` pair of a rule (never null)."""
    resolved = _resolve(field, table)
    preds = [
        _operator(field, resolved, op, operand) for op, operand in condition.operators().items()
    ]
    return _and(preds)


def _operator(field: str, f: _Field, op: str, operand: Any) -> ir.BooleanValue:
    value = f.value
    present = value.notnull()
    if op == "exists":
        return present if operand else value.isnull()
    if op == "contains":
        return present & _fill(value.cast("string").contains(str(operand)))
    if op in ("eq", "ne"):
        hit = present & _fill(_equals(field, f, operand))
        return hit if op == "eq" else ~hit
    if op in ("in", "not_in"):
        hit = _or([present & _fill(_equals(field, f, x)) for x in operand])
        return hit if op == "in" else ~hit
    left, right = _comparable(field, f, operand)
    cmp = {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    return present & _fill(cmp)


def _fill(pred: ir.BooleanValue) -> ir.BooleanValue:
    return pred.fill_null(False)


def _equals(field: str, f: _Field, operand: Any) -> ir.BooleanValue:
    left, right = _comparable(field, f, operand)
    return left == right


def _comparable(field: str, f: _Field, operand: Any) -> tuple[Any, Any]:
    """Both sides of a comparison in one type, decided by the operand and the column."""
    value = f.value
    if f.is_property:
        if isinstance(operand, bool):
            return value.lower(), "true" if operand else "false"
        if isinstance(operand, int | float):
            return value.try_cast("float64"), float(operand)
        return value, str(operand)
    dtype = value.type()
    try:
        if dtype.is_timestamp():
            return value, _timestamp(operand)
        if dtype.is_date():
            return value, ibis.date(str(operand))
        if dtype.is_boolean():
            if isinstance(operand, bool):
                return value, operand
            return value.cast("string").lower(), str(operand).lower()
        if dtype.is_numeric():
            if isinstance(operand, bool) or not isinstance(operand, int | float):
                return value.cast("float64"), float(str(operand))
            return value, operand
        if dtype.is_string():
            if isinstance(operand, bool):
                return value.lower(), "true" if operand else "false"
            return value, str(operand)
    except ValueError as exc:
        raise MappingError(
            f"event rule field '{field}': {operand!r} is not a valid value for a "
            f"{dtype} column; write a {dtype} value"
        ) from exc
    return value.cast("string"), str(operand)


def _timestamp(operand: Any) -> ir.TimestampScalar:
    """An ISO timestamp (or date) operand as a UTC timestamp literal; naive means UTC."""
    if isinstance(operand, datetime):
        parsed = operand
    elif isinstance(operand, date):
        parsed = datetime(operand.year, operand.month, operand.day)
    else:
        parsed = datetime.fromisoformat(str(operand).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return ibis.literal(parsed.astimezone(UTC), type=dt.Timestamp(timezone="UTC"))
