"""Mermaid ``journey`` diagrams: read them as maps, write maps as them.

Mermaid's user-journey diagram holds a title, sections, and tasks with a score and
the people involved. journeymap maps it onto the document like this:

=============================  =============================================
Mermaid                        journeymap
=============================  =============================================
``title Carla buys a pack``    ``title`` (the map id is a slug of it)
``accDescr: ...``              ``description``
``section Consideration``      a stage (``name``)
``Reads a review: 4: Carla``   a step (``name``) of the current stage
score ``1 2 3 4 5``            declared emotion ``-2 -1 0 +1 +2`` (score = emotion + 3)
actors ``Carla, Sam``          personas, by name; the step lists them
=============================  =============================================

Writing (:func:`write_mermaid`):

- A step without a declared emotion is written with score 3 (neutral); a warning
  names those steps. Reading the file back gives them emotion 0.
- A step's actors are the personas it lists, by name. A step that lists none (which
  means "all personas") is written without actors and reads back the same way.
- Steps of sub-stages are written in their stage's section, in journey order.
- Mermaid's grammar cannot carry some characters in names. They are replaced by
  their full-width look-alikes: ``:`` → ``：``, ``#`` → ``＃``, ``;`` → ``；``,
  ``,`` (in actor names) → ``，``, ``%%`` → ``％％``; line breaks become spaces.
  A task whose name Mermaid would read as a keyword (``journey…``, ``title …``,
  ``section …``, ``accTitle``, ``accDescr``) is written in double quotes. A warning
  lists every name changed.
- A multi-line description is written as an ``accDescr { ... }`` block.
- Everything else (pain points, cards, channels, event rules, forks, opportunities,
  scope, persona details, ids…) is left out, and a warning lists concretely what the
  map had that Mermaid cannot hold.

Reading (:func:`read_mermaid`) follows Mermaid's own grammar: ``%%`` comment lines,
``%%{init: …}%%`` directives, ``#`` comments, blank lines and any indentation are
accepted, as is YAML front matter (``---`` … ``---``) whose ``title`` is used when
there is no ``title`` line. Like Mermaid, tasks written before the first
``section`` belong to an unnamed section; journeymap calls that stage
``Unnamed section``. ``accTitle`` is used as the title only when there is no other.

Ids are slugs of the names (``Visit the site`` → ``visit-the-site``); names that are mostly not ASCII, such as Korean ones, get
``stage-1``, ``step-3``, ``persona-2`` by position instead. Ids are made unique
with a ``-2``, ``-3``… suffix. ``lang`` is ``ko`` when the text holds Hangul.

Every problem is reported at once, each located as ``source:line:column``: a score
that is not a whole number from 1 to 5, a line that is neither title, section nor
task, ``;`` (which Mermaid rejects), a section without tasks, an empty actor name.

>>> text = "journey\\n  title Tea\\n  section Morning\\n    Make tea: 5: Me\\n"
>>> jmap = read_mermaid(text, source="tea.mmd")
>>> jmap.stages[0].steps[0].emotion
2
>>> write_mermaid(jmap).text == text
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from journeymap.errors import Location, MapValidationError, Problem
from journeymap.io.maps import Converted
from journeymap.model import JourneyMap, Persona, validate_map

__all__ = [
    "UNNAMED_SECTION",
    "emotion_for_score",
    "read_mermaid",
    "score_for_emotion",
    "write_mermaid",
]

UNNAMED_SECTION = "Unnamed section"
"""The stage name given to tasks written before the first ``section`` line."""

_NEUTRAL_SCORE = 3
_KEYWORD = re.compile(r"^(?:journey|title\s|section\s|acctitle\s*$|accdescr\s*(?:$|\{))")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_SHOWN = 5


def score_for_emotion(emotion: int | None) -> int:
    """The Mermaid score (1..5) for a declared emotion (-2..+2); no emotion is 3.

    >>> [score_for_emotion(e) for e in (-2, -1, 0, 1, 2, None)]
    [1, 2, 3, 4, 5, 3]
    """
    if emotion is None:
        return _NEUTRAL_SCORE
    if not -2 <= emotion <= 2:
        raise ValueError(f"emotion {emotion} is out of range; it runs from -2 to +2")
    return emotion + 3


def emotion_for_score(score: int) -> int:
    """The declared emotion (-2..+2) for a Mermaid score (1..5).

    >>> [emotion_for_score(s) for s in (1, 2, 3, 4, 5)]
    [-2, -1, 0, 1, 2]
    """
    if not 1 <= score <= 5:
        raise ValueError(f"score {score} is out of range; Mermaid scores run from 1 to 5")
    return score - 3


# --- the diagram, as Mermaid holds it -------------------------------------------------


@dataclass(frozen=True)
class _Task:
    name: str
    score: int
    actors: tuple[str, ...]
    line: int = 1
    column: int = 1


@dataclass
class _Section:
    name: str
    tasks: list[_Task] = field(default_factory=list)
    line: int = 1
    column: int = 1
    task_lines: int = 0
    """Task lines seen, readable or not (a section of unreadable tasks is not empty)."""


@dataclass
class _Diagram:
    title: str | None = None
    description: str | None = None
    sections: list[_Section] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------


class _Parser:
    """Turns Mermaid journey text into a :class:`_Diagram`, collecting every problem."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]
        self.source = source
        self.problems: list[Problem] = []
        self.diagram = _Diagram()
        self.front_title: str | None = None
        self.acc_title: str | None = None
        self.title_line: int | None = None
        self.header_line = 1

    def fail(
        self, line: int, column: int, message: str, hint: str | None, *, where: str | None = None
    ) -> None:
        self.problems.append(
            Problem(
                (),
                message,
                hint=hint,
                where=where,
                location=Location(self.source, line, column),
            )
        )

    def run(self) -> _Diagram:
        start = self.read_front_matter()
        header = False
        number = start
        while number < len(self.lines):
            raw = self.lines[number]
            number += 1
            content = raw.lstrip()
            column = len(raw) - len(content) + 1
            if not content or _is_comment(content):
                continue
            if not header:
                if _strip_hash(content).strip().lower() != "journey":
                    self.fail(
                        number,
                        column,
                        f"expected 'journey', found {content.strip()!r}",
                        "a Mermaid journey diagram starts with the line 'journey'",
                    )
                    return self.diagram
                header = True
                self.header_line = number
                continue
            number = self.read_statement(content, number, column)
        if not header:
            self.fail(
                len(self.lines),
                1,
                "no 'journey' line: the text holds no Mermaid journey diagram",
                "start with 'journey', then 'title ...', 'section ...' and task lines",
            )
            return self.diagram
        self.finish()
        self.problems.sort(
            key=lambda p: (p.location.line, p.location.column) if p.location else (0, 0)
        )
        return self.diagram

    def read_front_matter(self) -> int:
        """Skip YAML front matter, keeping its title; the index of the next line."""
        if not self.lines or self.lines[0].strip() != "---":
            return 0
        for end in range(1, len(self.lines)):
            if self.lines[end].strip() == "---":
                break
        else:
            self.fail(1, 1, "front matter opened with '---' is never closed", "add a '---' line")
            return len(self.lines)
        try:
            data = yaml.safe_load("\n".join(self.lines[1:end]))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line, column = (mark.line + 2, mark.column + 1) if mark else (2, 1)
            self.fail(line, column, f"front matter is not valid YAML: {exc.problem}", None)
            return end + 1
        except yaml.YAMLError as exc:
            self.fail(2, 1, f"front matter is not valid YAML: {exc}", None)
            return end + 1
        if isinstance(data, dict) and data.get("title") is not None:
            self.front_title = str(data["title"])
        return end + 1

    def read_statement(self, content: str, number: int, column: int) -> int:
        """Read one statement starting on line ``number``; the index of the next line."""
        lower = content.lower()
        # accTitle and accDescr values run to the end of the line: '#' is no comment there
        if match := re.match(r"acctitle\s*:", lower):
            self.acc_title = content[match.end() :].strip()
            return number
        if match := re.match(r"accdescr\s*:", lower):
            self.diagram.description = content[match.end() :].strip()
            return number
        if match := re.match(r"accdescr\s*\{", lower):
            return self.read_description_block(content[match.end() :], number, column)
        content = _strip_hash(content).rstrip()
        lower = content.lower()
        if not content:
            return number
        if (semicolon := content.find(";")) >= 0:
            self.fail(
                number,
                column + semicolon,
                "';' cannot be used in a Mermaid journey",
                "Mermaid rejects the line; remove it, or write the full-width '；' instead",
            )
            if not re.match(r"(?:title|section)\s", lower):
                self.count_task_line(number, column)
        elif lower.startswith("journey"):
            self.fail(
                number,
                column,
                "'journey' may appear only once, as the first line",
                "Mermaid reads a line starting with 'journey' as the diagram keyword; "
                "reword a task whose name starts with it",
            )
        elif re.match(r"title\s", lower):
            self.read_title(content, number, column)
        elif re.match(r"section\s", lower):
            self.read_section(content, number, column)
        else:
            self.read_task(content, number, column)
        return number

    def read_description_block(self, rest: str, number: int, column: int) -> int:
        parts: list[str] = []
        line = rest
        while True:
            if (close := line.find("}")) >= 0:
                parts.append(line[:close])
                if line[close + 1 :].strip():
                    self.fail(
                        number,
                        column,
                        "text after the '}' that closes 'accDescr {'",
                        "put the closing '}' on its own line",
                    )
                break
            if not line.lstrip().startswith("%%"):
                parts.append(line)
            if number >= len(self.lines):
                self.fail(
                    number,
                    column,
                    "'accDescr {' is never closed",
                    "end the description with a line holding '}'",
                )
                break
            line = self.lines[number]
            number += 1
        self.diagram.description = "\n".join(parts).strip()
        return number

    def read_title(self, content: str, number: int, column: int) -> None:
        title = content[6:].strip()
        if not title:
            self.fail(number, column, "'title' has no text", "write 'title Your journey'")
        elif self.title_line is not None:
            self.fail(
                number,
                column,
                f"a second title (the first is on line {self.title_line})",
                "keep one 'title' line",
            )
        else:
            self.diagram.title = title
            self.title_line = number

    def read_section(self, content: str, number: int, column: int) -> None:
        name = content[8:]
        if (colon := name.find(":")) >= 0:
            self.fail(
                number,
                column + 8 + colon,
                "a section name cannot contain ':'",
                "Mermaid ends the name at ':'; reword it or write the full-width '：'",
                where=f"section {name[:colon].strip()!r}",
            )
            return
        if not name.strip():
            self.fail(number, column, "'section' has no name", "write 'section Consideration'")
            return
        self.diagram.sections.append(_Section(name.strip(), line=number, column=column))

    def count_task_line(self, number: int, column: int) -> None:
        if not self.diagram.sections:
            self.diagram.sections.append(_Section(UNNAMED_SECTION, line=number, column=column))
        self.diagram.sections[-1].task_lines += 1

    def read_task(self, content: str, number: int, column: int) -> None:
        self.count_task_line(number, column)
        colon = content.find(":")
        if colon < 0:
            self.fail(
                number,
                column,
                f"not a task, title or section: {content!r}",
                "write a task as 'Task name: score' or 'Task name: score: Actor, Actor' "
                "with a score from 1 to 5",
            )
            return
        name = content[:colon].strip()
        if not name:
            self.fail(
                number,
                column,
                "the task has no name before ':'",
                "write 'Task name: score', e.g. 'Reads a review: 4: Carla'",
            )
            return
        where = f"task {name!r}"
        pieces = content[colon + 1 :].split(":")
        offset = column + colon + 1
        ok = True
        if len(pieces) > 2:
            extra = offset + len(pieces[0]) + 1 + len(pieces[1])
            self.fail(
                number,
                extra,
                "a task line has at most two ':' (name: score: actors)",
                "Mermaid ignores what follows a third ':'; remove it, or write the "
                "full-width '：' inside names",
                where=where,
            )
            ok = False
        score_text = pieces[0].strip()
        score_column = offset + len(pieces[0]) - len(pieces[0].lstrip())
        score = _NEUTRAL_SCORE
        if not re.fullmatch(r"[+-]?[0-9]+", score_text):
            self.fail(
                number,
                score_column,
                f"score {score_text!r} is not a whole number",
                "write a score from 1 (very negative) to 5 (very positive); 3 is neutral",
                where=where,
            )
            ok = False
        elif not 1 <= int(score_text) <= 5:
            self.fail(
                number,
                score_column,
                f"score {int(score_text)} is out of range",
                "Mermaid scores run from 1 (very negative) to 5 (very positive); 3 is neutral",
                where=where,
            )
            ok = False
        else:
            score = int(score_text)
        actors: list[str] = []
        if len(pieces) >= 2:
            at = offset + len(pieces[0]) + 1
            for part in pieces[1].split(","):
                if not part.strip():
                    self.fail(
                        number,
                        at,
                        "an empty actor name",
                        "remove the extra ',' (or the last ':' when the task has no actors)",
                        where=where,
                    )
                    ok = False
                actors.append(part.strip())
                at += len(part) + 1
        if not ok:
            return
        self.diagram.sections[-1].tasks.append(
            _Task(name, score, tuple(actors), line=number, column=column)
        )

    def finish(self) -> None:
        if self.diagram.title is None:
            self.diagram.title = self.front_title or self.acc_title or None
        for section in self.diagram.sections:
            if not section.task_lines:
                self.fail(
                    section.line,
                    section.column,
                    "the section has no tasks",
                    "add a task under it, e.g. 'Reads a review: 4: Carla', or remove it",
                    where=f"section {section.name!r}",
                )
        if not self.diagram.sections and not self.problems:
            self.fail(
                self.header_line,
                1,
                "the journey has no tasks",
                "add 'section NAME' and a task line such as 'Reads a review: 4: Carla'",
            )


