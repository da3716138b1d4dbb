"""Mermaid journey import and export: the mapping, located errors, round trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.errors import Location, MapValidationError
from journeymap.io.convert import FORMATS, format_of
from journeymap.io.maps import dump_map, load_map
from journeymap.io.mermaid import (
    UNNAMED_SECTION,
    emotion_for_score,
    read_mermaid,
    score_for_emotion,
    write_mermaid,
)
from journeymap.model import JourneyMap
from map_strategies import journey_maps

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORKING_DAY = """\
journey
    title My working day
    section Go to work
      Make tea: 5: Me
      Go upstairs: 3: Me
      Do work: 1: Me, Cat
    section Go home
      Go downstairs: 5: Me
      Sit down: 5: Me
"""


def _map(data: dict[str, object]) -> JourneyMap:
    return JourneyMap.model_validate({"schema": "journeymap/1", **data})


def test_reads_mermaids_own_example_as_stages_steps_and_personas() -> None:
    expected = _map(
        {
            "id": "my-working-day",
            "title": "My working day",
            "personas": [{"id": "me", "name": "Me"}, {"id": "cat", "name": "Cat"}],
            "stages": [
                {
                    "id": "go-to-work",
                    "name": "Go to work",
                    "steps": [
                        {"id": "make-tea", "name": "Make tea", "emotion": 2, "personas": ["me"]},
                        {
                            "id": "go-upstairs",
                            "name": "Go upstairs",
                            "emotion": 0,
                            "personas": ["me"],
                        },
                        {
                            "id": "do-work",
                            "name": "Do work",
                            "emotion": -2,
                            "personas": ["me", "cat"],
                        },
                    ],
                },
                {
                    "id": "go-home",
                    "name": "Go home",
                    "steps": [
                        {
                            "id": "go-downstairs",
                            "name": "Go downstairs",
                            "emotion": 2,
                            "personas": ["me"],
                        },
                        {"id": "sit-down", "name": "Sit down", "emotion": 2, "personas": ["me"]},
                    ],
                },
            ],
        }
    )
    assert read_mermaid(WORKING_DAY, source="day.mmd") == expected


def test_writes_a_known_map_as_canonical_text() -> None:
    jmap = _map(
        {
            "id": "tea",
            "title": "Tea time",
            "description": "A short one.",
            "personas": [{"id": "me", "name": "Me"}, {"id": "cat", "name": "Cat"}],
            "stages": [
                {
                    "id": "morning",
                    "name": "Morning",
                    "steps": [
                        {
                            "id": "boil-water",
                            "name": "Boil water",
                            "emotion": -1,
                            "personas": ["me"],
                        },
                        {"id": "pour", "name": "Pour", "emotion": 1, "personas": ["cat", "me"]},
                    ],
                }
            ],
        }
    )
    converted = write_mermaid(jmap)
    assert converted.text == (
        "journey\n"
        "  title Tea time\n"
        "  accDescr: A short one.\n"
        "  section Morning\n"
        "    Boil water: 2: Me\n"
        "    Pour: 4: Cat, Me\n"
    )
    # the map id 'tea' is not the slug of its title ('tea-time'): that is the only loss
    assert converted.warnings == [
        (
            "not representable in Mermaid, left out: the map id 'tea'; keep the YAML map "
            "as the source and use the Mermaid file as a picture"
        )
    ]


def test_a_map_mermaid_holds_entirely_converts_without_warnings() -> None:
    jmap = read_mermaid(WORKING_DAY, source="day.mmd")
    assert write_mermaid(jmap).warnings == []


@pytest.mark.parametrize(("score", "emotion"), [(1, -2), (2, -1), (3, 0), (4, 1), (5, 2)])
def test_score_and_emotion_map_one_to_one(score: int, emotion: int) -> None:
    assert emotion_for_score(score) == emotion
    assert score_for_emotion(emotion) == score
    read = read_mermaid(f"journey\n  section S\n    Task: {score}\n", source="s.mmd")
    assert read.stages[0].steps[0].emotion == emotion
    written = write_mermaid(read).text
    assert f"    Task: {score}\n" in written


def test_step_without_emotion_is_written_as_neutral_with_a_warning() -> None:
    jmap = _map(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {"id": "s", "name": "S", "steps": [{"id": "wait", "name": "Wait"}]},
            ],
        }
    )
    converted = write_mermaid(jmap)
    assert "    Wait: 3\n" in converted.text
    assert any(
        "1 step without a declared emotion written with score 3" in w and "'Wait'" in w
        for w in converted.warnings
    )
    assert read_mermaid(converted.text, source="j.mmd").stages[0].steps[0].emotion == 0


def test_warning_lists_exactly_what_the_map_has_that_mermaid_cannot_hold() -> None:
    jmap = _map(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "steps": [
                        {
                            "id": "a",
                            "name": "A",
                            "emotion": 1,
                            "channel": "web",
                            "pain_points": [
                                {"id": "p1", "text": "slow"},
                                {"id": "p2", "text": "dear"},
                            ],
                            "events": {"match": {"event": "view"}},
                        },
                        {"id": "b", "name": "B", "emotion": 0, "actions": ["x", "y", "z"]},
                    ],
                }
            ],
            "forks": [
                {
                    "id": "f",
                    "at": "a",
                    "question": "Q?",
                    "branches": [{"id": "x", "label": "X", "to": "b"}, {"id": "y", "label": "Y"}],
                }
            ],
            "opportunities": [{"id": "o", "title": "Fix", "addresses": ["p1"]}],
        }
    )
    warnings = write_mermaid(jmap).warnings
    assert len(warnings) == 1
    lost = warnings[0]
    for part in (
        "channel on 1 step",
        "3 actions",
        "2 pain points",
        "event rule on 1 step",
        "1 fork",
        "1 opportunity",
    ):
        assert part in lost
    # nothing the map does not have is named
    for absent in ("scope", "persona", "KPI", "stakeholder", "thought", "ids of"):
        assert absent not in lost


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Pay: card #1; now", "Pay： card ＃1； now"),
        ("line one\nline two", "line one line two"),
        ("50%% off", "50％％ off"),
        ("Title screen", '"Title screen"'),
        ("journey planning", '"journey planning"'),
        ("Section 2 review", '"Section 2 review"'),
        ("accTitle", '"accTitle"'),
        ("Plain name, with comma", "Plain name, with comma"),
    ],
)
def test_task_names_are_made_safe_for_mermaid(name: str, written: str) -> None:
    jmap = _map(
        {
            "id": "j",
            "title": "J",
            "stages": [
                {"id": "s", "name": "S", "steps": [{"id": "a", "name": name, "emotion": 0}]}
            ],
        }
    )
    converted = write_mermaid(jmap)
    assert f"    {written}: 3\n" in converted.text
    renamed = [w for w in converted.warnings if "changed" in w]
    assert bool(renamed) == (name != written)
    assert read_mermaid(converted.text, source="j.mmd").stages[0].steps[0].name == written


def test_actor_names_lose_commas_and_colons_and_section_names_colons() -> None:
    jmap = _map(
        {
            "id": "j",
            "title": "Title: with colon",
            "personas": [{"id": "p", "name": "Kim, Jieun: buyer"}],
            "stages": [
                {
                    "id": "s",
                    "name": "Stage: one",
                    "steps": [{"id": "a", "name": "A", "emotion": 0, "personas": ["p"]}],
                }
            ],
        }
    )
    text = write_mermaid(jmap).text
    # ':' is allowed in a title; it ends a section name and splits a task line
    assert "  title Title: with colon\n" in text
    assert "  section Stage： one\n" in text
    assert "    A: 3: Kim， Jieun： buyer\n" in text


def test_steps_list_their_own_personas_as_actors() -> None:
    jmap = _map(
        {
            "id": "j",
            "title": "J",
            "personas": [
                {"id": "a", "name": "Ann"},
                {"id": "b", "name": "Bo"},
                {"id": "c", "name": "Cy"},
            ],
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "steps": [
                        {"id": "x", "name": "X", "emotion": 0},
                        {"id": "y", "name": "Y", "emotion": 0, "personas": ["b", "a"]},
                    ],
                }
            ],
        }
    )
    converted = write_mermaid(jmap)
    # X lists nobody (all personas): no actors, and it reads back listing nobody
    assert "    X: 3\n    Y: 3: Bo, Ann\n" in converted.text
    back = read_mermaid(converted.text, source="j.mmd")
    assert [s.personas for _, s in back.all_steps()] == [[], ["bo", "ann"]]
    assert "1 persona not named on any step ('Cy';" in converted.warnings[0]


def test_korean_names_get_positional_unique_ids_and_lang_ko() -> None:
    text = (
        "journey\n"
        "  title 지은 씨의 구매 여정\n"
        "  section 인지\n"
        "    포털에서 검색한다: 3: 지은\n"
        "  section 구매\n"
        "    간편결제로 주문한다: 4: 지은, 상담원\n"
        "    Step 3: 2\n"
    )
    jmap = read_mermaid(text, source="ko.mmd")
    assert jmap.lang == "ko"
    assert jmap.id == "journey"
    assert [s.id for s in jmap.stages] == ["stage-1", "stage-2"]
    # Korean names get ids by position; 'Step 3' is mostly ASCII and slugs to 'step-3' itself
    assert [step.id for _, step in jmap.all_steps()] == ["step-1", "step-2", "step-3"]
    assert [(p.id, p.name) for p in jmap.personas] == [
        ("persona-1", "지은"),
        ("persona-2", "상담원"),
    ]
    assert write_mermaid(jmap).text == text


def test_duplicate_names_get_numbered_ids() -> None:
    text = "journey\n  section A\n    Go: 3\n    Go: 4\n  section A\n    go!: 5\n"
    jmap = read_mermaid(text, source="d.mmd")
    assert [s.id for s in jmap.stages] == ["a", "a-2"]
    assert [step.id for _, step in jmap.all_steps()] == ["go", "go-2", "go-3"]


def test_comments_directives_front_matter_and_indentation_are_accepted() -> None:
    text = (
        "---\n"
        "title: From front matter\n"
        "---\n"
        "%%{init: {'theme': 'forest'}}%%\n"
        "\n"
        "journey\n"
        "%% a comment line\n"
        "section Start   # a trailing comment\n"
        "\t\tWake up: 4: Me   # comment after the actors\n"
        "        \n"
        "  accDescr: Uses #hash; and semicolons\n"
        "Stretch:2\n"
    )
    jmap = read_mermaid(text, source="c.mmd")
    assert jmap.title == "From front matter"
    assert jmap.description == "Uses #hash; and semicolons"
    assert [(s.name, s.emotion) for _, s in jmap.all_steps()] == [("Wake up", 1), ("Stretch", -1)]
    assert jmap.stages[0].steps[0].personas == ["me"]


def test_a_multi_line_description_uses_an_accdescr_block() -> None:
    jmap = _map(
        {
            "id": "j",
            "title": "J",
            "description": "First line\n  indented second}",
            "stages": [{"id": "s", "name": "S", "steps": [{"id": "a", "name": "A", "emotion": 0}]}],
        }
    )
    converted = write_mermaid(jmap)
    assert "  accDescr {\nFirst line\n  indented second｝\n  }\n" in converted.text
    assert read_mermaid(converted.text, source="j.mmd").description == (
        "First line\n  indented second｝"
    )
    assert any("description" in w for w in converted.warnings)


def test_tasks_before_any_section_go_to_an_unnamed_first_stage() -> None:
    # Mermaid itself files such tasks under an empty section name, drawn first
    jmap = read_mermaid("journey\n  Early: 4\n  section Later\n    Late: 2\n", source="e.mmd")
    assert [s.name for s in jmap.stages] == [UNNAMED_SECTION, "Later"]
    assert [s.name for s in jmap.stages[0].steps] == ["Early"]


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("journey\n  section S\n    Task: 7: Me\n", 3, 11, "score 7 is out of range"),
        ("journey\n  section S\n    Task: 0\n", 3, 11, "score 0 is out of range"),
        ("journey\n  section S\n    Task:  high\n", 3, 12, "score 'high' is not a whole number"),
        ("journey\n  section S\n    Task: 2.5\n", 3, 11, "not a whole number"),
        ("journey\n  section S\n    Just words\n", 3, 5, "not a task, title or section"),
        ("journey\n  section S\n    : 3\n", 3, 5, "no name"),
        ("journey\n  section S\n    Pay; now: 3\n", 3, 8, "';' cannot be used"),
        ("journey\n  section S: sub\n    A: 3\n", 2, 12, "cannot contain ':'"),
        ("journey\n  section Empty\n  section S\n    A: 3\n", 2, 3, "has no tasks"),
        ("journey\n  section S\n    A: 3: Me,\n", 3, 14, "empty actor name"),
        ("journey\n  section S\n    A: 3: Me: extra\n", 3, 13, "at most two ':'"),
        ("graph TD\n  A --> B\n", 1, 1, "expected 'journey'"),
        ("journey\n  title One\n  title Two\n  section S\n    A: 3\n", 3, 3, "a second title"),
        ("journey\n  journey\n", 2, 3, "only once"),
        ("journey\n", 1, 1, "no tasks"),
        ("", 1, 1, "no 'journey' line"),
    ],
)
def test_bad_input_is_reported_at_its_line_and_column(
    text: str, line: int, column: int, fragment: str
) -> None:
    with pytest.raises(MapValidationError) as caught:
        read_mermaid(text, source="bad.mmd")
    problem = caught.value.problems[0]
    assert problem.location == Location("bad.mmd", line, column)
    assert fragment in problem.message
    assert problem.hint
    assert str(problem).startswith(f"bad.mmd:{line}:{column}: ")


def test_every_problem_is_reported_at_once() -> None:
    text = "journey\n  section S\n    A: 9\n    B; x: 3\n    C\n"
    with pytest.raises(MapValidationError) as caught:
        read_mermaid(text, source="bad.mmd")
    assert [p.location.line for p in caught.value.problems if p.location] == [3, 4, 5]


# --- round trips ----------------------------------------------------------------------


def _clean(name: str, chars: str) -> str:
    """An independent restatement of the documented name rules."""
    parts = [p.strip() for p in re.split(r"[\r\n]", name)]
    out = " ".join(p for p in parts if p)
    for char, wide in zip(":#;,", "：＃；，", strict=True):
        if char in chars:
            out = out.replace(char, wide)
    return out


def _clean_task(name: str) -> str:
    out = _clean(name, ":#;").replace("%%", "％％")
    lower = out.lower()
    keyword = (
        lower.startswith("journey")
        or re.match(r"(title|section)\s", lower) is not None
        or re.fullmatch(r"acctitle\s*", lower) is not None
        or re.match(r"accdescr\s*($|\{)", lower) is not None
    )
    return f'"{out}"' if keyword else out


def _mermaid_view(jmap: JourneyMap) -> tuple[object, ...]:
    """What Mermaid holds of a map, computed from the original."""
    names = {p.id: _clean(p.name or p.id, ":#;,") for p in jmap.personas}
    stages = tuple(
        (
            _clean(stage.name, ":#;"),
            tuple(
                (
                    _clean_task(step.name),
                    step.emotion or 0,
                    tuple(names[p] for p in step.personas),
                )
                for step in stage.all_steps()
            ),
        )
        for stage in jmap.stages
    )
    return (_clean(jmap.title, "#;"), stages)


def _read_view(jmap: JourneyMap) -> tuple[object, ...]:
    """The same view of a map read back from Mermaid (its steps list personas by id)."""
    names = {p.id: p.name for p in jmap.personas}
    stages = tuple(
        (
            stage.name,
            tuple(
                (step.name, step.emotion, tuple(names[p] for p in step.personas))
                for step in stage.all_steps()
            ),
        )
        for stage in jmap.stages
    )
    return (jmap.title, stages)


def _check_round_trip(jmap: JourneyMap) -> None:
    converted = write_mermaid(jmap)
    back = read_mermaid(converted.text, source="m.mmd")
    assert _read_view(back) == _mermaid_view(jmap)
    assert (back.description or None) == (
        jmap.description.replace("}", "｝").replace("%%", "％％")
        if jmap.description and "\n" in jmap.description
        else jmap.description or None
    )
    # canonical text is a fixed point: write(read(text)) == text
    assert write_mermaid(back).text == converted.text
    # the map read back holds nothing Mermaid cannot: converting it again loses nothing
    assert write_mermaid(back).warnings == []


@PROPERTY
@given(journey_maps())
def test_generated_maps_survive_mermaid_as_far_as_mermaid_holds_them(jmap: JourneyMap) -> None:
    _check_round_trip(jmap)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_maps_survive_mermaid_as_far_as_mermaid_holds_them(path: Path) -> None:
    _check_round_trip(load_map(path))


# --- registration and the command line ------------------------------------------------


@pytest.mark.parametrize("suffix", [".mmd", ".mermaid"])
def test_mermaid_is_registered_by_suffix(suffix: str) -> None:
    assert format_of(f"map{suffix}") is FORMATS["mermaid"]


def test_convert_command_writes_mermaid_and_warns_on_stderr(tmp_path: Path) -> None:
    jmap = _map(
        {
            "id": "tea",
            "title": "Tea",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "steps": [
                        {
                            "id": "boil",
                            "name": "Boil",
                            "emotion": 1,
                            "pain_points": [{"id": "slow", "text": "Slow kettle"}],
                        }
                    ],
                }
            ],
        }
    )
    source = tmp_path / "map.yaml"
    source.write_text(dump_map(jmap), encoding="utf-8")
    target = tmp_path / "map.mmd"
    result = CliRunner().invoke(app, ["convert", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "1 pain point" in result.stderr
    assert "warning" in result.stderr
    assert target.read_text(encoding="utf-8") == "journey\n  title Tea\n  section S\n    Boil: 4\n"


def test_convert_command_reports_located_mermaid_errors(tmp_path: Path) -> None:
    source = tmp_path / "bad.mmd"
    source.write_text("journey\n  section S\n    Boil: 6\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["convert", str(source), "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert f"{source}:3:11: " in result.stderr
    assert "Traceback" not in result.stderr


def test_the_documented_example_reads_and_is_written_back_as_is() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "interchange.md").read_text(encoding="utf-8")
    example = doc.split("```mermaid\n", 1)[1].split("```", 1)[0]
    jmap = read_mermaid(example, source="interchange.md")
    assert [p.name for p in jmap.personas] == ["Carla", "Sam"]
    assert write_mermaid(jmap).text == example


_LINES = st.sampled_from(
    [
        "journey",
        "  title T",
        "  section S",
        "    A: 3: Me",
        "    B: 9",
        "    C",
        "  %% c",
        "# c",
        "accDescr: d",
        "accDescr {",
        "}",
        "accTitle: t",
        "    D: 2: ",
        "  section",
        "title",
        "---",
        "    x%%y: 3",
        "    E: 1: A, B: C",
        ";",
        "    가나: 5: 다",
        "",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINES, max_size=12))
def test_any_text_reads_as_a_map_or_located_problems(lines: list[str]) -> None:
    try:
        jmap = read_mermaid("\n".join(lines), source="f.mmd")
    except MapValidationError as exc:
        assert exc.problems
        assert all(p.location is not None and p.location.file == "f.mmd" for p in exc.problems)
    else:
        text = write_mermaid(jmap).text
        assert write_mermaid(read_mermaid(text, source="f.mmd")).text == text
