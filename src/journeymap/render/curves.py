"""Smooth curves through points that never overshoot them (monotone cubic).

An emotion curve must stay inside its lane: a Catmull–Rom spline can swing past +2 or
below −2 between two steps, a monotone cubic (Fritsch–Carlson) cannot. Every control
point of a segment lies within the y-range of the segment's two ends.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from journeymap.render.geometry import Cubic, Point

__all__ = ["connect_points", "smooth_curve"]


def smooth_curve(points: Sequence[Point]) -> tuple[Cubic, ...]:
    """Cubic segments through ``points`` (sorted by x), monotone between neighbours.

    >>> [s.points for s in smooth_curve([(0, 0), (30, 30)])]
    [((0, 0), (10.0, 10.0), (20.0, 20.0), (30, 30))]
    """
    n = len(points)
    if n < 2:
        return ()
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    dx = [xs[i + 1] - xs[i] for i in range(n - 1)]
    slope = [(ys[i + 1] - ys[i]) / dx[i] if dx[i] else 0.0 for i in range(n - 1)]
    tangent = [0.0] * n
    tangent[0], tangent[-1] = slope[0], slope[-1]
    for i in range(1, n - 1):
        tangent[i] = 0.0 if slope[i - 1] * slope[i] <= 0 else (slope[i - 1] + slope[i]) / 2
    for i in range(n - 1):
        if slope[i] == 0:
            tangent[i] = tangent[i + 1] = 0.0
            continue
        a, b = tangent[i] / slope[i], tangent[i + 1] / slope[i]
        if a < 0:
            tangent[i], a = 0.0, 0.0
        if b < 0:
            tangent[i + 1], b = 0.0, 0.0
        s = a * a + b * b
        if s > 9:
            t = 3 / math.sqrt(s)
            tangent[i] = t * a * slope[i]
            tangent[i + 1] = t * b * slope[i]
    segments: list[Cubic] = []
    for i in range(n - 1):
        third = dx[i] / 3
        segments.append(
            Cubic(
                points[i],
                (round(xs[i] + third, 2), round(ys[i] + tangent[i] * third, 2)),
                (round(xs[i + 1] - third, 2), round(ys[i + 1] - tangent[i + 1] * third, 2)),
                points[i + 1],
            )
        )
    return tuple(segments)


def connect_points(points: Sequence[Point]) -> tuple[Cubic, ...]:
    """Straight segments through ``points``, as cubics with control points on the line."""
    segments: list[Cubic] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        c1 = (round(x0 + (x1 - x0) / 3, 2), round(y0 + (y1 - y0) / 3, 2))
        c2 = (round(x0 + 2 * (x1 - x0) / 3, 2), round(y0 + 2 * (y1 - y0) / 3, 2))
        segments.append(Cubic((x0, y0), c1, c2, (x1, y1)))
    return tuple(segments)
