"""Schema versions: read older documents by migrating them, step by step, to the current one.

A migration is a pure function from the plain data of one schema version to the next.
Register one with :func:`register_migration` when the document format changes; readers
call :func:`migrate` before validation, so old files keep opening.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from journeymap.errors import Problem
from journeymap.model.journey import SCHEMA

__all__ = ["CURRENT_SCHEMA", "Migration", "migrate", "register_migration", "registered_migrations"]

CURRENT_SCHEMA = SCHEMA
Migration = Callable[[dict[str, Any]], dict[str, Any]]
_MIGRATIONS: dict[str, tuple[str, Migration]] = {}


def register_migration(source: str, target: str) -> Callable[[Migration], Migration]:
    """Register ``fn`` as the migration from schema ``source`` to schema ``target``."""

    def decorate(fn: Migration) -> Migration:
        if source in _MIGRATIONS:
            raise ValueError(f"a migration from {source!r} is already registered")
        _MIGRATIONS[source] = (target, fn)
        return fn

    return decorate


def registered_migrations() -> dict[str, tuple[str, Migration]]:
    """The registry itself (mutable: tests add and remove temporary migrations)."""
    return _MIGRATIONS


def migrate(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Bring ``data`` to the current schema; returns the data and any problems.

    A document without ``schema`` is read as the current version, with a warning.
    A schema that no migration leads from is an error that says how to fix it.
    """
    out = dict(data)
    problems: list[Problem] = []
    schema = out.get("schema")
    if schema is None:
        problems.append(
            Problem(
                path=(),
                message=f"no 'schema' key; reading it as {CURRENT_SCHEMA}",
                hint=f"add 'schema: {CURRENT_SCHEMA}' as the first line",
                severity="warning",
            )
        )
        out["schema"] = CURRENT_SCHEMA
        return out, problems
    seen: set[str] = set()
    while out.get("schema") != CURRENT_SCHEMA:
        current = out.get("schema")
        if not isinstance(current, str) or current not in _MIGRATIONS or current in seen:
            known = ", ".join([CURRENT_SCHEMA, *sorted(_MIGRATIONS)])
            problems.append(
                Problem(
                    path=("schema",),
                    message=f"unknown schema {current!r}; this journeymap reads: {known}",
                    hint=f"write 'schema: {CURRENT_SCHEMA}', or upgrade journeymap if the "
                    "file comes from a newer version",
                )
            )
            return out, problems
        seen.add(current)
        target, fn = _MIGRATIONS[current]
        out = fn(out)
        out["schema"] = target
    return out, problems
