/* test_audit_values.c — a black-box audit against Django of values()/values_list() (JSON and
 * duration fields, related paths, annotations, foreign keys), raw SQL (parameters, the primary
 * key, extra and missing columns), explain(), iterator() and the model signals (save, delete,
 * update, m2m_changed, receivers that fail or are disconnected). Same results on SQLite and
 * PostgreSQL. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

LIBRARY_SUITE(orm_audit_values);

static const char *repr(mn_value *v)
{
    return tdb_repr(&t, v);
}

static mn_value *key(const mn_value *d, const char *k)
{
    return mn_value_dict_get(d, k, strlen(k));
}

static const char *text(mn_value *v)
{
    mn_str s = {0};
    cr_assert_eq(mn_value_to_text(v, t.arena, &s), 0);
    return mn_arena_strndup(t.arena, s.ptr, s.len);
}

static mn_value *only_row(mn_qs *qs)
{
    mn_rows *rows = mn_qs_fetch(qs);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    return rows->items[0];
}

/* ---- values(): JSON and duration fields read back as Django's from_db_value gives them ---- */

Test(orm_audit_values, json_fields_are_decoded_documents)
{
    /* 1 day, 2:03:04.500000 */
    const int64_t span = INT64_C(93784500000);
    Everything *e =
        mn_create(t.o, Everything, "doc", "{\"k\": [1, \"a\", null], \"b\": true}", "span", span);
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    mn_value *row = only_row(mn_qs_values(mn_all(t.o, Everything), "doc,span"));
    mn_value *doc = key(row, "doc");
    cr_expect_eq(mn_value_kind_of(doc), MN_VALUE_DICT, "%s", repr(doc));
    /* (jsonb orders the keys its own way: compare them one by one) */
    cr_expect_str_eq(repr(key(doc, "k")), "[1, 'a', None]");
    cr_expect_str_eq(repr(key(doc, "b")), "True");
    int64_t us = 0;
    mn_value *dur = key(row, "span");
    cr_expect(mn_value_duration(dur, &us), "a timedelta, not %s", repr(dur));
    cr_expect_eq(us, span);
    cr_expect_str_eq(text(dur), "1 day, 2:03:04.500000");
    cr_expect_not(mn_value_duration(mn_value_int(t.arena, 5), NULL));

    /* values_list and flat give the same */
    mn_value *l = only_row(mn_qs_values_list(mn_all(t.o, Everything), "doc,span", false));
    cr_expect_str_eq(repr(key(mn_value_list_get(l, 0), "k")), "[1, 'a', None]");
    cr_expect(mn_value_duration(mn_value_list_get(l, 1), NULL));
    mn_value *f = only_row(mn_qs_values_list(mn_all(t.o, Everything), "doc", true));
    cr_expect_eq(mn_value_kind_of(f), MN_VALUE_DICT);
    /* values() of every field */
    row = only_row(mn_qs_values(mn_all(t.o, Everything), NULL));
    cr_expect_eq(mn_value_kind_of(key(row, "doc")), MN_VALUE_DICT);
    cr_expect(mn_value_duration(key(row, "span"), NULL));
}

Test(orm_audit_values, json_scalars_nulls_and_tagged_objects)
{
    const char *docs[] = {"\"<b>x</b>\"", "42", "[]", "null", "{\"__safe__\": \"<i>x</i>\"}"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_not_null(mn_create(t.o, Everything, "doc", docs[i]), "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Everything, "small", 1)); /* doc is SQL NULL */
    mn_rows *rows =
        mn_qs_fetch(mn_qs_values_list(mn_qs_order_by(mn_all(t.o, Everything), "id"), "doc", true));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 6);
    cr_expect_str_eq(repr(rows->items[0]), "'<b>x</b>'");
    cr_expect_not(mn_value_is_safe(rows->items[0]), "stored JSON is never a safe string");
    cr_expect_str_eq(repr(rows->items[1]), "42");
    cr_expect_str_eq(repr(rows->items[2]), "[]");
    cr_expect_str_eq(repr(rows->items[3]), "None");
    cr_expect_eq(mn_value_kind_of(rows->items[4]), MN_VALUE_DICT, "not a tagged safe string");
    cr_expect_not(mn_value_is_safe(rows->items[4]));
    cr_expect_str_eq(repr(rows->items[5]), "None");
}

Test(orm_audit_values, durations_in_annotations_and_aggregates)
{
    cr_assert_not_null(mn_create(t.o, Everything, "span", INT64_C(1000000)));
    cr_assert_not_null(mn_create(t.o, Everything, "span", INT64_C(2500000)));
    mn_value *agg = mn_qs_aggregate(mn_all(t.o, Everything), "total", mn_Sum(t.o, "span", NULL));
    cr_assert_not_null(agg, "%s", mn_orm_error(t.o));
    int64_t us = 0;
    cr_expect(mn_value_duration(key(agg, "total"), &us), "%s", repr(agg));
    cr_expect_eq(us, INT64_C(3500000));
    agg = mn_qs_aggregate(mn_all(t.o, Everything), "avg", mn_Avg(t.o, "span", NULL));
    cr_assert_not_null(agg, "%s", mn_orm_error(t.o));
    cr_expect(mn_value_duration(key(agg, "avg"), &us), "%s", repr(agg));
    cr_expect_eq(us, INT64_C(1750000));
    agg = mn_qs_aggregate(mn_all(t.o, Everything), "top", mn_Max(t.o, "span", NULL));
    cr_assert_not_null(agg, "%s", mn_orm_error(t.o));
    cr_expect(mn_value_duration(key(agg, "top"), &us), "%s", repr(agg));
    cr_expect_eq(us, INT64_C(2500000));
    mn_qs *qs =
        mn_qs_annotate(mn_qs_order_by(mn_all(t.o, Everything), "id"), "s", mn_F(t.o, "span"));
    mn_rows *rows = mn_qs_fetch(mn_qs_values_list(qs, "s", true));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 2);
    cr_expect(mn_value_duration(rows->items[1], &us), "%s", repr(rows->items[1]));
    cr_expect_eq(us, INT64_C(2500000));
    /* the instance keeps its microseconds */
    Everything *e = mn_qs_first(mn_qs_order_by(mn_all(t.o, Everything), "id"));
    cr_assert_not_null(e);
    cr_expect_eq(e->span, INT64_C(1000000));
}

