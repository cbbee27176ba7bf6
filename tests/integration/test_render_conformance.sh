#!/usr/bin/env bash
# `manouche render` against Django: every tests/data/templates/render/NAME.html with a
# NAME.json context must print exactly NAME.out (written by Django itself, see
# gen_expected.py there). Then the command's error behaviour: a syntax error names the
# template, line and column and shows the source line on stderr with a non-zero exit.
set -u
BIN=${MN_BIN_DIR:?}/manouche
DIR=${MN_SOURCE_DIR:?}/tests/data/templates/render
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for tpl in "$DIR"/*.html; do
    name=$(basename "$tpl" .html)
    [ -f "$DIR/$name.json" ] || continue
    if "$BIN" render "$name.html" --context "$DIR/$name.json" --dir "$DIR" >"$tmp/out" 2>"$tmp/err" &&
        cmp -s "$tmp/out" "$DIR/$name.out"; then
        ok
    else
        bad "$name.html differs from Django's output:"
        cat "$tmp/err"
        diff "$tmp/out" "$DIR/$name.out" | head -20
    fi
done

# a file path works too, and finds its sibling templates
if "$BIN" render "$DIR/include.html" --context "$DIR/include.json" >"$tmp/out" 2>&1 &&
    cmp -s "$tmp/out" "$DIR/include.out"; then ok; else bad "render by file path"; fi

# syntax error: exit status, template name, line, column, source line
if "$BIN" render errors/broken.html --dir "$DIR" >"$tmp/out" 2>"$tmp/err"; then
    bad "a broken template exited 0"
else
    grep -q "errors/broken.html:3:11: Invalid block tag on line 3: 'endfo'" "$tmp/err" &&
        grep -q '{{ x }} {% endfo %}' "$tmp/err" && ok || { bad "syntax error report"; cat "$tmp/err"; }
fi

# an include loop ends with an error, not a crash or a hang
if timeout 20 "$BIN" render errors/loop.html --dir "$DIR" >"$tmp/out" 2>"$tmp/err"; then
    bad "include loop exited 0"
else
    [ $? -eq 1 ] && grep -q "depth" "$tmp/err" && ok || { bad "include loop"; cat "$tmp/err"; }
fi

# missing template, bad JSON, help
"$BIN" render nope.html --dir "$DIR" >/dev/null 2>"$tmp/err" && bad "missing template exited 0" ||
    { grep -q "TemplateDoesNotExist" "$tmp/err" && ok || bad "missing template message"; }
echo '{"a": ' >"$tmp/bad.json"
"$BIN" render page.html --dir "$DIR" --context "$tmp/bad.json" >/dev/null 2>"$tmp/err" &&
    bad "bad JSON exited 0" || { grep -q "invalid JSON" "$tmp/err" && ok || bad "bad JSON message"; }
"$BIN" render --help | grep -q "render TEMPLATE" && ok || bad "--help"

# {% load static %} as in a project without a manifest (Django: STATIC_URL + quoted path)
printf '{%% load static %%}<link href="{%% static "css/a b.css" %%}">{%% get_static_prefix %%}' >"$tmp/s.html"
[ "$("$BIN" render "$tmp/s.html")" = '<link href="/static/css/a%20b.css">/static/' ] && ok ||
    bad "load static: $("$BIN" render "$tmp/s.html" 2>&1)"
[ "$(STATIC_URL=https://cdn.example.com/s "$BIN" render "$tmp/s.html")" = \
    '<link href="https://cdn.example.com/s/css/a%20b.css">https://cdn.example.com/s/' ] && ok ||
    bad "load static with STATIC_URL"

# Django 6: forloop.length; querystring drops None items of a list
printf '{%% for x in l %%}{{ forloop.length }}{%% endfor %%}' >"$tmp/fl.html"
[ "$(echo '{"l":[1,2,3]}' | "$BIN" render "$tmp/fl.html" --context -)" = 333 ] && ok ||
    bad "forloop.length: $(echo '{"l":[1,2,3]}' | "$BIN" render "$tmp/fl.html" --context - 2>&1)"
printf '{%% querystring c=l %%}' >"$tmp/qs.html"
[ "$(echo '{"l":["a",null,"b"],"request":{"GET":{}}}' | "$BIN" render "$tmp/qs.html" --context -)" = \
    '?c=a&amp;c=b' ] && ok || bad "querystring with None in a list"

# integers wider than 64 bits print their digits, as Python's int does
printf '{{ n }} {{ l }}' >"$tmp/big.html"
[ "$(echo '{"n":123456789012345678901234567890,"l":[-18446744073709551616]}' |
    "$BIN" render "$tmp/big.html" --context -)" = \
    '123456789012345678901234567890 [-18446744073709551616]' ] && ok || bad "wide JSON integers"

# {% debug %}: nothing unless DEBUG (--debug), then the context as pformat prints it
printf '[{%% debug %%}]' >"$tmp/dbg.html"
[ "$(echo '{"a":"<b>"}' | "$BIN" render "$tmp/dbg.html" --context -)" = '[]' ] && ok ||
    bad "debug tag without DEBUG"
echo '{"a":"<b>"}' | "$BIN" render "$tmp/dbg.html" --context - --debug | head -1 | grep -qF \
    "[{&#x27;a&#x27;: &#x27;&lt;b&gt;&#x27;}{&#x27;False&#x27;: False, &#x27;None&#x27;: None, &#x27;True&#x27;: True}" &&
    ok || bad "debug tag with --debug: $(echo '{"a":"<b>"}' | "$BIN" render "$tmp/dbg.html" --context - --debug 2>&1 | head -2)"

# standard input, and the speed of a big loop (1,000 rows x 50 renders well under a second)
printf '{%% for i in l %%}<tr><td>{{ i }}</td><td>{{ s }}</td></tr>{%% endfor %%}' >"$tmp/t.html"
python3 -c 'import json; print(json.dumps({"l": list(range(1000)), "s": "<x>"}))' >"$tmp/c.json"
if timeout 60 "$BIN" render - --context "$tmp/c.json" --repeat 50 <"$tmp/t.html" >"$tmp/out"; then
    [ "$(grep -o '<tr>' "$tmp/out" | wc -l)" -eq 1000 ] && grep -q '&lt;x&gt;' "$tmp/out" && ok ||
        bad "stdin render output"
else
    bad "stdin render"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
