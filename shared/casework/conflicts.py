"""Conflicts of interest: the other people involved in a case, the check for a possible conflict whenever a
case is opened or a person is added, and the officers' decisions that put up the ethical wall (`wall`).

A possible conflict is two students' cases where one names the other as a person involved (by the same
email, or the same name at the same college). It is shown to the manager and to the two cases' officers as
"possible conflict: decide before advising", and never to a student: nothing a student sees, receives or
can time differs because of it. So the check does the same work whatever it finds, its finding is a row
only staff pages read, and no email is sent about it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from shared.audit import log as audit
from shared.casework import wall
from shared.casework.cases import (
    SHORT_REASON,
    InvalidAnswers,
    audit_case,
    case_for_staff,
    college_choices,
)
from shared.models import (
    Case,
    ConflictDecision,
    ConflictOutcome,
    PersonInvolved,
    PossibleConflict,
    Staff,
    Student,
    StudentProfile,
    utcnow,
)
from shared.models.conflicts import WALLING
from shared.platform.answers import check_text, clean_text
from shared.platform.crypto import match_key
from shared.platform.errors import NotFound
from shared.platform.extensions import db
from shared.security.accounts import InvalidEmail, normalise_email

RELATIONS = {
    "student": "Another student",
    "landlord": "A landlord or letting agent",
    "university_staff": "A member of university or college staff",
    "department": "A university department or office",
    "other": "Someone else",
}
OUTCOMES = {
    ConflictOutcome.NO_CONFLICT.value: "No conflict",
    ConflictOutcome.DIFFERENT_ADVISERS.value: "Conflict: advise the two students with different advisers",
    ConflictOutcome.REFER_ELSEWHERE.value: "Conflict: refer one student to another advice service",
}
MATCHED_ON = {"email": "the same email address", "name_college": "the same name at the same college"}
MAX_PEOPLE = 3  # on the casework form; officers may add more, one at a time
NAME_LIMIT, ORGANISATION_LIMIT = 200, 200


@dataclass
class PersonAnswers:
    """One person involved, as typed (the casework form or the officers' form)."""

    name: str = ""
    relation: str = ""
    college_code: str = ""
    organisation: str = ""
    email: str = ""

    @property
    def blank(self) -> bool:
        return not any((self.name or "").strip() or (v or "").strip()
                       for v in (self.college_code, self.organisation, self.email))


def clean_person(answers: PersonAnswers, errors: dict[str, str], prefix: str = "") -> PersonAnswers:
    """Tidy one person's answers; each problem goes into `errors` under `prefix` + the field's name."""
    out = PersonAnswers(
        name=clean_text(answers.name), relation=(answers.relation or "").strip(),
        college_code=(answers.college_code or "").strip(), organisation=clean_text(answers.organisation),
        email=clean_text(answers.email),
    )
    check_text(errors, prefix + "name", out.name, "their name", NAME_LIMIT, required=True)
    if out.relation not in RELATIONS:
        errors[prefix + "relation"] = "Choose how they are involved."
    if out.college_code and out.college_code not in dict(college_choices()):
        errors[prefix + "college_code"] = "Choose their college from the list, or leave it blank."
    check_text(errors, prefix + "organisation", out.organisation, "the organisation", ORGANISATION_LIMIT)
    if out.email:
        try:
            out.email = normalise_email(out.email)
        except InvalidEmail:
            errors[prefix + "email"] = "Enter their email address like name@example.ac.uk, or leave it blank."
    return out


def clean_people(people: list[PersonAnswers], errors: dict[str, str]) -> list[PersonAnswers]:
    """The casework form's people: blank rows dropped, each filled row checked (errors as person1_name...)."""
    return [clean_person(p, errors, f"person{i}_") for i, p in enumerate(people or [], start=1) if not p.blank]


def normalise_name(name: str) -> str:
    """One form of a name for matching: compatibility forms, case, accents and spacing made plain."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _email_key(email: str) -> str:
    return match_key("person-email", email)


def _name_key(name: str, college_code: str) -> str:
    return match_key("person-name-college", f"{normalise_name(name)}\x1f{college_code}")


def conflict_between(a: Case, b: Case) -> PossibleConflict | None:
    first, second = sorted((a.id, b.id))
    return db.session.scalar(select(PossibleConflict).where(PossibleConflict.case_a_id == first,
                                                             PossibleConflict.case_b_id == second))


def add_people(case: Case, people: list[PersonAnswers], *, by_student: bool = False,
               staff: Staff | None = None) -> list[PersonInvolved]:
    """Store cleaned people on a case, in the caller's transaction."""
    rows = []
    for answers in people:
        row = PersonInvolved(case_id=case.id, relation=answers.relation, added_by_student=by_student,
                             added_by_staff_id=staff.id if staff else None)
        row.name = answers.name
        row.college_code = answers.college_code or None
        row.organisation = answers.organisation or None
        row.email = answers.email or None
        row.email_key = _email_key(answers.email) if answers.email else None
        row.name_key = _name_key(answers.name, answers.college_code) if answers.college_code else None
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows


def add_person(staff: Staff, reference: str, answers: PersonAnswers) -> PersonInvolved:
    """An officer records someone involved; the conflict check runs at once."""
    case = case_for_staff(staff, reference)
    errors: dict[str, str] = {}
    person = clean_person(answers, errors)
    if errors:
        raise InvalidAnswers(errors)
    row, = add_people(case, [person], staff=staff)
    audit_case(staff, "person_involved.added", case, row, relation=row.relation)
    check_case(case)
    db.session.commit()
    return row


def _students_named(people: list[PersonInvolved]) -> list[tuple[int, str]]:
    """(student id, how matched) for every student a person involved may be."""
    found: list[tuple[int, str]] = []
    emails = {p.email for p in people if p.email}
    found += [(sid, "email") for sid in db.session.scalars(select(Student.id).where(Student.email.in_(emails)))]
    by_college: dict[str, set[str]] = {}
    for p in people:
        if p.college_code:
            by_college.setdefault(p.college_code, set()).add(normalise_name(p.name))
    for college, names in by_college.items():
        for sid, full_name, preferred in db.session.execute(
            select(StudentProfile.student_id, StudentProfile.full_name, StudentProfile.preferred_name)
            .where(StudentProfile.college_code == college)
        ):
            if normalise_name(full_name or "") in names or (preferred and normalise_name(preferred) in names):
                found.append((sid, "name_college"))
    return found


def _people_naming(student_id: int) -> list[tuple[int, str]]:
    """(case id, how matched) for every other case naming this student as a person involved."""
    student = db.session.get(Student, student_id)
    profile = db.session.scalar(select(StudentProfile).where(StudentProfile.student_id == student_id))
    keys = {_email_key(student.email): "email"}
    if profile is not None and profile.college_code:
        for name in {profile.full_name, profile.preferred_name} - {None, ""}:
            keys[_name_key(name, profile.college_code)] = "name_college"
    rows = db.session.execute(
        select(PersonInvolved.case_id, PersonInvolved.email_key, PersonInvolved.name_key)
        .where(or_(PersonInvolved.email_key.in_(keys), PersonInvolved.name_key.in_(keys)))
    )
    return [(case_id, keys.get(email_key) or keys[name_key]) for case_id, email_key, name_key in rows]


def check_case(case: Case) -> list[PossibleConflict]:
    """Find possible conflicts for this case, both ways, and record each new pair once. Run when a case is
    opened and when a person is added; the same queries run whatever they find."""
    people = list(db.session.scalars(select(PersonInvolved).where(PersonInvolved.case_id == case.id)))
    candidates: list[tuple[int, str]] = []
    named = _students_named(people)
    student_ids = {sid for sid, _ in named if sid != case.student_id}
    how_by_student = {sid: how for sid, how in named}
    for other_id, sid in db.session.execute(
        select(Case.id, Case.student_id).where(Case.student_id.in_(student_ids), Case.anonymised_at.is_(None))
    ):
        candidates.append((other_id, how_by_student[sid]))
    candidates += _people_naming(case.student_id)
    other_students = dict(db.session.execute(  # run even when empty: the same statements whatever is found
        select(Case.id, Case.student_id).where(Case.id.in_({c for c, _ in candidates}))
    ).all())
    found = []
    for other_id, how in dict(candidates).items():
        if other_id == case.id or other_students.get(other_id) == case.student_id:
            continue
        a, b = sorted((case.id, other_id))
        if db.session.scalar(select(PossibleConflict.id).where(PossibleConflict.case_a_id == a,
                                                               PossibleConflict.case_b_id == b)) is None:
            conflict = PossibleConflict(case_a_id=a, case_b_id=b, matched_on=how)
            db.session.add(conflict)
            db.session.flush()
            audit.record("system", "conflict.found", conflict, case_id=case.id, other_case_id=other_id, matched_on=how)
            found.append(conflict)
    return found


def _may_decide(staff: Staff, conflict: PossibleConflict, cases: tuple[Case, Case]) -> bool:
    """The manager, or the officer of either case while no wall stands (after it, only the manager)."""
    if wall.supervises_walls(staff):
        return True
    return any(c.assigned_to_id == staff.id for c in cases) and not any(wall.is_walled(staff, c) for c in cases)


@dataclass
class ConflictView:
    """A possible conflict as the manager or a case's officer sees it."""

    conflict: PossibleConflict
    case_a: Case
    case_b: Case
    names: dict[int, str]  # case id -> the student's name
    matched_on: str
    decisions: list[ConflictDecision] = field(default_factory=list)
    may_decide: bool = False

    @property
    def decided(self) -> bool:
        return self.conflict.outcome is not None

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.conflict.outcome or "", "Not decided yet")


