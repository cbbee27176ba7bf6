/* test_query_compile.c — query shapes the audit found compiled wrong, each as Django answers
 * it on the same data: annotated querysets read by delete(), values(), subqueries, exists()
 * and update(); aggregate() over values().annotate(); Meta.ordering in GROUP BY queries;
 * exclude(x=None); chained filter() across multi-valued relations; exists() of a slice;
 * order_by(a relation); integer x float arithmetic; the lookup error messages. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

LIBRARY_SUITE(orm_query);

/* The names (authors, tags) or titles (books, reviews by body) of the rows, in order. */
static const char *names(mn_qs *qs)
{
    return library_names(&t, qs);
}

static mn_qs *by_books(void) /* every author with n = its number of books (Ann 2, Bob 2, Cy 0) */
{
    return mn_qs_annotate(mn_all(t.o, Author), "n", mn_Count(t.o, "books", false, NULL));
}

/* O21: the annotation column was read as the primary key: delete() removed other rows. */
Test(orm_query, delete_of_an_annotated_queryset_deletes_its_own_rows)
{
    mn_orm *o = t.o;
    mn_qs *qs =
        mn_filter(mn_qs_annotate(mn_all(o, Book), "nrev", mn_Count(o, "reviews", false, NULL)),
                  "pages__gte", 400); /* Dune (2 reviews) and SQL in Depth (1) */
    mn_delete_report rep;
    int64_t n = mn_qs_delete(qs, &rep);
    cr_assert_geq(n, 2, "%s", mn_orm_error(o));
    cr_expect_str_eq(names(mn_qs_order_by(mn_all(o, Book), "title")), "Emma,Odes 50% off_sale");
    /* filtered on the annotation (HAVING) */
    mn_qs *tagged =
        mn_filter(mn_qs_annotate(mn_all(o, Book), "ntags", mn_Count(o, "tags", false, NULL)),
                  "ntags__gte", 2); /* Odes (poetry, classic); Emma has one */
    cr_assert_geq(mn_qs_delete(tagged, NULL), 1, "%s", mn_orm_error(o));
    cr_expect_str_eq(names(mn_qs_order_by(mn_all(o, Book), "title")), "Emma");
}

Test(orm_query, values_after_annotate_select_exactly_the_named_fields)
{
    mn_qs *qs = mn_qs_order_by(by_books(), "name");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(qs, "name", true)),
                     "['Ann', 'Bob', 'Cy']");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(mn_filter(qs, "n__lt", 1), "name", true)),
                     "['Cy']");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(qs, "name")),
                     "[{'name': 'Ann'}, {'name': 'Bob'}, {'name': 'Cy'}]");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(qs, "name,n")),
                     "[{'name': 'Ann', 'n': 2}, {'name': 'Bob', 'n': 2}, {'name': 'Cy', 'n': 0}]");
    mn_qs *pks = mn_qs_values_list(mn_filter(qs, "n__lt", 1), "pk", true);
    cr_expect_str_eq(tdb_rows_repr(&t, pks),
                     mn_arena_printf(t.arena, "[%lld]", (long long)lib.cy->id));
    /* values() before annotate() lists the annotation and groups by the values */
    mn_qs *per_author = mn_qs_annotate(mn_qs_values(mn_all(t.o, Book), "author"), "n",
                                       mn_Count(t.o, "id", false, NULL));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_order_by(per_author, "author")),
                     mn_arena_printf(t.arena,
                                     "[{'author': %lld, 'n': 2}, {'author': %lld, 'n': 2}]",
                                     (long long)lib.ann->id, (long long)lib.bob->id));
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_order_by(mn_qs_values_list(per_author, "author", true), "author")),
        mn_arena_printf(t.arena, "[%lld, %lld]", (long long)lib.ann->id, (long long)lib.bob->id));
}

Test(orm_query, annotated_querysets_as_subqueries)
{
    mn_orm *o = t.o;
    mn_qs *busy = mn_filter(by_books(), "n__gte", 1); /* Ann, Bob */
    cr_expect_str_eq(
        names(mn_qs_order_by(
            mn_filter(mn_all(o, Author), "pk__in", mn_qs_values_list(busy, "pk", true)), "name")),
        "Ann,Bob");
    cr_expect_str_eq(names(mn_qs_order_by(mn_exclude(mn_all(o, Author), "pk__in", busy), "name")),
                     "Cy");
    mn_qs *idle = mn_filter(by_books(), "n", 0);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o, Book), "author__in", idle)), 0, "%s",
                 mn_orm_error(o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o, Book), "author__in", busy)), 4, "%s",
                 mn_orm_error(o));
}

