"""Analytics commands over a workspace's events: ``journeymap funnel``.

Each command opens the workspace, maps its events to the map's steps, builds the
analysis as Ibis expressions (``journeymap.analytics``) and executes them here, on
the workspace's engine (DuckDB by default, Spark with ``--engine pyspark://…``).
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from journeymap.cli.options import (
    CommandOptionError,
    EngineOption,
    FormatOption,
    WorkspaceOption,
    check_format,
    choose,
    emit_table,
    fetch_value,
    format_share,
    humanize_seconds,
    parse_moment,
    print_wide,
    write_table,
)
from journeymap.cli.options import parse_duration as _parse_duration
from journeymap.cli.output import err_console, guard
from journeymap.cli.state import State
from journeymap.engines.scratch import stored_table

if TYPE_CHECKING:
    import pyarrow as pa
    from ibis import BaseBackend

    from journeymap.analytics.funnels import Funnel, FunnelExclusion

# Ibis, pyarrow and the engines load when a command runs, not when `journeymap --help` does.

__all__ = ["funnel_command", "parse_duration"]


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``12h``, ``7d``, ``2w`` as a conversion window; ``none`` (or ``0``) as no limit.

    >>> parse_duration("7d"), parse_duration("none")
    (datetime.timedelta(days=7), None)
    """
    return _parse_duration("--window", text, allow_none=True)


def _parse_attribution(text: str) -> str | int:
    if text in ("first", "last"):
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text) - 1
    raise CommandOptionError(
        f"--attribution {text!r}: write first, last, or a step number (1 is the first step)"
    )


def _parse_exclusion(text: str, n_steps: int) -> FunnelExclusion:
    from journeymap.analytics.funnels import FunnelExclusion, FunnelStep
    from journeymap.model.rules import EventRule

    target, *span = text.split(":")
    if len(span) not in (0, 2) or not target:
        raise CommandOptionError(
            f"--exclude {text!r}: write STEP_ID, event=NAME, or either followed by "
            ":FROM:TO step numbers (1 is the first step), e.g. cancel:2:3"
        )
    step: Any = target
    if target.startswith("event="):
        name = target.removeprefix("event=")
        step = FunnelStep(name, EventRule.model_validate({"match": {"event": name}}))
    if not span:
        return FunnelExclusion(step)
    try:
        start, end = (int(s) - 1 for s in span)
    except ValueError:
        raise CommandOptionError(
            f"--exclude {text!r}: FROM and TO must be step numbers, e.g. cancel:2:3"
        ) from None
    del n_steps  # the funnel checks the range and says what is allowed
    return FunnelExclusion(step, from_step=start, to_step=end)


