"""Path, timing and segment commands: ``journeymap paths | timing | segments``.

Each command opens the workspace, maps its events to the map's steps when asked to,
builds the analysis as Ibis expressions (``journeymap.analytics``) and executes them
here, on the workspace's engine. Results print as rich tables, or go to CSV, JSON or
Parquet with ``--format``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from journeymap.cli.options import (
    CommandOptionError,
    EngineOption,
    FormatOption,
    OutputOption,
    TopOption,
    WorkspaceOption,
    check_format,
    choose,
    emit_table,
    fetch_table,
    fetch_value,
    humanize_seconds,
    parse_duration,
    parse_moment,
    print_wide,
)
from journeymap.cli.output import err_console, guard
from journeymap.cli.state import State
from journeymap.engines.scratch import stored_table

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from journeymap.analytics.segments import ConversionComparison, ValueComparison
    from journeymap.model import JourneyMap

# Ibis, pyarrow and the engines load when a command runs, not when `journeymap --help` does.

__all__ = ["paths_command", "segments_command", "timing_command"]


def _load_map(map_file: Path | None, why: str) -> JourneyMap:
    if map_file is None:
        raise CommandOptionError(f"{why} needs the journey map: pass --map FILE")
    from journeymap.io.maps import load_map

    return load_map(map_file)


@dataclass(frozen=True)
class _Events:
    """The events an analysis reads, and how to name what happened in them."""

    table: ir.Table
    column: str
    unmatched_share: ir.FloatingScalar | None


def _events(events: ir.Table, jmap: JourneyMap | None, by: str) -> _Events:
    """Raw events (``by="event"``), or events mapped to the map's steps or stages."""
    choose("--by", by, ("event", "step", "stage"))
    if by == "event":
        return _Events(events, "event", None)
    from journeymap.analytics.mapping import map_events

    if jmap is None:
        raise CommandOptionError(f"--by {by} needs the journey map: pass --map FILE")
    mapped = map_events(events, jmap)
    return _Events(mapped.table, f"{by}_id", mapped.unmatched_share)


# --- printing ----------------------------------------------------------------------


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if "secs" in column.split("_"):
        return humanize_seconds(value)
    if column in ("share", "rate", "rate_low", "rate_high") or column.startswith("diff_"):
        return f"{100 * float(value):.1f}%"
    if column.startswith("p_") or column in ("p_value", "z", "t"):
        return f"{float(value):.4g}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        return " → ".join(map(str, value))
    return str(value)


def _print(table: pa.Table, title: str, *, columns: Sequence[str] | None = None) -> None:
    names = list(columns) if columns is not None else list(table.column_names)
    view = Table(title=title, title_justify="left")
    for name in names:
        numeric = name not in (
            "source",
            "target",
            "activity",
            "node",
            "stage",
            "segment",
            "sequence",
            "kind",
            "target_kind",
            "source_kind",
            "next_stage",
            "example_case",
            "actor_id",
            "reference",
        )
        view.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in table.select(names).to_pylist():
        view.add_row(*(escape(_cell(name, row[name])) for name in names))
    print_wide(view)


def _note_unmatched(share: Any) -> None:
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return
    err_console.print(f"[dim]{100 * float(share):.1f}% of events match no step of the map[/dim]")


# --- journeymap paths ----------------------------------------------------------------

PATH_VIEWS = ("overview", "transitions", "variants", "starts", "ends", "sankey", "links", "summary")


def _patterns(groups: list[str] | None) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for text in groups or []:
        pattern, sep, label = text.partition("=")
        if not sep or not pattern.strip() or not label.strip():
            raise CommandOptionError(f"--group {text!r}: write PATTERN=NAME, e.g. 'view_*=browse'")
        out[pattern.strip()] = label.strip()
    return out or None


