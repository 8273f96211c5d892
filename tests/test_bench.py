"""The benchmark harness runs end to end on a tiny scale. Tests never assert speed: benchmarks print it."""

import json
import shutil

import pytest
from sqlalchemy import select

from bench import harness, run
from bench.floor import drop_floor_tables
from bench.pages import PAGES, Page
from shared.demo.scale import seed_scale


def test_every_listed_page_answers_200_with_its_statements_counted(app, db):
    summary = seed_scale(20)
    summary["last_page_50"] = 1
    harness.add_page_placeholders(app, summary)
    results = harness.measure_pages(app, summary, PAGES, repeats=2, warmup=1)
    assert [r["page"] for r in results] == [p.name for p in PAGES]
    for row in results:
        assert row["status"] == [200], row
        assert row["p95_ms"] >= row["p50_ms"] > 0
    by_name = {r["page"]: r for r in results}
    assert by_name["student home"]["queries"] >= 1  # the session lookup is counted
    assert by_name["portal home"]["queries"] == 0


def test_benchmark_sign_in_needs_no_sign_in_form(app, db):
    summary = seed_scale(5)
    client = app.test_client()
    name, value = harness.session_cookie(app, "officer", summary)
    client.set_cookie(name, value)
    assert client.get("/staff/").status_code == 200
    assert harness.session_cookie(app, "anonymous", summary) is None


def test_benchmark_cookie_is_the_one_a_browser_holds_after_its_first_page(app, db):
    # Measured pages must not pay for remembering what the first page already remembered in the cookie
    # (a browser sends back the cookie it was given; a load tool replays the one it was handed).
    summary = seed_scale(5)
    for who, path in (("officer", "/staff/cases"), ("student", "/home")):
        name, value = harness.session_cookie(app, who, summary)
        client = app.test_client()
        client.set_cookie(name, value)
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, who


def test_a_page_behind_the_wrong_role_is_reported_not_hidden(app, db):
    summary = seed_scale(5)
    results = harness.measure_pages(app, summary, [Page("staff page as student", "student", "/staff/")], repeats=1,
                                    warmup=0)
    assert results[0]["status"] != [200]


def test_report_table_and_json_show_ratios_and_verdicts(app, db):
    summary = seed_scale(10)
    pages = harness.measure_pages(app, summary, PAGES[:2], repeats=2, warmup=0)
    verify = harness.verify_timing(app)
    assert verify["ok"] and verify["events"] > 10
    report = {"machine": run.machine(), "database": "test", "goals": run.GOALS,
              "scales": {"10": {"pages": pages}, "20": {"pages": pages, "audit_verify": verify}}}
    text = run.table(report)
    assert "portal home" in text and "p95 ratio" in text and "Audit verify" in text
    json.dumps(report, default=str)


def test_percentile():
    assert harness.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 10
    assert harness.percentile([5], 50) == 5


def test_load_report_counts_lost_submissions_and_errors_outside_the_fault_windows(app, db):
    from bench import load_client, load_writes
    from bench import load_faults as lf
    from shared.audit import log as audit
    from shared.models import Student

    before = load_writes.baseline(app)
    kept = Student(email="load-kept@example.ac.uk", password_hash="-")
    db.session.add(kept)
    db.session.flush()
    audit.record(None, "student.registered", kept, student_id=kept.id)
    db.session.commit()
    log = load_client.Log()
    log.faults = {"worker_killed": [5.0, 5.5], "database_down": [10.0, 14.0]}
    log.requests = [
        (1.0, "student", "/home", 200, False, "", 1.1),
        (5.2, "officer", "/staff/", 0, False, "ConnectionResetError", 5.3),  # the killed worker: allowed
        (11.0, "student", "/home", 503, True, "", 11.1),  # friendly 503 during the outage: allowed
        (9.0, "student", "POST /ask", 503, True, "", 10.2),  # sent before, answered during: allowed
        (20.0, "student", "/home", 503, True, "", 20.1),  # long after the outage: not allowed
        (12.0, "officer", "/staff/", 500, False, "", 12.1),  # never allowed
        (12.5, "student", "/home", 429, False, "", 12.6),  # a rate limit is an error, never a success
    ]
    log.submissions = [(1.0, "register", "load-kept@example.ac.uk", True, 200, 1),
                       (2.0, "register", "load-lost@example.ac.uk", True, 200, 2),
                       (11.0, "register", "load-failed@example.ac.uk", False, 503, 3)]
    health = [(14.05, 503), (14.3, 200)]
    report = lf.analyse(app, [load_writes.WRITES["register"]], log, health, before)
    register = report["writes"]["register"]
    assert register["lost"] == ["load-lost@example.ac.uk"] and register["retried"] == 2
    assert register["partial"] == [] and register["duplicated"] == [] and register["failed"] == 1
    assert report["recovery_seconds"] == 0.3
    assert report["http_500"] == 1
    assert sorted(e[0] for e in report["errors_outside_fault_windows"]) == [12.0, 12.5, 20.0]
    report.update(audit="OK: 1 events, chain intact", final_requests_ok=True, seconds=1, workers=1,
                  postgres="test", students=1, officers=1)
    text, passed = lf.render(report)
    assert not passed and "[FAIL] no lost submissions" in text and "[ok] audit chain verifies" in text
    assert len(text.splitlines()) <= 24  # one screen


