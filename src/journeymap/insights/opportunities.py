"""Opportunities of the map, scored by measured impact and declared feasibility.

:func:`score_opportunities` follows each opportunity's ``addresses`` (pain points of
the map, observed pain points, steps, stages) to the steps they sit at, measures the
conversions lost there, turns that into a 1–5 impact score across the portfolio, and
ranks the portfolio by one of three methods. The rules are written out in
``docs/insights.md``; in short:

- **customers affected**: the largest reach among the addressed steps. The snapshot
  has per-step counts only, so the union of their customers is not known; the largest
  reach is its lower bound (and exact when each addressed step's customers are among
  the largest one's, as in a funnel).
- **conversions lost** at a step: its drop-off above the journey's baseline (the pooled
  drop-off of all other steps), or above the stage's drop-off KPI target, or its
  conversion below the stage's conversion KPI target when the stage has exactly one
  such KPI. Summed over the addressed steps (a customer leaves a funnel only once).
  ``conversion_lost`` = conversions lost / customers affected.
- **impact value** = customers affected × conversion lost × value per customer (None
  without a value per customer).
- **impact score** (1–5): the log of the conversions lost, placed in five equal bands
  between the portfolio's smallest and largest measured loss; the declared impact when
  an opportunity's loss is not measured or the portfolio has fewer than two different
  measured losses. Declared impact or feasibility missing: 3.
- **methods**: ``impact_feasibility`` (impact × feasibility, 1–25), ``rice`` (reach ×
  impact × confidence / effort) or ``custom`` (a formula, see
  :mod:`journeymap.insights.formula`).
- **quadrant**: impact and feasibility of 3 or more count as high (the midpoint of 1–5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from journeymap.errors import JourneyError
from journeymap.insights.evidence import (
    ObservedPainPoint,
    ScoredOpportunity,
    ScoringMethod,
    Snapshot,
    StepMetrics,
)
from journeymap.insights.formula import Formula, compile_formula
from journeymap.insights.funnel import list_drop_off_steps
from journeymap.insights.lane import format_count
from journeymap.model import JourneyMap, Opportunity, Stage, Step

__all__ = [
    "CONFIDENCE_WEIGHTS",
    "FORMULA_NAMES",
    "METHODS",
    "QUADRANT_MIDPOINT",
    "ScoringError",
    "measure_loss",
    "score_opportunities",
]

METHODS: tuple[ScoringMethod, ...] = ("impact_feasibility", "rice", "custom")
FORMULA_NAMES = frozenset(
    {"reach", "impact", "impact_value", "feasibility", "effort", "confidence", "conversion_lost"}
)
"""The variables a custom formula can use."""
CONFIDENCE_WEIGHTS: dict[str, float] = {"high": 1.0, "medium": 0.8, "low": 0.5}
"""RICE confidence from the best observed pain point the opportunity addresses."""
NO_EVIDENCE_CONFIDENCE = 0.5
"""RICE confidence when no observed pain point backs the opportunity."""
QUADRANT_MIDPOINT = 3.0
"""Impact and feasibility at or above this (on 1–5) count as high."""
DEFAULT_RATING = 3.0
"""Declared impact, feasibility or effort when the map leaves it out."""

Quadrant = Literal["quick win", "big bet", "fill-in", "money pit"]


class ScoringError(JourneyError, ValueError):
    """Opportunities cannot be scored as asked (unknown method, missing formula...)."""


@dataclass(frozen=True)
class StepLoss:
    """What one addressed step loses: conversions below its reference rate."""

    step_id: str
    reach: int
    trials: int
    rate_lost: float
    lost: float
    reference: str
    """Where the reference came from: ``baseline`` or the KPI's name."""


@dataclass(frozen=True)
class Loss:
    """What the steps an opportunity addresses lose, together."""

    steps: tuple[StepLoss, ...]
    customers_affected: int
    lost: float | None
    conversion_lost: float | None


def _percent_target(target: float, unit: str | None) -> float:
    return target / 100 if (unit or "").strip() == "%" or target > 1 else target


def _kpi_reference(stage: Stage) -> tuple[str, str, float] | None:
    """(metric, name, target share) of the stage's one drop-off or conversion KPI."""
    for metric in ("drop_off", "conversion"):
        kpis = [k for k in stage.kpis if k.metric == metric and isinstance(k.target, int | float)]
        if len(kpis) == 1:
            kpi = kpis[0]
            assert isinstance(kpi.target, int | float)
            return metric, kpi.name, _percent_target(float(kpi.target), kpi.unit)
    return None


