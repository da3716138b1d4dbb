"""Funnel presets that reproduce the funnels of PostHog, Mixpanel, Amplitude and GA4.

Users arrive from these tools with numbers they trust; a preset sets every option of
:func:`journeymap.analytics.funnels.compute_funnel` the way that tool counts, so the
same events give the same funnel. Each preset is pinned by golden tests with worked
examples (``tests/analytics/test_funnel_presets.py``); ``docs/funnels.md`` has the
table of differences.

What each preset relies on (public documentation and source, read 2026):

- **PostHog** — ordered funnel; every step-1 event is tried and a later one restarts
  the clock, the person's furthest chain counts (the funnel UDF
  ``posthog/user_scripts/aggregate_funnel.py``: the entry slot is reset on every
  event and the maximum step is kept); default window 14 days
  (``posthog/hogql_queries/insights/funnels/test/test_funnel_conversion_window.py``:
  an unset window falls back to 14); a person who does an exclusion event between the
  steps is removed from the funnel (same UDF: an exclusion ends the person's result
  with step -1); breakdown by the first touch.
- **Mixpanel** — uniques: "each user enters the funnel only once, the first time they
  perform the Step 1 event"; the window "starts on the first instance of the Step 1
  event and will not be updated by later instances" (help.mixpanel.com, Conversion
  Criteria in Funnels); default window 7 days (docs.mixpanel.com, Funnels: Advanced);
  an exclusion step makes the user exit the funnel attempt ("users exit a funnel in 3
  ways … they are excluded by an exclusion step"), so they count as dropped.
- **Amplitude** — "this order" funnel; unique users follow the "earliest-longest"
  path (amplitude.com/docs, Funnel Analysis FAQ), so the furthest attempt counts and
  ties go to the earliest; each event serves one conversion path; the group-by value
  is taken from the first occurrence (How filters work in a Funnel Analysis chart);
  default window 1 day. How Amplitude counts an exclusion was not documented in what
  we read; the preset treats it as ending the attempt.
- **GA4** funnel exploration — "indirectly followed by" steps (ordered), no time limit
  unless one is set, and a "within" limit applies between consecutive steps; a closed
  funnel needs entry at step 1, an open funnel lets users enter at any step
  (Google Analytics Data API ``Funnel.is_open_funnel``). GA4 counts users, from their
  first entry.

Presets set defaults only: any option passed next to a preset wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from journeymap.analytics.funnels import (
    Attribution,
    Entry,
    ExclusionEffect,
    FunnelError,
    Order,
    WindowFrom,
)

__all__ = ["PRESETS", "FunnelPreset", "get_preset", "list_presets"]


@dataclass(frozen=True)
class FunnelPreset:
    """The options one analytics tool uses for its funnels (see the module docstring)."""

    name: str
    title: str
    order: Order
    window: timedelta | None
    window_from: WindowFrom
    entry: Entry
    exclusion_effect: ExclusionEffect
    closed: bool
    attribution: Attribution
    summary: str
    sources: tuple[str, ...]

    def options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for :func:`compute_funnel`; ``overrides`` win.

        >>> get_preset("mixpanel").options(window=timedelta(days=30))["window"].days
        30
        """
        opts: dict[str, Any] = {
            "order": self.order,
            "window": self.window,
            "window_from": self.window_from,
            "entry": self.entry,
            "exclusion_effect": self.exclusion_effect,
            "closed": self.closed,
            "attribution": self.attribution,
        }
        opts.update(overrides)
        return opts


PRESETS: dict[str, FunnelPreset] = {
    p.name: p
    for p in (
        FunnelPreset(
            name="posthog",
            title="PostHog",
            order="ordered",
            window=timedelta(days=14),
            window_from="first",
            entry="latest",
            exclusion_effect="remove",
            closed=True,
            attribution="first",
            summary="a later step-1 event restarts the attempt; excluded people leave",
            sources=(
                "github.com/PostHog/posthog posthog/user_scripts/aggregate_funnel.py",
                (
                    "github.com/PostHog/posthog posthog/hogql_queries/insights/funnels/"
                    "test/test_funnel_conversion_window.py"
                ),
            ),
        ),
        FunnelPreset(
            name="mixpanel",
            title="Mixpanel",
            order="ordered",
            window=timedelta(days=7),
            window_from="first",
            entry="first",
            exclusion_effect="drop_off",
            closed=True,
            attribution="first",
            summary="one attempt from the first step-1 event; the window is not reset",
            sources=(
                "help.mixpanel.com/hc/en-us/articles/360029190092 (Conversion Criteria)",
                "docs.mixpanel.com/docs/reports/funnels/funnels-advanced",
                "docs.mixpanel.com/docs/reports/funnels/funnels-faq",
            ),
        ),
        FunnelPreset(
            name="amplitude",
            title="Amplitude",
            order="ordered",
            window=timedelta(days=1),
            window_from="first",
            entry="longest",
            exclusion_effect="drop_off",
            closed=True,
            attribution="first",
            summary="the earliest of the longest paths",
            sources=(
                "amplitude.com/docs/analytics/charts/funnel-analysis/faq",
                (
                    "amplitude.com/docs/analytics/charts/funnel-analysis/"
                    "funnel-analysis-how-amplitude-computes"
                ),
            ),
        ),
        FunnelPreset(
            name="ga4-closed",
            title="GA4 (closed funnel)",
            order="ordered",
            window=None,
            window_from="previous",
            entry="first",
            exclusion_effect="remove",
            closed=True,
            attribution="first",
            summary="users must enter at step 1; no time limit unless set",
            sources=("developers.google.com/analytics Data API v1alpha Funnel.is_open_funnel",),
        ),
        FunnelPreset(
            name="ga4-open",
            title="GA4 (open funnel)",
            order="ordered",
            window=None,
            window_from="previous",
            entry="first",
            exclusion_effect="remove",
            closed=False,
            attribution="first",
            summary="users may enter at any step",
            sources=("developers.google.com/analytics Data API v1alpha Funnel.is_open_funnel",),
        ),
    )
}
"""The presets by name."""

_ALIASES = {"ga4": "ga4-closed"}


def list_presets() -> tuple[FunnelPreset, ...]:
    """Every preset, in a stable order."""
    return tuple(PRESETS.values())


def get_preset(name: str) -> FunnelPreset:
    """The preset called ``name`` (case-insensitive; ``ga4`` means ``ga4-closed``)."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in PRESETS:
        raise FunnelError(f"no funnel preset called {name!r}; presets are: {', '.join(PRESETS)}")
    return PRESETS[key]
