#!/usr/bin/python3
"""Writes NAME.out for every NAME.html here (that has a NAME.json) by rendering it with
Django itself (Debian's python3-django: run with /usr/bin/python3). The integration test
test_render_conformance.sh compares `manouche render` with these files."""
import json, os, sys
import django
from django.conf import settings
from django.utils.safestring import mark_safe

HERE = os.path.dirname(os.path.abspath(__file__))
settings.configure(TEMPLATES=[{'BACKEND': 'django.template.backends.django.DjangoTemplates',
                               'DIRS': [HERE]}], USE_TZ=True, TIME_ZONE='UTC', USE_L10N=True)
django.setup()
from django.template import engines, Context

def to_py(v):
    if isinstance(v, dict):
        if len(v) == 1 and '__safe__' in v:
            return mark_safe(v['__safe__'])
        return {k: to_py(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_py(x) for x in v]
    return v

engine = engines['django'].engine
for name in sorted(os.listdir(HERE)):
    if not name.endswith('.html') or not os.path.exists(os.path.join(HERE, name[:-5] + '.json')):
        continue
    with open(os.path.join(HERE, name[:-5] + '.json')) as f:
        ctx = to_py(json.load(f))
    out = engine.get_template(name).render(Context(ctx))
    with open(os.path.join(HERE, name[:-5] + '.out'), 'w') as f:
        f.write(out)
    print('wrote', name[:-5] + '.out')
