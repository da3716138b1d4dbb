"""render (pure core)."""
