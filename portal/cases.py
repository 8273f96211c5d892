"""The student's side of casework: the casework form (with drafts), My cases, a case's messages."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import (
    BooleanField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional

from portal import bp
from shared.casework import cases as casework
from shared.casework import conflicts, documents, intake
from shared.casework.cases import MEETING, InvalidAnswers
from shared.casework.intake import CHANNELS, URGENCY, IntakeAnswers
from shared.platform.forms import Form, FriendlyDateField, MultiCheckboxField
from shared.web.casework_views import send_download, show_errors, uploads_from
from shared.web.submissions import repeatable


class IntakeForm(Form):
    """Fields only: every rule lives in shared.casework.intake.clean_intake, which the form's errors come from."""

    full_name = StringField("Full name")
    preferred_name = StringField("Preferred name (optional)", description="If you would like us to use another name.")
    pronouns = StringField("Pronouns (optional)", description="For example she/her, he/him, they/them.")
    college_code = SelectField("College", validate_choice=False)
    faculty = StringField("Faculty or department")
    course = StringField("Course (optional)")
    year_of_study = StringField("Year of study (optional)", description="For example 2nd year undergraduate, or PhD year 1.")
    crsid = StringField("CRSid (optional)", description="Your university user name, like abc123.")
    phone = StringField("Phone number (optional)")
    safe_channels = MultiCheckboxField(
        "Which ways is it safe for us to contact you?", choices=list(CHANNELS.items()), validate_choice=False,
        description="We will only use the ways you tick. We always tell you about new messages by email "
                    "without any detail.",
    )
    may_leave_message = BooleanField("You may leave a voicemail or message saying who you are")
    contact_notes = TextAreaField("Anything else about contacting you safely (optional)",
                                  description="For example times to avoid, or someone who must not know.")
    area_code = RadioField("What is your question about?", validate_choice=False)
    what_happened = TextAreaField("What happened?", description="In your own words. Include dates if you know them.")
    outcome_wanted = TextAreaField("What would you like to happen? (optional)")
    urgency = RadioField("How urgent is it?", choices=list(URGENCY.items()), validate_choice=False, default="normal")
    deadline = FriendlyDateField("Is there a deadline? (optional)", validators=[Optional()],
                                 description="For example the last day to submit an appeal.")
    meeting_preference = RadioField("How would you like to meet an adviser?", choices=list(MEETING.items()),
                                    validate_choice=False)
    private_room = BooleanField("I need a private room for the meeting")
    accessibility_needs = TextAreaField("Accessibility needs (optional)",
                                        description="Anything we can do to make meeting us easier for you.")
    documents = MultipleFileField("Documents (optional)")

    def answers(self) -> dict:
        out = {name: f.data for name, f in self._fields.items() if name in IntakeAnswers.__dataclass_fields__}
        out["people"] = [{part: self[f"person{i}_{part}"].data or "" for part in PERSON_PARTS}
                         for i in range(1, conflicts.MAX_PEOPLE + 1)]
        return out

    def people_rows(self) -> list[dict]:
        return [{part: self[f"person{i}_{part}"] for part in PERSON_PARTS} for i in range(1, conflicts.MAX_PEOPLE + 1)]


PERSON_PARTS = tuple(conflicts.PersonAnswers.__dataclass_fields__)
for _i in range(1, conflicts.MAX_PEOPLE + 1):
    setattr(IntakeForm, f"person{_i}_name", StringField("Their name"))
    setattr(IntakeForm, f"person{_i}_relation", SelectField(
        "How are they involved?", choices=[("", "Choose one")] + list(conflicts.RELATIONS.items()),
        validate_choice=False))
    setattr(IntakeForm, f"person{_i}_college_code", SelectField(
        "Their college, if they are a student (optional)", validate_choice=False))
    setattr(IntakeForm, f"person{_i}_organisation", StringField(
        "Organisation or department (optional)", description="For example the letting agency, or the department."))
    setattr(IntakeForm, f"person{_i}_email", StringField("Their email address (optional)"))


class MessageForm(Form):
    body = TextAreaField("Your message")
    documents = MultipleFileField("Attach documents (optional)")


