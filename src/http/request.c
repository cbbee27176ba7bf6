/* request.c — the request side of mn_req: accessors over the parsed head, lazily parsed query,
 * form, cookies and JSON, the client address behind trusted proxies, attributes, and requests
 * built without a socket (mn_req_new, for the test client).
 *
 * Nothing is parsed before someone asks: a plaintext benchmark request never touches the query
 * or cookie parsers. Parsed results live in the request arena and go with it. */
#include "http/internal.h"
#include "http/multipart.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- Life cycle. ---- */

mn_req *mn__req_alloc(const mn_http_limits *limits)
{
    mn_req *r = mn_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->arena = mn_arena_new(16384);
    r->header_cap = (limits ? limits->max_headers : 100) + 1;
    r->header_storage = mn_calloc(r->header_cap, sizeof(mn_field));
    if (!r->arena || !r->header_storage) {
        mn__req_destroy(r);
        return NULL;
    }
    r->limits = limits;
    r->file_fd = -1;
    return r;
}

void mn__req_destroy(mn_req *r)
{
    if (!r)
        return;
    mn_arena_free(r->arena);
    mn_free(r->header_storage);
    mn_free(r);
}

void mn__req_clear(mn_req *r)
{
    mn__http_head_init(&r->head, r->header_storage, r->header_cap);
    r->method = r->raw_path = r->path = r->query_string = r->host = r->body = (mn_str){"", 0};
    r->is_head = r->multipart_streamed = false;
    r->query_done = r->form_done = r->cookies_done = r->json_done = r->client_done = false;
    r->json = NULL;
    r->client_ip = NULL;
    r->secure = false;
    r->files = NULL;
    r->file_count = r->file_cap = 0;
    r->error = "";
    r->id = NULL;
    r->attrs = NULL;
    r->web_state = NULL;
    r->upload = NULL;
    r->carry = NULL;
    r->carry_len = 0;
    mn__resp_reset(r);
}

void mn__req_set_error(mn_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mn_arena_vprintf(r->arena, fmt, ap);
    va_end(ap);
    r->error = msg ? msg : "out of memory";
}

/* A path that needs no decoding or normalising can be used as sent (the common case). */
static bool path_is_plain(mn_str p)
{
    for (size_t i = 0; i < p.len; i++) {
        char c = p.ptr[i];
        if (c == '%')
            return false;
        if (c == '/' && i + 1 < p.len && (p.ptr[i + 1] == '/' || p.ptr[i + 1] == '.'))
            return false;
    }
    return true;
}

int mn__req_from_head(mn_req *r)
{
    mn__http_head *h = &r->head;
    r->method = h->method;
    r->is_head = h->method_id == MN__HTTP_HEAD;
    r->raw_path = h->path;
    r->query_string = h->query.ptr ? h->query : (mn_str){"", 0};
    r->host = h->host.ptr ? h->host : (mn_str){"", 0};
    if (h->path.len == 0 || h->path.ptr[0] != '/') {
        r->path = h->path; /* "*" (OPTIONS *) or an authority (CONNECT): left to the handler */
        return 0;
    }
    if (path_is_plain(h->path)) {
        r->path = h->path;
        return 0;
    }
    char *out = mn_arena_alloc(r->arena, h->path.len + 1);
    size_t len = 0;
    if (!out)
        return 500;
    if (mn__url_path_normalize(h->path.ptr, h->path.len, out, &len) != MN_OK) {
        mn__req_set_error(r, "the path is not valid (bad percent-escape or NUL)");
        return 400;
    }
    out[len] = '\0';
    r->path = (mn_str){out, len};
    return 0;
}

/* ---- Simple accessors. ---- */

mn_arena *mn_req_arena(mn_req *r)
{
    return r->arena;
}

mn_str mn_req_method(const mn_req *r)
{
    return r->method;
}

bool mn_req_method_is(const mn_req *r, const char *method)
{
    return mn_str_eq_cstr(r->method, method);
}

mn_str mn_req_path(const mn_req *r)
{
    return r->path;
}

mn_str mn_req_raw_path(const mn_req *r)
{
    return r->raw_path;
}

mn_str mn_req_query_string(const mn_req *r)
{
    return r->query_string;
}

int mn_req_http_minor(const mn_req *r)
{
    return r->head.minor;
}

mn_str mn_req_host(const mn_req *r)
{
    return r->host;
}

