"""A self-contained HTML page of a map: the whole picture on screen, pages in print.

Nothing is fetched: no CDN, no web fonts, no scripts. Fonts are named (NanumGothic
first, as some renderers use only the first family). On screen the page shows the map
as one SVG; in print (and in the PDF that WeasyPrint makes of it) it shows the map's
pages instead, each scaled to fit a landscape sheet, with the header on the first page
and the lane labels or the time axis repeated on every page.

>>> from journeymap.model import JourneyMap
>>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
...     {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"}]}]})
>>> page = render_html(jmap)
>>> page.startswith("<!doctype html>") and "http" not in page
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from journeymap.insights.evidence import EvidencedMap
from journeymap.model import JourneyMap
from journeymap.render.geometry import Layout, RenderError
from journeymap.render.labels import labels_for
from journeymap.render.layout import layout_map
from journeymap.render.svg import draw_page, measure_page, svg_document
from journeymap.render.text import FONT_STACK

__all__ = ["PAPER_SIZES", "Paper", "html_document", "render_html", "sheet_size"]

Paper = Literal["A3", "A4"]
PAPER_SIZES: dict[str, tuple[float, float]] = {"A3": (420.0, 297.0), "A4": (297.0, 210.0)}
"""Landscape paper sizes in mm."""
MARGIN_MM = 10.0
CAPTION_MM = 10.0
PX_PER_MM = 96 / 25.4


def sheet_size(layout_w: float, layout_h: float, paper: Paper) -> tuple[float, float]:
    """The size in CSS px at which a page of ``layout_w`` × ``layout_h`` fills the sheet."""
    width_mm, height_mm = PAPER_SIZES[paper]
    avail_w = (width_mm - 2 * MARGIN_MM) * PX_PER_MM
    avail_h = (height_mm - 2 * MARGIN_MM - CAPTION_MM) * PX_PER_MM
    scale = min(avail_w / layout_w, avail_h / layout_h)
    return round(layout_w * scale, 1), round(layout_h * scale, 1)


def _style(paper: Paper) -> str:
    return f"""
@page {{ size: {paper} landscape; margin: {MARGIN_MM:g}mm; }}
html, body {{ margin: 0; padding: 0; background: #FFFFFF; color: #1A1A1A;
  font-family: {FONT_STACK}; }}
.jm-screen {{ overflow-x: auto; }}
.jm-screen > svg {{ display: block; }}
.jm-print {{ display: none; }}
@media print {{
  .jm-screen {{ display: none; }}
  .jm-print {{ display: block; }}
  .jm-sheet {{ break-after: page; page-break-after: always; margin: 0; }}
  .jm-sheet:last-child {{ break-after: auto; page-break-after: auto; }}
  .jm-caption {{ margin: 0 0 2mm 0; font-size: 9pt; color: #4D4D4D; height: {CAPTION_MM - 2:g}mm; }}
  .jm-sheet > svg {{ display: block; }}
}}
"""


def render_html(
    jmap: JourneyMap,
    *,
    view: str = "matrix",
    lanes: Iterable[str] | None = None,
    metrics: Mapping[str, Mapping[str, str]] | None = None,
    measured_emotion: Mapping[str, float] | None = None,
    evidence: EvidencedMap | None = None,
    paper: Paper = "A3",
) -> str:
    """The map as one self-contained HTML page (a string; the caller writes it).

    ``view``, ``lanes``, ``metrics``, ``measured_emotion`` and ``evidence`` are those of
    :func:`journeymap.render.layout.layout_map`; ``paper`` is the landscape sheet the
    print version is laid out for (``A3`` or ``A4``).
    """
    layout = layout_map(
        jmap,
        view=view,
        lanes=lanes,
        metrics=metrics,
        measured_emotion=measured_emotion,
        evidence=evidence,
    )
    return html_document(layout, paper=paper)


def html_document(layout: Layout, *, paper: Paper = "A3") -> str:
    """The HTML page of an already computed ``layout``."""
    if paper not in PAPER_SIZES:
        raise RenderError(f"paper must be one of {', '.join(PAPER_SIZES)}, not {paper!r}")
    labels = labels_for(layout.lang)
    sheets: list[str] = []
    total = len(layout.pages)
    for page in layout.pages:
        extent = measure_page(layout, page)
        display = sheet_size(extent.width, extent.height, paper)
        svg = draw_page(layout, page, prefix=f"jm-p{page.index}", display=display, standalone=False)
        caption = f"{escape(layout.title)} · {labels.page} {page.index + 1}/{total}"
        sheets.append(
            f'<section class="jm-sheet"><p class="jm-caption">{caption}</p>{svg}</section>'
        )
    title = escape(layout.title)
    return (
        "<!doctype html>\n"
        f"<html lang={quoteattr(layout.lang)}>\n<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="journeymap">\n'
        f'<meta name="journeymap-size" content="{layout.width:g} {layout.height:g}">\n'
        f"<title>{title}</title>\n<style>{_style(paper)}</style>\n</head>\n<body>\n"
        f'<main class="jm-screen">{svg_document(layout, standalone=False)}</main>\n'
        f'<div class="jm-print">{"".join(sheets)}</div>\n'
        "</body>\n</html>\n"
    )
