#!/usr/bin/python3
"""Regenerates filter_cases.inc: every built-in filter case is rendered by Django itself
(Debian's python3-django, run with /usr/bin/python3) and the output committed as the expected
string, so the Criterion test (test_filters.c) needs no Django at run time. A template Django
rejects (or whose rendering raises) is recorded as an expected error.

    /usr/bin/python3 tests/unit/template/gen_filter_cases.py > tests/unit/template/filter_cases.inc

A few filters are newer than the Django on the build machine (escapeseq: 5.0, floatformat's
'u' suffix: 4.0); their cases are written by hand in MANUAL below, from Django's documentation
and source (django/template/defaultfilters.py of Django 5/6).
"""
import json, sys

from gen_common import esc, to_py

import django
from django.conf import settings

settings.configure(
    TEMPLATES=[{'BACKEND': 'django.template.backends.django.DjangoTemplates'}],
    USE_TZ=True, TIME_ZONE='UTC', USE_L10N=True)
django.setup()
from django.template import engines, Context

engine = engines['django'].engine

CTX = {
    's': 'Hello World', 'x': 'a<b', 'amp': 'Tom & "Jerry" \'s <tag>', 'y': "it's",
    'sp': '  spaced  out  ', 'es': '', 'none': None, 't': True, 'no': False,
    'n': 5, 'neg': -7, 'zero': 0, 'one': 1, 'big': 1234567, 'huge': 10 ** 18,
    'f': 34.23234, 'f2': 34.0, 'f3': 34.26, 'fneg': -34.5, 'fhalf': 2.5, 'ftiny': 0.0001,
    'fexp': 1e+16, 'fsmall': 1.5e-10, 'f66': 6666.6666,
    'dec': {'__decimal__': '1.005'}, 'dec2': {'__decimal__': '-0.5'},
    'dec3': {'__decimal__': '123456.789'}, 'dece': {'__decimal__': '1E+2'},
    'sone': '1', 'snum': '42', 'sfloat': '3.7', 'sbad': 'abc',
    'l': [1, 2, 3], 'ls': ['a', 'b', 'c'], 'lmix': ['<a>', {'__safe__': '<b>'}, 3],
    'empty': [], 'l1': ['only'], 'lnest': ['States', ['Kansas', ['Lawrence', 'Topeka'], 'Illinois']],
    'lnest2': ['a<', ['b&', 'c'], 'd'], 'lnest3': [['x', ['y']], 'z'],
    'd': {'k': 'v', 'n': 2}, 'ed': {},
    'people': [
        {'name': 'Bob', 'age': 30, 'city': {'n': 'Rome'}},
        {'name': 'ann', 'age': 25, 'city': {'n': 'Paris'}},
        {'name': 'Cy', 'age': 35, 'city': {'n': 'Oslo'}},
        {'name': 'Ann', 'age': 25, 'city': {'n': 'Bern'}}],
    'pairs': [[3, 'c'], [1, 'a'], [2, 'b']],
    'mixed': [{'v': 1}, {'v': 'a'}],
    'safe': {'__safe__': '<b>bold</b> & co'}, 'safe2': {'__safe__': 'a;b;c'},
    'html': '<p>Hello <b>big</b> <i>world</i> of <a href="x">links</a>, friends.</p>',
    'html2': '<div><p>One two three <br/>four <img src="a.png"> five</p><p>six seven</p></div>',
    'html3': '<p>Caf\u00e9 &amp; cr\u00e8me br\u00fbl\u00e9e is tasty</p>',
    'html4': 'Plain <!-- comment --> text <script>alert(1)</script> done',
    'lines': 'one\ntwo\r\nthree\rfour\n\nfive\n\n\nsix',
    'lines2': 'a<b\nc&d',
    'lines12': '\n'.join('l%d' % i for i in range(12)),
    'uni': 'Caf\u00e9 \u00e0 la cr\u00e8me \u00c9T\u00c9 na\u00efve \u00fcber stra\u00dfe',
    'greek': '\u03b1\u03b2\u03b3 \u0391\u0392\u0393', 'cyr': '\u043f\u0440\u0438\u0432\u0435\u0442 \u041c\u0438\u0440',
    'emoji': 'smile \U0001F600 ok', 'comb': 'e\u0301te\u0301 cafe\u0301 long word',
    'words': 'The quick brown fox jumps over the lazy dog',
    'longword': 'Supercalifragilisticexpialidocious is a long word indeed',
    'wrapme': 'Joel is a slug\nwith a newline and    multiple   spaces in it ok',
    'url': 'Check http://example.com/a?b=1&c=2 and www.django.org, or mail me@example.org.',
    'url2': '(see https://www.example.com/path/(x)) [www.a.com] "http://q.com/\u00e9" foo.bar.com',
    'url3': 'Visit example.com! Or djangoproject.org/doc. <b>https://x.io</b> a@b',
    'url4': 'http://a.com/&amp;x &lt;http://b.org&gt; ftp://no.com x@y.z @at.com',
    'url5': 'https://www.example.com/this/is/a/very/long/url/indeed.html and http://s.co',
    'urlsafe': {'__safe__': 'see <b>www.x.com</b> & http://y.com'},
    'q': 'a b&c=d/e?f\u00e9~',
    'iri': '/blog/for/J\u00fcrgen M\u00fcnster/?q=a b&r=\u00e9#frag',
    'phone': '1-800-COLLECT ext. Xyz',
    'jsbad': 'a\\b\'c"d<e>f&g=h-i;j`k\u2028l\x01m\n',
    'dt': {'__datetime__': '2008-01-02T03:04:05.000123Z'},
    'dt2': {'__datetime__': '2021-12-31T23:59:59'},
    'dt3': {'__datetime__': '2003-10-07T12:00:00Z'},
    'dt4': {'__datetime__': '2003-10-07T00:00:00Z'},
    'dt5': {'__datetime__': '2012-02-29T13:30:07+05:30'},
    'dt6': {'__datetime__': '2000-01-11T09:05:00Z'},
    'dt7': {'__datetime__': '2016-01-01T15:00:00-08:00'},
    'date': {'__date__': '2008-01-02'}, 'date2': {'__date__': '1999-12-31'},
    'date3': {'__date__': '2004-02-22'}, 'date4': {'__date__': '2010-01-03'},
    'date5': {'__date__': '2021-01-13'}, 'date6': {'__date__': '2012-12-31'},
    'tm': {'__time__': '13:05:09.5'}, 'tm2': {'__time__': '00:00:00'}, 'tm3': {'__time__': '12:00:00'},
    'past': {'__datetime__': '2007-08-14T13:46:00Z'},
    'nowish': {'__datetime__': '2008-01-02T03:04:05Z'},
    'ref': {'__datetime__': '2010-06-15T10:20:30Z'},
    'refn': {'__datetime__': '2010-06-15T10:20:30'},
    'd1': {'__datetime__': '2009-03-01T12:00:00Z'}, 'd2': {'__datetime__': '2009-03-01T12:00:59Z'},
    'd3': {'__datetime__': '2009-03-08T12:30:00Z'}, 'd4': {'__datetime__': '2010-04-01T12:00:00Z'},
    'd5': {'__datetime__': '2008-02-29T12:00:00Z'}, 'd6': {'__datetime__': '2012-02-29T12:00:00Z'},
    'dd1': {'__date__': '2009-03-01'}, 'dd2': {'__date__': '2009-05-05'},
    'future': {'__datetime__': '9999-01-01T00:00:00Z'},
    'ancient': {'__datetime__': '1000-01-01T00:00:00Z'},
    'size1': 1023, 'size2': 1024, 'size3': 123456789, 'size4': 1 << 50, 'size5': -1024 * 1024 * 5,
    'size6': 1.5 * 1024 ** 3, 'size7': 'x', 'size8': 2 ** 62,
    'jsd': {'a': [1, 2.5, None, True], 'b': '<script>&</script>', 'c': {'__date__': '2020-01-02'},
            'e': {'__datetime__': '2020-01-02T03:04:05.123456Z'}, 'g': {'__decimal__': '1.50'},
            'u': '\u00e9\U0001F600', 'tm': {'__time__': '01:02:03'}},
    'pp': {'a': [1, 'b', None], 'long': list(range(30)), 'k': {'z': 1.5}},
    'tuple_like': [1, [2, 3]],
    'nlx': '\n\nx\n\n', 'tabs': 'a\tb c\td', 'para': 'one\n\ntwo three', 'trailnl': 'xx yy\n',
}

def c(name, src):
    return (name, src)

AE = '{% autoescape off %}'
EA = '{% endautoescape %}'

