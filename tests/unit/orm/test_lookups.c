/* test_lookups.c — filter/exclude with every lookup and date transform, across forward,
 * reverse and many-to-many relations, with Q objects and F expressions. Same results on
 * SQLite and PostgreSQL. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

LIBRARY_SUITE(orm_lookups);

/* The titles of a Book queryset, ordered by title, joined with ','. */
static const char *titles(mn_qs *qs)
{
    return library_names(&t, mn_qs_order_by(qs, "title"));
}

#define BOOKS(...) titles(mn_filter(mn_all(t.o, Book), __VA_ARGS__))
#define NOT_BOOKS(...) titles(mn_exclude(mn_all(t.o, Book), __VA_ARGS__))

Test(orm_lookups, text_lookups)
{
    cr_expect_str_eq(BOOKS("title", "Dune"), "Dune");
    cr_expect_str_eq(BOOKS("title__exact", "dune"), "");
    cr_expect_str_eq(BOOKS("title__iexact", "dUNE"), "Dune");
    cr_expect_str_eq(BOOKS("title__contains", "in"), "SQL in Depth");
    cr_expect_str_eq(BOOKS("title__contains", "IN"), "", "contains is case-sensitive");
    cr_expect_str_eq(BOOKS("title__icontains", "E"), "Dune,Emma,Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(BOOKS("title__contains", "50%"), "Odes 50% off_sale");
    cr_expect_str_eq(BOOKS("title__contains", "%"), "Odes 50% off_sale", "%% is literal");
    cr_expect_str_eq(BOOKS("title__icontains", "_"), "Odes 50% off_sale", "_ is literal");
    cr_expect_str_eq(BOOKS("title__contains", "*"), "", "* is literal");
    cr_expect_str_eq(BOOKS("title__startswith", "E"), "Emma");
    cr_expect_str_eq(BOOKS("title__istartswith", "s"), "SQL in Depth");
    cr_expect_str_eq(BOOKS("title__endswith", "a"), "Emma");
    cr_expect_str_eq(BOOKS("title__iendswith", "DEPTH"), "SQL in Depth");
    cr_expect_str_eq(BOOKS("title__regex", "^[DE]"), "Dune,Emma");
    cr_expect_str_eq(BOOKS("title__iregex", "^s.l"), "SQL in Depth");
    cr_expect_str_eq(BOOKS("title__in", MN_IN_STR("Emma", "Dune", "Nope")), "Dune,Emma");
    cr_expect_str_eq(BOOKS("title", "x' OR '1'='1"), "", "values are bound, never spliced");
}

Test(orm_lookups, number_decimal_and_null_lookups)
{
    cr_expect_str_eq(BOOKS("pages__gt", 400), "Dune,SQL in Depth");
    cr_expect_str_eq(BOOKS("pages__gte", 412), "Dune,SQL in Depth");
    cr_expect_str_eq(BOOKS("pages__lt", 320), "Odes 50% off_sale");
    cr_expect_str_eq(BOOKS("pages__lte", 320), "Emma,Odes 50% off_sale");
    cr_expect_str_eq(
        BOOKS("pages__range", mn_arg_list((mn_arg[]){mn_arg_int(100), mn_arg_int(420)}, 2)),
        "Dune,Emma");
    cr_expect_str_eq(BOOKS("pk__in", MN_IN(lib.dune->id, lib.sql->id)), "Dune,SQL in Depth");
    cr_expect_str_eq(BOOKS("pk__in", MN_IN()), "", "an empty list matches nothing");
    cr_expect_str_eq(BOOKS("price__gt", "12.00"), "Dune,SQL in Depth");
    cr_expect_str_eq(BOOKS("price", "12"), "Odes 50% off_sale", "decimals compare exactly");
    cr_expect_str_eq(BOOKS("price__lte", 12), "Emma,Odes 50% off_sale");
    cr_expect_str_eq(BOOKS("rating__gte", 4.5), "Dune,SQL in Depth");
    cr_expect_str_eq(BOOKS("published__isnull", true), "Odes 50% off_sale");
    cr_expect_str_eq(BOOKS("published", mn_arg_null()), "Odes 50% off_sale");
    cr_expect_str_eq(BOOKS("published__isnull", false), "Dune,Emma,SQL in Depth");
    cr_expect_str_eq(BOOKS("in_print", true), "Dune,Emma,Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(BOOKS("genre__in", MN_IN_STR("po", "nf")), "Odes 50% off_sale,SQL in Depth");
}

Test(orm_lookups, date_transforms)
{
    cr_expect_str_eq(BOOKS("published__year", 2021), "Dune");
    cr_expect_str_eq(BOOKS("published__year__lt", 2021), "Emma,SQL in Depth");
    cr_expect_str_eq(BOOKS("published__month", 12), "Emma");
    cr_expect_str_eq(BOOKS("published__day", 14), "Dune");
    cr_expect_str_eq(BOOKS("published__week_day", 1), "Dune", "1 is Sunday, as Django");
    cr_expect_str_eq(BOOKS("published__iso_week_day", 4), "Emma", "Thursday");
    cr_expect_str_eq(BOOKS("published__week", 53), "Emma");
    cr_expect_str_eq(BOOKS("published__iso_year", 2020), "Emma");
    cr_expect_str_eq(BOOKS("published__quarter", 3), "SQL in Depth");
    cr_expect_str_eq(BOOKS("published__gte", "2020-12-31"), "Dune,Emma");
    cr_expect_str_eq(BOOKS("published__range", MN_IN_STR("2019-01-01", "2020-12-30")),
                     "SQL in Depth");
    cr_expect_str_eq(BOOKS("published__date", "2021-03-14"), "Dune");
}

Test(orm_lookups, datetime_transforms_use_utc)
{
    mn_datetime dt = {.year = 2024,
                      .month = 1,
                      .day = 1,
                      .hour = 0,
                      .minute = 30,
                      .aware = true,
                      .utc_offset = 3600}; /* 2023-12-31 23:30 UTC */
    Question *q = mn_create(t.o, Question, "text", "new year", "pub_date", &dt);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_expect_eq(q->pub_date.year, 2023, "stored in UTC");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__year", 2023)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__hour", 23)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__minute", 30)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__date", "2023-12-31")), 1);
    cr_expect_eq(
        mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__lt", "2024-01-01T00:45:00+01:00")),
        1);
    cr_expect_eq(
        mn_qs_count(mn_filter(mn_all(t.o, Question), "pub_date__gte", "2023-12-31 23:30:00Z")), 1);
    Question *got = mn_get(mn_all(t.o, Question), "pk", q->id);
    cr_assert_not_null(got);
    cr_expect_eq(got->pub_date.day, 31);
    cr_expect_eq(got->pub_date.hour, 23);
    cr_expect_eq(got->pub_date.utc_offset, 0);
}

