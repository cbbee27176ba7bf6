/* testing.c — the in-process test client: builds each request with mn_req_new() (what the
 * server would have parsed), runs the site's handler on it with mn_req_run(), keeps the
 * cookies the responses set and, when asked, follows redirects as django.test.Client does. */
#include "web/internal.h"

#include <manouche/testing.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cookie {
    char *name;
    char *value;
} cookie;

/* Django's client gives up after 20 redirects (Firefox's network.http.redirection-limit). */
enum { MN__MAX_REDIRECTS = 20 };

typedef struct redirect_hop {
    int status;
    char *location;
} redirect_hop;

struct mn_client {
    mn_site *site;
    bool follow;
    cookie *cookies;
    size_t cookie_count, cookie_cap;
    mn_req **responses;
    size_t response_count, response_cap;
    redirect_hop hops[MN__MAX_REDIRECTS];
    size_t hop_count;
    char error[256];
};

/* The last client error of this thread, so that an assertion on the NULL a failed request
 * returns can say why (mn_resp_text(NULL)); test code only, one client at a time. */
static _Thread_local char last_error[256];

static mn_req *client_fail(mn_client *c, const char *message)
{
    snprintf(c->error, sizeof c->error, "%s", message);
    snprintf(last_error, sizeof last_error, "%s", message);
    return NULL;
}

mn_client *mn_client_new(mn_site *site)
{
    mn_client *c = mn_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->site = site;
    site->testing = true;
    return c;
}

static void clear_hops(mn_client *c)
{
    for (size_t i = 0; i < c->hop_count; i++)
        mn_free(c->hops[i].location);
    c->hop_count = 0;
}

void mn_client_free(mn_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cookie_count; i++) {
        mn_free(c->cookies[i].name);
        mn_free(c->cookies[i].value);
    }
    mn_free(c->cookies);
    for (size_t i = 0; i < c->response_count; i++)
        mn_req_free(c->responses[i]);
    mn_free(c->responses);
    clear_hops(c);
    mn_free(c);
}

void mn_client_set_follow(mn_client *c, bool follow)
{
    c->follow = follow;
}

const char *mn_client_error(const mn_client *c)
{
    return c->error;
}

/* ---- Cookies. ---- */

const char *mn_client_cookie(const mn_client *c, const char *name)
{
    for (size_t i = 0; i < c->cookie_count; i++)
        if (strcmp(c->cookies[i].name, name) == 0)
            return c->cookies[i].value;
    return NULL;
}

int mn_client_set_cookie(mn_client *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->cookie_count; i++) {
        if (strcmp(c->cookies[i].name, name) != 0)
            continue;
        if (!value) {
            mn_free(c->cookies[i].name);
            mn_free(c->cookies[i].value);
            c->cookies[i] = c->cookies[--c->cookie_count];
            return 0;
        }
        char *v = mn_strdup(value);
        if (!v)
            return MN_ENOMEM;
        mn_free(c->cookies[i].value);
        c->cookies[i].value = v;
        return 0;
    }
    if (!value)
        return 0;
    if (c->cookie_count == c->cookie_cap) {
        size_t cap = c->cookie_cap ? c->cookie_cap * 2 : 8;
        cookie *n = mn_realloc(c->cookies, cap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        c->cookies = n;
        c->cookie_cap = cap;
    }
    cookie *k = &c->cookies[c->cookie_count];
    k->name = mn_strdup(name);
    k->value = mn_strdup(value);
    if (!k->name || !k->value) {
        mn_free(k->name);
        mn_free(k->value);
        return MN_ENOMEM;
    }
    c->cookie_count++;
    return 0;
}

/* One Set-Cookie header: name=value plus attributes; Max-Age=0 or a past Expires deletes. */
static void take_cookie(mn_client *c, mn_str h)
{
    size_t semi = 0;
    while (semi < h.len && h.ptr[semi] != ';')
        semi++;
    mn_str pair = mn_str_trim((mn_str){h.ptr, semi});
    const char *eq = memchr(pair.ptr, '=', pair.len);
    if (!eq)
        return;
    char name[256], value[4096];
    mn_str n = mn_str_trim((mn_str){pair.ptr, (size_t)(eq - pair.ptr)});
    mn_str v = mn_str_trim((mn_str){eq + 1, pair.len - (size_t)(eq + 1 - pair.ptr)});
    if (n.len == 0 || n.len >= sizeof name || v.len >= sizeof value)
        return;
    memcpy(name, n.ptr, n.len);
    name[n.len] = '\0';
    memcpy(value, v.ptr, v.len);
    value[v.len] = '\0';
    bool expired = false;
    for (size_t i = semi; i < h.len; i++) {
        if (h.len - i >= 9 && strncasecmp(h.ptr + i, "max-age=0", 9) == 0)
            expired = true;
        if (h.len - i >= 12 && strncasecmp(h.ptr + i, "max-age=-", 9) == 0)
            expired = true;
        if (h.len - i >= 20 && strncasecmp(h.ptr + i, "expires=Thu, 01 Jan 1970", 20) == 0)
            expired = true;
    }
    mn_client_set_cookie(c, name, expired ? NULL : value);
}

