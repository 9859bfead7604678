"""Real-name registration (实名注册, DESIGN step 3) and what follows it."""

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from blueprints.forms import REQUIRED, checked_id_number, choices
from blueprints.web import Form, client_ip, is_htmx, redirect_to, render, role_required
from services import idcard, identity, matching, regions

bp = Blueprint("identity", __name__, url_prefix="/identity")

GENDER_CHOICES = [("M", _l("Male")), ("F", _l("Female"))]


def province_choices():
    return choices([("", _l("Province"))] + regions.provinces())


def city_choices(province):
    return choices([("", _l("City"))] + (regions.cities(province) if province else []))


class RealNameForm(Form):
    real_name = StringField(
        _l("Name"),
        validators=[DataRequired(REQUIRED), Length(max=64, message=_l("At most %(max)d characters."))],
        description=_l(
            "Your real name, exactly as in your college's registry; otherwise your record cannot be found."
        ),
        filters=[lambda v: (v or "").strip()],
    )
    gender = SelectField(_l("Gender"), choices=choices(GENDER_CHOICES), validators=[DataRequired(REQUIRED)])
    id_type = SelectField(
        _l("ID type"),
        choices=choices(idcard.ID_TYPES),
        description=_l("The document you used when you registered at the college."),
    )
    id_number = StringField(
        _l("ID number"),
        validators=[DataRequired(REQUIRED), Length(max=40, message=_l("At most %(max)d characters."))],
        description=_l(
            "Your real ID number, so your record can be found. "
            "ID type and ID number cannot be changed after registration."
        ),
    )
    nickname = StringField(
        _l("Nickname"),
        validators=[Optional(), Length(max=50, message=_l("At most %(max)d characters."))],
        description=_l("Optional, up to 50 characters."),
        filters=[lambda v: (v or "").strip() or None],
    )
    birth_date = DateField(
        _l("Birth date"),
        validators=[DataRequired(_l("Please enter your birth date like 1985-02-03."))],
        description=_l("For example 1985-02-03."),
        render_kw={"placeholder": "1985-02-03", "inputmode": "numeric", "maxlength": 10, "type": "text"},
    )
    province = SelectField(_l("Province"), validators=[DataRequired(REQUIRED)])
    city = SelectField(_l("City"), validators=[DataRequired(REQUIRED)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.province.choices = province_choices()
        self.city.choices = city_choices(self.province.data)

    def validate_id_number(self, field):
        checked_id_number(self.id_type.data, field)

    def validate_city(self, field):
        if not regions.is_valid(self.province.data or "", field.data or ""):
            raise ValidationError(_l("Please choose a city of the chosen province."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok:
            try:
                idcard.check_consistency(
                    self.id_type.data, self.id_number.data, self.birth_date.data, self.gender.data
                )
            except idcard.IdNumberError as exc:
                getattr(self, exc.field).errors.append(exc.message)
                return False
        return ok


@bp.route("/", methods=["GET", "POST"])
@login_required
@role_required("student")
def realname():
    """Fill in name, gender, ID and region once; then matching runs."""
    if current_user.realname_at is not None:
        return redirect_to("record.index")
    form = RealNameForm()
    if request.method == "POST" and is_htmx() and request.form.get("_field") in form._fields:
        form.validate()
        return render_template("_field.html", field=form[request.form["_field"]])
    if form.validate_on_submit():
        data = {field: form[field].data for field in identity.REALNAME_FIELDS}
        if identity.save_realname(current_user._get_current_object(), data, ip=client_ip()) is not None:
            return redirect_to("record.index")
        return redirect_to("identity.status")
    return render("identity/realname.html", form=form)


@bp.get("/cities")
def cities():
    """The city field for the chosen province (htmx swaps it in)."""
    form = RealNameForm(formdata=None, province=request.args.get("province", ""))
    if not is_htmx():
        abort(404)
    return render_template("_field.html", field=form.city, live=False)


@bp.get("/status")
@login_required
@role_required("student")
def status():
    """No record yet: why (ID taken, or no match) and what to do."""
    if current_user.realname_at is None:
        return redirect_to("identity.realname")
    if matching.record_of(current_user) is not None:
        return redirect_to("record.index")
    holder = matching.holder_of(current_user.id_type, current_user.id_number, exclude=current_user)
    return render(
        "identity/status.html", taken=holder is not None, masked=idcard.mask(current_user.id_number)
    )
