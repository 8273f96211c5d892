"""Breaches and incidents: the breach-of-confidentiality procedure, the manager's notices, security incidents."""

from __future__ import annotations

from datetime import date, time

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from backoffice import bp
from shared import breach, casework, consent
from shared.authz import roles
from shared.casework_web import FriendlyDateField, show_errors
from shared.deadlines import service_today
from shared.errors import NotFound
from shared.extensions import db
from shared.forms import Form
from shared.models import Staff, utcnow

METHODS = [("email", "Email"), ("phone", "Phone"), ("letter", "Letter"), ("in_person", "In person"), ("other", "Other")]


class BreachForm(Form):
    ground = RadioField("Ground", choices=list(breach.GROUND_LABELS.items()), validate_choice=False,
                        description="There are no other grounds. If neither applies, confidentiality must not be breached.")
    situation = TextAreaField("Outline of the situation and the reason for breaching confidentiality")
    achieves = TextAreaField("What breaching confidentiality would achieve")
    consulted_officer_id = SelectField("Officer asked for advice", validate_choice=False,
                                       description="Another advice officer: you cannot consult yourself.")
    advice = TextAreaField("Their advice, in their words")
    consulted_on = FriendlyDateField("When you asked them", validators=[Optional()], description="Leave blank for today.")
    recipient_name = StringField("Disclosed to (person or team)")
    recipient_organisation = StringField("Their organisation")
    scope = RadioField("What was disclosed", choices=[(s, consent.STAFF_SCOPE_LABELS[s]) for s in consent.SCOPE_ORDER],
                       validate_choice=False)
    method = RadioField("How", choices=METHODS, validate_choice=False)
    what = TextAreaField("Exactly what was disclosed")
    student_told = RadioField("Safety ground only: has the student been told?",
                              choices=[("yes", "Yes"), ("no", "No")], validate_choice=False)
    student_told_on = FriendlyDateField("When they were told", validators=[Optional()],
                                        description="Leave blank for today.")
    not_told_reason = TextAreaField("If not, why not")
    submit = SubmitField("Record the breach and the disclosure")


class AddendumForm(Form):
    text = TextAreaField("Add to this record")
    student_told_on = FriendlyDateField("The student was told on (safety ground only, optional)", validators=[Optional()])
    submit = SubmitField("Add to the record")


class IncidentForm(Form):
    kind = RadioField("What happened", choices=list(breach.INCIDENT_KINDS.items()), validate_choice=False)
    description = TextAreaField("Describe it", description="What data, whose (how many people), and what has been done.")
    discovered_on = FriendlyDateField("When it was discovered", validators=[Optional()], description="Leave blank for now.")
    submit = SubmitField("Report the incident")


class ResolveForm(Form):
    resolution = TextAreaField("What was done")
    ico_notified = BooleanField("The ICO has been notified")
    submit = SubmitField("Mark resolved")


def _moment(day: date | None):
    """A day from a form as a moment: now if today, midday if earlier (never in the future)."""
    if day is None:
        return None
    if day == service_today():
        return utcnow()
    return casework.local_to_utc(day, time(12, 0))


@bp.context_processor
def _manager_panels():
    # backoffice/_dashboard_extra.html: notices and open security incidents, for the manager
    return {"manager_notices": breach.unread_notices, "open_incidents": breach.open_incidents,
            "incident_hours_left": breach.hours_left}


@bp.get("/breaches")
def breaches():
    return render_template("backoffice/breach/index.html", rows=breach.breaches_overview(current_user),
                           incidents=breach.open_incidents(), labels=breach.GROUND_LABELS, consent=consent)


