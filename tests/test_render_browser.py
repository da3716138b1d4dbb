"""The HTML page in a real headless Chromium: text stays in its card, the picture is drawn.

The layout estimates text widths from NanumGothic's advances without a browser; here
the browser measures the real glyphs and confirms that no text leaves its box and that
the estimates match the font actually used (so NanumGothic is found and applied).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from journeymap.io.maps import load_map
from journeymap.model import JourneyMap
from journeymap.render import VIEWS, render_html
from journeymap.render.text import measure_text

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[1]
MAP_FILES = sorted((ROOT / "examples").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "fixtures" / "render").glob("*.yaml")
)
MAP_IDS = [f"{p.parent.name}/{p.name}" for p in MAP_FILES]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# For every .jm-box group (a card or a labelled region): each text's box against the
# group's frame, and each badge text against its pill.
_OVERFLOW_JS = """
() => {
  const out = [];
  const inside = (b, f) => b.x >= f.x - 0.5 && b.y >= f.y - 0.5 &&
      b.x + b.width <= f.x + f.width + 0.5 && b.y + b.height <= f.y + f.height + 0.5;
  const svg = document.querySelector('.jm-screen > svg');
  for (const g of svg.querySelectorAll('.jm-box')) {
    const f = g.querySelector(':scope > rect.jm-frame').getBBox();
    for (const t of g.querySelectorAll('text')) {
      const b = t.getBBox();
      if (!inside(b, f)) out.push([g.dataset.id, t.textContent, [b.x, b.y, b.width, b.height],
                                   [f.x, f.y, f.width, f.height]]);
    }
    for (const badge of g.querySelectorAll('.jm-badge')) {
      const p = badge.querySelector('rect').getBBox();
      const b = badge.querySelector('text').getBBox();
      if (!inside(b, p)) out.push([g.dataset.id, 'badge ' + badge.textContent, [b.x, b.width], [p.x, p.width]]);
    }
  }
  return out;
}
"""

_WIDTHS_JS = """
() => Array.from(document.querySelectorAll('.jm-screen > svg tspan')).map(t => [
  t.textContent, parseFloat(t.parentElement.getAttribute('font-size')), t.getComputedTextLength()
])
"""


@functools.cache
def _map(path: Path) -> JourneyMap:
    return load_map(path)


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    # Nothing may be fetched: a request for anything is a failure.
    requests: list[str] = []
    tab.on("request", lambda request: requests.append(request.url))
    yield tab, requests
    browser.close()
    playwright.stop()


def _open(page: Any, path: Path, view: str) -> Any:
    tab, requests = page
    requests.clear()
    tab.set_content(render_html(_map(path), view=view), wait_until="load")
    tab.evaluate("document.fonts.ready.then(() => true)")
    assert requests == []
    return tab


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_no_text_overflows_its_card_in_chromium(page: Any, path: Path, view: str) -> None:
    tab = _open(page, path, view)
    assert tab.evaluate(_OVERFLOW_JS) == []


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_chromium_measures_text_as_the_layout_estimated(page: Any, path: Path) -> None:
    tab = _open(page, path, "matrix")
    rows = tab.evaluate(_WIDTHS_JS)
    assert len(rows) > 50
    wider = [
        (t, w, measure_text(t, size=s)) for t, s, w in rows if w > measure_text(t, size=s) + 0.5
    ]
    assert wider == []
    # The estimate is the real NanumGothic advance, not a loose upper bound: in all, the
    # browser's text is at most 2 % narrower (kerning of pairs such as "Ta"). Were another
    # font used, Hangul (1.0 em in Noto Sans CJK) or Latin (DejaVu) would come out wider.
    measured = sum(w for _, _, w in rows)
    estimated = sum(measure_text(t, size=s) for t, s, _ in rows)
    assert 0.98 * estimated <= measured <= estimated + 0.5


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_screenshot_is_a_picture_not_a_blank_page(page: Any, path: Path, view: str) -> None:
    from PIL import Image

    tab = _open(page, path, view)
    shot = tab.locator(".jm-screen > svg").screenshot(type="png")
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    counts = image.getcolors(maxcolors=1 << 24) or []
    pixels = image.width * image.height
    ink = sum(n for n, rgb in counts if sum(rgb) < 3 * 235) / pixels
    assert len(counts) > 40  # the palette, tints, text anti-aliasing
    assert ink > 0.01  # a blank page has none; even the sparse long map has 1.4 %
    width, height = image.size
    assert (width, height) == pytest.approx(
        (tab.evaluate("document.querySelector('.jm-screen > svg').getBoundingClientRect().width"),
         tab.evaluate("document.querySelector('.jm-screen > svg').getBoundingClientRect().height")),
        abs=2,
    )  # fmt: skip
