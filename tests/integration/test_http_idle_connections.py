"""10,000 idle keep-alive connections cost the worker well under 100 MiB of RSS.

Each connection makes one request (so it is a real keep-alive connection, not just an accepted
socket) and then stays open doing nothing. The worker's resident memory is read from /proc
before and after, printed, and must stay under 100 MiB; the server must still answer a new
client at once. (These machines cap open files at 20,000 per process, so 10,000 + the
server's own stay below it on both sides.)"""
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time

from hellolib import start_server

COUNT = 10000
LIMIT_MIB = 100


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, COUNT + 500)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    count = min(COUNT, want - 200)
    proc, port = start_server("--keepalive", "120000", "--header-timeout", "120000")
    failures = []
    socks = []
    try:
        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        warm.recv(4096)
        warm.close()
        time.sleep(0.2)
        before = rss_kib(proc.pid)

        req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        pending = 0
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
            socks.append(s)
            pending += 1
            # Read answers as we go so neither side's buffers pile up.
            if pending >= 500 or i == count - 1:
                while pending:
                    events = sel.select(timeout=10)
                    if not events:
                        failures.append(f"answers stalled with {pending} pending")
                        pending = 0
                        break
                    for key, _ in events:
                        try:
                            data = key.fileobj.recv(4096)
                        except BlockingIOError:
                            continue
                        key.data.extend(data)
                        if not data or key.data.endswith(b"Hello, World!"):
                            if not data:
                                failures.append("a connection was closed")
                            sel.unregister(key.fileobj)
                            pending -= 1
        setup = time.monotonic() - t0
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        per_conn = (after - before) * 1024 / max(1, count)
        print(f"{count} idle keep-alive connections opened in {setup:.1f}s")
        print(f"worker RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB with "
              f"{count} idle connections ({per_conn:.0f} bytes per connection)")
        if after / 1024 >= LIMIT_MIB:
            failures.append(f"RSS {after / 1024:.1f} MiB >= {LIMIT_MIB} MiB")
        # Still responsive with all of them open.
        t1 = time.monotonic()
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(req)
        c.settimeout(5)
        got = c.recv(4096)
        c.close()
        took = time.monotonic() - t1
        print(f"a new request answered in {took * 1000:.1f} ms")
        if not got.endswith(b"Hello, World!"):
            failures.append("no answer to a new client while 10,000 are idle")
        # The idle ones are still usable.
        probe = socks[len(socks) // 2]
        probe.setblocking(True)
        probe.settimeout(5)
        probe.sendall(req)
        if not probe.recv(4096).endswith(b"Hello, World!"):
            failures.append("an idle connection was not usable")
    finally:
        for s in socks:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        if rc != 0:
            failures.append(f"hello exited with {rc} after SIGTERM")
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
