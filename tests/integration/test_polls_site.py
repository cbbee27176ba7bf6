"""The polls demo over real sockets with curl: pages, errors, APPEND_SLASH, hosts, gzip, 304,
security headers, the management commands, bad settings and a clean SIGTERM exit.

Runs build/bin/polls (MN_BIN_DIR) with `runserver 127.0.0.1:0` and reads the port from the
"Starting development server at http://127.0.0.1:PORT/" line, as a user would."""
import gzip
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.path.join(os.environ.get("MN_BIN_DIR", "build/bin"), "polls")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def env_with(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "WORKERS", "PORT", "LOG_FORMAT")}
    # the demo keeps its data in DATABASE_URL: a temporary one, fresh for each run
    env["DATABASE_URL"] = "sqlite:///%s/db.sqlite3" % DB_DIR.name
    env.update(extra)
    return env


DB_DIR = tempfile.TemporaryDirectory()


def start(args, env):
    p = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         text=True)
    line = p.stdout.readline()
    m = re.search(r"http://[^:]+:(\d+)/", line)
    if not m:
        p.kill()
        out, err = p.communicate()
        raise SystemExit("server did not start: %r %r %r" % (line, out, err))
    return p, int(m.group(1))


def curl(port, path, *opts):
    """(status, headers dict lower-case -> value, body bytes)"""
    with tempfile.NamedTemporaryFile() as hdr, tempfile.NamedTemporaryFile() as body:
        cmd = ["curl", "-s", "-o", body.name, "-D", hdr.name, "--max-time", "10"]
        cmd += list(opts) + ["http://127.0.0.1:%d%s" % (port, path)]
        subprocess.run(cmd, check=True)
        raw = open(hdr.name, "rb").read().decode("latin-1")
        data = open(body.name, "rb").read()
    blocks = [b for b in raw.split("\r\n\r\n") if b.strip()]
    lines = blocks[-1].split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, data


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "timeout"
    return rc


def test_development_server():
    p, port = start(["runserver", "127.0.0.1:0"], env_with())
    try:
        s, h, b = curl(port, "/polls/")
        check(s == 200, "index 200 (%d)" % s)
        check(b'<a href="/polls/1/">What&#x27;s up?</a>' in b, "index lists questions")
        check(b'href="/static/polls/style.css"' in b, "index links the style sheet")
        check(h.get("content-type") == "text/html; charset=utf-8", "index content type")

        s, h, b = curl(port, "/static/polls/style.css")
        check(s == 200 and b"font-family" in b, "static CSS served")
        check(h.get("content-type", "").startswith("text/css"), "CSS content type")

        s, h, b = curl(port, "/polls/1/")
        check(s == 200 and b'action="/polls/1/vote/"' in b, "detail form posts to vote")
        check(b"Just hacking again" in b, "detail shows choices")

        s, h, b = curl(port, "/polls/1/vote/", "-X", "POST", "-d", "choice=2")
        check(s == 302 and h.get("location") == "/polls/1/results/", "vote redirects (%d)" % s)
        s, h, b = curl(port, "/polls/1/results/")
        check(b"The sky -- 1 vote</li>" in b, "results count the vote")
        s, h, b = curl(port, "/polls/1/vote/", "-X", "POST", "-d", "nothing=1")
        check(s == 200 and b"You didn&#x27;t select a choice." in b, "vote without choice")

        s, h, b = curl(port, "/polls/999/")
        check(s == 404, "unknown question 404 (%d)" % s)
        s, h, b = curl(port, "/nowhere/")
        check(s == 404 and b"polls/&lt;int:question_id&gt;/" in b, "DEBUG 404 lists patterns")

        s, h, b = curl(port, "/polls/1/vote/")
        check(s == 405 and h.get("allow") == "POST", "GET on vote is 405 with Allow (%d)" % s)

        s, h, b = curl(port, "/polls/1?x=y")
        check(s == 301 and h.get("location") == "/polls/1/?x=y", "APPEND_SLASH redirect")
        s, h, b = curl(port, "/polls/1/vote", "-X", "POST", "-d", "choice=1")
        check(s == 500 and b"APPEND_SLASH" in b, "POST without slash explains in DEBUG")

        s, h, b = curl(port, "/polls/", "-H", "Host: evil.example")
        check(s == 400, "bad Host is 400 (%d)" % s)
        s, h, b = curl(port, "/polls/", "-H", "Host: localhost:8000")
        check(s == 200, "localhost allowed in DEBUG (%d)" % s)

        s, h, b = curl(port, "/polls/", "-H", "Accept-Encoding: gzip")
        check(h.get("content-encoding") == "gzip", "gzip negotiated")
        check("accept-encoding" in h.get("vary", "").lower(), "Vary: Accept-Encoding")
        check(b"What&#x27;s up?" in gzip.decompress(b), "gzip body decodes")

        s, h, b = curl(port, "/polls/")
        etag = h.get("etag")
        check(etag is not None, "ETag on pages")
        s, h, b = curl(port, "/polls/", "-H", "If-None-Match: %s" % etag)
        check(s == 304 and b == b"", "If-None-Match gives 304 (%d)" % s)

        s, h, b = curl(port, "/polls/")
        check(h.get("x-content-type-options") == "nosniff", "nosniff")
        check(h.get("referrer-policy") == "same-origin", "Referrer-Policy")
        check("x-request-id" in h, "X-Request-ID")

        s, h, b = curl(port, "/polls/api/questions/")
        check(s == 200 and h.get("content-type") == "application/json", "JSON API")
    finally:
        rc = stop(p)
    check(rc == 0, "runserver exits 0 on SIGTERM (%s)" % rc)


