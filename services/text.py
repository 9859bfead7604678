"""Text from people and files, made safe to store and show.

Bidirectional controls (U+202A–U+202E, U+2066–U+2069) can make a name
display reversed on staff screens, and other invisible format characters
(zero-width spaces, soft hyphens, BOMs, tag characters) make two equal
looking names differ. Control characters other than tab and newlines
(NUL above all, which PostgreSQL refuses in text) have no place in a form
either. `strip_invisible` removes all of them; every form value and query
argument passes through it (blueprints.core.CleanRequest), and imported
cells too (services.importing.tables.clean).
"""

import re

# Unicode category Cf (format characters, Unicode 14, as Python's unicodedata
# has it) and the C0/C1 controls except \t, \n and \r.
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
    "]"
)


def strip_invisible(text):
    """`text` without format and control characters (tab and newlines stay)."""
    if not text:
        return text
    return _INVISIBLE.sub("", text)


def has_invisible(text):
    return bool(text) and _INVISIBLE.search(text) is not None
