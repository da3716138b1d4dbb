"""Files already in the event contract's shape import as they are: the demo company's
Parquet through ``import_source`` and ``journeymap import``, hand-made CSV and JSONL with
bad rows, and the errors that say what a file lacks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.errors import DataImportError
from journeymap.io.importers.base import ImportOptions
from journeymap.io.importers.registry import detect_format
from journeymap.io.workspace import import_source, open_workspace

TABLES = ("events", "identity_links", "feedback")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo company's contract-shaped Parquet files (300 customers)."""
    from journeymap.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, customers=300)
    return folder


def _file_rows(path: Path, columns: list[str]) -> list[tuple[Any, ...]]:
    table = pq.read_table(path, columns=columns)
    return sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True), key=repr)


def _payment_methods_in(path: Path) -> int:
    """Events whose properties name a payment method, counted from the file itself."""
    texts = pq.read_table(path, columns=["properties"]).column("properties").to_pylist()
    return sum(
        1 for t in texts if t is not None and json.loads(t).get("payment_method") is not None
    )


# --- the demo company's files -----------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_demo_files_are_detected_as_contract_files(demo: Path, table: str) -> None:
    assert detect_format(demo / f"{table}.parquet") == "contract"


def test_other_files_keep_the_format_of_their_name(tmp_path: Path) -> None:
    (tmp_path / "clicks.csv").write_text("customer,when,what\nc1,2024-01-01,view\n")
    assert detect_format(tmp_path / "clicks.csv") == "csv"
    assert detect_format(tmp_path / "missing.parquet") == "parquet"


def test_demo_events_keep_ids_kinds_zones_and_properties(ws: Any, probe: Any, demo: Path) -> None:
    path = demo / "events.parquet"
    report = import_source(ws, path, progress=False)
    probe.accounted(ws, report)
    rows = pq.read_metadata(path).num_rows
    assert report.format == "contract"
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (rows, rows, 0)
    assert report.events_loaded == rows
    columns = ["event_id", "actor_id", "actor_kind", "event", "channel", "region", "source_tz"]
    stored = probe.query(ws, f"SELECT {', '.join(columns)} FROM events")
    assert sorted((tuple(r[c] for c in columns) for r in stored), key=repr) == _file_rows(
        path, columns
    )
    # properties are the JSON objects of the file, not a string inside another object
    file_props = dict(_file_rows(path, ["event_id", "properties"]))
    kept = probe.query(ws, "SELECT event_id, CAST(properties AS VARCHAR) AS p FROM events")
    assert {r["event_id"]: json.loads(r["p"]) for r in kept} == {
        k: json.loads(v) for k, v in file_props.items()
    }


def test_a_property_query_counts_what_the_file_holds(ws: Any, probe: Any, demo: Path) -> None:
    path = demo / "events.parquet"
    import_source(ws, path, progress=False)
    expected = _payment_methods_in(path)
    assert expected > 0  # the demo's checkout events name how customers paid
    found = probe.count(
        ws, "events", "WHERE json_extract_string(properties, '$.payment_method') IS NOT NULL"
    )
    assert found == expected
    by_ibis = ws.table("events").filter(lambda t: t.properties["payment_method"].notnull()).count()
    assert int(ws.con.execute(by_ibis)) == expected


def test_demo_identity_links_load_once_per_distinct_link(ws: Any, probe: Any, demo: Path) -> None:
    path = demo / "identity_links.parquet"
    report = import_source(ws, path, progress=False)
    probe.accounted(ws, report)
    rows = pq.read_metadata(path).num_rows
    links = _file_rows(path, ["id_a", "kind_a", "id_b", "kind_b"])
    distinct = set(links)
    assert (report.rows_read, report.rows_loaded) == (rows, rows)
    # a link the file repeats is written once; the repeats are counted in the notes
    assert report.identity_links_loaded == len(distinct)
    assert report.notes.get("identity_links_already_known", 0) == rows - len(distinct)
    stored = probe.query(ws, "SELECT id_a, kind_a, id_b, kind_b FROM identity_links")
    assert {tuple(r.values()) for r in stored} == distinct


