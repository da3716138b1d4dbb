"""The header every view shares: title, scope, focus persona and the legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from journeymap.model import JourneyMap, Persona
from journeymap.render.cards import (
    Content,
    Para,
    Pill,
    Pills,
    Severity,
    build_card,
    make_text,
    place_content,
)
from journeymap.render.geometry import Box, Card, Region, Rule
from journeymap.render.labels import Labels
from journeymap.render.palette import EVIDENCE_INK, GRID, INK, MUTED, OKABE_ITO

__all__ = ["Header", "build_header"]

PANEL_W = 360.0
LEGEND_W = 330.0
PANEL_GAP = 16.0
PANEL_PAD = 12.0
LABEL_SIZE = 10.5


@dataclass(frozen=True)
class Header:
    """The header's regions, legend sample cards and legend lines, and its extent."""

    regions: tuple[Region, ...]
    cards: tuple[Card, ...]
    rules: tuple[Rule, ...]
    width: float
    height: float


def _caption(text: str) -> Para:
    return Para(
        text.upper() if text.isascii() else text, size=LABEL_SIZE, weight="bold", colour=MUTED
    )


def _scope_content(jmap: JourneyMap, labels: Labels, colours: Mapping[str, str]) -> list[Content]:
    scope = jmap.scope
    content: list[Content] = []
    if scope.journey:
        content += [_caption(labels.journey), Para(scope.journey, size=13.0)]
    if scope.goal:
        content += [_caption(labels.goal), Para(scope.goal, size=12.0)]
    if colours:
        pills = tuple(Pill("channel", name, colour) for name, colour in colours.items())
        content += [_caption(labels.channels), Pills(pills)]
    if scope.functions:
        content += [_caption(labels.functions), Para(" · ".join(scope.functions), size=12.0)]
    extra: list[str] = []
    if scope.owner:
        extra.append(f"{labels.owner}: {scope.owner}")
    if scope.review_every_days:
        extra.append(f"{labels.review}: {labels.every_days.format(n=scope.review_every_days)}")
    if jmap.version:
        extra.append(f"{labels.version} {jmap.version}")
    if jmap.updated:
        extra.append(f"{labels.updated} {jmap.updated.isoformat()}")
    if extra:
        content.append(Para(" · ".join(extra), size=11.0, colour=MUTED))
    return content


def _focus_persona(jmap: JourneyMap) -> Persona | None:
    for persona in jmap.personas:
        if persona.id == jmap.scope.persona:
            return persona
    return jmap.personas[0] if jmap.personas else None


def _persona_content(jmap: JourneyMap, labels: Labels, persona: Persona) -> list[Content]:
    who = persona.name
    facts = [f"{persona.age}{labels.age}" if persona.age is not None else "", persona.job or ""]
    facts = [f for f in facts if f]
    content: list[Content] = [_caption(labels.persona), Para(who, size=15.0, weight="bold")]
    if facts:
        content.append(Para(" · ".join(facts), size=12.0, colour=MUTED))
    if persona.quote:
        content.append(Para(f"“{persona.quote}”", size=12.5, italic=True))
    if persona.goals:
        content += [
            _caption(labels.goals),
            *(Para(g, size=12.0, bullet=True) for g in persona.goals),
        ]
    if persona.frustrations:
        content += [
            _caption(labels.frustrations),
            *(Para(f, size=12.0, bullet=True) for f in persona.frustrations),
        ]
    others = [p.name for p in jmap.personas if p.id != persona.id]
    if others:
        content.append(Para(f"{labels.also}: {', '.join(others)}", size=11.0, colour=MUTED))
    return content


def _panel(
    id: str, x: float, y: float, width: float, content: Sequence[Content], height: float | None
) -> tuple[Region, float]:
    placed, bottom = place_content(
        content, x=x + PANEL_PAD, y=y + PANEL_PAD, width=width - 2 * PANEL_PAD, first_reserve=0.0
    )
    natural = bottom + PANEL_PAD - y
    box = Box(x, y, width, round(max(natural, height or 0.0), 2))
    region = Region(
        id=id,
        kind="panel",
        box=box,
        texts=tuple(placed.texts),
        badges=tuple(placed.badges),
        marks=tuple(placed.marks),
        fill="#FAFAFA",
        stroke=GRID,
    )
    return region, natural


