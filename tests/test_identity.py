"""Identity stitching: hand-worked graphs, a union-find reference, and Olist's real ids."""

from __future__ import annotations

import csv
import random
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeymap.analytics.events import EVENTS, IDENTITY_LINKS
from journeymap.analytics.identity import (
    DEFAULT_PRIORITY,
    IdentityLink,
    IdentityRules,
    IdentityRulesError,
    component_links,
    grow_component,
    seed_component,
    stitched_events,
    trace_link_path,
)
from journeymap.engines.identity import (
    UnknownIdentifierError,
    explain_identifier,
    stitch_identities,
)

DATA = Path(__file__).parents[1].parent / "shared" / "data"
OLIST_CUSTOMERS = DATA / "olist" / "sample_4k_orders_with_reviews" / "olist_customers_dataset.csv"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

LINKS_ARROW = pa.schema(
    [
        ("id_a", pa.string()),
        ("kind_a", pa.string()),
        ("id_b", pa.string()),
        ("kind_b", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
    ]
)
assert tuple(LINKS_ARROW.names) == tuple(IDENTITY_LINKS.names)

Node = tuple[str, str]  # (kind, id)
Row = tuple[str | None, str | None, str | None, str | None]  # id_a, kind_a, id_b, kind_b


@pytest.fixture(scope="module")
def con() -> Iterator[Any]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


def links_table(rows: Sequence[Row], *, minutes: Sequence[int] | None = None) -> ir.Table:
    """An identity_links table; link i happens i minutes after T0 unless told."""
    offsets = list(minutes) if minutes is not None else list(range(len(rows)))
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    arrays = [pa.array(list(c), pa.string()) for c in columns]
    arrays.append(
        pa.array([T0 + timedelta(minutes=m) for m in offsets], LINKS_ARROW.field("ts").type)
    )
    arrays.append(pa.array([f"batch-{i % 3}" for i in range(len(rows))], pa.string()))
    return ibis.memtable(pa.Table.from_arrays(arrays, schema=LINKS_ARROW))


def stitch(
    con: Any, rows: Sequence[Row], *, rules: IdentityRules | None = None
) -> tuple[dict[Node, Node], list[tuple[Any, ...]]]:
    """Run stitching; return {(kind, id): (customer_kind, customer_id)} and refused rows."""
    result = stitch_identities(con, links_table(rows), rules=rules)
    try:
        members = con.to_pyarrow(result.members).to_pylist()
        refused = con.to_pyarrow(result.refused).to_pylist()
    finally:
        result.release()
    mapping = {(m["kind"], m["id"]): (m["customer_kind"], m["customer_id"]) for m in members}
    ref = sorted(
        (r["id_a"] or "", r["kind_a"] or "", r["id_b"] or "", r["kind_b"] or "", r["reason"])
        for r in refused
    )
    return mapping, ref


def refused_details(con: Any, rows: Sequence[Row]) -> list[str]:
    result = stitch_identities(con, links_table(rows))
    try:
        return sorted(r["detail"] for r in con.to_pyarrow(result.refused).to_pylist())
    finally:
        result.release()


# --- hand-worked graphs -------------------------------------------------------------


def test_a_chain_of_anonymous_ids_ending_in_a_user_is_one_customer_named_by_the_user(
    con: Any,
) -> None:
    # a0 - a1 - ... - a299 - u: 301 identifiers, one component; the user id outranks
    # every anonymous id, so all 301 map to ('user_id', 'u').
    n = 300
    rows: list[Row] = [(f"a{i}", "anonymous_id", f"a{i + 1}", "anonymous_id") for i in range(n - 1)]
    rows.append((f"a{n - 1}", "anonymous_id", "u", "user_id"))
    random.Random(7).shuffle(rows)
    mapping, refused = stitch(con, rows)
    assert len(mapping) == n + 1
    assert set(mapping.values()) == {("user_id", "u")}
    assert refused == []


@pytest.mark.parametrize(("length", "shuffled"), [(16, True), (4096, True), (4096, False)])
def test_long_chains_converge_in_logarithmic_rounds(con: Any, length: int, shuffled: bool) -> None:
    # A path of `length` nodes needs length-1 rounds of plain min-label propagation.
    # With hooking and pointer jumping the rounds grow with log2(length): we allow
    # 2 * log2(length) + 2 (16 -> 10, 4096 -> 26; measured: 4 and 12-13).
    order = list(range(length))
    if shuffled:
        random.Random(length).shuffle(order)  # node numbers in random order along the path
    names = [f"x{i:05d}" for i in order]
    rows: list[Row] = [
        (names[i], "anonymous_id", names[i + 1], "anonymous_id") for i in range(length - 1)
    ]
    result = stitch_identities(con, links_table(rows))
    try:
        assert result.customers == 1
        assert result.identifiers == length
        bound = 2 * (length.bit_length() - 1) + 2
        assert result.rounds <= bound, (result.rounds, bound)
    finally:
        result.release()


def test_a_star_around_an_email_is_one_customer_named_by_the_email(con: Any) -> None:
    # e is linked to 4 anonymous ids and 2 orders: 7 identifiers, no user id, so the
    # highest-priority kind present (email_hash) names the customer.
    rows: list[Row] = [(f"a{i}", "anonymous_id", "e", "email_hash") for i in range(4)]
    rows += [("e", "email_hash", f"o{i}", "order_id") for i in range(2)]
    mapping, refused = stitch(con, rows)
    assert len(mapping) == 7
    assert set(mapping.values()) == {("email_hash", "e")}
    assert refused == []


def test_a_guest_order_with_a_known_email_joins_the_account_and_the_loyalty_card(
    con: Any,
) -> None:
    # The seeds' case: Carla has an account (u-carla) and a loyalty card (L-77) linked
    # to it; she checks out as a guest on another device (anon-tab) giving her email.
    rows: list[Row] = [
        ("anon-phone", "anonymous_id", "u-carla", "user_id"),  # logged in on her phone
        ("u-carla", "user_id", "L-77", "loyalty_id"),  # joined the loyalty programme
        ("u-carla", "user_id", "h-carla", "email_hash"),  # account email
        ("anon-tab", "anonymous_id", "g-order-1", "order_id"),  # guest checkout
        ("g-order-1", "order_id", "h-carla", "email_hash"),  # the guest order's email
        ("anon-other", "anonymous_id", "g-order-2", "order_id"),  # someone else, a guest
    ]
    mapping, refused = stitch(con, rows)
    carla = ("user_id", "u-carla")
    for ident in ["anon-phone", "L-77", "h-carla", "anon-tab", "g-order-1"]:
        assert next(v for (k, i), v in mapping.items() if i == ident) == carla
    # The other guest has no higher identifier than the order id: it names her.
    assert mapping[("anonymous_id", "anon-other")] == ("order_id", "g-order-2")
    assert len(set(mapping.values())) == 2
    assert refused == []


def test_a_shared_device_is_refused_and_reported_not_applied(con: Any) -> None:
    # One tablet (dev) used by two account holders: joining through it would give one
    # customer two user ids. Both links touching the tablet are refused (it is equally
    # near both); the accounts stay apart, with their own emails; the tablet stands alone.
    rows: list[Row] = [
        ("dev", "anonymous_id", "u1", "user_id"),
        ("dev", "anonymous_id", "u2", "user_id"),
        ("u1", "user_id", "e1", "email_hash"),
        ("u2", "user_id", "e2", "email_hash"),
    ]
    mapping, refused = stitch(con, rows)
    assert mapping[("email_hash", "e1")] == ("user_id", "u1")
    assert mapping[("email_hash", "e2")] == ("user_id", "u2")
    assert mapping[("anonymous_id", "dev")] == ("anonymous_id", "dev")
    assert refused == [
        ("dev", "anonymous_id", "u1", "user_id", "one_per_customer"),
        ("dev", "anonymous_id", "u2", "user_id", "one_per_customer"),
    ]
    assert refused_details(con, rows) == [
        "would join user_id 'u1' and user_id 'u2'; a customer has at most one user_id",
        "would join user_id 'u2' and user_id 'u1'; a customer has at most one user_id",
    ]


def test_the_nearer_account_keeps_an_identifier_and_the_link_between_is_refused(
    con: Any,
) -> None:
    # u1 - a1 - a2 - a3 - u2: a1 is 1 link from u1 and 3 from u2 -> u1; a3 -> u2;
    # a2 is 2 links from each -> shared, alone. Refused: a1-a2 and a2-a3.
    rows: list[Row] = [
        ("u1", "user_id", "a1", "anonymous_id"),
        ("a1", "anonymous_id", "a2", "anonymous_id"),
        ("a2", "anonymous_id", "a3", "anonymous_id"),
        ("a3", "anonymous_id", "u2", "user_id"),
    ]
    mapping, refused = stitch(con, rows)
    assert mapping[("anonymous_id", "a1")] == ("user_id", "u1")
    assert mapping[("anonymous_id", "a3")] == ("user_id", "u2")
    assert mapping[("anonymous_id", "a2")] == ("anonymous_id", "a2")
    assert [r[:3] for r in refused] == [("a1", "anonymous_id", "a2"), ("a2", "anonymous_id", "a3")]


def test_two_user_ids_linked_directly_are_refused(con: Any) -> None:
    rows: list[Row] = [("u1", "user_id", "u2", "user_id"), ("u1", "user_id", "e", "email_hash")]
    mapping, refused = stitch(con, rows)
    assert mapping[("user_id", "u2")] == ("user_id", "u2")
    assert mapping[("email_hash", "e")] == ("user_id", "u1")
    assert refused == [("u1", "user_id", "u2", "user_id", "one_per_customer")]


def test_an_incomplete_link_is_reported_and_joins_nothing(con: Any) -> None:
    rows: list[Row] = [
        ("a1", "anonymous_id", None, "user_id"),
        ("a1", "anonymous_id", "u1", None),
        ("a2", "anonymous_id", "u2", "user_id"),
    ]
    mapping, refused = stitch(con, rows)
    # a1 is known (its end is complete) but joined to nothing; u1 has no kind: unknown.
    assert mapping[("anonymous_id", "a1")] == ("anonymous_id", "a1")
    assert ("user_id", "u1") not in mapping
    assert mapping[("anonymous_id", "a2")] == ("user_id", "u2")
    assert [r[4] for r in refused] == ["incomplete_link", "incomplete_link"]


def test_the_customer_id_is_the_highest_priority_identifier_then_the_smallest_id(
    con: Any,
) -> None:
    rows: list[Row] = [
        ("zed@x", "email_hash", "o1", "order_id"),
        ("amy@x", "email_hash", "o1", "order_id"),
        ("o1", "order_id", "L9", "loyalty_id"),
        ("o1", "order_id", "mystery", "device_fingerprint"),  # unlisted kind: ranks last
    ]
    mapping, _ = stitch(con, rows)
    assert set(mapping.values()) == {("email_hash", "amy@x")}
    # With loyalty ids trusted most, the loyalty id names the customer instead.
    rules = IdentityRules(priority=("loyalty_id", *DEFAULT_PRIORITY[:2]))
    mapping, _ = stitch(con, rows, rules=rules)
    assert set(mapping.values()) == {("loyalty_id", "L9")}


def test_another_one_per_customer_kind_refuses_a_second_email(con: Any) -> None:
    rows: list[Row] = [("u1", "user_id", "e1", "email_hash"), ("u1", "user_id", "e2", "email_hash")]
    mapping, refused = stitch(con, rows)
    assert len(set(mapping.values())) == 1
    assert refused == []
    rules = IdentityRules(one_per_customer=("user_id", "email_hash"))
    mapping, refused = stitch(con, rows, rules=rules)
    # u1 is one link from both emails: shared, so both links are refused.
    assert len(set(mapping.values())) == 3
    assert [r[4] for r in refused] == ["one_per_customer", "one_per_customer"]


@pytest.mark.parametrize(
    ("priority", "once"),
    [(("user_id", "user_id"), ("user_id",)), (DEFAULT_PRIORITY, ("user_id", "", "x"))],
)
def test_contradictory_rules_are_rejected_with_a_fix(
    priority: tuple[str, ...], once: tuple[str, ...]
) -> None:
    with pytest.raises(IdentityRulesError, match=r"identity rules: (priority|one_per_customer)"):
        IdentityRules(priority=priority, one_per_customer=once)


def test_stitching_does_not_depend_on_link_order_or_direction(con: Any) -> None:
    rows: list[Row] = [
        ("dev", "anonymous_id", "u1", "user_id"),
        ("dev", "anonymous_id", "u2", "user_id"),
        ("u1", "user_id", "e1", "email_hash"),
        ("o1", "order_id", "e1", "email_hash"),
        ("o2", "order_id", "e2", "email_hash"),
        ("a9", "anonymous_id", "o2", "order_id"),
        ("a9", "anonymous_id", "a8", "anonymous_id"),
    ]
    expected = stitch(con, rows)
    rng = random.Random(3)
    for _ in range(2):
        shuffled = [r if rng.random() < 0.5 else (r[2], r[3], r[0], r[1]) for r in rows]
        rng.shuffle(shuffled)
        mapping, refused = stitch(con, shuffled)
        assert mapping == expected[0]
        # refused rows keep their own direction; compare as unordered pairs
        assert sorted(tuple(sorted([r[:2], r[2:4]])) for r in refused) == sorted(
            tuple(sorted([r[:2], r[2:4]])) for r in expected[1]
        )


def events_table(rows: Sequence[tuple[str, str, str, int]]) -> ir.Table:
    """Events (event_id, actor_id, actor_kind, minute) in the contract's shape."""
    n = len(rows)
    data = {
        "event_id": [r[0] for r in rows],
        "actor_id": [r[1] for r in rows],
        "actor_kind": [r[2] for r in rows],
        "ts": [T0 + timedelta(minutes=r[3]) for r in rows],
        "event": ["page_view"] * n,
        "channel": ["web"] * n,
        "session_id": [None] * n,
        "region": ["KR"] * n,
        "source": ["test"] * n,
        "source_tz": ["UTC"] * n,
        "properties": ['{"n": 1}'] * n,
    }
    return ibis.memtable(data, schema=EVENTS)


def test_stitched_events_are_a_reversible_view(con: Any) -> None:
    rows: list[Row] = [
        ("anon-tab", "anonymous_id", "g-1", "order_id"),
        ("g-1", "order_id", "h-carla", "email_hash"),
        ("h-carla", "email_hash", "u-carla", "user_id"),
    ]
    events = events_table(
        [
            ("e1", "anon-tab", "anonymous_id", 1),
            ("e2", "g-1", "order_id", 2),
            ("e3", "u-carla", "user_id", 3),
            ("e4", "stranger", "anonymous_id", 4),  # no link: stays itself
            ("e5", "g-1", "customer_id", 5),  # same id, another kind: not linked
        ]
    )
    result = stitch_identities(con, links_table(rows))
    try:
        view = stitched_events(events, result.members)
        out = con.to_pyarrow(view.order_by("event_id")).to_pylist()
    finally:
        result.release()
    assert [(r["actor_id"], r["actor_kind"]) for r in out] == [
        ("u-carla", "user_id"),
        ("u-carla", "user_id"),
        ("u-carla", "user_id"),
        ("stranger", "anonymous_id"),
        ("g-1", "customer_id"),
    ]
    assert [r["identifier_id"] for r in out] == ["anon-tab", "g-1", "u-carla", "stranger", "g-1"]
    # Reversal: putting the identifier back gives the original events, row for row.
    original = con.to_pyarrow(events.order_by("event_id")).to_pylist()
    restored = [
        {
            **{k: v for k, v in r.items() if not k.startswith("identifier_")},
            "actor_id": r["identifier_id"],
            "actor_kind": r["identifier_kind"],
        }
        for r in out
    ]
    assert restored == original


def test_explain_gives_the_path_from_a_guest_order_to_the_account(con: Any) -> None:
    rows: list[Row] = [
        ("anon-phone", "anonymous_id", "u-carla", "user_id"),  # minute 0
        ("u-carla", "user_id", "h-carla", "email_hash"),  # minute 1
        ("g-order-1", "order_id", "h-carla", "email_hash"),  # minute 2
        ("u-carla", "user_id", "L-77", "loyalty_id"),  # minute 3
        ("dev", "anonymous_id", "u-carla", "user_id"),  # minute 4: shared tablet
        ("dev", "anonymous_id", "u-dan", "user_id"),  # minute 5
    ]
    links = links_table(rows)
    expl = explain_identifier(con, links, "g-order-1")
    assert (expl.customer_kind, expl.customer_id) == ("user_id", "u-carla")
    assert [(p.id_a, p.id_b) for p in expl.path] == [
        ("g-order-1", "h-carla"),
        ("u-carla", "h-carla"),
    ]
    assert expl.path[0].ts == T0 + timedelta(minutes=2)
    assert expl.path[0].source == "batch-2"
    assert expl.identifiers == (
        ("anonymous_id", "anon-phone"),
        ("email_hash", "h-carla"),
        ("loyalty_id", "L-77"),
        ("order_id", "g-order-1"),
        ("user_id", "u-carla"),
    )
    assert len(expl.links) == 4
    assert [(r.link.id_a, r.link.id_b, r.reason) for r in expl.refused] == [
        ("dev", "u-carla", "one_per_customer")
    ]


def test_explain_stitches_only_the_component_it_needs(con: Any) -> None:
    # The component of g-order-1 (following every link, refused or not) holds Carla's
    # identifiers, the shared tablet and u-dan; x1-x2 is another component. Links kept:
    # the 5 complete ones plus the incomplete one that ends at u-dan (6); not x1-x2
    # and not the incomplete link that starts at x1.
    rows: list[Row] = [
        ("anon-phone", "anonymous_id", "u-carla", "user_id"),
        ("u-carla", "user_id", "h-carla", "email_hash"),
        ("g-order-1", "order_id", "h-carla", "email_hash"),
        ("dev", "anonymous_id", "u-carla", "user_id"),
        ("dev", "anonymous_id", "u-dan", "user_id"),
        (None, "anonymous_id", "u-dan", "user_id"),
        ("x1", "anonymous_id", "x2", "anonymous_id"),
        ("x1", "anonymous_id", None, "user_id"),
    ]
    links = links_table(rows)
    reached = seed_component(links, "g-order-1")
    for _ in range(4):  # the farthest identifier, u-dan, is 4 links away
        reached = grow_component(links, reached)
    found = con.to_pyarrow(component_links(links, reached)).to_pylist()
    assert sorted((r["id_a"] or "", r["id_b"]) for r in found) == [
        ("", "u-dan"),
        ("anon-phone", "u-carla"),
        ("dev", "u-carla"),
        ("dev", "u-dan"),
        ("g-order-1", "h-carla"),
        ("u-carla", "h-carla"),
    ]
    # explaining through the component gives what stitching everything gives
    expl = explain_identifier(con, links, "g-order-1")
    mapping, _ = stitch(con, rows)
    assert (expl.customer_kind, expl.customer_id) == mapping[("order_id", "g-order-1")]
    assert len(expl.refused) == 1


def test_explain_an_unknown_identifier_says_so(con: Any) -> None:
    links = links_table([("a", "anonymous_id", "u", "user_id")])
    with pytest.raises(UnknownIdentifierError, match="'nobody' appears in no identity link"):
        explain_identifier(con, links, "nobody")
    events = events_table([("e1", "lonely", "anonymous_id", 0)])
    expl = explain_identifier(con, links, "lonely", events=events)
    assert (expl.customer_id, expl.path, expl.links) == ("lonely", (), ())


def test_explain_asks_for_the_kind_when_an_id_has_several(con: Any) -> None:
    links = links_table(
        [("42", "order_id", "u1", "user_id"), ("42", "customer_id", "u2", "user_id")]
    )
    with pytest.raises(UnknownIdentifierError, match=r"several kinds .*--kind"):
        explain_identifier(con, links, "42")
    assert explain_identifier(con, links, "42", kind="customer_id").customer_id == "u2"


def test_trace_link_path_prefers_the_earliest_of_equally_short_chains() -> None:
    def link(a: str, b: str, minute: int) -> IdentityLink:
        return IdentityLink(a, "k", b, "k", T0 + timedelta(minutes=minute), "s")

    links = [link("s", "x", 5), link("x", "g", 5), link("s", "y", 1), link("y", "g", 1)]
    path = trace_link_path(links, start=("k", "s"), goal=("k", "g"))
    assert [(p.id_a, p.id_b) for p in path] == [("s", "y"), ("y", "g")]
    assert trace_link_path(links, start=("k", "s"), goal=("k", "nowhere")) == ()


# --- property test against a tiny pure-Python reference -----------------------------


def reference_stitch(
    rows: Sequence[Row], rules: IdentityRules
) -> tuple[dict[Node, Node], list[tuple[Any, ...]]]:
    """The same rules, written independently: union-find plus a breadth-first search."""
    complete = [r for r in rows if None not in r]
    # an identifier is known when its own end of some link is complete
    ends = [(r[1], r[0]) for r in rows] + [(r[3], r[2]) for r in rows]
    nodes = sorted(
        {(k, i) for k, i in ends if k is not None and i is not None},
        key=lambda n: (rules.rank_of(n[0]), n[0], n[1]),
    )
    number = {n: i for i, n in enumerate(nodes)}
    pairs = {
        (min(a, b), max(a, b))
        for r in complete
        if (a := number[(r[1], r[0])]) != (b := number[(r[3], r[2])])  # type: ignore[index]
    }

    def components(edges: set[tuple[int, int]]) -> list[int]:
        parent = list(range(len(nodes)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b in edges:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)  # the root is always the smallest node
        return [find(x) for x in range(len(nodes))]

    refused_pairs: set[tuple[int, int]] = set()
    comp = components(pairs)
    for kind in rules.limited_kinds:
        groups: dict[int, list[int]] = defaultdict(list)
        for n, i in number.items():
            if n[0] == kind:
                groups[comp[i]].append(i)
        anchors = [i for g in groups.values() if len(g) > 1 for i in g]
        if not anchors:
            continue
        adjacent: dict[int, set[int]] = defaultdict(set)
        for a, b in pairs:
            adjacent[a].add(b)
            adjacent[b].add(a)
        reached: dict[int, set[int]] = {a: {a} for a in anchors}
        frontier = deque(anchors)
        while frontier:
            level: dict[int, set[int]] = defaultdict(set)
            for x in frontier:
                if len(reached[x]) == 1:  # shared identifiers do not pass anchors on
                    for y in adjacent[x]:
                        if y not in reached:
                            level[y] |= reached[x]
            reached.update(level)
            frontier = deque(level)

        owner = {x: next(iter(got)) for x, got in reached.items() if len(got) == 1}
        cut = {
            (a, b) for a, b in pairs if (a in owner or b in owner) and owner.get(a) != owner.get(b)
        }
        refused_pairs |= cut
        pairs -= cut
        comp = components(pairs)
    mapping = {n: nodes[comp[i]] for n, i in number.items()}
    refused = []
    for r in rows:
        if None in r:
            refused.append((r[0] or "", r[1] or "", r[2] or "", r[3] or "", "incomplete_link"))
            continue
        a, b = number[(r[1], r[0])], number[(r[3], r[2])]  # type: ignore[index]
        if (min(a, b), max(a, b)) in refused_pairs:
            refused.append((*r, "one_per_customer"))
    return mapping, sorted(refused)


KINDS = ("user_id", "email_hash", "loyalty_id", "anonymous_id")
identifier = st.tuples(st.sampled_from(("a", "b", "c", "d", "e", "f")), st.sampled_from(KINDS))
link_row = st.tuples(identifier, identifier, st.booleans()).map(
    lambda t: (None if t[2] and t[0][0] == "f" else t[0][0], t[0][1], t[1][0], t[1][1])
)
graph = st.lists(link_row, max_size=12)


def namespaced(graphs: Sequence[Sequence[Row]]) -> list[Row]:
    """Many small graphs as one link table: ids prefixed by their graph, so components
    never cross graphs and one engine run checks them all (each run costs ~1 s of
    query compilation, whatever its size)."""
    return [
        (None if a is None else f"g{g:02d}:{a}", ka, None if b is None else f"g{g:02d}:{b}", kb)
        for g, rows in enumerate(graphs)
        for a, ka, b, kb in rows
    ]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(graphs=st.lists(graph, min_size=1, max_size=25), twice=st.booleans())
def test_stitching_matches_a_union_find_reference(
    con: Any, graphs: list[list[Row]], twice: bool
) -> None:
    rules = IdentityRules(one_per_customer=("user_id", "loyalty_id") if twice else ("user_id",))
    rows = namespaced(graphs)
    got = stitch(con, rows, rules=rules)
    assert got == reference_stitch(rows, rules)
    # and the limit holds: no customer holds two identifiers of a one-per-customer kind
    mapping = got[0]
    for kind in rules.one_per_customer:
        owners = [c for (k, _), c in mapping.items() if k == kind]
        assert len(owners) == len(set(owners))


# --- real data: Olist order-level customer ids -> persons ---------------------------


def test_olist_order_level_customer_ids_stitch_into_distinct_persons(con: Any) -> None:
    if not OLIST_CUSTOMERS.exists():
        pytest.skip(f"real data not present: {OLIST_CUSTOMERS}")
    with OLIST_CUSTOMERS.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    person_of = {r["customer_id"]: r["customer_unique_id"] for r in records}
    persons = set(person_of.values())
    rows: list[Row] = [
        (r["customer_id"], "customer_id", r["customer_unique_id"], "person_id") for r in records
    ]
    rules = IdentityRules(priority=("person_id", *DEFAULT_PRIORITY))
    result = stitch_identities(con, links_table(rows, minutes=[0] * len(rows)), rules=rules)
    try:
        assert result.customers == len(persons)
        assert result.identifiers == len(person_of) + len(persons)
        assert result.refused_links == 0
        members = con.to_pyarrow(result.members).to_pylist()
    finally:
        result.release()
    stitched = {m["id"]: m["customer_id"] for m in members if m["kind"] == "customer_id"}
    assert stitched == person_of
    # the sample really has persons with several orders, so stitching did something
    assert len(persons) < len(person_of)


# --- the command --------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace whose identity_links hold Carla's guest order and a shared tablet."""
    from journeymap.io.workspace import init_workspace

    rows: list[Row] = [
        ("anon-phone", "anonymous_id", "u-carla", "user_id"),
        ("u-carla", "user_id", "h-carla", "email_hash"),
        ("g-order-1", "order_id", "h-carla", "email_hash"),
        ("dev", "anonymous_id", "u-carla", "user_id"),
        ("dev", "anonymous_id", "u-dan", "user_id"),
    ]
    folder = tmp_path / "shop"
    with init_workspace(folder) as ws:
        ws.con.insert("identity_links", links_table(rows))
    return folder


def test_identity_explain_prints_the_path_and_the_refused_links(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from journeymap.cli.identity import console, identity_app

    monkeypatch.setattr(console, "width", 200)  # no wrapping inside the sentences we check

    result = CliRunner().invoke(identity_app, ["explain", "g-order-1", "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "customer u-carla (user_id): 4 identifiers" in out
    # the path: order -> email -> account, each hop with its time and source
    assert out.index("g-order-1 (order_id) (asked about)") < out.index("h-carla (email_hash)")
    assert "linked 2024-05-01 09:02:00 UTC, source batch-2" in out
    assert "refused links" in out
    assert "would join user_id 'u-carla' and user_id 'u-dan'" in out


def test_identity_explain_of_an_unknown_id_is_a_message_not_a_traceback(workspace: Path) -> None:
    from typer.testing import CliRunner

    from journeymap.cli.identity import identity_app

    result = CliRunner().invoke(identity_app, ["explain", "nobody", "-w", str(workspace)])
    assert result.exit_code == 1
    assert "'nobody' appears in no identity link or event" in result.output
    assert "Traceback" not in result.output


def test_identity_stitch_writes_members_and_reports_refusals(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from journeymap.cli.identity import console, identity_app
    from journeymap.io.workspace import open_workspace

    monkeypatch.setattr(console, "width", 200)
    result = CliRunner().invoke(identity_app, ["stitch", "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    # 6 identifiers; customers: u-carla (4 ids), u-dan, dev (shared, alone) = 3
    assert "stitched 6 identifiers from 5 links into 3 customers" in result.output
    assert "one_per_customer: 2" in result.output
    with open_workspace(workspace) as ws:
        members = ws.con.to_pyarrow(ws.table("identity_members")).to_pylist()
    assert {m["id"]: m["customer_id"] for m in members}["g-order-1"] == "u-carla"


def test_no_links_stitch_to_no_customers(con: Any) -> None:
    mapping, refused = stitch(con, [])
    assert (mapping, refused) == ({}, [])
