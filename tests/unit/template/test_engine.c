/* test_engine.c — the engine's public API: custom filters and tags (is_safe,
 * needs_autoescape, argument counts, simple/inclusion/parser tags, {% load %}), loaders
 * (directories, app dirs, embedded, the debug reload), error positions, partials,
 * querystring, url, lazy object values and the limits that stop hostile templates. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "helper_engine.h"

/* ---- filters ---- */

static mn_value *f_shout(const mn_filter_call *call, mn_value *v, mn_value *arg)
{
    mn_str s = mn_value_string(v);
    char *p = mn_arena_strndup(call->arena, s.ptr, s.len);
    for (size_t i = 0; i < s.len; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] = (char)(p[i] - 32);
    (void)arg;
    return mn_value_str_ref(call->arena, p, s.len);
}

static mn_value *f_wrap(const mn_filter_call *call, mn_value *v, mn_value *arg)
{
    /* needs_autoescape: escapes its input itself and returns a safe string */
    mn_buf b;
    mn_buf_init(&b, call->arena);
    mn_str s = mn_value_string(v);
    mn_buf_puts(&b, "<em>");
    if (call->autoescape && !mn_value_is_safe(v))
        mn_template_escape(&b, s.ptr, s.len);
    else
        mn_buf_put_str(&b, s);
    mn_buf_puts(&b, "</em>");
    if (arg)
        mn_buf_put_str(&b, mn_value_string(arg));
    return mn_value_safe_ref(call->arena, b.data, b.len);
}

static mn_value *f_fail(const mn_filter_call *call, mn_value *v, mn_value *arg)
{
    (void)v;
    (void)arg;
    mn_filter_fail(call, "always fails");
    return NULL;
}

static void add_filters(void)
{
    mn_template_library *b = mn_template_engine_library(engine, "");
    cr_assert_eq(
        mn_template_library_add_filter(b, "shout", f_shout, MN_FILTER_IS_SAFE | MN_FILTER_STRING),
        0);
    cr_assert_eq(mn_template_library_add_filter(
                     b, "wrap", f_wrap, MN_FILTER_NEEDS_AUTOESCAPE | MN_FILTER_ARG_OPTIONAL),
                 0);
    cr_assert_eq(mn_template_library_add_filter(b, "fail", f_fail, 0), 0);
    cr_assert_eq(mn_template_library_add_filter(b, "bad-name", f_fail, 0), MN_EINVAL);
}

Test(filters, is_safe_keeps_safe_input_safe_and_escapes_unsafe, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    cr_assert_str_eq(render("{{ s|shout }}|{{ u|shout }}|{{ \"<i>\"|shout }}",
                            "{\"s\": {\"__safe__\": \"<b>\"}, \"u\": \"<b>\"}"),
                     "<B>|&lt;B&gt;|<I>");
}

Test(filters, stringfilter_gets_text_of_non_strings, .init = engine_setup, .fini = engine_teardown)
{
    add_filters();
    cr_assert_str_eq(render("{{ n|shout }} {{ l|shout }} {{ none|shout }}",
                            "{\"n\": 12, \"l\": [\"a\"], \"none\": null}"),
                     "12 [&#x27;A&#x27;] NONE");
}

Test(filters, needs_autoescape_sees_the_autoescape_state, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    cr_assert_str_eq(
        render("{{ x|wrap }}{% autoescape off %}{{ x|wrap }}{% endautoescape %}", "{\"x\": \"<\"}"),
        "<em>&lt;</em><em><</em>");
}

Test(filters, argument_count_and_unknown_filter_are_syntax_errors, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    mn_template_error err = render_error("{{ x|shout:\"a\" }}", NULL);
    cr_assert_str_eq(err.message, "shout requires 1 arguments, 2 provided");
    err = render_error("{{ x|nope }}", NULL);
    cr_assert_str_eq(err.message, "Invalid filter: 'nope'");
    cr_assert_str_eq(render("{{ x|wrap:\"!\" }} {{ x | wrap }}", "{\"x\": \"a\"}"),
                     "<em>a</em>! <em>a</em>");
}

Test(filters, filter_arguments_with_quotes_and_spaces, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    cr_assert_str_eq(render("{{ x|wrap:\"a b|c:d\" }}{{ x|wrap:'it\\'s' }}", "{\"x\": \"v\"}"),
                     "<em>v</em>a b|c:d<em>v</em>it's");
}

