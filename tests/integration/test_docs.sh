#!/usr/bin/env bash
# The examples in docs/ are real: every ```c block that holds a main() is compiled against
# the library in this build tree and run; when the next fenced block is ```output, the
# program's stdout must be exactly that. A doc example that stops compiling or prints
# something else fails the suite, so the docs can't drift from the code.
set -euo pipefail
src=${MN_SOURCE_DIR:?} build=${MN_BUILD_DIR:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cflags=(-std=gnu11 -Wall -Wextra -Werror -I"$src/include")
if grep -q '^MN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    cflags+=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
fi
libs=("$build/libmanouche.a" $(pkg-config --libs jansson libpcre2-8 sqlite3 libpq hiredis \
      libcrypto libssl zlib libargon2) -lpthread -lm -ldl)
n=0 failed=0
for md in "$src"/docs/*.md; do
    [ -e "$md" ] || continue
    # Split the file into numbered blocks: N.c for programs, N.out for their outputs.
    python3 - "$md" "$work" <<'PY'
import re, sys, os
md, work = sys.argv[1], sys.argv[2]
text = open(md).read()
blocks = re.findall(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.S | re.M)
base = os.path.basename(md)[:-3]
for i, (lang, body) in enumerate(blocks):
    if lang == "c" and re.search(r"\bint\s+main\s*\(", body):
        open(f"{work}/{base}-{i}.c", "w").write(body)
        if i + 1 < len(blocks) and blocks[i + 1][0] == "output":
            open(f"{work}/{base}-{i}.out", "w").write(blocks[i + 1][1])
PY
done
for c in "$work"/*.c; do
    [ -e "$c" ] || continue
    n=$((n + 1))
    exe=${c%.c}
    name=$(basename "$exe")
    if ! gcc "${cflags[@]}" "$c" -o "$exe" "${libs[@]}" 2>"$exe.err"; then
        echo "FAIL $name: does not compile"; cat "$exe.err"; failed=$((failed + 1)); continue
    fi
    if ! (cd "$work" && timeout 20 "$exe" >"$exe.got" 2>"$exe.err"); then
        echo "FAIL $name: exited non-zero"; cat "$exe.err"; failed=$((failed + 1)); continue
    fi
    if [ -e "$exe.out" ] && ! diff -u "$exe.out" "$exe.got"; then
        echo "FAIL $name: output differs"; failed=$((failed + 1)); continue
    fi
    echo "ok   $name"
done
echo "docs examples: $n run, $failed failed"
[ "$failed" -eq 0 ]
