"""Benchmark: the statistics page's server time with N cases.

    /work/venv/bin/python bench/stats_bench.py                 # N = 1,000 and 100,000 on a temporary SQLite
    /work/venv/bin/python bench/stats_bench.py -n 100000 --database-url postgresql://postgres@127.0.0.1:5432/bench_db --reset

Cases are made with bulk inserts (fictional, random codes). `--reset` DROPS the PostgreSQL schema first:
point it only at a throwaway database.
"""

from __future__ import annotations

import argparse
import random
import statistics as pystats
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text  # noqa: E402

CHUNK = 10_000


def build_app(url: str, instance: str, reset: bool):
    from flask_migrate import upgrade

    from shared.platform.config import database_url
    from shared.platform.crypto import generate_key
    from wsgi import create_app

    app = create_app({
        "SECRET_KEY": "bench-" + "s" * 40, "AUDIT_HMAC_KEY": "bench-" + "a" * 40,
        "ENCRYPTION_KEYS": f"b1:{generate_key()}", "SQLALCHEMY_DATABASE_URI": database_url(url),
        "INSTANCE_PATH": instance, "TESTING": True, "RATELIMIT_ENABLED": False, "MAIL_BACKEND": "memory",
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1,
    })
    with app.app_context():
        from shared.platform.extensions import db

        if reset and db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
    return app


def populate(n: int, seed: int = 7) -> dict:
    from shared.models import Case, Consent, ListItem, Staff, Student
    from shared.platform.extensions import db
    from shared.platform.passwords import hash_password

    rnd = random.Random(seed)
    pw = hash_password("bench manager passphrase")
    db.session.execute(insert(Staff), [
        dict(email=f"officer{i}@example.ac.uk", name=f"Officer {i}", job_title="Student Advisor", role="officer",
             password_hash=pw, active=True) for i in range(6)
    ] + [dict(email="bench.manager@example.ac.uk", name="Bench Manager", job_title="Advice Service Manager",
              role="manager", password_hash=pw, active=True)])
    staff_ids = db.session.scalars(select(Staff.id).where(Staff.role == "officer")).all()
    students = max(1, n // 4)
    for start in range(0, students, CHUNK):
        db.session.execute(insert(Student), [
            dict(email=f"bench{i}@example.ac.uk", password_hash=pw) for i in range(start, min(students, start + CHUNK))
        ])
    student_ids = db.session.scalars(select(Student.id)).all()
    codes = {kind: db.session.scalars(select(ListItem.code).where(ListItem.kind == kind)).all()
             for kind in ("college", "area", "outcome", "contact_method")}
    faculties = ["Law", "History", "Engineering", "Medicine", "Mathematics", "English", "Economics"]
    now = datetime.now(UTC)
    for start in range(0, n, CHUNK):
        rows = []
        for i in range(start, min(n, start + CHUNK)):
            opened = now - timedelta(days=rnd.uniform(0, 730))
            closed = opened + timedelta(days=rnd.uniform(1, 120)) if rnd.random() < 0.8 else None
            if closed and closed > now:
                closed = None
            rows.append(dict(
                reference=f"BENCH-{i:07d}", student_id=rnd.choice(student_ids), area_code=rnd.choice(codes["area"]),
                college_code=rnd.choice(codes["college"]), faculty=rnd.choice(faculties),
                year_of_study=str(rnd.randint(1, 4)), contact_method=rnd.choice(codes["contact_method"]),
                urgency="normal", private_room=False, opened_at=opened,
                first_response_at=opened + timedelta(hours=rnd.uniform(1, 240)),
                closed_at=closed, status="closed" if closed else "open",
                outcome_code=rnd.choice(codes["outcome"]) if closed else None,
                assigned_to_id=rnd.choice(staff_ids),
            ))
        db.session.execute(insert(Case), rows)
    consents = n // 20
    for start in range(0, consents, CHUNK):
        rows = []
        for _ in range(start, min(consents, start + CHUNK)):
            granted = now - timedelta(days=rnd.uniform(0, 730))
            rows.append(dict(
                receipt_id=str(uuid.uuid4()), student_id=rnd.choice(student_ids), recipient_name="Tutor",
                recipient_organisation="College", _purpose_enc="x", scopes=["summary"], document_ids=[],
                granted_at=granted, expires_at=granted + timedelta(days=365),
                withdrawn_at=granted + timedelta(days=30) if rnd.random() < 0.1 else None,
                collection_method="portal", wording_version="v1", wording_sha256="0" * 64, _shown_text_enc="x",
                typed_name="Fictional",
            ))
        db.session.execute(insert(Consent), rows)
    db.session.commit()
    return {"cases": n, "students": students, "consents": consents}


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench(n: int, url: str | None, reset: bool, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = build_app(db_url, tmp, reset or url is None)
        with app.app_context():
            from shared.platform.extensions import db

            t0 = time.perf_counter()
            made = populate(n)
            build_s = time.perf_counter() - t0
            dialect = db.engine.dialect.name
            if dialect == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
        client = app.test_client()
        page = client.get("/staff/sign-in").get_data(as_text=True)
        import re

        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        resp = client.post("/staff/sign-in", data={"csrf_token": token, "email": "bench.manager@example.ac.uk",
                                                   "password": "bench manager passphrase"})
        assert resp.status_code == 302, "sign-in failed"

        def page_all():
            r = client.get("/staff/statistics")
            assert r.status_code == 200

        last = date.today().replace(day=1)
        first = (last - timedelta(days=365)).replace(day=1)

        def page_filtered():
            r = client.get(f"/staff/statistics?first_month={first:%Y-%m}&last_month={last:%Y-%m}&area=housing")
            assert r.status_code == 200

        def csv_export():
            with app.app_context():
                from shared.statistics import publication
                from shared.statistics import queries as statistics

                publication.publishable_report(statistics.Filters(first, last), publication.policy())

        page_all()  # warm up templates and caches
        print(f"\n{dialect}, N = {n:,} cases ({made['students']:,} students, {made['consents']:,} consents); "
              f"built in {build_s:.1f} s with bulk inserts")
        for name, fn in (("statistics page, all months, all areas", page_all),
                         ("statistics page, 12 months, one area", page_filtered),
                         ("publishable report (protected tables, no file)", csv_export)):
            times = timed(fn, runs)
            print(f"  {name:<50} median {pystats.median(times):7.1f} ms   min {min(times):7.1f} ms   "
                  f"max {max(times):7.1f} ms   ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, action="append", help="number of cases (repeatable)")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL schema first (throwaway DB only)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for n in args.n or [1_000, 100_000]:
        bench(n, args.database_url, args.reset, args.runs)


if __name__ == "__main__":
    main()
