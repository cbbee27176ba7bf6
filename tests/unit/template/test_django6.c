/* test_django6.c — behaviour Django changed after 3.2 (the Django on this machine), written
 * from Django 6's source: forloop.length, querystring dropping None items of a list, the
 * debug tag honouring DEBUG, error labels, and integers wider than 64 bits. */
#include <criterion/criterion.h>
#include <string.h>

#include "helper_engine.h"

/* ---- forloop.length (Django 6.0: ForNode puts len(values) in the loop dict) ---- */

Test(forloop_length, is_the_number_of_items_on_every_iteration, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(
        render("{% for x in l %}{{ forloop.length }}{% endfor %}", "{\"l\": [1, 2, 3]}"), "333");
    cr_assert_str_eq(render("{% for x in l reversed %}{{ x }}/{{ forloop.length }} {% endfor %}",
                            "{\"l\": [1, 2]}"),
                     "2/2 1/2 ");
    cr_assert_str_eq(render("{% for k, v in d.items %}{{ forloop.length }}{% endfor %}",
                            "{\"d\": {\"a\": 1, \"b\": 2}}"),
                     "22");
    /* more than one batch of counters (they are taken sixteen iterations at a time) */
    cr_assert_str_eq(render("{% for x in l %}{% if forloop.last %}{{ forloop.counter }}/"
                            "{{ forloop.length }}{% endif %}{% endfor %}",
                            "{\"l\": [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]}"),
                     "20/20");
}

Test(forloop_length, nested_loops_and_parentloop, .init = engine_setup, .fini = engine_teardown)
{
    cr_assert_str_eq(render("{% for a in n %}{% for b in a %}{{ forloop.length }}"
                            "{{ forloop.parentloop.length }},{% endfor %}{{ forloop.length }};"
                            "{% endfor %}",
                            "{\"n\": [[1, 2, 3], [4]]}"),
                     "32,32,32,2;12,2;");
    /* a top-level loop's parentloop is {} as in Django: its length is missing */
    cr_assert_str_eq(
        render("{% for x in l %}[{{ forloop.parentloop.length }}]{% endfor %}", "{\"l\": [1]}"),
        "[]");
}

Test(forloop_length, empty_branch_and_outside_have_no_forloop, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(render("{% for x in l %}{{ x }}{% empty %}[{{ forloop.length }}]{% endfor %}"
                            "[{{ forloop.length }}]",
                            "{\"l\": []}"),
                     "[][]");
    /* {% empty %} inside another loop sees the outer loop */
    cr_assert_str_eq(render("{% for a in n %}{% for b in a %}{{ b }}{% empty %}"
                            "e{{ forloop.length }}{% endfor %}{% endfor %}",
                            "{\"n\": [[], [7]]}"),
                     "e27");
}

Test(forloop_length, printed_forloop_lists_length_after_parentloop, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(
        render("{% for x in l %}{{ forloop }}{% endfor %}", "{\"l\": [1]}"),
        "{&#x27;parentloop&#x27;: {}, &#x27;length&#x27;: 1, &#x27;counter0&#x27;: 0, "
        "&#x27;counter&#x27;: 1, &#x27;revcounter&#x27;: 1, &#x27;revcounter0&#x27;: 0, "
        "&#x27;first&#x27;: True, &#x27;last&#x27;: True}");
}

/* ---- querystring (Django 6: None items of an iterable are dropped) ---- */

Test(querystring6, none_items_of_a_list_are_dropped, .init = engine_setup, .fini = engine_teardown)
{
    const char *ctx = "{\"l\": [\"a\", null, \"b\"], \"n\": [null, null], \"e\": [],"
                      " \"request\": {\"GET\": {\"c\": \"1\", \"x\": \"2\"}}}";
    cr_assert_str_eq(render("{% querystring c=l %}", ctx), "?c=a&amp;c=b&amp;x=2");
    /* all None (or empty): no value left, so the key disappears from the output */
    cr_assert_str_eq(render("{% querystring c=n %}", ctx), "?x=2");
    cr_assert_str_eq(render("{% querystring c=e %}", ctx), "?x=2");
    cr_assert_str_eq(render("{% querystring c=n x=None %}", ctx), "?");
    /* a plain None removes the key; a positional mapping's list is filtered too */
    cr_assert_str_eq(render("{% querystring c=None %}", ctx), "?x=2");
    cr_assert_str_eq(render("{% querystring d %}", "{\"d\": {\"k\": [null, 1, null, 2]}}"),
                     "?k=1&amp;k=2");
    /* a mapping value is iterated as Python does: its keys */
    cr_assert_str_eq(render("{% querystring k=d %}", "{\"d\": {\"p\": 1, \"q\": null}}"),
                     "?k=p&amp;k=q");
}

