"""Charts of an evidenced map as Vega-Lite specs (Altair), for reports and pages.

Every function returns a plain spec dict: data inline (``data.values``, never a URL),
the font stack NanumGothic first (``config.font``), sized for the text width of an A4
portrait page and coloured from :mod:`journeymap.render.palette`. Turning a spec into
SVG (vl-convert) is the adapter's job (:mod:`journeymap.io.report`); nothing here
fetches or writes anything. :func:`build_charts` makes every chart the report shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from journeymap.insights.evidence import EvidencedMap, Preference
from journeymap.insights.lane import format_count, format_rate, format_seconds
from journeymap.render.palette import EVIDENCE, GRID, INK, MUTED, OKABE_ITO, tint
from journeymap.render.report import (
    FOREST_RANGE,
    describe_scope,
    find_past_goal,
    select_forest_drivers,
)

__all__ = [
    "CHART_FONT",
    "CHART_WIDTH",
    "Spec",
    "build_charts",
    "chart_words",
    "drivers_chart",
    "emotion_chart",
    "funnel_chart",
    "opportunity_chart",
    "preference_chart",
    "segment_chart",
    "time_chart",
]

Spec = dict[str, Any]

CHART_FONT = "NanumGothic, sans-serif"
"""The font of every chart; vl-convert and browsers take the first family they have."""
CHART_WIDTH = 500
"""Plot width in px: with axis labels the chart stays inside A4 portrait's text width."""
LABEL_LIMIT = 190
"""Widest axis label in px; longer step names end with an ellipsis."""

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "customers": "customers",
        "reach": "Reach (customers)",
        "step": "Step",
        "stage": "Stage",
        "emotion": "Emotion (−2 … +2)",
        "declared": "declared",
        "measured": "measured ({n} responses)",
        "series": "Curve",
        "impact": "Impact (1–5)",
        "feasibility": "Feasibility (1–5)",
        "affected": "Customers affected",
        "quick win": "quick win",
        "big bet": "big bet",
        "fill-in": "fill-in",
        "money pit": "money pit",
        "share": "Share",
        "group": "Group",
        "choice": "Choice",
        "rate": "Conversion",
        "segment": "Segment",
        "significant": "significant",
        "not significant": "not significant",
        "odds": "Odds ratio (log scale)",
        "driver": "What converters did",
        "hours": "Hours",
        "median": "median",
        "p90": "90th percentile",
        "measure": "Time",
        "test": "Test",
        "after_goal": "after the goal",
        "phase": "Funnel",
        "before_goal": "to the goal",
    },
    "ko": {
        "customers": "고객",
        "reach": "도달 고객 수",
        "step": "단계",
        "stage": "스테이지",
        "emotion": "감정 (−2 … +2)",
        "declared": "선언된 감정",
        "measured": "측정된 감정 (응답 {n}건)",
        "series": "곡선",
        "impact": "영향 (1–5)",
        "feasibility": "실현 가능성 (1–5)",
        "affected": "영향 고객 수",
        "quick win": "빠른 성과",
        "big bet": "큰 투자",
        "fill-in": "보완 과제",
        "money pit": "비용 함정",
        "share": "비중",
        "group": "그룹",
        "choice": "선택",
        "rate": "전환율",
        "segment": "세그먼트",
        "significant": "유의함",
        "not significant": "유의하지 않음",
        "odds": "오즈비 (로그 축)",
        "driver": "전환 고객의 행동",
        "hours": "시간",
        "median": "중앙값",
        "p90": "90 백분위",
        "measure": "시간",
        "test": "검정",
        "after_goal": "목표 이후",
        "phase": "퍼널",
        "before_goal": "목표까지",
    },
}


def chart_words(lang: str) -> Mapping[str, str]:
    """The words of the charts in ``lang`` (Korean for ``ko``, else English)."""
    return _WORDS["ko"] if lang.lower().split("-")[0] == "ko" else _WORDS["en"]


def _finish(chart: alt.TopLevelMixin) -> Spec:
    """The chart as a spec dict: shared config, no ``$schema`` address."""
    configured = (
        chart.configure(font=CHART_FONT, background="#FFFFFF")
        .configure_view(stroke=GRID)
        .configure_axis(
            labelFont=CHART_FONT,
            titleFont=CHART_FONT,
            labelLimit=LABEL_LIMIT,
            labelColor=INK,
            titleColor=MUTED,
            gridColor="#E6E6E6",
        )
        .configure_legend(
            labelFont=CHART_FONT, titleFont=CHART_FONT, labelLimit=320, orient="bottom"
        )
    )
    spec: Spec = configured.to_dict()
    spec.pop("$schema", None)
    return spec


