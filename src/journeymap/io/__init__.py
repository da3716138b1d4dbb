"""Files and formats: maps, interchange formats, importers, exports (adapters)."""

__all__: list[str] = []
