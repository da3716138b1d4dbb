"""Run the friction signals and the conversion drivers on an engine, as typed results.

The expressions come from :mod:`journeymap.analytics.signals` and
:mod:`journeymap.analytics.drivers`; this module executes them on ``con`` (DuckDB or
Spark), turns the few rows into :class:`~journeymap.insights.evidence.StepSignals` and
:class:`~journeymap.insights.evidence.Driver`, and turns driver errors into
:class:`~journeymap.errors.EngineError`.

>>> import ibis
>>> from journeymap.model import JourneyMap
>>> from journeymap.analytics.mapping import map_events
>>> con = ibis.duckdb.connect()
>>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
...     {"id": "s", "name": "S", "steps": [
...         {"id": "view", "name": "View", "events": {"match": {"event": "view"}}}]}]})
>>> events = ibis.memtable({"event_id": ["1"], "actor_id": ["a"], "event": ["view"],
...     "ts": ["2024-01-01T00:00:00+00:00"]}).mutate(ts=ibis._.ts.cast("timestamp('UTC')"))
>>> [s.reach for s in measure_signals(con, map_events(events, jmap).table, jmap)]
[1]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import ibis.expr.types as ir
from ibis import BaseBackend

from journeymap.analytics.drivers import (
    DriverRanking,
    FeatureCount,
    OutcomeCount,
    find_drivers,
    rank_drivers,
)
from journeymap.analytics.mapping import list_steps
from journeymap.analytics.signals import PingPong, find_signals
from journeymap.engines.connection import fetch_rows, translate_errors
from journeymap.engines.scratch import stored_table
from journeymap.insights.evidence import Driver, StepSignals
from journeymap.model.journey import JourneyMap

__all__ = [
    "measure_driver_ranking",
    "measure_drivers",
    "measure_ping_pongs",
    "measure_signals",
]

_SIGNAL_COLUMNS = ("actor_id", "ts", "event_id", "event", "step_id", "step_index")
_DRIVER_COLUMNS = (*_SIGNAL_COLUMNS, "channel", "stage_index")


def _condition_columns(jmap: JourneyMap) -> set[str]:
    """The event columns the forks' branch conditions read (``properties`` for a path)."""
    heads: set[str] = set()
    for fork in jmap.forks:
        for branch in fork.branches:
            rule = branch.condition
            if rule is None:
                continue
            for conditions in (rule.match, *rule.any):
                heads.update(field.partition(".")[0] for field in conditions)
    return heads


def measure_signals(
    con: BaseBackend,
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    support_steps: Sequence[str] | None = None,
    support_events: Sequence[str] = (),
    window: timedelta = timedelta(days=3),
    sample: int = 5,
) -> tuple[StepSignals, ...]:
    """Loops and support contact after each step of ``jmap``, in journey order.

    ``mapped`` is the ``table`` of :func:`~journeymap.analytics.mapping.map_events`.
    Every step of the map gets a result (reach 0 when no event matched it). When the map
    has no support step and no ``support_events`` are given, ``support_baseline`` is
    None: nothing was measured. See :mod:`journeymap.analytics.signals` for the
    definitions and the baseline.
    """
    with translate_errors("measuring loops and support contact"):
        narrow = mapped.select(*[c for c in _SIGNAL_COLUMNS if c in mapped.columns])
        with stored_table(con, narrow, prefix="signals") as stored:
            signals = find_signals(
                stored,
                jmap,
                support_steps=support_steps,
                support_events=support_events,
                window=window,
                sample=sample,
            )
            reach = {r["step_id"]: int(r["customers"]) for r in fetch_rows(con, signals.reach)}
            loops = {r["step_id"]: r for r in fetch_rows(con, signals.loops)}
            support = {r["step_id"]: int(r["customers"]) for r in fetch_rows(con, signals.support)}
            base = fetch_rows(con, signals.baseline)
            samples = fetch_rows(con, signals.samples)
    customers = int(base[0]["customers"] or 0) if base else 0
    contacted = int(base[0]["support_customers"] or 0) if base else 0
    # with no support step and no support event there is no support to measure
    measured = bool(signals.support_steps or signals.support_events)
    baseline = contacted / customers if customers and measured else None
    picked: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for r in samples:
        picked.setdefault((r["kind"], r["step_id"]), []).append((int(r["rank"]), r["actor_id"]))
    out = []
    for step in list_steps(jmap):
        loop = loops.get(step.step_id)
        out.append(
            StepSignals(
                step_id=step.step_id,
                reach=reach.get(step.step_id, 0),
                loop_customers=int(loop["customers"]) if loop else 0,
                loop_returns=int(loop["returns"]) if loop else 0,
                support_customers=support.get(step.step_id, 0),
                support_window_seconds=signals.window_seconds,
                support_baseline=baseline,
                sample_loop=_ordered(picked.get(("loop", step.step_id), [])),
                sample_support=_ordered(picked.get(("support", step.step_id), [])),
            )
        )
    return tuple(out)


