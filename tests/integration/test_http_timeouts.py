"""Deadlines of the HTTP server over real sockets: a slowloris client (one byte a second) gets
408 at the header deadline and is cut; a silent new connection and an idle keep-alive
connection are closed at their timeouts; a body that stops arriving gets 408; a client that
stops reading is dropped at the write timeout, and the server keeps serving others meanwhile.
Short timeouts are set with hello's flags so the test stays quick."""
import socket
import time

from hellolib import check, finish, start_server, stop_server


HEADER_MS = 1500
KEEPALIVE_MS = 1000
BODY_MS = 1000
WRITE_MS = 1000


def wait_close(sock, limit):
    """Seconds until the peer closed (reading everything it sent), and what it sent."""
    t0 = time.monotonic()
    data = b""
    sock.settimeout(limit)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return None, data
    except ConnectionResetError:
        pass
    return time.monotonic() - t0, data


def test_slowloris(port):
    s = socket.create_connection(("127.0.0.1", port))
    head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 100
    t0 = time.monotonic()
    sent = 0
    status = None
    s.settimeout(0.05)
    # One byte a second would take 130 s; the server must stop this at HEADER_MS.
    while time.monotonic() - t0 < 10:
        try:
            s.send(head[sent:sent + 1])
            sent += 1
        except OSError:
            break
        try:
            data = s.recv(65536)
            if data is not None:
                status = data
                break
        except socket.timeout:
            pass
        time.sleep(0.25)
    elapsed = time.monotonic() - t0
    rest = b""
    if status is not None:
        _, rest = wait_close(s, 3)
    check(status is not None and status.startswith(b"HTTP/1.1 408"),
          f"slowloris gets 408 ({(status or b'')[:20]!r})")
    check(HEADER_MS / 1000 - 0.1 <= elapsed <= HEADER_MS / 1000 + 2.0,
          f"slowloris cut at the header deadline ({elapsed:.2f}s, deadline {HEADER_MS} ms)")
    s.close()


def test_silent_connection(port):
    s = socket.create_connection(("127.0.0.1", port))
    took, data = wait_close(s, 5)
    check(took is not None and data == b"" and took < HEADER_MS / 1000 + 2.0,
          f"a connection that sends nothing is closed quietly ({took})")
    s.close()


def test_idle_keepalive(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    s.settimeout(5)
    data = b""
    while b"Hello, World!" not in data:
        data += s.recv(65536)
    took, rest = wait_close(s, 5)
    check(took is not None and rest == b"" and
          KEEPALIVE_MS / 1000 - 0.1 <= took <= KEEPALIVE_MS / 1000 + 2.0,
          f"idle keep-alive connection closed after the keep-alive timeout ({took})")
    s.close()
    # Activity before the timeout keeps it open.
    s = socket.create_connection(("127.0.0.1", port))
    ok = True
    for _ in range(3):
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        data = b""
        while b"Hello, World!" not in data:
            chunk = s.recv(65536)
            if not chunk:
                ok = False
                break
            data += chunk
        time.sleep(KEEPALIVE_MS / 1000 * 0.6)
    check(ok, "a connection used within the keep-alive timeout stays open")
    s.close()


def test_body_timeout(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly part")
    took, data = wait_close(s, 5)
    check(data.startswith(b"HTTP/1.1 408") and took is not None and
          took <= BODY_MS / 1000 + 2.0, f"a body that stops arriving gets 408 ({data[:20]!r})")
    s.close()


def test_write_timeout(port):
    # A client that asks for a big stream and never reads: dropped at the write timeout,
    # while another client is served normally.
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /stream?n=100000&ms=0&size=65536 HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(0.3)
    other = socket.create_connection(("127.0.0.1", port))
    other.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    _, data = wait_close(other, 5)
    check(data.endswith(b"Hello, World!"), "others are served while a client does not read")
    other.close()
    time.sleep(WRITE_MS / 1000 + 1.5)
    # Now drain what the kernel buffered: the stream must end with a close, not go on.
    took, _ = wait_close(s, 5)
    check(took is not None, "a client that stops reading is dropped at the write timeout")
    s.close()


def main():
    proc, port = start_server("--header-timeout", str(HEADER_MS), "--keepalive", str(KEEPALIVE_MS),
                              "--body-timeout", str(BODY_MS), "--write-timeout", str(WRITE_MS))
    try:
        test_slowloris(port)
        test_silent_connection(port)
        test_idle_keepalive(port)
        test_body_timeout(port)
        test_write_timeout(port)
    finally:
        stop_server(proc, "hello", timeout=15)
    finish()


if __name__ == "__main__":
    main()
