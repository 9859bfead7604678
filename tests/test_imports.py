"""Registry and photo imports (services.importing: registry, photo_import).

Every file is made here: synthetic people from idcard.generate_resident,
pictures from photos.placeholder_portrait and tests/imagegen.py.
"""

import csv
import datetime
import io
import random
import struct
import zipfile

import openpyxl
import pytest
from flask_babel import force_locale
from PIL import Image

import models
from services import idcard, mail, photos, photostore, records
from services import importing as imports
from services.importing import ImportFileError
from services.importing import photo_import as import_photos
from services.importing import registry as import_registry
from tests import imagegen
from tests.factories import make_user

HEADERS = ["学号", "姓名", "性别", "证件类型", "证件号码", "出生日期", "民族", "学院", "专业", "班级",
           "层次", "学习形式", "入学日期", "预计毕业日期", "届别"]  # fmt: skip
ENGLISH = ["student_no", "name", "gender", "id_type", "id_number", "birth_date", "ethnicity", "college",
           "major", "class_name", "level", "study_mode", "enrolled_on", "graduating_on", "cohort"]  # fmt: skip
SURNAMES = "赵钱孙李周吴郑王冯陈"
GIVEN = "伟芳娜敏静丽强磊军洋"


def person(i, seed=0):
    """A synthetic student as {english column: value} (dates as date objects)."""
    rng = random.Random(seed * 100_003 + i)
    gender = rng.choice("MF")
    born = datetime.date(2003, 1, 1) + datetime.timedelta(days=rng.randint(0, 900))
    return {
        "student_no": f"2023{i:06d}",
        "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
        "gender": "男" if gender == "M" else "女",
        "id_type": "居民身份证",
        "id_number": idcard.generate_resident(rng, birth=born, gender=gender),
        "birth_date": born,
        "ethnicity": "汉族",
        "college": f"第{i % 3 + 1}学院",
        "major": "计算机科学与技术",
        "class_name": f"计科{i % 4 + 1}班",
        "level": "本科",
        "study_mode": "普通全日制",
        "enrolled_on": datetime.date(2023, 9, 1),
        "graduating_on": datetime.date(2027, 6, 30),
        "cohort": "2027届",
    }


