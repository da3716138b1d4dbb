"""Conversion drivers: populations, outcomes and features per stage and fork; the tests."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import contingency, fisher_exact

from conftest import load, rows_of
from journeymap.analytics.drivers import (
    DriverError,
    FeatureCount,
    OutcomeCount,
    compute_fisher_p_value,
    estimate_odds_ratio,
    find_drivers,
    rank_drivers,
)
from journeymap.analytics.mapping import map_events
from journeymap.engines.signals import measure_driver_ranking, measure_drivers
from journeymap.model import JourneyMap

T0 = datetime(2024, 5, 6, tzinfo=UTC)

MAP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "browse",
                "name": "Browse",
                "steps": [{"id": "view", "name": "V", "events": {"match": {"event": "view"}}}],
            },
            {
                "id": "buy",
                "name": "Buy",
                "steps": [{"id": "pay", "name": "P", "events": {"match": {"event": "pay"}}}],
            },
            {
                "id": "care",
                "name": "Care",
                "steps": [{"id": "call", "name": "C", "events": {"match": {"event": "call"}}}],
            },
        ],
        "forks": [
            {
                "id": "f",
                "at": "view",
                "question": "Coupon?",
                "branches": [
                    {
                        "id": "coupon",
                        "label": "Coupon",
                        "condition": {"match": {"event": "coupon"}},
                    },
                    {"id": "no-coupon", "label": "No coupon"},
                ],
            }
        ],
    }
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def journey(actor: str, events: Sequence[tuple[float, str, str | None]]) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{actor}{i:02d}", "actor_id": actor, "ts": at(h), "event": e, "channel": c}
        for i, (h, e, c) in enumerate(events)
    ]


ROWS = [
    *journey(
        "a", [(0, "view", "web"), (1, "coupon", "ads"), (2, "pay", "web"), (3, "call", "phone")]
    ),
    *journey("b", [(0, "view", "app"), (20, "pay", "web")]),
    *journey(
        "c", [(0, "coupon", "ads"), (1, "view", "web"), (2, "coupon", "ads"), (3, "pay", "web")]
    ),
    *journey("d", [(0, "view", "web"), (5, "email", "email"), (8, "view", "web")]),
    *journey("e", [(0, "pay", "web"), (1, "view", "web")]),
]
WINDOW = timedelta(hours=10)


def counts(con: Any, window: timedelta | None) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    tables = find_drivers(map_events(load(con, ROWS), MAP).table, MAP, window=window)
    outcomes = {
        r["scope"]: (r["converters"], r["others"]) for r in rows_of(tables.count_outcomes())
    }
    features = {
        (r["scope"], r["feature"]): (r["converters_with"], r["others_with"])
        for r in rows_of(tables.count_features())
    }
    return outcomes, features


def test_stage_and_fork_counts_follow_the_definitions(con: Any) -> None:
    outcomes, features = counts(con, WINDOW)
    # browse (entered by all five): a converts at pay (2 h), c at pay (3 h); b's pay is
    # 20 h after entry (window 10 h); d never pays; e's pay (0 h) comes before its entry.
    # buy: a converts (call at 3 h); b, c and e have no later stage in the window.
    # fork at view: a (coupon 1 h after view) and c (coupon 1 h after its view) take the
    # coupon branch; b, d, e take "no coupon" (none of the branches with a condition).
    assert outcomes == {
        "stage:browse": (2, 3),
        "stage:buy": (1, 3),
        "fork:f/coupon": (2, 3),
        "fork:f/no-coupon": (3, 2),
    }
    assert {k[1]: v for k, v in features.items() if k[0] == "stage:browse"} == {
        # a: view web, coupon ads (before pay); c: view web, coupon ads (the 0 h coupon is
        # before its entry); b: view app (pay is past the window); d: view web, email
        # email; e: view web (the pay at 0 h is before its entry)
        "event=view": (2, 3),
        "channel=web": (2, 2),
        "event=coupon": (2, 0),
        "channel=ads": (2, 0),
        "channel=app": (0, 1),
        "event=email": (0, 1),
        "channel=email": (0, 1),
    }
    assert {k[1]: v for k, v in features.items() if k[0] == "stage:buy"} == {
        # a: pay web (until the call); b, c: pay web; e: pay web, then view web at 1 h
        "event=pay": (1, 3),
        "channel=web": (1, 3),
        "event=view": (0, 1),
    }
    # the fork reads up to and including the first view: a view web; b view app;
    # c coupon ads + view web; d view web; e pay web + view web
    assert {k[1]: v for k, v in features.items() if k[0] == "fork:f/coupon"} == {
        "event=view": (2, 3),
        "channel=web": (2, 2),
        "event=coupon": (1, 0),
        "channel=ads": (1, 0),
        "channel=app": (0, 1),
        "event=pay": (0, 1),
    }
    assert {k[1]: v for k, v in features.items() if k[0] == "fork:f/no-coupon"} == {
        "event=view": (3, 2),
        "channel=web": (2, 2),
        "event=coupon": (0, 1),
        "channel=ads": (0, 1),
        "channel=app": (1, 0),
        "event=pay": (1, 0),
    }


@pytest.mark.parametrize("con", ["duckdb"], indirect=True)  # a variation: DuckDB is enough
def test_without_a_window_any_later_stage_converts(con: Any) -> None:
    outcomes, features = counts(con, None)
    # b's pay at 20 h now converts browse; d's span runs to its last event
    assert outcomes["stage:browse"] == (3, 2)
    assert features["stage:browse", "channel=app"] == (1, 0)
    assert features["stage:browse", "event=email"] == (0, 1)


def test_measure_drivers_runs_on_the_engine_and_sorts(con: Any) -> None:
    mapped = map_events(load(con, ROWS), MAP).table
    drivers = measure_drivers(con, mapped, MAP, window=WINDOW, min_support=4)
    # min_support 4: only features held by 4+ customers are tested
    assert [(d.scope, d.feature) for d in drivers] == [
        ("fork:f/coupon", "channel=web"),
        ("fork:f/coupon", "event=view"),
        ("fork:f/no-coupon", "channel=web"),
        ("fork:f/no-coupon", "event=view"),
        ("stage:browse", "channel=web"),
        ("stage:browse", "event=view"),
        ("stage:buy", "channel=web"),
        ("stage:buy", "event=pay"),
    ]
    first = drivers[0]
    # fork:f/coupon channel=web: converters 2 of 2, others 2 of 3 -> cells 2, 0, 2, 1
    # with 0.5 added: (2.5 * 1.5) / (0.5 * 2.5) = 3.0; Fisher: p = 1
    assert (first.converters_with, first.converters, first.others_with, first.others) == (
        2,
        2,
        2,
        3,
    )
    assert first.odds_ratio.value == pytest.approx(3.0)
    assert first.p_value == pytest.approx(1.0)
    assert not first.significant
    ranking = measure_driver_ranking(con, mapped, MAP, window=WINDOW, min_support=4)
    # features below 4 customers: browse 5 of 7, buy 1 of 3, each fork 4 of 6
    assert dict(ranking.left_out) == {
        "fork:f/coupon": 4,
        "fork:f/no-coupon": 4,
        "stage:browse": 5,
        "stage:buy": 1,
    }


# --- statistics -----------------------------------------------------------------------


def test_odds_ratio_and_woolf_interval_by_hand() -> None:
    r = estimate_odds_ratio(10, 20, 5, 40)
    # OR = 10*40 / (20*5) = 4; se = sqrt(1/10 + 1/20 + 1/5 + 1/40) = sqrt(0.375) = 0.612372
    # z = 1.959964, z * se = 1.200228: exp(1.386294 -+ 1.200228) = 1.204502 and 13.283495
    assert r.value == pytest.approx(4.0)
    assert r.low == pytest.approx(1.204502, rel=1e-5)
    assert r.high == pytest.approx(13.283495, rel=1e-5)
    assert (r.n, r.confidence) == (75, 0.95)
    ci = contingency.odds_ratio([[10, 20], [5, 40]], kind="sample").confidence_interval(0.95)
    assert (r.low, r.high) == pytest.approx((ci.low, ci.high))


def test_a_zero_cell_gets_the_haldane_anscombe_correction() -> None:
    r = estimate_odds_ratio(0, 10, 5, 5)
    # cells + 0.5: 0.5 * 5.5 / (10.5 * 5.5) = 0.047619;
    # se = sqrt(1/0.5 + 1/10.5 + 1/5.5 + 1/5.5) = 1.568080; z * se = 3.073380
    assert r.value == pytest.approx(0.047619, rel=1e-5)
    assert r.low == pytest.approx(0.047619 * math.exp(-3.073380), rel=1e-5)
    assert r.high == pytest.approx(0.047619 * math.exp(3.073380), rel=1e-5)


def test_a_feature_everybody_had_has_no_odds_ratio() -> None:
    assert estimate_odds_ratio(4, 0, 6, 0).value is None


def hypergeometric_p(a: int, b: int, c: int, d: int) -> float:
    """Fisher's two-sided p from the hypergeometric probabilities, with math.comb."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def prob(k: int) -> float:
        return math.comb(row1, k) * math.comb(n - row1, col1 - k) / math.comb(n, col1)

    observed = prob(a)
    lo, hi = max(0, col1 - (n - row1)), min(row1, col1)
    # the same relative tolerance scipy uses for "no more likely than the observed"
    return min(1.0, sum(p for k in range(lo, hi + 1) if (p := prob(k)) <= observed * (1 + 1e-7)))


