/* test_fixes3.c — a DecimalField read and written on a second database of another dialect
 * (an SQLite "other" beside a PostgreSQL default) is converted as that database stores it;
 * a sliced, distinct __in subquery ordered by a related field selects only its one column;
 * update() with a decimal expression wider than max_digits is refused on SQLite as on
 * PostgreSQL. Every test runs on both databases ("default" is PostgreSQL in the _pg
 * variant, "other" is always SQLite). */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

LIBRARY_SUITE(orm_fixes3);

/* ---- (a) a decimal on a database whose dialect is not the default's ---- */

static tdb_other other;

static void multi_setup(void)
{
    library_suite_setup(); /* the default database, with the library */
    tdb_other_open(&t, &other);
}

static void multi_teardown(void)
{
    tdb_close(&t);
    tdb_other_close(&other);
}

TestSuite(orm_fixes3_multidb, .init = multi_setup, .fini = multi_teardown);

#define OTHER(Model) mn_qs_using(mn_all(t.o, Model), "other")

static const char *repr(mn_value *v)
{
    return tdb_repr(&t, v);
}

/* The one value of a flat values_list() of qs. */
static mn_value *only_value(mn_qs *qs, const char *field)
{
    mn_rows *r = mn_qs_fetch(mn_qs_values_list(qs, field, true));
    cr_assert(r && r->len == 1, "%s: %s", field, r ? "not one row" : mn_orm_error(t.o));
    return r->items[0];
}

static Book *other_book(const char *title, const char *price)
{
    Author *a = mn_get(OTHER(Author), "name", "Olga");
    if (!a)
        a = mn_qs_create(OTHER(Author), "name", "Olga");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    Book *b = mn_qs_create(OTHER(Book), "title", title, "author", a, "price", price);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    return b;
}

Test(orm_fixes3_multidb, decimal_saved_and_read_on_the_other_database)
{
    Book *b = other_book("Far", "12.34");
    Book *got = mn_get(OTHER(Book), "pk", b->id);
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(got->price, "12.34");
    cr_expect_str_eq(repr(only_value(mn_filter(OTHER(Book), "pk", b->id), "price")),
                     "Decimal('12.34')");
    /* select_related() and an F() annotation decode as well */
    mn_rows *r = mn_qs_fetch(
        mn_qs_annotate(mn_qs_select_related(OTHER(Book), "author"), "twice",
                       mn_expr_op(t.o, '*', mn_F(t.o, "price"), mn_V(t.o, mn_arg_int(2)))));
    cr_assert(r && r->len == 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Book *)r->items[0])->price, "12.34");
    cr_expect_str_eq(repr(mn_obj_annotation(r->items[0], "twice")), "Decimal('24.68')");
    /* save() back to "other" keeps the value */
    got->title = "Farther";
    cr_assert_eq(mn_save(t.o, got), 0, "%s", mn_orm_error(t.o));
    Book *again = mn_get(OTHER(Book), "pk", b->id);
    cr_assert_not_null(again, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(again->price, "12.34");
    /* the default database's decimals are untouched and read as before */
    cr_expect_str_eq(repr(only_value(mn_filter(mn_all(t.o, Book), "title", "Dune"), "price")),
                     "Decimal('19.99')");
}

Test(orm_fixes3_multidb, decimal_filters_on_the_other_database)
{
    other_book("Cheap", "7.50");
    other_book("Dear", "45.10");
    cr_expect_eq(mn_qs_count(mn_filter(OTHER(Book), "price", "7.50")), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(OTHER(Book), "price__gt", "10")), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(OTHER(Book), "price__in", MN_IN_STR("7.5", "45.1"))), 2,
                 "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(OTHER(Book), "price__range", MN_IN_STR("7.49", "7.51"))), 1,
                 "%s", mn_orm_error(t.o));
}

