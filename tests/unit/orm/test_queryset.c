/* test_queryset.c — the read API: ordering, slicing, distinct, values/values_list,
 * only/defer, first/last/latest/earliest, in_bulk, exists, annotate/aggregate (with filter=),
 * select_related/prefetch_related (counted queries), iterator, raw SQL and the Paginator. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

LIBRARY_SUITE(orm_qs);

static const char *list(mn_qs *qs)
{
    return library_names(&t, qs);
}

Test(orm_qs, ordering)
{
    cr_expect_str_eq(list(mn_all(t.o, Author)), "Ann,Bob,Cy", "Meta.ordering");
    cr_expect_str_eq(list(mn_qs_order_by(mn_all(t.o, Author), "-name")), "Cy,Bob,Ann");
    cr_expect_str_eq(list(mn_qs_reverse(mn_all(t.o, Author))), "Cy,Bob,Ann");
    cr_expect_str_eq(list(mn_qs_order_by(mn_all(t.o, Book), "-author__name,pages")),
                     "Odes 50% off_sale,SQL in Depth,Emma,Dune");
    cr_expect_str_eq(list(mn_qs_order_by(mn_all(t.o, Book), "genre, -price")),
                     "Dune,Emma,SQL in Depth,Odes 50% off_sale");
    mn_rows *r = mn_qs_fetch(mn_qs_order_by(mn_all(t.o, Book), "?"));
    cr_expect_eq(r->len, 4, "random order returns every row");
    cr_expect(strstr(mn_qs_sql(mn_qs_order_by(mn_all(t.o, Author), ""), NULL), "ORDER BY") == NULL,
              "order_by() with nothing clears Meta.ordering");
}

Test(orm_qs, slicing_and_distinct)
{
    mn_qs *qs = mn_qs_order_by(mn_all(t.o, Book), "title");
    cr_expect_str_eq(list(mn_qs_slice(qs, 0, 2)), "Dune,Emma");
    cr_expect_str_eq(list(mn_qs_slice(qs, 1, 3)), "Emma,Odes 50% off_sale");
    cr_expect_str_eq(list(mn_qs_slice(qs, 2, -1)), "Odes 50% off_sale,SQL in Depth");
    cr_expect_str_eq(list(mn_qs_slice(mn_qs_slice(qs, 1, 4), 1, 2)), "Odes 50% off_sale");
    cr_expect_eq(mn_qs_count(mn_qs_slice(qs, 1, 3)), 2);
    cr_expect_null(mn_filter(mn_qs_slice(qs, 0, 1), "pages", 1));
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot filter a query once a slice has been taken.");
    /* reordering a slice would pick other rows under the same LIMIT: refused, as Django */
    cr_expect_null(mn_qs_order_by(mn_qs_slice(qs, 0, 2), "-title"));
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot reorder a query once a slice has been taken.");
    cr_expect_null(mn_qs_reverse(mn_qs_slice(qs, 0, 2)));
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot reverse a query once a slice has been taken.");
    cr_expect_null(mn_qs_last(mn_qs_slice(qs, 0, 2)));
    cr_expect_str_eq(mn_orm_error(t.o), "Cannot reverse a query once a slice has been taken.");
    cr_expect_null(mn_qs_distinct(mn_qs_slice(qs, 0, 2)));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot create distinct fields once a slice has been taken.");
    void *second = mn_qs_first(mn_qs_slice(qs, 1, 3));
    cr_expect_str_eq(second ? ((Book *)second)->title : "(none)", "Emma",
                     "first() of an ordered slice is the slice's first row");
    mn_qs *tags = mn_filter(mn_all(t.o, Tag), "books__title__icontains", "e");
    cr_expect_eq(mn_qs_count(tags), 5, "joins repeat rows, as in Django");
    cr_expect_eq(mn_qs_count(mn_qs_distinct(tags)), 3);
    cr_expect_str_eq(list(mn_qs_distinct(tags)), "classic,poetry,tech");
    mn_qs *by_author = mn_qs_order_by(mn_qs_distinct(mn_filter(mn_all(t.o, Book), "tags__name__in",
                                                               MN_IN_STR("classic", "poetry"))),
                                      "-author__name,title");
    cr_expect_str_eq(list(by_author), "Odes 50% off_sale,Dune,Emma",
                     "DISTINCT with ORDER BY across a relation");
    cr_expect_eq(mn_qs_count(by_author), 3);
}