def _trials(m: StepMetrics) -> int:
    return m.converted + m.dropped


def _step_loss(m: StepMetrics, stage: Stage, total: tuple[int, int]) -> StepLoss | None:
    trials = _trials(m)
    if trials == 0:
        return None
    rate = m.dropped / trials
    kpi = _kpi_reference(stage)
    if kpi is not None and kpi[0] == "drop_off":
        lost_rate, reference = rate - kpi[2], kpi[1]
    elif kpi is not None:
        lost_rate, reference = kpi[2] - m.converted / trials, kpi[1]
    else:
        rest_dropped, rest_trials = total[0] - m.dropped, total[1] - trials
        if rest_trials <= 0:
            return None
        lost_rate, reference = rate - rest_dropped / rest_trials, "baseline"
    lost_rate = max(0.0, lost_rate)
    return StepLoss(m.step_id, m.reach, trials, lost_rate, lost_rate * trials, reference)


def _addressed_steps(
    jmap: JourneyMap, opp: Opportunity, observed: dict[str, ObservedPainPoint]
) -> list[Step]:
    """The steps an opportunity's addresses point at, in journey order."""
    wanted: set[str] = set()
    for ref in opp.addresses:
        point = observed.get(ref)
        for stage, step in jmap.all_steps():
            sub_ids = {sub.id for sub in stage.substages if step in sub.steps}
            if (
                ref in (step.id, stage.id)
                or ref in sub_ids
                or any(p.id == ref for p in step.pain_points)
                or (point is not None and point.step_id == step.id)
                or (point is not None and point.step_id is None and point.stage_id == stage.id)
            ):
                wanted.add(step.id)
    return [step for _, step in jmap.all_steps() if step.id in wanted]


def measure_loss(
    jmap: JourneyMap,
    snapshot: Snapshot,
    step_ids: Sequence[str],
) -> Loss:
    """The conversions the given steps lose, against the baseline or their stage's KPI.

    The baseline of a step is the pooled drop-off of the journey's other funnel steps;
    steps at or after the key transaction, where leaving is finishing, lose nothing
    (:func:`~journeymap.insights.funnel.list_drop_off_steps`).
    """
    stage_of = {step.id: stage for stage, step in jmap.all_steps()}
    funnel = set(list_drop_off_steps(jmap))
    pooled = [m for m in snapshot.steps if m.step_id in funnel and _trials(m)]
    total = (sum(m.dropped for m in pooled), sum(_trials(m) for m in pooled))
    measured = [m for m in (snapshot.step(s) for s in step_ids) if m is not None]
    affected = max((m.reach for m in measured), default=0)
    losses = [
        loss
        for m in measured
        if m.step_id in funnel
        if (loss := _step_loss(m, stage_of[m.step_id], total)) is not None
    ]
    if not losses or affected == 0:
        return Loss(tuple(losses), affected, None, None)
    lost = sum(loss.lost for loss in losses)
    return Loss(tuple(losses), affected, lost, lost / affected)


def _evidence_confidence(
    opp: Opportunity, steps: list[Step], observed: Sequence[ObservedPainPoint]
) -> tuple[float, str | None]:
    """RICE confidence: the best observed pain point at the addressed places."""
    step_ids = {s.id for s in steps}
    refs = set(opp.addresses)
    backing = [
        p
        for p in observed
        if p.id in refs or (p.declared is not None and p.declared in refs) or p.step_id in step_ids
    ]
    if not backing:
        return NO_EVIDENCE_CONFIDENCE, None
    best = max(backing, key=lambda p: (CONFIDENCE_WEIGHTS[p.confidence], p.severity))
    return CONFIDENCE_WEIGHTS[best.confidence], best.id


def _impact_scores(lost: Sequence[float | None], declared: Sequence[float]) -> list[float]:
    """1–5 impact: five equal bands of log(loss) across the portfolio, else declared."""
    logs = [math.log(x) if x is not None and x > 0 else None for x in lost]
    present = [x for x in logs if x is not None]
    if len(set(present)) < 2:
        return list(declared)
    lo, hi = min(present), max(present)
    return [
        float(1 + min(4, math.floor(5 * (x - lo) / (hi - lo)))) if x is not None else d
        for x, d in zip(logs, declared, strict=True)
    ]


