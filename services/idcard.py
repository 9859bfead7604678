"""Chinese identity document numbers: validation, normalisation, masking.

Covers GB 11643-1999 resident ID numbers, the 18-character residence permits
for Hong Kong, Macao and Taiwan residents that share their format, the two
travel permits and passports (their codes and labels: services.id_types,
re-exported here). Plain functions that never touch a request.

This module deliberately does no logging at all: full ID numbers are
sensitive personal information and must never reach a log.
"""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from services.id_types import (
    HKMO_PERMIT,
    PASSPORT,
    PERMIT_AREAS,
    PROVINCE_PREFIXES,
    RESIDENCE_PERMIT,
    RESIDENT,
    TW_PERMIT,
)
from services.id_types import ID_TYPE_BY_LABEL as ID_TYPE_BY_LABEL
from services.id_types import ID_TYPES as ID_TYPES

# GB 11643 numbers positions from the right, the check digit being position 1;
# position i weighs 2**(i-1) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
_MIN_BIRTH = date(1900, 1, 1)
_RE_18 = re.compile(r"[0-9]{17}[0-9X]")
_RE_DIGITS = re.compile(r"[0-9]+")
# Dashes of every kind and zero-width characters arrive when students paste
# their number from chat apps or documents.
_DROP_CHARS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u200b\u200c\u200d\u2060\ufeff"
_DROP = dict.fromkeys(map(ord, _DROP_CHARS))
_SAMPLE_AREAS = (
    "110100", "120100", "130100", "210100", "230100", "310100", "320100",
    "330100", "350200", "370200", "420100", "430100", "440100", "440300",
    "500100", "510100", "530100", "610100", "650100",
)  # fmt: skip


class IdNumberError(ValueError):
    """An ID number, or what the student typed beside it, is not acceptable.

    ``message`` is a lazy translatable string; ``field`` names the form field
    the problem belongs to: "id_number", "birth_date" or "gender".
    """

    def __init__(self, message, field: str = "id_number"):
        super().__init__(message)
        self.message = message
        self.field = field


def normalize(raw: str) -> str:
    """Fold full-width characters, drop spaces and hyphens, upper-case."""
    if not raw:
        return ""
    text = unicodedata.normalize("NFKC", str(raw))
    return "".join(text.split()).translate(_DROP).upper()


