"""Draw a map as SVG: the layout's boxes, text, curves and edges, nothing fetched.

The SVG is self-contained (no external fonts, images or links) and names its fonts:
every text uses the stack ``"NanumGothic", "Noto Sans CJK KR", sans-serif``, so Korean
renders wherever NanumGothic is installed. Cards carry their evidence confidence as a
class (``conf-observed``, ``conf-reported``, ``conf-assumed``), a border style and a
glyph; the evidence notes appear as a tooltip.

>>> from journeymap.model import JourneyMap
>>> jmap = JourneyMap.model_validate({"id": "j", "title": "고객 여정", "lang": "ko",
...     "stages": [{"id": "s", "name": "탐색", "steps": [{"id": "a", "name": "검색"}]}]})
>>> svg = render_svg(jmap)
>>> svg.startswith("<svg") and "탐색" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from journeymap.insights.evidence import EvidencedMap
from journeymap.model import JourneyMap
from journeymap.render.geometry import (
    Badge,
    Box,
    Card,
    Cubic,
    Curve,
    Edge,
    Layout,
    Mark,
    Page,
    Region,
    RenderError,
    Rule,
    Text,
)
from journeymap.render.labels import labels_for
from journeymap.render.layout import layout_map
from journeymap.render.palette import CONFIDENCE_STYLES, INK, colour_for_emotion
from journeymap.render.text import FONT_STACK, measure_text

__all__ = [
    "SVG_NAMESPACE",
    "PageExtent",
    "draw_layout",
    "draw_page",
    "measure_page",
    "render_svg",
    "svg_document",
]

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
"""The namespace name of SVG: an identifier that nothing ever fetches."""

_STYLE = f"""
svg.jm-map, svg.jm-map text {{ font-family: {FONT_STACK}; }}
svg.jm-map text {{ white-space: pre; }}
.jm-card .jm-frame {{ vector-effect: non-scaling-stroke; }}
"""


def _n(value: float) -> str:
    """A number as short SVG text: 12.5, 3, -0.25."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _attrs(**values: object) -> str:
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        shown = (
            _n(value)
            if isinstance(value, float | int) and not isinstance(value, bool)
            else str(value)
        )
        parts.append(f"{name}={quoteattr(shown)}")
    return " ".join(parts)


def _text(text: Text, *, cls: str = "jm-text") -> str:
    if not text.lines or not any(text.lines):
        return ""
    spans = "".join(
        f"<tspan {_attrs(x=text.x, y=text.baseline(i))}>{escape(line)}</tspan>"
        for i, line in enumerate(text.lines)
    )
    attrs = _attrs(
        class_=cls,
        font_size=text.size,
        font_weight="bold" if text.weight == "bold" else None,
        font_style="italic" if text.italic else None,
        fill=text.colour,
        text_anchor=None if text.anchor == "start" else text.anchor,
    )
    return f"<text {attrs}>{spans}</text>"


def _rect(box: Box, **extra: object) -> str:
    return f"<rect {_attrs(x=box.x, y=box.y, width=box.w, height=box.h, **extra)}/>"


def _badge(badge: Badge) -> str:
    frame = _rect(
        badge.box,
        rx=badge.box.h / 2,
        fill=badge.fill,
        stroke=badge.stroke,
        stroke_width=1.0 if badge.stroke else None,
    )
    return f'<g class="jm-badge jm-badge-{badge.kind}">{frame}{_text(badge.label)}</g>'


def _mark(mark: Mark) -> str:
    box = mark.box
    if mark.shape == "circle":
        return f"<circle {_attrs(cx=box.cx, cy=box.cy, r=box.w / 2, fill=mark.fill, stroke=mark.stroke)}/>"
    if mark.shape == "diamond":
        points = f"{_n(box.cx)},{_n(box.y)} {_n(box.right)},{_n(box.cy)} {_n(box.cx)},{_n(box.bottom)} {_n(box.x)},{_n(box.cy)}"
        return f"<polygon {_attrs(points=points, fill=mark.fill, stroke=mark.stroke)}/>"
    return _rect(box, rx=1.5, fill=mark.fill, stroke=mark.stroke, stroke_width=1.0)


def _glyph(box: Box, confidence: str) -> str:
    """Filled (observed), half-filled (reported) or hollow (assumed) circle."""
    r = box.w / 2
    cx, cy = box.cx, box.cy
    ring = (
        f"<circle {_attrs(cx=cx, cy=cy, r=r - 0.6, fill='#FFFFFF', stroke=INK, stroke_width=1.2)}/>"
    )
    if confidence == "observed":
        return f'<g class="jm-glyph"><circle {_attrs(cx=cx, cy=cy, r=r, fill=INK)}/></g>'
    if confidence == "reported":
        half = f"M{_n(cx)},{_n(cy - r + 0.6)} A{_n(r - 0.6)},{_n(r - 0.6)} 0 0 1 {_n(cx)},{_n(cy + r - 0.6)} Z"
        return f'<g class="jm-glyph">{ring}<path {_attrs(d=half, fill=INK)}/></g>'
    return f'<g class="jm-glyph">{ring}</g>'


