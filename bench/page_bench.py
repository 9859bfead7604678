"""GradProof pages against a bare Flask "hello" page, over loopback HTTP.

Every server runs under gunicorn with deploy/gunicorn.conf.py (what
`make run` serves) and is loaded by wrk in the same run; the numbers that
mean something are the ratios to the bare page measured in the same round.
Not a test: the machines here are shared and noisy, so run it when the load
average is low and look at the spread over rounds.

    .venv/bin/python bench/page_bench.py [--seconds 10] [--connections 16] [--rounds 1]
    .venv/bin/python bench/page_bench.py --compare /tmp/gp-base   # side by side with an older checkout

Pages (targets from issue 14, as a ratio to the bare page):

  /login          anonymous first visit (no cookie)               ≥ 0.20
  /record         logged-in student, full page                    ≥ 0.20
  /staff/records  staff member, a page of 100 rows                ≥ 0.05
  confirm POST    POST /record/confirm again on a confirmed       (reported)
                  record (a double tap): CSRF, transaction, 303

and the student pages' p99 latency under 16 connections: < 60 ms.

The logged-in pages use the cookies a browser holds after logging in
through the real form and viewing one page, with the same User-Agent wrk
then sends: a page view must not rewrite the session (the script checks
that /record answers without Set-Cookie). `--compare DIR` serves a second
checkout (e.g. `git worktree add --detach /tmp/gp-base <commit>`, with its
compiled catalogs) with its own database, alternating with this one.
Needs `wrk` (Debian package wrk).
"""

import argparse
import html
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) GradProof-page-bench"
ACCEPT = "br, gzip"
STAFF_ROWS = 100
PASSWORD = "violet kettle harbour"
TARGETS = {"login": 0.20, "record": 0.20, "staff": 0.05}
P99_LIMIT_MS = 60.0


def env_config(instance):
    return {
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{instance}/bench.sqlite3",
        "PHOTO_DIR": os.path.join(instance, "photos"),
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "MAIL_SEND_AFTER_REQUEST": False,
        # Checkouts without this setting show 50 rows; the bench then reads
        # the table through ?page size it has (reported as the row count).
        "RECORDS_PAGE_SIZE": STAFF_ROWS,
    }


def prepare(instance, tree=ROOT):
    """Create the database of `tree` in `instance`: two linked students (one
    pending, one to confirm) and a staff member of a college with 150 records."""
    sys.path.insert(0, tree)
    os.chdir(tree)
    import models
    from app import create_app
    from services import matching
    from tests.factories import make_college, make_photo, make_record, make_user, with_realname

    app = create_app(env_config(instance))
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        models.migrate()
        models.db.close()
    college = make_college()
    for n, email in enumerate(("bench@example.edu", "confirm@example.edu")):
        record = make_record(college=college, name=["张三", "李四"][n])
        make_photo(app, record, seed=n + 1)
        matching.link(with_realname(make_user(email), record))
    for n in range(150):
        make_record(
            college=college, name=f"王{n:03d}", status=["pending", "confirmed", "unregistered"][n % 3]
        )
    make_user("staff@example.edu", role="staff", college=college)


class Session:
    """A browser on loopback: a cookie jar, our User-Agent, redirects followed."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, path, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers={"User-Agent": USER_AGENT})
        with self.opener.open(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()

    def login(self, email, first_page):
        _status, _headers, page = self.open("/login")
        status, _headers, _page = self.open(
            "/login", {"csrf_token": csrf_of(page), "email": email, "password": PASSWORD}
        )
        assert status == 200, f"login of {email} failed: {status}"
        status, _headers, page = self.open(first_page)  # the one page view
        assert status == 200, f"{first_page}: {status}"
        return page

    def cookie_header(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def csrf_of(page):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def raw_get(port, path, cookie):
    """Headers of one GET with exactly the cookie wrk sends (no jar)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"User-Agent": USER_AGENT, "Cookie": cookie, "Accept-Encoding": ACCEPT},
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.status, response.headers


