"""Segments: any per-customer metric broken down by persona, region, channel or period.

Two halves:

1. **In the engine** (Ibis expressions): :func:`segment_actors` gives every actor of
   the events exactly one segment; :func:`attach_segments` adds it to any table with an
   actor column (a per-customer metric, per-attempt funnel records, the events
   themselves, so that paths or timing can be filtered to one segment);
   :func:`count_conversions` and :func:`summarize_values` aggregate per segment.
2. **On the small aggregated result** (plain Python): :func:`compare_conversion` and
   :func:`compare_values` test the differences (two-proportion z-test and chi-square
   with Wilson and Newcombe intervals; Welch's t-test for means) and flag a segment
   only when its difference is significant after adjusting for the number of
   comparisons (Holm by default: the chance of any false flag stays at ``alpha``).

How an actor gets a segment:

- ``by="persona"``: the map's personas in order, each through its ``segment`` rule (the
  same conditions as step rules). A field whose column is in the ``customers`` table is
  tested on the actor's customer row; any other field on the actor's events, where one
  matching event is enough. An actor matching several personas goes to the first one in
  map order (``personas_matched`` says how many it matched); one matching none, or
  without a customer row, is ``unassigned``. Personas without a segment rule match
  nobody.
- ``by="period"``: the day, week (ISO, from Monday) or month of the actor's first event
  (``attribution="last"``: of its latest), labelled by the period's first day
  (``2024-03-04``).
- ``by=COLUMN`` (``region``, ``channel``, ...): the column of the ``customers`` table when
  it has one, else of the events, taken from the actor's first (or last) event in the
  order ``(ts, event_id)``. A missing value is ``unassigned``.

Every actor of the events gets a row: nothing is dropped, the unassigned are counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from journeymap.analytics.mapping import compile_rule, resolve_field
from journeymap.analytics.stats import (
    Adjustment,
    ChiSquare,
    Interval,
    adjust_p_values,
    compare_two_means,
    compare_two_proportions,
    estimate_wilson_interval,
    run_chi_square,
)
from journeymap.errors import JourneyError
from journeymap.model.persona import Persona
from journeymap.model.rules import Condition, EventRule

__all__ = [
    "UNASSIGNED",
    "Attribution",
    "ConversionComparison",
    "Period",
    "SegmentError",
    "SegmentMean",
    "SegmentRate",
    "SegmentShift",
    "ValueComparison",
    "attach_segments",
    "compare_conversion",
    "compare_values",
    "count_conversions",
    "segment_actors",
    "summarize_values",
]

UNASSIGNED = "unassigned"
Period = Literal["day", "week", "month"]
Attribution = Literal["first", "last"]
_PERIOD_UNIT = {"day": "D", "week": "W", "month": "M"}


class SegmentError(JourneyError, ValueError):
    """A breakdown that cannot be made (unknown column, persona without data, bad rows)."""


def segment_actors(
    events: ir.Table,
    *,
    by: str = "region",
    personas: Sequence[Persona] = (),
    customers: ir.Table | None = None,
    customer_key: str | None = None,
    attribution: Attribution = "first",
    period: Period = "week",
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    unassigned: str = UNASSIGNED,
) -> ir.Table:
    """One row per actor of ``events``: ``actor`` and its ``segment`` (string).

    ``customers`` is an optional attributes table with one row per customer, keyed by
    ``customer_key`` (default: the ``actor`` column name). With ``by="persona"`` the
    result also has ``personas_matched`` (int64). See the module docstring for the rules.
    """
    if attribution not in ("first", "last"):
        raise SegmentError(f"attribution {attribution!r}: use 'first' or 'last'")
    key = customer_key or actor
    for name in (actor, ts, tiebreak):
        _require(events, name, "events")
    if customers is not None:
        _require(customers, key, "customers", hint="pass customer_key=COLUMN")
    if by == "persona":
        return _segment_by_persona(
            events, personas, customers, key=key, actor=actor, unassigned=unassigned
        )
    if by == "period":
        if period not in _PERIOD_UNIT:
            raise SegmentError(f"period {period!r}: use day, week or month")
        value = events[ts].truncate(_PERIOD_UNIT[period]).date().cast("string")
        return _attribute(events.mutate(_value=value), actor, ts, tiebreak, attribution, unassigned)
    if customers is not None and by in customers.columns and by != key:
        per = customers.group_by(key).agg(_value=customers[by].cast("string").min())
        actors = events.select(events[actor]).distinct()
        joined = actors.left_join(per, actors[actor] == per[key])
        return joined.select(
            joined[actor], segment=joined._value.fill_null(unassigned).cast("string")
        )
    if by.startswith("properties.") and "properties" in events.columns:
        value = resolve_field(by, events).cast("string")
        return _attribute(events.mutate(_value=value), actor, ts, tiebreak, attribution, unassigned)
    if by not in events.columns:
        where = "events" + (" or customers" if customers is not None else "")
        columns = sorted(
            set(events.columns) | set(customers.columns if customers is not None else ())
        )
        raise SegmentError(
            f"breakdown by {by!r}: no column {by!r} in the {where}; use persona, period or "
            f"one of the columns: {', '.join(columns)}"
        )
    return _attribute(
        events.mutate(_value=events[by].cast("string")),
        actor,
        ts,
        tiebreak,
        attribution,
        unassigned,
    )


def _require(table: ir.Table, column: str, what: str, *, hint: str = "") -> None:
    if column not in table.columns:
        extra = f"; {hint}" if hint else ""
        raise SegmentError(
            f"the {what} table has no column {column!r}; its columns are: "
            f"{', '.join(table.columns)}{extra}"
        )


def _attribute(
    events: ir.Table, actor: str, ts: str, tiebreak: str, attribution: Attribution, unassigned: str
) -> ir.Table:
    order = [events[ts], events[tiebreak]]
    if attribution == "last":
        order = [events[ts].desc(), events[tiebreak].desc()]
    rank = ibis.row_number().over(group_by=events[actor], order_by=order)
    ranked = events.select(events[actor], events._value, _rank=rank)
    first = ranked.filter(ranked._rank == 0)
    return first.select(first[actor], segment=first._value.fill_null(unassigned).cast("string"))


def _split_rule(
    persona: Persona, events: ir.Table, customers: ir.Table | None
) -> tuple[dict[str, Condition], dict[str, Condition]]:
    """The persona's conditions on the customers table and on the events."""
    assert persona.segment is not None
    on_customers: dict[str, Condition] = {}
    on_events: dict[str, Condition] = {}
    for field, condition in persona.segment.where.items():
        head = field.partition(".")[0]
        if customers is not None and head in customers.columns:
            on_customers[field] = condition
        elif head in events.columns:
            on_events[field] = condition
        else:
            where = "customers table or the events" if customers is not None else "events"
            hint = "" if customers is not None else "; pass a customers table that has it"
            raise SegmentError(
                f"persona {persona.id!r}: segment field {field!r} names no column of the "
                f"{where}{hint}"
            )
    return on_customers, on_events


