"""The analysis report: every section there, every number traced, nothing fetched.

The reports are built from the hand-made evidenced maps of tests/evidence_fixtures.py
(examples/backpack.yaml in English, examples/korean-ecommerce.yaml in Korean) with the
real charts (vl-convert) and, for the PDF, WeasyPrint.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evidence_fixtures import PAYMENT_CHOICES, backpack_evidence, korean_evidence, rough_evidence
from journeymap.insights.evidence import EvidencedMap
from journeymap.io.report import Report, ReportError, build_report, write_report
from journeymap.render.report import REPORT_SECTIONS, render_report, report_words

_VOID = {"meta", "br", "img", "hr", "input", "link", "source", "col", "wbr", "area", "base"}


_FIXTURES = {"backpack": backpack_evidence, "korean": korean_evidence, "rough": rough_evidence}


@functools.cache
def _ev(name: str) -> EvidencedMap:
    return _FIXTURES[name]()


@functools.cache
def _report(name: str, pdf: bool = False) -> Report:
    return build_report(_ev(name), pdf=pdf)


class _Checker(HTMLParser):
    """Checks that every element is closed in order; collects text outside SVG/style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not {"svg", "style", "title"} & set(self.stack):
            self.text.append(data)


def _parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker


def _section(html: str, key: str) -> str:
    match = re.search(rf'<section id="{key}"[^>]*>(.*?)</section>', html, re.S)
    assert match, key
    return match.group(1)


def _plain(fragment: str) -> str:
    return " ".join(" ".join(_parse(fragment).text).split())


# --- structure ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["backpack", "korean"])
def test_every_section_is_there_with_its_title(name: str) -> None:
    html = _report(name).html
    words = report_words(_ev(name).map.lang)
    ids = re.findall(r'<section id="([^"]+)"', html)
    assert ids == list(REPORT_SECTIONS)
    for key in REPORT_SECTIONS:
        assert f"<h2>{words[key]}</h2>" in html


@pytest.mark.parametrize("name", ["backpack", "korean"])
def test_report_is_well_formed(name: str) -> None:
    html = _report(name).html
    checker = _parse(html)
    assert checker.errors == []
    assert checker.stack == []
    assert html.startswith("<!doctype html>")


@pytest.mark.parametrize("name", ["backpack", "korean"])
def test_report_points_at_nothing_outside_itself(name: str) -> None:
    html = _report(name).html
    assert re.findall(r"https?:|//[a-z0-9]|\bsrc=|\bhref=|@import|<script|<link", html) == []
    # url(...) only ever names a clip path inside the page.
    assert {u[:1] for u in re.findall(r"url\(([^)]*)\)", html)} <= {"#"}


def test_every_chart_is_inline_svg() -> None:
    report = _report("backpack")
    for name in report.charts:
        assert f'data-chart="{name}"' in report.html
    assert report.html.count("<svg") >= len(report.charts) + 2  # + the map and the Sankey


# --- numbers --------------------------------------------------------------------------


def _fractions(ev: EvidencedMap) -> list[float]:
    """Every rate in the evidenced map."""
    snap = ev.snapshot
    values: list[float | None] = [snap.unmatched_share]
    for m in [*snap.steps, *snap.stages]:
        values += [m.conversion.value, m.conversion.low, m.conversion.high, m.drop_off]
        values += [s.score.value for s in m.satisfaction]
    for p in ev.pain_points:
        values += [v for _, v in p.numbers if isinstance(v, float) and 0 < v < 1]
    for o in ev.opportunities:
        values.append(o.conversion_lost)
    for pref in ev.preferences:
        values += [c.share for c in pref.cells]
    for seg in ev.segments:
        values += [seg.rate.value, seg.rate.low, seg.rate.high]
    return [v for v in values if v is not None]


def _counts(ev: EvidencedMap) -> list[int]:
    """Every count in the evidenced map."""
    snap = ev.snapshot
    counts = [snap.customers, snap.events, snap.feedback]
    for m in [*snap.steps, *snap.stages]:
        counts += [m.reach, m.converted, m.dropped, m.in_progress, m.converted + m.dropped]
        counts += [s.responses for s in m.satisfaction]
    for p in ev.pain_points:
        counts.append(p.affected)
        counts += [v for _, v in p.numbers if isinstance(v, int)]
    for o in ev.opportunities:
        counts.append(o.customers_affected)
        if o.impact_value is not None:
            counts.append(round(o.impact_value))
    for d in ev.drivers:
        counts += [d.converters_with, d.converters, d.others_with, d.others]
    for pref in ev.preferences:
        counts += [c.count for c in pref.cells]
    for seg in ev.segments:
        counts += [seg.customers, seg.converted]
    # Responses behind the measured curve (sum over steps with a measured emotion).
    counts.append(
        sum(max((s.responses for s in m.satisfaction), default=0)
            for m in snap.steps if m.measured_emotion is not None)
    )  # fmt: skip
    return counts


