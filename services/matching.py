"""Linking an account to its registry record.

An account matches the record whose ID type, ID number and name equal its
own; names are compared after trimming, folding full-width characters and
unifying the middle dot of minority names. One record, one account.
"""

import re
import unicodedata

from peewee import JOIN

from models import AuditEvent, Cohort, College, Photo, Record, Request, User, db
from prepared import Param, Prepared
from services.vocab import RecordStatus, RequestKind, RequestStatus

# Dots people type in transliterated minority names, all meaning "·".
_DOTS = dict.fromkeys(map(ord, "\u2022\u2027\u30fb\uff65\u00b7\u2219\u22c5\u0387\u16eb\u2e31"), "·")
_SPACES = re.compile(r"\s+")


def name_key(name):
    """The form of a name used for comparison."""
    folded = unicodedata.normalize("NFKC", name or "").translate(_DOTS)
    folded = _SPACES.sub(" ", folded).strip()
    # Around the dot, spaces are noise: "阿依 · 古丽" is "阿依·古丽".
    folded = re.sub(r" ?· ?", "·", folded)
    return folded.casefold()


def candidate(user):
    """The unlinked record matching the user's real-name data, or None."""
    if not (user.id_type and user.id_number and user.real_name):
        return None
    record = Record.get_or_none(
        (Record.id_type == user.id_type)
        & (Record.id_number == user.id_number)
        & (Record.name_key == name_key(user.real_name))
        & Record.account.is_null()
    )
    # While an ID dispute about the record is open, nobody is linked to it.
    held = Request.select().where(
        (Request.kind == RequestKind.ID_DISPUTE)
        & (Request.status == RequestStatus.OPEN)
        & (Request.record == record)
    )
    if record is None or held.exists():
        return None
    return record


def holder_of(id_type, id_number, exclude=None):
    """Another account that already holds this ID number, if any."""
    query = User.select().where((User.id_type == id_type) & (User.id_number == id_number))
    if exclude is not None:
        query = query.where(User.id != exclude.id)
    return query.order_by(User.id).first()  # the first holder, on either database


def _with_links():
    return (
        Record.select(Record, Cohort, College, Photo)
        .join(Cohort)
        .switch(Record)
        .join(College)
        .switch(Record)
        .join(Photo, JOIN.LEFT_OUTER)
    )


# Every student page reads these: built once (prepared.py), run with new values.
_RECORD_OF = Prepared(_with_links().where(Record.account == Param("user")).limit(1))
_RECORD_BY_ID = Prepared(_with_links().where(Record.id == Param("id")).limit(1))


def record_of(user):
    """The record linked to `user` (with cohort, college and photo), or None."""
    return _RECORD_OF.first(user=user)


def reread(record):
    """`record` read again with its cohort, college and photo (the current row
    when called inside a transaction), or None if it was deleted."""
    return _RECORD_BY_ID.first(id=record.id)


def link(user, ip=""):
    """Link `user` to its matching record if there is one; returns the record.

    Runs in its own transaction; the record goes unregistered → pending.
    """
    with db.atomic():
        current = record_of(user)
        if current is not None:
            return current
        record = candidate(user)
        if record is None:
            return None
        target = RecordStatus.PENDING if record.status == RecordStatus.UNREGISTERED else record.status
        if target == record.status:
            record.touch(actor=user, ip=ip, action="record.link", account=user)
        else:
            record.transition(target, actor=user, ip=ip, reason="matched", account=user)
        AuditEvent.log("account.link", actor=user, target=user, ip=ip, reason=f"record {record.id}")
    return record
