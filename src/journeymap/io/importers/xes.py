"""IEEE XES (1849-2016) event logs, plain or gzipped (``.xes``, ``.xes.gz``), as events.

The file is streamed with :func:`xml.etree.ElementTree.iterparse` and every event is
cleared once read, so memory stays bounded by the chunk size. One ``<event>`` is one
input row; its row number is its position among the file's events (1-based).

- **Actor**: the trace's ``concept:name`` (the case id), kind ``case``. ``--actor NAME``
  takes the actor from another attribute instead (an event attribute first, then a
  trace attribute, e.g. ``customer``); ``--actor-kind`` renames the kind.
- **Event**: ``concept:name`` (or ``--event NAME``). **Time**: ``time:timestamp`` (or
  ``--ts NAME``); the offset written in the value is honoured and recorded as
  ``source_tz`` (``+01:00``); a value without one is read in ``--timezone``.
- **Lifecycle**: ``lifecycle:transition`` is kept in properties as ``lifecycle``. By
  default (``lifecycle=all``) a start and its complete stay two separate events of the
  same name, so durations can be measured between them. With ``lifecycle=complete``
  only completions load (events without a transition count as completions); the other
  transitions are quarantined as ``lifecycle_skipped`` so the rows still add up and
  nothing is lost.
- **Properties**: every other event attribute under its XES key (``org:resource``,
  ``cost:total``, ...), typed: string and id as text, int as integer, float as number,
  boolean as true/false, date as UTC ISO 8601 text, list as ``[{key, value}, ...]``,
  container as an object; nested (meta) attributes as ``"<key>/<child>"``. Trace
  attributes other than the case id are added as ``"case:<key>"`` (option
  ``case_attributes=false`` leaves them out). ``--channel``, ``--session`` and
  ``--region`` name attributes (event, then trace) to fill those columns.
- ``<global>`` declarations are not used as defaults: many tools write placeholder
  values there.
- **Event id**: a digest of case, name, time and attributes; the n-th repeat of the
  same event in the file gets ``-n`` appended.

Errors: a file that is not well-formed XML, or a gzip stream that ends early, raises
:class:`~journeymap.errors.DataImportError` located by line and column; the pipeline
then loads nothing from the file. Quarantine reasons: ``missing_actor`` (no case id, or
an event outside any trace), ``missing_event_name``, ``missing_timestamp``,
``bad_timestamp``, ``lifecycle_skipped``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from journeymap.errors import DataImportError
from journeymap.io.importers._common import (
    ChunkBuilder,
    EventIds,
    Instant,
    TimestampParser,
    broken_gzip,
    check_options,
    dump_json,
    format_micros,
    open_source,
    option_choice,
    option_flag,
    raw_position,
)
from journeymap.io.importers.base import ImportChunk, ImportOptions

__all__ = ["XES_OPTIONS", "read_xes"]

XES_OPTIONS: dict[str, str] = {
    "lifecycle": "all (default: every transition is an event) or complete",
    "case_attributes": "add trace attributes as case:<key> properties (default true)",
}

_ATTRIBUTES = frozenset({"string", "date", "int", "float", "boolean", "id", "list", "container"})
_FIELDS = ("actor", "actor_kind", "ts", "event", "channel", "session", "region")


def read_xes(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Stream an XES log as chunks of ``options.chunk_rows`` events."""
    check_options(options, fmt="xes", extra=XES_OPTIONS, fields=_FIELDS)
    reader = _LogReader(path, options)
    yield from reader.read()