def _segment_by_persona(
    events: ir.Table,
    personas: Sequence[Persona],
    customers: ir.Table | None,
    *,
    key: str,
    actor: str,
    unassigned: str,
) -> ir.Table:
    ruled = [p for p in personas if p.segment is not None]
    if not ruled:
        raise SegmentError(
            "breakdown by persona: no persona has a segment rule; add one to the map, "
            "e.g. segment: {where: {loyalty_member: true}}"
        )
    actors = events.select(events[actor]).distinct()
    flags: list[ir.BooleanValue] = []
    event_aggs: dict[str, ir.BooleanScalar] = {}
    customer_cols: dict[str, ir.BooleanValue] = {}
    splits = [_split_rule(p, events, customers) for p in ruled]
    for i, (on_customers, on_events) in enumerate(splits):
        if on_events:
            event_aggs[f"_e{i}"] = compile_rule(EventRule(match=on_events), events).any()
        if on_customers and customers is not None:
            customer_cols[f"_c{i}"] = compile_rule(EventRule(match=on_customers), customers)
    joined = actors
    if event_aggs:
        per_actor = events.group_by(events[actor]).agg(**event_aggs)
        joined = joined.left_join(per_actor, actor).select(joined[actor], *event_aggs)
    if customer_cols and customers is not None:
        marked = customers.mutate(**customer_cols)
        per_customer = marked.group_by(marked[key]).agg(
            **{name: marked[name].any() for name in customer_cols}
        )
        cond = joined[actor] == per_customer[key]
        joined = joined.left_join(per_customer, cond).select(
            joined[actor], *event_aggs, *customer_cols
        )
    for i, (on_customers, on_events) in enumerate(splits):
        flag: ir.BooleanValue = ibis.literal(True)
        if on_events:
            flag = flag & joined[f"_e{i}"].fill_null(False)
        if on_customers:
            flag = flag & joined[f"_c{i}"].fill_null(False)
        flags.append(flag)
    segment = ibis.cases(
        *[(flag, ibis.literal(p.id)) for flag, p in zip(flags, ruled, strict=True)],
        else_=ibis.literal(unassigned),
    )
    matched = sum((f.cast("int64") for f in flags[1:]), flags[0].cast("int64"))
    return joined.select(
        joined[actor], segment=segment.cast("string"), personas_matched=matched.cast("int64")
    )


