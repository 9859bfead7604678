"""Memory bounds of the registry import: the 100,000-row duplicate XLSX.

Before, each duplicate's reason listed every line of its group: the report
grew with the square of the group, and a 0.5 MB file of 100,000 copies of one
row drove a worker to 22 GB. The import runs here in a fresh process, as the
worker runs it, on two smaller files of that kind; the process reports its
own peak RSS after each, and the growth per row is projected to 100,000 rows.
"""

import datetime
import json
import os
import random
import subprocess
import sys
import zipfile

import pytest

import models
from services import idcard
from services.importing import registry as import_registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = ["学号", "姓名", "性别", "证件类型", "证件号码", "出生日期", "民族", "学院", "专业", "班级",
           "层次", "学习形式", "入学日期", "预计毕业日期", "届别"]  # fmt: skip
ROW = ["2023000001", "张伟", "男", "居民身份证",
       idcard.generate_resident(random.Random(1), birth=datetime.date(2003, 1, 1), gender="M"), "2003-01-01", "汉族", "第1学院",
       "计算机科学与技术", "计科1班", "本科", "普通全日制", "2023-09-01", "2027-06-30", "2027届"]  # fmt: skip
BUDGET_MIB = 300


def duplicate_xlsx(path, rows):
    """An XLSX (shared strings, as Excel writes it) repeating one row `rows` times."""
    strings = HEADERS + ROW
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)

    def row_xml(number, first):
        cells = "".join(f'<c t="s"><v>{first + i}</v></c>' for i in range(len(HEADERS)))
        return f'<row r="{number}">{cells}</row>'

    cells = row_xml(0, len(HEADERS)).split(">", 1)[1]
    body = row_xml(1, 0) + "".join(f'<row r="{n}">{cells}' for n in range(2, rows + 2))
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    files = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook {ns} xmlns:r="{rel}"><sheets><sheet name="学籍" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/sharedStrings.xml": f'<sst {ns} count="{len(strings)}" uniqueCount="{len(strings)}">{shared}</sst>',
        "xl/worksheets/sheet1.xml": f"<worksheet {ns}><sheetData>{body}</sheetData></worksheet>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)


MEASURE = """
import gc, json, sys
from app import create_app
import models
from services import importing as imports
from services.importing import registry as import_registry
app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "DATABASE_URL": "sqlite:///" + sys.argv[1]})
def peak_kib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the process
    # that started this one (pytest, often larger than this whole import)
    # across exec, which would hide the import's own growth.
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith("VmHWM:")).split()[1])
results = []
with app.app_context():
    models.db.connect()
    models.migrate()
    baseline = peak_kib()
    for path in sys.argv[2:]:  # smallest first: each peak is that size's own
        with open(path, "rb") as fh:
            data = fh.read()
        with imports.job_context(app):
            report = import_registry.import_registry(data, "dup.xlsx", link=imports.mail_link)
        stored = json.dumps(report, ensure_ascii=False)  # as the job stores it
        results.append({"peak": peak_kib(),
                        "bytes": len(stored.encode()), "counts": report["counts"],
                        "duplicates": report["duplicates"], "first": report["rejected"][0]})
        del data, report, stored
        gc.collect()
print(json.dumps({"baseline": baseline, "runs": results}, ensure_ascii=False))
"""

# Two sizes instead of the one 100,000-row file (two minutes of openpyxl on a
# busy machine): what grows per row is measured and projected to 100,000
# rows. The bug this guards against made the report grow with the square of
# the group: at 10,000 rows that is already a 600 MB report and gigabytes of
# memory, and a 25-fold (not 5-fold) growth from the smaller file.
SIZES = (2_000, 10_000)
TARGET_ROWS = 100_000


@pytest.mark.timeout(600)
def test_a_100000_row_duplicate_file_would_stay_within_the_memory_budget(tmp_path):
    paths = []
    for rows in SIZES:
        path = tmp_path / f"dup-{rows}.xlsx"
        duplicate_xlsx(path, rows)
        paths.append(str(path))
    assert os.path.getsize(paths[-1]) < 1_000_000 * SIZES[-1] / TARGET_ROWS
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path / "db.sqlite3"), *paths],
        cwd=ROOT, capture_output=True, text=True, timeout=580, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    (small, large), baseline = result["runs"], result["baseline"]
    for rows, run in zip(SIZES, (small, large), strict=True):
        assert run["counts"]["rows"] == rows and run["counts"]["rejected"] == rows
        # One group, its lines listed once; each row names its 学号 and name.
        group = {"group": 1, "field": "student_no", "value": "2023000001", "count": rows}
        assert run["duplicates"] == [dict(group, lines=f"2–{rows + 1}")]
        first = run["first"]
        assert (first["line"], first["student_no"], first["name"]) == (2, "2023000001", "张伟")
        assert first["reasons"][0]["msgid"] == import_registry.DUPLICATE_NO

    # The stored report is linear: about 250 bytes per rejected row, at both sizes.
    grow = SIZES[1] / SIZES[0]
    assert large["bytes"] / small["bytes"] < grow * 1.1
    assert large["bytes"] < 400 * SIZES[1]
    # Memory: what the import added at each size, and the growth per row
    # between them projected to 100,000 rows, stays within the budget.
    small_mib, large_mib = (small["peak"] - baseline) / 1024, (large["peak"] - baseline) / 1024
    per_row_mib = max(large_mib - small_mib, 0) / (SIZES[1] - SIZES[0])
    projected_mib = large_mib + per_row_mib * (TARGET_ROWS - SIZES[1])
    print(f"\nduplicate XLSX: {small_mib:.0f} MiB at {SIZES[0]} rows, {large_mib:.0f} MiB at {SIZES[1]} rows, "
          f"projected {projected_mib:.0f} MiB at {TARGET_ROWS}; report {large['bytes'] / SIZES[1]:.0f} bytes/row; "
          f"process peak {large['peak'] / 1024:.0f} MiB after a {baseline / 1024:.0f} MiB start")  # fmt: skip
    assert projected_mib < BUDGET_MIB


def test_a_registry_over_the_row_cap_is_refused(app, tmp_path, monkeypatch):
    from services import importing as imports

    monkeypatch.setattr(import_registry, "MAX_ROWS", 50)
    path = tmp_path / "big.xlsx"
    duplicate_xlsx(path, 51)
    csv_data = ("\n".join([",".join(HEADERS)] + [",".join(ROW)] * 51)).encode()
    for data, name in ((path.read_bytes(), "big.xlsx"), (csv_data, "big.csv")):
        with imports.job_context(app), pytest.raises(imports.ImportFileError) as raised:
            import_registry.import_registry(data, name)
        assert "more than 50 data rows" in str(raised.value)
    # 50 rows are fine (and rejected as duplicates).
    csv_data = ("\n".join([",".join(HEADERS)] + [",".join(ROW)] * 50)).encode()
    with imports.job_context(app):
        models.db.connect(reuse_if_open=True)
        assert import_registry.import_registry(csv_data, "ok.csv", dry_run=True)["counts"]["rejected"] == 50