Test(orm_audit_values, json_key_paths_are_refused_not_misread)
{
    cr_assert_not_null(mn_create(t.o, Everything, "doc", "{\"k\": 1}"));
    /* key transforms are not supported: a FieldError rather than a wrong value */
    mn_rows *rows = mn_qs_fetch(mn_qs_values(mn_all(t.o, Everything), "doc__k"));
    if (rows) {
        cr_assert_eq(rows->len, 1);
        cr_expect_str_eq(repr(rows->items[0]), "{'doc__k': 1}");
    } else {
        cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD, "%s", mn_orm_error(t.o));
    }
}

Test(orm_audit_values, field_from_db_decodes_json_and_durations)
{
    const mn_fielddef *doc = mn_model_field(&Everything_model, "doc");
    const mn_fielddef *span = mn_model_field(&Everything_model, "span");
    mn_dbcell text = {.type = MN_DBT_TEXT, .v.s = {"{\"a\": [2]}", 10}};
    cr_expect_str_eq(repr(mn_field_from_db(t.o, doc, &text)), "{'a': [2]}");
    mn_dbcell bad = {.type = MN_DBT_TEXT, .v.s = {"{oops", 5}};
    cr_expect_str_eq(repr(mn_field_from_db(t.o, doc, &bad)), "'{oops'", "unparsable: the text");
    mn_dbcell n = {.type = MN_DBT_INT, .v.i = 60000000};
    int64_t us = 0;
    cr_expect(mn_value_duration(mn_field_from_db(t.o, span, &n), &us));
    cr_expect_eq(us, 60000000);
}

/* ---- values() with relations, annotations and ordering ---- */

Test(orm_audit_values, values_across_relations_and_foreign_keys)
{
    mn_qs *qs = mn_qs_order_by(mn_all(t.o, Book), "title");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_slice(mn_qs_values(qs, "title,author__name"), 0, 2)),
                     "[{'title': 'Dune', 'author__name': 'Ann'}, "
                     "{'title': 'Emma', 'author__name': 'Ann'}]");
    /* values("author") is the key, as values("author_id") */
    char want[128];
    snprintf(want, sizeof want, "[{'author': %lld}]", (long long)lib.ann->id);
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(mn_filter(qs, "title", "Dune"), "author")),
                     want);
    snprintf(want, sizeof want, "[{'author_id': %lld}]", (long long)lib.ann->id);
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(mn_filter(qs, "title", "Dune"), "author_id")),
                     want);
    /* a nullable FK through a related path: None for Ann (no mentor) */
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(mn_qs_order_by(mn_all(t.o, Author), "name"),
                                                    "name,mentor__name")),
                     "[{'name': 'Ann', 'mentor__name': None}, {'name': 'Bob', 'mentor__name': "
                     "'Ann'}, {'name': 'Cy', 'mentor__name': None}]");
    /* ordering by a field not selected keeps the order */
    cr_expect_str_eq(
        tdb_rows_repr(
            &t, mn_qs_values_list(mn_qs_order_by(mn_all(t.o, Book), "-pages"), "title", true)),
        "['SQL in Depth', 'Dune', 'Emma', 'Odes 50% off_sale']");
    /* flat with two fields */
    cr_expect_null(mn_qs_fetch(mn_qs_values_list(mn_all(t.o, Book), "title,pages", true)));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "'flat' is not valid when values_list is called with more than one field.");
}

