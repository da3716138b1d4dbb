"""Opportunity scoring on the backpack example with a hand-made snapshot.

Most tests use the backpack map without its key-transaction mark (on guest-checkout),
so that every step but the last is in the funnel and loses conversions; the last test
keeps the mark and works out what changes.

The snapshot (trials = customers who went on or left; reach = trials):

    step                      stage          trials  dropped  drop-off
    reads-review              awareness        1000      200      20%
    visits-site               consideration     800      320      40%
    leaves-to-compare         consideration     480      240      50%
    sees-coupon-ad            purchase          240      120      50%
    guest-checkout            purchase          192       72      37.5%
    wrong-colour-arrives      service           120       12      10%
    waits-in-queue            service           108       54      50%
    agent-books-class         service            90       45      50%
    gets-return-instructions  service            72       12      16.7%
    greeted-in-store          loyalty            60        -      (last step: not counted)

    totals without the last step: dropped 1075 of 3102

purchase has two conversion KPIs and service none, so the addressed steps are measured
against the baseline: the pooled drop-off of all the other steps.

    guest-checkout:    baseline (1075-72)/(3102-192) = 1003/2910; lost = 72 - 192*1003/2910 = 5.8227
    agent-books-class: baseline 1030/3012;  lost = 45 - 90*1030/3012   = 14.2231
    sees-coupon-ad:    baseline 955/2862;   lost = 120 - 240*955/2862  = 39.9161
    waits-in-queue:    baseline 1021/2994;  lost = 54 - 108*1021/2994  = 17.1703

Opportunities (addresses → steps):

    link-guest-accounts  not-recognised, poor-data, guest-checkout → guest-checkout, agent-books-class
                         lost 20.0458; affected max(192, 90) = 192; conversion lost 0.104405
    ai-cross-sell        poor-data, agent-books-class → agent-books-class
                         lost 14.2231; affected 90; conversion lost 0.158034
    better-targeting     poor-data, queue-wait, sees-coupon-ad → sees-coupon-ad, waits-in-queue,
                         agent-books-class; lost 71.3095; affected 240; conversion lost 0.297123

Impact: ln(lost) = 2.99802, 2.65486, 4.26702; lo 2.65486, hi 4.26702, span 1.61216.
    link   1 + floor(5 * 0.34316 / 1.61216) = 1 + floor(1.064) = 2
    ai     1 + floor(0) = 1
    better 1 + min(4, floor(5)) = 5
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insight_builders import load_example, snapshot, step

from journeymap.insights import (
    FormulaError,
    ObservedPainPoint,
    ScoringError,
    score_opportunities,
)
from journeymap.insights.opportunities import measure_loss
from journeymap.model import JourneyMap

BACKPACK_AS_SHIPPED = load_example("backpack.yaml")


def _without_key_transaction(jmap: JourneyMap) -> JourneyMap:
    data = jmap.model_dump(mode="json", exclude_none=True)
    for stage in data["stages"]:
        for item in [
            *stage.get("steps", []),
            *(s for sub in stage.get("substages", []) for s in sub.get("steps", [])),
        ]:
            item.pop("key_transaction", None)
    return JourneyMap.model_validate(data)


BACKPACK = _without_key_transaction(BACKPACK_AS_SHIPPED)

COUNTS = [
    ("reads-review", "awareness", 1000, 200),
    ("visits-site", "consideration", 800, 320),
    ("leaves-to-compare", "consideration", 480, 240),
    ("sees-coupon-ad", "purchase", 240, 120),
    ("guest-checkout", "purchase", 192, 72),
    ("wrong-colour-arrives", "service", 120, 12),
    ("waits-in-queue", "service", 108, 54),
    ("agent-books-class", "service", 90, 45),
    ("gets-return-instructions", "service", 72, 12),
    ("greeted-in-store", "loyalty", 60, 0),
]
SNAP = snapshot([step(s, g, trials=n, dropped=d) for s, g, n, d in COUNTS], customers=1000)

LOST = {
    "link-guest-accounts": (72 - 192 * 1003 / 2910) + (45 - 90 * 1030 / 3012),
    "ai-cross-sell": 45 - 90 * 1030 / 3012,
    "better-targeting": (120 - 240 * 955 / 2862)
    + (54 - 108 * 1021 / 2994)
    + (45 - 90 * 1030 / 3012),
}


def by_id(scored: tuple) -> dict:  # type: ignore[type-arg]
    return {s.opportunity_id: s for s in scored}


def test_hand_worked_losses_match_the_comment() -> None:
    assert LOST["link-guest-accounts"] == pytest.approx(20.0458, abs=1e-4)
    assert LOST["ai-cross-sell"] == pytest.approx(14.2231, abs=1e-4)
    assert LOST["better-targeting"] == pytest.approx(71.3095, abs=1e-4)


def test_impact_times_feasibility_ranks_the_backpack_portfolio() -> None:
    scored = score_opportunities(BACKPACK, SNAP, value_per_customer=85.0, currency="USD")
    # better 5 x 4 = 20, link 2 x 4 = 8, ai 1 x 2 = 2
    assert [(s.opportunity_id, s.rank, s.impact, s.score) for s in scored] == [
        ("better-targeting", 1, 5.0, 20.0),
        ("link-guest-accounts", 2, 2.0, 8.0),
        ("ai-cross-sell", 3, 1.0, 2.0),
    ]
    got = by_id(scored)
    for opp_id, affected in (
        ("link-guest-accounts", 192),
        ("ai-cross-sell", 90),
        ("better-targeting", 240),
    ):
        s = got[opp_id]
        assert s.customers_affected == affected
        assert s.conversion_lost == pytest.approx(LOST[opp_id] / affected)
        assert s.impact_value == pytest.approx(LOST[opp_id] * 85.0)
        assert (s.currency, s.value_per_customer, s.method) == ("USD", 85.0, "impact_feasibility")
    assert [
        got[k].quadrant for k in ("better-targeting", "link-guest-accounts", "ai-cross-sell")
    ] == [
        "quick win",  # impact 5, feasibility 4
        "fill-in",  # impact 2, feasibility 4
        "money pit",  # impact 1, feasibility 2
    ]
    better = got["better-targeting"].explanation
    assert "71 conversions" in better and "29.7% of 240" in better
    assert "6,061 USD" in better and "5 × 4 = 20" in better


OBSERVED = (
    ObservedPainPoint(
        id="observed-drop-off-sees-coupon-ad",
        kind="drop_off",
        title="t",
        explanation="e",
        step_id="sees-coupon-ad",
        stage_id="purchase",
        affected=120,
        severity=4,
        confidence="high",
    ),
    ObservedPainPoint(
        id="observed-drop-off-agent-books-class",
        kind="drop_off",
        title="t",
        explanation="e",
        step_id="agent-books-class",
        stage_id="service",
        affected=45,
        severity=3,
        confidence="medium",
        declared="poor-data",
    ),
)


def test_rice_uses_reach_impact_evidence_confidence_and_effort() -> None:
    # confidence: link and ai are backed by the medium observation at agent-books-class
    # (0.8); better also by the high one at sees-coupon-ad (1.0).
    # link 192 x 2 x 0.8 / 2 = 153.6; ai 90 x 1 x 0.8 / 4 = 18; better 240 x 5 x 1 / 3 = 400
    scored = by_id(score_opportunities(BACKPACK, SNAP, OBSERVED, method="rice"))
    assert scored["link-guest-accounts"].score == pytest.approx(153.6)
    assert scored["ai-cross-sell"].score == pytest.approx(18.0)
    assert scored["better-targeting"].score == pytest.approx(400.0)
    assert [
        scored[k].rank for k in ("better-targeting", "link-guest-accounts", "ai-cross-sell")
    ] == [
        1,
        2,
        3,
    ]
    assert "observed-drop-off-sees-coupon-ad" in scored["better-targeting"].explanation


def test_rice_without_observed_pain_points_takes_half_confidence() -> None:
    # 240 x 5 x 0.5 / 3 = 200
    scored = by_id(score_opportunities(BACKPACK, SNAP, method="rice"))
    assert scored["better-targeting"].score == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        # conversions lost per point of effort: link 20.0458/2, ai 14.2231/4, better 71.3095/3
        (
            "reach * conversion_lost / effort",
            {"link-guest-accounts": 10.0229, "ai-cross-sell": 3.5558, "better-targeting": 23.7698},
        ),
        (
            "impact × feasibility ÷ effort",
            {"link-guest-accounts": 4.0, "ai-cross-sell": 0.5, "better-targeting": 20 / 3},
        ),
        (
            "log(impact_value) + sqrt(confidence)",
            {
                "link-guest-accounts": math.log(LOST["link-guest-accounts"] * 10) + math.sqrt(0.5),
                "ai-cross-sell": math.log(LOST["ai-cross-sell"] * 10) + math.sqrt(0.5),
                "better-targeting": math.log(LOST["better-targeting"] * 10) + math.sqrt(0.5),
            },
        ),
    ],
)
def test_custom_formula_scores(formula: str, expected: dict[str, float]) -> None:
    scored = by_id(
        score_opportunities(BACKPACK, SNAP, method="custom", formula=formula, value_per_customer=10)
    )
    for opp_id, value in expected.items():
        assert scored[opp_id].score == pytest.approx(value, abs=1e-4)
        assert scored[opp_id].method == "custom"


def test_custom_formula_that_needs_an_unmeasured_value_names_the_opportunity() -> None:
    with pytest.raises(
        ScoringError,
        match=r"opportunity 'link-guest-accounts'.*uses impact_value.*value per customer",
    ):
        score_opportunities(BACKPACK, SNAP, method="custom", formula="impact_value * 2")


def test_custom_formula_is_checked_before_scoring() -> None:
    with pytest.raises(FormulaError, match="column 8: unknown name 'reech'"):
        score_opportunities(BACKPACK, SNAP, method="custom", formula="impact*reech")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "custom"}, "needs a formula"),
        ({"method": "rice", "formula": "reach"}, "only used with method 'custom'"),
        ({"method": "wsjf"}, "unknown scoring method 'wsjf'"),
        ({"value_per_customer": -1.0}, "non-negative"),
    ],
)
def test_scoring_options_that_do_not_fit_are_refused(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScoringError, match=message):
        score_opportunities(BACKPACK, SNAP, **kwargs)


def test_declared_impact_is_used_when_fewer_than_two_losses_are_measured() -> None:
    # Only guest-checkout and its neighbours have data: agent-books-class, sees-coupon-ad
    # and waits-in-queue are missing, so only link has a loss: nothing to scale against.
    partial = snapshot(
        [
            step(s, g, trials=n, dropped=d)
            for s, g, n, d in COUNTS
            if s not in ("agent-books-class", "sees-coupon-ad", "waits-in-queue")
        ]
    )
    scored = by_id(score_opportunities(BACKPACK, partial))
    assert {k: s.impact for k, s in scored.items()} == {
        "link-guest-accounts": 5.0,
        "ai-cross-sell": 4.0,
        "better-targeting": 3.0,
    }
    assert scored["ai-cross-sell"].customers_affected == 0
    assert scored["ai-cross-sell"].conversion_lost is None
    assert "declared" in scored["link-guest-accounts"].explanation
    assert "no data" in scored["ai-cross-sell"].explanation


def test_stage_drop_off_kpi_is_the_reference_when_the_stage_has_one() -> None:
    # consideration has one drop-off KPI, exit-rate 35%: visits-site 40% of 800 -> 5 points
    # over 800 = 40 lost; leaves-to-compare 50% of 480 -> 15 points = 72 lost.
    loss = measure_loss(BACKPACK, SNAP, ["visits-site", "leaves-to-compare"])
    assert [(s.step_id, s.reference) for s in loss.steps] == [
        ("visits-site", "Exits to compare prices"),
        ("leaves-to-compare", "Exits to compare prices"),
    ]
    assert loss.lost == pytest.approx(40 + 72)
    assert loss.customers_affected == 800
    assert loss.conversion_lost == pytest.approx(112 / 800)


def test_the_stage_conversion_kpi_gap_is_used_when_it_is_the_only_one() -> None:
    jmap = JourneyMap.model_validate(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "kpis": [
                        {"name": "Conversion", "metric": "conversion", "target": 70, "unit": "%"}
                    ],
                    "steps": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
                }
            ],
        }
    )
    # a converts 60 of 100: 10 points under the 70% target -> 10 conversions lost
    loss = measure_loss(jmap, snapshot([step("a", "s", trials=100, dropped=40)]), ["a"])
    assert loss.lost == pytest.approx(10.0)


def test_opportunities_may_address_observed_pain_points_and_stages() -> None:
    data = BACKPACK.model_dump(by_alias=True)
    data["opportunities"] = [
        {
            "id": "fix-ads",
            "title": "Fix ads",
            "addresses": ["observed-drop-off-sees-coupon-ad"],
            "impact": 2,
            "feasibility": 5,
        },
        {
            "id": "fix-service",
            "title": "Fix service",
            "addresses": ["support-call"],
            "impact": 2,
            "feasibility": 5,
        },
    ]
    jmap = JourneyMap.model_validate(data)
    scored = by_id(score_opportunities(jmap, SNAP, OBSERVED))
    # fix-ads: sees-coupon-ad only: 39.9161 lost of 240
    assert scored["fix-ads"].conversion_lost == pytest.approx((120 - 240 * 955 / 2862) / 240)
    # fix-service: the support-call sub-stage: waits-in-queue, agent-books-class and
    # gets-return-instructions (16.7% of 72 is under its baseline: nothing lost there)
    assert scored["fix-service"].customers_affected == 108
    assert scored["fix-service"].conversion_lost == pytest.approx(
        ((54 - 108 * 1021 / 2994) + (45 - 90 * 1030 / 3012)) / 108
    )


def test_declared_impacts_rank_when_nothing_is_measured() -> None:
    # with no snapshot data every impact is declared: link 5x4=20, better 3x4=12, ai 4x2=8
    scored = score_opportunities(BACKPACK, snapshot([]))
    assert [(s.opportunity_id, s.score, s.rank) for s in scored] == [
        ("link-guest-accounts", 20.0, 1),
        ("better-targeting", 12.0, 2),
        ("ai-cross-sell", 8.0, 3),
    ]


def test_ties_break_by_impact_then_feasibility_then_map_order() -> None:
    data = BACKPACK.model_dump(by_alias=True)
    data["opportunities"] = [
        {"id": "first", "title": "A", "impact": 3, "feasibility": 4},  # 12, impact 3
        {"id": "second", "title": "B", "impact": 4, "feasibility": 3},  # 12, impact 4
        {"id": "third", "title": "C", "impact": 4, "feasibility": 3},  # 12, impact 4, later
        {"id": "fourth", "title": "D"},  # undeclared: 3 x 3 = 9
    ]
    scored = score_opportunities(JourneyMap.model_validate(data), snapshot([]))
    assert [(s.opportunity_id, s.score) for s in scored] == [
        ("second", 12.0),
        ("third", 12.0),
        ("first", 12.0),
        ("fourth", 9.0),
    ]
    assert [s.quadrant for s in scored] == ["quick win", "quick win", "quick win", "quick win"]


def test_found_pain_points_feed_the_scores_and_survive_the_document() -> None:
    from journeymap.insights import EvidencedMap, dump_evidenced, find_pain_points, load_evidenced

    pains = find_pain_points(BACKPACK, SNAP)
    # leaves-to-compare (240 of 480), sees-coupon-ad, waits-in-queue, agent-books-class
    # all lose half their customers against a baseline near a third
    flagged = {p.step_id for p in pains if p.kind == "drop_off"}
    assert {"leaves-to-compare", "sees-coupon-ad"} <= flagged
    scored = score_opportunities(BACKPACK, SNAP, pains, method="rice")
    ev = EvidencedMap(BACKPACK, SNAP, pains, scored)
    assert load_evidenced(dump_evidenced(ev)) == ev


@settings(max_examples=40, deadline=None)
@given(drops=st.lists(st.integers(0, 60), min_size=len(COUNTS) - 1, max_size=len(COUNTS) - 1))
def test_more_conversions_lost_never_means_less_impact(drops: list[int]) -> None:
    steps = [
        step(s, g, trials=60, dropped=d)
        for (s, g, _, _), d in zip(COUNTS, [*drops, 0], strict=True)
    ]
    scored = score_opportunities(BACKPACK, snapshot(steps))
    lost = {s.opportunity_id: (s.conversion_lost or 0) * s.customers_affected for s in scored}
    measured = [s for s in scored if lost[s.opportunity_id] > 0]
    if len({round(lost[s.opportunity_id], 9) for s in measured}) >= 2:
        for a in measured:
            for b in measured:
                if lost[a.opportunity_id] > lost[b.opportunity_id] + 1e-9:
                    assert a.impact >= b.impact
        biggest = max(measured, key=lambda s: lost[s.opportunity_id])
        assert biggest.impact == 5.0
    for s in scored:
        assert 1.0 <= s.impact <= 5.0
        assert s.score == s.impact * s.feasibility


def test_steps_at_or_after_the_key_transaction_lose_nothing() -> None:
    # As shipped, guest-checkout is the key transaction: the funnel is reads-review,
    # visits-site, leaves-to-compare and sees-coupon-ad: dropped 200+320+240+120 = 880
    # of 1000+800+480+240 = 2520.
    # better-targeting: only sees-coupon-ad is in the funnel; baseline (880-120)/(2520-240)
    #   = 760/2280 = 1/3; lost = 120 - 240/3 = 40; affected max(240, 108, 90) = 240.
    # link-guest-accounts and ai-cross-sell address steps after the purchase: no loss.
    loss = measure_loss(
        BACKPACK_AS_SHIPPED, SNAP, ["sees-coupon-ad", "waits-in-queue", "agent-books-class"]
    )
    assert loss.lost == pytest.approx(40.0)
    assert loss.customers_affected == 240
    assert (
        measure_loss(BACKPACK_AS_SHIPPED, SNAP, ["guest-checkout", "agent-books-class"]).lost
        is None
    )
