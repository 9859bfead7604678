"""Lighthouse (mobile default profile) on the student pages: /register,
/login and the record page of a logged-in student.

Runs the app under gunicorn on a throwaway instance with synthetic data (as
page_bench.py does), logs a student in for the record page's cookie, and
runs Lighthouse from the npm registry (LIGHTHOUSE, default the copy `make
lighthouse` installs into .lighthouse/) with the system Chromium
(CHROME_PATH, default /usr/bin/chromium). Raw reports go to
reports/lighthouse-<page>.raw.json (not committed); the scores to
reports/lighthouse.json. Exits 1 when a score is under 100.

    make lighthouse            # or: .venv/bin/python bench/lighthouse.py
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.chromium import CHROMIUM as CHROME_PATH  # noqa: E402
from bench.chromium import FLAGS_TEXT as CHROME_FLAGS  # noqa: E402
from bench.page_bench import ROOT, Session, free_port, prepare, serve  # noqa: E402

LIGHTHOUSE = os.environ.get("LIGHTHOUSE", os.path.join(ROOT, ".lighthouse/node_modules/.bin/lighthouse"))
CATEGORIES = ("performance", "accessibility", "best-practices")
PAGES = {"register": "/register", "login": "/login", "record": "/record"}


def run_lighthouse(url, out, cookie=None):
    cmd = [
        LIGHTHOUSE,
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--locale=zh",
    ]
    if cookie:
        cmd.append("--extra-headers=" + json.dumps({"Cookie": cookie, "Accept-Language": "zh-CN"}))
    else:
        cmd.append("--extra-headers=" + json.dumps({"Accept-Language": "zh-CN"}))
    subprocess.run(cmd, check=True, env=dict(os.environ, CHROME_PATH=CHROME_PATH))
    with open(out, encoding="utf-8") as fh:
        report = json.load(fh)
    scores = {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}
    failed = [
        audit_id
        for audit_id, audit in report["audits"].items()
        if audit.get("score") is not None and audit["score"] < 1 and audit.get("scoreDisplayMode") == "binary"
    ]
    return scores, report["lighthouseVersion"], failed


def main():
    reports = os.path.join(ROOT, "reports")
    os.makedirs(reports, exist_ok=True)
    instance = tempfile.mkdtemp(prefix="gradproof-lighthouse-")
    prepare(instance)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(os.path.join(instance, "server.log"), "w") as log:
        server = serve(ROOT, "app:create_app()", port, instance, log)
        try:
            student = Session(base)
            student.login("bench@example.edu", "/record")
            cookie = student.cookie_header()
            results, version = {}, None
            for name, path in PAGES.items():
                out = os.path.join(reports, f"lighthouse-{name}.raw.json")
                scores, version, failed = run_lighthouse(
                    base + path, out, cookie if name == "record" else None
                )
                results[name] = dict(scores, failed_audits=failed)
                print(
                    f"{path:10} "
                    + " ".join(f"{k}={v}" for k, v in scores.items())
                    + (f"  failed: {failed}" if failed else "")
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    # Lighthouse scales the main-thread time it observed (4x CPU slowdown), so
    # a busy machine lowers "performance"; the load says how busy it was.
    load = [round(x, 1) for x in os.getloadavg()]
    summary = {"lighthouse": version, "profile": "mobile (default)", "pages": results, "load_average": load}
    with open(os.path.join(reports, "lighthouse.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return 0 if all(all(r[c] == 100 for c in CATEGORIES) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
