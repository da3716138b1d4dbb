"""The evidenced map picture and the Sankey, checked as numbers (no browser).

The evidence comes from tests/evidence_fixtures.py (hand-built for
examples/backpack.yaml and examples/korean-ecommerce.yaml). With it, every view keeps
its promises (no overlap, text inside its box), the measured lane says "no data" where
there is none, pain points found in the data are marked observed or confirm a declared
one, and the header carries the as-of line.
"""

from __future__ import annotations

import functools
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace

import pytest

from evidence_fixtures import backpack_evidence, korean_evidence
from journeymap.insights.evidence import EvidencedMap, SankeyLink
from journeymap.model import JourneyMap
from journeymap.render import VIEWS, RenderError, layout_map, render_html, render_svg
from journeymap.render.geometry import Box, Layout
from journeymap.render.palette import EVIDENCE
from journeymap.render.sankey import layout_sankey, render_sankey

FIXTURES: dict[str, Callable[[], EvidencedMap]] = {
    "backpack": backpack_evidence,
    "korean": korean_evidence,
}


@functools.cache
def _evidence(name: str) -> EvidencedMap:
    return FIXTURES[name]()


@functools.cache
def _layout(name: str, view: str) -> Layout:
    ev = _evidence(name)
    return layout_map(ev.map, view=view, evidence=ev)


def _words(layout: Layout) -> list[str]:
    texts = [t for r in layout.regions for t in r.texts] + [
        t for c in layout.cards for t in c.texts
    ]
    return [" ".join(t.lines) for t in texts]


# --- geometry with evidence, every view ----------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", FIXTURES)
def test_no_two_cards_overlap_with_evidence(name: str, view: str) -> None:
    cards = _layout(name, view).cards
    assert [
        (a.id, b.id) for a, b in itertools.combinations(cards, 2) if a.box.overlaps(b.box)
    ] == []


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", FIXTURES)
def test_text_stays_inside_its_box_with_evidence(name: str, view: str) -> None:
    layout = _layout(name, view)
    outside: list[str] = []
    for card in layout.cards:
        outside += [f"{card.id}: {t.lines}" for t in card.texts if not card.box.contains(t.box)]
        outside += [
            f"{card.id}: badge {b.label.lines}"
            for b in card.badges
            if not card.box.contains(b.box) or not b.box.contains(b.label.box)
        ]
        outside += [f"{card.id}: mark" for m in card.marks if not card.box.contains(m.box)]
    for region in layout.regions:
        outside += [
            f"{region.id}: {t.lines}" for t in region.texts if not region.box.contains(t.box)
        ]
    picture = Box(0, 0, layout.width, layout.height)
    outside += [c.id for c in layout.cards if not picture.contains(c.box)]
    assert outside == []


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("backpack", "as of 2026-11-20 · data 2026-09-01–2026-10-31 · 6,480 customers"),
        ("korean", "2026-11-20 기준 · 데이터 2026-10-01–2026-10-31 · 고객 13,250명"),
    ],
)
def test_the_header_says_as_of_when_and_how_many_customers(name: str, line: str, view: str) -> None:
    layout = _layout(name, view)
    title = next(r for r in layout.regions if r.id == "header:title")
    assert line in [" ".join(t.lines) for t in title.texts]


@pytest.mark.parametrize("view", ["matrix", "timeline"])
@pytest.mark.parametrize("name", FIXTURES)
def test_measured_curve_is_drawn_beside_the_declared_one(name: str, view: str) -> None:
    ev = _evidence(name)
    layout = _layout(name, view)
    curves = {c.kind: c for c in layout.curves}
    assert set(curves) == {"declared", "measured"}
    measured = {
        s.step_id: s.measured_emotion for s in ev.snapshot.steps if s.measured_emotion is not None
    }
    assert {p.step_id: p.value for p in curves["measured"].points} == measured
    assert curves["measured"].dash and not curves["declared"].dash
    assert curves["measured"].colour != curves["declared"].colour
    for point in curves["measured"].points:
        assert curves["measured"].lane.contains_point(point.x, point.y)


@pytest.mark.parametrize("view", VIEWS)
def test_legend_names_the_measured_curve_with_its_responses(view: str) -> None:
    # Responses behind the measured steps: 90 + 48 + 120 + 64 + 84 + 60 = 466.
    legend = next(r for r in _layout("backpack", view).regions if r.id == "header:legend")
    words = [" ".join(t.lines) for t in legend.texts]
    if view == "flow":
        # The flow view has no curve; its nodes carry the measured emotion instead.
        badges = [b.label.lines[0] for c in _layout("backpack", view).cards for b in c.badges]
        assert "measured emotion -1.6" in badges
    else:
        assert "measured (466 responses)" in words


