"""Exports checked cell by cell: records CSV (BOM, Chinese headers) and XLSX,
the 勘误表 layout, and the national ZIP (names, JPEG size, the lists)."""

import csv
import datetime
import io
import os
import zipfile

import openpyxl
import pytest
from PIL import Image

import models
from services import exports, photos, photostore
from tests.factories import make_photo, make_record, make_user, setup_world, sign_in

CONFIRMED_AT = datetime.datetime(2027, 3, 1, 2, 30)  # UTC → 10:30 in Shanghai
HEADERS = ["学号", "姓名", "性别", "证件类型", "证件号码", "学院", "专业", "层次", "学习形式", "状态", "确认时间"]  # fmt: skip


@pytest.fixture
def data(app, db):
    cs, fl, cohort = setup_world()
    rec = {}
    rec["zhang"] = make_record(
        college=cs, name="张三", gender="M", student_no="2023000001", status="confirmed"
    )
    rec["li"] = make_record(
        college=cs,
        name="李四",
        gender="F",
        student_no="2023000002",
        status="pending",
        id_type="passport",
        id_number="E12345678",
    )
    rec["wang"] = make_record(college=cs, name="王五", student_no="2023000003", status="confirmed_offline")
    rec["zhao"] = make_record(
        college=cs, name="赵六", student_no="2023000004", status="confirmed_offline", major="英语"
    )
    rec["other"] = make_record(college=fl, name="钱七", student_no="2023000005", status="confirmed")
    for seed, key in enumerate(("zhang", "li", "zhao", "other"), start=1):
        make_photo(app, rec[key], seed=seed)
    staff = models.User.by_email("staff.a@example.edu")
    models.Confirmation.create(record=rec["zhang"], fingerprint="x", at=CONFIRMED_AT)
    models.Confirmation.create(
        record=rec["zhang"],
        fingerprint="y",
        at=CONFIRMED_AT - datetime.timedelta(days=3),
        void_at=CONFIRMED_AT,
        void_reason="changed",
    )
    models.Confirmation.create(
        record=rec["wang"],
        kind="offline",
        user=staff,
        fingerprint="z",
        at=CONFIRMED_AT + datetime.timedelta(hours=1),
    )
    models.Confirmation.create(
        record=rec["zhao"],
        kind="offline",
        user=staff,
        fingerprint="z",
        at=CONFIRMED_AT + datetime.timedelta(hours=2),
    )
    return {k: models.Record.get_by_id(v.id) for k, v in rec.items()}


@pytest.fixture
def staff_a(client, data):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client, "staff.a@example.edu")
    return client


def expected_rows(data, keys):
    gender = {"M": "男", "F": "女"}
    id_type = {"resident": "居民身份证", "passport": "护照"}
    status = {"confirmed": "Confirmed", "pending": "Pending", "confirmed_offline": "Confirmed offline"}
    times = {"zhang": "2027-03-01 10:30", "wang": "2027-03-01 11:30", "zhao": "2027-03-01 12:30"}
    rows = []
    for key in keys:
        r = data[key]
        rows.append(
            [
                r.student_no,
                r.name,
                gender[r.gender],
                id_type[r.id_type],
                r.id_number,
                r.college.name,
                r.major,
                r.level,
                r.study_mode,
                status[r.status],
                times.get(key, ""),
            ]
        )
    return rows


def test_csv_has_bom_chinese_headers_and_every_cell(staff_a, data):
    r = staff_a.get("/staff/export/records.csv?sort=student_no", buffered=False)
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.is_streamed  # a generator, not a list
    assert "attachment" in r.headers["Content-Disposition"]
    raw = r.get_data()
    r.close()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert rows[1:] == expected_rows(data, ["zhang", "li", "wang", "zhao"])  # not 钱七 of the other college
    event = models.AuditEvent.get(models.AuditEvent.action == "export.csv")
    assert event.actor.email == "staff.a@example.edu"


def test_csv_follows_the_filter(staff_a, data):
    rows = list(
        csv.reader(
            io.StringIO(
                staff_a.get("/staff/export/records.csv?status=confirmed_offline")
                .get_data()
                .decode("utf-8-sig")
            )
        )
    )
    assert [row[1] for row in rows[1:]] == ["王五", "赵六"]


def test_csv_neutralises_formulas(staff_a, data):
    models.Record.update(name="=HYPERLINK(1)").where(models.Record.id == data["li"].id).execute()
    body = staff_a.get("/staff/export/records.csv").get_data().decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body


def test_xlsx_cell_by_cell(staff_a, data):
    r = staff_a.get("/staff/export/records.xlsx?sort=student_no&dir=desc")
    assert r.status_code == 200 and r.mimetype == exports.XLSX_MIME
    ws = openpyxl.load_workbook(io.BytesIO(r.get_data())).active
    values = [[("" if v is None else v) for v in row] for row in ws.iter_rows(values_only=True)]
    assert values[0] == HEADERS
    assert values[1:] == expected_rows(data, ["zhao", "wang", "li", "zhang"])
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"


