/* fuzz_http_chunked.c — the chunked decoder on arbitrary bytes: in place, into another
 * buffer, and split into two pieces at several points, all giving the same body and the same
 * verdict; output never overtakes input. The first byte picks the body limit. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t max = data[0] ? (uint64_t)data[0] * 16 : 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *inplace = malloc(n + 1), *out = malloc(n + 1);
    memcpy(inplace, in, n);
    mn__chunked c;
    mn__chunked_init(&c, max);
    size_t o1, u1;
    mn__http_result r1 = mn__chunked_decode(&c, inplace, n, inplace, &o1, &u1);
    CHECK(o1 <= u1 && u1 <= n);
    CHECK(r1 != MN__HTTP_NEED_MORE || u1 == n);
    CHECK(r1 != MN__HTTP_ERROR || (c.error.status >= 400 && c.error.close));
    CHECK(!max || c.total <= max);
    int status = c.error.status;
    size_t step = n > 64 ? n / 16 : 1;
    for (size_t split = 0; split <= n; split += step) {
        mn__chunked_init(&c, max);
        size_t oa, ua, ob = 0, ub = 0;
        mn__http_result r = mn__chunked_decode(&c, in, split, out, &oa, &ua);
        if (r == MN__HTTP_NEED_MORE)
            r = mn__chunked_decode(&c, in + split, n - split, out + oa, &ob, &ub);
        CHECK(r == r1);
        if (r == MN__HTTP_ERROR) {
            CHECK(c.error.status == status);
        } else {
            CHECK(oa + ob == o1 && ua + ub == u1);
            CHECK(memcmp(out, inplace, o1) == 0);
        }
    }
    free(inplace);
    free(out);
    return 0;
}
