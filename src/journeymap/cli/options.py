"""What the data commands share: option types, option parsing, and writing results.

``journeymap funnel | paths | timing | segments | analyze`` read durations, dates and
choices the same way, say the same things when one is wrong, and print or write their
tables the same way (rich table, CSV, JSON or Parquet).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from journeymap.cli.output import console, err_console, jsonable
from journeymap.errors import JourneyError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = [
    "FORMATS",
    "CommandOptionError",
    "EngineOption",
    "FormatOption",
    "OutputOption",
    "TopOption",
    "WorkspaceOption",
    "check_format",
    "choose",
    "emit_table",
    "fetch_table",
    "fetch_value",
    "format_share",
    "humanize_seconds",
    "parse_duration",
    "parse_moment",
    "print_wide",
    "write_table",
]

FORMATS = ("table", "csv", "json", "parquet")

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (default: the current folder).")
]
EngineOption = Annotated[
    str | None, typer.Option("--engine", help="Ibis connection URL, e.g. pyspark://local[2].")
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="table (default), csv, json or parquet.")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the result to this file.")
]
TopOption = Annotated[
    int, typer.Option("--top", help="Show this many rows of each table (0: all).", min=0)
]

_T = TypeVar("_T", bound=str)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NO_LIMIT = ("none", "no", "0", "")


class CommandOptionError(JourneyError, ValueError):
    """A command-line option that cannot be read or used as given."""


def parse_duration(flag: str, text: str | None, *, allow_none: bool = False) -> timedelta | None:
    """``30m``, ``12h``, ``7d``, ``2w`` as a duration; None when the option was not given.

    With ``allow_none``, ``none`` (or ``0``) also means no limit.

    >>> parse_duration("--window", "7d")
    datetime.timedelta(days=7)
    """
    if text is None or (allow_none and text.strip().lower() in _NO_LIMIT):
        return None
    match = _DURATION.match(text)
    if not match:
        extra = ", or none" if allow_none else ""
        raise CommandOptionError(
            f"{flag} {text!r} is not a duration; write a number and a unit: 30m, 12h, 7d, 2w{extra}"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_moment(flag: str, text: str | None) -> datetime | None:
    """A date (``2024-06-30``) or a time (``2024-06-30T18:00:00Z``) as an aware datetime.

    Times without a zone are read as UTC; None when the option was not given.
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise CommandOptionError(
                f"{flag} {text!r} is not a date or time; write e.g. 2024-06-30 or "
                "2024-06-30T18:00:00Z"
            ) from None
        value = datetime(day.year, day.month, day.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def choose(flag: str, value: _T | None, allowed: Sequence[str]) -> _T | None:
    """``value`` when it is one of ``allowed`` (or None); otherwise a clear error."""
    if value is not None and value not in allowed:
        raise CommandOptionError(f"{flag} {value!r}: choose one of {', '.join(allowed)}")
    return value


def check_format(fmt: str, output: Path | None) -> None:
    """Refuse an unknown ``--format``, and Parquet without a file to write it to."""
    choose("--format", fmt, FORMATS)
    if fmt == "parquet" and output is None:
        raise CommandOptionError("--format parquet needs --output FILE")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def humanize_seconds(secs: float | None) -> str:
    """A duration in seconds as a short text: ``45s``, ``12.5m``, ``3.2h``, ``1.5d``."""
    if _missing(secs):
        return "–"
    assert secs is not None
    secs = float(secs)
    if abs(secs) < 60:
        return f"{secs:.0f}s"
    if abs(secs) < 3600:
        return f"{secs / 60:.1f}m"
    if abs(secs) < 86400:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def format_share(value: float | None) -> str:
    """A share in 0..1 as a percentage with one decimal, ``–`` when unknown."""
    if _missing(value):
        return "–"
    assert value is not None
    return f"{100 * float(value):.1f}%"


def fetch_table(expr: ir.Table, what: str) -> pa.Table:
    """Execute ``expr`` on its engine; engine failures become a JourneyError about ``what``."""
    from journeymap.engines import translate_errors

    with translate_errors(what):
        return expr.to_pyarrow()


def fetch_value(expr: Any, what: str) -> Any:
    """Execute a scalar expression on its engine (see :func:`fetch_table`)."""
    from journeymap.engines import translate_errors

    with translate_errors(what):
        return expr.execute()


def print_wide(table: Table) -> None:
    """Print a rich table; piped or captured output keeps every number whole."""
    out = console
    if not console.is_terminal:
        wide = Measurement.get(console, console.options.update_width(400), table).maximum
        if wide > console.width:
            out = Console(highlight=False, width=wide, file=console.file)
    out.print(table)


def emit_table(
    table: pa.Table,
    fmt: str,
    output: Path | None,
    *,
    extra: dict[str, Any] | None = None,
    rows_key: str = "rows",
) -> None:
    """Write ``table`` as CSV, JSON (``{**extra, rows_key: [...]}``) or Parquet.

    Without ``output`` CSV and JSON go to standard output; list cells become
    ``a → b → c`` in CSV.
    """
    if fmt == "parquet":
        if output is None:
            raise CommandOptionError("--format parquet needs --output FILE")
        import pyarrow.parquet as pq

        pq.write_table(table, str(output))
        err_console.print(f"wrote {escape(str(output))}")
        return
    if fmt == "json":
        rows = [{k: jsonable(v) for k, v in row.items()} for row in table.to_pylist()]
        doc = {**(extra or {}), rows_key: rows}
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    else:
        text = _csv_text(table)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {escape(str(output))}")


def _csv_text(table: pa.Table) -> str:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    flat = table
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            joined = [" → ".join(map(str, v or [])) for v in table.column(i).to_pylist()]
            flat = flat.set_column(i, field.name, pa.array(joined, pa.string()))
    sink = io.BytesIO()
    pacsv.write_csv(flat, sink)
    return sink.getvalue().decode("utf-8")


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` in the format its suffix names (.parquet, .csv, .jsonl)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, str(path))
    elif suffix == ".csv":
        path.write_text(_csv_text(table), encoding="utf-8")
    elif suffix in (".json", ".jsonl"):
        with path.open("w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(
                    json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                )
    else:
        raise CommandOptionError(
            f"{path}: cannot tell the format from '{suffix or 'no extension'}'; "
            "use .parquet, .csv or .jsonl"
        )
