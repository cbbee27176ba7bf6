/* test_decimal_exprs.c — F() arithmetic, comparisons and update() with a DecimalField stay
 * exact on both databases (SQLite stores the decimal as an integer scaled by
 * 10^decimal_places), and aggregates come back typed by their output field, as Django's:
 * Sum over integers is an int, Avg over a decimal is a Decimal. The rows of the audit's O24
 * table, each with Django's answer. Book K: pages 100, price 1.50 (8 digits, 2 places),
 * rating 2.0. */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <string.h>

static testdb t;
static void setup(void)
{
    tdb_open(&t);
    Author *a = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Book, "title", "K", "author", a->id, "pages", 100, "price",
                                 "1.50", "rating", 2.0),
                       "%s", mn_orm_error(t.o));
}
static void teardown(void)
{
    tdb_close(&t);
}
TestSuite(orm_decimal, .init = setup, .fini = teardown);

static const char *repr(const mn_value *v)
{
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_assert_not_null(v, "%s", mn_orm_error(t.o));
    mn_value_write_repr(v, t.arena, &b);
    return mn_buf_cstr(&b);
}

/* The annotation x of the only book. */
static mn_value *ann(const mn_expr *e)
{
    mn_qs *qs = mn_qs_values_list(mn_qs_annotate(mn_all(t.o, Book), "x", e), "x", true);
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    return rows->items[0];
}

/* v is a Decimal equal to want (the places may differ between the databases, as Django's). */
static void expect_decimal(const mn_value *v, const char *want, const char *what)
{
    cr_assert_not_null(v, "%s: %s", what, mn_orm_error(t.o));
    cr_expect_eq(v->kind, MN_VALUE_DECIMAL, "%s: %s is not a Decimal", what, repr(v));
    mn_value *w = mn_value_decimal(t.arena, want, strlen(want));
    cr_expect(mn_value_equal(v, w), "%s: got %s, Django gives Decimal('%s')", what, repr(v), want);
}

static mn_expr *F(const char *p)
{
    return mn_F(t.o, p);
}
static mn_expr *op(char c, const mn_expr *a, const mn_expr *b)
{
    return mn_expr_op(t.o, c, a, b);
}

Test(orm_decimal, product_of_decimal_columns)
{
    expect_decimal(ann(op('*', F("price"), F("price"))), "2.25", "price*price");
    cr_expect_str_eq(repr(ann(op('*', F("price"), F("price")))), "Decimal('2.2500')",
                     "a product has the places of both factors, as PostgreSQL's numeric");
}

Test(orm_decimal, quotient_of_decimal_columns)
{
    expect_decimal(ann(op('/', F("price"), F("price"))), "1", "price/price");
    expect_decimal(ann(op('/', F("price"), mn_V(t.o, mn_arg_int(4)))), "0.375", "price/4");
}

Test(orm_decimal, decimal_plus_integer_column)
{
    expect_decimal(ann(op('+', F("price"), F("pages"))), "101.50", "price+pages");
    expect_decimal(ann(op('-', F("pages"), F("price"))), "98.50", "pages-price");
    cr_expect_str_eq(repr(ann(op('+', F("price"), F("pages")))), "Decimal('101.50')");
}

Test(orm_decimal, integer_column_times_decimal)
{
    expect_decimal(ann(op('*', F("pages"), F("price"))), "150.00", "pages*price");
    cr_expect_str_eq(repr(ann(op('*', F("pages"), F("price")))), "Decimal('150.00')");
}

Test(orm_decimal, constants_stay_right)
{
    cr_expect_str_eq(repr(ann(op('*', F("price"), mn_V(t.o, mn_arg_int(2))))), "Decimal('3.00')");
    cr_expect_str_eq(repr(ann(op('+', F("price"), mn_V(t.o, mn_arg_str("0.20"))))),
                     "Decimal('1.70')");
    expect_decimal(ann(op('+', op('*', F("price"), F("price")), mn_V(t.o, mn_arg_str("0.25")))),
                   "2.5", "price*price + '0.25'");
}

Test(orm_decimal, decimal_with_float_column_is_float)
{
    mn_value *v = ann(op('+', F("price"), F("rating")));
    cr_assert_eq(v->kind, MN_VALUE_DOUBLE, "%s", repr(v));
    cr_expect_float_eq(v->u.d, 3.5, 1e-9);
}

Test(orm_decimal, filter_decimal_against_integer_column)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_expect_eq(mn_qs_count(mn_filter(q, "price__gt", F("pages"))), 0, "1.50 > 100");
    cr_expect_eq(mn_qs_count(mn_filter(q, "price__lt", F("pages"))), 1, "1.50 < 100");
    cr_expect_eq(mn_qs_count(mn_filter(q, "pages__lt", F("price"))), 0, "100 < 1.50");
    cr_expect_eq(mn_qs_count(mn_filter(q, "pages__gt", op('*', F("price"), F("price")))), 1,
                 "100 > 2.25");
}

Test(orm_decimal, filter_decimal_against_float_column)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_expect_eq(mn_qs_count(mn_filter(q, "price__lt", F("rating"))), 1, "1.50 < 2.0");
    cr_expect_eq(mn_qs_count(mn_filter(q, "rating__lt", F("price"))), 0, "2.0 < 1.50");
}

