"""Two web servers and one worker on PostgreSQL + Redis, as several
machines would run them: register on one server, activate on the other,
an admin imports the registry through the queue, the student confirms.

Skips with the reason when PostgreSQL (127.0.0.1:5432) or Redis
(127.0.0.1:6379) is not reachable. The database is a fresh one, dropped
afterwards; the Redis databases used are flushed before and after.
"""

import csv
import datetime
import io
import random
import re
import secrets
import urllib.parse
import zipfile

import pytest
from conftest import link_in
from queue_fixtures import PASSWORD, make_user, redis_url, wait_for

from services import idcard, photos

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"


@pytest.fixture
def scratch_pg():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}".strip())
    name = f"gradproof_queue_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        import models

        database = models.db.obj
        if database is not None and hasattr(database, "close_all"):
            database.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def scratch_redis():
    if redis_url() is None:
        pytest.skip("Redis not reachable on 127.0.0.1:6379")
    import redis

    urls = redis_url(db=13), redis_url(db=12)
    for url in urls:
        redis.Redis.from_url(url).flushdb()
    yield urls
    for url in urls:
        redis.Redis.from_url(url).flushdb()


def registry_csv(person):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["学号", "姓名", "性别", "证件类型", "证件号码", "出生日期", "学院", "专业", "层次",
                     "学习形式", "入学日期", "预计毕业日期", "届别"])  # fmt: skip
    writer.writerow([person["student_no"], person["name"], "男", "居民身份证", person["id_number"],
                     person["birth"].isoformat(), "计算机学院", "软件工程", "本科", "普通全日制",
                     "2023-09-01", "2027-06-30", "2027届"])  # fmt: skip
    return out.getvalue().encode("utf-8")


def test_two_web_servers_and_a_worker_on_postgres_and_redis(
    stack_factory, local_db, scratch_pg, scratch_redis, smtp
):
    queue_url, limits_url = scratch_redis
    stack = stack_factory(
        database_url=scratch_pg,
        huey_url=queue_url,
        RATELIMIT_STORAGE_URI=limits_url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
    )
    models = local_db(scratch_pg)
    make_user(models, "admin@example.edu")
    first, second = stack.web(workers=1), stack.web(workers=1)
    stack.worker()

    student = stack.web_client(first)
    status, _html, headers = student.post(
        "/register",
        {"email": "new.student@example.edu", "password": PASSWORD, "confirm": PASSWORD, "accept_terms": "y"},
    )
    assert status == 303, status
    link = urllib.parse.urlsplit(link_in(smtp.wait(1, timeout=30)[0], "/activate/")).path

    student.base = second  # the same browser, now served by the other server
    status, _html, _headers = student.post(link, {})
    assert status == 303
    assert models.User.by_email("new.student@example.edu").activated_at is not None

    born = datetime.date(2004, 3, 5)
    person = {
        "student_no": "2023990001",
        "name": "王小明",
        "birth": born,
        "id_number": idcard.generate_resident(random.Random(7), birth=born, gender="M"),
    }
    admin = stack.web_client(second)
    assert admin.post("/login", {"email": "admin@example.edu", "password": PASSWORD})[0] == 303
    status, _html, headers = admin.post_multipart(
        "/admin/imports/students",
        {},
        {"registry": ("registry.csv", registry_csv(person))},
        page="/admin/imports",
    )
    assert status == 303, status
    job_id = int(re.search(r"/admin/imports/(\d+)", headers["Location"]).group(1))
    wait_for(lambda: models.ImportJob.get_by_id(job_id).status == "done", 60, message="the registry import")
    assert models.Record.get(models.Record.student_no == "2023990001").name == "王小明"
    photos_zip = io.BytesIO()
    with zipfile.ZipFile(photos_zip, "w") as archive:
        archive.writestr(f"{person['id_number']}.jpg", photos.placeholder_portrait(5))
    admin.base = first
    status, _html, headers = admin.post_multipart(
        "/admin/imports/photos", {}, {"photos": ("photos.zip", photos_zip.getvalue())}, page="/admin/imports"
    )
    assert status == 303, status
    job_id = int(re.search(r"/admin/imports/(\d+)", headers["Location"]).group(1))
    wait_for(lambda: models.ImportJob.get_by_id(job_id).status == "done", 60, message="the photo import")

    student.base = first
    assert student.post("/login", {"email": "new.student@example.edu", "password": PASSWORD})[0] == 303
    status, _html, headers = student.post(
        "/identity/",
        {"real_name": "王小明", "gender": "M", "id_type": "resident", "id_number": person["id_number"],
         "nickname": "", "birth_date": born.isoformat(), "province": "210000", "city": "210200"},
    )  # fmt: skip
    assert status == 303 and headers["Location"].endswith("/record"), status

    student.base = second
    _status, html, _headers = student.get("/record")
    shown = re.search(r'name="shown" type="hidden" value="([0-9a-f]+)"', html) or re.search(
        r'id="shown" name="shown" type="hidden" value="([0-9a-f]+)"', html
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    status, _html, _headers = student.request(
        "/record/confirm", data={"csrf_token": token, "shown": shown.group(1)}
    )
    assert status == 303
    record = models.Record.get(models.Record.student_no == "2023990001")
    assert models.Confirmation.select().where(models.Confirmation.record == record).count() == 1
