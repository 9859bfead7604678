"""Shared web plumbing: page-or-fragment rendering, forms, decorators.

`render()` is the one place that decides between a full page and an htmx
fragment; `init_app()` wires the extensions, headers and error pages.
"""

import functools
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from jinja2_fragments.flask import render_block

CSRF_EXPIRED = _l(
    "This form was open for too long and has expired. Your entries are kept; please submit again."
)


def is_htmx():
    """An htmx request that wants a fragment; boosted navigation and history
    restores (back button after a swap) want whole pages."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(template, block=None, status=200, **ctx):
    """The named block alone for htmx, the whole page otherwise."""
    if block and is_htmx():
        body = render_block(template, block, **ctx)
    else:
        body = render_template(template, **ctx)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def redirect_to(endpoint, **values):
    """Post/Redirect/Get with 303 so browsers and fetch switch to GET."""
    return redirect(url_for(endpoint, **values), code=303)


def external_url(endpoint, **values):
    """An absolute URL for mails: BASE_URL when set (behind a proxy), else this host."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def safe_next(target, default="auth.home"):
    """A same-site relative path from a `next` parameter, or the default page."""
    parts = urlsplit(target or "")
    local = not parts.scheme and not parts.netloc
    if target and local and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(default)


def client_ip():
    """The client address as seen through the configured proxies."""
    return request.remote_addr or ""


class Form(FlaskForm):
    """Base form: an expired CSRF token becomes a form error, not a 400 page."""

    def validate_on_submit(self, extra_validators=None):
        ok = super().validate_on_submit(extra_validators)
        if g.get("csrf_error") and self.is_submitted():
            if hasattr(self, "csrf_token"):
                self.csrf_token.errors = []
            self.form_errors.append(CSRF_EXPIRED)
            return False
        return ok


def role_required(*roles):
    """Only logged-in users with one of `roles`; others get 404 (nothing to see)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def init_app(app):
    """Bind extensions, locale, login, headers, static assets and error pages."""
    from blueprints import assets, core, errors

    core.init_app(app)
    assets.init_app(app)
    errors.init_app(app)


def college_scope(query, college_field):
    """Limit a staff member's query to their own college; admins see all."""
    if current_user.role == "admin":
        return query
    if current_user.college_id is None:
        # A staff account without a college sees nothing (not the NULL-college rows).
        return query.where(False)
    return query.where(college_field == current_user.college_id)


def staff_may(college_id):
    """Whether the current staff member or admin may act on this college's data."""
    if current_user.role == "admin":
        return True
    return current_user.role == "staff" and college_id is not None and college_id == current_user.college_id
