"""The TechEmpower app's database tests answer per that benchmark's rules, over real sockets,
on SQLite and (through scripts/with-pg, when PostgreSQL is installed) on PostgreSQL:

- first start creates and fills the database: World 10,000 rows (randomNumber 1..10000),
  Fortune the 12 rows of TechEmpower's setup scripts;
- /db: one {"id", "randomNumber"} object; /queries?queries=N: an array of N of them, N clamped
  to 1..500, a missing, empty or non-numeric value counting as 1;
- /updates?queries=N: the same clamping, and the returned values are what the database holds
  afterwards (checked with the database's own client), also under concurrent requests;
- /fortunes: the 12 rows plus the one added at request time, sorted by message, HTML-escaped,
  text/html; charset=utf-8;
- every response has Server, Date, Content-Type and a correct Content-Length;
- on PostgreSQL, the statement counts TechEmpower's verifier reads from pg_stat_statements, on
  a server whose workers have not served yet: one SELECT per World row, one UPDATE per
  /updates request, one SELECT per /fortunes, nothing else naming those tables."""

import glob
import html
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_techempower as base  # noqa: E402

httpload = base.httpload
check = base.check
failures = base.failures

# As TechEmpower's setup scripts (toolset/databases/*/create*.sql) and its verifier's expected
# page have them, in id order.
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u2014 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af",
]
EXTRA = "Additional fortune added at request time."


class Db:
    """Reads the database behind the app's back, with its own client."""

    def __init__(self, url):
        self.url = url

    def rows(self, sql):
        return self.many([sql])[0]

    def many(self, sqls):
        """The rows of each statement; one psql run for all of them (psql starts slowly)."""
        if self.url.startswith("sqlite:"):
            with sqlite3.connect(self.url[len("sqlite:///"):], timeout=10) as c:
                return [[tuple(r) for r in c.execute(sql)] for sql in sqls]
        args = ["psql", "-X", "-A", "-t", "-F", "|"]
        for sql in sqls:
            args += ["-c", sql, "-c", "SELECT '--end--'"]
        out = subprocess.run(args + [self.url], capture_output=True, text=True, timeout=20)
        check(out.returncode == 0, "psql failed: %s" % out.stderr[:300])
        results, cur = [], []
        for line in out.stdout.splitlines():
            if line == "--end--":
                results.append(cur)
                cur = []
            elif line:
                cur.append(tuple(int(x) if re.fullmatch(r"-?\d+", x) else x
                                 for x in line.split("|")))
        return results + [[]] * (len(sqls) - len(results))


def get(port, path):
    with __import__("socket").create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(httpload.request_bytes(path))
        got = base.read_responses(s, 1, timeout=30)
    check(len(got) == 1, "%s: no response" % path)
    return got[0] if got else None


UPDATED = set()  # every id an /updates answer named: /db's row is checked only if not among them


def get_json(port, path):
    r = get(port, path)
    if r is None:
        return None
    check(r.status == 200, "%s: status %d: %r" % (path, r.status, r.body[:200]))
    check(r.headers.get("content-type", "") == "application/json",
          "%s: Content-Type %r" % (path, r.headers.get("content-type")))
    base.check_common(r, path)
    try:
        body = json.loads(r.body)
        if path.startswith("/updates") and isinstance(body, list):
            UPDATED.update(x["id"] for x in body if isinstance(x, dict) and "id" in x)
        return body
    except ValueError:
        check(False, "%s: not JSON: %r" % (path, r.body[:200]))
        return None


def is_world(w):
    return (isinstance(w, dict) and sorted(w) == ["id", "randomNumber"]
            and all(isinstance(w[k], int) and 1 <= w[k] <= 10000 for k in w))


