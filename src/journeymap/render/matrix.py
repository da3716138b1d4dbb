"""The matrix view: stages and their steps across, lanes down.

One column per step, grouped under its stage's band. Each lane is a row as tall as its
fullest column; cards stack inside their column. The emotion lane has a fixed height
and carries the declared curve (and the measured one, when given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from journeymap.insights.evidence import ObservedPainPoint
from journeymap.insights.lane import format_count
from journeymap.model import Confidence, JourneyMap, Stage, Step
from journeymap.render.cards import (
    Content,
    KeyValues,
    Para,
    Pill,
    Pills,
    Severity,
    build_card,
    channel_colours,
    channel_pill,
    confidence_of,
    describe_evidence,
    make_badge,
    make_text,
    opportunity_score,
)
from journeymap.render.curves import smooth_curve
from journeymap.render.evidence import MapEvidence
from journeymap.render.geometry import (
    LANES,
    Box,
    Card,
    Curve,
    CurvePoint,
    Layout,
    Page,
    Region,
    Rule,
    Text,
)
from journeymap.render.header import build_header
from journeymap.render.labels import Labels
from journeymap.render.pages import page_budget, paginate_columns
from journeymap.render.palette import (
    EVIDENCE,
    GRID,
    MUTED,
    OKABE_ITO,
    stage_colour,
    tint,
)

__all__ = ["layout_matrix"]

MARGIN = 24.0
GUTTER = 150.0
COL_W = 196.0
COL_GAP = 10.0
LANE_PAD = 8.0
CARD_GAP = 6.0
EMOTION_H = 160.0
EMOTION_PAD = 20.0
MIN_LANE_H = 40.0


@dataclass(frozen=True)
class _Spec:
    """A card waiting for its place in a column."""

    id: str
    kind: str
    ref: str
    content: tuple[Content, ...]
    confidence: Confidence | None
    tooltip: str | None = None
    owner: str | None = None


def _number(value: float | str) -> str:
    """12000 → '12,000'; 0.5 → '0.5'; text stays as it is."""
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.6g}"


def kpi_text(stage: Stage, labels: Labels) -> list[str]:
    """One line per KPI: 'KPI conversion ≥ 8%', 'KPI reach ≥ 40,000 visitors'."""
    lines: list[str] = []
    for kpi in stage.kpis:
        if kpi.target is None:
            lines.append(f"{labels.kpi} {kpi.name}")
            continue
        sign = "≥" if kpi.direction == "higher" else "≤"
        unit = kpi.unit or ""
        if unit and unit not in ("%", "‰") and not unit.startswith(" "):
            unit = " " + unit
        lines.append(f"{labels.kpi} {kpi.name} {sign} {_number(kpi.target)}{unit}")
    return lines


def _observed_spec(pain: ObservedPainPoint, labels: Labels) -> _Spec:
    """A pain point found in the data: the "observed" badge, its title, whom it affects."""
    content: tuple[Content, ...] = (
        Pills((Pill("observed", labels.observed_badge, EVIDENCE),)),
        Para(pain.title, weight="bold"),
        Para(labels.affected.format(n=format_count(pain.affected)), size=10.5, colour=MUTED),
        Severity(pain.severity, f"{labels.severity} {pain.severity}"),
    )
    return _Spec(f"observed:{pain.id}", "observed", pain.id, content, "observed",
                 pain.explanation or None)  # fmt: skip


def _lane_specs(
    lane: str,
    jmap: JourneyMap,
    columns: Sequence[tuple[Stage, Step]],
    labels: Labels,
    metrics: Mapping[str, Mapping[str, str]] | None,
    evidence: MapEvidence | None = None,
) -> list[list[_Spec]]:
    """The cards of a plain lane, per column."""
    stacks: list[list[_Spec]] = [[] for _ in columns]
    for col, (_, step) in enumerate(columns):
        stack = stacks[col]
        if lane == "touchpoints":
            content: list[Content] = []
            if step.touchpoint:
                content.append(Para(step.touchpoint, size=12.0, weight="bold"))
            if step.offline:
                content.append(Pills((Pill("offline", labels.offline, "#FFFFFF", MUTED),)))
            if step.trigger:
                content.append(Para(f"{labels.trigger}: {step.trigger}", size=11.0, colour=MUTED))
            if content:
                stack.append(
                    _Spec(
                        f"touchpoint:{step.id}",
                        "touchpoint",
                        step.id,
                        tuple(content),
                        step.confidence,
                        describe_evidence([step]),
                    )
                )
        elif lane == "actions":
            for i, card in enumerate(step.actions):
                stack.append(_Spec(f"action:{step.id}:{i}", "action", step.id,
                                   (Para(card.text),), card.confidence,
                                   describe_evidence([card])))  # fmt: skip
        elif lane == "thoughts":
            for i, card in enumerate(step.thoughts):
                stack.append(_Spec(f"thought:{step.id}:{i}", "thought", step.id,
                                   (Para(f"“{card.text}”"),), card.confidence,
                                   describe_evidence([card])))  # fmt: skip
            for i, card in enumerate(step.feelings):
                stack.append(_Spec(f"feeling:{step.id}:{i}", "feeling", step.id,
                                   (Para(card.text, italic=True),), card.confidence,
                                   describe_evidence([card])))  # fmt: skip
        elif lane == "pain_points":
            for pain in step.pain_points:
                content = [
                    Para(pain.text),
                    Severity(pain.severity, f"{labels.severity} {pain.severity}"),
                ]
                tip = describe_evidence([pain])
                seen = evidence.confirmed.get(pain.id) if evidence else None
                if seen is not None:
                    # The data confirms the declared pain point: said on its card, not
                    # drawn a second time.
                    content[1:1] = [
                        Pills((Pill("confirmed", labels.confirmed_badge, EVIDENCE),)),
                        Para(f"{seen.title} · {labels.affected.format(n=format_count(seen.affected))}",
                             size=10.5, colour=MUTED),
                    ]  # fmt: skip
                    tip = "\n".join(t for t in (seen.explanation, tip) if t) or None
                stack.append(
                    _Spec(f"pain:{pain.id}", "pain", pain.id, tuple(content), pain.confidence, tip)
                )
            for observed in evidence.observed.get(step.id, ()) if evidence else ():
                stack.append(_observed_spec(observed, labels))
        elif lane == "desired":
            if step.desired_experience:
                stack.append(_Spec(f"desired:{step.id}", "desired", step.id,
                                   (Para(step.desired_experience),), step.confidence,
                                   describe_evidence([step])))  # fmt: skip
        elif lane == "backstage":
            if step.owner:
                stack.append(_Spec(f"owner:{step.id}", "owner", step.id, (), None,
                                   owner=step.owner))  # fmt: skip
            for i, card in enumerate(step.backstage):
                stack.append(_Spec(f"backstage:{step.id}:{i}", "backstage", step.id,
                                   (Para(card.text),), card.confidence,
                                   describe_evidence([card])))  # fmt: skip
        elif lane == "metrics" and metrics and step.id in metrics:
            rows = tuple((str(k), str(v)) for k, v in metrics[step.id].items())
            if rows:
                stack.append(_Spec(f"metric:{step.id}", "metric", step.id, (KeyValues(rows),),
                                   "observed"))  # fmt: skip
            else:
                # A step without data says so: a blank would read as zero.
                stack.append(_Spec(f"metric:{step.id}", "nodata", step.id,
                                   (Para(labels.no_data, size=11.5, italic=True, colour=MUTED),),
                                   None))  # fmt: skip
    return stacks


def _opportunity_specs(
    jmap: JourneyMap, columns: Sequence[tuple[Stage, Step]], labels: Labels
) -> tuple[list[list[_Spec]], list[_Spec]]:
    """Opportunities in the column of the first thing they address, and the rest."""
    where: dict[str, int] = {}
    for col, (stage, step) in enumerate(columns):
        where.setdefault(stage.id, col)
        where[step.id] = col
        for pain in step.pain_points:
            where[pain.id] = col
    for stage in jmap.stages:
        for sub in stage.substages:
            ids = [s.id for s in sub.steps]
            if ids:
                where.setdefault(sub.id, where[ids[0]])
    stacks: list[list[_Spec]] = [[] for _ in columns]
    loose: list[_Spec] = []
    for opp in jmap.opportunities:
        score = opportunity_score(opp.impact, opp.feasibility)
        pills = []
        if score is not None:
            pills.append(Pill("score", f"{labels.score} {score}", OKABE_ITO["blue"]))
        pills.append(Pill("status", labels.status[opp.status], "#FFFFFF", MUTED))
        if opp.owner:
            pills.append(Pill("owner", opp.owner, "#E6E6E6"))
        parts = [
            f"{name} {value}"
            for name, value in (
                (labels.impact, opp.impact),
                (labels.feasibility, opp.feasibility),
                (labels.effort, opp.effort),
            )
            if value is not None
        ]
        content: list[Content] = [Para(opp.title, weight="bold"), Pills(tuple(pills))]
        if parts:
            content.append(Para(" · ".join(parts), size=10.5, colour=MUTED))
        cols = [where[a] for a in opp.addresses if a in where]
        tip = "\n".join(x for x in (opp.description, describe_evidence([opp])) if x) or None
        if not cols:
            content.append(Pills((Pill("scope", labels.whole_journey, "#FFFFFF", MUTED),)))
        spec = _Spec(f"opportunity:{opp.id}", "opportunity", opp.id, tuple(content),
                     confidence_of(opp), tip)  # fmt: skip
        if cols:
            stacks[min(cols)].append(spec)
        else:
            loose.append(spec)
    return stacks, loose


def _stack(
    specs: Sequence[_Spec], *, x: float, y: float, lane: str, column: int | None
) -> tuple[list[Card], float]:
    """Build ``specs`` as cards stacked from (x, y); return them and their total height."""
    cards: list[Card] = []
    cursor = y
    for spec in specs:
        if spec.kind == "owner" and spec.owner:
            # The owning function is a bare pill: an organisational fact, not a claim about
            # customers that needs evidence, so it gets no card frame.
            badge = make_badge("owner", spec.owner, x=x, y=cursor, fill="#E6E6E6", stroke=MUTED)
            card = Card(id=spec.id, kind="owner", ref=spec.ref, box=badge.box, badges=(badge,),
                        fill="none", stroke="none", lane=lane, column=column)  # fmt: skip
        else:
            card = build_card(id=spec.id, kind=spec.kind, ref=spec.ref, x=x, y=cursor, width=COL_W,
                              content=spec.content, confidence=spec.confidence, lane=lane,
                              column=column, tooltip=spec.tooltip)  # fmt: skip
        cards.append(card)
        cursor += card.box.h + CARD_GAP
    return cards, (cursor - CARD_GAP - y) if cards else 0.0


def _has_content(
    lane: str,
    jmap: JourneyMap,
    columns: Sequence[tuple[Stage, Step]],
    metrics: Mapping[str, Mapping[str, str]] | None,
    measured: Mapping[str, float] | None,
    evidence: MapEvidence | None = None,
) -> bool:
    steps = [step for _, step in columns]
    checks: dict[str, Callable[[], bool]] = {
        "touchpoints": lambda: any(s.touchpoint or s.trigger or s.offline for s in steps),
        "actions": lambda: any(s.actions for s in steps),
        "thoughts": lambda: any(s.thoughts or s.feelings for s in steps),
        "emotion": lambda: any(s.emotion is not None for s in steps) or bool(measured),
        "pain_points": lambda: (
            any(s.pain_points for s in steps) or bool(evidence and evidence.observed)
        ),
        "desired": lambda: (
            any(s.desired_experience for s in steps)
            or any(st.desired_experience for st in jmap.stages)
        ),
        "opportunities": lambda: bool(jmap.opportunities),
        "backstage": lambda: any(s.owner or s.backstage for s in steps),
        "metrics": lambda: bool(metrics),
    }
    return checks[lane]()


@dataclass(frozen=True)
class _Grid:
    """Where the columns are: one per step, grouped by stage."""

    columns: tuple[tuple[Stage, Step], ...]
    spans: tuple[tuple[int, int], ...]
    """First and last column of each stage."""

    def x(self, column: int) -> float:
        return MARGIN + GUTTER + COL_GAP + column * (COL_W + COL_GAP)

    @property
    def right(self) -> float:
        return self.x(len(self.columns))

    def band(self, first: int, last: int, top: float, height: float) -> Box:
        """A band over columns ``first`` … ``last``, filling the gaps beside them."""
        x0 = self.x(first) - COL_GAP / 2 + 1
        return Box(round(x0, 2), top, round(self.x(last) + COL_W + COL_GAP / 2 - 1 - x0, 2), height)


@dataclass
class _Parts:
    """What the matrix is made of, collected as it is laid out top to bottom."""

    regions: list[Region] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)


def _stage_texts(stage: Stage, box: Box, labels: Labels) -> tuple[list[Text], float]:
    """The stage's name, goal and KPIs inside ``box``, and the height they need."""
    inner = box.w - 2 * 10
    texts = [make_text(stage.name, x=box.x + 10, y=box.y + 10, width=inner, size=15.0,
                       weight="bold")]  # fmt: skip
    cursor = texts[0].y + texts[0].height
    extra = [f"{labels.stage_goal}: {stage.customer_goal}"] if stage.customer_goal else []
    for line in extra + kpi_text(stage, labels):
        text = make_text(line, x=box.x + 10, y=cursor + 3, width=inner, size=11.5, colour=MUTED)
        texts.append(text)
        cursor = text.y + text.height
    return texts, cursor + 10 - box.y


