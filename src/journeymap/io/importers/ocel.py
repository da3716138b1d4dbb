"""Object-centric event logs (OCEL 2.0 JSON, and the older OCEL 1.0 ``.jsonocel``) as events.

An object-centric event relates to several objects (an order, its items, a customer,
...). A journey needs one actor per event, so **you pick the object type that is the
customer** with the option ``customer_type`` (required; when it is missing or names no
type, the error lists the object types found in the file with their counts).

- **Fan-out**: an event related to *k* objects of the customer type yields *k* events,
  one per customer, with the same name and time (event ids differ). The input row (one
  OCEL event) counts once as loaded; the chunk's ``notes`` report
  ``fanout_rows`` (rows that yielded more than one event) and ``fanout_extra_events``
  (the events beyond one per row), and each such event carries ``"ocel:fanout": k``.
- An event related to **no** customer object is quarantined as ``no_customer_object``
  (so rows still add up); its raw JSON is kept.
- **Actor**: the customer object's id; kind = the customer type (or ``--actor-kind``).
  **Event**: the event type (``type`` in 2.0, ``ocel:activity`` in 1.0). **Time**:
  ``time`` / ``ocel:timestamp`` (offsets honoured; ``--timezone`` for values without).
- **Properties**: the event's attributes (typed as ``eventTypes`` declares them in 2.0),
  plus ``ocel:id`` (the OCEL event id), ``ocel:qualifier`` (the qualifier of the
  relation to this customer, 2.0) and ``ocel:objects`` (every other related object as
  ``{id, type, qualifier}``). ``--channel``, ``--session`` and ``--region`` name event
  attributes to fill those columns.
- **Identity links**: object-to-object relationships (2.0) between two customer objects
  become identity links (``id_a`` = source, ``id_b`` = target, both of the customer
  kind, no time) when their qualifier is listed in the option ``link_qualifiers``
  (a list, or ``"*"`` for every qualifier). None are made by default: a relation such
  as "referred by" joins two different people, so only you can say which qualifiers
  mean "the same person" (``same_as``, ``merged_into``, ...).
- **Event id**: a digest of the OCEL event id, type, time and customer (so two logs
  that reuse ids like ``e1`` do not collide).

Reading is two streaming passes over the file: the first learns every object's type
(memory grows with the number of objects, not events), the second reads the events one
at a time. Quarantine reasons: ``no_customer_object``, ``missing_event_name``,
``missing_timestamp``, ``bad_timestamp``, ``not_an_object``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journeymap.errors import DataImportError
from journeymap.io.importers._common import (
    ChunkBuilder,
    EventIds,
    Instant,
    JsonStream,
    TimestampParser,
    as_object,
    check_options,
    dump_json,
    open_source,
    text_or_none,
)
from journeymap.io.importers.base import ImportChunk, ImportOptions

__all__ = ["OCEL_OPTIONS", "read_ocel"]

OCEL_OPTIONS: dict[str, str] = {
    "customer_type": "the object type whose objects are the customers (required)",
    "link_qualifiers": "object-to-object qualifiers that mean the same person, or '*' (default none)",
}

_FIELDS = ("actor_kind", "channel", "session", "region")


def read_ocel(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Stream an OCEL JSON log as chunks of ``options.chunk_rows`` OCEL events."""
    check_options(options, fmt="ocel", extra=OCEL_OPTIONS, fields=_FIELDS)
    qualifiers = _qualifiers(options.extra.get("link_qualifiers"))
    customer_type = text_or_none(options.extra.get("customer_type"))
    catalogue = _read_catalogue(path, options, customer_type, qualifiers)
    customer_type = _check_customer_type(path, customer_type, catalogue)
    reader = _EventReader(path, options, customer_type, catalogue)
    yield from reader.read()


# --- pass 1: objects ----------------------------------------------------------------


@dataclass
class _Catalogue:
    """What the first pass learns: object types and object-to-object links."""

    layout: str = ""
    declared: list[str] = field(default_factory=list)
    type_of: dict[str, str] = field(default_factory=dict)
    attribute_types: dict[str, dict[str, str]] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(self.type_of.values())


