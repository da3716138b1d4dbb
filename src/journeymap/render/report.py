"""The analysis report: one self-contained HTML document about an evidenced map.

:func:`render_report` writes the whole report as a string: title, as-of date and data
freshness, a one-paragraph summary that quotes its numbers, the evidenced map, the
funnel, the Sankey, declared against measured emotion, the pain points found in the
data, the opportunity portfolio, the comparison of regions and segments, the
conversion drivers, time in stage, and the notes and caveats. Charts come in as SVG
strings (made from :mod:`journeymap.render.charts` specs by the adapter,
:mod:`journeymap.io.report`); the map and the Sankey are drawn here.

Nothing in the page is fetched: no URL, no script, no web font. Fonts are named
(NanumGothic first). The print stylesheet lays the report out on A4 portrait sheets,
with the map's printed pages on A4 landscape sheets; WeasyPrint makes the PDF from it.

Every figure is formatted by one of :func:`journeymap.insights.lane.format_count`,
:func:`~journeymap.insights.lane.format_rate`,
:func:`~journeymap.insights.lane.format_seconds` or :func:`format_number`, so a test
can trace each number back to the evidenced map.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape, quoteattr

from journeymap.insights.evidence import (
    Driver,
    EvidencedMap,
    ObservedPainPoint,
    Preference,
    ScoredOpportunity,
    StepMetrics,
)
from journeymap.insights.funnel import find_biggest_drop_off, list_drop_off_steps
from journeymap.insights.lane import (
    format_count,
    format_rate,
    format_satisfaction,
    format_seconds,
)
from journeymap.render.evidence import as_of_line, prepare_evidence, responses_behind
from journeymap.render.html import sheet_size
from journeymap.render.layout import layout_map
from journeymap.render.sankey import MAX_POSITIONS, render_sankey
from journeymap.render.svg import draw_page, measure_page, svg_document
from journeymap.render.text import FONT_STACK

__all__ = [
    "DRIVERS_PER_SCOPE",
    "FOREST_DRIVERS",
    "FOREST_RANGE",
    "MIN_DECIDED",
    "PAIN_POINTS_SHOWN",
    "REPORT_SECTIONS",
    "DriverScope",
    "PastGoal",
    "describe_scope",
    "find_past_goal",
    "format_number",
    "format_odds",
    "format_p",
    "format_value",
    "group_drivers",
    "render_report",
    "report_words",
    "select_forest_drivers",
]

MIN_DECIDED = 30
"""A step's drop-off is only called the biggest when at least this many customers decided."""
SMALL_SEGMENT = 100
"""Segments with fewer customers are named in the caveats."""
PAIN_POINTS_SHOWN = 12
"""The pain points table shows this many; the rest are in the evidenced JSON."""
DRIVERS_PER_SCOPE = 5
"""Significant drivers shown per scope (stage or fork branch)."""
FOREST_DRIVERS = 15
"""Drivers in the forest plot: the significant ones with the largest effect."""
FOREST_RANGE = (1e-3, 1e3)
"""The forest plot's odds-ratio axis; values and bounds beyond it are drawn at its edge."""


@dataclass(frozen=True)
class DriverScope:
    """The drivers tested in one scope (a stage or a fork's branch).

    ``label`` is the scope in the map's words; ``tested`` how many features were
    tested there; ``significant`` those with q ≤ the false-discovery rate, largest
    effect (|log odds ratio|) first.
    """

    scope: str
    label: str
    tested: int
    significant: tuple[Driver, ...]


def describe_scope(ev: EvidencedMap, scope: str) -> str:
    """A driver's scope in the map's words: the stage's name, or the fork's branch label.

    ``stage:purchase`` → ``Purchase``; ``fork:compare-outcome/comes-back`` → the
    branch's label. An id the map does not know is shown as it is.
    """
    kind, _, rest = scope.partition(":")
    if kind == "stage":
        return next((s.name for s in ev.map.stages if s.id == rest), rest or scope)
    if kind == "fork":
        fork_id, _, branch_id = rest.partition("/")
        for fork in ev.map.forks:
            if fork.id == fork_id:
                branch = next((b for b in fork.branches if b.id == branch_id), None)
                return branch.label if branch is not None else fork.question
    return scope


def _effect(driver: Driver) -> float:
    """|log odds ratio|; 0 when there is no finite positive odds ratio."""
    value = driver.odds_ratio.value
    if value is None or not math.isfinite(value) or value <= 0:
        return 0.0
    return abs(math.log(value))


def _scope_position(ev: EvidencedMap, scope: str) -> float:
    """Where a scope sits in the journey: its stage's first step, or the fork's step."""
    order = {step.id: i for i, (_, step) in enumerate(ev.map.all_steps())}
    kind, _, rest = scope.partition(":")
    if kind == "stage":
        for stage, step in ev.map.all_steps():
            if stage.id == rest:
                return order[step.id] - 0.5
    if kind == "fork":
        fork_id = rest.partition("/")[0]
        for fork in ev.map.forks:
            if fork.id == fork_id and fork.at in order:
                return float(order[fork.at])
    return float(len(order))


def group_drivers(
    ev: EvidencedMap, *, per_scope: int | None = DRIVERS_PER_SCOPE
) -> tuple[DriverScope, ...]:
    """The drivers by scope, scopes in journey order; each keeps its significant
    drivers (largest effect first, at most ``per_scope``; ``None`` keeps all)."""
    scopes: dict[str, list[Driver]] = {}
    for d in ev.drivers:
        scopes.setdefault(d.scope, []).append(d)
    ordered = sorted(scopes, key=lambda s: (_scope_position(ev, s), s))
    groups = []
    for scope in ordered:
        found = sorted((d for d in scopes[scope] if d.significant), key=lambda d: -_effect(d))
        groups.append(
            DriverScope(
                scope=scope,
                label=describe_scope(ev, scope),
                tested=len(scopes[scope]),
                significant=tuple(found[:per_scope] if per_scope is not None else found),
            )
        )
    return tuple(groups)


