"""GradProof application factory.

create_app(): config → database → extensions → blueprints → CLI → error pages.
"""

import contextlib
import functools
import os
import secrets

from flask import Flask

import localized_templates


class GradProof(Flask):
    # Templates compiled per language with their fixed texts translated.
    jinja_environment = localized_templates.LocalizedEnvironment

    def ensure_sync(self, func):
        """Flask's, remembered per function: Flask asks `inspect` whether each
        hook and view is a coroutine function on every request (some twenty
        times a page); the answer for a function never changes."""
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced

    @functools.cached_property
    def _synced(self):
        return {}


DEFAULTS = {
    "SECRET_KEY": "dev",
    # Empty means SQLite in the instance folder (set in create_app).
    "DATABASE_URL": "",
    "DEMO": True,
    "BASE_URL": "",
    "MAIL_SERVER": "",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "GradProof <noreply@localhost>",
    "MAIL_TIMEOUT": 10,
    # Flask-Mail would silently drop mail under TESTING; tests use a real server.
    "MAIL_SUPPRESS_SEND": False,
    "MAIL_SEND_AFTER_REQUEST": True,
    "MAIL_MAX_ATTEMPTS": 8,
    # The task consumer drains the outbox this often (seconds, 1 to 60).
    "OUTBOX_DRAIN_SECONDS": 30,
    # The task queue: empty means instance/huey.sqlite3 (one machine);
    # redis://host:port/db for several servers. See tasks.py.
    "HUEY_URL": os.environ.get("HUEY_URL", ""),
    # None: tasks run at once in the caller under TESTING, queued otherwise.
    "HUEY_IMMEDIATE": None,
    "RATELIMIT_ENABLED": True,
    # Empty: a SQLite file in instance/ that all workers of this machine share
    # (memory:// under TESTING); redis://… for several servers.
    "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", ""),
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_LOGIN": "30 per minute;300 per hour",
    "RATELIMIT_REGISTER": "20 per minute;200 per hour",
    "RATELIMIT_MAIL": "10 per minute;100 per hour",
    "RATELIMIT_STAFF_BULK": "10 per minute",
    # Per account, on the ID change and dispute forms (each POST decodes photos).
    "RATELIMIT_ID_PICTURES": "6 per minute;30 per day",
    "PASSWORD_HASH_METHOD": "scrypt",
    # None: Secure cookies except under debug/testing (plain-HTTP development).
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": 30 * 24 * 3600,
    "REMEMBER_COOKIE_SECURE": None,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 30 * 24 * 3600,
    "FORCE_HTTPS": False,
    "PROXY_FIX": 0,
    "MAX_CONTENT_LENGTH": 22 * 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_CN", "en"],
    # Name of the institution as the photo collection writes it (学校); photos
    # whose manifest names another school stay unmatched. Empty: not checked.
    "INSTITUTION_NAME": "",
    "PHOTO_DIR": "",  # empty: instance/photos
    "ID_IMAGE_DIR": "",  # empty: instance/id-images
    # nginx-internal location prefixes (deploy/nginx-site.conf): when set, the
    # views check access and answer X-Accel-Redirect; nginx sends the bytes.
    "PHOTO_ACCEL_REDIRECT": "",
    # Daily backup by the task consumer into this folder (empty: off),
    # keeping the newest BACKUP_KEEP archives.
    "BACKUP_DIR": "",
    "BACKUP_KEEP": 14,
    "ID_IMAGE_ACCEL_REDIRECT": "",
    "ID_IMAGE_RETENTION_DAYS": 30,
    "IMPORT_DIR": "",  # empty: instance/imports (uploads waiting for the worker)
    "IMPORT_MAX_BYTES": 2 * 1024**3,
    "IMPORT_WORKERS": 0,  # 0: one process per CPU
    "ACTIVATION_HOURS": 48,
    "RESET_MINUTES": 30,
    "RESEND_MINUTES": 5,
    "LOCKOUT_FAILURES": 10,
    "LOCKOUT_MINUTES": 15,
    "COMPRESS_MIMETYPES": [
        "text/html",
        "text/css",
        "text/csv",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
    ],
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_LEVEL": 6,
    "COMPRESS_BR_LEVEL": 5,
    "COMPRESS_MIN_SIZE": 300,
    # The views that send validators answer conditional requests themselves
    # (/record decides when a 304 is right: never while a message is
    # pending; photos and static files through send_file/assets). Flask-
    # Compress evaluating them again after the view turned /record's page
    # with a pending message into a 304 and lost the message.
    "COMPRESS_EVALUATE_CONDITIONAL_REQUEST": False,
    # Compiled templates on disk in production; empty: instance/jinja-cache, "off": none.
    "TEMPLATE_CACHE_DIR": "",
}


def create_app(test_config=None):
    """Build a configured GradProof application."""
    app = GradProof(__name__, instance_relative_config=True, static_folder=None)
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    from services.fsmodes import private_dir

    private_dir(app.instance_path)
    with contextlib.suppress(OSError):  # an older instance/ made with the umask's 755
        os.chmod(app.instance_path, 0o700)
    if not app.config["DATABASE_URL"]:
        path = os.path.join(app.instance_path, "gradproof.sqlite3")
        app.config["DATABASE_URL"] = "sqlite:///" + path
    if not app.config["RATELIMIT_STORAGE_URI"]:
        path = os.path.join(app.instance_path, "ratelimit.sqlite3")
        app.config["RATELIMIT_STORAGE_URI"] = "memory://" if app.testing else "gradproof+sqlite://" + path
    _check_secret(app)

    import models

    models.init_app(app)

    from blueprints import admin, assets, core, errors, staff, student

    core.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    from blueprints import request_log

    request_log.init_app(app)
    app.register_blueprint(student.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(admin.bp)

    import tasks

    tasks.configure(app)

    import cli
    import cli_ops

    cli.init_app(app)
    cli_ops.init_app(app)
    localized_templates.init_app(app)
    return app


def _check_secret(app):
    """Refuse to run in production with the well-known development key."""
    if app.debug or app.testing:
        return
    key = app.config["SECRET_KEY"]
    if not key or key == DEFAULTS["SECRET_KEY"] or len(key) < 16:
        raise RuntimeError(
            "Refusing to start: set FLASK_SECRET_KEY (or SECRET_KEY in "
            "instance/config.py) to a long random value, e.g. " + secrets.token_hex(32)
        )
