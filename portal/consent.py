"""Who we may talk to: give consent (after an informed review), withdraw it in one step, see every use."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import bp
from shared.casework import cases as casework
from shared.consent import giving as consent_giving
from shared.consent import history as student_history
from shared.consent import receipts as consent_receipts
from shared.consent import requests as consent_requests
from shared.consent.forms import ConfirmConsentForm, ConsentDetailsForm
from shared.platform.errors import InvalidAnswers, ServiceError, ValidationFailed
from shared.web.casework_views import attachment, show_errors
from shared.web.forms import ConfirmForm

REVIEW_FIELDS = {"shown_sha256", "confirm", "typed_name"}


def _details_form(form_class=ConsentDetailsForm):
    form = form_class()
    return form.setup(current_user, casework.cases_for_student(current_user), default_expiry=consent_giving.default_expiry())


def _review(form: ConfirmConsentForm, details: consent_giving.ConsentDetails, request=None):
    text = consent_giving.statement(current_user, details)
    form.shown_sha256.data = consent_giving.sha256(text)
    documents = {d.id: d.title for d in consent_giving.student_documents(current_user)}
    return render_template("portal/consent/review.html", form=form, details=details, text=text,
                           scope_lines=consent_giving.describe_scopes(details, documents), request_=request)


@bp.get("/consents")
def consent_index():
    return render_template("portal/consent/index.html", consents=student_history.my_consents(current_user),
                           requests=consent_requests.pending_for(current_user))


@bp.route("/consents/new", methods=["GET", "POST"])
def consent_new():
    form = _details_form()
    if form.validate_on_submit():
        try:
            details = consent_giving.clean_details(current_user, form.details())
        except InvalidAnswers as exc:
            show_errors(form, exc)
        else:
            review = _details_form(ConfirmConsentForm)
            return _review(review, details)
    return render_template("portal/consent/new.html", form=form)


@bp.post("/consents/confirm")
def consent_confirm():
    form = _details_form(ConfirmConsentForm)
    if not form.validate_on_submit():
        return render_template("portal/consent/new.html", form=form)
    try:
        details = consent_giving.clean_details(current_user, form.details())
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return render_template("portal/consent/new.html", form=form)
    try:
        given = consent_giving.grant(current_user, details, confirmed=bool(form.confirm.data), typed_name=form.typed_name.data,
                              shown_sha256=form.shown_sha256.data)
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return _review(form, details)
    except ValidationFailed as exc:
        form.form_errors.append(exc.message)
        return _review(form, details)
    flash(f"Consent given. We may now share this with {given.recipient_name} until "
          f"{student_history.format_moment(given.expires_at)}. You can withdraw it here at any time.", "success")
    return redirect(url_for("portal.consent_show", consent_id=given.id))


@bp.get("/consents/<int:consent_id>")
def consent_show(consent_id):
    given = student_history.view_consent(current_user, current_user, consent_id)
    return render_template("portal/consent/show.html", c=given, form=ConfirmForm())


@bp.post("/consents/<int:consent_id>/withdraw")
def consent_withdraw(consent_id):
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("That did not work. Please try again.", "error")
        return redirect(url_for("portal.consent_show", consent_id=consent_id))
    try:
        given = consent_giving.withdraw(current_user, current_user, consent_id)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Consent withdrawn. We will not share anything more with {given.recipient_name} on it.", "success")
    return redirect(url_for("portal.consent_show", consent_id=consent_id))


@bp.get("/consents/history")
def consent_history():
    return render_template("portal/consent/history.html", rows=student_history.disclosure_history(current_user))


def _download(filename: str, data: bytes, mimetype: str) -> Response:
    return attachment(data, filename, mimetype)


@bp.get("/consents/<int:consent_id>/receipt.json")
def consent_receipt_json(consent_id):
    filename, data = consent_receipts.receipt_json(current_user, current_user, consent_id)
    return _download(filename, data, "application/json")


@bp.get("/consents/<int:consent_id>/receipt.pdf")
def consent_receipt_pdf(consent_id):
    filename, data = consent_receipts.receipt_pdf(current_user, current_user, consent_id)
    return _download(filename, data, "application/pdf")


@bp.get("/consents/requests/<int:request_id>")
def consent_request(request_id):
    req = consent_requests.request_for_student(current_user, request_id)
    if req.status != "pending":
        flash("You have already answered this request.", "info")
        return redirect(url_for("portal.consent_index"))
    return _review(_details_form(ConfirmConsentForm), consent_requests.details_of(req), req)


@bp.post("/consents/requests/<int:request_id>/approve")
def consent_request_approve(request_id):
    form = _details_form(ConfirmConsentForm)
    form.validate_on_submit()
    try:
        req = consent_requests.for_student(current_user, request_id)
        given = consent_requests.approve(current_user, request_id, expires_on=form.expires_on.data,
                                         confirmed=bool(form.confirm.data), typed_name=form.typed_name.data,
                                         shown_sha256=form.shown_sha256.data)
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return _review(form, consent_requests.details_of(req, form.expires_on.data), req)
    except ValidationFailed as exc:
        form.form_errors.append(exc.message)
        return _review(form, consent_requests.details_of(req, form.expires_on.data), req)
    flash(f"Consent given. We may now share this with {given.recipient_name}. You can withdraw it at any time.", "success")
    return redirect(url_for("portal.consent_show", consent_id=given.id))


@bp.post("/consents/requests/<int:request_id>/decline")
def consent_request_decline(request_id):
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("portal.consent_request", request_id=request_id))
    try:
        consent_requests.decline(current_user, request_id)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("You declined the request. We will not share anything on it.", "success")
    return redirect(url_for("portal.consent_index"))
