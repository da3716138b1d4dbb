"""What the demo company's customers do online: accounts and purchase missions.

Everything is drawn for all customers at once, step by step through the funnel of the
backpack map: a first touch (review, search, newsletter, social post or the app),
product views, leaving to compare prices, the retargeting coupon that brings some
back, checkout (as a guest even with an account, when the password is forgotten),
payment and the order. What follows an order is in :mod:`journeymap.demo.service`;
newsletters, ads, app use and store visits in :mod:`journeymap.demo.background`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.demo.background import add_ads, add_app_opens, add_newsletters, add_store_visits
from journeymap.demo.columns import (
    Quoted,
    build_json,
    format_fixed_ids,
    pick,
    pick_bools,
)
from journeymap.demo.company import CATEGORIES, COLOURS, YEAR
from journeymap.demo.draws import (
    CAMPAIGNS,
    CATEGORY_IDS,
    COUPONS,
    DISCOUNT,
    ENTRIES,
    ENTRY_WEIGHTS,
    NETWORKS,
    PAYMENT_METHODS,
    PERSONA,
    PRICES,
    PRODUCT_CATEGORY,
    PRODUCTS,
    SEARCHES,
    Bools,
    Context,
    Floats,
    Ints,
    Truth,
    between,
    chain,
    choose,
    choose_by_country,
    json_ints,
    money,
    month_of,
    seasonal_times,
)
from journeymap.demo.log import (
    ANON,
    CHANNELS,
    EMAIL,
    LOYALTY,
    ORDER,
    USER,
    EventLog,
    FeedbackLog,
    LinkLog,
    code,
)
from journeymap.demo.population import DAY, HOUR, MINUTE, SECOND, T0, Population
from journeymap.demo.service import Orders, serve_orders

__all__ = ["simulate"]


def simulate(
    rng: np.random.Generator,
    pop: Population,
    events: EventLog,
    links: LinkLog,
    feedback: FeedbackLog,
) -> tuple[Truth, int]:
    """Run the year: fill the logs; return what really happened and how many order ids
    (orders and store receipts) were made."""
    ctx = Context(rng, pop, events, links, feedback)
    _accounts(ctx)
    truth = _missions(ctx)
    add_newsletters(ctx)
    add_ads(ctx)
    add_app_opens(ctx)
    add_store_visits(ctx)
    return truth, ctx.next_order


def _accounts(ctx: Context) -> None:
    """Account and loyalty sign-ups: the links that later tie guest orders to a member."""
    pop, rng = ctx.pop, ctx.rng
    holders = np.flatnonzero(pop.has_account)
    ctx.links.add(
        kind_a=USER,
        entity_a=holders,
        kind_b=EMAIL,
        entity_b=holders,
        ts=pop.signup[holders],
        source="accounts",
    )
    fresh = holders[pop.signup[holders] >= T0]
    ctx.events.add(
        person=fresh,
        kind=USER,
        entity=fresh,
        ts=pop.signup[fresh],
        event="account_created",
        channel="web",
        source="demo-web",
        properties=build_json(
            [("method", Quoted(pick(("email", "social-login"), rng.integers(0, 2, fresh.size))))]
        ),
        session=ctx.sessions(fresh.size),
    )
    members = np.flatnonzero(pop.member)
    ctx.links.add(
        kind_a=LOYALTY,
        entity_a=members,
        kind_b=EMAIL,
        entity_b=members,
        ts=pop.joined[members],
        source="loyalty",
    )
    both = members[pop.has_account[members]]
    ctx.links.add(
        kind_a=LOYALTY,
        entity_a=both,
        kind_b=USER,
        entity_b=both,
        ts=np.maximum(pop.joined[both], pop.signup[both]),
        source="loyalty",
    )
    joins = members[pop.joined[members] >= T0]
    store = np.array([s is not None for s in pop.region_store])[pop.region[joins]]
    tiers = ("basic", "silver", "gold")
    ctx.events.add(
        person=joins,
        kind=LOYALTY,
        entity=joins,
        ts=pop.joined[joins],
        event="loyalty_join",
        channel=np.where(store, code(CHANNELS, "store"), code(CHANNELS, "web")).astype(np.int64),
        source="demo-crm",
        properties=build_json([("tier", Quoted(pick(tiers, pop.tier[joins])))]),
    )


@dataclass(frozen=True)
class _Missions:
    """One row per purchase mission, and how its events are added to the log."""

    person: Ints
    country: Ints
    persona: Ints
    start: Ints
    product: Ints
    category: Ints
    price: Floats
    colour: Ints
    entry: Ints
    app: Bools
    logged: Bools
    device: Ints
    web_kind: Ints
    web_entity: Ints
    channel: Ints
    session: Ints
    ctx: Context

    def emit(
        self,
        rows: Ints,
        ts: Ints,
        event: str,
        props: pa.Array,
        *,
        chan: Ints | None = None,
        sess: Ints | None = None,
        kind: Ints | None = None,
        entity: Ints | None = None,
    ) -> None:
        """Events of missions ``rows``; the optional arrays are aligned with ``rows``."""
        kinds = self.web_kind[rows] if kind is None else kind
        ents = self.web_entity[rows] if entity is None else entity
        chans = self.channel[rows] if chan is None else chan
        sessions = self.session[rows] if sess is None else sess
        for use_app in (False, True):
            sel = self.app[rows] == use_app
            if sel.any():
                self.ctx.events.add(
                    person=self.person[rows][sel],
                    kind=kinds[sel],
                    entity=ents[sel],
                    ts=ts[sel],
                    event=event,
                    channel=chans[sel],
                    source="demo-app" if use_app else "demo-web",
                    properties=props.filter(pa.array(sel)),
                    session=sessions[sel],
                )


def _draw_missions(ctx: Context) -> _Missions:
    """Missions (purchase journeys): who, when, what, from which device, signed in or not."""
    pop, rng = ctx.pop, ctx.rng
    n_missions = 1 + rng.poisson(PERSONA["missions"][pop.persona] - 1)
    person = np.repeat(np.arange(pop.n, dtype=np.int64), n_missions)
    m = person.size
    country = pop.country[person]
    persona = pop.persona[person]
    start = seasonal_times(rng, country)
    product = rng.integers(0, len(PRODUCTS), m)
    # the map's story is about backpacks: about half of all missions are for one
    backpacks = rng.random(m) < 0.3
    product[backpacks] = rng.integers(0, len(CATEGORIES[0].products), int(backpacks.sum()))
    category = PRODUCT_CATEGORY[product]
    price = PRICES[product]
    colour = rng.integers(0, len(COLOURS), m)
    entry = choose(rng, ENTRY_WEIGHTS[persona])
    account_ready = pop.has_account[person] & (pop.signup[person] < start)
    app = (entry == ENTRIES.index("app")) & pop.app_user[person] & account_ready
    entry[(entry == ENTRIES.index("app")) & ~app] = ENTRIES.index("search")
    logged = ~app & account_ready & (rng.random(m) < PERSONA["login"][persona])
    device = pop.device_start[person] + (rng.random(m) * pop.device_count[person]).astype(np.int64)
    borrowed = (pop.shared_device[person] >= 0) & (rng.random(m) < 0.5)
    device[borrowed] = pop.shared_device[person[borrowed]]
    # signed in on a borrowed tablet: only account holders borrow, so they sign in
    logged |= borrowed & account_ready & ~app
    web_kind = np.where(app | logged, USER, ANON).astype(np.int64)
    web_entity = np.where(app | logged, person, device)
    channel = np.where(app, code(CHANNELS, "app"), code(CHANNELS, "web")).astype(np.int64)
    session = ctx.sessions(m)
    return _Missions(
        person=person,
        country=country,
        persona=persona,
        start=start,
        product=product,
        category=category,
        price=price,
        colour=colour,
        entry=entry,
        app=app,
        logged=logged,
        device=device,
        web_kind=web_kind,
        web_entity=web_entity,
        channel=channel,
        session=session,
        ctx=ctx,
    )


def _missions(ctx: Context) -> Truth:
    """Every mission, through the funnel; then what follows each placed order."""
    ms = _draw_missions(ctx)
    _sign_in(ms)
    _first_touch(ms)
    t = _browse(ms)
    buying, coupon, sess = _compare(ms, t)
    return _checkout(ms, t, buying, coupon, sess)


def _sign_in(ms: _Missions) -> None:
    """Signing in on the web ties the browser's anonymous id to the account."""
    device, logged, person, start = ms.device, ms.logged, ms.person, ms.start
    ctx = ms.ctx
    sign_in = np.flatnonzero(logged)
    ctx.links.add(
        kind_a=ANON,
        entity_a=device[sign_in],
        kind_b=USER,
        entity_b=person[sign_in],
        ts=start[sign_in],
        source="web-login",
    )


