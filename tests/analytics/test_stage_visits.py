"""Stage visits found in one ordering: long visits, ties, unmatched events, stored copies."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load, materialize, rows_of
from journeymap.analytics.timing import measure_stage_times, summarize_stage_visits

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def staged(con: Any, rows: list[tuple[str, str, str | None, float]]) -> Any:
    """Events (event_id, actor, stage, minute), the stage given directly as stage_id."""
    table = load(
        con,
        [{"event_id": i, "actor_id": a, "ts": at(m), "event": "x"} for i, a, _, m in rows],
    )
    stages = {i: s for i, _, s, _ in rows}
    return table.mutate(stage_id=table.event_id.substitute(stages, else_=ibis.null("string")))


# u: A A A (ties at 0: a1 < a2 by event_id) then 'other' at 3 (no split), A at 4,
#    B at 6, B at 6 (tie), A at 9 (open).  v: one event.
WORKED = [
    ("a2", "u", "A", 0),
    ("a1", "u", "A", 0),
    ("a3", "u", "A", 2),
    ("a4", "u", "other", 3),
    ("a5", "u", "A", 4),
    ("b1", "u", "B", 6),
    ("b2", "u", "B", 6),
    ("c1", "u", "A", 9),
    ("d1", "v", "B", 1),
]


@pytest.mark.parametrize(
    "con", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)], indirect=True
)
def test_long_visits_count_their_events_and_start_at_their_first(con: Any) -> None:
    visits = rows_of(measure_stage_times(staged(con, WORKED)).visits, sort=["actor_id", "visit"])
    got = [
        (
            r["actor_id"],
            r["visit"],
            r["stage"],
            r["events"],
            r["entered_at"],
            r["last_event_at"],
            r["left_at"],
            r["next_stage"],
            r["secs"],
        )
        for r in visits
    ]
    # u's first visit: a1, a2 (0), a3 (2), a5 (4) — the 'other' at 3 takes no part —
    # 4 events from 0 to the first B at 6: 360 s. Then B b1, b2 (6) until A at 9: 180 s.
    assert got == [
        ("u", 1, "A", 4, at(0), at(4), at(6), "B", 360.0),
        ("u", 2, "B", 2, at(6), at(6), at(9), "A", 180.0),
        ("u", 3, "A", 1, at(9), at(9), None, None, None),
        ("v", 1, "B", 1, at(1), at(1), None, None, None),
    ]


def test_stages_from_a_stored_copy_of_the_visits_are_the_same() -> None:
    con = ibis.duckdb.connect()
    times = measure_stage_times(staged(con, WORKED))
    stored = materialize(con, times.visits, "visits")
    assert rows_of(times.from_visits(stored).stages) == rows_of(times.stages)
    assert rows_of(summarize_stage_visits(stored)) == rows_of(times.stages)
    con.disconnect()


def reference(rows: list[tuple[str, str, str | None, float]]) -> list[tuple[Any, ...]]:
    """(actor, visit, stage, events, entered minute, last minute) by walking each actor."""
    by_actor: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for event_id, actor, stage, minute in rows:
        if stage not in (None, "other"):
            by_actor[actor].append((minute, event_id, stage))
    out = []
    for actor in sorted(by_actor):
        runs: list[list[tuple[float, str, str]]] = []
        for ev in sorted(by_actor[actor]):
            if runs and runs[-1][0][2] == ev[2]:
                runs[-1].append(ev)
            else:
                runs.append([ev])
        for k, run in enumerate(runs, start=1):
            out.append((actor, k, run[0][2], len(run), at(run[0][0]), at(run[-1][0])))
    return out


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u", "v"]),
            st.sampled_from(["A", "B", "other", None]),
            st.integers(0, 6),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_visits_equal_a_python_walk_on_random_logs(
    draws: list[tuple[str, str | None, int]],
) -> None:
    rows = [(f"e{i:03d}", a, s, float(m)) for i, (a, s, m) in enumerate(draws)]
    con = ibis.duckdb.connect()
    visits = rows_of(measure_stage_times(staged(con, rows)).visits, sort=["actor_id", "visit"])
    got = [
        (r["actor_id"], r["visit"], r["stage"], r["events"], r["entered_at"], r["last_event_at"])
        for r in visits
    ]
    assert got == reference(rows)
    con.disconnect()
