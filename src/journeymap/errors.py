"""One error tree for journeymap.

Every error a user can cause is a :class:`JourneyError`. Subclasses also subclass
the matching built-in exception, so ``except ValueError`` keeps working for callers
that do not know about journeymap. Adapters translate foreign exceptions into this
tree once, where they happen; the CLI prints the message and exits 1, the web app
turns it into a JSON error with a 4xx status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DataImportError",
    "EngineError",
    "JourneyError",
    "Location",
    "MapFormatError",
    "MapValidationError",
    "Problem",
    "TemplateNotFoundError",
    "UnsupportedFormatError",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem sits in a file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document: what, where and how to fix it.

    ``path`` addresses the value inside the document (``("stages", 1, "steps", 0,
    "emotion")``); ``where`` is the human label of that place ("step 'visit-site'");
    ``location`` is filled in by the reader that knows the file.
    """

    path: tuple[str | int, ...]
    message: str
    hint: str | None = None
    where: str | None = None
    severity: Severity = "error"
    location: Location | None = None

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        where = f"{self.where}: " if self.where else ""
        hint = f"; {self.hint}" if self.hint else ""
        tag = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{tag}{where}{self.message}{hint}"


class JourneyError(Exception):
    """Root of every error journeymap raises on purpose."""

    exit_code: int = 1


class MapFormatError(JourneyError, ValueError):
    """A map file cannot be read at all (not YAML or JSON, wrong encoding, empty)."""


class MapValidationError(JourneyError, ValueError):
    """A map has one or more problems; all of them are listed, each located."""

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(errors)} problem{'s' if len(errors) != 1 else ''} found"]
        lines += [str(p) for p in self.problems]
        super().__init__("\n".join(lines))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


class TemplateNotFoundError(JourneyError, LookupError):
    """No template of that name ships with journeymap."""


class UnsupportedFormatError(JourneyError, ValueError):
    """A file extension or format name that journeymap does not read or write."""


class DataImportError(JourneyError, ValueError):
    """Event or feedback data cannot be imported (a located, fixable problem)."""


class EngineError(JourneyError, RuntimeError):
    """The query engine failed; raised only by ``journeymap.engines``."""
