"""The full analysis, once per contender: from a Parquet log to comparable results.

"Full analysis" = directly-follows graph (counts), performance DFG (median and p90
seconds per edge), variants with their counts, start and end activities, a 5-step
funnel (ordered, first entry, 7-day window from the first step; entered per step and
the median time from the step before) and time in stage (visits, completed visits and
their median duration per stage). Every contender returns the same :class:`dict` shape
(:func:`normalise`), so the runner can check that all of them computed the same answers.

Contenders (each runs in a fresh process, see :mod:`benchmarks.child`):

- ``journeymap``: the package's public API on in-memory DuckDB, reading the Parquet
  file (path journey, funnel attempts and stage visits each stored once, as the
  docstrings advise for large logs);
- ``journeymap_ws``: the same from a workspace the file was imported into beforehand
  (events clustered by customer and time; the import is not timed);
- ``duckdb_sql``: one hand-written DuckDB query per output, each from the Parquet file;
- ``pandas`` / ``polars``: hand-written, sort once, then one pass per output;
- ``pm4py``: pm4py (pandas) for the DFG, performance DFG, variants and start/end
  activities, with the pandas funnel and time in stage (pm4py has neither);
- ``floor``: the engine floor: DuckDB reading the needed columns and sorting them by
  customer and time into a table, nothing else.

Only the standard library is imported at module level: the peers run in the separate
benchmark environment (``.bench-venv``), which does not have journeymap's dependencies,
and journeymap runs in the project's environment, which does not have pm4py (AGPL).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.data import FUNNEL_STEPS, STAGES, WINDOW_DAYS

__all__ = ["CONTENDERS", "normalise"]

WINDOW_US = WINDOW_DAYS * 86_400_000_000
Results = dict[str, Any]


def normalise(
    *,
    dfg: Mapping[tuple[str, str], tuple[int, float | None, float | None]],
    variant_counts: Iterable[int],
    starts: Mapping[str, int],
    ends: Mapping[str, int],
    funnel: list[tuple[int, float | None]],
    stages: Mapping[str, tuple[int, int, float | None]],
) -> Results:
    """The comparable form: edges ``"a>b": [count, median, p90]``, variant count digest, …

    Seconds are rounded to milliseconds; a value a contender does not compute is None
    and is not compared.
    """

    def secs(x: float | None) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 3)

    counts = sorted(int(c) for c in variant_counts)
    digest = hashlib.sha1(",".join(map(str, counts)).encode()).hexdigest()[:16]
    return {
        "dfg": {
            f"{a}>{b}": [int(n), secs(m), secs(p)] for (a, b), (n, m, p) in sorted(dfg.items())
        },
        "variants": len(counts),
        "variant_counts": digest,
        "starts": {k: int(v) for k, v in sorted(starts.items())},
        "ends": {k: int(v) for k, v in sorted(ends.items())},
        "funnel": [[int(n), secs(m)] for n, m in funnel],
        "stages": {k: [int(v), int(c), secs(m)] for k, (v, c, m) in sorted(stages.items())},
    }


# --- journeymap --------------------------------------------------------------------


def _journey_map() -> Any:
    from journeymap.model import JourneyMap

    order = ("discover", "consider", "buy", "own")
    return JourneyMap.model_validate(
        {
            "id": "shop",
            "title": "Shop",
            "stages": [
                {
                    "id": stage,
                    "name": stage.title(),
                    "steps": [
                        {"id": event, "name": event, "events": {"match": {"event": event}}}
                        for event, s in STAGES.items()
                        if s == stage
                    ],
                }
                for stage in order
            ],
        }
    )


def _journeymap_on(con: Any, events: Any) -> Results:
    from datetime import timedelta

    from journeymap.analytics.funnels import compute_funnel
    from journeymap.analytics.mapping import map_events
    from journeymap.analytics.paths import build_path_journey, summarize_paths
    from journeymap.analytics.timing import measure_stage_times
    from journeymap.engines.scratch import stored_table

    con.raw_sql("SET enable_progress_bar = false")
    # Map once and store the mapped events: the path journey, the funnel and the stage
    # times all read them (each stores its own intermediate table, as advised for large
    # logs, so that no median is fed straight from a window function).
    mapped_expr = map_events(events, _journey_map()).table.select(
        "actor_id", "ts", "event_id", "event", "step_id", "stage_id"
    )
    with stored_table(con, mapped_expr, prefix="mapped") as mapped:
        with stored_table(con, build_path_journey(mapped), prefix="journey") as journey:
            paths = summarize_paths(journey)
            dfg = paths.transitions.to_pyarrow().to_pylist()
            variants = paths.variants.cases.to_pyarrow().to_pylist()
            starts = paths.start_activities.to_pyarrow().to_pylist()
            ends = paths.end_activities.to_pyarrow().to_pylist()
        window = timedelta(days=WINDOW_DAYS)
        funnel = compute_funnel(mapped, list(FUNNEL_STEPS), window=window)
        with stored_table(con, funnel.attempts, prefix="attempts") as attempts:
            summary = funnel.from_attempts(attempts).summary.to_pyarrow().to_pylist()
        times = measure_stage_times(mapped)
        with stored_table(con, times.visits, prefix="visits") as visits:
            stages = times.from_visits(visits).stages.to_pyarrow().to_pylist()
    return normalise(
        dfg={
            (r["source"], r["target"]): (r["count"], r["median_secs"], r["p90_secs"]) for r in dfg
        },
        variant_counts=variants,
        starts={r["activity"]: r["cases"] for r in starts},
        ends={r["activity"]: r["cases"] for r in ends},
        funnel=[
            (r["entered"], r["median_secs"]) for r in sorted(summary, key=lambda r: r["step_index"])
        ],
        stages={r["stage"]: (r["visits"], r["completed"], r["median_secs"]) for r in stages},
    )


def run_journeymap(path: Path) -> Results:
    """journeymap on in-memory DuckDB, reading the Parquet file."""
    from journeymap.engines.connection import connect

    con = connect("duckdb://", workspace=path.parent)
    try:
        return _journeymap_on(con, con.read_parquet(str(path)))
    finally:
        con.disconnect()


def prepare_workspace(path: Path) -> Path:
    """A workspace next to the log with the log imported (once; not timed)."""
    from journeymap.io.importers.base import ImportOptions
    from journeymap.io.workspace import import_source, init_workspace

    folder = path.with_suffix(".workspace")
    if not (folder / "journey.duckdb").exists():
        ws = init_workspace(folder)
        options = ImportOptions(actor="actor_id", ts="ts", event="event", event_id="event_id")
        try:
            import_source(ws, path, fmt="parquet", options=options, progress=False)
        finally:
            ws.close()
    return folder


def run_journeymap_ws(path: Path) -> Results:
    """journeymap on the workspace's DuckDB file (imported beforehand, not timed)."""
    from journeymap.io.workspace import open_workspace

    ws = open_workspace(path.with_suffix(".workspace"))
    try:
        events = ws.table("events").select("event_id", "actor_id", "ts", "event")
        return _journeymap_on(ws.con, events)
    finally:
        ws.close()


