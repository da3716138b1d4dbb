"""Funnels: hand-worked cases for every option on every engine, and a property test
against the pure-Python reference in ``funnel_reference.py``."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pytest
from funnel_reference import reference_funnel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load, materialize, rows_of
from journeymap.analytics.funnels import (
    DEFAULT_TIME_BINS,
    Funnel,
    FunnelError,
    FunnelExclusion,
    FunnelStep,
    compute_funnel,
)
from journeymap.analytics.mapping import map_events
from journeymap.model import JourneyMap
from journeymap.model.rules import EventRule

T0 = datetime(2024, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

COUNTS = ("step_index", "entered", "started", "converted", "dropped", "in_progress", "excluded")


def ev(unit: str, at: timedelta, event: str, eid: str | None = None, **more: Any) -> dict[str, Any]:
    row = {"actor_id": unit, "ts": T0 + at, "event": event, **more}
    if eid is not None:
        row["event_id"] = eid
    return row


def on(*names: str) -> EventRule:
    return EventRule.model_validate({"match": {"event": list(names)}})


ABC = [FunnelStep("A", on("A")), FunnelStep("B", on("B")), FunnelStep("C", on("C"))]


def run(con: Any, funnel: Funnel) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Materialise the attempts once, then read the summary from them."""
    cached = funnel.from_attempts(materialize(con, funnel.attempts, "attempts"))
    summary = rows_of(cached.summary, sort=["step_index"])
    attempts = rows_of(cached.attempts, sort=[funnel.options.unit, "attempt"])
    return summary, attempts


def counts(summary: list[dict[str, Any]]) -> list[tuple[int, ...]]:
    return [tuple(row[c] for c in COUNTS) for row in summary]


# --- hand-worked cases, on every engine ----------------------------------------------


def test_ordered_funnel_counts_each_step_and_times_between_them(con: Any) -> None:
    rows = [
        # u1: A → B → C within 2 hours: converted; B took 1 h, C took 1 h
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "x"),
        ev("u1", 1 * HOUR, "B"),
        ev("u1", 2 * HOUR, "C"),
        # u2: A → B, then nothing: dropped at B; B took 3 h
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 3 * HOUR, "B"),
        # u3: A only: dropped at A
        ev("u3", 0 * HOUR, "A"),
        # u4: B → C without A never enters a closed funnel
        ev("u4", 0 * HOUR, "B"),
        ev("u4", 1 * HOUR, "C"),
    ]
    summary, attempts = run(con, compute_funnel(load(con, rows), ABC))
    # (step, entered, started, converted, dropped, in_progress, excluded)
    assert counts(summary) == [(0, 3, 3, 2, 1, 0, 0), (1, 2, 0, 1, 1, 0, 0), (2, 1, 0, 1, 0, 0, 0)]
    assert [r["conversion"] for r in summary] == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert [r["step_conversion"] for r in summary] == [1.0, pytest.approx(2 / 3), 0.5]
    assert [r["drop_off"] for r in summary] == [pytest.approx(1 / 3), 0.5, 0.0]
    # A→B times: 1 h and 3 h → median 2 h, p90 = 1 + 0.9 * (3 - 1) = 2.8 h
    assert summary[1]["median_secs"] == 7200.0
    assert summary[1]["p90_secs"] == pytest.approx(2.8 * 3600)
    assert summary[2]["median_secs"] == 3600.0
    assert summary[0]["median_secs"] is None
    u1 = attempts[0]
    assert (u1["status"], u1["steps_reached"], u1["total_secs"]) == ("converted", 3, 7200.0)
    assert u1["step_0_ts"] == T0 and u1["step_2_ts"] == T0 + 2 * HOUR
    assert [a["status"] for a in attempts] == ["converted", "dropped", "dropped"]


