"""Register → activate → log in → recover, through the real mail server."""

import datetime
import re

import pytest

import models
from tests.conftest import link_in, text_of
from tests.factories import PASSWORD, login, make_user

NEW = {"email": "New.Student@Example.edu", "password": PASSWORD, "confirm": PASSWORD, "accept_terms": "y"}


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def path_of(url):
    return url.split("localhost", 1)[1]


def register(client, **overrides):
    data = dict(NEW, **overrides)
    return client.form_post("/register", data)


def count(model, *where):
    query = model.select()
    if where:
        query = query.where(*where)
    return query.count()


def test_register_activate_login_logout(en, smtp, db):
    r = register(en)
    assert r.status_code == 303 and r.headers["Location"] == "/register/sent"
    page = en.get("/register/sent").get_data(as_text=True)
    assert "new.student@example.edu" in page
    assert "spam" in page

    msg = smtp.wait(1)[0]
    assert msg["To"] == "new.student@example.edu"
    assert msg.get_body(preferencelist=("html",)) is not None
    link = path_of(link_in(msg, "/activate/"))

    # Opening the link (what a mail scanner does) activates nothing.
    r = en.get(link)
    assert r.status_code == 200 and "Activate my account" in r.get_data(as_text=True)
    assert db.User.by_email("new.student@example.edu").activated_at is None

    r = en.form_post(link, {})
    assert r.status_code == 303
    assert db.User.by_email("NEW.student@example.edu").activated_at is not None
    assert en.get("/account/").status_code == 200

    r = en.form_post("/logout", {}, page="/account/")
    assert r.status_code == 303
    assert en.get("/account/").status_code == 302

    r = login(en, "New.Student@EXAMPLE.edu")
    assert r.status_code == 303
    assert en.get("/account/").status_code == 200


def test_activation_link_single_use_expired_and_wrong_purpose(en, smtp, db):
    register(en)
    link = path_of(link_in(smtp.wait(1)[0], "/activate/"))
    en.form_post(link, {})
    r = en.form_post(link, {}, page="/login")
    assert r.status_code == 400 and "already been used" in r.get_data(as_text=True)

    user = make_user("late@example.edu", activated=False)
    from services import accounts

    raw = accounts.issue_token(user, accounts.ACTIVATE, datetime.timedelta(hours=48))
    models.Token.update(expires_at=models.utcnow() - datetime.timedelta(seconds=1)).execute()
    r = en.get(f"/activate/{raw}")
    assert "expired" in r.get_data(as_text=True)
    r = en.form_post(f"/activate/{raw}", {}, page="/login")
    assert r.status_code == 400
    assert db.User.by_email("late@example.edu").activated_at is None

    reset = accounts.issue_token(user, accounts.RESET, datetime.timedelta(minutes=30))
    r = en.form_post(f"/activate/{reset}", {}, page="/login")
    assert r.status_code == 400 and "not valid" in r.get_data(as_text=True)
    assert db.User.by_email("late@example.edu").activated_at is None


def test_existing_address_gets_same_page_and_owner_is_told(app, smtp, db):
    make_user("taken@example.edu")
    fresh, taken = app.test_client(), app.test_client()
    r1 = register(fresh, email="free@example.edu")
    r2 = register(taken, email="Taken@example.edu")
    assert (r1.status_code, r1.headers["Location"]) == (r2.status_code, r2.headers["Location"])
    assert r1.get_data() == r2.get_data()

    def page(client, email):
        html = client.get("/register/sent").get_data(as_text=True)
        html = re.sub(r'value="[^"]+"', "", html).replace(email, "EMAIL")
        # The time left may cross a second between the two requests.
        html = re.sub(r'data-wait="\d+"|\d+分\d+秒', "", html)
        return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)

    assert page(fresh, "free@example.edu") == page(taken, "taken@example.edu")
    mails = {m["To"]: m for m in smtp.wait(2)}
    assert "/activate/" in text_of(mails["free@example.edu"])
    notice = text_of(mails["taken@example.edu"])
    assert "/activate/" not in notice and "/forgot-password" in notice
    assert count(db.User) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "short12", "confirm": "short12"}, "at least 8"),
        ({"password": "x" * 65, "confirm": "x" * 65}, "at most 64"),
        ({"password": "password123", "confirm": "password123"}, "most common"),
        ({"password": "new.student!2026", "confirm": "new.student!2026"}, "before the @"),
        ({"confirm": "something else entirely"}, "differ"),
        ({"accept_terms": ""}, "terms of service"),
        ({"email": "not-an-address"}, "valid e-mail"),
        ({"email": "a" * 250 + "@example.edu"}, "At most 254"),
        ({"email": ""}, "required"),
    ],
)
def test_register_rejects_bad_input(en, db, overrides, message):
    r = register(en, **overrides)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert count(db.User) == 0 and count(db.OutboxMail) == 0