CASES = {}
CASES['string'] = [
    c('addslashes', '{{ amp|addslashes }}|{{ jsbad|addslashes }}|{{ safe|addslashes }}'),
    c('capfirst', '{{ s|lower|capfirst }} {{ x|capfirst }} [{{ es|capfirst }}] {{ uni|lower|capfirst }} {{ n|capfirst }}'),
    c('center', '[{{ s|center:"21" }}][{{ s|center:"20" }}][{{ "ab"|center:"5" }}][{{ "abc"|center:"6" }}][{{ s|center:"3" }}][{{ x|center:8 }}]'),
    c('ljust_rjust', '[{{ s|ljust:"15" }}][{{ s|rjust:"15" }}][{{ x|ljust:5 }}][{{ uni|rjust:40 }}][{{ s|ljust:"-3" }}]'),
    c('cut', '{{ s|cut:" " }}|{{ s|cut:"l" }}|{{ x|cut:"<" }}|{{ safe|cut:"b" }}|{{ safe2|cut:";" }}|{{ n|cut:"5" }}'),
    c('lower_upper', '{{ s|lower }} {{ s|upper }} {{ x|upper }} {{ uni|upper }} {{ uni|lower }} {{ greek|upper }} {{ greek|lower }} {{ cyr|upper }} {{ cyr|lower }}'),
    c('upper_safe', '{{ safe|upper }} {{ l|upper }}'),
    c('make_list', '{{ s|make_list }} {{ n|make_list }} {{ x|make_list }}'),
    c('phone2numeric', '{{ phone|phone2numeric }} {{ "0800 flowers"|phone2numeric }}'),
    c('slugify', '{{ s|slugify }}|{{ uni|slugify }}|{{ " Joel is a slug "|slugify }}|{{ "--a__b--"|slugify }}|{{ "x&y;z - - w"|slugify }}|{{ greek|slugify }}|{{ amp|slugify }}|{{ "_under_ "|slugify }}|{{ "\u0153uvre \ufb01n \u00bd"|slugify }}'),
    c('stringformat', '[{{ n|stringformat:"03d" }}][{{ n|stringformat:"s" }}][{{ f|stringformat:".2f" }}][{{ s|stringformat:"20s" }}][{{ s|stringformat:"-20s" }}][{{ n|stringformat:"x" }}][{{ big|stringformat:"E" }}][{{ x|stringformat:"s" }}][{{ s|stringformat:"d" }}][{{ l|stringformat:"s" }}][{{ ls|stringformat:"r" }}][{{ none|stringformat:"s" }}][{{ f|stringformat:"g" }}][{{ n|stringformat:"+5d" }}][{{ fneg|stringformat:"10.3f" }}][{{ n|stringformat:"o" }}][{{ s|stringformat:".3s" }}][{{ t|stringformat:"d" }}][{{ n|stringformat:"%" }}][{{ big|stringformat:"e" }}]'),
    c('stringformat_more', '[{{ fexp|stringformat:"g" }}][{{ fsmall|stringformat:"g" }}][{{ f66|stringformat:".3g" }}][{{ n|stringformat:"5.2f" }}][{{ neg|stringformat:"X" }}][{{ n|stringformat:"#x" }}][{{ s|stringformat:"r" }}][{{ dec|stringformat:"s" }}][{{ sfloat|stringformat:"f" }}][{{ n|stringformat:"c" }}][{{ f|stringformat:"e" }}][{{ zero|stringformat:"-04d" }}][{{ n|stringformat:" d" }}][{{ y|stringformat:"r" }}]'),
    c('title', '{{ "joe\'s crab shack"|title }}|{{ "555 WEST 53RD STREET"|title }}|{{ s|lower|title }}|{{ "hello-world foo_bar x1y"|title }}|{{ uni|title }}|{{ "1st 2nd o\'NEIL"|title }}'),
    c('truncatechars', '{{ s|truncatechars:5 }}|{{ s|truncatechars:11 }}|{{ s|truncatechars:10 }}|{{ s|truncatechars:1 }}|{{ s|truncatechars:0 }}|{{ s|truncatechars:"x" }}|{{ uni|truncatechars:7 }}|{{ comb|truncatechars:6 }}|{{ x|truncatechars:2 }}|{{ s|truncatechars:-1 }}'),
    c('truncatewords', '{{ words|truncatewords:3 }}|{{ words|truncatewords:9 }}|{{ words|truncatewords:0 }}|{{ sp|truncatewords:1 }}|{{ sp|truncatewords:5 }}|{{ lines|truncatewords:2 }}|{{ x|truncatewords:1 }}|{{ words|truncatewords:"a" }}|{{ "a \u2026"|truncatewords:1 }}'),
    c('wordcount', '{{ words|wordcount }} {{ sp|wordcount }} {{ es|wordcount }} {{ lines|wordcount }} {{ n|wordcount }}'),
    c('wordwrap', '{{ wrapme|wordwrap:14 }}|{{ longword|wordwrap:10 }}|{{ words|wordwrap:5 }}|{{ lines|wordwrap:3 }}|{{ x|wordwrap:1 }}|{{ "a  b   c    d"|wordwrap:3 }}|{{ "  lead trail  "|wordwrap:6 }}'),
    c('wordwrap_tabs', '{{ tabs|wordwrap:4 }}|{{ para|wordwrap:4 }}|{{ trailnl|wordwrap:2 }}'),
    c('escapejs', '{{ jsbad|escapejs }}|{{ s|escapejs }}|{{ safe|escapejs }}'),
    c('iriencode', '{{ iri|iriencode }}|{{ "?a=1&b=%20c"|iriencode }}|{{ x|iriencode }}'),
    c('urlencode', '{{ q|urlencode }}|{{ q|urlencode:"" }}|{{ q|urlencode:"/&=" }}|{{ iri|urlencode }}|{{ n|urlencode }}|{{ "a+b ~_.-"|urlencode }}'),
    c('linenumbers', '{{ lines2|linenumbers }}|{{ lines12|linenumbers }}|{% autoescape off %}{{ lines2|linenumbers }}{% endautoescape %}|{{ safe|linenumbers }}'),
    c('string_of_numbers', '{{ f|upper }} {{ dec|lower }} {{ none|upper }} {{ t|lower }} {{ d|upper }}'),
]
CASES['html'] = [
    c('escape', '{{ amp|escape }}|{{ safe|escape }}|{% autoescape off %}{{ x|escape }}{% endautoescape %}|{{ x|escape|escape }}|{{ n|escape }}'),
    c('force_escape', '{{ x|force_escape }}|{{ safe|force_escape }}|{{ x|force_escape|force_escape }}|{% autoescape off %}{{ amp|force_escape }}{% endautoescape %}'),
    c('safe', '{{ x|safe }}|{{ amp|safe }}|{{ n|safe }}|{{ l|safe }}|{{ x|safe|escape }}'),
    c('safeseq', '{{ lmix|safeseq|join:", " }}|{{ lmix|join:", " }}|{{ ls|safeseq }}'),
    c('linebreaks', '{{ lines|linebreaks }}|{{ lines2|linebreaks }}|{{ safe|linebreaks }}|{% autoescape off %}{{ lines2|linebreaks }}{% endautoescape %}|{{ es|linebreaks }}|{{ nlx|linebreaks }}'),
    c('linebreaksbr', '{{ lines|linebreaksbr }}|{{ lines2|linebreaksbr }}|{% autoescape off %}{{ lines2|linebreaksbr }}{% endautoescape %}|{{ safe|linebreaksbr }}'),
    c('striptags', '{{ html|striptags }}|{{ html2|striptags }}|{{ html3|striptags }}|{{ html4|striptags }}|{{ "a < b and c > d"|striptags }}|{{ "<<b>x</b>>"|striptags }}|{{ "1<2 <a"|striptags }}|{{ "&lt;b&gt; &amp; <br>"|striptags }}|{{ "x <!DOCTYPE html> y <?php z ?> w"|striptags }}'),
    c('striptags_nested', '{{ "<scr<script>ipt>alert(1)</scr</script>ipt>"|striptags }}|{{ "<p>a</p><p>b</p>"|striptags|safe }}|{{ "<a title=\'>\'>t</a>"|striptags }}'),
    c('truncatechars_html', '{{ html|truncatechars_html:12 }}|{{ html|truncatechars_html:100 }}|{{ html2|truncatechars_html:15 }}|{{ html3|truncatechars_html:8 }}|{{ html|truncatechars_html:0 }}|{{ html|truncatechars_html:1 }}|{{ "<p>abc</p>"|truncatechars_html:3 }}|{{ "<p>abcd</p>"|truncatechars_html:3 }}|{{ html|truncatechars_html:"z" }}'),
    c('truncatewords_html', '{{ html|truncatewords_html:2 }}|{{ html|truncatewords_html:100 }}|{{ html2|truncatewords_html:4 }}|{{ html3|truncatewords_html:2 }}|{{ html|truncatewords_html:0 }}|{{ "<p>one <b>two</b></p>"|truncatewords_html:2 }}|{{ "<br>a b c"|truncatewords_html:1 }}|{{ "a <b>b <i>c d</i> e</b>"|truncatewords_html:3 }}'),
    c('truncate_html_unclosed', '{{ "<p>one <unclosed two three"|truncatewords_html:2 }}|{{ "<div><p>x y</div> z w"|truncatewords_html:3 }}|{{ "<P>Upper <B>Case</B> tags</P>"|truncatewords_html:2 }}|{{ "<p>a</p><!-- c --><p>bbbb</p>"|truncatechars_html:3 }}'),
    c('urlize', '{{ url|urlize }}'),
    c('urlize2', '{{ url2|urlize }}'),
    c('urlize3', '{{ url3|urlize }}'),
    c('urlize4', '{{ url4|urlize }}'),
    c('urlize_safe', '{{ urlsafe|urlize }}'),
    c('urlize_off', '{% autoescape off %}{{ url|urlize }}|{{ url4|urlize }}{% endautoescape %}'),
    c('urlize_more', '{{ "http://example.com."|urlize }}|{{ "(http://example.com)"|urlize }}|{{ "www.example.com/?q=\u00e9&r=a b"|urlize }}|{{ "HTTP://EXAMPLE.COM"|urlize }}|{{ "http://[2001:db8::1]/x"|urlize }}|{{ "email: foo@bar.com;"|urlize }}|{{ "foo@localhost"|urlize }}|{{ "a.b@c.d.e"|urlize }}|{{ "www.x.com:8000/p"|urlize }}|{{ "http://x.com/?a=1&amp;b=2"|urlize }}|{{ "x.org/a%20b"|urlize }}|{{ "example.net\'s"|urlize }}'),
    c('urlizetrunc', '{{ url5|urlizetrunc:15 }}|{{ url|urlizetrunc:1 }}|{{ url|urlizetrunc:0 }}|{{ urlsafe|urlizetrunc:8 }}'),
    c('json_script', '{{ jsd|json_script:"my-id" }}|{{ x|json_script:"a<b" }}|{{ l|json_script:"l" }}|{{ none|json_script:"n" }}|{{ f|json_script:"f" }}|{{ s|json_script:"" }}'),
    c('unordered_list', '{{ lnest|unordered_list }}'),
    c('unordered_list2', '{{ lnest2|unordered_list }}|{% autoescape off %}{{ lnest2|unordered_list }}{% endautoescape %}|{{ lnest3|unordered_list }}|{{ ls|unordered_list }}|{{ empty|unordered_list }}|{{ lmix|unordered_list }}'),
    c('escape_then_filters', '{{ x|escape|upper }}|{{ x|force_escape|upper }}|{{ amp|safe|lower }}|{{ x|upper|safe }}'),
]
CASES['number'] = [
    c('add', '{{ n|add:2 }} {{ n|add:"-3" }} {{ snum|add:"8" }} {{ s|add:"!" }} {{ l|add:ls }} [{{ s|add:n }}] {{ f|add:1 }} [{{ none|add:1 }}] {{ sfloat|add:1 }} {{ t|add:1 }} {{ "3"|add:"4" }} {{ x|add:y }}'),
    c('divisibleby', '{{ 21|divisibleby:3 }} {{ 22|divisibleby:3 }} {{ n|divisibleby:"5" }} {{ snum|divisibleby:7 }} {{ f|divisibleby:2 }}'),
    c('divisibleby_error', '{{ s|divisibleby:3 }}'),
    c('get_digit', '{{ big|get_digit:1 }} {{ big|get_digit:"2" }} {{ big|get_digit:7 }} {{ big|get_digit:8 }} {{ big|get_digit:0 }} {{ s|get_digit:1 }} {{ snum|get_digit:2 }} {{ neg|get_digit:1 }} {{ big|get_digit:"x" }} {{ f|get_digit:1 }}'),
    c('floatformat_basic', '{{ f|floatformat }} {{ f2|floatformat }} {{ f3|floatformat }} {{ f|floatformat:3 }} {{ f2|floatformat:3 }} {{ f3|floatformat:3 }} {{ f|floatformat:"-3" }} {{ f2|floatformat:"-3" }} {{ f3|floatformat:"-3" }}'),
    c('floatformat_round', '{{ fhalf|floatformat:0 }} {{ 3.5|floatformat:0 }} {{ 0.5|floatformat:0 }} {{ -0.5|floatformat:0 }} {{ 1.005|floatformat:2 }} {{ dec|floatformat:2 }} {{ dec2|floatformat:0 }} {{ 1.15|floatformat:1 }} {{ 1.25|floatformat:1 }} {{ 0.0|floatformat }} {{ -0.01|floatformat }} {{ -0.04|floatformat:1 }} {{ fneg|floatformat }}'),
    c('floatformat_g', '{{ f66|floatformat:"2g" }} {{ 10000|floatformat:"g" }} {{ big|floatformat:"-2g" }} {{ dec3|floatformat:"g" }} {{ -1234.5|floatformat:"1g" }} {{ 999.99|floatformat:"1g" }}'),
    c('floatformat_odd', '[{{ s|floatformat }}] {{ n|floatformat }} {{ n|floatformat:2 }} {{ snum|floatformat:1 }} {{ sfloat|floatformat }} [{{ none|floatformat }}] {{ f|floatformat:"x" }} {{ ftiny|floatformat }} {{ ftiny|floatformat:5 }} {{ fexp|floatformat:2 }} {{ fsmall|floatformat:3 }} {{ dece|floatformat }} {{ dece|floatformat:1 }} {{ huge|floatformat }} {{ t|floatformat }}'),
    c('floatformat_neg_arg', '{{ 1.10|floatformat:"-1" }} {{ 1.00|floatformat:"-2" }} {{ 11.4999|floatformat:"-3" }} {{ 0.001|floatformat:"-2" }} {{ -1.999|floatformat:"-2" }} {{ 12.5|floatformat:"-0" }}'),
    c('floatformat_safe_in_autoescape', '{{ f|floatformat:2 }}{% autoescape off %}{{ f|floatformat:2 }}{% endautoescape %}'),
    c('filesizeformat', '{{ size1|filesizeformat }}|{{ size2|filesizeformat }}|{{ size3|filesizeformat }}|{{ size4|filesizeformat }}|{{ size5|filesizeformat }}|{{ size6|filesizeformat }}|{{ size7|filesizeformat }}|{{ size8|filesizeformat }}|{{ one|filesizeformat }}|{{ zero|filesizeformat }}|{{ "2048"|filesizeformat }}|{{ 1048575|filesizeformat }}|{{ f|filesizeformat }}|{{ 1099511627776|filesizeformat }}|{{ 52428|filesizeformat }}'),
    c('pluralize', 'vote{{ zero|pluralize }} vote{{ one|pluralize }} vote{{ n|pluralize }} class{{ n|pluralize:"es" }} class{{ one|pluralize:"es" }} cand{{ n|pluralize:"y,ies" }} cand{{ one|pluralize:"y,ies" }} [{{ n|pluralize:"a,b,c" }}] {{ sone|pluralize }} {{ snum|pluralize }} [{{ s|pluralize }}] {{ l1|pluralize }} {{ l|pluralize }} {{ 1.0|pluralize }} {{ 1.5|pluralize }} [{{ none|pluralize }}] {{ d|pluralize }} {{ dec|pluralize }} {{ t|pluralize }}'),
    c('yesno', '{{ t|yesno }} {{ no|yesno }} {{ none|yesno }} {{ t|yesno:"yeah,nope,maybe" }} {{ none|yesno:"yeah,nope" }} {{ none|yesno:"a,b,c" }} {{ no|yesno:"a,b,c" }} {{ n|yesno:"bad" }} {{ zero|yesno:"x,y" }} {{ ls|yesno:"a,b,c,d" }} {{ es|yesno }}'),
    c('default', '{{ es|default:"empty" }} {{ none|default:"nil" }} {{ zero|default:"z" }} {{ n|default:"z" }} {{ missing|default:"miss" }} {{ empty|default:x }} {{ es|default:n }} {{ no|default:"<b>" }}'),
    c('default_if_none', '{{ none|default_if_none:"nil" }} [{{ es|default_if_none:"e" }}] {{ zero|default_if_none:"z" }} {{ missing|default_if_none:"m" }} {{ none|default_if_none:x }}'),
]
CASES['list'] = [
    c('first_last', '{{ l|first }} {{ ls|last }} [{{ empty|first }}] [{{ empty|last }}] {{ s|first }} {{ s|last }} {{ lmix|first }} {{ lmix|last }} {{ x|last }} [{{ es|first }}]'),
    c('first_safe', '{{ lmix.1|first }}{{ safe|first }}{{ safe|last }}'),
    c('length', '{{ l|length }} {{ s|length }} {{ empty|length }} {{ d|length }} {{ n|length }} {{ none|length }} {{ uni|length }} {{ missing|length }} {{ safe|length }}'),
    c('join', '{{ ls|join:", " }}|{{ lmix|join:"<br>" }}|{% autoescape off %}{{ lmix|join:"<br>" }}{% endautoescape %}|{{ l|join:"-" }}|{{ s|join:"." }}|{{ empty|join:"x" }}|{{ ls|join:safe }}|{{ n|join:"," }}'),
    c('slice', '{{ ls|slice:":2" }}|{{ ls|slice:"1:" }}|{{ ls|slice:"-1" }}|{{ ls|slice:"::-1" }}|{{ ls|slice:"0" }}|{{ s|slice:"2:5" }}|{{ s|slice:"::2" }}|{{ s|slice:"-3:" }}|{{ l|slice:"5:" }}|{{ ls|slice:"x" }}|{{ ls|slice:"1:2:3:4" }}|{{ ls|slice:"::0" }}|{{ s|slice:"-100:100" }}|{{ uni|slice:":4" }}|{{ ls|slice:2 }}|{{ n|slice:"1" }}|{{ x|slice:":2" }}|{{ safe|slice:":3" }}'),
    c('slice_more', '{{ ls|slice:"1::-1" }}|{{ l|slice:"-2:-1" }}|{{ l|slice:"3:1" }}|{{ s|slice:"::-3" }}|{{ ls|slice:":" }}|{{ ls|slice:"" }}'),
    c('dictsort', '{% for p in people|dictsort:"name" %}{{ p.name }},{% endfor %}|{% for p in people|dictsort:"age" %}{{ p.name }},{% endfor %}|{% for p in people|dictsortreversed:"age" %}{{ p.name }},{% endfor %}|{% for p in people|dictsort:"city.n" %}{{ p.name }},{% endfor %}|{% for p in pairs|dictsort:0 %}{{ p.1 }}{% endfor %}|{% for p in pairs|dictsortreversed:"1" %}{{ p.1 }}{% endfor %}|[{{ mixed|dictsort:"v" }}]|[{{ people|dictsort:"nope" }}]|[{{ s|dictsort:"a" }}]|{{ ls|dictsort:"0" }}'),
    c('dictsort_str', '{{ people|dictsort:"age"|first }}'),
    c('make_list_more', '{{ big|make_list|first }} {{ uni|make_list|length }}'),
    c('make_list_join', '{{ s|make_list|join:"|" }}'),
    c('random_single', '{{ l1|random }} {{ "z"|random }}'),
    c('pprint', '{{ pp|pprint }}|{{ s|pprint }}|{{ n|pprint }}|{{ l|pprint }}|{{ none|pprint }}|{{ f|pprint }}|{{ safe|pprint }}'),
    c('escapeseq_absent_old', '{{ lmix|safeseq|join:"" }}'),
]
CASES['date'] = [
    c('date_default', '{{ dt|date }}|{{ date|date }}|{{ dt4|date }}|{{ dt3|date }}|{{ dt2|date }}|{{ none|date }}|[{{ es|date }}]|[{{ s|date }}]'),
    c('date_named', '{{ dt|date:"DATE_FORMAT" }}|{{ dt|date:"DATETIME_FORMAT" }}|{{ dt|date:"SHORT_DATE_FORMAT" }}|{{ dt|date:"SHORT_DATETIME_FORMAT" }}|{{ dt|date:"YEAR_MONTH_FORMAT" }}|{{ dt|date:"MONTH_DAY_FORMAT" }}|{{ dt5|date:"TIME_FORMAT" }}'),
    c('date_chars_1', '{{ dt|date:"a A b c d D e E f F g G h H i I j l L m M n N o O P r s S t T u U w W y Y z Z" }}'),
    c('date_chars_2', '{{ dt5|date:"a A b c d D e E f F g G h H i I j l L m M n N o O P r s S t T u U w W y Y z Z" }}'),
    c('date_chars_3', '{{ dt2|date:"a A b c d D e E f F g G h H i I j l L m M n N o O P r s S t T u w W y Y z Z" }}'),
    c('date_chars_4', '{{ dt7|date:"a A b c d D e E f F g G h H i I j l L m M n N o O P r s S t T u U w W y Y z Z" }}'),
    c('date_chars_date', '{{ date|date:"b d D E F j l L m M n N o S t w W y Y z" }}|{{ date2|date:"jS F Y, l W o z L t" }}|{{ date3|date:"W o z" }}|{{ date4|date:"W o" }}|{{ date6|date:"W o" }}|{{ date5|date:"jS" }}'),
    c('date_months', '{% for m in "2008-01-01 2008-02-01 2008-03-01 2008-04-01 2008-05-01 2008-06-01 2008-07-01 2008-08-01 2008-09-01 2008-10-01 2008-11-01 2008-12-01" %}{% endfor %}{{ date|date:"N E M b F" }}'),
    c('date_escapes', '{{ dt|date:"\\\\Y\\\\m Y \\\\\\\\ jS \\\\o\\\\f F" }}|{{ dt|date:"H\\\\h i\\\\m" }}|{{ dt|date:"%Y-%m" }}|{{ dt|date:"" }}|{{ dt|date:"c" }}|{{ dt2|date:"c" }}|{{ dt5|date:"c" }}'),
    c('date_ordinals', '{{ dt6|date:"jS" }} {{ date3|date:"jS" }} {{ date|date:"jS" }} {{ date5|date:"jS" }} {{ dd1|date:"jS" }} {{ dt3|date:"jS" }}'),
    c('date_12h', '{{ dt3|date:"f g h P a A" }}|{{ dt4|date:"f g h P a A" }}|{{ dt6|date:"f g h P a A" }}|{{ dt5|date:"f g h P" }}|{{ dt2|date:"f g h P" }}'),
    c('date_time_spec_on_date', '{{ date|date:"H:i" }}'),
    c('date_time_value', '{{ tm|date:"H:i" }}|{{ tm|time:"H:i:s u" }}'),
    c('time_filter', '{{ tm|time }}|{{ tm2|time }}|{{ tm3|time }}|{{ dt|time }}|{{ dt|time:"H:i:s.u e O T Z" }}|{{ tm|time:"g:i a A f P" }}|{{ tm|time:"e O T Z" }}|{{ dt2|time:"e O T Z" }}|{{ dt5|time:"e O T Z P" }}|{{ none|time }}|[{{ s|time }}]|{{ dt|time:"TIME_FORMAT" }}|{{ tm|time:"\\\\H H" }}'),
    c('time_on_date', '[{{ date|time:"H" }}]'),
    c('date_tz_conversion', '{{ dt5|date:"Y-m-d H:i O e" }}|{{ dt7|date:"Y-m-d H:i O T" }}'),
    c('timesince', '{{ past|timesince:nowish }}|{{ d1|timesince:d2 }}|{{ d1|timesince:d3 }}|{{ d1|timesince:d4 }}|{{ d5|timesince:d6 }}|{{ nowish|timesince:past }}|{{ dd1|timesince:dd2 }}|{{ dd1|timesince:d4 }}|{{ ancient|timesince:nowish }}|{{ future|timesince }}|[{{ none|timesince }}]|{{ d1|timesince:d1 }}'),
    c('timesince_str_error', '{{ s|timesince:d1 }}'),
    c('timeuntil', '{{ nowish|timeuntil:past }}|{{ d2|timeuntil:d1 }}|{{ d4|timeuntil:d1 }}|{{ d6|timeuntil:d5 }}|{{ past|timeuntil:nowish }}|{{ dd2|timeuntil:dd1 }}|{{ ancient|timeuntil }}|[{{ none|timeuntil }}]'),
    c('timesince_units', '{{ d1|timesince:ref }}|{{ dt6|timesince:ref }}|{{ dt4|timesince:dt3 }}|{{ dt3|timesince:dt }}|{{ date|timesince:date2 }}|{{ date2|timesince:date }}'),
    c('timesince_naive_aware', '[{{ refn|timesince:ref }}]'),
]
# Error and argument-count cases (the messages must contain these pieces).
CASES['errors'] = [
    c('err_missing_arg', '{{ s|cut }}'),
    c('err_extra_arg', '{{ s|lower:"x" }}'),
    c('err_unknown_filter', '{{ s|nosuchfilter }}'),
    c('err_ljust_bad', '{{ s|ljust:"x" }}'),
    c('err_wordwrap_bad', '{{ s|wordwrap:"x" }}'),
    c('err_random_empty', '{{ empty|random }}'),
    c('err_urlizetrunc_bad', '{{ s|urlizetrunc:"x" }}'),
]
CASES['misc'] = [
    c('filter_tag', '{% filter force_escape|upper %}<b>{{ x }}</b>{% endfilter %}'),
    c('chain_default_length', '{{ missing|default:"abc"|length }} {{ empty|length|add:2 }}'),
    c('arg_quotes_spaces', '{{ s|cut:" W" }}|{{ ls|join:" \' " }}|{{ ls|join:\' " \' }}|{{ "a,b"|cut:"," }}|{{ s|default:"x|y" }}|{{ s|add:" : " }}'),
    c('autoescape_interplay', '{% autoescape off %}{{ x|upper }}{{ amp|linebreaksbr }}{{ lmix|join:"&" }}{{ x|urlize }}{% endautoescape %}|{{ x|upper }}{{ amp|linebreaksbr }}{{ lmix|join:"&" }}{{ x|urlize }}'),
    c('date_values_rendered', '{{ dt }}|{{ date }}|{{ tm }}|{{ dt5 }}|{{ dt2 }}|{{ tm2 }}|{{ tm3 }}'),
    c('now_tag_literal_format', '{% now "\\N\\o\\w" %}|{% now "\\Y" as y %}[{{ y }}]'),
    c('filter_tag_chain', '{% filter lower|cut:" "|truncatechars:9 %}Hello <World> Again{% endfilter %}'),
    c('filter_args_from_vars', '{{ s|cut:d.k }}|{{ ls|join:x }}|{{ f|floatformat:n }}|{{ words|truncatewords:one }}|{{ n|add:big }}|{{ s|default:none }}'),
    c('literal_values_filtered', '{{ "abc"|upper }} {{ 12|add:"3" }} {{ 1.5|floatformat:3 }} {{ "<i>"|length }} {{ "<i>"|escape }} {{ "<i>" }}'),
    c('safe_input_keeps_safe', '{{ safe|lower }}|{{ safe|title }}|{{ safe|truncatechars:5 }}|{{ safe|center:30 }}|{{ safe|wordwrap:5 }}|{{ safe|addslashes }}|{{ safe|slugify }}|{{ safe|urlencode }}|{{ safe|make_list|first }}'),
]

