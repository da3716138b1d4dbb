"""The evidenced map as JSON: round trips on generated snapshots, and located errors."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from insight_builders import EXAMPLES, load_example, sat, snapshot, step

from journeymap.insights import (
    EvidencedMap,
    EvidenceFormatError,
    Snapshot,
    StepSignals,
    dump_evidenced,
    load_evidenced,
)
from journeymap.insights import evidence as contract
from journeymap.model import JourneyMap

MAPS = {path.name: load_example(path.name) for path in sorted(EXAMPLES.glob("*.yaml"))}
ZONES = [UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=5, minutes=30))]


def strategy_for(kind: Any) -> st.SearchStrategy[Any]:
    """Values of any type the contract uses; finite floats only (NaN has no JSON form)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([strategy_for(a) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if kind is type(None):
        return st.none()
    if kind is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind is int:
        return st.integers(min_value=-(10**12), max_value=10**12)
    if kind is bool:
        return st.booleans()
    if kind is str:
        return st.text(max_size=12)
    if kind is datetime:
        return st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.sampled_from(ZONES),
        )
    if kind is JourneyMap:
        return st.sampled_from(sorted(MAPS)).map(MAPS.__getitem__)
    assert dataclasses.is_dataclass(kind) and isinstance(kind, type), kind
    hints = typing.get_type_hints(kind, vars(contract))
    return st.builds(
        kind, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(kind)}
    )


def roundtrip(ev: EvidencedMap) -> EvidencedMap:
    text = json.dumps(dump_evidenced(ev), ensure_ascii=False, allow_nan=False)
    return load_evidenced(json.loads(text))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ev=strategy_for(EvidencedMap))
def test_any_evidenced_map_survives_a_json_round_trip(ev: EvidencedMap) -> None:
    assert roundtrip(ev) == ev


@pytest.mark.parametrize("name", sorted(MAPS))
def test_every_example_map_survives_the_round_trip(name: str) -> None:
    ev = EvidencedMap(map=MAPS[name], snapshot=snapshot([]))
    back = roundtrip(ev)
    assert back.map == MAPS[name]
    assert back.map.to_data() == MAPS[name].to_data()


def test_document_shape_is_plain_json() -> None:
    t = datetime(2026, 11, 1, 9, 30, tzinfo=timezone(timedelta(hours=9)))
    snap = dataclasses.replace(
        snapshot(
            [
                step(
                    "visits-site",
                    "consideration",
                    trials=10,
                    dropped=2,
                    satisfaction=[sat("csat", 0.8, 5)],
                )
            ],
            signals=[StepSignals("visits-site", 10, sample_loop=("c1",))],
        ),
        as_of=t,
    )
    doc = dump_evidenced(
        EvidencedMap(map=MAPS["backpack.yaml"], snapshot=snap, notes=("small sample",))
    )
    assert doc["schema"] == "journeymap-evidence/1"
    assert doc["map"]["schema"] == "journeymap/1" and doc["map"]["id"] == "ridgeway-backpack"
    assert doc["snapshot"]["as_of"] == "2026-11-01T09:30:00+09:00"
    assert doc["snapshot"]["steps"][0]["satisfaction"][0]["scale"] == "csat"
    assert doc["snapshot"]["signals"][0]["sample_loop"] == ["c1"]
    assert doc["notes"] == ["small sample"]
    json.dumps(doc, allow_nan=False)  # no tuples, datetimes or NaN left


def test_not_a_number_is_written_as_null() -> None:
    snap = snapshot(
        [dataclasses.replace(step("a", "s", trials=1, dropped=0), p90_seconds=float("nan"))]
    )
    doc = dump_evidenced(EvidencedMap(map=MAPS["backpack.yaml"], snapshot=snap))
    assert doc["snapshot"]["steps"][0]["p90_seconds"] is None


def test_a_naive_time_is_refused_on_the_way_out() -> None:
    snap = dataclasses.replace(snapshot([]), computed_at=datetime(2026, 11, 1))
    with pytest.raises(EvidenceFormatError, match=r"snapshot\.computed_at: .*no time zone"):
        dump_evidenced(EvidencedMap(map=MAPS["backpack.yaml"], snapshot=snap))


def good_document() -> dict[str, Any]:
    snap = snapshot([step("visits-site", "consideration", trials=10, dropped=2)])
    return dump_evidenced(EvidencedMap(map=MAPS["backpack.yaml"], snapshot=snap))


def _set(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "where", "what"),
    [
        (
            ("snapshot", "steps", 0, "conversion", "low"),
            "abc",
            "snapshot.steps[0].conversion.low",
            "expected a number, got a text 'abc'",
        ),
        (
            ("snapshot", "steps", 0, "reach"),
            10.5,
            "snapshot.steps[0].reach",
            "expected a whole number",
        ),
        (("snapshot", "as_of"), "2026-11-01T00:00:00", "snapshot.as_of", "has no offset"),
        (("snapshot", "as_of"), "yesterday", "snapshot.as_of", "not an ISO 8601 time"),
        (("snapshot", "engine"), KeyError, "snapshot.engine", "is missing"),
        (("snapshot", "colour"), "red", "snapshot.colour", "unknown field"),
        (("snapshot", "steps"), {"a": 1}, "snapshot.steps", "expected a list"),
        (("pain_points",), [{"id": "x"}], "pain_points[0].kind", "is missing"),
        (
            ("map", "stages", 1, "steps", 0, "emotion"),
            7,
            "map.stages[1].steps[0].emotion",
            "emotion 7 is out of range",
        ),
        (("map", "title"), KeyError, "map.title", "title"),
        (("schema",), "journeymap/1", "schema", "expected 'journeymap-evidence/1'"),
    ],
)
def test_bad_documents_name_the_path_of_the_bad_field(
    path: tuple[str | int, ...], value: Any, where: str, what: str
) -> None:
    doc = good_document()
    _set(doc, path, value)
    with pytest.raises(EvidenceFormatError) as info:
        load_evidenced(doc)
    assert info.value.path == where
    assert what in str(info.value), str(info.value)


def test_a_bad_literal_lists_the_choices() -> None:
    doc = good_document()
    doc["snapshot"]["steps"][0]["satisfaction"] = [
        {"scale": "stars", "score": {"value": 4.0}, "responses": 3}
    ]
    with pytest.raises(EvidenceFormatError, match=r"'stars' is not one of: 'csat', 'nps'"):
        load_evidenced(doc)


def test_loaded_snapshot_answers_step_lookups() -> None:
    back = load_evidenced(good_document())
    assert isinstance(back.snapshot, Snapshot)
    found = back.snapshot.step("visits-site")
    assert found is not None and found.dropped == 2