def _data(rows: Sequence[Mapping[str, Any]]) -> alt.Data:
    """Inline data: the values travel in the spec, nothing is fetched."""
    data: alt.Data = alt.Data(values=[dict(r) for r in rows])  # type: ignore[no-untyped-call]
    return data


def _step_names(ev: EvidencedMap) -> dict[str, str]:
    """Step id → "n. name" in map order."""
    return {step.id: f"{i + 1}. {step.name}" for i, (_, step) in enumerate(ev.map.all_steps())}


def _stage_names(ev: EvidencedMap) -> dict[str, str]:
    return {stage.id: stage.name for stage in ev.map.stages}


def funnel_chart(ev: EvidencedMap, *, by: str = "step", lang: str | None = None) -> Spec:
    """Reach per step (or stage) as bars, each labelled with its conversion and interval.

    Steps without data are left out of the chart (the map says "no data" for them).
    """
    lang = lang or ev.map.lang
    words = chart_words(lang)
    past = find_past_goal(ev)
    if by == "stage":
        names = _stage_names(ev)
        items: list[tuple[str, int, str, bool]] = [
            (s.stage_id, s.reach, format_rate(s.conversion), s.stage_id in past.stages)
            for s in ev.snapshot.stages
        ]
    else:
        names = _step_names(ev)
        items = [
            (s.step_id, s.reach, format_rate(s.conversion), s.step_id in past.steps)
            for s in ev.snapshot.steps
        ]
    order = [names[k] for k in names if any(k == i for i, *_ in items)]
    rows = [
        {
            "name": names[k],
            "reach": reach,
            "label": f"{format_count(reach)} · {words['after_goal'] if after else rate}",
            "phase": words["after_goal"] if after else words["before_goal"],
        }
        for k, reach, rate, after in items
        if k in names
    ]
    axis = words["stage"] if by == "stage" else words["step"]
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y("name:N", sort=order, title=axis),
        x=alt.X("reach:Q", title=words["reach"]),
    )
    # Steps past the goal are grey: customers who stop there have not dropped off.
    colour = alt.Color(
        "phase:N",
        title=words["phase"],
        scale=alt.Scale(
            domain=[words["before_goal"], words["after_goal"]],
            range=[OKABE_ITO["blue"], "#B8B8B8"],
        ),
    )
    bars = base.mark_bar(height={"band": 0.7}).encode(color=colour)
    text = base.mark_text(align="left", dx=4, color=INK, fontSize=11).encode(text="label:N")
    chart = (bars + text).properties(width=CHART_WIDTH - 140, height=max(80, 26 * len(rows)))
    return _finish(chart)


def emotion_chart(ev: EvidencedMap, *, lang: str | None = None) -> Spec:
    """Declared emotion per step beside the measured one (with its responses count)."""
    lang = lang or ev.map.lang
    words = chart_words(lang)
    names = _step_names(ev)
    steps = {s.step_id: s for s in ev.snapshot.steps}
    responses = sum(
        max((x.responses for x in s.satisfaction), default=0)
        for s in ev.snapshot.steps
        if s.measured_emotion is not None
    )
    declared_name = words["declared"]
    measured_name = words["measured"].format(n=format_count(responses))
    rows: list[dict[str, Any]] = []
    for _, step in ev.map.all_steps():
        if step.emotion is not None:
            rows.append({"step": names[step.id], "value": float(step.emotion),
                         "series": declared_name})  # fmt: skip
        measured = steps.get(step.id)
        if measured is not None and measured.measured_emotion is not None:
            value = max(-2.0, min(2.0, float(measured.measured_emotion)))
            rows.append({"step": names[step.id], "value": round(value, 2),
                         "series": measured_name})  # fmt: skip
    colour = alt.Color(
        "series:N",
        title=words["series"],
        scale=alt.Scale(
            domain=[declared_name, measured_name], range=[OKABE_ITO["blue"], OKABE_ITO["black"]]
        ),
    )
    dash = alt.StrokeDash(
        "series:N",
        title=words["series"],
        scale=alt.Scale(domain=[declared_name, measured_name], range=[[1, 0], [6, 4]]),
    )
    base = alt.Chart(_data(rows)).encode(
        x=alt.X(
            "step:N",
            sort=list(names.values()),
            title=None,
            axis=alt.Axis(labelAngle=-35, labelLimit=150),
        ),
        y=alt.Y("value:Q", title=words["emotion"], scale=alt.Scale(domain=[-2, 2])),
        color=colour,
    )
    lines = base.mark_line(strokeWidth=2.5).encode(strokeDash=dash)
    points = base.mark_point(filled=True, size=50)
    return _finish((lines + points).properties(width=CHART_WIDTH, height=220))