# Random text through the text filters (fixed seed, so the file is reproducible): catches
# the corners of striptags' HTMLParser emulation, urlize, truncation and wrapping that
# hand-written cases miss.
def random_cases(seed, n):
    import random
    rnd = random.Random(seed)
    alpha = list('<>/&;#ab xyz\u00e9."\'()[].:@!,\n\t-_') + [
        '<b>', '</b>', '<p>', '</p>', '<br/>', '&amp;', '&lt;', 'http://', 'www.', '.com',
        'https://x.org/', '<!--', '-->', '<script>', '</script>', ' ', '  ', '\u2026',
        'e\u0301', 'A', 'Z', "'s", '1', '23', 'mailto', '@ex.com', 'foo@bar.com', '&#65;',
        '&#x41;', '?q=1&r=2', '#frag', '%20', '\u00a0', '\u00df', '\u03a9']
    filters = ['striptags', 'urlize', 'urlizetrunc:7', 'truncatewords_html:3',
               'truncatechars_html:5', 'truncatechars_html:12', 'truncatewords_html:1',
               'truncatechars:4', 'truncatewords:2', 'wordwrap:5', 'title', 'slugify',
               'linebreaks', 'linebreaksbr', 'escapejs', 'urlencode', 'iriencode', 'capfirst',
               'center:15', 'addslashes', 'lower', 'upper', 'wordcount', 'cut:"a"',
               'phone2numeric', 'linenumbers', 'make_list', 'length', 'first', 'last',
               'slice:"1:-1"', 'slice:"::-2"', 'escape', 'force_escape', 'json_script:"i"',
               'pprint', 'unordered_list', 'stringformat:"10s"', 'stringformat:"r"']
    out = []
    for k in range(n):
        name = 'r%d' % k
        CTX[name] = ''.join(rnd.choice(alpha) for _ in range(rnd.randint(0, 14)))
        f = rnd.choice(filters)
        src = '{{ %s|%s }}' % (name, f)
        if rnd.random() < 0.3:
            src = '{% autoescape off %}' + src + '{% endautoescape %}'
        if rnd.random() < 0.2:
            src = src.replace(name, name + '|safe', 1)
        out.append(c('random_%d_%s' % (k, f.split(':')[0]), src))
    return out


