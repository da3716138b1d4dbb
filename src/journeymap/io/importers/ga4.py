"""GA4 BigQuery export rows as events.

Input: the rows of the ``events_YYYYMMDD`` export tables, as newline-delimited JSON
(``bq extract --destination_format NEWLINE_DELIMITED_JSON``, gzip read transparently;
64-bit integers may be written as strings, as BigQuery does), a JSON array of rows, or
a Parquet export.
One export row is one input row and yields one event.

- **Time**: ``event_timestamp`` (microseconds since the epoch, UTC; ``source_tz`` is
  ``UTC``). **Event**: ``event_name``.
- **Parameters**: ``event_params`` (``[{key, value: {string_value, int_value,
  float_value, double_value}}]``) are unnested into properties with their type: the
  first non-null of string, int (as an integer, also when written as a string), double
  and float. ``user_properties`` go under ``user_properties`` the same way.
- **Actor**: ``user_id`` when set (kind ``user_id``), else ``user_pseudo_id`` (the
  device/browser id, kind ``anonymous_id``); both on one row → an identity link.
- **Session**: the ``ga_session_id`` parameter, prefixed by ``user_pseudo_id``
  (``<user_pseudo_id>.<ga_session_id>``) because GA4 session ids are only unique per
  device.
- **Channel**: the event's ``collected_traffic_source`` (``manual_medium`` /
  ``manual_source``) when present, else ``traffic_source`` (``medium`` / ``source``, the
  user's first acquisition). Option ``channel_style``: ``medium/source`` (default,
  e.g. ``cpc/google``), ``medium`` or ``source``.
- **Region**: ``geo.country``. ``device.category``, ``platform``, ``stream_id``,
  ``event_value_in_usd``, ``ecommerce`` and ``items`` (when present) go into properties.
- **Event id**: GA4 rows carry none, so it is a digest of the actor ids, time, name and
  typed parameters (the same for the NDJSON and the Parquet export of one row); the
  n-th repeat of such a row in a file gets ``-n`` appended, so repeated rows stay
  separate events and importing the file again loads nothing new.

Quarantine reasons: ``bad_json``, ``bad_encoding``, ``not_an_object``,
``missing_actor``, ``missing_timestamp``, ``bad_timestamp``, ``missing_event_name``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from journeymap.errors import DataImportError
from journeymap.io.importers._common import (
    CHANNEL_STYLES,
    ChunkBuilder,
    EventIds,
    JsonStream,
    Lines,
    as_object,
    check_options,
    decode_line,
    dump_json,
    format_channel,
    micros_of,
    open_source,
    opens_json_document,
    option_choice,
    sniff,
    text_or_none,
)
from journeymap.io.importers.base import ImportChunk, ImportOptions

__all__ = ["GA4_OPTIONS", "read_ga4", "unnest_params"]

GA4_OPTIONS: dict[str, str] = {
    "channel_style": "medium/source (default), medium or source",
}

_VALUE_FIELDS = ("string_value", "int_value", "double_value", "float_value")


def read_ga4(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Stream a GA4 export (NDJSON or Parquet) as chunks of ``options.chunk_rows`` rows."""
    check_options(options, fmt="ga4", extra=GA4_OPTIONS)
    reader = _RowReader(option_choice(options, "channel_style", CHANNEL_STYLES, "ga4"))
    lines = Lines(path, max_line_bytes=options.max_line_bytes)
    parquet = _is_parquet(path)
    if parquet:
        rows = _iter_parquet(path, options)
    elif sniff(path) == b"[":
        rows = _iter_array(path, options)
    elif opens_json_document(path):
        raise DataImportError(
            f"{path}:1: this is one pretty-printed JSON document, not a GA4 export: give "
            "newline-delimited JSON (one row per line, as bq extract writes it), a JSON "
            "array of rows, or Parquet"
        )
    else:
        rows = _iter_json(lines)
    builder = ChunkBuilder()
    yielded = False
    for number, where, raw, row in rows:
        reader.read(builder, number, where, raw, row)
        if builder.rows_read >= options.chunk_rows:
            yielded = True
            yield builder.build(bytes_read=None if parquet else lines.position)
    if builder.rows_read or not yielded:
        yield builder.build(bytes_read=None if parquet else lines.position)


def unnest_params(params: Any) -> dict[str, Any]:
    """GA4 ``event_params`` (or ``user_properties``) as a ``{key: typed value}`` dict.

    >>> unnest_params([{"key": "ga_session_id", "value": {"int_value": "1714557600"}},
    ...                {"key": "page_title", "value": {"string_value": "Packs"}},
    ...                {"key": "value", "value": {"double_value": 129.0}}])
    {'ga_session_id': 1714557600, 'page_title': 'Packs', 'value': 129.0}
    """
    out: dict[str, Any] = {}
    if not isinstance(params, list):
        return out
    for param in params:
        if not isinstance(param, dict) or param.get("key") is None:
            continue
        value = param.get("value")
        out[str(param["key"])] = _typed(value) if isinstance(value, dict) else value
    return out


