"""CSV, Parquet and JSONL in: column mapping, timestamps, properties, ids, streaming.

Every import asserts that loaded + quarantined == read (``probe.accounted``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeymap.io.importers import tabular
from journeymap.io.importers.base import ImportChunk, ImportOptions
from journeymap.io.importers.tabular import SourceChunk, build_properties
from journeymap.io.importers.timestamps import parse_timestamps
from journeymap.io.workspace import import_source

SEOUL = ImportOptions(actor="cust", ts="when", event="what", timezone="Asia/Seoul")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def events_of(probe: Any, ws: Any) -> list[dict[str, Any]]:
    return probe.query(
        ws,
        "SELECT event_id, actor_id, actor_kind, epoch_us(ts) AS us, event, channel, session_id, "
        "region, source_tz, CAST(properties AS VARCHAR) AS properties FROM events "
        "ORDER BY actor_id, ts, event_id",
    )


def us(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 UTC time (the independent reference)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1_000_000)


# --- CSV ----------------------------------------------------------------------------


def test_csv_rows_become_events_in_utc_with_the_source_zone_recorded(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "events.csv",
        "cust,when,what,price,note\n"
        "c1,2024-05-01T09:30:00+09:00,view,12,hi\n"
        "c1,2024-05-01 09:31:00,cart,12.50,\n"
        'c2,1714552200,buy,007,"a,b"\n',
    )
    report = import_source(ws, source, options=SEOUL)
    probe.accounted(ws, report)
    assert (report.rows_read, report.rows_loaded, report.events_loaded) == (3, 3, 3)
    rows = events_of(probe, ws)
    # 09:30+09:00 = 00:30Z; 09:31 read in Asia/Seoul (UTC+9, no DST) = 00:31Z;
    # epoch 1714552200 = 1714521600 (2024-05-01T00:00Z) + 30600 s (8.5 h) = 08:30Z.
    assert [(r["actor_id"], r["event"], r["us"], r["source_tz"]) for r in rows] == [
        ("c1", "view", us("2024-05-01T00:30:00"), "+09:00"),
        ("c1", "cart", us("2024-05-01T00:31:00"), "Asia/Seoul"),
        ("c2", "buy", us("2024-05-01T08:30:00"), "UTC"),
    ]
    # CSV has no types: plain JSON numbers become numbers, everything else stays text
    # exactly as written ("007" keeps its zero); empty fields are left out.
    assert [json.loads(r["properties"]) for r in rows] == [
        {"note": "hi", "price": 12},
        {"price": 12.5},
        {"note": "a,b", "price": "007"},
    ]
    assert {r["actor_kind"] for r in rows} == {"cust"}


def test_csv_columns_are_found_by_well_known_names(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(
        tmp_path / "clicks.csv",
        "event_time,event_type,user_id,user_session,channel,country,brand\n"
        "2019-10-01 00:00:00 UTC,view,541312140,s-1,web,KR,shiseido\n",
    )
    report = import_source(ws, source)
    probe.accounted(ws, report)
    (row,) = events_of(probe, ws)
    assert (row["actor_id"], row["actor_kind"], row["event"]) == ("541312140", "user_id", "view")
    assert (row["session_id"], row["channel"], row["region"]) == ("s-1", "web", "KR")
    assert row["us"] == us("2019-10-01T00:00:00")
    assert json.loads(row["properties"]) == {"brand": "shiseido"}


def test_semicolon_separated_csv_is_sniffed_from_the_header(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(tmp_path / "de.csv", "cust;when;what;betrag\nc1;01.10.2019 10:00;kauf;3,50\n")
    report = import_source(ws, source, options=ImportOptions(actor="cust", ts="when", event="what"))
    probe.accounted(ws, report)
    (row,) = events_of(probe, ws)
    # DD.MM.YYYY is read as day.month; "3,50" is not a JSON number, so it stays text
    assert row["us"] == us("2019-10-01T10:00:00")
    assert json.loads(row["properties"]) == {"betrag": "3,50"}


def test_a_mapping_file_maps_columns_and_sets_constants(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "tills.csv",
        "household,sold_at,basket,store,qty\nh1,2017-01-01 11:53:26,b1,330,2\n",
    )
    mapping = write(
        tmp_path / "tills.yaml",
        "actor: household\nactor_kind: household_id\nts: sold_at\nevent: {value: purchase}\n"
        "channel: {value: store}\ntimezone: America/Chicago\nproperties: [basket, qty]\n",
    )
    report = import_source(ws, source, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    (row,) = events_of(probe, ws)
    assert (row["actor_id"], row["actor_kind"], row["event"], row["channel"]) == (
        "h1",
        "household_id",
        "purchase",
        "store",
    )
    # 11:53:26 in Chicago in January is CST (UTC-6) = 17:53:26Z
    assert row["us"] == us("2017-01-01T17:53:26")
    assert row["source_tz"] == "America/Chicago"
    assert json.loads(row["properties"]) == {"basket": "b1", "qty": 2}


def test_flags_win_over_the_mapping_file(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(tmp_path / "e.csv", "a,b,t,e\nx,y,2024-01-01,view\n")
    mapping = write(tmp_path / "m.yaml", "actor: a\nts: t\nevent: e\n")
    report = import_source(ws, source, options=ImportOptions(mapping=mapping, actor="b"))
    probe.accounted(ws, report)
    (row,) = events_of(probe, ws)
    assert row["actor_id"] == "y"
    assert json.loads(row["properties"]) == {"a": "x"}


# --- Parquet and JSONL --------------------------------------------------------------


def test_parquet_keeps_types_in_properties_and_reads_naive_times_in_the_zone(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "customer_id": pa.array([7, 8], pa.int64()),
            "timestamp": pa.array([datetime(2021, 7, 1, 12, 0), datetime(2021, 1, 1, 12, 0)]),
            "event": ["open", "close"],
            "amount": [1.5, None],
            "first": [True, False],
            "day": [date(2021, 7, 1), date(2021, 1, 1)],
            "tags": [["a", "b"], []],
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    options = ImportOptions(timezone="Europe/Berlin")
    report = import_source(ws, tmp_path / "e.parquet", options=options)
    probe.accounted(ws, report)
    rows = events_of(probe, ws)
    # Berlin is UTC+2 in July (CEST) and UTC+1 in January (CET)
    assert [(r["actor_id"], r["us"]) for r in rows] == [
        ("7", us("2021-07-01T10:00:00")),
        ("8", us("2021-01-01T11:00:00")),
    ]
    assert [json.loads(r["properties"]) for r in rows] == [
        {"amount": 1.5, "day": "2021-07-01", "first": True, "tags": ["a", "b"]},
        {"day": "2021-01-01", "first": False, "tags": []},
    ]


def test_jsonl_lines_keep_their_json_values_and_line_numbers(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "e.jsonl",
        '{"user_id": 42, "ts": "2024-03-01T10:00:00Z", "event": "signup", '
        '"ctx": {"page": "/", "ab": [1, 2]}, "plan": null}\n'
        "\n"
        '{"user_id": "u\\"7", "ts": 1709287200000, "event": "login"}\n'
        "[1, 2]\n"
        '{"user_id": "u8", "ts": "yesterday", "event": "login"}\n',
    )
    report = import_source(ws, source)
    probe.accounted(ws, report)
    # 4 non-blank lines: two events, line 4 is not an object, line 5 has a bad time
    assert (report.rows_read, report.rows_loaded) == (4, 2)
    assert report.quarantined_by_reason == {"bad_json": 1, "bad_timestamp": 1}
    kept = probe.query(ws, "SELECT row_number, reason FROM quarantine ORDER BY row_number")
    assert [(k["row_number"], k["reason"]) for k in kept] == [(4, "bad_json"), (5, "bad_timestamp")]
    rows = events_of(probe, ws)
    # 1709287200000 ms = 2024-03-01T10:00:00Z
    assert [(r["actor_id"], r["us"]) for r in rows] == [
        ("42", us("2024-03-01T10:00:00")),
        ('u"7', us("2024-03-01T10:00:00")),
    ]
    assert json.loads(rows[0]["properties"]) == {"ctx": {"ab": [1, 2], "page": "/"}}
    assert rows[1]["properties"] is None


# --- ids, duplicates, order ---------------------------------------------------------


def test_derived_ids_are_stable_and_tell_identical_rows_apart(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    first = write(
        tmp_path / "a.csv",
        "cust,when,what\nc1,2024-01-01T00:00:00Z,view\nc1,2024-01-01T00:00:00Z,view\n"
        "c2,2024-01-02T00:00:00Z,buy\n",
    )
    # a later export overlapping the first: the same three rows (reordered) and one new one
    second = write(
        tmp_path / "b.csv",
        "what,cust,when\nbuy,c2,2024-01-02T00:00:00Z\nview,c1,2024-01-01T00:00:00Z\n"
        "view,c1,2024-01-01T00:00:00Z\nview,c3,2024-01-03T00:00:00Z\n",
    )
    options = ImportOptions(actor="cust", ts="when", event="what")
    one = import_source(ws, first, options=options)
    probe.accounted(ws, one)
    assert one.events_loaded == 3  # the repeated view is a second view, not a duplicate
    ids = [r["event_id"] for r in events_of(probe, ws)]
    assert ids[0] + ".2" == ids[1] and re.fullmatch(r"e[0-9a-f]{24}", ids[0])
    two = import_source(ws, second, options=options)
    probe.accounted(ws, two)
    assert (two.rows_read, two.rows_loaded, two.duplicates_skipped, two.events_loaded) == (
        4,
        4,
        3,
        1,
    )
    assert probe.count(ws, "events") == 4


def test_events_stay_clustered_by_actor_time_and_id_across_imports(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    options = ImportOptions(actor="cust", ts="when", event="what")
    a = write(tmp_path / "a.csv", "cust,when,what\nz,2024-01-02,b\na,2024-01-03,c\n")
    b = write(
        tmp_path / "b.csv", "cust,when,what\nm,2024-01-01,a\na,2024-01-01,d\nz,2024-01-01,e\n"
    )
    for source in (a, b):
        probe.accounted(ws, import_source(ws, source, options=options))
    stored = probe.query(ws, "SELECT actor_id, event FROM events ORDER BY rowid")
    # stored order = (actor, ts): a 01-01 d, a 01-03 c, m 01-01 a, z 01-01 e, z 01-02 b
    assert [(r["actor_id"], r["event"]) for r in stored] == [
        ("a", "d"),
        ("a", "c"),
        ("m", "a"),
        ("z", "e"),
        ("z", "b"),
    ]


def test_small_imports_append_in_order_and_the_table_is_resorted_past_a_share(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    options = ImportOptions(actor="c", ts="t", event="e")
    big = "".join(f"b{i:02d},2024-01-02,x\n" for i in range(20))
    probe.accounted(
        ws, import_source(ws, write(tmp_path / "a.csv", "c,t,e\n" + big), options=options)
    )

    def stored() -> list[str]:
        return [
            r["actor_id"] for r in probe.query(ws, "SELECT actor_id FROM events ORDER BY rowid")
        ]

    # 1 new event next to 20: 1/21 = 4.8% unsorted, under the 10% share, so it is
    # appended (sorted within its batch) after the sorted rest
    one = write(tmp_path / "b.csv", "c,t,e\na00,2024-01-01,y\n")
    probe.accounted(ws, import_source(ws, one, options=options))
    assert stored() == [f"b{i:02d}" for i in range(20)] + ["a00"]
    # 2 more: 3 of 23 = 13% appended since the last sort, so the table is rewritten in order
    two = write(tmp_path / "c.csv", "c,t,e\na01,2024-01-01,y\nc00,2024-01-01,y\n")
    probe.accounted(ws, import_source(ws, two, options=options))
    assert stored() == ["a00", "a01"] + [f"b{i:02d}" for i in range(20)] + ["c00"]


def test_the_dictionary_gives_event_names_and_channels_stable_small_codes(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    options = ImportOptions(actor="c", ts="t", event="e")
    a = write(tmp_path / "a.csv", "c,t,e,channel\nx,2024-01-01,view,web\nx,2024-01-02,buy,app\n")
    b = write(tmp_path / "b.csv", "c,t,e,channel\ny,2024-01-01,cart,web\ny,2024-01-02,view,store\n")
    probe.accounted(ws, import_source(ws, a, options=options))
    before = probe.query(ws, "SELECT * FROM dictionary ORDER BY field, code")
    # first import: events buy=1, view=2 (sorted); channels app=1, web=2
    assert [(r["field"], r["value"], r["code"]) for r in before] == [
        ("channel", "app", 1),
        ("channel", "web", 2),
        ("event", "buy", 1),
        ("event", "view", 2),
    ]
    probe.accounted(ws, import_source(ws, b, options=options))
    after = probe.query(ws, "SELECT * FROM dictionary ORDER BY field, code")
    # existing codes never change; cart and store come next
    assert [(r["field"], r["value"], r["code"]) for r in after] == [
        ("channel", "app", 1),
        ("channel", "web", 2),
        ("channel", "store", 3),
        ("event", "buy", 1),
        ("event", "view", 2),
        ("event", "cart", 3),
    ]


# --- streaming ----------------------------------------------------------------------


def test_a_large_csv_streams_in_chunks_of_bounded_size(
    ws: Any, probe: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, chunk_rows = 20_000, 700
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8") as out:
        out.write("cust,when,what,n\n")
        for i in range(rows):
            when = "" if i % 1000 == 999 else f"2024-01-01T00:00:{i % 60:02d}Z"
            out.write(f"c{i % 97},{when},e{i % 5},{i}\n")
    seen: list[int] = []
    arrow_bytes: list[int] = []
    original = tabular.read_csv

    def watched(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
        for chunk in original(path, options):
            seen.append(chunk.rows_read)
            arrow_bytes.append(pa.total_allocated_bytes())
            yield chunk

    monkeypatch.setattr(tabular, "read_csv", watched)
    options = ImportOptions(actor="cust", ts="when", event="what", chunk_rows=chunk_rows)
    report = import_source(ws, source, options=options)
    probe.accounted(ws, report)
    # 20,000 rows in chunks of at most 700: 28 full chunks and one of 400
    assert max(seen) == chunk_rows and len(seen) == 29 and sum(seen) == rows
    # every 1000th row has no time: 20 quarantined, the rest loaded
    assert (report.rows_loaded, report.rows_quarantined) == (19_980, 20)
    assert report.quarantined_by_reason == {"missing_timestamp": 20}
    # Arrow memory held while reading stays that of a chunk or two: it does not grow
    # from the first chunks to the last, and stays far below the file's size (a version
    # that kept every chunk until commit reached 1.7 MB here, 2.5x this 0.67 MB file)
    assert max(arrow_bytes[-5:]) <= 2 * max(arrow_bytes[:3])
    assert max(arrow_bytes) < source.stat().st_size / 3


# --- properties and timestamps against small pure-Python references -----------------

_NUMBER = re.compile(r"-?(?:0|[1-9]\d{0,14})(?:\.\d+)?(?:[eE][+-]?\d{1,3})?", re.ASCII)


def _reference_properties(row: dict[str, str]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value == "":
            continue
        out[key] = json.loads(value) if _NUMBER.fullmatch(value) else value
    return out or None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["a", "b", "c d", "é", 'x"y']),
            st.one_of(
                st.text(max_size=6),
                st.integers(-(10**6), 10**6).map(str),
                st.sampled_from(["007", "1e5", "-0.25", "1.", ".5", "3,5", "\\", "\n\t\x01"]),
            ),
            min_size=5,
            max_size=5,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_csv_properties_match_a_pure_python_reference(rows: list[dict[str, str]]) -> None:
    names = ["a", "b", "c d", "é", 'x"y']
    table = pa.table({n: pa.array([r[n] for r in rows], pa.string()) for n in names})
    chunk = SourceChunk("csv", "text", tuple(names), table, None, None, [], len(rows), 0)
    built = build_properties(chunk, names).to_pylist()
    assert [None if b is None else json.loads(b) for b in built] == [
        _reference_properties(r) for r in rows
    ]


_ZONES = ["UTC", "Asia/Seoul", "America/New_York", "Europe/Berlin", "America/Sao_Paulo"]


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    zone=st.sampled_from(_ZONES),
    offset_minutes=st.one_of(st.none(), st.sampled_from([0, 540, -300, 330, -570])),
    separator=st.sampled_from(["T", " "]),
    micros=st.booleans(),
)
def test_timestamps_match_python_datetime(
    moment: datetime, zone: str, offset_minutes: int | None, separator: str, micros: bool
) -> None:
    moment = moment if micros else moment.replace(microsecond=0)
    text = moment.isoformat(sep=separator)
    if offset_minutes is None:
        local = moment.replace(tzinfo=ZoneInfo(zone))
        # a local time skipped by a clock change has no reading to compare with
        round_trip = local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        if round_trip != moment:
            return
        expected, label = local.astimezone(UTC), zone
    else:
        sign = "+" if offset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        label = f"{sign}{hours:02d}:{minutes:02d}"
        text += label
        expected = moment.replace(tzinfo=UTC) - timedelta(minutes=offset_minutes)
        label = "UTC" if offset_minutes == 0 else label
    parsed = parse_timestamps(pa.array([text]), timezone=zone)
    assert parsed.ts.to_pylist()[0] == expected
    assert parsed.source_tz.to_pylist() == [label]
    assert not parsed.bad.any() and not parsed.missing.any()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T09:30:00Z", "2024-05-01T09:30:00"),
        ("2024-05-01 09:30:00 UTC", "2024-05-01T09:30:00"),
        ("2024-05-01T09:30:00.250+0200", "2024-05-01T07:30:00.250"),
        ("2024/05/01 09:30", "2024-05-01T09:30:00"),
        ("01.05.2024", "2024-05-01T00:00:00"),
        ("Wed, 01 May 2024 09:30:00 +0900", "2024-05-01T00:30:00"),
        ("1714555800", "2024-05-01T09:30:00"),
        ("1714555800500", "2024-05-01T09:30:00.500"),
    ],
)
def test_common_timestamp_forms_are_understood(text: str, expected: str) -> None:
    parsed = parse_timestamps(pa.array([text]))
    assert parsed.ts.to_pylist()[0] == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_day_month_order_needs_a_format_and_then_reads_as_told() -> None:
    assert parse_timestamps(pa.array(["01/05/2024"])).bad.tolist() == [True]
    parsed = parse_timestamps(pa.array(["01/05/2024 10:00"]), fmt="%d/%m/%Y %H:%M")
    assert parsed.ts.to_pylist()[0] == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_clock_changes_are_resolved_and_counted() -> None:
    # Berlin 2021: 02:30 on 28 March never happened (clocks 02:00 -> 03:00), 02:30 on
    # 31 October happened twice (03:00 -> 02:00)
    parsed = parse_timestamps(
        pa.array(["2021-03-28 02:30", "2021-10-31 02:30"]), timezone="Europe/Berlin"
    )
    assert (parsed.nonexistent, parsed.ambiguous) == (1, 1)
    assert parsed.ts.to_pylist() == [
        datetime(2021, 3, 28, 1, 0, tzinfo=UTC),  # moved to 03:00 CEST
        datetime(2021, 10, 31, 0, 30, tzinfo=UTC),  # the earlier 02:30, CEST (UTC+2)
    ]
