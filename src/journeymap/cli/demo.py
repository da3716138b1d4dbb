"""``journeymap demo``: show what journeymap does, on the shipped examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from journeymap.cli.output import console, guard
from journeymap.cli.state import State
from journeymap.io import convert, examples, maps

__all__ = ["demo_command"]


def demo_command(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for everything the demo writes.")
    ] = Path("demo-output"),
) -> None:
    """Validate the example maps and convert each into every format journeymap writes."""
    with guard(State.of(ctx).debug):
        output.mkdir(parents=True, exist_ok=True)
        table = Table(title="journeymap demo: the example maps", title_justify="left")
        for column in ("map", "stages", "steps", "pain points", "written"):
            table.add_column(column)
        for path in examples.example_maps():
            jmap = maps.load_map(path)
            written: list[str] = []
            for name, spec in convert.FORMATS.items():
                result = spec.write(jmap)
                target = output / f"{path.stem}{spec.suffixes[0]}"
                if name == "yaml":
                    target = output / f"{path.stem}.normalised.yaml"
                target.write_text(result.text, encoding="utf-8")
                written.append(target.name)
            steps = [step for _, step in jmap.all_steps()]
            table.add_row(
                path.name,
                str(len(jmap.stages)),
                str(len(steps)),
                str(sum(len(s.pain_points) for s in steps)),
                ", ".join(written),
            )
        console.print(table)
        console.print(f"Everything is in [bold]{output}/[/bold]. Next: journeymap new --help")