def test_endpoints(port, db, label, full):
    counts, stored = db.many([
        "SELECT (SELECT COUNT(*) FROM world), (SELECT COUNT(*) FROM fortune), "
        "(SELECT MIN(randomnumber) FROM world), (SELECT MAX(randomnumber) FROM world)",
        "SELECT id, message FROM fortune"])
    check(counts and counts[0][:2] == (10000, 12), "%s: world/fortune rows %r" % (label, counts))
    check(counts and counts[0][2] >= 1 and counts[0][3] <= 10000,
          "%s: randomNumber range %r" % (label, counts))
    stored = dict(stored)
    check(stored == dict(enumerate(FORTUNES, 1)), "%s: fortune rows %r" % (label, stored))

    w = get_json(port, "/db")
    check(is_world(w), "%s /db: %r" % (label, w))
    r = get(port, "/plaintext")
    check(r is not None and r.body == b"Hello, World!", "%s /plaintext" % label)
    if not full:
        return
    for q, n in (("", 1), ("?queries=", 1), ("?queries=foo", 1), ("?queries=0", 1),
                 ("?queries=-3", 1), ("?queries=1", 1), ("?queries=7", 7), ("?queries=500", 500),
                 ("?queries=100000", 500), ("?queries=2x", 1)):
        for ep in ("/queries", "/updates") if n <= 7 else ("/queries",):
            got = get_json(port, ep + q)
            check(isinstance(got, list) and len(got) == n and all(map(is_world, got)),
                  "%s %s%s: want an array of %d worlds, got %r" % (label, ep, q, n,
                                                                    str(got)[:200]))

    # Updates persist: what the response says is what the database holds (a row drawn twice
    # keeps its last value). 500 draws from 10,000 rows repeat some id all but surely.
    got = get_json(port, "/updates?queries=500") or []
    want = {w["id"]: w["randomNumber"] for w in got if is_world(w)}
    check(len(got) == 500, "%s /updates?queries=500: %d rows" % (label, len(got)))
    check(len(want) < 500, "%s /updates?queries=500: no id drawn twice" % label)

    # Concurrent updates from several connections (both workers): all answered, all stored.
    results, lock = [], threading.Lock()

    def worker():
        for _ in range(4):
            rows = get_json(port, "/updates?queries=5")
            with lock:
                results.append(rows)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(results) == 24 and all(isinstance(r, list) and len(r) == 5 for r in results),
          "%s: concurrent /updates: %r" % (label, [str(r)[:60] for r in results][:5]))

    r = get(port, "/fortunes")
    if r is not None:
        check(r.status == 200, "%s /fortunes: status %d" % (label, r.status))
        check(r.headers.get("content-type") == "text/html; charset=utf-8",
              "%s /fortunes: Content-Type %r" % (label, r.headers.get("content-type")))
        base.check_common(r, label + " /fortunes")
        body = r.body.decode("utf-8")
        check(body.startswith("<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
                              "<table><tr><th>id</th><th>message</th></tr>"),
              "%s /fortunes: head %r" % (label, body[:150]))
        check(body.endswith("</table></body></html>"), "%s /fortunes: end" % label)
        check("<script>" not in body and "&lt;script&gt;alert(&quot;This should not be displayed"
              in body, "%s /fortunes: the <script> fortune is not escaped" % label)
        rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", body)
        msgs = [html.unescape(m) for _, m in rows]
        expected = sorted([(i, m) for i, m in enumerate(FORTUNES, 1)] + [(0, EXTRA)],
                          key=lambda x: x[1].encode())
        check([(int(i), html.unescape(m)) for i, m in rows] == expected,
              "%s /fortunes: rows %r" % (label, rows))
        check(msgs == sorted(msgs, key=lambda m: m.encode()), "%s /fortunes: not sorted" % label)
        # The whole page, byte for byte, as the rules' example response (the verifier takes
        # &#x27; for &apos;, and nothing may sit between the tags).
        page = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                "<tr><th>id</th><th>message</th></tr>"
                + "".join("<tr><td>%d</td><td>%s</td></tr>" % (i, html.escape(m))
                          for i, m in expected)
                + "</table></body></html>")
        check(body == page, "%s /fortunes: the page differs from the rules' example: %r"
              % (label, body[:300]))

    # What the responses said is what the database holds (for rows the concurrent updates did
    # not touch since); the added fortune is never stored.
    touched = {x["id"] for rows in results if isinstance(rows, list) for x in rows
               if isinstance(x, dict)}
    want = {k: v for k, v in want.items() if k not in touched}
    ids = ",".join(str(i) for i in want) or "0"
    row, have, nfortunes = db.many([
        "SELECT randomnumber FROM world WHERE id = %d" % (w["id"] if is_world(w) else 0),
        "SELECT id, randomnumber FROM world WHERE id IN (%s)" % ids,
        "SELECT COUNT(*) FROM fortune"])
    if is_world(w) and w["id"] not in UPDATED:
        check(row == [(w["randomNumber"],)], "%s /db: %r is not the database's %r"
              % (label, w, row))
    check(dict(have) == want, "%s /updates: database %r, response %r" % (label, have, want))
    check(nfortunes == [(12,)], "%s /fortunes: the extra row was stored" % label)