def _card(card: Card) -> str:
    classes = ["jm-card", "jm-box", f"jm-kind-{card.kind}"]
    dash = None
    width = 1.2
    if card.confidence is not None:
        classes.append(f"conf-{card.confidence}")
        style = CONFIDENCE_STYLES[card.confidence]
        dash, width = style.dash, style.width
    parts = [f'<g class="{" ".join(classes)}" {_attrs(data_id=card.id, data_ref=card.ref)}>']
    if card.tooltip:
        parts.append(f"<title>{escape(card.tooltip)}</title>")
    parts.append(
        _rect(
            card.box,
            class_="jm-frame",
            rx=3.0 if card.kind == "bar" else 6.0,
            fill=card.fill,
            stroke=card.stroke,
            stroke_width=width if card.stroke != "none" else None,
            stroke_dasharray=dash,
            stroke_linecap="round" if dash else None,
        )
    )
    if card.glyph is not None and card.confidence is not None:
        parts.append(_glyph(card.glyph, card.confidence))
    parts += [_mark(m) for m in card.marks]
    parts += [_badge(b) for b in card.badges]
    parts += [_text(t) for t in card.texts]
    parts.append("</g>")
    return "".join(parts)


def _region(region: Region) -> str:
    parts = [f'<g class="jm-region jm-box jm-kind-{region.kind}" {_attrs(data_id=region.id)}>']
    parts.append(
        _rect(
            region.box,
            class_="jm-frame",
            rx=6.0 if region.kind in ("panel", "stage", "substage") else None,
            fill=region.fill or "none",
            stroke=region.stroke or "none",
            stroke_width=1.0 if region.stroke else None,
        )
    )
    if region.accent:
        parts.append(_rect(Box(region.box.x, region.box.y, region.box.w, 4.0), fill=region.accent))
    parts += [_mark(m) for m in region.marks]
    parts += [_badge(b) for b in region.badges]
    parts += [_text(t) for t in region.texts]
    parts.append("</g>")
    return "".join(parts)


def _rule(rule: Rule) -> str:
    return "<line {}/>".format(
        _attrs(
            class_=f"jm-rule jm-rule-{rule.kind}",
            x1=rule.x0,
            y1=rule.y0,
            x2=rule.x1,
            y2=rule.y1,
            stroke=rule.colour,
            stroke_width=rule.width,
            stroke_dasharray=rule.dash,
        )
    )


def _path(segments: Iterable[Cubic]) -> str:
    parts: list[str] = []
    for i, seg in enumerate(segments):
        if i == 0:
            parts.append(f"M{_n(seg.p0[0])},{_n(seg.p0[1])}")
        parts.append("C" + " ".join(f"{_n(x)},{_n(y)}" for x, y in (seg.c1, seg.c2, seg.p1)))
    return " ".join(parts)


def _curve(curve: Curve) -> str:
    parts = [f'<g class="jm-curve jm-curve-{curve.kind}" {_attrs(data_id=curve.id)}>']
    if curve.segments:
        parts.append(
            "<path {}/>".format(
                _attrs(
                    d=_path(curve.segments),
                    fill="none",
                    stroke=curve.colour,
                    stroke_width=2.5,
                    stroke_dasharray=curve.dash,
                    stroke_linecap="round",
                )
            )
        )
    for point in curve.points:
        title = f"<title>{escape(point.step_id)}: {_n(point.value)}</title>"
        if curve.kind == "measured":
            box = Box(point.x - 4.5, point.y - 4.5, 9.0, 9.0)
            parts.append(
                f"<g>{title}{_rect(box, fill='#FFFFFF', stroke=curve.colour, stroke_width=2.0)}</g>"
            )
        else:
            attrs = _attrs(cx=point.x, cy=point.y, r=6.0, fill=colour_for_emotion(point.value),
                           stroke="#FFFFFF", stroke_width=2.0)  # fmt: skip
            parts.append(f"<g>{title}<circle {attrs}/></g>")
    parts.append("</g>")
    return "".join(parts)


def _arrowhead(seg: Cubic, colour: str) -> str:
    (x1, y1) = seg.p1
    fx, fy = seg.c2 if seg.c2 != seg.p1 else seg.p0
    angle = math.atan2(y1 - fy, x1 - fx)
    size = 8.0
    left = (x1 - size * math.cos(angle - 0.45), y1 - size * math.sin(angle - 0.45))
    right = (x1 - size * math.cos(angle + 0.45), y1 - size * math.sin(angle + 0.45))
    points = " ".join(f"{_n(x)},{_n(y)}" for x, y in ((x1, y1), left, right))
    return f"<polygon {_attrs(points=points, fill=colour)}/>"


