/* The conditional_get middleware's preconditions, as django.utils.cache.get_conditional_response
 * evaluates them (RFC 9110 13.2.2): If-Match (strong) and If-Unmodified-Since fail with 412
 * for every method; If-None-Match and If-Modified-Since give 304 for GET/HEAD, and a matching
 * If-None-Match is 412 for the other methods. */
#include "helper_site.h"

#include <stdio.h>
#include <string.h>

static mn_client *c;

static void done(void)
{
    test_client_done(c);
}

/* A resource with both validators, as a view that knows its version sets them. */
static void v_doc(mn_req *r)
{
    mn_resp_set_header(r, "ETag", "\"v1\"");
    mn_resp_set_header(r, "Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT");
    mn_resp_puts(r, "document v1");
}

static void v_weak(mn_req *r)
{
    mn_resp_set_header(r, "ETag", "W/\"v1\"");
    mn_resp_puts(r, "weak");
}

static void v_plain(mn_req *r)
{
    mn_resp_puts(r, "no validators on a POST");
}

static const mn_route urls[] = {
    MN_PATH("doc/", v_doc, "doc"),
    MN_PATH("weak/", v_weak, "weak"),
    MN_PATH("plain/", v_plain, "plain"),
    MN_END,
};

static const mn_project project = {"cond", urls, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

static mn_req *send(const char *method, const char *path, const char *header, const char *value)
{
    mn_field h[1] = {{mn_str_from(header), mn_str_from(value)}};
    mn_client_request q = {0};
    q.method = method;
    q.path = path;
    q.headers = h;
    q.header_count = 1;
    return mn_client_request_run(c, &q);
}

Test(conditional, if_match_is_a_strong_comparison, .fini = done)
{
    c = test_client(&project, NULL);
    mn_assert_status(send("GET", "/doc/", "If-Match", "\"v1\""), 200);
    mn_assert_status(send("GET", "/doc/", "If-Match", "\"v0\", \"v1\""), 200);
    mn_assert_status(send("GET", "/doc/", "If-Match", "*"), 200);
    mn_req *r = send("GET", "/doc/", "If-Match", "\"nope\"");
    mn_assert_status(r, 412);
    cr_assert_eq(mn_resp_body(r)->len, 0);
    mn_assert_no_header(r, "ETag");
    mn_assert_status(send("GET", "/doc/", "If-Match", "W/\"v1\""), 412);
    /* a weak current tag never matches strongly, but "*" only asks that one exists */
    mn_assert_status(send("GET", "/weak/", "If-Match", "W/\"v1\""), 412);
    mn_assert_status(send("GET", "/weak/", "If-Match", "*"), 200);
    /* nothing well-formed in the header: as if absent (Django's parse_etags gives []) */
    mn_assert_status(send("GET", "/doc/", "If-Match", "nope"), 200);
}

Test(conditional, if_match_on_the_computed_etag, .fini = done)
{
    /* the audit's probe: the middleware's own MD5 ETag */
    c = test_client(&test_project, NULL);
    mn_req *r = mn_client_get(c, "/polls/1/");
    mn_str etag = mn_resp_get_header(r, "ETag");
    char tag[64];
    snprintf(tag, sizeof tag, "%.*s", (int)etag.len, etag.ptr);
    mn_assert_status(send("GET", "/polls/1/", "If-Match", tag), 200);
    mn_assert_status(send("GET", "/polls/1/", "If-Match", "\"nope\""), 412);
    mn_assert_status(send("HEAD", "/polls/1/", "If-Match", "\"nope\""), 412);
}

Test(conditional, if_match_applies_to_every_method, .fini = done)
{
    c = test_client(&project, NULL);
    mn_assert_status(send("PUT", "/doc/", "If-Match", "\"v0\""), 412);
    mn_assert_status(send("DELETE", "/doc/", "If-Match", "\"v1\""), 200);
    /* no validator in the response: nothing to compare, the response stands */
    mn_assert_status(send("POST", "/plain/", "If-Match", "\"v0\""), 200);
}

Test(conditional, if_unmodified_since, .fini = done)
{
    c = test_client(&project, NULL);
    mn_assert_status(send("GET", "/doc/", "If-Unmodified-Since", "Mon, 30 Nov 2026 10:00:00 GMT"),
                     200);
    mn_assert_status(send("GET", "/doc/", "If-Unmodified-Since", "Tue, 01 Dec 2026 10:00:00 GMT"),
                     200);
    mn_assert_status(send("GET", "/doc/", "If-Unmodified-Since", "Sun, 29 Nov 2026 10:00:00 GMT"),
                     412);
    mn_assert_status(send("PATCH", "/doc/", "If-Unmodified-Since", "Sun, 29 Nov 2026 10:00:00 GMT"),
                     412);
    mn_assert_status(send("GET", "/doc/", "If-Unmodified-Since", "not a date"), 200);
    /* an ETag but no Last-Modified: the date cannot pass (as Django) */
    mn_assert_status(send("GET", "/weak/", "If-Unmodified-Since", "Tue, 01 Dec 2026 10:00:00 GMT"),
                     412);
}

Test(conditional, if_match_wins_over_if_unmodified_since, .fini = done)
{
    c = test_client(&project, NULL);
    mn_field h[2] = {
        {MN_STR_LIT("If-Match"), MN_STR_LIT("\"v1\"")},
        {MN_STR_LIT("If-Unmodified-Since"), MN_STR_LIT("Sun, 29 Nov 2026 10:00:00 GMT")}};
    mn_client_request q = {0};
    q.path = "/doc/";
    q.headers = h;
    q.header_count = 2;
    mn_assert_status(mn_client_request_run(c, &q), 200);
}

Test(conditional, if_none_match_is_304_for_get_and_412_otherwise, .fini = done)
{
    c = test_client(&project, NULL);
    mn_assert_status(send("GET", "/doc/", "If-None-Match", "\"v1\""), 304);
    mn_assert_status(send("HEAD", "/doc/", "If-None-Match", "W/\"v1\""), 304);
    mn_assert_status(send("GET", "/doc/", "If-None-Match", "\"v2\""), 200);
    mn_assert_status(send("PUT", "/doc/", "If-None-Match", "*"), 412);
    mn_assert_status(send("POST", "/doc/", "If-None-Match", "\"v1\""), 412);
    mn_assert_status(send("POST", "/doc/", "If-None-Match", "\"v2\""), 200);
    /* If-Modified-Since only ever gives 304, and only to GET/HEAD */
    mn_assert_status(send("POST", "/doc/", "If-Modified-Since", "Tue, 01 Dec 2026 10:00:00 GMT"),
                     200);
    mn_assert_status(send("GET", "/doc/", "If-Modified-Since", "Tue, 01 Dec 2026 10:00:00 GMT"),
                     304);
}

Test(conditional, errors_are_left_alone, .fini = done)
{
    c = test_client(&project, NULL);
    mn_assert_status(send("GET", "/nowhere/", "If-Match", "\"nope\""), 404);
}
