"""`make bench` keeps working: bench/run, in a one-second-per-test smoke run, measures the
floor, nginx and the techempower app (each first checked against the TechEmpower rules),
holds 1,000 idle connections on the Manouche worker, and renders the template benchmark
page with Manouche, Django and the C floor; it must exit 0 (every contestant ran, no rule
broken, the three pages byte-identical) and record non-zero figures without socket errors.
(test_techempower_bench_db.py does the same for the database benchmarks.)"""

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
    path = os.path.join(BUILD, "test-bench-results.json")
    out = subprocess.run([sys.executable, os.path.join(SOURCE, "bench", "run"), "--build", BUILD, "--out", path,
                          "--duration", "1", "--rounds", "1", "--connections", "64", "--idle", "1000", "--idle-on", "manouche",
                          "--tests", "plaintext-pipelined,json",
                          "--template-seconds", "0.1", "--skip", "db,orm"],
                         capture_output=True, text=True, timeout=120)
    print(out.stdout[-3000:])
    check(out.returncode == 0, "bench/run exited %d: %s" % (out.returncode, out.stderr[-2000:]))
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        check(False, "no results in %s: %s" % (path, e))
        return 1
    for server in ("floor", "nginx", "manouche"):
        entry = res["http"].get(server, {})
        check(not entry.get("rule_problems") and "skipped" not in entry,
              "%s: %s" % (server, entry.get("rule_problems") or entry.get("skipped")))
        for test in ("plaintext-pipelined", "json"):
            r = entry.get(test)
            check(r is not None and r["req_per_s"] > 0 and r["errors"] == 0,
                  "%s %s: %s" % (server, test, r))
    idle = res.get("idle", {}).get("manouche", {})
    check(idle.get("opened") == 1000 and idle.get("still_open") == 1000,
          "idle connections on manouche: %s" % idle)
    check(0 < idle.get("rss_mib", 0) < 100, "manouche worker RSS with 1,000 idle: %s" % idle)
    tpl = res.get("template", {})
    for name in ("manouche", "floor", "django"):
        check(tpl.get(name, {}).get("renders_per_s", 0) > 0, "template %s: %s" % (name, tpl.get(name)))
        check(tpl.get("identical", {}).get(name) is True,
              "template %s: page differs from Django's" % name)
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