def attach_segments(
    table: ir.Table,
    segments: ir.Table,
    *,
    actor: str = "actor_id",
    unassigned: str = UNASSIGNED,
) -> ir.Table:
    """``table`` with a ``segment`` column from :func:`segment_actors` (a left join).

    Every row of ``table`` is kept; an actor the segments do not know is ``unassigned``.
    """
    _require(table, actor, "metric", hint="pass actor=COLUMN")
    if "segment" in table.columns:
        raise SegmentError(
            "the metric table already has a 'segment' column; rename or drop it first"
        )
    right = segments.select(_seg_actor=segments[actor], _segment=segments.segment)
    joined = table.left_join(right, table[actor] == right._seg_actor)
    return joined.select(
        *[joined[c] for c in table.columns],
        segment=joined._segment.fill_null(unassigned).cast("string"),
    )


def count_conversions(
    table: ir.Table,
    *,
    converted: str = "converted",
    segment: str = "segment",
    actor: str = "actor_id",
) -> ir.Table:
    """Per segment: ``actors`` (distinct), ``converted`` (distinct actors with a true
    ``converted`` flag) and ``rate``, ready for :func:`compare_conversion`.

    Works on per-actor tables and on tables with several rows per actor alike: an actor
    counts as converted when any of its rows is.
    """
    for name in (converted, segment, actor):
        _require(table, name, "metric")
    flag = table[converted].fill_null(False)
    agg = table.group_by(table[segment].name("segment")).agg(
        actors=table[actor].nunique().cast("int64"),
        converted=table[actor].nunique(where=flag).cast("int64"),
    )
    return agg.mutate(rate=agg.converted.cast("float64") / agg.actors)


def summarize_values(table: ir.Table, *, value: str, segment: str = "segment") -> ir.Table:
    """Per segment: ``count``, ``mean``, ``std`` (sample), ``median``, ``p90`` of ``value``.

    Nulls are left out of every statistic (and of ``count``); ``missing`` counts them.
    Feed the result to :func:`compare_values`.
    """
    for name in (value, segment):
        _require(table, name, "metric")
    v = table[value].cast("float64")
    return table.group_by(table[segment].name("segment")).agg(
        count=v.count().cast("int64"),
        missing=v.isnull().sum().cast("int64"),
        mean=v.mean(),
        std=v.std(how="sample"),
        median=v.median(),
        p90=v.quantile(0.9),
    )


@dataclass(frozen=True)
class SegmentRate:
    """One segment's conversion with its Wilson interval."""

    segment: str
    successes: int
    trials: int
    rate: float | None
    interval: Interval


@dataclass(frozen=True)
class SegmentShift:
    """How one segment differs from its reference, and whether that is significant.

    ``difference`` is segment minus reference (a rate or a mean); ``interval`` its
    confidence interval (Newcombe for rates, Welch for means; not widened for the
    number of comparisons); ``statistic`` the z (rates) or t (means); ``p_adjusted``
    the p-value after the adjustment; ``significant`` is ``p_adjusted < alpha``.
    """

    segment: str
    reference: str
    difference: float | None
    interval: Interval | None
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool


