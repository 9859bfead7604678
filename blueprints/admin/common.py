"""What several admin pages share: limits, the acting admin, and the
in-place editing of table rows (InlineTable: cohorts and colleges)."""

import functools
import re
from collections.abc import Callable

from flask import Blueprint, abort, flash, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import Model, Select
from werkzeug import Response

from blueprints.access import admin_view
from blueprints.web import Form, client_ip, redirect_to, render, swap_or_redirect
from models import User
from services import admin_tables

PAGE_SIZE = 50
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TOO_LONG = _l("At most %(max)d characters.")


def actor() -> User:
    return current_user._get_current_object()


def stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class InlineTable:
    """An admin list whose rows are edited in place (cohorts, colleges).

    "Edit" swaps the row's form in (htmx) or shows the page with that row
    open (no JavaScript); a valid POST returns the row as shown, or
    redirects to the list with 303. Every row goes through one partial,
    manage/_inline_row.html; `row_template` gives it the row's cells.

    `kind` names the rest: the blueprint admin.<kind>s with the endpoints
    index, create, edit, row and update (argument <kind>_id), the page
    manage/<kind>s.html listing `<kind>s`, and row ids "<kind>-<id>".
    `check(form, obj_id)` adds field errors beyond the form's own;
    `duplicate(form)` records that the database refused a duplicate.
    """

    def __init__(
        self,
        kind: str,
        model: type[Model],
        form: type[Form],
        fields: tuple[str, ...],
        rows: Callable[[], Select],
        *,
        added: Callable[[Form], str],
        saved: Callable[[Form], str],
        duplicate: Callable[[Form], None],
        check: Callable[[Form, int | None], bool] = lambda form, obj_id: True,
    ):
        self.kind, self.model, self.form, self.fields, self.rows = kind, model, form, fields, rows
        self.added, self.saved, self.duplicate, self.check = added, saved, duplicate, check
        self.page_template = f"manage/{kind}s.html"
        self.row_template = f"manage/_{kind}_row.html"

    def add_routes(self, bp: Blueprint) -> None:
        """The list's URLs on the area's blueprint, admins only:
        GET "" the list, POST "" add a row, GET /<id>/edit the row as a form,
        GET /<id> the row as shown, POST /<id> save it."""
        key = f"{self.kind}_id"
        one = f"/<int:{key}>"
        views: list[tuple[str, str, str, Callable[..., Response]]] = [
            ("", "index", "GET", lambda: self.page()),
            ("", "create", "POST", self.create),
            (one + "/edit", "edit", "GET", lambda **ids: self.edit(ids[key])),
            (one, "row", "GET", lambda **ids: self.row(ids[key])),
            (one, "update", "POST", lambda **ids: self.update(ids[key])),
        ]
        for rule, endpoint, method, view in views:
            bp.add_url_rule(rule, endpoint, admin_view(view), methods=[method])

    def row_of(self, obj_id: int) -> Model:
        """The row as listed (with its counts), or 404."""
        found = self.rows().where(self.model.id == obj_id).first()
        if found is None:
            abort(404)
        return found

    def page_context(
        self, form: Form | None = None, editing: int | None = None, edit_form: Form | None = None
    ):
        """The list with the add form; `editing` is the id of the row shown as a form."""
        return {
            f"{self.kind}s": list(self.rows()),
            "form": form or self.form(formdata=None),
            "editing": editing,
            "edit_form": edit_form,
        }

    def page(self, status: int = 200, **page) -> Response:
        return render(self.page_template, status=status, **self.page_context(**page))

    def save(self, form: Form, obj: Model | None = None) -> bool:
        values = {name: form[name].data for name in self.fields}
        return admin_tables.save(self.model, values, actor=actor(), ip=client_ip(), obj=obj)

    def create(self) -> Response:
        """Add a row from the page's form."""
        form = self.form()
        if form.validate_on_submit() and self.check(form, None):
            if self.save(form):
                flash(self.added(form), "success")
                return redirect_to(f"admin.{self.kind}s.index")
            self.duplicate(form)
        return self.page(400, form=form)

    def edit(self, obj_id: int) -> Response:
        """The row as a form: alone for htmx, inside the page otherwise."""
        found = self.row_of(obj_id)
        return self.form_row(found, self.form(obj=found))

    def form_row(self, found: Model, form: Form, status: int = 200) -> Response:
        page = functools.partial(self.page_context, editing=found.id, edit_form=form)
        return render(
            self.page_template,
            partial=self.row_template,
            page_ctx=page,
            status=status,
            c=found,
            row_form=form,
        )

    def row(self, obj_id: int) -> Response:
        """The row as shown (htmx "cancel"); without htmx, the list."""
        return swap_or_redirect(
            url_for(f"admin.{self.kind}s.index"), self.row_template, c=self.row_of(obj_id), row_form=None
        )

    def update(self, obj_id: int) -> Response:
        """Save the row's form: the row as shown again, or the form with its errors."""
        found = self.row_of(obj_id)
        form = self.form()
        if form.validate_on_submit() and self.check(form, found.id):
            if self.save(form, obj=found):
                return swap_or_redirect(
                    url_for(f"admin.{self.kind}s.index"),
                    self.row_template,
                    flash_message=self.saved(form),
                    c=self.row_of(obj_id),
                    row_form=None,
                )
            self.duplicate(form)
        return self.form_row(found, form, status=400)
