"""Conversion drivers: what converters did that the others did not, per stage and per fork.

Two halves, like :mod:`journeymap.analytics.segments`:

1. **In the engine** (Ibis expressions): :func:`find_drivers` builds, from events mapped
   to the map's steps, who belongs to each scope, whether they converted, and which
   features they had; :class:`DriverTables` counts them.
2. **On the small counts** (plain Python): :func:`rank_drivers` tests every feature of a
   scope (Fisher's exact test, odds ratio with a Woolf interval) and controls the false
   discovery rate across the features of the scope (Benjamini-Hochberg).

**Scopes.**

- ``stage:<id>`` for every stage that has a later stage. The population is the
  customers with an event in the stage; a customer's *entry* is the first such event in
  the order ``(ts, event_id)``. A customer **converted** when an event of any later
  stage follows the entry within ``window`` (no limit with ``window=None``). Features
  are read from the entry up to (not including) the converting event; for the others
  from the entry to the end of the window (to their last event without a window).
- ``fork:<fork-id>/<branch-id>`` for every branch of every fork. The population is the
  customers with an event at the fork's ``at`` step; the fork point is the first such
  event. A customer **took** a branch when an event matching the branch's ``condition``
  comes at or after the fork point, within ``window``; a branch without a condition is
  taken by those who took none of the branches that have one. Features are read from
  the customer's first event up to and including the fork point (so the channel the
  customer was in when reaching the fork counts).

**Features** are ``event=<name>`` and ``channel=<name>`` of the events read (any event,
whether it matches a step or not). A feature counts once per customer: the counts are
customers, never events.

Note that converters' features are read up to their conversion and the others' over the
whole window, so a feature common to everyone tends to look slightly more frequent among
the others: read a driver as "converters did this more often before converting", not as
a cause.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.types as ir
from scipy import stats as _dist

from journeymap.analytics.mapping import compile_rule
from journeymap.analytics.paths import epoch_micros
from journeymap.analytics.stats import adjust_p_values
from journeymap.errors import JourneyError
from journeymap.insights.evidence import Driver, Estimate
from journeymap.model.journey import JourneyMap

__all__ = [
    "DriverError",
    "DriverRanking",
    "DriverTables",
    "FeatureCount",
    "OutcomeCount",
    "compute_fisher_p_value",
    "estimate_odds_ratio",
    "find_drivers",
    "rank_drivers",
]

_MAPPED_COLUMNS = ("step_id", "step_index", "stage_index")


class DriverError(JourneyError, ValueError):
    """Driver options or counts that cannot be used (bad window, impossible counts)."""


@dataclass(frozen=True)
class FeatureCount:
    """How many converters and others of a scope had one feature."""

    scope: str
    feature: str
    converters_with: int
    others_with: int


@dataclass(frozen=True)
class OutcomeCount:
    """How many customers of a scope converted and how many did not."""

    scope: str
    converters: int
    others: int


@dataclass(frozen=True)
class DriverTables:
    """The drivers' inputs as Ibis expressions.

    ``outcomes``: one row per (``scope``, ``actor_id``) of each scope's population, with
    ``converted`` (boolean). ``features``: one row per (``scope``, ``actor_id``,
    ``feature``) present, with ``converted``. :meth:`count_outcomes` and
    :meth:`count_features` aggregate them to the few numbers :func:`rank_drivers` takes.
    """

    outcomes: ir.Table
    features: ir.Table

    def count_outcomes(self, outcomes: ir.Table | None = None) -> ir.Table:
        """``scope``, ``converters``, ``others`` (pass a stored ``outcomes`` to reuse it)."""
        t = self.outcomes if outcomes is None else outcomes
        return t.group_by("scope").agg(
            converters=t.converted.cast("int64").sum().cast("int64"),
            others=(~t.converted).cast("int64").sum().cast("int64"),
        )

    def count_features(self, features: ir.Table | None = None) -> ir.Table:
        """``scope``, ``feature``, ``converters_with``, ``others_with``."""
        t = self.features if features is None else features
        return t.group_by("scope", "feature").agg(
            converters_with=t.converted.cast("int64").sum().cast("int64"),
            others_with=(~t.converted).cast("int64").sum().cast("int64"),
        )


def _require(table: ir.Table, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        hint = (
            "; map the events first with journeymap.analytics.mapping.map_events"
            if set(missing) & set(_MAPPED_COLUMNS)
            else ""
        )
        raise DriverError(
            f"the events table has no column {missing[0]!r}; columns are: "
            f"{', '.join(table.columns)}{hint}"
        )


def find_drivers(
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    window: timedelta | None = timedelta(days=30),
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    event: str = "event",
    channel: str = "channel",
) -> DriverTables:
    """Populations, outcomes and features of every stage and fork scope of ``jmap``.

    ``mapped`` is the ``table`` of :func:`~journeymap.analytics.mapping.map_events` for
    ``jmap``; ``window`` bounds conversion (and the others' reading span) from the stage
    entry or the fork point. See the module docstring for the definitions.
    """
    columns = [actor, ts, tiebreak, event, *_MAPPED_COLUMNS]
    if channel in mapped.columns:
        columns.append(channel)
    _require(mapped, columns)
    if window is not None and window <= timedelta(0):
        raise DriverError(f"window {window} is not positive; pass a window such as 30 days")
    limit = None if window is None else int(window / timedelta(microseconds=1))

    order = [mapped[ts], mapped[tiebreak]]
    w = ibis.window(group_by=mapped[actor], order_by=order)
    base = mapped.mutate(
        _a=mapped[actor].cast("string"),
        _pos=ibis.row_number().over(w).cast("int64"),
        _us=epoch_micros(mapped[ts]),
    )
    feats = [("event=" + base[event].cast("string")).name("feature")]
    if channel in mapped.columns:
        feats.append(("channel=" + base[channel].cast("string")).name("feature"))
    events = base.select("_a", "_pos", "_us", "step_index", "stage_index")
    # one row per (event, feature): events without a channel give only their event name
    labelled = ibis.union(
        *[base.select("_a", "_pos", "_us", feature=f).filter(f.notnull()) for f in feats],
        distinct=False,
    )

    outcome_parts: list[ir.Table] = []
    feature_parts: list[ir.Table] = []
    last_stage = len(jmap.stages) - 1
    if last_stage > 0:
        o, f = _stage_scopes(jmap, events, labelled, limit, last_stage)
        outcome_parts.append(o)
        feature_parts.append(f)
    for fork in jmap.forks:
        o, f = _fork_scopes(jmap, fork.id, base, events, labelled, limit)
        outcome_parts.extend(o)
        feature_parts.extend(f)
    if not outcome_parts:
        empty_o = ibis.memtable(
            {"scope": [], "actor_id": [], "converted": []},
            schema={"scope": "string", "actor_id": "string", "converted": "boolean"},
        )
        empty_f = ibis.memtable(
            {"scope": [], "actor_id": [], "feature": [], "converted": []},
            schema={
                "scope": "string",
                "actor_id": "string",
                "feature": "string",
                "converted": "boolean",
            },
        )
        return DriverTables(outcomes=empty_o, features=empty_f)
    outcomes = ibis.union(*outcome_parts, distinct=False)
    features = ibis.union(*feature_parts, distinct=False)
    return DriverTables(outcomes=outcomes, features=features)


def _stage_scopes(
    jmap: JourneyMap,
    events: ir.Table,
    labelled: ir.Table,
    limit: int | None,
    last_stage: int,
) -> tuple[ir.Table, ir.Table]:
    """Outcomes and features of every stage that has a later stage, in one pass."""
    staged = events.filter((events.stage_index >= 0) & (events.stage_index < last_stage))
    entries = staged.group_by("_a", "stage_index").agg(_entry=staged._pos.min())
    first = staged.select(_ea="_a", _ep="_pos", _eus="_us")
    entries = entries.join(first, [entries._a == first._ea, entries._entry == first._ep])
    entries = entries.select("_a", _k="stage_index", _ep="_entry", _eus="_eus")

    later = events.filter(events.stage_index >= 0).select(
        _la="_a", _lp="_pos", _lus="_us", _lk="stage_index"
    )
    j = entries.join(later, entries._a == later._la)
    hit = (j._lk > j._k) & (j._lp > j._ep)
    if limit is not None:
        hit = hit & (j._lus - j._eus <= limit)
    conv = j.filter(hit).group_by("_a", "_k").agg(_cp=j._lp.min())
    conv = conv.select(_ca="_a", _ck="_k", _cp="_cp")
    spans = entries.left_join(conv, [entries._a == conv._ca, entries._k == conv._ck])
    spans = spans.select("_a", "_k", "_ep", "_eus", "_cp", converted=spans._cp.notnull())

    names = {i: f"stage:{s.id}" for i, s in enumerate(jmap.stages) if i < last_stage}
    scope = spans._k.substitute(names, else_=ibis.null("string")).cast("string")
    outcomes = spans.select(scope=scope, actor_id=spans._a, converted=spans.converted)

    lab = labelled.select(_fa="_a", _fp="_pos", _fus="_us", feature="feature")
    jf = spans.join(lab, spans._a == lab._fa)
    inside = jf._fp >= jf._ep
    until_conv = jf._fp < jf._cp
    open_end = jf._fus - jf._eus <= limit if limit is not None else ibis.literal(True)
    inside = inside & ibis.ifelse(jf.converted, until_conv, open_end)
    jf = jf.filter(inside)
    fscope = jf._k.substitute(names, else_=ibis.null("string")).cast("string")
    features = jf.select(
        scope=fscope, actor_id=jf._a, feature=jf.feature, converted=jf.converted
    ).distinct()
    return outcomes, features


def _fork_scopes(
    jmap: JourneyMap,
    fork_id: str,
    base: ir.Table,
    events: ir.Table,
    labelled: ir.Table,
    limit: int | None,
) -> tuple[list[ir.Table], list[ir.Table]]:
    """Outcomes and features of each branch of one fork."""
    fork = next(f for f in jmap.forks if f.id == fork_id)
    at_index = next((i for i, (_, s) in enumerate(jmap.all_steps()) if s.id == fork.at), None)
    if at_index is None:
        raise DriverError(
            f"fork '{fork.id}' is at step '{fork.at}', which is not a step of map "
            f"'{jmap.id}'; fix the fork's 'at'"
        )
    at = events.filter(events.step_index == at_index)
    points = at.group_by("_a").agg(_fp=at._pos.min())
    first = at.select(_pa="_a", _pp="_pos", _pus="_us")
    points = points.join(first, [points._a == first._pa, points._fp == first._pp])
    points = points.select("_a", "_fp", _fus="_pus")

    conditioned = [b for b in fork.branches if b.condition is not None]
    took: dict[str, ir.Table] = {}
    for branch in conditioned:
        assert branch.condition is not None
        match = base.filter(compile_rule(branch.condition, base))
        match = match.select(_ma="_a", _mp="_pos", _mus="_us")
        j = points.join(match, points._a == match._ma)
        hit = j._mp >= j._fp
        if limit is not None:
            hit = hit & (j._mus - j._fus <= limit)
        took[branch.id] = j.filter(hit).select(_ta=j._a).distinct()

    lab = labelled.select(_la="_a", _lp="_pos", feature="feature")
    before = points.join(lab, points._a == lab._la)
    before = before.filter(before._lp <= before._fp).select("_a", "feature").distinct()

    outcomes: list[ir.Table] = []
    features: list[ir.Table] = []
    for branch in fork.branches:
        scope = f"fork:{fork.id}/{branch.id}"
        if branch.condition is not None:
            taken = took[branch.id]
            flagged = points.left_join(taken, points._a == taken._ta)
            flagged = flagged.select("_a", converted=flagged._ta.notnull())
        else:
            flagged = points.select("_a", converted=ibis.literal(True))
            for other in took.values():
                j = flagged.left_join(other, flagged._a == other._ta)
                flagged = j.select("_a", converted=j.converted & j._ta.isnull())
        outcomes.append(
            flagged.select(scope=ibis.literal(scope), actor_id="_a", converted="converted")
        )
        fl = flagged.select(_oa="_a", _conv="converted")
        jf = before.join(fl, before._a == fl._oa)
        features.append(
            jf.select(
                scope=ibis.literal(scope), actor_id=jf._a, feature=jf.feature, converted=jf._conv
            )
        )
    return outcomes, features


# --- statistics on the small counts ----------------------------------------------


def _check_cells(a: int, b: int, c: int, d: int) -> None:
    if min(a, b, c, d) < 0:
        raise DriverError(f"a 2x2 table cannot hold negative counts: {[a, b, c, d]}")


def estimate_odds_ratio(a: int, b: int, c: int, d: int, *, confidence: float = 0.95) -> Estimate:
    """The odds ratio ``(a d) / (b c)`` of a 2x2 table with Woolf's log interval.

    ``a``: converters with the feature, ``b``: converters without, ``c``: others with,
    ``d``: others without. When a cell is 0, 0.5 is added to every cell (the
    Haldane-Anscombe correction), so the ratio and its interval stay finite. The
    interval is ``exp(log OR ± z sqrt(1/a + 1/b + 1/c + 1/d))``; ``n`` is the table's
    total. A table with an empty row or column has no odds ratio (value None).

    >>> r = estimate_odds_ratio(10, 20, 5, 40)
    >>> round(r.value, 2), round(r.low, 2), round(r.high, 2)
    (4.0, 1.2, 13.28)
    """
    _check_cells(a, b, c, d)
    if not 0 < confidence < 1:
        raise DriverError(f"confidence {confidence!r} is outside (0, 1); e.g. 0.95")
    n = a + b + c + d
    if a + b == 0 or c + d == 0 or a + c == 0 or b + d == 0:
        return Estimate(None, None, None, n=n, confidence=confidence)
    cells = [float(x) for x in (a, b, c, d)]
    if 0 in (a, b, c, d):
        cells = [x + 0.5 for x in cells]
    fa, fb, fc, fd = cells
    log_or = math.log(fa) + math.log(fd) - math.log(fb) - math.log(fc)
    se = math.sqrt(1 / fa + 1 / fb + 1 / fc + 1 / fd)
    z = float(_dist.norm.ppf(0.5 + confidence / 2))
    return Estimate(
        value=math.exp(log_or),
        low=math.exp(log_or - z * se),
        high=math.exp(log_or + z * se),
        n=n,
        confidence=confidence,
    )


def compute_fisher_p_value(a: int, b: int, c: int, d: int) -> float:
    """The two-sided p-value of Fisher's exact test of the 2x2 table ``[[a, b], [c, d]]``.

    Exact, from the hypergeometric distribution with the margins fixed: the sum of the
    probabilities of every table no more likely than the observed one (scipy's
    ``fisher_exact``, two-sided).

    >>> round(compute_fisher_p_value(3, 1, 1, 3), 4)
    0.4857
    """
    _check_cells(a, b, c, d)
    result = _dist.fisher_exact([[a, b], [c, d]], alternative="two-sided")
    p = float(result.pvalue)
    return min(1.0, max(0.0, p))


@dataclass(frozen=True)
class DriverRanking:
    """The tested drivers and what was left out.

    ``drivers``: sorted by scope, then q-value, then the size of the effect (|log OR|,
    largest first). ``left_out``: per scope, how many features had fewer than
    ``min_support`` customers and were not tested. ``untestable``: scopes without
    converters or without others (nothing to compare), with their counts.
    """

    drivers: tuple[Driver, ...]
    left_out: tuple[tuple[str, int], ...]
    untestable: tuple[OutcomeCount, ...]


def rank_drivers(
    features: Iterable[FeatureCount],
    outcomes: Iterable[OutcomeCount],
    *,
    min_support: int = 20,
    fdr: float = 0.05,
    confidence: float = 0.95,
) -> DriverRanking:
    """Test every feature of every scope and control the false discovery rate per scope.

    A feature held by fewer than ``min_support`` customers (converters and others
    together) is not tested and is counted in ``left_out``. For the others: Fisher's
    exact p-value, the odds ratio with its Woolf interval at ``confidence``, and the
    Benjamini-Hochberg q-value over the tested features of the same scope; a driver is
    ``significant`` when its q-value is at most ``fdr``.
    """
    if min_support < 1:
        raise DriverError(f"min_support={min_support}: it must be at least 1")
    if not 0 < fdr < 1:
        raise DriverError(f"fdr {fdr!r} is outside (0, 1); write it as a share, e.g. 0.05")
    totals: dict[str, OutcomeCount] = {}
    for o in outcomes:
        if o.converters < 0 or o.others < 0:
            raise DriverError(f"scope {o.scope!r}: negative counts {o.converters}, {o.others}")
        totals[o.scope] = o
    by_scope: dict[str, list[FeatureCount]] = defaultdict(list)
    for f in features:
        if f.scope not in totals:
            raise DriverError(f"feature {f.feature!r} is in scope {f.scope!r}, which has no totals")
        t = totals[f.scope]
        if f.converters_with > t.converters or f.others_with > t.others:
            raise DriverError(
                f"scope {f.scope!r}, feature {f.feature!r}: {f.converters_with} of "
                f"{t.converters} converters and {f.others_with} of {t.others} others; "
                "a feature cannot be held by more customers than the group has"
            )
        by_scope[f.scope].append(f)

    drivers: list[Driver] = []
    left_out: list[tuple[str, int]] = []
    untestable: list[OutcomeCount] = []
    for scope in sorted(totals):
        t = totals[scope]
        if t.converters == 0 or t.others == 0:
            untestable.append(t)
            continue
        counted = by_scope.get(scope, [])
        tested = [f for f in counted if f.converters_with + f.others_with >= min_support]
        left_out.append((scope, len(counted) - len(tested)))
        p_values: list[float | None] = []
        ratios: list[Estimate] = []
        for f in tested:
            a, c = f.converters_with, f.others_with
            b, d = t.converters - a, t.others - c
            p_values.append(compute_fisher_p_value(a, b, c, d))
            ratios.append(estimate_odds_ratio(a, b, c, d, confidence=confidence))
        q_values = adjust_p_values(p_values, method="fdr_bh")
        for f, p, q, ratio in zip(tested, p_values, q_values, ratios, strict=True):
            drivers.append(
                Driver(
                    scope=scope,
                    feature=f.feature,
                    converters_with=f.converters_with,
                    converters=t.converters,
                    others_with=f.others_with,
                    others=t.others,
                    odds_ratio=ratio,
                    p_value=p,
                    q_value=q,
                    significant=q is not None and q <= fdr,
                )
            )
    drivers.sort(key=_driver_order)
    return DriverRanking(tuple(drivers), tuple(left_out), tuple(untestable))


def _driver_order(d: Driver) -> tuple[str, float, float, str]:
    q = d.q_value if d.q_value is not None else 2.0
    value = d.odds_ratio.value
    effect = abs(math.log(value)) if value is not None and value > 0 else 0.0
    return (d.scope, q, -effect, d.feature)
