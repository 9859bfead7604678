"""What several admin pages share: limits, the acting admin, and saving a
form with its audit event."""

import re

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import IntegrityError

from blueprints.web import client_ip
from models import AuditEvent, db

PAGE_SIZE = 50
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TOO_LONG = _l("At most %(max)d characters.")


def actor():
    return current_user._get_current_object()


def stripped(value):
    return value.strip() if isinstance(value, str) else value


def changes_of(obj, form, names):
    """{field: (old, new)} for the fields the form changes."""
    found = {}
    for name in names:
        old, new = getattr(obj, name), form[name].data
        if old != new:
            found[name] = (old, new)
    return found


def describe(changes):
    return "; ".join(f"{name}: {old} → {new}" for name, (old, new) in changes.items())


def save(model, form, names, obj=None):
    """Create or update from a valid form, with its audit event; False on a duplicate."""
    kind = model.__name__.lower()
    try:
        with db.atomic():
            if obj is None:
                values = {name: form[name].data for name in names}
                obj = model.create(**values)
                reason = "; ".join(f"{n}: {v}" for n, v in values.items())
                AuditEvent.log(f"{kind}.create", actor=actor(), target=obj, ip=client_ip(), reason=reason)
            else:
                changes = changes_of(obj, form, names)
                if changes:
                    model.update({n: new for n, (_old, new) in changes.items()}).where(
                        model.id == obj.id
                    ).execute()
                    AuditEvent.log(
                        f"{kind}.update", actor=actor(), target=obj, ip=client_ip(), reason=describe(changes)
                    )
    except IntegrityError:
        return False
    return True