def test_demo_feedback_keeps_ids_scales_and_scores(ws: Any, probe: Any, demo: Path) -> None:
    path = demo / "feedback.parquet"
    report = import_source(ws, path, progress=False)
    probe.accounted(ws, report)
    rows = pq.read_metadata(path).num_rows
    assert (report.rows_read, report.feedback_loaded, report.rows_quarantined) == (rows, rows, 0)
    columns = ["feedback_id", "actor_id", "actor_kind", "scale", "score", "text", "lang", "about"]
    stored = probe.query(ws, f"SELECT {', '.join(columns)} FROM feedback")
    assert sorted((tuple(r[c] for c in columns) for r in stored), key=repr) == _file_rows(
        path, columns
    )


@pytest.mark.parametrize("table", TABLES)
def test_importing_a_contract_file_twice_loads_nothing_new(
    ws: Any, probe: Any, demo: Path, table: str
) -> None:
    path = demo / f"{table}.parquet"
    first = import_source(ws, path, progress=False)
    before = probe.count(ws, table)
    again = import_source(ws, path, options=ImportOptions(chunk_rows=500), progress=False)
    assert again.already_imported and again.rows_read == 0
    assert again.batch == first.batch
    assert probe.count(ws, table) == before


def test_the_same_events_written_as_csv_are_all_already_there(
    ws: Any, probe: Any, demo: Path, tmp_path: Path
) -> None:
    path = demo / "events.parquet"
    import_source(ws, path, progress=False)
    copy = tmp_path / "events.csv"
    pacsv.write_csv(pq.read_table(path), copy)
    report = import_source(ws, copy, options=ImportOptions(chunk_rows=1000), progress=False)
    probe.accounted(ws, report)
    rows = pq.read_metadata(path).num_rows
    assert report.format == "contract"
    # the ids came with the events, so every one is already in the workspace
    assert (report.rows_loaded, report.duplicates_skipped, report.events_loaded) == (rows, rows, 0)


