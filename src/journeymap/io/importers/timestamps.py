"""Timestamps in, UTC out: ISO 8601 and common formats, with the source zone recorded.

Rules, applied to each value on its own:

- A value with an offset (``2024-05-01T09:30:00+09:00``, ``...Z``, ``... UTC``) is
  converted to UTC; ``source_tz`` records the offset as written (``+09:00``, ``UTC``).
- A value without one is read in ``timezone`` (default UTC), which ``source_tz``
  records. A local time that happens twice (clocks go back) takes the earlier instant;
  one that never happens (clocks jump forward) moves forward by the gap. Both are
  counted, so the import report shows them.
- Ten-digit numbers are Unix seconds, thirteen-digit numbers Unix milliseconds (UTC).
- Besides ISO 8601, ``YYYY/MM/DD[ HH:MM[:SS]]``, ``DD.MM.YYYY[ HH:MM[:SS]]`` and RFC 2822
  (``Tue, 01 Oct 2019 09:00:00 +0900``) are understood. Day/month orders such as
  ``01/10/2019`` are ambiguous, so they need ``ts_format`` (a ``strptime`` format), which
  is tried first; values it does not fit still get the rules above.
- Anything else is *bad* (the importer quarantines the row with reason
  ``bad_timestamp``); a null or empty value is *missing*.

>>> parsed = parse_timestamps(pa.array(["2024-05-01 09:30:00", "2024-05-01T09:30:00+09:00"]),
...                           timezone="Asia/Seoul")
>>> [t.isoformat() for t in parsed.ts.to_pylist()]
['2024-05-01T00:30:00+00:00', '2024-05-01T00:30:00+00:00']
>>> parsed.source_tz.to_pylist()
['Asia/Seoul', '+09:00']
"""

from __future__ import annotations

import difflib
import zoneinfo
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.errors import DataImportError

__all__ = ["ParsedTimestamps", "check_timezone", "parse_timestamps"]

UTC_MICROS = pa.timestamp("us", tz="UTC")

_ZONE_SUFFIX = r"(?i)\s*(?:UTC|GMT|Z)$"
_HAS_OFFSET = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*[+-]\d\d(?::?\d\d)?$"
_OFFSET = r"(?P<h>[+-]\d\d)(?::?(?P<m>\d\d))?$"
_EPOCH_SECONDS = r"^\d{9,10}(?:\.\d+)?$"
_EPOCH_MILLIS = r"^\d{12,13}$"
_NAIVE_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
_ZONED_FORMATS = ("%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z")


@dataclass(frozen=True)
class ParsedTimestamps:
    """Timestamps in UTC (microseconds), with what went wrong where."""

    ts: pa.TimestampArray
    """UTC instants; null where the value was missing or bad."""
    source_tz: pa.StringArray
    """The zone each value was written in; null where ``ts`` is null."""
    missing: np.ndarray
    """True where the value was null or empty."""
    bad: np.ndarray
    """True where a value was given but is not a timestamp."""
    ambiguous: int = 0
    """Local times that happen twice in the zone (resolved to the earlier instant)."""
    nonexistent: int = 0
    """Local times skipped by a clock change (moved forward by the gap)."""


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    """``name`` when it is a known IANA zone (or UTC); a did-you-mean error otherwise."""
    if name.upper() == "UTC":
        return "UTC"
    if name in _zones():
        return name
    close = difflib.get_close_matches(name, sorted(_zones()), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}" if close else ""
    raise DataImportError(
        f"unknown time zone {name!r}{hint}; give an IANA zone such as 'Asia/Seoul', "
        "'Europe/Berlin' or 'UTC' with --timezone"
    )


