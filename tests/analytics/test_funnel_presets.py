"""Golden cases: each preset counts a worked example the way its tool does.

Every case is worked by hand in its comments, with the rule of the tool that decides
it (the rules and their sources are listed in ``journeymap.analytics.presets``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load, materialize, rows_of
from journeymap.analytics.funnels import FunnelError, FunnelExclusion, FunnelStep, compute_funnel
from journeymap.analytics.presets import PRESETS, get_preset, list_presets
from journeymap.model.rules import EventRule

T0 = datetime(2024, 3, 4, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def on(name: str) -> FunnelStep:
    return FunnelStep(name, EventRule.model_validate({"match": {"event": name}}))


def ev(unit: str, at: timedelta, event: str) -> dict[str, Any]:
    return {"actor_id": unit, "ts": T0 + at, "event": event}


def outcome(
    con: Any, rows: list[dict[str, Any]], steps: list[str], preset: str, **overrides: Any
) -> tuple[list[int], list[float | None]]:
    """Entered per step, and the median time to each later step."""
    funnel = compute_funnel(
        load(con, rows), [on(s) for s in steps], **get_preset(preset).options(**overrides)
    )
    funnel = funnel.from_attempts(materialize(con, funnel.attempts, "attempts"))
    summary = rows_of(funnel.summary, sort=["step_index"])
    return [r["entered"] for r in summary], [r["median_secs"] for r in summary[1:]]


# A@day 0, A@day 6, B@day 10, with a 7-day window.
ISSUE_EXAMPLE = [ev("u", 0 * DAY, "A"), ev("u", 6 * DAY, "A"), ev("u", 10 * DAY, "B")]


@pytest.mark.parametrize(
    ("preset", "entered", "secs"),
    [
        # Mixpanel: the user enters once, at the first A (day 0), and "the conversion
        # window … will not be updated by later instances" of A: the window closes on
        # day 7, B comes on day 10 → no conversion.
        ("mixpanel", [1, 0], [None]),
        # PostHog: every A is tried and the A on day 6 restarts the attempt; B on day 10
        # is 4 days later, inside 7 days → one conversion, in 4 days.
        ("posthog", [1, 1], [4 * 86400.0]),
        # Amplitude: the longest path is A(day 6) → B; it is the only one of length 2
        # → one conversion, in 4 days, as PostHog.
        ("amplitude", [1, 1], [4 * 86400.0]),
        # GA4: entry at the first A; a "within 7 days" limit between A and B: day 0 to
        # day 10 is too long → no conversion.
        ("ga4-closed", [1, 0], [None]),
    ],
)
def test_issue_example_a_a_b_with_a_seven_day_window(
    con: Any, preset: str, entered: list[int], secs: list[float | None]
) -> None:
    assert outcome(con, ISSUE_EXAMPLE, ["A", "B"], preset, window=7 * DAY) == (entered, secs)


@pytest.mark.parametrize(
    ("preset", "secs"),
    [
        # A@0 h, A@1 h, B@2 h: every tool counts one conversion, but the time differs.
        # Mixpanel: from the first A → 2 h.
        ("mixpanel", 7200.0),
        # PostHog: the second A restarts the attempt → 1 h.
        ("posthog", 3600.0),
        # Amplitude: both paths are equally long; the earliest wins → 2 h.
        ("amplitude", 7200.0),
        # GA4: from the first entry → 2 h.
        ("ga4-closed", 7200.0),
    ],
)
def test_time_to_convert_depends_on_which_step_one_event_counts(
    con: Any, preset: str, secs: float
) -> None:
    rows = [ev("u", 0 * HOUR, "A"), ev("u", 1 * HOUR, "A"), ev("u", 2 * HOUR, "B")]
    assert outcome(con, rows, ["A", "B"], preset) == ([1, 1], [secs])


@pytest.mark.parametrize(
    ("preset", "entered"),
    [
        # PostHog: 14 days by default: B on day 13 counts, on day 15 it does not
        ("posthog", [2, 1]),
        # Mixpanel: 7 days by default: neither counts
        ("mixpanel", [2, 0]),
        # Amplitude: 1 day by default: neither counts
        ("amplitude", [2, 0]),
        # GA4: no limit by default: both count
        ("ga4-closed", [2, 2]),
    ],
)
def test_default_conversion_windows(con: Any, preset: str, entered: list[int]) -> None:
    rows = [
        ev("u1", 0 * DAY, "A"),
        ev("u1", 13 * DAY, "B"),
        ev("u2", 0 * DAY, "A"),
        ev("u2", 15 * DAY, "B"),
    ]
    assert outcome(con, rows, ["A", "B"], preset)[0] == entered


@pytest.mark.parametrize(
    ("preset", "entered"),
    [
        # PostHog removes a person who did X between the steps: only u1 is left
        ("posthog", [1, 1, 1]),
        # Mixpanel: X makes u2 exit the attempt after B: u2 counts at A and B only
        ("mixpanel", [2, 2, 1]),
    ],
)
def test_exclusion_steps(con: Any, preset: str, entered: list[int]) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),
        ev("u1", 2 * HOUR, "C"),
        ev("u2", 0 * HOUR, "A"),
        ev("u2", 1 * HOUR, "B"),
        ev("u2", 2 * HOUR, "X"),
        ev("u2", 3 * HOUR, "C"),
    ]
    exclusion = FunnelExclusion(on("X"), from_step=0)
    got = outcome(con, rows, ["A", "B", "C"], preset, exclusions=[exclusion])
    assert got[0] == entered


@pytest.mark.parametrize(
    ("preset", "entered"),
    [
        # closed: u2 never did A, so it is not in the funnel
        ("ga4-closed", [1, 1, 0]),
        # open: u2 enters at B and goes on to C
        ("ga4-open", [1, 2, 1]),
    ],
)
def test_ga4_open_and_closed_funnels(con: Any, preset: str, entered: list[int]) -> None:
    rows = [
        ev("u1", 0 * HOUR, "A"),
        ev("u1", 1 * HOUR, "B"),
        ev("u2", 0 * HOUR, "B"),
        ev("u2", 1 * HOUR, "C"),
    ]
    assert outcome(con, rows, ["A", "B", "C"], preset)[0] == entered


def test_presets_are_listed_and_found_by_name() -> None:
    assert [p.name for p in list_presets()] == list(PRESETS)
    assert get_preset("GA4").name == "ga4-closed"
    assert get_preset(" PostHog ").entry == "latest"
    with pytest.raises(FunnelError, match="presets are: posthog, mixpanel"):
        get_preset("heap")


def test_options_given_next_to_a_preset_win() -> None:
    opts = get_preset("posthog").options(window=None, entry="every")
    assert (opts["window"], opts["entry"], opts["order"]) == (None, "every", "ordered")


# --- PostHog's counting, replayed event by event ------------------------------------


def posthog_replay(
    events: list[tuple[int, str]], steps: list[str], window: int
) -> tuple[int, list[int]]:
    """Steps reached and step times, replaying events the way PostHog's funnel does.

    For each step the replay keeps the chain that reached it and when that chain
    entered; a step-1 event always starts a fresh chain at step 1, and a step-k event
    extends the chain at step k-1 when it is inside the window from that chain's entry
    and that chain has not reached step k already. The person's result is the first
    chain to reach their furthest step; the replay stops at the first full conversion.
    """
    n = len(steps)
    chains: list[tuple[int, list[int]] | None] = [None] * n
    best: tuple[int, list[int]] = (0, [])
    for t, name in events:
        for k in reversed(range(n)):
            if steps[k] != name:
                continue
            if k == 0:
                chains[0] = (t, [t])
            else:
                prev = chains[k - 1]
                if prev is None or t - prev[0] > window:
                    continue
                here = chains[k]
                if here is not None and here[0] == prev[0]:
                    continue
                chains[k] = (prev[0], [*prev[1], t])
            if k + 1 > best[0]:
                best = (k + 1, list(chains[k][1]))  # type: ignore[index]
        if chains[n - 1] is not None:
            break
    return best


@settings(max_examples=50, deadline=None)
@given(
    log=st.lists(
        st.tuples(st.sampled_from("uv"), st.sampled_from("ABCX")),
        max_size=12,
    ),
    steps=st.sampled_from([["A", "B"], ["A", "B", "C"], ["A", "A", "B"], ["A", "B", "A"]]),
    window=st.sampled_from([3, 6, 100]),
)
def test_posthog_preset_matches_a_replay_of_posthogs_rules(
    log: list[tuple[str, str]], steps: list[str], window: int
) -> None:
    # distinct hours (PostHog plays same-second events in every order; we sort by id)
    rows = [
        {"event_id": f"e{i:02d}", "actor_id": u, "ts": T0 + i * HOUR, "event": e}
        for i, (u, e) in enumerate(log)
    ]
    con = ibis.duckdb.connect()
    funnel = compute_funnel(
        load(con, rows),
        [on(s) for s in steps],
        **get_preset("posthog").options(window=timedelta(hours=window)),
    )
    got = {
        a["actor_id"]: (
            a["steps_reached"],
            [
                int((a[f"step_{k}_ts"] - T0) / HOUR)
                for k in range(len(steps))
                if a[f"step_{k}_ts"] is not None
            ],
        )
        for a in rows_of(funnel.attempts)
    }
    expected = {}
    for unit in sorted({r["actor_id"] for r in rows}):
        mine = [(i, e) for i, (u, e) in enumerate(log) if u == unit]
        depth, times = posthog_replay(mine, steps, window)
        if depth:
            expected[unit] = (depth, times)
    assert got == expected
