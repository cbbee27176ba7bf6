#!/usr/bin/env bash
# Static files in a real project (the polls demo) over a real socket with curl: collectstatic
# writes hashed copies and the manifest; the pages then link to the hashed names, which are
# served with a year of immutable caching, validators and 304s, byte ranges and precompressed
# variants; hostile paths get 404 and never a file outside the static folders.
set -euo pipefail
bin=${MN_BIN_DIR:?}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"

export STATIC_ROOT=$work/collected
export DATABASE_URL=sqlite:///$work/db.sqlite3 # the demo's data, outside the source tree
"$bin/polls" collectstatic --noinput >out.txt || fail "collectstatic failed"
grep -q "static file.* copied to '$STATIC_ROOT'" out.txt || fail "report: $(cat out.txt)"
# A second run copies nothing: every copy is current (Django's "unmodified"); without a
# terminal on stdin and without --noinput it must not wait for an answer either.
n=$(python3 -c "import json; print(len(json.load(open('$STATIC_ROOT/staticfiles.json'))['paths']))")
timeout 10 "$bin/polls" collectstatic </dev/null >out2.txt || fail "second collectstatic failed"
grep -q "^0 static files copied to '$STATIC_ROOT', $n unmodified" out2.txt || fail "second report: $(cat out2.txt)"
hashed=$(python3 -c "import json,sys; print(json.load(open('$STATIC_ROOT/staticfiles.json'))['paths']['polls/style.css'])")
[[ $hashed =~ ^polls/style\.[0-9a-f]{12}\.css$ ]] || fail "hashed name: $hashed"
gzip -k "$STATIC_ROOT/$hashed"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Production settings: with DEBUG on, Django (and Manouche) link the unhashed names.
DEBUG=0 SECRET_KEY=static-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz ALLOWED_HOSTS=127.0.0.1 \
    "$bin/polls" runserver "127.0.0.1:$port" >server.log 2>&1 &
pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 50); do curl -s -o /dev/null "$base/polls/" && break; sleep 0.1; done

page=$(curl -s "$base/polls/")
grep -q "href=\"/static/$hashed\"" <<<"$page" || fail "page does not link the hashed name: $page"

h=$(curl -s -D - -o body.css "$base/static/$hashed")
grep -qi '^cache-control: max-age=31536000, public, immutable' <<<"$h" || fail "caching: $h"
grep -qi '^content-type: text/css; charset=utf-8' <<<"$h" || fail "type: $h"
cmp -s body.css "$STATIC_ROOT/$hashed" || fail "body differs from the collected file"
etag=$(grep -i '^etag:' <<<"$h" | cut -d' ' -f2 | tr -d '\r')

code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/static/$hashed")
[ "$code" = 304 ] || fail "If-None-Match gave $code"
h=$(curl -s -D - -o part.bin -H 'Range: bytes=0-9' "$base/static/$hashed")
grep -q '^HTTP/1.1 206' <<<"$h" && [ "$(stat -c %s part.bin)" = 10 ] || fail "range: $h"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=999999-' "$base/static/$hashed")
[ "$code" = 416 ] || fail "unsatisfiable range gave $code"
h=$(curl -s -D - -o gz.bin -H 'Accept-Encoding: gzip' "$base/static/$hashed")
grep -qi '^content-encoding: gzip' <<<"$h" || fail "no gzip variant: $h"
[ "$(gunzip -c gz.bin)" = "$(cat "$STATIC_ROOT/$hashed")" ] || fail "gzip variant differs"
h=$(curl -s -I "$base/static/$hashed")
grep -q '^HTTP/1.1 200' <<<"$h" && grep -qi '^content-length: [1-9]' <<<"$h" || fail "HEAD: $h"

echo "secret" >"$work/secret.txt"
for p in "../secret.txt" "..%2fsecret.txt" "%2e%2e/secret.txt" "polls/../../secret.txt" \
         "/etc/passwd" "..%5csecret.txt" "polls/%00style.css" "staticfiles.json/.."; do
    code=$(curl -s --path-as-is -o resp.txt -w '%{http_code}' "$base/static/$p")
    [ "$code" = 404 ] || [ "$code" = 400 ] || fail "$p gave $code"
    ! grep -q secret resp.txt || fail "$p leaked a file"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/static/$hashed")
[ "$code" = 405 ] || fail "POST gave $code"
echo "static site: ok"
