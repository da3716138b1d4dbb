"""Pain points found in the data: where customers leave, wait, complain, loop or call.

:func:`find_pain_points` reads a :class:`~journeymap.insights.evidence.Snapshot` (and,
optionally, segment comparisons) against the map and returns
:class:`~journeymap.insights.evidence.ObservedPainPoint` records, each with a
plain-language title and explanation that quote its numbers. The rules, their
thresholds and how confidence is decided are written out in ``docs/insights.md``;
every threshold is a field of :class:`PainThresholds`.

Kinds:

- ``drop_off``: a step's drop-off is significantly above the journey's baseline (the
  pooled drop-off of all other steps): one-sided two-proportion z-test, p-values
  adjusted across the steps tested (Holm by default).
- ``slow``: a stage's median time is above its ``median_time`` KPI target; a step's
  median time is above ``slow_factor`` × its declared ``duration``; a step without a
  declared duration whose median time is above the journey's p90 of step times.
- ``low_satisfaction``: CSAT, NPS, CES, rating or sentiment on the wrong side of its
  threshold (the stage's KPI target when it has one).
- ``loop``: the share of a step's customers who came back to it after a later step.
- ``support_contact``: the share of a step's customers who contacted support soon
  after, significantly above the support baseline (one-sided exact binomial test).
- ``segment_outlier``: a segment whose conversion is significantly below the others.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scipy import stats as _dist

from journeymap.analytics.stats import (
    Adjustment,
    adjust_p_values,
    compare_two_proportions,
    estimate_wilson_interval,
)
from journeymap.errors import JourneyError
from journeymap.insights.evidence import (
    ObservedPainPoint,
    PainPointKind,
    Satisfaction,
    SatisfactionScale,
    SegmentConversion,
    Snapshot,
    StageMetrics,
    StepMetrics,
)
from journeymap.insights.funnel import list_drop_off_steps
from journeymap.insights.lane import format_count, format_seconds
from journeymap.model import JourneyMap, Stage, Step, parse_duration

__all__ = [
    "DEFAULT_THRESHOLDS",
    "PainThresholds",
    "ThresholdError",
    "find_pain_points",
    "grade_severity",
    "kpi_seconds",
]

Confidence = Literal["high", "medium", "low"]
Number = float | int | str


class ThresholdError(JourneyError, ValueError):
    """A pain-point threshold that cannot be used (a share outside 0..1, a factor below 1)."""


def _default_satisfaction() -> dict[SatisfactionScale, float]:
    return {"csat": 0.75, "nps": 0.0, "ces": 4.0, "rating": 3.5, "sentiment": -0.05}


@dataclass(frozen=True)
class PainThresholds:
    """Every threshold the pain-point rules use, with its default.

    ``alpha``: significance level after adjustment. ``adjustment``: how p-values of the
    steps tested together are adjusted (``holm``, ``bonferroni``, ``fdr_bh``, ``none``).
    ``min_drop_off_excess``: a drop-off must also be at least this many points (a share,
    0.02 = 2 points) above the baseline, so a huge sample does not flag a trivial gap.
    ``slow_factor``: a step is slow when its median time exceeds this multiple of its
    declared duration. ``journey_percentile``: the percentile of step times a step
    without a declared duration is compared with. ``satisfaction``: the threshold per
    scale (below it is bad; for ``ces``, above it is bad) when the stage has no KPI
    target. ``loop_share``: share of a step's customers who came back to it.
    ``min_customers``: fewest customers (converters with a time, for ``slow``; reach,
    for ``loop``) a rule needs; ``min_responses``: fewest satisfaction answers.
    ``strong_alpha`` and ``strong_n``: a tested finding is of *high* confidence when its
    adjusted p-value is below ``strong_alpha`` and it rests on at least ``strong_n``
    customers; ``medium_n``: the sample an untested finding needs for *medium*.
    """

    alpha: float = 0.05
    adjustment: Adjustment = "holm"
    min_drop_off_excess: float = 0.02
    slow_factor: float = 2.0
    journey_percentile: float = 0.9
    satisfaction: Mapping[SatisfactionScale, float] = field(default_factory=_default_satisfaction)
    loop_share: float = 0.10
    min_customers: int = 20
    min_responses: int = 10
    strong_alpha: float = 0.01
    strong_n: int = 100
    medium_n: int = 30

    def __post_init__(self) -> None:
        for name in ("alpha", "strong_alpha", "loop_share", "journey_percentile"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ThresholdError(
                    f"pain threshold {name}={value!r} is outside (0, 1); write it as a share"
                )
        if not 0 <= self.min_drop_off_excess < 1:
            raise ThresholdError(
                f"pain threshold min_drop_off_excess={self.min_drop_off_excess!r} is outside "
                "[0, 1); write it as a share, e.g. 0.02 for 2 points"
            )
        if self.slow_factor < 1:
            raise ThresholdError(
                f"pain threshold slow_factor={self.slow_factor!r} is below 1; a step is slow "
                "when it takes longer than its declared duration times this factor"
            )


DEFAULT_THRESHOLDS = PainThresholds()
"""The thresholds :func:`find_pain_points` uses unless told otherwise."""

# --- severity and confidence ------------------------------------------------------

_RATIO_CUTS = (1.5, 2.0, 4.0)
"""Effect level cut-offs for ratios (observed / reference): 1, 2, 3, 4."""
_POINT_CUTS = (0.05, 0.10, 0.20)
"""Effect level cut-offs for gaps in rate points (0.05 = 5 points)."""
_GAP_CUTS = (0.05, 0.10, 0.20)
"""Effect level cut-offs for satisfaction gaps as a share of the scale's range."""
_SCALE_RANGE: dict[SatisfactionScale, float] = {
    "csat": 1.0,
    "nps": 200.0,
    "ces": 6.0,
    "rating": 4.0,
    "sentiment": 2.0,
}


