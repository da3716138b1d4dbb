"""A small, safe arithmetic language for custom opportunity scores.

A formula such as ``reach * impact * confidence / effort`` or
``log(impact_value + 1) * feasibility`` is parsed with :mod:`ast` and checked before
anything is computed: only numbers, the variable names given, ``+ - * / **``
(``×`` and ``÷`` are read as ``*`` and ``/``), unary ``+``/``-``, parentheses and the
functions ``min``, ``max``, ``log`` and ``sqrt`` are allowed. Anything else (attribute
access, indexing, comparisons, other calls, strings, keywords) is refused with a
:class:`FormulaError` that says what is not allowed and at which column. Nothing is
ever passed to ``eval``.

>>> evaluate_formula("reach * impact / effort", {"reach": 120, "impact": 4, "effort": 2})
240.0
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from journeymap.errors import JourneyError

__all__ = [
    "FUNCTIONS",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "Formula",
    "FormulaError",
    "compile_formula",
    "evaluate_formula",
]

MAX_LENGTH = 500
"""Longest formula accepted, in characters."""
MAX_EXPONENT = 64.0
"""Largest absolute exponent ``**`` takes, so a formula cannot make a giant number."""


def _log(*args: float) -> float:
    if len(args) == 2:
        return math.log(args[0], args[1])
    return math.log(args[0])


FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "min": (lambda *a: float(min(a)), 1, None),
    "max": (lambda *a: float(max(a)), 1, None),
    "log": (_log, 1, 2),
    "sqrt": (lambda a: math.sqrt(a), 1, 1),
}
"""Allowed functions: name → (function, fewest arguments, most arguments or None)."""

_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}

_WHAT: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "indexing ('[...]')",
    ast.Compare: "a comparison",
    ast.BoolOp: "'and' / 'or'",
    ast.IfExp: "'if ... else'",
    ast.Lambda: "a lambda",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.JoinedStr: "a string",
    ast.NamedExpr: "':='",
    ast.Starred: "'*' unpacking",
    ast.Await: "await",
}

_ALLOWED = (
    "numbers, the variables {names}, + - * / ** (also × ÷), parentheses and min, max, log, sqrt"
)


class FormulaError(JourneyError, ValueError):
    """A scoring formula that is not allowed, does not parse, or cannot be computed.

    ``column`` is the 1-based column in the formula the problem starts at (None when
    the problem is the formula as a whole).
    """

    def __init__(self, message: str, *, formula: str, column: int | None = None) -> None:
        self.formula = formula
        self.column = column
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"formula '{formula}': {where}{message}")


def _column(text: str, node: ast.AST) -> int:
    """The 1-based character column of ``node`` (ast counts UTF-8 bytes).

    For an operator, an attribute access, an index or a comparison, the column of the
    operator itself (after the left operand and any closing brackets), not of the
    operand before it.
    """
    raw = text.encode("utf-8")
    offset = getattr(node, "col_offset", 0)
    left = {
        ast.BinOp: "left",
        ast.Attribute: "value",
        ast.Subscript: "value",
        ast.Compare: "left",
        ast.IfExp: "body",
        ast.BoolOp: None,
    }
    if type(node) in left:
        name = left[type(node)]
        operand = getattr(node, name) if name else getattr(node, "values", [None])[0]
        end = getattr(operand, "end_col_offset", None)
        if end is not None:
            while end < len(raw) and raw[end : end + 1] in (b" ", b")"):
                end += 1
            offset = end
    return len(raw[:offset].decode("utf-8", errors="ignore")) + 1


@dataclass(frozen=True)
class Formula:
    """A checked formula, ready to evaluate many times."""

    text: str
    names: frozenset[str]
    tree: ast.Expression
    source: str
    """The text as parsed (``×`` and ``÷`` replaced), which the columns refer to."""

    def evaluate(self, variables: Mapping[str, float | int | None]) -> float:
        """The formula's value for ``variables`` (name → number).

        A variable the formula uses that is missing or None, a division by zero, the
        log of a non-positive number or a result that is not a finite number raise
        :class:`FormulaError` with the column.
        """
        return _Evaluator(self, variables).run(self.tree.body)


class _Evaluator:
    def __init__(self, formula: Formula, variables: Mapping[str, float | int | None]) -> None:
        self.formula = formula
        self.variables = variables

    def fail(self, message: str, node: ast.AST) -> FormulaError:
        return FormulaError(
            message, formula=self.formula.text, column=_column(self.formula.source, node)
        )

    def run(self, node: ast.expr) -> float:
        value = self.value(node)
        if not math.isfinite(value):
            raise self.fail(f"the result is not a finite number ({value})", node)
        return value

    def value(self, node: ast.expr) -> float:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)  # checked by compile_formula
            return float(node.value)
        if isinstance(node, ast.Name):
            got = self.variables.get(node.id)
            if got is None:
                raise self.fail(
                    f"'{node.id}' has no value here (it was not measured); "
                    "choose a formula without it, or supply what it needs",
                    node,
                )
            return float(got)
        if isinstance(node, ast.UnaryOp):
            inner = self.value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        func = FUNCTIONS[node.func.id][0]
        args = [self.value(a) for a in node.args]
        try:
            return float(func(*args))
        except (ValueError, ZeroDivisionError) as exc:
            raise self.fail(
                f"{node.func.id}({', '.join(f'{a:g}' for a in args)}) cannot be computed "
                f"({exc}); log and sqrt need positive numbers",
                node,
            ) from exc

    def binary(self, node: ast.BinOp) -> float:
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise self.fail("division by zero", node)
            return left / right
        if abs(right) > MAX_EXPONENT:
            raise self.fail(f"exponent {right:g} is larger than {MAX_EXPONENT:g}", node)
        try:
            result = left**right
        except (OverflowError, ZeroDivisionError) as exc:
            raise self.fail(f"{left:g} ** {right:g} cannot be computed ({exc})", node) from exc
        if isinstance(result, complex):
            raise self.fail(f"{left:g} ** {right:g} is not a real number", node)
        return float(result)


def _refuse(text: str, node: ast.AST, message: str, names: Collection[str]) -> FormulaError:
    allowed = _ALLOWED.format(names=", ".join(sorted(names)))
    return FormulaError(
        f"{message} is not allowed; a formula may use {allowed}",
        formula=text,
        column=_column(text, node),
    )


def _check(text: str, node: ast.AST, names: Collection[str]) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise _refuse(text, node, f"the value {node.value!r}", names)
        return
    if isinstance(node, ast.Name):
        if node.id not in names:
            close = difflib.get_close_matches(node.id, list(names), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise FormulaError(
                f"unknown name '{node.id}'; {hint}names are: {', '.join(sorted(names))}",
                formula=text,
                column=_column(text, node),
            )
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.UAdd | ast.USub):
            raise _refuse(text, node, "the operator 'not' or '~'", names)
        _check(text, node.operand, names)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            symbol = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@"}.get(
                type(node.op), type(node.op).__name__
            )
            if isinstance(node.op, ast.BitOr | ast.BitAnd | ast.BitXor | ast.LShift | ast.RShift):
                symbol = "bit operators"
            raise _refuse(text, node, f"the operator '{symbol}'", names)
        _check(text, node.left, names)
        _check(text, node.right, names)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = node.func.id if isinstance(node.func, ast.Name) else "this call"
            raise _refuse(text, node, f"calling '{called}'", names)
        if node.keywords:
            raise _refuse(text, node.keywords[0].value, "a keyword argument", names)
        _, fewest, most = FUNCTIONS[node.func.id]
        count = len(node.args)
        if count < fewest or (most is not None and count > most):
            span = f"{fewest}" if fewest == most else f"{fewest} to {most or 'any number of'}"
            raise FormulaError(
                f"{node.func.id}() takes {span} argument{'s' if most != 1 else ''}, got {count}",
                formula=text,
                column=_column(text, node),
            )
        for arg in node.args:
            _check(text, arg, names)
        return
    what = _WHAT.get(type(node), f"'{type(node).__name__}'")
    raise _refuse(text, node, what, names)


def compile_formula(text: str, *, names: Collection[str]) -> Formula:
    """Parse and check ``text``; refuse anything but plain arithmetic over ``names``.

    >>> compile_formula("impact ** 2 + max(feasibility, 3)", names={"impact", "feasibility"}).names == {"impact", "feasibility"}
    True
    >>> compile_formula("__import__('os')", names={"impact"})
    Traceback (most recent call last):
    ...
    journeymap.insights.formula.FormulaError: formula '__import__('os')': column 1: calling \
'__import__' is not allowed; a formula may use numbers, the variables impact, + - * / ** \
(also × ÷), parentheses and min, max, log, sqrt
    """
    if not text.strip():
        raise FormulaError(
            "the formula is empty; write one such as 'impact * feasibility'", formula=text
        )
    if len(text) > MAX_LENGTH:
        raise FormulaError(
            f"the formula is {len(text)} characters long; the most is {MAX_LENGTH}",
            formula=text[:40] + "…",
        )
    source = text.replace("×", "*").replace("÷", "/")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        lead = len(source) - len(source.lstrip())
        column = (exc.offset or 1) + lead if exc.offset is not None else None
        raise FormulaError(
            f"it does not parse ({exc.msg}); check brackets and operators",
            formula=text,
            column=column,
        ) from exc
    if lead := len(source) - len(source.lstrip()):
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += lead
    _check(source, tree.body, names)
    used = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return Formula(text=text, names=used - set(FUNCTIONS), tree=tree, source=source)


def evaluate_formula(text: str, variables: Mapping[str, float | int | None]) -> float:
    """Check ``text`` against the names of ``variables`` and compute it once."""
    return compile_formula(text, names=set(variables)).evaluate(variables)
