"""The examples in the package's docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import journeymap

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(journeymap.__path__, prefix="journeymap.")
    if not info.name.endswith("__main__")
)


def _with_examples(name: str) -> bool:
    module = importlib.import_module(name)
    return bool(doctest.DocTestFinder().find(module)) and any(
        test.examples for test in doctest.DocTestFinder().find(module)
    )


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_package_has_docstring_examples_to_run() -> None:
    # a guard against collecting nothing: the funnel, lane and language modules carry some
    assert sum(_with_examples(name) for name in MODULES) >= 10
