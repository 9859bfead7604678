"""Imports: the student registry (CSV/XLSX) and graduation photos (ZIP).

Both imports return a JSON-able report. A reason in a report is stored as
its English msgid plus variables (``reason()``) and translated when shown
(``describe()``), so a report reads in the language of whoever opens it.

The modules, bottom to top:

- ``reasons``: ImportFileError and reasons (msgid + variables);
- ``tables``: decoding text, CSV rows, finding the header line, cells;
- ``registry_columns``, ``registry_parse``: the registry file, read and
  checked row by row; ``registry``: checked against the database and
  written (``import_registry``);
- ``photo_zip``: safe reading of a ZIP and its manifest.csv;
  ``photo_match``: the record a photo belongs to; ``photo_import``:
  ``import_photos``;
- ``jobs``: running an import as an ImportJob of the task queue, and
  imports outside a request (CLI);
- ``report_text``: a report as plain text for the CLI.

This package exports what callers outside it use; import the rest from the
module that defines it.
"""

from services.importing.jobs import (
    PHOTOS_REPLACE,
    create_job,
    deliver_queued_mail,
    job_context,
    job_error,
    mail_link,
    mark_if_interrupted,
    run_job,
    sweep_interrupted,
)
from services.importing.photo_import import import_photos
from services.importing.reasons import ImportFileError, describe, english, reason
from services.importing.registry import import_registry
from services.importing.report_text import report_lines
from services.importing.tables import clean

__all__ = [
    "PHOTOS_REPLACE",
    "ImportFileError",
    "clean",
    "create_job",
    "deliver_queued_mail",
    "describe",
    "english",
    "import_photos",
    "import_registry",
    "job_context",
    "job_error",
    "mail_link",
    "mark_if_interrupted",
    "reason",
    "report_lines",
    "run_job",
    "sweep_interrupted",
]
