"""Personas and the people around the journey."""

from __future__ import annotations

from pydantic import Field

from journeymap.model.base import Evidence, Node, Slug
from journeymap.model.rules import SegmentRule

__all__ = ["Persona", "Stakeholder"]


class Persona(Node):
    """A customer archetype, tied to real customers by its segment rule."""

    id: Slug
    name: str
    age: int | None = Field(default=None, ge=0, le=130)
    job: str | None = None
    personality: str | None = None
    quote: str | None = None
    """A line the persona would say, shown on the map header."""
    values: list[str] = []
    goals: list[str] = []
    frustrations: list[str] = []
    preferred_channels: list[str] = []
    demographics: dict[str, str | int | float] = {}
    segment: SegmentRule | None = None
    """Which customers in the data are this persona, e.g. {where: {loyalty_member: true}}."""
    evidence: list[Evidence] = []


class Stakeholder(Node):
    """Someone inside the company who owns or touches the journey."""

    id: Slug
    name: str
    role: str | None = None
    function: str | None = None
    """The business function, e.g. marketing, sales, service."""
    responsibilities: list[str] = []
