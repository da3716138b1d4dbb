"""Timing: how long customers spend in each stage, between two steps, and where they wait.

- :func:`measure_stage_times`: every **visit** to a stage (a run of consecutive events
  in one stage) with when it began and when the next stage began; per stage, how many
  visits and how long the completed ones took (mean, median, p90).
- :func:`measure_time_between`: per actor, from the first ``start`` to the next ``end``
  after it; how many got there and how long it took.
- :func:`find_current_stages`: as of a moment, each actor's current stage, since when,
  and for how long — "where is this customer stuck" — with a ``stuck_longer_than``
  filter.

Definitions, so that numbers can be checked by hand:

- Events are ordered by ``(ts, event_id)`` per actor. Events of the ``other`` stage
  (matched no step) and events without a stage take no part; they neither open nor
  close a visit.
- A visit **lasts** from its first event until the first event of the next stage. The
  last visit of an actor has no end: it is **open** (in progress), counted apart and
  left out of the durations, which would otherwise be cut short.
- ``as_of`` looks at the data as it was at that moment: later events are ignored and
  open visits have lasted until ``as_of`` (``secs_so_far``). Without it, the moment is
  the latest event in the data.

All durations are seconds (float64), computed from microseconds since the epoch, so
they are the same on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeymap.analytics.journey import build_journey
from journeymap.analytics.journey import micros_since_epoch as epoch_micros
from journeymap.errors import JourneyError

__all__ = [
    "CurrentStages",
    "StageTimes",
    "TimeBetween",
    "TimingError",
    "find_current_stages",
    "measure_stage_times",
    "measure_time_between",
    "summarize_stage_visits",
]

_UTC = dt.Timestamp(timezone="UTC")


class TimingError(JourneyError, ValueError):
    """Timing options that name columns the events lack, or make no sense together."""


@dataclass(frozen=True)
class StageTimes:
    """Visits to stages and their durations.

    ``visits``: the actor column, ``stage``, ``visit`` (1, 2, ... per actor, in time
    order), ``entered_at``, ``last_event_at`` (the visit's latest event), ``left_at``
    and ``next_stage`` (null while open),
    ``events``, ``secs`` (null while open), ``is_open`` and ``secs_so_far`` (for open
    visits: until ``as_of`` or the latest event; null for completed ones).

    ``stages``: ``stage``, ``visits``, ``actors``, ``completed``, ``open``, and
    ``mean_secs``, ``median_secs``, ``p90_secs`` of the completed visits.
    """

    visits: ir.Table
    stages: ir.Table

    def from_visits(self, visits: ir.Table, *, actor: str = "actor_id") -> StageTimes:
        """The same stage times summarised from ``visits`` — e.g. a materialised copy."""
        return StageTimes(visits=visits, stages=summarize_stage_visits(visits, actor=actor))


@dataclass(frozen=True)
class TimeBetween:
    """Time from the first ``start`` to the next ``end``.

    ``actors``: every actor with a ``start``: the actor column, ``started_at``,
    ``reached_at`` (null if ``end`` never followed), ``secs`` and ``waiting_secs``
    (for those not there yet: from ``started_at`` until ``as_of`` or the latest event).

    ``summary``: one row: ``started``, ``reached``, ``mean_secs``, ``median_secs``,
    ``p90_secs``, ``min_secs``, ``max_secs``.
    """

    actors: ir.Table
    summary: ir.Table


@dataclass(frozen=True)
class CurrentStages:
    """Where each actor is now and for how long.

    ``actors``: the actor column, ``stage``, ``entered_at``, ``last_event_at``,
    ``events``, ``secs_in_stage`` and ``secs_since_last_event`` (both until ``as_of``),
    ``stuck`` (longer than ``stuck_longer_than``; null without it). With
    ``stuck_longer_than`` only the stuck actors are listed.

    ``stages``: ``stage``, ``actors`` (currently there), ``stuck`` (null without a
    threshold), ``mean_secs``, ``median_secs``, ``p90_secs``, ``max_secs`` of the time
    in the stage so far.
    """

    actors: ir.Table
    stages: ir.Table


def _check_columns(events: ir.Table, columns: tuple[str, ...]) -> None:
    for name in columns:
        if name not in events.columns:
            raise TimingError(
                f"the events table has no column {name!r}; its columns are: "
                f"{', '.join(events.columns)}"
            )


def _moment(events: ir.Table, ts: str, as_of: datetime | None) -> ir.TimestampValue:
    """``as_of`` as a UTC literal (naive means UTC), or the latest event time."""
    if as_of is None:
        latest: ir.TimestampValue = events[ts].max()
        return latest
    moment = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)
    return ibis.literal(moment, type=_UTC)


def _secs(later: ir.IntegerValue, earlier: ir.IntegerValue) -> ir.FloatingValue:
    return (later - earlier).cast("float64") / 1_000_000


def measure_stage_times(
    events: ir.Table,
    *,
    stage: str = "stage_id",
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    as_of: datetime | None = None,
    other: str | None = "other",
) -> StageTimes:
    """Visits to each stage and how long they lasted (see the module docstring).

    ``events`` are mapped events (:func:`journeymap.analytics.mapping.map_events`);
    ``stage="step_id"`` gives the time in each step instead. ``other`` is the label of
    unmatched events (None: keep every value).
    """
    _check_columns(events, (stage, actor, ts, tiebreak))
    moment = _moment(events, ts, as_of)
    keep = events[stage].notnull()
    if other is not None:
        keep = keep & (events[stage] != other)
    if as_of is not None:
        keep = keep & (events[ts] <= moment)
    kept = events.filter(keep)
    mapped = kept.select(kept[actor], kept[ts], kept[tiebreak], stage=kept[stage].cast("string"))
    if as_of is None:
        # the latest event of all (unmatched ones included), as a one-row table: a scalar
        # of ``events`` used on a table derived from it would be re-bound to that table
        clock = events.agg(_now_us=epoch_micros(moment))
    else:
        clock = ibis.memtable({"_now_us": [0]}).mutate(_now_us=epoch_micros(moment))
    visits = _visits(mapped, actor=actor, ts=ts, tiebreak=tiebreak, clock=clock)
    return StageTimes(visits=visits, stages=summarize_stage_visits(visits, actor=actor))


def _visits(mapped: ir.Table, *, actor: str, ts: str, tiebreak: str, clock: ir.Table) -> ir.Table:
    """One row per visit, from one ordering and no grouping.

    The first pass links each event to its neighbours, which marks the first and last
    event of every visit; a second pass over only those rows takes each visit's start
    from the row before its last event (a running count of starts numbers the visits).
    Each visit is then its last event's row: no group-by over millions of visits.
    """
    order = [mapped[ts], mapped[tiebreak]]
    w = ibis.window(group_by=mapped[actor], order_by=order)
    t = mapped.mutate(
        _t_us=epoch_micros(mapped[ts]),
        _pos=ibis.row_number().over(w).cast("int64"),
        _prev=mapped.stage.lag().over(w),
        _next=mapped.stage.lead().over(w),
        _next_ts=mapped[ts].lead().over(w),
    )
    t = t.mutate(
        _start=(t._prev.isnull() | (t._prev != t.stage)).fill_null(True),
        _ends=(t._next.isnull() | (t._next != t.stage)).fill_null(True),
    )
    # Only a visit's first and last events matter from here on: the second pass runs
    # over those (one or two rows per visit), where the visit's start is the row before.
    b = t.filter(t._start | t._ends)
    wb = ibis.window(group_by=b[actor], order_by=[b[ts], b[tiebreak]])
    running = ibis.window(group_by=b[actor], order_by=[b[ts], b[tiebreak]], rows=(None, 0))
    t = b.mutate(
        visit=b._start.cast("int64").sum().over(running),
        _first_pos=ibis.ifelse(b._start, b._pos, b._pos.lag().over(wb)),
        entered_at=ibis.ifelse(b._start, b[ts], b[ts].lag().over(wb)),
        _entered_us=ibis.ifelse(b._start, b._t_us, b._t_us.lag().over(wb)),
    )
    last = t.filter(t._ends).cross_join(clock)
    is_open = last._next_ts.isnull()
    now_us = last._now_us
    return last.select(
        last[actor],
        last.stage,
        visit=last.visit.cast("int64"),
        entered_at=last.entered_at,
        last_event_at=last[ts],
        left_at=last._next_ts,
        next_stage=last._next,
        events=(last._pos - last._first_pos + 1).cast("int64"),
        secs=_secs(epoch_micros(last._next_ts), last._entered_us),
        is_open=is_open,
        secs_so_far=ibis.ifelse(is_open, _secs(now_us, last._entered_us), ibis.null("float64")),
    )


def summarize_stage_visits(visits: ir.Table, *, actor: str = "actor_id") -> ir.Table:
    """Per stage: visits, actors, completed and open visits, and their durations.

    ``visits`` is :attr:`StageTimes.visits` or a stored copy of it: on large logs,
    materialise the visits first, so that medians and percentiles are computed from a
    stored table rather than straight out of the window functions that found the visits.
    """
    done = visits.secs
    return visits.group_by("stage").agg(
        visits=visits.count().cast("int64"),
        actors=visits[actor].nunique().cast("int64"),
        completed=done.count().cast("int64"),
        open=visits.is_open.cast("int64").sum(),
        mean_secs=done.mean(),
        median_secs=done.median(),
        p90_secs=done.quantile(0.9),
    )


def measure_time_between(
    events: ir.Table,
    *,
    start: str,
    end: str,
    activity: str = "event",
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    as_of: datetime | None = None,
) -> TimeBetween:
    """Per actor, the time from its first ``start`` to the next ``end`` after it.

    ``activity`` names the column to match: ``event`` for raw events, ``step_id`` or
    ``stage_id`` for mapped ones. With ``start == end`` it is the time to the next
    occurrence. Equal timestamps are ordered by ``tiebreak``, so an ``end`` at the same
    instant as the ``start`` counts when it comes after it in that order (0 seconds).
    """
    _check_columns(events, (activity, actor, ts, tiebreak))
    if not start or not end:
        raise TimingError("name both ends: start and end activities, e.g. signup and purchase")
    moment = _moment(events, ts, as_of)
    act = events[activity]
    keep = act.isin([start, end])
    if as_of is not None:
        keep = keep & (events[ts] <= moment)
    kept = events.filter(keep)
    both = kept.select(kept[actor], kept[ts], kept[tiebreak], _act=kept[activity].cast("string"))
    j = build_journey(both, actor=actor, ts=ts, event="_act", tiebreak=tiebreak)
    firsts = j.filter(j._act == start)
    a = firsts.group_by(firsts[actor]).agg(_a_pos=firsts.pos.min(), started_at=firsts[ts].min())
    a_keys = a.select(_ak=a[actor], _ap=a._a_pos)
    later = j.join(a_keys, j[actor] == a_keys._ak)
    later = later.filter((later._act == end) & (later.pos > later._ap))
    b = later.group_by(_bk=later[actor]).agg(reached_at=later[ts].min())
    joined = a.left_join(b, a[actor] == b._bk)
    joined = joined.select(joined[actor], "started_at", "reached_at")
    joined = joined.mutate(
        _a_us=epoch_micros(joined.started_at), _b_us=epoch_micros(joined.reached_at)
    )
    secs = _secs(joined._b_us, joined._a_us)
    waiting = _secs(epoch_micros(moment), joined._a_us)
    actors = joined.select(
        joined[actor],
        joined.started_at,
        joined.reached_at,
        secs=secs,
        waiting_secs=ibis.ifelse(joined.reached_at.isnull(), waiting, ibis.null("float64")),
    )
    s = actors.secs
    summary = actors.agg(
        started=actors.count().cast("int64"),
        reached=s.count().cast("int64"),
        mean_secs=s.mean(),
        median_secs=s.median(),
        p90_secs=s.quantile(0.9),
        min_secs=s.min(),
        max_secs=s.max(),
    )
    return TimeBetween(actors=actors, summary=summary)


def find_current_stages(
    events: ir.Table,
    *,
    as_of: datetime | None = None,
    stuck_longer_than: timedelta | None = None,
    stage: str = "stage_id",
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    other: str | None = "other",
) -> CurrentStages:
    """Each actor's current stage as of ``as_of`` and how long it has been there.

    The current stage is the stage of the actor's latest mapped event at or before
    ``as_of`` (default: the latest event in the data); the actor entered it with the
    first event of that visit. ``stuck_longer_than`` keeps only the actors that have
    been in their stage longer than that, and counts them per stage.
    """
    if stuck_longer_than is not None and stuck_longer_than < timedelta(0):
        raise TimingError(
            f"stuck_longer_than={stuck_longer_than}: give a duration of zero or more, e.g. 7 days"
        )
    times = measure_stage_times(
        events, stage=stage, actor=actor, ts=ts, tiebreak=tiebreak, as_of=as_of, other=other
    )
    moment = _moment(events, ts, as_of)
    now_us = epoch_micros(moment)
    cur = times.visits.filter(times.visits.is_open)
    in_stage = _secs(now_us, epoch_micros(cur.entered_at))
    threshold = None if stuck_longer_than is None else stuck_longer_than.total_seconds()
    stuck = ibis.literal(None, "boolean") if threshold is None else in_stage > threshold
    actors = cur.select(
        cur[actor],
        cur.stage,
        cur.entered_at,
        cur.last_event_at,
        cur.events,
        secs_in_stage=in_stage,
        secs_since_last_event=_secs(now_us, epoch_micros(cur.last_event_at)),
        stuck=stuck,
    )
    secs = actors.secs_in_stage
    stuck_count = (
        ibis.literal(None, "int64") if threshold is None else actors.stuck.cast("int64").sum()
    )
    stages = actors.group_by("stage").agg(
        actors=actors.count().cast("int64"),
        stuck=stuck_count,
        mean_secs=secs.mean(),
        median_secs=secs.median(),
        p90_secs=secs.quantile(0.9),
        max_secs=secs.max(),
    )
    if threshold is not None:
        actors = actors.filter(actors.stuck)
    return CurrentStages(actors=actors, stages=stages)
