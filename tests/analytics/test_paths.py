"""Paths: worked cases for every option, and a pure-Python reference on random logs."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load, rows_of
from journeymap.analytics import paths as paths_module
from journeymap.analytics.paths import (
    DROP_OFF,
    OTHER,
    PathError,
    Paths,
    build_path_journey,
    discover_paths,
    summarize_paths,
)

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def log(journeys: Mapping[str, Sequence[tuple[str | None, float]]]) -> list[dict[str, Any]]:
    """Events from {actor: [(event, minute), ...]}; event ids keep the written order."""
    return [
        {"event_id": f"{actor}-{i:03d}", "actor_id": actor, "ts": at(minute), "event": event}
        for actor, steps in journeys.items()
        for i, (event, minute) in enumerate(steps)
    ]


def edges(p: Paths) -> dict[tuple[str, str], int]:
    return {(r["source"], r["target"]): r["count"] for r in rows_of(p.transitions)}


def variants(p: Paths) -> dict[tuple[str, ...], int]:
    return {tuple(r["steps"]): r["cases"] for r in rows_of(p.name_variants(top=None))}


def counts(table: Any) -> dict[str, int]:
    return {r["activity"]: r["cases"] for r in rows_of(table)}


def summary(p: Paths) -> dict[str, int]:
    (row,) = rows_of(p.summary)
    return row


# Worked log. a: A B C D at 0, 2, 4, 6 min; b: A B D at 0, 1, 2; c: A B C D at 0, 1, 2, 3;
# d: A A B at 0, 1, 2; e: B alone.
BASIC = log(
    {
        "a": [("A", 0), ("B", 2), ("C", 4), ("D", 6)],
        "b": [("A", 0), ("B", 1), ("D", 2)],
        "c": [("A", 0), ("B", 1), ("C", 2), ("D", 3)],
        "d": [("A", 0), ("A", 1), ("B", 2)],
        "e": [("B", 0)],
    }
)


def test_directly_follows_counts_and_times_by_hand(con: Any) -> None:
    p = discover_paths(load(con, BASIC))
    assert edges(p) == {("A", "B"): 4, ("B", "C"): 2, ("C", "D"): 2, ("B", "D"): 1, ("A", "A"): 1}
    ab = next(r for r in rows_of(p.transitions) if (r["source"], r["target"]) == ("A", "B"))
    # A -> B took 120 s (a), 60 s (b), 60 s (c), 60 s (d: from the second A):
    # mean 75; median of 60, 60, 60, 120 = 60; p90 at rank 0.9 * 3 = 2.7 -> 60 + 0.7 * 60 = 102
    assert (ab["mean_secs"], ab["median_secs"], ab["p90_secs"]) == pytest.approx((75, 60, 102))
    assert (ab["min_secs"], ab["max_secs"]) == (60, 120)


def test_variants_starts_and_ends_by_hand(con: Any) -> None:
    p = discover_paths(load(con, BASIC))
    assert variants(p) == {
        ("A", "B", "C", "D"): 2,
        ("A", "B", "D"): 1,
        ("A", "A", "B"): 1,
        ("B",): 1,
    }
    assert counts(p.start_activities) == {"A": 4, "B": 1}
    assert counts(p.end_activities) == {"D": 3, "B": 2}
    top = rows_of(p.variants, sort=["variant"])
    # ranked by cases, ties by example case: ABCD (a, c) first, then b, d, e
    assert [(r["variant"], r["cases"], r["example_case"]) for r in top] == [
        (1, 2, "a"),
        (2, 1, "b"),
        (3, 1, "d"),
        (4, 1, "e"),
    ]
    assert [r["share"] for r in top] == pytest.approx([0.4, 0.2, 0.2, 0.2])
    assert all(r["verified"] for r in top)
    named = rows_of(p.name_variants(top=1))
    assert [(r["variant"], r["sequence"]) for r in named] == [(1, "A → B → C → D")]
    short = p.variants.filter(p.variants.length == 3)
    chosen = rows_of(p.name_variants(top=None, variants=short))
    assert [(r["variant"], r["sequence"]) for r in chosen] == [(2, "A → B → D"), (3, "A → A → B")]


def test_equal_timestamps_are_ordered_by_event_id(con: Any) -> None:
    rows = [
        {"event_id": "x2", "actor_id": "x", "ts": at(0), "event": "late"},
        {"event_id": "x1", "actor_id": "x", "ts": at(0), "event": "early"},
    ]
    p = discover_paths(load(con, rows))
    assert edges(p) == {("early", "late"): 1}


def test_sankey_has_other_and_drop_off_and_reconciles_with_a_positional_funnel(con: Any) -> None:
    p = discover_paths(load(con, BASIC), sankey_top=1)
    nodes = {(r["position"], r["node"]): r for r in rows_of(p.sankey_nodes)}
    # position 0: A x4 (top), B x1 -> other (e, which drops off at once)
    assert {k: v["cases"] for k, v in nodes.items() if k[0] == 0} == {(0, "A"): 4, (0, OTHER): 1}
    assert nodes[(0, OTHER)]["kind"] == "other" and nodes[(0, OTHER)]["dropped"] == 1
    # position 1: B x3 (a, b, c), A x1 (d) -> other
    assert {k: v["cases"] for k, v in nodes.items() if k[0] == 1} == {(1, "B"): 3, (1, OTHER): 1}
    links = {(r["position"], r["source"], r["target"]): r["cases"] for r in rows_of(p.sankey_links)}
    assert links[(0, "A", "B")] == 3 and links[(0, "A", OTHER)] == 1
    assert links[(0, OTHER, DROP_OFF)] == 1
    # position 2: C x2 (top), then B (d) and D (b) -> other; both end there
    assert links[(2, OTHER, DROP_OFF)] == 2 and links[(2, "C", "D")] == 2
    lengths = Counter(len(seq) * n for seq, n in [(("x",) * 4, 2), (("x",) * 3, 2), (("x",), 1)])
    del lengths
    # funnel over positions: entered k = cases with length > k; entered k = continued + dropped
    path_lengths = [4, 3, 4, 3, 1]
    for k in range(4):
        at_k = [r for (pos, _), r in nodes.items() if pos == k]
        entered = sum(r["cases"] for r in at_k)
        assert entered == sum(1 for n in path_lengths if n > k)
        assert entered == sum(r["continued"] + r["dropped"] + r["stopped"] for r in at_k)
        assert sum(r["dropped"] for r in at_k) == sum(1 for n in path_lengths if n == k + 1)
        out = sum(c for (pos, _, _), c in links.items() if pos == k)
        assert out == sum(r["continued"] + r["dropped"] for r in at_k)


def test_sankey_depth_shows_no_links_out_of_its_last_position(con: Any) -> None:
    p = discover_paths(load(con, BASIC), sankey_depth=2)
    nodes = rows_of(p.sankey_nodes)
    assert {r["position"] for r in nodes} == {0, 1}
    assert {r["position"] for r in rows_of(p.sankey_links)} == {0}
    b1 = next(r for r in nodes if (r["position"], r["node"]) == (1, "B"))
    assert (b1["cases"], b1["continued"], b1["dropped"]) == (3, 3, 0)


def test_collapse_repeats_keeps_the_first_of_a_run_and_times_from_it(con: Any) -> None:
    rows = log({"x": [("A", 0), ("A", 5), ("B", 7), ("B", 8), ("A", 10)]})
    p = discover_paths(load(con, rows), collapse_repeats=True)
    # A A B B A -> A B A; A -> B from the first A at 0 to B at 7 = 420 s; B -> A 7 -> 10 = 180 s
    assert variants(p) == {("A", "B", "A"): 1}
    times = {(r["source"], r["target"]): r["mean_secs"] for r in rows_of(p.transitions)}
    assert times == {("A", "B"): 420.0, ("B", "A"): 180.0}
    assert summary(p)["events_collapsed"] == 2


def test_session_gap_splits_cases_after_inactivity(con: Any) -> None:
    # gaps: 10 min, 40 min, 30 min exactly (not more than 30: same session), 31 min
    rows = log({"x": [("A", 0), ("B", 10), ("A", 50), ("C", 80), ("D", 111)]})
    p = discover_paths(load(con, rows), session_gap=timedelta(minutes=30))
    assert variants(p) == {("A", "B"): 1, ("A", "C"): 1, ("D",): 1}
    cases = {r["case_id"] for r in rows_of(p.journey.select("case_id"))}
    assert cases == {"x#1", "x#2", "x#3"}
    assert edges(p) == {("A", "B"): 1, ("A", "C"): 1}


def test_start_anchor_cuts_before_and_counts_the_cases_without_it(con: Any) -> None:
    p = discover_paths(load(con, BASIC), start_at="B")
    # from the first B: a B C D, b B D, c B C D, d B, e B
    assert variants(p) == {("B", "C", "D"): 2, ("B", "D"): 1, ("B",): 2}
    s = summary(p)
    assert (s["cases"], s["cases_in_paths"], s["events"], s["events_in_paths"]) == (5, 5, 15, 10)
    p2 = discover_paths(load(con, BASIC, "events2"), start_at="C")
    assert variants(p2) == {("C", "D"): 2}
    s2 = summary(p2)
    # b, d and e have no C: their 7 events are left out as no_anchor; a and c lose A, B
    assert (s2["cases_in_paths"], s2["events_outside"], s2["events_in_paths"]) == (2, 11, 4)
    reasons = Counter(r["left_out"] for r in rows_of(p2.journey.select("left_out")))
    assert reasons == {"no_anchor": 7, "outside_window": 4, None: 4}


def test_end_anchor_keeps_the_way_to_it(con: Any) -> None:
    p = discover_paths(load(con, BASIC), end_at="D")
    assert variants(p) == {("A", "B", "C", "D"): 2, ("A", "B", "D"): 1}


def test_start_and_end_anchor_on_the_same_activity_go_to_its_next_occurrence(con: Any) -> None:
    rows = log({"x": [("A", 0), ("B", 1), ("A", 2), ("C", 3)], "y": [("A", 0), ("B", 1)]})
    p = discover_paths(load(con, rows), start_at="A", end_at="A")
    assert variants(p) == {("A", "B", "A"): 1}


def test_steps_before_and_after_count_around_the_anchors(con: Any) -> None:
    rows = log({"x": [("A", 0), ("B", 1), ("C", 2), ("D", 3), ("E", 4), ("F", 5)]})
    events = load(con, rows)
    cases = [
        ({"start_at": "C", "steps_before": 1, "steps_after": 2}, ("B", "C", "D", "E")),
        ({"start_at": "C", "steps_before": 5}, ("A", "B", "C", "D", "E", "F")),
        ({"end_at": "D", "steps_before": 1}, ("C", "D")),
        ({"end_at": "D", "steps_after": 1}, ("A", "B", "C", "D", "E")),
        ({"start_at": "B", "end_at": "D", "steps_after": 1}, ("B", "C", "D", "E")),
        ({"start_at": "B", "depth": 2}, ("B", "C")),
        ({"end_at": "E", "depth": 2}, ("D", "E")),
        ({"depth": 3}, ("A", "B", "C")),
    ]
    for options, expected in cases:
        assert variants(discover_paths(events, **options)) == {expected: 1}, options


def test_group_by_pattern_renames_before_anchors_and_collapsing(con: Any) -> None:
    rows = log(
        {"x": [("view_home", 0), ("view_shoe", 1), ("cart", 2), ("view.x", 3), ("viewer", 4)]}
    )
    p = discover_paths(
        load(con, rows),
        group_by_pattern={"view_*": "browse", "view.?": "dot"},
        collapse_repeats=True,
        start_at="browse",
    )
    # view_home, view_shoe -> browse (collapsed); 'view.x' matches the literal dot;
    # 'viewer' matches neither ('_' is literal in a glob)
    assert variants(p) == {("browse", "cart", "dot", "viewer"): 1}


def test_exclude_leaves_activities_out_and_counts_them(con: Any) -> None:
    rows = log({"x": [("A", 0), ("other", 1), ("B", 2), (None, 3), ("A", 4)]})
    p = discover_paths(load(con, rows), exclude=["other"])
    assert variants(p) == {("A", "B", "A"): 1}
    assert summary(p)["events_excluded"] == 2
    reasons = {
        r["event_id"]: r["left_out"] for r in rows_of(p.journey.select("event_id", "left_out"))
    }
    assert reasons == {
        "x-000": None,
        "x-001": "excluded",
        "x-002": None,
        "x-003": "no_activity",
        "x-004": None,
    }


def test_mapped_steps_can_be_the_activity(con: Any) -> None:
    rows = [{**r, "event": r["event"].lower()} for r in BASIC]
    events = load(con, rows)
    mapped = events.mutate(step_id=ibis.ifelse(events.event.isin(["a", "b"]), "early", "late"))
    p = discover_paths(mapped, activity="step_id", collapse_repeats=True)
    assert variants(p) == {("early", "late"): 3, ("early",): 2}


def test_a_merged_hash_group_is_caught_by_the_check_hash(
    con: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = paths_module._order_hash

    def weak(seed: int, position: Any, activity: Any) -> Any:
        # seeds 1 and 2 only see the position: every sequence of one length collides
        return position * 0 + position if seed in (1, 2) else real(seed, position, activity)

    monkeypatch.setattr(paths_module, "_order_hash", weak)
    p = discover_paths(load(con, BASIC))
    by_length = {r["length"]: r for r in rows_of(p.variants)}
    # ABCD, ABCD: one sequence; ABD and AAB were merged and the check says so
    assert by_length[4]["verified"] and by_length[4]["cases"] == 2
    assert not by_length[3]["verified"] and by_length[3]["cases"] == 2
    assert summary(p)["unverified_variants"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps_before": 2}, "pass start_at or end_at"),
        ({"start_at": "A", "steps_after": -1}, "count steps from 0"),
        ({"depth": 0}, "at least one position"),
        ({"session_gap": timedelta(0)}, "positive duration"),
        ({"activity": "step_id"}, "no column 'step_id'"),
        ({"group_by_pattern": {"": "x"}}, "write a glob"),
        ({"sankey_top": 0}, "at least one activity"),
    ],
)
def test_contradictory_options_say_how_to_fix(options: dict[str, Any], message: str) -> None:
    events = ibis.table(
        {"actor_id": "string", "ts": "timestamp('UTC')", "event_id": "string", "event": "string"},
        name="events",
    )
    with pytest.raises(PathError, match=message):
        discover_paths(events, **options)


# ---------------------------------------------------------------------------------------
# A pure-Python reference of the same semantics, for property tests.


@dataclass(frozen=True)
class Options:
    start_at: str | None = None
    end_at: str | None = None
    steps_before: int | None = None
    steps_after: int | None = None
    depth: int | None = None
    collapse_repeats: bool = False
    session_gap: timedelta | None = None
    group_by_pattern: Mapping[str, str] | None = None
    exclude: tuple[str, ...] = ()


def glob_match(pattern: str, text: str) -> bool:
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(glob_match(pattern[1:], text[i:]) for i in range(len(text) + 1))
    return bool(text) and pattern[0] in ("?", text[0]) and glob_match(pattern[1:], text[1:])


def reference_paths(rows: Sequence[Mapping[str, Any]], o: Options) -> dict[str, Any]:
    """Paths per case as lists of (activity, ts), and whether each path ends its case."""
    by_actor: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_actor[r["actor_id"]].append(r)
    out: dict[str, tuple[list[tuple[str, datetime]], bool]] = {}
    for actor, evs in by_actor.items():
        evs = sorted(evs, key=lambda r: (r["ts"], r["event_id"]))
        sessions: list[list[Mapping[str, Any]]] = []
        prev: Mapping[str, Any] | None = None
        for r in evs:
            if not sessions or (
                o.session_gap is not None
                and prev is not None
                and r["ts"] - prev["ts"] > o.session_gap
            ):
                sessions.append([])
            sessions[-1].append(r)
            prev = r
        for k, session in enumerate(sessions, start=1):
            case = actor if o.session_gap is None else f"{actor}#{k}"
            acts: list[tuple[str, datetime]] = []
            for r in session:
                name = r["event"]
                for pattern, label in (o.group_by_pattern or {}).items():
                    if name is not None and glob_match(pattern, name):
                        name = label
                        break
                if name is None or name in o.exclude:
                    continue
                if o.collapse_repeats and acts and acts[-1][0] == name:
                    continue
                acts.append((name, r["ts"]))
            if not acts:
                continue
            names = [a for a, _ in acts]
            last = len(acts) - 1
            s = e = None
            if o.start_at is not None:
                if o.start_at not in names:
                    continue
                s = names.index(o.start_at)
            if o.end_at is not None:
                after = [i for i, a in enumerate(names) if a == o.end_at and (s is None or i > s)]
                if not after:
                    continue
                e = after[0]
            first_anchor = s if s is not None else e
            last_anchor = e if e is not None else s
            lo, hi = 0, last
            if first_anchor is not None and (s is not None or o.steps_before is not None):
                lo = first_anchor - (o.steps_before or 0)
            if last_anchor is not None and (e is not None or o.steps_after is not None):
                hi = last_anchor + (o.steps_after or 0)
            lo, hi = max(lo, 0), min(hi, last)
            if o.depth is not None:
                if s is None and e is not None:
                    lo = max(lo, hi - (o.depth - 1))
                else:
                    hi = min(hi, lo + (o.depth - 1))
            out[case] = (acts[lo : hi + 1], hi == last)
    return out


def reference_outputs(rows: Sequence[Mapping[str, Any]], o: Options) -> dict[str, Any]:
    cases = reference_paths(rows, o)
    dfg: Counter[tuple[str, str]] = Counter()
    secs: dict[tuple[str, str], list[float]] = defaultdict(list)
    nodes: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path, ends_case in cases.values():
        for (a, ta), (b, tb) in itertools.pairwise(path):
            dfg[(a, b)] += 1
            secs[(a, b)].append((tb - ta).total_seconds())
        for i, (a, _) in enumerate(path):
            node = nodes[(i, a)]
            node[0] += 1
            if i < len(path) - 1:
                node[1] += 1
            elif ends_case:
                node[2] += 1
            else:
                node[3] += 1
    return {
        "dfg": dict(dfg),
        "median": {k: float(np.median(v)) for k, v in secs.items()},
        "p90": {k: float(np.percentile(v, 90)) for k, v in secs.items()},
        "variants": dict(Counter(tuple(a for a, _ in path) for path, _ in cases.values())),
        "starts": dict(Counter(path[0][0] for path, _ in cases.values())),
        "ends": dict(Counter(path[-1][0] for path, _ in cases.values())),
        "nodes": {k: tuple(v) for k, v in nodes.items()},
        "cases_in_paths": len(cases),
    }


def store(events: Any, expr: Any) -> Any:
    """Materialise ``expr`` on the engine of ``events`` (a temp table, or a cached view).

    Not ``expr.cache()``: ibis 12's own drop renders an empty ``DROP TABLE IF EXISTS``
    with the locked sqlglot, and the failed drop surfaces later as an unraisable exception.
    """
    con = events._find_backend()
    name = f"journey_{next(STORED)}"
    if con.name == "duckdb":
        return con.create_table(name, expr, temp=True)
    frame = con._session.sql(con.compile(expr)).cache()
    frame.createOrReplaceTempView(name)
    return con.table(name)


STORED = itertools.count()


def engine_outputs(events: Any, o: Options) -> dict[str, Any]:
    """The engine's outputs, computed the way a large log is: journey stored once, then read."""
    journey = build_path_journey(
        events,
        start_at=o.start_at,
        end_at=o.end_at,
        steps_before=o.steps_before,
        steps_after=o.steps_after,
        depth=o.depth,
        collapse_repeats=o.collapse_repeats,
        session_gap=o.session_gap,
        group_by_pattern=o.group_by_pattern,
        exclude=o.exclude,
    )
    stored = store(events, journey)
    p = summarize_paths(stored, sankey_depth=None, sankey_top=100)
    trans = rows_of(p.transitions)
    totals = summary(p)
    return {
        "dfg": {(r["source"], r["target"]): r["count"] for r in trans},
        "median": {(r["source"], r["target"]): r["median_secs"] for r in trans},
        "p90": {(r["source"], r["target"]): r["p90_secs"] for r in trans},
        "variants": variants(p),
        "starts": counts(p.start_activities),
        "ends": counts(p.end_activities),
        "nodes": {
            (r["position"], r["node"]): (r["cases"], r["continued"], r["dropped"], r["stopped"])
            for r in rows_of(p.sankey_nodes)
        },
        "cases_in_paths": totals["cases_in_paths"],
        "unverified": totals["unverified_variants"],
    }


