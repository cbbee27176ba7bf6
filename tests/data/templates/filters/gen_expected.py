#!/usr/bin/python3
"""Writes NAME.out for every NAME.html here that has a NAME.json, rendered by Django itself
(Debian's python3-django: run with /usr/bin/python3). test_filters.c renders the same pages
with Manouche and compares byte for byte."""
import datetime, decimal, json, os
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
        if len(v) == 1:
            (k, val), = v.items()
            if k == '__safe__':
                return mark_safe(val)
            if k == '__decimal__':
                return decimal.Decimal(val)
            if k == '__date__':
                return datetime.date.fromisoformat(val)
            if k == '__time__':
                return datetime.time.fromisoformat(val)
            if k == '__datetime__':
                return datetime.datetime.fromisoformat(val.replace('Z', '+00:00'))
        return {k: to_py(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_py(x) for x in v]
    return v


engine = engines['django'].engine
for name in sorted(os.listdir(HERE)):
    base = name[:-5]
    if not name.endswith('.html') or not os.path.exists(os.path.join(HERE, base + '.json')):
        continue
    with open(os.path.join(HERE, base + '.json')) as f:
        ctx = to_py(json.load(f))
    out = engine.get_template(name).render(Context(ctx))
    with open(os.path.join(HERE, base + '.out'), 'w') as f:
        f.write(out)
    print('wrote', base + '.out')
