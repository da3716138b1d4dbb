"""``journeymap identity``: stitch identifiers into customers and explain who is who."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from journeymap.cli.output import console, guard
from journeymap.cli.state import State

if TYPE_CHECKING:
    from journeymap.analytics.identity import IdentityLink
    from journeymap.engines.identity import Explanation

__all__ = ["explain_command", "identity_app", "stitch_command"]

identity_app = typer.Typer(
    help="Identity stitching: which identifiers belong to one customer, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", help="Workspace folder (default: the current folder)."),
]
EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="Ibis connection URL (default: the workspace's DuckDB file)."),
]


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if ts is not None else "no time"


def _node(kind: str, ident: str) -> str:
    return f"[bold]{escape(ident)}[/bold] [dim]({escape(kind)})[/dim]"


def _link_row(link: IdentityLink) -> tuple[str, str, str, str]:
    return (
        f"{escape(link.id_a)} ({escape(link.kind_a)})",
        f"{escape(link.id_b)} ({escape(link.kind_b)})",
        _when(link.ts),
        escape(link.source or ""),
    )


def print_explanation(expl: Explanation) -> None:
    """Print an explanation as a tree (the path) and tables (links, refused links)."""
    size = len(expl.identifiers)
    tree = Tree(
        f"customer {_node(expl.customer_kind, expl.customer_id)}: "
        f"{size} identifier{'s' * (size != 1)}"
    )
    if not expl.path:
        if (expl.kind, expl.identifier) == (expl.customer_kind, expl.customer_id):
            tree.add(f"{_node(expl.kind, expl.identifier)} names the customer itself")
        else:
            tree.add(f"{_node(expl.kind, expl.identifier)}: no applied link")
    else:
        branch = tree.add(f"{_node(expl.kind, expl.identifier)} (asked about)")
        here = (expl.kind, expl.identifier)
        for link in expl.path:
            there = (
                (link.kind_b, link.id_b)
                if here == (link.kind_a, link.id_a)
                else (link.kind_a, link.id_a)
            )
            branch = branch.add(
                f"{_node(*there)}  [dim]linked {_when(link.ts)}, source "
                f"{escape(link.source or '?')}[/dim]"
            )
            here = there
    others = [(k, i) for k, i in expl.identifiers if (k, i) != (expl.kind, expl.identifier)]
    if others:
        tree.add("also: " + ", ".join(_node(k, i) for k, i in others))
    console.print(tree, soft_wrap=False)
    if expl.links:
        table = Table(title="applied links", title_justify="left")
        for column in ("identifier", "identifier", "when", "source"):
            table.add_column(column)
        for link in expl.links:
            table.add_row(*_link_row(link))
        console.print(table)
    if expl.refused:
        _print_refused([(r.link, r.detail) for r in expl.refused])


def _print_refused(rows: list[tuple[IdentityLink, str]]) -> None:
    tree = Tree("[bold red]refused links[/bold red] (not applied)")
    for link, detail in rows:
        a, b, when, source = _link_row(link)
        branch = tree.add(f"{a} — {b}  [dim]{when}, source {source or '?'}[/dim]")
        branch.add(escape(detail))
    console.print(tree, soft_wrap=False)


@identity_app.command("explain")
def explain_command(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="The identifier (an id as the data has it).")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", "-k", help="Its kind when the id is used by several (user_id, ...)."
        ),
    ] = None,
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
) -> None:
    """Show why identifiers belong to one customer: the links from this identifier to the
    one that names the customer (each with its time and source), the customer's other
    identifiers, and any links refused because they would join two customers."""
    with guard(State.of(ctx).debug):
        from journeymap.engines.identity import explain_identifier
        from journeymap.io.workspace import list_tables, open_workspace

        with open_workspace(workspace, engine=engine) as ws:
            events = ws.table("events") if "events" in list_tables(ws.con) else None
            expl = explain_identifier(
                ws.con, ws.table("identity_links"), identifier, kind=kind, events=events
            )
        print_explanation(expl)


@identity_app.command("stitch")
def stitch_command(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path(),
    engine: EngineOption = None,
    show: Annotated[
        int, typer.Option("--show", help="How many refused links to list.", min=0)
    ] = 10,
) -> None:
    """Stitch the workspace's identifiers into customers and report refused links.

    Writes the tables identity_members (identifier -> customer) and identity_refused
    (links not applied, with the reason); analyses read events through them."""
    with guard(State.of(ctx).debug):
        from journeymap.engines.identity import stitch_identities
        from journeymap.io.workspace import open_workspace

        with open_workspace(workspace, engine=engine) as ws:
            result = stitch_identities(ws.con, ws.table("identity_links"), persist=True)
            refused = ws.con.to_pyarrow(
                result.refused.order_by("ts", "id_a", "id_b").limit(show)
            ).to_pylist()
            reasons = ws.con.to_pyarrow(
                result.refused.group_by("reason").agg(n=result.refused.count()).order_by("reason")
            ).to_pylist()
        console.print(
            f"[green]stitched[/green] {result.identifiers:,} identifiers from "
            f"{result.links:,} links into {result.customers:,} customers "
            f"({result.rounds} rounds); {result.refused_links:,} links refused"
        )
        for row in reasons:
            console.print(f"  {escape(str(row['reason']))}: {row['n']:,}")
        if refused:
            _print_refused([(_link_of(row), str(row["detail"])) for row in refused])


def _link_of(row: dict[str, Any]) -> IdentityLink:
    from journeymap.analytics.identity import IdentityLink

    return IdentityLink(
        id_a=str(row["id_a"]),
        kind_a=str(row["kind_a"]),
        id_b=str(row["id_b"]),
        kind_b=str(row["kind_b"]),
        ts=row["ts"],
        source=row["source"],
    )
