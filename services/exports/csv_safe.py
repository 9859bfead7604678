"""CSV files that Excel opens safely: UTF-8 with BOM, formula-looking cells
quoted (CSV injection), and a streamed CSV that cannot end silently cut.

This is the one CSV writer of the application: every CSV a user downloads
(record exports, the national ZIP's lists, the audit log) is written here.
"""

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

BOM = "\ufeff"
# A formula-looking text cell would run in Excel (CSV injection): quote it.
_FORMULA = re.compile(r"^[=+\-@\t\r]")


def safe_cell(value: Any) -> Any:
    """The value, quoted with a leading ' when Excel would take it for a formula."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV text (CRLF line ends), every cell through ``safe_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


INCOMPLETE = _l(
    "EXPORT INCOMPLETE: an error occurred after the rows above; this file is missing rows. "
    "Please export again or contact the administrator."
)


def guarded(chunks: Iterable[str]) -> Iterator[str]:
    """A streamed CSV that cannot end as a silently truncated 200.

    The header and the first batch of rows are produced here, before the
    response starts, so a query that fails at all fails into an error page.
    A failure after that ends the file with a visible INCOMPLETE row (the
    status line is already sent); the error is logged.
    """
    source = iter(chunks)
    head = []
    for chunk in source:
        head.append(chunk)
        if len(head) == 2:
            break
    # Resolved now: the message must not depend on a request context later.
    message = str(INCOMPLETE)
    logger = current_app.logger

    def stream():
        yield from head
        try:
            yield from source
        except Exception:
            logger.exception("CSV export failed after the response started")
            yield csv_text([[message]])

    return stream()


class CsvMember:
    """A CSV written row by row to a spooled temporary file, added to a ZIP at the end."""

    def __init__(self, headers: Sequence[str]) -> None:
        # Closed by copy_into() or close(); spills to disk past 1 MB.
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=1 << 20, mode="w+", encoding="utf-8", newline=""
        )
        self.file.write(BOM)
        self.writer = csv.writer(self.file, lineterminator="\r\n")
        self.writer.writerow(headers)
        self.rows = 0

    def add(self, row: Sequence[Any]) -> None:
        self.writer.writerow([safe_cell(v) for v in row])
        self.rows += 1

    def copy_into(self, archive: zipfile.ZipFile, name: str) -> None:
        self.file.seek(0)
        with archive.open(name, "w") as member:
            while chunk := self.file.read(64 * 1024):
                member.write(chunk.encode("utf-8"))
        self.file.close()

    def close(self) -> None:
        self.file.close()
