"""The signal and driver runners on a workspace and on the demo company's data."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from journeymap.analytics.identity import stitched_events
from journeymap.analytics.mapping import map_events
from journeymap.demo import DemoData, generate_demo
from journeymap.engines.identity import stitch_identities
from journeymap.engines.signals import measure_driver_ranking, measure_drivers, measure_signals
from journeymap.errors import EngineError
from journeymap.insights.evidence import StepSignals
from journeymap.io.maps import load_map
from journeymap.io.workspace import import_source
from journeymap.model import JourneyMap

BACKPACK = Path(__file__).parents[1] / "examples" / "backpack.yaml"

MAP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "browse",
                "name": "Browse",
                "steps": [
                    {"id": "view", "name": "View", "events": {"match": {"event": "view"}}},
                    {"id": "cart", "name": "Cart", "events": {"match": {"event": "cart"}}},
                ],
            },
            {
                "id": "care",
                "name": "Care",
                "steps": [
                    {
                        "id": "support-call",
                        "name": "Calls support",
                        "events": {"match": {"event": "call"}},
                    }
                ],
            },
        ],
    }
)

CSV = """event_id,actor_id,ts,event,channel
a1,ann,2024-01-01T10:00:00Z,view,web
a2,ann,2024-01-01T10:05:00Z,cart,web
a3,ann,2024-01-01T10:09:00Z,view,web
a4,ann,2024-01-02T09:00:00Z,call,phone
b1,bob,2024-01-01T11:00:00Z,view,app
b2,bob,2024-01-09T11:00:00Z,call,phone
c1,cat,2024-01-03T08:00:00Z,cart,web
"""


def test_runners_measure_an_imported_workspace(ws: Any, tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(CSV, encoding="utf-8")
    import_source(ws, source, progress=False)
    mapped = map_events(ws.table("events"), MAP).table
    signals = measure_signals(ws.con, mapped, MAP)
    day3 = 3 * 86400.0
    # support step: support-call (its id says support). ann: view 10:00 -> cart -> view
    # (a return to view after cart); she calls the next morning, within 3 days of view
    # and cart. bob calls 8 days after his view. 2 of 3 customers called at all.
    assert signals == (
        StepSignals("view", 2, 1, 1, 1, day3, 2 / 3, ("ann",), ("ann",)),
        StepSignals("cart", 2, 0, 0, 1, day3, 2 / 3, (), ("ann",)),
        StepSignals("support-call", 2, 0, 0, 0, day3, 2 / 3, (), ()),
    )
    ranking = measure_driver_ranking(ws.con, mapped, MAP, min_support=1)
    # browse -> care within 30 days: ann (call 23 h after entry) converts, bob's call is
    # 8 days after his view, still within 30 days: he converts too; cat never calls.
    assert {(d.scope, d.feature): (d.converters_with, d.others_with) for d in ranking.drivers} == {
        ("stage:browse", "event=view"): (2, 0),
        ("stage:browse", "event=cart"): (1, 1),
        ("stage:browse", "channel=web"): (1, 1),
        ("stage:browse", "channel=app"): (1, 0),
    }
    assert {(d.converters, d.others) for d in ranking.drivers} == {(2, 1)}


def test_engine_errors_come_out_as_engine_errors(ws: Any) -> None:
    ws.con.raw_sql("CREATE TABLE gone AS SELECT * FROM events")
    mapped = map_events(ws.con.table("gone"), MAP).table
    ws.con.raw_sql("DROP TABLE gone")
    with pytest.raises(EngineError, match="measuring loops and support contact"):
        measure_signals(ws.con, mapped, MAP)
    with pytest.raises(EngineError, match="measuring conversion drivers"):
        measure_drivers(ws.con, mapped, MAP)


# --- the demo company -----------------------------------------------------------------

CONTACTS = ("phone_call", "chat_start", "support_email")
"""The first event of each support contact in the demo (phone, chat, email)."""


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo(customers=2000, seed=7)


@pytest.fixture(scope="module")
def stitched(demo: DemoData) -> Any:
    con = ibis.duckdb.connect()
    con.con.register("demo_events", demo.events)
    con.con.execute(
        "CREATE TABLE events AS SELECT * REPLACE (properties::JSON AS properties) FROM demo_events"
    )
    con.con.register("demo_links", demo.identity_links)
    con.con.execute("CREATE TABLE identity_links AS SELECT * FROM demo_links")
    stitching = stitch_identities(con, con.table("identity_links"), persist=True)
    events = stitched_events(con.table("events"), con.table("identity_members"))
    con.con.execute(f"CREATE TABLE customer_events AS {con.compile(events)}")
    yield con, con.table("customer_events"), stitching
    con.disconnect()


def python_support_after_wrong_delivery(con: Any, window: timedelta) -> tuple[int, int, int]:
    """Customers with a wrong delivery, those who contacted support within ``window``
    after their first one, and all customers: straight from the stitched rows."""
    rows = (
        con.table("customer_events")
        .select("actor_id", "ts", "event_id", "event", "properties")
        .to_pyarrow()
        .to_pylist()
    )
    first_wrong: dict[str, tuple[datetime, str]] = {}
    contacts: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for r in rows:
        ts = r["ts"].astimezone(UTC) if r["ts"].tzinfo else r["ts"].replace(tzinfo=UTC)
        props = r["properties"]
        props = json.loads(props) if isinstance(props, str) else props
        if r["event"] == "delivery" and props.get("variant_match") is False:
            key = (ts, r["event_id"])
            if r["actor_id"] not in first_wrong or key < first_wrong[r["actor_id"]]:
                first_wrong[r["actor_id"]] = key
        if r["event"] in CONTACTS:
            contacts[r["actor_id"]].append((ts, r["event_id"]))
    helped = sum(
        1
        for actor, first in first_wrong.items()
        if any(c > first and c[0] - first[0] <= window for c in contacts[actor])
    )
    return len(first_wrong), helped, len({r["actor_id"] for r in rows})


def python_contacted(con: Any) -> int:
    """Customers with any support contact event, counted with pyarrow."""
    t = con.table("customer_events").select("actor_id", "event").to_pyarrow()
    picked = t.filter(pc.is_in(t["event"], pa.array(CONTACTS)))
    return len(pc.unique(picked["actor_id"]))


@pytest.mark.slow
def test_wrong_deliveries_are_followed_by_support_far_above_baseline(
    demo: DemoData, stitched: Any
) -> None:
    con, events, _ = stitched
    jmap = load_map(BACKPACK)
    mapped = map_events(events, jmap).table
    signals = {s.step_id: s for s in measure_signals(con, mapped, jmap, support_events=CONTACTS)}
    wrong = signals["wrong-colour-arrives"]
    # ground truth: every person with a wrong delivery is one stitched customer
    truth = demo.customers
    assert wrong.reach == pc.sum(pc.greater(truth["wrong_deliveries"], 0)).as_py()
    # the same numbers computed in plain Python from the stitched rows
    reach, helped, customers = python_support_after_wrong_delivery(con, timedelta(days=3))
    assert (wrong.reach, wrong.support_customers) == (reach, helped)
    assert wrong.support_baseline == pytest.approx(python_contacted(con) / customers, rel=1e-12)
    # the generator makes 85% of wrong deliveries lead to a contact 1-30 h later
    share = wrong.support_customers / wrong.reach
    assert share >= 0.75
    assert wrong.support_baseline is not None
    assert wrong.support_baseline < 0.1
    assert share > 8 * wrong.support_baseline
    # browsing is not followed by support more than the journey as a whole
    browse = signals["visits-site"]
    assert browse.support_customers / browse.reach < wrong.support_baseline
    assert len(wrong.sample_support) == 5


@pytest.mark.slow
def test_the_map_own_support_steps_also_single_out_the_wrong_delivery(stitched: Any) -> None:
    con, events, _ = stitched
    jmap = load_map(BACKPACK)
    signals = measure_signals(con, map_events(events, jmap).table, jmap)
    assert [s.step_id for s in signals] == [s.id for _, s in jmap.all_steps()]
    ratio = {
        s.step_id: (s.support_customers / s.reach) / (s.support_baseline or 1)
        for s in signals
        if s.reach
    }
    # waits-in-queue and agent-books-class (phone steps) are the support; the wrong
    # delivery is followed by them far more often than any step before the order
    assert max(ratio, key=lambda k: ratio[k]) == "wrong-colour-arrives"
    assert ratio["wrong-colour-arrives"] > 10
    loops = {s.step_id: s for s in signals}
    # leaving to compare and coming back through a coupon makes product pages loop
    assert loops["visits-site"].loop_customers > loops["wrong-colour-arrives"].loop_customers


@pytest.mark.slow
def test_demo_drivers_cover_each_scope_and_are_sorted(stitched: Any) -> None:
    con, events, _ = stitched
    jmap = load_map(BACKPACK)
    mapped = map_events(events, jmap).table
    drivers = measure_drivers(con, mapped, jmap)
    signals = {s.step_id: s for s in measure_signals(con, mapped, jmap)}
    scopes = {d.scope: (d.converters, d.others) for d in drivers}
    # the awareness stage has one step and the fork's population is who reached its step
    assert sum(scopes["stage:awareness"]) == signals["reads-review"].reach
    assert sum(scopes["fork:compare-outcome/comes-back"]) == signals["leaves-to-compare"].reach
    # the branch without a condition is "none of the others"
    back = scopes["fork:compare-outcome/comes-back"]
    assert scopes["fork:compare-outcome/buys-elsewhere"] == (back[1], back[0])
    for d in drivers:
        assert d.converters_with + d.others_with >= 20
        assert d.q_value is not None and d.p_value is not None and d.q_value >= d.p_value
        assert d.significant == (d.q_value <= 0.05)
    order = [(d.scope, d.q_value) for d in drivers]
    assert order == sorted(order, key=lambda x: (x[0], x[1]))
    assert any(d.significant for d in drivers if d.scope == "stage:consideration")