def _first_touch(ms: _Missions) -> None:
    """How each mission starts: a review, a search, a newsletter, a social post or the app."""
    ctx, rng = ms.ctx, ms.ctx.rng
    person = ms.person
    country = ms.country
    start = ms.start
    product = ms.product
    category = ms.category
    entry = ms.entry
    app = ms.app
    device = ms.device
    emit = ms.emit
    rows = np.flatnonzero(entry == ENTRIES.index("review"))
    referrer = pick(
        ("hiking-blog.example/reviews", "gear-forum.example/threads", "hiking-blog.example/lists"),
        rng.integers(0, 3, rows.size),
    )
    emit(
        rows,
        start[rows],
        "review_view",
        build_json(
            [
                ("referrer", Quoted(referrer)),
                ("product", Quoted(pick(PRODUCTS, product[rows]))),
                ("category", Quoted(pick(CATEGORY_IDS, category[rows]))),
            ]
        ),
        chan=np.full(rows.size, code(CHANNELS, "web")),
    )
    rows = np.flatnonzero(entry == ENTRIES.index("search"))
    queries = [q for c in CATEGORY_IDS for q in SEARCHES[c]]
    q_start = np.cumsum([0] + [len(SEARCHES[c]) for c in CATEGORY_IDS])[:-1]
    q_len = np.array([len(SEARCHES[c]) for c in CATEGORY_IDS])
    q = q_start[category[rows]] + (rng.random(rows.size) * q_len[category[rows]]).astype(np.int64)
    engine = np.where(
        country[rows] == 0,
        np.where(rng.random(rows.size) < 0.7, 1, 0),  # naver leads in Korea
        np.where(rng.random(rows.size) < 0.85, 0, 2),
    )
    emit(
        rows,
        start[rows],
        "search",
        build_json(
            [
                ("query", Quoted(pick(queries, q))),
                ("engine", Quoted(pick(("google", "naver", "bing"), engine))),
            ]
        ),
        chan=np.full(rows.size, code(CHANNELS, "search")),
    )
    rows = np.flatnonzero(entry == ENTRIES.index("email"))
    campaign = pick(
        tuple(f"newsletter-{YEAR}-{k:02d}" for k in range(1, 13)), month_of(start[rows])
    )
    opened = start[rows] - between(rng, rows.size, 10 * MINUTE, 2 * DAY)
    for event, ts in (("email_open", opened), ("email_click", start[rows])):
        ctx.events.add(
            person=person[rows],
            kind=EMAIL,
            entity=person[rows],
            ts=ts,
            event=event,
            channel="email",
            source="demo-email",
            properties=build_json([("campaign", Quoted(campaign))]),
        )
    ctx.links.add(
        kind_a=EMAIL,
        entity_a=person[rows],
        kind_b=ANON,
        entity_b=device[rows],
        ts=start[rows],
        source="email-click",
    )
    rows = np.flatnonzero(entry == ENTRIES.index("social"))
    network = np.where(
        country[rows] == 0, 2 + rng.integers(0, 2, rows.size), rng.integers(0, 2, rows.size)
    )
    emit(
        rows,
        start[rows],
        "social_click",
        build_json(
            [
                ("network", Quoted(pick(NETWORKS, network))),
                ("category", Quoted(pick(CATEGORY_IDS, category[rows]))),
            ]
        ),
        chan=np.full(rows.size, code(CHANNELS, "social")),
    )
    rows = np.flatnonzero(app)
    emit(rows, start[rows], "app_open", build_json([("screen", '"home"')], size=rows.size))


