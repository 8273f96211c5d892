"""The publishable report: the only statistics that may leave the service.

Disclosure control (`shared.statistics.disclosure_control`) is applied to every table before anything is written;
the export holds no free text, names, references, dates of birth or officer names, and no time finer than
a month. Filters that would let two reports be compared to reveal a small group are refused
(`differencing.check_differencing`). Every export, and every refusal, is audited: who, which filters, when.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import current_app

from shared.audit import log as audit
from shared.platform.charts import bar_chart
from shared.platform.errors import ValidationFailed
from shared.platform.extensions import db
from shared.platform.pdf import render_pdf
from shared.statistics import differencing
from shared.statistics import queries as statistics
from shared.statistics.differencing import DisclosureRisk
from shared.statistics.disclosure_control import SUPPRESSED_MARK, Policy, average, protect, round_count
from shared.statistics.queries import Breakdown, Filters

FORMATS = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
TITLE = "Students' Unions' Advice Service: statistics"
SCOPE_NOTE = (
    "This report counts cases only. It does not include information about individual students, officers "
    "or the service's records of consent and disclosure."
)


@dataclass(frozen=True)
class Export:
    filename: str
    content: bytes
    mimetype: str


def policy() -> Policy:
    return Policy(threshold=int(current_app.config.get("STATS_SUPPRESSION_THRESHOLD", 10)))


def _shown(value: int | float | None) -> str:
    if value is None:
        return SUPPRESSED_MARK
    return f"{value:g}" if isinstance(value, float) else str(value)


OTHER = "Other"


def _listed_only(breakdown: Breakdown) -> list[tuple[str, list[int]]]:
    """Only the service's own words are published: every row that is not an item of a service list (a faculty
    a student typed, a code no longer listed) is counted under one "Other" row, whatever its size, and never
    printed. "Other" is then a row like any other, so disclosure control suppresses it when it is small."""
    if not breakdown.unlisted:
        return breakdown.rows
    kept, other = [], [0] * len(breakdown.columns)
    for label, values in breakdown.rows:
        if label in breakdown.unlisted or label == OTHER:
            other = [a + b for a, b in zip(other, values, strict=True)]
        else:
            kept.append((label, values))
    at = len(kept) - (1 if kept and kept[-1][0] == statistics.NOT_RECORDED else 0)  # Other before Not recorded
    kept.insert(at, (OTHER, other))
    return kept


def protected_table(breakdown: Breakdown, policy: Policy) -> dict:
    """A breakdown after disclosure control, as plain strings for the CSV and the PDF."""
    rows = _listed_only(breakdown)
    table = protect([values for _, values in rows], policy)
    multi = len(breakdown.columns) > 1
    out_rows = []
    for i, (label, _) in enumerate(rows):
        cells = [table.cell(i, j) for j in range(len(breakdown.columns))]
        total = table.row_total(i) if multi else None
        out_rows.append({"label": label, "cells": [_shown(c) for c in cells],
                         "total": _shown(total) if multi else None, "bar": total if multi else cells[0]})
    if len(rows) > 1:
        totals = {"cells": [_shown(table.col_total(j)) for j in range(len(breakdown.columns))],
                  "total": _shown(table.grand_total()) if multi else None}
    else:
        totals = None
    return {
        "key": breakdown.key,
        "title": breakdown.title,
        "row_heading": breakdown.row_heading,
        "columns": breakdown.columns,
        "multi": multi,
        "rows": out_rows,
        "totals": totals,
        "chart": bar_chart(f"pub-{breakdown.key}", breakdown.title, [(r["label"], r["bar"]) for r in out_rows]),
    }


def _count(n: int, policy: Policy) -> str:
    return SUPPRESSED_MARK if 0 < n < policy.threshold else str(round_count(n, policy.rounding_base))


def publishable_report(filters: Filters, policy: Policy) -> dict:
    """Everything the export contains, already protected. Plain dicts: the PDF template takes these."""
    times = statistics.response_times(filters)
    figures = []
    for key, label in (("first_response", "Days from opening to first response"),
                       ("closure", "Days from opening to closure")):
        d = times[key]
        figures.append({"label": f"{label}: median", "value": _shown(average(d.median_days, d.cases, policy)),
                        "cases": _count(d.cases, policy)})
        figures.append({"label": f"{label}: mean", "value": _shown(average(d.mean_days, d.cases, policy)),
                        "cases": _count(d.cases, policy)})
    area = dict(statistics.area_choices()).get(filters.area_code, "All areas") if filters.area_code else "All areas"
    return {
        "heading": TITLE,
        "period": _period(filters),
        "area": area,
        "tables": [protected_table(b, policy) for b in (*statistics.case_breakdowns(filters),
                                                         statistics.conflicts_handled(filters))],
        "figures": figures,
        "methods": policy.methods_note(),
        "scope": SCOPE_NOTE,
        "mark": SUPPRESSED_MARK,
    }


def _period(filters: Filters) -> str:
    first = filters.first_month.strftime("%b %Y") if filters.first_month else "the first case"
    last = filters.last_month.strftime("%b %Y") if filters.last_month else "the latest case"
    return f"{first} to {last}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Spreadsheet-safe: text that a spreadsheet would run as a formula is quoted."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def report_csv(report: dict) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([report["heading"]])
    w.writerow(["Period", report["period"]])
    w.writerow(["Area of concern", _cell(report["area"])])
    for table in report["tables"]:
        w.writerow([])
        w.writerow([table["title"]])
        w.writerow([table["row_heading"], *table["columns"], *(["Total"] if table["multi"] else [])])
        for row in table["rows"]:
            w.writerow([_cell(row["label"]), *row["cells"], *([row["total"]] if table["multi"] else [])])
        if table["totals"]:
            w.writerow(["Total", *table["totals"]["cells"], *([table["totals"]["total"]] if table["multi"] else [])])
    w.writerow([])
    w.writerow(["Measure", "Value", "Cases"])
    for figure in report["figures"]:
        w.writerow([figure["label"], figure["value"], figure["cases"]])
    w.writerow([])
    w.writerow(["Method", report["methods"]])
    w.writerow(["Scope", report["scope"]])
    return out.getvalue().encode("utf-8-sig")


def export(actor, filters: Filters, fmt: str, policy: Policy) -> Export:
    """Check the filters, build the protected report, write it, audit it, commit once."""
    if fmt not in FORMATS:
        raise ValidationFailed("Choose CSV or PDF.")
    described = filters.describe()
    try:
        differencing.check_differencing(filters, policy.threshold)
    except DisclosureRisk:
        audit.record(actor, "statistics.export_refused", None, format=fmt, threshold=policy.threshold, **described)
        db.session.commit()
        raise
    report = publishable_report(filters, policy)
    if fmt == "csv":
        content = report_csv(report)
    else:
        content = render_pdf("pdf/statistics.html", {"report": report}, title=TITLE)
    audit.record(actor, "statistics.exported", None, format=fmt, threshold=policy.threshold, **described)
    db.session.commit()
    name = f"advice-statistics-{described['from_month']}-to-{described['to_month']}-{described['area']}.{fmt}"
    return Export(name, content, FORMATS[fmt])
