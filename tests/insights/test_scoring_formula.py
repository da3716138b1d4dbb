"""The safe formula evaluator: what it computes, what it refuses, and where it points."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeymap.errors import JourneyError
from journeymap.insights.formula import FormulaError, compile_formula, evaluate_formula

VARS = {"reach": 1200, "impact": 4, "feasibility": 3, "effort": 2, "confidence": 0.8}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("impact * feasibility", 12.0),
        ("reach * impact * confidence / effort", 1200 * 4 * 0.8 / 2),  # 1920
        ("impact × feasibility ÷ effort", 6.0),
        ("(impact + feasibility) ** 2", 49.0),
        ("-impact + +feasibility", -1.0),
        ("2 ** -1", 0.5),
        ("min(impact, feasibility, effort)", 2.0),
        ("max(impact, 10)", 10.0),
        ("log(reach)", math.log(1200)),
        ("log(100, 10)", 2.0),
        ("sqrt(reach / 3)", 20.0),
        ("  1.5e2 + impact  ", 154.0),
    ],
)
def test_allowed_formulas_compute(formula: str, expected: float) -> None:
    assert evaluate_formula(formula, VARS) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("formula", "column", "what"),
    [
        # columns are 1-based and point at the offending part
        ("__import__('os')", 1, "calling '__import__' is not allowed"),
        ("impact.real", 7, "attribute access"),
        ("reach[0]", 6, "indexing"),
        ("impact > 3", 8, "a comparison is not allowed"),
        ("impact // 2", 8, "the operator '//'"),
        ("impact % 2", 8, "the operator '%'"),
        ("impact | 2", 8, "bit operators"),
        ("not impact", 1, "the operator 'not'"),
        ("impact and effort", 8, "'and' / 'or'"),
        ("impact if effort else 1", 8, "'if ... else'"),
        ("'a' * 3", 1, "the value 'a'"),
        ("True + impact", 1, "the value True"),
        ("[impact]", 1, "a list"),
        ("(lambda: 1)()", 1, "calling 'this call'"),
        ("impact + (x := 2)", 11, "':='"),
        ("impact * reech", 10, "unknown name 'reech'; did you mean 'reach'?"),
        ("exp(impact)", 1, "calling 'exp'"),
        ("sqrt(impact, 2)", 1, "sqrt() takes 1 argument, got 2"),
        ("log(x=impact)", 7, "a keyword argument"),
        ("impact +* 2", 9, "does not parse"),
    ],
)
def test_refused_formulas_say_what_and_where(formula: str, column: int, what: str) -> None:
    with pytest.raises(FormulaError) as info:
        compile_formula(formula, names=VARS)
    assert info.value.column == column
    assert what in str(info.value)
    assert f"column {column}:" in str(info.value)
    assert isinstance(info.value, JourneyError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("formula", "column", "what"),
    [
        ("impact / (effort - 2)", 8, "division by zero"),
        ("log(effort - 2)", 1, "log(0) cannot be computed"),
        ("sqrt(-impact)", 1, "cannot be computed"),
        ("2 ** 100", 3, "exponent 100 is larger than 64"),
        ("(-8) ** 0.5", 6, "not a real number"),
        ("1e308 * 10", 7, "not a finite number"),
    ],
)
def test_formulas_that_cannot_be_computed_say_where(formula: str, column: int, what: str) -> None:
    with pytest.raises(FormulaError) as info:
        evaluate_formula(formula, VARS)
    assert info.value.column == column
    assert what in str(info.value)


def test_a_variable_without_a_value_is_named() -> None:
    with pytest.raises(FormulaError, match=r"column 10: 'impact_value' has no value"):
        evaluate_formula("impact * impact_value", {"impact": 3, "impact_value": None})


def test_columns_count_characters_not_bytes() -> None:
    # "×" is two bytes in UTF-8 but one column
    with pytest.raises(FormulaError) as info:
        compile_formula("impact × effort // 2", names=VARS)
    assert info.value.column == 17


@pytest.mark.parametrize("text", ["", "   ", "1 +" + " 1 +" * 200 + " 1"])
def test_empty_or_overlong_formulas_are_refused(text: str) -> None:
    with pytest.raises(FormulaError, match=r"empty|characters long"):
        compile_formula(text, names=VARS)


def test_compiled_formula_reports_the_names_it_uses() -> None:
    formula = compile_formula("max(impact, 1) * reach", names=VARS)
    assert formula.names == {"impact", "reach"}


small = st.integers(min_value=-1000, max_value=1000)


@given(a=small, b=small, c=st.integers(min_value=1, max_value=1000))
def test_arithmetic_matches_python(a: int, b: int, c: int) -> None:
    # the same expression computed by Python itself on the same numbers
    got = evaluate_formula("(a + b) * c - a / c + min(a, b) ** 2", {"a": a, "b": b, "c": c})
    assert got == pytest.approx((a + b) * c - a / c + min(a, b) ** 2)
