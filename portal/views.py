from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal import bp
from shared.lifecycle import erasure as erasure_service
from shared.platform.errors import InvalidToken, ValidationFailed
from shared.security import accounts
from shared.security.authz import public
from shared.web import sign_in as auth_views
from shared.web.forms import ErasureRequestForm, RegisterForm
from shared.web.ratelimits import guarded_door, password_again_door
from shared.web.submissions import repeatable


@bp.get("/")
@public
def index():
    return render_template("portal/index.html")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@guarded_door
def sign_in():
    return auth_views.sign_in_page("portal", accounts.sign_in_student, "portal.home")


@bp.post("/sign-out")
@repeatable("signing out twice is signing out")
def sign_out():
    return auth_views.sign_out("portal")


@bp.route("/register", methods=["GET", "POST"])
@public
@guarded_door
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            accounts.register_student(form.email.data, form.password.data)
        except accounts.InvalidEmail as exc:
            form.email.errors.append(exc.message)
        except ValidationFailed as exc:
            form.password.errors.append(exc.message)
        else:
            return render_template("portal/check_email.html", email=form.email.data)
    return render_template("portal/register.html", form=form)


@bp.get("/register/confirm/<token>")
@public
def confirm_email(token):
    try:
        accounts.confirm_email(token)
    except InvalidToken as exc:
        return render_template("portal/confirm_failed.html", message=exc.message), 400
    flash("Your email address is confirmed. You can sign in now.", "success")
    return redirect(url_for("portal.sign_in"))


@bp.route("/reset", methods=["GET", "POST"])
@public
@guarded_door
def reset_request():
    return auth_views.reset_request_page("portal")


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset(token):
    return auth_views.reset_page("portal", token)


@bp.get("/home")
def home():
    return render_template("portal/home.html")


@bp.route("/account", methods=["GET", "POST"])
@password_again_door
def account():
    return auth_views.change_password_page("portal")


@bp.route("/erasure", methods=["GET", "POST"])
def erasure():
    form = ErasureRequestForm()
    if form.validate_on_submit():
        try:
            erasure_service.submit(current_user, form.details.data)
        except ValidationFailed as exc:
            form.form_errors.append(exc.message)
        else:
            flash("We have your request. We will tell you here what we decide, and email you when we do.", "success")
            return redirect(url_for("portal.erasure"))
    return render_template("portal/erasure.html", form=form, requests=erasure_service.for_student(current_user))
