"""Run the benchmarks (``make bench``): measurements, not tests; nothing fails on time.

- ``python -m benchmarks`` (what ``make bench`` runs): the full analysis at 1M and 10M
  events, journeymap against every peer (see :mod:`benchmarks.full`);
- ``python -m benchmarks full [--events 10M] [--with-50m] [--repeat 3] ...``: the same
  with options (``python -m benchmarks full --help``);
- ``python -m benchmarks NAME [NAME ...]``: the older single-purpose benchmarks
  (``funnel``, ``paths``, ``demo``). Every ``benchmarks/bench_*.py`` module exposes
  ``run() -> list[dict]``: one dict per measurement, printed as a table.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent


def discover() -> list[str]:
    """Names of the benchmark modules (``demo`` for ``bench_demo.py``), sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def render(name: str, rows: Sequence[dict[str, Any]], seconds: float) -> Table:
    """One benchmark's rows as a table (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    table = Table(title=f"{name} ({seconds:.0f} s)", title_justify="left")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] == "full":
        sys.path.insert(0, str(HERE.parent))
        from benchmarks.full import main as full

        return full(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {discover()})"
    )
    args = parser.parse_args(argv)
    known = discover()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; benchmarks are: {', '.join(known)}")
    # a wide table stays readable when the output goes to a file or a CI log
    console = Console() if sys.stdout.isatty() else Console(width=160)
    cores = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(
        f"python {platform.python_version()} on {platform.machine()}, {cores} cores, "
        f"load average {load}"
    )
    sys.path.insert(0, str(HERE.parent))
    for name in args.names or known:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        rows = module.run()
        console.print(render(name, rows, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
