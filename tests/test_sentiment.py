"""Review-text sentiment: the Korean NSMC model, VADER for English, language routing.

The Korean model's quality is checked on the real corpus (movies held out from
training), the featuriser against a pure-Python reference, and the scores on
hand-picked sentences whose sign a Korean or English reader knows.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from journeymap.errors import JourneyError
from journeymap.io.sentiment_model import (
    KOREAN_MODEL_FILE,
    SentimentModelError,
    load_english_analyzer,
    load_korean_model,
    load_sentiment_models,
    read_korean_model,
)
from journeymap.sentiment import (
    FeatureConfig,
    KoreanModel,
    SentimentError,
    SentimentModels,
    detect_language,
    featurize_texts,
    hangul_share,
    normalize_text,
    resolve_language,
    score_english,
    score_korean,
    score_texts,
    to_emotion,
    to_five_point,
)

ROOT = Path(__file__).parents[1]
NSMC = ROOT.parent / "shared" / "data" / "nsmc" / "nsmc_raw_reviews_dev.tsv.gz"
MODEL_FILE = ROOT / "src" / "journeymap" / "sentiment" / KOREAN_MODEL_FILE
needs_nsmc = pytest.mark.skipif(
    not NSMC.exists(), reason=f"the NSMC corpus is not at {NSMC} (see shared/data/README.md)"
)

# Floors a little under what the shipped model measured on the fixed sample of 20,000
# held-out reviews below: rho 0.676 and accuracy 0.846 (on all 62,271 held-out reviews:
# 0.675 and 0.845, the numbers the model file claims; see docs/sentiment.md).
RHO_FLOOR = 0.66
ACCURACY_FLOOR = 0.83


# --- a pure-Python reference of the featuriser --------------------------------------

_M64 = (1 << 64) - 1


def reference_normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.replace("\x00", " ")).lower()
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"(.)\1{3,}", r"\1\1\1", text, flags=re.DOTALL)


def reference_bucket(gram: str, bits: int) -> int:
    h = 0xCBF29CE484222325 ^ len(gram)
    for char in gram:
        h = ((h ^ ord(char)) * 0x100000001B3) & _M64
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h ^= h >> 33
        h = (h * multiplier) & _M64
    h ^= h >> 33
    return h & ((1 << bits) - 1)


def reference_features(text: str, config: FeatureConfig) -> dict[int, float]:
    normal = reference_normalize(text)
    if not normal:
        return {}
    padded = f" {normal} "
    counts = Counter(
        reference_bucket(padded[i : i + n], config.hash_bits)
        for n in range(config.ngram_min, config.ngram_max + 1)
        for i in range(len(padded) - n + 1)
    )
    total = sum(counts.values())
    return {bucket: count / math.sqrt(total) for bucket, count in counts.items()}


def row_as_dict(matrix: object, row: int) -> dict[int, float]:
    csr = matrix.tocsr()  # type: ignore[attr-defined]
    start, end = csr.indptr[row], csr.indptr[row + 1]
    return dict(zip(csr.indices[start:end].tolist(), csr.data[start:end].tolist(), strict=True))


review_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # Hangul syllables
        st.characters(min_codepoint=0x3131, max_codepoint=0x318E),  # compatibility jamo
        st.sampled_from(list("abcXYZ .,!?~^ㅋㅠ\t\n\u3000\x00\ud800")),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(review_text)
def test_normalize_text_equals_the_regex_reference(text: str) -> None:
    assert normalize_text(text) == reference_normalize(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(review_text, min_size=1, max_size=4))
def test_featurize_texts_equals_the_pure_python_reference(texts: list[str]) -> None:
    config = FeatureConfig(ngram_min=1, ngram_max=3, hash_bits=12)
    features = featurize_texts(texts, config=config)
    assert features.shape == (len(texts), 4096)
    for row, text in enumerate(texts):
        expected = reference_features(text, config)
        got = row_as_dict(features, row)
        assert got.keys() == expected.keys()
        assert all(math.isclose(got[k], expected[k], rel_tol=1e-6) for k in expected)


@pytest.mark.parametrize(
    "space", [chr(c) for c in range(0x110000) if chr(c).isspace()], ids=lambda c: f"U+{ord(c):04X}"
)
def test_normalize_text_treats_every_kind_of_white_space_as_one_space(space: str) -> None:
    assert normalize_text(f"{space}좋아{space}{space}요{space}") == "좋아 요"


def test_featurize_texts_counts_a_repeated_ngram_by_hand() -> None:
    # "가가" is padded to " 가가 ": unigrams " ", "가", "가", " " (2 + 2), bigrams " 가",
    # "가가", "가 ", trigrams " 가가", "가가 ": 9 n-grams, so each count is divided by 3.
    config = FeatureConfig(ngram_min=1, ngram_max=3, hash_bits=20)
    row = row_as_dict(featurize_texts(["가가"], config=config), 0)
    assert sorted(round(v * 3, 6) for v in row.values()) == [1, 1, 1, 1, 1, 2, 2]
    assert math.isclose(row[reference_bucket("가", 20)], 2 / 3, rel_tol=1e-6)


# --- the shipped Korean model --------------------------------------------------------


@pytest.fixture(scope="module")
def korean() -> KoreanModel:
    return load_korean_model()


@pytest.fixture(scope="module")
def models() -> SentimentModels:
    return load_sentiment_models()


def test_shipped_model_is_small_and_records_where_it_came_from(korean: KoreanModel) -> None:
    assert MODEL_FILE.stat().st_size <= 5_000_000
    meta = korean.metadata
    assert "CC0" in str(meta["licence"])
    assert meta["data_file"] == NSMC.name
    assert meta["ngram_min"] == korean.config.ngram_min == 1
    assert meta["ngram_max"] == korean.config.ngram_max
    assert korean.weights.dtype == np.float32
    assert np.isfinite(korean.weights).all()


def test_load_korean_model_is_cached(korean: KoreanModel) -> None:
    assert load_korean_model() is korean


def test_score_korean_equals_the_sparse_product(korean: KoreanModel) -> None:
    texts = ["정말 최고의 영화", "시간 아까운 쓰레기", "", "그냥 그래요 ㅋㅋㅋㅋ", "OK"]
    features = featurize_texts(texts, config=korean.config)
    expected = np.tanh((features @ korean.weights.astype(np.float64) + korean.bias) / 2.0)
    expected[2] = 0.0  # the empty text: no n-grams, defined as 0.0
    assert np.allclose(score_korean(texts, korean), expected, atol=1e-6)


def test_score_korean_is_deterministic_and_independent_of_batch(korean: KoreanModel) -> None:
    texts = ["정말 최고의 영화", "별로 재미없다", "배송이 너무 늦어요"]
    together = score_korean(texts, korean)
    alone = np.array([score_korean([t], korean)[0] for t in texts])
    assert np.array_equal(together, score_korean(texts, korean))
    assert np.allclose(together, alone, atol=1e-12)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("정말 최고의 영화", 0.5, 1.0),
        ("인생 영화입니다. 꼭 보세요", 0.3, 1.0),
        ("재미있어요", 0.3, 1.0),
        ("기대 안 했는데 재밌었어요", 0.1, 1.0),
        ("시간 아까운 쓰레기", -1.0, -0.5),
        ("돈 아깝다 최악", -1.0, -0.5),
        ("별로 재미없다", -1.0, -0.3),
        ("재미없어요", -1.0, -0.3),
        pytest.param(
            "재미없지는 않았다",
            0.0,
            1.0,
            marks=pytest.mark.xfail(
                strict=True, reason="double negation: n-grams see 재미없, scores about -0.27"
            ),
        ),
    ],
)
def test_korean_scores_have_the_sign_a_reader_expects(
    korean: KoreanModel, text: str, low: float, high: float
) -> None:
    assert low <= score_korean([text], korean)[0] <= high


def _shopping(text: str, sign: int, *, wrong: str | None = None) -> object:
    if wrong is None:
        return pytest.param(text, sign, id=text)
    reason = f"out of the movie domain the model reads it the other way: {wrong}"
    return pytest.param(text, sign, id=text, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize(
    ("text", "expected_sign"),
    [
        # Corpus means below: film reviews average 7.6 out of 10.
        _shopping(
            "배송이 너무 늦어요",
            -1,
            wrong="+0.30; film reviews with '늦' average 8.7 ('saw it late')",
        ),
        _shopping("색상이 달라서 반품했어요", -1),
        _shopping(
            "직원분이 친절했어요",
            1,
            wrong="-0.22; film reviews with '직원' average 6.2, '친절' 6.7",
        ),
        _shopping(
            "설명과 달라요", -1, wrong="+0.47; the 28 film reviews with '달라요' average 9.1"
        ),
        _shopping("배송이 빨라요", 1),
        _shopping("품질이 좋아요", 1),
        _shopping("가격 대비 만족합니다", 1),
        _shopping("응대가 빨랐어요", 1),
        _shopping("재구매 의사 있어요", 1),
        _shopping("잘 쓰고 있어요", 1),
        _shopping("사이즈가 안 맞아요", -1),
        _shopping("다시는 안 삽니다", -1),
        _shopping("포장이 엉망이에요", -1),
        _shopping("상담원이 불친절했어요", -1),
        _shopping("환불이 안 돼요", -1),
        _shopping("제품이 불량이에요", -1),
        _shopping("앱이 자꾸 꺼져요", -1),
        _shopping("결제가 안 돼요", -1),
    ],
)
def test_korean_model_on_shopping_reviews_out_of_its_movie_domain(
    korean: KoreanModel, text: str, expected_sign: int
) -> None:
    # 15 of these 18 come out with the right sign (3 are known misses, xfail above);
    # several right ones are weak (|score| < 0.15). See docs/sentiment.md, "Limits".
    assert np.sign(score_korean([text], korean)[0]) == expected_sign


@settings(max_examples=100, deadline=None)
@given(st.lists(review_text, max_size=5))
def test_korean_scores_stay_on_the_scale_for_any_text(texts: list[str]) -> None:
    scores = score_korean(texts, load_korean_model())
    assert scores.shape == (len(texts),)
    assert np.all((scores >= -1.0) & (scores <= 1.0))


@pytest.mark.parametrize(
    "text",
    [
        "Galaxy S24 배송 빨라요 👍",
        "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ",
        "😡😡😡",
        "?!?!",
        "a" * 5000,
        "한" * 5000,
        "bad \udcff byte",
        "깨진 \udcff 글자",
    ],
)
def test_mixed_and_odd_texts_score_without_error(models: SentimentModels, text: str) -> None:
    (score,) = score_texts([text], models=models)
    assert -1.0 <= score <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00"])
def test_empty_text_scores_zero(korean: KoreanModel, text: str) -> None:
    assert score_korean([text], korean).tolist() == [0.0]


def test_score_korean_of_no_texts_is_empty(korean: KoreanModel) -> None:
    assert score_korean([], korean).shape == (0,)


# --- English (VADER) -----------------------------------------------------------------


def test_vader_loads_offline_and_is_cached() -> None:
    analyzer = load_english_analyzer()
    assert analyzer is load_english_analyzer()
    # VADER's compound is x / sqrt(x^2 + 15) for the summed valence x; "love" is 3.2
    # in its lexicon, so "I love it" = 3.2 / sqrt(10.24 + 15) = 0.6369.
    assert score_english(["I love it"], analyzer).round(4).tolist() == [0.6369]


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("The staff were very friendly and helpful.", 1),
        ("Great product, fast delivery!", 1),
        ("Delivery was terrible and the box was broken.", -1),
        ("The product is not good.", -1),
        ("I hate waiting on hold.", -1),
        ("The package arrived on Tuesday.", 0),
    ],
)
def test_english_scores_follow_vaders_reading(text: str, sign: int) -> None:
    score = score_english([text], load_english_analyzer())[0]
    # VADER's convention: >= 0.05 positive, <= -0.05 negative, neutral between.
    found = 1 if score >= 0.05 else -1 if score <= -0.05 else 0
    assert found == sign


# --- language and routing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "share", "language"),
    [
        ("배송이 너무 늦어요", 1.0, "ko"),
        ("Delivery was late", 0.0, "en"),
        ("Galaxy 좋아요", 3 / 9, "ko"),  # G-a-l-a-x-y and 좋-아-요
        ("Galaxy S24 Ultra 배송 빨라요", 5 / 17, "ko"),
        ("I bought it at 롯데 mall yesterday", 2 / 26, "en"),  # 24 Latin letters, 2 Hangul
        ("ㅋㅋㅋ", 1.0, "ko"),  # jamo are Hangul letters
        (":) 👍 123", 0.0, "en"),  # no letters at all
        ("", 0.0, "en"),
    ],
)
def test_detect_language_by_hangul_share(text: str, share: float, language: str) -> None:
    assert math.isclose(hangul_share(text), share)
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("code", "text", "language"),
    [
        ("ko", "any", "ko"),
        ("ko-KR", "any", "ko"),
        ("KOR", "any", "ko"),
        ("en_US", "아무", "en"),
        ("English", "아무", "en"),
        (None, "좋아요", "ko"),
        ("  ", "fine", "en"),
        (math.nan, "좋아", "ko"),
        ("pt", "bom", None),
    ],
)
def test_resolve_language_reads_codes_and_detects_missing_ones(
    code: str | None, text: str, language: str | None
) -> None:
    assert resolve_language(code, text) == language


def test_score_texts_routes_each_text_to_its_scorer(models: SentimentModels) -> None:
    texts = ["정말 최고의 영화", "The staff were rude.", None, "", "배송이 너무 늦어요"]
    assert models.korean is not None and models.english is not None
    korean = score_korean([texts[0], texts[4]], models.korean)  # type: ignore[list-item]
    english = score_english(["The staff were rude."], models.english)
    assert score_texts(texts, models=models) == [korean[0], english[0], 0.0, 0.0, korean[1]]


def test_score_texts_scores_missing_values_from_a_data_frame_zero(
    models: SentimentModels,
) -> None:
    import pandas as pd

    texts = pd.Series(["좋아요", None, math.nan, pd.NA], dtype=object).tolist()
    scores = score_texts(texts, models=models)
    assert scores[0] > 0.0
    assert scores[1:] == [0.0, 0.0, 0.0]


def test_score_texts_follows_a_language_per_text(models: SentimentModels) -> None:
    # Forced to English, a Korean text has no word in VADER's lexicon: 0.0.
    scores = score_texts(["좋아요", "좋아요"], models=models, lang=["en", None])
    assert scores[0] == 0.0
    assert scores[1] > 0.0


def test_score_texts_names_the_row_of_an_unsupported_language(models: SentimentModels) -> None:
    with pytest.raises(SentimentError, match=r"row 1: no sentiment scorer for language 'pt'"):
        score_texts(["good", "muito bom"], models=models, lang=["en", "pt"])


def test_score_texts_can_mark_unsupported_languages_nan(models: SentimentModels) -> None:
    scores = score_texts(["good", "muito bom"], models=models, lang=["en", "pt"], unsupported="nan")
    assert scores[0] > 0.0
    assert math.isnan(scores[1])


def test_score_texts_rejects_mismatched_language_codes(models: SentimentModels) -> None:
    with pytest.raises(SentimentError, match="got 2 texts but 1 language codes"):
        score_texts(["a", "b"], models=models, lang=["en"])


def test_score_texts_says_which_scorer_is_missing(korean: KoreanModel) -> None:
    only_korean = SentimentModels(korean=korean)
    assert score_texts(["좋아요"], models=only_korean)[0] > 0
    with pytest.raises(SentimentError, match=r"row 1 is English .* no English scorer"):
        score_texts(["좋아요", "good"], models=only_korean)


def test_sentiment_errors_belong_to_the_error_tree() -> None:
    assert issubclass(SentimentError, JourneyError)
    assert issubclass(SentimentModelError, JourneyError)


# --- scales ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "emotion"),
    [
        (-1.0, -2),
        (-0.61, -2),
        (-0.6, -1),
        (-0.21, -1),
        (-0.2, 0),
        (0.0, 0),
        (0.2, 0),
        (0.21, 1),
        (0.6, 1),
        (0.61, 2),
        (1.0, 2),
    ],
)
def test_to_emotion_cuts_five_equal_bands(score: float, emotion: int) -> None:
    assert to_emotion(score) == emotion
    assert to_five_point(score) == emotion + 3


@pytest.mark.parametrize("score", [1.01, -1.5, math.nan])
def test_to_emotion_rejects_scores_off_the_scale(score: float) -> None:
    with pytest.raises(ValueError, match=r"lies in \[-1, 1\]"):
        to_emotion(score)


# --- loading ----------------------------------------------------------------------------


def test_read_korean_model_rejects_a_file_that_is_not_a_model() -> None:
    with pytest.raises(SentimentModelError, match=r"bad\.npz: not a Korean sentiment model"):
        read_korean_model(b"not a zip", source="bad.npz")


def test_read_korean_model_rejects_metadata_that_does_not_fit(tmp_path: Path) -> None:
    data = MODEL_FILE.read_bytes()
    model = read_korean_model(data, source="ok")
    with np.load(MODEL_FILE, allow_pickle=False) as archive:
        meta = str(archive["metadata"]).replace(
            f'"hash_bits": {model.config.hash_bits}', '"hash_bits": 12'
        )
        path = tmp_path / "damaged.npz"
        np.savez(path, weights=archive["weights"], bias=archive["bias"], metadata=np.array(meta))
    with pytest.raises(SentimentModelError, match=r"damaged\.npz: the model's metadata"):
        load_korean_model(path)


def test_load_korean_model_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SentimentModelError, match=r"nowhere\.npz: cannot read"):
        load_korean_model(tmp_path / "nowhere.npz")


def test_load_sentiment_models_rejects_other_languages() -> None:
    with pytest.raises(SentimentModelError, match=r"no sentiment scorer for \['pt'\]"):
        load_sentiment_models(languages=["ko", "pt"])  # type: ignore[list-item]


# --- quality on movies held out from training (real data) ------------------------------


@dataclass(frozen=True)
class Corpus:
    movie_ids: list[str]
    ratings: np.ndarray
    texts: list[str]
    empty_texts: int


@pytest.fixture(scope="module")
def nsmc() -> Corpus:
    if not NSMC.exists():
        pytest.skip(f"the NSMC corpus is not at {NSMC}")
    # Split on "\n" only: some reviews hold a carriage return.
    with gzip.open(NSMC, "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    movie_ids, ratings, texts, empty = [], [], [], 0
    for line in lines[1:]:
        if not line:
            continue
        _, movie, _, rating, _, text = line.split("\t", 5)
        text = text.replace("\r", " ").strip()
        if not text:
            empty += 1
            continue
        movie_ids.append(movie)
        ratings.append(int(rating))
        texts.append(text)
    return Corpus(movie_ids, np.array(ratings), texts, empty)


def held_out_mask(corpus: Corpus, korean: KoreanModel) -> np.ndarray:
    seed, percent = korean.metadata["seed"], korean.metadata["held_out_percent"]
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}:{m}".encode()).digest()[:8], "big") % 100
            < percent  # type: ignore[operator]
            for m in corpus.movie_ids
        ]
    )


@needs_nsmc
@pytest.mark.slow
def test_model_metadata_matches_the_data_it_was_trained_on(
    korean: KoreanModel, nsmc: Corpus
) -> None:
    meta = korean.metadata
    assert meta["data_sha256"] == hashlib.sha256(NSMC.read_bytes()).hexdigest()
    held = held_out_mask(nsmc, korean)
    # Trained on every review of every other movie: no held-out review was seen.
    assert meta["n_train"] == int((~held).sum())
    assert meta["set_aside"] == {"empty review text": nsmc.empty_texts}
    claimed = meta["held_out_metrics"]
    assert isinstance(claimed, dict)
    assert claimed["n_reviews"] == int(held.sum())
    assert claimed["n_movies"] == len({m for m, h in zip(nsmc.movie_ids, held, strict=True) if h})


@needs_nsmc
@pytest.mark.slow
def test_claimed_held_out_metrics_are_reproduced(korean: KoreanModel, nsmc: Corpus) -> None:
    held = np.flatnonzero(held_out_mask(nsmc, korean))
    scores = score_korean([nsmc.texts[i] for i in held], korean)
    ratings = nsmc.ratings[held]
    claimed = korean.metadata["held_out_metrics"]
    assert isinstance(claimed, dict)
    rho = stats.spearmanr(scores, ratings).statistic
    labelled = (ratings >= 8) | (ratings <= 4)
    right = np.where(ratings >= 8, scores > 0, scores < 0)
    assert round(float(rho), 4) == claimed["spearman"]
    assert round(float(right[labelled].mean()), 4) == claimed["accuracy_8_vs_4"]


@needs_nsmc
@pytest.mark.slow
def test_korean_model_ranks_a_held_out_sample_like_its_ratings(
    korean: KoreanModel, nsmc: Corpus
) -> None:
    held = np.flatnonzero(held_out_mask(nsmc, korean))
    sample = np.sort(np.random.default_rng(0).choice(held, size=20_000, replace=False))
    scores = score_korean([nsmc.texts[i] for i in sample], korean)
    ratings = nsmc.ratings[sample]
    assert stats.spearmanr(scores, ratings).statistic >= RHO_FLOOR
    positive, negative = ratings >= 8, ratings <= 4
    accuracy = (np.sum(scores[positive] > 0) + np.sum(scores[negative] < 0)) / np.sum(
        positive | negative
    )
    assert accuracy >= ACCURACY_FLOOR
    # Each rating's reviews score higher on average than the rating's below
    # (measured: -0.56 for 1s, 0.00 for 7s, +0.49 for 10s).
    means = [scores[ratings == r].mean() for r in range(1, 11)]
    assert all(lower < higher for lower, higher in itertools.pairwise(means))


def _hangul_share_by_character(text: str) -> float:
    """The definition, one character at a time: Hangul letters over all letters."""
    blocks = [(0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F)]
    blocks.append((0xD7B0, 0xD7FF))
    letters = [c for c in text if c.isalpha()]
    hangul = [c for c in letters if any(lo <= ord(c) <= hi for lo, hi in blocks)]
    return len(hangul) / len(letters) if letters else 0.0


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF)))
def test_hangul_share_equals_the_per_character_definition(text: str) -> None:
    assert hangul_share(text) == _hangul_share_by_character(text)