/* ---- {% debug %} (DebugNode: "" unless settings.DEBUG) ---- */

Test(debug_tag, prints_nothing_unless_debug, .init = engine_setup, .fini = engine_teardown)
{
    cr_assert_str_eq(render("[{% debug %}]", "{\"a\": 1}"), "[]");
    cr_assert_str_eq(render("{% for x in l %}[{% debug %}]{% endfor %}", "{\"l\": [1]}"), "[]");
}

Test(debug_tag, with_debug_prints_frames_innermost_first_as_pformat, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_engine_options(engine)->debug = true;
    /* Django 6 with DEBUG = True prints exactly this before the modules */
    const char *expected =
        "{&#x27;forloop&#x27;: {&#x27;counter&#x27;: 1,\n"
        "             &#x27;counter0&#x27;: 0,\n"
        "             &#x27;first&#x27;: True,\n"
        "             &#x27;last&#x27;: True,\n"
        "             &#x27;length&#x27;: 1,\n"
        "             &#x27;parentloop&#x27;: {},\n"
        "             &#x27;revcounter&#x27;: 1,\n"
        "             &#x27;revcounter0&#x27;: 0},\n"
        " &#x27;x&#x27;: 1}{&#x27;l&#x27;: [1], &#x27;s&#x27;: &#x27;a&lt;b&#x27;}"
        "{&#x27;False&#x27;: False, &#x27;None&#x27;: None, &#x27;True&#x27;: True}\n\n{";
    char *out = render("{% for x in l %}{% debug %}{% endfor %}", "{\"l\": [1], \"s\": \"a<b\"}");
    cr_assert(strncmp(out, expected, strlen(expected)) == 0, "got:\n%s", out);
    cr_assert(strstr(out, "&#x27;builtins&#x27;: &lt;library &#x27;builtins&#x27;&gt;"), "%s", out);
}

/* ---- error labels: "Kind: where: message", as Django names the exception ---- */

static const char *formatted(const mn_template_error *err)
{
    mn_buf b;
    mn_buf_init(&b, arena);
    cr_assert_eq(mn_template_error_format(err, &b), 0);
    return mn_buf_cstr(&b);
}

/* The formatted error of rendering src as the engine's template `name`, whether compiling
 * or rendering it fails. */
static const char *error_of(const char *name, const char *src)
{
    mn_template_engine_add_embedded(engine, name, src, strlen(src));
    mn_template_error err;
    memset(&err, 0, sizeof err);
    mn_buf out;
    mn_buf_init(&out, arena);
    int rc = mn_template_render_name(engine, name, mn_context_new(arena), &out, &err);
    cr_assert_neq(rc, 0, "%s rendered '%s'", name, mn_buf_cstr(&out));
    return formatted(&err);
}

static int norev(void *ud, const char *name, size_t argc, mn_value *const *argv, size_t kwargc,
                 const mn_str *kwnames, mn_value *const *kwvals, mn_buf *out)
{
    (void)ud, (void)name, (void)argc, (void)argv, (void)kwargc, (void)kwnames, (void)kwvals,
        (void)out;
    return MN_ENOTFOUND;
}

Test(error_labels, missing_template_is_named_without_a_place, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_error err;
    cr_assert_null(mn_template_engine_get(engine, "nope.html", &err));
    cr_assert_eq(err.code, MN_ENOTFOUND);
    cr_assert_str_eq(formatted(&err), "TemplateDoesNotExist: nope.html\n");
}

Test(error_labels, missing_include_points_at_the_including_tag, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(error_of("incmiss.html", "a\n  {% include \"missing.html\" %}\n"),
                     "TemplateDoesNotExist: incmiss.html:2:3: missing.html\n"
                     "    2 |   {% include \"missing.html\" %}\n"
                     "      |   ^\n");
}

Test(error_labels, syntax_errors_keep_their_label, .init = engine_setup, .fini = engine_teardown)
{
    cr_assert_str_eq(error_of("f.html", "a\n{{ x|bad }}"),
                     "TemplateSyntaxError: f.html:2:1: Invalid filter: 'bad'\n"
                     "    2 | {{ x|bad }}\n"
                     "      | ^\n");
}

