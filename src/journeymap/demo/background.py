"""Background activity: newsletters, ads, app use and store visits."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from journeymap.demo.columns import (
    Quoted,
    build_json,
    pick,
    pick_bools,
)
from journeymap.demo.company import YEAR
from journeymap.demo.draws import (
    PERSONA,
    Context,
    money,
    month_of,
    uniform_times,
)
from journeymap.demo.log import (
    ANON,
    EMAIL,
    LOYALTY,
    ORDER,
    USER,
)
from journeymap.demo.population import HOUR, MINUTE

__all__ = ["add_ads", "add_app_opens", "add_newsletters", "add_store_visits"]


def add_newsletters(ctx: Context) -> None:
    pop, rng = ctx.pop, ctx.rng
    counts = rng.poisson(PERSONA["newsletter"][pop.persona])
    person = np.repeat(np.arange(pop.n, dtype=np.int64), counts)
    ts = uniform_times(rng, pop.country[person])
    campaign = pick(tuple(f"newsletter-{YEAR}-{k:02d}" for k in range(1, 13)), month_of(ts))
    props = build_json([("campaign", Quoted(campaign))])
    ctx.events.add(
        person=person,
        kind=EMAIL,
        entity=person,
        ts=ts,
        event="email_open",
        channel="email",
        source="demo-email",
        properties=props,
    )
    clicked = rng.random(person.size) < 0.2
    ctx.events.add(
        person=person[clicked],
        kind=EMAIL,
        entity=person[clicked],
        ts=ts[clicked] + rng.integers(MINUTE, HOUR, int(clicked.sum())),
        event="email_click",
        channel="email",
        source="demo-email",
        properties=props.filter(pa.array(clicked)),
    )


def add_ads(ctx: Context) -> None:
    pop, rng = ctx.pop, ctx.rng
    counts = rng.poisson(2.5, pop.devices)
    device = np.repeat(np.arange(pop.devices, dtype=np.int64), counts)
    person = pop.device_owner[device]
    ts = uniform_times(rng, pop.country[person])
    ctx.events.add(
        person=person,
        kind=ANON,
        entity=device,
        ts=ts,
        event="ad_impression",
        channel="ads",
        source="demo-ads",
        properties=build_json(
            [
                ("campaign", '"brand-awareness"'),
                (
                    "network",
                    Quoted(pick(("display", "video", "social"), rng.integers(0, 3, person.size))),
                ),
            ],
            size=person.size,
        ),
    )


def add_app_opens(ctx: Context) -> None:
    pop, rng = ctx.pop, ctx.rng
    users = np.flatnonzero(pop.app_user)
    counts = rng.poisson(8.0, users.size)
    person = np.repeat(users, counts)
    ts = np.maximum(uniform_times(rng, pop.country[person]), pop.signup[person])
    screens = ("home", "orders", "loyalty-card", "store-finder", "classes")
    ctx.events.add(
        person=person,
        kind=USER,
        entity=person,
        ts=ts,
        event="app_open",
        channel="app",
        source="demo-app",
        properties=build_json(
            [("screen", Quoted(pick(screens, rng.integers(0, len(screens), person.size))))]
        ),
        session=ctx.sessions(person.size),
    )


def add_store_visits(ctx: Context) -> None:
    """Visits to the store of the region: members show their card, others get a receipt."""
    pop, rng = ctx.pop, ctx.rng
    near = np.array([s is not None for s in pop.region_store])[pop.region]
    mean = np.where(pop.member, PERSONA["store_visits"][pop.persona], 0.25)
    counts = np.where(near, rng.poisson(mean), 0)
    person = np.repeat(np.arange(pop.n, dtype=np.int64), counts)
    country = pop.country[person]
    ts = uniform_times(rng, country, open_hour=10)
    member = pop.member[person]
    buys = rng.random(person.size) < 0.6
    usd = np.where(buys, 60 * np.exp(rng.normal(0, 0.8, person.size)), 0.0)
    amount, _ = money(usd, country)
    receipts = ctx.orders(person.size)
    store = pick(tuple(s or "none" for s in pop.region_store), pop.region[person])
    ctx.events.add(
        person=person,
        kind=np.where(member, LOYALTY, ORDER).astype(np.int64),
        entity=np.where(member, person, receipts),
        ts=ts,
        event="store_visit",
        channel="store",
        source="demo-pos",
        local_time=True,
        properties=build_json(
            [
                ("store_id", Quoted(store)),
                ("purpose", Quoted(pick(("browse", "purchase"), buys.astype(np.int64)))),
                ("basket_value", amount),
                ("member", pick_bools(member)),
            ]
        ),
    )
