"""Real-name data of an account (实名注册, 修改个人信息) and re-matching.

ID type and number are written once, by `save_realname`; afterwards only
staff decisions (services/casework) change them.
"""

from models import AuditEvent, db, utcnow
from services import matching

REALNAME_FIELDS = (
    "real_name",
    "gender",
    "id_type",
    "id_number",
    "nickname",
    "birth_date",
    "province",
    "city",
)


def save_realname(user, data, ip=""):
    """Store the real-name data, then try to link the record; returns it or None."""
    with db.atomic():
        for field in REALNAME_FIELDS:
            setattr(user, field, data[field])
        user.realname_at = utcnow()
        user.save()
        AuditEvent.log("realname", actor=user, target=user, ip=ip)
    return matching.link(user, ip=ip)


def change_name(user, real_name, nickname, ip=""):
    """修改个人信息: a corrected name (and nickname); matching runs again at once."""
    with db.atomic():
        before = user.real_name
        user.real_name, user.nickname = real_name, nickname
        user.save()
        AuditEvent.log("realname.change", actor=user, target=user, ip=ip, reason=f"{before} -> {real_name}")
    return matching.link(user, ip=ip)
