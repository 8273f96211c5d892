"""Nothing twice: a form sent twice (a double click, a browser retry, a post sent again after its reply was
lost) is saved once and answered the second time with the first outcome; at the same moment from two
threads too, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from shared.models import AuditEvent, Case, CaseEntry, Disclosure, Message, SubmissionKey, utcnow
from shared.platform.extensions import db
from shared.security.authz import PUBLIC_ATTR
from shared.web.submissions import ALREADY_SENT, KEY_FIELD, REPEATABLE_ATTR
from tests import factories
from tests.factories_access import make_case as record_case
from tests.factories_casework import intake_form, make_case
from tests.factories_consent import give_consent
from tests.forms import Form, forms_in
from tests.hostile import Cast
from tests.plugin import tally
from tests.route_matrix import ARGS, RULES, endpoint_methods, first_allowed
from tests.support.web import signed_in

PAGES = [e for e, methods in endpoint_methods() if e in RULES and "GET" in methods and e not in ("static", "health.healthz")]
KEY = re.compile(r'name="submission_key" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _keys_on(html: str, action: str) -> dict:
    """The CSRF token and submission key of the form on this page that posts to `action`."""
    for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", html, re.S | re.I):
        attrs, body = match.groups()
        if f'action="{action}"' in attrs or ('action=' not in attrs and action is None):
            return {"csrf_token": CSRF.search(body).group(1), KEY_FIELD: KEY.search(body).group(1)}
    raise AssertionError(f"no form posting to {action}")


def _count(model, **where) -> int:
    db.session.commit()
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def _events(action: str) -> int:
    return _count(AuditEvent, action=action)


# Each form: who sends it, the page it is on, what it posts to, what the user types, and what one send makes.
def _student_message(student, officer):
    case = make_case(student)
    return ("student", f"/cases/{case.reference}", f"/cases/{case.reference}/messages",
            {"body": "Thank you, I will bring the letter."}, Message, {"case_id": case.id}, "message.sent")


def _casework_form(student, officer):
    return ("student", "/ask", None, intake_form(), Case, {"student_id": student.id}, "case.submitted")


def _staff_entry(student, officer):
    case = make_case(student)
    return ("officer", f"/staff/cases/{case.reference}", f"/staff/cases/{case.reference}/entries",
            {"entry-kind": "advice", "entry-text": "Advised on the appeal route."}, CaseEntry, {"case_id": case.id},
            "entry.added")


def _staff_message(student, officer):
    case = make_case(student)
    return ("officer", f"/staff/cases/{case.reference}", f"/staff/cases/{case.reference}/messages",
            {"message-body": "Please send the letter."}, Message, {"case_id": case.id}, "message.sent")


def _disclosure(student, officer):
    case = make_case(student)
    consent = give_consent(student, case=case)
    return ("officer", f"/staff/cases/{case.reference}/sharing", f"/staff/cases/{case.reference}/sharing",
            {"consent_id": str(consent.id), "scope": "summary", "method": "email",
             "what": "A summary of the extension request."}, Disclosure, {"case_id": case.id}, "disclosure.recorded")


FORMS = [_student_message, _casework_form, _staff_entry, _staff_message, _disclosure]


def _browser(app, who, student, officer):
    return signed_in(app, student if who == "student" else officer, factories.PASSWORD,
                     "portal" if who == "student" else "backoffice")


@pytest.mark.parametrize("make_form", FORMS, ids=[f.__name__.lstrip("_") for f in FORMS])
def test_the_same_form_sent_twice_is_saved_once_and_answered_with_the_first_outcome(app, db, student, officer, make_form):
    who, page, action, typed, model, where, event = make_form(student, officer)
    b = _browser(app, who, student, officer)
    data = {**typed, **_keys_on(b.get(page).get_data(as_text=True), action)}
    before, events_before = _count(model, **where), _events(event)
    first = b.client.post(action or page, data=data)
    assert first.status_code in (302, 303), first.get_data(as_text=True)[:2000]
    second = b.client.post(action or page, data=data)
    assert second.status_code == 303 and second.location == first.location
    assert _count(model, **where) == before + 1
    assert _events(event) == events_before + 1
    assert ALREADY_SENT in b.get(second.location).get_data(as_text=True)


@pytest.mark.parametrize("make_form", FORMS, ids=[f.__name__.lstrip("_") for f in FORMS])
def test_the_same_form_sent_twice_at_once_is_saved_once(app, db, student, officer, make_form):
    who, page, action, typed, model, where, event = make_form(student, officer)
    b = _browser(app, who, student, officer)
    data = {**typed, **_keys_on(b.get(page).get_data(as_text=True), action)}
    before, events_before = _count(model, **where), _events(event)
    twin = app.test_client()
    for cookie in b.client._cookies.values():
        twin.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    answers, start = {}, threading.Barrier(2)

    def send(name, client):
        start.wait()
        answers[name] = client.post(action or page, data=dict(data))

    threads = [threading.Thread(target=send, args=(n, c)) for n, c in (("a", b.client), ("b", twin))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in answers.values())[0] in (302, 303)
    assert {r.status_code for r in answers.values()} <= {302, 303}, {n: r.status_code for n, r in answers.items()}
    assert answers["a"].location == answers["b"].location
    assert _count(model, **where) == before + 1
    assert _events(event) == events_before + 1


def test_a_form_shown_again_with_its_errors_can_be_corrected_and_sent(app, db, student, student_browser):
    case = make_case(student)
    page = student_browser.get(f"/cases/{case.reference}").get_data(as_text=True)
    keys = _keys_on(page, f"/cases/{case.reference}/messages")
    refused = student_browser.client.post(f"/cases/{case.reference}/messages", data={**keys, "body": "  "})
    assert refused.status_code == 200 and "Enter your message." in refused.get_data(as_text=True)
    sent = student_browser.client.post(f"/cases/{case.reference}/messages", data={**keys, "body": "Now with words."})
    assert sent.status_code == 302
    assert _count(Message, case_id=case.id) == 1


def test_a_key_made_up_or_from_another_session_is_refused_and_saves_nothing(app, db, student, other_student):
    case = make_case(student)
    mine = signed_in(app, student, factories.PASSWORD, "portal")
    theirs = signed_in(app, other_student, factories.PASSWORD, "portal")
    their_key = _keys_on(theirs.get("/ask").get_data(as_text=True), None)[KEY_FIELD]
    keys = _keys_on(mine.get(f"/cases/{case.reference}").get_data(as_text=True), f"/cases/{case.reference}/messages")
    for key in (their_key, "made-up.0000", keys[KEY_FIELD] + "x", "0.\x80", "é" * 70, "." + keys[KEY_FIELD].partition(".")[2]):
        resp = mine.client.post(f"/cases/{case.reference}/messages", data={**keys, KEY_FIELD: key, "body": "Hello"})
        assert resp.status_code == 400
    assert _count(Message, case_id=case.id) == 0


def test_every_form_on_a_page_carries_its_own_key(app, db, student, officer):
    case = make_case(student)
    b = signed_in(app, officer, factories.PASSWORD, "backoffice")
    html = b.get(f"/staff/cases/{case.reference}").get_data(as_text=True)
    forms = [body for attrs, body in re.findall(r"<form\b([^>]*)>(.*?)</form>", html, re.S)
             if 'method="post"' in attrs and "/sign-out" not in attrs]  # signing out may be repeated
    keys = [KEY.search(body).group(1) for body in forms]
    assert len(forms) >= 8 and len(set(keys)) == len(forms)


def test_every_state_changing_form_checks_its_key(app, db, student, officer, manager):
    """Walk url_map: a key that is not ours is refused (400) by every signed-in POST route, before any
    work; only the routes marked repeatable (saying why) and the public doors do not check one."""
    case = make_case(student)
    accounts = {"portal": signed_in(app, student, factories.PASSWORD, "portal"),
                "backoffice": signed_in(app, manager, factories.PASSWORD, "backoffice")}
    csrf = {side: CSRF.search(b.get("/cases" if side == "portal" else "/staff/").get_data(as_text=True)).group(1)
            for side, b in accounts.items()}
    unchecked = []
    for rule in app.url_map.iter_rules():
        side = rule.endpoint.split(".")[0]
        if "POST" not in rule.methods or side not in accounts:
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, PUBLIC_ATTR, False) or getattr(view, REPEATABLE_ATTR, None):
            continue
        args = {name: (case.reference if name == "reference" else 1) for name in rule.arguments}
        if rule.endpoint == "backoffice.admin_staff_action":
            args["action"] = "deactivate"
        if rule.endpoint == "backoffice.admin_list_item":
            args["action"] = "rename"
        if rule.endpoint == "backoffice.admin_list":
            args["kind"] = "area"
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        resp = accounts[side].client.post(url, data={"csrf_token": csrf[side], KEY_FIELD: "made-up.0000"})
        if resp.status_code not in (400, 403):  # 403: this role may not use it at all
            unchecked.append(f"{rule.endpoint} answered {resp.status_code}")
    assert not unchecked, unchecked


def test_signing_out_ends_the_keys_of_the_session(app, db, student, student_browser):
    case = make_case(student)
    keys = _keys_on(student_browser.get(f"/cases/{case.reference}").get_data(as_text=True),
                    f"/cases/{case.reference}/messages")
    student_browser.client.post(f"/cases/{case.reference}/messages", data={**keys, "body": "Hello."})
    assert _count(SubmissionKey) == 1
    student_browser.client.post("/sign-out", data={"csrf_token": keys["csrf_token"]})
    assert _count(SubmissionKey) == 0


def test_old_keys_are_swept_at_the_next_sign_in(app, db, student, student_browser):
    case = make_case(student)
    keys = _keys_on(student_browser.get(f"/cases/{case.reference}").get_data(as_text=True),
                    f"/cases/{case.reference}/messages")
    student_browser.client.post(f"/cases/{case.reference}/messages", data={**keys, "body": "Hello."})
    row = db.session.scalars(select(SubmissionKey)).one()
    row.created_at -= timedelta(days=30)
    db.session.commit()
    signed_in(app, factories.make_student(email="someone.else@example.ac.uk"), factories.PASSWORD, "portal")
    assert _count(SubmissionKey) == 0


def test_a_form_sent_again_after_its_first_reply_was_lost_goes_back_to_its_page(app, db, student, student_browser):
    """The worker died after committing the message and before its redirect was kept: the repeat saves
    nothing and goes back to the page the form was on, saying it had been received."""
    case = make_case(student)
    page = f"/cases/{case.reference}"
    keys = _keys_on(student_browser.get(page).get_data(as_text=True), f"{page}/messages")
    from shared.web import submissions

    kept = submissions.remember_outcome
    app.after_request_funcs[None].remove(kept)  # as if the worker died before this step
    try:
        student_browser.client.post(f"{page}/messages", data={**keys, "body": "Sent once."},
                                    headers={"Referer": f"http://localhost{page}"})
    finally:
        app.after_request_funcs[None].append(kept)
    app.config["SUBMISSION_WAIT_SECONDS"] = 0.2
    try:
        again = student_browser.client.post(f"{page}/messages", data={**keys, "body": "Sent once."})
    finally:
        app.config["SUBMISSION_WAIT_SECONDS"] = 5
    assert again.status_code == 303 and again.location == page
    assert _count(Message, case_id=case.id) == 1


# ---------------------------------------------------------------------------------------- every form on every page

_PLAUSIBLE_DAY = utcnow().date().isoformat()  # today: entries may not be in the future, appointments not past
_walked: set = set()  # the routes whose forms have been sent twice
_sent_twice: list = []  # those whose first post succeeded (a redirect)


def plausible(form: Form) -> dict:
    """What a person would type into each field: the hidden fields as given, the first choice of each list,
    a date a week ahead, a time, a short fictional text."""
    data = {}
    for name, f in form.fields.items():
        if f.kind in ("submit", "button", "file"):
            continue
        if f.kind == "hidden":
            data[name] = f.options[0] if f.options else ""
        elif f.kind in ("select", "radio", "checkbox"):
            data[name] = next((o for o in f.options if o), "")
        elif f.kind == "date" or name.endswith(("_on", "day", "date", "month")):
            data[name] = _PLAUSIBLE_DAY
        elif f.kind == "time" or name.endswith(("_time", "-at")):
            data[name] = "00:05"
        elif "crsid" in name:
            data[name] = "ab123"
        elif "phone" in name:
            data[name] = "07700 900123"
        elif f.kind == "email" or "email" in name:
            data[name] = "someone.fictional@example.ac.uk"
        elif f.kind == "password" or "password" in name:
            data[name] = factories.PASSWORD
        elif name.endswith("minutes"):
            data[name] = "30"
        elif f.kind == "number" or name.endswith(("months", "years", "per_adviser", "days")):
            data[name] = "1"
        else:
            data[name] = "Fictional text"
    return data


@pytest.mark.parametrize("endpoint", PAGES)
def test_every_form_sent_twice_does_its_work_once(app, ctx, endpoint):
    """Walk every page as someone allowed to see it; send each of its signed-in forms twice with what a
    person would type. Where the first post succeeds, the second saves nothing, adds no audit event, and is
    answered with the first's redirect."""
    cast = Cast(app)
    args = cast.url_args(endpoint)
    if "reference" in args and not isinstance(ARGS.get(endpoint), type(lambda: 0)):
        record_case(cast.owner, reference=args["reference"])  # the table's sample reference, made real
    client = cast.client(first_allowed(RULES[endpoint]))
    with app.test_request_context():
        page_url = url_for(endpoint, **args)
    page = client.get(page_url)
    if page.status_code != 200 or "html" not in page.content_type:
        return
    adapter = app.url_map.bind("localhost")
    for form in forms_in(page.get_data(as_text=True), page_url):
        try:
            target = adapter.match(form.action, method="POST")[0]
        except Exception:  # noqa: BLE001, S112 - a form posting nowhere we serve is the route matrix's business
            continue
        view = app.view_functions[target]
        if target in _walked or getattr(view, PUBLIC_ATTR, False) or getattr(view, REPEATABLE_ATTR, None):
            continue
        _walked.add(target)
        data = plausible(form)
        first = client.post(form.action, data=data)
        if first.status_code not in (302, 303):
            continue  # what a person would type was not enough for this form: the five above are sent for real
        events = _count(AuditEvent)
        second = client.post(form.action, data=data)
        assert second.status_code == 303 and second.location == first.location, (target, second.status_code)
        assert _count(AuditEvent) == events, f"{target}: the second post was recorded"
        _sent_twice.append(target)
        tally("forms_sent_twice")


