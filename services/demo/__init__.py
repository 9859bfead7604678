"""Synthetic demo data for `make run` and `flask seed-demo`.

Only generated people: made-up names (names), synthetic ID numbers from
services.idcard, Pillow-drawn photos (pictures) and addresses under
example.edu. A seeded `random.Random(2026)` makes every run produce the same
people (photo storage keys and timestamps aside).

`seed()` (seeding) fills an empty database: four colleges, the open cohort
of the current graduation year and last year's closed one, registry records
with photos in every status, a few unmatched photos, and accounts for an
admin, one staff member per college and eight students who each stand at
one step of the journey (see `DemoSeed.guide`), plus the open ID requests
of open_requests. The plan of every record lives in people, the fixed
material of the made-up school in settings.

Statuses change only through the real code paths — `matching.link`,
`records.confirm`, `Record.transition` (stories) — so every record has its
audit trail; the one exception is the past cohort, confirmed with
`stories._confirm_past` because `records.confirm` rightly refuses after the
deadline. Afterwards the audit events, confirmations and accounts are
back-dated along a plausible timeline (they would all say "just now"
otherwise).
"""

from services.demo.pictures import photo_pool as _photo_pool  # kept per process; tests clear it
from services.demo.seeding import DemoDataExists, DemoSeed, Login, seed
from services.demo.settings import ADMIN_PASSWORD, DOMAIN, STAFF_PASSWORD, STUDENT_PASSWORD

__all__ = [
    "ADMIN_PASSWORD",
    "DOMAIN",
    "STAFF_PASSWORD",
    "STUDENT_PASSWORD",
    "DemoDataExists",
    "DemoSeed",
    "Login",
    "_photo_pool",
    "seed",
]
