"""The copy of a student's records: their own data, officers' notes included; never another student's,
never anything on the terrorism ground, never a redacted passage."""

from __future__ import annotations

import pytest

from shared.subject_access import copies as sar_copies
from shared.subject_access import reading as sar_reading
from shared.subject_access import requests as access
from shared.subject_access.records import RedactionRule, collect
from tests import factories_access as fa
from tests.support.pdf import attachment_names
from tests.support.pdf import text as pdf_text


@pytest.fixture
def full(student, officer):
    return fa.make_full_record(student, officer, tag=" [mine]")


def render(req) -> str:
    from shared.platform.pdf import render_pdf

    record = sar_reading.copy_contents(req, load_files=True)
    return pdf_text(render_pdf("records.html", sar_copies.render_context(req, record), title="t"))


def test_copy_contains_the_students_own_data_including_officers_notes(student, officer, full):
    req = fa.make_request(student)
    text = render(req)
    for expected in (
        "Alex Fictional [mine]", "My supervisor lost my essay [mine].", "Advised on the appeal deadline [mine].",
        "Officer's impression: student seemed anxious [mine].", "Meeting on the 4th [mine].", "Meeting on the 3rd [mine].",
        "Thank you for your help [mine].", "Please send the marking scheme [mine].", "Discuss the supervisor pattern [mine].",
        "To ask the college for an extension [mine]", "Summary of the essay problem [mine]", full["case"].reference,
        req.reference, "Information Commissioner", "rectification",
    ):
        assert expected in text, expected


def test_copy_never_contains_another_students_data(student, other_student, officer, full):
    fa.make_full_record(other_student, officer, tag=" [theirs]")
    text = render(fa.make_request(student))
    assert "[mine]" in text
    assert "[theirs]" not in text
    assert other_student.email not in text


def test_copy_for_one_case_leaves_out_the_other_cases(student, officer, full):
    other_case = fa.make_case(student, what_happened="A housing problem [second case].")
    fa.make_entry(other_case, officer, "Landlord letter [second case].")
    text = render(fa.make_request(student, case=full["case"]))
    assert "My supervisor lost my essay [mine]." in text
    assert "[second case]" not in text
    text = render(fa.make_request(student))
    assert "Landlord letter [second case]." in text


def test_terrorism_ground_disclosures_and_breach_records_are_never_in_the_copy(student, officer, full):
    breach = fa.make_breach(student, officer, ground="terrorism", situation="Prevent referral [terror]",
                            recipient="Counter Terrorism Unit", organisation="Fictional Police [terror]")
    fa.make_disclosure(student, officer, "Details shared under the terrorism ground [terror]", breach=breach,
                       recipient="Counter Terrorism Unit", organisation="Fictional Police [terror]")
    safety = fa.make_breach(student, officer, ground="safety", situation="Risk to life disclosed [safety]")
    fa.make_disclosure(student, officer, "Shared with the crisis team [safety]", breach=safety,
                       recipient="Duty Team", organisation="Fictional Crisis Service")
    req = fa.make_request(student)
    text = render(req)
    assert "[terror]" not in text
    assert "Counter Terrorism" not in text
    assert "Shared with the crisis team [safety]" in text
    assert "Risk to life disclosed [safety]" in text  # the basis of a safety-ground disclosure is shown
    record = sar_reading.copy_contents(req)
    assert all("[terror]" not in d.text for d in record.disclosures)


def test_redacted_passages_and_items_never_reach_the_copy(student, officer, db, full):
    third_party = fa.make_entry(full["case"], officer, "Flatmate Jordan Example [third] said the student was upset.")
    message = fa.make_message(full["case"], "My friend Sam Nobody [whole] was there too.")
    req = fa.make_request(student)
    version_id = third_party.versions[0].id
    access.redact(officer, req.id, "entry_version", version_id, reason="Identifies a flatmate", passage="Jordan Example [third]")
    access.redact(officer, req.id, "message", message.id, reason="Names a friend")
    access.redact(officer, req.id, "entry", full["note"].id, reason="Third-party opinion")
    text = render(req)
    assert "Jordan Example" not in text
    assert "said the student was upset" in text  # the rest of the entry stays
    assert "[withheld" in text
    assert "Sam Nobody" not in text
    assert "student seemed anxious" not in text
    assert "2 items in this copy were withheld" in text


def test_an_officers_note_is_left_out_only_by_a_recorded_redaction(student, officer, full):
    record = collect(student.id)
    texts = [i.text for c in record.cases for i in c.timeline]
    assert any("student seemed anxious" in t for t in texts)
    record = collect(student.id, redactions=[RedactionRule("entry", full["note"].id, None)])
    assert not any("student seemed anxious" in i.text for c in record.cases for i in c.timeline)


def test_images_are_included_and_pdfs_attached(student, officer, full):
    from shared.platform.pdf import render_pdf

    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
           b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
    fa.make_document(full["case"], "Photo of the notice [doc]", png, "image/png")
    attached = render_pdf("records.html", {"record": collect(student.id), "sar": {"reference": "X"}}, title="inner")
    fa.make_document(full["case"], "Letter from college [doc].pdf", attached, "application/pdf")
    fa.make_document(full["case"], "Spreadsheet [doc]", b"a,b\n", "text/csv")
    req = fa.make_request(student)
    record = sar_reading.copy_contents(req, load_files=True)
    docs = record.cases[0].documents
    assert [d.included_as for d in docs] == ["image", "pdf", None]
    assert docs[0].data_uri.startswith("data:image/png;base64,")
    fa.review_and_release(officer, req)
    _name, chunks, _size = sar_copies.download(student, req.id)
    pdf = b"".join(chunks)
    assert "Letter from college [doc].pdf" in attachment_names(pdf)
    text = pdf_text(pdf)
    assert "Photo of the notice [doc]" in text and "Spreadsheet [doc]" in text


def test_the_copy_says_each_answer_in_words_not_the_codes_we_store(student, db):
    """A student reads "Soon: within the next two weeks", never "soon"; "By phone", never "phone"."""
    from shared.subject_access.records import collect
    from tests.factories_casework import make_case as submit_case

    submit_case(student, urgency="soon", meeting_preference="phone", safe_channels=["email", "text"],
                phone="07700 900456")
    copy = collect(student.id)
    facts = {f.label: f.value for f in copy.cases[0].facts}
    details = {f.label: f.value for f in copy.details.facts}
    assert facts["Urgency"] == "Soon: within the next two weeks"
    assert facts["Meeting preference"] == "By phone"
    assert facts["Status"] == "New"
    assert facts["How you contacted us"] == "Online casework form"  # the service's list's words
    assert details["Safe ways to contact you"] == "Email, Text message"
