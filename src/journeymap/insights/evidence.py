"""The evidenced map: a journey map together with what the data says about it.

These are the typed, already-computed results that flow from the engine-side runners
(which execute the analytics expressions) into the pure insights (pain points,
opportunity scores) and on to the renderers (the map's metrics lane, the report).
Every number here is small: per step, per stage, per segment, never per event.

Rates are fractions in 0..1; durations are seconds; timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from journeymap.model import JourneyMap

__all__ = [
    "Driver",
    "Estimate",
    "EvidencedMap",
    "ObservedPainPoint",
    "PainPointKind",
    "Preference",
    "PreferenceCell",
    "SankeyLink",
    "Satisfaction",
    "SatisfactionScale",
    "ScoredOpportunity",
    "ScoringMethod",
    "SegmentConversion",
    "Snapshot",
    "StageMetrics",
    "StepMetrics",
    "StepSignals",
]

SatisfactionScale = Literal["csat", "nps", "ces", "rating", "sentiment"]
"""How a satisfaction figure is expressed.

``csat``: share of 4–5 answers on a 1–5 scale (0..1). ``nps``: promoters − detractors
on a 0–10 scale (−100..100). ``ces``: mean effort on 1–7 (lower is better). ``rating``:
mean of 1–5 ratings. ``sentiment``: mean text sentiment (−1..+1).
"""

PainPointKind = Literal[
    "drop_off", "slow", "low_satisfaction", "loop", "support_contact", "segment_outlier"
]

ScoringMethod = Literal["impact_feasibility", "rice", "custom"]


@dataclass(frozen=True)
class Estimate:
    """A measured value with its confidence interval and the sample it rests on."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    confidence: float = 0.95


@dataclass(frozen=True)
class Satisfaction:
    """One satisfaction figure for a step or stage (see :data:`SatisfactionScale`)."""

    scale: SatisfactionScale
    score: Estimate
    responses: int


@dataclass(frozen=True)
class StepMetrics:
    """What the data says about one step of the map.

    ``reach`` counts customers with at least one event matching the step;
    ``converted`` those of them who went on to the next step within the window,
    ``dropped`` those who did not, ``in_progress`` those whose window is still open.
    ``conversion`` is converted / (converted + dropped) with a Wilson interval;
    ``median_seconds`` and ``p90_seconds`` the time to the next step among converters.
    ``measured_emotion`` (−2..+2) comes from feedback about the step, when there is any.
    """

    step_id: str
    stage_id: str
    reach: int
    converted: int
    dropped: int
    in_progress: int
    conversion: Estimate
    drop_off: float | None
    median_seconds: float | None
    p90_seconds: float | None
    events: int = 0
    satisfaction: tuple[Satisfaction, ...] = ()
    measured_emotion: float | None = None
    sample_dropped: tuple[str, ...] = ()
    """A few customers who dropped off after this step, for drill-down."""
    sample_slow: tuple[str, ...] = ()
    """A few of the slowest converters (time to the next step), for drill-down."""


@dataclass(frozen=True)
class StageMetrics:
    """What the data says about one stage: reach, conversion to the next stage, time in it."""

    stage_id: str
    reach: int
    converted: int
    dropped: int
    in_progress: int
    conversion: Estimate
    drop_off: float | None
    median_seconds: float | None
    p90_seconds: float | None
    satisfaction: tuple[Satisfaction, ...] = ()
    measured_emotion: float | None = None


