"""Registration, everything under /register: the form, the waiting page
with its resend and wrong-address buttons. Activation (/activate/<token>)
logs the student in and is in auth.py."""

import secrets
import time

from flask import Blueprint, current_app, flash, session
from flask_babel import gettext as _

from blueprints.forms import ButtonForm, NewAddressForm, RegisterForm, ask_passwords_again
from blueprints.i18n import locale_code
from blueprints.web import client_ip, external_url, limit_posts, redirect_to, render
from models import User
from services import accounts

bp = Blueprint("signup", __name__, url_prefix="/register")


def remember_signup(email: str, user: User | None = None) -> None:
    """Session state of the waiting page, shaped the same for new and taken
    addresses: the address, a nonce, and when the mail went out."""
    if user is not None:
        nonce = accounts.issue_token(user, "signup", accounts.activation_hours())
    else:
        nonce = secrets.token_urlsafe(32)
    session["signup"] = {"email": email, "nonce": nonce, "at": time.time()}


def resend_wait(state, user):
    """Seconds before the waiting page may send another mail."""
    if user is not None:
        return accounts.seconds_until_resend(user)
    return accounts.seconds_until_resend(last_sent_epoch=state["at"])


def signup_user() -> User | None:
    """The unactivated account bound to this browser's waiting page, if any."""
    state = session.get("signup") or {}
    token, _problem = accounts.check_token(state.get("nonce"), "signup")
    return token.user if token else None


# Two submits of one mail-sending form this close together are one request.
DOUBLE_TAP_SECONDS = 15


@bp.route("", methods=["GET", "POST"])
@limit_posts("RATELIMIT_REGISTER")
def register():
    """Step 1: e-mail, password twice, terms."""
    form = RegisterForm()
    if form.validate_on_submit():
        user = accounts.register(
            form.email.data, form.password.data, locale=locale_code(), link=external_url, ip=client_ip()
        )
        remember_signup(form.email.data, user)
        return redirect_to("student.signup.sent")
    ask_passwords_again(form)
    return render("auth/register.html", form=form)


@bp.get("/sent")
def sent():
    """Step 2: the waiting page (resend, wrong address, spam hint)."""
    state = session.get("signup")
    if not state:
        return redirect_to("student.signup.register")
    return render_sent(state)


def render_sent(state, status=200):
    """The waiting page, or the login page once the account is activated."""
    user = signup_user()
    if user is not None and user.is_activated:
        flash(_("Your account is already activated. Please log in."), "info")
        return redirect_to("student.auth.login")
    return render(
        "auth/sent.html",
        status=status,
        email=state["email"],
        wait=resend_wait(state, user),
        resend_form=ButtonForm(),
        address_form=NewAddressForm(),
    )


@bp.post("/resend")
@limit_posts("RATELIMIT_MAIL")
def resend():
    """Resend the activation mail, at most once every 5 minutes."""
    state = session.get("signup")
    form = ButtonForm()
    if not state:
        return redirect_to("student.signup.register")
    if not form.validate_on_submit():
        return render_sent(state, status=400)
    user = signup_user()
    if resend_wait(state, user) > current_app.config["RESEND_MINUTES"] * 60 - DOUBLE_TAP_SECONDS:
        # A second tap of the same button (or a resent form): the first one
        # has just sent the mail; answer as it did, not with an error.
        return redirect_to("student.signup.sent")
    if user is not None:
        wait = accounts.resend_activation(user, external_url, ip=client_ip())
    else:
        wait = resend_wait(state, None)
        if not wait:
            accounts.resend_existing_notice(state["email"], external_url)
    if wait:
        flash(
            _(
                "Please wait %(min)d min %(sec)d s before asking for another mail.",
                min=wait // 60,
                sec=wait % 60,
            ),
            "error",
        )
    else:
        state["at"] = time.time()
        session["signup"] = state
        flash(_("We have sent the mail again."), "success")
    return redirect_to("student.signup.sent")


@bp.post("/address")
@limit_posts("RATELIMIT_MAIL")
def change_address():
    """'Wrong address? Register again': replace the unactivated address."""
    state = session.get("signup")
    if not state:
        return redirect_to("student.signup.register")
    form = NewAddressForm()
    if not form.validate_on_submit():
        return render(
            "auth/sent.html",
            status=400,
            email=state["email"],
            wait=0,
            resend_form=ButtonForm(),
            address_form=form,
        )
    user = signup_user()
    moved = None
    if user is not None:
        moved = accounts.change_pending_address(user, form.new_email.data, external_url, ip=client_ip())
    else:
        accounts.resend_existing_notice(form.new_email.data, external_url)
    remember_signup(form.new_email.data, moved)
    flash(_("We have sent a new activation mail. The old link no longer works."), "success")
    return redirect_to("student.signup.sent")
