"""The words the picture adds around the map's own text, in English and Korean."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Labels", "labels_for"]


@dataclass(frozen=True)
class Labels:
    """Captions, lane titles and legend words in one language."""

    lanes: dict[str, str]
    confidence: dict[str, str]
    status: dict[str, str]
    journey: str
    goal: str
    channels: str
    functions: str
    owner: str
    review: str
    persona: str
    goals: str
    frustrations: str
    also: str
    legend: str
    confidence_title: str
    severity: str
    severity_short: str
    emotion_declared: str
    emotion_measured: str
    score: str
    score_rule: str
    impact: str
    feasibility: str
    effort: str
    offline: str
    trigger: str
    milestone: str
    key_moment: str
    kpi: str
    leaves: str
    edge_next: str
    way_back: str
    fork: str
    time_axis: str
    no_time: str
    compressed: str
    whole_journey: str
    stage_goal: str
    version: str
    updated: str
    page: str
    continued: str
    age: str
    every_days: str
    """A template with ``{n}``, e.g. ``every {n} days``."""
    no_data: str
    """What a step without measured data shows in the measured lane (never a blank)."""
    observed_badge: str
    confirmed_badge: str
    affected: str
    """A template with ``{n}``: customers a pain point found in the data affects."""
    as_of: str
    """A template with ``{date}``, ``{period}`` and ``{customers}``."""
    measured_responses: str
    """A template with ``{n}``: the legend of the measured emotion curve."""


_EN = Labels(
    lanes={
        "touchpoints": "Touchpoints & channels",
        "actions": "Customer actions",
        "thoughts": "Thoughts & feelings",
        "emotion": "Emotion",
        "pain_points": "Pain points",
        "desired": "Desired experience",
        "opportunities": "Opportunities",
        "backstage": "Owners & backstage",
        "metrics": "Measured",
    },
    confidence={"observed": "observed", "reported": "reported", "assumed": "assumed"},
    status={
        "idea": "idea",
        "planned": "planned",
        "in_progress": "in progress",
        "done": "done",
        "dropped": "dropped",
    },
    journey="Journey",
    goal="Goal",
    channels="Channels",
    functions="Functions",
    owner="Owner",
    review="Review",
    persona="Persona",
    goals="Goals",
    frustrations="Frustrations",
    also="Also",
    legend="How to read this map",
    confidence_title="Evidence",
    severity="severity",
    severity_short="S",
    emotion_declared="declared emotion",
    emotion_measured="measured emotion",
    score="score",
    score_rule="score = impact × feasibility (1–25)",
    impact="impact",
    feasibility="feasibility",
    effort="effort",
    offline="offline",
    trigger="Trigger",
    milestone="Milestone",
    key_moment="key moment",
    kpi="KPI",
    leaves="leaves the journey",
    way_back="way back to an earlier step",
    fork="Fork",
    edge_next="next step or fork branch",
    time_axis="time from the first step",
    no_time="no durations or dates in the map: steps are evenly spaced",
    compressed="bar length grows with the log of the duration",
    whole_journey="whole journey",
    stage_goal="Goal",
    version="version",
    updated="updated",
    page="page",
    continued="(continued)",
    age="",
    every_days="every {n} days",
    no_data="no data",
    observed_badge="observed",
    confirmed_badge="confirmed by data",
    affected="{n} customers affected",
    as_of="as of {date} · data {period} · {customers} customers",
    measured_responses="measured ({n} responses)",
)

_KO = Labels(
    lanes={
        "touchpoints": "터치포인트·채널",
        "actions": "고객 행동",
        "thoughts": "생각·느낌",
        "emotion": "감정 곡선",
        "pain_points": "페인 포인트",
        "desired": "기대 경험",
        "opportunities": "개선 기회",
        "backstage": "담당·백스테이지",
        "metrics": "측정 지표",
    },
    confidence={"observed": "관찰", "reported": "보고", "assumed": "가정"},
    status={
        "idea": "아이디어",
        "planned": "계획",
        "in_progress": "진행 중",
        "done": "완료",
        "dropped": "중단",
    },
    journey="여정",
    goal="목표",
    channels="채널",
    functions="부서",
    owner="담당",
    review="검토 주기",
    persona="페르소나",
    goals="목표",
    frustrations="불만",
    also="그 밖의 페르소나",
    legend="지도 읽는 법",
    confidence_title="근거",
    severity="심각도",
    severity_short="심각도 ",
    emotion_declared="선언된 감정",
    emotion_measured="측정된 감정",
    score="점수",
    score_rule="점수 = 영향 × 실현 가능성 (1–25)",
    impact="영향",
    feasibility="실현 가능성",
    effort="노력",
    offline="오프라인",
    trigger="계기",
    milestone="마일스톤",
    key_moment="핵심 순간",
    kpi="KPI",
    leaves="여정 이탈",
    way_back="이전 단계로 되돌아감",
    fork="분기",
    edge_next="다음 단계 또는 분기",
    time_axis="첫 단계부터 걸린 시간",
    no_time="지도에 기간이나 날짜가 없어 단계를 같은 간격으로 놓았습니다",
    compressed="막대 길이는 기간의 로그에 비례",
    whole_journey="여정 전체",
    stage_goal="목표",
    version="버전",
    updated="수정",
    page="쪽",
    continued="(계속)",
    age="세",
    every_days="{n}일마다",
    no_data="데이터 없음",
    observed_badge="데이터로 관찰",
    confirmed_badge="데이터로 확인됨",
    affected="영향 고객 {n}명",
    as_of="{date} 기준 · 데이터 {period} · 고객 {customers}명",
    measured_responses="측정된 감정 (응답 {n}건)",
)


def labels_for(lang: str) -> Labels:
    """The labels for a map's language: Korean for ``ko``/``ko-KR``, else English."""
    return _KO if lang.lower().split("-")[0] == "ko" else _EN
