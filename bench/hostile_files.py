"""Peak memory for the two hostile files, through the real processes.

    .venv/bin/python bench/hostile_files.py            # 100,000 rows
    .venv/bin/python bench/hostile_files.py 20000      # a quicker run

Starts what `make run` starts, on a throw-away instance: gunicorn (one
worker, `deploy/gunicorn.conf.py`) and one `flask worker` consumer. Then,
as a browser would:

1. an admin uploads the duplicate XLSX (one row repeated N times, shared
   strings, about 0.3 MB at 100,000 rows) on /admin/imports; the consumer
   imports it (not a dry run);
2. a student uploads the 6000×6600 one-colour PNG (about 130 KB) as an
   ID-card picture on /identity/id-change.

It prints the peak resident memory (VmHWM) of the consumer and of the
gunicorn worker before and after each file. The budget is about 300 MiB
for any request or task (the tests check the same bounds with smaller
files: tests/test_queue_memory.py, tests/test_hardening.py).
"""

import datetime
import io
import json
import os
import pathlib
import random
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from PIL import Image  # noqa: E402
from queue_fixtures import PASSWORD, Stack, make_user, wait_for  # noqa: E402
from test_queue_memory import duplicate_xlsx  # noqa: E402

BUDGET_MB = 300


def vm_hwm_mb(pid):
    """Peak resident memory of a process, in MiB."""
    with open(f"/proc/{pid}/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def flat_png(width, height):
    bio = io.BytesIO()
    Image.new("RGB", (width, height), (236, 236, 236)).save(bio, "PNG", optimize=True)
    return bio.getvalue()


def main(rows):
    with tempfile.TemporaryDirectory(prefix="gp-hostile-") as tmp:
        stack = Stack(pathlib.Path(tmp), IMPORT_MAX_BYTES=50_000_000)
        try:
            return run(stack, rows, tmp)
        finally:
            stack.stop()


def run(stack, rows, tmp):
    stack.flask("init-db")
    from factories import make_record, with_realname

    import models

    models.db.initialize(models.make_database(stack.database_url))
    make_user(models, "admin@example.edu")
    student = with_realname(
        make_user(models, "student@example.edu", role="student"), make_record(name="王小明")
    )
    student.real_name = "其他人"  # no registry match: the ID-card picture form is offered
    student.save()
    models.db.close()

    base = stack.web(workers=1, threads=4)
    consumer = stack.worker()
    web_master = next(p for p in stack.processes if p.name == "web")
    (web_worker,) = children(web_master.pid)

    # 1. The duplicate XLSX, imported by the consumer.
    xlsx = os.path.join(tmp, "dup.xlsx")
    duplicate_xlsx(xlsx, rows)
    with open(xlsx, "rb") as fh:
        data = fh.read()
    admin = stack.web_client(base)
    assert admin.post("/login", {"email": "admin@example.edu", "password": PASSWORD})[0] == 303
    before = vm_hwm_mb(consumer.pid)
    started = time.monotonic()
    status, _html, headers = admin.post_multipart(
        "/admin/imports/students", {}, {"registry": ("dup.xlsx", data)}, page="/admin/imports", timeout=120
    )
    assert status == 303, status
    job_id = int(re.search(r"/admin/imports/(\d+)", headers["Location"]).group(1))
    models.db.initialize(models.make_database(stack.database_url))
    job = wait_for(
        lambda: (j := models.ImportJob.get_by_id(job_id)).status in ("done", "failed") and j,
        1800,
        interval=1,
        message="the import",
    )
    took = time.monotonic() - started
    report = json.loads(job.report) if job.report else None
    models.db.close()
    xlsx_peak = vm_hwm_mb(consumer.pid)
    print(f"duplicate XLSX: {rows} rows, {len(data)} bytes, job {job.status} in {took:.0f} s"
          + (f", {report['counts']['rejected']} rejected" if report else ""))  # fmt: skip
    print(f"  consumer peak RSS (VmHWM): {before:.0f} MiB before, {xlsx_peak:.0f} MiB after the import")

    # 2. The 6000×6600 PNG as an ID-card picture.
    png = flat_png(6000, 6600)
    web = stack.web_client(base)
    assert web.post("/login", {"email": "student@example.edu", "password": PASSWORD})[0] == 303
    before = vm_hwm_mb(web_worker)
    from services import idcard

    number = idcard.generate_resident(random.Random(3))
    started = time.monotonic()
    status, html, _headers = web.post_multipart(
        "/identity/id-change",
        {"phone": "13812345678", "reply_email": "", "note": "", "id_number": number},
        {"front": ("front.png", png)},
        page="/identity/id-change",
    )
    took = time.monotonic() - started
    png_peak = vm_hwm_mb(web_worker)
    refused = "6000×6600" in html
    print(f"6000×6600 PNG: {len(png)} bytes, status {status} in {took * 1000:.0f} ms"
          + (", refused by its pixel count" if refused else ""))  # fmt: skip
    print(f"  web worker peak RSS (VmHWM): {before:.0f} MiB before, {png_peak:.0f} MiB after the upload")
    print(f"budget {BUDGET_MB} MiB: XLSX {'ok' if xlsx_peak < BUDGET_MB else 'OVER'}, "
          f"PNG {'ok' if png_peak < BUDGET_MB else 'OVER'}")  # fmt: skip
    print(
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  ({datetime.datetime.now(datetime.UTC):%H:%M} UTC)"
    )
    return job.status == "done" and xlsx_peak < BUDGET_MB and png_peak < BUDGET_MB


if __name__ == "__main__":
    sys.exit(0 if main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000) else 1)