def _intake_form(data: dict | None = None) -> IntakeForm:
    if data and isinstance(data.get("deadline"), str):
        try:
            data = {**data, "deadline": date.fromisoformat(data["deadline"])}
        except ValueError:
            data = {**data, "deadline": None}
    if data and data.get("people"):
        data = {**data, **{f"person{i}_{part}": (person or {}).get(part, "")
                           for i, person in enumerate(data["people"][:conflicts.MAX_PEOPLE], start=1)
                           if isinstance(person, dict) for part in PERSON_PARTS}}
    form = IntakeForm(data=data) if data is not None else IntakeForm()
    form.college_code.choices = [("", "Choose your college")] + casework.college_choices()
    for i in range(1, conflicts.MAX_PEOPLE + 1):
        form[f"person{i}_college_code"].choices = [("", "Not a student, or I do not know")] + casework.college_choices()
    groups = casework.area_groups()
    form.area_code.choices = [c for group in groups.values() for c in group]
    form.area_groups = groups
    form.documents.description = (
        f"Up to {documents.limit_text()} in all: {documents.ACCEPTED_DESCRIPTION}. "
        "If the form shows an error, choose the files again."
    )
    return form


@bp.route("/ask", methods=["GET", "POST"])
def ask():
    if request.method == "GET":
        start, from_draft = intake.form_start(current_user)
        return render_template("portal/cases/ask.html", form=_intake_form(start), from_draft=from_draft,
                               saved_at=start.get("_saved_at"))
    form = _intake_form()
    form.validate()  # CSRF and date parsing; the rules are the service's
    if request.form.get("action") == "save":
        intake.save_draft(current_user, form.answers())
        flash("Your answers are saved. You can finish the form later: they will be here when you sign in again.",
              "success")
        return redirect(url_for("portal.ask"))
    answers = IntakeAnswers(**{k: v for k, v in form.answers().items() if v is not None})
    try:
        if form.deadline.errors:  # unreadable date: still check every other answer, then show all problems
            intake.clean_intake(answers)
            raise InvalidAnswers({})
        case = intake.submit_case(current_user, answers, uploads_from("documents"))
    except InvalidAnswers as exc:
        show_errors(form, exc)
        intake.save_draft(current_user, form.answers())  # what they typed is kept, even if they leave now
        return render_template("portal/cases/ask.html", form=form, from_draft=False, saved_at=None), 200
    return redirect(url_for("portal.case_received", reference=case.reference))


@bp.post("/ask/autosave")
@repeatable("the draft is saved again as the student types; sending the form uses the same key")
def autosave_draft():
    """The form's script saves the draft as the student types (no page change, no message)."""
    form = _intake_form()
    form.validate()
    intake.save_draft(current_user, form.answers())
    return "", 204


@bp.post("/ask/discard")
def discard_draft():
    if intake.discard_draft(current_user):
        flash("Your saved answers have been deleted.", "success")
    return redirect(url_for("portal.ask"))


@bp.get("/cases/<reference>/received")
def case_received(reference):
    case = casework.case_for_student(current_user, reference)
    return render_template("portal/cases/received.html", case=case)


@bp.get("/cases")
def my_cases():
    return render_template("portal/cases/list.html", summaries=casework.my_cases(current_user),
                           statuses=casework.STUDENT_STATUS)


def _case_page(reference: str, form: MessageForm | None = None, status: int = 200):
    page = casework.student_case_page(current_user, reference)
    return render_template("portal/cases/case.html", page=page, form=form or MessageForm(),
                           statuses=casework.STUDENT_STATUS, meeting=MEETING, labels=casework.labels(),
                           download=documents.download_name), status


@bp.get("/cases/<reference>")
def case(reference):
    return _case_page(reference)


@bp.post("/cases/<reference>/messages")
def case_message(reference):
    form = MessageForm()
    form.validate()
    try:
        casework.student_sends_message(current_user, reference, form.body.data, uploads_from("documents"))
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return _case_page(reference, form)
    flash("Your message has been sent.", "success")
    return redirect(url_for("portal.case", reference=reference) + "#messages")


@bp.get("/documents/<int:document_id>")
def document(document_id):
    return send_download(documents.download_for_student(current_user, document_id))

