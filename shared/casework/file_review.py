"""Independent file review: each quarter a supervisor reviews a sample of every adviser's case files against
a checklist, records what they found and what must change, and the adviser sees that feedback and says when
each action is done. The Advice Quality Standard asks for it of every casework service.

The sample is drawn at random but reproducibly: `random.Random(seed)` over the eligible cases in a fixed
order (advisers by id, their cases by id), the seed recorded with the sample, so anyone can draw the same
quarter with the same seed and get the same files. A reviewer never reviews their own file: the reviewer's
own cases go to the second reviewer, or stay out of the sample if there is none.

Opening a review shows the student's record, so it is audited as a view of the case; every step is audited
in the transaction that makes it. The adviser is told in the back office, and by an email that says only
that there is something to read.
"""

from __future__ import annotations

import csv
import io
import random
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from shared.audit import log as audit
from shared.audit.viewer import safe_cell
from shared.casework import wall
from shared.casework.cases import (
    InvalidAnswers,
    audit_case,
    local_to_utc,
    record_view,
    today_local,
)
from shared.models import (
    Case,
    ChecklistItem,
    FileReview,
    FindingResult,
    ReviewAction,
    ReviewFinding,
    ReviewSample,
    ReviewScheme,
    ReviewStatus,
    Staff,
    utcnow,
)
from shared.platform import mail
from shared.platform.answers import check_text, clean_text
from shared.platform.errors import NotFound, PermissionDenied
from shared.platform.extensions import db
from shared.security.authz import ADVICE_OFFICERS, MANAGERS

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
SEED = re.compile(r"^[A-Za-z0-9-]{1,40}$")  # an identifier (it is in the audit log), never words
RESULT_LABELS = {
    FindingResult.MET.value: "Met",
    FindingResult.NOT_MET.value: "Not met",
    FindingResult.NOT_APPLICABLE.value: "Not applicable",
}
STATUS_LABELS = {
    ReviewStatus.DUE.value: "Due",
    ReviewStatus.IN_PROGRESS.value: "In progress",
    ReviewStatus.ACTIONS_OPEN.value: "Feedback given, actions open",
    ReviewStatus.CLOSED.value: "Closed",
}
NOTE_LIMIT = 2000
FINDINGS_LIMIT = 10000
LABEL_LIMIT = 300
MAX_FILES = 50
MAX_DAYS = 365


# --- quarters --------------------------------------------------------------------------------------------

def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def current_quarter() -> str:
    return quarter_of(today_local())


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of a quarter written 2026-Q4."""
    match = QUARTER.match(quarter or "")
    if match is None:
        raise ValueError(quarter)
    year, q = int(match.group(1)), int(match.group(2))
    first = date(year, 3 * q - 2, 1)
    after = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return first, after - timedelta(days=1)


def _checked_quarter(errors: dict, quarter: str) -> str:
    quarter = (quarter or "").strip().upper()
    try:
        first, _ = quarter_bounds(quarter)
    except ValueError:
        errors["quarter"] = "Enter the quarter as year and quarter, for example 2026-Q4."
        return quarter
    if first > today_local():
        errors["quarter"] = "That quarter has not begun: draw its sample once it has."
    return quarter


# --- the scheme ------------------------------------------------------------------------------------------

def _require_manager(staff: Staff) -> None:
    if staff.role not in MANAGERS:
        raise NotFound()


def scheme() -> ReviewScheme:
    """The scheme's one row (the migration makes it; an emptied database gets it back with the defaults)."""
    row = db.session.get(ReviewScheme, 1)
    if row is None:
        row = ReviewScheme(id=1, files_per_adviser=2, days_to_complete=30)
        db.session.add(row)
        db.session.flush()
    return row


def checklist(*, active_only: bool = True) -> list[ChecklistItem]:
    query = select(ChecklistItem).order_by(ChecklistItem.position, ChecklistItem.id)
    if active_only:
        query = query.where(ChecklistItem.active.is_(True))
    return list(db.session.scalars(query))


@dataclass
class SchemeChange:
    """What the manager submits on the scheme page: the numbers, each item's wording, which stay in use,
    and an optional new item."""

    files_per_adviser: int | None
    days_to_complete: int | None
    wording: dict[int, str]
    in_use: set[int]
    new_item: str = ""