# --- DuckDB SQL ----------------------------------------------------------------------


def run_duckdb_sql(path: Path) -> Results:
    """One hand-written DuckDB query per output, each reading the Parquet file."""
    import duckdb

    con = duckdb.connect()
    src = f"read_parquet('{path}')"
    journey = f"""(SELECT actor_id, event, ts, event_id,
        row_number() OVER w - 1 AS pos, LEAD(event) OVER w AS nxt,
        epoch_us(LEAD(ts) OVER w) - epoch_us(ts) AS us
        FROM {src} WINDOW w AS (PARTITION BY actor_id ORDER BY ts, event_id))"""
    dfg = con.execute(
        f"""SELECT event, nxt, count(*), quantile_cont(us, [0.5, 0.9])
        FROM {journey} WHERE nxt IS NOT NULL GROUP BY ALL"""
    ).fetchall()
    variants = con.execute(
        f"""SELECT count(*) FROM (SELECT string_agg(event, '|' ORDER BY ts, event_id) AS v
        FROM {src} GROUP BY actor_id) GROUP BY v"""
    ).fetchall()
    starts = con.execute(f"SELECT event, count(*) FROM {journey} WHERE pos = 0 GROUP BY 1")
    start_rows = starts.fetchall()
    ends = con.execute(f"SELECT event, count(*) FROM {journey} WHERE nxt IS NULL GROUP BY 1")
    end_rows = ends.fetchall()
    steps = ", ".join(f"'{s}'" for s in FUNNEL_STEPS)
    ctes = [
        f"""ev AS (SELECT actor_id, event, epoch_us(ts) AS t,
            row_number() OVER (PARTITION BY actor_id ORDER BY ts, event_id) AS pos
            FROM {src} WHERE event IN ({steps}))""",
        f"""s0 AS (SELECT actor_id, min(pos) AS p, arg_min(t, pos) AS t, arg_min(t, pos) AS t0
            FROM ev WHERE event = '{FUNNEL_STEPS[0]}' GROUP BY actor_id)""",
    ]
    for k in range(1, len(FUNNEL_STEPS)):
        ctes.append(
            f"""s{k} AS (SELECT e.actor_id, min(e.pos) AS p, arg_min(e.t, e.pos) AS t,
            any_value(s.t0) AS t0, arg_min(e.t, e.pos) - any_value(s.t) AS d
            FROM ev e JOIN s{k - 1} s ON e.actor_id = s.actor_id
            WHERE e.event = '{FUNNEL_STEPS[k]}' AND e.pos > s.p AND e.t - s.t0 <= {WINDOW_US}
            GROUP BY e.actor_id)"""
        )
    parts = ["SELECT 0 AS k, count(*) AS n, NULL::DOUBLE AS m FROM s0"]
    parts += [
        f"SELECT {k}, count(*), quantile_cont(d, 0.5) / 1e6 FROM s{k}"
        for k in range(1, len(FUNNEL_STEPS))
    ]
    funnel = con.execute(f"WITH {', '.join(ctes)} {' UNION ALL '.join(parts)} ORDER BY k")
    funnel_rows = funnel.fetchall()
    cases = " ".join(f"WHEN '{e}' THEN '{s}'" for e, s in STAGES.items())
    stage_rows = con.execute(
        f"""WITH k AS (SELECT actor_id, ts, event_id, CASE event {cases} END AS stage
              FROM {src}),
            m AS (SELECT actor_id, ts, stage, LAG(stage) OVER w AS prev
              FROM k WHERE stage IS NOT NULL
              WINDOW w AS (PARTITION BY actor_id ORDER BY ts, event_id)),
            v AS (SELECT stage, epoch_us(LEAD(ts) OVER w) - epoch_us(ts) AS us FROM m
              WHERE prev IS NULL OR prev <> stage
              WINDOW w AS (PARTITION BY actor_id ORDER BY ts))
        SELECT stage, count(*), count(us), quantile_cont(us, 0.5) / 1e6 FROM v GROUP BY 1"""
    ).fetchall()
    con.close()
    return normalise(
        dfg={(a, b): (n, q[0] / 1e6, q[1] / 1e6) for a, b, n, q in dfg},
        variant_counts=(n for (n,) in variants),
        starts=dict(start_rows),
        ends=dict(end_rows),
        funnel=[(n, m) for _, n, m in funnel_rows],
        stages={s: (v, c, m) for s, v, c, m in stage_rows},
    )


