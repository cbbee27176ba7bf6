"""1,000 concurrent connections against build/bin/hello (one worker).

First 1,000 connections each ask for /sleep?ms=500 at the same moment: every one must get its
200, and all of them within a small multiple of 500 ms, which only holds if the requests run
concurrently on coroutines. Then wrk drives 1,000 keep-alive connections for two seconds and
must see no socket error and no non-2xx answer."""
import re
import resource
import selectors
import shutil
import socket
import subprocess
import time

from hellolib import check, finish, start_server, stop_server

COUNT = 1000


def concurrent_sleepers(port):
    sel = selectors.DefaultSelector()
    socks = []
    req = b"GET /sleep?ms=500 HTTP/1.1\r\nHost: a\r\n\r\n"
    for _ in range(COUNT):
        s = socket.create_connection(("127.0.0.1", port))
        socks.append(s)
    t0 = time.monotonic()
    for s in socks:
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
    done = 0
    statuses = {}
    deadline = t0 + 20
    while done < COUNT and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            key.data.extend(data)
            if not data or key.data.endswith(b"slept"):
                status = bytes(key.data[9:12]) if data else b"EOF"
                statuses[status] = statuses.get(status, 0) + 1
                sel.unregister(key.fileobj)
                done += 1
    elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    print(f"{COUNT} concurrent /sleep?ms=500 requests: {statuses} in {elapsed:.2f}s")
    check(statuses.get(b"200") == COUNT, "every one of 1,000 concurrent requests answered 200")
    check(elapsed < 10, f"they ran concurrently ({elapsed:.2f}s for 1,000 x 500 ms)")


def wrk_1000(port):
    if not shutil.which("wrk"):
        print("skip wrk: not installed")
        return
    r = subprocess.run(["wrk", "-t1", f"-c{COUNT}", "-d2s", f"http://127.0.0.1:{port}/"],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout
    m = re.search(r"(\d+) requests in", out)
    total = int(m.group(1)) if m else 0
    print(out.strip().splitlines()[-2] if out.strip() else r.stderr)
    check(r.returncode == 0 and total > 0, f"wrk with 1,000 connections completed {total} requests")
    check("Socket errors" not in out, "no socket errors with 1,000 connections")
    check("Non-2xx" not in out, "no non-2xx answers with 1,000 connections")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    proc, port = start_server()
    try:
        concurrent_sleepers(port)
        wrk_1000(port)
    finally:
        stop_server(proc, "hello", timeout=20)
    finish()


if __name__ == "__main__":
    main()
