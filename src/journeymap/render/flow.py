"""The flow view: steps as nodes, with forks, side paths, exits and ways back.

Steps keep their journey order from left to right, one column each. A step follows
the one before it unless a fork sits on that step; then the fork's branches are its
ways on. When a fork offers both the next step and a later one, the steps in between
are a side path (comparing elsewhere, a detour) and move one row down, so the main
line jumps straight over them and the side path visibly comes back. A branch with
no target leaves the journey and ends in an exit node; a branch to an earlier step is
a way back, drawn below every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from journeymap.model import Fork, JourneyMap, Step
from journeymap.render.cards import (
    Content,
    Para,
    Pill,
    Pills,
    build_card,
    channel_colours,
    channel_pill,
    confidence_of,
    describe_evidence,
    make_text,
)
from journeymap.render.curves import connect_points
from journeymap.render.geometry import (
    Box,
    Card,
    Cubic,
    Edge,
    Layout,
    Page,
    Region,
    Rule,
    Text,
    move_text,
)
from journeymap.render.header import build_header
from journeymap.render.labels import Labels
from journeymap.render.pages import page_budget, paginate_columns
from journeymap.render.palette import (
    GRID,
    MUTED,
    OKABE_ITO,
    colour_for_emotion,
    colour_for_severity,
    stage_colour,
    tint,
)

__all__ = ["FlowGraph", "layout_flow", "plan_flow"]

MARGIN = 24.0
NODE_W = 180.0
MIN_GAP = 44.0
MAX_LABEL_W = 120.0
ROW_GAP = 48.0
ARC_STEP = 26.0
LABEL_SIZE = 10.5

EdgeKind = Literal["next", "branch", "exit", "back"]


@dataclass(frozen=True)
class FlowNode:
    """A node of the flow: a step, or the exit a branch leads to."""

    id: str
    column: int
    row: int
    step: Step | None = None
    fork: Fork | None = None
    """For an exit node: the fork whose branch leaves here."""
    label: str | None = None
    """For an exit node: the branch's label and share."""
    text: str | None = None


@dataclass(frozen=True)
class FlowEdge:
    """A planned connection between two nodes."""

    id: str
    source: str
    target: str
    kind: EdgeKind
    label: str | None = None


@dataclass(frozen=True)
class FlowGraph:
    """Nodes with their column and row, and the edges between them."""

    nodes: tuple[FlowNode, ...]
    edges: tuple[FlowEdge, ...]
    columns: int
    rows: int = field(default=1)


def _branch_label(label: str, share: float | None) -> str:
    return f"{label} · {share:.0%}" if share is not None else label


def plan_flow(jmap: JourneyMap) -> FlowGraph:
    """Decide the column and row of every node and the edges between them.

    >>> from journeymap.model import JourneyMap
    >>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
    ...     {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"},
    ...      {"id": "b", "name": "B"}, {"id": "c", "name": "C"}]}],
    ...     "forks": [{"id": "f", "at": "a", "question": "?", "branches": [
    ...         {"id": "now", "label": "now", "to": "c"},
    ...         {"id": "later", "label": "later", "to": "b"}]}]})
    >>> [(n.id, n.column, n.row) for n in plan_flow(jmap).nodes]
    [('a', 0, 0), ('b', 1, 1), ('c', 2, 0)]
    """
    steps = [step for _, step in jmap.all_steps()]
    index = {step.id: i for i, step in enumerate(steps)}
    rows = [0] * len(steps)
    forks_at: dict[str, list[Fork]] = {}
    for fork in jmap.forks:
        if fork.at in index:
            forks_at.setdefault(fork.at, []).append(fork)
    edges: list[FlowEdge] = []
    exits: list[tuple[str, int, Fork, str, str]] = []
    for i, step in enumerate(steps):
        forks = forks_at.get(step.id, [])
        if not forks:
            if i + 1 < len(steps):
                edges.append(
                    FlowEdge(f"{step.id}>{steps[i + 1].id}", step.id, steps[i + 1].id, "next")
                )
            continue
        forward = sorted(
            {index[b.to] for f in forks for b in f.branches if b.to in index and index[b.to] > i}
        )
        if i + 1 in forward and len(forward) > 1:
            rejoin = next(t for t in forward if t > i + 1)
            for s in range(i + 1, rejoin):
                rows[s] = max(rows[s], rows[i] + 1)
        for fork in forks:
            for branch in fork.branches:
                label = _branch_label(branch.label, branch.share)
                if branch.to is None or branch.to not in index:
                    exit_id = f"exit:{fork.id}:{branch.id}"
                    column = min(i + 1, len(steps) - 1)
                    exits.append((exit_id, column, fork, label, branch.description or ""))
                    # The exit node names the branch, so its edge needs no label.
                    edges.append(FlowEdge(f"{step.id}>{exit_id}", step.id, exit_id, "exit"))
                else:
                    kind: EdgeKind = "back" if index[branch.to] <= i else "branch"
                    edges.append(FlowEdge(f"{step.id}>{branch.to}:{branch.id}", step.id, branch.to,
                                          kind, label))  # fmt: skip
    nodes = [FlowNode(step.id, i, rows[i], step=step) for i, step in enumerate(steps)]
    used: dict[int, int] = {i: rows[i] for i in range(len(steps))}
    for exit_id, column, fork, label, text in exits:
        row = used[column] + 1
        used[column] = row
        nodes.append(FlowNode(exit_id, column, row, fork=fork, label=label, text=text))
    return FlowGraph(
        nodes=tuple(nodes),
        edges=tuple(edges),
        columns=len(steps),
        rows=max(n.row for n in nodes) + 1,
    )


