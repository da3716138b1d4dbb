"""Small builders for hand-made snapshots: the insights tests never touch an engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from journeymap.analytics.stats import estimate_wilson_interval
from journeymap.insights.evidence import (
    Estimate,
    Satisfaction,
    SatisfactionScale,
    Snapshot,
    StageMetrics,
    StepMetrics,
    StepSignals,
)
from journeymap.io.maps import load_map
from journeymap.model import JourneyMap

__all__ = ["AS_OF", "EXAMPLES", "estimate", "load_example", "sat", "snapshot", "stage", "step"]

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[2] / "examples"


def estimate(successes: int, trials: int) -> Estimate:
    """A rate with its Wilson interval."""
    if trials == 0:
        return Estimate(None, n=0)
    i = estimate_wilson_interval(successes, trials)
    return Estimate(successes / trials, i.low, i.high, n=trials)


def step(
    step_id: str,
    stage_id: str,
    *,
    trials: int,
    dropped: int,
    in_progress: int = 0,
    median: float | None = None,
    p90: float | None = None,
    satisfaction: Sequence[Satisfaction] = (),
    emotion: float | None = None,
) -> StepMetrics:
    """A step's metrics from its counts: reach = trials + in progress."""
    converted = trials - dropped
    return StepMetrics(
        step_id=step_id,
        stage_id=stage_id,
        reach=trials + in_progress,
        converted=converted,
        dropped=dropped,
        in_progress=in_progress,
        conversion=estimate(converted, trials),
        drop_off=dropped / trials if trials else None,
        median_seconds=median,
        p90_seconds=p90,
        satisfaction=tuple(satisfaction),
        measured_emotion=emotion,
    )


def stage(
    stage_id: str,
    *,
    trials: int,
    dropped: int,
    median: float | None = None,
    p90: float | None = None,
    satisfaction: Sequence[Satisfaction] = (),
) -> StageMetrics:
    converted = trials - dropped
    return StageMetrics(
        stage_id=stage_id,
        reach=trials,
        converted=converted,
        dropped=dropped,
        in_progress=0,
        conversion=estimate(converted, trials),
        drop_off=dropped / trials if trials else None,
        median_seconds=median,
        p90_seconds=p90,
        satisfaction=tuple(satisfaction),
    )


def sat(
    scale: SatisfactionScale,
    value: float,
    responses: int,
    low: float | None = None,
    high: float | None = None,
) -> Satisfaction:
    return Satisfaction(scale, Estimate(value, low, high, n=responses), responses)


def snapshot(
    steps: Sequence[StepMetrics],
    stages: Sequence[StageMetrics] = (),
    signals: Sequence[StepSignals] = (),
    *,
    customers: int = 1000,
) -> Snapshot:
    return Snapshot(
        as_of=AS_OF,
        computed_at=AS_OF,
        data_from=datetime(2026, 10, 1, tzinfo=UTC),
        data_to=AS_OF,
        customers=customers,
        events=customers * 10,
        feedback=0,
        unmatched_share=0.0,
        window_seconds=7 * 86400.0,
        engine="duckdb",
        steps=tuple(steps),
        stages=tuple(stages),
        signals=tuple(signals),
    )


def load_example(name: str) -> JourneyMap:
    """An example map from examples/, read by the io adapter (tests may read files)."""
    return load_map(EXAMPLES / name)
