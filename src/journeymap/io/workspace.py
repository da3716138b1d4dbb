"""The workspace: a folder with a settings file and a DuckDB database of customer data.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp()) / "shop"
>>> with init_workspace(folder) as ws:
...     sorted(list_tables(ws.con))[:3]
['dictionary', 'events', 'feedback']

``journeymap init DIR`` creates ``DIR/journeymap.toml`` and ``DIR/journey.duckdb`` with
the event contract's tables; every other command opens the workspace with
:func:`open_workspace`. :func:`import_source` brings one file in:

- **atomic**: one DuckDB transaction per import; a failure or a killed process leaves
  the workspace exactly as it was;
- **idempotent**: a file whose bytes (SHA-256) were imported before with the same
  options is not read again (``already_imported``); events whose ``event_id`` is already
  in the workspace are skipped and counted (``duplicates_skipped``), so overlapping
  exports load each event once;
- **accounted**: every input row is loaded or quarantined (``loaded + quarantined ==
  read`` is checked before committing), and the report is stored in ``imports``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import ibis.expr.types as ir
from ibis import BaseBackend
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from journeymap.engines import (
    DATABASE_FILE,
    BatchLoader,
    SqlSession,
    connect,
    ensure_contract,
    is_duckdb,
)
from journeymap.errors import JourneyError
from journeymap.io.importers.base import ImportChunk, ImportOptions
from journeymap.io.importers.registry import detect_format, load_reader
from journeymap.io.importers.tabular import check_file, load_mapping_file
from journeymap.io.importers.timestamps import check_timezone

__all__ = [
    "SETTINGS_FILE",
    "ImportReport",
    "Workspace",
    "WorkspaceError",
    "WorkspaceSettings",
    "import_source",
    "init_workspace",
    "list_tables",
    "open_workspace",
]

SETTINGS_FILE = "journeymap.toml"
PROGRESS_MIN_BYTES = 8 << 20
"""Files smaller than this import without a progress bar (they take a moment)."""

_SETTINGS_TEMPLATE = """\
# A journeymap workspace: {database} in this folder holds the imported customer data.
# Import with `journeymap import FILE`; see docs/importing.md.

[workspace]
version = 1
created = "{created}"

[engine]
# url = "pyspark://local[2]"          # run analyses on another Ibis engine
# memory_limit = "8GiB"               # DuckDB's memory limit (default: 80% of RAM)
# max_temp_directory_size = "50GiB"   # spill limit (default: half the free disk space)
# threads = 2                         # default: all cores
"""


class WorkspaceError(JourneyError, OSError):
    """A folder is not a workspace, is one already, or its settings cannot be read."""


@dataclass(frozen=True)
class WorkspaceSettings:
    """What ``journeymap.toml`` says (the ``[engine]`` table)."""

    engine: str | None = None
    memory_limit: str | None = None
    max_temp_directory_size: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class Workspace:
    """An open workspace: its folder, settings and engine (an Ibis backend).

    Close it when done (or use it as a context manager): DuckDB lets one process at a
    time write to the database file.
    """

    path: Path
    con: BaseBackend
    settings: WorkspaceSettings = field(default_factory=WorkspaceSettings)

    def table(self, name: str) -> ir.Table:
        """A table of the workspace as an Ibis expression (``events``, ``feedback``, ...)."""
        names = list_tables(self.con)
        if name not in names:
            raise WorkspaceError(
                f"{self.path}: no table {name!r}; tables are: {', '.join(sorted(names))}"
            )
        return self.con.table(name)

    def close(self) -> None:
        """Release the database (and its file lock)."""
        self.con.disconnect()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def list_tables(con: BaseBackend) -> list[str]:
    """The tables of an engine (temporary ones left out on DuckDB)."""
    if is_duckdb(con):
        return sorted(SqlSession(con).table_names())
    return sorted(con.list_tables())


def _read_settings(path: Path) -> WorkspaceSettings:
    file = path / SETTINGS_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{file}: not valid TOML: {exc}; fix or recreate the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{file}: cannot read: {exc}") from None
    engine = data.get("engine", {})
    if not isinstance(engine, dict):
        raise WorkspaceError(f"{file}: [engine] must be a table")
    known = {f.name for f in fields(WorkspaceSettings)} - {"engine"} | {"url"}
    for key in engine:
        if key not in known:
            raise WorkspaceError(
                f"{file}: unknown setting engine.{key}; settings are: {', '.join(sorted(known))}"
            )
    threads = engine.get("threads")
    return WorkspaceSettings(
        engine=engine.get("url"),
        memory_limit=engine.get("memory_limit"),
        max_temp_directory_size=engine.get("max_temp_directory_size"),
        threads=int(threads) if threads is not None else None,
    )


def _connect(path: Path, url: str | None, settings: WorkspaceSettings) -> BaseBackend:
    con = connect(
        url,
        workspace=path,
        memory_limit=settings.memory_limit,
        max_temp_directory_size=settings.max_temp_directory_size,
        threads=settings.threads,
    )
    if is_duckdb(con):
        ensure_contract(SqlSession(con, what=f"opening the workspace {path}"))
    return con


def init_workspace(path: Path, *, engine: str | None = None) -> Workspace:
    """Create a workspace in ``path`` (made if missing); refuses to overwrite one.

    ``engine`` (an Ibis URL) is written to the settings as the workspace's engine.
    """
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path}: is a file; give a folder for the workspace")
    for name in (SETTINGS_FILE, DATABASE_FILE):
        if (path / name).exists():
            raise WorkspaceError(
                f"{path}: is already a journeymap workspace ({name} exists); use it with "
                f"--workspace {path}, or choose another folder"
            )
    path.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = _SETTINGS_TEMPLATE.format(database=DATABASE_FILE, created=created)
    if engine:
        text = text.replace("[engine]\n", f"[engine]\nurl = {json.dumps(engine)}\n", 1)
    settings_file = path / SETTINGS_FILE
    settings_file.write_text(text, encoding="utf-8")
    settings = WorkspaceSettings(engine=engine)
    try:
        con = _connect(path, engine, settings)
    except BaseException:
        settings_file.unlink(missing_ok=True)
        (path / DATABASE_FILE).unlink(missing_ok=True)
        raise
    return Workspace(path=path, con=con, settings=settings)


def open_workspace(path: Path = Path(), *, engine: str | None = None) -> Workspace:
    """Open the workspace in ``path``; ``engine`` (an Ibis URL) overrides its settings."""
    if not (path / SETTINGS_FILE).is_file():
        where = "this folder" if path == Path() else str(path)
        raise WorkspaceError(
            f"{where} is not a journeymap workspace (no {SETTINGS_FILE}); run "
            f"`journeymap init {path}` first, or pass --workspace DIR"
        )
    settings = _read_settings(path)
    con = _connect(path, engine or settings.engine, settings)
    return Workspace(path=path, con=con, settings=settings)


# --- importing ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What one import did. ``rows_loaded + rows_quarantined == rows_read`` always.

    ``rows_loaded`` counts input rows whose events are in the workspace after the
    import, including rows whose events were already there (``duplicates_skipped``
    counts those events). ``events_loaded`` is the number of new events (a wide row can
    give several). ``notes`` counts things worth knowing that are not rows, such as
    ``null_timestamp:delivered`` (wide rows without that milestone) or
    ``ambiguous_local_time``.
    """

    batch: str
    source: str
    format: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    duplicates_skipped: int
    quarantined_by_reason: dict[str, int]
    already_imported: bool
    events_loaded: int = 0
    feedback_loaded: int = 0
    identity_links_loaded: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    content_hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _options_key(fmt: str, options: ImportOptions) -> tuple[str, dict[str, Any]]:
    """A fingerprint of everything that changes what an import produces."""
    described: dict[str, Any] = {}
    for item in fields(ImportOptions):
        if item.name in ("chunk_rows", "max_line_bytes"):
            continue
        value = getattr(options, item.name)
        if item.name == "mapping" and value is not None:
            value = {"file": str(value), "sha256": _hash_file(Path(value))}
        described[item.name] = value
    text = json.dumps({"format": fmt, **described}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16], described


