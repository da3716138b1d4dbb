"""Satisfaction per step and stage: feedback attached to the map, then aggregated.

Two halves, like :mod:`journeymap.analytics.segments`:

1. **In the engine** (Ibis expressions, DuckDB and Spark alike):
   :func:`attach_feedback` gives every feedback row the step and stage it is about, and
   :func:`summarize_satisfaction` counts and averages per step, per stage and per scale.
2. **On the small aggregated result** (plain Python): :func:`build_satisfaction` turns
   one summary row into a :class:`~journeymap.insights.evidence.Satisfaction` with its
   confidence interval, and :func:`build_emotion` averages the measured emotion.

How feedback attaches (in this order):

- ``about`` names a **step** id of the map: that step (and its stage).
- ``about`` names a **stage** or **sub-stage** id: the customer's latest mapped step
  event inside that stage (or sub-stage) at or before the feedback's ``ts``, no older
  than ``window``, when there is one (a survey "about the delivery" lands on the
  delivery step the customer had); otherwise the stage only, no step.
- otherwise the customer's **latest mapped step event** at or before the feedback's
  ``ts``, no older than ``window``: that event's step and stage. Ties are broken by
  the event order ``(actor_id, ts, event_id)``: the largest ``(ts, event_id)`` wins.
  Events that matched no step (``step_index = -1``) are not candidates.
- nothing found: the row is kept with null step and stage, and ``attached = 'none'``
  (counted as unattached, never dropped).

``attached`` says which rule applied: ``about_step``, ``about_stage``, ``event`` or
``none``. Events and feedback are matched on ``actor_id`` alone, so pass both in the
same identifiers (stitched customers, or the raw identifiers on both sides).

The figures (:data:`~journeymap.insights.evidence.SatisfactionScale`):

========== ====================================== ==================================
scale      value                                  interval
========== ====================================== ==================================
csat       share of 4-5 answers on 1-5 (0..1)      Wilson score
nps        % promoters (9-10) - % detractors      normal, trinomial variance
           (0-6), on -100..100
ces        mean effort on 1-7 (lower is better)   Student's t
rating     mean rating on 1-5                     Student's t
sentiment  mean text sentiment on -1..+1          Student's t
========== ====================================== ==================================

The **measured emotion** of a step or stage (the map's -2..+2 scale) is the mean of
one value per feedback row attached there: from its score when it has one
(CSAT and rating ``score - 3``, NPS ``(score - 5) / 2.5``, CES ``(4 - score) / 1.5``),
else from its text (``2 x sentiment``); each value is cut to [-2, 2]. Text sentiment
is scored outside the engine (it is a Python model) and joined back as a
``sentiment`` column before :func:`summarize_satisfaction`; see
``journeymap.engines.satisfaction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from journeymap.analytics.mapping import list_steps
from journeymap.analytics.stats import (
    estimate_mean_interval,
    estimate_nps_interval,
    estimate_wilson_interval,
)
from journeymap.errors import JourneyError
from journeymap.insights.evidence import Estimate, Satisfaction, SatisfactionScale
from journeymap.model.journey import JourneyMap

__all__ = [
    "ATTACHED",
    "SCORE_SCALES",
    "Attachment",
    "EmotionSummary",
    "SatisfactionError",
    "SummaryRow",
    "attach_feedback",
    "build_emotion",
    "build_satisfaction",
    "check_feedback",
    "read_summary_row",
    "summarize_satisfaction",
]

SCORE_SCALES: tuple[SatisfactionScale, ...] = ("csat", "nps", "ces", "rating")
"""Scales answered with a number; ``sentiment`` comes from text instead."""

Attachment = Literal["about_step", "about_stage", "event", "none"]
ATTACHED: tuple[Attachment, ...] = ("about_step", "about_stage", "event", "none")
"""The values of the ``attached`` column, one per attachment rule."""

Level = Literal["step", "stage"]

_FEEDBACK_COLUMNS = ("feedback_id", "actor_id", "ts", "scale", "score", "about")
_EVENT_COLUMNS = ("actor_id", "ts", "event_id", "step_index")


class SatisfactionError(JourneyError, ValueError):
    """Feedback or mapped events that satisfaction cannot be measured from."""


def _require(table: ir.Table, columns: tuple[str, ...], what: str, hint: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SatisfactionError(
            f"the {what} table has no {', '.join(repr(c) for c in missing)} column; its "
            f"columns are: {', '.join(table.columns)}; {hint}"
        )


def check_feedback(feedback: ir.Table, *, text: bool = False) -> None:
    """Raise :class:`SatisfactionError` naming the contract columns ``feedback`` lacks.

    ``text=True`` also asks for ``text`` and ``lang`` (needed to score sentiment).
    """
    wanted = (*_FEEDBACK_COLUMNS, "text", "lang") if text else _FEEDBACK_COLUMNS
    _require(feedback, wanted, "feedback", "pass the workspace's feedback table")


def attach_feedback(
    feedback: ir.Table,
    mapped: ir.Table,
    jmap: JourneyMap,
    *,
    window: timedelta = timedelta(days=14),
) -> ir.Table:
    """Every feedback row with the step and stage it is about (see the module docstring).

    ``feedback`` has the contract's feedback columns (``feedback_id`` unique per row;
    any extra column, such as ``sentiment``, is carried along); ``mapped`` is
    ``map_events(events, jmap).table``. Adds ``step_id``, ``stage_id`` (strings, null
    when not attached to one), ``step_index``, ``stage_index`` (int64, null likewise)
    and ``attached``.
    """
    check_feedback(feedback)
    _require(mapped, _EVENT_COLUMNS, "mapped events", "pass map_events(events, jmap).table")
    if window <= timedelta(0):
        raise SatisfactionError(
            f"window {window} is not positive; feedback looks back for the customer's "
            "latest step within it, e.g. timedelta(days=14)"
        )
    added = ("step_id", "stage_id", "step_index", "stage_index", "attached")
    clash = [c for c in added if c in feedback.columns]
    if clash:
        raise SatisfactionError(
            f"the feedback table already has {', '.join(clash)}; pass raw feedback, not "
            "feedback that was attached before"
        )
    steps = list_steps(jmap)
    step_by_id = {s.step_id: s.step_index for s in steps}
    stage_by_id: dict[str, int] = {}
    sub_by_id: dict[str, int] = {}
    sub_of_step: dict[int, int] = {}
    for index, stage in enumerate(jmap.stages):
        stage_by_id.setdefault(stage.id, index)
        for sub in stage.substages:
            stage_by_id.setdefault(sub.id, index)
            code = sub_by_id.setdefault(sub.id, len(sub_by_id))
            for step in sub.steps:
                sub_of_step[step_by_id[step.id]] = code
    for step_id in step_by_id:
        stage_by_id.pop(step_id, None)  # a step id wins over a (clashing) stage id
        sub_by_id.pop(step_id, None)

    about = _trimmed(feedback.about)
    about_step = _lookup(about, step_by_id)
    about_stage = _lookup(about, stage_by_id)
    keyed = feedback.mutate(
        _about_step=about_step, _about_stage=about_stage, _about_sub=_lookup(about, sub_by_id)
    )

    # The event rule, for rows the about hint does not settle to a step: any step, or a
    # step inside the stage (sub-stage) the hint names.
    open_rows = keyed.filter(keyed._about_step.isnull())
    open_rows = open_rows.select(
        _fid=open_rows.feedback_id,
        _actor=open_rows.actor_id,
        _fts=open_rows.ts,
        _fstage=open_rows._about_stage,
        _fsub=open_rows._about_sub,
    )
    events = mapped.filter(mapped.step_index >= 0).select(
        _eactor=mapped.actor_id,
        _ets=mapped.ts,
        _eid=mapped.event_id,
        _estep=mapped.step_index.cast("int64"),
        _estage=_lookup_index(
            mapped.step_index, {s.step_index: s.stage_index for s in steps}, "int64"
        ),
        _esub=_lookup_index(mapped.step_index, sub_of_step, "int64"),
    )
    lookback = ibis.interval(seconds=int(window.total_seconds()))
    in_scope = open_rows._fstage.isnull() | (
        (events._estage == open_rows._fstage)
        & (open_rows._fsub.isnull() | (events._esub == open_rows._fsub).fill_null(False))
    )
    pairs = open_rows.join(
        events,
        [
            open_rows._actor == events._eactor,
            events._ets <= open_rows._fts,
            events._ets >= open_rows._fts - lookback,
            in_scope,
        ],
    )
    rank = ibis.row_number().over(
        group_by=pairs._fid, order_by=[pairs._ets.desc(), pairs._eid.desc()]
    )
    latest = pairs.mutate(_rank=rank)
    latest = latest.filter(latest._rank == 0).select(_lfid=latest._fid, _event_step=latest._estep)

    joined = keyed.left_join(latest, keyed.feedback_id == latest._lfid)
    step_index = ibis.coalesce(joined._about_step, joined._event_step).cast("int64")
    step_stage = _lookup_index(step_index, {s.step_index: s.stage_index for s in steps}, "int64")
    stage_index = ibis.coalesce(step_stage, joined._about_stage).cast("int64")
    attached = ibis.cases(
        (joined._about_step.notnull(), "about_step"),
        (joined._about_stage.notnull(), "about_stage"),
        (joined._event_step.notnull(), "event"),
        else_="none",
    )
    return joined.select(
        *[joined[c] for c in feedback.columns],
        step_id=_lookup_index(step_index, {s.step_index: s.step_id for s in steps}, "string"),
        stage_id=_lookup_index(
            stage_index, {i: stage.id for i, stage in enumerate(jmap.stages)}, "string"
        ),
        step_index=step_index,
        stage_index=stage_index,
        attached=attached.cast("string"),
    )


def _trimmed(value: ir.StringValue) -> ir.StringValue:
    """``value`` without white space at either end.

    Not ``StringValue.strip()``: Ibis 12 writes its character set with ``\\v`` and
    ``\\f`` escapes that Spark SQL reads as the letters v and f, so on Spark it would
    also cut those letters ("view" → "iew").
    """
    return value.re_replace(r"^\s+|\s+$", "")


def _lookup(value: ir.StringValue, table: Mapping[str, int]) -> ir.IntegerValue:
    if not table:
        return ibis.null("int64")
    return value.substitute(dict(table), else_=ibis.null("int64")).cast("int64")


def _lookup_index(value: ir.IntegerValue, table: Mapping[int, Any], kind: str) -> ir.Value:
    if not table:
        return ibis.null(kind)
    return value.substitute(dict(table), else_=ibis.null(kind)).cast(kind)


def _score_emotion(scale: ir.StringValue, score: ir.FloatingValue) -> ir.FloatingValue:
    """The -2..+2 emotion of a score on its scale (null for other scales)."""
    raw = ibis.cases(
        (scale.isin(["csat", "rating"]), score - 3.0),
        (scale == "nps", (score - 5.0) / 2.5),
        (scale == "ces", (4.0 - score) / 1.5),
        else_=ibis.null("float64"),
    )
    return _emotion(raw)


def _emotion(value: ir.FloatingValue) -> ir.FloatingValue:
    """``value`` cut to the map's emotion range [-2, 2]."""
    return ibis.greatest(ibis.least(value, 2.0), -2.0).cast("float64")


