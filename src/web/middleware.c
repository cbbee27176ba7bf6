/* middleware.c — the built-in middleware, each mirroring its Django counterpart:
 *   request_id      X-Request-ID on the response and one access-log line per request
 *   host            ALLOWED_HOSTS (django.http.request.validate_host): a bad Host is a 400
 *   security        django.middleware.security.SecurityMiddleware
 *   gzip            django.middleware.gzip.GZipMiddleware
 *   conditional_get django.middleware.http.ConditionalGetMiddleware
 *   common          APPEND_SLASH (django.middleware.common.CommonMiddleware) */
#define _GNU_SOURCE
#include "web/internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

static const mn__web_config *cfg(const mn_req *r)
{
    return &mn_req_site(r)->cfg;
}

/* ---- request_id ---- */

static bool request_id_before(mn_req *r)
{
    mn__state(r)->start_us = mn__now_us();
    const char *id = mn_req_id(r);
    if (id && *id)
        mn_resp_set_header(r, "X-Request-ID", id);
    return false;
}

static void json_str(mn_buf *b, const char *s, size_t n)
{
    mn_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            mn_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            mn_buf_printf(b, "\\u%04x", c);
        else
            mn_buf_putc(b, (char)c);
    }
    mn_buf_putc(b, '"');
}

static void request_id_after(mn_req *r)
{
    mn__req_state *st = mn__state(r);
    const char *id = mn_req_id(r);
    if (id && *id && !mn_resp_get_header(r, "X-Request-ID").ptr)
        mn_resp_set_header(r, "X-Request-ID", id);
    double ms = st->start_us ? (double)(mn__now_us() - st->start_us) / 1000.0 : 0.0;
    int status = mn_resp_get_status(r);
    size_t bytes = mn_resp_is_streaming(r) ? 0 : mn_resp_body(r)->len;
    mn_str m = mn_req_method(r), p = mn_req_raw_path(r), q = mn_req_query_string(r);
    mn_log_level level = status >= 500   ? MN_LOG_ERROR
                         : status >= 400 ? MN_LOG_WARNING
                                         : MN_LOG_INFO;
    if (cfg(r)->json_logs) {
        mn_buf f;
        mn_buf_init(&f, mn_req_arena(r));
        mn_buf_puts(&f, "\"method\":");
        json_str(&f, m.ptr, m.len);
        mn_buf_puts(&f, ",\"path\":");
        json_str(&f, p.ptr, p.len);
        if (q.len) {
            mn_buf_puts(&f, ",\"query\":");
            json_str(&f, q.ptr, q.len);
        }
        mn_buf_printf(&f, ",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.3f,\"client\":", status,
                      bytes, ms);
        const char *ip = mn_req_client_ip(r);
        json_str(&f, ip ? ip : "", ip ? strlen(ip) : 0);
        if (mn_buf_cstr(&f))
            mn_log_fields(level, "manouche.access", f.data, "%.*s %.*s %d", (int)m.len, m.ptr,
                          (int)p.len, p.ptr, status);
    } else {
        /* as Django's runserver: "GET /polls/ HTTP/1.1" 200 1234 */
        mn_log(level, "manouche.access", "\"%.*s %.*s%s%.*s HTTP/1.%d\" %d %zu %.1fms", (int)m.len,
               m.ptr, (int)p.len, p.ptr, q.len ? "?" : "", (int)q.len, q.ptr, mn_req_http_minor(r),
               status, bytes, ms);
    }
}

/* ---- host ---- */