Test(orm_qs, values_and_values_list)
{
    mn_qs *qs = mn_qs_order_by(mn_filter(mn_all(t.o, Book), "author__name", "Ann"), "title");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(qs, "title,price,author__name")),
                     "[{'title': 'Dune', 'price': Decimal('19.99'), 'author__name': 'Ann'}, "
                     "{'title': 'Emma', 'price': Decimal('7.50'), 'author__name': 'Ann'}]");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(qs, "title,pages", false)),
                     "[['Dune', 412], ['Emma', 320]]");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(qs, "published", true)),
                     "[datetime.date(2021, 3, 14), datetime.date(2020, 12, 31)]");
    mn_rows *all = mn_qs_fetch(mn_qs_values(mn_filter(mn_all(t.o, Tag), "name", "tech"), NULL));
    cr_assert_not_null(all);
    cr_expect_str_eq(
        tdb_repr(&t, all->items[0]),
        mn_arena_printf(t.arena, "{'id': %lld, 'name': 'tech'}", (long long)lib.tech->id));
    cr_expect_null(mn_qs_values_list(qs, "title,pages", true));
}

Test(orm_qs, only_and_defer)
{
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    Book *b = mn_qs_get(mn_filter(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id));
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(b->title, "Dune");
    cr_expect_null(b->price, "deferred: not loaded");
    cr_expect(strstr(log.entries[0].sql, "\"price\"") == NULL, "%s", log.entries[0].sql);
    b->title = "Dune II";
    cr_assert_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    Book *again = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_expect_str_eq(again->title, "Dune II");
    cr_expect_str_eq(again->price, "19.99", "saving a deferred instance keeps the other columns");
    Book *d =
        mn_qs_get(mn_filter(mn_qs_defer(mn_all(t.o, Book), "price,rating"), "pk", lib.emma->id));
    cr_assert_not_null(d);
    cr_expect_null(d->price);
    cr_expect_eq(d->pages, 320);
    mn_orm_set_log(t.o, NULL);
}

Test(orm_qs, first_last_latest_earliest_exists_in_bulk)
{
    Book *f = mn_qs_first(mn_qs_order_by(mn_all(t.o, Book), "pages"));
    cr_expect_str_eq(f->title, "Odes 50% off_sale");
    Book *l = mn_qs_last(mn_qs_order_by(mn_all(t.o, Book), "pages"));
    cr_expect_str_eq(l->title, "SQL in Depth");
    cr_expect_eq(mn_obj_pk(mn_qs_first(mn_all(t.o, Book))), lib.dune->id, "first() orders by pk");
    cr_expect_null(mn_qs_first(mn_filter(mn_all(t.o, Book), "pages", 1)));
    cr_expect_eq(mn_orm_errcode(t.o), 0, "an empty first() is not an error");
    Book *newest =
        mn_qs_latest(mn_filter(mn_all(t.o, Book), "published__isnull", false), "published");
    cr_expect_str_eq(newest->title, "Dune");
    Book *oldest =
        mn_qs_earliest(mn_filter(mn_all(t.o, Book), "published__isnull", false), "published");
    cr_expect_str_eq(oldest->title, "SQL in Depth");
    cr_expect_null(mn_qs_latest(mn_all(t.o, Book), NULL));
    cr_expect(strstr(mn_orm_error(t.o), "get_latest_by"));
    cr_expect_eq(mn_qs_exists(mn_filter(mn_all(t.o, Book), "genre", "po")), 1);
    cr_expect_eq(mn_qs_exists(mn_filter(mn_all(t.o, Book), "genre", "xx")), 0);
    mn_value *bulk =
        mn_qs_in_bulk(mn_all(t.o, Book), (int64_t[]){lib.emma->id, lib.sql->id, 999}, 3);
    cr_assert_not_null(bulk, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_value_dict_len(bulk), 2);
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)lib.sql->id);
    cr_expect_not_null(mn_value_dict_get(bulk, key, strlen(key)));
}

