"""The route × role table: who may use every endpoint. tests/web/test_route_matrix.py checks each line against
the running app for {anonymous, student A, student B, officer, manager, admin} × every HTTP method.

Adding an endpoint is one line in RULES (and one in ARGS if its URL has parameters):

    "portal.case": STUDENT,                                   # RULES
    "portal.case": lambda owner: {"case_id": make_case(owner).id},   # ARGS: a factory (see below)

ARGS values are either a dict of sample URL arguments, or a factory `f(owner) -> dict` that builds an
object belonging to student A (`owner`, inside an app context) and returns the URL arguments for it. A
factory is called afresh for every check, so a POST by one role never changes what the next role sees.
For a STUDENT endpoint with a factory, student B must get 404 (never 403: that would confirm the object
exists). A missing endpoint fails the test with its name; so does a line for an endpoint that is gone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # "public", "student" or "staff"
    roles: frozenset = frozenset()  # staff roles allowed (staff rules only)

    def allows(self, who: str) -> bool:
        """who: 'anonymous', 'student_a', 'student_b', or a staff role."""
        if self.kind == "public":
            return True
        if self.kind == "student":
            return who in ("student_a", "student_b")
        return who in self.roles

    def __repr__(self) -> str:
        return self.name


def staff_roles(*roles: str) -> Rule:
    """A staff rule for an unusual set of roles, e.g. staff_roles("officer", "admin")."""
    return Rule("staff_roles(" + ", ".join(roles) + ")", "staff", frozenset(roles))


PUBLIC = Rule("PUBLIC", "public")  # anyone, signed in or not (must be decorated @public)
STUDENT = Rule("STUDENT", "student")  # a signed-in student
STAFF = Rule("STAFF", "staff", frozenset({"officer", "manager", "admin"}))  # any signed-in staff member
MANAGER = Rule("MANAGER", "staff", frozenset({"manager", "admin"}))  # @roles("manager", "admin")
ADMIN = Rule("ADMIN", "staff", frozenset({"admin"}))  # @roles("admin")


def _token(purpose: str, account) -> str:
    from shared.security.accounts import make_token

    return make_token(purpose, account)


def _case(owner):
    from tests.factories_access import make_case

    return make_case(owner)


def _access_request(owner):
    from tests.factories_access import make_request

    return make_request(owner)


def _consent(owner):
    from tests.factories_access import make_consent

    return make_consent(owner)


def _staff_member():
    from tests import factories

    return factories.make_staff(role="officer")


RULES: dict[str, Rule] = {
    # --- outside the blueprints ------------------------------------------------------------------
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    # --- portal: accounts (foundation) -----------------------------------------------------------
    "portal.index": PUBLIC,
    "portal.sign_in": PUBLIC,
    "portal.register": PUBLIC,
    "portal.confirm_email": PUBLIC,
    "portal.reset_request": PUBLIC,
    "portal.reset": PUBLIC,
    "portal.sign_out": STUDENT,
    "portal.home": STUDENT,
    "portal.account": STUDENT,
    # --- back office: accounts (foundation) ------------------------------------------------------
    "backoffice.sign_in": PUBLIC,
    "backoffice.reset_request": PUBLIC,
    "backoffice.reset": PUBLIC,
    "backoffice.sign_out": STAFF,
    "backoffice.dashboard": STAFF,
    "backoffice.account": STAFF,
    # --- casework, consent, access requests, statistics, staff security and administration ----------
    "backoffice.access_extend": STAFF,
    "backoffice.access_mark_reviewed": STAFF,
    "backoffice.access_pause": STAFF,
    "backoffice.access_queue": STAFF,
    "backoffice.access_redact": STAFF,
    "backoffice.access_refuse": STAFF,
    "backoffice.access_release": STAFF,
    "backoffice.access_request": STAFF,
    "backoffice.access_resume": STAFF,
    "backoffice.access_retry": STAFF,
    "backoffice.access_review": STAFF,
    "backoffice.access_unredact": STAFF,
    "backoffice.admin_audit": MANAGER,
    "backoffice.admin_audit_csv": MANAGER,
    "backoffice.admin_consent_wording": MANAGER,
    "backoffice.admin_erasure": MANAGER,
    "backoffice.admin_erasure_list": MANAGER,
    "backoffice.admin_home": MANAGER,
    "backoffice.admin_list": MANAGER,
    "backoffice.admin_list_item": MANAGER,
    "backoffice.admin_retention": ADMIN,
    "backoffice.admin_staff": ADMIN,
    "backoffice.admin_staff_action": ADMIN,
    "backoffice.admin_staff_edit": ADMIN,
    "backoffice.admin_staff_new": ADMIN,
    "backoffice.breach_addendum": STAFF,
    "backoffice.breach_advise": staff_roles("officer", "manager"),  # the administrator is no advice officer
    "backoffice.breach_decide": staff_roles("officer", "manager"),
    "backoffice.breach_new": staff_roles("officer", "manager"),
    "backoffice.breach_request": STAFF,
    "backoffice.breach_show": STAFF,
    "backoffice.breaches": STAFF,
    "backoffice.case": STAFF,
    "backoffice.case_add_entry": STAFF,
    "backoffice.case_amend_entry": STAFF,
    "backoffice.case_appointment": STAFF,
    "backoffice.case_assign": STAFF,
    "backoffice.case_cancel_appointment": STAFF,
    "backoffice.case_close": STAFF,
    "backoffice.case_document": STAFF,
    "backoffice.case_flag": STAFF,
    "backoffice.case_add_person": STAFF,
    "backoffice.conflict": STAFF,  # the service then lets in the manager and the two cases' officers only
    "backoffice.conflict_decide": STAFF,
    "backoffice.case_message": STAFF,
    "backoffice.case_status": STAFF,
    "backoffice.cases": STAFF,
    "backoffice.change_email": STAFF,
    "backoffice.confirm_email_change": STAFF,
    "backoffice.consent_disclose": STAFF,
    "backoffice.consent_record": STAFF,
    "backoffice.consent_request_new": STAFF,
    "backoffice.consent_sharing": STAFF,
    "backoffice.consent_withdraw_for_student": STAFF,
    "backoffice.document": STAFF,
    "backoffice.end_my_other_sessions": STAFF,
    "backoffice.end_my_session": STAFF,
    "backoffice.enquiries": STAFF,
    "backoffice.enquiry_show": STAFF,
    "backoffice.incident_new": STAFF,
    "backoffice.incident_resolve": MANAGER,
    "backoffice.my_sessions": STAFF,
    "backoffice.new_recovery_codes": STAFF,
    "backoffice.notice_read": MANAGER,
    "backoffice.policy": STAFF,
    "backoffice.reflective_agenda": STAFF,
    "backoffice.reflective_discussed": STAFF,
    "backoffice.review_action_done": STAFF,  # file review: the service finds only the adviser's own
    "backoffice.review_add_action": STAFF,  # the reviewer's own review, else not found
    "backoffice.review_close": STAFF,
    "backoffice.review_draw": MANAGER,
    "backoffice.review_feedback": STAFF,
    "backoffice.review_findings": STAFF,
    "backoffice.review_scheme": MANAGER,
    "backoffice.review_send_feedback": STAFF,
    "backoffice.review_show": STAFF,
    "backoffice.reviews_csv": MANAGER,
    "backoffice.reviews_overview": STAFF,  # the manager sees every review, an adviser their own
    "backoffice.sign_in_code": PUBLIC,
    "backoffice.sign_in_enrol": PUBLIC,
    "backoffice.statistics_page": STAFF,
    "backoffice.statistics_publishable": MANAGER,
    "backoffice.two_factor": STAFF,
    "portal.access_download": STUDENT,
    "portal.access_index": STUDENT,
    "portal.access_new": STUDENT,
    "portal.access_show": STUDENT,
    "portal.ask": STUDENT,
    "portal.autosave_draft": STUDENT,
    "portal.case": STUDENT,
    "portal.case_message": STUDENT,
    "portal.case_received": STUDENT,
    "portal.consent_confirm": STUDENT,
    "portal.consent_history": STUDENT,
    "portal.consent_index": STUDENT,
    "portal.consent_new": STUDENT,
    "portal.consent_receipt_json": STUDENT,
    "portal.consent_receipt_pdf": STUDENT,
    "portal.consent_request": STUDENT,
    "portal.consent_request_approve": STUDENT,
    "portal.consent_request_decline": STUDENT,
    "portal.consent_show": STUDENT,
    "portal.consent_withdraw": STUDENT,
    "portal.discard_draft": STUDENT,
    "portal.document": STUDENT,
    "portal.erasure": STUDENT,
    "portal.my_cases": STUDENT,
}

ARGS: dict = {
    "static": {"filename": "css/app.css"},
    "portal.confirm_email": lambda owner: {"token": _token("confirm", owner)},
    "portal.reset": lambda owner: {"token": _token("reset", owner)},
    "backoffice.reset": lambda owner: {"token": _token("reset", _staff_member())},
    "backoffice.confirm_email_change": {"token": "not-a-link"},
    # Staff endpoints take sample ids that need not exist (a 404 is fine for an allowed role); student
    # endpoints build student A's own object, which student B must get as a 404.
"backoffice.access_extend": {'request_id': 1},  # /staff/access/<int:request_id>/extend
    "backoffice.access_mark_reviewed": {'request_id': 1},  # /staff/access/<int:request_id>/reviewed
    "backoffice.access_pause": {'request_id': 1},  # /staff/access/<int:request_id>/pause
    "backoffice.access_redact": {'item_id': 1, 'kind': 'entry', 'request_id': 1},  # /staff/access/<int:request_id>/redact/<kind>/<int:item_id>
    "backoffice.access_refuse": {'request_id': 1},  # /staff/access/<int:request_id>/refuse
    "backoffice.access_release": {'request_id': 1},  # /staff/access/<int:request_id>/release
    "backoffice.access_request": {'request_id': 1},  # /staff/access/<int:request_id>
    "backoffice.access_resume": {'request_id': 1},  # /staff/access/<int:request_id>/resume
    "backoffice.access_retry": {'request_id': 1},  # /staff/access/<int:request_id>/retry
    "backoffice.access_review": {'request_id': 1},  # /staff/access/<int:request_id>/review
    "backoffice.access_unredact": {'redaction_id': 1, 'request_id': 1},  # /staff/access/<int:request_id>/redactions/<int:redaction_id>/remove
    "backoffice.admin_erasure": {'request_id': 1},  # /staff/admin/erasure/<int:request_id>
    "backoffice.admin_list": {'kind': 'college'},  # /staff/admin/lists/<kind>
    "backoffice.admin_list_item": {'action': 'down', 'item_id': 1},  # /staff/admin/lists/item/<int:item_id>/<any(rename, retire, restore, up, down):action>
    "backoffice.admin_staff_action": {'action': 'deactivate', 'staff_id': 1},  # /staff/admin/staff/<int:staff_id>/<any(deactivate, reactivate, 'reset-mfa', 'force-reset', 'end-sessions'):action>
    "backoffice.admin_staff_edit": {'staff_id': 1},  # /staff/admin/staff/<int:staff_id>
    "backoffice.breach_addendum": {'breach_id': 1},  # /staff/breaches/<int:breach_id>/addenda
    "backoffice.breach_new": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/breach
    "backoffice.breach_request": {'request_id': 1},  # /staff/breach-requests/<int:request_id>
    "backoffice.breach_advise": {'request_id': 1},  # /staff/breach-requests/<int:request_id>/advice
    "backoffice.breach_decide": {'request_id': 1},  # /staff/breach-requests/<int:request_id>/decision
    "backoffice.breach_show": {'breach_id': 1},  # /staff/breaches/<int:breach_id>
    "backoffice.case": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>
    "backoffice.case_add_entry": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/entries
    "backoffice.case_amend_entry": {'entry_id': 1, 'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/entries/<int:entry_id>/amend
    "backoffice.case_appointment": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/appointments
    "backoffice.case_assign": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/assign
    "backoffice.case_cancel_appointment": {'appointment_id': 1, 'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/appointments/<int:appointment_id>/cancel
    "backoffice.case_close": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/close
    "backoffice.case_document": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/documents
    "backoffice.case_flag": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/reflective
    "backoffice.case_add_person": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/people
    "backoffice.conflict": {'conflict_id': 1},  # /staff/conflicts/<int:conflict_id>
    "backoffice.conflict_decide": {'conflict_id': 1},  # /staff/conflicts/<int:conflict_id>/decision
    "backoffice.case_message": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/messages
    "backoffice.case_status": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/status
    "backoffice.consent_disclose": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/sharing
    "backoffice.consent_record": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/consents/new
    "backoffice.consent_request_new": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/consent-request
    "backoffice.consent_sharing": {'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/sharing
    "backoffice.consent_withdraw_for_student": {'consent_id': 1, 'reference': 'ADV-2026-0001'},  # /staff/cases/<reference>/consents/<int:consent_id>/withdraw
    "backoffice.document": {'document_id': 1},  # /staff/documents/<int:document_id>
    "backoffice.end_my_session": {'session_id': 1},  # /staff/account/sessions/<int:session_id>/end
    "backoffice.enquiry_show": {'enquiry_id': 1},  # /staff/enquiries/<int:enquiry_id>
    "backoffice.incident_resolve": {'incident_id': 1},  # /staff/incidents/<int:incident_id>/resolve
    "backoffice.notice_read": {'notice_id': 1},  # /staff/notices/<int:notice_id>/read
    "backoffice.reflective_discussed": {'flag_id': 1},  # /staff/reflective-practice/<int:flag_id>/discussed
    "backoffice.review_action_done": {'action_id': 1, 'review_id': 1},  # /staff/file-reviews/<int:review_id>/actions/<int:action_id>/done
    "backoffice.review_add_action": {'review_id': 1},  # /staff/file-reviews/<int:review_id>/actions
    "backoffice.review_close": {'review_id': 1},  # /staff/file-reviews/<int:review_id>/close
    "backoffice.review_feedback": {'review_id': 1},  # /staff/file-reviews/<int:review_id>/feedback
    "backoffice.review_findings": {'review_id': 1},  # /staff/file-reviews/<int:review_id>/findings
    "backoffice.review_send_feedback": {"review_id": 1},  # /staff/file-reviews/<int:review_id>/send-feedback
    "backoffice.review_show": {'review_id': 1},  # /staff/file-reviews/<int:review_id>
    "portal.access_download": lambda owner: {"request_id": _access_request(owner).id},
    "portal.access_show": lambda owner: {"request_id": _access_request(owner).id},
    "portal.case": lambda owner: {"reference": _case(owner).reference},
    "portal.case_message": lambda owner: {"reference": _case(owner).reference},
    "portal.case_received": lambda owner: {"reference": _case(owner).reference},
    "portal.consent_receipt_json": lambda owner: {"consent_id": _consent(owner).id},
    "portal.consent_receipt_pdf": lambda owner: {"consent_id": _consent(owner).id},
    "portal.consent_request": {'request_id': 1},  # /consents/requests/<int:request_id>
    "portal.consent_request_approve": {'request_id': 1},  # /consents/requests/<int:request_id>/approve
    "portal.consent_request_decline": {'request_id': 1},  # /consents/requests/<int:request_id>/decline
    "portal.consent_show": lambda owner: {"consent_id": _consent(owner).id},
    "portal.consent_withdraw": lambda owner: {"consent_id": _consent(owner).id},
    "portal.document": {'document_id': 1},  # /documents/<int:document_id>
}

WHO = ("anonymous", "student_a", "student_b", "officer", "manager", "admin")
CHECKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SIGN_IN = {"student": "/sign-in", "staff": "/staff/sign-in"}


def url_map_app():
    """A throwaway app (no database touched) whose url_map the tests are generated from."""
    global _APP
    if _APP is None:
        import tempfile

        from tests.support.web import TEST_KEYS
        from wsgi import create_app

        _APP = create_app(
            {
                **TEST_KEYS,
                "TESTING": True,
                "INSTANCE_PATH": tempfile.mkdtemp(prefix="urlmap-"),
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
            }
        )
    return _APP


_APP = None


def endpoint_methods(app=None) -> list[tuple[str, tuple[str, ...]]]:
    """Every endpoint in url_map with the methods the matrix checks, in a stable order."""
    app = app or url_map_app()
    methods: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        methods.setdefault(rule.endpoint, set()).update(m for m in rule.methods if m in CHECKED_METHODS)
    return sorted((e, tuple(m for m in CHECKED_METHODS if m in ms)) for e, ms in methods.items())


def first_allowed(rule: Rule) -> str:
    """The least privileged user the rule lets in (whom forms are fuzzed as, for example)."""
    return next(who for who in WHO if rule.allows(who))
