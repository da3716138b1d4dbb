"""The document model: compact forms, durations, rules, migration and the JSON Schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from journeymap.model import (
    Card,
    Condition,
    EventRule,
    JourneyMap,
    format_duration,
    json_schema,
    parse_duration,
    validate_map,
)
from journeymap.model.migrate import registered_migrations

ROOT = Path(__file__).parents[1]


def test_card_is_a_plain_string_until_it_has_evidence() -> None:
    plain = Card.model_validate("Reads the size chart")
    backed = Card.model_validate(
        {"text": "Compares prices", "evidence": [{"kind": "interview", "confidence": "reported"}]}
    )
    assert plain.model_dump(mode="json") == "Reads the size chart"
    assert plain.confidence == "assumed"
    assert backed.confidence == "reported"
    assert backed.model_dump(mode="json", exclude_defaults=True) == {
        "text": "Compares prices",
        "evidence": [{"kind": "interview", "confidence": "reported"}],
    }


@pytest.mark.parametrize(
    ("written", "operators", "compact"),
    [
        ("product_view", {"eq": "product_view"}, "product_view"),
        (["web", "app"], {"in": ["web", "app"]}, ["web", "app"]),
        ({"gte": 100}, {"gte": 100}, {"gte": 100}),
        ({"exists": True}, {"exists": True}, {"exists": True}),
        ({"gt": 1, "lt": 5}, {"gt": 1, "lt": 5}, {"gt": 1, "lt": 5}),
    ],
)
def test_conditions_read_short_and_explicit_forms(
    written: Any, operators: dict[str, Any], compact: Any
) -> None:
    condition = Condition.model_validate(written)
    assert condition.operators() == operators
    assert condition.model_dump(mode="json") == compact


def test_empty_condition_and_rule_are_rejected() -> None:
    with pytest.raises(ValueError, match="a condition needs at least one of"):
        Condition.model_validate({})
    with pytest.raises(ValueError, match="an event rule needs 'match'"):
        EventRule.model_validate({})


def test_event_rule_field_names_cannot_smuggle_sql() -> None:
    with pytest.raises(ValueError, match=r"string_pattern_mismatch|should match pattern"):
        EventRule.model_validate({"match": {"event; drop table events": "x"}})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("15min", 900),
        ("2h", 7200),
        ("1d 4h", 86400 + 4 * 3600),
        ("1w", 7 * 86400),
        ("1.5h", 5400),
        (45, 45),
    ],
)
def test_durations_read_compact_text(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["soon", "", "5 parsecs", True, None])
def test_durations_reject_what_they_cannot_read(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@given(st.integers(min_value=0, max_value=10**8))
def test_duration_text_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_all_steps_walks_stages_and_substages_in_order() -> None:
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
    assert [(stage.id, step.id) for stage, step in jmap.all_steps()] == [
        ("s1", "a"),
        ("s1", "b"),
        ("s2", "c"),
    ]
    assert jmap.step("b").name == "B"
    with pytest.raises(KeyError):
        jmap.step("nope")


@pytest.fixture
def draft_schema() -> Iterator[None]:
    """Register a migration from an older draft format for the length of one test."""
    registry = registered_migrations()

    def rename_phases(data: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in data.items() if k != "phases"}
        out["stages"] = data["phases"]
        return out

    registry["journeymap/0"] = ("journeymap/1", rename_phases)
    yield
    del registry["journeymap/0"]


@pytest.mark.usefixtures("draft_schema")
def test_migration_hook_upgrades_older_documents() -> None:
    old = {
        "schema": "journeymap/0",
        "id": "j",
        "title": "J",
        "phases": [{"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"}]}],
    }
    jmap, problems = validate_map(old)
    assert problems == []
    assert jmap is not None
    assert [s.id for s in jmap.stages] == ["s"]


def example_data() -> list[Any]:
    files = [
        *sorted((ROOT / "examples").glob("*.yaml")),
        ROOT / "tests" / "fixtures" / "maps" / "minimal.yaml",
    ]
    return [pytest.param(yaml.safe_load(p.read_text(encoding="utf-8")), id=p.name) for p in files]


@pytest.mark.parametrize("data", example_data())
def test_json_schema_accepts_every_valid_map(data: dict[str, Any]) -> None:
    # YAML dates are Python dates; the schema sees what a JSON editor would: strings.
    import json

    as_json = json.loads(json.dumps(data, default=str))
    jsonschema.validate(as_json, json_schema())


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        (lambda d: d["stages"][0]["steps"][0].update(emotion=5), "emotion"),
        (lambda d: d["stages"][0]["steps"][0].update(emotoin=1), "emotoin"),
        (lambda d: d.update(schema="journeymap/2"), "schema"),
        (lambda d: d["stages"][0].update(id="Not A Slug"), "id"),
    ],
)
def test_json_schema_rejects_what_validation_rejects(mutation: Any, path: str) -> None:
    data = yaml.safe_load((ROOT / "tests/fixtures/maps/minimal.yaml").read_text(encoding="utf-8"))
    mutation(data)
    with pytest.raises(jsonschema.ValidationError) as info:
        jsonschema.validate(data, json_schema())
    assert path in str(info.value)
    _, problems = validate_map(data)
    assert any(p.severity == "error" for p in problems)


def test_the_committed_schema_file_is_current() -> None:
    """examples/ point editors at journeymap.schema.json; it must match the model."""
    import json

    committed = json.loads((ROOT / "journeymap.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "run: journeymap schema -o journeymap.schema.json"
