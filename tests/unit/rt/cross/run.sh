#!/usr/bin/env bash
# Builds tests/unit/rt/cross/smoke.c for aarch64 with both context switches (hand-written asm
# and ucontext) and runs it under qemu-user. Needs: gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user (Debian packages). Usage: tests/unit/rt/cross/run.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../../../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for variant in asm ucontext; do
    flags=()
    [ "$variant" = ucontext ] && flags=(-DMN_CORO_UCONTEXT)
    aarch64-linux-gnu-gcc -O2 -g "${flags[@]}" -I"$src/include" -I"$src/src" \
        "$src/tests/unit/rt/cross/smoke.c" "$src"/src/rt/*.c "$src"/src/core/*.c -lpthread \
        -o "$out/smoke-$variant"
    echo -n "aarch64 $variant: "
    qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/smoke-$variant"
done
