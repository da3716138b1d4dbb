"""What every importer produces, so one pipeline can load them all.

A reader turns a source into a stream of :class:`ImportChunk` s. Each chunk accounts
for every input row it read: ``rows_read == len(events rows that came from input rows)
+ len(quarantine)`` as counted by the reader (one input row may yield several events,
as a wide order row does; ``rows_loaded`` counts input rows, not events). The pipeline
(``journeymap.io.workspace``) adds the batch id, skips duplicates, writes atomically and
records the report.

Columns a reader may leave out or null, and what the pipeline does then:

- ``event_id`` (and ``feedback_id``) null: the pipeline derives one from the event's
  content (actor, time, event, channel, session, region, properties) plus an occurrence
  index among identical events, so the same rows always get the same ids and
  re-importing them loads nothing new.
- ``row_number`` (an optional extra column of ``events`` and ``feedback``): the input
  row an event came from. Give it whenever one input row can yield several events; when
  two events of one import share an ``event_id``, the whole later row is quarantined as
  ``duplicate_event_id`` and the counts move from loaded to quarantined by rows. Without
  it, each event counts as its own row.
- ``properties`` may be JSON text (a string column) or an Arrow struct; structs are
  turned into JSON by the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

__all__ = [
    "EVENTS_ARROW",
    "FEEDBACK_ARROW",
    "LINKS_ARROW",
    "QUARANTINE_ARROW",
    "ImportChunk",
    "ImportOptions",
    "Reader",
    "quarantine_table",
]

QUARANTINE_ARROW = pa.schema(
    [
        ("row_number", pa.int64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)

UTC_MICROS = pa.timestamp("us", tz="UTC")

EVENTS_ARROW = pa.schema(
    [
        ("event_id", pa.string()),
        ("actor_id", pa.string()),
        ("actor_kind", pa.string()),
        ("ts", UTC_MICROS),
        ("event", pa.string()),
        ("channel", pa.string()),
        ("session_id", pa.string()),
        ("region", pa.string()),
        ("source_tz", pa.string()),
        ("properties", pa.string()),
        ("row_number", pa.int64()),
    ]
)
"""The events a reader yields: the contract's columns without ``source``, plus the
optional ``row_number`` (see the module docstring)."""

LINKS_ARROW = pa.schema(
    [
        ("id_a", pa.string()),
        ("kind_a", pa.string()),
        ("id_b", pa.string()),
        ("kind_b", pa.string()),
        ("ts", UTC_MICROS),
    ]
)
"""Identity links a reader yields (the contract's columns without ``source``)."""

FEEDBACK_ARROW = pa.schema(
    [
        ("feedback_id", pa.string()),
        ("actor_id", pa.string()),
        ("actor_kind", pa.string()),
        ("ts", UTC_MICROS),
        ("scale", pa.string()),
        ("score", pa.float64()),
        ("text", pa.string()),
        ("lang", pa.string()),
        ("about", pa.string()),
        ("row_number", pa.int64()),
    ]
)
"""Feedback a reader yields (the contract's columns without ``source``, plus
``row_number``)."""


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
    event_name: str | None = None
    """One event name for every row, when the source has no event column."""
    ts_format: str | None = None
    """A ``strptime`` format for timestamps that are not ISO 8601 (``%d/%m/%Y %H:%M``)."""
    mapping: Path | None = None
    """A YAML mapping file: column mapping, wide table or feedback (see docs/importing.md)."""
    encoding: str = "utf-8"
    """Text encoding of CSV and JSONL files (any encoding that keeps ``\\n`` a byte)."""
    delimiter: str | None = None
    """CSV field separator; by default ``\\t`` for .tsv and sniffed from the header."""
    properties: tuple[str, ...] | None = None
    """Extra columns to keep in ``properties``; ``None`` keeps every unmapped column."""


@dataclass(frozen=True)
class ImportChunk:
    """One piece of a source, in the event contract's shape (without ``source``)."""

    events: pa.Table
    rows_read: int
    rows_loaded: int
    quarantine: pa.Table
    identity_links: pa.Table | None = None
    feedback: pa.Table | None = None
    bytes_read: int | None = None
    """Position in the source file after this chunk, for the progress bar."""
    notes: Mapping[str, int] = field(default_factory=dict)
    """Counts worth reporting that are neither loaded nor quarantined rows, such as
    ``null_timestamp:delivered`` (a wide row whose delivery time is empty)."""


class Reader(Protocol):
    def __call__(self, path: Path, options: ImportOptions) -> Iterator[ImportChunk]: ...
