/* test_parser_table.c — runs tests/data/malformed_requests.txt (the table the server's
 * socket test also uses) against the head parser and the chunked decoder, once with the
 * whole request in one piece and once fed a byte at a time: the answer must be the same. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

enum { MAX_BODY = 2621440 };

typedef struct outcome {
    int status; /* 0: accepted */
    bool close;
    const char *message;
} outcome;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escaped request text of a table line (format: see the table's header). */
static void unescape(const char *s, size_t n, mn_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            mn_buf_putc(out, s[i]);
            continue;
        }
        cr_assert(i + 1 < n, "dangling backslash");
        char e = s[++i];
        switch (e) {
        case 'r': mn_buf_putc(out, '\r'); break;
        case 'n': mn_buf_putc(out, '\n'); break;
        case 't': mn_buf_putc(out, '\t'); break;
        case '0': mn_buf_putc(out, '\0'); break;
        case 's': mn_buf_putc(out, ' '); break;
        case '\\': mn_buf_putc(out, '\\'); break;
        case 'x':
            cr_assert(i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0);
            mn_buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
            break;
        case 'R': {
            char *end;
            cr_assert(s[i + 1] == '{');
            long count = strtol(s + i + 2, &end, 10);
            cr_assert(end[0] == '}' && end[1] == '{');
            const char *text = end + 2;
            const char *close = memchr(text, '}', n - (size_t)(text - s));
            cr_assert(close);
            mn_buf inner;
            mn_buf_init(&inner, NULL);
            unescape(text, (size_t)(close - text), &inner);
            for (long k = 0; k < count; k++)
                mn_buf_append(out, inner.data, inner.len);
            mn_buf_free(&inner);
            i = (size_t)(close - s);
            break;
        }
        default: cr_assert_fail("unknown escape \\%c", e);
        }
    }
}

/* Runs one request through the parsers, feeding `step` bytes more at each call (0: all). */
static outcome run(const char *req, size_t len, size_t step)
{
    mn_field fields[128];
    mn__http_head h;
    mn__http_head_init(&h, fields, 128);
    mn__http_result r = MN__HTTP_NEED_MORE;
    size_t avail = step ? 0 : len;
    for (;;) {
        if (step)
            avail = avail + step > len ? len : avail + step;
        r = mn__http_parse_head(&h, req, avail, NULL);
        if (r != MN__HTTP_NEED_MORE || avail == len)
            break;
    }
    if (r == MN__HTTP_ERROR)
        return (outcome){h.error.status, h.error.close, h.error.message};
    if (r == MN__HTTP_NEED_MORE)
        return (outcome){-1, false, "head incomplete"};
    if (h.content_length > MAX_BODY)
        return (outcome){413, true, "body over the limit"};
    if (h.chunked) {
        mn__chunked c;
        mn__chunked_init(&c, MAX_BODY);
        size_t pos = h.head_len;
        char *copy = malloc(len - pos + 1);
        memcpy(copy, req + pos, len - pos);
        size_t n = len - pos, i = 0;
        mn__http_result cr = MN__HTTP_NEED_MORE;
        while (i < n && cr == MN__HTTP_NEED_MORE) {
            size_t piece = step ? (n - i < step ? n - i : step) : n - i;
            size_t out_len, used;
            cr = mn__chunked_decode(&c, copy + i, piece, copy + i, &out_len, &used);
            i += used;
        }
        free(copy);
        if (cr == MN__HTTP_ERROR)
            return (outcome){c.error.status, c.error.close, c.error.message};
        if (cr == MN__HTTP_NEED_MORE && c.total < MAX_BODY)
            return (outcome){-1, false, "chunked body incomplete"};
    }
    return (outcome){0, !h.keep_alive, "ok"};
}

Test(parser_table, every_row_gets_its_status_whole_and_byte_by_byte)
{
    const char *src = getenv("MN_SOURCE_DIR");
    cr_assert(src, "MN_SOURCE_DIR is set by CTest");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/malformed_requests.txt", src);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    char line[65536];
    int rows = 0, errors_rows = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        char expect[8], conn[8];
        int off = 0;
        /* exactly one space after each column: the request may start with a space */
        cr_assert(sscanf(line, "%7s %7s%n", expect, conn, &off) == 2 && line[off] == ' ', "line %d",
                  lineno);
        off++;
        int want = strcmp(expect, "ok") == 0 ? 0 : atoi(expect);
        bool want_close = strcmp(conn, "close") == 0;
        cr_assert(want_close || strcmp(conn, "keep") == 0, "line %d: keep or close", lineno);
        mn_buf req;
        mn_buf_init(&req, NULL);
        unescape(line + off, n - (size_t)off, &req);
        outcome whole = run(req.data, req.len, 0);
        cr_expect(whole.status == want && whole.close == want_close,
                  "line %d: want %s %s, got %d %s (%s)", lineno, expect, conn, whole.status,
                  whole.close ? "close" : "keep", whole.message);
        if (req.len < 4096) {
            outcome bytewise = run(req.data, req.len, 1);
            cr_expect(bytewise.status == whole.status && bytewise.close == whole.close,
                      "line %d: byte by byte gives %d (%s), whole gives %d", lineno,
                      bytewise.status, bytewise.message, whole.status);
        }
        mn_buf_free(&req);
        rows++;
        errors_rows += want != 0;
    }
    fclose(f);
    cr_expect(errors_rows >= 40, "the issue asks for at least 40 malformed requests (%d)",
              errors_rows);
    cr_log_info("%d rows", rows);
}
