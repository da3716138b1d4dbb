"""Cards and their content: paragraphs, badge rows, severity squares, metric rows.

:func:`build_card` stacks content inside a card of a given width and returns a
:class:`~journeymap.render.geometry.Card` whose height fits it, every piece of text
wrapped and placed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from journeymap.model import Confidence, JourneyMap
from journeymap.model.base import strongest_confidence
from journeymap.render.geometry import Badge, Box, Card, Mark, Text
from journeymap.render.palette import (
    CARD_STYLES,
    INK,
    MUTED,
    OKABE_ITO,
    assign_channel_colours,
    colour_for_severity,
    text_colour_on,
)
from journeymap.render.text import measure_text, wrap_block

__all__ = [
    "GLYPH_RESERVE",
    "ITEM_GAP",
    "PAD",
    "PILL_H",
    "PILL_SIZE",
    "Content",
    "KeyValues",
    "Para",
    "Pill",
    "Pills",
    "Placed",
    "Severity",
    "build_card",
    "channel_colours",
    "channel_pill",
    "confidence_of",
    "describe_evidence",
    "make_badge",
    "make_text",
    "opportunity_score",
    "place_content",
]

PAD = 8.0
GLYPH_RESERVE = 16.0
PILL_H = 17.0
PILL_SIZE = 10.5
PILL_PAD = 6.0
ITEM_GAP = 5.0
BULLET_INDENT = 14.0


def make_text(
    text: str,
    *,
    x: float,
    y: float,
    width: float,
    size: float = 12.0,
    line_height: float | None = None,
    weight: Literal["normal", "bold"] = "normal",
    anchor: Literal["start", "middle", "end"] = "start",
    colour: str = INK,
    italic: bool = False,
) -> Text:
    """Wrap ``text`` to ``width`` and place it with its first line box's top at ``y``."""
    lh = line_height if line_height is not None else round(size * 1.35, 2)
    block = wrap_block(text, width=width, size=size, line_height=lh)
    return Text(
        lines=block.lines,
        x=x,
        y=y,
        size=size,
        line_height=lh,
        width=block.width,
        weight=weight,
        anchor=anchor,
        colour=colour,
        italic=italic,
    )


def make_badge(
    kind: str, label: str, *, x: float, y: float, fill: str, stroke: str | None = None
) -> Badge:
    """A pill sized to its label, top-left at (x, y)."""
    width = measure_text(label, size=PILL_SIZE) + 2 * PILL_PAD
    box = Box(x, y, round(width, 2), PILL_H)
    text = Text(
        lines=(label,),
        x=x + PILL_PAD,
        y=y + (PILL_H - PILL_SIZE * 1.2) / 2,
        size=PILL_SIZE,
        line_height=PILL_SIZE * 1.2,
        width=measure_text(label, size=PILL_SIZE),
        colour=text_colour_on(fill),
    )
    return Badge(kind=kind, box=box, label=text, fill=fill, stroke=stroke)


@dataclass(frozen=True)
class Para:
    """A paragraph inside a card."""

    text: str
    size: float = 12.0
    weight: Literal["normal", "bold"] = "normal"
    colour: str = INK
    italic: bool = False
    bullet: bool = False
    """Start with a bullet and indent every line after it (a hanging indent)."""


@dataclass(frozen=True)
class Pill:
    """A badge inside a card."""

    kind: str
    label: str
    fill: str
    stroke: str | None = None


@dataclass(frozen=True)
class Pills:
    """A row of badges that wraps onto more rows when it is too wide."""

    pills: tuple[Pill, ...]


@dataclass(frozen=True)
class Severity:
    """Five squares, ``value`` of them filled, and the word 'severity n'."""

    value: int
    label: str


@dataclass(frozen=True)
class KeyValues:
    """Label/value rows (measured metrics): label left, value right in bold."""

    rows: tuple[tuple[str, str], ...]


Content = Para | Pills | Severity | KeyValues


@dataclass(frozen=True)
class Placed:
    """What :func:`place_content` put down: texts, badges and marks, in drawing order."""

    texts: list[Text] = field(default_factory=list)
    badges: list[Badge] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