def test_fisher_p_value_by_hand() -> None:
    # [[3, 1], [1, 3]]: P(k) = C(4,k) C(4,4-k) / C(8,4) = 1, 16, 36, 16, 1 (/70);
    # tables no more likely than 16/70: k = 0, 1, 3, 4 -> 34/70
    assert compute_fisher_p_value(3, 1, 1, 3) == pytest.approx(34 / 70)


@given(st.tuples(*[st.integers(0, 25)] * 4))
@settings(max_examples=200, deadline=None)
def test_fisher_p_value_equals_the_hypergeometric_sum(cells: tuple[int, int, int, int]) -> None:
    a, b, c, d = cells
    p = compute_fisher_p_value(a, b, c, d)
    if a + b == 0 or c + d == 0 or a + c == 0 or b + d == 0:
        assert p == 1.0
        return
    assert p == pytest.approx(hypergeometric_p(a, b, c, d), rel=1e-9, abs=1e-12)
    assert p == pytest.approx(fisher_exact([[a, b], [c, d]]).pvalue)


def benjamini_hochberg(p: list[float]) -> list[float]:
    """q_i = min over j with p_j >= p_i of p_j * m / rank_j (an independent formula)."""
    m = len(p)
    ranked = sorted(p)
    return [min(1.0, min(ranked[j] * m / (j + 1) for j in range(m) if ranked[j] >= pi)) for pi in p]