def test_equal_timestamps_are_ordered_by_event_id(con: Any) -> None:
    rows = [
        # same instant: "e1" (B) sorts before "e2" (A), so B is not after A
        ev("u1", 0 * HOUR, "B", "e1"),
        ev("u1", 0 * HOUR, "A", "e2"),
        # here A "f1" comes first, then B "f2" at the same instant: converted in 0 s
        ev("u2", 0 * HOUR, "A", "f1"),
        ev("u2", 0 * HOUR, "B", "f2"),
    ]
    summary, attempts = run(con, compute_funnel(load(con, rows), ABC[:2]))
    assert counts(summary) == [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0)]
    assert [a["status"] for a in attempts] == ["dropped", "converted"]
    assert attempts[1]["secs_1"] == 0.0


def test_a_repeated_step_needs_a_second_event(con: Any) -> None:
    steps = [FunnelStep("A", on("A")), FunnelStep("A again", on("A")), FunnelStep("B", on("B"))]
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),  # one A: stops at step 0
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 1 * HOUR, "A"),
        ev("u2", 2 * HOUR, "B"),  # converts
    ]
    summary, _ = run(con, compute_funnel(load(con, rows), steps))
    assert counts(summary) == [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0), (2, 1, 0, 1, 0, 0, 0)]


def test_strict_order_breaks_on_any_event_in_between(con: Any) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),
        ev("u1", 2 * HOUR, "C"),
        # an unrelated event between A and B: ordered converts, strict stops at A
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 1 * HOUR, "x"),
        ev("u2", 2 * HOUR, "B"),
        ev("u2", 3 * HOUR, "C"),
    ]
    events = load(con, rows)
    strict, _ = run(con, compute_funnel(events, ABC, order="strict"))
    assert counts(strict) == [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0), (2, 1, 0, 1, 0, 0, 0)]
    ordered, _ = run(con, compute_funnel(events, ABC, order="ordered"))
    assert [r["entered"] for r in ordered] == [2, 2, 2]


def test_any_order_counts_distinct_steps_done(con: Any) -> None:
    rows = [
        # u1: A, C, B: all three in any order; levels at 0 h, 1 h, 3 h
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "C"),
        ev("u1", 3 * HOUR, "B"),
        # u2: A, C, C: two distinct steps
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 2 * HOUR, "C"),
        ev("u2", 4 * HOUR, "C"),
        # u3: C, A: closed any-order funnels start at step 1 (A): from A only A is done
        ev("u3", 0 * HOUR, "C"),
        ev("u3", 1 * HOUR, "A"),
    ]
    summary, attempts = run(con, compute_funnel(load(con, rows), ABC, order="any"))
    assert [r["step"] for r in summary] == ["1 of 3", "2 of 3", "3 of 3"]
    assert counts(summary) == [(0, 3, 3, 2, 1, 0, 0), (1, 2, 0, 1, 1, 0, 0), (2, 1, 0, 1, 0, 0, 0)]
    # second level: u1 after 1 h (C), u2 after 2 h (C) → median 1.5 h
    assert summary[1]["median_secs"] == 5400.0
    # third level: u1 B at 3 h, 2 h after C
    assert summary[2]["median_secs"] == 7200.0
    u1 = attempts[0]
    # drill-down columns stay per step (A, B, C), whatever order they happened in
    assert (u1["step_1_ts"], u1["step_2_ts"]) == (T0 + 3 * HOUR, T0 + 1 * HOUR)


@pytest.mark.parametrize(
    ("window_from", "expected"),
    [
        # from the first step: C at 5 d is 5 days after A > 4 days → stops at B
        ("first", [(0, 1, 1, 1, 0, 0, 0), (1, 1, 0, 0, 1, 0, 0), (2, 0, 0, 0, 0, 0, 0)]),
        # from the previous step: B after 3 d, C 2 d after B: both within 4 days
        ("previous", [(0, 1, 1, 1, 0, 0, 0), (1, 1, 0, 1, 0, 0, 0), (2, 1, 0, 1, 0, 0, 0)]),
    ],
)
def test_window_is_measured_from_the_first_or_the_previous_step(
    con: Any, window_from: str, expected: list[tuple[int, ...]]
) -> None:
    rows = [ev("u", 0 * DAY, "A"), ev("u", 3 * DAY, "B"), ev("u", 5 * DAY, "C")]
    funnel = compute_funnel(load(con, rows), ABC, window=4 * DAY, window_from=window_from)  # type: ignore[arg-type]
    summary, _ = run(con, funnel)
    assert counts(summary) == expected


