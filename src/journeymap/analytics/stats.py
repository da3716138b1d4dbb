"""Significance tests and confidence intervals on small aggregated numbers.

The analytics compute counts, means and variances in the engine; deciding whether two
segments really differ only needs those few numbers, so it happens here, in plain
Python with scipy's distributions. Every function takes numbers and returns a frozen
dataclass; nothing here reads a table.

- :func:`estimate_wilson_interval`: the Wilson score interval of one proportion (good
  coverage even for small counts and rates near 0 or 1, unlike the Wald interval).
- :func:`estimate_newcombe_interval`: Newcombe's hybrid score interval (his method 10)
  for the difference of two independent proportions, built from two Wilson intervals.
- :func:`compare_two_proportions`: the pooled two-proportion z-test.
- :func:`run_chi_square`: Pearson's chi-square test of homogeneity over k groups
  (successes against failures), no continuity correction; for two groups its
  statistic is the square of the z-test's.
- :func:`compare_two_means`: Welch's t-test and interval from counts, means and
  standard deviations.
- :func:`adjust_p_values`: Holm (controls the family-wise error rate), Bonferroni
  (FWER, more conservative) or Benjamini-Hochberg (controls the false discovery rate).
- :func:`estimate_mean_interval`: a mean with Student's t interval (CES, ratings,
  text sentiment).
- :func:`estimate_nps_interval`: the Net Promoter Score with the interval from the
  trinomial variance of promoters, passives and detractors.
- :func:`run_contingency_test`: Pearson's chi-square test of independence on an r x c
  table, with adjusted standardised residuals per cell and a Bonferroni critical value.

>>> round(estimate_wilson_interval(81, 263).low, 4)
0.2553
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import stats as _dist

from journeymap.errors import JourneyError

__all__ = [
    "Adjustment",
    "ChiSquare",
    "Contingency",
    "Interval",
    "MeanDifference",
    "PointEstimate",
    "ProportionDifference",
    "StatsError",
    "adjust_p_values",
    "compare_two_means",
    "compare_two_proportions",
    "estimate_mean_interval",
    "estimate_newcombe_interval",
    "estimate_nps_interval",
    "estimate_wilson_interval",
    "run_chi_square",
    "run_contingency_test",
]

Adjustment = Literal["holm", "bonferroni", "fdr_bh", "none"]
"""How p-values of several comparisons are adjusted (see :func:`adjust_p_values`)."""


class StatsError(JourneyError, ValueError):
    """Numbers a test cannot take (negative counts, more successes than trials, ...)."""


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class ProportionDifference:
    """The two-proportion z-test of ``rate_a - rate_b``, with Newcombe's interval.

    ``z`` and ``p_value`` are None when the test cannot be made (a group without
    trials); ``z`` is 0 and ``p_value`` 1 when both groups have the same rate of 0 or 1
    (no variance, no evidence of a difference).
    """

    rate_a: float | None
    rate_b: float | None
    difference: float | None
    z: float | None
    p_value: float | None
    interval: Interval | None


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of homogeneity of k proportions.

    ``min_expected`` is the smallest expected cell count: below 5 the chi-square
    approximation is doubtful and ``reliable`` is False. ``statistic`` and ``p_value``
    are None when the test cannot be made (fewer than two groups with trials, or no
    successes or no failures at all).
    """

    statistic: float | None
    dof: int
    p_value: float | None
    min_expected: float | None

    @property
    def reliable(self) -> bool:
        """Whether every expected count is at least 5 (the usual rule of thumb)."""
        return self.min_expected is not None and self.min_expected >= 5


@dataclass(frozen=True)
class MeanDifference:
    """Welch's t-test of ``mean_a - mean_b`` with its confidence interval.

    Fields other than the means are None when a group has fewer than two values or
    both groups have no spread at all.
    """

    mean_a: float | None
    mean_b: float | None
    difference: float | None
    t: float | None
    dof: float | None
    p_value: float | None
    interval: Interval | None


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise StatsError(
            f"confidence {confidence!r} is outside (0, 1); write it as a share, e.g. 0.95"
        )


def _z_for(confidence: float) -> float:
    _check_confidence(confidence)
    return float(_dist.norm.ppf(0.5 + confidence / 2))


def _check_counts(successes: int, trials: int, what: str) -> None:
    if trials < 0 or successes < 0:
        raise StatsError(f"{what}: counts cannot be negative ({successes} of {trials})")
    if successes > trials:
        raise StatsError(
            f"{what}: {successes} successes out of {trials} trials; successes must not "
            "exceed trials (did the columns get swapped?)"
        )


