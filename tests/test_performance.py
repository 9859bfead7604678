"""What the speed-ups must not change: a reload answers 304 only while the
page would be the same, languages still switch, prepared queries give the
same rows as peewee's own."""

import gzip
import re

import flask_babel
import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

import models
from prepared import Param, Prepared
from services import matching
from tests.factories import PASSWORD, make_photo, make_record, make_user, sign_in, with_realname


@pytest.fixture
def linked(app, db):
    record = make_record(name="张三")
    make_photo(app, record)
    user = with_realname(make_user(), record)
    matching.link(user)
    return models.Record.get_by_id(record.id)


@pytest.fixture
def student(client, linked):
    client.set_cookie("lang", "en")
    sign_in(client)
    return client


def reload(client, etag, **headers):
    return client.get("/record", headers={"If-None-Match": etag, **headers})


def test_record_reload_answers_304_until_the_page_changes(student, linked, db):
    first = student.get("/record")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Last-Modified"]
    again = reload(student, etag)
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and "Cookie" in again.headers["Vary"]

    # Staff change a field: the reload shows the new value.
    fresh = models.Record.get_by_id(linked.id)
    with db.db.atomic():
        fresh.touch(major="数据科学")
    changed = reload(student, etag)
    assert changed.status_code == 200 and "数据科学" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag

    # The college is renamed (the record row itself does not change).
    etag = changed.headers["ETag"]
    models.College.update(name="软件学院").execute()
    renamed = reload(student, etag)
    assert renamed.status_code == 200 and "软件学院" in renamed.get_data(as_text=True)


def test_record_reload_follows_language_and_flashes(student, linked):
    etag = student.get("/record").headers["ETag"]
    student.set_cookie("lang", "zh_CN")
    chinese = reload(student, etag)
    assert chinese.status_code == 200 and "校对学籍信息和图像信息" in chinese.get_data(as_text=True)

    # A pending message is shown (and consumed), never skipped by a 304.
    etag = chinese.headers["ETag"]
    page = student.get("/record").get_data(as_text=True)
    shown = re.search(r'name="shown"[^>]*value="([^"]+)"', page).group(1)
    assert student.form_post("/record/confirm", {"shown": shown}, page="/record").status_code == 303
    after = student.get("/record", headers={"If-None-Match": etag})
    assert after.status_code == 200 and "谢谢！您的学籍信息和图像信息已确认。" in after.get_data(as_text=True)


def test_a_pending_message_is_shown_even_when_the_page_is_unchanged(student, linked):
    """A second tap of "Correct" changes nothing but flashes a message: the
    reload that follows, from a browser that compresses and holds the
    page's ETag, must show it, not get a 304 that drops it."""
    page = student.get("/record").get_data(as_text=True)
    shown = re.search(r'name="shown"[^>]*value="([^"]+)"', page).group(1)
    assert student.form_post("/record/confirm", {"shown": shown}, page="/record").status_code == 303
    student.get("/record")  # the first tap's message, read
    browser = {"Accept-Encoding": "gzip"}
    etag = student.get("/record", headers=browser).headers["ETag"]

    assert student.form_post("/record/confirm", {"shown": shown}, page="/record").status_code == 303
    again = reload(student, etag, **browser)
    assert again.status_code == 200, "the unchanged page was answered 304 and its message lost"
    assert again.headers["ETag"] == etag
    assert "your record and photo are confirmed" in gzip.decompress(again.get_data()).decode()
    assert reload(student, etag, **browser).status_code == 304  # the message was shown once


