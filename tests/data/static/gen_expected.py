#!/usr/bin/python3
"""Regenerates expected/: Django's own collectstatic (Debian's python3-django, run with
/usr/bin/python3) over extra/ (STATICFILES_DIRS) and app/static (an app folder), with
ManifestStaticFilesStorage. tests/unit/web/test_static_files.c compares Manouche's output
with the manifest paths and the rewritten CSS written here."""
import json, os, shutil, sys, tempfile
here = os.path.dirname(os.path.abspath(__file__))
import django
from django.conf import settings
root = tempfile.mkdtemp()
settings.configure(
    INSTALLED_APPS=["django.contrib.staticfiles"], STATIC_URL="/static/", STATIC_ROOT=root,
    STATICFILES_DIRS=[os.path.join(here, "extra"), os.path.join(here, "app", "static")],
    STATICFILES_STORAGE="django.contrib.staticfiles.storage.ManifestStaticFilesStorage")
django.setup()
from django.core.management import call_command
call_command("collectstatic", interactive=False, verbosity=0)
out = os.path.join(here, "expected")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
with open(os.path.join(root, "staticfiles.json")) as f:
    paths = json.load(f)["paths"]
with open(os.path.join(out, "paths.json"), "w") as f:
    json.dump(paths, f, indent=1, sort_keys=True)
for name, hashed in paths.items():
    if name.endswith(".css"):
        dst = os.path.join(out, hashed.replace("/", "__"))
        shutil.copy(os.path.join(root, hashed), dst)
shutil.rmtree(root)
