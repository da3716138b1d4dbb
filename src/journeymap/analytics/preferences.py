"""Preferences by group: does the choice (payment method, support channel) depend on it?

Two halves:

1. **In the engine**: :func:`count_preferences` builds the contingency table as an
   Ibis expression: one row per (group, choice) with its count.
2. **On the small result**: :func:`compare_preferences` runs Pearson's chi-square test
   of independence and marks the cells that differ from independence.

The choice is a column (``channel``) or a path into the JSON ``properties``
(``properties.payment_method``), restricted to the events named in ``events_named``
when given. The group is a column (default ``region``) or, with
``group_level="country"``, its part before the first ``-`` (ISO 3166-2 ``KR-11`` →
``KR``). ``per="event"`` (the default) counts events; ``per="customer"`` counts each
customer once per (group, choice) it was seen in, so a customer who paid by card ten
times weighs as much as one who paid once.

Rows with no group or no choice are **unassigned**: counted, reported, and left out
of the test (they are not a group or a choice).

A cell is significant when its adjusted standardised residual
``(O - E) / sqrt(E (1 - row share) (1 - column share))`` lies beyond the normal
quantile for ``alpha / (2 x cells)`` (Bonferroni over all cells, two-sided):
positive means the group chooses it more than independence predicts. A cell's
``share`` is its count over its group's total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from journeymap.analytics.mapping import MappingError, resolve_field
from journeymap.analytics.stats import run_contingency_test
from journeymap.errors import JourneyError
from journeymap.insights.evidence import Preference, PreferenceCell

__all__ = ["PreferenceError", "compare_preferences", "count_preferences"]


class PreferenceError(JourneyError, ValueError):
    """A preference table that cannot be built (unknown column, bad option)."""


def _value(field: str, events: ir.Table, what: str) -> ir.StringValue:
    try:
        value = resolve_field(field, events)
    except MappingError as exc:
        raise PreferenceError(f"preference {what}: {exc}") from None
    return value.cast("string")


def count_preferences(
    events: ir.Table,
    *,
    choice: str,
    events_named: Sequence[str] = (),
    group_by: str = "region",
    group_level: Literal["region", "country"] = "region",
    per: Literal["event", "customer"] = "event",
    actor: str = "actor_id",
) -> ir.Table:
    """The contingency table: ``group``, ``choice`` (null when missing) and ``count``.

    Empty strings count as missing. See the module docstring for the options.
    """
    if group_level not in ("region", "country"):
        raise PreferenceError(f"group_level {group_level!r}: use 'region' or 'country'")
    if per not in ("event", "customer"):
        raise PreferenceError(f"per {per!r}: count per 'event' or per 'customer'")
    if events_named:
        if "event" not in events.columns:
            raise PreferenceError(
                "events_named needs an 'event' column; the table's columns are: "
                + ", ".join(events.columns)
            )
        events = events.filter(events.event.isin(list(events_named)))
    picked = _value(choice, events, "choice")
    group = _value(group_by, events, "group")
    if group_level == "country":
        group = group.split("-")[0]
    picked, group = _blank_to_null(picked), _blank_to_null(group)
    table = events.select(_group=group, _choice=picked, _actor=events[actor].cast("string"))
    if per == "customer":
        table = table.distinct()
    return table.group_by(group=table._group, choice=table._choice).agg(
        count=table.count().cast("int64")
    )


def _blank_to_null(value: ir.StringValue) -> ir.StringValue:
    """Null for empty or all-white-space text (not ``strip()``: see satisfaction's note)."""
    blank = value.re_search(r"^\s*$")
    return ibis.ifelse(blank, ibis.null("string"), value).cast("string")


def compare_preferences(
    rows: Iterable[Mapping[str, Any]],
    *,
    dimension: str,
    group_by: str = "region",
    alpha: float = 0.05,
) -> Preference:
    """The chi-square test of independence of group and choice, cell by cell.

    ``rows`` are executed rows of :func:`count_preferences` (``group``, ``choice``,
    ``count``). Groups and choices are ordered by name; cells that were never seen
    have a count of 0. ``statistic``, ``p_value`` and the residuals are None when
    there are fewer than two groups or two choices.
    """
    if not 0 < alpha < 1:
        raise PreferenceError(f"alpha {alpha!r} is outside (0, 1); the usual choice is 0.05")
    counts: dict[tuple[str, str], int] = {}
    unassigned = 0
    for i, row in enumerate(rows):
        try:
            group, choice, count = row["group"], row["choice"], row["count"]
        except KeyError as exc:
            raise PreferenceError(
                f"preference row {i + 1} has no {exc.args[0]!r}; pass rows of count_preferences"
            ) from None
        n = int(count or 0)
        if n < 0:
            raise PreferenceError(f"preference row {i + 1}: count {n} is negative")
        if group is None or choice is None:
            unassigned += n
            continue
        key = (str(group), str(choice))
        counts[key] = counts.get(key, 0) + n
    groups = sorted({g for g, _ in counts})
    choices = sorted({c for _, c in counts})
    table = [[counts.get((g, c), 0) for c in choices] for g in groups]
    test = run_contingency_test(table) if table else None
    critical = test.critical_residual(alpha=alpha) if test is not None else None
    cells: list[PreferenceCell] = []
    for i, g in enumerate(groups):
        total = sum(table[i])
        for j, c in enumerate(choices):
            residual = (
                test.residuals[i][j] if test is not None and test.statistic is not None else None
            )
            cells.append(
                PreferenceCell(
                    group=g,
                    choice=c,
                    count=table[i][j],
                    share=table[i][j] / total if total else 0.0,
                    residual=residual,
                    significant=residual is not None
                    and critical is not None
                    and abs(residual) > critical,
                )
            )
    statistic = test.statistic if test is not None else None
    p_value = test.p_value if test is not None else None
    return Preference(
        dimension=dimension,
        group_by=group_by,
        cells=tuple(cells),
        statistic=statistic,
        dof=test.dof if test is not None else 0,
        p_value=p_value,
        significant=p_value is not None and p_value < alpha,
        unassigned=unassigned,
    )
