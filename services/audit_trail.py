"""Audit events that stand alone: a read or an export of sensitive data
is noted in its own transaction (a change logs its event inside the
change's transaction instead, with models.AuditEvent.log)."""

from peewee import Model

from models import AuditEvent, User, db


def note(action: str, *, actor: User, target: Model | None = None, ip: str = "", reason: str = "") -> None:
    """Write one audit event now, in its own transaction."""
    with db.atomic():
        AuditEvent.log(action, actor=actor, target=target, ip=ip, reason=reason)
