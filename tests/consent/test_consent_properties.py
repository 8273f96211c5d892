"""Property-based: over generated consent histories (grants, withdrawals, expiries, other recipients, other
cases, other scopes), no disclosure is ever allowed without a consent valid at that moment, and every
disclosure that is allowed rests on such a consent. The oracle below is written from the policy, not from
the gate's code: it replays the history as events."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shared.consent import gate
from shared.consent import giving as consent_giving
from shared.models import Consent, Disclosure
from shared.platform.errors import ConsentRequired, InvalidAnswers
from tests.factories import make_staff, make_student
from tests.factories_consent import give_consent

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
RECIPIENTS = [gate.Recipient("Dr Pat Tutorname", "Fictional College"), gate.Recipient("Dr Sam Practice", "Imaginary Health Centre")]
CASES = [None, 1, 2]  # consent for all cases, or for case 1 / case 2
SCOPES = ["attendance", "summary", "documents", "full_record"]
DOCS = [11, 12]

# What each granted scope lets out, in the policy's words: using the service < summary < the full record.
LETS_OUT = {
    "attendance": {"attendance"},
    "summary": {"attendance", "summary"},
    "full_record": {"attendance", "summary", "full_record", "documents"},
    "documents": set(),  # documents only by name, below
}


@dataclass
class Grant:
    recipient: int
    case: int | None
    scopes: list[str]
    docs: list[int]
    start: int  # hours after T0
    length: int  # hours until it expires
    withdraw_after: int | None  # hours after start, or never


grants = st.builds(
    Grant,
    recipient=st.integers(0, 1),
    case=st.sampled_from(CASES),
    scopes=st.lists(st.sampled_from(SCOPES), min_size=1, max_size=3, unique=True),
    docs=st.lists(st.sampled_from(DOCS), max_size=2, unique=True),
    start=st.integers(0, 50),
    length=st.integers(1, 60),
    withdraw_after=st.none() | st.integers(0, 70),
)
attempts = st.tuples(
    st.integers(0, 1), st.sampled_from([1, 2, None]), st.sampled_from(SCOPES),
    st.lists(st.sampled_from(DOCS), max_size=2, unique=True), st.integers(-5, 130),
)


def oracle(history: list[Grant], recipient: int, case: int | None, scope: str, docs: list[int], hour: int) -> bool:
    """Is there a grant, in force at `hour`, for this recipient, this case and this information?"""
    for g in history:
        ends = g.start + g.length
        if g.withdraw_after is not None:
            ends = min(ends, g.start + g.withdraw_after)
        in_force = g.start <= hour < ends
        right_case = g.case is None or g.case == case
        if scope == "documents" and "full_record" not in g.scopes:
            right_scope = "documents" in g.scopes and bool(docs) and set(docs) <= set(g.docs)
        else:
            right_scope = any(scope in LETS_OUT[s] for s in g.scopes)
        if g.recipient == recipient and in_force and right_case and right_scope:
            return True
    return False


def _at(hour: int) -> datetime:
    return T0 + timedelta(hours=hour)


def _consent(g: Grant, n: int) -> Consent:
    r = RECIPIENTS[g.recipient]
    c = Consent(id=n, recipient_name=r.name, recipient_organisation=r.organisation, case_id=g.case, scopes=g.scopes,
                document_ids=g.docs, granted_at=_at(g.start), expires_at=_at(g.start + g.length),
                withdrawn_at=None if g.withdraw_after is None else _at(g.start + g.withdraw_after))
    return c


@settings(max_examples=400, deadline=None)
@given(history=st.lists(grants, max_size=5), tries=st.lists(attempts, min_size=1, max_size=10))
def test_gate_allows_exactly_when_a_consent_is_valid_at_that_moment(history, tries):
    consents = [_consent(g, n) for n, g in enumerate(history, start=1)]
    for recipient, case, scope, docs, hour in tries:
        decision = gate.evaluate(consents, scope, RECIPIENTS[recipient], case, docs, _at(hour))
        expected = oracle(history, recipient, case, scope, docs, hour)
        assert decision.allowed == expected
        if decision.allowed:
            g = history[decision.consent.id - 1]
            assert oracle([g], recipient, case, scope, docs, hour), "the named basis must itself be valid"
        else:
            assert decision.consent is None and decision.reason in gate.REASONS


_emails = itertools.count(1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(grants, max_size=4), tries=st.lists(attempts, min_size=1, max_size=6))
def test_no_disclosure_is_ever_recorded_without_a_basis_valid_at_that_moment(db, history, tries):
    from tests.factories_casework import make_case

    student = make_student(f"prop{next(_emails)}@example.ac.uk")
    officer = make_staff(email=f"prop-officer{next(_emails)}@example.ac.uk")
    cases = {1: make_case(student), 2: make_case(student)}
    for g in history:
        give_consent(student, RECIPIENTS[g.recipient], scopes=g.scopes, case=cases.get(g.case), document_ids=g.docs,
                     granted_at=_at(g.start), expires_at=_at(g.start + g.length),
                     withdrawn_at=None if g.withdraw_after is None else _at(g.start + g.withdraw_after))
    for recipient, case, scope, docs, hour in tries:
        try:
            gate.record_disclosure(officer, student, scope, RECIPIENTS[recipient], what="Fictional detail", method="email",
                                   case=cases.get(case), document_ids=docs, at=_at(hour))
            recorded = True
        except ConsentRequired:
            recorded = False
        assert recorded == oracle(history, recipient, case, scope, docs, hour)
    for d in db.session.scalars(select(Disclosure).where(Disclosure.student_id == student.id)):
        c = d.consent
        assert d.breach_record_id is None and c is not None and c.student_id == student.id
        assert gate.is_in_force(c, d.disclosed_at)
        assert gate.scope_covers(c.scopes, c.document_ids, d.scope, []) or d.scope == "documents"


# --- consent an officer records: given on a day between first contact and today, lasting at most the maximum --


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(registered_ago=st.integers(0, 400), case_before=st.none() | st.integers(0, 400),
       given_ago=st.integers(-40, 900), lasts=st.integers(-40, 500))
def test_recorded_consent_is_given_after_first_contact_and_lasts_at_most_the_maximum_from_then(
        db, registered_ago, case_before, given_ago, lasts):
    """Over (given on, end date) pairs: the officer's record is accepted exactly when the day it was given is
    neither in the future nor before the student first contacted the service, and the end date is neither
    past nor more than CONSENT_MAX_MONTHS after the day it was given; an accepted consent runs from that day."""
    from datetime import time

    from shared.subject_access.deadlines import SERVICE_TZ, add_months, service_today
    from tests.factories_access import make_case

    today = service_today()
    noon = lambda day: datetime.combine(day, time(12), tzinfo=SERVICE_TZ)  # noqa: E731
    student = make_student(f"prop{next(_emails)}@example.ac.uk")
    officer = make_staff(email=f"prop-officer{next(_emails)}@example.ac.uk")
    registered = today - timedelta(days=registered_ago)
    student.created_at = noon(registered)
    db.session.commit()
    first = registered
    if case_before is not None:
        make_case(student, opened_at=noon(registered - timedelta(days=case_before)))
        first = registered - timedelta(days=case_before)
    given_on = today - timedelta(days=given_ago)
    ends = given_on + timedelta(days=lasts)
    details = consent_giving.ConsentDetails(recipient_name="Dr Pat Tutorname", recipient_organisation="Fictional College",
                                  purpose="To support an appeal", scopes=["summary"], expires_on=ends)
    should = first <= given_on <= today and today <= ends <= add_months(given_on, consent_giving.max_months())
    try:
        c = consent_giving.record_given(officer, student, details, method="in_person", typed_name="Alex Fictional",
                              evidence_note="Seen in the meeting", evidence_document_id=None, given_on=given_on)
    except InvalidAnswers as exc:
        assert not should, exc.errors
        assert set(exc.errors) <= {"given_on", "expires_on"}
        if not first <= given_on <= today:
            assert "given_on" in exc.errors
        db.session.rollback()
        return
    assert should
    assert c.granted_at.astimezone(SERVICE_TZ).date() == given_on
    assert c.expires_at.astimezone(SERVICE_TZ).date() <= add_months(given_on, consent_giving.max_months()) + timedelta(days=1)