Test(orm_fixes3_multidb, decimal_aggregates_on_the_other_database)
{
    other_book("Cheap", "7.50");
    other_book("Dear", "45.10");
    cr_expect_str_eq(repr(mn_qs_aggregate(OTHER(Book), "s", mn_Sum(t.o, "price", NULL))),
                     "{'s': Decimal('52.60')}");
    cr_expect_str_eq(repr(mn_qs_aggregate(OTHER(Book), "m", mn_Max(t.o, "price", NULL))),
                     "{'m': Decimal('45.10')}");
    cr_expect_str_eq(repr(mn_qs_aggregate(OTHER(Book), "m", mn_Min(t.o, "price", NULL))),
                     "{'m': Decimal('7.50')}");
    mn_value *avg = mn_qs_aggregate(OTHER(Book), "a", mn_Avg(t.o, "price", NULL));
    cr_assert_not_null(avg, "%s", mn_orm_error(t.o));
    mn_value *want = mn_value_decimal(t.arena, "26.3", 4);
    if (!mn_value_equal(mn_value_dict_get(avg, "a", 1), want))
        cr_expect_fail("Avg(price) on other: %s", repr(avg));
}

Test(orm_fixes3_multidb, decimal_updates_and_bulk_writes_on_the_other_database)
{
    Book *b = other_book("Far", "12.34");
    cr_expect_eq(mn_update(mn_filter(OTHER(Book), "pk", b->id), "price", "20.50"), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_str_eq(repr(only_value(mn_filter(OTHER(Book), "pk", b->id), "price")),
                     "Decimal('20.50')");
    cr_expect_eq(mn_update(mn_filter(OTHER(Book), "pk", b->id), "price",
                           mn_expr_op(t.o, '+', mn_F(t.o, "price"), mn_V(t.o, mn_arg_str("0.25")))),
                 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(repr(only_value(mn_filter(OTHER(Book), "pk", b->id), "price")),
                     "Decimal('20.75')");
    /* bulk_create and bulk_update on "other" */
    Book *n = mn_new(t.o, Book);
    n->title = "Bulk";
    n->author.id = b->author.id;
    n->price = "3.25";
    cr_assert_eq(mn_bulk_create(t.o, &Book_model, (void **)&n, 1, &(mn_bulk_opts){.db = "other"}),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(repr(only_value(mn_filter(OTHER(Book), "title", "Bulk"), "price")),
                     "Decimal('3.25')");
    /* an instance read from "other" saves back there */
    Book *got = mn_get(OTHER(Book), "title", "Bulk");
    cr_assert_not_null(got, "%s", mn_orm_error(t.o));
    got->price = "4.75";
    cr_assert_eq(mn_save(t.o, got), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(repr(only_value(mn_filter(OTHER(Book), "title", "Bulk"), "price")),
                     "Decimal('4.75')");
}

/* ---- (b) a sliced, distinct __in subquery ordered across a relation ---- */

static const char *sorted_titles(mn_qs *qs)
{
    return library_names(&t, mn_qs_order_by(qs, "title"));
}

Test(orm_fixes3, sliced_distinct_in_subquery_ordered_by_a_related_field)
{
    mn_qs *sub =
        mn_qs_slice(mn_qs_order_by(mn_qs_distinct(mn_all(t.o, Book)), "author__name"), 0, 2);
    cr_expect_str_eq(sorted_titles(mn_filter(mn_all(t.o, Book), "pk__in", sub)), "Dune,Emma");
    /* the join of the filter gives Odes twice: distinct() keeps it once, so the slice's second
     * row is Ann's first book */
    mn_qs *tagged = mn_filter(mn_all(t.o, Book), "tags__name__in", MN_IN_STR("classic", "poetry"));
    sub = mn_qs_slice(mn_qs_order_by(mn_qs_distinct(tagged), "-author__name,title"), 0, 2);
    cr_expect_str_eq(sorted_titles(mn_filter(mn_all(t.o, Book), "pk__in", sub)),
                     "Dune,Odes 50% off_sale");
    /* an explicit values_list("pk"), an offset, exclude() */
    sub = mn_qs_values_list(
        mn_qs_slice(mn_qs_order_by(mn_qs_distinct(mn_all(t.o, Book)), "-author__name,title"), 1, 3),
        "pk", true);
    cr_expect_str_eq(sorted_titles(mn_filter(mn_all(t.o, Book), "pk__in", sub)),
                     "Dune,SQL in Depth");
    cr_expect_str_eq(sorted_titles(mn_exclude(mn_all(t.o, Book), "pk__in", sub)),
                     "Emma,Odes 50% off_sale");
    /* a related filter: the authors of the two cheapest books */
    sub = mn_qs_values_list(
        mn_qs_slice(mn_qs_order_by(mn_qs_distinct(mn_all(t.o, Book)), "author__email,price"), 0, 2),
        "author", true);
    mn_rows *r = mn_qs_fetch(mn_filter(mn_all(t.o, Author), "pk__in", sub));
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_eq(r->len, 1, "Bob (no email) or Ann, but one author");
}

Test(orm_fixes3, sliced_distinct_in_subquery_with_random_order)
{
    mn_qs *sub =
        mn_qs_slice(mn_qs_order_by(mn_qs_distinct(mn_all(t.o, Book)), "?,author__name"), 0, 2);
    mn_rows *r = mn_qs_fetch(mn_filter(mn_all(t.o, Book), "pk__in", sub));
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_eq(r->len, 2);
}

/* ---- (c) update() with a decimal expression wider than max_digits ---- */

static void expect_overflow(int64_t rc, const char *what)
{
    if (rc != MN_EDB_DATA)
        cr_expect_eq(rc, MN_EDB_DATA, "%s: %lld %s", what, (long long)rc, mn_orm_error(t.o));
    const char *e = mn_orm_error(t.o);
    if (!strstr(e, "numeric field overflow"))
        cr_expect_fail("%s: %s", what, e);
    if (!tdb_is_pg(&t) && !strstr(e, "Book.price"))
        cr_expect_fail("%s: the message names the field: %s", what, e);
}

static const char *stored_price(const Book *b)
{
    return repr(only_value(mn_filter(mn_all(t.o, Book), "pk", b->id), "price"));
}

static mn_expr *price_times(int64_t k)
{
    return mn_expr_op(t.o, '*', mn_F(t.o, "price"), mn_V(t.o, mn_arg_int(k)));
}

Test(orm_fixes3, update_with_a_decimal_expression_past_max_digits_is_refused)
{
    mn_qs *dune = mn_filter(mn_all(t.o, Book), "pk", lib.dune->id);
    /* Book.price: max_digits=8, decimal_places=2; 19.99 * 10^7 has 9 digits before the point */
    expect_overflow(mn_update(dune, "price", price_times(10000000)), "price * 10^7");
    expect_overflow(mn_update(dune, "price", price_times(-10000000)), "price * -10^7");
    /* past 64 bits as SQLite's scaled integer (it turns into a REAL) */
    expect_overflow(mn_update(dune, "price", price_times(INT64_C(1000000000000000000))),
                    "price * 10^18");
    expect_overflow(
        mn_update(dune, "price",
                  mn_expr_op(t.o, '+', mn_F(t.o, "price"), mn_V(t.o, mn_arg_str("999980.02")))),
        "price + 999980.02");
    cr_expect_str_eq(stored_price(lib.dune), "Decimal('19.99')", "nothing was written");
    /* one row too wide refuses the whole statement */
    expect_overflow(mn_update(mn_all(t.o, Book), "price", price_times(30000)), "every book");
    cr_expect_str_eq(stored_price(lib.emma), "Decimal('7.50')", "nothing was written");

    /* what fits is stored: 999999.99 is the widest */
    cr_expect_eq(mn_update(dune, "price", price_times(10000)), 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(lib.dune), "Decimal('199900.00')");
    cr_expect_eq(
        mn_update(dune, "price",
                  mn_expr_op(t.o, '-', mn_F(t.o, "price"), mn_V(t.o, mn_arg_str("-800099.99")))),
        1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(lib.dune), "Decimal('999999.99')");
    cr_expect_eq(mn_update(dune, "price", mn_F_add(t.o, "pages", 7)), 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(lib.dune), "Decimal('419.00')");
    /* a NULL decimal stays NULL */
    Everything *e = mn_create(t.o, Everything, "small", 1);
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_update(mn_filter(mn_all(t.o, Everything), "pk", e->id), "amount",
                           mn_F_add(t.o, "amount", 1)),
                 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(repr(only_value(mn_filter(mn_all(t.o, Everything), "pk", e->id), "amount")),
                     "None");
}