def opportunity_chart(ev: EvidencedMap, *, lang: str | None = None) -> Spec:
    """Opportunities on impact × feasibility with quadrant labels; bubble = customers."""
    lang = lang or ev.map.lang
    words = chart_words(lang)
    rows = [
        {
            "title": f"{o.rank}. {o.title}",
            "impact": o.impact,
            "feasibility": o.feasibility,
            "customers": o.customers_affected,
            "quadrant": words[o.quadrant],
            # The name sits above its bubble (the largest bubble is ~23 px across,
            # 0.45 on the 1–5 axis is ~34 px), so the two never cover each other.
            "above": o.impact + 0.45,
        }
        for o in ev.opportunities
    ]
    corners = [
        {"x": 5.4, "y": 5.9, "label": words["quick win"], "align": "right"},
        {"x": 0.6, "y": 5.9, "label": words["big bet"], "align": "left"},
        {"x": 5.4, "y": 0.6, "label": words["fill-in"], "align": "right"},
        {"x": 0.6, "y": 0.6, "label": words["money pit"], "align": "left"},
    ]
    # The impact axis reaches to 6 so the top quadrants' names stay clear of the names
    # of opportunities with impact 5.
    x_scale = alt.Scale(domain=[0.5, 5.5], nice=False)
    scale = alt.Scale(domain=[0.5, 6.0], nice=False)
    x = alt.X(
        "feasibility:Q",
        title=words["feasibility"],
        scale=x_scale,
        axis=alt.Axis(values=[1, 2, 3, 4, 5], format="d"),
    )
    y = alt.Y(
        "impact:Q",
        title=words["impact"],
        scale=scale,
        axis=alt.Axis(values=[1, 2, 3, 4, 5], format="d"),
    )
    bubbles = (
        alt.Chart(_data(rows))
        .mark_circle(color=OKABE_ITO["blue"], opacity=0.55, stroke=OKABE_ITO["blue"])
        .encode(
            x=x,
            y=y,
            size=alt.Size(
                "customers:Q", title=words["affected"], scale=alt.Scale(range=[80, 1600])
            ),
        )
    )
    names = (
        alt.Chart(_data(rows))
        .mark_text(align="center", fontSize=11, color=INK)
        .encode(x=x, y=alt.Y("above:Q", scale=scale), text="title:N")
    )
    rules = (
        alt.Chart(_data([{"at": 3.0}]))
        .mark_rule(color=MUTED, strokeDash=[4, 4])
        .encode(x=alt.X("at:Q", scale=x_scale))
    )
    hrules = (
        alt.Chart(_data([{"at": 3.0}]))
        .mark_rule(color=MUTED, strokeDash=[4, 4])
        .encode(y=alt.Y("at:Q", scale=scale))
    )
    layers = [rules, hrules, bubbles, names]
    for align in ("left", "right"):
        layers.append(
            alt.Chart(_data([c for c in corners if c["align"] == align]))
            .mark_text(align=align, fontSize=12, fontWeight="bold", color=MUTED)
            .encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=scale), text="label:N")
        )
    return _finish(alt.layer(*layers).properties(width=CHART_WIDTH - 80, height=CHART_WIDTH - 120))


def preference_chart(pref: Preference, *, lang: str = "en") -> Spec:
    """Share of each choice by group as a heat table; significant cells marked ``*``.

    A cell is significant when its adjusted residual says the group chooses it more
    (``▲``) or less (``▼``) often than the others.
    """
    words = chart_words(lang)
    rows = []
    for cell in pref.cells:
        mark = ""
        if cell.significant:
            mark = " ▲" if (cell.residual or 0) > 0 else " ▼"
        rows.append(
            {
                "group": cell.group,
                "choice": cell.choice,
                "share": round(cell.share, 4),
                "label": f"{format_rate(cell.share)}{mark}",
                "significant": cell.significant,
            }
        )
    groups = list(dict.fromkeys(c.group for c in pref.cells))
    choices = list(dict.fromkeys(c.choice for c in pref.cells))
    # Like the report's table: many choices go down, the few groups across.
    if len(choices) > len(groups):
        across, down = ("group", pref.group_by, groups), ("choice", pref.dimension, choices)
    else:
        across, down = ("choice", pref.dimension, choices), ("group", pref.group_by, groups)
    angle = -40 if len(across[2]) > 4 else 0
    base = alt.Chart(_data(rows)).encode(
        x=alt.X(
            f"{across[0]}:N",
            title=across[1],
            sort=across[2],
            axis=alt.Axis(labelAngle=angle, labelLimit=120, orient="top"),
        ),
        y=alt.Y(f"{down[0]}:N", title=down[1], sort=down[2]),
    )
    cells = base.mark_rect(stroke="#FFFFFF", strokeWidth=2).encode(
        color=alt.Color(
            "share:Q",
            title=words["share"],
            scale=alt.Scale(
                domain=[0, 1], range=[tint(OKABE_ITO["blue"], 0.92), OKABE_ITO["blue"]]
            ),
            legend=None,
        ),
    )
    text = base.mark_text(fontSize=11).encode(
        text="label:N",
        color=alt.condition("datum.share > 0.5", alt.value("#FFFFFF"), alt.value(INK)),
    )
    width = min(CHART_WIDTH - 120, 90 * len(across[2]))
    return _finish((cells + text).properties(width=width, height=24 * len(down[2])))


