"""Platform behaviour a user or operator notices: security headers, cookies,
static files and byte budgets, language choice, error pages, health check,
start-up checks and migrations."""

import datetime
import gzip
import hashlib
import logging
import os
import re
import secrets
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

import brotli
import pytest
from playhouse.schema_diff import diff_models

import app as app_module
import models
from app import create_app
from tests.conftest import TEST_CONFIG
from tests.factories import login, make_user

STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")
PUBLIC_PAGES = ["/", "/login", "/register", "/forgot-password", "/forgot-username", "/terms", "/no-such-page"]
EN = {"Accept-Language": "en-US,en;q=0.9"}
HX = {"HX-Request": "true"}


def lang_of(response):
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert match, "not a full page"
    return match.group(1)


def wire_size(response):
    """Bytes on the wire: status line, headers, blank line, (compressed) body."""
    head = f"HTTP/1.1 {response.status}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in response.headers.items())
    return len((head + "\r\n").encode("latin-1")) + len(response.data)


def csp_directives(response):
    policy = response.headers["Content-Security-Policy"]
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {name: (rest[0] if rest else "") for name, *rest in parts}


# --- security headers and cookies -------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/no-such-page"])
def test_security_headers_on_pages_and_error_pages(client, path):
    r = client.get(path)
    assert r.status_code == (200 if path == "/login" else 404)
    csp = csp_directives(r)
    assert csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-inline" not in csp.get("default-src", "")
    assert "unsafe-eval" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert r.headers["X-Frame-Options"] == "DENY"
    # Pages carry a CSRF token and maybe a name: never in a shared cache.
    assert "private" in r.headers["Cache-Control"]
    assert "Strict-Transport-Security" not in r.headers

    secure = client.get(path, base_url="https://localhost")
    hsts = secure.headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 365 * 24 * 3600


def session_cookie(response, name="session"):
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert cookies, f"no {name} cookie set: {response.headers.getlist('Set-Cookie')}"
    return [flag.strip().lower() for flag in cookies[0].split(";")[1:]]


def test_session_cookie_flags_in_tests_and_in_production(app_factory):
    flags = session_cookie(app_factory().test_client().get("/login"))
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # TESTING: plain-HTTP test client

    production = app_factory(
        TESTING=False, DEBUG=False, SESSION_COOKIE_SECURE=None, SECRET_KEY=secrets.token_hex(32)
    )
    assert not production.debug and not production.testing
    client = production.test_client()
    flags = session_cookie(client.get("/login", base_url="https://localhost"))
    assert {"secure", "httponly", "samesite=lax"} <= set(flags)
    lang = session_cookie(client.get("/lang/en?next=/login", base_url="https://localhost"), "lang")
    assert "secure" in lang
    make_user()
    r = login(client, remember="y", base_url="https://localhost")
    assert r.status_code == 303
    remember = session_cookie(r, "remember_token")
    assert {"secure", "httponly"} <= set(remember)
    expires = next(f.split("=", 1)[1] for f in remember if f.startswith("expires="))
    days = (parsedate_to_datetime(expires) - datetime.datetime.now(datetime.UTC)).days
    assert 0 < days <= 30


def test_operator_can_tighten_samesite(app_factory):
    flags = session_cookie(app_factory(SESSION_COOKIE_SAMESITE="Strict").test_client().get("/login"))
    assert "samesite=strict" in flags


# --- no inline script ---------------------------------------------------------


class ScriptAudit(HTMLParser):
    """Collects everything a `script-src 'self'` CSP would block or that
    smuggles script past it (inline handlers, hx-on, js: values)."""

    def __init__(self):
        super().__init__()
        self.problems = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            self.in_script = True
            if not names.get("src"):
                self.problems.append("<script> without src")
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…>")
            if value and re.match(r"\s*(js|javascript):", value, re.I):
                self.problems.append(f'<{tag} {name}="{value[:30]}">')

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.problems.append("inline script body")


