"""Who may use which staff endpoint: every GET and POST of the staff console
× {anonymous, student, staff of college A, staff of college B, admin}, about
a record of college A. Anonymous → login; students → 404; staff of another
college → 404 for A's record (their own lists show nothing of A); staff of A
and admins → 200 or 303. Admin-only actions are 404 for staff."""

import pytest

import models
from tests.factories import make_photo, make_record, setup_world, sign_in

OK, MOVED, DENIED, LOGIN = 200, 303, 404, 302

# (method, path, data, expected for: student, staff A, staff B, admin)
ENDPOINTS = [
    ("GET", "/staff/", None, (DENIED, OK, OK, OK)),
    ("GET", "/staff/records", None, (DENIED, OK, OK, OK)),
    ("GET", "/staff/records?q=张三", None, (DENIED, OK, OK, OK)),
    ("GET", "/staff/records/{id}", None, (DENIED, OK, DENIED, OK)),
    ("GET", "/staff/records/{id}/row", None, (DENIED, MOVED, DENIED, MOVED)),
    (
        "POST",
        "/staff/records/{id}/status",
        {"to": "confirmed_offline", "reason": "paper", "version": "1"},
        (DENIED, MOVED, DENIED, MOVED),
    ),
    ("POST", "/staff/records/bulk", {"ids": "{id}", "action": "remind"}, (DENIED, MOVED, MOVED, MOVED)),
    (
        "POST",
        "/staff/records/bulk",
        {"ids": "{id}", "action": "confirmed_offline", "reason": "paper"},
        (DENIED, MOVED, MOVED, MOVED),
    ),
    ("GET", "/staff/export/records.csv", None, (DENIED, OK, OK, OK)),
    ("GET", "/staff/export/records.xlsx", None, (DENIED, OK, OK, OK)),
    ("GET", "/staff/export/corrections.xlsx", None, (DENIED, OK, OK, OK)),
    ("GET", "/staff/export/national.zip", None, (DENIED, OK, OK, OK)),
    ("POST", "/staff/compliance", {}, (DENIED, DENIED, DENIED, MOVED)),
]
WHO = ["anonymous", "student", "staff_a", "staff_b", "admin"]
LOGINS = {
    "student": "student@example.edu",
    "staff_a": "staff.a@example.edu",
    "staff_b": "staff.b@example.edu",
    "admin": "admin@example.edu",
}


def cases():
    for method, path, data, expected in ENDPOINTS:
        for who in WHO:
            status = LOGIN if who == "anonymous" else expected[WHO.index(who) - 1]
            yield pytest.param(method, path, data, who, status, id=f"{who}-{method}-{path}-{data}")


@pytest.mark.parametrize(("method", "path", "data", "who", "expected"), list(cases()))
def test_access(app, client, db, method, path, data, who, expected):
    cs, _fl, _cohort = setup_world()
    record = make_record(college=cs, name="张三", status="pending", student_no="2023777777")
    make_photo(app, record)
    if who != "anonymous":
        sign_in(client, LOGINS[who])
    url = path.replace("{id}", str(record.id))
    if method == "GET":
        response = client.get(url)
    else:
        form = {k: v.replace("{id}", str(record.id)) for k, v in (data or {}).items()}
        form["csrf_token"] = client.csrf()
        response = client.post(url, data=form)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected == LOGIN:
        assert response.headers["Location"].startswith("/login")
    body = response.get_data()
    if who == "staff_b" and response.mimetype == "text/html":
        assert f'id="rec-{record.id}"'.encode() not in body
    if who == "staff_b" and response.mimetype == "text/csv":
        assert b"2023777777" not in body
    if method == "POST" and who in ("anonymous", "student", "staff_b"):
        after = models.Record.get_by_id(record.id)
        assert after.status == "pending" and after.version == record.version
        assert not models.OutboxMail.select().where(models.OutboxMail.kind == "reminder").exists()
