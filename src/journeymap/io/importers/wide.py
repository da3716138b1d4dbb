"""Wide tables to events: one row per case, one timestamp column per milestone.

A mapping file says which column is the customer and which timestamp column is which
event. For Olist orders (``examples/data/olist-orders.mapping.yaml``)::

    actor: customer_id
    id: order_id                     # event ids become ORDER_ID:EVENT
    timezone: America/Sao_Paulo      # the zone the timestamps were written in
    events:
      - {event: order_purchased, ts: order_purchase_timestamp}
      - {event: payment_approved, ts: order_approved_at}
      - {event: handed_to_carrier, ts: order_delivered_carrier_date}
      - {event: delivered, ts: order_delivered_customer_date}
    properties: [order_id, order_status]
    links:
      - {a: order_id, kind_a: order_id, b: customer_id, kind_b: customer_id}

turns one order row into up to four events of that customer. An empty timestamp means
the milestone did not happen: no event, not a quarantine; the report counts these as
``null_timestamp:EVENT``. A row is quarantined when its actor is empty
(``missing_actor``), when a timestamp is given but unreadable (``bad_timestamp``: the
whole row, so a case is never half-loaded), or when it yields neither an event nor an
identity link (``no_events``).

``links`` turn pairs of columns into identity links (``kind_a``/``kind_b`` name the
kinds of identifier, e.g. ``customer_id`` and ``customer_unique_id``). A mapping may
consist of links only: importing Olist's customers file with
``examples/data/olist-customers.mapping.yaml`` ties each order-level ``customer_id`` to
the person's ``customer_unique_id``.

``flags`` add a true/false property to every event of a row, saying whether one
timestamp column is later than another. For Olist::

    flags:
      - {property: late, when: order_delivered_customer_date,
         after: order_estimated_delivery_date, by: day}

sets ``properties.late`` to ``true`` when the order was delivered on a later calendar
day (in the mapping's ``timezone``) than the estimated date, ``false`` when not, and
leaves it out when either column is empty. ``by: instant`` (the default) compares the
instants instead. Both columns are read like the event columns: an unreadable value
quarantines the row (``bad_timestamp``). The flag follows the columns in the JSON.

Other keys: ``actor_kind`` (default: the actor column's name), ``channel``, ``session``,
``region`` (a column, or ``{value: ...}`` for one value on every row; an event entry may
set its own ``channel``), ``ts_format``, and ``properties`` (default: every column not
mapped to something else).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.errors import DataImportError
from journeymap.io.importers.base import (
    EVENTS_ARROW,
    LINKS_ARROW,
    ImportChunk,
    ImportOptions,
    quarantine_table,
)
from journeymap.io.importers.tabular import (
    ColumnRef,
    MappingFile,
    SourceChunk,
    apply_lookups,
    build_properties,
    check_column,
    check_keys,
    column_values,
    iter_source,
    load_lookups,
    load_mapping_file,
    locate,
    mapping_ref,
    null_mask,
    source_kind,
    timestamp_notes,
    timestamp_problem,
)
from journeymap.io.importers.timestamps import ParsedTimestamps, check_timezone, parse_timestamps

__all__ = ["FlagSpec", "LinkSpec", "WideEvent", "WideMapping", "load_wide_mapping", "read_wide"]

WIDE_KEYS = (
    "lookup",
    "actor",
    "actor_kind",
    "id",
    "timezone",
    "ts_format",
    "channel",
    "session",
    "region",
    "events",
    "properties",
    "links",
    "flags",
)
_EVENT_KEYS = ("event", "ts", "channel")
_LINK_KEYS = ("a", "kind_a", "b", "kind_b")
_FLAG_KEYS = ("property", "when", "after", "by")
_FLAG_BY = ("instant", "day")


@dataclass(frozen=True)
class WideEvent:
    """One timestamp column that becomes one event."""

    event: str
    ts: str
    channel: ColumnRef | None = None


@dataclass(frozen=True)
class LinkSpec:
    """Two columns whose values identify the same person."""

    a: str
    kind_a: str
    b: str
    kind_b: str


@dataclass(frozen=True)
class FlagSpec:
    """A true/false property: whether column ``when`` is later than column ``after``.

    ``by="day"`` compares calendar days in the mapping's time zone, ``"instant"`` the
    instants themselves.
    """

    property: str
    when: str
    after: str
    by: Literal["instant", "day"] = "instant"


@dataclass(frozen=True)
class WideMapping:
    """A parsed wide-table mapping file."""

    source: MappingFile
    actor: ColumnRef | None
    actor_kind: str
    id: str | None
    timezone: str
    ts_format: str | None
    channel: ColumnRef | None
    session: ColumnRef | None
    region: ColumnRef | None
    events: tuple[WideEvent, ...]
    properties: tuple[str, ...] | None
    links: tuple[LinkSpec, ...]
    flags: tuple[FlagSpec, ...] = ()

    def used_columns(self) -> set[str]:
        refs = [self.actor, self.channel, self.session, self.region]
        refs += [e.channel for e in self.events]
        used = {r.column for r in refs if r is not None and r.column}
        used |= {e.ts for e in self.events}
        return used


def is_wide_mapping(mapping: MappingFile) -> bool:
    """Whether a mapping file describes a wide table (it lists ``events`` or ``links``)."""
    return "events" in mapping.data or "links" in mapping.data


def load_wide_mapping(path: Path, *, timezone: str = "UTC") -> WideMapping:
    """Read and check a wide-table mapping file (errors point at file:line:column).

    ``timezone`` other than UTC (from ``--timezone``) overrides the file's.
    """
    mapping = load_mapping_file(path)
    mapping.check_keys(WIDE_KEYS, what="wide-table mapping")
    data = mapping.data
    events = tuple(
        _wide_event(item, mapping, i) for i, item in enumerate(_items(mapping, "events"))
    )
    links = tuple(_link(item, mapping, i) for i, item in enumerate(_items(mapping, "links")))
    flags = tuple(_flag(item, mapping, i) for i, item in enumerate(_items(mapping, "flags")))
    if not events and not links:
        raise DataImportError(
            f"{mapping.path}: a wide-table mapping needs 'events' (timestamp columns that "
            "become events) or 'links' (pairs of identifier columns)"
        )
    actor = mapping_ref(mapping, "actor")
    if events and (actor is None or actor.column is None):
        raise DataImportError(
            f"{mapping.at('actor')}: 'actor' must name the column of the customer identifier"
        )
    zone = timezone if timezone != "UTC" else str(data.get("timezone") or "UTC")
    properties = data.get("properties")
    if properties is not None and not (
        isinstance(properties, list) and all(isinstance(p, str) for p in properties)
    ):
        raise DataImportError(f"{mapping.at('properties')}: 'properties' is a list of columns")
    for flag in flags:
        if properties is not None and flag.property in properties:
            raise DataImportError(
                f"{mapping.at('flags')}: flag {flag.property!r} is also listed in "
                "'properties'; give the flag another name"
            )
    identifier = data.get("id")
    return WideMapping(
        source=mapping,
        actor=actor,
        actor_kind=str(data.get("actor_kind") or (actor.column if actor else "") or ""),
        id=str(identifier) if identifier is not None else None,
        timezone=check_timezone(zone),
        ts_format=data.get("ts_format"),
        channel=mapping_ref(mapping, "channel"),
        session=mapping_ref(mapping, "session"),
        region=mapping_ref(mapping, "region"),
        events=events,
        properties=tuple(properties) if properties is not None else None,
        links=links,
        flags=flags,
    )


def _items(mapping: MappingFile, key: str) -> list[dict[str, Any]]:
    value = mapping.data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DataImportError(f"{mapping.at(key)}: {key!r} is a list of mappings ({{...}})")
    return value


def _wide_event(item: dict[str, Any], mapping: MappingFile, index: int) -> WideEvent:
    where = f"{mapping.at('events')} (entry {index + 1})"
    check_keys(item, _EVENT_KEYS, where=where, what="wide-table event")
    if not item.get("event") or not item.get("ts"):
        raise DataImportError(f"{where}: each event needs 'event' (a name) and 'ts' (a column)")
    channel = item.get("channel")
    ref = None
    if isinstance(channel, dict):
        ref = ColumnRef(value=str(channel.get("value")), origin=where)
    elif channel is not None:
        ref = ColumnRef(column=str(channel), origin=where)
    return WideEvent(event=str(item["event"]), ts=str(item["ts"]), channel=ref)


def _link(item: dict[str, Any], mapping: MappingFile, index: int) -> LinkSpec:
    where = f"{mapping.at('links')} (entry {index + 1})"
    check_keys(item, _LINK_KEYS, where=where, what="link")
    if not item.get("a") or not item.get("b"):
        raise DataImportError(f"{where}: each link needs columns 'a' and 'b'")
    a, b = str(item["a"]), str(item["b"])
    return LinkSpec(
        a=a, kind_a=str(item.get("kind_a") or a), b=b, kind_b=str(item.get("kind_b") or b)
    )


def _flag(item: dict[str, Any], mapping: MappingFile, index: int) -> FlagSpec:
    where = f"{mapping.at('flags')} (entry {index + 1})"
    check_keys(item, _FLAG_KEYS, where=where, what="flag")
    if not item.get("property") or not item.get("when") or not item.get("after"):
        raise DataImportError(
            f"{where}: each flag needs 'property' (a name) and the timestamp columns "
            "'when' and 'after', e.g. {property: late, when: delivered_at, after: promised_at}"
        )
    by = str(item.get("by") or "instant")
    if by not in _FLAG_BY:
        raise DataImportError(f"{where}: 'by' is instant or day, not {by!r}")
    return FlagSpec(
        property=str(item["property"]),
        when=str(item["when"]),
        after=str(item["after"]),
        by="day" if by == "day" else "instant",
    )


def read_wide(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Events (and identity links) from a wide table described by ``options.mapping``."""
    if options.mapping is None:
        raise DataImportError(
            f"{path}: a wide table needs a mapping file that names its timestamp columns; "
            "pass --mapping FILE (see examples/data/olist-orders.mapping.yaml)"
        )
    mapping = load_wide_mapping(options.mapping, timezone=options.timezone)
    lookups = load_lookups(mapping.source, path)
    checked = False
    for chunk in iter_source(path, options, source_kind(path)):
        chunk = apply_lookups(chunk, lookups, path)
        if not checked:
            _check_columns(mapping, chunk.columns, path)
            checked = True
        yield wide_events(chunk, mapping, path)


