"""Server-side login sessions: logging out ends the session for real."""

import datetime

import pytest

import models
from services import sessions
from tests.factories import PASSWORD, login, make_user

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
WECHAT_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50"
)


def copy_cookies(source, target):
    for name in ("session", "remember_token"):
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)


def logout(client):
    return client.form_post("/logout", {}, page="/account/")


@pytest.mark.parametrize("remember", [False, True])
def test_cookies_replayed_after_logout_go_to_login(app, db, remember):
    make_user()
    client = app.test_client()
    login(client, remember="y" if remember else "")
    assert client.get("/account/").status_code == 200
    if remember:
        assert client.get_cookie("remember_token") is not None
    thief = app.test_client()
    copy_cookies(client, thief)
    assert thief.get("/account/").status_code == 200  # a copied cookie works while logged in

    assert logout(client).status_code == 303
    assert db.UserSession.select().count() == 0
    r = thief.get("/account/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    # The remember cookie alone (session cookie dropped) does not log in either.
    only_remember = app.test_client()
    if remember:
        only_remember.set_cookie("remember_token", thief.get_cookie("remember_token").value)
        assert only_remember.get("/account/").status_code == 302


def test_account_lists_sessions_and_ends_one(app, db):
    make_user()
    phone, laptop = app.test_client(), app.test_client()
    phone.environ_base.update(HTTP_USER_AGENT=WECHAT_IPHONE, HTTP_ACCEPT_LANGUAGE="en")
    laptop.environ_base.update(HTTP_USER_AGENT=CHROME_WINDOWS, HTTP_ACCEPT_LANGUAGE="en")
    login(phone)
    login(laptop)
    html = laptop.get("/account/").get_data(as_text=True)
    assert "WeChat · iOS" in html and "Chrome · Windows" in html and "(this device)" in html
    phone_key = db.UserSession.get(db.UserSession.user_agent == WECHAT_IPHONE).id
    r = laptop.form_post(f"/account/sessions/{phone_key}/end", {}, page="/account/")
    assert r.status_code == 303
    assert phone.get("/account/").status_code == 302
    assert laptop.get("/account/").status_code == 200
    assert db.AuditEvent.select().where(db.AuditEvent.action == "session.end").count() == 1
    # Someone else's session cannot be ended from here.
    other = make_user("other@example.edu")
    sessions_of_other = app.test_client()
    login(sessions_of_other, "other@example.edu")
    other_key = db.UserSession.get(db.UserSession.user == other).id
    r = laptop.form_post(f"/account/sessions/{other_key}/end", {}, page="/account/")
    assert r.status_code == 404
    assert sessions_of_other.get("/account/").status_code == 200


def test_loader_is_one_read_and_touches_rarely(app, db):
    make_user()
    client = app.test_client()
    login(client)
    with client.session_transaction() as sess:
        token = sess["_user_id"]
    row = db.UserSession.get()
    statements = []
    with app.test_request_context():
        original = db.db.obj.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            statements.append(sql)
            return original(sql, params, *args, **kwargs)

        db.db.obj.execute_sql = counting
        try:
            user = sessions.load(token)
        finally:
            del db.db.obj.execute_sql
    assert user is not None and user.email == "student@example.edu"
    assert len(statements) == 1 and statements[0].startswith("SELECT")
    assert "JOIN" in statements[0]

    client.get("/account/")
    assert db.UserSession.get().last_used_at == row.last_used_at  # no write within 5 minutes
    earlier = models.utcnow() - datetime.timedelta(minutes=6)
    db.UserSession.update(last_used_at=earlier).execute()
    client.get("/account/")
    assert db.UserSession.get().last_used_at > earlier


def test_expired_and_stale_sessions_end_and_are_purged(app, db):
    user = make_user()
    client = app.test_client()
    login(client)
    db.UserSession.update(expires_at=models.utcnow() - datetime.timedelta(seconds=1)).execute()
    assert client.get("/account/").status_code == 302
    login(client)
    assert client.get("/account/").status_code == 200
    # A staff-side version bump (e.g. the account is reset) ends the session too.
    db.User.update(session_version=db.User.session_version + 1).where(db.User.id == user.id).execute()
    assert client.get("/account/").status_code == 302
    with app.app_context():
        assert sessions.purge() == 1  # the expired row went at the second login
    assert db.UserSession.select().count() == 0


def test_change_password_keeps_this_session_only(app, db):
    make_user()
    phone, laptop = app.test_client(), app.test_client()
    login(phone)
    login(laptop)
    new = "a new secret phrase"
    r = phone.form_post(
        "/account/password", {"current": PASSWORD, "password": new, "confirm": new}, page="/account/"
    )
    assert r.status_code == 303
    assert phone.get("/account/").status_code == 200
    assert laptop.get("/account/").status_code == 302
    assert db.UserSession.select().count() == 1


def test_device_labels():
    assert sessions.device(CHROME_WINDOWS) == "Chrome · Windows"
    assert sessions.device(WECHAT_IPHONE) == "WeChat · iOS"
    assert str(sessions.device("")) == "Unknown device"
