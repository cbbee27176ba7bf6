#!/usr/bin/python3
"""Regenerates expected/: Django's own collectstatic (Debian's python3-django, run with
/usr/bin/python3) over extra/ (STATICFILES_DIRS) and app/static (an app folder), with
ManifestStaticFilesStorage. tests/unit/web/test_static_files.c compares Manouche's output
with the manifest paths and the rewritten CSS and JS written here.

Django 3.2 predates the sourceMappingURL patterns that Django 4+ (and so Django 6) has by
default; they are added here in 3.2's positional form, with the same expressions."""
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
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage as Storage
css_map = (r"(?m)^(?P<matched>/\*#[ \t](?-i:sourceMappingURL)=(?P<url>.*)[ \t]*\*/)$",
           "/*# sourceMappingURL=%s */")
js_map = (r"(?m)^(?P<matched>//# (?-i:sourceMappingURL)=(?P<url>.*))$", "//# sourceMappingURL=%s")
Storage.patterns = (("*.css", Storage.patterns[0][1] + (css_map,)), ("*.js", (js_map,)))
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
    if name.endswith((".css", ".js")):
        dst = os.path.join(out, hashed.replace("/", "__"))
        shutil.copy(os.path.join(root, hashed), dst)
shutil.rmtree(root)
