"""Funnels over steps or stages, as Ibis expressions that run on any engine.

A funnel follows *attempts*: a unit (a customer, a session, any key) starts an attempt
at an event of the first step and moves on through the later steps. Per step the
result says how many attempts entered it, converted (went on), dropped off, are still
in progress, the time it took to get there (median, p90, a histogram with stable
bins), and lists every attempt with its step timestamps and event ids for drill-down.

How an attempt moves on (``order``):

- ``"ordered"`` (default): step k+1 is the **first** event matching it after the
  event of step k; other events may happen in between. One event serves one step of
  an attempt, so ``A → A → B`` needs two A events.
- ``"strict"``: step k+1 must be the unit's very next event (of any kind).
- ``"any"``: the steps may happen in any order; step row k of the result counts
  attempts that did k+1 *different* steps (the first one included). An event that
  matches several steps counts for each of them.

Events are ordered by ``(ts, event_id)``: equal timestamps never depend on sort
stability, and there is no "same second" leeway.

The conversion ``window`` (``None``: no limit) is measured from the attempt's first
step (``window_from="first"``) or, per step, from the step before
(``window_from="previous"``); an event exactly ``window`` after counts. With a window
from the previous step an attempt still takes the first matching event: a later event
that would have left more room for the step after is not searched for.

Which step-1 events start attempts (``entry``):

- ``"first"``: only the unit's first one; the window starts there and later step-1
  events do not restart it (Mixpanel's uniques).
- ``"latest"``: every step-1 event is tried; the unit's attempt is the one that
  gets furthest (then covers the most steps, which matters in open funnels), then the
  one that got there soonest, then the one that started last (PostHog: a later
  step-1 event restarts the clock).
- ``"longest"``: like ``"latest"`` but ties go to the attempt that started first
  (Amplitude's "earliest-longest" path).
- ``"every"``: every step-1 event starts an attempt, so units are counted once per
  attempt; attempts that end at the same event are one attempt restarted, and only
  the latest start of them is kept, so no conversion is counted twice. (Mixpanel's
  "totals" re-enter only after the previous attempt ends; that rule is a sequential
  scan per unit and is not offered.)

Exclusions (:class:`FunnelExclusion`) name events that must not happen between two
steps; an event that matches a funnel step is never an exclusion event. With
``exclusion_effect="remove"`` an attempt that hits one is taken out of the funnel and
counted in the ``excluded`` column; with ``"drop_off"`` it ends there and counts as
dropped at the last step it reached before the excluded event.

``closed=True`` (default): attempts start at step 1. ``closed=False`` (open funnel):
an attempt may start at any step and carries on from there; ``started`` says how many
attempts began at each step.

``as_of``: events after it are ignored, and an attempt that has not converted but whose
window is still open at ``as_of`` is *in progress*, not dropped. Without ``as_of`` the
data are taken as final and every unconverted attempt is dropped.

``breakdown`` (a column or ``properties.x`` path) splits every result by its value on
the event of the step chosen by ``attribution``: ``"first"`` (the attempt's first
step), ``"last"`` (the last step it reached) or a 0-based step index. Attempts without
a value form their own group (``breakdown`` null) and ``coverage`` counts them: no
attempt is silently dropped. Events whose ``unit`` is null cannot take part; their
number is ``events_without_unit``.

The computation sorts the events once (partitioned by unit, ordered by time and
event id); each step is then a hash join on a running count, never a re-sort.
Summaries and percentiles are computed from the attempts table: for large data,
materialise ``funnel.attempts`` and call :meth:`Funnel.from_attempts` on the stored
table, so no percentile is fed straight from a window function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeymap.analytics.journey import micros_since_epoch
from journeymap.analytics.mapping import compile_rule, resolve_field
from journeymap.errors import JourneyError
from journeymap.model.rules import EventRule

__all__ = [
    "DEFAULT_TIME_BINS",
    "Funnel",
    "FunnelError",
    "FunnelExclusion",
    "FunnelOptions",
    "FunnelStep",
    "compute_funnel",
    "summarize_attempts",
]

Order: TypeAlias = Literal["ordered", "strict", "any"]
WindowFrom: TypeAlias = Literal["first", "previous"]
Entry: TypeAlias = Literal["first", "latest", "longest", "every"]
ExclusionEffect: TypeAlias = Literal["remove", "drop_off"]
Attribution: TypeAlias = Literal["first", "last"] | int
Level: TypeAlias = Literal["step", "stage"]

ORDERS: tuple[str, ...] = ("ordered", "strict", "any")
WINDOW_FROMS: tuple[str, ...] = ("first", "previous")
ENTRIES: tuple[str, ...] = ("first", "latest", "longest", "every")
EFFECTS: tuple[str, ...] = ("remove", "drop_off")

_MINUTE = 60.0
_HOUR = 3600.0
_DAY = 86400.0
DEFAULT_TIME_BINS: tuple[float, ...] = (
    0.0,
    _MINUTE,
    5 * _MINUTE,
    15 * _MINUTE,
    _HOUR,
    3 * _HOUR,
    6 * _HOUR,
    12 * _HOUR,
    _DAY,
    2 * _DAY,
    3 * _DAY,
    7 * _DAY,
    14 * _DAY,
    30 * _DAY,
    90 * _DAY,
)
"""Lower edges (seconds) of the time-to-convert bins; the last bin is open-ended.