def as_text(value):
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def registry_csv(people, encoding="gbk", headers=HEADERS):
    """CSV bytes as Excel writes them (CRLF), in ``encoding``."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers)
    for p in people:
        writer.writerow([as_text(p[key]) for key in ENGLISH])
    return out.getvalue().encode(encoding)


def registry_xlsx(people):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for p in people:
        row = [p[key] for key in ENGLISH]
        row[0] = int(p["student_no"])  # a number cell, as Excel makes it
        sheet.append(row)  # dates become real date cells
    bio = io.BytesIO()
    book.save(bio)
    return bio.getvalue()


@pytest.fixture
def ctx(app):
    """An import context (as the CLI and the job thread use) with a DB connection."""
    with imports.job_context(app):
        models.db.connect(reuse_if_open=True)
        yield app
        if not models.db.is_closed():
            models.db.close()


def run(data, filename="registry.csv", **kwargs):
    return import_registry.import_registry(data, filename, link=imports.mail_link, **kwargs)


def table_counts():
    return {m.__name__: m.select().count() for m in (models.Record, models.College, models.Cohort,
                                                       models.AuditEvent, models.OutboxMail, models.Photo)}  # fmt: skip


def by_line(report):
    return {row["line"]: row["reasons"] for row in report["rejected"]}


# --- registry: formats ----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_encodings_import(ctx, encoding):
    people = [person(i) for i in range(5)]
    report = run(registry_csv(people, encoding))
    assert report["counts"]["created"] == 5 and report["counts"]["rejected"] == 0
    record = models.Record.get(models.Record.student_no == people[2]["student_no"])
    assert record.name == people[2]["name"]
    assert record.name_key == people[2]["name"]
    assert record.college.name == people[2]["college"] and record.college.code == people[2]["college"]
    assert record.cohort.name == "2027届"
    assert record.birth_date == people[2]["birth_date"]
    assert record.gender == ("M" if people[2]["gender"] == "男" else "F")
    assert record.id_type == idcard.RESIDENT and record.status == "unregistered"
    assert models.College.select().count() == 3


def test_xlsx_with_date_and_number_cells(ctx):
    people = [person(i) for i in range(4)]
    report = run(registry_xlsx(people), "registry.xlsx")
    assert report["counts"] == {**report["counts"], "rows": 4, "created": 4, "rejected": 0}
    record = models.Record.get(models.Record.student_no == people[0]["student_no"])
    assert record.enrolled_on == datetime.date(2023, 9, 1)
    assert record.birth_date == people[0]["birth_date"]


def test_english_headers_case_and_spaces(ctx):
    people = [person(i) for i in range(3)]
    headers = [f"  {h.upper()} " for h in ENGLISH]
    report = run(registry_csv(people, "utf-8", headers=headers))
    assert report["counts"]["created"] == 3


def test_header_below_a_title_row_and_date_styles(ctx):
    p = person(1)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["2027届毕业生学籍信息"])
    writer.writerow(HEADERS)
    row = [as_text(p[key]) for key in ENGLISH]
    row[5] = p["birth_date"].strftime("%Y/%m/%d").replace("/0", "/")  # 2004/3/7
    row[12] = "20230901"
    row[13] = "2027年6月30日"
    writer.writerow(row)
    report = run(out.getvalue().encode("utf-8"))
    assert report["counts"]["created"] == 1, report["rejected"]


def test_templates_import_cleanly(ctx):
    from blueprints.admin.imports import TEMPLATE_DIR

    for name in ("registry-template.csv", "registry-template.xlsx"):
        with open(f"{TEMPLATE_DIR}/{name}", "rb") as fh:
            report = run(fh.read(), name, dry_run=True)
        assert report["counts"]["created"] == 2 and report["counts"]["rejected"] == 0


# --- registry: rejected rows --------------------------------------------------------


def test_every_kind_of_bad_row_is_reported_with_its_line(ctx):
    taken = person(900)
    run(registry_csv([taken]))  # an ID number in the database under 2023000900

    rows = [person(i) for i in range(1, 17)]
    bad = {}

    def spoil(index, **changes):
        rows[index].update(changes)
        bad[index + 2] = rows[index]  # header = line 1

    number = rows[0]["id_number"]
    spoil(0, id_number=number[:17] + ("0" if number[17] != "0" else "1"))  # check digit
    spoil(1, birth_date=rows[1]["birth_date"] + datetime.timedelta(days=1))
    spoil(2, gender="女" if rows[2]["gender"] == "男" else "男")
    spoil(3, enrolled_on="2023-13-45")
    spoil(4, enrolled_on=datetime.date(2027, 9, 1))
    spoil(5, major="")
    spoil(6, student_no=rows[7]["student_no"])  # same 学号 as the next line
    bad[9] = rows[7]
    same_id = {key: rows[9][key] for key in ("id_number", "birth_date", "gender")}
    spoil(8, **same_id)  # same ID as the next line, other 学号
    bad[11] = rows[9]
    spoil(10, id_number=taken["id_number"], birth_date=taken["birth_date"],
          gender=taken["gender"])  # fmt: skip
    spoil(11, id_type="身份证明")
    spoil(12, gender="未知")
    spoil(13, id_number="1.10101E+17")
    old = rows[14]
    old18 = idcard.generate_resident(random.Random(5), birth=datetime.date(1999, 5, 6), gender="F")
    old.update(id_number=old18[:6] + old18[8:17], birth_date=datetime.date(1999, 5, 6), gender="女")

    report = run(registry_csv(rows))
    reasons = by_line(report)
    assert sorted(reasons) == sorted(bad)
    msgids = {line: [r["msgid"] for r in items] for line, items in reasons.items()}
    assert "check digit" in msgids[2][0]
    assert (
        reasons[3][0]["msgid"] == import_registry.MISMATCH and reasons[3][0]["args"]["column"] == "出生日期"
    )
    assert reasons[4][0]["msgid"] == import_registry.MISMATCH and reasons[4][0]["args"]["column"] == "性别"
    assert msgids[5] == [import_registry.BAD_DATE]
    assert msgids[6] == [import_registry.DATES_ORDER]
    assert msgids[7] == [import_registry.MISSING] and reasons[7][0]["args"]["column"] == "专业"
    assert msgids[8] == msgids[9] == [import_registry.DUPLICATE_NO]
    assert reasons[8][0]["args"]["count"] == 2
    assert report["duplicates"][0] == {
        "group": 1, "field": "student_no", "value": rows[7]["student_no"], "count": 2, "lines": "8–9"
    }  # fmt: skip
    assert msgids[10] == msgids[11] == [import_registry.DUPLICATE_ID]
    assert msgids[12] == [import_registry.ID_TAKEN] and reasons[12][0]["args"]["student_no"] == "2023000900"
    assert msgids[13] == [import_registry.BAD_ID_TYPE]
    assert msgids[14] == [import_registry.BAD_GENDER]
    assert msgids[15] == [import_registry.LOST_DIGITS]
    # Every reason renders as text, in English outside a request and in the report lines.
    assert all(imports.english(r) for items in reasons.values() for r in items)
    assert any(line.startswith("rejected line 12: ") for line in imports.report_lines(report))

    counts = report["counts"]
    assert counts["rows"] == 16 and counts["rejected"] == len(bad) and counts["created"] == 16 - len(bad)
    # The 15-digit number was accepted and stored in its 18-character form.
    assert models.Record.get(models.Record.student_no == old["student_no"]).id_number == old18
    assert not models.Record.select().where(models.Record.student_no == rows[5]["student_no"]).exists()


def test_a_record_moving_to_a_new_id_frees_its_old_one(ctx):
    a, b = person(1), person(2)
    run(registry_csv([a, b]))
    new_b = person(3)
    a2 = dict(a, id_number=b["id_number"], birth_date=b["birth_date"], gender=b["gender"])
    b2 = dict(b, id_number=new_b["id_number"], birth_date=new_b["birth_date"], gender=new_b["gender"])
    report = run(registry_csv([a2, b2]))
    assert report["counts"]["updated"] == 2 and report["counts"]["rejected"] == 0


# --- registry: whole-file failures ---------------------------------------------------


@pytest.mark.parametrize(
    "data, filename, fragment",
    [
        (b"", "x.csv", "empty"),
        (bytes(range(256)) * 8, "x.csv", "not a text"),
        ("随便写点什么\n没有表头\n".encode("gbk"), "x.csv", "No header line"),
        (b"PK\x03\x04not really a zip", "x.xlsx", "damaged"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "x.xls", ".xls"),
        ("学号,姓名,性别\n1,2,3\n".encode(), "x.csv", "证件号码"),
        (",".join(HEADERS).encode("gbk"), "x.csv", "no data rows"),
        (("学号,学号," + ",".join(HEADERS[1:]) + "\n").encode(), "x.csv", "twice"),
    ],
)
def test_unreadable_files_write_nothing(ctx, data, filename, fragment):
    run(registry_csv([person(1)]))
    before = table_counts()
    with pytest.raises(ImportFileError) as caught:
        run(data, filename)
    assert fragment in str(caught.value)
    assert imports.describe(caught.value.reason)
    assert table_counts() == before


def test_broken_xlsx_writes_nothing(ctx):
    data = registry_xlsx([person(1)])
    with pytest.raises(ImportFileError):
        run(data[: len(data) // 2], "x.xlsx")
    assert table_counts()["Record"] == 0


# --- registry: dry run and re-import ---------------------------------------------------


def test_dry_run_reports_exactly_and_writes_nothing(ctx):
    people = [person(i) for i in range(10)]
    run(registry_csv(people[:5]))
    changed = [dict(p, major="软件工程") if i == 1 else p for i, p in enumerate(people)]
    changed.append(dict(person(99), id_number="123"))
    before = table_counts()
    dry = run(registry_csv(changed), dry_run=True)
    assert table_counts() == before
    assert dry["dry_run"] and dry["counts"]["created"] == 5 and dry["counts"]["updated"] == 1
    real = run(registry_csv(changed))
    assert {**real["counts"]} == {**dry["counts"]}
    assert (
        real["updated"]
        == dry["updated"]
        == [{"line": 3, "student_no": people[1]["student_no"], "fields": ["major"]}]
    )


def test_reimport_upserts(ctx):
    people = [person(i) for i in range(6)]
    run(registry_csv(people))
    people[3] = dict(people[3], major="软件工程", college="新学院")
    report = run(registry_csv(people))
    counts = report["counts"]
    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, 1, 5)
    record = models.Record.get(models.Record.student_no == people[3]["student_no"])
    assert record.major == "软件工程" and record.college.name == "新学院" and record.version == 2
    assert report["colleges_created"] == ["新学院"]
    event = models.AuditEvent.select().where(models.AuditEvent.target_id == record.id,
                                             models.AuditEvent.action == "record.update").get()  # fmt: skip
    assert event.reason == "registry import"
    assert models.AuditEvent.select().where(models.AuditEvent.action == "import.students").count() == 2


def test_import_links_accounts_and_a_name_change_voids_the_confirmation(ctx, smtp):
    people = [person(i) for i in range(3)]
    p = people[1]
    gender = "M" if p["gender"] == "男" else "F"
    user = make_user("grad@example.edu", real_name=p["name"], gender=gender, id_type=idcard.RESIDENT,
                     id_number=p["id_number"], birth_date=p["birth_date"], locale="en")  # fmt: skip
    report = run(registry_csv(people))
    assert report["counts"]["linked"] == 1
    record = models.Record.get(models.Record.student_no == p["student_no"])
    assert record.account_id == user.id and record.status == "pending"

    zip_data = make_zip({f"{p['id_number']}.jpg": photos.placeholder_portrait(1)})
    assert import_photos.import_photos(zip_data, link=imports.mail_link)["counts"]["attached"] == 1
    with models.db.atomic():
        records.confirm(models.Record.get_by_id(record.id), user)
    assert models.Record.get_by_id(record.id).status == "confirmed"
    imports.deliver_queued_mail()
    smtp.clear()

    people[1] = dict(p, name=p["name"] + "子")
    report = run(registry_csv(people))
    assert report["counts"]["updated"] == 1 and report["counts"]["voided"] == 1
    record = models.Record.get_by_id(record.id)
    assert record.status == "pending" and record.name == p["name"] + "子"
    assert records.active_confirmation(record) is None
    mail.deliver_pending()
    (message,) = smtp.wait(1)
    assert message["To"] == "grad@example.edu"
    assert "http://localhost/" in message.get_body(preferencelist=("plain",)).get_content()


def test_two_thousand_gbk_rows(ctx):
    people = [person(i, seed=7) for i in range(2000)]
    seen = []
    report = run(registry_csv(people), progress=lambda done, total: seen.append((done, total)))
    assert report["counts"]["created"] == 2000 and report["counts"]["rejected"] == 0
    assert models.Record.select().count() == 2000
    assert seen[0] == (50, 2000) and seen[-1] == (2000, 2000)


def test_cli_import_students(app, runner, tmp_path):
    good = tmp_path / "reg.csv"
    good.write_bytes(registry_csv([person(1), dict(person(2), gender="?")]))
    result = runner.invoke(args=["import-students", str(good), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "created=1" in result.output
    assert "rejected line 3:" in result.output
    result = runner.invoke(args=["import-students", str(good)])
    assert result.exit_code == 0 and "created=1" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02garbage")
    result = runner.invoke(args=["import-students", str(bad)])
    assert result.exit_code != 0 and "Error" in result.output


# --- photos ----------------------------------------------------------------------------


def make_zip(members, declared=None):
    """ZIP bytes of {name: bytes}; ``declared`` {name: size} fakes central-directory sizes."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bio.getvalue()
    for name, size in (declared or {}).items():
        # Central directory entry: uncompressed size at +24, name length at +28, name at +46.
        at = data.index(b"PK\x01\x02")
        while data[at + 46 : at + 46 + struct.unpack("<H", data[at + 28 : at + 30])[0]] != name.encode():
            at = data.index(b"PK\x01\x02", at + 4)
        data = data[: at + 24] + struct.pack("<I", size) + data[at + 28 :]
    return data


