"""Staff dashboard and records table: search, sort, pages, the inline status
toggle (page and fragment, conflicts, refusals), the row detail, bulk actions."""

import re
import time

import brotli
import pytest

import models
from tests.conftest import text_of
from tests.factories import (
    make_cohort,
    make_college,
    make_photo,
    make_record,
    make_user,
    setup_world,
    sign_in,
    without_csrf,
)

VERSION_RE = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture
def world(db):
    return setup_world()


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def staff_a(en, world):
    sign_in(en, "staff.a@example.edu")
    return en


@pytest.fixture
def admin(en, world):
    sign_in(en, "admin@example.edu")
    return en


def html(response):
    return response.get_data(as_text=True)


def toggle(client, record, to, version=None, reason="", htmx=False, next_url="/staff/records?q=x", **extra):
    data = {
        **extra,
        "csrf_token": client.csrf("/staff/records"),
        "to": to,
        "reason": reason,
        "version": record.version if version is None else version,
        "next": next_url,
    }
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/staff/records/{record.id}/status", data=data, headers=headers)


# -- inline toggle ------------------------------------------------------------------


def test_toggle_without_javascript_redirects_back_with_the_query(staff_a, world):
    cs, _fl, _cohort = world
    record = make_record(college=cs, status="pending")
    r = toggle(staff_a, record, "confirmed_offline", reason="signed the paper form")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/records?q=x"
    saved = models.Record.get_by_id(record.id)
    assert saved.status == "confirmed_offline" and saved.version == record.version + 1
    assert saved.changed_by.email == "staff.a@example.edu"
    offline = models.Confirmation.get(models.Confirmation.record == record)
    assert (
        offline.kind == "offline" and offline.user.email == "staff.a@example.edu" and offline.void_at is None
    )
    event = models.AuditEvent.get(models.AuditEvent.action == "record.status")
    assert (event.from_status, event.to_status, event.reason) == (
        "pending",
        "confirmed_offline",
        "signed the paper form",
    )


def test_toggle_next_must_be_local(staff_a, world):
    record = make_record(college=world[0], status="pending")
    r = toggle(staff_a, record, "confirmed_offline", reason="paper", next_url="https://evil.example/x")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/records"


def test_toggle_fragment_is_the_new_row_only_and_small(staff_a, world):
    record = make_record(college=world[0], status="pending")
    r = toggle(staff_a, record, "confirmed_offline", reason="paper form", htmx=True)
    body = html(r)
    assert r.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith(f'<tr id="rec-{record.id}"') and body.rstrip().endswith("</tr>")
    assert "Confirmed offline" in body and f'name="version" value="{record.version + 1}"' in body
    # The new row offers what staff may do from confirmed_offline: back to pending / unregistered.
    assert '<option value="pending">' in body and '<option value="confirmed_offline">' not in body
    assert r.headers["Vary"].count("HX-Request")
    compressed = brotli.compress(r.get_data(), quality=5)
    assert len(compressed) <= 2048, len(compressed)
    served = staff_a.post(
        f"/staff/records/{record.id}/status",
        data={"csrf_token": staff_a.csrf("/staff/records"), "to": "pending", "version": record.version + 1},
        headers={"HX-Request": "true", "Accept-Encoding": "br"},
    )
    assert served.headers.get("Content-Encoding") == "br" and len(served.get_data()) <= 2048


def test_concurrent_change_returns_current_row_and_overwrites_nothing(staff_a, world):
    cs = world[0]
    record = make_record(college=cs, status="pending")
    drawn = VERSION_RE.search(html(staff_a.get("/staff/records"))).group(1)
    assert int(drawn) == record.version
    other = models.User.by_email("other.a@example.edu")
    with models.db.atomic():
        models.Record.get_by_id(record.id).transition(
            "confirmed_offline", actor=other, reason="at the counter"
        )
    before = models.Record.get_by_id(record.id)
    r = toggle(staff_a, record, "confirmed_offline", version=drawn, reason="mine", htmx=True)
    body = html(r)
    assert r.status_code == 409 and "<html" not in body
    assert "Changed in the meantime by other.a@example.edu" in body and "Nothing was overwritten" in body
    assert 'class="conflict"' in body and "Confirmed offline" in body
    assert f'name="version" value="{before.version}"' in body  # the row now carries the current version
    after = models.Record.get_by_id(record.id)
    assert (after.status, after.version, after.changed_by_id) == (before.status, before.version, other.id)
    assert models.Confirmation.select().count() == 0
    assert models.AuditEvent.select().where(models.AuditEvent.reason == "mine").count() == 0


