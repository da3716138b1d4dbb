"""Collectors for the demo's rows: events, identity links and feedback, in numpy blocks.

The simulation adds rows in blocks (all product views of all missions at once, say);
each block holds integer codes and entity numbers, and only its ``properties`` are
text. :mod:`journeymap.demo.generator` turns the blocks into the contract's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = [
    "CHANNELS",
    "EVENTS",
    "FEEDBACK_ABOUT",
    "KINDS",
    "SCALES",
    "SOURCES",
    "EventLog",
    "FeedbackLog",
    "LinkLog",
    "code",
]

KINDS: tuple[tuple[str, str], ...] = (
    ("loyalty_id", "L"),
    ("anonymous_id", "a"),
    ("email_hash", "e"),
    ("order_id", "o"),
    ("user_id", "u"),
)
"""Identifier kinds and their id prefixes, in the lexical order of the prefixes."""
LOYALTY, ANON, EMAIL, ORDER, USER = range(5)

EVENTS: tuple[str, ...] = (
    "review_view",
    "product_view",
    "site_exit",
    "ad_impression",
    "coupon_click",
    "checkout_guest",
    "checkout_account",
    "order_placed",
    "payment",
    "delivery",
    "support_call",
    "support_wait",
    "phone_call",
    "chat_start",
    "chat_end",
    "support_email",
    "support_reply",
    "return_label",
    "store_visit",
    "search",
    "email_open",
    "email_click",
    "app_open",
    "social_click",
    "cart_add",
    "review_posted",
    "class_booked",
    "loyalty_join",
    "account_created",
)
CHANNELS: tuple[str, ...] = (
    "web",
    "app",
    "search",
    "ads",
    "email",
    "social",
    "store",
    "phone",
    "chat",
    "delivery",
)
SOURCES: tuple[str, ...] = (
    "demo-web",
    "demo-app",
    "demo-ads",
    "demo-email",
    "demo-orders",
    "demo-carrier",
    "demo-contact-centre",
    "demo-pos",
    "demo-crm",
    "demo-reviews",
    "demo-surveys",
    "web-login",
    "email-click",
    "checkout",
    "accounts",
    "loyalty",
)
SCALES: tuple[str, ...] = ("csat", "nps", "ces", "rating")
FEEDBACK_ABOUT: tuple[str, ...] = ("delivery", "support-call", "loyalty", "purchase")


def code(table: tuple[str, ...], name: str) -> int:
    """The integer code of ``name`` in one of the tables above."""
    return table.index(name)


Ints = npt.NDArray[np.int64]


def _full(n: int, value: int | Ints, dtype: type[np.integer]) -> npt.NDArray[np.integer]:
    if isinstance(value, np.ndarray):
        if value.shape != (n,):
            raise ValueError(f"expected {n} values, got {value.shape}")
        return value.astype(dtype, copy=False)
    return np.full(n, value, dtype=dtype)


@dataclass
class EventLog:
    """Event blocks: who (kind, entity), when (ms since the epoch, UTC), what, where."""

    blocks: list[dict[str, npt.NDArray[np.integer]]] = field(default_factory=list)
    properties: list[pa.Array] = field(default_factory=list)

    def add(
        self,
        *,
        person: Ints,
        kind: int | Ints,
        entity: Ints,
        ts: Ints,
        event: str,
        channel: str | Ints,
        source: str,
        properties: pa.Array,
        session: Ints | None = None,
        local_time: bool = False,
    ) -> None:
        """Add one block; ``channel`` is a name or an array of CHANNELS codes."""
        n = len(ts)
        if n == 0:
            return
        if len(properties) != n:
            raise ValueError(f"{event}: {len(properties)} properties for {n} events")
        chan = code(CHANNELS, channel) if isinstance(channel, str) else channel
        self.blocks.append(
            {
                "person": _full(n, person, np.int32),
                "kind": _full(n, kind, np.int8),
                "entity": _full(n, entity, np.int64),
                "ts": _full(n, ts, np.int64),
                "event": _full(n, code(EVENTS, event), np.int16),
                "channel": _full(n, chan, np.int8),
                "source": _full(n, code(SOURCES, source), np.int8),
                "session": _full(n, session if session is not None else -1, np.int64),
                "local": _full(n, int(local_time), np.int8),
            }
        )
        self.properties.append(properties)

    def column(self, name: str) -> npt.NDArray[np.integer]:
        return np.concatenate([b[name] for b in self.blocks])


@dataclass
class LinkLog:
    """Identity links: two (kind, entity) identifiers seen together at ``ts``."""

    blocks: list[dict[str, npt.NDArray[np.integer]]] = field(default_factory=list)

    def add(
        self,
        *,
        kind_a: int,
        entity_a: Ints,
        kind_b: int,
        entity_b: Ints,
        ts: Ints,
        source: str,
    ) -> None:
        n = len(ts)
        if n == 0:
            return
        self.blocks.append(
            {
                "kind_a": _full(n, kind_a, np.int8),
                "entity_a": _full(n, entity_a, np.int64),
                "kind_b": _full(n, kind_b, np.int8),
                "entity_b": _full(n, entity_b, np.int64),
                "ts": _full(n, ts, np.int64),
                "source": _full(n, code(SOURCES, source), np.int8),
            }
        )

    def column(self, name: str) -> npt.NDArray[np.integer]:
        return np.concatenate([b[name] for b in self.blocks])


@dataclass
class FeedbackLog:
    """Survey answers and reviews, each tied to the identifier the survey went to."""

    blocks: list[dict[str, npt.NDArray[np.integer] | npt.NDArray[np.floating]]] = field(
        default_factory=list
    )
    texts: list[pa.Array] = field(default_factory=list)

    def add(
        self,
        *,
        person: Ints,
        kind: int,
        entity: Ints,
        ts: Ints,
        scale: str,
        score: npt.NDArray[np.floating],
        about: str | None,
        lang: Ints,
        text: pa.Array,
        source: str,
    ) -> None:
        n = len(ts)
        if n == 0:
            return
        self.blocks.append(
            {
                "person": _full(n, person, np.int32),
                "kind": _full(n, kind, np.int8),
                "entity": _full(n, entity, np.int64),
                "ts": _full(n, ts, np.int64),
                "scale": _full(n, code(SCALES, scale), np.int8),
                "score": np.asarray(score, dtype=np.float64),
                "about": _full(
                    n, code(FEEDBACK_ABOUT, about) if about is not None else -1, np.int8
                ),
                "lang": _full(n, lang, np.int8),
                "source": _full(n, code(SOURCES, source), np.int8),
            }
        )
        self.texts.append(text)

    def column(self, name: str) -> npt.NDArray[np.generic]:
        return np.concatenate([b[name] for b in self.blocks])