def _check_columns(mapping: WideMapping, available: Sequence[str], path: Path) -> None:
    origin = str(mapping.source.path)
    refs: list[tuple[str, ColumnRef]] = []
    for name in ("actor", "channel", "session", "region"):
        ref = getattr(mapping, name)
        if ref is not None:
            refs.append((name, ref))
    for event in mapping.events:
        refs.append(("ts", ColumnRef(column=event.ts, origin=f"{origin}: {event.event}")))
        if event.channel is not None:
            refs.append(("channel", event.channel))
    for link in mapping.links:
        refs.append(("link", ColumnRef(column=link.a, origin=f"{origin}: links")))
        refs.append(("link", ColumnRef(column=link.b, origin=f"{origin}: links")))
    for flag in mapping.flags:
        for column in (flag.when, flag.after):
            refs.append(("flag", ColumnRef(column=column, origin=f"{origin}: flags")))
    if mapping.flags and mapping.properties is None:
        clash = [f.property for f in mapping.flags if f.property in available]
        if clash:
            raise DataImportError(
                f"{path}: flag {clash[0]!r} ({origin}: flags) is also a column, which goes "
                "into properties; give the flag another name, or list 'properties'"
            )
    if mapping.id:
        refs.append(("id", ColumnRef(column=mapping.id, origin=mapping.source.at("id"))))
    for column in mapping.properties or ():
        refs.append(
            ("properties", ColumnRef(column=column, origin=mapping.source.at("properties")))
        )
    for name, ref in refs:
        try:
            check_column(ref, available, path, name)
        except DataImportError as exc:
            message = str(exc).rsplit("; pass ", 1)[0]
            raise DataImportError(f"{message}; fix the mapping file {origin}") from None


