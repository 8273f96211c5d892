"""Access requests in the back office: the queue, pausing, extending, refusing, reviewing with redaction,
marking the copy reviewed, and release (which queues the rendering job). An action the request's state
does not allow (`sar_states.TransitionRefused`) is answered 409 with the service's reason, nothing changed."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import DateField, RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from backoffice import bp
from shared.models import PauseReason, RedactionTarget
from shared.models.access import UNANSWERED_STATUSES
from shared.platform.errors import NotFound, ServiceError
from shared.platform.forms import Form
from shared.subject_access import jobs
from shared.subject_access import reading as sar_reading
from shared.subject_access import requests as access
from shared.subject_access import states as sar_states

REASON_LENGTH = Length(max=access.REASON_MAX, message=f"Keep the reason under {access.REASON_MAX} characters.")


class PauseForm(Form):
    reason = RadioField("What are you waiting for?", choices=[
        SelectChoice(PauseReason.CLARIFICATION.value, "Clarification of what the student is asking for"),
        SelectChoice(PauseReason.IDENTITY.value, "Proof of the student's identity"),
    ], validators=[InputRequired(message="Choose what you are waiting for.")])
    started_on = DateField("Clock stopped on (optional)", validators=[Optional()],
                           description="The day you asked the student. Leave empty for today.")
    submit = SubmitField("Pause the clock")


class ResumeForm(Form):
    ended_on = DateField("Clock restarts on (optional)", validators=[Optional()],
                         description="The day the student's reply arrived. Leave empty for today.")
    submit = SubmitField("Restart the clock")


class ExtendForm(Form):
    months = RadioField("Extend by", choices=[SelectChoice("1", "One month"), SelectChoice("2", "Two months")],
                        validators=[InputRequired(message="Choose how long to extend by.")])
    reason = TextAreaField("Why is this request complex?", validators=[
        DataRequired(message="Give the reason for the extension."), REASON_LENGTH],
        description="The student sees this reason, and is emailed to sign in and read it.")
    submit = SubmitField("Extend and tell the student")


class RefuseForm(Form):
    reason = TextAreaField("Why is this request manifestly unfounded or excessive?", validators=[
        DataRequired(message="Give the reason for refusing."), REASON_LENGTH],
        description="The student sees this reason.")
    submit = SubmitField("Refuse the request")


class RedactForm(Form):
    extent = RadioField("What to withhold", choices=[SelectChoice("whole", "The whole item"), SelectChoice("passage", "A passage within it")],
                        validators=[InputRequired(message="Choose the whole item or a passage.")], default="passage")
    passage = TextAreaField("The passage to withhold", validators=[Length(max=access.REASON_MAX)],
                            description="Copy the words exactly as they appear above. Every occurrence in this item is withheld.")
    reason = TextAreaField("Reason", validators=[DataRequired(message="Give the reason for the redaction."), REASON_LENGTH],
                           description="For example: identifies a third party who has not consented.")
    submit = SubmitField("Withhold")


def _post_action(request_id, call, success: str, back: str):
    """A one-button action: run the service, say how it went, go back. Another's request is a 404; an
    action the request's state refuses is the request page, 409, saying why."""
    try:
        call()
    except sar_states.TransitionRefused as exc:
        return _request_page(request_id, 409, refusal=exc.message)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return redirect(back)


@bp.get("/access")
def access_queue():
    show_all = request.args.get("all") == "1"
    rows = sar_reading.request_queue(current_user, include_closed=show_all)
    return render_template("backoffice/access/queue.html", rows=rows, show_all=show_all,
                           unanswered=UNANSWERED_STATUSES)


def _job_is_stale(req) -> bool:
    job = sar_reading.current_job(req)
    return job is not None and jobs.is_stale(job)


def _request_page(request_id, status=200, refusal=None, **forms):
    req = sar_reading.view_request(current_user, request_id)
    forms.setdefault("pause_form", PauseForm(formdata=None))
    forms.setdefault("resume_form", ResumeForm(formdata=None))
    forms.setdefault("extend_form", ExtendForm(formdata=None))
    forms.setdefault("refuse_form", RefuseForm(formdata=None))
    return render_template("backoffice/access/request.html", req=req, job=sar_reading.current_job(req),
                           job_is_stale=_job_is_stale(req), summary=sar_reading.summary(req),
                           unanswered=UNANSWERED_STATUSES, refusal=refusal, **forms), status


