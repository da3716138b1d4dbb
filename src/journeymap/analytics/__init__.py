"""analytics (pure core)."""

__all__: list[str] = []
