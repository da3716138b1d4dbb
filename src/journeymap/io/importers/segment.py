"""Segment spec messages (track, identify, page, screen, alias, group) as events.

Input: JSON Lines (one message per line; a line may also hold a ``{"batch": [...]}``
payload), a JSON array of messages, or one JSON document (a message or a batch
payload) in a ``.json`` file or pretty-printed; gzip is read transparently. One message
is one input row.

- **Event name**: ``event`` for track; ``page`` / ``screen`` for page and screen views
  (their ``name`` and ``category`` go into properties); ``identify``, ``alias``,
  ``group`` for those calls.
- **Actor**: ``userId`` when present (kind ``user_id``), else ``anonymousId`` (kind
  ``anonymous_id``). A message with neither is quarantined as ``missing_actor``.
- **Identity links**: ``anonymousId`` ↔ ``userId`` when one message carries both;
  ``alias`` links ``previousId`` (kind ``anonymous_id`` by default, option
  ``alias_kind``) ↔ ``userId``; an e-mail address in ``context.traits.email`` or
  ``traits.email`` becomes an ``email_hash`` identifier (sha256 of the trimmed,
  lower-cased address) linked to the actor. Raw addresses are never stored: keys named
  ``email`` anywhere in properties, traits or context are replaced by ``email_hash``,
  and addresses in quarantined raw text are replaced by ``sha256:<hash>``.
- **Time and clock skew**: the client time is ``originalTimestamp`` when present (the
  field Segment keeps the device time in) else ``timestamp``. When ``sentAt`` and
  ``receivedAt`` are both present the device clock's error is removed:
  ``ts = receivedAt − (sentAt − client time)``. Example: a phone whose clock runs about
  five minutes fast records ``timestamp`` 10:05:00 and ``sentAt`` 10:05:30; the server
  receives it at ``receivedAt`` 10:00:31, so ``ts = 10:00:31 − 30 s = 10:00:01``.
  Batch-level ``sentAt`` applies to the batch's messages. Option ``clock_skew=false``
  keeps the client time as written.
- **Deduplication**: a ``messageId`` seen earlier in the file is quarantined as
  ``duplicate_message_id`` (so rows still add up); the event id is the ``messageId``
  (or a digest of the message when it has none), so importing again loads nothing new.
- **Channel**: ``context.campaign`` medium/source (option ``channel_style``), else the
  message's ``channel`` (``browser`` → ``web``, ``mobile`` → ``app``). **Region**:
  ``context.location.country``. **Session**: the dotted path given by ``--session``
  (default ``context.sessionId``).
- **Properties**: the message's ``properties`` (track, page, screen), ``traits``
  (identify, group), ``groupId``, ``previousId``, and the parts of ``context`` that say
  where the event happened (page, campaign, app, device, os, screen, locale, timezone).

Quarantine reasons: ``bad_json``, ``bad_encoding``, ``not_an_object``,
``unknown_type``, ``missing_actor``, ``missing_timestamp``, ``bad_timestamp``,
``missing_event_name``, ``duplicate_message_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from journeymap.io.importers._common import (
    CHANNEL_STYLES,
    ChunkBuilder,
    EventIds,
    Instant,
    JsonStream,
    Lines,
    Occurrences,
    TimestampParser,
    as_object,
    check_options,
    decode_line,
    dump_json,
    format_channel,
    hash_email,
    open_source,
    opens_json_document,
    option_choice,
    option_flag,
    scrub_emails,
    sniff,
    text_or_none,
)
from journeymap.io.importers.base import ImportChunk, ImportOptions

__all__ = ["SEGMENT_OPTIONS", "read_segment"]

SEGMENT_OPTIONS: dict[str, str] = {
    "clock_skew": "correct device clocks with sentAt/receivedAt (default true)",
    "alias_kind": "identifier kind of an alias call's previousId (default anonymous_id)",
    "channel_style": "medium/source (default), medium or source",
}

_TYPES = {"track", "identify", "page", "screen", "alias", "group"}
_CONTEXT_KEPT = ("page", "campaign", "app", "device", "os", "screen", "locale", "timezone")
_LIBRARY_CHANNELS = {"browser": "web", "mobile": "app"}


def read_segment(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Stream a Segment export as event chunks of ``options.chunk_rows`` messages.

    >>> # chunks = list(read_segment(Path("tracks.jsonl"), ImportOptions()))
    """
    check_options(options, fmt="segment", extra=SEGMENT_OPTIONS, fields=("session",))
    reader = _MessageReader(path, options)
    builder = ChunkBuilder()
    progress = _Progress()
    yielded = False
    for row_number, where, raw, message, batch in _iter_messages(path, options, progress):
        reader.read(builder, row_number, where, raw, message, batch)
        if builder.rows_read >= options.chunk_rows:
            yielded = True
            yield builder.build(bytes_read=progress.position())
    if builder.rows_read or not yielded:
        yield builder.build(bytes_read=progress.position())


