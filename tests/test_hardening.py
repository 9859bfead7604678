"""The findings of the adversarial review (issue 11), one test each.

Each of these failed before the fix: a 500, a file left behind, a header or
a file mode that exposed personal data, a name that could display reversed.
"""

import datetime
import functools
import io
import os
import stat
import subprocess
import sys
import textwrap
import zipfile

import peewee
import pytest
from PIL import Image

import models
from services import idcard, idimages, photos
from services import importing as imports
from services.casework import filing as reqs
from services.exports import records as exports
from services.importing import photo_import as import_photos
from tests import imagegen
from tests.factories import (
    make_cohort,
    make_college,
    make_photo,
    make_record,
    make_user,
    sign_in,
    with_realname,
)
from tests.test_problems import files, post_upload, unmatched

BIG = str(2**64)
HUGE = "9" * 10_000


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def id_dir_files(app):
    with app.app_context():
        folder = idimages.root()
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def card(w=900, h=600, seed=1):
    """A phone-like JPEG of an ID card side (noise, so it is not flat)."""
    return imagegen.big_camera_jpeg(w, h, seed=seed)


def new_id(seed=3):
    return idcard.generate_resident(__import__("random").Random(seed))


# -- the 500s -------------------------------------------------------------------------


def test_id_change_without_note_field_is_filed(app, en, db):
    unmatched(app, en, real_name="其他人")
    data = files(card(), id_number=new_id())
    del data["note"]
    r = post_upload(en, "/identity/id-change", data)
    assert r.status_code == 303, r.get_data(as_text=True)[-1500:]
    req = models.Request.get()
    assert req.note == "" and id_dir_files(app) == [f"{req.image_key}.jpg"]


def test_failed_transaction_leaves_no_picture(app, en, db, monkeypatch):
    unmatched(app, en, real_name="其他人")

    def broken(*args, **kwargs):
        raise peewee.IntegrityError("simulated failure inside the transaction")

    monkeypatch.setattr(reqs.AuditEvent, "log", broken)
    with pytest.raises(peewee.IntegrityError):
        # The test client re-raises what the app did not handle (TESTING).
        post_upload(en, "/identity/id-change", files(card(), id_number=new_id()))
    assert models.Request.select().count() == 0
    assert id_dir_files(app) == []


def test_sweep_deletes_pictures_without_a_row(app, db, runner):
    with app.app_context():
        kept = idimages.store(card())
        orphan = idimages.store(card(seed=2))
        user = with_realname(make_user(), make_record(name="李四"))
        reqs.file_id_change(user, user.id_type, new_id(), "13812345678", "", kept)
        fresh = idimages.store(card(seed=3))  # may belong to a request still being filed
        old = datetime.datetime.now().timestamp() - 2 * 3600
        for key in (kept, orphan):
            os.utime(idimages.path(key), (old, old))
    result = runner.invoke(args=["sweep-id-images"])
    assert result.exit_code == 0 and "deleted: 1" in result.output
    assert id_dir_files(app) == sorted([f"{kept}.jpg", f"{fresh}.jpg"])
    assert orphan not in "".join(id_dir_files(app))


@pytest.mark.parametrize(
    ("role", "path", "expected"),
    [
        ("student", f"/photo/{BIG}/thumb", 404),
        ("student", "/photo/99999999999999999999999/thumb", 404),
        ("student", f"/photo/{HUGE}/thumb", 404),
        ("student", "/photo/0/thumb", 404),
        ("student", f"/requests/{BIG}/image", 404),
        ("staff", f"/staff/records/{BIG}", 404),
        ("staff", f"/staff/records/{HUGE}/row", 404),
        ("staff", f"/staff/queues/item/{BIG}", 404),
        ("staff", f"/staff/queues/id_change?page={BIG}", 400),
        ("staff", f"/staff/queues/id_change?page={HUGE}", 400),
        ("staff", f"/staff/records?page={BIG}", 200),
        ("staff", f"/staff/records?cohort={BIG}&college={HUGE}", 200),
        ("staff", f"/staff/?cohort={BIG}", 200),
        ("staff", f"/staff/export/records.csv?cohort={BIG}", 200),
        ("admin", f"/admin/outbox?page={BIG}", 400),
        ("admin", f"/admin/audit?page={BIG}", 400),
        ("admin", "/admin/audit?page=9223372036854775807", 200),
        ("admin", "/admin/audit?from=0001-01-01", 400),
        ("admin", "/admin/audit?to=9999-12-31", 400),
        ("admin", "/admin/audit?record=%C2%B2", 400),  # "²" passes str.isdigit(), not int()
        ("admin", "/admin/audit.csv?from=0001-01-01", 400),
        ("admin", f"/admin/cohorts/{BIG}/edit", 404),
        ("admin", f"/admin/imports/{HUGE}", 404),
    ],
)
def test_huge_numbers_and_dates_are_4xx(app, en, db, role, path, expected):
    college = make_college()
    make_photo(app, make_record(college=college))
    make_user(role=role, college=college if role == "staff" else None)
    sign_in(en)
    r = en.get(path)
    assert r.status_code == expected, r.get_data(as_text=True)[-800:]
    if expected == 400 and "audit" in path and "page" not in path:
        assert "between 1900-01-01 and 2100-12-31" in r.get_data(
            as_text=True
        ) or "whole number" in r.get_data(as_text=True)


