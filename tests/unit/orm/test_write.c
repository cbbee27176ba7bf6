/* test_write.c — the write API: every field type round-trips, save(update_fields), unique
 * violations as IntegrityError, delete with every on_delete rule (and what it reports),
 * get_or_create/update_or_create, bulk_create (pks, conflicts) and bulk_update, M2M
 * add/remove/set/clear. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

DB_SUITE(orm_write);

static int64_t count(const mn_model *m)
{
    return mn_qs_count(mn_qs_all(t.o, m));
}

static int64_t report_count(const mn_delete_report *r, const char *label)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].label, label) == 0)
            return r->items[i].count;
    return 0;
}

Test(orm_write, every_field_type_round_trips)
{
    Everything *e = mn_new(t.o, Everything);
    cr_assert_not_null(e);
    e->small = -32768;
    e->big = INT64_C(9007199254740993);
    e->ratio = 0.1;
    e->amount = "123456789.125";
    /* a zero written straight into a nullable number stays NULL; mn_obj_set() says "0" */
    cr_assert_eq(mn_obj_set(t.o, e, "flag", mn_arg_bool(false)), 0);
    e->url = "https://example.com/a?b=c";
    cr_assert_eq(mn_obj_set(t.o, e, "day", mn_arg_str("2024-02-29")), 0);
    mn_datetime at = {.year = 2024,
                      .month = 3,
                      .day = 1,
                      .hour = 1,
                      .minute = 2,
                      .second = 3,
                      .microsecond = 456789,
                      .aware = true,
                      .utc_offset = -7200};
    e->at = at;
    cr_assert_eq(mn_obj_set(t.o, e, "clock", mn_arg_str("13:14:15.5")), 0);
    e->span = INT64_C(86400000001);
    cr_assert_eq(mn_obj_set(t.o, e, "uid", mn_arg_str("{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}")), 0,
                 "%s", mn_orm_error(t.o));
    e->doc = "{\"a\": [1, 2, {\"b\": null}]}";
    e->blob = (mn_str){"\x00\x01\xff", 3};
    e->ip = "192.168.0.1";
    cr_assert_eq(mn_save(t.o, e), 0, "%s", mn_orm_error(t.o));
    cr_expect(e->created.year >= 2024, "auto_now_add");
    cr_expect(e->updated.year >= 2024, "auto_now");
    Everything *g = mn_get(mn_all(t.o, Everything), "pk", e->id);
    cr_assert_not_null(g, "%s", mn_orm_error(t.o));
    cr_expect_eq(g->small, -32768);
    cr_expect_eq(g->big, INT64_C(9007199254740993));
    cr_expect_float_eq(g->ratio, 0.1, 1e-12);
    cr_expect_str_eq(g->amount, "123456789.125");
    cr_expect_not(mn_obj_is_null(g, "flag"));
    cr_expect_not(g->flag);
    cr_expect_str_eq(g->url, "https://example.com/a?b=c");
    cr_expect_eq(g->day.year, 2024);
    cr_expect_eq(g->day.month, 2);
    cr_expect_eq(g->day.day, 29);
    cr_expect_eq(g->at.hour, 3, "stored in UTC");
    cr_expect_eq(g->at.microsecond, 456789);
    cr_expect_eq(g->clock.hour, 13);
    cr_expect_eq(g->clock.microsecond, 500000);
    cr_expect_eq(g->span, INT64_C(86400000001));
    cr_expect_str_eq(g->uid, "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    cr_expect_eq(g->blob.len, 3);
    cr_expect_eq(memcmp(g->blob.ptr, "\x00\x01\xff", 3), 0);
    cr_expect(strstr(g->doc, "\"b\"") != NULL, "%s", g->doc);
    cr_expect_str_eq(g->ip, "192.168.0.1");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "amount__gt", "123456789.12")), 1);
    cr_assert_eq(mn_obj_set(t.o, g, "amount", mn_arg_str("7.1")), 0);
    cr_expect_str_eq(g->amount, "7.100", "quantised to decimal_places");
    cr_assert_eq(mn_save(t.o, g), 0);
    cr_expect_str_eq(((Everything *)mn_get(mn_all(t.o, Everything), "pk", g->id))->amount, "7.100");
    cr_expect_eq(
        mn_qs_count(mn_filter(mn_all(t.o, Everything), "uid", "6BA7B8109DAD11D180B400C04FD430C8")),
        1);

    Everything *empty = mn_new(t.o, Everything);
    cr_assert_eq(mn_save(t.o, empty), 0, "%s", mn_orm_error(t.o));
    Everything *ge = mn_get(mn_all(t.o, Everything), "pk", empty->id);
    const char *nullable[] = {"small", "big",  "ratio", "amount", "flag", "day", "at",
                              "clock", "span", "uid",   "doc",    "blob", "ip"};
    for (size_t i = 0; i < sizeof nullable / sizeof *nullable; i++)
        cr_expect(mn_obj_is_null(ge, nullable[i]), "%s should be NULL", nullable[i]);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "flag__isnull", true)), 1);
}

