"""The README's quickstart runs exactly as written, so it cannot rot."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app

README = Path(__file__).parents[1] / "README.md"


def console_blocks(text: str) -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"```console\n(.*?)```", text, re.S)]


def steps(block: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(command words, expected output lines) for each `$ journeymap` line of a block."""
    command: list[str] | None = None
    expected: list[str] = []
    for line in block:
        if line.startswith("$ "):
            if command is not None:
                yield command, expected
            command, expected = shlex.split(line[2:]), []
        elif command is not None and line.strip():
            expected.append(line.strip())
    if command is not None:
        yield command, expected


def test_readme_has_the_two_commands_first() -> None:
    blocks = console_blocks(README.read_text(encoding="utf-8"))
    first = [line.split("#")[0].strip() for line in blocks[0]]
    assert first == ["make demo", "make test"]


def test_readme_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = console_blocks(README.read_text(encoding="utf-8"))
    quickstart = [s for block in blocks[1:] for s in steps(block)]
    assert len(quickstart) >= 5
    shutil.copytree(README.parent / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command, expected in quickstart:
        assert command[0] == "journeymap", command
        result = runner.invoke(app, command[1:])
        shown = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == 0, (command, shown)
        for line in expected:
            assert line in shown, (command, line, shown)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert "shoes.yaml" in written and "신발.yaml" in written
