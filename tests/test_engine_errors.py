"""Driver errors become one EngineError that says what was being done; bugs stay bugs."""

from __future__ import annotations

import duckdb
import pytest

from journeymap.engines import translate_errors
from journeymap.errors import EngineError


def _spark_error(module: str) -> Exception:
    kind = type("AnalysisException", (Exception,), {"__module__": module})
    return kind("[TABLE_OR_VIEW_NOT_FOUND] events")


@pytest.mark.parametrize("module", ["pyspark.errors.exceptions.captured", "py4j.protocol"])
def test_spark_and_gateway_errors_become_engine_errors(module: str) -> None:
    expected = r"^measuring signals: \[TABLE_OR_VIEW_NOT_FOUND\]"
    with pytest.raises(EngineError, match=expected), translate_errors("measuring signals"):
        raise _spark_error(module)


def test_duckdb_errors_become_engine_errors() -> None:
    with pytest.raises(EngineError, match=r"^reading events: "), translate_errors("reading events"):
        duckdb.connect().execute("SELECT * FROM no_such_table")


def test_other_exceptions_are_not_the_engines() -> None:
    with pytest.raises(KeyError), translate_errors("reading events"):
        raise KeyError("a bug in journeymap")
