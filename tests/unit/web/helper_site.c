/* A small project for the web tests: views that render, redirect, raise, return JSON, set
 * cookies; settings set per test through the environment. */
#include "helper_site.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void v_index(mn_req *r)
{
    mn_render(r, "index.html", MN_CTX("title", "Polls & more", "count", 3));
}

static void v_detail(mn_req *r)
{
    int64_t id = mn_path_int(r, "question_id");
    if (id > 100)
        mn_http_404(r, "No Question matches the given query.");
    mn_resp_printf(r, "question %lld", (long long)id);
}

static void v_vote(mn_req *r)
{
    const char *choice = mn_req_form(r, "choice");
    if (!choice)
        mn_http_400(r, "no choice");
    mn_redirect(r, mn_reverse(r, "polls:results", (int64_t)mn_path_int(r, "question_id")));
}

static void v_results(mn_req *r)
{
    mn_resp_printf(r, "results of %s", mn_path_str(r, "question_id"));
}

static void v_big(mn_req *r)
{
    for (int i = 0; i < 100; i++)
        mn_resp_puts(r, "Manouche is a web framework in C. ");
}

static void v_api(mn_req *r)
{
    json_t *in = mn_req_json(r);
    json_t *out = json_pack("{s:s, s:O?}", "method", mn_req_method_is(r, "POST") ? "POST" : "GET",
                            "echo", in);
    mn_json(r, 200, out);
}

static void v_cookie(mn_req *r)
{
    mn_cookie c = {"flavour", "chocolate", -1, NULL, NULL, false, false, NULL};
    mn_resp_set_cookie(r, &c);
    const char *seen = mn_req_cookie(r, "flavour");
    mn_resp_printf(r, "seen=%s", seen ? seen : "none");
}

static void v_boom(mn_req *r)
{
    mn_abort(r, 500, "the frobnicator broke");
}

static void v_forbidden(mn_req *r)
{
    mn_http_403(r, "not yours");
}

static void v_bad_reverse(mn_req *r)
{
    mn_redirect(r, mn_reverse(r, "polls:nope"));
}

static void v_only_get(mn_req *r)
{
    mn_require_methods(r, "GET");
    mn_resp_puts(r, "got it");
}

static void v_broken_template(mn_req *r)
{
    mn_render(r, "broken.html", NULL);
}

static void v_twice(mn_req *r)
{
    mn_abort(r, 500, "fails twice");
}

static void v_bits(mn_req *r)
{
    bool flag = true;
    double ratio = 0.5;
    const char *frag = mn_render_to_string(
        r, "bits.html", MN_CTX("flag", flag, "ratio", ratio, "n", 42, "s", "<b>"));
    mn_json_text(r, 201, frag);
}

static void v_archive(mn_req *r)
{
    int year = 1999; /* any integer type, or a string, for any converter */
    unsigned char day = 12;
    mn_resp_printf(r, "%s-%s %s %s %s", mn_path_str(r, "year"), mn_path_str(r, "month"),
                   mn_reverse(r, "archive", "1999", "12"), mn_reverse(r, "archive", year, day),
                   mn_reverse(r, "polls:detail", "42"));
}

static void v_stream(mn_req *r)
{
    mn_resp_set_header(r, "Content-Type", "text/plain");
    mn_resp_stream_start(r);
    for (int i = 0; i < 50; i++)
        mn_resp_stream_write(r, "streamed piece of text, long enough to matter\n", 46);
    mn_resp_stream_end(r);
}

static void v_dated(mn_req *r)
{
    mn_resp_set_header(r, "Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT");
    mn_resp_set_header(r, "Cache-Control", "no-store"); /* no ETag: dates decide */
    mn_resp_puts(r, "dated");
}

static void v_goto(mn_req *r)
{
    mn_redirect(r, "/polls/");
}

static const mn_route polls_urls[] = {
    MN_PATH("", v_index, "index"),
    MN_PATH("<int:question_id>/", v_detail, "detail"),
    MN_PATH("<int:question_id>/results/", v_results, "results"),
    MN_PATH_METHODS("<int:question_id>/vote/", v_vote, "vote", "POST"),
    MN_END,
};

