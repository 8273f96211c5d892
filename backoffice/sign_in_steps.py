"""Staff sign-in's second step (TOTP or a recovery code), first-time enrolment, the confidentiality
policy gate, and a staff member's own sessions, email and authenticator."""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from backoffice import bp
from backoffice.forms import (
    CodeForm,
    EmailChangeForm,
    EnrolForm,
    PasswordAgainForm,
    PolicyForm,
    ReplaceAuthenticatorForm,
)
from shared.platform.crypto import decrypt_text, encrypt_text
from shared.platform.errors import InvalidToken, NotFound, ServiceError
from shared.security import accounts, mfa, sessions, staff_admin, staff_policy
from shared.security.authz import public, safe_next
from shared.web.forms import ConfirmForm
from shared.web.ratelimits import code_door, password_again_door

PENDING = "mfa_pending"
# Signed-in staff may reach these before accepting the current policy.
POLICY_EXEMPT = frozenset({"backoffice.policy", "backoffice.sign_out"})


# --- sign-in, step two ---------------------------------------------------------------------------------


def begin_second_step(staff):
    """Called once the password is right: nothing is signed in yet, the browser only remembers who is
    half-way through (for a few minutes), and is sent to the code or, the first time, to enrolment."""
    session.clear()
    session[PENDING] = {
        "id": staff.id,
        "f": accounts.staff_fingerprint(staff),
        "at": int(time.time()),
        "next": safe_next(request.args.get("next"), ""),
    }
    return redirect(url_for("backoffice.sign_in_code" if staff.mfa_enrolled else "backoffice.sign_in_enrol"))


def _pending_staff():
    pending = session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > current_app.config["MFA_PENDING_SECONDS"]:
        return None
    try:
        return accounts.staff_half_signed_in(pending["id"], pending["f"])
    except InvalidToken:
        return None


def _start_again():
    session.pop(PENDING, None)
    flash("Please sign in again: the sign-in had expired.", "warning")
    return redirect(url_for("backoffice.sign_in"))


def _signed_in(staff):
    target = safe_next(session.get(PENDING, {}).get("next"), url_for("backoffice.dashboard"))
    session.clear()  # a new session at sign-in: nothing from before carries over
    login_user(staff)
    return target


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
@code_door
def sign_in_code():
    staff = _pending_staff()
    if staff is None:
        return _start_again()
    if not staff.mfa_enrolled:
        return redirect(url_for("backoffice.sign_in_enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            accounts.complete_staff_sign_in(staff, form.code.data, request.user_agent.string[:200])
        except mfa.InvalidCode as exc:
            form.code.errors.append(exc.message)
        else:
            return redirect(_signed_in(staff))
    return render_template("backoffice/security/code.html", form=form)


@bp.route("/sign-in/enrol", methods=["GET", "POST"])
@public
@code_door
def sign_in_enrol():
    staff = _pending_staff()
    if staff is None:
        return _start_again()
    if staff.mfa_enrolled:
        return redirect(url_for("backoffice.sign_in_code"))
    secret = mfa.enrolment_secret(staff)
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(staff, form.code.data)
        except mfa.InvalidCode as exc:
            form.code.errors.append(exc.message)
        else:
            accounts.start_enrolled_session(staff, request.user_agent.string[:200])
            target = _signed_in(staff)
            return render_template("backoffice/security/recovery_codes.html", codes=codes, next_url=target)
    uri = mfa.provisioning_uri(staff, secret)
    return render_template(
        "backoffice/security/enrol.html", form=form, qr=mfa.qr_data_uri(uri), secret=mfa.grouped(secret)
    )


# --- the confidentiality policy ------------------------------------------------------------------------


def policy_gate():
    """before_request, after the guard: a signed-in member of staff who has not accepted the current
    version of the policy sees only the policy (and can sign out)."""
    if request.endpoint in POLICY_EXEMPT or not (current_user.is_authenticated and current_user.is_staff):
        return None
    # Acceptances are kept for good, so once seen for this person and version the signed session cookie
    # remembers it, and later requests skip the query.
    seen = f"{current_user.id}:{staff_policy.current_version()}"
    if session.get("_policy_accepted") == seen:
        return None
    if staff_policy.has_accepted_current(current_user):
        session["_policy_accepted"] = seen
        return None
    return redirect(url_for("backoffice.policy", next=request.full_path.rstrip("?")), code=303)


@bp.route("/policy", methods=["GET", "POST"])
def policy():
    form = PolicyForm(version=staff_policy.current_version())
    accepted = staff_policy.acceptance(current_user)
    if form.validate_on_submit():
        try:
            staff_policy.accept(current_user, form.version.data)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash("Thank you. Your acceptance of the policy has been recorded.", "success")
            return redirect(safe_next(request.args.get("next"), url_for("backoffice.dashboard")))
    return render_template(
        "backoffice/security/policy.html", form=form, accepted=accepted, version=staff_policy.current_version()
    )


# --- my sessions, email and authenticator -------------------------------------------------------------


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
        try:
            staff_admin.end_own_session(current_user, session_id)
        except NotFound:
            flash("That session had already ended.", "warning")
        else:
            flash("That session has been ended.", "success")
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
