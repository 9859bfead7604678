"""One structured log line per request, for operators.

    request method=POST route=/record/confirm status=303 ms=41.2 user=17

The route is the URL rule (``/staff/records/<int:record_id>``), never the
path or query string: those carry activation tokens and searched names. The
user is the account id. Nothing typed by a person (names, ID numbers, e-mail
addresses, passwords, tokens) is ever part of the line.

Logger ``gradproof.request`` at INFO; REQUEST_LOG=False switches it off.
Without a handler configured by the host, lines go to stderr.
"""

import logging
import sys
import time

from flask import g, request

log = logging.getLogger("gradproof.request")


def init_app(app):
    if not app.config.get("REQUEST_LOG", True):
        return
    if not log.handlers and not app.testing:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    app.before_request(_start)
    app.after_request(_finish)


def _start():
    g.request_started = time.perf_counter()


def _finish(response):
    started = g.get("request_started")
    duration = (time.perf_counter() - started) * 1000 if started else 0.0
    rule = request.url_rule.rule if request.url_rule is not None else "-"
    # Flask-Login keeps the user loaded by this request here; reading
    # current_user would load one just for the log.
    user = g.get("_login_user")
    user_id = getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
    log.info(
        "request method=%s route=%s status=%d ms=%.1f user=%s",
        request.method,
        rule,
        response.status_code,
        duration,
        user_id if user_id is not None else "-",
    )
    return response
