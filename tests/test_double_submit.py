"""A mail-sending form sent twice in a row (a double tap, a browser resending
it) sends one mail and answers both submits alike."""

import models
from tests.factories import make_record, make_user, with_realname


def reset_mails():
    return models.OutboxMail.select().where(models.OutboxMail.kind == "reset").count()


def test_forgot_password_twice_sends_one_mail(client, db):
    make_user("twice@example.edu")
    first = client.form_post("/forgot-password", {"email": "twice@example.edu"})
    second = client.form_post("/forgot-password", {"email": "twice@example.edu"})
    assert first.status_code == second.status_code == 200
    assert reset_mails() == 1


def test_forgot_password_again_later_sends_again(app, client, db):
    app.config["MAIL_REPEAT_SECONDS"] = 0
    make_user("later@example.edu")
    client.form_post("/forgot-password", {"email": "later@example.edu"})
    client.form_post("/forgot-password", {"email": "later@example.edu"})
    assert reset_mails() == 2


def test_forgot_username_twice_sends_one_mail(client, db):
    record = make_record(name="赵六")
    with_realname(make_user("owner@example.edu"), record)
    data = {"real_name": "赵六", "id_type": "resident", "id_number": record.id_number}
    client.form_post("/forgot-username", data)
    client.form_post("/forgot-username", data)
    assert models.OutboxMail.select().where(models.OutboxMail.kind == "username").count() == 1


def test_register_twice_sends_one_mail(client, db):
    data = {
        "email": "new@example.edu",
        "password": "plum blossom river 1987",
        "confirm": "plum blossom river 1987",
        "accept_terms": "y",
    }
    first = client.form_post("/register", data)
    second = client.form_post("/register", data)
    assert first.headers["Location"] == second.headers["Location"] == "/register/sent"
    assert models.OutboxMail.select().count() == 1