def parse_timestamps(
    values: pa.Array | pa.ChunkedArray,
    *,
    timezone: str = "UTC",
    fmt: str | None = None,
) -> ParsedTimestamps:
    """Parse ``values`` (strings, numbers, dates or timestamps) into UTC instants."""
    zone = check_timezone(timezone)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_timestamp(kind):
        return _from_timestamps(values, zone)
    if pa.types.is_date(kind):
        return _from_timestamps(values.cast(pa.timestamp("us")), zone)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return _from_numbers(values)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _from_strings(values.cast(pa.string()), zone, fmt)
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return _result(
        np.zeros(len(values), dtype="int64"),
        np.full(len(values), None, dtype=object),
        missing,
        ~missing,
    )


def _result(
    micros: np.ndarray,
    zones: np.ndarray,
    missing: np.ndarray,
    bad: np.ndarray,
    ambiguous: int = 0,
    nonexistent: int = 0,
) -> ParsedTimestamps:
    null = missing | bad
    ts = pa.array(micros.astype("int64"), type=pa.int64(), mask=null).cast(UTC_MICROS)
    zones = zones.copy()
    zones[null] = None
    return ParsedTimestamps(
        ts=ts,
        source_tz=pa.array(zones, type=pa.string()),
        missing=missing,
        bad=bad & ~missing,
        ambiguous=ambiguous,
        nonexistent=nonexistent,
    )


def _from_timestamps(values: pa.Array, zone: str) -> ParsedTimestamps:
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    series = pd.Series(values.cast(pa.timestamp("us", tz=values.type.tz)).to_pandas())
    if values.type.tz is None:
        local, ambiguous, nonexistent = _localize(series, zone)
        zones = np.full(len(values), zone, dtype=object)
    else:
        local, ambiguous, nonexistent = series, 0, 0
        zones = np.full(len(values), _zone_label(values.type.tz), dtype=object)
    micros = _micros(local)
    bad = np.asarray(local.isna().to_numpy(), dtype=bool) & ~missing
    return _result(micros, zones, missing, bad, ambiguous, nonexistent)


def _from_numbers(values: pa.Array) -> ParsedTimestamps:
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    numbers = np.asarray(values.cast(pa.float64()).fill_null(0).to_numpy(), dtype="float64")
    micros = np.zeros(len(values), dtype="int64")
    bad = ~np.isfinite(numbers) | (numbers < 0)
    # Magnitude says the unit: seconds up to 1e11 (year 5138), then ms, then µs.
    scale = np.where(numbers < 1e11, 1_000_000.0, np.where(numbers < 1e14, 1_000.0, 1.0))
    bad |= numbers >= 1e17
    ok = ~bad & ~missing
    micros[ok] = np.round(numbers[ok] * scale[ok]).astype("int64")
    return _result(micros, np.full(len(values), "UTC", dtype=object), missing, bad & ~missing)


