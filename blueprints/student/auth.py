"""Log in and out and get back in: the start page (/), /login, /logout,
/activate/<token>, /forgot-password, /reset/<token>, /forgot-username and
/terms. Registration (/register/...) is in signup.py."""

from flask import Blueprint, current_app, flash, redirect, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from blueprints.forms import (
    ButtonForm,
    EmailForm,
    ForgotUsernameForm,
    LoginForm,
    ResetForm,
    ask_passwords_again,
)
from blueprints.student.signup import remember_signup
from blueprints.web import client_ip, external_url, limit_posts, redirect_to, render, render_public, safe_next
from models import User
from services import accounts, sessions
from services.accounts import ACTIVATE
from services.vocab import STAFF_ROLES, Role

bp = Blueprint("auth", __name__)

# Where staff and admins land; students go to their record (or the step before it).
HOME_BY_ROLE = dict.fromkeys(STAFF_ROLES, "staff.dashboard.index")

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


@bp.get("/")
def home():
    """Logged-in users go to their next step, everyone else to the login page."""
    if not current_user.is_authenticated:
        return redirect_to("student.auth.login")
    if current_user.role == Role.STUDENT:
        return redirect_to("student.record.index")
    return redirect_to(HOME_BY_ROLE.get(current_user.role, "student.account.index"))


@bp.route("/activate/<token>", methods=["GET", "POST"])
@limit_posts("RATELIMIT_LOGIN")
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


def start_session(user: User, remember: bool = False) -> None:
    """Log in on a fresh session (no fixation) with its own UserSession row."""
    session.clear()
    sessions.start(user, remember=remember, user_agent=request.user_agent.string, ip=client_ip())
    login_user(user, remember=remember)


def end_session() -> None:
    """Log out: delete this session's row, then the cookies."""
    if current_user.is_authenticated:
        sessions.end(current_user.get_id())
    logout_user()
    session.clear()


@bp.route("/login", methods=["GET", "POST"])
@limit_posts("RATELIMIT_LOGIN")
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
            return redirect_to("student.signup.sent")
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
@limit_posts("RATELIMIT_MAIL")
def forgot_password():
    """Always the same answer, whether or not the address has an account."""
    form = EmailForm()
    if form.validate_on_submit():
        accounts.request_reset(form.email.data, external_url, ip=client_ip())
        return render("auth/forgot_sent.html", email=form.email.data)
    return render("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limit_posts("RATELIMIT_LOGIN")
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
@limit_posts("RATELIMIT_MAIL")
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