def _ordered(ranked: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(actor for _, actor in sorted(ranked))


def measure_ping_pongs(
    con: BaseBackend, mapped: ir.Table, jmap: JourneyMap
) -> tuple[PingPong, ...]:
    """The pairs of steps customers bounced between (``A B A``), most customers first."""
    with translate_errors("measuring back-and-forth between steps"):
        narrow = mapped.select(*[c for c in _SIGNAL_COLUMNS if c in mapped.columns])
        rows = fetch_rows(con, find_signals(narrow, jmap).ping_pong)
    pairs = [
        PingPong(
            step_a=r["step_a"],
            step_b=r["step_b"],
            customers=int(r["customers"]),
            bounces=int(r["bounces"]),
        )
        for r in rows
    ]
    return tuple(sorted(pairs, key=lambda p: (-p.customers, -p.bounces, p.step_a, p.step_b)))


def measure_driver_ranking(
    con: BaseBackend,
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    window: timedelta | None = timedelta(days=30),
    min_support: int = 20,
    fdr: float = 0.05,
    confidence: float = 0.95,
) -> DriverRanking:
    """The drivers of every stage and fork of ``jmap`` with what was left out untested.

    See :mod:`journeymap.analytics.drivers` for the scopes, the features and the tests.
    """
    wanted = {*_DRIVER_COLUMNS, *_condition_columns(jmap)}
    with translate_errors("measuring conversion drivers"):
        narrow = mapped.select(*[c for c in mapped.columns if c in wanted])
        # stored once: both counts read it instead of mapping the events twice
        with stored_table(con, narrow, prefix="drivers") as stored:
            tables = find_drivers(stored, jmap, window=window)
            outcome_rows = fetch_rows(con, tables.count_outcomes())
            feature_rows = fetch_rows(con, tables.count_features())
    outcomes = [
        OutcomeCount(r["scope"], int(r["converters"] or 0), int(r["others"] or 0))
        for r in outcome_rows
    ]
    features = [
        FeatureCount(
            r["scope"], r["feature"], int(r["converters_with"] or 0), int(r["others_with"] or 0)
        )
        for r in feature_rows
    ]
    return rank_drivers(features, outcomes, min_support=min_support, fdr=fdr, confidence=confidence)


def measure_drivers(
    con: BaseBackend,
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    window: timedelta | None = timedelta(days=30),
    min_support: int = 20,
    fdr: float = 0.05,
    confidence: float = 0.95,
) -> tuple[Driver, ...]:
    """What converters did that the others did not, per stage and per fork.

    Sorted by scope, then q-value, then the size of the effect (|log odds ratio|,
    largest first). :func:`measure_driver_ranking` also says how many features were left
    out for having fewer than ``min_support`` customers.
    """
    ranking = measure_driver_ranking(
        con, mapped, jmap, window=window, min_support=min_support, fdr=fdr, confidence=confidence
    )
    return ranking.drivers
