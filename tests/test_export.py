"""PDF and PNG export, and the `journeymap render` command on every example."""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.io import export
from journeymap.io.export import ExportError, export_pdf, export_png
from journeymap.io.maps import load_map
from journeymap.model import JourneyMap
from journeymap.render import VIEWS, layout_map, render_html, render_svg

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
FIXTURES = ROOT / "tests" / "fixtures" / "render"
KOREAN = ROOT / "examples" / "korean-ecommerce.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAS_CHROMIUM = export.CHROMIUM.exists()
HAS_POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdftoppm") is not None
needs_chromium = pytest.mark.skipif(not HAS_CHROMIUM, reason="needs /usr/bin/chromium")
needs_poppler = pytest.mark.skipif(not HAS_POPPLER, reason="needs poppler-utils")


@functools.cache
def _map(path: Path) -> JourneyMap:
    return load_map(path)


@functools.cache
def _pdf(path: Path, view: str = "matrix") -> bytes:
    return export_pdf(render_html(_map(path), view=view))


def _png_size(data: bytes) -> tuple[int, int]:
    # IHDR is the first chunk: 8 magic bytes, 4 length, 4 type, then width and height.
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "map.pdf"
    source.write_bytes(pdf)
    # -raw keeps the drawing order, so the lines of one text stay together.
    result = subprocess.run(
        ["pdftotext", "-raw", str(source), "-"], capture_output=True, text=True, check=True
    )
    return result.stdout


