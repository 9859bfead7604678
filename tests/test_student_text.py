"""Chinese text uses full-width punctuation; student templates hard-code no
ASCII colon after a label (they use the "%(label)s: %(value)s" message)."""

import os
import re

from babel.messages.pofile import read_po

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CJK = "\u4e00-\u9fff"
HALF_WIDTH = re.compile(rf"[{CJK}）][,:]|[,:][{CJK}（]")
STUDENT_TEMPLATES = ["account", "auth", "identity", "problems", "record"]


def test_zh_cn_messages_use_full_width_punctuation():
    with open(os.path.join(ROOT, "translations/zh_CN/LC_MESSAGES/messages.po"), "rb") as fh:
        catalog = read_po(fh)
    bad = [m.string for m in catalog if m.id and isinstance(m.string, str) and HALF_WIDTH.search(m.string)]
    assert bad == []


def test_student_templates_have_no_ascii_colon_after_a_label():
    bad = []
    for folder in STUDENT_TEMPLATES + ["."]:
        path = os.path.join(ROOT, "templates", folder)
        names = [n for n in os.listdir(path) if n.endswith(".html")] if folder != "." else ["base.html"]
        for name in names:
            with open(os.path.join(path, name), encoding="utf-8") as fh:
                text = fh.read()
            bad += [f"{folder}/{name}: {m.group(0)}" for m in re.finditer(r'(\}\}|"\) \}\}):\s', text)]
    assert bad == []
