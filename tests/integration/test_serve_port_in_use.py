"""A second `serve` or `runserver` on an address a running `serve` listens on fails at start-up
with "cannot listen on ADDR: Address already in use" and exit status 1, as runserver, nginx and
Django's runserver do: SO_REUSEPORT must not let two masters share a port (and split its
traffic). The first server keeps serving, also after a SIGHUP reload (its new workers inherit
its sockets)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.path.join(os.environ.get("MN_BIN_DIR", "build/bin"), "polls")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path="/polls/"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status


def main():
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(DEBUG="false", SECRET_KEY="port-test-secret", ALLOWED_HOSTS="127.0.0.1",
                   DATABASE_URL="sqlite:///%s/db.sqlite3" % tmp, LOG_LEVEL="WARNING")
        port = free_port()
        addr = "127.0.0.1:%d" % port
        first = subprocess.Popen([BIN, "serve", addr, "--workers", "2"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env=env, text=True)
        try:
            line = first.stdout.readline()
            check("Serving on" in line, "the first serve starts: %r" % line)
            check(get(port) == 200, "the first serve answers")
            for cmd in (["serve", addr, "--workers", "1"], ["runserver", addr]):
                t0 = time.monotonic()
                second = subprocess.run([BIN] + cmd, capture_output=True, text=True, env=env,
                                        timeout=20)
                what = " ".join(cmd)
                check(second.returncode == 1, "%s on a used address exits 1 (got %d)"
                      % (what, second.returncode))
                want = "cannot listen on %s: Address already in use" % addr
                check(want in second.stderr, "%s says %r: %r" % (what, want, second.stderr))
                check("Serving on" not in second.stdout, "%s never says it serves" % what)
                check(time.monotonic() - t0 < 10, "%s fails at once" % what)
            # the first one still has the port alone, and a reload keeps it
            check(all(get(port) == 200 for _ in range(20)), "the first serve answers alone")
            first.send_signal(signal.SIGHUP)
            time.sleep(1.0)
            check(all(get(port) == 200 for _ in range(20)), "it answers after a SIGHUP reload")
            check(first.poll() is None, "the first serve still runs")
        finally:
            first.send_signal(signal.SIGTERM)
            try:
                first.wait(timeout=20)
            except subprocess.TimeoutExpired:
                first.kill()
        check(first.returncode == 0, "the first serve exits 0 on SIGTERM (%r)" % first.returncode)
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