def estimate_wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> Interval:
    """The Wilson score interval of ``successes / trials``.

    With no trials the interval is the whole range [0, 1] (nothing is known).

    >>> i = estimate_wilson_interval(0, 10)
    >>> round(i.low, 4), round(i.high, 4)
    (0.0, 0.2775)
    """
    _check_counts(successes, trials, "wilson interval")
    z = _z_for(confidence)
    if trials == 0:
        return Interval(0.0, 1.0, confidence)
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return Interval(max(0.0, centre - half), min(1.0, centre + half), confidence)


def estimate_newcombe_interval(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    confidence: float = 0.95,
) -> Interval | None:
    """Newcombe's hybrid score interval for ``rate_a - rate_b`` (None without trials).

    ``low = d - sqrt((p_a - l_a)^2 + (u_b - p_b)^2)`` and
    ``high = d + sqrt((u_a - p_a)^2 + (p_b - l_b)^2)``, where ``(l, u)`` are the Wilson
    intervals of each rate (Newcombe 1998, method 10).
    """
    if trials_a == 0 or trials_b == 0:
        _check_counts(successes_a, trials_a, "group a")
        _check_counts(successes_b, trials_b, "group b")
        return None
    a = estimate_wilson_interval(successes_a, trials_a, confidence=confidence)
    b = estimate_wilson_interval(successes_b, trials_b, confidence=confidence)
    pa, pb = successes_a / trials_a, successes_b / trials_b
    d = pa - pb
    low = d - math.sqrt((pa - a.low) ** 2 + (b.high - pb) ** 2)
    high = d + math.sqrt((a.high - pa) ** 2 + (pb - b.low) ** 2)
    return Interval(low, high, confidence)


def compare_two_proportions(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    confidence: float = 0.95,
) -> ProportionDifference:
    """The pooled two-proportion z-test (two-sided) and Newcombe's interval.

    ``z = (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b))`` with the pooled rate ``p``.

    >>> r = compare_two_proportions(45, 100, 30, 100)
    >>> round(r.z, 4), round(r.p_value, 4)
    (2.1909, 0.0285)
    """
    _check_counts(successes_a, trials_a, "group a")
    _check_counts(successes_b, trials_b, "group b")
    rate_a = successes_a / trials_a if trials_a else None
    rate_b = successes_b / trials_b if trials_b else None
    if rate_a is None or rate_b is None:
        return ProportionDifference(rate_a, rate_b, None, None, None, None)
    interval = estimate_newcombe_interval(
        successes_a, trials_a, successes_b, trials_b, confidence=confidence
    )
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    diff = rate_a - rate_b
    if se == 0:
        return ProportionDifference(rate_a, rate_b, diff, 0.0, 1.0, interval)
    z = diff / se
    p_value = float(2 * _dist.norm.sf(abs(z)))
    return ProportionDifference(rate_a, rate_b, diff, z, p_value, interval)


def run_chi_square(groups: Sequence[tuple[int, int]]) -> ChiSquare:
    """Pearson's chi-square test that k groups share one rate; ``groups`` = (successes, trials).

    Groups without trials take no part (and do not count towards the degrees of freedom).

    >>> r = run_chi_square([(45, 100), (30, 100)])
    >>> round(r.statistic, 4), r.dof
    (4.8, 1)
    """
    for i, (s, n) in enumerate(groups):
        _check_counts(s, n, f"group {i + 1}")
    used = [(s, n) for s, n in groups if n > 0]
    dof = max(len(used) - 1, 0)
    total = sum(n for _, n in used)
    wins = sum(s for s, _ in used)
    losses = total - wins
    if len(used) < 2 or wins == 0 or losses == 0:
        return ChiSquare(None, dof, None, None)
    statistic = 0.0
    min_expected = math.inf
    for s, n in used:
        for observed, column in ((s, wins), (n - s, losses)):
            expected = n * column / total
            min_expected = min(min_expected, expected)
            statistic += (observed - expected) ** 2 / expected
    p_value = float(_dist.chi2.sf(statistic, dof))
    return ChiSquare(statistic, dof, p_value, min_expected)


