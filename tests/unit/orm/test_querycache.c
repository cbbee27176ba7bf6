/* test_querycache.c — the query cache (fetch.c): get() and first() by an integer primary key
 * reuse the compiled SQL of their shape. A cached query must be the very statement the
 * compiler makes, return the right row for every new pk, and leave every other shape alone. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

LIBRARY_SUITE(orm_cache);

Test(orm_cache, repeated_get_by_pk_binds_each_new_pk)
{
    Book *books[] = {lib.dune, lib.emma, lib.odes, lib.sql};
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < 4; i++) {
            Book *b = mn_get(mn_all(t.o, Book), "pk", books[i]->id);
            cr_assert_not_null(b, "%s", mn_orm_error(t.o));
            cr_expect_eq(b->id, books[i]->id);
            cr_expect_str_eq(b->title, books[i]->title);
            cr_expect_eq(b->pages, books[i]->pages);
            cr_expect_eq(b->author.id, books[i]->author.id);
        }
    /* every spelling of the same shape */
    Book *b = mn_get(mn_all(t.o, Book), "id", lib.emma->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->title, "Emma");
    b = mn_get(mn_all(t.o, Book), "pk__exact", lib.odes->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->title, "Odes 50% off_sale");
    b = mn_get(mn_all(t.o, Book), "id__exact", lib.sql->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->title, "SQL in Depth");
    /* a model with Meta.ordering: get() ignores it, as before */
    Author *a = mn_get(mn_all(t.o, Author), "pk", lib.cy->id);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(a->name, "Cy");
}

Test(orm_cache, missing_pk_is_does_not_exist_after_the_shape_is_cached)
{
    cr_assert_not_null(mn_get(mn_all(t.o, Book), "pk", lib.dune->id), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_get(mn_all(t.o, Book), "pk", lib.sql->id + 1000));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDOES_NOT_EXIST);
    cr_expect_str_eq(mn_orm_error(t.o), "Book matching query does not exist.");
    cr_expect_not_null(mn_get(mn_all(t.o, Book), "pk", lib.emma->id), "%s", mn_orm_error(t.o));
}

Test(orm_cache, cached_statement_is_the_compilers_own)
{
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    char pk[24];
    snprintf(pk, sizeof pk, "%lld", (long long)lib.dune->id);
    /* a text pk is another shape (never cached): the compiler's statement every time */
    Book *a = mn_get(mn_all(t.o, Book), "pk", pk);
    Book *b = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    Book *c = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_assert(a && b && c, "%s", mn_orm_error(t.o));
    cr_assert_eq(log.count, 3);
    for (size_t i = 1; i < 3; i++) {
        cr_expect_str_eq(log.entries[i].sql, log.entries[0].sql);
        cr_assert_eq(log.entries[i].nparams, 2);
        cr_expect_eq(log.entries[i].params[0].v.i, lib.dune->id);
        cr_expect_eq(log.entries[i].params[1].v.i, 21, "get() fetches at most 21 rows");
    }
    mn_orm_set_log(t.o, NULL);
}

Test(orm_cache, first_by_pk)
{
    for (int round = 0; round < 2; round++) {
        Book *b = mn_qs_first(mn_filter(mn_all(t.o, Book), "pk", lib.emma->id));
        cr_assert_not_null(b, "%s", mn_orm_error(t.o));
        cr_expect_str_eq(b->title, "Emma");
        b = mn_qs_first(mn_filter(mn_all(t.o, Book), "pk", lib.sql->id));
        cr_assert_not_null(b, "%s", mn_orm_error(t.o));
        cr_expect_str_eq(b->title, "SQL in Depth");
        cr_expect_null(mn_qs_first(mn_filter(mn_all(t.o, Book), "pk", lib.sql->id + 1000)));
    }
}

Test(orm_cache, other_shapes_are_not_confused_with_a_cached_one)
{
    cr_assert_not_null(mn_get(mn_all(t.o, Book), "pk", lib.dune->id), "%s", mn_orm_error(t.o));
    /* only(): fewer columns */
    Book *b = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->title, "Dune");
    cr_expect_null(b->price, "deferred: not loaded");
    /* select_related(): the author comes with the book */
    b = mn_get(mn_qs_select_related(mn_all(t.o, Book), "author"), "pk", lib.sql->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_assert_not_null(b->author.obj);
    cr_expect_str_eq(((Author *)b->author.obj)->name, "Bob");
    /* values(): a dict, not an instance */
    mn_value *v =
        mn_qs_get(mn_filter(mn_qs_values(mn_all(t.o, Book), "title"), "pk", lib.emma->id));
    cr_assert_not_null(v, "%s", mn_orm_error(t.o));
    mn_buf repr;
    mn_buf_init(&repr, t.arena);
    mn_value_write_repr(v, t.arena, &repr);
    cr_expect_str_eq(mn_buf_cstr(&repr), "{'title': 'Emma'}");
    /* a second condition */
    cr_expect_null(mn_get(mn_all(t.o, Book), "pk", lib.dune->id, "pages", 1));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDOES_NOT_EXIST);
    /* a slice taken before get() */
    cr_expect_null(mn_qs_get(mn_qs_slice(mn_filter(mn_all(t.o, Book), "pk", lib.dune->id), 1, 2)));
    /* and the cached shape still works afterwards */
    b = mn_get(mn_all(t.o, Book), "pk", lib.odes->id);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->title, "Odes 50% off_sale");
    cr_expect_not_null(b->price, "every column is loaded");
}
