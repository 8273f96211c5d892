"""File review factories: a quarter's sample drawn through the real service, and a review worked through to
its feedback. Every person and word is invented."""

from __future__ import annotations

from datetime import timedelta

from shared.casework import file_review
from shared.casework import record as case_record
from shared.models import FindingResult
from tests.factories_casework import make_case


def assigned_case(student, officer, assigner=None, **overrides):
    """A case of `student` assigned to `officer` (by `assigner`, else by the officer themselves)."""
    case = make_case(student, **overrides)
    case_record.assign(assigner or officer, case.reference, officer.id)
    return case


def draw(manager, *, quarter: str | None = None, reviewer=None, second_reviewer=None, seed: str = "4242"):
    return file_review.draw_sample(manager, quarter or file_review.current_quarter(),
                                   reviewer_id=(reviewer or manager).id,
                                   second_reviewer_id=second_reviewer.id if second_reviewer else None, seed=seed)


def work_through(reviewer, review, *, findings: str = "Clear advice; the letters are not on file.",
                 action: str | None = "File the letter sent to the college.", note: str = "The letter is missing.",
                 send: bool = True):
    """Answer every checklist item (the letters one not met), record the findings and an action, and send."""
    letters = next(i for i in review.items if "Letters" in i.label)
    results = {i.id: (FindingResult.MET.value, "") for i in review.items}
    results[letters.id] = (FindingResult.NOT_MET.value, note)
    file_review.record_findings(reviewer, review.id, results, findings)
    if action:
        file_review.add_action(reviewer, review.id, action, file_review.today_local() + timedelta(days=14))
    if send:
        file_review.send_feedback(reviewer, review.id)
    return review
