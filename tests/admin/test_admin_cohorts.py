"""/admin/cohorts: the list, creating and editing (with and without htmx), validation,
the audit trail."""

import datetime

import pytest

import models
from tests.admin.helpers import (
    BAD,
    COHORT,
    DENIED,
    HX,
    MOVED,
    OK,
    events,
    html,
    is_fragment,
    post,
)
from tests.factories import make_cohort, make_record


def test_cohort_list_shows_deadlines_phase_and_record_count(admin, world):
    _cs, _fl, cohort = world
    make_record(cohort=cohort)
    make_record(cohort=cohort)
    make_cohort(name="2020届", deadline_in_days=-400, recheck_in_days=-390)
    body = html(admin.get("/admin/cohorts"))
    row = body.split(f'id="cohort-{cohort.id}"', 1)[1].split("</tr>", 1)[0]
    assert cohort.confirm_deadline.isoformat() in row and "Asia/Shanghai" in row
    assert 'data-phase="open"' in row and "open for confirmation" in row
    assert '<td class="num">2</td>' in row
    assert 'data-phase="over"' in body
    assert "Cohorts and deadlines" in body and 'aria-current="page">Cohorts<' in body


def test_create_cohort_without_javascript(admin, world):
    r = post(admin, "/admin/cohorts", COHORT)
    assert r.status_code == MOVED and r.headers["Location"] == "/admin/cohorts"
    cohort = models.Cohort.get(models.Cohort.name == "2031届")
    assert cohort.confirm_deadline == datetime.date(2031, 3, 17)
    assert (cohort.recheck_start, cohort.recheck_end) == (
        datetime.date(2031, 3, 24),
        datetime.date(2031, 3, 25),
    )
    (event,) = events("cohort.create")
    assert event.actor.email == "admin@example.edu" and event.target_type == "cohort"
    assert event.target_id == cohort.id and "2031-03-17" in event.reason
    assert "Cohort 2031届 added." in html(admin.get("/admin/cohorts"))


INVALID_COHORTS = [
    ({"confirm_deadline": "2031/03/17"}, "Enter a date as YYYY-MM-DD"),
    ({"recheck_end": "2031-02-30"}, "Enter a date as YYYY-MM-DD"),
    ({"recheck_start": ""}, "This field is required."),
    ({"recheck_start": "2031-03-26"}, "cannot end before it starts"),
    ({"confirm_deadline": "2031-03-24"}, "must start after the deadline"),
    ({"confirm_deadline": "2031-04-01"}, "must start after the deadline"),
    ({"timezone": "Asia/Beijing"}, "Unknown time zone"),
    ({"name": "  "}, "This field is required."),
    ({"name": "x" * 33}, "At most 32 characters."),
    ({"name": "2027届"}, "A cohort with this name already exists."),
]


@pytest.mark.parametrize(("change", "message"), INVALID_COHORTS)
def test_create_cohort_refuses_bad_input(admin, world, change, message):
    r = post(admin, "/admin/cohorts", dict(COHORT, **change))
    assert r.status_code == BAD and message in html(r)
    assert "<html" in html(r) and 'aria-invalid="true"' in html(r)
    assert models.Cohort.select().count() == 1
    assert not events("cohort.create")


def test_edit_cohort_inline_with_htmx(admin, world):
    _cs, _fl, cohort = world
    r = admin.get(f"/admin/cohorts/{cohort.id}/edit", headers=HX)
    assert r.status_code == OK and is_fragment(r) and "HX-Request" in r.headers["Vary"]
    assert f'hx-post="/admin/cohorts/{cohort.id}"' in html(r) and 'value="2027届"' in html(r)

    changed = {
        "name": "2027届",
        "confirm_deadline": "2030-03-20",
        "recheck_start": "2030-03-24",
        "recheck_end": "2030-03-26",
        "timezone": "Asia/Urumqi",
    }
    r = post(admin, f"/admin/cohorts/{cohort.id}", changed, htmx=True)
    assert r.status_code == OK and is_fragment(r)
    assert "2030-03-20" in html(r) and "Asia/Urumqi" in html(r) and "<form" not in html(r)
    saved = models.Cohort.get_by_id(cohort.id)
    assert saved.confirm_deadline == datetime.date(2030, 3, 20) and saved.timezone == "Asia/Urumqi"
    (event,) = events("cohort.update")
    assert event.target_id == cohort.id and event.actor.email == "admin@example.edu"
    assert "confirm_deadline" in event.reason and "2030-03-20" in event.reason and "name" not in event.reason

    # Cancel: the row as shown.
    r = admin.get(f"/admin/cohorts/{cohort.id}", headers=HX)
    assert r.status_code == OK and is_fragment(r) and "2030-03-20" in html(r)


def test_edit_cohort_without_javascript(admin, world):
    _cs, _fl, cohort = world
    r = admin.get(f"/admin/cohorts/{cohort.id}/edit")
    assert r.status_code == OK and "<html" in html(r)
    assert f'action="/admin/cohorts/{cohort.id}"' in html(r) and f'id="c{cohort.id}-name"' in html(r)
    assert admin.get(f"/admin/cohorts/{cohort.id}").status_code == MOVED

    data = dict(COHORT, name="2027届(改)")
    r = post(admin, f"/admin/cohorts/{cohort.id}", data)
    assert r.status_code == MOVED and r.headers["Location"] == "/admin/cohorts"
    assert models.Cohort.get_by_id(cohort.id).name == "2027届(改)"
    assert len(events("cohort.update")) == 1


def test_edit_cohort_refuses_bad_input_as_row_or_page(admin, world):
    _cs, _fl, cohort = world
    make_cohort(name="2028届")
    before = models.Cohort.get_by_id(cohort.id)
    bad = dict(COHORT, recheck_start="2031-03-30")
    r = post(admin, f"/admin/cohorts/{cohort.id}", bad, htmx=True)
    assert r.status_code == BAD and is_fragment(r) and "cannot end before it starts" in html(r)
    assert 'value="2031-03-30"' in html(r)  # what was typed stays
    r = post(admin, f"/admin/cohorts/{cohort.id}", dict(COHORT, name="2028届"))
    assert r.status_code == BAD and "<html" in html(r) and "already exists" in html(r)
    r = post(admin, f"/admin/cohorts/{cohort.id}", dict(COHORT, timezone="Mars/Olympus"), htmx=True)
    assert r.status_code == BAD and "Unknown time zone" in html(r)
    after = models.Cohort.get_by_id(cohort.id)
    assert (after.name, after.confirm_deadline, after.timezone) == (
        before.name,
        before.confirm_deadline,
        before.timezone,
    )
    assert not events("cohort.update")
    assert admin.get("/admin/cohorts/9999/edit").status_code == DENIED


def test_saving_an_unchanged_cohort_writes_no_event(admin, world):
    _cs, _fl, cohort = world
    same = {
        "name": cohort.name,
        "confirm_deadline": cohort.confirm_deadline.isoformat(),
        "recheck_start": cohort.recheck_start.isoformat(),
        "recheck_end": cohort.recheck_end.isoformat(),
        "timezone": cohort.timezone,
    }
    assert post(admin, f"/admin/cohorts/{cohort.id}", same, htmx=True).status_code == OK
    assert not events("cohort.update")