@bp.route("/cases/<reference>/breach", methods=["GET", "POST"])
def breach_new(reference):
    try:
        case = casework.case_for_staff(current_user, reference)
    except NotFound:
        abort(404)
    form = BreachForm()
    others = db.session.scalars(select(Staff).where(Staff.active.is_(True), Staff.id != current_user.id).order_by(Staff.name))
    form.consulted_officer_id.choices = [("", "Choose an officer")] + [(str(s.id), f"{s.name}, {s.job_title}") for s in others]
    if form.validate_on_submit():
        officer_id = form.consulted_officer_id.data
        decision = breach.BreachDecision(
            ground=form.ground.data or "", situation=form.situation.data, achieves=form.achieves.data,
            recipient_name=form.recipient_name.data, recipient_organisation=form.recipient_organisation.data,
            scope=form.scope.data or "", what=form.what.data, method=form.method.data or "",
            consultations=[breach.Consultation(int(officer_id) if officer_id and officer_id.isdigit() else None,
                                               form.advice.data or "", _moment(form.consulted_on.data or service_today()))],
            student_told={"yes": True, "no": False}.get(form.student_told.data),
            student_told_at=_moment(form.student_told_on.data or service_today()), not_told_reason=form.not_told_reason.data or "",
        )
        try:
            record = breach.record_breach(current_user, reference, decision)
        except consent.InvalidConsent as exc:
            show_errors(form, exc)
        else:
            flash("The breach of confidentiality and the disclosure have been recorded. The manager has been notified.", "success")
            return redirect(url_for("backoffice.breach_show", breach_id=record.id))
    return render_template("backoffice/breach/new.html", form=form, case=case)


@bp.get("/breaches/<int:breach_id>")
def breach_show(breach_id, form=None):
    try:
        record = breach.breach_for_staff(current_user, breach_id)
    except NotFound:
        abort(404)
    student_label, case_ref = breach.identity(record)
    return render_template("backoffice/breach/show.html", b=record, addenda=breach.addenda(record.id),
                           student_email=student_label, case_ref=case_ref,
                           labels=breach.GROUND_LABELS, consent=consent, form=form or AddendumForm())


@bp.post("/breaches/<int:breach_id>/addenda")
def breach_addendum(breach_id):
    form = AddendumForm()
    if form.validate_on_submit():
        try:
            breach.add_addendum(current_user, breach_id, form.text.data, _moment(form.student_told_on.data))
        except NotFound:
            abort(404)
        except consent.InvalidConsent as exc:
            show_errors(form, exc)
        else:
            flash("Added to the record.", "success")
            return redirect(url_for("backoffice.breach_show", breach_id=breach_id))
    return breach_show(breach_id, form=form), 400


@bp.post("/notices/<int:notice_id>/read")
@roles("manager", "admin")
def notice_read(notice_id):
    try:
        breach.mark_notice_read(current_user, notice_id)
    except NotFound:
        abort(404)
    return redirect(url_for("backoffice.dashboard"))


@bp.route("/incidents/new", methods=["GET", "POST"])
def incident_new():
    form = IncidentForm()
    if form.validate_on_submit():
        try:
            breach.report_incident(current_user, kind=form.kind.data or "", description=form.description.data,
                                   discovered_at=_moment(form.discovered_on.data or service_today()))
        except consent.InvalidConsent as exc:
            show_errors(form, exc)
        else:
            flash("The security incident has been reported to the manager.", "success")
            return redirect(url_for("backoffice.breaches"))
    return render_template("backoffice/breach/incident_new.html", form=form)


@bp.route("/incidents/<int:incident_id>/resolve", methods=["GET", "POST"])
@roles("manager", "admin")
def incident_resolve(incident_id):
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            breach.resolve_incident(current_user, incident_id, resolution=form.resolution.data,
                                    ico_notified=bool(form.ico_notified.data))
        except NotFound:
            abort(404)
        except consent.InvalidConsent as exc:
            show_errors(form, exc)
        else:
            flash("The incident is marked resolved.", "success")
            return redirect(url_for("backoffice.breaches"))
    return render_template("backoffice/breach/incident_resolve.html", form=form, incident_id=incident_id)