def run_floor(path: Path) -> Results:
    """The engine floor: read the needed columns, sort by customer and time, store."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""CREATE TEMP TABLE sorted AS SELECT actor_id, ts, event_id, event
        FROM read_parquet('{path}') ORDER BY actor_id, ts, event_id"""
    )
    con.close()
    return {}


# --- pandas --------------------------------------------------------------------------


def _pandas_sorted(path: Path) -> Any:
    import pandas as pd

    df = pd.read_parquet(path, columns=["event_id", "actor_id", "ts", "event"])
    df = df.sort_values(["actor_id", "ts", "event_id"], kind="stable", ignore_index=True)
    t = df["ts"]
    unit = getattr(t.dt, "unit", "ns")
    df["t"] = t.astype("int64") // {"ns": 1000, "us": 1, "ms": 1 / 1000, "s": 1 / 1_000_000}[unit]
    df["t"] = df["t"].astype("int64")
    return df


def _pandas_funnel(df: Any) -> list[tuple[int, float | None]]:
    import pandas as pd

    ev = df[df["event"].isin(FUNNEL_STEPS)]
    pos = pd.Series(ev.index, index=ev.index)  # the global sorted row number orders events
    first = ev[ev["event"] == FUNNEL_STEPS[0]].groupby("actor_id", sort=False).head(1)
    current = pd.DataFrame(
        {"p": pos[first.index].to_numpy(), "t": first["t"].to_numpy()},
        index=first["actor_id"].to_numpy(),
    )
    current["t0"] = current["t"]
    out: list[tuple[int, float | None]] = [(len(current), None)]
    for step in FUNNEL_STEPS[1:]:
        rows = ev[ev["event"] == step]
        rows = pd.DataFrame({"actor_id": rows["actor_id"], "pos": pos[rows.index], "t": rows["t"]})
        joined = rows.merge(current, left_on="actor_id", right_index=True, suffixes=("", "_prev"))
        joined = joined[(joined["pos"] > joined["p"]) & (joined["t"] - joined["t0"] <= WINDOW_US)]
        nxt = joined.groupby("actor_id", sort=False).head(1)  # rows are in position order
        d = (nxt["t"] - nxt["t_prev"]) / 1e6
        current = pd.DataFrame(
            {"p": nxt["pos"].to_numpy(), "t": nxt["t"].to_numpy(), "t0": nxt["t0"].to_numpy()},
            index=nxt["actor_id"].to_numpy(),
        )
        out.append((len(current), float(d.median()) if len(d) else None))
    return out