def _is_comment(content: str) -> bool:
    """Whether Mermaid skips the line: ``%%`` comments and directives, and the lexer's
    rule that a character followed by ``%%`` starts a comment too."""
    return content.startswith("%%") or (content[1:3] == "%%" and content[0] != "}")


def _strip_hash(content: str) -> str:
    """The line without its ``#`` comment (Mermaid journey has no quoting)."""
    at = content.find("#")
    return content if at < 0 else content[:at]


# --- ids --------------------------------------------------------------------------


def _slug(name: str) -> str:
    """An id from a name, or ``""`` when the name is mostly not ASCII (e.g. Korean)."""
    letters = [c for c in name if c.isalnum()]
    ascii_letters = [c for c in letters if c.isascii()]
    if not ascii_letters or len(ascii_letters) * 2 < len(letters):
        return ""
    out = "".join(c if c.isascii() and c.isalnum() else "-" for c in name.lower())
    return "-".join(filter(None, out.split("-")))[:60].strip("-")


class _IdRegistry:
    def __init__(self) -> None:
        self.used: set[str] = set()

    def claim(self, name: str, fallback: str) -> str:
        base = _slug(name) or fallback
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}-{n}"
        self.used.add(candidate)
        return candidate


@dataclass(frozen=True)
class _Ids:
    map_id: str
    stages: list[str]
    steps: list[list[str]]
    personas: dict[str, str]


