"""Survey answers in: scales and their ranges, free text with its language, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.io.importers.base import ImportOptions
from journeymap.io.importers.feedback import detect_language
from journeymap.io.workspace import import_source

SURVEY = (
    "customer_id,answered_at,csat,nps,comment,about\n"
    "u1,2024-05-04 10:00:00,5,9,배송이 빨라서 좋았어요,delivery\n"
    "u2,2024-05-04 12:30:00,2,3,The checkout kept asking me to log in again.,checkout\n"
    "u3,2024-05-05 09:10:00,4,,,\n"
    "u4,2024-05-05 09:20:00,,,그냥 그래요 OK,\n"
    "u5,2024-05-05 09:30:00,6,,,\n"
    "u6,2024-05-05 09:40:00,,11,,\n"
    "u7,2024-05-05 09:50:00,great,,,\n"
    "u8,2024-05-05 10:00:00,,,,\n"
    ",2024-05-05 10:00:00,3,,,\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def records(probe: Any, ws: Any) -> list[tuple[Any, ...]]:
    rows = probe.query(
        ws,
        "SELECT actor_id, scale, score, text, lang, about FROM feedback ORDER BY actor_id, scale",
    )
    return [tuple(r.values()) for r in rows]


def test_survey_rows_become_one_record_per_score_with_the_text_on_the_first(
    ws: Any, probe: Any, tmp_path: Path
) -> None:
    source = write(tmp_path / "survey.csv", SURVEY)
    report = import_source(ws, source, fmt="feedback", options=ImportOptions(timezone="Asia/Seoul"))
    probe.accounted(ws, report)
    # rows u1-u4 load; u5 (CSAT 6 > 5) and u6 (NPS 11 > 10) are out of range, u7's score
    # is not a number, u8 answered nothing, the last row has no customer
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (9, 4, 5)
    assert report.quarantined_by_reason == {
        "bad_score": 1,
        "empty_feedback": 1,
        "missing_actor": 1,
        "score_out_of_range": 2,
    }
    # u1 and u2 answered two scales, u3 one, u4 only wrote text: 6 records
    assert report.feedback_loaded == 6
    assert records(probe, ws) == [
        ("u1", "csat", 5.0, "배송이 빨라서 좋았어요", "ko", "delivery"),
        ("u1", "nps", 9.0, None, None, "delivery"),
        ("u2", "csat", 2.0, "The checkout kept asking me to log in again.", "en", "checkout"),
        ("u2", "nps", 3.0, None, None, "checkout"),
        ("u3", "csat", 4.0, None, None, None),
        ("u4", "text", None, "그냥 그래요 OK", "ko", None),
    ]
    details = probe.query(ws, "SELECT row_number, detail FROM quarantine ORDER BY row_number")
    assert details[0] == {
        "row_number": 6,
        "detail": "survey.csv:6: csat 6 is outside the csat scale (1 to 5); fix the answer, "
        "or give min and max for this score in the mapping file",
    }
    # 10:00 in Seoul (UTC+9) is 01:00Z
    times = probe.query(ws, "SELECT ts FROM feedback WHERE actor_id = 'u1'")
    assert {t["ts"] for t in times} == {datetime(2024, 5, 4, 1, 0, tzinfo=UTC)}


def test_reimporting_the_same_survey_loads_nothing_new(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(tmp_path / "survey.csv", SURVEY)
    probe.accounted(ws, import_source(ws, source, fmt="feedback"))
    # the same answers in a file with one more line: only the new answer loads
    bigger = write(tmp_path / "survey-2.csv", SURVEY + "u9,2024-05-06 08:00:00,1,0,,\n")
    report = import_source(ws, bigger, fmt="feedback")
    probe.accounted(ws, report)
    assert (report.feedback_loaded, report.duplicates_skipped) == (2, 6)
    assert probe.count(ws, "feedback") == 8


def test_a_scale_column_names_each_answer_scale(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(
        tmp_path / "answers.csv",
        "user_id,ts,kind,value\na,2024-01-01,NPS,10\nb,2024-01-01,ces,7\nc,2024-01-01,xyz,3\n"
        "d,2024-01-01,ces,0\n",
    )
    options = ImportOptions(extra={"score": "value", "scale": "kind"})
    report = import_source(ws, source, fmt="feedback", options=options)
    probe.accounted(ws, report)
    # CES runs 1 to 7, so d's 0 is out of range; xyz is no scale
    assert report.quarantined_by_reason == {"score_out_of_range": 1, "unknown_scale": 1}
    assert records(probe, ws) == [
        ("a", "nps", 10.0, None, None, None),
        ("b", "ces", 7.0, None, None, None),
    ]


def test_a_mapping_sets_custom_ranges_and_a_language(ws: Any, probe: Any, tmp_path: Path) -> None:
    source = write(
        tmp_path / "reviews.csv",
        "member,written,stars,review\nm1,2024-02-01,10,Ótimo produto\nm2,2024-02-02,0,Ruim\n"
        "m3,2024-02-03,8,\n",
    )
    mapping = write(
        tmp_path / "reviews.yaml",
        "actor: member\nts: written\ntext: review\nlanguage: pt\n"
        "scores:\n  - {column: stars, scale: rating, min: 1, max: 10}\n",
    )
    report = import_source(ws, source, options=ImportOptions(mapping=mapping))
    probe.accounted(ws, report)
    assert report.format == "feedback"  # a mapping with scores is a survey
    assert report.quarantined_by_reason == {"score_out_of_range": 1}
    # stored on the rating's own 1-5 range: 10 -> 5; 8 -> 1 + 4 * (8 - 1) / 9 = 4.111
    got = records(probe, ws)
    assert got[0] == ("m1", "rating", 5.0, "Ótimo produto", "pt", None)
    assert got[1][:2] == ("m3", "rating") and got[1][2] == pytest.approx(1 + 4 * 7 / 9)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("배송이 너무 늦었어요", "ko"),
        ("Delivery was late", "en"),
        ("좋아요 good", "ko"),  # 3 Hangul of 7 letters: 43% >= 30%
        ("Great value for money 좋아", "en"),  # 2 of 20: 10%
        ("ㅋㅋㅋ", "ko"),  # jamo count as Hangul
        ("5/5 !!!", None),
        ("", None),
    ],
)
def test_language_is_read_from_the_share_of_hangul_letters(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


def test_the_cli_imports_feedback_with_flags(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    source = write(
        tmp_path / "q.csv", "customer_id,answered_at,q1\nu1,2024-01-01,4\nu2,2024-01-01,9\n"
    )
    result = runner.invoke(
        app,
        ["import", str(source), "-w", str(folder), "--feedback", "--score", "q1", "--scale", "ces"],
    )
    # CES 1-7: 9 is out of range
    assert result.exit_code == 0, result.output
    assert "feedback written" in result.output and "score_out_of_range" in result.output
    assert "Traceback" not in result.output
