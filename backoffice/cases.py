"""The officers' side of casework: dashboard, case list, the case page and its actions, reflective practice.

Every staff role may open every case (the policy's internal sharing); the services enforce and audit it.
"""

from __future__ import annotations

from datetime import time

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import Optional

from backoffice import bp
from shared.casework import case_list, conflicts, documents, file_review, intake, reflective
from shared.casework import cases as casework
from shared.casework import record as case_record
from shared.casework.case_list import CaseFilters
from shared.casework.cases import MEETING, STAFF_STATUS, InvalidAnswers
from shared.casework.record import ENTRY_KINDS
from shared.consent import sharing as case_sharing
from shared.models import utcnow
from shared.platform.errors import NotFound, ServiceError
from shared.platform.forms import Form, RecordSelectField, WholeNumber, record_number
from shared.web.casework_views import send_download, show_errors, uploads_from
from shared.web.dashboard import dashboard_panels


class CaseActionForm(Form):
    """The case page holds several forms: each has a prefix (unique field ids) and relies on the app-wide
    CSRF check (CSRFProtect validates every POST before the view runs)."""

    class Meta:
        csrf = False


class EntryForm(CaseActionForm):
    kind = SelectField("Kind of entry", choices=list(ENTRY_KINDS.items()), validate_choice=False)
    occurred_on = DateField("Date it happened", validators=[Optional()], description="Leave blank for now.")
    occurred_time = TimeField("Time it happened (optional)", validators=[Optional()])
    text = TextAreaField("What happened, what advice was given or what action was taken")


class AmendForm(CaseActionForm):
    text = TextAreaField("Amended text")
    reason = TextAreaField("Why are you amending it?", description="Kept with the new version. The earlier text stays visible.")


class AssignForm(CaseActionForm):
    officer_id = RecordSelectField("Assigned officer")


class StatusForm(CaseActionForm):
    status = SelectField("New status", choices=[(k, v) for k, v in STAFF_STATUS.items() if k != "closed"],
                         validate_choice=False)
    reason = TextAreaField("Reason for the change")


class CloseForm(CaseActionForm):
    outcome_code = SelectField("Outcome", validate_choice=False)
    note = TextAreaField("Closing note (optional)")


class StaffMessageForm(CaseActionForm):
    body = TextAreaField("Message to the student", description="The student gets an email saying only that there is a message to read.")


class AppointmentForm(CaseActionForm):
    day = DateField("Date", validators=[Optional()])
    at = TimeField("Time (UK time)", validators=[Optional()])
    duration_minutes = WholeNumber("Length in minutes", default=45, validators=[Optional()])
    mode = RadioField("How", choices=list(MEETING.items()), validate_choice=False)
    location = StringField("Place, or how to join", description="Required for in-person meetings.")
    private_room = BooleanField("Private meeting room")
    officer_id = RecordSelectField("Officer")


class DocumentForm(CaseActionForm):
    document = FileField("Document")


class FlagForm(CaseActionForm):
    reason = TextAreaField("Why should the meeting discuss it?", description="Internal only. A short reason.")


class PersonForm(CaseActionForm):
    name = StringField("Their name")
    relation = SelectField("How are they involved?", choices=[("", "Choose one")] + list(conflicts.RELATIONS.items()),
                           validate_choice=False)
    college_code = SelectField("Their college, if a student (optional)", validate_choice=False)
    organisation = StringField("Organisation or department (optional)")
    email = StringField("Email address (optional)")


def _officer_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [(str(s.id), f"{s.name} ({s.job_title})") for s in case_list.staff_choices()]


def _page_number(value: str | None) -> int:
    """?page=N from the start, ?page=-N from the end (-1: the last page); anything else is page 1."""
    value = (value or "").strip()
    number = record_number(value.removeprefix("-"))
    if not number:  # none, or 0
        return 1
    return -number if value.startswith("-") else number


# ---------------------------------------------------------------------------------------------- dashboard, list


@bp.get("/")
def dashboard():
    panels = dashboard_panels(current_user)
    return render_template("backoffice/dashboard.html", panels=panels, board=panels.board,
                           labels=casework.labels(), statuses=STAFF_STATUS)