Test(orm_audit_values, values_with_annotations_and_expressions)
{
    mn_qs *qs = mn_qs_annotate(mn_qs_order_by(mn_all(t.o, Author), "name"), "n",
                               mn_Count(t.o, "books", false, NULL));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(qs, "name,n")),
                     "[{'name': 'Ann', 'n': 2}, {'name': 'Bob', 'n': 2}, {'name': 'Cy', 'n': 0}]");
    /* an expression annotation */
    mn_qs *b = mn_qs_annotate(mn_filter(mn_all(t.o, Book), "title", "Dune"), "twice",
                              mn_expr_op(t.o, '*', mn_F(t.o, "pages"), mn_V(t.o, mn_arg_int(2))));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(b, "title,twice")),
                     "[{'title': 'Dune', 'twice': 824}]");
    /* values() then annotate(): grouped by the values */
    mn_qs *g = mn_qs_order_by(mn_qs_annotate(mn_qs_values(mn_all(t.o, Book), "author__name"), "n",
                                             mn_Count(t.o, "pk", false, NULL)),
                              "author__name");
    cr_expect_str_eq(tdb_rows_repr(&t, g),
                     "[{'author__name': 'Ann', 'n': 2}, {'author__name': 'Bob', 'n': 2}]");
}

/* ---- raw() ---- */

Test(orm_audit_values, raw_needs_the_primary_key)
{
    mn_rows *rows = mn_raw(t.o, &Book_model, "SELECT title FROM library_book", NULL, 0);
    cr_expect_null(rows, "Django: InvalidQuery");
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD, "FieldDoesNotExist");
    cr_expect_str_eq(mn_orm_error(t.o), "Raw query must include the primary key");
    /* Django checks the columns, so an empty result is refused too */
    rows = mn_raw(t.o, &Book_model, "SELECT title FROM library_book WHERE 1 = 0", NULL, 0);
    cr_expect_null(rows);
    cr_expect_str_eq(mn_orm_error(t.o), "Raw query must include the primary key");
    /* the key under its column name, in any position */
    rows = mn_raw(t.o, &Book_model, "SELECT title, id FROM library_book ORDER BY id", NULL, 0);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 4);
}

Test(orm_audit_values, raw_leaves_missing_columns_deferred)
{
    mn_rows *rows = mn_raw(t.o, &Book_model, "SELECT id, title FROM library_book WHERE title = %s",
                           (mn_arg[]){mn_arg_str("Dune")}, 1);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    Book *b = rows->items[0];
    cr_expect_str_eq(b->title, "Dune");
    const mn_fielddef *pages = mn_model_field(&Book_model, "pages");
    cr_expect(b->_mn.deferred & (UINT64_C(1) << pages->index), "pages was not loaded");
    /* reading it loads it (Django's deferred field) */
    cr_expect_str_eq(repr(mn_obj_get_value(t.o, b, "pages")), "412");
    cr_expect_str_eq(repr(mn_obj_get_value(t.o, b, "price")), "Decimal('19.99')");
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)lib.ann->id);
    cr_expect_str_eq(repr(mn_obj_get_value(t.o, b, "author")), want);
}

Test(orm_audit_values, raw_parameters_with_percent_and_quotes)
{
    cr_assert_not_null(mn_create(t.o, Tag, "name", "it's"));
    mn_rows *rows =
        mn_raw(t.o, &Book_model,
               "SELECT id, title, 'a%%b' AS lit FROM library_book WHERE title LIKE %s ORDER BY id",
               (mn_arg[]){mn_arg_str("%50% off%")}, 1);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    cr_expect_str_eq(((Book *)rows->items[0])->title, "Odes 50% off_sale");
    cr_expect_str_eq(repr(mn_obj_annotation(rows->items[0], "lit")), "'a%b'");
    rows = mn_raw(t.o, &Tag_model, "SELECT * FROM library_tag WHERE name = %s",
                  (mn_arg[]){mn_arg_str("it's")}, 1);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 1);
    /* an instance as a parameter is its key; a NULL parameter matches nothing with = */
    rows = mn_raw(t.o, &Book_model, "SELECT * FROM library_book WHERE author_id = %s ORDER BY id",
                  (mn_arg[]){mn_arg_obj(lib.bob)}, 1);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 2);
    /* too many or too few parameters */
    cr_expect_null(mn_raw(t.o, &Book_model, "SELECT * FROM library_book WHERE id = %s",
                          (mn_arg[]){mn_arg_int(1), mn_arg_int(2)}, 2));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
}

