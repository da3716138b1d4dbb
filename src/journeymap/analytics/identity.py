"""Identity stitching: which identifiers belong to one customer, as Ibis expressions.

Evidence comes from the ``identity_links`` table (an event that carried an anonymous id
and a user id, a guest order placed with an email hash, a loyalty card scanned with an
account ...). Customers are the connected components of that graph, computed in the
engine by min-label propagation with hooking and pointer jumping, so long chains
converge in about log2(n) rounds. The number of rounds depends on the data, so this
module only builds ONE round at a time (:func:`propagate_labels`) and the test that
says whether it changed anything (:func:`count_changes`); the loop that executes
rounds until nothing changes lives in :mod:`journeymap.engines.identity`.

Rules (:class:`IdentityRules`):

- **Priority.** Identifiers are ranked by kind (default ``user_id > email_hash >
  loyalty_id > customer_id > order_id > anonymous_id``; kinds not listed come after,
  ordered by name). A customer's id is its highest-ranked identifier, ties broken by
  lexical order of the id, so the same links always give the same customer ids,
  whatever their order.
- **One per customer.** A customer holds at most one identifier of each kind in
  ``one_per_customer`` (default: one ``user_id``). When the links would join two of
  them (two accounts that used one shared tablet), the links that would do it are
  *refused* and reported, not applied: every identifier goes to the nearest such
  identifier (fewest links away); one that is equally near to two of them is shared
  and belongs to neither; a link between identifiers that went different ways is
  refused with the reason.
- **Reversible.** Events are never rewritten; :func:`stitched_events` is a view that
  maps each event's identifier to its customer and keeps the original next to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from journeymap.errors import JourneyError

__all__ = [
    "DEFAULT_PRIORITY",
    "IdentityExplanation",
    "IdentityLink",
    "IdentityRules",
    "IdentityRulesError",
    "RefusedLink",
    "build_members",
    "build_refused",
    "component_links",
    "count_changes",
    "count_new_anchors",
    "explain_identity",
    "grow_component",
    "list_edges",
    "list_identifiers",
    "list_pairs",
    "propagate_labels",
    "refuse_pairs",
    "remove_pairs",
    "seed_anchors",
    "seed_component",
    "seed_labels",
    "spread_anchors",
    "stitched_events",
    "trace_link_path",
]

DEFAULT_PRIORITY: tuple[str, ...] = (
    "user_id",
    "email_hash",
    "loyalty_id",
    "customer_id",
    "order_id",
    "anonymous_id",
)
"""Identifier kinds from most to least trusted; the first one present names the customer."""

INCOMPLETE = "incomplete_link"
ONE_PER_CUSTOMER = "one_per_customer"


class IdentityRulesError(JourneyError, ValueError):
    """Identity rules that contradict themselves (a kind listed twice, an empty kind)."""


@dataclass(frozen=True)
class IdentityRules:
    """How identifiers are ranked and which kinds a customer may hold only once.

    ``priority`` lists kinds from most to least trusted; kinds not listed rank after
    all listed ones (by name). ``one_per_customer`` lists kinds of which a customer
    holds at most one; conflicts are resolved for these kinds in priority order.

    >>> IdentityRules().rank_of("email_hash"), IdentityRules().rank_of("device_id")
    (1, 6)
    """

    priority: tuple[str, ...] = DEFAULT_PRIORITY
    one_per_customer: tuple[str, ...] = ("user_id",)

    def __post_init__(self) -> None:
        for field, kinds in (("priority", self.priority), ("one_per_customer", self.limited_kinds)):
            seen: set[str] = set()
            for kind in kinds:
                if not kind or not kind.strip():
                    raise IdentityRulesError(
                        f"identity rules: {field} holds an empty kind; "
                        "name each kind, e.g. 'user_id'"
                    )
                if kind in seen:
                    raise IdentityRulesError(
                        f"identity rules: {field} lists {kind!r} twice; list each kind once"
                    )
                seen.add(kind)

    @property
    def limited_kinds(self) -> tuple[str, ...]:
        """The one-per-customer kinds in the order their conflicts are resolved."""
        return tuple(sorted(self.one_per_customer, key=lambda k: (self.rank_of(k), k)))

    def rank_of(self, kind: str) -> int:
        """Position of ``kind`` in the priority (0 is the most trusted)."""
        try:
            return self.priority.index(kind)
        except ValueError:
            return len(self.priority)


@dataclass(frozen=True)
class IdentityLink:
    """One identity link as executed rows: the evidence that two identifiers are one person."""

    id_a: str
    kind_a: str
    id_b: str
    kind_b: str
    ts: datetime | None
    source: str | None


@dataclass(frozen=True)
class RefusedLink:
    """A link that was not applied, with the reason code and the human explanation."""

    link: IdentityLink
    reason: str
    detail: str


@dataclass(frozen=True)
class IdentityExplanation:
    """Expressions that say why identifiers belong to one customer.

    ``customer``: the customer (``customer_id``, ``customer_kind``) of the identifier,
    no row when no link mentions it. ``identifiers``: every identifier of that customer
    (``id``, ``kind``). ``links``: the applied links between them (the contract's
    identity_links columns). ``refused``: refused links that touch any of them, with
    ``reason`` and ``detail``.
    """

    customer: ir.Table
    identifiers: ir.Table
    links: ir.Table
    refused: ir.Table


def list_identifiers(links: ir.Table, *, rules: IdentityRules | None = None) -> ir.Table:
    """Every identifier that a link mentions, numbered in priority order.

    Returns ``node`` (int64, 0-based; a smaller node is a better customer id), ``id``,
    ``kind`` and ``rank``. Numbering orders by (rank, kind, id), so it does not depend
    on the order of the links.
    """
    rules = rules or IdentityRules()
    ends = ibis.union(
        links.select(id=links.id_a, kind=links.kind_a),
        links.select(id=links.id_b, kind=links.kind_b),
        distinct=True,
    )
    ends = ends.filter(ends.id.notnull() & ends.kind.notnull())
    ranks = {kind: i for i, kind in enumerate(rules.priority)}
    rank = ends.kind.substitute(ranks, else_=len(rules.priority)).cast("int64")
    ends = ends.mutate(rank=rank)
    node = ibis.row_number().over(order_by=[ends.rank, ends.kind, ends.id])
    return ends.select(node=node.cast("int64"), id=ends.id, kind=ends.kind, rank=ends.rank)


def _annotate(links: ir.Table, identifiers: ir.Table) -> ir.Table:
    """Links with the node numbers of both ends (null when an end is incomplete)."""
    a = identifiers.select(_ida=identifiers.id, _ka=identifiers.kind, node_a=identifiers.node)
    b = identifiers.select(_idb=identifiers.id, _kb=identifiers.kind, node_b=identifiers.node)
    joined = links.left_join(a, [links.id_a == a._ida, links.kind_a == a._ka])
    joined = joined.left_join(b, [joined.id_b == b._idb, joined.kind_b == b._kb])
    return joined.select(*links.columns, "node_a", "node_b")


def list_pairs(links: ir.Table, identifiers: ir.Table) -> ir.Table:
    """The distinct undirected pairs of nodes that links join: ``lo < hi``."""
    ann = _annotate(links, identifiers)
    ann = ann.filter(ann.node_a.notnull() & ann.node_b.notnull() & (ann.node_a != ann.node_b))
    return ann.select(
        lo=ibis.least(ann.node_a, ann.node_b), hi=ibis.greatest(ann.node_a, ann.node_b)
    ).distinct()


def list_edges(pairs: ir.Table) -> ir.Table:
    """Both directions of every pair: ``src``, ``dst`` (materialise once per pass)."""
    return ibis.union(
        pairs.select(src=pairs.lo, dst=pairs.hi),
        pairs.select(src=pairs.hi, dst=pairs.lo),
        distinct=False,
    )


def seed_labels(identifiers: ir.Table) -> ir.Table:
    """Round zero: every node is its own label (``node``, ``label``, ``before``)."""
    return identifiers.select(
        node=identifiers.node, label=identifiers.node, before=identifiers.node
    )


def propagate_labels(labels: ir.Table, edges: ir.Table) -> ir.Table:
    """One round of min-label propagation with hooking and pointer jumping.

    ``edges`` are the directed edges of :func:`list_edges`. Each node takes the
    smallest label among its own and its neighbours' (propagation); the label a node
    points to also takes its neighbours' smaller labels (hooking, so whole trees move
    at once); then every node jumps to its label's label. Labels only decrease and
    always name a node of the same component, so at the fixed point every component
    carries its smallest node. Returns ``node``, ``label`` and ``before`` (the label
    going in), for :func:`count_changes`.
    """
    current = labels.select(labels.node, labels.label)
    src = current.select(src=current.node, src_label=current.label)
    dst = current.select(dst=current.node, dst_label=current.label)
    e = edges.join(src, "src").join(dst, "dst")
    # one pass over the joined edges gives both candidates: for the neighbour itself
    # and for the node its label points to
    offers = e.select(node=ibis.array([e.dst, e.dst_label]).unnest(), cand=e.src_label)
    candidates = ibis.union(
        current.select(node=current.node, cand=current.label), offers, distinct=False
    )
    parent = candidates.group_by("node").agg(parent=candidates.cand.min())
    grand = parent.select(parent=parent.node, grand=parent.parent)
    jumped = parent.join(grand, "parent").select("node", "grand")
    out = current.join(jumped, "node")
    return out.select(node=out.node, label=out.grand, before=out.label)


def count_changes(labels: ir.Table) -> ir.IntegerScalar:
    """How many nodes changed label in the round that built ``labels`` (0: converged)."""
    return labels.filter(labels.label != labels.before).count()


def seed_anchors(identifiers: ir.Table, labels: ir.Table, *, kind: str) -> ir.Table:
    """Level zero of the conflict search for one one-per-customer ``kind``.

    A component is in conflict when it holds more than one identifier of ``kind``;
    those identifiers become anchors. Returns ``node``, ``anchor``, ``anchor_max``
    (equal to ``anchor`` unless the node is shared), ``dist`` and ``ambiguous``;
    empty when nothing conflicts.
    """
    of_kind = identifiers.filter(identifiers.kind == kind).join(labels, "node")
    counts = of_kind.group_by("label").agg(n=of_kind.node.count())
    conflicted = counts.filter(counts.n > 1).select("label")
    anchors = of_kind.semi_join(conflicted, "label")
    return anchors.select(
        node=anchors.node,
        anchor=anchors.node,
        anchor_max=anchors.node,
        dist=ibis.literal(0, "int64"),
        ambiguous=ibis.literal(False),
    )


def spread_anchors(state: ir.Table, edges: ir.Table, *, level: int) -> ir.Table:
    """One level of a breadth-first search from the anchors of a conflict.

    Nodes first reached at ``level`` take the anchor of the neighbours reached at
    ``level - 1``; a node reached from two different anchors at once is shared
    (``ambiguous``) and the search does not go through it. Returns the whole state.
    """
    frontier = state.filter((state.dist == level - 1) & ~state.ambiguous)
    reach = edges.join(frontier.select(src=frontier.node, anchor=frontier.anchor), "src")
    reach = reach.select(node=reach.dst, anchor=reach.anchor)
    fresh = reach.anti_join(state.select("node"), "node")
    grouped = fresh.group_by("node").agg(anchor=fresh.anchor.min(), anchor_max=fresh.anchor.max())
    new = grouped.select(
        node=grouped.node,
        anchor=grouped.anchor,
        anchor_max=grouped.anchor_max,
        dist=ibis.literal(level, "int64"),
        ambiguous=grouped.anchor != grouped.anchor_max,
    )
    return ibis.union(_anchor_state(state), _anchor_state(new), distinct=False)


def _anchor_state(t: ir.Table) -> ir.Table:
    """The search state with fixed types (engines differ in how they type literals)."""
    return t.select(
        node=t.node.cast("int64"),
        anchor=t.anchor.cast("int64"),
        anchor_max=t.anchor_max.cast("int64"),
        dist=t.dist.cast("int64"),
        ambiguous=t.ambiguous.cast("boolean"),
    )


def count_new_anchors(state: ir.Table, *, level: int) -> ir.IntegerScalar:
    """How many nodes the search reached at ``level`` (0: the search is over)."""
    return state.filter(state.dist == level).count()


def refuse_pairs(pairs: ir.Table, state: ir.Table, identifiers: ir.Table, *, kind: str) -> ir.Table:
    """Pairs that would join two identifiers of ``kind``: ``lo``, ``hi``, ``reason``, ``detail``.

    A pair is refused when one end went to an anchor and the other end went to a
    different anchor, is shared, or was not reached.
    """
    s = state
    lo_s = s.select(lo=s.node, a_lo=s.anchor, m_lo=s.anchor_max, amb_lo=s.ambiguous)
    hi_s = s.select(hi=s.node, a_hi=s.anchor, m_hi=s.anchor_max, amb_hi=s.ambiguous)
    p = pairs.left_join(lo_s, "lo").select("lo", "hi", "a_lo", "m_lo", "amb_lo")
    p = p.left_join(hi_s, "hi").select(
        "lo", "hi", "a_lo", "m_lo", "amb_lo", "a_hi", "m_hi", "amb_hi"
    )
    p = p.mutate(
        anchored_lo=p.a_lo.notnull() & ~p.amb_lo.fill_null(True),
        anchored_hi=p.a_hi.notnull() & ~p.amb_hi.fill_null(True),
    )
    p = p.filter(
        (p.anchored_lo & (~p.anchored_hi | (p.a_lo != p.a_hi))) | (p.anchored_hi & ~p.anchored_lo)
    )
    both = p.anchored_lo & p.anchored_hi
    only_lo = p.anchored_lo & ~p.anchored_hi
    # First anchor: the anchored end's (the smaller when both are). Second: the other
    # end's anchor, or for a shared end the one of its anchors that differs.
    first = ibis.cases((both, ibis.least(p.a_lo, p.a_hi)), (only_lo, p.a_lo), else_=p.a_hi)
    other_a = ibis.cases((only_lo, p.a_hi), else_=p.a_lo)
    other_m = ibis.cases((only_lo, p.m_hi), else_=p.m_lo)
    second = ibis.cases(
        (both, ibis.greatest(p.a_lo, p.a_hi)), (other_a != first, other_a), else_=other_m
    )
    p = p.select("lo", "hi", first=first, second=second)
    names1 = identifiers.select(first=identifiers.node, first_id=identifiers.id)
    names2 = identifiers.select(second=identifiers.node, second_id=identifiers.id)
    p = p.left_join(names1, "first").select("lo", "hi", "second", "first_id")
    p = p.left_join(names2, "second").select("lo", "hi", "first_id", "second_id")
    detail = (
        ibis.literal(f"would join {kind} '")
        + p.first_id
        + ibis.literal(f"' and {kind} '")
        + p.second_id.fill_null("?")
        + ibis.literal(f"'; a customer has at most one {kind}")
    )
    return p.select("lo", "hi", reason=ibis.literal(ONE_PER_CUSTOMER), detail=detail)


def remove_pairs(pairs: ir.Table, refused: ir.Table) -> ir.Table:
    """The pairs that were not refused."""
    return pairs.anti_join(refused.select("lo", "hi"), ["lo", "hi"])


def build_members(identifiers: ir.Table, labels: ir.Table) -> ir.Table:
    """Each identifier with its customer: ``id``, ``kind``, ``customer_id``, ``customer_kind``."""
    anchor = identifiers.select(
        label=identifiers.node, customer_id=identifiers.id, customer_kind=identifiers.kind
    )
    joined = identifiers.join(labels.select("node", "label"), "node").join(anchor, "label")
    return joined.select("id", "kind", "customer_id", "customer_kind")


def build_refused(
    links: ir.Table, identifiers: ir.Table, refused_pairs: Sequence[ir.Table]
) -> ir.Table:
    """Every link that was not applied, with ``reason`` and ``detail``.

    ``incomplete_link``: an identifier or its kind is missing. ``one_per_customer``:
    applying it would give a customer two identifiers of a one-per-customer kind.
    """
    ann = _annotate(links, identifiers)
    incomplete = ann.filter(ann.node_a.isnull() | ann.node_b.isnull())
    parts = [
        incomplete.select(
            *links.columns,
            reason=ibis.literal(INCOMPLETE),
            detail=ibis.literal(
                "the link misses an identifier or its kind, so it joins nothing; "
                "fill in id_a, kind_a, id_b and kind_b"
            ),
        )
    ]
    complete = ann.filter(ann.node_a.notnull() & ann.node_b.notnull())
    complete = complete.mutate(
        lo=ibis.least(complete.node_a, complete.node_b),
        hi=ibis.greatest(complete.node_a, complete.node_b),
    )
    for pairs in refused_pairs:
        hit = complete.join(pairs, ["lo", "hi"])
        parts.append(hit.select(*links.columns, "reason", "detail"))
    return ibis.union(*parts, distinct=False)


def stitched_events(events: ir.Table, members: ir.Table) -> ir.Table:
    """Events with ``actor_id`` / ``actor_kind`` replaced by the stitched customer.

    The identifier each event arrived with stays in ``identifier_id`` and
    ``identifier_kind``, so the view is reversible; identifiers that no link mentions
    are their own customer. Matching is on both id and kind.
    """
    m = members.select(
        _mid=members.id,
        _mkind=members.kind,
        _cid=members.customer_id,
        _ckind=members.customer_kind,
    )
    j = events.left_join(m, [events.actor_id == m._mid, events.actor_kind == m._mkind])
    columns = {
        name: (
            ibis.coalesce(j._cid, j.actor_id)
            if name == "actor_id"
            else ibis.coalesce(j._ckind, j.actor_kind)
            if name == "actor_kind"
            else j[name]
        )
        for name in events.columns
    }
    return j.select(**columns, identifier_id=j.actor_id, identifier_kind=j.actor_kind)


def explain_identity(
    links: ir.Table,
    members: ir.Table,
    refused: ir.Table,
    identifier: str,
    *,
    kind: str | None = None,
) -> IdentityExplanation:
    """Why ``identifier`` belongs to its customer: the customer, its identifiers and links.

    ``kind`` narrows the identifier when the same id string is used by several kinds.
    The path of links from the identifier to the customer's anchor comes from
    :func:`trace_link_path` over the executed ``links``.
    """
    match = members.filter(members.id == identifier)
    if kind is not None:
        match = match.filter(match.kind == kind)
    customer = match.select("customer_id", "customer_kind").distinct()
    ids = members.semi_join(customer, ["customer_id", "customer_kind"]).select("id", "kind")
    a = ids.select(id_a="id", kind_a="kind")
    b = ids.select(id_b="id", kind_b="kind")
    inside = links.semi_join(a, ["id_a", "kind_a"]).semi_join(b, ["id_b", "kind_b"])
    key = ["id_a", "kind_a", "id_b", "kind_b"]
    inside = inside.anti_join(refused.select(*key), key)
    touching = ibis.union(
        refused.semi_join(a, ["id_a", "kind_a"]),
        refused.semi_join(b, ["id_b", "kind_b"]),
        distinct=True,
    )
    return IdentityExplanation(customer=customer, identifiers=ids, links=inside, refused=touching)


def seed_component(links: ir.Table, identifier: str, *, kind: str | None = None) -> ir.Table:
    """The start of a search for one identifier's component: ``id``, ``kind`` (distinct)."""
    ends = ibis.union(
        links.select(id=links.id_a, kind=links.kind_a),
        links.select(id=links.id_b, kind=links.kind_b),
        distinct=True,
    )
    found = ends.filter((ends.id == identifier) & ends.kind.notnull())
    return found.filter(found.kind == kind) if kind is not None else found


