"""Run satisfaction and preference measures on an engine: execute, score text, summarise.

The expressions come from :mod:`journeymap.analytics.satisfaction` and
:mod:`journeymap.analytics.preferences`; this module executes them on the backend it is
given, scores review text with the sentiment models in Python (Korean model and VADER,
each distinct text once) and writes the scores back to the engine for aggregation, then
turns the few aggregated rows into the typed results of
:mod:`journeymap.insights.evidence`.

>>> from datetime import UTC, datetime
>>> import ibis
>>> from journeymap.model import JourneyMap
>>> from journeymap.analytics.mapping import map_events
>>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
...     {"id": "s", "name": "S", "steps": [
...         {"id": "view", "name": "View", "events": {"match": {"event": "view"}}}]}]})
>>> con = ibis.duckdb.connect()
>>> events = ibis.memtable({"event_id": ["e1"], "actor_id": ["a"], "event": ["view"],
...     "ts": [datetime(2024, 5, 1, tzinfo=UTC)]})
>>> feedback = ibis.memtable({"feedback_id": ["f1"], "actor_id": ["a"],
...     "ts": [datetime(2024, 5, 2, tzinfo=UTC)], "scale": ["csat"], "score": [5.0],
...     "text": [None], "lang": [None], "about": [None]}).cast(
...     {"text": "string", "lang": "string", "about": "string"})
>>> m = measure_satisfaction(con, feedback, map_events(events, jmap).table, jmap)
>>> m.steps["view"][0].score.value, m.step_emotion["view"], m.unattached
(1.0, 2.0, 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from journeymap.analytics import preferences as prefs
from journeymap.analytics import satisfaction as core
from journeymap.engines.connection import fetch_rows, translate_errors
from journeymap.insights.evidence import Preference, Satisfaction
from journeymap.model.journey import JourneyMap
from journeymap.sentiment import Language, SentimentModels, resolve_language, score_texts

__all__ = ["SatisfactionMeasures", "measure_preference", "measure_satisfaction"]

_SCALE_ORDER = {name: i for i, name in enumerate((*core.SCORE_SCALES, "sentiment"))}


@dataclass(frozen=True)
class SatisfactionMeasures:
    """Satisfaction per step and per stage (step or stage id → figures, one per scale).

    ``step_emotion`` and ``stage_emotion`` hold the measured emotion (-2..+2) where any
    feedback is attached. ``responses`` counts every feedback row read, ``unattached``
    those tied to no step or stage. ``attached`` counts rows per attachment rule
    (``about_step``, ``about_stage``, ``event``, ``none``); ``texts`` the rows with
    text, of which ``unscored_texts`` had no scorer for their language (they take no
    part in sentiment or emotion).
    """

    steps: Mapping[str, tuple[Satisfaction, ...]]
    stages: Mapping[str, tuple[Satisfaction, ...]]
    step_emotion: Mapping[str, float]
    stage_emotion: Mapping[str, float]
    responses: int
    unattached: int
    attached: Mapping[str, int] | None = None
    texts: int = 0
    unscored_texts: int = 0


def measure_satisfaction(
    con: BaseBackend,
    feedback: ir.Table,
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    window: timedelta = timedelta(days=14),
    confidence: float = 0.95,
    models: SentimentModels | None = None,
) -> SatisfactionMeasures:
    """CSAT, NPS, CES, rating and text sentiment per step and per stage, and the emotion.

    ``feedback`` is the workspace's feedback table (``feedback_id`` unique),
    ``mapped`` is ``map_events(events, jmap).table``, both in the same identifiers
    (stitch both, or neither). Feedback attaches to steps and stages as
    :mod:`journeymap.analytics.satisfaction` says, within ``window``. Text is scored
    with ``models`` (default: the shipped Korean model and VADER, loaded when there is
    text to score).
    """
    core.check_feedback(feedback, text=True)
    if "sentiment" in feedback.columns:
        raise core.SatisfactionError(
            "the feedback table already has a 'sentiment' column; pass the workspace's "
            "feedback table: text is scored here"
        )
    with translate_errors("measuring satisfaction failed while counting feedback"):
        counts = fetch_rows(
            con,
            feedback.aggregate(
                rows=feedback.count(),
                ids=feedback.feedback_id.nunique(),
                missing_ids=feedback.feedback_id.isnull().sum(),
            ),
        )[0]
    rows, ids, missing = (
        int(counts["rows"]),
        int(counts["ids"] or 0),
        int(counts["missing_ids"] or 0),
    )
    if missing or ids != rows:
        raise core.SatisfactionError(
            f"the feedback table has {missing} rows without a feedback_id and "
            f"{rows - missing - ids} repeated ids among {rows} rows; every feedback row "
            "needs its own feedback_id (the workspace's import gives one to each)"
        )
    with translate_errors("measuring satisfaction failed while scoring text"):
        scored, texts, unscored = _score_feedback(con, feedback, models)
    attached = core.attach_feedback(scored, mapped, jmap, window=window)
    with translate_errors("measuring satisfaction failed while aggregating feedback"):
        by_rule = {
            str(r["attached"]): int(r["n"])
            for r in fetch_rows(con, attached.group_by("attached").agg(n=attached.count()))
        }
        summary = [
            core.read_summary_row(r, i)
            for i, r in enumerate(fetch_rows(con, core.summarize_satisfaction(attached)))
        ]
    steps: dict[str, list[Satisfaction]] = {}
    stages: dict[str, list[Satisfaction]] = {}
    for row in sorted(summary, key=lambda r: (r.level, r.target, _SCALE_ORDER[r.scale])):
        target = steps if row.level == "step" else stages
        target.setdefault(row.target, []).append(
            core.build_satisfaction(row, confidence=confidence)
        )
    emotions = core.build_emotion(summary)
    return SatisfactionMeasures(
        steps={k: tuple(v) for k, v in steps.items()},
        stages={k: tuple(v) for k, v in stages.items()},
        step_emotion={e.target: e.emotion for e in emotions if e.level == "step"},
        stage_emotion={e.target: e.emotion for e in emotions if e.level == "stage"},
        responses=rows,
        unattached=by_rule.get("none", 0),
        attached={rule: by_rule.get(rule, 0) for rule in core.ATTACHED},
        texts=texts,
        unscored_texts=unscored,
    )


def _score_feedback(
    con: BaseBackend, feedback: ir.Table, models: SentimentModels | None
) -> tuple[ir.Table, int, int]:
    """``feedback`` with a ``sentiment`` column, the rows with text and those unscored.

    Each distinct (text, language) pair is scored once (surveys repeat short answers),
    and the scores go back to the engine as a small table joined on ``feedback_id``.
    """
    # not text.strip(): on Spark, Ibis 12's strip also cuts the letters v and f
    has_text = feedback.text.notnull() & ~feedback.text.re_search(r"^\s*$").fill_null(True)
    pairs = feedback.filter(has_text).select("feedback_id", "text", "lang")
    table = con.to_pyarrow(pairs)
    if table.num_rows == 0:
        return feedback.mutate(sentiment=ibis.null("float64")), 0, 0
    text_col = table.column("text").to_pylist()
    lang_col = table.column("lang").to_pylist()
    # one score per distinct (text, declared language); the language of each distinct
    # pair is resolved once (detecting it reads every letter)
    distinct: dict[tuple[str, str | None], int] = {}
    for text, lang in zip(text_col, lang_col, strict=True):
        distinct.setdefault((text, lang), len(distinct))
    keys = list(distinct)
    resolved: list[Language | None] = [resolve_language(lang, text) for text, lang in keys]
    if models is None:
        from journeymap.io.sentiment_model import load_sentiment_models

        needed: set[Language] = {lang for lang in resolved if lang is not None}
        models = load_sentiment_models(languages=sorted(needed)) if needed else SentimentModels()
    values = score_texts(
        [text for text, _ in keys],
        models=models,
        # a code with no scorer stays one, so score_texts marks it NaN
        lang=[lang or "unsupported" for lang in resolved],
        unsupported="nan",
    )
    per_row = [
        values[distinct[(text, lang)]] for text, lang in zip(text_col, lang_col, strict=True)
    ]
    unscored = sum(1 for v in per_row if math.isnan(v))
    scores = pa.table(
        {
            "_sfid": table.column("feedback_id"),
            "_sentiment": pa.array([None if math.isnan(v) else v for v in per_row], pa.float64()),
        }
    )
    written = ibis.memtable(scores)
    joined = feedback.left_join(written, feedback.feedback_id == written._sfid)
    out = joined.select(*[joined[c] for c in feedback.columns], sentiment=joined._sentiment)
    return out, table.num_rows, unscored


def measure_preference(
    con: BaseBackend,
    events: ir.Table,
    *,
    choice: str,
    events_named: Sequence[str] = (),
    group_by: str = "region",
    group_level: Literal["region", "country"] = "country",
    per: Literal["event", "customer"] = "event",
    label: str | None = None,
    alpha: float = 0.05,
) -> Preference:
    """How groups (countries, regions) differ in a choice, with a chi-square test.

    ``choice`` is a column or a JSON property path (``properties.payment_method``),
    counted on the events named ``events_named`` (all events when empty);
    ``group_level="country"`` groups by the part of ``group_by`` before ``-``
    (``KR-11`` → ``KR``). ``per="customer"`` counts each customer once per
    (group, choice) instead of every event. See :mod:`journeymap.analytics.preferences`.
    """
    expr = prefs.count_preferences(
        events,
        choice=choice,
        events_named=events_named,
        group_by=group_by,
        group_level=group_level,
        per=per,
    )
    with translate_errors(f"measuring preferences for {choice!r} failed"):
        rows = fetch_rows(con, expr)
    return prefs.compare_preferences(
        rows,
        dimension=label or choice,
        group_by=group_by if group_level == "region" else "country",
        alpha=alpha,
    )
