"""The geometry of the map picture, checked as numbers (no browser).

Every example map and every render fixture, in every view: no two cards overlap, text
stays inside its box, the emotion curve stays inside its lane, every stage and step
appears exactly once. Text width and wrapping are checked against hand-worked numbers
for NanumGothic (Hangul 0.94 em; Latin letters from the font's own advance table).
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeymap.io.maps import load_map
from journeymap.model import JourneyMap, Step
from journeymap.render import LANES, VIEWS, RenderError, layout_map, select_lanes
from journeymap.render.flow import plan_flow
from journeymap.render.geometry import Box, Card, Layout
from journeymap.render.pages import paginate_columns
from journeymap.render.text import count_columns, measure_text, wrap_text
from journeymap.render.timeline import place_on_axis, schedule_steps
from map_strategies import journey_maps

ROOT = Path(__file__).parents[1]
MAP_FILES = sorted((ROOT / "examples").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "fixtures" / "render").glob("*.yaml")
)
MAP_IDS = [f"{p.parent.name}/{p.name}" for p in MAP_FILES]
FIXTURES = ROOT / "tests" / "fixtures" / "render"


@functools.cache
def _map(path: Path) -> JourneyMap:
    return load_map(path)


@functools.cache
def _layout(path: Path, view: str) -> Layout:
    return layout_map(_map(path), view=view)


def _pairs(path: Path, view: str) -> list[tuple[Card, Card]]:
    return list(itertools.combinations(_layout(path, view).cards, 2))


def _tiny(**step_fields: object) -> JourneyMap:
    return JourneyMap.model_validate(
        {
            "id": "t",
            "title": "T",
            "stages": [
                {"id": "s", "name": "S", "steps": [{"id": "a", "name": "A", **step_fields}]}
            ],
        }
    )


def test_render_fixtures_include_a_korean_map_and_a_long_map() -> None:
    korean = [p for p in MAP_FILES if _map(p).lang == "ko"]
    long = [p for p in MAP_FILES if sum(1 for _ in _map(p).all_steps()) >= 30]
    assert korean and long


# --- text width and wrapping (hand-worked) --------------------------------------------


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("가나다", 10, 28.2),  # 3 × 0.94 em × 10 px
        ("abc", 10, 16.35),  # (a 0.545 + b 0.606 + c 0.484) × 10
        ("NTO", 12, 24.71),  # (N 0.727 + T 0.545 + O 0.787) × 12 = 24.708
        ("A 가", 10, 19.47),  # (A 0.727 + space 0.28 + 가 0.94) × 10
        ("漢字", 10, 18.8),  # CJK ideographs are wide (W): 0.94 em each
    ],
)
def test_text_width_follows_nanumgothic_advances(text: str, size: float, expected: float) -> None:
    assert measure_text(text, size=size) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    ("text", "columns"), [("abc", 3), ("가나다", 6), ("NTO 매장", 8), ("ＡＢ", 4), ("", 0)]
)
def test_east_asian_wide_characters_count_two_columns(text: str, columns: int) -> None:
    assert count_columns(text) == columns


def test_hangul_wraps_earlier_than_latin_of_the_same_length() -> None:
    # Both have 8 letters and a space. At 10 px in 50 px:
    # "가나다라 마바사아" = 37.6 + 2.8 + 37.6 = 78.0 px → two lines;
    # "abcd efgh" = 22.41 + 2.8 + 21.2 = 46.41 px → one line.
    assert wrap_text("가나다라 마바사아", width=50, size=10) == ("가나다라", "마바사아")
    assert wrap_text("abcd efgh", width=50, size=10) == ("abcd efgh",)


def test_mixed_korean_and_latin_wrap_by_width() -> None:
    # At 12 px: "NTO" 24.71, "매장에서" 45.12, "픽업" 22.56, a space 3.36.
    # "NTO 매장에서" = 73.19 > 60; "매장에서 픽업" = 71.04 > 60 → three lines.
    assert wrap_text("NTO 매장에서 픽업", width=60, size=12) == ("NTO", "매장에서", "픽업")
    # At 80 px both pairs fit on their own lines: "NTO 매장에서" = 73.19 ≤ 80.
    assert wrap_text("NTO 매장에서 픽업", width=80, size=12) == ("NTO 매장에서", "픽업")


def test_a_word_wider_than_the_line_breaks_between_characters() -> None:
    # 10 Hangul syllables at 10 px = 94 px; 5 of them = 47 px fit in 50, 6 = 56.4 do not.
    assert wrap_text("가나다라마바사아자차", width=50, size=10) == ("가나다라마", "바사아자차")


def test_line_breaks_in_the_text_are_kept() -> None:
    assert wrap_text("첫 줄\n둘째 줄", width=500, size=10) == ("첫 줄", "둘째 줄")


_WORDS = st.lists(
    st.text(alphabet="가나다라마바사아자차카타파하abcdefghijKLMNOP0123.,", min_size=1, max_size=12),
    min_size=1,
    max_size=12,
)


@given(words=_WORDS, width=st.floats(min_value=12, max_value=300))
def test_wrapping_loses_nothing_and_keeps_lines_within_width(
    words: list[str], width: float
) -> None:
    text = " ".join(words)
    lines = wrap_text(text, width=width, size=10)
    # Independent check: the characters survive in order, only spaces move.
    assert "".join("".join(lines).split()) == "".join(text.split())
    # A line is only wider than allowed when nothing in it may break: one character, or
    # one character with the closing punctuation that must not start a line.
    assert all(
        measure_text(line, size=10) <= width + 1e-6 or len(line.rstrip(".,")) <= 1 for line in lines
    )


# --- every map, every view ----------------------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_no_two_cards_overlap(path: Path, view: str) -> None:
    overlapping = [(a.id, b.id) for a, b in _pairs(path, view) if a.box.overlaps(b.box)]
    assert overlapping == []


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_text_stays_inside_its_box(path: Path, view: str) -> None:
    layout = _layout(path, view)
    outside: list[str] = []
    for card in layout.cards:
        outside += [f"{card.id}: {t.lines}" for t in card.texts if not card.box.contains(t.box)]
        for badge in card.badges:
            if not card.box.contains(badge.box) or not badge.box.contains(badge.label.box):
                outside.append(f"{card.id}: badge {badge.label.lines}")
        for mark in card.marks:
            if not card.box.contains(mark.box):
                outside.append(f"{card.id}: mark")
        if card.glyph is not None:
            if not card.box.contains(card.glyph):
                outside.append(f"{card.id}: glyph")
            # The confidence glyph never sits on the card's text or badges.
            covered = [t.box for t in card.texts] + [b.box for b in card.badges]
            outside += [f"{card.id}: glyph covers text" for b in covered if b.overlaps(card.glyph)]
    for region in layout.regions:
        outside += [
            f"{region.id}: {t.lines}" for t in region.texts if not region.box.contains(t.box)
        ]
        outside += [f"{region.id}: badge" for b in region.badges if not region.box.contains(b.box)]
    assert outside == []


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_everything_lies_on_the_picture(path: Path, view: str) -> None:
    layout = _layout(path, view)
    picture = Box(0, 0, layout.width, layout.height)
    boxes = [c.box for c in layout.cards] + [r.box for r in layout.regions]
    assert [b for b in boxes if not picture.contains(b)] == []


@pytest.mark.parametrize("view", ["matrix", "timeline"])
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_emotion_curve_stays_inside_the_emotion_lane(path: Path, view: str) -> None:
    layout = _layout(path, view)
    declared = {s.id: s.emotion for _, s in _map(path).all_steps() if s.emotion is not None}
    curves = [c for c in layout.curves if c.kind == "declared"]
    assert len(curves) == (1 if declared else 0)
    lane = next((r.box for r in layout.regions if r.id == "lane:emotion"), None)
    for curve in curves:
        assert lane is not None and lane.contains(curve.lane)
        assert {p.step_id: p.value for p in curve.points} == declared
        for point in curve.points:
            assert curve.lane.contains_point(point.x, point.y)
        for segment in curve.segments:
            assert all(curve.lane.contains_point(x, y) for x, y in segment.points)
        # Higher emotion is drawn higher (smaller y), and equal values level.
        for a, b in itertools.combinations(curve.points, 2):
            assert (a.value > b.value) == (a.y < b.y)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_every_stage_and_step_appears_exactly_once(path: Path, view: str) -> None:
    jmap, layout = _map(path), _layout(path, view)
    kind = "node" if view == "flow" else "step"
    steps = [c.ref for c in layout.cards if c.kind == kind]
    stages = [r.id.removeprefix("stage:") for r in layout.regions if r.kind == "stage"]
    assert sorted(steps) == sorted(s.id for _, s in jmap.all_steps())
    assert len(steps) == len(set(steps))
    assert stages == [s.id for s in jmap.stages]


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_matrix_steps_run_left_to_right_in_journey_order(path: Path) -> None:
    layout = _layout(path, "matrix")
    xs = [c.box.x for c in sorted(layout.cards_of("step"), key=lambda c: c.column or 0)]
    assert [c.ref for c in sorted(layout.cards_of("step"), key=lambda c: c.box.x)] == list(
        layout.steps
    )
    assert xs == sorted(xs)


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_matrix_cards_stay_in_their_lane_and_column(path: Path) -> None:
    layout = _layout(path, "matrix")
    lanes = {r.id.removeprefix("lane:"): r.box for r in layout.regions if r.kind == "lane"}
    heads = {c.column: c.box for c in layout.cards_of("step")}
    wrong = []
    for card in layout.cards:
        if card.lane is None:
            continue
        if not lanes[card.lane].contains(card.box):
            wrong.append(f"{card.id} leaves lane {card.lane}")
        if card.column is not None and card.kind != "desired":
            head = heads[card.column]
            if not (head.x - 0.01 <= card.box.x and card.box.right <= head.right + 0.01):
                wrong.append(f"{card.id} leaves column {card.column}")
    assert wrong == []


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_every_card_of_the_map_shows_its_confidence(path: Path) -> None:
    layout = _layout(path, "matrix")
    without = [
        c.id for c in layout.cards if c.kind not in ("owner", "label") and c.confidence is None
    ]
    assert without == []
    pains = {c.ref: c.confidence for c in layout.cards_of("pain")}
    expected = {p.id: p.confidence for _, s in _map(path).all_steps() for p in s.pain_points}
    assert pains == expected


# --- lanes ----------------------------------------------------------------------------


def test_lanes_are_drawn_in_the_order_asked_and_only_those() -> None:
    layout = layout_map(_map(FIXTURES / "sofa.yaml"), lanes=["pain-points", "Emotion"])
    assert layout.lanes == ("pain_points", "emotion")
    lane_ids = [r.id for r in layout.regions if r.kind == "lane"]
    assert lane_ids == ["lane:pain_points", "lane:emotion"]
    lane_y = {r.id: r.box.y for r in layout.regions if r.kind == "lane"}
    assert lane_y["lane:pain_points"] < lane_y["lane:emotion"]
    assert {c.lane for c in layout.cards if c.lane} == {"pain_points"}


def test_default_lanes_leave_out_lanes_without_content() -> None:
    jmap = _tiny(emotion=1, actions=["Looks"])
    assert layout_map(jmap).lanes == ("actions", "emotion")


def test_an_empty_lane_asked_for_is_still_drawn() -> None:
    layout = layout_map(_tiny(emotion=1), lanes=["actions", "emotion"])
    assert [r.id for r in layout.regions if r.kind == "lane"] == ["lane:actions", "lane:emotion"]


@pytest.mark.parametrize(
    ("given", "hint"),
    [("pain", "did you mean 'pain_points'?"), ("emotions", "did you mean 'emotion'?"), ("zzz", "")],
)
def test_an_unknown_lane_lists_the_valid_lanes(given: str, hint: str) -> None:
    with pytest.raises(RenderError) as caught:
        select_lanes(["actions", given])
    message = str(caught.value)
    assert f"unknown lane '{given}'" in message
    assert hint in message
    assert all(lane in message for lane in LANES)


def test_an_unknown_view_gets_a_hint() -> None:
    with pytest.raises(RenderError, match="did you mean 'flow'"):
        layout_map(_tiny(), view="flwo")


# --- measured data riding along ----------------------------------------------------------

METRICS = {
    "browse": {"reach": "41,200", "conversion": "38%"},
    "choose-delivery": {"drop-off": "48%", "median time": "6m 10s"},
}
MEASURED = {"search": 0.5, "browse": -1.25, "pay": 2.0}


def test_metrics_lane_shows_each_label_and_value_in_its_step_column() -> None:
    layout = layout_map(_map(FIXTURES / "sofa.yaml"), metrics=METRICS)
    assert layout.lanes[-1] == "metrics"
    cards = {c.ref: c for c in layout.cards_of("metric")}
    assert set(cards) == set(METRICS)
    heads = {c.ref: c.box for c in layout.cards_of("step")}
    for step_id, rows in METRICS.items():
        card = cards[step_id]
        words = [line for t in card.texts for line in t.lines]
        assert all(label in words and value in words for label, value in rows.items())
        assert card.box.x == heads[step_id].x
        assert card.confidence == "observed"
        # Values are right-aligned in one column: 8 px padding, and 16 px kept clear of
        # the confidence glyph in the top-right corner.
        values = [t for t in card.texts if t.anchor == "end"]
        assert [t.x for t in values] == [card.box.right - 8 - 16] * len(rows)


def test_measured_emotion_is_a_second_curve_at_hand_worked_heights() -> None:
    layout = layout_map(_map(FIXTURES / "sofa.yaml"), measured_emotion=MEASURED)
    curve = next(c for c in layout.curves if c.kind == "measured")
    lane = next(r.box for r in layout.regions if r.id == "lane:emotion")
    # The emotion lane is 160 px with 20 px padding: 120 px for −2 … +2, so 30 px per
    # point, and 0 sits 80 px below the lane's top.
    expected = {"search": 80 - 15, "browse": 80 + 37.5, "pay": 80 - 60}
    assert {p.step_id: round(p.y - lane.y, 2) for p in curve.points} == expected
    assert curve.dash is not None
    declared = next(c for c in layout.curves if c.kind == "declared")
    assert declared.dash is None and len(declared.points) == 10


@pytest.mark.parametrize(
    ("metrics", "measured", "message"),
    [
        ({"brows": {"reach": "1"}}, None, "did you mean 'browse'"),
        (None, {"nowhere-at-all": 1.0}, "steps are: search, browse"),
        (None, {"pay": 2.5}, "off the scale"),
    ],
)
def test_measured_data_for_unknown_steps_or_off_the_scale_is_refused(
    metrics: dict[str, dict[str, str]] | None, measured: dict[str, float] | None, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        layout_map(_map(FIXTURES / "sofa.yaml"), metrics=metrics, measured_emotion=measured)


# --- timeline ---------------------------------------------------------------------------


def test_undated_steps_follow_each_other() -> None:
    steps = [
        Step(id="a", name="A", duration="10m"),
        Step(id="b", name="B"),
        Step(id="c", name="C", duration="1h"),
    ]
    schedule = schedule_steps(steps)
    # a: 0 … 600 s; b has no duration: 600 … 600; c: 600 … 4200.
    assert schedule.starts == (0.0, 600.0, 600.0)
    assert schedule.ends == (600.0, 600.0, 4200.0)
    assert schedule.timed and schedule.origin is None


def test_dated_steps_sit_at_their_dates_and_undated_ones_lean_on_them() -> None:
    steps = [
        Step(id="a", name="A", duration="1d"),
        Step(id="b", name="B", at="2026-03-10", duration="2d"),
        Step(id="c", name="C", duration="12h"),
    ]
    schedule = schedule_steps(steps)
    # a ends where b starts (2026-03-10), so it starts on 2026-03-09: the new origin.
    assert schedule.starts == (0.0, 86400.0, 3 * 86400.0)
    assert schedule.ends == (86400.0, 3 * 86400.0, 3.5 * 86400.0)
    assert schedule.origin is not None and schedule.origin.isoformat() == "2026-03-09T00:00:00"


def test_durations_of_very_different_size_get_a_compressed_axis() -> None:
    # 90 s and 3 days differ 2880-fold (> 50): each bar grows with log(duration).
    schedule = schedule_steps(
        [Step(id="a", name="A", duration="90s"), Step(id="b", name="B", duration="3d")]
    )
    axis = place_on_axis(schedule, left=100.0, width=600.0)
    assert axis.kind == "compressed"
    (a0, a1), (b0, b1) = axis.spans
    assert (a0, b1) == (100.0, 700.0) and a1 == b0
    # weights: log1p(1) + 0.35 = 1.0431 and log1p(2880) + 0.35 = 8.3159 → a gets 6.69 %.
    assert a1 - a0 == pytest.approx(600 * 1.0431 / (1.0431 + 8.3159), abs=0.05)
    # Tick labels keep the two largest units: 3d 0h 1m 30s reads "3d 1m".
    assert axis.ticks[0] == (100.0, "0s") and axis.ticks[-1][1] == "3d 1m"


def test_similar_durations_get_a_linear_axis() -> None:
    schedule = schedule_steps(
        [Step(id="a", name="A", duration="1h"), Step(id="b", name="B", duration="3h")]
    )
    axis = place_on_axis(schedule, left=0.0, width=800.0)
    # 4 h over 800 px: a ends at 1/4 of the width.
    assert axis.kind == "linear" and axis.spans == ((0.0, 200.0), (200.0, 800.0))


def test_a_map_without_time_is_spaced_evenly_and_says_so() -> None:
    layout = layout_map(_tiny(), view="timeline")
    assert layout.notes and "evenly" in layout.notes[0]


# --- flow -------------------------------------------------------------------------------


def test_flow_puts_a_detour_one_row_down_and_exits_below_their_column() -> None:
    graph = plan_flow(_map(FIXTURES / "sofa.yaml"))
    rows = {n.id: (n.column, n.row) for n in graph.nodes}
    # product-page (col 2) forks to visit-store (next) and add-to-cart (later):
    # visit-store and compare-elsewhere are the detour, one row down.
    assert rows["product-page"] == (2, 0)
    assert rows["visit-store"] == (3, 1) and rows["compare-elsewhere"] == (4, 1)
    assert rows["add-to-cart"] == (5, 0)
    # "buys elsewhere" has no target: an exit under the next column, below the detour.
    assert rows["exit:where-to-decide:leaves"] == (3, 2)
    kinds = {e.id: e.kind for e in graph.edges}
    assert kinds["choose-delivery>compare-elsewhere:back-to-compare"] == "back"
    assert kinds["product-page>exit:where-to-decide:leaves"] == "exit"
    # A fork replaces the plain next-step edge of its step.
    assert "product-page>visit-store" not in kinds


@pytest.mark.parametrize("path", MAP_FILES, ids=MAP_IDS)
def test_flow_edges_join_the_cards_they_connect(path: Path) -> None:
    layout = _layout(path, "flow")
    boxes = {c.id.removeprefix("node:"): c.box for c in layout.cards if c.kind in ("node", "exit")}
    for edge in layout.edges:
        start, end = edge.segments[0].p0, edge.segments[-1].p1
        assert boxes[edge.source].contains_point(*start, slack=0.5)
        assert boxes[edge.target].contains_point(*end, slack=0.5)


# --- pages --------------------------------------------------------------------------------


def test_paginate_keeps_stages_whole_when_they_fit() -> None:
    spans = [(0, 100), (100, 200), (200, 300), (300, 400), (400, 500)]
    # Stages: [0, 1], [2, 3, 4]; a page holds 300 px: stage 1 (200 px) then stage 2 (300).
    assert paginate_columns(spans, [0, 0, 1, 1, 1], budget=300) == [(0, 200), (200, 500)]
    # A stage wider than a page is split between its columns.
    assert paginate_columns(spans, [0, 0, 0, 0, 0], budget=250) == [
        (0, 200),
        (200, 400),
        (400, 500),
    ]


@pytest.mark.parametrize("view", VIEWS)
def test_a_long_map_is_split_into_pages_that_cover_it_once(view: str) -> None:
    layout = _layout(FIXTURES / "long.yaml", view)
    assert len(layout.pages) >= 2
    if view == "timeline":
        spans = [(p.y0, p.y1) for p in layout.pages]
        items = [c.box.cy for c in layout.cards_of("step")]
    else:
        spans = [(p.x0, p.x1) for p in layout.pages]
        items = [c.box.cx for c in layout.cards if c.kind in ("step", "node")]
    assert all(a[1] <= b[0] + 4 for a, b in itertools.pairwise(spans))
    # Every step lies on exactly one page.
    assert all(sum(1 for lo, hi in spans if lo <= v <= hi) == 1 for v in items)


def test_a_short_map_is_one_page() -> None:
    assert len(_layout(FIXTURES / "loan-ko.yaml", "matrix").pages) == 1


# --- any valid map ---------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jmap=journey_maps(), view=st.sampled_from(VIEWS))
def test_any_valid_map_lays_out_without_overlap_or_overflow(jmap: JourneyMap, view: str) -> None:
    layout = layout_map(jmap, view=view)
    cards = layout.cards
    assert [
        (a.id, b.id) for a, b in itertools.combinations(cards, 2) if a.box.overlaps(b.box)
    ] == []
    assert all(card.box.contains(t.box) for card in cards for t in card.texts)
    assert all(r.box.contains(t.box) for r in layout.regions for t in r.texts)
    kind = "node" if view == "flow" else "step"
    assert sorted(c.ref for c in cards if c.kind == kind) == sorted(
        s.id for _, s in jmap.all_steps()
    )
