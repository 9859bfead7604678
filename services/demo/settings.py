"""The made-up school of the demo: logins, sizes, colleges and majors, where
students come from, and the reasons and notes its stories use."""

from services import idcard

DOMAIN = "demo.example.edu"
ADMIN_PASSWORD = "Proof-Reading-42"  # noqa: S105 (public demo login)
STAFF_PASSWORD = ADMIN_PASSWORD
STUDENT_PASSWORD = "Photo-Check-2026"  # noqa: S105 (public demo login)
SEED = 2026
TIMEZONE = "Asia/Shanghai"
SCHOOL = "演示理工大学"
# (records of the open cohort, records of last year's cohort)
SIZES = {"full": (300, 20), "small": (40, 6)}
POOL_SIZE = 24
RED = (200, 40, 40)
DEMO_STUDENTS = 8

# code, name, office, phone extension, share of men, majors (name, class prefix, level, weight)
COLLEGES = (
    ("cs", "计算机学院", "信息楼 A 座 215 室", "2315", 0.7, (
        ("计算机科学与技术", "计科", "本科", 4), ("软件工程", "软工", "本科", 3),
        ("网络工程", "网工", "本科", 1), ("数据科学与大数据技术", "数据", "本科", 2),
        ("人工智能", "智能", "本科", 1), ("计算机应用技术", "计应", "专科", 1),
        ("软件技术", "软技", "专科", 1),
    )),
    ("fl", "外国语学院", "文科楼 308 室", "2471", 0.2, (
        ("英语", "英语", "本科", 4), ("日语", "日语", "本科", 2), ("俄语", "俄语", "本科", 1),
        ("朝鲜语", "朝语", "本科", 1), ("翻译", "翻译", "本科", 1), ("商务英语", "商英", "本科", 1),
        ("应用英语", "应英", "专科", 1),
    )),
    ("em", "经济管理学院", "经管楼 102 室", "2650", 0.4, (
        ("会计学", "会计", "本科", 4), ("财务管理", "财管", "本科", 2), ("市场营销", "营销", "本科", 1),
        ("国际经济与贸易", "国贸", "本科", 2), ("工商管理", "工商", "本科", 1),
        ("物流管理", "物流", "本科", 1), ("大数据与会计", "大会", "专科", 1),
        ("电子商务", "电商", "专科", 1),
    )),
    ("me", "机械工程学院", "机械楼 B 座 410 室", "2738", 0.85, (
        ("机械设计制造及其自动化", "机制", "本科", 4), ("车辆工程", "车辆", "本科", 2),
        ("材料成型及控制工程", "材控", "本科", 1), ("机械电子工程", "机电", "本科", 2),
        ("测控技术与仪器", "测控", "本科", 1), ("机电一体化技术", "机电", "专科", 1),
        ("数控技术", "数控", "专科", 1),
    )),
)  # fmt: skip
COLLEGE_WEIGHTS = (3, 2, 3, 2)
STUDY_MODE = "普通全日制"
# Where students come from (province code, weight): mostly the school's own.
HOME_PROVINCES = (
    ("210000", 45), ("230000", 8), ("220000", 7), ("370000", 8), ("130000", 6), ("410000", 6),
    ("150000", 4), ("140000", 4), ("340000", 3), ("510000", 3), ("360000", 2), ("450000", 2),
    ("110000", 2),
)  # fmt: skip
PERMIT_AREAS = ("810000", "820000", "830000")
OTHER_ID_TYPES = (idcard.RESIDENCE_PERMIT, idcard.HKMO_PERMIT, idcard.PASSPORT)

# What students file (services.casework): (kind, note). "major"/"name" name
# a field with the value the student says is right, the others photo items.
CORRECTIONS = (
    ("photo_wrong", "照片不是本人"),
    ("major", "专业名称和录取通知书上的不一样"),
    ("name", "姓名中有错字"),
    ("photo_wrong", "照片背景颜色不对"),
)
NO_PHOTO = ("photo_missing", "学籍信息里没有照片")
OFFLINE_REASONS = (
    "学生到学院办公室在纸质勘误表上确认无误",
    "学生在外地实习，已书面确认",
    "学生无法登录学信网账号，已在办公室当面核对",
)
UNMATCHED_REASONS = {
    "name": "姓名与学籍不一致：同一证件号码的学籍姓名不同",
    "id": "证件号码无效（校验位不符），未找到学籍",
    "school": "学校名称与本校不一致",
}

# (account, path, photo) for the demo students that own a record, in order;
# student06 owns none (it claims student07's ID number).
DEMO_PATHS = (
    ("student01", "unregistered", "yes"),
    ("student02", "pending", "yes"),
    ("student03", "confirmed", "yes"),
    ("student04", "pending", "none"),
    ("student05", "unregistered", "yes"),
    ("student07", "pending", "yes"),
    ("student08", "corrected", "late"),
)

# Paths: which steps a record goes through, in order.
LINKED = {"pending", "confirmed", "linked_offline", "correction", "corrected", "reconfirmed"}
