"""Extension wiring (init_app), security headers, the cleaned request, and
the "core" blueprint: /lang/<code>, /healthz and /readyz.

The language itself is chosen in i18n.py; template filters are in templating.py.
"""

import datetime

import peewee
from flask import Blueprint, Flask, Request, current_app, g, redirect, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property

import models
import tasks
from blueprints import params, templating
from blueprints.i18n import LANG_COOKIE, Catalogs, locale_code, select_locale
from blueprints.web import safe_next
from extensions import babel, compress, csrf, limiter, login_manager, mail, talisman
from services import sessions
from services.text import has_invisible, strip_invisible

bp = Blueprint("core", __name__)

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


@bp.get("/lang/<code>")
def set_language(code):
    """Remember the chosen language and go back to where the user was."""
    response = redirect(safe_next(request.args.get("next")), code=303)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """200 when the database answers, 503 otherwise."""
    try:
        models.db.execute_sql("SELECT 1").fetchone()
    except Exception:
        current_app.logger.exception("health check failed")
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Ready for traffic: 200, or 503 naming each problem. Checks that the
    database answers, that a task consumer wrote its heartbeat in the last
    READY_CONSUMER_SECONDS (default 120) and that no mail due for sending is
    more than READY_MAIL_LATE_SECONDS (default 600) late."""
    body = {"status": "ok"}
    try:
        models.db.execute_sql("SELECT 1").fetchone()
        body["database"] = "ok"
    except Exception:
        current_app.logger.exception("readiness: database unreachable")
        return {"status": "error", "database": "unreachable"}, 503
    now = models.utcnow()
    try:
        seen = tasks.consumer_last_seen()
    except Exception:
        current_app.logger.exception("readiness: task queue unreachable")
        seen, body["consumer"] = None, "task queue unreachable"
    else:
        max_age = current_app.config.get("READY_CONSUMER_SECONDS", 120)
        age = (
            None
            if seen is None
            else (now - seen.astimezone(datetime.UTC).replace(tzinfo=None)).total_seconds()
        )
        if age is None:
            body["consumer"] = "task consumer never seen"
        elif age > max_age:
            body["consumer"] = f"task consumer not seen for {int(age)} s"
        else:
            body["consumer"] = "ok"
    late = current_app.config.get("READY_MAIL_LATE_SECONDS", 600)
    oldest = (
        models.OutboxMail.select(models.OutboxMail.next_attempt_at)
        .where(models.OutboxMail.status == "pending")
        .order_by(models.OutboxMail.next_attempt_at)
        .first()
    )
    behind = (now - oldest.next_attempt_at).total_seconds() if oldest else 0
    body["mail"] = f"oldest due mail {int(behind // 60)} min late" if behind > late else "ok"
    ready = all(body[k] == "ok" for k in ("database", "consumer", "mail"))
    if not ready:
        body["status"] = "error"
    return body, 200 if ready else 503


def database_down(exc):
    """A database that refuses connections fails the per-request connect
    (models.init_app) before any view runs: /healthz and /readyz must still say 503."""
    if request.endpoint not in ("core.healthz", "core.readyz"):
        raise exc
    current_app.logger.error("health check failed: %s", exc)
    return {"status": "error", "database": "unreachable"}, 503


class CleanRequest(Request):
    """Form values and query arguments without bidi controls, other invisible
    format characters or NULs (services.text): views and forms never see them."""

    @cached_property
    def args(self):
        return _cleaned(super().args)

    def _load_form_data(self):
        super()._load_form_data()
        self.__dict__["form"] = _cleaned(self.__dict__["form"])


def _cleaned(values):
    if not any(has_invisible(k) or has_invisible(v) for k, v in values.items(multi=True)):
        return values
    return ImmutableMultiDict([(strip_invisible(k), strip_invisible(v)) for k, v in values.items(multi=True)])


def load_user(user_id):
    """Flask-Login loader: the cookie's session id must name a live UserSession row."""
    return sessions.load(user_id)


def init_app(app: Flask) -> None:
    """Bind every extension to `app` with GradProof's settings."""
    params.init_app(app)
    app.request_class = CleanRequest
    if app.config["PROXY_FIX"]:
        n = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config[key] is None:
            app.config[key] = not (app.debug or app.testing)
    babel.init_app(app, locale_selector=select_locale)
    babel.domain_instance = Catalogs()  # replaces Flask-Babel's cached default
    csrf.init_app(app)
    limiter.init_app(app)
    mail.init_app(app)
    compress.init_app(app)
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=True,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        # Talisman writes its own default (Lax) into the config otherwise.
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        permissions_policy={"camera": "()", "geolocation": "()", "microphone": "()"},
        x_xss_protection=False,
    )
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "student.auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.register_error_handler(peewee.OperationalError, database_down)
    app.register_error_handler(peewee.InterfaceError, database_down)

    templating.init_app(app)

    @app.context_processor
    def _globals():
        return {"current_user": current_user, "locale": locale_code()}

    @app.after_request
    def _deliver_mail(response):
        if g.get("outbox_dirty") and app.config["MAIL_SEND_AFTER_REQUEST"]:
            # The consumer sends it; the web process never talks to SMTP.
            response.call_on_close(tasks.enqueue_delivery_after(app))
        return response

    @app.after_request
    def _cache_headers(response):
        if "Cache-Control" not in response.headers:
            # Pages show names and ID numbers and carry CSRF tokens: kept in
            # no cache at all, not even the browser's (a shared computer).
            response.headers["Cache-Control"] = "private, no-store"
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
            response.vary.add("Cookie")
        return response
