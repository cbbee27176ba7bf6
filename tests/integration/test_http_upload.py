"""multipart/form-data uploads with curl -F against build/bin/hello: fields, a small file kept
in memory, a 5 MB file streamed to a temporary file (above upload_memory) with its bytes
intact, the temporary file gone when the request ends, chunked multipart, and a malformed body
answered with 400."""
import os
import re
import shutil
import socket
import tempfile

from hellolib import check, curl, finish, start_server, stop_server


def fnv1a(data):
    h = 1469598103934665603
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def curl_text(*args):
    rc, out, _ = curl(*args, timeout=30)
    return rc, out.decode(errors="replace")


def main():
    work = tempfile.mkdtemp(prefix="mn-upload-test-")
    tmp = os.path.join(work, "tmp")
    os.mkdir(tmp)
    env = dict(os.environ, TMPDIR=tmp)
    proc, port = start_server(env=env)
    url = f"http://127.0.0.1:{port}/upload"
    try:
        small = b"hello upload\n"
        big = os.urandom(5 * 1000 * 1000)
        with open(os.path.join(work, "small.txt"), "wb") as f:
            f.write(small)
        with open(os.path.join(work, "big.bin"), "wb") as f:
            f.write(big)
        rc, out = curl_text("-F", "title=My file", "-F", "tag=a", "-F", "tag=b",
                            "-F", f"doc=@{work}/small.txt", url)
        check(rc == 0 and "field title=My file\nfield tag=a\nfield tag=b\n" in out,
              "multipart fields, repeated names kept in order")
        check(f"file doc name=small.txt type=text/plain size={len(small)} fnv={fnv1a(small)} "
              "where=memory" in out, f"small file kept in memory, bytes intact ({out!r})")
        big_fnv = fnv1a(big)
        rc, out = curl_text("-F", f"blob=@{work}/big.bin;type=application/x-test", url)
        check(f"file blob name=big.bin type=application/x-test size={len(big)} fnv={big_fnv} "
              "where=disk" in out, f"5 MB file streamed to a temporary file, bytes intact")
        m = re.search(r"where=disk(\S+)", out)
        check(m is not None and m.group(1).startswith(tmp) and not os.path.exists(m.group(1)),
              "the temporary file was in TMPDIR and is removed when the request ends")
        rc, out = curl_text("-H", "Transfer-Encoding: chunked", "-F", f"blob=@{work}/big.bin", url)
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
        rc, out = curl_text("-H", "Content-Type: multipart/form-data", "-d", "x", "-w",
                            "%{http_code}", url)
        check(out.endswith("400"), "multipart without a boundary: 400")
    finally:
        stop_server(proc, "hello", timeout=15)
        shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
