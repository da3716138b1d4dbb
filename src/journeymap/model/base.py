"""Building blocks shared by every part of the journey-map document."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "Card",
    "Confidence",
    "Duration",
    "Emotion",
    "Evidence",
    "EvidenceKind",
    "Node",
    "Rating",
    "Slug",
    "format_duration",
    "parse_duration",
    "strongest_confidence",
]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_PATTERN, max_length=80),
    Field(description="Stable id: lower-case letters, digits, '-' or '_'; e.g. 'visit-site'."),
]
Emotion = Annotated[
    int, Field(ge=-2, le=2, description="Declared emotion: -2 very negative … +2 very positive.")
]
Rating = Annotated[int, Field(ge=1, le=5, description="1 (lowest) … 5 (highest).")]

EvidenceKind = Literal["interview", "survey", "analytics", "ticket", "assumption"]
Confidence = Literal["observed", "reported", "assumed"]
_CONFIDENCE_RANK: dict[Confidence, int] = {"observed": 2, "reported": 1, "assumed": 0}


class Node(BaseModel):
    """Base of every document part: unknown keys are errors, text is stripped."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        validate_assignment=True,
        use_attribute_docstrings=True,
    )


class Evidence(Node):
    """Where a card's content comes from, and how sure we are of it."""

    kind: EvidenceKind = "assumption"
    confidence: Confidence = "assumed"
    note: str | None = None
    source: str | None = None
    """A study, dashboard, ticket queue or file that backs the claim."""
    link: str | None = None


def strongest_confidence(evidence: list[Evidence]) -> Confidence:
    """The strongest confidence among ``evidence``; ``assumed`` when there is none."""
    best: Confidence = "assumed"
    for item in evidence:
        if _CONFIDENCE_RANK[item.confidence] > _CONFIDENCE_RANK[best]:
            best = item.confidence
    return best


class Card(Node):
    """A text card on the map (an action, a thought, a backstage process…).

    Written as a plain string when it has no evidence, or as
    ``{text: ..., evidence: [...]}`` when it does.
    """

    text: Annotated[str, StringConstraints(min_length=1)]
    evidence: list[Evidence] = []

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"text": data}
        return data

    @model_serializer(mode="wrap")
    def _to_compact(self, handler: SerializerFunctionWrapHandler) -> Any:
        if not self.evidence:
            return self.text
        return handler(self)

    @property
    def confidence(self) -> Confidence:
        return strongest_confidence(self.evidence)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        return {"anyOf": [{"type": "string", "minLength": 1}, schema]}


_DURATION_RE = re.compile(
    r"^\s*(?:(?P<w>\d+(?:\.\d+)?)\s*w)?\s*(?:(?P<d>\d+(?:\.\d+)?)\s*d)?\s*"
    r"(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s)?\s*$"
)
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: Any) -> timedelta:
    """Read ``"90s"``, ``"15m"``, ``"2h"``, ``"1d 4h"``, ``"2w"`` or a number of seconds.

    >>> parse_duration("1d 4h")
    datetime.timedelta(days=1, seconds=14400)
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a text such as '2h' or '3d', not true/false")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match and any(match.groupdict().values()):
            seconds = sum(float(v) * _UNITS[k] for k, v in match.groupdict().items() if v)
            return timedelta(seconds=seconds)
    raise ValueError(
        f"{value!r} is not a duration; write a number with a unit, such as "
        "'90s', '15m', '2h', '3d', '1w' or '1d 4h'"
    )


def format_duration(value: timedelta) -> str:
    """The compact text form of a duration, the inverse of :func:`parse_duration`.

    >>> format_duration(timedelta(days=1, hours=4))
    '1d 4h'
    """
    remaining = value.total_seconds()
    if remaining == 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        count = int(remaining // size) if unit != "s" else remaining
        if count:
            text = f"{count:g}" if isinstance(count, float) else str(count)
            parts.append(f"{text}{unit}")
            remaining -= count * size
    return " ".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json-unless-none"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(w|d|h|m|min|s)\s*)+$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration such as '90s', '15m', '2h', '3d', '1w' or '1d 4h'.",
        }
    ),
]