def _assign_ids(diagram: _Diagram) -> _Ids:
    """The ids a map read from ``diagram`` gets: in document order, unique."""
    registry = _IdRegistry()
    stages: list[str] = []
    steps: list[list[str]] = []
    personas: dict[str, str] = {}
    count = 0
    for number, section in enumerate(diagram.sections, start=1):
        stages.append(registry.claim(section.name, f"stage-{number}"))
        ids: list[str] = []
        for task in section.tasks:
            count += 1
            ids.append(registry.claim(task.name, f"step-{count}"))
            for actor in task.actors:
                if actor not in personas:
                    personas[actor] = registry.claim(actor, f"persona-{len(personas) + 1}")
        steps.append(ids)
    return _Ids(_slug(diagram.title or "") or "journey", stages, steps, personas)


def _language(diagram: _Diagram) -> str:
    texts = [diagram.title or "", diagram.description or ""]
    for section in diagram.sections:
        texts.append(section.name)
        for task in section.tasks:
            texts += [task.name, *task.actors]
    return "ko" if any(_HANGUL.search(t) for t in texts) else "en"


def _build_map(diagram: _Diagram, source: str) -> JourneyMap:
    ids = _assign_ids(diagram)
    positions: dict[tuple[str | int, ...], tuple[int, int]] = {}
    stages: list[dict[str, Any]] = []
    for si, section in enumerate(diagram.sections):
        positions[("stages", si)] = (section.line, section.column)
        steps: list[dict[str, Any]] = []
        for ti, task in enumerate(section.tasks):
            positions[("stages", si, "steps", ti)] = (task.line, task.column)
            steps.append(
                {
                    "id": ids.steps[si][ti],
                    "name": task.name,
                    "emotion": emotion_for_score(task.score),
                    "personas": [ids.personas[a] for a in task.actors],
                }
            )
        stages.append({"id": ids.stages[si], "name": section.name, "steps": steps})
    data: dict[str, Any] = {
        "schema": "journeymap/1",
        "id": ids.map_id,
        "title": diagram.title or "Untitled journey",
        "lang": _language(diagram),
        "personas": [{"id": pid, "name": name} for name, pid in ids.personas.items()],
        "stages": stages,
    }
    if diagram.description is not None:
        data["description"] = diagram.description
    jmap, problems = validate_map(data)
    if jmap is None:
        located = []
        for problem in problems:
            path = problem.path
            while path and path not in positions:
                path = path[:-1]
            line, column = positions.get(path, (1, 1))
            located.append(
                Problem(
                    problem.path,
                    problem.message,
                    hint=problem.hint,
                    where=problem.where,
                    severity=problem.severity,
                    location=Location(source, line, column),
                )
            )
        raise MapValidationError(located, source=source)
    return jmap


