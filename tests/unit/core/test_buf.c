/* Tests for src/core/buf.c and str.c. */
#include <criterion/criterion.h>
#include <manouche/core.h>
#include <stdint.h>

Test(buf, appends_and_formats_on_heap)
{
    mn_buf b;
    mn_buf_init(&b, NULL);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(mn_buf_putc(&b, 'a'), MN_OK);
    mn_buf_reset(&b);
    mn_buf_puts(&b, "n=");
    mn_buf_put_i64(&b, INT64_MIN);
    mn_buf_printf(&b, " %s", "ok");
    cr_assert_str_eq(mn_buf_cstr(&b), "n=-9223372036854775808 ok");
    mn_buf_consume(&b, 2);
    cr_assert_str_eq(mn_buf_cstr(&b), "-9223372036854775808 ok");
    mn_buf_free(&b);
}

Test(buf, grows_inside_an_arena)
{
    mn_arena *a = mn_arena_new(128);
    mn_buf b;
    mn_buf_init(&b, a);
    for (int i = 0; i < 10000; i++)
        mn_buf_put_u64(&b, 7);
    cr_assert_eq(b.len, 10000);
    mn_arena_free(a);
}

Test(buf, out_of_memory_is_reported)
{
    mn_buf b;
    mn_buf_init(&b, NULL);
    mn_alloc_fail_after(1);
    cr_assert_eq(mn_buf_puts(&b, "x"), MN_ENOMEM);
    cr_assert_eq(mn_buf_puts(&b, "x"), MN_OK);
    mn_buf_free(&b);
}

Test(str, compares_and_parses)
{
    mn_str s = mn_str_from("Content-Length");
    cr_assert(mn_str_ieq_cstr(s, "content-length"));
    cr_assert_not(mn_str_eq_cstr(s, "content-length"));
    cr_assert(mn_str_starts_with(s, "Content"));
    cr_assert(mn_str_ends_with(s, "Length"));
    mn_str t = mn_str_trim(mn_str_from(" \t x \t"));
    cr_assert(mn_str_eq_cstr(t, "x"));

    int64_t v;
    cr_assert_eq(mn_str_to_i64(mn_str_from("9223372036854775807"), &v), MN_OK);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(mn_str_to_i64(mn_str_from("-9223372036854775808"), &v), MN_OK);
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(mn_str_to_i64(mn_str_from("9223372036854775808"), &v), MN_EINVAL);
    cr_assert_eq(mn_str_to_i64(mn_str_from(""), &v), MN_EINVAL);
    cr_assert_eq(mn_str_to_i64(mn_str_from("12a"), &v), MN_EINVAL);
    cr_assert_eq(mn_str_to_i64(mn_str_from("-"), &v), MN_EINVAL);
}
