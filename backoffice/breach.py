"""Breaches and incidents: the breach-of-confidentiality procedure, the manager's notices, security incidents."""

from __future__ import annotations

from datetime import date, time

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import BooleanField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from backoffice import bp
from shared.casework import cases as casework
from shared.consent import breach
from shared.consent import gate as consent
from shared.models import utcnow
from shared.platform.errors import InvalidAnswers
from shared.platform.forms import Form, FriendlyDateField, RecordCheckboxField
from shared.security.authz import ADVICE_OFFICERS, MANAGERS, roles
from shared.subject_access.deadlines import service_today
from shared.web.casework_views import show_errors

METHODS = [("email", "Email"), ("phone", "Phone"), ("letter", "Letter"), ("in_person", "In person"), ("other", "Other")]


class ConsultationRequestForm(Form):
    ground = RadioField("Ground", choices=list(breach.GROUND_LABELS.items()), validate_choice=False,
                        description="There are no other grounds. If neither applies, confidentiality must not be breached.")
    situation = TextAreaField("Outline of the situation and the reason for breaching confidentiality")
    achieves = TextAreaField("What breaching confidentiality would achieve")
    recipient_name = StringField("To be disclosed to (person or team)")
    recipient_organisation = StringField("Their organisation")
    consultee_ids = RecordCheckboxField("Advice officers to ask for advice",
                                       description="Other advice officers only: you cannot consult yourself. Each is told "
                                                   "in the back office and records their advice there.")
    submit = SubmitField("Ask for advice")


class AdviceForm(Form):
    advice = TextAreaField("Your advice", description="In your own words. Once recorded it cannot be changed.")
    submit = SubmitField("Record my advice")


class DecisionForm(Form):
    proceed = RadioField("Your decision", choices=[("yes", "Breach confidentiality and disclose"),
                                                   ("no", "Do not breach confidentiality")], validate_choice=False)
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
    urgent = BooleanField("There is a serious and imminent danger to life and no time to wait for advice")
    urgent_reason = TextAreaField("Why there is no time to wait",
                                  description="Recorded with the breach. The officers you asked are still told and can "
                                              "still give their advice; the record shows it came after your decision.")
    submit = SubmitField("Record my decision")


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


@bp.get("/breaches")
def breaches():
    return render_template("backoffice/breach/index.html", rows=breach.breaches_overview(current_user),
                           incidents=breach.open_incidents(), labels=breach.GROUND_LABELS,
                           may_resolve=current_user.role in MANAGERS)


@bp.route("/cases/<reference>/breach", methods=["GET", "POST"])
@roles(*ADVICE_OFFICERS)
def breach_new(reference):
    case = casework.case_for_staff(current_user, reference)
    form = ConsultationRequestForm()
    form.consultee_ids.choices = [(s.id, f"{s.name}, {s.job_title}") for s in breach.consultees_for(current_user)]
    if form.validate_on_submit():
        proposal = breach.Proposal(
            ground=form.ground.data or "", situation=form.situation.data, achieves=form.achieves.data,
            recipient_name=form.recipient_name.data, recipient_organisation=form.recipient_organisation.data,
            consultee_ids=form.consultee_ids.data or [])
        try:
            req = breach.request_consultation(current_user, reference, proposal)
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            flash("Your request for advice has been sent. You can decide once an officer you asked has given their "
                  "advice.", "success")
            return redirect(url_for("backoffice.breach_request", request_id=req.id))
    return render_template("backoffice/breach/new.html", form=form, case=case)


@bp.get("/breach-requests/<int:request_id>")
def breach_request(request_id, advice_form=None, decision_form=None):
    req = breach.request_for_staff(current_user, request_id)
    student_label, case_ref = breach.identity(req)
    if decision_form is None:
        decision_form = DecisionForm(formdata=None, recipient_name=req.recipient_name,
                                     recipient_organisation=req.recipient_organisation)
    return render_template("backoffice/breach/request.html", r=req, record=breach.record_for_request(req.id),
                           student_email=student_label, case_ref=case_ref, labels=breach.GROUND_LABELS,
                           advice_officer=current_user.role in ADVICE_OFFICERS,
                           advice_form=advice_form or AdviceForm(), decision_form=decision_form)