def test_the_walk_sent_most_signed_in_forms_twice():
    """The walk above reached the forms, not only their pages (it runs first, in file order). Those it does
    not reach with plain answers (a file to upload, a two-step form, an authenticator code, a month) are
    the five sent for real above, or have their own tests."""
    if not _walked:
        pytest.skip("the walk above did not run in this session")
    assert len(_sent_twice) >= 25, (sorted(_sent_twice), sorted(_walked - set(_sent_twice)))


def test_a_consent_confirmed_twice_is_given_once(db, student, student_browser):
    """The two-step consent form: the confirmation sent twice gives one consent and one audit event."""
    from shared.models import Consent
    from tests.support.consent_form import confirm, review

    page = review(student_browser)
    first = confirm(student_browser, page)
    assert first.status_code == 302, first.get_data(as_text=True)[:500]
    events = _count(AuditEvent)
    second = confirm(student_browser, page)
    assert second.status_code == 303 and second.location == first.location
    assert _count(Consent, student_id=student.id) == 1 and _count(AuditEvent) == events


def test_a_document_uploaded_twice_is_kept_once(app, db, student, officer):
    import io

    from shared.models import Document
    from tests.factories_casework import PDF

    case = make_case(student)
    b = signed_in(app, officer, factories.PASSWORD, "backoffice")
    action = f"/staff/cases/{case.reference}/documents"
    keys = _keys_on(b.get(f"/staff/cases/{case.reference}").get_data(as_text=True), action)
    before = _count(Document, case_id=case.id)
    answers = [b.client.post(action, data={**keys, "doc-document": (io.BytesIO(PDF), "letter.pdf")},
                             content_type="multipart/form-data") for _ in range(2)]
    assert answers[0].status_code == 302 and answers[1].status_code == 303
    assert answers[1].location == answers[0].location
    assert _count(Document, case_id=case.id) == before + 1
