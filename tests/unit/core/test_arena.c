/* Tests for src/core/arena.c: allocation, alignment, growth, reset, defers, OOM. */
#include <criterion/criterion.h>
#include <manouche/core.h>
#include <stdint.h>
#include <string.h>

Test(arena, allocations_are_aligned_and_distinct)
{
    mn_arena *a = mn_arena_new(64);
    char *p = mn_arena_alloc(a, 3);
    char *q = mn_arena_alloc(a, 5);
    cr_assert_not_null(p);
    cr_assert_not_null(q);
    cr_assert_eq((uintptr_t)p % 16, 0);
    cr_assert_eq((uintptr_t)q % 16, 0);
    cr_assert_neq(p, q);
    mn_arena_free(a);
}

Test(arena, grows_past_first_chunk_and_keeps_old_data)
{
    mn_arena *a = mn_arena_new(64);
    char *first = mn_arena_strdup(a, "kept");
    for (int i = 0; i < 1000; i++)
        cr_assert_not_null(mn_arena_alloc(a, 100));
    char *big = mn_arena_alloc(a, 5 << 20);
    cr_assert_not_null(big);
    memset(big, 'x', 5 << 20);
    cr_assert_str_eq(first, "kept");
    cr_assert_geq(mn_arena_reserved(a), (size_t)(5 << 20));
    mn_arena_free(a);
}

Test(arena, reset_forgets_allocations_and_keeps_first_chunk)
{
    mn_arena *a = mn_arena_new(256);
    for (int i = 0; i < 100; i++)
        mn_arena_alloc(a, 200);
    mn_arena_reset(a);
    cr_assert_eq(mn_arena_used(a), 0);
    cr_assert_eq(mn_arena_reserved(a), 256);
    mn_arena_free(a);
}

static void record(void *arg)
{
    char **cursor = arg;
    *(*cursor)++ = 'x';
}

static int order[3];
static int order_n;
static void push_order(void *arg)
{
    order[order_n++] = (int)(intptr_t)arg;
}

Test(arena, defers_run_last_first_on_reset_and_free)
{
    mn_arena *a = mn_arena_new(0);
    for (intptr_t i = 1; i <= 3; i++)
        cr_assert_eq(mn_arena_defer(a, push_order, (void *)i), MN_OK);
    mn_arena_reset(a);
    cr_assert_eq(order_n, 3);
    cr_assert_eq(order[0], 3);
    cr_assert_eq(order[2], 1);

    char marks[4] = {0};
    char *cursor = marks;
    mn_arena_defer(a, record, &cursor);
    mn_arena_free(a);
    cr_assert_str_eq(marks, "x");
}

Test(arena, realloc_extends_last_allocation_in_place)
{
    mn_arena *a = mn_arena_new(1024);
    char *p = mn_arena_alloc(a, 10);
    memcpy(p, "abcdefghi", 10);
    char *q = mn_arena_realloc(a, p, 10, 100);
    cr_assert_eq(p, q);
    cr_assert_str_eq(q, "abcdefghi");
    mn_arena_alloc(a, 1);
    char *r = mn_arena_realloc(a, q, 100, 2000);
    cr_assert_neq(r, q);
    cr_assert_str_eq(r, "abcdefghi");
    mn_arena_free(a);
}

Test(arena, printf_formats_into_arena)
{
    mn_arena *a = mn_arena_new(0);
    cr_assert_str_eq(mn_arena_printf(a, "%s-%d", "req", 42), "req-42");
    mn_arena_free(a);
}

Test(arena, out_of_memory_returns_null_not_crash)
{
    mn_alloc_fail_after(1);
    cr_assert_null(mn_arena_new(0));
    mn_arena *a = mn_arena_new(64);
    mn_alloc_fail_after(1);
    cr_assert_null(mn_arena_alloc(a, 1000));
    cr_assert_not_null(mn_arena_alloc(a, 1000));
    cr_assert_null(mn_arena_alloc(a, SIZE_MAX - 8));
    mn_arena_free(a);
}