def import_zip(data, **kwargs):
    return import_photos.import_photos(data, link=imports.mail_link, workers=1, **kwargs)


def manifest(rows, encoding="gbk"):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["学校", "姓名", "证件号码", "文件名"])
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def photo_of(student_no):
    return models.Record.get(models.Record.student_no == student_no).photo


def test_photo_zip_matching_rejections_and_reimport(ctx):
    ctx.config["INSTITUTION_NAME"] = "示例大学"
    people = [person(i) for i in range(8)]
    run(registry_csv(people))
    members = {
        f"2027届/{people[0]['id_number']}.jpg": photos.placeholder_portrait(10),
        f"{people[1]['student_no']}.JPG": photos.placeholder_portrait(11),
        "p2.jpg": photos.placeholder_portrait(12),
        "p3.jpg": photos.placeholder_portrait(13),
        f"{people[4]['id_number']}.jpg": imagegen.oriented_jpeg(6, 300, 400),
        f"{people[5]['id_number']}.png": imagegen.png_rgba(300, 400),
        "notes.jpg": imagegen.text_as_jpg(),
        "anim.gif": imagegen.gif(300, 400),
        "cut.jpg": imagegen.truncated_jpeg(),
        "readme.txt": b"hello",
        "110101199001011234.jpg": photos.placeholder_portrait(14),
        "__MACOSX/._p2.jpg": b"\x00\x05\x16\x07",
        ".DS_Store": b"\x00",
        "manifest.csv": manifest(
            [
                ["示例大学", people[2]["name"] + "错", people[2]["id_number"], "p2.jpg"],
                ["另一所大学", people[3]["name"], people[3]["id_number"], "p3.jpg"],
                ["示例大学", people[6]["name"], people[6]["id_number"], "missing.jpg"],
            ]
        ),  # fmt: skip
    }
    seen = []
    report = import_zip(make_zip(members), progress=lambda done, total: seen.append((done, total)))
    counts = report["counts"]
    assert counts == {"files": 11, "attached": 4, "unmatched": 3, "rejected": 4, "duplicates": 0}
    assert seen[-1] == (11, 11) and len(seen) == 11
    unmatched = {row["file"]: row["reason"]["msgid"] for row in report["unmatched"]}
    assert unmatched == {
        "p2.jpg": import_photos.UNMATCHED["name_mismatch"],
        "p3.jpg": import_photos.UNMATCHED["school_mismatch"],
        "110101199001011234.jpg": import_photos.UNMATCHED["no_record"],
    }
    rejected = {row["file"]: row["reason"]["msgid"] for row in report["rejected"]}
    assert set(rejected) == {"notes.jpg", "anim.gif", "cut.jpg", "readme.txt"}
    assert "not a picture we can read" in rejected["notes.jpg"]
    assert "format are not accepted" in rejected["anim.gif"]
    assert "incomplete" in rejected["cut.jpg"]
    assert report["manifest_missing"] == ["missing.jpg"]

    attached = photo_of(people[0]["student_no"])
    assert attached.src_id_number == people[0]["id_number"] and attached.src_filename.startswith("2027届/")
    assert attached.compliance == "" or set(attached.compliance.split(",")) <= set(photos.COMPLIANCE_REASONS)
    assert photo_of(people[1]["student_no"]).src_student_no == people[1]["student_no"]
    assert photo_of(people[2]["student_no"]) is None
    kept = models.Photo.get(models.Photo.src_filename == "p2.jpg")
    assert kept.unmatched_reason.startswith("name_mismatch: ") and kept.src_name == people[2]["name"] + "错"
    with force_locale("en"):
        assert (
            import_photos.describe_unmatched(kept.unmatched_reason)
            == import_photos.UNMATCHED["name_mismatch"]
        )
    # The EXIF-rotated picture was stored upright: red top-left, green bottom-right.
    master = Image.open(io.BytesIO(photostore.read(photo_of(people[4]["student_no"]).key, "master")))
    assert master.size == (480, 640) and not master.getexif()
    assert imagegen_near(master.getpixel((60, 60)), (255, 0, 0))
    assert imagegen_near(master.getpixel((420, 600)), (0, 255, 0))
    assert models.AuditEvent.select().where(models.AuditEvent.action == "import.photos").count() == 1

    again = import_zip(make_zip(members))
    assert again["counts"] == {"files": 11, "attached": 0, "unmatched": 0, "rejected": 4, "duplicates": 7}
    assert models.Photo.select().count() == 7


