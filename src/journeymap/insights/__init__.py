"""insights (pure core)."""
