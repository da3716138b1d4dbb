"""Ridgeway Outdoor, the demo company, as data: countries, regions, stores, personas.

Every number that shapes the demo story lives here, so a reader can see why the data
looks as it does: wallets in Korea, cards in the US, invoices in Germany, konbini in
Japan; chat support in Korea, phone in the US and Japan, email in Germany; camping
season peaks; personas that browse, compare and buy differently.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CATEGORIES",
    "COLOURS",
    "COUNTRIES",
    "PERSONAS",
    "YEAR",
    "Category",
    "Country",
    "Persona",
    "Region",
]

YEAR = 2025
"""The demo year: missions start between 1 January and 31 December (UTC)."""


@dataclass(frozen=True)
class Region:
    """A subdivision (ISO 3166-2 code) with its share of the country's customers."""

    code: str
    weight: float
    store: str | None
    """The Ridgeway store customers of this region visit, if there is one."""


@dataclass(frozen=True)
class Country:
    """A market: its customers' habits and the company's operations there."""

    code: str
    weight: float
    currency: str
    per_usd: float
    """Prices are set in USD and shown in local money at this rate (rounded)."""
    decimals: int
    timezone: str
    utc_offset_hours: int
    """Standard-time offset, used to place local shopping hours (daylight saving ignored)."""
    lang: str
    regions: tuple[Region, ...]
    payments: tuple[tuple[str, float], ...]
    support: tuple[tuple[str, float], ...]
    """Preferred support channel: phone, chat or email."""
    season: tuple[float, ...]
    """Relative shopping weight of each month, January first."""
    delivery_days: tuple[int, int]
    """Carrier lead time range in days (inclusive), promised at the upper end."""
    phone_wait_median_s: float
    app_share: float
    """Share of account holders who use the app."""
    return_methods: tuple[tuple[str, float], ...]


COUNTRIES: tuple[Country, ...] = (
    Country(
        code="KR",
        weight=0.30,
        currency="KRW",
        per_usd=1380.0,
        decimals=0,
        timezone="Asia/Seoul",
        utc_offset_hours=9,
        lang="ko",
        regions=(
            Region("KR-11", 0.45, "SEL-01"),  # Seoul
            Region("KR-41", 0.35, "SEL-01"),  # Gyeonggi
            Region("KR-26", 0.20, "BSN-01"),  # Busan
        ),
        payments=(("kakaopay", 0.36), ("naverpay", 0.26), ("card", 0.30), ("bank_transfer", 0.08)),
        support=(("chat", 0.62), ("phone", 0.28), ("email", 0.10)),
        # spring and autumn camping (Korean autumn is the peak), quiet winter
        season=(0.5, 0.5, 0.8, 1.2, 1.5, 1.2, 1.1, 1.2, 1.5, 1.8, 1.3, 0.7),
        delivery_days=(1, 2),
        phone_wait_median_s=420.0,
        app_share=0.55,
        return_methods=(("courier_pickup", 0.70), ("store_return", 0.20), ("drop_off", 0.10)),
    ),
    Country(
        code="US",
        weight=0.35,
        currency="USD",
        per_usd=1.0,
        decimals=2,
        timezone="America/Denver",
        utc_offset_hours=-7,
        lang="en",
        regions=(
            Region("US-CO", 0.30, "DEN-01"),
            Region("US-UT", 0.10, "DEN-01"),
            Region("US-WY", 0.05, "DEN-01"),
            Region("US-WA", 0.25, "SEA-01"),
            Region("US-CA", 0.30, None),
        ),
        payments=(("card", 0.68), ("paypal", 0.14), ("apple_pay", 0.18)),
        support=(("phone", 0.56), ("chat", 0.30), ("email", 0.14)),
        # summer camping season, a holiday bump in November and December
        season=(0.5, 0.5, 0.8, 1.2, 1.7, 1.9, 1.8, 1.4, 1.0, 0.8, 1.1, 1.3),
        delivery_days=(2, 6),
        phone_wait_median_s=720.0,
        app_share=0.30,
        return_methods=(("drop_off", 0.55), ("store_return", 0.30), ("courier_pickup", 0.15)),
    ),
    Country(
        code="DE",
        weight=0.20,
        currency="EUR",
        per_usd=0.92,
        decimals=2,
        timezone="Europe/Berlin",
        utc_offset_hours=1,
        lang="en",  # German customers' text is written in English in the demo
        regions=(
            Region("DE-BY", 0.40, "MUC-01"),
            Region("DE-BE", 0.30, "BER-01"),
            Region("DE-NW", 0.30, None),
        ),
        payments=(("invoice", 0.32), ("paypal", 0.34), ("card", 0.18), ("sepa_debit", 0.16)),
        support=(("email", 0.52), ("phone", 0.33), ("chat", 0.15)),
        season=(0.5, 0.5, 0.7, 1.1, 1.5, 1.8, 2.0, 1.8, 1.0, 0.7, 0.7, 1.0),
        delivery_days=(2, 4),
        phone_wait_median_s=540.0,
        app_share=0.25,
        return_methods=(("drop_off", 0.75), ("store_return", 0.15), ("courier_pickup", 0.10)),
    ),
    Country(
        code="JP",
        weight=0.15,
        currency="JPY",
        per_usd=150.0,
        decimals=0,
        timezone="Asia/Tokyo",
        utc_offset_hours=9,
        lang="en",  # Japanese customers' text is written in English in the demo
        regions=(
            Region("JP-13", 0.50, "TYO-01"),  # Tokyo
            Region("JP-27", 0.30, "OSA-01"),  # Osaka
            Region("JP-01", 0.20, None),  # Hokkaido
        ),
        payments=(("card", 0.55), ("konbini", 0.24), ("paypay", 0.16), ("cash_on_delivery", 0.05)),
        support=(("phone", 0.50), ("email", 0.36), ("chat", 0.14)),
        # Golden Week in May and the August holidays
        season=(0.5, 0.5, 0.8, 1.3, 1.9, 1.0, 1.4, 1.9, 1.2, 1.1, 0.8, 0.8),
        delivery_days=(1, 3),
        phone_wait_median_s=480.0,
        app_share=0.40,
        return_methods=(("courier_pickup", 0.50), ("drop_off", 0.35), ("store_return", 0.15)),
    ),
)


