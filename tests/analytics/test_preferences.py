"""Preferences by group: the contingency table on every engine, the chi-square test cell by cell."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import ibis
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from conftest import load, rows_of
from journeymap.analytics.preferences import (
    PreferenceError,
    compare_preferences,
    count_preferences,
)
from journeymap.analytics.stats import StatsError, run_contingency_test

# Two Korean customers pay by wallet, one of them twice; a US customer pays by card three
# times; a German one by invoice; one order has no method, one customer no region; a
# page view carries a method too but is not a payment.
EVENTS: list[dict[str, Any]] = [
    {"actor_id": "k1", "event": "order", "region": "KR-11", "properties": {"pay": "kakao"}},
    {"actor_id": "k1", "event": "order", "region": "KR-11", "properties": {"pay": "kakao"}},
    {"actor_id": "k2", "event": "order", "region": "KR-26", "properties": {"pay": "naver"}},
    {"actor_id": "k2", "event": "order", "region": "KR-26", "properties": {"pay": "card"}},
    {"actor_id": "u1", "event": "order", "region": "US-NV", "properties": {"pay": "card"}},
    {"actor_id": "u1", "event": "order", "region": "US-NV", "properties": {"pay": "card"}},
    {"actor_id": "u1", "event": "order", "region": "US-NV", "properties": {"pay": "card"}},
    {"actor_id": "d1", "event": "order", "region": "DE-BY", "properties": {"pay": "invoice"}},
    {"actor_id": "d2", "event": "order", "region": "DE-BY", "properties": {}},
    {"actor_id": "x1", "event": "order", "region": None, "properties": {"pay": "card"}},
    {"actor_id": "v1", "event": "view", "region": "US-CA", "properties": {"pay": "card"}},
]


def table(con: Any, **options: Any) -> dict[tuple[str | None, str | None], int]:
    expr = count_preferences(
        load(con, EVENTS), choice="properties.pay", events_named=["order"], **options
    )
    return {(r["group"], r["choice"]): r["count"] for r in rows_of(expr)}


@pytest.mark.parametrize(
    "con", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)], indirect=True
)
def test_counts_per_event_and_per_customer_by_country_by_hand(con: Any) -> None:
    # per event: KR kakao 2, naver 1, card 1; US card 3 (US-NV keeps its V); DE invoice 1;
    # d2 has no method, x1 no region; the view is not an order
    assert table(con, group_level="country") == {
        ("KR", "kakao"): 2,
        ("KR", "naver"): 1,
        ("KR", "card"): 1,
        ("US", "card"): 3,
        ("DE", "invoice"): 1,
        ("DE", None): 1,
        (None, "card"): 1,
    }
    # per customer: k1's two kakao orders and u1's three card orders count once each
    assert table(con, group_level="region", per="customer") == {
        ("KR-11", "kakao"): 1,
        ("KR-26", "naver"): 1,
        ("KR-26", "card"): 1,
        ("US-NV", "card"): 1,
        ("DE-BY", "invoice"): 1,
        ("DE-BY", None): 1,
        (None, "card"): 1,
    }


def test_a_column_can_be_the_choice_and_all_events_count_without_a_name_filter() -> None:
    duck = ibis.duckdb.connect()
    expr = count_preferences(load(duck, EVENTS), choice="event", group_level="country")
    got = {(r["group"], r["choice"]): r["count"] for r in rows_of(expr)}
    assert got[("US", "view")] == 1
    assert got[("US", "order")] == 3
    assert sum(got.values()) == len(EVENTS)


def test_unknown_fields_and_options_are_refused_with_the_columns() -> None:
    events = load(ibis.duckdb.connect(), EVENTS)
    with pytest.raises(PreferenceError, match="no column 'payment'"):
        count_preferences(events, choice="payment")
    with pytest.raises(PreferenceError, match="group_level 'city'"):
        count_preferences(events, choice="event", group_level="city")  # type: ignore[arg-type]
    with pytest.raises(PreferenceError, match="per 'order'"):
        count_preferences(events, choice="event", per="order")  # type: ignore[arg-type]


def rows(counts: dict[tuple[str | None, str | None], int]) -> list[dict[str, Any]]:
    return [{"group": g, "choice": c, "count": n} for (g, c), n in counts.items()]


def test_chi_square_and_residuals_by_hand() -> None:
    # KR: wallet 30, card 10; US: wallet 20, card 40; N = 100.
    # Expected: KR 40 x 50 / 100 = 20 each; US 60 x 50 / 100 = 30 each.
    # X^2 = 10^2/20 x 2 + 10^2/30 x 2 = 10 + 6.667 = 16.667, dof 1.
    # Adjusted residual KR-wallet: 10 / sqrt(20 x 0.6 x 0.5) = 10 / sqrt(6) = 4.0825.
    # Bonferroni over 4 cells at alpha 0.05: z(1 - 0.05 / 8) = 2.4977: every cell counts.
    pref = compare_preferences(
        rows(
            {
                ("KR", "wallet"): 30,
                ("KR", "card"): 10,
                ("US", "wallet"): 20,
                ("US", "card"): 40,
                ("US", None): 7,
            }
        ),
        dimension="payment",
        group_by="country",
    )
    assert pref.statistic == pytest.approx(16.6667, abs=1e-4)
    assert (pref.dof, pref.significant, pref.unassigned) == (1, True, 7)
    cells = {(c.group, c.choice): c for c in pref.cells}
    assert cells[("KR", "wallet")].residual == pytest.approx(10 / math.sqrt(6))
    assert cells[("KR", "card")].residual == pytest.approx(-10 / math.sqrt(6))
    assert cells[("KR", "wallet")].share == 0.75  # 30 of KR's 40
    assert all(c.significant for c in pref.cells)
    ref = sst.chi2_contingency([[10, 30], [40, 20]], correction=False)
    assert (pref.statistic, pref.p_value) == pytest.approx((ref.statistic, ref.pvalue))


def test_a_cell_near_independence_is_not_significant() -> None:
    # |residuals| here are at most 1.09, below the Bonferroni critical z(1 - 0.05/12) = 2.64
    pref = compare_preferences(
        rows(
            {
                ("a", "x"): 12,
                ("a", "y"): 10,
                ("a", "z"): 9,
                ("b", "x"): 8,
                ("b", "y"): 11,
                ("b", "z"): 12,
            }
        ),
        dimension="d",
    )
    ref = sst.chi2_contingency([[12, 10, 9], [8, 11, 12]])
    assert (pref.statistic, pref.p_value, pref.dof) == pytest.approx(
        (ref.statistic, ref.pvalue, ref.dof)
    )
    assert not pref.significant
    assert not any(c.significant for c in pref.cells)


def test_a_single_group_has_no_test_but_keeps_its_cells() -> None:
    pref = compare_preferences(rows({("KR", "kakao"): 3, ("KR", "card"): 1}), dimension="pay")
    assert (pref.statistic, pref.p_value, pref.significant, pref.dof) == (None, None, False, 0)
    assert [(c.choice, c.count, c.share, c.residual) for c in pref.cells] == [
        ("card", 1, 0.25, None),
        ("kakao", 3, 0.75, None),
    ]


def test_contingency_refuses_ragged_or_negative_tables() -> None:
    with pytest.raises(StatsError, match="row 2 has 1 cells"):
        run_contingency_test([[1, 2], [3]])
    with pytest.raises(StatsError, match="negative"):
        run_contingency_test([[1, -2], [3, 4]])


def adjusted_residuals(observed: np.ndarray) -> np.ndarray:
    """Independent: residuals from scipy's expected counts and numpy margins."""
    expected = sst.contingency.expected_freq(observed)
    n = observed.sum()
    rows_share = observed.sum(axis=1, keepdims=True) / n
    cols_share = observed.sum(axis=0, keepdims=True) / n
    return (observed - expected) / np.sqrt(expected * (1 - rows_share) * (1 - cols_share))