def summarize_satisfaction(attached: ir.Table) -> ir.Table:
    """Per step and per stage and per scale, what the figures and intervals need.

    ``attached`` comes from :func:`attach_feedback`; a ``sentiment`` column (text
    sentiment in [-1, 1], null without text) adds the ``sentiment`` scale. Columns:
    ``level`` (``step``/``stage``), ``target`` (the step or stage id), ``scale``,
    ``responses`` (values counted), ``top_box`` (4-5 answers), ``promoters`` (9-10),
    ``detractors`` (0-6), ``mean``, ``std`` (sample), ``emotion_sum`` and
    ``emotion_count``: the emotion of the rows whose emotion comes from this scale (a
    row with a score gives its emotion through its score, a row with text only
    through ``sentiment``). A step's feedback also counts for its stage; feedback
    attached to a stage only counts for the stage. Unattached rows take no part.
    """
    _require(
        attached,
        ("step_id", "stage_id", "scale", "score"),
        "attached feedback",
        "pass the result of attach_feedback",
    )
    has_sentiment = "sentiment" in attached.columns
    scale = _trimmed(attached.scale.lower())
    score = attached.score.cast("float64")
    has_score = scale.isin(list(SCORE_SCALES)) & score.notnull()
    base = attached.mutate(_scale=scale, _score=score, _has_score=has_score)
    parts: list[ir.Table] = []
    for level, column in (("step", "step_id"), ("stage", "stage_id")):
        here = base.filter(base[column].notnull())
        scored = here.filter(here._has_score)
        parts.append(
            scored.select(
                level=ibis.literal(level),
                target=scored[column].cast("string"),
                scale=scored._scale.cast("string"),
                value=scored._score,
                emotion=_score_emotion(scored._scale, scored._score),
            )
        )
        if has_sentiment:
            texts = here.filter(here.sentiment.notnull())
            sentiment = texts.sentiment.cast("float64")
            parts.append(
                texts.select(
                    level=ibis.literal(level),
                    target=texts[column].cast("string"),
                    scale=ibis.literal("sentiment"),
                    value=sentiment,
                    # a row with a score has its emotion from the score already
                    emotion=ibis.ifelse(
                        texts._has_score, ibis.null("float64"), _emotion(sentiment * 2.0)
                    ),
                )
            )
    values = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    v = values.value
    return values.group_by(["level", "target", "scale"]).agg(
        responses=v.count().cast("int64"),
        top_box=(v >= 4).sum().cast("int64"),
        promoters=(v >= 9).sum().cast("int64"),
        detractors=(v <= 6).sum().cast("int64"),
        mean=v.mean().cast("float64"),
        std=v.std(how="sample").cast("float64"),
        emotion_sum=values.emotion.sum().cast("float64"),
        emotion_count=values.emotion.count().cast("int64"),
    )


