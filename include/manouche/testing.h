/* manouche/testing.h — the test client (django.test.Client): runs a request through the whole
 * stack in process (mn_req_new, the middleware chain, the router, the view; no socket), keeps
 * cookies across requests, follows redirects when asked and helps with JSON.
 *
 *   mn_client *c = mn_client_new(site);
 *   mn_req *resp = mn_client_get(c, "/polls/");
 *   mn_assert_status(resp, 200);
 *   mn_assert_contains(resp, "What's up?");
 *   mn_client_free(c);
 *
 * A response is the finished mn_req: read it with the mn_resp_* getters of http.h or the
 * helpers below. Every response stays valid until mn_client_free(). The site is marked as a
 * test site: "testserver" (the default Host) is allowed, as Django's test runner does. */
#ifndef MANOUCHE_TESTING_H
#define MANOUCHE_TESTING_H

#include <manouche/core.h>
#include <manouche/http.h>
#include <manouche/web.h>
#include <manouche/webdb.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_client mn_client;

/* A client for site (not owned). NULL on ENOMEM. */
mn_client *mn_client_new(mn_site *site);
/* Frees the client, its cookies and every response it returned. */
void mn_client_free(mn_client *c);

/* Everything a request can carry; zeroed fields take the defaults. */
typedef struct mn_client_request {
    const char *method;      /* NULL: GET */
    const char *path;        /* "/polls/?page=2" */
    const mn_field *headers; /* extra headers (Host overrides "testserver") */
    size_t header_count;
    const void *body;
    size_t body_len;          /* 0 with a body: strlen(body) */
    const char *content_type; /* Content-Type of the body */
    bool follow;              /* follow redirects (up to 20), as Client(follow=True) */
    bool secure;              /* as if over HTTPS */
} mn_client_request;

/* Runs one request (and its redirects when follow is set); the final response, or NULL when
 * the request could not be built (bad path or header) or, following redirects, when one
 * leads back to a (location, status) already followed ("Redirect loop detected.") or the
 * chain passes 20 ("Too many redirects."), as Django's RedirectCycleError: see
 * mn_client_error; mn_assert_status(NULL, ...) fails with that message. */
mn_req *mn_client_request_run(mn_client *c, const mn_client_request *req);
mn_req *mn_client_get(mn_client *c, const char *path);
mn_req *mn_client_head(mn_client *c, const char *path);
mn_req *mn_client_delete(mn_client *c, const char *path);
/* POST application/x-www-form-urlencoded: form is already encoded ("choice=1&x=y"). */
mn_req *mn_client_post_form(mn_client *c, const char *path, const char *form);
/* POST (or PUT/PATCH via method) a JSON body given as text. */
mn_req *mn_client_post_json(mn_client *c, const char *path, const char *json);
mn_req *mn_client_send_json(mn_client *c, const char *method, const char *path, const char *json);
/* Follows redirects for the requests that follow (Client(follow=True)). */
void mn_client_set_follow(mn_client *c, bool follow);

/* The redirects the last request followed: count, and the i-th (status and Location). */
size_t mn_client_redirect_count(const mn_client *c);
bool mn_client_redirect_at(const mn_client *c, size_t i, int *status, const char **location);
/* A cookie in the client's jar, NULL when absent. Set one by hand (value NULL deletes). */
const char *mn_client_cookie(const mn_client *c, const char *name);
int mn_client_set_cookie(mn_client *c, const char *name, const char *value);
/* How many database queries the last request ran (the last hop when following redirects);
 * mn_assert_num_queries(resp, n) checks one response. */
size_t mn_client_num_queries(const mn_client *c);
/* The SQL the request behind resp ran, one numbered statement a line with its parameters
 * ("1. SELECT ... -- params: 3"), as Django's "Captured queries were:" (in the request's arena;
 * "(none)" when it ran none). */
const char *mn_resp_captured_queries(mn_req *resp);
/* Why the last request failed ("" when it did not). */
const char *mn_client_error(const mn_client *c);

/* The response body as a NUL-terminated string (in the request's arena); for NULL, the error of
 * the request that failed ("Redirect loop detected.") or "(no response)". */
const char *mn_resp_text(mn_req *resp);
/* The response body parsed as JSON (a jansson json_t owned by the response), NULL when it
 * is not JSON. */
struct json_t *mn_resp_json(mn_req *resp);
/* True when the body contains text. */
bool mn_resp_contains(mn_req *resp, const char *text);

#ifdef __cplusplus
}
#endif

/* Assertions for Criterion tests (the macros use cr_assert and only expand in test code). */
/* A request that failed (NULL: a redirect loop, a bad path) fails the assertion with the
 * client's error ("Redirect loop detected."), as Django's RedirectCycleError fails a test. */
#define mn_assert_status(resp, want)                                                               \
    cr_assert_eq((resp) ? mn_resp_get_status(resp) : 0, (want),                                    \
                 "status %d, want %d; body: %.300s", (resp) ? mn_resp_get_status(resp) : 0,        \
                 (want), mn_resp_text(resp))
#define mn_assert_contains(resp, text)                                                             \
    cr_assert(mn_resp_contains((resp), (text)), "body does not contain '%s': %.500s", (text),      \
              mn_resp_text(resp))
#define mn_assert_not_contains(resp, text)                                                         \
    cr_assert(!mn_resp_contains((resp), (text)), "body contains '%s'", (text))
#define mn_assert_header(resp, name, want)                                                         \
    do {                                                                                           \
        mn_str mn__h = mn_resp_get_header((resp), (name));                                         \
        cr_assert(mn__h.ptr &&mn_str_eq_cstr(mn__h, (want)), "header %s is '%.*s', want '%s'",     \
                  (name), (int)mn__h.len, mn__h.ptr ? mn__h.ptr : "", (want));                     \
    } while (0)
#define mn_assert_no_header(resp, name)                                                            \
    cr_assert_null(mn_resp_get_header((resp), (name)).ptr, "header %s is present", (name))
/* assertNumQueries: the request behind resp ran exactly `want` database queries; a failure
 * lists them, as Django's ("3 queries executed, 2 expected\nCaptured queries were:\n1. ..."). */
#define mn_assert_num_queries(resp, want)                                                          \
    do {                                                                                           \
        mn_req *mn__r = (resp);                                                                    \
        size_t mn__got = mn_req_num_queries(mn__r), mn__want = (size_t)(want);                     \
        if (mn__got != mn__want)                                                                   \
            cr_assert_fail("%zu queries executed, %zu expected\nCaptured queries were:\n%s",       \
                           mn__got, mn__want, mn_resp_captured_queries(mn__r));                    \
    } while (0)
#define mn_assert_redirects(resp, status, location)                                                \
    do {                                                                                           \
        mn_assert_status((resp), (status));                                                        \
        mn_assert_header((resp), "Location", (location));                                          \
    } while (0)

#endif
