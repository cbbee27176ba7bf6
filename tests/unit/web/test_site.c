/* The whole stack through the test client: routing, views, error pages, 404/405,
 * APPEND_SLASH, redirects, cookies and JSON. */
#include "helper_site.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

static mn_client *c;

static void done(void)
{
    test_client_done(c);
}

static const char *const debug_env[] = {"DEBUG", "true", NULL};

/* A client for the test project (env: settings over the defaults, NULL for none) and its
 * answer to GET path, which must have that status. */
static mn_req *get(const char *const *env, const char *path, int status)
{
    c = test_client(&test_project, env);
    mn_req *r = mn_client_get(c, path);
    mn_assert_status(r, status);
    return r;
}

Test(site, renders_template_with_extends_and_url_tag, .fini = done)
{
    mn_req *r = get(NULL, "/polls/", 200);
    mn_assert_contains(r, "<title>Polls &amp; more</title>");
    mn_assert_contains(r, "<a href=\"/polls/3/\">3</a>");
    mn_assert_header(r, "Content-Type", "text/html; charset=utf-8");
}

Test(site, path_parameters_reach_the_view, .fini = done)
{
    mn_req *r = get(NULL, "/polls/42/", 200);
    cr_assert_str_eq(mn_resp_text(r), "question 42");
    r = mn_client_get(c, "/polls/42/results/");
    cr_assert_str_eq(mn_resp_text(r), "results of 42");
}

Test(site, unknown_path_is_plain_404_in_production, .fini = done)
{
    mn_req *r = get(NULL, "/nowhere/", 404);
    mn_assert_contains(r, "<h1>Not Found</h1><p>The requested resource was not found on this "
                          "server.</p>");
    mn_assert_not_contains(r, "polls/");
}

Test(site, debug_404_lists_the_patterns, .fini = done)
{
    mn_req *r = get(debug_env, "/nowhere/", 404);
    mn_assert_contains(r, "<title>Page not found at /nowhere/</title>");
    mn_assert_contains(r, "polls/&lt;int:question_id&gt;/ [name='polls:detail']");
    mn_assert_contains(r, "The current path, nowhere/, didn&#x27;t match any of these.");
}

Test(site, view_404_helper_ends_the_view, .fini = done)
{
    mn_req *r = get(debug_env, "/polls/101/", 404);
    mn_assert_contains(r, "No Question matches the given query.");
    mn_assert_not_contains(r, "question 101");
}

Test(site, custom_404_handler, .fini = done)
{
    c = test_client(&test_project_custom, NULL);
    mn_req *r = mn_client_get(c, "/polls/101/");
    mn_assert_status(r, 404);
    cr_assert_str_eq(mn_resp_text(r), "custom 404: No Question matches the given query.");
}

Test(site, wrong_method_is_405_with_allow, .fini = done)
{
    mn_req *r = get(NULL, "/polls/1/vote/", 405);
    mn_assert_header(r, "Allow", "POST");
    r = mn_client_post_form(c, "/only-get/", "");
    mn_assert_status(r, 405);
    mn_assert_header(r, "Allow", "GET");
    r = mn_client_head(c, "/only-get/");
    mn_assert_status(r, 200);
}

Test(site, post_then_redirect_with_reverse, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_post_form(c, "/polls/7/vote/", "choice=2");
    mn_assert_redirects(r, 302, "/polls/7/results/");
    r = mn_client_post_form(c, "/polls/7/vote/", "other=1");
    mn_assert_status(r, 400);
}

Test(site, follows_redirects_on_request, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_client_request q = {0};
    q.method = "POST";
    q.path = "/polls/7/vote/";
    q.body = "choice=1";
    q.content_type = "application/x-www-form-urlencoded";
    q.follow = true;
    mn_req *r = mn_client_request_run(c, &q);
    mn_assert_status(r, 200);
    cr_assert_str_eq(mn_resp_text(r), "results of 7");
    cr_assert_eq(mn_client_redirect_count(c), 1);
    int status;
    const char *loc;
    cr_assert(mn_client_redirect_at(c, 0, &status, &loc));
    cr_assert_eq(status, 302);
    cr_assert_str_eq(loc, "/polls/7/results/");
}

Test(site, append_slash_redirects_get_permanently, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/polls/5?x=1");
    mn_assert_redirects(r, 301, "/polls/5/?x=1");
    r = mn_client_get(c, "/polls/5/results");
    mn_assert_redirects(r, 301, "/polls/5/results/");
    r = mn_client_get(c, "/nothing");
    mn_assert_status(r, 404);
}

