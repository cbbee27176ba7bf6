/* The built-in middleware through the test client: host validation, security headers, gzip,
 * conditional GET, request ids, and the order of the chain. */
#include "helper_site.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

static mn_client *c;

static void done(void)
{
    test_client_done(c);
}

static mn_req *get_with(const char *path, const char *name, const char *value)
{
    mn_field h[1] = {{mn_str_from(name), mn_str_from(value)}};
    mn_client_request q = {0};
    q.path = path;
    q.headers = h;
    q.header_count = 1;
    return mn_client_request_run(c, &q);
}

/* ---- host ---- */

Test(host, allowed_hosts_exact_subdomain_and_port, .fini = done)
{
    static const char *const env[] = {"ALLOWED_HOSTS", "example.com,.example.org", NULL};
    c = test_client(&test_project, env);
    mn_assert_status(get_with("/polls/1/", "Host", "example.com"), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "EXAMPLE.com:8000"), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "example.com."), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "example.org"), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "a.b.example.org"), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "www.example.com"), 400);
    mn_assert_status(get_with("/polls/1/", "Host", "evil.com"), 400);
    mn_assert_status(get_with("/polls/1/", "Host", "notexample.org"), 400);
    mn_assert_status(get_with("/polls/1/", "Host", "example.com:abc"), 400);
    mn_assert_status(get_with("/polls/1/", "Host", "exa mple.com"), 400);
}

Test(host, bad_host_is_400_with_hint_in_debug, .fini = done)
{
    static const char *const env[] = {"DEBUG", "1", NULL};
    c = test_client(&test_project, env);
    mn_assert_status(get_with("/polls/1/", "Host", "localhost:8000"), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "127.0.0.1"), 200);
    mn_assert_status(get_with("/polls/1/", "Host", "[::1]:8000"), 200);
    mn_req *r = get_with("/polls/1/", "Host", "evil.com");
    mn_assert_status(r, 400);
    mn_assert_contains(r, "Invalid HTTP_HOST header: &#x27;evil.com&#x27;. You may need to add "
                          "&#x27;evil.com&#x27; to ALLOWED_HOSTS.");
}

Test(host, production_bad_host_page_is_plain, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = get_with("/polls/1/", "Host", "evil.com");
    mn_assert_status(r, 400);
    mn_assert_contains(r, "<h1>Bad Request (400)</h1>");
    mn_assert_not_contains(r, "ALLOWED_HOSTS");
}

Test(host, star_allows_everything, .fini = done)
{
    static const char *const env[] = {"ALLOWED_HOSTS", "*", NULL};
    c = test_client(&test_project, env);
    mn_assert_status(get_with("/polls/1/", "Host", "anything.example"), 200);
}

/* ---- security ---- */

Test(security, default_headers, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/polls/1/");
    mn_assert_header(r, "X-Content-Type-Options", "nosniff");
    mn_assert_header(r, "Referrer-Policy", "same-origin");
    mn_assert_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    mn_assert_no_header(r, "Strict-Transport-Security");
    /* error pages get them too */
    r = mn_client_get(c, "/nowhere/");
    mn_assert_header(r, "X-Content-Type-Options", "nosniff");
}

Test(security, hsts_only_on_https, .fini = done)
{
    static const char *const env[] = {"SECURE_HSTS_SECONDS",
                                      "3600",
                                      "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                                      "true",
                                      "SECURE_HSTS_PRELOAD",
                                      "true",
                                      NULL};
    c = test_client(&test_project, env);
    mn_assert_no_header(mn_client_get(c, "/polls/1/"), "Strict-Transport-Security");
    mn_client_request q = {0};
    q.path = "/polls/1/";
    q.secure = true;
    mn_assert_header(mn_client_request_run(c, &q), "Strict-Transport-Security",
                     "max-age=3600; includeSubDomains; preload");
}

Test(security, ssl_redirect, .fini = done)
{
    static const char *const env[] = {"SECURE_SSL_REDIRECT", "true", NULL};
    c = test_client(&test_project, env);
    mn_req *r = mn_client_get(c, "/polls/1/?a=b");
    mn_assert_redirects(r, 301, "https://testserver/polls/1/?a=b");
    mn_client_request q = {0};
    q.path = "/polls/1/";
    q.secure = true;
    mn_assert_status(mn_client_request_run(c, &q), 200);
}

Test(security, referrer_policy_setting, .fini = done)
{
    static const char *const env[] = {"SECURE_REFERRER_POLICY", "no-referrer, origin", NULL};
    c = test_client(&test_project, env);
    mn_assert_header(mn_client_get(c, "/polls/1/"), "Referrer-Policy", "no-referrer,origin");
}

