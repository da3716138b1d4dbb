"""Analyse a journey on an engine: events and feedback in, the evidenced map out.

:func:`analyze_journey` is the pipeline behind ``journeymap analyze`` and the demo. It
runs the pure analytics (:mod:`journeymap.analytics`) on the engine that holds the
data, executes them, and assembles the typed results of
:mod:`journeymap.insights.evidence`:

1. **Customers.** When the engine holds identity links, events and feedback are read
   through the stitched customer (:func:`journeymap.analytics.identity.stitched_events`);
   the links are stitched first when nobody has done so yet.
2. **Mapping.** Events go to the map's steps (:func:`~journeymap.analytics.mapping.map_events`);
   events after ``as_of`` are left out, and the mapped events are stored once
   (:func:`~journeymap.engines.scratch.stored_table`) because every later phase reads them.
3. **Steps.** For each step with an event rule: ``reach`` = customers with an event of
   the step; of them, ``converted`` went on to the *next step with a rule* (journey
   order) within ``window`` of their first event of the step, ``in_progress`` have not
   yet but their window is still open at ``as_of``, ``dropped`` the rest. That is a
   two-step funnel per pair of neighbouring steps (:func:`~journeymap.analytics.funnels.compute_funnel`,
   ``entry="first"``), so every step's reach is everyone who reached it, whatever they
   did before. The last step has no next step: its conversion is unknown (None).
   Conversion carries a Wilson interval; median and p90 are the time to the next step
   among converters.
4. **Stages.** The same between neighbouring stages; median and p90 are the time spent
   in the stage (completed visits, :func:`~journeymap.analytics.timing.measure_stage_times`).
5. **Paths, segments.** The Sankey over step ids (repeats collapsed; ``other`` and
   ``drop-off`` nodes) and journey conversion by country and persona, each against the
   rest, with false-discovery-rate q-values.
6. **Satisfaction, preferences, signals, drivers, pain points, opportunities** from
   their own modules, when this build has them; a missing one leaves a note instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis import BaseBackend

from journeymap.analytics.funnels import compute_funnel
from journeymap.analytics.identity import stitched_events
from journeymap.analytics.mapping import list_steps, map_events, resolve_field
from journeymap.analytics.paths import discover_paths
from journeymap.analytics.segments import (
    SegmentError,
    compare_conversion,
    count_conversions,
    segment_actors,
)
from journeymap.analytics.stats import estimate_wilson_interval
from journeymap.analytics.timing import measure_stage_times
from journeymap.engines.connection import fetch_rows, translate_errors
from journeymap.engines.identity import stitch_identities
from journeymap.engines.satisfaction import measure_preference, measure_satisfaction
from journeymap.engines.scratch import stored_table
from journeymap.engines.signals import measure_drivers, measure_signals
from journeymap.errors import JourneyError
from journeymap.insights.evidence import (
    Driver,
    Estimate,
    EvidencedMap,
    ObservedPainPoint,
    Preference,
    SankeyLink,
    Satisfaction,
    ScoredOpportunity,
    ScoringMethod,
    SegmentConversion,
    Snapshot,
    StageMetrics,
    StepMetrics,
    StepSignals,
)
from journeymap.insights.opportunities import score_opportunities
from journeymap.insights.painpoints import find_pain_points
from journeymap.model import JourneyMap

__all__ = [
    "AnalysisError",
    "AnalysisOptions",
    "PreferenceSpec",
    "analyze_journey",
    "read_customers",
]

SMALL_SAMPLE = 30
"""Below this many customers a step's conversion is flagged as a small sample."""

_MEMBERS = "identity_members"
_LINKS = "identity_links"


class AnalysisError(JourneyError, ValueError):
    """Options or data that the analysis cannot work with (no events, bad options...)."""


