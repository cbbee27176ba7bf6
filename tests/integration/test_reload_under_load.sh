#!/usr/bin/env bash
# Graceful reload under continuous load (issue 2, section 2): `techempower serve --workers 2`
# takes wrk's load while it gets SIGHUP (new workers start, the old ones drain); wrk must see
# zero socket errors and zero responses outside 2xx. Then a worker killed with SIGKILL is
# replaced by the master and serving goes on, and SIGTERM ends the master with status 0.
set -euo pipefail

bin=${MN_BIN_DIR:?MN_BIN_DIR must name build/bin}/techempower
src=${MN_SOURCE_DIR:?MN_SOURCE_DIR must name the source tree}
command -v wrk >/dev/null || { echo "FAIL: wrk is missing (scripts/install-deps)" >&2; exit 1; }
[ -x "$bin" ] || { echo "FAIL: $bin was not built" >&2; exit 1; }

work=$(mktemp -d)
master=""
cleanup() {
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        local kids
        kids=$(workers)
        kill -KILL "$master" 2>/dev/null || true
        [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- server output:" >&2; tail -20 "$work/server.log" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
workers() { cat "/proc/$master/task/$master/children" 2>/dev/null | tr ' ' '\n' | grep . | sort; }
wait_workers() { # count seconds: until the master has exactly count workers
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [ "$(workers | wc -l)" -eq "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
get() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$port/plaintext" || true; }

DEBUG=0 SECRET_KEY=reload-test-key LOG_LEVEL=WARNING \
    "$bin" serve "127.0.0.1:$port" --workers 2 >"$work/server.log" 2>&1 &
master=$!
for ((i = 0; i < 100; i++)); do
    [ "$(get)" = 200 ] && break
    kill -0 "$master" 2>/dev/null || fail "serve exited at start-up"
    sleep 0.1
done
[ "$(get)" = 200 ] || fail "serve did not answer /plaintext within 10 s"
wait_workers 2 5 || fail "expected 2 workers, found: $(workers | tr '\n' ' ')"
before=$(workers)

# 1. SIGHUP in the middle of 4 s of load (old workers drain within it).
BENCH_COUNT_STATUS=1 wrk -t2 -c32 -d4s --timeout 3s -s "$src/bench/lib/wrk.lua" \
    "http://127.0.0.1:$port/plaintext" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1.5
kill -HUP "$master"
wait "$wrk_pid" || fail "wrk failed: $(cat "$work/wrk.out")"
result=$(grep '^BENCH_RESULT ' "$work/wrk.out" | cut -d' ' -f2-)
[ -n "$result" ] || fail "wrk printed no result: $(cat "$work/wrk.out")"
python3 - "$result" <<'PY' || fail "requests failed across the reload: $result"
import json, sys
r = json.loads(sys.argv[1])
errors = {k: v for k, v in r["errors"].items() if v}
print("reload under load: %d requests, %d non-2xx, socket errors %s"
      % (r["requests"], r["non2xx"], errors or "none"))
sys.exit(0 if r["requests"] > 1000 and r["non2xx"] == 0 and not errors else 1)
PY
wait_workers 2 10 || fail "after SIGHUP: expected 2 workers, found: $(workers | tr '\n' ' ')"
after=$(workers)
[ -z "$(comm -12 <(echo "$before") <(echo "$after"))" ] ||
    fail "SIGHUP did not replace the workers (before: $before; after: $after)"
echo "ok: SIGHUP replaced workers $(echo $before) with $(echo $after)"

# 2. A worker killed with SIGKILL is restarted.
victim=$(workers | head -1)
kill -KILL "$victim"
for ((i = 0; i < 100; i++)); do
    now=$(workers)
    if [ "$(echo "$now" | grep -c .)" -eq 2 ] && ! echo "$now" | grep -qx "$victim"; then break; fi
    sleep 0.1
done
now=$(workers)
[ "$(echo "$now" | grep -c .)" -eq 2 ] && ! echo "$now" | grep -qx "$victim" ||
    fail "worker $victim killed with SIGKILL was not replaced within 10 s (workers: $now)"
# 20 fresh connections (SO_REUSEPORT spreads them over both slots), in one process: fast.
python3 - "$port" <<'PY' || fail "no 200 on every connection after the worker restart"
import http.client, sys
for _ in range(20):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=3)
    c.request("GET", "/plaintext")
    r = c.getresponse()
    if r.status != 200 or r.read() != b"Hello, World!":
        sys.exit(1)
    c.close()
PY
echo "ok: killed worker $victim was replaced by $(comm -13 <(echo "$after") <(echo "$now"))"

# 3. SIGTERM: the master drains the workers and exits 0.
kill -TERM "$master"
for ((i = 0; i < 150; i++)); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
kill -0 "$master" 2>/dev/null && fail "still running 15 s after SIGTERM"
set +e
wait "$master"
rc=$?
set -e
master=""
[ "$rc" -eq 0 ] || fail "SIGTERM: exit status $rc"
echo "ok: SIGTERM, exit status 0"
echo PASS
