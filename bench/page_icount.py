"""Instructions per request of a page, counted by valgrind (callgrind).

Wall-clock and CPU time swing by tens of per cent on the shared machines
here, within minutes; an instruction count does not: the same code, data
and request give the same count to a tenth of a per cent, whatever else the
machine is doing. So a change to the hot path can be judged in one run,
before page_bench.py confirms it over HTTP.

The page is served in process exactly as page_profile.py does it (the same
database as page_bench.py, a browser's cookies after one page view, the
WSGI application called directly), warmed with 30 requests; callgrind
instruments only the N requests that follow (started with
--instr-atstart=no and switched on and off by callgrind_control), so set-up
and imports are not counted.

    .venv/bin/python bench/page_icount.py [--pages record,login] [-n 100] [--tree DIR ...]

Each --tree is another checkout (e.g. `git worktree add --detach
/tmp/gp-base <commit>`, with its compiled catalogs), counted the same way;
without --tree, this checkout. Needs valgrind (Debian package valgrind);
about 25 s per page and tree. Not a test.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(tree, page, n):
    """Inside valgrind: set up, say READY, run n requests on the next line of
    stdin, say DONE, and exit on the line after."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import page_bench
    import page_profile

    instance = tempfile.mkdtemp(prefix="gradproof-icount-")
    try:
        page_bench.prepare(instance, tree)
        from app import create_app

        app = create_app(page_bench.env_config(instance))
        env, body = page_profile.environs(app, [page])[page]
        for _ in range(30):
            page_profile.call(app, env, body)
        print("READY", flush=True)
        sys.stdin.readline()
        for _ in range(n):
            page_profile.call(app, env, body)
        print("DONE", flush=True)
        sys.stdin.readline()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def count(tree, page, n):
    """Instructions per request of `page` served by checkout `tree`."""
    folder = tempfile.mkdtemp(prefix="gradproof-callgrind-")
    out = os.path.join(folder, "callgrind.out")
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        os.path.join(ROOT, ".venv/bin/python"),
        os.path.abspath(__file__),
        "--child",
        tree,
        page,
        str(n),
    ]
    proc = subprocess.Popen(
        cmd, cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        for expected in ("READY", "DONE"):
            for line in proc.stdout:
                if line.strip() == expected:
                    break
            else:
                raise SystemExit(f"{page} in {tree}: the child stopped before {expected}")
            state = "on" if expected == "READY" else "off"
            subprocess.run(["callgrind_control", "-i", state, str(proc.pid)], check=True, capture_output=True)
            proc.stdin.write("go\n")
            proc.stdin.flush()
        proc.wait(120)
        total = 0
        for name in os.listdir(folder):
            with open(os.path.join(folder, name)) as f:
                for line in f:
                    if line.startswith(("summary:", "totals:")):
                        total = max(total, int(line.split()[1]))
        return total / n
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(os.path.abspath(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="record,login")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--tree", action="append", help="another checkout (repeatable)")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (Debian package valgrind)")
    trees = [os.path.abspath(t) for t in args.tree] if args.tree else [ROOT]
    print("| checkout | page | M instructions per request |\n|---|---|---|")
    for page in args.pages.split(","):
        for tree in trees:
            print(f"| {tree} | {page} | {count(tree, page, args.n) / 1e6:.3f} |", flush=True)


if __name__ == "__main__":
    main()