def _stage_bands(jmap: JourneyMap, grid: _Grid, labels: Labels, top: float, parts: _Parts) -> float:
    """Stage bands (and sub-stage bands) over their columns; returns the y below them."""
    pairs = list(zip(jmap.stages, grid.spans, strict=True))
    height = max(_stage_texts(st, grid.band(a, b, top, 0), labels)[1] for st, (a, b) in pairs)
    for i, (stage, (a, b)) in enumerate(pairs):
        box = grid.band(a, b, top, round(height, 2))
        colour = stage_colour(i)
        parts.regions.append(Region(
            id=f"stage:{stage.id}", kind="stage", box=box,
            texts=tuple(_stage_texts(stage, box, labels)[0]), fill=tint(colour, 0.8), accent=colour,
        ))  # fmt: skip
    y = top + height + 6
    if not any(stage.substages for stage in jmap.stages):
        return y
    col_of = {step.id: i for i, (_, step) in enumerate(grid.columns)}
    subs: list[tuple[str, Box, Text, int]] = []
    for si, stage in enumerate(jmap.stages):
        for sub in stage.substages:
            cols = [col_of[s.id] for s in sub.steps]
            if cols:
                box = grid.band(min(cols), max(cols), y, 0)
                text = make_text(sub.name, x=box.x + 8, y=y + 5, width=box.w - 16, size=12.0,
                                 weight="bold")  # fmt: skip
                subs.append((sub.id, box, text, si))
    sub_h = max(text.height + 10 for _, _, text, _ in subs) if subs else 0.0
    for sub_id, box, text, si in subs:
        parts.regions.append(Region(id=f"substage:{sub_id}", kind="substage",
                                    box=Box(box.x, y, box.w, round(sub_h, 2)), texts=(text,),
                                    fill=tint(stage_colour(si), 0.9)))  # fmt: skip
    return y + sub_h + 6 if subs else y


