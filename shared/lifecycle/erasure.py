"""Students' requests to erase their records, decided by staff against the retention rules.

A student asks in the portal. A manager or the administrator sees, case by case, what the rules allow:
closed cases that nothing holds can be anonymised now; open cases, cases under an unfinished access
request and cases with a breach record are kept, with the reason. The decision and what the student is
told are recorded; the student reads the outcome in the portal (the email only says there is an answer).
If nothing of theirs is held, the account itself is erased too, and the email says so.

A case held only by a breach record on the terrorism ground is kept silently: what the student sees (the
outcome, its wording, the email, their account, their cases) is exactly what they would see if it had
been erased. It moves, intact, to a kept-records holder nobody can sign in to, out of every student-facing
query, and the reason is written in the request's staff note only (never told: tipping off is an offence).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shared.audit import log as audit
from shared.lifecycle import retention
from shared.models import Case, ErasureRequest, ErasureStatus, Staff, Student, utcnow
from shared.models.consent import retention_override
from shared.platform import mail
from shared.platform.errors import NotFound, ValidationFailed
from shared.platform.extensions import db

MAX_DETAILS = 4000


def submit(student: Student, details: str | None) -> ErasureRequest:
    details = (details or "").strip()
    if len(details) > MAX_DETAILS:
        raise ValidationFailed(f"Please keep this under {MAX_DETAILS} characters.")
    pending = db.session.scalar(
        select(ErasureRequest).where(
            ErasureRequest.student_id == student.id, ErasureRequest.status == ErasureStatus.RECEIVED.value
        )
    )
    if pending is not None:
        raise ValidationFailed("We already have a request from you that we are looking at.")
    request = ErasureRequest(student_id=student.id)
    request.details = details or None
    db.session.add(request)
    db.session.flush()
    audit.record(student, "erasure.requested", request, student_id=student.id)
    db.session.commit()
    return request


def for_student(student: Student) -> list[ErasureRequest]:
    return db.session.scalars(
        select(ErasureRequest).where(ErasureRequest.student_id == student.id).order_by(ErasureRequest.id.desc())
    ).all()


def erasure_queue() -> list[ErasureRequest]:
    return db.session.scalars(
        select(ErasureRequest).order_by((ErasureRequest.status == ErasureStatus.RECEIVED.value).desc(),
                                        ErasureRequest.received_at)
    ).all()


def get(request_id: int) -> ErasureRequest:
    request = db.session.get(ErasureRequest, request_id)
    if request is None:
        raise NotFound()
    return request


@dataclass(frozen=True)
class CaseAssessment:
    case: Case
    erasable: bool
    reasons: list
    silent: bool = False  # held only by a hold the student must never learn of: reported to them as erased

    @property
    def erased_for_student(self) -> bool:
        """What the student is told about this case: erased, whether it was or was kept silently."""
        return self.erasable or self.silent


def assess(request: ErasureRequest) -> list[CaseAssessment]:
    cases = db.session.scalars(
        select(Case).where(Case.student_id == request.student_id, Case.anonymised_at.is_(None)).order_by(Case.id)
    ).all()
    out = []
    for case in cases:
        holds = retention.case_holds(case)
        out.append(CaseAssessment(case, not holds, [h.reason for h in holds], retention.only_silent(holds)))
    return out


def case_assessments(staff: Staff, request: ErasureRequest) -> list[CaseAssessment]:
    audit.record_view(staff, "erasure.viewed", request, student_id=request.student_id)
    return assess(request)


@retention_override()
def decide(staff: Staff, request: ErasureRequest, decision: str, outcome: str) -> ErasureRequest:
    if request.status != ErasureStatus.RECEIVED.value:
        raise ValidationFailed("This request has already been decided.")
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationFailed("Write what the student will be told.")
    if decision not in ("erase", "refuse"):
        raise ValidationFailed("Choose a decision.")
    student = request.student
    email = student.email
    erased_cases, kept_cases, account_erased = [], [], False
    if decision == "refuse":
        request.status = ErasureStatus.REFUSED.value
    else:
        assessments = assess(request)
        placeholder = retention.placeholder_student()
        holder = None
        for item in assessments:
            if item.erasable:
                retention.anonymise_case(item.case, placeholder)
                audit.record(staff, "erasure.case_anonymised", item.case, case_id=item.case.id)
                erased_cases.append(item.case.id)
            elif item.silent:
                holder = holder or retention.kept_records_holder(student)
                retention.keep_apart(item.case, holder)
                audit.record(staff, "erasure.case_kept", item.case, case_id=item.case.id, holder_id=holder.id)
                kept_cases.append(item.case)
        held = [a for a in assessments if not a.erased_for_student]
        request.status = ErasureStatus.PARTLY.value if held else ErasureStatus.ERASED.value
        account_erased = not held
        if kept_cases:
            request.staff_note = (
                f"Kept without telling the student ({email}): {', '.join(c.reference for c in kept_cases)}. "
                f"{retention.SILENT_BREACH} The student was told the same as if it had been erased; the case is now "
                f"held, intact, under the kept-records account {holder.email}."
            )
    request.outcome = outcome
    request.decided_by_id = staff.id
    request.decided_at = utcnow()
    audit.record(staff, "erasure.decided", request, student_id=student.id, decision=request.status,
                 cases=len(erased_cases), kept=len(kept_cases))
    kept_ids = [c.id for c in kept_cases]
    if account_erased:
        mail.send(email, "erasure_completed")
        retention.erase_student_account(student)
        request.details = None
        retention.depersonalise_audit(erased_cases, [student.id], staff, kept_case_ids=kept_ids)
    else:
        mail.send(email, "erasure_decided")
        retention.depersonalise_audit(erased_cases, [], staff)
    db.session.commit()
    return request
