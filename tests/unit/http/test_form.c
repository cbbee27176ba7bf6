/* test_form.c — urlencoded bodies become the same field list as query strings, with
 * DATA_UPLOAD_MAX_NUMBER_FIELDS as the limit. */
#include <criterion/criterion.h>
#include <stdio.h>
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

Test(form, urlencoded_body_fields, .init = setup, .fini = teardown)
{
    const char *body = "choice=3&comment=Hello+world%21&tags=a&tags=b&empty=";
    mn__field_list l;
    mn__field_list_init(&l, a);
    cr_assert_eq(mn__form_parse(body, strlen(body), 1000, &l), MN_OK);
    cr_assert_eq(l.len, 5);
    cr_expect(mn_str_eq_cstr(mn__field_list_get(&l, (mn_str)MN_STR_LIT("comment"))->value,
                             "Hello world!"));
    mn_str tags[2];
    cr_expect_eq(mn__field_list_get_all(&l, (mn_str)MN_STR_LIT("tags"), tags, 2), 2);
    cr_expect(mn_str_eq_cstr(tags[1], "b"));
    cr_expect_eq(mn__field_list_get(&l, (mn_str)MN_STR_LIT("empty"))->value.len, 0);
}

Test(form, thousand_fields_pass_and_one_more_is_too_many, .init = setup, .fini = teardown)
{
    mn_buf b;
    mn_buf_init(&b, a);
    for (int i = 0; i < 1000; i++)
        mn_buf_printf(&b, "%sf%d=%d", i ? "&" : "", i, i);
    mn__field_list l;
    mn__field_list_init(&l, a);
    cr_assert_eq(mn__form_parse(b.data, b.len, 1000, &l), MN_OK);
    cr_expect_eq(l.len, 1000);
    mn_buf_puts(&b, "&extra=1");
    mn__field_list_init(&l, a);
    cr_expect_eq(mn__form_parse(b.data, b.len, 1000, &l), MN_ETOOBIG);
    mn__field_list_init(&l, a);
    cr_expect_eq(mn__form_parse(b.data, b.len, 0, &l), MN_OK, "0 means no limit");
}

Test(form, out_of_memory_is_an_error, .init = setup, .fini = teardown)
{
    mn_arena *tiny = mn_arena_new(64);
    mn__field_list l;
    int failures = 0;
    for (long n = 1; n < 8; n++) {
        mn__field_list_init(&l, tiny);
        mn_alloc_fail_after(n);
        int rc = mn__form_parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9", 35, 0, &l);
        mn_alloc_fail_after(0);
        cr_expect(rc == MN_OK || rc == MN_ENOMEM);
        failures += rc == MN_ENOMEM;
        mn_arena_reset(tiny);
    }
    cr_expect_gt(failures, 0, "some allocation failed and was reported");
    mn_arena_free(tiny);
}
