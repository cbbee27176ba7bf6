/* Router: Django path() converters, re_path, include() with namespaces, 405 with Allow, and
 * reverse with escaping and NoReverseMatch messages. */
#include <manouche/web.h>

#include <criterion/criterion.h>
#include <string.h>

static void v_index(mn_req *r)
{
    (void)r;
}
static void v_detail(mn_req *r)
{
    (void)r;
}
static void v_vote(mn_req *r)
{
    (void)r;
}
static void v_slug(mn_req *r)
{
    (void)r;
}
static void v_uuid(mn_req *r)
{
    (void)r;
}
static void v_path(mn_req *r)
{
    (void)r;
}
static void v_year(mn_req *r)
{
    (void)r;
}
static void v_re(mn_req *r)
{
    (void)r;
}
static void v_hex(mn_req *r)
{
    (void)r;
}
static void v_str(mn_req *r)
{
    (void)r;
}

static const mn_route polls_urls[] = {
    MN_PATH("", v_index, "index"),
    MN_PATH("<int:question_id>/", v_detail, "detail"),
    MN_PATH_METHODS("<int:question_id>/vote/", v_vote, "vote", "POST"),
    MN_END,
};

static bool even_hex(mn_str v)
{
    return v.len % 2 == 0;
}

static const mn_converter converters[] = {
    {"hex", "[0-9a-f]+", even_hex},
    {NULL, NULL, NULL},
};

static const mn_route root[] = {
    MN_INCLUDE("polls/", polls_urls, "polls"),
    MN_PATH("articles/<slug:slug>/", v_slug, "article"),
    MN_PATH("objects/<uuid:id>/", v_uuid, "object"),
    MN_PATH("files/<path:rest>", v_path, "file"),
    MN_PATH("users/<name>/posts/<int:n>/", v_str, "user-post"),
    MN_RE_PATH("^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", v_year, "archive"),
    MN_RE_PATH("^legacy/([a-z]+)/$", v_re, NULL),
    MN_PATH("color/<hex:code>/", v_hex, "color"),
    MN_END,
};

static mn_router *rt;

static void setup(void)
{
    char err[256];
    rt = mn_router_new(root, converters, err, sizeof err);
    cr_assert_not_null(rt, "%s", err);
}

static void teardown(void)
{
    mn_router_free(rt);
}

TestSuite(router, .init = setup, .fini = teardown);

static mn_route_match m;

static int resolve(const char *path, const char *method)
{
    return mn_router_resolve(rt, mn_str_from(path), method, &m, NULL, 0);
}

static void assert_param(size_t i, const char *name, const char *value)
{
    cr_assert_str_eq(m.param_names[i], name);
    cr_assert(mn_str_eq_cstr(m.params[i], value), "param %s = '%.*s', want '%s'", name,
              (int)m.params[i].len, m.params[i].ptr, value);
}

