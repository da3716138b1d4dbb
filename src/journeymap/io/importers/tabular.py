"""CSV, Parquet and JSONL in, one event per row, streamed in chunks of bounded size.

Reading is the same for long tables (this module), wide tables (:mod:`.wide`) and
survey answers (:mod:`.feedback`): :func:`iter_source` yields :class:`SourceChunk` s of
at most ``chunk_rows`` rows, each row with its line (CSV, JSONL) or row (Parquet)
number and its raw text, so any row can be quarantined with where it was and what it
said. Memory holds one chunk at a time: a file larger than memory imports.

- **CSV** (``.csv``, ``.tsv``, optionally ``.gz``): read line by line with Python's
  ``csv`` module, so every row knows its line. The header gives the columns; the
  separator is ``\\t`` for ``.tsv`` and otherwise sniffed from the header (``,``, ``;``,
  ``|`` or tab). A row with the wrong number of fields is quarantined
  (``wrong_field_count``), a line that is not valid in the file's encoding too
  (``bad_encoding``). A line longer than ``max_line_bytes`` stops the import with its
  line number (raise the limit if the line is genuine). Empty fields are null. CSV
  carries no types: in ``properties`` a value that is a plain JSON number (``12``,
  ``-3.5``, ``1e5``; at most 15 integer digits, no leading zeros) becomes a number and
  everything else stays text exactly as written (``007``, ``N/A``).
- **Parquet** (``.parquet``, ``.pq``): streamed by row group and batch; types are kept.
- **JSONL** (``.jsonl``, ``.ndjson``, optionally ``.gz``): one JSON object per line; the
  row number is the line number; a line that is not a JSON object is quarantined
  (``bad_json``). Blank lines are not rows.

The long-table readers (:func:`read_csv`, :func:`read_parquet`, :func:`read_jsonl`) map
columns by options (``--actor COL --ts COL --event COL ...``), by a mapping file, or by
well-known names (``customer_id``, ``user_id``, ``timestamp``, ``event_time``,
``event_type``, ...). Every column that is not mapped goes into ``properties``.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from journeymap.errors import DataImportError
from journeymap.io.importers.base import (
    EVENTS_ARROW,
    ImportChunk,
    ImportOptions,
    quarantine_table,
)
from journeymap.io.importers.timestamps import ParsedTimestamps, check_timezone, parse_timestamps

__all__ = [
    "ColumnRef",
    "LongColumns",
    "Lookup",
    "MappingFile",
    "SourceChunk",
    "SourceKind",
    "apply_lookups",
    "build_properties",
    "check_column",
    "check_keys",
    "iter_source",
    "load_lookups",
    "load_mapping_file",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "resolve_long_columns",
    "source_kind",
]

SourceKind = Literal["csv", "parquet", "jsonl"]
Encoding = Literal["text", "json", "typed"]
QuarantineRow = tuple[int, str, str, str]

_SUFFIXES: dict[str, SourceKind] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_JSON_NUMBER = r"^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?(?:[eE][+-]?\d{1,3})?$"
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_NULL_STRING = pa.scalar(None, pa.string())


# --- where a file is -------------------------------------------------------------------


def source_kind(path: Path) -> SourceKind:
    """``csv``, ``parquet`` or ``jsonl`` from the file name (``.gz`` looked through)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix not in _SUFFIXES:
        raise DataImportError(
            f"{path}: cannot tell whether this is CSV, Parquet or JSONL from "
            f"'{suffix or 'no extension'}'; rename it to .csv, .parquet or .jsonl, or pass "
            "--format csv|parquet|jsonl"
        )
    return _SUFFIXES[suffix]


def locate(path: Path, kind: SourceKind, row: int) -> str:
    """How a message names a row: ``orders.csv:12`` (a line) or ``orders.parquet row 12``."""
    return f"{path.name} row {row}" if kind == "parquet" else f"{path.name}:{row}"


def check_file(path: Path) -> int:
    """The file's size in bytes; a clear error when it is missing, a folder or empty."""
    if not path.exists():
        raise DataImportError(f"{path}: no such file")
    if path.is_dir():
        raise DataImportError(f"{path}: is a folder; give the data file itself")
    size = path.stat().st_size
    if size == 0:
        raise DataImportError(f"{path}: the file is empty (0 bytes); there is nothing to import")
    return size


# --- chunks of source rows ---------------------------------------------------------------