def test_huge_numbers_in_forms_change_nothing(app, en, db):
    college = make_college()
    record = make_record(college=college, status="pending")
    make_user(role="staff", college=college)
    sign_in(en)
    before = models.Record.get_by_id(record.id).version
    r = en.form_post(
        f"/staff/records/{record.id}/status",
        {"to": "confirmed_offline", "version": BIG, "reason": "x"},
        page="/staff/records",
    )
    assert r.status_code == 409
    r = en.form_post(
        "/staff/records/bulk", {"ids": [BIG, HUGE, "²"], "action": "remind"}, page="/staff/records"
    )
    assert r.status_code < 500
    assert models.Record.get_by_id(record.id).version == before


def test_correction_date_outside_1900_2100_is_refused(app, en, db):
    from tests.test_problems import linked

    linked(app, en)
    r = en.form_post("/record/correction", {"fix_birth_date": "y", "new_birth_date": "0001-01-01"})
    assert r.status_code == 400 and "between 1900 and 2100" in r.get_data(as_text=True)
    assert models.Request.select().count() == 0


def test_csv_export_failing_halfway_ends_with_an_error_row(app, en, db, monkeypatch):
    monkeypatch.setattr(exports, "CSV_BATCH", 2)
    college = make_college()
    good = make_cohort("2027届")
    broken = make_cohort("2028届")
    for i in range(4):
        record = make_record(college=college, cohort=good, student_no=f"20230000{i}", status="confirmed")
        models.Confirmation.create(record=record, fingerprint="x")
    record = make_record(college=college, cohort=broken, student_no="202399999", status="confirmed")
    models.Confirmation.create(record=record, fingerprint="x")
    # A cohort time zone that no longer exists on the server: found only when its row is written.
    models.Cohort.update(timezone="Mars/Olympus_Mons").where(models.Cohort.id == broken.id).execute()
    make_user(role="staff", college=college)
    sign_in(en)
    r = en.get("/staff/export/records.csv?sort=student_no")
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "202300000" in body and "202300003" in body
    assert body.rstrip().splitlines()[-1].startswith("EXPORT INCOMPLETE")


def test_csv_export_failing_at_once_is_an_error_page(app, en, db):
    college = make_college()
    broken = make_cohort()
    record = make_record(college=college, cohort=broken, status="confirmed")
    models.Confirmation.create(record=record, fingerprint="x")
    models.Cohort.update(timezone="Mars/Olympus_Mons").execute()
    make_user(role="staff", college=college)
    sign_in(en)
    app.testing = False  # an error page, as in production, instead of the re-raised exception
    r = en.get("/staff/export/records.csv")
    assert r.status_code == 500 and "text/html" in r.headers["Content-Type"]


# -- headers, files, data ---------------------------------------------------------------