static void take_cookies(mn_client *c, mn_req *resp)
{
    size_t n;
    const mn_field *h = mn_resp_headers(resp, &n);
    for (size_t i = 0; i < n; i++)
        if (mn_str_ieq_cstr(h[i].name, "Set-Cookie"))
            take_cookie(c, h[i].value);
}

/* ---- Requests. ---- */

static int keep(mn_client *c, mn_req *r)
{
    if (c->response_count == c->response_cap) {
        size_t cap = c->response_cap ? c->response_cap * 2 : 16;
        mn_req **n = mn_realloc(c->responses, cap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        c->responses = n;
        c->response_cap = cap;
    }
    c->responses[c->response_count++] = r;
    return 0;
}

size_t mn_client_num_queries(const mn_client *c)
{
    return c->response_count ? mn_req_num_queries(c->responses[c->response_count - 1]) : 0;
}

const char *mn_resp_captured_queries(mn_req *resp)
{
    const mn_dblog *log = resp ? mn_req_queries(resp) : NULL;
    if (!log || log->count == 0)
        return "(none)";
    mn_buf b;
    mn_buf_init(&b, mn_req_arena(resp));
    for (size_t i = 0; i < log->count; i++) {
        const mn_dblog_entry *e = &log->entries[i];
        mn_buf_printf(&b, "%s%zu. %s", i ? "\n" : "", i + 1, e->sql);
        for (size_t j = 0; j < e->nparams; j++) {
            mn_buf_puts(&b, j ? ", " : " -- params: ");
            mn__param_text(&b, &e->params[j], false);
        }
    }
    const char *text = mn_buf_cstr(&b);
    return text ? text : "(out of memory)";
}

static mn_req *run_once(mn_client *c, const mn_client_request *q)
{
    mn_field headers[64];
    size_t n = 0;
    bool has_host = false;
    for (size_t i = 0; i < q->header_count && n < 60; i++) {
        has_host |= mn_str_ieq_cstr(q->headers[i].name, "Host");
        headers[n++] = q->headers[i];
    }
    if (!has_host)
        headers[n++] = (mn_field){MN_STR_LIT("Host"), MN_STR_LIT("testserver")};
    mn_buf jar;
    mn_buf_init(&jar, NULL);
    for (size_t i = 0; i < c->cookie_count; i++)
        mn_buf_printf(&jar, "%s%s=%s", i ? "; " : "", c->cookies[i].name, c->cookies[i].value);
    if (c->cookie_count && mn_buf_cstr(&jar))
        headers[n++] = (mn_field){MN_STR_LIT("Cookie"), {jar.data, jar.len}};
    if (q->content_type)
        headers[n++] = (mn_field){MN_STR_LIT("Content-Type"), mn_str_from(q->content_type)};
    size_t body_len = q->body && !q->body_len ? strlen(q->body) : q->body_len;
    char clen[32];
    if (q->body ||
        (q->method && strcasecmp(q->method, "GET") != 0 && strcasecmp(q->method, "HEAD") != 0)) {
        snprintf(clen, sizeof clen, "%zu", body_len);
        headers[n++] = (mn_field){MN_STR_LIT("Content-Length"), mn_str_from(clen)};
    }
    mn_http_limits limits;
    mn_site_http_limits(c->site, &limits);
    mn_req_init init = {q->method, q->path,
                        headers,   n,
                        q->body,   body_len,
                        NULL,      q->secure,
                        &limits,   mn_settings_bool(mn_site_settings(c->site), "COOKIE_SECURE")};
    mn_req *r = mn_req_new(&init);
    mn_buf_free(&jar);
    if (!r) {
        char msg[sizeof c->error];
        snprintf(msg, sizeof msg, "cannot build the request %s %s", q->method ? q->method : "GET",
                 q->path ? q->path : "(null)");
        return client_fail(c, msg);
    }
    if (keep(c, r) != 0) {
        mn_req_free(r);
        return client_fail(c, "out of memory");
    }
    mn_req_run(r, mn_site_handle, c->site);
    take_cookies(c, r);
    return r;
}

/* A Location on this site as a path: "http://testserver/x?y" gives "/x?y". */
static const char *local_target(const char *location, char *buf, size_t cap)
{
    const char *p = location;
    if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
        p = strchr(p + (p[4] == 's' ? 8 : 7), '/');
        if (!p)
            p = "/";
    }
    snprintf(buf, cap, "%s", p);
    return buf;
}

