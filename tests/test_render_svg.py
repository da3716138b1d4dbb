"""The SVG and HTML the renderer writes: well formed, offline, fonts named, confidence shown."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from journeymap.io.maps import load_map
from journeymap.model import JourneyMap
from journeymap.render import VIEWS, RenderError, layout_map, render_html, render_svg
from journeymap.render.palette import CONFIDENCE_STYLES
from journeymap.render.svg import SVG_NAMESPACE

ROOT = Path(__file__).parents[1]
MAP_FILES = sorted((ROOT / "examples").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "fixtures" / "render").glob("*.yaml")
)
MAP_IDS = [f"{p.parent.name}/{p.name}" for p in MAP_FILES]
FIXTURES = ROOT / "tests" / "fixtures" / "render"
NS = {"svg": SVG_NAMESPACE}
URL = re.compile(r"https?://[^\s\"'<>)]*")


@functools.cache
def _map(path: Path) -> JourneyMap:
    return load_map(path)


@functools.cache
def _svg(path: Path, view: str) -> str:
    return render_svg(_map(path), view=view)


@functools.cache
def _html(path: Path, view: str) -> str:
    return render_html(_map(path), view=view)


def _classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_svg_is_well_formed_xml_of_the_right_size(path: Path, view: str) -> None:
    root = ET.fromstring(_svg(path, view))
    layout = layout_map(_map(path), view=view)
    assert root.tag == f"{{{SVG_NAMESPACE}}}svg"
    assert float(root.get("width", "0")) == pytest.approx(layout.width)
    assert root.get("viewBox") == f"0 0 {layout.width:g} {layout.height:g}"
    assert root.get("lang") == _map(path).lang


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_every_printed_page_is_well_formed_svg(path: Path) -> None:
    jmap = _map(path)
    pages = layout_map(jmap).pages
    for index in range(len(pages)):
        root = ET.fromstring(render_svg(jmap, page=index))
        assert "jm-page" in _classes(root)


def test_a_page_that_does_not_exist_is_refused() -> None:
    with pytest.raises(RenderError, match="has 1 pages"):
        render_svg(_map(FIXTURES / "loan-ko.yaml"), page=3)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_font_stack_starts_with_nanumgothic(path: Path, view: str) -> None:
    svg = _svg(path, view)
    root = ET.fromstring(svg)
    assert root.get("font-family", "").startswith('"NanumGothic", "Noto Sans CJK KR"')
    stacks = re.findall(r"font-family:\s*([^;}]+)", svg + _html(path, view))
    assert stacks  # the style sheets name the fonts too
    assert all(s.strip().startswith('"NanumGothic"') for s in stacks)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_nothing_points_outside_the_picture(path: Path, view: str) -> None:
    # The examples carry evidence links (https://…); the picture must not.
    svg, html = _svg(path, view), _html(path, view)
    assert set(URL.findall(svg)) <= {SVG_NAMESPACE}
    assert URL.findall(html) == []
    for text in (svg, html):
        assert not re.search(r"\b(href|src)\s*=", text)
        assert "@import" not in text and "url(http" not in text
        assert "<script" not in text


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_every_card_carries_its_confidence_class_and_border(path: Path, view: str) -> None:
    layout = layout_map(_map(path), view=view)
    expected = {c.id: c.confidence for c in layout.cards if c.kind not in ("owner", "label")}
    root = ET.fromstring(_svg(path, view))
    found: dict[str, str] = {}
    for group in root.iter(f"{{{SVG_NAMESPACE}}}g"):
        classes = _classes(group)
        if "jm-card" not in classes or group.get("data-id") not in expected:
            continue
        levels = [c.removeprefix("conf-") for c in classes if c.startswith("conf-")]
        assert len(levels) == 1, group.get("data-id")
        found[group.get("data-id", "")] = levels[0]
        frame = group.find("svg:rect", NS)
        assert frame is not None and "jm-frame" in _classes(frame)
        assert frame.get("stroke-dasharray") == CONFIDENCE_STYLES[levels[0]].dash  # type: ignore[index]
    assert found == expected


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_each_confidence_level_used_has_its_glyph(path: Path) -> None:
    root = ET.fromstring(_svg(path, "matrix"))
    for group in root.iter(f"{{{SVG_NAMESPACE}}}g"):
        classes = _classes(group)
        if "jm-card" in classes and any(c.startswith("conf-") for c in classes):
            glyph = group.find("svg:g[@class='jm-glyph']", NS)
            assert glyph is not None, group.get("data-id")
            shapes = [child.tag.split("}")[1] for child in glyph]
            level = next(c for c in classes if c.startswith("conf-"))
            # filled dot; ring with a filled half; empty ring
            assert shapes == {"conf-observed": ["circle"], "conf-reported": ["circle", "path"],
                              "conf-assumed": ["circle"]}[level]  # fmt: skip
            fill = glyph[0].get("fill")
            assert (fill == "#FFFFFF") == (level != "conf-observed")


def test_legend_explains_the_three_confidence_levels() -> None:
    layout = layout_map(_map(FIXTURES / "loan-ko.yaml"))
    legend = {c.ref: [line for t in c.texts for line in t.lines] for c in layout.cards_of("legend")}
    assert legend == {"observed": ["관찰"], "reported": ["보고"], "assumed": ["가정"]}


def test_korean_text_is_in_the_svg_as_text() -> None:
    svg = _svg(FIXTURES / "loan-ko.yaml", "matrix")
    jmap = _map(FIXTURES / "loan-ko.yaml")
    words = "".join(re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg))
    assert all(stage.name.replace(" ", "") in words.replace(" ", "") for stage in jmap.stages)


def test_special_characters_are_escaped() -> None:
    jmap = JourneyMap.model_validate(
        {
            "id": "esc",
            "title": 'Tom & Jerry <script>alert("x")</script>',
            "stages": [{"id": "s", "name": "A < B", "steps": [{"id": "a", "name": "\"'&'\""}]}],
        }
    )
    for view in VIEWS:
        svg = render_svg(jmap, view=view)
        root = ET.fromstring(svg)
        assert "<script>" not in svg
        assert root.find("svg:title", NS) is not None
        assert root.find("svg:title", NS).text == 'Tom & Jerry <script>alert("x")</script>'  # type: ignore[union-attr]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


@pytest.mark.parametrize("view", VIEWS)
def test_html_page_is_self_contained_with_print_pages(view: str) -> None:
    path = FIXTURES / "long.yaml"
    html = _html(path, view)
    parser = _Tags()
    parser.feed(html)
    pages = layout_map(_map(path), view=view).pages
    assert html.startswith("<!doctype html>")
    assert parser.tags.count("svg") == 1 + len(pages)  # the screen picture and every page
    assert parser.tags.count("section") == len(pages) >= 2
    assert "@page" in html and "@media print" in html and "landscape" in html
    assert '<meta charset="utf-8">' in html
    assert parser.tags.count("link") == 0


def test_html_page_names_its_language() -> None:
    assert '<html lang="ko">' in _html(FIXTURES / "loan-ko.yaml", "matrix")
    assert '<html lang="en">' in _html(FIXTURES / "sofa.yaml", "matrix")


def test_print_pages_keep_ids_apart() -> None:
    html = _html(FIXTURES / "long.yaml", "matrix")
    ids = re.findall(r'(?<![-\w])id="([^"]+)"', html)  # id=, not data-id=
    assert ids and len(ids) == len(set(ids))


def test_a_stage_split_across_pages_is_named_again_on_the_next_page() -> None:
    jmap = _map(FIXTURES / "long.yaml")
    layout = layout_map(jmap, view="flow")
    assert len(layout.pages) >= 2
    # 32 steps of 224 px do not split evenly into pages of whole stages of 4 steps
    # (896 px): some page starts inside a stage, and says which.
    starts = {p.x0 for p in layout.pages[1:]}
    stages = [r for r in layout.regions if r.kind == "stage"]
    split = [r for r in stages if any(r.box.x + 1 < x0 < r.box.right - 40 for x0 in starts)]
    assert split
    pages = [render_svg(jmap, view="flow", page=i) for i in range(len(layout.pages))]
    continued = [p for p in pages if "(continued)" in p]
    assert len(continued) == len(split)