def _read_catalogue(
    path: Path,
    options: ImportOptions,
    customer_type: str | None,
    qualifiers: frozenset[str] | None,
) -> _Catalogue:
    catalogue = _Catalogue()
    candidates: list[tuple[str, str]] = []
    keys: list[str] = []
    with open_source(path) as fh:
        stream = JsonStream(fh, path=path, max_item_bytes=options.max_line_bytes)
        if stream.peek() != "{":
            raise stream.error("an OCEL JSON log is a JSON object; this file is not one")
        for key, _line in stream.iter_keys():
            keys.append(key)
            if key == "objectTypes":
                types = stream.read_value()
                catalogue.declared += [
                    str(t["name"]) for t in _list(types) if isinstance(t, dict) and "name" in t
                ]
            elif key == "eventTypes":
                for item in _list(stream.read_value()):
                    if isinstance(item, dict) and "name" in item:
                        catalogue.attribute_types[str(item["name"])] = {
                            str(a.get("name")): str(a.get("type"))
                            for a in _list(item.get("attributes"))
                            if isinstance(a, dict)
                        }
            elif key == "ocel:global-log":
                log = as_object(stream.read_value())
                catalogue.declared += [str(t) for t in _list(log.get("ocel:object-types"))]
            elif key in ("objects", "ocel:objects"):
                catalogue.layout = "2.0" if key == "objects" else "1.0"
                for object_key, _at, item in stream.iter_entries():
                    obj = as_object(item)
                    oid = text_or_none(obj.get("id")) if object_key is None else object_key
                    otype = text_or_none(obj.get("type") or obj.get("ocel:type"))
                    if oid is None or otype is None:
                        continue
                    catalogue.type_of[oid] = otype
                    if otype == customer_type and qualifiers is not None:
                        for rel in _list(obj.get("relationships")):
                            rel = as_object(rel)
                            target = text_or_none(rel.get("objectId"))
                            qualifier = str(rel.get("qualifier") or "")
                            if target and ("*" in qualifiers or qualifier in qualifiers):
                                candidates.append((oid, target))
            elif key in ("events", "ocel:events"):
                catalogue.layout = catalogue.layout or ("2.0" if key == "events" else "1.0")
                stream.skip_value()
            else:
                stream.skip_value()
    if not catalogue.layout:
        raise DataImportError(
            f"{path}: not an OCEL JSON log: no 'objects'/'events' (OCEL 2.0) or "
            f"'ocel:objects'/'ocel:events' (OCEL 1.0) member; members found: "
            f"{', '.join(keys) or 'none'}"
        )
    catalogue.links = [
        (a, b) for a, b in candidates if catalogue.type_of.get(b) == customer_type and a != b
    ]
    return catalogue


def _check_customer_type(path: Path, customer_type: str | None, catalogue: _Catalogue) -> str:
    counts = catalogue.counts()
    names = list(dict.fromkeys([*catalogue.declared, *sorted(counts)]))
    listing = ", ".join(f"{n} ({_objects(counts.get(n, 0))})" for n in names) or "none"
    if customer_type is None:
        raise DataImportError(
            f"{path}: say which object type is the customer with the import option "
            f"customer_type (--option customer_type=TYPE); object types in this log: {listing}"
        )
    if counts.get(customer_type, 0) == 0:
        raise DataImportError(
            f"{path}: the log has no objects of type '{customer_type}' (option "
            f"customer_type); object types in this log: {listing}"
        )
    return customer_type


# --- pass 2: events -----------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    reason: str
    detail: str


@dataclass(frozen=True)
class _Event:
    """One OCEL event, whichever layout it came in."""

    id: str | None
    name: str | None
    time: str | None
    attributes: dict[str, Any]
    relations: list[tuple[str, str | None]]


