#!/usr/bin/python3
"""Regenerates tag_cases.inc: each case's template is rendered by Django itself (Debian's
python3-django, run with /usr/bin/python3) and the output committed as the expected string.
Cases whose template Django rejects are recorded as expected errors.

    /usr/bin/python3 tests/unit/template/gen_tag_cases.py > tests/unit/template/tag_cases.inc
"""
import json

from gen_common import esc, to_py

import django
from django.conf import settings

settings.configure(
    TEMPLATES=[{
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'OPTIONS': {'loaders': [('django.template.loaders.locmem.Loader', {
            'base.html': '<h1>{% block title %}Base{% endblock %}</h1>{% block body %}B{% endblock %}',
            'mid.html': '{% extends "base.html" %}{% block title %}Mid|{{ block.super }}{% endblock %}',
            'inc.html': '[{{ x }}|{{ y }}]',
            'cyc.html': '{% cycle "a" "b" %}',
        })]},
    }],
    USE_TZ=True, TIME_ZONE='UTC', USE_L10N=True)
django.setup()
from django.template import engines, Context
from django.template.exceptions import TemplateSyntaxError

engine = engines['django'].engine

CTX = {
    'x': 'a<b', 'y': "it's", 'n': 5, 'zero': 0, 'f': 1.5, 't': True, 'no': False, 'none': None,
    'l': [1, 2, 3], 'ls': ['a', 'b', 'c'], 'empty': [], 'es': '',
    'd': {'k': 'v', 'n': 2},
    'nested': [[1, 2], [3, 4]],
    'people': [
        {'name': 'Ann', 'city': 'Paris'}, {'name': 'Bob', 'city': 'Paris'},
        {'name': 'Cy', 'city': 'Rome'}, {'name': 'Di', 'city': 'Paris'}],
    'words': ['x', 'x', 'y', 'y', 'x'],
    'safe': {'__safe__': '<b>bold</b>'},
    'csrf_token': 'tok<en>',
    'tpl': 'inc.html',
}