mn_str mn_req_body(const mn_req *r)
{
    return r->body;
}

const char *mn_req_error(const mn_req *r)
{
    return r->error ? r->error : "";
}

mn_str mn_req_header(const mn_req *r, const char *name)
{
    const mn_field *f = mn__http_head_get(&r->head, name);
    return f ? f->value : (mn_str){NULL, 0};
}

const mn_field *mn_req_headers(const mn_req *r, size_t *count)
{
    if (count)
        *count = r->head.header_count;
    return r->head.headers;
}

/* ---- Query, form, cookies, JSON. ---- */

static size_t max_fields(const mn_req *r)
{
    return r->limits ? r->limits->max_form_fields : 1000;
}

/* Django's SuspiciousOperation for a request with more parameters than the settings allow:
 * the message is Django's, the log line goes to the security logger named after the
 * exception (django.security.TooManyFieldsSent), and the attribute tells the web layer to
 * answer 400 instead of running the view on a partial form. */
void mn__req_suspicious(mn_req *r, const char *exception, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mn_arena_vprintf(r->arena, fmt, ap);
    va_end(ap);
    mn__req_set_error(r, "%s", msg ? msg : exception);
    mn_req_set_attr(r, MN__ATTR_SUSPICIOUS, (void *)exception);
    mn_log(MN_LOG_ERROR, exception, "%s", msg ? msg : exception);
}

void mn__req_too_many_fields(mn_req *r)
{
    mn__req_suspicious(r, "manouche.security.TooManyFieldsSent",
                       "The number of GET/POST parameters exceeded "
                       "settings.DATA_UPLOAD_MAX_NUMBER_FIELDS (%zu).",
                       max_fields(r));
}

static void ensure_query(mn_req *r)
{
    if (r->query_done)
        return;
    r->query_done = true;
    mn__field_list_init(&r->query, r->arena);
    int rc = mn__query_parse(r->query_string.ptr, r->query_string.len, max_fields(r), &r->query);
    if (rc == MN_ETOOBIG)
        mn__req_too_many_fields(r);
    else if (rc)
        mn__req_set_error(r, "the query string could not be parsed: %s", mn_strerror(rc));
}

const char *mn_req_query(mn_req *r, const char *name)
{
    ensure_query(r);
    const mn_field *f = mn__field_list_get(&r->query, mn_str_from(name));
    return f ? f->value.ptr : NULL;
}

size_t mn_req_query_list(mn_req *r, const char *name, mn_str *out, size_t max)
{
    ensure_query(r);
    return mn__field_list_get_all(&r->query, mn_str_from(name), out, max);
}

const mn_field *mn_req_query_fields(mn_req *r, size_t *count)
{
    ensure_query(r);
    if (count)
        *count = r->query.len;
    return r->query.items;
}

/* The media type of Content-Type, without parameters, compared without case. */
static bool content_type_is(const mn_req *r, const char *type)
{
    mn_str ct = mn_req_header(r, "Content-Type");
    if (!ct.ptr)
        return false;
    size_t n = 0;
    while (n < ct.len && ct.ptr[n] != ';')
        n++;
    return mn_str_ieq_cstr(mn_str_trim((mn_str){ct.ptr, n}), type);
}

static void ensure_form(mn_req *r)
{
    if (r->form_done)
        return;
    r->form_done = true;
    if (r->multipart_streamed)
        return; /* the server filled r->form while the body arrived */
    mn__field_list_init(&r->form, r->arena);
    if (content_type_is(r, "application/x-www-form-urlencoded")) {
        int rc = mn__form_parse(r->body.ptr, r->body.len, max_fields(r), &r->form);
        if (rc == MN_ETOOBIG)
            mn__req_too_many_fields(r);
        else if (rc)
            mn__req_set_error(r, "the form could not be parsed: %s", mn_strerror(rc));
    } else if (content_type_is(r, "multipart/form-data")) {
        mn__upload_parse_body(r);
    }
}

const char *mn_req_form(mn_req *r, const char *name)
{
    ensure_form(r);
    const mn_field *f = mn__field_list_get(&r->form, mn_str_from(name));
    return f ? f->value.ptr : NULL;
}

size_t mn_req_form_list(mn_req *r, const char *name, mn_str *out, size_t max)
{
    ensure_form(r);
    return mn__field_list_get_all(&r->form, mn_str_from(name), out, max);
}

