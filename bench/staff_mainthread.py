"""Main-thread work of /staff/records (100 rows) in Chromium, without Lighthouse.

Lighthouse's mobile score on a shared machine swings with the load; this
measures what it penalises, directly and repeatably: the page is loaded
N times in the system Chromium (Playwright, a 412×823 phone viewport at
device scale 1.75, no CPU throttling) and for each load it records

- htmx: the time htmx's start-up `process(document.body)` takes (between
  its htmx:before:process and htmx:after:process events on <body>);
- tasks: every long task (> 50 ms) until the page has been quiet for 1 s,
  and their sum above 50 ms each (the observed "blocking" time; Lighthouse's
  simulated mobile multiplies CPU time by about 4);
- CDP Performance metrics: script, layout and style-recalculation time, and
  the number of DOM nodes.

It prints the median of each over the runs, for the staff page and for
/login (a tiny page: the control for the machine's load), and with
`--compare DIR` the same for another checkout served side by side (a `git
worktree` of an older commit, with compiled catalogs). Not a test.

    .venv/bin/python bench/staff_mainthread.py [--runs 7] [--compare /tmp/gp-old]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.chromium import CHROMIUM, FLAGS  # noqa: E402
from bench.lighthouse_staff import build, login, serve  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPY = """
(() => {
  const t = window.__gp = {htmx: null, tasks: []};
  let start = 0;
  new PerformanceObserver(l => { for (const e of l.getEntries()) t.tasks.push([e.startTime, e.duration]); })
    .observe({type: "longtask", buffered: true});
  document.addEventListener("htmx:before:process", e => {
    if (e.target === document.body && t.htmx === null) start = performance.now();
  }, true);
  document.addEventListener("htmx:after:process", e => {
    if (e.target === document.body && t.htmx === null) t.htmx = performance.now() - start;
  }, true);
})();
"""


def measure(browser, url, cookie, runs):
    out = []
    for _ in range(runs):
        context = browser.new_context(
            viewport={"width": 412, "height": 823}, device_scale_factor=1.75, is_mobile=True,
            has_touch=True, locale="zh-CN", extra_http_headers={"Cookie": cookie} if cookie else {},
        )  # fmt: skip
        context.add_init_script(SPY)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(url, wait_until="load")
        # Quiet for a second: no new long task.
        seen, quiet = -1, time.monotonic()
        while time.monotonic() - quiet < 1.0:
            n = page.evaluate("window.__gp.tasks.length")
            if n != seen:
                seen, quiet = n, time.monotonic()
            time.sleep(0.1)
        spy = page.evaluate("window.__gp")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        context.close()
        tasks = [d for _s, d in spy["tasks"]]
        out.append(
            {
                "htmx ms": spy["htmx"] or 0.0,
                "long tasks": len(tasks),
                "longest ms": max(tasks, default=0.0),
                "blocking ms": sum(max(0.0, d - 50) for d in tasks),
                "script ms": metrics["ScriptDuration"] * 1000,
                "layout ms": metrics["LayoutDuration"] * 1000,
                "style ms": metrics["RecalcStyleDuration"] * 1000,
                "task ms": metrics["TaskDuration"] * 1000,
                "nodes": metrics["Nodes"],
            }
        )
    return {k: statistics.median(r[k] for r in out) for k in out[0]}


def show(label, values):
    print(f"{label:<22}" + "  ".join(f"{k} {v:7.1f}" for k, v in values.items()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compare", help="another checkout to serve the same way")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = tempfile.mkdtemp(prefix="gp-mt-")
    servers = []
    try:
        build(folder)
        roots = [("this", ROOT)] + ([("compare", os.path.abspath(args.compare))] if args.compare else [])
        sites = []
        for label, root in roots:
            server, base = serve(root, folder)
            servers.append(server)
            sites.append((label, base, login(base)))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            # Interleaved so that both checkouts see the same load.
            for _label, base, cookie in sites:
                measure(browser, base + "/staff/records", cookie, 1)  # warm caches
            results = {label: [] for label, _b, _c in sites}
            for _ in range(args.runs):
                for label, base, cookie in sites:
                    results[label].append(measure(browser, base + "/staff/records", cookie, 1))
            for label, runs in results.items():
                show(f"{label} /staff/records", {k: statistics.median(r[k] for r in runs) for k in runs[0]})
            label, base, _cookie = sites[0]
            show("control /login", measure(browser, base + "/login", "", args.runs))
            browser.close()
        print("load average", os.getloadavg())
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