def wide_events(chunk: SourceChunk, mapping: WideMapping, path: Path) -> ImportChunk:
    """The events and links of one chunk of a wide table."""
    n = chunk.table.num_rows
    columns = dict.fromkeys(
        [e.ts for e in mapping.events] + [c for f in mapping.flags for c in (f.when, f.after)]
    )
    read = {
        column: parse_timestamps(
            chunk.values(column), timezone=mapping.timezone, fmt=mapping.ts_format
        )
        for column in columns
    }
    parsed = [read[e.ts] for e in mapping.events]
    actor = column_values(chunk, mapping.actor)
    reasons = np.full(n, "", dtype=object)
    details: dict[int, str] = {}
    if mapping.events:
        no_actor = null_mask(actor)
        reasons[no_actor] = "missing_actor"
    for column, times in read.items():
        fresh = times.bad & (reasons == "")
        ts_text = chunk.text(column) if fresh.any() else None
        for i in np.flatnonzero(fresh):
            value = ts_text[int(i)].as_py() if ts_text is not None else ""
            details[int(i)] = timestamp_problem(
                path, chunk.kind, int(chunk.rows[i]), column, str(value)
            )
        reasons[fresh] = "bad_timestamp"
    link_ids = [(chunk.text(link.a), chunk.text(link.b)) for link in mapping.links]
    events_per_row = np.zeros(n, dtype="int64")
    for times in parsed:
        events_per_row += ~times.missing & ~times.bad
    links_per_row = np.zeros(n, dtype="int64")
    for a, b in link_ids:
        links_per_row += ~null_mask(a) & ~null_mask(b)
    empty = (events_per_row + links_per_row == 0) & (reasons == "")
    reasons[empty] = "no_events"
    bad = reasons != ""
    ok = ~bad

    quarantine = list(chunk.quarantine)
    for i in np.flatnonzero(bad):
        row = int(chunk.rows[i])
        where = locate(path, chunk.kind, row)
        reason = str(reasons[i])
        detail = (
            details.get(int(i))
            or {
                "missing_actor": f"{where}: {mapping.actor.column if mapping.actor else ''} is "
                "empty; every event needs the customer it belongs to",
                "no_events": f"{where}: every timestamp column of the mapping is empty and no "
                "identity link could be made; nothing in this row says what happened",
            }[reason]
        )
        quarantine.append((row, chunk.raw(int(i)), reason, detail))
    quarantine.sort(key=lambda q: q[0])

    notes: dict[str, int] = {}
    for times in parsed:
        for key, count in timestamp_notes(times).items():
            notes[key] = notes.get(key, 0) + count
    properties = build_properties(chunk, _property_columns(mapping, chunk.columns))
    for flag in mapping.flags:
        later = _is_later(read[flag.when].ts, read[flag.after].ts, flag.by, mapping.timezone)
        properties = _add_flag(properties, flag.property, later)
    identifier = chunk.text(mapping.id) if mapping.id else None
    pieces = []
    for event, times in zip(mapping.events, parsed, strict=True):
        missing = times.missing & ok
        if missing.any():
            notes[f"null_timestamp:{event.event}"] = int(missing.sum())
        take = pa.array(ok & ~times.missing)
        event_ids = (
            pc.binary_join_element_wise(identifier, pa.scalar(event.event), ":")
            if identifier is not None
            else pa.nulls(n, pa.string())
        )
        table = pa.Table.from_arrays(
            [
                event_ids,
                actor,
                pa.array([mapping.actor_kind] * n, pa.string()),
                times.ts,
                pa.array([event.event] * n, pa.string()),
                column_values(chunk, event.channel or mapping.channel),
                column_values(chunk, mapping.session),
                column_values(chunk, mapping.region),
                times.source_tz,
                properties,
                pa.array(chunk.rows, pa.int64()),
            ],
            schema=EVENTS_ARROW,
        )
        pieces.append(table.filter(take))
    events = pa.concat_tables(pieces) if pieces else EVENTS_ARROW.empty_table()
    return ImportChunk(
        events=events,
        rows_read=chunk.rows_read,
        rows_loaded=int(ok.sum()),
        quarantine=quarantine_table(quarantine),
        identity_links=_links(mapping, link_ids, parsed, ok, n),
        bytes_read=chunk.bytes_read,
        notes=notes,
    )


