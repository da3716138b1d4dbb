"""The full analysis, journeymap against every peer: ``python -m benchmarks full``.

For each log size (``--events 1M,10M``; ``--with-50m`` adds 50M) every contender of
:mod:`benchmarks.contenders` runs ``--repeat`` times (default 3), each time as a fresh
process, from the Parquet file to its results. Printed per contender: the whole
process's wall time (interpreter start and imports included; min, median, max), the
analysis alone (median), the peak resident memory, the ratio of the contender's median
process time to journeymap's (``x journeymap`` above 1: journeymap is faster), and
whether its answers equal journeymap's (``agree``: every DFG edge count, median and p90,
the variant counts, start/end activities, funnel counts and medians and stage-time
figures that both computed). The load average before each size is printed too: the
machine is shared, so read min/median/max with it.

Logs are generated once and cached under ``benchmarks/.data/`` (git-ignored). The
peers (pm4py, Polars, pandas) run in ``.bench-venv``, created on first use with uv from
``benchmarks/peers.txt``; pass ``--no-peers`` to skip them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.contenders import CONTENDERS, PEERS
from benchmarks.data import DATA_FOLDER, cached_log, parse_size

__all__ = ["Measurement", "compare", "main", "measure"]

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".bench-venv"
PEERS_FILE = Path(__file__).with_name("peers.txt")
WORKSPACE_CONTENDERS = ("journeymap_ws",)


@dataclass(frozen=True)
class Measurement:
    """One contender at one size: its repeated runs and its answers."""

    contender: str
    events: int
    process_secs: list[float]
    analysis_secs: list[float]
    peak_rss_mb: float
    results: dict[str, Any]
    error: str | None = None


def _uv() -> str:
    for candidate in (ROOT / ".tools" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("uv is needed to create .bench-venv: install it or put it in .tools/uv")


def ensure_peer_venv() -> Path:
    """The benchmark environment's Python, created with uv from peers.txt on first use."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".peers.txt"
    wanted = PEERS_FILE.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    env = dict(os.environ, UV_SYSTEM_CERTS="1")
    uv = _uv()
    if not python.exists():
        subprocess.run([uv, "venv", "-q", str(BENCH_VENV), "--python", "3.11"], check=True, env=env)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), "-r", str(PEERS_FILE)],
        check=True,
        env=env,
    )
    stamp.write_text(wanted)
    return python


WARM_IMPORTS = {
    "project": "import ibis, pandas, pyarrow, duckdb, journeymap.analytics.funnels, "
    "journeymap.analytics.paths, journeymap.analytics.timing, journeymap.io.workspace, "
    "ibis.backends.duckdb, ibis.formats.pandas",
    "peers": "import pandas, polars, pyarrow, pm4py",
}


def warm_up(python: Path, *, peers: bool) -> None:
    """Import every library once, untimed, so that bytecode is cached for the runs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = WARM_IMPORTS["peers" if peers else "project"]
    subprocess.run([str(python), "-c", code], cwd=ROOT, env=env, capture_output=True)


def measure(name: str, path: Path, *, python: Path, repeat: int, events: int) -> Measurement:
    """Run contender ``name`` ``repeat`` times, each in a fresh ``python`` process."""
    process: list[float] = []
    analysis: list[float] = []
    peak = 0.0
    results: dict[str, Any] = {}
    # Bytecode is cached as usual (some shells set PYTHONDONTWRITEBYTECODE, which makes
    # every process compile pandas and Ibis from source: seconds that no user pays).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [str(python), "-m", "benchmarks.child", name, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            return Measurement(name, events, process, analysis, peak, results, error=tail)
        out = json.loads(done.stdout.strip().splitlines()[-1])
        process.append(elapsed)
        analysis.append(float(out["seconds"]))
        peak = max(peak, float(out["peak_rss_mb"]))
        results = out["results"]
    return Measurement(name, events, process, analysis, peak, results)


def compare(ours: dict[str, Any], theirs: dict[str, Any], *, tol: float = 0.002) -> list[str]:
    """The differences between two contenders' answers (empty: they agree).

    Only what both computed is compared; a value one of them leaves out (None) is not.
    """
    if not ours or not theirs:
        return []
    diffs: list[str] = []

    def close(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return True
        if isinstance(a, float) or isinstance(b, float):
            return abs(float(a) - float(b)) <= tol
        return bool(a == b)

    edges_a, edges_b = ours["dfg"], theirs["dfg"]
    if set(edges_a) != set(edges_b):
        diffs.append(f"DFG edges differ: {sorted(set(edges_a) ^ set(edges_b))[:3]}")
    for edge in set(edges_a) & set(edges_b):
        if not all(close(x, y) for x, y in zip(edges_a[edge], edges_b[edge], strict=True)):
            diffs.append(f"edge {edge}: {edges_a[edge]} vs {edges_b[edge]}")
            break
    for key in ("variants", "variant_counts", "starts", "ends"):
        if ours[key] != theirs[key]:
            diffs.append(f"{key} differ")
    for k, (a, b) in enumerate(zip(ours["funnel"], theirs["funnel"], strict=True)):
        if not (a[0] == b[0] and close(a[1], b[1])):
            diffs.append(f"funnel step {k}: {a} vs {b}")
    if set(ours["stages"]) != set(theirs["stages"]):
        diffs.append("stages differ")
    for stage in set(ours["stages"]) & set(theirs["stages"]):
        a, b = ours["stages"][stage], theirs["stages"][stage]
        if not all(close(x, y) for x, y in zip(a, b, strict=True)):
            diffs.append(f"stage {stage}: {a} vs {b}")
    return diffs


def _fmt(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _saved(contender: str, events: int) -> Path:
    return DATA_FOLDER / f"last_{contender}_{events}.json"


def save(m: Measurement) -> None:
    """Keep a contender's last measurement, so a later run of other contenders compares."""
    if not m.error:
        _saved(m.contender, m.events).write_text(json.dumps(asdict(m)))


