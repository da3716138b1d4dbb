"""The satisfaction and preference runners on an engine: a small workspace and the demo."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats as sst

from journeymap.analytics.mapping import map_events
from journeymap.analytics.satisfaction import SatisfactionError
from journeymap.demo import generate_demo
from journeymap.engines.satisfaction import (
    SatisfactionMeasures,
    measure_preference,
    measure_satisfaction,
)
from journeymap.errors import EngineError
from journeymap.insights.evidence import Satisfaction
from journeymap.io.maps import load_map
from journeymap.io.sentiment_model import load_sentiment_models
from journeymap.io.workspace import import_source
from journeymap.model import JourneyMap
from journeymap.sentiment import score_texts

EXAMPLES = Path(__file__).parents[1] / "examples"

JMAP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "browse",
                "name": "Browse",
                "steps": [
                    {"id": "view", "name": "View", "events": {"match": {"event": "product_view"}}}
                ],
            },
            {
                "id": "purchase",
                "name": "Purchase",
                "steps": [
                    {
                        "id": "checkout",
                        "name": "Checkout",
                        "events": {"match": {"event": "checkout"}},
                    }
                ],
            },
        ],
    }
)

EVENTS_CSV = (
    "customer_id,timestamp,event\n"
    "u1,2024-05-01 10:00:00,product_view\n"
    "u1,2024-05-01 10:05:00,checkout\n"
    "u2,2024-05-01 11:00:00,product_view\n"
    "u3,2024-05-02 09:00:00,checkout\n"
)
KO_TEXT = "배송이 빨라서 정말 좋았어요"
EN_TEXT = "The product page was confusing and slow."
BAD_TEXT = "Terrible service, never again"
SURVEY_CSV = (
    "customer_id,answered_at,csat,nps,comment,about\n"
    f"u1,2024-05-01 12:00:00,5,10,{KO_TEXT},\n"  # latest step before noon: checkout (10:05)
    f"u2,2024-05-01 12:00:00,2,3,{EN_TEXT},\n"  # latest step: view (11:00)
    "u3,2024-05-20 09:00:00,4,,,\n"  # u3's checkout is 18 days earlier: unattached
    f'u4,2024-05-03 09:00:00,,,"{BAD_TEXT}",purchase\n'  # about the stage, text only
)


def by_scale(figures: tuple[Satisfaction, ...]) -> dict[str, Satisfaction]:
    return {f.scale: f for f in figures}


@pytest.fixture
def small(ws: Any, tmp_path: Path) -> SatisfactionMeasures:
    events = tmp_path / "events.csv"
    events.write_text(EVENTS_CSV, encoding="utf-8")
    survey = tmp_path / "survey.csv"
    survey.write_text(SURVEY_CSV, encoding="utf-8")
    import_source(ws, events, progress=False)
    report = import_source(ws, survey, fmt="feedback", progress=False)
    assert report.feedback_loaded == 6  # u1 and u2 two scales each, u3 one, u4 text only
    mapped = map_events(ws.table("events"), JMAP).table
    return measure_satisfaction(ws.con, ws.table("feedback"), mapped, JMAP)


def test_a_small_workspace_by_hand(small: SatisfactionMeasures) -> None:
    m = small
    assert (m.responses, m.unattached, m.texts, m.unscored_texts) == (6, 1, 3, 0)
    assert m.attached == {"about_step": 0, "about_stage": 1, "event": 4, "none": 1}
    checkout = by_scale(m.steps["checkout"])
    view = by_scale(m.steps["view"])
    # checkout: CSAT 5 -> 1 of 1 in the top box; NPS 10 -> one promoter of one -> 100
    assert (checkout["csat"].score.value, checkout["csat"].responses) == (1.0, 1)
    assert checkout["nps"].score.value == 100.0
    # view: CSAT 2 -> 0 of 1; NPS 3 -> one detractor -> -100
    assert (view["csat"].score.value, view["nps"].score.value) == (0.0, -100.0)
    # one answer: Wilson still gives an interval, a mean has none
    assert checkout["csat"].score.low == pytest.approx(
        sst.binomtest(1, 1).proportion_ci(method="wilson").low
    )
    # the Korean praise scores positive, the English complaint negative
    assert (checkout["sentiment"].score.value or 0) > 0 > (view["sentiment"].score.value or 0)
    # emotion from the scores: checkout (5 - 3 = 2, (10 - 5) / 2.5 = 2) -> 2;
    # view (2 - 3 = -1, (3 - 5) / 2.5 = -0.8) -> -0.9
    assert m.step_emotion == {"checkout": 2.0, "view": pytest.approx(-0.9)}
    # the purchase stage adds u4's text: emotion 2 x its sentiment
    models = load_sentiment_models()
    (bad,) = score_texts([BAD_TEXT], models=models)
    assert bad < 0
    assert m.stage_emotion["purchase"] == pytest.approx((2.0 + 2.0 + 2 * bad) / 3)
    assert m.stage_emotion["browse"] == pytest.approx(-0.9)
    purchase = by_scale(m.stages["purchase"])
    (good,) = score_texts([KO_TEXT], models=models, lang="ko")
    assert purchase["sentiment"].responses == 2
    assert purchase["sentiment"].score.value == pytest.approx((good + bad) / 2)
    assert list(purchase) == ["csat", "nps", "sentiment"]


def feedback_memtable(rows: list[dict[str, Any]]) -> Any:
    schema = pa.schema(
        [
            ("feedback_id", pa.string()),
            ("actor_id", pa.string()),
            ("actor_kind", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("scale", pa.string()),
            ("score", pa.float64()),
            ("text", pa.string()),
            ("lang", pa.string()),
            ("about", pa.string()),
            ("source", pa.string()),
        ]
    )
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


EVENTS_ONE = ibis.memtable(
    pa.table(
        {
            "event_id": ["e1"],
            "actor_id": ["u1"],
            "ts": pa.array([datetime(2024, 5, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
            "event": ["product_view"],
        }
    )
)


def test_text_in_a_language_without_a_scorer_is_counted_not_scored() -> None:
    rows = [
        {
            "feedback_id": "f1",
            "actor_id": "u1",
            "ts": datetime(2024, 5, 2, tzinfo=UTC),
            "scale": "text",
            "text": "Entrega rápida, adorei",
            "lang": "pt",
            "about": "view",
        },
        {
            "feedback_id": "f2",
            "actor_id": "u1",
            "ts": datetime(2024, 5, 2, tzinfo=UTC),
            "scale": "text",
            "text": "   ",
            "lang": None,
            "about": "view",
        },
        {
            "feedback_id": "f3",
            "actor_id": "u1",
            "ts": datetime(2024, 5, 2, tzinfo=UTC),
            "scale": "csat",
            "score": 4.0,
            "text": None,
            "about": None,
        },
    ]
    con = ibis.duckdb.connect()
    m = measure_satisfaction(con, feedback_memtable(rows), map_events(EVENTS_ONE, JMAP).table, JMAP)
    # f1 has text but no scorer for Portuguese; f2's text is blank (no text at all)
    assert (m.responses, m.texts, m.unscored_texts, m.unattached) == (3, 1, 1, 0)
    # only f3 carries an emotion: 4 - 3 = 1
    assert m.step_emotion == {"view": 1.0}
    assert [f.scale for f in m.steps["view"]] == ["csat"]


def test_feedback_without_unique_ids_is_refused_with_how_to_fix() -> None:
    row = {
        "feedback_id": "f1",
        "actor_id": "u1",
        "ts": datetime(2024, 5, 2, tzinfo=UTC),
        "scale": "csat",
        "score": 4.0,
    }
    con = ibis.duckdb.connect()
    with pytest.raises(SatisfactionError, match="1 repeated ids among 2 rows"):
        measure_satisfaction(
            con, feedback_memtable([row, row]), map_events(EVENTS_ONE, JMAP).table, JMAP
        )


def test_engine_failures_become_engine_errors() -> None:
    row = {
        "feedback_id": "f1",
        "actor_id": "u1",
        "ts": datetime(2024, 5, 2, tzinfo=UTC),
        "scale": "csat",
        "score": 4.0,
        "about": "view",
        "text": None,
    }
    con = ibis.duckdb.connect()
    # a score that cannot be read as a number fails inside DuckDB, at execution
    broken = feedback_memtable([row]).mutate(score=ibis.literal("four").cast("float64"))
    with pytest.raises(EngineError, match="measuring satisfaction failed"):
        measure_satisfaction(con, broken, map_events(EVENTS_ONE, JMAP).table, JMAP)


# --- the demo company -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Any:
    return generate_demo(customers=2000, seed=7)


@pytest.fixture(scope="module")
def demo_measures(demo: Any) -> tuple[SatisfactionMeasures, float]:
    con = ibis.duckdb.connect()
    con.con.register("events_arrow", demo.events)
    con.con.execute(
        "CREATE TABLE events AS SELECT * REPLACE (properties::JSON AS properties) FROM events_arrow"
    )
    con.con.register("feedback_arrow", demo.feedback)
    con.con.execute("CREATE TABLE feedback AS SELECT * FROM feedback_arrow")
    jmap = load_map(EXAMPLES / "backpack.yaml")
    load_sentiment_models()  # loading the models once is not what is timed
    started = time.perf_counter()
    m = measure_satisfaction(
        con, con.table("feedback"), map_events(con.table("events"), jmap).table, jmap
    )
    return m, time.perf_counter() - started


# The demo's surveys name sub-stages and stages of the backpack map in ``about``:
# delivery and support-call are sub-stages of service.
STAGE_OF = {
    "delivery": "service",
    "support-call": "service",
    "purchase": "purchase",
    "loyalty": "loyalty",
}


def test_demo_feedback_counts_per_stage_equal_pandas(demo: Any, demo_measures: Any) -> None:
    m, _ = demo_measures
    f = demo.feedback.to_pandas()
    f["stage"] = f["about"].map(STAGE_OF)
    assert m.responses == len(f)
    assert m.unattached == int(f["stage"].isna().sum())
    for (stage, scale), group in f.dropna(subset=["stage"]).groupby(["stage", "scale"]):
        figure = by_scale(m.stages[stage])[scale]
        scores = group["score"].to_numpy()
        assert figure.responses == len(group)
        if scale == "csat":
            assert figure.score.value == pytest.approx((scores >= 4).mean())
        elif scale == "nps":
            assert figure.score.value == pytest.approx(
                100 * ((scores >= 9).mean() - (scores <= 6).mean())
            )
        else:
            assert figure.score.value == pytest.approx(scores.mean())
            low, high = sst.t.interval(
                0.95, len(scores) - 1, loc=scores.mean(), scale=sst.sem(scores)
            )
            assert (figure.score.low, figure.score.high) == pytest.approx((low, high))
    # every text of the demo is Korean or English: all scored
    assert (m.texts, m.unscored_texts) == (int(f["text"].notna().sum()), 0)


def test_demo_measured_emotion_equals_pandas(demo: Any, demo_measures: Any) -> None:
    m, _ = demo_measures
    f = demo.feedback.to_pandas()
    f["stage"] = f["about"].map(STAGE_OF)
    emotion = np.select(
        [f.scale.isin(["csat", "rating"]), f.scale == "nps", f.scale == "ces"],
        [f.score - 3, (f.score - 5) / 2.5, (4 - f.score) / 1.5],
        np.nan,
    )
    f["emotion"] = np.clip(emotion, -2, 2)
    # every demo answer has a score, so its emotion comes from the score
    assert f["emotion"].notna().all()
    expected = f.groupby("stage")["emotion"].mean().to_dict()
    assert m.stage_emotion == pytest.approx(expected)
    # the story: the service stage (wrong colours, queues) feels worse than buying did
    assert m.stage_emotion["service"] < m.stage_emotion["purchase"]


def test_demo_text_sentiment_equals_scoring_each_text_directly(
    demo: Any, demo_measures: Any
) -> None:
    m, seconds = demo_measures
    f = demo.feedback.to_pandas()
    f = f[f["text"].notna()].copy()
    f["stage"] = f["about"].map(STAGE_OF)
    f["sentiment"] = score_texts(
        list(f["text"]), models=load_sentiment_models(), lang=list(f["lang"])
    )
    for stage, group in f.groupby("stage"):
        figure = by_scale(m.stages[stage])["sentiment"]
        assert figure.responses == len(group)
        assert figure.score.value == pytest.approx(group["sentiment"].mean())
    # the whole run on 65k events and 1.3k answers (677 texts) takes seconds
    assert seconds < 30, seconds


def test_demo_payment_methods_differ_by_country(demo: Any) -> None:
    con = ibis.duckdb.connect()
    con.con.register("events_arrow", demo.events)
    con.con.execute(
        "CREATE TABLE events AS SELECT * REPLACE (properties::JSON AS properties) FROM events_arrow"
    )
    pref = measure_preference(
        con,
        con.table("events"),
        choice="properties.payment_method",
        events_named=["order_placed"],
        label="payment method",
    )
    # independent counts: parse the JSON in Python
    e = demo.events.filter(pa.compute.equal(demo.events["event"], "order_placed")).to_pandas()
    e["country"] = e["region"].str.split("-").str[0]
    e["method"] = [json.loads(p).get("payment_method") for p in e["properties"]]
    counts = e.groupby(["country", "method"]).size().to_dict()
    assert {(c.group, c.choice): c.count for c in pref.cells if c.count} == counts
    assert pref.unassigned == int(e["method"].isna().sum() + e["country"].isna().sum())
    table = pd.crosstab(e["country"], e["method"])
    ref = sst.chi2_contingency(table.to_numpy(), correction=False)
    assert (pref.statistic, pref.p_value, pref.dof) == pytest.approx(
        (ref.statistic, ref.pvalue, ref.dof)
    )
    assert (pref.dimension, pref.group_by, pref.significant) == ("payment method", "country", True)
    cells = {(c.group, c.choice): c for c in pref.cells}
    # wallets in Korea, cards in the US: more than independence predicts, significantly
    assert cells[("KR", "kakaopay")].significant and (cells[("KR", "kakaopay")].residual or 0) > 0
    assert cells[("US", "card")].significant and (cells[("US", "card")].residual or 0) > 0


def test_window_is_an_option(ws: Any, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(EVENTS_CSV, encoding="utf-8")
    survey = tmp_path / "survey.csv"
    survey.write_text(SURVEY_CSV, encoding="utf-8")
    import_source(ws, events, progress=False)
    import_source(ws, survey, fmt="feedback", progress=False)
    mapped = map_events(ws.table("events"), JMAP).table
    # with 30 days u3's answer (18 days after its checkout) attaches too
    m = measure_satisfaction(ws.con, ws.table("feedback"), mapped, JMAP, window=timedelta(days=30))
    assert m.unattached == 0
    assert by_scale(m.steps["checkout"])["csat"].responses == 2


def test_demo_support_channels_differ_by_country(demo: Any) -> None:
    con = ibis.duckdb.connect()
    con.con.register("events_arrow", demo.events)
    con.con.execute(
        "CREATE TABLE events AS SELECT * REPLACE (properties::JSON AS properties) FROM events_arrow"
    )
    starts = ["chat_start", "phone_call", "support_email"]
    pref = measure_preference(con, con.table("events"), choice="channel", events_named=starts)
    e = demo.events.filter(pa.compute.is_in(demo.events["event"], pa.array(starts))).to_pandas()
    table = pd.crosstab(e["region"].str.split("-").str[0], e["channel"])
    ref = sst.chi2_contingency(table.to_numpy(), correction=False)
    assert (pref.statistic, pref.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    significant = {
        (c.group, c.choice) for c in pref.cells if c.significant and (c.residual or 0) > 0
    }
    # chat in Korea, email in Germany, phone in the US (docs/demo.md)
    assert {("KR", "chat"), ("DE", "email"), ("US", "phone")} <= significant


@pytest.mark.slow
def test_ten_thousand_texts_are_scored_in_seconds(demo: Any) -> None:
    # 10,000 answers with text, all distinct: the demo's Korean and English comments
    # with a running number appended, each with its language code (the importer fills
    # lang for every text it loads, so detection is not part of the run)
    pairs = [
        (t, lang)
        for t, lang in zip(
            demo.feedback.column("text").to_pylist(),
            demo.feedback.column("lang").to_pylist(),
            strict=True,
        )
        if t
    ]
    rows = [
        {
            "feedback_id": f"f{i}",
            "actor_id": "u1",
            "ts": datetime(2024, 5, 2, tzinfo=UTC),
            "scale": "text",
            "text": f"{pairs[i % len(pairs)][0]} #{i}",
            "lang": pairs[i % len(pairs)][1],
            "about": "view",
        }
        for i in range(10_000)
    ]
    con = ibis.duckdb.connect()
    models = load_sentiment_models()
    started = time.perf_counter()
    m = measure_satisfaction(
        con, feedback_memtable(rows), map_events(EVENTS_ONE, JMAP).table, JMAP, models=models
    )
    seconds = time.perf_counter() - started
    assert (m.texts, m.unscored_texts) == (10_000, 0)
    assert by_scale(m.steps["view"])["sentiment"].responses == 10_000
    # about 2 s on an idle 2-core machine; generous for a busy CI runner
    assert seconds < 15, seconds
