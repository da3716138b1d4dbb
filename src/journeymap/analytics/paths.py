"""Paths: the ways customers really go, as a directly-follows graph, variants and a Sankey.

:func:`discover_paths` takes events (raw, or mapped to steps with
:func:`journeymap.analytics.mapping.map_events`) and returns :class:`Paths`, a bundle of
Ibis expressions:

- ``transitions``: the directly-follows graph, one row per ``source → target`` with
  how often it happened and the time it took (mean, median, p90, min, max seconds);
- ``variants``: each distinct sequence of activities with the number of cases that
  followed it (:meth:`Paths.name_variants` spells out the top ones);
- ``start_activities`` / ``end_activities``;
- ``sankey_nodes`` / ``sankey_links``: paths by position with explicit ``other`` and
  ``drop-off`` nodes, whose totals reconcile with a funnel over positions;
- ``summary``: one row counting every event and case and where each one went.

A **case** is an actor's events, or one session of them with ``session_gap``. Events
are ordered by ``(ts, event_id)`` within a case, so ties never depend on sort stability.

Options, applied in this order:

1. ``group_by_pattern`` renames activities by glob patterns (``*`` any text, ``?`` one
   character), first match wins: ``{"view_*": "browse"}``. Anchors, ``exclude`` and all
   outputs see the new names.
2. ``exclude`` leaves activities out (e.g. the ``other`` step of unmatched events).
3. ``session_gap`` starts a new case after that much inactivity (gaps measured over all
   the actor's events, excluded ones included).
4. ``collapse_repeats`` keeps only the first event of a run of the same activity, so
   ``A A B`` becomes ``A B``; the time of ``A → B`` then runs from reaching A to
   reaching B.
5. Anchors cut each case to a window: ``start_at`` (the first occurrence of that
   activity) and ``end_at`` (its first occurrence after the start, or in the whole case
   without ``start_at``). ``steps_before`` keeps that many events before the first
   anchor and ``steps_after`` that many after the last one; with only ``start_at`` the
   path runs to the end of the case, with only ``end_at`` from its beginning. Cases
   without the anchors take no part. ``depth`` caps the number of positions, counted
   from the anchored side (from the end with only ``end_at``).

Nothing is dropped silently: :attr:`Paths.journey` holds every input event with the
reason it is not in a path (``left_out``: ``no_activity``, ``excluded``, ``repeat``,
``no_anchor``, ``outside_window``), and ``summary`` counts them.

Variants are grouped by an order-sensitive hash: per case, the sums of
``hash(seed, position, activity)`` for two seeds, with the length. That costs one
linear pass, where building a list or string per case costs several times more. A third
hash checks each group: if it differs within a group, two sequences were merged and
``verified`` is False (the summary counts such groups; expect none).

The expressions share :attr:`Paths.journey`; when several outputs are wanted from a
large log, materialise it once (``journey.cache()``, or a table in the workspace) and
pass it to :func:`summarize_paths`, so that medians and percentiles are computed from a
stored table rather than straight out of window functions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeymap.analytics.journey import micros_since_epoch
from journeymap.errors import JourneyError

__all__ = [
    "DROP_OFF",
    "OTHER",
    "PathError",
    "Paths",
    "build_path_journey",
    "discover_paths",
    "epoch_micros",
    "summarize_paths",
]

OTHER = "other"
"""The Sankey node that gathers activities outside the top ones at a position."""
DROP_OFF = "drop-off"
"""The Sankey node that a case goes to when its journey ends."""

_MOD = 2**61 - 1  # keeps every hash term non-overflowing on engines with 64-bit sums
_REGEX_SPECIAL = set(".^$*+?()[]{}|\\")


class PathError(JourneyError, ValueError):
    """Path options that contradict each other or name what the events do not have."""


@ibis.udf.scalar.builtin(name="hash")  # type: ignore[untyped-decorator]
def _engine_hash(seed: int, position: int, activity: str) -> int:  # type: ignore[empty-body]
    """The engine's own hash of several values (DuckDB: 64 bits; Spark: Murmur3, 32 bits)."""