def select_forest_drivers(ev: EvidencedMap, *, limit: int = FOREST_DRIVERS) -> tuple[Driver, ...]:
    """The drivers the forest plot shows: significant, with a finite positive odds
    ratio, the ``limit`` with the largest |log odds ratio|, largest first."""
    drawable = [d for d in ev.drivers if d.significant and _effect(d) > 0]
    return tuple(sorted(drawable, key=lambda d: -_effect(d))[:limit])


@dataclass(frozen=True)
class PastGoal:
    """The steps and stages at or after the goal: going no further there is no loss."""

    steps: frozenset[str]
    stages: frozenset[str]


def find_past_goal(ev: EvidencedMap) -> PastGoal:
    """The step ids and stage ids past the goal, where going no further is no loss.

    Steps: those at or after the map's key transaction (every step not in
    :func:`journeymap.insights.funnel.list_drop_off_steps`). Stages: those whose last
    step is past the goal (the next stage is not needed to reach the goal).
    """
    funnel = set(list_drop_off_steps(ev.map))
    steps = frozenset(step.id for _, step in ev.map.all_steps() if step.id not in funnel)
    stages = frozenset(
        stage.id
        for stage in ev.map.stages
        if (last := list(stage.all_steps())) and last[-1].id in steps
    )
    return PastGoal(steps=steps, stages=stages)


REPORT_SECTIONS = (
    "summary",
    "map",
    "funnel",
    "sankey",
    "emotion",
    "pain-points",
    "opportunities",
    "comparison",
    "drivers",
    "time",
    "notes",
)
"""Section ids, in the order the report shows them."""

_EN: dict[str, str] = {
    "report": "Journey analysis",
    "summary": "Summary",
    "map": "The evidenced map",
    "funnel": "Funnel",
    "sankey": "Paths (Sankey)",
    "emotion": "Emotion: declared and measured",
    "pain-points": "Pain points found in the data",
    "opportunities": "Opportunity portfolio",
    "comparison": "Regions and segments",
    "drivers": "Conversion drivers",
    "time": "Time in stage",
    "notes": "Notes and caveats",
    "freshness": "Data {period} · computed {computed} · {events} events · {feedback} feedback "
    "responses · engine {engine}",
    "sources": "Sources",
    "none": "No data for this section.",
    "summary_drop": "The biggest drop-off is at “{step}” ({stage}): {rate} of the customers "
    "who got there did not go on ({dropped} of {decided}).",
    "summary_pain": "The most severe pain point found in the data is “{title}” ({where}), "
    "affecting {affected} customers (confidence {confidence}).",
    "summary_opportunity": "The top opportunity is “{title}” ({quadrant}, score {score}): "
    "{affected} customers affected{value}.",
    "summary_value": ", {value} at stake",
    "summary_none": "There is no measured data yet.",
    "map_note": "The measured lane sits under each step; pain points found in the data are "
    "marked observed.",
    "map_legend": "Borders: solid = observed, dashed = reported, dotted = assumed. Emotion: "
    "solid blue = declared, dashed black = {measured}. An “observed” badge marks a pain "
    "point found in the data; “confirmed by data” a declared one the data confirms.",
    "step": "Step",
    "stage": "Stage",
    "reach": "Reach",
    "converted": "Converted",
    "dropped": "Dropped",
    "in_progress": "In progress",
    "conversion": "Conversion (95% CI)",
    "drop_off": "Drop-off",
    "median": "Median time",
    "p90": "90th percentile",
    "satisfaction": "Satisfaction",
    "no_data": "no data",
    "after_goal": "after the goal",
    "after_goal_note": "After the goal (“{goal}”, the key transaction): a customer who goes "
    "no further has reached it, so this is not a loss.",
    "after_goal_last": "The last step of the journey: a customer who goes no further has "
    "finished it, so this is not a loss.",
    "what": "What",
    "where": "Where",
    "numbers": "Numbers",
    "affected": "Affected",
    "confidence": "Confidence",
    "sample": "Sample customers",
    "sample_line": "e.g. customers {ids}",
    "sankey_cut": "The first {n} positions of each path; hover a node for its full name.",
    "more_pains": "{n} more in the evidenced JSON (pain_points).",
    "confirms": "confirms the declared pain point “{text}”",
    "whole_journey": "whole journey",
    "rank": "Rank",
    "opportunity": "Opportunity",
    "quadrant": "Quadrant",
    "score": "Score",
    "impact": "Impact",
    "feasibility": "Feasibility",
    "effort": "Effort",
    "lost": "Conversion lost",
    "value": "Value at stake",
    "preference": "{dimension} by {group_by}",
    "test": "χ² = {statistic}, {dof} degrees of freedom, {p}: {verdict}.",
    "significant": "the groups differ",
    "not_significant": "no significant difference",
    "marked": "▲ / ▼: chosen significantly more / less often than in the other groups.",
    "group": "Group",
    "choice": "Choice",
    "count": "Customers",
    "share": "Share",
    "segment": "Segment",
    "rate": "Rate (95% CI)",
    "difference": "Difference to the rest",
    "q": "q (FDR)",
    "yes": "yes",
    "no": "no",
    "sig": "Significant",
    "scope": "Where",
    "feature": "What converters did",
    "with_conv": "Converters with it",
    "with_others": "Others with it",
    "odds": "Odds ratio (95% CI)",
    "drivers_none": "None of the {n} features tested differs significantly between converters "
    "and the others (false-discovery rate).",
    "drivers_intro": "Significant drivers only (q within the false-discovery rate). The plot "
    "shows the {n} with the largest effect; an odds ratio above 1 means converters did it "
    "more often.",
    "drivers_clipped": "Odds ratios or interval bounds beyond 0.001–1,000 (a bound of 0 or "
    "infinity among them) are drawn at the edge of the axis; the tables give them in full.",
    "drivers_scope": "{tested} features tested, {significant} significant.",
    "drivers_scope_1": "1 feature tested, {significant} significant.",
    "drivers_top": "The {n} with the largest effect:",
    "emotion_note": "Measured from {n} feedback responses about the steps.",
    "unmatched": "{share} of events matched no step of the map (they are counted, not dropped).",
    "no_data_steps": "Steps without data: {steps}.",
    "small_steps": "Fewer than {n} customers decided at: {steps}; their rates are uncertain.",
    "small_segments": "Segments with fewer than {n} customers: {segments}.",
    "window": "A customer who does not reach the next step within {window} counts as dropped.",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "quick win": "quick win",
    "big bet": "big bet",
    "fill-in": "fill-in",
    "money pit": "money pit",
}

