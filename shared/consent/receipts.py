"""Consent receipts (Kantara Initiative Consent Receipt Specification v1.1) for every grant and withdrawal:
a JSON document and a PDF with the JSON attached. Built from plain data; nothing about disclosures, so
nothing on the terrorism ground can ever appear in one."""

from __future__ import annotations

import json
from email.utils import parseaddr

from flask import current_app

from shared.audit import log as audit
from shared.consent import gate as consent
from shared.consent import giving as consent_giving
from shared.consent import history as student_history
from shared.models import Consent, Student
from shared.platform.extensions import db

CONTROLLER = "Students' Unions' Advice Service"
METHOD_WORDS = {
    "portal": "Given by the student in the Advice Service portal after reviewing the wording",
    "in_person": "Given in person to an advice officer, who recorded it with evidence",
    "signed_form": "Given on a signed form to an advice officer, who recorded it with evidence",
    "phone": "Given by phone to an advice officer, who recorded it with evidence",
    "email": "Given by email to an advice officer, who recorded it with evidence",
}


def _epoch(moment) -> int | None:
    return None if moment is None else int(moment.timestamp())


def receipt(c: Consent, student: Student) -> dict:
    """The receipt as a plain dict, field names as in the Kantara v1.1 specification, plus withdrawal fields."""
    cfg = current_app.config
    email = parseaddr(cfg.get("MAIL_FROM", ""))[1]
    recipient = f"{c.recipient_name}, {c.recipient_organisation}"
    purpose = {
        "purpose": c.purpose,
        "purposeCategory": ["Sharing with a third party the student named"],
        "consentType": "EXPLICIT",
        "piiCategory": [consent.SCOPE_LABELS[s] for s in c.scopes],
        "primaryPurpose": False,
        "termination": f"At the end of {student_history.format_moment(c.expires_at)}, or when the student withdraws it "
                       "('Who we may talk to' in the portal, or by telling an advice officer)",
        "thirdPartyDisclosure": True,
        "thirdPartyName": recipient,
    }
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "GB",
        "consentTimestamp": _epoch(c.granted_at),
        "collectionMethod": METHOD_WORDS.get(c.collection_method, c.collection_method),
        "consentReceiptID": c.receipt_id,
        "language": "en-GB",
        "piiPrincipalId": student.email,
        "piiControllers": [{"piiController": CONTROLLER, "onBehalf": False, "contact": "The Advice Service Manager",
                            "address": cfg.get("SERVICE_ADDRESS", "Students' Unions' Advice Service"),
                            "email": email, "phone": cfg.get("SERVICE_PHONE", ""), "piiControllerUrl": cfg["SERVICE_URL"]}],
        "policyUrl": cfg.get("CONFIDENTIALITY_POLICY_URL") or f"{cfg['SERVICE_URL']}/",
        "services": [{"service": "Confidential advice casework", "purposes": [purpose]}],
        "sensitive": True,
        "spiCat": ["Personal circumstances a student brings to the Advice Service, which may include health, "
                   "disability, sexual life, religion or ethnicity"],
        # not in v1.1: what this consent covers, how it ends, and whether it has been withdrawn
        "caseScope": "all cases" if c.case_id is None else "one case",
        "wordingVersion": c.wording_version,
        "wordingSha256": c.wording_sha256,
        "expiryTimestamp": _epoch(c.expires_at),
        "consentStatus": "withdrawn" if c.withdrawn_at else consent_giving.consent_state(c).replace("in force", "active"),
        "withdrawalTimestamp": _epoch(c.withdrawn_at),
        "withdrawnBy": c.withdrawn_by,
        "recordedBy": None if c.collection_method == "portal" else (c.recorded_by.name if c.recorded_by else "an advice officer"),
    }


def receipt_json(actor, student: Student, consent_id: int) -> tuple[str, bytes]:
    c = consent_giving.consent_for_student(student, consent_id)
    audit.record(actor, "consent.receipt", c, student_id=student.id, format="json")
    db.session.commit()
    data = json.dumps(receipt(c, student), indent=2, ensure_ascii=False).encode("utf-8")
    return f"consent-receipt-{c.receipt_id}.json", data


def receipt_pdf(actor, student: Student, consent_id: int) -> tuple[str, bytes]:
    from shared.platform.pdf import render_pdf

    c = consent_giving.consent_for_student(student, consent_id)
    audit.record(actor, "consent.receipt", c, student_id=student.id, format="pdf")
    db.session.commit()
    data = receipt(c, student)
    context = {"r": data, "statement": c.shown_text, "granted": student_history.format_moment(c.granted_at),
               "until": student_history.format_moment(c.expires_at),
               "withdrawn": student_history.format_moment(c.withdrawn_at) if c.withdrawn_at else None}
    pdf = render_pdf("consent_receipt.html", context, title=f"Consent receipt {c.receipt_id}",
                     attachments=[("consent-receipt.json", json.dumps(data, indent=2).encode())])
    return f"consent-receipt-{c.receipt_id}.pdf", pdf