def read_mermaid(text: str, *, source: str = "<mermaid>") -> JourneyMap:
    """Read a Mermaid ``journey`` diagram as a map.

    Sections become stages, tasks become steps (score 1..5 → emotion -2..+2), actors
    become personas. Raises :class:`~journeymap.errors.MapValidationError` listing every
    problem, each located as ``source:line:column``.
    """
    parser = _Parser(text, source)
    diagram = parser.run()
    if parser.problems:
        raise MapValidationError(parser.problems, source=source)
    return _build_map(diagram, source)


# --- writing ----------------------------------------------------------------------

_FULL_WIDTH = {":": "：", "#": "＃", ";": "；", ",": "，"}
_LINE_BREAKS = re.compile(r"\s*[\r\n]\s*")


def _replace(text: str, chars: str, *, percent: bool = False) -> str:
    out = _LINE_BREAKS.sub(" ", text)
    for char in chars:
        out = out.replace(char, _FULL_WIDTH[char])
    if percent:
        out = out.replace("%%", "％％")
    return out


def _task_name(name: str) -> str:
    """A step name as Mermaid can carry it in a task line."""
    out = _replace(name, ":#;", percent=True)
    if _KEYWORD.match(out.lower()):
        out = f'"{out}"'
    return out


def _actor_name(persona: Persona) -> str:
    return _replace(persona.name or persona.id, ":#;,")