def test_conflict_without_javascript_is_a_409_page(staff_a, world):
    record = make_record(college=world[0], status="pending")
    r = toggle(staff_a, record, "confirmed_offline", version=record.version + 5, reason="x")
    assert r.status_code == 409 and "<html" in html(r) and "Changed in the meantime" in html(r)


def test_confirmed_offline_needs_a_reason(staff_a, world):
    record = make_record(college=world[0], status="pending")
    r = toggle(staff_a, record, "confirmed_offline", reason="   ", htmx=True)
    assert r.status_code == 400 and "Please give a reason" in html(r) and 'class="refused"' in html(r)
    assert models.Record.get_by_id(record.id).status == "pending"


def test_illegal_transition_is_refused(staff_a, world):
    record = make_record(college=world[0], status="pending")
    r = toggle(staff_a, record, "confirmed", htmx=True)
    assert r.status_code == 400 and "cannot change from “Pending” to “Confirmed”" in html(r)
    r = toggle(staff_a, record, "bogus")
    assert r.status_code == 400 and "<html" in html(r)
    assert models.Record.get_by_id(record.id).version == record.version


def test_back_to_pending_voids_the_confirmation_and_tells_the_student(staff_a, world, smtp):
    student = make_user("li@example.edu")
    record = make_record(college=world[0], status="confirmed", account=student)
    models.Confirmation.create(record=record, user=student, fingerprint="x")
    r = toggle(staff_a, record, "pending", reason="photo replaced")
    assert r.status_code == 200 and "Change the status of" in html(r)  # without JS: asked first
    assert models.Record.get_by_id(record.id).status == "confirmed"
    r = toggle(staff_a, record, "pending", reason="photo replaced", confirmed="1")
    assert r.status_code == 303
    assert models.Record.get_by_id(record.id).status == "pending"
    conf = models.Confirmation.get()
    assert conf.void_at is not None and conf.void_reason == "photo replaced"
    assert smtp.wait(1)[0]["To"] == "li@example.edu"


def test_offline_back_to_pending_voids_the_offline_confirmation(staff_a, world):
    record = make_record(college=world[0], status="pending")
    toggle(staff_a, record, "confirmed_offline", reason="paper")
    record = models.Record.get_by_id(record.id)
    assert toggle(staff_a, record, "pending", reason="wrong student", confirmed="1").status_code == 303
    assert models.Confirmation.get().void_reason == "wrong student"


# -- detail ---------------------------------------------------------------------------


def test_detail_page_and_fragment(app, staff_a, world):
    cs = world[0]
    student = make_user("li@example.edu")
    record = make_record(college=cs, status="pending", account=student, name="李华")
    photo = make_photo(app, record)
    models.Confirmation.create(
        record=record, user=student, fingerprint="x", void_at=models.utcnow(), void_reason="correction filed"
    )
    with models.db.atomic():
        models.Record.get_by_id(record.id).transition("confirmed_offline", reason="first", actor=None)
        models.Record.get_by_id(record.id).transition("pending", reason="second", actor=None)
    page = html(staff_a.get(f"/staff/records/{record.id}"))
    assert "<html" in page and record.id_number in page  # full ID number for staff
    assert f"/photo/{photo.id}/webp" in page and "correction filed" in page and "void since" in page
    assert page.index("second") < page.index("first")  # newest first
    fragment = staff_a.get(f"/staff/records/{record.id}", headers={"HX-Request": "true"})
    body = html(fragment)
    assert "<html" not in body and body.count("<tr") == 2 and 'class="detail"' in body
    collapsed = html(staff_a.get(f"/staff/records/{record.id}/row", headers={"HX-Request": "true"}))
    assert collapsed.count("<tr") == 1 and "detail" not in collapsed
    assert staff_a.get(f"/staff/records/{record.id}/row").status_code == 303


# -- table: search, filters, sort, pages ---------------------------------------------------


def test_search_by_name_student_number_and_id_digits(staff_a, world):
    cs, fl, _ = world
    zhang = make_record(college=cs, name="张伟", student_no="2023010001")
    make_record(college=cs, name="王芳", student_no="2023010002")
    make_record(college=fl, name="张敏", student_no="2023020001")  # other college: never shown
    for query in ("张", "2023010001", "20230100", zhang.id_number[-4:]):
        body = html(staff_a.get("/staff/records", query_string={"q": query}))
        assert "张伟" in body and "张敏" not in body, query
    assert "王芳" not in html(staff_a.get("/staff/records", query_string={"q": "张"}))
    assert "No records match" in html(staff_a.get("/staff/records", query_string={"q": "赵"}))