@pytest.mark.parametrize("path", PUBLIC_PAGES)
@pytest.mark.parametrize("headers", [{}, EN], ids=["zh", "en"])
def test_pages_have_no_inline_script(client, path, headers):
    r = client.get(path, headers=headers, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "<html" in html and "<script" in html  # audited a real page with htmx
    audit = ScriptAudit()
    audit.feed(html)
    assert audit.problems == []
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert "hx-on" not in html and "js:" not in html


# --- static files ----------------------------------------------------------------


def linked_assets(client):
    html = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/app\.([0-9a-f]{12})\.css)"', html)
    js = re.search(r'src="(/static/vendor/htmx-4\.0\.1\.min\.([0-9a-f]{12})\.js)"', html)
    assert css and js, "page does not link the hashed app.css and htmx"
    return css, js


def test_static_files_are_hashed_compressed_and_cached_forever(client):
    css, js = linked_assets(client)
    for match, name in ((css, "app.css"), (js, "vendor/htmx-4.0.1.min.js")):
        url, digest = match.groups()
        with open(os.path.join(STATIC, name), "rb") as fh:
            raw = fh.read()
        assert digest == hashlib.sha256(raw).hexdigest()[:12], "hash must follow the content"

        r = client.get(url, headers={"Accept-Encoding": "br"})
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["Content-Encoding"] == "br"
        assert "Accept-Encoding" in r.headers["Vary"]
        assert brotli.decompress(r.data) == raw

        r = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert r.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(r.data) == raw

        r = client.get(url, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in r.headers and r.data == raw

        etag = client.get(url, headers={"Accept-Encoding": "br"}).headers["ETag"]
        r = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": etag})
        assert r.status_code == 304 and r.data == b""
        # A gzip copy must never be answered with a br ETag match.
        r = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert r.status_code == 200

    assert client.get("/static/app.000000000000.css").status_code == 404
    assert client.get("/static/nothing.css").status_code == 404
    # The unhashed name still works (old cached page) but is not cached long.
    r = client.get("/static/app.css")
    assert r.status_code == 200 and "immutable" not in r.headers["Cache-Control"]

    licence = os.path.join(STATIC, "vendor", "htmx-LICENSE.txt")
    with open(licence, encoding="utf-8") as fh:
        assert "BSD" in fh.read()


# --- compression and byte budgets ----------------------------------------------


@pytest.mark.parametrize("path", ["/register", "/login"])
def test_first_html_response_fits_in_14kb(app, path, capsys):
    r = app.test_client().get(path, headers={"Accept-Encoding": "br, gzip"})
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "br"
    assert brotli.decompress(r.data).decode().startswith("<!doctype html>")
    size = wire_size(r)
    with capsys.disabled():
        print(f"\n[budget] {path}: {size} bytes br incl. headers (body {len(r.data)}), limit {14 * 1024}")
    assert size <= 14 * 1024, f"{path} is {size} bytes"


def test_first_visit_fits_in_20kb(app, capsys):
    client = app.test_client()
    br = {"Accept-Encoding": "br"}
    page = client.get("/register", headers=br)
    html = brotli.decompress(page.data).decode()
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert len(urls) == 3, urls  # app.css, htmx, js/app.js
    responses = [page] + [client.get(url, headers=br) for url in urls]
    assert all(r.headers.get("Content-Encoding") == "br" for r in responses)
    total = sum(wire_size(r) for r in responses)
    bodies = sum(len(r.data) for r in responses)
    with capsys.disabled():
        print(f"\n[budget] first visit: {total} bytes incl. headers (bodies {bodies}), limit {20 * 1024}")
    assert total <= 20 * 1024, f"first visit is {total} bytes"


# --- language ----------------------------------------------------------------------


def test_language_from_browser_with_chinese_default(client):
    r = client.get("/login")
    assert lang_of(r) == "zh-CN" and "登录" in r.get_data(as_text=True)
    r = client.get("/login", headers=EN)
    assert lang_of(r) == "en" and "Log in" in r.get_data(as_text=True)
    assert "登录" not in r.get_data(as_text=True)
    r = client.get("/login", headers={"Accept-Language": "zh-TW"})
    assert lang_of(r) == "zh-CN" and "登录" in r.get_data(as_text=True)
    r = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert lang_of(r) == "zh-CN"


def test_footer_language_choice_sticks(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/lang/en?next=/login"' in html
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert any(c.startswith("lang=en") for c in r.headers.getlist("Set-Cookie"))
    r = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert lang_of(r) == "en" and "Log in" in r.get_data(as_text=True)
    client.get("/lang/zh_CN?next=/login")
    assert lang_of(client.get("/login", headers=EN)) == "zh-CN"


def test_unknown_language_and_foreign_next_are_ignored(client):
    r = client.get("/lang/xx?next=/login")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert not any(c.startswith("lang=") for c in r.headers.getlist("Set-Cookie"))
    assert lang_of(client.get("/login")) == "zh-CN"
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = client.get("/lang/en", query_string={"next": target})
        assert r.status_code == 303
        location = r.headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), location
        assert "evil" not in location and "javascript" not in location


def test_registering_in_chinese_stores_the_language_code(client, db):
    from tests.factories import PASSWORD

    data = {"email": "zh@example.edu", "password": PASSWORD, "confirm": PASSWORD, "accept_terms": "y"}
    assert client.form_post("/register", data).status_code == 303
    assert db.User.by_email("zh@example.edu").locale == "zh_CN"


# --- error pages -------------------------------------------------------------------


def assert_error(client, method, path, status, zh, en, **kwargs):
    """Full page in Chinese and English, and an htmx fragment into #flash."""
    call = getattr(client, method)
    r = call(path, **kwargs)
    assert r.status_code == status
    assert lang_of(r) == "zh-CN" and zh in r.get_data(as_text=True)
    r = call(path, headers=EN, **kwargs)
    assert r.status_code == status
    assert lang_of(r) == "en" and en in r.get_data(as_text=True)
    r = call(path, headers=dict(HX, **EN), **kwargs)
    assert r.status_code == status
    body = r.get_data(as_text=True)
    assert "<html" not in body and "<body" not in body and en in body
    assert r.headers["HX-Retarget"] == "#flash"
    return r


def test_404_page(client):
    assert_error(client, "get", "/no-such-page", 404, "页面不存在", "This page does not exist")


def test_405_page_keeps_allow_header(client):
    r = assert_error(client, "get", "/logout", 405, "不支持", "does not accept that kind")
    assert "POST" in r.headers["Allow"]
    assert "POST" in client.get("/logout").headers["Allow"]


def test_413_page(app_factory):
    client = app_factory(MAX_CONTENT_LENGTH=1000).test_client()
    big = {"email": "a@example.edu", "password": "x" * 5000}
    assert_error(client, "post", "/login", 413, "文件过大", "larger than allowed", data=big)


def test_429_page(app_factory):
    client = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute").test_client()
    wrong = {"email": "a@example.edu", "password": "wrong password here"}
    assert client.form_post("/login", wrong).status_code == 400
    assert client.form_post("/login", wrong).status_code == 400
    assert_error(client, "post", "/login", 429, "请求过于频繁", "Too many attempts", data=wrong)
    assert client.get("/login").status_code == 200  # only POSTs count


@pytest.fixture
def failing_app(app_factory):
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    def explode():
        raise ValueError("internal detail 0xDEADBEEF")

    app.add_url_rule("/explode", "explode", explode)
    return app


def test_500_page_apologises_without_leaking(failing_app, caplog):
    client = failing_app.test_client()
    with caplog.at_level(logging.ERROR):
        r = assert_error(client, "get", "/explode", 500, "系统发生意外错误", "An unexpected error occurred")
        page = client.get("/explode").get_data(as_text=True)
    for body in (r.get_data(as_text=True), page):
        for leak in ("Traceback", "0xDEADBEEF", "ValueError", ".py", "/work/", "site-packages"):
            assert leak not in body
    # The operator gets the traceback in the log, once per failure (4 requests).
    logged = [rec for rec in caplog.records if rec.exc_info and rec.exc_info[0] is ValueError]
    assert len(logged) == 4


# --- CSRF for htmx ---------------------------------------------------------------------


def test_csrf_token_accepted_from_htmx_header(client, db):
    make_user()
    assert login(client).status_code == 303
    html = client.get("/account/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    r = client.post("/logout")
    assert r.status_code == 400
    assert client.get("/account/").status_code == 200, "a POST without token logged out"

    r = client.post("/logout", headers={"X-CSRFToken": "forged"})
    assert r.status_code == 400
    assert client.get("/account/").status_code == 200

    r = client.post("/logout", headers={"X-CSRFToken": token, **HX})
    assert r.status_code == 303
    assert client.get("/account/").status_code == 302


# --- health check and start-up ----------------------------------------------------------


def test_healthz_reports_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok", "database": "ok"}


def test_healthz_503_when_database_unusable(tmp_path):
    config = dict(TEST_CONFIG, DATABASE_URL="sqlite:////nonexistent-dir/x.db", PROPAGATE_EXCEPTIONS=False)
    broken = create_app(config)
    broken.instance_path = str(tmp_path)
    r = broken.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.is_json and r.json["status"] == "error"
    body = r.get_data(as_text=True)
    assert "Traceback" not in body and "nonexistent-dir" not in body and "sqlite" not in body.lower()
    # Pages that need the database keep the ordinary apology page (the
    # connection is lazy, so the login form itself still renders).
    client = broken.test_client()
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)
    ).group(1)
    r = client.post("/login", data={"email": "a@example.edu", "password": "whatever pw", "csrf_token": token})
    assert r.status_code == 500 and "<html" in r.get_data(as_text=True)
    assert "nonexistent-dir" not in r.get_data(as_text=True)


