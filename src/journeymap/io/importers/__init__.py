"""Importers: every source format in, as the event contract's tables."""

__all__: list[str] = []
