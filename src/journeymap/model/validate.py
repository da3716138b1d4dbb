"""Validation that helps: every problem of a map at once, each saying how to fix it.

:func:`validate_map` runs three passes over plain data (as read from YAML or JSON):
schema migration, the shape of every part (pydantic), and the fit between parts
(unique ids, references that resolve, no empty stage). Problems carry a path into
the data; the reader that knows the file turns paths into ``file:line:column``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from journeymap.errors import Problem
from journeymap.model.journey import JourneyMap
from journeymap.model.migrate import migrate

__all__ = ["check_references", "describe_path", "did_you_mean", "validate_map"]

Path = tuple[str | int, ...]

_LABELS = {
    "stages": "stage",
    "substages": "sub-stage",
    "steps": "step",
    "pain_points": "pain point",
    "personas": "persona",
    "opportunities": "opportunity",
    "forks": "fork",
    "branches": "branch",
    "kpis": "KPI",
    "stakeholders": "stakeholder",
    "evidence": "evidence",
    "actions": "action",
    "thoughts": "thought",
    "feelings": "feeling",
    "backstage": "backstage process",
}


def did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """A hint naming the closest of ``choices``, or ``None`` when nothing is close."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _get(data: Any, path: Path) -> Any:
    for part in path:
        if isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
            data = data[part]
            continue
        if not (isinstance(data, Mapping) and part in data):
            return None
        data = data[part]
    return data


def describe_path(data: Any, path: Path, *, full: bool = False) -> str:
    """A human label for the place ``path`` points at, e.g. ``step 'visit-site'``.

    With ``full``, the chain of enclosing parts: ``stage 'buy' › step 'visit-site'``.
    """
    labels: list[str] = []
    for depth, part in enumerate(path):
        if part == "scope" and depth == 0:
            labels.append("scope")
            continue
        if not (isinstance(part, int) and depth > 0 and isinstance(path[depth - 1], str)):
            continue
        node = _get(data, path[: depth + 1])
        if not isinstance(node, Mapping):
            continue
        kind = _LABELS.get(str(path[depth - 1]), str(path[depth - 1]))
        ident = node.get("id")
        label = f"{kind} '{ident}'" if isinstance(ident, str) else f"{kind} #{part + 1}"
        if labels and not isinstance(ident, str) and not full:
            label = f"{labels[-1]}, {label}"
        labels.append(label)
    if not labels:
        return "map"
    return " › ".join(labels) if full else labels[-1]


# --- the shape of every part -------------------------------------------------------


