"""Real-name registration (实名注册) and what follows it: the status page,
修改个人信息 (wrong name), the ID change request (wrong ID number) and the
ID dispute (someone else holds the ID number), all under /identity.
The forms are in identity_forms.py."""

import datetime

from flask import Blueprint, current_app, flash, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.file import FileRequired

from blueprints.access import student_view
from blueprints.student.identity_forms import EvidenceForm, IdChangeForm, ProfileForm, RealNameForm
from blueprints.web import client_ip, htmx_only, redirect_to, render
from extensions import limiter
from models import utcnow
from services import casework as reqs
from services import idcard, identity, idimages, matching, pending_uploads, photos, record_fields

bp = Blueprint("identity", __name__, url_prefix="/identity")

# A second submit this soon after a request was filed is the same submit.
DOUBLE_SUBMIT = datetime.timedelta(seconds=30)


def just_filed(kind):
    """Whether this student filed a request of this kind moments ago (a
    double tap, or the browser resending the upload): answer as the first
    submit did instead of storing the pictures again."""
    if request.method != "POST" or "_check" in request.form:
        return False
    found = reqs.open_request(kind, user=current_user)
    return found is not None and found.created_at >= utcnow() - DOUBLE_SUBMIT


class EvidenceOutcome:
    """What evidence_step() decided: a picture key to file, or a response."""

    def __init__(self, key=None, response=None):
        self.key, self.response = key, response


def evidence_step(form):
    """Validate an evidence form; keep accepted pictures across a re-shown form.

    `_check` (sent by static/js/upload.js before the pictures travel)
    validates everything but the pictures: 204 when fine, else the form with
    its errors. A full submit stores new pictures even when another field is
    wrong, hands back an opaque token (the hidden `upload` field) and files
    the request once everything is right.
    """
    pending = pending_uploads.exists(current_user.id, form.upload.data)
    if not pending:
        form.upload.data = ""
    checking = request.method == "POST" and "_check" in request.form
    if pending or checking:
        # The picture is already here (or not sent yet): no "please add a picture".
        form.front.validators = [v for v in form.front.validators if not isinstance(v, FileRequired)]
    if not form.validate_on_submit():
        if checking and not form.errors:
            return EvidenceOutcome(response=("", 204))
        sent_new = request.method == "POST" and not checking and form.front.data and not form.front.errors
        if sent_new and (key := store_pictures(form)):
            # Accepted although something else is wrong: keep it for the re-shown form.
            pending_uploads.drop(current_user.id, form.upload.data)
            form.upload.data = pending_uploads.keep(current_user.id, key)
        return EvidenceOutcome()
    if checking:
        return EvidenceOutcome(response=("", 204))
    if form.front.data:
        key = store_pictures(form)
        if key:
            pending_uploads.drop(current_user.id, form.upload.data)
        return EvidenceOutcome(key=key)
    key = pending_uploads.claim(current_user.id, form.upload.data)
    if key is None:
        form.front.errors = [*form.front.errors, _("Please add a picture.")]
    return EvidenceOutcome(key=key)


def store_pictures(form):
    """Store the uploaded pictures (services.idimages.store_upload); a field error when unusable."""
    try:
        return idimages.store_upload(
            form.front.data.read(), form.back.data.read() if form.back.data else None
        )
    except photos.PhotoError as exc:
        form.front.errors = list(form.front.errors) + [exc.message]
        return None


@bp.route("/", methods=["GET", "POST"])
@student_view
def realname():
    """Fill in name, gender, ID and region once; then matching runs."""
    if current_user.realname_at is not None:
        return redirect_to("student.record.index")
    form = RealNameForm()
    if form.validate_on_submit():
        data = {field: form[field].data for field in identity.REALNAME_FIELDS}
        if identity.save_realname(current_user._get_current_object(), data, ip=client_ip()) is not None:
            return redirect_to("student.record.index")
        return redirect_to("student.identity.status")
    return render("identity/realname.html", form=form)


@bp.get("/cities")
@htmx_only
def cities():
    """The city field for the chosen province (htmx swaps it in)."""
    form = RealNameForm(formdata=None, province=request.args.get("province", ""))
    return render("_field.html", field=form.city, live=False)


