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

/* ---- Expressions over annotations: an F() naming a decimal annotation has its type and
 * places, so nested annotations, aggregates over them, values() and filters read back the
 * exact Decimal Django gives, not SQLite's scaled integer. ---- */

/* annotate(total=F("price") * F("pages")) */
static mn_qs *with_total(void)
{
    return mn_qs_annotate(mn_all(t.o, Book), "total", op('*', F("price"), F("pages")));
}

static mn_value *first_annotation(mn_qs *qs, const char *name)
{
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    return mn_obj_annotation(rows->items[0], name);
}

Test(orm_decimal, annotation_over_decimal_annotation)
{
    mn_qs *q =
        mn_qs_annotate(with_total(), "with_tax", op('*', F("total"), mn_V(t.o, mn_arg_str("1.2"))));
    expect_decimal(first_annotation(q, "total"), "150", "total");
    expect_decimal(first_annotation(q, "with_tax"), "180", "total * 1.2");
    q = mn_qs_annotate(with_total(), "plus", op('+', F("total"), F("price")));
    expect_decimal(first_annotation(q, "plus"), "151.5", "total + price");
    cr_expect_str_eq(repr(first_annotation(q, "plus")), "Decimal('151.50')");
    /* an annotation that is only another annotation, two levels down */
    q = mn_qs_annotate(mn_qs_annotate(with_total(), "t2", F("total")), "t3",
                       op('-', F("t2"), mn_V(t.o, mn_arg_int(1))));
    expect_decimal(first_annotation(q, "t2"), "150", "F('total')");
    expect_decimal(first_annotation(q, "t3"), "149", "F('t2') - 1");
    /* a quotient of annotations */
    q = mn_qs_annotate(with_total(), "per", op('/', F("total"), F("pages")));
    expect_decimal(first_annotation(q, "per"), "1.5", "total / pages");
}

