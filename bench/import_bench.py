"""Import benchmark: registry rows/s and photo import speed vs bare Pillow.

Run from the project root:  .venv/bin/python bench/import_bench.py [N]

Builds a throw-away instance (SQLite in a temporary folder), a GBK CSV of N
synthetic students and N synthetic portrait JPEGs (480×640 to 900×1200, with
grain), then measures in one run:

- the registry import of the CSV, in rows/s (target ≥ 2,000);
- the photo import of a ZIP of the same N pictures, as a ratio to a bare
  Pillow loop (open → resize to 480×640 → save JPEG) over the same files
  (target ≥ 0.5).
"""

import csv
import datetime
import io
import os
import random
import shutil
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PIL import Image  # noqa: E402

REGISTRY_TARGET = 2000  # rows/s
PHOTO_TARGET = 0.5  # import rate / bare Pillow rate
SIZES = [(480, 640), (600, 800), (720, 960), (900, 1200)]
HEADERS = ["学号", "姓名", "性别", "证件类型", "证件号码", "出生日期", "民族", "学院", "专业", "班级",
           "层次", "学习形式", "入学日期", "预计毕业日期", "届别"]  # fmt: skip


def people(n, idcard):
    rng = random.Random(2027)
    rows = []
    for i in range(n):
        gender = rng.choice("MF")
        born = datetime.date(2003, 1, 1) + datetime.timedelta(days=rng.randint(0, 1000))
        rows.append([
            f"2023{i:06d}", "学生" + "".join(rng.choice("伟芳娜敏静丽强磊军洋") for _ in range(2)),
            "男" if gender == "M" else "女", "居民身份证", idcard.generate_resident(rng, birth=born, gender=gender),
            born.isoformat(), "汉族", f"第{i % 12 + 1}学院", f"专业{i % 40}", f"班级{i % 120}", "本科",
            "普通全日制", "2023-09-01", "2027-06-30", "2027届",
        ])  # fmt: skip
    return rows


def gbk_csv(rows):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode("gbk")


def bare_pillow(paths):
    """The reference: decode, resize to the master size, encode; nothing else."""
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as img:
            small = img.convert("RGB").resize((480, 640))
        small.save(io.BytesIO(), "JPEG")
    return time.perf_counter() - start


def _spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_speedup(workers):
    """How much faster `workers` processes run CPU-bound work than one, right now.

    On a shared machine other jobs take cores; the photo ratio means little
    when this is far below the worker count.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [2_000_000] * (2 * workers)
    start = time.perf_counter()
    for n in jobs:
        _spin(n)
    serial = time.perf_counter() - start
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_spin, 1).result()
        start = time.perf_counter()
        list(pool.map(_spin, jobs))
        parallel = time.perf_counter() - start
    return serial / parallel


def main(n):
    from app import create_app
    from services import idcard, importing, photos

    tmp = tempfile.mkdtemp(prefix="gradproof-bench-")
    app = create_app(
        {
            "SECRET_KEY": os.urandom(32).hex(),
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "PHOTO_DIR": os.path.join(tmp, "photos"),
            "MAIL_SERVER": "",
        }
    )
    app.instance_path = tmp
    import models

    with app.app_context():
        models.db.connect()
        models.migrate()
    rows = people(n, idcard)
    data = gbk_csv(rows)

    print(f"generating {n} portraits in {tmp} …", flush=True)
    paths = []
    for i, row in enumerate(rows):
        path = os.path.join(tmp, "src", f"{row[4]}.jpg")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(photos.placeholder_portrait(i, size=SIZES[i % len(SIZES)]))
        paths.append(path)
    zip_path = os.path.join(tmp, "photos.zip")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, os.path.basename(path))
    megabytes = sum(os.path.getsize(p) for p in paths) / 1e6

    with importing.job_context(app):
        models.db.connect(reuse_if_open=True)
        start = time.perf_counter()
        report = importing.import_registry(data, "bench.csv")
        registry_s = time.perf_counter() - start
        assert report["counts"]["created"] == n and report["counts"]["rejected"] == 0, report["counts"]
        start = time.perf_counter()
        again = importing.import_registry(data, "bench.csv")
        unchanged_s = time.perf_counter() - start
        assert again["counts"]["unchanged"] == n

        bare_s = bare_pillow(paths)
        start = time.perf_counter()
        photo_report = importing.import_photos(zip_path)
        photos_s = time.perf_counter() - start
        assert photo_report["counts"]["attached"] == n, photo_report["counts"]

    rate = n / registry_s
    ratio = bare_s / photos_s
    workers = app.config.get("IMPORT_WORKERS") or os.cpu_count()
    speedup = parallel_speedup(workers)
    print()
    print(f"registry import: {n} rows (GBK CSV, {len(data) / 1e3:.0f} kB) in {registry_s:.2f} s "
          f"= {rate:,.0f} rows/s  (target ≥ {REGISTRY_TARGET:,}) {'OK' if rate >= REGISTRY_TARGET else 'BELOW'}")  # fmt: skip
    print(f"  re-import, all rows unchanged: {unchanged_s:.2f} s = {n / unchanged_s:,.0f} rows/s")
    print(f"photo import:    {n} JPEGs ({megabytes:.0f} MB) in {photos_s:.1f} s = {n / photos_s:.1f} photos/s "
          f"({workers} worker processes)")  # fmt: skip
    print(f"bare Pillow:     open → resize(480×640) → save JPEG: {bare_s:.1f} s = {n / bare_s:.1f} photos/s")
    print(
        f"photo ratio:     {ratio:.2f}  (target ≥ {PHOTO_TARGET}) {'OK' if ratio >= PHOTO_TARGET else 'BELOW'}"
    )
    print(f"(CPU-bound speedup of {workers} processes over 1 right now: {speedup:.2f}×;"
          f" the photo ratio scales with it)")  # fmt: skip
    print(f"(load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
