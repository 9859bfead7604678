"""Account settings: change password, the list of sessions, log out everywhere."""

from flask import Blueprint, abort, flash, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user

from blueprints.forms import ButtonForm, ChangePasswordForm
from blueprints.web import client_ip, redirect_to, render
from services import accounts, passwords, sessions

bp = Blueprint("account", __name__, url_prefix="/account")

WRONG_CURRENT = _l("The current password is wrong.")


def page(status=200, password_form=None, everywhere_form=None):
    return render(
        "account/index.html",
        status=status,
        password_form=password_form or ChangePasswordForm(email=current_user.email),
        everywhere_form=everywhere_form or ButtonForm(),
        revoke_form=ButtonForm(),
        sessions=sessions.active(current_user),
        this_session=sessions.key_of(current_user.get_id()),
        device=sessions.device,
    )


@bp.get("/")
@login_required
def index():
    """The settings page."""
    return page()


@bp.post("/password")
@login_required
def change_password():
    """Change the password (asks the current one); other sessions end, this one stays."""
    form = ChangePasswordForm(email=current_user.email)
    if form.validate_on_submit():
        if passwords.verify(current_user.password_hash, form.current.data):
            accounts.change_password(
                current_user, form.password.data, ip=client_ip(), keep_session=current_user.get_id()
            )
            flash(_("Your password has been changed. Other devices have been logged out."), "success")
            return redirect_to("student.account.index")
        form.current.errors.append(WRONG_CURRENT)
    return page(status=400, password_form=form)


@bp.post("/sessions/<key>/end")
@login_required
def end_session(key):
    """End one session of this account (another device, or this one)."""
    form = ButtonForm()
    if not form.validate_on_submit():
        return page(status=400)
    this = key == sessions.key_of(current_user.get_id())
    if not sessions.revoke(current_user._get_current_object(), key, ip=client_ip()):
        abort(404)
    if this:
        logout_user()
        session.clear()
        flash(_("You have logged out."), "info")
        return redirect_to("student.auth.login")
    flash(_("The session has been ended. That device has to log in again."), "success")
    return redirect_to("student.account.index")


@bp.post("/logout-everywhere")
@login_required
def logout_everywhere():
    """End every session of this account, this one included."""
    form = ButtonForm()
    if form.validate_on_submit():
        accounts.end_all_sessions(current_user, ip=client_ip())
        logout_user()
        session.clear()
        flash(_("You have been logged out on every device."), "info")
        return redirect_to("student.auth.login")
    return page(status=400, everywhere_form=form)