Test(filters, missing_variable_argument_is_an_error_as_in_django, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    mn_template_error err = render_error("{{ x|wrap:missing }}", "{\"x\": 1}");
    cr_assert(strstr(err.message, "Failed lookup for key [missing]"), "%s", err.message);
}

Test(filters, failing_filter_stops_the_render_with_its_message, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    mn_template_error err = render_error("line1\n{{ x|fail }}", "{\"x\": 1}");
    cr_assert(strstr(err.message, "always fails"), "%s", err.message);
    cr_assert_eq(err.line, 2);
}

Test(filters, filter_tag_applies_filters_to_its_body, .init = engine_setup, .fini = engine_teardown)
{
    add_filters();
    cr_assert_str_eq(render("{% filter shout|wrap %}a<{{ x }}{% endfilter %}", "{\"x\": \"<b>\"}"),
                     "<em>A<&LT;B&GT;</em>");
    mn_template_error err = render_error("{% filter escape %}{% endfilter %}", NULL);
    cr_assert(strstr(err.message, "Invalid filter") || strstr(err.message, "not permitted"));
}

Test(filters, string_if_invalid_replaces_missing_variables, .init = engine_setup,
     .fini = engine_teardown)
{
    add_filters();
    mn_template_engine_options(engine)->string_if_invalid = "INVALID(%s)";
    cr_assert_str_eq(
        render("{{ a.b }}|{{ x|shout }}|{% if missing %}y{% else %}n{% endif %}", "{\"x\": \"q\"}"),
        "INVALID(a.b)|Q|n");
}

/* ---- tags ---- */

static mn_value *t_greet(const mn_tag_call *call)
{
    mn_buf b;
    mn_buf_init(&b, call->arena);
    mn_buf_puts(&b, "hi");
    for (size_t i = 0; i < call->argc; i++) {
        mn_buf_putc(&b, ' ');
        mn_value_write_text(call->argv[i], call->arena, &b);
    }
    for (size_t i = 0; i < call->kwargc; i++) {
        mn_buf_putc(&b, ' ');
        mn_buf_put_str(&b, call->kwnames[i]);
        mn_buf_putc(&b, '=');
        mn_value_write_text(call->kwvals[i], call->arena, &b);
    }
    return mn_value_str_ref(call->arena, b.data, b.len);
}

static mn_value *t_card(const mn_tag_call *call)
{
    mn_value *d = mn_value_dict(call->arena, 2);
    mn_value_dict_set_cstr(call->arena, d, "x", call->argv[0]);
    mn_value_dict_set_cstr(call->arena, d, "y", mn_value_cstr(call->arena, "card"));
    return d;
}

static mn_value *t_refuse(const mn_tag_call *call)
{
    mn_tag_fail(call, "refused %d of %s", 2, "3");
    return NULL;
}

/* {% upper %}...{% endupper %}: a tag with its own parser */
static int upper_compile(mn_tag_parser *p, mn_str contents, void *ud, void **node)
{
    (void)contents;
    (void)ud;
    static const char *const end[] = {"endupper", NULL};
    mn_template_nodelist *nl;
    mn_str which;
    int rc = mn_tag_parser_parse_until(p, end, &nl, &which);
    if (rc < 0)
        return rc;
    *node = nl;
    return 0;
}

static int upper_render(mn_template_state *r, void *node, mn_buf *out)
{
    size_t start = out->len;
    int rc = mn_tag_render_nodelist(r, node, out);
    for (size_t i = start; i < out->len; i++)
        if (out->data[i] >= 'a' && out->data[i] <= 'z')
            out->data[i] = (char)(out->data[i] - 32);
    return rc;
}

static void add_tags(void)
{
    mn_template_library *lib = mn_template_engine_library(engine, "extras");
    cr_assert_eq(mn_template_library_add_simple_tag(lib, "greet", t_greet, 0, -1, NULL), 0);
    cr_assert_eq(mn_template_library_add_inclusion_tag(lib, "card", t_card, "inc.html", 1, 1, NULL),
                 0);
    cr_assert_eq(mn_template_library_add_tag(lib, "upper", upper_compile, upper_render, NULL), 0);
}

Test(tags_api, simple_tag_escapes_its_result_and_supports_as, .init = engine_setup,
     .fini = engine_teardown)
{
    add_tags();
    cr_assert_str_eq(render("{% load extras %}{% greet x 2 k=\"v\" %}|{% greet as g %}[{{ g }}]",
                            "{\"x\": \"<a>\"}"),
                     "hi &lt;a&gt; 2 k=v|[hi]");
}

