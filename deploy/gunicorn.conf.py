"""gunicorn settings used by `make run` (and what bench/ measures).

Threads in each worker let a slow phone or the after-request mail delivery
not hold up other requests; SQLite's WAL mode and immediate transactions
keep several writers safe.
"""

import gc
import multiprocessing
import os
import re
import socket

from gunicorn.glogging import Logger

SECRET_PATH = re.compile(r"/(activate|reset|invite)/[^/?\s]+")


class RedactingLogger(Logger):
    """Access log without the one-time tokens that sit in activation and
    reset paths, so log readers cannot take over accounts."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r"):
            if key in atoms:
                atoms[key] = SECRET_PATH.sub(r"/\1/[token]", atoms[key])
        return atoms


# One process per core: the threads give the concurrency, and a process per
# core keeps each busy one on its own core. With one more process than cores
# (the old default) three processes took turns on two cores, and the
# student pages' p99 under 16 connections was 85-115 ms against 48-69 ms
# (bench/page_bench.py, both settings side by side; docs/PERFORMANCE.md).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads
# new connections over them. On one shared socket the worker that woke first
# accepted most of a burst of connections and kept them (keep-alive, and
# nginx's upstream keepalive): 16 connections split 4/12, 2/14, even 16/0,
# one core busy and the other idle (bench/page_bench.py: ss -tnp during wrk).
reuse_port = True
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
preload_app = True
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
logger_class = RedactingLogger
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# Garbage collection and fork, as the gc module's documentation advises:
# no collection while the app is preloaded in the master (no freed holes in
# the pages the workers share), every object alive at fork frozen into the
# permanent generation (a worker's full collection no longer walks the
# app's modules, templates and catalogs, and does not touch their pages,
# so they stay shared), collection back on in each worker. Shorter pauses
# in the slowest requests, less memory per worker.
gc.disable()


def on_starting(server):
    """With reuse_port a second server on a taken address would bind as well
    and quietly share the connections with the old one (old code answering
    half the requests): refuse to start instead, as without it. Not when
    the sockets are handed over (gunicorn's USR2 upgrade, systemd socket
    activation): there the old and new servers share them by design."""
    if "GUNICORN_FD" in os.environ or "LISTEN_FDS" in os.environ:
        return
    for address in server.cfg.address:
        if not isinstance(address, tuple):  # a unix socket: no port sharing
            continue
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR: connections of a stopped server in TIME_WAIT are
            # no obstacle; a listening socket still is.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise SystemExit(
                    f"{address[0]}:{address[1]} is in use ({exc.strerror}): is GradProof already running?"
                ) from None


def pre_fork(server, worker):
    gc.freeze()


def post_fork(server, worker):
    gc.enable()
