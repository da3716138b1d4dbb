"""``journeymap demo``: the whole product on the demo company, from raw data to the report.

Generates Ridgeway Outdoor (:mod:`journeymap.demo`), writes its Parquet files, imports
them into a workspace, stitches identities, analyses the backpack map
(``examples/backpack.yaml``) with payment method and support channel by country, and
writes the evidenced map, the report and the pictures; then draws every shipped example
map in every format and view. Everything goes under ``--output``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from journeymap.cli.output import console, err_console, guard
from journeymap.cli.state import State
from journeymap.errors import JourneyError

__all__ = ["DEFAULT_CUSTOMERS", "DEMO_PREFERENCES", "demo_command"]

DEFAULT_CUSTOMERS = 20_000
"""About 630,000 events: the whole demo takes a few minutes on a 2-core machine."""

DEMO_PREFERENCES = (
    "payment method=properties.payment_method@order_placed",
    "support channel=channel@support_wait",
)
"""The global question of the demo: how countries differ in paying and in asking for help."""


class DemoError(JourneyError, OSError):
    """The demo's output folder cannot be used."""


def _fresh_workspace(folder: Path) -> None:
    """Remove a workspace the demo made before, so a rerun starts from nothing."""
    if not folder.exists():
        return
    if not (folder / "journeymap.toml").is_file():
        raise DemoError(
            f"{folder} exists and is not a journeymap workspace; move it away or choose "
            "another --output"
        )
    shutil.rmtree(folder)


def _write_examples(output: Path, *, pdf: bool) -> list[tuple[str, Path]]:
    """Every shipped example map in every format and view (as before the full demo)."""
    from journeymap.io import convert, examples, maps
    from journeymap.render import VIEWS, render_html

    output.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, Path]] = []
    for path in examples.example_maps():
        jmap = maps.load_map(path)
        for name, spec in convert.FORMATS.items():
            suffix = ".normalised.yaml" if name == "yaml" else spec.suffixes[0]
            target = output / f"{path.stem}{suffix}"
            target.write_text(spec.write(jmap).text, encoding="utf-8")
            written.append((f"example {path.stem} ({name})", target))
        for view in VIEWS:
            target = output / f"{path.stem}.{view}.html"
            target.write_text(render_html(jmap, view=view), encoding="utf-8")
            written.append((f"example {path.stem} ({view} view)", target))
        if pdf:
            from journeymap.io.export import export_pdf

            target = output / f"{path.stem}.matrix.pdf"
            target.write_bytes(export_pdf(render_html(jmap, view="matrix")))
            written.append((f"example {path.stem} (PDF)", target))
    return written


def demo_command(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for everything the demo writes.")
    ] = Path("demo-output"),
    customers: Annotated[
        int,
        typer.Option(
            "--customers", min=100, help="People in the demo company (about 32 events each)."
        ),
    ] = DEFAULT_CUSTOMERS,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")] = 7,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="Also write the PDFs (report, maps).")
    ] = True,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Also write map.png.")] = True,
    examples: Annotated[
        bool,
        typer.Option(
            "--examples/--no-examples",
            help="Also draw every example map in every format and view (OUTPUT/examples).",
        ),
    ] = True,
) -> None:
    """Run journeymap end to end on the demo company: generate its data, import it,
    stitch identities, analyse the backpack map and write the report and the pictures."""
    with guard(State.of(ctx).debug):
        from journeymap.cli.analyze import (
            Written,
            import_contract_file,
            parse_preference,
            print_summary,
            print_written,
            run_analysis,
            write_outputs,
        )
        from journeymap.cli.data import print_report
        from journeymap.demo import write_demo
        from journeymap.engines.analysis import AnalysisOptions
        from journeymap.engines.identity import stitch_identities
        from journeymap.io.examples import example_dir
        from journeymap.io.maps import load_map
        from journeymap.io.workspace import init_workspace

        started = time.monotonic()

        def say(text: str) -> None:
            err_console.print(f"[dim]{time.monotonic() - started:6.1f}s · {escape(text)}[/dim]")

        output.mkdir(parents=True, exist_ok=True)
        folder = output / "workspace"
        _fresh_workspace(folder)
        say(f"generating the demo company: {customers:,} customers (seed {seed})")
        files = write_demo(output / "data", customers=customers, seed=seed)
        say(
            f"wrote {files.rows['events']:,} events, {files.rows['identity_links']:,} identity "
            f"links, {files.rows['feedback']:,} answers as Parquet in {output / 'data'}"
        )
        jmap = load_map(example_dir() / "backpack.yaml")
        options = AnalysisOptions(preferences=tuple(parse_preference(p) for p in DEMO_PREFERENCES))
        with init_workspace(folder) as ws:
            for path, table in (
                (files.events, "events"),
                (files.identity_links, "identity_links"),
                (files.feedback, "feedback"),
            ):
                say(f"importing {path.name}")
                print_report(import_contract_file(ws, path, table=table))  # type: ignore[arg-type]
            say("stitching identities into customers")
            stitching = stitch_identities(ws.con, ws.table("identity_links"), persist=True)
            say(
                f"stitched {stitching.identifiers:,} identifiers into {stitching.customers:,} "
                f"customers; {stitching.refused_links:,} links refused"
            )
            ev = run_analysis(ws, jmap, options, progress=say)
        written = write_outputs(ev, output, pdf=pdf, png=png, map_pdf=pdf, progress=say)
        files_written = [
            ("demo data (Parquet)", output / "data"),
            ("workspace (DuckDB)", folder),
            *[(what, path) for what, path in written.files if path.parent == output],
            ("report charts (SVG)", output / "charts"),
        ]
        if examples:
            say("drawing the example maps in every format and view")
            drawn = _write_examples(output / "examples", pdf=pdf)
            files_written.append(
                (f"example maps: {len(drawn)} files (formats, views)", output / "examples")
            )
        say("done")
        console.print()
        print_summary(ev)
        print_written(
            Written(evidenced=written.evidenced, files=tuple(files_written)),
            title=f"journeymap demo: written to {output}/",
        )
        _print_next(output)


def _print_next(output: Path) -> None:
    table = Table.grid(padding=(0, 1))
    table.add_row("[bold]open[/bold]", escape(str(output / "report.html")), "the report")
    table.add_row("", escape(str(output / "map.html")), "the evidenced map")
    table.add_row(
        "[bold]next[/bold]",
        f"journeymap analyze examples/backpack.yaml -w {escape(str(output / 'workspace'))} "
        "-o my-analysis",
        "",
    )
    console.print(table)