@pytest.mark.parametrize("key", [None, "", "short"])
def test_refuses_to_start_with_default_or_weak_secret(tmp_path, monkeypatch, key):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "TESTING": False, "DEBUG": False}
    config["SECRET_KEY"] = app_module.DEFAULTS["SECRET_KEY"] if key is None else key
    with pytest.raises(RuntimeError, match="FLASK_SECRET_KEY"):
        create_app(config)


def test_starts_with_long_random_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "TESTING": False,
            "DEBUG": False,
            "SECRET_KEY": secrets.token_urlsafe(48),
        }
    )
    assert not app.testing and app.config["SESSION_COOKIE_SECURE"] is True


# --- migrations ----------------------------------------------------------------------------


def test_migrations_match_models_and_are_idempotent(app):
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        try:
            diff = diff_models(models.db.obj, models.ALL_MODELS)
            assert not diff, f"models differ from the migrated schema (write a migration):\n{diff}"
            user = make_user("keep@example.edu")
            assert models.migrate() == []
            assert models.User.get_by_id(user.id).email == "keep@example.edu"
            assert not diff_models(models.db.obj, models.ALL_MODELS)
        finally:
            models.db.close()


def test_access_log_hides_one_time_tokens():
    """Activation, reset and invitation links must not end up readable in logs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gunicorn_conf", os.path.join(os.path.dirname(STATIC), "deploy", "gunicorn.conf.py")
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    for path in ("/activate/abcDEF123", "/reset/abc-DEF_123", "/admin/invite/xyz789"):
        redacted = conf.SECRET_PATH.sub(r"/\1/[token]", f"GET {path} HTTP/1.1")
        assert path.rsplit("/", 1)[1] not in redacted and "[token]" in redacted
    assert conf.SECRET_PATH.sub(r"/\1/[token]", "/record") == "/record"
