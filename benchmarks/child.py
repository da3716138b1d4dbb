"""Run one contender once, in this fresh process: ``python -m benchmarks.child NAME PATH``.

Prints one JSON line: ``seconds`` (the analysis, after imports), ``peak_rss_mb`` (the
process's high-water mark of resident memory, from ``/proc/self/status``) and
``results`` (see :func:`benchmarks.contenders.normalise`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (VmHWM), 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main(argv: list[str]) -> int:
    name, path = argv[0], Path(argv[1])
    from benchmarks.contenders import CONTENDERS

    started = time.perf_counter()
    results = CONTENDERS[name](path)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
