"""Timing: time in stage, time between steps and current stages, by hand and by reference."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load, rows_of
from journeymap.analytics.mapping import map_events
from journeymap.analytics.timing import (
    TimingError,
    find_current_stages,
    measure_stage_times,
    measure_time_between,
)
from journeymap.model import JourneyMap

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def log(journeys: Mapping[str, Sequence[tuple[str | None, float]]]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{actor}-{i:03d}", "actor_id": actor, "ts": at(minute), "event": event}
        for actor, steps in journeys.items()
        for i, (event, minute) in enumerate(steps)
    ]


# Stages: aware (event 'ad'), consider (event 'view'), buy (event 'order').
JMAP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "aware",
                "name": "Aware",
                "steps": [{"id": "ad", "name": "Ad", "events": {"match": {"event": "ad"}}}],
            },
            {
                "id": "consider",
                "name": "Consider",
                "steps": [{"id": "view", "name": "View", "events": {"match": {"event": "view"}}}],
            },
            {
                "id": "buy",
                "name": "Buy",
                "steps": [
                    {"id": "order", "name": "Order", "events": {"match": {"event": "order"}}}
                ],
            },
        ],
    }
)

# p: aware 0-20 min (an unmatched 'chat' at 15 does not end it), consider 20-30,
#    aware again 30-50, buy from 50 (open);  q: aware 0-5, consider from 5 (open, last
#    event at 8);  r: buy at 100 (open).
WORKED = log(
    {
        "p": [("ad", 0), ("ad", 10), ("chat", 15), ("view", 20), ("ad", 30), ("order", 50)],
        "q": [("ad", 0), ("view", 5), ("view", 8)],
        "r": [("order", 100)],
    }
)


def mapped(con: Any, rows: list[dict[str, Any]] = WORKED, name: str = "events") -> Any:
    return map_events(load(con, rows, name), JMAP).table


def test_visits_and_time_in_stage_by_hand(con: Any) -> None:
    times = measure_stage_times(mapped(con))
    visits = [
        (r["actor_id"], r["visit"], r["stage"], r["secs"], r["next_stage"], r["events"])
        for r in rows_of(times.visits, sort=["actor_id", "visit"])
    ]
    assert visits == [
        ("p", 1, "aware", 1200.0, "consider", 2),
        ("p", 2, "consider", 600.0, "aware", 1),
        ("p", 3, "aware", 1200.0, "buy", 1),
        ("p", 4, "buy", None, None, 1),
        ("q", 1, "aware", 300.0, "consider", 1),
        ("q", 2, "consider", None, None, 2),
        ("r", 1, "buy", None, None, 1),
    ]
    stages = {r["stage"]: r for r in rows_of(times.stages)}
    # aware: 1200, 1200, 300 s -> mean 900, median 1200, p90 at rank 1.8 -> 1200
    aware = stages["aware"]
    assert (aware["visits"], aware["actors"], aware["completed"], aware["open"]) == (3, 2, 3, 0)
    assert (aware["mean_secs"], aware["median_secs"], aware["p90_secs"]) == pytest.approx(
        (900, 1200, 1200)
    )
    assert (stages["consider"]["completed"], stages["consider"]["open"]) == (1, 1)
    assert (stages["buy"]["completed"], stages["buy"]["open"], stages["buy"]["median_secs"]) == (
        0,
        2,
        None,
    )


def test_open_visits_run_until_the_latest_event_without_as_of(con: Any) -> None:
    visits = rows_of(measure_stage_times(mapped(con)).visits, sort=["actor_id", "visit"])
    so_far = {(r["actor_id"], r["visit"]): r["secs_so_far"] for r in visits if r["is_open"]}
    # latest event: r's order at 100 min; p's buy from 50 -> 3000 s; q's consider from 5 -> 5700 s
    assert so_far == {("p", 4): 3000.0, ("q", 2): 5700.0, ("r", 1): 0.0}


def test_as_of_ignores_later_events(con: Any) -> None:
    times = measure_stage_times(mapped(con), as_of=at(25))
    visits = [
        (r["actor_id"], r["stage"], r["secs"], r["secs_so_far"])
        for r in rows_of(times.visits, sort=["actor_id", "visit"])
    ]
    # at 25 min: p aware 0-20 done, consider since 20 (300 s); q aware 0-5, consider since 5
    assert visits == [
        ("p", "aware", 1200.0, None),
        ("p", "consider", None, 300.0),
        ("q", "aware", 300.0, None),
        ("q", "consider", None, 1200.0),
    ]


def test_time_in_step_uses_the_step_column(con: Any) -> None:
    rows = log({"x": [("ad", 0), ("view", 3), ("order", 10)]})
    stages = rows_of(measure_stage_times(mapped(con, rows), stage="step_id").stages)
    assert {r["stage"]: r["median_secs"] for r in stages} == {
        "ad": 180.0,
        "view": 420.0,
        "order": None,
    }


def test_current_stage_and_stuck_filter_by_hand(con: Any) -> None:
    events = mapped(con)
    now = find_current_stages(events, as_of=at(25))
    rows = [
        (r["actor_id"], r["stage"], r["secs_in_stage"], r["secs_since_last_event"], r["stuck"])
        for r in rows_of(now.actors)
    ]
    # p: consider since 20 (300 s), last event 20; q: consider since 5 (1200 s), last at 8 (1020 s)
    assert rows == [("p", "consider", 300.0, 300.0, None), ("q", "consider", 1200.0, 1020.0, None)]
    stuck = find_current_stages(events, as_of=at(25), stuck_longer_than=timedelta(minutes=10))
    assert [(r["actor_id"], r["stuck"]) for r in rows_of(stuck.actors)] == [("q", True)]
    (consider,) = rows_of(stuck.stages)
    assert (consider["stage"], consider["actors"], consider["stuck"]) == ("consider", 2, 1)
    assert (consider["median_secs"], consider["max_secs"]) == (750.0, 1200.0)


def test_as_of_without_timezone_is_utc(con: Any) -> None:
    naive = find_current_stages(mapped(con), as_of=at(25).replace(tzinfo=None))
    assert {r["actor_id"]: r["secs_in_stage"] for r in rows_of(naive.actors)} == {
        "p": 300.0,
        "q": 1200.0,
    }


def test_time_between_first_start_and_next_end_by_hand(con: Any) -> None:
    result = measure_time_between(load(con, WORKED), start="ad", end="order")
    rows = [(r["actor_id"], r["secs"], r["waiting_secs"]) for r in rows_of(result.actors)]
    # p: ad at 0 -> order at 50 = 3000 s; q: never ordered, waiting since 0 until 100 = 6000 s
    assert rows == [("p", 3000.0, None), ("q", None, 6000.0)]
    (summary,) = rows_of(result.summary)
    assert (summary["started"], summary["reached"], summary["median_secs"]) == (2, 1, 3000.0)


def test_time_between_an_activity_and_its_next_occurrence(con: Any) -> None:
    result = measure_time_between(load(con, WORKED), start="ad", end="ad")
    assert {r["actor_id"]: r["secs"] for r in rows_of(result.actors)} == {"p": 600.0, "q": None}


@pytest.mark.parametrize(("end_id", "expected"), [("x-2", 0.0), ("x-0", 300.0)])
def test_time_between_orders_equal_timestamps_by_event_id(
    con: Any, end_id: str, expected: float
) -> None:
    rows = [
        {"event_id": "x-1", "actor_id": "x", "ts": at(0), "event": "signup"},
        {"event_id": end_id, "actor_id": "x", "ts": at(0), "event": "buy"},
        {"event_id": "x-9", "actor_id": "x", "ts": at(5), "event": "buy"},
    ]
    result = measure_time_between(load(con, rows), start="signup", end="buy")
    assert [r["secs"] for r in rows_of(result.actors)] == [expected]


def test_time_between_mapped_steps(con: Any) -> None:
    result = measure_time_between(mapped(con), start="view", end="order", activity="step_id")
    # p: view at 20 -> order at 50 = 1800 s; q: view, never ordered
    assert {r["actor_id"]: r["secs"] for r in rows_of(result.actors)} == {"p": 1800.0, "q": None}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: measure_stage_times(t, stage="stage"), "no column 'stage'"),
        (lambda t: measure_time_between(t, start="", end="b"), "name both ends"),
        (lambda t: find_current_stages(t, stuck_longer_than=timedelta(days=-1)), "zero or more"),
    ],
)
def test_bad_timing_options_say_how_to_fix(call: Any, message: str) -> None:
    t = ibis.table(
        {
            "actor_id": "string",
            "ts": "timestamp('UTC')",
            "event_id": "string",
            "event": "string",
            "stage_id": "string",
        },
        name="events",
    )
    with pytest.raises(TimingError, match=message):
        call(t)


# ---------------------------------------------------------------------------------------
# Pure-Python reference.


def reference_visits(
    rows: Sequence[Mapping[str, Any]], as_of: datetime | None
) -> list[tuple[str, str, float | None, float | None]]:
    """(actor, stage, secs or None, secs_so_far or None) per visit, in actor/time order."""
    moment = as_of if as_of is not None else max(r["ts"] for r in rows)
    by_actor: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["stage"] in (None, "other") or (as_of is not None and r["ts"] > as_of):
            continue
        by_actor[r["actor_id"]].append(r)
    out = []
    for actor in sorted(by_actor):
        evs = sorted(by_actor[actor], key=lambda r: (r["ts"], r["event_id"]))
        runs: list[list[Mapping[str, Any]]] = []
        for r in evs:
            if runs and runs[-1][0]["stage"] == r["stage"]:
                runs[-1].append(r)
            else:
                runs.append([r])
        for i, run in enumerate(runs):
            start = run[0]["ts"]
            if i + 1 < len(runs):
                out.append(
                    (actor, run[0]["stage"], (runs[i + 1][0]["ts"] - start).total_seconds(), None)
                )
            else:
                out.append((actor, run[0]["stage"], None, (moment - start).total_seconds()))
    return out


def reference_between(
    rows: Sequence[Mapping[str, Any]], start: str, end: str
) -> dict[str, float | None]:
    by_actor: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_actor[r["actor_id"]].append(r)
    out: dict[str, float | None] = {}
    for actor, evs in by_actor.items():
        evs = sorted(evs, key=lambda r: (r["ts"], r["event_id"]))
        names = [r["stage"] for r in evs]
        if start not in names:
            continue
        i = names.index(start)
        j = next((k for k in range(i + 1, len(evs)) if names[k] == end), None)
        out[actor] = None if j is None else (evs[j]["ts"] - evs[i]["ts"]).total_seconds()
    return out


def random_rows(draws: Sequence[tuple[str, str | None, int]]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"e{i:03d}", "actor_id": a, "ts": at(m), "event": "x", "stage_id": s}
        for i, (a, s, m) in enumerate(draws)
    ]


def load_staged(con: Any, rows: list[dict[str, Any]]) -> Any:
    table = load(con, [{k: v for k, v in r.items() if k != "stage_id"} for r in rows])
    stages = {r["event_id"]: r["stage_id"] for r in rows}
    return table.mutate(stage_id=table.event_id.substitute(stages, else_=ibis.null("string")))


def engine_visits(
    events: Any, as_of: datetime | None
) -> list[tuple[str, str, float | None, float | None]]:
    visits = rows_of(measure_stage_times(events, as_of=as_of).visits, sort=["actor_id", "visit"])
    return [(r["actor_id"], r["stage"], r["secs"], r["secs_so_far"]) for r in visits]


def check_against_reference(
    events: Any, rows: list[dict[str, Any]], as_of: datetime | None
) -> None:
    staged = [dict(r, stage=r["stage_id"]) for r in rows]
    assert engine_visits(events, as_of) == reference_visits(staged, as_of)  # whole minutes: exact
    between = measure_time_between(events, start="s1", end="s2", activity="stage_id")
    got = {r["actor_id"]: r["secs"] for r in rows_of(between.actors)}
    assert got == reference_between(staged, "s1", "s2")
    ref_stages: dict[str, list[float]] = defaultdict(list)
    for _, stage, secs, _ in reference_visits(staged, as_of):
        if secs is not None:
            ref_stages[stage].append(secs)
    for r in rows_of(measure_stage_times(events, as_of=as_of).stages):
        done = ref_stages.get(r["stage"], [])
        assert r["completed"] == len(done)
        if done:
            assert r["median_secs"] == pytest.approx(float(np.median(done)))
            assert r["p90_secs"] == pytest.approx(float(np.percentile(done, 90)))


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u", "v", "w"]),
            st.sampled_from(["s1", "s2", "s3", "other", None]),
            st.integers(0, 15),
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([None, 5, 12]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_timing_equals_the_python_reference_on_random_logs(
    duck: Any, draws: list[tuple[str, str | None, int]], as_of_minute: int | None
) -> None:
    rows = random_rows(draws)
    as_of = None if as_of_minute is None else at(as_of_minute)
    if as_of is not None and all(r["ts"] > as_of or r["stage_id"] in (None, "other") for r in rows):
        return
    check_against_reference(load_staged(duck, rows), rows, as_of)


@pytest.mark.parametrize("as_of_minute", [None, 20])
def test_timing_equals_the_python_reference_on_every_engine(
    con: Any, as_of_minute: int | None
) -> None:
    rng = random.Random(11)
    draws = [
        (rng.choice("uvwxyz"), rng.choice(["s1", "s2", "s3", "other", None]), rng.randint(0, 40))
        for _ in range(150)
    ]
    rows = random_rows(draws)
    as_of = None if as_of_minute is None else at(as_of_minute)
    check_against_reference(load_staged(con, rows), rows, as_of)


# ---------------------------------------------------------------------------------------
# The command line.

SHOP_CSV = """\
actor_id,ts,event
p,2024-06-03T09:00:00Z,ad
p,2024-06-03T09:10:00Z,ad
p,2024-06-03T09:15:00Z,chat
p,2024-06-03T09:20:00Z,view
p,2024-06-03T09:30:00Z,ad
p,2024-06-03T09:50:00Z,order
q,2024-06-03T09:00:00Z,ad
q,2024-06-03T09:05:00Z,view
q,2024-06-03T09:08:00Z,view
r,2024-06-03T10:40:00Z,order
"""


@pytest.fixture
def shop(ws: Any, tmp_path: Any) -> Any:
    """The worked log above, imported into a workspace, and its map as a file."""
    from journeymap.io.maps import dump_map
    from journeymap.io.workspace import import_source

    csv = tmp_path / "events.csv"
    csv.write_text(SHOP_CSV, encoding="utf-8")
    import_source(ws, csv, progress=False)
    ws.close()
    map_file = tmp_path / "shop.yaml"
    map_file.write_text(dump_map(JMAP), encoding="utf-8")
    return ws.path, map_file


def invoke(*args: str) -> Any:
    import typer
    from typer.testing import CliRunner

    from journeymap.cli import analytics_paths

    app = typer.Typer()
    app.command("timing")(analytics_paths.timing_command)
    app.command("noop", hidden=True)(lambda: None)
    return CliRunner().invoke(app, ["timing", *args])


def test_cli_timing_prints_time_in_stage_in_map_order(shop: Any) -> None:
    folder, map_file = shop
    result = invoke("-w", str(folder), "-m", str(map_file))
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["aware", "consider", "buy"]
    assert "15.0m" in rows[0]  # aware: mean of 20, 20 and 5 minutes
    assert "10.0% of events match no step of the map" in result.output  # chat, 1 of 10


def test_cli_timing_lists_stuck_customers_as_json(shop: Any) -> None:
    import json

    folder, map_file = shop
    args = ["-w", str(folder), "-m", str(map_file), "--report", "current"]
    result = invoke(*args, "--as-of", "2024-06-03T09:25:00Z", "--longer-than", "10m", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(r["actor_id"], r["stage"], r["secs_in_stage"]) for r in doc["rows"]] == [
        ("q", "consider", 1200.0)
    ]


def test_cli_timing_between_two_events(shop: Any) -> None:
    import json

    folder, _ = shop
    result = invoke(
        "-w", str(folder), "--report", "between", "--from", "ad", "--to", "order", "-f", "json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["started"] == 2 and doc["summary"]["median_secs"] == 3000.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report", "between", "--from", "ad"], "needs --from NAME and --to NAME"),
        (["--report", "stages"], "needs the journey map"),
        (["--longer-than", "7d"], "belongs to --report current"),
        (["--as-of", "yesterday"], "not a date or time"),
    ],
)
def test_cli_timing_explains_bad_options(shop: Any, args: list[str], message: str) -> None:
    folder, _ = shop
    result = invoke("-w", str(folder), *args)
    assert result.exit_code == 1
    assert message in result.output
