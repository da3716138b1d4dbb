"""insights (pure core): what the measured journey says about the map.

Pain points found in the data (:func:`find_pain_points`), opportunities scored by
measured impact (:func:`score_opportunities`), the measured lane of the map
(:func:`metrics_lane`, :func:`measured_emotion`) and the evidenced map as a JSON-able
document (:func:`dump_evidenced`, :func:`load_evidenced`). Everything here works on the
small, already-computed dataclasses of :mod:`journeymap.insights.evidence`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from journeymap.insights.evidence import (
        Driver,
        Estimate,
        EvidencedMap,
        ObservedPainPoint,
        PainPointKind,
        Preference,
        PreferenceCell,
        SankeyLink,
        Satisfaction,
        SatisfactionScale,
        ScoredOpportunity,
        ScoringMethod,
        SegmentConversion,
        Snapshot,
        StageMetrics,
        StepMetrics,
        StepSignals,
    )
    from journeymap.insights.formula import Formula, FormulaError, compile_formula, evaluate_formula
    from journeymap.insights.lane import measured_emotion, metrics_lane
    from journeymap.insights.opportunities import ScoringError, score_opportunities
    from journeymap.insights.painpoints import (
        DEFAULT_THRESHOLDS,
        PainThresholds,
        ThresholdError,
        find_pain_points,
    )
    from journeymap.insights.serialize import EvidenceFormatError, dump_evidenced, load_evidenced

_HOMES = {
    "evidence": (
        "Driver",
        "Estimate",
        "EvidencedMap",
        "ObservedPainPoint",
        "PainPointKind",
        "Preference",
        "PreferenceCell",
        "SankeyLink",
        "Satisfaction",
        "SatisfactionScale",
        "ScoredOpportunity",
        "ScoringMethod",
        "SegmentConversion",
        "Snapshot",
        "StageMetrics",
        "StepMetrics",
        "StepSignals",
    ),
    "formula": ("Formula", "FormulaError", "compile_formula", "evaluate_formula"),
    "funnel": ("find_biggest_drop_off", "list_drop_off_steps"),
    "lane": ("measured_emotion", "metrics_lane"),
    "opportunities": ("ScoringError", "score_opportunities"),
    "painpoints": ("DEFAULT_THRESHOLDS", "PainThresholds", "ThresholdError", "find_pain_points"),
    "serialize": ("EvidenceFormatError", "dump_evidenced", "load_evidenced"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import on first use: the statistics behind pain points load scipy, which the
    metrics lane and the evidence types do not need."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'journeymap.insights' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"journeymap.insights.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_THRESHOLDS",
    "Driver",
    "Estimate",
    "EvidenceFormatError",
    "EvidencedMap",
    "Formula",
    "FormulaError",
    "ObservedPainPoint",
    "PainPointKind",
    "PainThresholds",
    "Preference",
    "PreferenceCell",
    "SankeyLink",
    "Satisfaction",
    "SatisfactionScale",
    "ScoredOpportunity",
    "ScoringError",
    "ScoringMethod",
    "SegmentConversion",
    "Snapshot",
    "StageMetrics",
    "StepMetrics",
    "StepSignals",
    "ThresholdError",
    "compile_formula",
    "dump_evidenced",
    "evaluate_formula",
    "find_biggest_drop_off",
    "find_pain_points",
    "list_drop_off_steps",
    "load_evidenced",
    "measured_emotion",
    "metrics_lane",
    "score_opportunities",
]
