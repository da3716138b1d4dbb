"""Generated event logs for the benchmarks, cached as Parquet under ``benchmarks/.data/``.

A log of ``n`` events has about ``n / 10`` customers with heavy-tailed journey lengths
(geometric, mean 10), 15 event types walked as a Markov chain (so variants repeat, as in
real logs), gaps from seconds to weeks rounded to whole seconds (so equal timestamps
within a customer happen, and ``event_id`` must break ties), and rows written in
**global time order**: every tool has to sort by customer before it can follow a journey.

Columns: ``event_id`` (zero-padded text, so text order is generation order),
``actor_id`` (``c123``), ``ts`` (timestamp, UTC, microseconds) and ``event``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = [
    "DATA_FOLDER",
    "EVENT_TYPES",
    "FUNNEL_STEPS",
    "STAGES",
    "WINDOW_DAYS",
    "cached_log",
    "generate_events",
    "parse_size",
]

DATA_FOLDER = Path(__file__).parent / ".data"
EVENT_TYPES = (
    "home", "search", "product_view", "review_read", "wishlist", "cart_add", "cart_view",
    "checkout", "payment", "order", "email_open", "email_click", "support_chat",
    "return_request", "logout",
)  # fmt: skip
FUNNEL_STEPS = ("home", "product_view", "cart_add", "checkout", "order")
"""The 5-step funnel of the full analysis (ordered, first entry, 7-day window)."""
WINDOW_DAYS = 7
STAGES: dict[str, str] = {
    "home": "discover",
    "search": "discover",
    "email_open": "discover",
    "email_click": "discover",
    "product_view": "consider",
    "review_read": "consider",
    "wishlist": "consider",
    "cart_add": "buy",
    "cart_view": "buy",
    "checkout": "buy",
    "payment": "buy",
    "order": "own",
    "support_chat": "own",
    "return_request": "own",
}
"""Event → stage for time in stage; ``logout`` belongs to no stage (``other``)."""


def parse_size(text: str) -> int:
    """``"10M"`` → 10_000_000, ``"500k"`` → 500_000, ``"1234"`` → 1234."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return int(float(number) * scale)


def generate_events(n: int, *, seed: int = 11) -> pa.Table:
    """About ``n`` events (exactly ``n``), ~10 per customer, in global time order."""
    rng = np.random.default_rng(seed)
    n_customers = max(1, n // 10)
    lengths = np.maximum(1, rng.geometric(1 / 10, size=n_customers))
    lengths = np.maximum(np.floor(lengths * n / lengths.sum()).astype(np.int64), 1)
    short = n - int(lengths.sum())
    if short > 0:
        np.add.at(lengths, rng.choice(n_customers, size=short, replace=short > n_customers), 1)
    while (extra := int(lengths.sum()) - n) > 0:
        longest = np.argsort(lengths)[-extra:]
        lengths[longest[lengths[longest] > 1]] -= 1
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    k = len(EVENT_TYPES)
    trans = rng.dirichlet(np.full(k, 0.3), size=k)
    cdf = np.cumsum(trans, axis=1)
    kind = np.empty(n, dtype=np.int8)
    starts = rng.choice(k, size=n_customers, p=rng.dirichlet(np.full(k, 0.5)))
    kind[first] = starts
    u = rng.random(n)
    current = starts.copy()
    alive_idx = np.arange(n_customers)
    for p in range(1, int(lengths.max())):
        keep = lengths[alive_idx] > p
        alive_idx = alive_idx[keep]
        cur = current[alive_idx]
        rows = first[alive_idx] + p
        nxt = np.minimum((u[rows][:, None] > cdf[cur]).sum(axis=1), k - 1)
        kind[rows] = nxt
        current[alive_idx] = nxt
    del u
    start = rng.uniform(0, 90 * 86400, size=n_customers)
    long_gap = rng.random(n) < 0.12
    gaps = np.where(long_gap, rng.exponential(4 * 86400, n), rng.exponential(900, n))
    del long_gap
    gaps = np.round(gaps)
    csum = np.cumsum(gaps)
    del gaps
    secs = np.round(np.repeat(start - csum[first], lengths) + csum)
    del csum
    order = np.argsort(secs, kind="stable")
    ts = np.datetime64("2024-01-01T00:00:00", "us") + (secs[order] * 1e6).astype("timedelta64[us]")
    del secs
    customer = np.repeat(np.arange(n_customers), lengths)[order]
    names = np.array(EVENT_TYPES)
    return pa.table(
        {
            "event_id": pc.utf8_lpad(pc.cast(pa.array(order), pa.string()), 10, "0"),
            "actor_id": pc.binary_join_element_wise(
                "c", pc.cast(pa.array(customer), pa.string()), ""
            ),
            "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
            "event": pa.array(names[kind[order]]),
        }
    )


def cached_log(n: int, *, folder: Path = DATA_FOLDER, seed: int = 11) -> Path:
    """The Parquet file of the ``n``-event log, generated on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events_{n}_s{seed}.parquet"
    if not path.exists():
        table = generate_events(n, seed=seed)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=1 << 20)
        tmp.rename(path)
    return path