def _level(effect: float, cuts: tuple[float, float, float]) -> int:
    return 1 + sum(effect >= c for c in cuts)


def grade_severity(effect_level: int, affected: int, customers: int) -> int:
    """Severity 1–5: the effect level (1–4) plus one when at least 10% of the journey's
    customers are affected, minus one when fewer than 1% are.

    >>> grade_severity(3, 150, 1000), grade_severity(3, 50, 1000), grade_severity(1, 5, 1000)
    (4, 3, 1)
    """
    bonus = 0
    if customers > 0:
        share = affected / customers
        bonus = 1 if share >= 0.10 else (-1 if share < 0.01 else 0)
    return max(1, min(5, effect_level + bonus))


def _tested_confidence(q: float, n: int, t: PainThresholds, *, reliable: bool) -> Confidence:
    if not reliable:
        return "low"
    return "high" if q < t.strong_alpha and n >= t.strong_n else "medium"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _pct(value: float) -> str:
    places = 1 if 0 < abs(value) < 0.1 else 0
    return f"{value * 100:.{places}f}%"


_ADJUSTMENT_NAMES = {
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg",
    "none": "no",
}


def _adjusted(t: PainThresholds, tests: int) -> str:
    plural = "s" if tests != 1 else ""
    return f"{_ADJUSTMENT_NAMES[t.adjustment]} adjustment over {tests} step{plural}"


def _p(value: float) -> str:
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"


# --- the map side ------------------------------------------------------------------


def _declared_at(steps: Iterable[Step]) -> str | None:
    """The most severe pain point the map declares at these steps (first on ties)."""
    best: tuple[int, str] | None = None
    for step in steps:
        for pain in step.pain_points:
            if best is None or pain.severity > best[0]:
                best = (pain.severity, pain.id)
    return best[1] if best else None


def _stage_of(jmap: JourneyMap) -> dict[str, Stage]:
    return {step.id: stage for stage, step in jmap.all_steps()}


_UNIT_SECONDS = {
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
    "분": 60.0,
    "시간": 3600.0,
    "일": 86400.0,
    "초": 1.0,
}


def kpi_seconds(target: float | str | None, unit: str | None) -> float | None:
    """A ``median_time`` KPI target in seconds; None when the unit is unknown.

    A number needs a time unit (``minutes``, ``h``, ``days``...); a text target is read
    as a duration (``"3m"``, ``"1d 4h"``).

    >>> kpi_seconds(3, "minutes"), kpi_seconds("1d 4h", None), kpi_seconds(3, "%")
    (180.0, 100800.0, None)
    """
    if target is None:
        return None
    if isinstance(target, str):
        try:
            return parse_duration(target).total_seconds()
        except ValueError:
            return None
    size = _UNIT_SECONDS.get((unit or "").strip().lower())
    return float(target) * size if size else None


