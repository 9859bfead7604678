"""Imports and periodic duties run by a real `flask worker` consumer.

A consumer killed with SIGKILL in the middle of a photo import leaves no
pool process behind; the next consumer fails the job at once and deletes
the upload, and the import can be run again. ID pictures are purged by the
consumer's own schedule, with no command run.
"""

import datetime
import io
import os
import re
import zipfile

from PIL import Image
from queue_fixtures import PASSWORD, group_members, make_user, wait_for

import tasks
from services import photos


def photo_zip(count):
    """`count` different portraits: copies of one drawn portrait (drawing takes
    about 15 ms), each with one pixel changed and encoded again (about 1 ms)."""
    portrait = Image.open(io.BytesIO(photos.placeholder_portrait(1000)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(count):
            variant = portrait.copy()
            variant.putpixel((n % variant.width, n // variant.width), (n % 256, 0, 0))
            encoded = io.BytesIO()
            variant.save(encoded, "JPEG", quality=92)
            archive.writestr(f"p{n:04d}.jpg", encoded.getvalue())
    return buffer.getvalue()


def login(web, email):
    status, _html, headers = web.post("/login", {"email": email, "password": PASSWORD})
    assert status == 303, status
    return web


def upload_photos(web, data):
    status, _html, headers = web.post_multipart(
        "/admin/imports/photos", {}, {"photos": ("photos.zip", data)}, page="/admin/imports"
    )
    assert status == 303, status
    return int(re.search(r"/admin/imports/(\d+)", headers["Location"]).group(1))


def test_a_consumer_killed_mid_import_leaves_nothing_behind(stack_factory, local_db):
    stack = stack_factory(IMPORT_WORKERS=2)
    models = local_db(stack.database_url)
    make_user(models, "admin@example.edu")
    web = login(stack.web_client(stack.web(workers=1)), "admin@example.edu")
    worker = stack.worker()
    data = photo_zip(80)

    job_id = upload_photos(web, data)
    job = lambda: models.ImportJob.get_by_id(job_id)  # noqa: E731
    # Polled often: at some 25 ms a photo per process, 60 photos are left to
    # import when it is seen under way, more than a second of work.
    wait_for(
        lambda: job().status == "running" and job().done >= 20,
        90,
        interval=0.05,
        message="the import under way",
    )
    upload = job().path
    assert os.path.exists(upload)
    pool = [pid for pid in group_members(worker.pid) if pid != worker.pid]
    assert pool, "the import should use a pool of processes"

    stack.kill(worker)  # SIGKILL: no clean-up code runs
    wait_for(
        lambda: not group_members(worker.pid), 10, message="the pool processes to end with their consumer"
    )
    assert job().status == "running"  # nobody has noticed yet

    stack.worker()
    wait_for(lambda: job().status == "failed", 60, message="the job failed")
    assert "interrupted" in job().error
    assert not os.path.exists(upload)
    status, html, _headers = web.get(f"/admin/imports/{job_id}")
    assert status == 200 and "导入已中断" in html

    again = upload_photos(web, data)
    wait_for(lambda: models.ImportJob.get_by_id(again).status == "done", 120, message="the re-run import")
    assert models.ImportJob.get_by_id(again).done == 80
    assert models.Photo.select().count() == 80


def test_old_id_pictures_are_purged_without_any_command(stack_factory, local_db, tmp_path):
    stack = stack_factory(ID_IMAGE_RETENTION_DAYS=30)
    models = local_db(stack.database_url)
    student = make_user(models, "s@example.edu", role="student")
    pictures = tmp_path / "id-images"
    pictures.mkdir()
    now = models.utcnow()
    requests = {}
    for key, decided in {
        "old": now - datetime.timedelta(days=31),
        "recent": now - datetime.timedelta(days=2),
    }.items():
        (pictures / f"{key}.jpg").write_bytes(b"\xff\xd8 id card")
        requests[key] = models.Request.create(
            kind="id_change", user=student, status="approved", image_key=key, decided_at=decided
        )
    open_request = models.Request.create(kind="id_change", user=student, image_key="open")
    (pictures / "open.jpg").write_bytes(b"\xff\xd8 id card")

    stack.worker()
    wait_for(lambda: not (pictures / "old.jpg").exists(), 60, message="the purge")
    assert (pictures / "recent.jpg").exists() and (pictures / "open.jpg").exists()
    assert models.Request.get_by_id(requests["old"].id).image_purged_at is not None
    assert models.Request.get_by_id(open_request.id).image_purged_at is None
    assert models.AuditEvent.select().where(models.AuditEvent.action == "request.image_purged").count() == 1


def test_the_purge_runs_once_a_day(app):
    tasks.huey.storage.flush_all()
    start = datetime.datetime(2027, 6, 1, 3, 0, tzinfo=datetime.UTC)
    with app.app_context():
        assert tasks.purge_if_due(start) == 0
        assert tasks.purge_if_due(start + datetime.timedelta(hours=23)) is None
        assert tasks.purge_if_due(start + datetime.timedelta(hours=24, minutes=1)) == 0


def test_the_tick_drains_the_outbox_and_schedules_the_drains_until_the_next_tick(app_factory, db):
    """Huey's periodic tasks run once a minute: the tick drains the outbox
    and schedules the drains between it and the next tick, one half a
    minute later unless OUTBOX_DRAIN_SECONDS says otherwise."""
    app = app_factory()
    assert app.config["OUTBOX_DRAIN_SECONDS"] == 30
    with app.app_context():
        db.db.connect(reuse_if_open=True)
        tasks.huey.storage.flush_all()
        tasks.tick()
        scheduled = tasks.huey.scheduled()
        assert [task.name for task in scheduled] == ["half_tick"]
        assert (
            29
            < (scheduled[0].eta - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
            <= 30
        )
        tasks.huey.storage.flush_all()
        assert tasks.drain_delays(2) == list(range(2, 60, 2))
        assert tasks.drain_delays(45) == [45]
        assert tasks.drain_delays(60) == []  # the tick's own drain only
        assert tasks.drain_delays(0) == list(range(1, 60))


def test_the_heartbeat_tells_when_a_consumer_was_last_seen(app):
    tasks.huey.storage.flush_all()
    assert tasks.consumer_last_seen() is None
    seen = datetime.datetime(2027, 6, 1, 3, 0, tzinfo=datetime.UTC)
    tasks.record_heartbeat(seen)
    assert tasks.consumer_last_seen() == seen


def test_the_periodic_sweep_fails_dead_jobs_and_deletes_their_uploads(app, db, tmp_path):
    """The minute tick's sweep (no consumer starting): a job whose consumer
    died on this host, or whose heartbeat stopped, or that waited a day in
    the queue, is failed and its upload deleted; live jobs are left alone."""
    import socket
    import subprocess

    dead = subprocess.Popen(["true"])  # noqa: S607 (a pid that no longer runs)
    dead.wait()
    host, now = socket.gethostname(), db.utcnow()
    admin = make_user(db, "admin@example.edu")
    jobs = {
        "dead consumer here": ("running", f"{host}:{dead.pid}", now, now),
        "silent elsewhere": ("running", "other-host:7", now, now - datetime.timedelta(minutes=3)),
        "queued a day": ("queued", "", now - datetime.timedelta(days=2), None),
        "alive here": ("running", f"{host}:{os.getpid()}", now, now),
        "alive elsewhere": ("running", "other-host:7", now, now),
        "queued now": ("queued", "", now, None),
    }
    ids = {}
    for name, (status, worker, created, beat) in jobs.items():
        upload = tmp_path / name.replace(" ", "-")
        upload.write_bytes(b"ID numbers")
        ids[name] = db.ImportJob.create(
            kind="students", path=str(upload), status=status, worker=worker,
            created_at=created, updated_at=beat, created_by=admin,
        ).id  # fmt: skip

    with app.app_context():
        db.db.connect(reuse_if_open=True)
        assert tasks.sweep_jobs() == 3
        assert tasks.sweep_jobs() == 0  # nothing left to fail

    for name, job_id in ids.items():
        job = db.ImportJob.get_by_id(job_id)
        failed = name in ("dead consumer here", "silent elsewhere", "queued a day")
        assert (job.status == "failed") == failed, name
        assert os.path.exists(job.path) != failed, name
        if failed:
            assert "interrupted" in job.error and job.finished_at is not None
