"""Short review and survey sentences in Korean and English, chosen by what happened.

A comment is one sentence about the topic that mattered most (a wrong colour, a late
parcel, a long queue, a guest checkout that forgot the member, or the product itself,
praised or not) followed by one sentence that matches the score. German and Japanese customers write
in English in the demo. Sentences are written for the demo company; none is quoted
from real reviews.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CLOSERS", "TOPICS", "compose_comments"]

TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "wrong_item": {
        "en": (
            "The wrong colour arrived.",
            "I ordered forest green and got a red one.",
            "They sent the wrong variant, days before my trip.",
            "The parcel had a different colour than my order.",
        ),
        "ko": (
            "주문한 색상과 다른 제품이 왔어요.",
            "색상이 잘못 배송됐어요.",
            "캠핑 며칠 전에 다른 색이 와서 당황했어요.",
            "주문 내역과 다른 상품이 도착했어요.",
        ),
    },
    "late": {
        "en": (
            "Delivery took longer than promised.",
            "The parcel arrived late.",
            "Shipping was slower than the date on the order.",
        ),
        "ko": (
            "배송이 약속보다 늦었어요.",
            "배송이 너무 늦게 왔어요.",
            "도착 예정일보다 며칠 늦게 받았어요.",
        ),
    },
    "queue": {
        "en": (
            "I waited far too long in the support queue.",
            "It took ages to reach an agent.",
            "Twenty minutes on hold before anyone answered.",
        ),
        "ko": (
            "상담원 연결까지 너무 오래 기다렸어요.",
            "고객센터 대기 시간이 길었어요.",
            "전화 연결이 안 돼서 한참 기다렸어요.",
        ),
    },
    "support_good": {
        "en": (
            "The agent was friendly and sorted it out quickly.",
            "Support fixed the mix-up and even offered a class.",
        ),
        "ko": (
            "상담원이 친절하게 빨리 해결해 주었어요.",
            "문제를 잘 해결해 주고 강좌까지 안내해 줬어요.",
        ),
    },
    "guest": {
        "en": (
            "Checkout did not recognise my membership.",
            "As a guest I got no member points.",
        ),
        "ko": (
            "비회원 결제라 적립이 안 됐어요.",
            "회원인데 결제할 때 알아보지 못했어요.",
        ),
    },
    "product": {
        "en": (
            "Comfortable on a three-day hike.",
            "Great quality for the price.",
            "Fits well and feels sturdy.",
            "Light, roomy and well made.",
            "Exactly what I needed for the campsite.",
        ),
        "ko": (
            "삼일 캠핑에 편하게 잘 썼어요.",
            "가격 대비 품질이 좋아요.",
            "튼튼하고 착용감이 좋아요.",
            "가볍고 수납공간이 넉넉해요.",
            "캠핑장에서 딱 필요한 제품이었어요.",
        ),
    },
    "product_bad": {
        "en": (
            "The straps started fraying after one trip.",
            "Smaller than it looks in the photos.",
            "The zip jammed on the second day.",
        ),
        "ko": (
            "한 번 쓰고 끈이 헤졌어요.",
            "사진보다 작아요.",
            "이틀 만에 지퍼가 고장 났어요.",
        ),
    },
}
"""Topic sentences, by topic and language."""

CLOSERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (
        ("Never again.", "Very frustrating experience."),
        ("Disappointed.", "Not what I expected from this shop."),
        ("It's okay.", "Average experience."),
        ("Pretty happy overall.", "Good, with small hiccups."),
        ("Highly recommend!", "Will buy again."),
    ),
    "ko": (
        ("다시는 안 살 것 같아요.", "정말 답답한 경험이었어요."),
        ("실망했어요.", "기대했던 것과 달라요."),
        ("그럭저럭이에요.", "보통이에요."),
        ("전반적으로 만족해요.", "작은 아쉬움은 있지만 좋아요."),
        ("강력 추천합니다!", "재구매 의사 있어요."),
    ),
}
"""Closing sentences for scores 1 to 5, by language."""

TOPIC_ORDER = tuple(TOPICS)
LANGS = ("en", "ko")


def _table(
    rows: list[tuple[str, ...]],
) -> tuple[pa.Array, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Flatten variant lists: the strings, each list's start and each list's length."""
    flat = [s for row in rows for s in row]
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return pa.array(flat, pa.string()), starts, lengths


def compose_comments(
    rng: np.random.Generator,
    *,
    topic: npt.NDArray[np.integer],
    lang: npt.NDArray[np.integer],
    score5: npt.NDArray[np.integer],
) -> pa.Array:
    """One comment per row: a topic sentence (index into TOPICS) and a closer for the
    score (1-5), in the row's language (index into ``("en", "ko")``)."""
    n = len(topic)
    score = np.clip(np.asarray(score5, np.int64), 1, 5)
    topic = np.asarray(topic, np.int64)
    product = TOPIC_ORDER.index("product")
    # a five-star comment praises the product; a one- or two-star one about the
    # product complains about it
    mild = np.isin(topic, [TOPIC_ORDER.index(t) for t in ("guest", "late", "queue")])
    topic = np.where((score == 5) & mild, product, topic)
    topic = np.where((score <= 2) & (topic == product), TOPIC_ORDER.index("product_bad"), topic)
    topic_rows = [TOPICS[t][lang_code] for lang_code in LANGS for t in TOPIC_ORDER]
    strings, starts, lengths = _table(topic_rows)
    row = np.asarray(lang, np.int64) * len(TOPIC_ORDER) + topic
    variant = (rng.random(n) * lengths[row]).astype(np.int64)
    first = strings.take(pa.array(starts[row] + variant))
    closer_rows = [CLOSERS[lang_code][s] for lang_code in LANGS for s in range(5)]
    c_strings, c_starts, c_lengths = _table(closer_rows)
    c_row = np.asarray(lang, np.int64) * 5 + score - 1
    c_variant = (rng.random(n) * c_lengths[c_row]).astype(np.int64)
    second = c_strings.take(pa.array(c_starts[c_row] + c_variant))
    out: pa.Array = pc.binary_join_element_wise(first, second, " ")
    return out