def test_ranking_controls_the_false_discovery_rate_per_scope() -> None:
    outcomes = [OutcomeCount("stage:s", 100, 100), OutcomeCount("stage:t", 50, 0)]
    features = [
        FeatureCount("stage:s", "event=a", 60, 30),
        FeatureCount("stage:s", "event=b", 40, 25),
        FeatureCount("stage:s", "event=c", 20, 35),
        FeatureCount("stage:s", "event=d", 12, 10),
        FeatureCount("stage:s", "event=rare", 3, 2),  # 5 customers < min_support 20
        FeatureCount("stage:t", "event=a", 10, 0),
    ]
    ranking = rank_drivers(features, outcomes)
    cells = {f.feature: (f.converters_with, f.others_with) for f in features[:4]}
    p = {k: hypergeometric_p(a, 100 - a, c, 100 - c) for k, (a, c) in cells.items()}
    q = dict(zip(p, benjamini_hochberg(list(p.values())), strict=True))
    got = {d.feature: d for d in ranking.drivers}
    assert set(got) == set(cells)
    for name, driver in got.items():
        assert driver.p_value == pytest.approx(p[name], rel=1e-6)
        assert driver.q_value == pytest.approx(q[name], rel=1e-6)
        assert driver.significant == (q[name] <= 0.05)
    # p: a 3.3e-5, b 0.0341, c 0.0261, d 0.822. BH with m = 4: a 3.3e-5 * 4 = 1.3e-4;
    # c (rank 2) min(0.0261 * 2, 0.0341 * 4/3) = 0.0455; b (rank 3) 0.0455; d 0.822.
    # b and c tie on q; c's effect is larger (|ln 0.464| = 0.767 > |ln 2.0| = 0.693)
    assert [d.feature for d in ranking.drivers if d.significant] == [
        "event=a",
        "event=c",
        "event=b",
    ]
    # sorted by q (then effect size)
    assert [d.q_value for d in ranking.drivers] == sorted(d.q_value or 0 for d in ranking.drivers)
    assert ranking.left_out == (("stage:s", 1),)
    assert ranking.untestable == (OutcomeCount("stage:t", 50, 0),)


