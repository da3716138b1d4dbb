"""The analysis report: every section there, every number traced, nothing fetched.

The reports are built from the hand-made evidenced maps of tests/evidence_fixtures.py
(examples/backpack.yaml in English, examples/korean-ecommerce.yaml in Korean) with the
real charts (vl-convert) and, for the PDF, WeasyPrint.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evidence_fixtures import backpack_evidence, korean_evidence
from journeymap.insights.evidence import EvidencedMap
from journeymap.io.report import Report, ReportError, build_report, write_report
from journeymap.render.report import REPORT_SECTIONS, render_report, report_words

_VOID = {"meta", "br", "img", "hr", "input", "link", "source", "col", "wbr", "area", "base"}


@functools.cache
def _ev(name: str) -> EvidencedMap:
    return backpack_evidence() if name == "backpack" else korean_evidence()


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
    pains = _plain(_section(_report("backpack").html, "pain-points"))
    assert "Support queue waits run to 23 minutes slow" in pains
    assert "Waits long in the support queue · Service" in pains
    assert "median wait (min): 23 target (min): 5" in pains
    assert "confirms the declared pain point “Long wait in the support queue" in pains
    assert "c-40021, c-40388" in pains
    # Drop-off at the coupon ad: 0.667 → 66.7%, p = 0.000001 → p < 0.001.
    assert "drop-off: 66.7% journey baseline: 45.0% customers: 1,240 p < 0.001" in pains
    # The most severe first: severity 5, then 4 (1,240 before 55 affected), 3, 2.
    order = [pains.index(t) for t in ("Support queue", "Two in three", "Wrong deliveries",
                                      "Guests call", "Wyoming")]  # fmt: skip
    assert order == sorted(order)


def test_comparison_tables_show_shares_with_significance() -> None:
    comparison = _plain(_section(_report("backpack").html, "comparison"))
    # US-WY paid by card 150 of 300 = 50% (less, ▼), PayPal 110 of 300 = 36.7% (more, ▲).
    assert "US-WY 50% ▼ (150) 37% ▲ (110) 13% (40)" in comparison
    assert "χ² = 34.2, 4 degrees of freedom, p < 0.001: the groups differ." in comparison
    # US-CO: 1,260 of 3,600 = 35% against 870 of 2,880 = 30.2% → +4.8 points.
    assert "region: US-CO 3,600 1,260 35% (33–37) +4.8 pt" in comparison


def test_drivers_and_time_tables() -> None:
    html = _report("backpack").html
    drivers = _plain(_section(html, "drivers"))
    # OR = (410 × 770) / (200 × 520) = 3.04.
    assert "stage:purchase event=coupon_click 410 / 610 520 / 1,290 3.04" in drivers
    time = _plain(_section(html, "time"))
    # Consideration: median 90,000 s = 1d 1h; p90 500,000 s = 5d 18.9h → 5d 19h.
    assert "Consideration 1d 1h 5d 19h" in time


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
@pytest.mark.parametrize("name", ["backpack", "korean"])
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
