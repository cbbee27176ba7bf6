/* Fuzzes the router: resolving arbitrary paths against a table with every converter, re_path
 * and include(); reversing with arbitrary arguments; compiling arbitrary path()/re_path()
 * patterns. Input: one selector byte, then the text (NUL bytes split arguments). */
#include <manouche/web.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void v(mn_req *r)
{
    (void)r;
}

static bool even(mn_str s)
{
    return s.len % 2 == 0;
}

static const mn_converter convs[] = {{"hex", "[0-9a-f]+", even}, {NULL, NULL, NULL}};

static const mn_route inner[] = {
    MN_PATH("", v, "index"),
    MN_PATH("<int:id>/", v, "detail"),
    MN_PATH_METHODS("<int:id>/vote/", v, "vote", "POST"),
    MN_PATH("<slug:s>/<str:t>/x<int:n>/", v, "mixed"),
    MN_END,
};

static const mn_route root[] = {
    MN_INCLUDE("polls/", inner, "polls"),
    MN_INCLUDE("u/<str:user>/", inner, "user"),
    MN_PATH("o/<uuid:u>/", v, "uuid"),
    MN_PATH("f/<path:p>/end/<path:q>", v, "files"),
    MN_PATH("c/<hex:h>/", v, "hex"),
    MN_RE_PATH("^a/(?P<y>[0-9]{4})/(?P<m>[0-9]{2})/$", v, "archive"),
    MN_RE_PATH("^b/([a-z]+)/(\\d+)/$", v, "positional"),
    MN_END,
};

static mn_router *router;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router) {
        char err[256];
        router = mn_router_new(root, convs, err, sizeof err);
        if (!router)
            abort();
    }
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        mn_route_match m;
        char allow[64];
        mn_router_resolve(router, (mn_str){text, len}, (data[0] & 8) ? "POST" : "GET", &m, allow,
                          sizeof allow);
        break;
    }
    case 1: {
        /* name, then up to 4 NUL-separated arguments */
        const char *args[4];
        size_t n = 0, off = strlen(text) + 1;
        while (off < len && n < 4) {
            args[n++] = text + off;
            off += strlen(text + off) + 1;
        }
        mn_buf out;
        mn_buf_init(&out, NULL);
        char err[256];
        static const char *const names[] = {"y", "m", "user", "id"};
        mn_router_reverse(router, text, n, (data[0] & 8) ? names : NULL, args, &out, err,
                          sizeof err);
        mn_buf_free(&out);
        break;
    }
    default: {
        mn_route table[2] = {MN_PATH(text, v, "x"), MN_END};
        if (data[0] & 8)
            table[0].kind = MN_ROUTE_RE_PATH;
        char err[256];
        mn_router *r = mn_router_new(table, convs, err, sizeof err);
        if (r) {
            mn_route_match m;
            mn_router_resolve(r, (mn_str){text, len}, NULL, &m, NULL, 0);
            mn_buf out;
            mn_buf_init(&out, NULL);
            const char *a[2] = {text, text};
            mn_router_reverse(r, "x", 1, NULL, a, &out, NULL, 0);
            mn_buf_free(&out);
        }
        mn_router_free(r);
    }
    }
    free(text);
    return 0;
}