static const mn_route urls[] = {
    MN_INCLUDE("polls/", polls_urls, "polls"),
    MN_PATH("big/", v_big, "big"),
    MN_PATH("api/", v_api, "api"),
    MN_PATH("cookie/", v_cookie, "cookie"),
    MN_PATH("boom/", v_boom, "boom"),
    MN_PATH("forbidden/", v_forbidden, "forbidden"),
    MN_PATH("bad-reverse/", v_bad_reverse, "bad-reverse"),
    MN_PATH("only-get/", v_only_get, "only-get"),
    MN_PATH("broken/", v_broken_template, "broken"),
    MN_PATH("goto/", v_goto, "goto"),
    MN_PATH("twice/", v_twice, "twice"),
    MN_PATH("bits/", v_bits, "bits"),
    MN_PATH("stream/", v_stream, "stream"),
    MN_PATH("dated/", v_dated, "dated"),
    MN_RE_PATH("^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", v_archive, "archive"),
    MN_END,
};

static const mn_template_embedded templates[] = {
    {"base.html",
     "<title>{% block title %}site{% endblock %}</title>{% block body %}{% endblock %}"},
    {"index.html", "{% extends 'base.html' %}{% block title %}{{ title }}{% endblock %}"
                   "{% block body %}<a href=\"{% url 'polls:detail' count %}\">{{ count }}</a>"
                   "{% endblock %}"},
    {"broken.html", "{% if %}"},
    {"bits.html", "{\"flag\": \"{{ flag }}\", \"ratio\": {{ ratio }}, \"n\": {{ n|add:1 }}, "
                  "\"s\": \"{{ s }}\", \"url\": \"{% url 'archive' '2001' '02' %}\"}"},
    {NULL, NULL},
};

/* An app middleware: answers /teapot/ itself, turns 403s into a friendly page, and marks
 * every response on the way out. */
static bool teapot_before(mn_req *r)
{
    if (!mn_str_eq_cstr(mn_req_path(r), "/teapot/"))
        return false;
    mn_resp_send(r, 418, "text/plain", "short and stout");
    return true;
}

static void teapot_after(mn_req *r)
{
    mn_resp_add_header(r, "X-Teapot", "seen");
}

static bool teapot_error(mn_req *r, int status, const char *message)
{
    if (status != 403)
        return false;
    mn_resp_send(r, 403, "text/plain", "teapot says no");
    return true;
}

static const mn_middleware teapot = {"teapot", teapot_before, teapot_after, teapot_error};
static const mn_middleware *const app_middleware[] = {&teapot, NULL};

static const mn_app polls_app = {"polls", NULL, NULL, templates, NULL, NULL, app_middleware, NULL};
static const mn_app *const apps[] = {&polls_app, NULL};

static void custom_500(mn_req *r)
{
    if (strstr(mn_error_message(r), "twice"))
        mn_abort(r, 500, "the handler failed too");
    mn_resp_printf(r, "custom 500 (%d)", mn_error_status(r));
}

static void custom_404(mn_req *r)
{
    mn_resp_printf(r, "custom 404: %s", mn_error_message(r));
}

const mn_project test_project = {"testsite", urls, apps, NULL, NULL, NULL, NULL, NULL, NULL};
const mn_project test_project_custom = {"testsite", urls, apps, NULL, custom_404,
                                        custom_500, NULL, NULL, NULL};

static mn_settings *settings;
static mn_site *site;

mn_client *test_client(const mn_project *project, const char *const *env)
{
    /* every setting from its default unless the test says otherwise */
    mn_settings *defaults = mn_settings_new();
    const mn_setting_def *d;
    for (size_t i = 0; (d = mn_settings_def_at(defaults, i)) != NULL; i++)
        unsetenv(d->name);
    mn_settings_free(defaults);
    setenv("SECRET_KEY", "test-secret", 1);
    setenv("DEBUG", "false", 1);
    setenv("LOG_LEVEL", "ERROR", 1);
    for (size_t i = 0; env && env[i]; i += 2)
        setenv(env[i], env[i + 1], 1);
    settings = mn_settings_new();
    cr_assert_not_null(settings);
    cr_assert_eq(mn_settings_load(settings, NULL), 0, "%s", mn_settings_error(settings));
    mn_log_configure(MN_LOG_ERROR, false, 2);
    char err[512];
    site = mn_site_new(project, settings, err, sizeof err);
    cr_assert_not_null(site, "%s", err);
    mn_client *c = mn_client_new(site);
    cr_assert_not_null(c);
    return c;
}

void test_client_done(mn_client *c)
{
    mn_client_free(c);
    mn_site_free(site);
    mn_settings_free(settings);
    site = NULL;
    settings = NULL;
}
