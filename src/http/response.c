/* response.c — building a response on an mn_req: status, headers, body, cookies, streaming and
 * file bodies, and its serialisation (status line and header block).
 *
 * Header names and values are copied into the request arena and checked once, when added, so
 * serialising is plain copying. The server owns the framing headers (Content-Length,
 * Transfer-Encoding, Connection, Date): whatever a handler put there is replaced by what the
 * server actually does, because a framing header that lies is a response-splitting bug. */
#include "http/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char DEFAULT_CONTENT_TYPE[] = "text/html; charset=utf-8";

void mn_resp_status(mn_req *r, int status)
{
    r->status = status;
}

int mn_resp_get_status(const mn_req *r)
{
    return r->status;
}

/* RFC 9110 tchar, as a table: header names are checked on every add. */
static const bool TCHAR[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* name[0..n) is a valid field name (RFC 9110 token). Names are set on nearly every response:
 * four bytes are tested per branch. */
static bool name_ok(const char *name, size_t n)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        if (!(TCHAR[p[i]] & TCHAR[p[i + 1]] & TCHAR[p[i + 2]] & TCHAR[p[i + 3]]))
            return false;
    for (; i < n; i++)
        if (!TCHAR[p[i]])
            return false;
    return n > 0;
}

/* A mask with the high bit of each byte of x that equals c ("has a zero byte" on x ^ c). */
static inline uint64_t bytes_equal(uint64_t x, unsigned char c)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t d = x ^ (ones * c);
    return (d - ones) & ~d & highs;
}

/* value[0..n) can be a field value: no CR or LF, which would start a new header line, and no
 * NUL, which would end a C string early. Eight bytes per step, the loads within the value. */
static bool value_ok(const char *value, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, value + i, 8);
        if (bytes_equal(x, '\r') | bytes_equal(x, '\n') | bytes_equal(x, 0))
            return false;
    }
    for (; i < n; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
            return false;
    return true;
}

/* The length of name when it is a valid field name, else 0. */
static size_t name_len(const char *name)
{
    if (!name)
        return 0;
    size_t n = strlen(name);
    return name_ok(name, n) ? n : 0;
}

/* The length of value when it can be a field value, else SIZE_MAX. */
static size_t value_len(const char *value)
{
    if (!value)
        return SIZE_MAX;
    size_t n = strlen(value); /* the C library's vectorised scan */
    return value_ok(value, n) ? n : SIZE_MAX;
}

/* The first MN__RESP_INLINE headers live in the request itself; more move to the arena. */
static int push_header(mn_req *r, mn_str name, mn_str value)
{
    if (r->resp_header_count == r->resp_header_cap) {
        size_t cap = r->resp_header_cap ? r->resp_header_cap * 2 : MN__RESP_INLINE;
        mn_field *grown = mn_arena_alloc(r->arena, cap * sizeof(mn_field));
        if (!grown)
            return MN_ENOMEM;
        memcpy(grown, r->resp_headers, r->resp_header_count * sizeof(mn_field));
        r->resp_headers = grown;
        r->resp_header_cap = cap;
    }
    r->resp_headers[r->resp_header_count++] = (mn_field){name, value};
    return MN_OK;
}

/* Copies a checked name and value into the arena (one allocation). */
static int copy_field(mn_req *r, const char *name, size_t nlen, const char *value, size_t vlen,
                      mn_field *out)
{
    char *n = mn_arena_alloc(r->arena, nlen + vlen + 2);
    if (!n)
        return MN_ENOMEM;
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    char *v = n + nlen + 1;
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    *out = (mn_field){{n, nlen}, {v, vlen}};
    return MN_OK;
}

static int add_checked(mn_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    mn_field f;
    if (copy_field(r, name, nlen, value, vlen, &f) != MN_OK)
        return MN_ENOMEM;
    return push_header(r, f.name, f.value);
}