def test_an_event_exactly_at_the_window_edge_counts(con: Any) -> None:
    rows = [ev("u", 0 * DAY, "A"), ev("u", 7 * DAY, "B")]
    summary, _ = run(con, compute_funnel(load(con, rows), ABC[:2], window=7 * DAY))
    assert [r["entered"] for r in summary] == [1, 1]


@pytest.mark.parametrize(
    ("entry", "expected_counts", "expected_starts"),
    [
        # first: the attempt starts at A@0; B@10 is 10 days later > 7: dropped
        ("first", [(0, 1, 1, 0, 1, 0, 0), (1, 0, 0, 0, 0, 0, 0)], [0]),
        # latest: A@6 → B@10 converts in 4 days
        ("latest", [(0, 1, 1, 1, 0, 0, 0), (1, 1, 0, 1, 0, 0, 0)], [6]),
        # longest: the furthest attempt is also A@6 (A@0 only reaches step 0)
        ("longest", [(0, 1, 1, 1, 0, 0, 0), (1, 1, 0, 1, 0, 0, 0)], [6]),
        # every: two attempts, A@0 (dropped) and A@6 (converted)
        ("every", [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0)], [0, 6]),
    ],
)
def test_entry_decides_which_step_one_events_start_attempts(
    con: Any, entry: str, expected_counts: list[tuple[int, ...]], expected_starts: list[int]
) -> None:
    rows = [ev("u", 0 * DAY, "A"), ev("u", 6 * DAY, "A"), ev("u", 10 * DAY, "B")]
    funnel = compute_funnel(load(con, rows), ABC[:2], window=7 * DAY, entry=entry)  # type: ignore[arg-type]
    summary, attempts = run(con, funnel)
    assert counts(summary) == expected_counts
    assert [(a["started_at"] - T0) // DAY for a in attempts] == expected_starts
    assert [a["attempt"] for a in attempts] == list(range(1, len(expected_starts) + 1))


@pytest.mark.parametrize(
    ("entry", "start_day", "secs"),
    [
        # A@0, A@1, B@2 without a window: every attempt converts
        ("first", 0, 2 * 86400.0),
        ("latest", 1, 86400.0),  # ties go to the latest start
        ("longest", 0, 2 * 86400.0),  # ties go to the earliest start
    ],
)
def test_ties_between_equally_long_attempts(
    con: Any, entry: str, start_day: int, secs: float
) -> None:
    rows = [ev("u", 0 * DAY, "A"), ev("u", 1 * DAY, "A"), ev("u", 2 * DAY, "B")]
    _, attempts = run(con, compute_funnel(load(con, rows), ABC[:2], entry=entry))  # type: ignore[arg-type]
    assert [((a["started_at"] - T0) // DAY, a["secs_1"]) for a in attempts] == [(start_day, secs)]


def test_every_entry_does_not_count_one_conversion_twice(con: Any) -> None:
    # A, A, A, B: all three attempts end at the same B: one attempt restarted (the last)
    # then A, C: a new attempt that drops at A
    rows = [
        ev("u", 0 * HOUR, "A"),
        ev("u", 1 * HOUR, "A"),
        ev("u", 2 * HOUR, "A"),
        ev("u", 3 * HOUR, "B"),
        ev("u", 4 * HOUR, "A"),
        ev("u", 5 * HOUR, "C"),
    ]
    summary, attempts = run(con, compute_funnel(load(con, rows), ABC[:2], entry="every"))
    assert counts(summary) == [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0)]
    assert [(a["attempt"], a["status"], a["secs_1"]) for a in attempts] == [
        (1, "converted", 3600.0),
        (2, "dropped", None),
    ]


@pytest.mark.parametrize(
    ("effect", "expected", "statuses"),
    [
        # remove: u2 is taken out; its chain A → B → C had reached all three steps, so
        # it is counted in `excluded` on every row
        (
            "remove",
            [(0, 1, 1, 1, 0, 0, 1), (1, 1, 0, 1, 0, 0, 1), (2, 1, 0, 1, 0, 0, 1)],
            ["converted", "excluded"],
        ),
        # drop_off: u2 ends at B, the last step before the excluded event
        (
            "drop_off",
            [(0, 2, 2, 2, 0, 0, 0), (1, 2, 0, 1, 1, 0, 0), (2, 1, 0, 1, 0, 0, 0)],
            ["converted", "dropped"],
        ),
    ],
)
def test_exclusions_remove_an_attempt_or_end_it(
    con: Any, effect: str, expected: list[tuple[int, ...]], statuses: list[str]
) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),
        ev("u1", 2 * HOUR, "C"),
        # u2: X happens between B and C
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 1 * HOUR, "B"),
        ev("u2", 2 * HOUR, "X"),
        ev("u2", 3 * HOUR, "C"),
        # X before A, or after C, is outside the exclusion's span (step 0 → step 2)
        ev("u1", -1 * HOUR, "X"),
        ev("u1", 9 * HOUR, "X"),
    ]
    exclusion = FunnelExclusion(FunnelStep("X", on("X")), from_step=0, to_step=2)
    funnel = compute_funnel(
        load(con, rows),
        ABC,
        exclusions=[exclusion],
        exclusion_effect=effect,  # type: ignore[arg-type]
    )
    summary, attempts = run(con, funnel)
    assert counts(summary) == expected
    assert [a["status"] for a in attempts] == statuses
    assert [a["excluded_by"] for a in attempts] == [None, "X"]