@dataclass(frozen=True)
class PreferenceSpec:
    """One preference to measure: ``label`` (``payment method``), the ``choice`` field
    (a column or ``properties.path``) and the events it is read from (empty: all)."""

    label: str
    choice: str
    events_named: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisOptions:
    """Every option of :func:`analyze_journey`.

    - ``as_of``: the moment the numbers describe; later events are left out and
      windows still open then are *in progress*. Default: the latest event.
    - ``window``: how long after a step the next one may come and still count.
    - ``preferences``: choices to compare between countries (:class:`PreferenceSpec`).
    - ``support_steps``: step ids that are support contacts (default: found by the
      signals runner); ``support_events``: event names that are.
    - ``value_per_customer``: the value of one converted customer for opportunity
      impact; default: the mean of ``value_property`` on the events of the map's
      key-transaction steps (in their most common ``properties.currency``).
    - ``scoring`` and ``formula``: how opportunities are scored.
    - ``segment_by``: ``region`` (read as the country: ``KR-11`` → ``KR``), ``persona``
      or any event column; default: region, and persona when a persona has a segment rule.
    - ``confidence``: of every interval; ``sample``: customers listed per finding.
    """

    as_of: datetime | None = None
    window: timedelta = timedelta(days=30)
    preferences: tuple[PreferenceSpec, ...] = ()
    support_steps: tuple[str, ...] | None = None
    support_events: tuple[str, ...] = ()
    value_property: str = "properties.value"
    value_per_customer: float | None = None
    currency: str | None = None
    scoring: ScoringMethod = "impact_feasibility"
    formula: str | None = None
    segment_by: tuple[str, ...] | None = None
    confidence: float = 0.95
    sample: int = 5
    fdr: float = 0.05

    def check(self) -> None:
        """Raise :class:`AnalysisError` for options that cannot work."""
        if self.window <= timedelta(0):
            raise AnalysisError(f"window {self.window} is not positive; give e.g. 30 days")
        if not 0 < self.confidence < 1:
            raise AnalysisError(f"confidence {self.confidence!r} must be between 0 and 1")
        if self.scoring not in ("impact_feasibility", "rice", "custom"):
            raise AnalysisError(
                f"scoring {self.scoring!r}: choose impact_feasibility, rice or custom"
            )
        if self.scoring == "custom" and not self.formula:
            raise AnalysisError("scoring 'custom' needs a formula, e.g. 'impact * feasibility'")
        if self.sample < 0:
            raise AnalysisError(f"sample {self.sample} cannot be negative")


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    result = float(value)
    return None if math.isnan(result) else result


# --- customers ---------------------------------------------------------------------


def read_customers(
    con: BaseBackend,
    events: ir.Table,
    feedback: ir.Table | None,
    *,
    progress: Progress = _quiet,
) -> tuple[ir.Table, ir.Table | None, str | None]:
    """Events and feedback as the stitched customers see them, with a note saying how.

    Uses the engine's ``identity_members`` table when there is one; stitches the
    ``identity_links`` first (and keeps the result) when there are links but no members.
    Without links the tables are returned as they are. Tables that are already stitched
    (they have ``identifier_id``) are left alone.
    """
    if "identifier_id" in events.columns:
        return events, feedback, None
    tables = set(con.list_tables())
    if _MEMBERS not in tables:
        if _LINKS not in tables:
            return events, feedback, None
        links = con.table(_LINKS)
        with translate_errors("counting identity links"):
            n_links = int(con.to_pyarrow(links.count()).as_py() or 0)
        if n_links == 0:
            return events, feedback, None
        progress(f"stitching {n_links:,} identity links into customers (first time)")
        stitch_identities(con, links, persist=True)
    members = con.table(_MEMBERS)
    stitched = stitched_events(events, members)
    stitched_feedback = None
    if feedback is not None and {"actor_id", "actor_kind"} <= set(feedback.columns):
        stitched_feedback = stitched_events(feedback, members)
    elif feedback is not None:
        stitched_feedback = feedback
    return stitched, stitched_feedback, "customers are stitched identities (identity_members)"


# --- the pipeline -----------------------------------------------------------------


