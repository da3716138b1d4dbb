"""Survey answers in: CSAT, NPS, CES, ratings and free text, tied to customers.

A row of a survey export becomes one ``feedback`` record per score it carries (a row
with a CSAT of 4 and an NPS of 9 gives two), the free text going with the first score;
a row with only text gives one record of scale ``text``. Scales and their ranges:

========  ========
csat      1 to 5
nps       0 to 10
ces       1 to 7
rating    1 to 5 (set ``min``/``max`` for other ranges, e.g. 1 to 10)
========  ========

A score given on another range (``min``/``max``) is checked against that range, then
stored rescaled linearly onto its scale's range, so every figure downstream reads one
scale: a 1–10 rating of 8 is stored as 1 + 4 × (8 − 1) / 9 = 4.11.

Columns come from options (``--actor``, ``--ts``, ``--score COL --scale NAME``,
``--text``, ``--lang``, ``--about``), from a mapping file, or by name: a column called
``csat``, ``nps``, ``ces`` or ``rating`` is a score of that scale; ``text``,
``comment``, ``review`` or ``answer`` is the text; ``about``, ``step`` or ``stage`` says
which step or stage of the journey the answer is about. A mapping file::

    actor: customer_id
    ts: answered_at
    about: touchpoint
    text: comment
    scores:
      - {column: q1, scale: csat}
      - {column: q2, scale: nps}
      - {column: stars, scale: rating, min: 1, max: 10}

The language of the text comes from a ``lang`` column, a ``language: ko`` constant, or,
when neither is given, from the text itself: ``ko`` when at least 30% of its letters
are Hangul, ``en`` otherwise.

Quarantine reasons: ``missing_actor``, ``missing_timestamp``, ``bad_timestamp``,
``bad_score`` (not a number), ``score_out_of_range``, ``unknown_scale`` and
``empty_feedback`` (no score and no text).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.errors import DataImportError
from journeymap.io.importers.base import (
    EVENTS_ARROW,
    FEEDBACK_ARROW,
    ImportChunk,
    ImportOptions,
    quarantine_table,
)
from journeymap.io.importers.tabular import (
    ColumnRef,
    MappingFile,
    SourceChunk,
    check_column,
    check_keys,
    column_values,
    iter_source,
    load_mapping_file,
    locate,
    mapping_ref,
    null_mask,
    pick_column,
    source_kind,
    timestamp_notes,
    timestamp_problem,
)
from journeymap.io.importers.timestamps import check_timezone, parse_timestamps

__all__ = [
    "SCALES",
    "FeedbackColumns",
    "ScoreColumn",
    "detect_language",
    "read_feedback",
    "resolve_feedback_columns",
]

SCALES: dict[str, tuple[float, float]] = {
    "csat": (1, 5),
    "nps": (0, 10),
    "ces": (1, 7),
    "rating": (1, 5),
}
"""The score scales and their default ranges (inclusive)."""

FEEDBACK_KEYS = (
    "actor",
    "actor_kind",
    "ts",
    "id",
    "about",
    "lang",
    "language",
    "text",
    "scores",
    "score",
    "scale",
    "timezone",
    "ts_format",
)
_SCORE_KEYS = ("column", "scale", "min", "max")
_ACTOR_NAMES = ("customer_id", "actor_id", "user_id", "respondent_id", "person_id", "client_id")
_TS_NAMES = (
    "ts",
    "answered_at",
    "submitted_at",
    "created_at",
    "timestamp",
    "date",
    "response_date",
    "time",
)
_TEXT_NAMES = ("text", "comment", "comments", "review", "answer", "feedback", "verbatim")
_ABOUT_NAMES = ("about", "step", "stage", "touchpoint")
_LANG_NAMES = ("lang", "language")
_NUMBER = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$"


@dataclass(frozen=True)
class ScoreColumn:
    """A column of scores; ``scale`` is a scale name, or ``scale_column`` holds one."""

    column: str
    scale: str | None
    low: float
    high: float
    scale_column: str | None = None


@dataclass(frozen=True)
class FeedbackColumns:
    """Which columns of a survey export feed which field of ``feedback``."""

    actor: ColumnRef
    actor_kind: str
    ts: str
    id: str | None
    scores: tuple[ScoreColumn, ...]
    text: str | None
    lang: str | None
    language: str | None
    about: str | None
    timezone: str
    ts_format: str | None


def detect_language(text: str | None) -> str | None:
    """``ko`` when at least 30% of the letters are Hangul, ``en`` when there are other
    letters, ``None`` when there are none.

    >>> detect_language("배송이 너무 늦었어요"), detect_language("Late again!"), detect_language("!!")
    ('ko', 'en', None)
    """
    if not text:
        return None
    letters = hangul = 0
    for char in text:
        if char.isalpha():
            letters += 1
            code = ord(char)
            if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
                hangul += 1
    if not letters:
        return None
    return "ko" if hangul / letters >= 0.3 else "en"


def _scale_range(name: str, item: dict[str, Any], where: str) -> tuple[float, float]:
    low, high = SCALES.get(name, (None, None))
    low = item.get("min", low)
    high = item.get("max", high)
    if low is None or high is None:
        raise DataImportError(
            f"{where}: unknown scale {name!r}; scales are: {', '.join(SCALES)} (or give min "
            "and max for your own)"
        )
    return float(low), float(high)


def resolve_feedback_columns(
    path: Path, options: ImportOptions, available: Sequence[str]
) -> FeedbackColumns:
    """Decide the feedback columns from options, a mapping file and column names."""
    mapping: MappingFile | None = None
    data: dict[str, Any] = {}
    if options.mapping is not None:
        mapping = load_mapping_file(options.mapping)
        mapping.check_keys(FEEDBACK_KEYS, what="feedback mapping")
        data = mapping.data
    extra = options.extra

    def column(key: str, flag_value: str | None, names: Sequence[str]) -> str | None:
        ref = pick_column(
            key,
            flag_value,
            mapping_ref(mapping, key) if mapping else None,
            available,
            path,
            required=False,
            well_known=names,
        )
        return ref.column if ref is not None else None

    actor = pick_column(
        "actor",
        options.actor,
        mapping_ref(mapping, "actor") if mapping else None,
        available,
        path,
        required=True,
        well_known=_ACTOR_NAMES,
    )
    ts = pick_column(
        "ts",
        options.ts,
        mapping_ref(mapping, "ts") if mapping else None,
        available,
        path,
        required=True,
        well_known=_TS_NAMES,
    )
    assert actor is not None and ts is not None and actor.column and ts.column
    scores = _score_columns(path, options, data, mapping, available)
    text = column("text", extra.get("text"), _TEXT_NAMES)
    language = extra.get("language") or data.get("language")
    lang = None if language else column("lang", extra.get("lang"), _LANG_NAMES)
    about = column("about", extra.get("about"), _ABOUT_NAMES)
    identifier = column("id", options.event_id, ())
    if not scores and text is None:
        raise DataImportError(
            f"{path}: no score or text column found; columns are: {', '.join(available)}; "
            "pass --score COLUMN --scale csat|nps|ces|rating and/or --text COLUMN"
        )
    timezone = options.timezone
    if timezone == "UTC" and data.get("timezone"):
        timezone = str(data["timezone"])
    return FeedbackColumns(
        actor=actor,
        actor_kind=options.actor_kind or str(data.get("actor_kind") or actor.column),
        ts=ts.column,
        id=identifier,
        scores=scores,
        text=text,
        lang=lang,
        language=str(language) if language else None,
        about=about,
        timezone=check_timezone(timezone),
        ts_format=options.ts_format or data.get("ts_format"),
    )


def _score_columns(
    path: Path,
    options: ImportOptions,
    data: dict[str, Any],
    mapping: MappingFile | None,
    available: Sequence[str],
) -> tuple[ScoreColumn, ...]:
    score = options.extra.get("score") or data.get("score")
    scale = options.extra.get("scale") or data.get("scale")
    where = "--score" if options.extra.get("score") else (mapping.at("score") if mapping else "")
    if score:
        check_column(ColumnRef(column=str(score), origin=where), available, path, "score")
        if scale is None:
            raise DataImportError(
                f"{where}: say which scale the scores are on: --scale csat|nps|ces|rating, or "
                "--scale COLUMN when a column names the scale of each answer"
            )
        if str(scale) in available:
            return (ScoreColumn(str(score), None, 0, 0, scale_column=str(scale)),)
        low, high = _scale_range(str(scale).lower(), {}, where)
        return (ScoreColumn(str(score), str(scale).lower(), low, high),)
    if mapping is not None and "scores" in data:
        items = data["scores"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise DataImportError(
                f"{mapping.at('scores')}: 'scores' is a list of {{column, scale}}"
            )
        out = []
        for n, item in enumerate(items, start=1):
            spot = f"{mapping.at('scores')} (entry {n})"
            check_keys(item, _SCORE_KEYS, where=spot, what="score")
            if "column" not in item or "scale" not in item:
                raise DataImportError(
                    f"{spot}: a score is {{column: COL, scale: csat|nps|ces|rating, min, max}}"
                )
            check_column(
                ColumnRef(column=str(item["column"]), origin=spot), available, path, "score"
            )
            name = str(item["scale"]).lower()
            low, high = _scale_range(name, item, spot)
            out.append(ScoreColumn(str(item["column"]), name, low, high))
        return tuple(out)
    lowered = {a.lower(): a for a in available}
    return tuple(
        ScoreColumn(lowered[name], name, *SCALES[name]) for name in SCALES if name in lowered
    )


def read_feedback(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Feedback records from a survey export (CSV, Parquet or JSONL)."""
    columns: FeedbackColumns | None = None
    for chunk in iter_source(path, options, source_kind(path)):
        if columns is None:
            columns = resolve_feedback_columns(path, options, chunk.columns)
        yield feedback_records(chunk, columns, path)


