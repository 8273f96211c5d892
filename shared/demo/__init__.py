"""Fictional demo and benchmark data: never in production."""