def _step_headers(
    jmap: JourneyMap,
    grid: _Grid,
    labels: Labels,
    colours: Mapping[str, str],
    top: float,
    parts: _Parts,
) -> float:
    """A header card per step (number, channel, name, milestone, fork), all as tall as
    the tallest; returns the y below them."""
    forks_at: dict[str, list[str]] = {}
    for fork in jmap.forks:
        forks_at.setdefault(fork.at, []).append(fork.question)

    def card(i: int, step: Step, height: float | None) -> Card:
        pills = [Pill("number", str(i + 1), "#333333")]
        if step.channel:
            pills.append(channel_pill(step.channel, colours))
        if step.key_transaction:
            pills.append(Pill("key", labels.key_moment, OKABE_ITO["yellow"]))
        content: list[Content] = [Pills(tuple(pills)), Para(step.name, size=13.0, weight="bold")]
        if step.description:
            content.append(Para(step.description, size=11.0, colour=MUTED))
        if step.milestone:
            content.append(Para(f"◆ {labels.milestone}: {step.milestone}", size=11.5,
                                weight="bold", colour=OKABE_ITO["blue"]))  # fmt: skip
        for question in forks_at.get(step.id, []):
            content.append(Para(f"{labels.fork}: {question}", size=11.0, italic=True, colour=MUTED))
        return build_card(id=f"step:{step.id}", kind="step", ref=step.id, x=grid.x(i), y=top,
                          width=COL_W, content=content, confidence=step.confidence,
                          height=height, column=i, tooltip=describe_evidence([step]))  # fmt: skip

    steps = [step for _, step in grid.columns]
    height = max(card(i, step, None).box.h for i, step in enumerate(steps))
    parts.cards += [card(i, step, height) for i, step in enumerate(steps)]
    return top + height + 10