def grow_component(links: ir.Table, reached: ir.Table) -> ir.Table:
    """One step of the search: ``reached`` plus every identifier linked to it.

    It follows every complete link, refused or not, so at the fixed point ``reached``
    holds the identifier's whole component of the link graph: all that stitching and
    refusing can depend on. Compare counts to see whether it grew.
    """
    as_a = reached.select(id_a="id", kind_a="kind")
    as_b = reached.select(id_b="id", kind_b="kind")
    forward = links.semi_join(as_a, ["id_a", "kind_a"]).select(id="id_b", kind="kind_b")
    backward = links.semi_join(as_b, ["id_b", "kind_b"]).select(id="id_a", kind="kind_a")
    grown = ibis.union(reached.select("id", "kind"), forward, backward, distinct=True)
    return grown.filter(grown.id.notnull() & grown.kind.notnull())


def component_links(links: ir.Table, reached: ir.Table) -> ir.Table:
    """The links that touch any identifier of a whole component ``reached``.

    A component is closed under complete links, so a complete link touching it has its
    first end in it; links with an incomplete first end are kept when their second end
    is in it. The two parts are disjoint: every link row appears once.
    """
    as_a = reached.select(id_a="id", kind_a="kind")
    as_b = reached.select(id_b="id", kind_b="kind")
    open_a = links.filter(links.id_a.isnull() | links.kind_a.isnull())
    return ibis.union(
        links.semi_join(as_a, ["id_a", "kind_a"]),
        open_a.semi_join(as_b, ["id_b", "kind_b"]),
        distinct=False,
    )