def _significance(significant: bool, words: Mapping[str, str]) -> str:
    return words["significant"] if significant else words["not significant"]


def _significance_colour(words: Mapping[str, str], *, legend: bool = True) -> alt.Color:
    return alt.Color(
        "test:N",
        title=words["test"],
        legend=alt.Undefined if legend else None,
        scale=alt.Scale(
            domain=[words["significant"], words["not significant"]], range=[EVIDENCE, "#8A8A8A"]
        ),
    )


def segment_chart(ev: EvidencedMap, *, lang: str | None = None) -> Spec:
    """Conversion with its interval per segment; significant differences in colour."""
    lang = lang or ev.map.lang
    words = chart_words(lang)
    rows = [
        {
            "segment": f"{s.group_by}: {s.segment}",
            "rate": s.rate.value,
            "low": s.rate.low,
            "high": s.rate.high,
            "test": _significance(s.significant, words),
            "label": f"{format_rate(s.rate)} · n {format_count(s.customers)}",
        }
        for s in ev.segments
        if s.rate.value is not None
    ]
    base = alt.Chart(_data(rows)).encode(y=alt.Y("segment:N", title=words["segment"], sort=None))
    x = alt.X("rate:Q", title=words["rate"], axis=alt.Axis(format="%"))
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", axis=alt.Axis(format="%"), title=words["rate"]), x2="high:Q",
        color=_significance_colour(words),
    )  # fmt: skip
    points = base.mark_point(filled=True, size=70).encode(x=x, color=_significance_colour(words))
    text = base.mark_text(align="left", dx=8, dy=-9, fontSize=10.5, color=INK).encode(
        x="high:Q", text="label:N"
    )
    return _finish((bars + points + text).properties(width=CHART_WIDTH - 140,
                                                     height=max(60, 34 * len(rows))))  # fmt: skip


OR_FLOOR, OR_CEILING = FOREST_RANGE
"""Odds ratios and interval bounds outside [OR_FLOOR, OR_CEILING] are drawn at the edge
(a bound of 0 or infinity has no place on a log axis)."""
_LOG_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100,
              200, 500, 1000)  # fmt: skip
_DECADES = (0.001, 0.01, 0.1, 1, 10, 100, 1000)


def _clip_odds(value: float | None, fallback: float) -> tuple[float, bool]:
    """A value for the log axis: finite, within [OR_FLOOR, OR_CEILING], 4 significant
    digits; ``None``/NaN takes ``fallback``. Returns the value and whether it was moved."""
    if value is None or math.isnan(value):
        return fallback, False
    clipped = min(max(value, OR_FLOOR), OR_CEILING)
    return float(f"{clipped:.4g}"), clipped != value


