"""The workspace: settings, the contract tables and their migration, engines, atomic imports."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from journeymap.analytics.events import CONTRACT, CONTRACT_VERSION
from journeymap.cli.app import app
from journeymap.engines import (
    SqlSession,
    connect,
    ensure_contract,
    read_contract_version,
    registered_contract_migrations,
)
from journeymap.errors import EngineError
from journeymap.io import workspace as workspace_module
from journeymap.io.importers import tabular
from journeymap.io.importers.base import ImportChunk, ImportOptions
from journeymap.io.workspace import (
    WorkspaceError,
    import_source,
    init_workspace,
    open_workspace,
)

EVENTS_CSV = "cust,when,what\nc1,2024-01-01T10:00:00Z,view\nc2,2024-01-01T11:00:00Z,buy\n"
OPTIONS = ImportOptions(actor="cust", ts="when", event="what")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(probe: Any, ws: Any) -> dict[str, int]:
    """Row counts of every table a failed import could have touched."""
    names = ["events", "quarantine", "imports", "identity_links", "feedback", "dictionary"]
    return {name: probe.count(ws, name) for name in names}


# --- creating and opening -----------------------------------------------------------


def test_init_creates_settings_and_the_contract_tables(tmp_path: Path, probe: Any) -> None:
    folder = tmp_path / "shop"
    with init_workspace(folder) as ws:
        assert (folder / "journeymap.toml").is_file() and (folder / "journey.duckdb").is_file()
        for name, schema in CONTRACT.items():
            assert ws.table(name).schema().names == schema.names
        assert str(ws.table("events").schema()["ts"]) == "timestamp('UTC', 6)"
        assert str(ws.table("events").schema()["properties"]) == "json"
        assert read_contract_version(SqlSession(ws.con)) == CONTRACT_VERSION
        assert snapshot(probe, ws) == dict.fromkeys(snapshot(probe, ws), 0)
    # opening it again finds the same contract and nothing to migrate
    with open_workspace(folder) as ws:
        assert read_contract_version(SqlSession(ws.con)) == CONTRACT_VERSION


def test_init_refuses_to_clobber_a_workspace(tmp_path: Path) -> None:
    init_workspace(tmp_path / "shop").close()
    with pytest.raises(WorkspaceError, match="is already a journeymap workspace"):
        init_workspace(tmp_path / "shop")
    write(tmp_path / "file", "x")
    with pytest.raises(WorkspaceError, match="is a file"):
        init_workspace(tmp_path / "file")


def test_opening_a_folder_that_is_not_a_workspace_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"not a journeymap workspace .*run `journeymap init"):
        open_workspace(tmp_path)


def test_an_unknown_table_lists_the_tables(ws: Any) -> None:
    with pytest.raises(WorkspaceError, match="no table 'event'; tables are: dictionary, events"):
        ws.table("event")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("[engine]\nmemory = '1GB'\n", "unknown setting engine.memory"),
        ("[engine\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_reported(tmp_path: Path, settings: str, message: str) -> None:
    init_workspace(tmp_path / "shop").close()
    write(tmp_path / "shop" / "journeymap.toml", settings)
    with pytest.raises(WorkspaceError, match=message):
        open_workspace(tmp_path / "shop")


def test_settings_set_the_engine_limits(tmp_path: Path, probe: Any) -> None:
    folder = tmp_path / "shop"
    init_workspace(folder).close()
    write(
        folder / "journeymap.toml",
        "[engine]\nmemory_limit = '1GiB'\nmax_temp_directory_size = '2GiB'\nthreads = 1\n",
    )
    with open_workspace(folder) as ws:
        rows = probe.query(
            ws,
            "SELECT current_setting('memory_limit') AS mem, current_setting('threads') AS threads, "
            "current_setting('max_temp_directory_size') AS spill, "
            "current_setting('temp_directory') AS temp",
        )
    assert rows == [
        {
            "mem": "1.0 GiB",
            "threads": 1,
            "spill": "2.0 GiB",
            "temp": str(folder / ".journeymap-tmp"),
        }
    ]


def test_duckdb_spills_inside_the_workspace_within_a_limit_set_on_purpose(
    ws: Any, probe: Any
) -> None:
    (row,) = probe.query(
        ws,
        "SELECT current_setting('temp_directory') AS temp, "
        "current_setting('max_temp_directory_size') AS spill",
    )
    assert row["temp"] == str(ws.path / ".journeymap-tmp")
    # half the free disk space (DuckDB's own default is 90%), in MiB, at least 1 GiB
    assert row["spill"].endswith("iB") and row["spill"] != "0 bytes"


# --- the contract's migration hook --------------------------------------------------


@pytest.fixture
def temporary_migration() -> Iterator[list[str]]:
    ran: list[str] = []

    def add_device(session: SqlSession) -> None:
        ran.append("add_device")
        session.execute("ALTER TABLE events ADD COLUMN device VARCHAR")

    registry = registered_contract_migrations()
    registry[CONTRACT_VERSION] = add_device
    yield ran
    del registry[CONTRACT_VERSION]


def test_registered_migrations_bring_an_old_workspace_up_to_date(
    ws: Any, probe: Any, temporary_migration: list[str]
) -> None:
    session = SqlSession(ws.con)
    assert ensure_contract(session, target=CONTRACT_VERSION + 1) == CONTRACT_VERSION + 1
    assert temporary_migration == ["add_device"]
    assert "device" in ws.table("events").schema().names
    assert read_contract_version(session) == CONTRACT_VERSION + 1
    # running again finds nothing left to do
    assert ensure_contract(session, target=CONTRACT_VERSION + 1) == CONTRACT_VERSION + 1
    assert temporary_migration == ["add_device"]


def test_a_workspace_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    with init_workspace(folder) as ws:
        SqlSession(ws.con).execute(
            "UPDATE journeymap_meta SET value = '99' WHERE key = 'contract_version'"
        )
    with pytest.raises(EngineError, match="written by a newer journeymap"):
        open_workspace(folder)


# --- engines ------------------------------------------------------------------------


def test_driver_errors_become_engine_errors_that_say_what_was_being_done() -> None:
    session = SqlSession(connect("duckdb://"), what="counting orders")
    with pytest.raises(EngineError, match=r"^counting orders: Parser Error") as caught:
        session.execute("SELEC 1")
    assert isinstance(caught.value.__cause__, duckdb.Error)


@pytest.mark.parametrize("url", ["nosuchengine://x", "duckdb:///no/such/folder/x.duckdb"])
def test_unusable_engine_urls_are_engine_errors(url: str) -> None:
    with pytest.raises(EngineError, match="cannot"):
        connect(url)


def test_an_in_memory_engine_gets_the_contract_too(tmp_path: Path, probe: Any) -> None:
    folder = tmp_path / "shop"
    init_workspace(folder).close()
    with open_workspace(folder, engine="duckdb://") as ws:
        report = import_source(ws, write(tmp_path / "e.csv", EVENTS_CSV), options=OPTIONS)
        probe.accounted(ws, report)
        assert report.events_loaded == 2
    # the file database was not touched
    with open_workspace(folder) as ws:
        assert probe.count(ws, "events") == 0


# --- atomic, idempotent, reported ---------------------------------------------------


def test_a_failure_after_the_first_chunk_leaves_the_workspace_as_it_was(
    ws: Any, probe: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe.accounted(ws, import_source(ws, write(tmp_path / "old.csv", EVENTS_CSV), options=OPTIONS))
    before = snapshot(probe, ws)
    rows = "".join(f"c{i},2024-02-01T00:00:{i % 60:02d}Z,e{i % 3}\n" for i in range(50))
    source = write(tmp_path / "new.csv", "cust,when,what\n" + rows + "c9,never,view\n" * 5)
    original = tabular.read_csv

    def failing(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
        chunks = original(path, options)
        yield next(chunks)
        raise OSError("the disk went away")

    monkeypatch.setattr(tabular, "read_csv", failing)
    with pytest.raises(OSError, match="the disk went away"):
        import_source(ws, source, options=replace(OPTIONS, chunk_rows=10))
    assert snapshot(probe, ws) == before
    monkeypatch.setattr(tabular, "read_csv", original)
    # nothing was recorded, so the same file imports in full afterwards
    report = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, report)
    assert (report.already_imported, report.rows_read, report.events_loaded) == (False, 55, 50)


_KILLED_IMPORT = """
import sys, time
from pathlib import Path
from journeymap.io import workspace
from journeymap.io.importers import tabular
from journeymap.io.importers.base import ImportOptions