def test_exclusion_between_later_steps_ignores_events_before_them(con: Any) -> None:
    # X between A and B does not matter for an exclusion from step 1 (B) to step 2 (C)
    rows = [
        ev("u", 0 * HOUR, "A"),
        ev("u", 1 * HOUR, "X"),
        ev("u", 2 * HOUR, "B"),
        ev("u", 3 * HOUR, "C"),
    ]
    exclusion = FunnelExclusion(FunnelStep("X", on("X")), from_step=1, to_step=2)
    summary, _ = run(con, compute_funnel(load(con, rows), ABC, exclusions=[exclusion]))
    assert [r["entered"] for r in summary] == [1, 1, 1]


def test_open_funnel_lets_attempts_start_at_any_step(con: Any) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),
        ev("u2", 0 * HOUR, "B"),
        ev("u2", 1 * HOUR, "C"),  # enters at B
        ev("u3", 0 * HOUR, "C"),  # enters at C: converts at once
    ]
    events = load(con, rows)
    opened, attempts = run(con, compute_funnel(events, ABC, closed=False))
    assert counts(opened) == [(0, 1, 1, 1, 0, 0, 0), (1, 2, 1, 1, 1, 0, 0), (2, 2, 1, 2, 0, 0, 0)]
    # u2 entered at B: no time from A to B, 1 h from B to C
    assert [(a["start_step"], a["secs_1"], a["secs_2"]) for a in attempts] == [
        (0, 3600.0, None),
        (1, None, 3600.0),
        (2, None, None),
    ]
    closed, _ = run(con, compute_funnel(events, ABC, closed=True))
    assert [r["entered"] for r in closed] == [1, 1, 0]