def compare_two_means(
    count_a: int,
    mean_a: float | None,
    std_a: float | None,
    count_b: int,
    mean_b: float | None,
    std_b: float | None,
    *,
    confidence: float = 0.95,
) -> MeanDifference:
    """Welch's two-sided t-test of ``mean_a - mean_b`` from summary numbers.

    ``std_*`` are sample standard deviations (ddof = 1). Welch does not assume equal
    variances; its degrees of freedom come from the Welch-Satterthwaite equation.
    """
    _check_confidence(confidence)
    if count_a < 2 or count_b < 2 or None in (mean_a, mean_b, std_a, std_b):
        return MeanDifference(mean_a, mean_b, None, None, None, None, None)
    assert mean_a is not None and mean_b is not None
    assert std_a is not None and std_b is not None
    va, vb = std_a * std_a / count_a, std_b * std_b / count_b
    diff = mean_a - mean_b
    se = math.sqrt(va + vb)
    if se == 0:
        return MeanDifference(mean_a, mean_b, diff, None, None, None, None)
    dof = (va + vb) ** 2 / (va * va / (count_a - 1) + vb * vb / (count_b - 1))
    t = diff / se
    p_value = float(2 * _dist.t.sf(abs(t), dof))
    q = float(_dist.t.ppf(0.5 + confidence / 2, dof))
    interval = Interval(diff - q * se, diff + q * se, confidence)
    return MeanDifference(mean_a, mean_b, diff, t, dof, p_value, interval)


