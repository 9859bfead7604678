"""/admin/audit: filters, bad filters, pages, the CSV export; the admin pages on PostgreSQL."""

import csv
import datetime
import io
from urllib.parse import urlsplit

import pytest

import models
from tests.admin.helpers import (
    BAD,
    COHORT,
    COLLEGE,
    HX,
    MOVED,
    NEW_PASSWORD,
    OK,
    events,
    html,
    other_client,
    post,
    user,
)
from tests.conftest import link_in
from tests.factories import login, make_record, setup_world, sign_in


@pytest.fixture
def history(world):
    """Events around local midnight of 2027-03-17 (Asia/Shanghai = UTC+8)."""
    cs, _fl, _cohort = world
    record = make_record(college=cs)
    staff_a, staff_b = user("staff.a@example.edu"), user("staff.b@example.edu")
    utc = datetime.datetime
    log = models.AuditEvent.create
    log(
        at=utc(2027, 3, 16, 15, 30),
        actor=staff_a,
        action="record.status",
        target_type="record",
        target_id=record.id,
        from_status="pending",
        to_status="confirmed_offline",
        reason="=1+1 paper",
    )
    log(
        at=utc(2027, 3, 16, 16, 30),
        actor=staff_b,
        action="record.status",
        target_type="record",
        target_id=record.id + 1,
        from_status="pending",
        to_status="confirmed_offline",
        reason="paper",
    )
    log(
        at=utc(2027, 3, 17, 15, 59),
        actor=staff_a,
        action="record.remind",
        target_type="record",
        target_id=record.id,
    )
    log(at=utc(2027, 3, 17, 16, 0), actor=None, action="register.existing", target_type="user", target_id=1)
    return record


def audit_rows(response):
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_audit_filters(admin, history):
    record = history
    body = html(admin.get("/admin/audit"))
    assert "record.remind" in body and '<option value="register.existing">' in body
    r = admin.get("/admin/audit?actor=STAFF.B")
    assert "1 event" in html(r) and "staff.b@example.edu" in html(r)
    r = admin.get("/admin/audit?action=record.status", headers=HX)
    assert "2 events" in html(r) and "<html" not in html(r)
    r = admin.get(f"/admin/audit?record={record.id}")
    assert "2 events" in html(r) and "record.remind" in html(r) and "staff.b@example.edu" not in html(r)
    # Local dates: 2027-03-17 in Shanghai is 2027-03-16 16:00 to 2027-03-17 16:00 UTC.
    r = admin.get("/admin/audit?from=2027-03-17&to=2027-03-17")
    assert "2 events" in html(r) and "<td>register.existing</td>" not in html(r)
    assert "2027-03-17 00:30:00" in html(r) and "2027-03-17 23:59:00" in html(r)
    r = admin.get("/admin/audit?from=2027-03-18")
    assert "1 event" in html(r) and "<td>register.existing</td>" in html(r)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=17.03.2027", "Enter dates as YYYY-MM-DD"),
        ("to=2027-02-30", "Enter dates as YYYY-MM-DD"),
        ("from=2027-03-18&to=2027-03-17", "start date is after the end date"),
        ("record=12a", "whole number"),
    ],
)
def test_audit_bad_filters(admin, history, query, message):
    r = admin.get(f"/admin/audit?{query}")
    assert r.status_code == BAD and message in html(r)
    r = admin.get(f"/admin/audit.csv?{query}")
    assert r.status_code == BAD and message in html(r)
    assert not events("export.audit")


