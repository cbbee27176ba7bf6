"""TRUSTED_PROXIES on the real server: a CIDR network (as nginx's set_real_ip_from) makes
the peer a trusted proxy, the client is the right-most untrusted X-Forwarded-For address (the
access log's "client"), and an entry that is not an IP address never becomes the client."""
import json
import os
import re
import subprocess
import sys
import tempfile

BIN = os.path.join(os.environ.get("MN_BIN_DIR", "build/bin"), "polls")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(DEBUG="false", SECRET_KEY="proxy-test-secret", ALLOWED_HOSTS="127.0.0.1",
                   LOG_FORMAT="json", DATABASE_URL="sqlite:///%s/db.sqlite3" % tmp,
                   TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.0/8, fd00::/8")
        log = open(os.path.join(tmp, "server.log"), "w+")
        p = subprocess.Popen([BIN, "runserver", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=log, env=env, text=True)
        m = re.search(r":(\d+)/", p.stdout.readline())
        if not m:
            p.kill()
            raise SystemExit("server did not start")
        port = int(m.group(1))
        cases = [("1.1.1.1, 10.1.2.3", "1.1.1.1"),
                 ("6.6.6.6, 198.51.100.4, 10.9.9.9", "198.51.100.4"),
                 ("garbage", "127.0.0.1"),
                 ("2001:db8::7", "2001:db8::7")]
        try:
            for i, (xff, _) in enumerate(cases):
                subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "X-Forwarded-For: " + xff,
                                "http://127.0.0.1:%d/polls/?case=%d" % (port, i)],
                               check=True, timeout=20)
        finally:
            p.terminate()
            p.wait(timeout=10)
        log.seek(0)
        seen = {}
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("logger") == "manouche.access":
                q = re.search(r"case=(\d+)", entry.get("query", ""))
                if q:
                    seen[int(q.group(1))] = entry.get("client")
        for i, (xff, want) in enumerate(cases):
            check(seen.get(i) == want, "X-Forwarded-For %r: client %r, want %r"
                  % (xff, seen.get(i), want))
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