def test_journeymap_import_loads_the_demo_files_as_they_are(demo: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "shop"
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    files = [str(demo / f"{t}.parquet") for t in TABLES]
    result = runner.invoke(app, ["import", *files, "-w", str(folder), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.output.count("(contract)") == 3
    with open_workspace(folder) as ws:
        counts = {t: int(ws.con.raw_sql(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
        kinds = Counter(r[0] for r in ws.con.raw_sql("SELECT actor_kind FROM events").fetchall())
        paying = ws.con.raw_sql(
            "SELECT count(*) FROM events WHERE "
            "json_extract_string(properties, '$.payment_method') IS NOT NULL"
        ).fetchone()[0]
    assert counts["events"] == pq.read_metadata(demo / "events.parquet").num_rows
    assert counts["feedback"] == pq.read_metadata(demo / "feedback.parquet").num_rows
    assert counts["identity_links"] == len(
        set(_file_rows(demo / "identity_links.parquet", ["id_a", "kind_a", "id_b", "kind_b"]))
    )
    file_kinds = Counter(pq.read_table(demo / "events.parquet").column("actor_kind").to_pylist())
    assert kinds == file_kinds
    assert paying == _payment_methods_in(demo / "events.parquet")
    again = runner.invoke(app, ["import", *files, "-w", str(folder), "--format", "contract"])
    assert again.exit_code == 0, again.output
    assert again.output.count("already imported") == 3


# --- hand-made files with bad rows ----------------------------------------------------

EVENTS_CSV = (
    "event_id,actor_id,actor_kind,ts,event,properties\n"
    'e1,c1,customer_id,2024-01-01T12:00:00+09:00,view,"{""method"": ""card""}"\n'  # 2: loads
    "e2,c1,customer_id,yesterday,cart,{}\n"  # 3: bad_timestamp
    'e3,c2,customer_id,2024-01-01 11:00:00,buy,"{""method"": card}"\n'  # 4: bad_json
    'e4,c2,customer_id,2024-01-01 12:00:00,pay,"[1, 2]"\n'  # 5: bad_json (a list)
    "e5,,customer_id,2024-01-01T12:00:00Z,view,\n"  # 6: missing_actor
    "e6,c3,user_id,2024-01-01 13:00:00,view,\n"  # 7: loads, no properties
)


def test_csv_rows_with_a_bad_time_or_bad_json_are_quarantined_by_line(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS_CSV, encoding="utf-8")
    report = import_source(ws, path, progress=False)
    probe.accounted(ws, report)
    # six data lines: two load (2, 7), four are kept (3, 4, 5, 6)
    assert report.format == "contract"
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (6, 2, 4)
    assert report.quarantined_by_reason == {"bad_json": 2, "bad_timestamp": 1, "missing_actor": 1}
    kept = probe.query(ws, "SELECT row_number, reason, detail, raw FROM quarantine ORDER BY 1")
    assert [(r["row_number"], r["reason"]) for r in kept] == [
        (3, "bad_timestamp"),
        (4, "bad_json"),
        (5, "bad_json"),
        (6, "missing_actor"),
    ]
    assert kept[0]["detail"].startswith("events.csv:3: ts is not an ISO 8601 time ('yesterday')")
    assert kept[1]["detail"].startswith("events.csv:4: properties is not JSON")
    assert kept[2]["detail"].startswith("events.csv:5: properties is a JSON list, not an object")
    assert kept[3]["detail"].startswith("events.csv:6: no value for actor (actor_id)")
    assert kept[1]["raw"] == 'e3,c2,customer_id,2024-01-01 11:00:00,buy,"{""method"": card}"'
    loaded = probe.query(
        ws,
        "SELECT event_id, actor_kind, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') AS t, "
        "source_tz, CAST(properties AS VARCHAR) AS p, channel FROM events ORDER BY event_id",
    )
    # 12:00 at +09:00 is 03:00 UTC; a time without an offset is UTC
    assert [(r["event_id"], r["actor_kind"], r["t"], r["source_tz"]) for r in loaded] == [
        ("e1", "customer_id", "2024-01-01 03:00", "+09:00"),
        ("e6", "user_id", "2024-01-01 13:00", "UTC"),
    ]
    assert json.loads(loaded[0]["p"]) == {"method": "card"}
    assert loaded[1]["p"] is None and loaded[0]["channel"] is None


def test_jsonl_events_keep_object_and_text_properties(ws: Any, probe: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        {"actor_id": "c1", "actor_kind": "user_id", "ts": "2024-01-01T10:00:00Z",
         "event": "pay", "properties": {"payment_method": "card", "amount": 12.5}},
        {"actor_id": "c2", "actor_kind": "user_id", "ts": "2024-01-01T11:00:00Z",
         "event": "pay", "properties": json.dumps({"payment_method": "cash"})},
        {"actor_id": "c3", "actor_kind": "user_id", "ts": "2024-01-01T12:00:00Z",
         "event": "view", "properties": "{not json"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines) + "\n{broken\n"
    path.write_text(text, encoding="utf-8")
    report = import_source(ws, path, progress=False)
    probe.accounted(ws, report)
    # four lines: two load; line 3's properties and line 4 itself are not JSON
    assert report.format == "contract"
    assert (report.rows_read, report.rows_loaded) == (4, 2)
    assert report.quarantined_by_reason == {"bad_json": 2}
    kept = probe.query(ws, "SELECT row_number FROM quarantine ORDER BY 1")
    assert [r["row_number"] for r in kept] == [3, 4]
    stored = probe.query(
        ws,
        "SELECT actor_id, json_extract_string(properties, '$.payment_method') AS m, "
        "CAST(json_extract(properties, '$.amount') AS DOUBLE) AS amount FROM events ORDER BY 1",
    )
    assert [(r["actor_id"], r["m"], r["amount"]) for r in stored] == [
        ("c1", "card", 12.5),
        ("c2", "cash", None),
    ]


def test_contract_links_and_feedback_csv_quarantine_what_cannot_load(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    links = tmp_path / "links.csv"
    links.write_text(
        "id_a,kind_a,id_b,kind_b,ts\n"
        "a1,anonymous_id,c1,customer_id,2024-01-01T10:00:00Z\n"  # 2: loads
        "a2,anonymous_id,c2,customer_id,\n"  # 3: loads (a link may have no time)
        "a3,,c3,customer_id,2024-01-01T10:00:00Z\n",  # 4: missing_kind
        encoding="utf-8",
    )
    report = import_source(ws, links, progress=False)
    probe.accounted(ws, report)
    assert (report.rows_read, report.rows_loaded, report.identity_links_loaded) == (3, 2, 2)
    assert report.quarantined_by_reason == {"missing_kind": 1}
    feedback = tmp_path / "answers.csv"
    feedback.write_text(
        "feedback_id,actor_id,actor_kind,ts,scale,score,text\n"
        "f1,c1,customer_id,2024-01-02T10:00:00Z,csat,4,fine\n"  # 2: loads
        "f2,c1,customer_id,2024-01-02T11:00:00Z,csat,four,\n"  # 3: bad_score
        "f3,c2,customer_id,2024-01-02T12:00:00Z,text,,slow delivery\n",  # 4: loads, no score
        encoding="utf-8",
    )
    report = import_source(ws, feedback, progress=False)
    probe.accounted(ws, report)
    assert (report.rows_read, report.feedback_loaded) == (3, 2)
    assert report.quarantined_by_reason == {"bad_score": 1}
    stored = probe.query(ws, "SELECT feedback_id, score, text FROM feedback ORDER BY 1")
    assert [tuple(r.values()) for r in stored] == [
        ("f1", 4.0, "fine"),
        ("f3", None, "slow delivery"),
    ]


# --- what a file lacks, and options that do not apply -----------------------------------


def test_contract_format_names_the_columns_a_file_lacks(ws: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("actor_id,ts,event\nc1,2024-01-01T10:00:00Z,view\n", encoding="utf-8")
    with pytest.raises(DataImportError) as caught:
        import_source(ws, path, fmt="contract", progress=False)
    message = str(caught.value)
    assert "columns are: actor_id, ts, event" in message
    assert "events: actor_id, actor_kind, ts, event, properties" in message
    assert int(ws.con.raw_sql("SELECT count(*) FROM imports").fetchone()[0]) == 0


def test_column_options_on_a_contract_file_point_to_the_tabular_format(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS_CSV, encoding="utf-8")
    with pytest.raises(DataImportError, match=r"--actor does not apply.*--format csv"):
        import_source(ws, path, options=ImportOptions(actor="actor_id"), progress=False)
    # asked for by name, the tabular reader maps the same file column by column
    report = import_source(
        ws, path, fmt="csv", options=ImportOptions(actor="actor_id"), progress=False
    )
    assert report.format == "csv" and report.rows_read == 6
    assert probe.count(ws, "events") == report.events_loaded


def test_properties_of_another_type_quarantine_their_rows(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "actor_id": ["c1", "c2"],
            "actor_kind": ["user_id", "user_id"],
            "ts": pa.array([1_704_103_200_000_000] * 2, pa.timestamp("us", tz="UTC")),
            "event": ["view", "view"],
            "properties": pa.array([None, 5], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    report = import_source(ws, tmp_path / "events.parquet", progress=False)
    probe.accounted(ws, report)
    # row 1 has no properties (loads), row 2 holds a number where an object belongs
    assert (report.rows_loaded, report.quarantined_by_reason) == (1, {"bad_json": 1})


def test_struct_properties_become_json_objects(ws: Any, probe: Any, tmp_path: Path) -> None:
    table = pa.table(
        {
            "actor_id": ["c1"],
            "actor_kind": ["user_id"],
            "ts": pa.array([1_704_103_200_000_000], pa.timestamp("us", tz="UTC")),
            "event": ["pay"],
            "properties": pa.array([{"payment_method": "card", "amount": 3}]),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    report = import_source(ws, tmp_path / "events.parquet", progress=False)
    probe.accounted(ws, report)
    stored = probe.query(ws, "SELECT CAST(properties AS VARCHAR) AS p FROM events")
    assert json.loads(stored[0]["p"]) == {"payment_method": "card", "amount": 3}
