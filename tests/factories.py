"""Synthetic people and accounts for tests (never real data)."""

from werkzeug.security import generate_password_hash

import models

FAST_HASH = "pbkdf2:sha256:1000"

PASSWORD = "violet kettle harbour"


def make_user(email="student@example.edu", password=PASSWORD, role="student", activated=True, **fields):
    """An account in the test database."""
    return models.User.create(
        email=email.lower(),
        password_hash=generate_password_hash(password, method=FAST_HASH),
        role=role,
        activated_at=models.utcnow() if activated else None,
        **fields,
    )


def login(client, email="student@example.edu", password=PASSWORD, **extra):
    """Log a test client in through the real login form."""
    data = {"email": email, "password": password}
    data.update(extra)
    return client.form_post("/login", data)