mn_str mn__req_host(mn_req *r)
{
    if (cfg(r)->use_x_forwarded_host) {
        mn_str xf = mn_req_header(r, "X-Forwarded-Host");
        if (xf.ptr)
            return mn_str_trim(xf);
    }
    return mn_req_host(r);
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* as django.http.request.split_domain_port: the lowercased domain without the port, or an
 * empty result when the host is malformed */
static size_t split_domain(mn_str host, char *domain, size_t cap)
{
    char low[256];
    if (host.len == 0 || host.len >= sizeof low)
        return 0;
    for (size_t i = 0; i < host.len; i++)
        low[i] = (char)(host.ptr[i] >= 'A' && host.ptr[i] <= 'Z' ? host.ptr[i] + 32 : host.ptr[i]);
    size_t end;
    if (low[0] == '[') {
        const char *close = memchr(low, ']', host.len);
        if (!close)
            return 0;
        end = (size_t)(close - low) + 1;
        for (size_t i = 1; i + 1 < end; i++)
            if (!((low[i] >= '0' && low[i] <= '9') || (low[i] >= 'a' && low[i] <= 'f') ||
                  low[i] == ':' || low[i] == '.'))
                return 0;
    } else {
        end = 0;
        while (end < host.len && host_char(low[end]))
            end++;
        if (end == 0)
            return 0;
    }
    if (end < host.len) {
        if (low[end] != ':' || end + 1 == host.len)
            return 0;
        for (size_t i = end + 1; i < host.len; i++)
            if (low[i] < '0' || low[i] > '9')
                return 0;
    }
    size_t n = end;
    if (low[0] != '[' && n > 0 && low[n - 1] == '.')
        n--; /* a trailing dot is allowed and ignored */
    if (n == 0 || n >= cap)
        return 0;
    memcpy(domain, low, n);
    domain[n] = '\0';
    return n;
}

/* as django.utils.http.is_same_domain */
static bool same_domain(const char *host, size_t hlen, const char *pattern)
{
    size_t plen = strlen(pattern);
    if (plen == 0)
        return false;
    if (pattern[0] == '.') {
        /* ".example.com" matches example.com and any subdomain */
        if (hlen == plen - 1 && strncasecmp(host, pattern + 1, hlen) == 0)
            return true;
        return hlen >= plen && strncasecmp(host + hlen - plen, pattern, plen) == 0;
    }
    return hlen == plen && strncasecmp(host, pattern, plen) == 0;
}

bool mn__host_valid(mn_str host, const char *const *allowed, size_t count, bool testing)
{
    char domain[256];
    size_t n = split_domain(host, domain, sizeof domain);
    if (n == 0)
        return false;
    if (testing && strcmp(domain, "testserver") == 0)
        return true;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(allowed[i], "*") == 0 || same_domain(domain, n, allowed[i]))
            return true;
    }
    return false;
}

static bool host_before(mn_req *r)
{
    const mn__web_config *c = cfg(r);
    mn_str host = mn__req_host(r);
    /* HTTP/1.0 without Host: the server's own name is used, as Django's SERVER_NAME */
    if (!host.ptr || host.len == 0)
        return false;
    if (mn__host_valid(host, c->allowed_hosts, c->allowed_host_count, mn_req_site(r)->testing))
        return false;
    char domain[256];
    size_t n = split_domain(host, domain, sizeof domain);
    if (n == 0)
        mn_abort(r, 400,
                 "Invalid HTTP_HOST header: '%.*s'. The domain name provided is not valid "
                 "according to RFC 1034/1035.",
                 (int)host.len, host.ptr);
    mn_abort(r, 400, "Invalid HTTP_HOST header: '%.*s'. You may need to add '%s' to ALLOWED_HOSTS.",
             (int)host.len, host.ptr, domain);
}

/* ---- security ---- */

static void security_headers(mn_req *r);

