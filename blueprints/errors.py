"""Error pages in the user's language, as full pages or htmx fragments."""

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from blueprints.web import render

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Please go back and try again.")),
    403: (_l("Not allowed"), _l("You are not allowed to do this.")),
    404: (_l("Page not found"), _l("This page does not exist or is not yours to see.")),
    405: (_l("Not allowed"), _l("This page does not accept that kind of request.")),
    409: (_l("Changed in the meantime"), _l("Someone changed this in the meantime. Please reload.")),
    413: (_l("File too large"), _l("The upload is larger than allowed. Please send a smaller file.")),
    429: (
        _l("Too many requests"),
        _l("Too many attempts from your network. Please wait a few minutes and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error occurred. Nothing was saved. Please try again later."),
    ),
}


def error_page(code, message=None):
    """Render the error for `code`: a fragment into #flash for htmx, else a page."""
    title, default = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    # The element that asked may be a table row: htmx shows errors in the
    # flash area instead of breaking the layout.
    return render(
        "errors/error.html",
        block="message",
        hx_headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        status=code,
        code=code,
        title=title,
        message=message or default,
    )


def handle_http(exc):
    """Werkzeug HTTP errors → our page with the same status."""
    if exc.code is None or exc.code < 400:
        return exc
    response = error_page(exc.code)
    # Keep what the status promises: Allow on 405, Retry-After on 429/503.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_csrf(exc):
    """Re-run the view so it re-shows the form with its data and a message.

    Every POST view validates its form before doing anything, so running it
    again with `g.csrf_error` set only renders the form (see web.Form).
    """
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and request.method == "POST":
        g.csrf_error = True
        try:
            response = current_app.make_response(view(**(request.view_args or {})))
        except HTTPException as inner:
            if inner.response is None:
                return handle_http(inner)
            response = inner.response  # abort(response), e.g. LiveForm's one field
        if response.status_code < 300:
            response.status_code = 400
            return response
    return error_page(400, _l("This form has expired. Please reload the page and try again."))


def handle_500(exc):
    """Unexpected errors, shown as a plain apology. Flask has already logged
    the traceback (Flask.log_exception); logging it here again doubled it."""
    return error_page(500)


def init_app(app):
    """Register the handlers."""
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(500, handle_500)
