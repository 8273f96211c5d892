"""Casework: the casework form, cases and their entries, documents, and the service's lists."""
