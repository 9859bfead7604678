"""Rate limits hold exactly across the workers of a real gunicorn server.

Before, each worker counted in its own memory: with 3 workers a 30/min
login limit let 90 attempts through. Now every worker of the machine counts
in one SQLite file (ratelimit_sqlite.py), or in Redis when configured.
"""

import concurrent.futures

import pytest
from queue_fixtures import redis_url

from ratelimit_sqlite import SqliteStorage


def hammer_login(web, attempts):
    token = web.csrf("/login")

    def attempt(n):
        status, _html, _headers = web.request(
            "/login",
            data={"csrf_token": token, "email": f"nobody{n}@example.edu", "password": "wrong-password-1"},
        )
        return status

    with concurrent.futures.ThreadPoolExecutor(9) as pool:
        return list(pool.map(attempt, range(attempts)))


def test_login_limit_is_exact_with_three_workers(stack_factory):
    stack = stack_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="30 per minute")
    base = stack.web(workers=3, threads=4)
    statuses = hammer_login(stack.web_client(base), 75)
    assert statuses.count(429) == 45, statuses
    assert statuses.count(400) == 30  # wrong password, but counted and answered


@pytest.mark.skipif(redis_url() is None, reason="no Redis server on 127.0.0.1:6379")
def test_login_limit_is_exact_in_redis_across_two_servers(stack_factory):
    url = redis_url(db=14)
    import redis

    redis.Redis.from_url(url).flushdb()
    stack = stack_factory(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="20 per minute", RATELIMIT_STORAGE_URI=url)
    first, second = stack.web(workers=2), stack.web(workers=2)
    statuses = hammer_login(stack.web_client(first), 15) + hammer_login(stack.web_client(second), 15)
    assert statuses.count(429) == 10, statuses
    redis.Redis.from_url(url).flushdb()


def test_sqlite_storage_counts_and_expires(tmp_path, monkeypatch):
    storage = SqliteStorage(f"gradproof+sqlite://{tmp_path / 'rl.sqlite3'}")
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.check()
    clock = [storage.get_expiry("k") + 1]
    monkeypatch.setattr("ratelimit_sqlite.time.time", lambda: clock[0])
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1  # a new window
    storage.clear("k")
    assert storage.get("k") == 0


def test_a_locked_switch_to_wal_is_retried(tmp_path, monkeypatch):
    """Workers opening a new counter file at once: SQLite may refuse the
    switch to WAL with "database is locked" without waiting (it answered 500
    to the first requests); the storage tries again instead."""
    import sqlite3

    class Flaky:
        def __init__(self, conn):
            self.conn, self.refusals = conn, 2

        def execute(self, sql, *args):
            if sql.startswith("PRAGMA journal_mode") and self.refusals:
                self.refusals -= 1
                raise sqlite3.OperationalError("database is locked")
            return self.conn.execute(sql, *args)

    opened = []
    connect = sqlite3.connect
    monkeypatch.setattr(
        "ratelimit_sqlite.sqlite3.connect",
        lambda *a, **kw: opened.append(Flaky(connect(*a, **kw))) or opened[-1],
    )
    storage = SqliteStorage(f"gradproof+sqlite://{tmp_path / 'rl.sqlite3'}")
    assert storage.incr("k", 60) == 1
    assert opened[0].refusals == 0
    assert opened[0].conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    # Another error, or a lock that outlasts the timeout, is not hidden.
    slow = SqliteStorage(f"gradproof+sqlite://{tmp_path / 'rl2.sqlite3'}", timeout=0)
    with pytest.raises(sqlite3.OperationalError):
        slow.incr("k", 60)