def test_audit_pages(admin, world):
    staff_a = user("staff.a@example.edu")
    for i in range(60):
        models.AuditEvent.create(
            actor=staff_a,
            action="record.remind",
            reason=f"note-{i:02d}.",
            at=datetime.datetime(2027, 1, 1) + datetime.timedelta(minutes=i),
        )
    first = html(admin.get("/admin/audit?action=record.remind"))
    # Markers with punctuation, so a random CSRF token can never contain one.
    assert "note-59." in first and "note-10." in first and "note-09." not in first and "Page 1 of 2" in first
    assert 'href="/admin/audit?action=record.remind&amp;page=2"' in first
    second = html(admin.get("/admin/audit?action=record.remind&page=2"))
    assert "note-09." in second and "note-00." in second and "note-10." not in second


def test_audit_csv_export(admin, history):
    record = history
    r = admin.get(f"/admin/audit.csv?record={record.id}&from=2027-03-17")
    assert r.status_code == OK and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = audit_rows(r)
    assert rows[0] == [
        "Time (Asia/Shanghai)",
        "Actor",
        "Action",
        "Target type",
        "Target id",
        "From",
        "To",
        "Reason",
        "IP address",
    ]
    assert rows[1:] == [
        [
            "2027-03-17 23:59:00",
            "staff.a@example.edu",
            "record.remind",
            "record",
            str(record.id),
            "",
            "",
            "",
            "",
        ],
    ]
    # Newest first; a formula-looking reason is quoted; the export itself is audited.
    rows = audit_rows(admin.get("/admin/audit.csv?action=record.status"))
    assert [row[1] for row in rows[1:]] == ["staff.b@example.edu", "staff.a@example.edu"]
    assert rows[2][7] == "'=1+1 paper"
    assert [e.reason for e in events("export.audit")] == [
        str({"record": str(record.id), "from": "2027-03-17"}),
        str({"action": "record.status"}),
    ]


# -- the same pages on PostgreSQL ----------------------------------------------------------

from tests.test_backends import pg_app, pg_url  # noqa: E402, F401  (fixtures)


@pytest.mark.postgres
def test_postgres_admin_pages(pg_app, smtp):  # noqa: F811
    client = other_client(pg_app)
    with pg_app.app_context():
        models.db.connect(reuse_if_open=True)
        cs, _fl, cohort = setup_world()
        make_record(college=cs, cohort=cohort)
        staff_id = user("staff.a@example.edu").id
        models.db.close()
    staff_client = other_client(pg_app)
    login(staff_client, "staff.a@example.edu")
    sign_in(client, "admin@example.edu")

    assert '<td class="num">1</td>' in html(client.get("/admin/cohorts"))
    r = post(client, "/admin/cohorts", dict(COHORT, name="2027届"))
    assert r.status_code == BAD and "already exists" in html(r)
    assert post(client, "/admin/cohorts", COHORT).status_code == MOVED
    r = post(client, "/admin/colleges", dict(COLLEGE, code="cs"), page="/admin/colleges")
    assert r.status_code == BAD and "Another college has this code." in html(r)
    assert "A201" in html(client.get("/admin/colleges"))

    body = html(client.get("/admin/staff"))
    row = body.split(f'id="staff-{staff_id}"', 1)[1].split("</tr>", 1)[0]
    assert "never" not in row  # staff.a logged in
    r = post(
        client,
        "/admin/staff/invite",
        {"email": "pg.staff@example.edu", "college": cs.id},
        page="/admin/staff",
    )
    assert r.status_code == MOVED
    path = urlsplit(link_in(smtp.wait(1)[0], "/admin/invite/")).path
    browser = other_client(pg_app)
    assert browser.form_post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == MOVED
    assert login(browser, "pg.staff@example.edu", NEW_PASSWORD).status_code == MOVED

    assert "pg.staff@example.edu" in html(client.get("/admin/outbox?status=sent"))
    r = client.get("/admin/audit?actor=PG.STAFF&from=2000-01-01&to=2100-12-31")
    assert "invite.accept" in html(r) and r.status_code == OK
    rows = audit_rows(client.get("/admin/audit.csv?action=staff.invite"))
    assert [row[1:3] for row in rows[1:]] == [["admin@example.edu", "staff.invite"]]