@dataclass(frozen=True)
class SourceChunk:
    """Up to ``chunk_rows`` source rows with where each came from.

    ``table`` holds the rows that were read cleanly. Its values are plain strings for
    CSV (``encoding="text"``), JSON fragments for JSONL (``"json"``: ``"abc"``, ``12``,
    ``{"a": 1}``) and typed Arrow values for Parquet (``"typed"``); use :meth:`text` and
    :meth:`values` instead of reading it directly. ``quarantine`` holds rows rejected
    while reading (ragged, badly encoded, not JSON); ``rows_read`` counts both.
    """

    kind: SourceKind
    encoding: Encoding
    columns: tuple[str, ...]
    table: pa.Table
    rows: np.ndarray
    raws: list[str] | None
    quarantine: list[QuarantineRow]
    rows_read: int
    bytes_read: int

    def raw(self, index: int) -> str:
        """The row as it stood in the file (JSON of the row for Parquet)."""
        if self.raws is not None:
            return self.raws[index]
        row = self.table.slice(index, 1).to_pylist()[0]
        return json.dumps(row, ensure_ascii=False, default=str)

    def has(self, column: str) -> bool:
        return column in self.table.column_names

    def values(self, column: str) -> pa.Array:
        """A column for timestamp parsing: typed for Parquet, plain strings otherwise."""
        if not self.has(column):
            return pa.nulls(self.table.num_rows, pa.string())
        if self.encoding == "typed":
            array = self.table.column(column).combine_chunks()
            if pa.types.is_dictionary(array.type):
                array = array.dictionary_decode()
            return array
        return self.text(column)

    def text(self, column: str) -> pa.Array:
        """A column as plain strings, null where empty or absent."""
        if not self.has(column):
            return pa.nulls(self.table.num_rows, pa.string())
        array = self.table.column(column).combine_chunks()
        if self.encoding == "json":
            array = _json_to_text(array)
        elif self.encoding == "typed":
            array = _typed_to_text(array, column)
        array = pc.utf8_trim_whitespace(array)
        return pc.if_else(pc.equal(array, ""), _NULL_STRING, array)


def iter_source(path: Path, options: ImportOptions, kind: SourceKind) -> Iterator[SourceChunk]:
    """Stream ``path`` as :class:`SourceChunk` s (at least one, possibly without rows)."""
    check_file(path)
    if options.chunk_rows < 1:
        raise DataImportError(f"chunk_rows must be at least 1, not {options.chunk_rows}")
    if kind == "csv":
        yield from _csv_chunks(path, options)
    elif kind == "parquet":
        yield from _parquet_chunks(path, options)
    else:
        yield from _jsonl_chunks(path, options)


@contextmanager
def _open_binary(path: Path) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """The decompressed stream and the raw file under it (for byte positions)."""
    raw: IO[bytes] = path.open("rb")
    try:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield cast(IO[bytes], stream), raw
        else:
            yield raw, raw
    finally:
        raw.close()