def funnel_command(
    ctx: typer.Context,
    map_file: Annotated[
        Path, typer.Argument(help="The journey map whose steps the funnel follows.")
    ],
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps", help="Step ids, comma-separated (default: every step with an event rule)."
        ),
    ] = None,
    stages: Annotated[
        bool, typer.Option("--stages", help="Follow the map's stages instead of its steps.")
    ] = False,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="Count like posthog, mixpanel, amplitude, ga4-closed or ga4-open; options "
            "given next to it win.",
        ),
    ] = None,
    order: Annotated[
        str | None, typer.Option("--order", help="ordered (default), strict or any.")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option("--window", help="Conversion window: 30m, 12h, 7d, 2w or none (default)."),
    ] = None,
    window_from: Annotated[
        str | None,
        typer.Option(
            "--window-from", help="Measure the window from the first (default) or previous step."
        ),
    ] = None,
    entry: Annotated[
        str | None,
        typer.Option("--entry", help="first (default), latest, longest or every (count attempts)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="A step id or event=NAME that must not happen in between; add :FROM:TO "
            "step numbers to limit it, e.g. cancel:2:3. Repeatable.",
        ),
    ] = None,
    exclusion_effect: Annotated[
        str | None,
        typer.Option("--exclusion-effect", help="remove (default) or drop_off."),
    ] = None,
    open_funnel: Annotated[
        bool | None,
        typer.Option("--open/--closed", help="Let attempts start at any step (default: closed)."),
    ] = None,
    unit: Annotated[
        str, typer.Option("--unit", help="Count by this column: actor_id, session_id or any key.")
    ] = "actor_id",
    breakdown: Annotated[
        str | None,
        typer.Option("--breakdown", help="Split by a column or properties.x path."),
    ] = None,
    attribution: Annotated[
        str | None,
        typer.Option("--attribution", help="Breakdown value from the first, last or N-th step."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count attempts whose window is still open as in progress."),
    ] = None,
    fmt: FormatOption = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the summary to this file.")
    ] = None,
    attempts_file: Annotated[
        Path | None,
        typer.Option("--attempts", help="Also write every attempt (for drill-down) to this file."),
    ] = None,
) -> None:
    """Follow customers through the map's steps: entered, converted, dropped, time taken."""
    with guard(State.of(ctx).debug):
        check_format(fmt, output)
        from journeymap.analytics.funnels import compute_funnel
        from journeymap.analytics.mapping import list_steps, map_events
        from journeymap.analytics.presets import get_preset
        from journeymap.io.maps import load_map
        from journeymap.io.workspace import open_workspace

        jmap = load_map(map_file)
        known_steps = list_steps(jmap)
        if stages:
            if steps is not None:
                raise CommandOptionError("give --steps or --stages, not both")
            chosen = [stage.id for stage in jmap.stages]
        elif steps is not None:
            chosen = [s.strip() for s in steps.split(",") if s.strip()]
            ids = {s.step_id for s in known_steps}
            unknown = [s for s in chosen if s not in ids]
            if unknown:
                raise CommandOptionError(
                    f"{map_file}: no step {', '.join(map(repr, unknown))}; steps are: "
                    f"{', '.join(s.step_id for s in known_steps)}"
                )
        else:
            chosen = [s.step_id for s in known_steps if s.rule is not None]
            if not chosen:
                raise CommandOptionError(
                    f"{map_file}: no step has an event rule (events: {{match: …}}); add rules "
                    "to the steps the funnel should follow"
                )
        options: dict[str, Any] = get_preset(preset).options() if preset else {}
        given: dict[str, Any] = {
            "order": choose("--order", order, ("ordered", "strict", "any")),
            "window": parse_duration(window) if window is not None else None,
            "window_from": choose("--window-from", window_from, ("first", "previous")),
            "entry": choose("--entry", entry, ("first", "latest", "longest", "every")),
            "exclusion_effect": choose(
                "--exclusion-effect", exclusion_effect, ("remove", "drop_off")
            ),
            "closed": None if open_funnel is None else not open_funnel,
            "attribution": _parse_attribution(attribution) if attribution else None,
        }
        options.update({k: v for k, v in given.items() if v is not None})
        if window is not None:
            options["window"] = given["window"]
        exclusions = [_parse_exclusion(x, len(chosen)) for x in exclude or []]
        with open_workspace(workspace, engine=engine) as ws:
            mapped = map_events(ws.table("events"), jmap)
            funnel = compute_funnel(
                mapped.table,
                chosen,
                level="stage" if stages else "step",
                exclusions=exclusions,
                unit=unit,
                breakdown=breakdown,
                as_of=parse_moment("--as-of", as_of),
                **options,
            )
            _run_funnel(ws.con, funnel, mapped.unmatched_share, fmt, output, attempts_file)