def _allowed(ev: EvidencedMap) -> set[str]:
    """The ways the report may print the evidenced map's figures, worked out here."""
    allowed = {f"{n:,}" for n in _counts(ev)}
    for x in _fractions(ev):
        allowed |= {f"{x * 100:.0f}%", f"{x * 100:.1f}%"}
    # Words of the map and the evidence (titles, explanations, notes) are quoted as
    # they are, with their own numbers.
    texts = [p.title + " " + p.explanation for p in ev.pain_points]
    texts += [o.title + " " + o.explanation for o in ev.opportunities] + list(ev.notes)
    texts += [step.name for _, step in ev.map.all_steps()] + [ev.map.title]
    texts += list(ev.snapshot.sources) + [c for p in ev.pain_points for c in p.sample]
    for text in texts:
        allowed |= set(re.findall(r"\d(?:[\d,]*\d)?(?:\.\d+)?%?", text))
    allowed |= {"95%", "2026"}  # the confidence level; the year of the dates
    return allowed


@pytest.mark.parametrize("name", ["backpack", "korean"])
def test_every_figure_in_the_text_traces_to_the_evidenced_map(name: str) -> None:
    ev = _ev(name)
    text = " ".join(_parse(_report(name).html).text)
    tokens = re.findall(r"\d(?:[\d,]*\d)?(?:\.\d+)?%?", text)
    # Rates always, and every number of 100 or more: small numbers are ranks, scores on
    # 1–5 scales, interval bounds or parts of durations and dates (checked below).
    big = [t for t in tokens if t.endswith("%") or float(t.replace(",", "")) >= 100]
    allowed = _allowed(ev)
    assert sorted({t for t in big if t not in allowed}) == []


def test_summary_quotes_the_biggest_drop_off_top_pain_point_and_top_opportunity() -> None:
    summary = _plain(_section(_report("backpack").html, "summary"))
    # Drop-off per step = dropped / (converted + dropped): reads-review 2,400/3,880 = 61.9%,
    # visits-site 2,184/5,044 = 43.3%, leaves-to-compare 1,770/2,800 = 63.2%,
    # sees-coupon-ad 1,240/1,860 = 66.7% (the biggest), the rest below 36%.
    assert "“Sees a coupon ad a day later” (Purchase): 67%" in summary
    assert "(1,240 of 1,860)" in summary
    # Severity 5 is the queue wait (212 customers); rank 1 is linking guest accounts.
    assert "“Support queue waits run to 23 minutes”" in summary and "212 customers" in summary
    assert "“Link guest orders to loyalty accounts” (quick win, score 20)" in summary
    assert "980 customers affected, USD 49,118 at stake" in summary


def test_funnel_table_rows_show_the_step_numbers() -> None:
    funnel = _plain(_section(_report("backpack").html, "funnel"))
    # visits-site: reach 5,200 = 2,860 converted + 2,184 dropped + 156 in progress;
    # 2,860 / 5,044 = 56.7%, Wilson 95% interval 55.3–58.1; 2,184 / 5,044 = 43.3%.
    assert "Visits the Ridgeway site 5,200 2,860 2,184 156 57% (55–58) 43% 15m CSAT 68%" in funnel
    assert "Gets return instructions no data" in funnel
    assert "Is greeted by name at the store no data" in funnel


def test_pain_point_table_says_what_where_and_whom() -> None:
    # Changed with the four-column table: the "Numbers" column is gone (the explanation
    # quotes them), the p value and sample customers are a small line under it, and
    # the rows keep the list's order.
    html = _report("backpack").html
    pains = _plain(_section(html, "pain-points"))
    assert "Support queue waits run to 23 minutes slow" in pains
    assert "Waits long in the support queue · Service" in pains
    assert "confirms the declared pain point “Long wait in the support queue" in pains
    assert "e.g. customers c-40021, c-40388" in pains
    # Drop-off at the coupon ad: p = 0.000001 → p < 0.001, then its sample.
    assert "p < 0.001 · e.g. customers c-10442, c-20117, c-31009" in pains
    assert "median wait (min)" not in pains
    # The list's order: the coupon ad, the queue, wrong deliveries, guests, Wyoming.
    order = [pains.index(t) for t in ("Two in three", "Support queue", "Wrong deliveries",
                                      "Guests call", "Wyoming")]  # fmt: skip
    assert order == sorted(order)


