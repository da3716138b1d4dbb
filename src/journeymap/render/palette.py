"""Colours of the map: the Okabe–Ito palette, safe for colour-blind readers.

Colour never carries meaning alone: confidence is also a border style and a glyph,
severity a number and a row of squares, emotion a position on the curve, a channel
its name on the badge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from journeymap.model import Confidence

__all__ = [
    "CARD_STYLES",
    "CONFIDENCE_STYLES",
    "EVIDENCE",
    "EVIDENCE_INK",
    "GRID",
    "INK",
    "MUTED",
    "OKABE_ITO",
    "CardStyle",
    "ConfidenceStyle",
    "assign_channel_colours",
    "colour_for_emotion",
    "colour_for_severity",
    "contrast_ratio",
    "stage_colour",
    "text_colour_on",
    "tint",
]

OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

INK = "#1A1A1A"
"""Body text."""
MUTED = "#4D4D4D"
"""Secondary text (labels, meta lines); 8.5:1 on white."""
GRID = "#BDBDBD"
PAPER = "#FFFFFF"
EVIDENCE = OKABE_ITO["vermillion"]
"""What the data says: observed pain points' badge and border, the as-of line."""
EVIDENCE_INK = "#9E4300"
"""Text in the evidence colour: a darker vermillion, 6.4:1 on white."""

_CHANNEL_ORDER = (
    "blue",
    "orange",
    "bluish_green",
    "reddish_purple",
    "sky_blue",
    "vermillion",
    "yellow",
    "black",
)
_STAGE_ORDER = ("sky_blue", "orange", "bluish_green", "reddish_purple", "yellow", "blue")


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours (1 … 21).

    >>> round(contrast_ratio("#000000", "#FFFFFF"), 1)
    21.0
    """
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(fill: str) -> str:
    """Black or white, whichever reads better on ``fill``."""
    return (
        "#000000"
        if contrast_ratio(fill, "#000000") >= contrast_ratio(fill, "#FFFFFF")
        else "#FFFFFF"
    )


def tint(colour: str, amount: float) -> str:
    """``colour`` mixed with white; ``amount`` 0 keeps it, 1 gives white."""
    r, g, b = _rgb(colour)
    mixed = (round(c + (255 - c) * amount) for c in (r, g, b))
    return "#" + "".join(f"{c:02X}" for c in mixed)


def assign_channel_colours(channels: Iterable[str]) -> dict[str, str]:
    """A stable colour per channel, in the order given (the scope's order first)."""
    colours: dict[str, str] = {}
    for channel in channels:
        if channel not in colours:
            name = _CHANNEL_ORDER[len(colours) % len(_CHANNEL_ORDER)]
            colours[channel] = OKABE_ITO[name]
    return colours


def stage_colour(index: int) -> str:
    """The accent colour of the stage at ``index``."""
    return OKABE_ITO[_STAGE_ORDER[index % len(_STAGE_ORDER)]]


def colour_for_severity(severity: int) -> str:
    """Yellow (1–2), orange (3), vermillion (4–5): light to dark as severity grows."""
    if severity <= 2:
        return OKABE_ITO["yellow"]
    if severity == 3:
        return OKABE_ITO["orange"]
    return OKABE_ITO["vermillion"]


def colour_for_emotion(value: float) -> str:
    """Bluish green above neutral, vermillion below, grey at neutral."""
    if value >= 0.5:
        return OKABE_ITO["bluish_green"]
    if value <= -0.5:
        return OKABE_ITO["vermillion"]
    return "#7A7A7A"


@dataclass(frozen=True)
class ConfidenceStyle:
    """How a card shows how sure we are of it: border dash, border width and a glyph."""

    dash: str | None
    """SVG ``stroke-dasharray``; ``None`` draws a solid border."""
    width: float
    glyph: str
    """``filled``, ``half`` or ``hollow`` circle."""


CONFIDENCE_STYLES: dict[Confidence, ConfidenceStyle] = {
    "observed": ConfidenceStyle(dash=None, width=1.8, glyph="filled"),
    "reported": ConfidenceStyle(dash="6 3", width=1.5, glyph="half"),
    "assumed": ConfidenceStyle(dash="1.5 3", width=1.5, glyph="hollow"),
}


@dataclass(frozen=True)
class CardStyle:
    """Fill and border of one kind of card."""

    fill: str
    stroke: str


CARD_STYLES: dict[str, CardStyle] = {
    "step": CardStyle(PAPER, "#333333"),
    "touchpoint": CardStyle(PAPER, "#5A5A5A"),
    "action": CardStyle("#EEF5FB", "#0072B2"),
    "thought": CardStyle("#FFF6DD", "#9A6A00"),
    "feeling": CardStyle("#FBEFF5", "#A0537E"),
    "pain": CardStyle("#FCEDE3", "#B34E00"),
    "observed": CardStyle("#FFFFFF", OKABE_ITO["vermillion"]),
    "nodata": CardStyle("#FFFFFF", "#9E9E9E"),
    "desired": CardStyle("#E3F4EE", "#007A59"),
    "opportunity": CardStyle("#E8F1F9", "#0072B2"),
    "backstage": CardStyle("#F1F1F1", "#5A5A5A"),
    "owner": CardStyle(PAPER, "#5A5A5A"),
    "metric": CardStyle(PAPER, "#333333"),
    "node": CardStyle(PAPER, "#333333"),
    "exit": CardStyle("#FCEDE3", "#B34E00"),
    "bar": CardStyle(PAPER, "#333333"),
    "label": CardStyle(PAPER, "#8A8A8A"),
    "legend": CardStyle(PAPER, "#333333"),
}
