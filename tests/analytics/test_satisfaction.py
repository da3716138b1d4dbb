"""Satisfaction: feedback attached to steps and stages, aggregated, with intervals and emotion."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from conftest import load, rows_of
from journeymap.analytics.mapping import map_events
from journeymap.analytics.satisfaction import (
    SatisfactionError,
    SummaryRow,
    attach_feedback,
    build_emotion,
    build_satisfaction,
    read_summary_row,
    summarize_satisfaction,
)
from journeymap.analytics.stats import (
    StatsError,
    estimate_mean_interval,
    estimate_nps_interval,
)
from journeymap.engines.satisfaction import measure_satisfaction
from journeymap.io.sentiment_model import load_sentiment_models
from journeymap.model import JourneyMap
from journeymap.sentiment import score_texts

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

JMAP = JourneyMap.model_validate(
    {
        "id": "shop",
        "title": "Shop",
        "stages": [
            {
                "id": "browse",
                "name": "Browse",
                "steps": [
                    {"id": "view", "name": "View", "events": {"match": {"event": "view"}}},
                    {"id": "cart", "name": "Cart", "events": {"match": {"event": "cart"}}},
                ],
            },
            {
                "id": "buy",
                "name": "Buy",
                "steps": [{"id": "pay", "name": "Pay", "events": {"match": {"event": "pay"}}}],
                "substages": [
                    {
                        "id": "ship",
                        "name": "Ship",
                        "steps": [
                            {
                                "id": "deliver",
                                "name": "Deliver",
                                "events": {"match": {"event": "deliver"}},
                            }
                        ],
                    }
                ],
            },
            # a step without an event rule: only an about hint reaches it
            {"id": "after", "name": "After", "steps": [{"id": "review", "name": "Review"}]},
        ],
    }
)

EVENTS: list[dict[str, Any]] = [
    {"event_id": "e-a1", "actor_id": "a", "ts": T0, "event": "view"},
    # same instant: the larger event id (e-a3, cart) is the later event, whatever the row order
    {"event_id": "e-a3", "actor_id": "a", "ts": T0 + HOUR, "event": "cart"},
    {"event_id": "e-a2", "actor_id": "a", "ts": T0 + HOUR, "event": "pay"},
    {"event_id": "e-a4", "actor_id": "a", "ts": T0 + 2 * HOUR, "event": "newsletter"},  # no step
    {"event_id": "e-a5", "actor_id": "a", "ts": T0 + 20 * DAY, "event": "deliver"},
    {"event_id": "e-b1", "actor_id": "b", "ts": T0, "event": "view"},
]

FEEDBACK_ARROW = pa.schema(
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
        ("sentiment", pa.float64()),
    ]
)

# id, actor, ts, scale, score, about, sentiment -> expected (step, stage, attached)
FEEDBACK: list[tuple[Any, ...]] = [
    # latest mapped event at or before 12:00 is the 10:00 tie, won by e-a3 (cart);
    # the 11:00 newsletter matched no step and is no candidate
    ("f01", "a", T0 + 3 * HOUR, "csat", 5.0, None, None, ("cart", "browse", "event")),
    # a sub-stage id: a's only step inside "ship" (deliver) comes later, so the stage only
    ("f02", "a", T0 + 3 * HOUR, "nps", 9.0, "ship", None, (None, "buy", "about_stage")),
    # a step id wins over the events; the text has a sentiment but the score sets the emotion
    ("f03", "a", T0 + 3 * HOUR, "csat", 2.0, "view", -0.8, ("view", "browse", "about_step")),
    # exactly 14 days after b's view: still inside the window
    ("f04", "b", T0 + 14 * DAY, "csat", 4.0, None, None, ("view", "browse", "event")),
    # one second later: outside
    (
        "f05",
        "b",
        T0 + 14 * DAY + timedelta(seconds=1),
        "ces",
        6.0,
        None,
        None,
        (None, None, "none"),
    ),
    # an about that names nothing, and a customer without events
    ("f06", "c", T0, "rating", 3.0, "nonsense", None, (None, None, "none")),
    # at the very instant of the delivery: "at or before" includes it
    ("f07", "a", T0 + 20 * DAY, "text", None, None, 0.5, ("deliver", "buy", "event")),
    # a step without an event rule, reached by its id
    ("f08", "a", T0 + 12 * HOUR, "csat", 1.0, " review ", None, ("review", "after", "about_step")),
    # before any of a's events
    ("f09", "a", T0 - HOUR, "csat", 3.0, None, None, (None, None, "none")),
    # a stage id, text only: a's latest step inside "buy" before it is pay (10:00)
    ("f10", "a", T0 + 3 * HOUR, "text", None, "buy", -0.5, ("pay", "buy", "about_stage")),
]


def feedback_table(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    cols: dict[str, list[Any]] = {name: [] for name in FEEDBACK_ARROW.names}
    for fid, actor, ts, scale, score, about, sentiment, *_ in rows:
        cols["feedback_id"].append(fid)
        cols["actor_id"].append(actor)
        cols["actor_kind"].append("customer_id")
        cols["ts"].append(ts)
        cols["scale"].append(scale)
        cols["score"].append(score)
        cols["text"].append(None if sentiment is None else f"text of {fid}")
        cols["lang"].append(None)
        cols["about"].append(about)
        cols["source"].append("test")
        cols["sentiment"].append(sentiment)
    return pa.table(cols, schema=FEEDBACK_ARROW)


def load_feedback(con: Any, rows: Sequence[tuple[Any, ...]], name: str = "feedback") -> ir.Table:
    """Register feedback rows on ``con`` (DuckDB table or Spark view)."""
    table = feedback_table(rows)
    if con.name == "duckdb":
        con.con.register(f"{name}__arrow", table)
        con.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "{name}__arrow"')
        con.con.unregister(f"{name}__arrow")
        return con.table(name)
    con._session.createDataFrame(table).createOrReplaceTempView(name)
    return con.table(name)


def attach(con: Any, events: list[dict[str, Any]], rows: Sequence[tuple[Any, ...]]) -> ir.Table:
    mapped = map_events(load(con, events), JMAP).table
    return attach_feedback(load_feedback(con, rows), mapped, JMAP, window=timedelta(days=14))


@pytest.mark.parametrize(
    "con", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)], indirect=True
)
def test_feedback_attaches_by_about_then_latest_step_event_within_the_window(con: Any) -> None:
    got = rows_of(attach(con, EVENTS, FEEDBACK), sort=["feedback_id"])
    assert [(r["feedback_id"], (r["step_id"], r["stage_id"], r["attached"])) for r in got] == [
        (row[0], row[-1]) for row in FEEDBACK
    ]
    # indexes follow the map's order: view 0, cart 1, pay 2, deliver 3, review 4; stages 0..2
    indexes = {r["feedback_id"]: (r["step_index"], r["stage_index"]) for r in got}
    assert indexes["f01"] == (1, 0)
    assert indexes["f02"] == (None, 1)
    assert indexes["f07"] == (3, 1)
    assert indexes["f08"] == (4, 2)
    assert indexes["f05"] == (None, None)
    # every row kept, with its own columns untouched
    assert [(r["score"], r["about"]) for r in got] == [(row[4], row[5]) for row in FEEDBACK]


def summary(con: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = rows_of(summarize_satisfaction(attach(con, EVENTS, FEEDBACK)))
    return {(r["level"], r["target"], r["scale"]): r for r in rows}


@pytest.mark.parametrize(
    "con", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)], indirect=True
)
def test_summary_counts_per_step_stage_and_scale_by_hand(con: Any) -> None:
    got = summary(con)
    # steps: cart f01 (csat 5); view f03 (csat 2, text -0.8), f04 (csat 4);
    # deliver f07 (text 0.5); pay f10 (text -0.5); review f08 (csat 1).
    # stages: browse = cart + view; buy = f02 (nps 9) + f07 + f10 (text -0.5); after = f08.
    assert sorted(got) == [
        ("stage", "after", "csat"),
        ("stage", "browse", "csat"),
        ("stage", "browse", "sentiment"),
        ("stage", "buy", "nps"),
        ("stage", "buy", "sentiment"),
        ("step", "cart", "csat"),
        ("step", "deliver", "sentiment"),
        ("step", "pay", "sentiment"),
        ("step", "review", "csat"),
        ("step", "view", "csat"),
        ("step", "view", "sentiment"),
    ]
    view = got[("step", "view", "csat")]
    # scores 2 and 4: one top-2 answer, mean 3, sample std sqrt(((2-3)^2 + (4-3)^2) / 1)
    assert (view["responses"], view["top_box"], view["mean"]) == (2, 1, 3.0)
    assert view["std"] == pytest.approx(math.sqrt(2))
    # emotion from the scores only: (2 - 3) + (4 - 3) = 0 over 2 rows
    assert (view["emotion_sum"], view["emotion_count"]) == (0.0, 2)
    # the text of f03 counts for sentiment, not again for emotion
    assert got[("step", "view", "sentiment")]["mean"] == pytest.approx(-0.8)
    assert got[("step", "view", "sentiment")]["emotion_count"] == 0
    browse = got[("stage", "browse", "csat")]
    # 5, 2, 4: two top-2 answers; emotion 2 - 1 + 1 = 2 over 3
    assert (browse["responses"], browse["top_box"], browse["emotion_sum"]) == (3, 2, 2.0)
    nps = got[("stage", "buy", "nps")]
    # 9 is a promoter; emotion (9 - 5) / 2.5 = 1.6
    assert (nps["responses"], nps["promoters"], nps["detractors"]) == (1, 1, 0)
    assert nps["emotion_sum"] == pytest.approx(1.6)
    text = got[("stage", "buy", "sentiment")]
    # f07 0.5 and f10 -0.5 have no score: emotion 2 x 0.5 + 2 x -0.5 = 0 over 2
    assert (text["responses"], text["mean"], text["emotion_count"]) == (2, 0.0, 2)
    assert text["std"] == pytest.approx(math.sqrt(0.5))
    assert text["emotion_sum"] == pytest.approx(0.0)
    assert got[("step", "review", "csat")]["emotion_sum"] == -2.0


@pytest.mark.parametrize(
    "con", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)], indirect=True
)
def test_the_runner_scores_text_and_measures_on_every_engine(con: Any) -> None:
    models = load_sentiment_models()
    feedback = load_feedback(con, FEEDBACK).drop("sentiment")
    mapped = map_events(load(con, EVENTS), JMAP).table
    m = measure_satisfaction(con, feedback, mapped, JMAP, models=models)
    # texts "text of f03", "text of f07", "text of f10" are scored by VADER here
    s03, s07, s10 = score_texts(
        ["text of f03", "text of f07", "text of f10"], models=models, lang="en"
    )
    assert (m.responses, m.unattached, m.texts, m.unscored_texts) == (10, 3, 3, 0)
    assert m.attached == {"about_step": 2, "about_stage": 2, "event": 3, "none": 3}
    # steps: cart 5 -> 2; view 2, 4 -> 0; deliver, pay text only -> 2 x s07, 2 x s10;
    # review 1 -> -2
    assert m.step_emotion == pytest.approx(
        {"cart": 2.0, "view": 0.0, "deliver": 2 * s07, "pay": 2 * s10, "review": -2.0}
    )
    # buy: nps 9 -> 1.6, f07 and f10 text only
    assert m.stage_emotion["buy"] == pytest.approx((1.6 + 2 * s07 + 2 * s10) / 3)
    view = {f.scale: f for f in m.steps["view"]}
    assert (view["csat"].score.value, view["csat"].responses) == (0.5, 2)
    assert view["sentiment"].score.value == pytest.approx(s03)


def test_emotion_averages_one_value_per_row_by_hand() -> None:
    duck = ibis.duckdb.connect()
    rows = [
        read_summary_row(r, i)
        for i, r in enumerate(rows_of(summarize_satisfaction(attach(duck, EVENTS, FEEDBACK))))
    ]
    emotion = {(e.level, e.target): (e.emotion, e.responses) for e in build_emotion(rows)}
    # buy: nps 9 -> 1.6, text 0.5 -> 1.0, text -0.5 -> -1.0: 1.6 / 3
    assert emotion[("stage", "buy")] == (pytest.approx(1.6 / 3), 3)
    # browse: 5 -> 2, 2 -> -1, 4 -> 1: 2 / 3 (f03's text does not count twice)
    assert emotion[("stage", "browse")] == (pytest.approx(2 / 3), 3)
    assert emotion[("step", "view")] == (0.0, 2)
    assert emotion[("step", "deliver")] == (1.0, 1)
    assert emotion[("stage", "after")] == (-2.0, 1)


@pytest.mark.parametrize(
    ("scale", "score", "emotion"),
    [
        ("csat", 1, -2.0),
        ("csat", 5, 2.0),
        ("rating", 4, 1.0),
        ("nps", 0, -2.0),
        ("nps", 10, 2.0),
        ("nps", 5, 0.0),
        ("nps", 7, 0.8),
        ("ces", 1, 2.0),
        ("ces", 7, -2.0),
        ("ces", 4, 0.0),
        ("rating", 9, 2.0),  # off its 1-5 range: cut to the emotion scale
    ],
)
def test_each_scale_maps_onto_the_emotion_scale(scale: str, score: float, emotion: float) -> None:
    duck = ibis.duckdb.connect()
    rows = [("g1", "a", T0 + HOUR, scale, float(score), "view", None, None)]
    mapped = map_events(load(duck, EVENTS[:1]), JMAP).table
    attached = attach_feedback(load_feedback(duck, rows), mapped, JMAP)
    (row,) = [r for r in rows_of(summarize_satisfaction(attached)) if r["level"] == "step"]
    assert row["emotion_sum"] == pytest.approx(emotion)


def test_attach_names_missing_columns_and_refuses_a_bad_window() -> None:
    duck = ibis.duckdb.connect()
    mapped = map_events(load(duck, EVENTS), JMAP).table
    feedback = load_feedback(duck, FEEDBACK)
    with pytest.raises(SatisfactionError, match="no 'about' column"):
        attach_feedback(feedback.drop("about"), mapped, JMAP)
    with pytest.raises(SatisfactionError, match="not positive"):
        attach_feedback(feedback, mapped, JMAP, window=timedelta(0))
    attached = attach_feedback(feedback, mapped, JMAP)
    with pytest.raises(SatisfactionError, match="attached before"):
        attach_feedback(attached, mapped, JMAP)


# --- the figures and their intervals, against independent computations ----------------


def row(scale: str, values: Sequence[float]) -> SummaryRow:
    """A summary row computed with numpy from raw answers (independent of the engine)."""
    arr = np.asarray(values, dtype=float)
    return SummaryRow(
        level="step",
        target="x",
        scale=scale,  # type: ignore[arg-type]
        responses=arr.size,
        top_box=int((arr >= 4).sum()),
        promoters=int((arr >= 9).sum()),
        detractors=int((arr <= 6).sum()),
        mean=float(arr.mean()) if arr.size else None,
        std=float(arr.std(ddof=1)) if arr.size > 1 else None,
        emotion_sum=0.0,
        emotion_count=0,
    )


def test_csat_is_the_top_two_box_share_with_a_wilson_interval() -> None:
    # 5, 4, 4, 3, 1: three of five answers are 4 or 5 -> 0.6
    s = build_satisfaction(row("csat", [5, 4, 4, 3, 1]))
    ref = sst.binomtest(3, 5).proportion_ci(0.95, method="wilson")
    assert (s.scale, s.responses, s.score.value) == ("csat", 5, 0.6)
    assert (s.score.low, s.score.high) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_nps_by_hand() -> None:
    # 10, 9, 9, 8, 7, 6, 3, 0, 10, 5: promoters 4, passives 2, detractors 4 -> NPS 0.
    # Each answer scores +1/0/-1: variance 0.4 + 0.4 - 0^2 = 0.8;
    # half width 1.959964 x 100 x sqrt(0.8 / 10) = 55.436 -> (-55.44, 55.44)
    s = build_satisfaction(row("nps", [10, 9, 9, 8, 7, 6, 3, 0, 10, 5]))
    assert s.score.value == pytest.approx(0.0)
    assert (round(s.score.low or 0, 2), round(s.score.high or 0, 2)) == (-55.44, 55.44)


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200))
@settings(max_examples=60, deadline=None)
def test_nps_interval_equals_the_normal_interval_of_plus_zero_minus_scores(
    answers: list[int],
) -> None:
    # independent: score each answer +100 / 0 / -100 and take the mean with the
    # population variance (the trinomial variance is exactly that)
    points = np.array([100.0 if a >= 9 else -100.0 if a <= 6 else 0.0 for a in answers])
    n = points.size
    half = sst.norm.ppf(0.975) * points.std(ddof=0) / math.sqrt(n)
    e = estimate_nps_interval(
        sum(a >= 9 for a in answers), sum(a <= 6 for a in answers), n, confidence=0.95
    )
    assert e.value == pytest.approx(points.mean(), abs=1e-9)
    assert e.interval is not None
    assert e.interval.low == pytest.approx(max(-100.0, points.mean() - half), abs=1e-9)
    assert e.interval.high == pytest.approx(min(100.0, points.mean() + half), abs=1e-9)


@pytest.mark.parametrize(
    ("scale", "values"),
    [
        ("ces", [1, 2, 2, 5, 7, 3]),
        ("rating", [5, 4, 4, 2]),
        ("sentiment", [0.9, -0.2, 0.4, 0.05, -0.7]),
    ],
)
def test_means_carry_a_student_t_interval_equal_to_scipy(scale: str, values: list[float]) -> None:
    s = build_satisfaction(row(scale, values), confidence=0.9)
    arr = np.asarray(values, dtype=float)
    low, high = sst.t.interval(0.9, arr.size - 1, loc=arr.mean(), scale=sst.sem(arr))
    assert s.score.value == pytest.approx(arr.mean())
    assert (s.score.low, s.score.high) == pytest.approx((low, high), abs=1e-12)
    assert (s.score.n, s.score.confidence) == (arr.size, 0.9)


def test_mean_interval_by_hand() -> None:
    # 5, 4, 4, 2: mean 3.75, sample sd 1.258306, se 0.629153, t(0.975, 3) = 3.182446
    # -> 3.75 ± 2.002245 = (1.747755, 5.752245)
    e = estimate_mean_interval(4, 3.75, float(np.std([5, 4, 4, 2], ddof=1)))
    assert e.interval is not None
    assert (round(e.interval.low, 4), round(e.interval.high, 4)) == (1.7478, 5.7522)


@pytest.mark.parametrize(
    ("scale", "values"), [("csat", []), ("nps", []), ("rating", [4]), ("ces", [])]
)
def test_figures_without_enough_answers_have_no_interval(scale: str, values: list[float]) -> None:
    s = build_satisfaction(row(scale, values))
    assert (s.score.low, s.score.high) == (None, None)
    assert s.score.value == (4.0 if values else None)


def test_nps_refuses_more_promoters_and_detractors_than_answers() -> None:
    with pytest.raises(StatsError, match="more than 5 answers"):
        estimate_nps_interval(4, 3, 5)


# --- property test against a tiny pure-Python reference (DuckDB) ----------------------


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


STEP_OF = {
    "view": ("view", "browse"),
    "cart": ("cart", "browse"),
    "pay": ("pay", "buy"),
    "deliver": ("deliver", "buy"),
}
ABOUT_STEP = {"view": ("view", "browse"), "deliver": ("deliver", "buy")}
# a stage or sub-stage hint: the events that may refine it to a step
ABOUT_SCOPE = {"buy": ("buy", {"pay", "deliver"}), "ship": ("buy", {"deliver"})}


def reference_attach(
    events: list[dict[str, Any]], feedback: list[tuple[Any, ...]], window: timedelta
) -> dict[str, tuple[str | None, str | None, str]]:
    out: dict[str, tuple[str | None, str | None, str]] = {}
    for fid, actor, ts, _scale, _score, about, *_ in feedback:
        hint = (about or "").strip()
        if hint in ABOUT_STEP:
            out[fid] = (*ABOUT_STEP[hint], "about_step")
            continue
        stage, allowed = ABOUT_SCOPE.get(hint, (None, set(STEP_OF)))
        candidates = [
            e
            for e in events
            if e["actor_id"] == actor and e["event"] in allowed and ts - window <= e["ts"] <= ts
        ]
        if not candidates:
            out[fid] = (None, stage, "about_stage" if stage else "none")
            continue
        best = max(candidates, key=lambda e: (e["ts"], e["event_id"]))
        out[fid] = (*STEP_OF[best["event"]], "about_stage" if stage else "event")
    return out


@given(
    st.lists(
        st.tuples(
            st.sampled_from("ab"),
            st.integers(0, 40),
            st.sampled_from(["view", "cart", "pay", "deliver", "other"]),
        ),
        max_size=25,
    ),
    st.lists(
        st.tuples(
            st.sampled_from("abc"),
            st.integers(0, 48),
            st.sampled_from([None, "view", " buy", "ship", "deliver", "zzz"]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 20),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_attachment_equals_a_python_reference(
    duck: Any,
    draws: list[tuple[str, int, str]],
    answers: list[tuple[str, int, str | None]],
    window_hours: int,
) -> None:
    rng = random.Random(len(draws))
    events = [
        # coarse times make ties common; ids are shuffled so the row order is no hint
        {
            "event_id": f"e{rng.randint(0, 10**6):07d}-{i}",
            "actor_id": a,
            "ts": T0 + h * HOUR,
            "event": name,
        }
        for i, (a, h, name) in enumerate(draws)
    ]
    feedback = [
        (f"f{i:03d}", a, T0 + h * HOUR, "csat", 4.0, about, None)
        for i, (a, h, about) in enumerate(answers)
    ]
    window = timedelta(hours=window_hours)
    mapped = map_events(
        load(duck, events or [{"event_id": "x", "actor_id": "z", "ts": T0, "event": "other"}]), JMAP
    ).table
    attached = attach_feedback(load_feedback(duck, feedback), mapped, JMAP, window=window)
    got = {
        r["feedback_id"]: (r["step_id"], r["stage_id"], r["attached"]) for r in rows_of(attached)
    }
    assert got == reference_attach(events, feedback, window)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["csat", "nps", "ces", "rating"]),
            st.integers(0, 10),
            st.sampled_from(["view", "buy"]),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_summary_equals_a_python_reference(duck: Any, answers: list[tuple[str, int, str]]) -> None:
    ranges = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7), "rating": (1, 5)}
    feedback = [
        (
            f"f{i:03d}",
            "a",
            T0,
            scale,
            float(min(max(score, ranges[scale][0]), ranges[scale][1])),
            about,
            None,
        )
        for i, (scale, score, about) in enumerate(answers)
    ]
    mapped = map_events(load(duck, EVENTS), JMAP).table
    got = {
        (r["level"], r["target"], r["scale"]): r
        for r in rows_of(
            summarize_satisfaction(attach_feedback(load_feedback(duck, feedback), mapped, JMAP))
        )
    }
    expected: dict[tuple[str, str, str], list[float]] = {}
    # at T0 customer a has no step inside "buy" yet (pay is at 10:00): the stage only
    about_to = {"view": ("view", "browse"), "buy": (None, "buy")}
    for _, _, _, scale, score, about, _ in feedback:
        step, stage = about_to[about]
        if step:
            expected.setdefault(("step", step, scale), []).append(score)
        expected.setdefault(("stage", stage, scale), []).append(score)
    assert set(got) == set(expected)
    for key, values in expected.items():
        arr = np.asarray(values)
        r = got[key]
        assert r["responses"] == arr.size
        assert r["top_box"] == int((arr >= 4).sum())
        assert (r["promoters"], r["detractors"]) == (int((arr >= 9).sum()), int((arr <= 6).sum()))
        assert r["mean"] == pytest.approx(arr.mean())
        if arr.size > 1:
            assert r["std"] == pytest.approx(arr.std(ddof=1), abs=1e-9)
        scale = key[2]
        emotion = {
            "csat": arr - 3,
            "rating": arr - 3,
            "nps": (arr - 5) / 2.5,
            "ces": (4 - arr) / 1.5,
        }[scale]
        assert r["emotion_sum"] == pytest.approx(float(np.clip(emotion, -2, 2).sum()), abs=1e-9)


def test_read_summary_row_names_what_is_missing() -> None:
    with pytest.raises(SatisfactionError, match="has no 'responses'"):
        read_summary_row({"level": "step", "target": "x", "scale": "csat"})