def enable_statement_stats(url):
    """Loads pg_stat_statements into the with-pg server (a restart), as TechEmpower's database
    image has it; False when this PostgreSQL does not ship it."""
    out = subprocess.run(["psql", "-X", "-A", "-t", "-c", "SELECT 1 FROM pg_available_extensions"
                          " WHERE name = 'pg_stat_statements'", url],
                         capture_output=True, text=True, timeout=20)
    if out.stdout.strip() != "1":
        return False
    with open(os.path.join(os.environ["MN_TEST_PGDATA"], "postgresql.conf"), "a") as f:
        f.write("shared_preload_libraries = 'pg_stat_statements'\n")
    subprocess.run([os.environ["MN_TEST_PG_CTL"], "restart"], capture_output=True, timeout=60)
    out = subprocess.run(["psql", "-X", "-q", "-c", "CREATE EXTENSION IF NOT EXISTS "
                          "pg_stat_statements", url], capture_output=True, text=True, timeout=20)
    check(out.returncode == 0, "pg_stat_statements: %s" % out.stderr[:300])
    return out.returncode == 0


def statement_stats(db, table):
    """(statements, rows selected, rows updated) naming table, counted as the verifier does."""
    rows = db.rows("SELECT COALESCE(SUM(calls), 0), "
                   "COALESCE(SUM(rows) FILTER (WHERE query ~* 'select'), 0), "
                   "COALESCE(SUM(rows) FILTER (WHERE query ~* 'update'), 0) "
                   "FROM pg_stat_statements WHERE query ~* '[[:<:]]%s[[:>:]]' "
                   "AND query !~* 'pg_stat_statements'" % table)
    return rows[0] if rows else (0, 0, 0)


def test_statement_counts(port, db, label):
    """TechEmpower's verifier counts, in pg_stat_statements, the statements that name World or
    Fortune while it sends requests, and fails a test that runs fewer than the rules ask;
    it warns about more. Asked first, of workers that have not served yet, so that nothing a
    worker does on its first requests escapes the count."""
    n = 16
    for path, table, want in (
            ("/db", "world", lambda got: (n, n, 0)),
            ("/queries?queries=20", "world", lambda got: (20 * n, 20 * n, 0)),
            # one batched UPDATE per request, each row of the response written once
            ("/updates?queries=20", "world",
             lambda got: (21 * n, 20 * n, sum(len({w["id"] for w in r}) for r in got))),
            ("/fortunes", "fortune", lambda got: (n, 12 * n, 0))):
        before = statement_stats(db, table)
        got, lock = [], threading.Lock()

        def worker():
            for _ in range(n // 8):
                r = get(port, path) if path == "/fortunes" else get_json(port, path)
                with lock:
                    got.append(r)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = statement_stats(db, table)
        if path.startswith("/updates") and not all(isinstance(r, list) for r in got):
            continue  # (get_json said why)
        have = tuple(a - b for a, b in zip(after, before))
        check(have == want(got), "%s %s x %d: %r statements/rows read/rows updated on %s, "
              "the rules ask for %r" % (label, path, n, have, table, want(got)))


def serve(url, tmp, label, full=True, count_statements=False):
    e = base.env()
    e["DATABASE_URL"] = url
    port = httpload.free_port()
    proc = subprocess.Popen([base.BIN, "serve", "127.0.0.1:%d" % port, "--workers", "2"], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=tmp)
    try:
        if not httpload.wait_for_port("127.0.0.1", port, 60, proc):
            check(False, "%s: serve did not listen: %s" % (label, proc.stdout.read().decode(
                errors="replace")[-1000:] if proc.poll() is not None else "still running"))
            return
        if count_statements:
            test_statement_counts(port, Db(url), label)
        test_endpoints(port, Db(url), label, full)
        proc.send_signal(signal.SIGTERM)
        try:
            check(proc.wait(20) == 0, "%s: SIGTERM: exit status %s" % (label, proc.returncode))
        except subprocess.TimeoutExpired:
            check(False, "%s: still running 20 s after SIGTERM" % label)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main():
    if not os.path.exists(base.BIN):
        print("FAIL: %s was not built" % base.BIN)
        return 1
    if "--pg" in sys.argv:
        url = os.environ["MN_TEST_DATABASE_URL"]
        counts = enable_statement_stats(url)
        if not counts:
            print("SKIP postgresql statement counts: no pg_stat_statements")
        with tempfile.TemporaryDirectory() as tmp:
            serve(url, tmp, "postgresql", count_statements=counts)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "te.sqlite3")
            serve("sqlite:///" + path, tmp, "sqlite")
            check(os.path.exists(path), "sqlite: %s was not created" % path)
            serve("sqlite:///" + path, tmp, "sqlite again", full=False)
        have_pg = shutil.which("psql") and glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if not have_pg:
            print("SKIP postgresql: not installed (scripts/install-deps installs it)")
        else:
            rc = subprocess.run([os.path.join(base.SOURCE, "scripts", "with-pg"), sys.executable,
                                 os.path.abspath(__file__), "--pg"], timeout=300).returncode
            check(rc == 0, "postgresql run: exit %d" % rc)
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
