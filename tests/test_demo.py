"""The synthetic demo data (services.demo): every path a tester can walk."""

import datetime
import os
import secrets
import time
from zoneinfo import ZoneInfo

import pytest

import models
from services import demo, idcard, matching, photostore, records
from tests.factories import login

STATUSES = {"unregistered", "pending", "confirmed", "confirmed_offline", "correction_requested", "corrected"}


def seed(app, db, size):
    with app.app_context():
        db.db.connect(reuse_if_open=True)
        return demo.seed(size)


@pytest.fixture
def small(demo_small):
    """The small demo, seeded once per session and copied (conftest.DemoSnapshot);
    test_same_people_every_run compares it with a seed made on the spot."""
    return demo_small


def user(db, n):
    return db.User.get(db.User.email == f"student{n:02d}@{demo.DOMAIN}")


def test_small_seed_creates_colleges_cohorts_records_and_photos(app, db, small):
    colleges = {c.code: c for c in db.College.select()}
    assert set(colleges) == {"cs", "fl", "em", "me"}
    assert colleges["cs"].name == "计算机学院"
    for college in colleges.values():
        assert "0411-8410" in college.office_contact and "@example.edu" in college.office_contact

    today = datetime.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    year = today.year + 1 if today.month >= 9 else today.year
    current = db.Cohort.get(db.Cohort.name == f"{year}届")
    assert current.phase() == "open" and current.days_left() == 14
    assert current.recheck_start == current.confirm_deadline + datetime.timedelta(days=7)
    assert current.recheck_end == current.confirm_deadline + datetime.timedelta(days=8)
    assert current.timezone == "Asia/Shanghai"
    past = db.Cohort.get(db.Cohort.name == f"{year - 1}届")
    assert past.phase() == "over"

    assert current.records.count() == 40 and past.records.count() == 6
    assert small.counts["records"] == 46
    with app.app_context():
        for photo in db.Photo.select():
            for variant in photostore.VARIANTS:
                assert os.path.getsize(photostore.path(photo.key, variant)) > 0
    shas = [p.sha256 for p in db.Photo.select()]
    assert len(shas) == len(set(shas)) == small.counts["photos"]
    with_photo = current.records.where(db.Record.photo.is_null(False)).count()
    assert 0.85 <= with_photo / 40 <= 0.97


def test_every_id_number_is_valid_and_consistent(db, small):
    kinds = set()
    for record in db.Record.select():
        kinds.add(record.id_type)
        assert idcard.validate(record.id_type, record.id_number) == record.id_number
        idcard.check_consistency(record.id_type, record.id_number, record.birth_date, record.gender)
        assert matching.name_key(record.name) == record.name_key
        assert record.student_no[:4] == str(record.enrolled_on.year)
    assert idcard.RESIDENT in kinds and len(kinds) >= 2
    minority = db.Record.get(db.Record.name.contains("·") & (db.Record.id_type == idcard.RESIDENT))
    assert minority.ethnicity in ("维吾尔族", "哈萨克族") and minority.id_number.startswith("65")


def test_demo_students_stand_at_their_step(app, db, small):
    s = {n: user(db, n) for n in range(1, 9)}
    assert all(u.is_activated and u.role == "student" for u in s.values())

    # student01: no real-name data yet; what the seed prints matches a free record.
    assert s[1].real_name is None and s[1].id_number is None and matching.record_of(s[1]) is None
    for field, value in small.realname.items():
        setattr(s[1], field, value)
    found = matching.candidate(s[1])
    assert found is not None and found.status == "unregistered"
    assert found.birth_date == small.realname["birth_date"] and found.gender == small.realname["gender"]

    two = matching.record_of(s[2])
    assert two.status == "pending" and two.photo_id is not None
    assert records.can_confirm(two) is None

    three = matching.record_of(s[3])
    assert three.status == "confirmed"
    confirmation = records.active_confirmation(three)
    assert confirmation.kind == "student" and confirmation.user_id == s[3].id
    assert confirmation.fingerprint == records.fingerprint(three)

    four = matching.record_of(s[4])
    assert four.status == "pending" and four.photo_id is None
    assert records.can_confirm(four) is not None
    waiting = db.Photo.get(db.Photo.src_id_number == four.id_number)
    assert waiting.unmatched_reason and waiting.src_name != four.name and not waiting.records.exists()

    assert s[5].real_name and matching.record_of(s[5]) is None and matching.candidate(s[5]) is None
    own = db.Record.get(db.Record.id_number == s[5].id_number)
    assert own.status == "unregistered" and own.name_key != matching.name_key(s[5].real_name)

    assert matching.holder_of(s[6].id_type, s[6].id_number, exclude=s[6]) == s[7]
    assert matching.record_of(s[6]) is None and matching.candidate(s[6]) is None
    seven = matching.record_of(s[7])
    assert seven.id_number == s[6].id_number and seven.status == "pending"

    eight = matching.record_of(s[8])
    assert eight.status == "corrected" and eight.photo_id is not None
    assert records.can_confirm(eight) is None
    assert eight.photo.unmatched_reason == ""
    assert [i.field for i in eight.requests.get().items] == ["photo_missing"]

    staff = db.User.get(db.User.email == f"staff-cs@{demo.DOMAIN}")
    assert staff.role == "staff" and staff.college.code == "cs"
    assert {matching.record_of(s[n]).college.code for n in (2, 3, 4, 7, 8)} == {"cs"}


