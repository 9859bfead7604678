"""Register, activate, log in/out, recover a password (the first steps of a student)."""

import secrets
import time

from flask import Blueprint, current_app, flash, redirect, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from blueprints.forms import (
    ButtonForm,
    EmailForm,
    ForgotUsernameForm,
    LoginForm,
    NewAddressForm,
    RegisterForm,
    ResetForm,
)
from blueprints.i18n import locale_code
from blueprints.web import client_ip, external_url, redirect_to, render, render_public, safe_next
from extensions import limiter
from services import accounts, sessions
from services.accounts import ACTIVATE

bp = Blueprint("auth", __name__)

# Where staff and admins land; students go to their record (or the step before it).
HOME_BY_ROLE = {"staff": "staff.dashboard.index", "admin": "staff.dashboard.index"}

TOKEN_PROBLEMS = {
    "invalid": _l("This link is not valid. Please use the newest mail, or ask for a new link."),
    "expired": _l("This link has expired. Please ask for a new one."),
    "used": _l("This link has already been used."),
}
LOGIN_PROBLEMS = {
    "invalid": _l("E-mail or password is wrong."),
    "disabled": _l("This account has been disabled. Please contact your college office."),
}


def login_problem(problem):
    """The message for a refused login, in the user's language."""
    if problem == "locked":
        return _(
            "Too many failed attempts. Logging in with this e-mail is blocked for "
            "%(minutes)d minutes. You can reset your password meanwhile.",
            minutes=current_app.config["LOCKOUT_MINUTES"],
        )
    return LOGIN_PROBLEMS[problem]


def limit(key):
    """A per-IP limit read from config at request time (POST only)."""
    return limiter.limit(
        lambda: current_app.config[key], methods=["POST"], exempt_when=lambda: "_field" in request.form
    )


def remember_signup(email, user=None):
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


# Two submits of one mail-sending form this close together are one request.
DOUBLE_TAP_SECONDS = 15

PASSWORD_AGAIN = _l("Please type it again: passwords are never sent back to the page.")


def ask_passwords_again(form, names=("password", "confirm")):
    """A form shown again after a full POST comes back with empty password
    fields (unless the browser refills them): name each one to fill again."""
    if request.method != "POST" or not form.errors:
        return
    for name in names:
        field = form[name]
        if field.data and not field.errors:
            field.errors = [*field.errors, PASSWORD_AGAIN]


def signup_user():
    """The unactivated account bound to this browser's waiting page, if any."""
    state = session.get("signup") or {}
    token, _problem = accounts.check_token(state.get("nonce"), "signup")
    return token.user if token else None


@bp.get("/")
def home():
    """Logged-in users go to their next step, everyone else to the login page."""
    if not current_user.is_authenticated:
        return redirect_to("student.auth.login")
    if current_user.role == "student":
        return redirect_to("student.record.index")
    return redirect_to(HOME_BY_ROLE.get(current_user.role, "student.account.index"))


@bp.route("/register", methods=["GET", "POST"])
@limit("RATELIMIT_REGISTER")
def register():
    """Step 1: e-mail, password twice, terms."""
    form = RegisterForm()
    if form.validate_on_submit():
        user = accounts.register(
            form.email.data, form.password.data, locale=current_locale(), link=external_url, ip=client_ip()
        )
        remember_signup(form.email.data, user)
        return redirect_to("student.auth.sent")
    ask_passwords_again(form)
    return render("auth/register.html", form=form)


@bp.get("/register/sent")
def sent():
    """Step 2: the waiting page (resend, wrong address, spam hint)."""
    state = session.get("signup")
    if not state:
        return redirect_to("student.auth.register")
    return render_sent(state)


def render_sent(state, status=200):
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


@bp.post("/register/resend")
@limit("RATELIMIT_MAIL")
def resend():
    """Resend the activation mail, at most once every 5 minutes."""
    state = session.get("signup")
    form = ButtonForm()
    if not state:
        return redirect_to("student.auth.register")
    if not form.validate_on_submit():
        return render_sent(state, status=400)
    user = signup_user()
    if resend_wait(state, user) > current_app.config["RESEND_MINUTES"] * 60 - DOUBLE_TAP_SECONDS:
        # A second tap of the same button (or a resent form): the first one
        # has just sent the mail; answer as it did, not with an error.
        return redirect_to("student.auth.sent")
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
    return redirect_to("student.auth.sent")


