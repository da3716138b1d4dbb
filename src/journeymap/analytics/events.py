"""The event contract: the tables every importer writes and every analysis reads.

Events keep the identifier they arrived with (``actor_id`` with its ``actor_kind``);
the stitched customer is a view built by :mod:`journeymap.analytics.identity`, so
events are never rewritten. Order is always ``(actor, ts, event_id)``: equal
timestamps are common in real logs and no result may depend on sort stability.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
from ibis.expr.schema import Schema

__all__ = [
    "CONTRACT",
    "CONTRACT_VERSION",
    "EVENTS",
    "EVENT_ORDER",
    "FEEDBACK",
    "IDENTITY_LINKS",
    "IMPORTS",
    "QUARANTINE",
]

CONTRACT_VERSION = 1

TIMESTAMP_UTC = dt.Timestamp(timezone="UTC")

EVENTS: Schema = ibis.schema(
    {
        "event_id": dt.string,  # unique; importers derive one when the source has none
        "actor_id": dt.string,  # the identifier the event arrived with
        "actor_kind": dt.string,  # anonymous_id, user_id, customer_id, email_hash, ...
        "ts": TIMESTAMP_UTC,
        "event": dt.string,
        "channel": dt.string,
        "session_id": dt.string,
        "region": dt.string,
        "source": dt.string,  # import batch id
        "source_tz": dt.string,  # the zone the source's timestamps were written in
        "properties": dt.JSON(),
    }
)
"""One row per thing a customer did (or had done to them)."""

IDENTITY_LINKS: Schema = ibis.schema(
    {
        "id_a": dt.string,
        "kind_a": dt.string,
        "id_b": dt.string,
        "kind_b": dt.string,
        "ts": TIMESTAMP_UTC,
        "source": dt.string,
    }
)
"""Evidence that two identifiers belong to one person (an event carrying both)."""

FEEDBACK: Schema = ibis.schema(
    {
        "feedback_id": dt.string,
        "actor_id": dt.string,
        "actor_kind": dt.string,
        "ts": TIMESTAMP_UTC,
        "scale": dt.string,  # csat (1-5), nps (0-10), ces (1-7), rating, text
        "score": dt.float64,
        "text": dt.string,
        "lang": dt.string,
        "about": dt.string,  # a step or stage id hint, when the survey says
        "source": dt.string,
    }
)
"""Survey answers, ratings and review text."""

QUARANTINE: Schema = ibis.schema(
    {
        "batch": dt.string,
        "row_number": dt.int64,  # 1-based row (or line) in the source file
        "raw": dt.string,  # the row as read, so nothing is lost
        "reason": dt.string,  # a typed reason code, e.g. bad_timestamp, missing_actor
        "detail": dt.string,  # the human message: what, where, how to fix
    }
)
"""Rows that could not be loaded, kept with why."""

IMPORTS: Schema = ibis.schema(
    {
        "batch": dt.string,
        "source": dt.string,  # file path or URL as given
        "format": dt.string,
        "content_hash": dt.string,  # sha256 of the input bytes: same file, nothing new
        "rows_read": dt.int64,
        "rows_loaded": dt.int64,
        "rows_quarantined": dt.int64,
        "duplicates_skipped": dt.int64,
        "started": TIMESTAMP_UTC,
        "finished": TIMESTAMP_UTC,
        "report": dt.JSON(),  # counts by quarantine reason and anything else worth keeping
    }
)
"""One row per import batch."""

CONTRACT: dict[str, Schema] = {
    "events": EVENTS,
    "identity_links": IDENTITY_LINKS,
    "feedback": FEEDBACK,
    "quarantine": QUARANTINE,
    "imports": IMPORTS,
}

EVENT_ORDER = ("actor_id", "ts", "event_id")
