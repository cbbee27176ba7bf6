/* fuzz_http_request.c — the request head parser (and, for chunked requests, the body
 * decoder) on arbitrary bytes. Besides never crashing: every slice lies inside the input,
 * and feeding the same bytes in two pieces, split anywhere, gives the same answer as one
 * piece (the server sees bytes in whatever pieces the network makes). */
#include "http/parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

typedef struct result {
    mn__http_result r;
    int status;
    size_t head_len, headers;
    int64_t content_length;
    bool chunked, keep_alive;
    size_t path_off, path_len;
} result;

static mn_field fields[128];

static void inside(mn_str s, const char *buf, size_t len)
{
    if (s.ptr && s.len)
        CHECK(s.ptr >= buf && s.ptr + s.len <= buf + len);
}

static result parse(const char *buf, size_t len, size_t split, const mn_http_limits *lim)
{
    mn__http_head h;
    mn__http_head_init(&h, fields, 128);
    mn__http_result r = MN__HTTP_NEED_MORE;
    if (split && split < len)
        r = mn__http_parse_head(&h, buf, split, lim);
    if (r == MN__HTTP_NEED_MORE)
        r = mn__http_parse_head(&h, buf, len, lim);
    result out = {.r = r};
    if (r == MN__HTTP_ERROR) {
        CHECK(h.error.status >= 400 && h.error.status <= 505 && h.error.message);
        out.status = h.error.status;
        return out;
    }
    if (r != MN__HTTP_DONE)
        return out;
    CHECK(h.head_len <= len);
    inside(h.method, buf, h.head_len);
    inside(h.target, buf, h.head_len);
    inside(h.query, buf, h.head_len);
    for (size_t i = 0; i < h.header_count; i++) {
        CHECK(h.headers[i].name.len > 0);
        inside(h.headers[i].name, buf, h.head_len);
        inside(h.headers[i].value, buf, h.head_len);
    }
    CHECK(!(h.chunked && h.content_length >= 0));
    out.head_len = h.head_len;
    out.headers = h.header_count;
    out.content_length = h.content_length;
    out.chunked = h.chunked;
    out.keep_alive = h.keep_alive;
    out.path_len = h.path.len;
    out.path_off = h.path.ptr >= buf && h.path.ptr < buf + len ? (size_t)(h.path.ptr - buf) : 0;
    return out;
}

static void same(result a, result b)
{
    CHECK(a.r == b.r && a.status == b.status && a.head_len == b.head_len &&
          a.headers == b.headers && a.content_length == b.content_length &&
          a.chunked == b.chunked && a.keep_alive == b.keep_alive && a.path_len == b.path_len &&
          a.path_off == b.path_off);
}

static void body(const char *buf, size_t len)
{
    char *copy = malloc(len + 1);
    char *out = malloc(len + 1);
    memcpy(copy, buf, len);
    mn__chunked c1, c2;
    mn__chunked_init(&c1, 1 << 20);
    mn__chunked_init(&c2, 1 << 20);
    size_t o1, u1;
    mn__http_result r1 = mn__chunked_decode(&c1, copy, len, copy, &o1, &u1);
    CHECK(o1 <= u1 && u1 <= len);
    size_t half = len / 2, oa, ua, ob = 0, ub = 0;
    mn__http_result r2 = mn__chunked_decode(&c2, buf, half, out, &oa, &ua);
    if (r2 == MN__HTTP_NEED_MORE)
        r2 = mn__chunked_decode(&c2, buf + half, len - half, out + oa, &ob, &ub);
    CHECK(r1 == r2);
    if (r1 != MN__HTTP_ERROR) {
        CHECK(oa + ob == o1 && memcmp(out, copy, o1) == 0);
        CHECK(ua + ub == u1);
    } else {
        CHECK(c1.error.status == c2.error.status);
    }
    free(copy);
    free(out);
}

/* What the server does next with a parsed head: path, query and cookies. */
static void request_parts(const char *buf, size_t len)
{
    mn__http_head h;
    mn__http_head_init(&h, fields, 128);
    CHECK(mn__http_parse_head(&h, buf, len, NULL) == MN__HTTP_DONE);
    mn_arena *a = mn_arena_new(0);
    char *path = mn_arena_alloc(a, h.path.len + 1);
    size_t n;
    if (h.path.len && h.path.ptr[0] == '/' &&
        mn__url_path_normalize(h.path.ptr, h.path.len, path, &n) == MN_OK)
        CHECK(n >= 1 && n <= h.path.len && path[0] == '/');
    mn__field_list l;
    mn__field_list_init(&l, a);
    int rc = mn__query_parse(h.query.ptr, h.query.len, 1000, &l);
    CHECK(rc == MN_OK || rc == MN_ETOOBIG);
    size_t pos = 0;
    const mn_field *f;
    while ((f = mn__http_head_next(&h, "cookie", &pos)) != NULL)
        CHECK(mn__cookie_parse(f->value.ptr, f->value.len, &l) == MN_OK);
    mn_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    /* small limits too, so that the limit paths are reached by small inputs */
    mn_http_limits small = {.max_target = 16, .max_header_bytes = 64, .max_headers = 4};
    result whole = parse(buf, size, 0, NULL);
    result whole_small = parse(buf, size, 0, &small);
    size_t step = size > 256 ? size / 64 : 1;
    for (size_t split = 1; split < size; split += step) {
        same(whole, parse(buf, size, split, NULL));
        same(whole_small, parse(buf, size, split, &small));
    }
    if (whole.r == MN__HTTP_DONE && whole.chunked)
        body(buf + whole.head_len, size - whole.head_len);
    if (whole.r == MN__HTTP_DONE)
        request_parts(buf, size);
    return 0;
}