def test_linked_accounts_match_their_records(db, small):
    linked = db.Record.select().where(db.Record.account.is_null(False))
    assert linked.count() > 10
    for record in linked:
        account = record.account
        assert matching.name_key(account.real_name) == record.name_key
        assert (account.id_type, account.id_number) == (record.id_type, record.id_number)
        assert account.birth_date == record.birth_date and account.gender == record.gender
        assert account.realname_at is not None


def test_small_status_mix_covers_every_status(db, small):
    found = {r.status for r in db.Record.select(db.Record.status)}
    assert found == STATUSES
    unregistered = db.Record.select().where(db.Record.status == "unregistered").count()
    assert 0.35 <= unregistered / 46 <= 0.65


def status_events(db, record):
    return (
        db.AuditEvent.select()
        .where(
            (db.AuditEvent.target_type == "record")
            & (db.AuditEvent.target_id == record.id)
            & (db.AuditEvent.action == "record.status")
        )
        .order_by(db.AuditEvent.id)
    )


def check_history(db, record, now):
    """Every status change followed TRANSITIONS, in time order, to the current status."""
    status, when, reason = "unregistered", datetime.datetime.min, ""
    for event in status_events(db, record):
        assert event.from_status == status
        assert event.to_status in db.TRANSITIONS[status], (status, event.to_status)
        assert when <= event.at <= now
        status, when, reason = event.to_status, event.at, event.reason
    assert status == record.status
    assert record.cohort.name == f"{record.graduating_on.year}届"
    if record.cohort.phase() == "over":
        assert when <= datetime.datetime.combine(record.cohort.confirm_deadline, datetime.time(23, 59))
    active = records.active_confirmation(record)
    if record.status in ("confirmed", "confirmed_offline"):
        assert active is not None and active.fingerprint == records.fingerprint(record)
        assert active.kind == ("student" if record.status == "confirmed" else "offline")
        assert active.at == when
        if active.kind == "offline":
            assert active.user.role == "staff" and reason
    else:
        assert active is None
    corrections = record.requests.where(db.Request.kind == "correction")
    if record.status == "correction_requested":
        assert [r.status for r in corrections] == ["open"]
    elif record.status == "corrected" or any(e.to_status == "corrected" for e in status_events(db, record)):
        request = corrections.get()
        assert request.status == "accepted" and request.decided_by.role == "staff"
        assert request.created_at < request.decided_at <= now
    else:
        assert not corrections.exists()
    if record.status in ("unregistered",):
        assert record.account_id is None
    elif record.status != "confirmed_offline":
        assert record.account_id is not None


def test_every_record_went_through_the_state_machine(db, small):
    now = db.utcnow()
    for record in db.Record.select():
        check_history(db, record, now)


def test_demo_mail_stays_in_the_outbox(db, small):
    mails = list(db.OutboxMail.select())
    assert mails and {m.status for m in mails} == {"console"}
    assert all(m.to.endswith("@" + demo.DOMAIN) and m.sent_at == m.created_at for m in mails)


def test_printed_logins_log_in(app, small):
    logins = list(small)
    assert [role for role, _e, _p in logins].count("staff") == 4
    assert ("admin", f"admin@{demo.DOMAIN}", "Proof-Reading-42") in logins
    assert sum(1 for role, _e, _p in logins if role == "student") == 11
    for _role, email, password in logins:
        response = login(app.test_client(), email, password)
        assert response.status_code == 303, email


