"""SQL on the workspace's DuckDB, with transactions and every driver error translated."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
from ibis import BaseBackend

from journeymap.engines.connection import raw_duckdb, translate_errors
from journeymap.errors import EngineError

__all__ = ["SqlSession"]


class SqlSession:
    """Runs SQL on a DuckDB backend; errors come out as :class:`EngineError`.

    ``what`` names the job in error messages (``importing orders.csv``).
    """

    def __init__(self, backend: BaseBackend, *, what: str = "running a query") -> None:
        self._con: duckdb.DuckDBPyConnection = raw_duckdb(backend)
        self.what = what

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for statements that return none)."""
        with translate_errors(self.what):
            cursor = (
                self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            )
            return cursor.fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first value of the first row (``None`` when there are no rows)."""
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """The result as an Arrow table."""
        with translate_errors(self.what):
            table: pa.Table = self._con.sql(sql, params=params).to_arrow_table()
            return table

    def table_names(self) -> set[str]:
        """Tables and views of the database (temporary ones left out)."""
        rows = self.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary UNION "
            "SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal"
        )
        return {str(r[0]) for r in rows}

    def insert_arrow(self, table: pa.Table, *, into: str, select: str, alias: str) -> None:
        """Insert the rows of ``select`` (SQL over ``table`` named ``alias``) into ``into``.

        The SELECT's columns go to ``into`` by position. The table is handed over as a
        record-batch reader, which DuckDB consumes: a registered table or an Arrow
        relation stays referenced until the transaction ends, so an import would hold
        every chunk at once; this way it holds one chunk at a time however large the file.
        """
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
        with translate_errors(self.what):
            relation = self._con.from_arrow(reader).query(alias, select)
            if relation is None:
                raise EngineError(f"{self.what}: {select!r} is not a query")
            relation.insert_into(into)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit when the block ends, roll back when it raises.

        A process killed inside the block leaves the database as it was before, since
        DuckDB only makes a transaction durable when it commits.
        """
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with translate_errors(self.what):
                self._con.execute("ROLLBACK")
            raise
        self.execute("COMMIT")
