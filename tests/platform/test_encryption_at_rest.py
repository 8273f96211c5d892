"""No sensitive text of any kind is in the database as plaintext. The encrypted fields are the ones the models
declare (found by looking, as key rotation finds them), a journey through the services writes a marker into
every one of them, and then every column of every table is read raw and searched for every marker and every
value those fields hold. A text column that is neither ciphertext nor known to be kept in clear fails too,
so a new sensitive field cannot be added in plaintext without a test saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import JSON, String, Text, select

from shared.lifecycle import keyrotation
from shared.models import Base
from shared.platform.crypto import PREFIX
from tests.factories_everything import fill_every_encrypted_field

# Columns kept in clear on purpose, with the reason. Anything a student or an officer writes in their own
# words about a case belongs in an encrypted field instead.
CLEAR_BECAUSE = {
    "names, contact details and organisations stay in clear so staff can search for them": {
        "students.email", "staff.email", "staff.name", "staff.job_title",
        "student_profiles.full_name", "student_profiles.preferred_name", "student_profiles.faculty", "student_profiles.course",
        "student_profiles.safe_channels", "cases.faculty", "appointments.location", "consents.typed_name",
        "consents.recipient_name", "consents.recipient_role", "consents.recipient_organisation",
        "consents.recipient_contact", "consent_requests.recipient_name", "consent_requests.recipient_role",
        "consent_requests.recipient_organisation", "consent_requests.recipient_contact",
        "disclosures.recipient_name", "disclosures.recipient_organisation", "breach_records.recipient_name",
        "breach_records.recipient_organisation", "breach_consultation_requests.recipient_name",
        "breach_consultation_requests.recipient_organisation", "third_party_enquiries.enquirer_name",
        "third_party_enquiries.enquirer_role", "third_party_enquiries.enquirer_organisation",
        "third_party_enquiries.about_name", "third_party_enquiries.about_email",
    },
    "the service's own words and lists, or codes chosen from them": {
        "consent_wordings.text", "list_items.label", "service_settings.value", "consents.scopes",
        "consents.document_ids", "consent_requests.scopes", "people_involved.relation", "people_involved.college_code",
        "possible_conflicts.matched_on", "possible_conflicts.outcome", "conflict_decisions.outcome",
        "review_checklist_items.label", "review_findings.label",  # a checklist item's wording, copied into each review
    },
    "hashes, paths and technical values, never anyone's words": {
        "students.password_hash", "staff.password_hash", "access_requests.pdf_path", "documents.content_type",
        "blob_chunks.name",  # documents/<uid>, access/<uid>.pdf.enc: the stored file's name (its bytes are ciphertext)
        "render_jobs.error", "login_sessions.user_agent",
        "people_involved.email_key", "people_involved.name_key",  # keyed hashes: the conflict check's lookups
        "submission_keys.key", "submission_keys.endpoint", "submission_keys.outcome",  # a form's key, its route, a path
    },
    "the audit log holds identifiers, never free text (test_casework_privacy checks the events)": {
        "audit_events.details",
    },
    "an email waiting in the outbox: its address, its subject (the service's own words: emails never carry case "
    "detail) and why the server refused it; its body is ciphertext": {
        "outgoing_emails.to_address", "outgoing_emails.subject", "outgoing_emails.last_error",
    },
}


def _label(table, column) -> str:
    return f"{table.name}.{column.name}"


def _ciphertext_columns() -> set[str]:
    return {_label(f.column.table, f.column) for f in keyrotation.encrypted_fields()}


def _raw_dump(db) -> str:
    """Every value of every column of every table, as the database hands them over (no model, no decryption)."""
    out = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in conn.execute(table.select())]
    return "\n".join(out)


def _plaintexts(db) -> dict[str, list[str]]:
    """What each encrypted field holds, read through the models."""
    out = {}
    for f in keyrotation.encrypted_fields():
        values = [getattr(row, f.name) for row in db.session.scalars(select(f.model))]
        out[f.label] = [v for v in values if v is not None]
    return out


@pytest.fixture
def journey(db, student, officer, manager, admin):
    written = fill_every_encrypted_field(student, officer, manager, admin)
    db.session.commit()
    db.session.expire_all()
    return written


def test_the_journey_writes_every_encrypted_field_the_models_declare(db, journey):
    declared = {f.label for f in keyrotation.encrypted_fields()}
    assert set(journey) - declared == set(), "written as sensitive text but not declared encrypted in the models"
    assert declared - set(journey) == set(), "extend tests/factories_everything.py to write the new encrypted field"
    held = _plaintexts(db)
    for label, mark in journey.items():
        assert held[label], f"{label} is empty after the journey"
        if mark is not None:
            assert any(mark in value for value in held[label]), label


def test_no_sensitive_text_of_any_kind_is_in_the_database_as_plaintext(db, journey):
    dump = _raw_dump(db)
    for label, mark in journey.items():
        if mark is not None:
            assert mark not in dump, f"the text written to {label} is in the database in clear"
    for label, values in _plaintexts(db).items():  # every value, the authenticator secrets among them
        for value in values:
            assert value not in dump, f"a value of {label} is in the database in clear"
    for f in keyrotation.encrypted_fields():  # and what is stored there is ciphertext, with its key id
        with db.engine.connect() as conn:
            stored = [v for v in conn.execute(select(f.column)).scalars() if v is not None]
        assert stored and all(v.startswith(f"{PREFIX}:") for v in stored), f.label


def test_the_database_file_holds_none_of_the_sensitive_text(app, db, journey):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("reads the SQLite file itself; on PostgreSQL the raw columns are checked above")
    db.session.remove()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    path = Path(db.engine.url.database)
    for file in (p for p in path.parent.iterdir() if p.name.startswith(path.name)):
        data = file.read_bytes()
        for label, mark in journey.items():
            assert mark is None or mark.encode() not in data, f"{label} in {file.name}"


def test_every_text_column_is_ciphertext_or_kept_in_clear_for_a_stated_reason(ctx):
    """A new free-text column must be an encrypted field, or be added above with the reason it is clear."""
    ciphertext = _ciphertext_columns()
    clear = set().union(*CLEAR_BECAUSE.values())
    free_text = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            # Free text: Text, JSON, or a String long enough for a sentence (codes and hashes are shorter).
            is_text = isinstance(kind, Text | JSON) or (isinstance(kind, String) and (kind.length or 10_000) >= 100)
            if is_text and _label(table, column) not in ciphertext | clear:
                free_text.append(_label(table, column))
    assert free_text == []
