"""Single-use tokens mailed as links: activation, password reset, invitations.

Only a token's SHA-256 is stored; the secret goes into the mail. A token is
used once (`consume`), expires, and can be voided for its purpose.
"""

import datetime
import hashlib
import secrets

from models import Token, User, utcnow


def digest(raw: str) -> str:
    """The SHA-256 hex digest of a secret (what the database keeps)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, purpose: str, lifetime: datetime.timedelta) -> str:
    """Store a new single-use token's hash; return the secret for the mail."""
    raw = secrets.token_urlsafe(32)
    Token.create(user=user, purpose=purpose, token_hash=digest(raw), expires_at=utcnow() + lifetime)
    return raw


def check_token(raw: str | None, purpose: str) -> tuple[Token | None, str | None]:
    """(token, None) when usable, else (None, 'invalid' | 'expired' | 'used')."""
    token = Token.get_or_none(Token.token_hash == digest(raw or ""))
    if token is None or token.purpose != purpose:
        return None, "invalid"
    if token.used_at is not None:
        return None, "used"
    if token.expires_at <= utcnow():
        return None, "expired"
    return token, None


def consume(token: Token) -> bool:
    """Use a token once; False when another request used it first."""
    return (
        Token.update(used_at=utcnow()).where((Token.id == token.id) & Token.used_at.is_null()).execute() == 1
    )


def void_tokens(user: User, purpose: str) -> None:
    """Invalidate every open token of `purpose` (e.g. after a new address)."""
    Token.update(used_at=utcnow()).where(
        (Token.user == user) & (Token.purpose == purpose) & Token.used_at.is_null()
    ).execute()
