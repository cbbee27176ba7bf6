/* test_misc.c — smaller promises: none(), refresh_from_db, str(), display of booleans,
 * prefetching a forward FK, m2m_changed, in_bulk of everything, queryset indexing in
 * templates, and values_list of annotations. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

LIBRARY_SUITE(orm_misc);

Test(orm_misc, none_matches_nothing_without_a_query)
{
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_qs *qs = mn_qs_none(t.o, &Book_model);
    cr_expect_eq(mn_qs_fetch(qs)->len, 0);
    cr_expect_eq(mn_qs_count(qs), 0);
    cr_expect_eq(mn_qs_exists(qs), 0);
    cr_expect_eq(log.count, 0);
    cr_expect_eq(mn_qs_count(mn_filter(mn_qs_none(t.o, &Book_model), "pages__gt", 0)), 0);
    mn_orm_set_log(t.o, NULL);
}

Test(orm_misc, refresh_str_and_display)
{
    Book *stale = mn_get(mn_all(t.o, Book), "pk", lib.emma->id);
    cr_assert_eq(mn_update(mn_filter(mn_all(t.o, Book), "pk", lib.emma->id), "pages", 999), 1);
    cr_expect_eq(stale->pages, 320);
    cr_assert_eq(mn_refresh(t.o, stale), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(stale->pages, 999);
    cr_expect_str_eq(mn_obj_str(t.o, stale),
                     mn_arena_printf(t.arena, "Book object (%lld)", (long long)lib.emma->id));
    cr_expect_str_eq(mn_obj_display(t.o, stale, "genre"), "Fiction");
    cr_expect_str_eq(mn_obj_display(t.o, stale, "in_print"), "True");
    Book *fresh = mn_new(t.o, Book);
    cr_expect_str_eq(mn_obj_str(t.o, fresh), "Book object (None)");
    cr_expect_str_eq(fresh->genre, "fi", "default_str");
    cr_expect_eq(fresh->pages, 100, "default_int");
    cr_expect(fresh->in_print, "default_bool");
    cr_expect_str_eq(fresh->price, "0.00");
}

Test(orm_misc, prefetch_a_forward_foreign_key)
{
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *books = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Book), "author"));
    cr_assert_not_null(books, "%s", mn_orm_error(t.o));
    for (size_t i = 0; i < books->len; i++)
        cr_assert_not_null(((Book *)books->items[i])->author.obj);
    cr_expect_eq(log.count, 2);
    mn_orm_set_log(t.o, NULL);
    /* nothing close: the relations prefetch_related could follow are listed */
    cr_expect_null(mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Book), "writer")));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Book has no field 'writer'; choices are: author, tags, shelves, reviews");
}

static int m2m_events;
static int on_m2m(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                  void *user)
{
    (void)sig;
    (void)sender;
    (void)created;
    (void)o;
    (void)user;
    cr_assert_eq(((mn_obj *)obj)->model, &Book_model);
    m2m_events++;
    return 0;
}

Test(orm_misc, m2m_changed_fires)
{
    const mn_model *through = mn_model_field(&Book_model, "tags")->through_model;
    m2m_events = 0;
    cr_assert_eq(mn_signal_connect(MN_M2M_CHANGED, through, on_m2m, NULL), 0);
    cr_assert_eq(mn_m2m_add(t.o, lib.sql, "tags", (const void *[]){lib.poetry}, 1), 0);
    cr_assert_eq(mn_m2m_remove(t.o, lib.sql, "tags", (const void *[]){lib.poetry}, 1), 0);
    cr_assert_eq(mn_m2m_clear(t.o, lib.sql, "tags"), 0);
    cr_expect_eq(m2m_events, 6, "a pre_ and a post_ action each");
    mn_signal_disconnect(MN_M2M_CHANGED, through, on_m2m, NULL);
}

Test(orm_misc, in_bulk_of_everything_and_values_list_of_annotations)
{
    mn_value *all = mn_qs_in_bulk(mn_all(t.o, Tag), NULL, 0);
    cr_assert_not_null(all);
    cr_expect_eq(mn_value_dict_len(all), 3);
    mn_qs *qs = mn_qs_order_by(
        mn_qs_annotate(mn_all(t.o, Tag), "n", mn_Count(t.o, "books", false, NULL)), "name");
    mn_rows *rows = mn_qs_fetch(mn_qs_values_list(qs, "name,n", false));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (size_t i = 0; i < rows->len; i++)
        mn_value_write_repr(rows->items[i], t.arena, &b);
    cr_expect_str_eq(mn_buf_cstr(&b), "['classic', 3]['poetry', 1]['tech', 1]");
}
