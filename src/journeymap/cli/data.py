"""Data commands: ``journeymap init`` (a workspace) and ``journeymap import`` (files into it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from journeymap.cli.output import console, err_console, guard
from journeymap.cli.state import State

if TYPE_CHECKING:
    from journeymap.io.workspace import ImportReport

# The engines and importers (Ibis, pandas, pyarrow) load when a command runs, not when
# `journeymap --help` does.

__all__ = ["import_command", "init_command", "print_report"]

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", help="Workspace folder (default: the current folder)."),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Ibis connection URL (default: the workspace's DuckDB file), e.g. duckdb://, "
        "pyspark://local[2].",
    ),
]


def init_command(
    ctx: typer.Context,
    directory: Annotated[
        Path | None, typer.Argument(help="Folder to create the workspace in (default: -w).")
    ] = None,
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
) -> None:
    """Create a workspace: a settings file and a DuckDB database for customer data."""
    target = directory if directory is not None else workspace
    with guard(State.of(ctx).debug):
        from journeymap.io.workspace import init_workspace

        ws = init_workspace(target, engine=engine)
        ws.close()
        console.print(
            f"[green]created[/green] workspace {escape(str(target))}: journeymap.toml and "
            f"journey.duckdb; next: journeymap import FILE -w {escape(str(target))}"
        )


def _extra(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        out[key.strip()] = value
    return out


def import_command(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Files to import, each atomically.")],
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="contract, csv, parquet, jsonl, wide, feedback, segment, ga4, snowplow, xes "
            "or ocel (default: from the mapping file, the file's columns or its name).",
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", "-m", help="YAML mapping file: columns, wide table or survey."),
    ] = None,
    feedback: Annotated[
        bool, typer.Option("--feedback", help="The files are survey answers (CSAT, NPS, ...).")
    ] = False,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Column of the customer identifier.")
    ] = None,
    actor_kind: Annotated[
        str | None,
        typer.Option("--actor-kind", help="Kind of identifier (default: the column's name)."),
    ] = None,
    ts: Annotated[str | None, typer.Option("--ts", help="Column of the event time.")] = None,
    event: Annotated[str | None, typer.Option("--event", help="Column of the event name.")] = None,
    event_name: Annotated[
        str | None, typer.Option("--event-name", help="One event name for every row.")
    ] = None,
    event_id: Annotated[
        str | None,
        typer.Option("--event-id", help="Column of unique event ids (default: derived)."),
    ] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Column of the channel.")] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="Column of the session id.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Column of the region.")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone", help="Zone of timestamps written without an offset (default: UTC)."
        ),
    ] = None,
    ts_format: Annotated[
        str | None,
        typer.Option("--ts-format", help="strptime format for non-ISO times, e.g. '%d/%m/%Y'."),
    ] = None,
    score: Annotated[
        str | None, typer.Option("--score", help="Feedback: column of the scores.")
    ] = None,
    scale: Annotated[
        str | None,
        typer.Option("--scale", help="Feedback: csat, nps, ces or rating (or a column of them)."),
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Feedback: column of the free text.")
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Feedback: column of the text's language.")
    ] = None,
    about: Annotated[
        str | None,
        typer.Option("--about", help="Feedback: column naming the step or stage it is about."),
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help="Text encoding of CSV and JSONL files.")
    ] = "utf-8",
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV separator (default: sniffed).")
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows per chunk held in memory.")
    ] = 100_000,
    max_line_bytes: Annotated[
        int, typer.Option("--max-line-bytes", min=1, help="Longest line accepted, in bytes.")
    ] = 10_000_000,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="KEY=VALUE for a format's own options (repeat)."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on large files.")
    ] = True,
) -> None:
    """Import event, wide-table or survey files; every row is loaded or quarantined."""
    from journeymap.io.importers.base import ImportOptions
    from journeymap.io.workspace import import_source, open_workspace

    state = State.of(ctx)
    failed = 0
    extra: dict[str, str] = _extra(option or [])
    for key, value in (
        ("score", score),
        ("scale", scale),
        ("text", text),
        ("lang", lang),
        ("about", about),
    ):
        if value is not None:
            extra[key] = value
    options = ImportOptions(
        actor=actor,
        actor_kind=actor_kind,
        ts=ts,
        event=event,
        event_id=event_id,
        channel=channel,
        session=session,
        region=region,
        timezone=timezone or "UTC",
        chunk_rows=chunk_rows,
        max_line_bytes=max_line_bytes,
        extra=extra,
        event_name=event_name,
        ts_format=ts_format,
        mapping=mapping,
        encoding=encoding,
        delimiter=delimiter,
    )
    chosen = "feedback" if feedback else fmt
    with guard(state.debug):
        ws = open_workspace(workspace, engine=engine)
    try:
        for path in files:
            try:
                with guard(state.debug):
                    report = import_source(ws, path, fmt=chosen, options=options, progress=progress)
                    print_report(report)
            except typer.Exit as exit_:
                if exit_.exit_code == 0:
                    raise
                failed += 1
                err_console.print(f"[red]{escape(str(path))}: nothing imported[/red]")
    finally:
        ws.close()
    if failed:
        raise typer.Exit(1)


def print_report(report: ImportReport) -> None:
    """The import report as a table on the console."""
    if report.already_imported:
        console.print(
            f"[yellow]{escape(report.source)}: already imported[/yellow] (batch "
            f"{report.batch}, same content and options); nothing new"
        )
        return
    table = Table(
        title=f"{escape(report.source)} ({report.format}) → batch {report.batch}",
        title_justify="left",
        show_header=False,
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("rows read", f"{report.rows_read:,}")
    table.add_row("rows loaded", f"[green]{report.rows_loaded:,}[/green]")
    colour = "red" if report.rows_quarantined else "green"
    table.add_row("rows quarantined", f"[{colour}]{report.rows_quarantined:,}[/{colour}]")
    for reason, count in report.quarantined_by_reason.items():
        table.add_row(f"  {reason}", f"{count:,}")
    table.add_row("duplicates skipped", f"{report.duplicates_skipped:,}")
    for label, value in (
        ("events written", report.events_loaded),
        ("feedback written", report.feedback_loaded),
        ("identity links written", report.identity_links_loaded),
    ):
        if value or label == "events written":
            table.add_row(label, f"{value:,}")
    for note, count in report.notes.items():
        table.add_row(f"note: {escape(note)}", f"{count:,}")
    console.print(table)
    if report.rows_quarantined:
        console.print(
            f"[yellow]{report.rows_quarantined:,} rows kept in the quarantine table (batch "
            f"{report.batch}) with their row numbers and reasons; fix and import again to "
            "load them[/yellow]"
        )