# --- the measured lane -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "no_data", "word"),
    [
        ("backpack", {"gets-return-instructions", "greeted-in-store"}, "no data"),
        ("korean", {"filter-reminder"}, "데이터 없음"),
    ],
)
def test_steps_without_data_say_no_data_and_the_others_show_their_reach(
    name: str, no_data: set[str], word: str
) -> None:
    ev = _evidence(name)
    layout = _layout(name, "matrix")
    lane = {c.ref: c for c in layout.cards if c.lane == "metrics"}
    assert set(lane) == {s.id for _, s in ev.map.all_steps()}
    assert {ref for ref, c in lane.items() if c.kind == "nodata"} == no_data
    for ref in no_data:
        assert [line for t in lane[ref].texts for line in t.lines] == [word]
    for step in ev.snapshot.steps:
        lines = [line for t in lane[step.step_id].texts for line in t.lines]
        assert f"{step.reach:,}" in lines
        assert lane[step.step_id].kind == "metric"


def test_conversion_in_the_lane_carries_its_interval() -> None:
    # visits-site: 2,860 of 5,044 decided = 56.7%, Wilson 95% interval 55.3%–58.1%.
    card = next(c for c in _layout("backpack", "matrix").cards if c.id == "metric:visits-site")
    lines = [line for t in card.texts for line in t.lines]
    assert "57% (55–58)" in lines


# --- pain points found in the data -----------------------------------------------------


def test_observed_pain_points_are_cards_with_the_observed_badge_in_their_column() -> None:
    layout = _layout("backpack", "matrix")
    observed = {c.ref: c for c in layout.cards_of("observed")}
    # The slow queue and the wrong-item satisfaction confirm declared pain points; the
    # other three are new. The segment outlier has a stage only: first step of Purchase.
    assert set(observed) == {
        "drop-off:sees-coupon-ad",
        "support:guest-checkout",
        "outlier:purchase:US-WY",
    }
    heads = {c.ref: c.column for c in layout.cards_of("step")}
    where = {
        "drop-off:sees-coupon-ad": "sees-coupon-ad",
        "support:guest-checkout": "guest-checkout",
        "outlier:purchase:US-WY": "sees-coupon-ad",
    }
    for ref, card in observed.items():
        assert card.lane == "pain_points"
        assert card.column == heads[where[ref]]
        assert card.confidence == "observed"
        assert card.stroke == EVIDENCE
        assert [(b.kind, b.label.lines) for b in card.badges] == [("observed", ("observed",))]
    words = [line for t in observed["drop-off:sees-coupon-ad"].texts for line in t.lines]
    assert "1,240 customers affected" in words


def test_a_confirming_pain_point_is_a_badge_on_the_declared_card_not_a_second_card() -> None:
    layout = _layout("backpack", "matrix")
    pains = {c.ref: c for c in layout.cards_of("pain")}
    for declared in ("queue-wait", "wrong-item"):
        badges = [(b.kind, b.label.lines) for b in pains[declared].badges]
        assert badges == [("confirmed", ("confirmed by data",))]
    assert [b for b in pains["not-recognised"].badges if b.kind == "confirmed"] == []
    refs = {c.ref for c in layout.cards}
    assert "slow:waits-in-queue" not in refs and "low-satisfaction:wrong-colour-arrives" not in refs


def test_korean_map_marks_observed_in_korean() -> None:
    layout = _layout("korean", "matrix")
    observed = layout.cards_of("observed")
    assert [c.ref for c in observed] == ["loop:compares-models"]
    assert observed[0].badges[0].label.lines == ("데이터로 관찰",)
    pains = {c.ref: c for c in layout.cards_of("pain")}
    assert pains["hidden-filter-cost"].badges[0].label.lines == ("데이터로 확인됨",)


def test_without_evidence_the_picture_is_as_before() -> None:
    ev = _evidence("backpack")
    plain = layout_map(ev.map)
    assert plain.cards_of("observed") == () and plain.cards_of("nodata") == ()
    assert "metrics" not in plain.lanes
    assert [c.kind for c in plain.curves] == ["declared"]


def test_evidence_for_another_map_is_refused() -> None:
    other = JourneyMap.model_validate(
        {
            "id": "other",
            "title": "O",
            "stages": [{"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"}]}],
        }
    )
    with pytest.raises(RenderError, match="measured for map 'ridgeway-backpack', not 'other'"):
        layout_map(other, evidence=_evidence("backpack"))


def test_explicit_metrics_win_over_the_evidence() -> None:
    ev = _evidence("backpack")
    layout = layout_map(ev.map, evidence=ev, metrics={"visits-site": {"Reach": "1"}})
    lane = [c for c in layout.cards if c.lane == "metrics"]
    assert [c.ref for c in lane] == ["visits-site"]


@pytest.mark.parametrize("view", VIEWS)
def test_evidenced_svg_and_html_are_well_formed(view: str) -> None:
    ev = _evidence("korean")
    svg = render_svg(ev.map, view=view, evidence=ev)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "2026-11-20 기준" in svg
    page = render_html(ev.map, view=view, evidence=ev)
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    if view == "matrix":
        assert "jm-kind-observed" in svg and "jm-kind-nodata" in svg