def test_unit_can_be_a_session(con: Any) -> None:
    rows = [
        ev("u", 0 * HOUR, "A", session_id="s1"),
        ev("u", 1 * HOUR, "B", session_id="s2"),
        ev("u", 2 * HOUR, "A", session_id="s2"),
        ev("u", 3 * HOUR, "B", session_id="s2"),
        ev("v", 0 * HOUR, "A", session_id=None),  # no session: counted, not analysed
    ]
    funnel = compute_funnel(load(con, rows), ABC[:2], unit="session_id")
    summary, _ = run(con, funnel)
    # s1: A only; s2: B, A, B → converted
    assert counts(summary) == [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0)]
    assert funnel.events_without_unit.execute() == 1


@pytest.mark.parametrize(
    ("attribution", "expected"),
    [
        # first: the value on A
        ("first", {"kr": 1, "us": 1, None: 1}),
        # last: the value on the last step reached (B for u1, A for u2, B for u3)
        ("last", {"jp": 1, "us": 1, None: 1}),
        # step 1 (B): u2 never reached B → no value
        (1, {"jp": 1, None: 2}),
    ],
)
def test_breakdown_attribution_and_coverage(
    con: Any, attribution: Any, expected: dict[str | None, int]
) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A", region="kr"),
        ev("u1", 1 * HOUR, "B", region="jp"),
        ev("u2", 0 * HOUR, "A", region="us"),
        ev("u3", 0 * HOUR, "A", region=None),
        ev("u3", 1 * HOUR, "B", region=None),
    ]
    funnel = compute_funnel(load(con, rows), ABC[:2], breakdown="region", attribution=attribution)
    cached = funnel.from_attempts(materialize(con, funnel.attempts, "attempts"))
    summary = rows_of(cached.summary.filter(cached.summary.step_index == 0))
    assert {r["breakdown"]: r["entered"] for r in summary} == expected
    assert cached.coverage is not None
    (cov,) = rows_of(cached.coverage)
    without = expected.get(None, 0)
    assert cov == {"attempts": 3, "with_value": 3 - without, "without_value": without}


def test_breakdown_by_a_property_path(con: Any) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A", properties={"plan": "pro"}),
        ev("u1", 1 * HOUR, "B"),
        ev("u2", 0 * HOUR, "A", properties={"plan": "free"}),
    ]
    funnel = compute_funnel(load(con, rows), ABC[:2], breakdown="properties.plan")
    summary = rows_of(funnel.summary, sort=["step_index", "breakdown"])
    assert [(r["step_index"], r["breakdown"], r["entered"]) for r in summary] == [
        (0, "free", 1),
        (0, "pro", 1),
        (1, "free", 0),
        (1, "pro", 1),
    ]


@pytest.mark.parametrize(
    ("as_of_day", "expected"),
    [
        # day 5: u2's 7-day window (A@0) is still open → in progress; u1 converted at day 1
        (5, [(0, 2, 2, 1, 0, 1, 0), (1, 1, 0, 1, 0, 0, 0)]),
        # day 8: u2's window closed on day 7 → dropped
        (8, [(0, 2, 2, 1, 1, 0, 0), (1, 1, 0, 1, 0, 0, 0)]),
    ],
)
def test_open_windows_are_in_progress_as_of_a_date(
    con: Any, as_of_day: int, expected: list[tuple[int, ...]]
) -> None:
    rows = [
        ev("u1", 0 * DAY, "A"),
        ev("u1", 1 * DAY, "B"),
        ev("u2", 0 * DAY, "A"),
        ev("u3", 9 * DAY, "A"),  # after both dates: ignored
    ]
    funnel = compute_funnel(load(con, rows), ABC[:2], window=7 * DAY, as_of=T0 + as_of_day * DAY)
    summary, _ = run(con, funnel)
    assert counts(summary) == expected


