"""Where a page's time goes, in process: ms per request and a breakdown.

Builds the same database as bench/page_bench.py in a temporary folder, logs
in through the real form with a test client (then views one page, as a
browser does) and calls the WSGI application directly, N times per page:

  1. without a profiler: CPU ms per request (process time, best of 3
     batches: a busy machine disturbs it less than wall-clock time);
  2. under cProfile: the self time of every function, summed by where the
     function lives (Jinja and the compiled templates, Babel, peewee,
     SQLite, WTForms, compression, session/login/CSRF/headers, Flask and
     Werkzeug, GradProof's own code, the rest) and scaled to (1).

    .venv/bin/python bench/page_profile.py [-n 300] [--pages record,login,staff,confirm,correction] [--top 15]
    .venv/bin/python bench/page_profile.py --tree /tmp/gp-base   # an older checkout, for comparison

A profile is not a benchmark: cProfile slows small calls more than big ones,
so read the shares as "where to look", and page_bench.py for the numbers.
"""

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import page_bench  # noqa: E402

CATEGORIES = [
    ("SQLite executing and fetching", ("sqlite3.", "_sqlite3")),
    ("Jinja (templates and jinja2)", (".html", "jinja2/", "jinja2_fragments/", "markupsafe/")),
    ("Babel (gettext, dates)", ("flask_babel/", "babel/", "gettext.py")),
    ("peewee (SQL text, rows → models)", ("peewee.py", "playhouse/")),
    ("WTForms / Flask-WTF forms", ("wtforms/", "flask_wtf/form", "flask_wtf/i18n")),
    ("Compression (brotli, gzip)", ("flask_compress/", "brotli", "zlib", "gzip.py")),
    (
        "Session, login, CSRF, headers",
        (
            "flask_login/",
            "itsdangerous/",
            "flask/sessions",
            "flask_talisman/",
            "flask_wtf/csrf",
            "flask_limiter/",
            "hashlib",
            "hmac.py",
            "_hashlib",
        ),
    ),
    ("Flask and Werkzeug", ("flask/", "werkzeug/")),
    ("GradProof code", (ROOT + "/",)),
]


def category(filename, funcname):
    text = f"{filename} {funcname}"
    for name, needles in CATEGORIES:
        if any(n in text for n in needles):
            return name
    return "Python and the standard library"


def environs(app, pages):
    """{page: (environ, body)} with the cookies a browser holds after one view."""
    from werkzeug.test import EnvironBuilder

    ua = {"User-Agent": page_bench.USER_AGENT, "Accept-Encoding": page_bench.ACCEPT}
    result = {}
    student = app.test_client()
    page_login(student, "bench@example.edu", "/record")
    confirmer = app.test_client()
    page = page_login(confirmer, "confirm@example.edu", "/record")
    form = {
        "csrf_token": page_bench.csrf_of(page),
        "shown": re.search(r'name="shown"[^>]*value="([^"]*)"', page).group(1),
    }
    confirmer.post("/record/confirm", data=form, headers=ua)
    confirmer.get("/record", headers=ua)
    staff = app.test_client()
    page_login(staff, "staff@example.edu", "/staff/records")
    clients = {"login": None, "record": student, "staff": staff, "confirm": confirmer, "correction": student}
    paths = {
        "login": "/login",
        "record": "/record",
        "staff": "/staff/records",
        "confirm": "/record/confirm",
        "correction": "/record/correction",
    }
    for name in pages:
        headers = dict(ua)
        client = clients[name]
        if client is not None:
            headers["Cookie"] = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
        kwargs = {"data": form, "method": "POST"} if name == "confirm" else {}
        builder = EnvironBuilder(
            path=paths[name], headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}, **kwargs
        )
        env = builder.get_environ()
        body = env["wsgi.input"].read()
        result[name] = (env, body)
    return result


def page_login(client, email, first_page):
    ua = {"User-Agent": page_bench.USER_AGENT}
    page = client.get("/login", headers=ua).get_data(as_text=True)
    data = {"csrf_token": page_bench.csrf_of(page), "email": email, "password": page_bench.PASSWORD}
    assert client.post("/login", data=data, headers=ua).status_code == 303
    response = client.get(first_page, headers=ua)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def call(app, env, body):
    env = dict(env)
    env["wsgi.input"] = io.BytesIO(body)
    status = []
    chunks = app(env, lambda s, h, exc_info=None: status.append(s))
    for _chunk in chunks:
        pass
    if hasattr(chunks, "close"):
        chunks.close()
    return status[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--pages", default="record,login,staff,confirm")
    parser.add_argument("--top", type=int, default=0, help="also list the N costliest functions per page")
    parser.add_argument("--callers", metavar="REGEX", help="also list who calls the functions matching REGEX")
    parser.add_argument("--tree", default=ROOT, help="profile another checkout (e.g. /tmp/gp-base)")
    args = parser.parse_args()
    tree = os.path.abspath(args.tree)
    CATEGORIES[-1] = ("GradProof code", (tree + "/",))
    instance = tempfile.mkdtemp(prefix="gradproof-profile-")
    try:
        page_bench.prepare(instance, tree)
        from app import create_app

        app = create_app(page_bench.env_config(instance))
        pages = args.pages.split(",")
        for env, body in environs(app, pages).values():
            status = call(app, env, body)
            for _ in range(20):
                call(app, env, body)
            batches = []
            for _ in range(3):
                started = time.process_time()
                for _ in range(args.n):
                    call(app, env, body)
                batches.append((time.process_time() - started) / args.n * 1000)
            wall = min(batches)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.n):
                call(app, env, body)
            profiler.disable()
            stats = pstats.Stats(profiler)
            sums = {}
            for (filename, _line, funcname), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
                key = category(filename, funcname)
                sums[key] = sums.get(key, 0.0) + tottime
            total = sum(sums.values())
            print(
                f"\n{env['REQUEST_METHOD']} {env['PATH_INFO']} → {status}: {wall:.2f} ms/request "
                f"(best of 3 × {args.n}; batches {', '.join(f'{b:.2f}' for b in batches)})"
            )
            print("| cost | ms/req | share |\n|---|---|---|")
            for key, value in sorted(sums.items(), key=lambda kv: -kv[1]):
                print(f"| {key} | {wall * value / total:.2f} | {100 * value / total:.0f} % |")
            if args.top:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
                print(out.getvalue())
            if args.callers:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_callers(args.callers)
                print(out.getvalue())
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
