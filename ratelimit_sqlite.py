"""A `limits` storage on a SQLite file, shared by every worker of one machine.

Flask-Limiter counts in memory by default, so with N gunicorn workers each
client gets N times its limit. Redis (``RATELIMIT_STORAGE_URI=redis://…``)
is the answer for several servers, but the default install has no Redis,
and `limits` has no SQLite storage. This one is small: a fixed-window
counter is one UPSERT … RETURNING, atomic in SQLite, so workers can never
both see "one left". It lives in its own WAL file (instance/ratelimit.sqlite3),
away from the application database, so counting never waits for an import.

URI: ``gradproof+sqlite:///absolute/path.sqlite3``. Only the fixed-window
strategy (Flask-Limiter's default, used by GradProof) is supported.

Why not the alternatives: a file-lock + JSON store rewrites the whole file
per hit; memcached is another service to run; a per-process memory store
is what multiplied the limits.
"""

import os
import random
import sqlite3
import threading
import time

from limits.storage import Storage

from services.fsmodes import create_private_file, private_dir

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counter ("
    "key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID"
)
INCR = (
    "INSERT INTO counter (key, count, expires) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN counter.expires <= ?4 THEN excluded.count ELSE counter.count + excluded.count END, "
    "expires = CASE WHEN counter.expires <= ?4 THEN excluded.expires ELSE counter.expires END "
    "RETURNING count"
)
CLEANUP_ODDS = 0.001  # about one hit in a thousand deletes expired counters


class SqliteStorage(Storage):
    """Fixed-window rate-limit counters in a SQLite file."""

    STORAGE_SCHEME = ["gradproof+sqlite"]

    def __init__(self, uri, wrap_exceptions=False, timeout=5.0, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.split("://", 1)[1]
        if not self.path or self.path == "/":
            raise ValueError(
                "gradproof+sqlite:// needs a file path, e.g. gradproof+sqlite:////srv/rl.sqlite3"
            )
        self.timeout = float(timeout)
        self._local = threading.local()

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _conn(self):
        # One connection per thread and process: gunicorn forks after the
        # app (and this object) was made, and a connection must not cross a fork.
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # Counters are keyed by address and account: private like the database.
            private_dir(os.path.dirname(self.path) or ".")
            create_private_file(self.path)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            self._wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SCHEMA)
            local.conn, local.pid = conn, os.getpid()
        return local.conn

    def _wal(self, conn):
        """Switch to WAL, retrying "database is locked" for up to the timeout.

        Switching a new file to WAL upgrades a read lock to a write lock;
        when several workers open the file at once, SQLite refuses that at
        once instead of waiting (waiting could deadlock), and the first
        requests after a start answered 500. Huey's SQLite storage retries
        the same way.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005 + random.random() * 0.02)  # noqa: S311 (not security)

    def incr(self, key, expiry, amount=1):
        now = time.time()
        conn = self._conn()
        (count,) = conn.execute(INCR, (key, amount, now + expiry, now)).fetchone()
        if random.random() < CLEANUP_ODDS:  # noqa: S311 (not security)
            conn.execute("DELETE FROM counter WHERE expires <= ?", (now,))
        return count

    def get(self, key):
        row = (
            self._conn()
            .execute("SELECT count FROM counter WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return row[0] if row else 0

    def get_expiry(self, key):
        row = self._conn().execute("SELECT expires FROM counter WHERE key = ?", (key,)).fetchone()
        return row[0] if row and row[0] > time.time() else time.time()

    def check(self):
        try:
            self._conn().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self):
        return self._conn().execute("DELETE FROM counter").rowcount

    def clear(self, key):
        self._conn().execute("DELETE FROM counter WHERE key = ?", (key,))
