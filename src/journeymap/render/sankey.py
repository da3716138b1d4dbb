"""A Sankey of the measured journey by position, drawn as our own SVG.

:func:`layout_sankey` turns the links of an evidenced map (``depth``, ``source``,
``target``, ``customers``: customers going from the step at position ``depth`` to the
one at ``depth + 1``) into numbers: a node per (position, step) and a band per link,
each as tall as its customers. The explicit ``other`` node (steps folded together) is
grey and the ``drop-off`` node (customers who went no further) vermillion, both drawn
below the steps of their column. :func:`draw_sankey` draws the layout;
:func:`render_sankey` does both for an evidenced map.

A node's height is the larger of what flows in and what flows out, so a node whose
customers all go on has its bands fill it exactly on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal
from xml.sax.saxutils import escape

from journeymap.insights.evidence import EvidencedMap, SankeyLink
from journeymap.insights.lane import format_count
from journeymap.render.cards import make_text
from journeymap.render.geometry import Box, RenderError, Text
from journeymap.render.palette import EVIDENCE, INK, MUTED, OKABE_ITO, stage_colour, tint
from journeymap.render.text import FONT_STACK

__all__ = [
    "DROP_OFF",
    "OTHER",
    "SankeyBand",
    "SankeyLayout",
    "SankeyNode",
    "draw_sankey",
    "layout_sankey",
    "render_sankey",
    "shorten_label",
]

DROP_OFF = "drop-off"
"""The target name of customers who went no further."""
OTHER = "other"
"""The name of steps folded together (too small to draw on their own)."""

NODE_W = 14.0
GAP = 10.0
MARGIN = 12.0
LABEL_SIZE = 9.5
COUNT_SIZE = 8.0
LABEL_LINE = 11.5
COUNT_LINE = 10.0
PLOT_H = 320.0
MAX_POSITIONS = 6
"""Positions (columns) drawn; later ones are left out so the columns stay readable."""
LABEL_CHARS = 20
"""A step's name is cut after this many characters (with an ellipsis); the full name is
the node's tooltip (an SVG ``<title>``)."""

NodeKind = Literal["step", "other", "drop-off"]

_WORDS = {
    "en": {OTHER: "other steps", DROP_OFF: "drop-off"},
    "ko": {OTHER: "기타 단계", DROP_OFF: "이탈"},
}


@dataclass(frozen=True)
class SankeyNode:
    """One (position, step) of the Sankey with what flows through it."""

    id: str
    depth: int
    name: str
    kind: NodeKind
    inflow: int
    outflow: int
    box: Box
    label: Text
    colour: str
    full_name: str = ""
    """The name in full (the label may be cut short)."""
    count: Text | None = None
    """The customers through the node, in a smaller line under the label."""

    @property
    def value(self) -> int:
        return max(self.inflow, self.outflow)


@dataclass(frozen=True)
class SankeyBand:
    """One link: where it leaves its source and where it enters its target (px)."""

    source: str
    target: str
    customers: int
    x0: float
    x1: float
    source_top: float
    target_top: float
    thickness: float
    colour: str


@dataclass(frozen=True)
class SankeyLayout:
    """The Sankey as numbers: nodes and bands, and the picture's size."""

    width: float
    height: float
    scale: float
    """Pixels per customer."""
    nodes: tuple[SankeyNode, ...]
    bands: tuple[SankeyBand, ...]

    def node(self, node_id: str) -> SankeyNode:
        return next(n for n in self.nodes if n.id == node_id)


def _kind(name: str) -> NodeKind:
    if name == DROP_OFF:
        return "drop-off"
    if name == OTHER:
        return "other"
    return "step"


def shorten_label(name: str, *, limit: int = LABEL_CHARS) -> str:
    """``name`` cut to at most ``limit`` characters, at a word's end when there is one,
    ending in an ellipsis when cut.

    >>> shorten_label("Reads an online review of the Summit 45 pack")
    'Reads an online…'
    >>> shorten_label("Extraordinarilylongsinglewordname")
    'Extraordinarilylong…'
    """
    if len(name) <= limit:
        return name
    head = name[: limit - 1]
    if name[limit - 1] != " " and " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(" ,.;:·-") + "…"


def _merge(links: Iterable[SankeyLink]) -> dict[tuple[int, str, str], int]:
    """Links summed by (depth, source, target); negative counts are refused."""
    merged: dict[tuple[int, str, str], int] = {}
    for link in links:
        if link.customers < 0 or link.depth < 0:
            raise RenderError(
                f"Sankey link {link.source} → {link.target} at position {link.depth} has "
                f"{link.customers} customers; counts and positions cannot be negative"
            )
        if link.customers == 0:
            continue
        key = (link.depth, link.source, link.target)
        merged[key] = merged.get(key, 0) + link.customers
    return merged


