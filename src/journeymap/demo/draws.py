"""Shared pieces of the simulation: parameters as arrays, random draws, clocks.

Persona and country parameters from :mod:`journeymap.demo.company` become numpy
arrays indexed by code, so a draw for a million rows is one vectorised call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.demo.columns import (
    format_money,
    pick,
)
from journeymap.demo.company import CATEGORIES, COUNTRIES, PERSONAS
from journeymap.demo.log import (
    EventLog,
    FeedbackLog,
    LinkLog,
)
from journeymap.demo.population import DAY, HOUR, T0, Population

__all__ = [
    "CAMPAIGNS",
    "CARRIERS",
    "CATEGORY_IDS",
    "CLASS",
    "COUNTRY",
    "COUPONS",
    "CURRENCIES",
    "DISCOUNT",
    "ENTRIES",
    "ENTRY_WEIGHTS",
    "HOUR_WEIGHTS",
    "MONTH_DAYS",
    "MONTH_START",
    "NETWORKS",
    "PAYMENT_METHODS",
    "PERSONA",
    "PRICES",
    "PRODUCTS",
    "PRODUCT_CATEGORY",
    "RETURN_METHODS",
    "SEARCHES",
    "SUPPORT",
    "Bools",
    "Context",
    "Floats",
    "Ints",
    "Truth",
    "between",
    "chain",
    "choose",
    "choose_by_country",
    "in_peak",
    "json_ints",
    "money",
    "month_of",
    "on_monday",
    "seasonal_times",
    "uniform_times",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

ENTRIES = ("review", "search", "email", "social", "app")
CARRIERS = {"KR": "cj-logistics", "US": "ups", "DE": "dhl", "JP": "yamato"}
SEARCHES = {
    "backpacks": ("45l backpack", "best hiking backpack", "backpack for camping"),
    "tents": ("2 person tent", "lightweight tent"),
    "sleeping-bags": ("down sleeping bag", "summer sleeping bag"),
    "boots": ("hiking boots", "waterproof trail shoes"),
    "jackets": ("rain jacket hiking", "fleece jacket"),
}
NETWORKS = ("instagram", "youtube", "naver-blog", "kakao")
CLASS = "backpacking-basics"
# local shopping hours: quiet nights, a lunch bump, busy evenings
HOUR_WEIGHTS = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 4, 5, 6, 5, 4, 4, 5, 6, 8, 10, 11, 10, 7, 3],
    dtype=np.float64,
)
MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
MONTH_START = np.concatenate([[0], np.cumsum(MONTH_DAYS)[:-1]]).astype(np.int64)
# persona parameters as arrays, indexed by persona code
PERSONA = {
    name: np.array([getattr(p, name) for p in PERSONAS], dtype=np.float64)
    for name in (
        "missions",
        "views",
        "login",
        "exit",
        "coupon_return",
        "other_return",
        "cart",
        "guest",
        "abandon",
        "store_visits",
        "review",
        "survey",
        "newsletter",
        "basket_usd",
    )
}
ENTRY_WEIGHTS = np.array([[dict(p.entry)[e] for e in ENTRIES] for p in PERSONAS])
COUNTRY = {
    "per_usd": np.array([c.per_usd for c in COUNTRIES]),
    "unit": np.array(
        [100.0 if c.code == "KR" else 10.0 if c.code == "JP" else 0.01 for c in COUNTRIES]
    ),
    "decimals": np.array([c.decimals for c in COUNTRIES]),
    "offset": np.array([c.utc_offset_hours for c in COUNTRIES], dtype=np.int64),
    "lo": np.array([c.delivery_days[0] for c in COUNTRIES], dtype=np.int64),
    "hi": np.array([c.delivery_days[1] for c in COUNTRIES], dtype=np.int64),
    "wait": np.array([c.phone_wait_median_s for c in COUNTRIES]),
    "season": np.array([c.season for c in COUNTRIES]),
}
CURRENCIES = tuple(c.currency for c in COUNTRIES)
PAYMENT_METHODS = tuple(dict.fromkeys(m for c in COUNTRIES for m, _ in c.payments))
SUPPORT = ("phone", "chat", "email")
RETURN_METHODS = ("courier_pickup", "store_return", "drop_off")
PRODUCTS = tuple(p for c in CATEGORIES for p, _ in c.products)
PRICES = np.array([price for c in CATEGORIES for _, price in c.products])
PRODUCT_CATEGORY = np.array([i for i, c in enumerate(CATEGORIES) for _ in c.products])
CATEGORY_IDS = tuple(c.id for c in CATEGORIES)
CAMPAIGNS = tuple(c.campaign for c in CATEGORIES)
COUPONS = tuple("SUMMIT15" if c.campaign.startswith("summit") else "GEAR10" for c in CATEGORIES)
DISCOUNT = np.array([0.15 if c.campaign.startswith("summit") else 0.10 for c in CATEGORIES])


@dataclass
class Truth:
    """What really happened to each customer, for checking analyses against."""

    missions: Ints
    orders: Ints
    guest_orders: Ints
    wrong_deliveries: Ints
    late_deliveries: Ints
    support_contacts: Ints


@dataclass
class Context:
    rng: np.random.Generator
    pop: Population
    events: EventLog
    links: LinkLog
    feedback: FeedbackLog
    next_order: int = 0
    next_session: int = 0

    def orders(self, n: int) -> Ints:
        ids = np.arange(self.next_order, self.next_order + n, dtype=np.int64)
        self.next_order += n
        return ids

    def sessions(self, n: int) -> Ints:
        ids = np.arange(self.next_session, self.next_session + n, dtype=np.int64)
        self.next_session += n
        return ids


def choose(rng: np.random.Generator, weights: Floats) -> Ints:
    """One draw per row from that row's weights (an (n, k) array)."""
    cum = np.cumsum(weights, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(weights))
    drawn: Ints = np.minimum((u[:, None] > cum).sum(axis=1), weights.shape[1] - 1)
    return drawn.astype(np.int64)