def test_photo_has_validators_and_answers_304(student, linked):
    first = student.get(f"/photo/{linked.photo_id}/jpeg")
    assert first.status_code == 200 and first.headers["Last-Modified"]
    again = student.get(f"/photo/{linked.photo_id}/jpeg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


def test_force_locale_switches_the_request_catalog_and_back(app):
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        assert _("Log in") == "Log in"
        with force_locale("zh_CN"):
            assert _("Log in") == "登录"
        assert _("Log in") == "Log in"


def test_form_messages_of_wtforms_in_both_languages(client, db):
    make_user()
    sign_in(client)
    bad = {"real_name": "张三", "gender": "M", "id_type": "nonsense", "id_number": "1", "birth_date": ""}
    client.set_cookie("lang", "en")
    english = client.form_post("/identity/", bad).get_data(as_text=True)
    client.set_cookie("lang", "zh_CN")
    chinese = client.form_post("/identity/", bad).get_data(as_text=True)
    assert "Not a valid choice." in english
    assert "Not a valid choice." not in chinese and "不是有效的选择" in chinese


def test_prepared_query_gives_peewee_rows_and_binds_each_run(app, linked, db):
    other = make_record(name="李四")
    query = Prepared(
        models.Record.select(models.Record, models.College)
        .join(models.College)
        .where(models.Record.id == Param("id"))
        .limit(1)
    )
    for record in (linked, other, linked):
        row = query.first(id=record.id)
        assert row.id == record.id and row.name == record.name
        assert row.college.name == record.college.name
    assert query.first(id=-1) is None
    assert matching.record_of(linked.account).photo.sha256 == linked.photo.sha256
    sql, params = query.sql()
    assert sql.count(models.db.obj.param) == 2 and params == [":id", 1]


def test_production_templates_compile_once_per_language_to_disk(app_factory, tmp_path):
    cache = tmp_path / "jinja-cache"
    pages = {}
    for run in (1, 2):  # the second app reads what the first compiled
        app = app_factory(TESTING=False, TEMPLATE_CACHE_DIR=str(cache))
        client = app.test_client()
        for lang, title in (("en", "Log in"), ("zh_CN", "登录")):
            client.set_cookie("lang", lang)
            html = client.get("/login").get_data(as_text=True)
            assert f"<h1>{title}</h1>" in html
            pages.setdefault(lang, set()).add(re.sub(r'(csrf_token" value="|X-CSRFToken": ")[^"]+', "", html))
        if run == 1:
            compiled = sorted(p.name for p in cache.iterdir())
            assert len(compiled) >= 4  # login.html and base.html, in each language
    assert sorted(p.name for p in cache.iterdir()) == compiled
    assert all(len(variants) == 1 for variants in pages.values())


def test_numeric_dates_match_babel_in_both_languages(app):
    import datetime

    from blueprints.templating import datetimeformat

    moments = [datetime.datetime(2027, 1, 1, 15, 59), datetime.datetime(2026, 12, 31, 16, 0, 30)]
    for lang in ("en", "zh_CN"):
        with app.test_request_context(headers={"Cookie": f"lang={lang}"}):
            for moment in moments:
                for pattern in ("yyyy-MM-dd HH:mm", "yyyy-MM-dd"):
                    for rebase in (True, False):
                        expected = flask_babel.format_datetime(moment, pattern, rebase)
                        assert datetimeformat(moment, pattern, rebase) == expected
            assert datetimeformat(moments[0], "short") == flask_babel.format_datetime(moments[0], "short")
    with app.test_request_context():
        # Naive times are UTC; the page shows Asia/Shanghai (UTC+8).
        assert datetimeformat(moments[0], "yyyy-MM-dd HH:mm") == "2027-01-01 23:59"
        assert datetimeformat(moments[1], "yyyy-MM-dd") == "2027-01-01"


def test_login_page_is_rendered_once_per_language_with_each_visitors_token(app_factory):
    app = app_factory(TESTING=False, TEMPLATE_CACHE_DIR="off")
    pages = {}
    for _visitor in range(3):
        client = app.test_client()
        for lang, title in (("zh_CN", "登录"), ("en", "Log in")):
            client.set_cookie("lang", lang)
            html = client.get("/login").get_data(as_text=True)
            assert f"<h1>{title}</h1>" in html and "\x00" not in html
            token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
            assert f'"X-CSRFToken": "{token}"' in html
            pages.setdefault(lang, set()).add(html.replace(token, "TOKEN"))
    assert all(len(variants) == 1 for variants in pages.values())
    assert len(app.extensions["gradproof_public_pages"]) == 2
    # The token in the page is this visitor's: the login form accepts it.
    make_user()
    data = {"csrf_token": token, "email": "student@example.edu", "password": PASSWORD}
    assert client.post("/login", data=data).status_code == 303
    assert "<h1>Log in</h1>" in client.get("/login?next=/record").get_data(as_text=True)