def test_production_pages():
    env = env_with(SECRET_KEY="integration-test-secret-key", ALLOWED_HOSTS="127.0.0.1",
                   DEBUG="false")
    p, port = start(["runserver", "127.0.0.1:0"], env)
    try:
        s, h, b = curl(port, "/nowhere/")
        check(s == 404 and b"<h1>Not Found</h1>" in b and b"polls/" not in b, "plain 404")
        s, h, b = curl(port, "/polls/", "-H", "Host: localhost")
        check(s == 400 and b"Bad Request (400)" in b, "production bad Host 400")
    finally:
        rc = stop(p)
    check(rc == 0, "production runserver exits 0 (%s)" % rc)
    err = p.stderr.read()
    check('"status":404' in err, "JSON access log in production: %r" % err[-300:])


def test_commands():
    r = subprocess.run([BIN, "urls"], capture_output=True, text=True, env=env_with())
    check(r.returncode == 0, "urls exits 0")
    check(re.search(r"/polls/<int:question_id>/\s+polls:detail", r.stdout) is not None,
          "urls lists polls:detail: %r" % r.stdout)
    r = subprocess.run([BIN, "check"], capture_output=True, text=True, env=env_with())
    check(r.returncode == 0 and "no issues" in r.stdout, "check passes: %r" % (r.stdout + r.stderr))
    r = subprocess.run([BIN, "help"], capture_output=True, text=True, env=env_with())
    check(r.returncode == 0 and "runserver" in r.stdout and "questions" in r.stdout, "help")
    r = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, env=env_with())
    check(r.returncode == 0 and "--workers" in r.stdout, "serve --help")
    r = subprocess.run([BIN, "frobnicate"], capture_output=True, text=True, env=env_with())
    check(r.returncode != 0 and "frobnicate" in r.stderr, "unknown command fails")

    r = subprocess.run([BIN, "runserver"], capture_output=True, text=True,
                       env=env_with(WORKERS="abc"))
    check(r.returncode != 0, "bad WORKERS exits non-zero")
    check("WORKERS: 'abc' is not an integer >= 1" in r.stderr, "bad WORKERS message: %r" % r.stderr)
    check(len(r.stderr.strip().splitlines()) == 1, "one line on stderr: %r" % r.stderr)
    r = subprocess.run([BIN, "serve"], capture_output=True, text=True, env=env_with())
    check(r.returncode != 0 and "SECRET_KEY" in r.stderr, "serve needs SECRET_KEY: %r" % r.stderr)
    r = subprocess.run([BIN, "runserver", "nonsense:port"], capture_output=True, text=True,
                       env=env_with())
    check(r.returncode != 0 and "nonsense:port" in r.stderr, "bad address is refused")

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, ".env"), "w") as f:
            f.write("DEBUG=perhaps\n")
        r = subprocess.run([BIN, "check"], capture_output=True, text=True, env=env_with(), cwd=d)
        check(r.returncode != 0 and "DEBUG: 'perhaps' is not a boolean" in r.stderr,
              ".env value checked: %r" % r.stderr)
        r = subprocess.run([BIN, "check"], capture_output=True, text=True,
                           env=env_with(DEBUG="true"), cwd=d)
        check(r.returncode == 0, "environment wins over .env: %r" % r.stderr)


def test_settings_reach_the_server():
    env = env_with(DATA_UPLOAD_MAX_MEMORY_SIZE="100", SECURE_HSTS_SECONDS="3600",
                   TRUSTED_PROXIES="127.0.0.1", SECURE_SSL_REDIRECT="true")
    p, port = start(["runserver", "127.0.0.1:0"], env)
    try:
        s, h, b = curl(port, "/polls/1/vote/", "-X", "POST", "-H", "X-Forwarded-Proto: https",
                       "--data-binary", "choice=1&" + "x" * 500)
        check(s == 413, "DATA_UPLOAD_MAX_MEMORY_SIZE gives 413 (%d)" % s)
        s, h, b = curl(port, "/polls/?a=1")
        check(s == 301 and h.get("location") == "https://127.0.0.1:%d/polls/?a=1" % port,
              "SECURE_SSL_REDIRECT (%d %s)" % (s, h.get("location")))
        s, h, b = curl(port, "/polls/", "-H", "X-Forwarded-Proto: https")
        check(s == 200 and h.get("strict-transport-security") == "max-age=3600",
              "HSTS behind a trusted proxy (%d %s)" % (s, h.get("strict-transport-security")))
    finally:
        rc = stop(p)
    check(rc == 0, "runserver exits 0 (%s)" % rc)


def test_serve_workers():
    env = env_with(SECRET_KEY="integration-test-secret-key", ALLOWED_HOSTS="127.0.0.1")
    p, port = start(["serve", "127.0.0.1:0", "--workers", "2"], env)
    try:
        for _ in range(4):
            s, h, b = curl(port, "/polls/")
            check(s == 200, "serve answers (%d)" % s)
        check("x-content-type-options" in h and "etag" in h, "serve runs the middleware")
        p.send_signal(signal.SIGHUP)  # new workers, old ones drained
        time.sleep(0.5)
        for _ in range(4):
            s, h, b = curl(port, "/polls/")
            check(s == 200, "serve answers after SIGHUP (%d)" % s)
        check(p.poll() is None, "serve still running after SIGHUP")
    finally:
        rc = stop(p)
    check(rc == 0, "serve exits 0 on SIGTERM (%s)" % rc)


if __name__ == "__main__":
    test_commands()
    test_development_server()
    test_production_pages()
    test_settings_reach_the_server()
    test_serve_workers()
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")
