"""What the HTTP integration tests share: build/bin/hello started on a free port and stopped
with SIGTERM (it must exit 0: under ASan a leak or a crash shows as another status), checks
that are counted rather than fatal, and curl."""
import os
import re
import signal
import subprocess
import sys

BIN = os.environ.get("MN_BIN_DIR", "build/bin")
FAILURES = []


def check(cond, what):
    print("ok  " if cond else "FAIL", what)
    if not cond:
        FAILURES.append(what)


def start_server(*args, single=True, env=None):
    """Starts hello on port 0 and returns (process, port) once it printed its address."""
    cmd = [os.path.join(BIN, "hello"), *(["--single"] if single else []), "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    m = re.search(r":(\d+)$", line.strip())
    if not m:
        proc.kill()
        sys.exit(f"hello did not start: {line!r}")
    return proc, int(m.group(1))


def stop_server(proc, name="hello", timeout=20):
    """SIGTERM, then a check that it exited 0 within timeout seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "timeout"
    check(rc == 0, f"{name} exits 0 after SIGTERM (got {rc})")
    return rc == 0


def curl(*args, timeout=20):
    """Runs curl -sS; returns (exit status, body bytes, stderr text)."""
    r = subprocess.run(["curl", "-s", "-S", "--max-time", str(timeout), *args],
                       capture_output=True)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def finish():
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)