Test(orm_audit_values, raw_datetime_parameters)
{
    mn_datetime d = {.year = 2020, .month = 1, .day = 1};
    mn_rows *rows = mn_raw(t.o, &Book_model,
                           "SELECT * FROM library_book WHERE published > %s ORDER BY published",
                           (mn_arg[]){mn_arg_dt(&d)}, 1);
    cr_assert_not_null(rows, "Django takes dates as raw() params: %s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 2);
}

Test(orm_audit_values, raw_extra_columns_become_annotations)
{
    mn_rows *rows = mn_raw(t.o, &Author_model,
                           "SELECT a.id, a.name, COUNT(b.id) AS n_books FROM library_author a "
                           "LEFT JOIN library_book b ON b.author_id = a.id GROUP BY a.id, a.name "
                           "ORDER BY a.name",
                           NULL, 0);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 3);
    cr_expect_str_eq(repr(mn_obj_annotation(rows->items[0], "n_books")), "2");
    cr_expect_str_eq(repr(mn_obj_annotation(rows->items[2], "n_books")), "0");
    cr_expect_null(mn_obj_annotation(rows->items[0], "name"), "a field is no annotation");
}

/* ---- explain() ---- */

Test(orm_audit_values, explain_of_values_and_ordered_querysets)
{
    const char *plan = mn_qs_explain(
        mn_qs_values(mn_qs_order_by(mn_filter(mn_all(t.o, Book), "pages__gt", 100), "-title"),
                     "title,author__name"));
    cr_assert_not_null(plan, "%s", mn_orm_error(t.o));
    cr_expect(strlen(plan) > 0);
    /* Django flattens SQLite's (id, parent, notused, detail) rows: "2 0 0 SCAN ..." */
    int id = 0, parent = 0, notused = 0, len = 0;
    if (!tdb_is_pg(&t))
        cr_expect_eq(sscanf(plan, "%d %d %d %n", &id, &parent, &notused, &len), 3, "%s", plan);
    else
        cr_expect(strstr(plan, "Sort") || strstr(plan, "Scan"), "%s", plan);
    /* a bad queryset fails rather than explaining something else */
    cr_expect_null(mn_qs_explain(mn_filter(mn_all(t.o, Book), "nope", 1)));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);
}

/* ---- iterator() ---- */

static int collect_title(void *row, void *user)
{
    mn_buf *b = user;
    mn_buf_printf(b, "%s%s", b->len ? "," : "", ((Book *)row)->title);
    return 0;
}

static int stop_at_two(void *row, void *user)
{
    (void)row;
    return ++*(int *)user == 2 ? 7 : 0;
}

Test(orm_audit_values, iterator_chunk_sizes_give_every_row_once)
{
    const size_t sizes[] = {0, 1, 3, 4, 5, 1000};
    int bad = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        mn_buf b;
        mn_buf_init(&b, t.arena);
        int rc =
            mn_qs_iterator(mn_qs_order_by(mn_all(t.o, Book), "title"), sizes[i], collect_title, &b);
        if (rc != 0 || !mn_buf_cstr(&b) ||
            strcmp(b.data, "Dune,Emma,Odes 50% off_sale,SQL in Depth") != 0)
            bad++;
    }
    cr_expect_eq(bad, 0);
    int n = 0;
    cr_expect_eq(mn_qs_iterator(mn_all(t.o, Book), 1, stop_at_two, &n), 7, "fn's value");
    cr_expect_eq(n, 2);
    n = 0;
    cr_expect_eq(mn_qs_iterator(mn_qs_slice(mn_qs_order_by(mn_all(t.o, Book), "title"), 1, 3), 1,
                                stop_at_two, &n),
                 7);
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_expect_eq(mn_qs_iterator(mn_qs_slice(mn_qs_order_by(mn_all(t.o, Book), "title"), 1, 3), 1,
                                collect_title, &b),
                 0);
    cr_expect_str_eq(mn_buf_cstr(&b), "Emma,Odes 50% off_sale", "a slice streams its rows only");
    n = 0;
    cr_expect_eq(mn_qs_iterator(mn_qs_none(t.o, &Book_model), 2, stop_at_two, &n), 0);
    cr_expect_eq(n, 0);
}

static int collect_value(void *row, void *user)
{
    mn_buf *b = user;
    mn_buf_printf(b, "%s%s", b->len ? "," : "", tdb_repr(&t, row));
    return 0;
}

Test(orm_audit_values, iterator_of_values_decodes_json)
{
    cr_assert_not_null(mn_create(t.o, Everything, "doc", "[1, {\"a\": 2}]", "span", 1000000));
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_qs_iterator(mn_qs_values_list(mn_all(t.o, Everything), "doc", true), 2,
                                collect_value, &b),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(mn_buf_cstr(&b), "[1, {'a': 2}]");
}

/* ---- signals ---- */

static char events[1024];

static void note(const char *what)
{
    size_t len = strlen(events);
    snprintf(events + len, sizeof events - len, "%s%s", len ? ", " : "", what);
}

static int save_receiver(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                         void *user)
{
    (void)user;
    const char *uf = mn_save_update_fields(o);
    char buf[128];
    snprintf(buf, sizeof buf, "%s %s %s created=%d uf=%s", sig == MN_PRE_SAVE ? "pre" : "post",
             sender->name, ((Tag *)obj)->name, created, uf ? uf : "None");
    note(buf);
    return 0;
}

