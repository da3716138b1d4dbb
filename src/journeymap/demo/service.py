"""After the order: delivery, support, returns, classes, reviews and surveys.

Deliveries are late more often in the season's peak and sometimes bring the wrong
colour; support contacts follow (phone queues with heavy-tailed waits, chat, email),
then returns and replacements; review and survey scores follow what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.demo.columns import (
    Quoted,
    build_json,
    pick,
    pick_bools,
)
from journeymap.demo.company import COLOURS, COUNTRIES
from journeymap.demo.draws import (
    CARRIERS,
    CLASS,
    COUNTRY,
    PERSONA,
    RETURN_METHODS,
    SUPPORT,
    Bools,
    Context,
    Floats,
    Ints,
    Truth,
    choose_by_country,
    in_peak,
    json_ints,
    money,
    on_monday,
)
from journeymap.demo.log import (
    EMAIL,
    LOYALTY,
    ORDER,
)
from journeymap.demo.population import DAY, HOUR, MINUTE, SECOND
from journeymap.demo.text import TOPIC_ORDER, compose_comments

__all__ = ["Orders", "serve_orders"]


@dataclass(frozen=True)
class Orders:
    """Placed orders, one row each."""

    person: Ints
    country: Ints
    persona: Ints
    order: Ints
    order_ids: pa.Array
    ts: Ints
    colour: Ints
    guest: Bools


def _score(value: Floats, lo: int, hi: int) -> Floats:
    return np.clip(np.rint(value), lo, hi).astype(np.float64)


@dataclass(frozen=True)
class _Delivered:
    ts: Ints
    late: Bools
    days_late: Ints
    wrong: Bools
    peak: Bools
    carrier: pa.Array


@dataclass(frozen=True)
class _Supported:
    contact: Bools
    reasons: pa.Array
    end: Ints
    """When the last contact about the order ended (its start when there was none)."""
    wait_s: Floats
    abandoned: Bools
    found: Bools
    """The agent found the customer's loyalty record."""


def serve_orders(ctx: Context, truth: Truth, o: Orders) -> None:
    """Delivery, support, returns, classes, reviews and surveys of placed orders."""
    pop = ctx.pop
    store_of = pick(tuple(s or "none" for s in pop.region_store), pop.region[o.person])
    delivered = _deliver(ctx, truth, o)
    supported = _support(ctx, truth, o, delivered, store_of)
    _return(ctx, o, delivered, supported, store_of)
    _collect_feedback(ctx, o, delivered, supported)


def _deliver(ctx: Context, truth: Truth, o: Orders) -> _Delivered:
    """Deliveries: late in the season's peak, sometimes the wrong colour."""
    rng = ctx.rng
    n = o.person.size
    peak = in_peak(o.ts, o.country)
    lo, hi = COUNTRY["lo"][o.country], COUNTRY["hi"][o.country]
    lead = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    delayed = rng.random(n) < np.where(peak, 0.14, 0.06)
    lead = lead + np.where(delayed, rng.integers(1, 5, n), 0)
    days_late = np.maximum(lead - hi, 0)
    late = days_late > 0
    wrong = rng.random(n) < np.where(peak, 0.045, 0.025)
    delivered = np.where(
        wrong, (o.colour + rng.integers(1, len(COLOURS), n)) % len(COLOURS), o.colour
    )
    local_day = (o.ts + lead * DAY) // DAY * DAY
    deliver_ts = np.maximum(
        local_day + rng.integers(9 * HOUR, 19 * HOUR, n) - COUNTRY["offset"][o.country] * HOUR,
        o.ts + HOUR,
    )
    carrier = pick(tuple(CARRIERS[c.code] for c in COUNTRIES), o.country)
    ctx.events.add(
        person=o.person,
        kind=ORDER,
        entity=o.order,
        ts=deliver_ts,
        event="delivery",
        channel="delivery",
        source="demo-carrier",
        properties=build_json(
            [
                ("order_id", Quoted(o.order_ids)),
                ("carrier", Quoted(carrier)),
                ("late", pick_bools(late)),
                ("days_late", json_ints(days_late)),
                ("variant_match", pick_bools(~wrong)),
                ("colour_ordered", Quoted(pick(COLOURS, o.colour))),
                ("colour_delivered", Quoted(pick(COLOURS, delivered))),
            ]
        ),
    )
    np.add.at(truth.wrong_deliveries, o.person[wrong], 1)
    np.add.at(truth.late_deliveries, o.person[late], 1)
    return _Delivered(
        ts=deliver_ts, late=late, days_late=days_late, wrong=wrong, peak=peak, carrier=carrier
    )