class _EventReader:
    def __init__(
        self, path: Path, options: ImportOptions, customer_type: str, catalogue: _Catalogue
    ) -> None:
        self.path = path
        self.options = options
        self.customer_type = customer_type
        self.actor_kind = options.actor_kind or customer_type
        self.catalogue = catalogue
        self.parser = TimestampParser(options.timezone, where=f"{path}: ")
        self.event_ids = EventIds("ocel")
        self.builder = ChunkBuilder()
        self.fanout_rows = 0
        self.fanout_extra = 0

    def read(self) -> Iterator[ImportChunk]:
        for a, b in self.catalogue.links:
            self.builder.add_link(a, self.actor_kind, b, self.actor_kind, None)
        yielded = False
        with open_source(self.path) as fh:
            stream = JsonStream(fh, path=self.path, max_item_bytes=self.options.max_line_bytes)
            for key, _line in stream.iter_keys():
                if key not in ("events", "ocel:events"):
                    stream.skip_value()
                    continue
                for row, (event_key, line, item) in enumerate(stream.iter_entries(), start=1):
                    self._row(row, line, event_key, item)
                    if self.builder.rows_read >= self.options.chunk_rows:
                        yielded = True
                        yield self._build(stream.position)
            position = stream.position
        if self.builder.rows_read or not yielded:
            yield self._build(position)

    def _build(self, position: int | None) -> ImportChunk:
        counts = {"fanout_rows": self.fanout_rows, "fanout_extra_events": self.fanout_extra}
        notes = {k: v for k, v in counts.items() if v}
        self.fanout_rows = self.fanout_extra = 0
        return self.builder.build(bytes_read=position, notes=notes)

    def _row(self, row: int, line: int, key: str | None, item: Any) -> None:
        raw = dump_json({key: item} if key is not None else item)
        where = f"{self.path}:{line}: event {row}"
        if not isinstance(item, dict):
            self.builder.quarantine(row, raw, "not_an_object", f"{where}: not a JSON object")
            return
        event = _normalise(key, item, self.catalogue.attribute_types)
        if event.id is not None:
            where += f" ('{event.id}')"
        checked = self._check(event)
        if isinstance(checked, _Problem):
            self.builder.quarantine(row, raw, checked.reason, f"{where}: {checked.detail}")
            return
        name, when = checked
        type_of = self.catalogue.type_of
        customers: dict[str, str | None] = {}
        for oid, qualifier in event.relations:
            if type_of.get(oid) == self.customer_type and oid not in customers:
                customers[oid] = qualifier
        if not customers:
            related = ", ".join(sorted({type_of.get(o, "unknown") for o, _ in event.relations}))
            self.builder.quarantine(
                row,
                raw,
                "no_customer_object",
                f"{where}: related to no '{self.customer_type}' object "
                f"(related types: {related or 'none'})",
            )
            return
        fanout = len(customers)
        if fanout > 1:
            self.fanout_rows += 1
            self.fanout_extra += fanout - 1
        for customer, qualifier in customers.items():
            properties: dict[str, Any] = dict(event.attributes)
            properties["ocel:id"] = event.id
            if qualifier:
                properties["ocel:qualifier"] = qualifier
            others = [
                {"id": oid, "type": type_of.get(oid), "qualifier": q}
                for oid, q in event.relations
                if oid != customer
            ]
            if others:
                properties["ocel:objects"] = others
            if fanout > 1:
                properties["ocel:fanout"] = fanout
            self.builder.add_event(
                row_number=row,
                event_id=self.event_ids.derive(event.id or "", name, str(when.micros), customer),
                actor_id=customer,
                actor_kind=self.actor_kind,
                ts=when.micros,
                event=name,
                source_tz=when.zone,
                channel=_attribute(event, self.options.channel),
                session_id=_attribute(event, self.options.session),
                region=_attribute(event, self.options.region),
                properties=properties,
            )
        self.builder.load()

    def _check(self, event: _Event) -> tuple[str, Instant] | _Problem:
        if event.name is None:
            return _Problem("missing_event_name", "the event has no type (activity)")
        if event.time is None:
            return _Problem("missing_timestamp", "the event has no time")
        try:
            return event.name, self.parser.parse(event.time)
        except ValueError:
            return _Problem("bad_timestamp", f"time {event.time!r} is not an ISO 8601 date-time")


def _normalise(key: str | None, item: Mapping[str, Any], types: Mapping[str, Any]) -> _Event:
    if "ocel:activity" in item or "ocel:omap" in item or "ocel:timestamp" in item:
        relations: list[tuple[str, str | None]] = [
            (str(o), None) for o in _list(item.get("ocel:omap"))
        ]
        for typed in _list(item.get("ocel:typedOmap")):
            typed = as_object(typed)
            oid = text_or_none(typed.get("ocel:oid"))
            if oid is not None and all(o != oid for o, _ in relations):
                relations.append((oid, text_or_none(typed.get("ocel:qualifier"))))
        return _Event(
            id=key if key is not None else text_or_none(item.get("ocel:id")),
            name=text_or_none(item.get("ocel:activity")),
            time=text_or_none(item.get("ocel:timestamp")),
            attributes=dict(as_object(item.get("ocel:vmap"))),
            relations=relations,
        )
    name = text_or_none(item.get("type"))
    declared = as_object(types.get(name or ""))
    attributes = {
        str(a.get("name")): _typed(a.get("value"), declared.get(str(a.get("name"))))
        for a in (as_object(x) for x in _list(item.get("attributes")))
        if a.get("name") is not None
    }
    relations = []
    for rel in _list(item.get("relationships")):
        rel = as_object(rel)
        oid = text_or_none(rel.get("objectId"))
        if oid is not None:
            relations.append((oid, text_or_none(rel.get("qualifier"))))
    return _Event(
        id=text_or_none(item.get("id")) if key is None else key,
        name=name,
        time=text_or_none(item.get("time")),
        attributes=attributes,
        relations=relations,
    )


def _typed(value: Any, declared: str | None) -> Any:
    if not isinstance(value, str) or declared is None:
        return value
    try:
        if declared == "integer":
            return int(value)
        if declared == "float":
            return float(value)
    except ValueError:
        return value
    if declared == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _attribute(event: _Event, key: str | None) -> str | None:
    if key is None:
        return None
    return text_or_none(event.attributes.get(key))


def _objects(count: int) -> str:
    return "1 object" if count == 1 else f"{count} objects"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _qualifiers(value: Any) -> frozenset[str] | None:
    if value is None or value == [] or value == "":
        return None
    if isinstance(value, str):
        return frozenset(q.strip() for q in value.split(",") if q.strip())
    if isinstance(value, list | tuple) and all(isinstance(q, str) for q in value):
        return frozenset(value)
    raise DataImportError("ocel option link_qualifiers must be a list of qualifiers or '*'")
