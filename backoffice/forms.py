"""Back-office forms for staff security and administration."""

from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from shared.models import JOB_TITLES, StaffRole
from shared.platform.forms import Form, WholeNumber

PASSWORD_AGAIN = PasswordField(
    "Your password", validators=[DataRequired(message="Enter your password to confirm it is you.")]
)


class CodeForm(Form):
    code = StringField(
        "Code",
        validators=[DataRequired(message="Enter the code from your authenticator app."), Length(max=40)],
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )
    submit = SubmitField("Continue")


class EnrolForm(Form):
    code = StringField(
        "Code from the app",
        validators=[DataRequired(message="Enter the 6-digit code your app shows."), Length(max=12)],
        description="After adding the account, your app shows a 6-digit code that changes every 30 seconds.",
    )
    submit = SubmitField("Confirm and continue")


class PolicyForm(Form):
    version = HiddenField()
    agree = BooleanField(
        "I have read this policy and I will follow it",
        validators=[DataRequired(message="Tick the box to confirm you have read the policy and will follow it.")],
    )
    submit = SubmitField("Accept the policy")


class EmailChangeForm(Form):
    email = EmailField("New email address", validators=[DataRequired(message="Enter the new email address."),
                                                        Length(max=254)])
    password = PASSWORD_AGAIN
    submit = SubmitField("Change email address")


class ReplaceAuthenticatorForm(Form):
    password = PASSWORD_AGAIN
    code = StringField(
        "Code from the new app",
        validators=[DataRequired(message="Enter the 6-digit code from the new app."), Length(max=12)],
    )
    submit = SubmitField("Use the new authenticator")


class PasswordAgainForm(Form):
    password = PASSWORD_AGAIN
    submit = SubmitField("Make new recovery codes")


ROLE_CHOICES = [(r.value, r.value.capitalize()) for r in StaffRole]
TITLE_CHOICES = [(t, t) for t in JOB_TITLES]


class StaffForm(Form):
    name = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=120)])
    job_title = SelectField("Job title", choices=TITLE_CHOICES)
    role = SelectField(
        "Role", choices=ROLE_CHOICES,
        description="Officer: casework. Manager: casework, statistics, audit export. Admin: also accounts and settings.",
    )
    submit = SubmitField("Save")


class NewStaffForm(StaffForm):
    email = EmailField("Email address", validators=[DataRequired(message="Enter an email address."),
                                                    Length(max=254)])
    submit = SubmitField("Create account")


class ListItemForm(Form):
    label = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=200)])
    group = SelectField("Group", choices=[("", "None"), ("academic", "Academic"), ("welfare", "Welfare")],
                        validators=[Optional()])
    submit = SubmitField("Add")


class RenameForm(Form):
    label = StringField("New name", validators=[DataRequired(message="Enter a name."), Length(max=200)])
    submit = SubmitField("Rename")


class ConsentWordingForm(Form):
    version = StringField(
        "Version name", validators=[DataRequired(message="Enter a version name, like 2026-2."), Length(max=20)],
        description="A short name that is not used yet. Earlier versions stay exactly as they were.",
    )
    text = TextAreaField(
        "Wording shown to the student",
        validators=[DataRequired(message="Enter the wording."), Length(max=20000)],
    )
    submit = SubmitField("Publish this version")


class RetentionForm(Form):
    years = WholeNumber(
        "Keep closed cases for (years)",
        validators=[DataRequired(message="Enter a number of years between 1 and 50."),
                    NumberRange(min=1, max=50, message="Enter a number of years between 1 and 50.")],
        description="After this many years from closing, a case is anonymised by the scheduled retention run.",
    )
    submit = SubmitField("Save")


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET search form: it changes nothing

    student = StringField("Student (email or number)", validators=[Optional(), Length(max=254)])
    case = StringField("Case (reference or number)", validators=[Optional(), Length(max=40)])
    staff = SelectField("Staff member", choices=[], validators=[Optional()])
    action = StringField("Action", validators=[Optional(), Length(max=60)],
                         description="For example case.viewed, or the start of one, like consent.")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    submit = SubmitField("Filter")


class ErasureDecisionForm(Form):
    decision = SelectField(
        "Decision",
        choices=[("erase", "Erase what the rules allow now"), ("refuse", "Refuse the request")],
    )
    outcome = TextAreaField(
        "What we tell the student",
        validators=[DataRequired(message="Write what the student will be told."), Length(max=4000)],
        description="The student reads this in the portal. Explain what was erased and what is kept, and why.",
    )
    submit = SubmitField("Record the decision")