Test(tags_api, inclusion_tag_renders_its_template_with_a_new_context, .init = engine_setup,
     .fini = engine_teardown)
{
    add_tags();
    cr_assert_str_eq(render("{% load extras %}{% card n %}", "{\"n\": 7, \"y\": \"outer\"}"),
                     "[7|card]");
    mn_template_error err = render_error("{% load extras %}{% card %}", NULL);
    cr_assert(strstr(err.message, "'card' did not receive value(s)"), "%s", err.message);
}

/* Registering a tag checks its name and callbacks; registering a name again replaces the
 * tag, whatever its kind was. */
Test(tags_api, registration_checks_arguments_and_replaces_by_name, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_library *lib = mn_template_engine_library(engine, "extras");
    cr_assert_eq(mn_template_library_add_simple_tag(lib, "bad-name", t_greet, 0, -1, NULL),
                 MN_EINVAL);
    cr_assert_eq(mn_template_library_add_simple_tag(lib, "greet", NULL, 0, -1, NULL), MN_EINVAL);
    cr_assert_eq(mn_template_library_add_inclusion_tag(lib, "card", t_card, NULL, 1, 1, NULL),
                 MN_EINVAL);
    cr_assert_eq(mn_template_library_add_inclusion_tag(lib, "", t_card, "inc.html", 1, 1, NULL),
                 MN_EINVAL);
    cr_assert_eq(mn_template_library_add_tag(lib, "upper", upper_compile, NULL, NULL), MN_EINVAL);
    cr_assert_eq(mn_template_library_add_tag(lib, "up per", upper_compile, upper_render, NULL),
                 MN_EINVAL);
    mn_template_error err = render_error("{% load extras %}{% greet %}", NULL);
    cr_assert(strstr(err.message, "'greet'"), "%s", err.message);

    cr_assert_eq(mn_template_library_add_inclusion_tag(lib, "t", t_card, "inc.html", 1, 1, NULL),
                 0);
    cr_assert_str_eq(render("{% load extras %}{% t 1 %}", NULL), "[1|card]");
    cr_assert_eq(mn_template_library_add_simple_tag(lib, "t", t_greet, 0, -1, NULL), 0);
    cr_assert_str_eq(render("{% load extras %}{% t 1 %}", NULL), "hi 1");
    cr_assert_eq(mn_template_library_add_tag(lib, "t", upper_compile, upper_render, NULL), 0);
    cr_assert_str_eq(render("{% load extras %}{% t %}ab{% endupper %}", NULL), "AB");
}

Test(tags_api, failing_tag_reports_its_message, .init = engine_setup, .fini = engine_teardown)
{
    mn_template_library *lib = mn_template_engine_library(engine, "extras");
    cr_assert_eq(mn_template_library_add_simple_tag(lib, "refuse", t_refuse, 0, 0, NULL), 0);
    cr_assert_str_eq(render_error("{% load extras %}{% refuse %}", NULL).message,
                     "Tag 'refuse' failed: refused 2 of 3");
}

/* The inclusion tag's template is loaded when the tag renders: a missing one is named, a
 * broken one reports its own syntax error. */
Test(tags_api, inclusion_tag_reports_a_missing_or_broken_template, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_library *lib = mn_template_engine_library(engine, "extras");
    cr_assert_eq(
        mn_template_library_add_inclusion_tag(lib, "gone", t_card, "gone.html", 1, 1, NULL), 0);
    cr_assert_eq(
        mn_template_library_add_inclusion_tag(lib, "broken", t_card, "broken.html", 1, 1, NULL), 0);
    mn_template_engine_add_embedded(engine, "broken.html", "x\n{% if %}", 10);
    mn_template_error err = render_error("{% load extras %}{% gone 1 %}", NULL);
    cr_assert_eq(err.code, MN_ENOTFOUND);
    cr_assert_str_eq(err.message, "TemplateDoesNotExist: gone.html");
    err = render_error("{% load extras %}{% broken 1 %}", NULL);
    cr_assert_neq(err.code, MN_ENOTFOUND);
    cr_assert_str_eq(err.message, "Unexpected end of expression in if tag.");
    cr_assert_str_eq(err.template_name, "broken.html");
    cr_assert_eq(err.line, 2);
}

/* {% include %} and {% extends %} load the template they name the same way: a list of names
 * is tried in turn, a broken template reports its own error, a bad name is refused. */
