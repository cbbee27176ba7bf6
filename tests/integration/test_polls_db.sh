#!/usr/bin/env bash
# The polls demo on a real database, over HTTP with curl: on SQLite (DATABASE_URL=sqlite:///
# a temporary file); test_polls_db_pg.sh runs this script again under scripts/with-pg (which
# exports MN_TEST_DATABASE_URL) with MN_POLLS_DB_ON_PG=1, for PostgreSQL. Seeded on first start; votes persist
# across a server restart; 10 concurrent votes all count (one UPDATE with F("votes") + 1);
# a missing or unpublished question is 404; `polls questions` reads the same database; the
# N+1 warning of the JSON API names the view's line. On PostgreSQL also: the server stopped
# under a running site gives 500 (the driver's reason on the DEBUG page) and requests succeed
# again once it is back; a full pool (DB_POOL_SIZE=1, its connection held by a vote waiting
# on a row lock) answers 503; the server stopped while a vote is in flight gives that vote a
# 500 and counts nothing; a failed query in the JSON API is a 500; a vote the database
# refuses is a 500 (at its UPDATE, or at the commit of the ATOMIC_REQUESTS transaction, which
# then keeps nothing); concurrent first requests on an empty database all succeed.
# (test_polls_db_webdb_pg.sh runs the webdb unit tests on PostgreSQL.)
set -euo pipefail
bin=${MN_BIN_DIR:?}
src=${MN_SOURCE_DIR:?}
work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$work/server.log" ] && tail -20 "$work/server.log" >&2
    exit 1
}
cd "$work"

start() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin/polls" runserver "127.0.0.1:$port" >>server.log 2>&1 &
    pid=$!
    base=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -s -o /dev/null "$base/polls/api/questions/" && return 0; sleep 0.1; done
    fail "the server did not start"
}

stop() {
    kill "$pid"
    wait "$pid" || true
    pid=
}

status() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"; }

suite() { # suite NAME: the polls demo on $DATABASE_URL
    local name=$1
    start
    curl -s "$base/polls/" | grep -q '<a href="/polls/1/">What&#x27;s up?</a>' ||
        fail "$name: the index lists the seeded questions"
    curl -s "$base/polls/" | grep -q 'A question from the future' &&
        fail "$name: an unpublished question is listed"
    [ "$(status "$base/polls/999/")" = 404 ] || fail "$name: a missing question is not 404"
    [ "$(status "$base/polls/4/")" = 404 ] || fail "$name: an unpublished question is not 404"
    [ "$(status -X POST -d choice=2 "$base/polls/1/vote/")" = 302 ] || fail "$name: vote"
    [ "$(status -X POST -d choice=2 "$base/polls/1/vote/")" = 302 ] || fail "$name: vote again"
    # a choice of another question is not counted: the form comes back with the error
    curl -s -X POST -d choice=5 "$base/polls/1/vote/" | grep -q "You didn&#x27;t select a choice." ||
        fail "$name: a foreign choice is refused"
    for _ in $(seq 10); do curl -s -o /dev/null -X POST -d choice=3 "$base/polls/1/vote/" & done
    wait_curls
    stop

    start # the votes are in the database, not in the process
    local page
    page=$(curl -s "$base/polls/1/results/")
    grep -q 'The sky -- 2 votes</li>' <<<"$page" || fail "$name: votes lost over a restart: $page"
    grep -q 'Just hacking again -- 10 votes</li>' <<<"$page" ||
        fail "$name: concurrent votes lost: $page"
    grep -q 'Django -- 0 votes</li>' <(curl -s "$base/polls/2/results/") ||
        fail "$name: another question's choice changed"
    curl -s "$base/polls/api/questions/" | python3 -c '
import json, sys
qs = json.load(sys.stdin)["questions"]
assert [q["id"] for q in qs] == [3, 2, 1], qs
assert {c["choice_text"]: c["votes"] for c in qs[2]["choices"]}["The sky"] == 2, qs
' || fail "$name: the JSON API"
    stop
    local listed
    listed=$("$bin/polls" questions | cut -f1 | tr '\n' ' ')
    [ "$listed" = "3 2 1 " ] || fail "$name: polls questions listed '$listed', not the published 3 2 1"
    echo "ok   $name [${SECONDS}s]"
}

# The background curls of the concurrent votes (not the server).
wait_curls() {
    local j
    for j in $(jobs -p); do [ "$j" = "$pid" ] || wait "$j" || true; done
}

if [ -z "${MN_POLLS_DB_ON_PG:-}" ]; then
    export DATABASE_URL=sqlite:///$work/polls.sqlite3
    suite sqlite
    [ -f "$work/polls.sqlite3" ] || fail "sqlite: the database is not where DATABASE_URL says"
    # The JSON API queries the choices once per question: with DEBUG (runserver) and a low
    # DB_WARN_REPEATS, the N+1 warning names the loop in the view, not a helper it calls.
    DB_WARN_REPEATS=2 start
    curl -s -o /dev/null "$base/polls/api/questions/"
    stop
    grep -q 'N+1 queries: .* at [^ ]*examples/polls/views\.c:[0-9]' server.log ||
        fail "sqlite: the N+1 warning does not name the view's line: $(grep 'N+1' server.log)"
    echo "2 passed, 0 failed"
    exit 0
