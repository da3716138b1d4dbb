"""analytics (pure core)."""