class _Progress:
    """Where the current input source has got to, in stored bytes."""

    def __init__(self) -> None:
        self.source: Lines | JsonStream | None = None

    def position(self) -> int | None:
        return self.source.position if self.source is not None else None


# --- input shapes -------------------------------------------------------------------

_Item = tuple[int, str, str, Any, Mapping[str, Any]]
"""(row number, where, raw text, parsed message or a bad row, batch-level fields)."""


def _iter_messages(path: Path, options: ImportOptions, progress: _Progress) -> Iterator[_Item]:
    first = sniff(path)
    if first == b"[":
        yield from _iter_array(path, options, progress)
    elif first == b"{" and (
        path.name.lower().removesuffix(".gz").endswith(".json") or opens_json_document(path)
    ):
        yield from _iter_document(path, options, progress)
    else:
        yield from _iter_jsonl(path, options, progress)


def _iter_jsonl(path: Path, options: ImportOptions, progress: _Progress) -> Iterator[_Item]:
    lines = progress.source = Lines(path, max_line_bytes=options.max_line_bytes)
    for number, body in lines:
        if not body.strip():
            continue
        where = f"{path}:{number}"
        try:
            text = decode_line(path, number, body)
        except ValueError as exc:
            raw = body.decode("utf-8", "backslashreplace")
            yield number, where, raw, _BadRow("bad_encoding", str(exc)), {}
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            detail = f"{where}:{exc.colno}: not JSON ({exc.msg}); fix or remove the line"
            yield number, where, text, _BadRow("bad_json", detail), {}
            continue
        if isinstance(value, dict) and isinstance(value.get("batch"), list):
            batch = {k: v for k, v in value.items() if k != "batch"}
            for index, message in enumerate(value["batch"], start=1):
                yield number, f"{where}: batch message {index}", dump_json(message), message, batch
        else:
            yield number, where, text, value, {}


def _iter_array(path: Path, options: ImportOptions, progress: _Progress) -> Iterator[_Item]:
    with open_source(path) as fh:
        stream = JsonStream(fh, path=path, max_item_bytes=options.max_line_bytes)
        progress.source = stream
        for ordinal, (line, message) in enumerate(stream.iter_array(), start=1):
            where = f"{path}:{line}: message {ordinal}"
            yield ordinal, where, dump_json(message), message, {}
        if stream.peek():
            raise stream.error("unexpected text after the JSON array")


def _iter_document(path: Path, options: ImportOptions, progress: _Progress) -> Iterator[_Item]:
    with open_source(path) as fh:
        stream = JsonStream(fh, path=path, max_item_bytes=options.max_line_bytes)
        progress.source = stream
        document = stream.read_value()
        if stream.peek():
            raise stream.error(
                "unexpected text after the first JSON document; for several messages "
                "write one per line (JSONL) or a JSON array"
            )
    if isinstance(document, dict) and isinstance(document.get("batch"), list):
        batch = {k: v for k, v in document.items() if k != "batch"}
        for ordinal, message in enumerate(document["batch"], start=1):
            yield ordinal, f"{path}: batch message {ordinal}", dump_json(message), message, batch
    else:
        yield 1, f"{path}: message 1", dump_json(document), document, {}