def test_load_writes_find_their_records_through_the_encrypted_text_and_report_partial_ones(app, db):
    """Casework free text is encrypted at rest: the load test finds each submission by the marker in its
    decrypted text, and a record without its audit event or a document without its file is partial."""
    from bench import load_client, load_writes
    from shared.casework import cases as casework
    from shared.casework import documents
    from shared.casework import record as case_record
    from shared.casework.documents import Upload
    from shared.models import Document, utcnow
    from shared.platform import blobs
    from tests import factories
    from tests.factories_casework import PDF, make_case

    student, officer = factories.make_student(), factories.make_staff()
    before = load_writes.baseline(app)
    markers = [load_client.new_marker() for _ in range(4)]
    case = make_case(student, what_happened=f"{markers[0]} what happened", uploads=[Upload("a.pdf", PDF)])
    casework.student_sends_message(student, case.reference, f"{markers[1]} an update")
    case_record.add_entry(officer, case.reference, "note", utcnow(), f"{markers[2]} a note")
    keys = {"case": [f"{student.id}:{markers[0]}", f"{student.id}:{markers[3]}"],
            "message": [f"{case.reference}:{markers[1]}", f"{case.reference}:{markers[3]}"],
            "entry": [f"{case.reference}:{markers[2]}", f"{case.reference}:{markers[3]}"]}
    for name, (stored, missing) in keys.items():
        assert load_writes.WRITES[name].count(app, [stored, missing]) == {stored: 1, missing: 0}, name
        assert load_writes.WRITES[name].partial(app, before) == [], name
    assert load_writes.orphan_files(app, 0) == []  # the case's document has its row (the store starts empty)
    document = db.session.scalar(select(Document))
    blobs.store().delete(documents.blob_name(document.uid))
    db.session.commit()
    assert load_writes.WRITES["case"].partial(app, before) == [f"case {case.reference}: document {document.id} has no file"]
    # an entry without its first version
    from shared.models import CaseEntryVersion

    db.session.execute(CaseEntryVersion.__table__.delete())
    db.session.commit()
    problems = load_writes.WRITES["entry"].partial(app, before)
    assert any("has versions [], current 1" in p for p in problems) and any("has no text" in p for p in problems)


@pytest.mark.parametrize("tool", ["wrk", "python"])
def test_throughput_under_gunicorn_beside_the_floor_page(app, db, monkeypatch, tool):
    """Starts a real gunicorn on the test database for a moment: the floor and a signed-in page both answer
    200 under load, and the figures are reported (never judged here). Without wrk, Python threads load it."""
    if tool == "wrk" and not shutil.which("wrk"):
        pytest.skip("Debian's wrk is not installed (apt-get install -y wrk); the Python loader is tested")
    if tool == "python":
        monkeypatch.setattr(harness.shutil, "which", lambda _name: None)
    summary = seed_scale(5)
    pages = [Page("student home", "student", "/home", throughput=True), Page("not loaded", "anonymous", "/")]
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    result = harness.throughput(app, url, summary, pages, seconds=1, connections=2, workers=1)
    assert result["floor"]["rps"] > 0 and result["floor"]["non_2xx"] == 0
    assert result["floor"]["tool"] == tool
    [row] = result["pages"]
    assert row["page"] == "student home" and row["non_2xx"] == 0 and row["requests"] > 0
    assert row["floor_with_a_write_rps"] > 0 and row["stack_floor_rps"] > 0 and row["stack_floor_reading_rps"] > 0
    with db.engine.connect() as conn:  # the floors that write did write, each in a table of the benchmark's own
        assert conn.exec_driver_sql("SELECT count(*) FROM floor_views").scalar() > 0
        assert conn.exec_driver_sql("SELECT count(*) FROM stack_floor_views").scalar() > 0
    drop_floor_tables(db.engine)
    report = {"machine": run.machine(), "database": "test", "goals": run.GOALS,
              "scales": {"5": {"pages": [], "throughput": result}}}
    text = run.table(report)
    assert "the floor with a write" in text and "the floor on the stack" in text and "reading only" in text
