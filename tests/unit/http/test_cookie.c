/* test_cookie.c — the Cookie header read as django.http.cookie.parse_cookie (cases from
 * Django's own httpwrappers tests) and Set-Cookie written as Python's Morsel writes it. */
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

/* Parses header and checks the pairs, given as "name", "value", ..., NULL. */
static void check(const char *header, const char *const *want)
{
    mn__field_list l;
    mn__field_list_init(&l, a);
    cr_assert_eq(mn__cookie_parse(header, strlen(header), &l), MN_OK);
    size_t n = 0;
    while (want[2 * n])
        n++;
    cr_assert_eq(l.len, n, "%s: %zu pairs, want %zu", header, l.len, n);
    for (size_t i = 0; i < n; i++) {
        cr_expect(mn_str_eq_cstr(l.items[i].name, want[2 * i]), "%s: name %zu", header, i);
        cr_expect(mn_str_eq_cstr(l.items[i].value, want[2 * i + 1]), "%s: value %zu is %.*s",
                  header, i, (int)l.items[i].value.len, l.items[i].value.ptr);
    }
}

#define PAIRS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(cookie, parse_as_django, .init = setup, .fini = teardown)
{
    check("chips=ahoy; vienna=finger", PAIRS("chips", "ahoy", "vienna", "finger"));
    check("keebler=\"E=mc2; L=\\\"Loves\\\"; fudge=\\012;\"",
          PAIRS("keebler", "\"E=mc2", "L", "\\\"Loves\\\"", "fudge", "\\012", "", "\""));
    check("keebler=E=mc2", PAIRS("keebler", "E=mc2"));
    check("key:term=value:term", PAIRS("key:term", "value:term"));
    check("a=b; c=[; d=r; f=h", PAIRS("a", "b", "c", "[", "d", "r", "f", "h"));
    check("a=b; Domain=example.com", PAIRS("a", "b", "Domain", "example.com"));
    check("a=b; h=i; a=c", PAIRS("a", "c", "h", "i"));
    check("abc=def; unnamed; django_language=en",
          PAIRS("abc", "def", "", "unnamed", "django_language", "en"));
    check("a=b; \"; c=d", PAIRS("a", "b", "", "\"", "c", "d"));
    check("a b c=d e = f; gh=i", PAIRS("a b c", "d e = f", "gh", "i"));
    check("a   b,c<>@:/[]?{}=d  \"  =e,f g", PAIRS("a   b,c<>@:/[]?{}", "d  \"  =e,f g"));
    check("saint=Andr\xc3\xa9 Bessette", PAIRS("saint", "Andr\xc3\xa9 Bessette"));
    check("  =  b  ;  ;  =  ;   c  =  ;  ", PAIRS("", "b", "c", ""));
}

Test(cookie, strip_is_pythons_unicode_whitespace, .init = setup, .fini = teardown)
{
    /* str.strip() removes NBSP, U+3000, U+2003 and the 0x1c-0x1f separators too */
    check("\xc2\xa0"
          "a\x1c=\xe3\x80\x80"
          "b\xe2\x80\x83; c=\xc3\xa0",
          PAIRS("a", "b", "c", "\xc3\xa0"));
}

Test(cookie, quoted_values_are_unquoted_as_python, .init = setup, .fini = teardown)
{
    /* python3: http.cookies._unquote('"a\\073b\\"c\\\\d\\x"') == 'a;b"c\\dx' */
    check("v=\"a\\073b\\\"c\\\\d\\x\"", PAIRS("v", "a;b\"c\\dx"));
    check("v=\"\"", PAIRS("v", ""));
    check("v=\"", PAIRS("v", "\""));
}

Test(cookie, latin1_escapes_and_invalid_utf8, .init = setup, .fini = teardown)
{
    /* _unquote('"caf\\351"') == 'café'; a header that is not UTF-8 gets U+FFFD */
    check("v=\"caf\\351\"", PAIRS("v", "caf\xc3\xa9"));
    check("v=caf\xe9; w=1", PAIRS("v", "caf\xef\xbf\xbd", "w", "1"));
}

