"""Write the demo company as Parquet files, events clustered by (actor_id, ts, event_id)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from journeymap.demo.generator import DemoData, generate_demo

__all__ = ["ROW_GROUP_ROWS", "DemoFiles", "write_demo", "write_tables"]

ROW_GROUP_ROWS = 1_000_000
"""Rows per Parquet row group; events are sorted, so each group covers a range of actors."""


@dataclass(frozen=True)
class DemoFiles:
    """The files written, and how many rows each holds."""

    events: Path
    identity_links: Path
    feedback: Path
    customers: Path
    rows: dict[str, int]


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(
        table,
        path,
        row_group_size=ROW_GROUP_ROWS,
        compression="zstd",
        write_statistics=True,
    )


def write_tables(data: DemoData, out_dir: Path) -> DemoFiles:
    """Write generated tables as ``events.parquet``, ``identity_links.parquet``,
    ``feedback.parquet`` and ``customers.parquet`` in ``out_dir`` (made if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "events": data.events,
        "identity_links": data.identity_links,
        "feedback": data.feedback,
        "customers": data.customers,
    }
    paths = {name: out_dir / f"{name}.parquet" for name in tables}

    def write_small_tables() -> None:
        for name in ("identity_links", "feedback", "customers"):
            _write(tables[name], paths[name])

    # the events file takes most of the time: write the others beside it
    with ThreadPoolExecutor(max_workers=1) as pool:
        small = pool.submit(write_small_tables)
        _write(tables["events"], paths["events"])
        small.result()
    return DemoFiles(
        events=paths["events"],
        identity_links=paths["identity_links"],
        feedback=paths["feedback"],
        customers=paths["customers"],
        rows={name: table.num_rows for name, table in tables.items()},
    )


def write_demo(out_dir: Path, *, customers: int = 10_000, seed: int = 7) -> DemoFiles:
    """Generate the demo company and write it as Parquet in ``out_dir``.

    About 32 events per customer: ``customers=316_000`` gives about ten million events.
    The same ``seed`` and ``customers`` write the same bytes.
    """
    return write_tables(generate_demo(customers=customers, seed=seed), out_dir)
