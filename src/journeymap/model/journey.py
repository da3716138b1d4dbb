"""The journey-map document: scope, personas, stages, steps, forks, opportunities.

The model checks the shape of each part (types, ranges, unknown keys). Whether the
parts fit together (ids unique, references resolve, no empty stage) is checked by
:func:`journeymap.model.validate.check_map`, which reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from journeymap.model.base import (
    Card,
    Confidence,
    Duration,
    Emotion,
    Evidence,
    Node,
    Rating,
    Slug,
    strongest_confidence,
)
from journeymap.model.persona import Persona, Stakeholder
from journeymap.model.rules import EventRule

__all__ = [
    "KPI",
    "SCHEMA",
    "Branch",
    "Fork",
    "JourneyMap",
    "Opportunity",
    "PainPoint",
    "Scope",
    "Stage",
    "Step",
    "SubStage",
]

SCHEMA = "journeymap/1"


class PainPoint(Node):
    """Something that hurts the customer at a step; severity 1 (minor) … 5 (critical)."""

    id: Slug
    text: str = Field(min_length=1)
    severity: Rating = 3
    evidence: list[Evidence] = []

    @property
    def confidence(self) -> Confidence:
        return strongest_confidence(self.evidence)


class Step(Node):
    """One moment of the journey: a touchpoint in a channel, what the customer does,
    thinks and feels, and how the moment shows up in event data."""

    id: Slug
    name: str = Field(min_length=1)
    description: str | None = None
    touchpoint: str | None = None
    channel: str | None = None
    offline: bool = False
    owner: str | None = None
    """The business function that owns this step (marketing, sales, service…)."""
    personas: list[Slug] = []
    """Personas this step applies to; empty means all."""
    actions: list[Card] = []
    thoughts: list[Card] = []
    feelings: list[Card] = []
    emotion: Emotion | None = None
    pain_points: list[PainPoint] = []
    desired_experience: str | None = None
    backstage: list[Card] = []
    """Processes behind the line of visibility that make this step happen."""
    key_transaction: bool = False
    milestone: str | None = None
    """A milestone reached at this step, e.g. 'CRM entry'."""
    trigger: str | None = None
    """What sets this step off, e.g. 'coupon ad a day later'."""
    duration: Duration | None = None
    """How long the step usually takes, for the timeline view."""
    at: date | datetime | None = None
    """When the step happens, for journeys placed on a calendar."""
    events: EventRule | None = None
    evidence: list[Evidence] = []

    @property
    def confidence(self) -> Confidence:
        return strongest_confidence(self.evidence)


class KPI(Node):
    """A measure a stage is held to, with its target."""

    id: Slug | None = None
    name: str
    metric: str = "custom"
    """reach, conversion, drop_off, median_time, csat, nps, ces, or a name of your own."""
    target: float | str | None = None
    baseline: float | str | None = None
    """The value before the work on this journey started, to measure change against."""
    unit: str | None = None
    direction: Literal["higher", "lower"] = "higher"
    """Whether higher values are better (conversion) or lower are (time, drop-off)."""


class SubStage(Node):
    """A named group of steps inside a stage."""

    id: Slug
    name: str
    description: str | None = None
    customer_goal: str | None = None
    desired_experience: str | None = None
    steps: list[Step] = []


class Stage(Node):
    """A phase of the journey with the customer's goal and the experience we want."""

    id: Slug
    name: str = Field(min_length=1)
    description: str | None = None
    customer_goal: str | None = None
    desired_experience: str | None = None
    kpis: list[KPI] = []
    steps: list[Step] = []
    substages: list[SubStage] = []
    evidence: list[Evidence] = []

    def all_steps(self) -> Iterator[Step]:
        """The stage's steps in journey order: its own first, then each sub-stage's."""
        yield from self.steps
        for sub in self.substages:
            yield from sub.steps


class Branch(Node):
    """One way a fork can go."""

    id: Slug
    label: str
    to: Slug | None = None
    """The step this branch leads to; empty when the customer leaves the journey."""
    condition: EventRule | None = None
    """How to recognise, in event data, that a customer took this branch."""
    share: float | None = Field(default=None, ge=0, le=1)
    """The declared share of customers expected to take this branch (0..1)."""
    description: str | None = None


class Fork(Node):
    """A decision point at a step, with the branches customers can take."""

    id: Slug
    at: Slug
    question: str
    branches: list[Branch] = Field(min_length=2)
    evidence: list[Evidence] = []


OpportunityStatus = Literal["idea", "planned", "in_progress", "done", "dropped"]


class Opportunity(Node):
    """A change that would improve the journey, scored for prioritisation."""

    id: Slug
    title: str = Field(min_length=1)
    description: str | None = None
    addresses: list[Slug] = []
    """Pain points, steps or stages this opportunity improves."""
    impact: Rating | None = None
    feasibility: Rating | None = None
    effort: Rating | None = None
    cost: float | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    """ISO 4217 code of ``cost``, e.g. USD, KRW, EUR."""
    owner: str | None = None
    status: OpportunityStatus = "idea"
    link: str | None = None
    evidence: list[Evidence] = []


class Scope(Node):
    """What the map covers, for whom, and who keeps it true."""

    goal: str | None = None
    journey: str | None = None
    """The journey in one line, e.g. 'buying a backpack for a camping trip'."""
    persona: Slug | None = None
    """The focus persona's id."""
    channels: list[str] = []
    functions: list[str] = []
    """Business functions involved, e.g. marketing, sales, service."""
    owner: str | None = None
    review_every_days: int | None = Field(default=None, ge=1)


class JourneyMap(Node):
    """A customer journey map (``schema: journeymap/1``)."""

    schema_: Literal["journeymap/1"] = Field(default="journeymap/1", alias="schema")
    id: Slug
    title: str = Field(min_length=1)
    lang: str = "en"
    """Language of the map's text (BCP 47), e.g. en or ko."""
    description: str | None = None
    version: str | None = None
    """The document's own version label, e.g. '2026-11 workshop'."""
    updated: date | None = None
    tags: list[str] = []
    scope: Scope = Scope()
    personas: list[Persona] = []
    stages: list[Stage] = Field(min_length=1)
    forks: list[Fork] = []
    opportunities: list[Opportunity] = []
    stakeholders: list[Stakeholder] = []

    model_config = Node.model_config | {"populate_by_name": True}

    def all_steps(self) -> Iterator[tuple[Stage, Step]]:
        """Every step with its stage, in journey order."""
        for stage in self.stages:
            for step in stage.all_steps():
                yield stage, step

    def step(self, step_id: str) -> Step:
        """The step with this id; ``KeyError`` when there is none."""
        for _, step in self.all_steps():
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def to_data(self) -> dict[str, object]:
        """The document as plain data (compact form), ready for YAML or JSON."""
        data: dict[str, object] = self.model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude_none=True
        )
        return {"schema": SCHEMA, **data}