Test(tags_api, include_and_extends_load_by_name_or_list, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_engine_add_embedded(engine, "broken.html", "x\n{% if %}", 10);
    const char *json = "{\"l\": [\"nope.html\", \"inc.html\"], \"none\": [], \"e\": \"\","
                       " \"n\": 3, \"b\": \"broken.html\"}";
    cr_assert_str_eq(render("{% include l %}", json), "[|]");
    cr_assert_str_eq(render("{% extends l %}", "{\"l\": [\"nope.html\", \"base.html\"]}"),
                     "<h1>Base</h1>B");
    const char *tags[] = {"include", "extends"};
    for (int i = 0; i < 2; i++) {
        char src[64];
        snprintf(src, sizeof src, "{%% %s none %%}", tags[i]);
        cr_assert_str_eq(render_error(src, json).message, "No template names provided");
        snprintf(src, sizeof src, "{%% %s n %%}", tags[i]);
        cr_assert_str_eq(render_error(src, json).message,
                         tags[i][0] == 'i'
                             ? "Invalid template name in 'include' tag: not a string"
                             : "Invalid template name in 'extends' tag: not a string");
        snprintf(src, sizeof src, "{%% %s b %%}", tags[i]);
        mn_template_error err = render_error(src, json);
        cr_assert_str_eq(err.message, "Unexpected end of expression in if tag.");
        cr_assert_str_eq(err.template_name, "broken.html");
    }
    cr_assert_str_eq(render_error("{% extends e %}", json).message,
                     "Invalid template name in 'extends' tag: ''. Got this from the 'e' variable.");
    cr_assert_str_eq(render_error("{% include e %}", json).message, "TemplateDoesNotExist: ");
}

Test(tags_api, custom_parser_tag_renders_its_nodelist, .init = engine_setup,
     .fini = engine_teardown)
{
    add_tags();
    cr_assert_str_eq(
        render("{% load extras %}{% upper %}ab{{ x }}{% endupper %}c", "{\"x\": \"yz\"}"), "ABYZc");
    mn_template_error err = render_error("{% load extras %}{% upper %}ab", NULL);
    cr_assert(strstr(err.message, "Unclosed tag on line 1: 'upper'"), "%s", err.message);
}

Test(tags_api, tags_need_load_and_load_from_picks_names, .init = engine_setup,
     .fini = engine_teardown)
{
    add_tags();
    mn_template_error err = render_error("{% greet %}", NULL);
    cr_assert(strstr(err.message, "Invalid block tag on line 1: 'greet'"), "%s", err.message);
    cr_assert_str_eq(render("{% load greet from extras %}{% greet %}", NULL), "hi");
    err = render_error("{% load greet from extras %}{% upper %}{% endupper %}", NULL);
    cr_assert(strstr(err.message, "'upper'"), "%s", err.message);
    err = render_error("{% load nope from extras %}", NULL);
    cr_assert_str_eq(err.message, "'nope' is not a valid tag or filter in tag library 'extras'");
}

/* ---- url and querystring ---- */

static int reverse(void *ud, const char *name, size_t argc, mn_value *const *argv, size_t kwargc,
                   const mn_str *kwnames, mn_value *const *kwvals, mn_buf *out)
{
    (void)ud;
    (void)kwnames;
    if (strcmp(name, "polls:detail") != 0)
        return MN_ENOTFOUND;
    mn_buf_puts(out, "/polls/");
    if (argc)
        mn_value_write_text(argv[0], NULL, out);
    if (kwargc)
        mn_value_write_text(kwvals[0], NULL, out);
    return mn_buf_puts(out, "/?a=1&b=2");
}

Test(url, url_uses_the_reverse_callback_and_escapes, .init = engine_setup, .fini = engine_teardown)
{
    mn_template_engine_set_reverse(engine, reverse, NULL);
    cr_assert_str_eq(render("{% url 'polls:detail' q.id %}|{% url \"polls:detail\" pk=3 %}",
                            "{\"q\": {\"id\": 5}}"),
                     "/polls/5/?a=1&amp;b=2|/polls/3/?a=1&amp;b=2");
    cr_assert_str_eq(
        render("{% url 'nope' as u %}[{{ u }}]{% url 'polls:detail' 1 as v %}{{ v }}", NULL),
        "[]/polls/1/?a=1&amp;b=2");
    mn_template_error err = render_error("{% url 'nope' %}", NULL);
    cr_assert(strstr(err.message, "NoReverseMatch"), "%s", err.message);
}

