"""The JSON Schema of the map document, so editors validate maps as you type."""

from __future__ import annotations

from typing import Any

from journeymap.model.journey import SCHEMA, JourneyMap

__all__ = ["SCHEMA_URI", "json_schema"]

SCHEMA_URI = "urn:journeymap:schema:journeymap-1"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``journeymap/1`` document."""
    schema = JourneyMap.model_json_schema(by_alias=True, mode="validation")
    schema["properties"]["schema"] = {"const": SCHEMA, "description": "Document format version."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URI,
        **schema,
        "title": "journeymap customer journey map",
    }
