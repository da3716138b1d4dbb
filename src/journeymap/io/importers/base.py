"""What every importer produces, so one pipeline can load them all.

A reader turns a source into a stream of :class:`ImportChunk` s. Each chunk accounts
for every input row it read: ``rows_read == len(events rows that came from input rows)
+ len(quarantine)`` as counted by the reader (one input row may yield several events,
as a wide order row does; ``rows_loaded`` counts input rows, not events). The pipeline
(``journeymap.io.workspace``) adds the batch id, skips duplicates, writes atomically and
records the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

__all__ = ["ImportChunk", "ImportOptions", "Reader", "quarantine_table"]

QUARANTINE_ARROW = pa.schema(
    [
        ("row_number", pa.int64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


def quarantine_table(rows: list[tuple[int, str, str, str]]) -> pa.Table:
    """A quarantine table from ``(row_number, raw, reason, detail)`` tuples."""
    cols: list[Any] = [list(c) for c in zip(*rows, strict=True)] if rows else [[], [], [], []]
    return pa.Table.from_arrays(
        [pa.array(c, t.type) for c, t in zip(cols, QUARANTINE_ARROW, strict=True)],
        schema=QUARANTINE_ARROW,
    )


@dataclass(frozen=True)
class ImportOptions:
    """Options every reader understands; format-specific ones go in ``extra``."""

    actor: str | None = None
    """Column holding the customer identifier."""
    actor_kind: str | None = None
    ts: str | None = None
    event: str | None = None
    event_id: str | None = None
    channel: str | None = None
    session: str | None = None
    region: str | None = None
    timezone: str = "UTC"
    """Zone of timestamps written without an offset (recorded as ``source_tz``)."""
    chunk_rows: int = 100_000
    max_line_bytes: int = 10_000_000
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportChunk:
    """One piece of a source, in the event contract's shape (without ``source``)."""

    events: pa.Table
    rows_read: int
    rows_loaded: int
    quarantine: pa.Table
    identity_links: pa.Table | None = None
    feedback: pa.Table | None = None


class Reader(Protocol):
    def __call__(self, path: Path, options: ImportOptions) -> Iterator[ImportChunk]: ...
