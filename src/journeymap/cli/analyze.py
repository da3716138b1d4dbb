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
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from journeymap.cli.options import CommandOptionError, parse_duration, parse_moment, print_wide
from journeymap.cli.output import console, err_console, guard
from journeymap.cli.state import State
from journeymap.errors import DataImportError, JourneyError

if TYPE_CHECKING:
    import pyarrow as pa

    from journeymap.engines.analysis import AnalysisOptions, PreferenceSpec
    from journeymap.insights.evidence import EvidencedMap
    from journeymap.io.workspace import ImportReport, Workspace
    from journeymap.model import JourneyMap

# Ibis, pyarrow, the engines and the report load when the command runs, not when
# `journeymap --help` does.

__all__ = [
    "ContractTable",
    "Written",
    "analyze_command",
    "contract_table_of",
    "import_contract_file",
    "parse_preference",
    "print_summary",
    "run_analysis",
    "write_outputs",
]

ContractTable = Literal["events", "identity_links", "feedback"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("actor_id", "ts", "event"),
    "identity_links": ("id_a", "kind_a", "id_b", "kind_b"),
    "feedback": ("actor_id", "ts"),
}
"""Columns that make a file one of the contract's tables (the rest may be missing)."""

_MISSING_REASON = {
    "actor_id": "missing_actor",
    "ts": "missing_timestamp",
    "event": "missing_event",
    "id_a": "missing_identifier",
    "id_b": "missing_identifier",
}


class AnalyzeError(JourneyError, ValueError):
    """Input to ``journeymap analyze`` that cannot be used."""


# --- files already in the contract's shape -------------------------------------------