def _emotion_lane(
    grid: _Grid, top: float, measured: Mapping[str, float] | None, parts: _Parts
) -> float:
    """Grid lines, ticks and curves of the emotion lane; returns its height."""
    mid = top + EMOTION_H / 2
    unit = (EMOTION_H - 2 * EMOTION_PAD) / 4

    def y_of(value: float) -> float:
        return round(mid - value * unit, 2)

    for level in (2, 1, 0, -1, -2):
        ly = y_of(level)
        parts.rules.append(Rule("grid", grid.x(0) - COL_GAP / 2, ly, grid.right - COL_GAP / 2, ly,
                                "#9E9E9E" if level == 0 else "#DDDDDD", 1.0,
                                None if level == 0 else "3 3"))  # fmt: skip
        tick = f"+{level}" if level > 0 else str(level)
        tx = MARGIN + GUTTER - 6
        parts.regions.append(Region(
            id=f"tick:emotion:{level}", kind="tick", box=Box(tx - 24, ly - 8, 24, 16),
            texts=(make_text(tick, x=tx, y=ly - 7, width=24, size=10.5, line_height=14.0,
                             anchor="end", colour=MUTED),),
        ))  # fmt: skip
    lane = Box(grid.x(0) - COL_GAP / 2, top, grid.right - grid.x(0), EMOTION_H)
    declared = {s.id: float(s.emotion) for _, s in grid.columns if s.emotion is not None}
    sources: list[tuple[Literal["declared", "measured"], Mapping[str, float], str, str | None]] = [
        ("declared", declared, OKABE_ITO["blue"], None),
        ("measured", measured or {}, OKABE_ITO["black"], "6 4"),
    ]
    for kind, source, colour, dash in sources:
        points = tuple(
            CurvePoint(step.id, round(grid.x(i) + COL_W / 2, 2), y_of(source[step.id]),
                       float(source[step.id]))
            for i, (_, step) in enumerate(grid.columns)
            if step.id in source
        )  # fmt: skip
        if points:
            parts.curves.append(Curve(
                id=f"emotion:{kind}", kind=kind, lane=lane, points=points,
                segments=smooth_curve([(p.x, p.y) for p in points]), colour=colour, dash=dash,
            ))  # fmt: skip
    return EMOTION_H


