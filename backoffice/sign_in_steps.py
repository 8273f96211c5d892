"""Staff sign-in after the password: the second step (TOTP or a recovery code), first-time enrolment, and
the confidentiality policy every member of staff accepts before anything else."""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from backoffice import bp
from backoffice.forms import (
    CodeForm,
    EnrolForm,
    PolicyForm,
)
from shared.platform.errors import InvalidToken, ServiceError
from shared.security import accounts, mfa, staff_policy
from shared.security.authz import public, safe_next
from shared.web.ratelimits import code_door

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