Test(router, include_prefix_and_int_converter)
{
    cr_assert_eq(resolve("/polls/", "GET"), 0);
    cr_assert_eq(m.route->view, v_index);
    cr_assert_str_eq(m.full_name, "polls:index");
    cr_assert_eq(resolve("/polls/34/", "GET"), 0);
    cr_assert_eq(m.route->view, v_detail);
    cr_assert_eq(m.param_count, 1);
    assert_param(0, "question_id", "34");
    cr_assert_str_eq(m.full_pattern, "polls/<int:question_id>/");
    cr_assert_eq(resolve("/polls/x/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/polls/34", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/polls/-1/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/", "GET"), MN_ENOTFOUND);
}

Test(router, wrong_method_gives_allow_list)
{
    char allow[64];
    cr_assert_eq(
        mn_router_resolve(rt, mn_str_from("/polls/3/vote/"), "GET", &m, allow, sizeof allow),
        MN_EUNSUPPORTED);
    cr_assert_str_eq(allow, "POST");
    cr_assert_eq(resolve("/polls/3/vote/", "post"), 0);
    cr_assert_eq(resolve("/polls/3/vote/", NULL), 0);
}

Test(router, slug_uuid_path_str)
{
    cr_assert_eq(resolve("/articles/hello-world_2/", "GET"), 0);
    assert_param(0, "slug", "hello-world_2");
    cr_assert_eq(resolve("/articles/héllo/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/objects/123e4567-e89b-12d3-a456-426614174000/", "GET"), 0);
    cr_assert_eq(resolve("/objects/123E4567-E89B-12D3-A456-426614174000/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/objects/123e4567/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/files/a/b/c.txt", "GET"), 0);
    assert_param(0, "rest", "a/b/c.txt");
    cr_assert_eq(resolve("/files/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/users/ana maria/posts/7/", "GET"), 0);
    assert_param(0, "name", "ana maria");
    assert_param(1, "n", "7");
}

Test(router, re_path_named_and_positional_groups)
{
    cr_assert_eq(resolve("/archive/2024/05/", "GET"), 0);
    cr_assert_eq(m.route->view, v_year);
    assert_param(0, "year", "2024");
    assert_param(1, "month", "05");
    cr_assert_eq(resolve("/archive/24/05/", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/archive/2024/05/x", "GET"), MN_ENOTFOUND);
    cr_assert_eq(resolve("/legacy/abc/", "GET"), 0);
    cr_assert_null(m.param_names[0]);
    cr_assert(mn_str_eq_cstr(m.params[0], "abc"));
}

Test(router, user_converter_regex_and_check)
{
    cr_assert_eq(resolve("/color/ff00aa/", "GET"), 0);
    assert_param(0, "code", "ff00aa");
    cr_assert_eq(resolve("/color/fff/", "GET"), MN_ENOTFOUND); /* odd: accepts() says no */
    cr_assert_eq(resolve("/color/zz/", "GET"), MN_ENOTFOUND);
}

static const char *rev(const char *name, size_t argc, const char *const *names,
                       const char *const *values, char *err, size_t errlen)
{
    static mn_buf out;
    mn_buf_free(&out);
    mn_buf_init(&out, NULL);
    if (mn_router_reverse(rt, name, argc, names, values, &out, err, errlen) != 0)
        return NULL;
    return mn_buf_cstr(&out);
}

Test(router, reverse_with_namespace_and_escaping)
{
    char err[512];
    const char *one[] = {"5"};
    cr_assert_str_eq(rev("polls:detail", 1, NULL, one, err, sizeof err), "/polls/5/");
    cr_assert_str_eq(rev("polls:index", 0, NULL, NULL, err, sizeof err), "/polls/");
    const char *name_vals[] = {"a b?c", "7"};
    cr_assert_str_eq(rev("user-post", 2, NULL, name_vals, err, sizeof err),
                     "/users/a%20b%3Fc/posts/7/");
    const char *path_val[] = {"dir/f#1.txt"};
    cr_assert_str_eq(rev("file", 1, NULL, path_val, err, sizeof err), "/files/dir/f%231.txt");
    const char *kw_names[] = {"month", "year"}, *kw_vals[] = {"05", "2024"};
    cr_assert_str_eq(rev("archive", 2, kw_names, kw_vals, err, sizeof err), "/archive/2024/05/");
    const char *hex[] = {"abcd"};
    cr_assert_str_eq(rev("color", 1, NULL, hex, err, sizeof err), "/color/abcd/");
}

Test(router, reverse_errors_name_the_route)
{
    char err[512];
    const char *bad[] = {"abc"};
    cr_assert_null(rev("polls:detail", 1, NULL, bad, err, sizeof err));
    cr_assert_str_eq(err, "Reverse for 'polls:detail' with arguments '('abc',)' not found. 1 "
                          "pattern(s) tried: ['polls/<int:question_id>/']");
    cr_assert_null(rev("nope", 0, NULL, NULL, err, sizeof err));
    cr_assert_str_eq(err, "Reverse for 'nope' not found. 'nope' is not a valid view function "
                          "or pattern name.");
    cr_assert_null(rev("blog:index", 0, NULL, NULL, err, sizeof err));
    cr_assert_str_eq(err, "'blog' is not a registered namespace");
    const char *year[] = {"24", "05"}, *names[] = {"year", "month"};
    cr_assert_null(rev("archive", 2, names, year, err, sizeof err));
    const char *odd[] = {"abc"};
    cr_assert_null(rev("color", 1, NULL, odd, err, sizeof err));
}

Test(router, bad_patterns_are_reported)
{
    char err[256];
    static const mn_route unknown[] = {MN_PATH("a/<foo:x>/", v_index, "a"), MN_END};
    cr_assert_null(mn_router_new(unknown, NULL, err, sizeof err));
    cr_assert_str_eq(err, "a/<foo:x>/: unknown converter 'foo'");
    static const mn_route unclosed[] = {MN_PATH("a/<int:x/", v_index, "a"), MN_END};
    cr_assert_null(mn_router_new(unclosed, NULL, err, sizeof err));
    cr_assert_str_eq(err, "a/<int:x/: '<' without a closing '>'");
    static const mn_route badre[] = {MN_RE_PATH("^a/(?P<x>[0-9]+/$", v_index, "a"), MN_END};
    cr_assert_null(mn_router_new(badre, NULL, err, sizeof err));
    cr_assert(strstr(err, "invalid regular expression"), "%s", err);
    static const mn_route badname[] = {MN_PATH("a/<int:1x>/", v_index, "a"), MN_END};
    cr_assert_null(mn_router_new(badname, NULL, err, sizeof err));
    cr_assert_str_eq(err, "a/<int:1x>/: '1x' is not a valid parameter name");
}

Test(router, listing_for_urls_command)
{
    const char *pat, *name, *methods;
    cr_assert(mn_router_route_at(rt, 2, &pat, &name, &methods, NULL));
    cr_assert_str_eq(pat, "polls/<int:question_id>/vote/");
    cr_assert_str_eq(name, "polls:vote");
    cr_assert_str_eq(methods, "POST");
    size_t n = 0;
    while (mn_router_route_at(rt, n, NULL, NULL, NULL, NULL))
        n++;
    cr_assert_eq(n, 10);
}

/* Adjacent converters make the split points a search; a hostile path must not make it
 * exponential. Ten str converters and 200 bytes without the final literal: without a bound
 * this takes longer than the test's lifetime. A path that does fit still matches. */
Test(router, adjacent_converters_stay_bounded, .timeout = 10)
{
    static const mn_route greedy[] = {
        MN_PATH("<str:a><str:b><str:c><str:d><str:e><str:f><str:g><str:h><str:i><str:j>x/", v_index,
                "greedy"),
        MN_END};
    char err[256];
    mn_router *g = mn_router_new(greedy, NULL, err, sizeof err);
    cr_assert_not_null(g, "%s", err);
    char path[256] = "/";
    memset(path + 1, 'a', 200);
    path[201] = '/';
    path[202] = '\0';
    mn_route_match hit;
    cr_expect_neq(mn_router_resolve(g, mn_str_from(path), "GET", &hit, NULL, 0), 0);
    cr_expect_eq(mn_router_resolve(g, mn_str_from("/abcdefghijx/"), "GET", &hit, NULL, 0), 0);
    mn_router_free(g);
}
