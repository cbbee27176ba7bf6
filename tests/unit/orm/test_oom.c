/* test_oom.c — out of memory at every allocation of a typical request (create, filter
 * across relations, fetch with select_related and prefetch, annotate, update, delete, render
 * values) returns an error instead of crashing. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

static testdb t;
static library lib;
static void setup(void)
{
    tdb_open(&t);
    library_fill(t.o, &lib);
}
static void teardown(void)
{
    mn_alloc_fail_after(0);
    tdb_close(&t);
}
TestSuite(orm_oom, .init = setup, .fini = teardown);

/* One request's worth of ORM work in its own session; 0 when everything succeeded. */
static int request(void)
{
    mn_arena *a = mn_arena_new(0);
    if (!a)
        return MN_ENOMEM;
    mn_orm *o = tdb_session(&t, a);
    int rc = 0;
    Tag *tg = mn_create(o, Tag, "name", "oom");
    mn_rows *rows = mn_qs_fetch(mn_qs_prefetch_related(
        mn_qs_select_related(mn_filter(mn_all(o, Book), "author__name__icontains", "a",
                                       "tags__name__in", MN_IN_STR("classic", "tech")),
                             "author"),
        "reviews"));
    mn_value *agg = mn_qs_aggregate(mn_all(o, Book), "n", mn_Sum(o, "price", NULL));
    mn_rows *ann =
        mn_qs_fetch(mn_qs_annotate(mn_all(o, Author), "c", mn_Count(o, "books", false, NULL)));
    int64_t up =
        mn_update(mn_filter(mn_all(o, Book), "genre", "fi"), "pages", mn_F_add(o, "pages", 1));
    int64_t del = tg ? mn_delete(o, tg, NULL) : -1;
    mn_value *v = rows && rows->len ? mn_obj_value(o, rows->items[0]) : NULL;
    if (!tg || !rows || !agg || !ann || up < 0 || del < 0 || !v)
        rc = mn_orm_errcode(o) ? mn_orm_errcode(o) : MN_ENOMEM;
    mn_arena_free(a);
    return rc;
}

Test(orm_oom, every_allocation_failure_is_an_error)
{
    cr_assert_eq(request(), 0, "the request works with memory");
    int failures = 0;
    for (long n = 1; n < 400; n++) {
        mn_alloc_fail_after(n);
        int rc = request();
        mn_alloc_fail_after(0);
        if (rc != 0)
            failures++;
        /* clean up a tag a half-failed request may have left */
        mn_qs_delete(mn_filter(mn_all(t.o, Tag), "name", "oom"), NULL);
    }
    cr_expect_gt(failures, 0, "the hook did make allocations fail");
    cr_log_info("%d of 399 runs failed", failures);
    cr_assert_eq(request(), 0, "and everything works again afterwards");
}