@bp.get("/status")
@student_view
def status():
    """No record yet: why (ID taken, or no match) and what to do."""
    if current_user.realname_at is None:
        return redirect_to("student.identity.realname")
    if matching.record_of(current_user) is not None:
        return redirect_to("student.record.index")
    holder = matching.holder_of(current_user.id_type, current_user.id_number, exclude=current_user)
    return render(
        "identity/status.html", taken=holder is not None, masked=idcard.mask(current_user.id_number)
    )


@bp.route("/profile", methods=["GET", "POST"])
@student_view
def profile():
    """修改个人信息: fix the real name; matching runs again at once."""
    if current_user.realname_at is None:
        return redirect_to("student.identity.realname")
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if identity.change_name(user, form.real_name.data, form.nickname.data, ip=client_ip()) is not None:
            flash(_("Your record was found."), "success")
            return redirect_to("student.record.index")
        flash(_("Your data is saved."), "success")
        return redirect_to("student.identity.status")
    return render("problems/profile.html", form=form)


def per_user():
    """Rate-limit key of the ID-picture forms: the account, not the (shared campus) address."""
    return f"user:{current_user.id}" if current_user.is_authenticated else get_remote_address()


# Each upload decodes up to two phone photos: a few a minute are plenty for a
# person, and the daily cap stops a script from keeping the server busy.
id_picture_limit = limiter.limit(
    lambda: current_app.config["RATELIMIT_ID_PICTURES"], key_func=per_user, methods=["POST"]
)


@bp.route("/id-change", methods=["GET", "POST"])
@id_picture_limit
@student_view
def id_change():
    """Wrong ID number at real-name registration: ask staff to change it."""
    if current_user.realname_at is None or matching.record_of(current_user) is not None:
        return redirect_to("student.auth.home")
    form = IdChangeForm()
    sent = _("Your ID change request was sent to the college. You will get an e-mail with the answer.")
    if just_filed(reqs.ID_CHANGE):
        flash(sent, "success")
        return redirect_to("student.problems.index")
    outcome = evidence_step(form)
    if outcome.key:
        try:
            reqs.file_id_change(
                current_user,
                current_user.id_type,
                form.id_number.data,
                form.phone.data,
                form.reply_email.data,
                outcome.key,
                form.note.data,
                ip=client_ip(),
            )
        except reqs.RequestError as exc:
            form.upload.data = pending_uploads.keep(current_user.id, outcome.key)
            form.form_errors.append(exc.message)
        else:
            flash(sent, "success")
            return redirect_to("student.problems.index")
    if outcome.response is not None:
        return outcome.response
    status = 400 if request.method == "POST" else 200
    return render(
        "problems/id_change.html",
        status=status,
        form=form,
        id_type_label=record_fields.ID_TYPE_LABELS.get(current_user.id_type, ""),
    )


@bp.route("/dispute", methods=["GET", "POST"])
@id_picture_limit
@student_view
def dispute():
    """Someone else registered my ID number: file a dispute with ID pictures."""
    if current_user.realname_at is None:
        return redirect_to("student.identity.realname")
    if matching.holder_of(current_user.id_type, current_user.id_number, exclude=current_user) is None:
        return redirect_to("student.auth.home")
    form = EvidenceForm()
    sent = _("Your dispute was sent to the college. Until it is decided, the record is linked to no account.")
    if just_filed(reqs.ID_DISPUTE):
        flash(sent, "success")
        return redirect_to("student.problems.index")
    outcome = evidence_step(form)
    if outcome.key:
        try:
            reqs.file_dispute(
                current_user,
                form.phone.data,
                form.reply_email.data,
                outcome.key,
                form.note.data,
                ip=client_ip(),
            )
        except reqs.RequestError as exc:
            form.upload.data = pending_uploads.keep(current_user.id, outcome.key)
            form.form_errors.append(exc.message)
        else:
            flash(sent, "success")
            return redirect_to("student.problems.index")
    if outcome.response is not None:
        return outcome.response
    status = 400 if request.method == "POST" else 200
    return render("problems/dispute.html", status=status, form=form)
