"""The analysis report as files: chart SVGs (vl-convert), the HTML, the PDF, the map.

:func:`build_report` makes everything in memory: the chart specs of
:func:`journeymap.render.charts.build_charts` become SVG through vl-convert (offline;
NanumGothic is registered so Hangul renders), the report HTML comes from
:func:`journeymap.render.report.render_report`, the PDF from WeasyPrint
(:func:`journeymap.io.export.export_pdf`). :func:`write_report` writes it to a folder::

    report.html  report.pdf  map.svg  charts/funnel.svg  charts/emotion.svg  ...
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from journeymap.errors import JourneyError
from journeymap.insights.evidence import EvidencedMap
from journeymap.io.export import export_pdf
from journeymap.render.report import render_report
from journeymap.render.svg import render_svg

__all__ = ["FONT_DIRS", "Report", "ReportError", "build_report", "chart_svg", "write_report"]

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/nanum"),
    Path("/usr/share/fonts/opentype/nanum"),
    Path("/usr/local/share/fonts"),
)
"""Where NanumGothic is looked for (Debian's fonts-nanum first)."""


class ReportError(JourneyError, RuntimeError):
    """The report cannot be made (a chart failed to convert, the folder is not writable)."""


@dataclass(frozen=True)
class Report:
    """A finished report in memory: the HTML page, its PDF, the charts and the map."""

    html: str
    pdf: bytes | None
    charts: Mapping[str, str]
    """Chart name → SVG."""
    map_svg: str


@functools.cache
def _register_fonts() -> tuple[str, ...]:
    """Register the font folders with vl-convert once; returns those registered."""
    import vl_convert

    registered = []
    for folder in FONT_DIRS:
        if folder.is_dir():
            vl_convert.register_font_directory(str(folder))
            registered.append(str(folder))
    return tuple(registered)


def chart_svg(name: str, spec: Mapping[str, Any]) -> str:
    """One Vega-Lite spec as SVG through vl-convert (offline).

    Raises :class:`ReportError` naming the chart when vl-convert is missing or fails.
    """
    try:
        import vl_convert
    except ImportError as exc:  # pragma: no cover - vl-convert is a core dependency
        raise ReportError(
            "charts need vl-convert: pip install vl-convert-python (it works offline)"
        ) from exc
    _register_fonts()
    try:
        svg = vl_convert.vegalite_to_svg(dict(spec))
    except Exception as exc:
        raise ReportError(
            f"chart '{name}' could not be drawn by vl-convert: {exc}; the spec comes from "
            "journeymap.render.charts — report this with the evidenced map that caused it"
        ) from exc
    if not isinstance(svg, str) or "<svg" not in svg:
        raise ReportError(f"chart '{name}': vl-convert returned no SVG")
    return svg


def build_report(
    ev: EvidencedMap, *, lang: str | None = None, pdf: bool = True, title: str | None = None
) -> Report:
    """The report on ``ev``: HTML, PDF (unless ``pdf=False``), chart SVGs, map SVG.

    ``lang`` defaults to the map's language. Raises :class:`ReportError` when a chart
    fails, :class:`journeymap.io.export.ExportError` when the PDF cannot be printed.
    """
    # Altair is imported only when a report is made, not with this module.
    from journeymap.render.charts import build_charts

    lang = lang or ev.map.lang
    specs = build_charts(ev, lang=lang)
    charts = {name: chart_svg(name, spec) for name, spec in specs.items()}
    html = render_report(ev, charts=charts, lang=lang, title=title)
    map_svg = render_svg(ev.map, evidence=ev)
    printed = None
    if pdf:
        # The PDF prints the map's sheets; the on-screen copy of the map would only
        # be parsed and hidden, so the printed document leaves it out.
        printed = export_pdf(render_report(ev, charts=charts, lang=lang, title=title,
                                           screen=False))  # fmt: skip
    return Report(
        html=html,
        pdf=printed,
        charts=MappingProxyType(charts),
        map_svg=map_svg,
    )


def write_report(report: Report, out_dir: Path, *, stem: str = "report") -> list[Path]:
    """Write ``report`` into ``out_dir`` (created if needed); return the files written.

    ``<stem>.html``, ``<stem>.pdf`` (when the report has one), ``map.svg`` and
    ``charts/<name>.svg``.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        html = out_dir / f"{stem}.html"
        html.write_text(report.html, encoding="utf-8")
        written.append(html)
        if report.pdf is not None:
            pdf = out_dir / f"{stem}.pdf"
            pdf.write_bytes(report.pdf)
            written.append(pdf)
        map_file = out_dir / "map.svg"
        map_file.write_text(report.map_svg, encoding="utf-8")
        written.append(map_file)
        folder = out_dir / "charts"
        folder.mkdir(exist_ok=True)
        for name, svg in report.charts.items():
            path = folder / f"{name}.svg"
            path.write_text(svg, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report into {out_dir}: {exc.strerror or exc}; "
            "choose a folder you can write to"
        ) from exc
    return written