def test_histogram_lists_every_bin_of_every_later_step(con: Any) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", timedelta(seconds=30), "B"),  # bin 0: [0, 60)
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 2 * HOUR, "B"),  # bin 4: [1 h, 3 h)
        ev("u3", 0 * HOUR, "A"),
        ev("u3", 100 * DAY, "B"),  # last bin: [90 d, ∞)
    ]
    funnel = compute_funnel(load(con, rows), ABC[:2])
    hist = rows_of(funnel.histogram, sort=["step_index", "bin"])
    assert len(hist) == len(DEFAULT_TIME_BINS)
    got = {r["bin"]: r["attempts"] for r in hist if r["attempts"]}
    # edges: 0, 60, 300, 900, 3600 (bin 4: [1 h, 3 h)), …, 90 d (bin 14)
    assert got == {0: 1, 4: 1, 14: 1}
    assert hist[4]["lower_secs"] == 3600.0 and hist[4]["upper_secs"] == 3 * 3600.0
    assert hist[-1]["upper_secs"] is None


def test_steps_can_be_step_ids_or_stage_ids_of_a_map(con: Any) -> None:
    jmap = JourneyMap.model_validate(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {
                    "id": "discover",
                    "name": "Discover",
                    "steps": [
                        {"id": "view", "name": "View", "events": {"match": {"event": "A"}}},
                        {"id": "search", "name": "Search", "events": {"match": {"event": "S"}}},
                    ],
                },
                {
                    "id": "buy",
                    "name": "Buy",
                    "steps": [
                        {"id": "pay", "name": "Pay", "events": {"match": {"event": "B"}}},
                    ],
                },
            ],
        }
    )
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),
        ev("u2", 0 * HOUR, "S"),
        ev("u2", 1 * HOUR, "B"),
    ]
    mapped = map_events(load(con, rows), jmap).table
    by_step, _ = run(con, compute_funnel(mapped, ["view", "pay"]))
    assert [r["entered"] for r in by_step] == [1, 1]
    # at stage level, u2's search counts as "discover" too
    by_stage, _ = run(con, compute_funnel(mapped, ["discover", "buy"], level="stage"))
    assert [r["entered"] for r in by_stage] == [2, 2]
    assert [r["step"] for r in by_stage] == ["discover", "buy"]


# --- option errors (no engine needed) ----------------------------------------------

EVENTS = ibis.table(
    {"event_id": "string", "actor_id": "string", "ts": "timestamp('UTC')", "event": "string"},
    name="events",
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "sideways"}, "order 'sideways' is not one of"),
        ({"window": timedelta(0)}, "not positive"),
        ({"order": "any", "window_from": "previous"}, "no previous step"),
        ({"attribution": 5}, "attribution step 5 is not a step"),
        ({"unit": "customer"}, "unit 'customer' is not a column.*actor_id"),
        ({"exclusions": [FunnelExclusion(on("X"), from_step=1, to_step=1)]}, "from_step 1"),
        ({"bins": (10, 5)}, "bins must be increasing"),
    ],
)
def test_contradicting_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FunnelError, match=message):
        compute_funnel(EVENTS, ABC, **kwargs)


def test_step_ids_need_mapped_events() -> None:
    with pytest.raises(FunnelError, match="map_events"):
        compute_funnel(EVENTS, ["view", "pay"])


def test_rules_given_as_dicts_are_read_as_event_rules() -> None:
    funnel = compute_funnel(EVENTS, [{"match": {"event": "A"}}, {"match": {"event": "B"}}])
    assert funnel.steps == ("step 1", "step 2")


# --- the reference, on random logs ------------------------------------------------

LETTERS = "ABCXZ"
STEP_SETS = {
    "abc": [("A",), ("B",), ("C",)],
    "aab": [("A",), ("A",), ("B",)],
    "overlap": [("A", "B"), ("B",), ("C", "A")],
    "ab": [("A",), ("B",)],
}


def _rows(log: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"e{i:03d}", "actor_id": u, "ts": T0 + timedelta(hours=h), "event": e}
        for i, (u, h, e) in enumerate(log)
    ]


