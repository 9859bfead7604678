"""Account flows: register, activate, log in with lockout, reset, sessions.

Functions take plain values and a `link(endpoint, **values)` callable that
builds absolute URLs for mails; they never look at the request. Every
change happens in one transaction with its audit event and its mail.
"""

import datetime
from collections.abc import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l

from models import AuditEvent, LoginThrottle, Token, User, db, utcnow
from services import mail, passwords, sessions
from services.tokens import check_token, consume, digest, issue_token, void_tokens

ACTIVATE, RESET = "activate", "reset"
# Builds an absolute URL for a mail: link(endpoint, **values).
Link = Callable[..., str]


def normalize_email(email: str | None) -> str:
    """Usernames are e-mail addresses, stored and compared lower-cased."""
    return (email or "").strip().lower()


def activation_hours() -> datetime.timedelta:
    return datetime.timedelta(hours=current_app.config["ACTIVATION_HOURS"])


def _send_activation(user, link):
    raw = issue_token(user, ACTIVATE, activation_hours())
    mail.queue_to(
        user,
        "activate",
        _l("Activate your GradProof account"),
        link=link("student.auth.activate", token=raw),
        hours=current_app.config["ACTIVATION_HOURS"],
    )


def _send_existing_notice(user, link):
    """Mail the owner of an address that someone tried to register again."""
    if mail.recently_queued(user.email, "activate") or mail.recently_queued(user.email, "register_existing"):
        return  # a double submit of the form that just mailed this address
    extra = {"activate_link": None}
    if not user.is_activated:
        raw = issue_token(user, ACTIVATE, activation_hours())
        extra["activate_link"] = link("student.auth.activate", token=raw)
    mail.queue_to(
        user,
        "register_existing",
        _l("Someone tried to register with your address"),
        login_link=link("student.auth.login"),
        reset_link=link("student.auth.forgot_password"),
        **extra,
    )


def register(email: str, password: str, locale: str, link: Link, ip: str = "") -> User | None:
    """Create an account and mail the activation link, or mail the owner.

    Returns the new user, or None when the address was taken. Both paths
    hash a password and write one mail, so they take the same time.
    """
    email = normalize_email(email)
    password_hash = passwords.hash_password(password)
    with db.atomic():
        existing = User.by_email(email)
        if existing is not None:
            _send_existing_notice(existing, link)
            AuditEvent.log("register.existing", target=existing, ip=ip)
            return None
        user = User.create(email=email, password_hash=password_hash, locale=locale)
        _send_activation(user, link)
        AuditEvent.log("register", actor=user, target=user, ip=ip)
    return user


def seconds_until_resend(user: User | None = None, last_sent_epoch: float | None = None) -> int:
    """0 when another mail may go out, else the seconds still to wait.

    The last mail is the user's newest activation token, or, for the
    waiting page of an address that was already taken, a time kept in the
    session.
    """
    last_sent = None
    if last_sent_epoch is not None:
        last_sent = datetime.datetime.fromtimestamp(last_sent_epoch, datetime.UTC).replace(tzinfo=None)
    if user is not None:
        last = (
            Token.select(Token.created_at)
            .where((Token.user == user) & (Token.purpose == ACTIVATE))
            .order_by(Token.created_at.desc())
            .first()
        )
        last_sent = last.created_at if last else None
    if last_sent is None:
        return 0
    wait = last_sent + datetime.timedelta(minutes=current_app.config["RESEND_MINUTES"]) - utcnow()
    return max(0, int(wait.total_seconds()) + (1 if wait.microseconds else 0))


def resend_activation(user: User, link: Link, ip: str = "") -> int:
    """Send another activation link if 5 minutes have passed; returns the wait."""
    wait = seconds_until_resend(user)
    if wait or user.is_activated:
        return wait
    with db.atomic():
        _send_activation(user, link)
        AuditEvent.log("activation.resend", actor=user, target=user, ip=ip)
    return 0


def resend_existing_notice(email: str, link: Link) -> None:
    """The decoy path of the waiting page: the owner gets the notice again."""
    user = User.by_email(email)
    if user is not None:
        with db.atomic():
            _send_existing_notice(user, link)


def change_pending_address(user: User, new_email: str, link: Link, ip: str = "") -> User | None:
    """'Wrong address?': move an unactivated account to a new address.

    Old activation links stop working either way. If the new address
    belongs to another account, that owner is told instead (no enumeration)
    and None is returned.
    """
    new_email = normalize_email(new_email)
    with db.atomic():
        void_tokens(user, ACTIVATE)
        other = User.by_email(new_email)
        if other is not None and other.id != user.id:
            _send_existing_notice(other, link)
            return None
        AuditEvent.log(
            "register.change_address", actor=user, target=user, ip=ip, reason=f"{user.email} -> {new_email}"
        )
        user.email = new_email
        user.save()
        _send_activation(user, link)
    return user


