"""Conflicts of interest: a possible conflict between two students' cases, and the decision on it."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import RadioField, SelectField, StringField, TextAreaField

from backoffice import bp
from shared.casework import conflicts
from shared.casework.cases import InvalidAnswers
from shared.platform.forms import Form
from shared.web.casework_views import show_errors


class DecisionForm(Form):
    outcome = RadioField("Is there a conflict of interest?", choices=list(conflicts.OUTCOMES.items()),
                         validate_choice=False)
    reason = TextAreaField("Reason", description="Why you decided this. Kept with the decision; never shown to either student.")
    referred_reference = SelectField("Which student is referred elsewhere?", validate_choice=False)
    referred_to = StringField("Referred to", description="For example the Citizens Advice office in town.")


def _page(conflict_id: int, form: DecisionForm | None = None, status: int = 200):
    view = conflicts.conflict_for_staff(current_user, conflict_id)
    form = form or DecisionForm(formdata=None)
    form.referred_reference.choices = [("", "Not referring (or choose one)")] + [
        (c.reference, f"{c.reference}: {view.names.get(c.id, '')}") for c in (view.case_a, view.case_b)]
    return render_template("backoffice/conflicts/show.html", view=view, form=form, outcomes=conflicts.OUTCOMES,
                           relation_label=conflicts.relation_label), status


@bp.get("/conflicts/<int:conflict_id>")
def conflict(conflict_id):
    return _page(conflict_id)


@bp.post("/conflicts/<int:conflict_id>/decision")
def conflict_decide(conflict_id):
    form = DecisionForm()
    form.validate()
    try:
        conflicts.decide(current_user, conflict_id, conflicts.Decision(
            outcome=form.outcome.data or "", reason=form.reason.data or "", referred_to=form.referred_to.data or "",
            referred_reference=form.referred_reference.data or ""))
    except InvalidAnswers as exc:
        show_errors(form, exc)
        return _page(conflict_id, form)
    flash("The decision is recorded.", "success")
    return redirect(url_for("backoffice.conflict", conflict_id=conflict_id))