def _post(form, call, page):
    """A breach form's POST: the service (returning what to say and where to go next), its named errors beside
    the fields, or the page again with a 400."""
    if form.validate_on_submit():
        try:
            message, target = call()
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            flash(message, "success")
            return redirect(target)
    return page(), 400


@bp.post("/breach-requests/<int:request_id>/advice")
@roles(*ADVICE_OFFICERS)
def breach_advise(request_id):
    form = AdviceForm()

    def advise():
        breach.give_advice(current_user, request_id, form.advice.data)
        return ("Your advice has been recorded. The officer who asked can now decide.",
                url_for("backoffice.breach_request", request_id=request_id))

    return _post(form, advise, lambda: breach_request(request_id, advice_form=form))


@bp.post("/breach-requests/<int:request_id>/decision")
@roles(*ADVICE_OFFICERS)
def breach_decide(request_id):
    form = DecisionForm()

    def decide():
        record = breach.decide(current_user, request_id, breach.BreachDecision(
            proceed={"yes": True, "no": False}.get(form.proceed.data),
            recipient_name=form.recipient_name.data, recipient_organisation=form.recipient_organisation.data,
            scope=form.scope.data or "", what=form.what.data, method=form.method.data or "",
            student_told={"yes": True, "no": False}.get(form.student_told.data),
            student_told_at=_moment(form.student_told_on.data or service_today()),
            not_told_reason=form.not_told_reason.data or "",
            urgent=bool(form.urgent.data), urgent_reason=form.urgent_reason.data or ""))
        if record is None:
            return ("Recorded: confidentiality will not be breached.",
                    url_for("backoffice.breach_request", request_id=request_id))
        return ("The breach of confidentiality and the disclosure have been recorded. The manager has been notified.",
                url_for("backoffice.breach_show", breach_id=record.id))

    return _post(form, decide, lambda: breach_request(request_id, decision_form=form))


@bp.get("/breaches/<int:breach_id>")
def breach_show(breach_id, form=None):
    record = breach.breach_for_staff(current_user, breach_id)
    student_label, case_ref = breach.identity(record)
    return render_template("backoffice/breach/show.html", b=record, addenda=breach.addenda(record.id),
                           student_email=student_label, case_ref=case_ref,
                           labels=breach.GROUND_LABELS, form=form or AddendumForm())


@bp.post("/breaches/<int:breach_id>/addenda")
def breach_addendum(breach_id):
    form = AddendumForm()

    def add():
        breach.add_addendum(current_user, breach_id, form.text.data, _moment(form.student_told_on.data))
        return "Added to the record.", url_for("backoffice.breach_show", breach_id=breach_id)

    return _post(form, add, lambda: breach_show(breach_id, form=form))


@bp.post("/notices/<int:notice_id>/read")
@roles(*MANAGERS)
def notice_read(notice_id):
    breach.mark_notice_read(current_user, notice_id)
    return redirect(url_for("backoffice.dashboard"))


@bp.route("/incidents/new", methods=["GET", "POST"])
def incident_new():
    form = IncidentForm()
    if form.validate_on_submit():
        try:
            breach.report_incident(current_user, kind=form.kind.data or "", description=form.description.data,
                                   discovered_at=_moment(form.discovered_on.data or service_today()))
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            flash("The security incident has been reported to the manager.", "success")
            return redirect(url_for("backoffice.breaches"))
    return render_template("backoffice/breach/incident_new.html", form=form)


@bp.route("/incidents/<int:incident_id>/resolve", methods=["GET", "POST"])
@roles(*MANAGERS)
def incident_resolve(incident_id):
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            breach.resolve_incident(current_user, incident_id, resolution=form.resolution.data,
                                    ico_notified=bool(form.ico_notified.data))
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            flash("The incident is marked resolved.", "success")
            return redirect(url_for("backoffice.breaches"))
    return render_template("backoffice/breach/incident_resolve.html", form=form, incident_id=incident_id)