Test(orm_audit_values, save_signals_carry_created_and_update_fields)
{
    events[0] = '\0';
    mn_signal_connect(MN_PRE_SAVE, &Tag_model, save_receiver, NULL);
    mn_signal_connect(MN_POST_SAVE, &Tag_model, save_receiver, NULL);
    Tag *x = mn_create(t.o, Tag, "name", "x");
    cr_assert_not_null(x);
    x->name = "y";
    cr_assert_eq(mn_save_fields(t.o, x, "name"), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_save(t.o, x), 0);
    /* (Django's pre_save has no `created`; here it tells an insert too) */
    cr_expect_str_eq(events, "pre Tag x created=1 uf=None, post Tag x created=1 uf=None, "
                             "pre Tag y created=0 uf=name, post Tag y created=0 uf=name, "
                             "pre Tag y created=0 uf=None, post Tag y created=0 uf=None");
    /* update() and bulk_create send none */
    events[0] = '\0';
    cr_expect_eq(mn_update(mn_all(t.o, Tag), "name", "z"), 4);
    Tag *more = mn_new(t.o, Tag);
    more->name = "bulk";
    cr_expect_eq(mn_bulk_create(t.o, &Tag_model, (void **)&more, 1, NULL), 0);
    cr_expect_str_eq(events, "");
    /* disconnected: nothing more */
    mn_signal_disconnect(MN_PRE_SAVE, &Tag_model, save_receiver, NULL);
    mn_signal_disconnect(MN_POST_SAVE, &Tag_model, save_receiver, NULL);
    cr_assert_not_null(mn_create(t.o, Tag, "name", "quiet"));
    cr_expect_str_eq(events, "");
}

static int delete_receiver(mn_signal sig, const mn_model *sender, void *obj, bool created,
                           mn_orm *o, void *user)
{
    (void)created, (void)o, (void)user;
    char buf[64];
    snprintf(buf, sizeof buf, "%s %s %lld", sig == MN_PRE_DELETE ? "pre" : "post", sender->name,
             (long long)mn_obj_pk(obj));
    note(buf);
    return 0;
}

Test(orm_audit_values, update_and_set_null_send_no_delete_signals)
{
    events[0] = '\0';
    const mn_model *ms[] = {&Review_model, &Book_model};
    for (size_t i = 0; i < 2; i++) {
        mn_signal_connect(MN_PRE_DELETE, ms[i], delete_receiver, NULL);
        mn_signal_connect(MN_POST_DELETE, ms[i], delete_receiver, NULL);
    }
    cr_expect_eq(mn_update(mn_all(t.o, Review), "stars", 1), 3);
    cr_expect_str_eq(events, "", "update() sends no delete signals");
    /* Review.book is SET_NULL: deleting the book updates reviews, sending nothing for them */
    cr_assert_eq(mn_qs_delete(mn_filter(mn_all(t.o, Shelf), "pk", 0), NULL), 0);
    Book *b = lib.sql;
    long long id = (long long)b->id;
    int64_t links = mn_qs_count(mn_related(t.o, b, "tags"));
    int64_t n = mn_delete(t.o, b, NULL);
    cr_expect_eq(n, 1 + links, "the book and its tag links: %s", mn_orm_error(t.o));
    char want[64];
    snprintf(want, sizeof want, "pre Book %lld, post Book %lld", id, id);
    cr_expect_str_eq(events, want);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book__isnull", true)), 1);
}

static int m2m_receiver(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                        void *user)
{
    (void)sig, (void)created, (void)user;
    const mn_m2m_change *ch = mn_m2m_changed_info(o);
    char buf[256];
    int len = snprintf(buf, sizeof buf, "%s %s %s rev=%d %s {", ch->action_name, sender->name,
                       ((mn_obj *)obj)->model->name, ch->reverse, ch->model->name);
    for (size_t i = 0; ch->pk_set && i < ch->npk; i++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%lld", i ? "," : "",
                        (long long)ch->pk_set[i].v.i);
    if (!ch->pk_set) /* clear: None */
        len -= 1;
    snprintf(buf + len, sizeof buf - (size_t)len, "%s", ch->pk_set ? "}" : "None");
    note(buf);
    return 0;
}

