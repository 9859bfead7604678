"""SQLite and PostgreSQL behave the same (the operations issue).

One test per item of the issue, each written so that it fails when the two
databases would disagree; `make test` runs this file on both
(`--database sqlite|postgres`). The audit is the table in docs/OPERATIONS.md.
"""

import datetime
import json
import re
import threading

import peewee
import pytest

import models
from blueprints.admin import audit as admin_audit
from blueprints.staff import records as staff_records
from services import matching, record_table, sessions
from services import records as record_service
from tests.factories import (
    login,
    make_cohort,
    make_college,
    make_photo,
    make_record,
    make_user,
    with_realname,
)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
UTC8 = datetime.timezone(datetime.timedelta(hours=8))


def client_of(app, email):
    client = app.test_client()
    client.environ_base.update(EN)
    assert login(client, email).status_code == 303
    return client


def audit_log(app, **args):
    """(action, actor e-mail) of the admin audit log's rows for these filters."""
    with app.test_request_context():
        f = admin_audit.AuditFilters.parse(args)
        assert not f.errors
        return [(e.action, e.actor.email if e.actor_id else None) for e in admin_audit.audit_query(f)]


def shuffle_storage(model, ids):
    """Rewrite rows `ids`: PostgreSQL writes new row versions elsewhere in
    the table (SQLite keeps them in place), so a scan need not return rows
    in id order. The assertions name the order a unique tie-breaker gives;
    without one, equal keys come back in whatever order each database finds."""
    model.update(id=model.id).where(model.id.in_(ids)).execute()


def test_case_insensitive_email(app, db):
    """Addresses are lower-cased in Python (models.EmailField) on every write
    and comparison: both databases compare the same bytes with `=`."""
    user = models.User.create(email="  Mixed.Case@Example.EDU ", password_hash="x")
    assert models.User.get_by_id(user.id).email == "mixed.case@example.edu"
    assert models.User.get(models.User.email == "MIXED.case@example.edu").id == user.id
    assert models.User.by_email("mixed.CASE@EXAMPLE.edu").id == user.id
    assert models.User.select().where(models.User.email.in_(["MIXED.CASE@example.edu"])).count() == 1
    # One spelling only: the unique index sees the lower-cased form.
    with pytest.raises(peewee.IntegrityError), models.db.atomic():
        models.User.create(email="mixed.case@EXAMPLE.edu", password_hash="x")
    # Non-ASCII: SQLite's lower() and LIKE fold ASCII only, Python folds all.
    accent = models.User.create(email="Élodie@Example.edu", password_hash="x")
    assert models.User.get(models.User.email == "ÉLODIE@example.edu").id == accent.id
    assert models.User.get_by_id(accent.id).email == "élodie@example.edu"

    # Through the login form, the way people type it.
    make_user("student@example.edu")
    assert login(app.test_client(), "  STUDENT@Example.EDU").status_code == 303

    # The admin audit log's actor filter, typed in capitals (ILIKE vs LIKE).
    models.AuditEvent.log("test.parity", actor=accent)
    models.AuditEvent.log("test.parity", actor=user)
    assert audit_log(app, actor="ÉLODIE@") == [("test.parity", "élodie@example.edu")]
    assert audit_log(app, actor="MIXED") == [("test.parity", "mixed.case@example.edu")]