Test(orm_write, a_zero_assigned_after_a_saved_value_is_zero_not_null)
{
    Everything *n = mn_new(t.o, Everything);
    n->small = 3;
    n->big = 7;
    cr_assert_eq(mn_save(t.o, n), 0, "%s", mn_orm_error(t.o));
    n->small = 0; /* the null bit of the new instance must not turn this into NULL */
    cr_assert_eq(mn_save(t.o, n), 0, "%s", mn_orm_error(t.o));
    Everything *g = mn_get(mn_all(t.o, Everything), "pk", n->id);
    cr_expect_not(mn_obj_is_null(g, "small"), "small was saved as NULL");
    cr_expect_eq(g->small, 0);

    Everything *b = mn_new(t.o, Everything);
    b->big = 5;
    void *objs[] = {b};
    cr_assert_eq(mn_bulk_create(t.o, &Everything_model, objs, 1, NULL), 0, "%s", mn_orm_error(t.o));
    b->big = 0;
    cr_assert_eq(mn_save_fields(t.o, b, "big"), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Everything), "big", 0)), 1,
                 "bulk_create settles the null bits too");
}

Test(orm_write, update_fields_writes_only_those_columns)
{
    Author *a = mn_create(t.o, Author, "name", "Ann", "email", "a@x.org");
    cr_assert_not_null(a);
    Author *stale = mn_get(mn_all(t.o, Author), "pk", a->id);
    a->email = "new@x.org";
    cr_assert_eq(mn_save(t.o, a), 0);
    stale->name = "Annie";
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    cr_assert_eq(mn_save_fields(t.o, stale, "name"), 0, "%s", mn_orm_error(t.o));
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(log.count, 1);
    cr_expect(strstr(log.entries[0].sql, "email") == NULL, "%s", log.entries[0].sql);
    Author *g = mn_get(mn_all(t.o, Author), "pk", a->id);
    cr_expect_str_eq(g->name, "Annie");
    cr_expect_str_eq(g->email, "new@x.org", "the other column kept its newer value");
    cr_expect_eq(mn_save_fields(t.o, stale, "nmae"), MN_EFIELD);
    cr_expect_str_eq(mn_orm_error(t.o), "Author has no field 'nmae'; did you mean 'name'?");
}

