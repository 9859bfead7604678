"""Admin management pages: cohorts, colleges, staff accounts and invitations,
the mail outbox, the audit log — access, validation, htmx rows vs. whole
pages, the audit trail of every change."""

import csv
import datetime
import io
from urllib.parse import urlsplit

import pytest

import models
from services import mail, staff_accounts
from tests.conftest import link_in, text_of
from tests.factories import PASSWORD, login, make_cohort, make_record, setup_world

OK, MOVED, DENIED, LOGIN, BAD = 200, 303, 404, 302, 400
HX = {"HX-Request": "true"}
NEW_PASSWORD = "quiet lantern meadow 42"


@pytest.fixture
def world(db):
    return setup_world()


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def admin(en, world):
    login(en, "admin@example.edu")
    return en


def other_client(app):
    """A second browser (another person), in English."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def html(response):
    return response.get_data(as_text=True)


def user(email):
    return models.User.get(models.User.email == email)


def events(action):
    return list(
        models.AuditEvent.select().where(models.AuditEvent.action == action).order_by(models.AuditEvent.id)
    )


def post(client, path, data, htmx=False, page="/admin/cohorts"):
    data = dict(data, csrf_token=client.csrf(page))
    return client.post(path, data=data, headers=HX if htmx else {})


def is_fragment(response, start="<tr"):
    body = html(response).lstrip()
    return body.startswith(start) and "<html" not in body


# -- who may use what ---------------------------------------------------------------------

COHORT = {
    "name": "2031届",
    "confirm_deadline": "2031-03-17",
    "recheck_start": "2031-03-24",
    "recheck_end": "2031-03-25",
    "timezone": "Asia/Shanghai",
}
COLLEGE = {"code": "law", "name": "法学院", "office_contact": "法学院办公室 C301"}

# (method, path, data, what an admin gets); staff and students get 404, anonymous → login.
ROUTES = [
    ("GET", "/admin/cohorts", None, OK),
    ("POST", "/admin/cohorts", COHORT, MOVED),
    ("GET", "/admin/cohorts/{cohort}/edit", None, OK),
    ("GET", "/admin/cohorts/{cohort}", None, MOVED),
    ("POST", "/admin/cohorts/{cohort}", COHORT, MOVED),
    ("GET", "/admin/colleges", None, OK),
    ("POST", "/admin/colleges", COLLEGE, MOVED),
    ("GET", "/admin/colleges/{college}/edit", None, OK),
    ("GET", "/admin/colleges/{college}", None, MOVED),
    ("POST", "/admin/colleges/{college}", COLLEGE, MOVED),
    ("GET", "/admin/staff", None, OK),
    ("POST", "/admin/staff/invite", {"email": "new@example.edu", "college": "{college}"}, MOVED),
    ("POST", "/admin/staff/{staff}/disable", {"reason": "left"}, MOVED),
    ("POST", "/admin/staff/{disabled}/enable", {}, MOVED),
    ("POST", "/admin/staff/{staff}/college", {"college": "{other_college}"}, MOVED),
    ("POST", "/admin/staff/{invited}/reinvite", {}, MOVED),
    ("GET", "/admin/outbox", None, OK),
    ("GET", "/admin/outbox?status=failed", None, OK),
    ("GET", "/admin/outbox/{mail}", None, OK),
    ("POST", "/admin/outbox/{mail}/retry", {}, MOVED),
    ("GET", "/admin/audit", None, OK),
    ("GET", "/admin/audit.csv", None, OK),
]
WHO = {
    "anonymous": None,
    "student": "student@example.edu",
    "staff": "staff.a@example.edu",
    "admin": "admin@example.edu",
}


def access_cases():
    for method, path, data, admin_gets in ROUTES:
        for who in WHO:
            expected = {"anonymous": LOGIN, "admin": admin_gets}.get(who, DENIED)
            yield pytest.param(method, path, data, who, expected, id=f"{who}-{method}-{path}")


@pytest.mark.parametrize(("method", "path", "data", "who", "expected"), list(access_cases()))
def test_access(app, en, db, method, path, data, who, expected):
    cs, fl, cohort = setup_world()
    failed = models.OutboxMail.create(
        to="x@example.edu", subject="s", body_text="t", body_html="h", kind="reset", status="failed"
    )
    ids = {
        "cohort": cohort.id,
        "college": cs.id,
        "other_college": fl.id,
        "staff": user("staff.a@example.edu").id,
        "disabled": user("gone@example.edu").id,
        "invited": user("invited@example.edu").id,
        "mail": failed.id,
    }

    def fill(text):
        for key, value in ids.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    changes = models.AuditEvent.select().where(models.AuditEvent.action != "login")
    before = changes.count()
    if WHO[who]:
        login(en, WHO[who])
    if method == "GET":
        response = en.get(fill(path))
    else:
        form = {k: fill(v) for k, v in (data or {}).items()}
        form["csrf_token"] = en.csrf("/login" if who == "anonymous" else "/account/")
        response = en.post(fill(path), data=form)
    assert response.status_code == expected, html(response)[:500]
    if expected == LOGIN:
        assert response.headers["Location"].startswith("/login")
    if who != "admin":
        # Nothing is written (a login is the only event).
        assert changes.count() == before
        assert models.User.by_email("new@example.edu") is None
        assert not user("staff.a@example.edu").disabled
        assert models.OutboxMail.get_by_id(failed.id).status == "failed"
        assert models.Cohort.select().count() == 1 and models.College.select().count() == 2
    elif method == "POST":
        assert changes.count() > before


@pytest.mark.parametrize("who", list(WHO))
def test_invitation_page_is_open_to_anyone(en, world, who):
    """The invited person has no session yet; a wrong link says so to everyone alike."""
    if WHO[who]:
        login(en, WHO[who])
    r = en.get("/admin/invite/not-a-real-token")
    assert r.status_code == OK and "not valid" in html(r)
    r = en.post(
        "/admin/invite/not-a-real-token",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": en.csrf("/login")},
    )
    assert r.status_code == BAD and "not valid" in html(r)
    assert not events("invite.accept")


# -- cohorts ----------------------------------------------------------------------------


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


# -- colleges ---------------------------------------------------------------------------


def test_college_list_counts_records_and_staff(admin, world):
    cs, fl, _cohort = world
    make_record(college=cs)
    body = html(admin.get("/admin/colleges"))
    row = body.split(f'id="college-{cs.id}"', 1)[1].split("</tr>", 1)[0]
    # staff.a and the invited member are staff of cs; admins and students are not counted.
    assert (
        row.count('<td class="num">') == 2
        and '<td class="num">1</td>' in row
        and '<td class="num">2</td>' in row
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
    login(browser, "student@example.edu")
    body = html(browser.get("/record/correction"))
    assert "教学办 D404,电话 0411-84109999" in body and "A201" not in body


# -- staff accounts ---------------------------------------------------------------------


def test_staff_list(admin, world, app):
    cs, _fl, _cohort = world
    staff_client = other_client(app)
    login(staff_client, "staff.a@example.edu")
    body = html(admin.get("/admin/staff"))
    rows = {
        u: body.split(f'id="staff-{user(u).id}"', 1)[1].split("</tr>", 1)[0]
        for u in ("staff.a@example.edu", "invited@example.edu", "gone@example.edu", "staff.b@example.edu")
    }
    assert f'<option value="{cs.id}" selected>计算机学院' in rows["staff.a@example.edu"]
    assert "never" not in rows["staff.a@example.edu"] and "Disable" in rows["staff.a@example.edu"]
    assert "never" in rows["staff.b@example.edu"]
    assert (
        "not yet (invited)" in rows["invited@example.edu"]
        and "Send the invitation again" in rows["invited@example.edu"]
    )
    assert "disabled" in rows["gone@example.edu"] and "Enable" in rows["gone@example.edu"]
    assert f'id="staff-{user("admin@example.edu").id}"' not in body
    assert f'id="staff-{user("student@example.edu").id}"' not in body


def test_invite_accept_and_log_in(app, admin, world, smtp):
    cs, _fl, _cohort = world
    r = post(
        admin,
        "/admin/staff/invite",
        {"email": " New.Staff@Example.edu ", "college": cs.id},
        page="/admin/staff",
    )
    assert r.status_code == MOVED and r.headers["Location"] == "/admin/staff"
    invited = user("new.staff@example.edu")
    assert invited.role == "staff" and invited.college_id == cs.id and invited.activated_at is None
    (event,) = events("staff.invite")
    assert (
        event.actor.email == "admin@example.edu"
        and event.target_id == invited.id
        and "计算机学院" in event.reason
    )

    (msg,) = smtp.wait(1)
    assert msg["To"] == "new.staff@example.edu"
    link = link_in(msg, "/admin/invite/")
    assert "7" in text_of(msg)
    path = urlsplit(link).path

    # The invited person is not logged in; before accepting, no password works.
    browser = other_client(app)
    assert login(browser, "new.staff@example.edu", PASSWORD).status_code == BAD
    r = browser.get(path)
    assert r.status_code == OK and "new.staff@example.edu" in html(r)
    r = browser.form_post(path, {"password": "new.staff2024", "confirm": "new.staff2024"})
    assert r.status_code == BAD and "before the @" in html(r)
    assert user("new.staff@example.edu").activated_at is None
    r = browser.form_post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == MOVED and r.headers["Location"] == "/login"
    assert "Your password is set" in html(browser.get("/login"))
    assert user("new.staff@example.edu").activated_at is not None
    assert events("invite.accept")[0].actor.email == "new.staff@example.edu"

    r = login(browser, "new.staff@example.edu", NEW_PASSWORD)
    assert r.status_code == MOVED
    assert browser.get("/staff/").status_code == OK

    # Single use.
    again = other_client(app)
    r = again.get(path)
    assert "already been used" in html(r)
    r = again.form_post(
        path, {"password": "another long phrase", "confirm": "another long phrase"}, page="/login"
    )
    assert r.status_code == BAD and "already been used" in html(r)
    assert login(again, "new.staff@example.edu", "another long phrase").status_code == BAD


def test_invite_an_existing_address_is_refused(admin, world, smtp):
    cs, _fl, _cohort = world
    for email in ("student@example.edu", "STAFF.A@example.edu"):
        r = post(admin, "/admin/staff/invite", {"email": email, "college": cs.id}, page="/admin/staff")
        assert r.status_code == BAD and "already has an account" in html(r)
    r = post(admin, "/admin/staff/invite", {"email": "x@example.edu", "college": "999"}, page="/admin/staff")
    assert r.status_code == BAD and "Please choose a college." in html(r)
    r = post(admin, "/admin/staff/invite", {"email": "not-an-address", "college": cs.id}, page="/admin/staff")
    assert r.status_code == BAD and "valid e-mail address" in html(r)
    assert models.User.by_email("x@example.edu") is None and user("student@example.edu").role == "student"
    assert models.OutboxMail.select().count() == 0 and not events("staff.invite")


def test_expired_invitation_is_refused_and_can_be_sent_again(app, admin, world, smtp):
    invited = user("invited@example.edu")
    raw = staff_accounts.issue_token(invited, staff_accounts.INVITE, staff_accounts.INVITE_LIFETIME)
    models.Token.update(expires_at=models.utcnow() - datetime.timedelta(minutes=1)).execute()
    browser = other_client(app)
    path = f"/admin/invite/{raw}"
    assert "has expired" in html(browser.get(path))
    r = browser.form_post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, page="/login")
    assert r.status_code == BAD and "has expired" in html(r)
    assert user("invited@example.edu").activated_at is None

    r = post(admin, f"/admin/staff/{invited.id}/reinvite", {}, htmx=True, page="/admin/staff")
    assert r.status_code == OK and is_fragment(r)
    assert events("staff.reinvite")[0].target_id == invited.id
    new_path = urlsplit(link_in(smtp.wait(1)[0], "/admin/invite/")).path
    r = browser.form_post(new_path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == MOVED
    assert login(browser, "invited@example.edu", NEW_PASSWORD).status_code == MOVED
    # Activated accounts get no new invitation.
    r = post(admin, f"/admin/staff/{invited.id}/reinvite", {}, page="/admin/staff")
    assert r.status_code == BAD and "already activated" in html(r)


def test_disable_ends_sessions_and_blocks_login(app, admin, world):
    staff_client = other_client(app)
    login(staff_client, "staff.a@example.edu")
    assert staff_client.get("/staff/").status_code == OK
    member = user("staff.a@example.edu")

    r = post(
        admin,
        f"/admin/staff/{member.id}/disable",
        {"reason": "left the office"},
        htmx=True,
        page="/admin/staff",
    )
    assert r.status_code == OK and is_fragment(r) and "Enable" in html(r)
    after = user("staff.a@example.edu")
    assert after.disabled and after.session_version == member.session_version + 1
    (event,) = events("staff.disable")
    assert event.reason == "left the office" and event.target_id == member.id
    assert event.actor.email == "admin@example.edu"

    r = staff_client.get("/staff/")
    assert r.status_code == LOGIN and r.headers["Location"].startswith("/login")
    r = login(staff_client, "staff.a@example.edu")
    assert r.status_code == BAD and "disabled" in html(r)

    # Enabled again (without JavaScript): logging in works.
    r = post(admin, f"/admin/staff/{member.id}/enable", {}, page="/admin/staff")
    assert r.status_code == MOVED and not user("staff.a@example.edu").disabled
    assert len(events("staff.enable")) == 1
    assert login(staff_client, "staff.a@example.edu").status_code == MOVED


def test_admin_cannot_disable_themself(admin, world):
    me = user("admin@example.edu")
    r = post(admin, f"/admin/staff/{me.id}/disable", {"reason": "oops"}, page="/admin/staff")
    assert r.status_code == BAD and "cannot disable your own account" in html(r)
    assert not user("admin@example.edu").disabled and not events("staff.disable")
    # Disabling twice, or enabling an active account, is refused the same way.
    staff_a = user("staff.a@example.edu")
    r = post(admin, f"/admin/staff/{staff_a.id}/enable", {}, htmx=True, page="/admin/staff")
    assert r.status_code == BAD and is_fragment(r) and "not disabled" in html(r)
    assert admin.get("/admin/staff").status_code == OK  # still logged in
    student = user("student@example.edu")
    assert post(admin, f"/admin/staff/{student.id}/disable", {}, page="/admin/staff").status_code == DENIED


def test_change_college(admin, world, app):
    cs, fl, _cohort = world
    member = user("staff.a@example.edu")
    r = post(admin, f"/admin/staff/{member.id}/college", {"college": fl.id}, htmx=True, page="/admin/staff")
    assert r.status_code == OK and is_fragment(r)
    assert f'<option value="{fl.id}" selected>' in html(r)
    assert user("staff.a@example.edu").college_id == fl.id
    (event,) = events("staff.college")
    assert event.reason == "计算机学院 → 外语学院" and event.target_id == member.id

    r = post(admin, f"/admin/staff/{member.id}/college", {"college": fl.id}, page="/admin/staff")
    assert r.status_code == BAD and "already belongs" in html(r)
    r = post(admin, f"/admin/staff/{member.id}/college", {"college": "abc"}, htmx=True, page="/admin/staff")
    assert r.status_code == BAD and "Please choose a college." in html(r)
    r = post(admin, f"/admin/staff/{member.id}/college", {"college": cs.id}, page="/admin/staff")
    assert r.status_code == MOVED and user("staff.a@example.edu").college_id == cs.id
    assert len(events("staff.college")) == 2


# -- mail outbox --------------------------------------------------------------------------


def make_mail(to, status="sent", minutes_ago=0, **fields):
    at = models.utcnow() - datetime.timedelta(minutes=minutes_ago)
    values = dict(
        to=to,
        subject=f"Subject for {to}",
        body_text=f"Hello {to}\n\nhttp://localhost/activate/secret-{to}\n",
        body_html="<p>Hello</p>",
        kind="activate",
        status=status,
        created_at=at,
    )
    values.update(fields)
    return models.OutboxMail.create(**values)


def test_outbox_lists_newest_first_and_filters(admin, world):
    make_mail("old@example.edu", minutes_ago=30)
    make_mail("failed@example.edu", status="failed", attempts=8, last_error="ConnectionRefusedError: nope")
    make_mail("console@example.edu", status="console", minutes_ago=5)
    body = html(admin.get("/admin/outbox"))
    assert (
        body.index("failed@example.edu") < body.index("console@example.edu") < body.index("old@example.edu")
    )
    assert "ConnectionRefusedError: nope" in body and "3 mails" in body

    r = admin.get("/admin/outbox?status=failed")
    assert "failed@example.edu" in html(r) and "old@example.edu" not in html(r) and "<html" in html(r)
    r = admin.get("/admin/outbox?status=console", headers=HX)
    assert r.status_code == OK and "<html" not in html(r) and "console@example.edu" in html(r)
    assert "failed@example.edu" not in html(r) and "1 mail" in html(r)
    assert "Hello console" not in html(r)  # bodies only on demand


def test_outbox_pages(admin, world):
    for i in range(55):
        make_mail(f"m{i:02d}@example.edu", minutes_ago=i)
    first = html(admin.get("/admin/outbox"))
    assert "m00@example.edu" in first and "m49@example.edu" in first and "m50@example.edu" not in first
    assert "Page 1 of 2" in first and 'href="/admin/outbox?page=2"' in first
    second = html(admin.get("/admin/outbox?page=2"))
    assert "m54@example.edu" in second and "m00@example.edu" not in second


def test_outbox_shows_the_text_inline_or_as_a_page(admin, world):
    row = make_mail("console@example.edu", status="console")
    r = admin.get(f"/admin/outbox/{row.id}", headers=HX)
    assert r.status_code == OK and html(r).lstrip().startswith("<pre")
    assert "http://localhost/activate/secret-console@example.edu" in html(r) and "<html" not in html(r)
    r = admin.get(f"/admin/outbox/{row.id}")
    assert "<html" in html(r) and "Subject for console@example.edu" in html(r) and "<pre" in html(r)
    assert [e.target_id for e in events("mail.read")] == [row.id, row.id]
    assert admin.get("/admin/outbox/999").status_code == DENIED


def test_retry_a_failed_mail_without_javascript(app, admin, world, smtp):
    app.config["MAIL_SEND_AFTER_REQUEST"] = False
    row = make_mail("later@example.edu", status="failed", attempts=8, last_error="timeout", sent_at=None)
    r = post(
        admin, f"/admin/outbox/{row.id}/retry", {"next": "/admin/outbox?status=failed"}, page="/admin/outbox"
    )
    assert r.status_code == MOVED and r.headers["Location"] == "/admin/outbox?status=failed"
    assert models.OutboxMail.get_by_id(row.id).status == "pending"
    (event,) = events("mail.retry")
    assert event.target_id == row.id and event.actor.email == "admin@example.edu"

    with app.app_context():
        models.db.connect(reuse_if_open=True)
        assert mail.deliver_pending()["sent"] == 1
    (msg,) = smtp.wait(1)
    assert msg["To"] == "later@example.edu" and "secret-later@example.edu" in text_of(msg)
    assert models.OutboxMail.get_by_id(row.id).status == "sent"


def test_retry_with_htmx_returns_the_row_and_the_sender_delivers(admin, world, smtp):
    row = make_mail("soon@example.edu", status="failed", attempts=8)
    r = post(admin, f"/admin/outbox/{row.id}/retry", {}, htmx=True, page="/admin/outbox")
    assert r.status_code == OK and is_fragment(r) and f'id="mail-{row.id}"' in html(r)
    assert smtp.wait(1)[0]["To"] == "soon@example.edu"
    assert models.OutboxMail.get_by_id(row.id).status == "sent"


def test_only_failed_or_waiting_mail_can_be_retried(admin, world):
    row = make_mail("done@example.edu", status="sent")
    r = post(admin, f"/admin/outbox/{row.id}/retry", {}, page="/admin/outbox")
    assert r.status_code == BAD and "Only failed or waiting mail" in html(r)
    r = post(admin, f"/admin/outbox/{row.id}/retry", {}, htmx=True, page="/admin/outbox")
    assert r.status_code == BAD and is_fragment(r)
    assert models.OutboxMail.get_by_id(row.id).status == "sent" and not events("mail.retry")


# -- audit log ---------------------------------------------------------------------------


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
            reason=f"n{i:02d}",
            at=datetime.datetime(2027, 1, 1) + datetime.timedelta(minutes=i),
        )
    first = html(admin.get("/admin/audit?action=record.remind"))
    assert "n59" in first and "n10" in first and "n09" not in first and "Page 1 of 2" in first
    assert 'href="/admin/audit?action=record.remind&amp;page=2"' in first
    second = html(admin.get("/admin/audit?action=record.remind&page=2"))
    assert "n09" in second and "n00" in second and "n10" not in second


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
    login(client, "admin@example.edu")

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


def test_pages_render_in_chinese(client, world):
    """The default language: every page renders (lazy strings, plurals, dates)."""
    login(client, "admin@example.edu")
    mail_row = make_mail("zh@example.edu", status="failed")
    cohort = models.Cohort.select().first()
    for path in (
        "/admin/cohorts",
        f"/admin/cohorts/{cohort.id}/edit",
        "/admin/colleges",
        "/admin/staff",
        "/admin/outbox",
        f"/admin/outbox/{mail_row.id}",
        "/admin/audit",
        "/admin/audit?from=bad",
    ):
        r = client.get(path)
        assert r.status_code in (OK, BAD) and 'lang="zh-CN"' in html(r), path