def targets_for(port):
    """Log in as a browser would; returns {name: (path, headers, lua)}."""
    base = f"http://127.0.0.1:{port}"
    student = Session(base)
    student.login("bench@example.edu", "/record")
    cookie = student.cookie_header()
    status, headers = raw_get(port, "/record", cookie)
    if status != 200 or headers.get_all("Set-Cookie"):
        print(
            f"warning: /record with the browser's cookie: {status}, Set-Cookie {headers.get_all('Set-Cookie')}"
        )

    confirmer = Session(base)
    page = confirmer.login("confirm@example.edu", "/record")
    form = {
        "csrf_token": csrf_of(page),
        "shown": html.unescape(re.search(r'name="shown"[^>]*value="([^"]*)"', page).group(1)),
    }
    confirmer.open("/record/confirm", form)  # the first tap confirms; the bench repeats it
    _status, _headers, page = confirmer.open("/record")  # reads the flash, as a browser does
    confirm_lua = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f"wrk.body = {json.dumps(urllib.parse.urlencode(form))}\n"
    )

    staff = Session(base)
    # The whole page of 100 rows: the table draws its first 20 and fetches the
    # rest when shown; ?rows=all draws all 100 at once, as without JavaScript.
    page = staff.login("staff@example.edu", "/staff/records?rows=all")
    rows = page.count('<tr id="rec-')
    return {
        "login": ("/login", [], None, None),
        "record": ("/record", [f"Cookie: {cookie}"], None, None),
        "staff": ("/staff/records?rows=all", [f"Cookie: {staff.cookie_header()}"], None, rows),
        "confirm": ("/record/confirm", [f"Cookie: {confirmer.cookie_header()}"], confirm_lua, None),
    }


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(tree, app_spec, port, instance, log):
    env = dict(os.environ)
    for key, value in env_config(instance).items():
        env["FLASK_" + key] = str(value).lower() if isinstance(value, bool) else str(value)
    cmd = [
        os.path.join(ROOT, ".venv/bin/gunicorn"),
        "-c",
        os.path.join(tree, "deploy/gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
        app_spec,
    ]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=log, start_new_session=True)
    probe = "/healthz" if "create_app" in app_spec else "/"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{app_spec} in {tree} did not start; see {log.name}")