def _view(staff: Staff, conflict: PossibleConflict) -> ConflictView:
    a, b = db.session.get(Case, conflict.case_a_id), db.session.get(Case, conflict.case_b_id)
    names = dict(db.session.execute(
        select(Case.id, StudentProfile.full_name).join(StudentProfile, StudentProfile.student_id == Case.student_id)
        .where(Case.id.in_((a.id, b.id)))
    ).all())
    return ConflictView(conflict, a, b, names, MATCHED_ON.get(conflict.matched_on, conflict.matched_on),
                        list(conflict.decisions), _may_decide(staff, conflict, (a, b)))


def conflict_for_staff(staff: Staff, conflict_id: int) -> ConflictView:
    """The conflict page: the manager, or the officer of either case while no wall stands between them. An
    adviser behind the wall sees the decision on their own case page, never the other side."""
    conflict = db.session.get(PossibleConflict, conflict_id)
    if conflict is None:
        raise NotFound()
    cases = (db.session.get(Case, conflict.case_a_id), db.session.get(Case, conflict.case_b_id))
    if not _may_decide(staff, conflict, cases):
        raise NotFound()
    view = _view(staff, conflict)
    audit.record_view(staff, "conflict.viewed", conflict, case_id=cases[0].id, other_case_id=cases[1].id)
    return view


