#!/usr/bin/env bash
# `manouche startproject` and `manouche startapp` give a project that builds against the
# installed library (make install into a temporary prefix, then CMake's find_package), whose
# binary is its management CLI and serves its pages; bad names and existing folders are
# refused with one line naming the problem, and nothing is overwritten.
set -euo pipefail
build=${MN_BUILD_DIR:?} bin=${MN_BIN_DIR:?}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "cmake --install failed"; }
cflags=""
if grep -q '^MN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
    cflags="-fsanitize=address,undefined"
fi

cd "$work"
"$bin/manouche" startproject mysite >out.txt || fail "startproject failed"
grep -q "Created project mysite" out.txt || fail "no confirmation: $(cat out.txt)"
key=$(sed -n 's/^SECRET_KEY=//p' mysite/.env)
[ ${#key} -eq 50 ] || fail "SECRET_KEY in .env is not 50 characters: '$key'"
"$bin/manouche" startproject other >/dev/null
key2=$(sed -n 's/^SECRET_KEY=//p' other/.env)
[ "$key" != "$key2" ] || fail "two projects got the same SECRET_KEY"

# Refusals: one line on stderr, non-zero exit, nothing written.
if "$bin/manouche" startproject my-site 2>err.txt; then fail "my-site accepted"; fi
grep -q "'my-site' is not a valid name" err.txt || fail "bad message: $(cat err.txt)"
[ ! -e my-site ] || fail "my-site was created"
if "$bin/manouche" startproject mysite 2>err.txt; then fail "existing folder accepted"; fi
grep -q "already exists" err.txt || fail "bad message: $(cat err.txt)"
echo "// mine" >mysite/keep.c
if "$bin/manouche" startproject mysite mysite 2>err.txt; then fail "overwrote a project"; fi
grep -q "already exists; nothing was written" err.txt || fail "bad message: $(cat err.txt)"
rm mysite/keep.c

cd mysite
"$bin/manouche" startapp blog >/dev/null || fail "startapp failed"
[ -f blog/views.c ] && [ -f blog/templates/blog/index.html ] && [ -d blog/static/blog ] ||
    fail "startapp did not write the app"
# Include the app the way the startapp message says.
sed -i 's|#include <manouche/manouche.h>|#include <manouche/manouche.h>\n#include "blog/blog.h"|' main.c
sed -i 's|    MN_PATH("", home, "home"),|    MN_PATH("", home, "home"),\n    MN_INCLUDE("blog/", blog_urls, "blog"),|' main.c
sed -i 's|    /\* &blog_app, \*/|    \&blog_app,|' main.c

cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_C_FLAGS="$cflags" \
    >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake configure failed"; }
cmake --build build >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build failed"; }

# A second build folder beside the first (a release build, say) must not pick up the first
# folder's CMake probe sources as project sources.
cmake -S . -B build-release -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_C_FLAGS="$cflags" \
    -DCMAKE_BUILD_TYPE=Release >"$work/cmake2.log" 2>&1 || { cat "$work/cmake2.log"; fail "second configure failed"; }
cmake --build build-release >"$work/build2.log" 2>&1 || { cat "$work/build2.log"; fail "second build folder failed"; }

./build/mysite help >"$work/help.txt" || fail "help failed"
grep -q runserver "$work/help.txt" || fail "help lists no runserver"
./build/mysite urls >"$work/urls.txt" || fail "urls failed"
grep -q "blog:index" "$work/urls.txt" || fail "the app's URL is not listed: $(cat "$work/urls.txt")"
./build/mysite check >"$work/check.txt" 2>&1 || { cat "$work/check.txt"; fail "check failed"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./build/mysite runserver "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
home=$(curl -s "http://127.0.0.1:$port/")
grep -q "mysite runs on Manouche" <<<"$home" || fail "home page: $home"
grep -q 'href="/static/mysite/site.css"' <<<"$home" || fail "no stylesheet link: $home"
css=$(curl -s "http://127.0.0.1:$port/static/mysite/site.css")
grep -q "font-family" <<<"$css" || fail "stylesheet not served: $css"
blog=$(curl -s "http://127.0.0.1:$port/blog/")
grep -q '<h1>blog</h1>' <<<"$blog" && grep -q 'href="/"' <<<"$blog" || fail "blog page: $blog"
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
echo "startproject: ok"