def _run_funnel(
    con: BaseBackend,
    funnel: Funnel,
    unmatched_share: Any,
    fmt: str,
    output: Path | None,
    attempts_file: Path | None,
) -> None:
    from journeymap.engines import translate_errors

    # Attempts are materialised once; the summary, percentiles included, reads the stored
    # table instead of the window functions that built it.
    with (
        translate_errors("computing the funnel"),
        stored_table(con, funnel.attempts, prefix="funnel") as attempts,
    ):
        stored = funnel.from_attempts(attempts)
        by = ["step_index", "breakdown"] if funnel.options.breakdown else ["step_index"]
        summary = stored.summary.order_by(by).to_pyarrow()
        coverage = stored.coverage.to_pyarrow().to_pylist() if stored.coverage is not None else None
        without_unit = int(fetch_value(stored.events_without_unit, "counting events"))
        unmatched = fetch_value(unmatched_share, "mapping events")
        if attempts_file is not None:
            write_table(attempts.to_pyarrow(), attempts_file)
            err_console.print(f"wrote {escape(str(attempts_file))} (attempts)")
    if fmt == "table":
        _print_summary(summary, funnel)
    else:
        _emit(summary, fmt, output, funnel, coverage)
    notes = []
    if unmatched is not None and not (isinstance(unmatched, float) and math.isnan(unmatched)):
        notes.append(f"{100 * float(unmatched):.1f}% of events match no step of the map")
    if without_unit:
        notes.append(f"{without_unit} events have no {funnel.options.unit} and were left out")
    if coverage:
        cov = coverage[0]
        notes.append(
            f"breakdown {funnel.options.breakdown}: {cov['with_value']} of {cov['attempts']} "
            f"attempts have a value, {cov['without_value']} have none (shown as '(none)')"
        )
    for note in notes:
        err_console.print(f"[dim]{escape(note)}[/dim]")


def _print_summary(summary: pa.Table, funnel: Funnel) -> None:
    o = funnel.options
    rows = summary.to_pylist()
    has_bd = o.breakdown is not None
    show_excluded = bool(o.exclusions)
    show_progress = o.as_of is not None
    table = Table(title=f"Funnel: {' → '.join(funnel.steps)}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Step", overflow="fold")
    if has_bd:
        table.add_column(o.breakdown or "", overflow="fold")
    for name in ("Entered", "Conv.", "Dropped"):
        table.add_column(name, justify="right")
    if show_progress:
        table.add_column("In prog.", justify="right")
    if show_excluded:
        table.add_column("Excl.", justify="right")
    for name in ("Overall", "Step", "Drop", "Median", "p90"):
        table.add_column(name, justify="right")
    for row in rows:
        cells = [str(row["step_index"] + 1), escape(str(row["step"]))]
        if has_bd:
            cells.append(
                escape(str(row["breakdown"])) if row["breakdown"] is not None else "(none)"
            )
        cells += [f"{row['entered']:,}", f"{row['converted']:,}", f"{row['dropped']:,}"]
        if show_progress:
            cells.append(f"{row['in_progress']:,}")
        if show_excluded:
            cells.append(f"{row['excluded']:,}")
        cells += [
            format_share(row["conversion"]),
            format_share(row["step_conversion"]),
            format_share(row["drop_off"]),
            humanize_seconds(row["median_secs"]),
            humanize_seconds(row["p90_secs"]),
        ]
        table.add_row(*cells)
    print_wide(table)


def _emit(
    summary: pa.Table,
    fmt: str,
    output: Path | None,
    funnel: Funnel,
    coverage: list[dict[str, Any]] | None,
) -> None:
    o = funnel.options
    extra = {
        "steps": list(funnel.steps),
        "options": {
            "order": o.order,
            "window_secs": o.window.total_seconds() if o.window else None,
            "window_from": o.window_from,
            "entry": o.entry,
            "exclusion_effect": o.exclusion_effect,
            "closed": o.closed,
            "unit": o.unit,
            "breakdown": o.breakdown,
            "attribution": o.attribution,
            "as_of": o.as_of.isoformat() if o.as_of else None,
        },
        "coverage": coverage[0] if coverage else None,
    }
    emit_table(summary, fmt, output, extra=extra, rows_key="summary")
