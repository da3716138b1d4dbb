"""Events → steps → stages: rules compiled to Ibis, run on every engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ibis
import pytest

from conftest import load, rows_of
from journeymap.analytics.mapping import MappingError, compile_rule, list_steps, map_events
from journeymap.model import JourneyMap
from journeymap.model.rules import EventRule

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

EVENTS = [
    # event_id e000000 … e000006 by position
    {
        "actor_id": "a",
        "ts": T0,
        "event": "page_view",
        "channel": "web",
        "properties": {"page": "home"},
    },
    {
        "actor_id": "a",
        "ts": T0,
        "event": "page_view",
        "channel": "web",
        "properties": {"page": "product", "price": 120, "tags": {"new": True}},
    },
    {
        "actor_id": "a",
        "ts": T0,
        "event": "add_to_cart",
        "channel": "app",
        "properties": {"price": "80"},
    },
    {
        "actor_id": "b",
        "ts": T0,
        "event": "purchase",
        "channel": "store",
        "properties": {"total": 35.5, "name": "침낭"},
    },
    {"actor_id": "b", "ts": T0, "event": "newsletter_open", "channel": None, "properties": {}},
    {
        "actor_id": "b",
        "ts": T0,
        "event": "purchase",
        "channel": "web",
        "properties": {"total": None},
    },
    {
        "actor_id": "c",
        "ts": datetime(2024, 3, 5, tzinfo=UTC),
        "event": "call",
        "channel": "phone",
        "properties": None,
    },
]


def _map(steps_by_stage: dict[str, list[dict[str, Any]]]) -> JourneyMap:
    stages = [
        {"id": stage, "name": stage.title(), "steps": steps}
        for stage, steps in steps_by_stage.items()
    ]
    return JourneyMap.model_validate({"id": "j", "title": "J", "stages": stages})


def _matching_ids(con: Any, rule: dict[str, Any]) -> list[str]:
    events = load(con, EVENTS)
    pred = compile_rule(EventRule.model_validate(rule), events)
    return [r["event_id"] for r in rows_of(events.filter(pred).select("event_id"))]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"match": {"event": "page_view"}}, ["e000000", "e000001"]),
        ({"match": {"event": ["purchase", "call"]}}, ["e000003", "e000005", "e000006"]),
        ({"match": {"event": "page_view", "properties.page": "product"}}, ["e000001"]),
        # nested property path, boolean operand against JSON true
        ({"match": {"properties.tags.new": True}}, ["e000001"]),
        # a numeric operand compares numbers: 120 > 100; "80" (text) is read as 80
        ({"match": {"properties.price": {"gt": 100}}}, ["e000001"]),
        ({"match": {"properties.price": {"lte": 80}}}, ["e000002"]),
        ({"match": {"properties.price": {"gte": 80, "lt": 200}}}, ["e000001", "e000002"]),
        # a text operand compares text: "35.5" == "35.5"
        ({"match": {"properties.total": "35.5"}}, ["e000003"]),
        ({"match": {"properties.total": 35.5}}, ["e000003"]),
        # JSON null and an absent key are both "no value"
        ({"match": {"properties.total": {"exists": True}}}, ["e000003"]),
        (
            {"match": {"event": "purchase", "properties.total": {"exists": False}}},
            ["e000005"],
        ),
        # ne / not_in include missing values: channel null (e000004) is "not web"
        (
            {"match": {"channel": {"ne": "web"}}},
            ["e000002", "e000003", "e000004", "e000006"],
        ),
        ({"match": {"channel": {"not_in": ["web", "app", "store"]}}}, ["e000004", "e000006"]),
        ({"match": {"properties.name": {"contains": "침"}}}, ["e000003"]),
        ({"match": {"event": {"contains": "_"}, "channel": "app"}}, ["e000002"]),
        # any: alternatives; with match, both must hold
        (
            {"any": [{"channel": "phone"}, {"properties.page": "home"}]},
            ["e000000", "e000006"],
        ),
        (
            {"match": {"actor_id": "a"}, "any": [{"channel": "app"}, {"properties.page": "home"}]},
            ["e000000", "e000002"],
        ),
        # timestamps: an ISO string operand on the ts column (naive means UTC)
        ({"match": {"ts": {"gte": "2024-03-02"}}}, ["e000006"]),
        ({"match": {"ts": {"lt": "2024-03-01T09:00:00Z"}}}, []),
    ],
)
def test_compile_rule_selects_the_events_the_rule_describes(
    con: Any, rule: dict[str, Any], expected: list[str]
) -> None:
    assert _matching_ids(con, rule) == expected


def test_compile_rule_names_the_columns_when_a_field_is_unknown() -> None:
    events = ibis.table({"event": "string", "properties": "json"}, name="events")
    rule = EventRule.model_validate({"match": {"plan": "pro"}})
    with pytest.raises(
        MappingError,
        match=r"'plan'.*columns are: event, properties.*"
        r"properties\.plan",
    ):
        compile_rule(rule, events)


def test_compile_rule_refuses_a_path_into_a_plain_column() -> None:
    events = ibis.table({"event": "string", "n": "int64"}, name="events")
    rule = EventRule.model_validate({"match": {"n.x": 1}})
    with pytest.raises(MappingError, match="column 'n' is int64"):
        compile_rule(rule, events)


def test_compile_rule_refuses_a_value_the_column_cannot_hold() -> None:
    events = ibis.table({"ts": "timestamp('UTC')"}, name="events")
    rule = EventRule.model_validate({"match": {"ts": {"gte": "yesterday"}}})
    with pytest.raises(MappingError, match="'yesterday' is not a valid value"):
        compile_rule(rule, events)


JMAP = _map(
    {
        "discover": [
            {"id": "home", "name": "Home", "events": {"match": {"properties.page": "home"}}},
            {"id": "browse", "name": "Browse", "events": {"match": {"event": "page_view"}}},
            {"id": "no-data", "name": "Offline step"},
        ],
        "buy": [
            {"id": "cart", "name": "Cart", "events": {"match": {"event": "add_to_cart"}}},
            # e000001 is a page_view on the web: "browse" comes first in journey order
            {"id": "web-any", "name": "Web", "events": {"match": {"channel": "web"}}},
            {"id": "pay", "name": "Pay", "events": {"match": {"event": "purchase"}}},
        ],
    }
)


def test_map_events_assigns_steps_in_journey_order_and_keeps_the_rest_as_other(
    con: Any,
) -> None:
    mapped = map_events(load(con, EVENTS), JMAP)
    got = rows_of(
        mapped.table.select("event_id", "step_id", "stage_id", "step_index", "stage_index")
    )
    # step order: home 0, browse 1, no-data 2, cart 3, web-any 4, pay 5
    assert got == [
        # home matches "home" and "browse": the first in journey order wins
        {
            "event_id": "e000000",
            "step_id": "home",
            "stage_id": "discover",
            "step_index": 0,
            "stage_index": 0,
        },
        {
            "event_id": "e000001",
            "step_id": "browse",
            "stage_id": "discover",
            "step_index": 1,
            "stage_index": 0,
        },
        {
            "event_id": "e000002",
            "step_id": "cart",
            "stage_id": "buy",
            "step_index": 3,
            "stage_index": 1,
        },
        # a purchase in the store is not on the web: "pay"
        {
            "event_id": "e000003",
            "step_id": "pay",
            "stage_id": "buy",
            "step_index": 5,
            "stage_index": 1,
        },
        {
            "event_id": "e000004",
            "step_id": "other",
            "stage_id": "other",
            "step_index": -1,
            "stage_index": -1,
        },
        # a purchase on the web matches "web-any" (4) before "pay" (5)
        {
            "event_id": "e000005",
            "step_id": "web-any",
            "stage_id": "buy",
            "step_index": 4,
            "stage_index": 1,
        },
        {
            "event_id": "e000006",
            "step_id": "other",
            "stage_id": "other",
            "step_index": -1,
            "stage_index": -1,
        },
    ]
    # 2 of 7 events matched nothing
    assert mapped.unmatched_share.execute() == pytest.approx(2 / 7)


def test_map_events_keeps_every_row_and_every_column(con: Any) -> None:
    events = load(con, EVENTS)
    mapped = map_events(events, JMAP, other="(unmapped)")
    assert mapped.table.columns[: len(events.columns)] == events.columns
    assert mapped.table.count().execute() == len(EVENTS)
    others = mapped.table.filter(mapped.table.step_id == "(unmapped)").count().execute()
    assert others == 2


def test_map_events_without_any_rule_leaves_everything_other(con: Any) -> None:
    jmap = _map({"s": [{"id": "a", "name": "A"}]})
    mapped = map_events(load(con, EVENTS), jmap)
    assert mapped.unmatched_share.execute() == pytest.approx(1.0)


def test_map_events_refuses_an_already_mapped_table() -> None:
    events = ibis.table({"event": "string", "step_id": "string"}, name="events")
    with pytest.raises(MappingError, match="already has a 'step_id'"):
        map_events(events, JMAP)


def test_list_steps_numbers_steps_across_stages_and_substages() -> None:
    jmap = JourneyMap.model_validate(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {
                    "id": "s1",
                    "name": "S1",
                    "steps": [{"id": "a", "name": "A"}],
                    "substages": [
                        {"id": "sub", "name": "Sub", "steps": [{"id": "b", "name": "B"}]}
                    ],
                },
                {"id": "s2", "name": "S2", "steps": [{"id": "c", "name": "C"}]},
            ],
        }
    )
    got = [(s.step_id, s.stage_id, s.step_index, s.stage_index) for s in list_steps(jmap)]
    assert got == [("a", "s1", 0, 0), ("b", "s1", 1, 0), ("c", "s2", 2, 1)]