Test(querystring, querystring_merges_request_get_and_arguments, .init = engine_setup,
     .fini = engine_teardown)
{
    const char *ctx =
        "{\"request\": {\"GET\": {\"page\": \"2\", \"q\": \"a b\", \"tag\": [\"x\", \"y\"]}}}";
    cr_assert_str_eq(render("{% querystring %}", ctx), "?page=2&amp;q=a+b&amp;tag=x&amp;tag=y");
    cr_assert_str_eq(render("{% querystring page=3 q=None %}", ctx), "?page=3&amp;tag=x&amp;tag=y");
    cr_assert_str_eq(render("{% querystring new=\"&\" %}", "{}"), "?new=%26");
    cr_assert_str_eq(render("{% querystring %}", "{}"), "?");
    cr_assert_str_eq(render("{% querystring page=1 as qs %}[{{ qs }}]", ctx),
                     "[?page=1&amp;q=a+b&amp;tag=x&amp;tag=y]");
}

/* ---- partials ---- */

Test(partials, partialdef_renders_only_when_inline_or_used, .init = engine_setup,
     .fini = engine_teardown)
{
    cr_assert_str_eq(
        render("{% partialdef p %}P{{ x }}{% endpartialdef %}a{% partial p %}b{% partial p %}"
               "{% partialdef q inline %}Q{% endpartialdef q %}",
               "{\"x\": 1}"),
        "aP1bP1Q");
    mn_template_error err = render_error("{% partial nope %}", NULL);
    cr_assert(strstr(err.message, "nope"), "%s", err.message);
}

Test(partials, template_hash_partial_names_load_one_partial, .init = engine_setup,
     .fini = engine_teardown)
{
    static const char page[] = "head{% partialdef row %}<li>{{ x }}</li>{% endpartialdef %}tail";
    mn_template_engine_add_embedded(engine, "page.html", page, strlen(page));
    cr_assert_str_eq(render("{% include \"page.html#row\" with x=4 %}", NULL), "<li>4</li>");
    mn_template_error err;
    mn_template *t = mn_template_engine_get(engine, "page.html#row", &err);
    cr_assert(t, "%s", err.message);
    cr_assert_null(mn_template_engine_get(engine, "page.html#nope", &err));
    cr_assert_eq(err.code, MN_ENOTFOUND);
}

/* ---- loaders ---- */

static void write_file(const char *path, const char *text, time_t mtime)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    struct utimbuf ut = {mtime, mtime};
    utime(path, &ut);
}

Test(loaders, directories_app_dirs_and_embedded_in_order, .init = engine_setup,
     .fini = engine_teardown)
{
    char dir[] = "/tmp/mn-tpl-XXXXXX";
    cr_assert(mkdtemp(dir));
    char sub[256], p[300];
    snprintf(sub, sizeof sub, "%s/app", dir);
    mkdir(sub, 0755);
    snprintf(p, sizeof p, "%s/page.html", dir);
    write_file(p, "dir:{% include \"part.html\" %}", 1000);
    snprintf(p, sizeof p, "%s/part.html", sub);
    write_file(p, "app", 1000);
    mn_template_engine_add_dir(engine, dir);
    mn_template_engine_add_app_dir(engine, "app", sub);
    mn_template_engine_add_embedded(engine, "emb.html", "emb", 3);
    mn_context *ctx = mn_context_new(arena);
    mn_buf out;
    mn_buf_init(&out, arena);
    mn_template_error err;
    cr_assert_eq(mn_template_render_name(engine, "page.html", ctx, &out, &err), 0, "%s",
                 err.message);
    cr_assert_eq(mn_template_render_name(engine, "emb.html", ctx, &out, &err), 0, "%s",
                 err.message);
    cr_assert_str_eq(mn_buf_cstr(&out), "dir:appemb");
    cr_assert_null(mn_template_engine_get(engine, "../etc/passwd", &err));
    cr_assert_eq(err.code, MN_ENOTFOUND);
    cr_assert_null(mn_template_engine_get(engine, "/etc/passwd", &err));
    /* the cached loader hands back the same compiled template */
    cr_assert_eq(mn_template_engine_get(engine, "page.html", &err),
                 mn_template_engine_get(engine, "page.html", &err));
    snprintf(p, sizeof p, "rm -rf %s", dir);
    cr_assert_eq(system(p), 0);
}

