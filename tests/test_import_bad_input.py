"""Bad input: each case is a located error (nothing imported) or quarantined rows.

Never a traceback: every error case also runs through the CLI. Every import asserts
loaded + quarantined == read (``probe.accounted``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.errors import DataImportError, UnsupportedFormatError
from journeymap.io.importers.base import ImportOptions
from journeymap.io.workspace import import_source

OPTIONS = ImportOptions(actor="cust", ts="when", event="what")
FLAGS = ["--actor", "cust", "--ts", "when", "--event", "what"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def gz(path: Path, data: bytes, *, keep: float = 1.0) -> Path:
    packed = gzip.compress(data)
    path.write_bytes(packed[: int(len(packed) * keep)])
    return path


def many_rows(n: int) -> bytes:
    rows = "".join(f"c{i},2024-01-01T00:00:00Z,view\n" for i in range(n))
    return ("cust,when,what\n" + rows).encode()


# --- located errors: nothing is imported ---------------------------------------------

Case = Callable[[Path], tuple[Path, ImportOptions, list[str]]]


def truncated_gzip_csv(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    return gz(tmp / "e.csv.gz", many_rows(5000), keep=0.5), OPTIONS, FLAGS


def truncated_gzip_jsonl(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    lines = "".join(
        json.dumps({"user_id": i, "ts": "2024-01-01T00:00:00Z", "event": "x"}) + "\n"
        for i in range(5000)
    )
    return gz(tmp / "e.jsonl.gz", lines.encode(), keep=0.6), ImportOptions(), []


def renamed_actor_column(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    source = write(tmp / "e.csv", "client,when,what\nc1,2024-01-01,view\n")
    return source, ImportOptions(ts="when", event="what"), ["--ts", "when", "--event", "what"]


def misspelt_actor_flag(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    source = write(tmp / "e.csv", "customer_id,when,what\nc1,2024-01-01,view\n")
    options = ImportOptions(actor="custmer_id", ts="when", event="what")
    return source, options, ["--actor", "custmer_id", "--ts", "when", "--event", "what"]


def missing_parquet_column(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    pq.write_table(pa.table({"cust": ["a"], "what": ["view"]}), tmp / "e.parquet")
    return tmp / "e.parquet", OPTIONS, FLAGS


def empty_file(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    return write(tmp / "e.csv", ""), OPTIONS, FLAGS


def blank_lines_only(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    return write(tmp / "e.csv", "\n\n  \n"), OPTIONS, FLAGS


def line_longer_than_the_maximum(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    source = write(
        tmp / "e.csv", "cust,when,what\nc1,2024-01-01,view\nc2,2024-01-01," + "x" * 500 + "\n"
    )
    options = ImportOptions(actor="cust", ts="when", event="what", max_line_bytes=100)
    return source, options, [*FLAGS, "--max-line-bytes", "100"]


def jsonl_line_longer_than_the_maximum(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    line = json.dumps({"user_id": "u", "ts": "2024-01-01", "event": "x" * 300})
    source = write(tmp / "e.jsonl", line + "\n")
    return source, ImportOptions(max_line_bytes=100), ["--max-line-bytes", "100"]


def unclosed_quote(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    source = write(tmp / "e.csv", 'cust,when,what\nc1,2024-01-01,"view\nc2,2024-01-01,buy\n')
    return source, OPTIONS, FLAGS


def stray_quote(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    source = write(tmp / "e.csv", 'cust,when,what\nc1,2024-01-01,"view"s\n')
    return source, OPTIONS, FLAGS


def not_really_parquet(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    return write(tmp / "e.parquet", "cust,when,what\n"), OPTIONS, FLAGS


def utf16_file(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    path = tmp / "e.csv"
    path.write_bytes("cust,when,what\nc1,2024-01-01,view\n".encode("utf-16"))
    return path, OPTIONS, FLAGS


def header_not_utf8(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    path = tmp / "e.csv"
    path.write_bytes("cust,when,what,caf\xe9\nc1,2024-01-01,view,1\n".encode("latin-1"))
    return path, OPTIONS, FLAGS


def duplicate_header(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    return write(tmp / "e.csv", "cust,when,what,when\nc1,2024-01-01,view,x\n"), OPTIONS, FLAGS


def unknown_suffix(tmp: Path) -> tuple[Path, ImportOptions, list[str]]:
    return write(tmp / "e.xlsx", "not a spreadsheet"), OPTIONS, FLAGS


ERRORS: list[tuple[Case, str]] = [
    (
        truncated_gzip_csv,
        r"e.csv.gz: the compressed data ends early \(after line \d+\); the file is truncated",
    ),
    (truncated_gzip_jsonl, r"e.jsonl.gz: the compressed data ends early \(after line \d+\)"),
    (
        renamed_actor_column,
        r"no column for the actor .*columns are: client, when, what; pass --actor COLUMN",
    ),
    (
        misspelt_actor_flag,
        r"column 'custmer_id' \(--actor\) not found; did you mean 'customer_id'\?",
    ),
    (
        missing_parquet_column,
        r"e.parquet: column 'when' \(--ts\) not found; columns are: cust, what",
    ),
    (empty_file, r"e.csv: the file is empty \(0 bytes\)"),
    (blank_lines_only, r"e.csv: the file has no header line"),
    (
        line_longer_than_the_maximum,
        r"e.csv:3: the line is longer than 100 bytes .*--max-line-bytes N",
    ),
    (jsonl_line_longer_than_the_maximum, r"e.jsonl:1: the line is longer than 100 bytes"),
    (unclosed_quote, r"e.csv:2: a quoted field that starts on this line is never closed"),
    (stray_quote, r"e.csv:2: ',' expected after '\"'; check the quotes on this line"),
    (not_really_parquet, r"e.parquet: not a readable Parquet file"),
    (utf16_file, r"e.csv:1: the file is UTF-16; save it as UTF-8"),
    (header_not_utf8, r"e.csv:1:19: byte 0xe9 is not valid utf-8"),
    (duplicate_header, r"e.csv:1: column 'when' appears twice \(fields 2 and 4\)"),
    (unknown_suffix, r"e.xlsx: cannot tell the format from '.xlsx'; pass --format"),
]


@pytest.mark.parametrize(("case", "message"), ERRORS, ids=[c.__name__ for c, _ in ERRORS])
def test_bad_files_are_located_errors_and_import_nothing(
    ws: Any, probe: Any, tmp_path: Path, case: Case, message: str
) -> None:
    source, options, _ = case(tmp_path)
    with pytest.raises((DataImportError, UnsupportedFormatError)) as caught:
        import_source(ws, source, options=options)
    assert caught.match(message)
    for table in ("events", "quarantine", "imports"):
        assert probe.count(ws, table) == 0


@pytest.mark.parametrize(("case", "message"), ERRORS, ids=[c.__name__ for c, _ in ERRORS])
def test_bad_files_give_the_cli_a_message_not_a_traceback(
    tmp_path: Path, case: Case, message: str
) -> None:
    runner = CliRunner()
    folder = tmp_path / "shop"
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    source, _, flags = case(tmp_path)
    result = runner.invoke(app, ["import", str(source), "-w", str(folder), *flags])
    assert result.exit_code == 1
    assert "error:" in result.output and "nothing imported" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


# --- quarantined rows: the rest loads -------------------------------------------------


def test_wrongly_encoded_lines_are_quarantined_with_their_bytes(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = tmp_path / "e.csv"
    source.write_bytes(
        b"cust,when,what\nc1,2024-01-01,view\nc2,2024-01-01,caf\xe9\nc3,2024-01-01,buy\n"
    )
    report = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, report)
    assert (report.rows_read, report.rows_loaded) == (3, 2)
    (kept,) = probe.query(ws, "SELECT row_number, raw, reason, detail FROM quarantine")
    assert (kept["row_number"], kept["reason"]) == (3, "bad_encoding")
    assert kept["raw"] == "c2,2024-01-01,caf\\xe9"  # the byte is kept, not replaced
    assert kept["detail"].startswith("e.csv:3:18: byte 0xe9 is not valid utf-8")
    assert "--encoding" in kept["detail"]


def test_the_right_encoding_loads_every_row(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = tmp_path / "e.csv"
    source.write_bytes("cust,when,what\nc2,2024-01-01,café\n".encode("latin-1"))
    report = import_source(ws, source, options=replace(OPTIONS, encoding="latin-1"))
    probe.accounted(ws, report)
    assert [r["event"] for r in probe.query(ws, "SELECT event FROM events")] == ["café"]


def test_rows_with_the_wrong_number_of_fields_are_quarantined(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "e.csv",
        "cust,when,what\nc1,2024-01-01,view\nc2,2024-01-01\nc3,2024-01-01,buy,extra\n"
        'c4,2024-01-01,"two\nlines"\n',
    )
    report = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, report)
    assert report.quarantined_by_reason == {"wrong_field_count": 2}
    kept = probe.query(ws, "SELECT row_number, raw, detail FROM quarantine ORDER BY row_number")
    assert [(k["row_number"], k["raw"]) for k in kept] == [
        (3, "c2,2024-01-01"),
        (4, "c3,2024-01-01,buy,extra"),
    ]
    assert kept[0]["detail"].startswith("e.csv:3: 2 fields where the header has 3")
    # the quoted field spanning lines 5-6 is one row and loads
    assert sorted(r["event"] for r in probe.query(ws, "SELECT event FROM events")) == [
        "two\nlines",
        "view",
    ]


def test_unparseable_timestamps_are_quarantined_with_value_and_line(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "e.csv",
        "cust,when,what\nc1,2024-01-01T10:00:00Z,view\nc2,31/12/2024,view\nc3,,view\n"
        "c4,2024-02-30,view\n",
    )
    report = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, report)
    assert report.quarantined_by_reason == {"bad_timestamp": 2, "missing_timestamp": 1}
    kept = probe.query(ws, "SELECT row_number, reason, detail FROM quarantine ORDER BY row_number")
    assert [(k["row_number"], k["reason"]) for k in kept] == [
        (3, "bad_timestamp"),
        (4, "missing_timestamp"),
        (5, "bad_timestamp"),
    ]
    assert kept[0]["detail"] == (
        "e.csv:3: when '31/12/2024' is not a timestamp; write ISO 8601 such as "
        "2024-05-01T09:30:00+09:00, or pass --ts-format (e.g. '%d/%m/%Y %H:%M')"
    )
    # with the format named, 31/12/2024 reads (ISO still does; 2024-02-30 never will), and
    # the event of line 2 is already there
    again = import_source(ws, source, options=replace(OPTIONS, ts_format="%d/%m/%Y"))
    probe.accounted(ws, again)
    assert (again.rows_loaded, again.events_loaded, again.duplicates_skipped) == (2, 1, 1)
    assert again.quarantined_by_reason == {"bad_timestamp": 1, "missing_timestamp": 1}


@pytest.mark.parametrize(
    ("timezone", "hour", "recorded"),
    [
        ("UTC", 9, "UTC"),
        ("Asia/Seoul", 0, "Asia/Seoul"),
        ("America/New_York", 13, "America/New_York"),
    ],
)
def test_timezone_less_timestamps_take_the_given_zone_and_record_it(
    ws: Any, probe: Any, tmp_path: Path, timezone: str, hour: int, recorded: str
) -> None:
    # 09:00 local on 1 May 2024: UTC 09:00; Seoul (UTC+9) 00:00Z; New York (EDT, UTC-4) 13:00Z
    source = write(tmp_path / "e.csv", "cust,when,what\nc1,2024-05-01 09:00:00,view\n")
    options = replace(OPTIONS, timezone=timezone)
    report = import_source(ws, source, options=options)
    probe.accounted(ws, report)
    (row,) = probe.query(ws, "SELECT epoch_us(ts) AS us, source_tz FROM events")
    assert row == {"us": (1714521600 + hour * 3600) * 1_000_000, "source_tz": recorded}


def test_duplicate_event_ids_keep_the_first_and_quarantine_the_later_rows(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "e.csv",
        "id,cust,when,what\n"
        "m1,c1,2024-01-01T00:00:00Z,view\n"
        "m2,c1,2024-01-01T00:01:00Z,cart\n"
        "m1,c1,2024-01-01T00:00:00Z,view\n"
        "m1,c9,2024-03-01T00:00:00Z,refund\n",
    )
    options = replace(OPTIONS, event_id="id")
    report = import_source(ws, source, options=options)
    probe.accounted(ws, report)
    assert (report.rows_read, report.rows_loaded, report.events_loaded) == (4, 2, 2)
    assert report.quarantined_by_reason == {"duplicate_event_id": 2}
    kept = probe.query(ws, "SELECT row_number, raw, detail FROM quarantine ORDER BY row_number")
    assert [k["row_number"] for k in kept] == [4, 5]
    assert kept[1]["detail"].startswith("e.csv:5: id 'm1' repeats line 2 of this import")
    assert json.loads(kept[1]["raw"])[0]["event"] == "refund"  # kept whole, nothing lost
    # across imports a known id is not a conflict but an overlap: skipped and counted
    later = write(tmp_path / "later.csv", "id,cust,when,what\nm2,c1,2024-01-01T00:01:00Z,cart\n")
    overlap = import_source(ws, later, options=options)
    probe.accounted(ws, overlap)
    assert (overlap.rows_loaded, overlap.duplicates_skipped, overlap.events_loaded) == (1, 1, 0)


def test_empty_required_values_are_quarantined_by_kind(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(
        tmp_path / "e.csv",
        "id,cust,when,what\n1,,2024-01-01,view\n2,c1,2024-01-01,\n,c1,2024-01-01,view\n"
        "4,  ,2024-01-01,view\n",
    )
    options = replace(OPTIONS, event_id="id")
    report = import_source(ws, source, options=options)
    probe.accounted(ws, report)
    # a value of spaces is as empty as no value
    assert report.quarantined_by_reason == {
        "missing_actor": 2,
        "missing_event": 1,
        "missing_event_id": 1,
    }


def test_mixed_types_in_a_csv_column_load_without_loss(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(
        tmp_path / "e.csv",
        "cust,when,what,amount\nc1,2024-01-01,view,12\nc2,1704067200,view,N/A\n"
        "c3,2024-01-01,view,3.5\nc4,soon,view,7\n",
    )
    report = import_source(ws, source, options=OPTIONS)
    probe.accounted(ws, report)
    # the time column mixes ISO, epoch seconds (1704067200 = 2024-01-01T00:00Z) and text:
    # only the text is quarantined. The amount column mixes numbers and text: each value
    # keeps its own type in properties, so nothing is lost.
    assert (report.rows_loaded, report.quarantined_by_reason) == (3, {"bad_timestamp": 1})
    rows = probe.query(
        ws, "SELECT actor_id, epoch_us(ts) AS us, CAST(properties AS VARCHAR) AS p FROM events"
    )
    assert {r["actor_id"]: (r["us"], json.loads(r["p"])) for r in rows} == {
        "c1": (1704067200_000000, {"amount": 12}),
        "c2": (1704067200_000000, {"amount": "N/A"}),
        "c3": (1704067200_000000, {"amount": 3.5}),
    }


def test_mixed_types_in_jsonl_keep_each_value_as_written(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "e.jsonl",
        '{"user_id": 7, "ts": "2024-01-01T00:00:00Z", "event": "a", "v": 1}\n'
        '{"user_id": "7", "ts": 1704067200, "event": "a", "v": "1"}\n'
        '{"user_id": [7], "ts": "2024-01-01T00:00:00Z", "event": "a", "v": null}\n',
    )
    report = import_source(ws, source)
    probe.accounted(ws, report)
    rows = probe.query(
        ws, "SELECT actor_id, CAST(properties AS VARCHAR) AS p FROM events ORDER BY event_id"
    )
    # 7 and "7" are the same actor; the list is written as JSON text. v keeps 1 vs "1".
    assert sorted((r["actor_id"], r["p"]) for r in rows) == [
        ("7", '{"v":"1"}'),
        ("7", '{"v":1}'),
        ("[7]", None),
    ]


def test_a_header_only_file_imports_zero_rows(ws: Any, probe: Any, tmp_path: Path) -> None:
    report = import_source(ws, write(tmp_path / "e.csv", "cust,when,what\n"), options=OPTIONS)
    probe.accounted(ws, report)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (0, 0, 0)


def test_lines_that_are_not_json_objects_are_quarantined(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "e.jsonl",
        '{"user_id": "u", "ts": "2024-01-01", "event": "a"}\n{"user_id": "u", "ts": \n"text"\n',
    )
    report = import_source(ws, source)
    probe.accounted(ws, report)
    assert report.quarantined_by_reason == {"bad_json": 2}
    details = [
        r["detail"] for r in probe.query(ws, "SELECT detail FROM quarantine ORDER BY row_number")
    ]
    assert details[0].startswith("e.jsonl:2: not JSON (Expecting value at column 24)")
    assert details[1] == "e.jsonl:3: a JSON str, not an object; each line must be {...}"