def _unwrap(annotation: Any) -> list[Any]:
    """The classes an annotation can hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set):
        return [c for arg in typing.get_args(annotation) for c in _unwrap(arg)]
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    return [annotation]


def _model_at(path: Path) -> type[BaseModel] | None:
    """The model class that validates the object at ``path`` (``None`` if not a model)."""
    current: Any = JourneyMap
    for part in path:
        if isinstance(part, int) or part == "[key]":
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = current.model_fields
        name = next((n for n, f in fields.items() if part in (n, f.alias)), None)
        if name is None:
            # a dict key (a rule's field name): stay on the dict's value type
            continue
        models = [
            c
            for c in _unwrap(fields[name].annotation)
            if isinstance(c, type) and issubclass(c, BaseModel)
        ]
        current = models[0] if models else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _problem_from_error(error: ErrorDetails, data: Any) -> Problem:
    path: Path = tuple(p for p in error["loc"] if p != "[key]")
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    key = path[-1] if path else None
    parent = path[:-1]
    where = describe_path(data, parent if kind in ("extra_forbidden", "missing") else path)
    if kind == "extra_forbidden":
        model = _model_at(parent)
        allowed = _field_names(model) if model else []
        hint = did_you_mean(key, allowed) or (
            f"allowed keys are: {', '.join(allowed)}" if allowed else None
        )
        return Problem(path, f"unknown key '{key}'", hint=hint, where=where)
    if kind == "missing":
        return Problem(
            path,
            f"'{key}' is required but missing",
            hint=f"add '{key}: ...'",
            where=where,
        )
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        hint = did_you_mean(value, options) or f"use one of: {', '.join(options)}"
        return Problem(path, f"'{key}' cannot be {value!r}", hint=hint, where=where)
    if key == "emotion" and kind in ("greater_than_equal", "less_than_equal"):
        return Problem(
            path,
            f"emotion {value!r} is out of range",
            hint="declared emotion runs from -2 (very negative) through 0 (neutral) "
            "to +2 (very positive)",
            where=where,
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = ", ".join(f"{k} {v}" for k, v in ctx.items())
        return Problem(path, f"'{key}' is {value!r}, out of range", hint=bounds, where=where)
    if (kind == "string_pattern_mismatch" and key in ("id", "at", "to", "persona")) or (
        kind == "string_pattern_mismatch" and isinstance(key, int)
    ):
        suggestion = _slugify(value)
        return Problem(
            path,
            f"{value!r} is not a valid id",
            hint="ids use lower-case letters, digits, '-' and '_'"
            + (f"; e.g. '{suggestion}'" if suggestion else ""),
            where=where,
        )
    if kind == "too_short" and isinstance(value, list | tuple):
        need = ctx.get("min_length", 1)
        return Problem(
            path,
            f"'{key}' needs at least {need} item{'s' if need != 1 else ''}",
            where=where,
        )
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    shown = repr(value) if not isinstance(value, Mapping | list) else type(value).__name__
    return Problem(path, f"'{key}' {message[0].lower()}{message[1:]} (got {shown})", where=where)


def _slugify(value: object) -> str:
    if not isinstance(value, str):
        return ""
    out = "".join(c if c.isascii() and c.isalnum() else "-" for c in value.strip().lower())
    return "-".join(filter(None, out.split("-")))


# --- the fit between parts -------------------------------------------------------


def _items(data: Any, *path: str | int) -> list[tuple[Path, Mapping[str, Any]]]:
    """The mappings in the list at ``path`` with their paths (skipping malformed ones)."""
    found = _get(data, tuple(path))
    if not isinstance(found, list):
        return []
    return [((*tuple(path), i), item) for i, item in enumerate(found) if isinstance(item, Mapping)]


def _steps(data: Any) -> list[tuple[Path, Mapping[str, Any]]]:
    steps: list[tuple[Path, Mapping[str, Any]]] = []
    for stage_path, _ in _items(data, "stages"):
        steps += _items(data, *stage_path, "steps")
        for sub_path, _ in _items(data, *stage_path, "substages"):
            steps += _items(data, *sub_path, "steps")
    return steps


def _ref_problem(
    data: Any, path: Path, kind: str, value: object, choices: Sequence[str], field: str
) -> Problem:
    where = describe_path(data, path)
    hint = did_you_mean(value, choices)
    if hint is None:
        hint = (
            f"defined ids are: {', '.join(choices)}"
            if choices
            else f"define the {kind} first, or remove '{field}'"
        )
    return Problem(
        path, f"refers to {kind} {value!r}, which is not defined", hint=hint, where=where
    )


def check_references(data: Mapping[str, Any]) -> list[Problem]:
    """Check how the parts of a map fit together, on plain data; return every problem.

    Ids must be unique across the map; persona, step, pain point and stage references
    must resolve; every stage needs a step. Unknown channels and owners are warnings
    when the scope lists its channels and functions.
    """
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    referable: list[tuple[Path, Mapping[str, Any]]] = []
    personas = _items(data, "personas")
    stages = _items(data, "stages")
    substages = [s for p, _ in stages for s in _items(data, *p, "substages")]
    steps = _steps(data)
    pain_points = [pp for p, _ in steps for pp in _items(data, *p, "pain_points")]
    opportunities = _items(data, "opportunities")
    forks = _items(data, "forks")
    for group in (personas, stages, substages, steps, pain_points, opportunities, forks):
        referable += group
    referable += _items(data, "stakeholders")
    referable += [k for p, _ in stages for k in _items(data, *p, "kpis")]
    top = {key: i for i, key in enumerate(data)}
    # Report the later of two equal ids: sort by place in the document.
    referable.sort(key=lambda entry: (top.get(str(entry[0][0]), 0), entry[0][1:]))
    for path, item in referable:
        ident = item.get("id")
        if not isinstance(ident, str):
            continue
        if ident in seen:
            first = describe_path(data, seen[ident], full=True)
            problems.append(
                Problem(
                    (*path, "id"),
                    f"duplicate id '{ident}', already used by {first}",
                    hint="ids must be unique across the map; rename one of them",
                    where=describe_path(data, path),
                )
            )
        else:
            seen[ident] = path

    def ids(group: list[tuple[Path, Mapping[str, Any]]]) -> list[str]:
        return [i for _, item in group if isinstance(i := item.get("id"), str)]

    persona_ids, step_ids = ids(personas), ids(steps)
    addressable = list(dict.fromkeys(ids(pain_points) + step_ids + ids(stages) + ids(substages)))
    persona_ids, step_ids = list(dict.fromkeys(persona_ids)), list(dict.fromkeys(step_ids))

    focus = _get(data, ("scope", "persona"))
    if isinstance(focus, str) and focus not in persona_ids:
        problems.append(
            _ref_problem(data, ("scope", "persona"), "persona", focus, persona_ids, "persona")
        )
    for path, step in steps:
        for i, ref in enumerate(step.get("personas") or []):
            if isinstance(ref, str) and ref not in persona_ids:
                problems.append(
                    _ref_problem(
                        data, (*path, "personas", i), "persona", ref, persona_ids, "personas"
                    )
                )
    for path, opp in opportunities:
        for i, ref in enumerate(opp.get("addresses") or []):
            if isinstance(ref, str) and ref not in addressable:
                problems.append(
                    _ref_problem(
                        data,
                        (*path, "addresses", i),
                        "pain point, step or stage",
                        ref,
                        addressable,
                        "addresses",
                    )
                )
    for path, fork in forks:
        at = fork.get("at")
        if isinstance(at, str) and at not in step_ids:
            problems.append(_ref_problem(data, (*path, "at"), "step", at, step_ids, "at"))
        branch_ids: set[str] = set()
        for bpath, branch in _items(data, *path, "branches"):
            to = branch.get("to")
            if isinstance(to, str) and to not in step_ids:
                problems.append(_ref_problem(data, (*bpath, "to"), "step", to, step_ids, "to"))
            bid = branch.get("id")
            if isinstance(bid, str):
                if bid in branch_ids:
                    problems.append(
                        Problem(
                            (*bpath, "id"),
                            f"duplicate branch id '{bid}' in this fork",
                            hint="give each branch of a fork its own id",
                            where=describe_path(data, bpath),
                        )
                    )
                branch_ids.add(bid)
    for path, stage in stages:
        own = stage.get("steps") or []
        subs = [
            s.get("steps") or [] for s in stage.get("substages") or [] if isinstance(s, Mapping)
        ]
        if not own and not any(subs):
            problems.append(
                Problem(
                    path,
                    "stage has no steps",
                    hint="add at least one step under 'steps', or remove the stage",
                    where=describe_path(data, path),
                )
            )
    channels = _get(data, ("scope", "channels"))
    functions = _get(data, ("scope", "functions"))
    for path, step in steps:
        for key, listed, what in (
            ("channel", channels, "scope.channels"),
            ("owner", functions, "scope.functions"),
        ):
            value = step.get(key)
            if (
                isinstance(listed, list)
                and listed
                and isinstance(value, str)
                and value not in listed
            ):
                close = did_you_mean(value, [str(c) for c in listed])
                problems.append(
                    Problem(
                        (*path, key),
                        f"{key} '{value}' is not listed in {what}",
                        hint=close or f"add '{value}' to {what}",
                        where=describe_path(data, path),
                        severity="warning",
                    )
                )
    return problems


def validate_map(data: object) -> tuple[JourneyMap | None, list[Problem]]:
    """Validate plain map data; return the map (``None`` if any error) and all problems.

    >>> jmap, problems = validate_map({"schema": "journeymap/1", "id": "j", "title": "J",
    ...     "stages": [{"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"}]}]})
    >>> jmap.title, problems
    ('J', [])
    """
    if not isinstance(data, Mapping):
        kind = type(data).__name__ if data is not None else "nothing"
        return None, [
            Problem(
                (),
                f"a map must be a mapping of keys to values, got {kind}",
                hint="start the file with 'schema: journeymap/1', then 'id:', 'title:' "
                "and 'stages:'",
            )
        ]
    migrated, problems = migrate(data)
    if any(p.severity == "error" for p in problems):
        return None, problems
    jmap: JourneyMap | None = None
    try:
        jmap = JourneyMap.model_validate(migrated)
    except ValidationError as exc:
        problems += [_problem_from_error(e, migrated) for e in exc.errors()]
    problems += check_references(migrated)
    problems.sort(key=lambda p: p.severity != "error")
    if any(p.severity == "error" for p in problems):
        return None, problems
    return jmap, problems