def scheme_page(manager: Staff) -> tuple[ReviewScheme, list[ChecklistItem]]:
    _require_manager(manager)
    return scheme(), checklist(active_only=False)


def change_scheme(manager: Staff, change: SchemeChange) -> ReviewScheme:
    """The manager's numbers and checklist. Samples already drawn keep the wording they were drawn with."""
    _require_manager(manager)
    errors: dict[str, str] = {}
    if change.files_per_adviser is None or not 1 <= change.files_per_adviser <= MAX_FILES:
        errors["files_per_adviser"] = f"Enter how many files to review per adviser each quarter, from 1 to {MAX_FILES}."
    if change.days_to_complete is None or not 1 <= change.days_to_complete <= MAX_DAYS:
        errors["days_to_complete"] = f"Enter the number of days after the quarter to finish its reviews, from 1 to {MAX_DAYS}."
    items = checklist(active_only=False)
    wording = {}
    for item in items:
        label = clean_text(change.wording.get(item.id, item.label))
        check_text(errors, f"item-{item.id}", label, "the wording of each checklist item", LABEL_LIMIT, required=True)
        wording[item.id] = label
    new_item = clean_text(change.new_item)
    check_text(errors, "new_item", new_item, "the new checklist item", LABEL_LIMIT)
    if not (change.in_use & {i.id for i in items}) and not new_item:
        errors["new_item"] = "Keep at least one checklist item in use."
    if errors:
        raise InvalidAnswers(errors)
    row = scheme()
    row.files_per_adviser, row.days_to_complete = change.files_per_adviser, change.days_to_complete
    row.updated_at, row.updated_by_id = utcnow(), manager.id
    for item in items:
        item.label, item.active = wording[item.id], item.id in change.in_use
    added = None
    if new_item:
        added = ChecklistItem(label=new_item, active=True, position=max((i.position for i in items), default=0) + 1)
        db.session.add(added)
        db.session.flush()
    audit.record(manager, "file_review.scheme_changed", row, files_per_adviser=row.files_per_adviser,
                 days_to_complete=row.days_to_complete, in_use=sorted(change.in_use & set(wording)),
                 added_item=added.id if added else None)
    db.session.commit()
    return row


# --- drawing the sample ----------------------------------------------------------------------------------

def advice_officers() -> list[Staff]:
    """Who may review and be reviewed: the active advice officers (the manager is one)."""
    return list(db.session.scalars(select(Staff).where(Staff.active.is_(True), Staff.role.in_(ADVICE_OFFICERS))
                                   .order_by(Staff.name, Staff.id)))


def files_by_adviser(quarter: str) -> dict[int, list[int]]:
    """Each active advice officer's case files worked in the quarter (open during it, whether still open or
    closed since), by case id: the order the draw depends on."""
    first, last = quarter_bounds(quarter)
    officers = [s.id for s in advice_officers()]
    start, end = local_to_utc(first, time(0, 0)), local_to_utc(last + timedelta(days=1), time(0, 0))
    rows = db.session.execute(
        select(Case.assigned_to_id, Case.id)
        .where(Case.assigned_to_id.in_(officers), Case.anonymised_at.is_(None), Case.opened_at < end,
               or_(Case.closed_at.is_(None), Case.closed_at >= start))
        .order_by(Case.assigned_to_id, Case.id)
    ).all()
    out: dict[int, list[int]] = defaultdict(list)
    for adviser_id, case_id in rows:
        out[adviser_id].append(case_id)
    return dict(out)


@dataclass(frozen=True)
class Drawn:
    case_id: int
    adviser_id: int
    reviewer_id: int


def choose(seed: str, files: dict[int, list[int]], per_adviser: int, reviewer_id: int,
           second_reviewer_id: int | None) -> list[Drawn]:
    """The draw itself, with nothing but its inputs: the same seed and files give the same sample."""
    rng = random.Random(seed)
    drawn = []
    for adviser_id in sorted(files):
        reviewer = second_reviewer_id if adviser_id == reviewer_id else reviewer_id
        if reviewer is None:
            continue  # the reviewer's own files, with nobody else to review them
        candidates = sorted(files[adviser_id])
        for case_id in sorted(rng.sample(candidates, min(per_adviser, len(candidates)))):
            drawn.append(Drawn(case_id, adviser_id, reviewer))
    return drawn