_KO: dict[str, str] = {
    "report": "여정 분석",
    "summary": "요약",
    "map": "근거가 있는 여정 지도",
    "funnel": "퍼널",
    "sankey": "경로 (생키 다이어그램)",
    "emotion": "감정: 선언과 측정",
    "pain-points": "데이터에서 찾은 페인 포인트",
    "opportunities": "개선 기회 포트폴리오",
    "comparison": "지역과 세그먼트",
    "drivers": "전환 요인",
    "time": "스테이지별 소요 시간",
    "notes": "참고와 주의 사항",
    "freshness": "데이터 {period} · 계산 {computed} · 이벤트 {events}건 · 피드백 {feedback}건 "
    "· 엔진 {engine}",
    "sources": "출처",
    "none": "이 항목에는 데이터가 없습니다.",
    "summary_drop": "가장 큰 이탈은 ‘{step}’({stage})에서 일어납니다: 도달한 고객의 {rate}가 "
    "다음 단계로 가지 않았습니다 ({decided}명 중 {dropped}명).",
    "summary_pain": "데이터에서 찾은 가장 심각한 페인 포인트는 ‘{title}’({where})이며, "
    "고객 {affected}명에게 영향을 줍니다 (신뢰도 {confidence}).",
    "summary_opportunity": "가장 우선인 개선 기회는 ‘{title}’({quadrant}, 점수 {score})입니다: "
    "영향 고객 {affected}명{value}.",
    "summary_value": ", 걸린 가치 {value}",
    "summary_none": "아직 측정된 데이터가 없습니다.",
    "map_note": "각 단계 아래에 측정 지표가 있고, 데이터에서 찾은 페인 포인트는 ‘데이터로 "
    "관찰’로 표시됩니다.",
    "map_legend": "테두리: 실선 = 관찰, 파선 = 보고, 점선 = 가정. 감정: 파란 실선 = 선언된 감정, "
    "검은 파선 = {measured}. ‘데이터로 관찰’ 배지는 데이터에서 찾은 페인 포인트, ‘데이터로 "
    "확인됨’은 데이터가 확인한 선언된 페인 포인트입니다.",
    "step": "단계",
    "stage": "스테이지",
    "reach": "도달",
    "converted": "전환",
    "dropped": "이탈",
    "in_progress": "진행 중",
    "conversion": "전환율 (95% 신뢰구간)",
    "drop_off": "이탈률",
    "median": "소요 시간 중앙값",
    "p90": "90 백분위",
    "satisfaction": "만족도",
    "no_data": "데이터 없음",
    "after_goal": "목표 이후",
    "after_goal_note": "목표(핵심 거래 ‘{goal}’) 이후: 더 나아가지 않은 고객도 목표에 "
    "도달했으므로 손실이 아닙니다.",
    "after_goal_last": "여정의 마지막 단계: 더 나아가지 않은 고객도 여정을 마쳤으므로 "
    "손실이 아닙니다.",
    "what": "내용",
    "where": "위치",
    "numbers": "수치",
    "affected": "영향 고객",
    "confidence": "신뢰도",
    "sample": "고객 예시",
    "sample_line": "예: 고객 {ids}",
    "sankey_cut": "각 경로의 처음 {n}개 위치만 보여 줍니다. 노드에 마우스를 올리면 전체 이름이 보입니다.",
    "more_pains": "나머지 {n}건은 근거 JSON(pain_points)에 있습니다.",
    "confirms": "선언된 페인 포인트 ‘{text}’를 확인함",
    "whole_journey": "여정 전체",
    "rank": "순위",
    "opportunity": "개선 기회",
    "quadrant": "사분면",
    "score": "점수",
    "impact": "영향",
    "feasibility": "실현 가능성",
    "effort": "노력",
    "lost": "잃은 전환",
    "value": "걸린 가치",
    "preference": "{group_by}별 {dimension}",
    "test": "χ² = {statistic}, 자유도 {dof}, {p}: {verdict}.",
    "significant": "그룹 간 차이가 있음",
    "not_significant": "유의한 차이 없음",
    "marked": "▲ / ▼: 다른 그룹보다 유의하게 더 많이 / 적게 선택함.",
    "group": "그룹",
    "choice": "선택",
    "count": "고객",
    "share": "비중",
    "segment": "세그먼트",
    "rate": "전환율 (95% 신뢰구간)",
    "difference": "나머지와의 차이",
    "q": "q (FDR)",
    "yes": "예",
    "no": "아니요",
    "sig": "유의함",
    "scope": "위치",
    "feature": "전환 고객의 행동",
    "with_conv": "전환 고객 중",
    "with_others": "나머지 중",
    "odds": "오즈비 (95% 신뢰구간)",
    "drivers_none": "검정한 특성 {n}개 중 전환 고객과 나머지 사이에 유의한 차이가 있는 것은 "
    "없습니다 (거짓 발견률 기준).",
    "drivers_intro": "유의한 요인만 보여 줍니다 (q가 거짓 발견률 이내). 그림은 효과가 가장 큰 "
    "{n}개입니다. 오즈비가 1보다 크면 전환 고객이 더 자주 한 행동입니다.",
    "drivers_clipped": "0.001–1,000 범위를 벗어난 오즈비나 구간 경계(0이나 무한대 포함)는 축의 "
    "끝에 그렸습니다. 정확한 값은 표에 있습니다.",
    "drivers_scope": "특성 {tested}개를 검정했고 {significant}개가 유의합니다.",
    "drivers_scope_1": "특성 1개를 검정했고 {significant}개가 유의합니다.",
    "drivers_top": "효과가 가장 큰 {n}개:",
    "emotion_note": "단계에 대한 피드백 {n}건으로 측정했습니다.",
    "unmatched": "이벤트의 {share}가 지도의 어느 단계에도 맞지 않았습니다 (버리지 않고 셉니다).",
    "no_data_steps": "데이터가 없는 단계: {steps}.",
    "small_steps": "결정한 고객이 {n}명 미만인 단계: {steps} — 비율이 불확실합니다.",
    "small_segments": "고객이 {n}명 미만인 세그먼트: {segments}.",
    "window": "{window} 안에 다음 단계로 가지 않은 고객은 이탈로 셉니다.",
    "high": "높음",
    "medium": "보통",
    "low": "낮음",
    "quick win": "빠른 성과",
    "big bet": "큰 투자",
    "fill-in": "보완 과제",
    "money pit": "비용 함정",
}

