"""Matching a photo to its record: by ID number or student number, checked
against the manifest.csv entry; or the reason (a code of ``UNMATCHED``) why
the photo stays unmatched, for staff to resolve.
"""

import re
import unicodedata
from typing import Any

from flask import current_app

from models import Photo, Record
from services import idcard, matching
from services.importing.reasons import N_, describe, reason
from services.importing.tables import clean

_OLD_ID = re.compile(r"[0-9]{15}")

# Why a stored photo is not attached: code → text (kept in Photo.unmatched_reason
# as "code: English text"; describe_unmatched() translates it for display).
UNMATCHED = {
    "no_record": N_("No record with this ID number or student number."),
    "ambiguous": N_("Several records have this ID number."),
    "id_mismatch": N_("The ID number in the manifest differs from the registry record."),
    "name_mismatch": N_("The name in the manifest differs from the registry record."),
    "school_mismatch": N_("The school in the manifest is not this institution."),
    "record_taken": N_("Another photo in this ZIP was already attached to this record."),
    "has_photo": N_(
        "The record already has a photo; import again with “replace existing photos” to change it."
    ),
}


def describe_unmatched(value: str | None) -> str | None:
    """Photo.unmatched_reason in the current language."""
    code = (value or "").split(":", 1)[0]
    return describe(reason(UNMATCHED[code])) if code in UNMATCHED else value


def canonical_id(text: str) -> str:
    """An ID number as the registry stores it (a 15-digit one upgraded to 18)."""
    number = idcard.normalize(text)
    if _OLD_ID.fullmatch(number):
        number = idcard.upgrade_15(number)
    return number


class RecordMatcher:
    """Finds the record a photo belongs to, or why there is none, within one run."""

    def __init__(self, replace: bool = False) -> None:
        self.replace = replace
        self.institution = clean(current_app.config.get("INSTITUTION_NAME") or "")
        self.attached_to: set[int] = set()

    def find(self, stem: str, entry: dict[str, str] | None) -> tuple[Any, str | None]:
        """(record, code): the record for this photo, or why there is none."""
        keys = [("id", canonical_id(stem)), ("no", unicodedata.normalize("NFKC", stem).strip())]
        if entry and entry.get("id_number"):
            keys.append(("id", canonical_id(entry["id_number"])))
        for kind, key in keys:
            found = (self.by_number if kind == "no" else self.by_id).get(key, ())
            if len(found) > 1:
                return None, "ambiguous"
            if found:
                record = Record.get_or_none(Record.id == found[0])
                if record is not None:
                    return record, self.disagreement(record, entry)
        return None, "no_record"

    def load_index(self):
        """Record ids by ID number and by student number, and the photos already stored."""
        self.by_id, self.by_number = {}, {}
        for record_id, id_number, student_no in Record.select(
            Record.id, Record.id_number, Record.student_no
        ).tuples():
            self.by_id.setdefault(id_number, []).append(record_id)
            self.by_number[student_no] = [record_id]
        self.stored = {sha for (sha,) in Photo.select(Photo.sha256).tuples()}

    def disagreement(self, record: Any, entry: dict[str, str] | None) -> str | None:
        if record.id in self.attached_to:
            return "record_taken"
        if record.photo_id is not None and not self.replace:
            return "has_photo"
        if not entry:
            return None
        if entry.get("id_number") and canonical_id(entry["id_number"]) != record.id_number:
            return "id_mismatch"
        if entry.get("name") and matching.name_key(entry["name"]) != record.name_key:
            return "name_mismatch"
        school = entry.get("school")
        if self.institution and school and matching.name_key(school) != matching.name_key(self.institution):
            return "school_mismatch"
        return None

    def source_fields(
        self, name: str, stem: str, entry: dict[str, str] | None, record: Record | None
    ) -> dict[str, Any]:
        """The collection's own data: the manifest's, else what the file name says."""
        entry = entry or {}
        number = entry.get("id_number") or ""
        by_number = record is not None and record.student_no == unicodedata.normalize("NFKC", stem).strip()
        looks_like_id = not by_number and len(idcard.normalize(stem)) in (15, 18)
        return {
            "src_filename": name[:255],
            "src_school": entry.get("school", "")[:100],
            "src_name": entry.get("name", "")[:64],
            "src_id_number": canonical_id(number or (stem if looks_like_id else ""))[:32],
            "src_student_no": (entry.get("student_no") or ("" if looks_like_id else stem))[:32],
        }
