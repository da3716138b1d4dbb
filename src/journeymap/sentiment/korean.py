"""Korean review sentiment: hashed character n-grams and a linear model.

The model is trained by ``scripts/train_korean_sentiment.py`` from the NSMC corpus of
Naver movie reviews (CC0) and ships as ``journeymap/sentiment/ko_nsmc.npz``; this
module only turns text into features and features into scores, given a loaded
:class:`KoreanModel` (``journeymap.io.sentiment_model.load_korean_model`` reads it).

Text is normalised (NFKC, lower case, runs of spaces collapsed, a character repeated
more than three times cut to three, so ``ㅋㅋㅋㅋㅋㅋ`` and ``ㅋㅋㅋ`` are the same), padded
with a space on each side, and cut into character n-grams (1 to 3 by default, spaces
included, so ``" 최고"`` marks a word start). Each n-gram is hashed into one of
``2**hash_bits`` buckets by a fixed 64-bit mix of its code points (no Python ``hash``,
which changes between runs). A review's row holds its n-gram counts divided by the
square root of its number of n-grams. The score is ``tanh((x · w + b) / 2)``: the model predicts the rating's place
on the 1-10 scale as a probability ``p`` (1 → 0, 10 → 1) and the score is ``2p - 1``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse

__all__ = [
    "FeatureConfig",
    "KoreanModel",
    "featurize_texts",
    "normalize_text",
    "score_korean",
]


# 64-bit constants: the FNV-1a prime for combining code points, and MurmurHash3's
# finaliser for spreading the result over the low bits that pick the bucket.
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)
_SPACE = np.uint64(32)
_BATCH = 5000
# The code points str.isspace() accepts; all become one plain space.
_OTHER_SPACES = (8232, 8233, 8239, 8287, 12288)
_WHITE_SPACE = np.array(
    [*range(9, 14), *range(28, 33), 133, 160, 5760, *range(8192, 8203), *_OTHER_SPACES],
    dtype=np.uint64,
)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How text becomes features: character n-gram lengths and the hash table size."""

    ngram_min: int = 1
    ngram_max: int = 3
    hash_bits: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.ngram_min <= self.ngram_max <= 8:
            raise ValueError(
                f"n-gram lengths must satisfy 1 <= ngram_min <= ngram_max <= 8, "
                f"got {self.ngram_min}..{self.ngram_max}"
            )
        if not 8 <= self.hash_bits <= 26:
            raise ValueError(f"hash_bits must be between 8 and 26, got {self.hash_bits}")

    @property
    def n_features(self) -> int:
        """The number of hash buckets, ``2**hash_bits``."""
        return 1 << self.hash_bits


@dataclass(frozen=True, slots=True, eq=False)
class KoreanModel:
    """A trained linear scorer: one weight per hash bucket, a bias, and where it came from.

    ``metadata`` records the training data's sha256, the seed, the held-out metrics and
    the licence; it is informative only and never changes a score.
    """

    weights: npt.NDArray[np.float32]
    bias: float
    config: FeatureConfig
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.weights.shape != (self.config.n_features,):
            raise ValueError(
                f"the model has {self.weights.shape} weights but its feature config "
                f"needs ({self.config.n_features},); the model file is damaged"
            )


def normalize_text(text: str) -> str:
    """The text the features are cut from: NFKC, lower case, spaces and repeats tamed.

    Every kind of white space becomes one space, leading and trailing space goes, and a
    character repeated more than three times is cut to three. NFKC also turns the
    compatibility jamo of ``ㅋㅋ`` into leading-consonant jamo, the same for every text.

    >>> normalize_text("  정말   최고!!!!!!  ")
    '정말 최고!!!'
    """
    codes = _normalized_codes([text])[1:-1].astype(np.uint32)
    return codes.tobytes().decode("utf-32-le", errors="surrogatepass").strip(" ")


