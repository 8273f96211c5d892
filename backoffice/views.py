"""Staff sign-in with a password (the steps after it are in sign_in_steps), signing out, password reset, and
the password change on a member of staff's account page."""

from backoffice import bp, sign_in_steps
from shared.security import accounts
from shared.security.authz import public
from shared.web import sign_in as auth_views
from shared.web.ratelimits import guarded_door, password_again_door
from shared.web.submissions import repeatable


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@guarded_door
def sign_in():
    return auth_views.sign_in_page(
        "backoffice", accounts.check_staff_password, "backoffice.dashboard", then=sign_in_steps.begin_second_step
    )


@bp.post("/sign-out")
@repeatable("signing out twice is signing out")
def sign_out():
    return auth_views.sign_out("backoffice")


@bp.route("/reset", methods=["GET", "POST"])
@public
@guarded_door
def reset_request():
    return auth_views.reset_request_page("backoffice")


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset(token):
    return auth_views.reset_page("backoffice", token)


@bp.route("/account", methods=["GET", "POST"])
@password_again_door
def account():
    return auth_views.change_password_page("backoffice")