const mn_field *mn_req_form_fields(mn_req *r, size_t *count)
{
    ensure_form(r);
    if (count)
        *count = r->form.len;
    return r->form.items;
}

const mn_upload *mn_req_file(mn_req *r, const char *field)
{
    ensure_form(r);
    for (size_t i = 0; i < r->file_count; i++)
        if (strcmp(r->files[i].field, field) == 0)
            return &r->files[i];
    return NULL;
}

const mn_upload *mn_req_files(mn_req *r, size_t *count)
{
    ensure_form(r);
    if (count)
        *count = r->file_count;
    return r->files;
}

const char *mn_req_cookie(mn_req *r, const char *name)
{
    if (!r->cookies_done) {
        r->cookies_done = true;
        mn__field_list_init(&r->cookies, r->arena);
        size_t pos = 0;
        const mn_field *f;
        while ((f = mn__http_head_next(&r->head, "Cookie", &pos)) != NULL)
            mn__cookie_parse(f->value.ptr, f->value.len, &r->cookies);
    }
    const mn_field *f = mn__field_list_get(&r->cookies, mn_str_from(name));
    return f ? f->value.ptr : NULL;
}

static void json_release(void *arg)
{
    json_decref(arg);
}

json_t *mn_req_json(mn_req *r)
{
    if (r->json_done)
        return r->json;
    r->json_done = true;
    json_error_t err;
    json_t *j = json_loadb(r->body.ptr ? r->body.ptr : "", r->body.len, JSON_DECODE_ANY, &err);
    if (!j) {
        mn__req_set_error(r, "the body is not valid JSON: %s (line %d, column %d)", err.text,
                          err.line, err.column);
        return NULL;
    }
    if (mn_arena_defer(r->arena, json_release, j) != MN_OK) {
        json_decref(j);
        return NULL;
    }
    r->json = j;
    return j;
}

/* ---- Client address and scheme. ---- */

/* An IPv4 or IPv6 address in binary; an IPv4-mapped IPv6 address counts as IPv4, so a proxy
 * listed as 10.0.0.1 is recognised on a dual-stack socket too. */
typedef struct ip_addr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
} ip_addr;

static bool parse_ip(mn_str text, ip_addr *out)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.len == 0 || text.len >= sizeof buf)
        return false;
    memcpy(buf, text.ptr, text.len);
    buf[text.len] = '\0';
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->bytes) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out->bytes, mapped, 12) == 0) {
        memmove(out->bytes, out->bytes + 12, 4);
        out->family = AF_INET;
    } else {
        out->family = AF_INET6;
    }
    return true;
}

/* One TRUSTED_PROXIES item: an address, or a network in CIDR form (10.0.0.0/8, fd00::/8) as
 * nginx's set_real_ip_from takes it. Items that are neither match nothing. */
static bool item_matches(mn_str item, const ip_addr *ip)
{
    const char *slash = memchr(item.ptr, '/', item.len);
    ip_addr net;
    if (!parse_ip((mn_str){item.ptr, slash ? (size_t)(slash - item.ptr) : item.len}, &net) ||
        net.family != ip->family)
        return false;
    int bits = net.family == AF_INET ? 32 : 128;
    if (slash) {
        int64_t prefix;
        mn_str p = {slash + 1, item.len - (size_t)(slash + 1 - item.ptr)};
        if (p.len == 0 || p.ptr[0] < '0' || p.ptr[0] > '9' || mn_str_to_i64(p, &prefix) != 0 ||
            prefix > bits)
            return false;
        bits = (int)prefix;
    }
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(net.bytes, ip->bytes, (size_t)whole) != 0)
        return false;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return rest == 0 || ((net.bytes[whole] ^ ip->bytes[whole]) & mask) == 0;
}

static bool in_list(const char *list, const ip_addr *ip)
{
    if (!list)
        return false;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        mn_str item = mn_str_trim((mn_str){start, (size_t)(p - start)});
        if (item.len && item_matches(item, ip))
            return true;
    }
    return false;
}

static bool peer_is_trusted(const mn_req *r)
{
    ip_addr peer;
    return r->peer_ip && r->trusted_proxies && parse_ip(mn_str_from(r->peer_ip), &peer) &&
           in_list(r->trusted_proxies, &peer);
}