# --- the Sankey ------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_sankey_inflow_equals_outflow_at_every_passing_node(name: str) -> None:
    layout = layout_sankey(_evidence(name).sankey)
    passing = [n for n in layout.nodes if n.inflow and n.outflow]
    assert passing
    assert [(n.id, n.inflow, n.outflow) for n in passing if n.inflow != n.outflow] == []
    # Drop-off ends a path; other steps and the first column start or pass one.
    assert all(n.outflow == 0 for n in layout.nodes if n.kind == "drop-off")


def test_sankey_columns_reconcile_by_hand() -> None:
    layout = layout_sankey(_evidence("backpack").sankey)
    by_depth: dict[int, dict[str, int]] = {}
    for node in layout.nodes:
        by_depth.setdefault(node.depth, {})[node.name] = node.value
    # Column 0: 4,000 readers. Column 1: 1,480 + 2,400 + 120 = 4,000.
    assert by_depth[0] == {"reads-review": 4000}
    assert by_depth[1] == {"visits-site": 1480, "drop-off": 2400, "other": 120}
    assert sum(by_depth[1].values()) == 4000
    # Column 2: 1,030 + 200 + (250 + 120) drop-off = 1,600 = the 1,480 + 120 passing on.
    assert by_depth[2] == {"leaves-to-compare": 1030, "sees-coupon-ad": 200, "drop-off": 370}
    assert sum(by_depth[2].values()) == 1480 + 120


@pytest.mark.parametrize("name", FIXTURES)
def test_sankey_bands_fill_their_nodes_exactly(name: str) -> None:
    layout = layout_sankey(_evidence(name).sankey)
    nodes = {n.id: n for n in layout.nodes}
    for node in layout.nodes:
        assert node.box.h == pytest.approx(node.value * layout.scale, abs=0.01)
        out = [b for b in layout.bands if b.source == node.id]
        into = [b for b in layout.bands if b.target == node.id]
        assert sum(b.thickness for b in out) == pytest.approx(node.outflow * layout.scale, abs=0.05)
        assert sum(b.thickness for b in into) == pytest.approx(node.inflow * layout.scale, abs=0.05)
        for band in out:
            assert node.box.y - 0.01 <= band.source_top <= node.box.bottom + 0.01
            assert band.source_top + band.thickness <= node.box.bottom + 0.05
        for band in into:
            assert band.target_top + band.thickness <= node.box.bottom + 0.05
    assert all(nodes[b.target].box.x > nodes[b.source].box.right for b in layout.bands)


@pytest.mark.parametrize("name", FIXTURES)
def test_sankey_nodes_and_labels_keep_apart_and_on_the_picture(name: str) -> None:
    layout = layout_sankey(_evidence(name).sankey)
    picture = Box(0, 0, layout.width, layout.height)
    boxes = [n.box for n in layout.nodes] + [n.label.box for n in layout.nodes]
    assert [b for b in boxes if not picture.contains(b)] == []
    for a, b in itertools.combinations(layout.nodes, 2):
        assert not a.box.overlaps(b.box)
        assert not a.label.box.overlaps(b.label.box), (a.id, b.id)


def test_sankey_marks_drop_off_and_other_distinctly() -> None:
    svg = render_sankey(_evidence("korean"))
    root = ET.fromstring(svg)
    classes = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert "jm-node jm-node-drop-off" in classes and "jm-node jm-node-other" in classes
    assert "이탈 · 6,300" in svg and "기타 단계 · 300" in svg


def test_sankey_merges_repeated_links_and_refuses_negative_counts() -> None:
    links = (SankeyLink(0, "a", "b", 3), SankeyLink(0, "a", "b", 2))
    layout = layout_sankey(links)
    assert [(n.name, n.value) for n in layout.nodes] == [("a", 5), ("b", 5)]
    with pytest.raises(RenderError, match="cannot be negative"):
        layout_sankey([replace(links[0], customers=-1)])


# --- in a real browser -------------------------------------------------------------------

_OVERFLOW_JS = """
() => {
  const out = [];
  const inside = (b, f) => b.x >= f.x - 0.5 && b.y >= f.y - 0.5 &&
      b.x + b.width <= f.x + f.width + 0.5 && b.y + b.height <= f.y + f.height + 0.5;
  const svg = document.querySelector('.jm-screen > svg');
  for (const g of svg.querySelectorAll('.jm-box')) {
    const f = g.querySelector(':scope > rect.jm-frame').getBBox();
    for (const t of g.querySelectorAll('text')) {
      if (!inside(t.getBBox(), f)) out.push([g.dataset.id, t.textContent]);
    }
  }
  return out;
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("name", FIXTURES)
def test_no_evidence_text_overflows_its_card_in_chromium(name: str) -> None:
    from pathlib import Path

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    ev = _evidence(name)
    found: dict[str, list[list[str]]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            tab.route("**/*", lambda route: route.abort())
            for view in VIEWS:
                tab.set_content(render_html(ev.map, view=view, evidence=ev), wait_until="load")
                tab.evaluate("document.fonts.ready.then(() => true)")
                found[view] = tab.evaluate(_OVERFLOW_JS)
        finally:
            browser.close()
    assert found == {view: [] for view in VIEWS}