Test(loaders, debug_picks_up_a_changed_file_without_restart, .init = engine_setup,
     .fini = engine_teardown)
{
    char dir[] = "/tmp/mn-tpl-XXXXXX";
    cr_assert(mkdtemp(dir));
    char p[300];
    snprintf(p, sizeof p, "%s/t.html", dir);
    write_file(p, "one", 1000);
    mn_template_engine_add_dir(engine, dir);
    mn_template_error err;
    mn_template *t1 = mn_template_engine_get(engine, "t.html", &err);
    cr_assert(t1);
    write_file(p, "two", 2000);
    cr_assert_eq(mn_template_engine_get(engine, "t.html", &err), t1,
                 "without debug the cache stays");
    mn_template_engine_options(engine)->debug = true;
    mn_template *t2 = mn_template_engine_get(engine, "t.html", &err);
    cr_assert(t2 && t2 != t1);
    mn_context *ctx = mn_context_new(arena);
    mn_buf out;
    mn_buf_init(&out, arena);
    cr_assert_eq(mn_template_render(t2, ctx, &out, &err), 0);
    cr_assert_str_eq(mn_buf_cstr(&out), "two");
    /* Saved again within the same second (same whole-second mtime): still picked up. */
    write_file(p, "three!", 2000);
    mn_template *t3 = mn_template_engine_get(engine, "t.html", &err);
    cr_assert(t3 && t3 != t2, "a change within one second is seen");
    mn_buf_reset(&out);
    cr_assert_eq(mn_template_render(t3, ctx, &out, &err), 0);
    cr_assert_str_eq(mn_buf_cstr(&out), "three!");
    snprintf(p, sizeof p, "rm -rf %s", dir);
    cr_assert_eq(system(p), 0);
}

/* ---- errors and limits ---- */

Test(errors, syntax_error_names_template_line_column_and_source, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_error err;
    const char *src = "line one\nline two\n  ok {% for x in y %}{% endfo %}\n";
    cr_assert_null(mn_template_compile(engine, "polls/index.html", src, strlen(src), &err));
    cr_assert_eq(err.code, MN_EINVAL);
    cr_assert_str_eq(err.template_name, "polls/index.html");
    cr_assert_eq(err.line, 3);
    cr_assert_eq(err.column, 22);
    cr_assert_str_eq(err.source_line, "  ok {% for x in y %}{% endfo %}");
    cr_assert_str_eq(err.message, "Invalid block tag on line 3: 'endfo', expected 'empty' or "
                                  "'endfor'. Did you forget to register or load this tag?");
    mn_buf b;
    mn_buf_init(&b, arena);
    mn_template_error_format(&err, &b);
    cr_assert(strstr(mn_buf_cstr(&b), "polls/index.html:3:22"), "%s", b.data);
}

Test(errors, include_loop_is_stopped_by_the_depth_limit, .init = engine_setup,
     .fini = engine_teardown)
{
    static const char loop[] = "x{% include \"loop.html\" %}";
    mn_template_engine_add_embedded(engine, "loop.html", loop, strlen(loop));
    mn_template_error err = render_error("{% include \"loop.html\" %}", NULL);
    cr_assert_eq(err.code, MN_ETOOBIG);
    cr_assert(strstr(err.message, "depth"), "%s", err.message);
    static const char self[] = "{% extends \"self.html\" %}";
    mn_template_engine_add_embedded(engine, "self.html", self, strlen(self));
    err = render_error("{% include \"self.html\" %}", NULL);
    cr_assert(strstr(err.message, "extends itself"), "%s", err.message);
}

Test(errors, output_and_loop_limits_stop_runaway_templates, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_engine_options(engine)->max_output = 1000;
    mn_template_error err = render_error("{% for a in s %}{% for b in s %}{% for c in s %}xxxxxxxx"
                                         "{% endfor %}{% endfor %}{% endfor %}",
                                         "{\"s\": \"0123456789\"}");
    cr_assert_eq(err.code, MN_ETOOBIG);
    mn_template_engine_options(engine)->max_output = 0;
    mn_template_engine_options(engine)->max_loop_iterations = 100;
    err = render_error("{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
                       "{\"s\": \"0123456789\"}");
    cr_assert(strstr(err.message, "loop iterations"), "%s", err.message);
}

Test(errors, deep_nesting_is_a_syntax_error_not_a_stack_overflow, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_buf b;
    mn_buf_init(&b, arena);
    for (int i = 0; i < 5000; i++)
        mn_buf_puts(&b, "{% if x %}");
    mn_template_error err = render_error(mn_buf_cstr(&b), NULL);
    cr_assert(strstr(err.message, "nested too deeply"), "%s", err.message);
    mn_buf_reset(&b);
    mn_buf_puts(&b, "{% if ");
    for (int i = 0; i < 5000; i++)
        mn_buf_puts(&b, "not ");
    mn_buf_puts(&b, "x %}{% endif %}");
    err = render_error(mn_buf_cstr(&b), NULL);
    cr_assert(strstr(err.message, "nested too deeply"), "%s", err.message);
}