# Inputs from Django's own filter tests (tests/template_tests/filter_tests), rendered here
# by the local Django: each value becomes a context variable dj<N>.
DJ = [
    ('urlize', ['http://google.com', 'http://google.com/', 'www.google.com', 'djangoproject.org',
                'djangoproject.org/', 'www.server.com"abc', "www.server.com'abc", 'www.server.com<abc',
                'www.server.com>abc', 'info@djangoproject.org', 'some.organization', 'https://google.com',
                'http://hi.baidu.com/%E9%87%8D%E6%96%B0%E5%BC%80%E5%A7%8B', 'www.mystore.com/30%OffCoupons!',
                'https://en.wikipedia.org/wiki/Caf%C3%A9', 'https://en.wikipedia.org/wiki/Caf\u00e9',
                'https://en.wikipedia.org/wiki/Django_(web_framework)',
                '(see https://en.wikipedia.org/wiki/Django_(web_framework))', 'foo@bar.com or www.bar.com',
                'http://c\u2736.ws', 'www.c\u2736.ws', 'c\u2736.org', 'info@c\u2736.org', 'http:///www.google.com',
                'http://.google.com', 'http://@foo.com', 'usa.gov', 'email@.stream.ru', 'HTTPS://github.com/',
                '(Go to http://www.example.com/foo.)', 'A test http://testing.com/example..',
                'A test http://testing.com/example!!', 'A test http://testing.com/example.,:;)"!',
                '[see www.example.com]', 'see test[at[example.com', '[http://168.192.0.1](http://168.192.0.1)',
                '(https://www.example.org/)', '<https://www.example.org/>', '[https://www.example.org/]',
                '"https://www.example.org/"', "'https://www.example.org/'", 'http://192.168.0.15/api/9',
                'http://[2001:db8:cafe::2]/api/9', 'before "hi@example.com" afterwards',
                "before 'hi@example.com afterwards", 'Email us at "hi@example.com", or phone us at +xx.yy',
                'Go to djangoproject.com! and enjoy.', 'Search for google.com/?q=! and see.',
                'Search for google.com/?q=dj!`? and see.', 'Search for google.com/?q=dj!`?! and see.',
                'foo<a href=" google.com ">bar</a>buz', 'http://example.com/?x=&y=',
                'http://example.com?x=&amp;y=&lt;2&gt;', 'a &amp; b', "<script>alert('foo')</script>",
                'Email me at me@example.com', 'Email me at <me@example.com>',
                'http://example.com/?x=&amp;y=&lt;2&gt;', 'http://www.example.com/?q=a+b c&d=%20e',
                'https://x.com/#Frag ment', 'a.b@example.com', 'mailto:x@y.com', 'www.example.com:8000/x',
                'example.com/a?b=c#d', 'Email me@local', 'goo.gl/ABC', 'http://a.b.c.d.e.f.g.com',
                'http://\u00e4\u00f6\u00fc.de/path', 'www.\u00e4\u00f6\u00fc.com', 'x@\u00e4\u00f6\u00fc.com']),
    ('urlizetrunc:15', ['http://short.com/', 'http://www.google.co.uk/search?hl=en&q=some+long+url&btnG=Search&meta=',
                        'http://www.example.com/some/very/long/path/name', 'foo@bar.com is me']),
    ('urlizetrunc:1', ['http://www.google.co.uk/']),
    ('urlizetrunc:2', ['http://www.google.co.uk/']),
    ('urlizetrunc:20', ['http://31characteruri.com/test/', 'http://www.google.co.uk/search?hl=en&q=some+long+url&btnG=Search&meta=']),
    ('floatformat', [7.7, 7.0, 0.7, -0.7, 0.07, -0.07, 0.007, 0.0, '1.42', {'__decimal__': '09.000'},
                     'abc123', '123abc', 'foo', '1e', '1e+', 'e400', '1e2.0', '1+e2', 'inf', 'NaN', '1e199',
                     '1e200', -1.323297138040798e35, 1.5e-15, None, [], {}]),
    ('floatformat:0', [7.7, -0.499, '0.00', {'__decimal__': '0.00'}]),
    ('floatformat:3', [7.7, 6.0, 6.2, 8.2798]),
    # repr digits straight from the double: the bench's prices and the fast path's edges
    ('floatformat:2', [435.54, 868.355, 0.125, 2.675, 1e-05, 0.0001, 999999999999999.9, 1e15,
                       1e16, 123456.789, -0.001, -868.35, 0.30000000000000004]),
    ('floatformat', [0.0001, 999999999999999.9, 100.0, 1e16, 5e-324, -0.0]),
    ('floatformat:-3', [6.2, 13.1031]),
    ('floatformat:-2', [11.1197, 11.0, 11.000001, -1.323297138040798e35]),
    ('floatformat:2', [5555.555, 1.3, 0.12345, {'__decimal__': '555.555'}, 18.125, '0.0000',
                       {'__decimal__': '0.0000'}, -0.001, -1.323297138040798e35]),
    ('floatformat:21', [{'__decimal__': '123456.123456789012345678901'}]),
    ('floatformat:20', [1.5e-15, 0.000000000000000000015]),
    ('floatformat:-20', [1.5e-15]),
    ('floatformat:16', [1.00000000000000015]),
    ('floatformat:"bar"', [13.1031, None, 'foo']),
    ('floatformat:"1g"', [66666.666]),
    ('floatformat:"g2"', [10000]),
    ('floatformat:6', [0]),
    ('floatformat:"-1"', [-0.01]),
    ('truncatewords_html:0', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatewords_html:2', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatewords_html:4', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatewords_html:5', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatewords_html:1', ['\u00c5ngstr\u00f6m was here']),
    ('truncatewords_html:3', ['<i>Buenos d&iacute;as! &#x00bf;C&oacute;mo est&aacute;?</i>']),
    ('truncatewords_html:"a"', ['<p>string</p>']),
    ('truncatechars_html:0', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatechars_html:4', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatechars_html:9', ['<p>one <a href="#">two - three <br>four</a> five</p>']),
    ('truncatechars_html:3', ['<b>\u00c5ngstr\u00f6m</b> was here', 'a<b>b</b>c']),
    ('truncatechars_html:7', ['<p>one &lt; <a href="#">two - three <br>four</a> five</p>',
                              '<p>one &#60; <a href="#">two - three <br>four</a> five</p>']),
    ('striptags', ['some <b>html</b> with <script>alert("You smell")</script> disallowed <img /> tags',
                   '<p>See: &#39;&eacute; is an apostrophe followed by e acute</p>',
                   '<adf>a', '</adf>a', '<asdf><asdf>e', 'hi<adf>a', '<f', '</fe', '<x>b<y>', 'a<p onclick="alert(\'<test>\')">b</p>c',
                   'a<p a >b</p>c', 'd<a:b c:d>e</p>f', '<strong>foo</strong><a href="http://example.com">bar</a>',
                   '<p>&lt;b&gt;</p>', '<<b>>', '<sc<!-- -->ript>test<<!-- -->/script>',
                   '<script>alert()</script>&h', '><!' + '<' * 20 + 'x', '<![CDATA[<b>]]>x', '<!DOCTYPE html><p>x</p>',
                   '<?xml version="1.0"?><r>t</r>', '<a href="x>y">z</a>', '< a>x</a>', '<b/>a<b >c</b >',
                   '&lt;script&gt;', 'x &#xZZ; y <b>z</b>', '<p>a</p\n>b', 'a<!-- c -- >b<!--d-->',
                   # Django's guard against quadratic parsing (SuspiciousOperation above 49 '<')
                   '<a' + 'x' * 1000 + '<' * 49, '<a' + 'x' * 1000 + '<' * 48 + '>y',
                   '<a' + 'x' * 997 + '<' * 49, '<a b' * 300 + '>']),
    ('slugify', [' Jack & Jill like numbers 1,2,3 and 4 and silly characters ?%.$!/',
                 'Un \xe9l\xe9phant \xe0 l\'or\xe9e du bois', '\u0131\xe7\u011f\u015f\u0131', '  a--b__c  ',
                 'multiple---dashes', '___underscores___', '-- leading and trailing --',
                 '\u00c6sir \u00d8rsted \u0152uvre', 'straße', 'x\u00b2 + y\u00b3', '\u2160 \u2161',
                 '\uff21\uff22\uff23', 123]),
    ('wordwrap:14', ['this is a long paragraph of text that really needs to be wrapped I\'m afraid',
                     'this is a short paragraph of text.\n  But this line should be indented']),
    ('wordwrap:15', ['this is a short paragraph of text.\n  But this line should be indented']),
    ('wordwrap:4', ['a\nb\n\n\nc', 'Hello \r\nworld', 'xx\tyy zz']),
    ('wordwrap:1', ['a b  c\td']),
    ('title', ["a nice title, isn't it?", 'discoth\xe8que', 'a \u2018quoted\u2019 word',
               "they're bill's friends from the UK", '123abc 1st 2ND', 'o\'NEIL mcDONALD',
               '\xdfa', 'hello\u00a0world']),
    ('capfirst', ['hello world', '\xe9l\xe8ve', '\xdfx', '']),
    ('linebreaks', ['line 1', 'line 1\nline 2', 'line 1\rline 2', 'line 1\r\nline 2',
                    'foo\n<a>bar</a>\nbuz', '\n\n\n', 'a\n\n\nb\r\n\r\nc']),
    ('linebreaksbr', ['line 1\nline 2', 'line 1\rline 2', 'line 1\r\nline 2', 'foo\n<a>bar</a>\nbuz']),
    ('linenumbers', ['line 1\nline 2', '\n'.join(['x'] * 10), 'foo\n<a>bar</a>\nbuz']),
    ('escapejs', ['"double quotes" and \'single quotes\'', '\\ : backslashes, too',
                  'and lots of whitespace: \r\n\t\v\f\b', '<script>and this</script>',
                  'paragraph separator:\u2029and line separator:\u2028', '`', 'b\u00e9\u00e8 \U0001F600']),
    ('iriencode', ['S\xf8r-Tr\xf8ndelag', 'fran\xe7ois & jill', '?test=1&me=2', '/\u10a0\u10a1\u10a2']),
    ('urlencode', ['fran\xe7ois & jill', 1, '/test&"/me?/', '/\u041f\u0440\u0438\u0432\u0435\u0442/']),
    ('urlencode:""', ['/test&"/me?/']),
    ('urlencode:"&"', ['/test&"/me?/']),
    ('stringformat:"03d"', [1, '1', None]),
    ('stringformat:"s"', [{'__decimal__': '1.50'}, [1, 2], {'a': 1}]),
    ('stringformat:"5s"', ['\u00e9']),
    ('stringformat:"%d"', [5]),
    ('stringformat:"d%"', [5]),
    ('stringformat:"d%%"', [5]),
    ('stringformat:"d %s"', [5]),
    ('stringformat:"(d)"', [5]),
    ('stringformat:".1e"', [1234.5678]),
    ('stringformat:"-+08.2f"', [-3.14159, 3.14159]),
    ('stringformat:"+08.2f"', [-3.14159, 3.14159]),
    ('stringformat:"#x"', [255, -255]),
    ('stringformat:"#X"', [255]),
    ('stringformat:"c"', [65, 'A', 'AB', 0x1F600]),
    ('stringformat:"G"', [1e-20, 1e20, 0.0001234]),
    ('stringformat:".0f"', [0.5, 1.5, 2.5]),
    ('stringformat:"10.4s"', ['abcdefgh']),
    ('filesizeformat', [1023, 1024, 10 * 1024, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 * 50,
                        1024 * 1024 * 1024 - 1, 1024 * 1024 * 1024, 1024 * 1024 * 1024 * 1024,
                        1024 * 1024 * 1024 * 1024 * 1024, 1024 * 1024 * 1024 * 1024 * 1024 * 2000,
                        '', '\xe6\xbc\xa2\xe5\xad\x97', -1, -100, -1024 * 1024 * 50, 0.5, 1.5 * 1024]),
    ('pluralize', [1, 0, 2, [1], [], [1, 2], '1', '2', 'x', 1.0, 1.5, {'__decimal__': '1'}, {'__decimal__': '1.0'}]),
    ('pluralize:"es"', [1, 0]),
    ('pluralize:"y,ies"', [1, 2]),
    ('pluralize:"y,ies,error"', [1]),
    ('pluralize:","', [1, 2]),
    ('yesno:"certainly,get out of town,perhaps"', [True, False, None]),
    ('yesno:"certainly,get out of town"', [True, False, None]),
    ('yesno:"certainly"', [True]),
    ('yesno:""', [True]),
    ('yesno:",,"', [None]),
    ('get_digit:1', [123, '123', 'xyz', -123]),
    ('get_digit:3', [123]),
    ('get_digit:4', [123]),
    ('get_digit:0', [123]),
    ('get_digit:-1', [123]),
    ('divisibleby:2', [4, 7, '10']),
    ('add:"10"', [1, '1', 'a']),
    ('add:2', [[1], (1).__class__ and 'x']),
    ('cut:" "', ['a string to be mangled', {'__safe__': '&amp; x'}]),
    ('cut:"&"', [{'__safe__': '&amp; x'}, 'a&b']),
    ('cut:";"', [{'__safe__': '&amp; x'}]),
    ('center:"6"', ['test', 'abc', 'a']),
    ('center:5', ['ab', 'abcd']),
    ('ljust:"10"', ['test', 'x<y']),
    ('rjust:"10"', ['test']),
    ('truncatechars:7', ['Testing, testing', 'a\u0301bcdefghij']),
    ('truncatechars:"a"', ['Testing, testing']),
    ('truncatewords:1', ['A sentence with a few words in it']),
    ('truncatewords:5', ['A sentence with a few words in it']),
    ('truncatewords:100', ['A sentence with a few words in it']),
    ('truncatewords:"not a number"', ['A sentence with a few words in it']),
    ('truncatewords:-1', ['A sentence with a few words in it']),
    ('wordcount', ['', 'oneword', 'lots of words', 'one\ttwo\u00a0three\u3000four']),
    ('make_list', ['abc', 1234, '\u00e9t\u00e9']),
    ('first', ['test', [0, 1, 2], '']),
    ('last', ['test', [0, 1, 2], '']),
    ('length', ['1234', [1, 2, 3, 4], '', [], 1, None]),
    ('lower', ['TEST', '\xcb and \xef', 'A & B']),
    ('upper', ['Mixed case input', '\xeb', 'a & b', '\u01c6 \u0149 \ufb01 \u1f80 \u0390 stra\u00dfe',
               '\u0561\u0562 \u10d0\u10d1 \U00010428 \u24d0 \u2170 \uff41']),
    ('lower', ['\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u03a3 A\u03a3. \u03a3A', '\u0130stanbul',
               '\u0531\u0532 \u10a0 \U00010400 \u24b6 \u2160 \uff21 \u13a0 \u01c5', 'A\u03a3\u0301 x']),
    ('title', ['\u01c6emal \u01c4EMAL', '\u03c3\u03bf\u03c6\u03bf\u03c3 \u03a3\u039f\u03a6\u039f\u03a3',
               '\ufb01ne \u00dfa', '\u0561\u0562\u0563 \u10d0\u10d1', 'o\u2019neil a\u0301b',
               '\u0663RD \u096bTH 2ND x\uff11Y']),
    # the one-pass fix-ups: re.sub's matches do not overlap, digits and quotes next to
    # non-ASCII text, a capital at the very start or end
    ('title', ["ab'c'd", "a'b'c'd ab'cd'ef", "joe's 1st x'y'z 3RD o'NEIL", "l'\xe9t\xe9 2\xe8me",
               "\xe9'A \xe9a'B 9'A", "'A 1A'B 2'3C", "A", "1", "'", "x1", "\u0663A\u0663", "\xe91A"]),
    ('capfirst', ['\ufb01x', '\u01c6a', '\u1f80b']),
    ('phone2numeric', ['0800 flowers', '1-800-FLOWERS-NOW']),
    ('escape', ['<some html & special characters > here', '<some html & special characters > here \u0111\xc5\u20ac\xa3', 'x"\'y']),
    ('force_escape', ['<some html & special characters > here']),
    ('json_script:"test_id"', [{'a': 'testing\r\njson \'string" <b>escaping</b>'}, '</script><script>',
                              {'\u00e9': [1, 2.5, None, False, {'k': '\U0001F600'}]}, 1e16, 1.5e-7, -0.0, 10 ** 15]),
    ('unordered_list', [['item 1', 'item 2'], ['item 1', ['item 1.1']], ['item 1', ['item 1.1', 'item1.2'], 'item 2'],
                        ['item 1', ['item 1.1', ['item 1.1.1', ['item 1.1.1.1']]]],
                        ['States', ['Kansas', ['Lawrence', 'Topeka'], 'Illinois']],
                        ['<a>item 1</a>', 'item 2'], [{'__safe__': '<a>item 1</a>'}, 'item 2'],
                        ['x', [], 'y'], [['a'], ['b']], 'ab']),
    ('slice:"0"', ['abcdefg']), ('slice:"1"', ['abcdefg']), ('slice:"-1"', ['abcdefg']),
    ('slice:"1:2"', ['abcdefg']), ('slice:"1:3"', ['abcdefg']), ('slice:"0::2"', ['abcdefg']),
    ('slice:"1:1:1:1"', ['abcdefg']), ('slice:"::-1"', ['abcdefg', [1, 2, 3]]), ('slice:"0:1"', [[1, 2, 3]]),
    ('slice:"x"', ['abc']), ('slice:"1:x"', ['abc']),
    ('dictsort:"age"', [[{'age': 23, 'name': 'Barbara-Ann'}, {'age': 63, 'name': 'Ra Ra Rasputin'}, {'name': 'Jonny B Goode', 'age': 18}]]),
    ('dictsortreversed:"age"', [[{'age': 23, 'name': 'Barbara-Ann'}, {'age': 63, 'name': 'Ra Ra Rasputin'}, {'name': 'Jonny B Goode', 'age': 18}]]),
    ('dictsort:"foo.bar"', [[{'foo': {'bar': 1, 'baz': 'c'}}, {'foo': {'bar': 2, 'baz': 'b'}}, {'foo': {'bar': 3, 'baz': 'a'}}]]),
    ('dictsort:"foo.baz"', [[{'foo': {'bar': 1, 'baz': 'c'}}, {'foo': {'bar': 2, 'baz': 'b'}}, {'foo': {'bar': 3, 'baz': 'a'}}]]),
    ('dictsort:"_private"', [[{'_private': 1}]]),
    ('dictsort:"a._b"', [[{'a': {'_b': 1}}]]),
    ('dictsort:1', [[['a', 42], ['c', 'string'], ['b', 'foo']]]),
    ('dictsort:"1"', [[['a', 42], ['c', 'string'], ['b', 'foo']]]),
    ('dictsort:"age"', ['not a list', 12, None, [['a']]]),
    ('join:", "', [['alpha', 'beta & me'], [{'__safe__': '<a>'}, '<b>']]),
    ('join:"<br>"', [['alpha', 'beta & me']]),
    ('safeseq|join:", "', [['&', '<']]),
    ('timesince', [None, '']),
    ('pprint', [[1, 'a', None, True, 1.5, {'x': [2, 3]}], 'a\nb', {'b': 1, 'a': [{'z': 'y' * 70}, 'q']},
                'The quick brown fox jumps over the lazy dog and keeps running far beyond the fence of the farm',
                ['The quick brown fox jumps over the lazy dog and keeps running far beyond the fence', 'x'],
                {'key': 'lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt'},
                'line one is here\nline two is here and it is rather long, much longer than the first one, see',
                ['short', 'a' * 100, 'word ' * 30], {'a': {'b': {'c': ['deep ' * 20]}}},
                'tab\tseparated\twords ' * 6, '\u00e9t\u00e9 ' * 25]),
]

