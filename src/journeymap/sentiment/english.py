"""English review sentiment: VADER's compound score.

VADER (Hutto and Gilbert, 2014) is a rule-based scorer with a lexicon of about 7,500
words, emoticons and emoji, made for short social-media text; it handles negation
("not good"), intensifiers ("very good"), "but" and capitals. Its compound score is
already in [-1, 1]. The analyzer (which reads its lexicon from the vaderSentiment
package) is built by ``journeymap.io.sentiment_model.load_english_analyzer``; this
module only asks it for scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["PolarityAnalyzer", "score_english"]


class PolarityAnalyzer(Protocol):
    """What the English scorer needs: VADER's ``SentimentIntensityAnalyzer`` shape."""

    def polarity_scores(self, text: str) -> Mapping[str, float]:
        """Scores with at least a ``"compound"`` entry in [-1, 1]."""
        ...


def score_english(texts: Sequence[str], analyzer: PolarityAnalyzer) -> npt.NDArray[np.float64]:
    """The compound sentiment of each text in [-1, 1] (negative to positive).

    A text that is empty or only white space scores exactly 0.0. VADER's own reading
    of its compound score: >= 0.05 positive, <= -0.05 negative, between is neutral.
    """
    return np.array(
        [float(analyzer.polarity_scores(t)["compound"]) if t.strip() else 0.0 for t in texts],
        dtype=np.float64,
    )