def place_content(
    content: Sequence[Content], *, x: float, y: float, width: float, first_reserve: float
) -> tuple[Placed, float]:
    """Stack ``content`` from (x, y) within ``width``; return what was placed and its bottom.

    The first item keeps ``first_reserve`` px free on its right (for a card's glyph).
    """
    placed = Placed()
    cursor = y
    for index, item in enumerate(content):
        if index:
            cursor += ITEM_GAP
        avail = width - (first_reserve if index == 0 else 0.0)
        if isinstance(item, Para):
            indent = BULLET_INDENT if item.bullet else 0.0
            if item.bullet:
                placed.texts.append(
                    make_text("•", x=x, y=cursor, width=indent, size=item.size, colour=item.colour)
                )
            text = make_text(
                item.text,
                x=x + indent,
                y=cursor,
                width=avail - indent,
                size=item.size,
                weight=item.weight,
                colour=item.colour,
                italic=item.italic,
            )
            placed.texts.append(text)
            cursor += text.height
        elif isinstance(item, Pills):
            px, row_top = x, cursor
            for pill in item.pills:
                label = pill.label
                pill_w = measure_text(label, size=PILL_SIZE) + 2 * PILL_PAD
                if pill_w > avail:
                    # A label wider than the whole card is shortened with "…" to fit it.
                    while (
                        label and measure_text(label + "…", size=PILL_SIZE) + 2 * PILL_PAD > avail
                    ):
                        label = label[:-1]
                    label += "…"
                    pill_w = measure_text(label, size=PILL_SIZE) + 2 * PILL_PAD
                if px > x and px + pill_w > x + avail:
                    px = x
                    row_top += PILL_H + 4
                placed.badges.append(
                    make_badge(
                        pill.kind, label, x=px, y=row_top, fill=pill.fill, stroke=pill.stroke
                    )
                )
                px += pill_w + 4
            cursor = row_top + PILL_H
        elif isinstance(item, Severity):
            size = 9.0
            for i in range(5):
                filled = i < item.value
                placed.marks.append(
                    Mark(
                        "square",
                        Box(x + i * (size + 2), cursor + 2.5, size, size),
                        colour_for_severity(item.value) if filled else "#FFFFFF",
                        "#7A4100" if filled else "#8A8A8A",
                    )
                )
            label_x = x + 5 * (size + 2) + 4
            text = make_text(
                item.label,
                x=label_x,
                y=cursor,
                width=avail - (label_x - x),
                size=11.0,
                line_height=14.0,
                colour=MUTED,
            )
            placed.texts.append(text)
            cursor += max(14.0, text.height)
        else:
            for label, value in item.rows:
                value_w = min(measure_text(value, size=12.0), avail * 0.5)
                value_text = make_text(
                    value,
                    x=x + avail,
                    y=cursor,
                    width=avail * 0.5,
                    size=12.0,
                    weight="bold",
                    anchor="end",
                )
                label_text = make_text(
                    label, x=x, y=cursor, width=avail - value_w - 8, size=11.0, line_height=15.0,
                    colour=MUTED,
                )  # fmt: skip
                placed.texts.extend([label_text, value_text])
                cursor += max(label_text.height, value_text.height) + 2
    return placed, cursor


def build_card(
    *,
    id: str,
    kind: str,
    ref: str,
    x: float,
    y: float,
    width: float,
    content: Sequence[Content],
    confidence: Confidence | None,
    height: float | None = None,
    lane: str | None = None,
    column: int | None = None,
    tooltip: str | None = None,
    fill: str | None = None,
    stroke: str | None = None,
) -> Card:
    """A card of ``width`` at (x, y) holding ``content``; tall enough for it or ``height``.

    A card with a ``confidence`` gets the glyph in its top-right corner, and its first
    item keeps clear of it.
    """
    style = CARD_STYLES.get(kind, CARD_STYLES["step"])
    reserve = GLYPH_RESERVE if confidence is not None else 0.0
    placed, bottom = place_content(
        content, x=x + PAD, y=y + PAD, width=width - 2 * PAD, first_reserve=reserve
    )
    natural = bottom + PAD - y
    h = max(natural, height or 0.0, 2 * PAD + 10)
    glyph = Box(x + width - 14.5, y + 5.5, 9.0, 9.0) if confidence is not None else None
    return Card(
        id=id,
        kind=kind,
        ref=ref,
        box=Box(x, y, width, round(h, 2)),
        texts=tuple(placed.texts),
        badges=tuple(placed.badges),
        marks=tuple(placed.marks),
        confidence=confidence,
        fill=fill or style.fill,
        stroke=stroke or style.stroke,
        glyph=glyph,
        lane=lane,
        column=column,
        tooltip=tooltip,
    )


def confidence_of(part: object) -> Confidence:
    """The strongest confidence of the evidence on a map part; ``assumed`` without any."""
    return strongest_confidence(list(getattr(part, "evidence", None) or []))


def describe_evidence(parts: Iterable[object]) -> str | None:
    """A tooltip listing the evidence behind a card, strongest first."""
    lines: list[str] = []
    for part in parts:
        evidence = getattr(part, "evidence", None) or []
        for item in evidence:
            source = f" ({item.source})" if item.source else ""
            note = f": {item.note}" if item.note else ""
            lines.append(f"{item.confidence} · {item.kind}{source}{note}")
    return "\n".join(lines) or None


def channel_colours(jmap: JourneyMap) -> dict[str, str]:
    """A colour for every channel of the map: the scope's order first, then first use."""
    used = [step.channel for _, step in jmap.all_steps() if step.channel]
    return assign_channel_colours([*jmap.scope.channels, *used])


def channel_pill(channel: str, colours: Mapping[str, str]) -> Pill:
    return Pill("channel", channel, colours.get(channel, OKABE_ITO["black"]))


def opportunity_score(impact: int | None, feasibility: int | None) -> int | None:
    """impact × feasibility (1 … 25), or ``None`` when either is missing."""
    if impact is None or feasibility is None:
        return None
    return impact * feasibility