def _satisfaction_targets(stage: Stage) -> dict[SatisfactionScale, float]:
    """The stage's satisfaction KPI targets per scale (``csat`` on ``1-5`` is a rating)."""
    targets: dict[SatisfactionScale, float] = {}
    for kpi in stage.kpis:
        if not isinstance(kpi.target, int | float) or kpi.metric not in ("csat", "nps", "ces"):
            continue
        target = float(kpi.target)
        unit = (kpi.unit or "").replace(" ", "").replace("–", "-")
        if kpi.metric == "csat" and unit in ("1-5", "/5", "of5"):
            targets["rating"] = target
        elif kpi.metric == "csat":
            targets["csat"] = target / 100 if unit == "%" or target > 1 else target
        elif kpi.metric == "nps":
            targets["nps"] = target
        else:
            targets["ces"] = target
    return targets


# --- the rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """A finding before its id is fixed (ids must be unique across the result)."""

    key: str
    kind: PainPointKind
    title: str
    explanation: str
    step_id: str | None
    stage_id: str | None
    affected: int
    severity: int
    confidence: Confidence
    numbers: tuple[tuple[str, Number], ...]
    sample: tuple[str, ...] = ()
    p_value: float | None = None
    declared: str | None = None


def _one_sided(z: float | None, p_two: float | None) -> float | None:
    """The one-sided p-value for "a is above b" from the two-sided z-test."""
    if z is None or p_two is None:
        return None
    return p_two / 2 if z > 0 else 1 - p_two / 2


def _drop_offs(
    jmap: JourneyMap, snapshot: Snapshot, stage_of: dict[str, Stage], t: PainThresholds
) -> list[_Found]:
    funnel = set(list_drop_off_steps(jmap))
    tested = [
        s
        for s in snapshot.steps
        if s.drop_off is not None and s.converted + s.dropped > 0 and s.step_id in funnel
    ]
    total_dropped = sum(s.dropped for s in tested)
    total_trials = sum(s.converted + s.dropped for s in tested)
    rows = []
    for step in tested:
        trials = step.converted + step.dropped
        rest_dropped, rest_trials = total_dropped - step.dropped, total_trials - trials
        test = compare_two_proportions(step.dropped, trials, rest_dropped, rest_trials)
        rows.append((step, trials, rest_dropped, rest_trials, test))
    raw = [_one_sided(r[4].z, r[4].p_value) for r in rows]
    adjusted = adjust_p_values(raw, method=t.adjustment)
    found: list[_Found] = []
    for (step, trials, rest_dropped, rest_trials, test), p, q in zip(
        rows, raw, adjusted, strict=True
    ):
        if q is None or p is None or test.rate_a is None or test.rate_b is None:
            continue
        excess = test.rate_a - test.rate_b
        if q >= t.alpha or excess < t.min_drop_off_excess:
            continue
        pooled = (step.dropped + rest_dropped) / (trials + rest_trials)
        reliable = min(trials, rest_trials) * min(pooled, 1 - pooled) >= 5
        name = jmap.step(step.step_id).name
        found.append(
            _Found(
                key=f"drop-off-{step.step_id}",
                kind="drop_off",
                title=f"Many customers leave at '{name}'",
                explanation=(
                    f"{_pct(test.rate_a)} of customers who reached '{name}' did not go on "
                    f"({format_count(step.dropped)} of {format_count(trials)}), against "
                    f"{_pct(test.rate_b)} at the journey's other steps "
                    f"({format_count(rest_dropped)} of {format_count(rest_trials)}): "
                    f"{excess * 100:.1f} points higher (z = {test.z:.2f}, "
                    f"{_p(q)} after {_adjusted(t, len(rows))})."
                ),
                step_id=step.step_id,
                stage_id=step.stage_id,
                affected=step.dropped,
                severity=grade_severity(
                    _level(excess, _POINT_CUTS), step.dropped, snapshot.customers
                ),
                confidence=_tested_confidence(q, trials, t, reliable=reliable),
                numbers=(
                    ("drop-off", test.rate_a),
                    ("dropped", step.dropped),
                    ("customers", trials),
                    ("baseline drop-off", test.rate_b),
                    ("baseline dropped", rest_dropped),
                    ("baseline customers", rest_trials),
                    ("excess points", excess),
                    ("z", test.z if test.z is not None else 0.0),
                    ("p-value", p),
                    ("adjusted p-value", q),
                ),
                sample=step.sample_dropped,
                p_value=q,
                declared=_declared_at([jmap.step(step.step_id)]),
            )
        )
    return found


