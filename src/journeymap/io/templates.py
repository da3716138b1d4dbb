"""The templates that ship with journeymap, read from the package's ``templates/`` folder.

>>> "digital-marketing" in list_templates()
True
>>> load_template("service-recovery").stage_names("ko")
['사용', '문제 해결', '피드백']
"""

from __future__ import annotations

import functools
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from journeymap.errors import TemplateNotFoundError
from journeymap.model.templates import Template
from journeymap.model.validate import did_you_mean

__all__ = ["list_templates", "load_template"]

_SUFFIX = ".yaml"


def _folder() -> Traversable:
    return files("journeymap").joinpath("templates")


def list_templates() -> list[str]:
    """The names of the templates that ship with journeymap, sorted."""
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in _folder().iterdir()
        if entry.is_file() and entry.name.endswith(_SUFFIX)
    )


def load_template(name: str) -> Template:
    """The template called ``name`` (e.g. ``"b2b-sales"``).

    Raises :class:`TemplateNotFoundError` naming the available templates, with a
    did-you-mean hint when ``name`` is close to one of them.
    """
    available = list_templates()
    key = name.strip().lower().removesuffix(_SUFFIX)
    if key not in available:
        starting = [n for n in available if key and n.startswith(key)]
        hint = did_you_mean(key, available) or (
            f"did you mean '{starting[0]}'?" if len(starting) == 1 else None
        )
        raise TemplateNotFoundError(
            f"no template named '{name}'"
            + (f" ({hint})" if hint else "")
            + f"; available templates: {', '.join(available)} "
            "(see them with 'journeymap new --list')"
        )
    # A shipped template that does not validate is a bug in journeymap, not a user
    # error: the pydantic error is left to surface as an internal error.
    return Template.model_validate(_read_data(key))


@functools.cache
def _read_data(key: str) -> Any:
    # Cached: the package's files do not change while it runs, and validation builds
    # a fresh Template from the data on every call, so callers never share one.
    text = _folder().joinpath(key + _SUFFIX).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
