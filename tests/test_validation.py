"""Validation reports every problem at once, located, with a way to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeymap.errors import MapFormatError, MapValidationError
from journeymap.io.maps import check_map_text, load_map, parse_map_text

FIXTURES = Path(__file__).parent / "fixtures" / "maps"

HEAD = "schema: journeymap/1\nid: m\ntitle: M\n"


def problems_of(text: str) -> list[str]:
    _, problems = check_map_text(text, source="m.yaml")
    return [str(p) for p in problems]


def test_five_mistakes_give_five_located_messages() -> None:
    with pytest.raises(MapValidationError) as info:
        load_map(FIXTURES / "five-mistakes.yaml")
    messages = [str(p) for p in info.value.errors]
    src = str(FIXTURES / "five-mistakes.yaml")
    assert len(messages) == 5
    # Lines and columns counted by hand in the fixture file.
    assert f"{src}:6:3: scope: refers to persona 'karla'" in messages[0]
    assert "did you mean 'carla'?" in messages[0]
    assert messages[1] == (
        f"{src}:16:9: step 'read-review': unknown key 'emotoin'; did you mean 'emotion'?"
    )
    assert messages[2].startswith(f"{src}:19:9: step 'visit-site': emotion 3 is out of range")
    assert messages[3] == (
        f"{src}:20:5: stage 'buy': stage has no steps; "
        "add at least one step under 'steps', or remove the stage"
    )
    assert messages[4].startswith(f"{src}:22:5: stage 'visit-site': duplicate id 'visit-site'")
    assert "stage 'discover' › step 'visit-site'" in messages[4]


def test_minimal_map_is_valid() -> None:
    jmap = load_map(FIXTURES / "minimal.yaml")
    assert [s.id for _, s in jmap.all_steps()] == ["first"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "stages:\n- id: s\n  name: S\n  steps:\n  - {id: a, name: A, evidence: [{kind: surveyy}]}\n",
            "m.yaml:8:34: step 'a', evidence #1: 'kind' cannot be 'surveyy'; did you mean 'survey'?",
        ),
        (
            "stages:\n- id: s\n  name: S\n  steps:\n  - {id: a, name: A, emotion: high}\n",
            (
                "m.yaml:8:22: step 'a': 'emotion' input should be a valid integer, unable to parse "
                "string as an integer (got 'high')"
            ),
        ),
        (
            "stages:\n- id: Big Stage\n  name: S\n  steps: [{id: a, name: A}]\n",
            (
                "m.yaml:5:3: stage 'Big Stage': 'Big Stage' is not a valid id; ids use lower-case "
                "letters, digits, '-' and '_'; e.g. 'big-stage'"
            ),
        ),
        (
            "stages:\n- id: s\n  steps: [{id: a, name: A}]\n",
            "m.yaml:5:3: stage 's': 'name' is required but missing; add 'name: ...'",
        ),
        (
            "stages: []\n",
            "m.yaml:4:1: map: 'stages' needs at least 1 item",
        ),
        (
            "stages:\n- id: s\n  name: S\n  steps: [{id: a, name: A, duration: soon}]\n",
            "m.yaml:7:28: step 'a': 'duration' 'soon' is not a duration",
        ),
    ],
)
def test_shape_problems_are_located_and_explained(body: str, expected: str) -> None:
    messages = problems_of(HEAD + body)
    assert any(m.startswith(expected) for m in messages), messages


def test_references_are_checked_everywhere() -> None:
    text = HEAD + (
        "personas: [{id: carla, name: Carla}]\n"
        "stages:\n- id: s\n  name: S\n  steps:\n"
        "  - {id: a, name: A, personas: [carl], pain_points: [{id: slow, text: Slow}]}\n"
        "forks:\n- id: f\n  at: b\n  question: Q?\n"
        "  branches: [{id: x, label: X, to: a}, {id: x, label: Y, to: zz}]\n"
        "opportunities: [{id: o, title: O, addresses: [slwo]}]\n"
    )
    messages = problems_of(text)
    expected = [
        "step 'a': refers to persona 'carl', which is not defined; did you mean 'carla'?",
        "fork 'f': refers to step 'b', which is not defined; defined ids are: a",
        "branch 'x': refers to step 'zz', which is not defined; defined ids are: a",
        "branch 'x': duplicate branch id 'x' in this fork",
        (
            "opportunity 'o': refers to pain point, step or stage 'slwo', which is not defined; "
            "did you mean 'slow'?"
        ),
    ]
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert len(messages) == len(expected)


def test_unknown_channel_is_a_warning_not_an_error() -> None:
    text = HEAD + (
        "scope: {channels: [web, email]}\n"
        "stages:\n- id: s\n  name: S\n  steps: [{id: a, name: A, channel: emial}]\n"
    )
    jmap, problems = check_map_text(text, source="m.yaml")
    assert jmap is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "did you mean 'email'?" in str(problems[0])


def test_duplicate_yaml_keys_are_reported_not_silently_merged() -> None:
    text = HEAD + "title: Again\nstages:\n- {id: s, name: S, steps: [{id: a, name: A}]}\n"
    with pytest.raises(MapValidationError) as info:
        parse_map_text(text, source="m.yaml")
    assert str(info.value.errors[0]).startswith(
        "m.yaml:4:1: key 'title' appears twice in the same mapping"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "m.yaml:1:1: the file is empty"),
        ("id: [unclosed\n", "m.yaml:2:1: not valid YAML"),
        ("- just\n- a list\n", "a map must be a mapping of keys to values, got list"),
    ],
)
def test_unreadable_text_gives_a_located_error(text: str, expected: str) -> None:
    with pytest.raises((MapFormatError, MapValidationError)) as info:
        parse_map_text(text, source="m.yaml")
    assert expected in str(info.value)


def test_json_errors_are_located(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"id": "m",\n "title": }\n', encoding="utf-8")
    with pytest.raises(MapFormatError, match=r"m\.json:2:11: not valid JSON"):
        load_map(path)


def test_non_utf8_file_names_the_byte_and_place(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(HEAD.encode() + "stages: caf\xe9\n".encode("latin-1"))
    with pytest.raises(MapFormatError, match=r"m\.yaml:4:12: byte 0xe9 is not UTF-8"):
        load_map(path)


def test_unknown_schema_version_says_what_this_version_reads() -> None:
    messages = problems_of(HEAD.replace("journeymap/1", "journeymap/9") + "stages: []\n")
    assert messages == [
        (
            "m.yaml:1:1: unknown schema 'journeymap/9'; this journeymap reads: journeymap/1; "
            "write 'schema: journeymap/1', or upgrade journeymap if the file comes from a newer version"
        )
    ]


def test_missing_schema_is_read_as_current_with_a_warning() -> None:
    jmap, problems = check_map_text(
        "id: m\ntitle: M\nstages: [{id: s, name: S, steps: [{id: a, name: A}]}]\n"
    )
    assert jmap is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "add 'schema: journeymap/1'" in str(problems[0])
