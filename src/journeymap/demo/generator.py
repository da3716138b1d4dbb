"""The demo company's data as Arrow tables in the event contract's shapes.

>>> data = generate_demo(customers=200, seed=1)
>>> data.events.schema.names == list(EVENTS.names)
True

Deterministic: the same ``seed`` and ``customers`` give the same rows, byte for byte.
Events come sorted by ``(actor_id, ts, event_id)``: identifiers are written with fixed
widths, so their lexical order is the order of integer keys that numpy sorts quickly,
and event ids are numbered after sorting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.analytics.events import EVENTS, FEEDBACK, IDENTITY_LINKS
from journeymap.demo.columns import format_fixed_ids, format_hex_ids, pick
from journeymap.demo.company import COUNTRIES, PERSONAS
from journeymap.demo.draws import Truth
from journeymap.demo.journeys import simulate
from journeymap.demo.log import (
    ANON,
    CHANNELS,
    EMAIL,
    FEEDBACK_ABOUT,
    KINDS,
    LOYALTY,
    ORDER,
    SCALES,
    SOURCES,
    USER,
    EventLog,
    FeedbackLog,
    LinkLog,
)
from journeymap.demo.log import EVENTS as EVENT_NAMES
from journeymap.demo.population import DAY, T0, TIERS, Population, draw_population

__all__ = ["CUSTOMERS_SCHEMA", "DemoData", "generate_demo"]

Ints = npt.NDArray[np.int64]

CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("persona", pa.string()),
        ("country", pa.string()),
        ("region", pa.string()),
        ("lang", pa.string()),
        ("home_store", pa.string()),
        ("has_account", pa.bool_()),
        ("user_id", pa.string()),
        ("email_hash", pa.string()),
        ("loyalty_member", pa.bool_()),
        ("loyalty_id", pa.string()),
        ("loyalty_tier", pa.string()),
        ("app_user", pa.bool_()),
        ("devices", pa.int64()),
        ("borrows_a_device", pa.bool_()),
        ("missions", pa.int64()),
        ("orders", pa.int64()),
        ("guest_orders", pa.int64()),
        ("wrong_deliveries", pa.int64()),
        ("late_deliveries", pa.int64()),
        ("support_contacts", pa.int64()),
    ]
)
"""The demo's ground truth, one row per person (``customer_id`` is never in events)."""

_MASK48 = np.uint64((1 << 48) - 1)
_TS_BITS = 36  # ms offsets up to ~795 days fit beside the identifier's rank
_EARLIEST = T0 - 30 * DAY


@dataclass(frozen=True)
class DemoData:
    """The demo company's tables: the contract's three plus the ground truth."""

    events: pa.Table
    identity_links: pa.Table
    feedback: pa.Table
    customers: pa.Table


def _mix(values: Ints, multiplier: int, offset: int) -> npt.NDArray[np.uint64]:
    """A bijection of [0, 2**48): ids that look random but never collide."""
    with np.errstate(over="ignore"):
        x = (values.astype(np.uint64) * np.uint64(multiplier) + np.uint64(offset)) & _MASK48
        x ^= x >> np.uint64(21)
        x = (x * np.uint64(0xD6E8FEB86659)) & _MASK48
        x ^= x >> np.uint64(19)
    return x


@dataclass(frozen=True)
class _Universe:
    """Every identifier as one sorted string array; ``rank`` maps (kind, entity) to it."""

    strings: pa.Array
    base: Ints
    ranks: tuple[Ints, ...]

    def gid(self, kind: npt.NDArray[np.integer], entity: Ints) -> Ints:
        out = np.empty(entity.size, dtype=np.int64)
        for k in range(len(KINDS)):
            sel = kind == k
            if sel.any():
                out[sel] = self.base[k] + self.ranks[k][entity[sel]]
        return out


def _hex_kind(prefix: str, mixed: npt.NDArray[np.uint64]) -> tuple[pa.Array, Ints]:
    order = np.argsort(mixed, kind="stable")
    rank = np.empty(mixed.size, dtype=np.int64)
    rank[order] = np.arange(mixed.size, dtype=np.int64)
    return format_hex_ids(prefix, mixed[order].astype(np.int64), 12), rank


def _subset_kind(prefix: str, has: npt.NDArray[np.bool_], width: int) -> tuple[pa.Array, Ints]:
    rank = np.cumsum(has, dtype=np.int64) - 1
    return format_fixed_ids(prefix, np.flatnonzero(has).astype(np.int64), width), rank