def _heads(table: str) -> list[str]:
    return [_plain(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]


def _rows(table: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)


def test_pain_point_table_has_four_columns_and_the_first_twelve() -> None:
    ev = _ev("rough")
    section = _section(_report("rough").html, "pain-points")
    assert _heads(section) == ["What", "Where", "Affected", "Confidence"]
    rows = _rows(section)
    # 5 hand-made + 10 extra pain points = 15: the first 12 shown, 3 more named.
    assert len(ev.pain_points) == 15 and len(rows) == 12
    titles = [_plain(re.search(r"<strong>(.*?)</strong>", r).group(1)) for r in rows]  # type: ignore[union-attr]
    assert titles == [p.title for p in ev.pain_points[:12]]
    assert all(r.count("<td") == 4 for r in rows)
    assert "3 more in the evidenced JSON (pain_points)." in _plain(section)
    # The 12th is extra number 6 (c-90006); 7, 8 and 9 are not shown.
    assert "e.g. customers c-90006" in _plain(section) and "c-90007" not in section


def test_a_short_pain_point_list_has_no_more_line() -> None:
    assert "more in the evidenced JSON" not in _section(_report("backpack").html, "pain-points")


def test_comparison_tables_show_shares_with_significance() -> None:
    comparison = _plain(_section(_report("backpack").html, "comparison"))
    # US-WY paid by card 150 of 300 = 50% (less, ▼), PayPal 110 of 300 = 36.7% (more, ▲).
    assert "US-WY 50% ▼ (150) 37% ▲ (110) 13% (40)" in comparison
    assert "χ² = 34.2, 4 degrees of freedom, p < 0.001: the groups differ." in comparison
    # US-CO: 1,260 of 3,600 = 35% against 870 of 2,880 = 30.2% → +4.8 points.
    assert "region: US-CO 3,600 1,260 35% (33–37) +4.8 pt" in comparison


def test_drivers_and_time_tables() -> None:
    # Changed with the per-scope tables: the scope is a heading in the map's words
    # (stage:purchase → Purchase), no longer a column.
    html = _report("backpack").html
    drivers = _plain(_section(html, "drivers"))
    # OR = (410 × 770) / (200 × 520) = 3.04.
    assert "Purchase 2 features tested, 1 significant." in drivers
    assert "event=coupon_click 410 / 610 520 / 1,290 3.04 (2.48–3.72) q < 0.001" in drivers
    assert "channel=app" not in drivers  # q = 0.21: not significant
    time = _plain(_section(html, "time"))
    # Consideration: median 90,000 s = 1d 1h; p90 500,000 s = 5d 18.9h → 5d 19h.
    assert "Consideration 1d 1h 5d 19h" in time


def test_drivers_show_significant_ones_per_scope_in_journey_order() -> None:
    section = _section(_report("rough").html, "drivers")
    headings = [_plain(h) for h in re.findall(r"<h3>(.*?)</h3>", section)]
    # Awareness (before step 1), Consideration (before step 2), the fork at step 3
    # ("Leaves to compare prices"), Purchase (before step 4), Loyalty (last).
    assert headings == ["Awareness", "Consideration", "Comes back (through the coupon ad)",
                        "Purchase", "Loyalty"]  # fmt: skip
    text = _plain(section)
    assert "Awareness 2 features tested, 1 significant." in text
    assert "Consideration 8 features tested, 6 significant. The 5 with the largest effect:" in text
    assert "Loyalty 2 features tested, 0 significant." in text
    tables = re.findall(r"<table.*?</table>", section, re.S)
    # Loyalty has no table: 4 tables for 5 scopes, at most 5 rows each.
    assert [len(_rows(t)) for t in tables] == [1, 5, 2, 5]
    purchase = _plain(tables[3])
    # |ln OR|: support_email 8.34, phone_call 6.58, order_placed 3.25, coupon_click 1.11,
    # channel=app 0.79 are shown; cart_add 0.47 and wishlist_add 0.095 are not.
    shown = [f for f in ("support_email", "phone_call", "order_placed", "coupon_click",
                         "channel=app") if f in purchase]  # fmt: skip
    assert len(shown) == 5 and "cart_add" not in purchase and "wishlist_add" not in purchase
    assert [purchase.index(f) for f in shown] == sorted(purchase.index(f) for f in shown)
    # From 100 up a count: 4,187.4 → "4,187", 260.1 → "260"; below 0.01 one significant
    # digit: 0.000297 → "0.0003", 0.0000186 → "0.00002"; an infinite bound as ∞.
    assert "4,187 (260–67,416)" in purchase
    assert "0.0003 (0.00002–0.005)" in text and "0.05 (0–∞)" in text
    # ad_impression (0.0003) and store_visit (0 to ∞) are drawn at the axis' edge: said.
    assert "are drawn at the edge of the axis" in text
    assert "edge of the axis" not in _section(_report("backpack").html, "drivers")


def test_drivers_without_any_significant_one_say_so_in_one_line() -> None:
    from dataclasses import replace

    ev = _ev("rough")
    loyalty = tuple(d for d in ev.drivers if d.scope == "stage:loyalty")
    section = _section(render_report(replace(ev, drivers=loyalty), charts={}), "drivers")
    assert _plain(section) == (
        "Conversion drivers None of the 2 features tested differs significantly between "
        "converters and the others (false-discovery rate)."
    )


_NUMERIC_ATTRS = ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry", "width",
                  "height", "d", "points", "transform", "viewBox", "font-size",
                  "stroke-width", "opacity", "fill-opacity")  # fmt: skip


