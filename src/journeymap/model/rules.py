"""Event-matching and segment rules: structured conditions, never SQL text.

A rule is a mapping from a field to a condition. Fields are event columns
(``event``, ``channel``, ``region``…) or property paths (``properties.plan``).
A condition is written the short way or the explicit way::

    event: product_view              # equals
    channel: [web, app]              # one of
    properties.amount: {gte: 100}    # comparison
    properties.coupon: {exists: true}

All conditions of ``match`` must hold (AND). A rule may also list alternatives with
``any``: then at least one of them must hold as well (``match`` AND (any₁ OR any₂ …)). The analytics layer compiles rules
into Ibis expressions; nothing here is ever passed to an engine as text.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from journeymap.model.base import Node

__all__ = ["Condition", "EventRule", "FieldName", "Scalar", "SegmentRule"]

Scalar = str | int | float | bool
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]

_OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "contains")


class Condition(Node):
    """A condition on one field; ``x`` means ``{eq: x}`` and ``[x, y]`` means ``{in: [x, y]}``."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: int | float | str | None = None
    gte: int | float | str | None = None
    lt: int | float | str | None = None
    lte: int | float | str | None = None
    exists: bool | None = None
    contains: str | None = None

    model_config = Node.model_config | {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _from_short(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"in": data}
        if isinstance(data, str | int | float | bool):
            return {"eq": data}
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.operators():
            raise ValueError(
                "a condition needs at least one of: " + ", ".join(o.rstrip("_") for o in _OPERATORS)
            )
        return self

    def operators(self) -> dict[str, Any]:
        """The operators that are set, by their written names (``in``, not ``in_``)."""
        out: dict[str, Any] = {}
        for name in ("eq", "ne", "in_", "not_in", "gt", "gte", "lt", "lte", "exists", "contains"):
            value = getattr(self, name)
            if value is not None:
                out[name.rstrip("_")] = value
        return out

    @model_serializer(mode="wrap")
    def _to_short(self, handler: SerializerFunctionWrapHandler) -> Any:
        ops = self.operators()
        if list(ops) == ["eq"]:
            return ops["eq"]
        if list(ops) == ["in"]:
            return list(ops["in"])
        return ops

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        scalar = [{"type": t} for t in ("string", "number", "boolean")]
        return {
            "anyOf": [*scalar, {"type": "array", "items": {"anyOf": scalar}}, handler(core_schema)]
        }


class EventRule(Node):
    """How a step shows up in event data."""

    match: dict[FieldName, Condition] = {}
    """Conditions that must all hold for an event to count as this step."""
    any: list[dict[FieldName, Condition]] = []
    """Alternatives: the event counts when every condition of one of them holds."""

    @model_validator(mode="after")
    def _not_empty(self) -> EventRule:
        if not self.match and not self.any:
            raise ValueError(
                "an event rule needs 'match' (or 'any'), e.g. {match: {event: signup}}"
            )
        return self


class SegmentRule(Node):
    """Which customers in the data belong to a persona or segment."""

    where: dict[FieldName, Condition]
