"""Score review texts in Korean and English with one call, routing each text by language."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from journeymap.errors import JourneyError
from journeymap.sentiment.english import PolarityAnalyzer, score_english
from journeymap.sentiment.korean import KoreanModel, score_korean
from journeymap.sentiment.lang import Language, detect_language

__all__ = ["SentimentError", "SentimentModels", "resolve_language", "score_texts"]

Unsupported = Literal["raise", "nan"]


class SentimentError(JourneyError, ValueError):
    """Texts cannot be scored: a language journeymap has no scorer for, or no model."""


@dataclass(frozen=True, slots=True)
class SentimentModels:
    """The loaded scorers; ``journeymap.io.sentiment_model.load_sentiment_models`` builds it.

    Either may be ``None`` when only one language is needed; scoring a text in the
    missing language raises :class:`SentimentError`.
    """

    korean: KoreanModel | None = None
    english: PolarityAnalyzer | None = None


def resolve_language(code: str | None, text: str) -> Language | None:
    """The scorer for a text given its declared language code (``None``: detect it).

    Codes are read by their first part, case aside: ``"ko"``, ``"ko-KR"``, ``"KOR"``
    and ``"korean"`` are Korean; ``"en"``, ``"en_US"``, ``"eng"`` and ``"english"`` are
    English. An empty code, or NaN, counts as missing. Any other code gives ``None``.
    """
    # Not a string: None, or a missing value from a data frame's column (NaN).
    if not isinstance(code, str) or not code.strip():
        return detect_language(text)
    head = code.strip().lower().replace("_", "-").split("-")[0]
    if head in {"ko", "kor", "korean"}:
        return "ko"
    if head in {"en", "eng", "english"}:
        return "en"
    return None


def score_texts(
    texts: Sequence[str | None],
    *,
    models: SentimentModels,
    lang: str | Sequence[str | None] | None = None,
    unsupported: Unsupported = "raise",
) -> list[float]:
    """The sentiment of each text in [-1, 1], negative to positive, in input order.

    ``lang`` is ``None`` (detect each text by its share of Hangul letters), one code for
    all texts (``"ko"``), or one code per text, as in a feedback table's ``lang``
    column (a missing code there means detect). A missing text (``None``, or a data
    frame's NaN) or an empty one scores 0.0.
    A text in a language without a scorer (``"pt"``) raises :class:`SentimentError`
    naming its row, or scores NaN with ``unsupported="nan"`` so the caller can count
    those rows.

    Korean texts go to the NSMC-trained model (``score = 2p - 1`` of its predicted
    place on the 1-10 rating scale), English texts to VADER's compound score; the two
    are on the same [-1, 1] scale but are not calibrated against each other.
    """
    codes = _codes_per_text(texts, lang)
    scores = [0.0] * len(texts)
    rows: dict[Language, list[int]] = {"ko": [], "en": []}
    for row, (text, code) in enumerate(zip(texts, codes, strict=True)):
        # Not a string: None, or a missing value from a data frame (NaN, pandas.NA).
        if not isinstance(text, str) or not text.strip():
            continue
        language = resolve_language(code, text)
        if language is None:
            if unsupported == "nan":
                scores[row] = math.nan
                continue
            raise SentimentError(
                f"row {row}: no sentiment scorer for language {code!r}; journeymap scores "
                "Korean ('ko') and English ('en'); leave the language empty to detect it, "
                "or pass unsupported='nan' to mark such rows NaN"
            )
        rows[language].append(row)
    if rows["ko"]:
        if models.korean is None:
            raise SentimentError(_missing("Korean", rows["ko"][0], "ko"))
        found = score_korean([str(texts[r]) for r in rows["ko"]], models.korean)
        for row, value in zip(rows["ko"], found.tolist(), strict=True):
            scores[row] = value
    if rows["en"]:
        if models.english is None:
            raise SentimentError(_missing("English", rows["en"][0], "en"))
        found = score_english([str(texts[r]) for r in rows["en"]], models.english)
        for row, value in zip(rows["en"], found.tolist(), strict=True):
            scores[row] = value
    return scores


def _codes_per_text(
    texts: Sequence[str | None], lang: str | Sequence[str | None] | None
) -> Sequence[str | None]:
    if lang is None or isinstance(lang, str):
        return [lang] * len(texts)
    if len(lang) != len(texts):
        raise SentimentError(
            f"got {len(texts)} texts but {len(lang)} language codes; pass one code per "
            "text, one code for all, or none to detect the language"
        )
    return lang


def _missing(name: str, row: int, code: str) -> str:
    return (
        f"row {row} is {name} ('{code}') but no {name} scorer was loaded; load it with "
        f"journeymap.io.sentiment_model.load_sentiment_models(languages=[..., '{code}'])"
    )