def assert_same(engine: dict[str, Any], ref: dict[str, Any]) -> None:
    assert engine.pop("unverified") == 0
    for key in ("median", "p90"):
        assert engine.pop(key) == pytest.approx(ref.pop(key))
    assert engine == ref


OPTIONS = st.builds(
    Options,
    start_at=st.sampled_from([None, "A", "B"]),
    end_at=st.sampled_from([None, "C", "A"]),
    steps_before=st.sampled_from([None, 0, 1, 2]),
    steps_after=st.sampled_from([None, 0, 1, 3]),
    depth=st.sampled_from([None, 1, 2, 4]),
    collapse_repeats=st.booleans(),
    session_gap=st.sampled_from([None, timedelta(minutes=3)]),
    group_by_pattern=st.sampled_from([None, {"D*": "D"}, {"?": "X"}]),
    exclude=st.sampled_from([(), ("B",)]),
).filter(lambda o: o.start_at or o.end_at or (o.steps_before is None and o.steps_after is None))

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["u", "v", "w", "x"]),
        st.sampled_from(["A", "B", "C", "D", "Dx", None]),
        st.integers(0, 20),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


def random_rows(draws: Sequence[tuple[str, str | None, int]]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"e{i:03d}", "actor_id": a, "ts": at(m), "event": e}
        for i, (a, e, m) in enumerate(draws)
    ]


