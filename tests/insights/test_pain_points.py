"""Pain points from hand-made snapshots, with every number worked out in the comments."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insight_builders import sat, snapshot, stage, step
from scipy import stats

from journeymap.analytics.stats import estimate_wilson_interval
from journeymap.insights import (
    ObservedPainPoint,
    PainThresholds,
    SegmentConversion,
    StepSignals,
    ThresholdError,
    find_pain_points,
)
from journeymap.insights.evidence import Estimate
from journeymap.insights.painpoints import grade_severity, kpi_seconds
from journeymap.model import JourneyMap

# browse: view (10m), compare (two declared pain points)
# buy:    cart, pay (5m)         KPI: median time in stage, target 3 minutes
# after:  review (the last step) KPI: CSAT target 4.3 on 1-5 (a rating)
SHOP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "browse",
                "name": "Browse",
                "steps": [
                    {"id": "view", "name": "Views a product", "duration": "10m"},
                    {
                        "id": "compare",
                        "name": "Compares prices",
                        "pain_points": [
                            {"id": "slow-site", "text": "Slow site", "severity": 2},
                            {"id": "price-doubt", "text": "Price doubt", "severity": 3},
                        ],
                    },
                ],
            },
            {
                "id": "buy",
                "name": "Buy",
                "kpis": [
                    {"name": "Time to buy", "metric": "median_time", "target": 3, "unit": "minutes"}
                ],
                "steps": [
                    {"id": "cart", "name": "Fills the cart"},
                    {
                        "id": "pay",
                        "name": "Pays",
                        "duration": "5m",
                        "pain_points": [{"id": "card-declined", "text": "Declined", "severity": 4}],
                    },
                ],
            },
            {
                "id": "after",
                "name": "After",
                "kpis": [{"name": "CSAT", "metric": "csat", "target": 4.3, "unit": "1-5"}],
                "steps": [{"id": "review", "name": "Writes a review"}],
            },
        ],
    }
)


def quiet(**changes: object) -> list:  # type: ignore[type-arg]
    """Every step with a 20% drop-off and no times: nothing to flag."""
    base = {
        "view": step("view", "browse", trials=250, dropped=50),
        "compare": step("compare", "browse", trials=250, dropped=50),
        "cart": step("cart", "buy", trials=250, dropped=50),
        "pay": step("pay", "buy", trials=250, dropped=50),
        "review": step("review", "after", trials=200, dropped=0),
    }
    base.update(changes)  # type: ignore[arg-type]
    return list(base.values())


def only(points: tuple[ObservedPainPoint, ...], kind: str) -> list[ObservedPainPoint]:
    return [p for p in points if p.kind == kind]


def number(point: ObservedPainPoint, label: str) -> float | int | str:
    return dict(point.numbers)[label]


def test_quiet_journey_has_no_pain_points() -> None:
    assert find_pain_points(SHOP, snapshot(quiet())) == ()


def test_drop_off_far_above_the_baseline_is_flagged_with_its_numbers() -> None:
    # compare: 60 of 100 leave; view, cart, pay: 200 of 1000 together (20%).
    # pooled p = 260/1100 = 0.236364; se = sqrt(0.236364 * 0.763636 * (1/100 + 1/1000))
    #   = sqrt(0.180496 * 0.011) = 0.044559; z = (0.6 - 0.2) / 0.044559 = 8.977
    # one-sided p = P(Z > 8.977) ~ 1.4e-19; Holm over 4 steps (review is last): q = 4 p.
    snap = snapshot(
        quiet(
            view=step("view", "browse", trials=400, dropped=80),
            compare=step("compare", "browse", trials=100, dropped=60),
            cart=step("cart", "buy", trials=300, dropped=60),
            pay=step("pay", "buy", trials=300, dropped=60),
        )
    )
    points = find_pain_points(SHOP, snap)
    assert [p.id for p in points] == ["observed-drop-off-compare"]
    point = points[0]
    assert number(point, "z") == pytest.approx(8.977, abs=1e-3)
    p_one = stats.norm.sf(8.977)
    assert number(point, "p-value") == pytest.approx(p_one, rel=1e-2)
    assert point.p_value == pytest.approx(4 * p_one, rel=1e-2)
    assert number(point, "baseline drop-off") == pytest.approx(0.2)
    # excess 40 points -> effect level 4; 60 of 1000 customers (6%) -> no bonus -> 4
    assert (point.severity, point.affected, point.confidence) == (4, 60, "high")
    assert point.declared == "price-doubt"  # the more severe of the two declared there
    assert point.step_id == "compare" and point.stage_id == "browse"
    assert "60.0%" not in point.explanation and "60%" in point.explanation
    assert "60 of 100" in point.explanation and "20%" in point.explanation


def test_drop_off_that_is_not_significant_is_not_flagged() -> None:
    # a: 12 of 40 leave (30%); b: 10 of 50 (20%); c is the last step.
    # pooled 22/90 = 0.24444; se = sqrt(0.24444 * 0.75556 * (1/40 + 1/50)) = 0.091165
    # z = 0.1 / 0.091165 = 1.097; one-sided p = 0.136; Holm x2 = 0.273 > 0.05.
    jmap = JourneyMap.model_validate(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "steps": [{"id": k, "name": k.upper()} for k in ("a", "b", "c")],
                }
            ],
        }
    )
    snap = snapshot(
        [
            step("a", "s", trials=40, dropped=12),
            step("b", "s", trials=50, dropped=10),
            step("c", "s", trials=40, dropped=40),  # the last step: leaving is finishing
        ]
    )
    assert find_pain_points(jmap, snap) == ()


@pytest.mark.parametrize(("minimum", "flagged"), [(0.02, False), (0.005, True)])
def test_a_tiny_but_significant_drop_off_gap_needs_the_minimum_excess(
    minimum: float, flagged: bool
) -> None:
    # compare: 21,000 of 100,000 (21%) against 200,000 of 1,000,000 (20%):
    # pooled 0.200909, se = sqrt(0.160546 * 1.1e-5) = 0.001329, z = 0.01 / 0.001329 = 7.52,
    # highly significant, but only 1 point above the baseline.
    snap = snapshot(
        quiet(
            view=step("view", "browse", trials=400_000, dropped=80_000),
            compare=step("compare", "browse", trials=100_000, dropped=21_000),
            cart=step("cart", "buy", trials=300_000, dropped=60_000),
            pay=step("pay", "buy", trials=300_000, dropped=60_000),
        ),
        customers=1_100_000,
    )
    points = find_pain_points(SHOP, snap, thresholds=PainThresholds(min_drop_off_excess=minimum))
    assert bool(only(points, "drop_off")) is flagged


def test_stage_slower_than_its_kpi_target_is_flagged() -> None:
    # buy: median 600 s against the KPI "3 minutes" = 180 s -> ratio 3.33 -> level 3;
    # 150 timed customers of 1000 (15%) -> +1 -> severity 4; a declared target and
    # n >= 100 -> high. The stage's most severe declared pain point is card-declined.
    snap = snapshot(quiet(), stages=[stage("buy", trials=200, dropped=50, median=600, p90=1500)])
    [point] = find_pain_points(SHOP, snap)
    assert point.id == "observed-slow-buy" and point.kind == "slow"
    assert (point.step_id, point.stage_id) == (None, "buy")
    assert number(point, "reference seconds") == 180.0
    assert number(point, "ratio") == pytest.approx(600 / 180)
    assert (point.severity, point.affected, point.confidence) == (4, 150, "high")
    assert point.declared == "card-declined"
    assert "10m" in point.explanation and "3m" in point.explanation
    assert "25m" in point.explanation  # the p90


@pytest.mark.parametrize(("median", "flagged"), [(900.0, True), (599.0, False)])
def test_step_slower_than_twice_its_declared_duration_is_flagged(
    median: float, flagged: bool
) -> None:
    # pay: declared 5m = 300 s; the limit is 2 x 300 = 600 s.
    # 900 s -> ratio 3 -> level 3; 200 timed of 1000 (20%) -> +1 -> 4; declared, n >= 100.
    snap = snapshot(quiet(pay=step("pay", "buy", trials=250, dropped=50, median=median)))
    points = find_pain_points(SHOP, snap)
    assert [p.id for p in points] == (["observed-slow-pay"] if flagged else [])
    if flagged:
        assert (points[0].severity, points[0].confidence) == (4, "high")
        assert points[0].declared == "card-declined"


def test_step_without_duration_slower_than_the_journeys_p90_is_flagged() -> None:
    # Timed steps, 80 converters each: view 60 s, cart 100 s, pay 200 s, compare 400 s.
    # For compare, the others sorted are 60, 100, 200 with weights 80 each (240): the p90
    # is the first value whose running weight reaches 0.9 x 240 = 216, i.e. 200 s.
    # 400 > 200 -> ratio 2 -> level 3; 80 of 1000 (8%) -> no bonus -> 3; compared with the
    # journey rather than a declared duration, and n = 80 < 100 -> low.
    # cart (no duration): others 60, 200, 400 -> p90 400 > 100, not flagged. view and pay
    # are within twice their declared 10m and 5m.
    snap = snapshot(
        quiet(
            view=step("view", "browse", trials=100, dropped=20, median=60),
            compare=step("compare", "browse", trials=100, dropped=20, median=400),
            cart=step("cart", "buy", trials=100, dropped=20, median=100),
            pay=step("pay", "buy", trials=100, dropped=20, median=200),
        )
    )
    [point] = find_pain_points(SHOP, snap)
    assert point.id == "observed-slow-compare"
    assert number(point, "reference seconds") == 200
    assert (point.severity, point.confidence, point.affected) == (3, "low", 80)


def test_csat_whose_whole_interval_is_below_the_threshold_is_high_confidence() -> None:
    # cart: 90 of 150 answers were 4-5: CSAT 0.6, Wilson 95% interval (0.520, 0.675),
    # all below the default 0.75 -> high. Gap 0.15 of the 0..1 range -> level 3;
    # reach 250 of 1000 (25%) -> +1 -> severity 4.
    i = estimate_wilson_interval(90, 150)
    csat = sat("csat", 0.6, 150, i.low, i.high)
    snap = snapshot(quiet(cart=step("cart", "buy", trials=250, dropped=50, satisfaction=[csat])))
    [point] = find_pain_points(SHOP, snap)
    assert point.id == "observed-low-csat-cart" and point.kind == "low_satisfaction"
    assert (point.severity, point.confidence, point.affected) == (4, "high", 250)
    assert "60%" in point.explanation and "75%" in point.explanation


def test_rating_below_the_stages_kpi_target_uses_the_target() -> None:
    # after has a CSAT KPI of 4.3 on 1-5: a rating target. review: mean rating 4.1 from
    # 40 answers, interval (3.9, 4.3): the top is not below 4.3, 40 >= 30 -> medium.
    # Gap 0.2 of the 4-point range = 0.05 -> level 2; reach 200 (20%) -> +1 -> 3.
    rating = sat("rating", 4.1, 40, 3.9, 4.3)
    snap = snapshot(
        quiet(review=step("review", "after", trials=200, dropped=0, satisfaction=[rating]))
    )
    [point] = find_pain_points(SHOP, snap)
    assert point.id == "observed-low-rating-review"
    assert number(point, "threshold") == 4.3
    assert (point.severity, point.confidence) == (3, "medium")
    assert "KPI target" in point.explanation


@pytest.mark.parametrize(
    ("figure", "expected"),
    [
        (sat("csat", 0.80, 200, 0.74, 0.85), None),  # above 0.75
        (sat("rating", 2.0, 5), None),  # too few answers (5 < 10)
        (sat("nps", -10.0, 12), ("low", 2)),  # gap 10/200 = 0.05 -> 2; 12 < 30 -> low
        (sat("ces", 5.0, 60, 4.6, 5.4), ("high", 3)),  # higher is worse; 1/6 -> 3
        (sat("ces", 3.5, 60, 3.1, 3.9), None),  # under 4: fine
        (sat("sentiment", -0.30, 35, -0.4, -0.2), ("high", 3)),  # 0.25/2 = 0.125 -> 3
    ],
)
def test_satisfaction_rules_per_scale(figure: object, expected: tuple[str, int] | None) -> None:
    # reach 50 of 1000 (5%) adds nothing to the level.
    snap = snapshot(
        quiet(compare=step("compare", "browse", trials=50, dropped=10, satisfaction=[figure]))  # type: ignore[list-item]
    )
    points = only(find_pain_points(SHOP, snap), "low_satisfaction")
    if expected is None:
        assert points == []
    else:
        [point] = points
        assert (point.confidence, point.severity) == expected
        assert point.declared == "price-doubt"


def test_stage_satisfaction_is_checked_too() -> None:
    snap = snapshot(
        quiet(), stages=[stage("browse", trials=300, dropped=0, satisfaction=[sat("nps", -20, 80)])]
    )
    [point] = find_pain_points(SHOP, snap)
    assert point.id == "observed-low-nps-browse" and point.step_id is None


@pytest.mark.parametrize(
    ("loops", "reach", "expected"),
    [
        # 50 of 200 = 25%; Wilson low 0.194 > 0.10 -> high; ratio 2.5 -> level 3;
        # 50 of 1000 (5%) -> no bonus -> 3
        (50, 200, ("high", 3)),
        # 3 of 20 = 15%; Wilson low 0.052 < 0.10 and reach 20 < 30 -> low;
        # ratio 1.5 -> level 2; 3 of 1000 (0.3%) -> -1 -> 1
        (3, 20, ("low", 1)),
        (15, 200, None),  # 7.5% is under 10%
        (5, 19, None),  # fewer than 20 customers
    ],
)
def test_loops_above_the_share_are_flagged(
    loops: int, reach: int, expected: tuple[str, int] | None
) -> None:
    signals = [
        StepSignals(
            "compare", reach, loop_customers=loops, loop_returns=loops + 7, sample_loop=("c1", "c2")
        )
    ]
    points = find_pain_points(SHOP, snapshot(quiet(), signals=signals))
    if expected is None:
        assert points == ()
        return
    [point] = points
    assert point.id == "observed-loop-compare" and point.kind == "loop"
    assert (point.confidence, point.severity) == expected
    assert point.sample == ("c1", "c2") and point.affected == loops
    assert number(point, "low") == pytest.approx(estimate_wilson_interval(loops, reach).low)


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed term by term (independent of scipy)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(("contacts", "flagged"), [(40, True), (24, False)])
def test_support_contacts_above_the_baseline_are_flagged(contacts: int, flagged: bool) -> None:
    # cart: 40 of 400 customers (10%) called support within a day; baseline 5%.
    # P(X >= 40 | n = 400, p = 0.05) is about 2e-5 (summed exactly below); one step tested.
    # ratio 2 -> level 3; 40 of 1000 (4%) -> no bonus -> 3; q < 0.01 and n >= 100 -> high.
    # 24 of 400 (6%): P(X >= 24) ~ 0.2 -> not flagged.
    signals = [
        StepSignals(
            "cart",
            400,
            support_customers=contacts,
            support_window_seconds=86400,
            support_baseline=0.05,
            sample_support=("c9",),
        ),
    ]
    points = find_pain_points(SHOP, snapshot(quiet(), signals=signals))
    tail = _binomial_tail(contacts, 400, 0.05)
    if not flagged:
        assert tail > 0.05 and points == ()
        return
    [point] = points
    assert point.id == "observed-support-cart"
    assert point.p_value == pytest.approx(tail, rel=1e-6)
    assert tail < 1e-4
    assert (point.severity, point.confidence, point.sample) == (3, "high", ("c9",))
    assert "1d" in point.explanation and "2.0×" in point.explanation


def _segment(diff: float, q: float, significant: bool) -> SegmentConversion:
    return SegmentConversion(
        group_by="region",
        segment="KR",
        metric="reached purchase",
        customers=400,
        converted=80,
        rate=Estimate(0.2, 0.16, 0.24, n=400),
        difference=Estimate(diff, diff - 0.05, diff + 0.05),
        p_value=q / 4,
        q_value=q,
        significant=significant,
    )


@pytest.mark.parametrize(
    ("segment", "flagged"),
    [
        # 10 points lower -> level 3; 400 of 1000 (40%) -> +1 -> 4; q < 0.01, n >= 100
        (_segment(-0.10, 0.004, True), True),
        (_segment(+0.10, 0.004, True), False),  # better than the others
        (_segment(-0.10, 0.20, False), False),  # not significant
    ],
)
def test_segment_significantly_below_the_others_is_an_outlier(
    segment: SegmentConversion, flagged: bool
) -> None:
    points = find_pain_points(SHOP, snapshot(quiet()), segments=[segment])
    if not flagged:
        assert points == ()
        return
    [point] = points
    assert point.id == "observed-segment-region-kr" and point.kind == "segment_outlier"
    assert (point.severity, point.confidence, point.affected) == (4, "high", 400)
    assert number(point, "others' rate") == pytest.approx(0.3)
    assert "20%" in point.explanation and "30%" in point.explanation


def test_pain_points_sort_by_severity_then_customers_and_are_deterministic() -> None:
    i = estimate_wilson_interval(90, 150)
    snap = snapshot(
        quiet(
            cart=step(
                "cart",
                "buy",
                trials=250,
                dropped=50,
                satisfaction=[sat("csat", 0.6, 150, i.low, i.high)],
            ),
        ),
        stages=[stage("buy", trials=200, dropped=50, median=600)],
        signals=[StepSignals("compare", 200, loop_customers=50)],
        customers=1000,
    )
    first = find_pain_points(SHOP, snap, segments=[_segment(-0.10, 0.004, True)])
    # severity 4: segment (400 customers), csat at cart (250), slow buy (150); loop: 3
    assert [p.id for p in first] == [
        "observed-segment-region-kr",
        "observed-low-csat-cart",
        "observed-slow-buy",
        "observed-loop-compare",
    ]
    assert find_pain_points(SHOP, snap, segments=[_segment(-0.10, 0.004, True)]) == first


@pytest.mark.parametrize(
    ("level", "affected", "expected"),
    [(1, 0, 1), (4, 100, 5), (4, 99, 4), (2, 9, 1), (1, 500, 2)],
)
def test_severity_adds_reach_to_the_effect(level: int, affected: int, expected: int) -> None:
    # of 1000 customers: >= 100 (10%) adds one, < 10 (1%) takes one away, clamped to 1..5
    assert grade_severity(level, affected, 1000) == expected


@pytest.mark.parametrize(
    ("target", "unit", "seconds"),
    [
        (3, "minutes", 180.0),
        (2, "h", 7200.0),
        (1.5, "days", 129600.0),
        ("1d 4h", None, 100800.0),
        (3, None, None),
        (3, "%", None),
        ("soon", None, None),
    ],
)
def test_kpi_time_targets_are_read_in_seconds(
    target: float | str, unit: str | None, seconds: float | None
) -> None:
    assert kpi_seconds(target, unit) == seconds


@pytest.mark.parametrize(
    "changes", [{"alpha": 0}, {"loop_share": 1.5}, {"slow_factor": 0.5}, {"min_drop_off_excess": 2}]
)
def test_thresholds_out_of_range_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ThresholdError, match="pain threshold"):
        PainThresholds(**changes)  # type: ignore[arg-type]


def _reference_drop_off_flags(counts: dict[str, tuple[int, int]], alpha: float) -> set[str]:
    """Flagged steps computed independently: z by hand, one-sided p from erfc, Holm by hand."""
    total_d = sum(d for d, _ in counts.values())
    total_n = sum(n for _, n in counts.values())
    raw: dict[str, float] = {}
    excess: dict[str, float] = {}
    for sid, (d, n) in counts.items():
        rd, rn = total_d - d, total_n - n
        pooled = (d + rd) / (n + rn)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rn))
        excess[sid] = d / n - rd / rn
        z = excess[sid] / se if se else 0.0
        raw[sid] = 0.5 * math.erfc(z / math.sqrt(2))  # P(Z > z)
    order = sorted(raw, key=raw.__getitem__)
    m, running, holm = len(order), 0.0, {}
    for rank, sid in enumerate(order):
        running = max(running, min(1.0, (m - rank) * raw[sid]))
        holm[sid] = running
    return {s for s in counts if holm[s] < alpha and excess[s] >= 0.02}


@settings(max_examples=80, deadline=None)
@given(
    counts=st.lists(
        st.tuples(st.integers(1, 400), st.integers(0, 100)).map(lambda t: (min(t[1], t[0]), t[0])),
        min_size=4,
        max_size=4,
    )
)
def test_drop_off_flags_match_an_independent_reference(counts: list[tuple[int, int]]) -> None:
    ids = ["view", "compare", "cart", "pay"]
    stages = ["browse", "browse", "buy", "buy"]
    steps = [
        step(sid, stg, trials=n, dropped=d)
        for sid, stg, (d, n) in zip(ids, stages, counts, strict=True)
    ]
    snap = snapshot([*steps, step("review", "after", trials=10, dropped=0)])
    got = {p.step_id for p in find_pain_points(SHOP, snap) if p.kind == "drop_off"}
    assert got == _reference_drop_off_flags(dict(zip(ids, counts, strict=True)), 0.05)


def test_drop_off_and_slow_pain_points_carry_the_snapshots_sample_customers() -> None:
    # compare: 60 of 100 leave (flagged as above); pay: median 20m against a declared
    # 5m duration, 4x > the 2x slow factor (flagged); each carries its step's sample.
    compare = step("compare", "browse", trials=100, dropped=60)
    compare = dataclasses.replace(compare, sample_dropped=("c1", "c2"))
    pay = step("pay", "buy", trials=300, dropped=60, median=1200.0, p90=2400.0)
    pay = dataclasses.replace(pay, sample_slow=("s9",))
    points = find_pain_points(SHOP, snapshot(quiet(compare=compare, pay=pay)))
    samples = {p.id: p.sample for p in points}
    assert samples["observed-drop-off-compare"] == ("c1", "c2")
    assert samples["observed-slow-pay"] == ("s9",)