Test(orm_query, update_of_an_annotated_queryset_filtered_on_the_annotation)
{
    mn_orm *o = t.o;
    int64_t n = mn_update(mn_filter(by_books(), "n", 0), "email", "idle@example.com");
    cr_assert_eq(n, 1, "%s", mn_orm_error(o));
    Author *cy = mn_get(mn_all(o, Author), "pk", lib.cy->id);
    cr_assert_not_null(cy);
    cr_expect_str_eq(cy->email, "idle@example.com");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o, Author), "email", "idle@example.com")), 1);
}

/* O20 */
Test(orm_query, exists_keeps_the_grouping)
{
    mn_orm *o = t.o;
    cr_expect_eq(mn_qs_exists(mn_filter(by_books(), "n__gte", 2)), 1, "%s", mn_orm_error(o));
    cr_expect_eq(mn_qs_exists(mn_filter(by_books(), "n__gte", 3)), 0, "%s", mn_orm_error(o));
    mn_qs *per_author = mn_qs_annotate(mn_qs_values(mn_all(o, Book), "author"), "n",
                                       mn_Count(o, "id", false, NULL));
    cr_expect_eq(mn_qs_exists(mn_filter(per_author, "n__gt", 2)), 0, "%s", mn_orm_error(o));
    cr_expect_eq(mn_qs_exists(mn_filter(per_author, "n__gt", 1)), 1, "%s", mn_orm_error(o));
}

/* O22 */
Test(orm_query, aggregate_over_values_annotate_groups_by_the_values)
{
    mn_orm *o = t.o;
    mn_qs *per_book = mn_qs_annotate(mn_qs_values(mn_all(o, Review), "book"), "n",
                                     mn_Count(o, "id", false, NULL)); /* Dune 2, SQL 1 */
    cr_expect_str_eq(tdb_repr(&t, mn_qs_aggregate(per_book, "m", mn_Max(o, "n", NULL))),
                     "{'m': 2}");
    cr_expect_str_eq(tdb_repr(&t, mn_qs_aggregate(per_book, "s", mn_Count(o, "n", false, NULL))),
                     "{'s': 2}");
}

/* O15 */
Test(orm_query, meta_ordering_does_not_order_group_by_queries)
{
    mn_orm *o = t.o;
    mn_qs *qs = mn_qs_annotate(mn_qs_values(mn_all(o, Author), "mentor"), "n",
                               mn_Count(o, "id", false, NULL));
    const char *sql = mn_qs_sql(qs, NULL);
    cr_assert_not_null(sql, "%s", mn_orm_error(o));
    cr_expect_null(strstr(sql, "ORDER BY"), "%s", sql);
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_order_by(qs, "n")),
                     mn_arena_printf(t.arena,
                                     "[{'mentor': %lld, 'n': 1}, {'mentor': None, 'n': 2}]",
                                     (long long)lib.ann->id));
    /* runs on PostgreSQL too, also with a HAVING filter */
    cr_expect_str_eq(tdb_rows_repr(&t, mn_filter(qs, "n__gt", 1)), "[{'mentor': None, 'n': 2}]");
    /* an explicit order_by() still orders */
    cr_expect_not_null(strstr(mn_qs_sql(mn_qs_order_by(qs, "-n"), NULL), "ORDER BY"));
}

/* O17 */
Test(orm_query, exclude_none_excludes_the_null_rows)
{
    mn_orm *o = t.o;
    cr_expect_str_eq(names(mn_exclude(mn_all(o, Author), "email", (const char *)NULL)), "Ann,Cy");
    cr_expect_str_eq(
        names(mn_qs_filter_q(mn_all(o, Author), mn_q_not(o, mn_Q(o, "email", mn_arg_null())))),
        "Ann,Cy");
    cr_expect_str_eq(names(mn_exclude(mn_all(o, Author), "mentor", mn_arg_null())), "Bob");
    cr_expect_str_eq(
        names(mn_qs_order_by(mn_exclude(mn_all(o, Book), "author__email", mn_arg_null()), "title")),
        "Dune,Emma");
    cr_assert_not_null(mn_create(o, Review, "body", "orphan"));
    cr_expect_str_eq(
        names(mn_qs_order_by(mn_exclude(mn_all(o, Review), "book", mn_arg_null()), "body")),
        ",great,long");
    cr_expect_str_eq(names(mn_qs_order_by(
                         mn_exclude(mn_all(o, Review), "book__published", mn_arg_null()), "body")),
                     ",great,long");
    /* the other direction still keeps NULL rows of a comparison, as Django */
    cr_expect_str_eq(names(mn_exclude(mn_all(o, Author), "email", "ann@example.com")), "Bob,Cy");
}

