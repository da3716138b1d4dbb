"""Files already in the event contract's shape: events, identity links or feedback as they are.

An export of another workspace, the demo company's Parquet files, or a warehouse table
written to the contract (:mod:`journeymap.analytics.events`) loads without any column
mapping, keeping what the file says: event ids, identifier kinds, ``source_tz`` and
``properties`` as the JSON object it is.

Which table a file is comes from its columns (:func:`contract_table_of`):

- identity links: ``id_a, kind_a, id_b, kind_b`` (``ts`` optional);
- events: ``actor_id, actor_kind, ts, event, properties`` (``event_id``, ``channel``,
  ``session_id``, ``region``, ``source_tz`` optional);
- feedback: ``actor_id, actor_kind, ts, scale, score`` (``feedback_id``, ``text``,
  ``lang``, ``about`` optional).

Missing optional columns are null; a missing ``event_id`` or ``feedback_id`` is derived
by the pipeline. A ``source`` column is replaced by the import batch, as in every
import. Files are CSV, Parquet or JSONL (optionally gzipped), streamed in chunks of
``chunk_rows`` rows like the other readers.

Values:

- ``ts``: Parquet timestamps as they are (a timestamp without a zone is UTC); text in
  ISO 8601 (or the other forms :mod:`.timestamps` reads). A time with an offset is
  converted to UTC; one without is UTC, as the contract's ``ts`` is (``--timezone``
  reads it in another zone). Where ``source_tz`` is empty or absent it records the
  zone the time was written in.
- ``properties``: a JSON object, as text (a string column or cell) or as a Parquet
  struct or map. A cell that is not a JSON object quarantines its row (``bad_json``).
- ``score``: a number; anything else quarantines the row (``bad_score``).

Every row is loaded or quarantined with its row number (the line for CSV and JSONL,
counting the header as line 1; the 1-based row for Parquet) and a typed reason:
``missing_actor``, ``missing_timestamp``, ``bad_timestamp``, ``missing_event``,
``missing_identifier``, ``missing_kind``, ``bad_json``, ``bad_score``, and the reading
reasons of :mod:`.tabular` (``wrong_field_count``, ``bad_encoding``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from journeymap.errors import DataImportError
from journeymap.io.importers._common import dump_json
from journeymap.io.importers.base import (
    EVENTS_ARROW,
    FEEDBACK_ARROW,
    LINKS_ARROW,
    ImportChunk,
    ImportOptions,
    quarantine_table,
)
from journeymap.io.importers.tabular import (
    SourceChunk,
    iter_source,
    locate,
    source_kind,
    timestamp_notes,
)
from journeymap.io.importers.timestamps import parse_timestamps

__all__ = [
    "CONTRACT_COLUMNS",
    "ContractTable",
    "columns_of",
    "contract_table_of",
    "read_contract",
]

ContractTable = Literal["events", "identity_links", "feedback"]

CONTRACT_COLUMNS: dict[ContractTable, tuple[str, ...]] = {
    "identity_links": ("id_a", "kind_a", "id_b", "kind_b"),
    "events": ("actor_id", "actor_kind", "ts", "event", "properties"),
    "feedback": ("actor_id", "actor_kind", "ts", "scale", "score"),
}
"""The columns that make a file one of the contract's tables, tried in this order."""

_ARROW: dict[ContractTable, pa.Schema] = {
    "events": EVENTS_ARROW,
    "identity_links": LINKS_ARROW,
    "feedback": FEEDBACK_ARROW,
}

_REQUIRED: dict[ContractTable, tuple[str, ...]] = {
    "events": ("actor_id", "ts", "event"),
    "identity_links": ("id_a", "kind_a", "id_b", "kind_b"),
    "feedback": ("actor_id", "ts"),
}
"""Columns whose empty value quarantines a row (an identity link may have no time)."""

_MISSING: dict[str, tuple[str, str]] = {
    "actor_id": ("missing_actor", "actor"),
    "ts": ("missing_timestamp", "time"),
    "event": ("missing_event", "event name"),
    "id_a": ("missing_identifier", "identifier"),
    "id_b": ("missing_identifier", "identifier"),
    "kind_a": ("missing_kind", "identifier kind"),
    "kind_b": ("missing_kind", "identifier kind"),
}

_JSONL_SCAN_ROWS = 1000
"""JSONL lines whose keys are read to tell the table (null values may be left out)."""

_COLUMN_OPTIONS = (
    "actor",
    "actor_kind",
    "ts",
    "event",
    "event_id",
    "channel",
    "session",
    "region",
    "event_name",
    "mapping",
    "properties",
)


# --- which table a file is ------------------------------------------------------------


