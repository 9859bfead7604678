"""The mail outbox against a real SMTP server on loopback: language, console
fallback, retries with back-off, no double sending, transactions, CLI."""

import datetime
import threading

import pytest
from flask_babel import lazy_gettext as _l

import models
from extensions import mail as flask_mail
from services import mail
from tests.conftest import free_port, html_of, text_of

SUBJECT = _l("Activate your GradProof account")


@pytest.fixture
def outbox():
    """Database access from the test thread; closed afterwards."""
    yield models.OutboxMail
    if not models.db.is_closed():
        models.db.close()


def queue(app, to, locale="zh_CN", **ctx):
    """Queue the activation mail as a request would, inside its own context."""
    with app.app_context(), app.test_request_context():
        models.db.connect(reuse_if_open=True)
        ctx.setdefault("link", f"http://localhost/activate/token-for-{to.split('@')[0]}")
        ctx.setdefault("hours", 48)
        return mail.queue(to, "activate", SUBJECT, locale=locale, **ctx).id


def deliver(app):
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        return mail.deliver_pending()


def row(row_id):
    return models.OutboxMail.get_by_id(row_id)


def test_mail_in_the_recipients_language(app, smtp, outbox):
    queue(app, "en@example.edu", locale="en")
    queue(app, "zh@example.edu", locale="zh_CN")
    assert deliver(app) == {"sent": 2, "console": 0, "retry": 0, "failed": 0}
    mails = {m["To"]: m for m in smtp.wait(2)}
    assert set(mails) == {"en@example.edu", "zh@example.edu"}

    en, zh = mails["en@example.edu"], mails["zh@example.edu"]
    assert en["Subject"] == "Activate your GradProof account"
    assert zh["Subject"] == "激活您的 GradProof 账号"
    assert en["From"] == app.config["MAIL_DEFAULT_SENDER"]
    for msg, greeting, other in ((en, "Hello,", "您好"), (zh, "您好", "Hello,")):
        assert msg.get_body(preferencelist=("plain",)) is not None
        assert msg.get_body(preferencelist=("html",)) is not None
        for part in (text_of(msg), html_of(msg)):
            assert greeting in part and other not in part
        assert "http://localhost/activate/token-for-" in text_of(msg)
        assert 'href="http://localhost/activate/token-for-' in html_of(msg)
    assert "48" in text_of(en) and "48" in text_of(zh)
    assert all(r.status == "sent" and r.sent_at and r.attempts == 1 for r in outbox.select())


def test_without_mail_server_mail_is_printed(app_factory, smtp, outbox, capsys):
    app = app_factory(MAIL_SERVER="")
    capsys.readouterr()
    row_id = queue(app, "console@example.edu", locale="en", link="http://localhost/activate/printed-token")
    assert deliver(app) == {"sent": 0, "console": 1, "retry": 0, "failed": 0}
    out = capsys.readouterr().out
    assert "To: console@example.edu" in out
    assert "http://localhost/activate/printed-token" in out
    assert "Activate your GradProof account" in out
    assert row(row_id).status == "console" and row(row_id).sent_at is not None
    assert smtp.messages == []
    assert deliver(app) == {"sent": 0, "console": 0, "retry": 0, "failed": 0}  # printed once


def test_smtp_down_backs_off_fails_and_can_be_retried(app_factory, smtp, outbox):
    app = app_factory(MAIL_PORT=free_port())
    row_id = queue(app, "later@example.edu")

    before = models.utcnow()
    assert deliver(app) == {"sent": 0, "console": 0, "retry": 1, "failed": 0}
    mail_row = row(row_id)
    assert mail_row.status == "pending" and mail_row.attempts == 1
    assert "Connection" in mail_row.last_error or "refused" in mail_row.last_error.lower()
    wait = mail_row.next_attempt_at - before
    assert datetime.timedelta(seconds=55) <= wait <= datetime.timedelta(seconds=65), wait

    # Not due yet: a sender running again leaves it alone.
    assert deliver(app) == {"sent": 0, "console": 0, "retry": 0, "failed": 0}
    assert row(row_id).attempts == 1

    app.config["MAIL_MAX_ATTEMPTS"] = 2
    models.OutboxMail.update(next_attempt_at=models.utcnow() - datetime.timedelta(seconds=1)).execute()
    assert deliver(app) == {"sent": 0, "console": 0, "retry": 0, "failed": 1}
    assert row(row_id).status == "failed" and row(row_id).attempts == 2
    assert deliver(app)["failed"] == 0  # failed mail is not retried by itself

    with app.app_context():
        mail.retry(row(row_id))
    assert row(row_id).status == "pending"
    # The server is back. Flask-Mail reads MAIL_* once, at init_app.
    app.config["MAIL_PORT"] = smtp.port
    flask_mail.init_app(app)
    assert deliver(app) == {"sent": 1, "console": 0, "retry": 0, "failed": 0}
    assert [m["To"] for m in smtp.wait(1)] == ["later@example.edu"]
    assert row(row_id).status == "sent"


def test_two_senders_never_send_one_mail_twice(app, smtp, outbox):
    ids = [queue(app, f"student{n:02d}@example.edu") for n in range(20)]
    models.db.close()
    start = threading.Barrier(2)
    results, errors = [], []

    def sender():
        try:
            with app.app_context():
                models.db.connect(reuse_if_open=True)
                try:
                    start.wait()
                    results.append(mail.deliver_pending())
                finally:
                    models.db.close()
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(r["sent"] for r in results) == 20
    messages = smtp.wait(20)
    threading.Event().wait(0.3)  # a duplicate would arrive now
    assert len(smtp.messages) == 20
    assert sorted(m["To"] for m in messages) == sorted(f"student{n:02d}@example.edu" for n in range(20))
    assert {row(i).status for i in ids} == {"sent"}


def test_mail_of_a_rolled_back_action_does_not_exist(app, smtp, outbox):
    with app.app_context(), app.test_request_context():
        models.db.connect(reuse_if_open=True)
        with pytest.raises(RuntimeError), models.db.atomic():
            mail.queue("ghost@example.edu", "activate", SUBJECT, link="http://localhost/x", hours=48)
            raise RuntimeError("the action failed after queueing its mail")
    assert outbox.select().count() == 0
    assert deliver(app)["sent"] == 0
    assert smtp.messages == []


def test_send_mail_command_drains_the_outbox(app, smtp, outbox):
    queue(app, "one@example.edu")
    queue(app, "two@example.edu", locale="en")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "sent=2" in result.output and "retry=0" in result.output
    assert sorted(m["To"] for m in smtp.wait(2)) == ["one@example.edu", "two@example.edu"]
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0 and "sent=0" in result.output
    assert len(smtp.messages) == 2
