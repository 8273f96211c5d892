"""Subject access: a student's request for a copy of their records, from request to download."""