def imagegen_near(pixel, colour, tolerance=60):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def test_unmatched_photo_is_attached_when_reimported_after_the_registry(ctx):
    p = person(1)
    data = make_zip({f"{p['id_number']}.jpg": photos.placeholder_portrait(3)})
    assert import_zip(data)["counts"]["unmatched"] == 1
    run(registry_csv([p]))
    report = import_zip(data)
    assert report["counts"]["attached"] == 1 and report["counts"]["duplicates"] == 0
    assert photo_of(p["student_no"]).unmatched_reason == ""


def test_zip_bombs_and_oversized_members_are_refused(ctx):
    p = person(1)
    run(registry_csv([p]))
    members = {
        "huge.jpg": photos.placeholder_portrait(1),
        "zeros.jpg": b"\xff\xd8\xff" + bytes(3 * 1024 * 1024),
        f"{p['id_number']}.jpg": photos.placeholder_portrait(2),
    }
    report = import_zip(make_zip(members, declared={"huge.jpg": 30 * 1024 * 1024}))
    rejected = {row["file"]: row["reason"]["msgid"] for row in report["rejected"]}
    assert rejected == {"huge.jpg": import_photos.TOO_LARGE, "zeros.jpg": import_photos.BOMB}
    assert report["counts"]["attached"] == 1
    with pytest.raises(ImportFileError, match="2 GB"):
        import_zip(make_zip(members, declared={"huge.jpg": 3 * 1024**3}))


