"""Helpers the tests share that are not fixtures or factories (reading PDFs: tests/support/pdf.py)."""