def _pdf_pages(pdf: bytes, tmp_path: Path) -> int:
    source = tmp_path / "pages.pdf"
    source.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(source)], capture_output=True, text=True, check=True)
    line = next(x for x in info.stdout.splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


# --- PDF ------------------------------------------------------------------------------


@pytest.mark.slow
def test_pdf_is_a_pdf() -> None:
    assert _pdf(FIXTURES / "sofa.yaml").startswith(b"%PDF-")


@pytest.mark.slow
@needs_poppler
def test_pdf_of_the_korean_example_holds_its_korean_stage_names(tmp_path: Path) -> None:
    text = "".join(_pdf_text(_pdf(KOREAN), tmp_path).split())
    names = [stage.name for stage in _map(KOREAN).stages]
    assert names and all(any("\uac00" <= c <= "\ud7a3" for c in n) for n in names)
    assert [n for n in names if "".join(n.split()) not in text] == []


@pytest.mark.slow
@needs_poppler
@pytest.mark.parametrize("view", VIEWS)
def test_pdf_of_a_long_map_has_one_sheet_per_page(view: str, tmp_path: Path) -> None:
    path = FIXTURES / "long.yaml"
    pages = len(layout_map(_map(path), view=view).pages)
    assert pages >= 2
    assert _pdf_pages(_pdf(path, view), tmp_path) == pages


@pytest.mark.slow
@needs_poppler
def test_pdf_text_appears_once_per_page_it_is_on(tmp_path: Path) -> None:
    # Clipped-away drawing is left out of each page, so the title is in the PDF once
    # (page 1) plus once per page caption.
    path = FIXTURES / "long.yaml"
    pages = len(layout_map(_map(path)).pages)
    text = _pdf_text(_pdf(path), tmp_path)
    assert text.count("A long map: getting a car repaired") == 1 + pages


# --- PNG ------------------------------------------------------------------------------


@pytest.mark.slow
@needs_chromium
def test_png_with_chromium_is_the_picture_at_double_density() -> None:
    jmap = _map(FIXTURES / "loan-ko.yaml")
    layout = layout_map(jmap)
    width, height = _png_size(export_png(render_html(jmap), engine="chromium"))
    assert abs(width - 2 * layout.width) <= 2 and abs(height - 2 * layout.height) <= 2


@pytest.mark.slow
@needs_chromium
def test_png_from_a_bare_svg() -> None:
    jmap = _map(FIXTURES / "loan-ko.yaml")
    layout = layout_map(jmap, view="flow")
    width, _ = _png_size(export_png(render_svg(jmap, view="flow"), scale=1.0))
    assert abs(width - layout.width) <= 1


@pytest.mark.slow
@needs_poppler
def test_png_falls_back_to_pdftoppm() -> None:
    jmap = _map(FIXTURES / "loan-ko.yaml")
    layout = layout_map(jmap, view="timeline")
    data = export_png(render_html(jmap, view="timeline"), engine="pdftoppm", scale=1.0)
    width, height = _png_size(data)
    # One sheet as large as the picture, at 96 dpi: 1 px per layout px (± rounding).
    assert abs(width - layout.width) <= 2 and abs(height - layout.height) <= 2


def test_png_without_any_engine_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(ExportError) as caught:
        export_png("<svg></svg>", chromium=Path("/nowhere/chromium"))
    message = str(caught.value)
    assert "apt install chromium" in message and "poppler-utils" in message


def test_png_with_chromium_only_and_no_chromium_is_an_error() -> None:
    with pytest.raises(ExportError, match="Chromium"):
        export_png("<svg></svg>", engine="chromium", chromium=Path("/nowhere/chromium"))


# --- the render command ------------------------------------------------------------------

FORMATS = ["svg", "html", "png", "pdf"]
CASES = [
    pytest.param(
        path, view, fmt, id=f"{path.stem}-{view}-{fmt}",
        marks=[pytest.mark.slow] if fmt in ("png", "pdf") else [],
    )
    for path in EXAMPLES
    for view in VIEWS
    for fmt in FORMATS
]  # fmt: skip

MAGIC = {"svg": b"<svg", "html": b"<!doctype html>", "png": PNG_MAGIC, "pdf": b"%PDF-"}


def test_every_example_is_rendered() -> None:
    assert len(EXAMPLES) >= 3
    assert len(CASES) == len(EXAMPLES) * 3 * 4


@pytest.mark.parametrize(("path", "view", "fmt"), CASES)
def test_render_command_writes_every_view_in_every_format(
    path: Path, view: str, fmt: str, tmp_path: Path
) -> None:
    if fmt == "png" and not (HAS_CHROMIUM or HAS_POPPLER):
        pytest.skip("no PNG engine (chromium or poppler-utils) on this machine")
    out = tmp_path / f"{path.stem}.{fmt}"
    result = CliRunner().invoke(app, ["render", str(path), "-o", str(out), "--view", view])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(MAGIC[fmt])
    assert f"wrote {out}" in result.output.replace("\n", "")


def test_render_command_picks_lanes(tmp_path: Path) -> None:
    out = tmp_path / "lanes.svg"
    args = ["render", str(FIXTURES / "sofa.yaml"), "-o", str(out), "--lanes", "emotion,pain-points"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert 'data-id="lane:emotion"' in svg and 'data-id="lane:pain_points"' in svg
    assert 'data-id="lane:actions"' not in svg


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--lanes", "emotion,pain"], ["unknown lane 'pain'", "did you mean 'pain_points'?",
                                       "touchpoints, actions, thoughts"]),
        (["--view", "matrx"], ["unknown view 'matrx'", "did you mean 'matrix'?"]),
    ],
)  # fmt: skip
def test_render_command_explains_a_bad_option(
    args: list[str], expected: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "x.svg"
    result = CliRunner().invoke(app, ["render", str(FIXTURES / "sofa.yaml"), "-o", str(out), *args])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert all(e in message for e in expected), message
    assert "Traceback" not in result.output
    assert not out.exists()


def test_render_command_refuses_an_unknown_picture_format(tmp_path: Path) -> None:
    out = tmp_path / "map.gif"
    result = CliRunner().invoke(app, ["render", str(FIXTURES / "sofa.yaml"), "-o", str(out)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "'.gif'" in message and ".svg, .html, .htm, .png, .pdf" in message


def test_render_command_reports_a_broken_map_with_its_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "schema: journeymap/1\nid: b\ntitle: B\nstages:\n"
        "  - id: s\n    name: S\n    steps:\n      - {id: a, name: A, emotion: 7}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["render", str(broken), "-o", str(tmp_path / "b.svg")])
    assert result.exit_code == 1
    assert "broken.yaml:8" in result.output and "emotion" in result.output


def test_render_command_has_help() -> None:
    result = CliRunner().invoke(app, ["render", "--help"])
    assert result.exit_code == 0
    assert "--view" in result.output and "--lanes" in result.output


def test_render_command_says_when_it_cannot_write(tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "map.svg"
    result = CliRunner().invoke(app, ["render", str(FIXTURES / "sofa.yaml"), "-o", str(out)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "cannot write the picture" in message and "folder exists" in message