@bp.get("/cases")
def cases():
    args = request.args
    filters = CaseFilters(
        status=args.get("status", ""), area=args.get("area", ""), officer=args.get("officer", ""),
        college=args.get("college", ""), q=args.get("q", "")[:200], sort=args.get("sort", "newest"),
    )
    page = case_list.list_cases(current_user, filters, _page_number(args.get("page")))
    return render_template(
        "backoffice/cases/list.html", page=page, filters=filters, labels=casework.labels(), statuses=STAFF_STATUS,
        choices=case_list.case_list_choices(), query={k: v for k, v in vars(filters).items() if v},
    )


# ---------------------------------------------------------------------------------------------- the case page


def _forms(**failed) -> dict:
    forms = {
        "entry_form": EntryForm(formdata=None, prefix="entry"),
        "assign_form": AssignForm(formdata=None, prefix="assign"),
        "status_form": StatusForm(formdata=None, prefix="status"),
        "close_form": CloseForm(formdata=None, prefix="close"),
        "message_form": StaffMessageForm(formdata=None, prefix="message"),
        "appointment_form": AppointmentForm(formdata=None, prefix="appt"),
        "document_form": DocumentForm(formdata=None, prefix="doc"),
        "flag_form": FlagForm(formdata=None, prefix="flag"),
        "person_form": PersonForm(formdata=None, prefix="person"),
    }
    forms.update(failed)
    forms["assign_form"].officer_id.choices = _officer_choices("Nobody (unassigned)")
    forms["appointment_form"].officer_id.choices = _officer_choices("Me")
    forms["close_form"].outcome_code.choices = [("", "Choose the outcome")] + case_record.outcome_choices()
    forms["person_form"].college_code.choices = [("", "Not a student, or not known")] + casework.college_choices()
    return forms


def _render_case(reference: str, status: int = 200, **failed):
    page = case_record.staff_case_page(current_user, reference)
    forms = _forms(**failed)
    if "assign_form" not in failed:
        forms["assign_form"].officer_id.data = page.case.assigned_to_id
    if "appointment_form" not in failed:
        forms["appointment_form"].private_room.data = page.case.private_room
        forms["appointment_form"].mode.data = page.case.meeting_preference
    return render_template(
        "backoffice/cases/case.html", page=page, labels=casework.labels(), statuses=STAFF_STATUS,
        meeting=MEETING, urgency=intake.URGENCY, channels=intake.CHANNELS, entry_kinds=ENTRY_KINDS,
        download=documents.download_name, limit=documents.limit_text(), relations=conflicts.RELATIONS,
        consent_offers=case_sharing.offers_for(page.case.student_id, page.case.id),
        case_reviews=file_review.review_links(current_user, page.case.id), **forms,
    ), status


@bp.get("/cases/<reference>")
def case(reference):
    return _render_case(reference)


def _act(reference: str, form_name: str, form: FlaskForm, action, done: str, anchor: str):
    """Run one case action: on success a message and back to the case, else the page with this form's errors."""
    form.validate()
    try:
        if any(form.errors.values()):
            raise InvalidAnswers({})
        action()
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return _render_case(reference, **{form_name: form})
    except ServiceError as exc:
        form.form_errors.append(exc.message)
        return _render_case(reference, **{form_name: form})
    flash(done, "success")
    return redirect(url_for("backoffice.case", reference=reference) + anchor)


@bp.post("/cases/<reference>/entries")
def case_add_entry(reference):
    form = EntryForm(prefix="entry")

    def action():
        if form.occurred_on.data:
            occurred = casework.local_to_utc(form.occurred_on.data, form.occurred_time.data or time(12, 0))
        else:
            occurred = utcnow()
        case_record.add_entry(current_user, reference, form.kind.data, occurred, form.text.data)

    return _act(reference, "entry_form", form, action, "The entry has been added.", "#timeline")


@bp.route("/cases/<reference>/entries/<int:entry_id>/amend", methods=["GET", "POST"])
def case_amend_entry(reference, entry_id):
    page = case_record.staff_case_page(current_user, reference)
    entry = next((i.entry for i in page.timeline if i.entry and i.entry.id == entry_id), None)
    if entry is None:
        raise NotFound()
    form = AmendForm() if request.method == "POST" else AmendForm(formdata=None, text=entry.versions[-1].text)
    if request.method == "POST":
        form.validate()
        try:
            case_record.amend_entry(current_user, reference, entry_id, form.text.data, form.reason.data)
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            flash("The entry has been amended. The earlier version is kept.", "success")
            return redirect(url_for("backoffice.case", reference=reference) + f"#entry-{entry_id}")
    return render_template("backoffice/cases/amend.html", page=page, entry=entry, form=form,
                           entry_kinds=ENTRY_KINDS)


