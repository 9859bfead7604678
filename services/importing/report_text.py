"""Import reports as plain text, for the CLI (``flask import-students``, ``import-photos``)."""

import re
from typing import Any

from services.importing.reasons import describe

_SPACE = re.compile(r"\s+")


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as lines of text: counts, then every rejected or unmatched item."""
    counts = " ".join(f"{key}={value}" for key, value in report["counts"].items())
    lines = [("dry run (nothing written): " if report.get("dry_run") else "") + counts]
    for name in report.get("colleges_created", []):
        lines.append(f"new college: {name}")
    for name in report.get("cohorts_created", []):
        lines.append(f"new cohort (set its deadlines): {name}")
    for dup in report.get("duplicates", []):
        lines.append(
            f"duplicate group {dup['group']}: {dup['field']} {dup['value']} on {dup['count']} lines: {dup['lines']}"
        )
    for row in report.get("rejected", []):
        where = f"line {row['line']}" if "line" in row else row["file"]
        text = " ".join(describe(item) for item in row.get("reasons") or [row["reason"]])
        lines.append(f"rejected {where}: {_SPACE.sub(' ', text)}")
    for row in report.get("replaced", []):
        voided = " (confirmation voided)" if row["voided"] else ""
        lines.append(f"replaced {row['student_no']} ({row['file']}){voided}")
    for row in report.get("unmatched", []):
        lines.append(f"unmatched {row['file']}: {describe(row['reason'])}")
    for name in report.get("manifest_missing", []):
        lines.append(f"in manifest.csv but not in the ZIP: {name}")
    return lines
