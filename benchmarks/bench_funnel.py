"""A 5-step funnel with a 7-day window: journeymap on DuckDB against hand-written peers.

Generated logs of 1M and 10M events (about 10 per customer, 15 event types, gaps from
minutes to weeks, rows written in global time order so every tool must sort by
customer) are written to Parquet once; each contender then goes from the Parquet file
to the per-step counts:

- ``journeymap``: :func:`journeymap.analytics.funnels.compute_funnel` on an in-memory
  DuckDB (attempts materialised once, then the summary with its percentiles);
- ``duckdb_sql``: the same funnel as one hand-written DuckDB query;
- ``pandas``: the same funnel hand-written in pandas (sort once, one merge per step).

The funnel: first entry at step 1, ordered steps, the window measured from step 1
(Mixpanel's rules). All three must give the same number of customers at every step;
a disagreement is reported in the ``agree`` column. Sizes can be set with
``JOURNEYMAP_BENCH_FUNNEL_SIZES=1000000,10000000``; ``JOURNEYMAP_BENCH_REPEAT`` (default 3)
sets how many times each contender runs (min, median and max are reported).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

STEPS = ("visit", "product_view", "add_to_cart", "checkout", "purchase")
OTHERS = (
    "search",
    "page_view",
    "newsletter_open",
    "coupon_view",
    "review_read",
    "wishlist_add",
    "support_chat",
    "login",
    "logout",
    "app_open",
)
WINDOW = timedelta(days=7)
WINDOW_US = 7 * 86_400_000_000


def _sizes() -> list[int]:
    raw = os.environ.get("JOURNEYMAP_BENCH_FUNNEL_SIZES", "1000000,10000000")
    return [int(x) for x in raw.split(",") if x.strip()]


def _repeat() -> int:
    return int(os.environ.get("JOURNEYMAP_BENCH_REPEAT", "3"))


def generate_events(n: int, *, seed: int = 7) -> pa.Table:
    """``n`` events in global time order (customers interleaved), as an Arrow table."""
    rng = np.random.default_rng(seed)
    n_customers = max(1, n // 10)
    lengths = rng.geometric(1 / 10, size=n_customers)
    lengths = np.maximum(1, (lengths * n / lengths.sum()).astype(np.int64))
    lengths[-1] += n - lengths.sum()
    while lengths[-1] < 1:  # rounding can overshoot; take it from the longest journeys
        i = int(np.argmax(lengths[:-1]))
        lengths[i] -= 1
        lengths[-1] += 1
    customer = np.repeat(np.arange(n_customers), lengths)
    start = rng.uniform(0, 90 * 86400, size=n_customers)
    # gaps: mostly minutes to hours, sometimes days to weeks
    long_gap = rng.random(n) < 0.12
    gaps = np.where(long_gap, rng.exponential(4 * 86400, n), rng.exponential(1800, n))
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], lengths)
    secs = np.repeat(start, lengths) + offset
    # event types: funnel steps get rarer down the funnel
    names = np.array(STEPS + OTHERS)
    weights = np.array([14, 11, 6, 3, 2] + [64 / len(OTHERS)] * len(OTHERS), dtype=float)
    kind = rng.choice(len(names), size=n, p=weights / weights.sum())
    order = np.argsort(secs, kind="stable")  # global time order, as logs are written
    ts = np.datetime64("2024-01-01T00:00:00", "us") + (secs * 1e6).astype("timedelta64[us]")
    ids = pa.array(np.arange(n)[order])
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise("e", pc.cast(ids, pa.string()), ""),
            "actor_id": pc.binary_join_element_wise(
                "c", pc.cast(pa.array(customer[order]), pa.string()), ""
            ),
            "ts": pa.array(ts[order]).cast(pa.timestamp("us", tz="UTC")),
            "event": pa.array(names[kind[order]]),
        }
    )


# --- contenders -------------------------------------------------------------------


def run_journeymap(path: Path) -> list[int]:
    """journeymap's compute_funnel on DuckDB, from the Parquet file to per-step counts."""
    import ibis

    from journeymap.analytics.funnels import FunnelStep, compute_funnel
    from journeymap.model.rules import EventRule

    con = ibis.duckdb.connect()
    events = con.read_parquet(str(path))
    steps = [FunnelStep(s, EventRule.model_validate({"match": {"event": s}})) for s in STEPS]
    funnel = compute_funnel(events, steps, window=WINDOW)
    con.raw_sql(f"CREATE TEMP TABLE attempts AS {con.compile(funnel.attempts)}")
    stored = funnel.from_attempts(con.table("attempts"))
    summary = stored.summary.to_pyarrow().to_pylist()
    con.disconnect()
    return [int(r["entered"]) for r in sorted(summary, key=lambda r: r["step_index"])]