Test(error_labels, failing_url_is_no_reverse_match_only, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_engine_set_reverse(engine, norev, NULL);
    const char *f = error_of("u.html", "{% url \"x\" %}");
    cr_assert(strncmp(f, "NoReverseMatch: u.html:1:1: Reverse for 'x' not found.", 54) == 0, "%s",
              f);
    cr_assert_null(strstr(f, "TemplateDoesNotExist"), "%s", f);
}

Test(error_labels, missing_partial_shows_its_source_line, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(error_of("p.html", "hi\n {% partial nope %}\n"),
                     "TemplateSyntaxError: p.html:2:2: Partial 'nope' is not "
                     "defined in the current template.\n"
                     "    2 |  {% partial nope %}\n"
                     "      |  ^\n");
}

/* ---- JSON integers beyond 64 bits (Python's int has no limit; Django prints the digits) */

Test(big_ints, print_as_their_digits, .init = engine_setup, .fini = engine_teardown)
{
    const char *ctx =
        "{\"n\": 123456789012345678901234567890, \"m\": -98765432109876543210,"
        " \"l\": [1, 18446744073709551616], \"s\": \"123456789012345678901234567890\","
        " \"max\": 9223372036854775807, \"min\": -9223372036854775808}";
    cr_assert_str_eq(render("{{ n }} {{ m }} {{ l }} {{ max }} {{ min }}", ctx),
                     "123456789012345678901234567890 -98765432109876543210 "
                     "[1, 18446744073709551616] 9223372036854775807 -9223372036854775808");
    cr_assert_str_eq(render("{% if n == n %}eq{% endif %} {% if n > max %}gt{% endif %} "
                            "{% if m < min %}lt{% endif %} {% if n %}true{% endif %}",
                            ctx),
                     "eq gt lt true");
    cr_assert_str_eq(render("{{ n|stringformat:'s' }} {{ n|length }}{{ s|length }}", ctx),
                     "123456789012345678901234567890 030");
}

Test(big_ints, inside_strings_and_keys_nothing_changes, .init = engine_setup,
     .fini = engine_teardown)
{
    const char *ctx = "{\"a\\\"99999999999999999999\": \"x 99999999999999999999 \\\\\", "
                      "\"b\": [99999999999999999999, \"99999999999999999999\"]}";
    cr_assert_str_eq(render("{% for k, v in a.items %}{% endfor %}{{ b.0 }}|{{ b.1 }}", ctx),
                     "99999999999999999999|99999999999999999999");
    mn_value *v = mn_value_from_json(arena, ctx, strlen(ctx), NULL, 0);
    cr_assert(v);
    cr_assert_eq(v->u.dict.entries[0].value->kind, MN_VALUE_STRING);
    cr_assert_eq(v->u.dict.entries[1].value->u.list.items[0]->kind, MN_VALUE_DECIMAL);
    cr_assert_eq(v->u.dict.entries[1].value->u.list.items[1]->kind, MN_VALUE_STRING);
}

Test(big_ints, compare_exactly_not_through_doubles, .init = engine_setup, .fini = engine_teardown)
{
    const char *ctx =
        "{\"a\": 123456789012345678901234567890, \"b\": 123456789012345678901234567891,"
        " \"c\": -123456789012345678901234567891, \"p63\": 9223372036854775808,"
        " \"max\": 9223372036854775807, \"n64\": -9223372036854775809,"
        " \"min\": -9223372036854775808}";
    cr_assert_str_eq(render("{% if a == b %}bad{% endif %}{% if b > a %}1{% endif %}"
                            "{% if c < a %}2{% endif %}{% if p63 != max %}3{% endif %}"
                            "{% if p63 > max %}4{% endif %}{% if max < p63 %}5{% endif %}"
                            "{% if n64 < min %}6{% endif %}{% if a == a %}7{% endif %}"
                            "{% if c < -1 %}8{% endif %}",
                            ctx),
                     "12345678");
}

Test(forloop_length, empty_branch_sets_names_in_the_loops_frame, .init = engine_setup,
     .fini = engine_teardown)
{
    /* Django's ForNode renders {% empty %} inside its context.push() */
    cr_assert_str_eq(render("{% for x in e %}{% empty %}{% firstof \"a\" as v %}({{ v }})"
                            "{% endfor %}[{{ v }}]",
                            "{\"e\": []}"),
                     "(a)[]");
}

Test(error_labels, missing_parent_points_at_the_extends_tag, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(error_of("child6.html", "x\n  {% extends \"nobase.html\" %}\n"),
                     "TemplateDoesNotExist: child6.html:2:3: nobase.html\n"
                     "    2 |   {% extends \"nobase.html\" %}\n"
                     "      |   ^\n");
}
