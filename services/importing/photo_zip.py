"""Reading a photo ZIP: member names, safe reads and the optional manifest.csv.

Nothing here touches the database. A member is read only when it is small
enough, not encrypted and not suspiciously well compressed (a ZIP bomb), and
only when its path stays inside the archive.
"""

import posixpath
import re
import zipfile
import zlib

from services.importing.reasons import N_, ImportFileError, Reason, reason
from services.importing.tables import clean, csv_rows, decode_text, find_header

MAX_MEMBER = 20 * 1024 * 1024
MAX_TOTAL = 2 * 1024**3
MAX_RATIO = 100  # JPEG, PNG and WebP hardly compress; a bomb compresses ~1000:1
RATIO_FLOOR = 1024 * 1024  # small members may compress well without harm
PICTURE_EXTS = {
    "", ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp",
    ".tif", ".tiff", ".heic", ".heif", ".avif",
}  # fmt: skip
SYSTEM_FILES = {"thumbs.db", "desktop.ini"}
MANIFEST_NAME = "manifest.csv"
MANIFEST_ALIASES = {
    "学校": "school", "school": "school", "姓名": "name", "name": "name",
    "证件号码": "id_number", "身份证号": "id_number", "id_number": "id_number",
    "文件名": "filename", "filename": "filename", "学号": "student_no", "student_no": "student_no",
}  # fmt: skip

TOO_LARGE = N_("The file is larger than 20 MB.")
BOMB = N_("The file is compressed far too well for a photo (a ZIP bomb?) and was not opened.")
DAMAGED = N_("The file is damaged inside the ZIP and could not be read.")
ENCRYPTED = N_("The file is encrypted inside the ZIP.")
NOT_PICTURE = N_("This is not a picture file (JPEG, PNG or WebP expected).")
UNSAFE_PATH = N_(
    "The file's path inside the ZIP leads outside it (“..” or an absolute path); it was not opened."
)


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, repairing GBK names that zipfile read as cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        raw: bytes | None
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            raw = None
        if raw:
            for encoding in ("utf-8", "gb18030"):
                try:
                    name = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
    return name.replace("\\", "/")


def is_unsafe(name: str) -> bool:
    """A member path that climbs out of the archive ("..") or is absolute."""
    return name.startswith("/") or re.match(r"[A-Za-z]:", name) is not None or ".." in name.split("/")


def is_ignored(name: str) -> bool:
    parts = [p for p in name.split("/") if p and p != "."]
    return (
        not parts
        or any(p == "__MACOSX" or p.startswith(".") for p in parts)
        or parts[-1].casefold() in SYSTEM_FILES
    )


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes | None, Reason | None]:
    """(bytes, None) or (None, reason) for one member, never inflating more than 20 MB."""
    if info.flag_bits & 0x1:
        return None, reason(ENCRYPTED)
    if info.file_size > MAX_MEMBER:
        return None, reason(TOO_LARGE)
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return None, reason(BOMB)
    try:
        with archive.open(info) as fh:
            data = fh.read(MAX_MEMBER + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError):
        return None, reason(DAMAGED)
    if len(data) > MAX_MEMBER:
        return None, reason(TOO_LARGE)
    return data, None


def read_manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, dict[str, str]]:
    data, problem = read_member(archive, info)
    if problem:
        raise ImportFileError(N_("manifest.csv could not be read from the ZIP."))
    assert data is not None  # read_member returns bytes or a problem
    rows = csv_rows(decode_text(data))
    start, columns = find_header(rows, MANIFEST_ALIASES, {"filename": "文件名"}, min_known=2)
    manifest = {}
    for cells in rows[start + 1 :]:
        entry = {key: clean(cells[i]) if i < len(cells) else "" for key, i in columns.items()}
        if entry["filename"]:
            manifest[posixpath.basename(entry["filename"].replace("\\", "/")).casefold()] = entry
    return manifest


def manifest_entry(manifest: dict[str, dict[str, str]], name: str) -> dict[str, str] | None:
    base = posixpath.basename(name).casefold()
    return manifest.pop(base, None) or manifest.pop(posixpath.splitext(base)[0], None)