def paths_command(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
    map_file: Annotated[
        Path | None, typer.Option("--map", "-m", help="Journey map (needed for --by step/stage).")
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help="What a path is made of: event (default), step or stage.")
    ] = "event",
    start_at: Annotated[
        str | None, typer.Option("--start-at", help="Paths begin at the first occurrence of this.")
    ] = None,
    end_at: Annotated[
        str | None, typer.Option("--end-at", help="Paths end at the first occurrence of this.")
    ] = None,
    steps_before: Annotated[
        int | None,
        typer.Option("--steps-before", min=0, help="Also keep N steps before the first anchor."),
    ] = None,
    steps_after: Annotated[
        int | None, typer.Option("--steps-after", min=0, help="Keep N steps after the last anchor.")
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--depth", min=1, help="Keep at most N positions per path.")
    ] = None,
    collapse_repeats: Annotated[
        bool, typer.Option("--collapse-repeats", help="Count A A B as A B.")
    ] = False,
    session_gap: Annotated[
        str | None,
        typer.Option("--session-gap", help="Split a customer's events after this inactivity: 30m."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="Rename by glob, PATTERN=NAME ('view_*=browse'). Repeatable."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Leave this activity out of paths. Repeatable."),
    ] = None,
    show: Annotated[
        str,
        typer.Option(
            "--show",
            help="overview (default), transitions, variants, starts, ends, sankey, links or "
            "summary.",
        ),
    ] = "overview",
    top: TopOption = 20,
    sankey_top: Annotated[
        int,
        typer.Option(
            "--sankey-top", min=1, help="Activities per Sankey position; the rest is 'other'."
        ),
    ] = 8,
    fmt: FormatOption = "table",
    output: OutputOption = None,
) -> None:
    """Show the paths customers really take: directly-follows graph, variants, Sankey."""
    with guard(State.of(ctx).debug):
        check_format(fmt, output)
        choose("--show", show, PATH_VIEWS)
        choose("--by", by, ("event", "step", "stage"))
        if show == "overview" and fmt != "table":
            show = "transitions"
        from journeymap.analytics.paths import build_path_journey, summarize_paths
        from journeymap.io.workspace import open_workspace

        jmap = _load_map(map_file, f"--by {by}") if by != "event" else None
        with open_workspace(workspace, engine=engine) as ws:
            source = _events(ws.table("events"), jmap, by)
            excluded = list(exclude or [])
            if source.unmatched_share is not None:
                excluded.append("other")
            journey = build_path_journey(
                source.table,
                activity=source.column,
                start_at=start_at,
                end_at=end_at,
                steps_before=steps_before,
                steps_after=steps_after,
                depth=depth,
                collapse_repeats=collapse_repeats,
                session_gap=parse_duration("--session-gap", session_gap),
                group_by_pattern=_patterns(group),
                exclude=excluded,
            )
            # The journey is computed once; every output, percentiles included, reads it.
            with stored_table(ws.con, journey, prefix="paths") as stored:
                p = summarize_paths(stored, sankey_depth=depth or 10, sankey_top=sankey_top)
                limit = top or None
                tables = _path_tables(p, show, limit)
                results = {
                    name: fetch_table(expr, "computing paths") for name, expr in tables.items()
                }
            unmatched = (
                fetch_value(source.unmatched_share, "mapping events")
                if source.unmatched_share is not None
                else None
            )
        if fmt == "table":
            titles = {
                "summary": "Summary",
                "variants": "Variants",
                "transitions": "Transitions (directly follows)",
                "starts": "Start activities",
                "ends": "End activities",
                "sankey": "Sankey nodes",
                "links": "Sankey links",
            }
            for name, table in results.items():
                cols = None
                if name == "variants":
                    cols = ["variant", "cases", "share", "length", "sequence"]
                _print(table, titles[name], columns=cols)
        else:
            (table,) = results.values()
            emit_table(table, fmt, output)
        _note_unmatched(unmatched)


def _path_tables(p: Any, show: str, limit: int | None) -> dict[str, ir.Table]:
    def top(expr: ir.Table, order: list[Any]) -> ir.Table:
        ordered = expr.order_by(order)
        return ordered.limit(limit) if limit is not None else ordered

    ibis_desc = _desc
    views = {
        "summary": lambda: p.summary,
        "transitions": lambda: top(p.transitions, [ibis_desc("count"), "source", "target"]),
        "variants": lambda: p.name_variants(top=limit).drop("steps"),
        "starts": lambda: top(p.start_activities, [ibis_desc("cases"), "activity"]),
        "ends": lambda: top(p.end_activities, [ibis_desc("cases"), "activity"]),
        "sankey": lambda: p.sankey_nodes.order_by(["position", ibis_desc("cases"), "node"]),
        "links": lambda: p.sankey_links.order_by(
            ["position", ibis_desc("cases"), "source", "target"]
        ),
    }
    chosen = ["summary", "variants", "transitions"] if show == "overview" else [show]
    return {name: views[name]() for name in chosen}


def _desc(column: str) -> Any:
    import ibis

    return ibis.desc(column)


# --- journeymap timing ---------------------------------------------------------------

TIMING_REPORTS = ("stages", "between", "current")