def _desired_lane(
    jmap: JourneyMap, grid: _Grid, labels: Labels, top: float, parts: _Parts
) -> float:
    """The stage's desired experience across its columns, a step's own below it; returns
    the height of the content."""
    offset: list[float] = [0.0] * len(grid.columns)
    for stage, (a, b) in zip(jmap.stages, grid.spans, strict=True):
        if stage.desired_experience:
            card = build_card(
                id=f"desired:{stage.id}", kind="desired", ref=stage.id, x=grid.x(a),
                y=top + LANE_PAD, width=grid.x(b) + COL_W - grid.x(a),
                content=[Para(stage.desired_experience, size=12.5)],
                confidence=confidence_of(stage), lane="desired", column=a,
                tooltip=describe_evidence([stage]),
            )  # fmt: skip
            parts.cards.append(card)
            offset[a : b + 1] = [card.box.h + CARD_GAP] * (b + 1 - a)
    tallest = 0.0
    for i, specs in enumerate(_lane_specs("desired", jmap, grid.columns, labels, None)):
        built, h = _stack(specs, x=grid.x(i), y=top + LANE_PAD + offset[i], lane="desired",
                          column=i)  # fmt: skip
        parts.cards += built
        tallest = max(tallest, offset[i] + h if built else offset[i] - CARD_GAP)
    return tallest


def _card_lane(
    lane: str,
    jmap: JourneyMap,
    grid: _Grid,
    labels: Labels,
    metrics: Mapping[str, Mapping[str, str]] | None,
    top: float,
    parts: _Parts,
    evidence: MapEvidence | None = None,
) -> float:
    """A lane of cards stacked in their columns; returns the height of the content."""
    if lane == "opportunities":
        stacks, loose = _opportunity_specs(jmap, grid.columns, labels)
    else:
        stacks, loose = _lane_specs(lane, jmap, grid.columns, labels, metrics, evidence), []
    used = [0.0] * len(grid.columns)
    for i, specs in enumerate(stacks):
        built, used[i] = _stack(specs, x=grid.x(i), y=top + LANE_PAD, lane=lane, column=i)
        parts.cards += built
    # Cards that belong to no column go where there is most room.
    for spec in loose:
        col = min(range(len(grid.columns)), key=lambda c: (used[c], c))
        below = used[col] + CARD_GAP if used[col] else 0.0
        built, h = _stack([spec], x=grid.x(col), y=top + LANE_PAD + below, lane=lane, column=None)
        parts.cards += built
        used[col] = below + h
    return max(used, default=0.0)


