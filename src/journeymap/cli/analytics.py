"""Analytics commands over a workspace's events: ``journeymap funnel``.

Each command opens the workspace, maps its events to the map's steps, builds the
analysis as Ibis expressions (``journeymap.analytics``) and executes them here, on
the workspace's engine (DuckDB by default, Spark with ``--engine pyspark://…``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from journeymap.cli.output import console, err_console, guard, jsonable
from journeymap.cli.state import State
from journeymap.engines.scratch import stored_table
from journeymap.errors import JourneyError

if TYPE_CHECKING:
    import pyarrow as pa
    from ibis import BaseBackend

    from journeymap.analytics.funnels import Funnel, FunnelExclusion

# Ibis, pyarrow and the engines load when a command runs, not when `journeymap --help` does.

__all__ = ["funnel_command", "parse_duration"]

FORMATS = ("table", "csv", "json", "parquet")


class AnalyticsOptionError(JourneyError, ValueError):
    """A command-line option of an analytics command that cannot be read."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``12h``, ``7d``, ``2w`` as a duration; ``none`` (or ``0``) as no limit.

    >>> parse_duration("7d"), parse_duration("none")
    (datetime.timedelta(days=7), None)
    """
    if text.strip().lower() in ("none", "no", "0", ""):
        return None
    match = _DURATION.match(text)
    if not match:
        raise AnalyticsOptionError(
            f"--window {text!r} is not a duration; write a number and a unit: "
            "30m, 12h, 7d, 2w, or none"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def _parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise AnalyticsOptionError(
                f"--as-of {text!r} is not a date or time; write e.g. 2024-06-30 or "
                "2024-06-30T18:00:00Z"
            ) from None
        value = datetime(day.year, day.month, day.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _parse_attribution(text: str) -> str | int:
    if text in ("first", "last"):
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text) - 1
    raise AnalyticsOptionError(
        f"--attribution {text!r}: write first, last, or a step number (1 is the first step)"
    )


def _parse_exclusion(text: str, n_steps: int) -> FunnelExclusion:
    from journeymap.analytics.funnels import FunnelExclusion, FunnelStep
    from journeymap.model.rules import EventRule

    target, *span = text.split(":")
    if len(span) not in (0, 2) or not target:
        raise AnalyticsOptionError(
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
        raise AnalyticsOptionError(
            f"--exclude {text!r}: FROM and TO must be step numbers, e.g. cancel:2:3"
        ) from None
    del n_steps  # the funnel checks the range and says what is allowed
    return FunnelExclusion(step, from_step=start, to_step=end)


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise AnalyticsOptionError(f"{name} {value!r}: choose one of {', '.join(allowed)}")
    return value


def _humanize(secs: float | None) -> str:
    if secs is None or (isinstance(secs, float) and math.isnan(secs)):
        return "–"
    secs = float(secs)
    if secs < 60:
        return f"{secs:.0f}s"
    if secs < 3600:
        return f"{secs / 60:.1f}m"
    if secs < 86400:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}%"


def funnel_command(
    ctx: typer.Context,
    map_file: Annotated[
        Path, typer.Argument(help="The journey map whose steps the funnel follows.")
    ],
    workspace: Annotated[
        Path,
        typer.Option("--workspace", "-w", help="Workspace folder (default: the current folder)."),
    ] = Path(),
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="Ibis connection URL, e.g. pyspark://local[2]."),
    ] = None,
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
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table (default), csv, json or parquet.")
    ] = "table",
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
        _choice("--format", fmt, FORMATS)
        if fmt == "parquet" and output is None:
            raise AnalyticsOptionError("--format parquet needs --output FILE")
        from journeymap.analytics.funnels import compute_funnel
        from journeymap.analytics.mapping import list_steps, map_events
        from journeymap.analytics.presets import get_preset
        from journeymap.io.maps import load_map
        from journeymap.io.workspace import open_workspace

        jmap = load_map(map_file)
        known_steps = list_steps(jmap)
        if stages:
            if steps is not None:
                raise AnalyticsOptionError("give --steps or --stages, not both")
            chosen = [stage.id for stage in jmap.stages]
        elif steps is not None:
            chosen = [s.strip() for s in steps.split(",") if s.strip()]
            ids = {s.step_id for s in known_steps}
            unknown = [s for s in chosen if s not in ids]
            if unknown:
                raise AnalyticsOptionError(
                    f"{map_file}: no step {', '.join(map(repr, unknown))}; steps are: "
                    f"{', '.join(s.step_id for s in known_steps)}"
                )
        else:
            chosen = [s.step_id for s in known_steps if s.rule is not None]
            if not chosen:
                raise AnalyticsOptionError(
                    f"{map_file}: no step has an event rule (events: {{match: …}}); add rules "
                    "to the steps the funnel should follow"
                )
        options: dict[str, Any] = get_preset(preset).options() if preset else {}
        given: dict[str, Any] = {
            "order": _choice("--order", order, ("ordered", "strict", "any")),
            "window": parse_duration(window) if window is not None else None,
            "window_from": _choice("--window-from", window_from, ("first", "previous")),
            "entry": _choice("--entry", entry, ("first", "latest", "longest", "every")),
            "exclusion_effect": _choice(
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
                as_of=_parse_as_of(as_of),
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
        without_unit = int(stored.events_without_unit.execute())
        unmatched = unmatched_share.execute()
        if attempts_file is not None:
            _write_table(attempts.to_pyarrow(), attempts_file)
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
            _pct(row["conversion"]),
            _pct(row["step_conversion"]),
            _pct(row["drop_off"]),
            _humanize(row["median_secs"]),
            _humanize(row["p90_secs"]),
        ]
        table.add_row(*cells)
    out = console
    if not console.is_terminal:
        # piped or captured output has no screen to fit: keep every number whole
        wide = Measurement.get(console, console.options.update_width(400), table).maximum
        if wide > console.width:
            out = Console(highlight=False, width=wide, file=console.file)
    out.print(table)


def _emit(
    summary: pa.Table,
    fmt: str,
    output: Path | None,
    funnel: Funnel,
    coverage: list[dict[str, Any]] | None,
) -> None:
    if fmt == "parquet":
        assert output is not None
        _write_table(summary, output)
        err_console.print(f"wrote {escape(str(output))}")
        return
    if fmt == "json":
        o = funnel.options
        doc = {
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
            "summary": [{k: jsonable(v) for k, v in row.items()} for row in summary.to_pylist()],
            "coverage": coverage[0] if coverage else None,
        }
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    else:
        import pyarrow.csv as pacsv

        if output is not None:
            pacsv.write_csv(summary, str(output))
            err_console.print(f"wrote {escape(str(output))}")
            return
        import io

        sink = io.BytesIO()
        pacsv.write_csv(summary, sink)
        text = sink.getvalue().decode("utf-8")
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {escape(str(output))}")


def _write_table(table: pa.Table, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, str(path))
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, str(path))
    elif suffix in (".json", ".jsonl"):
        with path.open("w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(
                    json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                )
    else:
        raise AnalyticsOptionError(
            f"{path}: cannot tell the format from '{suffix or 'no extension'}'; "
            "use .parquet, .csv or .jsonl"
        )