_KINDS = {
    "en": {
        "drop_off": "drop-off",
        "slow": "slow",
        "low_satisfaction": "low satisfaction",
        "loop": "back and forth",
        "support_contact": "support contact",
        "segment_outlier": "segment outlier",
    },
    "ko": {
        "drop_off": "이탈",
        "slow": "지연",
        "low_satisfaction": "낮은 만족도",
        "loop": "되돌아감",
        "support_contact": "고객센터 문의",
        "segment_outlier": "세그먼트 이상치",
    },
}


def _ko(lang: str) -> bool:
    return lang.lower().split("-")[0] == "ko"


def report_words(lang: str) -> Mapping[str, str]:
    """The report's own words (section titles, column heads, sentences) in ``lang``."""
    return _KO if _ko(lang) else _EN


def format_number(value: float) -> str:
    """A plain number: thousands separators, at most two decimals, no trailing zeros.

    >>> format_number(20.0), format_number(2.456), format_number(49118.4)
    ('20', '2.46', '49,118.4')
    """
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_odds(value: float) -> str:
    """An odds ratio: counts from 100 up, two decimals from 0.01, else one significant digit.

    >>> format_odds(722.03), format_odds(3.0356), format_odds(0.000297), format_odds(0.0098)
    ('722', '3.04', '0.0003', '0.01')
    """
    if not math.isfinite(value):
        return "∞" if value > 0 else "–"
    if value >= 100:
        return format_count(round(value))
    if value >= 0.01 or value <= 0:
        return format_number(value)
    digits = -math.floor(math.log10(value))
    text = f"{value:.{digits}f}".rstrip("0")  # 0.0098 → "0.010" → "0.01"
    return text if text[-1] != "." else text + "0"


def format_p(p: float | None) -> str:
    """``p < 0.001`` or ``p = 0.031``; a dash when there was no test."""
    if p is None:
        return "–"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def format_value(value: float | int | str) -> str:
    """A figure of a pain point's ``numbers``: a rate (0 < x < 1) as a percentage, an
    integer as a count, other numbers plain, text as it is.

    >>> format_value(0.667), format_value(1240), format_value(3.5), format_value("US-WY")
    ('66.7%', '1,240', '3.5', 'US-WY')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return format_count(int(value))
    if 0 < value < 1:
        return f"{value * 100:.1f}%"
    return format_number(value)


def _money(value: float | None, currency: str | None) -> str:
    if value is None:
        return "–"
    return f"{currency} {format_number(round(value))}" if currency else format_number(round(value))


def _e(text: object) -> str:
    return escape(str(text))


def _table(
    heads: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    cls: str = "",
    numeric: int = 1,
    text_from: int | None = None,
) -> str:
    """An HTML table; cells are already escaped HTML. Columns from ``numeric`` up to
    ``text_from`` hold figures: right-aligned, never broken inside a figure."""
    last = len(heads) if text_from is None else text_from

    def kind(i: int) -> str:
        return "num" if numeric <= i < last else ""

    head = "".join(f'<th class="{kind(i)}">{_e(h)}</th>' for i, h in enumerate(heads))

    def cells(row: Sequence[str]) -> str:
        if len(row) == 2 < len(heads):
            # A row with a label and one remark spans the figures' columns.
            return f'<td>{row[0]}</td><td colspan="{len(heads) - 1}">{row[1]}</td>'
        return "".join(f'<td class="{kind(i)}">{c}</td>' for i, c in enumerate(row))

    body = "".join(f"<tr>{cells(r)}</tr>" for r in rows)
    return (
        f'<table class="jm-table {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>\s*")


def _inline_svg(svg: str) -> str:
    """An SVG for inline use: no XML declaration, no namespace attributes (an HTML page
    needs neither, and then holds no address at all)."""
    return _XMLNS.sub("", _XML_DECL.sub("", svg))


def _figure(charts: Mapping[str, str], name: str, caption: str = "") -> str:
    svg = charts.get(name)
    if not svg:
        return ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure class="jm-chart" data-chart="{_e(name)}">{_inline_svg(svg)}{cap}</figure>'


class _Names:
    """Display names of the map's steps and stages."""

    def __init__(self, ev: EvidencedMap, words: Mapping[str, str]) -> None:
        self.steps = {step.id: step.name for _, step in ev.map.all_steps()}
        self.stages = {stage.id: stage.name for stage in ev.map.stages}
        self.stage_of = {step.id: stage.id for stage, step in ev.map.all_steps()}
        self.pains = {p.id: p.text for _, s in ev.map.all_steps() for p in s.pain_points}
        self.words = words

    def where(self, step_id: str | None, stage_id: str | None) -> str:
        if step_id and step_id in self.steps:
            stage = self.stages.get(self.stage_of[step_id], "")
            return f"{self.steps[step_id]} · {stage}" if stage else self.steps[step_id]
        if stage_id and stage_id in self.stages:
            return self.stages[stage_id]
        return self.words["whole_journey"]


