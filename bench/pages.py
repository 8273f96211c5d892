"""The pages the benchmark measures. Adding a page is one line here.

    Page(name, who, path, throughput=False)

- `who`: "anonymous", "student", "officer", "manager" or "admin". The benchmark signs in as a fictional
  seed-scale account of that kind (the student has five cases; staff are the scale staff).
- `path`: may use placeholders filled from the seed-scale summary, e.g. "/staff/cases/{big_case_id}":
  {big_case_id} (the case with 200 entries), {sample_case_id} (an ordinary assigned case, owned by the
  benchmark student), {sample_student_id}, {last_page_50} (the last page of a 50-per-page list of all cases).
- `throughput=True` also measures requests per second under gunicorn, beside the floor page.
Every page must answer 200 (a redirect means the role or the path is wrong): the run says so loudly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    name: str
    who: str
    path: str
    throughput: bool = False


PAGES = [
    Page("portal home", "anonymous", "/"),
    Page("portal sign-in", "anonymous", "/sign-in"),
    Page("student home", "student", "/home", throughput=True),
    Page("staff dashboard", "officer", "/staff/"),
    Page("health check", "anonymous", "/healthz"),
    # Added as the pages are merged (paths as their branches define them), for example:
    Page("case list", "officer", "/staff/cases", throughput=True),
    Page("case list, last page", "officer", "/staff/cases?page=-1"),  # what its Last page link serves
    Page("case list, filtered", "officer", "/staff/cases?status=open&area=housing"),
    Page("case list, search", "officer", "/staff/cases?q={sample_case_reference}"),
    Page("case page, 200 entries", "officer", "/staff/cases/{big_case_reference}"),
    Page("statistics", "manager", "/staff/statistics"),
    Page("statistics, publishable report", "manager", "/staff/statistics/publishable"),
    Page("my cases", "student", "/cases"),
    Page("my consents", "student", "/consents"),
]
