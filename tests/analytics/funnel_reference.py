"""A tiny pure-Python funnel, written from the rules in ``journeymap.analytics.funnels``.

It walks each unit's events one by one with plain loops — no windows, no joins — so it
is an independent oracle for the Ibis implementation (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Row = dict[str, Any]
Pred = Callable[[Row], bool]


@dataclass
class RefAttempt:
    unit: Any
    start: int  # index of the start event in the unit's sorted events
    start_step: int
    steps: dict[int, int]  # funnel row -> event index (ordered) / step -> event index (any)
    excluded_by: str | None = None
    removed: bool = False
    status: str = ""

    def last(self, order: str) -> int:
        return len(self.steps) - 1 if order == "any" else max(self.steps)

    def depth(self) -> int:
        return len(self.steps)


def reference_funnel(
    rows: Sequence[Row],
    steps: Sequence[Pred],
    *,
    order: str = "ordered",
    window: timedelta | None = None,
    window_from: str = "first",
    entry: str = "first",
    exclusions: Sequence[tuple[str, Pred, int, int | None]] = (),
    exclusion_effect: str = "remove",
    closed: bool = True,
    unit: str = "actor_id",
    as_of: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[Any, list[Row], RefAttempt]]]:
    """Summary rows (entered/started/converted/dropped/in_progress/excluded) and attempts."""
    n = len(steps)
    kept_rows = [r for r in rows if as_of is None or r["ts"] <= as_of]
    by_unit: dict[Any, list[Row]] = {}
    for r in kept_rows:
        if r.get(unit) is not None:
            by_unit.setdefault(r[unit], []).append(r)
    chosen: list[tuple[Any, list[Row], RefAttempt]] = []
    for u in sorted(by_unit):
        seq = sorted(by_unit[u], key=lambda r: (r["ts"], r["event_id"]))
        match = [[bool(s(r)) for s in steps] for r in seq]
        is_step = [any(m) for m in match]
        excl = [
            [bool(p(r)) and not is_step[i] for (_, p, _, _) in exclusions]
            for i, r in enumerate(seq)
        ]
        cands = [i for i in range(len(seq)) if (match[i][0] if closed else is_step[i])]
        if entry == "first":
            cands = cands[:1]
        attempts = [
            _chain(
                u,
                seq,
                match,
                excl,
                i,
                n,
                order,
                window,
                window_from,
                exclusions,
                exclusion_effect,
                closed,
            )
            for i in cands
        ]
        attempts = _choose(attempts, entry, order)
        for a in attempts:
            a.status = _status(a, seq, n, order, window, window_from, as_of)
            chosen.append((u, seq, a))
    summary = []
    for k in range(n):

        def reached(a: RefAttempt, k: int = k) -> bool:
            return a.depth() > k if order == "any" else k in a.steps

        live = [a for _, _, a in chosen if not a.removed]
        here = [a for a in live if reached(a)]
        nxt = [a for a in here if k == n - 1 or reached(a, k + 1)]
        ends = [a for a in here if a.last(order) == k]
        summary.append(
            {
                "step_index": k,
                "entered": len(here),
                "started": len(
                    [a for a in live if (a.start_step == k if order != "any" else k == 0)]
                ),
                "converted": len(nxt),
                "dropped": len([a for a in ends if a.status == "dropped"]),
                "in_progress": len([a for a in ends if a.status == "in_progress"]),
                "excluded": len([a for _, _, a in chosen if a.removed and reached(a)]),
            }
        )
    return summary, chosen


def _in_window(window: timedelta | None, origin: datetime, t: datetime) -> bool:
    return window is None or t - origin <= window


def _chain(u, seq, match, excl, i, n, order, window, window_from, exclusions, effect, closed):
    start_step = 0 if closed else match[i].index(True)
    a = RefAttempt(unit=u, start=i, start_step=start_step, steps={})
    t0 = seq[i]["ts"]
    if order == "any":
        for j in range(n):
            for idx in range(i, len(seq)):
                if match[idx][j]:
                    if _in_window(window, t0, seq[idx]["ts"]):
                        a.steps[j] = idx
                    break
        far = max(a.steps.values())
        cut = None
        for e, (label, _, _, _) in enumerate(exclusions):
            q = next((x for x in range(i + 1, len(seq)) if excl[x][e]), None)
            if q is None:
                continue
            inside = q < far if len(a.steps) == n else _in_window(window, t0, seq[q]["ts"])
            if inside:
                a.excluded_by = a.excluded_by or label
                cut = q if cut is None else min(cut, q)
        _cut(a, cut, effect)
        return a
    a.steps[start_step] = i
    for k in range(start_step, n - 1):
        prev = a.steps[k]
        nxt = next((x for x in range(prev + 1, len(seq)) if match[x][k + 1]), None)
        if nxt is None:
            break
        if order == "strict" and nxt != prev + 1:
            break
        origin = t0 if window_from == "first" else seq[prev]["ts"]
        if not _in_window(window, origin, seq[nxt]["ts"]):
            break
        a.steps[k + 1] = nxt
    cut = None
    for e, (label, _, f, to) in enumerate(exclusions):
        to = n - 1 if to is None else to
        if f not in a.steps:
            continue
        q = next((x for x in range(a.steps[f] + 1, len(seq)) if excl[x][e]), None)
        if q is None:
            continue
        last = a.steps[max(a.steps)]
        if to in a.steps:
            inside = q < a.steps[to] and order != "strict"
        else:
            if window is None:
                ok = True
            elif window_from == "first":
                ok = _in_window(window, t0, seq[q]["ts"])
            else:
                before = max(p for p in a.steps.values() if p < q)
                ok = _in_window(window, seq[before]["ts"], seq[q]["ts"])
            inside = ok and (order != "strict" or q == last + 1)
        if inside:
            a.excluded_by = a.excluded_by or label
            cut = q if cut is None else min(cut, q)
    _cut(a, cut, effect)
    return a


def _cut(a: RefAttempt, cut: int | None, effect: str) -> None:
    if cut is None:
        return
    if effect == "remove":
        a.removed = True
    else:
        a.steps = {k: p for k, p in a.steps.items() if p < cut}


def _choose(attempts: list[RefAttempt], entry: str, order: str) -> list[RefAttempt]:
    if not attempts:
        return []
    if entry == "first":
        return attempts
    if entry in ("latest", "longest"):

        def key(a: RefAttempt):
            far = max(a.steps.values())
            if entry == "latest":
                return (-a.last(order), -a.depth(), far, -a.start)
            return (-a.last(order), -a.depth(), a.start)

        return [min(attempts, key=key)]
    # every: attempts that end at the same event are one attempt restarted
    best: dict[int, RefAttempt] = {}
    for a in attempts:
        far = max(a.steps.values())
        if far not in best or a.start > best[far].start:
            best[far] = a
    return sorted(best.values(), key=lambda a: a.start)


def _status(a, seq, n, order, window, window_from, as_of) -> str:
    if a.removed:
        return "excluded"
    if (a.depth() == n) if order == "any" else (n - 1 in a.steps):
        return "converted"
    if as_of is None or (a.excluded_by is not None):
        return "dropped"
    if window is None:
        return "in_progress"
    origin = seq[a.start]["ts"] if window_from == "first" else seq[max(a.steps.values())]["ts"]
    return "in_progress" if as_of < origin + window else "dropped"