def activate(raw: str | None, ip: str = "") -> tuple[User | None, str | None]:
    """Activate the account of an activation token: (user, None) or (None, problem)."""
    token, problem = check_token(raw, ACTIVATE)
    if token is None:  # then problem says why
        return None, problem
    with db.atomic():
        if not consume(token):
            return None, "used"
        user = token.user
        if user.activated_at is None:
            user.activated_at = utcnow()
            user.save()
        AuditEvent.log("activate", actor=user, target=user, ip=ip)
    return user, None


def _throttle_key(email):
    return digest("login:" + normalize_email(email))


def lock_remaining(email: str) -> int:
    """Seconds the address stays locked after too many failures, else 0."""
    row = LoginThrottle.get_or_none(LoginThrottle.key == _throttle_key(email))
    if row is None or row.locked_until is None or row.locked_until <= utcnow():
        return 0
    return int((row.locked_until - utcnow()).total_seconds()) + 1


def _record_failure(email):
    now = utcnow()
    window = datetime.timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
    with db.atomic():
        row, _ = LoginThrottle.get_or_create(key=_throttle_key(email), defaults={"first_failed_at": now})
        if row.first_failed_at < now - window or (row.locked_until and row.locked_until <= now):
            row.failures, row.first_failed_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= current_app.config["LOCKOUT_FAILURES"]:
            row.locked_until = now + window
        row.save()


def authenticate(email: str, password: str, ip: str = "") -> tuple[User | None, str | None]:
    """(user, None) on success, else (user or None, 'locked'|'invalid'|'inactive'|'disabled').

    Unknown addresses are counted and locked like real ones.
    """
    email = normalize_email(email)
    if lock_remaining(email):
        return None, "locked"
    user = User.by_email(email)
    if not passwords.verify(user.password_hash if user else None, password):
        _record_failure(email)
        if user is not None:
            AuditEvent.log("login.failed", target=user, ip=ip)
        return None, "locked" if lock_remaining(email) else "invalid"
    LoginThrottle.delete().where(LoginThrottle.key == _throttle_key(email)).execute()
    if user.disabled:
        return None, "disabled"
    if not user.is_activated:
        return user, "inactive"
    AuditEvent.log("login", actor=user, target=user, ip=ip)
    return user, None


def request_reset(email: str, link: Link, ip: str = "") -> None:
    """Mail a 30-minute reset link if the address has an account; silent otherwise."""
    user = User.by_email(normalize_email(email))
    if user is None or user.disabled or mail.recently_queued(user.email, "reset"):
        return  # (a double submit: the first one sent the link)
    with db.atomic():
        raw = issue_token(user, RESET, datetime.timedelta(minutes=current_app.config["RESET_MINUTES"]))
        mail.queue_to(
            user,
            "reset",
            _l("Reset your GradProof password"),
            link=link("student.auth.reset_password", token=raw),
            minutes=current_app.config["RESET_MINUTES"],
        )
        AuditEvent.log("reset.request", target=user, ip=ip)


def reset_password(raw: str | None, new_password: str, ip: str = "") -> tuple[User | None, str | None]:
    """Set a new password from a reset token; every session of the account ends."""
    token, problem = check_token(raw, RESET)
    if token is None:  # then problem says why
        return None, problem
    password_hash = passwords.hash_password(new_password)
    with db.atomic():
        if not consume(token):
            return None, "used"
        user = token.user
        user.password_hash = password_hash
        user.session_version += 1
        # The link came through the mailbox, which is what activation proves.
        user.activated_at = user.activated_at or utcnow()
        user.save()
        sessions.end_all(user)
        void_tokens(user, RESET)
        AuditEvent.log("reset", actor=user, target=user, ip=ip)
    return user, None


def change_password(user: User, new_password: str, ip: str = "", keep_session: str | None = None) -> None:
    """New password for a logged-in user; sessions other than `keep_session` end."""
    password_hash = passwords.hash_password(new_password)
    with db.atomic():
        user.password_hash = password_hash
        user.session_version += 1
        user.save()
        sessions.end_all(user, keep=keep_session)
        void_tokens(user, RESET)
        AuditEvent.log("password.change", actor=user, target=user, ip=ip)


def end_all_sessions(user: User, ip: str = "") -> None:
    """'Log out everywhere': every session row of the account is deleted."""
    with db.atomic():
        user.session_version += 1
        user.save()
        sessions.end_all(user)
        AuditEvent.log("logout.everywhere", actor=user, target=user, ip=ip)


def recover_username(real_name: str, id_type: str, id_number: str, link: Link, ip: str = "") -> None:
    """Mail the username to the account with this real name and ID; silent otherwise."""
    from services.matching import name_key

    key = name_key(real_name)
    candidates = User.select().where((User.id_type == id_type) & (User.id_number == id_number))
    with db.atomic():
        for user in candidates:
            if name_key(user.real_name or "") == key and not user.disabled:
                if mail.recently_queued(user.email, "username"):
                    continue  # a double submit: the first one sent it
                mail.queue_to(
                    user,
                    "username",
                    _l("Your GradProof username"),
                    email=user.email,
                    login_link=link("student.auth.login"),
                    reset_link=link("student.auth.forgot_password"),
                )
                AuditEvent.log("username.recover", target=user, ip=ip)
