/* test_writers.c — the last filter of {{ var|...|f }} may write its result straight into the
 * output (render.c's writers: title, lower, upper, floatformat, yesno, default, join). What
 * it writes must be what writing the filter's value writes: each case is rendered both ways,
 * `{{ x|F }}` and `{% with y=x|F %}{{ y }}{% endwith %}` (the value path), under autoescape
 * and without, and a few are also checked against Django's output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helper_engine.h"

/* every value of the context through `expr` (written with x as the value), both paths */
static void same_both_ways(const char *expr, const char *json, const char *const *names)
{
    for (int off = 0; off < 2; off++) {
        for (int i = 0; names[i]; i++) {
            char direct[512], via[512];
            snprintf(direct, sizeof direct, "%s{{ %s|%s }}%s", off ? "{% autoescape off %}" : "",
                     names[i], expr, off ? "{% endautoescape %}" : "");
            snprintf(via, sizeof via, "%s{%% with y=%s|%s %%}{{ y }}{%% endwith %%}%s",
                     off ? "{% autoescape off %}" : "", names[i], expr,
                     off ? "{% endautoescape %}" : "");
            char *d = render(direct, json), *v = render(via, json);
            cr_assert_str_eq(d, v, "%s gives '%s', its value '%s'", direct, d, v);
        }
    }
}

static const char *const texts_json =
    "{\"plain\": \"ken hopper\", \"quote\": \"joe's o'NEIL 1st 2ND x'Y'Z 1A'B ab'C'D\","
    " \"html\": \"<b>fish & \\\"chips\\\"</b> 'q'\", \"safe\": {\"__safe__\": \"<i>it's</i>\"},"
    " \"uni\": \"\\u00e9cole \\u00df \\u03a3A\\u03a3 <\\u00e9>\", \"empty\": \"\", \"num\": 42,"
    " \"none\": null, \"list\": [\"a\", \"<b>\"], \"mixed\": \"MiXeD cAsE-words_9x\","
    " \"long\": \"THE QUICK brown fOX jumps over the lazy dog again and AGAIN\","
    " \"edges\": \"a@b[c`d{e}f_g^h\\\\i|j~k@@ZZ[[zz{{AA``aa/:;=?\","
    " \"late\": \"twelve bytes then it's 3rd <&> and o'neil\","
    " \"lateuni\": \"eight by\u00e9tes plus MORE text\", \"t1\": \"abcdefgh ij'k\","
    " \"t2\": \"ABCDEFGHIJ<k\", \"t3\": \"abcdefghi9x\", \"t4\": \"ABCDEFGH\","
    " \"t5\": \"abcdefgh\u00e9\", \"t6\": \"abcdefg<hi\", \"t7\": \"Abcdefgh'S\","
    " \"t8\": \"x1234567Ab\", \"t9\": \"ABCDEFGHI jKLMNOPQ rsTUVW\"}";
static const char *const text_names[] = {
    "plain", "quote", "html",  "safe", "uni",     "empty",   "num", "none", "list",
    "mixed", "long",  "edges", "late", "lateuni", "t1",      "t2",  "t3",   "t4",
    "t5",    "t6",    "t7",    "t8",   "t9",      "missing", NULL};

Test(writers, title_lower_upper_match_their_values, .init = engine_setup, .fini = engine_teardown)
{
    same_both_ways("title", texts_json, text_names);
    same_both_ways("lower", texts_json, text_names);
    same_both_ways("upper", texts_json, text_names);
    same_both_ways("lower|title", texts_json, text_names);
    same_both_ways("safe|title", texts_json, text_names);
    same_both_ways("escape|lower", texts_json, text_names);
}

Test(writers, title_as_django_writes_it, .init = engine_setup, .fini = engine_teardown)
{
    /* Django 3.2: title() of these */
    cr_assert_str_eq(render("{{ quote|title }}", texts_json),
                     "Joe&#x27;s O&#x27;Neil 1st 2nd X&#x27;Y&#x27;Z 1a&#x27;B Ab&#x27;c&#x27;D");
    cr_assert_str_eq(render("{{ html|title }}|{{ safe|title }}", texts_json),
                     "&lt;B&gt;Fish &amp; &quot;Chips&quot;&lt;/B&gt; &#x27;Q&#x27;|<I>It's</I>");
}

