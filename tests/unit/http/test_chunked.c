/* test_chunked.c — the chunked decoder: in place and into another buffer, split at every
 * position, extensions skipped, trailers checked and dropped, limits and bad framing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

static const char body[] = "5;name=value\r\nhello\r\n"
                           "6\r\n world\r\n"
                           "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                           "0\r\nX-Checksum: 123\r\nX-Other: a b\r\n\r\n"
                           "GET /next HTTP/1.1\r\n";
static const char decoded[] = "hello worldabcdefghijklmnopqrstuvwxyz";

static size_t body_end(void)
{
    return (size_t)(strstr(body, "GET /next") - body);
}

Test(chunked, decodes_in_place_and_stops_at_the_next_request)
{
    char buf[sizeof body];
    memcpy(buf, body, sizeof body);
    mn__chunked c;
    mn__chunked_init(&c, 0);
    size_t out_len, used;
    cr_assert_eq(mn__chunked_decode(&c, buf, sizeof body - 1, buf, &out_len, &used), MN__HTTP_DONE);
    cr_expect_eq(used, body_end());
    cr_expect_eq(out_len, strlen(decoded));
    cr_expect_arr_eq(buf, decoded, out_len);
    cr_expect_eq(c.total, strlen(decoded));
    cr_expect_arr_eq(buf + used, "GET /next", 9, "bytes after the body are left alone");
}

Test(chunked, every_split_point_gives_the_same_body)
{
    size_t n = body_end();
    for (size_t split = 0; split < n; split++) {
        char in[sizeof body], out[sizeof body];
        memcpy(in, body, sizeof body);
        mn__chunked c;
        mn__chunked_init(&c, 1000);
        size_t o1, u1, o2 = 0, u2 = 0;
        mn__http_result r = mn__chunked_decode(&c, in, split, out, &o1, &u1);
        cr_assert_eq(u1, split);
        cr_assert_eq(r, MN__HTTP_NEED_MORE, "split %zu", split);
        r = mn__chunked_decode(&c, in + split, n - split, out + o1, &o2, &u2);
        cr_assert_eq(r, MN__HTTP_DONE, "split %zu", split);
        cr_assert_eq(o1 + o2, strlen(decoded));
        cr_assert_arr_eq(out, decoded, o1 + o2, "split %zu", split);
    }
}

Test(chunked, one_byte_at_a_time)
{
    size_t n = body_end();
    char out[sizeof body];
    size_t total = 0;
    mn__chunked c;
    mn__chunked_init(&c, 0);
    mn__http_result r = MN__HTTP_NEED_MORE;
    for (size_t i = 0; i < n; i++) {
        size_t o, u;
        r = mn__chunked_decode(&c, body + i, 1, out + total, &o, &u);
        total += o;
        cr_assert_eq(u, 1);
        if (i + 1 < n)
            cr_assert_eq(r, MN__HTTP_NEED_MORE);
    }
    cr_expect_eq(r, MN__HTTP_DONE);
    cr_expect_arr_eq(out, decoded, total);
}

static mn__chunked run(const char *in, uint64_t max)
{
    mn__chunked c;
    mn__chunked_init(&c, max);
    size_t n = strlen(in);
    char *buf = malloc(n + 1);
    memcpy(buf, in, n);
    size_t o, u;
    mn__chunked_decode(&c, buf, n, buf, &o, &u);
    free(buf);
    return c;
}

Test(chunked, bad_framing_is_400)
{
    const char *bad[] = {
        "g\r\n",                    /* not hex */
        "\r\n",                     /* empty size */
        " 5\r\nhello\r\n0\r\n\r\n", /* leading space */
        "5\nhello\r\n0\r\n\r\n",    /* bare LF after the size */
        "5\r\nhello\n0\r\n\r\n",    /* bare LF after the data */
        "5\r\nhelloX\r\n",          /* data longer than its size */
        "10000000000000000\r\n",    /* 17 hex digits: overflow */
        "0\r\nbad name: x\r\n\r\n",
        "0\r\nX: \x01\r\n\r\n",
        "0\r\nX: y\r\r\n",
        "0\r\n\r\r",
        "5;\x7f\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn__chunked c = run(bad[i], 0);
        cr_expect_eq(c.error.status, 400, "case %zu: got %d", i, c.error.status);
        cr_expect(c.error.status == 0 || c.error.close);
    }
    mn__chunked ok = run("5 ;x\r\nhello\r\n0\r\n\r\n", 0);
    cr_expect_eq(ok.error.status, 0, "whitespace before an extension is allowed (BWS)");
}

Test(chunked, leading_zeros_are_not_an_overflow)
{
    mn__chunked c = run("00000000000000000000005\r\nhello\r\n0\r\n\r\n", 0);
    cr_expect_eq(c.error.status, 0, "%s", c.error.message);
    cr_expect_eq(c.total, 5);
}

Test(chunked, body_limit_is_413_before_the_data)
{
    mn__chunked c = run("a\r\n", 9);
    cr_expect_eq(c.error.status, 413);
    c = run("5\r\nhello\r\n5\r\n", 9);
    cr_expect_eq(c.error.status, 413, "the limit is on the total");
    c = run("5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n", 9);
    cr_expect_eq(c.error.status, 0);
    c = run("FFFFFFFFFFFFFFFF\r\n", 1000);
    cr_expect_eq(c.error.status, 413);
}

Test(chunked, huge_trailers_are_431)
{
    size_t n = 20000;
    char *in = malloc(n + 16);
    memcpy(in, "0\r\nX: ", 6);
    memset(in + 6, 'a', n);
    in[n + 6] = '\0';
    mn__chunked c = run(in, 0);
    cr_expect_eq(c.error.status, 431);
    free(in);
}

Test(chunked, long_extensions_are_400)
{
    size_t n = 5000;
    char *in = malloc(n + 16);
    memcpy(in, "1;", 2);
    memset(in + 2, 'e', n);
    in[n + 2] = '\0';
    mn__chunked c = run(in, 0);
    cr_expect_eq(c.error.status, 400);
    free(in);
}