def _universe(pop: Population, orders: int) -> _Universe:
    loyalty = _subset_kind(KINDS[LOYALTY][1], pop.member, 9)
    anon = _hex_kind(
        KINDS[ANON][1], _mix(np.arange(pop.devices, dtype=np.int64), 0x9E3779B97F4B, 0x1F3D)
    )
    email = _hex_kind(
        KINDS[EMAIL][1], _mix(np.arange(pop.n, dtype=np.int64), 0xC2B2AE3D27D5, 0x7A11)
    )
    order_ids = np.arange(orders, dtype=np.int64)
    order = (format_fixed_ids(KINDS[ORDER][1], order_ids, 10), order_ids)
    user = _subset_kind(KINDS[USER][1], pop.has_account, 8)
    parts = [loyalty, anon, email, order, user]  # in KINDS order, the lexical order
    sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    strings = pa.concat_arrays([p[0] for p in parts])
    return _Universe(strings=strings, base=base, ranks=tuple(p[1] for p in parts))


def _timestamps(ms: Ints) -> pa.Array:
    return pa.array(ms * 1000, pa.timestamp("us", tz="UTC"))


def _ordered(gid: Ints, ts: Ints) -> Ints:
    """Row order by (identifier, time), ties kept in the order the rows were made."""
    offset = ts - _EARLIEST
    if offset.size and (offset.min() < 0 or offset.max() >= 1 << _TS_BITS):
        raise ValueError("a demo timestamp falls outside the range the sort key holds")
    key = (gid << _TS_BITS) | offset
    return np.argsort(key, kind="stable")


def _events_table(log: EventLog, pop: Population, uni: _Universe) -> pa.Table:
    """The events, sorted; empties ``log`` on the way to keep the peak memory down."""
    kind = log.column("kind").astype(np.int64)
    gid = uni.gid(kind, log.column("entity").astype(np.int64))
    ts = log.column("ts").astype(np.int64)
    order = _ordered(gid, ts)
    person = log.column("person")
    zone = np.where(log.column("local") == 1, pop.country[person], len(COUNTRIES))
    # the small codes travel together: one gather instead of six
    packed = (
        kind
        | (log.column("event").astype(np.int64) << 8)
        | (log.column("channel").astype(np.int64) << 24)
        | (log.column("source").astype(np.int64) << 32)
        | (zone.astype(np.int64) << 40)
        | (pop.region[person].astype(np.int64) << 48)
    )[order]
    session = log.column("session")[order]
    properties = pa.concat_arrays(log.properties)
    log.blocks.clear()
    log.properties.clear()
    del person, zone

    def code(shift: int, bits: int) -> Ints:
        field: Ints = (packed >> shift) & ((1 << bits) - 1)
        return field

    zones = (*(c.timezone for c in COUNTRIES), "UTC")
    none = pa.scalar(None, pa.string())
    jobs: dict[str, Callable[[], pa.Array]] = {
        "properties": lambda: properties.take(pa.array(order)),
        "actor_id": lambda: uni.strings.take(pa.array(gid[order])),
        "event_id": lambda: format_fixed_ids("ev", np.arange(order.size, dtype=np.int64), 12),
        "session_id": lambda: pc.if_else(
            pa.array(session < 0), none, format_fixed_ids("s", np.maximum(session, 0), 10)
        ),
        "ts": lambda: _timestamps(ts[order]),
        "actor_kind": lambda: pick(tuple(k for k, _ in KINDS), code(0, 8)),
        "event": lambda: pick(EVENT_NAMES, code(8, 16)),
        "channel": lambda: pick(CHANNELS, code(24, 8)),
        "source": lambda: pick(SOURCES, code(32, 8)),
        "source_tz": lambda: pick(zones, code(40, 8)),
        "region": lambda: pick(pop.region_codes, code(48, 15)),
    }
    # Arrow and numpy release the GIL in these kernels, so two threads use both cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        columns = {name: futures[name].result() for name in EVENTS.names}
    return pa.table(columns, schema=EVENTS.to_pyarrow())


def _links_table(log: LinkLog, uni: _Universe) -> pa.Table:
    ka, kb = log.column("kind_a"), log.column("kind_b")
    ga = uni.gid(ka, log.column("entity_a").astype(np.int64))
    gb = uni.gid(kb, log.column("entity_b").astype(np.int64))
    ts = log.column("ts").astype(np.int64)
    order = np.lexsort((gb, ga, ts))
    columns = {
        "id_a": uni.strings.take(pa.array(ga[order])),
        "kind_a": pick(tuple(k for k, _ in KINDS), ka[order]),
        "id_b": uni.strings.take(pa.array(gb[order])),
        "kind_b": pick(tuple(k for k, _ in KINDS), kb[order]),
        "ts": _timestamps(ts[order]),
        "source": pick(SOURCES, log.column("source")[order]),
    }
    return pa.table(columns, schema=IDENTITY_LINKS.to_pyarrow())


