"""`make bench`'s database part keeps working: bench/run, one second per test, measures the
TechEmpower db, queries-20 and updates-20 tests on SQLite for the techempower app and
bench-dbfloor (each first checked against the rules); it must exit 0 and record non-zero
figures without socket errors or non-2xx answers."""

import json
import os
import subprocess
import sys

SOURCE = os.environ.get("MN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("MN_BUILD_DIR", "build")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, flush=True)


def main():
    # its own file: the other bench test runs at the same time and writes its figures too
    path = os.path.join(BUILD, "test-bench_db-results.json")
    out = subprocess.run([sys.executable, os.path.join(SOURCE, "bench", "run"), "--build", BUILD, "--out", path,
                          "--only", "db,sqlite", "--db-duration", "1"],
                         capture_output=True, text=True, timeout=120)
    print(out.stdout[-2000:])
    check(out.returncode == 0, "bench/run --only db,sqlite exited %d: %s" % (
        out.returncode, out.stderr[-2000:]))
    try:
        with open(path) as f:
            db = json.load(f).get("db", {}).get("sqlite", {})
    except (OSError, ValueError) as e:
        check(False, "no results in %s: %s" % (path, e))
        db = {}
    for server in ("dbfloor", "manouche"):
        entry = db.get(server, {})
        check(not entry.get("rule_problems") and "skipped" not in entry,
              "sqlite %s: %s" % (server, entry.get("rule_problems") or entry.get("skipped")))
        for test in ("db", "queries-20", "updates-20"):
            r = entry.get(test)
            check(r is not None and r["req_per_s"] > 0 and r["errors"] == 0,
                  "sqlite %s %s: %s" % (server, test, r))
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
