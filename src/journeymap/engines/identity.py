"""Run identity stitching on an engine: the loop around the pure rounds.

:mod:`journeymap.analytics.identity` builds one round of label propagation (or one
level of the conflict search) as an expression; this module executes rounds,
materialising each (a temporary table on DuckDB, a cached frame on Spark), until
nothing changes. Rounds are capped by ``max_rounds``; a graph that does
not settle by then raises :class:`~journeymap.errors.EngineError` instead of giving a
half-stitched answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis.expr.types as ir
import sqlglot as sg
from ibis.backends import BaseBackend

from journeymap.analytics import identity as core
from journeymap.analytics.identity import IdentityLink, IdentityRules, RefusedLink
from journeymap.engines.connection import fetch_rows, translate_errors
from journeymap.errors import EngineError, JourneyError

__all__ = [
    "Explanation",
    "Stitching",
    "UnknownIdentifierError",
    "drop_table",
    "explain_identifier",
    "stitch_identities",
]

MEMBERS_TABLE = "identity_members"
REFUSED_TABLE = "identity_refused"


class UnknownIdentifierError(JourneyError, LookupError):
    """The identifier to explain is in no identity link and no event (or is ambiguous)."""


@dataclass(frozen=True)
class Stitching:
    """The result of stitching: tables on the engine plus the counts worth printing.

    ``members``: one row per identifier (``id``, ``kind``, ``customer_id``,
    ``customer_kind``). ``refused``: every link not applied, with ``reason`` and
    ``detail``. ``rounds``: propagation rounds run in total, ``search_levels``: levels
    of the conflict search.
    """

    members: ir.Table
    refused: ir.Table
    identifiers: int
    customers: int
    links: int
    refused_links: int
    rounds: int
    search_levels: int
    _scratch: _Scratch | None = field(default=None, repr=False, compare=False)

    def release(self) -> None:
        """Drop the temporary tables behind ``members`` and ``refused`` (not persisted ones)."""
        if self._scratch is not None:
            self._scratch.drop_all()


@dataclass(frozen=True)
class Explanation:
    """Why an identifier belongs to its customer, as executed rows.

    ``path``: the links from the identifier to the customer's anchor (the identifier
    that names the customer), shortest first-come chain; ``links``: every applied link
    of this customer; ``refused``: refused links touching any of its identifiers.
    """

    identifier: str
    kind: str
    customer_id: str
    customer_kind: str
    identifiers: tuple[tuple[str, str], ...]
    path: tuple[IdentityLink, ...]
    links: tuple[IdentityLink, ...]
    refused: tuple[RefusedLink, ...]


@contextmanager
def _engine_errors(what: str) -> Iterator[None]:
    with translate_errors(f"identity stitching failed while {what}"):
        yield


def _count(con: BaseBackend, expr: ir.IntegerScalar) -> int:
    # run on ``con`` itself: an expression over in-memory tables has no backend of its
    # own and would otherwise go to Ibis's default one
    value = con.to_pyarrow(expr).as_py()
    return int(value or 0)


class _Scratch:
    """The temporary tables of one run, made and dropped here.

    SQL engines get plain temporary tables dropped with our own statement (ibis 12's
    own drop renders an empty ``DROP TABLE IF EXISTS`` with the locked sqlglot 30, which
    breaks ``Table.release()`` and ``create_table(overwrite=True)``); Spark gets
    checkpointed frames behind temporary views.
    """

    def __init__(self, con: BaseBackend) -> None:
        self.con = con
        self.spark = con.name == "pyspark"
        self.live: dict[int, ir.Table] = {}
        self.frames: dict[str, Any] = {}

    def keep(self, expr: ir.Table) -> ir.Table:
        name = f"_journeymap_identity_{uuid.uuid4().hex[:16]}"
        if self.spark:
            table = self._keep_on_spark(name, expr)
        else:
            table = self.con.create_table(name, expr, temp=True)
        self.live[id(table)] = table
        return table

    def _keep_on_spark(self, name: str, expr: ir.Table) -> ir.Table:
        # Each round refers to the previous one several times; a cached view keeps the
        # whole plan behind it, so plans (and Spark's planning time) would grow
        # threefold per round. A local checkpoint computes the rows now and cuts the
        # plan. Ibis has no public call for that: use its session, and register the
        # in-memory inputs first as its own execute would.
        con: Any = self.con
        con._run_pre_execute_hooks(expr)
        frame = con._session.sql(con.compile(expr)).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self.frames[name] = frame
        table: ir.Table = con.table(name)
        return table

    def drop(self, table: ir.Table) -> None:
        if self.live.pop(id(table), None) is None:
            return
        name = table.get_name()
        if self.spark:
            con: Any = self.con
            con._session.catalog.dropTempView(name)
            self.frames.pop(name, None)
        else:
            drop_table(self.con, name)

    def drop_all(self) -> None:
        for table in list(self.live.values()):
            self.drop(table)


def drop_table(con: BaseBackend, name: str) -> None:
    """Drop a table (or temporary table) if it exists, on any SQL engine."""
    ident = sg.to_identifier(name, quoted=True).sql(con.dialect)
    con.raw_sql(f"DROP TABLE IF EXISTS {ident}")


def _converge_labels(
    scratch: _Scratch, identifiers: ir.Table, edges: ir.Table, *, max_rounds: int
) -> tuple[ir.Table, int]:
    labels = scratch.keep(core.seed_labels(identifiers))
    for round_number in range(1, max_rounds + 1):
        nxt = scratch.keep(core.propagate_labels(labels, edges))
        scratch.drop(labels)
        labels = nxt
        if _count(scratch.con, core.count_changes(labels)) == 0:
            return labels, round_number
    raise EngineError(
        f"identity stitching did not settle in {max_rounds} rounds; the link graph is "
        "unusually deep: pass a larger max_rounds"
    )


def _search_conflicts(
    scratch: _Scratch,
    identifiers: ir.Table,
    labels: ir.Table,
    pairs: ir.Table,
    edges: ir.Table,
    *,
    kind: str,
    max_rounds: int,
) -> tuple[ir.Table | None, int]:
    state = scratch.keep(core.seed_anchors(identifiers, labels, kind=kind))
    if _count(scratch.con, state.count()) == 0:
        scratch.drop(state)
        return None, 0
    for level in range(1, max_rounds + 1):
        nxt = scratch.keep(core.spread_anchors(state, edges, level=level))
        scratch.drop(state)
        state = nxt
        if _count(scratch.con, core.count_new_anchors(state, level=level)) == 0:
            refused = scratch.keep(core.refuse_pairs(pairs, state, identifiers, kind=kind))
            scratch.drop(state)
            return refused, level
    raise EngineError(
        f"the search for {kind} conflicts did not finish in {max_rounds} levels; "
        "pass a larger max_rounds"
    )


def stitch_identities(
    con: BaseBackend,
    links: ir.Table,
    *,
    rules: IdentityRules | None = None,
    max_rounds: int = 64,
    persist: bool = False,
) -> Stitching:
    """Stitch the identifiers of ``links`` (the contract's identity_links) into customers.

    Runs on ``con`` (any Ibis backend). Components are computed first; for each
    one-per-customer kind (in priority order) components holding two identifiers of
    that kind are searched and the links that would join them are refused; components
    are then computed again on the links left. With ``persist`` the results are also
    written as the tables ``identity_members`` and ``identity_refused`` (replaced);
    otherwise they are temporary: call :meth:`Stitching.release` when done.
    """
    rules = rules or IdentityRules()
    scratch = _Scratch(con)
    try:
        with _engine_errors("stitching identities"):
            return _stitch(scratch, links, rules=rules, max_rounds=max_rounds, persist=persist)
    finally:
        scratch.drop_all()


def _stitch(
    scratch: _Scratch, links: ir.Table, *, rules: IdentityRules, max_rounds: int, persist: bool
) -> Stitching:
    con = scratch.con
    identifiers = scratch.keep(core.list_identifiers(links, rules=rules))
    pairs = scratch.keep(core.list_pairs(links, identifiers))
    edges = scratch.keep(core.list_edges(pairs))
    labels, rounds = _converge_labels(scratch, identifiers, edges, max_rounds=max_rounds)
    refused_pairs: list[ir.Table] = []
    levels = 0
    for kind in rules.limited_kinds:
        refused, used = _search_conflicts(
            scratch, identifiers, labels, pairs, edges, kind=kind, max_rounds=max_rounds
        )
        levels += used
        if refused is None:
            continue
        refused_pairs.append(refused)
        kept = scratch.keep(core.remove_pairs(pairs, refused))
        scratch.drop(pairs)
        scratch.drop(edges)
        pairs = kept
        edges = scratch.keep(core.list_edges(pairs))
        scratch.drop(labels)
        labels, more = _converge_labels(scratch, identifiers, edges, max_rounds=max_rounds)
        rounds += more
    members_expr = core.build_members(identifiers, labels)
    refused_expr = core.build_refused(links, identifiers, refused_pairs)
    result_scratch = _Scratch(con)
    if persist:
        for name in (MEMBERS_TABLE, REFUSED_TABLE):
            drop_table(con, name)
        members = con.create_table(MEMBERS_TABLE, members_expr)
        refused_all = con.create_table(REFUSED_TABLE, refused_expr)
    else:
        members = result_scratch.keep(members_expr)
        refused_all = result_scratch.keep(refused_expr)
    # every customer has exactly one member that names it: its anchor
    anchor = (members.id == members.customer_id) & (members.kind == members.customer_kind)
    counts = con.to_pyarrow(
        members.aggregate(
            identifiers=members.count(), customers=anchor.cast("int64").sum().fill_null(0)
        )
    ).to_pylist()[0]
    return Stitching(
        members=members,
        refused=refused_all,
        identifiers=int(counts["identifiers"]),
        customers=int(counts["customers"]),
        links=_count(con, links.count()),
        refused_links=_count(con, refused_all.count()),
        rounds=rounds,
        search_levels=levels,
        _scratch=result_scratch,
    )


def _link(row: dict[str, Any]) -> IdentityLink:
    ts = row.get("ts")
    return IdentityLink(
        id_a=row["id_a"],
        kind_a=row["kind_a"],
        id_b=row["id_b"],
        kind_b=row["kind_b"],
        ts=ts if isinstance(ts, datetime) else None,
        source=row.get("source"),
    )


def _first_come(link: IdentityLink) -> tuple[bool, str, str, str, str]:
    ts = link.ts.isoformat() if link.ts is not None else ""
    return (link.ts is None, ts, link.source or "", link.kind_a, link.id_a)


def _component(
    scratch: _Scratch, links: ir.Table, identifier: str, *, kind: str | None, max_rounds: int
) -> ir.Table | None:
    """The links of the identifier's component, materialised; None when the search
    does not settle in ``max_rounds`` (the caller then stitches every link)."""
    reached = scratch.keep(core.seed_component(links, identifier, kind=kind))
    size = _count(scratch.con, reached.count())
    for _ in range(max_rounds):
        grown = scratch.keep(core.grow_component(links, reached))
        scratch.drop(reached)
        reached = grown
        before, size = size, _count(scratch.con, reached.count())
        if size == before:
            return scratch.keep(core.component_links(links, reached))
    return None


def explain_identifier(
    con: BaseBackend,
    links: ir.Table,
    identifier: str,
    *,
    kind: str | None = None,
    events: ir.Table | None = None,
    rules: IdentityRules | None = None,
    max_rounds: int = 64,
) -> Explanation:
    """Stitch ``links`` and explain the customer of ``identifier`` (optionally of ``kind``).

    Only the identifier's component of the link graph is stitched (found first by a
    breadth-first search), which gives the same answer as stitching every link, since
    stitching never crosses components, and is fast on a large workspace. An identifier that no link mentions but that ``events`` holds is its own customer.
    Raises :class:`UnknownIdentifierError` when it is found nowhere, or when several
    kinds use that id and ``kind`` does not say which.
    """
    scratch = _Scratch(con)
    try:
        with _engine_errors("finding the identifier's links"):
            local = _component(scratch, links, identifier, kind=kind, max_rounds=max_rounds)
        stitching = stitch_identities(
            con, links if local is None else local, rules=rules, max_rounds=max_rounds
        )
    finally:
        scratch.drop_all()
    try:
        with _engine_errors("explaining an identifier"):
            return _explain(con, stitching, links, identifier, kind=kind, events=events)
    finally:
        stitching.release()


def _explain(
    con: BaseBackend,
    stitching: Stitching,
    links: ir.Table,
    identifier: str,
    *,
    kind: str | None,
    events: ir.Table | None,
) -> Explanation:
    members = stitching.members
    found = members.filter(members.id == identifier)
    if kind is not None:
        found = found.filter(found.kind == kind)
    matches = fetch_rows(con, found.order_by("kind"))
    if not matches:
        return _explain_unlinked(con, identifier, kind=kind, events=events)
    if len(matches) > 1:
        kinds = ", ".join(m["kind"] for m in matches)
        raise UnknownIdentifierError(
            f"identifier {identifier!r} is used by several kinds ({kinds}); "
            "say which with --kind KIND"
        )
    match = matches[0]
    expl = core.explain_identity(links, members, stitching.refused, identifier, kind=match["kind"])
    ids = fetch_rows(con, expl.identifiers.order_by("kind", "id"))
    applied = [_link(r) for r in fetch_rows(con, expl.links)]
    refused = [
        RefusedLink(link=_link(r), reason=r["reason"], detail=r["detail"])
        for r in fetch_rows(con, expl.refused)
    ]
    path = core.trace_link_path(
        applied,
        start=(match["kind"], identifier),
        goal=(match["customer_kind"], match["customer_id"]),
    )
    applied.sort(key=_first_come)
    refused.sort(key=lambda r: (_first_come(r.link), r.detail))
    return Explanation(
        identifier=identifier,
        kind=match["kind"],
        customer_id=match["customer_id"],
        customer_kind=match["customer_kind"],
        identifiers=tuple((r["kind"], r["id"]) for r in ids),
        path=path,
        links=tuple(applied),
        refused=tuple(refused),
    )


def _explain_unlinked(
    con: BaseBackend, identifier: str, *, kind: str | None, events: ir.Table | None
) -> Explanation:
    if events is not None:
        seen = events.filter(events.actor_id == identifier)
        if kind is not None:
            seen = seen.filter(seen.actor_kind == kind)
        kinds = [r["actor_kind"] for r in fetch_rows(con, seen.select("actor_kind").distinct())]
        if len(kinds) == 1:
            own_kind = kinds[0] or "unknown"
            return Explanation(
                identifier=identifier,
                kind=own_kind,
                customer_id=identifier,
                customer_kind=own_kind,
                identifiers=((own_kind, identifier),),
                path=(),
                links=(),
                refused=(),
            )
        if len(kinds) > 1:
            raise UnknownIdentifierError(
                f"identifier {identifier!r} is used by several kinds in events "
                f"({', '.join(sorted(str(k) for k in kinds))}); say which with --kind KIND"
            )
    where = "identity link or event" if events is not None else "identity link"
    narrowed = f" of kind {kind!r}" if kind is not None else ""
    raise UnknownIdentifierError(
        f"identifier {identifier!r}{narrowed} appears in no {where}; check the spelling"
        + (" or drop --kind" if kind is not None else "")
    )