/* O11 */
Test(orm_query, chained_filters_across_multi_valued_relations_get_their_own_join)
{
    mn_orm *o = t.o;
    /* Bob wrote a poem and a non-fiction book; nobody wrote one book that is both */
    mn_qs *chained =
        mn_filter(mn_filter(mn_all(o, Author), "books__genre", "po"), "books__genre", "nf");
    cr_expect_str_eq(names(chained), "Bob");
    cr_expect_str_eq(
        names(mn_filter(mn_all(o, Author), "books__genre", "po", "books__genre", "nf")), "",
        "one filter() call: the same book");
    cr_expect_str_eq(
        names(mn_qs_filter_q(mn_all(o, Author), mn_q_and(o, mn_Q(o, "books__genre", "po"),
                                                         mn_Q(o, "books__genre", "nf")))),
        "");
    /* M2M, and a FK after the multi-valued step */
    mn_qs *m2m =
        mn_filter(mn_filter(mn_all(o, Book), "tags__name", "poetry"), "tags__name", "classic");
    cr_expect_str_eq(names(m2m), "Odes 50% off_sale");
    cr_expect_str_eq(
        names(mn_filter(mn_all(o, Book), "tags__name", "poetry", "tags__name", "classic")), "");
    mn_qs *deep = mn_qs_distinct(mn_filter(mn_filter(mn_all(o, Tag), "books__author__name", "Ann"),
                                           "books__author__name", "Bob"));
    cr_expect_str_eq(names(deep), "classic");
    cr_expect_eq(mn_qs_count(deep), 1, "%s", mn_orm_error(o));
}

/* O13 */
Test(orm_query, exists_honours_a_slice)
{
    mn_qs *qs = mn_qs_order_by(mn_all(t.o, Book), "id");
    cr_expect_eq(mn_qs_exists(mn_qs_slice(qs, 10, 20)), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_exists(mn_qs_slice(qs, 2, 2)), 0);
    cr_expect_eq(mn_qs_exists(mn_qs_slice(qs, 4, -1)), 0);
    cr_expect_eq(mn_qs_exists(mn_qs_slice(qs, 3, -1)), 1);
    cr_expect_eq(mn_qs_exists(mn_qs_slice(qs, 0, 1)), 1);
}

/* O18 */
Test(orm_query, order_by_a_relation_uses_its_meta_ordering)
{
    mn_orm *o = t.o;
    Author *zed = mn_create(o, Author, "name", "Zed");
    Author *amy = mn_create(o, Author, "name", "Amy");
    cr_assert(zed && amy, "%s", mn_orm_error(o));
    cr_assert_not_null(mn_create(o, Book, "title", "Z1", "author", zed));
    cr_assert_not_null(mn_create(o, Book, "title", "A1", "author", amy));
    mn_qs *two = mn_filter(mn_all(o, Book), "title__in", MN_IN_STR("Z1", "A1"));
    cr_expect_str_eq(names(mn_qs_order_by(two, "author")), "A1,Z1");
    cr_expect_str_eq(names(mn_qs_order_by(two, "-author")), "Z1,A1");
    cr_expect_str_eq(names(mn_qs_order_by(two, "author_id")), "Z1,A1");
    cr_expect_str_eq(names(mn_qs_order_by(two, "author__id")), "Z1,A1");
    /* a relation whose model has no Meta.ordering orders by its primary key */
    cr_expect_str_eq(
        names(mn_qs_order_by(mn_filter(mn_all(o, Review), "book__isnull", false), "-book,body")),
        ",great,long");
}

/* O14 */
Test(orm_query, integer_times_float_is_a_float)
{
    mn_orm *o = t.o;
    mn_qs *odes = mn_filter(mn_all(o, Book), "pk", lib.odes->id); /* 80 pages, rating 4.1 */
    mn_qs *qs = mn_qs_annotate(
        mn_qs_annotate(
            mn_qs_annotate(odes, "h",
                           mn_expr_op(o, '*', mn_F(o, "pages"), mn_V(o, mn_arg_float(1.5)))),
            "half", mn_expr_op(o, '/', mn_F(o, "pages"), mn_V(o, mn_arg_float(2.0)))),
        "third", mn_expr_op(o, '/', mn_F(o, "pages"), mn_V(o, mn_arg_int(3))));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(qs, "h,half,third")),
                     "[{'h': 120.0, 'half': 40.0, 'third': 26}]");
    mn_qs *dune = mn_filter(mn_all(o, Book), "pk", lib.dune->id); /* 412 pages, rating 4.5 */
    mn_expr *w = mn_expr_op(o, '*', mn_F(o, "pages"), mn_F(o, "rating"));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(mn_qs_annotate(dune, "w", w), "w", true)),
                     "[1854.0]", "an integer column times a float column");
    mn_expr *d = mn_expr_op(o, '*', mn_F(o, "pages"), mn_V(o, mn_arg_int(2)));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(mn_qs_annotate(dune, "d", d), "d", true)),
                     "[824]", "integer x integer stays an integer");
    cr_expect_eq(
        mn_update(odes, "rating", mn_expr_op(o, '*', mn_F(o, "pages"), mn_V(o, mn_arg_float(0.5)))),
        1, "%s", mn_orm_error(o));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(odes, "rating", true)), "[40.0]");
}

