"""PDF and PNG from the renderer's HTML or SVG: WeasyPrint, Chromium, pdftoppm.

The renderer (:mod:`journeymap.render`) returns text; this adapter turns it into bytes
with the programs installed on the machine and never writes the result itself (the CLI
does). PDF comes from WeasyPrint, which prints the HTML's print version: one sheet per
page of a long map. PNG comes from a headless Chromium screenshot through Playwright
(Debian's ``/usr/bin/chromium``); without Chromium it falls back to ``pdftoppm``
(poppler-utils) on a one-page PDF of the whole picture.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from journeymap.errors import JourneyError

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "ExportError",
    "PngEngine",
    "export_pdf",
    "export_png",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
MAX_PNG_SIDE = 16000
"""Chromium cannot capture more pixels than this along one side."""

PngEngine = Literal["auto", "chromium", "pdftoppm"]

_INSTALL_PNG = (
    "install Chromium and Playwright (apt install chromium; pip install playwright) "
    "or poppler-utils (apt install poppler-utils); `make setup` installs both"
)


class ExportError(JourneyError, RuntimeError):
    """A picture cannot be exported (a missing program, or the program failed)."""


def _wrap_svg(svg: str) -> str:
    """A minimal page around a bare SVG, so both engines can take it."""
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        "<style>html,body{margin:0;padding:0;background:#FFFFFF}svg{display:block}</style>"
        f'</head><body><main class="jm-screen">{svg}</main></body></html>\n'
    )


def _is_svg(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith("<svg") or (head.startswith("<?xml") and "<svg" in head)


def _picture_size(html: str) -> tuple[float, float] | None:
    """The size of the whole picture: the renderer's meta tag, else the first SVG."""
    meta = re.search(r'<meta name="journeymap-size" content="([\d.]+) ([\d.]+)"', html)
    if meta:
        return float(meta.group(1)), float(meta.group(2))
    svg = re.search(r'<svg[^>]*\bwidth="([\d.]+)"[^>]*\bheight="([\d.]+)"', html)
    if svg:
        return float(svg.group(1)), float(svg.group(2))
    return None


def export_pdf(html: str) -> bytes:
    """The PDF of a page made by :func:`journeymap.render.html.render_html`.

    WeasyPrint prints the page's print version: a long map comes out as several
    sheets, each with the lane labels (or the time axis) repeated. Fonts are embedded,
    Korean included.
    """
    try:
        import weasyprint
    except ImportError as exc:  # pragma: no cover - weasyprint is a core dependency
        raise ExportError(
            "PDF export needs WeasyPrint: pip install weasyprint "
            "(and apt install libpango-1.0-0 fonts-nanum)"
        ) from exc
    try:
        pdf = weasyprint.HTML(string=html).write_pdf()
    except Exception as exc:
        raise ExportError(f"WeasyPrint could not make the PDF: {exc}") from exc
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf() without a target
        raise ExportError("WeasyPrint returned no PDF")
    return pdf


def _png_with_chromium(html: str, *, scale: float, chromium: Path) -> bytes:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    size = _picture_size(html) or (1200.0, 800.0)
    largest = max(size) * scale
    if largest > MAX_PNG_SIDE:
        scale = MAX_PNG_SIDE / max(size)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium), args=list(CHROMIUM_ARGS)
            )
            try:
                page = browser.new_page(
                    viewport={"width": int(size[0]) + 1, "height": int(size[1]) + 1},
                    device_scale_factor=scale,
                )
                # Requests for anything outside the page are refused: a picture never
                # needs the network, and a stray link must not reach it.
                page.route("**/*", lambda route: route.abort())
                page.set_content(html, wait_until="load")
                page.evaluate("document.fonts.ready.then(() => true)")
                target = page.locator(".jm-screen > svg").first
                if target.count():
                    return target.screenshot(type="png")
                return page.screenshot(type="png", full_page=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ExportError(f"Chromium could not take the screenshot: {exc.message}") from exc


def _png_with_pdftoppm(html: str, *, scale: float, pdftoppm: str) -> bytes:
    size = _picture_size(html)
    if size is None:
        raise ExportError("cannot tell the size of the picture to export as PNG")
    width, height = size
    # One sheet exactly as large as the whole picture, showing its screen version.
    sheet = (
        f"<style>@page {{ size: {width:g}px {height:g}px; margin: 0 }}"
        ".jm-print { display: none !important } .jm-screen { display: block !important }"
        "body { margin: 0 }</style>"
    )
    page = html.replace("</head>", sheet + "</head>", 1) if "</head>" in html else sheet + html
    pdf = export_pdf(page)
    dpi = 96 * scale
    with tempfile.TemporaryDirectory(prefix="journeymap-") as folder:
        source = Path(folder) / "map.pdf"
        source.write_bytes(pdf)
        stem = Path(folder) / "map"
        result = subprocess.run(
            [pdftoppm, "-png", "-r", f"{dpi:g}", "-singlefile", str(source), str(stem)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise ExportError(f"pdftoppm failed: {result.stderr.strip() or result.returncode}")
        return stem.with_suffix(".png").read_bytes()


def _chromium_usable(chromium: Path) -> bool:
    if not chromium.exists():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def export_png(
    html_or_svg: str,
    *,
    scale: float = 2.0,
    engine: PngEngine = "auto",
    chromium: Path = CHROMIUM,
) -> bytes:
    """A PNG of the whole picture from the renderer's HTML page or SVG.

    ``scale`` is the pixel density (2 gives crisp text on paper and high-density
    screens). ``engine`` ``auto`` uses Chromium when Playwright and ``chromium`` are
    there, else ``pdftoppm``; naming an engine uses only that one. Raises
    :class:`ExportError` with an install hint when no engine is available.
    """
    if scale <= 0:
        raise ExportError(f"scale must be above 0, not {scale}")
    html = _wrap_svg(html_or_svg) if _is_svg(html_or_svg) else html_or_svg
    pdftoppm = shutil.which("pdftoppm")
    if engine in ("auto", "chromium") and _chromium_usable(chromium):
        return _png_with_chromium(html, scale=scale, chromium=chromium)
    if engine == "chromium":
        raise ExportError(
            f"PNG export with Chromium needs {chromium} and Playwright; {_INSTALL_PNG}"
        )
    if pdftoppm is not None:
        return _png_with_pdftoppm(html, scale=scale, pdftoppm=pdftoppm)
    if engine == "pdftoppm":
        raise ExportError(
            "PNG export with pdftoppm needs poppler-utils (apt install poppler-utils)"
        )
    raise ExportError(f"PNG export found neither Chromium nor pdftoppm; {_INSTALL_PNG}")
