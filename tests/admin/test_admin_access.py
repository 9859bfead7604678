"""Admin pages: who may use what (admins only; staff and students 404, anonymous to
the login), the invitation page open to anyone, every page in the default language."""

import pytest

import models
from tests.admin.helpers import (
    BAD,
    COHORT,
    COLLEGE,
    DENIED,
    LOGIN,
    MOVED,
    NEW_PASSWORD,
    OK,
    events,
    html,
    make_mail,
    user,
)
from tests.factories import setup_world, sign_in

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
        sign_in(en, WHO[who])
    if method == "GET":
        response = en.get(fill(path))
    else:
        form = {k: fill(v) for k, v in (data or {}).items()}
        form["csrf_token"] = en.csrf()
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
        sign_in(en, WHO[who])
    r = en.get("/admin/invite/not-a-real-token")
    assert r.status_code == OK and "not valid" in html(r)
    r = en.post(
        "/admin/invite/not-a-real-token",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": en.csrf("/login")},
    )
    assert r.status_code == BAD and "not valid" in html(r)
    assert not events("invite.accept")


def test_pages_render_in_chinese(client, world):
    """The default language: every page renders (lazy strings, plurals, dates)."""
    sign_in(client, "admin@example.edu")
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
