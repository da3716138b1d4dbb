"""Shared pieces of the event-format readers (Segment, GA4, Snowplow, XES, OCEL).

Private to :mod:`journeymap.io.importers`. What lives here:

- :class:`ChunkBuilder` collects one chunk's events, identity links and quarantined
  rows and turns them into an :class:`~journeymap.io.importers.base.ImportChunk`; every
  input row ends in exactly one of :meth:`ChunkBuilder.load` or
  :meth:`ChunkBuilder.quarantine`, so ``rows_read == rows_loaded + quarantined`` holds
  by construction.
- :class:`Occurrences` remembers which keys a file has already shown (message ids,
  event ids, content hashes) in 12 bytes per distinct key, so deduplication and
  deterministic event ids stay cheap on files larger than memory.
- :class:`TimestampParser` turns ISO 8601 text into UTC microseconds and the zone the
  text was written in.
- :func:`open_source`, :class:`Lines` and :class:`JsonStream` read plain or gzipped
  files line by line or item by item, with located errors; :func:`raw_position` tells
  how far into the file (in stored bytes) reading has come, for the progress bar.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import json
import math
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa

from journeymap.errors import DataImportError
from journeymap.io.importers.base import (
    EVENTS_ARROW,
    LINKS_ARROW,
    ImportChunk,
    ImportOptions,
    quarantine_table,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


# --- ids and hashes ----------------------------------------------------------------


def hash_text(*parts: str) -> str:
    """A 128-bit hex digest of the parts (separated so ``("ab", "c") != ("a", "bc")``)."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def hash_email(email: str) -> str:
    """The ``email_hash`` identifier: sha256 of the trimmed, lower-cased address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def scrub_emails(text: str) -> str:
    """``text`` with every e-mail address replaced by ``sha256:<hash>``."""
    return _EMAIL.sub(lambda m: "sha256:" + hash_email(m.group(0)), text)


def dump_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text; non-finite floats (not valid JSON) become strings."""
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False
        )
    except ValueError:
        return json.dumps(
            _finite(value), ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys
        )
    except TypeError:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, default=str
        )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _digest64(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


class Occurrences:
    """How often each key was seen before, in bounded memory.

    Keys are reduced to 64-bit digests; recent ones sit in a dict, older ones in a few
    sorted numpy arrays (8 bytes of digest + 4 bytes of count per distinct key). Two
    different keys share a digest with probability about ``n**2 / 2**65`` (3 in a
    million for ten million keys); the only effect would be a row kept in quarantine
    as a duplicate or an event id with an occurrence suffix.
    """

    def __init__(self, *, recent_limit: int = 100_000) -> None:
        self._recent: dict[int, int] = {}
        self._levels: list[tuple[np.ndarray, np.ndarray]] = []
        self._recent_limit = recent_limit

    def seen(self, key: str) -> int:
        """How many times ``key`` was recorded so far."""
        digest = _digest64(key)
        return self._recent.get(digest, 0) + self._older(digest)

    def record(self, key: str) -> int:
        """Record one occurrence of ``key``; return how many came before it."""
        digest = _digest64(key)
        recent = self._recent.get(digest, 0)
        before = recent + self._older(digest)
        self._recent[digest] = recent + 1
        if len(self._recent) >= self._recent_limit:
            self._flush()
        return before

    def _older(self, digest: int) -> int:
        if not self._levels:
            return 0
        key = np.uint64(digest)
        total = 0
        for keys, counts in self._levels:
            at = int(np.searchsorted(keys, key))
            if at < len(keys) and keys[at] == key:
                total += int(counts[at])
        return total

    def _flush(self) -> None:
        keys = np.fromiter(self._recent.keys(), dtype=np.uint64, count=len(self._recent))
        counts = np.fromiter(self._recent.values(), dtype=np.uint32, count=len(self._recent))
        order = np.argsort(keys)
        self._levels.append((keys[order], counts[order]))
        self._recent = {}
        if len(self._levels) > 8:
            all_keys = np.concatenate([k for k, _ in self._levels])
            all_counts = np.concatenate([c for _, c in self._levels])
            order = np.argsort(all_keys, kind="stable")
            all_keys, all_counts = all_keys[order], all_counts[order]
            unique, starts = np.unique(all_keys, return_index=True)
            summed = np.add.reduceat(all_counts.astype(np.uint64), starts).astype(np.uint32)
            self._levels = [(unique, summed)]


class EventIds:
    """Deterministic event ids for sources that carry none.

    The id is a digest of the event's normalised content; the n-th repeat of the same
    content in one file gets ``-n`` appended, so two identical rows stay two events and
    importing the file again produces the same ids (and loads nothing new).
    """

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._occurrences = Occurrences()

    def derive(self, *parts: str) -> str:
        """The id for one event whose content is ``parts``."""
        digest = hash_text(self._fmt, *parts)
        before = self._occurrences.record(digest)
        return digest if before == 0 else f"{digest}-{before}"


# --- timestamps --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instant:
    """A moment as UTC microseconds since the epoch, with the zone it was written in."""

    micros: int
    zone: str


def _offset_label(offset: timedelta | None) -> str:
    if not offset:
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


class TimestampParser:
    """ISO 8601 text → :class:`Instant`.

    Text with an offset (``Z``, ``+01:00``) keeps it as the recorded zone (``UTC``,
    ``+01:00``); text without one is read in ``timezone`` and records that zone's name.
    """

    def __init__(self, timezone: str = "UTC", *, where: str = "") -> None:
        try:
            self._zone: tzinfo = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DataImportError(
                f"{where}unknown time zone '{timezone}'; give an IANA name such as "
                "'Europe/Berlin' or 'Asia/Seoul' (or UTC)"
            ) from None
        self._zone_name = "UTC" if self._zone is UTC else timezone

    def parse(self, text: str) -> Instant:
        """Parse ``text``; raise ValueError when it is not an ISO 8601 date-time."""
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
            zone = self._zone_name
        else:
            zone = _offset_label(moment.utcoffset())
        return Instant((moment - _EPOCH) // _MICRO, zone)


def format_micros(micros: int) -> str:
    """UTC microseconds as ISO 8601 text ending in ``Z``."""
    moment = _EPOCH + timedelta(microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


# --- chunks --------------------------------------------------------------------------


class ChunkBuilder:
    """One chunk's events, identity links and quarantined rows.

    Call :meth:`load` (after adding the row's events and links) or :meth:`quarantine`
    exactly once per input row; :meth:`build` returns the chunk and starts a new one.
    Identity links repeated within a chunk are kept once, with their earliest time.
    """

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self._events: dict[str, list[Any]] = {name: [] for name in EVENTS_ARROW.names}
        self._links: dict[tuple[str, str, str, str], int | None] = {}
        self._quarantine: list[tuple[int, str, str, str]] = []
        self.rows_read = 0
        self.rows_loaded = 0

    @property
    def event_count(self) -> int:
        """Events added to this chunk so far."""
        return len(self._events["event_id"])

    def add_event(
        self,
        *,
        row_number: int,
        event_id: str,
        actor_id: str,
        actor_kind: str,
        ts: int,
        event: str,
        source_tz: str,
        channel: str | None = None,
        session_id: str | None = None,
        region: str | None = None,
        properties: Mapping[str, Any] | str | None = None,
    ) -> None:
        """Add one event of input row ``row_number``; ``ts`` is UTC microseconds.

        ``properties`` is a mapping, or its JSON text when the caller already has it.
        """
        columns = self._events
        columns["event_id"].append(event_id)
        columns["actor_id"].append(actor_id)
        columns["actor_kind"].append(actor_kind)
        columns["ts"].append(ts)
        columns["event"].append(event)
        columns["channel"].append(channel)
        columns["session_id"].append(session_id)
        columns["region"].append(region)
        columns["source_tz"].append(source_tz)
        if not isinstance(properties, str):
            properties = dump_json(dict(properties or {}))
        columns["properties"].append(properties)
        columns["row_number"].append(row_number)

    def add_link(self, id_a: str, kind_a: str, id_b: str, kind_b: str, ts: int | None) -> None:
        """Record that two identifiers belong to one person (seen at ``ts``)."""
        if (id_a, kind_a) == (id_b, kind_b):
            return
        key = (id_a, kind_a, id_b, kind_b)
        if key not in self._links:
            self._links[key] = ts
        else:
            old = self._links[key]
            if ts is not None and (old is None or ts < old):
                self._links[key] = ts

    def load(self) -> None:
        """Count one input row as read and loaded."""
        self.rows_read += 1
        self.rows_loaded += 1

    def quarantine(self, row_number: int, raw: str, reason: str, detail: str) -> None:
        """Count one input row as read and keep it in quarantine with why."""
        self.rows_read += 1
        self._quarantine.append((row_number, raw, reason, detail))

    def build(
        self, *, bytes_read: int | None = None, notes: Mapping[str, int] | None = None
    ) -> ImportChunk:
        """The chunk so far; the builder starts empty again.

        ``bytes_read`` is the position reached in the file (for the progress bar);
        ``notes`` are counts worth reporting that are neither loaded nor quarantined.
        """
        events = pa.Table.from_arrays(
            [pa.array(self._events[f.name], f.type) for f in EVENTS_ARROW],
            schema=EVENTS_ARROW,
        )
        links = None
        if self._links:
            keys = list(self._links)
            links = pa.Table.from_arrays(
                [
                    pa.array([k[0] for k in keys], pa.string()),
                    pa.array([k[1] for k in keys], pa.string()),
                    pa.array([k[2] for k in keys], pa.string()),
                    pa.array([k[3] for k in keys], pa.string()),
                    pa.array(list(self._links.values()), LINKS_ARROW.field("ts").type),
                ],
                schema=LINKS_ARROW,
            )
        chunk = ImportChunk(
            events=events,
            rows_read=self.rows_read,
            rows_loaded=self.rows_loaded,
            quarantine=quarantine_table(self._quarantine),
            identity_links=links,
            bytes_read=bytes_read,
            notes=dict(notes or {}),
        )
        self._start()
        return chunk


# --- values ------------------------------------------------------------------------


def text_or_none(value: Any) -> str | None:
    """A non-blank scalar as text; ``None`` for null, blank text, objects and arrays."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text if text.strip() else None


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def micros_of(value: datetime) -> int:
    """A datetime (naive means UTC) as microseconds since the epoch."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICRO


# --- options ------------------------------------------------------------------------


def check_options(
    options: ImportOptions,
    *,
    fmt: str,
    extra: Mapping[str, str],
    fields: tuple[str, ...] = (),
) -> None:
    """Refuse options a reader does not understand, naming the ones it does.

    ``extra`` maps each known ``options.extra`` key to a one-line description;
    ``fields`` names the :class:`ImportOptions` column options the reader uses.
    """
    for key in options.extra:
        if key not in extra:
            close = difflib.get_close_matches(key, list(extra), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            known = ", ".join(f"{k} ({v})" for k, v in extra.items()) or "none"
            raise DataImportError(f"unknown {fmt} option '{key}'; {hint}{fmt} options are: {known}")
    for name in ("actor", "actor_kind", "ts", "event", "event_id", "channel", "session", "region"):
        if getattr(options, name) is not None and name not in fields:
            uses = ", ".join(f"--{f.replace('_', '-')}" for f in fields) or "none"
            raise DataImportError(
                f"option --{name.replace('_', '-')} does not apply to {fmt} files, whose "
                f"fields are fixed by the format; column options for {fmt}: {uses}"
            )
    # Options of the tabular readers; getattr keeps this working if they move.
    for name in ("event_name", "ts_format", "mapping", "delimiter", "properties"):
        if getattr(options, name, None) is not None:
            raise DataImportError(
                f"option --{name.replace('_', '-')} applies to CSV, Parquet and JSONL files, "
                f"not to {fmt} files"
            )
    encoding = str(getattr(options, "encoding", "utf-8")).lower().replace("_", "-")
    if encoding not in ("utf-8", "utf8", "utf-8-sig"):
        raise DataImportError(
            f"{fmt} files are UTF-8 by their specification; --encoding {encoding} does not "
            "apply (convert the file to UTF-8 first)"
        )


def format_channel(medium: Any, source: Any, *, style: str = "medium/source") -> str | None:
    """A channel label from a marketing medium and source (either may be missing).

    ``style`` is ``"medium/source"`` (``cpc/google``), ``"medium"`` or ``"source"``.
    """
    m = str(medium).strip() if medium not in (None, "") else ""
    s = str(source).strip() if source not in (None, "") else ""
    if style == "medium":
        return m or None
    if style == "source":
        return s or None
    if m and s:
        return f"{m}/{s}"
    return m or s or None


CHANNEL_STYLES = ("medium/source", "medium", "source")


def option_choice(options: ImportOptions, key: str, choices: tuple[str, ...], fmt: str) -> str:
    """``options.extra[key]`` checked against ``choices`` (the first is the default)."""
    value = str(options.extra.get(key, choices[0]))
    if value not in choices:
        raise DataImportError(f"{fmt} option {key}={value!r} is not one of: {', '.join(choices)}")
    return value


def option_flag(options: ImportOptions, key: str, default: bool, fmt: str) -> bool:
    """``options.extra[key]`` as a boolean (``true``/``false``, ``yes``/``no``, ``1``/``0``)."""
    value = options.extra.get(key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise DataImportError(f"{fmt} option {key}={value!r} must be true or false")


# --- files -------------------------------------------------------------------------


def open_source(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (recognised by its magic bytes)."""
    try:
        fh: IO[bytes] = path.open("rb")
    except FileNotFoundError:
        raise DataImportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataImportError(f"{path}: is a folder; give a file") from None
    except OSError as exc:
        raise DataImportError(f"{path}: cannot read: {exc.strerror}") from None
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def raw_position(stream: IO[bytes]) -> int | None:
    """How many stored bytes of the file were consumed (compressed bytes for gzip)."""
    try:
        inner = getattr(stream, "fileobj", None)
        return int((inner if inner is not None else stream).tell())
    except (OSError, ValueError):
        return None


def sniff(path: Path) -> bytes:
    """The first non-whitespace byte of the (decompressed) file, or ``b""`` when empty."""
    with open_source(path) as fh:
        try:
            head = fh.read(4096)
        except (EOFError, OSError, zlib.error) as exc:
            raise broken_gzip(path, 1, exc) from None
        while head:
            stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
            if stripped:
                return stripped[:1]
            try:
                head = fh.read(4096)
            except (EOFError, OSError, zlib.error) as exc:
                raise broken_gzip(path, 1, exc) from None
    return b""


def opens_json_document(path: Path) -> bool:
    """Whether the first non-blank line opens a JSON object continued on later lines.

    Tells a pretty-printed JSON document (``{`` alone on the first line, or
    ``{"batch": [``) from JSON Lines, whose first line is a whole object.
    """
    try:
        with open_source(path) as fh:
            for _ in range(1000):
                line = fh.readline(65536)
                if not line:
                    return False
                text = line.strip().lstrip(b"\xef\xbb\xbf").strip()
                if text:
                    return text == b"{" or (text.startswith(b"{") and text.endswith(b"["))
    except (EOFError, OSError, zlib.error):
        return False  # the reader proper reports the broken stream, located
    return False


def broken_gzip(path: Path, line: int, exc: BaseException) -> DataImportError:
    """The located error for a truncated or corrupt gzip stream."""
    what = (
        "ends early (the file is truncated)" if isinstance(exc, EOFError) else f"is corrupt ({exc})"
    )
    return DataImportError(
        f"{path}: the gzip stream {what} near line {line} of its content; nothing from "
        "this file is loaded; download or compress the file again"
    )


class Lines:
    """The ``(line_number, line)`` pairs of a file, without line endings, blank lines included.

    A line longer than ``max_line_bytes`` or a broken gzip stream raises a located
    :class:`DataImportError` (nothing of the file is then loaded). :attr:`position` is
    how far into the stored file reading has come.
    """

    def __init__(self, path: Path, *, max_line_bytes: int) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.position: int | None = None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        limit = self.max_line_bytes
        with open_source(self.path) as fh:
            number = 0
            while True:
                try:
                    line = fh.readline(limit + 1)
                except (EOFError, OSError, zlib.error) as exc:
                    raise broken_gzip(self.path, number + 1, exc) from None
                if not line:
                    self.position = raw_position(fh)
                    return
                number += 1
                body = line.rstrip(b"\r\n")
                if len(body) > limit:
                    raise DataImportError(
                        f"{self.path}:{number}: the line is longer than the limit of "
                        f"{limit:,} bytes; check that the file is the format you named, or "
                        "raise the limit (max_line_bytes / --max-line-bytes)"
                    )
                if number == 1 and body.startswith(b"\xef\xbb\xbf"):
                    body = body[3:]
                if number % 1024 == 0:
                    self.position = raw_position(fh)
                yield number, body


def decode_line(path: Path, number: int, body: bytes) -> str:
    """A line as UTF-8 text; raise ValueError with the located reason when it is not."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}:{number}:{exc.start + 1}: byte 0x{body[exc.start]:02x} is not UTF-8; "
            "save the file as UTF-8"
        ) from None


_WS = re.compile(r"[ \t\r\n]*")
_NUMBER_TAIL = re.compile(r"[0-9.eE+\-]*")
_DECODER = json.JSONDecoder()


class JsonStream:
    """The items of a large JSON document, one at a time, with the line each starts on.

    Reads the text in blocks, so a top-level array (or an object whose members hold
    arrays or maps) of any length streams in bounded memory; a single item larger than
    ``max_item_bytes`` is refused with a located error.
    """

    def __init__(
        self,
        fh: IO[bytes],
        *,
        path: Path,
        max_item_bytes: int = 10_000_000,
        block: int = 1 << 20,
    ) -> None:
        self._raw = fh
        self._text = io.TextIOWrapper(fh, encoding="utf-8-sig")
        self._path = path
        self._max = max_item_bytes
        self._block = block
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1
        self._counted = 0

    @property
    def position(self) -> int | None:
        """How far into the stored file reading has come."""
        return raw_position(self._raw)

    # -- low level
    def _read(self, size: int) -> str:
        try:
            return self._text.read(size)
        except UnicodeDecodeError:
            raise DataImportError(
                f"{self._path}: near line {self.line}: the text is not UTF-8; save the "
                "file as UTF-8"
            ) from None
        except (EOFError, OSError, zlib.error) as exc:
            raise broken_gzip(self._path, self.line, exc) from None

    def _refill(self) -> bool:
        if self._eof:
            return False
        self._line += self._buf.count("\n", self._counted, self._pos)
        self._counted = self._pos
        pending = len(self._buf) - self._pos
        if pending > self._max:
            return False
        self._buf = self._buf[self._pos :]
        self._pos = self._counted = 0
        data = self._read(max(self._block, pending))
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    @property
    def line(self) -> int:
        """The 1-based line of the reading position."""
        self._line += self._buf.count("\n", self._counted, self._pos)
        self._counted = self._pos
        return self._line

    def error(self, message: str, at: int | None = None) -> DataImportError:
        """A located error at buffer position ``at`` (default: the reading position)."""
        at = self._pos if at is None else at
        line = self.line + self._buf.count("\n", self._pos, at)
        column = at - (self._buf.rfind("\n", 0, at) + 1) + 1
        return DataImportError(f"{self._path}:{line}:{column}: {message}")

    def peek(self) -> str:
        """The next non-whitespace character (not consumed), or ``""`` at the end."""
        while True:
            end = _WS.match(self._buf, self._pos)
            self._pos = end.end() if end else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._refill():
                return ""

    def _expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise self.error(f"expected '{char}' but found {shown}; the JSON is malformed")
        self._pos += 1

    # -- values
    def read_value(self) -> Any:
        """Parse and return the next JSON value."""
        if not self.peek():
            raise self.error("expected a JSON value but the file ends here")
        while True:
            start = self._pos
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                offset = exc.pos - start  # a refill moves the buffer under exc.pos
                if self._refill():
                    continue
                if len(self._buf) - self._pos > self._max:
                    raise self.error(
                        f"one JSON item is larger than {self._max:,} bytes (or malformed); "
                        "write one record per line (JSONL) or raise max_line_bytes"
                    ) from None
                raise self.error(f"malformed JSON: {exc.msg}", self._pos + offset) from None
            if (
                isinstance(value, int | float)
                and not self._eof
                and _NUMBER_TAIL.fullmatch(self._buf, end)
                and self._refill()
            ):
                continue  # the number may go on in the next block ("10" then ".5")
            self._pos = end
            return value

    def iter_array(self) -> Iterator[tuple[int, Any]]:
        """``(line, item)`` for each item of the array starting here."""
        self._expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            self.peek()
            line = self.line
            yield line, self.read_value()
            found = self.peek()
            self._pos += 1
            if found == "]":
                return
            if found != ",":
                self._pos -= 1
                raise self.error("expected ',' or ']' between array items; the JSON is malformed")

    def iter_keys(self) -> Iterator[tuple[str, int]]:
        """``(key, line)`` for each member of the object starting here.

        The caller must consume each member's value (:meth:`read_value`,
        :meth:`iter_entries` or :meth:`skip_value`) before asking for the next key.
        """
        self._expect("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("expected a quoted member name; the JSON is malformed")
            line = self.line
            key = self.read_value()
            self._expect(":")
            yield key, line
            found = self.peek()
            self._pos += 1
            if found == "}":
                return
            if found != ",":
                self._pos -= 1
                raise self.error("expected ',' or '}' between members; the JSON is malformed")

    def iter_entries(self) -> Iterator[tuple[str | None, int, Any]]:
        """``(key, line, value)`` for each item of the array or object starting here.

        Array items have no key (``None``).
        """
        found = self.peek()
        if found == "[":
            for line, value in self.iter_array():
                yield None, line, value
        elif found == "{":
            for key, line in self.iter_keys():
                yield key, line, self.read_value()
        else:
            raise self.error("expected an array or an object")

    def skip_value(self) -> None:
        """Pass over the next value, one item at a time when it is a container."""
        if self.peek() in ("[", "{"):
            for _ in self.iter_entries():
                pass
        else:
            self.read_value()
