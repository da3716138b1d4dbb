"""The long CSV layout: a known table, located errors, lossless round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.errors import JourneyError, Location, MapFormatError, MapValidationError
from journeymap.io.convert import FORMATS, format_of
from journeymap.io.longcsv import COLUMNS, read_long_csv, write_long_csv
from journeymap.io.maps import load_map
from journeymap.model import JourneyMap
from map_strategies import journey_maps

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _map(data: dict[str, object]) -> JourneyMap:
    return JourneyMap.model_validate({"schema": "journeymap/1", **data})


TEA = _map(
    {
        "id": "tea",
        "title": "Tea, please",
        "lang": "ko",
        "personas": [{"id": "me", "name": "Me", "goals": ["Hot tea"]}],
        "stages": [
            {
                "id": "morning",
                "name": "Morning",
                "kpis": [{"name": "CSAT", "target": 4.5}],
                "steps": [
                    {
                        "id": "boil",
                        "name": "Boil",
                        "emotion": -1,
                        "duration": "3m",
                        "actions": [
                            "Fill the kettle",
                            {"text": "=Check", "evidence": [{"kind": "survey"}]},
                        ],
                        "events": {"match": {"event": "kettle_on"}},
                    }
                ],
                "substages": [
                    {
                        "id": "pour-part",
                        "name": "Pouring",
                        "steps": [{"id": "pour", "name": "Pour\nslowly", "offline": True}],
                    }
                ],
            }
        ],
        "opportunities": [{"id": "faster", "title": "Faster kettle", "addresses": ["boil"]}],
    }
)

# Field order follows the document; defaults (metric 'custom', confidence 'assumed',
# status 'idea') are left out; '=Check' gets the formula guard; "Pour\nslowly" and
# "Tea, please" are quoted.
TEA_CSV = """\
kind,stage,step,id,lane,index,field,value
map,,,,,,schema,journeymap/1
map,,,,,,id,tea
map,,,,,,title,"Tea, please"
map,,,,,,lang,ko
persona,,,me,,,name,Me
persona,,,me,goals,0,,Hot tea
stage,morning,,,,,name,Morning
stage,morning,,,kpis,0,name,CSAT
stage,morning,,,kpis,0,target,4.5
step,morning,boil,,,,name,Boil
step,morning,boil,,actions,0,text,Fill the kettle
step,morning,boil,,actions,1,text,'=Check
step,morning,boil,,actions,1,evidence.0.kind,survey
step,morning,boil,,,,emotion,-1
step,morning,boil,,,,duration,3m
step,morning,boil,,,,events,"{""match"": {""event"": ""kettle_on""}}"
substage,morning,,pour-part,,,name,Pouring
step,morning,pour,,,,substage,pour-part
step,morning,pour,,,,name,"Pour
slowly"
step,morning,pour,,,,offline,true
opportunity,,,faster,,,title,Faster kettle
opportunity,,,faster,addresses,0,,boil
"""


def test_writes_a_known_map_as_a_known_table() -> None:
    converted = write_long_csv(TEA)
    assert converted.text == TEA_CSV
    assert converted.warnings == []


def test_reads_the_known_table_back_to_the_same_map() -> None:
    assert read_long_csv(TEA_CSV, source="tea.csv") == TEA


def test_reads_a_hand_edited_spreadsheet_export() -> None:
    # what a spreadsheet may hand back: a byte-order mark, CRLF, columns moved,
    # blank rows, a step's rows apart, list items out of order, Korean text
    text = (
        "\ufeffkind,stage,step,id,lane,index,value,field\r\n"
        "map,,,,,,journeymap/1,schema\r\n"
        "map,,,,,,air,id\r\n"
        "map,,,,,,공기청정기 구매,title\r\n"
        ",,,,,,,\r\n"
        "stage,search,,,,,인지,name\r\n"
        "step,search,portal,,,,포털에서 검색한다,name\r\n"
        "step,search,portal,,actions,1,두 번째,text\r\n"
        "step,search,portal,,actions,0,첫 번째,text\r\n"
        "stage,buy,,,,,구매,name\r\n"
        "step,buy,pay,,,,결제,name\r\n"
        "step,search,portal,,,,2,emotion\r\n"
        "step,buy,pay,,,,TRUE,key_transaction\r\n"
    )
    expected = _map(
        {
            "id": "air",
            "title": "공기청정기 구매",
            "stages": [
                {
                    "id": "search",
                    "name": "인지",
                    "steps": [
                        {
                            "id": "portal",
                            "name": "포털에서 검색한다",
                            "actions": ["첫 번째", "두 번째"],
                            "emotion": 2,
                        }
                    ],
                },
                {
                    "id": "buy",
                    "name": "구매",
                    "steps": [{"id": "pay", "name": "결제", "key_transaction": True}],
                },
            ],
        }
    )
    assert read_long_csv(text, source="air.csv") == expected


def test_writes_utf8_text_without_a_byte_order_mark() -> None:
    text = write_long_csv(
        _map({"id": "k", "title": "한국어 지도", "stages": TEA.model_dump()["stages"]})
    ).text
    assert not text.startswith("\ufeff")
    assert "map,,,,,,title,한국어 지도\n" in text


@pytest.mark.parametrize(
    ("target", "cell"),
    [
        (4.5, "4.5"),
        (5.0, "5"),
        (0.1, "0.1"),
        ("5", '"""5"""'),  # a text that looks like a number is JSON-quoted, then CSV-quoted
        ("about 5", "about 5"),
        ('"quoted"', '"""\\""quoted\\"""""'),
    ],
)
def test_kpi_targets_keep_number_or_text(target: float | str, cell: str) -> None:
    jmap = _map(
        {
            "id": "k",
            "title": "K",
            "stages": [
                {
                    "id": "s",
                    "name": "S",
                    "kpis": [{"name": "CSAT", "target": target}],
                    "steps": [{"id": "a", "name": "A"}],
                }
            ],
        }
    )
    text = write_long_csv(jmap).text
    assert f"stage,s,,,kpis,0,target,{cell}\n" in text
    back = read_long_csv(text, source="k.csv")
    assert back == jmap
    assert type(back.stages[0].kpis[0].target) is type(target)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=HYPERLINK(x)", "'=HYPERLINK(x)"),
        ("+82 10", "'+82 10"),
        ("-3 items", "'-3 items"),
        ("@home", "'@home"),
        ("'=already", "''=already"),
        ("'''", "''''"),
        ("'plain quote'", "'plain quote'"),
    ],
)
def test_formula_starts_are_guarded_and_unguarded(text: str, cell: str) -> None:
    jmap = _map(
        {
            "id": "k",
            "title": "K",
            "stages": [{"id": "s", "name": "S", "steps": [{"id": "a", "name": text}]}],
        }
    )
    written = write_long_csv(jmap).text
    assert f"step,s,a,,,,name,{cell}\n" in written
    assert read_long_csv(written, source="k.csv").stages[0].steps[0].name == text


@pytest.mark.parametrize(
    "text",
    [
        "Pour\r\nslowly",
        'She said "no", twice',
        "tab\tinside",
        "첫 구매: 결제 #1; 완료",
        'ends with a quote"',
        '{"looks": "like JSON"}',
        "multi\n\nparagraph",
    ],
)
def test_awkward_text_survives_the_table(text: str) -> None:
    jmap = _map(
        {
            "id": "k",
            "title": "K",
            "stages": [
                {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A", "thoughts": [text]}]}
            ],
        }
    )
    back = read_long_csv(write_long_csv(jmap).text, source="k.csv")
    assert back.stages[0].steps[0].thoughts[0].text == text


BASE = """\
kind,stage,step,id,lane,index,field,value
map,,,,,,schema,journeymap/1
map,,,,,,id,j
map,,,,,,title,J
stage,s,,,,,name,S
step,s,a,,,,name,A
"""


@pytest.mark.parametrize(
    ("row", "column", "fragment", "hint"),
    [
        ("stepp,s,a,,,,name,A", 1, "unknown kind 'stepp'", "did you mean 'step'?"),
        ("step,s,a,,,,emotion,high", 8, "'high' is not a whole number", "digits"),
        ("step,s,a,,,,emotion,7", 8, "emotion 7 is out of range", "-2"),
        ("step,s,a,,,,emoton,1", 7, "has no field 'emoton'", "did you mean 'emotion'?"),
        ("step,t,b,,,,name,B", 2, "stage 't', which has no rows", "stage,t"),
        ("step,s,a,,,,actions,Hi", 7, "'actions' is a list", "lane 'actions'"),
        ("step,s,a,,actions,x,text,Hi", 6, "index 'x' is not a whole number", "0, 1"),
        ("step,s,a,,emotion,0,,1", 5, "'emotion' is not a list", "leave 'lane'"),
        ("step,s,a,,,,name,Again", 7, "a second value for 'name' (the first is on row 6)", "keep"),
        ("step,s,a,,,,events,{match", 8, "'events' is not valid JSON", "match"),
        ("persona,s,,p,,,name,P", 2, "nothing in column 'stage'", "clear the cell"),
        ("step,s,,,,,name,B", 3, "needs the step id", "'step'"),
        ("step,s,a,,,,duration,soon", 8, "'soon' is not a duration", "2h"),
        ("step,s,a,,,,at,tomorrow", 8, "'tomorrow' is not a date", "2026-11-20"),
        ("step,s,a,,,,offline,maybe", 8, "'maybe' is not true or false", "true"),
        ("step,s,a,,,,substage,nope", 8, "names sub-stage 'nope'", "substage,s,,nope"),
        ("step,s,a,,,,id,b", 7, "has no field 'id'", "column 'step'"),
        ("step,s,a,,,,,x", 7, "names no field", "fill in 'field'"),
        ("step,s,a,,,,milestone,M,extra", 9, "outside the 8 columns", "delete"),
        ("step,s,a,,personas,0,,ghost", 8, "refers to persona 'ghost'", "define"),
        ("step,s,a,,personas,0,,Not An Id", 8, "is not a valid id", "not-an-id"),
        ("step,s,a,,pain_points,0,,x", 7, "which field of the PainPoint?", "text"),
    ],
)
def test_a_bad_row_is_reported_at_its_row_and_column(
    row: str, column: int, fragment: str, hint: str
) -> None:
    with pytest.raises(MapValidationError) as caught:
        read_long_csv(BASE + row + "\n", source="bad.csv")
    problem = caught.value.problems[0]
    # the bad row is the seventh: the header, five good rows, then it
    assert problem.location == Location("bad.csv", 7, column)
    assert fragment in problem.message
    assert problem.hint is not None and hint in problem.hint
    assert str(problem).startswith(f"bad.csv:7:{column}: row 7, column {column} ")


def test_every_bad_row_is_reported_at_once() -> None:
    rows = "step,s,a,,,,emotion,x\nstep,s,a,,,,emoton,1\nstep,s,a,,,,offline,maybe\n"
    with pytest.raises(MapValidationError) as caught:
        read_long_csv(BASE + rows, source="bad.csv")
    assert [(p.location.line, p.location.column) for p in caught.value.problems if p.location] == [
        (7, 8),
        (8, 7),
        (9, 8),
    ]


def test_an_unknown_header_column_is_located_with_a_suggestion() -> None:
    text = "kind,stage,step,id,lane,index,feild,value\nmap,,,,,,id,j\n"
    with pytest.raises(MapValidationError) as caught:
        read_long_csv(text, source="h.csv")
    first, second = caught.value.problems
    assert first.location == Location("h.csv", 1, 7)
    assert first.hint == "did you mean 'field'?"
    assert "missing column: field" in second.message


def test_a_map_without_map_rows_says_which_rows_to_add() -> None:
    with pytest.raises(MapValidationError) as caught:
        read_long_csv("kind,stage,step,id,lane,index,field,value\nstage,s,,,,,name,S\n")
    assert "no 'map' rows" in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no header row"),
        ('kind,stage,step,id,lane,index,field,value\nmap,,,,,,title,"J\n', "row 2"),
    ],
)
def test_text_that_is_not_csv_is_a_format_error(text: str, fragment: str) -> None:
    with pytest.raises(MapFormatError, match=fragment):
        read_long_csv(text, source="x.csv")


def test_the_columns_are_those_documented() -> None:
    assert ",".join(COLUMNS) == "kind,stage,step,id,lane,index,field,value"
    assert TEA_CSV.splitlines()[0] == ",".join(COLUMNS)


# --- round trips ----------------------------------------------------------------------


@PROPERTY
@given(journey_maps())
def test_generated_maps_survive_csv_unchanged(jmap: JourneyMap) -> None:
    text = write_long_csv(jmap).text
    assert read_long_csv(text, source="m.csv") == jmap
    assert write_long_csv(read_long_csv(text, source="m.csv")).text == text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_maps_survive_csv_unchanged(path: Path) -> None:
    jmap = load_map(path)
    assert read_long_csv(write_long_csv(jmap).text, source="m.csv") == jmap


def test_csv_is_registered_by_suffix() -> None:
    assert format_of("map.csv") is FORMATS["csv"]


def test_convert_command_reads_csv_into_yaml(tmp_path: Path) -> None:
    source = tmp_path / "map.csv"
    source.write_text(TEA_CSV, encoding="utf-8")
    target = tmp_path / "back.yaml"
    result = CliRunner().invoke(app, ["convert", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output + result.stderr
    assert load_map(target) == TEA


def test_convert_command_reports_located_csv_errors(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(BASE + "step,s,a,,,,emotion,9\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["convert", str(source), "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert f"{source}:7:8: row 7, column 8 (value)" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_documented_example_reads_and_is_written_back_as_is() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "interchange.md").read_text(encoding="utf-8")
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    jmap = read_long_csv(example, source="interchange.md")
    assert jmap.step("visit-site").pain_points[0].severity == 4
    assert write_long_csv(jmap).text == example


_CELLS = st.sampled_from(
    [
        "",
        "map",
        "step",
        "stage",
        "substage",
        "persona",
        "fork",
        "s",
        "a",
        "p",
        "name",
        "emotion",
        "actions",
        "pain_points",
        "0",
        "7",
        "x",
        "text",
        "evidence.0.kind",
        "evidence.x",
        "{",
        "[]",
        '"',
        "journeymap/1",
        "id",
        "title",
        "substage",
        "-1",
        "1e400",
        "branches",
        "schema",
        "true",
        "2026-13-01",
        "nan",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_CELLS, max_size=9), max_size=10))
def test_any_table_reads_as_a_map_or_located_problems(rows: list[list[str]]) -> None:
    text = ",".join(COLUMNS) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    try:
        jmap = read_long_csv(text, source="f.csv")
    except MapValidationError as exc:
        assert exc.problems
        assert all(p.location is not None and p.location.file == "f.csv" for p in exc.problems)
    except JourneyError:
        pass
    else:
        assert read_long_csv(write_long_csv(jmap).text, source="f.csv") == jmap
