"""Casework: intake (the form, drafts, submit), cases (scoped access, the student side, messages), case_list (the
staff list and dashboard), record (the staff case page), reflective practice, documents and the service's lists."""
