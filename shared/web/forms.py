"""Forms both sides use: signing in, password reset and change. Validation messages say how to fix it."""

from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from shared.platform.forms import Form

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
        validators=[Length(max=4000, message="What you tell us must be 4,000 characters or fewer.")],
        description="For example, whether you mean everything or one enquiry. Do not include anyone else's details.",
    )
    confirm = BooleanField(
        "I understand that erased records cannot be brought back",
        validators=[DataRequired(message="Tick the box to confirm you understand.")],
    )
    submit = SubmitField("Ask us to erase my records")
