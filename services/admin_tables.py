"""Create and update the rows of the admin's own tables (cohorts, colleges),
each change with its audit event in the same transaction."""

from peewee import IntegrityError, Model

from models import AuditEvent, User, db


def changes_of(obj: Model, values: dict) -> dict:
    """{field: (old, new)} for the values that differ from `obj`'s."""
    found = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            found[name] = (old, new)
    return found


def describe(changes: dict) -> str:
    return "; ".join(f"{name}: {old} → {new}" for name, (old, new) in changes.items())


def save(model: type[Model], values: dict, *, actor: User, ip: str, obj: Model | None = None) -> bool:
    """Create a `model` row from `values`, or update `obj` with them, with
    its audit event ("<model>.create" / "<model>.update"); False when a
    unique column already holds the value (nothing is written)."""
    kind = model.__name__.lower()
    try:
        with db.atomic():
            if obj is None:
                obj = model.create(**values)
                reason = "; ".join(f"{n}: {v}" for n, v in values.items())
                AuditEvent.log(f"{kind}.create", actor=actor, target=obj, ip=ip, reason=reason)
            else:
                changes = changes_of(obj, values)
                if changes:
                    model.update({n: new for n, (_old, new) in changes.items()}).where(
                        model._meta.primary_key == obj.get_id()
                    ).execute()
                    AuditEvent.log(f"{kind}.update", actor=actor, target=obj, ip=ip, reason=describe(changes))
    except IntegrityError:
        return False
    return True