static bool security_before(mn_req *r)
{
    const mn__web_config *c = cfg(r);
    /* set now as well as on the way out: a view that streams sends its headers before any
     * after() hook runs */
    security_headers(r);
    if (!c->ssl_redirect || mn_req_is_secure(r))
        return false;
    mn_str path = mn_req_path(r);
    mn_str rel = {path.ptr + 1, path.len ? path.len - 1 : 0};
    for (size_t i = 0; i < c->redirect_exempt_count; i++)
        if (mn_str_starts_with(rel, c->redirect_exempt[i]))
            return false;
    mn_str host = *c->ssl_host ? mn_str_from(c->ssl_host) : mn__req_host(r);
    mn_str raw = mn_req_raw_path(r), q = mn_req_query_string(r);
    char *loc = mn_arena_printf(mn_req_arena(r), "https://%.*s%.*s%s%.*s", (int)host.len, host.ptr,
                                (int)raw.len, raw.ptr, q.len ? "?" : "", (int)q.len, q.ptr);
    if (!loc || mn_resp_set_header(r, "Location", loc) != 0)
        mn_abort(r, 400, "cannot redirect to HTTPS");
    mn_resp_status(r, 301);
    mn_resp_set_body(r, "", 0);
    return true;
}

/* Each header only when the response has none of that name (Django's setdefault), so a
 * view can choose its own. */
static void security_headers(mn_req *r)
{
    const mn__web_config *c = cfg(r);
    if (c->hsts_seconds > 0 && mn_req_is_secure(r) &&
        !mn_resp_get_header(r, "Strict-Transport-Security").ptr)
        mn_resp_set_header(r, "Strict-Transport-Security", c->hsts_header);
    if (c->nosniff && !mn_resp_get_header(r, "X-Content-Type-Options").ptr)
        mn_resp_set_header(r, "X-Content-Type-Options", "nosniff");
    if (c->referrer_header[0] && !mn_resp_get_header(r, "Referrer-Policy").ptr)
        mn_resp_set_header(r, "Referrer-Policy", c->referrer_header);
    if (*c->coop && strcmp(c->coop, "none") != 0 &&
        !mn_resp_get_header(r, "Cross-Origin-Opener-Policy").ptr)
        mn_resp_set_header(r, "Cross-Origin-Opener-Policy", c->coop);
}

static void security_after(mn_req *r)
{
    if (!mn_resp_is_streaming(r))
        security_headers(r);
}

/* ---- gzip ---- */

/* as django.utils.cache.patch_vary_headers: adds name unless already listed */
static void patch_vary(mn_req *r, const char *name)
{
    mn_str vary = mn_resp_get_header(r, "Vary");
    if (!vary.ptr) {
        mn_resp_set_header(r, "Vary", name);
        return;
    }
    size_t nlen = strlen(name);
    for (size_t i = 0; i < vary.len;) {
        size_t j = i;
        while (j < vary.len && vary.ptr[j] != ',')
            j++;
        mn_str item = mn_str_trim((mn_str){vary.ptr + i, j - i});
        if (mn_str_eq_cstr(item, "*") || (item.len == nlen && mn_str_ieq_cstr(item, name)))
            return;
        i = j + 1;
    }
    char *v = mn_arena_printf(mn_req_arena(r), "%.*s, %s", (int)vary.len, vary.ptr, name);
    if (v)
        mn_resp_set_header(r, "Vary", v);
}

/* Honours q=0 (RFC 9110 section 12.5.3), where Django's r"\bgzip\b" would compress anyway. */
static bool accepts_gzip(mn_str ae)
{
    return mn__accept_encoding_q(ae, "gzip") > 0;
}

