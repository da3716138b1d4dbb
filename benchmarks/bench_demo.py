"""Demo company generation: seconds, events per second and peak memory at 1M and 10M events.

Each size runs in a fresh process (so peak memory is that size's own) that generates
the demo and writes it as Parquet to a temporary folder. The target is 10M events in
60 s or less on a 2-core machine; the load average printed by the runner says how busy
the machine was.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EVENTS_PER_CUSTOMER = 31.7
"""Measured average (seed 7); sizes below are in events, converted to customers."""
SIZES = (1_000_000, 10_000_000)
TARGET_SECONDS_AT_10M = 60.0


def measure(customers: int, seed: int = 7) -> dict[str, Any]:
    """Generate and write the demo for ``customers`` in this process; time each part."""
    from journeymap.demo import generate_demo
    from journeymap.demo.writer import write_tables

    with tempfile.TemporaryDirectory(prefix="journeymap-bench-") as folder:
        started = time.perf_counter()
        data = generate_demo(customers=customers, seed=seed)
        generated = time.perf_counter()
        files = write_tables(data, Path(folder))
        written = time.perf_counter()
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
    events = files.rows["events"]
    total = written - started
    return {
        "customers": customers,
        "events": events,
        "generate s": round(generated - started, 2),
        "write s": round(written - generated, 2),
        "total s": round(total, 2),
        "events/s": round(events / total),
        "peak RSS MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "parquet MB": round(size / 2**20, 1),
    }


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    """One row per size, each measured in a fresh Python process."""
    rows = []
    root = Path(__file__).parents[1]
    for target in sizes:
        customers = round(target / EVENTS_PER_CUSTOMER)
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.bench_demo import measure; "
            "print(json.dumps(measure(int(sys.argv[2]))))"
        )
        load = os.getloadavg()[0]
        out = subprocess.run(
            [sys.executable, "-c", code, str(root), str(customers)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["load avg"] = round(load, 1)
        if target >= 10_000_000:
            row["target"] = f"<= {TARGET_SECONDS_AT_10M:.0f} s at 10M"
        rows.append(row)
    return rows


if __name__ == "__main__":
    for result in run():
        print(result)