CASES = [
    # variables
    ('var_plain', 'Hello {{ x }}!'),
    ('var_int_float_bool', '{{ n }} {{ f }} {{ t }} {{ no }} {{ none }}'),
    ('var_missing', '[{{ missing }}][{{ x.missing }}][{{ l.9 }}]'),
    ('var_dict_list_index', '{{ d.k }} {{ l.0 }} {{ nested.1.0 }} {{ ls.2 }}'),
    ('var_string_index', '{{ x.0 }}{{ x.2 }}'),
    ('var_literals', '{{ "lit<" }} {{ 12 }} {{ -3 }} {{ 1.25 }} {{ \'sq\' }}'),
    ('var_safe_not_escaped', '{{ safe }}'),
    ('var_list_repr', '{{ l }} {{ ls }} {{ d }}'),
    ('var_builtin_names', '{{ True }} {{ False }} {{ None }}'),
    ('var_dict_methods', '{% for k in d.keys %}{{ k }}{% endfor %} {% for v in d.values %}{{ v }}{% endfor %}'),
    ('var_spaces_in_braces', '{{x}}{{   n   }}'),
    ('var_not_a_tag_across_lines', '{{ x\n}} and {% if\n%}'),
    ('text_braces', '{ x } {{{ n }}} %} #}'),
    ('comment_inline', 'a{# hidden {{ x }} #}b'),
    ('var_underscore_error', '{{ _private }}'),
    ('var_empty_error', 'a{{ }}b'),
    ('var_remainder_error', '{{ x y }}'),
    # autoescape
    ('autoescape_off', '{% autoescape off %}{{ x }}{% endautoescape %}{{ x }}'),
    ('autoescape_on_nested', '{% autoescape off %}{% autoescape on %}{{ x }}{% endautoescape %}{{ y }}{% endautoescape %}'),
    ('autoescape_bad_arg', '{% autoescape maybe %}{% endautoescape %}'),
    ('autoescape_no_arg', '{% autoescape %}{% endautoescape %}'),
    # comment
    ('comment_block', 'a{% comment %}{{ x }}{% if %}{% endcomment %}b'),
    ('comment_with_note', 'a{% comment "why" %}zzz{% endcomment %}b'),
    ('comment_unclosed', 'a{% comment %}b'),
    # csrf
    ('csrf_token', '{% csrf_token %}'),
    # cycle
    ('cycle_in_loop', '{% for i in l %}{% cycle "r1" "r2" %},{% endfor %}'),
    ('cycle_named', '{% cycle "a" "b" "c" as c %}{% cycle c %}{% cycle c %}{% cycle c %}'),
    ('cycle_silent', '{% for i in l %}{% cycle "x" "y" as v silent %}{{ v }}{% endfor %}'),
    ('cycle_vars', '{% for i in l %}{% cycle x y %}|{% endfor %}'),
    ('cycle_undefined_name', '{% cycle foo %}'),
    ('cycle_bad_flag', '{% cycle "a" "b" as c loud %}'),
    ('resetcycle', '{% for i in l %}{% for j in ls %}{% cycle "A" "B" "C" %}{% endfor %}{% resetcycle %}/{% endfor %}'),
    ('resetcycle_named', '{% for i in l %}{% cycle "1" "2" as a %}{% cycle "x" "y" as b %}{% resetcycle a %}{% endfor %}'),
    ('resetcycle_none', '{% resetcycle %}'),
    # filter tag needs filters: covered in test_render
    # firstof
    ('firstof', '{% firstof missing zero es x %}'),
    ('firstof_none', '[{% firstof missing zero %}]'),
    ('firstof_literal', '{% firstof zero "<fallback>" %}'),
    ('firstof_as', '{% firstof no x as v %}[{{ v }}]'),
    ('firstof_noargs', '{% firstof %}'),
    # for
    ('for_basic', '{% for i in l %}{{ i }}{% endfor %}'),
    ('for_reversed', '{% for i in l reversed %}{{ i }}{% endfor %}'),
    ('for_empty', '{% for i in empty %}{{ i }}{% empty %}none{% endfor %}'),
    ('for_missing_seq', '{% for i in missing %}{{ i }}{% empty %}none{% endfor %}'),
    ('for_forloop_vars', '{% for i in ls %}{{ forloop.counter }}{{ forloop.counter0 }}{{ forloop.revcounter }}{{ forloop.revcounter0 }}{{ forloop.first }}{{ forloop.last }};{% endfor %}'),
    ('for_parentloop', '{% for a in nested %}{% for b in a %}{{ forloop.parentloop.counter }}.{{ forloop.counter }}={{ b }} {% endfor %}{% endfor %}'),
    ('for_unpack', '{% for a, b in nested %}{{ b }}{{ a }}{% endfor %}'),
    ('for_unpack_spaces', '{% for a , b in nested %}{{ a }}-{{ b }} {% endfor %}'),
    ('for_unpack_items', '{% for k, v in d.items %}{{ k }}={{ v }};{% endfor %}'),
    ('for_string', '{% for c in x %}[{{ c }}]{% endfor %}'),
    ('for_dict_keys', '{% for k in d %}{{ k }}{% endfor %}'),
    ('for_var_restored', '{% for x in l %}{{ x }}{% endfor %}{{ x }}'),
    ('for_forloop_outside', '[{{ forloop.counter }}]'),
    ('for_too_few_words', '{% for x in %}{% endfor %}'),
    ('for_no_in', '{% for x of l %}{% endfor %}'),
    ('for_bad_var', '{% for x, in l %}{% endfor %}'),
    ('for_unclosed', '{% for x in l %}'),
    ('for_unpack_mismatch', '{% for a, b, c in nested %}{% endfor %}'),
    # if
    ('if_basic', '{% if t %}yes{% endif %}{% if no %}no{% endif %}'),
    ('if_else', '{% if zero %}a{% else %}b{% endif %}'),
    ('if_elif', '{% if zero %}a{% elif es %}b{% elif n %}c{% else %}d{% endif %}'),
    ('if_and_or_precedence', '{% if t or no and no %}1{% endif %}{% if no and t or t %}2{% endif %}{% if not no and t %}3{% endif %}'),
    ('if_not_precedence', '{% if not t or t %}1{% endif %}{% if not zero == 1 %}2{% endif %}'),
    ('if_comparisons', '{% if n == 5 %}a{% endif %}{% if n != 5 %}b{% endif %}{% if n > 4 %}c{% endif %}{% if n >= 5 %}d{% endif %}{% if n < 5 %}e{% endif %}{% if n <= 5 %}f{% endif %}'),
    ('if_in', '{% if 2 in l %}a{% endif %}{% if "k" in d %}b{% endif %}{% if "<" in x %}c{% endif %}{% if 9 not in l %}d{% endif %}'),
    ('if_is', '{% if none is None %}a{% endif %}{% if t is True %}b{% endif %}{% if n is not None %}c{% endif %}'),
    ('if_string_eq', '{% if x == "a<b" %}eq{% endif %}'),
    ('if_missing_is_none', '{% if missing is None %}none{% endif %}{% if missing == None %}eq{% endif %}'),
    ('if_compare_incompatible', '{% if x > 1 %}a{% else %}b{% endif %}{% if none < 1 %}c{% else %}d{% endif %}'),
    ('if_float_int', '{% if f > 1 %}a{% endif %}{% if 1.0 == 1 %}b{% endif %}'),
    ('if_list_truth', '{% if l %}a{% endif %}{% if empty %}b{% endif %}{% if d %}c{% endif %}'),
    ('if_empty_expr', '{% if %}{% endif %}'),
    ('if_unused_token', '{% if a b %}{% endif %}'),
    ('if_infix_not', '{% if a not b %}{% endif %}'),
    ('if_dangling_op', '{% if a == %}{% endif %}'),
    ('if_leading_op', '{% if and %}{% endif %}'),
    ('if_malformed_else', '{% if t %}a{% else b %}c{% endif %}'),
    ('if_unclosed', '{% if t %}a'),
    ('if_invalid_tag_inside', '{% if t %}{% frob %}{% endif %}'),
    # ifchanged
    ('ifchanged_content', '{% for w in words %}{% ifchanged %}{{ w }}{% endifchanged %}{% endfor %}'),
    ('ifchanged_args_else', '{% for w in words %}{% ifchanged w %}[{{ w }}]{% else %}.{% endifchanged %}{% endfor %}'),
    ('ifchanged_nested_reset', '{% for a in nested %}{% for b in words %}{% ifchanged b %}{{ b }}{% endifchanged %}{% endfor %}|{% endfor %}'),
    # include
    ('include_basic', '{% include "inc.html" %}'),
    ('include_with', '{% include "inc.html" with x="X" y=n %}'),
    ('include_only', '{% include "inc.html" with y=1 only %}'),
    ('include_variable_name', '{% include tpl %}'),
    ('include_missing', '{% include "nope.html" %}'),
    ('include_no_args', '{% include %}'),
    ('include_bad_option', '{% include "inc.html" foo %}'),
    ('include_with_twice', '{% include "inc.html" with x=1 with y=2 %}'),
    ('include_cycle_fresh', '{% include "cyc.html" %}{% include "cyc.html" %}'),
    # extends / block
    ('extends_basic', '{% extends "base.html" %}{% block body %}Child{% endblock %}'),
    ('extends_super_chain', '{% extends "mid.html" %}{% block title %}Top|{{ block.super }}{% endblock %}'),
    ('extends_text_outside_blocks_ignored', '{% extends "base.html" %}ignored{% block body %}C{% endblock %}ignored'),
    ('extends_not_first', '{% if t %}{% endif %}{% extends "base.html" %}'),
    ('extends_twice', '{% extends "base.html" %}{% extends "base.html" %}'),
    ('extends_missing_parent', '{% extends "nope.html" %}'),
    ('block_alone', '{% block a %}A{% endblock %}{% block b %}B{% endblock b %}'),
    ('block_duplicate', '{% block a %}{% endblock %}{% block a %}{% endblock %}'),
    ('block_bad_end', '{% block a %}{% endblock b %}'),
    ('block_no_name', '{% block %}{% endblock %}'),
    # lorem
    ('lorem_default', '{% lorem %}'),
    ('lorem_words', '{% lorem 5 w %}|{% lorem 1 w %}'),
    ('lorem_p', '{% lorem 1 p %}'),
    # regroup
    ('regroup', '{% regroup people by city as g %}{% for grp in g %}{{ grp.grouper }}:{% for p in grp.list %}{{ p.name }},{% endfor %};{% endfor %}'),
    ('regroup_unpack', '{% regroup people by city as g %}{% for city, ps in g %}{{ city }}={{ ps.0.name }} {% endfor %}'),
    ('regroup_missing', '{% regroup missing by city as g %}[{% for x in g %}x{% endfor %}]'),
    ('regroup_args', '{% regroup people city as g %}'),
    # spaceless
    ('spaceless', '{% spaceless %}\n <p>\n  <a href="x">l </a> \n</p>\n {% endspaceless %}'),
    ('spaceless_keeps_text_space', '{% spaceless %}<b> x </b> y <i>{% endspaceless %}'),
    # templatetag
    ('templatetag_all', '{% templatetag openblock %}{% templatetag closeblock %}{% templatetag openvariable %}{% templatetag closevariable %}{% templatetag openbrace %}{% templatetag closebrace %}{% templatetag opencomment %}{% templatetag closecomment %}'),
    ('templatetag_bad', '{% templatetag foo %}'),
    # verbatim
    ('verbatim', '{% verbatim %}{{ x }}{% if t %}{# c #}{% endverbatim %}'),
    ('verbatim_named', '{% verbatim v1 %}{% endverbatim %}{{ x }}{% endverbatim v1 %}'),
    # widthratio
    ('widthratio', '{% widthratio 175 200 100 %} {% widthratio n 10 100 %} {% widthratio 1 0 10 %}'),
    ('widthratio_round_half_even', '{% widthratio 5 100 50 %} {% widthratio 15 100 10 %} {% widthratio 25 100 10 %}'),
    ('widthratio_as', '{% widthratio 50 100 8 as w %}[{{ w }}]'),
    ('widthratio_bad_value', '[{% widthratio x 100 10 %}]'),
    ('widthratio_few_args', '{% widthratio 1 2 %}'),
    # with
    ('with_kwargs', '{% with a=x b=n %}{{ a }}{{ b }}{% endwith %}{{ a }}'),
    ('with_legacy', '{% with x as v %}{{ v }}{% endwith %}'),
    ('with_no_args', '{% with %}{% endwith %}'),
    ('with_bad_token', '{% with a=1 b %}{% endwith %}'),
    # load
    ('load_unknown', '{% load nosuchlib %}'),
    # misc errors
    ('unknown_tag', '{% frobnicate %}'),
    ('empty_block_tag', '{% %}'),
    ('endfor_without_for', '{% endfor %}'),
]

print('/* Generated by gen_tag_cases.py from Django %s: do not edit. */' % django.get_version())
print('static const char tag_cases_context[] = %s;' % esc(json.dumps(CTX)))
print('static const struct tag_case tag_cases[] = {')
ctxpy = to_py(CTX)
for name, src in CASES:
    try:
        out = engine.from_string(src).render(Context(ctxpy))
        print('    {%s, %s, %s, false},' % (esc(name), esc(src), esc(out)))
    except Exception as e:
        print('    {%s, %s, %s, true}, /* %s */' % (esc(name), esc(src), esc(str(e).splitlines()[0] if str(e) else type(e).__name__), type(e).__name__))
print('};')
