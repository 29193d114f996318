"""tiles package."""