def _percentile_weighted(values: Sequence[tuple[float, int]], share: float) -> float | None:
    """The smallest value whose cumulative weight reaches ``share`` of the total."""
    ordered = sorted((v, w) for v, w in values if w > 0)
    total = sum(w for _, w in ordered)
    if not total:
        return None
    running = 0
    for value, weight in ordered:
        running += weight
        if running >= share * total:
            return value
    return ordered[-1][0]  # pragma: no cover - the loop reaches the total


def _slow_confidence(n: int, *, declared: bool, t: PainThresholds) -> Confidence:
    if declared and n >= t.strong_n:
        return "high"
    if (declared and n >= t.medium_n) or (not declared and n >= t.strong_n):
        return "medium"
    return "low"


def _slow_found(
    *,
    key: str,
    what: str,
    step_id: str | None,
    stage_id: str | None,
    median: float,
    p90: float | None,
    reference: float,
    limit: float,
    reference_text: str,
    n: int,
    declared_ref: bool,
    customers: int,
    declared: str | None,
    t: PainThresholds,
    sample: tuple[str, ...] = (),
) -> _Found:
    ratio = median / reference
    p90_text = f", p90 {format_seconds(p90)}" if p90 is not None else ""
    numbers: list[tuple[str, Number]] = [
        ("median seconds", median),
        ("reference seconds", reference),
        ("limit seconds", limit),
        ("ratio", ratio),
        ("customers timed", n),
    ]
    if p90 is not None:
        numbers.insert(1, ("p90 seconds", p90))
    return _Found(
        key=key,
        kind="slow",
        title=f"{what} takes too long",
        explanation=(
            f"{what} takes {format_seconds(median)} at the median{p90_text}, "
            f"{ratio:.1f}× {reference_text} ({format_seconds(reference)}); measured on "
            f"{format_count(n)} customers."
        ),
        step_id=step_id,
        stage_id=stage_id,
        affected=n,
        severity=grade_severity(_level(ratio, _RATIO_CUTS), n, customers),
        confidence=_slow_confidence(n, declared=declared_ref, t=t),
        numbers=tuple(numbers),
        sample=sample,
        declared=declared,
    )


def _slow(
    jmap: JourneyMap, snapshot: Snapshot, stage_of: dict[str, Stage], t: PainThresholds
) -> list[_Found]:
    found: list[_Found] = []
    stages = {stage.id: stage for stage in jmap.stages}
    for sm in snapshot.stages:
        stage = stages.get(sm.stage_id)
        if stage is None or sm.median_seconds is None or sm.converted < t.min_customers:
            continue
        for kpi in stage.kpis:
            if kpi.metric != "median_time":
                continue
            target = kpi_seconds(kpi.target, kpi.unit)
            if target is None or target <= 0 or sm.median_seconds <= target:
                continue
            found.append(
                _slow_found(
                    key=f"slow-{stage.id}",
                    what=f"Stage '{stage.name}'",
                    step_id=None,
                    stage_id=stage.id,
                    median=sm.median_seconds,
                    p90=sm.p90_seconds,
                    reference=target,
                    limit=target,
                    reference_text=f"its target '{kpi.name}'",
                    n=sm.converted,
                    declared_ref=True,
                    customers=snapshot.customers,
                    declared=_declared_at(stage.all_steps()),
                    t=t,
                )
            )
            break
    timed = [
        s
        for s in snapshot.steps
        if s.median_seconds is not None and s.step_id in stage_of and s.converted > 0
    ]
    for m in timed:
        assert m.median_seconds is not None
        if m.converted < t.min_customers:
            continue
        step = jmap.step(m.step_id)
        if step.duration is not None and step.duration.total_seconds() > 0:
            declared = step.duration.total_seconds()
            limit = declared * t.slow_factor
            if m.median_seconds <= limit:
                continue
            reference_text = f"its declared duration (flagged above {t.slow_factor:g}×)"
            reference, declared_ref = declared, True
        else:
            others = [(s.median_seconds or 0.0, s.converted) for s in timed if s is not m]
            journey = _percentile_weighted(others, t.journey_percentile)
            if journey is None or journey <= 0 or m.median_seconds <= journey:
                continue
            pct = f"p{t.journey_percentile * 100:g}"
            reference_text = f"the journey's {pct} of step times"
            reference, limit, declared_ref = journey, journey, False
        found.append(
            _slow_found(
                key=f"slow-{m.step_id}",
                what=f"Step '{step.name}'",
                step_id=m.step_id,
                stage_id=m.stage_id,
                median=m.median_seconds,
                p90=m.p90_seconds,
                reference=reference,
                limit=limit,
                reference_text=reference_text,
                n=m.converted,
                declared_ref=declared_ref,
                customers=snapshot.customers,
                declared=_declared_at([step]),
                t=t,
                sample=m.sample_slow,
            )
        )
    return found


