"""/admin/outbox: the mail outbox list, filters, pages, a mail's text, retrying."""

import models
from services import mail
from tests.admin.helpers import (
    BAD,
    DENIED,
    HX,
    MOVED,
    OK,
    events,
    html,
    is_fragment,
    make_mail,
    post,
)
from tests.conftest import text_of


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
