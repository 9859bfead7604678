"""Exports for staff: records as CSV/XLSX, the 勘误表, the national ZIP.

Every export iterates its query with `.iterator()` and writes rows as they
come — to a generator (CSV) or to a temporary file (XLSX, ZIP) — so 50,000
students are never held in memory. Full ID numbers appear here on purpose:
these files are for the college office and the national registration.
Headers are the fixed Chinese column names of the national/paper forms.

The modules: ``csv_safe`` (the one CSV writer: BOM, formula-looking cells
quoted, a streamed CSV that cannot end silently cut), ``xlsx`` (write-only
workbooks), ``records``, ``corrections`` and ``national``. This package
exports what callers outside it use.
"""

from services.exports.corrections import correction_select, corrections_xlsx
from services.exports.csv_safe import BOM, csv_text, guarded, safe_cell
from services.exports.national import national_zip
from services.exports.records import csv_chunks, record_select, records_xlsx
from services.exports.xlsx import XLSX_MIME

__all__ = [
    "BOM",
    "XLSX_MIME",
    "correction_select",
    "corrections_xlsx",
    "csv_chunks",
    "csv_text",
    "guarded",
    "national_zip",
    "record_select",
    "records_xlsx",
    "safe_cell",
]
