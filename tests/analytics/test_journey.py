"""The journey table: one ordering (actor, ts, event_id), neighbours by window functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load, rows_of
from journeymap.analytics.journey import build_journey

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_build_journey_orders_by_time_then_event_id_and_links_neighbours(con: Any) -> None:
    rows = [
        # written out of order; b and c share a timestamp: event_id decides (e1 < e2)
        {"event_id": "e2", "actor_id": "u1", "ts": T0 + timedelta(seconds=90), "event": "c"},
        {"event_id": "e0", "actor_id": "u1", "ts": T0, "event": "a"},
        {"event_id": "e1", "actor_id": "u1", "ts": T0 + timedelta(seconds=90), "event": "b"},
        {"event_id": "e3", "actor_id": "u2", "ts": T0, "event": "a"},
    ]
    journey = build_journey(load(con, rows))
    got = rows_of(
        journey.select(
            "actor_id",
            "pos",
            "event",
            "prev_event",
            "next_event",
            "secs_to_next",
            "is_first",
            "is_last",
            "n_events",
        ),
        sort=["actor_id", "pos"],
    )
    assert got == [
        # e0 @0s → e1 @90s: 90 seconds; e1 → e2 at the same instant: 0 seconds
        {
            "actor_id": "u1",
            "pos": 0,
            "event": "a",
            "prev_event": None,
            "next_event": "b",
            "secs_to_next": 90.0,
            "is_first": True,
            "is_last": False,
            "n_events": 3,
        },
        {
            "actor_id": "u1",
            "pos": 1,
            "event": "b",
            "prev_event": "a",
            "next_event": "c",
            "secs_to_next": 0.0,
            "is_first": False,
            "is_last": False,
            "n_events": 3,
        },
        {
            "actor_id": "u1",
            "pos": 2,
            "event": "c",
            "prev_event": "b",
            "next_event": None,
            "secs_to_next": None,
            "is_first": False,
            "is_last": True,
            "n_events": 3,
        },
        {
            "actor_id": "u2",
            "pos": 0,
            "event": "a",
            "prev_event": None,
            "next_event": None,
            "secs_to_next": None,
            "is_first": True,
            "is_last": True,
            "n_events": 1,
        },
    ]


def test_build_journey_keeps_microseconds_and_neighbour_times(con: Any) -> None:
    rows = [
        {"event_id": "x", "actor_id": "u", "ts": T0, "event": "a"},
        {
            "event_id": "y",
            "actor_id": "u",
            "ts": T0 + timedelta(days=2, microseconds=7),
            "event": "b",
        },
    ]
    got = rows_of(
        build_journey(load(con, rows)).select(
            "event_id", "t_us", "next_ts", "prev_ts", "secs_to_next"
        )
    )
    t0_us = int(T0.timestamp()) * 1_000_000
    assert got == [
        {
            "event_id": "x",
            "t_us": t0_us,
            "next_ts": T0 + timedelta(days=2, microseconds=7),
            "prev_ts": None,
            "secs_to_next": 172_800.000007,
        },
        {
            "event_id": "y",
            "t_us": t0_us + 172_800_000_007,
            "next_ts": None,
            "prev_ts": T0,
            "secs_to_next": None,
        },
    ]


def test_build_journey_walks_any_event_column(con: Any) -> None:
    rows = [
        {"event_id": "1", "actor_id": "u", "ts": T0, "event": "a", "channel": "web"},
        {"event_id": "2", "actor_id": "u", "ts": T0, "event": "b", "channel": "app"},
    ]
    journey = build_journey(load(con, rows), event="channel")
    got = rows_of(journey.select("event_id", "next_event"))
    assert got == [{"event_id": "1", "next_event": "app"}, {"event_id": "2", "next_event": None}]


_logs = st.lists(
    st.tuples(st.sampled_from("uvw"), st.integers(0, 5), st.sampled_from("abc")),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(log=_logs)
def test_build_journey_matches_a_plain_python_walk(log: list[tuple[str, int, str]]) -> None:
    import ibis

    con = ibis.duckdb.connect()
    rows = [
        {"event_id": f"e{i:02d}", "actor_id": a, "ts": T0 + timedelta(minutes=m), "event": ev}
        for i, (a, m, ev) in enumerate(log)
    ]
    got = rows_of(
        build_journey(load(con, rows)).select("event_id", "pos", "next_event"), sort=["event_id"]
    )
    expected = []
    for actor in sorted({r["actor_id"] for r in rows}):
        mine = sorted(
            (r for r in rows if r["actor_id"] == actor), key=lambda r: (r["ts"], r["event_id"])
        )
        for pos, r in enumerate(mine):
            nxt = mine[pos + 1]["event"] if pos + 1 < len(mine) else None
            expected.append({"event_id": r["event_id"], "pos": pos, "next_event": nxt})
    assert got == sorted(expected, key=lambda r: r["event_id"])