class _Counting:
    """A byte stream that counts the lines handed to the parser (for error locations)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.lines = 0

    @property
    def position(self) -> int | None:
        return raw_position(self._fh)

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.lines += data.count(b"\n")
        return data


@dataclass
class _Trace:
    element: ET.Element
    attributes: dict[str, Any] = field(default_factory=dict)
    pending: list[tuple[int, dict[str, Any], str]] = field(default_factory=list)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _LogReader:
    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        self.options = options
        self.parser = TimestampParser(options.timezone, where=f"{path}: ")
        self.only_complete = option_choice(options, "lifecycle", ("all", "complete"), "xes") == (
            "complete"
        )
        self.case_attributes = option_flag(options, "case_attributes", True, "xes")
        self.actor_key = options.actor
        self.actor_kind = options.actor_kind or "case"
        self.name_key = options.event or "concept:name"
        self.ts_key = options.ts or "time:timestamp"
        self.event_ids = EventIds("xes")
        self.builder = ChunkBuilder()
        self.events_seen = 0
        self.local: dict[str, str] = {}

    def read(self) -> Iterator[ImportChunk]:
        yielded = False
        with open_source(self.path) as fh:
            source = self.source = _Counting(fh)
            try:
                for chunk in self._parse(source):
                    yielded = True
                    yield chunk
            except ET.ParseError as exc:
                line, column = exc.position
                raise DataImportError(
                    f"{self.path}:{line}:{column + 1}: the XES file is not well-formed XML "
                    f"({expat.ErrorString(exc.code)}) after {_events(self.events_seen)}; "
                    "nothing from this file is loaded; repair or re-export the log"
                ) from None
            except (EOFError, OSError, zlib.error) as exc:
                raise broken_gzip(self.path, source.lines + 1, exc) from None
            position = source.position
        if self.builder.rows_read or not yielded:
            yield self.builder.build(bytes_read=position)

    def _parse(self, source: _Counting) -> Iterator[ImportChunk]:
        local = self.local
        depth = 0  # 1 inside <log>, 2 inside a trace or a log-level element, ...
        root: ET.Element | None = None
        trace: _Trace | None = None
        for kind, element in ET.iterparse(source, events=("start", "end")):
            tag = local.get(element.tag)
            if tag is None:
                tag = local[element.tag] = _local(element.tag)
            if kind == "start":
                depth += 1
                if root is None:
                    root = element
                    if tag != "log":
                        raise DataImportError(
                            f"{self.path}: not an XES log: the root element is <{tag}>, "
                            "expected <log>"
                        )
                elif depth == 2 and tag == "trace":
                    trace = _Trace(element)
                continue
            depth -= 1
            if tag == "event" and depth in (1, 2):
                self.events_seen += 1
                in_trace = trace if depth == 2 else None
                self._event(element, in_trace)
                container = in_trace.element if in_trace is not None else root
                if container is not None and len(container) and container[-1] is element:
                    del container[-1]
                if self.builder.rows_read >= self.options.chunk_rows:
                    yield self.builder.build(bytes_read=source.position)
            elif depth == 2 and trace is not None and tag in _ATTRIBUTES:
                key, value = _attribute(element, self.parser, local)
                if key is not None:
                    trace.attributes[key] = value
            elif depth == 1 and tag == "trace" and trace is not None:
                self._close(trace)
                trace = None
                if root is not None:
                    root.clear()

    # -- events
    def _event(self, element: ET.Element, trace: _Trace | None) -> None:
        attributes: dict[str, Any] = {}
        for child in element:
            key, value = _attribute(child, self.parser, self.local)
            if key is not None:
                attributes[key] = value
                if len(child) and _local(child.tag) not in ("list", "container"):
                    attributes.update(_meta(key, child, self.parser, self.local))
        row = self.events_seen
        if trace is not None and self._actor(attributes, trace.attributes) is None:
            # The case id may still come later in the trace: hold the event until then.
            trace.pending.append((row, attributes, _xml(element)))
            return
        self._emit(row, attributes, trace.attributes if trace else {}, element)

    def _close(self, trace: _Trace) -> None:
        for row, attributes, raw in trace.pending:
            self._emit(row, attributes, trace.attributes, raw)

    def _actor(self, attributes: Mapping[str, Any], case: Mapping[str, Any]) -> str | None:
        if self.actor_key is None:
            value = case.get("concept:name")
        else:
            value = attributes.get(self.actor_key, case.get(self.actor_key))
        return None if value is None or str(value).strip() == "" else str(value)

    def _emit(
        self,
        row: int,
        attributes: dict[str, Any],
        case: Mapping[str, Any],
        element: ET.Element | str,
    ) -> None:
        def skip(reason: str, detail: str) -> None:
            raw = element if isinstance(element, str) else _xml(element)
            where = f"{self.path}: event {row}"
            self.builder.quarantine(row, raw.strip(), reason, f"{where}: {detail}")

        actor = self._actor(attributes, case)
        if actor is None:
            what = f"attribute '{self.actor_key}'" if self.actor_key else "trace concept:name"
            skip("missing_actor", f"no case id ({what}); pass --actor to name another attribute")
            return
        name = attributes.pop(self.name_key, None)
        if name is None or str(name).strip() == "":
            skip("missing_event_name", f"the event has no '{self.name_key}' attribute")
            return
        stamp = attributes.pop(self.ts_key, None)
        if stamp is None:
            skip("missing_timestamp", f"the event has no '{self.ts_key}' attribute")
            return
        when = self._instant(stamp)
        if when is None:
            skip("bad_timestamp", f"'{self.ts_key}' {stamp!r} is not an ISO 8601 date-time")
            return
        lifecycle = attributes.pop("lifecycle:transition", None)
        if lifecycle is not None:
            attributes["lifecycle"] = lifecycle
        if self.only_complete and lifecycle is not None and str(lifecycle).lower() != "complete":
            skip(
                "lifecycle_skipped",
                f"lifecycle '{lifecycle}' left out (lifecycle=complete keeps completions only)",
            )
            return
        if self.case_attributes:
            for key, value in case.items():
                if key != "concept:name" or self.actor_key is not None:
                    attributes.setdefault(f"case:{key}", value)
        if self.actor_key is not None:
            attributes.pop(self.actor_key, None)
        event = str(name)
        properties = dump_json(attributes, sort_keys=True)
        self.builder.add_event(
            row_number=row,
            event_id=self.event_ids.derive(actor, event, str(when.micros), properties),
            actor_id=actor,
            actor_kind=self.actor_kind,
            ts=when.micros,
            event=event,
            source_tz=when.zone,
            channel=self._column(self.options.channel, attributes, case),
            session_id=self._column(self.options.session, attributes, case),
            region=self._column(self.options.region, attributes, case),
            properties=properties,
        )
        self.builder.load()

    def _instant(self, stamp: Any) -> Instant | None:
        if isinstance(stamp, _Date):
            return stamp.instant
        try:
            return self.parser.parse(str(stamp))
        except ValueError:
            return None

    @staticmethod
    def _column(
        key: str | None, attributes: Mapping[str, Any], case: Mapping[str, Any]
    ) -> str | None:
        if key is None:
            return None
        value = attributes.get(key, case.get(key))
        return None if value is None else str(value)


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def _xml(element: ET.Element) -> str:
    """An element as XML text with plain tag names (the quarantined raw row)."""
    attributes = "".join(f" {k}={quoteattr(v)}" for k, v in element.attrib.items())
    tag = _local(element.tag)
    children = "".join(_xml(child) for child in element)
    return f"<{tag}{attributes}>{children}</{tag}>" if children else f"<{tag}{attributes}/>"


# --- attributes ---------------------------------------------------------------------


class _Date(str):
    """A date attribute: UTC ISO text for properties, the parsed instant for ``ts``."""

    instant: Instant

    def __new__(cls, instant: Instant) -> _Date:
        text = super().__new__(cls, format_micros(instant.micros))
        text.instant = instant
        return text


def _attribute(
    element: ET.Element, parser: TimestampParser, local: dict[str, str]
) -> tuple[str | None, Any]:
    """The ``(key, typed value)`` of an attribute element; key None when it is not one."""
    tag = local.get(element.tag)
    if tag is None:
        tag = local[element.tag] = _local(element.tag)
    key = element.get("key", "")
    value = element.get("value")
    if tag == "string" or tag == "id":
        return key, value
    if tag not in _ATTRIBUTES:
        return None, None
    if tag == "list":
        values = [c for c in element if _local(c.tag) == "values"]
        items = [c for v in values for c in v] or list(element)
        pairs = (_attribute(c, parser, local) for c in items)
        return key, [{"key": k, "value": v} for k, v in pairs if k is not None]
    if tag == "container":
        pairs = (_attribute(c, parser, local) for c in element)
        return key, {k: v for k, v in pairs if k is not None}
    if value is None:
        return key, None
    try:
        if tag == "int":
            return key, int(value)
        if tag == "float":
            return key, float(value)
        if tag == "date":
            return key, _Date(parser.parse(value))
    except ValueError:
        return key, value
    lowered = value.strip().lower()
    return key, True if lowered == "true" else False if lowered == "false" else value


def _meta(
    key: str, element: ET.Element, parser: TimestampParser, local: dict[str, str]
) -> dict[str, Any]:
    """Nested (meta) attributes of a non-list attribute, as ``"<key>/<child>"``."""
    out: dict[str, Any] = {}
    for child in element:
        child_key, value = _attribute(child, parser, local)
        if child_key is not None:
            out[f"{key}/{child_key}"] = value
            if len(child):
                out.update(_meta(f"{key}/{child_key}", child, parser, local))
    return out