def _bad_numbers(svg: str) -> list[str]:
    """Numeric attributes and path data holding NaN or infinity."""
    found = re.findall(rf'\s(?:{"|".join(_NUMERIC_ATTRS)})="([^"]*)"', svg)
    return [v for v in found if re.search(r"nan|inf", v, re.I)]


def test_the_nan_check_finds_nan_and_infinity() -> None:
    assert _bad_numbers('<path d="M0,NaN L1,2"/><rect x="inf" y="0" width="-Infinity"/>') == [
        "M0,NaN L1,2", "inf", "-Infinity"]  # fmt: skip
    assert _bad_numbers('<text font-family="Infinity Sans" x="1">nan</text>') == []


@pytest.mark.parametrize("name", ["backpack", "korean", "rough"])
def test_no_svg_in_the_report_carries_nan_or_infinity(name: str) -> None:
    report = _report(name)
    svgs = re.findall(r"<svg.*?</svg>", report.html, re.S)
    # The charts, the Sankey, the screen map and its printed sheets.
    assert len(svgs) >= len(report.charts) + 3
    assert {n: _bad_numbers(svg) for n, svg in report.charts.items() if _bad_numbers(svg)} == {}
    assert [b for svg in svgs for b in _bad_numbers(svg)] == []
    assert _bad_numbers(report.map_svg) == []


def test_funnel_marks_steps_and_stages_past_the_goal() -> None:
    funnel = _plain(_section(_report("backpack").html, "funnel"))
    # guest-checkout is the key transaction: it and the steps after it show their
    # conversion muted and "after the goal" for the drop-off (340 / 950 = 35.8% there
    # would be no loss). sees-coupon-ad, before the goal, keeps its 67%.
    assert "Buys as a guest with her email 980 610 340 30 64% (61–67) after the goal †" in funnel
    assert "Waits long in the support queue 420 300 110 10 73% (69–77) after the goal †" in funnel
    assert "Sees a coupon ad a day later 1,900 620 1,240 40 33% (31–36) 67% 2h" in funnel
    # Stages: Purchase ends with the goal, Service comes after it; the rest are lost.
    assert "Purchase 1,900 610 1,250 40 33% (31–35) after the goal †" in funnel
    assert "Consideration 5,200 1,900 3,200 100 37% (36–39) 63%" in funnel
    assert funnel.count("after the goal †") == 4 + 2
    assert "† After the goal (“Buys as a guest with her email”, the key transaction)" in funnel
    section = _section(_report("backpack").html, "funnel")
    assert section.count('<span class="jm-after">') == 2 * (4 + 2)


