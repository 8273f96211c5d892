"""`make bench` / `python -m bench`: page timings and SQL counts at two scales, throughput under gunicorn
beside the floor page, and audit verification time. Prints a table with the ratios; writes JSON to
bench/results/ (git-ignored). Seeded databases are kept there and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from bench import harness
from bench.pages import PAGES

GOALS = {"p95_ratio": 1.5, "p95_ms": 50.0, "throughput_ratio": 0.5, "verify_100k_s": 1.0}
# The floors besides the goal's own (bench/floor.py), as the table names them: key, name, what it does.
REFERENCES = (
    ("floor_with_a_write", "the floor with a write", "one row appended and committed per request"),
    ("stack_floor", "the floor on the stack",
     "signed in through Flask-Login and Flask-SQLAlchemy, one row committed per view"),
    ("stack_floor_reading", "the floor on the stack, reading only", "the same, without the write"),
)


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os

    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def run(*, database: str, scales: list[int], repeats: int, seconds: float, skip_throughput: bool,
        log=print) -> dict:
    from wsgi import create_app

    report: dict = {"machine": machine(), "database": database, "scales": {}, "goals": GOALS,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    largest = max(scales)
    for cases in scales:
        url = harness.database_url_for(database, cases)
        if database == "postgresql":
            harness.create_postgres_database(url)
        log(f"== {cases} cases on {database}")
        app = create_app(harness.bench_config(url))
        summary = harness.prepare(app, cases, log=log)
        entry = {"seed": summary, "pages": harness.measure_pages(app, summary, PAGES, repeats=repeats)}
        if cases == largest:
            entry["audit_verify"] = harness.verify_timing(app)
            if not skip_throughput:
                entry["throughput"] = harness.throughput(app, url, summary, PAGES, seconds=seconds)
        report["scales"][str(cases)] = entry
        from shared.platform.extensions import db

        with app.app_context():
            db.engine.dispose()
    return report


def table(report: dict) -> str:
    scales = sorted(report["scales"], key=int)
    small, large = scales[0], scales[-1]
    lines = [f"Machine: {report['machine']['cpus']} cores, {report['machine']['cpu']}; database: {report['database']}",
             "", f"{'page':<26} {'who':<9} " + " ".join(f"{'p50/p95 ms @' + s:>22} {'SQL':>4}" for s in scales)
             + f" {'p95 ratio':>9}  verdict"]
    by_scale = {s: {p["page"]: p for p in report["scales"][s]["pages"]} for s in scales}
    for name, first in by_scale[small].items():
        cells, rows = [], [by_scale[s][name] for s in scales]
        for row in rows:
            cells.append(f"{row['p50_ms']:>10.1f}/{row['p95_ms']:<11.1f} {row['queries']:>4}")
        ratio = rows[-1]["p95_ms"] / max(rows[0]["p95_ms"], 0.001)
        problems = []
        if any(r["status"] != [200] for r in rows):
            problems.append(f"status {rows[-1]['status']}")
        if len({r["queries"] for r in rows} | {r["queries_min"] for r in rows}) > 1:
            problems.append("SQL count differs")
        if len(scales) > 1 and ratio > GOALS["p95_ratio"]:
            problems.append(f"p95 grew {ratio:.2f}x")
        if rows[-1]["p95_ms"] > GOALS["p95_ms"]:
            problems.append("p95 over 50 ms")
        lines.append(f"{name:<26} {first['who']:<9} " + " ".join(cells) + f" {ratio:>8.2f}x  "
                     + ("ok" if not problems else "; ".join(problems)))
    big = report["scales"][large]
    verify = big.get("audit_verify")
    if verify:
        verdict = "ok" if verify["ok"] and verify["seconds_per_100k"] < GOALS["verify_100k_s"] else "MISSED"
        if verify["ok"] and verify["events"] < 100_000:
            verdict = "(extrapolated from a short chain: judge it at 100,000 cases)"
        lines += ["", f"Audit verify: {verify['events']} events in {verify['seconds']} s "
                      f"({verify['seconds_per_100k']} s per 100,000; goal < 1 s) {verify['result']}  {verdict}"]
    tp = big.get("throughput")
    if tp:
        floor = tp["floor"]
        lines += ["", f"Throughput @ {large} cases, gunicorn {tp['workers']} workers, {tp['connections']} "
                      f"connections, {tp['seconds']} s a page in {tp.get('rounds', 1)} slices beside as many of "
                      f"each floor ({floor['tool']}; the floors: bench/floor.py):",
                  f"  {'floor: 50 rows, Jinja, no project code':<44} {floor['rps']:>8.1f} req/s"]
        for row in tp["pages"]:
            verdict = "ok" if row["ratio_to_floor"] >= GOALS["throughput_ratio"] and not row["non_2xx"] else "MISSED"
            lines.append(f"  {row['page'] + ' ' + row['path']:<44} {row['rps']:>8.1f} req/s  "
                         f"{row['ratio_to_floor']:.2f}x floor ({row.get('floor_rps', floor['rps']):.0f} beside it)  audit/request {row['audit_events_per_request']}"
                         f"  non-2xx {row['non_2xx']}  {verdict}")
            floor_rps = max(row.get("floor_rps", floor["rps"]), 0.1)
            for key, name, what in REFERENCES:
                if f"{key}_rps" in row:
                    rps = row[f"{key}_rps"]
                    lines.append(f"  {'':<44} {'':>14}  {row[f'ratio_to_{key}']:.2f}x {name} ({rps:.0f} beside it, "
                                 f"{rps / floor_rps:.2f}x the floor: {what})")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scales", default="1000,100000", help="comma-separated case counts")
    parser.add_argument("--repeats", type=int, default=200, help="timed requests per page and scale")
    parser.add_argument("--seconds", type=float, default=10, help="load duration per throughput page")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    report = run(database=args.database, scales=[int(s) for s in args.scales.split(",")],
                 repeats=args.repeats, seconds=args.seconds, skip_throughput=args.skip_throughput)
    text = table(report)
    print()
    print(text)
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    out = harness.RESULTS / f"bench-{args.database}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nJSON: {out.relative_to(harness.ROOT)}")
