"""Extension wiring, language choice, security headers, /healthz and /readyz."""

import datetime
import functools

import flask_babel
import peewee
from babel import Locale, support
from flask import Blueprint, Request, current_app, g, has_request_context, redirect, request, url_for
from flask_babel import Domain, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property

import models
import tasks
from blueprints.web import safe_next
from extensions import babel, compress, csrf, limiter, login_manager, mail, talisman
from services.text import has_invisible, strip_invisible

bp = Blueprint("core", __name__)

LANG_COOKIE = "lang"

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


def select_locale():
    """Footer choice (cookie) first, then the browser, then Chinese."""
    if not has_request_context():  # CLI commands, background jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("zh"):
        return "zh_CN"
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def locale_code(locale=None):
    """Our code ('zh_CN', 'en') for a Babel locale (default: this request's).

    Babel resolves 'zh_CN' to 'zh_Hans_CN'; our catalogs, cookies, templates
    and User.locale use the short code from LANGUAGES.
    """
    if locale is None:
        state = _babel_state()
        # Flask-Babel keeps the request's (or the forced) locale there.
        locale = getattr(state, "babel_locale", None) or get_locale()
        if state is not None:
            # Per request (and per forced locale): str(Locale) is slow.
            cached = getattr(state, "gp_code", None)
            if cached is not None and cached[0] is locale:
                return cached[1]
            code = _code_of(str(locale), tuple(current_app.config["LANGUAGES"]))
            state.gp_code = (locale, code)
            return code
    return _code_of(str(locale), tuple(current_app.config["LANGUAGES"]))


@functools.cache
def _code_of(locale_name, languages):
    # Locale.parse is slow and this runs for every translated string.
    for code in languages:
        if str(Locale.parse(code)) == locale_name:
            return code
    return locale_name


def _babel_state():
    """Flask-Babel's per-request namespace (None outside an app context).

    Flask-Babel keeps the request's locale there, and `force_locale()` and
    `refresh()` reset and restore its `babel_translations` slot, which
    Catalogs uses as the request's resolved catalog.
    """
    return flask_babel._get_current_context()


class Catalogs(Domain):
    """Flask-Babel's domain, finding translations/zh_CN for Babel's zh_Hans_CN
    (its own lookup searches only zh_Hans_CN and zh, so Chinese never loaded).

    The catalog is resolved once per request, not once per string: every
    `_()` after the first is one attribute read. Inside `force_locale()`
    (mails in the recipient's language) Flask-Babel clears the slot, so the
    forced language's catalog is resolved and then dropped on exit.
    """

    def get_translations(self):
        state = _babel_state()
        if state is None:
            return support.NullTranslations()
        translations = getattr(state, "babel_translations", None)
        if translations is None:
            translations = state.babel_translations = self._catalog(locale_code())
        return translations

    def _catalog(self, code):
        key = (code, self.domain[0])
        translations = self.cache.get(key)
        if translations is None:
            translations = support.Translations()
            for dirname in self.translation_directories:
                catalog = support.Translations.load(dirname, [code], self.domain[0])
                translations.merge(catalog)
                if hasattr(catalog, "plural"):
                    translations.plural = catalog.plural
            self.cache[key] = translations
        return translations


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


# Babel patterns whose output has only ASCII digits and separators in every
# language: strftime gives the same text ten times faster (table rows).
NUMERIC_PATTERNS = {"yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "yyyy-MM-dd": "%Y-%m-%d"}


def datetimeformat(value=None, format=None, rebase=True):
    """The `datetimeformat` filter (flask_babel.format_datetime), with a fast
    path for the numeric patterns above."""
    pattern = NUMERIC_PATTERNS.get(format)
    if pattern is None or not isinstance(value, datetime.datetime) or value.year < 1000:
        return flask_babel.format_datetime(value, format, rebase)
    if rebase:
        value = flask_babel.to_user_timezone(value)
    return value.strftime(pattern)


URL_SENTINEL = 987654321987654321


def url_for_id(endpoint, name, value, **values):
    """`url_for(endpoint, name=value, **values)` for one integer argument that
    changes from row to row: the URL is built once per request with a
    stand-in number and the row's number is put in its place (the same text,
    without a routing build per row of a table)."""
    patterns = g.setdefault("_url_patterns", {})
    key = (endpoint, name, tuple(sorted(values.items())))
    pattern = patterns.get(key)
    if pattern is None:
        pattern = patterns[key] = url_for(endpoint, **{name: URL_SENTINEL}, **values).split(
            str(URL_SENTINEL), 1
        )
    return f"{pattern[0]}{int(value)}{pattern[1]}"


URLS_MAX = 4096


def template_url_for(endpoint, **values):
    """`url_for` for templates, remembered per application.

    A page's links are mostly the same strings on every request (navigation,
    static files with their content hash, the record's photos): a routing
    build costs ~10 µs, a look-up nothing. The key holds everything a
    relative URL depends on here (the script root, the endpoint and its
    values); external URLs, blueprint-relative endpoints and values that
    cannot be a key are built every time, and the store stops growing at
    URLS_MAX entries (`next=` values come from visitors).
    """
    if endpoint[0] == "." or any(name[0] == "_" for name in values):
        return url_for(endpoint, **values)
    try:
        key = (request.script_root, endpoint, *sorted(values.items()))
        urls = current_app.extensions["gradproof_urls"]
        url = urls.get(key)
    except TypeError:  # a value that cannot be a key
        return url_for(endpoint, **values)
    if url is None:
        url = url_for(endpoint, **values)
        if len(urls) < URLS_MAX:
            urls[key] = url
    return url


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
    return ImmutableMultiDict(
        [(strip_invisible(k), strip_invisible(v)) for k, v in values.items(multi=True)]
    )


def load_user(user_id):
    """Flask-Login loader: the cookie's session id must name a live UserSession row."""
    from services import sessions

    return sessions.load(user_id)


def init_app(app):
    """Bind every extension to `app` with GradProof's settings."""
    from blueprints import params

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

    from services.idcard import mask

    app.jinja_env.filters["mask"] = mask
    app.jinja_env.filters["datetimeformat"] = datetimeformat
    app.jinja_env.globals["url_for_id"] = url_for_id
    app.extensions["gradproof_urls"] = {}
    app.jinja_env.globals["url_for"] = template_url_for

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