def _format_for(path: Path, fmt: str | None, options: ImportOptions) -> str:
    if fmt:
        return fmt.lower()
    if options.mapping is not None:
        data = load_mapping_file(options.mapping).data
        if "events" in data or "links" in data:
            return "wide"
        if "scores" in data or "score" in data:
            return "feedback"
    return detect_format(path)


def _label(path: Path) -> str:
    name = path.name.lower()
    return f"{path.name} row " if name.endswith((".parquet", ".pq")) else f"{path.name}:"


def import_source(
    ws: Workspace,
    path: Path,
    *,
    fmt: str | None = None,
    options: ImportOptions | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import one file into the workspace, atomically; the report of what happened.

    ``fmt`` is a format name (``csv``, ``parquet``, ``jsonl``, ``wide``, ``feedback``,
    ``segment``, ``ga4``, ``snowplow``, ``xes``, ``ocel``); by default it comes from a
    mapping file (``events:`` → wide, ``scores:`` → feedback) or the file's suffix.
    """
    options = options or ImportOptions()
    check_timezone(options.timezone)
    size = check_file(path)
    name = _format_for(path, fmt, options)
    reader = load_reader(name)
    content_hash = _hash_file(path)
    key, described = _options_key(name, options)
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
            format=name,
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
    with session.transaction():
        loader = BatchLoader(session, batch, label=_label(path))
        for chunk in _with_progress(reader(path, options), path, size, enabled=progress):
            loader.add(
                rows_read=chunk.rows_read,
                rows_loaded=chunk.rows_loaded,
                quarantine=chunk.quarantine,
                events=chunk.events,
                feedback=chunk.feedback,
                identity_links=chunk.identity_links,
                notes=chunk.notes,
            )
        result = loader.finish()
        report = ImportReport(
            batch=batch,
            source=str(path),
            format=name,
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
            "options": described,
        }
        session.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch,
                str(path),
                name,
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


def _with_progress(
    chunks: Iterator[ImportChunk], path: Path, size: int, *, enabled: bool
) -> Iterator[ImportChunk]:
    """Pass chunks through, drawing a progress bar by bytes on large files in a terminal."""
    console = Console(stderr=True)
    if not enabled or size < PROGRESS_MIN_BYTES or not console.is_terminal:
        yield from chunks
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"importing {path.name}", total=size)
        for chunk in chunks:
            if chunk.bytes_read is not None:
                bar.update(task, completed=min(chunk.bytes_read, size))
            yield chunk