def undecided_for(staff: Staff) -> list[ConflictView]:
    """For the dashboard: the manager sees every undecided possible conflict; an officer, those on their cases."""
    stmt = select(PossibleConflict).where(PossibleConflict.outcome.is_(None)).order_by(PossibleConflict.found_at)
    if not wall.supervises_walls(staff):
        mine = select(Case.id).where(Case.assigned_to_id == staff.id)
        stmt = stmt.where(or_(PossibleConflict.case_a_id.in_(mine), PossibleConflict.case_b_id.in_(mine)))
    return [_view(staff, c) for c in db.session.scalars(stmt.limit(50))]


@dataclass
class CaseConflict:
    """What a case page says about a conflict on this case, without naming the other side once walled."""

    conflict_id: int
    outcome: str | None
    outcome_label: str
    decided_at: datetime | None
    other_reference: str | None  # None when the viewer is behind the wall (or the wall hides it)
    may_open: bool


def conflicts_on_case(staff: Staff, case: Case) -> list[CaseConflict]:
    rows = db.session.scalars(select(PossibleConflict).where(
        or_(PossibleConflict.case_a_id == case.id, PossibleConflict.case_b_id == case.id)
    ).order_by(PossibleConflict.found_at))
    out = []
    supervisor = wall.supervises_walls(staff)
    for c in rows:
        other_id = c.case_b_id if c.case_a_id == case.id else c.case_a_id
        walled = c.outcome in WALLING
        show_other = supervisor or not walled
        other_ref = db.session.scalar(select(Case.reference).where(Case.id == other_id)) if show_other else None
        may_open = supervisor or (case.assigned_to_id == staff.id and not walled)
        out.append(CaseConflict(c.id, c.outcome, OUTCOMES.get(c.outcome or "", "Possible conflict: decide before advising"),
                                c.decided_at, other_ref, may_open))
    return out