static int gzip_bytes(mn_arena *a, const char *in, size_t n, mn_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return MN_ENOMEM;
    mn_buf_init(out, a);
    size_t bound = deflateBound(&zs, (uLong)n) + 32;
    if (mn_buf_reserve(out, bound) != 0) {
        deflateEnd(&zs);
        return MN_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    out->len = bound - zs.avail_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : MN_EIO;
}

static void gzip_after(mn_req *r)
{
    if (mn_resp_is_streaming(r) || mn_resp_is_file(r))
        return;
    mn_buf *body = mn_resp_body(r);
    if (body->len < 200)
        return;
    if (mn_resp_get_header(r, "Content-Encoding").ptr)
        return;
    patch_vary(r, "Accept-Encoding");
    if (!accepts_gzip(mn_req_header(r, "Accept-Encoding")))
        return;
    mn_buf z;
    if (gzip_bytes(mn_req_arena(r), body->data, body->len, &z) != 0 || z.len >= body->len)
        return;
    mn_resp_set_body(r, z.data, z.len);
    /* as Django: a strong ETag becomes weak, the bytes changed */
    mn_str etag = mn_resp_get_header(r, "ETag");
    if (etag.ptr && etag.len && etag.ptr[0] == '"') {
        char *weak = mn_arena_printf(mn_req_arena(r), "W/%.*s", (int)etag.len, etag.ptr);
        if (weak)
            mn_resp_set_header(r, "ETag", weak);
    }
    mn_resp_set_header(r, "Content-Encoding", "gzip");
}

/* ---- conditional_get ---- */

static bool parse_http_date(mn_str s, time_t *out)
{
    char buf[64];
    if (s.len == 0 || s.len >= sizeof buf)
        return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    struct tm tm;
    static const char *const formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                          "%a %b %d %H:%M:%S %Y", NULL};
    for (size_t i = 0; formats[i]; i++) {
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(buf, formats[i], &tm);
        if (end && *end == '\0') {
            *out = timegm(&tm);
            return true;
        }
    }
    return false;
}

/* An entity-tag list as django.utils.cache's parse_etags: "*", or the well-formed tags
 * ("x" or W/"x") in order; malformed items are dropped, so a header of nothing but garbage
 * is as if absent. Calls each(tag) until it returns true. */
typedef bool (*etag_visit)(mn_str tag, mn_str target);

static bool etag_list_any(mn_str list, mn_str target, etag_visit each)
{
    for (size_t i = 0; i < list.len;) {
        size_t j = i;
        bool quoted = false;
        while (j < list.len && (quoted || list.ptr[j] != ',')) {
            if (list.ptr[j] == '"')
                quoted = !quoted;
            j++;
        }
        mn_str item = mn_str_trim((mn_str){list.ptr + i, j - i});
        mn_str bare = mn_str_starts_with(item, "W/") ? (mn_str){item.ptr + 2, item.len - 2} : item;
        bool valid = bare.len >= 2 && bare.ptr[0] == '"' && bare.ptr[bare.len - 1] == '"' &&
                     !memchr(bare.ptr + 1, '"', bare.len - 2);
        if (valid && each(item, target))
            return true;
        i = j + 1;
    }
    return false;
}

static bool etag_list_empty_visit(mn_str tag, mn_str target)
{
    (void)tag;
    (void)target;
    return true;
}

/* True when the header holds "*" or at least one well-formed tag (parse_etags is not []). */
static bool etag_list_present(mn_str list)
{
    list = mn_str_trim(list);
    return mn_str_eq_cstr(list, "*") ||
           etag_list_any(list, (mn_str){NULL, 0}, etag_list_empty_visit);
}

static mn_str strip_weak(mn_str tag)
{
    return mn_str_starts_with(tag, "W/") ? (mn_str){tag.ptr + 2, tag.len - 2} : tag;
}

static bool weak_equal(mn_str tag, mn_str target)
{
    return mn_str_eq(strip_weak(tag), strip_weak(target));
}

static bool strong_equal(mn_str tag, mn_str target)
{
    return mn_str_eq(tag, target);
}

/* as django.utils.cache._if_match_passes (strong comparison, RFC 9110 13.1.1) */
static bool if_match_passes(mn_str etag, mn_str if_match)
{
    if (!etag.ptr || !etag.len)
        return false; /* no current representation: nothing can match, not even "*" */
    if (mn_str_eq_cstr(mn_str_trim(if_match), "*"))
        return true;
    if (mn_str_starts_with(etag, "W/"))
        return false; /* a weak tag never matches strongly */
    return etag_list_any(if_match, etag, strong_equal);
}

/* as django.utils.cache._if_none_match_passes (weak comparison, RFC 9110 13.1.2) */
static bool if_none_match_passes(mn_str etag, mn_str if_none_match)
{
    if (!etag.ptr || !etag.len)
        return true;
    if (mn_str_eq_cstr(mn_str_trim(if_none_match), "*"))
        return false;
    return !etag_list_any(if_none_match, etag, weak_equal);
}

