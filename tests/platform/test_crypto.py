"""Sensitive free text is encrypted at rest, bound to its row, and ready for key rotation."""

import pytest
from sqlalchemy import text

from shared.models import Case, CaseEntry, CaseEntryVersion, utcnow
from shared.platform import crypto
from tests import factories

MARKER = "ZEBRA-MARKER-7731 my landlord shouted at me"


def _case(db, student, what=MARKER):
    case = Case(reference="ADV-2026-9001", student_id=student.id, area_code="housing")
    case.what_happened = what
    db.session.add(case)
    db.session.commit()
    return case


def test_encrypted_field_round_trips(db, student):
    case = _case(db, student)
    db.session.expire_all()
    assert db.session.get(Case, case.id).what_happened == MARKER


def test_database_holds_no_plaintext_of_encrypted_fields(db, student, officer):
    case = _case(db, student)
    entry = CaseEntry(case_id=case.id, kind="advice", occurred_at=utcnow(), author_id=officer.id)
    version = CaseEntryVersion(version=1, edited_by_id=officer.id)
    version.text = "ZEBRA-MARKER-8842 advice about deposit"
    entry.versions.append(version)
    db.session.add(entry)
    db.session.commit()
    dump = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in conn.execute(table.select())]
    dump = "\n".join(dump)
    assert "ZEBRA-MARKER" not in dump
    assert "v1:" in dump  # the ciphertexts are there, with their key ids


def test_sqlite_file_holds_no_plaintext(app, db, student):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("reads the SQLite file itself")
    _case(db, student)
    db.session.execute(text("PRAGMA wal_checkpoint(FULL)"))
    path = db.engine.url.database
    data = open(path, "rb").read()
    wal = open(path + "-wal", "rb").read() if __import__("os").path.exists(path + "-wal") else b""
    assert b"ZEBRA-MARKER" not in data + wal


def test_ciphertext_moved_to_another_row_does_not_open(db, student):
    first = _case(db, student)
    second = Case(reference="ADV-2026-9002", student_id=student.id, area_code="money")
    second.what_happened = "something else"
    db.session.add(second)
    db.session.commit()
    second._what_happened_enc = first._what_happened_enc
    with pytest.raises(crypto.DecryptionError):
        _ = second.what_happened


def test_ciphertext_moved_to_another_column_does_not_open(db, student):
    case = _case(db, student)
    case._outcome_wanted_enc = case._what_happened_enc
    with pytest.raises(crypto.DecryptionError):
        _ = case.outcome_wanted


def test_tampered_ciphertext_does_not_open(db, student):
    case = _case(db, student)
    token = case._what_happened_enc
    case._what_happened_enc = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.DecryptionError):
        _ = case.what_happened


def test_values_carry_their_key_id_and_old_keys_still_open(app, db, student):
    case = _case(db, student)
    old_kid = crypto.key_id_of(case._what_happened_enc)
    keys = app.extensions["encryption_keys"]
    app.extensions["encryption_keys"] = [("new1", crypto.parse_keys("new1:" + crypto.generate_key())[0][1]), *keys]
    try:
        assert case.what_happened == MARKER
        case.what_happened = MARKER + " (rewritten)"
        assert crypto.key_id_of(case._what_happened_enc) == "new1" != old_kid
    finally:
        app.extensions["encryption_keys"] = keys
    db.session.rollback()


def test_a_value_read_as_a_plain_column_opens_only_with_its_own_row(db, student):
    """Pages that read many rows as plain columns open each value with the row's uid: the same binding."""
    first = _case(db, student)
    token, uid = first._what_happened_enc, first.uid
    assert Case.what_happened.open(token, uid) == MARKER
    assert Case.what_happened.open(None, uid) is None
    with pytest.raises(crypto.DecryptionError):
        Case.what_happened.open(token, "0" * 32)  # another row's uid
    with pytest.raises(crypto.DecryptionError):
        Case.outcome_wanted.open(token, uid)  # another column


@pytest.mark.parametrize("token", ["", "v1", "v1:t1", "v1:t1:%%%not-base64%%%"])
def test_a_malformed_value_is_a_decryption_error(ctx, token):
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token, "ctx")


def test_unknown_key_id_is_a_clear_error(app, ctx):
    blob = crypto.encrypt_bytes(b"x", "ctx")
    with pytest.raises(crypto.DecryptionError, match="no key"):
        crypto.decrypt_bytes(blob.replace(b":t1:", b":zz:", 1), "ctx")


def test_factories_make_fictional_people(ctx):
    assert factories.make_student().email.endswith("@example.ac.uk")


def test_an_encrypted_file_opens_whatever_bytes_its_ciphertext_holds_and_only_for_its_own_file(ctx):
    data = bytes(range(256)) * 4  # a document's bytes, every value among them
    # A sealed file whose random bytes include the separator, as most do: only the first two ':' divide.
    blob = next(b for b in (crypto.encrypt_bytes(data, "documents.content.abc") for _ in range(200))
                if b":" in b.split(b":", 2)[2])
    assert blob.startswith(f"{crypto.PREFIX}:{crypto.current_key_id()}:".encode())
    assert crypto.decrypt_bytes(blob, "documents.content.abc") == data
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(blob, "documents.content.other")
    with pytest.raises(crypto.DecryptionError, match="not an encrypted value"):
        crypto.decrypt_bytes(b"%PDF-1.4 a file stored in clear", "documents.content.abc")
