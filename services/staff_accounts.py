"""Staff accounts run by the academic-affairs admin: invite, accept, disable, move.

Like services.accounts these take plain values and a `link(endpoint, **values)`
callable for the URLs in mails; they never look at the request. Each change
is one transaction with its audit event (and its mail).
"""

import datetime
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from models import AuditEvent, Token, User, db, utcnow
from services import mail, passwords
from services.accounts import normalize_email
from services.tokens import check_token, issue_token, void_tokens
from services.vocab import Role

INVITE = "invite"
INVITE_LIFETIME = datetime.timedelta(days=7)


class AccountError(ValueError):
    """A refused change, with the message to show the admin."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _unusable_hash():
    """A real hash of a secret nobody knows: logging in fails in the normal time."""
    return passwords.hash_password(secrets.token_urlsafe(32))


def _send_invite(user, actor, link):
    raw = issue_token(user, INVITE, INVITE_LIFETIME)
    mail.queue_to(
        user,
        "invite",
        _l("You are invited to GradProof"),
        link=link("admin.staff.accept_invite", token=raw),
        days=INVITE_LIFETIME.days,
        college=user.college.name if user.college_id else "",
        inviter=actor.email,
    )


def invite(email, college, actor, link, ip=""):
    """Create an unactivated staff account of `college` and mail it a set-password link.

    Raises AccountError when the address already has an account.
    """
    email = normalize_email(email)
    exists = AccountError(_l("%(email)s already has an account.", email=email))
    if User.by_email(email) is not None:
        raise exists
    password_hash = _unusable_hash()
    try:
        with db.atomic():
            user = User.create(
                email=email,
                password_hash=password_hash,
                role=Role.STAFF,
                college=college,
                activated_at=None,
                locale=current_app.config["BABEL_DEFAULT_LOCALE"],
            )
            _send_invite(user, actor, link)
            AuditEvent.log(
                "staff.invite", actor=actor, target=user, ip=ip, reason=f"{email} → {college.name}"
            )
    except IntegrityError:  # the same address invited twice at once
        raise exists from None
    return user


def reinvite(user, actor, link, ip=""):
    """A fresh invitation for a staff member who has not set a password yet."""
    if user.is_activated:
        raise AccountError(_l("This account is already activated."))
    if user.disabled:
        raise AccountError(_l("This account is disabled; enable it first."))
    with db.atomic():
        void_tokens(user, INVITE)
        _send_invite(user, actor, link)
        AuditEvent.log("staff.reinvite", actor=actor, target=user, ip=ip, reason=user.email)


def check_invite(raw):
    """(token, None) when the invitation can be accepted, else (None, problem)."""
    token, problem = check_token(raw, INVITE)
    if problem:
        return None, problem
    if token.user.disabled:
        return None, "disabled"
    return token, None


def _consume(token):
    """Use a token once; False when another request used it first."""
    query = Token.update(used_at=utcnow()).where((Token.id == token.id) & Token.used_at.is_null())
    return query.execute() == 1


def accept_invite(raw, new_password, ip=""):
    """Set the password of an invited account and activate it: (user, None) or (None, problem)."""
    token, problem = check_invite(raw)
    if problem:
        return None, problem
    password_hash = passwords.hash_password(new_password)
    with db.atomic():
        if not _consume(token):
            return None, "used"
        user = token.user
        User.update(
            password_hash=password_hash,
            session_version=User.session_version + 1,
            activated_at=user.activated_at or utcnow(),
        ).where(User.id == user.id).execute()
        void_tokens(user, INVITE)
        AuditEvent.log("invite.accept", actor=user, target=user, ip=ip)
    return User.get_by_id(user.id), None


def set_disabled(user, disabled, actor, reason="", ip=""):
    """Disable (every session ends at once) or enable an account."""
    if disabled and user.id == actor.id:
        raise AccountError(_l("You cannot disable your own account."))
    if user.disabled == disabled:
        raise AccountError(
            _l("This account is already disabled.") if disabled else _l("This account is not disabled.")
        )
    values = {"disabled": disabled}
    if disabled:
        values["session_version"] = User.session_version + 1
    with db.atomic():
        User.update(**values).where(User.id == user.id).execute()
        AuditEvent.log(
            "staff.disable" if disabled else "staff.enable", actor=actor, target=user, ip=ip, reason=reason
        )
    return User.get_by_id(user.id)


def change_college(user, college, actor, ip=""):
    """Move a staff member to another college; from the next request they see only its students."""
    if user.role != Role.STAFF:
        raise AccountError(_l("Only staff accounts belong to a college."))
    if user.college_id == college.id:
        raise AccountError(_l("This account already belongs to %(college)s.", college=college.name))
    before = user.college.name if user.college_id else "—"
    with db.atomic():
        User.update(college=college).where(User.id == user.id).execute()
        AuditEvent.log("staff.college", actor=actor, target=user, ip=ip, reason=f"{before} → {college.name}")
    return User.get_by_id(user.id)
