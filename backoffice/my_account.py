"""A member of staff's own account: their open sessions, their email address and their authenticator
(replacing it, new recovery codes)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from backoffice import bp
from backoffice.forms import (
    EmailChangeForm,
    PasswordAgainForm,
    ReplaceAuthenticatorForm,
)
from shared.platform.crypto import decrypt_text, encrypt_text
from shared.platform.errors import ServiceError
from shared.security import mfa, sessions, staff_admin
from shared.web.forms import ConfirmForm
from shared.web.ratelimits import password_again_door


@bp.get("/account/sessions")
def my_sessions():
    return render_template(
        "backoffice/security/sessions.html",
        sessions=sessions.open_sessions(current_user),
        current_id=current_user.login_session.id,
        form=ConfirmForm(),
    )


@bp.post("/account/sessions/<int:session_id>/end")
def end_my_session(session_id):
    if ConfirmForm().validate_on_submit():
        if staff_admin.end_own_session(current_user, session_id):
            flash("That session has been ended.", "success")
        else:
            flash("That session had already ended.", "warning")
    return redirect(url_for("backoffice.my_sessions"))


@bp.post("/account/sessions/end-others")
def end_my_other_sessions():
    if ConfirmForm().validate_on_submit():
        count = staff_admin.end_other_sessions(current_user)
        flash(f"{count} other session{'s' if count != 1 else ''} ended.", "success")
    return redirect(url_for("backoffice.my_sessions"))


@bp.route("/account/email", methods=["GET", "POST"])
@password_again_door
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            email = staff_admin.request_email_change(current_user, form.password.data, form.email.data)
        except mfa.WrongPassword as exc:
            form.password.errors.append(exc.message)
        except ServiceError as exc:
            form.email.errors.append(exc.message)
        else:
            flash(f"We have sent an email to {email}. Open the link in it to finish changing your address; "
                  "until then your address stays as it is.", "success")
            return redirect(url_for("backoffice.account"))
    return render_template("backoffice/security/email.html", form=form)


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email_change(token):
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            email = staff_admin.confirm_email_change(current_user, token)
            flash(f"Your email address is now {email}.", "success")
            return redirect(url_for("backoffice.account"))
        email = staff_admin.email_change_target(current_user, token)
    except staff_admin.EmailChangeLinkUnusable as exc:
        flash(exc.message, "warning")
        return redirect(url_for("backoffice.account"))
    return render_template("backoffice/security/email_confirm.html", form=form, email=email)


NEW_SECRET = "mfa_new_secret"  # noqa: S105 (a session key name, not a secret)


def _new_secret_context() -> str:
    return f"session.mfa_new_secret.{current_user.id}.{current_user.login_session.id}"


@bp.route("/account/two-factor", methods=["GET", "POST"])
@password_again_door
def two_factor():
    """Move to a new authenticator app: a new secret (kept encrypted in the cookie until confirmed)."""
    secret = None
    if session.get(NEW_SECRET):
        try:
            secret = decrypt_text(session[NEW_SECRET], _new_secret_context())
        except Exception:  # noqa: BLE001 (an old or foreign value: make a new one)
            secret = None
    if secret is None or (request.method == "GET" and request.args.get("new")):
        secret = mfa.new_secret()
        session[NEW_SECRET] = encrypt_text(secret, _new_secret_context())
    form = ReplaceAuthenticatorForm()
    codes_form = PasswordAgainForm(prefix="codes")
    if form.validate_on_submit():
        try:
            codes = mfa.replace_authenticator(current_user, form.password.data, secret, form.code.data)
        except mfa.WrongPassword as exc:
            form.password.errors.append(exc.message)
        except mfa.InvalidCode as exc:
            form.code.errors.append(exc.message)
        else:
            session.pop(NEW_SECRET, None)
            return render_template(
                "backoffice/security/recovery_codes.html", codes=codes, next_url=url_for("backoffice.account")
            )
    uri = mfa.provisioning_uri(current_user, secret)
    return render_template(
        "backoffice/security/two_factor.html", form=form, codes_form=codes_form, qr=mfa.qr_data_uri(uri),
        secret=mfa.grouped(secret), codes_left=mfa.recovery_codes_left(current_user),
    )


@bp.post("/account/recovery-codes")
@password_again_door
def new_recovery_codes():
    form = PasswordAgainForm(prefix="codes")
    if form.validate_on_submit():
        try:
            codes = mfa.regenerate_recovery_codes(current_user, form.password.data)
        except mfa.WrongPassword:
            flash("Your password is not correct, so no new codes were made.", "error")
        else:
            return render_template(
                "backoffice/security/recovery_codes.html", codes=codes, next_url=url_for("backoffice.account")
            )
    else:
        flash("Enter your password to make new recovery codes.", "error")
    return redirect(url_for("backoffice.two_factor"))
