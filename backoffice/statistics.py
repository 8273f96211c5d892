"""Statistics: the internal page (exact counts, staff only) and the publishable report (managers, admin)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from wtforms import RadioField, SelectField, SubmitField
from wtforms.fields import MonthField
from wtforms.validators import Optional, ValidationError

from backoffice import bp
from shared.platform.charts import bar_chart
from shared.platform.errors import ServiceError
from shared.platform.forms import Form
from shared.security.authz import MANAGERS, roles
from shared.statistics import publication
from shared.statistics import queries as statistics
from shared.web.casework_views import attachment


class _Month(MonthField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("Enter a month as year and month, for example 2026-03.") from exc


class FilterForm(Form):
    class Meta:
        csrf = False  # a GET form that only filters what is shown

    first_month = _Month("From (month)", validators=[Optional()], description="For example 2026-01. Leave empty for the first case.")
    last_month = _Month("To (month)", validators=[Optional()], description="For example 2026-06. Leave empty for the latest case.")
    area = SelectField("Area of concern", choices=[], validators=[Optional()])
    submit = SubmitField("Show")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.area.choices = [("", "All areas"), *statistics.area_choices()]

    def validate_last_month(self, field):
        if field.data and self.first_month.data and field.data < self.first_month.data:
            raise ValidationError("The last month must be the same as or after the first month.")

    def filters(self) -> statistics.Filters:
        # Optional() lets an area of only spaces through (it counts as empty, and clears the choice check's
        # error): it is all areas, as an empty one is, not an area code.
        return statistics.Filters(self.first_month.data, self.last_month.data, (self.area.data or "").strip() or None)


class PublishForm(FilterForm):
    class Meta:
        csrf = True

    format = RadioField("Format", choices=[("csv", "CSV (spreadsheet)"), ("pdf", "PDF with charts")], default="csv")
    submit = SubmitField("Download publishable report")


def _chart_items(breakdown: statistics.Breakdown):
    return [(label, sum(values) if breakdown.additive else values[0]) for label, values in breakdown.rows]


@bp.get("/statistics")
def statistics_page():
    form = FilterForm(request.args)
    filters = statistics.Filters()
    status = 200
    if request.args.get("submit") is not None or any(request.args.get(k) for k in ("first_month", "last_month", "area")):
        if form.validate():
            filters = form.filters()
        else:
            status = 400
    report = statistics.internal_report(filters, include_workload=current_user.role in MANAGERS)
    return render_template(
        "backoffice/statistics.html", form=form, report=report, bar_chart=bar_chart, chart_items=_chart_items,
        can_publish=current_user.role in MANAGERS,
    ), status


@bp.route("/statistics/publishable", methods=["GET", "POST"])
@roles(*MANAGERS)
def statistics_publishable():
    form = PublishForm()
    status = 200
    if form.validate_on_submit():
        try:
            export = publication.export(current_user, form.filters(), form.format.data, publication.policy())
        except ServiceError as exc:
            form.form_errors.append(exc.message)
            status = 400
        else:
            return attachment(export.content, export.filename, export.mimetype)
    elif form.is_submitted():
        status = 400
    return render_template("backoffice/statistics_publishable.html", form=form,
                           methods=publication.policy().methods_note(), scope=publication.SCOPE_NOTE), status
