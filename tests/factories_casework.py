"""Casework factories: fictional cases made through the real services, and the casework form's answers."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from shared.casework import cases as casework
from shared.casework import intake
from shared.casework.documents import Upload
from shared.casework.intake import IntakeAnswers

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def zip_of(members: dict) -> bytes:
    """A zip (deflated) holding these members: name -> text or bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


DOCX_MEMBERS = {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}
DOCX = zip_of(DOCX_MEMBERS)  # the least a Word document holds


def intake_form(**overrides) -> dict:
    """What a student types into the casework form (as posted by a browser)."""
    data = {
        "full_name": "Morgan Fenwick",
        "preferred_name": "Mo",
        "pronouns": "she/her",
        "college_code": "newnham",
        "faculty": "Faculty of History",
        "course": "BA History",
        "year_of_study": "2nd year",
        "crsid": "mf512",
        "phone": "07700 900456",
        "safe_channels": ["email", "text"],
        "may_leave_message": "y",
        "contact_notes": "Please avoid calling before 10am.",
        "area_code": "appeals",
        "what_happened": "My dissertation extension request was refused although I sent a medical note.",
        "outcome_wanted": "An extension of two weeks.",
        "urgency": "soon",
        "deadline": (casework.today_local() + timedelta(days=10)).isoformat(),
        "meeting_preference": "in_person",
        "private_room": "y",
        "accessibility_needs": "Step-free access, please.",
        "action": "submit",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def answers(**overrides) -> IntakeAnswers:
    values = {
        "full_name": "Morgan Fenwick", "college_code": "newnham", "faculty": "Faculty of History",
        "area_code": "housing", "what_happened": "A fictional problem with a fictional landlord.",
        "urgency": "normal", "meeting_preference": "online", "safe_channels": ["email"],
    }
    values.update(overrides)
    return IntakeAnswers(**values)


def make_case(student, uploads: list[Upload] | None = None, **overrides):
    return intake.submit_case(student, answers(**overrides), uploads or [])
