"""Helpers the tests share that are not fixtures or factories (reading PDFs: tests/support/pdf.py; a free
port: ports.py; a throwaway Redis: redis_server.py)."""
