"""The staff records table's rows and queries (services/record_table.py):
what a row shows is what the record holds, searches match literally, and a
page costs the same few queries whatever it shows."""

import datetime
import logging
import re

import flask_babel
import pytest

import models
from tests import test_staff_photos as shared
from tests.factories import make_record, without_csrf
from tests.test_staff_photos import client_for


@pytest.fixture
def world(app, db):
    return shared.world.__wrapped__(app, db)


def ids_of(html):
    return {int(i) for i in re.findall(r'<tr id="rec-(\d+)"', html)}


def page(client, **query):
    """The table page with every row drawn (?rows=all, the link without JavaScript)."""
    return client.get("/staff/records", query_string={"rows": "all", **query}).get_data(as_text=True)


def test_search_wildcards_match_themselves(app, world):
    underscore = make_record(college=world.a, name="Li_Na")
    other = make_record(college=world.a, name="LiXNa")
    percent = make_record(college=world.a, name="Wang%Fang")
    staff = client_for(app, world.staff_a.email)
    assert ids_of(page(staff, q="Li_Na")) == {underscore.id}
    assert ids_of(page(staff, q="%")) == {percent.id}
    assert ids_of(page(staff, q="lixna")) == {other.id}  # any case, as before


def test_last_change_in_the_users_time_zone_in_both_languages(app, world):
    record = make_record(college=world.a, name="周杰", status="pending")
    moment = datetime.datetime(2026, 6, 30, 23, 30)
    models.Record.update(changed_at=moment).where(models.Record.id == record.id).execute()
    for language in ("en", "zh-CN"):
        staff = client_for(app, world.staff_a.email)
        staff.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        row = re.search(rf'<tr id="rec-{record.id}".*?</tr>', page(staff), re.S).group(0)
        # Shanghai is 8 hours ahead: the next day, as Babel's own formatter says.
        assert "<small>07-01 07:30</small>" in row
        with app.test_request_context(headers={"Accept-Language": language}):
            assert flask_babel.format_datetime(moment, "MM-dd HH:mm") == "07-01 07:30"


def test_rows_show_the_records_own_values(app, world):
    record = make_record(college=world.a, name="许<b>", status="confirmed")
    staff = client_for(app, world.staff_a.email)
    row = re.search(rf'<tr id="rec-{record.id}".*?</tr>', page(staff), re.S).group(0)
    assert "许&lt;b&gt;" in row and "<b>" not in row
    assert record.student_no in row and record.id_number not in row  # the ID number masked
    assert '<span class="st st-confirmed">Confirmed</span>' in row
    assert '<option value="confirmed" selected>Confirmed</option>' in row
    assert 'aria-label="Status of 许&lt;b&gt;"' in row
    assert f'name="version" value="{record.version}"' in row
    assert "must then check again" in row  # hx-confirm: leaving a confirmation asks first


def test_a_page_runs_the_same_few_queries_whatever_it_shows(app, world, caplog):
    for n in range(30):
        make_record(college=world.a, name=f"王{n:02d}")
    make_record(college=world.a, name="李白")
    staff = client_for(app, world.staff_a.email)
    page(staff)  # the session's first page view

    def queries(**query):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="peewee"):
            html = page(staff, **query)
        texts = [r.msg[0] for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]
        return ids_of(html), [t for t in texts if "record" in t.lower()]

    many, with_wang = queries(q="王")
    one, with_li = queries(q="李")
    assert len(many) == 30 and len(one) == 1
    # The same SQL text, the search bound as a value: no query per row.
    assert with_wang == with_li and 2 <= len(with_wang) <= 3
    assert not any("王" in t or "李" in t for t in with_wang)


@pytest.mark.parametrize("who", ["staff_a", "admin"])
def test_a_page_draws_each_row_as_the_row_template_does(app, world, who):
    """The page fills a skeleton per kind of row; the inline toggle's row
    fragment renders the template itself: the two are the same bytes. So
    are the later rows of a page that the table fetches by id."""
    from tests.factories import make_photo

    kinds = []
    for n, status in enumerate(("pending", "confirmed", "confirmed_offline", "unregistered", "corrected")):
        record = make_record(college=world.a, name=f"李{{}}{n}&'\"", status=status)
        if n % 2:
            photo = make_photo(app, record, seed=80 + n)
            if n == 3:
                models.Photo.update(compliance="dimensions,background").where(
                    models.Photo.id == photo.id
                ).execute()
        kinds.append(record.id)
    staff = client_for(app, getattr(world, who).email)
    for language in ("en", "zh-CN"):
        staff.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        html = page(staff)
        later = staff.get(
            "/staff/records/rows",
            query_string={"ids": ",".join(map(str, kinds)), "next": "/staff/records"},
            headers={"HX-Request": "true"},
        ).get_data(as_text=True)
        for record_id in kinds:
            row = re.search(rf'<tr id="rec-{record_id}".*?</tr>', html, re.S).group(0)
            fetched = re.search(rf'<tr id="rec-{record_id}".*?</tr>', later, re.S).group(0)
            alone = staff.get(f"/staff/records/{record_id}/row", headers={"HX-Request": "true"})
            # The CSRF token is signed with the time of each request.
            same = [without_csrf(h) for h in (alone.get_data(as_text=True), row, fetched)]
            assert same[0].strip() == same[1] == same[2]