@dataclass(frozen=True)
class ConversionComparison:
    """Conversion per segment, each segment against its reference, and chi-square.

    ``reference`` is the segment every other one is compared with, or None when each
    segment is compared with all the others together ("the rest").
    ``chi_square`` tests whether all segments share one rate.
    """

    rates: tuple[SegmentRate, ...]
    shifts: tuple[SegmentShift, ...]
    chi_square: ChiSquare
    alpha: float
    adjust: Adjustment
    reference: str | None

    @property
    def flagged(self) -> tuple[SegmentShift, ...]:
        """The significant differences only."""
        return tuple(s for s in self.shifts if s.significant)


@dataclass(frozen=True)
class SegmentMean:
    """One segment's mean of a value, with the numbers Welch's test needs."""

    segment: str
    count: int
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class ValueComparison:
    """Means per segment and each segment against its reference (Welch's t-test)."""

    means: tuple[SegmentMean, ...]
    shifts: tuple[SegmentShift, ...]
    alpha: float
    adjust: Adjustment
    reference: str | None

    @property
    def flagged(self) -> tuple[SegmentShift, ...]:
        """The significant differences only."""
        return tuple(s for s in self.shifts if s.significant)


REST = "rest"


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise SegmentError(f"alpha {alpha!r} is outside (0, 1); the usual choice is 0.05")


def _field(row: Mapping[str, Any], name: str, index: int) -> Any:
    try:
        return row[name]
    except KeyError:
        raise SegmentError(
            f"row {index + 1} of the aggregated metric has no {name!r}; its fields are: "
            f"{', '.join(map(str, row))}"
        ) from None


def _count(row: Mapping[str, Any], name: str, index: int) -> int:
    value = _field(row, name, index)
    if value is None:
        return 0
    if isinstance(value, bool) or int(value) != value:
        raise SegmentError(f"row {index + 1}: {name!r} must be a whole count, got {value!r}")
    return int(value)


def _check_reference(reference: str | None, names: Sequence[str]) -> None:
    if reference is not None and reference not in names:
        raise SegmentError(
            f"reference segment {reference!r} is not among the segments: {', '.join(names)}"
        )


def _finish(
    raw: list[tuple[str, str, float | None, Interval | None, float | None, float | None]],
    *,
    alpha: float,
    adjust: Adjustment,
) -> tuple[SegmentShift, ...]:
    adjusted = adjust_p_values([r[5] for r in raw], method=adjust)
    return tuple(
        SegmentShift(
            segment=seg,
            reference=ref,
            difference=diff,
            interval=interval,
            statistic=stat,
            p_value=p,
            p_adjusted=padj,
            significant=padj is not None and padj < alpha,
        )
        for (seg, ref, diff, interval, stat, p), padj in zip(raw, adjusted, strict=True)
    )