def trace_link_path(
    links: Sequence[IdentityLink], *, start: tuple[str, str], goal: tuple[str, str]
) -> tuple[IdentityLink, ...]:
    """The shortest chain of links from ``start`` to ``goal``, each a ``(kind, id)``.

    Ties between equally short chains go to the earliest link (by ts, then source and
    ids), so the answer does not depend on the order of ``links``. Returns ``()`` when
    start is goal or no chain exists. Works on the executed links of one customer.

    >>> link = IdentityLink("a1", "anonymous_id", "u1", "user_id", None, "web")
    >>> [l.id_b for l in trace_link_path([link], start=("anonymous_id", "a1"),
    ...                                  goal=("user_id", "u1"))]
    ['u1']
    """

    def order(link: IdentityLink) -> tuple[bool, str, str, str, str, str, str]:
        ts = link.ts.isoformat() if link.ts is not None else ""
        return (
            link.ts is None,
            ts,
            link.source or "",
            link.kind_a,
            link.id_a,
            link.kind_b,
            link.id_b,
        )

    adjacent: dict[tuple[str, str], list[tuple[tuple[str, str], IdentityLink]]] = {}
    for link in sorted(links, key=order):
        a, b = (link.kind_a, link.id_a), (link.kind_b, link.id_b)
        adjacent.setdefault(a, []).append((b, link))
        adjacent.setdefault(b, []).append((a, link))
    came: dict[tuple[str, str], tuple[tuple[str, str], IdentityLink] | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        for there, link in adjacent.get(here, []):
            if there not in came:
                came[there] = (here, link)
                queue.append(there)
    if goal not in came or start == goal:
        return ()
    path: list[IdentityLink] = []
    step = came[goal]
    while step is not None:
        previous, link = step
        path.append(link)
        step = came[previous]
    return tuple(reversed(path))
