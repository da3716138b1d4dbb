"""insights (pure core)."""

__all__: list[str] = []
