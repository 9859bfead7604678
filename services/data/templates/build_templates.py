"""Write the import template files in this folder (synthetic example rows).

Run from the project root: .venv/bin/python services/data/templates/build_templates.py
The ID numbers are generated with valid check digits; they belong to nobody.
"""

import csv
import datetime
import os
import random
import sys

import openpyxl
from openpyxl.styles import Font

sys.path.insert(0, os.getcwd())
from services import idcard  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HEADERS = [
    "学号", "姓名", "性别", "证件类型", "证件号码", "出生日期", "民族", "学院", "专业",
    "班级", "层次", "学习形式", "入学日期", "预计毕业日期", "届别",
]  # fmt: skip
DATE_COLUMNS = {"出生日期", "入学日期", "预计毕业日期"}


def example_rows():
    rng = random.Random(2027)
    people = [
        (
            "2023010101",
            "张示例",
            "M",
            datetime.date(2005, 3, 14),
            "汉族",
            "计算机学院",
            "计算机科学与技术",
            "计科2301",
        ),
        ("2023020102", "李示例", "F", datetime.date(2004, 11, 2), "回族", "外国语学院", "英语", "英语2302"),
    ]
    rows = []
    for student_no, name, gender, born, ethnicity, college, major, class_name in people:
        number = idcard.generate_resident(rng, birth=born, gender=gender, area="110100")
        rows.append([
            student_no, name, "男" if gender == "M" else "女", "居民身份证", number, born, ethnicity,
            college, major, class_name, "本科", "普通全日制", datetime.date(2023, 9, 1),
            datetime.date(2027, 6, 30), "2027届",
        ])  # fmt: skip
    return rows


def main():
    rows = example_rows()
    as_text = [[v.isoformat() if isinstance(v, datetime.date) else v for v in row] for row in rows]
    with open(os.path.join(HERE, "registry-template.csv"), "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *as_text])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "学籍"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column, header in enumerate(HEADERS, 1):
        letter = openpyxl.utils.get_column_letter(column)
        sheet.column_dimensions[letter].width = 22 if header == "证件号码" else 14
        for cell in sheet[letter][1:]:
            # ID and student numbers as text: Excel would round 18 digits.
            cell.number_format = "yyyy-mm-dd" if header in DATE_COLUMNS else "@"
    sheet.freeze_panes = "A2"
    book.save(os.path.join(HERE, "registry-template.xlsx"))
    with open(os.path.join(HERE, "photo-manifest-template.csv"), "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["学校", "姓名", "证件号码", "文件名"])
        for row in rows:
            writer.writerow(["示例大学", row[1], row[4], f"{row[4]}.jpg"])


if __name__ == "__main__":
    main()