def _block_description(text: str) -> str:
    out = text.replace("\r\n", "\n").replace("\r", "\n").replace("}", "｝")
    return out.replace("%%", "％％")


@dataclass
class _Projection:
    """A map as Mermaid holds it, and what changed on the way."""

    diagram: _Diagram
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    no_emotion: list[str] = field(default_factory=list)
    description_changed: bool = False


def _project(jmap: JourneyMap) -> _Projection:
    by_id = {p.id: p for p in jmap.personas}
    names = {p.id: _actor_name(p) for p in jmap.personas}
    projection = _Projection(_Diagram())

    def keep(kind: str, original: str, written: str) -> str:
        if written != original:
            projection.renamed.append((kind, original, written))
        return written

    diagram = projection.diagram
    diagram.title = keep("title", jmap.title, _replace(jmap.title, "#;"))
    if jmap.description:
        description = jmap.description
        if "\n" in description or "\r" in description:
            description = _block_description(description)
        projection.description_changed = description != jmap.description
        diagram.description = description
    for stage in jmap.stages:
        section = _Section(keep("section", stage.name, _replace(stage.name, ":#;")))
        for step in stage.all_steps():
            if step.emotion is None:
                projection.no_emotion.append(step.name)
            actors = []
            for pid in step.personas:
                original = by_id[pid].name or pid if pid in by_id else pid
                actors.append(keep("actor", original, names.get(pid, pid)))
            section.tasks.append(
                _Task(
                    keep("task", step.name, _task_name(step.name)),
                    score_for_emotion(step.emotion),
                    tuple(actors),
                )
            )
        diagram.sections.append(section)
    return projection


