"""One place that knows every map format: read any of them, write any of them.

Interchange formats hold less than a journeymap document; their writers return the
text together with warnings naming what was left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from journeymap.errors import UnsupportedFormatError
from journeymap.io import longcsv, maps, mermaid
from journeymap.io.maps import Converted
from journeymap.model import JourneyMap

__all__ = ["FORMATS", "Converted", "MapFormatSpec", "format_of", "read_map_file", "render_map_as"]


@dataclass(frozen=True)
class MapFormatSpec:
    name: str
    suffixes: tuple[str, ...]
    read: Callable[[str, str], JourneyMap]
    """(text, source name) → map; raises a located error on bad input."""
    write: Callable[[JourneyMap], Converted]


def _yaml_write(jmap: JourneyMap) -> Converted:
    return Converted(maps.dump_map(jmap, "yaml"))


def _json_write(jmap: JourneyMap) -> Converted:
    return Converted(maps.dump_map(jmap, "json"))


FORMATS: dict[str, MapFormatSpec] = {
    "yaml": MapFormatSpec(
        "yaml",
        (".yaml", ".yml"),
        lambda text, src: maps.parse_map_text(text, source=src, fmt="yaml"),
        _yaml_write,
    ),
    "json": MapFormatSpec(
        "json",
        (".json",),
        lambda text, src: maps.parse_map_text(text, source=src, fmt="json"),
        _json_write,
    ),
    "mermaid": MapFormatSpec(
        "mermaid",
        (".mmd", ".mermaid"),
        lambda text, src: mermaid.read_mermaid(text, source=src),
        mermaid.write_mermaid,
    ),
    "csv": MapFormatSpec(
        "csv",
        (".csv",),
        lambda text, src: longcsv.read_long_csv(text, source=src),
        longcsv.write_long_csv,
    ),
}


def format_of(path: Path | str, explicit: str | None = None) -> MapFormatSpec:
    """The format named ``explicit``, or the one the file's extension implies."""
    if explicit is not None:
        if explicit not in FORMATS:
            raise UnsupportedFormatError(
                f"unknown format '{explicit}'; use one of: {', '.join(FORMATS)}"
            )
        return FORMATS[explicit]
    suffix = Path(path).suffix.lower()
    for spec in FORMATS.values():
        if suffix in spec.suffixes:
            return spec
    known = ", ".join(s for spec in FORMATS.values() for s in spec.suffixes)
    raise UnsupportedFormatError(
        f"{path}: cannot tell the format from '{suffix or 'no extension'}'; "
        f"use one of {known}, or pass --from/--to"
    )


def read_map_file(path: Path | str, fmt: str | None = None) -> JourneyMap:
    """Read a map in any known format."""
    path = Path(path)
    spec = format_of(path, fmt)
    return spec.read(maps.read_map_text(path), str(path))


def render_map_as(jmap: JourneyMap, fmt: str) -> Converted:
    """The map as text in format ``fmt``, with warnings about what it could not hold."""
    return format_of("", fmt).write(jmap)