static void set_etag(mn_req *r)
{
    mn_buf *body = mn_resp_body(r);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(body->data ? body->data : "", body->len, md, &mdlen, EVP_md5(), NULL))
        return;
    static const char hex[] = "0123456789abcdef";
    char tag[2 * EVP_MAX_MD_SIZE + 3];
    size_t k = 0;
    tag[k++] = '"';
    for (unsigned i = 0; i < mdlen; i++) {
        tag[k++] = hex[md[i] >> 4];
        tag[k++] = hex[md[i] & 15];
    }
    tag[k++] = '"';
    tag[k] = '\0';
    mn_resp_set_header(r, "ETag", tag);
}

/* as django.utils.cache._not_modified: keep only what a 304 may carry */
static void not_modified(mn_req *r)
{
    static const char *const keep[] = {
        "Cache-Control", "Content-Location", "Date",         "ETag", "Expires", "Last-Modified",
        "Vary",          "Set-Cookie",       "X-Request-ID", NULL};
    size_t n;
    const mn_field *h = mn_resp_headers(r, &n);
    char *drop[64];
    size_t count = 0;
    for (size_t i = 0; i < n && count < 64; i++) {
        bool kept = false;
        for (size_t k = 0; keep[k]; k++)
            kept |= mn_str_ieq_cstr(h[i].name, keep[k]);
        if (!kept)
            drop[count++] = mn_arena_strndup(mn_req_arena(r), h[i].name.ptr, h[i].name.len);
    }
    for (size_t i = 0; i < count; i++)
        if (drop[i])
            mn_resp_remove_header(r, drop[i]);
    mn_resp_set_body(r, "", 0);
    mn_resp_status(r, 304);
}

/* as django.utils.cache._precondition_failed: an empty 412 in place of the response */
static void precondition_failed(mn_req *r)
{
    mn_str p = mn_req_path(r);
    mn_log(MN_LOG_WARNING, "manouche.request", "Precondition Failed: %.*s", (int)p.len, p.ptr);
    mn__web_resp_reset(r);
    mn_resp_status(r, 412);
    mn_resp_set_body(r, "", 0);
}

/* A request header's date when it is present and valid (Django's parse_http_date_safe). */
static bool header_date(mn_req *r, const char *name, time_t *out)
{
    mn_str v = mn_req_header(r, name);
    return v.ptr && parse_http_date(mn_str_trim(v), out);
}

/* as django.utils.cache.get_conditional_response, steps 1 to 4 of RFC 9110 13.2.2 */
static void conditional_response(mn_req *r, mn_str etag, bool has_lm, time_t lm, bool safe)
{
    mn_str im = mn_req_header(r, "If-Match");
    bool has_im = im.ptr && etag_list_present(im);
    if (has_im && !if_match_passes(etag, im)) {
        precondition_failed(r);
        return;
    }
    time_t t;
    if (!has_im && header_date(r, "If-Unmodified-Since", &t) && !(has_lm && lm <= t)) {
        precondition_failed(r);
        return;
    }
    mn_str inm = mn_req_header(r, "If-None-Match");
    bool has_inm = inm.ptr && etag_list_present(inm);
    if (has_inm && !if_none_match_passes(etag, inm)) {
        if (safe)
            not_modified(r);
        else
            precondition_failed(r);
        return;
    }
    if (!has_inm && safe && header_date(r, "If-Modified-Since", &t) && has_lm && lm <= t)
        not_modified(r);
}

/* as ConditionalGetMiddleware: GET and HEAD responses get an ETag; then, for every method
 * whose response carries a validator (ETag or Last-Modified), the request's preconditions are
 * evaluated against it. For an unsafe method the view has already run by then: a view that
 * changes state under If-Match must check its preconditions itself before it acts. */
