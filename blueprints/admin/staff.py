"""Staff accounts (admin): invite, disable/enable, change college; the
invited person's set-password page (/admin/invite/<token>, anonymous)."""

import datetime
import functools

from flask import Blueprint, abort, current_app, flash, redirect, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import JOIN, fn
from wtforms import SelectField, StringField
from wtforms.validators import Length, ValidationError

from blueprints.access import admin_view
from blueprints.admin.common import TOO_LONG, actor, stripped
from blueprints.forms import ButtonForm, ResetForm, choices, email_field
from blueprints.params import to_id
from blueprints.student.auth import end_session
from blueprints.web import Form, client_ip, external_url, redirect_to, render, safe_next, swap_or_redirect
from extensions import limiter
from models import AuditEvent, College, User
from services import staff_accounts
from services.staff_accounts import AccountError
from services.vocab import STAFF_ROLES, Role

bp = Blueprint("staff", __name__)

ROW = "manage/_staff_row.html"
INVITE_PROBLEMS = {
    "invalid": _l("This invitation link is not valid. Please use the newest invitation mail."),
    "expired": _l("This invitation has expired. Please ask the administrator for a new one."),
    "used": _l("This invitation has already been used. Please log in, or reset your password."),
    "disabled": _l("This account has been disabled. Please contact the administrator."),
}


class CollegeChoiceMixin:
    """A select of the colleges, checked against the database with our own message."""

    college = SelectField(_l("College"), validate_choice=False)

    def fill_colleges(self):
        rows = College.select(College.id, College.name).order_by(College.code)
        self.college.choices = choices([("", _("Choose a college"))] + [(str(c.id), c.name) for c in rows])
        return self

    def validate_college(self, field):
        number = to_id(field.data or "")
        self.chosen = College.get_or_none(College.id == number) if number else None
        if self.chosen is None:
            raise ValidationError(_l("Please choose a college."))


class InviteForm(CollegeChoiceMixin, Form):
    email = email_field(
        _l("E-mail"), _l("The invitation with a link to choose a password goes to this address."), "off"
    )


class ChangeCollegeForm(CollegeChoiceMixin, Form):
    pass


class DisableForm(Form):
    reason = StringField(
        _l("Reason"), validators=[Length(max=200, message=TOO_LONG)], filters=[stripped], default=""
    )


def last_login_of(value):
    """MAX() of a datetime: SQLite may hand back text."""
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


def staff_rows():
    """Staff with their college and last login (one query with GROUP BY)."""
    return (
        User.select(User, College, fn.MAX(AuditEvent.at).alias("last_login"))
        .join_from(User, College, JOIN.LEFT_OUTER, on=(User.college == College.id))
        .join_from(
            User,
            AuditEvent,
            JOIN.LEFT_OUTER,
            on=((AuditEvent.actor == User.id) & (AuditEvent.action == "login")),
        )
        .where(User.role == Role.STAFF)
        .group_by(User, College)
    )


def college_list():
    return list(College.select(College.id, College.name).order_by(College.code))


def page_context(form=None, message=None):
    rows = list(staff_rows().order_by(College.code.asc(nulls="last"), User.email))
    for u in rows:
        u.last_login = last_login_of(u.last_login)
    return dict(
        staff=rows,
        colleges=college_list(),
        form=form or InviteForm(formdata=None).fill_colleges(),
        message=message,
    )


def staff_page(status=200, **page):
    return render("manage/staff.html", status=status, **page_context(**page))


def target(user_id, roles=STAFF_ROLES):
    """A staff (or admin) account by id, else 404."""
    user = User.get_or_none((User.id == user_id) & User.role.in_(roles))
    if user is None:
        abort(404)
    return user


def row_result(user_id, problem=None, done=None):
    """After a row action: htmx gets the row back, a plain post the list (303,
    with `done` flashed) or the page with the problem (400). An admin account
    has no row: it always gets the page."""
    row = staff_rows().where(User.id == user_id).first()
    if row is None:
        if problem:
            return staff_page(400, message=problem)
        if done:
            flash(done, "success")
        return redirect(safe_next(request.form.get("next"), "admin.staff.index"), code=303)
    row.last_login = last_login_of(row.last_login)
    ctx = dict(u=row, colleges=college_list(), row_message=problem)
    if problem:
        page = functools.partial(page_context, message=problem)
        return render("manage/staff.html", partial=ROW, page_ctx=page, status=400, **ctx)
    next_url = safe_next(request.form.get("next"), "admin.staff.index")
    return swap_or_redirect(next_url, ROW, flash_message=done, **ctx)