def _typed(value: Mapping[str, Any]) -> Any:
    for field in _VALUE_FIELDS:
        item = value.get(field)
        if item is None:
            continue
        if field == "int_value":
            try:
                return int(item)
            except (TypeError, ValueError):
                return item
        if field in ("double_value", "float_value"):
            try:
                return float(item)
            except (TypeError, ValueError):
                return item
        return item
    return None


# --- input --------------------------------------------------------------------------


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


_Row = tuple[int, str, str, Any]


def _iter_json(lines: Lines) -> Iterator[_Row]:
    path = lines.path
    for number, body in lines:
        if not body.strip():
            continue
        where = f"{path}:{number}"
        try:
            text = decode_line(path, number, body)
        except ValueError as exc:
            yield number, where, body.decode("utf-8", "backslashreplace"), _Bad("bad_encoding", exc)
            continue
        try:
            yield number, where, text, json.loads(text)
        except json.JSONDecodeError as exc:
            bad = _Bad("bad_json", f"{where}:{exc.colno}: not JSON ({exc.msg})")
            yield number, where, text, bad


def _iter_array(path: Path, options: ImportOptions) -> Iterator[_Row]:
    with open_source(path) as fh:
        stream = JsonStream(fh, path=path, max_item_bytes=options.max_line_bytes)
        for number, (line, row) in enumerate(stream.iter_array(), start=1):
            yield number, f"{path}:{line}: row {number}", dump_json(row), row
        if stream.peek():
            raise stream.error("unexpected text after the JSON array")


def _iter_parquet(path: Path, options: ImportOptions) -> Iterator[_Row]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except FileNotFoundError:
        raise DataImportError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DataImportError(f"{path}: not a readable Parquet file ({exc})") from None
    number = 0
    for batch in source.iter_batches(batch_size=max(1, options.chunk_rows)):
        for row in batch.to_pylist():
            number += 1
            yield number, f"{path}: row {number}", dump_json(row, sort_keys=True), row


class _Bad:
    def __init__(self, reason: str, detail: object) -> None:
        self.reason = reason
        self.detail = str(detail)


# --- one row ------------------------------------------------------------------------


class _RowReader:
    def __init__(self, channel_style: str) -> None:
        self.channel_style = channel_style
        self.event_ids = EventIds("ga4")

    def read(self, builder: ChunkBuilder, number: int, where: str, raw: str, row: Any) -> None:
        if isinstance(row, _Bad):
            builder.quarantine(number, raw, row.reason, row.detail)
            return
        problem = self._add(builder, number, row)
        if problem is None:
            builder.load()
        else:
            builder.quarantine(number, raw, problem[0], f"{where}: {problem[1]}")

    def _add(self, builder: ChunkBuilder, number: int, row: Any) -> tuple[str, str] | None:
        if not isinstance(row, dict):
            return "not_an_object", "a GA4 export row is a JSON object"
        stamp = row.get("event_timestamp")
        if stamp in (None, ""):
            return "missing_timestamp", "event_timestamp is empty"
        try:
            micros = micros_of(stamp) if isinstance(stamp, datetime) else int(stamp)
        except (TypeError, ValueError):
            return "bad_timestamp", (
                f"event_timestamp {stamp!r} is not microseconds since 1970-01-01 UTC"
            )
        name = text_or_none(row.get("event_name"))
        if name is None:
            return "missing_event_name", "event_name is empty"
        pseudo = text_or_none(row.get("user_pseudo_id"))
        user = text_or_none(row.get("user_id"))
        if user is not None:
            actor, kind = user, "user_id"
        elif pseudo is not None:
            actor, kind = pseudo, "anonymous_id"
        else:
            return "missing_actor", "the row has neither user_id nor user_pseudo_id"

        params = unnest_params(row.get("event_params"))
        properties: dict[str, Any] = dict(params)
        device = as_object(row.get("device"))
        if device.get("category") is not None:
            properties["device_category"] = device["category"]
        for key in ("platform", "stream_id", "event_value_in_usd", "ecommerce", "items"):
            if row.get(key) not in (None, [], {}):
                properties[key] = row[key]
        user_properties = unnest_params(row.get("user_properties"))
        if user_properties:
            properties["user_properties"] = user_properties

        session = params.get("ga_session_id")
        session_id = f"{pseudo or actor}.{session}" if session not in (None, "") else None
        collected = as_object(row.get("collected_traffic_source"))
        acquired = as_object(row.get("traffic_source"))
        channel = format_channel(
            collected.get("manual_medium"), collected.get("manual_source"), style=self.channel_style
        ) or format_channel(
            acquired.get("medium"), acquired.get("source"), style=self.channel_style
        )
        region = text_or_none(as_object(row.get("geo")).get("country"))

        # Only fields every export writes alike go into the digest, so the NDJSON and the
        # Parquet export of one row get the same id (nested ecommerce numbers differ).
        event_id = self.event_ids.derive(
            actor, str(micros), name, dump_json(params, sort_keys=True), pseudo or "", user or ""
        )
        builder.add_event(
            row_number=number,
            event_id=event_id,
            actor_id=actor,
            actor_kind=kind,
            ts=micros,
            event=name,
            source_tz="UTC",
            channel=channel,
            session_id=session_id,
            region=region,
            properties=properties,
        )
        if pseudo is not None and user is not None:
            builder.add_link(pseudo, "anonymous_id", user, "user_id", micros)
        return None