@dataclass
class Decision:
    outcome: str = ""
    reason: str = ""
    referred_to: str = ""
    referred_reference: str = ""  # which of the two cases is referred elsewhere


def decide(staff: Staff, conflict_id: int, d: Decision) -> ConflictDecision:
    """Record a decision (a new one is added; earlier ones are kept). A conflict puts up the wall."""
    conflict = db.session.get(PossibleConflict, conflict_id, with_for_update=True)
    if conflict is None:
        raise NotFound()
    cases = (db.session.get(Case, conflict.case_a_id), db.session.get(Case, conflict.case_b_id))
    if not _may_decide(staff, conflict, cases):
        raise NotFound()
    errors: dict[str, str] = {}
    reason = clean_text(d.reason, multiline=True)
    referred_to = clean_text(d.referred_to)
    referred = None
    if d.outcome not in OUTCOMES:
        errors["outcome"] = "Choose whether there is a conflict and what to do."
    check_text(errors, "reason", reason, "the reason for the decision", SHORT_REASON, required=True)
    if d.outcome == ConflictOutcome.REFER_ELSEWHERE.value:
        check_text(errors, "referred_to", referred_to, "where the student is referred", 200, required=True)
        referred = next((c for c in cases if c.reference == (d.referred_reference or "").upper()), None)
        if referred is None:
            errors["referred_reference"] = "Choose which of the two students is referred elsewhere."
    if d.outcome in WALLING and "outcome" not in errors:
        officers = {c.assigned_to_id for c in cases}
        if None not in officers and len(officers) == 1:
            errors["outcome"] = ("Both cases are assigned to the same officer. Assign one of them to another "
                                 "officer first: the two students must be advised by different advisers.")
    if errors:
        raise InvalidAnswers(errors)
    decision = ConflictDecision(conflict_id=conflict.id, outcome=d.outcome, decided_by_id=staff.id,
                                referred_case_id=referred.id if referred else None)
    decision.reason = reason
    decision.referred_to = referred_to or None
    db.session.add(decision)
    conflict.outcome, conflict.decided_at = d.outcome, utcnow()
    db.session.flush()
    audit.record(staff, "conflict.decided", decision, case_id=cases[0].id, other_case_id=cases[1].id,
                 outcome=d.outcome, referred_case_id=decision.referred_case_id)
    db.session.commit()
    return decision


def people_on_case(case: Case) -> list[PersonInvolved]:
    return list(db.session.scalars(
        select(PersonInvolved).where(PersonInvolved.case_id == case.id).order_by(PersonInvolved.added_at, PersonInvolved.id)
    ))


def relation_label(code: str) -> str:
    return RELATIONS.get(code, code)