def columns_of(path: Path) -> tuple[str, ...]:
    """The columns of a CSV, Parquet or JSONL file (keys of its first lines for JSONL).

    Raises :class:`~journeymap.errors.DataImportError` when the file cannot be read or
    its suffix is none of those.
    """
    kind = source_kind(path)
    if kind == "parquet":
        try:
            return tuple(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as exc:
            raise DataImportError(
                f"{path}: not a readable Parquet file ({exc}); check that the file is complete"
            ) from None
    rows = _JSONL_SCAN_ROWS if kind == "jsonl" else 1
    chunks = iter_source(path, ImportOptions(chunk_rows=rows), kind)
    try:
        first = next(chunks, None)
    finally:
        close = getattr(chunks, "close", None)  # a generator: release the open file
        if close is not None:
            close()
    return first.columns if first is not None else ()


def contract_table_of(path: Path) -> ContractTable | None:
    """Which contract table a CSV, Parquet or JSONL file already is, by its columns.

    ``None`` when its columns are none of :data:`CONTRACT_COLUMNS` (identity links are
    tried first, then events, then feedback), and for files of other suffixes.
    """
    try:
        source_kind(path)
    except DataImportError:
        return None
    return _table_of(columns_of(path))


def _table_of(columns: tuple[str, ...]) -> ContractTable | None:
    present = set(columns)
    for table, needed in CONTRACT_COLUMNS.items():
        if set(needed) <= present:
            return table
    return None


# --- reading ---------------------------------------------------------------------------


def read_contract(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Stream a contract-shaped file as :class:`ImportChunk` s of its own table.

    Understands ``timezone`` (for times without an offset; default UTC), ``ts_format``,
    ``encoding``, ``delimiter``, ``chunk_rows`` and ``max_line_bytes``; column options
    do not apply, since the columns are the contract's.
    """
    _check_options(path, options)
    kind = source_kind(path)
    columns = columns_of(path)
    table = _table_of(columns)
    if table is None:
        raise DataImportError(_not_contract(path, columns))
    for chunk in iter_source(path, options, kind):
        yield _shape(chunk, table, path, options)


def _check_options(path: Path, options: ImportOptions) -> None:
    for name in _COLUMN_OPTIONS:
        if getattr(options, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise DataImportError(
                f"{path}: has the columns of the event contract, so it loads as it is and "
                f"{flag} does not apply; to map its columns yourself, pass --format "
                f"{source_kind(path)}"
            )
    if options.extra:
        raise DataImportError(
            f"{path}: the contract format has no options of its own; leave out "
            f"{', '.join(f'--option {k}=...' for k in options.extra)}"
        )


def _not_contract(path: Path, columns: tuple[str, ...]) -> str:
    wanted = "; ".join(
        f"{table.replace('_', ' ')}: {', '.join(needed)}"
        for table, needed in CONTRACT_COLUMNS.items()
    )
    return (
        f"{path}: its columns are not those of a contract table; columns are: "
        f"{', '.join(columns) or 'none'}; the contract needs, for {wanted}; rename the "
        "columns, or import it with --format csv|parquet|jsonl and map them "
        "(--actor, --ts, --event)"
    )


def _shape(
    chunk: SourceChunk, table: ContractTable, path: Path, options: ImportOptions
) -> ImportChunk:
    """The chunk in the reader contract's schema; rows that cannot load quarantined."""
    n = chunk.table.num_rows
    reasons = np.full(n, "", dtype=object)
    details = np.full(n, "", dtype=object)

    def flag(mask: np.ndarray, reason: str, detail: Any) -> None:
        """Mark rows of ``mask`` not yet marked; ``detail(i)`` says what, for row ``i``."""
        for i in np.flatnonzero(mask & (reasons == "")):
            reasons[i] = reason
            details[i] = detail(int(i))

    def where(i: int) -> str:
        return locate(path, chunk.kind, int(chunk.rows[i]))

    arrays: dict[str, pa.Array] = {}
    parsed = parse_timestamps(chunk.values("ts"), timezone=options.timezone, fmt=options.ts_format)
    # the text of the times, for messages; only when one is bad (formatting costs)
    ts_text = chunk.text("ts") if parsed.bad.any() else None
    for name in _ARROW[table].names:
        if name == "row_number":
            arrays[name] = pa.array(chunk.rows, pa.int64())
        elif name == "ts":
            arrays[name] = parsed.ts
        elif name == "properties":
            arrays[name], bad, problems = _properties(chunk)
            flag(bad, "bad_json", lambda i, p=problems: f"{where(i)}: properties {p[i]}")
        elif name == "score":
            arrays[name], bad = _scores(chunk)
            score_text = chunk.text("score") if bad.any() else None
            flag(
                bad,
                "bad_score",
                lambda i, text=score_text: (
                    f"{where(i)}: score {_shown(text, i)!r} is not a "
                    "number; write it with digits (4, 4.5) or leave it empty"
                ),
            )
        else:
            arrays[name] = chunk.text(name)
        if name in _REQUIRED[table]:
            if name == "ts":
                missing = parsed.missing
            else:
                missing = np.asarray(arrays[name].is_null().to_numpy(zero_copy_only=False))
            reason, what = _MISSING[name]
            flag(
                missing,
                reason,
                lambda i, what=what, name=name: (
                    f"{where(i)}: no value for {what} ({name}); fill it in and import again"
                ),
            )
        if name == "ts":
            flag(
                parsed.bad,
                "bad_timestamp",
                lambda i: (
                    f"{where(i)}: ts is not an ISO 8601 time ({_shown(ts_text, i)!r}); "
                    "write e.g. 2024-06-30T18:00:00Z (a time without an offset is read as "
                    f"{options.timezone}), or pass --ts-format"
                ),
            )
    if "source_tz" in arrays:
        given = arrays["source_tz"]
        arrays["source_tz"] = pa.array(
            np.where(
                np.asarray(given.is_null().to_numpy(zero_copy_only=False)),
                np.asarray(parsed.source_tz.to_numpy(zero_copy_only=False), dtype=object),
                np.asarray(given.to_numpy(zero_copy_only=False), dtype=object),
            ),
            pa.string(),
        )
    bad = reasons != ""
    shaped = pa.Table.from_arrays(
        [arrays[name] for name in _ARROW[table].names], schema=_ARROW[table]
    ).filter(pa.array(~bad))
    quarantine = list(chunk.quarantine)
    for i in np.flatnonzero(bad):
        quarantine.append((int(chunk.rows[i]), chunk.raw(int(i)), str(reasons[i]), str(details[i])))
    quarantine.sort(key=lambda q: q[0])
    return ImportChunk(
        events=shaped if table == "events" else EVENTS_ARROW.empty_table(),
        rows_read=chunk.rows_read,
        rows_loaded=shaped.num_rows,
        quarantine=quarantine_table(quarantine),
        identity_links=shaped if table == "identity_links" else None,
        feedback=shaped if table == "feedback" else None,
        bytes_read=chunk.bytes_read,
        notes=timestamp_notes(parsed),
    )


def _shown(values: pa.Array | None, index: int) -> Any:
    """The value at ``index`` for a message (``None`` when there are no values)."""
    return None if values is None else values[index].as_py()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Strict JSON: ``NaN`` and ``Infinity`` are not JSON, and the workspace would refuse them."""


def _properties(chunk: SourceChunk) -> tuple[pa.Array, np.ndarray, list[str]]:
    """``properties`` as JSON text; which rows are not a JSON object, and why."""
    n = chunk.table.num_rows
    bad = np.zeros(n, dtype=bool)
    problems = [""] * n
    if not chunk.has("properties"):
        return pa.nulls(n, pa.string()), bad, problems
    column = chunk.table.column("properties").combine_chunks()
    if chunk.encoding == "typed" and (
        pa.types.is_struct(column.type) or pa.types.is_map(column.type)
    ):
        values = column.to_pylist()
        texts = [None if v is None else dump_json(dict(v), sort_keys=True) for v in values]
        return pa.array(texts, pa.string()), bad, problems
    if chunk.encoding == "typed" and not (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        problems = [f"holds {column.type} values, not JSON objects; write them as JSON text"] * n
        bad[:] = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False))
        return pa.nulls(n, pa.string()), bad, problems
    text = chunk.text("properties")
    decode = _DECODER.raw_decode
    for i, value in enumerate(text.to_pylist()):
        if value is None:
            continue
        try:
            parsed, end = decode(value)
            if end != len(value):
                raise json.JSONDecodeError("extra data after the object", value, end)
        except (json.JSONDecodeError, ValueError) as exc:
            bad[i] = True
            message = (
                f"{exc.msg} at column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            problems[i] = (
                f"is not JSON ({message}); write a JSON object such as "
                '{"method": "card"}, or leave it empty'
            )
            continue
        if not isinstance(parsed, dict):
            bad[i] = True
            problems[i] = (
                f"is a JSON {type(parsed).__name__}, not an object; write a JSON object "
                'such as {"method": "card"}, or leave it empty'
            )
    return text, bad, problems


def _scores(chunk: SourceChunk) -> tuple[pa.Array, np.ndarray]:
    """``score`` as numbers; which given scores are not finite numbers."""
    values = chunk.values("score")
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        given = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        numbers = np.asarray(
            values.cast(pa.float64()).fill_null(math.nan).to_numpy(), dtype="float64"
        )
    else:
        text = chunk.text("score")
        given = ~np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        coerced = pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce")
        numbers = np.asarray(coerced.astype("float64").to_numpy(), dtype="float64")
    bad = given & ~np.isfinite(numbers)
    return pa.array(numbers, pa.float64(), mask=~given | bad), bad