class _Lines:
    """Decoded lines of a byte stream, each checked for length and encoding.

    Iterating yields text lines (with their line ending, as ``csv`` wants). Lines that
    do not decode are yielded with replacement characters and remembered in ``bad``;
    :meth:`take_raw` returns the exact text of the lines read since the last call
    (undecodable bytes shown as ``\\xe9``) so a row can be quarantined as it stood.
    """

    def __init__(
        self, stream: IO[bytes], raw: IO[bytes], path: Path, encoding: str, max_bytes: int
    ) -> None:
        self.stream = stream
        self.raw_file = raw
        self.path = path
        self.encoding = encoding
        self.max_bytes = max_bytes
        self.lineno = 0
        self.bad: dict[int, str] = {}
        self._pending: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            data = self.stream.readline(self.max_bytes + 2)
        except EOFError:
            raise DataImportError(
                f"{self.path}: the compressed data ends early (after line {self.lineno}); "
                "the file is truncated — copy or download it again"
            ) from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise DataImportError(
                f"{self.path}: after line {self.lineno}: the gzip data is damaged ({exc}); "
                "copy or download the file again"
            ) from None
        if not data:
            raise StopIteration
        self.lineno += 1
        if self.lineno == 1 and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise DataImportError(
                f"{self.path}:1: the file is UTF-16; save it as UTF-8 (Excel: 'CSV UTF-8')"
            )
        body = data.rstrip(b"\r\n")
        if len(body) > self.max_bytes or (
            len(data) == self.max_bytes + 2 and not data.endswith(b"\n")
        ):
            raise DataImportError(
                f"{self.path}:{self.lineno}: the line is longer than {self.max_bytes:,} bytes "
                "(the --max-line-bytes limit); if the line is genuine, raise the limit with "
                "--max-line-bytes N, otherwise the file is not line-oriented (a missing "
                "closing quote, or not CSV/JSONL at all)"
            )
        encoding = self.encoding
        if self.lineno == 1 and encoding.replace("-", "").lower() == "utf8":
            encoding = "utf-8-sig"
        try:
            text = data.decode(encoding)
            self._pending.append(text)
        except UnicodeDecodeError as exc:
            column = len(data[: exc.start].decode(encoding, errors="replace")) + 1
            self.bad[self.lineno] = (
                f"{self.path.name}:{self.lineno}:{column}: byte 0x{data[exc.start]:02x} is not "
                f"valid {self.encoding}; save the file as UTF-8, or pass --encoding with the "
                "file's real encoding (latin-1, cp949, ...)"
            )
            text = data.decode(encoding, errors="replace")
            self._pending.append(data.decode(encoding, errors="backslashreplace"))
        except LookupError:
            raise DataImportError(
                f"unknown encoding {self.encoding!r}; pass --encoding utf-8, latin-1, cp949, ..."
            ) from None
        return text

    def take_raw(self) -> str:
        text = "".join(self._pending).rstrip("\r\n")
        self._pending.clear()
        return text

    def position(self) -> int:
        return self.raw_file.tell()


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _header_names(fields: list[str], path: Path) -> tuple[str, ...]:
    names = [f.strip() or f"column_{i}" for i, f in enumerate(fields, start=1)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise DataImportError(
                f"{path}:1: column {name!r} appears twice (fields {seen[name]} and {i}); "
                "give every column of the header its own name"
            )
        seen[name] = i
    return tuple(names)


def _csv_chunks(path: Path, options: ImportOptions) -> Iterator[SourceChunk]:
    csv.field_size_limit(max(csv.field_size_limit(), options.max_line_bytes))
    with _open_binary(path) as (stream, raw):
        lines = _Lines(stream, raw, path, options.encoding, options.max_line_bytes)
        first = ""
        for line in lines:
            if line.strip():
                first = line
                break
        if not first:
            raise DataImportError(f"{path}: the file has no header line (it holds only blanks)")
        delimiter = options.delimiter or (
            "\t" if ".tsv" in path.name.lower() else _sniff_delimiter(first)
        )
        header_line = lines.lineno
        if header_line in lines.bad:
            raise DataImportError(lines.bad[header_line].replace(path.name, str(path), 1))
        header = next(csv.reader([first], delimiter=delimiter))
        names = _header_names(header, path)
        lines.take_raw()
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        width = len(names)
        rows: list[list[str]] = []
        numbers: list[int] = []
        raws: list[str] = []
        quarantine: list[QuarantineRow] = []
        read = 0
        previous_end = header_line
        yielded = False
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise DataImportError(
                        f"{path}:{previous_end + 1}: a quoted field that starts on this line is "
                        "never closed (the file ends inside it); close the quote, or double "
                        'quotes inside quoted fields ("")'
                    ) from None
                raise DataImportError(
                    f"{path}:{lines.lineno}: {exc}; check the quotes on this line (a quote "
                    'inside a quoted field is written "")'
                ) from None
            start, previous_end = previous_end + 1, lines.lineno
            text = lines.take_raw()
            if not fields:
                continue
            read += 1
            bad = [lines.bad.pop(n) for n in range(start, previous_end + 1) if n in lines.bad]
            if bad:
                quarantine.append((start, text, "bad_encoding", bad[0]))
            elif len(fields) != width:
                plural = "s" * (len(fields) != 1)
                problem = (
                    f"{path.name}:{start}: {len(fields)} field{plural} where the header has "
                    f"{width}; check the separators and quotes on this line"
                )
                quarantine.append((start, text, "wrong_field_count", problem))
            else:
                rows.append(fields)
                numbers.append(start)
                raws.append(text)
            if read >= options.chunk_rows:
                yield _text_chunk(names, rows, numbers, raws, quarantine, read, lines.position())
                yielded = True
                rows, numbers, raws, quarantine, read = [], [], [], [], 0
        if read or not yielded:
            yield _text_chunk(names, rows, numbers, raws, quarantine, read, lines.position())


def _text_chunk(
    names: tuple[str, ...],
    rows: list[list[str]],
    numbers: list[int],
    raws: list[str],
    quarantine: list[QuarantineRow],
    read: int,
    position: int,
) -> SourceChunk:
    if rows:
        arrays = [pa.array(column, pa.string()) for column in zip(*rows, strict=True)]
    else:
        arrays = [pa.array([], pa.string()) for _ in names]
    return SourceChunk(
        kind="csv",
        encoding="text",
        columns=names,
        table=pa.Table.from_arrays(arrays, names=list(names)),
        rows=np.asarray(numbers, dtype="int64"),
        raws=raws,
        quarantine=quarantine,
        rows_read=read,
        bytes_read=position,
    )


def _parquet_chunks(path: Path, options: ImportOptions) -> Iterator[SourceChunk]:
    try:
        source = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataImportError(
            f"{path}: not a readable Parquet file ({exc}); check that the file is complete"
        ) from None
    total = max(source.metadata.num_rows, 1)
    size = path.stat().st_size
    names = tuple(source.schema_arrow.names)
    done = 0
    yielded = False
    try:
        for batch in source.iter_batches(batch_size=options.chunk_rows):
            table = pa.Table.from_batches([batch])
            rows = np.arange(done + 1, done + 1 + table.num_rows, dtype="int64")
            done += table.num_rows
            yielded = True
            yield SourceChunk(
                kind="parquet",
                encoding="typed",
                columns=names,
                table=table,
                rows=rows,
                raws=None,
                quarantine=[],
                rows_read=table.num_rows,
                bytes_read=size * done // total,
            )
    except (pa.ArrowException, OSError) as exc:
        raise DataImportError(
            f"{path}: cannot read past row {done} ({exc}); the file is damaged or truncated"
        ) from None
    if not yielded:
        empty = source.schema_arrow.empty_table()
        yield SourceChunk("parquet", "typed", names, empty, np.zeros(0, "int64"), None, [], 0, size)


def _jsonl_chunks(path: Path, options: ImportOptions) -> Iterator[SourceChunk]:
    with _open_binary(path) as (stream, raw):
        lines = _Lines(stream, raw, path, options.encoding, options.max_line_bytes)
        columns: dict[str, list[str | None]] = {}
        numbers: list[int] = []
        raws: list[str] = []
        quarantine: list[QuarantineRow] = []
        read = 0
        yielded = False
        for line in lines:
            text = lines.take_raw()
            if not line.strip():
                continue
            read += 1
            number = lines.lineno
            if number in lines.bad:
                quarantine.append((number, text, "bad_encoding", lines.bad.pop(number)))
            else:
                obj, problem = _json_object(line.rstrip("\r\n"))
                if obj is None:
                    quarantine.append(
                        (number, text, "bad_json", f"{path.name}:{number}: {problem}")
                    )
                else:
                    count = len(numbers)
                    for key, value in obj.items():
                        column = columns.get(key)
                        if column is None:
                            column = columns[key] = [None] * count
                        column.append(
                            None
                            if value is None
                            else json.dumps(
                                value, ensure_ascii=False, separators=(",", ":"), sort_keys=True
                            )
                        )
                    numbers.append(number)
                    raws.append(text)
                    for column in columns.values():
                        if len(column) == count:
                            column.append(None)
            if read >= options.chunk_rows:
                yield _json_chunk(columns, numbers, raws, quarantine, read, lines.position())
                yielded = True
                columns, numbers, raws, quarantine, read = {}, [], [], [], 0
        if read or not yielded:
            yield _json_chunk(columns, numbers, raws, quarantine, read, lines.position())


def _json_object(line: str) -> tuple[dict[str, Any] | None, str]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at column {exc.colno}); fix or remove the line"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object; each line must be {{...}}"
    return value, ""


