"""Shared web plumbing: page-or-fragment rendering, redirects, the base form.

`render()` is the one place that decides between a full page and an htmx
fragment. Who may see what is in access.py.
"""

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from babel import support
from flask import (
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from jinja2_fragments.flask import render_block
from werkzeug import Response
from wtforms.i18n import messages_path

from blueprints.i18n import locale_code
from extensions import limiter

CSRF_EXPIRED = _l(
    "This form was open for too long and has expired. Your entries are kept; please submit again."
)


def is_htmx() -> bool:
    """An htmx request that wants a fragment; boosted navigation and history
    restores (back button after a swap) want whole pages.

    Views do not call this: render(), swap_or_redirect(), htmx_only and
    LiveForm do. The exceptions are marked where they are.
    """
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    template: str,
    block: str | None = None,
    *,
    partial: str | None = None,
    page_ctx: Callable[[], dict] | None = None,
    hx_headers: dict | None = None,
    status: int = 200,
    **ctx,
) -> Response:
    """The one place that chooses between a full page and an htmx fragment.

    For htmx the fragment is the named `block` of `template` (a region that
    appears once), else the `partial` template (a repeated unit such as a
    table row), else the whole template; flash messages waiting to be shown
    go with it out of band, and `hx_headers` are set. Otherwise the whole
    `template` is rendered, with `page_ctx()` merged into its context: what only
    the full page needs, computed only for it. Always `Vary: HX-Request`.
    """
    headers = {}
    if is_htmx():
        if block:
            body = render_block(template, block, **ctx)
        else:
            body = render_template(partial or template, **ctx)
        headers = hx_headers or {}
        if session.get("_flashes") and "HX-Retarget" not in headers:
            body += render_template("_flash.html", oob=True)
    else:
        body = render_template(template, **(ctx | (page_ctx() if page_ctx else {})))
    response = make_response(body, status)
    response.headers.update(headers)
    response.vary.add("HX-Request")
    return response


def swap_or_redirect(
    url: str,
    template: str,
    block: str | None = None,
    *,
    flash_message: str | None = None,
    category: str = "success",
    status: int = 200,
    **ctx,
) -> Response:
    """After a change: htmx swaps in the fragment (see render); a plain form
    post gets `flash_message` flashed and a 303 to `url` (Post/Redirect/Get)."""
    if is_htmx():
        return render(template, block, status=status, **ctx)
    if flash_message:
        flash(flash_message, category)
    return redirect(url, code=303)


def htmx_only(view: Callable) -> Callable:
    """A fragment endpoint with no page of its own: 404 without htmx."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_htmx():
            abort(404)
        return view(*args, **kwargs)

    return wrapped


# Stands for the visitor's CSRF token in a cached page (never in real HTML).
CSRF_HOLE = "\x00csrf-token\x00"
PUBLIC_PAGES_MAX = 64


def render_public(template: str, make_context: Callable[[], dict]) -> Response:
    """A GET page an anonymous visitor sees, rendered once per language.

    Such a page (the login form) differs between visitors only by the CSRF
    token, so the HTML is kept per template, language and path with a hole
    where the token goes, and each visitor gets it with their own token:
    no form is built and no template rendered. Anything else (a query
    string, a logged-in user, a flash message waiting, debug mode, a POST)
    renders as usual. `make_context()` builds the template's variables.
    """
    if (
        request.method != "GET"
        or request.args
        or current_app.debug
        or current_user.is_authenticated
        or "_flashes" in session
    ):
        return render(template, **make_context())
    pages = current_app.extensions.setdefault("gradproof_public_pages", {})
    key = (template, locale_code(), request.path)
    token = generate_csrf()
    page = pages.get(key)
    if page is None:
        response = render(template, **make_context())
        body = response.get_data(as_text=True)
        if response.status_code == 200 and token in body and len(pages) < PUBLIC_PAGES_MAX:
            pages[key] = body.replace(token, CSRF_HOLE)
        return response
    response = make_response(page.replace(CSRF_HOLE, token))
    response.vary.add("HX-Request")
    return response


def limit_posts(key: str) -> Callable:
    """A per-address rate limit on POSTs, read from config `key` at request
    time; inline validation (`_field`, see LiveForm) does not count."""
    return limiter.limit(
        lambda: current_app.config[key], methods=["POST"], exempt_when=lambda: "_field" in request.form
    )


def redirect_to(endpoint: str, **values) -> Response:
    """Post/Redirect/Get with 303 so browsers and fetch switch to GET."""
    return redirect(url_for(endpoint, **values), code=303)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for mails: BASE_URL when set (behind a proxy), else this host."""
    base = current_app.config.get("BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def safe_next(target: str | None, default: str = "student.auth.home") -> str:
    """A same-site relative path from a `next` parameter, or the default page."""
    parts = urlsplit(target or "")
    local = not parts.scheme and not parts.netloc
    if target and local and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(default)


def client_ip() -> str:
    """The client address as seen through the configured proxies."""
    return request.remote_addr or ""


class FormTranslations:
    """WTForms' own messages ("Not a valid choice", …) in the request's language.

    Flask-WTF loads and parses WTForms' .mo file again in every request that
    translates one; the parsed catalogs are kept here, one per locale, for
    the life of the process. The locale is looked up on each call, so a form
    used inside `force_locale()` follows it.
    """

    def __init__(self):
        self._catalogs = {}

    def _catalog(self):
        locale = get_locale()
        if locale is None:
            return None
        key = str(locale)
        catalog = self._catalogs.get(key)
        if catalog is None:
            catalog = self._catalogs[key] = support.Translations.load(
                messages_path(), [locale], domain="wtforms"
            )
        return catalog

    def gettext(self, string):
        catalog = self._catalog()
        return string if catalog is None else catalog.ugettext(string)

    def ngettext(self, singular, plural, n):
        catalog = self._catalog()
        if catalog is None:
            return singular if n == 1 else plural
        return catalog.ungettext(singular, plural, n)


FORM_TRANSLATIONS = FormTranslations()


class Form(FlaskForm):
    """Base form: an expired CSRF token becomes a form error, not a 400 page."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return FORM_TRANSLATIONS

    def validate_on_submit(self, extra_validators=None):
        ok = super().validate_on_submit(extra_validators)
        if g.get("csrf_error") and self.is_submitted():
            if hasattr(self, "csrf_token"):
                self.csrf_token.errors = []
            self.form_errors.append(CSRF_EXPIRED)
            return False
        return ok


class LiveForm(Form):
    """A form with inline validation (modelled on Canaille's HTMXFormMixin).

    A field rendered with `field(f, live=True)` posts the whole form with
    `_field=<name>` when it changes; validate_on_submit() then validates
    everything and answers with that field alone (`_field.html`), aborting
    the view, so a view handles the submission as if nothing were live.
    """

    def validate_on_submit(self, extra_validators=None):
        name = request.form.get("_field", "")
        if self.is_submitted() and is_htmx() and name in self._fields and name != "csrf_token":
            self.validate(extra_validators)
            abort(make_response(render_template("_field.html", field=self[name])))
        return super().validate_on_submit(extra_validators)


def page_count(total: int, size: int) -> int:
    """How many pages of `size` rows `total` rows fill (at least one)."""
    return max(1, -(-total // size))