def dj_cases():
    out = []
    k = 0
    for filt, values in DJ:
        for v in values:
            name = 'dj%d' % k
            k += 1
            CTX[name] = v
            out.append(c('django_%s_%d' % (filt.split(':')[0].split('|')[0], k),
                         '{{ %s|%s }}' % (name, filt)))
            if filt.split(':')[0] in ('urlize', 'urlizetrunc', 'linebreaks', 'linebreaksbr',
                                     'linenumbers', 'unordered_list', 'join', 'escapeseq|join'):
                out.append(c('django_%s_%d_off' % (filt.split(':')[0].split('|')[0], k),
                             AE + '{{ %s|%s }}' % (name, filt) + EA))
    return out

CASES['django'] = dj_cases()

# Safety matrix (the pattern of Django's chaining/escape tests): every filter, and a few
# chains, applied to a plain and a mark_safe() string holding markup, autoescape on and off.
SAFETY_FILTERS = ['addslashes', 'capfirst', 'center:"21"', 'cut:"b"', 'cut:";"', 'date',
    'default:"x"', 'default_if_none:"x"', 'escape', 'escapejs', 'filesizeformat', 'first',
    'floatformat', 'force_escape', 'get_digit:1', 'iriencode', 'join:"&"', 'json_script:"i"',
    'last', 'length', 'linebreaks', 'linebreaksbr', 'linenumbers', 'ljust:"21"', 'lower',
    'make_list', 'phone2numeric', 'pluralize', 'pprint', 'random', 'rjust:"21"', 'safe',
    'safeseq', 'slice:"2:-2"', 'slugify', 'stringformat:"s"', 'striptags', 'time', 'title',
    'truncatechars:7', 'truncatechars_html:7', 'truncatewords:2', 'truncatewords_html:2',
    'unordered_list', 'upper', 'urlencode', 'urlize', 'urlizetrunc:9', 'wordcount',
    'wordwrap:6', 'yesno', 'capfirst|center:"25"', 'cut:"b"|capfirst', 'escape|capfirst',
    'force_escape|cut:";"', 'cut:";"|force_escape', 'cut:"b"|safe', 'safe|force_escape',
    'escape|escape', 'force_escape|force_escape', 'safe|escape', 'upper|safe', 'lower|escape',
    'linebreaksbr|upper', 'striptags|safe|truncatewords:1', 'urlize|truncatechars_html:12',
    'slice:":4"|join:"<"', 'make_list|safeseq|join:""', 'first|force_escape']

