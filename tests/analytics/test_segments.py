"""Segments: breakdown by persona, column and period on every engine; significance tests."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from conftest import load, rows_of
from journeymap.analytics.mapping import resolve_field
from journeymap.analytics.segments import (
    SegmentError,
    attach_segments,
    compare_conversion,
    compare_values,
    count_conversions,
    segment_actors,
    summarize_values,
)
from journeymap.model.persona import Persona

T0 = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)  # a Wednesday; its ISO week starts 2024-03-04


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# a: north then south (first -> north, last -> south), web then app, loyal
# b: two events at the same instant; event_id decides the order: e-b1 (east) before e-b2 (west)
# c: no region at all; first event in the next month
# d: app only, not in the customers table
EVENTS: list[dict[str, Any]] = [
    {
        "event_id": "e-a1",
        "actor_id": "a",
        "ts": at(0),
        "event": "visit",
        "region": "north",
        "channel": "web",
    },
    {
        "event_id": "e-a2",
        "actor_id": "a",
        "ts": at(60),
        "event": "buy",
        "region": "south",
        "channel": "app",
    },
    {
        "event_id": "e-b2",
        "actor_id": "b",
        "ts": at(5),
        "event": "visit",
        "region": "west",
        "channel": "web",
    },
    {
        "event_id": "e-b1",
        "actor_id": "b",
        "ts": at(5),
        "event": "visit",
        "region": "east",
        "channel": "web",
    },
    {
        "event_id": "e-c1",
        "actor_id": "c",
        "ts": at(60 * 24 * 30),
        "event": "visit",
        "channel": "web",
    },
    {
        "event_id": "e-d1",
        "actor_id": "d",
        "ts": at(-60 * 24 * 3),
        "event": "visit",
        "region": "north",
        "channel": "app",
        "properties": {"plan": "pro"},
    },
]

CUSTOMERS = pa.table(
    {
        "actor_id": ["a", "b", "c"],
        "loyalty_member": [True, False, True],
        "state": ["SP", "RJ", None],
    }
)


def load_customers(con: Any) -> Any:
    if con.name == "duckdb":
        con.con.register("customers__arrow", CUSTOMERS)
        con.con.execute('CREATE OR REPLACE TABLE customers AS SELECT * FROM "customers__arrow"')
        con.con.unregister("customers__arrow")
    else:
        con._session.createDataFrame(CUSTOMERS.to_pandas()).createOrReplaceTempView("customers")
    return con.table("customers")


def as_dict(table: Any, key: str = "actor_id", value: str = "segment") -> dict[str, Any]:
    return {r[key]: r[value] for r in rows_of(table)}


@pytest.mark.parametrize(
    ("attribution", "expected"),
    [
        ("first", {"a": "north", "b": "east", "c": "unassigned", "d": "north"}),
        ("last", {"a": "south", "b": "west", "c": "unassigned", "d": "north"}),
    ],
)
def test_region_comes_from_the_first_or_last_event_with_event_id_breaking_ties(
    con: Any, attribution: str, expected: dict[str, str]
) -> None:
    events = load(con, EVENTS)
    seg = segment_actors(events, by="region", attribution=attribution)  # type: ignore[arg-type]
    assert as_dict(seg) == expected


def test_a_property_path_segments_like_a_column(con: Any) -> None:
    # Only d's event carries properties.plan ("pro"); a, b and c have none: unassigned.
    seg = segment_actors(load(con, EVENTS), by="properties.plan")
    assert as_dict(seg) == {"a": "unassigned", "b": "unassigned", "c": "unassigned", "d": "pro"}


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # a, b: Wed 2024-03-06; c: 30 days later, Fri 2024-04-05; d: Sun 2024-03-03
        ("day", {"a": "2024-03-06", "b": "2024-03-06", "c": "2024-04-05", "d": "2024-03-03"}),
        ("week", {"a": "2024-03-04", "b": "2024-03-04", "c": "2024-04-01", "d": "2024-02-26"}),
        ("month", {"a": "2024-03-01", "b": "2024-03-01", "c": "2024-04-01", "d": "2024-03-01"}),
    ],
)
def test_period_is_the_first_event_day_week_or_month(
    con: Any, period: str, expected: dict[str, str]
) -> None:
    seg = segment_actors(load(con, EVENTS), by="period", period=period)  # type: ignore[arg-type]
    assert as_dict(seg) == expected


def test_a_customers_column_wins_over_events_and_missing_rows_are_unassigned(con: Any) -> None:
    seg = segment_actors(load(con, EVENTS), by="state", customers=load_customers(con))
    assert as_dict(seg) == {"a": "SP", "b": "RJ", "c": "unassigned", "d": "unassigned"}


PERSONAS = [
    Persona.model_validate(
        {"id": "loyal", "name": "Loyal", "segment": {"where": {"loyalty_member": True}}}
    ),
    Persona.model_validate(
        {"id": "app-user", "name": "App user", "segment": {"where": {"channel": "app"}}}
    ),
    Persona.model_validate({"id": "no-rule", "name": "Nobody"}),
    Persona.model_validate(
        {"id": "pro", "name": "Pro", "segment": {"where": {"properties.plan": "pro"}}}
    ),
]


def test_personas_match_in_map_order_on_customers_and_events(con: Any) -> None:
    # a: loyal (customers) and used the app (events) -> first in map order: loyal, 2 matches
    # b: not loyal, web only -> unassigned; c: loyal; d: no customer row, app + plan pro
    seg = segment_actors(
        load(con, EVENTS), by="persona", personas=PERSONAS, customers=load_customers(con)
    )
    assert as_dict(seg) == {"a": "loyal", "b": "unassigned", "c": "loyal", "d": "app-user"}
    assert as_dict(seg, value="personas_matched") == {"a": 2, "b": 0, "c": 1, "d": 2}


def test_a_persona_rule_can_mix_customer_and_event_fields(con: Any) -> None:
    both = Persona.model_validate(
        {
            "id": "loyal-app",
            "name": "L",
            "segment": {"where": {"loyalty_member": True, "channel": "app"}},
        }
    )
    seg = segment_actors(
        load(con, EVENTS), by="persona", personas=[both], customers=load_customers(con)
    )
    # only a is loyal AND has an app event; c is loyal without app; d has app but no row
    assert as_dict(seg) == {
        "a": "loyal-app",
        "b": "unassigned",
        "c": "unassigned",
        "d": "unassigned",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "nope"}, "no column 'nope' in the events; use persona, period or one of"),
        (
            {"by": "persona", "personas": PERSONAS[:2]},
            "segment field 'loyalty_member' names no column",
        ),
        ({"by": "persona", "personas": PERSONAS[2:3]}, "no persona has a segment rule"),
        ({"by": "period", "period": "year"}, "use day, week or month"),
        ({"by": "region", "attribution": "middle"}, "use 'first' or 'last'"),
    ],
)
def test_impossible_breakdowns_say_how_to_fix(kwargs: dict[str, Any], message: str) -> None:
    events = ibis.table(
        {
            "event_id": "string",
            "actor_id": "string",
            "ts": "timestamp('UTC')",
            "region": "string",
            "channel": "string",
        },
        name="events",
    )
    with pytest.raises(SegmentError, match=message):
        segment_actors(events, **kwargs)


def test_attach_keeps_every_row_and_counts_conversions_per_segment(con: Any) -> None:
    events = load(con, EVENTS)
    seg = segment_actors(events, by="channel")  # a web, b web, c web, d app
    tagged = attach_segments(events, seg)
    assert tagged.count().execute() == len(EVENTS)
    bought = tagged.mutate(converted=tagged.event == "buy")
    # web: a, b, c (a bought) -> 1/3; app: d -> 0/1
    rows = rows_of(count_conversions(bought), sort=["segment"])
    assert [(r["segment"], r["actors"], r["converted"]) for r in rows] == [
        ("app", 1, 0),
        ("web", 3, 1),
    ]
    assert rows[1]["rate"] == pytest.approx(1 / 3)


def test_an_actor_the_segments_do_not_know_is_unassigned(con: Any) -> None:
    events = load(con, EVENTS)
    seg = segment_actors(events.filter(events.actor_id != "d"), by="channel")
    tagged = rows_of(attach_segments(events, seg).select("actor_id", "segment"))
    assert {r["actor_id"]: r["segment"] for r in tagged}["d"] == "unassigned"


def test_summarize_values_matches_numpy_per_segment(con: Any) -> None:
    rows = [
        {"actor_id": f"u{i}", "ts": at(i), "event": "x", "region": region, "properties": {"v": v}}
        for i, (region, v) in enumerate(
            [("n", 1.0), ("n", 2.0), ("n", 3.0), ("n", 10.0), ("s", 4.0), ("s", 4.0), ("s", None)]
        )
    ]
    events = load(con, rows)
    table = events.mutate(
        value=resolve_field("properties.v", events).try_cast("float64"), segment=events.region
    )
    out = {r["segment"]: r for r in rows_of(summarize_values(table, value="value"))}
    # n: 1,2,3,10 -> mean 4, sample sd sqrt(((-3)^2+(-2)^2+(-1)^2+6^2)/3) = sqrt(50/3),
    #    median 2.5, p90 (linear) = 3 + 0.7 * 7 = 7.9; s: 4,4 and one null
    assert out["n"]["count"] == 4 and out["n"]["mean"] == pytest.approx(4.0)
    assert out["n"]["std"] == pytest.approx((50 / 3) ** 0.5)
    assert (out["n"]["median"], out["n"]["p90"]) == pytest.approx((2.5, 7.9))
    assert (out["s"]["count"], out["s"]["missing"], out["s"]["std"]) == (2, 1, 0.0)


def conversions_by_region(events: Any) -> dict[str, tuple[int, int]]:
    tagged = attach_segments(events, segment_actors(events, by="region"))
    counted = count_conversions(tagged.mutate(converted=tagged.event == "buy"))
    return {r["segment"]: (r["actors"], r["converted"]) for r in rows_of(counted)}


def reference_conversions(draws: list[tuple[str, str | None, bool]]) -> dict[str, tuple[int, int]]:
    first_region: dict[str, str] = {}
    bought_any: dict[str, bool] = defaultdict(bool)
    for a, r, b in draws:  # draws are in time order: the first row is the first event
        first_region.setdefault(a, r or "unassigned")
        bought_any[a] |= b
    ref: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a, r in first_region.items():
        ref[r][0] += 1
        ref[r][1] += bought_any[a]
    return {k: (v[0], v[1]) for k, v in ref.items()}


def draws_as_rows(draws: list[tuple[str, str | None, bool]]) -> list[dict[str, Any]]:
    return [
        {"actor_id": a, "ts": at(i), "event": "buy" if bought else "visit", "region": r}
        for i, (a, r, bought) in enumerate(draws)
    ]


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x", "y", "z"]), st.sampled_from(["r1", "r2", None]), st.booleans()
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_conversion_counts_equal_a_python_reference(
    duck: Any, draws: list[tuple[str, str | None, bool]]
) -> None:
    events = load(duck, draws_as_rows(draws))
    assert conversions_by_region(events) == reference_conversions(draws)


def test_conversion_counts_equal_the_python_reference_on_every_engine(con: Any) -> None:
    rng = random.Random(5)
    draws = [
        (f"a{rng.randint(0, 60)}", rng.choice(["r1", "r2", "r3", None]), rng.random() < 0.3)
        for _ in range(300)
    ]
    assert conversions_by_region(load(con, draws_as_rows(draws))) == reference_conversions(draws)


def test_compare_conversion_by_hand_against_a_reference_segment() -> None:
    # 45/100 vs 30/100: z = 2.190890, p = 0.028460 (see test_stats); one comparison,
    # so the Holm-adjusted p is the same and 0.028 < 0.05 is flagged.
    rows = [
        {"segment": "a", "converted": 45, "actors": 100},
        {"segment": "b", "converted": 30, "actors": 100},
    ]
    result = compare_conversion(rows, reference="b")
    (shift,) = result.shifts
    assert (shift.segment, shift.reference) == ("a", "b")
    assert shift.statistic == pytest.approx(2.190890, abs=1e-6)
    assert shift.p_adjusted == pytest.approx(0.028460, abs=1e-6)
    assert result.flagged == (shift,)
    assert result.chi_square.statistic == pytest.approx(4.8)
    assert [r.rate for r in result.rates] == [0.45, 0.30]


def test_compare_conversion_against_the_rest_adjusts_with_holm() -> None:
    rows = [
        {"segment": "a", "converted": 60, "actors": 200},
        {"segment": "b", "converted": 40, "actors": 200},
        {"segment": "c", "converted": 45, "actors": 210},
    ]
    result = compare_conversion(rows)
    shifts = {s.segment: s for s in result.shifts}
    assert {s.reference for s in result.shifts} == {"rest"}
    # each against the other two pooled, checked with scipy's chi-square on the 2x2 table
    raw = {}
    for name, s, n in [("a", 60, 200), ("b", 40, 200), ("c", 45, 210)]:
        rs, rn = 145 - s, 610 - n
        _, p, _, _ = sst.chi2_contingency([[s, n - s], [rs, rn - rs]], correction=False)
        raw[name] = p
        assert shifts[name].p_value == pytest.approx(p, rel=1e-9)
    ordered = sorted(raw, key=raw.__getitem__)
    holm = {}
    running = 0.0
    for rank, name in enumerate(ordered):
        running = max(running, min(1.0, (3 - rank) * raw[name]))
        holm[name] = running
    assert {k: s.p_adjusted for k, s in shifts.items()} == pytest.approx(holm)
    assert {s.segment for s in result.flagged} == {k for k, p in holm.items() if p < 0.05}


def test_a_difference_that_is_not_significant_is_not_flagged() -> None:
    rows = [
        {"segment": "a", "converted": 11, "actors": 100},
        {"segment": "b", "converted": 10, "actors": 100},
    ]
    result = compare_conversion(rows)
    assert result.flagged == ()
    assert all(not s.significant for s in result.shifts)


def test_stricter_alpha_removes_a_flag() -> None:
    rows = [
        {"segment": "a", "converted": 45, "actors": 100},
        {"segment": "b", "converted": 30, "actors": 100},
    ]
    # p = 0.0285 for each direction against the rest; Holm over 2 tests gives 0.0569
    assert compare_conversion(rows, reference="b", alpha=0.05).flagged
    assert not compare_conversion(rows, reference="b", alpha=0.01).flagged


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([{"segment": "a", "converted": 5, "actors": 3}], {}, "must not exceed"),
        ([{"segment": "a", "actors": 3}], {}, "has no 'converted'"),
        ([{"segment": "a", "converted": 1.5, "actors": 3}], {}, "whole count"),
        (
            [{"segment": "a", "converted": 1, "actors": 3}],
            {"reference": "z"},
            "not among the segments",
        ),
        ([{"segment": "a", "converted": 1, "actors": 3}], {"alpha": 5}, "outside"),
    ],
)
def test_bad_aggregated_rows_raise_located_errors(
    rows: list[dict[str, Any]], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(SegmentError, match=message):
        compare_conversion(rows, **kwargs)


def test_compare_values_uses_welch_against_the_pooled_rest() -> None:
    a = [1.0, 2.0, 3.0, 4.0, 10.0]
    b = [2.0, 2.5, 3.0]
    c = [8.0, 9.0, 9.5, 12.0]
    import numpy as np

    rows = [
        {
            "segment": name,
            "count": len(v),
            "mean": float(np.mean(v)),
            "std": float(np.std(v, ddof=1)),
        }
        for name, v in (("a", a), ("b", b), ("c", c))
    ]
    result = compare_values(rows)
    shifts = {s.segment: s for s in result.shifts}
    for name, mine, rest in (("a", a, b + c), ("b", b, a + c), ("c", c, a + b)):
        ref = sst.ttest_ind(mine, rest, equal_var=False)
        assert shifts[name].statistic == pytest.approx(ref.statistic, rel=1e-9)
        assert shifts[name].p_value == pytest.approx(ref.pvalue, rel=1e-9)
    by_ref = compare_values(rows, reference="a", adjust="none")
    assert [s.segment for s in by_ref.shifts] == ["b", "c"]
    ref_c = sst.ttest_ind(c, a, equal_var=False)
    assert by_ref.shifts[1].p_adjusted == pytest.approx(ref_c.pvalue, rel=1e-9)


# ---------------------------------------------------------------------------------------
# The command line.


def shop_csv() -> str:
    # kr: 40 customers, 30 buy; us: 40 customers, 10 buy; 'na' has no region.
    # By hand: 30/40 vs 10/40, pooled 0.5, se = sqrt(0.25 * 2/40) = 0.111803,
    # z = 0.5 / 0.111803 = 4.472136, p = 7.7e-6: flagged on both sides.
    lines = ["actor_id,ts,event,region"]
    for region, buyers in (("kr", 30), ("us", 10)):
        for i in range(40):
            actor = f"{region}{i:02d}"
            lines.append(f"{actor},2024-01-01T00:00:00Z,view,{region}")
            if i < buyers:
                lines.append(f"{actor},2024-01-01T01:00:00Z,buy,{region}")
    lines.append("na,2024-01-01T00:00:00Z,view,")
    return "\n".join(lines) + "\n"


@pytest.fixture
def shop(ws: Any, tmp_path: Any) -> Any:
    from journeymap.io.workspace import import_source

    csv = tmp_path / "events.csv"
    csv.write_text(shop_csv(), encoding="utf-8")
    import_source(ws, csv, progress=False)
    ws.close()
    return ws.path


def invoke(*args: str) -> Any:
    import typer
    from typer.testing import CliRunner

    from journeymap.cli import analytics_paths

    app = typer.Typer()
    app.command("segments")(analytics_paths.segments_command)
    app.command("noop", hidden=True)(lambda: None)
    return CliRunner().invoke(app, ["segments", *args])


def test_cli_segments_flags_a_real_difference(shop: Any) -> None:
    import json

    result = invoke(
        "-w",
        str(shop),
        "--by",
        "region",
        "--converted",
        "event=buy",
        "--reference",
        "us",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = {r["segment"]: r for r in doc["rows"]}
    assert (rows["kr"]["actors"], rows["kr"]["converted"]) == (40, 30)
    assert (rows["unassigned"]["actors"], rows["unassigned"]["converted"]) == (1, 0)
    assert rows["kr"]["z"] == pytest.approx(4.472136, abs=1e-6)
    assert rows["kr"]["significant"] is True
    assert rows["us"]["reference"] is None and rows["us"]["significant"] is False
    assert any("Holm" in note for note in doc["notes"])


def test_cli_segments_prints_a_table_with_notes(shop: Any) -> None:
    result = invoke("-w", str(shop), "--by", "region", "--converted", "event=buy")
    assert result.exit_code == 0, result.output
    assert "Conversion by region" in result.output
    assert "chi-square that all segments convert alike" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "region"], "needs --converted"),
        (["--by", "region", "--converted", "visit"], "needs the journey map"),
        (["--by", "region", "--converted", "x=1"], "write a step id, or event=NAME"),
        (["--by", "planet", "--converted", "event=buy"], "no column 'planet'"),
        (["--by", "region", "--metric", "time", "--from", "event=view"], "needs --from and --to"),
    ],
)
def test_cli_segments_explains_bad_options(shop: Any, args: list[str], message: str) -> None:
    result = invoke("-w", str(shop), *args)
    assert result.exit_code == 1
    assert message in result.output