/* ---- gzip ---- */

static mn_req *get_gzip(const char *path)
{
    return get_with(path, "Accept-Encoding", "gzip, deflate, br");
}

Test(gzip, compresses_big_bodies_when_accepted, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = get_gzip("/big/");
    mn_assert_status(r, 200);
    mn_assert_header(r, "Content-Encoding", "gzip");
    mn_assert_header(r, "Vary", "Accept-Encoding");
    mn_buf *b = mn_resp_body(r);
    cr_assert_lt(b->len, 3400);
    char out[8192];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)b->data;
    zs.avail_in = (uInt)b->len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = sizeof out;
    cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    cr_assert_eq(zs.total_out, 3400);
    inflateEnd(&zs);
    /* the ETag computed on the plain body becomes weak */
    mn_str etag = mn_resp_get_header(r, "ETag");
    cr_assert(mn_str_starts_with(etag, "W/\""));
}

Test(gzip, not_without_accept_encoding_but_vary_is_set, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/big/");
    mn_assert_no_header(r, "Content-Encoding");
    mn_assert_header(r, "Vary", "Accept-Encoding");
    cr_assert_eq(mn_resp_body(r)->len, 3400);
    r = get_with("/big/", "Accept-Encoding", "gzipx, identity");
    mn_assert_no_header(r, "Content-Encoding");
}