def safety_cases():
    CTX['sa'] = '<a href="x">A&amp;b</a> & "q" \'s\' ; x@y.com www.z.com'
    CTX['sb'] = {'__safe__': CTX['sa']}
    CTX['sc'] = 'a < b'
    CTX['sd'] = {'__safe__': 'a < b'}
    out = []
    for k, f in enumerate(SAFETY_FILTERS):
        if f == 'random':
            continue
        body = '{{ sa|%s }}.{{ sb|%s }}.{{ sc|%s }}.{{ sd|%s }}' % (f, f, f, f)
        out.append(c('safety_%d_%s' % (k, f.split(':')[0]), body))
        out.append(c('safety_%d_%s_off' % (k, f.split(':')[0]), AE + body + EA))
    return out

CASES['safety'] = safety_cases()

CASES['random'] = random_cases(1, 400)

# Random numbers and dates through the number, list and date filters (fixed seeds).
def random_values(seed, n):
    import random
    rnd = random.Random(seed)
    def rnum():
        t = rnd.randint(0, 7)
        if t == 0: return rnd.randint(-10**6, 10**6)
        if t == 1: return rnd.choice([0, 1, -1, 2, 1023, 1024, 1048576, 10**12, 2**40, 2**50-1, 999949, 1000000])
        if t == 2: return round(rnd.uniform(-1000, 1000), rnd.randint(0, 6))
        if t == 3: return rnd.choice([0.5, 1.5, 2.5, -0.5, 0.05, 0.005, 1.005, 2.675, 1e-7, 1e16, 1.23e20, 123456.789, 0.0, -0.0, 9.995, 99.95])
        if t == 4: return {'__decimal__': rnd.choice(['1.005', '-0.5', '2.50', '1E+2', '0.000', '123456789.123456789', '-1.235', '9.995', '1E-10'])}
        if t == 5: return rnd.choice(['1', '42', '3.7', '-2', 'abc', '', ' 5 ', '1e3', '0'])
        if t == 6: return rnd.choice([True, False, None])
        return rnd.choice([[1, 2], [], ['a'], {'k': 1}])
    def rdate():
        y = rnd.randint(1, 9999); mo = rnd.randint(1, 12); d = rnd.randint(1, 28)
        t = rnd.randint(0, 3)
        if t == 0: return {'__date__': '%04d-%02d-%02d' % (y, mo, d)}
        tm = '%02d:%02d:%02d' % (rnd.randint(0, 23), rnd.choice([0, 0, 30, rnd.randint(0, 59)]), rnd.randint(0, 59))
        if rnd.random() < 0.3: tm += '.%06d' % rnd.randint(0, 999999)
        if t == 3: return {'__time__': tm}
        tz = rnd.choice(['', 'Z', '+05:30', '-08:00', '+00:00'])
        return {'__datetime__': '%04d-%02d-%02dT%s%s' % (y, mo, d, tm, tz)}
    NUMF = ['floatformat', 'floatformat:0', 'floatformat:1', 'floatformat:2', 'floatformat:3', 'floatformat:"-1"', 'floatformat:"-2"', 'floatformat:"-3"', 'floatformat:"g"', 'floatformat:"2g"', 'floatformat:"-2g"', 'floatformat:"0g"',
            'filesizeformat', 'stringformat:"d"', 'stringformat:"05.1f"', 'stringformat:"e"', 'stringformat:"g"', 'stringformat:"x"', 'stringformat:"s"', 'stringformat:"r"', 'stringformat:"+.3g"', 'stringformat:"-8d|"', 'stringformat:"#o"', 'stringformat:"E"',
            'add:3', 'add:"2"', 'add:"x"', 'add:1.5', 'get_digit:1', 'get_digit:2', 'get_digit:4', 'divisibleby:3', 'pluralize', 'pluralize:"y,ies"', 'yesno', 'yesno:"a,b"', 'default:"d"', 'default_if_none:"n"', 'length', 'first', 'last', 'slice:":1"', 'join:","', 'make_list', 'upper', 'capfirst', 'center:9', 'ljust:7', 'rjust:7', 'wordcount', 'title', 'slugify', 'unordered_list', 'pprint', 'json_script:"j"', 'escape', 'urlencode', 'truncatechars:3', 'cut:"1"', 'phone2numeric', 'iriencode']
    chars = 'aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTuUwWyYzZ'
    out = []
    for k in range(n):
        name = 'n%d' % k
        if k % 2 == 0:
            CTX[name] = rnum()
            f = rnd.choice(NUMF)
        else:
            CTX[name] = rdate()
            r = rnd.random()
            if r < 0.6:
                fmt = ''.join(rnd.choice(chars + ' :-/,.') for _ in range(rnd.randint(1, 8)))
                f = rnd.choice(['date', 'time']) + ':"%s"' % fmt
            else:
                other = 'm%d' % k
                CTX[other] = rdate()
                f = rnd.choice(['timesince', 'timeuntil']) + ':' + other
        src = '{{ %s|%s }}' % (name, f)
        if rnd.random() < 0.2:
            src = '{% autoescape off %}' + src + '{% endautoescape %}'
        out.append(c('randval_%d_%s' % (k, f.split(':')[0]), src))
    return out