int mn_resp_add_header(mn_req *r, const char *name, const char *value)
{
    size_t nlen = name_len(name), vlen = value_len(value);
    if (nlen == 0 || vlen == SIZE_MAX)
        return MN_EINVAL;
    return add_checked(r, name, nlen, value, vlen);
}

/* Names are usually set in the same case: one memcmp, case folding only when it fails. */
static bool same_name(mn_str a, mn_str b)
{
    return a.len == b.len &&
           (a.ptr == b.ptr || memcmp(a.ptr, b.ptr, a.len) == 0 || mn_str_ieq(a, b));
}

static void remove_named(mn_req *r, mn_str name)
{
    size_t n = r->resp_header_count, i = 0;
    while (i < n && !same_name(r->resp_headers[i].name, name))
        i++;
    if (i == n)
        return; /* the usual case for a new name: nothing moves */
    size_t kept = i;
    for (i++; i < n; i++)
        if (!same_name(r->resp_headers[i].name, name))
            r->resp_headers[kept++] = r->resp_headers[i];
    r->resp_header_count = kept;
}

void mn_resp_remove_header(mn_req *r, const char *name)
{
    remove_named(r, mn_str_from(name));
}

/* The Content-Types most responses carry, as static strings: setting one (mn_resp_send does,
 * on every response) costs a compare instead of an arena copy. The length picks the one entry
 * that can match. */
static const char *common_content_type(const char *value, size_t vlen)
{
    const char *c;
    switch (vlen) {
    case 10: c = "text/plain"; break;
    case 16: c = "application/json"; break;
    case 24: c = DEFAULT_CONTENT_TYPE; break;
    case 25: c = "text/plain; charset=utf-8"; break;
    default: return NULL;
    }
    return memcmp(value, c, vlen) == 0 ? c : NULL;
}

/* Sets name to value, both checked, replacing every header of that name. A header that is
 * already there keeps its place, as a key assigned again in Django's header mapping (a dict)
 * does; repeats of it after that place (mn_resp_add_header) go. copy: the strings are the
 * caller's and may not outlive the call. */
static int set_checked(mn_req *r, mn_str n, mn_str v, bool copy)
{
    mn_field f = {n, v};
    if (copy) {
        const char *cv = n.len == 12 && memcmp(n.ptr, "Content-Type", 12) == 0
                             ? common_content_type(v.ptr, v.len)
                             : NULL;
        if (cv)
            f = (mn_field){MN_STR_LIT("Content-Type"), {cv, v.len}};
        else if (copy_field(r, n.ptr, n.len, v.ptr, v.len, &f) != MN_OK)
            return MN_ENOMEM;
    }
    size_t count = r->resp_header_count, i = 0;
    while (i < count && !same_name(r->resp_headers[i].name, n))
        i++;
    if (i == count)
        return push_header(r, f.name, f.value);
    r->resp_headers[i] = f;
    size_t kept = i + 1;
    for (size_t j = i + 1; j < count; j++)
        if (!same_name(r->resp_headers[j].name, n))
            r->resp_headers[kept++] = r->resp_headers[j];
    r->resp_header_count = kept;
    return MN_OK;
}

int mn_resp_set_header(mn_req *r, const char *name, const char *value)
{
    size_t nlen = name_len(name), vlen = value_len(value);
    if (nlen == 0 || vlen == SIZE_MAX)
        return MN_EINVAL;
    return set_checked(r, (mn_str){name, nlen}, (mn_str){value, vlen}, true);
}

int mn_resp_set_header_static(mn_req *r, const char *name, const char *value)
{
    size_t nlen = name_len(name), vlen = value_len(value);
    if (nlen == 0 || vlen == SIZE_MAX)
        return MN_EINVAL;
    return set_checked(r, (mn_str){name, nlen}, (mn_str){value, vlen}, false);
}