Test(orm_write, unique_violation_is_an_integrity_error)
{
    cr_assert_not_null(mn_create(t.o, Author, "name", "Ann"));
    cr_expect_null(mn_create(t.o, Author, "name", "Ann"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
    cr_expect_eq(count(&Author_model), 1);
    Author *a = mn_create(t.o, Author, "name", "Bob");
    cr_assert_not_null(a, "the session is usable after the error: %s", mn_orm_error(t.o));
    Book *b = mn_new(t.o, Book);
    b->title = "x";
    b->author.id = 424242;
    cr_expect_eq(mn_save(t.o, b), MN_EDB_INTEGRITY, "a dangling foreign key");
}

Test(orm_write, delete_follows_on_delete_rules)
{
    library lib;
    library_fill(t.o, &lib);
    /* PROTECT: an author with books cannot go */
    cr_expect_eq(mn_delete(t.o, lib.ann, NULL), MN_EPROTECTED);
    cr_expect(strstr(mn_orm_error(t.o), "protected foreign keys: 'Book.author'"), "%s",
              mn_orm_error(t.o));
    cr_expect_eq(count(&Author_model), 3);
    /* SET_NULL on the author's mentor, nothing else */
    mn_delete_report rep;
    cr_assert_eq(mn_delete(t.o, lib.cy, &rep), 1, "%s", mn_orm_error(t.o));
    /* SET_NULL for reviews, M2M rows removed, the book deleted */
    cr_assert_eq(mn_delete(t.o, lib.dune, &rep), 2, "%s", mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "library.Book"), 1);
    cr_expect_eq(report_count(&rep, "library.Book_tags"), 1);
    cr_expect_eq(rep.total, 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book__isnull", true)), 2);
    /* RESTRICT: a shelved book cannot be deleted directly */
    cr_assert_not_null(mn_create(t.o, Shelf, "book", lib.sql, "label", "A1"));
    cr_expect_eq(mn_delete(t.o, lib.sql, NULL), MN_ERESTRICTED);
    cr_expect(strstr(mn_orm_error(t.o), "restricted foreign keys: 'Shelf.book'"), "%s",
              mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "pk", lib.sql->id)), 1);
    /* CASCADE: a question takes its choices */
    mn_datetime now = {.year = 2024, .month = 1, .day = 1, .aware = true};
    Question *q = mn_create(t.o, Question, "text", "q", "pub_date", &now);
    cr_assert_not_null(mn_create(t.o, Choice, "question", q, "text", "a"));
    cr_assert_not_null(mn_create(t.o, Choice, "question", q, "text", "b"));
    cr_assert_eq(mn_delete(t.o, q, &rep), 3, "%s", mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "polls.Choice"), 2);
    cr_expect_eq(report_count(&rep, "polls.Question"), 1);
    cr_expect_eq(count(&Choice_model), 0);
    /* SET_NULL on a self reference: deleting the mentor keeps the mentee */
    cr_assert_eq(mn_qs_delete(mn_filter(mn_all(t.o, Book), "author", lib.ann), &rep), 2, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "library.Book_tags"), 1, "M2M rows count, as Django");
    cr_assert_eq(mn_delete(t.o, lib.ann, &rep), 1, "%s", mn_orm_error(t.o));
    Author *bob = mn_get(mn_all(t.o, Author), "name", "Bob");
    cr_expect(mn_obj_is_null(bob, "mentor"));
}

/* The collector keeps an index of the rows it has gathered (it used to search a list, which
 * made deleting n rows quadratic): hundreds of rows, past the index's first resizes, are each
 * deleted once with their cascades and counted once. */