@dataclass(frozen=True)
class SummaryRow:
    """One executed row of :func:`summarize_satisfaction`."""

    level: Level
    target: str
    scale: SatisfactionScale
    responses: int
    top_box: int
    promoters: int
    detractors: int
    mean: float | None
    std: float | None
    emotion_sum: float
    emotion_count: int


def read_summary_row(row: Mapping[str, Any], index: int = 0) -> SummaryRow:
    """A :class:`SummaryRow` from an executed row (a dict), checking its fields."""
    try:
        level, scale = str(row["level"]), str(row["scale"])
        if level not in ("step", "stage") or scale not in (*SCORE_SCALES, "sentiment"):
            raise SatisfactionError(
                f"summary row {index + 1}: level {level!r} / scale {scale!r} is not one "
                "summarize_satisfaction writes"
            )

        def number(name: str) -> float | None:
            value = row[name]
            return None if value is None or value != value else float(value)

        return SummaryRow(
            level="step" if level == "step" else "stage",
            target=str(row["target"]),
            scale=_SCALE[scale],
            responses=int(row["responses"] or 0),
            top_box=int(row["top_box"] or 0),
            promoters=int(row["promoters"] or 0),
            detractors=int(row["detractors"] or 0),
            mean=number("mean"),
            std=number("std"),
            emotion_sum=float(row["emotion_sum"] or 0.0),
            emotion_count=int(row["emotion_count"] or 0),
        )
    except KeyError as exc:
        raise SatisfactionError(
            f"summary row {index + 1} has no {exc.args[0]!r}; pass rows of summarize_satisfaction"
        ) from None