def _node_content(
    node: FlowNode,
    number: int,
    labels: Labels,
    colours: Mapping[str, str],
    shown: set[str],
    measured: Mapping[str, float],
    questions: Mapping[str, list[str]],
) -> list[Content]:
    if node.step is None:
        content: list[Content] = [
            Para(node.label or labels.leaves, size=12.0, weight="bold"),
            Pills((Pill("exit", labels.leaves, OKABE_ITO["vermillion"]),)),
        ]
        if node.text:
            content.append(Para(node.text, size=11.0, colour=MUTED))
        return content
    step = node.step
    pills = [Pill("number", str(number), "#333333")]
    if step.channel and "touchpoints" in shown:
        pills.append(channel_pill(step.channel, colours))
    content = [Pills(tuple(pills)), Para(step.name, size=12.5, weight="bold")]
    marks: list[Pill] = []
    if "emotion" in shown and step.emotion is not None:
        value = f"+{step.emotion}" if step.emotion > 0 else str(step.emotion)
        marks.append(Pill("emotion", value, colour_for_emotion(step.emotion)))
    if "emotion" in shown and step.id in measured:
        marks.append(
            Pill(
                "measured",
                f"{labels.emotion_measured} {measured[step.id]:+.1f}",
                "#FFFFFF",
                "#000000",
            )
        )
    if "pain_points" in shown and step.pain_points:
        worst = max(p.severity for p in step.pain_points)
        marks.append(Pill("severity", f"{labels.severity} {worst}", colour_for_severity(worst)))
    if marks:
        content.append(Pills(tuple(marks)))
    for question in questions.get(step.id, []):
        content.append(Para(f"{labels.fork}: {question}", size=11.0, italic=True, colour=MUTED))
    return content


def _straight(p0: tuple[float, float], p1: tuple[float, float]) -> tuple[Cubic, ...]:
    return connect_points([p0, p1])


def _s_curve(p0: tuple[float, float], p1: tuple[float, float]) -> tuple[Cubic, ...]:
    mid = (p1[0] - p0[0]) / 2
    return (Cubic(p0, (round(p0[0] + mid, 2), p0[1]), (round(p1[0] - mid, 2), p1[1]), p1),)