fi

# ---- Under scripts/with-pg. ----
export DATABASE_URL=${MN_TEST_DATABASE_URL:?}
suite postgresql

# The database goes away under a running site, then comes back.
start
[ "$(status "$base/polls/1/")" = 200 ] || fail "postgresql: detail before the stop"
"$MN_TEST_PG_CTL" stop >/dev/null 2>&1 || fail "cannot stop the PostgreSQL server"
body=$(curl -s --max-time 20 -w '\n%{http_code}' "$base/polls/1/")
[ "$(tail -1 <<<"$body")" = 500 ] || fail "postgresql: a query with the server gone is not 500"
grep -q 'database' <<<"$body" || fail "postgresql: the DEBUG page does not name the database error"
grep -q 'ERROR' server.log || fail "postgresql: the database error was not logged"
"$MN_TEST_PG_CTL" start >/dev/null 2>&1 || fail "cannot start the PostgreSQL server again"
ok=
for _ in $(seq 50); do
    [ "$(status "$base/polls/1/")" = 200 ] && ok=1 && break
    sleep 0.2
done
[ -n "$ok" ] || fail "postgresql: requests do not succeed once the server is back"
stop
echo "ok   postgresql: server gone gives 500, back gives 200 [${SECONDS}s]"

# A full pool is 503, not a hang: with one connection per worker, a vote blocked on a row
# that psql holds locked keeps it; a page asked for meanwhile waits DB_POOL_TIMEOUT and gets
# 503; once the lock goes, the vote completes and pages are served again.
DB_POOL_SIZE=1 DB_POOL_TIMEOUT=300 start
[ "$(status "$base/polls/1/")" = 200 ] || fail "postgresql: detail with a pool of one"
mkfifo lock.fifo
psql "$DATABASE_URL" -q <lock.fifo >/dev/null 2>&1 &
locker=$!
exec 3>lock.fifo
echo "BEGIN; SELECT id FROM polls_choice WHERE id = 2 FOR UPDATE;" >&3
until_pg() { # until_pg SQL: waits (up to 10 s) until the query returns 1
    local _
    for _ in $(seq 100); do
        [ "$(psql "$DATABASE_URL" -tAc "$1" 2>/dev/null)" = 1 ] && return 0
        sleep 0.1
    done
    return 1
}
until_pg "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'" ||
    fail "postgresql: psql did not lock the row"
curl -s -o vote.out -w '%{http_code}' --max-time 20 -X POST -d choice=2 "$base/polls/1/vote/" >vote.code &
voter=$!
until_pg "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%'" ||
    fail "postgresql: the vote did not wait for the row lock"
[ "$(status "$base/polls/2/")" = 503 ] || fail "postgresql: a page while the only connection is busy is not 503"
echo "COMMIT;" >&3
exec 3>&-
wait "$locker" || true
wait "$voter" || true
[ "$(cat vote.code)" = 302 ] || fail "postgresql: the blocked vote did not complete ($(cat vote.code))"
[ "$(status "$base/polls/2/")" = 200 ] || fail "postgresql: pages are not served once the pool is free"
stop
echo "ok   postgresql: a full pool answers 503, then serves again [${SECONDS}s]"

# The server goes away while a vote is in flight (waiting on a row psql holds): the vote is a
# 500 naming the lost connection, not the form's "You didn't select a choice.", and nothing
# was counted; once the server is back, pages are served again.
start
votes() { psql "$DATABASE_URL" -tAc "SELECT votes FROM polls_choice WHERE id = $1"; }
before=$(votes 2)
psql "$DATABASE_URL" -q <lock.fifo >/dev/null 2>&1 &
locker=$!
exec 3>lock.fifo
echo "BEGIN; SELECT id FROM polls_choice WHERE id = 2 FOR UPDATE;" >&3
until_pg "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'" ||
    fail "postgresql: psql did not lock the row"
curl -s -o vote.out -w '%{http_code}' --max-time 20 -X POST -d choice=2 "$base/polls/1/vote/" >vote.code &
voter=$!
until_pg "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%'" ||
    fail "postgresql: the vote did not wait for the row lock"
# an immediate stop: a fast one ends the locker's transaction first, and the vote could then
# commit before its own backend is told to go (seen as a 302 on a loaded machine)
"$MN_TEST_PG_CTL" kill >/dev/null 2>&1 || fail "cannot stop the PostgreSQL server"
wait "$voter" || true
exec 3>&-
wait "$locker" || true
[ "$(cat vote.code)" = 500 ] || fail "postgresql: a vote whose server went away is $(cat vote.code), not 500"
grep -q "You didn&#x27;t select a choice." vote.out && fail "postgresql: a lost vote shows the form error"
grep -q 'connection to the PostgreSQL server lost' vote.out ||
    fail "postgresql: the DEBUG page does not say the connection was lost"