Test(orm_decimal, values_of_nested_decimal_annotations)
{
    mn_qs *q =
        mn_qs_annotate(with_total(), "with_tax", op('*', F("total"), mn_V(t.o, mn_arg_str("1.2"))));
    mn_rows *rows = mn_qs_fetch(mn_qs_values(q, "title,total,with_tax"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    expect_decimal(mn_value_dict_get(rows->items[0], "with_tax", 8), "180", "values()");
    expect_decimal(mn_value_dict_get(rows->items[0], "total", 5), "150", "values()");
    rows = mn_qs_fetch(mn_qs_values_list(q, "with_tax", true));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    expect_decimal(rows->items[0], "180", "values_list(flat)");
}

Test(orm_decimal, aggregates_over_decimal_annotations)
{
    Author *a = mn_qs_get(mn_all(t.o, Author));
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_assert_not_null(
        mn_create(t.o, Book, "title", "L", "author", a->id, "pages", 10, "price", "2.25"));
    /* totals 150.00 and 22.50 */
    mn_qs *q = with_total();
    expect_decimal(mn_value_dict_get(mn_qs_aggregate(q, "s", mn_Sum(t.o, "total", NULL)), "s", 1),
                   "172.5", "Sum(total)");
    expect_decimal(mn_value_dict_get(mn_qs_aggregate(q, "m", mn_Max(t.o, "total", NULL)), "m", 1),
                   "150", "Max(total)");
    expect_decimal(mn_value_dict_get(mn_qs_aggregate(q, "m", mn_Min(t.o, "total", NULL)), "m", 1),
                   "22.5", "Min(total)");
    expect_decimal(mn_value_dict_get(mn_qs_aggregate(q, "a", mn_Avg(t.o, "total", NULL)), "a", 1),
                   "86.25", "Avg(total)");
    mn_qs *n = mn_qs_annotate(q, "tax", op('*', F("total"), mn_V(t.o, mn_arg_str("0.2"))));
    expect_decimal(mn_value_dict_get(mn_qs_aggregate(n, "s", mn_Sum(t.o, "tax", NULL)), "s", 1),
                   "34.5", "Sum(tax) over a nested annotation");
    expect_decimal(mn_value_dict_get(mn_qs_aggregate(n, "m", mn_Max(t.o, "tax", NULL)), "m", 1),
                   "30", "Max(tax) over a nested annotation");
}

Test(orm_decimal, filter_and_order_by_decimal_annotations)
{
    Author *a = mn_qs_get(mn_all(t.o, Author));
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_assert_not_null(
        mn_create(t.o, Book, "title", "L", "author", a->id, "pages", 10, "price", "2.25"));
    mn_qs *q =
        mn_qs_annotate(with_total(), "with_tax", op('*', F("total"), mn_V(t.o, mn_arg_str("1.2"))));
    cr_expect_eq(mn_qs_count(mn_filter(q, "with_tax__gt", "100")), 1, "180 > 100, 27 < 100");
    cr_expect_eq(mn_qs_count(mn_filter(q, "with_tax", "27")), 1, "22.50 * 1.2 = 27");
    cr_expect_eq(mn_qs_count(mn_filter(q, "with_tax__lt", F("total"))), 0, "x*1.2 < x");
    cr_expect_eq(mn_qs_count(mn_filter(q, "total__gt", F("price"))), 2);
    mn_rows *rows = mn_qs_fetch(mn_qs_values_list(mn_qs_order_by(q, "with_tax"), "title", true));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    cr_expect_str_eq(repr(rows->items[0]), "'L'", "27 before 180");
    rows = mn_qs_fetch(mn_qs_order_by(q, "-with_tax"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    expect_decimal(mn_obj_annotation(rows->items[0], "with_tax"), "180", "first by -with_tax");
    expect_decimal(mn_obj_annotation(rows->items[1], "with_tax"), "27", "last by -with_tax");
}

/* ---- Raw SQL: a column mapped to a DecimalField reads back as the Decimal on both
 * databases; an unmapped one is what the database holds, and mn_field_from_db converts it. */

Test(orm_decimal, raw_decimal_columns_are_decimals)
{
    Author *a = mn_qs_get(mn_all(t.o, Author));
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Book, "title", "L", "author", a->id, "price", "2.05"), "%s",
                       mn_orm_error(t.o));
    mn_rows *rows = mn_raw(t.o, &Book_model,
                           "SELECT id, title, price FROM library_book ORDER BY title", NULL, 0);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    cr_expect_str_eq(((Book *)rows->items[0])->price, "1.50");
    cr_expect_str_eq(((Book *)rows->items[1])->price, "2.05");
    expect_decimal(mn_obj_get_value(t.o, rows->items[0], "price"), "1.5", "raw price");
    /* an aggregate the query names after the field is that field's value */
    rows = mn_raw(t.o, &Book_model, "SELECT MIN(id) AS id, SUM(price) AS price FROM library_book",
                  NULL, 0);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    cr_expect_str_eq(((Book *)rows->items[0])->price, "3.55");
}

Test(orm_decimal, plain_sql_decimal_through_mn_field_from_db)
{
    mn_dbconn *c = mn_orm_conn(t.o, NULL);
    cr_assert_not_null(c, "%s", mn_orm_error(t.o));
    mn_dbresult res;
    cr_assert_eq(mn_dbconn_exec(c, t.arena, "SELECT price, pages FROM library_book", NULL, 0, &res),
                 0, "%s", mn_dbconn_errmsg(c));
    cr_assert_eq(res.nrows, 1);
    const mn_fielddef *price = mn_model_field(&Book_model, "price");
    expect_decimal(mn_field_from_db(t.o, price, mn_dbresult_cell(&res, 0, 0)), "1.50",
                   "mn_field_from_db(price)");
    cr_expect_str_eq(repr(mn_field_from_db(t.o, price, mn_dbresult_cell(&res, 0, 0))),
                     "Decimal('1.50')");
    cr_expect_str_eq(repr(mn_field_from_db(t.o, mn_model_field(&Book_model, "pages"),
                                           mn_dbresult_cell(&res, 0, 1))),
                     "100");
    /* raw(): a column no field maps stays as stored, documented; the helper converts it */
    mn_rows *rows = mn_raw(t.o, &Book_model, "SELECT id, price AS cost FROM library_book", NULL, 0);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    cr_expect_not_null(mn_obj_annotation(rows->items[0], "cost"));
}
