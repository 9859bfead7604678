"""Staff queues of the three problem paths: corrections, ID change requests
and ID disputes.

Each item opens inline, shows the evidence beside the current data and is
decided in place. The decision itself (one transaction with the record and
account changes, the audit event and the mail) is services.casework.decide;
this module only parses, scopes and renders.
"""

from flask import Blueprint, abort, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from peewee import JOIN, IntegrityError, fn
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from blueprints.access import READ_ID_NUMBER, audit_read, college_scope, staff_view
from blueprints.params import page_arg, to_id
from blueprints.web import Form, client_ip, external_url, redirect_to, render, swap_or_redirect
from models import College, CorrectionItem, IllegalTransition, Photo, Record, Request, StaleRecord, User
from services import casework as reqs
from services import record_fields, regions
from services.vocab import RequestStatus

bp = Blueprint("queues", __name__, url_prefix="/queues")

PER_PAGE = 50
FILTERS = (*(s for s in RequestStatus), "all")
FILTER_LABELS = {
    RequestStatus.OPEN: lazy_pgettext("request status", "Open"),
    RequestStatus.ACCEPTED: _l("Accepted"),
    RequestStatus.REJECTED: _l("Rejected"),
    RequestStatus.WITHDRAWN: _l("Withdrawn"),
    "all": _l("All"),
}
MAX_CANDIDATES = 6
DECIDED = {"accept": _l("Accepted."), "reject": _l("Rejected.")}


class DecideForm(Form):
    """Accept or reject: the two mini forms of an open item post here."""

    decision = StringField()
    reject_reason = StringField()
    note = TextAreaField(validators=[Length(max=1000, message=_l("At most %(max)d characters."))])
    photo_id = StringField()


def scoped(query):
    """Staff see their own college's requests; admins all, including those of no college."""
    return college_scope(query, Request.college)


def get_item(request_id):
    """The request if the current staff member may see it, else 404."""
    found = scoped(Request.select().where(Request.id == request_id)).first()
    if found is None:
        abort(404)
    return found


@bp.get("/")
@staff_view
def index():
    """The queues start with corrections."""
    return redirect_to("staff.queues.queue", kind=reqs.CORRECTION)


@bp.get("/<any(correction, id_change, id_dispute):kind>")
@staff_view
def queue(kind):
    """One queue, oldest first, 50 a page, with the open count of every queue."""
    status = request.args.get("status", RequestStatus.OPEN)
    if status not in FILTERS:
        status = RequestStatus.OPEN
    page = page_arg()
    query = scoped(
        Request.select(Request, User, Record, College)
        .join(User, on=Request.user)
        .switch(Request)
        .join(Record, JOIN.LEFT_OUTER, on=Request.record)
        .switch(Request)
        .join(College, JOIN.LEFT_OUTER, on=Request.college)
        .where(Request.kind == kind)
    )
    if status != "all":
        query = query.where(Request.status == status)
    total = query.count()
    rows = list(query.order_by(Request.created_at, Request.id).paginate(page, PER_PAGE))
    fixes = {}
    if kind == reqs.CORRECTION and rows:
        items = CorrectionItem.select().where(CorrectionItem.request.in_([r.id for r in rows]))
        for item in items.order_by(CorrectionItem.id):
            fixes.setdefault(item.request_id, []).append(item)
    open_counts = dict(
        scoped(Request.select(Request.kind, fn.COUNT(Request.id)).where(Request.status == RequestStatus.OPEN))
        .group_by(Request.kind)
        .tuples()
    )
    return render(
        "queues/index.html",
        filters=FILTERS,
        kind=kind,
        current=status,
        rows=rows,
        fixes=fixes,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        total=total,
        open_counts=open_counts,
        filter_labels=FILTER_LABELS,
        **labels(),
    )


@bp.get("/item/<int:request_id>")
@staff_view
def item(request_id):
    """An item's evidence and decision forms: the inline fragment, or a page without JS."""
    return show(get_item(request_id), fragment="queues/_detail.html")


@bp.post("/item/<int:request_id>/decide")
@staff_view
def decide(request_id):
    """Accept or reject in place; htmx gets the item back, a form post a redirect."""
    found = get_item(request_id)
    form = DecideForm()
    if not form.validate_on_submit():
        errors = list(form.form_errors) + [e for field in form for e in field.errors]
        return show(found, errors or [_("Please reload the page and try again.")], 400)
    decision = form.decision.data
    if decision not in DECIDED:
        abort(404)
    accept = decision == "accept"
    photo = None
    if accept and form.photo_id.data:
        photo = chosen_photo(found, form.photo_id.data)
        if photo is None:
            return show(found, [_("This photo cannot be attached: choose one of the photos shown.")], 400)
    try:
        reqs.decide(
            found,
            actor=current_user._get_current_object(),
            accept=accept,
            reject_reason="" if accept else (form.reject_reason.data or ""),
            note=(form.note.data or "").strip(),
            photo=photo,
            ip=client_ip(),
            link=external_url,
        )
    except reqs.AlreadyDecided as exc:
        return show(exc.request, [exc.message], 409)
    except reqs.Conflict as exc:
        return show(found, [exc.message], 409)
    except reqs.RequestError as exc:
        return show(found, [exc.message], 400)
    except (IllegalTransition, StaleRecord):
        return show(
            found, [_("The record changed meanwhile. Nothing was applied; please check it again.")], 409
        )
    except IntegrityError:
        return show(found, [_("The corrected value is used by another record. Nothing was applied.")], 400)
    return swap_or_redirect(
        url_for("staff.queues.queue", kind=found.kind),
        "queues/_item.html",
        flash_message=f"{DECIDED[decision]} {reqs.KINDS[found.kind]} #{found.id}",
        messages=[DECIDED[decision]],
        ok=True,
        expanded=True,
        **detail(Request.get_by_id(found.id)),
    )


def show(found, messages=(), status=200, ok=False, fragment="queues/_item.html"):
    """The item with its detail: `fragment` for htmx, the item page otherwise."""
    ctx = detail(found)
    return render(
        "queues/item.html", partial=fragment, status=status, messages=messages, ok=ok, expanded=True, **ctx
    )


def detail(found):
    """What the detail shows: the request, the record (full ID number), the evidence."""
    record = Record.get_or_none(Record.id == found.record_id) if found.record_id else None
    audit_read(READ_ID_NUMBER, record or found)
    ctx = dict(
        r=found,
        record=record,
        # Staff compare the full ID number with the request's.
        rows=record_fields.display(record, full_id=True) if record else [],
        fixes={found.id: list(found.items)},
        region=region_of(found.user),
        **labels(),
    )
    ctx["candidates"] = reqs.shown_candidates(found, record, photo_scope, MAX_CANDIDATES)
    return ctx


def labels():
    return dict(
        kinds=reqs.KINDS,
        labels=reqs.STATUS_LABELS,
        reasons=reqs.REJECT_REASONS,
        id_types=record_fields.ID_TYPE_LABELS,
        genders=record_fields.GENDERS,
    )


def region_of(user):
    names = [regions.name_of(code) or code for code in (user.province, user.city) if code]
    return " ".join(names)


def photo_scope(query):
    """Staff see only the unmatched photos that point to their college."""
    return college_scope(query, Photo.college)


def chosen_photo(found, raw):
    """The photo a staff member picked, if it is one of the item's candidates."""
    return reqs.chosen_photo(found, to_id(raw), photo_scope)