def _is_later(when: pa.Array, after: pa.Array, by: str, timezone: str) -> pa.Array:
    """Per row: ``when`` later than ``after`` (null when either is null)."""
    if by == "instant":
        return pc.greater(when, after)

    def days(ts: pa.Array) -> pa.Array:
        local = pd.Series(ts.to_pandas()).dt.tz_convert(timezone).dt.tz_localize(None)
        return pa.array(local.dt.normalize(), pa.timestamp("us"))

    return pc.greater(days(when), days(after))


def _add_flag(properties: pa.Array, name: str, value: pa.Array) -> pa.Array:
    """``properties`` JSON with ``"name": true|false`` appended; unchanged where null."""
    literal = pc.if_else(value, pa.scalar("true"), pa.scalar("false"))
    key = json.dumps(name, ensure_ascii=False) + ":"
    piece = pc.binary_join_element_wise(pa.scalar(key), literal, "")
    opened = pc.if_else(
        pc.is_null(properties),
        pa.scalar("{"),
        pc.binary_join_element_wise(pc.utf8_slice_codeunits(properties, 0, -1), ",", ""),
    )
    merged = pc.binary_join_element_wise(opened, piece, "}", "")
    return pc.if_else(pc.is_null(piece), properties, merged)


def _property_columns(mapping: WideMapping, available: Sequence[str]) -> tuple[str, ...]:
    if mapping.properties is not None:
        return mapping.properties
    used = mapping.used_columns()
    return tuple(c for c in available if c not in used)


def _links(
    mapping: WideMapping,
    link_ids: list[tuple[pa.Array, pa.Array]],
    parsed: list[ParsedTimestamps],
    ok: np.ndarray,
    n: int,
) -> pa.Table | None:
    if not mapping.links:
        return None
    first = pa.nulls(n, pa.int64())
    for times in parsed:
        first = pc.min_element_wise(first, times.ts.cast(pa.int64()), skip_nulls=True)
    pieces = []
    for link, (a, b) in zip(mapping.links, link_ids, strict=True):
        take = pa.array(ok & ~null_mask(a) & ~null_mask(b))
        table = pa.Table.from_arrays(
            [
                a,
                pa.array([link.kind_a] * n, pa.string()),
                b,
                pa.array([link.kind_b] * n, pa.string()),
                first.cast(pa.timestamp("us", tz="UTC")),
            ],
            schema=LINKS_ARROW,
        )
        pieces.append(table.filter(take))
    return pa.concat_tables(pieces)