_SCALE_WORDS: dict[SatisfactionScale, str] = {
    "csat": "CSAT",
    "nps": "NPS",
    "ces": "customer effort (CES)",
    "rating": "the average rating",
    "sentiment": "the sentiment of comments",
}


def _show(scale: SatisfactionScale, value: float) -> str:
    if scale == "csat":
        return _pct(value)
    if scale == "nps":
        return f"{value:+.0f}"
    if scale == "sentiment":
        return f"{value:+.2f}"
    return f"{value:.2f}"


def _satisfaction_found(
    sat: Satisfaction,
    *,
    threshold: float,
    from_kpi: bool,
    what: str,
    key_of: str,
    step_id: str | None,
    stage_id: str | None,
    reach: int,
    customers: int,
    declared: str | None,
    t: PainThresholds,
) -> _Found | None:
    value, low, high = sat.score.value, sat.score.low, sat.score.high
    if value is None or math.isnan(value) or sat.responses < t.min_responses:
        return None
    lower_better = sat.scale == "ces"
    bad = value > threshold if lower_better else value < threshold
    if not bad:
        return None
    far_side = low if lower_better else high
    whole = far_side is not None and (
        far_side > threshold if lower_better else far_side < threshold
    )
    confidence: Confidence = (
        "high" if whole else ("medium" if sat.responses >= t.medium_n else "low")
    )
    gap = abs(value - threshold) / _SCALE_RANGE[sat.scale]
    source = "the stage's KPI target" if from_kpi else "the threshold"
    side = "above" if lower_better else "below"
    interval = ""
    if low is not None and high is not None:
        interval = f" (95% interval {_show(sat.scale, low)} to {_show(sat.scale, high)})"
    numbers: list[tuple[str, Number]] = [
        (sat.scale, value),
        ("threshold", threshold),
        ("responses", sat.responses),
    ]
    if low is not None and high is not None:
        numbers[1:1] = [("low", low), ("high", high)]
    return _Found(
        key=f"low-{sat.scale}-{key_of}",
        kind="low_satisfaction",
        title=f"Low satisfaction at {what}",
        explanation=(
            f"{_SCALE_WORDS[sat.scale][0].upper()}{_SCALE_WORDS[sat.scale][1:]} at {what} is "
            f"{_show(sat.scale, value)}{interval}, {side} {source} of "
            f"{_show(sat.scale, threshold)}; from {format_count(sat.responses)} responses."
        ),
        step_id=step_id,
        stage_id=stage_id,
        affected=reach,
        severity=grade_severity(_level(gap, _GAP_CUTS), reach, customers),
        confidence=confidence,
        numbers=tuple(numbers),
        declared=declared,
    )


def _low_satisfaction(
    jmap: JourneyMap, snapshot: Snapshot, stage_of: dict[str, Stage], t: PainThresholds
) -> list[_Found]:
    found: list[_Found] = []
    stages = {stage.id: stage for stage in jmap.stages}
    subjects: list[tuple[StepMetrics | StageMetrics, Stage]] = []
    subjects += [(s, stage_of[s.step_id]) for s in snapshot.steps if s.step_id in stage_of]
    subjects += [(s, stages[s.stage_id]) for s in snapshot.stages if s.stage_id in stages]
    for metrics, stage in subjects:
        targets = _satisfaction_targets(stage)
        if isinstance(metrics, StepMetrics):
            step = jmap.step(metrics.step_id)
            what, key_of, step_id = f"'{step.name}'", step.id, step.id
            declared = _declared_at([step])
        else:
            what, key_of, step_id = f"stage '{stage.name}'", stage.id, None
            declared = _declared_at(stage.all_steps())
        for sat in metrics.satisfaction:
            threshold = targets.get(sat.scale, t.satisfaction.get(sat.scale))
            if threshold is None:
                continue
            finding = _satisfaction_found(
                sat,
                threshold=threshold,
                from_kpi=sat.scale in targets,
                what=what,
                key_of=key_of,
                step_id=step_id,
                stage_id=stage.id,
                reach=metrics.reach,
                customers=snapshot.customers,
                declared=declared,
                t=t,
            )
            if finding is not None:
                found.append(finding)
    return found