def load_saved(contender: str, events: int) -> Measurement | None:
    """The last saved measurement of ``contender`` at ``events`` (None if there is none)."""
    path = _saved(contender, events)
    if not path.exists():
        return None
    return Measurement(**json.loads(path.read_text()))


def print_table(rows: Sequence[Measurement]) -> None:
    """The measurements of one size, journeymap first, with ratios and agreement.

    When journeymap is not among them, its last saved measurement at that size is the
    reference (and says so); without one, no ratio or agreement is claimed.
    """
    ours = next((m for m in rows if m.contender == "journeymap" and not m.error), None)
    if ours is None and rows:
        ours = load_saved("journeymap", rows[0].events)
        if ours is not None:
            print(
                f"(reference: journeymap's last saved run, median {statistics.median(ours.process_secs):.2f} s)"
            )
    ref = ours.results if ours else {}
    base = statistics.median(ours.process_secs) if ours else None
    header = (
        f"{'contender':<14}{'min s':>9}{'median s':>10}{'max s':>9}{'analysis s':>12}"
        f"{'peak MB':>9}{'x journeymap':>14}  agree"
    )
    print(header)
    for m in rows:
        if m.error:
            print(f"{m.contender:<14}  failed: {m.error}")
            continue
        med = statistics.median(m.process_secs)
        ratio = f"{med / base:.2f}" if base else "-"
        diffs = compare(ref, m.results)
        if not m.results or not ref:
            agree = "-"
        else:
            agree = "yes" if not diffs else "NO: " + "; ".join(diffs[:2])
        print(
            f"{m.contender:<14}{_fmt(min(m.process_secs)):>9}{_fmt(med):>10}"
            f"{_fmt(max(m.process_secs)):>9}{_fmt(statistics.median(m.analysis_secs)):>12}"
            f"{m.peak_rss_mb:>9.0f}{ratio:>14}  {agree}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks full", description=__doc__)
    parser.add_argument("--events", default="1M,10M", help="log sizes, e.g. 1M,10M")
    parser.add_argument("--with-50m", action="store_true", help="add the 50M log (slow)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per contender")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {', '.join(CONTENDERS)}",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip pm4py, Polars and pandas")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.events.split(",") if s.strip()]
    if args.with_50m and 50_000_000 not in sizes:
        sizes.append(50_000_000)
    chosen = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contenders {unknown}; choose from {', '.join(CONTENDERS)}")
    if args.no_peers:
        chosen = [c for c in chosen if c not in PEERS]
    peer_python = ensure_peer_venv() if any(c in PEERS for c in chosen) else None
    warm_up(Path(sys.executable), peers=False)
    if peer_python is not None:
        warm_up(peer_python, peers=True)
    for n in sizes:
        path = cached_log(n)
        if any(c in WORKSPACE_CONTENDERS for c in chosen):
            from benchmarks.contenders import prepare_workspace

            prepare_workspace(path)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{n:,} events ({path.name}), {os.cpu_count()} cores, load average {load}")
        rows = []
        for name in chosen:
            python = peer_python if name in PEERS and peer_python else Path(sys.executable)
            rows.append(measure(name, path, python=python, repeat=args.repeat, events=n))
            save(rows[-1])
        print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