def epoch_micros(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 UTC (int64), by the engine's own fast function.

    The same as :func:`journeymap.analytics.journey.micros_since_epoch` (one helper for
    every analysis): ``epoch_us`` on DuckDB, ``unix_micros`` on Spark, the portable
    date difference elsewhere.
    """
    return micros_since_epoch(ts)


def _order_hash(seed: int, position: ir.IntegerValue, activity: ir.StringValue) -> ir.IntegerValue:
    """One term of an order-sensitive sequence hash: a hash of (seed, position, activity)."""
    term: ir.IntegerValue = _engine_hash(ibis.literal(seed, "int64"), position, activity) % _MOD
    return term.cast("int64")


@dataclass(frozen=True)
class Paths:
    """The paths through a journey, as Ibis expressions (see the module docstring).

    ``journey``: every input event with ``case_id``, the actor, ``ts``, the tiebreak
    column, ``activity``, ``in_path``, ``position`` (0-based within the path; null when
    left out), ``next_activity`` and ``secs_to_next`` (null at the path's end),
    ``path_length``, ``ends_case`` (no event of the case follows) and ``left_out``.

    ``transitions``: ``source``, ``target``, ``count``, ``mean_secs``, ``median_secs``,
    ``p90_secs``, ``min_secs``, ``max_secs``.

    ``variants``: ``variant`` (1 = most frequent; ties by example case), ``length``,
    ``cases``, ``share`` (of the cases in paths), ``example_case`` and ``verified``.

    ``start_activities`` / ``end_activities``: ``activity``, ``cases``.

    ``sankey_nodes``: ``position`` (0-based), ``node``, ``kind`` (``activity``,
    ``other``), ``cases``, ``continued``, ``dropped`` (the case ended here: drop-off)
    and ``stopped`` (the path was cut here by an anchor, ``steps_after`` or ``depth``
    while the case went on); ``cases = continued + dropped + stopped``.
    ``sankey_links``: ``position`` (of the source), ``source``, ``source_kind``,
    ``target``, ``target_kind`` (``activity``, ``other`` or ``drop-off``) and ``cases``.
    Links leave every shown position except the last one.

    ``summary``: one row with ``events``, ``events_in_paths``, ``events_excluded``
    (no activity, or excluded), ``events_collapsed``, ``events_outside`` (no anchor or
    outside the window), ``cases``, ``cases_in_paths``, ``variants`` and
    ``unverified_variants``.
    """

    journey: ir.Table
    transitions: ir.Table
    variants: ir.Table
    start_activities: ir.Table
    end_activities: ir.Table
    sankey_nodes: ir.Table
    sankey_links: ir.Table
    summary: ir.Table

    def name_variants(self, *, top: int | None = 20, variants: ir.Table | None = None) -> ir.Table:
        """The ``top`` most frequent variants (all with None) with their sequence.

        Adds ``steps`` (array of activities) and ``sequence`` (``"a → b → c"``), read
        from each variant's example case; ordered by ``variant``. ``variants`` spells out
        a chosen subset of :attr:`variants` instead (e.g. those with at least 100 cases).
        Only the chosen variants' example cases are read, so this stays cheap on large
        logs as long as the choice is small.
        """
        base = self.variants if variants is None else variants
        chosen = base.order_by("variant")
        if top is not None:
            if top < 1:
                raise PathError(f"top={top}: ask for at least one variant")
            chosen = chosen.limit(top)
        j = self.journey.filter(self.journey.in_path)
        j = j.select(_case=j.case_id, _pos=j.position, _act=j.activity)
        joined = chosen.join(j, chosen.example_case == j._case)
        # Collect (position, activity) pairs and sort them: ordered aggregation is not
        # available on every engine, sorting an array of structs is.
        pairs = ibis.struct({"p": joined._pos, "a": joined._act}).collect()
        steps = pairs.sort().map(lambda pair: pair["a"])
        named = joined.group_by([joined[c] for c in base.columns]).agg(steps=steps)
        named = named.mutate(sequence=named.steps.join(" → "))
        return named.order_by("variant")


def _glob_regex(pattern: str) -> str:
    """A glob (``*``, ``?``) as an anchored regex that DuckDB and Spark read alike."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


def _group_activity(activity: ir.StringValue, patterns: Mapping[str, str] | None) -> ir.StringValue:
    if not patterns:
        return activity
    branches = [
        (activity.re_search(_glob_regex(pattern)).fill_null(False), ibis.literal(label))
        for pattern, label in patterns.items()
    ]
    return ibis.cases(*branches, else_=activity).cast("string")


def _check_options(
    events: ir.Table,
    columns: tuple[str, ...],
    *,
    start_at: str | None,
    end_at: str | None,
    steps_before: int | None,
    steps_after: int | None,
    depth: int | None,
    session_gap: timedelta | None,
    group_by_pattern: Mapping[str, str] | None,
) -> None:
    for name in columns:
        if name not in events.columns:
            raise PathError(
                f"the events table has no column {name!r}; its columns are: "
                f"{', '.join(events.columns)}"
            )
    for label, value in (("steps_before", steps_before), ("steps_after", steps_after)):
        if value is None:
            continue
        if value < 0:
            raise PathError(f"{label}={value}: count steps from 0 up")
        if start_at is None and end_at is None:
            raise PathError(
                f"{label} counts steps around an anchor; pass start_at or end_at as well"
            )
    if depth is not None and depth < 1:
        raise PathError(f"depth={depth}: a path needs at least one position")
    if session_gap is not None and session_gap <= timedelta(0):
        raise PathError(f"session_gap={session_gap}: give a positive duration, e.g. 30 minutes")
    for pattern, label in (group_by_pattern or {}).items():
        if not pattern or not label:
            raise PathError(
                f"group_by_pattern {pattern!r}: {label!r}: write a glob and the name it "
                "becomes, e.g. {'view_*': 'browse'}"
            )


def build_path_journey(
    events: ir.Table,
    *,
    activity: str = "event",
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    start_at: str | None = None,
    end_at: str | None = None,
    steps_before: int | None = None,
    steps_after: int | None = None,
    depth: int | None = None,
    collapse_repeats: bool = False,
    session_gap: timedelta | None = None,
    group_by_pattern: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> ir.Table:
    """Every event with its case, its place in the case's path and why it is left out.

    See :class:`Paths` (``journey``) for the columns and the module docstring for the
    options. This is the expression to materialise when several outputs are wanted.
    """
    _check_options(
        events,
        (activity, actor, ts, tiebreak),
        start_at=start_at,
        end_at=end_at,
        steps_before=steps_before,
        steps_after=steps_after,
        depth=depth,
        session_gap=session_gap,
        group_by_pattern=group_by_pattern,
    )
    act = _group_activity(events[activity].cast("string"), group_by_pattern)
    included = act.notnull()
    if exclude:
        included = included & ~act.isin(list(exclude))
    t = events.select(
        events[actor],
        events[ts],
        events[tiebreak],
        activity=act,
        _t_us=epoch_micros(events[ts]),
        _incl=included.fill_null(False),
    )
    if session_gap is not None:
        gap_us = int(session_gap / timedelta(microseconds=1))
        prev_us = t._t_us.lag().over(group_by=t[actor], order_by=[t[ts], t[tiebreak]])
        t = t.mutate(_new=(prev_us.isnull() | ((t._t_us - prev_us) > gap_us)).cast("int64"))
        running = ibis.window(group_by=t[actor], order_by=[t[ts], t[tiebreak]], rows=(None, 0))
        session = t._new.sum().over(running)
        t = t.mutate(case_id=(t[actor].cast("string") + "#" + session.cast("string"))).drop("_new")
    else:
        t = t.mutate(case_id=t[actor].cast("string"))

    if collapse_repeats:
        prev_act = t.activity.lag().over(
            group_by=[t.case_id, t._incl], order_by=[t[ts], t[tiebreak]]
        )
        repeat = t._incl & (prev_act == t.activity).fill_null(False)
        t = t.mutate(_repeat=repeat, _keep=t._incl & ~repeat)
    else:
        t = t.mutate(_repeat=ibis.literal(False), _keep=t._incl)

    w = ibis.window(group_by=[t.case_id, t._keep], order_by=[t[ts], t[tiebreak]])
    # whole-case aggregates share the ordering (full frame), so the engine sorts once
    whole = ibis.window(
        group_by=[t.case_id, t._keep], order_by=[t[ts], t[tiebreak]], rows=(None, None)
    )
    t = t.mutate(
        _pos=ibis.row_number().over(w).cast("int64"),
        _n=t.count().over(whole).cast("int64"),
        _next_act=t.activity.lead().over(w),
        _next_us=t._t_us.lead().over(w),
    )

    null_pos = ibis.null("int64")
    if start_at is not None:
        s_hit = ibis.ifelse(t.activity == start_at, t._pos, null_pos)
        t = t.mutate(_s=s_hit.min().over(whole))
    if end_at is not None:
        e_cond = t.activity == end_at
        if start_at is not None:
            e_cond = e_cond & (t._pos > t._s)
        t = t.mutate(_e=ibis.ifelse(e_cond, t._pos, null_pos).min().over(whole))
    t = _cut_window(
        t,
        start_at=start_at,
        end_at=end_at,
        steps_before=steps_before,
        steps_after=steps_after,
        depth=depth,
    )
    left_out = ibis.cases(
        (t.activity.isnull(), ibis.literal("no_activity")),
        (~t._incl, ibis.literal("excluded")),
        (t._repeat, ibis.literal("repeat")),
        (~t._anchored, ibis.literal("no_anchor")),
        (~t.in_path, ibis.literal("outside_window")),
        else_=ibis.null("string"),
    )
    secs = (t._next_us - t._t_us).cast("float64") / 1_000_000
    return t.select(
        t.case_id,
        t[actor],
        t[ts],
        t[tiebreak],
        t.activity,
        t.in_path,
        position=ibis.ifelse(t.in_path, t._pos - t._lo, null_pos),
        next_activity=ibis.ifelse(t._has_next, t._next_act, ibis.null("string")),
        secs_to_next=ibis.ifelse(t._has_next, secs, ibis.null("float64")),
        path_length=ibis.ifelse(t.in_path, t._hi - t._lo + 1, null_pos),
        ends_case=t.in_path & (t._pos == t._n - 1),
        left_out=left_out,
    )


def _cut_window(
    t: ir.Table,
    *,
    start_at: str | None,
    end_at: str | None,
    steps_before: int | None,
    steps_after: int | None,
    depth: int | None,
) -> ir.Table:
    """Add ``_anchored``, ``_lo``, ``_hi`` (the kept positions), ``in_path`` and ``_has_next``."""
    last = t._n - 1
    anchored: ir.BooleanValue = ibis.literal(True)
    if start_at is not None:
        anchored = anchored & t._s.notnull()
    if end_at is not None:
        anchored = anchored & t._e.notnull()
    first_anchor = t._s if start_at is not None else (t._e if end_at is not None else None)
    last_anchor = t._e if end_at is not None else (t._s if start_at is not None else None)
    lo: ir.IntegerValue = ibis.literal(0, "int64")
    hi: ir.IntegerValue = last
    if first_anchor is not None and (start_at is not None or steps_before is not None):
        lo = first_anchor - (steps_before or 0)
    if last_anchor is not None and (end_at is not None or steps_after is not None):
        hi = last_anchor + (steps_after or 0)
    # Clip to the case first, then count the depth from the anchored side.
    lo = ibis.greatest(lo, ibis.literal(0, "int64"))
    hi = ibis.least(hi, last)
    if depth is not None:
        if start_at is None and end_at is not None:
            lo = ibis.greatest(lo, hi - (depth - 1))
        else:
            hi = ibis.least(hi, lo + (depth - 1))
    t = t.mutate(_anchored=anchored, _lo=lo, _hi=hi)
    in_path = t._keep & t._anchored & (t._pos >= t._lo) & (t._pos <= t._hi)
    t = t.mutate(in_path=in_path)
    return t.mutate(_has_next=t.in_path & (t._pos < t._hi))


def summarize_paths(
    journey: ir.Table,
    *,
    sankey_depth: int | None = 10,
    sankey_top: int = 8,
) -> Paths:
    """All path outputs from a journey built by :func:`build_path_journey`.

    ``sankey_depth`` limits the Sankey to the first positions (None: all);
    ``sankey_top`` keeps that many activities per position and gathers the rest in the
    ``other`` node (ranked by cases, ties by name).
    """
    if sankey_depth is not None and sankey_depth < 1:
        raise PathError(f"sankey_depth={sankey_depth}: show at least one position")
    if sankey_top < 1:
        raise PathError(f"sankey_top={sankey_top}: keep at least one activity per position")
    j = journey.filter(journey.in_path)
    transitions = _transitions(j)
    variants = _variants(j)
    starts = j.filter(j.position == 0)
    start_activities = starts.group_by("activity").agg(cases=starts.count().cast("int64"))
    ends = j.filter(j.next_activity.isnull())
    end_activities = ends.group_by("activity").agg(cases=ends.count().cast("int64"))
    nodes, links = _sankey(j, depth=sankey_depth, top=sankey_top)
    summary = _summary(journey, variants)
    return Paths(
        journey=journey,
        transitions=transitions,
        variants=variants,
        start_activities=start_activities,
        end_activities=end_activities,
        sankey_nodes=nodes,
        sankey_links=links,
        summary=summary,
    )


def discover_paths(
    events: ir.Table,
    *,
    activity: str = "event",
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    start_at: str | None = None,
    end_at: str | None = None,
    steps_before: int | None = None,
    steps_after: int | None = None,
    depth: int | None = None,
    collapse_repeats: bool = False,
    session_gap: timedelta | None = None,
    group_by_pattern: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    sankey_depth: int | None = 10,
    sankey_top: int = 8,
) -> Paths:
    """The directly-follows graph, variants, start/end activities and Sankey of ``events``.

    ``activity`` is the column that names what happened: ``event`` for raw events,
    ``step_id`` (or ``stage_id``) for events mapped to the journey. See the module
    docstring for the options.

    >>> import ibis
    >>> t = ibis.table({"actor_id": "string", "ts": "timestamp('UTC')",
    ...                 "event_id": "string", "event": "string"}, name="events")
    >>> discover_paths(t).transitions.columns
    ('source', 'target', 'count', 'mean_secs', 'median_secs', 'p90_secs', 'min_secs', 'max_secs')
    """
    journey = build_path_journey(
        events,
        activity=activity,
        actor=actor,
        ts=ts,
        tiebreak=tiebreak,
        start_at=start_at,
        end_at=end_at,
        steps_before=steps_before,
        steps_after=steps_after,
        depth=depth,
        collapse_repeats=collapse_repeats,
        session_gap=session_gap,
        group_by_pattern=group_by_pattern,
        exclude=exclude,
    )
    return summarize_paths(journey, sankey_depth=sankey_depth, sankey_top=sankey_top)


def _transitions(j: ir.Table) -> ir.Table:
    edges = j.filter(j.next_activity.notnull())
    secs = edges.secs_to_next
    return edges.group_by(source=edges.activity, target=edges.next_activity).agg(
        count=edges.count().cast("int64"),
        mean_secs=secs.mean(),
        median_secs=secs.median(),
        p90_secs=secs.quantile(0.9),
        min_secs=secs.min(),
        max_secs=secs.max(),
    )


def _variants(j: ir.Table) -> ir.Table:
    per_case = j.group_by("case_id").agg(
        _length=j.count().cast("int64"),
        _h1=_order_hash(1, j.position, j.activity).sum(),
        _h2=_order_hash(2, j.position, j.activity).sum(),
        _h3=_order_hash(3, j.position, j.activity).sum(),
    )
    groups = per_case.group_by(["_length", "_h1", "_h2"]).agg(
        cases=per_case.count().cast("int64"),
        example_case=per_case.case_id.min(),
        verified=per_case._h3.min() == per_case._h3.max(),
    )
    total = groups.cases.sum().over(ibis.window())
    rank = ibis.row_number().over(order_by=[groups.cases.desc(), groups.example_case])
    return groups.select(
        variant=(rank + 1).cast("int64"),
        length=groups._length,
        cases=groups.cases,
        share=groups.cases.cast("float64") / total,
        example_case=groups.example_case,
        verified=groups.verified,
    )


def _sankey(j: ir.Table, *, depth: int | None, top: int) -> tuple[ir.Table, ir.Table]:
    shown = j if depth is None else j.filter(j.position < depth)
    last_shown = None if depth is None else depth - 1
    at_end = shown.next_activity.isnull()
    per = shown.group_by(["position", "activity", "next_activity"]).agg(
        cases=shown.count().cast("int64"),
        dropped=(at_end & shown.ends_case).cast("int64").sum(),
        stopped=(at_end & ~shown.ends_case).cast("int64").sum(),
    )
    counts = per.group_by(["position", "activity"]).agg(_n=per.cases.sum())
    rank = ibis.row_number().over(
        group_by=counts.position, order_by=[counts._n.desc(), counts.activity]
    )
    labels = counts.select(
        counts.position,
        counts.activity,
        _kind=ibis.ifelse(rank < top, ibis.literal("activity"), ibis.literal(OTHER)),
    )
    labels = labels.mutate(
        _label=ibis.ifelse(labels._kind == "activity", labels.activity, ibis.literal(OTHER))
    )
    src = labels.select(
        _sp=labels.position, _sa=labels.activity, source=labels._label, source_kind=labels._kind
    )
    per = per.join(src, [per.position == src._sp, per.activity == src._sa]).drop("_sp", "_sa")
    nodes = per.group_by(["position", per.source.name("node"), per.source_kind.name("kind")]).agg(
        cases=per.cases.sum().cast("int64"),
        continued=per.cases.sum().cast("int64") - per.dropped.sum() - per.stopped.sum(),
        dropped=per.dropped.sum().cast("int64"),
        stopped=per.stopped.sum().cast("int64"),
    )
    nodes = nodes.mutate(continued=nodes.continued.cast("int64"))

    tgt = labels.select(
        _tp=labels.position, _ta=labels.activity, _tl=labels._label, _tk=labels._kind
    )
    moving = per.filter(per.next_activity.notnull())
    if last_shown is not None:
        moving = moving.filter(moving.position < last_shown)
    moving = moving.join(tgt, [moving.position + 1 == tgt._tp, moving.next_activity == tgt._ta])
    moves = moving.select(
        "position",
        "source",
        "source_kind",
        target=moving._tl,
        target_kind=moving._tk,
        cases=moving.cases,
    )
    leaving = per.filter(per.dropped > 0)
    if last_shown is not None:
        leaving = leaving.filter(leaving.position < last_shown)
    drops = leaving.select(
        "position",
        "source",
        "source_kind",
        target=ibis.literal(DROP_OFF),
        target_kind=ibis.literal(DROP_OFF),
        cases=leaving.dropped.cast("int64"),
    )
    both = ibis.union(moves, drops, distinct=False)
    links = both.group_by(["position", "source", "source_kind", "target", "target_kind"]).agg(
        cases=both.cases.sum().cast("int64")
    )
    return nodes, links


def _summary(journey: ir.Table, variants: ir.Table) -> ir.Table:
    reason = journey.left_out
    flag = dt.int64
    counts = journey.agg(
        events=journey.count().cast(flag),
        events_in_paths=journey.in_path.cast(flag).sum(),
        events_excluded=reason.isin(["no_activity", "excluded"]).fill_null(False).cast(flag).sum(),
        events_collapsed=(reason == "repeat").fill_null(False).cast(flag).sum(),
        events_outside=reason.isin(["no_anchor", "outside_window"])
        .fill_null(False)
        .cast(flag)
        .sum(),
        cases=journey.case_id.nunique().cast(flag),
        cases_in_paths=(journey.in_path & (journey.position == 0))
        .fill_null(False)
        .cast(flag)
        .sum(),
    )
    var = variants.agg(
        variants=variants.count().cast(flag),
        unverified_variants=(~variants.verified).cast(flag).sum(),
    )
    joined = counts.cross_join(var)
    return joined.select(
        *[joined[c].fill_null(0).cast(flag).name(c) for c in (*counts.columns, *var.columns)]
    )