class _BadRow:
    """A row that could not even be parsed."""

    def __init__(self, reason: str, detail: object) -> None:
        self.reason = reason
        self.detail = str(detail)


# --- one message --------------------------------------------------------------------


class _Skip(Exception):
    """Raised inside message handling to quarantine the current row."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _MessageReader:
    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        self.parser = TimestampParser(options.timezone, where=f"{path}: ")
        self.clock_skew = option_flag(options, "clock_skew", True, "segment")
        self.alias_kind = str(options.extra.get("alias_kind", "anonymous_id"))
        self.channel_style = option_choice(options, "channel_style", CHANNEL_STYLES, "segment")
        self.session_path = (options.session or "context.sessionId").split(".")
        self.message_ids = Occurrences()
        self.event_ids = EventIds("segment")

    def read(
        self,
        builder: ChunkBuilder,
        row: int,
        where: str,
        raw: str,
        message: Any,
        batch: Mapping[str, Any],
    ) -> None:
        if isinstance(message, _BadRow):
            builder.quarantine(row, scrub_emails(raw), message.reason, message.detail)
            return
        try:
            self._add(builder, row, message, batch)
        except _Skip as skip:
            builder.quarantine(row, scrub_emails(raw), skip.reason, f"{where}: {skip.detail}")
            return
        builder.load()

    def _add(self, builder: ChunkBuilder, row: int, message: Any, batch: Mapping[str, Any]) -> None:
        if not isinstance(message, dict):
            raise _Skip(
                "not_an_object", f"a Segment message is a JSON object, not {_kind(message)}"
            )
        kind = str(message.get("type") or ("track" if message.get("event") else "")).lower()
        if kind not in _TYPES:
            raise _Skip(
                "unknown_type",
                f"message type {message.get('type')!r} is not one of {', '.join(sorted(_TYPES))}",
            )
        message_id = text_or_none(message.get("messageId"))
        if message_id is not None and self.message_ids.seen(message_id):
            raise _Skip(
                "duplicate_message_id",
                f"messageId {message_id!r} was already loaded from this file",
            )

        user_id = text_or_none(message.get("userId"))
        anonymous_id = text_or_none(message.get("anonymousId"))
        if user_id is not None:
            actor, actor_kind = user_id, "user_id"
        elif anonymous_id is not None and kind != "alias":
            actor, actor_kind = anonymous_id, "anonymous_id"
        else:
            need = "userId" if kind == "alias" else "userId or anonymousId"
            raise _Skip("missing_actor", f"the {kind} message has no {need}")

        when = self._time(message, batch)
        event = self._event_name(kind, message)
        context = as_object(message.get("context")) or as_object(batch.get("context"))

        properties = self._properties(kind, message, context)
        event_id = message_id or self.event_ids.derive(
            dump_json(message, sort_keys=True), actor, str(when.micros)
        )
        campaign = as_object(context.get("campaign"))
        channel = format_channel(
            campaign.get("medium"), campaign.get("source"), style=self.channel_style
        )
        if channel is None and text_or_none(message.get("channel")) is not None:
            library = str(message["channel"])
            channel = _LIBRARY_CHANNELS.get(library, library)
        location = as_object(context.get("location"))
        builder.add_event(
            row_number=row,
            event_id=event_id,
            actor_id=actor,
            actor_kind=actor_kind,
            ts=when.micros,
            event=event,
            source_tz=when.zone,
            channel=channel,
            session_id=text_or_none(_dig(message, self.session_path)),
            region=text_or_none(location.get("country")),
            properties=properties,
        )
        self._links(builder, kind, message, context, actor, actor_kind, when.micros)
        if message_id is not None:
            self.message_ids.record(message_id)

    def _time(self, message: Mapping[str, Any], batch: Mapping[str, Any]) -> Instant:
        client_text = text_or_none(message.get("originalTimestamp")) or text_or_none(
            message.get("timestamp")
        )
        if client_text is None:
            raise _Skip("missing_timestamp", "the message has no timestamp or originalTimestamp")
        client = self._parse(client_text, "timestamp")
        if not self.clock_skew:
            return client
        sent_text = text_or_none(message.get("sentAt")) or text_or_none(batch.get("sentAt"))
        received_text = text_or_none(message.get("receivedAt"))
        if sent_text is None or received_text is None:
            return client
        sent = self._parse(sent_text, "sentAt")
        received = self._parse(received_text, "receivedAt")
        return Instant(received.micros - (sent.micros - client.micros), client.zone)

    def _parse(self, text: str, field: str) -> Instant:
        try:
            return self.parser.parse(text)
        except ValueError:
            raise _Skip(
                "bad_timestamp",
                f"{field} {text!r} is not an ISO 8601 date-time (e.g. 2024-05-01T10:00:00Z)",
            ) from None

    def _event_name(self, kind: str, message: Mapping[str, Any]) -> str:
        if kind != "track":
            return kind
        name = text_or_none(message.get("event"))
        if name is None:
            raise _Skip("missing_event_name", "the track message has no event name ('event')")
        return name

    def _properties(
        self, kind: str, message: Mapping[str, Any], context: Mapping[str, Any]
    ) -> dict[str, Any]:
        props: dict[str, Any] = {}
        if isinstance(message.get("properties"), dict):
            props.update(message["properties"])
        if kind in ("page", "screen"):
            for key in ("name", "category"):
                if message.get(key) is not None:
                    props[key] = message[key]
        if kind in ("identify", "group") and isinstance(message.get("traits"), dict):
            props["traits"] = message["traits"]
        if kind == "group" and message.get("groupId") is not None:
            props["group_id"] = message["groupId"]
        if kind == "alias" and message.get("previousId") is not None:
            props["previous_id"] = message["previousId"]
        kept = {k: context[k] for k in _CONTEXT_KEPT if context.get(k) is not None}
        if kept:
            props["context"] = kept
        return _hash_email_keys(props)

    def _links(
        self,
        builder: ChunkBuilder,
        kind: str,
        message: Mapping[str, Any],
        context: Mapping[str, Any],
        actor: str,
        actor_kind: str,
        ts: int,
    ) -> None:
        user_id = text_or_none(message.get("userId"))
        anonymous_id = text_or_none(message.get("anonymousId"))
        if user_id is not None and anonymous_id is not None:
            builder.add_link(anonymous_id, "anonymous_id", user_id, "user_id", ts)
        previous = text_or_none(message.get("previousId"))
        if kind == "alias" and previous is not None and user_id is not None:
            builder.add_link(previous, self.alias_kind, user_id, "user_id", ts)
        for traits in (context.get("traits"), message.get("traits")):
            if isinstance(traits, dict) and text_or_none(traits.get("email")) is not None:
                builder.add_link(
                    actor, actor_kind, hash_email(str(traits["email"])), "email_hash", ts
                )


# --- helpers ------------------------------------------------------------------------


def _dig(message: Mapping[str, Any], path: list[str]) -> Any:
    value: Any = message
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _hash_email_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` with every ``email`` key, at any depth, replaced by ``email_hash``."""
    out: dict[str, Any] = {}
    for key, item in mapping.items():
        if str(key).lower() == "email" and isinstance(item, str):
            out["email_hash"] = hash_email(item)
        else:
            out[key] = _hash_email_values(item)
    return out


def _hash_email_values(value: Any) -> Any:
    if isinstance(value, dict):
        return _hash_email_keys(value)
    if isinstance(value, list):
        return [_hash_email_values(v) for v in value]
    return value


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
