"""The TechEmpower app answers exactly per that benchmark's rules, over real sockets:
/plaintext and /json with Server, Date, Content-Type and Content-Length, a JSON body that is
{"message": "Hello, World!"}, 16-deep pipelining answered in order, keep-alive, HTTP/1.0,
404 elsewhere; and its CLI (`help`, `serve ADDR:PORT --workers N`, a bad --workers value)."""

import email.utils
import json
import os
import signal
import socket
import subprocess
import sys
import time

SOURCE = os.environ.get("MN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("MN_BIN_DIR", "build/bin"), "techempower")
sys.path.insert(0, os.path.join(SOURCE, "bench", "lib"))
import httpload  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, flush=True)


def env():
    e = os.environ.copy()
    e.update({"DEBUG": "0", "SECRET_KEY": "techempower-test-key", "LOG_LEVEL": "WARNING",
              # These endpoints need no rows: an in-memory database keeps the source tree clean
              # (test_techempower_db.py tests the database endpoints).
              "DATABASE_URL": "sqlite://:memory:"})
    return e


def read_responses(sock, count, timeout=5.0):
    reader = httpload.ResponseReader()
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        r = reader.next()
        if r is not None:
            got.append(r)
            continue
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        reader.feed(data)
    return got


def check_plaintext(r, what):
    check(r.status == 200, "%s: status %d" % (what, r.status))
    check(r.headers.get("content-type", "").startswith("text/plain"),
          "%s: Content-Type %r" % (what, r.headers.get("content-type")))
    check(r.body == b"Hello, World!", "%s: body %r" % (what, r.body))


def check_common(r, what):
    for h in ("server", "date", "content-type", "content-length"):
        check(h in r.headers, "%s: no %s header" % (what, h))
    check(r.headers.get("content-length") == str(len(r.body)),
          "%s: Content-Length %r for %d bytes" % (what, r.headers.get("content-length"),
                                                  len(r.body)))
    date = r.headers.get("date", "")
    parsed = email.utils.parsedate_to_datetime(date) if date else None
    check(parsed is not None and date.endswith(" GMT"), "%s: Date %r is not an HTTP date"
          % (what, date))
    if parsed is not None:
        check(abs(parsed.timestamp() - time.time()) < 5, "%s: Date %r is not now" % (what, date))


def test_server(port):
    # One request each, then both pipelined 16 deep on one keep-alive connection.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(httpload.request_bytes("/plaintext"))
        (r,) = read_responses(s, 1) or [None]
        check(r is not None, "/plaintext: no response")
        if r:
            check_plaintext(r, "/plaintext")
            check_common(r, "/plaintext")
        s.sendall(httpload.request_bytes("/json"))
        (r,) = read_responses(s, 1) or [None]
        check(r is not None, "/json: no response on the same keep-alive connection")
        if r:
            check(r.status == 200, "/json: status %d" % r.status)
            check(r.headers.get("content-type", "").startswith("application/json"),
                  "/json: Content-Type %r" % r.headers.get("content-type"))
            try:
                body = json.loads(r.body)
            except ValueError:
                body = None
            check(body == {"message": "Hello, World!"}, "/json: body %r" % r.body)
            check_common(r, "/json")
        paths = ["/plaintext", "/json"] * 8
        s.sendall(b"".join(httpload.request_bytes(p) for p in paths))
        got = read_responses(s, len(paths))
        check(len(got) == len(paths), "pipelining: %d of %d responses" % (len(got), len(paths)))
        for p, r in zip(paths, got):
            want = b"Hello, World!" if p == "/plaintext" else b'"message"'
            check(r.status == 200 and want in r.body,
                  "pipelining: %s answered out of order or wrongly: %r" % (p, r.body))
    # HTTP/1.0: answered, then closed.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /plaintext HTTP/1.0\r\nHost: x\r\n\r\n")
        got = read_responses(s, 1)
        check(len(got) == 1, "HTTP/1.0: no response")
        if got:
            check_plaintext(got[0], "HTTP/1.0 /plaintext")
    # Anything else is a 404.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(httpload.request_bytes("/nope"))
        got = read_responses(s, 1)
        check(len(got) == 1 and got[0].status == 404,
              "/nope: expected 404, got %s" % (got[0].status if got else "nothing"))
    # A short burst of concurrent keep-alive and per-request connections: nothing fails.
    f = httpload.run_load("127.0.0.1", port, "/plaintext", 1.0, keep_alive_workers=4,
                          close_workers=2)
    check(f.total == 0 and f.ok > 0, "load: " + f.summary())


def main():
    if not os.path.exists(BIN):
        print("FAIL: %s was not built" % BIN)
        return 1
    out = subprocess.run([BIN, "help"], capture_output=True, text=True, env=env(), timeout=10)
    check(out.returncode == 0, "help exits %d" % out.returncode)
    for cmd in ("serve", "runserver"):
        check(cmd in out.stdout, "help does not list %s: %r" % (cmd, out.stdout[:300]))
    out = subprocess.run([BIN, "serve", "127.0.0.1:0", "--workers", "abc"], capture_output=True,
                         text=True, env=env(), timeout=10)
    check(out.returncode != 0 and "workers" in out.stderr.lower() and "abc" in out.stderr,
          "serve --workers abc: exit %d, stderr %r" % (out.returncode, out.stderr[:300]))

    port = httpload.free_port()
    proc = subprocess.Popen([BIN, "serve", "127.0.0.1:%d" % port, "--workers", "1"], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        if not httpload.wait_for_port("127.0.0.1", port, 10, proc):
            check(False, "serve did not listen on %d: %s" % (
                port, proc.stdout.read().decode(errors="replace")[-1000:]
                if proc.poll() is not None else "still running"))
        else:
            test_server(port)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(15)
            check(rc == 0, "SIGTERM: exit status %d" % rc)
        except subprocess.TimeoutExpired:
            check(False, "SIGTERM: still running after 15 s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
