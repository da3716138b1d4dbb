"""Friction signals per step: loops (back-and-forth) and support contact soon after a step.

:func:`find_signals` takes events mapped to the map's steps (the ``table`` of
:func:`journeymap.analytics.mapping.map_events`) and returns :class:`Signals`, a bundle
of Ibis expressions; nothing is executed here.

**Loops.** Each customer's events that match a step are read in the order
``(ts, event_id)``; events matching no step are skipped and a run of events at the same
step counts once (``A A B`` reads as ``A B``). A run at step *A* is a **return** to *A*
when the customer was at *A* before and had, before this run, already reached a step
that comes after *A* in the map. So ``product page → cart → product page`` is one
return to the product page; ``product page → product page`` is none. ``loops`` counts,
per step, the customers with at least one return and the returns in all.
``ping_pong`` counts the bounces between two steps: three runs in a row ``A B A``
(either way round) are one bounce between *A* and *B*; the pair is named with the
earlier step of the map first.

**Support contact.** Support events are the events mapped to the support steps or
whose ``event`` is one of the support event names. By default the support steps are
those whose channel is ``phone`` or ``chat``, or whose id or touchpoint contains
``support``; ``support_steps`` names them instead, and ``support_events`` adds events by
name (with only ``support_events`` given, only those names count). A customer counts
for step *S* when a support event follows the customer's **first** event at *S* (in the
order ``(ts, event_id)``) by at most ``window``. The **baseline** is the share of all
customers in the events (any event, mapped or not) who had a support event at all: a
step whose share is far above it is followed by support contact more than the journey
as a whole.

**Samples** of affected customers are deterministic: per step, the ``sample`` customers
with the smallest MD5 hex digest of their id (ties by id), the same on every engine.

Counts are customers (distinct ``actor_id``), except ``returns`` and ``bounces``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.types as ir

from journeymap.analytics.mapping import StepInfo, list_steps
from journeymap.analytics.paths import epoch_micros
from journeymap.errors import JourneyError
from journeymap.model.journey import JourneyMap

__all__ = [
    "SUPPORT_CHANNELS",
    "PingPong",
    "SignalError",
    "Signals",
    "find_signals",
    "pick_support_steps",
]

SUPPORT_CHANNELS = ("phone", "chat")
"""Step channels that make a step a support step by default."""

_MAPPED_COLUMNS = ("step_id", "step_index")


class SignalError(JourneyError, ValueError):
    """Signal options that do not fit the map or the events (unknown step, bad window)."""


@dataclass(frozen=True)
class PingPong:
    """Customers who bounced between two steps (``A B A`` or ``B A B``, runs collapsed).

    ``step_a`` comes earlier in the map than ``step_b``; ``bounces`` counts every such
    triple, ``customers`` the customers with at least one.
    """

    step_a: str
    step_b: str
    customers: int
    bounces: int


@dataclass(frozen=True)
class Signals:
    """The friction signals of a mapped journey, as Ibis expressions.

    ``reach``: ``step_id``, ``step_index``, ``customers`` (with an event at the step).
    ``loops``: ``step_id``, ``step_index``, ``customers`` (with a return), ``returns``.
    ``loop_actors``: ``actor_id``, ``step_id``, ``step_index``, ``returns``: one row per
    customer and step with a return.
    ``ping_pong``: ``step_a``, ``step_b`` (``step_a`` earlier in the map), ``customers``,
    ``bounces``.
    ``support``: ``step_id``, ``step_index``, ``customers`` (with a support event within
    the window after their first event at the step).
    ``support_actors``: ``actor_id``, ``step_id``, ``step_index``: those customers.
    ``baseline``: one row, ``customers`` (all in the events) and ``support_customers``
    (with any support event).
    ``samples``: ``kind`` (``loop`` or ``support``), ``step_id``, ``rank`` (0-based),
    ``actor_id``: the sample of affected customers per step.
    ``support_steps`` and ``support_events`` say what counted as support;
    ``window_seconds`` the window after a step.
    """

    reach: ir.Table
    loops: ir.Table
    loop_actors: ir.Table
    ping_pong: ir.Table
    support: ir.Table
    support_actors: ir.Table
    baseline: ir.Table
    samples: ir.Table
    support_steps: tuple[str, ...]
    support_events: tuple[str, ...]
    window_seconds: float


def pick_support_steps(jmap: JourneyMap, *, steps: Sequence[str] | None = None) -> tuple[str, ...]:
    """The ids of the map's support steps, in journey order.

    With ``steps`` those ids (checked against the map); otherwise the steps whose channel
    is one of :data:`SUPPORT_CHANNELS` or whose id or touchpoint contains ``support``
    (case-insensitive).
    """
    known = [s.id for _, s in jmap.all_steps()]
    if steps is not None:
        unknown = [s for s in steps if s not in known]
        if unknown:
            raise SignalError(
                f"support step {unknown[0]!r} is not a step of map '{jmap.id}'; "
                f"steps are: {', '.join(known)}"
            )
        return tuple(s for s in known if s in set(steps))
    picked = []
    for _, step in jmap.all_steps():
        channel = (step.channel or "").strip().lower()
        words = f"{step.id} {step.touchpoint or ''}".lower()
        if channel in SUPPORT_CHANNELS or "support" in words:
            picked.append(step.id)
    return tuple(picked)


def _require(table: ir.Table, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        hint = (
            "; map the events first with journeymap.analytics.mapping.map_events"
            if set(missing) & set(_MAPPED_COLUMNS)
            else ""
        )
        raise SignalError(
            f"the events table has no column {missing[0]!r}; columns are: "
            f"{', '.join(table.columns)}{hint}"
        )


def _step_ids(steps: Sequence[StepInfo], index: ir.IntegerValue) -> ir.StringValue:
    ids: ir.StringValue = index.substitute(
        {s.step_index: s.step_id for s in steps}, else_=ibis.null("string")
    ).cast("string")
    return ids


def find_signals(
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    support_steps: Sequence[str] | None = None,
    support_events: Sequence[str] = (),
    window: timedelta = timedelta(days=3),
    sample: int = 5,
    actor: str = "actor_id",
    ts: str = "ts",
    tiebreak: str = "event_id",
    event: str = "event",
) -> Signals:
    """Loops, support contact after each step, the support baseline and samples.

    ``mapped`` is the ``table`` of :func:`~journeymap.analytics.mapping.map_events` for
    ``jmap``. ``support_steps`` (step ids) and ``support_events`` (event names) say what
    counts as a support contact (see the module docstring for the default); ``window``
    is how soon after a step a contact counts; ``sample`` how many affected customers to
    name per step.
    """
    _require(mapped, (actor, ts, tiebreak, event, *_MAPPED_COLUMNS))
    if window <= timedelta(0):
        raise SignalError(f"window {window} is not positive; pass a window such as 3 days")
    if sample < 0:
        raise SignalError(f"sample={sample}: ask for 0 or more customers per step")
    steps = list_steps(jmap)
    if support_steps is None and support_events:
        chosen_steps: tuple[str, ...] = ()
    else:
        chosen_steps = pick_support_steps(jmap, steps=support_steps)
    chosen_events = tuple(dict.fromkeys(support_events))

    base = mapped.select(
        _a=mapped[actor].cast("string"),
        _t=mapped[ts],
        _k=mapped[tiebreak],
        _e=mapped[event],
        step_id=mapped.step_id,
        step_index=mapped.step_index,
    )
    at_step = base.filter(base.step_index >= 0)
    reach = at_step.group_by("step_id", "step_index").agg(customers=at_step._a.nunique())

    loop_actors, loops, ping_pong = _loops(at_step, steps)
    support_actors, support, baseline = _support(base, at_step, chosen_steps, chosen_events, window)
    samples = _samples(loop_actors, support_actors, sample)
    return Signals(
        reach=reach,
        loops=loops,
        loop_actors=loop_actors.rename(actor_id="_a"),
        ping_pong=ping_pong,
        support=support,
        support_actors=support_actors.rename(actor_id="_a"),
        baseline=baseline,
        samples=samples,
        support_steps=chosen_steps,
        support_events=chosen_events,
        window_seconds=window.total_seconds(),
    )


def _loops(at_step: ir.Table, steps: Sequence[StepInfo]) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Returns per customer and step, loops per step, and ping-pong pairs."""
    order = [at_step._t, at_step._k]
    w = ibis.window(group_by=at_step._a, order_by=order)
    marked = at_step.mutate(_prev=at_step.step_index.lag().over(w))
    runs = marked.filter(marked._prev.isnull() | (marked._prev != marked.step_index))
    runs = runs.drop("_prev")
    order = [runs._t, runs._k]
    w = ibis.window(group_by=runs._a, order_by=order)
    upto = ibis.window(group_by=runs._a, order_by=order, rows=(None, 0))
    per_step = ibis.window(group_by=[runs._a, runs.step_index], order_by=order)
    runs = runs.mutate(
        _furthest=runs.step_index.max().over(upto),
        _back1=runs.step_index.lag().over(w),
        _back2=runs.step_index.lag(2).over(w),
        _visit=ibis.row_number().over(per_step),
    )
    w = ibis.window(group_by=runs._a, order_by=[runs._t, runs._k])
    runs = runs.mutate(_before=runs._furthest.lag().over(w))

    returns = runs.filter((runs._visit > 0) & (runs._before > runs.step_index))
    loop_actors = returns.group_by("_a", "step_id", "step_index").agg(
        returns=returns.count().cast("int64")
    )
    loops = loop_actors.group_by("step_id", "step_index").agg(
        customers=loop_actors.count().cast("int64"),
        returns=loop_actors.returns.sum().cast("int64"),
    )

    bounces = runs.filter(runs._back2 == runs.step_index)
    low = ibis.least(bounces.step_index, bounces._back1)
    high = ibis.greatest(bounces.step_index, bounces._back1)
    bounces = bounces.select("_a", _lo=low, _hi=high)
    pairs = bounces.group_by("_lo", "_hi").agg(
        customers=bounces._a.nunique().cast("int64"), bounces=bounces.count().cast("int64")
    )
    ping_pong = pairs.select(
        step_a=_step_ids(steps, pairs._lo),
        step_b=_step_ids(steps, pairs._hi),
        index_a=pairs._lo,
        index_b=pairs._hi,
        customers=pairs.customers,
        bounces=pairs.bounces,
    )
    return loop_actors, loops, ping_pong


