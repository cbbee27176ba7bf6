#!/usr/bin/env bash
# scripts/with-pg, as the test suites use it: a private PostgreSQL server reachable through
# MN_TEST_DATABASE_URL, the command's exit status passed through, concurrent runs kept apart,
# the server controllable with MN_TEST_PG_CTL, and nothing left behind, even when the wrapper
# is killed. Also run as an unprivileged user when this runs as root (CI does).
set -uo pipefail
src=${MN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
withpg=$src/scripts/with-pg
fails=0
check() { # check NAME COMMAND...: runs COMMAND, reports
    local name=$1
    shift
    if "$@"; then echo "ok   $name [${SECONDS}s]"; else echo "FAIL $name [${SECONDS}s]"; fails=$((fails + 1)); fi
}
gone() { # gone DIR PID: the directory is removed and the postmaster has exited
    local i
    for i in $(seq 1 150); do # 15 s: a loaded machine is slow to stop a server
        # A zombie has exited: only its parent (init, here) has yet to collect it.
        if [ ! -e "$1" ] && { ! kill -0 "$2" 2>/dev/null ||
            [ "$(awk '{print $3}' "/proc/$2/stat" 2>/dev/null)" = Z ]; }; then return 0; fi
        sleep 0.1
    done
    echo "  still there: dir $1 $( [ -e "$1" ] && echo exists) pid $2 $(kill -0 "$2" 2>/dev/null && echo alive)" >&2
    return 1
}
ended() { # ended PID: the process has exited (a zombie counts: its new parent reaps it late)
    local i
    for i in $(seq 1 50); do
        if ! kill -0 "$1" 2>/dev/null ||
            [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; then return 0; fi
        sleep 0.1
    done
    echo "  still running: pid $1" >&2
    return 1
}
if ! command -v psql >/dev/null; then
    echo "SKIP: psql is not installed (scripts/install-deps installs postgresql)"
    exit 0
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# 1. The URL works and has the documented shape, the server can be stopped and started from
#    inside, the exit status is the command's, and everything is cleaned up.
"$withpg" sh -c 'echo "$MN_TEST_DATABASE_URL"
    psql -X -Atc "SELECT current_user || current_database()" "$MN_TEST_DATABASE_URL"
    "$MN_TEST_PG_CTL" stop >/dev/null || echo "stop failed"
    psql -X -Atc "SELECT 1" "$MN_TEST_DATABASE_URL" >/dev/null 2>&1 && echo "still up"
    "$MN_TEST_PG_CTL" start >/dev/null || echo "start failed"
    psql -X -Atc "SELECT 40 + 1" "$MN_TEST_DATABASE_URL"
    echo "$MN_TEST_PGHOST $(head -1 "$MN_TEST_PGDATA/postmaster.pid")"; exit 7' >"$out/one" 2>&1
rc=$?
check "exit status is the command's (7)" test "$rc" -eq 7
check "URL is postgres://mn@127.0.0.1:PORT/mn_test" \
    grep -Eqx 'postgres://mn@127\.0\.0\.1:[0-9]+/mn_test' "$out/one"
check "the database answers as mn/mn_test" grep -qx "mnmn_test" "$out/one"
check "MN_TEST_PG_CTL stop and start" \
    sh -c "grep -qx 41 '$out/one' && ! grep -q 'failed\|still up' '$out/one'"
read -r dir pid < <(tail -1 "$out/one")
check "server stopped and directory removed after the command" gone "$dir" "$pid"

# 3. Concurrent runs get their own servers.
for i in 1 2; do
    "$withpg" sh -c 'psql -X -Atc "CREATE TABLE only_mine (x int)" "$MN_TEST_DATABASE_URL" >/dev/null \
        && echo "$MN_TEST_PGPORT"' >"$out/par$i" 2>&1 &
done
wait
check "two concurrent runs each create the same table" \
    test "$(cat "$out/par1" "$out/par2" | grep -Ec '^[0-9]+$')" -eq 2
check "... on two different ports" test "$(cat "$out/par1" "$out/par2" | sort -u | wc -l)" -eq 2

# 5. A wrapper killed outright (no trap can run) still leaves nothing behind.
"$withpg" sh -c 'echo "$MN_TEST_PGHOST $(head -1 "$MN_TEST_PGDATA/postmaster.pid") $$" \
    >'"$out/killed.tmp"' && mv '"$out/killed.tmp $out/killed"' && exec sleep 60' &
wrapper=$!
for _ in $(seq 1 100); do [ -s "$out/killed" ] && break; sleep 0.1; done
{
    kill -9 "$wrapper"
    wait "$wrapper"
} 2>/dev/null
read -r dir pid cmd_pid <"$out/killed"
check "a killed wrapper's server is stopped by its watchdog" gone "$dir" "$pid"
check "... and its command is ended too" ended "$cmd_pid"
kill "$cmd_pid" 2>/dev/null # in case the check failed: ours to end

# 5b. ctest's timeout kills the wrapper's whole process tree: the watchdog must not be in it.
treekill() {
    local child
    for child in $(pgrep -P "$1"); do treekill "$child"; done
    kill -9 "$1" 2>/dev/null
}
"$withpg" sh -c 'echo "$MN_TEST_PGHOST $(head -1 "$MN_TEST_PGDATA/postmaster.pid")" \
    >'"$out/tree.tmp"' && mv '"$out/tree.tmp $out/tree"' && exec sleep 60' &
wrapper=$!
for _ in $(seq 1 100); do [ -s "$out/tree" ] && break; sleep 0.1; done
{
    treekill "$wrapper"
    wait "$wrapper"
} 2>/dev/null
read -r dir pid <"$out/tree"
check "killing the wrapper's whole process tree still stops the server" gone "$dir" "$pid"

# 6. Usage.
"$withpg" >"$out/usage" 2>&1
check "no command: exit 2 with usage" test $? -eq 2
check "... usage names MN_TEST_DATABASE_URL" grep -q MN_TEST_DATABASE_URL "$out/usage"

# 7. As an unprivileged user too (initdb refuses root; CI runs as root).
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 && command -v runuser >/dev/null; then
    cp "$withpg" "$out/with-pg" && chmod 755 "$out" "$out/with-pg"
    (cd / && runuser -u nobody -- "$out/with-pg" \
        sh -c 'psql -X -Atc "SELECT 40 + 2" "$MN_TEST_DATABASE_URL"') >"$out/nobody" 2>&1
    check "runs as an unprivileged user" grep -qx 42 "$out/nobody"
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all with-pg checks passed"