def _check_against_reference(
    con: Any, log: list[tuple[str, int, str]], opts: dict[str, Any]
) -> None:
    rows = _rows(log)
    names = STEP_SETS[opts.pop("steps")]
    steps = [FunnelStep(f"s{i}", on(*n)) for i, n in enumerate(names)]
    preds = [lambda r, n=n: r["event"] in n for n in names]
    exclusions, ref_ex = [], []
    if opts.pop("exclude"):
        to = len(names) - 1
        exclusions.append(FunnelExclusion(FunnelStep("X", on("X")), 0, None))
        ref_ex.append(("X", lambda r: r["event"] == "X", 0, to))
    expected, chosen = reference_funnel(rows, preds, exclusions=ref_ex, **opts)
    funnel = compute_funnel(load(con, rows), steps, exclusions=exclusions, **opts)
    summary, attempts = run(con, funnel)
    assert [{c: r[c] for c in COUNTS} for r in summary] == expected
    want = sorted(
        (u, a.status, tuple(sorted((k, seq[i]["event_id"]) for k, i in a.steps.items())))
        for u, seq, a in chosen
    )
    got = sorted(
        (
            a["actor_id"],
            a["status"],
            tuple(
                (k, a[f"step_{k}_event_id"])
                for k in range(len(names))
                if a[f"step_{k}_event_id"] is not None
            ),
        )
        for a in attempts
    )
    assert got == want