def test_not_a_zip_writes_nothing(ctx):
    before = table_counts()
    for data in (b"not a zip at all", make_zip({"a.jpg": b"x"})[:30]):
        with pytest.raises(ImportFileError, match="not a ZIP"):
            import_zip(data)
    assert table_counts() == before


def test_photo_import_in_worker_processes(ctx, tmp_path):
    people = [person(i) for i in range(import_photos.POOL_MIN)]
    run(registry_csv(people))
    members = {f"{p['id_number']}.jpg": photos.placeholder_portrait(i) for i, p in enumerate(people)}
    members["bad.jpg"] = imagegen.text_as_jpg()
    path = tmp_path / "photos.zip"
    path.write_bytes(make_zip(members))
    report = import_photos.import_photos(str(path), workers=2)
    assert report["counts"] == {"files": 17, "attached": 16, "unmatched": 0, "rejected": 1, "duplicates": 0}


def test_cli_import_photos(app, runner, tmp_path):
    path = tmp_path / "p.zip"
    path.write_bytes(make_zip({"x.jpg": photos.placeholder_portrait(1), "y.gif": imagegen.gif(200, 300)}))
    result = runner.invoke(args=["import-photos", str(path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (
        "attached=0" in result.output
        and "unmatched x.jpg" in result.output
        and "rejected y.gif" in result.output
    )
    (tmp_path / "bad.zip").write_bytes(b"nope")
    assert runner.invoke(args=["import-photos", str(tmp_path / "bad.zip")]).exit_code != 0


def test_colleges_are_found_by_name_or_code(ctx):
    college = models.College.create(code="CS", name="计算机学院")
    run(registry_csv([dict(person(1), college="CS"), dict(person(2), college="计算机学院")]))
    assert {r.college_id for r in models.Record.select()} == {college.id}
    assert models.College.select().count() == 1
