"""The benchmark harness runs end to end on a tiny scale. Tests never assert speed: benchmarks print it."""

import json
import shutil

import pytest

from bench import harness, run
from bench.pages import PAGES, Page
from shared.scale import seed_scale


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
    from bench import load_faults as lf
    from shared import audit
    from shared.models import Student

    kept = Student(email="load-kept@example.ac.uk", password_hash="-")
    db.session.add(kept)
    db.session.flush()
    audit.record(None, "student.registered", kept, student_id=kept.id)
    db.session.commit()
    log = lf.Log()
    log.faults = {"worker_killed": [5.0, 5.5], "database_down": [10.0, 14.0]}
    log.requests = [
        (1.0, "student", "/home", 200, False, ""),
        (5.2, "officer", "/staff/", 0, False, "ConnectionResetError"),  # the killed worker: allowed
        (11.0, "student", "/home", 503, True, ""),  # friendly 503 during the outage: allowed
        (20.0, "student", "/home", 503, True, ""),  # long after the outage: not allowed
        (12.0, "officer", "/staff/", 500, False, ""),  # never allowed
    ]
    log.submissions = [(1.0, "load-kept@example.ac.uk", True, 200), (2.0, "load-lost@example.ac.uk", True, 200),
                       (11.0, "load-failed@example.ac.uk", False, 503)]
    health = [(14.05, 503), (14.3, 200)]
    report = lf.analyse(app, lf.WRITES["register"], log, health)
    assert report["lost"] == ["load-lost@example.ac.uk"]
    assert report["partial"] == [] and report["duplicated"] == []
    assert report["recovery_seconds"] == 0.3
    assert report["http_500"] == 1
    assert sorted(e[0] for e in report["errors_outside_fault_windows"]) == [12.0, 20.0]
    report.update(audit="OK: 1 events, chain intact", final_requests_ok=True, seconds=1, workers=1,
                  postgres="test", students=1, officers=1, write="register")
    text, passed = lf.render(report)
    assert not passed and "[FAIL] no lost submissions" in text and "[ok] audit chain verifies" in text


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
