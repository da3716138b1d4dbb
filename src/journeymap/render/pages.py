"""Splitting a wide picture into printed pages."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PAGE_ASPECT", "page_budget", "paginate_columns"]

PAGE_ASPECT = 400 / 277
"""Width over height of the printable area of an A3 landscape page (10 mm margins)."""
MAX_PAGE_WIDTH = 2000.0
"""The widest page in layout px: wider would print body text below 7 pt on A3."""
FULL_PAGE_WIDTH = 1600.0
"""A page at least this wide (in layout px) prints 12 px text at about 8.5 pt on A3."""


def page_budget(*, body_height: float, gutter: float, min_width: float) -> float:
    """How wide a page's slice of the body may be, gutter excluded.

    A tall body fills the sheet's height, and its slice is as wide as the sheet's shape
    then allows; a short body (a flow of one row) still gets :data:`FULL_PAGE_WIDTH`, so
    it is not cut into many thin pages. Never wider than :data:`MAX_PAGE_WIDTH` in all,
    never narrower than ``min_width``.

    >>> page_budget(body_height=1200, gutter=184, min_width=600)  # 1200 × 400/277 − 184
    1548.85
    >>> page_budget(body_height=200, gutter=0, min_width=600)
    1600.0
    """
    fitting = max(body_height * PAGE_ASPECT, FULL_PAGE_WIDTH) - gutter
    return round(max(min_width, min(fitting, MAX_PAGE_WIDTH - gutter)), 2)


def paginate_columns(
    spans: Sequence[tuple[float, float]],
    groups: Sequence[int],
    *,
    budget: float,
    fill: float = 0.6,
) -> list[tuple[float, float]]:
    """Split column spans into page slices no wider than ``budget`` where possible.

    ``spans`` are the (x0, x1) of each column in order; ``groups`` gives each column's
    group (its stage). A page takes as many columns as fit, then steps back to the last
    group boundary on it, so stages stay whole, unless that would leave the page less
    than ``fill`` full: then the stage is split between pages. A single column wider
    than ``budget`` gets a page of its own.

    >>> paginate_columns([(0, 100), (100, 200), (200, 300)], [0, 0, 1], budget=250)
    [(0, 200), (200, 300)]
    """
    slices: list[tuple[float, float]] = []
    start = 0
    while start < len(spans):
        end = start
        while end + 1 < len(spans) and spans[end + 1][1] - spans[start][0] <= budget:
            end += 1
        if end + 1 < len(spans) and groups[end] == groups[end + 1]:
            boundaries = [k for k in range(start, end) if groups[k] != groups[k + 1]]
            if boundaries and spans[boundaries[-1]][1] - spans[start][0] >= fill * budget:
                end = boundaries[-1]
        slices.append((spans[start][0], spans[end][1]))
        start = end + 1
    return slices