@given(EVENTS, OPTIONS)
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_paths_equal_the_python_reference_on_random_logs(
    duck: Any, draws: list[tuple[str, str | None, int]], options: Options
) -> None:
    rows = random_rows(draws)
    if not rows:
        return
    assert_same(engine_outputs(load(duck, rows), options), reference_outputs(rows, options))


SEEDED_OPTIONS = [
    Options(),
    Options(collapse_repeats=True, session_gap=timedelta(minutes=3), exclude=("B",)),
    Options(start_at="A", end_at="C", steps_before=1, steps_after=1),
    Options(end_at="C", depth=3, group_by_pattern={"D*": "D"}),
]


@pytest.mark.parametrize("options", SEEDED_OPTIONS, ids=range(len(SEEDED_OPTIONS)))
def test_paths_equal_the_python_reference_on_every_engine(con: Any, options: Options) -> None:
    rng = random.Random(7)
    draws = [
        (rng.choice("uvwxyz"), rng.choice(["A", "B", "C", "D", "Dx"]), rng.randint(0, 40))
        for _ in range(200)
    ]
    rows = random_rows(draws)
    assert_same(engine_outputs(load(con, rows), options), reference_outputs(rows, options))


# ---------------------------------------------------------------------------------------
# The command line.

SHOP_CSV = """\
actor_id,ts,event,region
u1,2024-01-01T00:00:00Z,view,kr
u1,2024-01-01T00:10:00Z,cart,kr
u1,2024-01-01T00:20:00Z,pay,kr
u2,2024-01-01T00:00:00Z,view,us
u2,2024-01-01T00:05:00Z,cart,us
u3,2024-01-02T00:00:00Z,view,
u3,2024-01-02T00:01:00Z,view,
"""


