"""The mail outbox: rows written with the action, delivered later with retries.

`queue()` renders a `.txt` + `.html` pair in the recipient's language and
writes an OutboxMail row; call it inside the transaction of the action.
`deliver_pending()` claims due rows one by one (so several senders never
send one mail twice), sends them through Flask-Mail, and backs off on
failure. With no MAIL_SERVER the mail is printed and kept as `console`.

Web processes never call `deliver_pending()`: the queue's consumer does
(tasks.py), after each request that queued mail and twice a minute.

A server that cannot be reached (refused, timed out, hung up) is not the
mail's fault: the drain stops at the first such failure instead of waiting
out the timeout once per mail, and when a later drain finds the server
answering again, the mails that waited for it are due at once rather than
after their backoff.
"""

import datetime
import smtplib
import socket
import sys
from typing import Any

from flask import current_app, g, render_template
from flask_babel import force_locale
from flask_mail import Message

from extensions import mail
from models import AuditEvent, OutboxMail, User, db, utcnow

STALE_CLAIM = datetime.timedelta(minutes=10)
MAX_BACKOFF = datetime.timedelta(hours=6)


def queue(
    to: str, template: str, subject: Any, locale: str = "zh_CN", user: User | None = None, **ctx: Any
) -> OutboxMail:
    """Write one mail to the outbox; `subject` may be a lazy string."""
    with force_locale(locale):
        subject_text = str(subject)
        ctx.setdefault("subject", subject_text)
        text = render_template(f"emails/{template}.txt", **ctx)
        html = render_template(f"emails/{template}.html", **ctx)
    row = OutboxMail.create(
        to=to,
        subject=subject_text,
        body_text=text,
        body_html=html,
        kind=template,
        user=user,
    )
    g.outbox_dirty = True  # ask for a delivery once the request is over
    return row


def queue_to(user: User, template: str, subject: Any, **ctx: Any) -> OutboxMail:
    """`queue()` to a user's own address, in the user's language."""
    return queue(user.email, template, subject, locale=user.locale, user=user, **ctx)


# A failure of these kinds says the server is down, not that this mail is bad.
SERVER_DOWN = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
)


def _server_down_error(last_error):
    """Whether a stored last_error came from a server that was unreachable."""
    name = (last_error or "").split(":", 1)[0]
    return name in {
        "ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError", "ConnectionError",
        "TimeoutError", "gaierror", "SMTPServerDisconnected", "SMTPConnectError",
    }  # fmt: skip


def server_answers() -> bool:
    """Whether the SMTP server greets us and answers NOOP (within MAIL_TIMEOUT)."""
    config = current_app.config
    cls = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
    try:
        with cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as conn:
            return conn.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def revive_after_outage(now: datetime.datetime) -> int:
    """Make mails that waited for an unreachable server due, if it answers now.

    Returns the number of mails made due.
    """
    waiting = (
        OutboxMail.select(OutboxMail.id, OutboxMail.last_error)
        .where(
            (OutboxMail.status == "pending") & (OutboxMail.next_attempt_at > now) & (OutboxMail.attempts > 0)
        )
        .limit(1000)
    )
    ids = [row.id for row in waiting if _server_down_error(row.last_error)]
    if not ids or not server_answers():
        return 0
    return (
        OutboxMail.update(next_attempt_at=now)
        .where(OutboxMail.id.in_(ids) & (OutboxMail.status == "pending"))
        .execute()
    )


def recently_queued(to: str, kind: str, seconds: float | None = None) -> bool:
    """Whether a mail of this kind went to `to` moments ago: a double submit
    of the form that sends it, answered as the first one without a second mail."""
    seconds = current_app.config.get("MAIL_REPEAT_SECONDS", 15) if seconds is None else seconds
    since = utcnow() - datetime.timedelta(seconds=seconds)
    query = OutboxMail.select().where(
        (OutboxMail.to == to) & (OutboxMail.kind == kind) & (OutboxMail.created_at >= since)
    )
    return query.exists()


def backoff(attempts: int) -> datetime.timedelta:
    """Wait before retry number `attempts`: 1, 2, 4 … minutes, at most 6 h."""
    return min(datetime.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _claim(row_id, now):
    """Mark one row as being sent; False when another sender got it first."""
    claimable = (OutboxMail.status == "pending") | (
        (OutboxMail.status == "sending") & (OutboxMail.claimed_at < now - STALE_CLAIM)
    )
    query = OutboxMail.update(status="sending", claimed_at=now).where((OutboxMail.id == row_id) & claimable)
    return query.execute() == 1


def due_ids(now: datetime.datetime, limit: int) -> list[int]:
    """Ids of mails that are due, oldest first."""
    query = (
        OutboxMail.select(OutboxMail.id)
        .where(
            ((OutboxMail.status == "pending") & (OutboxMail.next_attempt_at <= now))
            | ((OutboxMail.status == "sending") & (OutboxMail.claimed_at < now - STALE_CLAIM))
        )
        .order_by(OutboxMail.id)
        .limit(limit)
    )
    return [row.id for row in query]


def _print(row):
    """Console delivery for installs without SMTP: the text part, on stdout."""
    line = "=" * 72
    print(
        f"{line}\nMAIL (console, no MAIL_SERVER set) #{row.id}\nTo: {row.to}\n"
        f"Subject: {row.subject}\n\n{row.body_text}\n{line}",
        file=sys.stdout,
        flush=True,
    )


def _send(row):
    message = Message(
        subject=row.subject,
        recipients=[row.to],
        body=row.body_text,
        html=row.body_html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    # Flask-Mail opens smtplib connections without a timeout; a dead server
    # must not hang a worker, so bound it for the duration of the send.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(current_app.config["MAIL_TIMEOUT"])
    try:
        mail.send(message)
    finally:
        socket.setdefaulttimeout(previous)


def deliver_pending(limit: int = 100) -> dict[str, int]:
    """Send what is due. Returns a dict of counts: sent, console, retry, failed."""
    counts = {"sent": 0, "console": 0, "retry": 0, "failed": 0}
    smtp = bool(current_app.config.get("MAIL_SERVER"))
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    if smtp:
        revive_after_outage(utcnow())
    for row_id in due_ids(utcnow(), limit):
        now = utcnow()
        if not _claim(row_id, now):
            continue
        row = OutboxMail.get_by_id(row_id)
        if not smtp:
            _print(row)
            row.status, row.sent_at = "console", now
            counts["console"] += 1
        else:
            try:
                _send(row)
            except Exception as exc:  # any SMTP or socket failure is retried
                server_down = isinstance(exc, SERVER_DOWN)
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                if row.attempts >= max_attempts:
                    row.status = "failed"
                    counts["failed"] += 1
                else:
                    row.status = "pending"
                    row.next_attempt_at = utcnow() + backoff(row.attempts)
                    counts["retry"] += 1
                if server_down:
                    with db.atomic():
                        row.save()
                    break  # the next mails would only wait for the same timeout
            else:
                row.status, row.sent_at = "sent", utcnow()
                row.attempts += 1
                counts["sent"] += 1
        with db.atomic():
            row.save()
    return counts


def retry(row: OutboxMail, actor: User | None = None, ip: str = "") -> None:
    """Put a failed mail back in the queue now (admin action), with its audit event."""
    with db.atomic():
        row.status, row.next_attempt_at, row.claimed_at = "pending", utcnow(), None
        row.save()
        AuditEvent.log("mail.retry", actor=actor, target=row, ip=ip, reason=row.to)
