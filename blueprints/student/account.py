"""Account settings: change password, log out everywhere."""

from flask import Blueprint, flash, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from blueprints.forms import ButtonForm, ChangePasswordForm
from blueprints.web import client_ip, redirect_to, render
from services import accounts, passwords

bp = Blueprint("account", __name__, url_prefix="/account")

WRONG_CURRENT = _l("The current password is wrong.")


@bp.get("/")
@login_required
def index():
    """The settings page."""
    return render(
        "account/index.html",
        password_form=ChangePasswordForm(email=current_user.email),
        everywhere_form=ButtonForm(),
    )


@bp.post("/password")
@login_required
def change_password():
    """Change the password (asks the current one); other sessions end, this one stays."""
    form = ChangePasswordForm(email=current_user.email)
    if form.validate_on_submit():
        if passwords.verify(current_user.password_hash, form.current.data):
            accounts.change_password(current_user, form.password.data, ip=client_ip())
            login_user(current_user._get_current_object())  # re-issue this session with the new version
            flash(_("Your password has been changed. Other devices have been logged out."), "success")
            return redirect_to("student.account.index")
        form.current.errors.append(WRONG_CURRENT)
    return render("account/index.html", status=400, password_form=form, everywhere_form=ButtonForm())


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
    return render(
        "account/index.html",
        status=400,
        password_form=ChangePasswordForm(email=current_user.email),
        everywhere_form=form,
    )