def test_sankey_in_the_report_draws_six_positions_with_short_labels() -> None:
    from journeymap.render.sankey import layout_sankey

    ev = _ev("rough")
    # The rough map's paths run 8 positions; the report draws the first 6.
    assert max(link.depth for link in ev.sankey) + 2 == 8
    section = _section(_report("rough").html, "sankey")
    assert "The first 6 positions of each path" in _plain(section)
    names = {step.id: step.name for _, step in ev.map.all_steps()}
    layout = layout_sankey(ev.sankey, names=names)
    assert max(n.depth for n in layout.nodes) == 5
    for node in layout.nodes:
        label = " ".join(node.label.lines)
        assert len(label) <= 20 and len(node.label.lines) <= 2, label
        assert node.count is not None and node.count.size < node.label.size
        assert node.count.y >= node.label.y + node.label.height - 0.01
    first = next(n for n in layout.nodes if n.id == "0:reads-review")
    # "Reads an online review of the Summit 45 pack" is cut at a word: "Reads an online…".
    assert " ".join(first.label.lines) == "Reads an online…"
    assert first.full_name == "Reads an online review of the Summit 45 pack"
    assert "<title>Reads an online review of the Summit 45 pack · 1,000</title>" in section
    # Labels and counts of different nodes keep apart.
    boxes = [(n.id, t.box) for n in layout.nodes for t in (n.label, n.count) if t is not None]
    clashes = [(a, b) for (a, x), (b, y) in itertools.combinations(boxes, 2)
               if a != b and x.overlaps(y)]  # fmt: skip
    assert clashes == []


def test_many_choices_go_down_the_preference_table() -> None:
    section = _section(_report("rough").html, "comparison")
    table = re.findall(r"<table.*?</table>", section, re.S)[0]
    # 11 payment methods in 4 regions: one row per method, one column per region.
    assert _heads(table) == ["payment method / region", "US-CO", "US-UT", "US-WY", "US-ID"]
    rows = _rows(table)
    assert [_plain(r).split(" ")[0] for r in rows] == list(PAYMENT_CHOICES)
    # paypal (k = 8) in US-ID (j = 3): 10 × 9 + 5 × 3 = 105 of Σ(10(k+1) + 15) = 660 + 165
    # = 825 → 12.7%, significant and more often (▲).
    assert "13% ▲ (105)" in _plain(rows[8])
    # Few choices stay across: the backpack's 3 methods in 3 regions.
    back = re.findall(r"<table.*?</table>", _section(_report("backpack").html, "comparison"),
                      re.S)[0]  # fmt: skip
    assert _heads(back)[1:] == ["card", "paypal", "apple_pay"]


def test_notes_name_unmatched_events_steps_without_data_and_the_window() -> None:
    notes = _plain(_section(_report("backpack").html, "notes"))
    assert "8.3% of events matched no step of the map" in notes
    assert "Steps without data: Gets return instructions, Is greeted by name at the store." in notes
    assert "within 7d counts as dropped" in notes
    assert "Feedback covers 6 of the 10 steps" in notes


def test_the_map_in_the_report_shows_the_evidence() -> None:
    map_part = _section(_report("backpack").html, "map")
    assert "jm-kind-observed" in map_part and "jm-kind-nodata" in map_part
    assert "measured (466 responses)" in map_part
    # Printed sheets for the landscape pages, the whole map for the screen.
    assert map_part.count('class="jm-sheet"') >= 2


def test_korean_report_speaks_korean() -> None:
    html = _report("korean").html
    assert '<html lang="ko">' in html
    assert "2026-11-20 기준 · 데이터 2026-10-01–2026-10-31 · 고객 13,250명" in html
    summary = _plain(_section(html, "summary"))
    # visits-product-page: 1,980 of 2,840 decided dropped = 69.7%.
    assert "‘공식 쇼핑몰의 상세페이지를 본다’(비교·검토)" in summary and "70%" in summary
    assert "(2,840명 중 1,980명)" in summary


def test_a_missing_chart_leaves_the_tables_in_place() -> None:
    html = render_report(_ev("backpack"), charts={}, lang="en")
    assert "data-chart" not in html
    assert "5,200" in _plain(_section(html, "funnel"))


def test_empty_evidence_says_so_in_every_section() -> None:
    from dataclasses import replace

    ev = _ev("backpack")
    empty = replace(ev, snapshot=replace(ev.snapshot, steps=(), stages=()), pain_points=(),
                    opportunities=(), drivers=(), preferences=(), segments=(), sankey=())  # fmt: skip
    html = render_report(empty, charts={})
    assert "There is no measured data yet." in html
    # Funnel, Sankey, emotion (no chart given), pain points, opportunities, comparison,
    # drivers and time: 8 sections; the map and the notes always have something.
    assert html.count("No data for this section.") == 8


# --- files and PDF ---------------------------------------------------------------------


