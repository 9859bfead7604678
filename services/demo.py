"""Synthetic demo data for `make run` and `flask seed-demo`.

Only generated people: addresses under example.edu, no real names or IDs.
"""

from models import AuditEvent, User, db, utcnow
from services import passwords

DOMAIN = "demo.example.edu"
ADMIN_PASSWORD = "Proof-Reading-42"  # noqa: S105 (public demo login)
STUDENT_PASSWORD = "Photo-Check-2026"  # noqa: S105 (public demo login)


def _account(email, password, role):
    user = User.get_or_none(User.email == email)
    if user is None:
        user = User.create(
            email=email, password_hash=passwords.hash_password(password), role=role, activated_at=utcnow()
        )
        AuditEvent.log("demo.create", target=user)
    return user


def seed():
    """Create the demo accounts; returns [(role, email, password)]."""
    logins = []
    with db.atomic():
        _account(f"admin@{DOMAIN}", ADMIN_PASSWORD, "admin")
        logins.append(("admin", f"admin@{DOMAIN}", ADMIN_PASSWORD))
        for n in range(1, 4):
            email = f"student{n:02d}@{DOMAIN}"
            _account(email, STUDENT_PASSWORD, "student")
            logins.append(("student", email, STUDENT_PASSWORD))
    return logins
