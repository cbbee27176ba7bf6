"""Small HTTP/1.1 load clients in the Python standard library, shared by bench/run and the
load-shaped integration tests (tests/integration/test_load_*.py).

The idea: each client is strict about what counts as a failure (a refused connect, a
connection that breaks before or during a response, a status other than the expected one)
and reports every failure by kind, so a test can assert "zero failed requests" and say
exactly what went wrong when it does not hold.

Also a command-line tool, so the many-connections clients run in their own process (the
open-files cap is per process):
    python3 httpload.py idle HOST PORT COUNT [PATH]   open COUNT keep-alive connections,
        make one request on each, print "READY <open>", hold them until stdin closes or
        reads a line, then print "CLOSED" and exit.
"""

import errno
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time


def raise_nofile_limit():
    """Raises the soft open-files limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host, port, timeout=10.0, proc=None):
    """Waits until host:port accepts connections; False on timeout or if proc exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def request_bytes(path, host="127.0.0.1", close=False):
    conn = "close" if close else "keep-alive"
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n\r\n" % (path, host, conn)).encode()


class Response:
    """One parsed response: status, headers (lower-case names), body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def wants_close(self):
        return "close" in self.headers.get("connection", "").lower()


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError("bad status line %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class ResponseReader:
    """Incremental response parser for one connection (Content-Length framing only)."""

    def __init__(self):
        self.buf = b""
        self.got_any = False

    def feed(self, data):
        if data:
            self.got_any = True
        self.buf += data

    def next(self):
        """A complete Response taken from the buffer, or None."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        status, headers = parse_head(self.buf[:end])
        length = int(headers.get("content-length", "0"))
        total = end + 4 + length
        if len(self.buf) < total:
            return None
        body = self.buf[end + 4:total]
        self.buf = self.buf[total:]
        self.got_any = bool(self.buf)
        return Response(status, headers, body)


class Failures:
    """Failed requests counted by kind (thread-safe)."""

    KINDS = ("connect", "closed_before_response", "broken_response", "bad_status", "timeout")

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {k: 0 for k in self.KINDS}
        self.examples = []
        self.ok = 0

    def add(self, kind, detail):
        with self.lock:
            self.counts[kind] += 1
            if len(self.examples) < 5:
                self.examples.append("%s: %s" % (kind, detail))

    def success(self):
        with self.lock:
            self.ok += 1

    @property
    def total(self):
        return sum(self.counts.values())

    def summary(self):
        kinds = ", ".join("%s=%d" % (k, v) for k, v in self.counts.items() if v)
        return "%d ok, %d failed%s" % (self.ok, self.total, " (" + kinds + ")" if kinds else "")


def _one_request(sock, reader, path, close, timeout):
    """Sends one request on sock and reads its response. Returns (Response or None, kind, detail)."""
    try:
        sock.sendall(request_bytes(path, close=close))
    except OSError as e:
        return None, "closed_before_response", "send: %s" % e
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = reader.next()
        except ValueError as e:
            return None, "broken_response", str(e)
        if resp is not None:
            return resp, None, None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, "timeout", "no complete response in %.1fs" % timeout
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return None, "timeout", "no complete response in %.1fs" % timeout
        except OSError as e:
            kind = "broken_response" if reader.got_any else "closed_before_response"
            return None, kind, "recv: %s" % e
        if not data:
            kind = "broken_response" if reader.got_any else "closed_before_response"
            return None, kind, "connection closed by the server"
        reader.feed(data)


def load_worker(host, port, path, stop, failures, keep_alive=True, expect=200, timeout=5.0,
                pause=0.0):
    """Makes requests one after another until stop is set; new connection per request unless
    keep_alive (then it reconnects only when the server says Connection: close)."""
    sock = None
    reader = None
    while not stop.is_set():
        if sock is None:
            try:
                sock = socket.create_connection((host, port), timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader = ResponseReader()
            except OSError as e:
                failures.add("connect", str(e))
                time.sleep(0.01)
                continue
        resp, kind, detail = _one_request(sock, reader, path, not keep_alive, timeout)
        if resp is None:
            failures.add(kind, detail)
        elif resp.status != expect:
            failures.add("bad_status", "status %d" % resp.status)
        else:
            failures.success()
        if resp is None or not keep_alive or resp.wants_close:
            sock.close()
            sock = None
        if pause:
            time.sleep(pause)
    if sock is not None:
        sock.close()


def run_load(host, port, path, seconds, keep_alive_workers=4, close_workers=4, during=None,
             timeout=5.0):
    """Runs keep-alive and connection-per-request clients for `seconds`; calls during(elapsed)
    about every 50 ms from the calling thread (to send signals, say). Returns Failures."""
    failures = Failures()
    stop = threading.Event()
    threads = []
    for i in range(keep_alive_workers + close_workers):
        t = threading.Thread(target=load_worker, daemon=True,
                             args=(host, port, path, stop, failures, i < keep_alive_workers),
                             kwargs={"timeout": timeout})
        t.start()
        threads.append(t)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if during is not None:
            during(time.monotonic() - start)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout + 1)
    return failures