def _biggest_drop(ev: EvidencedMap) -> StepMetrics | None:
    """The funnel's biggest drop-off, when enough customers decided there to say so."""
    drop = find_biggest_drop_off(ev.map, ev.snapshot, min_decided=MIN_DECIDED)
    if drop is None or drop.converted + drop.dropped < MIN_DECIDED:
        return None
    return drop


def _top_pain(ev: EvidencedMap) -> ObservedPainPoint | None:
    order = {"high": 2, "medium": 1, "low": 0}
    return max(
        ev.pain_points,
        key=lambda p: (p.severity, order[p.confidence], p.affected),
        default=None,
    )


def _top_opportunity(ev: EvidencedMap) -> ScoredOpportunity | None:
    return min(ev.opportunities, key=lambda o: o.rank, default=None)


def _summary(ev: EvidencedMap, names: _Names, words: Mapping[str, str], lang: str) -> str:
    sentences: list[str] = []
    drop = _biggest_drop(ev)
    if drop is not None and drop.drop_off is not None:
        sentences.append(
            words["summary_drop"].format(
                step=_e(names.steps.get(drop.step_id, drop.step_id)),
                stage=_e(names.stages.get(drop.stage_id, drop.stage_id)),
                rate=format_rate(drop.drop_off),
                dropped=format_count(drop.dropped),
                decided=format_count(drop.converted + drop.dropped),
            )
        )
    pain = _top_pain(ev)
    if pain is not None:
        sentences.append(
            words["summary_pain"].format(
                title=_e(pain.title),
                where=_e(names.where(pain.step_id, pain.stage_id)),
                affected=format_count(pain.affected),
                confidence=words[pain.confidence],
            )
        )
    top = _top_opportunity(ev)
    if top is not None:
        value = (
            words["summary_value"].format(value=_money(top.impact_value, top.currency))
            if top.impact_value is not None
            else ""
        )
        sentences.append(
            words["summary_opportunity"].format(
                title=_e(top.title),
                quadrant=_e(words[top.quadrant]),
                score=format_number(top.score),
                affected=format_count(top.customers_affected),
                value=value,
            )
        )
    text = " ".join(sentences) or words["summary_none"]
    return f'<p class="jm-summary">{text}</p>'


def _map_section(ev: EvidencedMap, words: Mapping[str, str], *, screen: bool = True) -> str:
    jmap = ev.map
    steps = [step for _, step in jmap.all_steps()]
    lanes = ["metrics"]
    if any(s.emotion is not None for s in steps) or any(
        s.measured_emotion is not None for s in ev.snapshot.steps
    ):
        lanes.append("emotion")
    if any(s.pain_points for s in steps) or ev.pain_points:
        lanes.append("pain_points")
    if jmap.opportunities:
        lanes.append("opportunities")
    layout = layout_map(jmap, view="matrix", lanes=lanes, evidence=ev)
    sheets = []
    for page in layout.pages:
        # The report's own header carries the title and the as-of line, so the printed
        # sheets hold the map's body only (larger on the sheet); the legend is a line
        # above them and the screen version keeps the map's whole header.
        page = replace(page, index=page.index + 1)
        extent = measure_page(layout, page)
        display = sheet_size(extent.width, extent.height, "A4")
        svg = draw_page(layout, page, prefix=f"jm-r{page.index}", display=display,
                        standalone=False)  # fmt: skip
        sheets.append(f'<div class="jm-sheet">{svg}</div>')
    whole = svg_document(layout, standalone=False) if screen else ""
    seen = prepare_evidence(jmap, ev)
    legend = words["map_legend"].format(measured=seen.measured_label)
    return (
        f'<p class="jm-note">{_e(words["map_note"])}</p>'
        f'<p class="jm-legend">{_e(legend)}</p>'
        f'<div class="jm-map-screen">{whole}</div>'
        f'<div class="jm-map-print">{"".join(sheets)}</div>'
    )


def _past_cells(words: Mapping[str, str], conversion: str) -> list[str]:
    """Conversion and drop-off of a step or stage past the goal: muted, footnoted."""
    return [
        f'<span class="jm-after">{conversion}</span>',
        f'<span class="jm-after">{_e(words["after_goal"])} †</span>',
    ]


def _funnel_section(
    ev: EvidencedMap, charts: Mapping[str, str], names: _Names, words: Mapping[str, str], lang: str
) -> str:
    measured = {s.step_id: s for s in ev.snapshot.steps}
    past = find_past_goal(ev)
    rows = []
    for _, step in ev.map.all_steps():
        m = measured.get(step.id)
        if m is None:
            # One cell across the figures: a blank would read as zero.
            rows.append([_e(step.name), f'<span class="jm-nodata">{_e(words["no_data"])}</span>'])
            continue
        sat = " · ".join(
            t for t in (format_satisfaction(s, lang=lang) for s in m.satisfaction) if t
        )
        rates = (
            _past_cells(words, format_rate(m.conversion))
            if step.id in past.steps
            else [
                format_rate(m.conversion),
                format_rate(m.drop_off) if m.drop_off is not None else "–",
            ]
        )
        rows.append(
            [
                _e(step.name),
                format_count(m.reach),
                format_count(m.converted),
                format_count(m.dropped),
                format_count(m.in_progress),
                *rates,
                format_seconds(m.median_seconds) if m.median_seconds is not None else "–",
                _e(sat) if sat else "–",
            ]
        )
    heads = [words[k] for k in ("step", "reach", "converted", "dropped", "in_progress",
                                "conversion", "drop_off", "median", "satisfaction")]  # fmt: skip
    stage_rows = []
    for s in ev.snapshot.stages:
        rates = (
            _past_cells(words, format_rate(s.conversion))
            if s.stage_id in past.stages
            else [
                format_rate(s.conversion),
                format_rate(s.drop_off) if s.drop_off is not None else "–",
            ]
        )
        stage_rows.append(
            [
                _e(names.stages.get(s.stage_id, s.stage_id)),
                format_count(s.reach),
                format_count(s.converted),
                format_count(s.dropped),
                format_count(s.in_progress),
                *rates,
            ]
        )
    stage_heads = [words[k] for k in ("stage", "reach", "converted", "dropped", "in_progress",
                                      "conversion", "drop_off")]  # fmt: skip
    goal = next((step.name for _, step in ev.map.all_steps() if step.key_transaction), None)
    note = ""
    if past.steps:
        text = words["after_goal_note"] if goal else words["after_goal_last"]
        note = f'<p class="jm-note">† {_e(text.format(goal=goal or ""))}</p>'
    parts = [_figure(charts, "funnel"), _table(heads, rows, cls="jm-steps", text_from=8), note]
    if stage_rows:
        parts += [_figure(charts, "funnel_stages"), _table(stage_heads, stage_rows)]
        if past.stages:
            parts.append(note)
    return "".join(parts)


