/* test_parser.c — the request head parser through its internal API: what the server reads
 * from a parsed head (slices, flags, framing), limits, and incremental feeding. The table of
 * malformed requests is in test_parser_table.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

static mn_field fields[128];
static mn__http_head h;

static mn__http_result parse(const char *req)
{
    mn__http_head_init(&h, fields, 128);
    return mn__http_parse_head(&h, req, strlen(req), NULL);
}

static bool eq(mn_str s, const char *c)
{
    return s.ptr && mn_str_eq_cstr(s, c);
}

Test(parser, simple_get_gives_slices_into_the_buffer)
{
    const char *req = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    cr_assert_eq(parse(req), MN__HTTP_DONE);
    cr_expect_eq(h.head_len, strlen(req));
    cr_expect(eq(h.method, "GET"));
    cr_expect_eq(h.method_id, MN__HTTP_GET);
    cr_expect(eq(h.target, "/a/b?x=1&y=2"));
    cr_expect(eq(h.path, "/a/b"));
    cr_expect(eq(h.query, "x=1&y=2"));
    cr_expect(eq(h.host, "example.com"));
    cr_expect_eq(h.minor, 1);
    cr_expect(h.keep_alive);
    cr_expect_eq(h.content_length, -1);
    cr_expect_not(h.chunked);
    cr_expect_eq(h.header_count, 2);
    cr_expect(h.method.ptr == req, "zero-copy: the method points into the buffer");
}

Test(parser, query_absent_vs_empty)
{
    cr_assert_eq(parse("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"), MN__HTTP_DONE);
    cr_expect_null(h.query.ptr);
    cr_assert_eq(parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n"), MN__HTTP_DONE);
    cr_expect_not_null(h.query.ptr);
    cr_expect_eq(h.query.len, 0);
}

Test(parser, repeated_headers_are_kept_in_order_and_found_case_insensitively)
{
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-b: 2\r\nX-a:  3 \r\n\r\n"),
                 MN__HTTP_DONE);
    cr_assert_eq(h.header_count, 4);
    const mn_field *f = mn__http_head_get(&h, "x-a");
    cr_assert_not_null(f);
    cr_expect(eq(f->value, "1"));
    size_t pos = 0;
    cr_assert_not_null(f = mn__http_head_next(&h, "X-A", &pos));
    cr_assert_not_null(f = mn__http_head_next(&h, "X-A", &pos));
    cr_expect(eq(f->value, "3"), "OWS around a value is not part of it");
    cr_expect(eq(f->name, "X-a"), "names are kept as sent");
    cr_expect_null(mn__http_head_next(&h, "X-A", &pos));
    cr_expect_null(mn__http_head_get(&h, "missing"));
}

Test(parser, method_enum_and_other_methods)
{
    static const struct {
        const char *m;
        mn__http_method id;
    } cases[] = {{"GET", MN__HTTP_GET},         {"HEAD", MN__HTTP_HEAD},
                 {"POST", MN__HTTP_POST},       {"PUT", MN__HTTP_PUT},
                 {"DELETE", MN__HTTP_DELETE},   {"PATCH", MN__HTTP_PATCH},
                 {"OPTIONS", MN__HTTP_OPTIONS}, {"TRACE", MN__HTTP_TRACE},
                 {"get", MN__HTTP_OTHER},       {"PROPFIND", MN__HTTP_OTHER}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "%s / HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].m);
        cr_assert_eq(parse(req), MN__HTTP_DONE, "%s", cases[i].m);
        cr_expect_eq(h.method_id, cases[i].id, "%s", cases[i].m);
        cr_expect(eq(h.method, cases[i].m));
    }
}

Test(parser, keep_alive_follows_version_and_connection_tokens)
{
    static const struct {
        const char *req;
        bool keep;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, Close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(parse(cases[i].req), MN__HTTP_DONE, "%zu", i);
        cr_expect_eq(h.keep_alive, cases[i].keep, "case %zu", i);
    }
}

Test(parser, framing_flags)
{
    cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n"), MN__HTTP_DONE);
    cr_expect_eq(h.content_length, 42);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
                 MN__HTTP_DONE);
    cr_expect(h.chunked);
    cr_expect_eq(h.content_length, -1);
    cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                       "Content-Length: 5\r\n\r\n"),
                 MN__HTTP_DONE);
    cr_expect(h.expect_continue);
    cr_assert_eq(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), MN__HTTP_DONE);
    cr_expect_not(h.expect_continue, "HTTP/1.0 clients don't wait for 100");
}

Test(parser, upgrade_needs_both_headers)
{
    cr_assert_eq(parse("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                       "Upgrade: websocket\r\n\r\n"),
                 MN__HTTP_DONE);
    cr_expect(h.upgrade);
    cr_expect(eq(h.upgrade_proto, "websocket"));
    cr_assert_eq(parse("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"), MN__HTTP_DONE);
    cr_expect_not(h.upgrade);
}

Test(parser, absolute_form_authority_replaces_host)
{
    cr_assert_eq(parse("GET HTTP://Example.com:8080/p/q?z=1 HTTP/1.1\r\nHost: other\r\n\r\n"),
                 MN__HTTP_DONE);
    cr_expect(eq(h.host, "Example.com:8080"));
    cr_expect(eq(h.path, "/p/q"));
    cr_expect(eq(h.query, "z=1"));
    cr_assert_eq(parse("GET https://e.org?x HTTP/1.1\r\nHost: e.org\r\n\r\n"), MN__HTTP_DONE);
    cr_expect(eq(h.path, "/"));
    cr_expect(eq(h.query, "x"));
}

Test(parser, asterisk_and_authority_forms)
{
    cr_assert_eq(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), MN__HTTP_DONE);
    cr_expect(eq(h.path, "*"));
    cr_assert_eq(parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
                 MN__HTTP_DONE);
    cr_expect(eq(h.host, "example.com:443"));
    cr_expect_eq(h.path.len, 0);
}

Test(parser, leading_empty_lines_are_consumed)
{
    const char *req = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    cr_assert_eq(parse(req), MN__HTTP_DONE);
    cr_expect_eq(h.head_len, strlen(req));
    cr_expect(eq(h.method, "GET"));
}

Test(parser, pipelined_requests_parse_one_after_the_other)
{
    const char *burst = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                        "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                        "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t off = 0, len = strlen(burst);
    const char *paths[] = {"/1", "/2", "/3"};
    for (int i = 0; i < 3; i++) {
        mn__http_head_init(&h, fields, 128);
        cr_assert_eq(mn__http_parse_head(&h, burst + off, len - off, NULL), MN__HTTP_DONE);
        cr_expect(eq(h.path, paths[i]));
        off += h.head_len + (h.content_length > 0 ? (size_t)h.content_length : 0);
    }
    cr_expect_eq(off, len);
}

Test(parser, incremental_feeding_survives_a_moving_buffer)
{
    const char *req = "GET /moving HTTP/1.1\r\nHost: h\r\nX-Long: abcdefghijklmnop\r\n\r\n";
    size_t len = strlen(req);
    mn__http_head_init(&h, fields, 128);
    mn__http_result r = MN__HTTP_NEED_MORE;
    char *copy = NULL;
    for (size_t n = 1; n <= len && r == MN__HTTP_NEED_MORE; n++) {
        free(copy);
        copy = malloc(n); /* a new address each time, as a grown buffer would have */
        memcpy(copy, req, n);
        r = mn__http_parse_head(&h, copy, n, NULL);
        if (n < len)
            cr_assert_eq(r, MN__HTTP_NEED_MORE, "at %zu", n);
    }
    cr_assert_eq(r, MN__HTTP_DONE);
    cr_expect(eq(h.path, "/moving"));
    cr_expect(eq(mn__http_head_get(&h, "x-long")->value, "abcdefghijklmnop"));
    free(copy);
}

