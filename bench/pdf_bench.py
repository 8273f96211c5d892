"""Benchmark (not a test): the cost of producing a copy of records, next to a bare WeasyPrint render.

    /work/venv/bin/python bench/pdf_bench.py [50 500 2000]

For each size it builds a fictional student with that many case-record entries in a scratch SQLite
database, then measures, each in a fresh process so that peak memory is its own:

- project: `records.collect` from the database + `pdf.render_pdf` (Jinja, the refusing URL fetcher,
  tagged PDF/UA-1, metadata) + encryption, i.e. everything the render job does;
- render only: `pdf.render_pdf` from already-collected plain data;
- bare: `weasyprint.HTML(string=same_html).write_pdf()`, the same HTML with the stylesheet given as a
  file, no tagging, default fetcher;
- bare tagged: the same, with `pdf_variant="pdf/ua-1"` (what tagging alone costs);
- bare tagged, mended: the same again with the project's mending of pydyf (shared.platform.pdf: pydyf 0.13 rebuilds
  every page's reference once per node of the tag tree, which made tagging grow with the square of the
  length), so that project/mended is the project's own work alone.

Each figure is the best of 3 runs (2 at 2,000 entries) in that process. Goal: project <= 1.2 x bare.
Prints seconds, peak RSS (MB) and the growth of RSS while rendering, and the ratios.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYS = {
    "SECRET_KEY": "bench-secret-" + "x" * 40,
    "AUDIT_HMAC_KEY": "bench-audit-" + "y" * 40,
    "ENCRYPTION_KEYS": "b1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
    "JOBS_MODE": "sync",
    "MAIL_BACKEND": "memory",
}
PARAGRAPH = (
    "Met the student to go through the letter from the college about the exam result. We talked about the "
    "options: an appeal on procedural grounds, or a request for a remark. Agreed to draft a short summary "
    "of the timeline together and to check the deadlines in the examination regulations before Friday."
)


def make_app(workdir: Path):
    from wsgi import create_app

    return create_app({**KEYS, "INSTANCE_PATH": str(workdir), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}"})


def build(workdir: Path, entries: int) -> None:
    from datetime import timedelta

    from flask_migrate import upgrade

    from shared.models import Case, CaseEntry, CaseEntryVersion, Staff, Student, StudentProfile, utcnow
    from shared.platform.extensions import db

    app = make_app(workdir)
    with app.app_context():
        upgrade()
        student = Student(email="bench.student@example.ac.uk", password_hash="!", email_confirmed_at=utcnow())  # noqa: S106
        officer = Staff(email="bench.officer@example.ac.uk", name="Robin Benchmark", job_title="Student Advisor",
                        role="officer", password_hash="!")  # noqa: S106 - cannot sign in
        db.session.add_all([student, officer])
        db.session.flush()
        db.session.add(StudentProfile(student_id=student.id, full_name="Alex Benchmark", faculty="History"))
        kinds = ["event", "advice", "action", "meeting", "note"]
        start = utcnow() - timedelta(days=entries)
        case = None
        for n in range(entries):
            if n % 100 == 0:
                case = Case(reference=f"ADV-2026-{n // 100 + 1:04d}", student_id=student.id, area_code="exams")
                case.what_happened = "The exam was marked without the agreed adjustments. " * 3
                case.outcome_wanted = "A fair remark of the paper."
                db.session.add(case)
                db.session.flush()
            entry = CaseEntry(case_id=case.id, kind=kinds[n % 5], occurred_at=start + timedelta(days=n), author_id=officer.id)
            db.session.add(entry)
            db.session.flush()
            version = CaseEntryVersion(entry_id=entry.id, version=1, edited_by_id=officer.id)
            version.text = f"Entry {n + 1}. {PARAGRAPH}"
            db.session.add(version)
        db.session.commit()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(workdir: Path, what: str, repeat: int) -> dict:
    """Runs in a child process: the best of `repeat` runs, and the process's peak memory, printed as JSON.
    Every child first builds the app, so that all start from the same baseline and memory growth compares."""
    app = make_app(workdir)
    if what in ("bare", "bare-tagged", "bare-tagged-mended"):
        from weasyprint import HTML

        if what == "bare-tagged-mended":  # with the project's mending of pydyf (shared.platform.pdf), nothing else of it
            from shared.platform import pdf as pdf_module

            pdf_module._cache_page_references()

        html = (workdir / "copy.html").read_text()
        css = (ROOT / "static" / "css" / "pdf.css").as_uri()
        html = html.replace('href="app:pdf.css"', f'href="{css}"')
        before = _peak_mb()
        options = {"pdf_variant": "pdf/ua-1"} if what.startswith("bare-tagged") else {}
        seconds = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            document = HTML(string=html, base_url=str(ROOT)).render(**options)
            pdf = document.write_pdf(**options)
            seconds = min(seconds, time.perf_counter() - t0)
        return {"seconds": seconds, "peak_mb": _peak_mb(), "delta_mb": _peak_mb() - before, "bytes": len(pdf),
                "pages": len(document.pages)}

    from flask import current_app

    from shared.models import Student
    from shared.platform import pdf as pdf_module
    from shared.platform.crypto import encrypt_bytes
    from shared.platform.extensions import db
    from shared.subject_access.records import collect

    with app.app_context():
        student_id = db.session.query(Student.id).scalar()
        context_base = {"sar": {"reference": "SAR-2026-0001", "received_on": "1 March 2026", "released_on": "20 March 2026",
                                "scope_label": "everything we hold about you"}}
        title = "Your records from the Advice Service (SAR-2026-0001)"
        seconds = float("inf")
        if what == "render":
            record = collect(student_id)
            before = _peak_mb()
            for _ in range(repeat):
                t0 = time.perf_counter()
                out = pdf_module.render_pdf("records.html", {**context_base, "record": record}, title=title)
                seconds = min(seconds, time.perf_counter() - t0)
        else:  # project: everything the job does, from the database to the encrypted file
            before = _peak_mb()
            for _ in range(repeat):
                t0 = time.perf_counter()
                record = collect(student_id, load_files=True)
                html = pdf_module.render_html("records.html", {**context_base, "record": record}, title=title)
                out = pdf_module.html_to_pdf(html, title=title)
                encrypt_bytes(out, "access_requests.pdf.bench")
                seconds = min(seconds, time.perf_counter() - t0)
                db.session.remove()
            (workdir / "copy.html").write_text(html)
        assert current_app
        return {"seconds": seconds, "peak_mb": _peak_mb(), "delta_mb": _peak_mb() - before, "bytes": len(out)}


def child(workdir: Path, what: str, repeat: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", str(workdir), what, str(repeat)], capture_output=True, text=True,  # noqa: S603
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: list[int]) -> None:
    print(f"{'entries':>7} {'pages':>5} | {'project s':>9} {'peak MB':>8} | {'render s':>8} {'peak MB':>8} | "
          f"{'bare s':>7} {'peak MB':>8} | {'tagged s':>8} {'mended s':>8} | {'project/bare':>12} {'render/bare':>11} "
          f"{'project/tagged':>14} {'project/mended':>14}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            build(workdir, size)
            repeat = 3 if size <= 500 else 2
            project = child(workdir, "project", repeat)  # also writes the HTML the bare render uses
            render = child(workdir, "render", repeat)
            bare = child(workdir, "bare", repeat)
            tagged = child(workdir, "bare-tagged", repeat)
            mended = child(workdir, "bare-tagged-mended", repeat)
            print(f"{size:>7} {bare['pages']:>5} | {project['seconds']:>9.2f} {project['peak_mb']:>8.0f} | "
                  f"{render['seconds']:>8.2f} {render['peak_mb']:>8.0f} | {bare['seconds']:>7.2f} {bare['peak_mb']:>8.0f} | "
                  f"{tagged['seconds']:>8.2f} {mended['seconds']:>8.2f} | {project['seconds'] / bare['seconds']:>11.2f}x "
                  f"{render['seconds'] / bare['seconds']:>10.2f}x {project['seconds'] / tagged['seconds']:>13.2f}x "
                  f"{project['seconds'] / mended['seconds']:>13.2f}x", flush=True)
            print(f"{'':>13} memory growth while rendering (MB): project {project['delta_mb']:.0f}, render "
                  f"{render['delta_mb']:.0f}, bare {bare['delta_mb']:.0f}, bare tagged {tagged['delta_mb']:.0f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        os.environ.setdefault("APP_ENV", "development")
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))
    else:
        import argparse

        parser = argparse.ArgumentParser(prog="python bench/pdf_bench.py", description=__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("sizes", nargs="*", type=int, default=[50, 500, 2000], help="entries per copy")
        main(parser.parse_args().sizes)
