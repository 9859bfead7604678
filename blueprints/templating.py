"""Template filters and globals: `datetimeformat`, `url_for_id` and the
remembering `url_for` templates use (both for tables of many rows)."""

import datetime

import flask_babel
from flask import Flask, current_app, g, request, url_for

from services.idcard import mask

# Babel patterns whose output has only ASCII digits and separators in every
# language: strftime gives the same text ten times faster (table rows).
NUMERIC_PATTERNS = {"yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "yyyy-MM-dd": "%Y-%m-%d"}


def datetimeformat(
    value: datetime.datetime | None = None, format: str | None = None, rebase: bool = True
) -> str:
    """The `datetimeformat` filter (flask_babel.format_datetime), with a fast
    path for the numeric patterns above."""
    pattern = NUMERIC_PATTERNS.get(format)
    if pattern is None or not isinstance(value, datetime.datetime) or value.year < 1000:
        return flask_babel.format_datetime(value, format, rebase)
    if rebase:
        value = flask_babel.to_user_timezone(value)
    return value.strftime(pattern)


URL_SENTINEL = 987654321987654321


def url_for_id(endpoint: str, name: str, value: int, **values) -> str:
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


def template_url_for(endpoint: str, **values) -> str:
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


def init_app(app: Flask) -> None:
    """Install the filters and globals in `app`'s Jinja environment."""
    app.jinja_env.filters["mask"] = mask
    app.jinja_env.filters["datetimeformat"] = datetimeformat
    app.jinja_env.globals["url_for_id"] = url_for_id
    app.extensions["gradproof_urls"] = {}
    app.jinja_env.globals["url_for"] = template_url_for