Test(orm_lookups, across_relations)
{
    cr_expect_str_eq(BOOKS("author__name", "Bob"), "Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(BOOKS("author", lib.ann), "Dune,Emma");
    cr_expect_str_eq(BOOKS("author_id", lib.ann->id), "Dune,Emma");
    cr_expect_str_eq(BOOKS("author__id", lib.bob->id), "Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(BOOKS("author__mentor__name", "Ann"), "Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(BOOKS("tags__name", "classic"), "Dune,Emma,Odes 50% off_sale");
    cr_expect_str_eq(BOOKS("tags", lib.tech), "SQL in Depth");
    cr_expect_str_eq(BOOKS("reviews__stars__gte", 4), "Dune,SQL in Depth");
    mn_qs *authors = mn_filter(mn_all(t.o, Author), "books__title__startswith", "E");
    Author *a = mn_qs_get(authors);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(a->name, "Ann");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "books__isnull", true)), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "mentees__name", "Bob")), 1);
    cr_expect_eq(
        mn_qs_count(mn_qs_distinct(mn_filter(mn_all(t.o, Tag), "books__author__name", "Ann"))), 1);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "books__pages__lt", 100)), 2);
    cr_expect_str_eq(BOOKS("author__in", mn_filter(mn_all(t.o, Author), "name", "Ann")),
                     "Dune,Emma", "__in takes a queryset (subquery)");
}

Test(orm_lookups, exclude_negates_as_django)
{
    cr_expect_str_eq(NOT_BOOKS("genre", "fi"), "Odes 50% off_sale,SQL in Depth");
    /* a NULL date is not "in 2021": it stays in the exclude() result */
    cr_expect_str_eq(NOT_BOOKS("published__year", 2021), "Emma,Odes 50% off_sale,SQL in Depth");
    /* multi-valued: drop books having ANY classic tag */
    cr_expect_str_eq(NOT_BOOKS("tags__name", "classic"), "SQL in Depth");
    cr_expect_str_eq(NOT_BOOKS("reviews__stars", 2), "Emma,Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(
        titles(mn_exclude(mn_filter(mn_all(t.o, Book), "author__name", "Ann"), "pages__gt", 400)),
        "Emma");
}

