"""Fast Arrow text columns from numpy arrays: ids, JSON objects, labels.

Building ten million Python strings one at a time takes longer than the whole demo
may; these helpers write the bytes with numpy (fixed-width ids) or let Arrow's
compute kernels join pieces (JSON objects), so every column is built in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Quoted",
    "build_json",
    "format_fixed_ids",
    "format_hex_ids",
    "format_money",
    "pick",
    "pick_bools",
]

_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _from_matrix(matrix: npt.NDArray[np.uint8]) -> pa.StringArray:
    """A string array from an (n, width) matrix of ASCII bytes, one row per string.

    The matrix becomes the array's data buffer as it is (no copy).
    """
    n, width = matrix.shape
    if (n + 1) * width >= 2**31:
        raise ValueError(f"{n:,} ids of {width} bytes do not fit one string array; use fewer rows")
    data = pa.py_buffer(np.ascontiguousarray(matrix))
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), data])


def _format(prefix: str, values: npt.NDArray[np.int64], width: int, base: int) -> pa.StringArray:
    values = np.asarray(values, dtype=np.uint64)
    if values.size and int(values.max()) >= base**width:
        raise ValueError(f"a value does not fit in {width} digits of base {base}")
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.empty((values.size, len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = head
    rest = values.copy()
    for position in range(len(head) + width - 1, len(head) - 1, -1):
        matrix[:, position] = _DIGITS[(rest % base).astype(np.intp)]
        rest //= base
    return _from_matrix(matrix)


def format_fixed_ids(prefix: str, numbers: npt.NDArray[np.int64], width: int) -> pa.StringArray:
    """``prefix`` + the number zero-padded to ``width`` digits (lexical order = numeric order).

    >>> format_fixed_ids("u", np.array([7, 1234]), 6).to_pylist()
    ['u000007', 'u001234']
    """
    return _format(prefix, numbers, width, 10)


def format_hex_ids(prefix: str, values: npt.NDArray[np.int64], width: int) -> pa.StringArray:
    """``prefix`` + the value as ``width`` lowercase hex digits.

    >>> format_hex_ids("e", np.array([255]), 4).to_pylist()
    ['e00ff']
    """
    return _format(prefix, values, width, 16)


def pick(labels: Sequence[str], index: npt.ArrayLike) -> pa.Array:
    """``labels[index]`` for every index, as a string array (nulls where index < 0)."""
    idx = np.asarray(index)
    mask = idx < 0
    return pa.array(list(labels), pa.string()).take(
        pa.array(np.where(mask, 0, idx).astype(np.int32), mask=mask if mask.any() else None)
    )


def pick_bools(mask: npt.NDArray[np.bool_]) -> pa.Array:
    """JSON literals ``true`` / ``false``."""
    return pick(("false", "true"), np.asarray(mask, dtype=np.int8))


def format_money(amount: npt.NDArray[np.float64], decimals: int) -> pa.Array:
    """Amounts as JSON numbers with exactly ``decimals`` decimals (0 or 2)."""
    if decimals == 0:
        return pc.cast(pa.array(np.rint(amount).astype(np.int64)), pa.string())
    cents = np.rint(np.asarray(amount) * 100).astype(np.int64)
    whole = pc.cast(pa.array(cents // 100), pa.string())
    frac = format_fixed_ids("", cents % 100, 2)
    return pc.binary_join_element_wise(whole, ".", frac, "")


@dataclass(frozen=True)
class Quoted:
    """A JSON string value (the text must need no escaping: ids, slugs, codes)."""

    values: pa.Array | str


def build_json(
    fields: Sequence[tuple[str, pa.Array | str | Quoted | None]], *, size: int | None = None
) -> pa.Array:
    """JSON objects, one per row, from columns of already-formatted values.

    A plain array or str is written as is (numbers, ``true``); :class:`Quoted` values
    are put in quotes. A null in a column leaves that key out of that row's object
    (the first field must have a value in every row). ``size`` gives the number of rows
    when every field is a constant.

    >>> out = build_json([("n", pa.array(["1", "2"])), ("c", Quoted(pa.array(["x", None])))])
    >>> out.to_pylist()
    ['{"n":1,"c":"x"}', '{"n":2}']
    """
    pieces: list[pa.Array | str] = []
    first = True
    for key, value in fields:
        if value is None:
            continue
        sep = "{" if first else ","
        first = False
        quote = '"' if isinstance(value, Quoted) else ""
        raw = value.values if isinstance(value, Quoted) else value
        if isinstance(raw, str):
            pieces.append(f'{sep}"{key}":{quote}{raw}{quote}')
            continue
        if len(raw) == 0:
            return pa.array([], pa.string())
        part = pc.binary_join_element_wise(f'"{key}":{quote}', raw, quote, "")
        if part.null_count and sep == "{":
            raise ValueError(f"the first field ({key!r}) needs a value in every row")
        if part.null_count:
            # a missing value drops the key; keep the separator logic simple by
            # carrying the comma inside the optional part
            part = pc.binary_join_element_wise(sep, part, "")
            pieces.append(pc.fill_null(part, ""))
        else:
            pieces.append(sep)
            pieces.append(part)
    if first:
        raise ValueError("a JSON object needs at least one field")
    pieces.append("}")
    merged: list[pa.Array | str] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + piece
        else:
            merged.append(piece)
    if not any(not isinstance(p, str) for p in merged):
        if size is None:
            raise ValueError("build_json of constants needs size")
        return pick(("".join(str(p) for p in merged),), np.zeros(size, dtype=np.int64))
    out: pa.Array = pc.binary_join_element_wise(*merged, "")
    return out
