"""What an evidenced map adds to the picture, prepared for the layout.

:func:`prepare_evidence` turns an :class:`~journeymap.insights.evidence.EvidencedMap`
into the pieces the views draw: the measured lane (every step of the map, a step
without data marked as such, never left blank), the measured emotion curve and the
number of responses behind it, the pain points found in the data with where they go
(a step's column, or the first column of their stage), which declared pain points
they confirm, and the "as of" line of the header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from journeymap.insights.evidence import EvidencedMap, ObservedPainPoint, Snapshot
from journeymap.insights.lane import format_count, measured_emotion, metrics_lane
from journeymap.model import JourneyMap
from journeymap.render.geometry import RenderError
from journeymap.render.labels import labels_for

__all__ = ["MapEvidence", "as_of_line", "prepare_evidence", "responses_behind"]


@dataclass(frozen=True)
class MapEvidence:
    """The measured side of one map picture.

    ``metrics`` holds every step of the map: an empty mapping means the step had no
    data (the lane says so). ``observed`` maps a column's step id to the pain points
    found in the data that are drawn there as their own cards; ``confirmed`` maps a
    declared pain point id to the observed pain point that confirms it (drawn on the
    declared card instead of as a second card).
    """

    metrics: Mapping[str, Mapping[str, str]]
    measured_emotion: Mapping[str, float]
    responses: int
    observed: Mapping[str, tuple[ObservedPainPoint, ...]]
    confirmed: Mapping[str, ObservedPainPoint]
    as_of: str
    measured_label: str


def _date(value: object) -> str:
    iso = getattr(value, "date", None)
    return str(iso().isoformat()) if callable(iso) else str(value)


def as_of_line(snapshot: Snapshot, *, lang: str = "en") -> str:
    """``as of 2026-11-20 · data 2026-09-01–2026-10-31 · 6,480 customers``.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 11, 20, tzinfo=timezone.utc)
    >>> snap = Snapshot(t, t, datetime(2026, 9, 1, tzinfo=timezone.utc), t, 6480, 9, 0,
    ...                 None, None, "duckdb", (), ())
    >>> as_of_line(snap)
    'as of 2026-11-20 · data 2026-09-01–2026-11-20 · 6,480 customers'
    """
    labels = labels_for(lang)
    start = _date(snapshot.data_from) if snapshot.data_from else "?"
    end = _date(snapshot.data_to) if snapshot.data_to else "?"
    return labels.as_of.format(
        date=_date(snapshot.as_of),
        period=f"{start}–{end}",
        customers=format_count(snapshot.customers),
    )


def responses_behind(snapshot: Snapshot) -> int:
    """Feedback responses behind the measured emotion curve.

    For each step with a measured emotion, the largest response count among its
    satisfaction figures (a response scored on two scales counts once).
    """
    return sum(
        max((s.responses for s in step.satisfaction), default=0)
        for step in snapshot.steps
        if step.measured_emotion is not None
    )


def prepare_evidence(jmap: JourneyMap, evidence: EvidencedMap) -> MapEvidence:
    """The pieces of ``evidence`` that the picture of ``jmap`` draws.

    Raises :class:`RenderError` when the evidence was measured for another map, or
    names steps the map does not have.
    """
    if evidence.map.id != jmap.id:
        raise RenderError(
            f"the evidence was measured for map '{evidence.map.id}', not '{jmap.id}'; "
            "draw the evidenced map's own map (evidence.map) or measure this one"
        )
    lang = jmap.lang
    labels = labels_for(lang)
    step_ids = [step.id for _, step in jmap.all_steps()]
    known = set(step_ids)
    unknown = [s.step_id for s in evidence.snapshot.steps if s.step_id not in known]
    if unknown:
        raise RenderError(
            f"the evidence has metrics for step '{unknown[0]}', which is not in map "
            f"'{jmap.id}'; measure the map again after renaming or removing steps"
        )
    measured = metrics_lane(evidence.snapshot, lang=lang)
    metrics = {step_id: dict(measured.get(step_id, {})) for step_id in step_ids}
    first_of_stage = {}
    for stage in jmap.stages:
        steps = [s.id for s in stage.all_steps()]
        if steps:
            first_of_stage[stage.id] = steps[0]
    declared_at = {p.id: step.id for _, step in jmap.all_steps() for p in step.pain_points}
    observed: dict[str, list[ObservedPainPoint]] = {}
    confirmed: dict[str, ObservedPainPoint] = {}
    for pain in evidence.pain_points:
        target = declared_at.get(pain.declared or "")
        confirms = target is not None and target == (pain.step_id or target)
        if pain.declared and confirms and pain.declared not in confirmed:
            confirmed[pain.declared] = pain
            continue
        column = pain.step_id if pain.step_id in known else None
        if column is None and pain.stage_id:
            column = first_of_stage.get(pain.stage_id)
        if column is not None:
            observed.setdefault(column, []).append(pain)
    responses = responses_behind(evidence.snapshot)
    return MapEvidence(
        metrics=metrics,
        measured_emotion=measured_emotion(evidence.snapshot),
        responses=responses,
        observed={k: tuple(v) for k, v in observed.items()},
        confirmed=confirmed,
        as_of=as_of_line(evidence.snapshot, lang=lang),
        measured_label=labels.measured_responses.format(n=format_count(responses)),
    )
