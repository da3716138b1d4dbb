"""Scratch tables: an expression computed once, used several times, then dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import ibis.expr.types as ir
from ibis import BaseBackend

__all__ = ["stored_table"]


@contextmanager
def stored_table(
    con: BaseBackend, expr: ir.Table, *, prefix: str = "scratch"
) -> Iterator[ir.Table]:
    """``expr`` computed once into a temporary table (a cached frame on Spark).

    The table is dropped with an explicit ``DROP TABLE IF EXISTS "name"``, which every
    sqlglot version renders the same way (Ibis 12's own drop does not, past sqlglot 30.10).
    """
    if con.name == "pyspark":
        table = con._cached_table(expr)
        try:
            yield table
        finally:
            table.release()
        return
    name = f"_journeymap_{prefix}_{uuid.uuid4().hex[:16]}"
    table = con.create_table(name, expr, temp=True)
    try:
        yield table
    finally:
        con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