def timing_command(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
    map_file: Annotated[
        Path | None, typer.Option("--map", "-m", help="Journey map whose stages are timed.")
    ] = None,
    report: Annotated[
        str,
        typer.Option(
            "--report",
            help="stages: time in each stage (default); between: from one step to another; "
            "current: where each customer is now and since when.",
        ),
    ] = "stages",
    level: Annotated[
        str, typer.Option("--level", help="Time stages (default) or steps.")
    ] = "stage",
    start: Annotated[
        str | None, typer.Option("--from", help="between: the first occurrence of this…")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="between: …to the next occurrence of this after it.")
    ] = None,
    by: Annotated[
        str,
        typer.Option("--by", help="between: --from/--to name an event (default), step or stage."),
    ] = "event",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Look at the data as it was then (default: latest event)."),
    ] = None,
    longer_than: Annotated[
        str | None,
        typer.Option("--longer-than", help="current: list only customers stuck longer: 7d."),
    ] = None,
    top: TopOption = 50,
    fmt: FormatOption = "table",
    output: OutputOption = None,
) -> None:
    """Time in each stage, time between two steps, and where customers are stuck."""
    with guard(State.of(ctx).debug):
        check_format(fmt, output)
        choose("--report", report, TIMING_REPORTS)
        choose("--level", level, ("stage", "step"))
        choose("--by", by, ("event", "step", "stage"))
        moment = parse_moment("--as-of", as_of)
        threshold = parse_duration("--longer-than", longer_than)
        if threshold is not None and report != "current":
            raise CommandOptionError("--longer-than belongs to --report current")
        from journeymap.analytics.timing import (
            find_current_stages,
            measure_stage_times,
            measure_time_between,
        )
        from journeymap.io.workspace import open_workspace

        limit = top or None
        extra: dict[str, Any] = {"report": report, "as_of": moment.isoformat() if moment else None}
        with open_workspace(workspace, engine=engine) as ws:
            if report == "between":
                if not start or not end:
                    raise CommandOptionError("--report between needs --from NAME and --to NAME")
                jmap = _load_map(map_file, f"--by {by}") if by != "event" else None
                source = _events(ws.table("events"), jmap, by)
                result = measure_time_between(
                    source.table, start=start, end=end, activity=source.column, as_of=moment
                )
                summary = fetch_table(result.summary, "timing")
                actors = result.actors.order_by([_desc("secs"), "actor_id"])
                rows = fetch_table(actors.limit(limit) if limit else actors, "timing")
                extra.update({"from": start, "to": end, "summary": summary.to_pylist()[0]})
                title = f"Time from {start} to {end}"
                shown = {"Summary": summary, "Customers (slowest first)": rows}
            else:
                jmap = _load_map(map_file, "--report " + report)
                source = _events(ws.table("events"), jmap, level)
                order = _map_order(jmap, level)
                if report == "stages":
                    times = measure_stage_times(source.table, stage=source.column, as_of=moment)
                    stages = _in_map_order(fetch_table(times.stages, "timing"), order)
                    title = f"Time in each {level}"
                    shown = {title: stages}
                else:
                    now = find_current_stages(
                        source.table,
                        stage=source.column,
                        as_of=moment,
                        stuck_longer_than=threshold,
                    )
                    stages = _in_map_order(fetch_table(now.stages, "timing"), order)
                    ranked = now.actors.order_by([_desc("secs_in_stage"), "actor_id"])
                    actors_rows = fetch_table(ranked.limit(limit) if limit else ranked, "timing")
                    title = f"Where customers are ({level})"
                    shown = {title: stages, "Customers (longest first)": actors_rows}
            unmatched = (
                fetch_value(source.unmatched_share, "mapping events")
                if source.unmatched_share is not None
                else None
            )
        if fmt == "table":
            for name, table in shown.items():
                _print(table, name)
        else:
            main = list(shown.values())[-1]
            emit_table(main, fmt, output, extra=extra)
        _note_unmatched(unmatched)


def _map_order(jmap: JourneyMap, level: str) -> list[str]:
    if level == "stage":
        return [s.id for s in jmap.stages]
    return [step.id for _, step in jmap.all_steps()]


def _in_map_order(table: pa.Table, order: list[str]) -> pa.Table:
    import pyarrow as pa

    rank = {name: i for i, name in enumerate(order)}
    rows = sorted(table.to_pylist(), key=lambda r: (rank.get(r["stage"], len(rank)), r["stage"]))
    return pa.Table.from_pylist(rows, schema=table.schema)


# --- journeymap segments -------------------------------------------------------------


def _target(text: str, flag: str) -> tuple[str, str]:
    """``event=NAME`` → (``event``, NAME); ``stage=ID`` → (``stage_id``, ID); else a step id."""
    kind, sep, name = text.partition("=")
    if sep:
        columns = {"event": "event", "step": "step_id", "stage": "stage_id"}
        if kind not in columns or not name:
            raise CommandOptionError(
                f"{flag} {text!r}: write a step id, or event=NAME, step=ID or stage=ID"
            )
        return columns[kind], name
    return "step_id", text


