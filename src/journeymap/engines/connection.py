"""Connect to a query engine by URL: the workspace's DuckDB file by default, or Spark.

``duckdb://`` is an in-memory database, ``duckdb://path/to/file.duckdb`` a file (relative
to the workspace when one is given), ``pyspark://local[2]`` a local Spark session; any
other Ibis URL goes to ``ibis.connect``. DuckDB always gets its spill folder inside the
workspace and a spill limit set on purpose (half the free disk space unless told
otherwise), so a large sort fails with a message instead of filling the disk.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
from ibis import BaseBackend
from ibis.expr import types as ir

from journeymap.errors import EngineError

__all__ = [
    "DATABASE_FILE",
    "TEMP_FOLDER",
    "connect",
    "fetch_rows",
    "is_duckdb",
    "raw_duckdb",
    "translate_errors",
]

DATABASE_FILE = "journey.duckdb"
"""The workspace's database, next to its ``journeymap.toml``."""
TEMP_FOLDER = ".journeymap-tmp"
"""Where DuckDB spills intermediate results, inside the workspace."""

_SPARK_HINT = (
    "the Spark engine needs pyspark: pip install 'journeymap[spark]' (and Java 17 or newer)"
)


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Run a block that talks to an engine; driver errors become :class:`EngineError`.

    ``what`` says what was being done (``importing orders.csv``), so the message tells
    the user what failed as well as why.
    """
    try:
        yield
    except duckdb.Error as exc:
        raise EngineError(f"{what}: {_explain(exc)}") from exc
    except EngineError:
        raise
    except Exception as exc:
        # Spark's errors (pyspark, and py4j's gateway) are the engine's; anything else
        # is a bug in journeymap and keeps its traceback for --debug.
        if type(exc).__module__.split(".")[0] in {"pyspark", "py4j"}:
            raise EngineError(f"{what}: {exc}") from exc
        raise


def fetch_rows(con: BaseBackend, expr: ir.Table) -> list[dict[str, Any]]:
    """Execute ``expr`` on ``con`` itself and return its rows as dicts.

    On ``con``: an expression over in-memory tables has no backend of its own and would
    otherwise run on Ibis's default one.
    """
    rows: list[dict[str, Any]] = con.to_pyarrow(expr).to_pylist()
    return rows


def _explain(exc: duckdb.Error) -> str:
    text = str(exc).strip()
    if "Could not set lock" in text or "Conflicting lock" in text:
        return (
            "the workspace database is open in another journeymap process (or another "
            "program); close it and try again"
        )
    if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory" in text:
        return (
            f"{text}; the engine ran out of memory or spill space: raise memory_limit or "
            "max_temp_directory_size under [engine] in journeymap.toml"
        )
    return text


def connect(
    url: str | None = None,
    *,
    workspace: Path | None = None,
    read_only: bool = False,
    memory_limit: str | None = None,
    max_temp_directory_size: str | None = None,
    threads: int | None = None,
) -> BaseBackend:
    """An Ibis backend for ``url`` (default: ``duckdb://<workspace>/journey.duckdb``).

    ``memory_limit`` and ``max_temp_directory_size`` take DuckDB sizes (``"8GiB"``);
    they are ignored by other engines.
    """
    folder = workspace if workspace is not None else Path()
    if url is None:
        return _connect_duckdb(
            folder / DATABASE_FILE,
            folder,
            read_only=read_only,
            memory_limit=memory_limit,
            max_temp=max_temp_directory_size,
            threads=threads,
        )
    if url.startswith("duckdb://"):
        rest = url.removeprefix("duckdb://")
        database: Path | None = None
        if rest not in ("", ":memory:"):
            database = Path(rest) if Path(rest).is_absolute() else folder / rest
        return _connect_duckdb(
            database,
            folder,
            read_only=read_only,
            memory_limit=memory_limit,
            max_temp=max_temp_directory_size,
            threads=threads,
        )
    if url.startswith("pyspark://"):
        return _connect_spark(url.removeprefix("pyspark://") or "local[2]")
    try:
        return ibis.connect(url)
    except ImportError as exc:
        raise EngineError(
            f"cannot connect to {url!r}: {exc}; install the Ibis backend for that engine"
        ) from exc
    except duckdb.Error as exc:
        raise EngineError(f"cannot connect to {url!r}: {_explain(exc)}") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise EngineError(
            f"cannot connect to {url!r}: {exc}; use duckdb://FILE, pyspark://local[2] or "
            "another Ibis connection URL"
        ) from exc


def _default_temp_limit(folder: Path) -> str:
    """Half the disk space free where the spill folder lives, at least 1 GiB."""
    free = shutil.disk_usage(folder).free
    return f"{max(free // 2, 1 << 30) // (1 << 20)}MiB"


def _connect_duckdb(
    database: Path | None,
    folder: Path,
    *,
    read_only: bool,
    memory_limit: str | None,
    max_temp: str | None,
    threads: int | None,
) -> BaseBackend:
    temp = folder / TEMP_FOLDER
    config: dict[str, Any] = {}
    if folder.is_dir() and not read_only:
        temp.mkdir(exist_ok=True)
        config["temp_directory"] = str(temp)
        config["max_temp_directory_size"] = max_temp or _default_temp_limit(folder)
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    target = str(database) if database is not None else ":memory:"
    try:
        backend = ibis.duckdb.connect(target, read_only=read_only, **config)
    except duckdb.Error as exc:
        raise EngineError(f"cannot open {target}: {_explain(exc)}") from exc
    return backend


def _connect_spark(master: str) -> BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(_SPARK_HINT) from None
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Spark's Python workers must run this interpreter (with its packages), not the
    # first python3 on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        session = (
            SparkSession.builder.master(master)
            .appName("journeymap")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    except Exception as exc:  # pyspark raises plain Exceptions from the JVM gateway
        raise EngineError(f"cannot start Spark ({master}): {exc}; {_SPARK_HINT}") from exc
    return ibis.pyspark.connect(session)


def is_duckdb(backend: BaseBackend) -> bool:
    """Whether ``backend`` is DuckDB (the engine imports write to)."""
    return getattr(backend, "name", "") == "duckdb"


def raw_duckdb(backend: BaseBackend) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection under an Ibis backend; an error for other engines."""
    if not is_duckdb(backend):
        raise EngineError(
            f"this needs the DuckDB engine, not {getattr(backend, 'name', 'unknown')!r}: "
            "imports write to the workspace's DuckDB file; other engines are for analyses"
        )
    con: duckdb.DuckDBPyConnection = backend.con
    return con
