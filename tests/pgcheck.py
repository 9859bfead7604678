"""`python -m tests.pgcheck`: exit 0 when the PostgreSQL server of
TEST_DATABASE_URL (default postgresql://127.0.0.1:5432/) accepts a
connection, else print why and exit 1. `make test` uses it to decide whether
to run the suite a second time on PostgreSQL."""

import sys

from tests.conftest import pg_admin_connect, pg_server_url


def main():
    try:
        pg_admin_connect().close()
    except Exception as exc:  # any reason is reported
        print(f"PostgreSQL at {pg_server_url()} not reachable: {str(exc).strip()}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
