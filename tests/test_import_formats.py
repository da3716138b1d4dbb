"""The event-format readers: Segment, GA4, Snowplow, XES and OCEL.

Hand-worked cases on the fixtures in tests/fixtures/formats (the working is in the
comments), and real logs from ../shared/data/process_logs checked against counts
computed here independently (gzip + ElementTree, csv, json), never with the readers.
Every read goes through :func:`run`, which asserts ``rows_read == rows_loaded +
quarantined`` for every chunk.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from journeymap.analytics.events import EVENTS, IDENTITY_LINKS
from journeymap.errors import DataImportError
from journeymap.io.importers._common import JsonStream, Occurrences
from journeymap.io.importers.base import EVENTS_ARROW, LINKS_ARROW, ImportChunk, ImportOptions
from journeymap.io.importers.ga4 import read_ga4
from journeymap.io.importers.ocel import read_ocel
from journeymap.io.importers.segment import read_segment
from journeymap.io.importers.snowplow import ENRICHED_COLUMNS, read_snowplow
from journeymap.io.importers.xes import read_xes

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
PROCESS_LOGS = Path(__file__).parents[1].parent / "shared" / "data" / "process_logs"

ReaderFn = Callable[[Path, ImportOptions], Iterator[ImportChunk]]


@dataclass(frozen=True)
class Result:
    """Everything a reader yielded for one file, gathered over its chunks."""

    chunks: list[ImportChunk]
    events: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    links: set[tuple[str, str, str, str]]
    rows_read: int
    rows_loaded: int
    notes: Counter[str]

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {e["event_id"]: e for e in self.events}

    def reasons(self) -> dict[int, str]:
        return {q["row_number"]: q["reason"] for q in self.quarantine}


def run(reader: ReaderFn, path: Path, **options: Any) -> Result:
    """Read ``path`` whole, checking the row accounting and the schema of every chunk."""
    chunks = list(reader(path, ImportOptions(**options)))
    events: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    links: set[tuple[str, str, str, str]] = set()
    notes: Counter[str] = Counter()
    for chunk in chunks:
        assert chunk.rows_read == chunk.rows_loaded + chunk.quarantine.num_rows
        assert chunk.events.schema == EVENTS_ARROW
        rows = chunk.events.to_pylist()
        for row in rows:
            row["properties"] = json.loads(row["properties"])
        events += rows
        quarantine += chunk.quarantine.to_pylist()
        if chunk.identity_links is not None:
            assert chunk.identity_links.schema == LINKS_ARROW
            links |= {
                (r["id_a"], r["kind_a"], r["id_b"], r["kind_b"])
                for r in chunk.identity_links.to_pylist()
            }
        notes.update(chunk.notes)
    rows_read = sum(c.rows_read for c in chunks)
    rows_loaded = sum(c.rows_loaded for c in chunks)
    assert rows_read == rows_loaded + len(quarantine)
    return Result(chunks, events, quarantine, links, rows_read, rows_loaded, notes)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared real-data folder is absent)")
    return path


# --- the contract -------------------------------------------------------------------


def test_reader_schemas_are_the_contract_tables_without_source() -> None:
    # Independent of the readers: the ibis contract in analytics/events.py.
    contract = [n for n in EVENTS.names if n != "source"]
    assert [n for n in EVENTS_ARROW.names if n != "row_number"] == contract
    assert LINKS_ARROW.names == [n for n in IDENTITY_LINKS.names if n != "source"]


# --- Segment ------------------------------------------------------------------------

SEGMENT = FIXTURES / "segment.jsonl"
SEGMENT_BATCH = FIXTURES / "segment_batch.json"


def test_segment_accounts_for_every_message_line() -> None:
    # 11 lines, line 9 blank (not a row) → 10 rows. Loaded: lines 1, 2, 7, 8, 10.
    result = run(read_segment, SEGMENT)
    assert (result.rows_read, result.rows_loaded) == (10, 5)
    assert result.reasons() == {
        3: "duplicate_message_id",
        4: "bad_json",
        5: "missing_actor",
        6: "missing_timestamp",
        11: "bad_timestamp",
    }
    assert sorted(result.by_id()) == ["m1", "m10", "m2", "m7", "m8"]


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        # receivedAt 10:00:31 − (sentAt 10:05:30 − timestamp 10:05:00 = 30 s) = 10:00:01
        ("m1", "2024-05-01T10:00:01+00:00"),
        # no sentAt/receivedAt: the client time as written, 19:10+09:00 = 10:10 UTC
        ("m2", "2024-05-01T10:10:00+00:00"),
        # receivedAt 10:20:03.5 − (sentAt 10:20:02 − timestamp 10:20:00 = 2 s) = 10:20:01.5
        ("m7", "2024-05-01T10:20:01.500+00:00"),
        # originalTimestamp is the device time: 10:29:50 − (10:30:10 − 10:30:00) = 10:29:40
        ("m10", "2024-05-01T10:29:40+00:00"),
    ],
)
def test_segment_corrects_device_clock_skew(message_id: str, expected: str) -> None:
    assert run(read_segment, SEGMENT).by_id()[message_id]["ts"] == utc(expected)


def test_segment_clock_skew_correction_can_be_turned_off() -> None:
    events = run(read_segment, SEGMENT, extra={"clock_skew": "false"}).by_id()
    assert events["m1"]["ts"] == utc("2024-05-01T10:05:00+00:00")
    assert events["m2"]["source_tz"] == "+09:00"


def test_segment_batch_sent_at_applies_to_its_messages() -> None:
    # b1: receivedAt 11:59:00 − (batch sentAt 12:00:30 − timestamp 12:00:00) = 11:58:30
    # b3: receivedAt 11:59:50 − (12:00:30 − 12:00:20) = 11:59:40
    result = run(read_segment, SEGMENT_BATCH)
    events = result.by_id()
    assert events["b1"]["ts"] == utc("2024-06-01T11:58:30+00:00")
    assert events["b3"]["ts"] == utc("2024-06-01T11:59:40+00:00")
    assert events["b3"]["event"] == "group"
    assert events["b3"]["properties"]["group_id"] == "g1"
    assert result.reasons() == {2: "duplicate_message_id"}


def test_segment_names_actors_and_channels() -> None:
    events = run(read_segment, SEGMENT).by_id()
    got = {
        k: (e["event"], e["actor_id"], e["actor_kind"], e["channel"], e["region"])
        for k, e in events.items()
    }
    assert got == {
        "m1": ("Product Viewed", "a1", "anonymous_id", "cpc/google", "KR"),
        "m2": ("identify", "u1", "user_id", None, None),
        "m7": ("page", "u1", "user_id", "web", None),
        "m8": ("alias", "u1", "user_id", None, None),
        "m10": ("Order Completed", "u1", "user_id", None, None),
    }
    assert events["m7"]["properties"]["name"] == "Checkout"
    assert events["m1"]["properties"]["context"]["page"] == {"path": "/backpacks"}
    assert "ip" not in json.dumps(events["m1"]["properties"])


def test_segment_links_anonymous_user_alias_and_email_identities() -> None:
    email = sha256("carla@example.com")  # " Carla@Example.COM " trimmed and lower-cased
    assert run(read_segment, SEGMENT).links == {
        ("a1", "anonymous_id", "u1", "user_id"),  # identify m2 (and again on m10)
        ("u1", "user_id", email, "email_hash"),  # context.traits.email of m2
        ("a2", "anonymous_id", "u1", "user_id"),  # alias m8
    }


def test_segment_never_stores_a_raw_email_address() -> None:
    result = run(read_segment, SEGMENT)
    stored = json.dumps([e["properties"] for e in result.events]) + json.dumps(
        [q["raw"] for q in result.quarantine]
    )
    assert "@example" not in stored.lower()
    assert result.by_id()["m10"]["properties"]["email_hash"] == sha256("carla@example.com")
    bad_line = next(q for q in result.quarantine if q["row_number"] == 4)
    assert "sha256:" + sha256("jo@example.org") in bad_line["raw"]


def test_segment_bad_json_is_quarantined_with_its_line_number() -> None:
    bad = next(q for q in run(read_segment, SEGMENT).quarantine if q["reason"] == "bad_json")
    assert bad["row_number"] == 4
    assert "segment.jsonl:4:" in bad["detail"]


def test_segment_json_array_and_gzip_read_like_json_lines(tmp_path: Path) -> None:
    messages = []
    for line in SEGMENT.read_text().splitlines():
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the bad_json line and the blank line
    array = tmp_path / "messages.json"
    array.write_text(json.dumps(messages, indent=2))
    zipped = tmp_path / "segment.jsonl.gz"
    zipped.write_bytes(gzip.compress(SEGMENT.read_bytes()))
    expected = {k: e["ts"] for k, e in run(read_segment, SEGMENT).by_id().items()}
    from_array = run(read_segment, array)
    assert {k: e["ts"] for k, e in from_array.by_id().items()} == expected
    assert (from_array.rows_read, from_array.rows_loaded) == (9, 5)  # 10 rows minus bad_json
    assert {k: e["ts"] for k, e in run(read_segment, zipped).by_id().items()} == expected


def test_segment_pretty_printed_batch_reads_whatever_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "payload.jsonl"
    path.write_bytes(SEGMENT_BATCH.read_bytes())
    result = run(read_segment, path)
    assert sorted(result.by_id()) == ["b1", "b3"]
    assert result.reasons() == {2: "duplicate_message_id"}


def test_ga4_pretty_printed_document_is_refused_with_the_shapes_it_reads() -> None:
    with pytest.raises(DataImportError, match=r"segment_batch\.json:1: .*newline-delimited"):
        run(read_ga4, SEGMENT_BATCH)


def test_segment_line_longer_than_the_limit_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text(SEGMENT.read_text().splitlines()[0] + "\n" + "x" * 500 + "\n")
    with pytest.raises(DataImportError, match=r"long\.jsonl:2: the line is longer"):
        run(read_segment, path, max_line_bytes=450)


# --- GA4 ----------------------------------------------------------------------------

GA4 = FIXTURES / "ga4_events.jsonl"
SESSION = "1197596843.1714557600.1714557600"  # user_pseudo_id + "." + ga_session_id


def test_ga4_accounts_for_every_export_row() -> None:
    # rows 1-4 load (row 4 repeats row 2); 5-8 are quarantined.
    result = run(read_ga4, GA4)
    assert (result.rows_read, result.rows_loaded) == (8, 4)
    assert result.reasons() == {
        5: "missing_actor",
        6: "missing_timestamp",
        7: "bad_timestamp",
        8: "bad_json",
    }


def test_ga4_maps_time_actor_session_channel_and_region() -> None:
    events = run(read_ga4, GA4).events
    # 1714557600 s = 2024-05-01T10:00:00Z; event_timestamp is in microseconds.
    assert [(e["event"], e["ts"], e["actor_id"], e["actor_kind"]) for e in events] == [
        (
            "session_start",
            utc("2024-05-01T10:00:00.123456+00:00"),
            "1197596843.1714557600",
            "anonymous_id",
        ),
        ("page_view", utc("2024-05-01T10:00:01.5+00:00"), "1197596843.1714557600", "anonymous_id"),
        ("purchase", utc("2024-05-01T10:10:00+00:00"), "u-77", "user_id"),
        ("page_view", utc("2024-05-01T10:00:01.5+00:00"), "1197596843.1714557600", "anonymous_id"),
    ]
    assert {e["session_id"] for e in events} == {SESSION}
    assert {e["region"] for e in events} == {"South Korea"}
    # collected_traffic_source (the event's UTM) wins over traffic_source (first touch)
    assert [e["channel"] for e in events] == [
        "cpc/google",
        "(none)/(direct)",
        "(none)/(direct)",
        "(none)/(direct)",
    ]
    assert {e["source_tz"] for e in events} == {"UTC"}


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("ga_session_id", 1714557600, int),  # int_value written as the string "1714557600"
        ("value", 129000.0, float),  # double_value
        ("tax_rate", 0.1, float),  # float_value
        ("currency", "KRW", str),  # string_value
        ("device_category", "mobile", str),  # device.category
    ],
)
def test_ga4_unnests_params_with_their_types(key: str, value: Any, kind: type) -> None:
    purchase = next(e for e in run(read_ga4, GA4).events if e["event"] == "purchase")
    assert purchase["properties"][key] == value
    assert type(purchase["properties"][key]) is kind


def test_ga4_keeps_user_properties_and_ecommerce() -> None:
    purchase = next(e for e in run(read_ga4, GA4).events if e["event"] == "purchase")
    assert purchase["properties"]["user_properties"] == {"loyalty_tier": "gold"}
    assert purchase["properties"]["items"][0]["item_id"] == "bp-38"


def test_ga4_links_pseudo_id_to_user_id() -> None:
    assert run(read_ga4, GA4).links == {
        ("1197596843.1714557600", "anonymous_id", "u-77", "user_id")
    }


def test_ga4_repeated_row_stays_two_events_with_distinct_ids() -> None:
    ids = [e["event_id"] for e in run(read_ga4, GA4).events if e["event"] == "page_view"]
    assert ids[1] == ids[0] + "-1"


def test_ga4_json_array_reads_like_newline_delimited_json(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in GA4.read_text().splitlines()[:7]]  # not the bad line
    path = tmp_path / "events.json"
    path.write_text(json.dumps(rows, indent=1))
    result = run(read_ga4, path)
    assert (result.rows_read, result.rows_loaded) == (7, 4)
    assert [e["event_id"] for e in result.events] == [
        e["event_id"] for e in run(read_ga4, GA4).events
    ]


def test_ga4_parquet_export_reads_like_the_json_export(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in GA4.read_text().splitlines()[:4]]
    for row in rows:  # Parquet holds real integers where BigQuery's JSON writes strings
        row["event_timestamp"] = int(row["event_timestamp"])
        for param in row["event_params"]:
            if param["value"]["int_value"] is not None:
                param["value"]["int_value"] = int(param["value"]["int_value"])
    path = tmp_path / "events_20240501.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    from_json = run(read_ga4, GA4).events
    from_parquet = run(read_ga4, path).events
    assert [e["event_id"] for e in from_parquet] == [e["event_id"] for e in from_json]
    assert from_parquet[2]["properties"]["ga_session_id"] == 1714557600


# --- Snowplow -----------------------------------------------------------------------

SNOWPLOW = FIXTURES / "snowplow_enriched.tsv"


@pytest.mark.parametrize(
    ("index", "name"),
    # Positions from Snowplow's "Enriched stream TSV file format" table.
    [
        (0, "app_id"),
        (3, "collector_tstamp"),
        (5, "event"),
        (6, "event_id"),
        (12, "user_id"),
        (15, "domain_userid"),
        (17, "network_userid"),
        (18, "geo_country"),
        (29, "page_url"),
        (47, "mkt_medium"),
        (48, "mkt_source"),
        (52, "contexts"),
        (54, "se_action"),
        (58, "unstruct_event"),
        (122, "derived_contexts"),
        (123, "domain_sessionid"),
        (124, "derived_tstamp"),
        (126, "event_name"),
        (130, "true_tstamp"),
    ],
)
def test_snowplow_layout_follows_the_documented_column_order(index: int, name: str) -> None:
    assert len(ENRICHED_COLUMNS) == 131
    assert ENRICHED_COLUMNS[index] == name


def test_snowplow_accounts_for_every_line() -> None:
    result = run(read_snowplow, SNOWPLOW)
    assert (result.rows_read, result.rows_loaded) == (9, 3)
    assert result.reasons() == {
        4: "duplicate_event_id",  # line 1 again
        5: "wrong_column_count",  # 130 fields
        6: "missing_actor",
        7: "missing_timestamp",
        8: "bad_json",  # contexts cut short
        9: "bad_timestamp",
    }
    wrong = next(q for q in result.quarantine if q["reason"] == "wrong_column_count")
    assert "snowplow_enriched.tsv:5:" in wrong["detail"]
    assert "130" in wrong["detail"]


def test_snowplow_maps_names_time_actor_session_and_channel() -> None:
    events = run(read_snowplow, SNOWPLOW).events
    got = [
        (e["event"], e["ts"], e["actor_id"], e["actor_kind"], e["session_id"], e["channel"])
        for e in events
    ]
    assert got == [
        # derived_tstamp 10:00:01.900 wins over collector_tstamp 10:00:02.100; UTM → channel
        (
            "page_view",
            utc("2024-05-01T10:00:01.9+00:00"),
            "d1",
            "anonymous_id",
            "s1",
            "email/newsletter",
        ),
        # struct event named by se_action; no derived_tstamp; internal referrer → no channel
        ("add_to_cart", utc("2024-05-01T10:01:00+00:00"), "u-5", "user_id", "s1", None),
        # self-describing event named from its schema URI; search referrer → channel
        (
            "link_click",
            utc("2024-05-01T10:01:59.5+00:00"),
            "d2",
            "anonymous_id",
            "s9",
            "search/Google",
        ),
    ]
    assert [e["region"] for e in events] == ["DE", "DE", "US"]
    struct = events[1]["properties"]
    assert (struct["se_category"], struct["se_label"], struct["se_value"]) == (
        "checkout",
        "bp-38",
        129.0,
    )
    assert events[2]["properties"]["unstruct"]["data"] == {
        "targetUrl": "https://shop.example.com/sale"
    }
    assert events[0]["properties"]["contexts"][0]["data"] == {"id": "wp-1"}
    assert "203.0.113.9" not in json.dumps([e["properties"] for e in events])  # no IP kept


def test_snowplow_links_every_identifier_to_the_actor() -> None:
    assert run(read_snowplow, SNOWPLOW).links == {
        ("n1", "anonymous_id", "d1", "anonymous_id"),  # line 1: actor d1
        ("d1", "anonymous_id", "u-5", "user_id"),  # line 2: actor u-5
        ("n1", "anonymous_id", "u-5", "user_id"),
    }


# --- XES ----------------------------------------------------------------------------

LIFECYCLE = FIXTURES / "lifecycle.xes"


def test_xes_keeps_start_and_complete_as_separate_events() -> None:
    # 8 events: T-1 has 6 (3 good, then no time, a bad time, no name), T-2 one whose
    # case id comes after it, and a trace with no case id at all.
    result = run(read_xes, LIFECYCLE, timezone="Asia/Seoul")
    assert (result.rows_read, result.rows_loaded) == (8, 4)
    assert result.reasons() == {
        4: "missing_timestamp",
        5: "bad_timestamp",
        6: "missing_event_name",
        8: "missing_actor",
    }
    calls = [e for e in result.events if e["actor_id"] == "T-1" and e["event"] == "call support"]
    assert [e["properties"]["lifecycle"] for e in calls] == ["start", "complete"]
    # start 09:00+09:00 = 00:00Z, complete 00:20Z: the call took 20 minutes
    assert calls[1]["ts"] - calls[0]["ts"] == timedelta(minutes=20)


def test_xes_lifecycle_complete_keeps_only_completions_and_counts_the_rest() -> None:
    result = run(read_xes, LIFECYCLE, timezone="Asia/Seoul", extra={"lifecycle": "complete"})
    assert (result.rows_read, result.rows_loaded) == (8, 3)
    assert result.reasons()[1] == "lifecycle_skipped"
    assert all(e["properties"].get("lifecycle", "complete") == "complete" for e in result.events)


@pytest.mark.parametrize(
    ("row", "ts", "zone"),
    [
        (1, "2024-05-01T00:00:00+00:00", "+09:00"),  # 09:00+09:00
        (2, "2024-05-01T00:20:00+00:00", "UTC"),  # ...Z
        (3, "2024-05-01T01:00:00+00:00", "Asia/Seoul"),  # 10:00 without offset, read in Seoul
        (7, "2024-05-02T06:00:00+00:00", "+02:00"),  # 08:00+02:00
    ],
)
def test_xes_honours_offsets_and_reads_bare_times_in_the_given_zone(
    row: int, ts: str, zone: str
) -> None:
    event = next(
        e for e in run(read_xes, LIFECYCLE, timezone="Asia/Seoul").events if e["row_number"] == row
    )
    assert (event["ts"], event["source_tz"]) == (utc(ts), zone)


def test_xes_types_attributes_and_adds_case_attributes() -> None:
    result = run(read_xes, LIFECYCLE, region="region")
    first, second = result.events[0]["properties"], result.events[1]["properties"]
    assert first == {
        "org:resource": "agent-7",
        "queue_position": 3,
        "wait_minutes": 12.5,
        "callback": False,
        "ticket": "5f0c7a2e-3d1b-4a8e-9c61-0b2f4e6d8a10",
        "channel": "phone",
        "channel/line": "premium",  # a nested (meta) attribute
        "lifecycle": "start",
        "case:region": "KR",
    }
    assert second["tags"] == [
        {"key": "tag", "value": "delivery"},
        {"key": "tag", "value": "wrong item"},
    ]
    assert result.events[0]["region"] == "KR"  # --region names the trace attribute


def test_xes_case_id_written_after_the_events_still_applies() -> None:
    events = run(read_xes, LIFECYCLE).events
    assert [e["actor_id"] for e in events if e["row_number"] == 7] == ["T-2"]


def test_xes_gzip_reads_like_plain_xml(tmp_path: Path) -> None:
    zipped = tmp_path / "lifecycle.xes.gz"
    zipped.write_bytes(gzip.compress(LIFECYCLE.read_bytes()))
    plain = run(read_xes, LIFECYCLE)
    assert [e["event_id"] for e in run(read_xes, zipped).events] == [
        e["event_id"] for e in plain.events
    ]


def test_xes_malformed_xml_is_a_located_error() -> None:
    # line 12 closes <event> with </evnt>
    with pytest.raises(
        DataImportError, match=r"malformed\.xes:12:\d+: .*not well-formed.*mismatched tag"
    ):
        run(read_xes, FIXTURES / "malformed.xes")


def test_xes_truncated_gzip_is_an_error_not_a_partial_log(tmp_path: Path) -> None:
    data = gzip.compress(LIFECYCLE.read_bytes())
    cut = tmp_path / "cut.xes.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DataImportError, match=r"cut\.xes\.gz: the gzip stream ends early .* near line \d+"
    ):
        run(read_xes, cut)


def test_xes_truncated_real_log_fails_after_yielding_chunks(tmp_path: Path) -> None:
    # The reader streams, so chunks come before the error; the pipeline's transaction
    # is what keeps them out of the workspace.
    data = need(PROCESS_LOGS / "helpdesk.xes.gz").read_bytes()
    cut = tmp_path / "helpdesk.xes.gz"
    cut.write_bytes(data[: len(data) // 10])
    chunks = read_xes(cut, ImportOptions(chunk_rows=500))
    assert next(chunks).rows_read == 500
    with pytest.raises(DataImportError, match="ends early"):
        list(chunks)


@pytest.mark.slow
def test_helpdesk_counts_match_an_independent_parse() -> None:
    path = need(PROCESS_LOGS / "helpdesk.xes.gz")
    root = ET.fromstring(gzip.decompress(path.read_bytes()))
    ns = "{http://www.xes-standard.org/}"

    def name(element: ET.Element) -> str:
        return next(a.get("value", "") for a in element if a.get("key") == "concept:name")

    traces = root.findall(f"{ns}trace")
    activities = Counter(name(e) for t in traces for e in t.findall(f"{ns}event"))
    result = run(read_xes, path, chunk_rows=5000)
    assert len(traces) == 4580  # as the data README says
    assert sum(activities.values()) == 21348
    assert len(result.chunks) == 5  # 21,348 events in chunks of 5,000
    assert (result.rows_read, result.rows_loaded) == (21348, 21348)
    assert len({e["actor_id"] for e in result.events}) == len({name(t) for t in traces})
    assert Counter(e["event"] for e in result.events) == activities
    assert len({e["event_id"] for e in result.events}) == 21348


def _running_example_csv() -> list[dict[str, str]]:
    with need(PROCESS_LOGS / "running-example.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_running_example_matches_its_csv_export() -> None:
    rows = _running_example_csv()
    expected = Counter(
        (r["case:concept:name"], r["concept:name"], utc(r["time:timestamp"]), r["org:resource"])
        for r in rows
    )
    result = run(read_xes, need(PROCESS_LOGS / "running-example.xes"))
    got = Counter(
        (e["actor_id"], e["event"], e["ts"], e["properties"]["org:resource"]) for e in result.events
    )
    assert got == expected
    assert (result.rows_read, len(expected)) == (42, 42)
    assert {e["source_tz"] for e in result.events} == {"+01:00"}


def test_running_example_actor_option_takes_another_attribute() -> None:
    resources = Counter(r["org:resource"] for r in _running_example_csv())
    result = run(
        read_xes, PROCESS_LOGS / "running-example.xes", actor="org:resource", actor_kind="agent"
    )
    assert Counter(e["actor_id"] for e in result.events) == resources
    assert {e["actor_kind"] for e in result.events} == {"agent"}


# --- OCEL ---------------------------------------------------------------------------

OCEL = FIXTURES / "ocel2_shop.json"


def test_ocel_fans_out_to_each_customer_and_quarantines_the_rest() -> None:
    # 7 OCEL events (listed before the objects in the file). e3 relates to customers c1
    # and c3 → 2 events; e7 relates to c2 twice → 1 event. Events: 1+1+2+1 = 5.
    result = run(read_ocel, OCEL, extra={"customer_type": "customer"})
    assert (result.rows_read, result.rows_loaded, len(result.events)) == (7, 4, 5)
    assert result.reasons() == {4: "no_customer_object", 5: "missing_timestamp", 6: "bad_timestamp"}
    assert result.notes == Counter({"fanout_rows": 1, "fanout_extra_events": 1})
    shared = [e for e in result.events if e["properties"]["ocel:id"] == "e3"]
    assert sorted(e["actor_id"] for e in shared) == ["c1", "c3"]
    assert {e["properties"]["ocel:fanout"] for e in shared} == {2}
    assert len({e["event_id"] for e in result.events}) == 5


def test_ocel_keeps_attributes_objects_and_times() -> None:
    events = {
        e["properties"]["ocel:id"]: e
        for e in run(read_ocel, OCEL, extra={"customer_type": "customer"}).events
        if e["actor_id"] != "c3"
    }
    order = events["e2"]
    assert (order["event"], order["actor_kind"]) == ("place order", "customer")
    assert order["properties"]["total"] == 129.5  # "129.5", declared float
    assert order["properties"]["express"] is True  # "true", declared boolean
    assert order["properties"]["ocel:qualifier"] == "buyer"
    assert order["properties"]["ocel:objects"] == [
        {"id": "o1", "type": "order", "qualifier": "order"},
        {"id": "i1", "type": "item", "qualifier": "item"},
    ]
    # 09:00+09:00 = 00:00 UTC
    assert (events["e1"]["ts"], events["e1"]["source_tz"]) == (
        utc("2024-05-01T00:00:00+00:00"),
        "+09:00",
    )


@pytest.mark.parametrize(
    ("qualifiers", "links"),
    [
        (None, set()),  # no links unless asked
        (["same_as"], {("c1", "customer", "c2", "customer")}),
        ("*", {("c1", "customer", "c2", "customer"), ("c3", "customer", "c1", "customer")}),
    ],
)
def test_ocel_object_relations_become_identity_links_only_when_asked(
    qualifiers: Any, links: set[tuple[str, str, str, str]]
) -> None:
    extra: dict[str, Any] = {"customer_type": "customer"}
    if qualifiers is not None:
        extra["link_qualifiers"] = qualifiers
    assert run(read_ocel, OCEL, extra=extra).links == links


@pytest.mark.parametrize("extra", [{}, {"customer_type": "shopper"}])
def test_ocel_without_a_valid_customer_type_lists_the_object_types(extra: dict[str, str]) -> None:
    with pytest.raises(
        DataImportError, match=r"customer \(3 objects\), order \(2 objects\), item \(1 object\)"
    ):
        run(read_ocel, OCEL, extra=extra)


@pytest.mark.parametrize("customer_type", ["applications", "offers"])
def test_recruiting_log_counts_match_the_json(customer_type: str) -> None:
    path = need(PROCESS_LOGS / "recruiting-red.jsonocel")
    log = json.loads(path.read_text())
    types = {oid: o["ocel:type"] for oid, o in log["ocel:objects"].items()}
    per_event = [
        len({o for o in e["ocel:omap"] if types.get(o) == customer_type})
        for e in log["ocel:events"].values()
    ]
    result = run(read_ocel, path, extra={"customer_type": customer_type})
    assert len(per_event) == 6607 and len(types) == 1051  # as the file holds
    assert result.rows_read == len(per_event)
    assert result.rows_loaded == sum(1 for k in per_event if k > 0)
    assert len(result.events) == sum(per_event)
    assert Counter(q["reason"] for q in result.quarantine) == (
        Counter({"no_customer_object": per_event.count(0)}) if per_event.count(0) else Counter()
    )
    activities = Counter(
        e["ocel:activity"]
        for e in log["ocel:events"].values()
        for o in set(e["ocel:omap"])
        if types.get(o) == customer_type
    )
    assert Counter(e["event"] for e in result.events) == activities


# --- every format -------------------------------------------------------------------

CASES = [
    pytest.param(read_segment, SEGMENT, {}, id="segment"),
    pytest.param(read_segment, SEGMENT_BATCH, {}, id="segment-batch"),
    pytest.param(read_ga4, GA4, {}, id="ga4"),
    pytest.param(read_snowplow, SNOWPLOW, {}, id="snowplow"),
    pytest.param(read_xes, LIFECYCLE, {}, id="xes"),
    pytest.param(read_ocel, OCEL, {"extra": {"customer_type": "customer"}}, id="ocel"),
]


@pytest.mark.parametrize(("reader", "path", "options"), CASES)
def test_reading_again_gives_the_same_event_ids(
    reader: ReaderFn, path: Path, options: dict[str, Any]
) -> None:
    first = [e["event_id"] for e in run(reader, path, **options).events]
    assert first == [e["event_id"] for e in run(reader, path, **options).events]
    assert len(set(first)) == len(first)


@pytest.mark.parametrize(("reader", "path", "options"), CASES)
def test_small_chunks_give_the_same_events_and_counts(
    reader: ReaderFn, path: Path, options: dict[str, Any]
) -> None:
    whole = run(reader, path, **options)
    pieces = run(reader, path, chunk_rows=2, **options)
    assert len(pieces.chunks) == -(-whole.rows_read // 2)  # ceil(rows / 2)
    assert all(c.rows_read <= 2 for c in pieces.chunks)
    assert [e["event_id"] for e in pieces.events] == [e["event_id"] for e in whole.events]
    assert (pieces.rows_read, pieces.rows_loaded) == (whole.rows_read, whole.rows_loaded)
    assert pieces.reasons() == whole.reasons()


@pytest.mark.parametrize(("reader", "path", "options"), CASES)
def test_unknown_option_is_refused_with_the_known_ones(
    reader: ReaderFn, path: Path, options: dict[str, Any]
) -> None:
    extra = {**options.get("extra", {}), "chunk_size": 10}
    with pytest.raises(DataImportError, match=r"unknown .* option 'chunk_size'; .* options are"):
        run(reader, path, extra=extra)


@pytest.mark.parametrize("reader", [read_segment, read_ga4, read_snowplow])
def test_column_options_are_refused_where_the_format_fixes_the_fields(reader: ReaderFn) -> None:
    with pytest.raises(DataImportError, match="--actor does not apply"):
        run(reader, SEGMENT, actor="customer_id")


@pytest.mark.parametrize(
    "option",
    [{"event_name": "view"}, {"ts_format": "%d/%m/%Y"}, {"delimiter": ";"}, {"encoding": "cp949"}],
)
def test_csv_only_options_are_refused(option: dict[str, str]) -> None:
    with pytest.raises(DataImportError, match=r"applies to CSV|does not apply"):
        run(read_xes, LIFECYCLE, **option)


@pytest.mark.parametrize(
    ("reader", "name"),
    [(read_segment, "empty.jsonl"), (read_ga4, "empty.jsonl"), (read_snowplow, "empty.tsv")],
)
def test_empty_file_yields_one_empty_chunk(reader: ReaderFn, name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text("")
    result = run(reader, path)
    assert (len(result.chunks), result.rows_read, len(result.events)) == (1, 0, 0)


# --- the streaming helpers, against plain-Python references ------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(json_values, max_size=10),
    indent=st.sampled_from([None, 0, 2]),
    block=st.integers(1, 9),
)
@example(items=[10.0, -2e-07], indent=0, block=2)  # a number cut at "10." by a refill
def test_json_stream_yields_what_json_loads_reads(
    items: list[Any], indent: int | None, block: int
) -> None:
    # Tiny read blocks force every value to straddle buffer refills.
    text = json.dumps({"meta": {"n": len(items)}, "items": items}, indent=indent)
    stream = JsonStream(io.BytesIO(text.encode()), path=Path("t.json"), block=block)
    got: dict[str, Any] = {}
    for key, _line in stream.iter_keys():
        got[key] = (
            [v for _k, _l, v in stream.iter_entries()] if key == "items" else stream.read_value()
        )
    assert got == json.loads(text)


def test_json_stream_reports_the_line_each_item_starts_on() -> None:
    text = '[\n  {"a": 1},\n\n  {"b":\n 2},\n  3\n]'
    stream = JsonStream(io.BytesIO(text.encode()), path=Path("t.json"), block=4)
    assert [line for line, _ in stream.iter_array()] == [2, 4, 6]


def test_json_stream_refuses_an_item_larger_than_its_limit() -> None:
    text = json.dumps([{"a": 1}, {"b": "x" * 100}])
    stream = JsonStream(io.BytesIO(text.encode()), path=Path("t.json"), max_item_bytes=40, block=8)
    with pytest.raises(DataImportError, match="larger than 40 bytes"):
        list(stream.iter_array())


def test_json_stream_malformed_item_is_a_located_error() -> None:
    stream = JsonStream(io.BytesIO(b'[\n {"a": 1},\n {"b": tru}\n]'), path=Path("t.json"))
    with pytest.raises(DataImportError, match=r"t\.json:3:\d+: malformed JSON"):
        list(stream.iter_array())


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.sampled_from("abcdefghij"), max_size=200), limit=st.integers(1, 6))
def test_occurrences_count_like_a_counter(keys: list[str], limit: int) -> None:
    # A small recent_limit makes the numpy levels flush and merge many times.
    occurrences = Occurrences(recent_limit=limit)
    reference: Counter[str] = Counter()
    for key in keys:
        assert occurrences.record(key) == reference[key]
        reference[key] += 1
    assert all(occurrences.seen(k) == reference[k] for k in "abcdefghijk")