def _columns_of(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        try:
            return list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise DataImportError(f"{path}: not a readable Parquet file: {exc}") from None
    if name.endswith(".csv"):
        try:
            with path.open(encoding="utf-8") as handle:
                header = handle.readline()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataImportError(f"{path}: cannot read: {exc}") from None
        return [c.strip().strip('"') for c in header.rstrip("\r\n").split(",")]
    return []


def contract_table_of(path: Path) -> ContractTable | None:
    """Which contract table a Parquet or CSV file already is, by its columns (or None).

    Events need ``actor_id, actor_kind, ts, event`` and ``properties``; identity links
    ``id_a, kind_a, id_b, kind_b``; feedback ``actor_id, actor_kind, ts, scale, score``.
    Such files (the demo company's, or an export of another workspace) load as they
    are, keeping identifier kinds, ids and properties.
    """
    columns = set(_columns_of(path))
    if {"id_a", "kind_a", "id_b", "kind_b"} <= columns:
        return "identity_links"
    if {"actor_id", "actor_kind", "ts", "event", "properties"} <= columns:
        return "events"
    if {"actor_id", "actor_kind", "ts", "scale", "score"} <= columns:
        return "feedback"
    return None


def _read_batches(path: Path, chunk_rows: int) -> Iterator[pa.Table]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.name.lower().endswith(".csv"):
        names = _columns_of(path)
        types = {n: pa.string() for n in names if n not in ("ts", "score")}
        options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        table = pacsv.read_csv(path, convert_options=options)
        yield from (pa.Table.from_batches([b]) for b in table.to_batches(chunk_rows))
        return
    handle = pq.ParquetFile(path)
    for batch in handle.iter_batches(batch_size=chunk_rows):
        yield pa.Table.from_batches([batch])


def _shape(
    chunk: pa.Table, table: ContractTable, first_row: int, *, where: str = "row"
) -> tuple[pa.Table, pa.Table]:
    """The chunk in the reader contract's schema, and its quarantined rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from journeymap.io.importers.base import (
        EVENTS_ARROW,
        FEEDBACK_ARROW,
        LINKS_ARROW,
        quarantine_table,
    )

    schema = {"events": EVENTS_ARROW, "feedback": FEEDBACK_ARROW, "identity_links": LINKS_ARROW}[
        table
    ]
    n = chunk.num_rows
    rows = pa.array(np.arange(first_row, first_row + n, dtype=np.int64))
    bad = np.zeros(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)
    arrays = []
    for f in schema:
        if f.name == "row_number":
            arrays.append(rows)
        elif f.name in chunk.column_names:
            column = chunk[f.name]
            if pa.types.is_timestamp(f.type) and not pa.types.is_timestamp(column.type):
                column, unreadable = _parse_times(column.to_pylist())
                reasons[unreadable] = "bad_timestamp"
                bad |= unreadable
            arrays.append(pc.cast(column, f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    shaped = pa.Table.from_arrays(arrays, schema=schema)
    for name in reversed(_REQUIRED[table]):
        if name not in shaped.column_names:
            continue
        missing = np.asarray(pc.is_null(shaped[name]).to_numpy(zero_copy_only=False))
        reasons[missing & ~bad] = _MISSING_REASON.get(name, f"missing_{name}")
        bad |= missing
    quarantined: list[tuple[int, str, str, str]] = []
    for i in np.flatnonzero(bad):
        raw = json.dumps(chunk.slice(int(i), 1).to_pylist()[0], default=str, ensure_ascii=False)
        reason = str(reasons[i])
        detail = (
            "ts is not an ISO 8601 time (e.g. 2024-06-30T18:00:00Z)"
            if reason == "bad_timestamp"
            else f"no value for {reason.removeprefix('missing_')}"
        )
        place = f"{where}{'' if where.endswith(':') else ' '}{first_row + int(i)}"
        message = f"{place}: {detail}; fix it and import again"
        quarantined.append((first_row + int(i), raw, reason, message))
    return shaped.filter(pa.array(~bad)), quarantine_table(quarantined)


def _parse_times(values: list[Any]) -> tuple[pa.Array, Any]:
    """ISO 8601 texts as UTC times (no offset means UTC); unreadable ones null and flagged."""
    import numpy as np
    import pyarrow as pa

    out: list[datetime | None] = []
    unreadable = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None or value == "":
            out.append(None)
            continue
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            unreadable[i] = True
            out.append(None)
            continue
        out.append(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC))
    return pa.array(out, pa.timestamp("us", tz="UTC")), unreadable


def import_contract_file(
    ws: Workspace, path: Path, *, table: ContractTable, chunk_rows: int = 500_000
) -> ImportReport:
    """Import a file already shaped like a contract table, atomically and idempotently.

    Rows without a required value (an actor, a time, an event name; both identifiers
    of a link) are quarantined with their row number (1-based); the rest load with
    their own ids, identifier kinds and properties. The same file imported twice loads
    nothing new (``already_imported``), as with ``journeymap import``.
    """
    import hashlib

    from journeymap.engines import BatchLoader, SqlSession
    from journeymap.io.workspace import ImportReport

    if not path.is_file():
        raise DataImportError(f"{path}: no such file")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    content_hash = digest.hexdigest()
    key = f"contract:{table}"
    session = SqlSession(ws.con, what=f"importing {path}")
    earlier = session.execute(
        "SELECT batch FROM imports WHERE content_hash = ? AND "
        "json_extract_string(report, '$.options_key') = ? ORDER BY started LIMIT 1",
        [content_hash, key],
    )
    if earlier:
        return ImportReport(
            batch=str(earlier[0][0]),
            source=str(path),
            format=key,
            rows_read=0,
            rows_loaded=0,
            rows_quarantined=0,
            duplicates_skipped=0,
            quarantined_by_reason={},
            already_imported=True,
            content_hash=content_hash,
        )
    started = datetime.now(UTC)
    batch = f"{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
    is_csv = path.name.lower().endswith(".csv")
    label = f"{path.name}:" if is_csv else f"{path.name} row "
    with session.transaction():
        loader = BatchLoader(session, batch, label=label)
        row = 2 if is_csv else 1  # CSV rows are told by line, after the header line
        for chunk in _read_batches(path, chunk_rows):
            shaped, quarantine = _shape(
                chunk, table, row, where=f"{path.name}:" if is_csv else f"{path.name} row"
            )
            row += chunk.num_rows
            loader.add(
                rows_read=chunk.num_rows,
                rows_loaded=shaped.num_rows,
                quarantine=quarantine,
                events=shaped if table == "events" else None,
                feedback=shaped if table == "feedback" else None,
                identity_links=shaped if table == "identity_links" else None,
            )
        result = loader.finish()
        report = ImportReport(
            batch=batch,
            source=str(path),
            format=key,
            rows_read=result.rows_read,
            rows_loaded=result.rows_loaded,
            rows_quarantined=result.rows_quarantined,
            duplicates_skipped=result.duplicates_skipped,
            quarantined_by_reason=result.quarantined_by_reason,
            already_imported=False,
            events_loaded=result.events_loaded,
            feedback_loaded=result.feedback_loaded,
            identity_links_loaded=result.identity_links_loaded,
            notes=result.notes,
            content_hash=content_hash,
        )
        stored = {
            **{k: v for k, v in report.as_dict().items() if not k.startswith("rows_")},
            "options_key": key,
            "options": {"contract_table": table},
        }
        session.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch,
                str(path),
                key,
                content_hash,
                report.rows_read,
                report.rows_loaded,
                report.rows_quarantined,
                report.duplicates_skipped,
                started,
                datetime.now(UTC),
                json.dumps(stored, sort_keys=True, default=str),
            ],
        )
    return report


def import_file(ws: Workspace, path: Path, *, kind: ContractTable) -> ImportReport:
    """Import one file given as ``kind``: as it is when it already has the contract's
    columns, else through the ordinary importers (events by suffix, feedback as survey
    answers). Identity links must have the contract's columns."""
    from journeymap.io.importers.base import ImportOptions
    from journeymap.io.workspace import import_source

    if not path.exists():
        raise DataImportError(f"{path}: no such file; check the path given with --{_flag(kind)}")
    shaped = contract_table_of(path)
    if shaped is not None:
        if shaped != kind:
            raise DataImportError(
                f"{path}: has the columns of {shaped.replace('_', ' ')}, but was given with "
                f"--{_flag(kind)}; give it with --{_flag(shaped)}"
            )
        return import_contract_file(ws, path, table=kind)
    if kind == "identity_links":
        raise DataImportError(
            f"{path}: identity links need the columns id_a, kind_a, id_b, kind_b (and ts); "
            f"its columns are: {', '.join(_columns_of(path)) or 'unknown'}; for links inside "
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


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


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
            f"({worst.step_id}): {_pct(worst.drop_off)} of {worst.converted + worst.dropped:,} "
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
    """The step with the highest drop-off among those with at least 30 known outcomes
    (or any known outcome when none has that many)."""
    known = [s for s in ev.snapshot.steps if s.drop_off is not None]
    solid = [s for s in known if s.converted + s.dropped >= 30] or known
    return max(solid, key=lambda s: (s.drop_off or 0.0, s.dropped), default=None)


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
