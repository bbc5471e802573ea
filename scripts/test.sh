#!/usr/bin/env bash
# Set up everything (Debian packages incl. Chromium and PostgreSQL, PyPI, npm),
# lint, then run the whole test suite twice, inside a private network namespace: on
# SQLite, then on a real PostgreSQL that this script starts and stops.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${STREAMCAT_IN_NETNS:-0}" != 1 ]]; then
    STREAMCAT_SETUP_TESTS=1 bash scripts/setup.sh
    echo "== Lint (ruff)"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    echo "== Import layers (import-linter)"
    .venv/bin/lint-imports --no-cache
fi
# Everything below runs in a private network namespace (see scripts/netns.sh).
source scripts/netns.sh
run_in_private_network "$@"

status=0
echo "== Test suite on SQLite"
.venv/bin/pytest "$@" || status=$?

echo "== Test suite on PostgreSQL"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_PORT=${STREAMCAT_TEST_PG_PORT:-15432}
PG_DIR=$(mktemp -d /tmp/streamcat-pg-XXXXXX)
chown postgres: "$PG_DIR" 2>/dev/null || true
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_postgres() {
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
trap stop_postgres EXIT
as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
# Tests of media and page layout only (transcoding, ABR, phone layout) ran on SQLite:
# the database engine changes nothing in them, and they are the slowest.
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/streamcat" .venv/bin/pytest -m "not engine_independent" "$@" \
    || status=$?
exit $status
