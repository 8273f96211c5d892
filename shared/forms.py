"""Forms both sides use: signing in, password reset and change. Validation messages say how to fix it."""

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    IntegerField,
    PasswordField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length


class Form(FlaskForm):
    """The base of every form. It reads the submitted form fields, and files only into file fields: a
    file sent for a text field, or a JSON body, is ignored (and so fails validation) instead of
    reaching a validator that cannot handle it. (NUL characters are already gone: shared.web.ServiceRequest.)"""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto:
                return formdata
            if not form.is_submitted():
                return None
            files = [
                (name, value)
                for name, value in request.files.items(multi=True)
                if isinstance(form._fields.get(name), FileField)
            ]
            return CombinedMultiDict([MultiDict(files), request.form]) if files else request.form


class WholeNumber(IntegerField):
    """A whole number of at most nine digits: a longer one is refused with a message here, before WTForms'
    NumberRange (which turns it into a float and overflows) or the database (whose integers are 32-bit)."""

    def process_formdata(self, valuelist):
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > 9:
            self.data = None
            raise ValueError("Enter a smaller number.")
        super().process_formdata(valuelist)


def record_number(value: str | None) -> int | None:
    """A record's number as typed into an address or a filter: ASCII digits, at most nine of them (every
    integer column holds that), else None. str.isdigit alone lets through '²', which int() refuses, and
    twenty digits, which the database refuses: each was a 500."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


EMAIL_REQUIRED = DataRequired(message="Enter your email address.")


class SignInForm(Form):
    email = EmailField("Email address", validators=[EMAIL_REQUIRED, Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(message="Enter your password."), Length(max=1024)]
    )
    submit = SubmitField("Sign in")


class RegisterForm(Form):
    email = EmailField(
        "University email address",
        validators=[EMAIL_REQUIRED, Length(max=254)],
        description="For example crsid@cam.ac.uk. We only use it to contact you about your own enquiries.",
    )
    password = PasswordField(
        "Choose a password",
        validators=[DataRequired(message="Choose a password."), Length(max=1024)],
        description="At least 12 characters. A few unrelated words make a strong password.",
    )
    confirm = PasswordField(
        "Type the password again",
        validators=[
            DataRequired(message="Type the password again."),
            EqualTo("password", message="The two passwords do not match."),
        ],
    )
    submit = SubmitField("Create account")


class ResetRequestForm(Form):
    email = EmailField("Email address", validators=[EMAIL_REQUIRED, Length(max=254)])
    submit = SubmitField("Send me a reset link")


class NewPasswordForm(Form):
    password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a new password."), Length(max=1024)],
        description="At least 12 characters. A few unrelated words make a strong password.",
    )
    confirm = PasswordField(
        "Type the new password again",
        validators=[
            DataRequired(message="Type the new password again."),
            EqualTo("password", message="The two passwords do not match."),
        ],
    )
    submit = SubmitField("Set new password")


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(
        "Current password", validators=[DataRequired(message="Enter your current password.")]
    )
    submit = SubmitField("Change password")


class ConfirmForm(Form):
    """A form with only a CSRF token and a button (sign out, and other one-click actions)."""

    submit = SubmitField("Confirm")


class ErasureRequestForm(Form):
    details = TextAreaField(
        "Anything you want to tell us (optional)",
        validators=[Length(max=4000, message="Please keep this under 4000 characters.")],
        description="For example, whether you mean everything or one enquiry. Do not include anyone else's details.",
    )
    confirm = BooleanField(
        "I understand that erased records cannot be brought back",
        validators=[DataRequired(message="Tick the box to confirm you understand.")],
    )
    submit = SubmitField("Ask us to erase my records")