def layout_flow(
    jmap: JourneyMap,
    *,
    lanes: Sequence[str] | None,
    measured_emotion: Mapping[str, float] | None,
    labels: Labels,
    as_of: str | None = None,
    measured_label: str | None = None,
) -> Layout:
    """The flow view of ``jmap`` (see :func:`journeymap.render.layout.layout_map`).

    ``as_of`` and ``measured_label`` come from an evidenced map (see
    :func:`journeymap.render.header.build_header`).
    """
    shown = set(lanes) if lanes is not None else {"touchpoints", "emotion", "pain_points"}
    graph = plan_flow(jmap)
    colours = channel_colours(jmap)
    measured = dict(measured_emotion or {})
    questions: dict[str, list[str]] = {}
    for fork in jmap.forks:
        questions.setdefault(fork.at, []).append(fork.question)
    nodes = {n.id: n for n in graph.nodes}
    number = {step.id: i + 1 for i, (_, step) in enumerate(jmap.all_steps())}

    # Label texts first: they decide how wide each gap between columns must be.
    label_texts = {
        e.id: make_text(e.label, x=0, y=0, width=MAX_LABEL_W, size=LABEL_SIZE, line_height=13.5)
        for e in graph.edges
        if e.label
    }
    gaps = [MIN_GAP] * max(graph.columns, 1)
    for edge in graph.edges:
        src, dst = nodes[edge.source], nodes[edge.target]
        if edge.id in label_texts and dst.column > src.column:
            gaps[src.column] = max(gaps[src.column], label_texts[edge.id].width + 20)
    col_x: list[float] = []
    x = MARGIN + 8
    for c in range(graph.columns):
        col_x.append(round(x, 2))
        x += NODE_W + gaps[c]
    body_right = (col_x[-1] + NODE_W + 8) if col_x else MARGIN + NODE_W

    header = build_header(jmap, labels, x=MARGIN, y=MARGIN, width=body_right - MARGIN,
                          colours=colours, measured=bool(measured), view="flow",
                          as_of=as_of, measured_label=measured_label)  # fmt: skip
    width = max(body_right, MARGIN + header.width) + MARGIN
    regions: list[Region] = list(header.regions)
    cards: list[Card] = list(header.cards)
    rules: list[Rule] = list(header.rules)
    body_top = MARGIN + header.height + 24

    # Stage bands over their steps' columns.
    y = body_top
    band_texts = []
    stage_cols: list[tuple[int, int]] = []
    first = 0
    for stage in jmap.stages:
        count = sum(1 for _ in stage.all_steps())
        stage_cols.append((first, first + count - 1))
        first += count
    for si, (stage, (a, b)) in enumerate(zip(jmap.stages, stage_cols, strict=True)):
        x0 = col_x[a] - gaps[a - 1] / 2 + 1 if a else MARGIN
        x1 = col_x[b] + NODE_W + (gaps[b] / 2 - 1 if b + 1 < graph.columns else 8)
        text = make_text(
            stage.name, x=x0 + 10, y=y + 8, width=x1 - x0 - 20, size=14.0, weight="bold"
        )
        band_texts.append((stage, si, x0, x1, text))
    band_h = max(t.height for *_, t in band_texts) + 16
    for stage, si, x0, x1, text in band_texts:
        colour = stage_colour(si)
        regions.append(Region(id=f"stage:{stage.id}", kind="stage",
                              box=Box(round(x0, 2), y, round(x1 - x0, 2), round(band_h, 2)),
                              texts=(text,), fill=tint(colour, 0.8), accent=colour))  # fmt: skip
    y += band_h + 12

    # Skip arcs over occupied slots need levels above the first row.
    occupied = {(n.column, n.row) for n in graph.nodes}
    arcs: list[tuple[FlowEdge, int]] = []
    levels: list[list[tuple[int, int]]] = []
    for edge in graph.edges:
        src, dst = nodes[edge.source], nodes[edge.target]
        skips = dst.column > src.column + 1 and src.row == dst.row
        if skips and any((c, src.row) in occupied for c in range(src.column + 1, dst.column)):
            span = (src.column, dst.column)
            level = next(
                    (i for i, taken in enumerate(levels)
                     if all(span[1] <= a or span[0] >= b for a, b in taken)),
                    len(levels),
                )  # fmt: skip
            if level == len(levels):
                levels.append([])
            levels[level].append(span)
            arcs.append((edge, level))
    arc_band = len(levels) * ARC_STEP + (8 if levels else 0)
    arc_base = y + arc_band
    y = arc_base

    # Nodes: measure, then give every node of a row the row's height.
    def node_card(node: FlowNode, top: float, height: float | None) -> Card:
        content = _node_content(node, number.get(node.id, 0), labels, colours, shown, measured,
                                questions)  # fmt: skip
        if node.step is not None:
            return build_card(id=f"node:{node.id}", kind="node", ref=node.id, x=col_x[node.column],
                              y=top, width=NODE_W, content=content, confidence=node.step.confidence,
                              height=height, column=node.column,
                              tooltip=describe_evidence([node.step]))  # fmt: skip
        assert node.fork is not None
        return build_card(id=f"node:{node.id}", kind="exit", ref=node.fork.id, x=col_x[node.column],
                          y=top, width=NODE_W, content=content, confidence=confidence_of(node.fork),
                          height=height, column=node.column)  # fmt: skip

    row_h = [0.0] * graph.rows
    for node in graph.nodes:
        row_h[node.row] = max(row_h[node.row], node_card(node, 0, None).box.h)
    row_y: list[float] = []
    for r in range(graph.rows):
        row_y.append(round(y, 2))
        y += row_h[r] + ROW_GAP
    node_cards = {n.id: node_card(n, row_y[n.row], row_h[n.row]) for n in graph.nodes}
    cards += node_cards.values()
    rows_bottom = y - ROW_GAP

    # Edges, and a place for each label that hides no node and no other label.
    backs = [e for e in graph.edges if nodes[e.target].column <= nodes[e.source].column]
    back_band = len(backs) * ARC_STEP + (12 + 2 * LABEL_SIZE if backs else 0)
    edges: list[Edge] = []
    placed: list[Box] = [c.box for c in node_cards.values()]
    arc_level = {e.id: level for e, level in arcs}
    for edge in graph.edges:
        s, t = node_cards[edge.source].box, node_cards[edge.target].box
        src, dst = nodes[edge.source], nodes[edge.target]
        anchor: tuple[float, float]
        if edge.id in arc_level:
            ay = round(arc_base - 8 - arc_level[edge.id] * ARC_STEP, 2)
            segments = connect_points([(s.cx, s.y), (s.cx, ay), (t.cx, ay), (t.cx, t.y)])
            anchor = ((s.cx + t.cx) / 2, ay - 2)
            above = True
        elif dst.column <= src.column:
            by = round(rows_bottom + 14 + backs.index(edge) * ARC_STEP, 2)
            segments = connect_points([(s.cx, s.bottom), (s.cx, by), (t.cx, by), (t.cx, t.bottom)])
            anchor = ((s.cx + t.cx) / 2, by + 3)
            above = False
        elif src.row == dst.row:
            segments = _straight((s.right, s.cy), (t.x, t.cy))
            anchor = (s.right + gaps[src.column] / 2, s.cy - 3)
            above = True
        else:
            segments = _s_curve((s.right, s.cy), (t.x, t.cy))
            anchor = (s.right + gaps[src.column] / 2, (s.cy + t.cy) / 2 + 7)
            above = True
        label_card = None
        if edge.id in label_texts:
            label_card = _place_label(edge, label_texts[edge.id], anchor, above, placed)
            placed.append(label_card.box)
        colour, dash = {
            "next": ("#4D4D4D", None),
            "branch": ("#4D4D4D", None),
            "exit": (OKABE_ITO["vermillion"], "6 4"),
            "back": (OKABE_ITO["blue"], "6 4"),
        }[edge.kind]
        edges.append(Edge(id=edge.id, source=edge.source, target=edge.target, kind=edge.kind,
                          segments=segments, label=label_card, colour=colour, dash=dash))  # fmt: skip
    cards += [e.label for e in edges if e.label is not None]
    bottom = rows_bottom + back_band + 8
    for a, _ in stage_cols[1:]:
        sx = col_x[a] - gaps[a - 1] / 2
        rules.append(Rule("separator", sx, body_top, sx, bottom, GRID, 1.0))
    height = bottom + MARGIN
    spans = [
        (col_x[c] - (gaps[c - 1] / 2 if c else 8), col_x[c] + NODE_W + gaps[c] / 2)
        for c in range(graph.columns)
    ]
    groups = [
        next(i for i, (a, b) in enumerate(stage_cols) if a <= c <= b) for c in range(graph.columns)
    ]
    budget = page_budget(
        body_height=bottom - body_top, gutter=0.0, min_width=3 * (NODE_W + MIN_GAP)
    )
    slices = paginate_columns(spans, groups, budget=budget)
    pages = tuple(Page(i, x0, x1, body_top - 8, bottom + 4) for i, (x0, x1) in enumerate(slices))
    return Layout(
        view="flow",
        lang=jmap.lang,
        title=jmap.title,
        width=round(width, 2),
        height=round(height, 2),
        header_height=round(body_top - 12, 2),
        regions=tuple(regions),
        cards=tuple(cards),
        rules=tuple(rules),
        edges=tuple(edges),
        pages=pages,
        lanes=tuple(lane for lane in ("touchpoints", "emotion", "pain_points") if lane in shown),
        steps=tuple(step.id for _, step in jmap.all_steps()),
        stages=tuple(stage.id for stage in jmap.stages),
    )


def _place_label(
    edge: FlowEdge,
    text: Text,
    anchor: tuple[float, float],
    above: bool,
    taken: Sequence[Box],
) -> Card:
    """A label card centred on ``anchor`` horizontally, its bottom (``above``) or top on
    the anchor, moved down in small steps until it covers no node and no other label."""
    w, h = text.width + 8, text.height + 4
    cx, cy = anchor
    top = cy - h if above else cy
    for _ in range(40):
        box = Box(round(cx - w / 2, 2), round(top, 2), round(w, 2), round(h, 2))
        if not any(box.overlaps(other) for other in taken):
            break
        top += 6
    placed = move_text(text, box.x + 4 - text.x, box.y + 2 - text.y)
    return Card(
        id=f"label:{edge.id}",
        kind="label",
        ref=edge.id,
        box=box,
        texts=(placed,),
        fill="#FFFFFF",
        stroke="none",
    )