def layout_sankey(
    links: Iterable[SankeyLink],
    *,
    names: Mapping[str, str] | None = None,
    order: Iterable[str] = (),
    colours: Mapping[str, str] | None = None,
    lang: str = "en",
    width: float = 680.0,
    plot_height: float = PLOT_H,
    max_positions: int = MAX_POSITIONS,
) -> SankeyLayout:
    """Place the nodes and bands of ``links`` in a ``width`` px wide picture.

    ``names`` maps step ids to the words shown beside their nodes; ``order`` is the
    map's step order, which orders nodes top to bottom in every column (``other`` and
    ``drop-off`` last); ``colours`` gives a step's node its colour (its stage's). The busiest column fills ``plot_height``; columns are spread
    evenly across ``width``. Only the first ``max_positions`` positions are drawn.
    Labels are cut after :data:`LABEL_CHARS` characters and wrapped to two lines at
    most; the count goes in a smaller line under them.
    """
    merged = {k: n for k, n in _merge(links).items() if k[0] + 1 < max_positions}
    words = _WORDS["ko"] if lang.lower().split("-")[0] == "ko" else _WORDS["en"]
    names = dict(names or {})
    rank = {step: i for i, step in enumerate(order)}
    inflow: dict[tuple[int, str], int] = {}
    outflow: dict[tuple[int, str], int] = {}
    for (depth, source, target), n in merged.items():
        outflow[(depth, source)] = outflow.get((depth, source), 0) + n
        inflow[(depth + 1, target)] = inflow.get((depth + 1, target), 0) + n
    keys = sorted(
        set(inflow) | set(outflow),
        key=lambda k: (k[0], {"step": 0, "other": 1, "drop-off": 2}[_kind(k[1])],
                       rank.get(k[1], len(rank)), k[1]),
    )  # fmt: skip
    if not keys:
        return SankeyLayout(width, 2 * MARGIN, 0.0, (), ())
    depths = max(k[0] for k in keys) + 1
    totals = [
        sum(max(inflow.get(k, 0), outflow.get(k, 0)) for k in keys if k[0] == d)
        for d in range(depths)
    ]
    column_counts = [sum(1 for k in keys if k[0] == d) for d in range(depths)]
    busiest = max(
        (
            t / max(1.0, plot_height - GAP * (c - 1))
            for t, c in zip(totals, column_counts, strict=True)
        ),
        default=1.0,
    )
    scale = 1.0 / busiest if busiest else 0.0
    # Labels sit right of their node: the last column keeps room for its own.
    step_x = (width - 2 * MARGIN - NODE_W) / depths
    label_w = max(60.0, step_x - NODE_W - 10)

    nodes: dict[tuple[int, str], SankeyNode] = {}
    cursor = [MARGIN] * depths
    colours = dict(colours or {})
    for depth, name in keys:
        value = max(inflow.get((depth, name), 0), outflow.get((depth, name), 0))
        x = MARGIN + depth * step_x
        top = cursor[depth]
        h = round(value * scale, 2)
        kind = _kind(name)
        full = words[name] if kind != "step" else names.get(name, name)
        label = make_text(
            shorten_label(full),
            x=x + NODE_W + 4,
            y=top,
            width=label_w,
            size=LABEL_SIZE,
            line_height=LABEL_LINE,
            colour=EVIDENCE if kind == "drop-off" else INK,
        )
        if len(label.lines) > 2:
            # Two lines at most: the second ends in an ellipsis.
            second = label.lines[1].rstrip("…")
            label = replace(label, lines=(label.lines[0], second[:-1].rstrip() + "…"))
        count = make_text(
            format_count(value),
            x=x + NODE_W + 4,
            y=top + label.height,
            width=label_w,
            size=COUNT_SIZE,
            line_height=COUNT_LINE,
            colour=EVIDENCE if kind == "drop-off" else MUTED,
        )
        colour = {
            "drop-off": EVIDENCE,
            "other": "#9E9E9E",
            "step": colours.get(name, OKABE_ITO["blue"]),
        }[kind]
        nodes[(depth, name)] = SankeyNode(
            id=f"{depth}:{name}",
            depth=depth,
            name=name,
            kind=kind,
            inflow=inflow.get((depth, name), 0),
            outflow=outflow.get((depth, name), 0),
            box=Box(round(x, 2), round(top, 2), NODE_W, h),
            label=label,
            colour=colour,
            full_name=full,
            count=count,
        )
        cursor[depth] = top + max(h, label.height + count.height) + GAP

    out_used: dict[tuple[int, str], float] = {}
    in_used: dict[tuple[int, str], float] = {}
    bands: list[SankeyBand] = []
    ordered = sorted(merged.items(), key=lambda kv: (kv[0][0], keys.index((kv[0][0], kv[0][1])),
                                                      keys.index((kv[0][0] + 1, kv[0][2]))))  # fmt: skip
    for (depth, source, target), n in ordered:
        src, dst = nodes[(depth, source)], nodes[(depth + 1, target)]
        thickness = round(n * scale, 2)
        s_top = src.box.y + out_used.get((depth, source), 0.0)
        t_top = dst.box.y + in_used.get((depth + 1, target), 0.0)
        out_used[(depth, source)] = out_used.get((depth, source), 0.0) + thickness
        in_used[(depth + 1, target)] = in_used.get((depth + 1, target), 0.0) + thickness
        colour = tint(EVIDENCE, 0.6) if dst.kind == "drop-off" else tint(src.colour, 0.55)
        bands.append(
            SankeyBand(
                source=src.id,
                target=dst.id,
                customers=n,
                x0=src.box.right,
                x1=dst.box.x,
                source_top=round(s_top, 2),
                target_top=round(t_top, 2),
                thickness=thickness,
                colour=colour,
            )
        )
    height = max(cursor) - GAP + MARGIN
    return SankeyLayout(
        width=width,
        height=round(height, 2),
        scale=scale,
        nodes=tuple(nodes.values()),
        bands=tuple(bands),
    )


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(text: Text) -> str:
    anchor = "" if text.anchor == "start" else f' text-anchor="{text.anchor}"'
    spans = "".join(
        f'<tspan x="{_n(text.x)}" y="{_n(text.baseline(i))}">{escape(line)}</tspan>'
        for i, line in enumerate(text.lines)
    )
    return f'<text font-size="{_n(text.size)}" fill="{text.colour}"{anchor}>{spans}</text>'


