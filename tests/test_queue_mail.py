"""Mail goes through the task queue: real gunicorn, a real `flask worker`
consumer and a real SMTP server on loopback (issue: SMTP down / hanging).

The web process only writes the outbox row and enqueues a delivery; the
consumer sends, retries and drains the outbox (twice a minute by default;
every second in the dead-server test, OUTBOX_DRAIN_SECONDS, so that it waits
for a drain of the same code without waiting half a minute).
"""

import concurrent.futures
import time

from queue_fixtures import make_user, wait_for


def web_errors(stack):
    """The tracebacks in the web servers' logs, for a failure message."""
    logs = (stack.log_of(p) for p in stack.processes if p.name == "web")
    return "\n".join(log[log.find("Traceback") :][-4000:] for log in logs if "Traceback" in log)


def test_mail_waiting_for_a_dead_server_goes_out_after_it_returns(stack_factory, switchable_smtp, local_db):
    """SMTP down, 3 mails queued, SMTP back: all 3 arrive at the next outbox
    drain (within 60 s), with no web request."""
    stack = stack_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=switchable_smtp.port, OUTBOX_DRAIN_SECONDS=1)
    models = local_db(stack.database_url)
    for n in range(3):
        make_user(models, f"user{n}@example.edu")
    base = stack.web(workers=1)
    stack.worker()

    switchable_smtp.stop()
    for n in range(3):
        status, _html, _headers = stack.web_client(base).post(
            "/forgot-password", {"email": f"user{n}@example.edu"}
        )
        assert status == 200, web_errors(stack)
    # The consumer tried each one and found the server down.
    wait_for(
        lambda: (
            models.OutboxMail.select()
            .where((models.OutboxMail.status == "pending") & (models.OutboxMail.last_error != ""))
            .count()
            == 3
        ),
        60,  # generous for a loaded machine: the first attempts are immediate
        message="3 failed delivery attempts",
    )
    assert switchable_smtp.inbox.messages == []

    switchable_smtp.start()
    back = time.monotonic()
    messages = switchable_smtp.inbox.wait(3, timeout=60)
    delay = time.monotonic() - back
    print(f"\nmail delay after the SMTP server returned: {delay:.1f} s")
    assert sorted(m["To"] for m in messages) == [f"user{n}@example.edu" for n in range(3)]
    wait_for(lambda: models.OutboxMail.select().where(models.OutboxMail.status == "sent").count() == 3, 10)


def test_a_hanging_mail_server_does_not_slow_the_site(stack_factory, hanging_smtp, local_db):
    """SMTP accepts and never answers; GET /login p99 < 200 ms while 12 mails are pending."""
    stack = stack_factory(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=hanging_smtp.port, MAIL_TIMEOUT=10, RATELIMIT_MAIL="100 per minute"
    )
    models = local_db(stack.database_url)
    for n in range(12):
        make_user(models, f"hang{n}@example.edu")
    base = stack.web(workers=3, threads=4)
    stack.worker()

    def forgot(n):
        started = time.monotonic()
        status, _html, _headers = stack.web_client(base).post(
            "/forgot-password", {"email": f"hang{n}@example.edu"}
        )
        return status, time.monotonic() - started

    def login_page(_n):
        client = stack.web_client(base)
        started = time.monotonic()
        status, _html, _headers = client.get("/login")
        return status, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        posts = list(pool.map(forgot, range(12)))
        assert all(status == 200 for status, _t in posts), (posts, web_errors(stack))
        # The consumer is now stuck on the silent server.
        wait_for(lambda: hanging_smtp.connections, 15, message="a connection to the hanging server")
        pending = (
            models.OutboxMail.select().where(models.OutboxMail.status.in_(["pending", "sending"])).count()
        )
        assert pending == 12
    # One browser after another, as the site's users would arrive.
    timings = sorted(t for status, t in map(login_page, range(200)) if status == 200)
    assert len(timings) == 200
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"\nGET /login during an SMTP hang: p50 {timings[100] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p99 < 0.2, p99
    assert max(t for _s, t in posts) < 8, posts  # no POST waited out the 10 s SMTP timeout
    assert models.OutboxMail.select().where(models.OutboxMail.status == "sent").count() == 0
