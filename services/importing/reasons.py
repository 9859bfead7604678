"""Reasons in import reports, stored as English msgid plus variables.

A reason (``reason()``) is JSON-able and translated only when shown
(``describe()``), so a report reads in the language of whoever opens it.
"""

from typing import Any

from flask_babel import gettext
from flask_babel.speaklater import LazyString

Reason = dict[str, Any]


def N_(message: str) -> str:
    """Mark a msgid for extraction (pybabel knows N_) without translating it."""
    return message


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; nothing was written."""

    def __init__(self, message: str | LazyString, **args: Any) -> None:
        self.reason = reason(message, **args)
        super().__init__(english(self.reason))


def reason(message: str | LazyString, **args: Any) -> Reason:
    """A JSON-able reason: {"msgid": English text, "args": {...}}.

    ``message`` is a msgid or a lazy string from ``lazy_gettext`` (as in
    IdNumberError and PhotoError); its msgid and variables are kept apart
    so the text can be translated later, in the reader's language.
    """
    if isinstance(message, LazyString) and message._args:
        return {"msgid": str(message._args[0]), "args": {**message._kwargs, **args}}
    return {"msgid": str(message), "args": args}


def describe(item: Reason | str) -> str:
    """A stored reason in the current language (English outside a request)."""
    if isinstance(item, str):
        return item
    args = item.get("args") or {}
    return gettext(item["msgid"], **args) if args else gettext(item["msgid"])


def english(item: Reason) -> str:
    """A stored reason as English text (for logs of the code, never of data)."""
    args = item.get("args") or {}
    return item["msgid"] % args if args else item["msgid"]