def check_digit(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for 17 digits."""
    if len(first17) != 17 or not _RE_DIGITS.fullmatch(first17):
        raise ValueError("check_digit() needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def upgrade_15(num15: str) -> str:
    """Convert an old 15-digit resident ID number to its 18-character form."""
    if len(num15) != 15 or not _RE_DIGITS.fullmatch(num15):
        raise ValueError("upgrade_15() needs exactly 15 ASCII digits")
    first17 = num15[:6] + "19" + num15[6:]
    return first17 + check_digit(first17)


def _birth_date(number18: str, today: date) -> date:
    try:
        born = date(int(number18[6:10]), int(number18[10:12]), int(number18[12:14]))
    except ValueError:
        born = None
    if born is None or born < _MIN_BIRTH:
        raise IdNumberError(_l("The birth date in this ID number (digits 7 to 14) is not a possible date."))
    if born > today:
        raise IdNumberError(_l("The birth date in this ID number lies in the future."))
    return born


def _validate_18(number: str, today: date, length_error, area_ok, area_error) -> str:
    if len(number) != 18:
        raise IdNumberError(length_error)
    if not _RE_18.fullmatch(number):
        raise IdNumberError(_l("This ID number may contain only digits, with an X as the last character."))
    if not area_ok(number):
        raise IdNumberError(area_error)
    _birth_date(number, today)
    if check_digit(number[:17]) != number[17]:
        raise IdNumberError(
            _l("The check digit (last character) of this ID number is wrong. Please check every digit.")
        )
    return number


def _validate_resident(number: str, today: date) -> str:
    if len(number) == 15:
        if not _RE_DIGITS.fullmatch(number):
            raise IdNumberError(_l("An old 15-digit ID number may contain only digits."))
        number = upgrade_15(number)
    return _validate_18(
        number,
        today,
        _l(
            "A resident ID number has 18 characters; you entered %(count)d.",
            count=len(number),
        ),
        lambda n: n[:2] in PROVINCE_PREFIXES,
        _l("The first two digits of this ID number are not a valid province code."),
    )


def _validate_residence_permit(number: str, today: date) -> str:
    return _validate_18(
        number,
        today,
        _l(
            "A residence permit number has 18 characters; you entered %(count)d.",
            count=len(number),
        ),
        lambda n: n[:6] in PERMIT_AREAS,
        _l(
            "A residence permit number for Hong Kong, Macao or Taiwan residents starts with 810000, 820000 or 830000."
        ),
    )


def _validate_pattern(pattern: str, message):
    regex = re.compile(pattern)

    def check(number: str, today: date) -> str:
        if not regex.fullmatch(number):
            raise IdNumberError(message)
        return number

    return check


_VALIDATORS = {
    RESIDENT: _validate_resident,
    RESIDENCE_PERMIT: _validate_residence_permit,
    HKMO_PERMIT: _validate_pattern(
        r"[HM][0-9]{8}(?:[0-9]{2})?",
        _l("A permit number for Hong Kong and Macao residents is H or M followed by 8 or 10 digits."),
    ),
    TW_PERMIT: _validate_pattern(
        r"[0-9]{8}",
        _l("A permit number for Taiwan residents has 8 digits."),
    ),
    PASSPORT: _validate_pattern(
        r"[A-Z0-9]{5,17}",
        _l("A passport number has 5 to 17 letters and digits."),
    ),
}


def validate(id_type: str, raw: str, *, today: date | None = None) -> str:
    """Return the canonical form of an ID number or raise IdNumberError.

    Old 15-digit resident numbers come back converted to 18 characters.
    ``today`` (default: the local date) bounds the birth date.
    """
    number = normalize(raw)
    if not number:
        raise IdNumberError(_l("Please enter your ID number."))
    checker = _VALIDATORS.get(id_type)
    if checker is None:
        raise IdNumberError(_l("Please choose a valid ID type."))
    return checker(number, today or date.today())


def birth_and_gender(id_type: str, number: str) -> tuple[date, str] | None:
    """Return (birth date, "M" or "F") encoded in a resident-format number.

    None for document types that carry neither; raises IdNumberError when a
    resident-format number is not valid.
    """
    if id_type not in (RESIDENT, RESIDENCE_PERMIT):
        return None
    canonical = validate(id_type, number)
    born = date(int(canonical[6:10]), int(canonical[10:12]), int(canonical[12:14]))
    return born, ("M" if int(canonical[16]) % 2 else "F")


def check_consistency(id_type: str, number: str, birth_date: date | None, gender: str | None) -> None:
    """Raise IdNumberError if the typed birth date or gender contradicts the number.

    A value given as None is not checked; neither is anything for document
    types that do not encode birth date and gender.
    """
    found = birth_and_gender(id_type, number)
    if found is None:
        return
    born, sex = found
    if birth_date is not None:
        if isinstance(birth_date, datetime):
            birth_date = birth_date.date()
        if birth_date != born:
            raise IdNumberError(
                _l("The birth date does not match the one in your ID number."),
                field="birth_date",
            )
    if gender is not None and str(gender).strip().upper() != sex:
        raise IdNumberError(_l("The gender does not match the one in your ID number."), field="gender")


def mask(number: str) -> str:
    """Hide the middle of an ID number, e.g. ``2101**********123X``.

    A quarter of the length (at most 4 characters) stays visible at each end:
    first/last 4 of an 18-character number, 2 of an 8-character one, nothing
    of 3 characters or fewer. The length is kept. Never raises.
    """
    # Masking runs inside templates and exports: a crash there would be worse
    # than an empty cell, so any odd input gives "".
    try:
        text = "" if number is None else str(number)
    except Exception:  # noqa: BLE001
        return ""
    size = len(text)
    # A flat "first 4 + last 4" would show 8 of the 9 characters of a permit
    # or passport number, so short numbers keep proportionally less.
    keep = min(4, size // 4)
    if keep == 0:
        return "*" * size
    return text[:keep] + "*" * (size - 2 * keep) + text[-keep:]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def generate_resident(
    rng: random.Random,
    birth: date | None = None,
    gender: str | None = None,
    area: str | None = None,
) -> str:
    """Make a synthetic, valid 18-character resident ID number.

    Defaults: a prefecture code from a small built-in list, a birth date
    17 to 30 years ago and a random gender. For tests and demo data only.
    """
    today = date.today()
    if area is None:
        area = rng.choice(_SAMPLE_AREAS)
    if not re.fullmatch(r"[0-9]{6}", area) or area[:2] not in PROVINCE_PREFIXES:
        raise ValueError("area must be a 6-digit code of a known province")
    if birth is None:
        birth = today - timedelta(days=rng.randint(17 * 365, 30 * 365))
    if isinstance(birth, datetime):
        birth = birth.date()
    if not _MIN_BIRTH <= birth <= today:
        raise ValueError("birth must lie between 1900-01-01 and today")
    if gender is None:
        gender = rng.choice("MF")
    if gender not in ("M", "F"):
        raise ValueError('gender must be "M" or "F"')
    # The 17th digit is odd for men and even for women (GB 11643).
    last = rng.choice("13579" if gender == "M" else "02468")
    first17 = f"{area}{birth:%Y%m%d}{_digits(rng, 2)}{last}"
    return first17 + check_digit(first17)


def generate(rng: random.Random, id_type: str) -> str:
    """Make a synthetic, valid number of any supported ID type."""
    if id_type == RESIDENT:
        return generate_resident(rng)
    if id_type == RESIDENCE_PERMIT:
        return generate_resident(rng, area=rng.choice(PERMIT_AREAS))
    if id_type == HKMO_PERMIT:
        return rng.choice("HM") + _digits(rng, rng.choice((8, 10)))
    if id_type == TW_PERMIT:
        return _digits(rng, 8)
    if id_type == PASSPORT:
        # The shape of ordinary PRC e-passports.
        return "E" + _digits(rng, 8)
    raise ValueError(f"unknown ID type {id_type!r}")
