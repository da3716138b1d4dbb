"""The ``render`` command: a map as SVG, HTML, PNG or PDF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeymap.cli.output import err_console, guard
from journeymap.cli.state import State
from journeymap.errors import UnsupportedFormatError
from journeymap.io.convert import read_map_file
from journeymap.io.export import ExportError, export_pdf, export_png
from journeymap.render import layout_map, select_lanes
from journeymap.render.html import html_document
from journeymap.render.svg import svg_document

if TYPE_CHECKING:
    from journeymap.insights.evidence import EvidencedMap
    from journeymap.model import JourneyMap

__all__ = ["OUTPUT_FORMATS", "read_picture_source", "render_command"]

OUTPUT_FORMATS = {".svg": "svg", ".html": "html", ".htm": "html", ".png": "png", ".pdf": "pdf"}


def _format_for(output: Path) -> str:
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        known = ", ".join(OUTPUT_FORMATS)
        raise UnsupportedFormatError(
            f"{output}: cannot tell the picture format from '{suffix or 'no extension'}'; "
            f"name the output file with one of: {known}"
        )
    return OUTPUT_FORMATS[suffix]


def read_picture_source(path: Path) -> tuple[JourneyMap, EvidencedMap | None]:
    """A map file, or an evidenced map (``*.evidenced.json`` from ``journeymap analyze``)
    with its map: the evidence draws the measured lane and the observed pain points."""
    if path.suffix.lower() == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict) and str(data.get("schema", "")).startswith(
            "journeymap-evidence/"
        ):
            from journeymap.insights import load_evidenced

            ev = load_evidenced(data)
            return ev.map, ev
    return read_map_file(path), None


def render_command(
    ctx: typer.Context,
    map_file: Annotated[
        Path,
        typer.Argument(
            help="The map to draw (.yaml, .yml or .json), or an evidenced map "
            "(OUT/<map-id>.evidenced.json from journeymap analyze)."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="File to write; .svg, .html, .png or .pdf picks the format."
        ),
    ],
    view: Annotated[
        str, typer.Option("--view", help="matrix (lanes), timeline (time axis) or flow (forks).")
    ] = "matrix",
    lanes: Annotated[
        str | None,
        typer.Option(
            "--lanes",
            help="Comma-separated matrix lanes, in order: touchpoints, actions, thoughts, "
            "emotion, pain_points, desired, opportunities, backstage, metrics. "
            "Default: every lane with content.",
        ),
    ] = None,
    scale: Annotated[
        float, typer.Option("--scale", help="Pixel density of a PNG (2 = crisp).", min=0.25, max=4)
    ] = 2.0,
) -> None:
    """Draw a map as a picture: SVG, a self-contained HTML page, PNG or a paged PDF.

    An evidenced map from journeymap analyze is drawn with its measured lane and the pain
    points found in the data. Korean renders with NanumGothic (apt install fonts-nanum). PNG needs Chromium or
    pdftoppm; PDF splits a long map across A3 landscape pages.
    """
    with guard(State.of(ctx).debug):
        fmt = _format_for(output)
        chosen = select_lanes(lanes.split(",")) if lanes is not None else None
        jmap, evidence = read_picture_source(map_file)
        layout = layout_map(jmap, view=view, lanes=chosen, evidence=evidence)
        if fmt == "svg":
            data = svg_document(layout).encode("utf-8")
        else:
            page = html_document(layout)
            if fmt == "html":
                data = page.encode("utf-8")
            elif fmt == "pdf":
                data = export_pdf(page)
            else:
                data = export_png(page, scale=scale)
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise ExportError(
                f"{output}: cannot write the picture: {exc.strerror}; "
                "check that the folder exists and is writable"
            ) from None
        pages = len(layout.pages)
        note = f", {pages} page{'s' * (pages != 1)}" if fmt == "pdf" else ""
        err_console.print(f"wrote {output} ({layout.view} view{note})")
        for line in layout.notes:
            err_console.print(f"[yellow]note:[/yellow] {line}")
