"""Files with personal data are private to the server's user.

instance/ and the folders in it are created 700 and their files 600,
whatever the umask (`make run` sets 077 as well), so other accounts on the
machine can read neither the database nor the ID pictures nor the photos.
"""

import contextlib
import os

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path):
    """Create `path` (and parents) if missing; a new leaf directory gets 700."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)


def private_opener(path, flags):
    """`open(..., opener=private_opener)`: a new file is created with mode 600."""
    return os.open(path, flags, FILE_MODE)


def private_sqlite(url):
    """Create the SQLite database of `url` as 600 (or make an existing one 600).

    SQLite gives its -wal and -shm files the database file's mode.
    """
    if not url.startswith("sqlite:///"):
        return
    path = url[len("sqlite:///") :]
    create_private_file(path)
    for name in (path, path + "-wal", path + "-shm"):
        with contextlib.suppress(OSError):
            os.chmod(name, FILE_MODE)


def create_private_file(path):
    """Create an empty file with mode 600 if it does not exist (e.g. a SQLite database)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    # Already there, or its folder is missing (SQLite will say so): nothing to do.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