Test(gzip, honours_q_values_and_wildcards, .fini = done)
{
    c = test_client(&test_project, NULL);
    static const struct {
        const char *accept;
        bool gzipped;
    } cases[] = {
        {"gzip;q=0", false},
        {"gzip; q=0.0, deflate", false},
        {"gzip;q=0.5", true},
        {"x-gzip", true},
        {"*", true},
        {"gzip;q=0, *", false},
        {"identity, *;q=0", false},
        {"GZIP", true},
        {"br;q=1.0, gzip;q=0.8", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mn_req *r = get_with("/big/", "Accept-Encoding", cases[i].accept);
        mn_str ce = mn_resp_get_header(r, "Content-Encoding");
        cr_assert_eq(ce.ptr != NULL, cases[i].gzipped, "Accept-Encoding: %s", cases[i].accept);
        mn_assert_header(r, "Vary", "Accept-Encoding");
    }
}

Test(gzip, skips_small_bodies, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = get_gzip("/polls/1/");
    mn_assert_no_header(r, "Content-Encoding");
    mn_assert_no_header(r, "Vary");
}

/* ---- conditional GET ---- */

Test(conditional_get, etag_and_if_none_match_give_304, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/polls/1/");
    mn_str etag = mn_resp_get_header(r, "ETag");
    cr_assert_not_null(etag.ptr);
    cr_assert_eq(etag.len, 34); /* "md5 hex" */
    char tag[64];
    snprintf(tag, sizeof tag, "%.*s", (int)etag.len, etag.ptr);
    r = get_with("/polls/1/", "If-None-Match", tag);
    mn_assert_status(r, 304);
    cr_assert_eq(mn_resp_body(r)->len, 0);
    mn_assert_header(r, "ETag", tag);
    mn_assert_no_header(r, "Content-Type");
    /* weak comparison: the gzip'd variant's W/ tag matches too */
    char weak[96];
    snprintf(weak, sizeof weak, "\"other\", W/%s", tag);
    mn_assert_status(get_with("/polls/1/", "If-None-Match", weak), 304);
    mn_assert_status(get_with("/polls/1/", "If-None-Match", "\"nope\""), 200);
    mn_assert_status(get_with("/polls/1/", "If-None-Match", "*"), 304);
}

Test(conditional_get, gzip_and_etag_round_trip, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = get_gzip("/big/");
    mn_str etag = mn_resp_get_header(r, "ETag");
    char tag[64];
    snprintf(tag, sizeof tag, "%.*s", (int)etag.len, etag.ptr);
    mn_field h[2] = {{MN_STR_LIT("Accept-Encoding"), MN_STR_LIT("gzip")},
                     {MN_STR_LIT("If-None-Match"), mn_str_from(tag)}};
    mn_client_request q = {0};
    q.path = "/big/";
    q.headers = h;
    q.header_count = 2;
    mn_assert_status(mn_client_request_run(c, &q), 304);
}

Test(conditional_get, only_for_get_and_200, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_assert_no_header(mn_client_get(c, "/nowhere/"), "ETag");
    mn_req *r = mn_client_post_form(c, "/polls/1/vote/", "choice=1");
    mn_assert_status(r, 302);
    mn_assert_no_header(r, "ETag");
}

/* ---- request id, chain ---- */

Test(request_id, every_response_carries_one, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *a = mn_client_get(c, "/polls/1/");
    mn_req *b = mn_client_get(c, "/nowhere/");
    mn_str ia = mn_resp_get_header(a, "X-Request-ID"), ib = mn_resp_get_header(b, "X-Request-ID");
    cr_assert_not_null(ia.ptr);
    cr_assert_not_null(ib.ptr);
    cr_assert(!mn_str_eq(ia, ib));
}

Test(chain, empty_middleware_list_still_routes, .fini = done)
{
    static const char *const env[] = {"MIDDLEWARE", "", NULL};
    c = test_client(&test_project, env);
    mn_req *r = mn_client_get(c, "/polls/1/");
    mn_assert_status(r, 200);
    mn_assert_no_header(r, "X-Content-Type-Options");
    mn_assert_no_header(r, "ETag");
    mn_assert_status(mn_client_get(c, "/polls/1"), 404); /* no common: no APPEND_SLASH */
}

Test(chain, app_middleware_answers_early_and_handles_errors, .fini = done)
{
    static const char *const env[] = {"MIDDLEWARE", "security,teapot,common", NULL};
    c = test_client(&test_project, env);
    mn_req *r = mn_client_get(c, "/teapot/");
    mn_assert_status(r, 418);
    cr_assert_str_eq(mn_resp_text(r), "short and stout");
    mn_assert_no_header(r, "X-Teapot");                       /* it answered: its after() skipped */
    mn_assert_header(r, "X-Content-Type-Options", "nosniff"); /* outer ones still run */
    r = mn_client_get(c, "/forbidden/");
    mn_assert_status(r, 403);
    cr_assert_str_eq(mn_resp_text(r), "teapot says no");
    mn_assert_header(r, "X-Teapot", "seen");
    r = mn_client_get(c, "/polls/1/");
    mn_assert_header(r, "X-Teapot", "seen");
    mn_assert_status(mn_client_get(c, "/boom/"), 500); /* not its error: the default page */
}

Test(chain, custom_500_handler_and_its_own_failure, .fini = done)
{
    c = test_client(&test_project_custom, NULL);
    mn_req *r = mn_client_get(c, "/boom/");
    mn_assert_status(r, 500);
    cr_assert_str_eq(mn_resp_text(r), "custom 500 (500)");
    r = mn_client_get(c, "/twice/");
    mn_assert_status(r, 500);
    mn_assert_contains(r, "<h1>Server Error (500)</h1>");
}

Test(gzip, leaves_streamed_responses_alone, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = get_gzip("/stream/");
    mn_assert_status(r, 200);
    cr_assert(mn_resp_is_streaming(r));
    mn_assert_no_header(r, "Content-Encoding");
    mn_assert_no_header(r, "ETag");
    cr_assert_eq(mn_resp_body(r)->len, 50 * 46);
    /* headers went out before the after() hooks: security set them on the way in */
    mn_assert_header(r, "X-Content-Type-Options", "nosniff");
    mn_assert_header(r, "Referrer-Policy", "same-origin");
    mn_assert_header(r, "X-Request-ID", mn_req_id(r));
}

Test(conditional_get, if_modified_since_against_last_modified, .fini = done)
{
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/dated/");
    mn_assert_status(r, 200);
    mn_assert_no_header(r, "ETag");
    mn_assert_status(get_with("/dated/", "If-Modified-Since", "Mon, 30 Nov 2026 10:00:00 GMT"),
                     304);
    mn_assert_status(get_with("/dated/", "If-Modified-Since", "Tue, 01 Dec 2026 00:00:00 GMT"),
                     304);
    mn_assert_status(get_with("/dated/", "If-Modified-Since", "Sun, 29 Nov 2026 10:00:00 GMT"),
                     200);
    mn_assert_status(get_with("/dated/", "If-Modified-Since", "not a date"), 200);
}

Test(host, x_forwarded_host_only_when_enabled, .fini = done)
{
    static const char *const env[] = {"ALLOWED_HOSTS", "example.com", "USE_X_FORWARDED_HOST",
                                      "true", NULL};
    c = test_client(&test_project, env);
    mn_field h[2] = {{MN_STR_LIT("Host"), MN_STR_LIT("internal")},
                     {MN_STR_LIT("X-Forwarded-Host"), MN_STR_LIT("example.com")}};
    mn_client_request q = {0};
    q.path = "/polls/1/";
    q.headers = h;
    q.header_count = 2;
    mn_assert_status(mn_client_request_run(c, &q), 200);
    h[1].value = mn_str_from("evil.com");
    mn_assert_status(mn_client_request_run(c, &q), 400);
}