def _sankey_section(ev: EvidencedMap, words: Mapping[str, str], lang: str) -> str:
    svg = render_sankey(ev, lang=lang, standalone=False)
    box = f'<div class="jm-sankey-box">{svg}</div>'
    if max(link.depth for link in ev.sankey) + 1 >= MAX_POSITIONS:
        box += f'<p class="jm-note">{_e(words["sankey_cut"].format(n=MAX_POSITIONS))}</p>'
    return box


def _emotion_section(ev: EvidencedMap, charts: Mapping[str, str], words: Mapping[str, str]) -> str:
    figure = _figure(charts, "emotion")
    if not figure:
        return ""
    note = words["emotion_note"].format(n=format_count(responses_behind(ev.snapshot)))
    return figure + f'<p class="jm-note">{_e(note)}</p>'


def _pain_section(ev: EvidencedMap, names: _Names, words: Mapping[str, str], lang: str) -> str:
    kinds = _KINDS["ko" if _ko(lang) else "en"]
    rows = []
    for p in ev.pain_points[:PAIN_POINTS_SHOWN]:
        what = f'<strong>{_e(p.title)}</strong> <span class="jm-kind">{_e(kinds[p.kind])}</span>'
        if p.explanation:
            what += f"<br>{_e(p.explanation)}"
        if p.declared and p.declared in names.pains:
            what += f"<br><em>{_e(words['confirms'].format(text=names.pains[p.declared]))}</em>"
        small = [format_p(p.p_value)] if p.p_value is not None else []
        if p.sample:
            small.append(words["sample_line"].format(ids=", ".join(p.sample)))
        if small:
            what += f'<span class="jm-sample">{_e(" · ".join(small))}</span>'
        rows.append(
            [
                what,
                _e(names.where(p.step_id, p.stage_id)),
                format_count(p.affected),
                _e(words[p.confidence]),
            ]
        )
    heads = [words[k] for k in ("what", "where", "affected", "confidence")]
    table = _table(heads, rows, cls="jm-pains", numeric=2, text_from=3)
    more = len(ev.pain_points) - PAIN_POINTS_SHOWN
    if more > 0:
        table += f'<p class="jm-note">{_e(words["more_pains"].format(n=format_count(more)))}</p>'
    return table


def _opportunity_section(
    ev: EvidencedMap, charts: Mapping[str, str], words: Mapping[str, str], lang: str
) -> str:
    rows = []
    for o in sorted(ev.opportunities, key=lambda o: o.rank):
        title = f"<strong>{_e(o.title)}</strong>"
        if o.explanation:
            title += f"<br>{_e(o.explanation)}"
        rows.append(
            [
                str(o.rank),
                title,
                _e(words[o.quadrant]),
                format_number(o.score),
                format_number(o.impact),
                format_number(o.feasibility),
                format_number(o.effort) if o.effort is not None else "–",
                format_count(o.customers_affected),
                format_rate(o.conversion_lost) if o.conversion_lost is not None else "–",
                _e(_money(o.impact_value, o.currency)),
            ]
        )
    heads = [words[k] for k in ("rank", "opportunity", "quadrant", "score", "impact",
                                "feasibility", "effort", "affected", "lost", "value")]  # fmt: skip
    table = _table(heads, rows, cls="jm-opps", numeric=3)
    return table + _figure(charts, "opportunities")


def _preference_block(
    pref: Preference, index: int, charts: Mapping[str, str], words: Mapping[str, str]
) -> str:
    title = words["preference"].format(dimension=pref.dimension, group_by=pref.group_by)
    verdict = words["significant"] if pref.significant else words["not_significant"]
    test = words["test"].format(
        statistic=format_number(pref.statistic) if pref.statistic is not None else "–",
        dof=pref.dof,
        p=format_p(pref.p_value),
        verdict=verdict,
    )
    groups = list(dict.fromkeys(c.group for c in pref.cells))
    choices = list(dict.fromkeys(c.choice for c in pref.cells))
    cells = {(c.group, c.choice): c for c in pref.cells}

    def shown(group: str, choice: str) -> str:
        cell = cells.get((group, choice))
        if cell is None:
            return "–"
        mark = ""
        if cell.significant:
            mark = " ▲" if (cell.residual or 0) > 0 else " ▼"
        text = f"{format_rate(cell.share)}{mark} <small>({format_count(cell.count)})</small>"
        return f"<strong>{text}</strong>" if cell.significant else text

    # Many choices go down the page (one row each), the few groups across it.
    if len(choices) > len(groups):
        rows = [[_e(choice), *(shown(g, choice) for g in groups)] for choice in choices]
        heads = [f"{pref.dimension} / {pref.group_by}", *groups]
    else:
        rows = [[_e(group), *(shown(group, c) for c in choices)] for group in groups]
        heads = [f"{pref.group_by} / {pref.dimension}", *choices]
    return (
        f"<h3>{_e(title)}</h3>"
        + _figure(charts, f"preference_{index}")
        + f'<p class="jm-note">{_e(test)} {_e(words["marked"])}</p>'
        + _table(heads, rows)
    )


