"""The back office's dashboard, in one place: what each panel shows this member of staff, worked out here
from their role, so that the page is handed plain lists (None: a panel this role does not have) and checks
no role itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.casework import case_list, conflicts, file_review
from shared.consent import breach
from shared.models import Staff
from shared.security.authz import ADVICE_OFFICERS, MANAGERS
from shared.subject_access import reading as sar_reading


@dataclass
class DashboardPanels:
    board: case_list.Dashboard
    conflicts_to_decide: list
    access_near_deadline: list
    consultations_waiting: list | None = None  # advice officers: requests for their advice
    consultations_to_decide: list | None = None  # ... and their own requests waiting for their decision
    manager_notices: list | None = None  # the manager and the administrator
    open_incidents: list | None = None
    incident_hours_left: dict[int, int] = field(default_factory=dict)
    review_feedback: list | None = None  # advice officers: feedback on their files, files for them to review
    reviews_to_do: list | None = None


def dashboard_panels(staff: Staff) -> DashboardPanels:
    panels = DashboardPanels(case_list.dashboard(staff), conflicts.undecided_for(staff), sar_reading.near_deadline(staff))
    if staff.role in ADVICE_OFFICERS:
        panels.consultations_waiting = breach.waiting_for(staff)
        panels.consultations_to_decide = breach.undecided_requests_by(staff)
        panels.review_feedback = file_review.feedback_waiting(staff)
        panels.reviews_to_do = file_review.reviews_to_do(staff)
    if staff.role in MANAGERS:
        panels.manager_notices = breach.unread_notices()
        panels.open_incidents = breach.open_incidents()
        panels.incident_hours_left = {i.id: breach.hours_left(i) for i in panels.open_incidents}
    return panels