def concurrent_requests(host, port, count, path, timeout=15.0):
    """Opens `count` connections at once, sends one request on each only once all are open,
    and reads every response. Returns (Failures, statuses dict)."""
    raise_nofile_limit()
    failures = Failures()
    statuses = {}
    sel = selectors.DefaultSelector()
    socks = []
    deadline = time.monotonic() + timeout
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            failures.add("connect", os.strerror(err))
            s.close()
            continue
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    # Wait until every connect has finished, then send all requests.
    connected = []
    pending = len(socks)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                failures.add("connect", os.strerror(err))
                s.close()
            else:
                connected.append(s)
    for key in list(sel.get_map().values()):
        failures.add("connect", "connect did not finish in %.0fs" % timeout)
        sel.unregister(key.fileobj)
        key.fileobj.close()
    readers = {}
    for s in connected:
        try:
            s.sendall(request_bytes(path, host))
        except OSError as e:
            failures.add("closed_before_response", "send: %s" % e)
            s.close()
            continue
        readers[s] = ResponseReader()
        sel.register(s, selectors.EVENT_READ)
    while readers and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            reader = readers[s]
            try:
                data = s.recv(65536)
            except OSError as e:
                data = None
                err = "recv: %s" % e
            resp = None
            if data:
                reader.feed(data)
                try:
                    resp = reader.next()
                except ValueError as e:
                    failures.add("broken_response", str(e))
                    data = None
                    err = None
            if resp is not None:
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 200:
                    failures.success()
                else:
                    failures.add("bad_status", "status %d" % resp.status)
            elif data:
                continue
            elif err is not None or data is not None:
                kind = "broken_response" if reader.got_any else "closed_before_response"
                failures.add(kind, err or "connection closed by the server")
            sel.unregister(s)
            del readers[s]
            s.close()
    for s in list(readers):
        failures.add("timeout", "no response in %.0fs" % timeout)
        sel.unregister(s)
        s.close()
    sel.close()
    return failures, statuses


def open_idle(host, port, count, path, batch=500, timeout=30.0):
    """Opens `count` keep-alive connections, makes one request on each and keeps them open.
    Returns (list of sockets, Failures). Connections are opened in batches so the listen
    backlog never overflows."""
    raise_nofile_limit()
    failures = Failures()
    kept = []
    deadline = time.monotonic() + timeout
    while len(kept) + failures.total < count and time.monotonic() < deadline:
        n = min(batch, count - len(kept) - failures.total)
        batch_fail, done = _idle_batch(host, port, n, path, deadline)
        kept.extend(done)
        failures.ok += batch_fail.ok
        for kind, k in batch_fail.counts.items():
            for _ in range(k):
                failures.add(kind, "idle batch")
    return kept, failures


def _idle_batch(host, port, n, path, deadline):
    failures = Failures()
    sel = selectors.DefaultSelector()
    state = {}
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            failures.add("connect", os.strerror(err))
            s.close()
            continue
        state[s] = ResponseReader()
        sel.register(s, selectors.EVENT_WRITE)
    done = []
    req = request_bytes(path, host)
    while state and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.5):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                try:
                    if err:
                        raise OSError(err, os.strerror(err))
                    s.send(req)
                    sel.modify(s, selectors.EVENT_READ)
                except OSError as e:
                    failures.add("connect", str(e))
                    sel.unregister(s)
                    del state[s]
                    s.close()
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            resp = None
            if data:
                state[s].feed(data)
                resp = state[s].next()
                if resp is None:
                    continue
            sel.unregister(s)
            reader = state.pop(s)
            if resp is not None and resp.status == 200 and not resp.wants_close:
                failures.success()
                done.append(s)
            else:
                failures.add("bad_status" if resp else
                             ("broken_response" if reader.got_any else "closed_before_response"),
                             "idle connection setup")
                s.close()
    for s in state:
        failures.add("timeout", "idle connection setup")
        s.close()
    sel.close()
    return failures, done


def close_abortively(socks):
    """Closes sockets with RST (SO_LINGER 0), so no TIME_WAIT state eats local ports."""
    linger = struct.pack("ii", 1, 0)
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()


def _still_open(socks):
    """How many of the sockets the server has not closed (non-blocking peek)."""
    alive = 0
    for s in socks:
        try:
            data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if data:
                alive += 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def _main_idle(argv):
    host, port, count = argv[0], int(argv[1]), int(argv[2])
    path = argv[3] if len(argv) > 3 else "/plaintext"
    limit = raise_nofile_limit()
    if count + 64 > limit:
        print("ERROR open-files limit %d is too low for %d connections" % (limit, count), flush=True)
        return 1
    socks, failures = open_idle(host, port, count, path)
    print("READY %d %s" % (len(socks), failures.summary()), flush=True)
    sys.stdin.readline()
    print("OPEN %d" % _still_open(socks), flush=True)
    close_abortively(socks)
    print("CLOSED", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "idle":
        sys.exit(_main_idle(sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