def choose_by_country(
    rng: np.random.Generator, country: Ints, table: str, names: tuple[str, ...]
) -> Ints:
    """A draw from each row's country preferences (``payments``, ``support``, ...)."""
    weights = np.zeros((len(COUNTRIES), len(names)))
    for ci, c in enumerate(COUNTRIES):
        for name, share in getattr(c, table):
            weights[ci, names.index(name)] = share
    return choose(rng, weights[country])


def between(rng: np.random.Generator, n: int, lo: int, hi: int) -> Ints:
    return rng.integers(lo, hi, n, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)


def money(usd: Floats, country: Ints) -> tuple[pa.Array, pa.Array]:
    """Local amounts (rounded the way prices are shown there) and their currencies."""
    unit = COUNTRY["unit"][country]
    local = np.round(usd * COUNTRY["per_usd"][country] / unit) * unit
    two = format_money(local, 2)
    whole = format_money(local, 0)
    amounts = pc.if_else(pa.array(COUNTRY["decimals"][country] == 2), two, whole)
    return amounts, pick(CURRENCIES, country)


def json_ints(values: npt.ArrayLike) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def month_of(ts: Ints) -> Ints:
    day = np.clip((ts - T0) // DAY, 0, 364)
    return np.searchsorted(MONTH_START, day, side="right").astype(np.int64) - 1


def in_peak(ts: Ints, country: Ints) -> Bools:
    return COUNTRY["season"][country, month_of(ts)] >= 1.5


def on_monday(ts: Ints) -> Bools:
    monday: Bools = ((ts // DAY) + 3) % 7 == 0  # 1970-01-01 was a Thursday
    return monday


def seasonal_times(rng: np.random.Generator, country: Ints) -> Ints:
    """Start times in the demo year, by each country's season and local shopping hours."""
    n = len(country)
    month = choose(rng, COUNTRY["season"][country])
    day = (rng.random(n) * MONTH_DAYS[month]).astype(np.int64)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()).astype(np.int64)
    local = T0 + (MONTH_START[month] + day) * DAY + hour * HOUR + between(rng, n, 0, HOUR)
    starts: Ints = np.maximum(local - COUNTRY["offset"][country] * HOUR, T0)
    return starts


def uniform_times(rng: np.random.Generator, country: Ints, *, open_hour: int = 0) -> Ints:
    """Times spread over the year; with ``open_hour``, within local opening hours."""
    n = len(country)
    day = between(rng, n, 0, 365)
    lo, hi = (open_hour * HOUR, 20 * HOUR) if open_hour else (0, DAY)
    within = between(rng, n, lo, hi)
    times: Ints = np.maximum(T0 + day * DAY + within - COUNTRY["offset"][country] * HOUR, T0)
    return times


def chain(
    rng: np.random.Generator, start: Ints, counts: Ints, lo: int, hi: int
) -> tuple[Ints, Ints, Ints]:
    """``counts[i]`` events after ``start[i]``, spaced ``lo``..``hi`` ms apart.

    Returns the row of each event, its time, and each row's last time (its start when
    it has no events).
    """
    row = np.repeat(np.arange(len(start), dtype=np.int64), counts)
    gaps = between(rng, row.size, lo, hi)
    total = np.cumsum(gaps)
    ends = np.cumsum(counts)
    firsts = ends - counts
    before = np.concatenate([[0], total])[firsts]
    ts = start[row] + total - before[row]
    last = start.copy()
    has = counts > 0
    last[has] = start[has] + total[ends[has] - 1] - before[has]
    return row, ts, last
