"""Student requests (casework): the three problem paths of the notice, filed and decided online.

Students file corrections (数据检查勘误表), ID change requests and ID
disputes (filing); staff accept or reject each once (decisions), and may
attach one of a correction's candidate photos (candidates). A "request"
here is always a Request row, never an HTTP request.
"""

from services.casework.candidates import chosen_photo, photo_candidates, shown_candidates
from services.casework.decisions import ACCOUNT_FIELDS, decide, parse_value, withdraw
from services.casework.filing import college_for_id, file_correction, file_dispute, file_id_change
from services.casework.kinds import (
    CORRECTION,
    DATE_FIELDS,
    FIELDS,
    ID_CHANGE,
    ID_DISPUTE,
    KINDS,
    PHOTO_ITEMS,
    PHOTO_MISSING,
    PHOTO_WRONG,
    REJECT_REASONS,
    STATUS_LABELS,
    AlreadyDecided,
    Conflict,
    RequestError,
    deadline_problem,
    open_request,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "CORRECTION",
    "DATE_FIELDS",
    "FIELDS",
    "ID_CHANGE",
    "ID_DISPUTE",
    "KINDS",
    "PHOTO_ITEMS",
    "PHOTO_MISSING",
    "PHOTO_WRONG",
    "REJECT_REASONS",
    "STATUS_LABELS",
    "AlreadyDecided",
    "Conflict",
    "RequestError",
    "chosen_photo",
    "college_for_id",
    "deadline_problem",
    "decide",
    "file_correction",
    "file_dispute",
    "file_id_change",
    "open_request",
    "parse_value",
    "photo_candidates",
    "shown_candidates",
    "withdraw",
]