def _json_chunk(
    columns: dict[str, list[str | None]],
    numbers: list[int],
    raws: list[str],
    quarantine: list[QuarantineRow],
    read: int,
    position: int,
) -> SourceChunk:
    table = pa.Table.from_arrays(
        [pa.array(values, pa.string()) for values in columns.values()], names=list(columns)
    )
    return SourceChunk(
        kind="jsonl",
        encoding="json",
        columns=tuple(columns),
        table=table,
        rows=np.asarray(numbers, dtype="int64"),
        raws=raws,
        quarantine=quarantine,
        rows_read=read,
        bytes_read=position,
    )


def _json_to_text(array: pa.Array) -> pa.Array:
    """JSON fragments as plain text: ``"abc"`` → ``abc``, ``12`` → ``12``."""
    quoted = pc.starts_with(array, '"')
    simple = pc.and_(quoted, pc.invert(pc.match_substring(array, "\\")))
    stripped = pc.utf8_slice_codeunits(array, 1, -1)
    out = pc.if_else(simple, stripped, array)
    hard = np.flatnonzero(
        np.asarray(
            pc.and_(quoted, pc.invert(simple)).fill_null(False).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
    )
    if len(hard):
        values = out.to_pylist()
        for i in hard:
            values[i] = json.loads(values[i])
        out = pa.array(values, pa.string())
    return out


def _typed_to_text(array: pa.Array, column: str) -> pa.Array:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array.cast(pa.string())
    if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        raise DataImportError(
            f"column {column!r} holds {kind} values; map a column of text, numbers or times"
        )
    return array.cast(pa.string())


# --- properties ---------------------------------------------------------------------


def build_properties(chunk: SourceChunk, columns: Sequence[str]) -> pa.Array:
    """``properties`` JSON text for each row of ``chunk`` from ``columns``.

    Keys are sorted, nulls are left out, and a row with no values gets null rather than
    ``{}``. Values keep their types: Parquet and JSONL as typed, CSV numbers as numbers.
    """
    n = chunk.table.num_rows
    pieces = []
    for name in sorted(set(columns)):
        if not chunk.has(name):
            continue
        fragment = _json_fragments(chunk, name)
        key = "," + json.dumps(name, ensure_ascii=False) + ":"
        # Each present value becomes ',"key":value' and a null becomes "", so joining
        # needs no null handling (Arrow's "skip" miscounts all-null inputs).
        pieces.append(pc.binary_join_element_wise(pa.scalar(key), fragment, "").fill_null(""))
    if not pieces or n == 0:
        return pa.nulls(n, pa.string())
    body = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*pieces, ""), 1)
    wrapped = pc.binary_join_element_wise("{", body, "}", "")
    return pc.if_else(pc.equal(body, ""), _NULL_STRING, wrapped)


def _json_fragments(chunk: SourceChunk, name: str) -> pa.Array:
    array = chunk.table.column(name).combine_chunks()
    if chunk.encoding == "json":
        return array
    if chunk.encoding == "text":
        text = pc.if_else(pc.equal(array, ""), _NULL_STRING, array)
        number = pc.match_substring_regex(text, _JSON_NUMBER)
        return pc.if_else(number, text, _quote(text))
    return _typed_fragments(array)


def _quote(text: pa.Array) -> pa.Array:
    """JSON string literals of ``text`` (nulls stay null)."""
    out = pc.replace_substring(text, "\\", "\\\\")
    out = pc.replace_substring(out, '"', '\\"')
    out = pc.replace_substring(out, "\n", "\\n")
    out = pc.replace_substring(out, "\r", "\\r")
    out = pc.replace_substring(out, "\t", "\\t")
    out = pc.binary_join_element_wise('"', out, '"', "")
    odd = np.flatnonzero(
        np.asarray(
            pc.match_substring_regex(text, _CONTROL)
            .fill_null(False)
            .to_numpy(zero_copy_only=False),
            dtype=bool,
        )
    )
    if len(odd):
        values = out.to_pylist()
        originals = text.to_pylist()
        for i in odd:
            values[i] = json.dumps(originals[i], ensure_ascii=False)
        out = pa.array(values, pa.string())
    return out