def _from_strings(values: pa.Array, zone: str, fmt: str | None) -> ParsedTimestamps:
    text = pc.utf8_trim_whitespace(values)
    n = len(text)
    missing = np.asarray(
        pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
        .fill_null(True)
        .to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    text = pc.replace_substring_regex(text, _ZONE_SUFFIX, "+00:00")
    strings = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    micros = np.zeros(n, dtype="int64")
    zones = np.full(n, None, dtype=object)
    done = missing.copy()
    ambiguous = nonexistent = 0

    if fmt is not None:
        todo = ~done
        zoned_fmt = "%z" in fmt or "%Z" in fmt
        parsed = pd.to_datetime(strings[todo], format=fmt, errors="coerce", utc=zoned_fmt)
        if zoned_fmt:
            offsets = _offsets(text, todo)
            _store(parsed, todo, micros, zones, done, offsets)
        else:
            local, ambiguous, nonexistent = _localize(parsed, zone)
            _store(local, todo, micros, zones, done, np.full(n, zone, dtype=object))
        # values the format does not fit still get the automatic rules below

    epoch_s = _mask(pc.match_substring_regex(text, _EPOCH_SECONDS)) & ~done
    epoch_ms = _mask(pc.match_substring_regex(text, _EPOCH_MILLIS)) & ~done
    for mask, scale in ((epoch_s, 1_000_000), (epoch_ms, 1_000)):
        if mask.any():
            numbers = strings[mask].astype("float64").to_numpy()
            micros[mask] = np.round(numbers * scale).astype("int64")
            zones[mask] = "UTC"
            done |= mask

    zoned = _mask(pc.match_substring_regex(text, _HAS_OFFSET)) & ~done
    if zoned.any():
        offsets = _offsets(text, zoned)
        for form in ("ISO8601", *_ZONED_FORMATS):
            todo = zoned & ~done
            if not todo.any():
                break
            parsed = pd.to_datetime(strings[todo], format=form, errors="coerce", utc=True)
            _store(parsed, todo, micros, zones, done, offsets)
    # RFC 2822 values carry their offset after the time with a space; try them as zoned
    # before reading what is left as local time.
    rest = ~done
    if rest.any():
        offsets = _offsets(text, rest)
        for form in _ZONED_FORMATS:
            todo = ~done
            if not todo.any():
                break
            parsed = pd.to_datetime(strings[todo], format=form, errors="coerce", utc=True)
            _store(parsed, todo, micros, zones, done, offsets)
    for form in ("ISO8601", *_NAIVE_FORMATS):
        todo = ~done & ~zoned
        if not todo.any():
            break
        parsed = pd.to_datetime(strings[todo], format=form, errors="coerce")
        local, amb, gap = _localize(parsed, zone)
        ambiguous += amb
        nonexistent += gap
        _store(local, todo, micros, zones, done, np.full(n, zone, dtype=object))
    return _result(micros, zones, missing, ~done, ambiguous, nonexistent)


def _mask(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _offsets(text: pa.Array, where: np.ndarray) -> np.ndarray:
    """The offset each value carries, as ``+09:00`` (``UTC`` for +00:00)."""
    found = pc.extract_regex(text, _OFFSET)
    hours = pc.struct_field(found, [0])
    minutes = pc.struct_field(found, [1])
    minutes = pc.if_else(pc.equal(minutes, ""), "00", minutes)
    label = pc.binary_join_element_wise(hours, minutes, ":")
    label = pc.if_else(pc.is_in(label, pa.array(["+00:00", "-00:00"])), "UTC", label)
    out = np.asarray(label.to_numpy(zero_copy_only=False), dtype=object)
    out[~where] = None
    return out


def _store(
    parsed: pd.Series,
    todo: np.ndarray,
    micros: np.ndarray,
    zones: np.ndarray,
    done: np.ndarray,
    labels: np.ndarray,
) -> None:
    ok = np.asarray(parsed.notna().to_numpy(), dtype=bool)
    where = np.flatnonzero(todo)[ok]
    micros[where] = _micros(parsed[ok])
    zones[where] = labels[where]
    done[where] = True


def _micros(series: pd.Series) -> np.ndarray:
    """Microseconds since the epoch (UTC) of a datetime series; 0 where NaT."""
    if series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    values = series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    out = values.to_numpy().astype("int64")
    out[values.isna().to_numpy()] = 0
    return np.asarray(out, dtype="int64")


def _localize(series: pd.Series, zone: str) -> tuple[pd.Series, int, int]:
    """Read naive times in ``zone``; count (and resolve) ambiguous and skipped times."""
    if series.dt.tz is not None:
        return series, 0, 0
    if zone == "UTC":
        return series.dt.tz_localize("UTC"), 0, 0
    strict = series.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    unresolved = strict.isna() & series.notna()
    if not unresolved.any():
        return strict, 0, 0
    earlier = series.dt.tz_localize(
        zone, ambiguous=np.ones(len(series), dtype=bool), nonexistent="shift_forward"
    )
    shifted = series.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    gap = int((unresolved & shifted.notna()).sum())
    return earlier, int(unresolved.sum()) - gap, gap


def _zone_label(tz: str) -> str:
    return "UTC" if tz.upper() in ("UTC", "+00:00", "Z", "ETC/UTC") else tz
