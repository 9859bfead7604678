"""/admin/staff: the list, invitations (accept, refuse, expire, resend), disabling, moving college."""

import datetime
from urllib.parse import urlsplit

import models
from services import staff_accounts
from tests.admin.helpers import (
    BAD,
    DENIED,
    LOGIN,
    MOVED,
    NEW_PASSWORD,
    OK,
    events,
    html,
    is_fragment,
    other_client,
    post,
    user,
)
from tests.conftest import link_in, text_of
from tests.factories import PASSWORD, login, sign_in


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
    sign_in(staff_client, "staff.a@example.edu")
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