@pytest.fixture
def shop(ws: Any, tmp_path: Any) -> Any:
    """A workspace with seven events of three customers."""
    from journeymap.io.workspace import import_source

    csv = tmp_path / "events.csv"
    csv.write_text(SHOP_CSV, encoding="utf-8")
    import_source(ws, csv, progress=False)
    ws.close()
    return ws.path


def invoke(command: str, *args: str) -> Any:
    import typer
    from typer.testing import CliRunner

    from journeymap.cli import analytics_paths

    app = typer.Typer()
    app.command(command)(getattr(analytics_paths, f"{command}_command"))
    app.command("noop", hidden=True)(lambda: None)  # keeps the command a subcommand
    return CliRunner().invoke(app, [command, *args])


def test_cli_paths_prints_summary_variants_and_transitions(shop: Any) -> None:
    result = invoke("paths", "-w", str(shop))
    assert result.exit_code == 0, result.output
    assert "view → cart → pay" in result.output and "view → view" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("│ view ")]
    # view -> cart: u1 (10 min) and u2 (5 min): 2 times, mean 7.5 min
    assert any("│ cart " in line and " 2 " in line and "7.5m" in line for line in lines)


def test_cli_paths_writes_json_and_csv(shop: Any, tmp_path: Any) -> None:
    import json

    result = invoke("paths", "-w", str(shop), "--format", "json", "--show", "variants")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert {r["sequence"]: r["cases"] for r in rows} == {
        "view → cart → pay": 1,
        "view → cart": 1,
        "view → view": 1,
    }
    out = tmp_path / "t.csv"
    result = invoke("paths", "-w", str(shop), "-f", "csv", "-o", str(out), "--collapse-repeats")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith('"source","target","count"')
    assert '"view","cart",2' in text and '"view","view"' not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group", "view"], "write PATTERN=NAME"),
        (["--format", "parquet"], "needs --output FILE"),
        (["--by", "step"], "needs the journey map"),
        (["--session-gap", "soon"], "not a duration"),
        (["--steps-after", "2"], "pass start_at or end_at"),
        (["--show", "everything"], "choose one of"),
    ],
)
def test_cli_paths_explains_bad_options(shop: Any, args: list[str], message: str) -> None:
    result = invoke("paths", "-w", str(shop), *args)
    assert result.exit_code == 1
    assert message in result.output


