"""Load the sentiment scorers: the shipped Korean model file and VADER's English lexicon.

Both loads are cached, so asking again is free::

    >>> from journeymap.sentiment import score_texts
    >>> models = load_sentiment_models()
    >>> [round(s, 1) for s in score_texts(["", "I love it"], models=models)]
    [0.0, 0.6]
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from journeymap.errors import JourneyError
from journeymap.sentiment import FeatureConfig, KoreanModel, Language, SentimentModels
from journeymap.sentiment.english import PolarityAnalyzer

__all__ = [
    "KOREAN_MODEL_FILE",
    "SentimentModelError",
    "load_english_analyzer",
    "load_korean_model",
    "load_sentiment_models",
    "read_korean_model",
]

KOREAN_MODEL_FILE = "ko_nsmc.npz"
"""The Korean model's file name inside the ``journeymap.sentiment`` package."""

_RETRAIN = "retrain it with: python scripts/train_korean_sentiment.py"
_VADER_HINT = "pip install vaderSentiment (or pip install 'journeymap[text]')"


class SentimentModelError(JourneyError, RuntimeError):
    """A sentiment model cannot be loaded: a missing or damaged file, a missing package."""


def read_korean_model(data: bytes, *, source: str) -> KoreanModel:
    """The Korean model stored in ``data``, the bytes of a ``.npz`` file written by
    ``scripts/train_korean_sentiment.py``; ``source`` names it in error messages.

    The file holds ``weights`` (float16, one per hash bucket), ``bias`` and
    ``metadata`` (JSON: n-gram config, training data sha256, seed, held-out metrics,
    licence). It is read without pickle.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            weights = np.asarray(archive["weights"], dtype=np.float32)
            bias = float(archive["bias"])
            metadata: dict[str, Any] = json.loads(str(archive["metadata"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise SentimentModelError(
            f"{source}: not a Korean sentiment model file ({exc}); {_RETRAIN}"
        ) from exc
    try:
        config = FeatureConfig(
            ngram_min=int(metadata["ngram_min"]),
            ngram_max=int(metadata["ngram_max"]),
            hash_bits=int(metadata["hash_bits"]),
        )
        return KoreanModel(weights=weights, bias=bias, config=config, metadata=metadata)
    except (KeyError, TypeError, ValueError) as exc:
        raise SentimentModelError(
            f"{source}: the model's metadata does not fit its weights ({exc}); {_RETRAIN}"
        ) from exc


@functools.cache
def _shipped_korean_model() -> KoreanModel:
    resource = files("journeymap.sentiment").joinpath(KOREAN_MODEL_FILE)
    source = f"journeymap/sentiment/{KOREAN_MODEL_FILE}"
    try:
        data = resource.read_bytes()
    except OSError as exc:
        raise SentimentModelError(
            f"{source} is missing from the installed package; reinstall journeymap or {_RETRAIN}"
        ) from exc
    return read_korean_model(data, source=source)


def load_korean_model(path: Path | None = None) -> KoreanModel:
    """The Korean model: the one shipped in the package (cached), or the file at ``path``."""
    if path is None:
        return _shipped_korean_model()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SentimentModelError(f"{path}: cannot read the model file ({exc})") from exc
    return read_korean_model(data, source=str(path))


@functools.cache
def load_english_analyzer() -> PolarityAnalyzer:
    """VADER's analyzer (cached); its lexicon ships inside the vaderSentiment package.

    Raises :class:`SentimentModelError` with the install command when vaderSentiment
    is not installed.
    """
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise SentimentModelError(f"English sentiment needs vaderSentiment: {_VADER_HINT}") from exc
    try:
        analyzer: PolarityAnalyzer = SentimentIntensityAnalyzer()
    except OSError as exc:
        raise SentimentModelError(
            f"vaderSentiment is installed but its lexicon cannot be read ({exc}); "
            f"reinstall it: {_VADER_HINT}"
        ) from exc
    return analyzer


def load_sentiment_models(*, languages: Iterable[Language] = ("ko", "en")) -> SentimentModels:
    """The scorers for ``languages`` (both by default), ready for ``score_texts``."""
    wanted = set(languages)
    unknown = wanted - {"ko", "en"}
    if unknown:
        raise SentimentModelError(
            f"no sentiment scorer for {sorted(unknown)}; journeymap scores 'ko' and 'en'"
        )
    return SentimentModels(
        korean=load_korean_model() if "ko" in wanted else None,
        english=load_english_analyzer() if "en" in wanted else None,
    )