def segments_command(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="persona, period, or a column: region, channel, or one of --customers."
        ),
    ],
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
    map_file: Annotated[
        Path | None,
        typer.Option("--map", "-m", help="Journey map (personas, and steps named by id)."),
    ] = None,
    metric: Annotated[
        str,
        typer.Option("--metric", help="conversion (default) or time (from --from to --to)."),
    ] = "conversion",
    converted: Annotated[
        str | None,
        typer.Option(
            "--converted", help="conversion: customers who reached this step (or event=NAME)."
        ),
    ] = None,
    entered: Annotated[
        str | None,
        typer.Option(
            "--entered", help="conversion: count only customers who did this (default: all)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="time: from the first occurrence of this…")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="time: …to the next one of this.")] = None,
    period: Annotated[
        str, typer.Option("--period", help="--by period: day, week (default) or month.")
    ] = "week",
    attribution: Annotated[
        str,
        typer.Option(
            "--attribution", help="A column's value from the first (default) or last event."
        ),
    ] = "first",
    customers: Annotated[
        str | None,
        typer.Option(
            "--customers", help="A workspace table of customer attributes (one row each)."
        ),
    ] = None,
    customer_key: Annotated[
        str, typer.Option("--customer-key", help="Its column holding the actor id.")
    ] = "actor_id",
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", help="Compare every segment with this one (default: with the rest)."
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level after adjustment (default 0.05).")
    ] = 0.05,
    adjust: Annotated[
        str,
        typer.Option(
            "--adjust",
            help="holm (default; family-wise error), fdr_bh (false discovery rate), "
            "bonferroni or none.",
        ),
    ] = "holm",
    fmt: FormatOption = "table",
    output: OutputOption = None,
) -> None:
    """Break a metric down by persona, region, channel or period; flag real differences."""
    with guard(State.of(ctx).debug):
        check_format(fmt, output)
        choose("--metric", metric, ("conversion", "time"))
        choose("--adjust", adjust, ("holm", "fdr_bh", "bonferroni", "none"))
        from journeymap.analytics import segments as seg
        from journeymap.io.workspace import open_workspace

        needs_map = by == "persona"
        targets: list[tuple[str, str]] = []
        if metric == "conversion":
            if converted is None:
                raise CommandOptionError(
                    "--metric conversion needs --converted STEP (or event=NAME)"
                )
            targets = [_target(converted, "--converted")]
            if entered is not None:
                targets.append(_target(entered, "--entered"))
        else:
            if not start or not end:
                raise CommandOptionError("--metric time needs --from and --to")
            targets = [_target(start, "--from"), _target(end, "--to")]
            if targets[0][0] != targets[1][0]:
                raise CommandOptionError("--from and --to must both be steps, stages or events")
        needs_map = needs_map or any(column != "event" for column, _ in targets)
        jmap = _load_map(map_file, "this breakdown") if needs_map else None
        with open_workspace(workspace, engine=engine) as ws:
            events = ws.table("events")
            table = events
            unmatched_share = None
            if jmap is not None and any(column != "event" for column, _ in targets):
                from journeymap.analytics.mapping import map_events

                mapped = map_events(events, jmap)
                table, unmatched_share = mapped.table, mapped.unmatched_share
            attrs = ws.table(customers) if customers else None
            segments = seg.segment_actors(
                events,
                by=by,
                personas=jmap.personas if jmap is not None else (),
                customers=attrs,
                customer_key=customer_key,
                attribution=choose("--attribution", attribution, ("first", "last")),  # type: ignore[arg-type]
                period=choose("--period", period, ("day", "week", "month")),  # type: ignore[arg-type]
            )
            comparison: ConversionComparison | ValueComparison
            if metric == "conversion":
                per_actor = _conversion_per_actor(table, targets)
                counts = seg.count_conversions(seg.attach_segments(per_actor, segments))
                rows = fetch_table(counts.order_by("segment"), "computing segments").to_pylist()
                comparison = seg.compare_conversion(
                    rows,
                    reference=reference,
                    alpha=alpha,
                    adjust=adjust,  # type: ignore[arg-type]
                )
            else:
                from journeymap.analytics.timing import measure_time_between

                column = targets[0][0]
                between = measure_time_between(
                    table, start=targets[0][1], end=targets[1][1], activity=column
                )
                values = seg.summarize_values(
                    seg.attach_segments(between.actors, segments), value="secs"
                )
                rows = fetch_table(values.order_by("segment"), "computing segments").to_pylist()
                comparison = seg.compare_values(
                    rows,
                    reference=reference,
                    alpha=alpha,
                    adjust=adjust,  # type: ignore[arg-type]
                )
            unmatched = (
                fetch_value(unmatched_share, "mapping events")
                if unmatched_share is not None
                else None
            )
        result = _comparison_table(comparison, rows)
        notes = _comparison_notes(comparison)
        if fmt == "table":
            title = f"{'Conversion' if metric == 'conversion' else 'Time'} by {by}"
            _print(result, title)
            for note in notes:
                err_console.print(f"[dim]{escape(note)}[/dim]")
        else:
            extra = {"by": by, "metric": metric, "alpha": alpha, "adjust": adjust, "notes": notes}
            emit_table(result, fmt, output, extra=extra)
        _note_unmatched(unmatched)