Test(orm_audit_values, m2m_changed_actions_and_pk_sets)
{
    events[0] = '\0';
    Book *b = mn_create(t.o, Book, "title", "Fresh", "author", lib.cy);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    mn_signal_connect(MN_M2M_CHANGED, through, m2m_receiver, NULL);
    const void *two[] = {lib.classic, lib.poetry};
    cr_assert_eq(mn_m2m_add(t.o, b, "tags", two, 2), 0, "%s", mn_orm_error(t.o));
    char want[512];
    long long c = (long long)lib.classic->id, p = (long long)lib.poetry->id;
    snprintf(want, sizeof want,
             "pre_add %s Book rev=0 Tag {%lld,%lld}, post_add %s Book rev=0 Tag {%lld,%lld}",
             through->name, c, p, through->name, c, p);
    cr_expect_str_eq(events, want);
    events[0] = '\0';
    const void *book[] = {b};
    cr_assert_eq(mn_m2m_remove(t.o, lib.poetry, "books", book, 1), 0, "%s", mn_orm_error(t.o));
    snprintf(want, sizeof want,
             "pre_remove %s Tag rev=1 Book {%lld}, post_remove %s Tag rev=1 Book {%lld}",
             through->name, (long long)b->id, through->name, (long long)b->id);
    cr_expect_str_eq(events, want);
    events[0] = '\0';
    cr_assert_eq(mn_m2m_clear(t.o, b, "tags"), 0);
    snprintf(want, sizeof want,
             "pre_clear %s Book rev=0 Tag None, post_clear %s Book rev=0 Tag None", through->name,
             through->name);
    cr_expect_str_eq(events, want);
    mn_signal_disconnect(MN_M2M_CHANGED, through, m2m_receiver, NULL);
}

static int failing_post_save(mn_signal sig, const mn_model *sender, void *obj, bool created,
                             mn_orm *o, void *user)
{
    (void)sig, (void)sender, (void)obj, (void)created, (void)o, (void)user;
    return MN_EINVAL;
}

Test(orm_audit_values, a_failing_pre_save_saves_nothing)
{
    mn_signal_connect(MN_PRE_SAVE, &Tag_model, failing_post_save, NULL);
    int64_t before = mn_qs_count(mn_all(t.o, Tag));
    cr_expect_null(mn_create(t.o, Tag, "name", "refused"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), before);
    mn_signal_disconnect(MN_PRE_SAVE, &Tag_model, failing_post_save, NULL);
    /* a failing pre_save inside an atomic block: the block goes on */
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    mn_signal_connect(MN_PRE_SAVE, &Tag_model, failing_post_save, NULL);
    cr_expect_null(mn_create(t.o, Tag, "name", "refused"));
    mn_signal_disconnect(MN_PRE_SAVE, &Tag_model, failing_post_save, NULL);
    cr_expect_not_null(mn_create(t.o, Tag, "name", "accepted"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), before + 1);
}

/* ---- receivers that disconnect themselves; probes ---- */

static int order_a(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                   void *user);
static int order_b(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                   void *user)
{
    (void)sig, (void)sender, (void)obj, (void)created, (void)o;
    note(user);
    return 0;
}
static int order_a(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                   void *user)
{
    (void)obj, (void)created, (void)o;
    note(user);
    mn_signal_disconnect(sig, sender, order_a, user); /* once only */
    return 0;
}

Test(orm_audit_values, receivers_run_in_connection_order_even_when_one_disconnects)
{
    events[0] = '\0';
    mn_signal_connect(MN_POST_SAVE, &Tag_model, order_a, "a");
    mn_signal_connect(MN_POST_SAVE, &Tag_model, order_b, "b");
    mn_signal_connect(MN_POST_SAVE, &Tag_model, order_b, "c");
    cr_assert_not_null(mn_create(t.o, Tag, "name", "one"));
    cr_expect_str_eq(events, "a, b, c", "every receiver connected when the signal was sent");
    events[0] = '\0';
    cr_assert_not_null(mn_create(t.o, Tag, "name", "two"));
    cr_expect_str_eq(events, "b, c", "still in the order they were connected");
    mn_signal_disconnect(MN_POST_SAVE, &Tag_model, order_b, "b");
    mn_signal_disconnect(MN_POST_SAVE, &Tag_model, order_b, "c");
}

Test(orm_audit_values, deleting_a_linked_row_sends_no_m2m_changed)
{
    events[0] = '\0';
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    mn_signal_connect(MN_M2M_CHANGED, through, m2m_receiver, NULL);
    int64_t links = mn_qs_count(mn_related(t.o, lib.classic, "books"));
    cr_assert_gt(links, 0);
    cr_expect_eq(mn_delete(t.o, lib.classic, NULL), 1 + links, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(events, "");
    mn_signal_disconnect(MN_M2M_CHANGED, through, m2m_receiver, NULL);
}

Test(orm_audit_values, probes)
{
    char want[64];
    snprintf(want, sizeof want, "[{'pk': %lld}]", (long long)lib.dune->id);
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values(mn_filter(mn_all(t.o, Book), "title", "Dune"), "pk")), want);
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values(mn_qs_none(t.o, &Book_model), "title")), "[]");
    const char *plan = mn_qs_explain(mn_qs_none(t.o, &Book_model));
    cr_expect(plan || mn_orm_errcode(t.o), "none(): a plan or an error");
    /* a review without a book: the key is None */
    cr_assert_not_null(mn_create(t.o, Review, "stars", 1));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(mn_filter(mn_all(t.o, Review), "stars", 1),
                                                         "book,book__title", false)),
                     "[[None, None]]"); /* (Django: a tuple) */
}