@pytest.mark.parametrize(
    "moment",
    [
        "1969-12-31T23:59:59.500000+00:00",  # before the epoch
        "2024-03-31T01:30:00.123456+00:00",  # the night clocks change in Europe
        "2024-10-27T01:00:00.000001+00:00",
        "2038-01-19T03:14:08.999999+00:00",  # past 32-bit seconds
    ],
)
def test_fast_epoch_micros_equal_the_portable_form(con: Any, moment: str) -> None:
    from journeymap.analytics.journey import micros_since_epoch
    from journeymap.analytics.paths import epoch_micros

    events = load(con, [{"actor_id": "x", "ts": datetime.fromisoformat(moment), "event": "a"}])
    (row,) = rows_of(
        events.select(fast=epoch_micros(events.ts), portable=micros_since_epoch(events.ts))
    )
    expected = (datetime.fromisoformat(moment) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )
    assert row == {"fast": expected, "portable": expected}


def test_unbound_expressions_use_the_portable_epoch_micros() -> None:
    from journeymap.analytics.journey import micros_since_epoch
    from journeymap.analytics.paths import epoch_micros

    t = ibis.table({"ts": "timestamp('UTC')"}, name="events")
    assert epoch_micros(t.ts).equals(micros_since_epoch(t.ts))