int mn_resp_set_header_static_n(mn_req *r, const char *name, size_t nlen, const char *value,
                                size_t vlen)
{
    if (!name || !value || !name_ok(name, nlen) || !value_ok(value, vlen))
        return MN_EINVAL;
    return set_checked(r, (mn_str){name, nlen}, (mn_str){value, vlen}, false);
}

mn_str mn_resp_get_header(const mn_req *r, const char *name)
{
    for (size_t i = 0; i < r->resp_header_count; i++)
        if (mn_str_ieq_cstr(r->resp_headers[i].name, name))
            return r->resp_headers[i].value;
    return (mn_str){NULL, 0};
}

const mn_field *mn_resp_headers(const mn_req *r, size_t *count)
{
    if (count)
        *count = r->resp_header_count;
    return r->resp_headers;
}

int mn_resp_write(mn_req *r, const void *data, size_t len)
{
    return mn_buf_append(&r->resp_body, data, len);
}

int mn_resp_puts(mn_req *r, const char *s)
{
    return mn_buf_puts(&r->resp_body, s);
}

int mn_resp_printf(mn_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mn_buf_vprintf(&r->resp_body, fmt, ap);
    va_end(ap);
    return rc;
}

int mn_resp_set_body(mn_req *r, const void *data, size_t len)
{
    mn_buf_reset(&r->resp_body);
    return mn_buf_append(&r->resp_body, data, len);
}

mn_buf *mn_resp_body(mn_req *r)
{
    return &r->resp_body;
}

int mn_resp_send(mn_req *r, int status, const char *content_type, const char *body)
{
    r->status = status;
    if (content_type) {
        int rc = mn_resp_set_header(r, "Content-Type", content_type);
        if (rc)
            return rc;
    }
    return mn_resp_set_body(r, body ? body : "", body ? strlen(body) : 0);
}

/* ---- Streaming and files. ---- */

int mn_resp_stream_start(mn_req *r)
{
    if (r->streaming)
        return MN_OK;
    r->streaming = true;
    if (!r->conn)
        return MN_OK; /* test client: pieces are collected into the body */
    return mn__conn_stream_start(r);
}

int mn_resp_stream_write(mn_req *r, const void *data, size_t len)
{
    if (!r->streaming) {
        int rc = mn_resp_stream_start(r);
        if (rc)
            return rc;
    }
    if (r->stream_ended)
        return MN_EINVAL;
    if (!r->conn)
        return r->is_head ? MN_OK : mn_buf_append(&r->resp_body, data, len);
    if (len == 0)
        return MN_OK; /* an empty chunk would end the body */
    return mn__conn_stream_write(r, data, len);
}

int mn_resp_stream_end(mn_req *r)
{
    if (!r->streaming) {
        int rc = mn_resp_stream_start(r);
        if (rc)
            return rc;
    }
    if (r->stream_ended)
        return MN_OK;
    r->stream_ended = true;
    if (!r->conn)
        return MN_OK;
    return mn__conn_stream_end(r);
}

bool mn_resp_is_streaming(const mn_req *r)
{
    return r->streaming;
}

static void close_file_fd(void *arg)
{
    mn_req *r = arg;
    if (r->file_fd >= 0)
        close(r->file_fd);
    r->file_fd = -1;
}

int mn_resp_sendfile(mn_req *r, int fd, off_t offset, size_t len)
{
    if (fd < 0 || offset < 0 || r->streaming)
        return MN_EINVAL;
    if (r->file_fd >= 0) {
        close(r->file_fd);
    } else if (mn_arena_defer(r->arena, close_file_fd, r) != MN_OK) {
        close(fd);
        return MN_ENOMEM;
    }
    r->file_fd = fd;
    r->file_offset = offset;
    r->file_len = len;
    mn_buf_reset(&r->resp_body);
    return MN_OK;
}

bool mn_resp_is_file(const mn_req *r)
{
    return r->file_fd >= 0;
}

/* ---- Cookies. ---- */