def compare_conversion(
    rows: Iterable[Mapping[str, Any]],
    *,
    segment: str = "segment",
    successes: str = "converted",
    trials: str = "actors",
    reference: str | None = None,
    alpha: float = 0.05,
    adjust: Adjustment = "holm",
    confidence: float = 0.95,
) -> ConversionComparison:
    """Test whether segments convert differently; flag only significant differences.

    ``rows`` are the executed rows of :func:`count_conversions` (or of any table with a
    segment, a count of successes and a count of trials, e.g. a funnel step broken down
    by a property). Each segment is compared with ``reference`` or, when it is None,
    with all other segments together, by the pooled two-proportion z-test; p-values are
    adjusted with ``adjust`` (``holm``: family-wise error rate at ``alpha``; ``fdr_bh``:
    false discovery rate) and a difference is significant when the adjusted p-value is
    below ``alpha``. The chi-square test says whether all segments share one rate.
    """
    _check_alpha(alpha)
    counts: list[tuple[str, int, int]] = []
    for i, row in enumerate(rows):
        name = str(_field(row, segment, i))
        s, n = _count(row, successes, i), _count(row, trials, i)
        if s > n:
            raise SegmentError(
                f"row {i + 1} (segment {name!r}): {s} {successes} out of {n} {trials}; "
                f"{successes} must not exceed {trials}"
            )
        counts.append((name, s, n))
    names = [c[0] for c in counts]
    _check_reference(reference, names)
    rates = tuple(
        SegmentRate(
            segment=name,
            successes=s,
            trials=n,
            rate=s / n if n else None,
            interval=estimate_wilson_interval(s, n, confidence=confidence),
        )
        for name, s, n in counts
    )
    total_s = sum(c[1] for c in counts)
    total_n = sum(c[2] for c in counts)
    ref_counts = {name: (s, n) for name, s, n in counts}
    raw: list[tuple[str, str, float | None, Interval | None, float | None, float | None]] = []
    for name, s, n in counts if len(counts) > 1 else ():
        if name == reference:
            continue
        if reference is None:
            rs, rn, ref_name = total_s - s, total_n - n, REST
        else:
            (rs, rn), ref_name = ref_counts[reference], reference
        test = compare_two_proportions(s, n, rs, rn, confidence=confidence)
        raw.append((name, ref_name, test.difference, test.interval, test.z, test.p_value))
    return ConversionComparison(
        rates=rates,
        shifts=_finish(raw, alpha=alpha, adjust=adjust),
        chi_square=run_chi_square([(s, n) for _, s, n in counts]),
        alpha=alpha,
        adjust=adjust,
        reference=reference,
    )


def _pool(means: Sequence[SegmentMean]) -> SegmentMean:
    """The count, mean and sample standard deviation of several groups together."""
    usable = [m for m in means if m.count > 0 and m.mean is not None]
    n = sum(m.count for m in usable)
    if n == 0:
        return SegmentMean(REST, 0, None, None)
    mean = sum(m.count * (m.mean or 0.0) for m in usable) / n
    if n < 2:
        return SegmentMean(REST, n, mean, None)
    ss = 0.0
    for m in usable:
        if m.count > 1 and m.std is None:
            return SegmentMean(REST, n, mean, None)
        ss += (m.count - 1) * (m.std or 0.0) ** 2 + m.count * ((m.mean or 0.0) - mean) ** 2
    return SegmentMean(REST, n, mean, (ss / (n - 1)) ** 0.5)


def compare_values(
    rows: Iterable[Mapping[str, Any]],
    *,
    segment: str = "segment",
    count: str = "count",
    mean: str = "mean",
    std: str = "std",
    reference: str | None = None,
    alpha: float = 0.05,
    adjust: Adjustment = "holm",
    confidence: float = 0.95,
) -> ValueComparison:
    """Test whether segments differ in the mean of a value (e.g. seconds to convert).

    ``rows`` are the executed rows of :func:`summarize_values`. Each segment is compared
    with ``reference`` or with all other segments pooled, by Welch's t-test; p-values
    are adjusted as in :func:`compare_conversion`. The test is on means: a difference in
    medians of skewed times can exist without one in means, and the other way round.
    """
    _check_alpha(alpha)
    means: list[SegmentMean] = []
    for i, row in enumerate(rows):
        m, s = _field(row, mean, i), _field(row, std, i)
        means.append(
            SegmentMean(
                segment=str(_field(row, segment, i)),
                count=_count(row, count, i),
                mean=None if m is None else float(m),
                std=None if s is None else float(s),
            )
        )
    names = [m.segment for m in means]
    _check_reference(reference, names)
    by_name = {m.segment: m for m in means}
    raw: list[tuple[str, str, float | None, Interval | None, float | None, float | None]] = []
    for m in means if len(means) > 1 else ():
        if m.segment == reference:
            continue
        ref = (
            by_name[reference]
            if reference is not None
            else _pool([o for o in means if o.segment != m.segment])
        )
        test = compare_two_means(
            m.count, m.mean, m.std, ref.count, ref.mean, ref.std, confidence=confidence
        )
        raw.append((m.segment, ref.segment, test.difference, test.interval, test.t, test.p_value))
    return ValueComparison(
        means=tuple(means),
        shifts=_finish(raw, alpha=alpha, adjust=adjust),
        alpha=alpha,
        adjust=adjust,
        reference=reference,
    )