def test_search_fragment_and_page(staff_a, world):
    make_record(college=world[0], name="张伟")
    page = html(staff_a.get("/staff/records?q=张"))
    assert "<html" in page and 'id="results"' in page and "hx-push-url" in page
    fragment = staff_a.get("/staff/records?q=张", headers={"HX-Request": "true"})
    body = html(fragment)
    assert "<html" not in body and 'id="results"' not in body and "张伟" in body and "<tbody>" in body
    assert 'name="q" value="张" form="bulk"' in body  # the bulk form follows the new filter
    restore = staff_a.get(
        "/staff/records?q=张", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in html(restore)


def test_filters(app, admin, world):
    cs, fl, _ = world
    with_photo = make_record(college=cs, name="有照片", status="pending")
    make_photo(app, with_photo)
    make_record(college=fl, name="没照片", status="confirmed")
    asking = make_record(college=fl, name="有申请")
    models.Request.create(kind="correction", user=make_user("x@example.edu"), record=asking, college=fl)
    assert "有照片" in html(admin.get("/staff/records?photo=yes")) and "没照片" not in html(
        admin.get("/staff/records?photo=yes")
    )
    body = html(admin.get("/staff/records?status=confirmed"))
    assert "没照片" in body and "有照片" not in body
    body = html(admin.get(f"/staff/records?college={fl.id}"))
    assert "没照片" in body and "有照片" not in body
    body = html(admin.get("/staff/records?request=yes"))
    assert "有申请" in body and "没照片" not in body


def test_pagination_and_sort(staff_a, world):
    cs = world[0]
    for i in range(120):
        make_record(college=cs, name=f"学生{i:03d}", student_no=f"2023{i:06d}")
    first = html(staff_a.get("/staff/records?sort=student_no&rows=all"))
    assert (
        first.count('name="ids"') == 100 and "Page 1 of 2" in first and "?sort=student_no&amp;page=2" in first
    )
    last = html(staff_a.get("/staff/records?sort=student_no&page=2"))
    assert last.count('name="ids"') == 20 and "2023000119" in last and "2023000099" not in last
    desc = html(staff_a.get("/staff/records?sort=student_no&dir=desc"))
    numbers = re.findall(r"<td>(2023\d{6})</td>", desc)
    assert numbers[0] == "2023000119" and numbers == sorted(numbers, reverse=True)
    by_name = re.findall(r">(学生\d{3})</a>", html(staff_a.get("/staff/records?sort=name&dir=desc&page=2")))
    assert by_name[0] == "学生019" and len(by_name) == 20
    assert "Page 2 of 2" in html(staff_a.get("/staff/records?page=99"))


def test_a_page_draws_a_first_screen_and_fetches_the_rest_when_shown(staff_a, world):
    cs = world[0]
    for i in range(120):
        make_record(college=cs, name=f"学生{i:03d}", student_no=f"2023{i:06d}")
    first = html(staff_a.get("/staff/records?sort=student_no&dir=desc"))
    drawn = re.findall(r"<td>(2023\d{6})</td>", first)
    assert drawn == [f"2023{i:06d}" for i in range(119, 99, -1)]  # the first 20 of the page
    # The placeholder fetches the page's other 80 rows by id when it scrolls
    # near (htmx); its plain link draws the whole page (no JavaScript).
    later = re.search(
        r'<tbody class="later" hx-get="([^"]+)" hx-trigger="intersect once[^"]*" hx-swap="outerHTML">', first
    )
    assert later and "Show the other 80 records of this page" in first
    link = re.search(r'<a href="/staff/records\?([^"]+)">Show the other', first).group(1).split("&amp;")
    assert sorted(link) == ["dir=desc", "rows=all", "sort=student_no"]
    url = later.group(1).replace("&amp;", "&")
    assert staff_a.get(url).status_code == 404  # a fragment, for htmx only
    rest = html(staff_a.get(url, headers={"HX-Request": "true"}))
    assert "<html" not in rest and rest.count("<tbody>") == 80
    assert re.findall(r"<td>(2023\d{6})</td>", rest) == [f"2023{i:06d}" for i in range(99, 19, -1)]
    # The rows as the whole page draws them, the same bytes (the same next= in
    # actions) apart from the CSRF tokens, which carry the second of each request.
    every = without_csrf(html(staff_a.get("/staff/records?sort=student_no&dir=desc&rows=all")))
    assert without_csrf(rest).strip() in every and 'tbody class="later"' not in every
    # Another college's ids are not shown.
    other = make_record(college=world[1], name="别院", student_no="2024000001")
    foreign = html(staff_a.get(f"/staff/records/rows?ids={other.id}", headers={"HX-Request": "true"}))
    assert "别院" not in foreign and "<tbody>" not in foreign


def test_thumbnails_of_the_first_screen_load_with_the_page_and_later_ones_when_shown(app, staff_a, world):
    """The rows a page draws first are on the first screen: their thumbnails
    load with the page (painted with it, not one repaint per thumbnail);
    the rows fetched later, and the whole page without JavaScript, load
    theirs as they scroll into view."""
    cs = world[0]
    for i in range(22):
        make_photo(app, make_record(college=cs, name=f"学生{i:03d}", student_no=f"2023{i:06d}"), seed=i + 1)
    first = html(staff_a.get("/staff/records?sort=student_no"))
    assert re.findall(r'<img src="/photo/\d+/mini"[^>]* loading="(\w+)"', first) == ["eager"] * 20
    url = re.search(r'<tbody class="later" hx-get="([^"]+)"', first).group(1).replace("&amp;", "&")
    rest = html(staff_a.get(url, headers={"HX-Request": "true"}))
    assert re.findall(r'<img src="/photo/\d+/mini"[^>]* loading="(\w+)"', rest) == ["lazy"] * 2
    every = html(staff_a.get("/staff/records?sort=student_no&rows=all"))
    assert re.findall(r'<img src="/photo/\d+/mini"[^>]* loading="(\w+)"', every) == ["lazy"] * 22


def test_compliance_recheck_and_filter(app, admin, world):
    from services import photos, photostore

    cs = world[0]
    good = make_record(college=cs, name="标准照")
    make_photo(app, good)
    red = make_record(college=cs, name="红底照")
    with app.app_context():
        portrait = photos.make_portrait_set(photos.placeholder_portrait(3, background=(200, 30, 30)))
        key = photostore.save(portrait)
    photo = models.Photo.create(sha256=portrait.sha256, key=key)
    models.Record.update(photo=photo).where(models.Record.id == red.id).execute()
    r = admin.form_post("/staff/compliance", {}, page="/staff/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/imports/")
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    for _ in range(600):  # a background job: wait up to 30 s
        if models.ImportJob.get_by_id(job_id).status in ("done", "failed"):
            break
        time.sleep(0.05)
    assert "2 photos checked, 1 with problems" in html(admin.get(r.headers["Location"]))
    assert models.Photo.get_by_id(photo.id).compliance == "background"
    assert models.AuditEvent.select().where(models.AuditEvent.action == "photo.compliance").count() == 1
    body = html(admin.get("/staff/records?problem=yes"))
    assert "红底照" in body and "标准照" not in body and "background must be light blue" in body


# -- bulk -------------------------------------------------------------------------------


def bulk(client, ids=(), htmx=False, **data):
    data = {"csrf_token": client.csrf("/staff/records"), "ids": [str(i) for i in ids], **data}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/staff/records/bulk", data=data, headers=headers)


def test_bulk_reminder_once_a_day(staff_a, world, smtp):
    cs = world[0]
    people = {}
    for name, status, email in [
        ("待确认", "pending", "p@example.edu"),
        ("已勘误", "corrected", "c@example.edu"),
        ("已确认", "confirmed", "done@example.edu"),
        ("勘误中", "correction_requested", "cr@example.edu"),
        ("未注册", "unregistered", None),
    ]:
        account = make_user(email) if email else None
        people[name] = make_record(college=cs, name=name, status=status, account=account)
    ids = [r.id for r in people.values()]
    r = bulk(staff_a, ids, action="remind", next="/staff/records?status=pending")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/records?status=pending"
    mails = smtp.wait(2)
    assert sorted(m["To"] for m in mails) == ["c@example.edu", "p@example.edu"]
    # The students' accounts are in Chinese (the default): 截止日期 = deadline.
    assert "/record" in text_of(mails[0]) and "截止日期" in text_of(mails[0])
    toast = html(staff_a.get("/staff/records"))
    assert "Reminders sent: 2." in toast
    assert "already confirmed: 1" in toast and "no linked account: 1" in toast
    assert "correction being processed: 1" in toast
    smtp.clear()
    again = bulk(staff_a, ids, action="remind", htmx=True)
    body = html(again)
    assert again.status_code == 200 and "<html" not in body and '<hx-partial hx-target="#flash"' in body
    assert "Reminders sent: 0." in body and "already reminded today: 2" in body
    assert models.OutboxMail.select().where(models.OutboxMail.kind == "reminder").count() == 2
    assert models.AuditEvent.select().where(models.AuditEvent.action == "record.remind").count() == 2


def test_bulk_status_change_skips_with_reasons(staff_a, world):
    cs, fl, _ = world
    pending = make_record(college=cs, status="pending")
    confirmed = make_record(college=cs, status="confirmed")
    foreign = make_record(college=fl, status="confirmed")
    r = bulk(staff_a, [pending.id, confirmed.id, foreign.id], action="pending", htmx=True)
    body = html(r)
    assert "Status set to “Pending”: 1." in body
    assert "already has this status: 1" in body and "not found: 1" in body
    assert models.Record.get_by_id(confirmed.id).status == "pending"
    assert models.Record.get_by_id(foreign.id).status == "confirmed"
    r = bulk(staff_a, [pending.id], action="unregistered", htmx=True)
    assert "not allowed from “Pending”: 1" in html(r)
    r = bulk(staff_a, [pending.id], action="confirmed_offline", htmx=True)
    assert r.status_code == 400 and "Please give a reason" in html(r)
    assert models.Record.get_by_id(pending.id).status == "pending"


def test_bulk_all_matching_the_filter(staff_a, world):
    cs, fl, _ = world
    zhangs = [make_record(college=cs, name=f"张{i}", status="pending") for i in range(3)]
    wang = make_record(college=cs, name="王五", status="pending")
    foreign = make_record(college=fl, name="张外", status="pending")
    r = bulk(staff_a, [], all="1", q="张", action="confirmed_offline", reason="paper list")
    assert r.status_code == 303
    assert all(models.Record.get_by_id(z.id).status == "confirmed_offline" for z in zhangs)
    assert models.Record.get_by_id(wang.id).status == "pending"
    assert models.Record.get_by_id(foreign.id).status == "pending"
    assert models.Confirmation.select().where(models.Confirmation.kind == "offline").count() == 3


def test_bulk_is_rate_limited_per_staff_member(app_factory, db):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STAFF_BULK="2 per minute")
    client = app.test_client()
    setup_world()
    sign_in(client, "staff.a@example.edu")
    record = make_record(college=models.College.get(code="cs"), status="pending")
    codes = [bulk(client, [record.id], action="remind").status_code for _ in range(3)]
    assert codes == [303, 303, 429]
    other = app.test_client()
    sign_in(other, "other.a@example.edu")
    assert bulk(other, [record.id], action="remind").status_code == 303


