"""Every user-facing string goes through Flask-Babel and has a Chinese translation."""

import os
import re
import subprocess
import sys

from babel.messages.pofile import read_po

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def key(msgid):
    """Plural messages have a (singular, plural) id."""
    return msgid if isinstance(msgid, str) else msgid[0]


def catalog(locale):
    with open(os.path.join(ROOT, "translations", locale, "LC_MESSAGES", "messages.po"), "rb") as fh:
        return read_po(fh)


def test_catalog_covers_every_string_in_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--ignore-dirs=.* _* tests bench instance",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(pot, "rb") as fh:
        in_code = {key(m.id) for m in read_po(fh) if m.id}
    in_catalog = {key(m.id) for m in catalog("zh_CN") if m.id}
    missing = in_code - in_catalog
    assert not missing, f"run `make translations` and translate: {sorted(missing)[:10]}"


def test_every_chinese_translation_is_filled_and_keeps_placeholders():
    problems = []
    for message in catalog("zh_CN"):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not all(strings) or "fuzzy" in message.flags:
            problems.append(f"untranslated: {message.id!r}")
        elif sorted(PLACEHOLDER.findall(ids[0])) != sorted(PLACEHOLDER.findall(strings[0])):
            problems.append(f"placeholders differ: {message.id!r}")
    assert not problems, "\n".join(problems[:20])
