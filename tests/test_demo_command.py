"""``journeymap demo`` (what ``make demo`` runs) on the shipped examples."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.io.examples import example_maps
from journeymap.io.maps import load_map
from journeymap.render import VIEWS


def test_demo_writes_every_format_and_view_for_every_example(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "-o", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    for path in example_maps():
        expected = {f"{path.stem}.{view}.html" for view in VIEWS} | {
            f"{path.stem}.json",
            f"{path.stem}.mmd",
            f"{path.stem}.csv",
            f"{path.stem}.normalised.yaml",
        }
        assert expected <= names, expected - names
        # What the demo wrote reads back as the same map.
        assert load_map(tmp_path / f"{path.stem}.json") == load_map(path)
    assert len(example_maps()) == 3