/* What a parse decided, for comparing two ways of feeding the same bytes. */
typedef struct outcome {
    mn__http_result r;
    int status;
    size_t head_len, headers;
    int64_t content_length;
    bool chunked, keep_alive, expect_continue;
    char path[64];
} outcome;

static outcome outcome_of(mn__http_result r)
{
    outcome o = {.r = r, .status = r == MN__HTTP_ERROR ? h.error.status : 0};
    if (r != MN__HTTP_DONE)
        return o;
    o.head_len = h.head_len;
    o.headers = h.header_count;
    o.content_length = h.content_length;
    o.chunked = h.chunked;
    o.keep_alive = h.keep_alive;
    o.expect_continue = h.expect_continue;
    snprintf(o.path, sizeof o.path, "%.*s", (int)h.path.len, h.path.ptr);
    return o;
}

Test(parser, a_head_in_one_read_and_in_two_get_the_same_answer)
{
    /* One read takes the single pass, a split feed the two-phase path: they must agree,
     * errors and limits included. */
    static const char *const heads[] = {
        "GET /json HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
        "POST /a?b=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhi",
        "GET / HTTP/1.0\r\nConnection: Keep-Alive, Upgrade\r\nX:\t tab\tinside \r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "\r\nGET /after-empty-line HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nBad Name: 1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n",
        "GET / HTTP/1.1\r\n Folded: 1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /0123456789abc HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nA: 0123456789012345678901234567890\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    };
    static const mn_http_limits tight = {
        .max_target = 12, .max_header_bytes = 60, .max_headers = 4};
    size_t done = 0;
    for (size_t k = 0; k < 2 * sizeof heads / sizeof *heads; k++) {
        size_t i = k / 2;
        const mn_http_limits *lim = k % 2 ? &tight : NULL;
        const char *req = heads[i];
        size_t len = strlen(req);
        mn__http_head_init(&h, fields, 128);
        outcome whole = outcome_of(mn__http_parse_head(&h, req, len, lim));
        done += whole.r == MN__HTTP_DONE;
        cr_assert_neq(whole.r, MN__HTTP_NEED_MORE, "head %zu", i);
        for (size_t split = 1; split < len; split++) {
            mn__http_head_init(&h, fields, 128);
            mn__http_result r = mn__http_parse_head(&h, req, split, lim);
            if (r == MN__HTTP_NEED_MORE)
                r = mn__http_parse_head(&h, req, len, lim);
            outcome part = outcome_of(r);
            cr_assert(part.r == whole.r && part.status == whole.status &&
                          part.head_len == whole.head_len && part.headers == whole.headers &&
                          part.content_length == whole.content_length &&
                          part.chunked == whole.chunked && part.keep_alive == whole.keep_alive &&
                          part.expect_continue == whole.expect_continue &&
                          strcmp(part.path, whole.path) == 0,
                      "head %zu (%s limits) split at %zu: %d/%d vs %d/%d", i,
                      lim ? "tight" : "default", split, part.r, part.status, whole.r, whole.status);
        }
    }
    cr_expect_geq(done, 6, "the successes are compared too");
}

Test(parser, limits_are_settable)
{
    mn_http_limits lim = {.max_target = 10, .max_header_bytes = 40, .max_headers = 2};
    mn__http_head_init(&h, fields, 128);
    const char *r1 = "GET /0123456789 HTTP/1.1\r\nHost: h\r\n\r\n";
    cr_assert_eq(mn__http_parse_head(&h, r1, strlen(r1), &lim), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 414);
    mn__http_head_init(&h, fields, 128);
    const char *r2 = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    cr_assert_eq(mn__http_parse_head(&h, r2, strlen(r2), &lim), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 431);
    mn__http_head_init(&h, fields, 128);
    const char *r3 = "GET / HTTP/1.1\r\nHost: h\r\nA: 0123456789012345678901234567890\r\n\r\n";
    cr_assert_eq(mn__http_parse_head(&h, r3, strlen(r3), &lim), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 431);
    mn__http_head_init(&h, fields, 2); /* the storage is a limit too */
    cr_assert_eq(mn__http_parse_head(&h, r2, strlen(r2), NULL), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 431);
}

Test(parser, oversized_head_is_refused_before_it_ends)
{
    /* a client that never sends the empty line is stopped at the limit, not buffered */
    static char big[20000];
    memcpy(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ", 29);
    memset(big + 29, 'a', sizeof big - 29);
    mn__http_head_init(&h, fields, 128);
    cr_assert_eq(mn__http_parse_head(&h, big, sizeof big, NULL), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 431);
    cr_expect(h.error.close);
}

Test(parser, errors_carry_a_message)
{
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 400);
    cr_expect(h.error.close);
    cr_expect(strstr(h.error.message, "colon"), "%s", h.error.message);
}

Test(parser, byte_class_table_matches_the_rfc_sets)
{
    const char *tchar = "!#$%&'*+-.^_`|~";
    const char *host = "-._~!$&'()*+,;=:[]%";
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        unsigned char k = mn__http_char_class[c];
        cr_expect_eq(!!(k & MN__HTTP_C_TCHAR), alnum || (c && strchr(tchar, c)), "tchar %#x", c);
        cr_expect_eq(!!(k & MN__HTTP_C_HOST), alnum || (c && strchr(host, c)), "host %#x", c);
        cr_expect_eq(!!(k & MN__HTTP_C_TARGET), c > 0x20 && c != 0x7f, "target %#x", c);
        cr_expect_eq(!!(k & MN__HTTP_C_FIELD), c == '\t' || (c >= 0x20 && c != 0x7f), "field %#x",
                     c);
    }
}

