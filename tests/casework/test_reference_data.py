"""The service's lists and staff names are kept by each worker for a few seconds (shared/casework/reference_data.py):
a change shows at once on the worker that made it, on the others within REFERENCE_CACHE_SECONDS, and a
page that shows them does not query them again."""

from __future__ import annotations

from sqlalchemy import select

from shared.casework import reference_data, service_lists
from shared.models import ListItem
from tests import factories
from tests.factories_casework import make_case


def _housing(db) -> ListItem:
    return db.session.scalar(select(ListItem).where(ListItem.kind == "area", ListItem.code == "housing"))


def test_a_renamed_area_shows_at_once_on_the_worker_that_renamed_it(db, admin, officer_browser, student):
    make_case(student, area_code="housing")
    assert "Housing" in officer_browser.get("/staff/cases").get_data(as_text=True)  # the lists are now kept
    service_lists.rename(admin, _housing(db).id, "Housing and accommodation")
    assert "Housing and accommodation" in officer_browser.get("/staff/cases").get_data(as_text=True)


def test_a_new_member_of_staff_is_offered_at_once_on_the_same_worker(db, admin, officer_browser):
    assert "Sam Newcomer" not in officer_browser.get("/staff/cases").get_data(as_text=True)
    factories.make_staff(name="Sam Newcomer")
    assert "Sam Newcomer" in officer_browser.get("/staff/cases").get_data(as_text=True)


def test_another_worker_sees_a_change_within_the_cache_time(app, db, admin, officer_browser, student, monkeypatch):
    """A change made elsewhere (another worker, a command) does not clear this worker's copy: it is read
    again once the copy is older than REFERENCE_CACHE_SECONDS."""
    clock = [reference_data.time.monotonic()]
    monkeypatch.setattr(reference_data.time, "monotonic", lambda: clock[0])
    make_case(student, area_code="housing")
    assert "Housing" in officer_browser.get("/staff/cases").get_data(as_text=True)
    db.session.commit()
    with db.engine.begin() as conn:  # underneath the worker's session, as another worker would
        conn.execute(ListItem.__table__.update().where(ListItem.code == "housing").values(label="Homes"))
    assert "Homes" not in officer_browser.get("/staff/cases").get_data(as_text=True)
    clock[0] += app.config["REFERENCE_CACHE_SECONDS"] + 1
    assert "Homes" in officer_browser.get("/staff/cases").get_data(as_text=True)


def test_a_bulk_update_through_the_worker_shows_at_once(db, officer_browser, student):
    """A bulk UPDATE sent through the worker's session flushes no object, and still clears the copy."""
    make_case(student, area_code="housing")
    assert "Housing" in officer_browser.get("/staff/cases").get_data(as_text=True)
    db.session.execute(ListItem.__table__.update().where(ListItem.code == "housing").values(label="Homes"))
    db.session.commit()
    assert "Homes" in officer_browser.get("/staff/cases").get_data(as_text=True)