def _quadrant(impact: float, feasibility: float) -> Quadrant:
    high_i, high_f = impact >= QUADRANT_MIDPOINT, feasibility >= QUADRANT_MIDPOINT
    if high_i:
        return "quick win" if high_f else "big bet"
    return "fill-in" if high_f else "money pit"


def _money(value: float, currency: str | None) -> str:
    return f"{value:,.0f} {currency}" if currency else f"{value:,.0f}"


@dataclass(frozen=True)
class _Draft:
    opp: Opportunity
    loss: Loss
    impact: float
    feasibility: float
    effort: float | None
    confidence: float
    confidence_from: str | None
    impact_value: float | None
    currency: str | None
    measured: bool


def _score(draft: _Draft, method: ScoringMethod, formula: Formula | None) -> float:
    effort = draft.effort if draft.effort is not None else DEFAULT_RATING
    if method == "impact_feasibility":
        return draft.impact * draft.feasibility
    if method == "rice":
        return draft.loss.customers_affected * draft.impact * draft.confidence / effort
    assert formula is not None
    variables: dict[str, float | None] = {
        "reach": draft.loss.customers_affected,
        "impact": draft.impact,
        "impact_value": draft.impact_value,
        "feasibility": draft.feasibility,
        "effort": effort,
        "confidence": draft.confidence,
        "conversion_lost": draft.loss.conversion_lost,
    }
    missing = sorted(n for n in formula.names if variables.get(n) is None)
    if missing:
        why = "; ".join(_UNMEASURED[n] for n in missing)
        raise ScoringError(
            f"opportunity '{draft.opp.id}': the formula '{formula.text}' uses "
            f"{', '.join(missing)}, which has no value here: {why}"
        )
    try:
        return formula.evaluate(variables)
    except JourneyError as exc:
        raise ScoringError(f"opportunity '{draft.opp.id}': {exc}") from exc


_UNMEASURED = {
    "impact_value": "impact_value needs a value per customer (e.g. the average order value) "
    "and drop-off data at the addressed steps",
    "conversion_lost": "conversion_lost needs drop-off data at the steps the opportunity addresses",
}


def _explain(
    draft: _Draft, method: ScoringMethod, score: float, portfolio: int, names: dict[str, str]
) -> str:
    loss = draft.loss
    parts: list[str] = []
    if loss.lost is not None and loss.conversion_lost is not None:
        where = "; ".join(
            f"'{names.get(s.step_id, s.step_id)}' {s.rate_lost * 100:.1f} points worse than "
            f"{'the baseline' if s.reference == 'baseline' else 'the target ' + repr(s.reference)}"
            f" over {format_count(s.trials)} customers"
            for s in loss.steps
            if s.lost > 0
        )
        parts.append(
            f"The addressed steps lose {loss.lost:,.0f} conversions "
            f"({loss.conversion_lost * 100:.1f}% of {format_count(loss.customers_affected)} "
            f"customers){': ' + where if where else ''}."
        )
        if draft.impact_value is not None:
            parts.append(
                f"At the value per customer that is {_money(draft.impact_value, draft.currency)}."
            )
    elif loss.customers_affected:
        parts.append(
            f"The addressed steps reach {format_count(loss.customers_affected)} customers; "
            "no conversion loss could be measured there."
        )
    else:
        parts.append("The snapshot has no data for the steps it addresses.")
    how = (
        f"measured, banded on a log scale across {portfolio} opportunities"
        if draft.measured
        else "declared"
    )
    parts.append(f"Impact {draft.impact:g} ({how}), feasibility {draft.feasibility:g}")
    if method == "impact_feasibility":
        parts[-1] += f": score {draft.impact:g} × {draft.feasibility:g} = {score:g}."
    elif method == "rice":
        effort = draft.effort if draft.effort is not None else DEFAULT_RATING
        backing = (
            f" from observed '{draft.confidence_from}'"
            if draft.confidence_from
            else " (no observed pain point)"
        )
        parts[-1] += (
            f", confidence {draft.confidence:g}{backing}, effort {effort:g}: RICE score "
            f"{format_count(loss.customers_affected)} × {draft.impact:g} × "
            f"{draft.confidence:g} / {effort:g} = {score:,.1f}."
        )
    else:
        parts[-1] += f": custom score {score:,.4g}."
    return " ".join(parts)


