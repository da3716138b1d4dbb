"""``journeymap analyze``: the pipeline on a hand-made workspace, the command end to end,
and bad input."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from journeymap.cli.analyze import contract_table_of, import_contract_file
from journeymap.cli.app import app
from journeymap.engines.analysis import AnalysisOptions, analyze_journey
from journeymap.insights.evidence import EvidencedMap, StepMetrics
from journeymap.model import JourneyMap

ROOT = Path(__file__).parents[1]

TINY_MAP = {
    "id": "tiny",
    "title": "Tiny shop",
    "stages": [
        {
            "id": "browse",
            "name": "Browse",
            "steps": [
                {"id": "view", "name": "Views", "events": {"match": {"event": "view"}}},
                {"id": "cart", "name": "Adds to cart", "events": {"match": {"event": "cart"}}},
            ],
        },
        {
            "id": "purchase",
            "name": "Purchase",
            "steps": [{"id": "buy", "name": "Buys", "events": {"match": {"event": "buy"}}}],
        },
    ],
}

AS_OF = datetime(2024, 1, 10, 6, 0, tzinfo=UTC)


def _t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


# (actor, time, event, region). Window 1 day, as of Jan 10 06:00.
TINY_EVENTS = [
    ("c1", _t(1, 10), "view", "KR-11"),
    ("c1", _t(1, 10, 30), "cart", "KR-11"),
    ("c1", _t(1, 11), "buy", "KR-11"),
    ("c1", _t(1, 12), "page", "KR-11"),  # matches no step
    ("c2", _t(1, 9), "view", "KR-26"),
    ("c2", _t(3, 9), "cart", "KR-26"),  # two days after the view: outside the window
    ("c3", _t(1, 12), "view", "KR-11"),
    ("c3", _t(1, 13), "view", "KR-11"),
    ("c3", _t(1, 14), "cart", "KR-11"),
    ("c4", _t(2, 8), "cart", "US-CO"),  # never viewed
    ("c4", _t(2, 9), "buy", "US-CO"),
    ("c5", _t(10, 0), "view", "US-UT"),  # six hours before as-of: window still open
    ("c6", _t(1, 8), "buy", "US-CO"),
    ("c6", _t(11, 8), "view", "US-CO"),  # after as-of: left out
]


def _events_table(rows: list[tuple[str, datetime, str, str]]) -> pa.Table:
    return pa.table(
        {
            "event_id": [f"e{i:02d}" for i in range(len(rows))],
            "actor_id": [r[0] for r in rows],
            "actor_kind": ["customer_id"] * len(rows),
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "event": [r[2] for r in rows],
            "channel": ["web"] * len(rows),
            "session_id": [None] * len(rows),
            "region": [r[3] for r in rows],
            "source_tz": ["UTC"] * len(rows),
            "properties": ["{}"] * len(rows),
        }
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> EvidencedMap:
    """The hand-made workspace, analysed once for every test that reads it."""
    from journeymap.io.workspace import init_workspace

    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "events.parquet"
    pq.write_table(_events_table(TINY_EVENTS), path)
    with init_workspace(folder / "ws") as ws:
        report = import_contract_file(ws, path, table="events")
        assert report.events_loaded == len(TINY_EVENTS)
        return analyze_journey(
            ws.con,
            JourneyMap.model_validate(TINY_MAP),
            events=ws.table("events"),
            feedback=ws.table("feedback"),
            options=AnalysisOptions(as_of=AS_OF, window=timedelta(days=1)),
        )


def _step(ev: EvidencedMap, step_id: str) -> StepMetrics:
    metrics = ev.snapshot.step(step_id)
    assert metrics is not None
    return metrics


def _wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_step_metrics_match_the_hand_count(tiny: EvidencedMap) -> None:
    # view: reached by c1, c2, c3, c5 (c6's view is after as-of).
    #   c1 went on to cart 30 min later, c3 two hours after its first view: converted.
    #   c2's cart came two days later, past the 1-day window closed by as-of: dropped.
    #   c5 viewed 6 h before as-of: window open, in progress.
    #   Conversion 2 / (2 + 1); times 1800 s and 7200 s: median 4500,
    #   p90 = 1800 + 0.9 * (7200 - 1800) = 6660. Events: c1 1, c2 1, c3 2, c5 1 = 5.
    view = _step(tiny, "view")
    assert (view.reach, view.converted, view.dropped, view.in_progress) == (4, 2, 1, 1)
    assert view.events == 5
    assert view.conversion.value == pytest.approx(2 / 3)
    assert view.conversion.n == 3
    low, high = _wilson(2, 3)
    assert (view.conversion.low, view.conversion.high) == (pytest.approx(low), pytest.approx(high))
    assert view.drop_off == pytest.approx(1 / 3)
    assert view.median_seconds == pytest.approx(4500)
    assert view.p90_seconds == pytest.approx(6660)
    # cart: c1, c2, c3, c4. c1 bought 30 min later, c4 one hour later: converted.
    #   c2 (cart Jan 3, window closed Jan 4) and c3 never bought: dropped.
    #   Times 1800 and 3600: median 2700, p90 = 1800 + 0.9 * 1800 = 3420.
    cart = _step(tiny, "cart")
    assert (cart.reach, cart.converted, cart.dropped, cart.in_progress) == (4, 2, 2, 0)
    assert cart.conversion.value == pytest.approx(0.5)
    assert cart.drop_off == pytest.approx(0.5)
    assert cart.median_seconds == pytest.approx(2700)
    assert cart.p90_seconds == pytest.approx(3420)
    # buy: the last step, c1, c4, c6; no next step, so no conversion.
    buy = _step(tiny, "buy")
    assert (buy.reach, buy.converted, buy.dropped, buy.in_progress) == (3, 0, 0, 0)
    assert buy.conversion.value is None and buy.drop_off is None
    assert [m.stage_id for m in tiny.snapshot.steps] == ["browse", "browse", "purchase"]


def test_stage_metrics_and_time_in_stage_match_the_hand_count(tiny: EvidencedMap) -> None:
    # browse: c1..c5. Bought within a day of their first browse event: c1 (10:00 → 11:00)
    # and c4 (08:00 → 09:00). c2, c3 never bought: dropped. c5: in progress.
    # Time in browse, completed visits only: c1 3600 s, c4 3600 s.
    browse = tiny.snapshot.stage("browse")
    assert browse is not None
    assert (browse.reach, browse.converted, browse.dropped, browse.in_progress) == (5, 2, 2, 1)
    assert browse.conversion.value == pytest.approx(0.5)
    assert browse.median_seconds == pytest.approx(3600)
    purchase = tiny.snapshot.stage("purchase")
    assert purchase is not None and purchase.reach == 3 and purchase.conversion.value is None


def test_snapshot_counts_customers_events_and_unmatched(tiny: EvidencedMap) -> None:
    snap = tiny.snapshot
    # 14 events, one after as-of: 13 counted; c6's late view is its only one after as-of.
    assert (snap.customers, snap.events, snap.feedback) == (6, 13, 0)
    assert snap.unmatched_share == pytest.approx(1 / 13)  # c1's page view
    assert snap.as_of == AS_OF
    assert snap.data_from == _t(1, 8) and snap.data_to == _t(10, 0)
    assert snap.window_seconds == 86400
    assert snap.engine == "duckdb"
    assert snap.sources == ("events.parquet",)
    assert any("match no step" in note for note in tiny.notes)


def test_sankey_starts_where_each_customer_starts(tiny: EvidencedMap) -> None:
    # First steps (repeats collapsed): c1 view→cart, c2 view→cart, c3 view→cart,
    # c5 view then nothing, c4 cart→buy, c6 buy then nothing.
    first = {(link.source, link.target): link.customers for link in tiny.sankey if link.depth == 0}
    assert first == {
        ("view", "cart"): 3,
        ("view", "drop-off"): 1,
        ("cart", "buy"): 1,
        ("buy", "drop-off"): 1,
    }


def test_segments_compare_countries_on_reaching_the_last_step(tiny: EvidencedMap) -> None:
    # No key transaction: converted means reached 'buy'. KR: c1 of c1, c2, c3 = 1/3.
    # US: c4, c6 of c4, c5, c6 = 2/3 (regions read as countries).
    rows = {s.segment: s for s in tiny.segments if s.group_by == "country"}
    assert set(rows) == {"KR", "US"}
    assert (rows["KR"].customers, rows["KR"].converted) == (3, 1)
    assert (rows["US"].customers, rows["US"].converted) == (3, 2)
    assert rows["KR"].difference.value == pytest.approx(1 / 3 - 2 / 3)
    assert rows["KR"].metric == "reached buy"
    assert not rows["KR"].significant  # three customers a side prove nothing


@pytest.mark.spark
def test_spark_gives_the_same_hand_counted_steps(tiny: EvidencedMap) -> None:
    import ibis
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    table = _events_table(TINY_EVENTS)
    table = table.append_column("source", pa.array(["batch-1"] * table.num_rows))
    session.createDataFrame(table).createOrReplaceTempView("analyze_events")
    con = ibis.pyspark.connect(session)
    ev = analyze_journey(
        con,
        JourneyMap.model_validate(TINY_MAP),
        events=con.table("analyze_events"),
        feedback=None,
        options=AnalysisOptions(as_of=AS_OF, window=timedelta(days=1)),
    )
    # the same numbers as the DuckDB run, which the tests above work out by hand
    assert ev.snapshot.engine == "pyspark"
    assert ev.snapshot.steps == tiny.snapshot.steps
    for spark_stage, duck_stage in zip(ev.snapshot.stages, tiny.snapshot.stages, strict=True):
        assert spark_stage == duck_stage
    assert sorted(ev.sankey, key=repr) == sorted(tiny.sankey, key=repr)


def test_analysis_reads_events_through_stitched_identities(ws: Any, tmp_path: Path) -> None:
    # a1 (a browser) viewed; the link says a1 is customer c1, who bought 10 minutes later.
    rows = [("a1", _t(1, 10), "view", "KR-11"), ("c1", _t(1, 10, 10), "cart", "KR-11")]
    table = _events_table(rows)
    kinds = pa.array(["anonymous_id", "customer_id"])
    table = table.set_column(table.schema.get_field_index("actor_kind"), "actor_kind", kinds)
    pq.write_table(table, tmp_path / "events.parquet")
    links = pa.table(
        {
            "id_a": ["a1"],
            "kind_a": ["anonymous_id"],
            "id_b": ["c1"],
            "kind_b": ["customer_id"],
            "ts": pa.array([_t(1, 10)], pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(links, tmp_path / "links.parquet")
    import_contract_file(ws, tmp_path / "events.parquet", table="events")
    import_contract_file(ws, tmp_path / "links.parquet", table="identity_links")
    said: list[str] = []
    ev = analyze_journey(
        ws.con,
        JourneyMap.model_validate(TINY_MAP),
        events=ws.table("events"),
        feedback=None,
        options=AnalysisOptions(window=timedelta(days=1)),
        progress=said.append,
    )
    assert ev.snapshot.customers == 1
    view = _step(ev, "view")
    assert (view.reach, view.converted, view.median_seconds) == (1, 1, pytest.approx(600))
    assert any("stitching" in text for text in said)


def test_contract_files_are_recognised_by_their_columns(tmp_path: Path) -> None:
    pq.write_table(_events_table(TINY_EVENTS[:1]), tmp_path / "e.parquet")
    (tmp_path / "l.csv").write_text("id_a,kind_a,id_b,kind_b,ts\n", encoding="utf-8")
    (tmp_path / "other.csv").write_text("customer,when,what\n", encoding="utf-8")
    assert contract_table_of(tmp_path / "e.parquet") == "events"
    assert contract_table_of(tmp_path / "l.csv") == "identity_links"
    assert contract_table_of(tmp_path / "other.csv") is None


def test_contract_rows_without_an_actor_are_quarantined_not_dropped(
    ws: Any, tmp_path: Path
) -> None:
    table = _events_table(TINY_EVENTS[:3])
    actors = pa.array(["c1", None, "c1"])
    table = table.set_column(table.schema.get_field_index("actor_id"), "actor_id", actors)
    pq.write_table(table, tmp_path / "events.parquet")
    report = import_contract_file(ws, tmp_path / "events.parquet", table="events")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    assert report.quarantined_by_reason == {"missing_actor": 1}
    again = import_contract_file(ws, tmp_path / "events.parquet", table="events")
    assert again.already_imported and again.rows_read == 0


def test_contract_csv_rows_with_a_bad_time_or_no_identifier_are_quarantined_by_line(
    ws: Any, tmp_path: Path
) -> None:
    path = tmp_path / "links.csv"
    path.write_text(
        "id_a,kind_a,id_b,kind_b,ts\n"
        "a1,anonymous_id,c1,customer_id,2024-01-01T10:00:00Z\n"  # line 2: loads
        "a2,anonymous_id,,customer_id,2024-01-01 10:00:00\n"  # line 3: no second id
        "a3,anonymous_id,c3,customer_id,yesterday\n",  # line 4: not a time
        encoding="utf-8",
    )
    report = import_contract_file(ws, path, table="identity_links")
    assert (report.rows_read, report.rows_loaded, report.identity_links_loaded) == (3, 1, 1)
    assert report.quarantined_by_reason == {"bad_timestamp": 1, "missing_identifier": 1}
    details = sorted(r[0] for r in ws.con.raw_sql("SELECT detail FROM quarantine").fetchall())
    assert details[0].startswith("links.csv:3: no value for identifier")
    assert details[1].startswith("links.csv:4: ts is not an ISO 8601 time")


# --- the command --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from journeymap.demo import generate_demo
    from journeymap.demo.writer import write_tables

    folder = tmp_path_factory.mktemp("demo-data")
    write_tables(generate_demo(customers=1500, seed=3), folder)
    return folder


@pytest.mark.slow
def test_analyze_writes_the_evidenced_map_and_the_report(demo_files: Path, tmp_path: Path) -> None:
    from journeymap.insights import load_evidenced

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            str(ROOT / "examples" / "backpack.yaml"),
            "--events",
            str(demo_files / "events.parquet"),
            "--feedback",
            str(demo_files / "feedback.parquet"),
            "--links",
            str(demo_files / "identity_links.parquet"),
            "-o",
            str(out),
            "--prefer",
            "payment method=properties.payment_method@order_placed",
            "--no-pdf",
            "--no-png",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("ridgeway-backpack.evidenced.json", "report.html", "map.svg", "map.html"):
        assert (out / name).is_file(), name
    assert list((out / "charts").glob("*.svg"))
    assert (out / "workspace" / "journeymap.toml").is_file()
    data = json.loads((out / "ridgeway-backpack.evidenced.json").read_text(encoding="utf-8"))
    ev = load_evidenced(data)
    assert ev.map.id == "ridgeway-backpack"
    assert ev.snapshot.feedback > 0 and ev.snapshot.customers > 0
    assert [p.dimension for p in ev.preferences] == ["payment method"]
    # every step with data: reach splits into converted, dropped, in progress (or is last)
    for m in ev.snapshot.steps:
        assert m.converted + m.dropped + m.in_progress in (m.reach, 0)
    from journeymap.cli.analyze import biggest_drop_off

    worst = biggest_drop_off(ev)
    assert worst is not None
    # the funnel ends at the key transaction: leaving after the purchase is not a drop-off
    keys = [s.id for _, s in ev.map.all_steps() if s.key_transaction]
    after = [s.id for _, s in ev.map.all_steps()]
    assert worst.step_id in after[: after.index(keys[-1])]
    name = next(s.name for _, s in ev.map.all_steps() if s.id == worst.step_id)
    assert name in (out / "report.html").read_text(encoding="utf-8")
    assert name in result.output and "biggest drop-off" in result.output
    # journeymap render draws the evidenced JSON with its measured lane
    picture = tmp_path / "again.svg"
    drawn = CliRunner().invoke(
        app, ["render", str(out / "ridgeway-backpack.evidenced.json"), "-o", str(picture)]
    )
    assert drawn.exit_code == 0, drawn.output
    svg = picture.read_text(encoding="utf-8")
    assert "Reach" in svg and f">{worst.reach:,}<" in svg


def _invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, ["analyze", *args])


def test_analyze_names_a_missing_map(tmp_path: Path) -> None:
    result = _invoke([str(tmp_path / "nope.yaml"), "-w", str(tmp_path), "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "nope.yaml: no such file" in result.output
    assert "Traceback" not in result.output


def test_analyze_locates_a_problem_in_the_map(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: m\ntitle: M\nstages:\n  - id: s\n    name: S\n    steps:\n"
        "      - id: a\n        name: A\n        emotoin: 1\n",
        encoding="utf-8",
    )
    events = tmp_path / "events.csv"
    events.write_text("actor_id,ts,event\nc1,2024-01-01T00:00:00Z,view\n", encoding="utf-8")
    result = _invoke([str(bad), "--events", str(events), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "bad.yaml:9:9" in result.output and "emotion" in result.output


def test_analyze_says_which_column_an_events_file_lacks(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("actor_id,event\nc1,view\n", encoding="utf-8")
    result = _invoke(
        [str(ROOT / "examples" / "backpack.yaml"), "--events", str(events), "-o", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "events.csv: no column for the time" in result.output
    assert "pass --ts COLUMN" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--prefer", "no equals sign"], "LABEL=FIELD"),
        (["--window", "soon"], "is not a duration"),
        (["--scoring", "custom"], "--formula"),
        (["--lang", "fr"], "en or ko"),
    ],
)
def test_analyze_refuses_bad_options_with_a_fix(
    tmp_path: Path, option: list[str], message: str
) -> None:
    result = _invoke(
        [
            str(ROOT / "examples" / "backpack.yaml"),
            "-w",
            str(tmp_path),
            "-o",
            str(tmp_path),
            *option,
        ]
    )
    assert result.exit_code == 1
    assert message in result.output