# -- dashboard -------------------------------------------------------------------------------

MIX = {
    "cs": {
        "unregistered": 3,
        "pending": 2,
        "confirmed": 4,
        "confirmed_offline": 1,
        "correction_requested": 1,
    },
    "fl": {"pending": 1, "confirmed": 1, "corrected": 2},
}


def counts_in(page, college_key):
    row = re.search(rf'<tr[^>]*data-college="{college_key}">(.*?)</tr>', page, re.S).group(1)
    return dict(re.findall(r'data-status="(\w+)">([^<]+)<', row))


def test_dashboard_counts(admin, world):
    cs, fl, cohort = world
    later = make_cohort("2028届", deadline_in_days=300, recheck_in_days=310)
    for college, mix in ((cs, MIX["cs"]), (fl, MIX["fl"])):
        for status, n in mix.items():
            for _ in range(n):
                make_record(college=college, cohort=cohort, status=status)
    make_record(college=cs, cohort=later, status="pending")  # another cohort: not counted
    make_college("空学院", "empty")
    page = html(admin.get("/staff/"))
    assert "selected>2027届" in page.replace(f'<option value="{cohort.id}"', "")
    expected_cs = {
        "unregistered": "3",
        "pending": "2",
        "confirmed": "4",
        "confirmed_offline": "1",
        "correction_requested": "1",
        "corrected": "0",
        "total": "11",
        "percent": "45 %",
    }
    assert counts_in(page, cs.id) == expected_cs
    assert counts_in(page, fl.id) == {
        "unregistered": "0",
        "pending": "1",
        "confirmed": "1",
        "confirmed_offline": "0",
        "correction_requested": "0",
        "corrected": "2",
        "total": "4",
        "percent": "25 %",
    }
    empty = models.College.get(code="empty")
    assert counts_in(page, empty.id)["total"] == "0"
    assert counts_in(page, "total") == {
        "unregistered": "3",
        "pending": "3",
        "confirmed": "5",
        "confirmed_offline": "1",
        "correction_requested": "1",
        "corrected": "2",
        "total": "15",
        "percent": "40 %",
    }
    assert '<progress max="11" value="5">' in page
    assert "14 days left" in page and "opens in 21 days" in page
    other = html(admin.get(f"/staff/?cohort={later.id}"))
    assert counts_in(other, cs.id)["pending"] == "1" and counts_in(other, "total")["total"] == "1"