@bp.post("/cases/<reference>/assign")
def case_assign(reference):
    form = AssignForm(prefix="assign")
    return _act(reference, "assign_form", form,
                lambda: case_record.assign(current_user, reference, form.officer_id.data),
                "The assignment has been changed.", "#actions")


@bp.post("/cases/<reference>/status")
def case_status(reference):
    form = StatusForm(prefix="status")
    return _act(reference, "status_form", form,
                lambda: case_record.change_status(current_user, reference, form.status.data, form.reason.data),
                "The status has been changed.", "#actions")


@bp.post("/cases/<reference>/close")
def case_close(reference):
    form = CloseForm(prefix="close")
    return _act(reference, "close_form", form,
                lambda: case_record.close_case(current_user, reference, form.outcome_code.data, form.note.data),
                "The case is closed.", "#actions")


@bp.post("/cases/<reference>/messages")
def case_message(reference):
    form = StaffMessageForm(prefix="message")
    return _act(reference, "message_form", form,
                lambda: casework.staff_sends_message(current_user, reference, form.body.data),
                "Your message has been sent. The student has been told there is a message to read.", "#messages")


@bp.post("/cases/<reference>/appointments")
def case_appointment(reference):
    form = AppointmentForm(prefix="appt")
    return _act(
        reference, "appointment_form", form,
        lambda: case_record.add_appointment(
            current_user, reference, day=form.day.data, at=form.at.data,
            duration_minutes=form.duration_minutes.data or 0, mode=form.mode.data or "",
            location=form.location.data, private_room=form.private_room.data,
            officer_id=form.officer_id.data,
        ),
        "The appointment has been added. The student has been told to sign in to see it.", "#appointments",
    )


@bp.post("/cases/<reference>/appointments/<int:appointment_id>/cancel")
def case_cancel_appointment(reference, appointment_id):
    case_record.cancel_appointment(current_user, reference, appointment_id)
    flash("The appointment has been cancelled.", "success")
    return redirect(url_for("backoffice.case", reference=reference) + "#appointments")


@bp.post("/cases/<reference>/documents")
def case_document(reference):
    form = DocumentForm(prefix="doc")
    uploads = uploads_from(form.document.name) or [documents.Upload("", b"")]
    return _act(reference, "document_form", form,
                lambda: case_record.add_case_document(current_user, reference, uploads[0]),
                "The document has been added to the case.", "#documents")


@bp.get("/documents/<int:document_id>")
def document(document_id):
    return send_download(documents.download_for_staff(current_user, document_id))


@bp.post("/cases/<reference>/reflective")
def case_flag(reference):
    form = FlagForm(prefix="flag")
    return _act(reference, "flag_form", form,
                lambda: reflective.flag_for_reflection(current_user, reference, form.reason.data),
                "The case is on the reflective practice agenda.", "#reflective")


@bp.post("/cases/<reference>/people")
def case_add_person(reference):
    form = PersonForm(prefix="person")
    form.college_code.choices = [("", "")] + casework.college_choices()
    answers = conflicts.PersonAnswers(name=form.name.data or "", relation=form.relation.data or "",
                                      college_code=form.college_code.data or "",
                                      organisation=form.organisation.data or "", email=form.email.data or "")
    return _act(reference, "person_form", form, lambda: conflicts.add_person(current_user, reference, answers),
                "The person is recorded on the case.", "#people")


# ---------------------------------------------------------------------------------------------- reflective practice


@bp.get("/reflective-practice")
def reflective_agenda():
    return render_template("backoffice/cases/reflective.html", items=reflective.reflective_agenda(current_user),
                           labels=casework.labels())


@bp.post("/reflective-practice/<int:flag_id>/discussed")
def reflective_discussed(flag_id):
    reflective.mark_discussed(current_user, flag_id)
    flash("Marked as discussed.", "success")
    return redirect(url_for("backoffice.reflective_agenda"))
