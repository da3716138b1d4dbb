"""The event contract's tables in a DuckDB database: created, versioned and migrated.

:func:`ensure_contract` creates whatever is missing (the five contract tables of
:mod:`journeymap.analytics.events`, the ``dictionary`` of small integer codes for event
names and channels, and ``journeymap_meta`` with the ``contract_version``), then runs
the registered migrations from the stored version up to
:data:`~journeymap.analytics.events.CONTRACT_VERSION`, in one transaction.

A migration is a function of a :class:`~journeymap.engines.session.SqlSession` that
brings the tables from version ``n`` to ``n + 1``::

    @register_contract_migration(1)
    def add_device_column(session: SqlSession) -> None:
        session.execute("ALTER TABLE events ADD COLUMN device VARCHAR")
"""

from __future__ import annotations

from collections.abc import Callable

from ibis.backends.sql.datatypes import DuckDBType
from ibis.expr.schema import Schema

from journeymap.analytics.events import CONTRACT, CONTRACT_VERSION
from journeymap.engines.session import SqlSession
from journeymap.errors import EngineError

__all__ = [
    "DICTIONARY_TABLE",
    "META_TABLE",
    "ContractMigration",
    "ensure_contract",
    "read_contract_version",
    "register_contract_migration",
    "registered_contract_migrations",
]

META_TABLE = "journeymap_meta"
DICTIONARY_TABLE = "dictionary"
"""``(field, value, code)``: event names (``field='event'``) and channels as small ints,
assigned in order of first import and never changed, so analyses can group by integers."""

ContractMigration = Callable[[SqlSession], None]
_MIGRATIONS: dict[int, ContractMigration] = {}


def register_contract_migration(source: int) -> Callable[[ContractMigration], ContractMigration]:
    """Register ``fn`` as the migration of the tables from version ``source`` to the next."""

    def decorate(fn: ContractMigration) -> ContractMigration:
        if source in _MIGRATIONS:
            raise ValueError(f"a contract migration from version {source} is already registered")
        _MIGRATIONS[source] = fn
        return fn

    return decorate


def registered_contract_migrations() -> dict[int, ContractMigration]:
    """The registry itself (mutable: tests add and remove temporary migrations)."""
    return _MIGRATIONS


def _ddl(name: str, schema: Schema) -> str:
    columns = ", ".join(f'"{col}" {DuckDBType.to_string(kind)}' for col, kind in schema.items())
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({columns})'


def read_contract_version(session: SqlSession) -> int | None:
    """The stored contract version, or ``None`` when the database has no contract yet."""
    if META_TABLE not in session.table_names():
        return None
    value = session.scalar(f"SELECT value FROM {META_TABLE} WHERE key = 'contract_version'")
    return int(value) if value is not None else None


def ensure_contract(session: SqlSession, *, target: int = CONTRACT_VERSION) -> int:
    """Create missing contract tables and migrate them to ``target``; the version reached."""
    with session.transaction():
        stored = read_contract_version(session)
        if stored is not None and stored > target:
            raise EngineError(
                f"this workspace was written by a newer journeymap (event contract version "
                f"{stored}; this one knows {target}); upgrade journeymap to open it"
            )
        session.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR, value VARCHAR)")
        if stored is None:
            for name, schema in CONTRACT.items():
                session.execute(_ddl(name, schema))
            session.execute(
                f"CREATE TABLE IF NOT EXISTS {DICTIONARY_TABLE} "
                "(field VARCHAR, value VARCHAR, code INTEGER)"
            )
            session.execute(
                f"INSERT INTO {META_TABLE} VALUES ('contract_version', ?)", [str(target)]
            )
            return target
        version = stored
        while version < target:
            if version not in _MIGRATIONS:
                raise EngineError(
                    f"no migration of the event contract from version {version} to "
                    f"{version + 1}; this journeymap cannot open the workspace"
                )
            _MIGRATIONS[version](session)
            version += 1
        session.execute(
            f"UPDATE {META_TABLE} SET value = ? WHERE key = 'contract_version'", [str(version)]
        )
        return version
