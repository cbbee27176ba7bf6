"""Request limits on the real server with curl: more form fields than
DATA_UPLOAD_MAX_NUMBER_FIELDS or more files than DATA_UPLOAD_MAX_NUMBER_FILES is 400 Bad
Request with a security log line naming the limit (Django's TooManyFieldsSent /
TooManyFilesSent), in both encodings; a body over DATA_UPLOAD_MAX_MEMORY_SIZE stays 413."""
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


def start(tmp, **settings):
    env = dict(os.environ)
    env.update(DEBUG="false", SECRET_KEY="limits-test-secret", ALLOWED_HOSTS="127.0.0.1",
               LOG_FORMAT="text", DATABASE_URL="sqlite:///%s/db.sqlite3" % tmp)
    env.update(settings)
    log = open(os.path.join(tmp, "server.log"), "w+")
    p = subprocess.Popen([BIN, "runserver", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log,
                         env=env, text=True)
    m = re.search(r":(\d+)/", p.stdout.readline())
    if not m:
        p.kill()
        raise SystemExit("server did not start")
    return p, int(m.group(1)), log


def curl(port, path, *args):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          "http://127.0.0.1:%d%s" % (port, path)] + list(args),
                         capture_output=True, text=True, timeout=30)
    return int(out.stdout or 0)


def stop(p, log):
    p.terminate()
    p.wait(timeout=10)
    log.seek(0)
    return log.read()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        fields = os.path.join(tmp, "fields.txt")
        with open(fields, "w") as f:
            f.write("&".join("f%d=1" % i for i in range(1000)) + "&choice=1")
        files = ["-F", "choice=1"]
        for i in range(101):
            files += ["-F", "f%d=@%s;filename=f%d.txt" % (i, fields, i)]

        p, port, log = start(tmp)
        try:
            status = curl(port, "/polls/1/vote/", "--data-binary", "@" + fields)
            check(status == 400, "1001 urlencoded fields: 400 (got %d)" % status)
            status = curl(port, "/polls/1/vote/", *files)
            check(status == 400, "101 files: 400 (got %d)" % status)
            status = curl(port, "/polls/?" + "&".join("q%d" % i for i in range(1001)))
            check(status == 400, "1001 query parameters: 400 (got %d)" % status)
            big = os.path.join(tmp, "big.txt")
            with open(big, "w") as f:
                f.write("choice=" + "x" * 2621440)
            status = curl(port, "/polls/1/vote/", "--data-binary", "@" + big)
            check(status == 413, "a body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 (got %d)" % status)
        finally:
            text = stop(p, log)
        check(re.search(r"TooManyFieldsSent.*DATA_UPLOAD_MAX_NUMBER_FIELDS \(1000\)", text),
              "a security log line names the field limit:\n" + text)
        check(re.search(r"TooManyFilesSent.*DATA_UPLOAD_MAX_NUMBER_FILES \(100\)", text),
              "a security log line names the file limit")

        p, port, log = start(tmp, DATA_UPLOAD_MAX_NUMBER_FILES="2",
                             DATA_UPLOAD_MAX_NUMBER_FIELDS="3")
        try:
            two = files[:2] + files[2:6]
            status = curl(port, "/polls/1/vote/", *two)
            check(status in (200, 302), "two files under a limit of 2 reach the view (%d)" % status)
            status = curl(port, "/polls/1/vote/", *files[:8])
            check(status == 400, "three files over a limit of 2: 400 (got %d)" % status)
            status = curl(port, "/polls/1/vote/", "-F", "a=1", "-F", "b=2", "-F", "c=3",
                          "-F", "choice=1")
            check(status == 400, "four multipart fields over a limit of 3: 400 (got %d)" % status)
            status = curl(port, "/polls/1/vote/", "--data", "a=1&b=2&c=3&choice=1")
            check(status == 400, "four urlencoded fields over a limit of 3: 400 (got %d)" % status)
        finally:
            stop(p, log)

        # 0 and None turn the field and part limits off (Django's None): the server must not
        # put its own default of 1000 back.
        many = os.path.join(tmp, "many.txt")
        with open(many, "wb") as f:
            for i in range(1500):
                f.write(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i)
            f.write(b'--b\r\nContent-Disposition: form-data; name="choice"\r\n\r\n1\r\n--b--\r\n')
        p, port, log = start(tmp, DATA_UPLOAD_MAX_NUMBER_FIELDS="0",
                             DATA_UPLOAD_MAX_NUMBER_PARTS="None")
        try:
            status = curl(port, "/polls/1/vote/", "--data-binary", "@" + many,
                          "-H", "Content-Type: multipart/form-data; boundary=b")
            check(status in (200, 302),
                  "1501 multipart fields with the limits off reach the view (%d)" % status)
        finally:
            stop(p, log)
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