def _reviewable(files: dict[int, list[int]], officers: dict, reviewer_id: int,
                second_reviewer_id: int | None) -> dict[int, list[int]]:
    """Leave out the files behind an ethical wall from whoever would review them."""
    walled = {rid: wall.walled_case_ids(officers[rid]) for rid in {reviewer_id, second_reviewer_id} - {None}}
    return {adviser: [c for c in cases
                      if c not in walled.get(second_reviewer_id if adviser == reviewer_id else reviewer_id, ())]
            for adviser, cases in files.items()}


def new_seed() -> str:
    return str(secrets.randbelow(10**12))


def draw_sample(manager: Staff, quarter: str, *, reviewer_id: int | None, second_reviewer_id: int | None = None,
                seed: str | None = None) -> ReviewSample:
    """Draw a quarter's sample once, with the given seed or a new one (recorded either way)."""
    _require_manager(manager)
    errors: dict[str, str] = {}
    quarter = _checked_quarter(errors, quarter)
    officers = {s.id: s for s in advice_officers()}
    if reviewer_id not in officers:
        errors["reviewer_id"] = "Choose the reviewer from the advice officers."
    if second_reviewer_id is not None and (second_reviewer_id not in officers or second_reviewer_id == reviewer_id):
        errors["second_reviewer_id"] = "Choose another advice officer to review the reviewer's own files, or nobody."
    seed = clean_text(seed) or new_seed()
    if not SEED.match(seed):
        errors["seed"] = "Use up to 40 letters, digits and hyphens for the seed, or leave it blank."
    if "quarter" not in errors and db.session.scalar(select(ReviewSample.id).where(ReviewSample.quarter == quarter)):
        errors["quarter"] = f"The sample for {quarter} has already been drawn."
    if errors:
        raise InvalidAnswers(errors)
    rules = scheme()
    now = utcnow()
    sample = ReviewSample(quarter=quarter, seed=seed, files_per_adviser=rules.files_per_adviser,
                          reviewer_id=reviewer_id, second_reviewer_id=second_reviewer_id, drawn_by_id=manager.id,
                          drawn_at=now)
    db.session.add(sample)
    db.session.flush()
    due_on = quarter_bounds(quarter)[1] + timedelta(days=rules.days_to_complete)
    items = checklist()
    drawn = choose(seed, _reviewable(files_by_adviser(quarter), officers, reviewer_id, second_reviewer_id),
                   rules.files_per_adviser, reviewer_id, second_reviewer_id)
    for d in drawn:
        review = FileReview(sample_id=sample.id, case_id=d.case_id, adviser_id=d.adviser_id, reviewer_id=d.reviewer_id,
                            quarter=quarter, status=ReviewStatus.DUE.value, due_on=due_on, drawn_at=now)
        review.items = [ReviewFinding(case_id=d.case_id, item_id=i.id, position=n, label=i.label)
                        for n, i in enumerate(items, 1)]
        db.session.add(review)
        db.session.flush()
        audit_case(manager, "file_review.drawn", review.case, review, quarter=quarter, adviser=d.adviser_id,
                   reviewer=d.reviewer_id)
    audit.record(manager, "file_review.sample_drawn", sample, quarter=quarter, seed=seed, files=len(drawn),
                 reviewer=reviewer_id, second_reviewer=second_reviewer_id)
    for staff_id in sorted({d.reviewer_id for d in drawn}):  # written with the sample (the outbox), sent after
        mail.send(officers[staff_id].email, "file_review_due")
    db.session.commit()
    return sample


def samples() -> list[ReviewSample]:
    return list(db.session.scalars(select(ReviewSample).order_by(ReviewSample.quarter.desc())))


# --- the reviewer's work ---------------------------------------------------------------------------------

def _review(review_id: int, staff: Staff) -> FileReview:
    """The review; behind an ethical wall from its case, not found (and the attempt audited)."""
    review = db.session.scalar(select(FileReview).where(FileReview.id == review_id)
                               .options(joinedload(FileReview.case), joinedload(FileReview.adviser),
                                        joinedload(FileReview.reviewer)))
    if review is None:
        raise NotFound()
    wall.refuse_if_walled(staff, review.case)
    return review


