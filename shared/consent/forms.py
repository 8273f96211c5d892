"""Consent forms both sides use: the details of a consent (who, why, what, which case, until when).
Fields only: every rule lives in shared.consent.giving.clean_details, whose messages land beside each field."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from shared.consent import gate as consent
from shared.consent import giving as consent_giving
from shared.models import Student
from shared.platform.forms import (
    Form,
    FriendlyDateField,
    MultiCheckboxField,
    RecordCheckboxField,
    record_number,
)


class ConsentDetailsForm(Form):
    recipient_name = StringField("Name of the person", description="For example Dr Alex Smith.")
    recipient_role = StringField("Their role (optional)", description="For example Senior Tutor, or GP.")
    recipient_organisation = StringField("Their organisation", description="For example the college, department or surgery.")
    recipient_contact = StringField("How to contact them (optional)", description="An email address or phone number.")
    purpose = TextAreaField("Why may they have this information?",
                            description="In your own words, for example: so they can support my extension request.")
    scopes = MultiCheckboxField("What may we share?", choices=[(s, consent.SCOPE_LABELS[s]) for s in consent.SCOPE_ORDER],
                                description="Choose only what is needed. Nothing is chosen for you.")
    document_ids = RecordCheckboxField("Which documents? (only if you chose specific documents)")
    case_id = RadioField("Which of your cases does this cover?", validate_choice=False)
    expires_on = FriendlyDateField("Until when?", validators=[Optional()])
    submit = SubmitField("Review what you are agreeing to")

    def setup(self, student: Student, cases: list, *, default_expiry=None) -> ConsentDetailsForm:
        """Fill the choices from this student's own cases and documents (nothing is pre-ticked)."""
        self.case_id.choices = [("all", "All my cases")] + [(str(c.id), f"Only case {c.reference}") for c in cases]
        if not self.case_id.data or self.case_id.data == "None":
            self.case_id.data = "all"
        self.document_ids.choices = [(d.id, d.title) for d in consent_giving.student_documents(student)]
        if self.expires_on.data is None and not self.expires_on.raw_data and default_expiry is not None:
            self.expires_on.data = default_expiry
        self.expires_on.description = (f"For example {consent_giving.default_expiry():%d/%m/%Y}. "
                                       f"At most {consent_giving.max_months()} months from today.")
        return self

    def details(self) -> consent_giving.ConsentDetails:
        return consent_giving.ConsentDetails(
            recipient_name=self.recipient_name.data or "", recipient_role=self.recipient_role.data or "",
            recipient_organisation=self.recipient_organisation.data or "", recipient_contact=self.recipient_contact.data or "",
            purpose=self.purpose.data or "", scopes=list(self.scopes.data or []),
            document_ids=list(self.document_ids.data or []),
            case_id=self._chosen_case(), expires_on=self.expires_on.data,
        )

    def _chosen_case(self) -> int | None:
        """None for all the student's cases; otherwise the case number chosen. Anything else that was sent
        (a tampered or mistyped value) is never read as "all my cases", which would widen the consent: it
        becomes case 0, which is nobody's, so the form says to choose one of their cases."""
        case = (self.case_id.data or "all").strip()
        if case in ("all", "None"):
            return None
        number = record_number(case)
        return 0 if number is None else number


class ConfirmConsentForm(ConsentDetailsForm):
    """The review step: the details come back as hidden fields, with the hash of the words shown."""

    shown_sha256 = HiddenField()
    confirm = BooleanField("I have read the statement above and I agree to it")
    typed_name = StringField("Type your full name to confirm", description="This is your signature.")
    submit = SubmitField("Give consent")
