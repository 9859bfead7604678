"""The system Chromium and the flags every headless run here uses (browser
tests, Lighthouse, screenshots): Debian's package, never a downloaded browser."""

import os

CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Lighthouse takes them as one string (--chrome-flags=...).
FLAGS_TEXT = " ".join(FLAGS)