@bp.get("/staff")
@admin_view
def index():
    """Staff accounts: college, activated, disabled, last login; invite and manage."""
    return staff_page()


@bp.post("/staff/invite")
@admin_view
def invite():
    """Create a staff account and mail its set-password link."""
    form = InviteForm().fill_colleges()
    if form.validate_on_submit():
        try:
            staff_accounts.invite(form.email.data, form.chosen, actor(), external_url, ip=client_ip())
        except AccountError as exc:
            form.email.errors.append(exc.message)
        else:
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            return redirect_to("admin.staff.index")
    return staff_page(400, form=form)


@bp.post("/staff/<int:user_id>/reinvite")
@admin_view
def reinvite(user_id):
    """Send a new invitation to someone who has not chosen a password yet."""
    user = target(user_id, roles=(Role.STAFF,))
    if not ButtonForm().validate_on_submit():
        return row_result(user.id, _("The form has expired. Please try again."))
    try:
        staff_accounts.reinvite(user, actor(), external_url, ip=client_ip())
    except AccountError as exc:
        return row_result(user.id, exc.message)
    return row_result(user.id, done=_("A new invitation was sent to %(email)s.", email=user.email))


@bp.post("/staff/<int:user_id>/disable")
@admin_view
def disable(user_id):
    """Disable an account: it cannot log in and its sessions end at once."""
    user = target(user_id)
    form = DisableForm()
    if not form.validate_on_submit():
        return row_result(
            user.id, " ".join(str(e) for e in form.reason.errors + form.form_errors) or _("Please try again.")
        )
    try:
        staff_accounts.set_disabled(user, True, actor(), reason=form.reason.data, ip=client_ip())
    except AccountError as exc:
        return row_result(user.id, exc.message)
    return row_result(user.id, done=_("%(email)s is disabled.", email=user.email))


@bp.post("/staff/<int:user_id>/enable")
@admin_view
def enable(user_id):
    """Let a disabled account log in again."""
    user = target(user_id)
    if not ButtonForm().validate_on_submit():
        return row_result(user.id, _("The form has expired. Please try again."))
    try:
        staff_accounts.set_disabled(user, False, actor(), ip=client_ip())
    except AccountError as exc:
        return row_result(user.id, exc.message)
    return row_result(user.id, done=_("%(email)s can log in again.", email=user.email))


@bp.post("/staff/<int:user_id>/college")
@admin_view
def change_college(user_id):
    """Move a staff member to another college."""
    user = target(user_id, roles=(Role.STAFF,))
    form = ChangeCollegeForm().fill_colleges()
    if not form.validate_on_submit():
        return row_result(user.id, " ".join(str(e) for e in form.college.errors + form.form_errors))
    try:
        staff_accounts.change_college(user, form.chosen, actor(), ip=client_ip())
    except AccountError as exc:
        return row_result(user.id, exc.message)
    return row_result(
        user.id, done=_("%(email)s now belongs to %(college)s.", email=user.email, college=form.chosen.name)
    )


# -- the invited person (anonymous) ----------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def accept_invite(token):
    """Choose a password from a 7-day, single-use invitation link (not admin-only)."""
    found, problem = staff_accounts.check_invite(token)
    form = ResetForm(email=found.user.email if found else "")
    if not problem and form.validate_on_submit():
        user, problem = staff_accounts.accept_invite(token, form.password.data, ip=client_ip())
        if user is not None:
            end_session()
            flash(
                _("Your password is set. Please log in with your e-mail address and the new password."),
                "success",
            )
            return redirect_to("student.auth.login")
    status = 400 if request.method == "POST" else 200
    return render(
        "manage/accept_invite.html",
        status=status,
        form=form,
        email=found.user.email if found else "",
        problem=INVITE_PROBLEMS.get(problem),
    )
