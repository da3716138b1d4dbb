"""The analytics suite runs on every engine through the ``con`` fixture.

``con`` is parametrized over DuckDB (in memory) and PySpark (``local[2]``, one session
for the whole run, marked ``spark``). :func:`load` registers test events on either
engine in the shape of the event contract, so a test is written once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from journeymap.analytics.events import EVENTS

__all__ = ["ENGINES", "load", "materialize", "rows_of"]

ENGINES = ("duckdb", pytest.param("spark", marks=pytest.mark.spark))

# The contract's columns as Arrow types; ``properties`` travels as JSON text.
_ARROW = pa.schema(
    [
        ("event_id", pa.string()),
        ("actor_id", pa.string()),
        ("actor_kind", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("event", pa.string()),
        ("channel", pa.string()),
        ("session_id", pa.string()),
        ("region", pa.string()),
        ("source", pa.string()),
        ("source_tz", pa.string()),
        ("properties", pa.string()),
    ]
)
assert tuple(_ARROW.names) == tuple(EVENTS.names)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session for the whole run (UI and progress bars off, UTC)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the venv, for Python workers
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("journeymap-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(params=ENGINES)
def con(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An Ibis backend: DuckDB in memory, or PySpark on the session-wide local session."""
    if request.param == "duckdb":
        backend = ibis.duckdb.connect()
        yield backend
        backend.disconnect()
    else:
        session = request.getfixturevalue("spark_session")
        yield ibis.pyspark.connect(session)


def _arrow_events(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in _ARROW.names}
    for i, row in enumerate(rows):
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"row {i}: not a contract column: {sorted(unknown)}")
        for name in columns:
            value = row.get(name)
            if name == "event_id" and value is None:
                value = f"e{i:06d}"
            if name == "properties" and value is not None and not isinstance(value, str):
                value = json.dumps(value)
            if name == "ts" and isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            columns[name].append(value)
    return pa.table(columns, schema=_ARROW)


def load(con: Any, rows: Sequence[Mapping[str, Any]] | pa.Table, name: str = "events") -> ir.Table:
    """Register events on ``con`` as table ``name`` and return it as an Ibis table.

    ``rows`` are dicts holding any of the contract's columns (missing ones are null;
    a missing ``event_id`` becomes ``e000000``, ``e000001``… by position; naive
    ``ts`` values are taken as UTC; ``properties`` may be a dict or JSON text), or an
    Arrow table with the contract's columns. ``properties`` is JSON on DuckDB and JSON
    text on Spark, which has no JSON type.
    """
    table = rows if isinstance(rows, pa.Table) else _arrow_events(rows)
    if con.name == "duckdb":
        # Through DuckDB's own API: ibis 12's create_table(overwrite=True) fails on
        # in-memory Arrow input with this DuckDB release.
        raw = f"{name}__arrow"
        con.con.register(raw, table)
        con.con.execute(
            f'CREATE OR REPLACE TABLE "{name}" AS SELECT * REPLACE (properties::JSON AS properties) '
            f'FROM "{raw}"'
        )
        con.con.unregister(raw)
        return con.table(name)
    # Spark 4 reads Arrow directly; going through pandas would turn missing strings
    # into NaN.
    frame = con._session.createDataFrame(table)
    frame.createOrReplaceTempView(name)
    return con.table(name)


def rows_of(expr: ir.Table, *, sort: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Execute ``expr`` and return its rows as dicts, sorted by ``sort`` (default: all columns).

    Timestamps come back timezone-aware in UTC on every engine (Spark returns them
    naive, in the session's UTC zone), so results compare equal across engines.
    """
    rows = [{k: _utc(v) for k, v in row.items()} for row in expr.to_pyarrow().to_pylist()]
    keys = list(sort) if sort is not None else list(expr.columns)

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((row[k] is None, row[k] if row[k] is not None else 0) for k in keys)

    return sorted(rows, key=key)


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def materialize(con: Any, expr: ir.Table, name: str) -> ir.Table:
    """Store ``expr`` as table ``name`` on ``con`` (computed once) and return it.

    DuckDB writes a table; Spark caches the DataFrame and registers it as a view.
    """
    if con.name == "duckdb":
        # raw SQL: ibis 12's create_table(overwrite=True) emits an empty DROP here
        con.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {con.compile(expr)}')
        return con.table(name)
    frame = con._session.sql(con.compile(expr)).cache()
    frame.createOrReplaceTempView(name)
    return con.table(name)