CASES['random_values'] = random_values(7, 500)

# Random nested lists and dicts through the sequence filters (fixed seed).
def random_structures(seed, n):
    import random
    rnd = random.Random(seed)
    def rscalar():
        return rnd.choice([0, 1, -3, 2.5, 'a', 'B', '<x>', '', None, True, False, 'zz', 10, 'é', {'__safe__': '<s>'}, {'__date__': '2020-02-02'}, {'__decimal__': '1.50'}, 'a' * 30])
    def rval(depth=0):
        r = rnd.random()
        if depth > 3 or r < 0.45: return rscalar()
        if r < 0.8: return [rval(depth + 1) for _ in range(rnd.randint(0, 5))]
        return {rnd.choice(['a', 'b', 'name', 'v', 'k', 'zz', 'x y']): rval(depth + 1) for _ in range(rnd.randint(0, 4))}
    def rarg():
        parts = [rnd.choice(['', '0', '1', '-1', '2', '-2', '5', '-10', '3']) for _ in range(rnd.randint(1, 3))]
        return ':'.join(parts)
    FILT = ['pprint', 'unordered_list', 'json_script:"x"', 'join:"|"', 'join:", "', 'length', 'first', 'last', 'safeseq|join:""',
            'dictsort:"a"', 'dictsort:"name"', 'dictsortreversed:"v"', 'dictsort:0', 'dictsort:"0"', 'dictsort:"a.b"', 'yesno', 'default:"D"', 'pluralize', 'make_list', 'stringformat:"s"', 'add:l0', 'slice:"%s"', 'first|upper', 'last|lower', 'length|add:1']
    CTX['l0'] = [1, 'x']
    out = []
    for k in range(n):
        name = 's%d' % k
        v = rval()
        if rnd.random() < 0.3:
            v = [{'a': rscalar(), 'name': rnd.choice(['b', 'a', 'C']), 'v': rnd.randint(0, 3)}
                 for _ in range(rnd.randint(0, 4))]
        CTX[name] = v
        f = rnd.choice(FILT)
        if '%s' in f:
            f = f % rarg()
        src = '{{ %s|%s }}' % (name, f)
        if rnd.random() < 0.3:
            src = AE + src + EA
        if rnd.random() < 0.2:
            src = '{%% for i in %s|%s %%}[{{ i }}]{%% endfor %%}' % (name, f)
        out.append(c('randstruct_%d_%s' % (k, f.split(':')[0]), src))
    return out