Test(site, append_slash_off_gives_404, .fini = done)
{
    static const char *const env[] = {"APPEND_SLASH", "false", NULL};
    c = test_client(&test_project, env);
    mn_assert_status(mn_client_get(c, "/polls/5"), 404);
}

Test(site, append_slash_post_in_debug_explains, .fini = done)
{
    c = test_client(&test_project, debug_env);
    mn_req *r = mn_client_post_form(c, "/polls/5/vote", "choice=1");
    mn_assert_status(r, 500);
    mn_assert_contains(r, "RuntimeError: You called this URL via POST, but the URL doesn");
    mn_assert_contains(r, "testserver/polls/5/vote/ (note the trailing slash)");
}

Test(site, append_slash_delete_in_debug_explains_but_options_redirects, .fini = done)
{
    /* As Django: DELETE, POST, PUT and PATCH would lose their data; other methods redirect. */
    c = test_client(&test_project, debug_env);
    mn_req *r = mn_client_delete(c, "/polls/5/vote?x=1");
    mn_assert_status(r, 500);
    mn_assert_contains(r, "You called this URL via DELETE");
    mn_assert_contains(r, "testserver/polls/5/vote/?x=1 (note the trailing slash)");
    r = mn_client_request_run(c, &(mn_client_request){.method = "OPTIONS", .path = "/polls/5"});
    mn_assert_redirects(r, 301, "/polls/5/");
}

Test(site, debug_500_page_masks_secrets_and_shows_backtrace, .fini = done)
{
    mn_req *r = get(debug_env, "/boom/", 500);
    mn_assert_contains(r, "the frobnicator broke");
    mn_assert_contains(r, "Backtrace");
    mn_assert_contains(r, "(mn_"); /* frames name their functions, not only addresses */
    mn_assert_contains(r, "SECRET_KEY");
    mn_assert_not_contains(r, "test-secret");
    mn_assert_contains(r, "********************");
}

Test(site, production_500_is_plain, .fini = done)
{
    mn_req *r = get(NULL, "/boom/", 500);
    mn_assert_contains(r, "<h1>Server Error (500)</h1>");
    mn_assert_not_contains(r, "frobnicator");
    mn_assert_status(mn_client_get(c, "/forbidden/"), 403);
}

Test(site, no_reverse_match_is_a_500_naming_the_route, .fini = done)
{
    mn_req *r = get(debug_env, "/bad-reverse/", 500);
    mn_assert_contains(r, "NoReverseMatch: Reverse for &#x27;polls:nope&#x27; not found.");
}

Test(site, template_error_shows_in_debug, .fini = done)
{
    mn_req *r = get(debug_env, "/broken/", 500);
    mn_assert_contains(r, "broken.html");
}

Test(site, cookies_are_kept_across_requests, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/cookie/");
    cr_assert_str_eq(mn_resp_text(r), "seen=none");
    cr_assert_str_eq(mn_client_cookie(c, "flavour"), "chocolate");
    r = mn_client_get(c, "/cookie/");
    cr_assert_str_eq(mn_resp_text(r), "seen=chocolate");
}

Test(site, cookies_are_secure_over_https_or_when_the_setting_says_so, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_assert_header(mn_client_get(c, "/cookie/"), "Set-Cookie",
                     "flavour=chocolate; HttpOnly; Path=/; SameSite=Lax");
    test_client_done(c);
    static const char *const env[] = {"COOKIE_SECURE", "true", NULL};
    c = test_client(&test_project, env);
    mn_assert_header(mn_client_get(c, "/cookie/"), "Set-Cookie",
                     "flavour=chocolate; HttpOnly; Path=/; SameSite=Lax; Secure");
}

Test(site, json_in_and_out, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_post_json(c, "/api/", "{\"a\": [1, 2]}");
    mn_assert_status(r, 200);
    mn_assert_header(r, "Content-Type", "application/json");
    json_t *j = mn_resp_json(r);
    cr_assert_not_null(j, "%s", mn_resp_text(r));
    cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
    cr_assert_eq(
        json_integer_value(json_array_get(json_object_get(json_object_get(j, "echo"), "a"), 1)), 2);
}

