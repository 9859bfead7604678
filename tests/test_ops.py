"""Operations: /readyz and the one-line-per-request log."""

import datetime
import logging
import re
from urllib.parse import urlsplit

import pytest

import models
import tasks
from app import create_app
from tests.conftest import TEST_CONFIG, link_in
from tests.factories import PASSWORD, login, make_photo, make_record, setup_world, sign_in

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
LINE = re.compile(r"^request method=[A-Z]+ route=\S+ status=\d{3} ms=\d+\.\d user=(\d+|-)$")


@pytest.fixture(autouse=True)
def no_heartbeat():
    """The in-memory queue of the tests outlives a test: start without a heartbeat."""
    tasks.huey.get(tasks.HEARTBEAT_KEY)  # a read without peek removes it
    yield
    tasks.huey.get(tasks.HEARTBEAT_KEY)


@pytest.fixture
def heartbeat(app):
    with app.app_context():
        tasks.record_heartbeat()


def test_readyz_ok_with_a_live_consumer_and_no_late_mail(client, heartbeat):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "ok", "consumer": "ok", "mail": "ok"}


def test_readyz_names_a_missing_consumer_and_late_mail(app, client, db):
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json["consumer"] == "task consumer never seen"
    with app.app_context():
        tasks.record_heartbeat(datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=3))
    db.OutboxMail.create(
        to="late@example.edu", subject="s", body_text="t", body_html="h",
        next_attempt_at=db.utcnow() - datetime.timedelta(minutes=12),
    )  # fmt: skip
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json["status"] == "error" and r.json["database"] == "ok"
    assert re.fullmatch(r"task consumer not seen for 1[89]\d s", r.json["consumer"])
    assert r.json["mail"] == "oldest due mail 12 min late"
    assert "late@example.edu" not in r.get_data(as_text=True)

    with app.app_context():
        tasks.record_heartbeat()
    db.OutboxMail.update(status="sent").execute()
    assert client.get("/readyz").status_code == 200


def test_readyz_503_when_the_database_is_unreachable(tmp_path):
    config = dict(TEST_CONFIG, DATABASE_URL="sqlite:////nonexistent-dir/x.db", PROPAGATE_EXCEPTIONS=False)
    broken = create_app(config)
    broken.instance_path = str(tmp_path)
    r = broken.test_client().get("/readyz")
    assert r.status_code == 503 and r.json == {"status": "error", "database": "unreachable"}


@pytest.fixture
def world_with_photo(app, db):
    cs, _fl, cohort = setup_world()
    record = make_record(college=cs, cohort=cohort, name="欧阳娜娜", status="unregistered")
    make_photo(app, record)
    return record


def test_request_log_of_a_whole_journey_names_no_person(app, smtp, world_with_photo, caplog):
    """Register, activate, real-name registration, record, photo, confirm, a
    correction, staff search and status change, admin audit: every request
    leaves one line, and no line holds an ID number, name, e-mail address,
    token or password."""
    record = world_with_photo
    email = "Ouyang.Nana@Example.edu"
    caplog.set_level(logging.INFO, logger="gradproof.request")
    student = app.test_client()
    student.environ_base.update(EN)
    student.form_post(
        "/register",
        {"email": email, "password": PASSWORD, "confirm": PASSWORD, "accept_terms": "y"},
        page="/register",
    )
    activation = urlsplit(link_in(smtp.wait(1)[0], "/activate/")).path
    assert student.form_post(activation, {}, page=activation).status_code == 303
    assert login(student, email).status_code == 303
    realname = {
        "real_name": record.name, "gender": record.gender, "id_type": record.id_type,
        "id_number": record.id_number, "nickname": "", "birth_date": record.birth_date.isoformat(),
        "province": "210000", "city": "210200",
    }  # fmt: skip
    assert student.form_post("/identity/", realname, page="/identity/").status_code == 303
    page = student.get("/record").get_data(as_text=True)
    photo = re.search(r"/photo/\d+/webp", page).group(0)
    assert student.get(photo).status_code == 200
    shown = re.search(r'name="shown" type="hidden" value="([0-9a-f]+)"', page).group(1)
    assert student.form_post("/record/confirm", {"shown": shown}, page="/record").status_code == 303
    r = student.form_post(
        "/record/correction",
        {"fix_name": "y", "new_name": "欧阳娜", "note": "少一个字"},
        page="/record/correction",
    )
    assert r.status_code == 303

    staff = app.test_client()
    staff.environ_base.update(EN)
    login(staff, "staff.a@example.edu")
    assert staff.get(f"/staff/records?q={record.name}").status_code == 200
    assert staff.get(f"/staff/records?q={record.id_number}").status_code == 200
    admin = app.test_client()
    admin.environ_base.update(EN)
    login(admin, "admin@example.edu")
    assert admin.get(f"/admin/audit?actor={email}").status_code == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "gradproof.request"]
    assert len(lines) >= 20 and all(LINE.match(line) for line in lines), lines
    assert any("route=/record/confirm status=303" in line for line in lines)
    assert any("route=/activate/<token>" in line for line in lines)
    user_id = models.User.by_email(email).id
    assert any(line.endswith(f"user={user_id}") for line in lines)
    token = activation.rsplit("/", 1)[1]
    everything = "\n".join(lines)
    cookie = student.get_cookie("session")
    for secret in (
        record.id_number, record.id_number[-6:], record.name, "欧阳娜", email, email.lower(), "example.edu",
        token, PASSWORD, shown, cookie.value if cookie else "no-cookie",
    ):  # fmt: skip
        assert secret not in everything, secret


def test_photos_go_through_nginx_after_the_access_check(app_factory, tmp_path):
    """With PHOTO_ACCEL_REDIRECT the view answers with an X-Accel-Redirect to
    the file under PHOTO_DIR and no bytes; someone else's photo stays 404."""
    app = app_factory(PHOTO_ACCEL_REDIRECT="/_photos/", PHOTO_DIR=str(tmp_path / "photos"))
    cs, _fl, cohort = setup_world()
    own = make_record(college=cs, cohort=cohort, account=models.User.by_email("student@example.edu"))
    other = make_record(college=cs, cohort=cohort)
    mine, theirs = make_photo(app, own, seed=1), make_photo(app, other, seed=2)
    client = app.test_client()
    sign_in(client, "student@example.edu")
    r = client.get(f"/photo/{mine.id}/webp")
    assert r.status_code == 200 and r.get_data() == b"" and r.mimetype == "image/webp"
    internal = r.headers["X-Accel-Redirect"]
    assert internal.startswith("/_photos/") and mine.key in internal
    assert (tmp_path / "photos" / internal[len("/_photos/") :]).is_file()
    r = client.get(f"/photo/{theirs.id}/webp")
    assert r.status_code == 404 and "X-Accel-Redirect" not in r.headers
