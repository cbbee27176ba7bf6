/* fuzz_http_cookie.c — Cookie header parsing and Set-Cookie formatting on arbitrary bytes.
 * Parsed names are unique (a dict, as Django's); a formatted Set-Cookie value never holds a
 * byte that could end the header or smuggle in an attribute. */
#include "http/parser.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    mn_arena *arena = mn_arena_new(0);
    mn__field_list l;
    mn__field_list_init(&l, arena);
    CHECK(mn__cookie_parse(in, size, &l) == MN_OK);
    for (size_t i = 0; i < l.len; i++)
        for (size_t j = i + 1; j < l.len; j++)
            CHECK(!mn_str_eq(l.items[i].name, l.items[j].name));

    /* name | value | path, split on the first two 0xff bytes */
    const char *s1 = memchr(in, 0xff, size);
    size_t n1 = s1 ? (size_t)(s1 - in) : size;
    const char *rest = s1 ? s1 + 1 : in + size;
    size_t rest_len = size - (size_t)(rest - in);
    const char *s2 = memchr(rest, 0xff, rest_len);
    size_t n2 = s2 ? (size_t)(s2 - rest) : rest_len;
    mn__set_cookie c = {.name = {in, n1},
                        .value = {rest, n2},
                        .max_age = (int64_t)size - 10,
                        .expires = -1,
                        .http_only = size & 1,
                        .secure = size & 2};
    if (s2)
        c.path = (mn_str){s2 + 1, rest_len - n2 - 1};
    mn_buf out;
    mn_buf_init(&out, arena);
    if (mn__cookie_format(&out, &c, 1000000) == MN_OK) {
        for (size_t i = 0; i < out.len; i++)
            CHECK(out.data[i] >= 0x20 && out.data[i] < 0x7f);
        CHECK(out.len > n1 && memcmp(out.data, in, n1) == 0 && out.data[n1] == '=');
        /* the value is one token or one quoted string: its end is the next "; " or the end */
        const char *v = out.data + n1 + 1;
        size_t vlen = out.len - n1 - 1;
        if (vlen && v[0] == '"') {
            size_t i = 1;
            while (i < vlen && v[i] != '"')
                i += v[i] == '\\' ? 2 : 1;
            CHECK(i < vlen);
            CHECK(i + 1 == vlen || v[i + 1] == ';');
        } else {
            CHECK(!memchr(v, '"', vlen ? 1 : 0));
        }
    }
    mn_arena_free(arena);
    return 0;
}