def test_inline_validation_returns_only_the_field(en, db):
    token = en.csrf("/register")
    data = dict(NEW, email="bad", csrf_token=token, _field="email")
    r = en.post("/register", data=data, headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "<html" not in html and 'id="email-field"' in html
    assert 'aria-invalid="true"' in html and "valid e-mail" in html
    data["_field"] = "password"
    data["password"] = data["confirm"] = "12345678"
    html = en.post("/register", data=data, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "most common" in html and 'id="password-field"' in html and "12345678" not in html
    # The same POST without htmx is a full page that validates everything.
    r = en.post("/register", data=data)
    assert "<html" in r.get_data(as_text=True)
    assert count(db.User) == 0


def test_resend_waits_five_minutes(en, smtp, db):
    register(en)
    smtp.wait(1)
    # Right after a mail, a resend is a double tap: no error, no second mail.
    r = en.form_post("/register/resend", {}, page="/register/sent", follow_redirects=True)
    assert "Please wait" not in r.get_data(as_text=True) and count(db.OutboxMail) == 1
    # The button is disabled with the time left (a countdown with JavaScript).
    assert re.search(
        r'<button type="submit" disabled aria-describedby="wait" data-wait="\d+"', r.get_data(as_text=True)
    )
    models.Token.update(created_at=models.utcnow() - datetime.timedelta(minutes=1)).execute()
    r = en.form_post("/register/resend", {}, page="/register/sent", follow_redirects=True)
    assert "Please wait 3 min" in r.get_data(as_text=True) or "Please wait 4 min" in r.get_data(as_text=True)
    assert count(db.OutboxMail) == 1
    models.Token.update(created_at=models.utcnow() - datetime.timedelta(minutes=5, seconds=1)).execute()
    r = en.form_post("/register/resend", {}, page="/register/sent", follow_redirects=True)
    assert "sent the mail again" in r.get_data(as_text=True)
    assert len(smtp.wait(2)) == 2


def test_wrong_address_moves_account_and_voids_old_link(en, smtp, db):
    register(en, email="typo@exmaple.edu")
    old_link = path_of(link_in(smtp.wait(1)[0], "/activate/"))
    r = en.form_post("/register/address", {"new_email": "right@example.edu"}, page="/register/sent")
    assert r.status_code == 303
    mails = smtp.wait(2)
    assert mails[1]["To"] == "right@example.edu"
    assert db.User.by_email("typo@exmaple.edu") is None
    assert en.form_post(old_link, {}, page="/login").status_code == 400
    new_link = path_of(link_in(mails[1], "/activate/"))
    assert en.form_post(new_link, {}, page="/login").status_code == 303
    assert db.User.by_email("right@example.edu").is_activated


def test_login_errors_and_lockout_do_not_reveal_accounts(en, db):
    make_user("real@example.edu")
    r = login(en, "real@example.edu", "wrong password here")
    assert r.status_code == 400 and "E-mail or password is wrong" in r.get_data(as_text=True)
    for who in ("real@example.edu", "ghost@example.edu"):
        for _ in range(9):
            login(en, who, "wrong password here")
        r = login(en, who, "wrong password here")
        assert "blocked for 15 minutes" in r.get_data(as_text=True), who
    # While locked even the right password is refused, with the same words.
    r = login(en, "real@example.edu")
    assert r.status_code == 400 and "blocked for 15 minutes" in r.get_data(as_text=True)
    models.LoginThrottle.update(locked_until=models.utcnow() - datetime.timedelta(seconds=1)).execute()
    assert login(en, "real@example.edu").status_code == 303


def test_unactivated_login_goes_to_waiting_page(en, db):
    make_user("slow@example.edu", activated=False)
    r = login(en, "slow@example.edu")
    assert r.headers["Location"] == "/register/sent"
    assert "slow@example.edu" in en.get("/register/sent").get_data(as_text=True)


def test_login_rotates_session(app, db):
    make_user()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    register(client, email="other@example.edu")
    with client.session_transaction() as sess:
        assert "signup" in sess
    login(client)
    with client.session_transaction() as sess:
        assert "signup" not in sess
        token = sess["_user_id"]
    # The cookie carries a random session id; the database keeps only its hash.
    row = db.UserSession.get()
    assert len(token) >= 40 and token not in (row.id, str(row.user_id))


def test_forgot_password_same_answer_and_reset_ends_sessions(app, smtp, db):
    make_user("me@example.edu")
    other_device = app.test_client()
    assert login(other_device, "me@example.edu").status_code == 303
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    a = client.form_post("/forgot-password", {"email": "me@example.edu"}).get_data(as_text=True)
    b = client.form_post("/forgot-password", {"email": "nobody@example.edu"}).get_data(as_text=True)
    strip = lambda h, e: re.sub(r'(value|"X-CSRFToken": )"[^"]+"', "", h).replace(e, "E")  # noqa: E731
    assert strip(a, "me@example.edu") == strip(b, "nobody@example.edu")
    mails = smtp.wait(1)
    assert len(mails) == 1 and mails[0]["To"] == "me@example.edu"
    link = path_of(link_in(mails[0], "/reset/"))

    r = client.form_post(link, {"password": "tiny", "confirm": "tiny"})
    assert r.status_code == 200 and "at least 8" in r.get_data(as_text=True)
    new = "lantern orchard seven"
    r = client.form_post(link, {"password": new, "confirm": new})
    assert r.status_code == 303
    assert other_device.get("/account/").status_code == 302
    assert login(client, "me@example.edu", PASSWORD).status_code == 400
    assert login(client, "me@example.edu", new).status_code == 303
    r = client.form_post(link, {"password": new + "x", "confirm": new + "x"}, page="/login")
    assert r.status_code == 400 and "already been used" in r.get_data(as_text=True)


def test_reset_link_expires_after_30_minutes(en, smtp, db):
    make_user("me@example.edu")
    en.form_post("/forgot-password", {"email": "me@example.edu"})
    link = path_of(link_in(smtp.wait(1)[0], "/reset/"))
    models.Token.update(
        created_at=models.Token.created_at, expires_at=models.utcnow() - datetime.timedelta(seconds=1)
    ).execute()
    assert "expired" in en.get(link).get_data(as_text=True)


def test_change_password_and_logout_everywhere(app, db):
    make_user()
    phone, laptop = app.test_client(), app.test_client()
    phone.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(phone)
    login(laptop)
    r = phone.form_post(
        "/account/password",
        {"current": "nope nope nope", "password": "a new secret phrase", "confirm": "a new secret phrase"},
        page="/account/",
    )
    assert r.status_code == 400 and "current password is wrong" in r.get_data(as_text=True)
    r = phone.form_post(
        "/account/password",
        {"current": PASSWORD, "password": "a new secret phrase", "confirm": "a new secret phrase"},
        page="/account/",
    )
    assert r.status_code == 303
    assert phone.get("/account/").status_code == 200
    assert laptop.get("/account/").status_code == 302
    login(laptop, password="a new secret phrase")
    phone.form_post("/account/logout-everywhere", {}, page="/account/")
    assert phone.get("/account/").status_code == 302
    assert laptop.get("/account/").status_code == 302
    assert db.AuditEvent.select().where(db.AuditEvent.action == "logout.everywhere").count() == 1


def test_missing_or_expired_csrf_reshows_form_with_data(en, db):
    r = en.post("/register", data=dict(NEW))
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "expired" in html and 'value="new.student@example.edu"' in html
    assert count(db.User) == 0
    r = en.post("/register", data=dict(NEW, csrf_token="forged"), headers={"HX-Request": "true"})
    assert r.status_code == 400 and count(db.User) == 0


def test_non_utf8_and_oversized_bodies_are_refused_cleanly(en, db):
    token = en.csrf("/register")
    body = (
        b"csrf_token="
        + token.encode()
        + b"&email=\xff\xfe%40example.edu&password=\xc3\x28&confirm=x&accept_terms=y"
    )
    r = en.post("/register", data=body, content_type="application/x-www-form-urlencoded")
    # Werkzeug drops an undecodable body: the form comes back, asking again.
    assert r.status_code == 400 and 'action="/register"' in r.get_data(as_text=True)
    assert "required" in r.get_data(as_text=True)
    r = en.post("/login", data={"email": "x@example.edu", "password": "p" * 10_000, "csrf_token": token})
    assert r.status_code == 200 and "At most 128 characters" in r.get_data(as_text=True)
    assert count(db.User) == 0 and count(db.LoginThrottle) == 0
