"""/admin/colleges: counts, creating and editing, validation, the office contact students see."""

import pytest

import models
from tests.admin.helpers import (
    BAD,
    COLLEGE,
    HX,
    MOVED,
    OK,
    events,
    html,
    is_fragment,
    other_client,
    post,
    user,
)
from tests.factories import make_cohort, make_record, sign_in


def test_college_list_counts_records_and_staff(admin, world):
    cs, fl, _cohort = world
    make_record(college=cs)
    body = html(admin.get("/admin/colleges"))
    row = body.split(f'id="college-{cs.id}"', 1)[1].split("</tr>", 1)[0]
    # staff.a, other.a and the invited member are staff of cs; admins and students are not counted.
    assert (
        row.count('<td class="num">') == 2
        and '<td class="num">1</td>' in row
        and '<td class="num">3</td>' in row
    )
    assert "A201" in row
    fl_row = body.split(f'id="college-{fl.id}"', 1)[1].split("</tr>", 1)[0]
    assert "外语学院办公室 B105" in fl_row


def test_create_and_edit_college(admin, world):
    r = post(admin, "/admin/colleges", COLLEGE, page="/admin/colleges")
    assert r.status_code == MOVED and r.headers["Location"] == "/admin/colleges"
    law = models.College.get(models.College.code == "law")
    assert law.name == "法学院" and law.office_contact == "法学院办公室 C301"
    assert events("college.create")[0].target_id == law.id

    r = admin.get(f"/admin/colleges/{law.id}/edit", headers=HX)
    assert is_fragment(r) and "法学院办公室 C301" in html(r)
    data = dict(COLLEGE, office_contact="法学院办公室 C302,电话 0411-84100302")
    r = post(admin, f"/admin/colleges/{law.id}", data, htmx=True, page="/admin/colleges")
    assert r.status_code == OK and is_fragment(r) and "C302" in html(r)
    (event,) = events("college.update")
    assert "office_contact" in event.reason and "C302" in event.reason

    r = admin.get(f"/admin/colleges/{law.id}/edit")
    assert "<html" in html(r) and f'id="k{law.id}-office_contact"' in html(r)
    r = post(admin, f"/admin/colleges/{law.id}", dict(COLLEGE, name="法学院 (新)"), page="/admin/colleges")
    assert r.status_code == MOVED and models.College.get_by_id(law.id).name == "法学院 (新)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "fl"}, "Another college has this code."),
        ({"name": "外语学院"}, "Another college has this name."),
        ({"code": " "}, "This field is required."),
        ({"office_contact": "x" * 501}, "At most 500 characters."),
    ],
)
def test_college_refuses_bad_input(admin, world, change, message):
    cs, _fl, _cohort = world
    r = post(admin, "/admin/colleges", dict(COLLEGE, **change), page="/admin/colleges")
    assert r.status_code == BAD and message in html(r) and "<html" in html(r)
    assert models.College.select().count() == 2
    edit = {**COLLEGE, "code": "cs", "name": "计算机学院", **change}
    r = post(admin, f"/admin/colleges/{cs.id}", edit, htmx=True, page="/admin/colleges")
    assert r.status_code == BAD and is_fragment(r) and message in html(r)
    r = post(admin, f"/admin/colleges/{cs.id}", edit, page="/admin/colleges")
    assert r.status_code == BAD and "<html" in html(r) and message in html(r)
    assert models.College.get_by_id(cs.id).code == "cs" and models.College.get_by_id(
        cs.id
    ).office_contact.startswith("计算机")
    assert not events("college.create") and not events("college.update")


def test_office_contact_reaches_students_after_the_deadline(app, admin, world):
    from services import matching
    from tests.factories import with_realname

    cs, _fl, _cohort = world
    past = make_cohort(name="2026届", deadline_in_days=-2, recheck_in_days=5)
    record = make_record(college=cs, cohort=past)
    student = user("student@example.edu")
    with_realname(student, record)
    matching.link(student)

    data = {"code": "cs", "name": "计算机学院", "office_contact": "教学办 D404,电话 0411-84109999"}
    assert post(admin, f"/admin/colleges/{cs.id}", data, page="/admin/colleges").status_code == MOVED

    browser = other_client(app)
    sign_in(browser, "student@example.edu")
    body = html(browser.get("/record/correction"))
    assert "教学办 D404,电话 0411-84109999" in body and "A201" not in body