Test(orm_write, deleting_many_rows_cascades_each_row_once)
{
    enum { N = 700 };
    static Question *qs[N];
    static Choice *cs[2 * N];
    mn_datetime now = {.year = 2024, .month = 1, .day = 1, .aware = true};
    for (int i = 0; i < N; i++) {
        qs[i] = mn_new(t.o, Question);
        qs[i]->text = "q";
        qs[i]->pub_date = now;
    }
    cr_assert_eq(mn_bulk_create(t.o, &Question_model, (void **)qs, N, NULL), 0, "%s",
                 mn_orm_error(t.o));
    for (int i = 0; i < 2 * N; i++) {
        cs[i] = mn_new(t.o, Choice);
        cs[i]->question.id = qs[i / 2]->id;
        cs[i]->text = "c";
    }
    cr_assert_eq(mn_bulk_create(t.o, &Choice_model, (void **)cs, 2 * N, NULL), 0, "%s",
                 mn_orm_error(t.o));
    int64_t some[N + 2];
    some[0] = qs[0]->id;
    for (int i = 0; i < N; i++)
        some[i + 1] = qs[i]->id;
    some[N + 1] = qs[N - 1]->id; /* a pk listed twice */
    mn_delete_report rep;
    cr_assert_eq(
        mn_qs_delete(mn_filter(mn_all(t.o, Question), "pk__in", mn_arg_ints(some, N + 2, t.arena)),
                     &rep),
        3 * N, "%s", mn_orm_error(t.o));
    cr_expect_eq(report_count(&rep, "polls.Question"), N);
    cr_expect_eq(report_count(&rep, "polls.Choice"), 2 * N);
    cr_expect_eq(count(&Question_model), 0);
    cr_expect_eq(count(&Choice_model), 0);
}

Test(orm_write, queryset_delete_and_update)
{
    library lib;
    library_fill(t.o, &lib);
    mn_delete_report rep;
    cr_expect_eq(mn_qs_delete(mn_filter(mn_all(t.o, Review), "stars__lt", 5), &rep), 2);
    cr_expect_eq(count(&Review_model), 1);
    cr_expect_eq(
        mn_update(mn_filter(mn_all(t.o, Book), "genre", "fi"), "in_print", false, "rating", 1.5),
        2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "in_print", false, "rating", 1.5)), 2);
    cr_expect_eq(mn_update(mn_all(t.o, Book), "titel", "x"), MN_EFIELD);
    cr_expect_eq(mn_qs_delete(mn_qs_slice(mn_all(t.o, Book), 0, 1), NULL), MN_EINVAL);
}

Test(orm_write, get_or_create_and_update_or_create)
{
    bool created = false;
    mn_qs *authors = mn_all(t.o, Author);
    Author *a = mn_qs_get_or_create(authors, MN_KVS("name", "Ann"), 1, MN_KVS("email", "ann@x.org"),
                                    1, &created);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_str_eq(a->email, "ann@x.org");
    Author *again = mn_qs_get_or_create(authors, MN_KVS("name", "Ann"), 1,
                                        MN_KVS("email", "other@x.org"), 1, &created);
    cr_assert_not_null(again);
    cr_expect_not(created);
    cr_expect_eq(again->id, a->id);
    cr_expect_str_eq(again->email, "ann@x.org");
    Author *u = mn_qs_update_or_create(authors, MN_KVS("name", "Ann"), 1,
                                       MN_KVS("email", "upd@x.org"), 1, &created);
    cr_assert_not_null(u, "%s", mn_orm_error(t.o));
    cr_expect_not(created);
    cr_expect_str_eq(((Author *)mn_get(authors, "name", "Ann"))->email, "upd@x.org");
    u = mn_qs_update_or_create(authors, MN_KVS("name", "Bob"), 1, MN_KVS("email", "b@x.org"), 1,
                               &created);
    cr_assert_not_null(u, "%s", mn_orm_error(t.o));
    cr_expect(created);
    cr_expect_eq(count(&Author_model), 2);
}