def score_opportunities(
    jmap: JourneyMap,
    snapshot: Snapshot,
    pain_points: Sequence[ObservedPainPoint] = (),
    *,
    method: ScoringMethod = "impact_feasibility",
    formula: str | None = None,
    value_per_customer: float | None = None,
    currency: str | None = None,
) -> tuple[ScoredOpportunity, ...]:
    """The map's opportunities with measured impact and score, best first (rank 1).

    ``pain_points`` are the observed ones (from
    :func:`~journeymap.insights.painpoints.find_pain_points`): opportunities may
    address them by id, and they give RICE its confidence. ``formula`` is required for
    ``method="custom"`` and may use the names in :data:`FORMULA_NAMES`.
    ``value_per_customer`` (in ``currency``; e.g. the average order value) turns lost
    conversions into money. Ties in score are broken by impact, then feasibility, then
    the map's order.
    """
    if method not in METHODS:
        raise ScoringError(f"unknown scoring method '{method}'; use one of: {', '.join(METHODS)}")
    compiled: Formula | None = None
    if method == "custom":
        if not formula:
            raise ScoringError(
                "the custom scoring method needs a formula, e.g. 'reach * impact / effort'; "
                f"names are: {', '.join(sorted(FORMULA_NAMES))}"
            )
        compiled = compile_formula(formula, names=FORMULA_NAMES)
    elif formula:
        raise ScoringError(f"a formula is only used with method 'custom', not '{method}'")
    if value_per_customer is not None and not (
        math.isfinite(value_per_customer) and value_per_customer >= 0
    ):
        raise ScoringError(
            f"value per customer {value_per_customer!r} must be a non-negative number"
        )
    observed = {p.id: p for p in pain_points}
    opps = list(jmap.opportunities)
    steps = [_addressed_steps(jmap, opp, observed) for opp in opps]
    losses = [measure_loss(jmap, snapshot, [s.id for s in group]) for group in steps]
    declared = [float(o.impact) if o.impact is not None else DEFAULT_RATING for o in opps]
    impacts = _impact_scores([loss.lost for loss in losses], declared)
    measurable = len({loss.lost for loss in losses if loss.lost}) >= 2
    drafts: list[_Draft] = []
    for opp, group, loss, impact in zip(opps, steps, losses, impacts, strict=True):
        confidence, source = _evidence_confidence(opp, group, pain_points)
        money = currency or (opp.currency if value_per_customer is not None else None)
        value = (
            loss.lost * value_per_customer
            if loss.lost is not None and value_per_customer is not None
            else None
        )
        drafts.append(
            _Draft(
                opp=opp,
                loss=loss,
                impact=impact,
                feasibility=float(opp.feasibility) if opp.feasibility else DEFAULT_RATING,
                effort=float(opp.effort) if opp.effort is not None else None,
                confidence=confidence,
                confidence_from=source,
                impact_value=value,
                currency=money,
                measured=measurable and bool(loss.lost),
            )
        )
    scores = [_score(d, method, compiled) for d in drafts]
    order = sorted(
        range(len(drafts)),
        key=lambda i: (-scores[i], -drafts[i].impact, -drafts[i].feasibility, i),
    )
    ranks = {i: rank for rank, i in enumerate(order, start=1)}
    names = {step.id: step.name for _, step in jmap.all_steps()}
    return tuple(
        ScoredOpportunity(
            opportunity_id=d.opp.id,
            title=d.opp.title,
            addresses=tuple(d.opp.addresses),
            customers_affected=d.loss.customers_affected,
            conversion_lost=d.loss.conversion_lost,
            value_per_customer=value_per_customer,
            impact_value=d.impact_value,
            currency=d.currency,
            impact=d.impact,
            feasibility=d.feasibility,
            effort=d.effort,
            score=scores[i],
            rank=ranks[i],
            method=method,
            quadrant=_quadrant(d.impact, d.feasibility),
            explanation=_explain(d, method, scores[i], len(drafts), names),
        )
        for i, d in sorted(enumerate(drafts), key=lambda item: ranks[item[0]])
    )
