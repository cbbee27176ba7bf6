"""The web layer on the real server over a raw socket: pipelined requests through the
middleware chain come back in order, each with its own request id, and the production access
log is one JSON line per request carrying that id."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import tempfile

BIN = os.path.join(os.environ.get("MN_BIN_DIR", "build/bin"), "polls")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def read_responses(sock, count):
    """Reads count responses (Content-Length framed); returns [(status, headers, body)]."""
    data = b""
    out = []
    while len(out) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            if len(data) >= head_end + 4 + length:
                body = data[head_end + 4:head_end + 4 + length]
                out.append((int(head[0].split()[1]), headers, body))
                data = data[head_end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return out


def main():
    env = {k: v for k, v in os.environ.items()}
    db_dir = tempfile.TemporaryDirectory()
    env.update(DEBUG="false", SECRET_KEY="web-server-test-secret", ALLOWED_HOSTS="127.0.0.1",
               LOG_FORMAT="json",
               # the demo's data goes to a throw-away database, not the source tree
               DATABASE_URL="sqlite:///%s/db.sqlite3" % db_dir.name)
    db_dir = tempfile.TemporaryDirectory()  # the demo's data, outside the source tree
    env["DATABASE_URL"] = "sqlite:///%s/db.sqlite3" % db_dir.name
    p = subprocess.Popen([BIN, "runserver", "127.0.0.1:0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, text=True)
    line = p.stdout.readline()
    m = re.search(r":(\d+)/", line)
    if not m:
        p.kill()
        raise SystemExit("server did not start: %r" % line)
    port = int(m.group(1))
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        paths = ["/polls/", "/polls/2/", "/nowhere/", "/polls/3"]
        req = "".join("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path for path in paths)
        s.sendall(req.encode())
        responses = read_responses(s, len(paths))
        s.close()
        check(len(responses) == 4, "four pipelined responses (%d)" % len(responses))
        statuses = [r[0] for r in responses]
        check(statuses == [200, 200, 404, 301], "statuses in request order: %r" % statuses)
        if len(responses) == 4:
            check(b"Tabs or spaces?" in responses[1][2] or b"favourite" in responses[1][2],
                  "second response is question 2")
            check(responses[3][1].get("location") == "/polls/3/", "APPEND_SLASH on the wire")
        ids = [r[1].get("x-request-id") for r in responses]
        check(all(ids) and len(set(ids)) == len(ids), "distinct request ids: %r" % ids)
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=15)
    check(rc == 0, "exit 0 on SIGTERM (%s)" % rc)
    lines = [l for l in p.stderr.read().splitlines() if '"manouche.access"' in l]
    check(len(lines) == 4, "four access-log lines (%d)" % len(lines))
    for l, rid in zip(lines, ids):
        try:
            rec = json.loads(l)
        except ValueError:
            check(False, "access log line is JSON: %r" % l)
            continue
        check(rid in l, "log line carries the request id %s: %r" % (rid, l))
        check("status" in rec and "path" in rec, "log line has status and path: %r" % l)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
