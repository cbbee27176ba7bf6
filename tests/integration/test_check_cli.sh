#!/usr/bin/env bash
# `check` as Django's: --fail-level {CRITICAL,ERROR,WARNING,INFO,DEBUG} decides which messages
# make it exit 1 (default ERROR), so CI can make the --deploy warnings fatal; a DATABASE_URL
# whose port is not 1-65535 stops it (and start-up) with the settings error, password masked.
set -uo pipefail

bin=${MN_BIN_DIR:-build/bin}/polls
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

export DEBUG=false SECRET_KEY=short ALLOWED_HOSTS=example.com DATABASE_URL="sqlite:///$work/db.sqlite3"

expect() { # want_status description command...
    local want=$1 what=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "$what: exit $got, want $want"; }
    echo "ok: $what"
}

expect 0 "check --deploy only warns by default" "$bin" check --deploy
grep -q "security.W009" "$work/out" || fail "the deploy warnings are listed"
expect 0 "--fail-level ERROR lets warnings pass" "$bin" check --deploy --fail-level ERROR
expect 1 "--fail-level WARNING makes deploy warnings fatal" "$bin" check --deploy --fail-level WARNING
grep -q "security.W009" "$work/out" || fail "the failing warnings are still listed"
expect 1 "--fail-level=INFO (one argument) too" "$bin" check --deploy --fail-level=INFO
expect 0 "--fail-level CRITICAL" "$bin" check --deploy --fail-level CRITICAL
expect 0 "no issues, any level" "$bin" check --fail-level DEBUG
expect 2 "an unknown level is a usage error" "$bin" check --fail-level LOUD
grep -q "invalid choice: 'LOUD' (choose from CRITICAL, ERROR, WARNING, INFO, DEBUG)" "$work/err" ||
    fail "the usage error names the levels: $(cat "$work/err")"
expect 2 "--fail-level without a level" "$bin" check --fail-level

DATABASE_URL="postgres://app:s3cret@db:notaport/shop" expect 1 "a bad DATABASE_URL port stops check" "$bin" check
grep -q "DATABASE_URL: 'postgres://app:\*\*\*\*\*\*\*\*@db:notaport/shop' is not a database URL" "$work/err" ||
    fail "the error names DATABASE_URL and the masked value: $(cat "$work/err")"
grep -q "s3cret" "$work/err" && fail "the password is masked"
grep -q "1 to 65535" "$work/err" || fail "the error says what is allowed"
DATABASE_URL="postgres://db:70000/shop" expect 1 "port 70000 stops runserver" "$bin" runserver 127.0.0.1:0
echo PASS
