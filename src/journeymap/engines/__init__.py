"""Query engines: connect to an Ibis backend; the only place that sees driver exceptions.

>>> con = connect("duckdb://")
>>> con.name
'duckdb'

The workspace's DuckDB file is the default engine (``duckdb://WORKSPACE/journey.duckdb``);
``pyspark://local[2]`` runs the same Ibis expressions on Spark. Everything that runs SQL
against DuckDB directly goes through :class:`SqlSession`, which turns ``duckdb.Error``
into :class:`~journeymap.errors.EngineError`.
"""

from __future__ import annotations

from journeymap.engines.connection import (
    DATABASE_FILE,
    TEMP_FOLDER,
    connect,
    is_duckdb,
    raw_duckdb,
    translate_errors,
)
from journeymap.engines.contract import (
    DICTIONARY_TABLE,
    META_TABLE,
    ensure_contract,
    read_contract_version,
    register_contract_migration,
    registered_contract_migrations,
)
from journeymap.engines.loader import BatchLoader, LoadResult
from journeymap.engines.session import SqlSession

__all__ = [
    "DATABASE_FILE",
    "DICTIONARY_TABLE",
    "META_TABLE",
    "TEMP_FOLDER",
    "BatchLoader",
    "LoadResult",
    "SqlSession",
    "connect",
    "ensure_contract",
    "is_duckdb",
    "raw_duckdb",
    "read_contract_version",
    "register_contract_migration",
    "registered_contract_migrations",
    "translate_errors",
]