def open_review(staff: Staff, review_id: int) -> FileReview:
    """The review with the file, for its reviewer or the manager (who supervises); anyone else: not found.
    It shows the student's record, so it is audited as a view of the case."""
    review = _review(review_id, staff)
    if staff.id != review.reviewer_id and staff.role not in MANAGERS:
        raise NotFound()
    record_view(staff, "file_review.opened", review.case, review_id=review.id)
    return review


def _for_reviewer(reviewer: Staff, review_id: int) -> FileReview:
    review = _review(review_id, reviewer)
    if reviewer.id != review.reviewer_id:
        if reviewer.role in MANAGERS:
            raise PermissionDenied("Only the file's reviewer can record the review.")
        raise NotFound()
    if review.status == ReviewStatus.CLOSED.value:
        raise InvalidAnswers({"form": "This review is closed."})
    return review


def _started(review: FileReview) -> None:
    if review.status == ReviewStatus.DUE.value:
        review.status, review.started_at = ReviewStatus.IN_PROGRESS.value, utcnow()


def record_findings(reviewer: Staff, review_id: int, results: dict[int, tuple[str | None, str | None]],
                    findings: str) -> FileReview:
    """The checklist (met, not met or not applicable, each with a note) and the overall findings. Items
    left unanswered stay open; a note explains an item not met."""
    review = _for_reviewer(reviewer, review_id)
    errors: dict[str, str] = {}
    answers = {}
    for item in review.items:
        result, note = results.get(item.id, (None, None))
        result = result or None
        note = clean_text(note, multiline=True)
        if result is not None and result not in RESULT_LABELS:
            errors[f"result-{item.id}"] = "Choose met, not met or not applicable."
        elif result == FindingResult.NOT_MET.value and not note:
            errors[f"note-{item.id}"] = f"Say what is missing for \u201c{item.label}\u201d."
        check_text(errors, f"note-{item.id}", note, "each note", NOTE_LIMIT)
        answers[item.id] = (result, note)
    findings = clean_text(findings, multiline=True)
    check_text(errors, "findings", findings, "the findings", FINDINGS_LIMIT)
    if errors:
        raise InvalidAnswers(errors)
    for item in review.items:
        item.result, note = answers[item.id]
        item.note = note or None
    review.findings = findings or None
    _started(review)
    audit_case(reviewer, "file_review.findings_recorded", review.case, review,
               answered=sum(1 for i in review.items if i.result), not_met=sum(
                   1 for i in review.items if i.result == FindingResult.NOT_MET.value))
    db.session.commit()
    return review


def add_action(reviewer: Staff, review_id: int, text: str, due_on: date | None) -> ReviewAction:
    """Something the adviser must do on the file, by a date. Added after the feedback went, it reopens the
    review's actions and the adviser is told again."""
    review = _for_reviewer(reviewer, review_id)
    errors: dict[str, str] = {}
    text = clean_text(text, multiline=True)
    check_text(errors, "text", text, "what the adviser must do", NOTE_LIMIT, required=True)
    if due_on is None:
        errors["due_on"] = "Enter the date it must be done by."
    elif due_on < today_local():
        errors["due_on"] = "The date must be today or later."
    if errors:
        raise InvalidAnswers(errors)
    action = ReviewAction(review_id=review.id, case_id=review.case_id, due_on=due_on)
    action.text = text
    review.actions.append(action)
    _started(review)
    db.session.flush()
    told = review.feedback_sent_at is not None
    if told:
        review.status = ReviewStatus.ACTIONS_OPEN.value
    audit_case(reviewer, "file_review.action_added", review.case, action, review_id=review.id, due_on=due_on.isoformat())
    if told:
        mail.send(review.adviser.email, "file_review_feedback")
    db.session.commit()
    return action


