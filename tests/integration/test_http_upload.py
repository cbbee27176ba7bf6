"""multipart/form-data uploads with curl -F against build/bin/hello: fields, a small file kept
in memory, a 5 MB file streamed to a temporary file (above upload_memory) with its bytes
intact, the temporary file gone when the request ends, chunked multipart, and a malformed body
answered with 400."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

BIN = os.environ.get("MN_BIN_DIR", "build/bin")
FAILURES = []


def check(cond, what):
    print("ok  " if cond else "FAIL", what)
    if not cond:
        FAILURES.append(what)


def fnv1a(data):
    h = 1469598103934665603
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def curl(*args):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "30", *args], capture_output=True)
    return r.returncode, r.stdout.decode(errors="replace")


def main():
    work = tempfile.mkdtemp(prefix="mn-upload-test-")
    tmp = os.path.join(work, "tmp")
    os.mkdir(tmp)
    env = dict(os.environ, TMPDIR=tmp)
    proc = subprocess.Popen([os.path.join(BIN, "hello"), "--single", "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    m = re.search(r":(\d+)$", proc.stdout.readline().strip())
    if not m:
        proc.kill()
        sys.exit("hello did not start")
    port = int(m.group(1))
    url = f"http://127.0.0.1:{port}/upload"
    try:
        small = b"hello upload\n"
        big = os.urandom(5 * 1000 * 1000)
        with open(os.path.join(work, "small.txt"), "wb") as f:
            f.write(small)
        with open(os.path.join(work, "big.bin"), "wb") as f:
            f.write(big)
        rc, out = curl("-F", "title=My file", "-F", "tag=a", "-F", "tag=b",
                       "-F", f"doc=@{work}/small.txt", url)
        check(rc == 0 and "field title=My file\nfield tag=a\nfield tag=b\n" in out,
              "multipart fields, repeated names kept in order")
        check(f"file doc name=small.txt type=text/plain size={len(small)} fnv={fnv1a(small)} "
              "where=memory" in out, f"small file kept in memory, bytes intact ({out!r})")
        big_fnv = fnv1a(big)
        rc, out = curl("-F", f"blob=@{work}/big.bin;type=application/x-test", url)
        check(f"file blob name=big.bin type=application/x-test size={len(big)} fnv={big_fnv} "
              "where=disk" in out, f"5 MB file streamed to a temporary file, bytes intact")
        m = re.search(r"where=disk(\S+)", out)
        check(m is not None and m.group(1).startswith(tmp) and not os.path.exists(m.group(1)),
              "the temporary file was in TMPDIR and is removed when the request ends")
        rc, out = curl("-H", "Transfer-Encoding: chunked", "-F", f"blob=@{work}/big.bin", url)
        check(f"size={len(big)} fnv={big_fnv}" in out, "chunked multipart upload intact")
        check(os.listdir(tmp) == [], f"no temporary file left behind ({os.listdir(tmp)})")
        # Malformed: the closing boundary never comes.
        body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--Xy"
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; "
                  b"boundary=XyZ\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        check(data.startswith(b"HTTP/1.1 400") and b"multipart" in data,
              f"truncated multipart body: 400 naming the problem ({data[-80:]!r})")
        rc, out = curl("-H", "Content-Type: multipart/form-data", "-d", "x", "-w", "%{http_code}",
                       url)
        check(out.endswith("400"), "multipart without a boundary: 400")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        check(rc == 0, f"hello exits 0 after SIGTERM (got {rc})")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
