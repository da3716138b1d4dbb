"""The ``new`` command: start a map from a template."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from journeymap.cli.output import console, err_console, guard
from journeymap.cli.state import State
from journeymap.io import maps
from journeymap.io.templates import list_templates, load_template
from journeymap.model.base import SLUG_PATTERN
from journeymap.model.templates import (
    Template,
    build_map_from_template,
    localize_text,
    slugify_title,
)
from journeymap.model.validate import did_you_mean

__all__ = ["new_command"]

DEFAULT_TEMPLATE = "digital-marketing"


def _print_templates(lang: str) -> None:
    for name in list_templates():
        template = load_template(name)
        title = localize_text(template.name, lang)
        console.print(f"[bold]{escape(name)}[/bold]  {escape(title)}")
        console.print("  " + escape(" → ".join(template.stage_names(lang))))
        milestones = [
            localize_text(step.milestone, lang)
            for stage in template.stages
            for step in stage.steps
            if step.milestone is not None
        ]
        if milestones:
            console.print("  milestones: " + escape(" → ".join(milestones)))


_LANG_NAMES = {"kr": "ko", "kor": "ko", "korean": "ko", "eng": "en", "english": "en"}


def _check_lang(template: Template, lang: str) -> None:
    if lang not in template.languages:
        alias = _LANG_NAMES.get(lang.lower())
        hint = f"did you mean '{alias}'?" if alias else did_you_mean(lang, template.languages)
        raise typer.BadParameter(
            f"template '{template.id}' is written in {', '.join(template.languages)}, "
            f"not '{lang}'" + (f"; {hint}" if hint else ""),
            param_hint="--lang",
        )


def new_command(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Argument(
            help="The map file to write; .yaml, .yml or .json (the extension picks the format).",
            metavar="OUTPUT",
            show_default=False,
        ),
    ] = None,
    template: Annotated[
        str,
        typer.Option("--template", "-t", help="The template to start from; see --list."),
    ] = DEFAULT_TEMPLATE,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", help="The map's title (required unless --list).", show_default=False
        ),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the stage names and texts: en or ko.")
    ] = "en",
    map_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="The map's id; by default a slug of the title.", show_default=False
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite OUTPUT if it exists.")
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the templates with their stages, then stop.")
    ] = False,
) -> None:
    """Start a new map from a template, with stage names in the chosen language.

    Example: journeymap new trip.yaml -t digital-marketing --title "Buying a backpack"
    """
    debug = State.of(ctx).debug
    if list_:
        with guard(debug):
            _print_templates(lang)
        return
    if output is None:
        raise typer.BadParameter("give the file to write, e.g. 'my-map.yaml'", param_hint="OUTPUT")
    if title is None or not title.strip():
        raise typer.BadParameter(
            "give the map a title, e.g. --title 'Onboarding'", param_hint="--title"
        )
    if map_id is not None and not re.match(SLUG_PATTERN, map_id):
        suggestion = slugify_title(map_id)
        raise typer.BadParameter(
            f"'{map_id}' is not a valid id; ids use lower-case letters, digits, '-' and '_'"
            + (f", e.g. '{suggestion}'" if suggestion else ""),
            param_hint="--id",
        )
    with guard(debug):
        fmt = maps.format_for_path(output)
        chosen = load_template(template)
    _check_lang(chosen, lang)
    if output.is_dir():
        err_console.print(
            f"[red]error:[/red] {escape(str(output))} is a folder; give a file name such as "
            f"{escape(str(output / 'journey.yaml'))}"
        )
        raise typer.Exit(1)
    if output.exists() and not force:
        err_console.print(
            f"[red]error:[/red] {escape(str(output))} already exists; "
            "pass --force to overwrite it, or choose another file name"
        )
        raise typer.Exit(1)
    with guard(debug):
        jmap = build_map_from_template(chosen, title=title, lang=lang, map_id=map_id)
        text = maps.dump_map(jmap, fmt)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err_console.print(f"[red]error:[/red] cannot write {escape(str(output))}: {exc.strerror}")
        raise typer.Exit(1) from None
    steps = sum(1 for _ in jmap.all_steps())
    console.print(
        f"wrote {escape(str(output))}: {len(jmap.stages)} stages, {steps} placeholder steps "
        f"from template '{escape(chosen.id)}' ({escape(lang)}), map id '{escape(jmap.id)}'"
    )
    console.print(
        "next: replace the placeholder steps with what your customers do, then run "
        f"[bold]journeymap validate {escape(str(output))}[/bold]"
    )
