"""Guards on the shape of the code: the pure core stays pure, the public API is declared,
every command is documented, and importing the CLI stays light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "journeymap"
PURE = ("model", "analytics", "insights", "render", "sentiment")
FORBIDDEN_IMPORTS = (
    "duckdb",
    "pyspark",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "httpx",
    "socket",
    "subprocess",
    "shutil",
    "tempfile",
    "yaml",
    "weasyprint",
    "playwright",
    "vl_convert",
    "journeymap.io",
    "journeymap.cli",
    "journeymap.engines",
    "journeymap.store",
    "journeymap.web",
    "journeymap.config",
)
FORBIDDEN_CALLS = {"open", "write_text", "write_bytes", "mkdir", "unlink", "touch", "rmdir"}
EXECUTING_CALLS = {"execute", "to_pyarrow", "to_pandas", "to_polars", "to_parquet", "to_csv"}


def pure_modules() -> list[Path]:
    return sorted(p for room in PURE for p in (PACKAGE / room).rglob("*.py"))


def imported_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def called_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id)
            elif isinstance(func, ast.Attribute):
                names.append(func.attr)
    return names


@pytest.mark.parametrize("room", PURE)
def test_every_pure_room_carries_the_same_ruff_ban_list(room: str) -> None:
    reference = (PACKAGE / "model" / "ruff.toml").read_text(encoding="utf-8")
    assert (PACKAGE / room / "ruff.toml").read_text(encoding="utf-8") == reference
    for name in FORBIDDEN_IMPORTS:
        assert f'"{name}".msg' in reference


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_imports_no_adapter_and_writes_no_file(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in imported_names(tree):
        banned = [f for f in FORBIDDEN_IMPORTS if name == f or name.startswith(f + ".")]
        assert not banned, f"{path.name} imports {name}"
    calls = set(called_names(tree))
    assert not calls & FORBIDDEN_CALLS, f"{path.name} calls {calls & FORBIDDEN_CALLS}"
    if "analytics" in path.parts or "insights" in path.parts:
        assert not calls & EXECUTING_CALLS, f"{path.name} executes: {calls & EXECUTING_CALLS}"


def test_the_ban_rule_is_live(tmp_path: Path) -> None:
    """ruff really refuses an engine import inside the pure core (not just a test)."""
    probe = PACKAGE / "model" / "_architecture_probe.py"
    probe.write_text("import duckdb\n\nprint(duckdb)\n", encoding="utf-8")
    try:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), "check", "--no-cache", str(probe)],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        probe.unlink()
    assert result.returncode == 1
    assert "TID251" in result.stdout and "`duckdb` is banned" in result.stdout


def public_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module_name", public_modules())
def test_public_modules_declare_their_api(module_name: str) -> None:
    module = importlib.import_module(module_name)
    if module_name.startswith("journeymap.cli") or module_name == "journeymap":
        return
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ names what it lacks: {missing}"


def cli_commands() -> list[str]:
    from journeymap.cli.app import app

    group = typer.main.get_command(app)
    names: list[str] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            names += [f"{name} {sub}" for sub in subcommands]
        else:
            names.append(name)
    return sorted(names)


@pytest.mark.parametrize("command", cli_commands())
def test_every_command_has_help_and_a_docs_entry(command: str) -> None:
    from journeymap.cli.app import app

    group = typer.main.get_command(app)
    target = group
    for part in command.split():
        target = target.commands[part]  # type: ignore[attr-defined]
    assert target.help and len(target.help.strip()) > 20, f"'{command}' has no help text"
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"## journeymap {command}" in docs, f"docs/cli.md has no section for '{command}'"


def test_importing_the_cli_loads_no_heavy_optional_piece() -> None:
    code = (
        "import sys, journeymap.cli.app\n"
        "heavy = {'pyspark', 'weasyprint', 'playwright', 'kiwipiepy', 'fastapi', 'altair'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
