"""How the records table draws its rows, fast: the row template
(templates/staff/_row.html) stays the one description of a row.

Texts that depend only on the language (status labels, each status's
options, the questions) are made once per language (`texts`); the URLs, the
CSRF token and the time zone once per request (`Kit`). A page of rows goes
further: the row macro is rendered once per language and kind of row
(status, with or without photo, with or without a photo problem, with or
without the college column) with placeholders for everything that varies,
and each row fills its kind's skeleton with its escaped values. The result
is the macro's own output, byte for byte (tests/test_staff_table.py).
"""

from dataclasses import dataclass

import flask_babel
from flask import current_app, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from pytz import UTC

from services import record_table as table
from services.idcard import mask
from services.vocab import DONE, RECORD_STATUS_LABELS

STAND_IN = 987654321
ROW_TEMPLATE = "staff/_row.html"


@dataclass(frozen=True)
class Texts:
    """A row's texts in one language, ready for the HTML."""

    labels: dict  # status → label
    options: dict  # status → the <option>s of its control, the current status first
    status_of: Markup  # "Status of %(name)s"
    confirm: Markup  # the question before a confirmation ends
    problem: dict  # compliance codes → the reasons, as one line


_TEXTS: dict[str, Texts] = {}


def texts():
    """The row texts of the current language (made on first use)."""
    from blueprints.staff.table import STAFF_TARGETS

    locale = str(get_locale())
    found = _TEXTS.get(locale)
    if found is None:
        labels = {s: escape(str(label)) for s, label in RECORD_STATUS_LABELS.items()}

        def option(status, selected=""):
            return Markup('<option value="{}"{}>{}</option>').format(status, selected, labels[status])

        options = {
            s: Markup("").join([option(s, Markup(" selected")), *(option(t) for t in targets)])
            for s, targets in STAFF_TARGETS.items()
            if targets
        }
        found = _TEXTS[locale] = Texts(
            labels=labels,
            options=options,
            # Marked safe, not escaped: what Jinja's gettext does with a translation.
            status_of=Markup(_("Status of %(name)s")),  # noqa: S704
            confirm=Markup(  # noqa: S704
                _(
                    "The confirmation of %(name)s ends unless the new status is a confirmation; "
                    "the student must then check again. Change the status?"
                )
            ),
            problem={},
        )
    return found


def _around(url):
    """A URL built with a stand-in id, split where the id goes."""
    head, tail = url.split(str(STAND_IN), 1)
    return escape(head), escape(tail)


def hole(name):
    """A placeholder no escaping changes (control characters never occur in the markup)."""
    return Markup(f"\x01{name}\x02")  # noqa: S704


class Kit:
    """Everything a row needs besides the row itself, for one request.

    `loading` is the thumbnails' loading attribute: "eager" for the first
    rows a page draws (on the first screen: fetched while the page is
    parsed, painted with it; lazy, each arriving thumbnail repainted the
    table after the first paint, a third of the page's main-thread work in
    Chromium), "lazy" for the rows fetched later and the 100 rows of
    `?rows=all`."""

    confirming = DONE

    def __init__(self, next_url, loading="lazy"):
        from blueprints.staff.table import compliance_text

        self.t = texts()
        self.csrf = generate_csrf()
        self.compliance_text = compliance_text
        extra = {} if next_url == url_for("staff.records.index") else {"next": next_url}
        self.detail = _around(url_for("staff.records.detail", record_id=STAND_IN, **extra))
        self.action = _around(url_for("staff.records.set_status", record_id=STAND_IN, **extra))
        self.mini = _around(url_for("student.record.photo", photo_id=STAND_IN, variant="mini"))
        self.thumb = _around(url_for("student.record.photo", photo_id=STAND_IN, variant="thumb"))
        self.zone = flask_babel.get_timezone()
        self.loading = loading
        self._filled = {}

    mask = staticmethod(mask)

    def when(self, moment):
        """A change's time as "MM-dd HH:mm" in the user's time zone (Babel's
        pattern gives these ASCII digits in every language)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # astimezone() gives pytz's correct local time (normalize() is for arithmetic).
        return moment.astimezone(self.zone).strftime("%m-%d %H:%M")

    def problem(self, codes):
        found = self.t.problem.get(codes)
        if found is None:
            found = self.t.problem[codes] = self.compliance_text(codes)
        return found

    def rows(self, rows, admin):
        """The HTML of each row, as the row macro draws it."""
        out = []
        for r in rows:
            key = (r.status, bool(r.photo_id), bool(r.compliance), admin)
            skeleton = self._filled.get(key) or self._fill(key)
            html = skeleton.format(
                id=r.id,
                name=escape(r.name),
                no=escape(r.student_no),
                masked=escape(mask(r.id_number)),
                photo=r.photo_id,
                problem=escape(self.problem(r.compliance)) if r.compliance else "",
                college=escape(r.college),
                when=self.when(r.changed_at),
                version=r.version,
            )
            out.append(Markup(html))  # noqa: S704 (the macro's markup, escaped values)
        return out

    def _fill(self, key):
        """The skeleton of a kind of row with this request's parts in place."""
        parts = {
            "csrf": escape(self.csrf),
            "loading": self.loading,
            **{
                f"{name}{i}": part
                for name in ("detail", "action", "mini", "thumb")
                for i, part in enumerate(getattr(self, name))
            },
        }
        skeleton = skeleton_of(key)
        for name, value in parts.items():
            skeleton = skeleton.replace("{" + name + "}", str(value).replace("{", "{{").replace("}", "}}"))
        self._filled[key] = skeleton
        return skeleton


class _Probe(Kit):
    """A Kit whose every value is a placeholder."""

    def __init__(self):
        self.t = texts()
        self.csrf = hole("csrf")
        self.loading = hole("loading")
        for name in ("detail", "action", "mini", "thumb"):
            setattr(self, name, (hole(f"{name}0"), hole(f"{name}1")))

    def mask(self, number):
        return hole("masked")

    def when(self, moment):
        return hole("when")

    def problem(self, codes):
        return hole("problem")


def skeleton_of(key):
    """The row macro's output for a kind of row, as a str.format template."""
    template = current_app.jinja_env.get_template(ROW_TEMPLATE)  # this language's compiled copy
    cache = template.__dict__.setdefault("_skeletons", {})
    found = cache.get(key)
    if found is None:
        status, photo, compliance, admin = key
        probe = table.Row(
            hole("id"), hole("name"), hole("no"), hole("idn"), status, hole("version"), None,
            hole("photo") if photo else None, hole("codes") if compliance else "", hole("college"),
        )  # fmt: skip
        html = str(template.module.table_row(probe, _Probe(), admin))
        html = html.replace("{", "{{").replace("}", "}}")
        found = cache[key] = html.replace("\x01", "{").replace("\x02", "}")
    return found