@dataclass
class _Run:
    """The state of one analysis: the engine, the map, the stored tables, the notes."""

    con: BaseBackend
    jmap: JourneyMap
    options: AnalysisOptions
    progress: Progress
    notes: list[str] = field(default_factory=list)

    def rows(self, expr: ir.Table) -> list[dict[str, Any]]:
        with translate_errors("analysing the journey"):
            return fetch_rows(self.con, expr)

    def scalar(self, expr: ir.Scalar) -> Any:
        with translate_errors("analysing the journey"):
            return self.con.to_pyarrow(expr).as_py()


def analyze_journey(
    con: BaseBackend,
    jmap: JourneyMap,
    *,
    events: ir.Table,
    feedback: ir.Table | None,
    options: AnalysisOptions | None = None,
    progress: Progress | None = None,
) -> EvidencedMap:
    """Measure ``jmap`` against ``events`` (and ``feedback``) on ``con``: the evidenced map.

    ``events`` and ``feedback`` are tables of the event contract on ``con`` (a workspace's
    ``events`` and ``feedback``). ``progress`` is called with a short text as each
    phase starts. See the module docstring for what is computed and how.
    """
    options = options or AnalysisOptions()
    options.check()
    say = progress or _quiet
    run = _Run(con=con, jmap=jmap, options=options, progress=say)
    ruled = [s for s in list_steps(jmap) if s.rule is not None]
    if not ruled:
        raise AnalysisError(
            f"map {jmap.id!r}: no step has an event rule (events: {{match: ...}}); add rules "
            "to the steps the data should be measured against"
        )
    events, feedback, how = read_customers(con, events, feedback, progress=say)
    if how:
        run.notes.append(how)
    say("mapping events to the map's steps")
    mapped = map_events(events, jmap)
    with ExitStack() as stack:
        table = mapped.table
        as_of = options.as_of
        if as_of is not None:
            table = table.filter(table.ts <= ibis.literal(_utc(as_of), type=_UTC))
        stored = stack.enter_context(_stored(con, table, "analysis"))
        overview = run.rows(
            stored.aggregate(
                events=stored.count(),
                customers=stored.actor_id.nunique(),
                first=stored.ts.min(),
                last=stored.ts.max(),
                unmatched=(stored.step_index == -1).cast("int64").sum(),
            )
        )[0]
        n_events = int(overview["events"] or 0)
        if n_events == 0:
            raise AnalysisError(
                "there are no events to analyse"
                + (f" up to --as-of {as_of.isoformat()}" if as_of is not None else "")
                + "; import events first (journeymap import FILE -w WORKSPACE)"
            )
        as_of = _utc(as_of) if as_of is not None else _utc(overview["last"])
        run.options = replace(options, as_of=as_of)
        unmatched = int(overview["unmatched"] or 0) / n_events
        if unmatched > 0:
            run.notes.append(
                f"{100 * unmatched:.1f}% of events match no step of the map "
                "(kept as 'other', left out of the step numbers)"
            )
        say("measuring steps (reach, conversion to the next step, time)")
        steps = _measure_steps(run, stored)
        say("measuring stages (reach, conversion, time in stage)")
        stages = _measure_stages(run, stored)
        say("tracing paths (Sankey over the steps)")
        sankey = _measure_sankey(run, stored)
        say("comparing segments (country, persona)")
        segments = _measure_segments(run, stored)
        n_feedback = 0
        if feedback is not None:
            n_feedback = int(run.scalar(feedback.count()) or 0)
        steps, stages = _measure_satisfaction(run, stored, feedback, steps, stages, n_feedback)
        preferences = _measure_preferences(run, stored)
        signals = _measure_signals(run, stored)
        drivers = _measure_drivers(run, stored)
        snapshot = Snapshot(
            as_of=as_of,
            computed_at=datetime.now(UTC),
            data_from=_utc(overview["first"]) if overview["first"] is not None else None,
            data_to=_utc(overview["last"]) if overview["last"] is not None else None,
            customers=int(overview["customers"] or 0),
            events=n_events,
            feedback=n_feedback,
            unmatched_share=unmatched,
            window_seconds=options.window.total_seconds(),
            engine=con.name,
            steps=steps,
            stages=stages,
            signals=signals,
            sources=_sources(run, events),
        )
        value, currency = _value_per_customer(run, stored)
    small = [m.step_id for m in steps if 0 < m.converted + m.dropped < SMALL_SAMPLE]
    if small:
        run.notes.append(
            f"small samples (fewer than {SMALL_SAMPLE} customers with a known outcome): "
            + ", ".join(small)
            + "; read their conversion with its interval"
        )
    segment_rows = tuple(segments)
    say("finding pain points and scoring opportunities")
    pain_points, opportunities = _insights(run, snapshot, segment_rows, value, currency)
    return EvidencedMap(
        map=jmap,
        snapshot=snapshot,
        pain_points=pain_points,
        opportunities=opportunities,
        drivers=drivers,
        preferences=preferences,
        segments=segment_rows,
        sankey=sankey,
        notes=tuple(run.notes),
    )