/* The right-most X-Forwarded-For address that is not a trusted proxy (http.h): each proxy
 * appends the address it saw, so everything left of that was written by the client and may
 * be forged. When that entry is not an IP address the header is ignored and the peer stays
 * the client: the client address must never be a string the client chose. */
static void client_from_forwarded_for(mn_req *r)
{
    mn_str client = {NULL, 0};
    bool client_valid = false;
    size_t pos = 0;
    const mn_field *f;
    while ((f = mn__http_head_next(&r->head, "X-Forwarded-For", &pos)) != NULL) {
        const char *p = f->value.ptr, *end = p + f->value.len;
        while (p < end) {
            const char *start = p;
            while (p < end && *p != ',')
                p++;
            mn_str item = mn_str_trim((mn_str){start, (size_t)(p - start)});
            if (p < end)
                p++;
            if (!item.len)
                continue;
            ip_addr ip;
            bool valid = parse_ip(item, &ip);
            if (!valid || !in_list(r->trusted_proxies, &ip)) {
                client = item;
                client_valid = valid;
            }
        }
    }
    if (client.ptr && client_valid) {
        char *copy = mn_arena_strndup(r->arena, client.ptr, client.len);
        if (copy)
            r->client_ip = copy;
    }
}

static void ensure_client(mn_req *r)
{
    if (r->client_done)
        return;
    r->client_done = true;
    r->client_ip = r->peer_ip ? r->peer_ip : "";
    r->secure = r->secure_socket;
    if (!peer_is_trusted(r))
        return;
    client_from_forwarded_for(r);
    mn_str proto = mn_req_header(r, "X-Forwarded-Proto");
    if (proto.ptr)
        r->secure = mn_str_ieq_cstr(mn_str_trim(proto), "https");
}

const char *mn_req_client_ip(const mn_req *r)
{
    ensure_client((mn_req *)r);
    return r->client_ip;
}

bool mn_req_is_secure(const mn_req *r)
{
    ensure_client((mn_req *)r);
    return r->secure;
}

/* ---- Attributes and id. ---- */

int mn_req_set_attr(mn_req *r, const char *key, void *value)
{
    for (mn__attr *a = r->attrs; a; a = a->next) {
        if (strcmp(a->key, key) == 0) {
            a->value = value;
            return MN_OK;
        }
    }
    mn__attr *a = mn_arena_alloc(r->arena, sizeof *a);
    char *k = mn_arena_strdup(r->arena, key);
    if (!a || !k)
        return MN_ENOMEM;
    *a = (mn__attr){r->attrs, k, value};
    r->attrs = a;
    return MN_OK;
}

void mn_req_set_web_state(mn_req *r, void *state)
{
    r->web_state = state;
}

void *mn_req_web_state(const mn_req *r)
{
    return r->web_state;
}

void *mn_req_attr(const mn_req *r, const char *key)
{
    for (const mn__attr *a = r->attrs; a; a = a->next)
        if (strcmp(a->key, key) == 0)
            return a->value;
    return NULL;
}

static bool valid_request_id(mn_str id)
{
    if (id.len == 0 || id.len > 64)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        char c = id.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

const char *mn_req_id(mn_req *r)
{
    if (r->id)
        return r->id;
    /* A proxy we trust may hand us the id it logged, so that log lines can be joined. */
    mn_str given = mn_req_header(r, "X-Request-ID");
    if (given.ptr && peer_is_trusted(r) && valid_request_id(given)) {
        r->id = mn_arena_strndup(r->arena, given.ptr, given.len);
        if (r->id)
            return r->id;
    }
    static _Thread_local uint32_t prefix;
    static _Thread_local uint64_t counter;
    if (!prefix) {
        if (getrandom(&prefix, sizeof prefix, 0) != sizeof prefix || !prefix)
            prefix = (uint32_t)getpid() | 1u;
    }
    counter++;
    r->id = mn_arena_printf(r->arena, "%08x%012llx", prefix,
                            (unsigned long long)(counter & 0xffffffffffffull));
    return r->id ? r->id : "";
}

/* ---- Requests without a socket. ---- */

static bool valid_target(const char *t)
{
    if (!t || t[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '#')
            return false;
    return true;
}

static bool valid_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && strchr("!#$%&'*+-.^_`|~", c));
        if (!ok)
            return false;
    }
    return true;
}

