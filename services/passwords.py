"""Password rules (OWASP ASVS): 8–64 characters, no composition rules, not a
common password, not containing the e-mail name or ID number."""

import functools
import os

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MAX_LENGTH = 64
_CN_LIST = os.path.join(os.path.dirname(__file__), "data", "common-passwords-cn.txt")

# A hash of a random password, checked when no account exists so that a
# login for an unknown address costs the same time as one for a real one.
_DUMMY: dict[str, str] = {}


@functools.cache
def common_passwords():
    """zxcvbn's frequency list of leaked passwords plus a Chinese supplement."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = {w.lower() for w in FREQUENCY_LISTS["passwords"] if len(w) >= MIN_LENGTH}
    with open(_CN_LIST, encoding="utf-8") as fh:
        words.update(line.strip().lower() for line in fh if line.strip() and not line.startswith("#"))
    return frozenset(words)


def problems(password, email="", id_number=""):
    """Lazy messages explaining why `password` is refused; empty when fine."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    elif len(password) > MAX_LENGTH:
        found.append(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    if lowered in common_passwords():
        found.append(_l("This password is one of the most common ones; choose another."))
    local = email.split("@", 1)[0].lower() if email else ""
    if len(local) >= 3 and local in lowered:
        found.append(_l("The password must not contain the part of your e-mail address before the @."))
    if id_number and len(id_number) >= 6 and id_number.lower() in lowered:
        found.append(_l("The password must not contain your ID number."))
    return found


def hash_password(password):
    """Werkzeug hash with the configured method (scrypt; fast in tests)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify(password_hash, password):
    """Check a password; with no hash, burn the same time and fail."""
    if password_hash is None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY:
            _DUMMY[method] = generate_password_hash(os.urandom(16).hex(), method=method)
        check_password_hash(_DUMMY[method], password)
        return False
    return check_password_hash(password_hash, password)
