"""``journeymap demo`` (what ``make demo`` runs): the demo company from data to report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.io.examples import example_maps
from journeymap.io.maps import load_map
from journeymap.render import VIEWS


@pytest.mark.slow
def test_demo_imports_analyses_and_writes_the_report_and_the_examples(tmp_path: Path) -> None:
    from journeymap.insights import load_evidenced

    args = ["demo", "-o", str(tmp_path), "--customers", "400", "--seed", "5", "--no-pdf"]
    result = CliRunner().invoke(app, [*args, "--no-png"])
    assert result.exit_code == 0, result.output
    for name in ("events", "identity_links", "feedback", "customers"):
        assert (tmp_path / "data" / f"{name}.parquet").is_file()
    for name in ("report.html", "map.svg", "map.html", "ridgeway-backpack.evidenced.json"):
        assert (tmp_path / name).is_file(), name
    ev = load_evidenced(
        json.loads((tmp_path / "ridgeway-backpack.evidenced.json").read_text(encoding="utf-8"))
    )
    # the demo asks the global question: payment method and support channel by country
    assert [p.dimension for p in ev.preferences] == ["payment method", "support channel"]
    assert {p.group_by for p in ev.preferences} <= {"country", "region"}
    # identities were stitched before the analysis
    assert any("stitched" in note for note in ev.notes)
    assert ev.snapshot.feedback > 0
    assert "written to" in result.output and "report.html" in result.output
    # the per-example outputs are kept, under examples/
    names = {p.name for p in (tmp_path / "examples").iterdir()}
    for path in example_maps():
        expected = {f"{path.stem}.{view}.html" for view in VIEWS} | {
            f"{path.stem}.json",
            f"{path.stem}.mmd",
            f"{path.stem}.csv",
            f"{path.stem}.normalised.yaml",
        }
        assert expected <= names, expected - names
        assert load_map(tmp_path / "examples" / f"{path.stem}.json") == load_map(path)
    # a second run starts from a fresh workspace instead of failing on the old one
    again = CliRunner().invoke(app, [*args, "--no-png", "--no-examples"])
    assert again.exit_code == 0, again.output


def test_demo_refuses_an_output_whose_workspace_folder_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["demo", "-o", str(tmp_path), "--customers", "100", "--no-pdf", "--no-png"]
    )
    assert result.exit_code == 1
    assert "is not a journeymap workspace" in result.output
    assert (tmp_path / "workspace" / "notes.txt").read_text(encoding="utf-8") == "mine"