def _format(diagram: _Diagram) -> str:
    lines = ["journey"]
    if diagram.title:
        lines.append(f"  title {diagram.title}")
    if diagram.description is not None:
        if "\n" in diagram.description:
            lines += ["  accDescr {", diagram.description, "  }"]
        else:
            lines.append(f"  accDescr: {diagram.description}")
    for section in diagram.sections:
        lines.append(f"  section {section.name}")
        for task in section.tasks:
            actors = f": {', '.join(task.actors)}" if task.actors else ""
            lines.append(f"    {task.name}: {task.score}{actors}")
    return "\n".join(lines) + "\n"


def write_mermaid(jmap: JourneyMap) -> Converted:
    """The map as a Mermaid ``journey`` diagram, with warnings naming what was left out.

    Stages become sections, steps become tasks (emotion -2..+2 → score 1..5, no emotion
    → 3), the personas a step lists become its actors. See the module docstring for
    how names are made safe for Mermaid.
    """
    projection = _project(jmap)
    text = _format(projection.diagram)
    warnings: list[str] = []
    lost = _describe_losses(jmap, projection.diagram)
    if lost:
        warnings.append(
            "not representable in Mermaid, left out: " + ", ".join(lost) + "; keep the "
            "YAML map as the source and use the Mermaid file as a picture"
        )
    if projection.no_emotion:
        count = len(projection.no_emotion)
        warnings.append(
            f"{_plural(count, 'step')} without a declared emotion written with score 3 "
            f"(neutral), read back as emotion 0: {_quoted(projection.no_emotion)}"
        )
    if projection.renamed:
        renamed = list(dict.fromkeys(projection.renamed))
        changes = [f"{kind} {old!r} → {new!r}" for kind, old, new in renamed]
        shown = "; ".join(changes[:_SHOWN])
        more = f"; and {len(changes) - _SHOWN} more" if len(changes) > _SHOWN else ""
        warnings.append(
            f"Mermaid cannot carry ':', '#', ';', ',' in actors, '%%', line breaks, or a "
            f"task name that starts like a keyword; changed {_plural(len(changes), 'name')}: "
            f"{shown}{more}"
        )
    if projection.description_changed:
        warnings.append(
            "the description's '}', '%%' or carriage returns were replaced so that it fits "
            "Mermaid's 'accDescr { ... }' block"
        )
    return Converted(text, warnings)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


# What a step can hold beyond name, emotion and personas: (field, counted as).
# "items" counts list entries ("9 actions"); a label counts the steps that have it.
_STEP_LOSSES: dict[str, tuple[str, str, str]] = {
    "description": ("steps", "description", "descriptions"),
    "touchpoint": ("steps", "touchpoint", "touchpoints"),
    "channel": ("steps", "channel", "channels"),
    "offline": ("steps", "offline flag", "offline flags"),
    "owner": ("steps", "owner", "owners"),
    "actions": ("items", "action", "actions"),
    "thoughts": ("items", "thought", "thoughts"),
    "feelings": ("items", "feeling", "feelings"),
    "pain_points": ("items", "pain point", "pain points"),
    "desired_experience": ("steps", "desired experience", "desired experiences"),
    "backstage": ("items", "backstage process", "backstage processes"),
    "key_transaction": ("steps", "key-transaction flag", "key-transaction flags"),
    "milestone": ("steps", "milestone", "milestones"),
    "trigger": ("steps", "trigger", "triggers"),
    "duration": ("steps", "duration", "durations"),
    "at": ("steps", "date", "dates"),
    "events": ("steps", "event rule", "event rules"),
    "evidence": ("steps", "evidence list", "evidence lists"),
}
_STAGE_LOSSES: dict[str, tuple[str, str, str]] = {
    "description": ("stages", "description", "descriptions"),
    "customer_goal": ("stages", "customer goal", "customer goals"),
    "desired_experience": ("stages", "desired experience", "desired experiences"),
    "kpis": ("items", "KPI", "KPIs"),
    "substages": ("items", "sub-stage", "sub-stages"),
    "evidence": ("stages", "evidence list", "evidence lists"),
}
_MAP_FIELDS = ("version", "updated", "tags")
_MERMAID_STEP = {"id", "name", "emotion", "personas"}
_MERMAID_STAGE = {"id", "name", "steps"}


