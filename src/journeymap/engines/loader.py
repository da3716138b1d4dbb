"""Load one import batch into the contract tables: staged, de-duplicated, then written.

The caller opens a transaction, feeds the reader's chunks to :meth:`BatchLoader.add`
(each is staged in temporary tables that DuckDB spills to disk when they outgrow
memory) and calls :meth:`BatchLoader.finish`, which:

1. derives an ``event_id`` for events that have none: ``e`` and 24 hex digits of the MD5
   of the event's content (actor kind and id, UTC time, name, channel, session, region,
   properties — not the batch or the file), plus ``.2``, ``.3``, ... for the second and
   later of identical events, so the same rows always get the same ids;
2. quarantines, as whole rows, events whose id repeats one seen earlier in the same
   import (reason ``duplicate_event_id``; the first stays);
3. skips events whose id is already in the workspace (``duplicates_skipped``);
4. writes the rest in ``(actor_id, ts, event_id)`` order and adds new event names and
   channels to the ``dictionary``. ``events`` stays clustered by that order: each batch
   is written sorted, and once the batches written since the table was last sorted as a
   whole exceed :data:`RECLUSTER_SHARE` of it, the whole table is rewritten in order. A
   small import into a large workspace so does not rewrite everything, and the cost of
   keeping order stays proportional to what is imported;
5. does the same for feedback (``feedback_id``, prefix ``f``) and adds identity links
   not yet known.

It checks that every input row is accounted for (loaded + quarantined == read, and one
quarantine record per quarantined row) and raises otherwise, which rolls back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from journeymap.engines.contract import DICTIONARY_TABLE, META_TABLE
from journeymap.engines.session import SqlSession
from journeymap.errors import DataImportError

__all__ = ["RECLUSTER_SHARE", "BatchLoader", "LoadResult"]

RECLUSTER_SHARE = 0.1
"""Rewrite ``events`` in order once batches appended since the last rewrite exceed this
share of the table."""

_CLUSTERED_KEY = "events_clustered_rows"
_EVENT_COLUMNS = (
    "event_id, actor_id, actor_kind, ts, event, channel, session_id, region, source, "
    "source_tz, properties"
)
_ORDER = "actor_id, ts, event_id"

# What makes two events (or two answers) the same, for derived ids: never the batch or
# the file, so overlapping exports give the same ids.
_EVENT_CONTENT = (
    "coalesce(actor_kind, chr(30)), actor_id, CAST(epoch_us(ts) AS VARCHAR), event, "
    "coalesce(channel, chr(30)), coalesce(session_id, chr(30)), "
    "coalesce(region, chr(30)), coalesce(CAST(properties AS VARCHAR), chr(30))"
)
_FEEDBACK_CONTENT = (
    "coalesce(actor_kind, chr(30)), actor_id, CAST(epoch_us(ts) AS VARCHAR), "
    "coalesce(scale, chr(30)), coalesce(CAST(score AS VARCHAR), chr(30)), "
    "coalesce(text, chr(30)), coalesce(about, chr(30))"
)

_STAGED_EVENTS = (
    "row_number",
    "event_id",
    "actor_id",
    "actor_kind",
    "ts",
    "event",
    "channel",
    "session_id",
    "region",
    "source_tz",
    "properties",
)
_STAGED_FEEDBACK = (
    "row_number",
    "feedback_id",
    "actor_id",
    "actor_kind",
    "ts",
    "scale",
    "score",
    "text",
    "lang",
    "about",
)
_STAGED_LINKS = ("id_a", "kind_a", "id_b", "kind_b", "ts")
_QUARANTINE = ("row_number", "raw", "reason", "detail")


@dataclass(frozen=True)
class LoadResult:
    """What one batch did to the workspace."""

    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    duplicates_skipped: int
    events_loaded: int
    feedback_loaded: int
    identity_links_loaded: int
    quarantined_by_reason: dict[str, int]
    notes: dict[str, int] = field(default_factory=dict)


def _select(table: pa.Table, columns: tuple[str, ...]) -> str:
    """A SELECT list of ``columns`` from ``table``, NULL for those it lacks."""
    present = set(table.column_names)
    parts = []
    for name in columns:
        if name not in present:
            parts.append(f"NULL AS {name}")
        elif name == "properties" and not pa.types.is_string(table.schema.field(name).type):
            parts.append("to_json(properties) AS properties")  # a struct or map
        elif name == "properties":
            parts.append("CAST(properties AS JSON) AS properties")
        else:
            parts.append(f'"{name}"')
    return ", ".join(parts)


def _staging_select(table: pa.Table, columns: tuple[str, ...], key: str, content: str) -> str:
    """SELECT a chunk (aliased ``chunk``) in staging order, with its content key.

    The content key (24 hex digits of an MD5) is computed only where the reader gave no
    id; :meth:`BatchLoader.finish` turns it into the id.
    """
    return (
        f"SELECT *, CASE WHEN {key} IS NULL THEN substr(md5(concat_ws(chr(31), {content})), "
        "1, 24) END FROM (SELECT _seq, coalesce(row_number, _seq) AS row_number, "
        f"* EXCLUDE (row_number, _seq) FROM (SELECT _seq, {_select(table, columns)} FROM chunk))"
    )


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _with_seq(table: pa.Table, start: int) -> pa.Table:
    seq = pa.array(np.arange(start, start + table.num_rows, dtype="int64"))
    return table.append_column("_seq", seq)


class BatchLoader:
    """Stages the chunks of one import and writes them to the contract tables.

    ``label`` prefixes row locations in messages: ``orders.csv:`` for line numbers,
    ``orders.parquet row `` for row numbers.
    """

    def __init__(self, session: SqlSession, batch: str, *, label: str) -> None:
        self.session = session
        self.batch = batch
        self.label = label
        self.rows_read = 0
        self.rows_loaded = 0
        self.rows_quarantined = 0
        self.notes: Counter[str] = Counter()
        self._seq = 1
        self._feedback_seq = 1
        session.execute(
            "CREATE OR REPLACE TEMP TABLE stage_events (seq BIGINT, row_number BIGINT, "
            "event_id VARCHAR, actor_id VARCHAR, actor_kind VARCHAR, ts TIMESTAMPTZ, "
            "event VARCHAR, channel VARCHAR, session_id VARCHAR, region VARCHAR, "
            "source_tz VARCHAR, properties JSON, _ckey VARCHAR)"
        )
        session.execute(
            "CREATE OR REPLACE TEMP TABLE stage_feedback (seq BIGINT, row_number BIGINT, "
            "feedback_id VARCHAR, actor_id VARCHAR, actor_kind VARCHAR, ts TIMESTAMPTZ, "
            "scale VARCHAR, score DOUBLE, text VARCHAR, lang VARCHAR, about VARCHAR, "
            "_ckey VARCHAR)"
        )
        session.execute(
            "CREATE OR REPLACE TEMP TABLE stage_links (id_a VARCHAR, kind_a VARCHAR, "
            "id_b VARCHAR, kind_b VARCHAR, ts TIMESTAMPTZ)"
        )

    def add(
        self,
        *,
        rows_read: int,
        rows_loaded: int,
        quarantine: pa.Table,
        events: pa.Table | None = None,
        feedback: pa.Table | None = None,
        identity_links: pa.Table | None = None,
        notes: Mapping[str, int] | None = None,
    ) -> None:
        """Stage one chunk of a reader (its quarantined rows go straight to ``quarantine``).

        The tables have the columns of the reader contract
        (:mod:`journeymap.io.importers.base`); missing optional columns are null.
        """
        self.rows_read += rows_read
        self.rows_loaded += rows_loaded
        self.rows_quarantined += quarantine.num_rows
        self.notes.update(notes or {})
        if events is not None and events.num_rows:
            table = _with_seq(events, self._seq)
            self._seq += table.num_rows
            self.session.insert_arrow(
                table,
                alias="chunk",
                into="stage_events",
                select=_staging_select(table, _STAGED_EVENTS, "event_id", _EVENT_CONTENT),
            )
        if feedback is not None and feedback.num_rows:
            table = _with_seq(feedback, self._feedback_seq)
            self._feedback_seq += table.num_rows
            self.session.insert_arrow(
                table,
                alias="chunk",
                into="stage_feedback",
                select=_staging_select(table, _STAGED_FEEDBACK, "feedback_id", _FEEDBACK_CONTENT),
            )
        if identity_links is not None and identity_links.num_rows:
            self.session.insert_arrow(
                identity_links,
                alias="chunk",
                into="stage_links",
                select=f"SELECT {_select(identity_links, _STAGED_LINKS)} FROM chunk "
                "WHERE id_a IS NOT NULL AND id_b IS NOT NULL",
            )
        if quarantine.num_rows:
            self.session.insert_arrow(
                quarantine,
                alias="chunk",
                into="quarantine",
                select=f"SELECT {_literal(self.batch)}, {_select(quarantine, _QUARANTINE)} "
                "FROM chunk",
            )

    def finish(self) -> LoadResult:
        """De-duplicate and write everything staged; check that every row is counted."""
        self._check_required()
        moved_events, skipped_events, loaded_events = self._finish_events()
        moved_feedback, skipped_feedback, loaded_feedback = self._finish_feedback()
        links_loaded = self._finish_links()
        self.rows_loaded -= moved_events + moved_feedback
        self.rows_quarantined += moved_events + moved_feedback
        reasons = {
            str(reason): int(count)
            for reason, count in self.session.execute(
                "SELECT reason, count(*) FROM quarantine WHERE batch = ? GROUP BY reason "
                "ORDER BY reason",
                [self.batch],
            )
        }
        if self.rows_loaded + self.rows_quarantined != self.rows_read:
            raise DataImportError(
                f"rows do not add up: {self.rows_read} read, {self.rows_loaded} loaded, "
                f"{self.rows_quarantined} quarantined; this is a bug in the reader — nothing "
                "was imported; please report it"
            )
        if sum(reasons.values()) != self.rows_quarantined:
            raise DataImportError(
                f"{self.rows_quarantined} rows were counted as quarantined but "
                f"{sum(reasons.values())} were kept; this is a bug in the reader — nothing was "
                "imported; please report it"
            )
        for name in ("stage_links", "ev", "fb"):
            self.session.execute(f"DROP TABLE IF EXISTS {name}")
        return LoadResult(
            rows_read=self.rows_read,
            rows_loaded=self.rows_loaded,
            rows_quarantined=self.rows_quarantined,
            duplicates_skipped=skipped_events + skipped_feedback,
            events_loaded=loaded_events,
            feedback_loaded=loaded_feedback,
            identity_links_loaded=links_loaded,
            quarantined_by_reason=reasons,
            notes=dict(sorted(self.notes.items())),
        )

    def _check_required(self) -> None:
        missing = self.session.scalar(
            "SELECT count(*) FROM stage_events WHERE actor_id IS NULL OR ts IS NULL "
            "OR event IS NULL"
        )
        missing += self.session.scalar(
            "SELECT count(*) FROM stage_feedback WHERE actor_id IS NULL OR ts IS NULL"
        )
        if missing:
            raise DataImportError(
                f"the reader produced {missing} records without an actor, a time or an event "
                "name; this is a bug in the reader — nothing was imported; please report it"
            )

    def _dedupe(self, stage: str, target: str, key: str, prefix: str) -> int:
        """Turn content keys into ids; quarantine rows repeating an id of this batch.

        Returns the number of rows moved to quarantine. Window functions run only over
        rows that share a key, so a batch without repeats costs a few hash aggregates.
        """
        s = self.session
        s.execute(
            "CREATE OR REPLACE TEMP TABLE repeated AS SELECT _ckey FROM "
            f"{stage} WHERE _ckey IS NOT NULL GROUP BY _ckey HAVING count(*) > 1"
        )
        named = f"coalesce({key}, '{prefix}' || _ckey)"
        s.execute(
            f"CREATE OR REPLACE TEMP TABLE {target} AS "
            f"SELECT * EXCLUDE (_ckey, {key}), {named} AS {key} FROM {stage} "
            "WHERE _ckey IS NULL OR _ckey NOT IN (SELECT _ckey FROM repeated) "
            f"UNION ALL SELECT * EXCLUDE (_ckey, {key}, _occ), {named} || "
            f"CASE WHEN _occ > 1 THEN '.' || _occ ELSE '' END AS {key} FROM "
            "(SELECT *, row_number() OVER (PARTITION BY _ckey ORDER BY seq) AS _occ "
            f"FROM {stage} WHERE _ckey IN (SELECT _ckey FROM repeated))"
        )
        s.execute(f"DROP TABLE {stage}")
        s.execute("DROP TABLE repeated")
        s.execute(
            "CREATE OR REPLACE TEMP TABLE dup_rows AS "
            "SELECT row_number, arg_min(id, seq) AS id, arg_min(first_row, seq) AS first_row "
            f"FROM (SELECT row_number, seq, {key} AS id, "
            f"first_value(row_number) OVER (PARTITION BY {key} ORDER BY seq) AS first_row, "
            f"row_number() OVER (PARTITION BY {key} ORDER BY seq) AS k FROM {target} "
            f"WHERE {key} IN (SELECT {key} FROM {target} GROUP BY {key} HAVING count(*) > 1)) "
            "WHERE k > 1 GROUP BY row_number"
        )
        moved = int(s.scalar("SELECT count(*) FROM dup_rows"))
        if moved:
            word = "line" if self.label.endswith(":") else "row"
            detail = (
                f"? || d.row_number || ': id ' || chr(39) || any_value(d.id) || chr(39) || "
                f"' repeats {word} ' || any_value(d.first_row) || ' of this import; the first "
                "is loaded and this row is kept here. Give each row its own id, or leave out "
                "the id column to have ids derived'"
            )
            s.execute(
                "INSERT INTO quarantine SELECT ?, d.row_number, "
                "CAST(to_json(list(t ORDER BY t.seq)) AS VARCHAR), 'duplicate_event_id', "
                f"{detail} FROM dup_rows d JOIN {target} t USING (row_number) "
                "GROUP BY d.row_number",
                [self.batch, self.label],
            )
            s.execute(f"DELETE FROM {target} WHERE row_number IN (SELECT row_number FROM dup_rows)")
        s.execute("DROP TABLE dup_rows")
        return moved

    def _finish_events(self) -> tuple[int, int, int]:
        s = self.session
        moved = self._dedupe("stage_events", "ev", "event_id", "e")
        staged = int(s.scalar("SELECT count(*) FROM ev"))
        existing = int(s.scalar("SELECT count(*) FROM events"))
        if existing and staged:
            s.execute(
                "DELETE FROM ev WHERE event_id IN (SELECT event_id FROM events "
                "WHERE event_id IN (SELECT event_id FROM ev))"
            )
        loaded = int(s.scalar("SELECT count(*) FROM ev"))
        if loaded:
            self._write_events(existing, loaded)
            for column in ("event", "channel"):
                s.execute(
                    f"INSERT INTO {DICTIONARY_TABLE} SELECT ?, value, "
                    f"(SELECT coalesce(max(code), 0) FROM {DICTIONARY_TABLE} WHERE field = ?) "
                    "+ row_number() OVER (ORDER BY value) FROM "
                    f"(SELECT DISTINCT {column} AS value FROM ev WHERE {column} IS NOT NULL "
                    f"AND {column} NOT IN (SELECT value FROM {DICTIONARY_TABLE} WHERE field = ?))",
                    [column, column, column],
                )
        return moved, staged - loaded, loaded

    def _write_events(self, existing: int, loaded: int) -> None:
        """Append the new events sorted, or rewrite the table in order (see the module)."""
        s = self.session
        select_new = (
            "SELECT event_id, actor_id, actor_kind, ts, event, channel, session_id, region, "
            f"{_literal(self.batch)} AS source, source_tz, properties FROM ev"
        )
        stored = s.scalar(f"SELECT value FROM {META_TABLE} WHERE key = '{_CLUSTERED_KEY}'")
        clustered = int(stored) if stored is not None else existing
        appended = existing - clustered + loaded
        if existing and appended > RECLUSTER_SHARE * (existing + loaded):
            # Rewrite in order so events stay clustered by (actor, ts, event_id): an
            # analysis then reads one journey after another instead of sorting again.
            s.execute(
                f"CREATE TABLE events__clustered AS SELECT {_EVENT_COLUMNS} FROM "
                f"(SELECT {_EVENT_COLUMNS} FROM events UNION ALL {select_new}) "
                f"ORDER BY {_ORDER}"
            )
            s.execute("DROP TABLE events")
            s.execute("ALTER TABLE events__clustered RENAME TO events")
            clustered = existing + loaded
        else:
            s.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) {select_new} ORDER BY {_ORDER}")
            if not existing:
                clustered = loaded
        s.execute(f"DELETE FROM {META_TABLE} WHERE key = '{_CLUSTERED_KEY}'")
        s.execute(f"INSERT INTO {META_TABLE} VALUES ('{_CLUSTERED_KEY}', ?)", [str(clustered)])

    def _finish_feedback(self) -> tuple[int, int, int]:
        s = self.session
        moved = self._dedupe("stage_feedback", "fb", "feedback_id", "f")
        staged = int(s.scalar("SELECT count(*) FROM fb"))
        if staged and s.scalar("SELECT count(*) FROM feedback"):
            s.execute(
                "DELETE FROM fb WHERE feedback_id IN (SELECT feedback_id FROM feedback "
                "WHERE feedback_id IN (SELECT feedback_id FROM fb))"
            )
        loaded = int(s.scalar("SELECT count(*) FROM fb"))
        if loaded:
            s.execute(
                "INSERT INTO feedback (feedback_id, actor_id, actor_kind, ts, scale, score, "
                "text, lang, about, source) SELECT feedback_id, actor_id, actor_kind, ts, scale, "
                "score, text, lang, about, ? FROM fb ORDER BY actor_id, ts, feedback_id",
                [self.batch],
            )
        return moved, staged - loaded, loaded

    def _finish_links(self) -> int:
        s = self.session
        s.execute(
            "CREATE OR REPLACE TEMP TABLE new_links AS SELECT id_a, kind_a, id_b, kind_b, "
            "min(ts) AS ts FROM stage_links l WHERE NOT EXISTS (SELECT 1 FROM identity_links i "
            "WHERE i.id_a = l.id_a AND i.kind_a = l.kind_a AND i.id_b = l.id_b "
            "AND i.kind_b = l.kind_b) GROUP BY ALL"
        )
        staged = int(s.scalar("SELECT count(*) FROM stage_links"))
        loaded = int(s.scalar("SELECT count(*) FROM new_links"))
        if loaded:
            s.execute(
                "INSERT INTO identity_links (id_a, kind_a, id_b, kind_b, ts, source) "
                "SELECT id_a, kind_a, id_b, kind_b, ts, ? FROM new_links "
                "ORDER BY id_a, kind_a, id_b, kind_b",
                [self.batch],
            )
        if staged - loaded:
            self.notes["identity_links_already_known"] += staged - loaded
        s.execute("DROP TABLE new_links")
        return loaded