def layout_matrix(
    jmap: JourneyMap,
    *,
    lanes: Sequence[str] | None,
    metrics: Mapping[str, Mapping[str, str]] | None,
    measured_emotion: Mapping[str, float] | None,
    labels: Labels,
    evidence: MapEvidence | None = None,
) -> Layout:
    """The matrix view of ``jmap`` (see :func:`journeymap.render.layout.layout_map`).

    With ``evidence``, the pain point lane also holds the pain points found in the
    data (marked observed, or as a badge on the declared card they confirm) and the
    header carries the as-of line.
    """
    columns = tuple(jmap.all_steps())
    spans: list[tuple[int, int]] = []
    for stage in jmap.stages:
        first = spans[-1][1] + 1 if spans else 0
        spans.append((first, first + sum(1 for _ in stage.all_steps()) - 1))
    grid = _Grid(columns, tuple(spans))
    chosen = (
        tuple(lanes)
        if lanes is not None
        else tuple(
            n for n in LANES if _has_content(n, jmap, columns, metrics, measured_emotion, evidence)
        )
    )
    colours = channel_colours(jmap)
    header = build_header(jmap, labels, x=MARGIN, y=MARGIN, width=grid.right - MARGIN,
                          colours=colours, measured=bool(measured_emotion),
                          as_of=evidence.as_of if evidence else None,
                          measured_label=evidence.measured_label if evidence else None)  # fmt: skip
    parts = _Parts(list(header.regions), list(header.cards), list(header.rules))
    body_top = MARGIN + header.height + 24
    y = _stage_bands(jmap, grid, labels, body_top, parts)
    y = _step_headers(jmap, grid, labels, colours, y, parts)

    lane_regions: list[Region] = []
    for li, lane in enumerate(chosen):
        label_w = GUTTER - 2 * 10 - (30 if lane == "emotion" else 0)
        label = make_text(labels.lanes[lane], x=MARGIN + 10, y=y + LANE_PAD + 2, width=label_w,
                          size=12.5, weight="bold")  # fmt: skip
        if lane == "emotion":
            height = _emotion_lane(grid, y, measured_emotion, parts)
        else:
            if lane == "desired":
                content = _desired_lane(jmap, grid, labels, y, parts)
            else:
                content = _card_lane(lane, jmap, grid, labels, metrics, y, parts, evidence)
            height = max(MIN_LANE_H, content + 2 * LANE_PAD, label.height + 2 * LANE_PAD + 4)
        lane_regions.append(Region(
            id=f"lane:{lane}", kind="lane", box=Box(MARGIN, y, grid.right - MARGIN, round(height, 2)),
            texts=(label,), fill="#F6F6F6" if li % 2 == 0 else "#FFFFFF", stroke="#E2E2E2",
        ))  # fmt: skip
        y += height

    # Lanes are drawn under everything else in the body; stage separators run through them.
    head = len(header.regions)
    regions = parts.regions[:head] + lane_regions + parts.regions[head:]
    for a, _ in spans[1:]:
        sx = grid.x(a) - COL_GAP / 2
        parts.rules.append(Rule("separator", sx, body_top, sx, y, GRID, 1.0))
    gutter = MARGIN + GUTTER + COL_GAP / 2
    budget = page_budget(body_height=y - body_top, gutter=gutter, min_width=3 * (COL_W + COL_GAP))
    slices = paginate_columns(
        [(grid.x(i) - COL_GAP / 2, grid.x(i) + COL_W + COL_GAP / 2) for i in range(len(columns))],
        [next(k for k, (a, b) in enumerate(spans) if a <= i <= b) for i in range(len(columns))],
        budget=budget,
    )
    return Layout(
        view="matrix",
        lang=jmap.lang,
        title=jmap.title,
        width=round(max(grid.right, MARGIN + header.width) + MARGIN, 2),
        height=round(y + MARGIN, 2),
        header_height=round(body_top - 12, 2),
        regions=tuple(regions),
        cards=tuple(parts.cards),
        rules=tuple(parts.rules),
        curves=tuple(parts.curves),
        pages=tuple(Page(i, x0, x1, body_top - 8, y + 8) for i, (x0, x1) in enumerate(slices)),
        gutter=gutter,
        lanes=chosen,
        steps=tuple(step.id for _, step in columns),
        stages=tuple(stage.id for stage in jmap.stages),
    )