def _loops(
    jmap: JourneyMap, snapshot: Snapshot, stage_of: dict[str, Stage], t: PainThresholds
) -> list[_Found]:
    found: list[_Found] = []
    for sig in snapshot.signals:
        if sig.step_id not in stage_of or sig.reach < t.min_customers or sig.reach <= 0:
            continue
        share = sig.loop_customers / sig.reach
        if share <= t.loop_share:
            continue
        interval = estimate_wilson_interval(sig.loop_customers, sig.reach)
        confidence: Confidence = (
            "high"
            if interval.low > t.loop_share
            else ("medium" if sig.reach >= t.medium_n else "low")
        )
        step = jmap.step(sig.step_id)
        returns = f", {format_count(sig.loop_returns)} returns in all" if sig.loop_returns else ""
        found.append(
            _Found(
                key=f"loop-{sig.step_id}",
                kind="loop",
                title=f"Customers go back and forth at '{step.name}'",
                explanation=(
                    f"{_pct(share)} of the customers at '{step.name}' "
                    f"({format_count(sig.loop_customers)} of {format_count(sig.reach)}; 95% "
                    f"interval {_pct(interval.low)} to {_pct(interval.high)}) came back to it "
                    f"after a later step{returns}; the threshold is {_pct(t.loop_share)}."
                ),
                step_id=sig.step_id,
                stage_id=stage_of[sig.step_id].id,
                affected=sig.loop_customers,
                severity=grade_severity(
                    _level(share / t.loop_share, _RATIO_CUTS),
                    sig.loop_customers,
                    snapshot.customers,
                ),
                confidence=confidence,
                numbers=(
                    ("loop share", share),
                    ("loop customers", sig.loop_customers),
                    ("customers", sig.reach),
                    ("loop returns", sig.loop_returns),
                    ("threshold", t.loop_share),
                    ("low", interval.low),
                    ("high", interval.high),
                ),
                sample=sig.sample_loop,
                declared=_declared_at([step]),
            )
        )
    return found


def _support(
    jmap: JourneyMap, snapshot: Snapshot, stage_of: dict[str, Stage], t: PainThresholds
) -> list[_Found]:
    rows = []
    for sig in snapshot.signals:
        base = sig.support_baseline
        if sig.step_id not in stage_of or base is None or sig.reach <= 0 or not 0 < base < 1:
            continue
        k = min(sig.support_customers, sig.reach)
        p = float(_dist.binomtest(k, sig.reach, base, alternative="greater").pvalue)
        rows.append((sig, k, base, p))
    adjusted = adjust_p_values([r[3] for r in rows], method=t.adjustment)
    found: list[_Found] = []
    for (sig, k, base, p), q in zip(rows, adjusted, strict=True):
        rate = k / sig.reach
        if q is None or q >= t.alpha or rate <= base:
            continue
        step = jmap.step(sig.step_id)
        window = (
            f" within {format_seconds(sig.support_window_seconds)}"
            if sig.support_window_seconds
            else ""
        )
        ratio = rate / base
        reliable = sig.reach * base >= 5 and sig.reach * (1 - base) >= 5
        found.append(
            _Found(
                key=f"support-{sig.step_id}",
                kind="support_contact",
                title=f"Customers contact support after '{step.name}'",
                explanation=(
                    f"{_pct(rate)} of the customers at '{step.name}' "
                    f"({format_count(k)} of {format_count(sig.reach)}) contacted "
                    f"support{window}, against {_pct(base)} of all customers in the same "
                    f"period: {ratio:.1f}× the baseline ({_p(q)}, one-sided binomial test, "
                    f"{_adjusted(t, len(rows))})."
                ),
                step_id=sig.step_id,
                stage_id=stage_of[sig.step_id].id,
                affected=k,
                severity=grade_severity(_level(ratio, _RATIO_CUTS), k, snapshot.customers),
                confidence=_tested_confidence(q, sig.reach, t, reliable=reliable),
                numbers=(
                    ("support share", rate),
                    ("support customers", k),
                    ("customers", sig.reach),
                    ("baseline", base),
                    ("ratio", ratio),
                    ("p-value", p),
                    ("adjusted p-value", q),
                ),
                sample=sig.sample_support,
                p_value=q,
                declared=_declared_at([step]),
            )
        )
    return found