"$MN_TEST_PG_CTL" start >/dev/null 2>&1 || fail "cannot start the PostgreSQL server again"
[ "$(status "$base/polls/1/")" = 200 ] || fail "postgresql: no page once the server is back"
[ "$(votes 2)" = "$before" ] || fail "postgresql: the lost vote was counted"
stop
echo "ok   postgresql: the server gone mid-request gives 500, back gives 200 [${SECONDS}s]"

# A query that fails in the JSON API (a statement timeout while psql locks the table) is a
# 500, not a 200 with the choices missing.
DB_STATEMENT_TIMEOUT=300 start
[ "$(status "$base/polls/api/questions/")" = 200 ] || fail "postgresql: the API before the lock"
psql "$DATABASE_URL" -q <lock.fifo >/dev/null 2>&1 &
locker=$!
exec 3>lock.fifo
echo "BEGIN; LOCK TABLE polls_choice IN ACCESS EXCLUSIVE MODE;" >&3
until_pg "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'" ||
    fail "postgresql: psql did not lock the table"
code=$(status "$base/polls/api/questions/")
exec 3>&-
wait "$locker" || true
[ "$code" = 500 ] || fail "postgresql: the API with its choices query failing is $code, not 500"
stop
echo "ok   postgresql: a failed query in the API is 500 [${SECONDS}s]"

# ATOMIC_REQUESTS: a constraint the database checks at COMMIT refuses votes for choice 3. The
# vote's UPDATE succeeds inside the request's transaction, the view redirects, the commit
# fails: 500 and the vote is not counted. Without ATOMIC_REQUESTS the UPDATE itself fails:
# 500 as well, not the form redisplayed. Votes for other choices pass either way.
psql "$DATABASE_URL" -q <<'SQL' || fail "postgresql: cannot create the trigger"
CREATE FUNCTION closed_choice() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'voting for choice % is closed', NEW.id USING ERRCODE = 'check_violation'; END$$;
CREATE CONSTRAINT TRIGGER closed_choice AFTER UPDATE ON polls_choice
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id = 3) EXECUTE FUNCTION closed_choice();
SQL
for atomic in false true; do
    ATOMIC_REQUESTS=$atomic start
    before=$(votes 3)
    code=$(curl -s -o vote.out -w '%{http_code}' --max-time 20 -X POST -d choice=3 "$base/polls/1/vote/")
    [ "$code" = 500 ] || fail "postgresql: ATOMIC_REQUESTS=$atomic: a refused vote is $code, not 500"
    grep -q 'voting for choice 3 is closed' vote.out ||
        fail "postgresql: ATOMIC_REQUESTS=$atomic: the DEBUG page does not give the reason"
    [ "$(votes 3)" = "$before" ] || fail "postgresql: ATOMIC_REQUESTS=$atomic: the refused vote stayed"
    [ "$(status -X POST -d choice=2 "$base/polls/1/vote/")" = 302 ] ||
        fail "postgresql: ATOMIC_REQUESTS=$atomic: another vote"
    stop
done
psql "$DATABASE_URL" -qc "DROP TRIGGER closed_choice ON polls_choice; DROP FUNCTION closed_choice()"
echo "ok   postgresql: a vote the database refuses is 500, with and without ATOMIC_REQUESTS [${SECONDS}s]"

# First requests arriving together on an empty database (serve, two workers): each worker
# creates the tables once while its other requests wait, and the worker whose CREATE TABLE
# loses the race with the other's (a unique violation in PostgreSQL's catalog) tries again;
# every request is answered 200. Three fresh databases, as the race does not show every time.
for round in 1 2 3; do
    psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS polls_fresh" -c "CREATE DATABASE polls_fresh" ||
        fail "postgresql: cannot create a fresh database"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    DATABASE_URL=${DATABASE_URL%/*}/polls_fresh SECRET_KEY=test ALLOWED_HOSTS='*' \
        "$bin/polls" serve "127.0.0.1:$port" --workers 2 >>server.log 2>&1 &
    pid=$!
    python3 - "$src/bench/lib" "$port" <<'PY' || fail "postgresql: first requests on a fresh database (round $round)"
import sys
sys.path.insert(0, sys.argv[1])
import httpload
port = int(sys.argv[2])
if not httpload.wait_for_port("127.0.0.1", port, 20):
    sys.exit("the server did not listen")
failures, statuses = httpload.concurrent_requests("127.0.0.1", port, 64, "/polls/", timeout=60)
if failures.total:
    sys.exit("%s %r" % (failures.summary(), statuses))
PY
    stop
done
echo "ok   postgresql: concurrent first requests on a fresh database all succeed [${SECONDS}s]"

echo "7 passed, 0 failed"