def group_cpu(pgid):
    """CPU seconds used so far by the processes of a group (gunicorn master + workers)."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url, seconds, connections, headers, lua, workdir, pgid):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in [f"Accept-Encoding: {ACCEPT}", f"User-Agent: {USER_AGENT}", *headers]:
        cmd += ["-H", header]
    if lua:
        script = os.path.join(workdir, "post.lua")
        with open(script, "w") as f:
            f.write(lua)
        cmd += ["-s", script]
    cpu = group_cpu(pgid)
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    cpu = group_cpu(pgid) - cpu
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p99": p99_ms,
        "errors": int(errors.group(1)) if errors else 0,
        "cpu_ms": 1000 * cpu / max(requests, 1),
    }


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--compare", metavar="DIR", help="another checkout to serve side by side")
    parser.add_argument("--pages", default="login,record,staff,confirm")
    parser.add_argument("--prepare", metavar="INSTANCE", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        return prepare(args.prepare, os.path.abspath(args.tree))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian package wrk)")
    pages = args.pages.split(",")
    trees = {"this": ROOT}
    if args.compare:
        trees["compare"] = os.path.abspath(args.compare)
    workdir = tempfile.mkdtemp(prefix="gradproof-bench-")
    log = open(os.path.join(workdir, "gunicorn.log"), "w")  # noqa: SIM115
    procs, servers = [], {}
    try:
        for label, tree in trees.items():
            instance = os.path.join(workdir, label)
            os.makedirs(instance)
            subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--prepare", instance, "--tree", tree],
                check=True,
                cwd=tree,
            )
            port = free_port()
            procs.append(serve(tree, "app:create_app()", port, instance, log))
            servers[label] = (port, targets_for(port), procs[-1].pid)
        bare = free_port()
        procs.append(serve(ROOT, "bench.bare_app:app", bare, workdir, log))
        bare_pgid = procs[-1].pid
        results = {}
        for round_no in range(args.rounds):
            # The bare page before and after the round: the ratio uses their mean.
            before = wrk(
                f"http://127.0.0.1:{bare}/", args.seconds, args.connections, [], None, workdir, bare_pgid
            )
            measured = []
            for page in pages:  # alternate the checkouts page by page
                for label, (port, targets, pgid) in servers.items():
                    path, headers, lua, _rows = targets[page]
                    url = f"http://127.0.0.1:{port}{path}"
                    if round_no == 0:
                        wrk(url, 2, args.connections, headers, lua, workdir, pgid)  # warm up
                    measured.append(
                        ((label, page), wrk(url, args.seconds, args.connections, headers, lua, workdir, pgid))
                    )
            after = wrk(
                f"http://127.0.0.1:{bare}/", args.seconds, args.connections, [], None, workdir, bare_pgid
            )
            hello = {
                "rps": (before["rps"] + after["rps"]) / 2,
                "cpu_ms": (before["cpu_ms"] + after["cpu_ms"]) / 2,
                "p99": max(before["p99"], after["p99"]),
                "errors": 0,
            }
            results.setdefault(("bare", "hello"), []).append((hello, 1.0))
            for key, res in measured:
                results.setdefault(key, []).append((res, res["rps"] / hello["rps"]))
                res["cpu_ratio"] = hello["cpu_ms"] / res["cpu_ms"] if res["cpu_ms"] else float("nan")
            print(f"round {round_no + 1}/{args.rounds} done, load average {load_average()}", file=sys.stderr)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        log.close()
    report(results, servers, pages, args)
    shutil.rmtree(workdir, ignore_errors=True)


def report(results, servers, pages, args):
    names = {
        "login": "/login (anonymous)",
        "record": "/record (student)",
        "staff": "/staff/records",
        "confirm": "POST /record/confirm",
    }
    hello = [r for r, _ in results[("bare", "hello")]]
    hello_rps = ", ".join(f"{h['rps']:.0f}" for h in hello)
    hello_cpu = ", ".join(f"{h['cpu_ms']:.2f}" for h in hello)
    hello_p99 = ", ".join(f"{h['p99']:.1f}" for h in hello)
    print(
        f"\n{args.rounds} round(s) of wrk -t2 -c{args.connections} -d{args.seconds}s, "
        f"Accept-Encoding: {ACCEPT}; bare Flask hello: "
        f"{hello_rps} req/s, {hello_cpu} CPU ms/req, p99 {hello_p99} ms per round\n"
    )
    print(
        "| checkout | page | req/s | ratio | ratio range | p99 ms | CPU ms/req | CPU ratio | target |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    for label, (_port, targets, _pgid) in servers.items():
        for page in pages:
            runs = results[(label, page)]
            ratios = [ratio for _, ratio in runs]
            best = max(runs, key=lambda run: run[1])[0]
            name = names[page]
            rows = targets[page][3]
            if rows is not None:
                name += f" ({rows} rows)"
            target = TARGETS.get(page)
            verdict = "" if target is None else ("ok" if max(ratios) >= target else "MISSED") + f" ≥{target}"
            if page in ("record", "confirm") and best["p99"] >= P99_LIMIT_MS:
                verdict += f" p99 ≥{P99_LIMIT_MS:.0f}"
            errors = sum(r["errors"] for r, _ in runs)
            if errors:
                verdict += f" {errors} non-2xx/3xx!"
            print(
                f"| {label} | {name} | {best['rps']:.0f} | {max(ratios):.3f} | "
                f"{min(ratios):.3f}–{max(ratios):.3f} | {best['p99']:.1f} | {best['cpu_ms']:.2f} | "
                f"{best['cpu_ratio']:.3f} | {verdict} |"
            )
    print(
        f"\nratio: the best round's req/s ÷ the bare page's in the same round; CPU ratio: the bare "
        f"page's CPU time per request ÷ the page's (gunicorn master and workers), which a busy "
        f"machine disturbs less. Load average now {load_average()}."
    )


if __name__ == "__main__":
    main()