def _edge(edge: Edge) -> str:
    if not edge.segments:
        return ""
    path = _attrs(
        d=_path(edge.segments),
        fill="none",
        stroke=edge.colour,
        stroke_width=1.8,
        stroke_dasharray=edge.dash,
    )
    return (
        f'<g class="jm-edge jm-edge-{edge.kind}" {_attrs(data_id=edge.id)}>'
        f"<path {path}/>{_arrowhead(edge.segments[-1], edge.colour)}</g>"
    )


def _touches(a: Box, b: Box) -> bool:
    """Whether two boxes share any point (edges included; lines are boxes of width 0)."""
    return a.x <= b.right and b.x <= a.right and a.y <= b.bottom and b.y <= a.bottom


def _bounds(points: Iterable[tuple[float, float]], pad: float) -> Box:
    xs, ys = zip(*points, strict=True)
    return Box(
        min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad
    )


def draw_layout(layout: Layout, *, within: Box | None = None) -> str:
    """The drawing of ``layout`` as SVG elements (no ``<svg>`` wrapper).

    With ``within``, only what reaches into that box is drawn: a printed page holds
    its own slice and nothing hidden behind a clip (hidden text would still be found
    by search and copy in a PDF).
    """

    def keep(box: Box) -> bool:
        return within is None or _touches(box, within)

    labels = {id(e.label) for e in layout.edges if e.label is not None}
    parts: list[str] = [_region(r) for r in layout.regions if keep(r.box)]
    parts += [
        _rule(r)
        for r in layout.rules
        if keep(Box(min(r.x0, r.x1), min(r.y0, r.y1), abs(r.x1 - r.x0), abs(r.y1 - r.y0)))
    ]
    parts += [
        _edge(e)
        for e in layout.edges
        if e.segments and keep(_bounds((p for s in e.segments for p in s.points), 8.0))
    ]
    parts += [_card(c) for c in layout.cards if id(c) not in labels and keep(c.box)]
    parts += [
        _curve(c) for c in layout.curves if keep(_bounds([(p.x, p.y) for p in c.points], 6.0))
    ]
    parts += [_card(e.label) for e in layout.edges if e.label is not None and keep(e.label.box)]
    return "".join(parts)


def _open(
    width: float,
    height: float,
    layout: Layout,
    *,
    extra_class: str = "",
    display: tuple[float, float] | None = None,
    standalone: bool = True,
) -> str:
    shown_w, shown_h = display if display is not None else (width, height)
    attrs = _attrs(
        # A file needs the SVG namespace; SVG inside an HTML page does not, and a page
        # then holds no address at all.
        xmlns=SVG_NAMESPACE if standalone else None,
        width=shown_w,
        height=shown_h,
        viewBox=f"0 0 {_n(width)} {_n(height)}",
        role="img",
        class_=f"jm-map jm-view-{layout.view}{extra_class}",
        lang=layout.lang,
    )
    return (
        f"<svg {attrs} font-family='{FONT_STACK}'>"
        f"<title>{escape(layout.title)}</title><style>{_STYLE}</style>"
    )


@dataclass(frozen=True)
class PageExtent:
    """The size of a printed page's drawing and where its parts go."""

    width: float
    height: float
    gutter: float
    """Width of the repeated left gutter; 0 when the page starts at the gutter anyway."""
    header: float
    """Height of the header (first page only)."""
    axis: float
    """Height of the repeated top gutter (the time axis); 0 when not repeated."""


def measure_page(layout: Layout, page: Page) -> PageExtent:
    """How big page ``page`` of ``layout`` is drawn, in layout px."""
    # Every slice of the body gets the lane labels beside it, the first one included.
    gutter = layout.gutter if layout.gutter and page.x0 >= layout.gutter - 1 else 0.0
    header = layout.header_height if page.index == 0 else 0.0
    axis = 0.0
    if layout.top_gutter is not None and page.y0 > layout.top_gutter[1] - 1:
        axis = layout.top_gutter[1] - layout.top_gutter[0]
    width = gutter + page.x1 - page.x0
    if page.index == 0:
        width = max(width, min(layout.width, _header_right(layout)))
    return PageExtent(
        width=round(width, 2),
        height=round(header + axis + page.y1 - page.y0, 2),
        gutter=gutter,
        header=header,
        axis=axis,
    )