def test_correction_list_layout(staff_a, data):
    staff = models.User.by_email("staff.a@example.edu")
    student = make_user("li@example.edu")
    decided = datetime.datetime(2027, 3, 5, 1, 0)
    accepted = models.Request.create(
        kind="correction",
        user=student,
        record=data["li"],
        college=data["li"].college,
        status="accepted",
        note="护照换发",
        decided_by=staff,
        decided_at=decided,
        created_at=decided - datetime.timedelta(days=1),
    )
    models.CorrectionItem.create(request=accepted, field="name", old_value="李四", new_value="李斯")
    models.CorrectionItem.create(
        request=accepted, field="id_number", old_value="E12345678", new_value="E87654321"
    )
    pending = models.Request.create(
        kind="correction",
        user=make_user("z@example.edu"),
        record=data["zhang"],
        college=data["zhang"].college,
        created_at=decided,
    )
    models.CorrectionItem.create(request=pending, field="photo_wrong")
    other = models.Request.create(
        kind="correction",
        user=make_user("q@example.edu"),
        record=data["other"],
        college=data["other"].college,
    )
    models.CorrectionItem.create(request=other, field="name", old_value="钱七", new_value="钱琪")
    models.Request.create(kind="id_change", user=student, record=data["li"], college=data["li"].college)

    r = staff_a.get("/staff/export/corrections.xlsx")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.get_data())).active
    assert ws.title == "数据检查勘误表" and ws["A1"].value == "数据检查勘误表" and ws["A1"].font.bold
    assert "A1:K1" in {str(m) for m in ws.merged_cells.ranges}
    assert "学院：计算机学院" in ws["A2"].value
    rows = [[("" if v is None else v) for v in row] for row in ws.iter_rows(min_row=3, values_only=True)]
    assert rows[0] == [
        "序号",
        "学号",
        "姓名",
        "证件号码",
        "勘误项目",
        "学籍信息",
        "正确信息",
        "学生备注",
        "处理结果",
        "处理人",
        "日期",
    ]
    assert rows[1:] == [
        [
            1,
            "2023000002",
            "李四",
            "E12345678",
            "Name",
            "李四",
            "李斯",
            "护照换发",
            "accepted",
            "staff.a@example.edu",
            "2027-03-05 09:00",
        ],
        [
            2,
            "2023000002",
            "李四",
            "E12345678",
            "ID number",
            "E12345678",
            "E87654321",
            "护照换发",
            "accepted",
            "staff.a@example.edu",
            "2027-03-05 09:00",
        ],
        [
            3,
            "2023000001",
            "张三",
            data["zhang"].id_number,
            "Wrong photo",
            "",
            "",
            "",
            "open",
            "",
            "2027-03-05 09:00",
        ],
    ]


def read_zip(response):
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def csv_member(archive, name):
    raw = archive.read(name)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_national_zip(staff_a, data):
    cohort = data["zhang"].cohort
    r = staff_a.get(f"/staff/export/national.zip?cohort={cohort.id}")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    archive = read_zip(r)
    names = set(archive.namelist())
    assert names == {
        f"{data['zhang'].id_number}.jpg",
        f"{data['zhao'].id_number}.jpg",
        "名单.csv",
        "未确认.csv",
    }
    for key in ("zhang", "zhao"):
        jpeg = archive.read(f"{data[key].id_number}.jpg")
        assert photos.NATIONAL_MIN <= len(jpeg) <= photos.NATIONAL_MAX, len(jpeg)
        with Image.open(io.BytesIO(jpeg)) as img:
            assert img.format == "JPEG" and img.size == (480, 640)
    listed = csv_member(archive, "名单.csv")
    assert listed == [
        ["学号", "姓名", "证件号码", "确认时间"],
        ["2023000001", "张三", data["zhang"].id_number, "2027-03-01 10:30"],
        ["2023000004", "赵六", data["zhao"].id_number, "2027-03-01 12:30"],
    ]
    missing = csv_member(archive, "未确认.csv")
    assert missing == [
        ["学号", "姓名", "证件号码", "状态", "原因"],
        ["2023000002", "李四", "E12345678", "Pending", "not confirmed"],
        ["2023000003", "王五", data["wang"].id_number, "Confirmed offline", "confirmed, but no photo"],
    ]


def test_national_zip_reports_missing_and_unreadable_photos_never_drops_anyone(app, client, data):
    with app.app_context():
        # Both the stored national JPEG and the master are gone / damaged.
        for key in (data["zhao"].photo.key, data["other"].photo.key):
            os.remove(photostore.path(key, "national"))
        os.remove(photostore.path(data["zhao"].photo.key, "master"))
        with open(photostore.path(data["other"].photo.key, "master"), "wb") as fh:
            fh.write(b"not a picture")
    sign_in(client, "admin@example.edu")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    archive = read_zip(client.get("/staff/export/national.zip"))  # default cohort: the only one
    assert [n for n in archive.namelist() if n.endswith(".jpg")] == [f"{data['zhang'].id_number}.jpg"]
    missing = {row[1]: row[4] for row in csv_member(archive, "未确认.csv")[1:]}
    assert missing == {
        "李四": "not confirmed",
        "王五": "confirmed, but no photo",
        "赵六": "confirmed, but the photo file is missing",
        "钱七": "confirmed, but the photo cannot be read",
    }


def test_national_zip_makes_the_jpeg_when_an_older_photo_has_none(app, client, data):
    """Photos imported before the national variant was stored still export."""
    with app.app_context():
        os.remove(photostore.path(data["zhang"].photo.key, "national"))
    sign_in(client, "admin@example.edu")
    archive = read_zip(client.get("/staff/export/national.zip"))
    jpeg = archive.read(f"{data['zhang'].id_number}.jpg")
    assert Image.open(io.BytesIO(jpeg)).size == (480, 640) and 20 * 1024 <= len(jpeg) <= 40_000
