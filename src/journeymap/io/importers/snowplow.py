"""Snowplow enriched events (the 131-column TSV of the enriched stream) as events.

Input: tab-separated lines with no header, in the column order Snowplow documents for
the enriched stream ("Enriched stream TSV file format": ``app_id``, ``platform``,
``etl_tstamp``, ``collector_tstamp``, ... ``event_fingerprint``, ``true_tstamp``; the
full list is :data:`ENRICHED_COLUMNS`); gzip is read transparently. An empty field is
null. One line is one input row; a line whose field count differs from the layout is
quarantined as ``wrong_column_count`` with its line number. Option ``columns`` (a list
of names) reads an older or custom layout.

- **Time**: ``derived_tstamp`` (the collector time corrected for the device clock),
  else ``collector_tstamp``; both are UTC (``YYYY-MM-DD hh:mm:ss.sss``).
- **Event**: struct events (``event = struct``) are named by ``se_action``
  (``se_category``, ``se_label``, ``se_property``, ``se_value`` go into properties);
  self-describing events by ``event_name`` (or the name in the ``unstruct_event``
  schema URI), with the event's data under ``unstruct``; other events by
  ``event_name`` or ``event`` (``page_view``, ``page_ping``, ``transaction``, ...).
- **Actor**: ``user_id`` (kind ``user_id``), else ``domain_userid`` (the first-party
  cookie, kind ``anonymous_id``), else ``network_userid`` (the collector cookie, kind
  ``anonymous_id``). Every other identifier on the line is linked to the actor.
- **Session**: ``domain_sessionid``. **Region**: ``geo_country``. **Channel**:
  ``mkt_medium``/``mkt_source`` (UTM parameters), else ``refr_medium``/``refr_source``
  unless the referrer is ``internal`` (option ``channel_style`` as for GA4).
- **Properties**: the non-empty fields among app, platform, page, referrer, marketing,
  structured-event, transaction, item, browser, device and geo fields (numbers typed),
  ``unstruct`` (``{schema, data}``), ``contexts`` and ``derived_contexts`` (lists of
  ``{schema, data}``). Option ``all_columns=true`` keeps every non-empty field. IP
  addresses and fingerprints are never kept.
- **Event id**: ``event_id``; a second line with an event id already loaded from the
  file is quarantined as ``duplicate_event_id`` (Snowplow delivers at least once).

Quarantine reasons: ``wrong_column_count``, ``bad_encoding``, ``bad_json`` (a
``contexts``/``unstruct_event``/``derived_contexts`` field that is not JSON),
``missing_actor``, ``missing_timestamp``, ``bad_timestamp``, ``duplicate_event_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from journeymap.errors import DataImportError
from journeymap.io.importers._common import (
    CHANNEL_STYLES,
    ChunkBuilder,
    EventIds,
    Lines,
    Occurrences,
    TimestampParser,
    as_object,
    check_options,
    decode_line,
    format_channel,
    option_choice,
    option_flag,
)
from journeymap.io.importers.base import ImportChunk, ImportOptions

__all__ = ["ENRICHED_COLUMNS", "SNOWPLOW_OPTIONS", "read_snowplow"]

SNOWPLOW_OPTIONS: dict[str, str] = {
    "columns": "list of column names for a non-standard layout (default: the 131 enriched columns)",
    "all_columns": "keep every non-empty field in properties (default false)",
    "channel_style": "medium/source (default), medium or source",
}

ENRICHED_COLUMNS: tuple[str, ...] = (
    *("app_id", "platform", "etl_tstamp", "collector_tstamp", "dvce_created_tstamp"),
    *("event", "event_id", "txn_id", "name_tracker", "v_tracker", "v_collector", "v_etl"),
    *("user_id", "user_ipaddress", "user_fingerprint", "domain_userid", "domain_sessionidx"),
    *("network_userid", "geo_country", "geo_region", "geo_city", "geo_zipcode"),
    *("geo_latitude", "geo_longitude", "geo_region_name", "ip_isp", "ip_organization"),
    *("ip_domain", "ip_netspeed", "page_url", "page_title", "page_referrer"),
    *("page_urlscheme", "page_urlhost", "page_urlport", "page_urlpath", "page_urlquery"),
    *("page_urlfragment", "refr_urlscheme", "refr_urlhost", "refr_urlport", "refr_urlpath"),
    *("refr_urlquery", "refr_urlfragment", "refr_medium", "refr_source", "refr_term"),
    *("mkt_medium", "mkt_source", "mkt_term", "mkt_content", "mkt_campaign", "contexts"),
    *("se_category", "se_action", "se_label", "se_property", "se_value", "unstruct_event"),
    *("tr_orderid", "tr_affiliation", "tr_total", "tr_tax", "tr_shipping", "tr_city"),
    *("tr_state", "tr_country", "ti_orderid", "ti_sku", "ti_name", "ti_category"),
    *("ti_price", "ti_quantity", "pp_xoffset_min", "pp_xoffset_max", "pp_yoffset_min"),
    *("pp_yoffset_max", "useragent", "br_name", "br_family", "br_version", "br_type"),
    *("br_renderengine", "br_lang", "br_features_pdf", "br_features_flash"),
    *("br_features_java", "br_features_director", "br_features_quicktime"),
    *("br_features_realplayer", "br_features_windowsmedia", "br_features_gears"),
    *("br_features_silverlight", "br_cookies", "br_colordepth", "br_viewwidth"),
    *("br_viewheight", "os_name", "os_family", "os_manufacturer", "os_timezone"),
    *("dvce_type", "dvce_ismobile", "dvce_screenwidth", "dvce_screenheight", "doc_charset"),
    *("doc_width", "doc_height", "tr_currency", "tr_total_base", "tr_tax_base"),
    *("tr_shipping_base", "ti_currency", "ti_price_base", "base_currency", "geo_timezone"),
    *("mkt_clickid", "mkt_network", "etl_tags", "dvce_sent_tstamp", "refr_domain_userid"),
    *("refr_device_tstamp", "derived_contexts", "domain_sessionid", "derived_tstamp"),
    *("event_vendor", "event_name", "event_format", "event_version", "event_fingerprint"),
    "true_tstamp",
)
"""The enriched TSV columns in file order (131), as Snowplow documents them."""

_KEPT = (
    *("app_id", "platform", "name_tracker", "page_url", "page_title", "page_referrer"),
    *("refr_medium", "refr_source", "refr_term", "mkt_medium", "mkt_source", "mkt_term"),
    *("mkt_content", "mkt_campaign", "mkt_clickid", "mkt_network", "se_category"),
    *("se_action", "se_label", "se_property", "se_value", "tr_orderid", "tr_affiliation"),
    *("tr_total", "tr_tax", "tr_shipping", "tr_city", "tr_state", "tr_country"),
    *("tr_currency", "ti_orderid", "ti_sku", "ti_name", "ti_category", "ti_price"),
    *("ti_quantity", "ti_currency", "pp_xoffset_min", "pp_xoffset_max", "pp_yoffset_min"),
    *("pp_yoffset_max", "br_name", "br_family", "br_lang", "os_name", "os_family"),
    *("os_timezone", "dvce_type", "dvce_ismobile", "geo_region", "geo_city"),
    *("geo_region_name", "geo_timezone", "domain_sessionidx", "collector_tstamp"),
    *("dvce_created_tstamp", "event_vendor", "event_format", "event_version"),
)
_NEVER = frozenset({"user_ipaddress", "user_fingerprint", "event_fingerprint"})
_JSON_COLUMNS = ("contexts", "unstruct_event", "derived_contexts")
_INTS = frozenset(
    {
        *("txn_id", "domain_sessionidx", "page_urlport", "refr_urlport", "ti_quantity"),
        *("pp_xoffset_min", "pp_xoffset_max", "pp_yoffset_min", "pp_yoffset_max"),
        *("br_viewwidth", "br_viewheight", "dvce_screenwidth", "dvce_screenheight"),
        *("doc_width", "doc_height"),
    }
)
_FLOATS = frozenset(
    {
        *("geo_latitude", "geo_longitude", "se_value", "tr_total", "tr_tax", "tr_shipping"),
        *("ti_price", "tr_total_base", "tr_tax_base", "tr_shipping_base", "ti_price_base"),
    }
)
_BOOLS = frozenset(c for c in ENRICHED_COLUMNS if c.startswith("br_features_")) | {
    "br_cookies",
    "dvce_ismobile",
}


def read_snowplow(path: Path, options: ImportOptions) -> Iterator[ImportChunk]:
    """Stream a Snowplow enriched TSV file as chunks of ``options.chunk_rows`` lines."""
    check_options(options, fmt="snowplow", extra=SNOWPLOW_OPTIONS)
    reader = _LineReader(path, options)
    builder = ChunkBuilder()
    yielded = False
    lines = Lines(path, max_line_bytes=options.max_line_bytes)
    for number, body in lines:
        if not body.strip():
            continue
        reader.read(builder, number, body)
        if builder.rows_read >= options.chunk_rows:
            yielded = True
            yield builder.build(bytes_read=lines.position)
    if builder.rows_read or not yielded:
        yield builder.build(bytes_read=lines.position)


class _Skip(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _LineReader:
    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        self.columns = _columns(options.extra.get("columns"))
        self.all_columns = option_flag(options, "all_columns", False, "snowplow")
        self.channel_style = option_choice(options, "channel_style", CHANNEL_STYLES, "snowplow")
        self.utc = TimestampParser("UTC")
        self.seen_ids = Occurrences()
        self.event_ids = EventIds("snowplow")

    def read(self, builder: ChunkBuilder, number: int, body: bytes) -> None:
        where = f"{self.path}:{number}"
        try:
            text = decode_line(self.path, number, body)
        except ValueError as exc:
            builder.quarantine(
                number, body.decode("utf-8", "backslashreplace"), "bad_encoding", str(exc)
            )
            return
        fields = text.split("\t")
        if len(fields) != len(self.columns):
            builder.quarantine(
                number,
                text,
                "wrong_column_count",
                f"{where}: {len(fields)} tab-separated fields, but the enriched format has "
                f"{len(self.columns)}; check the file is Snowplow enriched TSV (or pass the "
                "layout as the option columns)",
            )
            return
        record = {c: f for c, f in zip(self.columns, fields, strict=True) if f != ""}
        try:
            self._add(builder, number, record)
        except _Skip as skip:
            builder.quarantine(number, text, skip.reason, f"{where}: {skip.detail}")
            return
        builder.load()

    def _add(self, builder: ChunkBuilder, number: int, record: Mapping[str, str]) -> None:
        given_id = record.get("event_id")
        if given_id is not None and self.seen_ids.seen(given_id):
            raise _Skip(
                "duplicate_event_id", f"event_id {given_id!r} was already loaded from this file"
            )
        stamp_field = "derived_tstamp" if "derived_tstamp" in record else "collector_tstamp"
        stamp = record.get(stamp_field)
        if stamp is None:
            raise _Skip("missing_timestamp", "neither derived_tstamp nor collector_tstamp is set")
        try:
            micros = self.utc.parse(stamp).micros
        except ValueError:
            raise _Skip(
                "bad_timestamp", f"{stamp_field} {stamp!r} is not a date-time (YYYY-MM-DD hh:mm:ss)"
            ) from None

        ids = [
            (record[c], kind)
            for c, kind in (
                ("user_id", "user_id"),
                ("domain_userid", "anonymous_id"),
                ("network_userid", "anonymous_id"),
            )
            if c in record
        ]
        if not ids:
            raise _Skip("missing_actor", "no user_id, domain_userid or network_userid")
        actor, actor_kind = ids[0]

        parsed = {c: self._json(record, c) for c in _JSON_COLUMNS if c in record}
        unstruct = as_object(as_object(parsed.get("unstruct_event")).get("data"))
        name = _event_name(record, unstruct)
        properties = self._properties(record, parsed, unstruct)
        medium, source = record.get("mkt_medium"), record.get("mkt_source")
        if medium is None and source is None and record.get("refr_medium") != "internal":
            medium, source = record.get("refr_medium"), record.get("refr_source")
        event_id = given_id or self.event_ids.derive(
            "\t".join(f"{k}={v}" for k, v in sorted(record.items()))
        )
        builder.add_event(
            row_number=number,
            event_id=event_id,
            actor_id=actor,
            actor_kind=actor_kind,
            ts=micros,
            event=name,
            source_tz="UTC",
            channel=format_channel(medium, source, style=self.channel_style),
            session_id=record.get("domain_sessionid"),
            region=record.get("geo_country"),
            properties=properties,
        )
        for other, kind in ids[1:]:
            builder.add_link(other, kind, actor, actor_kind, micros)
        if given_id is not None:
            self.seen_ids.record(given_id)

    def _json(self, record: Mapping[str, str], column: str) -> Any:
        try:
            return json.loads(record[column])
        except json.JSONDecodeError as exc:
            raise _Skip(
                "bad_json", f"the {column} field is not JSON ({exc.msg} at character {exc.pos})"
            ) from None

    def _properties(
        self, record: Mapping[str, str], parsed: Mapping[str, Any], unstruct: Mapping[str, Any]
    ) -> dict[str, Any]:
        names: Sequence[str] = self.columns if self.all_columns else _KEPT
        props: dict[str, Any] = {
            c: _typed(c, record[c])
            for c in names
            if c in record and c not in _NEVER and c not in _JSON_COLUMNS
        }
        if unstruct:
            props["unstruct"] = unstruct
        for column in ("contexts", "derived_contexts"):
            data = as_object(parsed.get(column)).get("data")
            if isinstance(data, list) and data:
                props[column] = data
        return props


def _event_name(record: Mapping[str, str], unstruct: Mapping[str, Any]) -> str:
    kind = record.get("event", "")
    if kind == "struct":
        return record.get("se_action") or record.get("se_category") or "struct"
    if kind == "unstruct":
        if record.get("event_name"):
            return record["event_name"]
        schema = str(unstruct.get("schema", ""))
        # iglu:com.acme/link_click/jsonschema/1-0-0 → link_click
        parts = schema.split("/")
        return parts[1] if len(parts) >= 2 and parts[1] else "unstruct"
    return record.get("event_name") or kind or "unknown"


def _typed(column: str, value: str) -> Any:
    try:
        if column in _INTS:
            return int(value)
        if column in _FLOATS:
            return float(value)
    except ValueError:
        return value
    if column in _BOOLS:
        return {"1": True, "0": False, "true": True, "false": False}.get(value.lower(), value)
    return value


def _columns(given: Any) -> tuple[str, ...]:
    if given is None:
        return ENRICHED_COLUMNS
    if isinstance(given, str):
        given = [c.strip() for c in given.split(",")]
    if not isinstance(given, list | tuple) or not all(isinstance(c, str) and c for c in given):
        raise DataImportError("snowplow option columns must be a list of column names")
    return tuple(given)