def send_feedback(reviewer: Staff, review_id: int) -> FileReview:
    """The findings and actions go to the adviser, once every checklist item is answered."""
    review = _for_reviewer(reviewer, review_id)
    errors = {}
    if any(item.result is None for item in review.items):
        errors["form"] = "Answer every checklist item before sending the feedback."
    elif not review.findings:
        errors["findings"] = "Write the overall findings before sending the feedback."
    elif review.feedback_sent_at is not None:
        errors["form"] = "The feedback has already been sent."
    if errors:
        raise InvalidAnswers(errors)
    review.feedback_sent_at = utcnow()
    if any(a.done_at is None for a in review.actions):
        review.status = ReviewStatus.ACTIONS_OPEN.value
    audit_case(reviewer, "file_review.feedback_sent", review.case, review, actions=len(review.actions))
    mail.send(review.adviser.email, "file_review_feedback")
    db.session.commit()
    return review


def close_review(reviewer: Staff, review_id: int, note: str = "") -> FileReview:
    """Closed by the reviewer once the feedback has gone and every action is done, or with the reason it
    closes with actions still open."""
    review = _for_reviewer(reviewer, review_id)
    open_actions = sum(1 for a in review.actions if a.done_at is None)
    note = clean_text(note, multiline=True)
    errors: dict[str, str] = {}
    if review.feedback_sent_at is None:
        errors["form"] = "Send the feedback to the adviser before closing the review."
    elif open_actions and not note:
        errors["note"] = "Some actions are not done yet: say why the review closes anyway."
    check_text(errors, "note", note, "the reason", NOTE_LIMIT)
    if errors:
        raise InvalidAnswers(errors)
    review.status, review.closed_at = ReviewStatus.CLOSED.value, utcnow()
    if note:
        review.closing_note = note
    audit_case(reviewer, "file_review.closed", review.case, review, open_actions=open_actions)
    db.session.commit()
    return review


# --- the adviser's side ----------------------------------------------------------------------------------

def feedback_for_adviser(adviser: Staff, review_id: int) -> FileReview:
    """A review of the adviser's own file, once its feedback has been sent; anyone else's: not found."""
    review = _review(review_id, adviser)
    if review.adviser_id != adviser.id or review.feedback_sent_at is None:
        raise NotFound()
    record_view(adviser, "file_review.feedback_viewed", review.case, review_id=review.id)
    return review


def feedback_waiting(adviser: Staff) -> list[FileReview]:
    """For the dashboard: reviews of the adviser's files whose feedback has come and that are not closed."""
    return list(db.session.scalars(
        select(FileReview).where(FileReview.adviser_id == adviser.id, FileReview.feedback_sent_at.is_not(None),
                                 FileReview.status != ReviewStatus.CLOSED.value)
        .options(joinedload(FileReview.case)).order_by(FileReview.feedback_sent_at)))


def reviews_to_do(reviewer: Staff) -> list[FileReview]:
    """For the dashboard: the files waiting for this reviewer."""
    return list(db.session.scalars(
        select(FileReview).where(FileReview.reviewer_id == reviewer.id, FileReview.status != ReviewStatus.CLOSED.value)
        .options(joinedload(FileReview.case)).order_by(FileReview.due_on, FileReview.id)))


def reviews_of_case(staff: Staff, case_id: int) -> list[FileReview]:
    """For the case page: the reviews of this file that are the member of staff's to work or read (the
    reviewer's, the manager's, the adviser's once the feedback has come)."""
    query = select(FileReview).where(FileReview.case_id == case_id).order_by(FileReview.quarter.desc())
    if staff.role not in MANAGERS:
        query = query.where(or_(FileReview.reviewer_id == staff.id, (FileReview.adviser_id == staff.id)
                                & FileReview.feedback_sent_at.is_not(None)))
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class CaseReviewLink:
    """A review as the case page lists it: where this member of staff goes for it, in words."""

    review_id: int
    quarter: str
    status: str
    to_review_page: bool  # the review itself (its reviewer, the manager); else the adviser's feedback
    label: str


def review_links(staff: Staff, case_id: int) -> list[CaseReviewLink]:
    links = []
    for r in reviews_of_case(staff, case_id):
        reviewing = r.reviewer_id == staff.id or staff.role in MANAGERS
        label = ("Work through the checklist" if r.reviewer_id == staff.id and r.status != ReviewStatus.CLOSED.value
                 else "Read the review" if reviewing else "Read the feedback")
        links.append(CaseReviewLink(r.id, r.quarter, STATUS_LABELS[r.status], reviewing, label))
    return links


