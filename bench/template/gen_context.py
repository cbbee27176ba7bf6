"""Writes context.json for the template benchmark: 1,000 deterministic rows whose fields
exercise autoescaping (&, <, >, quotes), floats with up to two decimals, falsy numbers,
booleans and lists. Run it again only to change the data (the floor must follow)."""
import json
import os
import random

rng = random.Random(20261130)
first = ["ada", "grace", "linus", "barbara", "ken", "dennis", "margaret", "edsger", "donald",
         "frances", "john", "radia", "niklaus", "hedy", "alan", "sophie"]
last = ["lovelace", "hopper", "torvalds", "liskov", "thompson", "ritchie", "hamilton",
        "dijkstra", "knuth", "allen", "mccarthy", "perlman", "wirth", "lamarr", "turing",
        "wilson"]
tags = ["new", "vip", "gift", "express", "b2b", "return", "sale"]
notes = ["", "ring twice", "fragile: <glass> & china", "leave at \"door\"", "o'clock delivery",
         "call 555-0100", "no notes", "a > b && b > c"]
rows = []
for i in range(1000):
    f, l = rng.choice(first), rng.choice(last)
    rows.append({
        "name": "%s %s" % (f, l),
        "email": "%s.%s@Example.COM" % (f, l),
        "price": rng.randrange(0, 100000) / 100,
        "qty": rng.choice([0, 1, 2, 3, 5, 8, 13, 21, 144]),
        "active": rng.random() < 0.7,
        "tags": rng.sample(tags, rng.randrange(0, 4)),
        "note": rng.choice(notes),
    })
ctx = {"site_name": "Manouche & Co", "year": 2026, "title": "recent orders", "rows": rows}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "context.json"), "w") as f:
    json.dump(ctx, f, separators=(",", ":"))
    f.write("\n")
