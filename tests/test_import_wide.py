"""Wide tables to events by a mapping file: one row per case, one column per milestone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeymap.errors import DataImportError
from journeymap.io.importers.base import ImportOptions
from journeymap.io.workspace import import_source

ORDERS = (
    "order_id,customer_id,order_status,purchased,approved,shipped,delivered\n"
    "o1,c1,delivered,2018-01-01 10:00:00,2018-01-01 11:00:00,2018-01-02 09:00:00,"
    "2018-01-05 15:00:00\n"
    "o2,c2,canceled,2018-01-03 10:00:00,,,\n"
    "o3,,delivered,2018-01-04 10:00:00,,,\n"
    "o4,c4,shipped,2018-01-04 10:00:00,not a date,,\n"
    "o5,c5,created,,,,\n"
)
MAPPING = """\
actor: customer_id
id: order_id
timezone: America/Sao_Paulo
events:
  - {event: order_purchased, ts: purchased}
  - {event: payment_approved, ts: approved}
  - {event: handed_to_carrier, ts: shipped}
  - {event: delivered, ts: delivered}
properties: [order_status]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sao_paulo(text: str) -> datetime:
    """The independent reference: zoneinfo's reading of a São Paulo wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("America/Sao_Paulo"))


@pytest.fixture
def orders(tmp_path: Path) -> tuple[Path, ImportOptions]:
    return write(tmp_path / "orders.csv", ORDERS), ImportOptions(
        mapping=write(tmp_path / "orders.yaml", MAPPING)
    )


def test_one_order_row_becomes_one_event_per_filled_timestamp(
    ws: Any, probe: Any, orders: tuple[Path, ImportOptions]
) -> None:
    source, options = orders
    report = import_source(ws, source, options=options)
    probe.accounted(ws, report)
    assert report.format == "wide"
    # o1: 4 events, o2: 1 event; o3 has no customer, o4 an unreadable time (the whole
    # row waits in quarantine, so an order is never half-loaded), o5 no time at all
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 2, 3)
    assert report.events_loaded == 5
    assert report.quarantined_by_reason == {
        "bad_timestamp": 1,
        "missing_actor": 1,
        "no_events": 1,
    }
    # an empty milestone is not an error, but it is counted: o2 lacks three of them
    assert report.notes == {
        "null_timestamp:delivered": 1,
        "null_timestamp:handed_to_carrier": 1,
        "null_timestamp:payment_approved": 1,
    }
    rows = probe.query(
        ws,
        "SELECT event_id, actor_id, event, ts, source_tz, CAST(properties AS VARCHAR) AS p "
        "FROM events ORDER BY actor_id, ts",
    )
    assert [(r["event_id"], r["actor_id"]) for r in rows] == [
        ("o1:order_purchased", "c1"),
        ("o1:payment_approved", "c1"),
        ("o1:handed_to_carrier", "c1"),
        ("o1:delivered", "c1"),
        ("o2:order_purchased", "c2"),
    ]
    # January 2018 was summer time in São Paulo (UTC-2): 10:00 local is 12:00Z
    assert rows[0]["ts"] == sao_paulo("2018-01-01T10:00:00") == datetime(2018, 1, 1, 12, tzinfo=UTC)
    assert {r["source_tz"] for r in rows} == {"America/Sao_Paulo"}
    assert json.loads(rows[4]["p"]) == {"order_status": "canceled"}
    kept = probe.query(ws, "SELECT row_number, reason, detail FROM quarantine ORDER BY row_number")
    assert [(k["row_number"], k["reason"]) for k in kept] == [
        (4, "missing_actor"),
        (5, "bad_timestamp"),
        (6, "no_events"),
    ]
    assert "orders.csv:5: approved 'not a date' is not a timestamp" in kept[1]["detail"]


def test_reimporting_orders_loads_nothing_new_and_overlaps_are_skipped(
    ws: Any, probe: Any, orders: tuple[Path, ImportOptions], tmp_path: Path
) -> None:
    source, options = orders
    probe.accounted(ws, import_source(ws, source, options=options))
    again = import_source(ws, source, options=options)
    probe.accounted(ws, again)
    assert again.already_imported and again.rows_read == 0
    # a later export: o1 again (delivered since), and a new order o6
    later = write(
        tmp_path / "orders-later.csv",
        ORDERS.splitlines()[0]
        + "\n"
        + ORDERS.splitlines()[1]
        + "\no6,c6,created,2018-02-01 08:00:00,,,\n",
    )
    report = import_source(ws, later, options=options)
    probe.accounted(ws, report)
    assert (report.rows_read, report.rows_loaded, report.duplicates_skipped) == (2, 2, 4)
    assert report.events_loaded == 1
    assert probe.count(ws, "events") == 6


def test_links_tie_identifiers_together_at_the_first_event(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(tmp_path / "orders.csv", ORDERS)
    mapping = write(
        tmp_path / "orders.yaml",
        MAPPING
        + "links:\n  - {a: order_id, kind_a: order_id, b: customer_id, kind_b: customer_id}\n",
    )
    report = import_source(ws, source, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    # links come from loaded rows only (o1, o2); o5 has a link, so it is loaded too
    assert report.identity_links_loaded == 3
    assert (report.rows_loaded, report.rows_quarantined) == (3, 2)
    links = probe.query(
        ws, "SELECT id_a, kind_a, id_b, kind_b, ts FROM identity_links ORDER BY id_a"
    )
    assert [(x["id_a"], x["id_b"], x["kind_a"], x["kind_b"]) for x in links] == [
        ("o1", "c1", "order_id", "customer_id"),
        ("o2", "c2", "order_id", "customer_id"),
        ("o5", "c5", "order_id", "customer_id"),
    ]
    assert links[0]["ts"] == sao_paulo("2018-01-01T10:00:00")  # o1's first event
    assert links[2]["ts"] is None  # o5 has no event to date the link


def test_a_links_only_mapping_imports_a_customers_file(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(
        tmp_path / "customers.csv",
        "customer_id,customer_unique_id,state\nc1,p1,SP\nc2,p1,SP\nc3,,RJ\nc1,p1,SP\n",
    )
    mapping = write(
        tmp_path / "customers.yaml",
        "links:\n  - {a: customer_id, kind_a: customer_id, b: customer_unique_id, "
        "kind_b: customer_unique_id}\n",
    )
    report = import_source(ws, source, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    # c3 has no person id: nothing to link, quarantined; the repeated c1-p1 row is one link
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (4, 3, 1)
    assert report.identity_links_loaded == 2
    assert report.notes == {"identity_links_already_known": 1}
    assert probe.count(ws, "events") == 0


def test_a_lookup_adds_columns_from_a_small_file_by_key(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    write(
        tmp_path / "campaigns.csv",
        "campaign_id,starts,kind\n1,2017-03-03,B\n2,2017-03-08,C\n",
    )
    source = write(tmp_path / "received.csv", "campaign_id,household\n1,h1\n2,h1\n3,h2\n1,h3\n")
    mapping = write(
        tmp_path / "received.yaml",
        "actor: household\nevents:\n  - {event: campaign_received, ts: starts}\n"
        "lookup:\n  - {file: campaigns.csv, key: campaign_id}\n",
    )
    report = import_source(ws, source, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    # campaign 3 is not in campaigns.csv: that row waits in quarantine
    assert (report.rows_loaded, report.quarantined_by_reason) == (3, {"no_lookup_match": 1})
    rows = probe.query(
        ws,
        "SELECT actor_id, ts, CAST(properties AS VARCHAR) AS p FROM events ORDER BY actor_id, ts",
    )
    assert [(r["actor_id"], r["ts"].date().isoformat()) for r in rows] == [
        ("h1", "2017-03-03"),
        ("h1", "2017-03-08"),
        ("h3", "2017-03-03"),
    ]
    assert json.loads(rows[0]["p"]) == {"campaign_id": 1, "kind": "B"}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            "actor: customer_id\nevnets: []\n",
            "m.yaml:2:1: unknown key 'evnets' in a wide-table mapping; did you mean 'events'?",
        ),
        (
            "actor: customer_id\nevents:\n  - {event: x}\n",
            "each event needs 'event' (a name) and 'ts' (a column)",
        ),
        (
            "actor: customer_id\nevents:\n  - {event: x, ts: purchase_time}\n",
            "column 'purchase_time' (m.yaml: x) not found; did you mean 'purchased'?",
        ),
        (
            "events:\n  - {event: x, ts: purchased}\n",
            "'actor' must name the column of the customer identifier",
        ),
        ("actor: customer_id\nevents: [\n", "not valid YAML"),
        (
            "actor: customer_id\nevents:\n  - {event: x, ts: purchased}\ntimezone: Brazil/Sao_Paulo\n",
            "unknown time zone 'Brazil/Sao_Paulo'; did you mean",
        ),
    ],
)
def test_mapping_mistakes_are_located_errors(
    ws: Any, probe: Any, tmp_path: Path, mapping: str, message: str
) -> None:
    source = write(tmp_path / "orders.csv", ORDERS)
    path = write(tmp_path / "m.yaml", mapping)
    with pytest.raises(DataImportError) as caught:
        import_source(ws, source, fmt="wide", options=ImportOptions(mapping=path))
    assert message in str(caught.value).replace(str(tmp_path) + "/", "")
    assert probe.count(ws, "imports") == 0 and probe.count(ws, "quarantine") == 0


def test_a_wide_import_without_a_mapping_says_how_to_give_one(ws: Any, tmp_path: Path) -> None:
    source = write(tmp_path / "orders.csv", ORDERS)
    with pytest.raises(DataImportError, match="pass --mapping FILE"):
        import_source(ws, source, fmt="wide")
