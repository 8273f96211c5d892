"""Administration (filled in below)."""
