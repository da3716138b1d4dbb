"""Text width and wrapping without a browser, for NanumGothic (Korean and Latin).

SVG does not wrap text, so the layout breaks every text into lines itself. Widths are
estimated from advance widths calibrated once against NanumGothic (regular and bold
share the same advances): every Hangul syllable and CJK ideograph is 0.94 em, Latin
letters, digits and punctuation have their own widths. No font file is read at run
time; the browser test tier checks that the estimates keep text inside its box.

East-Asian width decides the class of characters the table does not list: wide (W)
and full-width (F) characters take a CJK advance, so Hangul and mixed Korean/English
wrap by how wide they really are, not by how many characters they have.

>>> measure_text("가나다", size=10)
28.2
>>> wrap_text("고객이 가격을 비교한다", width=60, size=10)
('고객이 가격을', '비교한다')
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "CJK_ADVANCE",
    "FONT_STACK",
    "Wrapped",
    "count_columns",
    "measure_text",
    "wrap_block",
    "wrap_text",
]

FONT_STACK = '"NanumGothic", "Noto Sans CJK KR", sans-serif'
"""The font stack of every text; some renderers use only the first family."""

CJK_ADVANCE = 0.94
"""Advance of a Hangul syllable, a CJK ideograph or another wide character, in em."""

# Advance widths in em of NanumGothic for printable ASCII (calibrated from the font's
# hmtx table; NanumGothic Bold has the same advances).
_ASCII: dict[str, float] = {
    " ": 0.28, "!": 0.424, '"': 0.43, "#": 0.606, "$": 0.606, "%": 1.09, "&": 0.727,
    "'": 0.303, "(": 0.363, ")": 0.363, "*": 0.606, "+": 0.654, ",": 0.303, "-": 0.363,
    ".": 0.303, "/": 0.375, "0": 0.606, "1": 0.606, "2": 0.606, "3": 0.606, "4": 0.606,
    "5": 0.606, "6": 0.606, "7": 0.606, "8": 0.606, "9": 0.606, ":": 0.303, ";": 0.303,
    "<": 0.547, "=": 0.654, ">": 0.547, "?": 0.545, "@": 0.872, "A": 0.727, "B": 0.606,
    "C": 0.672, "D": 0.727, "E": 0.576, "F": 0.503, "G": 0.797, "H": 0.727, "I": 0.242,
    "J": 0.363, "K": 0.641, "L": 0.484, "M": 0.969, "N": 0.727, "O": 0.787, "P": 0.577,
    "Q": 0.787, "R": 0.622, "S": 0.545, "T": 0.545, "U": 0.727, "V": 0.666, "W": 1.029,
    "X": 0.666, "Y": 0.666, "Z": 0.545, "[": 0.363, "\\": 0.966, "]": 0.363, "^": 0.654,
    "_": 0.545, "`": 0.242, "a": 0.545, "b": 0.606, "c": 0.484, "d": 0.606, "e": 0.545,
    "f": 0.363, "g": 0.606, "h": 0.606, "i": 0.242, "j": 0.269, "k": 0.52, "l": 0.242,
    "m": 0.908, "n": 0.606, "o": 0.606, "p": 0.606, "q": 0.606, "r": 0.363, "s": 0.424,
    "t": 0.363, "u": 0.606, "v": 0.484, "w": 0.848, "x": 0.51, "y": 0.464, "z": 0.484,
    "{": 0.303, "|": 0.242, "}": 0.303, "~": 0.654,
}  # fmt: skip

# Common narrow punctuation outside ASCII (also calibrated); everything else that is
# not wide falls back to a generous Latin advance.
_NARROW: dict[str, float] = {
    "·": 0.29, "–": 0.41, "—": 0.864, "‘": 0.185, "’": 0.185, "“": 0.35, "”": 0.35,
    "×": 0.592, "≥": 0.672, "≤": 0.672, "€": 0.94, "₩": 0.966, "「": 0.351, "」": 0.351,
}  # fmt: skip
_FALLBACK = 0.75

# Characters that must not start a line (closing punctuation), so a hard break inside a
# long word keeps them with the character before.
_NO_LINE_START = set(".,;:!?)]}…’”、。」』）%")


def count_columns(text: str) -> int:
    """Columns the text takes in a fixed-width grid: wide (W) and full-width (F) count 2.

    >>> count_columns("abc"), count_columns("가나다"), count_columns("NTO 매장")
    (3, 6, 8)
    """
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _advance(char: str) -> float:
    """The advance of one character in em."""
    found = _ASCII.get(char)
    if found is not None:
        return found
    found = _NARROW.get(char)
    if found is not None:
        return found
    if unicodedata.combining(char):
        return 0.0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return CJK_ADVANCE
    base = unicodedata.normalize("NFD", char)[0]
    if base in _ASCII:
        return _ASCII[base]
    # Ambiguous-width symbols (arrows, circles, stars) are full width in Korean fonts.
    if unicodedata.east_asian_width(char) == "A":
        return CJK_ADVANCE
    return _FALLBACK


def measure_text(text: str, *, size: float) -> float:
    """The width in px of ``text`` set in NanumGothic at ``size`` px (rounded to 0.01).

    >>> measure_text("Hi", size=10)  # H 0.727 + i 0.242 = 0.969 em
    9.69
    """
    return round(sum(_advance(c) for c in text) * size, 2)


def _break_word(word: str, *, width: float, size: float) -> list[str]:
    """Split a word that is wider than a line into pieces that fit, character by character."""
    pieces: list[str] = []
    current = ""
    for char in word:
        candidate = current + char
        if not current or measure_text(candidate, size=size) <= width:
            current = candidate
        elif char not in _NO_LINE_START:
            pieces.append(current)
            current = char
        elif len(current) > 1 and current[-1] not in _NO_LINE_START:
            # Closing punctuation must not start a line: it takes the character before it along.
            pieces.append(current[:-1])
            current = current[-1] + char
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _wrap_paragraph(paragraph: str, *, width: float, size: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in paragraph.split():
        candidate = f"{current} {word}" if current else word
        if measure_text(candidate, size=size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if measure_text(word, size=size) <= width:
            current = word
            continue
        pieces = _break_word(word, width=width, size=size)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        lines.append(current)
    return lines


def wrap_text(text: str, *, width: float, size: float) -> tuple[str, ...]:
    """Break ``text`` into lines no wider than ``width`` px at font ``size`` px.

    Lines break at spaces, as Korean text breaks between words (어절) and English
    between words; a word wider than a whole line is split between characters. Line
    breaks in the text are kept. Nothing is cut off: a long text gets more lines.

    >>> wrap_text("Leaves to compare prices", width=90, size=12)
    ('Leaves to', 'compare prices')
    """
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(_wrap_paragraph(paragraph, width=width, size=size) or [""])
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return tuple(lines)


@dataclass(frozen=True)
class Wrapped:
    """Lines of wrapped text with their measured extent in px."""

    lines: tuple[str, ...]
    size: float
    line_height: float
    width: float
    """The widest line, as measured."""

    @property
    def height(self) -> float:
        return round(len(self.lines) * self.line_height, 2)


def wrap_block(text: str, *, width: float, size: float, line_height: float) -> Wrapped:
    """Wrap ``text`` and measure the result (see :func:`wrap_text`)."""
    lines = wrap_text(text, width=width, size=size)
    widest = max((measure_text(line, size=size) for line in lines), default=0.0)
    return Wrapped(lines=lines, size=size, line_height=line_height, width=widest)