/* as django.test.Client._handle_redirects: a (location, status) hop seen before is a loop */
static bool hop_seen(const mn_client *c, int status, mn_str location)
{
    for (size_t i = 0; i < c->hop_count; i++)
        if (c->hops[i].status == status && mn_str_eq_cstr(location, c->hops[i].location))
            return true;
    return false;
}

mn_req *mn_client_request_run(mn_client *c, const mn_client_request *req)
{
    c->error[0] = '\0';
    last_error[0] = '\0';
    clear_hops(c);
    mn_client_request q = *req;
    mn_req *r = run_once(c, &q);
    char target[4096];
    while (r && (q.follow || c->follow)) {
        int status = mn_resp_get_status(r);
        mn_str loc = mn_resp_get_header(r, "Location");
        if (status < 300 || status >= 400 || !loc.ptr)
            break;
        /* Django raises RedirectCycleError with these messages; here the request fails */
        if (hop_seen(c, status, loc))
            return client_fail(c, "Redirect loop detected.");
        if (c->hop_count == MN__MAX_REDIRECTS)
            return client_fail(c, "Too many redirects.");
        char *l = mn_malloc(loc.len + 1);
        if (!l)
            return client_fail(c, "out of memory");
        memcpy(l, loc.ptr, loc.len);
        l[loc.len] = '\0';
        c->hops[c->hop_count].status = status;
        c->hops[c->hop_count++].location = l;
        /* 307/308 repeat the method and body; the others become a GET, as browsers do */
        if (status != 307 && status != 308) {
            q.method = NULL;
            q.body = NULL;
            q.body_len = 0;
            q.content_type = NULL;
        }
        q.secure = strncmp(l, "https://", 8) == 0 ? true : q.secure;
        q.path = local_target(l, target, sizeof target);
        r = run_once(c, &q);
    }
    return r;
}

mn_req *mn_client_get(mn_client *c, const char *path)
{
    mn_client_request q = {0};
    q.path = path;
    return mn_client_request_run(c, &q);
}

mn_req *mn_client_head(mn_client *c, const char *path)
{
    mn_client_request q = {0};
    q.method = "HEAD";
    q.path = path;
    return mn_client_request_run(c, &q);
}

mn_req *mn_client_delete(mn_client *c, const char *path)
{
    mn_client_request q = {0};
    q.method = "DELETE";
    q.path = path;
    return mn_client_request_run(c, &q);
}

mn_req *mn_client_post_form(mn_client *c, const char *path, const char *form)
{
    mn_client_request q = {0};
    q.method = "POST";
    q.path = path;
    q.body = form ? form : "";
    q.body_len = strlen(q.body);
    q.content_type = "application/x-www-form-urlencoded";
    return mn_client_request_run(c, &q);
}

mn_req *mn_client_send_json(mn_client *c, const char *method, const char *path, const char *json)
{
    mn_client_request q = {0};
    q.method = method;
    q.path = path;
    q.body = json;
    q.body_len = strlen(json);
    q.content_type = "application/json";
    return mn_client_request_run(c, &q);
}

mn_req *mn_client_post_json(mn_client *c, const char *path, const char *json)
{
    return mn_client_send_json(c, "POST", path, json);
}

size_t mn_client_redirect_count(const mn_client *c)
{
    return c->hop_count;
}

bool mn_client_redirect_at(const mn_client *c, size_t i, int *status, const char **location)
{
    if (i >= c->hop_count)
        return false;
    if (status)
        *status = c->hops[i].status;
    if (location)
        *location = c->hops[i].location;
    return true;
}

/* ---- Reading responses. ---- */

const char *mn_resp_text(mn_req *resp)
{
    if (!resp)
        return *last_error ? last_error : "(no response)";
    mn_buf *b = mn_resp_body(resp);
    return mn_arena_strndup(mn_req_arena(resp), b->data ? b->data : "", b->len);
}

bool mn_resp_contains(mn_req *resp, const char *text)
{
    if (!resp)
        return false;
    mn_buf *b = mn_resp_body(resp);
    size_t n = strlen(text);
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, text, n) == 0)
            return true;
    return false;
}

static void decref(void *p)
{
    json_decref(p);
}

json_t *mn_resp_json(mn_req *resp)
{
    if (!resp)
        return NULL;
    json_t *cached = mn_req_attr(resp, "mn.test.json");
    if (cached)
        return cached;
    mn_buf *b = mn_resp_body(resp);
    json_error_t e;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, JSON_DECODE_ANY, &e);
    if (!j)
        return NULL;
    if (mn_arena_defer(mn_req_arena(resp), decref, j) != 0) {
        json_decref(j);
        return NULL;
    }
    mn_req_set_attr(resp, "mn.test.json", j);
    return j;
}
