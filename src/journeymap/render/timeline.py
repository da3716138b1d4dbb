"""The timeline view: every step as a bar on a time axis, grouped by stage.

Time comes from the map: a step starts at its ``at`` (a date or time) or where the
step before it ended, and lasts its ``duration``. When durations differ by more than
:data:`LOG_RATIO` times (minutes of browsing, days of delivery) and no dates are
given, the axis is logarithmic in elapsed time so that short steps stay visible.
Without any durations or dates the steps are evenly spaced, and the layout says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from journeymap.model import JourneyMap, Stage, Step, format_duration
from journeymap.render.cards import (
    Para,
    Pill,
    Pills,
    build_card,
    channel_colours,
    channel_pill,
    describe_evidence,
    make_badge,
    make_text,
)
from journeymap.render.curves import smooth_curve
from journeymap.render.geometry import (
    Box,
    Card,
    Curve,
    CurvePoint,
    Layout,
    Page,
    Region,
    Rule,
)
from journeymap.render.header import build_header
from journeymap.render.labels import Labels
from journeymap.render.pages import PAGE_ASPECT, paginate_columns
from journeymap.render.palette import (
    MUTED,
    OKABE_ITO,
    colour_for_severity,
    stage_colour,
    tint,
)

__all__ = ["LOG_RATIO", "Axis", "Schedule", "layout_timeline", "place_on_axis", "schedule_steps"]

MARGIN = 24.0
LABEL_W = 290.0
PLOT_W = 880.0
PLOT_GAP = 16.0
STAGE_ROW_H = 30.0
BAR_H = 16.0
AXIS_H = 40.0
EMOTION_H = 120.0
PILL_ROW = 17.0
LOG_RATIO = 50.0

_NICE_STEPS = (
    1, 5, 15, 30, 60, 300, 900, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400,
    2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400,
)  # fmt: skip


@dataclass(frozen=True)
class Schedule:
    """When each step starts and ends, in seconds from the start of the journey."""

    starts: tuple[float, ...]
    ends: tuple[float, ...]
    origin: datetime | None
    """The calendar time of 0 s, when the map gives dates."""
    timed: bool
    """False when the map has no durations or dates and steps are evenly spaced."""

    @property
    def span(self) -> float:
        return max(self.ends, default=0.0) - min(self.starts, default=0.0)


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value
    return datetime(value.year, value.month, value.day)


def schedule_steps(steps: Sequence[Step]) -> Schedule:
    """Place ``steps`` in time: ``at`` where given, else right after the step before.

    Undated steps before the first dated one are placed backwards from it.

    >>> from journeymap.model import Step
    >>> s = schedule_steps([Step(id="a", name="A", duration="1h"),
    ...                     Step(id="b", name="B", duration="30m")])
    >>> s.starts, s.ends
    ((0.0, 3600.0), (3600.0, 5400.0))
    """
    durations = [s.duration.total_seconds() if s.duration else 0.0 for s in steps]
    dated = [_as_datetime(s.at) if s.at is not None else None for s in steps]
    if not any(durations) and all(d is None for d in dated):
        return Schedule(
            starts=tuple(float(i) for i in range(len(steps))),
            ends=tuple(float(i + 1) for i in range(len(steps))),
            origin=None,
            timed=False,
        )
    known = [d for d in dated if d is not None]
    origin = min(known) if known else None
    starts: list[float | None] = []
    cursor: float | None = None if origin is not None else 0.0
    for i, when in enumerate(dated):
        if when is not None and origin is not None:
            start: float | None = (when - origin).total_seconds()
        else:
            start = cursor
        starts.append(start)
        cursor = start + durations[i] if start is not None else None
    # Leading undated steps end where the first dated one begins.
    first = next(i for i, s in enumerate(starts) if s is not None)
    for i in range(first - 1, -1, -1):
        later = starts[i + 1]
        assert later is not None
        starts[i] = later - durations[i]
    placed = [s if s is not None else 0.0 for s in starts]
    low = min(placed)
    if low < 0 and origin is not None:
        origin = origin + timedelta(seconds=low)
    shifted = [s - low for s in placed]
    return Schedule(
        starts=tuple(shifted),
        ends=tuple(s + d for s, d in zip(shifted, durations, strict=True)),
        origin=origin,
        timed=True,
    )


@dataclass(frozen=True)
class Axis:
    """Where each step's bar runs on the x axis, and the ticks to label it with.

    ``linear``: x is proportional to time (dates, or durations of similar size).
    ``compressed``: steps follow each other and each bar's length grows with the log
    of its duration, so minutes and days both stay readable; ticks sit at the step
    boundaries and name the real elapsed time. ``even``: no time in the map.
    """

    kind: Literal["linear", "compressed", "even"]
    spans: tuple[tuple[float, float], ...]
    ticks: tuple[tuple[float, str], ...]


def _tick_label(t: float, schedule: Schedule) -> str:
    if schedule.origin is not None:
        moment = schedule.origin + timedelta(seconds=t)
        return (
            moment.strftime("%Y-%m-%d")
            if schedule.span >= 2 * 86400
            else moment.strftime("%m-%d %H:%M")
        )
    # The two largest units are enough to read an axis: "1d 2h", not "1d 2h 27m 30s".
    return " ".join(format_duration(timedelta(seconds=round(t))).split()[:2])


def _thin(ticks: Sequence[tuple[float, str]], *, gap: float) -> tuple[tuple[float, str], ...]:
    """Drop ticks closer than ``gap`` px to the one kept before them, or saying the same."""
    kept: list[tuple[float, str]] = []
    for x, label in ticks:
        if not kept or (x - kept[-1][0] >= gap and label != kept[-1][1]):
            kept.append((x, label))
    return tuple(kept)


def place_on_axis(schedule: Schedule, *, left: float, width: float) -> Axis:
    """Choose the kind of axis for ``schedule`` and place every step on it.

    >>> s = Schedule(starts=(0.0, 60.0), ends=(60.0, 86460.0), origin=None, timed=True)
    >>> place_on_axis(s, left=0.0, width=100.0).kind
    'compressed'
    """
    n = len(schedule.starts)
    if not schedule.timed or schedule.span <= 0:
        slot = width / max(n, 1)
        spans = tuple(
            (round(left + i * slot + 4, 2), round(left + (i + 1) * slot - 4, 2)) for i in range(n)
        )
        return Axis("even", spans, ())
    durations = [e - s for s, e in zip(schedule.starts, schedule.ends, strict=True)]
    positive = [d for d in durations if d > 0]
    if schedule.origin is None and positive and max(positive) / min(positive) > LOG_RATIO:
        unit = min(positive)
        weights = [math.log1p(d / unit) + 0.35 for d in durations]
        total = sum(weights)
        spans_list: list[tuple[float, float]] = []
        x = left
        for w in weights:
            nxt = x + width * w / total
            spans_list.append((round(x, 2), round(nxt, 2)))
            x = nxt
        ticks = [
            (x0, _tick_label(start, schedule))
            for (x0, _), start in zip(spans_list, schedule.starts, strict=True)
        ]
        ticks.append((spans_list[-1][1], _tick_label(schedule.ends[-1], schedule)))
        return Axis("compressed", tuple(spans_list), _thin(ticks, gap=64))
    span = schedule.span

    def x_of(t: float) -> float:
        return round(left + width * t / span, 2)

    step = next((s for s in _NICE_STEPS if span / s <= 8), _NICE_STEPS[-1])
    ticks = [
        (x_of(i * step), _tick_label(i * step, schedule)) for i in range(int(span // step) + 1)
    ]
    spans = tuple((x_of(s), x_of(e)) for s, e in zip(schedule.starts, schedule.ends, strict=True))
    return Axis("linear", spans, _thin(ticks, gap=70))


def _duration_label(step: Step, start: float, end: float, schedule: Schedule) -> str:
    if step.duration:
        return format_duration(step.duration)
    if step.at is not None:
        return step.at.isoformat() if isinstance(step.at, date) else str(step.at)
    return ""


def layout_timeline(
    jmap: JourneyMap,
    *,
    lanes: Sequence[str] | None,
    measured_emotion: Mapping[str, float] | None,
    labels: Labels,
    as_of: str | None = None,
    measured_label: str | None = None,
) -> Layout:
    """The timeline view of ``jmap`` (see :func:`journeymap.render.layout.layout_map`).

    ``as_of`` and ``measured_label`` come from an evidenced map (see
    :func:`journeymap.render.header.build_header`).
    """
    shown = set(lanes) if lanes is not None else {"touchpoints", "emotion", "pain_points"}
    pairs = list(jmap.all_steps())
    steps = [step for _, step in pairs]
    schedule = schedule_steps(steps)
    colours = channel_colours(jmap) if "touchpoints" in shown else {}
    plot_left = MARGIN + LABEL_W + PLOT_GAP
    plot_right = plot_left + PLOT_W
    body_right = plot_right + 60
    header = build_header(
        jmap,
        labels,
        x=MARGIN,
        y=MARGIN,
        width=body_right - MARGIN,
        colours=channel_colours(jmap),
        measured=bool(measured_emotion),
        view="timeline",
        as_of=as_of,
        measured_label=measured_label,
    )
    width = max(body_right, MARGIN + header.width) + MARGIN
    regions: list[Region] = list(header.regions)
    cards: list[Card] = list(header.cards)
    rules: list[Rule] = list(header.rules)
    curves: list[Curve] = []
    notes: list[str] = []
    body_top = MARGIN + header.height + 24

    axis = place_on_axis(schedule, left=plot_left, width=PLOT_W)

    # The axis: caption on the left, tick labels above the line.
    y = body_top
    caption = labels.time_axis if schedule.timed else labels.no_time
    if axis.kind == "compressed":
        caption += f" ({labels.compressed})"
    if not schedule.timed:
        notes.append(labels.no_time)
    regions.append(Region(
        id="axis:caption", kind="axis", box=Box(MARGIN, y, LABEL_W, AXIS_H),
        texts=(make_text(caption, x=MARGIN + 8, y=y + 6, width=LABEL_W - 16, size=11.5,
                         weight="bold", colour=MUTED),),
    ))  # fmt: skip
    ticks = axis.ticks
    for i, (tx, label) in enumerate(ticks):
        text = make_text(label, x=tx, y=y + AXIS_H - 22, width=140, size=10.5, line_height=14.0,
                         anchor="middle", colour=MUTED)  # fmt: skip
        if text.box.right > body_right:
            text = make_text(label, x=tx, y=y + AXIS_H - 22, width=140, size=10.5,
                             line_height=14.0, anchor="end", colour=MUTED)  # fmt: skip
        # A little room around the label: a browser's box of a glyph run can reach a
        # fraction of a pixel past its advance.
        room = Box(text.box.x - 3, text.box.y, text.box.w + 6, text.box.h)
        regions.append(Region(id=f"tick:time:{i}", kind="tick", box=room, texts=(text,)))
    axis_y = y + AXIS_H - 4
    rules.append(Rule("axis", plot_left, axis_y, plot_right, axis_y, "#4D4D4D", 1.2))
    y += AXIS_H + 4
    gutter_top = (body_top - 4, y)

    # The emotion strip: the curve over time.
    emotion = {s.id: float(s.emotion) for s in steps if s.emotion is not None}
    if "emotion" in shown and (emotion or measured_emotion):
        top = y
        inner_top, inner_bottom = top + 14, top + EMOTION_H - 14
        mid, unit = (inner_top + inner_bottom) / 2, (inner_bottom - inner_top) / 4
        strip = Box(MARGIN, top, body_right - MARGIN, EMOTION_H)
        regions.append(Region(
            id="lane:emotion", kind="lane", box=strip, fill="#F6F6F6", stroke="#E2E2E2",
            texts=(make_text(labels.lanes["emotion"], x=MARGIN + 8, y=top + 8, width=LABEL_W - 50,
                             size=12.5, weight="bold"),),
        ))  # fmt: skip
        for level in (2, 1, 0, -1, -2):
            ly = round(mid - level * unit, 2)
            rules.append(Rule("grid", plot_left, ly, plot_right, ly,
                              "#9E9E9E" if level == 0 else "#DDDDDD", 1.0,
                              None if level == 0 else "3 3"))  # fmt: skip
            tick = f"+{level}" if level > 0 else str(level)
            tx = plot_left - 8
            regions.append(Region(
                id=f"tick:emotion:{level}", kind="tick", box=Box(tx - 24, ly - 8, 24, 16),
                texts=(make_text(tick, x=tx, y=ly - 7, width=24, size=10.5, line_height=14.0,
                                 anchor="end", colour=MUTED),),
            ))  # fmt: skip
        lane_box = Box(plot_left, top, PLOT_W, EMOTION_H)
        for kind, source, colour, dash in (
            ("declared", emotion, OKABE_ITO["blue"], None),
            ("measured", dict(measured_emotion or {}), OKABE_ITO["black"], "6 4"),
        ):
            points = sorted(
                (
                    CurvePoint(step.id, round((x0 + x1) / 2, 2), round(mid - source[step.id] * unit, 2),
                               source[step.id])
                    for step, (x0, x1) in zip(steps, axis.spans, strict=True)
                    if step.id in source
                ),
                key=lambda p: p.x,
            )  # fmt: skip
            if points:
                curves.append(Curve(
                    id=f"emotion:{kind}", kind=kind, lane=lane_box, points=tuple(points),  # type: ignore[arg-type]
                    segments=smooth_curve([(p.x, p.y) for p in points]), colour=colour, dash=dash,
                ))  # fmt: skip
        y = top + EMOTION_H + 8
        gutter_top = (gutter_top[0], y)

    # Rows: a band per stage, a row per step with its card on the left and bar on the right.
    row_spans: list[tuple[float, float]] = []
    row_groups: list[int] = []
    stage_steps: dict[str, list[int]] = {}
    for i, (stage, _) in enumerate(pairs):
        stage_steps.setdefault(stage.id, []).append(i)
    for si, stage in enumerate(jmap.stages):
        colour = stage_colour(si)
        band = Box(MARGIN, y, body_right - MARGIN, STAGE_ROW_H)
        name = make_text(stage.name, x=MARGIN + 10, y=y + 6, width=body_right - MARGIN - 20,
                         size=13.5, weight="bold", line_height=18.0)  # fmt: skip
        band = Box(MARGIN, y, body_right - MARGIN, max(STAGE_ROW_H, name.height + 12))
        regions.append(Region(id=f"stage:{stage.id}", kind="stage", box=band, texts=(name,),
                              fill=tint(colour, 0.8), accent=colour))  # fmt: skip
        row_spans.append((y, band.bottom))
        row_groups.append(si)
        y = band.bottom + 4
        for index in stage_steps.get(stage.id, []):
            step = steps[index]
            cards_row, height = _step_row(
                index, step, stage, y=y, schedule=schedule, span=axis.spans[index], labels=labels,
                colours=colours, shown=shown, body_right=body_right, plot_left=plot_left,
                plot_right=plot_right,
            )  # fmt: skip
            cards += cards_row
            row_spans.append((y, y + height))
            row_groups.append(si)
            y += height + 4
        y += 6
    for tx, _ in ticks:
        rules.append(Rule("grid", tx, axis_y, tx, y, "#E4E4E4", 1.0))
    height = y + MARGIN
    page_h = max(400.0, width / PAGE_ASPECT - (gutter_top[1] - gutter_top[0]) - 40)
    slices = paginate_columns(row_spans, row_groups, budget=page_h)
    pages = tuple(Page(i, 0.0, width, y0 - 2, y1 + 2) for i, (y0, y1) in enumerate(slices))
    return Layout(
        view="timeline",
        lang=jmap.lang,
        title=jmap.title,
        width=round(width, 2),
        height=round(height, 2),
        header_height=round(body_top - 12, 2),
        regions=tuple(regions),
        cards=tuple(cards),
        rules=tuple(rules),
        curves=tuple(curves),
        pages=pages,
        top_gutter=gutter_top,
        lanes=tuple(lane for lane in ("touchpoints", "emotion", "pain_points") if lane in shown),
        steps=tuple(s.id for s in steps),
        stages=tuple(s.id for s in jmap.stages),
        notes=tuple(notes),
    )


def _step_row(
    index: int,
    step: Step,
    stage: Stage,
    *,
    y: float,
    schedule: Schedule,
    span: tuple[float, float],
    labels: Labels,
    colours: Mapping[str, str],
    shown: set[str],
    body_right: float,
    plot_left: float,
    plot_right: float,
) -> tuple[list[Card], float]:
    """The step's card in the label column and its bar (with a label) in the plot."""
    pills = [Pill("number", str(index + 1), "#333333")]
    if step.channel and "touchpoints" in shown:
        pills.append(channel_pill(step.channel, colours))
    card = build_card(
        id=f"step:{step.id}", kind="step", ref=step.id, x=MARGIN + 8, y=y,
        width=LABEL_W - 8, content=[Pills(tuple(pills)), Para(step.name, size=12.5, weight="bold")],
        confidence=step.confidence, tooltip=describe_evidence([step]), column=index,
    )  # fmt: skip
    height = card.box.h
    start, end = schedule.starts[index], schedule.ends[index]
    x0, x1 = span
    if x1 - x0 < 6:
        x0, x1 = (x0 - 3, x0 + 3) if x0 - 3 >= plot_left else (plot_left, plot_left + 6)
        x1 = min(x1, plot_right)
        x0 = x1 - 6
    bar_y = round(y + (height - BAR_H) / 2, 2)
    fill = colours.get(step.channel or "", "#7A7A7A") if "touchpoints" in shown else "#7A7A7A"
    bar = Card(
        id=f"bar:{step.id}", kind="bar", ref=step.id, box=Box(x0, bar_y, round(x1 - x0, 2), BAR_H),
        confidence=step.confidence, fill=fill, stroke="#1A1A1A", column=index,
        tooltip=f"{step.name}: {_duration_label(step, start, end, schedule)}",
    )  # fmt: skip
    # The label beside the bar: duration, emotion, the worst pain point.
    words = _duration_label(step, start, end, schedule)
    text = make_text(words, x=0, y=0, width=300, size=11.0, line_height=15.0) if words else None
    badge_specs: list[tuple[str, str, str]] = []
    if "pain_points" in shown and step.pain_points:
        worst = max(p.severity for p in step.pain_points)
        badge_specs.append(("severity", f"{labels.severity} {worst}", colour_for_severity(worst)))
    probe = [make_badge(k, t, x=0, y=0, fill=f) for k, t, f in badge_specs]
    label_w = (text.width + 6 if text else 0) + sum(b.box.w + 4 for b in probe)
    cards = [card, bar]
    if label_w:
        ly = round(y + (height - PILL_ROW) / 2, 2)
        if x1 + 6 + label_w <= body_right - 4:
            lx = x1 + 6
        elif x0 - 6 - label_w >= plot_left:
            lx = x0 - 6 - label_w
        else:
            # The bar fills the plot: the label goes under it.
            lx, ly = x0, bar_y + BAR_H + 3
            height = max(height, ly + PILL_ROW + 2 - y)
        texts = []
        cursor = lx
        if text is not None:
            texts.append(make_text(words, x=lx, y=ly + 1, width=300, size=11.0, line_height=15.0))
            cursor += text.width + 6
        badges = []
        for kind, label, colour in badge_specs:
            badge = make_badge(kind, label, x=cursor, y=ly, fill=colour,
                               stroke="#4D4D4D" if colour == "#FFFFFF" else None)  # fmt: skip
            badges.append(badge)
            cursor = badge.box.right + 4
        cards.append(Card(
            id=f"barlabel:{step.id}", kind="label", ref=step.id,
            box=Box(round(lx - 2, 2), ly - 1, round(cursor - lx, 2), PILL_ROW + 2),
            texts=tuple(texts), badges=tuple(badges), fill="none", stroke="none", column=index,
        ))  # fmt: skip
    return cards, height
