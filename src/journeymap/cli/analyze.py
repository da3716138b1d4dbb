"""``journeymap analyze``: the map measured against the data, as an evidenced map and a report.

The command brings the data in (files given with ``--events``, ``--feedback`` and
``--links`` go into a workspace, ``OUT/workspace`` unless ``-w`` names one), runs
:func:`journeymap.engines.analysis.analyze_journey` and writes what it found:
``OUT/<map-id>.evidenced.json``, ``OUT/report.html`` (and ``report.pdf``), ``OUT/map.svg``
(and ``map.png``) and the report's charts under ``OUT/charts/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from journeymap.cli.options import (
    CommandOptionError,
    format_share,
    parse_duration,
    parse_moment,
    print_wide,
)
from journeymap.cli.output import console, err_console, guard
from journeymap.cli.state import State
from journeymap.errors import DataImportError, JourneyError

if TYPE_CHECKING:
    from journeymap.engines.analysis import AnalysisOptions, PreferenceSpec
    from journeymap.insights.evidence import EvidencedMap
    from journeymap.io.importers.contract import ContractTable
    from journeymap.io.workspace import ImportReport, Workspace
    from journeymap.model import JourneyMap

# Ibis, pyarrow, the engines and the report load when the command runs, not when
# `journeymap --help` does.

__all__ = [
    "Written",
    "analyze_command",
    "contract_table_of",
    "import_contract_file",
    "parse_preference",
    "print_summary",
    "run_analysis",
    "write_outputs",
]


class AnalyzeError(JourneyError, ValueError):
    """Input to ``journeymap analyze`` that cannot be used."""


# --- files already in the contract's shape -------------------------------------------


def contract_table_of(path: Path) -> ContractTable | None:
    """Which contract table a CSV, Parquet or JSONL file already is, by its columns (or None).

    Events need ``actor_id, actor_kind, ts, event`` and ``properties``; identity links
    ``id_a, kind_a, id_b, kind_b``; feedback ``actor_id, actor_kind, ts, scale, score``.
    Such files (the demo company's, or an export of another workspace) load as they
    are, keeping identifier kinds, ids and properties (see
    :mod:`journeymap.io.importers.contract`).
    """
    from journeymap.io.importers.contract import contract_table_of as table_of

    return table_of(path)


def import_contract_file(
    ws: Workspace, path: Path, *, table: ContractTable, chunk_rows: int = 500_000
) -> ImportReport:
    """Import a file already shaped like the contract table ``table``.

    The file goes through :func:`journeymap.io.workspace.import_source` with the
    ``contract`` format: atomic, idempotent (the same file twice loads nothing new) and
    every row loaded or quarantined with its row number. A file whose columns are
    another table's is refused, naming the flag to give it with.
    """
    from journeymap.io.importers.base import ImportOptions
    from journeymap.io.workspace import import_source

    if not path.exists():
        raise DataImportError(f"{path}: no such file; check the path given with --{_flag(table)}")
    shaped = contract_table_of(path)
    if shaped != table:
        from journeymap.io.importers.contract import CONTRACT_COLUMNS, columns_of

        if shaped is not None:
            raise DataImportError(
                f"{path}: has the columns of {shaped.replace('_', ' ')}, but was given with "
                f"--{_flag(table)}; give it with --{_flag(shaped)}"
            )
        raise DataImportError(
            f"{path}: its columns are not those of {table.replace('_', ' ')}; columns are: "
            f"{', '.join(columns_of(path)) or 'none'}; {table.replace('_', ' ')} need "
            f"{', '.join(CONTRACT_COLUMNS[table])}"
        )
    options = ImportOptions(chunk_rows=chunk_rows)
    return import_source(ws, path, fmt="contract", options=options, progress=False)


def import_file(ws: Workspace, path: Path, *, kind: ContractTable) -> ImportReport:
    """Import one file given as ``kind``: as it is when it already has the contract's
    columns, else through the ordinary importers (events by suffix, feedback as survey
    answers). Identity links must have the contract's columns."""
    from journeymap.io.importers.base import ImportOptions
    from journeymap.io.importers.contract import columns_of
    from journeymap.io.workspace import import_source

    if not path.exists():
        raise DataImportError(f"{path}: no such file; check the path given with --{_flag(kind)}")
    shaped = contract_table_of(path)
    if shaped is not None:
        return import_contract_file(ws, path, table=kind)
    if kind == "identity_links":
        raise DataImportError(
            f"{path}: identity links need the columns id_a, kind_a, id_b, kind_b (and ts); "
            f"its columns are: {', '.join(columns_of(path)) or 'unknown'}; for links inside "
            "an order table use journeymap import --mapping with a links: section"
        )
    fmt = "feedback" if kind == "feedback" else None
    return import_source(ws, path, fmt=fmt, options=ImportOptions(), progress=False)


def _flag(kind: str) -> str:
    return {"events": "events", "feedback": "feedback", "identity_links": "links"}[kind]


# --- options ------------------------------------------------------------------------

_PREFERENCE = re.compile(r"^\s*([^=]+?)\s*=\s*([^@]+?)\s*(?:@\s*(.+?)\s*)?$")


def parse_preference(text: str) -> PreferenceSpec:
    """``'payment method=properties.method@payment'``: label, choice field, event names.

    >>> parse_preference("support channel=channel@support_wait,chat_start")
    PreferenceSpec(label='support channel', choice='channel', events_named=('support_wait', 'chat_start'))
    """
    from journeymap.engines.analysis import PreferenceSpec

    match = _PREFERENCE.match(text)
    if not match:
        raise CommandOptionError(
            f"--prefer {text!r}: write LABEL=FIELD[@EVENT,...], e.g. "
            "'payment method=properties.method@payment'"
        )
    label, choice, named = match.groups()
    events = tuple(e.strip() for e in (named or "").split(",") if e.strip())
    return PreferenceSpec(label=label, choice=choice, events_named=events)


# --- running ------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """The files one analysis wrote, by what they are."""

    evidenced: Path
    files: tuple[tuple[str, Path], ...] = field(default=())


@contextmanager
def _phases(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A rich status line that shows the current phase (quiet when not a terminal)."""
    if not enabled or not err_console.is_terminal:
        yield lambda text: err_console.print(f"[dim]· {escape(text)}[/dim]")
        return
    with err_console.status("analysing") as status:

        def show(text: str) -> None:
            err_console.print(f"[dim]· {escape(text)}[/dim]")
            status.update(escape(text))

        yield show


def run_analysis(
    ws: Workspace,
    jmap: JourneyMap,
    options: AnalysisOptions,
    *,
    progress: Callable[[str], None],
) -> EvidencedMap:
    """Analyse ``jmap`` against the workspace's events and feedback."""
    from journeymap.engines.analysis import analyze_journey
    from journeymap.io.workspace import list_tables

    feedback = ws.table("feedback") if "feedback" in list_tables(ws.con) else None
    return analyze_journey(
        ws.con,
        jmap,
        events=ws.table("events"),
        feedback=feedback,
        options=options,
        progress=progress,
    )


def write_outputs(
    ev: EvidencedMap,
    out: Path,
    *,
    lang: str | None = None,
    pdf: bool = True,
    png: bool = True,
    map_pdf: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Written:
    """Write into ``out``: ``<map-id>.evidenced.json``, the report (``report.html``,
    ``report.pdf`` with ``pdf``, ``map.svg``, ``charts/*.svg``), ``map.html`` and, when
    asked, ``map.png`` and ``map.pdf`` (the evidenced map alone)."""
    from journeymap.insights import dump_evidenced
    from journeymap.io.export import export_pdf, export_png
    from journeymap.io.report import build_report, write_report
    from journeymap.render import render_html

    say = progress or (lambda _: None)
    out.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, Path]] = []
    evidenced = out / f"{ev.map.id}.evidenced.json"
    text = json.dumps(dump_evidenced(ev), ensure_ascii=False, indent=2) + "\n"
    evidenced.write_text(text, encoding="utf-8")
    files.append(("evidenced map (JSON)", evidenced))
    say("writing the report" + (" and its PDF" if pdf else ""))
    report = build_report(ev, lang=lang, pdf=pdf)
    for path in write_report(report, out, stem="report"):
        files.append((_describe(path, out), path))
    say("drawing the evidenced map")
    page = render_html(ev.map, evidence=ev)
    (out / "map.html").write_text(page, encoding="utf-8")
    files.append(("map (HTML)", out / "map.html"))
    if png:
        (out / "map.png").write_bytes(export_png(page))
        files.append(("map (PNG)", out / "map.png"))
    if map_pdf:
        (out / "map.pdf").write_bytes(export_pdf(page))
        files.append(("map (PDF)", out / "map.pdf"))
    return Written(evidenced=evidenced, files=tuple(files))


def _describe(path: Path, out: Path) -> str:
    kind = path.suffix.lstrip(".").upper()
    if path.parent != out:
        return f"chart: {path.stem} ({kind})"
    return f"{'map' if path.stem == 'map' else 'report'} ({kind})"


# --- printing -----------------------------------------------------------------------


def print_summary(ev: EvidencedMap) -> None:
    """As-of, customers, the biggest drop-off, top pain points and opportunities."""
    snap = ev.snapshot
    names = {step.id: step.name for _, step in ev.map.all_steps()}
    console.print(
        f"[bold]{escape(ev.map.title)}[/bold] as of {snap.as_of:%Y-%m-%d %H:%M} UTC: "
        f"{snap.customers:,} customers, {snap.events:,} events, {snap.feedback:,} answers "
        f"({snap.engine})"
    )
    worst = biggest_drop_off(ev)
    if worst is not None:
        console.print(
            f"biggest drop-off: [bold]{escape(names.get(worst.step_id, worst.step_id))}[/bold] "
            f"({worst.step_id}): {format_share(worst.drop_off)} of {worst.converted + worst.dropped:,} "
            "customers did not go on to the next step"
        )
    if ev.pain_points:
        table = Table(title="top pain points (from data)", title_justify="left")
        for column in ("#", "pain point", "severity", "customers", "confidence"):
            table.add_column(column)
        for i, p in enumerate(ev.pain_points[:3], 1):
            table.add_row(str(i), escape(p.title), str(p.severity), f"{p.affected:,}", p.confidence)
        print_wide(table)
    if ev.opportunities:
        table = Table(title="top opportunities", title_justify="left")
        for column in ("#", "opportunity", "score", "quadrant", "customers"):
            table.add_column(column)
        for o in sorted(ev.opportunities, key=lambda o: o.rank)[:3]:
            table.add_row(
                str(o.rank),
                escape(o.title),
                f"{o.score:.2f}",
                o.quadrant,
                f"{o.customers_affected:,}",
            )
        print_wide(table)
    for note in ev.notes:
        err_console.print(f"[dim]note: {escape(note)}[/dim]")


def biggest_drop_off(ev: EvidencedMap) -> Any | None:
    """The funnel's biggest drop-off, by the rule the report uses (steps before the key
    transaction; see :func:`journeymap.insights.find_biggest_drop_off`)."""
    from journeymap.insights.funnel import find_biggest_drop_off

    return find_biggest_drop_off(ev.map, ev.snapshot)


def print_written(written: Written, *, title: str = "written") -> None:
    """A table of the files written and where they are."""
    console.print(f"[bold]{escape(title)}[/bold]")
    table = Table()
    table.add_column("what")
    table.add_column("file")
    for what, path in written.files:
        table.add_row(what, escape(str(path)))
    print_wide(table)


# --- the command ----------------------------------------------------------------------


def _options(
    as_of: str | None,
    window: str,
    prefer: Sequence[str],
    support_step: Sequence[str],
    scoring: str,
    formula: str | None,
) -> AnalysisOptions:
    from journeymap.engines.analysis import AnalysisOptions

    span = parse_duration("--window", window)
    if scoring not in ("impact_feasibility", "rice", "custom"):
        raise CommandOptionError(
            f"--scoring {scoring!r}: choose impact_feasibility, rice or custom"
        )
    if scoring == "custom" and not formula:
        raise CommandOptionError("--scoring custom needs --formula, e.g. 'impact * feasibility'")
    return AnalysisOptions(
        as_of=parse_moment("--as-of", as_of),
        window=span if isinstance(span, timedelta) else timedelta(days=30),
        preferences=tuple(parse_preference(p) for p in prefer),
        support_steps=tuple(support_step) or None,
        scoring=scoring,  # type: ignore[arg-type]
        formula=formula,
    )


def analyze_command(
    ctx: typer.Context,
    map_file: Annotated[Path, typer.Argument(help="The journey map to measure (.yaml or .json).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the evidenced map and the report.")
    ],
    events: Annotated[
        list[Path] | None,
        typer.Option("--events", help="Event files to import first (repeatable)."),
    ] = None,
    feedback: Annotated[
        list[Path] | None,
        typer.Option("--feedback", help="Survey or review files to import first (repeatable)."),
    ] = None,
    links: Annotated[
        list[Path] | None,
        typer.Option(
            "--links", help="Identity-link files (id_a, kind_a, id_b, kind_b, ts; repeatable)."
        ),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="Workspace to read (default: OUT/workspace for --events)."
        ),
    ] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Ibis connection URL, e.g. pyspark://local[2].")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Measure as of this date or time (default: latest event)."),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="How long after a step the next may come: 30d.")
    ] = "30d",
    prefer: Annotated[
        list[str] | None,
        typer.Option(
            "--prefer",
            help="A choice to compare between countries: 'LABEL=FIELD@EVENT,...', e.g. "
            "'payment method=properties.method@payment'. Repeatable.",
        ),
    ] = None,
    support_step: Annotated[
        list[str] | None,
        typer.Option("--support-step", help="A step id that is a support contact (repeatable)."),
    ] = None,
    scoring: Annotated[
        str, typer.Option("--scoring", help="impact_feasibility (default), rice or custom.")
    ] = "impact_feasibility",
    formula: Annotated[
        str | None,
        typer.Option("--formula", help="Custom score, e.g. 'impact * feasibility / effort'."),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Report language: en or ko (default: the map's).")
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf.")] = True,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Also write map.png.")] = True,
) -> None:
    """Measure a map against customer data: reach, conversion, time and satisfaction per
    step, pain points found in the data, ranked opportunities; writes the evidenced map
    (JSON), a report (HTML, PDF) and the map pictures."""
    with guard(State.of(ctx).debug):
        from journeymap.io.maps import load_map
        from journeymap.io.workspace import init_workspace, open_workspace

        if lang is not None and lang not in ("en", "ko"):
            raise CommandOptionError(f"--lang {lang!r}: choose en or ko")
        options = _options(as_of, window, prefer or [], support_step or [], scoring, formula)
        jmap = load_map(map_file)
        given = [("events", p) for p in events or []]
        given += [("feedback", p) for p in feedback or []]
        given += [("identity_links", p) for p in links or []]
        for kind, path in given:
            if not path.exists():
                raise DataImportError(
                    f"{path}: no such file; check the path given with --{_flag(kind)}"
                )
        if workspace is None and not events:
            raise AnalyzeError(
                "no data: give event files with --events FILE, or a workspace with -w DIR"
            )
        folder = workspace if workspace is not None else output / "workspace"
        if workspace is None and not (folder / "journeymap.toml").exists():
            ws = init_workspace(folder, engine=engine)
            err_console.print(f"created workspace {escape(str(folder))}")
        else:
            ws = open_workspace(folder, engine=engine)
        with ws:
            from journeymap.cli.data import print_report

            for kind, path in given:
                print_report(import_file(ws, path, kind=kind))  # type: ignore[arg-type]
            with _phases(True) as say:
                ev = run_analysis(ws, jmap, options, progress=say)
        with _phases(True) as say:
            written = write_outputs(ev, output, lang=lang, pdf=pdf, png=png, progress=say)
        print_summary(ev)
        print_written(written, title=f"written to {output}")