def _support(
    ctx: Context, truth: Truth, o: Orders, d: _Delivered, store_of: pa.Array
) -> _Supported:
    """Support contacts: the wrong colour almost always, late parcels often, questions
    rarely; by phone (a heavy-tailed queue), chat or email as the country prefers."""
    pop, rng = ctx.pop, ctx.rng
    n = o.person.size
    wrong, late, peak, deliver_ts = d.wrong, d.late, d.peak, d.ts
    reason = np.where(wrong, 0, np.where(late, 1, 2))
    reasons = pick(("wrong_item", "late", "question"), reason)
    contact = rng.random(n) < np.where(wrong, 0.85, np.where(late, 0.30, 0.03))
    via = choose_by_country(rng, o.country, "support", SUPPORT)
    t_s = deliver_ts + rng.integers(HOUR, 30 * HOUR, n)
    wait_s = np.zeros(n)
    abandoned = np.zeros(n, dtype=bool)
    found = np.zeros(n, dtype=bool)
    end = t_s.copy()
    member = pop.member[o.person]

    # phone: a heavy-tailed queue, longer on Mondays and in the season's peak
    ph = np.flatnonzero(contact & (via == 0))
    median = (
        COUNTRY["wait"][o.country[ph]]
        * np.where(on_monday(t_s[ph]), 1.6, 1.0)
        * np.where(peak[ph], 1.4, 1.0)
    )
    wait = median * np.exp(rng.normal(0, 0.9, ph.size))
    patience = 1200 * np.exp(rng.normal(0, 0.5, ph.size))
    hung_up = wait > patience
    heard = np.where(hung_up, patience, wait)
    callback = hung_up & (rng.random(ph.size) < 0.6)
    wait2 = np.where(callback, median * np.exp(rng.normal(0, 0.9, ph.size)), 0.0)
    t_cb = t_s[ph] + (heard * SECOND).astype(np.int64) + rng.integers(HOUR, DAY, ph.size)
    handle = rng.integers(4 * MINUTE, 15 * MINUTE, ph.size)
    found_ph = member[ph] & ~(hung_up & ~callback) & (rng.random(ph.size) < 1 / 3)
    for call, mask, w, t0 in (
        (0, np.ones(ph.size, dtype=bool), heard, t_s[ph]),
        (1, callback, wait2, t_cb),
    ):
        r = ph[mask]
        t_wait = t0[mask] + (w[mask] * SECOND).astype(np.int64)
        gave_up = hung_up[mask] if call == 0 else np.zeros(r.size, dtype=bool)
        outcome = np.where(gave_up, 0, np.where(rng.random(r.size) < 0.1, 2, 1))
        t_end = t_wait + np.where(gave_up, 0, handle[mask])
        base = [
            ("order_id", Quoted(o.order_ids.take(pa.array(r)))),
            ("reason", Quoted(reasons.take(pa.array(r)))),
        ]
        ctx.events.add(
            person=o.person[r],
            kind=ORDER,
            entity=o.order[r],
            ts=t0[mask],
            event="phone_call",
            channel="phone",
            source="demo-contact-centre",
            properties=build_json([*base, ("attempt", str(call + 1))]),
        )
        ctx.events.add(
            person=o.person[r],
            kind=ORDER,
            entity=o.order[r],
            ts=t_wait,
            event="support_wait",
            channel="phone",
            source="demo-contact-centre",
            properties=build_json(
                [*base, ("queue", '"phone"'), ("wait_seconds", json_ints(w[mask]))]
            ),
        )
        ctx.events.add(
            person=o.person[r],
            kind=ORDER,
            entity=o.order[r],
            ts=t_end,
            event="support_call",
            channel="phone",
            source="demo-contact-centre",
            properties=build_json(
                [
                    *base,
                    ("outcome", Quoted(pick(("abandoned", "resolved", "escalated"), outcome))),
                    ("handle_seconds", json_ints(np.where(gave_up, 0, handle[mask] // SECOND))),
                    ("agent_found_loyalty", pick_bools(found_ph[mask] & ~gave_up)),
                ]
            ),
        )
        end[r] = np.maximum(end[r], t_end)
    wait_s[ph] = heard + wait2
    abandoned[ph] = hung_up & ~callback
    found[ph] = found_ph

    # chat: short queues; email: replies within hours
    for which, event_in, event_out, queue, median_s, sigma in (
        (1, "chat_start", "chat_end", "chat", 90.0, 0.8),
        (2, "support_email", "support_reply", "email", 5 * 3600.0, 0.7),
    ):
        r = np.flatnonzero(contact & (via == which))
        w = median_s * np.exp(rng.normal(0, sigma, r.size))
        t_wait = t_s[r] + (w * SECOND).astype(np.int64)
        t_end = t_wait + rng.integers(3 * MINUTE, 15 * MINUTE, r.size)
        chan = "chat" if which == 1 else "email"
        base = [
            ("order_id", Quoted(o.order_ids.take(pa.array(r)))),
            ("reason", Quoted(reasons.take(pa.array(r)))),
        ]
        ctx.events.add(
            person=o.person[r],
            kind=ORDER,
            entity=o.order[r],
            ts=t_s[r],
            event=event_in,
            channel=chan,
            source="demo-contact-centre",
            properties=build_json(base),
        )
        ctx.events.add(
            person=o.person[r],
            kind=ORDER,
            entity=o.order[r],
            ts=t_wait,
            event="support_wait",
            channel=chan,
            source="demo-contact-centre",
            properties=build_json([*base, ("queue", f'"{queue}"'), ("wait_seconds", json_ints(w))]),
        )
        ctx.events.add(
            person=o.person[r],
            kind=ORDER,
            entity=o.order[r],
            ts=t_end,
            event=event_out,
            channel=chan,
            source="demo-contact-centre",
            properties=build_json([*base, ("outcome", '"resolved"')]),
        )
        wait_s[r] = w if which == 1 else 0.0  # an email reply time is not a queue wait
        end[r] = t_end
        found[r] = member[r] & (rng.random(r.size) < (0.5 if which == 1 else 0.2))
    np.add.at(truth.support_contacts, o.person[contact], 1)

    # a member recognised on the phone is offered a backpacking class
    r = ph[found_ph & (rng.random(ph.size) < 0.5)]
    ctx.events.add(
        person=o.person[r],
        kind=LOYALTY,
        entity=o.person[r],
        ts=end[r] + MINUTE,
        event="class_booked",
        channel="phone",
        source="demo-crm",
        properties=build_json(
            [("class", f'"{CLASS}"'), ("store_id", Quoted(store_of.take(pa.array(r))))]
        ),
    )
    return _Supported(
        contact=contact, reasons=reasons, end=end, wait_s=wait_s, abandoned=abandoned, found=found
    )


def _return(ctx: Context, o: Orders, d: _Delivered, s: _Supported, store_of: pa.Array) -> None:
    """Returns: the wrong colour goes back and a replacement is shipped; some return at
    the store."""
    pop, rng = ctx.pop, ctx.rng
    n = o.person.size
    wrong, late, deliver_ts, carrier = d.wrong, d.late, d.ts, d.carrier
    end, reasons = s.end, s.reasons
    near_store = np.array([r is not None for r in pop.region_store])[pop.region[o.person]]
    member = pop.member[o.person]
    returns = rng.random(n) < np.where(wrong, 0.9, np.where(late, 0.08, 0.02))
    method = choose_by_country(rng, o.country, "return_methods", RETURN_METHODS)
    method = np.where((method == 1) & ~near_store, 2, method)
    r = np.flatnonzero(returns)
    label_ts = np.maximum(end[r], deliver_ts[r]) + rng.integers(5 * MINUTE, 2 * HOUR, r.size)
    ctx.events.add(
        person=o.person[r],
        kind=ORDER,
        entity=o.order[r],
        ts=label_ts,
        event="return_label",
        channel="email",
        source="demo-orders",
        properties=build_json(
            [
                ("order_id", Quoted(o.order_ids.take(pa.array(r)))),
                ("method", Quoted(pick(RETURN_METHODS, method[r]))),
                ("reason", Quoted(reasons.take(pa.array(r)))),
            ]
        ),
    )
    again = r[wrong[r]]
    again_ts = label_ts[wrong[r]] + rng.integers(2 * DAY, 5 * DAY, again.size)
    ctx.events.add(
        person=o.person[again],
        kind=ORDER,
        entity=o.order[again],
        ts=again_ts,
        event="delivery",
        channel="delivery",
        source="demo-carrier",
        properties=build_json(
            [
                ("order_id", Quoted(o.order_ids.take(pa.array(again)))),
                ("carrier", Quoted(carrier.take(pa.array(again)))),
                ("late", "false"),
                ("days_late", "0"),
                ("variant_match", "true"),
                ("reshipment", "true"),
                ("colour_ordered", Quoted(pick(COLOURS, o.colour[again]))),
                ("colour_delivered", Quoted(pick(COLOURS, o.colour[again]))),
            ]
        ),
    )
    at_store = r[method[r] == 1]
    visit_ts = label_ts[method[r] == 1] + rng.integers(DAY, 5 * DAY, at_store.size)
    is_member = member[at_store]
    extra_usd = np.where(
        rng.random(at_store.size) < 0.5, 30 * np.exp(rng.normal(0, 0.5, at_store.size)), 0.0
    )
    amount, _ = money(extra_usd, o.country[at_store])
    ctx.events.add(
        person=o.person[at_store],
        kind=np.where(is_member, LOYALTY, ORDER).astype(np.int64),
        entity=np.where(is_member, o.person[at_store], o.order[at_store]),
        ts=visit_ts,
        event="store_visit",
        channel="store",
        source="demo-pos",
        local_time=True,
        properties=build_json(
            [
                ("store_id", Quoted(store_of.take(pa.array(at_store)))),
                ("purpose", '"exchange"'),
                ("basket_value", amount),
                ("member", pick_bools(is_member)),
            ]
        ),
    )


def _collect_feedback(ctx: Context, o: Orders, d: _Delivered, s: _Supported) -> None:
    """Reviews and surveys, whose scores follow the experience."""
    pop, rng = ctx.pop, ctx.rng
    n = o.person.size
    lang = (o.country == 0).astype(np.int64)  # 0: English, 1: Korean (see text.LANGS)
    member = pop.member[o.person]
    wrong, late, days_late, deliver_ts = d.wrong, d.late, d.days_late, d.ts
    contact, end, wait_s, abandoned, found = s.contact, s.end, s.wait_s, s.abandoned, s.found
    wait_min = np.minimum(wait_s / 60.0, 40.0)
    unrecognised = o.guest & member
    topic = np.full(n, TOPIC_ORDER.index("product"))
    topic = np.where(unrecognised, TOPIC_ORDER.index("guest"), topic)
    topic = np.where(late, TOPIC_ORDER.index("late"), topic)
    topic = np.where(contact & (abandoned | (wait_min > 10)), TOPIC_ORDER.index("queue"), topic)
    topic = np.where(wrong, TOPIC_ORDER.index("wrong_item"), topic)
    survey = PERSONA["survey"][o.persona]

    def answer(
        rows: Ints,
        ts: Ints,
        scale: str,
        score: Floats,
        about: str | None,
        *,
        text_share: float,
        topics: Ints,
        score5: Floats,
        source: str = "demo-surveys",
    ) -> None:
        has_text = rng.random(rows.size) < text_share
        comments = compose_comments(
            rng, topic=topics, lang=lang[rows], score5=score5.astype(np.int64)
        )
        text = pc.if_else(pa.array(has_text), comments, pa.scalar(None, pa.string()))
        ctx.feedback.add(
            person=o.person[rows],
            kind=EMAIL,
            entity=o.person[rows],
            ts=ts,
            scale=scale,
            score=score,
            about=about,
            lang=lang[rows],
            text=text,
            source=source,
        )

    r = np.flatnonzero(rng.random(n) < PERSONA["review"][o.persona])
    rating = _score(
        4.5
        - 2.2 * wrong[r]
        - 0.3 * days_late[r]
        - 0.04 * wait_min[r]
        - 0.8 * abandoned[r]
        - 0.4 * unrecognised[r]
        + rng.normal(0, 0.6, r.size),
        1,
        5,
    )
    review_ts = deliver_ts[r] + rng.integers(2 * DAY, 10 * DAY, r.size)
    ctx.events.add(
        person=o.person[r],
        kind=EMAIL,
        entity=o.person[r],
        ts=review_ts,
        event="review_posted",
        channel="web",
        source="demo-reviews",
        properties=build_json(
            [("order_id", Quoted(o.order_ids.take(pa.array(r)))), ("rating", json_ints(rating))]
        ),
    )
    answer(
        r,
        review_ts,
        "rating",
        rating,
        "purchase",
        text_share=0.9,
        topics=topic[r],
        score5=rating,
        source="demo-reviews",
    )

    r = np.flatnonzero(rng.random(n) < survey * 0.8)
    csat = _score(4.5 - 2.3 * wrong[r] - 0.35 * days_late[r] + rng.normal(0, 0.6, r.size), 1, 5)
    answer(
        r,
        deliver_ts[r] + DAY,
        "csat",
        csat,
        "delivery",
        text_share=0.4,
        topics=topic[r],
        score5=csat,
    )

    r = np.flatnonzero(contact & (rng.random(n) < np.minimum(survey * 1.2, 0.9)))
    csat = _score(
        4.4
        - 0.07 * wait_min[r]
        - 1.6 * abandoned[r]
        - 0.5 * wrong[r]
        + 0.5 * found[r]
        + rng.normal(0, 0.6, r.size),
        1,
        5,
    )
    support_topic = np.where(
        abandoned[r] | (wait_min[r] > 10),
        TOPIC_ORDER.index("queue"),
        TOPIC_ORDER.index("support_good"),
    )
    answer(
        r,
        end[r] + 2 * HOUR,
        "csat",
        csat,
        "support-call",
        text_share=0.5,
        topics=support_topic,
        score5=csat,
    )
    r = np.flatnonzero(contact & (rng.random(n) < survey * 0.6))
    ces = _score(6.2 - 0.09 * wait_min[r] - 2.0 * abandoned[r] + rng.normal(0, 0.8, r.size), 1, 7)
    answer(
        r,
        end[r] + 3 * HOUR,
        "ces",
        ces,
        "support-call",
        text_share=0.0,
        topics=topic[r],
        score5=np.ceil(ces * 5 / 7),
    )

    r = np.flatnonzero(rng.random(n) < survey * 0.5)
    nps = _score(
        8.6
        - 3.2 * wrong[r]
        - 0.5 * days_late[r]
        - 0.06 * wait_min[r]
        - 1.2 * unrecognised[r]
        + rng.normal(0, 1.4, r.size),
        0,
        10,
    )
    answer(
        r,
        deliver_ts[r] + 14 * DAY,
        "nps",
        nps,
        "loyalty",
        text_share=0.4,
        topics=topic[r],
        score5=np.ceil(np.maximum(nps, 1) / 2),
    )