Test(orm_lookups, q_objects_combine)
{
    mn_orm *o = t.o;
    mn_q *q = mn_q_or(o, mn_Q(o, "pages__lt", 100), mn_Q(o, "pages__gt", 500));
    cr_expect_str_eq(titles(mn_qs_filter_q(mn_all(o, Book), q)), "Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(titles(mn_qs_exclude_q(mn_all(o, Book), q)), "Dune,Emma");
    mn_q *q2 = mn_q_and(o, mn_q_not(o, mn_Q(o, "author__name", "Bob")), mn_Q(o, "genre", "fi"));
    cr_expect_str_eq(titles(mn_qs_filter_q(mn_all(o, Book), q2)), "Dune,Emma");
    mn_q *q3 = mn_q_or(o, mn_Q(o, "title", "Dune", "pages", 1), mn_Q(o, "title", "Emma"));
    cr_expect_str_eq(titles(mn_qs_filter_q(mn_all(o, Book), q3)), "Emma");
    cr_expect_str_eq(titles(mn_qs_filter_q(mn_all(o, Book), mn_Q_kv(o, NULL, 0))),
                     "Dune,Emma,Odes 50% off_sale,SQL in Depth", "Q() matches everything");
}

Test(orm_lookups, f_expressions)
{
    mn_orm *o = t.o;
    /* pages > rating * 100: Dune 412 < 450, Emma 320 < 390, Odes 80 < 410, SQL 510 > 480 */
    mn_expr *e = mn_expr_op(o, '*', mn_F(o, "rating"), mn_V(o, mn_arg_int(100)));
    cr_expect_str_eq(BOOKS("pages__gt", e), "SQL in Depth");
    cr_expect_str_eq(BOOKS("author__name__startswith", mn_F(o, "author__name")),
                     "Dune,Emma,Odes 50% off_sale,SQL in Depth");
    int64_t n =
        mn_update(mn_filter(mn_all(o, Book), "author", lib.ann), "pages", mn_F_add(o, "pages", 10));
    cr_assert_eq(n, 2, "%s", mn_orm_error(o));
    cr_expect_str_eq(BOOKS("pages", 422), "Dune");
    cr_expect_eq(mn_update(mn_filter(mn_all(o, Book), "author__name", "Bob"), "pages",
                           mn_expr_op(o, '*', mn_F(o, "pages"), mn_V(o, mn_arg_int(2)))),
                 2, "update() across a relation filter");
    cr_expect_str_eq(BOOKS("pages", 160), "Odes 50% off_sale");
    cr_expect_eq(mn_update(mn_filter(mn_all(o, Book), "pk", lib.emma->id), "price",
                           mn_expr_op(o, '+', mn_F(o, "price"), mn_V(o, mn_arg_str("1.25")))),
                 1);
    cr_expect_eq(mn_update(mn_filter(mn_all(o, Book), "pk", lib.dune->id), "price",
                           mn_expr_op(o, '*', mn_F(o, "price"), mn_V(o, mn_arg_int(2)))),
                 1);
    cr_expect_str_eq(BOOKS("price", "8.75"), "Emma", "decimal arithmetic stays exact");
    cr_expect_str_eq(BOOKS("price", "39.98"), "Dune");
}

Test(orm_lookups, bad_lookups_are_precise_errors)
{
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "title__contain", "x")));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Unsupported lookup 'contain' for CharField Book.title or join on the field "
                     "not permitted; did you mean 'contains'? (in 'title__contain')");
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "title__year", 1)));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor__name", "x")));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'autor'; did you mean 'author'?");
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Author), "book__title", "x")));
    cr_expect_str_eq(mn_orm_error(t.o), "Author has no field 'book'; did you mean 'books'?");
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "author__mentor__nme", "x")));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Author has no field 'nme'; did you mean 'name'? (in 'author__mentor__nme')");
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "pages", "many")));
    cr_expect_str_eq(mn_orm_error(t.o), "Field 'pages' expected a number but got 'many'.");
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "published", "2021-13-01")));
    cr_expect_str_eq(mn_orm_error(t.o), "Book.published: \xe2\x80\x9c"
                                        "2021-13-01\xe2\x80\x9d value has the correct format "
                                        "(YYYY-MM-DD) but it is an invalid date.");
}