def feedback_records(chunk: SourceChunk, columns: FeedbackColumns, path: Path) -> ImportChunk:
    """The feedback of one chunk; rows that cannot be kept are quarantined."""
    n = chunk.table.num_rows
    actor = column_values(chunk, columns.actor)
    parsed = parse_timestamps(
        chunk.values(columns.ts), timezone=columns.timezone, fmt=columns.ts_format
    )
    reasons = np.full(n, "", dtype=object)
    details: dict[int, str] = {}

    def flag(mask: np.ndarray, reason: str) -> None:
        reasons[mask & (reasons == "")] = reason

    flag(null_mask(actor), "missing_actor")
    flag(parsed.missing, "missing_timestamp")
    flag(parsed.bad, "bad_timestamp")

    values: list[tuple[ScoreColumn, np.ndarray, np.ndarray, pa.Array]] = []
    for spec in columns.scores:
        text = chunk.text(spec.column)
        present = ~null_mask(text)
        numeric = np.asarray(
            pc.match_substring_regex(text, _NUMBER).fill_null(False).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        number = np.full(n, np.nan)
        if numeric.any():
            number[numeric] = np.asarray(
                pc.cast(pc.utf8_trim_whitespace(text.filter(pa.array(numeric))), pa.float64())
            )
        scale = (
            pa.array([spec.scale] * n, pa.string())
            if spec.scale
            else pc.utf8_lower(chunk.text(spec.scale_column or ""))
        )
        low, high = _ranges(spec, scale, n)
        unknown = present & np.isnan(low)
        not_number = present & ~numeric & ~unknown
        outside = present & numeric & ~unknown & ((number < low) | (number > high))
        for mask, reason in (
            (unknown, "unknown_scale"),
            (not_number, "bad_score"),
            (outside, "score_out_of_range"),
        ):
            fresh = mask & (reasons == "")
            for i in np.flatnonzero(fresh):
                details[int(i)] = _score_problem(
                    reason,
                    chunk,
                    path,
                    int(i),
                    spec,
                    text[int(i)].as_py(),
                    scale[int(i)].as_py(),
                    low[i],
                    high[i],
                )
            reasons[fresh] = reason
        values.append((spec, present, _standardised(number, scale, low, high), scale))

    text = (
        column_values(chunk, ColumnRef(column=columns.text))
        if columns.text
        else pa.nulls(n, pa.string())
    )
    has_text = ~null_mask(text)
    has_score = np.zeros(n, dtype=bool)
    for _, present, _, _ in values:
        has_score |= present
    flag(~has_score & ~has_text, "empty_feedback")
    ok = reasons == ""

    quarantine = list(chunk.quarantine)
    for i in np.flatnonzero(~ok):
        row = int(chunk.rows[i])
        reason = str(reasons[i])
        detail = details.get(int(i)) or _row_problem(reason, chunk, path, int(i), columns, parsed)
        quarantine.append((row, chunk.raw(int(i)), reason, detail))
    quarantine.sort(key=lambda q: q[0])

    lang = _languages(chunk, columns, text, n)
    about = (
        column_values(chunk, ColumnRef(column=columns.about))
        if columns.about
        else pa.nulls(n, pa.string())
    )
    identifier = chunk.text(columns.id) if columns.id else None
    kind = pa.array([columns.actor_kind] * n, pa.string())
    rows = pa.array(chunk.rows, pa.int64())
    pieces = []
    assigned = np.zeros(n, dtype=bool)
    for _spec, present, number, scale in values:
        take = ok & present
        gets_text = take & ~assigned
        assigned |= take
        pieces.append(
            _records(
                identifier,
                actor,
                kind,
                parsed.ts,
                scale,
                pa.array(number, pa.float64()),
                pc.if_else(pa.array(gets_text), text, pa.scalar(None, pa.string())),
                pc.if_else(pa.array(gets_text), lang, pa.scalar(None, pa.string())),
                about,
                rows,
            ).filter(pa.array(take))
        )
    text_only = ok & ~assigned & has_text
    pieces.append(
        _records(
            identifier,
            actor,
            kind,
            parsed.ts,
            pa.array(["text"] * n, pa.string()),
            pa.nulls(n, pa.float64()),
            text,
            lang,
            about,
            rows,
        ).filter(pa.array(text_only))
    )
    return ImportChunk(
        events=EVENTS_ARROW.empty_table(),
        rows_read=chunk.rows_read,
        rows_loaded=int(ok.sum()),
        quarantine=quarantine_table(quarantine),
        feedback=pa.concat_tables(pieces),
        bytes_read=chunk.bytes_read,
        notes=timestamp_notes(parsed),
    )


def _standardised(
    number: np.ndarray, scale: pa.Array, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Scores moved from their given range onto their scale's own range (linearly)."""
    names = scale.to_pylist()
    std_low = np.array([SCALES.get(s or "", (np.nan, np.nan))[0] for s in names], dtype=float)
    std_high = np.array([SCALES.get(s or "", (np.nan, np.nan))[1] for s in names], dtype=float)
    move = ~np.isnan(std_low) & ((low != std_low) | (high != std_high)) & (high > low)
    if not move.any():
        return number
    out = number.copy()
    span = (std_high[move] - std_low[move]) / (high[move] - low[move])
    out[move] = std_low[move] + (number[move] - low[move]) * span
    return out


def _ranges(spec: ScoreColumn, scale: pa.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
    if spec.scale is not None:
        return np.full(n, spec.low), np.full(n, spec.high)
    names = scale.to_pylist()
    low = np.array([SCALES.get(s or "", (np.nan, np.nan))[0] for s in names], dtype=float)
    high = np.array([SCALES.get(s or "", (np.nan, np.nan))[1] for s in names], dtype=float)
    return low, high


def _records(
    identifier: pa.Array | None,
    actor: pa.Array,
    kind: pa.Array,
    ts: pa.Array,
    scale: pa.Array,
    score: pa.Array,
    text: pa.Array,
    lang: pa.Array,
    about: pa.Array,
    rows: pa.Array,
) -> pa.Table:
    ids = (
        pc.binary_join_element_wise(identifier, scale, ":")
        if identifier is not None
        else pa.nulls(len(actor), pa.string())
    )
    return pa.Table.from_arrays(
        [ids, actor, kind, ts, scale, score, text, lang, about, rows], schema=FEEDBACK_ARROW
    )


def _languages(chunk: SourceChunk, columns: FeedbackColumns, text: pa.Array, n: int) -> pa.Array:
    if columns.language:
        return pa.array([columns.language] * n, pa.string())
    if columns.lang:
        return chunk.text(columns.lang)
    return pa.array([detect_language(t) for t in text.to_pylist()], pa.string())


def _score_problem(
    reason: str,
    chunk: SourceChunk,
    path: Path,
    index: int,
    spec: ScoreColumn,
    value: Any,
    scale: Any,
    low: float,
    high: float,
) -> str:
    where = locate(path, chunk.kind, int(chunk.rows[index]))
    if reason == "unknown_scale":
        return (
            f"{where}: {spec.scale_column} {scale!r} is not a scale; write one of "
            f"{', '.join(SCALES)}"
        )
    if reason == "bad_score":
        return f"{where}: {spec.column} {value!r} is not a number; scores are numbers"
    return (
        f"{where}: {spec.column} {value} is outside the {scale} scale ({low:g} to {high:g}); "
        "fix the answer, or give min and max for this score in the mapping file"
    )


def _row_problem(
    reason: str,
    chunk: SourceChunk,
    path: Path,
    index: int,
    columns: FeedbackColumns,
    parsed: Any,
) -> str:
    row = int(chunk.rows[index])
    where = locate(path, chunk.kind, row)
    if reason == "bad_timestamp":
        value = chunk.text(columns.ts)[index].as_py()
        return timestamp_problem(path, chunk.kind, row, columns.ts, str(value))
    return {
        "missing_actor": f"{where}: {columns.actor.column} is empty; an answer needs the "
        "customer who gave it",
        "missing_timestamp": f"{where}: {columns.ts} is empty; an answer needs the time it "
        "was given",
        "empty_feedback": f"{where}: no score and no text; nothing was answered",
    }[reason]
