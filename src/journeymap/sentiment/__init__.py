"""Review-text sentiment in Korean and English (pure core: scores from loaded models).

Load the models once with :func:`journeymap.io.sentiment_model.load_sentiment_models`
(that is the I/O), then score with :func:`score_texts`::

    from journeymap.io.sentiment_model import load_sentiment_models
    from journeymap.sentiment import score_texts, to_emotion

    models = load_sentiment_models()
    scores = score_texts(["정말 최고의 영화", "The staff were rude."], models=models)
    # about [0.9, -0.5]; to_emotion(s) puts each on the map's -2..+2 scale

Korean: a linear model on hashed character n-grams, trained by the project from the
NSMC Naver movie reviews (CC0) and shipped in the package. English: VADER. See
docs/sentiment.md for how they work, their measured quality and their limits.
"""

from __future__ import annotations

from journeymap.sentiment.english import PolarityAnalyzer, score_english
from journeymap.sentiment.korean import (
    FeatureConfig,
    KoreanModel,
    featurize_texts,
    normalize_text,
    score_korean,
)
from journeymap.sentiment.lang import KOREAN_SHARE, Language, detect_language, hangul_share
from journeymap.sentiment.scale import to_emotion, to_five_point
from journeymap.sentiment.scoring import (
    SentimentError,
    SentimentModels,
    resolve_language,
    score_texts,
)

__all__ = [
    "KOREAN_SHARE",
    "FeatureConfig",
    "KoreanModel",
    "Language",
    "PolarityAnalyzer",
    "SentimentError",
    "SentimentModels",
    "detect_language",
    "featurize_texts",
    "hangul_share",
    "normalize_text",
    "resolve_language",
    "score_english",
    "score_korean",
    "score_texts",
    "to_emotion",
    "to_five_point",
]
