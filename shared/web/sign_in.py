"""The sign-in, sign-out, password-reset and change-password pages, written once for both blueprints.

Each blueprint passes its `side` ('portal' or 'backoffice'); templates under templates/auth/ extend that
side's layout. The behaviour (and so the no-enumeration promise) is identical on both sides.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from shared.platform.errors import InvalidToken, ServiceError, ValidationFailed
from shared.security import accounts
from shared.security.authz import safe_next
from shared.web.forms import ChangePasswordForm, NewPasswordForm, ResetRequestForm, SignInForm

KIND = {"portal": "student", "backoffice": "staff"}


def _render(side: str, name: str, **context):
    return render_template(f"auth/{name}.html", layout=f"{side}/layout.html", side=side, **context)


def sign_in_page(side: str, sign_in: Callable, home: str, then: Callable | None = None):
    """`then(account)` replaces the usual ending when sign-in has a second step (staff: the code)."""
    form = SignInForm()
    if form.validate_on_submit():
        try:
            account = sign_in(form.email.data, form.password.data, request.user_agent.string[:200])
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            return then(account) if then else complete_sign_in(account, home)
    return _render(side, "sign_in", form=form)


def complete_sign_in(account, home: str):
    session.clear()  # a new session at sign-in: nothing from before carries over
    login_user(account)
    return redirect(safe_next(request.args.get("next"), url_for(home)))


def sign_out(side: str):
    if current_user.is_authenticated:
        accounts.sign_out(current_user)
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for(f"{side}.sign_in"))


def reset_request_page(side: str):
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(KIND[side], form.email.data)
        return _render(side, "reset_sent", email=form.email.data)
    return _render(side, "reset_request", form=form)


def reset_page(side: str, token: str):
    kind = KIND[side]
    try:
        accounts.account_for_reset(kind, token)
    except InvalidToken as exc:
        return _render(side, "reset", form=None, invalid=exc.message), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(kind, token, form.password.data)
        except ValidationFailed as exc:
            form.password.errors.append(exc.message)
        except InvalidToken as exc:
            return _render(side, "reset", form=None, invalid=exc.message), 400
        else:
            logout_user()
            session.clear()
            flash("Your password has been changed. Please sign in with it now.", "success")
            return redirect(url_for(f"{side}.sign_in"))
    return _render(side, "reset", form=form, invalid=None)


def change_password_page(side: str):
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current.data, form.password.data)
        except accounts.InvalidCredentials as exc:
            form.current.errors.append(exc.message)
        except ServiceError as exc:
            form.password.errors.append(exc.message)
        else:
            flash("Your password has been changed. Any other signed-in sessions have been ended.", "success")
            return redirect(url_for(f"{side}.account"))
    return _render(side, "account", form=form)
