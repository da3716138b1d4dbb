"""Map commands: validate, schema, convert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from journeymap.cli.output import console, err_console, guard, print_problems
from journeymap.cli.state import State
from journeymap.errors import JourneyError, MapValidationError
from journeymap.io import convert, maps
from journeymap.model import json_schema

__all__ = ["convert_command", "schema_command", "validate_command"]


def validate_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="Map files (.yaml, .yml, .json, .mmd, .mermaid, .csv).")
    ],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check maps and report every problem, each with file:line:column and a fix."""
    state = State.of(ctx)
    failed = 0
    for path in files:
        try:
            ok = _validate_one(path, strict=strict)
        except JourneyError as exc:
            if state.debug:
                raise
            ok = False
            if isinstance(exc, MapValidationError):
                print_problems(exc.problems)
            else:
                err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        failed += not ok
    if failed:
        raise typer.Exit(1)


def _validate_one(path: Path, *, strict: bool) -> bool:
    fmt = convert.format_of(path)
    if fmt.name in ("yaml", "json"):
        text = maps.read_map_text(path)
        jmap, problems = maps.check_map_text(text, source=str(path), fmt=maps.format_for_path(path))
    else:
        jmap, problems = convert.read_map_file(path), []
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if jmap is None or (strict and warnings):
        count = len(errors) + (len(warnings) if strict else 0)
        err_console.print(f"[bold red]{escape(str(path))}: {count} problem{'s' * (count != 1)}[/]")
        print_problems(problems)
        return False
    steps = sum(1 for _ in jmap.all_steps())
    note = f", {len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else ""
    console.print(
        f"[green]ok[/green] {escape(str(path))}: {len(jmap.stages)} stages, {steps} steps, "
        f"{len(jmap.personas)} personas, {len(jmap.opportunities)} opportunities{note}"
    )
    print_problems(warnings)
    return True


def schema_command(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of journeymap/1 maps, for editors that validate as you type."""
    with guard(State.of(ctx).debug):
        text = json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            err_console.print(f"wrote {output}")


def convert_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="The map to read.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write; its extension picks the format."),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Input format when the extension does not say.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Output format (needed when writing to stdout).")
    ] = None,
) -> None:
    """Convert a map between YAML, JSON and the interchange formats."""
    with guard(State.of(ctx).debug):
        jmap = convert.read_map_file(source, from_)
        if output is None and to is None:
            raise typer.BadParameter("give --output FILE or --to FORMAT", param_hint="--to")
        target = convert.format_of(output or "", to)
        result = target.write(jmap)
        for warning in result.warnings:
            err_console.print(f"[yellow]warning:[/yellow] {warning}")
        if output is None:
            typer.echo(result.text, nl=False)
        else:
            output.write_text(result.text, encoding="utf-8")
            err_console.print(f"wrote {output} ({target.name})")