int mn_resp_set_cookie(mn_req *r, const mn_cookie *cookie)
{
    if (!cookie || !cookie->name)
        return MN_EINVAL;
    const char *same_site = cookie->same_site ? cookie->same_site : "Lax";
    mn__set_cookie c = {
        .name = mn_str_from(cookie->name),
        .value = mn_str_from(cookie->value),
        .max_age = cookie->max_age,
        .expires = -1,
        .path = mn_str_from(cookie->path ? cookie->path : "/"),
        .domain = cookie->domain ? mn_str_from(cookie->domain) : (mn_str){NULL, 0},
        .secure = cookie->force_secure || r->cookie_secure || mn_req_is_secure(r),
        .http_only = !cookie->not_http_only,
        .same_site = *same_site ? mn_str_from(same_site) : (mn_str){NULL, 0},
    };
    /* SameSite=None is ignored by browsers without Secure. */
    if (c.same_site.ptr && mn_str_ieq_cstr(c.same_site, "None"))
        c.secure = true;
    mn_buf value;
    mn_buf_init(&value, r->arena);
    int rc = mn__cookie_format(&value, &c, 0);
    if (rc)
        return rc;
    const char *v = mn_buf_cstr(&value);
    if (!v)
        return MN_ENOMEM;
    return push_header(r, (mn_str)MN_STR_LIT("Set-Cookie"), (mn_str){v, value.len});
}

/* as django.http.HttpResponseBase.delete_cookie */
int mn_resp_delete_cookie(mn_req *r, const char *name, const char *path, const char *domain)
{
    if (!name)
        return MN_EINVAL;
    mn_str n = mn_str_from(name);
    mn__set_cookie c = {
        .name = n,
        .value = {"", 0},
        .max_age = 0,
        .expires = 0,
        .path = mn_str_from(path ? path : "/"),
        .domain = domain ? mn_str_from(domain) : (mn_str){NULL, 0},
        .secure = mn_str_starts_with(n, "__Secure-") || mn_str_starts_with(n, "__Host-"),
    };
    mn_buf value;
    mn_buf_init(&value, r->arena);
    int rc = mn__cookie_format(&value, &c, 0);
    if (rc)
        return rc;
    const char *v = mn_buf_cstr(&value);
    if (!v)
        return MN_ENOMEM;
    return push_header(r, (mn_str)MN_STR_LIT("Set-Cookie"), (mn_str){v, value.len});
}

/* ---- Serialisation. ---- */

static bool status_has_no_body(int status)
{
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

/* Framing headers the server writes itself. */
static bool server_owned(mn_str name)
{
    switch (name.len) {
    case 4: return mn_str_ieq_cstr(name, "Date");
    case 10: return mn_str_ieq_cstr(name, "Connection");
    case 14: return mn_str_ieq_cstr(name, "Content-Length");
    case 17: return mn_str_ieq_cstr(name, "Transfer-Encoding");
    default: return false;
    }
}

static int put_status_line(mn_buf *out, int status)
{
    if (status < 100 || status > 999)
        status = 500;
    const char *reason = mn_http_reason(status);
    size_t rlen = strlen(reason);
    if (mn_buf_reserve(out, 9 + 4 + rlen + 2) != MN_OK)
        return MN_ENOMEM;
    char *p = out->data + out->len;
    memcpy(p, "HTTP/1.1 ", 9);
    p[9] = (char)('0' + status / 100);
    p[10] = (char)('0' + status / 10 % 10);
    p[11] = (char)('0' + status % 10);
    p[12] = ' ';
    memcpy(p + 13, reason, rlen);
    memcpy(p + 13 + rlen, "\r\n", 2);
    out->len += 15 + rlen;
    return MN_OK;
}

static int put_header(mn_buf *out, mn_str name, mn_str value)
{
    if (mn_buf_reserve(out, name.len + value.len + 4) != MN_OK)
        return MN_ENOMEM;
    char *p = out->data + out->len;
    memcpy(p, name.ptr, name.len);
    p += name.len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value.ptr, value.len);
    p += value.len;
    *p++ = '\r';
    *p++ = '\n';
    out->len = (size_t)(p - out->data);
    return MN_OK;
}

