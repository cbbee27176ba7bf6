#!/usr/bin/env python3
"""bench/orm/burst.py HOST PORT N PATH [TIMEOUT]

N concurrent HTTP requests, exactly one per connection (what wrk cannot do): the N
connections are opened first, then one `GET PATH` is written on each, all at once, and every
response is read. Prints one line, `RESULT {json}`:

  requests, connected      N, and how many connections opened
  connect_seconds          the time the N connections took to open (not in the figure)
  seconds                  from the first request written to the last response read
  statuses                 {"200": N, ...}; "error" counts connections that gave no response
  latency_ms               min, p50, p90, max from the burst's start to each response
  errors                   the first few failures, for the report

Exits 0 when every request got a response (whatever its status), 1 otherwise. bench/run
uses it for the PostgreSQL concurrency figure (issue 5): 1,000 requests on 1,000
connections, each running a 50 ms query, against one worker with a pool of 10.
"""

import asyncio
import json
import resource
import sys
import time

CONNECT_AT_ONCE = 200  # connections being opened at any moment (a gentle start for accept)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want and (hard == resource.RLIM_INFINITY or hard > soft):
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


async def connect_all(host, port, n):
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one():
        async with gate:
            return await asyncio.open_connection(host, port)

    return await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)


async def read_response(reader):
    """The status of one response, its body read to its Content-Length."""
    line = await reader.readline()
    if not line:
        raise ConnectionError("closed before a response")
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError("bad status line %r" % line[:80])
    status = int(parts[1])
    length = 0
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def burst(host, port, n, path, timeout):
    c0 = time.monotonic()
    conns = await connect_all(host, port, n)
    connect_s = time.monotonic() - c0
    errors = []
    open_conns = []
    for c in conns:
        if isinstance(c, BaseException):
            errors.append("connect: %s" % c)
        else:
            open_conns.append(c)
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
           % (path, host, port)).encode()
    t0 = time.monotonic()
    for _, w in open_conns:
        w.write(req)
    done = []

    async def one(reader):
        status = await read_response(reader)
        done.append(time.monotonic() - t0)
        return status

    try:
        got = await asyncio.wait_for(
            asyncio.gather(*(one(r) for r, _ in open_conns), return_exceptions=True), timeout)
    except asyncio.TimeoutError:
        got = [asyncio.TimeoutError("no response within %g s" % timeout)] * len(open_conns)
    seconds = (max(done) if done else time.monotonic() - t0)
    for _, w in open_conns:
        w.close()
    statuses = {}
    for g in got:
        key = str(g) if isinstance(g, int) else "error"
        statuses[key] = statuses.get(key, 0) + 1
        if not isinstance(g, int) and len(errors) < 5:
            errors.append("%s: %s" % (type(g).__name__, g))
    statuses["error"] = statuses.get("error", 0) + (n - len(open_conns))
    if not statuses["error"]:
        del statuses["error"]
    lat = sorted(done)

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else None

    return {"requests": n, "connected": len(open_conns), "connect_seconds": round(connect_s, 3),
            "seconds": round(seconds, 3), "statuses": statuses,
            "latency_ms": {"min": pct(0), "p50": pct(0.5), "p90": pct(0.9), "max": pct(1.0)},
            "errors": errors[:5]}


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.split("\n")[0])
    host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    raise_nofile(n)
    r = asyncio.run(burst(host, port, n, path, timeout))
    print("RESULT " + json.dumps(r, sort_keys=True), flush=True)
    return 0 if r["connected"] == n and "error" not in r["statuses"] else 1


if __name__ == "__main__":
    sys.exit(main())
