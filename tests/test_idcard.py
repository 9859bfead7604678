"""Tests for services.idcard: every number here is synthetic."""

import logging
import random
from datetime import date, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services import idcard
from services.idcard import (
    HKMO_PERMIT,
    PASSPORT,
    RESIDENCE_PERMIT,
    RESIDENT,
    TW_PERMIT,
    IdNumberError,
)

# No per-example deadline: a busy 2-core CI machine must not make these flaky.
props = settings(deadline=None)

TODAY = date.today()
REFERENCE_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]

rngs = st.randoms(use_true_random=False)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
genders = st.sampled_from("MF")
areas = st.builds(
    str.__add__,
    st.sampled_from(sorted(idcard.PROVINCE_PREFIXES)),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
)


@st.composite
def residents(draw, births=births):
    """A (number, birth, gender) triple from the generator."""
    birth, gender = draw(births), draw(genders)
    number = idcard.generate_resident(draw(rngs), birth=birth, gender=gender, area=draw(areas))
    return number, birth, gender


def fullwidth(text):
    """Spell ASCII text with full-width forms, as Chinese input methods do."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def reference_check_digit(first17):
    total = sum(int(d) * w for d, w in zip(first17, REFERENCE_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def error_of(id_type, raw, **kwargs):
    with pytest.raises(IdNumberError) as info:
        idcard.validate(id_type, raw, **kwargs)
    return info.value


# --- check digit, upgrade, normalisation ---------------------------------


def test_check_digit_hand_computed():
    assert idcard.check_digit("00000000000000000") == "1"
    assert idcard.check_digit("00000000000000001") == "X"
    assert idcard.check_digit("11111111111111111") == "0"


@props
@given(st.from_regex(r"[0-9]{17}", fullmatch=True))
def test_check_digit_matches_reference(first17):
    assert idcard.check_digit(first17) == reference_check_digit(first17)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1234567890123456",
        "123456789012345678",
        "1234567890123456X",
        fullwidth("12345678901234567"),
    ],
)
def test_check_digit_rejects_non_17_digits(bad):
    with pytest.raises(ValueError):
        idcard.check_digit(bad)


@props
@given(residents(births=st.dates(min_value=date(1900, 1, 1), max_value=min(TODAY, date(1999, 12, 31)))))
def test_upgrade_15_round_trip(case):
    number, _birth, _gender = case
    old = number[:6] + number[8:17]
    assert idcard.upgrade_15(old) == number
    assert idcard.validate(RESIDENT, old) == number


def test_normalize_examples():
    assert idcard.normalize(fullwidth("1101") + " 05\u3000-ab" + fullwidth("-x")) == "110105ABX"
    assert idcard.normalize("") == ""
    assert idcard.normalize(None) == ""


@props
@given(residents(), st.data())
def test_spelling_variants_normalise_to_same_number(case, data):
    number, _birth, _gender = case
    chars = list(number.lower())
    if data.draw(st.booleans()):
        chars = list(fullwidth("".join(chars)))
    separators = st.sampled_from([" ", "\u3000", "-", fullwidth("-"), "\t", "\u2014"])
    for index in sorted(data.draw(st.lists(st.integers(0, 18), max_size=5)), reverse=True):
        chars.insert(index, data.draw(separators))
    variant = "".join(chars)
    assert idcard.normalize(variant) == number
    assert idcard.validate(RESIDENT, variant) == number


# --- resident numbers ------------------------------------------------------


@props
@given(residents())
def test_generated_numbers_validate_and_carry_birth_and_gender(case):
    number, birth, gender = case
    assert idcard.validate(RESIDENT, number) == number
    assert idcard.birth_and_gender(RESIDENT, number) == (birth, gender)
    idcard.check_consistency(RESIDENT, number, birth, gender)


@props
@given(residents())
def test_every_single_character_change_is_rejected(case):
    number = case[0]
    for position in range(18):
        for char in "0123456789X":
            if char != number[position]:
                changed = number[:position] + char + number[position + 1 :]
                with pytest.raises(IdNumberError):
                    idcard.validate(RESIDENT, changed)


@props
@given(residents(), births)
def test_birth_date_mismatch_names_birth_date(case, other):
    number, birth, gender = case
    assume(other != birth)
    with pytest.raises(IdNumberError) as info:
        idcard.check_consistency(RESIDENT, number, other, gender)
    assert info.value.field == "birth_date"


@props
@given(residents())
def test_gender_mismatch_names_gender(case):
    number, birth, gender = case
    other = "F" if gender == "M" else "M"
    with pytest.raises(IdNumberError) as info:
        idcard.check_consistency(RESIDENT, number, birth, other)
    assert info.value.field == "gender"


def test_consistency_accepts_datetime_lower_case_and_missing_values():
    number = idcard.generate_resident(random.Random(1), birth=date(2003, 2, 28), gender="F")
    idcard.check_consistency(RESIDENT, number, datetime(2003, 2, 28, 12, 0), "f")
    idcard.check_consistency(RESIDENT, number, None, None)
    assert idcard.birth_and_gender(PASSPORT, "E12345678") is None
    idcard.check_consistency(PASSPORT, "E12345678", date(2000, 1, 1), "M")


def complete(first17):
    """Complete 17 digits with their check digit (test helper)."""
    return first17 + idcard.check_digit(first17)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "enter your ID number"),
        ("   ", "enter your ID number"),
        ("11010520000101", "18 characters; you entered 14"),
        ("1101052000010100X1", "only digits"),
        ("11010520000101001A", "only digits"),
        ("11010520000101X01", "18 characters"),
        ("1101052000X101001", "18 characters"),
        ("11010520000101X", "15-digit"),
        (complete("00010520000101001"), "province code"),
        (complete("91010520000101001"), "province code"),
        (complete("11010520010229001"), "not a possible date"),
        (complete("11010520001301001"), "not a possible date"),
        (complete("11010518991231001"), "not a possible date"),
        (complete("11010520300101001"), "in the future"),
    ],
)
def test_resident_errors_are_specific(raw, fragment):
    error = error_of(RESIDENT, raw, today=date(2025, 1, 1))
    assert fragment in str(error)
    assert error.field == "id_number"


def test_wrong_check_digit_message():
    number = complete("11010520000101001")
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert "check digit" in str(error_of(RESIDENT, wrong))


def test_birth_today_is_accepted_and_tomorrow_is_not():
    number = complete("11010520240229001")
    assert idcard.validate(RESIDENT, number, today=date(2024, 2, 29)) == number
    assert "future" in str(error_of(RESIDENT, number, today=date(2024, 2, 28)))


def test_resident_accepts_hong_kong_macao_taiwan_prefixes():
    for area in ("710000", "810000", "820000", "830000"):
        number = idcard.generate_resident(random.Random(2), area=area)
        assert idcard.validate(RESIDENT, number) == number


def test_unknown_type():
    error = error_of("driving_licence", "E12345678")
    assert "ID type" in str(error)


# --- residence permits, travel permits, passports --------------------------


@props
@given(rngs)
def test_generate_gives_valid_numbers_of_every_type(rng):
    for code, _label in idcard.ID_TYPES:
        number = idcard.generate(rng, code)
        assert idcard.validate(code, number) == number


def test_residence_permit_needs_permit_area_code():
    rng = random.Random(3)
    for area in ("810000", "820000", "830000"):
        number = idcard.generate_resident(rng, area=area, birth=date(2001, 5, 6), gender="M")
        assert idcard.validate(RESIDENCE_PERMIT, number.lower()) == number
        assert idcard.birth_and_gender(RESIDENCE_PERMIT, number) == (
            date(2001, 5, 6),
            "M",
        )
    mainland = idcard.generate_resident(rng, area="440100")
    assert "810000" in str(error_of(RESIDENCE_PERMIT, mainland))
    assert "18 characters" in str(error_of(RESIDENCE_PERMIT, mainland[:6] + mainland[8:17]))


@pytest.mark.parametrize(
    ("id_type", "good", "bad"),
    [
        (
            HKMO_PERMIT,
            ["H12345678", "m1234567801", "H 1234 5678"],
            ["X12345678", "H1234567", "H123456789", "H123456789012", "12345678H"],
        ),
        (
            TW_PERMIT,
            ["12345678", fullwidth("12345678"), "1234-5678"],
            ["1234567", "123456789", "A1234567", "T12345678"],
        ),
        (
            PASSPORT,
            ["E12345678", "g1234567", "12345", "AB1234567890CDEFG"],
            ["1234", "AB1234567890CDEFGH", "E1234567/", "É1234567"],
        ),
    ],
)
def test_permit_and_passport_formats(id_type, good, bad):
    for raw in good:
        assert idcard.validate(id_type, raw) == idcard.normalize(raw)
    for raw in bad:
        assert error_of(id_type, raw).field == "id_number"


@props
@given(st.from_regex(r"[HM][0-9]{8}([0-9]{2})?", fullmatch=True))
def test_hkmo_permit_shape_accepted(number):
    assert idcard.validate(HKMO_PERMIT, number) == number


@props
@given(st.from_regex(r"[A-Za-z0-9]{5,17}", fullmatch=True))
def test_passport_shape_accepted(number):
    assert idcard.validate(PASSPORT, number) == number.upper()


# --- masking ---------------------------------------------------------------


def test_mask_examples():
    number = complete("21010520000101123")
    assert idcard.mask(number) == number[:4] + "*" * 10 + number[-4:]
    assert idcard.mask("12345678") == "12****78"
    assert idcard.mask("E12345678") == "E1*****78"
    assert idcard.mask("abc") == "***"
    assert idcard.mask("") == idcard.mask(None) == ""


@props
@given(st.one_of(st.text(), st.none(), st.integers(), st.binary()))
def test_mask_never_raises_and_reveals_little(value):
    masked = idcard.mask(value)
    text = "" if value is None else str(value)
    assert len(masked) == len(text)
    revealed = [i for i, char in enumerate(masked) if char != "*"]
    assert all(masked[i] == text[i] for i in revealed)
    assert len(revealed) <= min(8, len(text) // 2)


def test_mask_survives_broken_str():
    class Broken:
        def __str__(self):
            raise RuntimeError("no")

    assert idcard.mask(Broken()) == ""


# --- labels, generator arguments, privacy ------------------------------------


def test_id_types_and_labels_outside_app_context():
    assert [code for code, _label in idcard.ID_TYPES] == [
        RESIDENT,
        RESIDENCE_PERMIT,
        HKMO_PERMIT,
        TW_PERMIT,
        PASSPORT,
    ]
    assert str(dict(idcard.ID_TYPES)[RESIDENT]) == "居民身份证"
    for code, label in idcard.ID_TYPES:
        assert idcard.ID_TYPE_BY_LABEL[str(label)] == code
        assert idcard.ID_TYPE_BY_LABEL[code] == code
    assert idcard.ID_TYPE_BY_LABEL["身份证"] == RESIDENT
    assert idcard.ID_TYPE_BY_LABEL["台胞证"] == TW_PERMIT


def test_generate_resident_rejects_bad_arguments():
    rng = random.Random(4)
    for kwargs in (
        {"area": "001234"},
        {"area": "4401"},
        {"gender": "X"},
        {"birth": date(1899, 12, 31)},
    ):
        with pytest.raises(ValueError):
            idcard.generate_resident(rng, **kwargs)
    with pytest.raises(ValueError):
        idcard.generate(rng, "unknown")


def test_module_never_logs(caplog):
    caplog.set_level(logging.DEBUG)
    number = idcard.generate_resident(random.Random(5))
    idcard.validate(RESIDENT, number)
    for raw in ("", number[:17] + "Y", number[::-1]):
        with pytest.raises(IdNumberError):
            idcard.validate(RESIDENT, raw)
    assert caplog.records == []