@given(
    st.integers(2, 4).flatmap(
        lambda r: st.integers(2, 4).flatmap(
            lambda c: st.lists(
                st.lists(st.integers(1, 60), min_size=c, max_size=c), min_size=r, max_size=r
            )
        )
    )
)
@settings(max_examples=60, deadline=None)
def test_contingency_test_equals_scipy(observed: list[list[int]]) -> None:
    ours = run_contingency_test(observed)
    ref = sst.chi2_contingency(np.array(observed), correction=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    assert ours.dof == ref.dof
    assert np.allclose(
        np.array(ours.residuals, dtype=float), adjusted_residuals(np.array(observed))
    )
    cells = len(observed) * len(observed[0])
    assert ours.critical_residual(alpha=0.05) == pytest.approx(sst.norm.ppf(1 - 0.05 / (2 * cells)))


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3", "p4"]),
            st.sampled_from(["KR-11", "KR-26", "US-CA", "", None]),
            st.sampled_from(["card", "wallet", None]),
            st.sampled_from(["order", "view"]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["event", "customer"]),
    st.sampled_from(["region", "country"]),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_counts_equal_a_python_reference(
    duck: Any, draws: list[tuple[str, str | None, str | None, str]], per: str, level: str
) -> None:
    events = [
        {"actor_id": a, "region": r, "event": e, "properties": {"pay": p} if p else {}}
        for a, r, p, e in draws
    ]
    got = {
        (r["group"], r["choice"]): r["count"]
        for r in rows_of(
            count_preferences(
                load(duck, events),
                choice="properties.pay",
                events_named=["order"],
                group_level=level,
                per=per,  # type: ignore[arg-type]
            )
        )
    }
    seen: Counter[tuple[str | None, str | None]] = Counter()
    pairs: set[tuple[str, str | None, str | None]] = set()
    for a, r, p, e in draws:
        if e != "order":
            continue
        group = (r.split("-")[0] if level == "country" else r) if r else None
        if per == "customer":
            if (a, group, p) in pairs:
                continue
            pairs.add((a, group, p))
        seen[(group, p)] += 1
    assert got == dict(seen)