CASES['random_structures'] = random_structures(5, 300)

# Random chains of one to four filters with random arguments on random text (fixed seed).
def random_chains(seed, n):
    import random
    rnd = random.Random(seed)
    ALPHA = list('<>/&;#ab xyzé."\'()[].:@!,\n-_') + ['<b>', '</b>', '&amp;', 'http://a.com/x', 'www.b.org', 'c@d.com', 'The ', 'quick ', 'Ω', 'ß', '\u2026', '12', '3.5', '-']
    NUM = ['0', '1', '2', '3', '5', '8', '13', '-1', '-3', '"4"', '"x"', '""', '"-2"', '2.5']
    F0 = ['upper', 'lower', 'title', 'capfirst', 'escape', 'force_escape', 'safe', 'striptags', 'linebreaks', 'linebreaksbr', 'urlize', 'slugify', 'wordcount', 'length', 'first', 'last', 'make_list', 'addslashes', 'escapejs', 'iriencode', 'urlencode', 'phone2numeric', 'yesno', 'pluralize', 'default:"D"', 'floatformat', 'filesizeformat', 'safeseq', 'unordered_list', 'pprint', 'json_script:"j"', 'linenumbers']
    F1 = ['truncatechars', 'truncatewords', 'truncatechars_html', 'truncatewords_html', 'center', 'ljust', 'rjust', 'wordwrap', 'urlizetrunc', 'get_digit', 'floatformat', 'add', 'divisibleby']
    out = []
    for k in range(n):
        text = ''.join(rnd.choice(ALPHA) for _ in range(rnd.randint(0, 12)))
        name = 'ch%d' % k
        CTX[name] = text if rnd.random() < 0.85 else rnd.choice(
            [3, -2.5, 0, 1024, None, True, ['a', '<b>'], {'__safe__': text}])
        chain = []
        for _ in range(rnd.randint(1, 3)):
            if rnd.random() < 0.5:
                chain.append(rnd.choice(F0))
            else:
                chain.append(rnd.choice(F1) + ':' + rnd.choice(NUM))
        if rnd.random() < 0.2:
            chain.append(rnd.choice(['slice:"%s"' % rnd.choice(['1:', ':-1', '::2', '-2:', '1:3', '::-1']),
                                     'join:"|"', 'cut:"a"', 'length', 'upper']))
        elif rnd.random() < 0.1:
            chain.append('safe')
        src = '{{ %s|%s }}' % (name, '|'.join(chain))
        if rnd.random() < 0.3:
            src = AE + src + EA
        out.append(c('randchain_%d' % k, src))
    return out

CASES['random_chains'] = random_chains(3, 400)

MANUAL = [
    # escapeseq (Django 5.0): conditional_escape on each item.
    ('escapeseq', '{{ lmix|escapeseq|join:"," }}', '&lt;a&gt;,<b>,3', False),
    ('escapeseq_off', '{% autoescape off %}{{ lmix|escapeseq|join:"," }}{% endautoescape %}',
     '&lt;a&gt;,<b>,3', False),
    # json_script without an id (Django 4.1): no id attribute.
    ('json_script_no_id', '{{ l|json_script }}|{{ x|json_script }}',
     '<script type="application/json">[1, 2, 3]</script>|'
     '<script type="application/json">"a\\u003Cb"</script>', False),
    # floatformat 'u' (Django 4.0): unlocalized; with the en defaults the output is the same.
    ('floatformat_u', '{{ f66|floatformat:"2u" }} {{ f66|floatformat:"2gu" }} {{ big|floatformat:"u" }}',
     '6666.67 6666.67 1234567', False),
]

DEBUG = bool(__import__("os").environ.get("DEBUG"))
# Rendered with TIME_ZONE = 'Etc/GMT-1' (UTC+1, named '+01'): the C test sets the engine's
# time_zone_offset to 3600 and time_zone_name to "+01".
TZ_CASES = [
    c('tz_aware_converted', '{{ dt|date:"c e O T Z U r" }}|{{ dt5|date:"c e O T Z" }}|{{ dt7|date:"Y-m-d H:i e" }}'),
    c('tz_naive_in_zone', '{{ dt2|date:"c e O T Z U r" }}|{{ refn|date:"U" }}'),
    c('tz_default_output', '{{ dt }}|{{ dt2 }}|{{ dt4 }}|{{ date }}|{{ tm }}'),
    c('tz_time_filter', '{{ dt|time:"H:i e O T" }}|{{ dt2|time:"H:i e O T" }}|{{ tm|time:"H:i e O" }}'),
    c('tz_date_u', '{{ date|date:"U" }}|{{ date2|date:"U I" }}'),
    c('tz_timesince', '{{ past|timesince:nowish }}|{{ d1|timeuntil:d2 }}|{{ dd1|timesince:dd2 }}'),
    c('tz_day_boundary', '{{ dt6|date:"D d H" }}|{{ dt4|date:"jS F Y H:i" }}|{{ dt2|date:"jS F Y H:i" }}'),
]

families = sys.argv[1:] or list(CASES)
print('/* Generated by gen_filter_cases.py from Django %s: do not edit. */' % django.get_version())
print('static const char filter_cases_context[] = %s;' % esc(json.dumps(CTX)))
print('static const struct filter_case filter_cases[] = {')
ctxpy = to_py(CTX)
for fam in families:
    if fam not in CASES:
        continue
    for name, src in CASES[fam]:
        try:
            out = engine.from_string(src).render(Context(ctxpy))
            if DEBUG: print(name, '=>', out, file=sys.stderr)
            print('    {%s, %s, %s, false},' % (esc(name), esc(src), esc(out)))
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else ''
            print('    {%s, %s, %s, true}, /* %s: %s */' % (esc(name), esc(src), esc(''),
                                                     type(e).__name__, msg.replace('*/', '* /')))
if 'manual' in families or not sys.argv[1:]:
    for name, src, out, err in MANUAL:
        print('    {%s, %s, %s, %s},' % (esc(name), esc(src), esc(out), 'true' if err else 'false'))
print('};')
from django.test.utils import override_settings
print('static const struct filter_case filter_tz_cases[] = {')
with override_settings(TIME_ZONE='Etc/GMT-1'):
    for name, src in TZ_CASES:
        out = engine.from_string(src).render(Context(ctxpy))
        print('    {%s, %s, %s, false},' % (esc(name), esc(src), esc(out)))
print('};')
