"""Open ID requests for the demo, so staff queues are not empty on `make run`.

student09 typed a wrong ID number at real-name registration and has filed
an ID change request; student11 holds student10's ID number and student10
has filed an ID dispute. Both carry Pillow-drawn specimen ID-card pictures
(synthetic: the word SPECIMEN, a drawn face, no real person's data).
"""

import datetime
import io
import random

from PIL import Image, ImageDraw, ImageFont

from models import Record, User
from services import casework, idcard, idimages, matching, photos
from services.vocab import Role


def id_card_picture(seed: int, side: str) -> bytes:
    """A specimen ID-card side as JPEG bytes (856×540, the card's proportions)."""
    rng = random.Random(seed)
    card = Image.new("RGB", (856, 540), (226, 236, 244))
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default()
    draw.rounded_rectangle((8, 8, 848, 532), radius=28, outline=(90, 120, 160), width=6)
    draw.text((40, 40), f"DEMO ID CARD - SPECIMEN - {side.upper()}", fill=(60, 60, 90), font=font)
    for row in range(5):
        width = rng.randint(220, 420)
        draw.rectangle((40, 110 + row * 60, 40 + width, 130 + row * 60), fill=(150, 160, 180))
    if side == "front":
        face = Image.open(io.BytesIO(photos.placeholder_portrait(seed, background=(255, 255, 255))))
        card.paste(face.convert("RGB").resize((210, 280)), (600, 130))
    out = io.BytesIO()
    card.save(out, "JPEG", quality=85)
    return out.getvalue()


def _student(email, record, password_hash, now, id_number=None):
    return User.create(
        email=email,
        password_hash=password_hash,
        role=Role.STUDENT,
        created_at=now - datetime.timedelta(hours=30),
        activated_at=now - datetime.timedelta(hours=29),
        real_name=record.name,
        gender=record.gender,
        id_type=record.id_type,
        id_number=id_number or record.id_number,
        birth_date=record.birth_date,
        province="210000",
        city="210200",
        realname_at=now - datetime.timedelta(hours=28),
    )


def seed_open_requests(
    rng: random.Random,
    wrong_id_record: Record,
    disputed_record: Record,
    domain: str,
    password_hash: str,
    now: datetime.datetime,
) -> tuple[list[str], list[str]]:
    """Create the three accounts and two open requests; returns (emails, guide lines)."""
    # A plausible typo: same birth date and gender, other digits.
    wrong = idcard.generate_resident(rng, birth=wrong_id_record.birth_date, gender=wrong_id_record.gender)
    nine = _student(f"student09@{domain}", wrong_id_record, password_hash, now, id_number=wrong)
    key = idimages.store(id_card_picture(9, "front"), id_card_picture(9, "back"))
    casework.file_id_change(
        nine,
        idcard.RESIDENT,
        wrong_id_record.id_number,
        "13800000009",
        "",
        key,
        note="实名注册时证件号码填错了一位",
    )

    eleven = _student(f"student11@{domain}", disputed_record, password_hash, now)
    matching.link(eleven)
    ten = _student(f"student10@{domain}", disputed_record, password_hash, now)
    key = idimages.store(id_card_picture(10, "front"), id_card_picture(10, "back"))
    casework.file_dispute(ten, "13800000010", "", key, note="我的身份证号被他人注册")

    guide = [
        f"student09  wrong ID number at 实名注册, ID change request open (staff: accept → record "
        f"{wrong_id_record.student_no} links)",
        f"student10  ID dispute open against student11 about record {disputed_record.student_no}",
        "student11  held student10's ID number; the dispute unlinked the record until staff decide",
    ]
    return [nine.email, ten.email, eleven.email], guide