@dataclass(frozen=True)
class StepSignals:
    """Behaviour around one step that points at friction.

    ``loop_customers``: customers who came back to this step after a later step
    (back-and-forth); ``support_customers``: customers who contacted support within
    ``support_window_seconds`` after the step, against ``support_baseline`` (the share
    among all customers with any event in the same period).
    """

    step_id: str
    reach: int
    loop_customers: int = 0
    loop_returns: int = 0
    support_customers: int = 0
    support_window_seconds: float = 0.0
    support_baseline: float | None = None
    sample_loop: tuple[str, ...] = ()
    sample_support: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The measured side of an evidenced map, with when and from what it was measured."""

    as_of: datetime
    computed_at: datetime
    data_from: datetime | None
    data_to: datetime | None
    customers: int
    events: int
    feedback: int
    unmatched_share: float | None
    window_seconds: float | None
    engine: str
    steps: tuple[StepMetrics, ...]
    stages: tuple[StageMetrics, ...]
    signals: tuple[StepSignals, ...] = ()
    sources: tuple[str, ...] = ()
    """The import batches (file names) the numbers rest on."""

    def step(self, step_id: str) -> StepMetrics | None:
        """The metrics of one step, or None when the step had no data."""
        return next((s for s in self.steps if s.step_id == step_id), None)

    def stage(self, stage_id: str) -> StageMetrics | None:
        """The metrics of one stage, or None when the stage had no data."""
        return next((s for s in self.stages if s.stage_id == stage_id), None)


@dataclass(frozen=True)
class ObservedPainPoint:
    """A pain point found in the data, with why we think so.

    ``numbers`` holds the figures the explanation quotes (label → value), ``sample`` a
    few affected customers for drill-down, ``p_value`` the test behind it when there is
    one. ``declared`` names a pain point of the map at the same step that this one
    confirms, when there is one.
    """

    id: str
    kind: PainPointKind
    title: str
    explanation: str
    step_id: str | None
    stage_id: str | None
    affected: int
    severity: int
    confidence: Literal["high", "medium", "low"]
    numbers: tuple[tuple[str, float | int | str], ...] = ()
    sample: tuple[str, ...] = ()
    p_value: float | None = None
    declared: str | None = None


@dataclass(frozen=True)
class ScoredOpportunity:
    """An opportunity of the map with its measured impact and its score."""

    opportunity_id: str
    title: str
    addresses: tuple[str, ...]
    customers_affected: int
    conversion_lost: float | None
    value_per_customer: float | None
    impact_value: float | None
    currency: str | None
    impact: float
    feasibility: float
    effort: float | None
    score: float
    rank: int
    method: ScoringMethod
    quadrant: Literal["quick win", "big bet", "fill-in", "money pit"]
    explanation: str = ""


@dataclass(frozen=True)
class Driver:
    """Something converters did more (or less) often than the others.

    ``scope`` is ``stage:<id>`` or ``fork:<fork-id>/<branch-id>``; ``feature`` what was done (for
    example ``event=coupon_click`` or ``channel=app``). Counts are customers.
    """

    scope: str
    feature: str
    converters_with: int
    converters: int
    others_with: int
    others: int
    odds_ratio: Estimate
    p_value: float | None
    q_value: float | None
    significant: bool


@dataclass(frozen=True)
class PreferenceCell:
    """One (group, choice) cell of a preference table, e.g. (KR, naverpay)."""

    group: str
    choice: str
    count: int
    share: float
    residual: float | None
    """Adjusted standardised residual; |r| > critical marks a significant cell."""
    significant: bool


@dataclass(frozen=True)
class Preference:
    """How groups (regions, personas) differ in a choice (payment method, support channel)."""

    dimension: str
    group_by: str
    cells: tuple[PreferenceCell, ...]
    statistic: float | None
    dof: int
    p_value: float | None
    significant: bool
    unassigned: int = 0


@dataclass(frozen=True)
class SegmentConversion:
    """Journey conversion of one segment (a region, a persona) against all the others.

    ``metric`` names what converted means (for example ``reached purchase``);
    ``difference`` is this segment's rate minus the rest's, with its interval.
    """

    group_by: str
    segment: str
    metric: str
    customers: int
    converted: int
    rate: Estimate
    difference: Estimate
    p_value: float | None
    q_value: float | None
    significant: bool


@dataclass(frozen=True)
class SankeyLink:
    """One link of a Sankey by position (``depth`` is the source node's position)."""

    depth: int
    source: str
    target: str
    customers: int


@dataclass(frozen=True)
class EvidencedMap:
    """The designed map and the measured journey as one object."""

    map: JourneyMap
    snapshot: Snapshot
    pain_points: tuple[ObservedPainPoint, ...] = ()
    opportunities: tuple[ScoredOpportunity, ...] = ()
    drivers: tuple[Driver, ...] = ()
    preferences: tuple[Preference, ...] = ()
    segments: tuple[SegmentConversion, ...] = ()
    sankey: tuple[SankeyLink, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """Caveats worth printing with the numbers (small samples, unmatched events...)."""
