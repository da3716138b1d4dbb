"""Friction signals: loops, ping-pong, support contact after a step, samples."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load, rows_of
from journeymap.analytics.mapping import map_events
from journeymap.analytics.signals import SignalError, find_signals, pick_support_steps
from journeymap.engines.signals import measure_ping_pongs, measure_signals
from journeymap.insights.evidence import StepSignals
from journeymap.io.maps import load_map
from journeymap.model import JourneyMap

T0 = datetime(2024, 3, 4, tzinfo=UTC)

MAP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "browse",
                "name": "Browse",
                "steps": [
                    {"id": "view", "name": "View", "events": {"match": {"event": "view"}}},
                    {"id": "cart", "name": "Cart", "events": {"match": {"event": "cart"}}},
                ],
            },
            {
                "id": "buy",
                "name": "Buy",
                "steps": [{"id": "pay", "name": "Pay", "events": {"match": {"event": "pay"}}}],
            },
            {
                "id": "care",
                "name": "Care",
                "steps": [
                    {
                        "id": "call",
                        "name": "Calls",
                        "channel": "phone",
                        "events": {"match": {"event": "call"}},
                    }
                ],
            },
        ],
    }
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def journey(actor: str, steps: Sequence[tuple[float, str]]) -> list[dict[str, Any]]:
    """Events of one actor; event ids sort in the order written."""
    return [
        {"event_id": f"{actor}{i:02d}", "actor_id": actor, "ts": at(h), "event": e}
        for i, (h, e) in enumerate(steps)
    ]


# a: view cart view [x] cart view pay call  -> runs v c v c v p call (x matches no step)
# b: view view pay call(200 h later)        -> runs v p call
# c: cart view cart                         -> runs c v c
LOOP_ROWS = [
    *journey(
        "a",
        [
            *[(0, "view"), (1, "cart"), (2, "view"), (3, "x")],
            *[(4, "cart"), (5, "view"), (6, "pay"), (30, "call")],
        ],
    ),
    *journey("b", [(0, "view"), (1, "view"), (2, "pay"), (200, "call")]),
    *journey("c", [(0, "cart"), (1, "view"), (2, "cart")]),
]


def signals_of(con: Any, rows: Sequence[dict[str, Any]], **options: Any) -> Any:
    mapped = map_events(load(con, rows), MAP).table
    return find_signals(mapped, MAP, **options)


def test_loops_count_returns_after_a_later_step_and_bounces_between_pairs(con: Any) -> None:
    s = signals_of(con, LOOP_ROWS)
    # a returns to view twice (runs 3 and 5: view seen before, cart reached before).
    # a's second cart (run 4) is no return: nothing after cart was reached before it.
    # b's second view is a repeat (one run); c's view comes before any view: no return,
    # and c's second cart follows only view, which is earlier than cart.
    assert rows_of(s.loops) == [{"step_id": "view", "step_index": 0, "customers": 1, "returns": 2}]
    assert rows_of(s.loop_actors) == [
        {"actor_id": "a", "step_id": "view", "step_index": 0, "returns": 2}
    ]
    # a: v c v, c v c, v c v = 3 bounces; c: c v c = 1 bounce.
    assert rows_of(s.ping_pong) == [
        {
            "step_a": "view",
            "step_b": "cart",
            "index_a": 0,
            "index_b": 1,
            "customers": 2,
            "bounces": 4,
        }
    ]
    assert rows_of(s.reach, sort=["step_index"]) == [
        {"step_id": "view", "step_index": 0, "customers": 3},
        {"step_id": "cart", "step_index": 1, "customers": 2},
        {"step_id": "pay", "step_index": 2, "customers": 2},
        {"step_id": "call", "step_index": 3, "customers": 2},
    ]


def test_support_counts_contacts_within_the_window_after_the_first_visit(con: Any) -> None:
    s = signals_of(con, LOOP_ROWS)
    # Support step by default: call (channel phone). a calls at 30 h, within 72 h of
    # its first view (0 h), cart (1 h) and pay (6 h); b calls at 200 h, too late after
    # view (0 h) and pay (2 h); c never calls. The call itself has no later call.
    assert s.support_steps == ("call",)
    assert rows_of(s.support, sort=["step_index"]) == [
        {"step_id": "view", "step_index": 0, "customers": 1},
        {"step_id": "cart", "step_index": 1, "customers": 1},
        {"step_id": "pay", "step_index": 2, "customers": 1},
    ]
    # baseline: 2 of the 3 customers (a, b) called at all
    assert rows_of(s.baseline) == [{"customers": 3, "support_customers": 2}]


EDGE_ROWS = [
    # d: a call with the same timestamp as the view but a later event id counts
    {"event_id": "d1", "actor_id": "d", "ts": at(0), "event": "view"},
    {"event_id": "d2", "actor_id": "d", "ts": at(0), "event": "call"},
    # e: same timestamp, the call's event id sorts first: it comes before the view
    {"event_id": "e1", "actor_id": "e", "ts": at(0), "event": "call"},
    {"event_id": "e2", "actor_id": "e", "ts": at(0), "event": "view"},
    # f: exactly 3 days after the view counts (the window is inclusive)
    {"event_id": "f1", "actor_id": "f", "ts": at(0), "event": "view"},
    {"event_id": "f2", "actor_id": "f", "ts": at(72), "event": "call"},
    # g: one second past 3 days does not; the chat matches no step of the map
    {"event_id": "g1", "actor_id": "g", "ts": at(0), "event": "view"},
    {"event_id": "g2", "actor_id": "g", "ts": at(72 + 1 / 3600), "event": "call"},
    {"event_id": "g3", "actor_id": "g", "ts": at(80), "event": "view"},
    {"event_id": "g4", "actor_id": "g", "ts": at(81), "event": "chat"},
]


@pytest.mark.parametrize(
    ("options", "expected", "baseline"),
    [
        # default: the call step; d and f count after view (e's call came first, g's late;
        # g's second view is not its first visit); all four called at some time
        ({}, ["d", "f"], 4),
        # by event name only: the chat, 81 h after g's first view (0 h) -> too late
        ({"support_events": ["chat"]}, [], 1),
        # the call step and the chat, with a 90 h window: d, f, g (call 72 h + 1 s)
        (
            {"support_steps": ["call"], "support_events": ["chat"], "window": timedelta(hours=90)},
            ["d", "f", "g"],
            4,
        ),
    ],
)
def test_support_follows_the_order_of_ts_then_event_id_and_the_chosen_events(
    con: Any, options: dict[str, Any], expected: list[str], baseline: int
) -> None:
    s = signals_of(con, EDGE_ROWS, **options)
    hit = [r["actor_id"] for r in rows_of(s.support_actors) if r["step_id"] == "view"]
    assert hit == expected
    assert rows_of(s.baseline) == [{"customers": 4, "support_customers": baseline}]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_samples_are_the_smallest_md5_digests_on_every_engine(con: Any) -> None:
    actors = [f"cust{i}" for i in range(9)]
    rows = [r for a in actors for r in journey(a, [(0, "view"), (1, "cart"), (2, "view")])]
    s = signals_of(con, rows, sample=3)
    expected = sorted(actors, key=lambda a: (md5(a), a))[:3]
    got = rows_of(s.samples, sort=["rank"])
    assert [r["actor_id"] for r in got] == expected
    assert {(r["kind"], r["step_id"]) for r in got} == {("loop", "view")}


def test_measure_signals_returns_every_step_in_journey_order(con: Any) -> None:
    result = measure_signals(con, map_events(load(con, LOOP_ROWS), MAP).table, MAP, sample=2)
    # numbers from the two hand-worked tests above
    window = 3 * 86400.0
    assert result == (
        StepSignals("view", 3, 1, 2, 1, window, 2 / 3, ("a",), ("a",)),
        StepSignals("cart", 2, 0, 0, 1, window, 2 / 3, (), ("a",)),
        StepSignals("pay", 2, 0, 0, 1, window, 2 / 3, (), ("a",)),
        StepSignals("call", 2, 0, 0, 0, window, 2 / 3, (), ()),
    )
    pairs = measure_ping_pongs(con, map_events(load(con, LOOP_ROWS), MAP).table, MAP)
    assert [(p.step_a, p.step_b, p.customers, p.bounces) for p in pairs] == [("view", "cart", 2, 4)]


@pytest.mark.parametrize("con", ["duckdb"], indirect=True)
def test_without_support_steps_or_events_the_baseline_is_unknown(con: Any) -> None:
    jmap = JourneyMap.model_validate(
        {
            "id": "m",
            "title": "M",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "steps": [{"id": "view", "name": "V", "events": {"match": {"event": "view"}}}],
                }
            ],
        }
    )
    mapped = map_events(load(con, LOOP_ROWS), jmap).table
    (view,) = measure_signals(con, mapped, jmap)
    # a, b and c viewed; nothing counts as support, so no share is claimed
    assert (view.reach, view.support_customers, view.support_baseline) == (3, 0, None)


# --- options and errors (no engine needed to build the expressions) -----------------


def test_default_support_steps_are_phone_or_chat_or_named_support() -> None:
    jmap = JourneyMap.model_validate(
        {
            "id": "m",
            "title": "M",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "steps": [
                        {"id": "a", "name": "A", "channel": "Chat"},
                        {"id": "b", "name": "B", "channel": "web"},
                        {"id": "c", "name": "C", "touchpoint": "Support desk"},
                        {"id": "support-mail", "name": "D", "channel": "email"},
                        {"id": "e", "name": "E", "channel": "phone"},
                    ],
                }
            ],
        }
    )
    assert pick_support_steps(jmap) == ("a", "c", "support-mail", "e")
    assert pick_support_steps(jmap, steps=["e", "b"]) == ("b", "e")


def test_backpack_support_steps_are_the_phone_steps() -> None:
    jmap = load_map(Path(__file__).parents[2] / "examples" / "backpack.yaml")
    assert pick_support_steps(jmap) == ("waits-in-queue", "agent-books-class")


EVENTS_SCHEMA = {"actor_id": "string", "ts": "timestamp('UTC')", "event_id": "string"}


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        ({**EVENTS_SCHEMA, "event": "string"}, {}, "no column 'step_id'.*map the events first"),
        ("mapped", {"support_steps": ["nope"]}, "support step 'nope' is not a step"),
        ("mapped", {"window": timedelta(0)}, "window 0:00:00 is not positive"),
        ("mapped", {"sample": -1}, "sample=-1"),
    ],
)
def test_bad_options_say_what_to_fix(table: Any, options: dict[str, Any], message: str) -> None:
    events = ibis.table({**EVENTS_SCHEMA, "event": "string"}, name="events")
    source = map_events(events, MAP).table if table == "mapped" else ibis.table(table, name="t")
    with pytest.raises(SignalError, match=message):
        find_signals(source, MAP, **options)


# --- property test against a pure-Python reference (DuckDB) -------------------------

STEP_OF = {"view": 0, "cart": 1, "pay": 2, "call": 3}


def reference(rows: Sequence[dict[str, Any]], window: timedelta) -> dict[str, Any]:
    """Loops, bounces and support per step, straight from the definitions."""
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_actor.setdefault(r["actor_id"], []).append(r)
    loops: dict[tuple[int, str], int] = {}
    pairs: dict[tuple[int, int], list[str]] = {}
    support: dict[int, set[str]] = {}
    for actor, events in by_actor.items():
        events.sort(key=lambda r: (r["ts"], r["event_id"]))
        mapped = [(STEP_OF[r["event"]], r) for r in events if r["event"] in STEP_OF]
        runs = [m for k, m in enumerate(mapped) if k == 0 or mapped[k - 1][0] != m[0]]
        for k, (step, _) in enumerate(runs):
            earlier = [s for s, _ in runs[:k]]
            if step in earlier and max(earlier) > step:
                loops[step, actor] = loops.get((step, actor), 0) + 1
            if k >= 2 and runs[k - 2][0] == step:
                pair = (min(step, runs[k - 1][0]), max(step, runs[k - 1][0]))
                pairs.setdefault(pair, []).append(actor)
        calls = [r for s, r in mapped if s == 3]
        for step in {s for s, _ in mapped}:
            first = next(r for s, r in mapped if s == step)
            key = (first["ts"], first["event_id"])
            if any(
                (c["ts"], c["event_id"]) > key and c["ts"] - first["ts"] <= window for c in calls
            ):
                support.setdefault(step, set()).add(actor)
    return {"loops": loops, "pairs": pairs, "support": support}


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


DRAWS = st.lists(
    st.tuples(
        st.sampled_from(["p", "q", "r"]),
        st.integers(0, 12),
        st.sampled_from(["view", "cart", "pay", "call", "other"]),
    ),
    max_size=30,
)


@given(DRAWS, st.integers(1, 6))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_signals_equal_the_python_reference_on_random_logs(
    duck: Any, draws: list[tuple[str, int, str]], window_hours: int
) -> None:
    # hours on a coarse grid, so equal timestamps (broken by event id) are common
    rows = [
        {"event_id": f"e{i:03d}", "actor_id": a, "ts": at(h), "event": e}
        for i, (a, h, e) in enumerate(draws)
    ]
    if not rows:
        return
    window = timedelta(hours=window_hours)
    s = signals_of(duck, rows, window=window)
    ref = reference(rows, window)
    index = {v: k for k, v in STEP_OF.items()}
    assert {(r["step_id"], r["actor_id"]): r["returns"] for r in rows_of(s.loop_actors)} == {
        (index[step], actor): n for (step, actor), n in ref["loops"].items()
    }
    per_step: dict[str, tuple[int, int]] = {}
    for (step, _), n in ref["loops"].items():
        customers, returns = per_step.get(index[step], (0, 0))
        per_step[index[step]] = (customers + 1, returns + n)
    assert {r["step_id"]: (r["customers"], r["returns"]) for r in rows_of(s.loops)} == per_step
    pairs = {(r["step_a"], r["step_b"], r["customers"], r["bounces"]) for r in rows_of(s.ping_pong)}
    assert pairs == {
        (index[a], index[b], len(set(v)), len(v)) for (a, b), v in ref["pairs"].items()
    }
    support = {r["step_id"]: r["customers"] for r in rows_of(s.support)}
    assert support == {index[k]: len(v) for k, v in ref["support"].items()}
