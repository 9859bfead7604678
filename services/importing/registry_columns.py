"""The registry file: its columns, and the reasons a row or the file is rejected.

A reason is an English msgid with variables (``services.importing.reasons``),
translated when a report is shown.
"""

from services import idcard
from services.importing.reasons import N_

# field: (Chinese header, required, max length)
COLUMNS = {
    "student_no": ("学号", True, 32),
    "name": ("姓名", True, 64),
    "gender": ("性别", True, 1),
    "id_type": ("证件类型", True, 20),
    "id_number": ("证件号码", True, 32),
    "birth_date": ("出生日期", True, None),
    "ethnicity": ("民族", False, 32),
    "college": ("学院", True, 100),
    "major": ("专业", True, 100),
    "class_name": ("班级", False, 64),
    "level": ("层次", True, 32),
    "study_mode": ("学习形式", True, 32),
    "enrolled_on": ("入学日期", True, None),
    "graduating_on": ("预计毕业日期", True, None),
    "cohort": ("届别", True, 32),
}
ALIASES = {
    **{header: key for key, (header, _req, _max) in COLUMNS.items()},
    **{key: key for key in COLUMNS},
    "身份证号": "id_number",
    "身份证号码": "id_number",
}
REQUIRED = {key: header for key, (header, required, _max) in COLUMNS.items() if required}
DATE_FIELDS = ("birth_date", "enrolled_on", "graduating_on")
GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "男性": "M", "女性": "F"}
ID_TYPES = {key.casefold(): value for key, value in idcard.ID_TYPE_BY_LABEL.items()}
# Written to existing records when they differ (optional columns only when present).

MISSING = N_("The value in column “%(column)s” is missing.")
TOO_LONG = N_("The value in column “%(column)s” is too long (at most %(max)d characters).")
BAD_DATE = N_("“%(value)s” in column “%(column)s” is not a date; write it as YYYY-MM-DD.")
BAD_GENDER = N_("“%(value)s” in column “%(column)s” is not a gender; write 男 or 女.")
BAD_ID_TYPE = N_("“%(value)s” in column “%(column)s” is not a known ID type, e.g. 居民身份证 or 护照.")
LOST_DIGITS = N_(
    "Excel turned the ID number into a number and lost digits (%(value)s). "
    "Format the column as text and export the file again."
)
MISMATCH = N_("The value in column “%(column)s” does not match the ID number.")
DATES_ORDER = N_("The enrolment date must be before the expected graduation date.")
# A duplicate's reason names its group; the group's lines are listed once,
# under "Duplicates" (report["duplicates"]), so the report grows with the
# rows, not with the square of a group's size.
DUPLICATE_NO = N_(
    "Student number %(student_no)s appears %(count)d times in this file (duplicate group %(group)d)."
)
DUPLICATE_ID = N_(
    "The same ID number appears under %(count)d different lines with other student numbers "
    "in this file (duplicate group %(group)d)."
)
TOO_MANY_ROWS = N_(
    "The file has more than %(max)d data rows. Split it into several files (for example one per college) "
    "and import them one after the other."
)
ID_TAKEN = N_("This ID number already belongs to the record with student number %(student_no)s.")
