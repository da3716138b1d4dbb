"""The measured lane: display strings per step, in English and Korean, and the curve."""

from __future__ import annotations

import pytest
from insight_builders import estimate, load_example, sat, snapshot, step

from journeymap.insights import measured_emotion, metrics_lane
from journeymap.insights.evidence import Estimate
from journeymap.insights.lane import format_rate, format_seconds
from journeymap.render.layout import layout_map


def test_lane_shows_reach_conversion_drop_off_time_and_satisfaction() -> None:
    # 500 customers went on or left, 190 left: conversion 310/500 = 62%, Wilson 95%
    # interval (0.5767, 0.6615) -> "62% (58–66)"; drop-off 38%; 1,234 reached it.
    metrics = step(
        "visit",
        "buy",
        trials=500,
        dropped=190,
        in_progress=734,
        median=100800.0,  # 28 hours
        satisfaction=[sat("csat", 0.81, 120), sat("nps", 32.0, 80)],
    )
    lane = metrics_lane(snapshot([metrics]))
    assert lane == {
        "visit": {
            "Reach": "1,234",
            "Conversion": "62% (58–66)",
            "Drop-off": "38%",
            "Median time": "1d 4h",
            "Satisfaction": "CSAT 81% · NPS +32",
        }
    }


def test_lane_speaks_korean() -> None:
    metrics = step(
        "visit", "buy", trials=40, dropped=1, median=90.0, satisfaction=[sat("rating", 4.24, 30)]
    )
    # 39/40 = 97.5%; 1/40 = 2.5% keeps a decimal
    lane = metrics_lane(snapshot([metrics]), lang="ko-KR")["visit"]
    assert list(lane) == ["도달", "전환율", "이탈률", "소요 시간(중앙값)", "만족도"]
    assert lane["이탈률"] == "2.5%"
    assert lane["소요 시간(중앙값)"] == "1m 30s"
    assert lane["만족도"] == "평점 4.2/5"


def test_lane_leaves_out_what_was_not_measured() -> None:
    metrics = step("visit", "buy", trials=0, dropped=0, in_progress=12)
    assert metrics_lane(snapshot([metrics])) == {"visit": {"Reach": "12"}}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (42.4, "42s"),
        (59.6, "1m"),
        (125, "2m 5s"),
        (3600, "1h"),
        (5430, "1h 31m"),  # 1h 30m 30s rounds to the minute
        (86399, "1d"),  # 23h 59m 59s rounds to 24h, which is a day
        (100800, "1d 4h"),
        (20 * 86400, "20d"),
        (30 * 86400, "4w 2d"),
    ],
)
def test_durations_read_in_two_units(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Estimate(0.62, 0.5767, 0.6615), "62% (58–66)"),
        (Estimate(0.034, 0.021, 0.05), "3.4% (2.1–5.0)"),
        (Estimate(None), ""),
        (0.5, "50%"),
        (0.0, "0%"),
    ],
)
def test_rates_read_as_percentages(rate: Estimate | float, text: str) -> None:
    assert format_rate(rate) == text


def test_wilson_estimate_of_the_builder_matches_the_lane_example() -> None:
    e = estimate(310, 500)
    assert (round(e.low or 0, 4), round(e.high or 0, 4)) == (0.5767, 0.6615)


@pytest.mark.parametrize(
    ("scale", "value", "text"),
    [
        ("csat", 0.805, "CSAT 80%"),  # 80.5 rounds half to even
        ("nps", -12.4, "NPS -12"),
        ("ces", 3.26, "CES 3.3/7"),
        ("rating", 4.0, "Rating 4.0/5"),
        ("sentiment", 0.254, "Sentiment +0.25"),
    ],
)
def test_each_satisfaction_scale_has_its_form(scale: str, value: float, text: str) -> None:
    metrics = step("a", "s", trials=0, dropped=0, satisfaction=[sat(scale, value, 10)])  # type: ignore[arg-type]
    assert metrics_lane(snapshot([metrics]))["a"]["Satisfaction"] == text


def test_measured_emotion_keeps_steps_with_feedback_and_clamps_to_the_scale() -> None:
    snap = snapshot(
        [
            step("a", "s", trials=10, dropped=1, emotion=-0.75),
            step("b", "s", trials=10, dropped=1),
            step("c", "s", trials=10, dropped=1, emotion=2.0000001),
        ]
    )
    assert measured_emotion(snap) == {"a": -0.75, "c": 2.0}


def test_the_renderer_takes_the_lane_and_the_curve() -> None:
    jmap = load_example("backpack.yaml")
    steps = [
        step(s.id, stage.id, trials=100, dropped=20, median=3600.0, emotion=0.5)
        for stage, s in jmap.all_steps()
    ]
    snap = snapshot(steps)
    layout = layout_map(jmap, metrics=metrics_lane(snap), measured_emotion=measured_emotion(snap))
    assert "metrics" in layout.lanes
    lines = [
        line
        for card in layout.cards
        if card.lane == "metrics" and card.ref == "guest-checkout"
        for text in card.texts
        for line in text.lines
    ]
    assert any("80% (71–87)" in line for line in lines), lines  # 80 of 100, Wilson
    assert any("1h" in line for line in lines), lines