Test(orm_qs, aggregate_and_annotate)
{
    mn_orm *o = t.o;
    cr_expect_str_eq(
        tdb_repr(&t, mn_qs_aggregate(mn_all(o, Book), "total", mn_Sum(o, "price", NULL))),
        "{'total': Decimal('84.59')}", "decimal sums are exact");
    cr_expect_str_eq(
        tdb_repr(&t, mn_qs_aggregate(mn_all(o, Book), "n", mn_Count(o, "*", false, NULL))),
        "{'n': 4}");
    cr_expect_str_eq(tdb_repr(&t, mn_qs_aggregate(mn_all(o, Book), "m", mn_Max(o, "pages", NULL))),
                     "{'m': 510}");
    cr_expect_str_eq(
        tdb_repr(&t, mn_qs_aggregate(mn_all(o, Book), "m", mn_Min(o, "published", NULL))),
        "{'m': datetime.date(2019, 7, 1)}");
    cr_expect_str_eq(tdb_repr(&t, mn_qs_aggregate(mn_filter(mn_all(o, Book), "author", lib.ann),
                                                  "avg", mn_Avg(o, "pages", NULL))),
                     "{'avg': 366.0}");
    cr_expect_str_eq(tdb_repr(&t, mn_qs_aggregate(mn_filter(mn_all(o, Book), "author", lib.ann),
                                                  "avg", mn_Avg(o, "price", NULL))),
                     "{'avg': Decimal('13.745000')}");
    cr_expect_str_eq(
        tdb_repr(&t, mn_qs_aggregate(mn_all(o, Book), "fiction",
                                     mn_Count(o, "pk", false, mn_Q(o, "genre", "fi")))),
        "{'fiction': 2}");
    cr_expect_str_eq(tdb_repr(&t, mn_qs_aggregate(mn_filter(mn_all(o, Book), "pages", 0), "s",
                                                  mn_Sum(o, "pages", NULL))),
                     "{'s': None}");
    mn_qs *qs = mn_qs_order_by(
        mn_qs_annotate(mn_all(o, Author), "nbooks", mn_Count(o, "books", false, NULL)),
        "-nbooks,name");
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(o));
    cr_assert_eq(rows->len, 3);
    cr_expect_str_eq(((Author *)rows->items[2])->name, "Cy");
    cr_expect_str_eq(tdb_repr(&t, mn_obj_annotation(rows->items[0], "nbooks")), "2");
    cr_expect_str_eq(tdb_repr(&t, mn_obj_annotation(rows->items[2], "nbooks")), "0");
    mn_qs *busy =
        mn_filter(mn_qs_annotate(mn_all(o, Author), "pages_total", mn_Sum(o, "books__pages", NULL)),
                  "pages_total__gt", 600);
    cr_expect_str_eq(list(busy), "Ann", "HAVING on an aggregate annotation");
    mn_qs *per_genre = mn_qs_order_by(
        mn_qs_annotate(mn_qs_values(mn_all(o, Book), "genre"), "n", mn_Count(o, "pk", false, NULL)),
        "genre");
    cr_expect_str_eq(tdb_rows_repr(&t, per_genre),
                     "[{'genre': 'fi', 'n': 2}, {'genre': 'nf', 'n': 1}, {'genre': 'po', 'n': 1}]");
    cr_expect_null(mn_qs_annotate(mn_all(o, Book), "title", mn_Count(o, "pk", false, NULL)));
}

Test(orm_qs, select_related_joins_and_prefetch_counts_queries)
{
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *books = mn_qs_fetch(
        mn_qs_select_related(mn_qs_order_by(mn_all(t.o, Book), "title"), "author__mentor"));
    cr_assert_not_null(books, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 1);
    Book *odes = books->items[2];
    cr_assert_not_null(odes->author.obj);
    Author *bob = odes->author.obj;
    cr_expect_str_eq(bob->name, "Bob");
    cr_assert_not_null(bob->mentor.obj);
    cr_expect_str_eq(((Author *)bob->mentor.obj)->name, "Ann");
    cr_expect_null(((Author *)((Book *)books->items[0])->author.obj)->mentor.obj,
                   "Ann has no mentor");
    cr_expect_eq(mn_fk_get(t.o, odes, "author"), bob);
    cr_expect_eq(log.count, 1, "no query for an already loaded relation");

    log.count = 0;
    mn_rows *authors = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Author), "books"));
    cr_assert_not_null(authors, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 2, "one query for authors, one for all their books");
    mn_rows *ann_books = mn_qs_fetch(mn_related(t.o, authors->items[0], "books"));
    cr_expect_eq(ann_books->len, 2);
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, authors->items[2], "books"))->len, 0);
    cr_expect_eq(log.count, 2, "the prefetched rows are used");

    log.count = 0;
    mn_rows *bks =
        mn_qs_fetch(mn_qs_prefetch_related(mn_qs_order_by(mn_all(t.o, Book), "title"), "tags"));
    cr_assert_not_null(bks, "%s", mn_orm_error(t.o));
    cr_expect_eq(log.count, 2);
    cr_expect_str_eq(list(mn_related(t.o, bks->items[2], "tags")), "classic,poetry");
    mn_qs *tag_books = mn_qs_order_by(mn_related(t.o, lib.classic, "books"), "title");
    cr_expect_str_eq(list(tag_books), "Dune,Emma,Odes 50% off_sale");
    cr_expect_eq(log.count, 3, "only the un-prefetched relation queried");
    mn_qs *few = mn_filter(mn_all(t.o, Review), "stars__gte", 4);
    log.count = 0;
    mn_rows *pb =
        mn_qs_fetch(mn_qs_prefetch(mn_qs_order_by(mn_all(t.o, Book), "title"), "reviews", few));
    cr_assert_not_null(pb, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_fetch(mn_related(t.o, pb->items[0], "reviews"))->len, 1, "custom queryset");
    cr_expect_eq(log.count, 2);
    mn_orm_set_log(t.o, NULL);
    cr_expect_null(mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Book), "title")));
    cr_expect(strstr(mn_orm_error(t.o), "Invalid field name(s) given in select_related"));
}