_UTC = dt.Timestamp(timezone="UTC")


@contextmanager
def _stored(con: BaseBackend, expr: ir.Table, prefix: str) -> Iterator[ir.Table]:
    with (
        translate_errors("storing the mapped events"),
        stored_table(con, expr, prefix=prefix) as table,
    ):
        yield table


# --- steps and stages ---------------------------------------------------------------


def _pair_funnel(
    run: _Run, stored: ir.Table, first: str, second: str, *, level: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two-step funnel ``first → second``: its rows (0: counts, 1: times)."""
    funnel = compute_funnel(
        stored,
        [first, second],
        window=run.options.window,
        entry="first",
        as_of=run.options.as_of,
        level="stage" if level == "stage" else "step",
    )
    with (
        translate_errors(f"measuring {first} → {second}"),
        stored_table(run.con, funnel.attempts, prefix="pair") as attempts,
    ):
        rows = run.rows(funnel.from_attempts(attempts).summary.order_by("step_index"))
    return rows[0], rows[1]


def _estimate(converted: int, dropped: int, confidence: float) -> Estimate:
    n = converted + dropped
    if n == 0:
        return Estimate(value=None, n=0, confidence=confidence)
    interval = estimate_wilson_interval(converted, n, confidence=confidence)
    return Estimate(
        value=converted / n, low=interval.low, high=interval.high, n=n, confidence=confidence
    )


@dataclass(frozen=True)
class _Outcome:
    reach: int
    converted: int
    dropped: int
    in_progress: int
    conversion: Estimate
    drop_off: float | None
    median: float | None
    p90: float | None


def _outcome(
    run: _Run, stored: ir.Table, here: str, nxt: str | None, reach: int, level: str
) -> _Outcome:
    conf = run.options.confidence
    if nxt is None:
        return _Outcome(reach, 0, 0, 0, Estimate(value=None, confidence=conf), None, None, None)
    row, later = _pair_funnel(run, stored, here, nxt, level=level)
    converted, dropped = int(row["converted"]), int(row["dropped"])
    in_progress = int(row["in_progress"])
    if converted + dropped + in_progress != reach:
        raise AnalysisError(
            f"{level} {here!r}: {reach} customers reached it but the funnel counts "
            f"{converted + dropped + in_progress}; this is a bug, please report it"
        )
    decided = converted + dropped
    return _Outcome(
        reach=reach,
        converted=converted,
        dropped=dropped,
        in_progress=in_progress,
        conversion=_estimate(converted, dropped, conf),
        drop_off=dropped / decided if decided else None,
        median=_float(later["median_secs"]),
        p90=_float(later["p90_secs"]),
    )


def _measure_steps(run: _Run, stored: ir.Table) -> tuple[StepMetrics, ...]:
    matched = stored.filter(stored.step_index >= 0)
    counts = {
        r["step_id"]: r
        for r in run.rows(
            matched.group_by("step_id").aggregate(
                reach=matched.actor_id.nunique(), events=matched.count()
            )
        )
    }
    ruled = [s for s in list_steps(run.jmap) if s.rule is not None]
    out: list[StepMetrics] = []
    for i, step in enumerate(ruled):
        got = counts.get(step.step_id)
        if got is None:
            continue
        nxt = ruled[i + 1].step_id if i + 1 < len(ruled) else None
        o = _outcome(run, stored, step.step_id, nxt, int(got["reach"]), "step")
        out.append(
            StepMetrics(
                step_id=step.step_id,
                stage_id=step.stage_id,
                reach=o.reach,
                converted=o.converted,
                dropped=o.dropped,
                in_progress=o.in_progress,
                conversion=o.conversion,
                drop_off=o.drop_off,
                median_seconds=o.median,
                p90_seconds=o.p90,
                events=int(got["events"]),
            )
        )
    return tuple(out)


def _measure_stages(run: _Run, stored: ir.Table) -> tuple[StageMetrics, ...]:
    matched = stored.filter(stored.step_index >= 0)
    counts = {
        r["stage_id"]: int(r["reach"])
        for r in run.rows(matched.group_by("stage_id").aggregate(reach=matched.actor_id.nunique()))
    }
    times = {
        r["stage"]: r for r in run.rows(measure_stage_times(stored, as_of=run.options.as_of).stages)
    }
    ruled_stages = [
        stage.id
        for stage in run.jmap.stages
        if any(s.rule is not None and s.stage_id == stage.id for s in list_steps(run.jmap))
    ]
    out: list[StageMetrics] = []
    for i, stage_id in enumerate(ruled_stages):
        if stage_id not in counts:
            continue
        nxt = ruled_stages[i + 1] if i + 1 < len(ruled_stages) else None
        o = _outcome(run, stored, stage_id, nxt, counts[stage_id], "stage")
        t = times.get(stage_id, {})
        out.append(
            StageMetrics(
                stage_id=stage_id,
                reach=o.reach,
                converted=o.converted,
                dropped=o.dropped,
                in_progress=o.in_progress,
                conversion=o.conversion,
                drop_off=o.drop_off,
                median_seconds=_float(t.get("median_secs")),
                p90_seconds=_float(t.get("p90_secs")),
            )
        )
    return tuple(out)


# --- paths and segments ---------------------------------------------------------------


def _measure_sankey(run: _Run, stored: ir.Table) -> tuple[SankeyLink, ...]:
    matched = stored.filter(stored.step_index >= 0)
    depth = min(8, max(2, len([s for s in list_steps(run.jmap) if s.rule is not None]) + 1))
    paths = discover_paths(
        matched, activity="step_id", collapse_repeats=True, sankey_depth=depth, sankey_top=8
    )
    rows = run.rows(paths.sankey_links.order_by(["position", "source", "target"]))
    return tuple(
        SankeyLink(
            depth=int(r["position"]),
            source=str(r["source"]),
            target=str(r["target"]),
            customers=int(r["cases"]),
        )
        for r in rows
    )


def _key_steps(jmap: JourneyMap) -> list[str]:
    keys = [step.id for _, step in jmap.all_steps() if step.key_transaction and step.events]
    if keys:
        return keys
    ruled = [s.step_id for s in list_steps(jmap) if s.rule is not None]
    return ruled[-1:]


def _country(region: ir.StringValue) -> ir.StringValue:
    """``KR-11`` → ``KR``: ISO 3166-2 subdivisions read as their country."""
    cut = region.find("-")
    return ibis.ifelse(cut > 0, region.substr(0, cut), region).cast("string")


def _segment_by(run: _Run) -> tuple[str, ...]:
    if run.options.segment_by is not None:
        return run.options.segment_by
    chosen = ["region"]
    if any(p.segment is not None for p in run.jmap.personas):
        chosen.append("persona")
    return tuple(chosen)


def _measure_segments(run: _Run, stored: ir.Table) -> list[SegmentConversion]:
    keys = _key_steps(run.jmap)
    metric = "reached " + " or ".join(keys)
    customers = stored.group_by("actor_id").aggregate(converted=stored.step_id.isin(keys).any())
    out: list[SegmentConversion] = []
    for by in _segment_by(run):
        try:
            if by == "region" and "region" in stored.columns:
                source = stored.mutate(region=_country(stored.region))
                segments = segment_actors(source, by="region")
                group = "country"
            else:
                segments = segment_actors(stored, by=by, personas=run.jmap.personas)
                group = by
        except SegmentError as exc:
            run.notes.append(f"no comparison by {by}: {exc}")
            continue
        joined = customers.join(segments.select("actor_id", "segment"), "actor_id")
        rows = run.rows(count_conversions(joined).order_by("segment"))
        comparison = compare_conversion(
            rows, adjust="fdr_bh", alpha=run.options.fdr, confidence=run.options.confidence
        )
        shifts = {s.segment: s for s in comparison.shifts}
        for rate in comparison.rates:
            shift = shifts.get(rate.segment)
            diff = shift.difference if shift is not None else None
            interval = shift.interval if shift is not None else None
            out.append(
                SegmentConversion(
                    group_by=group,
                    segment=rate.segment,
                    metric=metric,
                    customers=rate.trials,
                    converted=rate.successes,
                    rate=Estimate(
                        value=rate.rate,
                        low=rate.interval.low,
                        high=rate.interval.high,
                        n=rate.trials,
                        confidence=run.options.confidence,
                    ),
                    difference=Estimate(
                        value=diff,
                        low=interval.low if interval is not None else None,
                        high=interval.high if interval is not None else None,
                        n=rate.trials,
                        confidence=run.options.confidence,
                    ),
                    p_value=shift.p_value if shift is not None else None,
                    q_value=shift.p_adjusted if shift is not None else None,
                    significant=bool(shift is not None and shift.significant),
                )
            )
    return out


# --- the other engineers' runners (optional in this build) ---------------------------


def _measure_satisfaction(
    run: _Run,
    stored: ir.Table,
    feedback: ir.Table | None,
    steps: tuple[StepMetrics, ...],
    stages: tuple[StageMetrics, ...],
    n_feedback: int,
) -> tuple[tuple[StepMetrics, ...], tuple[StageMetrics, ...]]:
    if feedback is None or n_feedback == 0:
        run.notes.append("no feedback: satisfaction is not measured")
        return steps, stages
    run.progress(f"measuring satisfaction from {n_feedback:,} answers")
    measures = measure_satisfaction(
        run.con, feedback, stored, run.jmap, confidence=run.options.confidence
    )
    step_sat: Mapping[str, tuple[Satisfaction, ...]] = measures.steps
    stage_sat: Mapping[str, tuple[Satisfaction, ...]] = measures.stages
    step_emotion: Mapping[str, float] = measures.step_emotion
    stage_emotion: Mapping[str, float] = measures.stage_emotion
    steps = tuple(
        replace(
            m,
            satisfaction=tuple(step_sat.get(m.step_id, ())),
            measured_emotion=step_emotion.get(m.step_id),
        )
        for m in steps
    )
    stages = tuple(
        replace(
            m,
            satisfaction=tuple(stage_sat.get(m.stage_id, ())),
            measured_emotion=stage_emotion.get(m.stage_id),
        )
        for m in stages
    )
    unattached = measures.unattached
    if unattached:
        run.notes.append(
            f"{unattached:,} of {n_feedback:,} feedback answers could not be attached to a "
            "step or stage (no 'about' and no step event shortly before)"
        )
    return steps, stages


def _measure_preferences(run: _Run, stored: ir.Table) -> tuple[Preference, ...]:
    if not run.options.preferences:
        return ()
    out: list[Preference] = []
    for spec in run.options.preferences:
        run.progress(f"comparing {spec.label} between countries")
        try:
            out.append(
                measure_preference(
                    run.con,
                    stored,
                    choice=spec.choice,
                    events_named=spec.events_named,
                    label=spec.label,
                )
            )
        except JourneyError as exc:
            run.notes.append(f"{spec.label}: not measured: {exc}")
    return tuple(out)


def _measure_signals(run: _Run, stored: ir.Table) -> tuple[StepSignals, ...]:
    run.progress("looking for loops and support contacts after steps")
    return measure_signals(
        run.con,
        stored,
        run.jmap,
        support_steps=run.options.support_steps,
        support_events=run.options.support_events,
        sample=run.options.sample,
    )


def _measure_drivers(run: _Run, stored: ir.Table) -> tuple[Driver, ...]:
    run.progress("testing conversion drivers")
    return measure_drivers(
        run.con,
        stored,
        run.jmap,
        window=run.options.window,
        fdr=run.options.fdr,
        confidence=run.options.confidence,
    )


def _insights(
    run: _Run,
    snapshot: Snapshot,
    segments: tuple[SegmentConversion, ...],
    value: float | None,
    currency: str | None,
) -> tuple[tuple[ObservedPainPoint, ...], tuple[ScoredOpportunity, ...]]:
    pain_points = find_pain_points(run.jmap, snapshot, segments=segments)
    opportunities: tuple[ScoredOpportunity, ...] = ()
    if run.jmap.opportunities:
        opportunities = tuple(
            score_opportunities(
                run.jmap,
                snapshot,
                pain_points,
                method=run.options.scoring,
                formula=run.options.formula,
                value_per_customer=value,
                currency=currency,
            )
        )
    return pain_points, opportunities


# --- small facts ---------------------------------------------------------------------


def _sources(run: _Run, events: ir.Table) -> tuple[str, ...]:
    """The import batches behind the events, as file names when the engine knows them."""
    if "source" not in events.columns:
        return ()
    batches = [r["source"] for r in run.rows(events.select("source").distinct())]
    names: dict[str, str] = {}
    if "imports" in set(run.con.list_tables()):
        imports = run.con.table("imports")
        for r in run.rows(imports.select("batch", "source")):
            names[str(r["batch"])] = str(r["source"]).replace("\\", "/").rsplit("/", 1)[-1]
    return tuple(sorted({names.get(str(b), str(b)) for b in batches if b is not None}))


def _value_per_customer(run: _Run, stored: ir.Table) -> tuple[float | None, str | None]:
    """The given value, or the mean value of key-transaction events in their main currency."""
    o = run.options
    if o.value_per_customer is not None:
        return o.value_per_customer, o.currency
    keys = _key_steps(run.jmap)
    events = stored.filter(stored.step_id.isin(keys))
    try:
        value = resolve_field(o.value_property, events).cast("string").try_cast("float64")
        currency: ir.StringValue = (
            resolve_field("properties.currency", events).cast("string")
            if "properties" in events.columns
            else ibis.null("string")
        )
    except JourneyError as exc:
        run.notes.append(f"no value per customer: {exc}")
        return None, o.currency
    priced = events.select(_v=value, _c=currency).filter(lambda t: t._v.notnull())
    rows = run.rows(
        priced.group_by("_c")
        .aggregate(n=priced.count(), mean=priced._v.mean())
        .order_by([ibis.desc("n"), "_c"])
    )
    if not rows:
        run.notes.append(
            f"no value per customer: the key-transaction steps ({', '.join(keys)}) have no "
            f"{o.value_property}; opportunities are scored without money"
        )
        return None, o.currency
    top = rows[0]
    if len(rows) > 1:
        left = sum(int(r["n"]) for r in rows[1:])
        run.notes.append(
            f"value per customer: mean {o.value_property} of {int(top['n']):,} events in "
            f"{top['_c'] or 'no currency'}; {left:,} events in other currencies left out"
        )
    return _float(top["mean"]), o.currency or (str(top["_c"]) if top["_c"] else None)
