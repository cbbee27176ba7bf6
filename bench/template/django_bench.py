"""Renders the benchmark page with Django's own template engine (Debian's python3-django),
configured standalone with the cached loader, for as long as asked; prints
"RENDERS n SECONDS s" and writes the last page (UTF-8) to OUT.

    python3 django_bench.py TEMPLATE_DIR CONTEXT.json SECONDS OUT"""
import json
import os
import sys
import time

import django
from django.conf import settings


def main(argv):
    tdir, ctx_path, seconds, out = argv[0], argv[1], float(argv[2]), argv[3]
    settings.configure(USE_I18N=False, USE_TZ=False)
    django.setup()
    from django.template import Context, Engine

    engine = Engine(dirs=[os.path.join(tdir, "templates")], loaders=[
        ("django.template.loaders.cached.Loader",
         ["django.template.loaders.filesystem.Loader"])])
    with open(ctx_path) as f:
        data = json.load(f)
    tpl = engine.get_template("page.html")
    page = tpl.render(Context(data))  # warms the cached loader
    n = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds or n < 3:
        page = tpl.render(Context(data))
        n += 1
        elapsed = time.perf_counter() - start
    with open(out, "wb") as f:
        f.write(page.encode("utf-8"))
    print("RENDERS %d SECONDS %.6f" % (n, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
