"""Real data from ../shared/data: Olist orders (wide), REES46 clicks, The Complete Journey.

Every expected number is computed here independently (the csv module, pyarrow), never
by the import code. Skipped, with the reason, when the shared folder is absent.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from journeymap.io.importers.base import ImportOptions
from journeymap.io.workspace import import_source

EXAMPLES = Path(__file__).parents[1] / "examples" / "data"
OLIST_EVENTS = {
    "order_purchased": "order_purchase_timestamp",
    "payment_approved": "order_approved_at",
    "handed_to_carrier": "order_delivered_carrier_date",
    "delivered": "order_delivered_customer_date",
}


def data_file(shared_data: Path, *parts: str) -> Path:
    path = shared_data.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared real-data folder is incomplete)")
    return path


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_olist_orders_become_one_event_per_filled_milestone(
    ws: Any, probe: Any, shared_data: Path
) -> None:
    orders = data_file(
        shared_data, "olist", "sample_4k_orders_with_reviews", "olist_orders_dataset.csv"
    )
    mapping = EXAMPLES / "olist-orders.mapping.yaml"
    report = import_source(ws, orders, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    rows = csv_rows(orders)
    filled = {event: sum(1 for r in rows if r[column]) for event, column in OLIST_EVENTS.items()}
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (
        len(rows),
        len(rows),
        0,
    )
    counted = probe.query(ws, "SELECT event, count(*) AS n FROM events GROUP BY event")
    assert {c["event"]: c["n"] for c in counted} == filled
    assert report.events_loaded == sum(filled.values())
    for event, column in OLIST_EVENTS.items():
        empty = len(rows) - filled[event]
        assert report.notes.get(f"null_timestamp:{event}", 0) == empty, column
    # one order checked by hand against zoneinfo's reading of São Paulo time
    first = rows[0]
    (stored,) = probe.query(
        ws,
        "SELECT actor_id, ts FROM events WHERE event_id = ?",
        [f"{first['order_id']}:order_purchased"],
    )
    local = datetime.fromisoformat(first["order_purchase_timestamp"])
    assert stored["actor_id"] == first["customer_id"]
    assert stored["ts"] == local.replace(tzinfo=ZoneInfo("America/Sao_Paulo"))
    # every order also links its order id to its (order-level) customer id
    assert report.identity_links_loaded == len({(r["order_id"], r["customer_id"]) for r in rows})
    statuses = probe.query(
        ws,
        "SELECT properties->>'order_status' AS s, count(*) AS n FROM events "
        "WHERE event = 'order_purchased' GROUP BY s",
    )
    assert {s["s"]: s["n"] for s in statuses} == Counter(r["order_status"] for r in rows)


def test_olist_customers_link_order_level_ids_to_persons(
    ws: Any, probe: Any, shared_data: Path
) -> None:
    customers = data_file(
        shared_data, "olist", "sample_4k_orders_with_reviews", "olist_customers_dataset.csv"
    )
    mapping = EXAMPLES / "olist-customers.mapping.yaml"
    report = import_source(ws, customers, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    rows = csv_rows(customers)
    pairs = {(r["customer_id"], r["customer_unique_id"]) for r in rows}
    assert report.identity_links_loaded == len(pairs)
    assert report.rows_loaded == len(rows)
    persons = probe.query(
        ws,
        "SELECT count(DISTINCT id_b) AS n FROM identity_links WHERE kind_b = 'customer_unique_id'",
    )
    assert persons[0]["n"] == len({r["customer_unique_id"] for r in rows})


def test_the_rees46_sample_imports_all_1000_clicks(ws: Any, probe: Any, shared_data: Path) -> None:
    clicks = data_file(shared_data, "rees46", "2019-Oct-head1000.csv")
    report = import_source(ws, clicks)  # columns found by name: user_id, event_time, event_type
    probe.accounted(ws, report)
    rows = csv_rows(clicks)
    assert len(rows) == 1000
    assert (report.rows_read, report.rows_loaded, report.events_loaded) == (1000, 1000, 1000)
    counted = probe.query(ws, "SELECT event, count(*) AS n FROM events GROUP BY event")
    assert {c["event"]: c["n"] for c in counted} == Counter(r["event_type"] for r in rows)
    sessions = probe.query(ws, "SELECT count(DISTINCT session_id) AS n FROM events")
    assert sessions[0]["n"] == len({r["user_session"] for r in rows})
    # "2019-10-01 00:00:00 UTC": times are UTC and recorded as such
    span = probe.query(ws, "SELECT min(ts) AS lo, max(ts) AS hi, min(source_tz) AS z FROM events")
    as_utc = sorted(datetime.fromisoformat(r["event_time"].replace(" UTC", "+00:00")) for r in rows)
    assert (span[0]["lo"], span[0]["hi"], span[0]["z"]) == (as_utc[0], as_utc[-1], "UTC")
    prices = probe.query(
        ws, "SELECT sum(CAST(properties->>'price' AS DECIMAL(18, 2))) AS s FROM events"
    )
    assert str(prices[0]["s"]) == f"{sum(float(r['price']) for r in rows):.2f}"


def test_complete_journey_campaigns_take_their_start_date_from_the_descriptions(
    ws: Any, probe: Any, shared_data: Path
) -> None:
    campaigns = data_file(shared_data, "completejourney", "campaigns.parquet")
    descriptions = data_file(shared_data, "completejourney", "campaign_descriptions.parquet")
    mapping = EXAMPLES / "completejourney-campaigns.mapping.yaml"
    report = import_source(ws, campaigns, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    table = pq.read_table(campaigns)
    assert (report.rows_read, report.rows_loaded, report.events_loaded) == (
        table.num_rows,
        table.num_rows,
        table.num_rows,
    )
    # events per campaign and the day each happened, from pyarrow alone
    per_campaign = table.group_by("campaign_id").aggregate([("household_id", "count")])
    expected = dict(
        zip(
            per_campaign["campaign_id"].to_pylist(),
            per_campaign["household_id_count"].to_pylist(),
            strict=True,
        )
    )
    starts = pq.read_table(descriptions)
    start_of = dict(
        zip(starts["campaign_id"].to_pylist(), starts["start_date"].to_pylist(), strict=True)
    )
    counted = probe.query(
        ws,
        "SELECT CAST(properties->>'campaign_id' AS BIGINT) AS c, count(*) AS n, min(ts) AS lo, "
        "max(ts) AS hi FROM events GROUP BY c",
    )
    assert {c["c"]: c["n"] for c in counted} == expected
    for c in counted:
        assert c["lo"] == c["hi"]
        assert c["lo"].replace(tzinfo=None) == start_of[c["c"]]


@pytest.mark.slow
def test_complete_journey_transactions_import_with_exact_counts(
    ws: Any, probe: Any, shared_data: Path
) -> None:
    transactions = data_file(shared_data, "completejourney", "transactions.parquet")
    mapping = EXAMPLES / "completejourney-transactions.mapping.yaml"
    report = import_source(ws, transactions, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    table = pq.read_table(transactions, columns=["household_id", "quantity", "basket_id"])
    assert table.num_rows == 1_469_307
    # identical rows (same basket, product, time, ...) are separate purchases: all load
    assert (report.rows_read, report.rows_loaded, report.events_loaded) == (
        table.num_rows,
        table.num_rows,
        table.num_rows,
    )
    per_household = table.group_by("household_id").aggregate([("quantity", "count")])
    counted = probe.query(
        ws, "SELECT CAST(actor_id AS BIGINT) AS h, count(*) AS n FROM events GROUP BY h"
    )
    assert {c["h"]: c["n"] for c in counted} == dict(
        zip(
            per_household["household_id"].to_pylist(),
            per_household["quantity_count"].to_pylist(),
            strict=True,
        )
    )
    totals = probe.query(
        ws,
        "SELECT sum(CAST(properties->>'quantity' AS BIGINT)) AS q, "
        "count(DISTINCT properties->>'basket_id') AS b FROM events",
    )
    assert totals[0]["q"] == pc.sum(table["quantity"]).as_py()
    assert totals[0]["b"] == len(pc.unique(table["basket_id"]))


def test_properties_of_real_rows_are_valid_json(ws: Any, probe: Any, shared_data: Path) -> None:
    clicks = data_file(shared_data, "rees46", "2019-Oct-head1000.csv")
    probe.accounted(ws, import_source(ws, clicks))
    texts = probe.query(ws, "SELECT CAST(properties AS VARCHAR) AS p FROM events")
    decoded = [json.loads(t["p"]) for t in texts]
    # category_id has 19 digits: kept as text, exactly as written (no float rounding)
    first = csv_rows(clicks)[0]
    assert decoded and all(isinstance(d["category_id"], str) for d in decoded)
    assert first["category_id"] in {d["category_id"] for d in decoded}