static void conditional_after(mn_req *r)
{
    if (mn_resp_is_streaming(r) || mn_resp_is_file(r))
        return;
    int status = mn_resp_get_status(r);
    if (status < 200 || status >= 300)
        return;
    bool safe = mn_req_method_is(r, "GET") || mn_req_method_is(r, "HEAD");
    if (safe && status == 200 && !mn_resp_get_header(r, "ETag").ptr) {
        mn_str cc = mn_resp_get_header(r, "Cache-Control");
        bool no_store = false;
        for (size_t i = 0; cc.ptr && i + 8 <= cc.len; i++)
            no_store |= strncasecmp(cc.ptr + i, "no-store", 8) == 0;
        if (!no_store)
            set_etag(r);
    }
    mn_str etag = mn_resp_get_header(r, "ETag");
    mn_str lm_header = mn_resp_get_header(r, "Last-Modified");
    time_t lm = 0;
    bool has_lm = lm_header.ptr && parse_http_date(lm_header, &lm);
    if ((etag.ptr && etag.len) || has_lm)
        conditional_response(r, etag, has_lm, lm, safe);
}

/* ---- common ---- */

/* as CommonMiddleware.should_redirect_with_slash */
static bool should_append_slash(mn_req *r)
{
    mn_site *s = mn_req_site(r);
    mn_str path = mn_req_path(r);
    if (!s->cfg.append_slash || path.len == 0 || path.ptr[path.len - 1] == '/')
        return false;
    mn_route_match m;
    if (mn_router_resolve(s->router, path, NULL, &m, NULL, 0) == 0)
        return false;
    char *with = mn_arena_printf(mn_req_arena(r), "%.*s/", (int)path.len, path.ptr);
    return with && mn_router_resolve(s->router, mn_str_from(with), NULL, &m, NULL, 0) == 0;
}

static void common_after(mn_req *r)
{
    if (mn_resp_get_status(r) != 404 || !should_append_slash(r))
        return;
    mn_str raw = mn_req_raw_path(r), q = mn_req_query_string(r);
    /* as django.utils.http.escape_leading_slashes: "//evil.com" must stay on this site */
    const char *lead = raw.len >= 2 && raw.ptr[1] == '/' ? "/%2F" : "/";
    size_t skip = raw.len >= 2 && raw.ptr[1] == '/' ? 2 : 1;
    char *loc = mn_arena_printf(mn_req_arena(r), "%s%.*s/%s%.*s", lead, (int)(raw.len - skip),
                                raw.ptr + skip, q.len ? "?" : "", (int)q.len, q.ptr);
    mn_str m = mn_req_method(r);
    /* A redirect would turn these into a GET and lose their body: in DEBUG, say so. */
    if (cfg(r)->debug && (mn_str_eq_cstr(m, "POST") || mn_str_eq_cstr(m, "PUT") ||
                          mn_str_eq_cstr(m, "PATCH") || mn_str_eq_cstr(m, "DELETE"))) {
        mn_str host = mn__req_host(r);
        mn_abort(r, 500,
                 "RuntimeError: You called this URL via %.*s, but the URL doesn't end in a "
                 "slash and you have APPEND_SLASH set. Manouche can't redirect to the slash URL "
                 "while maintaining %.*s data. Change your form to point to %.*s%s (note the "
                 "trailing slash), or set APPEND_SLASH=False in your settings.",
                 (int)m.len, m.ptr, (int)m.len, m.ptr, (int)host.len, host.ptr, loc ? loc : "");
    }
    mn__web_resp_reset(r);
    if (loc && mn_resp_set_header(r, "Location", loc) == 0)
        mn_resp_status(r, 301);
}

/* ---- registry ---- */

static const mn_middleware builtins[] = {
    {"request_id", request_id_before, request_id_after, NULL}, {"host", host_before, NULL, NULL},
    {"security", security_before, security_after, NULL},       {"gzip", NULL, gzip_after, NULL},
    {"conditional_get", NULL, conditional_after, NULL},        {"common", NULL, common_after, NULL},
};

const mn_middleware *mn_middleware_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}
