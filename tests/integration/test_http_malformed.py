"""Every row of tests/data/malformed_requests.txt, sent over a real socket to build/bin/hello:
the status the server answers, and whether the connection stays open afterwards. Then 200
fixed-seed mutations of valid requests, sent in small pieces.

The parser has its own table test; this one proves the server acts on the parser's verdict
(answers with that status, closes where framing can't be trusted, keeps the connection where
it can) and that nothing crashes: the server must answer a plain request after all rows and
exit cleanly on SIGTERM (under ASan that includes the leak check)."""
import os
import random
import re
import socket
import sys
import time

SRC = os.environ.get("MN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
from hellolib import start_server, stop_server

TABLE = os.path.join(SRC, "tests", "data", "malformed_requests.txt")


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = text[i + 1]
        if n == "R":
            m = re.match(r"\\R\{(\d+)\}\{((?:[^}\\]|\\.)*)\}", text[i:])
            out += unescape(m.group(2)) * int(m.group(1))
            i += len(m.group(0))
            continue
        simple = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\", "s": b" "}
        if n in simple:
            out += simple[n]
            i += 2
        elif n == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            raise ValueError(f"bad escape \\{n} in {text!r}")
    return bytes(out)


def load_table():
    rows = []
    with open(TABLE, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            expect, conn, raw = line.split(" ", 2)
            rows.append((lineno, expect, conn, unescape(raw)))
    return rows


def read_response(sock, deadline):
    """One response: (status, headers, body, leftover) or None on EOF/timeout first."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for h in lines[1:]:
        k, v = h.split(b":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def closed_soon(sock, timeout=3.0):
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def check_row(port, lineno, expect, conn, raw):
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        got = read_response(sock, time.monotonic() + 5)
        if got is None:
            return f"line {lineno}: no response (expected {expect})"
        status, headers, _, _ = got
        if expect == "ok":
            if status in (400, 408, 413, 414, 431, 501, 505):
                return f"line {lineno}: expected a normal answer, got {status}"
        elif status != int(expect):
            return f"line {lineno}: expected {expect}, got {status}"
        if conn == "close":
            if headers.get(b"connection", b"").lower() != b"close" and expect != "ok":
                return f"line {lineno}: error answer without Connection: close"
            if not closed_soon(sock):
                return f"line {lineno}: connection left open"
        else:
            try:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            except OSError:
                return f"line {lineno}: connection closed (expected keep)"
            again = read_response(sock, time.monotonic() + 5)
            if again is None or again[0] != 200:
                return f"line {lineno}: connection not usable after the answer (expected keep)"
        return None
    finally:
        sock.close()


SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=B\r\n"
    b"Content-Length: 60\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--\r\n",
    b"GET /stream?n=3&ms=1 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
    b"GET /cookie?show=a HTTP/1.1\r\nHost: a\r\nCookie: a=\"\\x\"; b\r\n\r\n",
    b"GET /form?a=%zz&b=%C3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
]


def mutated_requests(count, seed=2026):
    """Fixed-seed mutations of valid requests (bytes dropped, inserted, spliced, cut)."""
    rnd = random.Random(seed)
    for _ in range(count):
        data = bytearray()
        for _ in range(rnd.randint(1, 4)):
            b = bytearray(rnd.choice(SEEDS))
            for _ in range(rnd.randint(1, 6)):
                op, i = rnd.randint(0, 3), rnd.randint(0, len(b))
                if op == 0 and b:
                    del b[min(i, len(b) - 1)]
                elif op == 1:
                    b[i:i] = bytes([rnd.randint(0, 255)])
                elif op == 2:
                    b[i:i] = rnd.choice(SEEDS)
                else:
                    b = b[:i]
            data += b
        yield bytes(data), rnd.randint(1, 64)


def garbage(port, count=200):
    """Mutated requests in small pieces; the client half-closes and reads whatever comes."""
    for data, step in mutated_requests(count):
        s = socket.create_connection(("127.0.0.1", port))
        try:
            for j in range(0, len(data), step):
                s.sendall(data[j:j + step])
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()


def main():
    rows = load_table()
    assert len(rows) >= 40, f"only {len(rows)} rows in {TABLE}"
    proc, port = start_server()
    failures = []
    try:
        for lineno, expect, conn, raw in rows:
            err = check_row(port, lineno, expect, conn, raw)
            if err:
                failures.append(err)
        garbage(port)
        # Still alive and serving after all of it.
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        got = read_response(sock, time.monotonic() + 5)
        sock.close()
        if got is None or got[0] != 200 or got[2] != b"Hello, World!":
            failures.append("the server does not answer a plain request after the table")
    finally:
        if not stop_server(proc):
            failures.append("hello did not exit 0 after SIGTERM (crash or leak?)")
    for f in failures:
        print("FAIL", f)
    print(f"{len(rows) - len(failures)} of {len(rows)} rows answered as expected")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
