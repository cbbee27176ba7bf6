/* test_rel_checks.c — mistakes the ORM refuses as Django does: a relation filtered by an
 * instance of another model, select_for_update() outside a transaction (PostgreSQL), raw()
 * without a model; and delete() clearing the instance's primary key. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

LIBRARY_SUITE(orm_rel_checks);

Test(orm_rel_checks, filter_by_an_instance_of_the_wrong_model_fails)
{
    cr_expect_lt(mn_qs_count(mn_filter(mn_all(t.o, Book), "author", lib.classic)), 0);
    cr_expect_str_eq(mn_orm_error(t.o),
                     mn_arena_printf(t.arena,
                                     "Cannot query \"Tag object (%lld)\": Must be \"Author\" "
                                     "instance.",
                                     (long long)lib.classic->id));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "author", lib.ann)), 2,
                 "the right model still works");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "tags", lib.classic)), 3);
    cr_expect_lt(mn_qs_count(mn_filter(mn_all(t.o, Book), "tags", lib.ann)), 0);
    cr_expect(strstr(mn_orm_error(t.o), "Must be \"Tag\" instance."), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "books", lib.dune)), 1,
                 "reverse relation by instance");
}

Test(orm_rel_checks, delete_clears_the_primary_key)
{
    Tag *x = mn_create(t.o, Tag, "name", "gone");
    cr_assert_not_null(x);
    int64_t old = x->id;
    cr_assert_eq(mn_delete(t.o, x, NULL), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(x->id, 0, "pk is None after delete()");
    cr_assert_eq(mn_save(t.o, x), 0, "%s", mn_orm_error(t.o));
    cr_expect_neq(x->id, old, "saving again inserts a new row");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "name", "gone")), 1);
}

Test(orm_rel_checks, select_for_update_needs_a_transaction)
{
    mn_qs *qs = mn_qs_select_for_update(mn_all(t.o, Author));
    mn_rows *rows = mn_qs_fetch(qs);
    if (tdb_is_pg(&t)) {
        cr_expect_null(rows);
        cr_expect_eq(mn_orm_errcode(t.o), MN_ETRANSACTION_MANAGEMENT);
        cr_expect_str_eq(mn_orm_error(t.o),
                         "select_for_update cannot be used outside of a transaction.");
    } else {
        cr_expect_not_null(rows, "SQLite ignores FOR UPDATE, as Django: %s", mn_orm_error(t.o));
    }
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    rows = mn_qs_fetch(mn_qs_select_for_update(mn_all(t.o, Author)));
    cr_expect_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows ? rows->len : 0, 3);
    cr_assert_eq(mn_atomic_end(t.o, true), 0);
    bool created;
    Author *a = mn_qs_update_or_create(mn_all(t.o, Author), MN_KVS("name", "Ann"), 1,
                                       MN_KVS("email", "a@b.example"), 1, &created);
    cr_expect_not_null(a, "update_or_create locks inside its own transaction: %s",
                       mn_orm_error(t.o));
}

Test(orm_rel_checks, raw_without_a_model_is_an_error)
{
    cr_expect_null(mn_raw(t.o, NULL, "SELECT 1", NULL, 0));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect(strstr(mn_orm_error(t.o), "a model"), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_raw(t.o, &Tag_model, NULL, NULL, 0));
}

Test(orm_rel_checks, assigning_an_instance_of_the_wrong_model_fails)
{
    Book *b = mn_new(t.o, Book);
    cr_expect_eq(mn_obj_set(t.o, b, "author", mn_arg_obj(lib.classic)), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o),
                     mn_arena_printf(t.arena,
                                     "Cannot assign \"<Tag: Tag object (%lld)>\": \"Book.author\" "
                                     "must be a \"Author\" instance.",
                                     (long long)lib.classic->id));
    cr_expect_eq(b->author.id, 0, "left unset");
    cr_expect_eq(mn_obj_set(t.o, b, "author", mn_arg_obj(lib.ann)), 0);
    cr_expect_eq(b->author.id, lib.ann->id);
}