@bp.get("/access/<int:request_id>")
def access_request(request_id):
    return _request_page(request_id)


def _act(request_id, form_name, form, call):
    status = 400
    if form.validate_on_submit():
        try:
            message = call(form)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
            status = 409 if isinstance(exc, sar_states.TransitionRefused) else 400
        else:
            flash(message, "success")
            return redirect(url_for("backoffice.access_request", request_id=request_id))
    return _request_page(request_id, status, **{form_name: form})


@bp.post("/access/<int:request_id>/pause")
def access_pause(request_id):
    return _act(request_id, "pause_form", PauseForm(), lambda f: (
        access.pause(current_user, request_id, f.reason.data, started_on=f.started_on.data), "The clock is paused.")[1])


@bp.post("/access/<int:request_id>/resume")
def access_resume(request_id):
    return _act(request_id, "resume_form", ResumeForm(), lambda f: (
        access.resume(current_user, request_id, ended_on=f.ended_on.data), "The clock is running again.")[1])


@bp.post("/access/<int:request_id>/extend")
def access_extend(request_id):
    return _act(request_id, "extend_form", ExtendForm(), lambda f: (
        access.extend(current_user, request_id, int(f.months.data), f.reason.data),
        "The request is extended and the student has been told.")[1])


@bp.post("/access/<int:request_id>/refuse")
def access_refuse(request_id):
    return _act(request_id, "refuse_form", RefuseForm(), lambda f: (
        access.refuse(current_user, request_id, f.reason.data), "The request is refused; the student has been told.")[1])


@bp.get("/access/<int:request_id>/review")
def access_review(request_id):
    req, record = sar_reading.review_copy(current_user, request_id)
    return render_template("backoffice/access/review.html", req=req, record=record, summary=sar_reading.summary(req),
                           unanswered=UNANSWERED_STATUSES,
                           another_releaser_needed=access.needs_another_releaser(req, current_user))


@bp.route("/access/<int:request_id>/redact/<kind>/<int:item_id>", methods=["GET", "POST"])
def access_redact(request_id, kind, item_id):
    if kind not in {t.value for t in RedactionTarget}:
        raise NotFound(sar_reading.NO_SUCH_REQUEST)
    req, item = access.redaction_target(current_user, request_id, kind, item_id)
    form = RedactForm()
    status = 400
    if form.validate_on_submit():
        passage = form.passage.data if form.extent.data == "passage" else None
        if form.extent.data == "passage" and not (passage or "").strip():
            form.passage.errors.append("Copy the passage to withhold, or choose the whole item.")
        else:
            try:
                access.redact(current_user, request_id, kind, item_id, reason=form.reason.data, passage=passage)
            except sar_states.TransitionRefused as exc:
                form.form_errors.append(exc.message)
                status = 409
            except ServiceError as exc:
                (form.passage.errors if passage else form.form_errors).append(exc.message)
            else:
                flash("Withheld. The redaction is in the log below.", "success")
                return redirect(url_for("backoffice.access_review", request_id=request_id) + "#redaction-log")
    status = status if form.errors or form.form_errors else 200
    return render_template("backoffice/access/redact.html", req=req, item=item, kind=kind, form=form), status


@bp.post("/access/<int:request_id>/redactions/<int:redaction_id>/remove")
def access_unredact(request_id, redaction_id):
    return _post_action(
        request_id,
        lambda: access.remove_redaction(current_user, request_id, redaction_id),
        "The redaction was removed.",
        url_for("backoffice.access_review", request_id=request_id) + "#redaction-log",
    )


@bp.post("/access/<int:request_id>/reviewed")
def access_mark_reviewed(request_id):
    return _post_action(
        request_id,
        lambda: access.mark_reviewed(current_user, request_id),
        "Marked as reviewed. The copy can now be released.",
        url_for("backoffice.access_review", request_id=request_id) + "#release",
    )


@bp.post("/access/<int:request_id>/release")
def access_release(request_id):
    return _post_action(
        request_id,
        lambda: access.release(current_user, request_id),
        "Released. The copy is being produced; the student will be emailed when it is ready.",
        url_for("backoffice.access_request", request_id=request_id),
    )


@bp.post("/access/<int:request_id>/retry")
def access_retry(request_id):
    return _post_action(
        request_id,
        lambda: access.retry(current_user, request_id),
        "The copy is queued again.",
        url_for("backoffice.access_request", request_id=request_id),
    )