Test(orm_write, bulk_create_returns_pks_and_handles_conflicts)
{
    enum { N = 2500 };
    static Tag *tags[N];
    for (int i = 0; i < N; i++) {
        tags[i] = mn_new(t.o, Tag);
        tags[i]->name = mn_arena_printf(t.arena, "t%05d", i);
    }
    cr_assert_eq(
        mn_bulk_create(t.o, &Tag_model, (void **)tags, N, &(mn_bulk_opts){.batch_size = 1000}), 0,
        "%s", mn_orm_error(t.o));
    cr_expect_eq(count(&Tag_model), N);
    for (int i = 1; i < N; i++)
        cr_assert_eq(tags[i]->id, tags[i - 1]->id + 1, "pks in order");
    Tag *got = mn_get(mn_all(t.o, Tag), "pk", tags[1234]->id);
    cr_expect_str_eq(got->name, "t01234");

    Author *dup[2] = {mn_new(t.o, Author), mn_new(t.o, Author)};
    dup[0]->name = "Same";
    dup[1]->name = "Same";
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)dup, 2, NULL), MN_EDB_INTEGRITY);
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)dup, 2,
                                &(mn_bulk_opts){.ignore_conflicts = true}),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(count(&Author_model), 1);
    Author *up = mn_new(t.o, Author);
    up->name = "Same";
    up->email = "merged@x.org";
    cr_expect_eq(mn_bulk_create(
                     t.o, &Author_model, (void **)&up, 1,
                     &(mn_bulk_opts){.update_conflicts_fields = "email", .unique_fields = "name"}),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Author *)mn_get(mn_all(t.o, Author), "name", "Same"))->email,
                     "merged@x.org");
}

Test(orm_write, bulk_create_keeps_pks_that_are_set)
{
    /* As Django: a set pk is inserted as it is; the others are numbered by the database. */
    Tag *tags[4];
    for (int i = 0; i < 4; i++) {
        tags[i] = mn_new(t.o, Tag);
        tags[i]->name = mn_arena_printf(t.arena, "k%d", i);
    }
    tags[0]->id = 500;
    tags[2]->id = 700;
    cr_assert_eq(mn_bulk_create(t.o, &Tag_model, (void **)tags, 4, NULL), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(count(&Tag_model), 4);
    cr_expect_str_eq(((Tag *)mn_get(mn_all(t.o, Tag), "pk", 500))->name, "k0");
    cr_expect_str_eq(((Tag *)mn_get(mn_all(t.o, Tag), "pk", 700))->name, "k2");
    cr_expect(tags[1]->id != 0 && tags[3]->id != 0 && tags[1]->id != tags[3]->id,
              "the others got pks from the database (%lld, %lld)", (long long)tags[1]->id,
              (long long)tags[3]->id);
    cr_expect_str_eq(((Tag *)mn_get(mn_all(t.o, Tag), "pk", tags[3]->id))->name, "k3");
    /* Inserting a taken pk again is the database's IntegrityError, not a silent renumbering. */
    Tag *again = mn_new(t.o, Tag);
    again->id = 500;
    again->name = "other";
    cr_expect_eq(mn_bulk_create(t.o, &Tag_model, (void **)&again, 1, NULL), MN_EDB_INTEGRITY);
}

Test(orm_write, bulk_update_sets_fields_in_batches)
{
    library lib;
    library_fill(t.o, &lib);
    Book *books[] = {lib.dune, lib.emma, lib.odes, lib.sql};
    for (int i = 0; i < 4; i++) {
        books[i]->pages = 1000 + i;
        books[i]->price = "1.25";
        books[i]->in_print = i % 2;
    }
    cr_assert_eq(mn_bulk_update(t.o, &Book_model, (void **)books, 4, "pages,price,in_print", 3), 4,
                 "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "pages__gte", 1000, "price", "1.25")), 4);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "in_print", true)), 2);
    cr_expect_eq(mn_bulk_update(t.o, &Book_model, (void **)books, 4, "id", 0), MN_EINVAL);
}

Test(orm_write, bulk_update_keeps_deferred_values_and_refuses_unsaved_objects)
{
    library lib;
    library_fill(t.o, &lib);
    int64_t pages = lib.dune->pages;
    cr_assert_neq(pages, 0);
    Book *x = mn_get(mn_qs_only(mn_all(t.o, Book), "title"), "pk", lib.dune->id);
    cr_assert_not_null(x, "%s", mn_orm_error(t.o));
    x->title = "Dune II";
    void *objs[] = {x};
    cr_assert_eq(mn_bulk_update(t.o, &Book_model, objs, 1, "title,pages", 0), 1, "%s",
                 mn_orm_error(t.o));
    Book *g = mn_get(mn_all(t.o, Book), "pk", lib.dune->id);
    cr_expect_str_eq(g->title, "Dune II");
    cr_expect_eq(g->pages, pages, "a deferred field must keep its stored value");

    Book *fresh = mn_new(t.o, Book);
    fresh->title = "unsaved";
    void *both[] = {g, fresh};
    cr_expect_eq(mn_bulk_update(t.o, &Book_model, both, 2, "title", 0), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "All bulk_update() objects must have a primary key set.");
}

Test(orm_write, many_to_many_add_remove_set_clear)
{
    library lib;
    library_fill(t.o, &lib);
    mn_qs *odes_tags = mn_related(t.o, lib.odes, "tags");
    cr_expect_eq(mn_qs_count(odes_tags), 2);
    cr_assert_eq(mn_m2m_add(t.o, lib.odes, "tags", (const void *[]){lib.classic, lib.tech}, 2), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 3, "adding twice is a no-op");
    cr_assert_eq(mn_m2m_remove(t.o, lib.odes, "tags", (const void *[]){lib.poetry}, 1), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 2);
    cr_assert_eq(mn_m2m_set(t.o, lib.odes, "tags", (const void *[]){lib.poetry}, 1), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 1);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.poetry, "books")), 1, "reverse accessor");
    cr_assert_eq(mn_m2m_clear(t.o, lib.odes, "tags"), 0);
    cr_expect_eq(mn_qs_count(mn_related(t.o, lib.odes, "tags")), 0);
    cr_expect_eq(mn_m2m_add(t.o, lib.odes, "title", (const void *[]){lib.poetry}, 1), MN_EINVAL);
}

