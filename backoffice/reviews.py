"""Independent file review: the manager's scheme and draw, the overview, the reviewer's page, the adviser's
feedback, and the assessor's CSV. Thin views over shared.casework.file_review."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from backoffice import bp
from shared.casework import file_review
from shared.casework.cases import InvalidAnswers
from shared.platform.forms import Form, FriendlyDateField, RecordSelectField, WholeNumber
from shared.security.authz import MANAGERS, roles
from shared.web.casework_views import attachment, show_errors


class SchemeForm(Form):
    files_per_adviser = WholeNumber("Files to review per adviser each quarter")
    days_to_complete = WholeNumber("Days after the quarter ends to finish its reviews")
    new_item = StringField("Add a checklist item (optional)", validators=[Optional()])
    submit = SubmitField("Save the scheme")


class DrawForm(Form):
    quarter = StringField("Quarter", description="Year and quarter, for example 2026-Q4.")
    reviewer_id = RecordSelectField("Reviewer")
    second_reviewer_id = RecordSelectField("Reviewer of the reviewer's own files",
                                           description="A reviewer never reviews their own files. With nobody "
                                                       "chosen, the reviewer's files are left out of this sample.")
    seed = StringField("Seed (optional)", description="Leave blank for a new random seed. The seed is recorded: "
                                                      "the same quarter drawn with the same seed gives the same files.")
    submit = SubmitField("Draw the sample")


class FindingsForm(Form):
    findings = TextAreaField("Overall findings", description="What the adviser does well and what must change.")
    submit = SubmitField("Save the findings")


class ActionForm(Form):
    text = TextAreaField("What the adviser must do")
    due_on = FriendlyDateField("Done by", validators=[Optional()])
    submit = SubmitField("Add the action")


class FeedbackForm(Form):
    submit = SubmitField("Send the feedback to the adviser")


class CloseForm(Form):
    note = TextAreaField("If an action is not done yet, why the review closes anyway (optional otherwise)")
    submit = SubmitField("Close the review")


def _service(call, *args, form=None, **kwargs):
    """Call the service: InvalidAnswers beside the form's
    fields (or flashed, without a form). Returns (result, ok)."""
    try:
        return call(*args, **kwargs), True
    except InvalidAnswers as exc:
        if form is not None:
            show_errors(form, exc)
        else:
            for message in exc.errors.values():
                flash(message, "error")
    return None, False


@bp.get("/file-reviews")
def reviews_overview():
    view = file_review.overview(current_user, request.args.get("quarter"))
    return render_template("backoffice/reviews/overview.html", view=view, selected=request.args.get("quarter"),
                           manages=current_user.role in MANAGERS,
                           statuses=file_review.STATUS_LABELS, is_overdue=file_review.is_overdue)


def _scheme_change(form: SchemeForm, items) -> file_review.SchemeChange:
    """The scheme page's numbers, and for each item its wording (item-<id>) and whether it stays in use
    (in-use-<id>)."""
    return file_review.SchemeChange(
        files_per_adviser=form.files_per_adviser.data, days_to_complete=form.days_to_complete.data,
        wording={i.id: request.form.get(f"item-{i.id}", "") for i in items},
        in_use={i.id for i in items if request.form.get(f"in-use-{i.id}")}, new_item=form.new_item.data or "")


@bp.route("/file-reviews/scheme", methods=["GET", "POST"])
@roles(*MANAGERS)
def review_scheme():
    scheme, items = file_review.scheme_page(current_user)
    if request.method == "GET":
        return render_template("backoffice/reviews/scheme.html", form=SchemeForm(formdata=None, obj=scheme),
                               items=items, submitted=None)
    form = SchemeForm()
    if form.validate_on_submit():
        _, ok = _service(file_review.change_scheme, current_user, _scheme_change(form, items), form=form)
        if ok:
            flash("The review scheme has been saved.", "success")
            return redirect(url_for("backoffice.review_scheme"))
    return render_template("backoffice/reviews/scheme.html", form=form, items=items, submitted=request.form), 400


@bp.route("/file-reviews/draw", methods=["GET", "POST"])
@roles(*MANAGERS)
def review_draw():
    form = DrawForm() if request.method == "POST" else DrawForm(
        formdata=None, quarter=file_review.current_quarter(), reviewer_id=current_user.id)
    officers = [(s.id, f"{s.name}, {s.job_title}") for s in file_review.advice_officers()]
    form.reviewer_id.choices = officers
    form.second_reviewer_id.choices = [("", "Nobody")] + officers
    if request.method == "POST":
        if form.validate_on_submit():
            sample, ok = _service(file_review.draw_sample, current_user, form.quarter.data,
                                  reviewer_id=form.reviewer_id.data, second_reviewer_id=form.second_reviewer_id.data,
                                  seed=form.seed.data, form=form)
            if ok:
                flash(f"The sample for {sample.quarter} has been drawn with seed {sample.seed}.", "success")
                return redirect(url_for("backoffice.reviews_overview", quarter=sample.quarter))
        return render_template("backoffice/reviews/draw.html", form=form, samples=file_review.samples()), 400
    return render_template("backoffice/reviews/draw.html", form=form, samples=file_review.samples())


def _review_page(review_id, findings_form=None, action_form=None, close_form=None, feedback_form=None, status=200):
    review, _ = _service(file_review.open_review, current_user, review_id)
    findings_form = findings_form or FindingsForm(formdata=None, findings=review.findings)
    return render_template("backoffice/reviews/review.html", review=review, results=file_review.RESULT_LABELS,
                           statuses=file_review.STATUS_LABELS, overdue=file_review.is_overdue(review),
                           findings_form=findings_form, action_form=action_form or ActionForm(formdata=None),
                           close_form=close_form or CloseForm(formdata=None),
                           feedback_form=feedback_form or FeedbackForm(formdata=None),
                           submitted=request.form if status != 200 else None), status


@bp.get("/file-reviews/<int:review_id>")
def review_show(review_id):
    return _review_page(review_id)


def _reviewer_post(review_id, form, call, done: str, page_kwarg: str):
    if form.validate_on_submit():
        _, ok = _service(call, form=form)
        if ok:
            flash(done, "success")
            return redirect(url_for("backoffice.review_show", review_id=review_id))
    return _review_page(review_id, **{page_kwarg: form}, status=400)


ANSWER_FIELD = re.compile(r"^(result|note)-(\d{1,9})$")


def _checklist_answers() -> dict[int, tuple[str | None, str | None]]:
    """The checklist's answers as posted: result-<id> (met, not met, not applicable) and note-<id>."""
    answers: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        match = ANSWER_FIELD.match(key)
        if match:
            answers.setdefault(int(match.group(2)), {})[match.group(1)] = value
    return {item_id: (a.get("result"), a.get("note")) for item_id, a in answers.items()}