def drivers_chart(ev: EvidencedMap, *, lang: str | None = None) -> Spec:
    """A forest plot: odds ratios with their 95% intervals on a log axis, 1 marked.

    Only the significant drivers with the largest effect are drawn
    (:func:`journeymap.render.report.select_forest_drivers`), largest first, each
    labelled with its feature and its scope in the map's words. Values and bounds
    outside [0.001, 1000] (a bound of 0 or infinity among them) are drawn at the edge
    and the row is marked ``clipped``.
    """
    lang = lang or ev.map.lang
    words = chart_words(lang)
    rows = []
    bounds = [1.0]
    for d in select_forest_drivers(ev):
        value, moved = _clip_odds(d.odds_ratio.value, 1.0)
        low, low_moved = _clip_odds(d.odds_ratio.low, value)
        high, high_moved = _clip_odds(d.odds_ratio.high, value)
        low, high = min(low, value), max(high, value)
        bounds += [low, high]
        rows.append(
            {
                "driver": f"{d.feature} · {describe_scope(ev, d.scope)}",
                "odds": value,
                "low": low,
                "high": high,
                "clipped": moved or low_moved or high_moved,
                "test": _significance(d.significant, words),
            }
        )
    lo = max(OR_FLOOR, min(bounds) / 1.5)
    hi = min(OR_CEILING, max(bounds) * 1.5)
    scale = alt.Scale(type="log", domain=[lo, hi], nice=False)
    # Over a wide range only the powers of ten are labelled, so the labels stay apart.
    steps = _LOG_TICKS if hi / lo <= 200 else _DECADES
    ticks = [t for t in steps if lo <= t <= hi]
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y("driver:N", title=None, sort=None, axis=alt.Axis(labelLimit=220))
    )
    intervals = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", scale=scale, title=words["odds"], axis=alt.Axis(values=ticks)),
        x2="high:Q",
        color=_significance_colour(words, legend=False),
    )  # fmt: skip
    # Every driver drawn is significant: the colour needs no legend.
    points = base.mark_square(size=60).encode(
        x=alt.X("odds:Q", scale=scale), color=_significance_colour(words, legend=False)
    )
    one = (
        alt.Chart(_data([{"one": 1.0}]))
        .mark_rule(color=MUTED, strokeDash=[4, 4])
        .encode(x=alt.X("one:Q", scale=scale))
    )
    chart = (one + intervals + points).properties(
        width=CHART_WIDTH - 250, height=max(60, 22 * len(rows))
    )
    return _finish(chart)


def time_chart(ev: EvidencedMap, *, lang: str | None = None) -> Spec:
    """Time in each stage: the median and the 90th percentile, in hours."""
    lang = lang or ev.map.lang
    words = chart_words(lang)
    names = _stage_names(ev)
    rows = []
    for s in ev.snapshot.stages:
        for key, seconds in (("median", s.median_seconds), ("p90", s.p90_seconds)):
            if seconds is not None and s.stage_id in names:
                rows.append({"stage": names[s.stage_id], "measure": words[key],
                             "hours": round(seconds / 3600, 2),
                             "label": format_seconds(seconds)})  # fmt: skip
    order = [names[s.stage_id] for s in ev.snapshot.stages if s.stage_id in names]
    colour = alt.Color(
        "measure:N",
        title=words["measure"],
        scale=alt.Scale(domain=[words["median"], words["p90"]],
                        range=[OKABE_ITO["blue"], tint(OKABE_ITO["blue"], 0.6)]),
    )  # fmt: skip
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y("stage:N", sort=order, title=words["stage"]),
        yOffset=alt.YOffset("measure:N", sort=[words["median"], words["p90"]]),
        x=alt.X("hours:Q", title=words["hours"]),
    )
    bars = base.mark_bar().encode(color=colour)
    text = base.mark_text(align="left", dx=4, fontSize=10.5, color=INK).encode(text="label:N")
    return _finish((bars + text).properties(width=CHART_WIDTH - 140,
                                            height=max(80, 40 * len(order))))  # fmt: skip


def build_charts(ev: EvidencedMap, *, lang: str | None = None) -> dict[str, Spec]:
    """Every chart the report shows, by name; a chart without data is left out.

    Names: ``funnel``, ``funnel_stages``, ``emotion``, ``opportunities``,
    ``preference_<n>`` (one per preference table), ``segments``, ``drivers``, ``time``.
    """
    lang = lang or ev.map.lang
    snap = ev.snapshot
    charts: dict[str, Spec] = {}
    if snap.steps:
        charts["funnel"] = funnel_chart(ev, lang=lang)
    if snap.stages:
        charts["funnel_stages"] = funnel_chart(ev, by="stage", lang=lang)
    declared = any(step.emotion is not None for _, step in ev.map.all_steps())
    if declared or any(s.measured_emotion is not None for s in snap.steps):
        charts["emotion"] = emotion_chart(ev, lang=lang)
    if ev.opportunities:
        charts["opportunities"] = opportunity_chart(ev, lang=lang)
    for i, pref in enumerate(ev.preferences):
        if pref.cells:
            charts[f"preference_{i}"] = preference_chart(pref, lang=lang)
    if ev.segments:
        charts["segments"] = segment_chart(ev, lang=lang)
    if ev.drivers:
        charts["drivers"] = drivers_chart(ev, lang=lang)
    if any(s.median_seconds is not None for s in snap.stages):
        charts["time"] = time_chart(ev, lang=lang)
    return charts