Test(site, unknown_middleware_is_reported)
{
    setenv("MIDDLEWARE", "request_id,sessions", 1);
    setenv("SECRET_KEY", "x", 1);
    mn_settings *s = mn_settings_new();
    cr_assert_eq(mn_settings_load(s, NULL), 0);
    char err[512];
    cr_assert_null(mn_site_new(&test_project, s, err, sizeof err));
    cr_assert(strncmp(err, "MIDDLEWARE: 'sessions' is not a known middleware", 48) == 0, "%s", err);
    mn_settings_free(s);
    unsetenv("MIDDLEWARE");
}

Test(site, ctx_values_render_to_string_and_json_text, .fini = done)
{
    mn_req *r = get(NULL, "/bits/", 201);
    mn_assert_header(r, "Content-Type", "application/json");
    cr_assert_str_eq(mn_resp_text(r), "{\"flag\": \"True\", \"ratio\": 0.5, \"n\": 43, "
                                      "\"s\": \"&lt;b&gt;\", \"url\": \"/archive/2001/02/\"}");
}

Test(site, re_path_params_and_reverse_in_a_view, .fini = done)
{
    mn_req *r = get(NULL, "/archive/2024/05/", 200);
    cr_assert_str_eq(mn_resp_text(r), "2024-05 /archive/1999/12/ /archive/1999/12/ /polls/42/");
    mn_assert_status(mn_client_get(c, "/archive/2024/5/"), 404);
}

Test(site, head_gets_headers_without_body, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_head(c, "/polls/");
    mn_assert_status(r, 200);
    mn_buf wire;
    mn_buf_init(&wire, NULL);
    cr_assert_eq(mn_resp_serialize(r, &wire), 0);
    mn_buf_cstr(&wire);
    cr_assert(strstr(wire.data, "Content-Length: "), "%s", wire.data);
    cr_assert(mn_str_ends_with((mn_str){wire.data, wire.len}, "\r\n\r\n"), "%s", wire.data);
    mn_buf_free(&wire);
}

Test(site, debug_500_shows_get_and_post_with_secrets_masked, .fini = done)
{
    c = test_client(&test_project, debug_env);
    mn_req *r = mn_client_post_form(c, "/polls/5/vote?page=2", "choice=1&password=hunter2");
    mn_assert_status(r, 500);
    mn_assert_contains(r, "<h3>GET</h3><table>\n<tr><th>page</th><td><pre>2</pre>");
    mn_assert_contains(r, "<tr><th>choice</th><td><pre>1</pre>");
    mn_assert_contains(r, "<tr><th>password</th><td><pre>********************</pre>");
    mn_assert_not_contains(r, "hunter2");
}

Test(site, settings_become_server_limits, .fini = done)
{
    static const char *const env[] = {"DATA_UPLOAD_MAX_MEMORY_SIZE", "1K", "HTTP_HEADER_TIMEOUT_MS",
                                      "1500", NULL};
    c = test_client(&test_project, env);
    mn_http_limits l;
    mn_site_http_limits(mn_req_site(mn_client_get(c, "/polls/1/")), &l);
    cr_assert_eq(l.max_body, 1024);
    cr_assert_eq(l.header_timeout_ms, 1500);
    cr_assert_eq(l.max_form_fields, 1000);
    /* no project dir given: the current directory */
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_str_eq(mn_site_dir(mn_req_site(mn_client_get(c, "/polls/1/"))), cwd);
}

Test(site, app_settings_must_be_registered)
{
    static const mn_setting_def defs[] = {
        {"SHOP_X", MN_SETTING_INT, "1", "x", 0, 0, NULL, false, NULL, NULL},
        {NULL, MN_SETTING_BOOL, NULL, NULL, 0, 0, NULL, false, NULL, NULL},
    };
    static const mn_app app = {"shop", NULL, NULL, NULL, defs, NULL, NULL, NULL};
    static const mn_app *const apps[] = {&app, NULL};
    static const mn_route none[] = {MN_END};
    const mn_project p = {"shop", none, apps, NULL, NULL, NULL, NULL, NULL, NULL};
    mn_settings *s = mn_settings_new();
    char err[256];
    cr_assert_null(mn_site_new(&p, s, err, sizeof err));
    cr_assert(strncmp(err, "app shop: setting SHOP_X is not registered", 42) == 0, "%s", err);
    cr_assert_eq(mn_settings_register_table(s, defs), 0);
    mn_site *site = mn_site_new(&p, s, err, sizeof err);
    cr_assert_not_null(site, "%s", err);
    mn_site_free(site);
    mn_settings_free(s);
}
