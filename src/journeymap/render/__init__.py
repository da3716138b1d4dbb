"""Draw journey maps: layout as numbers, then SVG and self-contained HTML (pure core).

>>> from journeymap.model import JourneyMap
>>> jmap = JourneyMap.model_validate({"id": "j", "title": "J", "stages": [
...     {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A"}]}]})
>>> render_svg(jmap, view="flow").startswith("<svg")
True
"""

from __future__ import annotations

from journeymap.render.geometry import LANES, VIEWS, Layout, RenderError, View
from journeymap.render.html import render_html
from journeymap.render.layout import layout_map, select_lanes
from journeymap.render.svg import render_svg
from journeymap.render.text import FONT_STACK, count_columns, measure_text, wrap_text

__all__ = [
    "FONT_STACK",
    "LANES",
    "VIEWS",
    "Layout",
    "RenderError",
    "View",
    "count_columns",
    "layout_map",
    "measure_text",
    "render_html",
    "render_svg",
    "select_lanes",
    "wrap_text",
]
