#!/usr/bin/env bash
# make install works for users: the build installed into a temporary prefix gives a
# pkg-config file and a CMake package, and a tiny out-of-tree app builds against each of
# them (never against the source tree) and runs, rendering a Django template through the
# installed library, and calling jansson on a json_t the library hands out (jansson is a
# public dependency: pkg-config's Requires, the CMake target's link interface).
set -euo pipefail

build=${MN_BUILD_DIR:?MN_BUILD_DIR must name the build directory}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "cmake --install failed"; }

header=$prefix/include/manouche/template.h
[ -f "$header" ] || fail "headers not installed ($header missing)"
pc=$(find "$prefix" -name manouche.pc -print -quit)
[ -n "$pc" ] || fail "manouche.pc not installed"
cfg=$(find "$prefix" -name manoucheConfig.cmake -print -quit)
[ -n "$cfg" ] || fail "manoucheConfig.cmake not installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libmanouche.a" ] || fail "libmanouche.a not in $libdir"
ls "$libdir"/libmanouche.so* >/dev/null 2>&1 || fail "libmanouche.so not in $libdir"

# A sanitizer build installs instrumented objects: the app must be built the same way.
san=""
if grep -q '^MN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    san="-fsanitize=address,undefined"
fi

mkdir -p "$work/app"
cat >"$work/app/app.c" <<'C'
#define _GNU_SOURCE /* memmem */
#include <manouche/core.h>
#include <manouche/http.h>
#include <manouche/template.h>
#include <manouche/value.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void hello(mn_req *r, void *arg)
{
    const char *name = mn_req_query(r, "name");
    mn_resp_printf(r, "hello %s", name ? name : "?");
    mn_resp_set_header(r, "Content-Type", "text/plain");
}

/* A request run through the HTTP layer in process, as the test client does. */
static int run_request(void)
{
    mn_req_init init = {.method = "GET", .target = "/hi?name=ada%20l"};
    mn_req *r = mn_req_new(&init);
    if (!r)
        return 1;
    mn_req_run(r, hello, NULL);
    mn_buf out;
    mn_buf_init(&out, NULL);
    int rc = mn_resp_serialize(r, &out);
    if (rc == 0) {
        const char *body = memmem(out.data, out.len, "\r\n\r\n", 4);
        printf("%d %.*s\n", mn_resp_get_status(r),
               body ? (int)(out.data + out.len - body - 4) : 0, body ? body + 4 : "");
    }
    mn_buf_free(&out);
    mn_req_free(r);
    return rc == 0 ? 0 : 1;
}

/* The request body as JSON: a json_t from the library, read with jansson's own calls. */
static int run_json(void)
{
    static const char body[] = "{\"n\": 42, \"who\": \"ada\"}";
    mn_req_init init = {.method = "POST", .target = "/j", .body = body, .body_len = strlen(body)};
    mn_req *r = mn_req_new(&init);
    json_t *j = r ? mn_req_json(r) : NULL;
    if (!j) {
        mn_req_free(r);
        return 1;
    }
    printf("json %lld %s\n", (long long)json_integer_value(json_object_get(j, "n")),
           json_string_value(json_object_get(j, "who")));
    mn_req_free(r);
    return 0;
}

int main(void)
{
    if (run_request() != 0 || run_json() != 0)
        return 1;
    static const char src[] =
        "{% for n in names %}{{ forloop.counter }}:{{ n }}{% if not forloop.last %}, "
        "{% endif %}{% endfor %} &amp; {{ tag }}";
    static const char ctx_json[] = "{\"names\": [\"ada lovelace\", \"alan turing\"], "
                                   "\"tag\": \"<ok>\"}";
    mn_arena *a = mn_arena_new(0);
    mn_template_engine *e = mn_template_engine_new();
    mn_template_error err;
    mn_template *t = mn_template_compile(e, "app.html", src, strlen(src), &err);
    mn_value *data = mn_value_from_json(a, ctx_json, strlen(ctx_json), NULL, 0);
    mn_context *ctx = mn_context_new(a);
    mn_buf out;
    mn_buf_init(&out, NULL);
    int rc = 1;
    if (t && data && ctx && mn_context_update(ctx, data) == 0 &&
        mn_template_render(t, ctx, &out, &err) == 0) {
        printf("%.*s\n", (int)out.len, out.data);
        rc = 0;
    } else {
        fprintf(stderr, "app: %s\n", err.message);
    }
    mn_buf_free(&out);
    mn_template_engine_free(e);
    mn_arena_free(a);
    return rc;
}
C
expected='200 hello ada l
json 42 ada
1:ada lovelace, 2:alan turing &amp; &lt;ok&gt;'

check_output() { # name binary [env...]
    local name=$1 out
    shift
    out=$("$@") || fail "$name: the app exited with status $?"
    [ "$out" = "$expected" ] || fail "$name: the app printed '$out', expected '$expected'"
    echo "ok: $name"
}

# 1. pkg-config, linked against the shared library, and statically.
export PKG_CONFIG_PATH=$(dirname "$pc")
pkg-config --print-requires manouche | grep -qx 'jansson' ||
    fail "jansson is not in Requires: apps using json_t from mn_req_json cannot link"
flags=$(pkg-config --cflags --libs manouche) || fail "pkg-config --cflags --libs manouche failed"
inc_ok=""
for f in $flags; do
    case "$f" in -I*) [ "$(realpath -m "${f#-I}")" = "$(realpath "$prefix/include")" ] && inc_ok=1 ;; esac
done
[ -n "$inc_ok" ] || fail "pkg-config --cflags does not point into $prefix/include: $flags"
# shellcheck disable=SC2086
cc $san -o "$work/app/app-pc" "$work/app/app.c" $flags ||
    fail "building with pkg-config flags ($flags) failed"
check_output "pkg-config (shared)" env LD_LIBRARY_PATH="$libdir" "$work/app/app-pc"
# Not `pkg-config --static`: Debian's libpq.pc names static-only libraries it does not ship;
# the static libmanouche.a with its dependencies' shared libraries is what users link.
reqs=$( (pkg-config --print-requires manouche; pkg-config --print-requires-private manouche) |
    awk '{print $1}' | tr '\n' ' ')
# shellcheck disable=SC2086
static_flags="$(pkg-config --cflags manouche) -L$libdir $(pkg-config --libs $reqs) -lpthread -lm -ldl"
# shellcheck disable=SC2086
cc $san -o "$work/app/app-pc-static" "$work/app/app.c" -Wl,-Bstatic -lmanouche -Wl,-Bdynamic \
    $static_flags || fail "building with the static library ($static_flags) failed"
check_output "pkg-config (static)" "$work/app/app-pc-static"

# 2. CMake: find_package(manouche) and the exported target.
cat >"$work/app/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.22)
project(app C)
find_package(manouche 0.1 REQUIRED)
add_executable(app app.c)
target_compile_options(app PRIVATE $san)
target_link_options(app PRIVATE $san)
target_link_libraries(app PRIVATE manouche::manouche)
CM
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "configuring the CMake app failed"; }
cmake --build "$work/app/build" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; fail "building the CMake app failed"; }
check_output "CMake find_package" "$work/app/build/app"

# The app was built against the installed copy only: no path into the source tree.
if grep -rq "${MN_SOURCE_DIR:-/nonexistent}/include" "$work/app/build/CMakeFiles" 2>/dev/null; then
    fail "the CMake app used headers from the source tree"
fi
echo "PASS"