def adjust_p_values(
    p_values: Sequence[float | None], *, method: Adjustment = "holm"
) -> list[float | None]:
    """P-values adjusted for making several comparisons at once; None stays None.

    ``holm``: Holm's step-down method, which keeps the chance of *any* false flag
    (family-wise error rate) at alpha under any dependence between the tests.
    ``bonferroni``: multiply by the number of tests (FWER, more conservative).
    ``fdr_bh``: Benjamini-Hochberg, which keeps the expected share of false flags
    among the flagged (false discovery rate) at alpha. ``none``: unchanged.

    >>> adjust_p_values([0.01, 0.04, 0.03], method="holm")
    [0.03, 0.06, 0.06]
    """
    if method not in ("holm", "bonferroni", "fdr_bh", "none"):
        raise StatsError(
            f"unknown p-value adjustment {method!r}; use holm, bonferroni, fdr_bh or none"
        )
    for p in p_values:
        if p is not None and not 0 <= p <= 1:
            raise StatsError(f"p-value {p!r} is outside [0, 1]")
    present = [(i, p) for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    m = len(present)
    if method == "none":
        for i, p in present:
            out[i] = p
        return out
    if method == "bonferroni":
        for i, p in present:
            out[i] = min(1.0, p * m)
        return out
    ordered = sorted(present, key=lambda ip: ip[1])
    if method == "holm":
        running = 0.0
        for rank, (i, p) in enumerate(ordered):
            running = max(running, min(1.0, (m - rank) * p))
            out[i] = running
        return out
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i, p = ordered[rank]
        running = min(running, p * m / (rank + 1))
        out[i] = min(1.0, running)
    return out


@dataclass(frozen=True)
class PointEstimate:
    """A value measured on ``n`` answers, with its interval (None when it cannot be made)."""

    value: float | None
    interval: Interval | None
    n: int


def estimate_mean_interval(
    count: int, mean: float | None, std: float | None, *, confidence: float = 0.95
) -> PointEstimate:
    """A mean with Student's t interval, from its count, mean and sample std (ddof = 1).

    ``mean ± t(1 - a/2, n - 1) · std / sqrt(n)``. With fewer than two values there is
    no interval; with no spread at all the interval is the mean itself.

    >>> e = estimate_mean_interval(4, 3.5, 1.2909944487358056)
    >>> round(e.interval.low, 4), round(e.interval.high, 4)
    (1.4457, 5.5543)
    """
    _check_confidence(confidence)
    if count < 0:
        raise StatsError(f"mean interval: a count cannot be negative ({count})")
    if count == 0 or mean is None:
        return PointEstimate(None, None, count)
    if count < 2 or std is None or math.isnan(std):
        return PointEstimate(mean, None, count)
    q = float(_dist.t.ppf(0.5 + confidence / 2, count - 1))
    half = q * std / math.sqrt(count)
    return PointEstimate(mean, Interval(mean - half, mean + half, confidence), count)


def estimate_nps_interval(
    promoters: int, detractors: int, responses: int, *, confidence: float = 0.95
) -> PointEstimate:
    """The Net Promoter Score on -100..100 with its normal-approximation interval.

    ``NPS = 100 (P - D)`` with ``P``, ``D`` the shares of promoters (9-10) and
    detractors (0-6). Each answer scores +1, 0 or -1 (a trinomial), so the variance of
    one answer is ``P + D - (P - D)^2`` and the interval is
    ``NPS ± z · 100 · sqrt((P + D - (P - D)^2) / n)``, cut to [-100, 100].

    >>> e = estimate_nps_interval(50, 20, 100)
    >>> e.value, round(e.interval.low, 2), round(e.interval.high, 2)
    (30.0, 14.69, 45.31)
    """
    _check_counts(promoters, responses, "nps promoters")
    _check_counts(detractors, responses, "nps detractors")
    if promoters + detractors > responses:
        raise StatsError(
            f"nps: {promoters} promoters and {detractors} detractors are more than "
            f"{responses} answers; each answer is one of promoter, passive or detractor"
        )
    z = _z_for(confidence)
    if responses == 0:
        return PointEstimate(None, None, 0)
    p, d = promoters / responses, detractors / responses
    value = 100 * (p - d)
    variance = max(p + d - (p - d) ** 2, 0.0)
    half = z * 100 * math.sqrt(variance / responses)
    interval = Interval(max(-100.0, value - half), min(100.0, value + half), confidence)
    return PointEstimate(value, interval, responses)


@dataclass(frozen=True)
class Contingency:
    """Pearson's chi-square test of independence on an r x c table of counts.

    ``expected`` and ``residuals`` have the table's shape; a residual is the adjusted
    standardised residual ``(O - E) / sqrt(E (1 - row/N) (1 - col/N))``, about
    standard normal under independence. Rows and columns with a zero total take no
    part: their residuals are None and they do not count towards ``dof``.
    ``statistic`` and ``p_value`` are None when fewer than two rows or two columns
    have counts.
    """

    statistic: float | None
    dof: int
    p_value: float | None
    expected: tuple[tuple[float, ...], ...]
    residuals: tuple[tuple[float | None, ...], ...]
    min_expected: float | None

    def critical_residual(self, *, alpha: float = 0.05) -> float:
        """The |residual| above which a cell differs, Bonferroni-corrected for all cells.

        Two-sided: ``z(1 - alpha / (2 m))`` where ``m`` is the number of cells tested.
        """
        if not 0 < alpha < 1:
            raise StatsError(f"alpha {alpha!r} is outside (0, 1); the usual choice is 0.05")
        cells = sum(1 for row in self.residuals for r in row if r is not None)
        return float(_dist.norm.isf(alpha / (2 * max(cells, 1))))


def run_contingency_test(table: Sequence[Sequence[int]]) -> Contingency:
    """Pearson's chi-square test that rows and columns of ``table`` are independent.

    No continuity correction (scipy's ``chi2_contingency(..., correction=False)``; for
    tables bigger than 2 x 2 scipy never corrects).

    >>> r = run_contingency_test([[30, 10], [20, 40]])
    >>> round(r.statistic, 4), r.dof, round(r.residuals[0][0], 4)
    (16.6667, 1, 4.0825)
    """
    rows = [list(r) for r in table]
    width = len(rows[0]) if rows else 0
    for i, row in enumerate(rows):
        if len(row) != width:
            raise StatsError(
                f"contingency table row {i + 1} has {len(row)} cells, row 1 has {width}; "
                "every row needs one count per column"
            )
        for j, value in enumerate(row):
            if value < 0:
                raise StatsError(f"contingency table cell ({i + 1}, {j + 1}) is negative")
    row_tot = [sum(r) for r in rows]
    col_tot = [sum(r[j] for r in rows) for j in range(width)]
    total = sum(row_tot)
    used_rows = [i for i, t in enumerate(row_tot) if t > 0]
    used_cols = [j for j, t in enumerate(col_tot) if t > 0]
    expected = tuple(
        tuple(row_tot[i] * col_tot[j] / total if total else 0.0 for j in range(width))
        for i in range(len(rows))
    )
    dof = max(len(used_rows) - 1, 0) * max(len(used_cols) - 1, 0)
    residuals: list[tuple[float | None, ...]] = []
    for i in range(len(rows)):
        line: list[float | None] = []
        for j in range(width):
            e = expected[i][j]
            scale = e * (1 - row_tot[i] / total) * (1 - col_tot[j] / total) if total else 0.0
            line.append((rows[i][j] - e) / math.sqrt(scale) if scale > 0 else None)
        residuals.append(tuple(line))
    if len(used_rows) < 2 or len(used_cols) < 2:
        return Contingency(None, dof, None, expected, tuple(residuals), None)
    statistic = sum(
        (rows[i][j] - expected[i][j]) ** 2 / expected[i][j] for i in used_rows for j in used_cols
    )
    min_expected = min(expected[i][j] for i in used_rows for j in used_cols)
    p_value = float(_dist.chi2.sf(statistic, dof))
    return Contingency(statistic, dof, p_value, expected, tuple(residuals), min_expected)