Test(writers, yesno_default_join_match_their_values, .init = engine_setup, .fini = engine_teardown)
{
    const char *json =
        "{\"t\": true, \"f\": false, \"n\": null, \"z\": 0, \"s\": \"<x>\", \"e\": \"\","
        " \"l\": [\"a&b\", \"<c>\"], \"one\": [\"<only>\"], \"nil\": [],"
        " \"sl\": [{\"__safe__\": \"<i>\"}, \"<u>\"], \"nums\": [1, 2], \"str\": \"abc\","
        " \"d\": {\"k\": 1}, \"sep\": \"<&>\", \"safesep\": {\"__safe__\": \"<br>\"}}";
    const char *const names[] = {"t",   "f",  "n",    "z",   "s", "e",       "l", "one",
                                 "nil", "sl", "nums", "str", "d", "missing", NULL};
    same_both_ways("yesno", json, names);
    same_both_ways("yesno:\"<y>,<n>\"", json, names);
    same_both_ways("yesno:\"a,b,c\"", json, names);
    same_both_ways("yesno:\"single\"", json, names);
    same_both_ways("yesno:sep", json, names);
    same_both_ways("default:\"<none>\"", json, names);
    same_both_ways("default:s", json, names);
    same_both_ways("default:l", json, names);
    same_both_ways("join:\", \"", json, names);
    same_both_ways("join:sep", json, names);
    same_both_ways("join:safesep", json, names);
    same_both_ways("join:t", json, names);
    cr_assert_str_eq(render("{{ l|join:sep }}|{{ sl|join:safesep }}", json),
                     "a&amp;b&lt;&amp;&gt;&lt;c&gt;|<i><br>&lt;u&gt;");
}

Test(writers, floatformat_matches_its_value, .init = engine_setup, .fini = engine_teardown)
{
    const char *json = "{\"a\": 435.54, \"b\": -0.005, \"c\": 2.675, \"d\": 0.0, \"e\": -0.0,"
                       " \"f\": 1e14, \"g\": 123456789.125, \"h\": 7, \"i\": \"3.14159\","
                       " \"j\": 0.1, \"k\": -12.5, \"l\": 1e-7, \"m\": 99.995}";
    const char *const names[] = {"a", "b", "c", "d", "e", "f",       "g", "h",
                                 "i", "j", "k", "l", "m", "missing", NULL};
    same_both_ways("floatformat:2", json, names);
    same_both_ways("floatformat:1", json, names);
    same_both_ways("floatformat:15", json, names);
    same_both_ways("floatformat", json, names);
    same_both_ways("floatformat:\"2g\"", json, names);
    same_both_ways("floatformat:-2", json, names);
    /* Django 3.2 */
    cr_assert_str_eq(render("{{ a|floatformat:2 }} {{ b|floatformat:2 }} {{ c|floatformat:2 }} "
                            "{{ e|floatformat:2 }} {{ j|floatformat:3 }} {{ k|floatformat:1 }} "
                            "{{ m|floatformat:2 }}",
                            json),
                     "435.54 -0.01 2.68 0.00 0.100 -12.5 100.00");
}

static mn_value *f_reverse(const mn_filter_call *call, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_str s = mn_value_string(v);
    char *p = mn_arena_alloc(call->arena, s.len + 1);
    for (size_t i = 0; i < s.len; i++)
        p[i] = s.ptr[s.len - 1 - i];
    return mn_value_str_ref(call->arena, p, s.len);
}

Test(writers, a_user_filter_replacing_a_builtin_loses_its_writer, .init = engine_setup,
     .fini = engine_teardown)
{
    mn_template_library *lib = mn_template_engine_library(engine, "");
    cr_assert_not_null(lib);
    /* "lower" now reverses: the built-in writer must not be used for it */
    cr_assert_eq(mn_template_library_add_filter(lib, "lower", f_reverse, MN_FILTER_STRING), 0);
    cr_assert_str_eq(render("{{ s|lower }}", "{\"s\": \"AbC\"}"), "CbA");
}

Test(writers, string_if_invalid_skips_the_filters, .init = engine_setup, .fini = engine_teardown)
{
    mn_template_engine_free(engine);
    engine = helper_engine();
    mn_template_options *o = mn_template_engine_options(engine);
    cr_assert_not_null(o);
    o->string_if_invalid = "INVALID(%s)";
    cr_assert_str_eq(render("{{ nope|title }}|{{ nope|lower|title }}", "{}"),
                     "INVALID(nope)|INVALID(nope)");
}