/* O10 */
Test(orm_query, lookup_messages)
{
    mn_orm *o = t.o;
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o, Book), "pages__in", "abc")), MN_EINVAL);
    cr_expect_not_null(strstr(mn_orm_error(o), "pages__in needs a list"), "%s", mn_orm_error(o));
    cr_expect_null(strstr(mn_orm_error(o), "__in__in"));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o, Book), "pages__range", 5)), MN_EINVAL);
    cr_expect_not_null(strstr(mn_orm_error(o), "pages__range needs a list of two values"), "%s",
                       mn_orm_error(o));
    cr_expect_lt(mn_qs_count(mn_filter(mn_all(o, Book), "pages__isnull", "maybe")), 0);
    cr_expect_str_eq(mn_orm_error(o),
                     "The QuerySet value for an isnull lookup must be True or False.");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o, Book), "published__isnull", true)), 1);
    cr_expect_lt(mn_qs_count(mn_filter(mn_all(o, Book), "pages", "abc")), 0);
    cr_expect_str_eq(mn_orm_error(o), "Field 'pages' expected a number but got 'abc'.");
    cr_expect_lt(mn_qs_count(mn_filter(mn_all(o, Book), "author__isnul", true)), 0);
    cr_expect_not_null(strstr(mn_orm_error(o), "Related Field got invalid lookup: isnul"), "%s",
                       mn_orm_error(o));
    cr_expect_not_null(strstr(mn_orm_error(o), "'isnull'"), "%s", mn_orm_error(o));
    /* a misspelt field of the related model still names the model and its fields */
    cr_expect_lt(mn_qs_count(mn_filter(mn_all(o, Book), "author__nme", "Ann")), 0);
    cr_expect_not_null(strstr(mn_orm_error(o), "Author has no field 'nme'"), "%s", mn_orm_error(o));
}

/* O11, Django's "Order of annotate() and filter() clauses": a filter() after annotate() has
 * its own join and does not restrict what the annotation counts. */
Test(orm_query, filter_after_annotate_has_its_own_join)
{
    mn_orm *o = t.o;
    mn_qs *before =
        mn_qs_order_by(mn_qs_annotate(mn_filter(mn_all(o, Author), "books__pages__gt", 300), "n",
                                      mn_Count(o, "books", false, NULL)),
                       "name");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(before, "name,n", false)),
                     "[['Ann', 2], ['Bob', 1]]");
    mn_qs *after = mn_qs_order_by(mn_filter(by_books(), "books__pages__gt", 300), "name");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(after, "name,n", false)),
                     "[['Ann', 4], ['Bob', 2]]");
    /* a filter on the annotation itself is still its HAVING */
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values_list(mn_filter(by_books(), "n", 0), "name", true)),
        "['Cy']");
}
/* The prefetch query filters the related rows by their link back, then annotates that link:
 * both read the custom queryset's join when it filtered across the same relation. */
Test(orm_query, prefetch_m2m_with_a_filtered_custom_queryset)
{
    mn_orm *o = t.o;
    mn_qs *tags = mn_filter(mn_all(o, Tag), "books__pages__gt", 0);
    mn_rows *books =
        mn_qs_fetch(mn_qs_prefetch(mn_qs_order_by(mn_all(o, Book), "title"), "tags", tags));
    cr_assert_not_null(books, "%s", mn_orm_error(o));
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (size_t i = 0; i < books->len; i++) {
        mn_rows *r = mn_qs_fetch(mn_related(o, books->items[i], "tags"));
        cr_assert_not_null(r, "%s", mn_orm_error(o));
        mn_buf_printf(&b, "%s%s:%zu", i ? " " : "", ((Book *)books->items[i])->title, r->len);
    }
    cr_expect_str_eq(mn_buf_cstr(&b), "Dune:1 Emma:1 Odes 50% off_sale:2 SQL in Depth:1");
}
