"""Every import format by name, with its file suffixes and its reader (loaded on use).

A CSV, Parquet or JSONL file whose columns are one of the event contract's tables
(``actor_id, actor_kind, ts, event, properties``, ...) is detected as ``contract`` and
loads as it is; see :mod:`journeymap.io.importers.contract`.

>>> detect_format(Path("orders.csv.gz"))
'csv'
>>> READERS["xes"].suffixes
('.xes', '.xes.gz')
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from journeymap.errors import DataImportError, UnsupportedFormatError
from journeymap.io.importers.base import Reader

__all__ = ["READERS", "ReaderSpec", "detect_format", "load_reader"]


@dataclass(frozen=True)
class ReaderSpec:
    """A format: its name, the suffixes that imply it, and where its reader lives.

    ``target`` is ``"package.module:function"``; the module is imported only when the
    format is used, so a format's dependencies cost nothing until then.
    """

    name: str
    suffixes: tuple[str, ...]
    target: str
    description: str

    @property
    def module(self) -> str:
        """The module that holds the reader (``journeymap.io.importers.xes``)."""
        return self.target.partition(":")[0]

    @property
    def function(self) -> str:
        """The reader's name in that module (``read_xes``)."""
        return self.target.partition(":")[2]

    def load(self) -> Reader:
        """The reader function (imports its module now)."""
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name and self.module.startswith(exc.name):
                raise UnsupportedFormatError(
                    f"the {self.name} reader is not part of this journeymap build"
                ) from exc
            raise
        return cast(Reader, getattr(module, self.function))


_PACKAGE = "journeymap.io.importers"

READERS: dict[str, ReaderSpec] = {
    spec.name: spec
    for spec in (
        ReaderSpec(
            "csv",
            (".csv", ".csv.gz", ".tsv", ".tsv.gz"),
            f"{_PACKAGE}.tabular:read_csv",
            "one event per row; columns mapped by --actor/--ts/--event or a mapping file",
        ),
        ReaderSpec(
            "parquet",
            (".parquet", ".pq"),
            f"{_PACKAGE}.tabular:read_parquet",
            "one event per row, streamed by row group",
        ),
        ReaderSpec(
            "jsonl",
            (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"),
            f"{_PACKAGE}.tabular:read_jsonl",
            "one event per line (JSON object)",
        ),
        ReaderSpec(
            "contract",
            (),
            f"{_PACKAGE}.contract:read_contract",
            "events, identity links or feedback already in the contract's columns (CSV, "
            "Parquet or JSONL), loaded as they are; detected by the columns",
        ),
        ReaderSpec(
            "wide",
            (),
            f"{_PACKAGE}.wide:read_wide",
            "one row per case, several timestamp columns → several events (needs --mapping)",
        ),
        ReaderSpec(
            "feedback",
            (),
            f"{_PACKAGE}.feedback:read_feedback",
            "survey answers: CSAT, NPS, CES, ratings and free text",
        ),
        ReaderSpec(
            "segment",
            (),
            f"{_PACKAGE}.segment:read_segment",
            "Segment track/identify/page/alias messages (JSON lines or a JSON array)",
        ),
        ReaderSpec(
            "ga4",
            (),
            f"{_PACKAGE}.ga4:read_ga4",
            "GA4 BigQuery export rows (JSON lines or Parquet)",
        ),
        ReaderSpec(
            "snowplow",
            (),
            f"{_PACKAGE}.snowplow:read_snowplow",
            "Snowplow enriched events (TSV)",
        ),
        ReaderSpec(
            "xes",
            (".xes", ".xes.gz"),
            f"{_PACKAGE}.xes:read_xes",
            "IEEE XES event logs (traces become actors)",
        ),
        ReaderSpec(
            "ocel",
            (".jsonocel", ".ocel.json"),
            f"{_PACKAGE}.ocel:read_ocel",
            "OCEL 2.0 (or 1.0) JSON object-centric logs (pick the customer object type with --option customer_type=TYPE)",
        ),
    )
}


_BY_COLUMNS = ("csv", "parquet", "jsonl")
"""Formats whose files are read for their columns: the contract's go to ``contract``."""


def detect_format(path: Path) -> str:
    """The format a file implies: ``contract`` when its columns are a contract table's,
    else the format of its name (the longest matching suffix wins)."""
    name = path.name.lower()
    best: tuple[int, str] | None = None
    for spec in READERS.values():
        for suffix in spec.suffixes:
            if name.endswith(suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), spec.name)
    if best is None:
        names = ", ".join(READERS)
        suffix = "".join(path.suffixes[-2:]) or "no extension"
        raise UnsupportedFormatError(
            f"{path}: cannot tell the format from '{suffix}'; pass --format with one of: {names}"
        )
    if best[1] in _BY_COLUMNS and path.is_file() and _is_contract_shaped(path):
        return "contract"
    return best[1]


def _is_contract_shaped(path: Path) -> bool:
    from journeymap.io.importers.contract import contract_table_of

    try:
        return contract_table_of(path) is not None
    except DataImportError:
        return False  # the format's own reader reports what is wrong with the file


def load_reader(name: str) -> Reader:
    """The reader of format ``name``; a did-you-mean error for unknown names."""
    if name not in READERS:
        close = difflib.get_close_matches(name, list(READERS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnsupportedFormatError(
            f"unknown import format {name!r}; {hint}formats are: {', '.join(READERS)}"
        )
    return READERS[name].load()
