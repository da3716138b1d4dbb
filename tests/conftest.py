"""Shared fixtures: the real-data folder, a fresh workspace, and the row-accounting check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(__file__).parents[1].parent / "shared" / "data"
"""../shared/data next to the repository: real data for tests, never copied into src/."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; tests using it are skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not here (the shared real-data folder is absent)")
    return SHARED_DATA


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Any]:
    """A fresh workspace in a temporary folder (closed after the test)."""
    from journeymap.io.workspace import init_workspace

    workspace = init_workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


class Probe:
    """Looks into a workspace with plain SQL, independently of the import code."""

    def query(self, ws: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a query, as dicts."""
        from journeymap.engines import SqlSession

        rows: list[dict[str, Any]] = SqlSession(ws.con).arrow(sql, params).to_pylist()
        return rows

    def count(self, ws: Any, table: str, where: str = "", params: list[Any] | None = None) -> int:
        return int(self.query(ws, f"SELECT count(*) AS n FROM {table} {where}", params)[0]["n"])

    def accounted(self, ws: Any, report: Any) -> None:
        """Every row read is loaded or quarantined; the workspace holds what the report says."""
        assert report.rows_loaded + report.rows_quarantined == report.rows_read
        if report.already_imported:
            assert report.rows_read == 0
            return
        kept = self.count(ws, "quarantine", "WHERE batch = ?", [report.batch])
        assert kept == report.rows_quarantined == sum(report.quarantined_by_reason.values())
        new_events = self.count(ws, "events", "WHERE source = ?", [report.batch])
        assert new_events == report.events_loaded
        new_feedback = self.count(ws, "feedback", "WHERE source = ?", [report.batch])
        assert new_feedback == report.feedback_loaded
        stored = self.query(ws, "SELECT * FROM imports WHERE batch = ?", [report.batch])
        assert len(stored) == 1
        for name in ("rows_read", "rows_loaded", "rows_quarantined", "duplicates_skipped"):
            assert stored[0][name] == getattr(report, name)


@pytest.fixture(scope="session")
def probe() -> Probe:
    return Probe()