/* Django's Field.get_default(): a string-backed field left unset is "" when null=False and
 * None when null=True, in memory and in the row, through create, save and bulk_create. */
Test(orm_write, an_unset_string_field_is_empty_text_unless_nullable)
{
    mn_datetime when = {.year = 2024, .month = 1, .day = 2, .aware = true};
    Question *q = mn_create(t.o, Question, "pub_date", &when);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    cr_assert_not_null(q->text, "the new instance holds \"\", as Django's");
    cr_expect_str_eq(q->text, "");
    Question *n = mn_new(t.o, Question);
    n->pub_date = when;
    cr_assert_eq(mn_save(t.o, n), 0, "%s", mn_orm_error(t.o));
    Question *b[2] = {mn_new(t.o, Question), mn_new(t.o, Question)};
    b[0]->pub_date = b[1]->pub_date = when;
    cr_assert_eq(mn_bulk_create(t.o, &Question_model, (void **)b, 2, NULL), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "text", "")), 4);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "text__isnull", true)), 0);
    Question *back = mn_get(mn_all(t.o, Question), "pk", q->id);
    cr_assert_not_null(back, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(back->text, "");
    /* every string-backed type, and a nullable one stays NULL */
    Everything *e = mn_new(t.o, Everything);
    cr_expect_str_eq(e->url, "");
    cr_expect_null(e->ip, "GenericIPAddressField: no empty strings, None");
    Author *a = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_null(a->email, "null=True: the default is None");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "email__isnull", true)), 1);
    Review *r = mn_create(t.o, Review, "stars", 4);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(r->body, "");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "body", "")), 1);
    /* full_clean: unset is blank; set to NULL is None, which the database refuses too */
    Question *c = mn_new(t.o, Question);
    c->pub_date = when;
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, c, &v), MN_EVALIDATION);
    cr_assert_eq(v.n, 1);
    cr_expect_str_eq(v.errors[0].message, "This field cannot be blank.");
    c->text = NULL;
    cr_assert_eq(mn_full_clean(t.o, c, &v), MN_EVALIDATION);
    cr_expect_str_eq(v.errors[0].message, "This field cannot be null.");
    cr_expect_eq(mn_save(t.o, c), MN_EDB_INTEGRITY, "NOT NULL: %s", mn_orm_error(t.o));
}