Test(orm_decimal, filter_on_an_exact_product)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_expect_eq(mn_qs_count(mn_filter(q, "price__lt", op('*', F("price"), F("price")))), 1,
                 "1.50 < 2.25");
    cr_expect_eq(mn_qs_count(mn_filter(q, "price__gte", op('*', F("price"), F("price")))), 0,
                 "1.50 >= 2.25");
    cr_expect_eq(mn_qs_count(mn_filter(q, "price__exact", op('-', F("pages"), F("price")))), 0,
                 "1.50 = 98.50");
    cr_expect_eq(mn_qs_count(mn_filter(mn_qs_annotate(q, "sq", op('*', F("price"), F("price"))),
                                       "sq", "2.25")),
                 1, "price*price = 2.25");
}

Test(orm_decimal, update_with_product_of_decimals)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_assert_eq(mn_update(q, "price", op('*', F("price"), F("price"))), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "p", mn_Max(t.o, "price", NULL))),
                     "{'p': Decimal('2.25')}");
    /* 2.25 * 2.25 = 5.0625: stored at two places, half away from zero (PostgreSQL's numeric) */
    cr_assert_eq(mn_update(q, "price", op('*', F("price"), F("price"))), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "p", mn_Max(t.o, "price", NULL))),
                     "{'p': Decimal('5.06')}");
}

Test(orm_decimal, update_decimal_from_integer_column)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_assert_eq(mn_update(q, "price", F("pages")), 1, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "p", mn_Max(t.o, "price", NULL))),
                     "{'p': Decimal('100.00')}");
    Book *b = mn_qs_get(q);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->price, "100.00");
}

Test(orm_decimal, update_decimal_from_quotient_rounds)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_assert_eq(mn_update(q, "price", op('/', F("price"), mn_V(t.o, mn_arg_int(4)))), 1, "%s",
                 mn_orm_error(t.o));
    /* 0.375 at two places */
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "p", mn_Max(t.o, "price", NULL))),
                     "{'p': Decimal('0.38')}");
}

Test(orm_decimal, update_integer_from_decimal_column)
{
    mn_qs *q = mn_all(t.o, Book);
    cr_assert_eq(mn_update(q, "pages", op('*', F("price"), mn_V(t.o, mn_arg_int(3)))), 1, "%s",
                 mn_orm_error(t.o));
    /* 4.50 into an integer column: 5 (half away from zero, as PostgreSQL) */
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "p", mn_Max(t.o, "pages", NULL))), "{'p': 5}");
}

Test(orm_decimal, sum_of_annotated_decimal_is_decimal)
{
    mn_qs *q =
        mn_qs_annotate(mn_all(t.o, Book), "x", op('*', F("price"), mn_V(t.o, mn_arg_int(2))));
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "s", mn_Sum(t.o, "x", NULL))),
                     "{'s': Decimal('3.00')}");
}

Test(orm_decimal, sum_over_integers_is_int)
{
    Author *a = mn_qs_get(mn_all(t.o, Author));
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Book, "title", "L", "author", a->id, "price", "2.00"));
    mn_qs *q = mn_qs_annotate(mn_all(t.o, Author), "n", mn_Count(t.o, "books", false, NULL));
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "s", mn_Sum(t.o, "n", NULL))), "{'s': 2}");
    cr_expect_str_eq(repr(mn_qs_aggregate(mn_all(t.o, Book), "s", mn_Sum(t.o, "author", NULL))),
                     "{'s': 2}");
    cr_expect_str_eq(repr(mn_qs_aggregate(mn_all(t.o, Book), "s", mn_Sum(t.o, "pages", NULL))),
                     "{'s': 200}");
}

Test(orm_decimal, avg_of_decimal_is_exact)
{
    Author *a = mn_qs_get(mn_all(t.o, Author));
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Book, "title", "L", "author", a->id, "price", "2.00"));
    cr_assert_not_null(mn_create(t.o, Book, "title", "M", "author", a->id, "price", "2.01"));
    /* (1.50 + 2.00 + 2.01) / 3 = 1.83666..., at the field's places + 4, half away from zero */
    cr_expect_str_eq(repr(mn_qs_aggregate(mn_all(t.o, Book), "a", mn_Avg(t.o, "price", NULL))),
                     "{'a': Decimal('1.836667')}");
    cr_expect_str_eq(repr(mn_qs_aggregate(mn_filter(mn_all(t.o, Book), "title", "K"), "a",
                                          mn_Avg(t.o, "price", NULL))),
                     "{'a': Decimal('1.500000')}");
    cr_expect_str_eq(repr(mn_qs_aggregate(mn_filter(mn_all(t.o, Book), "title", "none"), "a",
                                          mn_Avg(t.o, "price", NULL))),
                     "{'a': None}");
    /* over an annotated queryset (aggregated from a subquery) too */
    mn_qs *q = mn_qs_annotate(mn_all(t.o, Book), "x", F("pages"));
    cr_expect_str_eq(repr(mn_qs_aggregate(q, "a", mn_Avg(t.o, "price", NULL))),
                     "{'a': Decimal('1.836667')}");
    /* Avg over integers stays a float */
    cr_expect_str_eq(repr(mn_qs_aggregate(mn_all(t.o, Book), "a", mn_Avg(t.o, "pages", NULL))),
                     "{'a': 100.0}");
}
