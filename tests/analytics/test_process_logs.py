"""Real process logs: paths equal an independent plain-Python computation on every engine.

The logs (../shared/data/process_logs, research data; never copied into src/) are read
here by a tiny parser of our own (gzip + xml.etree for XES, csv for the CSV exports),
and the directly-follows counts, variants and start/end activities are computed in
plain Python: each case's events sorted stably by timestamp, so equal timestamps keep
the file's order. The engine gets the same order through event ids that number the
events in file order.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from conftest import load, rows_of
from journeymap.analytics.paths import discover_paths

# tests/analytics/ -> the repository -> the folder beside it that holds shared/
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "process_logs"


@dataclass(frozen=True)
class Log:
    """Events as parallel lists, in file order."""

    case: list[str]
    activity: list[str]
    ts: list[datetime]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_xes(path: Path) -> Log:
    """Traces and their events' concept:name and time:timestamp (nothing else)."""
    opener = gzip.open if path.suffix == ".gz" else open
    case: list[str] = []
    activity: list[str] = []
    ts: list[datetime] = []
    stack: list[str] = []
    trace_name = ""
    attrs: dict[str, str] = {}
    with opener(path, "rb") as handle:
        for kind, elem in ET.iterparse(handle, events=("start", "end")):
            tag = _local(elem.tag)
            if kind == "start":
                stack.append(tag)
                if tag == "event":
                    attrs = {}
                continue
            stack.pop()
            parent = stack[-1] if stack else ""
            if parent == "trace" and tag == "string" and elem.get("key") == "concept:name":
                trace_name = elem.get("value", "")
            elif parent == "event" and elem.get("key") in ("concept:name", "time:timestamp"):
                attrs[elem.get("key", "")] = elem.get("value", "")
            elif tag == "event" and parent == "trace":
                case.append(trace_name)
                activity.append(attrs["concept:name"])
                ts.append(datetime.fromisoformat(attrs["time:timestamp"]))
                elem.clear()
            elif tag == "trace":
                elem.clear()
    return Log(case, activity, ts)


def read_csv_log(path: Path) -> Log:
    case: list[str] = []
    activity: list[str] = []
    ts: list[datetime] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            case.append(row["case:concept:name"])
            activity.append(row["concept:name"])
            ts.append(datetime.fromisoformat(row["time:timestamp"]))
    return Log(case, activity, ts)


LOGS = {
    "running-example.csv": read_csv_log,
    "running-example.xes": read_xes,
    "helpdesk.xes.gz": read_xes,
    "receipt.csv": read_csv_log,
    "13_SEPSIS_1t_per_variant.xes.gz": read_xes,
    "07_bpic2013_incidents.xes.gz": read_xes,
}


@cache
def read_log(name: str) -> Log:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data folder is not next to the repository)")
    return LOGS[name](path)


@dataclass(frozen=True)
class Expected:
    dfg: dict[tuple[str, str], int]
    variants: dict[tuple[str, ...], int]
    starts: dict[str, int]
    ends: dict[str, int]
    median_secs: dict[tuple[str, str], float]


@cache
def expected(name: str) -> Expected:
    """The plain-Python answer: stable sort by time within each case, then count."""
    log = read_log(name)
    traces: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    for i, (c, a, t) in enumerate(zip(log.case, log.activity, log.ts, strict=True)):
        traces[c].append((t, i, a))
    dfg: Counter[tuple[str, str]] = Counter()
    secs: dict[tuple[str, str], list[float]] = defaultdict(list)
    variants: Counter[tuple[str, ...]] = Counter()
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for events in traces.values():
        events.sort()
        names = tuple(a for _, _, a in events)
        variants[names] += 1
        starts[names[0]] += 1
        ends[names[-1]] += 1
        for (t1, _, a), (t2, _, b) in itertools.pairwise(events):
            dfg[(a, b)] += 1
            secs[(a, b)].append((t2 - t1).total_seconds())
    return Expected(
        dict(dfg),
        dict(variants),
        dict(starts),
        dict(ends),
        {k: float(np.median(v)) for k, v in secs.items()},
    )


def as_events(log: Log) -> pa.Table:
    n = len(log.case)
    return pa.table(
        {
            "event_id": [f"{i:08d}" for i in range(n)],
            "actor_id": log.case,
            "actor_kind": ["case"] * n,
            "ts": pa.array(log.ts, type=pa.timestamp("us", tz="UTC")),
            "event": log.activity,
            "channel": pa.nulls(n, pa.string()),
            "session_id": pa.nulls(n, pa.string()),
            "region": pa.nulls(n, pa.string()),
            "source": [f"process_logs/{len(log.case)}"] * n,
            "source_tz": pa.nulls(n, pa.string()),
            "properties": pa.nulls(n, pa.string()),
        }
    )


def test_the_xes_and_csv_running_example_hold_the_same_events() -> None:
    # The parser is checked before the engine: two files, one log (6 cases, 42 events).
    xes, csv_ = read_log("running-example.xes"), read_log("running-example.csv")
    assert len(xes.case) == len(csv_.case) == 42 and len(set(xes.case)) == 6
    assert sorted(zip(xes.case, xes.activity, xes.ts, strict=True)) == sorted(
        zip(csv_.case, csv_.activity, csv_.ts, strict=True)
    )


@pytest.mark.parametrize(
    ("name", "cases", "events"),
    [("helpdesk.xes.gz", 4580, 21348), ("07_bpic2013_incidents.xes.gz", 7554, None)],
)
def test_the_parser_reads_the_documented_number_of_cases(
    name: str, cases: int, events: int | None
) -> None:
    log = read_log(name)
    assert len(set(log.case)) == cases
    if events is not None:
        assert len(log.case) == events


@pytest.mark.parametrize("name", list(LOGS))
def test_paths_on_real_logs_equal_plain_python(con: Any, name: str) -> None:
    log = read_log(name)
    want = expected(name)
    table = "log_" + "".join(ch if ch.isalnum() else "_" for ch in name)
    p = discover_paths(load(con, as_events(log), table))
    transitions = rows_of(p.transitions)
    assert {(r["source"], r["target"]): r["count"] for r in transitions} == want.dfg
    assert {(r["source"], r["target"]): r["median_secs"] for r in transitions} == pytest.approx(
        want.median_secs
    )
    assert {r["activity"]: r["cases"] for r in rows_of(p.start_activities)} == want.starts
    assert {r["activity"]: r["cases"] for r in rows_of(p.end_activities)} == want.ends
    named = rows_of(p.name_variants(top=None))
    assert {tuple(r["steps"]): r["cases"] for r in named} == want.variants
    assert all(r["verified"] for r in named)
    (summary,) = rows_of(p.summary)
    assert summary["cases"] == summary["cases_in_paths"] == len(set(log.case))
    assert summary["events"] == summary["events_in_paths"] == len(log.case)
    assert summary["variants"] == len(want.variants) and summary["unverified_variants"] == 0