_log = st.lists(
    st.tuples(st.sampled_from(["u", "v", "w"]), st.integers(0, 30), st.sampled_from(LETTERS)),
    max_size=14,
)
_opts = st.fixed_dictionaries(
    {
        "steps": st.sampled_from(sorted(STEP_SETS)),
        "order": st.sampled_from(["ordered", "strict", "any"]),
        "window": st.sampled_from([None, timedelta(hours=5), timedelta(hours=12)]),
        "window_from": st.sampled_from(["first", "previous"]),
        "entry": st.sampled_from(["first", "latest", "longest", "every"]),
        "exclude": st.booleans(),
        "exclusion_effect": st.sampled_from(["remove", "drop_off"]),
        "closed": st.booleans(),
        "as_of": st.sampled_from([None, T0 + timedelta(hours=20)]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=_log, opts=_opts)
def test_funnel_matches_the_reference_on_random_logs(
    log: list[tuple[str, int, str]], opts: dict[str, Any]
) -> None:
    if opts["order"] == "any":
        opts["window_from"] = "first"
    con = ibis.duckdb.connect()
    _check_against_reference(con, log, opts)


def _fixed_logs() -> list[tuple[list[tuple[str, int, str]], dict[str, Any]]]:
    rng = random.Random(20240601)
    cases = []
    for order, entry, closed in [
        ("ordered", "latest", True),
        ("strict", "every", False),
        ("any", "longest", True),
    ]:
        log = [(rng.choice("uvw"), rng.randint(0, 30), rng.choice(LETTERS)) for _ in range(24)]
        opts = {
            "steps": "abc",
            "order": order,
            "window": timedelta(hours=12),
            "window_from": "first",
            "entry": entry,
            "exclude": True,
            "exclusion_effect": "drop_off",
            "closed": closed,
            "as_of": T0 + timedelta(hours=25),
        }
        cases.append((log, opts))
    return cases


@pytest.mark.parametrize(("log", "opts"), _fixed_logs(), ids=["ordered", "strict", "any"])
def test_funnel_matches_the_reference_on_generated_logs(
    con: Any, log: list[tuple[str, int, str]], opts: dict[str, Any]
) -> None:
    _check_against_reference(con, log, dict(opts))


# --- the command line (a DuckDB workspace) ------------------------------------------

MAP_YAML = """\
schema: journeymap/1
id: shop
title: Shop
stages:
  - id: discover
    name: Discover
    steps:
      - {id: view, name: View, events: {match: {event: view}}}
  - id: buy
    name: Buy
    steps:
      - {id: cart, name: Cart, events: {match: {event: cart}}}
      - {id: pay, name: Pay}
"""

EVENTS_CSV = """\
actor_id,ts,event,region
u1,2024-01-01T00:00:00Z,view,kr
u1,2024-01-07T00:00:00Z,view,kr
u1,2024-01-11T00:00:00Z,cart,kr
u2,2024-01-01T00:00:00Z,view,us
u2,2024-01-01T06:00:00Z,cart,us
u3,2024-01-02T00:00:00Z,newsletter,
"""


@pytest.fixture
def shop(ws: Any, tmp_path: Path) -> tuple[Path, Path]:
    """A workspace holding six events, and the map they follow (view → cart)."""
    from journeymap.io.workspace import import_source

    csv = tmp_path / "events.csv"
    csv.write_text(EVENTS_CSV, encoding="utf-8")
    import_source(ws, csv, progress=False)
    ws.close()
    map_file = tmp_path / "shop.yaml"
    map_file.write_text(MAP_YAML, encoding="utf-8")
    return ws.path, map_file


def invoke(*args: str) -> Any:
    import typer
    from typer.testing import CliRunner

    from journeymap.cli import analytics

    app = typer.Typer()
    app.command("funnel")(analytics.funnel_command)
    app.command("noop", hidden=True)(lambda: None)  # keeps "funnel" a subcommand
    return CliRunner().invoke(app, ["funnel", *args])


def test_cli_prints_the_funnel_of_the_maps_steps(shop: tuple[Path, Path]) -> None:
    folder, map_file = shop
    result = invoke(str(map_file), "-w", str(folder), "--window", "7d")
    assert result.exit_code == 0, result.output
    # steps with a rule: view, cart (pay has none). u1: view@1 → cart@11 is 10 days:
    # outside 7 days from the first view; u2 converts in 6 h.
    lines = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [line.split("│")[2].strip() for line in lines] == ["view", "cart"]
    assert [line.split("│")[3].strip() for line in lines] == ["2", "1"]
    assert "6.0h" in lines[1]
    # u3's newsletter is the one event of six that matches no step
    assert "16.7% of events match no step of the map" in result.output


@pytest.mark.parametrize(("preset", "converted"), [("mixpanel", 1), ("posthog", 2)])
def test_cli_presets_count_like_their_tools(
    shop: tuple[Path, Path], preset: str, converted: int
) -> None:
    folder, map_file = shop
    result = invoke(
        str(map_file), "-w", str(folder), "--preset", preset, "--format", "json", "--window", "7d"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # u1: view@1, view@7, cart@11: only PostHog's restart (view@7 → cart@11, 4 days) counts
    assert doc["summary"][1]["entered"] == converted
    assert doc["options"]["window_secs"] == 7 * 86400


def test_cli_writes_csv_and_attempts_files(shop: tuple[Path, Path], tmp_path: Path) -> None:
    folder, map_file = shop
    out, attempts = tmp_path / "funnel.csv", tmp_path / "attempts.parquet"
    result = invoke(
        str(map_file),
        "-w",
        str(folder),
        "--format",
        "csv",
        "-o",
        str(out),
        "--attempts",
        str(attempts),
        "--breakdown",
        "region",
    )
    assert result.exit_code == 0, result.output
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    summary = pacsv.read_csv(out).to_pylist()
    assert {(r["step"], r["breakdown"], r["entered"]) for r in summary} == {
        ("view", "kr", 1),
        ("view", "us", 1),
        ("cart", "kr", 1),
        ("cart", "us", 1),
    }
    assert pq.read_table(attempts).num_rows == 2
    assert "2 of 2 attempts have a value" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "7x"], "--window '7x' is not a duration"),
        (["--steps", "view,nope"], "no step 'nope'; steps are: view, cart, pay"),
        (["--entry", "sometimes"], "--entry 'sometimes': choose one of"),
        (["--preset", "heap"], "no funnel preset called 'heap'"),
        (["--format", "parquet"], "--format parquet needs --output FILE"),
    ],
)
def test_cli_explains_bad_options(shop: tuple[Path, Path], args: list[str], message: str) -> None:
    folder, map_file = shop
    result = invoke(str(map_file), "-w", str(folder), *args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