Test(parser, reuse_without_init_is_an_error_not_an_overread)
{
    const char *req = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    cr_assert_eq(parse(req), MN__HTTP_DONE);
    cr_expect_eq(mn__http_parse_head(&h, req, 5, NULL), MN__HTTP_ERROR);
    cr_expect_eq(h.error.status, 500);
}

/* The scans test 16 or 8 bytes at a time: every byte value, at every place of a name, a value
 * and a target longer than two vectors, must get the answer the RFC 9110 grammar gives, both
 * in one read (single pass) and when the last byte comes late (line-end search, then
 * validation). */
static bool is_tchar(int b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           (b && strchr("!#$%&'*+-.^_`|~", b));
}

static mn__http_result parse_both_ways(const char *req, size_t len)
{
    mn__http_head_init(&h, fields, 128);
    mn__http_result whole = mn__http_parse_head(&h, req, len, NULL);
    mn__http_head_init(&h, fields, 128);
    mn__http_result first = mn__http_parse_head(&h, req, len - 1, NULL);
    mn__http_result late =
        first == MN__HTTP_NEED_MORE ? mn__http_parse_head(&h, req, len, NULL) : first;
    /* asserts only on a failure: 40,000 passing asserts cost half a minute under ctest's
     * --full-stats */
    if (whole != late)
        cr_assert_fail("the answer depends on the split: %.*s", (int)len, req);
    return whole;
}