def _feedback_table(log: FeedbackLog, uni: _Universe) -> pa.Table:
    kind = log.column("kind").astype(np.int8)
    gid = uni.gid(kind, log.column("entity").astype(np.int64))
    ts = log.column("ts").astype(np.int64)
    order = _ordered(gid, ts)
    columns = {
        "feedback_id": format_fixed_ids("fb", np.arange(order.size, dtype=np.int64), 10),
        "actor_id": uni.strings.take(pa.array(gid[order])),
        "actor_kind": pick(tuple(k for k, _ in KINDS), kind[order]),
        "ts": _timestamps(ts[order]),
        "scale": pick(SCALES, log.column("scale")[order]),
        "score": pa.array(log.column("score")[order].astype(np.float64)),
        "text": pa.concat_arrays(log.texts).take(pa.array(order)),
        "lang": pick(("en", "ko"), log.column("lang")[order]),
        "about": pick(FEEDBACK_ABOUT, log.column("about")[order]),
        "source": pick(SOURCES, log.column("source")[order]),
    }
    return pa.table(columns, schema=FEEDBACK.to_pyarrow())


def _customers_table(pop: Population, uni: _Universe, truth: Truth) -> pa.Table:
    people = np.arange(pop.n, dtype=np.int64)
    email_gid = uni.gid(np.full(pop.n, EMAIL, dtype=np.int8), people)
    # ranks of people without that id are meaningless: point them at row 0, then mask
    user = np.where(pop.has_account, uni.gid(np.full(pop.n, USER, dtype=np.int8), people), 0)
    loyal = np.where(pop.member, uni.gid(np.full(pop.n, LOYALTY, dtype=np.int8), people), 0)
    none = pa.scalar(None, pa.string())
    columns = {
        "customer_id": format_fixed_ids("p", people, 8),
        "persona": pick(tuple(p.id for p in PERSONAS), pop.persona),
        "country": pick(tuple(c.code for c in COUNTRIES), pop.country),
        "region": pick(pop.region_codes, pop.region),
        "lang": pick(tuple(c.lang if c.code == "KR" else "en" for c in COUNTRIES), pop.country),
        "home_store": pick(tuple(s or "" for s in pop.region_store), pop.region),
        "has_account": pa.array(pop.has_account),
        "user_id": pc.if_else(pa.array(pop.has_account), uni.strings.take(pa.array(user)), none),
        "email_hash": uni.strings.take(pa.array(email_gid)),
        "loyalty_member": pa.array(pop.member),
        "loyalty_id": pc.if_else(pa.array(pop.member), uni.strings.take(pa.array(loyal)), none),
        "loyalty_tier": pc.if_else(pa.array(pop.member), pick(TIERS, pop.tier), none),
        "app_user": pa.array(pop.app_user),
        "devices": pa.array(pop.device_count),
        "borrows_a_device": pa.array(pop.shared_device >= 0),
        "missions": pa.array(truth.missions),
        "orders": pa.array(truth.orders),
        "guest_orders": pa.array(truth.guest_orders),
        "wrong_deliveries": pa.array(truth.wrong_deliveries),
        "late_deliveries": pa.array(truth.late_deliveries),
        "support_contacts": pa.array(truth.support_contacts),
    }
    table = pa.table(columns, schema=CUSTOMERS_SCHEMA)
    store = pc.if_else(pc.equal(table["home_store"], ""), none, table["home_store"])
    return table.set_column(table.schema.get_field_index("home_store"), "home_store", store)


def generate_demo(*, customers: int = 10_000, seed: int = 7) -> DemoData:
    """Generate the demo company's year for ``customers`` people (about 32 events each).

    Returns Arrow tables: ``events``, ``identity_links`` and ``feedback`` in the event
    contract's schemas, and ``customers`` (the ground truth: persona, region, loyalty,
    orders, wrong deliveries ...).
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    rng = np.random.default_rng(seed)
    with _reusing_memory():
        pop = draw_population(rng, customers)
        events, links, feedback = EventLog(), LinkLog(), FeedbackLog()
        truth, orders = simulate(rng, pop, events, links, feedback)
        uni = _universe(pop, orders)
        return DemoData(
            events=_events_table(events, pop, uni),
            identity_links=_links_table(links, uni),
            feedback=_feedback_table(feedback, uni),
            customers=_customers_table(pop, uni, truth),
        )


@contextmanager
def _reusing_memory() -> Iterator[None]:
    """Build Arrow columns in jemalloc's pool while generating.

    The generator allocates and frees gigabytes of short-lived buffers. Arrow's default
    pool (mimalloc) hands freed memory back to the system quickly, so the next buffer
    faults its pages in again; on virtual machines that first touch is expensive (it
    was a third of the run time at 3M events). jemalloc keeps freed memory for reuse.
    Buffers remember their pool, so restoring the default afterwards is safe.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # an Arrow build without jemalloc
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