def _support(
    base: ir.Table,
    at_step: ir.Table,
    support_steps: tuple[str, ...],
    support_events: tuple[str, ...],
    window: timedelta,
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Customers with a support event soon after each step, per step, and the baseline."""
    is_support: ir.BooleanValue = ibis.literal(False)
    if support_steps:
        is_support = is_support | base.step_id.isin(list(support_steps))
    if support_events:
        is_support = is_support | base._e.isin(list(support_events)).fill_null(False)

    order = [at_step._t, at_step._k]
    first_w = ibis.window(group_by=[at_step._a, at_step.step_index], order_by=order)
    firsts = at_step.mutate(_n=ibis.row_number().over(first_w))
    firsts = firsts.filter(firsts._n == 0)
    firsts = firsts.select(
        "_a", "step_id", "step_index", _fus=epoch_micros(firsts._t), _fk=firsts._k
    )

    contacts = base.filter(is_support)
    contacts = contacts.select(_sa=contacts._a, _sus=epoch_micros(contacts._t), _sk=contacts._k)
    limit = int(window / timedelta(microseconds=1))
    joined = firsts.join(contacts, firsts._a == contacts._sa)
    after = (joined._sus > joined._fus) | ((joined._sus == joined._fus) & (joined._sk > joined._fk))
    soon = joined.filter(after & (joined._sus - joined._fus <= limit))
    support_actors = soon.select("_a", "step_id", "step_index").distinct()
    support = support_actors.group_by("step_id", "step_index").agg(
        customers=support_actors.count().cast("int64")
    )
    baseline = base.aggregate(
        customers=base._a.nunique().cast("int64"),
        support_customers=base._a.nunique(where=is_support).cast("int64"),
    )
    return support_actors, support, baseline


def _samples(loop_actors: ir.Table, support_actors: ir.Table, sample: int) -> ir.Table:
    """The ``sample`` customers per (kind, step) with the smallest MD5 digest of their id."""
    both = ibis.union(
        loop_actors.select("_a", "step_id", kind=ibis.literal("loop")),
        support_actors.select("_a", "step_id", kind=ibis.literal("support")),
        distinct=False,
    )
    both = both.mutate(_h=both._a.hexdigest("md5"))
    w = ibis.window(group_by=[both.kind, both.step_id], order_by=[both._h, both._a])
    ranked = both.mutate(rank=ibis.row_number().over(w).cast("int64"))
    ranked = ranked.filter(ranked["rank"] < sample)
    return ranked.select("kind", "step_id", "rank", actor_id=ranked._a)
