"""Chart specs of the evidenced map: their fields and data, the font, nothing to fetch.

The specs are plain Vega-Lite dicts (render/charts.py). vl-convert turns them into SVG
offline (io/report.py); the Korean labels must come out as text in NanumGothic.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from evidence_fixtures import PAYMENT_CHOICES, backpack_evidence, korean_evidence, rough_evidence
from journeymap.insights.evidence import EvidencedMap
from journeymap.io.report import ReportError, chart_svg
from journeymap.render.charts import (
    CHART_WIDTH,
    OR_CEILING,
    OR_FLOOR,
    Spec,
    build_charts,
    drivers_chart,
    emotion_chart,
    funnel_chart,
    opportunity_chart,
    preference_chart,
    segment_chart,
    time_chart,
)
from journeymap.render.palette import EVIDENCE, OKABE_ITO

FIXTURES: dict[str, Callable[[], EvidencedMap]] = {
    "backpack": backpack_evidence,
    "korean": korean_evidence,
    "rough": rough_evidence,
}
ALL_CHARTS = ["funnel", "funnel_stages", "emotion", "opportunities", "preference_0",
              "preference_1", "segments", "drivers", "time"]  # fmt: skip


@functools.cache
def _evidence(name: str) -> EvidencedMap:
    return FIXTURES[name]()


@functools.cache
def _charts(name: str) -> dict[str, Spec]:
    return build_charts(_evidence(name))


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in a nested spec."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _values(spec: Spec) -> list[dict[str, Any]]:
    """All inline data rows of a (possibly layered) spec."""
    rows: list[dict[str, Any]] = []
    for key, item in _walk(spec):
        if key == "data" and isinstance(item, dict) and "values" in item:
            rows += item["values"]
    return rows


def _main_rows(spec: Spec, field: str) -> list[dict[str, Any]]:
    """The rows carrying ``field``, once each (layers of one chart share their rows)."""
    seen: list[dict[str, Any]] = []
    for row in _values(spec):
        if field in row and row not in seen:
            seen.append(row)
    return seen


@pytest.mark.parametrize("name", ["backpack", "korean"])
def test_every_chart_is_built_when_its_data_is_there(name: str) -> None:
    assert list(_charts(name)) == ALL_CHARTS


@pytest.mark.parametrize("chart", ALL_CHARTS)
@pytest.mark.parametrize("name", FIXTURES)
def test_every_spec_names_nanumgothic_first_and_fetches_nothing(name: str, chart: str) -> None:
    spec = _charts(name)[chart]
    assert spec["config"]["font"].split(",")[0] == "NanumGothic"
    assert spec["config"]["axis"]["labelFont"].startswith("NanumGothic")
    text = json.dumps(spec, ensure_ascii=False)
    assert "http" not in text and "$schema" not in spec
    assert [k for k, v in _walk(spec) if k == "url"] == []
    # Data travels inline only: every data block is {"values": [...]}.
    data = [v for k, v in _walk(spec) if k == "data"]
    assert data and all(set(d) == {"values"} for d in data)


@pytest.mark.parametrize("chart", ALL_CHARTS)
def test_every_spec_fits_the_a4_text_width(chart: str) -> None:
    spec = _charts("backpack")[chart]
    widths = [v for k, v in _walk(spec) if k == "width" and isinstance(v, int | float)]
    assert widths and max(widths) <= CHART_WIDTH


def test_funnel_bars_are_the_reach_with_conversion_labels() -> None:
    ev = _evidence("backpack")
    rows = _main_rows(funnel_chart(ev), "reach")
    assert [r["reach"] for r in rows] == [s.reach for s in ev.snapshot.steps]
    # sees-coupon-ad: 620 of 1,860 decided = 33.3%, Wilson 95% interval 31.2%–35.5%.
    assert rows[3]["label"] == "1,900 · 33% (31–36)"
    assert rows[3]["name"] == "4. Sees a coupon ad a day later"
    stages = _main_rows(funnel_chart(ev, by="stage"), "reach")
    assert [r["name"] for r in stages] == ["Awareness", "Consideration", "Purchase", "Service"]


def test_emotion_chart_pairs_declared_and_measured_with_the_responses() -> None:
    ev = _evidence("backpack")
    spec = emotion_chart(ev)
    rows = _main_rows(spec, "series")
    declared = {r["step"]: r["value"] for r in rows if r["series"] == "declared"}
    measured = {r["step"]: r["value"] for r in rows if r["series"] != "declared"}
    assert len(declared) == 10 and declared["7. Waits long in the support queue"] == -2.0
    assert measured == {
        "2. Visits the Ridgeway site": 0.6,
        "4. Sees a coupon ad a day later": 0.4,
        "5. Buys as a guest with her email": -0.5,
        "6. The wrong colour arrives": -1.7,
        "7. Waits long in the support queue": -1.6,
        "8. The agent finds her loyalty membership and books her a backpacking class": 0.9,
    }
    # 90 + 48 + 120 + 64 + 84 + 60 responses behind the measured points.
    assert {r["series"] for r in rows} == {"declared", "measured (466 responses)"}
    colours = [v for k, v in _walk(spec) if k == "range" and OKABE_ITO["blue"] in v]
    assert colours and all(c == [OKABE_ITO["blue"], OKABE_ITO["black"]] for c in colours)


def test_opportunity_chart_places_each_on_impact_and_feasibility() -> None:
    spec = opportunity_chart(_evidence("backpack"))
    rows = _main_rows(spec, "customers")
    assert [(r["title"], r["impact"], r["feasibility"], r["customers"]) for r in rows] == [
        ("1. Link guest orders to loyalty accounts", 5.0, 4.0, 980),
        ("2. Target offers by what members already own", 3.0, 4.0, 1900),
        ("3. AI cross-sell in the contact centre", 4.0, 2.0, 300),
    ]
    corners = {r["label"] for r in _values(spec) if "label" in r}
    assert corners == {"quick win", "big bet", "fill-in", "money pit"}


def test_preference_chart_marks_significant_cells() -> None:
    pref = _evidence("backpack").preferences[0]
    rows = _main_rows(preference_chart(pref), "share")
    cells = {(r["group"], r["choice"]): r for r in rows}
    # US-WY: 110 of 300 paid by PayPal = 36.7%, more than elsewhere (residual +5.1).
    assert cells[("US-WY", "paypal")]["share"] == pytest.approx(110 / 300, abs=1e-4)
    assert cells[("US-WY", "paypal")]["label"] == "37% ▲"
    assert cells[("US-WY", "card")]["label"] == "50% ▼"
    assert cells[("US-CO", "card")]["label"] == "62%"
    assert sum(r["significant"] for r in rows) == 2


def test_segment_chart_shows_rate_with_interval_and_significance() -> None:
    rows = _main_rows(segment_chart(_evidence("backpack")), "rate")
    by = {r["segment"]: r for r in rows}
    assert by["region: US-CO"]["rate"] == pytest.approx(1260 / 3600)
    assert by["region: US-CO"]["low"] < 0.35 < by["region: US-CO"]["high"]
    assert [r["test"] for r in rows] == ["significant", "not significant", "significant"]


def test_drivers_chart_is_a_forest_plot_on_a_log_axis() -> None:
    spec = drivers_chart(_evidence("backpack"))
    rows = _main_rows(spec, "odds")
    coupon = rows[0]
    # 410 of 610 converters clicked a coupon, 520 of 1,290 others:
    # OR = (410 × 770) / (200 × 520) = 315,700 / 104,000 = 3.036.
    assert coupon["odds"] == pytest.approx(3.036, abs=0.001)
    se = math.sqrt(1 / 410 + 1 / 200 + 1 / 520 + 1 / 770)
    assert coupon["low"] == pytest.approx(3.0356 * math.exp(-1.96 * se), abs=0.01)
    assert [v for k, v in _walk(spec) if k == "type" and v == "log"]
    assert [r for r in _values(spec) if r.get("one") == 1.0]
    colours = [v for k, v in _walk(spec) if k == "range" and EVIDENCE in v]
    assert colours


def test_time_chart_shows_median_and_p90_hours_per_stage() -> None:
    rows = _main_rows(time_chart(_evidence("backpack")), "hours")
    by = {(r["stage"], r["measure"]): r for r in rows}
    # Consideration: median 90,000 s = 25 h ("1d 1h"), p90 500,000 s = 138.89 h.
    assert by[("Consideration", "median")]["hours"] == 25.0
    assert by[("Consideration", "median")]["label"] == "1d 1h"
    assert by[("Consideration", "90th percentile")]["hours"] == pytest.approx(138.89)


def test_korean_charts_use_korean_words() -> None:
    charts = _charts("korean")
    text = json.dumps(charts, ensure_ascii=False)
    assert "측정된 감정 (응답 389건)" in text and "실현 가능성 (1–5)" in text
    assert "비교·검토" in json.dumps(charts["funnel_stages"], ensure_ascii=False)


# --- vl-convert ------------------------------------------------------------------------


@pytest.mark.parametrize("chart", ["funnel_stages", "emotion", "preference_0"])
def test_vl_convert_draws_korean_labels_as_text_in_nanumgothic(chart: str) -> None:
    svg = chart_svg(chart, _charts("korean")[chart])
    assert svg.lstrip().startswith("<svg")
    assert "NanumGothic" in svg
    expected = {"funnel_stages": "비교·검토", "emotion": "측정된 감정", "preference_0": "부산"}
    assert expected[chart] in svg


def test_a_broken_spec_is_a_report_error_naming_the_chart() -> None:
    with pytest.raises(ReportError, match="chart 'broken'"):
        chart_svg("broken", {"mark": "no-such-mark", "data": {"values": []}})


def test_forest_plot_keeps_the_15_largest_significant_effects_clipped_to_the_axis() -> None:
    ev = _evidence("rough")
    spec = drivers_chart(ev)
    rows = _main_rows(spec, "odds")
    # 16 significant drivers; the smallest effect (email_open, |ln 0.95| = 0.051) is
    # left out, and so are the ones without a value (product_view, chat_start: NaN).
    assert len(rows) == 15
    features = [r["driver"].split(" · ")[0] for r in rows]
    assert "event=email_open" not in features and "event=product_view" not in features
    assert "event=wishlist_add" in features  # |ln 1.1| = 0.095, the 15th
    # Largest effect first: support_email (ln 4,187 = 8.34), ad_impression
    # (|ln 0.000297| = 8.12), phone_call (ln 722 = 6.58).
    assert features[:3] == ["event=support_email", "event=ad_impression", "event=phone_call"]
    assert rows[0]["driver"] == "event=support_email · Purchase"
    for r in rows:
        for key in ("odds", "low", "high"):
            assert math.isfinite(r[key]) and OR_FLOOR <= r[key] <= OR_CEILING, r
        assert r["low"] <= r["odds"] <= r["high"]
    by = {r["driver"].split(" · ")[0]: r for r in rows}
    # 0.000297 (0.0000186–0.00476): value and lower bound drawn at 0.001.
    assert (by["event=ad_impression"]["odds"], by["event=ad_impression"]["low"]) == (0.001, 0.001)
    # A lower bound of 0 and an infinite upper one: drawn at 0.001 and 1,000.
    assert (by["event=store_visit"]["low"], by["event=store_visit"]["high"]) == (0.001, 1000.0)
    assert by["event=store_visit"]["clipped"] and not by["event=coupon_click"]["clipped"]
    domains = [v for k, v in _walk(spec) if k == "domain" and isinstance(v, list)
               and all(isinstance(x, float) for x in v)]  # fmt: skip
    assert domains and all(OR_FLOOR <= lo < 1 < hi <= OR_CEILING for lo, hi in domains)


def test_forest_plot_draws_its_marks_in_svg() -> None:
    svg = chart_svg("drivers", drivers_chart(_evidence("rough")))
    # 15 intervals (rule marks) and 15 squares, every coordinate a number.
    assert svg.count('aria-roledescription="rule mark"') >= 15
    assert svg.count('aria-roledescription="square"') == 15
    assert "NaN" not in svg and "Infinity" not in svg


def test_funnel_chart_greys_the_steps_past_the_goal() -> None:
    rows = _main_rows(funnel_chart(_evidence("backpack")), "reach")
    by = {r["name"]: r for r in rows}
    # guest-checkout (step 5) is the key transaction: it and what follows are past it.
    assert by["5. Buys as a guest with her email"]["label"] == "980 · after the goal"
    assert by["4. Sees a coupon ad a day later"]["phase"] == "to the goal"
    assert [r["phase"] for r in rows].count("after the goal") == 4
    stages = {r["name"]: r["phase"] for r in _main_rows(funnel_chart(_evidence("backpack"),
                                                                     by="stage"), "reach")}  # fmt: skip
    assert stages == {"Awareness": "to the goal", "Consideration": "to the goal",
                      "Purchase": "after the goal", "Service": "after the goal"}  # fmt: skip


def _axis(spec: Spec, channel: str) -> dict[str, Any]:
    found = [v[channel] for k, v in _walk(spec) if k == "encoding" and channel in v]
    return next(e for e in found if "axis" in e or "title" in e)


def test_preference_chart_puts_many_choices_down_and_rotates_crowded_labels() -> None:
    wide = _evidence("rough").preferences[0]
    spec = preference_chart(wide)
    # 11 choices, 4 groups: choices down the y axis, groups across.
    assert _axis(spec, "y")["field"] == "choice" and _axis(spec, "y")["sort"] == list(
        PAYMENT_CHOICES
    )
    assert _axis(spec, "x")["field"] == "group" and _axis(spec, "x")["axis"]["labelAngle"] == 0
    from dataclasses import replace

    # The backpack's 3 choices in 3 regions stay across, level.
    few = preference_chart(_evidence("backpack").preferences[0])
    assert _axis(few, "x")["field"] == "choice" and _axis(few, "x")["axis"]["labelAngle"] == 0
    many = replace(wide, cells=tuple(replace(c, group=f"g{i % 6}", choice=f"c{i % 5}")
                                     for i, c in enumerate(wide.cells[:30])))  # fmt: skip
    # 5 choices in 6 groups: the 5 choices go across, rotated.
    assert _axis(preference_chart(many), "x")["axis"]["labelAngle"] == -40