@bp.post("/register/address")
@limit("RATELIMIT_MAIL")
def change_address():
    """'Wrong address? Register again': replace the unactivated address."""
    state = session.get("signup")
    if not state:
        return redirect_to("student.auth.register")
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
    return redirect_to("student.auth.sent")


@bp.route("/activate/<token>", methods=["GET", "POST"])
@limit("RATELIMIT_LOGIN")
def activate(token):
    """Opening the link shows a button; only the POST activates (mail scanners GET)."""
    form = ButtonForm()
    _token, problem = accounts.check_token(token, ACTIVATE)
    if form.validate_on_submit() and not problem:
        user, problem = accounts.activate(token, ip=client_ip())
        if user is not None:
            start_session(user)
            flash(_("Your account is activated."), "success")
            return redirect_to("student.auth.home")
    status = 400 if problem and request.method == "POST" else 200
    return render("auth/activate.html", status=status, form=form, problem=TOKEN_PROBLEMS.get(problem))


def start_session(user, remember=False):
    """Log in on a fresh session (no fixation) with its own UserSession row."""
    session.clear()
    sessions.start(user, remember=remember, user_agent=request.user_agent.string, ip=client_ip())
    login_user(user, remember=remember)


def end_session():
    """Log out: delete this session's row, then the cookies."""
    if current_user.is_authenticated:
        sessions.end(current_user.get_id())
    logout_user()
    session.clear()


@bp.route("/login", methods=["GET", "POST"])
@limit("RATELIMIT_LOGIN")
def login():
    """Step 4: e-mail and password, with per-address lockout."""
    if request.method == "GET":
        return render_public("auth/login.html", lambda: {"form": LoginForm(), "error": None})
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user, problem = accounts.authenticate(form.email.data, form.password.data, ip=client_ip())
        if problem == "inactive":
            remember_signup(user.email, user)
            flash(
                _(
                    "Your account is not activated yet. Please use the link in the "
                    "activation mail, or send it again below."
                ),
                "info",
            )
            return redirect_to("student.auth.sent")
        if problem is None:
            next_url = safe_next(request.args.get("next"))
            start_session(user, remember=form.remember.data)
            return redirect(next_url, code=303)
        error = login_problem(problem)
    status = 400 if error else 200
    return render("auth/login.html", status=status, form=form, error=error)


@bp.post("/logout")
def logout():
    """End this session only."""
    form = ButtonForm()
    if form.validate_on_submit():
        end_session()
        flash(_("You have logged out."), "info")
    return redirect_to("student.auth.login")


@bp.route("/forgot-password", methods=["GET", "POST"])
@limit("RATELIMIT_MAIL")
def forgot_password():
    """Always the same answer, whether or not the address has an account."""
    form = EmailForm()
    if form.validate_on_submit():
        accounts.request_reset(form.email.data, external_url, ip=client_ip())
        return render("auth/forgot_sent.html", email=form.email.data)
    return render("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit("RATELIMIT_LOGIN")
def reset_password(token):
    """Choose a new password from a 30-minute, single-use link."""
    found, problem = accounts.check_token(token, accounts.RESET)
    form = ResetForm(email=found.user.email if found else "")
    if not problem and form.validate_on_submit():
        user, problem = accounts.reset_password(token, form.password.data, ip=client_ip())
        if user is not None:
            end_session()
            flash(
                _(
                    "Your password has been changed and every session has been logged out. "
                    "Please log in with the new password."
                ),
                "success",
            )
            return redirect_to("student.auth.login")
    status = 400 if problem and request.method == "POST" else 200
    if not problem:
        ask_passwords_again(form)
    return render("auth/reset.html", status=status, form=form, problem=TOKEN_PROBLEMS.get(problem))


@bp.route("/forgot-username", methods=["GET", "POST"])
@limit("RATELIMIT_MAIL")
def forgot_username():
    """Recover the username by real name + ID number (answer only by mail)."""
    form = ForgotUsernameForm()
    if form.validate_on_submit():
        accounts.recover_username(
            form.real_name.data, form.id_type.data, form.id_number.data, external_url, ip=client_ip()
        )
        return render("auth/forgot_username_sent.html")
    return render("auth/forgot_username.html", form=form)


@bp.get("/terms")
def terms():
    """The terms of service the registration form links to."""
    return render("auth/terms.html")


def current_locale():
    """The language code stored with an account for its mails ('zh_CN', 'en')."""
    return locale_code()
