#!/usr/bin/env bash
# The webdb unit tests (tests/unit/web/test_webdb.c: the per-request session, ATOMIC_REQUESTS,
# get_or_404, the query log, a full pool answering 503 through the test client) on PostgreSQL:
# a private server from scripts/with-pg, whose MN_TEST_DATABASE_URL the tests read. (ctest runs
# only tests/unit/orm and tests/unit/db a second time on PostgreSQL by itself.)
set -euo pipefail
src=${MN_SOURCE_DIR:?}
build=${MN_BUILD_DIR:?}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 &&
    ! [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then
    echo "SKIP: no PostgreSQL server installed (scripts/install-deps installs it)"
    exit 0
fi
exec bash "$src/scripts/with-pg" "$build/tests/unit_web_test_webdb" --jobs 1
