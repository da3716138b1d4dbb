"""``journeymap demo``: show what journeymap does, on the shipped examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from journeymap.cli.output import console, guard
from journeymap.cli.state import State
from journeymap.io import convert, examples, maps
from journeymap.render import VIEWS, render_html

__all__ = ["demo_command"]


def demo_command(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for everything the demo writes.")
    ] = Path("demo-output"),
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="Also print each map's matrix view to PDF.")
    ] = True,
) -> None:
    """Validate the example maps, convert each into every format and draw every view."""
    with guard(State.of(ctx).debug):
        output.mkdir(parents=True, exist_ok=True)
        table = Table(title="journeymap demo: the example maps", title_justify="left")
        for column in ("map", "stages", "steps", "pain points", "written"):
            table.add_column(column, overflow="fold")
        for path in examples.example_maps():
            jmap = maps.load_map(path)
            written: list[Path] = []
            for name, spec in convert.FORMATS.items():
                suffix = ".normalised.yaml" if name == "yaml" else spec.suffixes[0]
                target = output / f"{path.stem}{suffix}"
                target.write_text(spec.write(jmap).text, encoding="utf-8")
                written.append(target)
            for view in VIEWS:
                target = output / f"{path.stem}.{view}.html"
                target.write_text(render_html(jmap, view=view), encoding="utf-8")
                written.append(target)
            if pdf:
                from journeymap.io.export import export_pdf

                target = output / f"{path.stem}.matrix.pdf"
                target.write_bytes(export_pdf(render_html(jmap, view="matrix")))
                written.append(target)
            steps = [step for _, step in jmap.all_steps()]
            table.add_row(
                path.name,
                str(len(jmap.stages)),
                str(len(steps)),
                str(sum(len(s.pain_points) for s in steps)),
                ", ".join(p.name for p in written),
            )
        console.print(table)
        console.print(
            f"Everything is in [bold]{output}/[/bold]: open the .html files in a browser. "
            "Next: journeymap new --help"
        )