The same edges for every funnel, step and segment, so histograms line up when compared.
"""

STATUSES = ("converted", "dropped", "in_progress", "excluded")


class FunnelError(JourneyError, ValueError):
    """Funnel options that contradict each other or do not fit the events."""


StepLike: TypeAlias = "str | EventRule | FunnelStep | Mapping[str, Any]"


@dataclass(frozen=True)
class FunnelStep:
    """One funnel step: a label and the events that count as it.

    ``rule`` is an event rule (``{"match": {"event": "signup"}}``); without one, the
    label is a step id (or stage id) of a mapped events table.
    """

    label: str
    rule: EventRule | None = None


@dataclass(frozen=True)
class FunnelExclusion:
    """Events that must not happen between step ``from_step`` and ``to_step`` (0-based).

    ``to_step=None`` means the last step. ``step`` is given like a funnel step (a
    step id of mapped events, an event rule, or a :class:`FunnelStep`). In an
    ``order="any"`` funnel an exclusion covers the whole attempt.
    """

    step: str | EventRule | FunnelStep | Mapping[str, Any]
    from_step: int = 0
    to_step: int | None = None


@dataclass(frozen=True)
class FunnelOptions:
    """Every option of :func:`compute_funnel`, validated (see the module docstring)."""

    order: Order = "ordered"
    window: timedelta | None = None
    window_from: WindowFrom = "first"
    entry: Entry = "first"
    exclusions: tuple[FunnelExclusion, ...] = ()
    exclusion_effect: ExclusionEffect = "remove"
    closed: bool = True
    unit: str = "actor_id"
    breakdown: str | None = None
    attribution: Attribution = "first"
    as_of: datetime | None = None
    level: Level = "step"
    bins: tuple[float, ...] = DEFAULT_TIME_BINS

    def check(self, n_steps: int) -> None:
        """Raise :class:`FunnelError` when the options cannot work together."""
        _one_of("order", self.order, ORDERS)
        _one_of("window_from", self.window_from, WINDOW_FROMS)
        _one_of("entry", self.entry, ENTRIES)
        _one_of("exclusion_effect", self.exclusion_effect, EFFECTS)
        _one_of("level", self.level, ("step", "stage"))
        if n_steps < 1:
            raise FunnelError("a funnel needs at least one step; give step ids or event rules")
        if self.window is not None and self.window <= timedelta(0):
            raise FunnelError(
                f"window {self.window} is not positive; give a duration such as 7 days, "
                "or no window"
            )
        if self.order == "any" and self.window_from == "previous":
            raise FunnelError(
                "order='any' has no previous step to measure the window from; "
                "use window_from='first'"
            )
        if isinstance(self.attribution, bool) or (
            isinstance(self.attribution, int) and not 0 <= self.attribution < n_steps
        ):
            raise FunnelError(
                f"attribution step {self.attribution!r} is not a step of this funnel; "
                f"give 'first', 'last' or a step index from 0 to {n_steps - 1}"
            )
        if isinstance(self.attribution, str):
            _one_of("attribution", self.attribution, ("first", "last"))
        if list(self.bins) != sorted(set(self.bins)) or not self.bins or self.bins[0] != 0:
            raise FunnelError(
                "bins must be increasing lower edges in seconds starting at 0, e.g. (0, 60, 3600)"
            )
        for i, ex in enumerate(self.exclusions):
            to_step = n_steps - 1 if ex.to_step is None else ex.to_step
            if self.order == "any" and (ex.from_step, ex.to_step) not in ((0, None),):
                raise FunnelError(
                    f"exclusion {i + 1}: in an order='any' funnel an exclusion covers the "
                    "whole attempt; leave from_step and to_step unset"
                )
            if not 0 <= ex.from_step < to_step < n_steps:
                raise FunnelError(
                    f"exclusion {i + 1}: from_step {ex.from_step} and to_step {to_step} must "
                    f"satisfy 0 <= from_step < to_step <= {n_steps - 1}"
                )


def _one_of(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise FunnelError(f"{name} {value!r} is not one of: {', '.join(allowed)}")


@dataclass(frozen=True)
class Funnel:
    """A computed funnel: Ibis tables, ready to execute on the engine that holds the events.

    - ``summary``: one row per step (and breakdown value): ``step_index``, ``step``,
      [``breakdown``], ``entered``, ``started``, ``converted``, ``dropped``,
      ``in_progress``, ``excluded``, ``conversion`` (entered / entered at step 0),
      ``step_conversion`` (entered / entered at the step before), ``drop_off``
      (dropped / entered), ``median_secs``, ``p90_secs``, ``mean_secs`` (time from
      the step before; exact percentiles with linear interpolation).
      ``entered = converted + dropped + in_progress`` on every row.
    - ``attempts``: one row per attempt: the unit, ``attempt`` (1-based per unit),
      [``breakdown``], ``start_step``, ``last_step``, ``steps_reached``, ``status``
      (converted, dropped, in_progress, excluded), ``excluded_by``, ``started_at``,
      ``ended_at``, ``total_secs``, and per step k ``step_k_ts``,
      ``step_k_event_id``, ``secs_k`` (time from row k-1 to row k).
    - ``histogram``: ``step_index``, ``step``, [``breakdown``], ``bin``,
      ``lower_secs``, ``upper_secs`` (null: open-ended), ``attempts``; every bin is
      listed, empty ones with 0.
    - ``coverage``: with a breakdown, one row: ``attempts``, ``with_value``,
      ``without_value``; ``None`` without a breakdown.
    - ``events_without_unit``: how many events had no unit and could not take part.
    """

    summary: ir.Table
    attempts: ir.Table
    histogram: ir.Table
    coverage: ir.Table | None
    steps: tuple[str, ...]
    options: FunnelOptions
    events_without_unit: ir.IntegerScalar

    def from_attempts(self, attempts: ir.Table) -> Funnel:
        """The same funnel summarised from ``attempts`` — e.g. a materialised copy."""
        summary, histogram, coverage = summarize_attempts(
            attempts, steps=self.steps, options=self.options
        )
        return replace(
            self, attempts=attempts, summary=summary, histogram=histogram, coverage=coverage
        )


def compute_funnel(
    events: ir.Table,
    steps: Sequence[StepLike],
    *,
    order: Order = "ordered",
    window: timedelta | None = None,
    window_from: WindowFrom = "first",
    entry: Entry = "first",
    exclusions: Sequence[FunnelExclusion] = (),
    exclusion_effect: ExclusionEffect = "remove",
    closed: bool = True,
    unit: str = "actor_id",
    breakdown: str | None = None,
    attribution: Attribution = "first",
    as_of: datetime | None = None,
    level: Level = "step",
    bins: Sequence[float] = DEFAULT_TIME_BINS,
) -> Funnel:
    """Build the funnel of ``events`` through ``steps`` (see the module docstring).

    ``events`` has the event contract's ``ts`` and ``event_id`` columns and the
    ``unit`` column. Steps are step ids (or, with ``level="stage"``, stage ids) of
    events mapped by :func:`journeymap.analytics.mapping.map_events`, event rules
    (:class:`~journeymap.model.rules.EventRule` or the same as a dict), or
    :class:`FunnelStep` s. Nothing is executed: the result holds expressions.
    """
    options = FunnelOptions(
        order=order,
        window=window,
        window_from=window_from,
        entry=entry,
        exclusions=tuple(exclusions),
        exclusion_effect=exclusion_effect,
        closed=closed,
        unit=unit,
        breakdown=breakdown,
        attribution=attribution,
        as_of=as_of,
        level=level,
        bins=tuple(float(b) for b in bins),
    )
    options.check(len(steps))
    return _Builder(events, steps, options).build()


# --- building --------------------------------------------------------------------


def _window_us(window: timedelta | None) -> int | None:
    if window is None:
        return None
    return window.days * 86_400_000_000 + window.seconds * 1_000_000 + window.microseconds


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _any(preds: Sequence[ir.BooleanValue]) -> ir.BooleanValue:
    out: ir.BooleanValue = ibis.literal(False)
    for p in preds:
        out = out | p
    return out


@dataclass
class _Builder:
    events: ir.Table
    raw_steps: Sequence[StepLike]
    options: FunnelOptions
    labels: tuple[str, ...] = field(init=False, default=())

    # -- inputs --------------------------------------------------------------

    def build(self) -> Funnel:
        o = self.options
        for col in ("ts", "event_id"):
            if col not in self.events.columns:
                raise FunnelError(
                    f"the events table has no '{col}' column; columns are: "
                    f"{', '.join(self.events.columns)}"
                )
        if o.unit not in self.events.columns:
            raise FunnelError(
                f"unit '{o.unit}' is not a column of the events table; columns are: "
                f"{', '.join(self.events.columns)}; pass unit=COLUMN"
            )
        labels, preds = self._steps(self.raw_steps)
        self.labels = tuple(labels)
        ex_preds = [self._steps([ex.step])[1][0] for ex in o.exclusions]
        base, without_unit = self._base(preds, ex_preds)
        chains = self._any_chains(base) if o.order == "any" else self._ordered_chains(base)
        attempts = self._attempts(chains)
        summary, histogram, coverage = summarize_attempts(attempts, steps=self.labels, options=o)
        return Funnel(
            summary=summary,
            attempts=attempts,
            histogram=histogram,
            coverage=coverage,
            steps=self.labels,
            options=o,
            events_without_unit=without_unit,
        )

    def _steps(self, raw: Sequence[StepLike]) -> tuple[list[str], list[ir.BooleanValue]]:
        labels: list[str] = []
        preds: list[ir.BooleanValue] = []
        column = "step_id" if self.options.level == "step" else "stage_id"
        for i, step in enumerate(raw):
            if isinstance(step, Mapping):
                step = EventRule.model_validate(dict(step))
            if isinstance(step, EventRule):
                step = FunnelStep(label=f"step {i + 1}", rule=step)
            if isinstance(step, str):
                step = FunnelStep(label=step)
            if not isinstance(step, FunnelStep):
                raise FunnelError(
                    f"step {i + 1}: {step!r} is not a step id, an event rule or a FunnelStep"
                )
            if step.rule is not None:
                preds.append(compile_rule(step.rule, self.events))
            else:
                if column not in self.events.columns:
                    raise FunnelError(
                        f"step '{step.label}' is a {self.options.level} id, but the events "
                        f"have no '{column}' column; map them first with "
                        "journeymap.analytics.mapping.map_events(events, journey_map), "
                        "or give event rules"
                    )
                preds.append((self.events[column] == step.label).fill_null(False))
            labels.append(step.label)
        return labels, preds

    def _base(
        self, preds: list[ir.BooleanValue], ex_preds: list[ir.BooleanValue]
    ) -> tuple[ir.Table, ir.IntegerScalar]:
        """The events the funnel reads, sorted once: flags, running counts, positions."""
        o = self.options
        ev = self.events
        n = len(preds)
        cols: dict[str, ir.Value] = {
            "_u": ev[o.unit],
            "_ts": ev.ts,
            "_t": micros_since_epoch(ev.ts),
            "_id": ev.event_id.cast("string"),
            "_bd": (
                resolve_field(o.breakdown, ev).cast("string")
                if o.breakdown is not None
                else ibis.null("string")
            ),
        }
        step_any = _any(preds)
        for j, p in enumerate(preds):
            cols[f"_m{j}"] = p.fill_null(False)
        for e, p in enumerate(ex_preds):
            # An event that is one of the funnel's steps is never an exclusion event.
            cols[f"_x{e}"] = p.fill_null(False) & ~step_any.fill_null(False)
        table = ev.select(**cols)
        if o.as_of is not None:
            limit = ibis.literal(_utc(o.as_of), type=dt.Timestamp(timezone="UTC"))
            table = table.filter(table._ts <= limit)
        without_unit = table.filter(table._u.isnull()).count()
        table = table.filter(table._u.notnull())
        if o.order != "strict":
            # Only events that are steps or exclusions matter; strict funnels need every
            # event, because any other event in between breaks the chain.
            relevant = [table[f"_m{j}"] for j in range(n)]
            relevant += [table[f"_x{e}"] for e in range(len(ex_preds))]
            table = table.filter(_any(relevant))
        # Running counts use the RANGE frame: (ts, event_id) is unique within a unit, so
        # it equals the ROWS frame, and DuckDB computes it as a streaming running sum.
        run = ibis.window(group_by=table._u, order_by=[table._t, table._id], range=(None, 0))
        # The position is a running count too, so every window shares one frame and
        # the engine makes one pass over one sort.
        counts: dict[str, ir.Value] = {"_pos": (table._u.count().over(run) - 1).cast("int64")}
        for j in range(n):
            counts[f"_c{j}"] = table[f"_m{j}"].cast("int64").sum().over(run)
        for e in range(len(ex_preds)):
            counts[f"_cx{e}"] = table[f"_x{e}"].cast("int64").sum().over(run)
        if not o.closed:
            is_step = _any([table[f"_m{j}"] for j in range(n)])
            counts["_cany"] = is_step.cast("int64").sum().over(run)
        return table.mutate(**counts), without_unit

    # -- candidate starts -------------------------------------------------------

    def _starts(self, base: ir.Table) -> ir.Table:
        o = self.options
        n = len(self.labels)
        if o.closed:
            starts = base.filter(base._m0)
            start_step: ir.IntegerValue = ibis.literal(0, "int64")
            first = starts._c0 == 1
        else:
            is_step = _any([base[f"_m{j}"] for j in range(n)])
            starts = base.filter(is_step)
            start_step = ibis.cases(
                *[(starts[f"_m{j}"], ibis.literal(j, "int64")) for j in range(n)],
                else_=ibis.literal(-1, "int64"),
            )
            first = starts._cany == 1
        if o.entry == "first":
            starts = starts.filter(first)
        return starts.mutate(_start=start_step)

    # -- ordered and strict chains ----------------------------------------------

    def _lookup(self, base: ir.Table, j: int, tag: str, extra: Sequence[str]) -> ir.Table:
        """Rows of step ``j`` keyed by (unit, running count of step ``j``)."""
        rows = base.filter(base[f"_m{j}"])
        cols = {
            f"{tag}u": rows._u,
            f"{tag}key": rows[f"_c{j}"],
            f"{tag}pos": rows._pos,
            f"{tag}t": rows._t,
            f"{tag}ts": rows._ts,
            f"{tag}id": rows._id,
            f"{tag}bd": rows._bd,
        }
        for name in extra:
            cols[f"{tag}{name}"] = rows[name]
        return rows.select(**cols)

    def _ordered_chains(self, base: ir.Table) -> ir.Table:
        o = self.options
        n = len(self.labels)
        w_us = _window_us(o.window)
        starts = self._starts(base)
        # Step k's columns: _p{k} position, _t{k} micros, _ts{k}, _i{k} id, _b{k}
        # breakdown value, _n{k} running count of step k+1 at that event, _xc{k}_{e}
        # running count of exclusion e there.
        # exclusion e needs the running count of its events at its from-step only
        ex_at = {k: [e for e, ex in enumerate(o.exclusions) if ex.from_step == k] for k in range(n)}
        cols: dict[str, ir.Value] = {
            "_u": starts._u,
            "_start": starts._start,
            "_s_pos": starts._pos,
            "_s_t": starts._t,
            "_s_bd": starts._bd,
        }
        # A closed funnel starts every attempt at step 0; an open one at its _start.
        first_steps = range(1) if o.closed else range(n)
        for k in first_steps:
            here = starts._start == k

            def own(value: ir.Value, *, here: ir.BooleanValue = here) -> ir.Value:
                return value if o.closed else ibis.ifelse(here, value, ibis.null(value.type()))

            cols[f"_p{k}"] = own(starts._pos)
            cols[f"_t{k}"] = own(starts._t)
            cols[f"_ts{k}"] = own(starts._ts)
            cols[f"_i{k}"] = own(starts._id)
            cols[f"_b{k}"] = own(starts._bd)
            if k + 1 < n:
                cols[f"_n{k}"] = own(starts[f"_c{k + 1}"])
            for e in ex_at[k]:
                cols[f"_xc{k}_{e}"] = own(starts[f"_cx{e}"])
        chains = starts.select(**cols)
        for k in range(n - 1):
            tag = f"_L{k + 1}_"
            extra = ([f"_c{k + 2}"] if k + 2 < n else []) + [f"_cx{e}" for e in ex_at[k + 1]]
            look = self._lookup(base, k + 1, tag, extra)
            joined = chains.left_join(
                look,
                [chains._u == look[f"{tag}u"], (chains[f"_n{k}"] + 1) == look[f"{tag}key"]],
            )
            found = joined[f"{tag}pos"].notnull()
            if w_us is not None:
                origin = joined._s_t if o.window_from == "first" else joined[f"_t{k}"]
                found = found & ((joined[f"{tag}t"] - origin) <= w_us)
            if o.order == "strict":
                found = found & (joined[f"{tag}pos"] == joined[f"_p{k}"] + 1)
            keep = [c for c in chains.columns if c not in _step_cols(k + 1, n, o.exclusions)]
            new: dict[str, ir.Value] = {c: joined[c] for c in keep}

            def pick(
                own: str,
                looked: str,
                *,
                j: ir.Table = joined,
                f: ir.BooleanValue = found,
                step: int = k + 1,
            ) -> ir.Value:
                # the attempt started at this step, found it by lookup, or stops here
                value = j[looked]
                if o.closed:
                    return ibis.ifelse(f, value, ibis.null(value.type()))
                return ibis.cases(
                    (j._start == step, j[own]),
                    (f, value),
                    else_=ibis.null(value.type()),
                )

            for name, src in (
                ("_p", "pos"),
                ("_t", "t"),
                ("_ts", "ts"),
                ("_i", "id"),
                ("_b", "bd"),
            ):
                new[f"{name}{k + 1}"] = pick(f"{name}{k + 1}", f"{tag}{src}")
            if k + 2 < n:
                new[f"_n{k + 1}"] = pick(f"_n{k + 1}", f"{tag}_c{k + 2}")
            for e in ex_at[k + 1]:
                new[f"_xc{k + 1}_{e}"] = pick(f"_xc{k + 1}_{e}", f"{tag}_cx{e}")
            chains = joined.select(**new).view()
        return self._ordered_exclusions(chains, base)

    def _ordered_exclusions(self, chains: ir.Table, base: ir.Table) -> ir.Table:
        o = self.options
        n = len(self.labels)
        w_us = _window_us(o.window)
        for e, ex in enumerate(o.exclusions):
            f = ex.from_step
            to = n - 1 if ex.to_step is None else ex.to_step
            tag = f"_X{e}_"
            rows = base.filter(base[f"_x{e}"])
            look = rows.select(
                **{
                    f"{tag}u": rows._u,
                    f"{tag}key": rows[f"_cx{e}"],
                    f"{tag}pos": rows._pos,
                    f"{tag}t": rows._t,
                }
            )
            joined = chains.left_join(
                look,
                [chains._u == look[f"{tag}u"], (chains[f"_xc{f}_{e}"] + 1) == look[f"{tag}key"]],
            )
            q_pos = joined[f"{tag}pos"]
            q_t = joined[f"{tag}t"]
            reached_to = joined[f"_p{to}"].notnull()
            last_pos = ibis.coalesce(*[joined[f"_p{k}"] for k in reversed(range(n))])
            if w_us is None:
                in_window: ir.BooleanValue = ibis.literal(True)
            elif o.window_from == "first":
                in_window = (q_t - joined._s_t) <= w_us
            else:
                # the last step reached before the excluded event opened its window
                before = ibis.cases(
                    *[
                        (joined[f"_p{k}"].notnull() & (joined[f"_p{k}"] < q_pos), joined[f"_t{k}"])
                        for k in reversed(range(n))
                    ],
                    else_=ibis.null("int64"),
                )
                in_window = (q_t - before) <= w_us
            if o.order == "strict":
                inside = ~reached_to & (q_pos == last_pos + 1) & in_window
            else:
                inside = ibis.ifelse(reached_to, q_pos < joined[f"_p{to}"], in_window)
            hit = q_pos.notnull() & joined[f"_p{f}"].notnull() & inside.fill_null(False)
            chains = joined.select(
                *chains.columns,
                **{f"_hit{e}": hit, f"_qpos{e}": ibis.ifelse(hit, q_pos, ibis.null("int64"))},
            ).view()
        return self._apply_exclusions(chains)

    def _apply_exclusions(self, chains: ir.Table) -> ir.Table:
        """Remove or cut attempts that hit an exclusion; add _excluded_by and _cut."""
        o = self.options
        n = len(self.labels)
        n_ex = len(o.exclusions)
        if not n_ex:
            return chains.mutate(_excluded_by=ibis.null("string"), _removed=ibis.literal(False))
        first_hit = ibis.cases(
            *[(chains[f"_hit{e}"], ibis.literal(_exclusion_label(self, e))) for e in range(n_ex)],
            else_=ibis.null("string"),
        )
        cut: ir.IntegerValue = chains._qpos0
        for e in range(1, n_ex):
            other = chains[f"_qpos{e}"]
            cut = ibis.cases(
                (cut.isnull(), other),
                (other.isnull(), cut),
                else_=ibis.least(cut, other),
            )
        chains = chains.mutate(_excluded_by=first_hit, _cut=cut)
        if o.exclusion_effect == "remove":
            return chains.mutate(_removed=chains._excluded_by.notnull())
        # drop_off: steps at or after the excluded event no longer count
        cuts: dict[str, ir.Value] = {}
        if o.order == "any":
            for j in range(n):
                gone = chains._cut.notnull() & (chains[f"_p{j}"] > chains._cut)
                for name in ("_p", "_t", "_ts", "_i", "_b"):
                    col = chains[f"{name}{j}"]
                    cuts[f"{name}{j}"] = ibis.ifelse(gone, ibis.null(col.type()), col)
        else:
            for k in range(n):
                gone = chains._cut.notnull() & (chains[f"_p{k}"] > chains._cut)
                for name in ("_p", "_t", "_ts", "_i", "_b"):
                    col = chains[f"{name}{k}"]
                    cuts[f"{name}{k}"] = ibis.ifelse(gone, ibis.null(col.type()), col)
        return chains.mutate(**cuts, _removed=ibis.literal(False))

    # -- any-order chains ------------------------------------------------------

    def _any_chains(self, base: ir.Table) -> ir.Table:
        o = self.options
        n = len(self.labels)
        w_us = _window_us(o.window)
        starts = self._starts(base)
        n_ex = len(o.exclusions)
        chains = starts.select(
            _u=starts._u,
            _start=starts._start,
            _s_pos=starts._pos,
            _s_t=starts._t,
            _s_bd=starts._bd,
            **{f"_k{j}": starts[f"_c{j}"] - starts[f"_m{j}"].cast("int64") + 1 for j in range(n)},
            **{f"_sx{e}": starts[f"_cx{e}"] for e in range(n_ex)},
        )
        for j in range(n):
            tag = f"_L{j}_"
            look = self._lookup(base, j, tag, [])
            joined = chains.left_join(
                look, [chains._u == look[f"{tag}u"], chains[f"_k{j}"] == look[f"{tag}key"]]
            )
            found = joined[f"{tag}pos"].notnull()
            if w_us is not None:
                found = found & ((joined[f"{tag}t"] - joined._s_t) <= w_us)
            new = {c: joined[c] for c in chains.columns}
            for name, src, typ in (
                ("_p", "pos", "int64"),
                ("_t", "t", "int64"),
                ("_ts", "ts", joined[f"{tag}ts"].type()),
                ("_i", "id", "string"),
                ("_b", "bd", "string"),
            ):
                new[f"{name}{j}"] = ibis.ifelse(found, joined[f"{tag}{src}"], ibis.null(typ))
            chains = joined.select(**new).view()
        for e in range(n_ex):
            tag = f"_X{e}_"
            rows = base.filter(base[f"_x{e}"])
            look = rows.select(
                **{
                    f"{tag}u": rows._u,
                    f"{tag}key": rows[f"_cx{e}"],
                    f"{tag}pos": rows._pos,
                    f"{tag}t": rows._t,
                }
            )
            joined = chains.left_join(
                look, [chains._u == look[f"{tag}u"], (chains[f"_sx{e}"] + 1) == look[f"{tag}key"]]
            )
            q_pos = joined[f"{tag}pos"]
            complete = _all_notnull([joined[f"_p{j}"] for j in range(n)])
            last_pos = ibis.greatest(*[joined[f"_p{j}"].fill_null(-1) for j in range(n)])
            in_window = (
                ibis.literal(True) if w_us is None else (joined[f"{tag}t"] - joined._s_t) <= w_us
            )
            inside = ibis.ifelse(complete, q_pos < last_pos, in_window)
            hit = q_pos.notnull() & inside.fill_null(False)
            chains = joined.select(
                *chains.columns,
                **{f"_hit{e}": hit, f"_qpos{e}": ibis.ifelse(hit, q_pos, ibis.null("int64"))},
            ).view()
        return self._apply_exclusions(chains)

    # -- attempts ----------------------------------------------------------------

    def _attempts(self, chains: ir.Table) -> ir.Table:
        o = self.options
        n = len(self.labels)
        w_us = _window_us(o.window)
        reached = [chains[f"_p{k}"].notnull() for k in range(n)]
        if o.order == "any":
            depth = sum((r.cast("int64") for r in reached), ibis.literal(0, "int64"))
            last_idx = depth - 1
            far_pos = ibis.greatest(*[chains[f"_p{j}"].fill_null(-1) for j in range(n)])
            far_t = ibis.greatest(*[chains[f"_t{j}"].fill_null(-1) for j in range(n)])
            converted = depth == n
        else:
            last_idx = ibis.cases(
                *[(reached[k], ibis.literal(k, "int64")) for k in reversed(range(n))],
                else_=ibis.literal(-1, "int64"),
            )
            depth = last_idx - chains._start + 1
            far_pos = ibis.coalesce(*[chains[f"_p{k}"] for k in reversed(range(n))])
            far_t = ibis.coalesce(*[chains[f"_t{k}"] for k in reversed(range(n))])
            converted = reached[n - 1]
        chains = chains.mutate(
            _last=last_idx, _depth=depth, _far_pos=far_pos, _far_t=far_t, _conv=converted
        )
        # choose attempts
        if o.entry in ("latest", "longest"):
            if o.entry == "latest":
                order_by = [
                    ibis.desc(chains._last),
                    ibis.desc(chains._depth),
                    chains._far_pos,
                    ibis.desc(chains._s_pos),
                ]
            else:
                order_by = [ibis.desc(chains._last), ibis.desc(chains._depth), chains._s_pos]
            rank = ibis.row_number().over(ibis.window(group_by=chains._u, order_by=order_by))
            chains = chains.filter(rank == 0)
        elif o.entry == "every":
            rank = ibis.row_number().over(
                ibis.window(
                    group_by=[chains._u, chains._far_pos], order_by=ibis.desc(chains._s_pos)
                )
            )
            chains = chains.filter(rank == 0)
        if o.entry == "every":
            attempt_no: ir.IntegerValue = (
                ibis.row_number().over(ibis.window(group_by=chains._u, order_by=chains._s_pos)) + 1
            )
        else:
            attempt_no = ibis.literal(1, "int64")  # one attempt per unit: no sort needed
        # status
        if o.as_of is None:
            open_: ir.BooleanValue = ibis.literal(False)
        else:
            as_of_us = (_utc(o.as_of) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
                microseconds=1
            )
            if w_us is None:
                open_ = ibis.literal(True)
            elif o.window_from == "first":
                open_ = ibis.literal(as_of_us) < chains._s_t + w_us
            else:
                open_ = ibis.literal(as_of_us) < chains._far_t + w_us
            if o.exclusions and o.exclusion_effect == "drop_off":
                open_ = open_ & chains._excluded_by.isnull()
        status = ibis.cases(
            (chains._removed, ibis.literal("excluded")),
            (chains._conv, ibis.literal("converted")),
            (open_, ibis.literal("in_progress")),
            else_=ibis.literal("dropped"),
        )
        # breakdown attribution
        if o.attribution == "first":
            bd: ir.Value = chains._s_bd
        elif o.attribution == "last":
            if o.order == "any":
                bd = ibis.cases(
                    *[(chains[f"_p{j}"] == chains._far_pos, chains[f"_b{j}"]) for j in range(n)],
                    else_=ibis.null("string"),
                )
            else:
                bd = ibis.coalesce(*[chains[f"_b{k}"] for k in reversed(range(n))])
        else:
            bd = chains[f"_b{int(o.attribution)}"]
        # times between funnel rows
        secs: dict[str, ir.Value] = {}
        if o.order == "any":
            level_t = _order_stats([chains[f"_t{j}"] for j in range(n)])
            for k in range(1, n):
                secs[f"secs_{k}"] = (level_t[k] - level_t[k - 1]).cast("float64") / 1e6
        else:
            for k in range(1, n):
                secs[f"secs_{k}"] = (chains[f"_t{k}"] - chains[f"_t{k - 1}"]).cast("float64") / 1e6
        out: dict[str, ir.Value] = {
            o.unit: chains._u,
            "attempt": attempt_no.cast("int64"),
        }
        if o.breakdown is not None:
            out["breakdown"] = bd
        out.update(
            start_step=chains._start,
            last_step=chains._last,
            steps_reached=chains._depth,
            status=status,
            excluded_by=chains._excluded_by,
        )
        start_ts = ibis.cases(
            *[(chains._start == k, chains[f"_ts{k}"]) for k in range(n)],
            else_=ibis.null(chains._ts0.type()),
        )
        if o.order == "any":
            end_ts = ibis.cases(
                *[(chains[f"_p{j}"] == chains._far_pos, chains[f"_ts{j}"]) for j in range(n)],
                else_=ibis.null(chains._ts0.type()),
            )
            start_ts = ibis.cases(
                *[(chains[f"_p{j}"] == chains._s_pos, chains[f"_ts{j}"]) for j in range(n)],
                else_=ibis.null(chains._ts0.type()),
            )
        else:
            end_ts = ibis.coalesce(*[chains[f"_ts{k}"] for k in reversed(range(n))])
        out.update(
            started_at=start_ts,
            ended_at=end_ts,
            total_secs=(chains._far_t - chains._s_t).cast("float64") / 1e6,
        )
        for k in range(n):
            out[f"step_{k}_ts"] = chains[f"_ts{k}"]
            out[f"step_{k}_event_id"] = chains[f"_i{k}"]
        out.update(secs)
        return chains.select(**out)


def _step_cols(k: int, n: int, exclusions: Sequence[FunnelExclusion]) -> set[str]:
    names = {f"_p{k}", f"_t{k}", f"_ts{k}", f"_i{k}", f"_b{k}", f"_n{k}"}
    names |= {f"_xc{k}_{e}" for e, ex in enumerate(exclusions) if ex.from_step == k}
    return names


def _exclusion_label(builder: _Builder, e: int) -> str:
    step = builder.options.exclusions[e].step
    if isinstance(step, str):
        return step
    if isinstance(step, FunnelStep):
        return step.label
    return f"exclusion {e + 1}"


def _all_notnull(values: Sequence[ir.Value]) -> ir.BooleanValue:
    out: ir.BooleanValue = ibis.literal(True)
    for v in values:
        out = out & v.notnull()
    return out


def _order_stats(values: Sequence[ir.IntegerValue]) -> list[ir.IntegerValue]:
    """The k-th smallest non-null value of each row, for k = 0..len-1 (null when absent)."""
    n = len(values)
    ranks = []
    for i, v in enumerate(values):
        before = [
            (values[j].notnull() & ((values[j] < v) | ((values[j] == v) & (j < i)))).cast("int64")
            for j in range(n)
            if j != i
        ]
        ranks.append(sum(before, ibis.literal(0, "int64")))
    out = []
    for k in range(n):
        out.append(
            ibis.cases(
                *[(values[i].notnull() & (ranks[i] == k), values[i]) for i in range(n)],
                else_=ibis.null("int64"),
            )
        )
    return out


# --- summaries --------------------------------------------------------------------


def summarize_attempts(
    attempts: ir.Table, *, steps: Sequence[str], options: FunnelOptions
) -> tuple[ir.Table, ir.Table, ir.Table | None]:
    """The per-step summary, the time histogram and the breakdown coverage of attempts.

    ``attempts`` is :attr:`Funnel.attempts` or a stored copy of it (materialising the
    attempts first keeps percentiles away from the window functions that built them).
    """
    o = options
    n = len(steps)
    a = attempts
    kept = a.status != "excluded"
    reached = [
        (a.steps_reached > k) if o.order == "any" else a[f"step_{k}_ts"].notnull() for k in range(n)
    ]
    labels = [f"{k + 1} of {n}" for k in range(n)] if o.order == "any" else list(steps)

    def count(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.cast("int64").sum().fill_null(0)

    aggs: dict[str, ir.Value] = {}
    for k in range(n):
        here = kept & reached[k]
        nxt = reached[k + 1] if k + 1 < n else ibis.literal(True)
        ends = a.last_step == k
        aggs[f"entered_{k}"] = count(here)
        starts_here = (a.start_step == k) if o.order != "any" else ibis.literal(k == 0)
        aggs[f"started_{k}"] = count(kept & starts_here)
        aggs[f"converted_{k}"] = count(here & nxt)
        aggs[f"dropped_{k}"] = count(here & ends & (a.status == "dropped"))
        aggs[f"in_progress_{k}"] = count(here & ends & (a.status == "in_progress"))
        aggs[f"excluded_{k}"] = count(~kept & reached[k])
        if k > 0:
            secs = ibis.ifelse(here, a[f"secs_{k}"], ibis.null("float64"))
            aggs[f"median_{k}"] = secs.median()
            aggs[f"p90_{k}"] = secs.quantile(0.9)
            aggs[f"mean_{k}"] = secs.mean()
    by = ["breakdown"] if o.breakdown is not None else []
    wide = a.group_by(by).aggregate(**aggs) if by else a.aggregate(**aggs)
    rows = []
    for k in range(n):
        entered = wide[f"entered_{k}"]
        first = wide["entered_0"]
        prev = wide[f"entered_{k - 1}"] if k > 0 else entered
        none = ibis.null("float64")
        row: dict[str, ir.Value] = {
            "step_index": ibis.literal(k, "int64"),
            "step": ibis.literal(labels[k], "string"),
        }
        if by:
            row["breakdown"] = wide.breakdown
        row.update(
            entered=entered,
            started=wide[f"started_{k}"],
            converted=wide[f"converted_{k}"],
            dropped=wide[f"dropped_{k}"],
            in_progress=wide[f"in_progress_{k}"],
            excluded=wide[f"excluded_{k}"],
            conversion=ibis.ifelse(first > 0, entered.cast("float64") / first, none),
            step_conversion=ibis.ifelse(prev > 0, entered.cast("float64") / prev, none),
            drop_off=ibis.ifelse(entered > 0, wide[f"dropped_{k}"].cast("float64") / entered, none),
            median_secs=wide[f"median_{k}"] if k > 0 else none,
            p90_secs=wide[f"p90_{k}"] if k > 0 else none,
            mean_secs=wide[f"mean_{k}"] if k > 0 else none,
        )
        rows.append(wide.select(**row))
    summary = ibis.union(*rows, distinct=False) if len(rows) > 1 else rows[0]
    summary = summary.order_by(["step_index", *by])
    histogram = _histogram(a, kept, reached, labels, o)
    coverage = None
    if o.breakdown is not None:
        coverage = a.aggregate(
            attempts=a.count(),
            with_value=count(a.breakdown.notnull()),
            without_value=count(a.breakdown.isnull()),
        )
    return summary, histogram, coverage


def _histogram(
    a: ir.Table,
    kept: ir.BooleanValue,
    reached: list[ir.BooleanValue],
    labels: list[str],
    o: FunnelOptions,
) -> ir.Table:
    n = len(labels)
    edges = list(o.bins)
    by = ["breakdown"] if o.breakdown is not None else []
    parts = []
    for k in range(1, n):
        part = a.filter(kept & reached[k] & a[f"secs_{k}"].notnull())
        parts.append(part.select(*by, step_index=ibis.literal(k, "int64"), secs=part[f"secs_{k}"]))
    frame_rows = {
        "step_index": [k for k in range(1, n) for _ in edges],
        "step": [labels[k] for k in range(1, n) for _ in edges],
        "bin": [b for _ in range(1, n) for b in range(len(edges))],
        "lower_secs": [edges[b] for _ in range(1, n) for b in range(len(edges))],
        "upper_secs": [
            edges[b + 1] if b + 1 < len(edges) else None
            for _ in range(1, n)
            for b in range(len(edges))
        ],
    }
    schema = ibis.schema(
        {
            "step_index": "int64",
            "step": "string",
            "bin": "int64",
            "lower_secs": "float64",
            "upper_secs": "float64",
        }
    )
    frame = ibis.memtable(frame_rows, schema=schema)
    if not parts:
        empty = frame.mutate(attempts=ibis.literal(0, "int64")).limit(0)
        if by:
            return empty.mutate(breakdown=ibis.null("string")).select(
                "step_index", "step", "breakdown", "bin", "lower_secs", "upper_secs", "attempts"
            )
        return empty
    long = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    bin_no = ibis.cases(
        *[(long.secs >= edges[b], ibis.literal(b, "int64")) for b in reversed(range(len(edges)))],
        else_=ibis.literal(0, "int64"),
    )
    counts = long.group_by([*by, "step_index", bin_no.name("bin")]).aggregate(attempts=long.count())
    if by:
        values = a.filter(kept).select("breakdown").distinct()
        frame = frame.cross_join(values)
    keys = ["step_index", "bin", *by]
    right = counts.rename({f"_r_{c}": c for c in keys})
    preds = [
        (frame[c] == right[f"_r_{c}"])
        if c != "breakdown"
        else ((frame[c] == right[f"_r_{c}"]) | (frame[c].isnull() & right[f"_r_{c}"].isnull()))
        for c in keys
    ]
    joined = frame.left_join(right, preds)
    cols: dict[str, ir.Value] = {
        "step_index": joined.step_index,
        "step": joined.step,
    }
    if by:
        cols["breakdown"] = joined.breakdown
    cols.update(
        bin=joined.bin,
        lower_secs=joined.lower_secs,
        upper_secs=joined.upper_secs,
        attempts=joined.attempts.fill_null(0).cast("int64"),
    )
    return joined.select(**cols)
