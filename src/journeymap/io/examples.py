"""Where the example maps are: shipped in the wheel, or the repository's examples/."""

from __future__ import annotations

from pathlib import Path

from journeymap.errors import JourneyError

__all__ = ["example_dir", "example_maps"]


def example_dir() -> Path:
    """The folder holding the example maps (packaged copy first, then the repository's)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "examples", here.parents[3] / "examples"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise JourneyError(
        "the example maps are not installed; reinstall journeymap, or run from a "
        "checkout of the repository"
    )


def example_maps() -> list[Path]:
    """The example map files, sorted by name."""
    return sorted(example_dir().glob("*.yaml"))