def _pandas_stages(df: Any) -> dict[str, tuple[int, int, float | None]]:
    stage = df["event"].map(STAGES)
    k = df.assign(stage=stage)[stage.notna()]
    actor, st = k["actor_id"], k["stage"]
    start = (actor != actor.shift()) | (st != st.shift())
    v = k[start]
    same = v["actor_id"] == v["actor_id"].shift(-1)
    secs = ((v["t"].shift(-1) - v["t"]) / 1e6).where(same)
    g = pd_frame(stage=v["stage"], secs=secs).groupby("stage")["secs"]
    stats = g.agg(["size", "count", "median"])
    return {s: (int(r["size"]), int(r["count"]), float(r["median"])) for s, r in stats.iterrows()}


def pd_frame(**columns: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(columns)


def run_pandas(path: Path) -> Results:
    """Hand-written pandas: sort once, shift within customer, group."""
    df = _pandas_sorted(path)
    actor, event, t = df["actor_id"], df["event"], df["t"]
    same = actor.eq(actor.shift(-1))
    first = ~actor.eq(actor.shift(1))
    edges = pd_frame(a=event[same], b=event.shift(-1)[same], secs=((t.shift(-1) - t) / 1e6)[same])
    g = edges.groupby(["a", "b"], sort=False)["secs"]
    stats = g.agg(["count", "median"])
    stats["p90"] = g.quantile(0.9)
    variants = df.groupby("actor_id", sort=False)["event"].agg(tuple).value_counts()
    return normalise(
        dfg={k: (r["count"], r["median"], r["p90"]) for k, r in stats.iterrows()},
        variant_counts=variants.to_numpy(),
        starts=event[first].value_counts().to_dict(),
        ends=event[~same].value_counts().to_dict(),
        funnel=_pandas_funnel(df),
        stages=_pandas_stages(df),
    )


# --- pm4py -----------------------------------------------------------------------------


def run_pm4py(path: Path) -> Results:
    """pm4py for the process-mining outputs; the pandas funnel and stage times."""
    import pandas as pd
    import pm4py

    raw = pd.read_parquet(path, columns=["event_id", "actor_id", "ts", "event"])
    log = pm4py.format_dataframe(raw, case_id="actor_id", activity_key="event", timestamp_key="ts")
    dfg, start, end = pm4py.discover_dfg(log)
    perf, _, _ = pm4py.discover_performance_dfg(log)
    variants = pm4py.get_variants(log)
    df = _pandas_sorted(path)
    return normalise(
        dfg={k: (n, perf[k]["median"], None) for k, n in dfg.items()},
        variant_counts=(v if isinstance(v, int) else len(v) for v in variants.values()),
        starts=start,
        ends=end,
        funnel=_pandas_funnel(df),
        stages=_pandas_stages(df),
    )


# --- Polars ----------------------------------------------------------------------------


def run_polars(path: Path) -> Results:
    """Hand-written Polars (lazy where it helps): sort once, shift over customer, group."""
    import polars as pl

    df = (
        pl.scan_parquet(path)
        .select("event_id", "actor_id", "ts", "event")
        .sort(["actor_id", "ts", "event_id"])
        .with_columns(
            t=pl.col("ts").dt.epoch("us"),
            pos=pl.int_range(pl.len()),
        )
        .collect()
    )
    same = pl.col("actor_id") == pl.col("actor_id").shift(-1)
    j = df.lazy().with_columns(
        nxt=pl.when(same).then(pl.col("event").shift(-1)),
        secs=pl.when(same).then((pl.col("t").shift(-1) - pl.col("t")) / 1e6),
        first=pl.col("actor_id") != pl.col("actor_id").shift(1).fill_null(""),
        last=~same.fill_null(False),
    )
    dfg = (
        j.filter(pl.col("nxt").is_not_null())
        .group_by("event", "nxt")
        .agg(
            n=pl.len(),
            m=pl.col("secs").median(),
            p=pl.col("secs").quantile(0.9, interpolation="linear"),
        )
        .collect()
    )
    variants = (
        df.lazy()
        .group_by("actor_id")
        .agg(v=pl.col("event").str.join("|"))
        .group_by("v")
        .len()
        .collect()
    )
    starts = j.filter(pl.col("first")).group_by("event").len().collect()
    ends = j.filter(pl.col("last")).group_by("event").len().collect()
    # funnel
    ev = df.lazy().filter(pl.col("event").is_in(FUNNEL_STEPS))
    current = (
        ev.filter(pl.col("event") == FUNNEL_STEPS[0])
        .group_by("actor_id")
        .agg(p=pl.col("pos").first(), t=pl.col("t").first())
        .with_columns(t0=pl.col("t"))
        .collect()
    )
    funnel: list[tuple[int, float | None]] = [(current.height, None)]
    for step in FUNNEL_STEPS[1:]:
        nxt = (
            ev.filter(pl.col("event") == step)
            .join(current.lazy(), on="actor_id", suffix="_prev")
            .filter((pl.col("pos") > pl.col("p")) & (pl.col("t") - pl.col("t0") <= WINDOW_US))
            .group_by("actor_id")
            .agg(
                p=pl.col("pos").min(),
                t_new=pl.col("t").sort_by("pos").first(),
                t_prev=pl.col("t_prev").first(),
                t0=pl.col("t0").first(),
            )
            .with_columns(d=(pl.col("t_new") - pl.col("t_prev")) / 1e6)
            .collect()
        )
        funnel.append((nxt.height, nxt["d"].median() if nxt.height else None))  # type: ignore[arg-type]
        current = nxt.select("actor_id", "p", pl.col("t_new").alias("t"), "t0")
    # time in stage
    v = (
        df.lazy()
        .with_columns(stage=pl.col("event").replace_strict(STAGES, default=None))
        .filter(pl.col("stage").is_not_null())
        .filter(
            (pl.col("actor_id") != pl.col("actor_id").shift(1).fill_null(""))
            | (pl.col("stage") != pl.col("stage").shift(1)).fill_null(True)
        )
        .with_columns(
            secs=pl.when(pl.col("actor_id") == pl.col("actor_id").shift(-1)).then(
                (pl.col("t").shift(-1) - pl.col("t")) / 1e6
            )
        )
        .group_by("stage")
        .agg(n=pl.len(), c=pl.col("secs").count(), m=pl.col("secs").median())
        .collect()
    )
    return normalise(
        dfg={(r["event"], r["nxt"]): (r["n"], r["m"], r["p"]) for r in dfg.iter_rows(named=True)},
        variant_counts=variants["len"].to_list(),
        starts=dict(starts.iter_rows()),
        ends=dict(ends.iter_rows()),
        funnel=funnel,
        stages={r["stage"]: (r["n"], r["c"], r["m"]) for r in v.iter_rows(named=True)},
    )


CONTENDERS: dict[str, Callable[[Path], Results]] = {
    "journeymap": run_journeymap,
    "journeymap_ws": run_journeymap_ws,
    "floor": run_floor,
    "duckdb_sql": run_duckdb_sql,
    "polars": run_polars,
    "pandas": run_pandas,
    "pm4py": run_pm4py,
}
"""Every contender by name, in the order the runner measures them."""

PEERS = ("duckdb_sql", "polars", "pandas", "pm4py")
"""The contenders that run in the separate benchmark environment."""