def mark_action_done(adviser: Staff, review_id: int, action_id: int) -> ReviewAction:
    """The adviser says an action is done; the reviewer can then close the review."""
    review = _review(review_id, adviser)
    action = db.session.get(ReviewAction, action_id)
    if action is None or action.review_id != review.id or review.adviser_id != adviser.id \
            or review.feedback_sent_at is None:
        raise NotFound()
    if review.status == ReviewStatus.CLOSED.value:
        raise InvalidAnswers({"form": "This review is closed."})
    if action.done_at is not None:
        raise InvalidAnswers({"form": "That action is already marked done."})
    action.done_at, action.done_by_id = utcnow(), adviser.id
    audit_case(adviser, "file_review.action_done", review.case, action, review_id=review.id)
    db.session.commit()
    return action


# --- the overview and the assessor's list ----------------------------------------------------------------

def is_overdue(review: FileReview, today: date | None = None) -> bool:
    return review.status != ReviewStatus.CLOSED.value and (today or today_local()) > review.due_on


def action_overdue(action: ReviewAction, today: date | None = None) -> bool:
    return action.done_at is None and action.due_on < (today or today_local())


@dataclass
class OverviewRow:
    quarter: str
    adviser: Staff
    due: int = 0
    overdue: int = 0
    done: int = 0


def _visible_reviews(staff: Staff, quarter: str | None = None):
    query = (select(FileReview).options(joinedload(FileReview.case), joinedload(FileReview.adviser),
                                        joinedload(FileReview.reviewer))
             .order_by(FileReview.quarter.desc(), FileReview.adviser_id, FileReview.id))
    if staff.role not in MANAGERS:  # an adviser sees the reviews of their own files and those they review
        query = query.where(or_(FileReview.adviser_id == staff.id, FileReview.reviewer_id == staff.id))
    if quarter:
        query = query.where(FileReview.quarter == quarter)
    return list(db.session.scalars(query).unique())


@dataclass
class Overview:
    rows: list[OverviewRow]
    reviews: list[FileReview]
    quarters: list[str]


def overview(staff: Staff, quarter: str | None = None) -> Overview:
    """Reviews due, overdue and done per adviser and quarter: all of them for the manager, an adviser's own
    (and those they review) for anyone else."""
    quarter = quarter if quarter and QUARTER.match(quarter) else None
    reviews = _visible_reviews(staff, quarter)
    today = today_local()
    rows: dict[tuple[str, int], OverviewRow] = {}
    for r in reviews:
        row = rows.setdefault((r.quarter, r.adviser_id), OverviewRow(r.quarter, r.adviser))
        if r.status == ReviewStatus.CLOSED.value:
            row.done += 1
        elif is_overdue(r, today):
            row.overdue += 1
        else:
            row.due += 1
    record_view(staff, "file_review.overview_viewed", quarter=quarter)
    quarters = sorted({q for (q,) in db.session.execute(select(FileReview.quarter).distinct())}, reverse=True)
    return Overview(list(rows.values()), reviews, quarters)


def assessor_csv(manager: Staff) -> str:
    """Every review for the assessor, without any student's name or words: who, when, the case's reference
    and area, the checklist results, how many actions and how many done."""
    _require_manager(manager)
    reviews = _visible_reviews(manager)
    width = max((len(r.items) for r in reviews), default=len(checklist()))
    header = ["quarter", "adviser", "reviewer", "case reference", "area", "drawn on", "due by", "feedback sent on",
              "closed on", "status", *[f"checklist {n}" for n in range(1, width + 1)], "actions", "actions done"]
    rows = []
    for r in reviews:
        results = [f"{i.label}: {RESULT_LABELS.get(i.result, 'not answered')}" for i in r.items]
        rows.append([r.quarter, r.adviser.name, r.reviewer.name, r.case.reference, r.case.area_code,
                     _day(r.drawn_at), r.due_on.isoformat(), _day(r.feedback_sent_at), _day(r.closed_at),
                     STATUS_LABELS[r.status], *results, *[""] * (width - len(results)), str(len(r.actions)),
                     str(sum(1 for a in r.actions if a.done_at is not None))])
    audit.record(manager, "file_review.exported", None, reviews=len(rows))
    db.session.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _day(moment) -> str:
    return moment.date().isoformat() if moment is not None else ""
