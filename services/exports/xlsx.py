"""Write-only XLSX workbooks saved to an anonymous temporary file."""

import tempfile
from collections.abc import Iterable
from typing import IO, Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bold_row(ws: Any, values: Iterable[Any], size: int | None = None) -> list[Any]:
    """Header cells in bold (``size`` in points, if given)."""
    row = []
    for value in values:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = Font(bold=True, size=size) if size else Font(bold=True)
        row.append(cell)
    return row


def finish(workbook: Any) -> IO[bytes]:
    """Save a workbook to an anonymous temporary file, rewound for sending."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; closed when sent
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out