def _browse(ms: _Missions) -> Ints:
    """Product views; returns each mission's clock after its last view."""
    rng, m = ms.ctx.rng, ms.person.size
    country = ms.country
    persona = ms.persona
    start = ms.start
    product = ms.product
    category = ms.category
    price = ms.price
    emit = ms.emit
    views = 1 + rng.poisson(PERSONA["views"][persona])
    first = start + between(rng, m, 5 * SECOND, 60 * SECOND)
    row, ts, last = chain(rng, first, views, 20 * SECOND, 180 * SECOND)
    amount, currency = money(price[row], country[row])
    emit(
        row,
        ts,
        "product_view",
        build_json(
            [
                ("page", '"product"'),
                ("category", Quoted(pick(CATEGORY_IDS, category[row]))),
                ("product", Quoted(pick(PRODUCTS, product[row]))),
                ("price", amount),
                ("currency", Quoted(currency)),
            ]
        ),
    )
    return last


def _compare(ms: _Missions, t: Ints) -> tuple[Bools, Bools, Ints]:
    """Leaving to compare prices, the retargeting coupon, coming back, or the cart.

    Moves the clocks ``t``; returns who goes on to check out, who has a coupon and each
    mission's session at checkout."""
    ctx, rng, m = ms.ctx, ms.ctx.rng, ms.person.size
    person = ms.person
    country = ms.country
    persona = ms.persona
    product = ms.product
    category = ms.category
    price = ms.price
    colour = ms.colour
    app = ms.app
    device = ms.device
    session = ms.session
    emit = ms.emit
    leaves = rng.random(m) < PERSONA["exit"][persona] * np.where(app, 0.5, 1.0)
    carted_first = leaves & (rng.random(m) < 0.3)
    stays_carts = ~leaves & (rng.random(m) < PERSONA["cart"][persona])
    rows = np.flatnonzero(carted_first | stays_carts)
    t[rows] += between(rng, rows.size, 10 * SECOND, 90 * SECOND)
    emit(
        rows,
        t[rows],
        "cart_add",
        build_json(
            [
                ("product", Quoted(pick(PRODUCTS, product[rows]))),
                ("colour", Quoted(pick(COLOURS, colour[rows]))),
                ("quantity", "1"),
            ]
        ),
    )
    rows = np.flatnonzero(leaves)
    t[rows] += between(rng, rows.size, 20 * SECOND, 5 * MINUTE)
    exit_ts = t.copy()
    emit(
        rows,
        t[rows],
        "site_exit",
        build_json(
            [
                (
                    "last_page",
                    Quoted(pick(("product", "cart"), carted_first[rows].astype(np.int64))),
                ),
                ("to", '"price-comparison"'),
            ]
        ),
    )
    # retargeting: an ad a few hours later; some click the coupon and come back
    shown = leaves & ~app & (rng.random(m) < 0.85)
    rows = np.flatnonzero(shown)
    ad_ts = exit_ts[rows] + between(rng, rows.size, 2 * HOUR, 30 * HOUR)
    ctx.events.add(
        person=person[rows],
        kind=ANON,
        entity=device[rows],
        ts=ad_ts,
        event="ad_impression",
        channel="ads",
        source="demo-ads",
        properties=build_json(
            [("campaign", Quoted(pick(CAMPAIGNS, category[rows]))), ("network", '"display"')]
        ),
    )
    clicks = shown.copy()
    clicks[rows] = rng.random(rows.size) < PERSONA["coupon_return"][persona[rows]] / 0.85
    coupon = np.zeros(m, dtype=bool)
    rows_c = np.flatnonzero(clicks)
    ad_at = np.zeros(m, dtype=np.int64)
    ad_at[rows] = ad_ts
    click_ts = ad_at[rows_c] + between(rng, rows_c.size, 5 * SECOND, 2 * HOUR)
    hours = (click_ts - exit_ts[rows_c]) // HOUR
    ctx.events.add(
        person=person[rows_c],
        kind=ANON,
        entity=device[rows_c],
        ts=click_ts,
        event="coupon_click",
        channel="ads",
        source="demo-ads",
        properties=build_json(
            [
                ("coupon", Quoted(pick(COUPONS, category[rows_c]))),
                ("campaign", Quoted(pick(CAMPAIGNS, category[rows_c]))),
                ("hours_since_exit", json_ints(hours)),
            ]
        ),
    )
    coupon[rows_c] = True
    t[rows_c] = click_ts
    own = leaves & ~coupon & (rng.random(m) < PERSONA["other_return"][persona])
    rows_o = np.flatnonzero(own)
    t[rows_o] = exit_ts[rows_o] + between(rng, rows_o.size, 3 * HOUR, 6 * DAY)
    back = np.flatnonzero(coupon | own)
    back_session = ctx.sessions(back.size)
    t[back] += between(rng, back.size, 5 * SECOND, 40 * SECOND)
    amount, currency = money(price[back], country[back])
    emit(
        back,
        t[back],
        "product_view",
        build_json(
            [
                ("page", '"product"'),
                ("category", Quoted(pick(CATEGORY_IDS, category[back]))),
                ("product", Quoted(pick(PRODUCTS, product[back]))),
                ("price", amount),
                ("currency", Quoted(currency)),
                ("hours_since_exit", json_ints((t[back] - exit_ts[back]) // HOUR)),
            ]
        ),
        sess=back_session,
    )
    sess = session.copy()
    sess[back] = back_session
    return stays_carts | coupon | own, coupon, sess


def _checkout(ms: _Missions, t: Ints, buying: Bools, coupon: Bools, sess: Ints) -> Truth:
    """Checkout (as a guest or with the account), payment and the order."""
    ctx, rng, m = ms.ctx, ms.ctx.rng, ms.person.size
    pop = ctx.pop
    person = ms.person
    country = ms.country
    persona = ms.persona
    product = ms.product
    category = ms.category
    price = ms.price
    colour = ms.colour
    app = ms.app
    device = ms.device
    emit = ms.emit
    rows = np.flatnonzero(buying)
    t[rows] += between(rng, rows.size, 30 * SECOND, 4 * MINUTE)
    ready = pop.has_account[person] & (pop.signup[person] < t)
    guest = ~ready | (~app & (rng.random(m) < PERSONA["guest"][persona]))
    abandon = rng.random(m) < PERSONA["abandon"][persona] + 0.05 * guest
    cart_usd = price + np.where(
        rng.random(m) < 0.5, PERSONA["basket_usd"][persona] * np.exp(rng.normal(0, 0.6, m)), 0.0
    )
    value_usd = cart_usd * (1 - np.where(coupon, DISCOUNT[category], 0.0))
    user_ids = format_fixed_ids("u", np.arange(pop.n, dtype=np.int64), 8)
    for is_guest, event in ((True, "checkout_guest"), (False, "checkout_account")):
        r = rows[guest[rows] == is_guest]
        amount, currency = money(value_usd[r], country[r])
        coupon_code = pc.if_else(
            pa.array(coupon[r]), pick(COUPONS, category[r]), pa.scalar(None, pa.string())
        )
        emit(
            r,
            t[r],
            event,
            build_json(
                [
                    ("cart_value", amount),
                    ("currency", Quoted(currency)),
                    ("coupon", Quoted(coupon_code)),
                ]
            ),
            sess=sess[r],
            kind=np.full(r.size, ANON if is_guest else USER, dtype=np.int64),
            entity=device[r] if is_guest else person[r],
        )
    placed = buying & ~abandon
    rows = np.flatnonzero(placed)
    order = np.full(m, -1, dtype=np.int64)
    order[rows] = ctx.orders(rows.size)
    order_ids = format_fixed_ids("o", order[rows], 10)
    pay_ts = t[rows] + between(rng, rows.size, 60 * SECOND, 4 * MINUTE)
    order_ts = pay_ts + between(rng, rows.size, 2 * SECOND, 10 * SECOND)
    method = choose_by_country(rng, country[rows], "payments", PAYMENT_METHODS)
    amount, currency = money(value_usd[rows], country[rows])
    g = guest[rows]
    kinds = np.where(g, ANON, USER).astype(np.int64)
    ents = np.where(g, device[rows], person[rows])
    emit(
        rows,
        pay_ts,
        "payment",
        build_json(
            [
                ("order_id", Quoted(order_ids)),
                ("method", Quoted(pick(PAYMENT_METHODS, method))),
                ("amount", amount),
                ("currency", Quoted(currency)),
            ]
        ),
        sess=sess[rows],
        kind=kinds,
        entity=ents,
    )
    account_id = pc.if_else(
        pa.array(~g), user_ids.take(pa.array(person[rows])), pa.scalar(None, pa.string())
    )
    coupon_code = pc.if_else(
        pa.array(coupon[rows]), pick(COUPONS, category[rows]), pa.scalar(None, pa.string())
    )
    member_price = ~g & pop.member[person[rows]]
    emit(
        rows,
        order_ts,
        "order_placed",
        build_json(
            [
                ("order_id", Quoted(order_ids)),
                ("value", amount),
                ("currency", Quoted(currency)),
                ("payment_method", Quoted(pick(PAYMENT_METHODS, method))),
                ("product", Quoted(pick(PRODUCTS, product[rows]))),
                ("category", Quoted(pick(CATEGORY_IDS, category[rows]))),
                ("colour_ordered", Quoted(pick(COLOURS, colour[rows]))),
                ("coupon", Quoted(coupon_code)),
                ("account_id", Quoted(account_id)),
                ("member_price", pick_bools(member_price)),
            ]
        ),
        sess=sess[rows],
        kind=kinds,
        entity=ents,
    )
    gr, ar = rows[g], rows[~g]
    ctx.links.add(
        kind_a=ANON,
        entity_a=device[gr],
        kind_b=ORDER,
        entity_b=order[gr],
        ts=order_ts[g],
        source="checkout",
    )
    ctx.links.add(
        kind_a=ORDER,
        entity_a=order[gr],
        kind_b=EMAIL,
        entity_b=person[gr],
        ts=order_ts[g],
        source="checkout",
    )
    ctx.links.add(
        kind_a=USER,
        entity_a=person[ar],
        kind_b=ORDER,
        entity_b=order[ar],
        ts=order_ts[~g],
        source="checkout",
    )

    truth = Truth(
        missions=np.bincount(person, minlength=pop.n).astype(np.int64),
        orders=np.bincount(person[rows], minlength=pop.n).astype(np.int64),
        guest_orders=np.bincount(person[gr], minlength=pop.n).astype(np.int64),
        wrong_deliveries=np.zeros(pop.n, dtype=np.int64),
        late_deliveries=np.zeros(pop.n, dtype=np.int64),
        support_contacts=np.zeros(pop.n, dtype=np.int64),
    )
    serve_orders(
        ctx,
        truth,
        Orders(
            person=person[rows],
            country=country[rows],
            persona=persona[rows],
            order=order[rows],
            order_ids=order_ids,
            ts=order_ts,
            colour=colour[rows],
            guest=g,
        ),
    )
    return truth