def _legend(
    x: float,
    y: float,
    labels: Labels,
    *,
    height: float | None,
    measured: bool,
    view: str,
    measured_label: str | None = None,
) -> tuple[Region, list[Card], list[Rule], float]:
    """The legend panel: confidence samples, severity, emotion lines, score rule."""
    inner = x + PANEL_PAD
    width = LEGEND_W - 2 * PANEL_PAD
    texts = [make_text(labels.legend, x=inner, y=y + PANEL_PAD, width=width, size=LABEL_SIZE,
                       weight="bold", colour=MUTED)]  # fmt: skip
    cursor = texts[0].y + texts[0].height + 6
    texts.append(make_text(labels.confidence_title, x=inner, y=cursor, width=width, size=11.0,
                           weight="bold"))  # fmt: skip
    cursor += texts[-1].height + 4
    cards: list[Card] = []
    sample_w = (width - 2 * 6) / 3
    sample_h = 0.0
    for i, level in enumerate(("observed", "reported", "assumed")):
        card = build_card(
            id=f"legend:{level}",
            kind="legend",
            ref=level,
            x=round(inner + i * (sample_w + 6), 2),
            y=cursor,
            width=round(sample_w, 2),
            content=[Para(labels.confidence[level], size=11.5)],
            confidence=level,  # type: ignore[arg-type]
        )
        cards.append(card)
        sample_h = max(sample_h, card.box.h)
    cursor += sample_h + 8
    marks = []
    placed, cursor = place_content(
        [Severity(4, f"{labels.severity} 1–5")], x=inner, y=cursor, width=width, first_reserve=0
    )
    texts += placed.texts
    marks += placed.marks
    cursor += 8
    rules: list[Rule] = []
    emotion_lines: list[tuple[str, str, str | None]] = [
        (labels.emotion_declared, OKABE_ITO["blue"], None)
    ]
    if measured:
        emotion_lines.append((measured_label or labels.emotion_measured, OKABE_ITO["black"], "5 4"))
    if view != "flow":
        for name, colour, dash in emotion_lines:
            rules.append(
                Rule("legend", inner, cursor + 7, inner + 36, cursor + 7, colour, 2.5, dash)
            )
            label = make_text(name, x=inner + 44, y=cursor, width=width - 44, size=11.0,
                              line_height=14.0)  # fmt: skip
            texts.append(label)
            cursor += max(14.0, label.height) + 4
    else:
        samples = [
            (labels.edge_next, "#4D4D4D", None),
            (labels.leaves, OKABE_ITO["vermillion"], "6 4"),
            (labels.way_back, OKABE_ITO["blue"], "6 4"),
        ]
        for name, colour, dash in samples:
            rules.append(
                Rule("legend", inner, cursor + 7, inner + 36, cursor + 7, colour, 2.0, dash)
            )
            label = make_text(name, x=inner + 44, y=cursor, width=width - 44, size=11.0,
                              line_height=14.0)  # fmt: skip
            texts.append(label)
            cursor += max(14.0, label.height) + 4
    score = make_text(labels.score_rule, x=inner, y=cursor + 2, width=width, size=11.0,
                      colour=MUTED)  # fmt: skip
    texts.append(score)
    cursor = score.y + score.height
    natural = cursor + PANEL_PAD - y
    box = Box(x, y, LEGEND_W, round(max(natural, height or 0.0), 2))
    region = Region(
        id="header:legend",
        kind="panel",
        box=box,
        texts=tuple(texts),
        marks=tuple(marks),
        fill="#FAFAFA",
        stroke=GRID,
    )
    return region, cards, rules, natural


def build_header(
    jmap: JourneyMap,
    labels: Labels,
    *,
    x: float,
    y: float,
    width: float,
    colours: Mapping[str, str],
    measured: bool = False,
    view: str = "matrix",
    as_of: str | None = None,
    measured_label: str | None = None,
) -> Header:
    """Lay out the header from (x, y); it is at least ``width`` wide.

    Panels (scope, persona, legend) sit side by side with equal heights; the title
    above them wraps to the header's width. ``as_of`` (an evidenced map's "as of …
    · data … · N customers") is a line under the title; ``measured_label`` names the
    measured emotion curve in the legend (e.g. "measured (466 responses)").
    """
    persona = _focus_persona(jmap)
    scope_content = _scope_content(jmap, labels, colours)
    panels: list[tuple[str, float, list[Content]]] = []
    if scope_content:
        panels.append(("header:scope", PANEL_W, scope_content))
    if persona is not None:
        panels.append(("header:persona", PANEL_W, _persona_content(jmap, labels, persona)))
    row_w = sum(w for _, w, _ in panels) + LEGEND_W + PANEL_GAP * len(panels)
    total_w = max(width, row_w)
    title = make_text(jmap.title, x=x, y=y, width=total_w, size=24.0, weight="bold", colour=INK)
    texts = [title]
    cursor = y + title.height + 2
    if jmap.description:
        desc = make_text(jmap.description, x=x, y=cursor, width=min(total_w, 900.0), size=13.0,
                         colour=MUTED)  # fmt: skip
        texts.append(desc)
        cursor += desc.height
    if as_of:
        line = make_text(as_of, x=x, y=cursor + 4, width=min(total_w, 900.0), size=12.5,
                         weight="bold", colour=EVIDENCE_INK)  # fmt: skip
        texts.append(line)
        cursor += line.height + 4
    title_region = Region(
        id="header:title",
        kind="title",
        box=Box(x, y, total_w, round(cursor - y, 2)),
        texts=tuple(texts),
    )
    top = cursor + 12
    # Measure first, then draw every panel at the tallest height.
    natural = [_panel(pid, x, top, w, content, None)[1] for pid, w, content in panels]
    legend_natural = _legend(
        x, top, labels, height=None, measured=measured, view=view, measured_label=measured_label
    )[3]
    height = max([*natural, legend_natural])
    regions = [title_region]
    px = x
    for pid, w, content in panels:
        regions.append(_panel(pid, px, top, w, content, height)[0])
        px += w + PANEL_GAP
    legend, cards, rules, _ = _legend(
        px, top, labels, height=height, measured=measured, view=view, measured_label=measured_label
    )
    regions.append(legend)
    bottom = top + height
    return Header(
        regions=tuple(regions),
        cards=tuple(cards),
        rules=tuple(rules),
        width=round(total_w, 2),
        height=round(bottom - y, 2),
    )
