"""Significance tests and intervals, each checked by hand and against scipy.stats."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from journeymap.analytics.stats import (
    StatsError,
    adjust_p_values,
    compare_two_means,
    compare_two_proportions,
    estimate_newcombe_interval,
    estimate_wilson_interval,
    run_chi_square,
)


@pytest.mark.parametrize(
    ("successes", "trials"), [(81, 263), (0, 10), (10, 10), (1, 1), (3, 7), (500, 1000)]
)
def test_wilson_interval_equals_scipy(successes: int, trials: int) -> None:
    ours = estimate_wilson_interval(successes, trials)
    ref = sst.binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    assert ours.low == pytest.approx(ref.low, abs=1e-12)
    assert ours.high == pytest.approx(ref.high, abs=1e-12)


def test_wilson_interval_by_hand() -> None:
    # 81/263 at 95%: z = 1.959964, p = 0.307985, z^2/n = 0.014606,
    # centre = (0.307985 + 0.007303) / 1.014606 = 0.310751,
    # half = 1.959964 / 1.014606 * sqrt(0.000810962 + 0.0000138886) = 0.0554605
    # -> (0.255291, 0.366210); Newcombe (1998) prints 0.2553 to 0.3662.
    i = estimate_wilson_interval(81, 263)
    assert (round(i.low, 4), round(i.high, 4)) == (0.2553, 0.3662)


def test_wilson_interval_without_trials_is_the_whole_range() -> None:
    i = estimate_wilson_interval(0, 0)
    assert (i.low, i.high) == (0.0, 1.0)


@given(st.integers(0, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
@settings(max_examples=60, deadline=None)
def test_wilson_interval_holds_the_rate_and_matches_scipy(counts: tuple[int, int]) -> None:
    successes, trials = counts
    i = estimate_wilson_interval(successes, trials, confidence=0.9)
    if trials:
        assert i.low - 1e-12 <= successes / trials <= i.high + 1e-12
        ref = sst.binomtest(successes, trials).proportion_ci(0.9, method="wilson")
        assert (i.low, i.high) == pytest.approx((ref.low, ref.high), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10.
        ((56, 70), (48, 80), (0.0524, 0.3339)),
        ((9, 10), (3, 10), (0.1705, 0.8090)),
        ((6, 7), (2, 7), (0.0582, 0.8062)),
        ((5, 56), (0, 29), (-0.0381, 0.1926)),
    ],
)
def test_newcombe_interval_matches_the_published_table(
    a: tuple[int, int], b: tuple[int, int], expected: tuple[float, float]
) -> None:
    i = estimate_newcombe_interval(*a, *b)
    assert i is not None
    assert (round(i.low, 4), round(i.high, 4)) == expected


def test_newcombe_interval_is_none_without_trials() -> None:
    assert estimate_newcombe_interval(0, 0, 3, 10) is None


def test_two_proportion_z_test_by_hand() -> None:
    # 45/100 against 30/100: pooled p = 75/200 = 0.375,
    # se = sqrt(0.375 * 0.625 * (1/100 + 1/100)) = sqrt(0.0046875) = 0.0684653,
    # z = 0.15 / 0.0684653 = 2.190890, two-sided p = 2 * (1 - Phi(2.190890)) = 0.028460.
    r = compare_two_proportions(45, 100, 30, 100)
    assert r.difference == pytest.approx(0.15)
    assert r.z == pytest.approx(2.190890, abs=1e-6)
    assert r.p_value == pytest.approx(0.028460, abs=1e-6)


@pytest.mark.parametrize(
    "counts", [(45, 100, 30, 100), (3, 17, 9, 21), (120, 1000, 95, 1010), (1, 5, 0, 7)]
)
def test_z_squared_equals_scipy_chi_square_on_two_groups(
    counts: tuple[int, int, int, int],
) -> None:
    sa, na, sb, nb = counts
    r = compare_two_proportions(sa, na, sb, nb)
    chi2, p, _, _ = sst.chi2_contingency([[sa, na - sa], [sb, nb - sb]], correction=False)
    assert r.z is not None and r.p_value is not None
    assert r.z**2 == pytest.approx(chi2, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-9)


def test_equal_rates_of_zero_show_no_difference() -> None:
    r = compare_two_proportions(0, 10, 0, 20)
    assert (r.difference, r.z, r.p_value) == (0.0, 0.0, 1.0)


def test_a_group_without_trials_cannot_be_tested() -> None:
    r = compare_two_proportions(0, 0, 3, 10)
    assert (r.rate_a, r.rate_b, r.z, r.p_value) == (None, 0.3, None, None)


@pytest.mark.parametrize(
    "groups",
    [
        [(45, 100), (30, 100)],
        [(10, 50), (20, 60), (35, 70)],
        [(5, 40), (9, 41), (12, 39), (2, 44)],
    ],
)
def test_chi_square_equals_scipy(groups: list[tuple[int, int]]) -> None:
    r = run_chi_square(groups)
    table = np.array([[s, n - s] for s, n in groups])
    chi2, p, dof, expected = sst.chi2_contingency(table, correction=False)
    assert r.statistic == pytest.approx(chi2, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-9)
    assert r.dof == dof
    assert r.min_expected == pytest.approx(expected.min())


def test_chi_square_by_hand() -> None:
    # 45/100 and 30/100: expected successes 37.5 each, failures 62.5 each;
    # (7.5^2/37.5) * 2 + (7.5^2/62.5) * 2 = 3.0 + 1.8 = 4.8 on 1 dof; p = 0.028460.
    r = run_chi_square([(45, 100), (30, 100)])
    assert r.statistic == pytest.approx(4.8)
    assert r.p_value == pytest.approx(0.028460, abs=1e-6)
    assert r.reliable


@pytest.mark.parametrize("groups", [[(0, 10), (0, 20)], [(10, 10), (5, 5)], [(3, 10)], []])
def test_chi_square_without_variation_has_no_p_value(groups: list[tuple[int, int]]) -> None:
    r = run_chi_square(groups)
    assert r.statistic is None and r.p_value is None and not r.reliable


def test_chi_square_ignores_groups_without_trials() -> None:
    with_empty = run_chi_square([(45, 100), (0, 0), (30, 100)])
    assert with_empty == run_chi_square([(45, 100), (30, 100)])


def test_chi_square_flags_small_expected_counts_as_unreliable() -> None:
    # expected successes in the first group: 5 * 3 / 15 = 1 < 5
    assert not run_chi_square([(1, 5), (2, 10)]).reliable


@pytest.mark.parametrize(
    "samples",
    [
        ([1.0, 2.0, 3.0, 4.0, 10.0], [2.0, 2.5, 3.0]),
        ([5.5, 6.1, 7.0, 5.0, 6.6, 8.2, 7.7], [3.0, 9.0, 4.5, 6.0, 2.2, 8.8]),
    ],
)
def test_welch_test_equals_scipy_on_raw_values(samples: tuple[list[float], list[float]]) -> None:
    a, b = (np.array(x) for x in samples)
    r = compare_two_means(
        len(a), float(a.mean()), float(a.std(ddof=1)), len(b), float(b.mean()), float(b.std(ddof=1))
    )
    ref = sst.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert r.t == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.dof == pytest.approx(ref.df, rel=1e-9)
    assert r.interval is not None
    assert (r.interval.low, r.interval.high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_welch_test_by_hand() -> None:
    # means 10 and 8, sd 2 and 3, n 10 and 10: se = sqrt(0.4 + 0.9) = 1.140175,
    # t = 2 / 1.140175 = 1.754116, dof = 1.3^2 / (0.16/9 + 0.81/9) = 1.69 / 0.107778 = 15.6804
    r = compare_two_means(10, 10.0, 2.0, 10, 8.0, 3.0)
    assert r.t == pytest.approx(1.754116, abs=1e-6)
    assert r.dof == pytest.approx(15.6804, abs=1e-4)
    ref = sst.ttest_ind_from_stats(10.0, 2.0, 10, 8.0, 3.0, 10, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize(
    "args",
    [(1, 3.0, 0.0, 5, 2.0, 1.0), (5, 3.0, None, 5, 2.0, 1.0), (4, 3.0, 0.0, 4, 3.0, 0.0)],
)
def test_welch_test_without_enough_data_has_no_p_value(
    args: tuple[int, float, float | None, int, float, float],
) -> None:
    assert compare_two_means(*args).p_value is None


def test_holm_adjustment_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 with m = 3: 3*0.01 = 0.03, max(0.03, 2*0.03) = 0.06,
    # max(0.06, 1*0.04) = 0.06; back in input order:
    assert adjust_p_values([0.01, 0.04, 0.03, None], method="holm") == pytest.approx(
        [0.03, 0.06, 0.06, None]
    )


@pytest.mark.parametrize(
    "p_values", [[0.01, 0.04, 0.03, 0.2], [0.001, 0.5, 0.049, 0.051, 0.9, 0.02], [0.3]]
)
def test_benjamini_hochberg_equals_scipy(p_values: list[float]) -> None:
    ours = adjust_p_values(p_values, method="fdr_bh")
    assert ours == pytest.approx(list(sst.false_discovery_control(p_values, method="bh")))


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_adjustments_never_lower_a_p_value_and_keep_the_order(p_values: list[float]) -> None:
    for method in ("holm", "bonferroni", "fdr_bh"):
        adjusted = adjust_p_values(p_values, method=method)  # type: ignore[arg-type]
        assert all(
            a is not None and p <= a + 1e-15 <= 1 + 1e-15
            for p, a in zip(p_values, adjusted, strict=True)
        )
        order = sorted(range(len(p_values)), key=p_values.__getitem__)
        ranked = [adjusted[i] for i in order]
        assert all(x <= y + 1e-15 for x, y in itertools.pairwise(ranked))  # type: ignore[operator]


def test_bonferroni_multiplies_by_the_number_of_tests() -> None:
    assert adjust_p_values([0.01, 0.3, None], method="bonferroni") == pytest.approx(
        [0.02, 0.6, None]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: estimate_wilson_interval(11, 10), "must not exceed trials"),
        (lambda: estimate_wilson_interval(-1, 10), "cannot be negative"),
        (lambda: estimate_wilson_interval(1, 10, confidence=95), "write it as a share"),
        (lambda: adjust_p_values([0.1], method="sidak"), "use holm"),  # type: ignore[arg-type]
        (lambda: adjust_p_values([1.5]), "outside"),
    ],
)
def test_bad_numbers_raise_a_journey_error_saying_how_to_fix(call: object, message: str) -> None:
    with pytest.raises(StatsError, match=message):
        call()  # type: ignore[operator]


def test_interval_confidence_changes_the_width() -> None:
    narrow = estimate_wilson_interval(30, 100, confidence=0.8)
    wide = estimate_wilson_interval(30, 100, confidence=0.99)
    assert wide.low < narrow.low < 0.3 < narrow.high < wide.high
    assert math.isclose(narrow.confidence, 0.8)
