"""The shapes a map picture is made of, as plain frozen data.

Every view (:mod:`~journeymap.render.matrix`, :mod:`~journeymap.render.timeline`,
:mod:`~journeymap.render.flow`) produces a :class:`Layout` of these; the SVG renderer
draws them and tests check them (no overlaps, text inside its box) without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from journeymap.errors import JourneyError
from journeymap.model import Confidence
from journeymap.render.palette import INK

__all__ = [
    "ASCENT",
    "DESCENT",
    "LANES",
    "VIEWS",
    "Badge",
    "Box",
    "Card",
    "Cubic",
    "Curve",
    "CurvePoint",
    "Edge",
    "Layout",
    "Mark",
    "Page",
    "Point",
    "Region",
    "RenderError",
    "Rule",
    "Text",
    "View",
    "move_box",
    "move_card",
    "move_text",
]

View = Literal["matrix", "timeline", "flow"]
VIEWS: tuple[View, ...] = ("matrix", "timeline", "flow")

LANES: tuple[str, ...] = (
    "touchpoints",
    "actions",
    "thoughts",
    "emotion",
    "pain_points",
    "desired",
    "opportunities",
    "backstage",
    "metrics",
)
"""Lane ids of the matrix view, top to bottom by default."""


class RenderError(JourneyError, ValueError):
    """A picture cannot be drawn as asked (unknown view or lane, bad measured data)."""


# Font metrics of NanumGothic (hhea): the glyph box of a line is 1.15 em tall,
# 0.92 em of it above the baseline.
ASCENT = 0.92
DESCENT = 0.23


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle: top-left corner, width and height in px."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def contains(self, other: Box, *, slack: float = 0.01) -> bool:
        """Whether ``other`` lies inside this box (edges may touch)."""
        return (
            other.x >= self.x - slack
            and other.y >= self.y - slack
            and other.right <= self.right + slack
            and other.bottom <= self.bottom + slack
        )

    def contains_point(self, x: float, y: float, *, slack: float = 0.01) -> bool:
        return (
            self.x - slack <= x <= self.right + slack and self.y - slack <= y <= self.bottom + slack
        )

    def overlaps(self, other: Box) -> bool:
        """Whether the two boxes share interior area (touching edges do not count)."""
        return (
            self.x < other.right - 0.01
            and other.x < self.right - 0.01
            and self.y < other.bottom - 0.01
            and other.y < self.bottom - 0.01
        )


@dataclass(frozen=True)
class Text:
    """Lines of text: ``x`` is the anchor, ``y`` the top of the first line box."""

    lines: tuple[str, ...]
    x: float
    y: float
    size: float
    line_height: float
    width: float
    """The widest line as measured for NanumGothic."""
    weight: Literal["normal", "bold"] = "normal"
    anchor: Literal["start", "middle", "end"] = "start"
    colour: str = INK
    italic: bool = False

    @property
    def height(self) -> float:
        return len(self.lines) * self.line_height

    @property
    def box(self) -> Box:
        """The area the text covers, glyph ascent and descent included."""
        left = {"start": self.x, "middle": self.x - self.width / 2, "end": self.x - self.width}
        return Box(left[self.anchor], self.y, self.width, self.height)

    def baseline(self, index: int) -> float:
        """The baseline of line ``index``: the glyph box is centred in its line box."""
        top = self.y + index * self.line_height
        return round(
            top + (self.line_height - (ASCENT + DESCENT) * self.size) / 2 + ASCENT * self.size, 2
        )


@dataclass(frozen=True)
class Mark:
    """A small shape: severity squares, milestone diamonds, legend samples."""

    shape: Literal["square", "circle", "diamond"]
    box: Box
    fill: str
    stroke: str = INK


@dataclass(frozen=True)
class Badge:
    """A pill with a short label: a channel, a score, a status, an owner."""

    kind: str
    box: Box
    label: Text
    fill: str
    stroke: str | None = None


@dataclass(frozen=True)
class Card:
    """A box of content on the map, with the confidence of the evidence behind it.

    ``kind`` is one of: step, touchpoint, action, thought, feeling, pain, desired,
    opportunity, backstage, owner, metric (matrix); node, exit, label (flow); bar
    (timeline); legend (header samples). ``ref`` is the id of the map part it shows.
    """

    id: str
    kind: str
    ref: str
    box: Box
    texts: tuple[Text, ...] = ()
    badges: tuple[Badge, ...] = ()
    marks: tuple[Mark, ...] = ()
    confidence: Confidence | None = None
    fill: str = "#FFFFFF"
    stroke: str = INK
    glyph: Box | None = None
    """Where the confidence glyph sits (filled, half or hollow circle)."""
    lane: str | None = None
    column: int | None = None
    tooltip: str | None = None


@dataclass(frozen=True)
class Region:
    """A labelled area: header panel, stage band, lane row, axis tick, gutter label."""

    id: str
    kind: str
    box: Box
    texts: tuple[Text, ...] = ()
    fill: str | None = None
    stroke: str | None = None
    accent: str | None = None
    """A colour bar along the top edge (stage bands)."""
    badges: tuple[Badge, ...] = ()
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A straight line: grid lines, separators, the time axis."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float
    colour: str = "#BDBDBD"
    width: float = 1.0
    dash: str | None = None


Point = tuple[float, float]


@dataclass(frozen=True)
class Cubic:
    """One cubic Bézier segment; a straight piece has its control points on the line."""

    p0: Point
    c1: Point
    c2: Point
    p1: Point

    @property
    def points(self) -> tuple[Point, Point, Point, Point]:
        return (self.p0, self.c1, self.c2, self.p1)


@dataclass(frozen=True)
class CurvePoint:
    """One step on an emotion curve."""

    step_id: str
    x: float
    y: float
    value: float


@dataclass(frozen=True)
class Curve:
    """An emotion curve (``declared`` or ``measured``) inside its lane."""

    id: str
    kind: Literal["declared", "measured"]
    lane: Box
    points: tuple[CurvePoint, ...]
    segments: tuple[Cubic, ...]
    colour: str
    dash: str | None = None


@dataclass(frozen=True)
class Edge:
    """A connection of the flow view: next step, fork branch, exit or way back."""

    id: str
    source: str
    target: str
    kind: Literal["next", "branch", "exit", "back"]
    segments: tuple[Cubic, ...]
    label: Card | None = None
    colour: str = "#4D4D4D"
    dash: str | None = None


@dataclass(frozen=True)
class Page:
    """A printed page: a slice of the body, with the gutters repeated beside it."""

    index: int
    x0: float
    x1: float
    y0: float
    y1: float


@dataclass(frozen=True)
class Layout:
    """Everything a renderer needs to draw one view of a map."""

    view: View
    lang: str
    title: str
    width: float
    height: float
    header_height: float
    """The header (title, scope, persona, legend) spans ``0 … header_height``."""
    regions: tuple[Region, ...]
    cards: tuple[Card, ...]
    rules: tuple[Rule, ...] = ()
    curves: tuple[Curve, ...] = ()
    edges: tuple[Edge, ...] = ()
    pages: tuple[Page, ...] = ()
    gutter: float = 0.0
    """Width of the left column (lane labels) that every page repeats; 0 for none."""
    top_gutter: tuple[float, float] | None = None
    """The y-range (an axis) that every page repeats above its slice, if any."""
    lanes: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """Things the reader should know about this picture (e.g. no time data)."""

    def cards_of(self, kind: str) -> tuple[Card, ...]:
        return tuple(c for c in self.cards if c.kind == kind)


def move_text(text: Text, dx: float, dy: float) -> Text:
    """``text`` shifted by (dx, dy)."""
    return replace(text, x=round(text.x + dx, 2), y=round(text.y + dy, 2))


def move_box(box: Box, dx: float, dy: float) -> Box:
    """``box`` shifted by (dx, dy)."""
    return replace(box, x=round(box.x + dx, 2), y=round(box.y + dy, 2))


def move_card(card: Card, dx: float, dy: float) -> Card:
    """``card`` and everything in it shifted by (dx, dy)."""
    return replace(
        card,
        box=move_box(card.box, dx, dy),
        texts=tuple(move_text(t, dx, dy) for t in card.texts),
        badges=tuple(
            replace(b, box=move_box(b.box, dx, dy), label=move_text(b.label, dx, dy))
            for b in card.badges
        ),
        marks=tuple(replace(m, box=move_box(m.box, dx, dy)) for m in card.marks),
        glyph=move_box(card.glyph, dx, dy) if card.glyph is not None else None,
    )