def _conversion_per_actor(table: ir.Table, targets: list[tuple[str, str]]) -> ir.Table:
    """One row per actor: ``converted`` (reached the first target), limited to those who
    reached the second target when there is one."""
    (conv_col, conv_name), *rest = targets
    for column, _ in targets:
        if column not in table.columns:
            raise CommandOptionError(f"the events have no {column!r}; pass --map FILE")
    aggs: dict[str, Any] = {"converted": (table[conv_col] == conv_name).fill_null(False).any()}
    if rest:
        ((ent_col, ent_name),) = rest
        aggs["_entered"] = (table[ent_col] == ent_name).fill_null(False).any()
    per_actor = table.group_by("actor_id").agg(**aggs)
    if rest:
        per_actor = per_actor.filter(per_actor._entered).drop("_entered")
    return per_actor


def _comparison_table(comparison: Any, rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    from journeymap.analytics.segments import ConversionComparison

    shifts = {s.segment: s for s in comparison.shifts}
    out: list[dict[str, Any]] = []
    if isinstance(comparison, ConversionComparison):
        for r in comparison.rates:
            s = shifts.get(r.segment)
            out.append(
                {
                    "segment": r.segment,
                    "actors": r.trials,
                    "converted": r.successes,
                    "rate": r.rate,
                    "rate_low": r.interval.low,
                    "rate_high": r.interval.high,
                    "reference": s.reference if s else None,
                    "diff_rate": s.difference if s else None,
                    "diff_low": s.interval.low if s and s.interval else None,
                    "diff_high": s.interval.high if s and s.interval else None,
                    "z": s.statistic if s else None,
                    "p_value": s.p_value if s else None,
                    "p_adjusted": s.p_adjusted if s else None,
                    "significant": s.significant if s else False,
                }
            )
    else:
        by_name = {r["segment"]: r for r in rows}
        for m in comparison.means:
            s = shifts.get(m.segment)
            extra = by_name.get(m.segment, {})
            out.append(
                {
                    "segment": m.segment,
                    "count": m.count,
                    "mean_secs": m.mean,
                    "median_secs": extra.get("median"),
                    "p90_secs": extra.get("p90"),
                    "reference": s.reference if s else None,
                    "difference_secs": s.difference if s else None,
                    "low_secs": s.interval.low if s and s.interval else None,
                    "high_secs": s.interval.high if s and s.interval else None,
                    "t": s.statistic if s else None,
                    "p_value": s.p_value if s else None,
                    "p_adjusted": s.p_adjusted if s else None,
                    "significant": s.significant if s else False,
                }
            )
    return pa.Table.from_pylist(out)


def _comparison_notes(comparison: Any) -> list[str]:
    from journeymap.analytics.segments import ConversionComparison

    control = {
        "holm": "Holm's method keeps the chance of any false flag at or below",
        "bonferroni": "Bonferroni keeps the chance of any false flag at or below",
        "fdr_bh": "Benjamini-Hochberg keeps the expected share of false flags at or below",
        "none": "p-values are not adjusted for the number of comparisons; each test uses",
    }[comparison.adjust]
    head = f"{len(comparison.flagged)} of {len(comparison.shifts)} differences significant"
    notes = [f"{head}; {control} alpha = {comparison.alpha}"]
    if isinstance(comparison, ConversionComparison):
        chi = comparison.chi_square
        if chi.p_value is not None:
            caution = "" if chi.reliable else " (some expected counts are below 5: approximate)"
            notes.append(
                f"chi-square that all segments convert alike: {chi.statistic:.3f} on {chi.dof} "
                f"df, p = {chi.p_value:.4g}{caution}"
            )
    else:
        notes.append("means compared with Welch's t-test; medians are shown, not tested")
    return notes