static void check_byte_everywhere(const char *before, const char *after, bool (*valid)(int b),
                                  const char *what)
{
    char req[256];
    enum { RUN = 41 }; /* two vectors and a tail */
    size_t blen = strlen(before), alen = strlen(after);
    for (int b = 0; b < 256; b++) {
        for (size_t at = 0; at < RUN; at++) {
            memcpy(req, before, blen);
            memset(req + blen, 'a', RUN);
            req[blen + at] = (char)b;
            memcpy(req + blen + RUN, after, alen);
            mn__http_result res = parse_both_ways(req, blen + RUN + alen);
            if (res != (valid(b) ? MN__HTTP_DONE : MN__HTTP_ERROR))
                cr_assert_fail("%s: byte 0x%02x at %zu gets %d", what, b, at, (int)res);
        }
    }
}

static bool method_byte_ok(int b)
{
    return is_tchar(b);
}

/* ':' ends the name early and leaves a valid value: the header is then fine */
static bool name_byte_ok(int b)
{
    return is_tchar(b) || b == ':';
}

static bool value_byte_ok(int b)
{
    return b == '\t' || b == ' ' || (b >= 0x21 && b != 0x7f);
}

static bool target_byte_ok(int b)
{
    return b >= 0x21 && b != 0x7f && b != '#';
}

Test(parser, every_byte_at_every_place_of_a_field_name)
{
    check_byte_everywhere("GET / HTTP/1.1\r\nHost: h\r\nX", ": 1\r\n\r\n", name_byte_ok,
                          "field name");
}

Test(parser, every_byte_at_every_place_of_a_field_value)
{
    check_byte_everywhere("GET / HTTP/1.1\r\nHost: h\r\nX-Value: v", "v\r\n\r\n", value_byte_ok,
                          "field value");
}

Test(parser, every_byte_at_every_place_of_a_target)
{
    check_byte_everywhere("GET /", " HTTP/1.1\r\nHost: h\r\n\r\n", target_byte_ok, "target");
}

Test(parser, every_byte_at_every_place_of_a_method)
{
    check_byte_everywhere("", " / HTTP/1.1\r\nHost: h\r\n\r\n", method_byte_ok, "method");
}
