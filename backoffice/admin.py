"""Administration: staff accounts, service lists, consent wording, retention, the audit viewer and
erasure requests. Staff accounts and settings are for the administrator; the manager also reads the audit
log (and exports it), maintains the lists and wording, and decides erasure requests."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from backoffice import bp
from backoffice.forms import (
    AuditFilterForm,
    ConsentWordingForm,
    ErasureDecisionForm,
    ListItemForm,
    NewStaffForm,
    RenameForm,
    RetentionForm,
    StaffForm,
)
from shared.audit import log as audit
from shared.audit import viewer as audit_viewer
from shared.casework import service_lists
from shared.lifecycle import erasure, retention
from shared.platform.errors import InvalidAnswers, ServiceError
from shared.platform.forms import record_number
from shared.security import mfa, sessions, staff_admin
from shared.security.authz import ADMINS, MANAGERS, roles
from shared.web.casework_views import attachment, show_errors
from shared.web.forms import ConfirmForm


@bp.get("/admin/")
@roles(*MANAGERS)
def admin_home():
    return render_template("backoffice/admin/index.html", kinds=service_lists.KIND_LABELS,
                           is_admin=current_user.role in ADMINS)


# --- staff accounts (administrator) ---------------------------------------------------------------------


@bp.get("/admin/staff")
@roles(*ADMINS)
def admin_staff():
    return render_template("backoffice/admin/staff_list.html", staff=staff_admin.all_staff())


@bp.route("/admin/staff/new", methods=["GET", "POST"])
@roles(*ADMINS)
def admin_staff_new():
    form = NewStaffForm()
    if form.validate_on_submit():
        try:
            staff = staff_admin.create(current_user, email=form.email.data, name=form.name.data,
                                       job_title=form.job_title.data, role=form.role.data)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(f"Account created for {staff.name}. They have been emailed a link to choose a password.", "success")
            return redirect(url_for("backoffice.admin_staff_edit", staff_id=staff.id))
    return render_template("backoffice/admin/staff_new.html", form=form)


@bp.route("/admin/staff/<int:staff_id>", methods=["GET", "POST"])
@roles(*ADMINS)
def admin_staff_edit(staff_id):
    staff = staff_admin.get(staff_id)
    form = StaffForm(obj=staff)
    if form.validate_on_submit():
        try:
            staff_admin.update(current_user, staff, role=form.role.data, job_title=form.job_title.data,
                               name=form.name.data)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash("Changes saved.", "success")
            return redirect(url_for("backoffice.admin_staff_edit", staff_id=staff.id))
    return render_template(
        "backoffice/admin/staff_edit.html", staff=staff, form=form, confirm=ConfirmForm(),
        sessions=sessions.open_sessions(staff), codes_left=mfa.recovery_codes_left(staff),
    )


STAFF_ACTIONS = {
    "deactivate": (staff_admin.deactivate, "The account is deactivated and its sessions have ended."),
    "reactivate": (staff_admin.reactivate, "The account is active again."),
    "reset-mfa": (mfa.reset_for, "Two-factor authentication was reset: they will set it up at their next sign-in."),
    "force-reset": (staff_admin.force_password_reset, "Their password no longer works; a reset link was emailed."),
    "end-sessions": (staff_admin.end_sessions_of, "Their sessions have ended."),
}


@bp.post("/admin/staff/<int:staff_id>/<any(deactivate, reactivate, 'reset-mfa', 'force-reset', 'end-sessions'):action>")
@roles(*ADMINS)
def admin_staff_action(staff_id, action):
    staff = staff_admin.get(staff_id)
    if ConfirmForm().validate_on_submit():
        service, message = STAFF_ACTIONS[action]
        try:
            service(current_user, staff)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(message, "success")
    return redirect(url_for("backoffice.admin_staff_edit", staff_id=staff.id))


# --- service lists and consent wording (manager and administrator) --------------------------------------


@bp.route("/admin/lists/<kind>", methods=["GET", "POST"])
@roles(*MANAGERS)
def admin_list(kind):
    service_lists.check_kind(kind)
    form = ListItemForm()
    if form.validate_on_submit():
        try:
            service_lists.add(current_user, kind, form.label.data, form.group.data or None)
        except ServiceError as exc:
            form.label.errors.append(exc.message)
        else:
            flash("Added.", "success")
            return redirect(url_for("backoffice.admin_list", kind=kind))
    return render_template(
        "backoffice/admin/list.html", kind=kind, title=service_lists.KIND_LABELS[kind],
        items=service_lists.items(kind), form=form, rename=RenameForm(), confirm=ConfirmForm(),
    )


@bp.post("/admin/lists/item/<int:item_id>/<any(rename, retire, restore, up, down):action>")
@roles(*MANAGERS)
def admin_list_item(item_id, action):
    form = RenameForm() if action == "rename" else ConfirmForm()
    try:
        if not form.validate_on_submit():
            flash("Enter a name." if action == "rename" else "Please try again.", "error")
            item = service_lists.get_item(item_id)
        elif action == "rename":
            service_lists.rename(current_user, item_id, form.label.data)
            item = service_lists.get_item(item_id)
        elif action in ("retire", "restore"):
            item = service_lists.set_active(current_user, item_id, action == "restore")
        else:
            item = service_lists.move(current_user, item_id, 1 if action == "down" else -1)
    except ServiceError as exc:
        flash(exc.message, "error")
        item = service_lists.get_item(item_id)
    return redirect(url_for("backoffice.admin_list", kind=item.kind) + f"#item-{item.id}")


@bp.route("/admin/consent-wording", methods=["GET", "POST"])
@roles(*MANAGERS)
def admin_consent_wording():
    form = ConsentWordingForm()
    if form.validate_on_submit():
        try:
            service_lists.publish_wording(current_user, form.version.data, form.text.data)
        except ServiceError as exc:
            form.version.errors.append(exc.message)
        else:
            flash("The new wording is published. Consents already given keep the wording they recorded.", "success")
            return redirect(url_for("backoffice.admin_consent_wording"))
    return render_template("backoffice/admin/consent_wording.html", form=form, wordings=service_lists.wordings())


# --- retention (administrator) ---------------------------------------------------------------------------


@bp.route("/admin/retention", methods=["GET", "POST"])
@roles(*ADMINS)
def admin_retention():
    form = RetentionForm(years=retention.retention_years())
    if form.validate_on_submit():
        try:
            retention.set_retention_years(current_user, form.years.data)
        except ServiceError as exc:
            form.years.errors.append(exc.message)
        else:
            flash("The retention period is saved. The next scheduled run uses it.", "success")
            return redirect(url_for("backoffice.admin_retention"))
    return render_template("backoffice/admin/retention.html", form=form, decisions=retention.plan(),
                           cutoff=retention.cutoff())


# --- the audit log (manager and administrator) ----------------------------------------------------------


def _audit_filters(form: AuditFilterForm) -> audit_viewer.Filters | None:
    form.staff.choices = [("", "Anyone")] + [(str(i), n) for i, n in sorted(audit_viewer.staff_names().items(),
                                                                         key=lambda kv: kv[1])]
    if not form.validate():
        return None
    filters = audit_viewer.Filters(action=(form.action.data or "").strip() or None, date_from=form.date_from.data,
                                   date_to=form.date_to.data,
                                   staff_id=record_number(form.staff.data))
    try:
        filters.student_id = audit_viewer.find_student(form.student.data)
        filters.case_id = audit_viewer.find_case(form.case.data)
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return None
    return filters


@bp.get("/admin/audit")
@roles(*MANAGERS)
def admin_audit():
    form = AuditFilterForm(request.args)
    filters = _audit_filters(form) if request.args else audit_viewer.Filters()
    page = record_number(request.args.get("page")) or 1
    events, more, lookers = [], False, None
    if filters is not None:
        events, more = audit_viewer.search(current_user, filters, max(page, 1))
        if filters.student_id:
            lookers = audit_viewer.who_looked(current_user, filters.student_id)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "backoffice/admin/audit.html", form=form, events=events, more=more, page=page, args=args,
        lookers=lookers, names=audit_viewer.staff_names(), verification=audit.verify(),
    )


@bp.get("/admin/audit.csv")
@roles(*MANAGERS)
def admin_audit_csv():
    form = AuditFilterForm(request.args)
    filters = _audit_filters(form)
    if filters is None:
        flash("Correct the filters before exporting.", "error")
        return redirect(url_for("backoffice.admin_audit", **request.args))
    body = audit_viewer.export_csv(current_user, filters)
    return attachment(body, "audit-log.csv", "text/csv; charset=utf-8")


# --- erasure requests (manager and administrator) -------------------------------------------------------


@bp.get("/admin/erasure")
@roles(*MANAGERS)
def admin_erasure_list():
    return render_template("backoffice/admin/erasure_list.html", requests=erasure.erasure_queue())


@bp.route("/admin/erasure/<int:request_id>", methods=["GET", "POST"])
@roles(*MANAGERS)
def admin_erasure(request_id):
    req = erasure.get(request_id)
    form = ErasureDecisionForm()
    if form.validate_on_submit():
        try:
            erasure.decide(current_user, req, form.decision.data, form.outcome.data)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash("The decision is recorded and the student has been told.", "success")
            return redirect(url_for("backoffice.admin_erasure_list"))
    return render_template("backoffice/admin/erasure.html", req=req, form=form,
                           assessments=erasure.case_assessments(current_user, req))