def _typed_fragments(array: pa.Array) -> pa.Array:
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _typed_fragments(array.dictionary_decode())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _quote(array.cast(pa.string()))
    if pa.types.is_boolean(kind):
        return pc.if_else(array, "true", "false")
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return array.cast(pa.string())
    if pa.types.is_floating(kind):
        finite = pc.is_finite(array)
        return pc.if_else(finite, array.cast(pa.string()), _NULL_STRING)
    if pa.types.is_temporal(kind):
        return _quote(array.cast(pa.string()))
    values = [
        None if v is None else json.dumps(v, ensure_ascii=False, default=str, sort_keys=True)
        for v in array.to_pylist()
    ]
    return pa.array(values, pa.string())


# --- mapping files ------------------------------------------------------------------


@dataclass(frozen=True)
class MappingFile:
    """A YAML mapping file, with where each top-level key was written."""

    path: Path
    data: dict[str, Any]
    where: dict[str, str] = field(default_factory=dict)

    def at(self, key: str) -> str:
        return self.where.get(key, str(self.path))

    def check_keys(self, allowed: Sequence[str], *, what: str) -> None:
        """A located did-you-mean error for the first top-level key not in ``allowed``."""
        for key in self.data:
            check_keys([key], allowed, where=self.at(key), what=what)


def check_keys(keys: Iterable[str], allowed: Sequence[str], *, where: str, what: str) -> None:
    """A did-you-mean error for the first of ``keys`` not in ``allowed``."""
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise DataImportError(
                f"{where}: unknown key {key!r} in a {what}; {hint}keys are: {', '.join(allowed)}"
            )


