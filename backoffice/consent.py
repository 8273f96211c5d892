"""Sharing through the gate: a case's consents and disclosures, recording a disclosure, recording consent
the student gave an officer (in person, on a signed form, by phone or by email)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from backoffice import bp
from shared.casework import cases as casework
from shared.consent import enquiries as consent_enquiries
from shared.consent import gate as consent
from shared.consent import giving as consent_giving
from shared.consent import history as student_history
from shared.consent import requests as consent_requests
from shared.consent import sharing as case_sharing
from shared.consent.forms import ConsentDetailsForm
from shared.platform.errors import ConsentRequired, InvalidAnswers, ServiceError
from shared.platform.forms import (
    Form,
    FriendlyDateField,
    RecordCheckboxField,
    RecordRadioField,
    RecordSelectField,
)
from shared.security.authz import ADVICE_OFFICERS
from shared.web.casework_views import show_errors

METHOD_LABELS = {"email": "Email", "phone": "Phone", "letter": "Letter", "in_person": "In person", "other": "Other"}


class DisclosureForm(Form):
    consent_id = RecordRadioField("Share with",
                                  description="Only people a valid consent names for this case are offered.")
    scope = RadioField("What was shared", choices=[(s, consent.STAFF_SCOPE_LABELS[s]) for s in consent.SCOPE_ORDER],
                       validate_choice=False)
    document_ids = RecordCheckboxField("Which documents (if documents were shared)")
    method = RadioField("How", choices=list(METHOD_LABELS.items()), validate_choice=False)
    what = TextAreaField("What exactly was shared", description="Enough to show later what left the service.")
    submit = SubmitField("Record the disclosure")


class RecordConsentForm(ConsentDetailsForm):
    method = RadioField("How did the student give consent?",
                        choices=[(m, consent_giving.COLLECTION_METHODS[m]) for m in consent_giving.OFFICER_METHODS], validate_choice=False)
    given_on = FriendlyDateField("Date consent was given", validators=[Optional()],
                                 description="Leave blank for today. Not before the student first contacted the service.")
    typed_name = StringField("The student's name, as they gave it")
    evidence_note = TextAreaField("Evidence", description="For example: email of 3 March from the student's university "
                                  "address, saved to the case; or: signed form seen in the meeting.")
    evidence_document_id = RecordSelectField("Or a document on the case that shows it (optional)")
    submit = SubmitField("Record consent")

    def setup(self, student, cases, *, default_expiry=None) -> RecordConsentForm:
        super().setup(student, cases, default_expiry=default_expiry)
        self.expires_on.description = (f"For example {consent_giving.default_expiry():%d/%m/%Y}. At most "
                                       f"{consent_giving.max_months()} months after the date consent was given.")
        return self


def _sharing(reference: str, form: DisclosureForm | None = None, status: int = 200):
    page = case_sharing.sharing_page(current_user, reference)
    form = form or DisclosureForm()
    form.consent_id.choices = [(str(o.consent_id), f"{o.recipient} (until {student_history.format_moment(o.until)})") for o in page.offers]
    form.document_ids.choices = [(d.id, d.title) for d in consent_giving.student_documents(page.case.student, page.case.id)]
    return render_template("backoffice/consent/sharing.html", page=page, form=form,
                           advice_officer=current_user.role in ADVICE_OFFICERS,
                           methods=METHOD_LABELS), status


@bp.get("/cases/<reference>/sharing")
def consent_sharing(reference):
    return _sharing(reference)


@bp.post("/cases/<reference>/sharing")
def consent_disclose(reference):
    form = DisclosureForm()
    if not form.validate_on_submit():
        return _sharing(reference, form, 400)
    try:
        case_sharing.share_from_case(current_user, reference, consent_id=form.consent_id.data,
                                scope=form.scope.data or "", what=form.what.data or "", method=form.method.data or "",
                                document_ids=form.document_ids.data or [])
    except ConsentRequired as exc:
        form.form_errors.append(f"Not recorded, and it must not be shared: {exc.message}")
        return _sharing(reference, form, 409)
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return _sharing(reference, form, 400)
    flash("The disclosure has been recorded.", "success")
    return redirect(url_for("backoffice.consent_sharing", reference=reference))


@bp.route("/cases/<reference>/consents/new", methods=["GET", "POST"])
def consent_record(reference):
    case = casework.case_for_staff(current_user, reference)
    student = case.student
    form = RecordConsentForm()
    form.setup(student, casework.cases_for_student(student), default_expiry=consent_giving.default_expiry())
    form.evidence_document_id.choices = [("", "None")] + [(str(d.id), d.title) for d in consent_giving.student_documents(student)]
    if form.validate_on_submit():
        try:
            consent_giving.record_given(current_user, student, form.details(), method=form.method.data or "",
                                 typed_name=form.typed_name.data, evidence_note=form.evidence_note.data,
                                 evidence_document_id=form.evidence_document_id.data,
                                 given_on=form.given_on.data)
        except InvalidAnswers as exc:
            show_errors(form, exc)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash("The consent has been recorded.", "success")
            return redirect(url_for("backoffice.consent_sharing", reference=reference))
    return render_template("backoffice/consent/record.html", form=form, case=case, max_months=consent_giving.max_months())


class EnquiryForm(Form):
    enquirer_name = StringField("Who asked")
    enquirer_role = StringField("Their role (optional)")
    enquirer_organisation = StringField("Their organisation")
    about_name = StringField("The name they asked about")
    about_email = StringField("The email address they gave for that person (optional)",
                              description="A university email address lets the system check for a consent.")
    asked = TextAreaField("What they asked")
    submit = SubmitField("Log the enquiry and show what I may say")


@bp.route("/enquiries", methods=["GET", "POST"])
def enquiries():
    form = EnquiryForm()
    if form.validate_on_submit():
        try:
            answer = consent_enquiries.answer_enquiry(
                current_user, enquirer_name=form.enquirer_name.data, enquirer_role=form.enquirer_role.data,
                enquirer_organisation=form.enquirer_organisation.data, about_name=form.about_name.data,
                about_email=form.about_email.data, asked=form.asked.data)
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            return redirect(url_for("backoffice.enquiry_show", enquiry_id=answer.enquiry.id))
    return render_template("backoffice/consent/enquiries.html", form=form, rows=consent_enquiries.enquiries(current_user))


@bp.get("/enquiries/<int:enquiry_id>")
def enquiry_show(enquiry_id):
    answer = consent_enquiries.enquiry(current_user, enquiry_id)
    return render_template("backoffice/consent/enquiry.html", answer=answer, e=answer.enquiry)


class ConsentRequestForm(ConsentDetailsForm):
    reason = TextAreaField("Why you are asking", description="The student reads this. Keep it short and plain.")
    submit = SubmitField("Send the request to the student")


@bp.route("/cases/<reference>/consent-request", methods=["GET", "POST"])
def consent_request_new(reference):
    case = casework.case_for_staff(current_user, reference)
    form = ConsentRequestForm()
    form.setup(case.student, casework.cases_for_student(case.student))
    form.scopes.choices = [(s, consent.STAFF_SCOPE_LABELS[s]) for s in consent_requests.REQUESTABLE]
    form.case_id.choices = [("all", "All the student's cases"), (str(case.id), f"Only case {case.reference}")]
    if form.validate_on_submit():
        try:
            consent_requests.ask(current_user, reference, form.details(), form.reason.data)
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            flash("The request has been sent. The student gets an email saying only that there is a request to look at.",
                  "success")
            return redirect(url_for("backoffice.consent_sharing", reference=reference))
    return render_template("backoffice/consent/request.html", form=form, case=case)


@bp.post("/cases/<reference>/consents/<int:consent_id>/withdraw")
def consent_withdraw_for_student(reference, consent_id):
    """The student withdrew by telling an officer: recorded at once, as a withdrawal by staff."""
    case = casework.case_for_staff(current_user, reference)
    consent_giving.withdraw(current_user, case.student, consent_id)
    flash("The withdrawal has been recorded. Nothing more will be shared on that consent.", "success")
    return redirect(url_for("backoffice.consent_sharing", reference=reference))