static mn_str arena_str(mn_arena *a, const char *s, size_t n)
{
    char *copy = mn_arena_strndup(a, s ? s : "", s ? n : 0);
    return (mn_str){copy, copy ? n : 0};
}

mn_req *mn_req_new(const mn_req_init *init)
{
    const char *method = init && init->method ? init->method : "GET";
    const char *target = init ? init->target : NULL;
    if (!target)
        target = "/";
    if (!valid_token(method) || !valid_target(target))
        return NULL;
    size_t nheaders = init ? init->header_count : 0;
    for (size_t i = 0; i < nheaders; i++) {
        const mn_field *h = &init->headers[i];
        char name[256];
        if (!h->name.ptr || h->name.len == 0 || h->name.len >= sizeof name)
            return NULL;
        memcpy(name, h->name.ptr, h->name.len);
        name[h->name.len] = '\0';
        if (!valid_token(name) || (h->value.len && !h->value.ptr))
            return NULL;
        for (size_t k = 0; k < h->value.len; k++)
            if (h->value.ptr[k] == '\r' || h->value.ptr[k] == '\n' || h->value.ptr[k] == '\0')
                return NULL;
    }
    mn_http_limits *limits = mn_malloc(sizeof *limits);
    if (!limits)
        return NULL;
    if (init && init->limits)
        *limits = *init->limits;
    else
        mn_http_limits_default(limits);
    if (nheaders > limits->max_headers) {
        mn_free(limits);
        return NULL;
    }
    mn_req *r = mn__req_alloc(limits);
    if (!r) {
        mn_free(limits);
        return NULL;
    }
    r->owns_limits = true;
    mn__req_clear(r);
    mn_arena *a = r->arena;
    mn__http_head *h = &r->head;
    h->method = arena_str(a, method, strlen(method));
    h->method_id = mn__http_method_from(h->method);
    h->target = arena_str(a, target, strlen(target));
    const char *q = strchr(h->target.ptr, '?');
    h->path = q ? (mn_str){h->target.ptr, (size_t)(q - h->target.ptr)} : h->target;
    h->query = q ? (mn_str){q + 1, strlen(q + 1)} : (mn_str){NULL, 0};
    h->minor = 1;
    h->keep_alive = true;
    h->content_length = init && init->body ? (int64_t)init->body_len : -1;
    for (size_t i = 0; i < nheaders; i++) {
        const mn_field *src = &init->headers[i];
        h->headers[i].name = arena_str(a, src->name.ptr, src->name.len);
        h->headers[i].value = arena_str(a, src->value.ptr, src->value.len);
        if (!h->headers[i].name.ptr || !h->headers[i].value.ptr)
            goto fail;
    }
    h->header_count = nheaders;
    const mn_field *host = mn__http_head_get(h, "Host");
    h->host = host ? host->value : (mn_str){NULL, 0};
    if (mn__req_from_head(r) != 0)
        goto fail;
    if (init && init->body && init->body_len) {
        r->body = arena_str(a, init->body, init->body_len);
        if (!r->body.ptr)
            goto fail;
    }
    const char *ip = init && init->client_ip ? init->client_ip : "127.0.0.1";
    r->peer_ip = mn_arena_strdup(a, ip);
    r->secure_socket = init && init->secure;
    r->cookie_secure = init && init->cookie_secure;
    r->start_us = 0;
    return r;
fail:
    mn_req_free(r);
    return NULL;
}

void mn_req_run(mn_req *r, mn_handler handler, void *arg)
{
    if (handler)
        handler(r, arg);
    if (r->streaming)
        r->stream_ended = true;
    mn__resp_finish(r);
}

void mn_req_free(mn_req *r)
{
    if (!r)
        return;
    mn_http_limits *limits = r->owns_limits ? (mn_http_limits *)r->limits : NULL;
    mn__req_destroy(r);
    mn_free(limits);
}

void mn_http_limits_default(mn_http_limits *l)
{
    *l = (mn_http_limits){
        .max_target = 8190,
        .max_header_bytes = 16384,
        .max_headers = 100,
        .max_body = 2621440,
        .max_form_fields = 1000,
        .max_multipart_parts = 1000,
        .max_files = 100,
        .max_upload = 64u << 20,
        .upload_memory = 2621440,
        .upload_temp_dir = NULL,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 30000,
        .keepalive_timeout_ms = 5000,
        .write_timeout_ms = 30000,
        .max_pipeline = 16,
    };
}