def _segments(
    segments: Sequence[SegmentConversion], snapshot: Snapshot, t: PainThresholds
) -> list[_Found]:
    found: list[_Found] = []
    for seg in segments:
        q = seg.q_value if seg.q_value is not None else seg.p_value
        diff, rate = seg.difference.value, seg.rate.value
        if not seg.significant or q is None or q >= t.alpha or diff is None or rate is None:
            continue
        if diff >= 0:
            continue
        rest = rate - diff
        interval = ""
        if seg.difference.low is not None and seg.difference.high is not None:
            interval = (
                f" (95% interval {seg.difference.low * 100:.1f} to "
                f"{seg.difference.high * 100:.1f} points)"
            )
        found.append(
            _Found(
                key=f"segment-{_slug(seg.group_by)}-{_slug(seg.segment)}",
                kind="segment_outlier",
                title=f"{seg.group_by} {seg.segment} converts less than the others",
                explanation=(
                    f"{_pct(rate)} of the {format_count(seg.customers)} customers in "
                    f"{seg.group_by} '{seg.segment}' {seg.metric} "
                    f"({format_count(seg.converted)}), against {_pct(rest)} of the others: "
                    f"{abs(diff) * 100:.1f} points lower{interval}, {_p(q)} after adjustment."
                ),
                step_id=None,
                stage_id=None,
                affected=seg.customers,
                severity=grade_severity(
                    _level(abs(diff), _POINT_CUTS), seg.customers, snapshot.customers
                ),
                confidence=_tested_confidence(q, seg.customers, t, reliable=True),
                numbers=(
                    ("rate", rate),
                    ("others' rate", rest),
                    ("difference", diff),
                    ("customers", seg.customers),
                    ("converted", seg.converted),
                    ("adjusted p-value", q),
                ),
                p_value=q,
            )
        )
    return found


def find_pain_points(
    jmap: JourneyMap,
    snapshot: Snapshot,
    *,
    segments: Sequence[SegmentConversion] = (),
    thresholds: PainThresholds = DEFAULT_THRESHOLDS,
) -> tuple[ObservedPainPoint, ...]:
    """The pain points the data shows, most severe first (then most customers affected).

    Ids are deterministic: ``observed-<rule>-<step, stage or segment>``, for example
    ``observed-drop-off-leaves-to-compare`` or ``observed-low-csat-waits-in-queue``.
    Steps and stages of the snapshot that the map does not have are ignored.
    Drop-off is tested only inside the funnel (:func:`list_drop_off_steps`): leaving at
    or after the map's key transaction (or after its last step) is finishing.
    """
    t = thresholds
    stage_of = _stage_of(jmap)
    found = (
        _drop_offs(jmap, snapshot, stage_of, t)
        + _slow(jmap, snapshot, stage_of, t)
        + _low_satisfaction(jmap, snapshot, stage_of, t)
        + _loops(jmap, snapshot, stage_of, t)
        + _support(jmap, snapshot, stage_of, t)
        + _segments(segments, snapshot, t)
    )
    found.sort(key=lambda f: (-f.severity, -f.affected, f.key))
    used: set[str] = set()
    result: list[ObservedPainPoint] = []
    for f in found:
        ident, n = f"observed-{f.key}", 2
        while ident in used:
            ident, n = f"observed-{f.key}-{n}", n + 1
        used.add(ident)
        result.append(
            ObservedPainPoint(
                id=ident,
                kind=f.kind,
                title=f.title,
                explanation=f.explanation,
                step_id=f.step_id,
                stage_id=f.stage_id,
                affected=f.affected,
                severity=f.severity,
                confidence=f.confidence,
                numbers=f.numbers,
                sample=f.sample,
                p_value=f.p_value,
                declared=f.declared,
            )
        )
    return tuple(result)
