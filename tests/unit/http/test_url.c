/* test_url.c — percent-decoding, path normalisation, and query strings read as Django's
 * QueryDict reads them (expected values from Python's urllib.parse.parse_qsl). */
#include <criterion/criterion.h>
#include <string.h>

#include "http/parser.h"

static mn_arena *a;
static void setup(void)
{
    a = mn_arena_new(0);
}
static void teardown(void)
{
    mn_arena_free(a);
}

static const char *norm(const char *in)
{
    size_t n = strlen(in), out_len;
    char *buf = mn_arena_alloc(a, n + 1);
    if (mn__url_path_normalize(in, n, buf, &out_len) != MN_OK)
        return NULL;
    buf[out_len] = '\0';
    return buf;
}

Test(url, decode_strict_rejects_bad_escapes, .init = setup, .fini = teardown)
{
    char out[32];
    size_t n;
    cr_assert_eq(mn__url_decode("a%20b%2fc%C3%A9", 15, out, &n, false, true), MN_OK);
    cr_expect_eq(n, 7);
    cr_expect_arr_eq(out, "a b/c\xc3\xa9", 7);
    const char *bad[] = {"%", "%4", "%zz", "a%g1", "%%41"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(mn__url_decode(bad[i], strlen(bad[i]), out, &n, false, true), MN_EINVAL, "%s",
                     bad[i]);
    cr_assert_eq(mn__url_decode("%zz+%4", 6, out, &n, true, false), MN_OK);
    cr_expect_arr_eq(out, "%zz %4", 6, "lenient keeps a broken escape as it is");
}

Test(url, decode_in_place, .init = setup, .fini = teardown)
{
    char buf[] = "x%41y+z";
    size_t n;
    cr_assert_eq(mn__url_decode(buf, 7, buf, &n, true, true), MN_OK);
    cr_expect_eq(n, 5);
    cr_expect_arr_eq(buf, "xAy z", 5);
}

Test(url, path_normalisation, .init = setup, .fini = teardown)
{
    static const char *cases[][2] = {
        {"/", "/"},
        {"/a/b", "/a/b"},
        {"/a/b/", "/a/b/"},
        {"//a///b//", "/a/b/"},
        {"/a/./b", "/a/b"},
        {"/a/.", "/a/"},
        {"/a/b/..", "/a/"},
        {"/a/b/../c", "/a/c"},
        {"/..", "/"},
        {"/../../etc/passwd", "/etc/passwd"},
        {"/a/%2e%2E/b", "/b"},
        {"/a/..%2F..%2Fetc", "/etc"},
        {"/a%2Fb", "/a/b"},
        {"/%2F%2Fevil.com", "/evil.com"},
        {"/a%20b/c%C3%A9", "/a b/c\xc3\xa9"},
        {"/...", "/..."},
        {"/a/.b/..c", "/a/.b/..c"},
        {"/static/../../../x", "/x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = norm(cases[i][0]);
        cr_expect(got && strcmp(got, cases[i][1]) == 0, "%s -> %s, want %s", cases[i][0],
                  got ? got : "(error)", cases[i][1]);
    }
}

Test(url, path_normalisation_rejects, .init = setup, .fini = teardown)
{
    const char *bad[] = {"", "a/b", "/a%00b", "/a%zz", "/a%2", "*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_null(norm(bad[i]), "%s", bad[i]);
    char raw_nul[] = "/a\0b";
    size_t n;
    char out[8];
    cr_expect_eq(mn__url_path_normalize(raw_nul, 4, out, &n), MN_EINVAL);
}

static mn__field_list parse_qs(const char *qs, size_t max)
{
    mn__field_list l;
    mn__field_list_init(&l, a);
    cr_assert_eq(mn__query_parse(qs, strlen(qs), max, &l), MN_OK, "%s", qs);
    return l;
}

Test(url, query_string_as_django_querydict, .init = setup, .fini = teardown)
{
    /* python3: parse_qsl("a=1&a=2&&b&c=%zz&d=%E9&e=x+y%2B&=v&f=%e2%82", keep_blank_values=True) */
    mn__field_list l = parse_qs("a=1&a=2&&b&c=%zz&d=%E9&e=x+y%2B&=v&f=%e2%82", 0);
    static const char *want[][2] = {{"a", "1"},
                                    {"a", "2"},
                                    {"b", ""},
                                    {"c", "%zz"},
                                    {"d", "\xef\xbf\xbd"},
                                    {"e", "x y+"},
                                    {"", "v"},
                                    {"f", "\xef\xbf\xbd"}};
    cr_assert_eq(l.len, 8);
    for (size_t i = 0; i < 8; i++) {
        cr_expect(mn_str_eq_cstr(l.items[i].name, want[i][0]), "name %zu", i);
        cr_expect(mn_str_eq_cstr(l.items[i].value, want[i][1]), "value %zu: %.*s", i,
                  (int)l.items[i].value.len, l.items[i].value.ptr);
        cr_expect_eq(l.items[i].value.ptr[l.items[i].value.len], '\0');
    }
    const mn_field *f = mn__field_list_get(&l, (mn_str)MN_STR_LIT("a"));
    cr_assert_not_null(f);
    cr_expect(mn_str_eq_cstr(f->value, "2"), "get gives the last value, as QueryDict");
    mn_str all[4];
    cr_expect_eq(mn__field_list_get_all(&l, (mn_str)MN_STR_LIT("a"), all, 4), 2);
    cr_expect(mn_str_eq_cstr(all[0], "1"));
    cr_expect_null(mn__field_list_get(&l, (mn_str)MN_STR_LIT("zz")));
}

Test(url, query_keeps_valid_utf8_and_equals_in_values, .init = setup, .fini = teardown)
{
    mn__field_list l = parse_qs("q=caf%C3%A9&x=a=b=c&%F0%9F%98%80=1", 0);
    cr_assert_eq(l.len, 3);
    cr_expect(mn_str_eq_cstr(l.items[0].value, "caf\xc3\xa9"));
    cr_expect(mn_str_eq_cstr(l.items[1].value, "a=b=c"));
    cr_expect(mn_str_eq_cstr(l.items[2].name, "\xf0\x9f\x98\x80"));
}

Test(url, query_that_is_not_utf8_is_read_as_latin1, .init = setup, .fini = teardown)
{
    /* QueryDict(b"q=caf\xe9&r=%E9") decodes the raw bytes as latin-1 since they are not
     * UTF-8, while escapes still decode as UTF-8 with replacement */
    mn__field_list l = parse_qs("q=caf\xe9&r=%E9&s=%C3%A9", 0);
    cr_assert_eq(l.len, 3);
    cr_expect(mn_str_eq_cstr(l.items[0].value, "caf\xc3\xa9"));
    cr_expect(mn_str_eq_cstr(l.items[1].value, "\xef\xbf\xbd"));
    cr_expect(mn_str_eq_cstr(l.items[2].value, "\xc3\xa9"));
}

Test(url, query_field_limit_counts_like_django, .init = setup, .fini = teardown)
{
    mn__field_list l;
    mn__field_list_init(&l, a);
    /* parse_qsl counts 1 + the number of '&', empty fields included */
    cr_expect_eq(mn__query_parse("a=1&&", 5, 2, &l), MN_ETOOBIG);
    cr_expect_eq(mn__query_parse("a=1&b", 5, 2, &l), MN_OK);
    cr_expect_eq(mn__query_parse("", 0, 1, &l), MN_OK);
    cr_expect_eq(mn__query_parse(NULL, 0, 1, &l), MN_OK, "an absent query (ptr NULL)");
}
