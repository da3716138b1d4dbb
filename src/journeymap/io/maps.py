"""Read and write map documents (YAML or JSON) with every problem located in the file.

>>> jmap = parse_map_text("schema: journeymap/1\\nid: j\\ntitle: J\\n"
...     "stages:\\n- {id: s, name: S, steps: [{id: a, name: A}]}\\n", source="j.yaml")
>>> jmap.stages[0].steps[0].name
'A'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from journeymap.errors import (
    Location,
    MapFormatError,
    MapValidationError,
    Problem,
    UnsupportedFormatError,
)
from journeymap.model import JourneyMap, validate_map

__all__ = [
    "Converted",
    "MapFormat",
    "check_map_text",
    "dump_map",
    "format_for_path",
    "load_map",
    "parse_map_text",
    "read_map_text",
]

MapFormat = Literal["yaml", "json"]
Key = tuple[str | int, ...]
_SUFFIXES: dict[str, MapFormat] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def format_for_path(path: Path | str) -> MapFormat:
    """The map format a file name implies (``.yaml``, ``.yml`` or ``.json``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UnsupportedFormatError(
            f"{path}: cannot tell the map format from '{suffix or 'no extension'}'; "
            "use a .yaml, .yml or .json file"
        )
    return _SUFFIXES[suffix]


def read_map_text(path: Path) -> str:
    """The text of a map file, decoded as UTF-8 with a located error when it is not."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MapFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MapFormatError(f"{path}: is a folder; give a .yaml or .json map file") from None
    except OSError as exc:
        raise MapFormatError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise MapFormatError(
            f"{path}:{line}:{column}: byte 0x{raw[exc.start]:02x} is not UTF-8; "
            "save the file as UTF-8 (maps are always UTF-8, Korean included)"
        ) from None


# --- positions --------------------------------------------------------------------


def _positions(text: str, source: str) -> tuple[dict[Key, tuple[int, int]], list[Problem]]:
    """Line and column of every key and item, and any duplicate keys found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}, []
    positions: dict[Key, tuple[int, int]] = {}
    problems: list[Problem] = []

    def walk(node: yaml.Node, path: Key) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                here = (*path, key)
                mark = key_node.start_mark
                if key in seen:
                    problems.append(
                        Problem(
                            here,
                            f"key '{key}' appears twice in the same mapping",
                            hint="keep one of them; the later one would silently win",
                            location=Location(source, mark.line + 1, mark.column + 1),
                        )
                    )
                    continue
                seen.add(key)
                positions[here] = (mark.line + 1, mark.column + 1)
                walk(value_node, here)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                mark = item.start_mark
                positions[(*path, i)] = (mark.line + 1, mark.column + 1)
                walk(item, (*path, i))

    if root is not None:
        positions[()] = (root.start_mark.line + 1, root.start_mark.column + 1)
        walk(root, ())
    return positions, problems


def _locate(problem: Problem, positions: dict[Key, tuple[int, int]], source: str) -> Problem:
    if problem.location is not None:
        return problem
    path = problem.path
    while path and path not in positions:
        path = path[:-1]
    line, column = positions.get(path, (1, 1))
    return replace(problem, location=Location(source, line, column))


# --- parsing ----------------------------------------------------------------------


def _parse(text: str, fmt: MapFormat, source: str) -> Any:
    if not text.strip():
        raise MapFormatError(f"{source}:1:1: the file is empty; start a map with 'journeymap new'")
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise MapFormatError(
                f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
            ) from None
    try:
        return yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        what = exc.problem or exc.context or "cannot be read"
        raise MapFormatError(
            f"{where}: not valid YAML: {what}; check the indentation and that text "
            "containing ':' or '#' is quoted"
        ) from None
    except yaml.YAMLError as exc:
        raise MapFormatError(f"{source}: not valid YAML: {exc}") from None


def check_map_text(
    text: str, *, source: str = "<map>", fmt: MapFormat = "yaml"
) -> tuple[JourneyMap | None, list[Problem]]:
    """Parse and validate map text; return the map (``None`` on errors) and every problem,
    each located as ``source:line:column``. Unreadable text raises :class:`MapFormatError`."""
    data = _parse(text, fmt, source)
    positions, duplicates = _positions(text, source)
    jmap, problems = validate_map(data)
    located = duplicates + [_locate(p, positions, source) for p in problems]
    located.sort(key=lambda p: (p.severity != "error", p.location.line if p.location else 0))
    if duplicates:
        jmap = None
    return jmap, located


def parse_map_text(text: str, *, source: str = "<map>", fmt: MapFormat = "yaml") -> JourneyMap:
    """Parse and validate map text; raise :class:`MapValidationError` listing every error."""
    jmap, problems = check_map_text(text, source=source, fmt=fmt)
    if jmap is None:
        raise MapValidationError(problems, source=source)
    return jmap


def load_map(path: Path | str) -> JourneyMap:
    """Read a ``.yaml``/``.yml``/``.json`` map file; raise a located error on any problem."""
    path = Path(path)
    return parse_map_text(read_map_text(path), source=str(path), fmt=format_for_path(path))


# --- writing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Converted:
    """Text in a target format, and what the format could not hold."""

    text: str
    warnings: list[str] = field(default_factory=list)


class _Dumper(yaml.SafeDumper):
    """Block style for structure, flow style for short lists of plain words, and list
    items indented under their key (the style people write by hand)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: Sequence[Any]) -> yaml.Node:
    flow = (
        0 < len(data) <= 8
        and all(isinstance(x, str | int | float | bool) for x in data)
        and sum(len(str(x)) for x in data) <= 60
        and all(isinstance(x, int | float | bool) or " " not in x for x in data)
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


def dump_map(jmap: JourneyMap, fmt: MapFormat = "yaml") -> str:
    """The map as YAML or JSON text (compact: defaults left out, Hangul kept as is)."""
    data = jmap.to_data()
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2)
