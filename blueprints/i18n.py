"""The request's language: the locale selector, our short locale codes and
the translation catalogs (Flask-Babel's domain, resolved once per request).

The /lang/<code> view that sets the cookie is in core.py.
"""

import functools

import flask_babel
from babel import Locale, support
from flask import current_app, has_request_context, request
from flask_babel import Domain, get_locale

LANG_COOKIE = "lang"


def select_locale() -> str:
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


def locale_code(locale: Locale | None = None) -> str:
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
        return _load_catalog(tuple(self.translation_directories), code, self.domain[0])


# Kept for every app of the process: each app gets its own Catalogs
# (core.init_app), and the test suite builds one per test, which parsed the
# .mo file again each time (about 3 ms). A loaded catalog is never changed;
# a changed file is read at the next start, as before.
@functools.cache
def _load_catalog(directories: tuple[str, ...], code: str, domain: str) -> support.Translations:
    translations = support.Translations()
    for dirname in directories:
        catalog = support.Translations.load(dirname, [code], domain)
        translations.merge(catalog)
        if hasattr(catalog, "plural"):
            translations.plural = catalog.plural
    return translations