original = tabular.read_csv

def slow(path, options):
    for number, chunk in enumerate(original(path, options)):
        yield chunk
        if number == 1:  # two chunks staged, quarantined rows written: now wait to be killed
            Path(sys.argv[2]).write_text("staged")
            time.sleep(120)

tabular.read_csv = slow
ws = workspace.open_workspace(Path(sys.argv[1]))
options = ImportOptions(actor="cust", ts="when", event="what", chunk_rows=10)
workspace.import_source(ws, Path(sys.argv[3]), options=options, progress=False)
"""


@pytest.mark.slow
def test_a_process_killed_mid_import_leaves_the_workspace_as_it_was(
    tmp_path: Path, probe: Any
) -> None:
    folder = tmp_path / "shop"
    with init_workspace(folder) as ws:
        probe.accounted(
            ws, import_source(ws, write(tmp_path / "old.csv", EVENTS_CSV), options=OPTIONS)
        )
        before = snapshot(probe, ws)
    rows = "".join(f"c{i},2024-02-01T00:00:{i % 60:02d}Z,e{i % 3}\n" for i in range(100))
    source = write(tmp_path / "new.csv", "cust,when,what\n" + "x,never,view\n" * 3 + rows)
    marker = tmp_path / "staged"
    script = write(tmp_path / "killed.py", _KILLED_IMPORT)
    child = subprocess.Popen(
        [sys.executable, str(script), str(folder), str(marker), str(source)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    )
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import never got going"
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    with open_workspace(folder) as ws:
        assert snapshot(probe, ws) == before


def test_the_same_file_again_is_already_imported(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(tmp_path / "e.csv", EVENTS_CSV)
    first = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, first)
    # the same bytes under another name are the same file
    copy = write(tmp_path / "copy.csv", EVENTS_CSV)
    again = import_source(ws, copy, options=OPTIONS)
    probe.accounted(ws, again)
    assert again.already_imported and again.batch == first.batch
    assert probe.count(ws, "imports") == 1 and probe.count(ws, "events") == 2
    # other options make another import; its events are already there
    other = import_source(ws, source, options=replace(OPTIONS, extra={"note": "x"}))
    probe.accounted(ws, other)
    assert (other.already_imported, other.duplicates_skipped, other.events_loaded) == (False, 2, 0)


def test_the_report_is_stored_with_the_import(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(tmp_path / "e.csv", EVENTS_CSV + ",2024-01-01,view\n")
    report = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, report)
    (stored,) = probe.query(
        ws, "SELECT source, format, content_hash, CAST(report AS VARCHAR) AS r FROM imports"
    )
    assert (stored["source"], stored["format"]) == (str(source), "csv")
    assert len(stored["content_hash"]) == 64
    saved = json.loads(stored["r"])
    assert saved["quarantined_by_reason"] == {"missing_actor": 1}
    assert saved["options"]["actor"] == "cust" and saved["events_loaded"] == 2


def test_a_progress_bar_by_bytes_draws_on_a_terminal(
    ws: Any, probe: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(workspace_module, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(
        workspace_module,
        "Console",
        lambda **_: Console(file=screen, force_terminal=True, width=100),
    )
    source = write(tmp_path / "e.csv", EVENTS_CSV)
    probe.accounted(ws, import_source(ws, source, options=OPTIONS))
    assert "importing e.csv" in screen.getvalue()
    # off on request
    screen.truncate(0)
    other = write(tmp_path / "f.csv", EVENTS_CSV.replace("c1", "c3"))
    probe.accounted(ws, import_source(ws, other, options=OPTIONS, progress=False))
    assert screen.getvalue() == ""


# --- the commands -------------------------------------------------------------------


def test_cli_init_then_import_prints_the_report(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "shop"
    made = runner.invoke(app, ["init", str(folder)])
    assert made.exit_code == 0 and "created" in made.output
    source = write(tmp_path / "e.csv", EVENTS_CSV + "c3,soon,view\n")
    args = ["import", str(source), "-w", str(folder), "--actor", "cust", "--ts", "when"]
    result = runner.invoke(app, [*args, "--event", "what"])
    assert result.exit_code == 0, result.output
    for line in ("rows read", "rows quarantined", "bad_timestamp", "kept in the quarantine"):
        assert line in result.output
    again = runner.invoke(app, [*args, "--event", "what"])
    assert again.exit_code == 0 and "already imported" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["init", "{ws}"], "is already a journeymap workspace"),
        (["import", "{data}", "-w", "{tmp}"], "not a journeymap workspace"),
        (["import", "{tmp}/missing.csv", "-w", "{ws}"], "missing.csv: no such file"),
        (["import", "{data}", "-w", "{ws}", "--format", "csvv"], "did you mean 'csv'?"),
        (
            ["import", "{data}", "-w", "{ws}", "--timezone", "Asia/Seol"],
            "did you mean 'Asia/Seoul'",
        ),
    ],
)
def test_cli_mistakes_are_messages_not_tracebacks(
    tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "shop"
    init_workspace(folder).close()
    data = write(tmp_path / "e.csv", EVENTS_CSV)
    filled = [a.format(ws=folder, tmp=tmp_path, data=data) for a in args]
    result = CliRunner().invoke(app, filled)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.slow
def test_a_workspace_in_use_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    with init_workspace(folder):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "journeymap"), "import", "x.csv", "-w", str(folder)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
            check=False,
        )
    assert result.returncode == 1, result.stderr
    assert "open in another journeymap process" in result.stderr
    assert "Traceback" not in result.stderr