def test_pages_with_personal_data_are_no_store(app, en, db):
    college = make_college()
    record = make_record(college=college)
    photo = make_photo(app, record)
    make_user(role="staff", college=college)
    sign_in(en)
    for path in (f"/staff/records/{record.id}", "/staff/records", "/account/", "/staff/"):
        r = en.get(path)
        assert r.status_code == 200 and "no-store" in r.headers["Cache-Control"], path
    r = en.get(f"/photo/{photo.id}/webp")
    # A photo may stay in the browser's own cache: its URL names an immutable Photo row.
    assert r.status_code == 200 and r.headers["Cache-Control"].startswith("private")
    new = make_photo(app, seed=5)
    models.Record.update(photo=new).where(models.Record.id == record.id).execute()
    html = en.get(f"/staff/records/{record.id}").get_data(as_text=True)
    assert f"/photo/{new.id}/" in html and f"/photo/{photo.id}/" not in html


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_instance_files_are_private(tmp_path, smtp_server):
    """A fresh instance folder under a permissive umask: 700 folders, 600 files."""
    instance = tmp_path / "instance"
    script = textwrap.dedent(
        f"""
        import os, sys
        os.umask(0o022)
        sys.path.insert(0, {os.getcwd()!r})
        from types import SimpleNamespace
        from flask import Flask
        Flask.auto_find_instance_path = lambda self: {str(instance)!r}
        from app import create_app
        import models, ratelimit_sqlite, tasks
        from services import idimages, pending_uploads, photo_uploads, photos, photostore
        from tests import imagegen
        app = create_app({{"TESTING": True, "SECRET_KEY": "x" * 32}})
        assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
        with app.app_context():
            models.db.connect(reuse_if_open=True)
            key = idimages.store(imagegen.jpeg(900, 600, (200, 180, 160)))
            print(idimages.path(key))
            pkey = photostore.save(photos.make_portrait_set(photos.placeholder_portrait(1)))
            print(photostore.path(pkey, "master"))
            os.remove(photostore.path(pkey, "mini"))
            photostore.read(pkey, "mini")  # made again on first use (photos from before it existed)
            print(photostore.path(pkey, "mini"))
            token = photo_uploads.stage(photos.placeholder_portrait(2), SimpleNamespace(id=7))
            print(photo_uploads._stage_path(7, token))
            kept = pending_uploads.keep(7, idimages.store(imagegen.jpeg(900, 600, (190, 180, 160))))
            print(pending_uploads._path(7, kept))
        queue = tasks.make_storage("modes", "sqlite:///" + {str(instance / "huey.sqlite3")!r})
        queue.enqueue(b"x")
        limits = ratelimit_sqlite.SqliteStorage("gradproof+sqlite://" + {str(instance / "rl.sqlite3")!r})
        limits.incr("k", 60)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    id_picture, master, mini, staged, pending = out.stdout.split()
    assert mode(instance) == 0o700
    assert mode(instance / "gradproof.sqlite3") == 0o600
    assert mode(os.path.dirname(id_picture)) == 0o700 and mode(id_picture) == 0o600
    assert mode(os.path.dirname(os.path.dirname(master))) == 0o700 and mode(master) == 0o600
    assert mode(mini) == 0o600
    assert mode(os.path.dirname(staged)) == 0o700 and mode(staged) == 0o600
    assert mode(os.path.dirname(pending)) == 0o700 and mode(pending) == 0o600
    for name in ("huey.sqlite3", "rl.sqlite3"):  # (-wal and -shm files take the mode of the database)
        assert mode(instance / name) == 0o600, name


def test_makefile_runs_with_a_private_umask():
    with open("Makefile", encoding="utf-8") as fh:
        makefile = fh.read()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "umask 077" in run_recipe and "umask 077; mkdir -p instance" in makefile


BIDI = "\u202e\u2066\u200b"


def test_bidi_and_invisible_characters_are_stripped(app, en, db):
    record = make_record(name="张三")
    user = with_realname(make_user(), record)
    sign_in(en)
    r = en.form_post("/identity/profile", {"real_name": f"张{BIDI}三\x00", "nickname": "\u202eabc"})
    assert r.status_code == 303
    user = models.User.get_by_id(user.id)
    assert user.real_name == "张三" and user.nickname == "abc"
    # Imported names are cleaned the same way.
    assert imports.clean("李\u202e四\u2069") == "李四"


# -- ID-card pictures -------------------------------------------------------------------


@functools.cache
def flat_png(w, h):
    """A PNG of one colour: small as a file (zlib), huge in pixels (about
    0.5 s to make, so once per process, and never while collecting)."""
    bio = io.BytesIO()
    Image.new("RGB", (w, h), (236, 236, 236)).save(bio, "PNG", optimize=True)
    return bio.getvalue()


def overstated_jpeg(w=900, h=600, claimed=1200):
    """A JPEG whose header promises more rows than its data holds (Pillow pads grey)."""
    data = bytearray(card(w, h))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 7] = claimed.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (imagegen.jpeg(1, 1, (200, 200, 200)), "too small to read (1×1 pixels)"),
        (imagegen.jpeg(800, 500, (200, 200, 200)), "at least 600 pixels"),
        (overstated_jpeg(), "incomplete"),
        (imagegen.truncated_jpeg(900, 700), "incomplete"),
        (functools.partial(flat_png, 6000, 4100), "too many pixels (6000×4100)"),
    ],
)
def test_unusable_id_pictures_are_refused_with_a_reason(app, en, db, front, message):
    front = front() if callable(front) else front
    unmatched(app, en, real_name="其他人")
    r = post_upload(en, "/identity/id-change", files(front, id_number=new_id()))
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and message in html, html[-2000:]
    assert models.Request.select().count() == 0 and id_dir_files(app) == []


def test_pixel_budget_is_checked_before_decoding(app, monkeypatch):
    png = flat_png(6000, 6600)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    with app.test_request_context(), pytest.raises(photos.PhotoError) as refused:
        idimages.prepare(png)
    assert refused.value.code == "too_large_pixels" and decoded == []


def test_id_picture_upload_is_rate_limited_per_account(app_factory, db):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_ID_PICTURES="2 per minute")
    record = make_record(name="王小明")
    user = with_realname(make_user(), record)
    user.real_name = "其他人"
    user.save()
    client = app.test_client()
    sign_in(client)
    codes = [
        post_upload(client, "/identity/id-change", files(b"", id_number=new_id())).status_code
        for _ in range(3)
    ]
    assert codes == [400, 400, 429]
    # Another account from the same address still has its own budget.
    other = app.test_client()
    with_realname(make_user("other@example.edu"), make_record(name="赵六"))
    sign_in(other, "other@example.edu")
    assert post_upload(other, "/identity/id-change", files(b"", id_number=new_id())).status_code == 400


RSS_SCRIPT = r"""
import io, os, sys
sys.path.insert(0, os.getcwd())
from PIL import Image
from werkzeug.test import EnvironBuilder
import models
from app import create_app
from tests.conftest import TEST_CONFIG
from tests.factories import csrf_in, sign_in, make_record, make_user, with_realname

def peak_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking
    # process (pytest) across exec; VmHWM belongs to this process alone.
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024

with open(sys.argv[2], "rb") as fh:
    png = fh.read()
app = create_app(dict(TEST_CONFIG, DATABASE_URL="sqlite:///" + sys.argv[1], MAIL_SERVER=""))
app.instance_path = os.path.dirname(sys.argv[1])
with app.app_context():
    models.db.connect(reuse_if_open=True)
    models.migrate()
    record = make_record(name="王小明")
    user = with_realname(make_user(), record)
    user.real_name = "其他人"
    user.save()
    models.db.close()
client = app.test_client()
client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
sign_in(client)
before = peak_mb()
import random
from services import idcard
number = idcard.generate_resident(random.Random(3))
data = {"phone": "13812345678", "reply_email": "", "note": "", "id_number": number,
        "front": (io.BytesIO(png), "front.png")}
data["csrf_token"] = csrf_in(client.get("/identity/id-change").get_data(as_text=True))
r = client.post("/identity/id-change", data=data, content_type="multipart/form-data")
print(len(png), r.status_code, before, peak_mb())
"""


def test_huge_png_upload_stays_under_300_mb(tmp_path):
    """The 154 KB, 6000×6600 PNG: refused by its header, not after 120 MB of pixels."""
    # The picture from the review: 6000×6600 px of one colour, ~150 KB as PNG.
    picture = tmp_path / "front.png"
    picture.write_bytes(flat_png(6000, 6600))
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(tmp_path / "rss.sqlite3"), str(picture)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=os.getcwd(),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    size, status, before_mb, peak_mb = (int(v) for v in out.stdout.split())
    print(
        f"[rss] PNG {size} bytes: status {status}, peak RSS {peak_mb} MB (before the upload {before_mb} MB)"
    )
    assert size < 300_000 and status == 400
    assert peak_mb < 300


# -- imports ----------------------------------------------------------------------------


def test_zip_members_with_dotdot_are_listed(app, db):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as archive:
        archive.writestr("../evil.jpg", photos.placeholder_portrait(1))
        archive.writestr("photos/../../also.jpg", photos.placeholder_portrait(2))
        archive.writestr("/abs.jpg", photos.placeholder_portrait(3))
    with imports.job_context(app):
        models.db.connect(reuse_if_open=True)
        report = import_photos.import_photos(bio.getvalue(), link=imports.mail_link, workers=1)
    rejected = {row["file"] for row in report["rejected"]}
    assert {"../evil.jpg", "photos/../../also.jpg"} <= rejected
    assert report["counts"]["rejected"] >= 2 and models.Photo.select().count() == 0
    lines = "\n".join(imports.report_lines(report))
    assert "../evil.jpg" in lines
