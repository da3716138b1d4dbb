"""Evidenced maps built by hand, for the renderer, chart and report tests.

:func:`backpack_evidence` measures examples/backpack.yaml with realistic numbers (a web
shop with a few thousand customers); :func:`korean_evidence` measures
examples/korean-ecommerce.yaml. Counts are chosen by hand; the rates, intervals and
shares that follow from them are worked out here from those counts (Wilson intervals
for conversions), so every figure a report prints can be traced back to a count.

The chain of each step: ``reach = converted + dropped + in_progress`` and
``drop_off = dropped / (converted + dropped)``.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from journeymap.insights.evidence import (
    Driver,
    Estimate,
    EvidencedMap,
    ObservedPainPoint,
    Preference,
    PreferenceCell,
    SankeyLink,
    Satisfaction,
    ScoredOpportunity,
    SegmentConversion,
    Snapshot,
    StageMetrics,
    StepMetrics,
)
from journeymap.io.maps import load_map
from journeymap.model import JourneyMap

__all__ = ["EXAMPLES", "backpack_evidence", "korean_evidence", "rough_evidence", "wilson"]

EXAMPLES = Path(__file__).parents[1] / "examples"


def wilson(k: int, n: int, *, z: float = 1.959964) -> Estimate:
    """k of n as a rate with its 95 % Wilson score interval."""
    if n == 0:
        return Estimate(None, n=0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n=n)


def _step(
    step_id: str,
    stage_id: str,
    reach: int,
    converted: int,
    dropped: int,
    *,
    median: float | None = None,
    p90: float | None = None,
    satisfaction: tuple[Satisfaction, ...] = (),
    emotion: float | None = None,
) -> StepMetrics:
    in_progress = reach - converted - dropped
    assert in_progress >= 0, step_id
    decided = converted + dropped
    return StepMetrics(
        step_id=step_id,
        stage_id=stage_id,
        reach=reach,
        converted=converted,
        dropped=dropped,
        in_progress=in_progress,
        conversion=wilson(converted, decided),
        drop_off=dropped / decided if decided else None,
        median_seconds=median,
        p90_seconds=p90,
        events=reach * 3,
        satisfaction=satisfaction,
        measured_emotion=emotion,
    )


def _stage(
    stage_id: str,
    reach: int,
    converted: int,
    dropped: int,
    *,
    median: float | None = None,
    p90: float | None = None,
    emotion: float | None = None,
) -> StageMetrics:
    decided = converted + dropped
    return StageMetrics(
        stage_id=stage_id,
        reach=reach,
        converted=converted,
        dropped=dropped,
        in_progress=reach - converted - dropped,
        conversion=wilson(converted, decided),
        drop_off=dropped / decided if decided else None,
        median_seconds=median,
        p90_seconds=p90,
        measured_emotion=emotion,
    )


def _preference(
    dimension: str,
    counts: dict[str, dict[str, int]],
    *,
    significant_cells: dict[tuple[str, str], float],
    statistic: float,
    p_value: float,
) -> Preference:
    """A preference table from counts; shares are count / group total."""
    cells: list[PreferenceCell] = []
    for group, row in counts.items():
        total = sum(row.values())
        for choice, count in row.items():
            residual = significant_cells.get((group, choice))
            cells.append(
                PreferenceCell(
                    group=group,
                    choice=choice,
                    count=count,
                    share=count / total,
                    residual=residual if residual is not None else 0.4,
                    significant=residual is not None,
                )
            )
    groups, choices = len(counts), len(next(iter(counts.values())))
    return Preference(
        dimension=dimension,
        group_by="region",
        cells=tuple(cells),
        statistic=statistic,
        dof=(groups - 1) * (choices - 1),
        p_value=p_value,
        significant=p_value < 0.05,
    )


def _segment(
    segment: str, customers: int, converted: int, rest: tuple[int, int], *, q: float
) -> SegmentConversion:
    """A segment's conversion against the rest; the difference interval is Wald's."""
    rate = wilson(converted, customers)
    rest_rate = rest[1] / rest[0]
    p = converted / customers
    diff = p - rest_rate
    se = math.sqrt(p * (1 - p) / customers + rest_rate * (1 - rest_rate) / rest[0])
    return SegmentConversion(
        group_by="region",
        segment=segment,
        metric="reached purchase",
        customers=customers,
        converted=converted,
        rate=rate,
        difference=Estimate(diff, diff - 1.96 * se, diff + 1.96 * se, n=customers),
        p_value=q / 2,
        q_value=q,
        significant=q < 0.05,
    )


def _driver(scope: str, feature: str, counts: tuple[int, int, int, int], q: float) -> Driver:
    """A driver from (converters_with, converters, others_with, others); OR with a Woolf CI."""
    a, n1, c, n0 = counts
    b, d = n1 - a, n0 - c
    odds = (a * d) / (b * c)
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    low, high = odds * math.exp(-1.96 * se), odds * math.exp(1.96 * se)
    return Driver(
        scope=scope,
        feature=feature,
        converters_with=a,
        converters=n1,
        others_with=c,
        others=n0,
        odds_ratio=Estimate(odds, low, high, n=n1 + n0),
        p_value=q / 3,
        q_value=q,
        significant=q < 0.05,
    )


@functools.cache
def _load(name: str) -> JourneyMap:
    return load_map(EXAMPLES / name)


def backpack_evidence() -> EvidencedMap:
    """examples/backpack.yaml measured over two months of a web shop's data.

    Two steps have no data (the return instructions and the store greeting happen
    offline) and the loyalty stage has none either.
    """
    jmap = _load("backpack.yaml")
    csat = lambda k, n: Satisfaction("csat", wilson(k, n), n)  # noqa: E731
    steps = (
        _step("reads-review", "awareness", 4000, 1480, 2400, median=3600, p90=86400),
        _step(
            "visits-site",
            "consideration",
            5200,
            2860,
            2184,
            median=900,
            p90=5400,
            satisfaction=(csat(61, 90),),
            emotion=0.6,
        ),
        _step("leaves-to-compare", "consideration", 2860, 1030, 1770, median=86400, p90=432000),
        _step(
            "sees-coupon-ad",
            "purchase",
            1900,
            620,
            1240,
            median=7200,
            p90=172800,
            emotion=0.4,
            satisfaction=(Satisfaction("sentiment", Estimate(0.21, 0.1, 0.32, n=48), 48),),
        ),
        _step(
            "guest-checkout",
            "purchase",
            980,
            610,
            340,
            median=370,
            p90=1500,
            emotion=-0.5,
            satisfaction=(Satisfaction("rating", Estimate(3.1, 2.9, 3.3, n=120), 120),),
        ),
        _step(
            "wrong-colour-arrives",
            "service",
            610,
            420,
            170,
            median=172800,
            p90=345600,
            emotion=-1.7,
            satisfaction=(csat(9, 64),),
        ),
        _step(
            "waits-in-queue",
            "service",
            420,
            300,
            110,
            median=1380,
            p90=3600,
            emotion=-1.6,
            satisfaction=(csat(26, 84),),
        ),
        _step(
            "agent-books-class",
            "service",
            300,
            260,
            36,
            median=600,
            p90=1800,
            emotion=0.9,
            satisfaction=(csat(51, 60),),
        ),
    )
    stages = (
        _stage("awareness", 4000, 1480, 2400, median=3600, p90=86400),
        _stage("consideration", 5200, 1900, 3200, median=90000, p90=500000, emotion=0.6),
        _stage("purchase", 1900, 610, 1250, median=7600, p90=180000, emotion=-0.1),
        _stage("service", 610, 260, 320, median=176000, p90=400000, emotion=-1.1),
    )
    snapshot = Snapshot(
        as_of=datetime(2026, 11, 20, tzinfo=UTC),
        computed_at=datetime(2026, 11, 20, 6, 30, tzinfo=UTC),
        data_from=datetime(2026, 9, 1, tzinfo=UTC),
        data_to=datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
        customers=6480,
        events=58320,
        feedback=466,
        unmatched_share=0.083,
        window_seconds=7 * 86400,
        engine="duckdb",
        steps=steps,
        stages=stages,
        sources=("events-2026-09.csv", "events-2026-10.csv", "survey-2026-10.csv"),
    )
    pain_points = (
        ObservedPainPoint(
            id="drop-off:sees-coupon-ad",
            kind="drop_off",
            title="Two in three leave after the coupon ad",
            explanation="67% of customers who saw the coupon ad did not go on to check out, "
            "against 45% for the journey as a whole.",
            step_id="sees-coupon-ad",
            stage_id="purchase",
            affected=1240,
            severity=4,
            confidence="high",
            numbers=(("drop-off", 0.667), ("journey baseline", 0.45), ("customers", 1240)),
            sample=("c-10442", "c-20117", "c-31009"),
            p_value=0.000001,
        ),
        ObservedPainPoint(
            id="slow:waits-in-queue",
            kind="slow",
            title="Support queue waits run to 23 minutes",
            explanation="Half the callers waited more than 23 minutes; the target is 5.",
            step_id="waits-in-queue",
            stage_id="service",
            affected=212,
            severity=5,
            confidence="high",
            numbers=(("median wait (min)", 23), ("target (min)", 5), ("p90 wait (min)", 60)),
            sample=("c-40021", "c-40388"),
            declared="queue-wait",
        ),
        ObservedPainPoint(
            id="low-satisfaction:wrong-colour-arrives",
            kind="low_satisfaction",
            title="Wrong deliveries score 14% CSAT",
            explanation="Only 9 of 64 customers who got the wrong item were satisfied.",
            step_id="wrong-colour-arrives",
            stage_id="service",
            affected=55,
            severity=4,
            confidence="medium",
            numbers=(("CSAT", 0.141), ("responses", 64)),
            sample=("c-50410",),
            declared="wrong-item",
        ),
        ObservedPainPoint(
            id="support:guest-checkout",
            kind="support_contact",
            title="Guests call support within two days of checkout",
            explanation="96 of 610 guest buyers (16%) contacted support within 48 hours, "
            "against 6% of all customers.",
            step_id="guest-checkout",
            stage_id="purchase",
            affected=96,
            severity=3,
            confidence="medium",
            numbers=(("support share", 0.157), ("baseline", 0.06), ("customers", 96)),
            sample=("c-60112", "c-60207"),
            p_value=0.0004,
        ),
        ObservedPainPoint(
            id="outlier:purchase:US-WY",
            kind="segment_outlier",
            title="Wyoming converts less at purchase",
            explanation="Customers in US-WY reached purchase at 24% against 33% elsewhere.",
            step_id=None,
            stage_id="purchase",
            affected=410,
            severity=2,
            confidence="low",
            numbers=(("rate", 0.24), ("rest", 0.33), ("customers", 410)),
            sample=("c-70001",),
            p_value=0.03,
        ),
    )
    opportunities = (
        ScoredOpportunity(
            opportunity_id="link-guest-accounts",
            title="Link guest orders to loyalty accounts",
            addresses=("not-recognised", "poor-data", "guest-checkout"),
            customers_affected=980,
            conversion_lost=0.358,
            value_per_customer=140.0,
            impact_value=49118.4,
            currency="USD",
            impact=5.0,
            feasibility=4.0,
            effort=3.0,
            score=20.0,
            rank=1,
            method="impact_feasibility",
            quadrant="quick win",
            explanation="980 guest buyers × 35.8% lost × USD 140",
        ),
        ScoredOpportunity(
            opportunity_id="better-targeting",
            title="Target offers by what members already own",
            addresses=("poor-data", "queue-wait", "sees-coupon-ad"),
            customers_affected=1900,
            conversion_lost=0.667,
            value_per_customer=35.0,
            impact_value=44355.0,
            currency="USD",
            impact=3.0,
            feasibility=4.0,
            effort=2.0,
            score=12.0,
            rank=2,
            method="impact_feasibility",
            quadrant="quick win",
        ),
        ScoredOpportunity(
            opportunity_id="ai-cross-sell",
            title="AI cross-sell in the contact centre",
            addresses=("poor-data", "agent-books-class"),
            customers_affected=300,
            conversion_lost=0.122,
            value_per_customer=60.0,
            impact_value=2196.0,
            currency="USD",
            impact=4.0,
            feasibility=2.0,
            effort=4.0,
            score=8.0,
            rank=3,
            method="impact_feasibility",
            quadrant="big bet",
        ),
    )
    drivers = (
        _driver("stage:purchase", "event=coupon_click", (410, 610, 520, 1290), 0.0001),
        _driver("stage:purchase", "channel=app", (120, 610, 220, 1290), 0.21),
        _driver("fork:compare-outcome", "event=price_match_view", (180, 1030, 490, 1770), 0.002),
    )
    preferences = (
        _preference(
            "payment method",
            {
                "US-CO": {"card": 620, "paypal": 210, "apple_pay": 170},
                "US-UT": {"card": 330, "paypal": 90, "apple_pay": 80},
                "US-WY": {"card": 150, "paypal": 110, "apple_pay": 40},
            },
            significant_cells={("US-WY", "paypal"): 5.1, ("US-WY", "card"): -3.2},
            statistic=34.2,
            p_value=0.0000007,
        ),
        _preference(
            "support channel",
            {
                "US-CO": {"phone": 240, "chat": 310, "email": 90},
                "US-UT": {"phone": 150, "chat": 120, "email": 40},
                "US-WY": {"phone": 95, "chat": 30, "email": 25},
            },
            significant_cells={("US-WY", "phone"): 4.4, ("US-WY", "chat"): -4.8},
            statistic=29.5,
            p_value=0.000006,
        ),
    )
    segments = (
        _segment("US-CO", 3600, 1260, (2880, 870), q=0.004),
        _segment("US-UT", 2470, 760, (4010, 1370), q=0.31),
        _segment("US-WY", 410, 98, (6070, 1980), q=0.03),
    )
    sankey = (
        SankeyLink(0, "reads-review", "visits-site", 1480),
        SankeyLink(0, "reads-review", "drop-off", 2400),
        SankeyLink(0, "reads-review", "other", 120),
        SankeyLink(1, "visits-site", "leaves-to-compare", 1030),
        SankeyLink(1, "visits-site", "sees-coupon-ad", 200),
        SankeyLink(1, "visits-site", "drop-off", 250),
        SankeyLink(1, "other", "drop-off", 120),
        SankeyLink(2, "leaves-to-compare", "sees-coupon-ad", 700),
        SankeyLink(2, "leaves-to-compare", "drop-off", 330),
        SankeyLink(2, "sees-coupon-ad", "guest-checkout", 150),
        SankeyLink(2, "sees-coupon-ad", "drop-off", 50),
        SankeyLink(3, "sees-coupon-ad", "guest-checkout", 420),
        SankeyLink(3, "sees-coupon-ad", "drop-off", 280),
        SankeyLink(3, "guest-checkout", "wrong-colour-arrives", 90),
        SankeyLink(3, "guest-checkout", "drop-off", 60),
    )
    return EvidencedMap(
        map=jmap,
        snapshot=snapshot,
        pain_points=pain_points,
        opportunities=opportunities,
        drivers=drivers,
        preferences=preferences,
        segments=segments,
        sankey=sankey,
        notes=(
            "Feedback covers 6 of the 10 steps; the measured curve has gaps.",
            "The US-WY segment has 410 customers; its intervals are wide.",
        ),
    )


def korean_evidence() -> EvidencedMap:
    """examples/korean-ecommerce.yaml measured over one month (Korean titles)."""
    jmap = _load("korean-ecommerce.yaml")
    csat = lambda k, n: Satisfaction("csat", wilson(k, n), n)  # noqa: E731
    steps = (
        _step("searches-online", "awareness", 12000, 5400, 6300, median=600, p90=3600),
        _step("reads-blog-review", "awareness", 5400, 3100, 2200, median=900, p90=7200),
        _step(
            "compares-models",
            "consideration",
            3100,
            2050,
            1000,
            median=1800,
            p90=86400,
            emotion=-0.4,
            satisfaction=(csat(40, 70),),
        ),
        _step(
            "visits-product-page",
            "consideration",
            2900,
            860,
            1980,
            median=420,
            p90=2400,
            emotion=-0.8,
            satisfaction=(csat(33, 75),),
        ),
        _step(
            "waits-for-agent",
            "consultation",
            640,
            410,
            210,
            median=540,
            p90=1500,
            emotion=-1.5,
            satisfaction=(csat(18, 80),),
        ),
        _step(
            "asks-filter-cost",
            "consultation",
            410,
            330,
            70,
            median=300,
            p90=900,
            emotion=0.7,
            satisfaction=(csat(50, 64),),
        ),
        _step("checks-out", "purchase", 980, 720, 240, median=240, p90=900, emotion=0.1),
        _step(
            "receives-parcel",
            "delivery",
            720,
            700,
            10,
            median=86400,
            p90=172800,
            emotion=1.4,
            satisfaction=(csat(88, 100),),
        ),
    )
    stages = (
        _stage("awareness", 12000, 3100, 8500, median=1500, p90=10800),
        _stage("consideration", 3100, 860, 2150, median=2200, p90=90000, emotion=-0.6),
        _stage("consultation", 640, 330, 280, median=840, p90=2400, emotion=-0.4),
        _stage("purchase", 980, 720, 240, median=240, p90=900, emotion=0.1),
        _stage("delivery", 720, 700, 10, median=86400, p90=172800, emotion=1.4),
    )
    snapshot = Snapshot(
        as_of=datetime(2026, 11, 20, tzinfo=UTC),
        computed_at=datetime(2026, 11, 20, 6, 30, tzinfo=UTC),
        data_from=datetime(2026, 10, 1, tzinfo=UTC),
        data_to=datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
        customers=13250,
        events=96400,
        feedback=389,
        unmatched_share=0.041,
        window_seconds=3 * 86400,
        engine="duckdb",
        steps=steps,
        stages=stages,
        sources=("events-2026-10.parquet",),
    )
    pain_points = (
        ObservedPainPoint(
            id="drop-off:visits-product-page",
            kind="drop_off",
            title="상세페이지에서 70%가 이탈",
            explanation="상세페이지를 본 고객의 70%가 장바구니로 가지 않았습니다 (여정 평균 45%).",
            step_id="visits-product-page",
            stage_id="consideration",
            affected=1980,
            severity=4,
            confidence="high",
            numbers=(("이탈률", 0.697), ("여정 평균", 0.45), ("고객", 1980)),
            sample=("k-1001", "k-1002"),
            p_value=0.000001,
            declared="hidden-filter-cost",
        ),
        ObservedPainPoint(
            id="slow:waits-for-agent",
            kind="slow",
            title="상담 연결 대기 9분",
            explanation="상담 연결 대기 시간 중앙값이 9분으로 목표(2분)를 넘습니다.",
            step_id="waits-for-agent",
            stage_id="consultation",
            affected=320,
            severity=4,
            confidence="high",
            numbers=(("대기 중앙값(분)", 9), ("목표(분)", 2)),
            sample=("k-2001",),
            declared="long-wait",
        ),
        ObservedPainPoint(
            id="loop:compares-models",
            kind="loop",
            title="비교 사이트와 상세페이지를 오가는 고객",
            explanation="비교 사이트로 돌아간 고객이 620명(20%)입니다.",
            step_id="compares-models",
            stage_id="consideration",
            affected=620,
            severity=3,
            confidence="medium",
            numbers=(("되돌아간 비율", 0.2), ("고객", 620)),
            sample=("k-3001", "k-3002"),
        ),
    )
    opportunities = (
        ScoredOpportunity(
            opportunity_id="show-running-cost",
            title="상세페이지에 연간 유지비 표시",
            addresses=("hidden-filter-cost", "long-wait"),
            customers_affected=2900,
            conversion_lost=0.697,
            value_per_customer=180000.0,
            impact_value=363834000.0,
            currency="KRW",
            impact=4.0,
            feasibility=5.0,
            effort=1.0,
            score=20.0,
            rank=1,
            method="impact_feasibility",
            quadrant="quick win",
        ),
        ScoredOpportunity(
            opportunity_id="guest-subscription",
            title="비회원 정기배송",
            addresses=("forced-signup",),
            customers_affected=980,
            conversion_lost=0.25,
            value_per_customer=30000.0,
            impact_value=7350000.0,
            currency="KRW",
            impact=3.0,
            feasibility=3.0,
            effort=3.0,
            score=9.0,
            rank=2,
            method="impact_feasibility",
            quadrant="fill-in",
        ),
    )
    drivers = (
        _driver("stage:purchase", "channel=app", (430, 720, 90, 240), 0.001),
        _driver("stage:purchase", "event=coupon_view", (200, 720, 60, 240), 0.62),
    )
    preferences = (
        _preference(
            "결제 수단",
            {
                "서울": {"naverpay": 520, "kakaopay": 380, "card": 300},
                "부산": {"naverpay": 180, "kakaopay": 260, "card": 160},
            },
            significant_cells={("부산", "kakaopay"): 4.2, ("서울", "kakaopay"): -4.2},
            statistic=19.6,
            p_value=0.00006,
        ),
        _preference(
            "상담 채널",
            {
                "서울": {"chat": 260, "phone": 140},
                "부산": {"chat": 150, "phone": 90},
            },
            significant_cells={},
            statistic=0.4,
            p_value=0.53,
        ),
    )
    segments = (
        _segment("서울", 8200, 480, (5050, 240), q=0.02),
        _segment("부산", 5050, 240, (8200, 480), q=0.02),
    )
    sankey = (
        SankeyLink(0, "searches-online", "reads-blog-review", 3100),
        SankeyLink(0, "searches-online", "compares-models", 2300),
        SankeyLink(0, "searches-online", "drop-off", 6300),
        SankeyLink(1, "reads-blog-review", "compares-models", 2050),
        SankeyLink(1, "reads-blog-review", "drop-off", 1050),
        SankeyLink(1, "compares-models", "visits-product-page", 1400),
        SankeyLink(1, "compares-models", "other", 300),
        SankeyLink(1, "compares-models", "drop-off", 600),
        SankeyLink(2, "compares-models", "visits-product-page", 1500),
        SankeyLink(2, "compares-models", "drop-off", 550),
        SankeyLink(2, "visits-product-page", "checks-out", 500),
        SankeyLink(2, "visits-product-page", "drop-off", 900),
        SankeyLink(2, "other", "drop-off", 300),
    )
    return EvidencedMap(
        map=jmap,
        snapshot=snapshot,
        pain_points=pain_points,
        opportunities=opportunities,
        drivers=drivers,
        preferences=preferences,
        segments=segments,
        sankey=sankey,
        notes=("피드백은 9개 단계 중 6개에만 있습니다.",),
    )


def _raw_driver(scope: str, feature: str, odds: Estimate, *, q: float | None) -> Driver:
    """A driver with its odds ratio as the analysis left it (possibly without a value,
    with a bound of 0 or infinity)."""
    return Driver(
        scope=scope,
        feature=feature,
        converters_with=50,
        converters=100,
        others_with=50,
        others=100,
        odds_ratio=odds,
        p_value=q,
        q_value=q,
        significant=q is not None and q < 0.05,
    )


def rough_evidence() -> EvidencedMap:
    """:func:`backpack_evidence` with the rough edges of a real analysis output.

    - Drivers: odds ratios without a value (every customer did it), far below 1
      (0.0003 with a lower bound of 0.00002, which rounds to 0), with a lower bound of
      exactly 0 and an infinite upper bound, with NaN; 16 significant in all (more than
      the forest plot's 15), 7 of them in the purchase stage (more than the 5 per
      scope), and a scope (loyalty) where nothing is significant.
    - 15 pain points (3 more than the table shows).
    - A preference with 11 choices in 4 groups (more choices than groups).
    - Sankey paths 8 positions long.
    """
    ev = backpack_evidence()
    nan, inf = math.nan, math.inf
    drivers = (
        # Purchase: 7 significant, 1 not. |ln OR|: 8.34, 6.58, 3.25, 1.11, 0.79, 0.47, 0.095.
        _raw_driver("stage:purchase", "event=support_email", Estimate(4187.4, 260.1, 67416.4),
                    q=0.0001),
        _raw_driver("stage:purchase", "event=phone_call", Estimate(722.0, 295.9, 1761.7), q=0.0001),
        _raw_driver("stage:purchase", "event=order_placed", Estimate(25.8, 16.5, 40.2), q=0.0001),
        _raw_driver("stage:purchase", "event=coupon_click", Estimate(3.04, 2.48, 3.72), q=0.0001),
        _raw_driver("stage:purchase", "channel=app", Estimate(2.2, 1.6, 3.0), q=0.001),
        _raw_driver("stage:purchase", "event=cart_add", Estimate(1.6, 1.2, 2.1), q=0.01),
        # A small effect: |ln 1.1| = 0.095, just above the smallest (ln 0.95, below).
        _raw_driver("stage:purchase", "event=wishlist_add", Estimate(1.1, 1.02, 1.19), q=0.04),
        _raw_driver("stage:purchase", "event=faq_view", Estimate(1.3, 0.8, 2.1), q=0.41),
        # Awareness: every customer viewed a product (no odds ratio); one tiny one.
        _raw_driver("stage:awareness", "event=product_view", Estimate(None, None, None), q=1.0),
        _raw_driver("stage:awareness", "event=ad_impression",
                    Estimate(0.000297, 0.0000186, 0.00476), q=0.0001),
        # Consideration: 6 significant of 8; one interval runs from 0 to infinity.
        _raw_driver("stage:consideration", "event=store_visit", Estimate(0.05, 0.0, inf),
                    q=0.002),
        _raw_driver("stage:consideration", "channel=web", Estimate(103.6, 25.7, 418.3), q=0.0001),
        _raw_driver("stage:consideration", "event=review_posted", Estimate(0.16, 0.04, 0.65),
                    q=0.007),
        _raw_driver("stage:consideration", "channel=phone", Estimate(56.9, 3.5, 926.1), q=0.0001),
        _raw_driver("stage:consideration", "event=app_open", Estimate(0.04, 0.03, 0.06), q=0.0001),
        # The smallest effect of all 16 significant ones (|ln 0.95| = 0.051): the forest
        # plot's 15 leave it out.
        _raw_driver("stage:consideration", "event=email_open", Estimate(0.95, 0.91, 0.99),
                    q=0.03),
        _raw_driver("stage:consideration", "event=chat_start", Estimate(nan, nan, nan), q=None),
        _raw_driver("stage:consideration", "event=size_guide", Estimate(1.2, 0.7, 2.0), q=0.5),
        # The comes-back branch of the compare-outcome fork: 2 significant.
        _raw_driver("fork:compare-outcome/comes-back", "event=email_click",
                    Estimate(1.58, 1.47, 1.7), q=0.0001),
        _raw_driver("fork:compare-outcome/comes-back", "channel=web", Estimate(3.22, 2.11, 4.91),
                    q=0.0001),
        # Loyalty: tested, nothing significant.
        _raw_driver("stage:loyalty", "event=loyalty_join", Estimate(1.4, 0.9, 2.2), q=0.3),
        _raw_driver("stage:loyalty", "event=class_booked", Estimate(0.8, 0.5, 1.3), q=0.6),
    )  # fmt: skip
    extra_pains = tuple(
        ObservedPainPoint(
            id=f"observed-slow-{i}",
            kind="slow",
            title=f"Extra slow spot number {i}",
            explanation=f"A further slow spot (number {i}) found in the data.",
            step_id="visits-site",
            stage_id="consideration",
            affected=10 + i,
            severity=1,
            confidence="low",
            sample=(f"c-9{i:04d}",),
        )
        for i in range(10)
    )
    payment = {
        region: {choice: 10 * (k + 1) + 5 * j for k, choice in enumerate(PAYMENT_CHOICES)}
        for j, region in enumerate(("US-CO", "US-UT", "US-WY", "US-ID"))
    }
    many = _preference(
        "payment method",
        payment,
        significant_cells={("US-ID", "paypal"): 3.3},
        statistic=41.5,
        p_value=0.004,
    )
    chain = ("reads-review", "visits-site", "leaves-to-compare", "sees-coupon-ad",
             "guest-checkout", "wrong-colour-arrives", "waits-in-queue", "agent-books-class")  # fmt: skip
    # 1,000 customers start; at each of the first 7 steps 100 leave and the rest go on.
    sankey = tuple(
        link
        for depth, (a, b) in enumerate(itertools.pairwise(chain))
        for link in (
            SankeyLink(depth, a, b, 1000 - 100 * (depth + 1)),
            SankeyLink(depth, a, "drop-off", 100),
        )
    )
    return replace(
        ev,
        drivers=drivers,
        pain_points=ev.pain_points + extra_pains,
        preferences=(many, *ev.preferences[1:]),
        sankey=sankey,
    )


PAYMENT_CHOICES = ("apple_pay", "bank_transfer", "card", "cash_on_delivery", "invoice",
                   "kakaopay", "konbini", "naverpay", "paypal", "paypay", "sepa_debit")  # fmt: skip
"""The 11 payment methods of :func:`rough_evidence`'s wide preference table."""
