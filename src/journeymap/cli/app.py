"""The ``journeymap`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from journeymap import __version__
from journeymap.cli import (
    analytics,
    analytics_paths,
    analyze,
    data,
    demo,
    identity,
    maps,
    new,
    render,
)
from journeymap.cli.state import State

__all__ = ["app", "main"]

app = typer.Typer(
    name="journeymap",
    help="Customer journey maps that carry measured data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"journeymap {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when something fails.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """journeymap: design the customer journey, connect what customers did, find what to fix."""
    ctx.obj = State(debug=debug)


app.command("new")(new.new_command)
app.command("init")(data.init_command)
app.command("import")(data.import_command)
app.command("validate")(maps.validate_command)
app.command("schema")(maps.schema_command)
app.command("convert")(maps.convert_command)
app.command("render")(render.render_command)
app.command("demo")(demo.demo_command)
app.add_typer(identity.identity_app, name="identity")
app.command("funnel")(analytics.funnel_command)
app.command("paths")(analytics_paths.paths_command)
app.command("timing")(analytics_paths.timing_command)
app.command("segments")(analytics_paths.segments_command)
app.command("analyze")(analyze.analyze_command)


def main() -> None:
    """Entry point of the ``journeymap`` script."""
    app()
