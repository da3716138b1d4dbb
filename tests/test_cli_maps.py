"""The map commands, run in-process: exit codes, located messages, no tracebacks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeymap import __version__
from journeymap.cli.app import app

FIXTURES = Path(__file__).parent / "fixtures" / "maps"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"journeymap {__version__}"


def test_validate_ok_reports_counts(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(FIXTURES / "minimal.yaml")])
    assert result.exit_code == 0, result.output
    assert "1 stages, 1 steps, 0 personas" in result.output


def test_validate_lists_five_mistakes_and_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(FIXTURES / "five-mistakes.yaml")])
    assert result.exit_code == 1
    located = [line for line in result.stderr.splitlines() if re.search(r"\.yaml:\d+:\d+: ", line)]
    assert len(located) == 5
    assert "Traceback" not in result.output + result.stderr


def test_validate_keeps_going_after_a_bad_file(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["validate", str(missing), str(FIXTURES / "minimal.yaml")])
    assert result.exit_code == 1
    assert f"{missing}: no such file" in result.stderr
    assert "ok " in result.output


def test_strict_turns_warnings_into_failures(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "id: w\ntitle: W\nstages: [{id: s, name: S, steps: [{id: a, name: A}]}]\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    strict = runner.invoke(app, ["validate", "--strict", str(path)])
    assert strict.exit_code == 1
    assert "add 'schema: journeymap/1'" in strict.stderr


def test_debug_shows_the_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.exception is not None
    assert "no such file" in str(result.exception)


def test_schema_prints_json_schema(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["properties"]["schema"] == {
        "const": "journeymap/1",
        "description": "Document format version.",
    }
    out = tmp_path / "s.json"
    assert runner.invoke(app, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema


def test_convert_yaml_to_json_and_back(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "m.yaml"
    shutil.copy(FIXTURES / "minimal.yaml", source)
    result = runner.invoke(app, ["convert", str(source), "-o", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert data["stages"][0]["steps"][0]["id"] == "first"
    back = runner.invoke(app, ["convert", str(tmp_path / "m.json"), "--to", "yaml"])
    assert back.exit_code == 0
    assert back.stdout == source.read_text(encoding="utf-8")


def test_convert_unknown_extension_says_what_is_known(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["convert", str(FIXTURES / "minimal.yaml"), "-o", str(tmp_path / "m.docx")]
    )
    assert result.exit_code == 1
    assert "cannot tell the format from '.docx'" in result.stderr
    assert ".yaml" in result.stderr
