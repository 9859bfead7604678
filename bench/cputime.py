"""Run a command and print its wall time and the CPU of every process it started.

`/usr/bin/time` counts only the processes the command waited for. Chromium
is not among them when the browser tests run: it outlives Playwright's
driver and is handed to init, and so are gunicorn's workers when a queue
test kills its server's process group. (Launching Chromium through
Playwright and running a 4-second JavaScript busy loop in a page: 1.7 and
2.0 s of CPU under `/usr/bin/time` in two runs, 4.6 and 7.4 s here.) This
wrapper makes itself the child subreaper (Linux), so orphaned descendants
are handed to it and their CPU is counted when it reaps them.

    nice -n 19 .venv/bin/python bench/cputime.py .venv/bin/python -m pytest -n 2 --dist loadgroup -q

The figures go to stderr; the exit status is the command's. Descendants
still running when the command ends get up to 15 s to exit (a crash handler
that lingers is left behind, uncounted).
"""

import ctypes
import os
import resource
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv):
    if not argv:
        sys.exit(__doc__)
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("cputime: prctl(PR_SET_CHILD_SUBREAPER) failed (Linux only)")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    code = None
    while code is None:
        done, status = os.wait()
        if done == pid:
            code = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            done, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if done == 0:
            time.sleep(0.1)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"cputime: {wall:.1f} s wall, {cpu:.1f} s CPU ({usage.ru_utime:.1f} user + {usage.ru_stime:.1f} sys)",
        file=sys.stderr,
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