def run_duckdb_sql(path: Path) -> list[int]:
    """The same funnel as one hand-written DuckDB query (sort once, then per-step joins)."""
    import duckdb

    steps = ", ".join(f"'{s}'" for s in STEPS)
    ctes = [
        f"""ev AS (
            SELECT actor_id, event,
                   epoch_us(ts) AS t,
                   row_number() OVER (PARTITION BY actor_id ORDER BY ts, event_id) AS pos
            FROM read_parquet('{path}') WHERE event IN ({steps}))""",
        f"""s0 AS (
            SELECT actor_id, min(pos) AS p, arg_min(t, pos) AS t0
            FROM ev WHERE event = '{STEPS[0]}' GROUP BY actor_id)""",
    ]
    for k in range(1, len(STEPS)):
        ctes.append(
            f"""s{k} AS (
            SELECT e.actor_id, min(e.pos) AS p, any_value(s.t0) AS t0
            FROM ev e JOIN s{k - 1} s ON e.actor_id = s.actor_id
            WHERE e.event = '{STEPS[k]}' AND e.pos > s.p AND e.t - s.t0 <= {WINDOW_US}
            GROUP BY e.actor_id)"""
        )
    counts = " UNION ALL ".join(
        f"SELECT {k} AS k, count(*) AS n FROM s{k}" for k in range(len(STEPS))
    )
    sql = f"WITH {', '.join(ctes)} {counts} ORDER BY k"
    con = duckdb.connect()
    rows = con.execute(sql).fetchall()
    con.close()
    return [int(n) for _, n in rows]


def run_pandas(path: Path) -> list[int]:
    """The same funnel hand-written in pandas: sort once, one merge per step."""
    import pandas as pd

    df = pq.read_table(path, columns=["event_id", "actor_id", "ts", "event"]).to_pandas()
    df = df[df["event"].isin(STEPS)]
    df = df.sort_values(["actor_id", "ts", "event_id"], kind="stable")
    df["pos"] = df.groupby("actor_id", sort=False).cumcount()
    df["t"] = (
        df["ts"].astype("int64") // 1000 if df["ts"].dt.unit == "ns" else df["ts"].astype("int64")
    )
    first = df[df["event"] == STEPS[0]].groupby("actor_id", sort=False).first()
    current = pd.DataFrame({"p": first["pos"], "t0": first["t"]})
    counts = [len(current)]
    for step in STEPS[1:]:
        rows = df[df["event"] == step][["actor_id", "pos", "t"]]
        joined = rows.merge(current, left_on="actor_id", right_index=True)
        joined = joined[(joined["pos"] > joined["p"]) & (joined["t"] - joined["t0"] <= WINDOW_US)]
        nxt = joined.groupby("actor_id", sort=False).agg(p=("pos", "min"), t0=("t0", "first"))
        current = nxt
        counts.append(len(current))
    return counts


CONTENDERS: dict[str, Callable[[Path], list[int]]] = {
    "journeymap": run_journeymap,
    "duckdb_sql": run_duckdb_sql,
    "pandas": run_pandas,
}


def _time(
    fn: Callable[[Path], list[int]], path: Path, repeat: int
) -> tuple[list[float], list[int]]:
    times: list[float] = []
    result: list[int] = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(path)
        times.append(time.perf_counter() - start)
    return times, result


def run() -> list[dict[str, Any]]:
    """Measure every contender at every size; one row per (size, contender)."""
    rows: list[dict[str, Any]] = []
    repeat = _repeat()
    with tempfile.TemporaryDirectory(prefix="journeymap-bench-") as tmp:
        for n in _sizes():
            path = Path(tmp) / f"events_{n}.parquet"
            pq.write_table(generate_events(n), path, row_group_size=1 << 20)
            measured = {name: _time(fn, path, repeat) for name, fn in CONTENDERS.items()}
            reference = measured["journeymap"][1]
            ours = statistics.median(measured["journeymap"][0])
            for name, (times, counts) in measured.items():
                median = statistics.median(times)
                rows.append(
                    {
                        "events": n,
                        "contender": name,
                        "min_s": min(times),
                        "median_s": median,
                        "max_s": max(times),
                        "x_journeymap": median / ours,
                        "entered": "/".join(str(c) for c in counts),
                        "agree": counts == reference,
                    }
                )
            path.unlink()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