def _normalized_codes(texts: Sequence[str]) -> npt.NDArray[np.uint64]:
    """The code points of all texts, normalised, each as " text ", joined by NUL (0).

    One NFKC and one ``lower()`` over the joined batch, then numpy masks collapse white
    space and repeats: per-text Python work would cost more than the rest together. An
    empty (or all-space) text leaves nothing between its NULs, so it has no n-grams.
    """
    body = " \x00 ".join(t.replace("\x00", " ") for t in texts)
    joined = unicodedata.normalize("NFKC", f"\x00 {body} \x00").lower()
    # surrogatepass: a lone surrogate (text decoded with errors="surrogateescape") is
    # one more character, not an error.
    raw = joined.encode("utf-32-le", errors="surrogatepass")
    codes = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64)
    codes[np.isin(codes, _WHITE_SPACE)] = _SPACE
    prev = np.concatenate(([np.uint64(0)], codes[:-1]))
    is_space = codes == _SPACE
    drop = is_space & (prev == _SPACE)
    # Runs of one character longer than three: drop every position whose three
    # predecessors are the same character (NUL excepted: it separates texts).
    same = codes[1:] == codes[:-1]
    run4 = np.zeros(len(codes), dtype=bool)
    run4[3:] = same[2:] & same[1:-1] & same[:-2]
    drop |= run4 & (codes != 0)
    codes = codes[~drop]
    # A text that was empty or all space is now NUL, space, NUL: drop that space too.
    lone = np.zeros(len(codes), dtype=bool)
    lone[1:-1] = (codes[1:-1] == _SPACE) & (codes[:-2] == 0) & (codes[2:] == 0)
    kept: npt.NDArray[np.uint64] = codes[~lone]
    return kept


def _hashed_ngrams(
    texts: Sequence[str], config: FeatureConfig
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every n-gram occurrence of every text as (text index, hash bucket), in text order."""
    codes = _normalized_codes(texts)
    is_sep = codes == 0
    doc_of = np.cumsum(is_sep) - 1
    mask = np.uint64(config.n_features - 1)
    docs: list[npt.NDArray[np.int64]] = []
    buckets: list[npt.NDArray[np.int64]] = []
    with np.errstate(over="ignore"):
        for n in range(config.ngram_min, config.ngram_max + 1):
            m = len(codes) - n + 1
            if m <= 0:
                continue
            h = np.full(m, _FNV_OFFSET ^ np.uint64(n), dtype=np.uint64)
            crosses = np.zeros(m, dtype=bool)
            for k in range(n):
                h = (h ^ codes[k : k + m]) * _FNV_PRIME
                crosses |= is_sep[k : k + m]
            keep = ~crosses
            docs.append(doc_of[:m][keep])
            buckets.append((_mix(h[keep]) & mask).astype(np.int64))
    if not docs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(docs), np.concatenate(buckets)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = h ^ (h >> _SHIFT)
    h = h * _MIX_1
    h = h ^ (h >> _SHIFT)
    h = h * _MIX_2
    return h ^ (h >> _SHIFT)


def featurize_texts(
    texts: Sequence[str], *, config: FeatureConfig | None = None
) -> sparse.csr_matrix:
    """The feature matrix of ``texts``: one row per text, ``config.n_features`` columns.

    Row ``i`` holds the counts of the hashed character n-grams of
    ``normalize_text(texts[i])`` divided by the square root of that text's number of
    n-grams, so long and short reviews weigh alike (an empty text gives an all-zero
    row). The matrix is ``float32`` CSR with sorted, summed indices; training uses it,
    :func:`score_korean` computes the same product without building it.
    """
    config = config or FeatureConfig()
    doc, bucket = _hashed_ngrams(texts, config)
    per_doc = np.bincount(doc, minlength=len(texts))
    scale = 1.0 / np.sqrt(np.maximum(per_doc, 1))
    features = sparse.csr_matrix(
        (scale[doc].astype(np.float32), (doc, bucket)),
        shape=(len(texts), config.n_features),
        dtype=np.float32,
    )
    features.sum_duplicates()
    return features


def score_korean(texts: Sequence[str], model: KoreanModel) -> npt.NDArray[np.float64]:
    """The sentiment of each text in [-1, 1] (negative to positive) under ``model``.

    Equal to ``tanh((featurize_texts(texts) @ model.weights + model.bias) / 2)``, computed
    without the sparse matrix. A text with no characters (after normalising) scores
    exactly 0.0, no evidence either way, whatever the model's bias.
    """
    scores = np.zeros(len(texts), dtype=np.float64)
    # Batches of a few thousand keep the working arrays in cache: scoring 100,000 texts
    # in one piece measured about half as fast as 5,000 at a time.
    for start in range(0, len(texts), _BATCH):
        batch = texts[start : start + _BATCH]
        doc, bucket = _hashed_ngrams(batch, model.config)
        per_doc = np.bincount(doc, minlength=len(batch))
        sums = np.bincount(doc, weights=model.weights[bucket], minlength=len(batch))
        logits = sums / np.sqrt(np.maximum(per_doc, 1)) + model.bias
        found = np.tanh(logits / 2.0)
        found[per_doc == 0] = 0.0
        scores[start : start + len(batch)] = found
    return scores