def draw_page(
    layout: Layout,
    page: Page,
    *,
    prefix: str = "jm",
    display: tuple[float, float] | None = None,
    standalone: bool = True,
) -> str:
    """One printed page of ``layout``: the header on the first page, then the page's
    slice of the body with the left gutter (lane labels) and top gutter (time axis)
    repeated beside and above it.

    ``prefix`` keeps clip-path ids unique when several pages share one document;
    ``display`` sets the width and height the page is shown at (the drawing scales);
    ``standalone=False`` leaves out the namespace, for SVG inside an HTML page.
    """
    extent = measure_page(layout, page)
    width, height = extent.width, extent.height
    parts = [
        _open(width, height, layout, extra_class=" jm-page", display=display, standalone=standalone)
    ]
    parts.append(_rect(Box(0, 0, width, height), fill="#FFFFFF"))

    def clip(name: str, source: Box, dx: float, dy: float) -> None:
        """Draw the part of the layout inside ``source``, moved by (dx, dy)."""
        shown = Box(source.x + dx, source.y + dy, source.w, source.h)
        parts.append(
            f'<clipPath id="{prefix}-{name}">{_rect(shown)}</clipPath>'
            f'<g clip-path="url(#{prefix}-{name})"><g transform="translate({_n(dx)},{_n(dy)})">'
            f"{draw_layout(layout, within=source)}</g></g>"
        )

    if extent.header:
        clip("head", Box(0, 0, width, extent.header), 0.0, 0.0)
    if extent.axis:
        assert layout.top_gutter is not None
        y0, y1 = layout.top_gutter
        clip("axis", Box(0, y0, width, y1 - y0), 0.0, extent.header - y0)
    top = extent.header + extent.axis
    slice_h = page.y1 - page.y0
    clip("body", Box(page.x0, page.y0, page.x1 - page.x0, slice_h), extent.gutter - page.x0,
         top - page.y0)  # fmt: skip
    if extent.gutter:
        clip("gutter", Box(0, page.y0, extent.gutter, slice_h), 0.0, top - page.y0)
    parts += [_text(t) for t in _continued_stages(layout, page, dx=extent.gutter - page.x0,
                                                  dy=top - page.y0)]  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _continued_stages(layout: Layout, page: Page, *, dx: float, dy: float) -> list[Text]:
    """The names of stages that began on an earlier page, at this page's left edge."""
    continued = labels_for(layout.lang).continued
    names: list[Text] = []
    for region in layout.regions:
        box = region.box
        if region.kind != "stage" or not region.texts or not page.y0 <= box.y <= page.y1:
            continue
        if not box.x < page.x0 - 1 < box.right - 40:
            continue
        first = region.texts[0]
        room = min(box.right, page.x1) - page.x0 - 20
        name, suffix = " ".join(first.lines), f" {continued}"
        words = name + suffix
        while len(name) > 1 and measure_text(words, size=first.size) > room:
            name = name[:-1]
            words = f"{name.rstrip()}…{suffix}"
        names.append(
            Text(
                lines=(words,),
                x=round(page.x0 + 10 + dx, 2),
                y=round(first.y + dy, 2),
                size=first.size,
                line_height=first.line_height,
                width=measure_text(words, size=first.size),
                weight=first.weight,
                colour=first.colour,
            )
        )
    return names


def _header_right(layout: Layout) -> float:
    right = 0.0
    for region in layout.regions:
        if region.box.bottom <= layout.header_height + 0.5:
            right = max(right, region.box.right)
    return right + 24


def render_svg(
    jmap: JourneyMap,
    *,
    view: str = "matrix",
    lanes: Iterable[str] | None = None,
    metrics: Mapping[str, Mapping[str, str]] | None = None,
    measured_emotion: Mapping[str, float] | None = None,
    evidence: EvidencedMap | None = None,
    page: int | None = None,
) -> str:
    """The map drawn as one SVG document (a string; the caller writes it).

    ``view``, ``lanes``, ``metrics``, ``measured_emotion`` and ``evidence`` are those of
    :func:`journeymap.render.layout.layout_map`. With ``page``, only that printed
    page (0-based) of a long map is drawn.
    """
    layout = layout_map(
        jmap,
        view=view,
        lanes=lanes,
        metrics=metrics,
        measured_emotion=measured_emotion,
        evidence=evidence,
    )
    if page is not None:
        if not 0 <= page < len(layout.pages):
            raise RenderError(
                f"page {page} does not exist; this picture has {len(layout.pages)} pages "
                f"(0 … {len(layout.pages) - 1})"
            )
        return draw_page(layout, layout.pages[page])
    return svg_document(layout)


def svg_document(layout: Layout, *, standalone: bool = True) -> str:
    """The whole of ``layout`` as one SVG document (``standalone=False``: for HTML)."""
    body = draw_layout(layout)
    return (
        _open(layout.width, layout.height, layout, standalone=standalone)
        + _rect(Box(0, 0, layout.width, layout.height), fill="#FFFFFF")
        + body
        + "</svg>"
    )
