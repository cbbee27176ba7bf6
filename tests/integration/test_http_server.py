"""The HTTP server as clients see it, over real sockets against build/bin/hello: keep-alive,
pipelining, HTTP/1.0, HEAD, 100-continue (curl), chunked uploads, forms, JSON, cookies,
sendfile, streaming to a slow reader, many concurrent requests, and a clean exit (ASan: no
leak) on SIGTERM."""
import json
import os
import re
import signal
import socket
import tempfile
import threading
import time

from hellolib import check, curl, finish, start_server, stop_server


class Conn:
    """A raw client connection that reads responses one by one (Content-Length, chunked, or
    until close)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, timeout=5):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def response(self, head_request=False, timeout=5):
        while b"\r\n\r\n" not in self.buf:
            self._fill(timeout)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for h in lines[1:]:
            k, v = h.split(":", 1)
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        hd = {k: v[0] for k, v in headers.items()}
        if head_request or status in (204, 304) or 100 <= status < 200:
            return status, hd, b"", headers
        if "content-length" in hd:
            n = int(hd["content-length"])
            while len(self.buf) < n:
                self._fill(timeout)
            body, self.buf = self.buf[:n], self.buf[n:]
        elif hd.get("transfer-encoding") == "chunked":
            parts = []
            while True:
                while b"\r\n" not in self.buf:
                    self._fill(timeout)
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._fill(timeout)
                parts.append(self.buf[:size])
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
            body = b"".join(parts)
        else:
            try:
                while True:
                    self._fill(timeout)
            except EOFError:
                pass
            body, self.buf = self.buf, b""
        return status, hd, body, headers

    def is_closed(self, timeout=2):
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def test_keepalive_and_pipelining(port):
    c = Conn(port)
    for i in range(3):
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        status, h, body, _ = c.response()
        check(status == 200 and body == b"Hello, World!", f"keep-alive request {i + 1}")
    check(re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", h.get("date", "")) is not None,
          "Date header in IMF-fixdate form")
    # 16 requests in one write: 16 answers, in order.
    batch = b"".join(b"GET /echo?i=%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(16))
    c.send(batch)
    order = []
    for _ in range(16):
        status, _, body, _ = c.response()
        m = re.search(rb"i=(\d+)", body)
        order.append(int(m.group(1)) if m else -1)
    check(order == list(range(16)), f"16 pipelined requests answered in order ({order})")
    # Pipelined requests with bodies, split at awkward places.
    reqs = b"".join(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nbody%d" % i
                    for i in range(4))
    for k in range(0, len(reqs), 7):
        c.send(reqs[k:k + 7])
    bodies = [c.response()[2].rsplit(b"\n", 1)[-1] for _ in range(4)]
    check(bodies == [b"body%d" % i for i in range(4)], "pipelined POSTs split across writes")
    c.close()


def test_http10(port):
    c = Conn(port)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    status, h, body, _ = c.response()
    check(status == 200 and body == b"Hello, World!", "HTTP/1.0 request answered")
    check(c.is_closed(), "HTTP/1.0 without keep-alive: connection closed")
    c = Conn(port)
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, h, _, _ = c.response()
    check(h.get("connection", "").lower() == "keep-alive", "HTTP/1.0 keep-alive is answered")
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    check(c.response()[0] == 200, "HTTP/1.0 keep-alive connection reused")
    c.close()
    # A stream to an HTTP/1.0 client: no chunked framing, ends with the close.
    c = Conn(port)
    c.send(b"GET /stream?n=3&ms=10 HTTP/1.0\r\n\r\n")
    status, h, body, _ = c.response()
    check("transfer-encoding" not in h and body == b"piece 0\npiece 1\npiece 2\n",
          "HTTP/1.0 stream: raw body until close")
    c.close()


def test_head_and_close(port):
    c = Conn(port)
    c.send(b"GET /big?size=12345 HTTP/1.1\r\nHost: a\r\n\r\n")
    _, gh, gbody, _ = c.response()
    c.send(b"HEAD /big?size=12345 HTTP/1.1\r\nHost: a\r\n\r\n")
    status, hh, _, _ = c.response(head_request=True)
    check(status == 200 and hh.get("content-length") == gh.get("content-length"),
          "HEAD: same Content-Length as GET")
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    status, _, body, _ = c.response()
    check(status == 200 and body == b"Hello, World!", "HEAD sent no body (next answer intact)")
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    status, h, _, _ = c.response()
    check(h.get("connection") == "close" and c.is_closed(), "Connection: close honoured")
    c.close()
    # Requests pipelined after a Connection: close one are dropped, but must not turn the
    # close into a reset that destroys the answer (lingering close).
    complete = 0
    for _ in range(20):
        c = Conn(port)
        c.send(b"GET /big?size=200000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" +
               b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 50)
        time.sleep(0.01)
        try:
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 50)
            complete += len(c.response()[2]) == 200000
        except (OSError, EOFError):
            pass
        c.close()
    check(complete == 20, f"answer before a close intact despite unread input ({complete}/20)")


def test_bodies(port):
    rc, out, err = curl("-H", "Expect: 100-continue", "--data-binary", "x" * 2000,
                        "-v", f"http://127.0.0.1:{port}/echo")
    check(rc == 0 and out.endswith(b"x" * 2000) and "100 Continue" in err,
          "curl with Expect: 100-continue gets 100 Continue and the body arrives")
    rc, out, _ = curl("-H", "Transfer-Encoding: chunked", "--data-binary", "chunky" * 1000,
                      f"http://127.0.0.1:{port}/echo")
    check(rc == 0 and out.endswith(b"chunky" * 1000), "chunked upload with curl")
    c = Conn(port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
           b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    body = c.response()[2]
    check(body.endswith(b"\n\nWikipedia"), "chunked body with extension and trailer decoded")
    check(c.response()[2] == b"Hello, World!", "request after a chunked body is answered")
    # A body larger than max_body: 413 and closed, without waiting for the body.
    c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n"
           b"Expect: 100-continue\r\n\r\n")
    status, h, _, _ = c.response()
    check(status == 413 and c.is_closed(), "Content-Length over max_body: 413 and close")
    c.close()
    c = Conn(port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx")
    check(c.response()[0] == 417 and c.is_closed(), "unknown Expect: 417")
    c.close()
    big = os.urandom(1 << 20)
    c = Conn(port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
    check(c.response(timeout=20)[2].endswith(big), "1 MiB body echoed intact")
    c.close()


def test_forms_json_cookies(port):
    rc, out, _ = curl("-d", "a=1&b=two+words&a=3&c=%C3%A9", f"http://127.0.0.1:{port}/form")
    check(out == "a=1\nb=two words\na=3\nc=é\n".encode(), f"urlencoded form ({out!r})")
    rc, out, _ = curl("-H", "Content-Type: application/json", "-d", '{"x": [1, 2]}',
                      f"http://127.0.0.1:{port}/json")
    check(rc == 0 and json.loads(out) == {"received": {"x": [1, 2]}}, "JSON body parsed")
    rc, out, _ = curl("-H", "Content-Type: application/json", "-d", '{"x": ',
                      "-w", "%{http_code}", f"http://127.0.0.1:{port}/json")
    check(out.endswith(b"400") and b"not valid JSON" in out, "bad JSON: error names it")
    rc, out, _ = curl("-D", "-", f"http://127.0.0.1:{port}/cookie?name=sid&value=abc")
    m = re.search(rb"(?im)^set-cookie: (.*)\r$", out)
    cookie = m.group(1).decode() if m else ""
    check(cookie == "sid=abc; HttpOnly; Path=/; SameSite=Lax",
          f"Set-Cookie with secure defaults ({cookie!r})")
    rc, out, _ = curl("-D", "-", "-H", "X-Forwarded-Proto: https",
                      f"http://127.0.0.1:{port}/cookie?name=sid&value=abc")
    check(b"Secure" not in out, "X-Forwarded-Proto from an untrusted peer is ignored")
    rc, out, _ = curl("-b", "sid=abc; theme=\"dark\"",
                      f"http://127.0.0.1:{port}/cookie?show=theme")
    check(out == b"theme=dark\n", f"Cookie header parsed ({out!r})")
    rc, out, _ = curl("-D", "-", f"http://127.0.0.1:{port}/cookie?name=sid&delete=1")
    check(b'sid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/' in out,
          "delete_cookie as Django")
    rc, out, _ = curl(f"http://127.0.0.1:{port}/echo/../a/%2e%2e/echo?q=1")
    check(b"path: /echo\n" in out, f"path normalised ({out[:60]!r})")


def test_files_and_streams(port, files_dir):
    data = os.urandom(3 * 1024 * 1024 + 17)
    with open(os.path.join(files_dir, "blob.bin"), "wb") as f:
        f.write(data)
    rc, out, _ = curl(f"http://127.0.0.1:{port}/file?path=blob.bin")
    check(rc == 0 and out == data, "sendfile: 3 MiB file intact")
    rc, out, _ = curl("-w", "%{http_code}", f"http://127.0.0.1:{port}/file?path=../etc/passwd")
    check(out.endswith(b"404"), "file outside the test dir refused")
    c = Conn(port)
    c.send(b"HEAD /file?path=blob.bin HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
    status, h, _, _ = c.response(head_request=True)
    check(h.get("content-length") == str(len(data)), "HEAD of a file: its length, no body")
    check(c.response()[2] == b"Hello, World!", "answer after HEAD of a file intact")
    # Streaming: pieces arrive while the handler is still running.
    c.send(b"GET /stream?n=4&ms=500 HTTP/1.1\r\nHost: a\r\n\r\n")
    t0 = time.monotonic()
    c.sock.settimeout(5)
    first = b""
    while b"piece 0" not in first:
        first += c.sock.recv(65536)
    check(time.monotonic() - t0 < 1.0, "first streamed piece arrives before the last is made (1.5 s)")
    c.buf = first
    status, h, body, _ = c.response()
    check(h.get("transfer-encoding") == "chunked" and body.count(b"piece") == 4,
          "streamed response is chunked with every piece")
    c.close()
    # A slow reader: 32 MiB streamed while the client reads slowly; the server must park
    # (back-pressure), not buffer, and the bytes must all arrive.
    c = Conn(port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.send(b"GET /stream?n=512&ms=0&size=65536 HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(1.0)
    status, h, body, _ = c.response(timeout=20)
    check(len(body) == 512 * 65536 and body.count(b"x") == len(body),
          "32 MiB stream to a slow reader arrives whole")
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    check(c.response()[2] == b"Hello, World!", "connection usable after a long stream")
    c.close()


def test_concurrency(port):
    # 200 requests that each sleep 300 ms at once: coroutines, not a thread per request.
    results = []

    def one():
        try:
            c = Conn(port)
            c.send(b"GET /sleep?ms=300 HTTP/1.1\r\nHost: a\r\n\r\n")
            results.append(c.response(timeout=10)[0])
            c.close()
        except Exception as e:  # noqa: BLE001
            results.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    check(results.count(200) == 200 and elapsed < 10,
          f"200 concurrent sleeping requests in {elapsed:.2f}s")


def test_trusted_proxy():
    proc, port = start_server("--trusted-proxies", "127.0.0.1")
    try:
        rc, out, _ = curl("-H", "X-Forwarded-For: 203.0.113.7, 127.0.0.1",
                          "-H", "X-Forwarded-Proto: https", f"http://127.0.0.1:{port}/client")
        check(out.startswith(b"ip=203.0.113.7 secure=1"),
              f"client address and scheme from a trusted proxy ({out!r})")
        rc, out, _ = curl("-D", "-", "-H", "X-Forwarded-Proto: https",
                          f"http://127.0.0.1:{port}/cookie?name=sid&value=1")
        check(b"; Secure" in out, "cookies get Secure on HTTPS")
    finally:
        stop_server(proc)


def test_master_reload():
    """Under the master (2 workers): a request in flight across SIGHUP still gets its answer,
    new requests are served by the new workers, and SIGTERM ends everything with status 0."""
    proc, port = start_server("--workers", "2", single=False)
    try:
        c = Conn(port)
        c.send(b"GET /sleep?ms=800 HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.2)
        proc.send_signal(signal.SIGHUP)
        status, h, body, _ = c.response(timeout=10)
        check(status == 200 and body == b"slept" and h.get("connection") == "close",
              "request in flight across SIGHUP answered (with Connection: close)")
        c.close()
        ok = 0
        for _ in range(20):
            c = Conn(port)
            c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            ok += c.response()[2] == b"Hello, World!"
            c.close()
        check(ok == 20, f"served after the reload ({ok}/20)")
    finally:
        stop_server(proc, "master", timeout=20)


def main():
    files_dir = tempfile.mkdtemp(prefix="mn-http-files-")
    proc, port = start_server("--files", files_dir)
    try:
        test_keepalive_and_pipelining(port)
        test_http10(port)
        test_head_and_close(port)
        test_bodies(port)
        test_forms_json_cookies(port)
        test_files_and_streams(port, files_dir)
        test_concurrency(port)
    finally:
        stop_server(proc)
        for name in os.listdir(files_dir):
            os.unlink(os.path.join(files_dir, name))
        os.rmdir(files_dir)
    test_trusted_proxy()
    test_master_reload()
    finish()


if __name__ == "__main__":
    main()