def test_write_report_writes_html_map_and_charts(tmp_path: Path) -> None:
    report = _report("backpack")
    written = write_report(report, tmp_path / "out")
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written)
    assert names == sorted(["report.html", "map.svg", *(f"charts/{n}.svg" for n in report.charts)])
    assert (tmp_path / "out" / "report.html").read_text(encoding="utf-8") == report.html


def test_write_report_into_a_file_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="cannot write the report into"):
        write_report(_report("backpack"), blocker)


@pytest.mark.slow
def test_pdf_has_the_section_titles_and_korean_stage_names(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    report = _report("korean", pdf=True)
    assert report.pdf is not None and report.pdf.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(report.pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    flat = " ".join(text.split())
    words = report_words("ko")
    for key in REPORT_SECTIONS:
        assert words[key] in flat, key
    assert "비교·검토" in flat and "배송·설치" in flat
    assert "2026-11-20 기준" in flat


@pytest.mark.slow
@pytest.mark.parametrize("name", ["backpack", "rough"])
def test_pdf_portrait_pages_keep_their_ink_inside_the_text_width(name: str, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    from PIL import Image

    report = _report(name, pdf=True)
    assert report.pdf is not None
    (tmp_path / "report.pdf").write_bytes(report.pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(tmp_path / "report.pdf"),
                    str(tmp_path / "p")], check=True, capture_output=True)  # fmt: skip
    # A4 portrait is 210 mm wide with 15 mm margins: the text ends at 195 mm, which at
    # 60 dpi is 195 / 25.4 × 60 = 460.6 px. The map's landscape sheets are left out.
    limit = 195 / 25.4 * 60 + 1
    over = {}
    for page in sorted(tmp_path.glob("p-*.png")):
        image = Image.open(page).convert("L")
        width, height = image.size
        if width > height:
            continue
        pixels = image.load()
        assert pixels is not None
        right = max(
            (x for y in range(0, height - 40, 2) for x in range(width - 1, int(limit), -1)
             if pixels[x, y] < 200),
            default=0,
        )  # fmt: skip
        if right:
            over[page.name] = right
    assert over == {}


# --- in a real browser ------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch
LANDSCAPE_PX = (297 - 2 * 10) * 96 / 25.4  # the map sheets: A4 landscape, 10 mm margins

_OVERFLOW_JS = """
() => {
  const main = document.querySelector('main.jm-report').getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll('main.jm-report > *, section > *, figure > svg')) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.left < main.left - 0.5 || r.right > main.right + 0.5))
      out.push([el.tagName, el.className.baseVal ?? el.className, r.left, r.right]);
  }
  const sheets = Array.from(document.querySelectorAll('.jm-sheet > svg'))
    .map(s => s.getBoundingClientRect().width);
  return {out, sheets, scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          main: [main.left, main.right]};
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("media", ["screen", "print"])
@pytest.mark.parametrize("name", ["backpack", "korean", "rough"])
def test_report_fits_the_page_width_and_fetches_nothing_in_chromium(name: str, media: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    from playwright.sync_api import sync_playwright

    html = _report(name).html
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": A4_WIDTH_PX, "height": 1100})
            requests: list[str] = []
            tab.on("request", lambda request: requests.append(request.url))
            tab.route("**/*", lambda route: route.abort())
            tab.emulate_media(media=media)  # type: ignore[arg-type]
            tab.set_content(html, wait_until="load")
            tab.evaluate("document.fonts.ready.then(() => true)")
            found = tab.evaluate(_OVERFLOW_JS)
            charts = tab.evaluate(
                "Array.from(document.querySelectorAll('figure > svg'))"
                ".map(s => s.getBoundingClientRect().height)"
            )
        finally:
            browser.close()
    assert requests == []
    assert found["out"] == []
    if media == "screen":
        assert found["scroll"] <= found["inner"]
    else:
        # In print the map's sheets go on landscape pages; each fits one.
        assert found["sheets"] and max(found["sheets"]) <= LANDSCAPE_PX + 0.5
    assert len(charts) == len(_report(name).charts) and min(charts) > 50


def test_the_print_copy_leaves_out_the_on_screen_map_only() -> None:
    ev = _ev("backpack")
    full = render_report(ev, charts={})
    printed = render_report(ev, charts={}, screen=False)
    assert '<div class="jm-map-screen"></div>' in printed
    assert '<div class="jm-map-screen"></div>' not in full
    assert printed.count('class="jm-sheet"') == full.count('class="jm-sheet"') >= 2
    assert _section(printed, "funnel") == _section(full, "funnel")