/* ---- objects: the interface the ORM plugs into ---- */

static const mn_value_class qs_class_ref;

typedef struct fake_qs {
    int queries;
    int n;
} fake_qs;

static int qs_iterate(void *self, mn_arena *ar, mn_value **out)
{
    fake_qs *q = self;
    q->queries++;
    mn_value *l = mn_value_list(ar, (size_t)q->n);
    for (int i = 0; i < q->n; i++) {
        mn_value *row = mn_value_dict(ar, 1);
        mn_value_dict_set_cstr(ar, row, "id", mn_value_int(ar, i + 1));
        mn_value_list_append(ar, l, row);
    }
    *out = l;
    return 0;
}

static int qs_get(void *self, mn_str name, mn_arena *ar, mn_value **out)
{
    fake_qs *q = self;
    if (mn_str_eq_cstr(name, "count")) {
        *out = mn_value_int(ar, q->n);
        return 0;
    }
    if (mn_str_eq_cstr(name, "all")) {
        *out = mn_value_object(ar, &qs_class_ref, q);
        return 0;
    }
    return MN_ENOTFOUND;
}

static int qs_to_string(void *self, mn_arena *ar, mn_buf *out)
{
    (void)self;
    (void)ar;
    return mn_buf_puts(out, "<QuerySet>");
}

static const mn_value_class qs_class_ref = {
    .name = "QuerySet", .get = qs_get, .iterate = qs_iterate, .to_string = qs_to_string};
#define qs_class qs_class_ref

Test(objects, lazy_object_is_iterated_counted_and_tested, .init = engine_setup,
     .fini = engine_teardown)
{
    fake_qs q = {0, 3};
    mn_template_error err;
    const char *src =
        "{% if qs %}{{ qs.count }}:{% for o in qs %}{{ o.id }}{% endfor %}{{ qs.1.id }}"
        "{% endif %}{{ qs }}{% for o in qs.all %}{{ o.id }}{% endfor %}";
    mn_template *t = mn_template_compile(engine, "t", src, strlen(src), &err);
    cr_assert(t, "%s", err.message);
    mn_context *ctx = mn_context_new(arena);
    mn_context_set(ctx, "qs", mn_value_object(arena, &qs_class, &q));
    mn_buf out;
    mn_buf_init(&out, arena);
    cr_assert_eq(mn_template_render(t, ctx, &out, &err), 0, "%s", err.message);
    cr_assert_str_eq(mn_buf_cstr(&out), "3:1232&lt;QuerySet&gt;123");
    cr_assert_geq(q.queries, 1);
}

/* mn_value_object takes any class, NULL included: looping over such a value is an error that
 * names no class, never a crash. */
Test(objects, loop_over_object_without_class_is_not_iterable, .init = engine_setup,
     .fini = engine_teardown)
{
    int opaque = 0;
    mn_template_error err;
    const char *src = "{% for o in thing %}x{% endfor %}";
    mn_template *t = mn_template_compile(engine, "t", src, strlen(src), &err);
    cr_assert(t, "%s", err.message);
    mn_context *ctx = mn_context_new(arena);
    mn_context_set(ctx, "thing", mn_value_object(arena, NULL, &opaque));
    mn_buf out;
    mn_buf_init(&out, arena);
    cr_assert_neq(mn_template_render(t, ctx, &out, &err), 0);
    cr_assert(strstr(err.message, "'value' object is not iterable"), "%s", err.message);
}

/* A render that parks (a lazy value runs a query) lets other renders run on the same thread;
 * mn_template_current() then answers only the task that set it, so a diagnostic never names
 * another request's template. Here a value's lookup plays the part of the other task. */
static int running_task;
static const void *test_task(void)
{
    return &running_task + running_task; /* task 0 or task 1 */
}

typedef struct seen_at {
    const char *tpl;
    int line;
    bool switch_task;
} seen_at;

static int where_get(void *self, mn_str name, mn_arena *ar, mn_value **out)
{
    seen_at *s = self;
    (void)name;
    running_task = s->switch_task; /* another coroutine's turn, as after a yield */
    s->tpl = mn_template_current(&s->line);
    running_task = 0;
    *out = mn_value_int(ar, 1);
    return 0;
}

static const mn_value_class where_class = {.name = "Where", .get = where_get};