/* Header names and values are mostly 4 to 16 bytes: two overlapping fixed-size copies each
 * compile to a load and a store, where a memcpy of unknown length is a library call. */
static inline char *put_raw(char *p, const char *s, size_t n)
{
    if (n > 16 && n <= 64) { /* the Date line: 16-byte blocks, the last one overlapping */
        char block[16];
        for (size_t i = 0; i + 16 < n; i += 16) {
            memcpy(block, s + i, 16);
            memcpy(p + i, block, 16);
        }
        memcpy(block, s + n - 16, 16);
        memcpy(p + n - 16, block, 16);
    } else if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
    } else if (n < 4) { /* "OK", a short value: a library call would cost more */
        for (size_t i = 0; i < n; i++)
            p[i] = s[i];
    } else {
        memcpy(p, s, n);
    }
    return p + n;
}

static char *put_field(char *p, mn_str name, mn_str value)
{
    p = put_raw(p, name.ptr, name.len);
    *p++ = ':';
    *p++ = ' ';
    p = put_raw(p, value.ptr, value.len);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static int put_head(mn_req *r, mn_buf *out, int64_t body_len, const char *server_name,
                    size_t extra);

int mn__resp_head(mn_req *r, mn_buf *out, int64_t body_len, const char *server_name)
{
    return put_head(r, out, body_len, server_name, 0);
}

int mn__resp_head_body(mn_req *r, mn_buf *out, const char *server_name)
{
    size_t n = r->is_head ? 0 : r->resp_body.len;
    if (put_head(r, out, (int64_t)r->resp_body.len, server_name, n) != MN_OK)
        return MN_ENOMEM;
    if (n) {
        memcpy(out->data + out->len, r->resp_body.data, n);
        out->len += n;
    }
    return MN_OK;
}

/* Runs once per response: the room for everything after the status line (and extra bytes
 * after the head) is reserved at once and the header block is then plain copying. */
static int put_head(mn_req *r, mn_buf *out, int64_t body_len, const char *server_name, size_t extra)
{
    int status = r->status;
    if (status < 100 || status > 999)
        status = 500;
    const char *reason = status == 200 ? "OK" : mn_http_reason(status);
    size_t rlen = status == 200 ? 2 : strlen(reason);
    size_t slen = server_name ? strlen(server_name) : 0;
    mn_str date = mn__date_header();
    size_t need = 15 + rlen + 8 + slen + 2 + date.len;
    for (size_t i = 0; i < r->resp_header_count; i++)
        need += r->resp_headers[i].name.len + r->resp_headers[i].value.len + 4;
    need += 16 + 20 + 2 + 28 + 24 + 2; /* Content-Length or Transfer-Encoding, Connection */
    if (mn_buf_reserve(out, need + extra) != MN_OK)
        return MN_ENOMEM;
    char *p = out->data + out->len;
    if (status == 200) { /* most responses: one fixed copy */
        p = put_raw(p, "HTTP/1.1 200 OK\r\n", 17);
    } else {
        memcpy(p, "HTTP/1.1 ", 9);
        p[9] = (char)('0' + status / 100);
        p[10] = (char)('0' + status / 10 % 10);
        p[11] = (char)('0' + status % 10);
        p[12] = ' ';
        p = put_raw(p + 13, reason, rlen);
        *p++ = '\r';
        *p++ = '\n';
    }
    status = r->status; /* the framing below looks at the status the view set */
    if (slen)
        p = put_field(p, (mn_str)MN_STR_LIT("Server"), (mn_str){server_name, slen});
    p = put_raw(p, date.ptr, date.len);
    for (size_t i = 0; i < r->resp_header_count; i++) {
        mn_field *h = &r->resp_headers[i];
        if (server_owned(h->name)) {
            if (mn_str_ieq_cstr(h->name, "Connection") && mn_str_ieq_cstr(h->value, "close"))
                r->close_after = true;
            continue;
        }
        p = put_field(p, h->name, h->value);
    }
    if (body_len >= 0) {
        if (!status_has_no_body(status)) {
            p = put_raw(p, "Content-Length: ", 16);
            uint64_t v = (uint64_t)body_len;
            size_t n = 1;
            for (uint64_t t = v; t >= 10; t /= 10)
                n++;
            p += n;
            for (char *d = p; d > p - n; v /= 10)
                *--d = (char)('0' + v % 10);
            *p++ = '\r';
            *p++ = '\n';
        }
    } else if (r->stream_chunked) {
        p = put_raw(p, "Transfer-Encoding: chunked\r\n", 28);
    } else {
        r->close_after = true; /* HTTP/1.0 stream: the end of the body is the close */
    }
    if (r->close_after)
        p = put_raw(p, "Connection: close\r\n", 19);
    else if (r->head.minor == 0)
        p = put_raw(p, "Connection: keep-alive\r\n", 24);
    p = put_raw(p, "\r\n", 2);
    out->len = (size_t)(p - out->data);
    return MN_OK;
}

void mn__resp_finish(mn_req *r)
{
    if (r->is_head || status_has_no_body(r->status)) {
        /* HEAD keeps the length of the body it would have had (Content-Length). */
        if (!r->is_head)
            mn_buf_reset(&r->resp_body);
    }
}

int mn__resp_error(mn_buf *out, int status, const char *message, const char *server_name)
{
    int rc = put_status_line(out, status);
    if (server_name && *server_name)
        rc |= put_header(out, (mn_str)MN_STR_LIT("Server"), mn_str_from(server_name));
    mn_str date = mn__date_header();
    rc |= mn_buf_append(out, date.ptr, date.len);
    const char *reason = mn_http_reason(status);
    size_t len = strlen(reason) + (message && *message ? 2 + strlen(message) : 0) + 1;
    rc |= mn_buf_printf(out,
                        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%s%s%s\n",
                        len, reason, message && *message ? ": " : "",
                        message && *message ? message : "");
    return rc ? MN_ENOMEM : MN_OK;
}

int mn_resp_serialize(mn_req *r, mn_buf *out)
{
    if (r->file_fd >= 0) {
        int rc = mn__resp_head(r, out, (int64_t)r->file_len, NULL);
        if (rc || r->is_head)
            return rc;
        char *chunk = mn_arena_alloc(r->arena, 16384); /* not on a coroutine's stack */
        if (!chunk)
            return MN_ENOMEM;
        size_t left = r->file_len;
        off_t off = r->file_offset;
        while (left > 0) {
            ssize_t n = pread(r->file_fd, chunk, left < 16384 ? left : 16384, off);
            if (n <= 0)
                return MN_EIO;
            if (mn_buf_append(out, chunk, (size_t)n) != MN_OK)
                return MN_ENOMEM;
            left -= (size_t)n;
            off += n;
        }
        return MN_OK;
    }
    /* Without a socket a stream has been collected whole: send it with a length. */
    return mn__resp_head_body(r, out, NULL);
}

int mn__resp_reset(mn_req *r)
{
    r->status = 200;
    r->resp_headers = r->resp_inline;
    r->resp_header_count = 0;
    r->resp_header_cap = MN__RESP_INLINE;
    mn_buf_init(&r->resp_body, r->arena);
    r->file_fd = -1;
    r->streaming = r->stream_ended = r->stream_chunked = r->stream_failed = false;
    r->close_after = false;
    r->bytes_sent = 0;
    /* As HttpResponse: a Content-Type is there from the start (a static string, no copy). */
    return push_header(r, (mn_str)MN_STR_LIT("Content-Type"),
                       (mn_str){DEFAULT_CONTENT_TYPE, sizeof DEFAULT_CONTENT_TYPE - 1});
}
