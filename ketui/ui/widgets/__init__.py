"""ketui widgets, one per module."""
