"""One quarter of file reviews for the demo (`flask --app wsgi seed-demo`): the manager reviews the officer's
files and the officer the manager's (a reviewer never reviews their own). Some are closed, one has an action
open on the officer's dashboard, one is still due. Every finding and action is invented."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.casework import file_review
from shared.models import FileReview, FindingResult
from shared.platform.extensions import db

SEED = "20261"


def _answer(reviewer, review, findings: str, not_met: dict[str, str] | None = None) -> None:
    """Every item met, except those whose wording starts with a key of `not_met` (with that note)."""
    results = {}
    for item in review.items:
        note = next((n for start, n in (not_met or {}).items() if item.label.startswith(start)), None)
        results[item.id] = (FindingResult.NOT_MET.value, note) if note else (FindingResult.MET.value, "")
    file_review.record_findings(reviewer, review.id, results, findings)


def demo_reviews(made: dict) -> None:
    officer, manager = made["officer"], made["manager"]
    sample = file_review.draw_sample(manager, file_review.current_quarter(), reviewer_id=manager.id,
                                     second_reviewer_id=officer.id, seed=SEED)
    reviews = list(db.session.scalars(select(FileReview).where(FileReview.sample_id == sample.id)
                                      .order_by(FileReview.case_id)))
    officers_files = [r for r in reviews if r.adviser_id == officer.id]
    managers_files = [r for r in reviews if r.adviser_id == manager.id]
    today = file_review.today_local()
    if officers_files:  # feedback with an action still to do: on the officer's dashboard
        review = officers_files[0]
        _answer(manager, review, "Clear, well-explained advice and a prompt first reply. The letter sent to the "
                "college is mentioned in the notes but is not in the file.",
                {"Letters": "The letter to the college tutor (mentioned in the notes) is not in the file."})
        file_review.add_action(manager, review.id, "Add the letter sent to the college tutor to the case record.",
                               today + timedelta(days=14))
        file_review.send_feedback(manager, review.id)
    for review in officers_files[1:2]:  # done
        _answer(manager, review, "A model file: advice, actions and the closing summary are all recorded.")
        file_review.send_feedback(manager, review.id)
        file_review.close_review(manager, review.id)
    for review in managers_files[:1]:  # done, after its action was done
        _answer(officer, review, "Thorough notes. The deadline was met with a day to spare.",
                {"There is a closing summary": "No closing summary yet."})
        action = file_review.add_action(officer, review.id, "Write the closing summary.", today + timedelta(days=7))
        file_review.send_feedback(officer, review.id)
        file_review.mark_action_done(manager, review.id, action.id)
        file_review.close_review(officer, review.id)
    # The rest stay due: the manager's other file waits on the officer's dashboard.
