"""Who may see what: the role decorators, the college scope, the may_see_* checks.

Every view of an area is wrapped in one decorator (`student_view`,
`staff_view`, `admin_view`): anonymous users go to the login page, users of
another role get 404 (there is nothing for them to see). Data reads are
limited with `college_scope()` / `scope_for()`: staff see their college,
admins see all.
"""

import functools
from collections.abc import Callable

from flask import abort, current_app, request
from flask_login import current_user
from peewee import Field, Model, Query

from models import Photo, PhotoHistory, Record, Request, User
from prepared import Param, Prepared
from services import audit_trail
from services.vocab import STAFF_ROLES, Role

# Asked for every photo a page shows.
_ATTACHED = Prepared(Record.select(Record.college, Record.account).where(Record.photo == Param("photo")))


def role_required(*roles: str) -> Callable[[Callable], Callable]:
    """Only logged-in users with one of `roles`; anonymous → login, others → 404."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


student_view = role_required(Role.STUDENT)
staff_view = role_required(*STAFF_ROLES)
admin_view = role_required(Role.ADMIN)


def scope_for(user: User) -> int | None:
    """None for admins (every college), the staff member's college id otherwise (0: none)."""
    return None if user.role == Role.ADMIN else (user.college_id or 0)


def college_scope(query: Query, college_field: Field) -> Query:
    """Limit a staff member's query to their own college; admins see all."""
    scope = scope_for(current_user)
    if scope is None:
        return query
    if not scope:
        # A staff account without a college sees nothing (not the NULL-college rows).
        return query.where(False)
    return query.where(college_field == scope)


def may_see_photo(photo: Photo) -> bool:
    """Owner, staff of the record's college, or admin.

    A photo no record carries (unmatched from an import, or replaced) is
    seen by admins and by staff of the college its file name or manifest
    points to, or of a record that carried it before.
    """
    if current_user.role == Role.ADMIN:
        return True
    attached = list(_ATTACHED.execute(photo=photo))
    if current_user.role == Role.STAFF:
        college = current_user.college_id
        if college is None:
            return False
        if any(r.college_id == college for r in attached) or photo.college_id == college:
            return True
        earlier = (
            PhotoHistory.select()
            .join(Record)
            .where((PhotoHistory.photo == photo) & (Record.college == college))
        )
        return earlier.exists()
    return any(r.account_id == current_user.id for r in attached)


def may_see_request(found: Request) -> bool:
    """The student who filed it, staff of its college, admins."""
    if current_user.role == Role.ADMIN:
        return True
    if current_user.role == Role.STAFF:
        return found.college_id is not None and found.college_id == current_user.college_id
    return found.user_id == current_user.id


# Reads of the most sensitive data, filterable in the audit log by action.
READ_ID_NUMBER, READ_ID_PICTURE = "read.id_number", "read.id_picture"


def audit_read(action: str, target: Model) -> None:
    """Record that staff (or an admin) saw a full ID number or an ID-card picture."""
    if current_user.is_authenticated and current_user.role in STAFF_ROLES:
        audit_trail.note(
            action, actor=current_user._get_current_object(), target=target, ip=request.remote_addr or ""
        )
