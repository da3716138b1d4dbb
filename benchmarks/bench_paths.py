"""Paths: directly-follows graph, performance DFG and variants against hand-written peers.

Generated logs of 1M and 10M events (about 10 per customer, 15 event types, gaps from
seconds to weeks, rows written in global time order so every contender must sort by
customer) are written to Parquet once; each contender then goes from the Parquet file
to three results: the directly-follows counts, the time per edge (mean, median, p90)
and the variants with their counts.

- ``journeymap``: :func:`journeymap.analytics.paths.build_path_journey` on an in-memory
  DuckDB, the journey stored once as a temporary table, then
  :func:`~journeymap.analytics.paths.summarize_paths` (variants by order-sensitive hash;
  the 20 most frequent spelled out);
- ``duckdb_sql``: the same three results hand-written in DuckDB SQL, the journey built
  once with ``LEAD`` and variants by ``string_agg`` in time order;
- ``pandas``: hand-written in pandas (sort once, ``shift``, ``groupby``).

All must agree: the same edge counts, the same medians, the same number of variants
with the same counts, and the same top-20 sequences (``agree``). Sizes:
``JOURNEYMAP_BENCH_PATHS_SIZES=1000000,10000000``; repeats: ``JOURNEYMAP_BENCH_REPEAT``
(default 3; min, median and max are reported). Ratios are each contender's median time
over journeymap's.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EVENT_TYPES = [
    "home", "search", "product_view", "review_read", "wishlist", "cart_add", "cart_view",
    "checkout", "payment", "order", "email_open", "email_click", "support_chat",
    "return_request", "logout",
]  # fmt: skip
SIZES = (1_000_000, 10_000_000)
TOP = 20


def _sizes() -> list[int]:
    raw = os.environ.get("JOURNEYMAP_BENCH_PATHS_SIZES")
    return [int(x) for x in raw.split(",")] if raw else list(SIZES)


def _repeat() -> int:
    return int(os.environ.get("JOURNEYMAP_BENCH_REPEAT", "3"))


def generate_events(n: int, seed: int = 11) -> pa.Table:
    """About ``n`` events, ~10 per customer (heavy-tailed), in global time order."""
    rng = np.random.default_rng(seed)
    n_customers = max(1, n // 10)
    lengths = np.maximum(1, rng.geometric(1 / 10, size=n_customers))
    lengths = np.maximum(np.floor(lengths * n / lengths.sum()).astype(np.int64), 1)
    # hand the rounding remainder out one event each to random customers (or take it
    # back from the longest journeys), so that no single customer gets a huge journey
    short = n - int(lengths.sum())
    if short > 0:
        np.add.at(lengths, rng.choice(n_customers, size=short, replace=short > n_customers), 1)
    while (extra := int(lengths.sum()) - n) > 0:
        longest = np.argsort(lengths)[-extra:]
        lengths[longest[lengths[longest] > 1]] -= 1
    customer = np.repeat(np.arange(n_customers), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    # a journey walks a Markov chain over the event types, so variants repeat
    k = len(EVENT_TYPES)
    trans = rng.dirichlet(np.full(k, 0.3), size=k)
    kind = np.empty(n, dtype=np.int64)
    starts = rng.choice(k, size=n_customers, p=rng.dirichlet(np.full(k, 0.5)))
    kind[first] = starts
    cdf = np.cumsum(trans, axis=1)
    u = rng.random(n)
    # the chain walks position by position, across all customers at once
    max_len = int(lengths.max())
    current = starts.copy()
    for p in range(1, max_len):
        alive = lengths > p
        rows = first[alive] + p
        nxt = (u[rows][:, None] > cdf[current[alive]]).sum(axis=1)
        nxt = np.minimum(nxt, k - 1)
        kind[rows] = nxt
        current[alive] = nxt
    start = rng.uniform(0, 90 * 86400, size=n_customers)
    long_gap = rng.random(n) < 0.12
    gaps = np.where(long_gap, rng.exponential(4 * 86400, n), rng.exponential(900, n))
    gaps = np.round(gaps)  # whole seconds: ties within a customer happen, as in real logs
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], lengths)
    secs = np.round(np.repeat(start, lengths) + offset)
    order = np.argsort(secs, kind="stable")
    ts = np.datetime64("2024-01-01T00:00:00", "us") + (secs * 1e6).astype("timedelta64[us]")
    ids = pa.array(np.arange(n)[order])
    names = np.array(EVENT_TYPES)
    return pa.table(
        {
            # zero-padded so that text order is position order within a customer
            "event_id": pc.utf8_lpad(pc.cast(ids, pa.string()), 10, "0"),
            "actor_id": pc.binary_join_element_wise(
                "c", pc.cast(pa.array(customer[order]), pa.string()), ""
            ),
            "ts": pa.array(ts[order]).cast(pa.timestamp("us", tz="UTC")),
            "event": pa.array(names[kind[order]]),
        }
    )


@dataclass(frozen=True)
class Result:
    """What every contender returns, for the agreement check."""

    edges: dict[tuple[str, str], int]
    medians: dict[tuple[str, str], float]
    variant_counts: list[int]
    top: list[tuple[tuple[str, ...], int]]


def _top(pairs: list[tuple[tuple[str, ...], int]]) -> list[tuple[tuple[str, ...], int]]:
    # ties in count are broken by the sequence, so every contender picks the same top
    return sorted(pairs, key=lambda p: (-p[1], p[0]))[:TOP]


# --- contenders -------------------------------------------------------------------


def run_journeymap(path: Path) -> Result:
    """journeymap on DuckDB: journey stored once, then DFG, performance DFG and variants."""
    import ibis

    from journeymap.analytics.paths import build_path_journey, summarize_paths

    con = ibis.duckdb.connect()
    events = con.read_parquet(str(path))
    journey = build_path_journey(events)
    stored = con.create_table("journey", journey, temp=True)
    p = summarize_paths(stored)
    dfg = p.transitions.to_pyarrow().to_pylist()
    variants = p.variants.select("cases").to_pyarrow().column("cases").to_pylist()
    # the top by count; rows tied at the cut-off are all named, then sorted like the peers
    cut = sorted(variants, reverse=True)[min(TOP, len(variants)) - 1]
    spelled = p.name_variants(top=None, variants=p.variants.filter(p.variants.cases >= cut))
    top = [(tuple(r["steps"]), int(r["cases"])) for r in spelled.to_pyarrow().to_pylist()]
    con.disconnect()
    return Result(
        edges={(r["source"], r["target"]): int(r["count"]) for r in dfg},
        medians={(r["source"], r["target"]): float(r["median_secs"]) for r in dfg},
        variant_counts=sorted(variants),
        top=_top(top),
    )


def run_duckdb_sql(path: Path) -> Result:
    """Hand-written DuckDB SQL: a journey table with LEAD, then one query per result."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""CREATE TEMP TABLE j AS
        SELECT actor_id, event, ts, event_id,
               LEAD(event) OVER w AS nxt,
               epoch_us(LEAD(ts) OVER w) - epoch_us(ts) AS us
        FROM read_parquet('{path}')
        WINDOW w AS (PARTITION BY actor_id ORDER BY ts, event_id)"""
    )
    dfg = con.execute(
        """SELECT event, nxt, count(*), avg(us) / 1e6, quantile_cont(us, 0.5) / 1e6,
                  quantile_cont(us, 0.9) / 1e6
           FROM j WHERE nxt IS NOT NULL GROUP BY 1, 2"""
    ).fetchall()
    variants = con.execute(
        """SELECT v, count(*) AS n FROM (
             SELECT actor_id, string_agg(event, '|' ORDER BY ts, event_id) AS v
             FROM j GROUP BY actor_id) GROUP BY v"""
    ).fetchall()
    con.close()
    return Result(
        edges={(a, b): int(n) for a, b, n, *_ in dfg},
        medians={(a, b): float(m) for a, b, _, _, m, _ in dfg},
        variant_counts=sorted(int(n) for _, n in variants),
        top=_top([(tuple(v.split("|")), int(n)) for v, n in variants]),
    )


def run_pandas(path: Path) -> Result:
    """Hand-written pandas: sort once, shift within customer, group."""
    df = pq.read_table(path, columns=["event_id", "actor_id", "ts", "event"]).to_pandas()
    df = df.sort_values(["actor_id", "ts", "event_id"], kind="stable", ignore_index=True)
    same = df["actor_id"].eq(df["actor_id"].shift(-1))
    df["nxt"] = df["event"].shift(-1).where(same)
    df["secs"] = (df["ts"].shift(-1) - df["ts"]).dt.total_seconds().where(same)
    edges = df[same].groupby(["event", "nxt"], sort=False)["secs"]
    stats = edges.agg(["count", "mean", "median"])
    stats["p90"] = edges.quantile(0.9)
    seqs = df.groupby("actor_id", sort=False)["event"].agg(tuple)
    counts = seqs.value_counts()
    return Result(
        edges={k: int(v) for k, v in stats["count"].items()},
        medians={k: float(v) for k, v in stats["median"].items()},
        variant_counts=sorted(int(n) for n in counts.to_numpy()),
        top=_top([(k, int(v)) for k, v in counts.items()]),
    )


CONTENDERS: dict[str, Callable[[Path], Result]] = {
    "journeymap": run_journeymap,
    "duckdb_sql": run_duckdb_sql,
    "pandas": run_pandas,
}


def agree(a: Result, b: Result) -> bool:
    """Same edges and counts, same medians (to 1 µs), same variants and top sequences."""
    if a.edges != b.edges or a.variant_counts != b.variant_counts or a.top != b.top:
        return False
    return all(math.isclose(a.medians[k], b.medians[k], abs_tol=1e-6) for k in a.medians)


def _time(fn: Callable[[Path], Result], path: Path, repeat: int) -> tuple[list[float], Result]:
    times: list[float] = []
    result: Result | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(path)
        times.append(time.perf_counter() - start)
    assert result is not None
    return times, result


def _warm_up() -> None:
    """Import every contender's libraries first: import time is nobody's analysis."""
    import duckdb
    import ibis
    import pandas

    import journeymap.analytics.paths

    ibis.duckdb.connect().disconnect()
    del duckdb, pandas, journeymap


def run() -> list[dict[str, Any]]:
    """Measure every contender at every size; one row per (size, contender)."""
    rows: list[dict[str, Any]] = []
    repeat = _repeat()
    _warm_up()
    with tempfile.TemporaryDirectory(prefix="journeymap-bench-") as tmp:
        for n in _sizes():
            path = Path(tmp) / f"events_{n}.parquet"
            pq.write_table(generate_events(n), path, row_group_size=1 << 20)
            measured = {name: _time(fn, path, repeat) for name, fn in CONTENDERS.items()}
            ours_times, ours = measured["journeymap"]
            ours_median = statistics.median(ours_times)
            for name, (times, result) in measured.items():
                median = statistics.median(times)
                rows.append(
                    {
                        "events": n,
                        "contender": name,
                        "min_s": min(times),
                        "median_s": median,
                        "max_s": max(times),
                        "x_journeymap": median / ours_median,
                        "edges": len(result.edges),
                        "variants": len(result.variant_counts),
                        "agree": agree(result, ours),
                    }
                )
            path.unlink()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