@bp.post("/file-reviews/<int:review_id>/findings")
def review_findings(review_id):
    form = FindingsForm()
    return _reviewer_post(review_id, form, lambda: file_review.record_findings(
        current_user, review_id, _checklist_answers(), form.findings.data), "The findings have been saved.",
        "findings_form")


@bp.post("/file-reviews/<int:review_id>/actions")
def review_add_action(review_id):
    form = ActionForm()
    return _reviewer_post(review_id, form, lambda: file_review.add_action(
        current_user, review_id, form.text.data, form.due_on.data), "The action has been added.", "action_form")


@bp.post("/file-reviews/<int:review_id>/send-feedback")
def review_send_feedback(review_id):
    form = FeedbackForm()
    return _reviewer_post(review_id, form, lambda: file_review.send_feedback(current_user, review_id),
                          "The feedback has been sent to the adviser.", "feedback_form")


@bp.post("/file-reviews/<int:review_id>/close")
def review_close(review_id):
    form = CloseForm()
    return _reviewer_post(review_id, form, lambda: file_review.close_review(current_user, review_id, form.note.data),
                          "The review is closed.", "close_form")


@bp.get("/file-reviews/<int:review_id>/feedback")
def review_feedback(review_id):
    review, _ = _service(file_review.feedback_for_adviser, current_user, review_id)
    return render_template("backoffice/reviews/feedback.html", review=review, results=file_review.RESULT_LABELS,
                           statuses=file_review.STATUS_LABELS, action_overdue=file_review.action_overdue)


@bp.post("/file-reviews/<int:review_id>/actions/<int:action_id>/done")
def review_action_done(review_id, action_id):
    _, ok = _service(file_review.mark_action_done, current_user, review_id, action_id)
    if ok:
        flash("The action is marked done.", "success")
    return redirect(url_for("backoffice.review_feedback", review_id=review_id))


@bp.get("/file-reviews/assessor.csv")
@roles(*MANAGERS)
def reviews_csv():
    body, _ = _service(file_review.assessor_csv, current_user)
    return attachment(body, "file-reviews.csv", "text/csv; charset=utf-8")