def _is_set(node: Any, name: str) -> bool:
    info = type(node).model_fields[name]
    default = info.get_default(call_default_factory=True)
    return bool(getattr(node, name) != default)


def _count_losses(
    nodes: Iterable[Any], table: dict[str, tuple[str, str, str]], kind: str, skip: set[str]
) -> list[str]:
    nodes = list(nodes)
    out: list[str] = []
    if not nodes:
        return out
    for name in type(nodes[0]).model_fields:
        if name in skip:
            continue
        mode, singular, plural = table.get(name, (kind + "s", f"'{name}'", f"'{name}'"))
        if mode == "items":
            count = sum(len(getattr(n, name)) for n in nodes)
            if count:
                out.append(_plural(count, singular, plural))
        else:
            count = sum(1 for n in nodes if _is_set(n, name))
            if count:
                label = singular if count == 1 else plural
                out.append(f"{label} on {_plural(count, kind)}")
    return out


def _describe_losses(jmap: JourneyMap, diagram: _Diagram) -> list[str]:
    lost: list[str] = []
    ids = _assign_ids(diagram)
    if ids.map_id != jmap.id:
        lost.append(f"the map id {jmap.id!r}")
    if _language(diagram) != jmap.lang:
        lost.append(f"the language {jmap.lang!r}")
    for name in _MAP_FIELDS:
        if _is_set(jmap, name):
            lost.append(_map_field_label(jmap, name))
    if _is_set(jmap, "scope"):
        lost.append("the scope")
    named = {pid for _, step in jmap.all_steps() for pid in step.personas}
    detailed = [
        p
        for p in jmap.personas
        if any(_is_set(p, f) for f in type(p).model_fields if f not in ("id", "name"))
    ]
    if detailed:
        lost.append(f"details of {_plural(len(detailed), 'persona')} (age, job, goals, segment…)")
    unnamed = [p for p in jmap.personas if p.id not in named]
    if unnamed:
        who = _quoted([p.name or p.id for p in unnamed])
        lost.append(
            f"{_plural(len(unnamed), 'persona')} not named on any step ({who}; a step that "
            "lists no personas is written without actors)"
        )
    if jmap.stakeholders:
        lost.append(_plural(len(jmap.stakeholders), "stakeholder"))
    lost += _count_losses(jmap.stages, _STAGE_LOSSES, "stage", _MERMAID_STAGE)
    lost += _count_losses(
        (step for _, step in jmap.all_steps()), _STEP_LOSSES, "step", _MERMAID_STEP
    )
    if jmap.forks:
        lost.append(_plural(len(jmap.forks), "fork"))
    if jmap.opportunities:
        lost.append(_plural(len(jmap.opportunities), "opportunity", "opportunities"))
    changed_stages = sum(
        1 for stage, sid in zip(jmap.stages, ids.stages, strict=True) if stage.id != sid
    )
    changed_steps = sum(
        1
        for stage, sids in zip(jmap.stages, ids.steps, strict=True)
        for step, sid in zip(stage.all_steps(), sids, strict=True)
        if step.id != sid
    )
    renamed = [
        _plural(n, kind) for n, kind in ((changed_stages, "stage"), (changed_steps, "step")) if n
    ]
    if renamed:
        lost.append(f"the ids of {' and '.join(renamed)} (reading derives ids from names)")
    return lost


def _map_field_label(jmap: JourneyMap, name: str) -> str:
    if name == "tags":
        return _plural(len(jmap.tags), "tag")
    if name == "updated":
        return f"the updated date {jmap.updated}"
    return f"the version {getattr(jmap, name)!r}"