static int count_rows(void *row, void *user)
{
    int64_t *n = user;
    Book *b = row;
    cr_assert_not_null(b->title);
    (*n)++;
    return 0;
}

Test(orm_qs, iterator_streams_in_chunks)
{
    Book *more[300];
    for (int i = 0; i < 300; i++) {
        more[i] = mn_new(t.o, Book);
        more[i]->title = mn_arena_printf(t.arena, "Vol %03d", i);
        more[i]->author.id = lib.cy->id;
    }
    cr_assert_eq(mn_bulk_create(t.o, &Book_model, (void **)more, 300, NULL), 0, "%s",
                 mn_orm_error(t.o));
    int64_t n = 0;
    size_t before = mn_arena_used(t.arena);
    cr_assert_eq(mn_qs_iterator(mn_all(t.o, Book), 50, count_rows, &n), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(n, 304);
    cr_expect_lt(mn_arena_used(t.arena) - before, 20000, "rows do not pile up in the session");
}

Test(orm_qs, raw_sql_maps_columns_to_fields)
{
    mn_rows *rows = mn_raw(t.o, &Book_model,
                           "SELECT id, title, pages, pages * 2 AS doubled FROM library_book "
                           "WHERE pages > %s ORDER BY pages",
                           (mn_arg[]){mn_arg_int(400)}, 1);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    Book *b = rows->items[0];
    cr_expect_str_eq(b->title, "Dune");
    cr_expect_eq(b->pages, 412);
    cr_expect_str_eq(tdb_repr(&t, mn_obj_annotation(b, "doubled")), "824");
    cr_expect_null(mn_raw(t.o, &Book_model, "SELECT * FROM library_book WHERE id = %s", NULL, 0));
}

Test(orm_qs, paginator)
{
    mn_qs *qs = mn_qs_order_by(mn_all(t.o, Book), "title");
    mn_page p;
    cr_assert_eq(mn_paginate(qs, 3, 0, 1, &p), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(p.num_pages, 2);
    cr_expect_eq(p.count, 4);
    cr_expect_eq(p.rows->len, 3);
    cr_expect(p.has_next);
    cr_expect_not(p.has_previous);
    cr_expect_eq(p.start_index, 1);
    cr_expect_eq(p.end_index, 3);
    cr_assert_eq(mn_paginate(qs, 3, 0, 2, &p), 0);
    cr_expect_eq(p.rows->len, 1);
    cr_expect_eq(p.start_index, 4);
    cr_expect_eq(p.end_index, 4);
    cr_expect_eq(mn_paginate(qs, 3, 0, 3, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page contains no results");
    cr_expect_eq(mn_paginate(qs, 3, 0, 0, &p), MN_EEMPTY_PAGE);
    cr_assert_eq(mn_paginate(qs, 3, 1, 1, &p), 0, "one orphan joins the last page");
    cr_expect_eq(p.num_pages, 1);
    cr_expect_eq(p.rows->len, 4);
    cr_assert_eq(mn_paginate(mn_filter(qs, "pages", 0), 10, 0, 1, &p), 0);
    cr_expect_eq(p.num_pages, 1, "an empty first page is allowed");
    cr_expect_eq(p.start_index, 0);
}

Test(orm_qs, sql_has_only_placeholders_for_values)
{
    size_t n = 0;
    const char *sql = mn_qs_sql(
        mn_filter(mn_all(t.o, Book), "title__icontains", "'; DROP", "author__name", "Ann"), &n);
    cr_assert_not_null(sql);
    cr_expect_eq(n, 2);
    cr_expect(strstr(sql, "DROP") == NULL, "%s", sql);
    cr_expect(strstr(sql, "Ann") == NULL, "%s", sql);
    /* a condition across a non-null FK needs the related row: INNER, as Django */
    cr_expect(strstr(sql, " INNER JOIN \"library_author\""), "%s", sql);
}
