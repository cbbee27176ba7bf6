/* fuzz_http_url.c — percent-decoding, path normalisation and query parsing on arbitrary
 * bytes. A normalised path starts with '/', has no empty, "." or ".." segment and no NUL;
 * query names and values are valid UTF-8; a strict decode that succeeds equals the lenient
 * one. */
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

static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (!k || i + k > n)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
            return false;
        i += k;
    }
    return true;
}

static void check_path(const char *p, size_t n)
{
    CHECK(n >= 1 && p[0] == '/');
    CHECK(!memchr(p, '\0', n));
    size_t i = 1;
    while (i < n) {
        size_t s = i;
        while (i < n && p[i] != '/')
            i++;
        size_t seg = i - s;
        CHECK(seg > 0 || i == n);
        CHECK(!(seg == 1 && p[s] == '.'));
        CHECK(!(seg == 2 && p[s] == '.' && p[s + 1] == '.'));
        i++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *a = malloc(size + 1), *b = malloc(size + 1);
    size_t na, nb;
    if (mn__url_decode(in, size, a, &na, true, true) == MN_OK) {
        CHECK(mn__url_decode(in, size, b, &nb, true, false) == MN_OK);
        CHECK(na == nb && memcmp(a, b, na) == 0);
    }
    if (mn__url_path_normalize(in, size, a, &na) == MN_OK)
        check_path(a, na);
    free(a);
    free(b);

    mn_arena *arena = mn_arena_new(0);
    mn__field_list l;
    mn__field_list_init(&l, arena);
    int rc = mn__query_parse(in, size, 50, &l);
    CHECK(rc == MN_OK || rc == MN_ETOOBIG);
    for (size_t i = 0; i < l.len; i++) {
        CHECK(valid_utf8((const unsigned char *)l.items[i].name.ptr, l.items[i].name.len));
        CHECK(valid_utf8((const unsigned char *)l.items[i].value.ptr, l.items[i].value.len));
        CHECK(l.items[i].value.ptr[l.items[i].value.len] == '\0');
    }
    mn_arena_free(arena);
    return 0;
}