@pytest.mark.parametrize(
    ("features", "outcomes", "options", "message"),
    [
        ([FeatureCount("s", "f", 5, 0)], [OutcomeCount("s", 4, 4)], {}, "cannot be held by more"),
        ([FeatureCount("x", "f", 1, 0)], [OutcomeCount("s", 4, 4)], {}, "has no totals"),
        ([], [OutcomeCount("s", 4, 4)], {"fdr": 0}, "fdr 0 is outside"),
        ([], [OutcomeCount("s", 4, 4)], {"min_support": 0}, "min_support=0"),
    ],
)
def test_impossible_counts_and_options_are_refused(
    features: list[FeatureCount],
    outcomes: list[OutcomeCount],
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(DriverError, match=message):
        rank_drivers(features, outcomes, **options)


def test_unmapped_events_and_a_bad_window_are_refused() -> None:
    events = ibis.table(
        {"actor_id": "string", "ts": "timestamp('UTC')", "event_id": "string", "event": "string"},
        name="events",
    )
    with pytest.raises(DriverError, match=r"no column 'step_id'.*map the events first"):
        find_drivers(events, MAP)
    with pytest.raises(DriverError, match="not positive"):
        find_drivers(map_events(events, MAP).table, MAP, window=timedelta(0))


# --- property test against a pure-Python reference (DuckDB) -------------------------

STAGE_OF = {"view": 0, "pay": 1, "call": 2}


def reference(
    rows: Sequence[dict[str, Any]], window: timedelta | None
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], tuple[int, int]]]:
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_actor.setdefault(r["actor_id"], []).append(r)
    outcomes: Counter[tuple[str, bool]] = Counter()
    features: Counter[tuple[str, str, bool]] = Counter()

    def within(e: dict[str, Any], start: dict[str, Any]) -> bool:
        return window is None or e["ts"] - start["ts"] <= window

    def names(span: Sequence[dict[str, Any]]) -> set[str]:
        return {f"event={e['event']}" for e in span} | {
            f"channel={e['channel']}" for e in span if e["channel"] is not None
        }

    def add(scope: str, converted: bool, span: Sequence[dict[str, Any]]) -> None:
        outcomes[scope, converted] += 1
        for f in names(span):
            features[scope, f, converted] += 1

    for events in by_actor.values():
        events.sort(key=lambda r: (r["ts"], r["event_id"]))
        for k, stage in ((0, "browse"), (1, "buy")):
            entries = [i for i, e in enumerate(events) if STAGE_OF.get(e["event"]) == k]
            if not entries:
                continue
            entry = entries[0]
            conv = next(
                (
                    i
                    for i in range(entry + 1, len(events))
                    if STAGE_OF.get(events[i]["event"], -1) > k and within(events[i], events[entry])
                ),
                None,
            )
            if conv is not None:
                span = events[entry:conv]
            else:
                span = [e for e in events[entry:] if within(e, events[entry])]
            add(f"stage:{stage}", conv is not None, span)
        views = [i for i, e in enumerate(events) if e["event"] == "view"]
        if views:
            point = views[0]
            took = any(e["event"] == "coupon" and within(e, events[point]) for e in events[point:])
            add("fork:f/coupon", took, events[: point + 1])
            add("fork:f/no-coupon", not took, events[: point + 1])
    scopes = {s for s, _ in outcomes}
    out = {s: (outcomes[s, True], outcomes[s, False]) for s in scopes}
    feats = {(s, f): (features[s, f, True], features[s, f, False]) for s, f, _ in features}
    return out, feats


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


DRAWS = st.lists(
    st.tuples(
        st.sampled_from(["p", "q", "r", "s"]),
        st.integers(0, 30),
        st.sampled_from(["view", "pay", "call", "coupon", "other"]),
        st.sampled_from(["web", "app", None]),
    ),
    max_size=30,
)


@given(DRAWS, st.sampled_from([None, 4, 12]))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_driver_counts_equal_the_python_reference_on_random_logs(
    duck: Any, draws: list[tuple[str, int, str, str | None]], window_hours: int | None
) -> None:
    rows = [
        {"event_id": f"e{i:03d}", "actor_id": a, "ts": at(h), "event": e, "channel": c}
        for i, (a, h, e, c) in enumerate(draws)
    ]
    if not rows:
        return
    window = None if window_hours is None else timedelta(hours=window_hours)
    tables = find_drivers(map_events(load(duck, rows), MAP).table, MAP, window=window)
    outcomes = {
        r["scope"]: (r["converters"], r["others"]) for r in rows_of(tables.count_outcomes())
    }
    features = {
        (r["scope"], r["feature"]): (r["converters_with"], r["others_with"])
        for r in rows_of(tables.count_features())
    }
    assert (outcomes, features) == reference(rows, window)