static void *seen_obj;
static const char *seen_title;

static int see_book(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                    void *user)
{
    (void)sig, (void)sender, (void)created, (void)o, (void)user;
    seen_obj = obj;
    seen_title = ((Book *)obj)->title;
    return 0;
}

Test(orm_audit_values, an_instance_delete_signals_that_instance)
{
    Book *b = mn_create(t.o, Book, "title", "Gone", "author", lib.cy);
    cr_assert_not_null(b, "%s", mn_orm_error(t.o));
    b->title = "edited, not saved";
    mn_signal_connect(MN_PRE_DELETE, &Book_model, see_book, NULL);
    cr_expect_eq(mn_delete(t.o, b, NULL), 1, "%s", mn_orm_error(t.o));
    cr_expect_eq(seen_obj, b, "Django's pre_delete gets the instance deleted");
    cr_expect_str_eq(seen_title, "edited, not saved");
    mn_signal_disconnect(MN_PRE_DELETE, &Book_model, see_book, NULL);
}

Test(orm_audit_values, odd_field_lists_and_raw_texts)
{
    /* values_list(flat=True) with no field: the first column, the key (Django) */
    mn_rows *rows = mn_qs_fetch(mn_qs_values_list(
        mn_qs_order_by(mn_filter(mn_all(t.o, Book), "title", "Dune"), "id"), NULL, true));
    if (rows) {
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)lib.dune->id);
        cr_assert_eq(rows->len, 1);
        cr_expect_str_eq(repr(rows->items[0]), want);
    }
    /* empty names are errors, not crashes */
    mn_qs_fetch(mn_qs_values(mn_all(t.o, Book), ",,"));
    mn_qs_fetch(mn_qs_values(mn_all(t.o, Book), "title,"));
    mn_qs_fetch(mn_qs_values_list(mn_all(t.o, Book), "", true));
    /* a trailing %, a lone % and a %s with no parameter */
    cr_expect_null(mn_raw(t.o, &Book_model, "SELECT * FROM library_book WHERE id = %s", NULL, 0));
    rows = mn_raw(t.o, &Book_model, "SELECT id, 5 % 3 AS m FROM library_book WHERE id = %s",
                  (mn_arg[]){mn_arg_int(lib.dune->id)}, 1);
    cr_assert_not_null(rows, "a lone %% is the operator: %s", mn_orm_error(t.o));
    cr_expect_str_eq(repr(mn_obj_annotation(rows->items[0], "m")), "2");
    rows = mn_raw(t.o, &Book_model, "SELECT id, title AS id FROM library_book WHERE id = %s",
                  (mn_arg[]){mn_arg_int(lib.dune->id)}, 1);
    (void)rows; /* a column named twice: whatever, no crash */
}

static int shout(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                 void *user)
{
    (void)sig, (void)sender, (void)created, (void)o, (void)user;
    Author *a = obj;
    a->email = "set@by.receiver";
    return 0;
}

Test(orm_audit_values, pre_save_changes_are_saved_within_update_fields)
{
    mn_signal_connect(MN_PRE_SAVE, &Author_model, shout, NULL);
    Author *a = mn_create(t.o, Author, "name", "Dee");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    Author *back = mn_get(mn_all(t.o, Author), "pk", a->id);
    cr_assert_not_null(back);
    cr_expect_str_eq(back->email, "set@by.receiver", "Django saves what pre_save changed");
    cr_assert_eq(mn_update(mn_filter(mn_all(t.o, Author), "pk", a->id), "email", "x@y.z"), 1);
    a->name = "Dee2";
    cr_assert_eq(mn_save_fields(t.o, a, "name"), 0, "%s", mn_orm_error(t.o));
    back = mn_get(mn_all(t.o, Author), "pk", a->id);
    cr_expect_str_eq(back->name, "Dee2");
    cr_expect_str_eq(back->email, "x@y.z", "only update_fields are written");
    mn_signal_disconnect(MN_PRE_SAVE, &Author_model, shout, NULL);
}

static int count_any(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                     void *user)
{
    (void)sig, (void)obj, (void)o;
    char buf[64];
    snprintf(buf, sizeof buf, "%s%s", sender->name, created ? "+" : "");
    note(buf);
    (void)user;
    return 0;
}

Test(orm_audit_values, get_or_create_and_update_or_create_signal_created)
{
    events[0] = '\0';
    mn_signal_connect(MN_POST_SAVE, NULL, count_any, NULL); /* every sender */
    bool created = false;
    cr_assert_not_null(
        mn_qs_get_or_create(mn_all(t.o, Tag), MN_KVS("name", "new"), 1, NULL, 0, &created));
    cr_expect(created);
    cr_assert_not_null(
        mn_qs_get_or_create(mn_all(t.o, Tag), MN_KVS("name", "new"), 1, NULL, 0, &created));
    cr_expect_not(created);
    cr_assert_not_null(mn_qs_update_or_create(mn_all(t.o, Tag), MN_KVS("name", "new"), 1,
                                              MN_KVS("name", "newer"), 1, &created));
    cr_expect_str_eq(events, "Tag+, Tag", "get() sends nothing; update() of the found row saves");
    mn_signal_disconnect(MN_POST_SAVE, NULL, count_any, NULL);
}

