"""Static files with a content hash in their URL, pre-compressed, cached a year.

At start-up every file under static/ is read once; `url_for('static',
filename='app.css')` becomes `/static/app.<hash>.css`. The hashed URL is
immutable; an unhashed or stale name is still served but not cached long.
"""

import functools
import gzip
import hashlib
import mimetypes
import os
from dataclasses import dataclass

import brotli
from flask import request
from werkzeug.wrappers import Response

COMPRESSIBLE = {".css", ".js", ".svg", ".txt", ".json", ".csv"}
YEAR = 365 * 24 * 3600


@dataclass
class Asset:
    name: str
    hashed: str
    mimetype: str
    raw: bytes
    gz: bytes | None
    br: bytes | None
    etag: str


def hashed_name(name, digest):
    """`css/app.css` + digest → `css/app.<digest>.css`."""
    stem, ext = os.path.splitext(name)
    return f"{stem}.{digest}{ext}"


def scan(folder):
    """Read every static file; returns {name: Asset} and {hashed name: Asset}.

    Compressing (brotli at level 11) costs ~50 ms, so the result is kept per
    process for as long as no file's size or mtime changes: several apps in
    one process (tests, tools) do it once.
    """
    stamp = []
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            info = os.stat(os.path.join(root, name))
            stamp.append((root, name, info.st_mtime_ns, info.st_size))
    return _scan(folder, tuple(stamp))


@functools.lru_cache(maxsize=4)
def _scan(folder, _stamp):
    by_name, by_hashed = {}, {}
    for root, _dirs, files in os.walk(folder):
        for file in files:
            path = os.path.join(root, file)
            name = os.path.relpath(path, folder).replace(os.sep, "/")
            with open(path, "rb") as fh:
                raw = fh.read()
            digest = hashlib.sha256(raw).hexdigest()[:12]
            ext = os.path.splitext(name)[1]
            gz = br = None
            if ext in COMPRESSIBLE and len(raw) > 256:
                gz = gzip.compress(raw, 9, mtime=0)
                br = brotli.compress(raw, quality=11)
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            asset = Asset(name, hashed_name(name, digest), mimetype, raw, gz, br, digest)
            by_name[name] = asset
            by_hashed[asset.hashed] = asset
    return by_name, by_hashed


def respond(assets, filename, environ):
    """The response for one static file name (hashed or plain)."""
    by_name, by_hashed = assets
    asset = by_hashed.get(filename)
    immutable = asset is not None
    asset = asset or by_name.get(filename)
    if asset is None:
        return Response("Not Found", status=404, mimetype="text/plain")
    accepted = environ.get("HTTP_ACCEPT_ENCODING", "")
    body, encoding = asset.raw, None
    if asset.br and "br" in accepted:
        body, encoding = asset.br, "br"
    elif asset.gz and "gzip" in accepted:
        body, encoding = asset.gz, "gzip"
    response = Response(body, mimetype=asset.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(asset.etag + (encoding or ""))
    if immutable:
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "public, no-cache"
    return response.make_conditional(environ)


class StaticFiles:
    """WSGI middleware answering /static/ before Flask: no session, no
    database, no `Vary: Cookie` on files meant to be cached by everyone."""

    def __init__(self, app, assets):
        self.app, self.assets = app, assets

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/static/") and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return respond(self.assets, path[len("/static/") :], environ)(environ, start_response)
        return self.app(environ, start_response)


def init_app(app):
    """Serve /static/ from memory and make url_for('static') add the hash."""
    folder = os.path.join(app.root_path, "static")
    by_name, by_hashed = scan(folder)
    app.extensions["assets"] = by_name
    app.wsgi_app = StaticFiles(app.wsgi_app, (by_name, by_hashed))

    @app.url_defaults
    def _hash_static(endpoint, values):
        if endpoint == "static" and values.get("filename") in by_name:
            values["filename"] = by_name[values["filename"]].hashed

    def serve(filename):
        """Only for URL building (the middleware answers first) and odd methods."""
        return respond((by_name, by_hashed), filename, request.environ)

    app.add_url_rule("/static/<path:filename>", "static", serve)
