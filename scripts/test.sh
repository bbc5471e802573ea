#!/usr/bin/env bash
# Set up everything (Debian packages incl. Chromium and PostgreSQL, PyPI, npm),
# lint, then run the whole test suite twice, inside a network namespace with only
# loopback: on SQLite, then on a real PostgreSQL that this script starts and stops.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${STREAMCAT_IN_NETNS:-0}" != 1 ]]; then
    STREAMCAT_SETUP_TESTS=1 bash scripts/setup.sh
    echo "== Lint (ruff)"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    # The tests run in a private network namespace whose only interface is `lo`:
    # every process they start, WebRTC peers included, can reach nothing but loopback.
    if unshare --net true 2>/dev/null; then
        exec unshare --net -- env STREAMCAT_IN_NETNS=1 bash "$0" "$@"
    fi
    echo "(cannot create a network namespace here: running on the host's loopback)"
else
    ip link set lo up
fi

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
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/streamcat" .venv/bin/pytest "$@" || status=$?
exit $status