def _backing(node: SankeyNode) -> str:
    """A pale card under a node's label and count, so they read over the bands."""
    texts = [node.label] + ([node.count] if node.count is not None else [])
    left = min(t.box.x for t in texts) - 1.5
    right = max(t.box.right for t in texts) + 1.5
    top, bottom = node.label.box.y, max(t.box.bottom for t in texts)
    return (
        f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(right - left)}" '
        f'height="{_n(bottom - top)}" rx="2" fill="#FFFFFF" fill-opacity="0.82"/>'
    )


def draw_sankey(layout: SankeyLayout, *, title: str = "", standalone: bool = True) -> str:
    """The Sankey as one SVG (``standalone=False`` leaves out the namespace, for HTML)."""
    xmlns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    parts = [
        (
            f'<svg{xmlns} class="jm-sankey" width="{_n(layout.width)}" height="{_n(layout.height)}" '
            f'viewBox="0 0 {_n(layout.width)} {_n(layout.height)}" role="img" '
            f"font-family='{FONT_STACK}'>"
        )
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for band in layout.bands:
        mid = (band.x0 + band.x1) / 2
        top0, top1 = band.source_top, band.target_top
        bot0, bot1 = top0 + band.thickness, top1 + band.thickness
        d = (
            f"M{_n(band.x0)},{_n(top0)} C{_n(mid)},{_n(top0)} {_n(mid)},{_n(top1)} "
            f"{_n(band.x1)},{_n(top1)} L{_n(band.x1)},{_n(bot1)} C{_n(mid)},{_n(bot1)} "
            f"{_n(mid)},{_n(bot0)} {_n(band.x0)},{_n(bot0)} Z"
        )
        parts.append(
            f'<path class="jm-band" d="{d}" fill="{band.colour}" fill-opacity="0.75">'
            f"<title>{escape(band.source)} → {escape(band.target)}: "
            f"{format_count(band.customers)}</title></path>"
        )
    for node in layout.nodes:
        box = node.box
        parts.append(
            f'<g class="jm-node jm-node-{node.kind}"><rect x="{_n(box.x)}" y="{_n(box.y)}" '
            f'width="{_n(box.w)}" height="{_n(max(box.h, 1.0))}" fill="{node.colour}" '
            f'stroke="{MUTED if node.kind != "step" else INK}" stroke-width="0.6"/>'
            f"<title>{escape(node.full_name or node.name)} · {format_count(node.value)}</title>"
            f"{_backing(node)}{_text(node.label)}{_text(node.count) if node.count else ''}</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_sankey(
    ev: EvidencedMap, *, lang: str | None = None, width: float = 680.0, standalone: bool = True
) -> str:
    """The Sankey of an evidenced map's links, with its steps' names, as SVG."""
    lang = lang or ev.map.lang
    steps = [step for _, step in ev.map.all_steps()]
    stage_index = {stage.id: i for i, stage in enumerate(ev.map.stages)}
    layout = layout_sankey(
        ev.sankey,
        names={s.id: s.name for s in steps},
        order=[s.id for s in steps],
        colours={
            step.id: stage_colour(stage_index[stage.id]) for stage, step in ev.map.all_steps()
        },
        lang=lang,
        width=width,
    )
    return draw_sankey(layout, title=ev.map.title, standalone=standalone)
