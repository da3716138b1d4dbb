"""Files and formats: maps, interchange formats, importers, exports (adapters)."""
