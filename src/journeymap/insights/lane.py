"""The measured lane of the map: each step's numbers as short display strings.

:func:`metrics_lane` and :func:`measured_emotion` turn a :class:`Snapshot` into exactly
what :func:`journeymap.render.layout.layout_map` takes as ``metrics`` and
``measured_emotion``::

    layout_map(jmap, metrics=metrics_lane(snapshot, lang=jmap.lang),
               measured_emotion=measured_emotion(snapshot))

A figure the snapshot does not have (no converters yet, no feedback) is left out
rather than shown as a dash, so the lane only says what was measured.
"""

from __future__ import annotations

import math

from journeymap.insights.evidence import Estimate, Satisfaction, Snapshot, StepMetrics

__all__ = [
    "format_count",
    "format_rate",
    "format_satisfaction",
    "format_seconds",
    "measured_emotion",
    "metrics_lane",
]

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "reach": "Reach",
        "conversion": "Conversion",
        "drop_off": "Drop-off",
        "median_time": "Median time",
        "satisfaction": "Satisfaction",
        "rating": "Rating",
        "sentiment": "Sentiment",
    },
    "ko": {
        "reach": "도달",
        "conversion": "전환율",
        "drop_off": "이탈률",
        "median_time": "소요 시간(중앙값)",
        "satisfaction": "만족도",
        "rating": "평점",
        "sentiment": "감성",
    },
}


def _words(lang: str) -> dict[str, str]:
    return _LABELS["ko"] if lang.lower().split("-")[0] == "ko" else _LABELS["en"]


def format_count(value: int) -> str:
    """A count with thousands separators.

    >>> format_count(1234)
    '1,234'
    """
    return f"{value:,}"


def _percent_places(*values: float) -> int:
    """One decimal place when a rate is under 10% (2.3% should not read as 2%)."""
    return 1 if any(0 < abs(v) < 0.1 for v in values) else 0


def format_rate(estimate: Estimate | float) -> str:
    """A rate in 0..1 as a percentage, with its interval when there is one.

    Rates under 10% keep one decimal place.

    >>> format_rate(Estimate(0.62, 0.581, 0.66, n=500))
    '62% (58–66)'
    >>> format_rate(0.023)
    '2.3%'
    """
    if isinstance(estimate, Estimate):
        value, low, high = estimate.value, estimate.low, estimate.high
    else:
        value, low, high = estimate, None, None
    if value is None:
        return ""
    places = _percent_places(value)
    text = f"{value * 100:.{places}f}%"
    if low is not None and high is not None:
        text += f" ({low * 100:.{places}f}–{high * 100:.{places}f})"
    return text


_SECONDS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_seconds(seconds: float) -> str:
    """A duration in its two largest units, rounded (half up) to the smaller one.

    Weeks are only used from four weeks on (``20d`` reads better than ``2w 6d``).

    >>> format_seconds(100800)
    '1d 4h'
    >>> format_seconds(42.4), format_seconds(125), format_seconds(86399), format_seconds(0)
    ('42s', '2m 5s', '1d', '0s')
    """
    total = max(0, math.floor(seconds + 0.5))
    units = _SECONDS if total >= 4 * 604800 else _SECONDS[1:]
    for i, (name, size) in enumerate(units):
        if total < size and name != "s":
            continue
        if i + 1 == len(units):
            return f"{total}{name}"
        small_name, small_size = units[i + 1]
        rounded = math.floor(total / small_size + 0.5) * small_size
        if i > 0 and rounded >= units[i - 1][1]:
            return format_seconds(rounded)  # 23h 59.9m rounds up to 1d
        big, rest = divmod(rounded, size)
        small = rest // small_size
        return f"{big}{name} {small}{small_name}" if small else f"{big}{name}"
    return "0s"  # pragma: no cover - the loop always returns at "s"


def _signed(value: float, places: int) -> str:
    return f"{value:+.{places}f}"


def format_satisfaction(satisfaction: Satisfaction, *, lang: str = "en") -> str:
    """One satisfaction figure as it reads on the map, e.g. ``CSAT 81%`` or ``NPS +32``.

    >>> from journeymap.insights.evidence import Estimate, Satisfaction
    >>> format_satisfaction(Satisfaction("csat", Estimate(0.81), 120))
    'CSAT 81%'
    >>> format_satisfaction(Satisfaction("rating", Estimate(4.23), 50), lang="ko")
    '평점 4.2/5'
    """
    value = satisfaction.score.value
    if value is None or math.isnan(value):
        return ""
    words = _words(lang)
    scale = satisfaction.scale
    if scale == "csat":
        return f"CSAT {value * 100:.0f}%"
    if scale == "nps":
        return f"NPS {_signed(value, 0)}"
    if scale == "ces":
        return f"CES {value:.1f}/7"
    if scale == "rating":
        return f"{words['rating']} {value:.1f}/5"
    return f"{words['sentiment']} {_signed(value, 2)}"


def _step_lane(step: StepMetrics, lang: str) -> dict[str, str]:
    words = _words(lang)
    rows = {words["reach"]: format_count(step.reach)}
    if step.conversion.value is not None:
        rows[words["conversion"]] = format_rate(step.conversion)
    if step.drop_off is not None:
        rows[words["drop_off"]] = format_rate(step.drop_off)
    if step.median_seconds is not None:
        rows[words["median_time"]] = format_seconds(step.median_seconds)
    shown = [t for t in (format_satisfaction(s, lang=lang) for s in step.satisfaction) if t]
    if shown:
        rows[words["satisfaction"]] = " · ".join(shown)
    return rows


def metrics_lane(snapshot: Snapshot, *, lang: str = "en") -> dict[str, dict[str, str]]:
    """Step id → label → display string, for the map's measured lane.

    Labels are Reach, Conversion (with its interval), Drop-off, Median time (to the
    next step, among converters) and Satisfaction (every figure the step has, joined
    with ``·``); in Korean for ``lang="ko"``. Figures that were not measured are left out.

    >>> from datetime import datetime, timezone
    >>> from journeymap.insights.evidence import Estimate, Snapshot, StepMetrics
    >>> t = datetime(2026, 11, 1, tzinfo=timezone.utc)
    >>> step = StepMetrics("visit", "buy", 1234, 700, 300, 234, Estimate(0.7, 0.67, 0.73),
    ...                    0.3, 100800.0, None)
    >>> snap = Snapshot(t, t, None, None, 1234, 5000, 0, None, None, "duckdb", (step,), ())
    >>> metrics_lane(snap)["visit"]
    {'Reach': '1,234', 'Conversion': '70% (67–73)', 'Drop-off': '30%', 'Median time': '1d 4h'}
    """
    return {step.step_id: _step_lane(step, lang) for step in snapshot.steps}


def measured_emotion(snapshot: Snapshot) -> dict[str, float]:
    """Step id → measured emotion (−2 … +2) for every step with feedback.

    Values are clamped to the scale, so a rounding slip never stops the picture.
    """
    return {
        step.step_id: max(-2.0, min(2.0, float(step.measured_emotion)))
        for step in snapshot.steps
        if step.measured_emotion is not None and not math.isnan(step.measured_emotion)
    }