def test_student01_registers_with_the_printed_data_and_finds_the_record(app, db, small):
    client = app.test_client()
    login(client, f"student01@{demo.DOMAIN}", demo.STUDENT_PASSWORD)
    form = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in small.realname.items()}
    response = client.form_post("/identity/", form)
    assert response.status_code in (302, 303) and response.headers["Location"].endswith("/record")
    record = matching.record_of(user(db, 1))
    assert record.status == "pending" and record.id_number == small.realname["id_number"]
    assert record.name in client.get("/record").get_data(as_text=True)


def test_guide_names_every_demo_account(small):
    text = "\n".join(small.guide)
    for n in range(1, 9):
        assert f"student{n:02d}" in text
    assert small.realname["id_number"] in text and small.realname["real_name"] in text


def test_seeding_twice_refuses_and_changes_nothing(app, db, small):
    before = (db.Record.select().count(), db.User.select().count(), db.Photo.select().count())
    with pytest.raises(demo.DemoDataExists):
        seed(app, db, "small")
    assert before == (db.Record.select().count(), db.User.select().count(), db.Photo.select().count())


def test_same_people_every_run(app_factory, app, db, small, tmp_path):
    first = sorted(db.Record.select(db.Record.student_no, db.Record.name, db.Record.id_number).tuples())
    other = app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'again.sqlite3'}")
    again = seed(other, db, "small")
    second = sorted(db.Record.select(db.Record.student_no, db.Record.name, db.Record.id_number).tuples())
    assert first == second and again.realname == small.realname


def test_full_seed_is_fast_and_realistic(app, db):
    demo._photo_pool.cache_clear()  # time the whole seed, as on a first `make run`
    began = time.perf_counter()
    result = seed(app, db, "full")
    seconds = time.perf_counter() - began
    print(f"\nfull demo seed: {seconds:.2f} s, {result.counts}")
    assert seconds < 30

    current = db.Cohort.select().order_by(db.Cohort.confirm_deadline.desc()).get()
    total = current.records.count()
    assert total == 300 and result.counts["records"] == 320

    def share(status):
        return current.records.where(db.Record.status == status).count() / total

    assert 0.50 <= share("unregistered") <= 0.60
    assert 0.15 <= share("pending") <= 0.25
    assert 0.15 <= share("confirmed") + share("confirmed_offline") <= 0.25
    assert share("correction_requested") > 0 and share("corrected") > 0
    assert 0.90 <= current.records.where(db.Record.photo.is_null(False)).count() / total <= 0.95
    other_ids = current.records.where(db.Record.id_type != idcard.RESIDENT).count()
    assert 3 <= other_ids <= 10
    minority = current.records.where(db.Record.name.contains("·")).count()
    assert 3 <= minority <= 20
    assert result.counts["unmatched_photos"] == 5
    flagged = db.Photo.select().where(db.Photo.compliance.contains("background")).count()
    assert 0.01 <= flagged / result.counts["photos"] <= 0.06
    now = db.utcnow()
    for record in db.Record.select():
        check_history(db, record, now)


@pytest.fixture
def pg_app(app_factory):
    """The app on a fresh PostgreSQL database (as in test_backends), dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
    try:
        admin = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}".strip())
    name = f"gradproof_demo_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield app_factory(DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}")
    finally:
        if not models.db.is_closed():
            models.db.close()
        if hasattr(models.db.obj, "close_all"):
            models.db.obj.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_small_seed_on_postgres(pg_app):
    result = seed(pg_app, models, "small")
    assert result.counts["records"] == 46
    assert {r.status for r in models.Record.select(models.Record.status)} == STATUSES
    now = models.utcnow()
    for record in models.Record.select():
        check_history(models, record, now)
    with pytest.raises(demo.DemoDataExists):
        seed(pg_app, models, "small")
    assert login(pg_app.test_client(), f"student02@{demo.DOMAIN}", demo.STUDENT_PASSWORD).status_code == 303


def test_demo_has_open_id_change_request_and_dispute(app, db, small):
    from services import idimages

    open_requests = list(db.Request.select().where(db.Request.status == "open"))
    kinds = {r.kind for r in open_requests}
    assert {"correction", "id_change", "id_dispute"} <= kinds
    with app.app_context():
        for r in open_requests:
            if r.kind != "correction":
                assert os.path.getsize(idimages.path(r.image_key)) > 10_000
    dispute = next(r for r in open_requests if r.kind == "id_dispute")
    assert dispute.record.account_id is None and dispute.record.status == "unregistered"
    change = next(r for r in open_requests if r.kind == "id_change")
    assert change.college.code == "cs" and change.user.id_number != change.id_number
