"""The demo company's customers: who they are, which ids they have, what devices they use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from journeymap.demo.company import COUNTRIES, PERSONAS, YEAR

__all__ = ["DAY", "HOUR", "MINUTE", "SECOND", "T0", "T1", "Population", "draw_population"]

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = int(datetime(YEAR, 1, 1, tzinfo=UTC).timestamp() * 1000)
"""Start of the demo year, in ms since the epoch."""
T1 = int(datetime(YEAR + 1, 1, 1, tzinfo=UTC).timestamp() * 1000)

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

TIERS = ("basic", "silver", "gold")
SHARED_DEVICE_SHARE = 0.004
"""Share of customers with an account who also log in on another customer's tablet."""


@dataclass(frozen=True)
class Population:
    """Arrays indexed by person (0..n-1), plus the devices (anonymous ids) they use."""

    n: int
    country: Ints
    region: Ints
    """Index into :attr:`region_codes`."""
    region_codes: tuple[str, ...]
    region_store: tuple[str | None, ...]
    persona: Ints
    has_account: Bools
    signup: Ints
    """When the account was created (ms); meaningless without an account."""
    member: Bools
    joined: Ints
    """When she joined the loyalty programme (ms); meaningless for non-members."""
    tier: Ints
    app_user: Bools
    device_start: Ints
    device_count: Ints
    device_owner: Ints
    shared_device: Ints
    """A device of another customer this one also logs in on, or -1."""

    @property
    def devices(self) -> int:
        return int(self.device_owner.size)

    def region_of(self, person: Ints) -> Ints:
        return self.region[person]


def _pick(rng: np.random.Generator, weights: npt.ArrayLike, n: int) -> Ints:
    w = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(w), size=n, p=w / w.sum()).astype(np.int64)


def _past_or_year(rng: np.random.Generator, n: int, *, in_year: float) -> Ints:
    """Times: a share ``in_year`` during the demo year, the rest in the three years before."""
    during = rng.random(n) < in_year
    before = T0 - (rng.random(n) * 3 * 365 * DAY).astype(np.int64) - DAY
    inside = T0 + (rng.random(n) * 330 * DAY).astype(np.int64)
    return np.where(during, inside, before)


def draw_population(rng: np.random.Generator, n: int) -> Population:
    """Draw ``n`` customers: country, region, persona, account, loyalty, devices."""
    country = _pick(rng, [c.weight for c in COUNTRIES], n)
    region_codes: list[str] = []
    region_store: list[str | None] = []
    region = np.zeros(n, dtype=np.int64)
    for ci, c in enumerate(COUNTRIES):
        mine = np.flatnonzero(country == ci)
        region[mine] = len(region_codes) + _pick(rng, [r.weight for r in c.regions], mine.size)
        region_codes += [r.code for r in c.regions]
        region_store += [r.store for r in c.regions]
    persona = _pick(rng, [p.weight for p in PERSONAS], n)
    account_p = np.array([p.account for p in PERSONAS])[persona]
    loyalty_p = np.array([p.loyalty for p in PERSONAS])[persona]
    has_account = rng.random(n) < account_p
    signup = _past_or_year(rng, n, in_year=0.25)
    member = rng.random(n) < loyalty_p
    joined = _past_or_year(rng, n, in_year=0.20)
    # weekend campers climb to gold; everyone else mostly stays basic or silver
    gold = np.where(persona == 0, 0.35, 0.12)
    u = rng.random(n)
    tier = np.where(u < gold, 2, np.where(u < gold + 0.35, 1, 0)).astype(np.int64)
    app_share = np.array([c.app_share for c in COUNTRIES])[country]
    app_user = has_account & (rng.random(n) < app_share)
    device_count = 1 + rng.binomial(2, 0.35, n).astype(np.int64)
    device_start = np.concatenate([[0], np.cumsum(device_count)[:-1]]).astype(np.int64)
    device_owner = np.repeat(np.arange(n, dtype=np.int64), device_count)
    # A few account holders also log in on someone else's tablet (a family device):
    # the identity graph then links two user ids through one anonymous id.
    shared_device = np.full(n, -1, dtype=np.int64)
    holders = np.flatnonzero(has_account)
    if holders.size > 1:
        sharers = holders[rng.random(holders.size) < SHARED_DEVICE_SHARE]
        hosts = holders[rng.integers(0, holders.size, sharers.size)]
        ok = hosts != sharers
        shared_device[sharers[ok]] = device_start[hosts[ok]]
    return Population(
        n=n,
        country=country,
        region=region,
        region_codes=tuple(region_codes),
        region_store=tuple(region_store),
        persona=persona,
        has_account=has_account,
        signup=signup,
        member=member,
        joined=joined,
        tier=tier,
        app_user=app_user,
        device_start=device_start,
        device_count=device_count,
        device_owner=device_owner,
        shared_device=shared_device,
    )