Test(cookie, empty_header_gives_nothing, .init = setup, .fini = teardown)
{
    mn__field_list l;
    mn__field_list_init(&l, a);
    cr_assert_eq(mn__cookie_parse("", 0, &l), MN_OK);
    cr_assert_eq(mn__cookie_parse(NULL, 0, &l), MN_OK);
    cr_expect_eq(l.len, 0);
}

static const char *fmt(const mn__set_cookie *c, int64_t now)
{
    mn_buf b;
    mn_buf_init(&b, a);
    if (mn__cookie_format(&b, c, now) != MN_OK)
        return NULL;
    return mn_buf_cstr(&b);
}

Test(cookie, set_cookie_as_django, .init = setup, .fini = teardown)
{
    mn__set_cookie c = {.name = MN_STR_LIT("sessionid"),
                        .value = MN_STR_LIT("abc123"),
                        .max_age = 1209600,
                        .expires = -1,
                        .path = MN_STR_LIT("/"),
                        .http_only = true,
                        .same_site = MN_STR_LIT("Lax")};
    cr_expect_str_eq(fmt(&c, 1700000000),
                     "sessionid=abc123; expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; "
                     "Max-Age=1209600; Path=/; SameSite=Lax");
    /* python3: c['n']='a b;"\\\xe9'; ... c.output() */
    mn__set_cookie q = {.name = MN_STR_LIT("n"),
                        .value = MN_STR_LIT("a b;\"\\\xc3\xa9"),
                        .max_age = 10,
                        .expires = -1,
                        .path = MN_STR_LIT("/"),
                        .domain = MN_STR_LIT("x.org"),
                        .secure = true,
                        .http_only = true,
                        .same_site = MN_STR_LIT("Lax")};
    cr_expect_str_eq(
        fmt(&q, 0 + 1),
        "n=\"a b\\073\\\"\\\\\\351\"; Domain=x.org; expires=Thu, 01 Jan 1970 00:00:11 GMT;"
        " HttpOnly; Max-Age=10; Path=/; SameSite=Lax; Secure");
}

Test(cookie, delete_cookie_shape, .init = setup, .fini = teardown)
{
    /* django's delete_cookie: max_age=0 and the epoch as expires; an empty value is "" */
    mn__set_cookie c = {.name = MN_STR_LIT("sessionid"),
                        .value = MN_STR_LIT(""),
                        .max_age = 0,
                        .expires = 0,
                        .path = MN_STR_LIT("/")};
    cr_expect_str_eq(fmt(&c, 5),
                     "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");
    mn__set_cookie s = {
        .name = MN_STR_LIT("s"), .value = MN_STR_LIT("v"), .max_age = -1, .expires = -1};
    cr_expect_str_eq(fmt(&s, 5), "s=v", "a session cookie has no dates");
}

Test(cookie, set_cookie_refuses_injection, .init = setup, .fini = teardown)
{
    mn__set_cookie base = {
        .name = MN_STR_LIT("n"), .value = MN_STR_LIT("v"), .max_age = -1, .expires = -1};
    mn__set_cookie c = base;
    c.name = (mn_str)MN_STR_LIT("a b");
    cr_expect_null(fmt(&c, 1));
    c.name = (mn_str)MN_STR_LIT("");
    cr_expect_null(fmt(&c, 1));
    c.name = (mn_str)MN_STR_LIT("Expires");
    cr_expect_null(fmt(&c, 1), "reserved attribute names are not cookie names");
    c = base;
    c.path = (mn_str)MN_STR_LIT("/; Domain=evil.com");
    cr_expect_null(fmt(&c, 1));
    c = base;
    c.domain = (mn_str)MN_STR_LIT("a.com\r\nX: y");
    cr_expect_null(fmt(&c, 1));
    c = base;
    c.same_site = (mn_str)MN_STR_LIT("sometimes");
    cr_expect_null(fmt(&c, 1));
    c = base;
    c.value = (mn_str)MN_STR_LIT("a\r\nSet-Cookie: x=1");
    const char *out = fmt(&c, 1);
    cr_assert_not_null(out);
    cr_expect_null(strpbrk(out, "\r\n;"), "CR, LF and ';' in a value are escaped: %s", out);
}

Test(cookie, http_date, .init = setup, .fini = teardown)
{
    char d[30];
    mn__http_date(784111777, d);
    cr_expect_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
}