Test(objects, current_template_is_told_only_to_the_task_rendering_it, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_set_task_fn(test_task);
    mn_template_error err;
    const char *src = "a\n{{ mine.x }}{{ theirs.x }}";
    mn_template *t = mn_template_compile(engine, "page.html", src, strlen(src), &err);
    cr_assert(t, "%s", err.message);
    seen_at mine = {0}, theirs = {.switch_task = true};
    mn_context *ctx = mn_context_new(arena);
    mn_context_set(ctx, "mine", mn_value_object(arena, &where_class, &mine));
    mn_context_set(ctx, "theirs", mn_value_object(arena, &where_class, &theirs));
    mn_buf out;
    mn_buf_init(&out, arena);
    cr_assert_eq(mn_template_render(t, ctx, &out, &err), 0, "%s", err.message);
    mn_template_set_task_fn(NULL);
    cr_expect_str_eq(mine.tpl ? mine.tpl : "(null)", "page.html");
    cr_expect_eq(mine.line, 2);
    cr_expect_null(theirs.tpl, "another task is not told this render's template");
    cr_expect_eq(theirs.line, 0);
    cr_expect_null(mn_template_current(NULL), "outside a render");
}

Test(context, push_pop_and_set_from_c, .init = engine_setup, .fini = engine_teardown)
{
    mn_context *c = mn_context_new(arena);
    mn_context_set(c, "a", mn_value_int(arena, 1));
    mn_context_push(c);
    mn_context_set(c, "a", mn_value_int(arena, 2));
    cr_assert_eq(mn_context_get(c, "a", 1)->u.i, 2);
    mn_context_pop(c);
    cr_assert_eq(mn_context_get(c, "a", 1)->u.i, 1);
    mn_context_pop(c); /* the bottom frame stays */
    cr_assert_eq(mn_context_get(c, "a", 1)->u.i, 1);
    cr_assert_null(mn_context_get(c, "b", 1));
}

Test(rendering, now_tag_renders_something_and_supports_as, .init = engine_setup,
     .fini = engine_teardown)
{
    char *out = render("{% now \"Y\" as year %}[{{ year }}]", NULL);
    cr_assert(strlen(out) > 2);
}

Test(rendering, context_autoescape_off_renders_raw, .init = engine_setup, .fini = engine_teardown)
{
    mn_template_error err;
    mn_template *t = mn_template_compile(engine, "t", "{{ x }}", 7, &err);
    mn_context *c = mn_context_new(arena);
    mn_context_set_autoescape(c, false);
    mn_context_set(c, "x", mn_value_cstr(arena, "<"));
    mn_buf out;
    mn_buf_init(&out, arena);
    cr_assert_eq(mn_template_render(t, c, &out, &err), 0);
    cr_assert_str_eq(mn_buf_cstr(&out), "<");
}

/* Dict lookups remember where each key was last found; rows whose keys come in another
 * order, lack the key or nest differently must still get their own values. */
Test(rendering, attribute_lookups_follow_each_dicts_own_key_order, .init = engine_setup,
     .fini = engine_teardown)
{
    char *out = render("{% for r in rows %}{{ r.a }}/{{ r.b }}/{{ r.x.y }};{% endfor %}",
                       "{\"rows\": [{\"a\": 1, \"b\": 2, \"x\": {\"y\": 3, \"z\": 0}},"
                       " {\"b\": 4, \"a\": 5, \"x\": {\"z\": 0, \"y\": 6}},"
                       " {\"b\": 7}, {\"c\": 8, \"a\": 9, \"x\": {\"z\": 10}},"
                       " {\"x\": {\"y\": 11}, \"a\": 12}]}");
    cr_assert_str_eq(out, "1/2/3;5/4/6;/7/;9//;12//11;");
}

/* lower takes ASCII eight bytes at a time: the letters' neighbours ('@' '[' '`' '{') stay,
 * and a non-ASCII letter inside or after a run of eight is still lowered. */
Test(rendering, lower_maps_only_letters_in_long_ascii_runs, .init = engine_setup,
     .fini = engine_teardown)
{
    char *out = render("{{ s|lower }}|{{ t|lower }}",
                       "{\"s\": \"ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{ 0123456789 ~\\u007f\","
                       " \"t\": \"ABCD\\u00c9FGHIJKLMN\\u00c0\"}");
    cr_assert_str_eq(out, "abcdefghijklmnopqrstuvwxyz@[`{ 0123456789 ~\x7f|abcd\xc3\xa9"
                          "fghijklmn\xc3\xa0");
}