def test_dashboard_for_staff_shows_own_college_and_queues(staff_a, world):
    cs, fl, _cohort = world
    make_record(college=cs, status="pending")
    make_record(college=fl, status="pending")
    student = make_user("s@example.edu")
    models.Request.create(kind="correction", user=student, college=cs)
    models.Request.create(kind="correction", user=student, college=cs)
    models.Request.create(kind="id_change", user=student, college=cs)
    models.Request.create(kind="correction", user=student, college=cs, status="accepted")
    models.Request.create(kind="id_dispute", user=student, college=fl)
    page = html(staff_a.get("/staff/"))
    assert f'data-college="{cs.id}"' in page and f'data-college="{fl.id}"' not in page
    assert "外语学院" not in page and counts_in(page, "total")["total"] == "1"
    queues = dict(re.findall(r'data-queue="(\w+)">(\d+)<', page))
    assert queues == {"correction": "2", "id_change": "1", "id_dispute": "0"}
    assert 'href="/staff/queues/correction"' in page


def test_default_cohort_is_the_nearest_deadline_not_over(db):
    from services import dashboard

    old = make_cohort("2025届", deadline_in_days=-40, recheck_in_days=-30)
    soon = make_cohort("2026届", deadline_in_days=5, recheck_in_days=10)
    later = make_cohort("2027届", deadline_in_days=60, recheck_in_days=70)
    recheck = make_cohort("2024届", deadline_in_days=-3, recheck_in_days=0, recheck_days=2)
    assert old.phase() == "over" and recheck.phase() == "recheck"
    assert dashboard.default_cohort([old, soon, later, recheck]) == recheck
    assert dashboard.default_cohort([old, soon, later]) == soon
    assert dashboard.default_cohort([old]) == old