static int count_it(void *row, void *user)
{
    (void)row;
    ++*(int *)user;
    return 0;
}

Test(orm_audit_values, iterator_ignores_and_leaves_the_result_cache)
{
    mn_qs *qs = mn_all(t.o, Book);
    cr_assert_eq(mn_qs_fetch(qs)->len, 4);
    cr_assert_not_null(mn_create(t.o, Book, "title", "Late", "author", lib.cy));
    int n = 0;
    cr_assert_eq(mn_qs_iterator(qs, 2, count_it, &n), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(n, 5, "iterator() always queries (Django ignores the cache)");
    cr_expect_eq(mn_qs_fetch(qs)->len, 4, "the cache is left as it was");
    mn_qs *fresh = mn_all(t.o, Book);
    n = 0;
    cr_assert_eq(mn_qs_iterator(fresh, 2, count_it, &n), 0);
    cr_assert_not_null(mn_create(t.o, Book, "title", "Later", "author", lib.cy));
    cr_expect_eq(mn_qs_fetch(fresh)->len, 6, "iterator() fills no cache");
}

Test(orm_audit_values, saving_a_raw_row_keeps_the_columns_it_did_not_select)
{
    mn_rows *rows = mn_raw(t.o, &Book_model, "SELECT id, title FROM library_book WHERE id = %s",
                           (mn_arg[]){mn_arg_int(lib.dune->id)}, 1);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    Book *b = rows->items[0];
    b->title = "Dune (raw)";
    cr_assert_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    Book *back = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_assert_not_null(back);
    cr_expect_str_eq(back->title, "Dune (raw)");
    cr_expect_eq(back->pages, 412, "a deferred field is not written back (Django)");
    cr_expect_str_eq(back->price, "19.99");
    cr_expect_eq(back->author.id, lib.ann->id);
}

Test(orm_audit_values, values_go_back_in_as_they_came_out)
{
    cr_assert_not_null(mn_create(t.o, Everything, "doc", "{\"k\": [1, \"x\", null, 2.5, true]}",
                                 "span", INT64_C(61000000)));
    mn_value *row = only_row(mn_qs_values(mn_all(t.o, Everything), "doc,span"));
    /* Django takes the dict and the timedelta back */
    Everything *copy = mn_create(t.o, Everything, "doc", key(row, "doc"), "span", key(row, "span"));
    cr_assert_not_null(copy, "%s", mn_orm_error(t.o));
    cr_expect_eq(copy->span, INT64_C(61000000));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "span", key(row, "span"))), 2);
    mn_rows *docs = mn_qs_fetch(mn_qs_values_list(mn_all(t.o, Everything), "doc", true));
    cr_assert_not_null(docs, "%s", mn_orm_error(t.o));
    cr_assert_eq(docs->len, 2);
    cr_expect_str_eq(repr(docs->items[1]), "{'k': [1, 'x', None, 2.5, True]}");
    cr_expect_eq(mn_update(mn_all(t.o, Everything), "doc", mn_value_list(t.arena, 0)), 2, "%s",
                 mn_orm_error(t.o));
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(mn_all(t.o, Everything), "doc", true)),
                     "[[], []]");
}

Test(orm_audit_values, values_of_m2m_and_reverse_relations_give_keys)
{
    /* Django: one row per related key, None when there is none */
    mn_rows *rows = mn_qs_fetch(mn_qs_values_list(
        mn_qs_order_by(mn_filter(mn_all(t.o, Author), "name", "Cy"), "name"), "name,books", false));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 1);
    cr_expect_str_eq(repr(rows->items[0]), "['Cy', None]");
    rows = mn_qs_fetch(
        mn_qs_values_list(mn_filter(mn_all(t.o, Author), "name", "Ann"), "books", true));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 2);
    cr_expect_eq(mn_value_kind_of(rows->items[0]), MN_VALUE_INT, "%s", repr(rows->items[0]));
    rows =
        mn_qs_fetch(mn_qs_values_list(mn_filter(mn_all(t.o, Book), "title", "Emma"), "tags", true));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_geq(rows->len, 1);
    int64_t ntags = mn_qs_count(mn_related(t.o, lib.emma, "tags"));
    if (ntags == 0)
        cr_expect_str_eq(repr(rows->items[0]), "None");
    else
        cr_expect_eq(mn_value_kind_of(rows->items[0]), MN_VALUE_INT, "%s", repr(rows->items[0]));
}