_SCALE: dict[str, SatisfactionScale] = {
    "csat": "csat",
    "nps": "nps",
    "ces": "ces",
    "rating": "rating",
    "sentiment": "sentiment",
}


def build_satisfaction(row: SummaryRow, *, confidence: float = 0.95) -> Satisfaction:
    """The figure of one summary row with its interval (see the module's table)."""
    n = row.responses
    if row.scale == "csat":
        value = row.top_box / n if n else None
        wilson = estimate_wilson_interval(row.top_box, n, confidence=confidence)
        low, high = (wilson.low, wilson.high) if n else (None, None)
    elif row.scale == "nps":
        nps = estimate_nps_interval(row.promoters, row.detractors, n, confidence=confidence)
        value = nps.value
        low, high = (nps.interval.low, nps.interval.high) if nps.interval else (None, None)
    else:
        mean = estimate_mean_interval(n, row.mean, row.std, confidence=confidence)
        value = mean.value
        low, high = (mean.interval.low, mean.interval.high) if mean.interval else (None, None)
    return Satisfaction(
        scale=row.scale,
        score=Estimate(value=value, low=low, high=high, n=n, confidence=confidence),
        responses=n,
    )


@dataclass(frozen=True)
class EmotionSummary:
    """The measured emotion (-2..+2) of one step or stage and how many rows it rests on."""

    level: Level
    target: str
    emotion: float
    responses: int


def build_emotion(rows: list[SummaryRow]) -> tuple[EmotionSummary, ...]:
    """The measured emotion per step and per stage: the mean over its feedback rows."""
    sums: dict[tuple[Level, str], tuple[float, int]] = {}
    for row in rows:
        total, count = sums.get((row.level, row.target), (0.0, 0))
        sums[(row.level, row.target)] = (total + row.emotion_sum, count + row.emotion_count)
    return tuple(
        EmotionSummary(level=level, target=target, emotion=total / count, responses=count)
        for (level, target), (total, count) in sorted(sums.items())
        if count
    )