@dataclass(frozen=True)
class Persona:
    """How one kind of customer behaves. Probabilities are per purchase mission."""

    id: str
    name: str
    weight: float
    account: float
    """Has an online account."""
    loyalty: float
    """Is a loyalty member."""
    missions: float
    """Mean purchase missions a year (each at least one)."""
    entry: tuple[tuple[str, float], ...]
    """How a mission starts: review, search, email, social or app."""
    views: float
    """Mean extra product views in a visit."""
    login: float
    """Logs in on the web when she has an account."""
    exit: float
    """Leaves the product page to compare prices."""
    coupon_return: float
    """Comes back through the retargeting coupon after leaving."""
    other_return: float
    """Comes back on her own (search or email) after leaving."""
    cart: float
    """Adds to the cart when she did not leave."""
    guest: float
    """Checks out as a guest although she has an account (forgot the password, in a hurry)."""
    abandon: float
    """Abandons the checkout."""
    store_visits: float
    """Mean extra store visits a year (members near a store)."""
    review: float
    """Posts a review after an order."""
    survey: float
    """Answers a survey when asked."""
    newsletter: float
    """Mean newsletter opens a year."""
    basket_usd: float
    """Typical order value before the product price (accessories)."""


PERSONAS: tuple[Persona, ...] = (
    Persona(
        id="weekend-camper",
        name="Loyal weekend camper",
        weight=0.35,
        account=0.92,
        loyalty=0.80,
        missions=2.6,
        entry=(
            ("review", 0.25),
            ("search", 0.20),
            ("email", 0.25),
            ("social", 0.05),
            ("app", 0.25),
        ),
        views=1.5,
        login=0.55,
        exit=0.35,
        coupon_return=0.40,
        other_return=0.25,
        cart=0.75,
        guest=0.30,
        abandon=0.10,
        store_visits=2.0,
        review=0.12,
        survey=0.35,
        newsletter=9.0,
        basket_usd=25.0,
    ),
    Persona(
        id="deal-seeker",
        name="Deal-seeking first-timer",
        weight=0.45,
        account=0.30,
        loyalty=0.10,
        missions=1.3,
        entry=(
            ("review", 0.15),
            ("search", 0.45),
            ("email", 0.05),
            ("social", 0.30),
            ("app", 0.05),
        ),
        views=2.5,
        login=0.25,
        exit=0.60,
        coupon_return=0.45,
        other_return=0.10,
        cart=0.55,
        guest=0.55,
        abandon=0.22,
        store_visits=0.3,
        review=0.05,
        survey=0.15,
        newsletter=2.0,
        basket_usd=5.0,
    ),
    Persona(
        id="gear-expert",
        name="Gear expert",
        weight=0.20,
        account=0.75,
        loyalty=0.45,
        missions=3.2,
        entry=(
            ("review", 0.45),
            ("search", 0.30),
            ("email", 0.10),
            ("social", 0.05),
            ("app", 0.10),
        ),
        views=4.0,
        login=0.65,
        exit=0.40,
        coupon_return=0.20,
        other_return=0.35,
        cart=0.65,
        guest=0.15,
        abandon=0.12,
        store_visits=1.0,
        review=0.30,
        survey=0.30,
        newsletter=5.0,
        basket_usd=40.0,
    ),
)


@dataclass(frozen=True)
class Category:
    """A product category with its products (slug, USD price) and share of missions."""

    id: str
    weight: float
    products: tuple[tuple[str, float], ...]
    campaign: str


CATEGORIES: tuple[Category, ...] = (
    Category(
        "backpacks",
        0.40,
        (("summit-45", 189.0), ("trail-28", 119.0), ("ridge-65", 249.0), ("daypack-18", 69.0)),
        "summit-coupon-15",
    ),
    Category("tents", 0.18, (("basecamp-2p", 329.0), ("ultralight-1p", 399.0)), "gear-coupon-10"),
    Category(
        "sleeping-bags", 0.14, (("alpine-down-0c", 279.0), ("summer-10c", 99.0)), "gear-coupon-10"
    ),
    Category("boots", 0.16, (("scree-mid", 169.0), ("trail-runner", 139.0)), "gear-coupon-10"),
    Category(
        "jackets", 0.12, (("storm-shell", 229.0), ("fleece-midlayer", 89.0)), "gear-coupon-10"
    ),
)

COLOURS: tuple[str, ...] = ("forest-green", "red", "navy", "black", "sand")