def _comparison_section(
    ev: EvidencedMap, charts: Mapping[str, str], words: Mapping[str, str]
) -> str:
    parts = [_preference_block(p, i, charts, words) for i, p in enumerate(ev.preferences)]
    if ev.segments:
        rows = []
        for s in ev.segments:
            diff = s.difference
            shown = "–"
            if diff.value is not None:
                shown = f"{diff.value * 100:+.1f} pt"
                if diff.low is not None and diff.high is not None:
                    shown += f" ({diff.low * 100:+.1f}, {diff.high * 100:+.1f})"
            rows.append(
                [
                    _e(f"{s.group_by}: {s.segment}"),
                    format_count(s.customers),
                    format_count(s.converted),
                    format_rate(s.rate),
                    shown,
                    format_p(s.q_value).replace("p", "q", 1),
                    words["yes"] if s.significant else words["no"],
                ]
            )
        heads = [words[k] for k in ("segment", "count", "converted", "rate", "difference", "q",
                                    "sig")]  # fmt: skip
        metric = ev.segments[0].metric
        parts.append(f"<h3>{_e(words['segment'])}: {_e(metric)}</h3>")
        parts.append(_figure(charts, "segments"))
        parts.append(_table(heads, rows))
    return "".join(parts)


def _off_axis(driver: Driver) -> bool:
    """Whether the forest plot draws part of this driver at its axis' edge."""
    odds = driver.odds_ratio
    return any(
        v is None or not math.isfinite(v) or not FOREST_RANGE[0] <= v <= FOREST_RANGE[1]
        for v in (odds.value, odds.low, odds.high)
    )


def _drivers_section(ev: EvidencedMap, charts: Mapping[str, str], words: Mapping[str, str]) -> str:
    groups = group_drivers(ev)
    if not any(g.significant for g in groups):
        return f'<p class="jm-note">{_e(words["drivers_none"].format(n=len(ev.drivers)))}</p>'
    forest = select_forest_drivers(ev)
    intro = words["drivers_intro"].format(n=len(forest))
    if any(_off_axis(d) for d in forest):
        intro += " " + words["drivers_clipped"]
    parts = [f'<p class="jm-note">{_e(intro)}</p>', _figure(charts, "drivers")]
    heads = [words[k] for k in ("feature", "with_conv", "with_others", "odds", "q")]
    for g in groups:
        total = sum(1 for d in ev.drivers if d.scope == g.scope and d.significant)
        key = "drivers_scope_1" if g.tested == 1 else "drivers_scope"
        line = words[key].format(tested=format_count(g.tested), significant=format_count(total))
        if total > len(g.significant):
            line += " " + words["drivers_top"].format(n=len(g.significant))
        parts.append(f'<h3>{_e(g.label)}</h3><p class="jm-note">{_e(line)}</p>')
        rows = []
        for d in g.significant:
            odds = d.odds_ratio
            shown = format_odds(odds.value) if odds.value is not None else "–"
            if odds.low is not None and odds.high is not None:
                shown += f" ({format_odds(odds.low)}–{format_odds(odds.high)})"
            rows.append(
                [
                    _e(d.feature),
                    f"{format_count(d.converters_with)} / {format_count(d.converters)}",
                    f"{format_count(d.others_with)} / {format_count(d.others)}",
                    shown,
                    format_p(d.q_value).replace("p", "q", 1),
                ]
            )
        if rows:
            parts.append(_table(heads, rows, cls="jm-drivers", numeric=1))
    return "".join(parts)


def _time_section(
    ev: EvidencedMap, charts: Mapping[str, str], names: _Names, words: Mapping[str, str]
) -> str:
    rows = [
        [
            _e(names.stages.get(s.stage_id, s.stage_id)),
            format_seconds(s.median_seconds) if s.median_seconds is not None else "–",
            format_seconds(s.p90_seconds) if s.p90_seconds is not None else "–",
        ]
        for s in ev.snapshot.stages
    ]
    heads = [words["stage"], words["median"], words["p90"]]
    return _figure(charts, "time") + _table(heads, rows)


def _notes_section(ev: EvidencedMap, names: _Names, words: Mapping[str, str]) -> str:
    snap = ev.snapshot
    items: list[str] = []
    if snap.unmatched_share is not None:
        items.append(words["unmatched"].format(share=format_rate(snap.unmatched_share)))
    measured = {s.step_id for s in snap.steps}
    missing = [name for sid, name in names.steps.items() if sid not in measured]
    if missing:
        items.append(words["no_data_steps"].format(steps=", ".join(missing)))
    small = [
        names.steps.get(s.step_id, s.step_id)
        for s in snap.steps
        if s.converted + s.dropped < MIN_DECIDED
    ]
    if small:
        items.append(words["small_steps"].format(n=MIN_DECIDED, steps=", ".join(small)))
    tiny = [f"{s.group_by}: {s.segment}" for s in ev.segments if s.customers < SMALL_SEGMENT]
    if tiny:
        items.append(words["small_segments"].format(n=SMALL_SEGMENT, segments=", ".join(tiny)))
    if snap.window_seconds is not None:
        items.append(words["window"].format(window=format_seconds(snap.window_seconds)))
    items += list(ev.notes)
    return '<ul class="jm-notes">' + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


