"""Reading tables of an import: text decoding, CSV rows, header lines, cells."""

import csv
import io
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from services.importing.reasons import N_, ImportFileError
from services.text import strip_invisible

# Zero-width characters and BOMs that Excel and chat apps leave in headers.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))
_DELIMITERS = (",", "\t", ";")


def header_key(text: Any) -> str:
    """A header cell as compared: NFKC, no invisible characters, trimmed, casefolded.

    A trailing "*" (templates mark required columns with it) is dropped too.
    """
    text = unicodedata.normalize("NFKC", "" if text is None else str(text)).translate(_INVISIBLE)
    return text.strip().rstrip("*").strip().casefold()


def clean(value: Any) -> str:
    """A cell as trimmed text: NFC-normalised, without invisible characters."""
    if value is None:
        return ""
    return strip_invisible(unicodedata.normalize("NFC", str(value))).strip()


def decode_text(data: bytes) -> str:
    """Bytes of a text table as str: UTF-8 (BOM or not), UTF-16 with BOM, else GBK/GB18030."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(N_("This is not a text (CSV) file."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        N_("The file could not be read as text in UTF-8 or GBK. Save it again as “CSV UTF-8”.")
    )


def csv_rows(text: str, limit: int | None = None, too_many: Exception | None = None) -> list[list[str]]:
    """Rows of a CSV text as lists of str; the delimiter is guessed from the first line.

    With ``limit``, more rows than that raise ``too_many`` (an ImportFileError).
    """
    first = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count)
    try:
        rows = []
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row)
            if limit is not None and len(rows) > limit:
                raise too_many  # type: ignore[misc]
        return rows
    except csv.Error as exc:
        raise ImportFileError(N_("The CSV file is malformed: %(problem)s"), problem=str(exc)) from None


def find_header(
    rows: Sequence[Sequence[Any]],
    aliases: Mapping[str, str],
    required: Mapping[str, str],
    min_known: int = 3,
    search: int = 10,
) -> tuple[int, dict[str, int]]:
    """Locate the header row among the first ``search`` rows.

    ``aliases`` maps header keys to field names. Returns (row index,
    {field: column}). Raises ImportFileError when no row has ``min_known``
    known headers, a field appears twice, or a ``required`` field is missing
    (``required`` maps field → the header shown in the message).
    """
    for index, row in enumerate(rows[:search]):
        fields = [aliases.get(header_key(cell)) for cell in row]
        if sum(1 for f in fields if f) < min(min_known, len(required)):
            continue
        columns: dict[str, int] = {}
        for column, field in enumerate(fields):
            if field is None:
                continue
            if field in columns:
                raise ImportFileError(
                    N_("The column “%(column)s” appears twice in the header line."), column=clean(row[column])
                )
            columns[field] = column
        missing = [label for field, label in required.items() if field not in columns]
        if missing:
            raise ImportFileError(
                N_("These required columns are missing from the header line: %(columns)s."),
                columns=", ".join(missing),
            )
        return index, columns
    raise ImportFileError(
        N_("No header line found: the first line must name the columns, e.g. %(columns)s."),
        columns=", ".join(list(required.values())[:4]),
    )
