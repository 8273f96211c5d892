"""Access to my records: ask for a copy, follow it, download it while signed in."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from portal import bp
from shared.models import Case
from shared.platform import clock
from shared.platform.errors import ServiceError
from shared.platform.extensions import db
from shared.platform.forms import Form
from shared.subject_access import copies as sar_copies
from shared.subject_access import reading as sar_reading
from shared.subject_access import requests as access
from shared.web.casework_views import streamed_attachment


class AccessRequestForm(Form):
    scope = RadioField(
        "What would you like a copy of?",
        validators=[InputRequired(message="Choose what you would like a copy of.")],
        default="all",
    )
    note = TextAreaField(
        "Anything we should know (optional)",
        validators=[Length(max=access.NOTE_MAX, message=f"Keep the note under {access.NOTE_MAX} characters.")],
        description="For example, a period or a topic you are most interested in. You do not have to give a reason.",
    )
    submit = SubmitField("Ask for my copy")


def _case_choices(student) -> list[tuple[str, str]]:
    cases = db.session.execute(
        select(Case.id, Case.reference).where(Case.student_id == student.id).order_by(Case.opened_at)
    ).all()
    return [SelectChoice("all", "Everything we hold about you")] + [SelectChoice(str(c.id), f"Only enquiry {c.reference}") for c in cases]


@bp.get("/records")
def access_index():
    return render_template("portal/access/index.html",
                           requests=[sar_reading.for_student_view(r) for r in sar_reading.requests_of(current_user)])


@bp.route("/records/request", methods=["GET", "POST"])
def access_new():
    form = AccessRequestForm()
    form.scope.choices = _case_choices(current_user)
    if form.validate_on_submit():
        case_id = None if form.scope.data == "all" else int(form.scope.data)
        try:
            req = access.request_copy(current_user, case_id=case_id, note=form.note.data)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(f"We have your request ({req.reference}). We will reply by {clock.format_day(req.due_on)}.", "success")
            return redirect(url_for("portal.access_show", request_id=req.id))
    return render_template("portal/access/new.html", form=form)


@bp.get("/records/<int:request_id>")
def access_show(request_id):
    req = sar_reading.for_student(current_user, request_id)
    return render_template("portal/access/show.html", req=req, view=sar_reading.for_student_view(req),
                           job=sar_reading.current_job(req))


@bp.get("/records/<int:request_id>/download")
def access_download(request_id):
    try:
        filename, chunks, size = sar_copies.download(current_user, request_id)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("portal.access_show", request_id=request_id))
    return streamed_attachment(chunks, filename, "application/pdf", size)
