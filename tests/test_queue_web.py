"""The web server as `make run` starts it (deploy/gunicorn.conf.py)."""

import os
import subprocess

from queue_fixtures import BIN, ROOT


def test_a_second_server_on_a_taken_address_refuses_to_start(stack_factory):
    """Workers listen with SO_REUSEPORT, which would let a second server bind
    the same address and quietly answer half the requests (an old version
    left running, say): it must stop with a clear message instead."""
    stack = stack_factory()
    base = stack.web(workers=1, threads=2)
    address = base.removeprefix("http://")
    second = subprocess.run(
        [os.path.join(BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", address, "app:create_app()"],
        cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode != 0
    assert f"{address} is in use" in second.stderr + second.stdout
    assert stack.web_client(base).get("/login")[0] == 200  # the first one still answers