def test_locking_under_concurrent_confirms(app, db, monkeypatch):
    """Two taps on "正确" at once (two devices) make one confirmation.

    SQLite serialises the two transactions (BEGIN IMMEDIATE); on PostgreSQL
    both read the pending record, the second UPDATE waits for the first to
    commit, then matches no row (version check) and rolls back. The reread is
    slowed down so that on PostgreSQL both really are inside at once."""
    college = make_college()
    make_cohort()
    user = make_user("twice@example.edu", locale="en")
    record = make_record(college=college)
    make_photo(app, record)
    with_realname(user, record)
    assert matching.link(user) is not None
    version = models.Record.get_by_id(record.id).version

    clients = [client_of(app, "twice@example.edu") for _ in range(2)]
    forms = []
    for client in clients:
        html = client.get("/record").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
        shown = re.search(r'name="shown" type="hidden" value="([^"]+)"', html).group(1)
        forms.append({"csrf_token": token, "shown": shown})

    original = matching.reread

    def slow_reread(row):
        current = original(row)
        threading.Event().wait(0.3)
        return current

    monkeypatch.setattr(matching, "reread", slow_reread)
    barrier = threading.Barrier(2)
    results = [None, None]

    def tap(i):
        barrier.wait(timeout=10)
        results[i] = clients[i].post("/record/confirm", data=forms[i]).status_code

    threads = [threading.Thread(target=tap, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [303, 303]
    after = models.Record.get_by_id(record.id)
    assert after.status == "confirmed" and after.version == version + 1
    live = models.Confirmation.select().where(
        (models.Confirmation.record == record.id) & models.Confirmation.void_at.is_null()
    )
    assert live.count() == 1
    assert models.Confirmation.select().count() == 1  # the loser's insert was rolled back
    audit = models.AuditEvent.select().where(
        (models.AuditEvent.action == "record.status") & (models.AuditEvent.to_status == "confirmed")
    )
    assert audit.count() == 1


def test_date_arithmetic(app, db):
    """Dates and times are computed in Python and compared as naive UTC:
    boundaries fall the same way on both databases, and an aware datetime
    is turned into naive UTC (models.DateTimeField) before either sees it."""
    midnight = datetime.datetime(2027, 3, 17, 0, 0, 0)
    after = midnight + datetime.timedelta(microseconds=1)
    first = models.AuditEvent.create(action="t.midnight", at=midnight)
    second = models.AuditEvent.create(action="t.after", at=after)
    # Stored as naive UTC with microseconds (SQLite compares the text form).
    assert models.AuditEvent.get_by_id(second.id).at == after
    at = models.AuditEvent.at
    assert [e.id for e in models.AuditEvent.select().where(at > midnight)] == [second.id]
    assert [e.id for e in models.AuditEvent.select().where(at <= midnight)] == [first.id]
    assert models.AuditEvent.select().where(at.between(midnight, after)).count() == 2

    # The same instant written with an offset: 08:00 in UTC+8 is midnight UTC.
    local = datetime.datetime(2027, 3, 17, 8, 0, 0, tzinfo=UTC8)
    assert [e.id for e in models.AuditEvent.select().where(at == local)] == [first.id]
    assert [e.id for e in models.AuditEvent.select().where(at > local)] == [second.id]
    third = models.AuditEvent.create(action="t.aware", at=local + datetime.timedelta(hours=1))
    assert models.AuditEvent.get_by_id(third.id).at == datetime.datetime(2027, 3, 17, 1, 0, 0)

    # Session expiry at exactly `now` (<= on purge, > for live ones).
    user = make_user("dates@example.edu")
    now = models.utcnow().replace(microsecond=0)
    for sid, expires in (("gone", now), ("live", now + datetime.timedelta(microseconds=1))):
        models.UserSession.create(id=sid, user=user, expires_at=expires)
    assert [s.id for s in sessions.active(user, now=now)] == ["live"]
    sessions.purge(now=now)
    assert [s.id for s in models.UserSession.select()] == ["live"]

    # The audit log's local-day filter (Asia/Shanghai): a local day runs from
    # 16:00 UTC the day before to 16:00 UTC, start included, end excluded.
    for action, when in (
        ("t.day-before", datetime.datetime(2027, 3, 16, 15, 59, 59, 999999)),
        ("t.day-start", datetime.datetime(2027, 3, 16, 16, 0, 0)),
        ("t.day-end", datetime.datetime(2027, 3, 17, 15, 59, 59, 999999)),
        ("t.next-day", datetime.datetime(2027, 3, 17, 16, 0, 0)),
    ):
        models.AuditEvent.create(action=action, at=when)
    day = [action for action, _actor in audit_log(app, **{"from": "2027-03-17", "to": "2027-03-17"})]
    assert day == ["t.day-end", "t.aware", "t.after", "t.midnight", "t.day-start"]

    # Dates come back as dates; the cohort's day arithmetic is Python's.
    cohort = make_cohort(deadline_in_days=3)
    again = models.Cohort.get_by_id(cohort.id)
    assert type(again.confirm_deadline) is datetime.date and again.days_left() == 3
    assert (
        models.Cohort.select().where(models.Cohort.confirm_deadline == cohort.confirm_deadline).count() == 1
    )


def test_json_fields(app, db):
    """JSON is text written by json.dumps and read by json.loads (no JSON
    column types, no SQL JSON operators): what goes in comes out, non-ASCII,
    4-byte characters and control characters included (json.dumps escapes
    a NUL, which a PostgreSQL text column would refuse)."""
    report = {
        "kind": "photos",
        "counts": {"files": 3, "attached": 1, "rejected": 1},
        "rejected": [{"file": "张三\x00 😀.jpg", "reason": "不是 JPEG \t\n"}],
        "unmatched": [{"file": "a_b%c.jpg", "name": "阿依·古丽", "big": 2**53, "ratio": 0.1}],
        "manifest_missing": [],
        "nested": {"deep": [[], {}, None, True, False, ""]},
    }
    job = models.ImportJob.create(kind="photos", report=json.dumps(report, ensure_ascii=False))
    stored = models.ImportJob.get_by_id(job.id).report
    assert json.loads(stored) == report
    assert stored == json.dumps(report, ensure_ascii=False)  # byte for byte, key order too
    # Nothing is parsed in SQL: the only query on a job's JSON is by id.
    assert models.ImportJob.select().where(models.ImportJob.report.contains("阿依")).count() == 1


def test_like_escaping(app, db):
    """% and _ typed in a search box are literal characters: peewee's
    contains()/startswith()/endswith() escape them and add ESCAPE '\\',
    which both databases understand; both sides of the comparison are folded
    in Python, so SQLite's LIKE and PostgreSQL's ILIKE agree on case."""
    college = make_college()
    make_cohort()
    names = ["王%伟", "王小伟", "a_b", "axb", "Élodie", "back\\slash"]
    ids = {name: make_record(college=college, name=name).id for name in names}

    def found(q):
        query = models.Record.select(models.Record.name)
        rows = record_table.restrict(query, record_table.Filters(q=q), None)
        return sorted(name for (name,) in rows.tuples())

    assert found("王%") == ["王%伟"]
    assert found("%") == ["王%伟"]
    assert found("a_b") == ["a_b"]
    assert found("_") == ["a_b"]
    assert found("\\") == ["back\\slash"]
    assert found("ÉLODIE") == ["Élodie"] == found("élodie")
    assert found("王") == ["王%伟", "王小伟"]
    assert len(ids) == len(names)

    # Student numbers and ID numbers: prefix / suffix matches, same escaping.
    record = models.Record.get_by_id(ids["axb"])
    prefix = record_table.restrict(
        models.Record.select(), record_table.Filters(q=record.student_no[:6]), None
    )
    assert [r.id for r in prefix] == [
        r.id for r in models.Record.select().where(models.Record.student_no.startswith(record.student_no[:6]))
    ]
    assert models.Record.select().where(models.Record.student_no.startswith("2023_")).count() == 0

    # The admin audit log's actor filter: "a_b" is not a pattern.
    for email in ("a_b@example.edu", "axb@example.edu", "a%b@example.edu", "a%%b@example.edu"):
        models.AuditEvent.log("test.like", actor=make_user(email))
    assert audit_log(app, actor="a_b") == [("test.like", "a_b@example.edu")]
    assert audit_log(app, actor="A%B") == [("test.like", "a%b@example.edu")]


def test_ordering_of_equal_keys(app, db):
    """Every ORDER BY that users see ends in a unique column, and nullable
    sort keys say where NULL goes (SQLite puts NULL first, PostgreSQL last)."""
    college = make_college()
    make_cohort()
    user = make_user("order@example.edu")
    record = make_record(college=college)
    same = datetime.datetime(2027, 3, 17, 8, 0, 0)

    # The active confirmation (services/records.py) and the staff record history.
    confirmations = [
        models.Confirmation.create(record=record, user=user, fingerprint=f"f{i}", at=same).id
        for i in range(4)
    ]
    shuffle_storage(models.Confirmation, confirmations[2:])
    assert record_service.active_confirmation(record).id == confirmations[-1]
    history = staff_records.history(record)["confirmations"]
    assert [c.id for c in history] == confirmations[::-1]

    # The account page's session list (services/sessions.py).
    for sid in ("d", "c", "b", "a"):
        models.UserSession.create(
            id=sid,
            user=user,
            created_at=same,
            last_used_at=same,
            expires_at=same + datetime.timedelta(days=999),
        )
    models.UserSession.update(ip="x").where(models.UserSession.id.in_(["d", "c"])).execute()
    assert [s.id for s in sessions.active(user)] == ["a", "b", "c", "d"]

    # Photo history on the staff upload page and cohorts with the same
    # deadline in the staff records filter: newest id first.
    staff = make_user("staff@example.edu", role="staff", college=college, locale="en")
    photo = make_photo(app)
    replacers = [make_user(f"h{i}@example.edu", role="staff", college=college) for i in range(3)]
    history_ids = [
        models.PhotoHistory.create(record=record, photo=photo, replaced_at=same, replaced_by=u).id
        for u in replacers
    ]
    shuffle_storage(models.PhotoHistory, history_ids[:2])
    twin = make_cohort(name="2027届 (2)")
    shuffle_storage(models.Cohort, [models.Cohort.get(models.Cohort.name == "2027届").id])
    desk = client_of(app, staff.email)
    page = desk.get(f"/staff/records/{record.id}/photo").get_data(as_text=True)
    assert re.findall(r"h(\d)@example\.edu", page) == ["2", "1", "0"]
    page = desk.get("/staff/records").get_data(as_text=True)
    assert page.index(f'value="{twin.id}"') < page.index(f'value="{twin.id - 1}"')

    # The student's requests page: equal created_at, and each request's items in filing order.
    student = make_user("filer@example.edu", locale="en")
    requests = []
    for note in ("first", "second", "third"):
        request = models.Request.create(
            kind="correction", user=student, record=record, note=note, created_at=same
        )
        for field in ("name", "gender", "major"):
            models.CorrectionItem.create(
                request=request, field=field, old_value=f"{note}-old", new_value=f"{note}-{field}"
            )
        requests.append(request.id)
    shuffle_storage(models.Request, requests[:2])
    items = [
        i.id
        for i in models.CorrectionItem.select(models.CorrectionItem.id).where(
            models.CorrectionItem.request == requests[0]
        )
    ]
    shuffle_storage(models.CorrectionItem, items[:2])
    page = client_of(app, "filer@example.edu").get("/requests").get_data(as_text=True)
    shown = re.findall(r"(first|second|third)-(name|gender|major)", page)
    assert [f"{a}-{b}" for a, b in shown] == [
        f"{note}-{field}" for note in ("third", "second", "first") for field in ("name", "gender", "major")
    ]

    # "The" holder of an ID number and "the" open request: the oldest, not
    # whichever the database finds first. Rows are written highest id first,
    # so a PostgreSQL table scan meets the newest first.
    holders = [
        make_user(f"holder{i}@example.edu", id=i, id_type="resident", id_number="X123").id
        for i in (903, 902, 901)
    ]
    assert matching.holder_of("resident", "X123").id == min(holders)
    disputes = [
        models.Request.create(id=i, kind="id_dispute", user=i, record=record, created_at=same).id
        for i in (903, 902, 901)
    ]
    from services import casework

    assert casework.open_request("id_dispute", record=record).id == min(disputes)

    # The admin staff list: by college code, staff without a college last.
    other = make_college("外语学院", "fl")
    make_user("admin@example.edu", role="admin")
    make_user("z.cs@example.edu", role="staff", college=college)
    make_user("a.none@example.edu", role="staff")
    make_user("m.fl@example.edu", role="staff", college=other)
    html = client_of(app, "admin@example.edu").get("/admin/staff").get_data(as_text=True)
    order = re.findall(r"<th scope=\"row\">([^<]+@example\.edu)</th>", html)
    mine = ["z.cs@example.edu", "m.fl@example.edu", "a.none@example.edu"]
    assert [email for email in order if email in mine] == mine
