"""The benchmark harness runs end to end on a tiny scale. Tests never assert speed: benchmarks print it."""

import json

from bench import harness, run
from bench.pages import PAGES, Page
from shared.scale import seed_scale


def test_every_listed_page_answers_200_with_its_statements_counted(app, db):
    summary = seed_scale(20)
    summary["last_page_50"] = 1
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