def test_staff_and_admin_land_on_the_dashboard(en, world):
    sign_in(en, "staff.a@example.edu")
    assert en.get("/").headers["Location"] == "/staff/"


def test_create_staff_command(runner, db, world):
    result = runner.invoke(
        args=["create-staff", "New.Staff@Example.edu", "--college", "fl"],
        input="tulip lantern meadow\ntulip lantern meadow\n",
    )
    assert result.exit_code == 0, result.output
    user = models.User.by_email("new.staff@example.edu")
    assert user.role == "staff" and user.college.code == "fl" and user.is_activated
    unknown = runner.invoke(
        args=["create-staff", "x@example.edu", "--college", "nope"],
        input="tulip lantern meadow\ntulip lantern meadow\n",
    )
    assert unknown.exit_code != 0 and "cs, fl" in unknown.output
    weak = runner.invoke(args=["create-staff", "y@example.edu", "--college", "cs"], input="123\n123\n")
    assert weak.exit_code != 0 and models.User.by_email("y@example.edu") is None


def test_dashboard_runs_one_aggregate_query_whatever_the_number_of_colleges(admin, world, caplog):
    import logging

    def record_queries():
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="peewee"):
            assert admin.get("/staff/").status_code == 200
        return [str(r.msg[0]) for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]

    cohort = world[2]
    make_record(college=world[0], cohort=cohort, status="pending")
    few = record_queries()
    for i in range(5):
        make_record(college=make_college(f"学院{i}", f"c{i}"), cohort=cohort, status="confirmed")
    many = record_queries()
    assert few and len(many) == len(few)
    assert sum("GROUP BY" in q and '"record"' in q for q in many) == 1
    assert sum("GROUP BY" in q and '"request"' in q for q in many) == 1
