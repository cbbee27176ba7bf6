#!/usr/bin/env bash
# test_polls_db.sh on PostgreSQL: the polls demo over HTTP on a private server that
# scripts/with-pg starts on a loopback port (stopped and restarted by the test), plus the
# webdb unit tests against it (where a full pool answers 503).
set -euo pipefail
src=${MN_SOURCE_DIR:?}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 &&
    ! [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then
    echo "SKIP: no PostgreSQL server installed (scripts/install-deps installs it)"
    exit 0
fi
MN_POLLS_DB_ON_PG=1 exec bash "$src/scripts/with-pg" bash "$src/tests/integration/test_polls_db.sh"
