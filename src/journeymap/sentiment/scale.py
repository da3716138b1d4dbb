"""From a sentiment score in [-1, 1] to the scales a journey map uses.

The emotion of a step is declared on -2..+2 (``emotion: 1``); survey answers often sit
on 1..5. Both cut [-1, 1] into five equal bands of width 0.4, symmetric around 0:

======================  =========  =========
score                   emotion    1..5
======================  =========  =========
-1.0 to below -0.6      -2         1
-0.6 to below -0.2      -1         2
-0.2 to 0.2             0          3
above 0.2 to 0.6        +1         4
above 0.6 to 1.0        +2         5
======================  =========  =========

>>> to_emotion(0.7), to_emotion(-0.3), to_emotion(0.2), to_five_point(-0.9)
(2, -1, 0, 1)
"""

from __future__ import annotations

import math

__all__ = ["to_emotion", "to_five_point"]


def to_emotion(score: float) -> int:
    """The -2..+2 emotion band of a score in [-1, 1] (see the module's table).

    Raises ``ValueError`` for a score outside [-1, 1] or NaN.
    """
    if math.isnan(score) or not -1.0 <= score <= 1.0:
        raise ValueError(f"a sentiment score lies in [-1, 1], got {score}")
    size = abs(score)
    band = 0 if size <= 0.2 else 1 if size <= 0.6 else 2
    return band if score > 0 else -band


def to_five_point(score: float) -> int:
    """The 1..5 band of a score in [-1, 1]: ``to_emotion(score) + 3``."""
    return to_emotion(score) + 3
