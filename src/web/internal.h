/* web/internal.h — what the files of the web layer share and nobody else sees. */
#ifndef MN_WEB_INTERNAL_H
#define MN_WEB_INTERNAL_H

#include <manouche/db.h>
#include <manouche/staticfiles.h>
#include <manouche/web.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

/* For mn_reverse(): how to read the variadic arguments of route `name` (is_int has room for
 * MN_ROUTE_MAX_PARAMS). 0 or MN_ENOTFOUND. */
int mn__router_param_kinds(const mn_router *router, const char *name, bool *is_int, size_t *count);

enum { MN__MAX_MIDDLEWARE = 32 };

/* Settings the request path reads, copied once when the site is built. */
typedef struct mn__web_config {
    bool debug;
    bool append_slash;
    bool ssl_redirect;
    const char *ssl_host;
    const char *const *redirect_exempt;
    size_t redirect_exempt_count;
    int64_t hsts_seconds;
    bool hsts_subdomains;
    bool hsts_preload;
    bool nosniff;
    const char *referrer_policy;
    const char *coop;
    bool use_x_forwarded_host;
    bool json_logs;
    const char *const *allowed_hosts;
    size_t allowed_host_count;
    size_t max_form_fields;    /* DATA_UPLOAD_MAX_NUMBER_FIELDS, counted before a view runs */
    const char *static_url;    /* local prefix ("/static/") or NULL when on another host */
    char hsts_header[128];     /* "max-age=N; includeSubDomains; preload", made once */
    char referrer_header[256]; /* SECURE_REFERRER_POLICY items trimmed and joined */
} mn__web_config;

struct mn_site {
    const mn_project *project;
    const mn_settings *settings;
    mn__web_config cfg;
    char dir[4096];
    mn_router *router;
    mn_template_engine *engine;
    mn_static *statics;
    const mn_middleware *mw[MN__MAX_MIDDLEWARE];
    size_t mw_count;
    bool testing; /* the test client's site: "testserver" is an allowed host, as Django's */
    struct mn__webdb_site *webdb; /* this worker's databases (webdb.c), made on first use */
};

/* Per-request state of the dispatcher (mn_req_web_state). */
typedef struct mn__req_state {
    mn_site *site;
    mn_route_match match;
    bool routed;
    jmp_buf *jump; /* where mn_abort() returns to; NULL outside a protected call */
    int err_status;
    const char *err_message;
    const char *allow; /* Allow header for a 405 */
    void **trace;      /* backtrace(3) of a 5xx, in the arena (only when one happens) */
    int trace_len;
    int64_t start_us; /* set by the request_id middleware for the access log */
    void *webdb;      /* the request's database session (webdb.c), NULL until used */
} mn__req_state;

enum { MN__TRACE_DEPTH = 48 };

mn__req_state *mn__state(const mn_req *r);

/* Replaces the response with the error page for status (custom handler, DEBUG page or the
 * plain production page). */
void mn__error_response(mn_req *r, int status, const char *message);
/* The DEBUG pages. */
void mn__debug_404(mn_req *r, const char *message);
void mn__debug_500(mn_req *r, int status, const char *message);
/* Clears status, headers and body. */
void mn__web_resp_reset(mn_req *r);
int64_t mn__now_us(void);
/* Runs fn(r) so that mn_abort() inside comes back here: true when it returned normally,
 * false when it ended with an error (status and message in the request state). */
bool mn__protected(mn_req *r, void (*fn)(mn_req *r, void *arg), void *arg);

/* Host validation, as django.http.request.validate_host / split_domain_port. */
bool mn__host_valid(mn_str host, const char *const *allowed, size_t count, bool testing);
/* The request host (Host or X-Forwarded-Host), port included. */
mn_str mn__req_host(mn_req *r);
/* The q-value Accept-Encoding gives coding (case-insensitive; "*" covers codings not named):
 * 0 when it is absent or refused. */
double mn__accept_encoding_q(mn_str header, const char *coding);

/* webdb.c: the database's part of a request. view_done() ends ATOMIC_REQUESTS' transaction
 * once the view has run (ok: it returned normally) and returns false when the view's outcome
 * becomes an error (commit failed; 503 for a pool timeout); request_end() closes the session;
 * debug_html() adds the query log to the DEBUG page; site_free() closes the databases. */
bool mn__webdb_view_done(mn_req *r, bool ok);
void mn__webdb_request_end(mn_req *r);
void mn__webdb_debug_html(mn_req *r, mn_buf *b);
/* A query parameter as its SQL literal (HTML-escaped when html), for query listings. */
void mn__param_text(mn_buf *b, const mn_dbparam *p, bool html);
void mn__webdb_site_free(mn_site *s);

#endif