_STYLE = f"""
@page {{ size: A4 portrait; margin: 15mm 15mm 16mm 15mm;
  @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 8pt; color: #4D4D4D; }} }}
@page map-sheet {{ size: A4 landscape; margin: 10mm; }}
html, body {{ margin: 0; padding: 0; background: #FFFFFF; color: #1A1A1A;
  font-family: {FONT_STACK}; font-size: 10.5pt; line-height: 1.45; }}
main.jm-report {{ max-width: 180mm; margin: 0 auto; padding: 8mm 4mm; box-sizing: border-box; }}
h1 {{ font-size: 20pt; margin: 0 0 2mm 0; }}
h2 {{ font-size: 14pt; margin: 8mm 0 3mm 0; padding-bottom: 1mm; border-bottom: 2px solid #0072B2;
  break-after: avoid; page-break-after: avoid; }}
h3 {{ font-size: 11.5pt; margin: 5mm 0 2mm 0; break-after: avoid; page-break-after: avoid; }}
.jm-asof {{ font-weight: bold; color: #9E4300; margin: 0; }}
.jm-fresh, .jm-sources, .jm-note {{ color: #4D4D4D; font-size: 9pt; margin: 1mm 0; }}
.jm-summary {{ font-size: 11pt; background: #F3F7FB; border-left: 4px solid #0072B2;
  padding: 3mm 4mm; margin: 0; }}
figure {{ margin: 3mm 0; break-inside: avoid; page-break-inside: avoid; }}
figure svg, .jm-sankey-box svg {{ display: block; max-width: 100%; height: auto; }}
.jm-table {{ border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 2mm 0 4mm 0;
  table-layout: auto; }}
.jm-table th, .jm-table td {{ border-bottom: 1px solid #DDDDDD; padding: 1.2mm 1.5mm;
  text-align: left; vertical-align: top; overflow-wrap: break-word; }}
.jm-table th {{ background: #F2F2F2; font-weight: bold; }}
.jm-table .num {{ text-align: right; white-space: nowrap; }}
.jm-table th.num {{ white-space: normal; }}
.jm-table tr {{ break-inside: avoid; page-break-inside: avoid; }}
.jm-pains {{ table-layout: fixed; }}
.jm-pains th:nth-child(1) {{ width: 53%; }}
.jm-pains th:nth-child(2) {{ width: 18%; }}
.jm-pains th:nth-child(3) {{ width: 11%; }}
.jm-pains th:nth-child(4) {{ width: 11%; }}
.jm-steps td:first-child {{ width: 26%; }}
.jm-legend {{ font-size: 8.5pt; color: #4D4D4D; margin: 1mm 0 2mm 0; }}
.jm-kind {{ display: inline-block; font-size: 7.5pt; padding: 0 1.5mm; border-radius: 2mm;
  background: #D55E00; color: #FFFFFF; }}
.jm-nodata {{ color: #4D4D4D; font-style: italic; }}
.jm-after {{ color: #8A8A8A; }}
.jm-sample {{ display: block; color: #4D4D4D; font-size: 7.5pt; margin-top: 0.8mm;
  overflow-wrap: anywhere; }}
.jm-map-screen {{ overflow-x: auto; }}
.jm-map-screen > svg {{ display: block; width: 100%; min-width: 1100px; height: auto; }}
.jm-map-print {{ display: none; }}
.jm-notes li {{ margin: 1mm 0; }}
@media print {{
  main.jm-report {{ max-width: none; padding: 0; }}
  .jm-map-screen {{ display: none; }}
  .jm-map-print {{ display: block; }}
  .jm-sheet {{ page: map-sheet; break-before: page; page-break-before: always; }}
  .jm-sheet > svg {{ display: block; }}
  section.jm-after-map {{ break-before: page; page-break-before: always; }}
}}
"""


def render_report(
    ev: EvidencedMap,
    *,
    charts: Mapping[str, str],
    lang: str = "en",
    title: str | None = None,
    screen: bool = True,
) -> str:
    """The report on ``ev`` as one self-contained HTML document (a string).

    ``charts`` maps chart names (see :func:`journeymap.render.charts.build_charts`) to
    SVG strings; a missing chart leaves its table in place. ``lang`` (``en`` or ``ko``)
    picks the report's words; the map keeps its own language. ``title`` defaults to
    the map's title. ``screen=False`` leaves out the on-screen copy of the map (only
    its printed sheets stay): a lighter document for printing the PDF.
    """
    words = report_words(lang)
    names = _Names(ev, words)
    snap = ev.snapshot
    heading = title or ev.map.title
    period_from = snap.data_from.date().isoformat() if snap.data_from else "?"
    period_to = snap.data_to.date().isoformat() if snap.data_to else "?"
    fresh = words["freshness"].format(
        period=f"{period_from}–{period_to}",
        computed=snap.computed_at.strftime("%Y-%m-%d %H:%M UTC"),
        events=format_count(snap.events),
        feedback=format_count(snap.feedback),
        engine=snap.engine,
    )
    head = (
        f'<header class="jm-head"><h1>{_e(heading)}</h1>'
        f'<p class="jm-asof">{_e(as_of_line(snap, lang=lang))}</p>'
        f'<p class="jm-fresh">{_e(fresh)}</p>'
    )
    if snap.sources:
        head += f'<p class="jm-sources">{_e(words["sources"])}: {_e(", ".join(snap.sources))}</p>'
    head += "</header>"

    bodies = {
        "summary": _summary(ev, names, words, lang),
        "map": _map_section(ev, words, screen=screen),
        "funnel": _funnel_section(ev, charts, names, words, lang) if snap.steps else "",
        "sankey": _sankey_section(ev, words, lang) if ev.sankey else "",
        "emotion": _emotion_section(ev, charts, words),
        "pain-points": _pain_section(ev, names, words, lang) if ev.pain_points else "",
        "opportunities": _opportunity_section(ev, charts, words, lang) if ev.opportunities else "",
        "comparison": (
            _comparison_section(ev, charts, words) if ev.preferences or ev.segments else ""
        ),
        "drivers": _drivers_section(ev, charts, words) if ev.drivers else "",
        "time": _time_section(ev, charts, names, words) if snap.stages else "",
        "notes": _notes_section(ev, names, words),
    }
    sections = []
    for i, key in enumerate(REPORT_SECTIONS):
        body = bodies[key] or f'<p class="jm-note">{_e(words["none"])}</p>'
        cls = "jm-section jm-after-map" if i and REPORT_SECTIONS[i - 1] == "map" else "jm-section"
        sections.append(
            f'<section id="{key}" class="{cls}"><h2>{_e(words[key])}</h2>{body}</section>'
        )
    return (
        "<!doctype html>\n"
        f"<html lang={quoteattr(lang)}>\n<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="journeymap">\n'
        f"<title>{_e(words['report'])}: {_e(heading)}</title>\n<style>{_STYLE}</style>\n"
        f'</head>\n<body>\n<main class="jm-report">{head}{"".join(sections)}</main>\n'
        "</body>\n</html>\n"
    )