def load_mapping_file(path: Path) -> MappingFile:
    """Read a YAML mapping file; errors point at file:line:column."""
    if not path.is_file():
        raise DataImportError(f"{path}: no such mapping file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataImportError(f"{path}: a mapping file must be UTF-8 text") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        spot = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataImportError(f"{spot}: not valid YAML: {problem}") from None
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise DataImportError(
            f"{path}: a mapping file is a YAML mapping such as 'actor: customer_id'"
        )
    where = {
        str(key.value): f"{path}:{key.start_mark.line + 1}:{key.start_mark.column + 1}"
        for key, _ in node.value
    }
    return MappingFile(path=path, data={str(k): v for k, v in data.items()}, where=where)


# --- lookups: columns from a second, small file -------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """A small file whose columns are added to each row by a shared key column.

    In a mapping file::

        lookup:
          - {file: campaign_descriptions.parquet, key: campaign_id, columns: [start_date]}

    ``file`` is relative to the folder of the file being imported. The lookup file is
    read whole (keep it small: a dimension table, not a fact table) and must hold each
    key once. A row whose key is not in it is quarantined (``no_lookup_match``).
    """

    file: Path
    key: str
    columns: tuple[str, ...]
    table: pa.Table
    keys: pa.Array


LOOKUP_KEYS = ("file", "key", "columns")


def load_lookups(mapping: MappingFile | None, data_path: Path) -> tuple[Lookup, ...]:
    """The ``lookup`` entries of a mapping file, each file read and its keys checked."""
    if mapping is None or mapping.data.get("lookup") is None:
        return ()
    items = mapping.data["lookup"]
    where = mapping.at("lookup")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DataImportError(f"{where}: 'lookup' is a list of {{file, key, columns}}")
    lookups = []
    for n, item in enumerate(items, start=1):
        spot = f"{where} (entry {n})"
        check_keys(item, LOOKUP_KEYS, where=spot, what="lookup")
        if not item.get("file") or not item.get("key"):
            raise DataImportError(
                f"{spot}: a lookup is {{file: FILE, key: COLUMN, columns: [...]}}"
            )
        file = Path(str(item["file"]))
        if not file.is_absolute():
            file = data_path.parent / file
        lookups.append(_read_lookup(file, str(item["key"]), item.get("columns"), spot))
    return tuple(lookups)


def _read_lookup(file: Path, key: str, wanted: Any, spot: str) -> Lookup:
    if not file.is_file():
        raise DataImportError(
            f"{spot}: lookup file {file} not found (paths are relative to the imported file)"
        )
    kind = source_kind(file)
    chunks = list(iter_source(file, ImportOptions(), kind))
    first = chunks[0]
    if chunks[0].encoding == "json":
        raise DataImportError(f"{spot}: a lookup file is CSV or Parquet, not JSONL")
    if key not in first.columns:
        raise DataImportError(
            f"{spot}: {file.name} has no column {key!r}{did_you_mean(key, first.columns)}; "
            f"columns are: {', '.join(first.columns)}"
        )
    if wanted is None:
        columns = tuple(c for c in first.columns if c != key)
    elif isinstance(wanted, list) and all(isinstance(c, str) for c in wanted):
        columns = tuple(wanted)
        for column in columns:
            if column not in first.columns:
                raise DataImportError(
                    f"{spot}: {file.name} has no column {column!r}"
                    f"{did_you_mean(column, first.columns)}; columns are: {', '.join(first.columns)}"
                )
    else:
        raise DataImportError(f"{spot}: 'columns' is a list of column names")
    keys = pa.concat_arrays([c.text(key) for c in chunks]) if chunks else pa.array([], pa.string())
    table = pa.concat_tables([c.table.select(list(columns)) for c in chunks])
    counts = pc.value_counts(keys.drop_null())
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        value = repeated[0]["values"].as_py()
        raise DataImportError(
            f"{spot}: {key} {value!r} appears {repeated[0]['counts'].as_py()} times in {file.name}; "
            "a lookup needs one row per key"
        )
    return Lookup(file=file, key=key, columns=columns, table=table, keys=keys)


def apply_lookups(chunk: SourceChunk, lookups: Sequence[Lookup], path: Path) -> SourceChunk:
    """``chunk`` with the lookup columns added; rows without a match quarantined."""
    for lookup in lookups:
        chunk = _apply_lookup(chunk, lookup, path)
    return chunk


def _apply_lookup(chunk: SourceChunk, lookup: Lookup, path: Path) -> SourceChunk:
    clash = [c for c in lookup.columns if c in chunk.columns]
    if clash:
        raise DataImportError(
            f"{path}: lookup column {clash[0]!r} from {lookup.file.name} is already a column of "
            "the imported file; list the lookup's columns to leave it out"
        )
    if lookup.key not in chunk.columns:
        raise DataImportError(
            f"{path}: no column {lookup.key!r} to look up in {lookup.file.name}"
            f"{did_you_mean(lookup.key, chunk.columns)}; columns are: {', '.join(chunk.columns)}"
        )
    keys = chunk.text(lookup.key)
    index = pc.index_in(keys, value_set=lookup.keys)
    matched = np.asarray(index.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    quarantine = list(chunk.quarantine)
    for i in np.flatnonzero(~matched):
        row = int(chunk.rows[i])
        problem = (
            f"{locate(path, chunk.kind, row)}: {lookup.key} {keys[int(i)].as_py()!r} is not in "
            f"{lookup.file.name}; add it there, or fix the key"
        )
        quarantine.append((row, chunk.raw(int(i)), "no_lookup_match", problem))
    keep = pa.array(matched)
    taken = lookup.table.take(index.filter(keep))
    table = chunk.table.filter(keep)
    for name in lookup.columns:
        table = table.append_column(name, _in_encoding(taken.column(name), chunk.encoding))
    return SourceChunk(
        kind=chunk.kind,
        encoding=chunk.encoding,
        columns=(*chunk.columns, *lookup.columns),
        table=table,
        rows=chunk.rows[matched],
        raws=[r for r, m in zip(chunk.raws, matched, strict=True) if m]
        if chunk.raws
        else chunk.raws,
        quarantine=sorted(quarantine, key=lambda q: q[0]),
        rows_read=chunk.rows_read,
        bytes_read=chunk.bytes_read,
    )


def _in_encoding(values: pa.ChunkedArray, encoding: Encoding) -> pa.Array:
    array = values.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if encoding == "typed":
        return array
    text = array.cast(pa.string())
    if encoding == "text":
        return text
    return _typed_fragments(array)


# --- column mapping for long tables -----------------------------------------------------


@dataclass(frozen=True)
class ColumnRef:
    """A mapped field: a source column, or one value for every row."""

    column: str | None = None
    value: str | None = None
    origin: str = ""
    """Where the mapping was said (``--actor`` or ``mapping.yaml:3:1``), for messages."""


@dataclass(frozen=True)
class LongColumns:
    """Which source column feeds which field of the event contract."""

    actor: ColumnRef
    actor_kind: str
    ts: ColumnRef
    event: ColumnRef
    event_id: ColumnRef | None
    channel: ColumnRef | None
    session: ColumnRef | None
    region: ColumnRef | None
    properties: tuple[str, ...]
    timezone: str
    ts_format: str | None

    def as_dict(self) -> dict[str, str | None]:
        """The mapping as plain data, for the import report."""
        out: dict[str, str | None] = {}
        for name in ("actor", "ts", "event", "event_id", "channel", "session", "region"):
            ref = getattr(self, name)
            if ref is not None:
                out[name] = ref.column if ref.column is not None else f"={ref.value}"
        out["actor_kind"] = self.actor_kind
        out["timezone"] = self.timezone
        return out


_WELL_KNOWN: dict[str, tuple[str, ...]] = {
    "actor": (
        "actor_id",
        "customer_id",
        "user_id",
        "userId",
        "anonymous_id",
        "anonymousId",
        "person_id",
        "client_id",
        "visitor_id",
        "household_id",
        "case_id",
    ),
    "ts": (
        "ts",
        "timestamp",
        "event_time",
        "event_timestamp",
        "time",
        "datetime",
        "occurred_at",
        "created_at",
        "date",
    ),
    "event": ("event", "event_name", "event_type", "action", "activity"),
    "channel": ("channel",),
    "session": ("session_id", "session", "user_session", "sessionId"),
    "region": ("region", "country"),
}
_FLAGS = {
    "actor": "--actor",
    "ts": "--ts",
    "event": "--event",
    "event_id": "--event-id",
    "channel": "--channel",
    "session": "--session",
    "region": "--region",
}
_WHAT = {
    "actor": "the actor (the customer identifier)",
    "ts": "the time of each event",
    "event": "the event name",
}
LONG_KEYS = (
    "lookup",
    "actor",
    "actor_kind",
    "ts",
    "event",
    "event_id",
    "channel",
    "session",
    "region",
    "timezone",
    "ts_format",
    "properties",
)


def mapping_ref(mapping: MappingFile, key: str) -> ColumnRef | None:
    """A field of a mapping file: ``key: column`` or ``key: {value: constant}``."""
    if key not in mapping.data or mapping.data[key] is None:
        return None
    raw = mapping.data[key]
    origin = mapping.at(key)
    if isinstance(raw, dict):
        if set(raw) != {"value"}:
            raise DataImportError(
                f"{origin}: {key!r} is a column name or {{value: ...}} for one value on every row"
            )
        return ColumnRef(value=str(raw["value"]), origin=origin)
    if isinstance(raw, str | int):
        return ColumnRef(column=str(raw), origin=origin)
    raise DataImportError(f"{origin}: {key!r} must be a column name, not {raw!r}")


def check_column(ref: ColumnRef, available: Sequence[str], path: Path, field_name: str) -> None:
    """A did-you-mean error when ``ref`` names a column that ``path`` does not have."""
    if ref.column is None or ref.column in available:
        return
    raise DataImportError(
        f"{path}: column {ref.column!r} ({ref.origin}) not found"
        f"{did_you_mean(ref.column, available)}; columns are: {', '.join(available)}; "
        f"pass {flag_of(field_name)} COLUMN"
    )


def flag_of(field_name: str) -> str:
    """The command-line option that sets a field (``event_id`` → ``--event-id``)."""
    return _FLAGS.get(field_name, "--" + field_name.replace("_", "-"))


def did_you_mean(name: str, available: Sequence[str]) -> str:
    lowered = {a.lower(): a for a in available}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""


def pick_column(
    field_name: str,
    given: str | None,
    mapped: ColumnRef | None,
    available: Sequence[str],
    path: Path,
    *,
    required: bool,
    well_known: Sequence[str] = (),
) -> ColumnRef | None:
    """Option beats mapping file beats a well-known column name."""
    ref: ColumnRef | None
    if given is not None:
        ref = ColumnRef(column=given, origin=flag_of(field_name))
    elif mapped is not None:
        ref = mapped
    else:
        lowered = {a.lower(): a for a in available}
        found = next((lowered[w.lower()] for w in well_known if w.lower() in lowered), None)
        ref = (
            ColumnRef(column=found, origin=f"found by name; {flag_of(field_name)}")
            if found
            else None
        )
    if ref is None:
        if required:
            guess = did_you_mean(well_known[0], available) if well_known else ""
            raise DataImportError(
                f"{path}: no column for {_WHAT.get(field_name, field_name)}{guess}; "
                f"columns are: {', '.join(available) or '(none)'}; "
                f"pass {flag_of(field_name)} COLUMN"
                + (" (or --event-name NAME for one event name)" if field_name == "event" else "")
            )
        return None
    check_column(ref, available, path, field_name)
    return ref


def resolve_long_columns(
    path: Path,
    options: ImportOptions,
    available: Sequence[str],
    *,
    mapping: MappingFile | None = None,
) -> LongColumns:
    """Decide the column mapping of a long table from options, mapping file and names.

    ``mapping`` is ``options.mapping`` already read (it is read here otherwise).
    """
    if mapping is None and options.mapping:
        mapping = load_mapping_file(options.mapping)
    if mapping is not None:
        mapping.check_keys(LONG_KEYS, what="column mapping")
    refs: dict[str, ColumnRef | None] = {
        key: mapping_ref(mapping, key) if mapping else None
        for key in ("actor", "ts", "event", "event_id", "channel", "session", "region")
    }
    actor = pick_column(
        "actor",
        options.actor,
        refs["actor"],
        available,
        path,
        required=True,
        well_known=_WELL_KNOWN["actor"],
    )
    ts = pick_column(
        "ts", options.ts, refs["ts"], available, path, required=True, well_known=_WELL_KNOWN["ts"]
    )
    if options.event_name is not None:
        event: ColumnRef | None = ColumnRef(value=options.event_name, origin="--event-name")
    else:
        event = pick_column(
            "event",
            options.event,
            refs["event"],
            available,
            path,
            required=True,
            well_known=_WELL_KNOWN["event"],
        )
    optional = {
        key: pick_column(
            key,
            getattr(options, key),
            refs[key],
            available,
            path,
            required=False,
            well_known=_WELL_KNOWN.get(key, ()),
        )
        for key in ("event_id", "channel", "session", "region")
    }
    assert actor is not None and ts is not None and event is not None
    for ref in (actor, ts):
        if ref.column is None:
            raise DataImportError(f"{ref.origin}: actor and ts must be columns, not one value")
    mapped = {
        r.column for r in (actor, ts, event, *optional.values()) if r is not None and r.column
    }
    data = mapping.data if mapping else {}
    keep = options.properties or _listed(data.get("properties"), mapping)
    if keep is not None:
        for name in keep:
            check_column(ColumnRef(column=name, origin="properties"), available, path, "properties")
        properties = tuple(k for k in keep if k not in mapped)
    else:
        properties = tuple(a for a in available if a not in mapped)
    timezone = options.timezone
    if timezone == "UTC" and data.get("timezone"):
        timezone = str(data["timezone"])
    return LongColumns(
        actor=actor,
        actor_kind=options.actor_kind or str(data.get("actor_kind") or actor.column),
        ts=ts,
        event=event,
        event_id=optional["event_id"],
        channel=optional["channel"],
        session=optional["session"],
        region=optional["region"],
        properties=properties,
        timezone=check_timezone(timezone),
        ts_format=options.ts_format or data.get("ts_format"),
    )


def _listed(value: Any, mapping: MappingFile | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    where = mapping.at("properties") if mapping else "properties"
    raise DataImportError(f"{where}: 'properties' is a list of column names")


# --- the long-table readers ---------------------------------------------------------------


def read_csv(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Events from a CSV file, one per row."""
    return _read_long(path, options, "csv")


def read_parquet(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Events from a Parquet file, one per row."""
    return _read_long(path, options, "parquet")


def read_jsonl(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Events from a JSON Lines file, one per line."""
    return _read_long(path, options, "jsonl")


def _read_long(path: Path, options: ImportOptions, kind: SourceKind) -> Iterator[ImportChunk]:
    mapping = load_mapping_file(options.mapping) if options.mapping else None
    lookups = load_lookups(mapping, path)
    columns: LongColumns | None = None
    for chunk in iter_source(path, options, kind):
        chunk = apply_lookups(chunk, lookups, path)
        if columns is None:
            columns = resolve_long_columns(path, options, chunk.columns, mapping=mapping)
        yield long_events(chunk, columns, path)


def column_values(chunk: SourceChunk, ref: ColumnRef | None) -> pa.Array:
    """The text of a mapped field for every row of ``chunk`` (null when unmapped)."""
    n = chunk.table.num_rows
    if ref is None:
        return pa.nulls(n, pa.string())
    if ref.column is None:
        return pa.array([ref.value] * n, pa.string())
    return chunk.text(ref.column)


def null_mask(array: pa.Array) -> np.ndarray:
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def timestamp_problem(path: Path, kind: SourceKind, row: int, column: str, value: str) -> str:
    return (
        f"{locate(path, kind, row)}: {column} {value!r} is not a timestamp; write ISO 8601 "
        "such as 2024-05-01T09:30:00+09:00, or pass --ts-format (e.g. '%d/%m/%Y %H:%M')"
    )


def long_events(chunk: SourceChunk, columns: LongColumns, path: Path) -> ImportChunk:
    """One event per clean row of ``chunk``; rows that cannot be events are quarantined."""
    n = chunk.table.num_rows
    actor = column_values(chunk, columns.actor)
    event = column_values(chunk, columns.event)
    event_id = column_values(chunk, columns.event_id)
    ts_column = columns.ts.column or ""
    parsed = parse_timestamps(
        chunk.values(ts_column), timezone=columns.timezone, fmt=columns.ts_format
    )
    checks: list[tuple[np.ndarray, str]] = [
        (null_mask(actor), "missing_actor"),
        (parsed.missing, "missing_timestamp"),
        (parsed.bad, "bad_timestamp"),
        (null_mask(event), "missing_event"),
    ]
    if columns.event_id is not None:
        checks.append((null_mask(event_id), "missing_event_id"))
    reasons = np.full(n, "", dtype=object)
    for mask, reason in reversed(checks):
        reasons[mask] = reason
    bad = reasons != ""
    quarantine = list(chunk.quarantine)
    if bad.any():
        ts_text = chunk.text(ts_column)
        for i in np.flatnonzero(bad):
            row = int(chunk.rows[i])
            reason = str(reasons[i])
            quarantine.append(
                (
                    row,
                    chunk.raw(int(i)),
                    reason,
                    _long_problem(reason, int(i), row, columns, chunk, path, ts_text),
                )
            )
    keep = pa.array(~bad)
    events = pa.Table.from_arrays(
        [
            event_id,
            actor,
            pa.array([columns.actor_kind] * n, pa.string()),
            parsed.ts,
            event,
            column_values(chunk, columns.channel),
            column_values(chunk, columns.session),
            column_values(chunk, columns.region),
            parsed.source_tz,
            build_properties(chunk, columns.properties),
            pa.array(chunk.rows, pa.int64()),
        ],
        schema=EVENTS_ARROW,
    ).filter(keep)
    quarantine.sort(key=lambda q: q[0])
    return ImportChunk(
        events=events,
        rows_read=chunk.rows_read,
        rows_loaded=events.num_rows,
        quarantine=quarantine_table(quarantine),
        bytes_read=chunk.bytes_read,
        notes=timestamp_notes(parsed),
    )


def timestamp_notes(parsed: ParsedTimestamps) -> dict[str, int]:
    notes: dict[str, int] = {}
    if parsed.ambiguous:
        notes["ambiguous_local_time"] = parsed.ambiguous
    if parsed.nonexistent:
        notes["nonexistent_local_time"] = parsed.nonexistent
    return notes


def _long_problem(
    reason: str,
    index: int,
    row: int,
    columns: LongColumns,
    chunk: SourceChunk,
    path: Path,
    ts_text: pa.Array | None,
) -> str:
    where = locate(path, chunk.kind, row)
    if reason == "bad_timestamp":
        value = ts_text[index].as_py() if ts_text is not None else ""
        return timestamp_problem(path, chunk.kind, row, columns.ts.column or "ts", str(value))
    messages: Mapping[str, str] = {
        "missing_actor": f"{where}: {columns.actor.column} is empty; every event needs the "
        "customer it belongs to (fill it in, or map another column with --actor)",
        "missing_timestamp": f"{where}: {columns.ts.column} is empty; every event needs a time",
        "missing_event": f"{where}: {columns.event.column} is empty; every event needs a name "
        "(or pass --event-name NAME for one name for all rows)",
        "missing_event_id": f"{where}: {columns.event_id.column if columns.event_id else ''} is "
        "empty; give every row an id, or leave out --event-id to have ids derived",
    }
    return messages[reason]
