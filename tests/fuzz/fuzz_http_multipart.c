/* fuzz_http_multipart.c — the streaming multipart parser on arbitrary bodies with the
 * boundary "fz": fed whole and in pieces of a size taken from the first byte, it must report
 * the same verdict and, when it succeeds, the same parts and data. */
#include "http/multipart.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void put(mn_buf *log, mn_str s)
{
    mn_buf_putc(log, s.ptr ? '+' : '-');
    if (s.ptr)
        mn_buf_put_str(log, s);
}

static int on_begin(void *arg, const mn__multipart_part *p)
{
    mn_buf *log = arg;
    mn_buf_putc(log, '[');
    put(log, p->name);
    put(log, p->filename);
    put(log, p->content_type);
    return mn_buf_putc(log, ']');
}

static int on_data(void *arg, const char *d, size_t n)
{
    CHECK(n > 0);
    return mn_buf_append(arg, d, n);
}

static int on_end(void *arg)
{
    return mn_buf_putc(arg, ';');
}

static int run(mn_arena *a, const char *in, size_t n, size_t step, mn_buf *log)
{
    static const mn__multipart_callbacks cbs = {on_begin, on_data, on_end};
    mn__multipart_limits lim = {
        .max_parts = 20, .max_header_bytes = 256, .max_field_bytes = 1000, .max_file_bytes = 2000};
    mn__multipart *m = mn__multipart_new(a, (mn_str)MN_STR_LIT("fz"), &lim, &cbs, log);
    CHECK(m);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += step)
        rc = mn__multipart_feed(m, in + i, n - i < step ? n - i : step);
    if (rc == 0)
        rc = mn__multipart_finish(m);
    CHECK(rc == 0 || mn__multipart_error(m)[0]);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] % 17 + 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    mn_arena *a = mn_arena_new(0);
    mn_buf l1, l2;
    mn_buf_init(&l1, a);
    mn_buf_init(&l2, a);
    int r1 = run(a, in, n, n ? n : 1, &l1);
    int r2 = run(a, in, n, step, &l2);
    CHECK(r1 == r2);
    if (r1 == 0) /* after an error, how much data got out first depends on the pieces */
        CHECK(l1.len == l2.len && (l1.len == 0 || memcmp(l1.data, l2.data, l1.len) == 0));
    mn_arena_free(a);
    return 0;
}
