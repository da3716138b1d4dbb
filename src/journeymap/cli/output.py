"""How the CLI speaks: rich consoles, and errors as messages instead of tracebacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from journeymap.errors import JourneyError, MapValidationError, Problem

__all__ = ["console", "err_console", "guard", "jsonable", "print_problems"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_problems(problems: tuple[Problem, ...] | list[Problem]) -> None:
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        err_console.print(f"[{colour}]{escape(str(problem))}[/{colour}]")


@contextmanager
def guard(debug: bool = False) -> Iterator[None]:
    """Turn journeymap errors into a message and exit code 1 (a traceback with --debug).

    Anything unexpected is reported as an internal error with exit code 70, never as a
    raw traceback, unless --debug asks for one.
    """
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except MapValidationError as exc:
        if debug:
            raise
        head = f"{exc.source}: " if exc.source else ""
        count = len(exc.errors)
        err_console.print(f"[bold red]{escape(head)}{count} problem{'s' * (count != 1)}[/]")
        print_problems(exc.problems)
        raise typer.Exit(exc.exit_code) from None
    except JourneyError as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        err_console.print(
            f"[red]internal error:[/red] {escape(type(exc).__name__)}: {escape(str(exc))}\n"
            "This is a bug in journeymap. Run the command again with --debug and report "
            "the traceback."
        )
        raise typer.Exit(70) from None


def jsonable(value: Any) -> Any:
    """A table cell as JSON can hold it: NaN as null, dates and times as ISO text."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
