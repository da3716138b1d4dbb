"""The geometry of a map picture, as plain numbers that tests check without a browser.

:func:`layout_map` turns a :class:`~journeymap.model.JourneyMap` into a
:class:`Layout`: boxes of cards with their wrapped text, labelled regions (header
panels, stage bands, lanes), rules, the emotion curves, the edges of the flow view and
the pages a long map is printed on. :mod:`journeymap.render.svg` draws it; nothing here
knows SVG.

Three views share these types (see :data:`VIEWS`): ``matrix`` (stages and steps across,
lanes down), ``timeline`` (steps on a time axis) and ``flow`` (steps as nodes with
forks and side paths). Measured data can ride along: ``metrics`` (step id → label →
display string) adds a *measured* lane, ``measured_emotion`` (step id → −2 … +2) a
second emotion curve beside the declared one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from journeymap.insights.evidence import EvidencedMap
from journeymap.model import JourneyMap
from journeymap.render import flow, matrix, timeline
from journeymap.render.evidence import prepare_evidence
from journeymap.render.geometry import (
    LANES,
    VIEWS,
    Badge,
    Box,
    Card,
    Cubic,
    Curve,
    CurvePoint,
    Edge,
    Layout,
    Mark,
    Page,
    Region,
    RenderError,
    Rule,
    Text,
    View,
)
from journeymap.render.labels import labels_for

__all__ = [
    "LANES",
    "VIEWS",
    "Badge",
    "Box",
    "Card",
    "Cubic",
    "Curve",
    "CurvePoint",
    "Edge",
    "Layout",
    "Mark",
    "Page",
    "Region",
    "RenderError",
    "Rule",
    "Text",
    "View",
    "check_measured",
    "layout_map",
    "select_lanes",
]


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    """The choice a mistyped ``word`` most likely meant: a prefix first, then a close one."""
    starts = [c for c in choices if c.startswith(word) or word.startswith(c)]
    if starts:
        return starts[0]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return close[0] if close else None


def select_lanes(lanes: Iterable[str] | None) -> tuple[str, ...] | None:
    """Check and normalise lane names (``pain-points`` → ``pain_points``).

    ``None`` means "every lane that has content". An unknown name raises
    :class:`RenderError` listing the lanes, with a did-you-mean hint.

    >>> select_lanes(["Emotion", "pain-points"])
    ('emotion', 'pain_points')
    """
    if lanes is None:
        return None
    chosen: list[str] = []
    for raw in lanes:
        name = raw.strip().lower().replace("-", "_").replace(" ", "_")
        if not name:
            continue
        if name not in LANES:
            close = _suggest(name, LANES)
            hint = f"did you mean '{close}'? " if close else ""
            raise RenderError(f"unknown lane '{raw.strip()}'; {hint}lanes are: {', '.join(LANES)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise RenderError(f"no lanes given; choose from: {', '.join(LANES)}")
    return tuple(chosen)


def check_measured(
    jmap: JourneyMap,
    metrics: Mapping[str, Mapping[str, str]] | None,
    measured_emotion: Mapping[str, float] | None,
) -> None:
    """Refuse measured data for steps the map does not have, or emotion off the scale."""
    step_ids = [step.id for _, step in jmap.all_steps()]
    known = set(step_ids)
    for what, mapping in (("metrics", metrics), ("measured emotion", measured_emotion)):
        for step_id in mapping or {}:
            if step_id not in known:
                close = difflib.get_close_matches(step_id, step_ids, n=1, cutoff=0.6)
                hint = (
                    f"did you mean '{close[0]}'?" if close else f"steps are: {', '.join(step_ids)}"
                )
                raise RenderError(
                    f"{what} given for step '{step_id}', which is not in map '{jmap.id}'; {hint}"
                )
    for step_id, value in (measured_emotion or {}).items():
        if not -2.0 <= float(value) <= 2.0:
            raise RenderError(
                f"measured emotion {value!r} for step '{step_id}' is off the scale; "
                "emotion runs from -2 (very negative) to +2 (very positive)"
            )


def layout_map(
    jmap: JourneyMap,
    *,
    view: str = "matrix",
    lanes: Iterable[str] | None = None,
    metrics: Mapping[str, Mapping[str, str]] | None = None,
    measured_emotion: Mapping[str, float] | None = None,
    evidence: EvidencedMap | None = None,
) -> Layout:
    """Compute the picture of ``jmap`` in ``view`` as numbers.

    ``lanes`` picks and orders the matrix lanes (see :data:`LANES`); by default every
    lane with content is shown. In the timeline and flow views, ``lanes`` decides which
    marks appear on each step: ``touchpoints`` (channel), ``emotion`` and
    ``pain_points``. ``metrics`` maps step ids to ``{label: display string}`` for the
    measured lane; ``measured_emotion`` maps step ids to a measured emotion (−2 … +2)
    drawn as a second curve.

    ``evidence`` (an :class:`~journeymap.insights.evidence.EvidencedMap` of this map)
    fills both from its snapshot, marks steps without data "no data", adds the pain
    points found in the data to the pain point lane (an "observed" card, or a
    "confirmed by data" badge on the declared pain point it confirms), names the
    measured curve with its responses in the legend and puts an "as of … · data … ·
    N customers" line under the title. Explicit ``metrics`` or ``measured_emotion``
    win over the evidence's.

    >>> from journeymap.model import JourneyMap
    >>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
    ...     {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A", "emotion": 1}]}]})
    >>> layout = layout_map(jmap)
    >>> layout.steps, layout.lanes
    (('a',), ('emotion',))
    """
    if view not in VIEWS:
        close = _suggest(view, VIEWS)
        hint = f"did you mean '{close}'? " if close else ""
        raise RenderError(f"unknown view '{view}'; {hint}views are: {', '.join(VIEWS)}")
    chosen = select_lanes(lanes)
    check_measured(jmap, metrics, measured_emotion)
    labels = labels_for(jmap.lang)
    seen = prepare_evidence(jmap, evidence) if evidence is not None else None
    if seen is not None:
        metrics = metrics if metrics is not None else seen.metrics
        if measured_emotion is None:
            measured_emotion = seen.measured_emotion
    as_of = seen.as_of if seen else None
    measured_label = seen.measured_label if seen else None
    if view == "matrix":
        return matrix.layout_matrix(
            jmap,
            lanes=chosen,
            metrics=metrics,
            measured_emotion=measured_emotion,
            labels=labels,
            evidence=seen,
        )
    if view == "timeline":
        return timeline.layout_timeline(
            jmap,
            lanes=chosen,
            measured_emotion=measured_emotion,
            labels=labels,
            as_of=as_of,
            measured_label=measured_label,
        )
    return flow.layout_flow(
        jmap,
        lanes=chosen,
        measured_emotion=measured_emotion,
        labels=labels,
        as_of=as_of,
        measured_label=measured_label,
    )
