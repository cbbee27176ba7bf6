/* test_fixes2.c — distinct() with a random or related ordering on PostgreSQL, Django's checks
 * of bulk_create's conflict options, a failed bulk operation inside atomic() marking the block
 * for rollback, and DecimalField values wider than max_digits refused on SQLite as on
 * PostgreSQL. Every test runs on both databases. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

LIBRARY_SUITE(orm_fixes2);

/* The titles of qs's books, comma-separated, in the order they came. */
static const char *titles(mn_qs *qs)
{
    return library_names(&t, qs);
}

/* The same titles sorted, so a random order compares. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *sorted_titles(mn_qs *qs)
{
    mn_rows *r = mn_qs_fetch(qs);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    const char **names = mn_arena_alloc(t.arena, (r->len + 1) * sizeof *names);
    for (size_t i = 0; i < r->len; i++)
        names[i] = ((Book *)r->items[i])->title;
    qsort(names, r->len, sizeof *names, cmp_str);
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (size_t i = 0; i < r->len; i++) {
        if (i)
            mn_buf_putc(&b, ',');
        mn_buf_puts(&b, names[i]);
    }
    return mn_buf_cstr(&b);
}

static mn_qs *classic_or_poetry(void)
{
    /* Odes has both tags: the join gives it twice */
    return mn_filter(mn_all(t.o, Book), "tags__name__in", MN_IN_STR("classic", "poetry"));
}

/* ---- A19: distinct() with order_by('?') or a related field ---- */
Test(orm_fixes2, distinct_with_random_order_gives_each_row_once)
{
    cr_expect_eq(mn_qs_count(classic_or_poetry()), 4, "the join repeats Odes");
    for (int round = 0; round < 5; round++) {
        mn_qs *qs = mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?");
        cr_expect_str_eq(sorted_titles(qs), "Dune,Emma,Odes 50% off_sale", "%s", mn_orm_error(t.o));
    }
    /* the instances are read right: the ordering's extra column disturbs nothing */
    mn_rows *r = mn_qs_fetch(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?"));
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    for (size_t i = 0; i < r->len; i++) {
        Book *b = r->items[i];
        if (strcmp(b->title, "Dune") == 0) {
            cr_expect_str_eq(b->price, "19.99");
            cr_expect_eq(b->pages, 412);
        }
    }
    /* a slice of it, values_list and count */
    mn_qs *two = mn_qs_slice(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?"), 0, 2);
    r = mn_qs_fetch(two);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_eq(r->len, 2);
    if (r->len == 2)
        cr_expect_neq(((Book *)r->items[0])->id, ((Book *)r->items[1])->id);
    mn_qs *flat =
        mn_qs_values_list(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?"), "title", true);
    r = mn_qs_fetch(flat);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_expect_eq(r->len, 3);
    cr_expect_eq(mn_qs_count(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?")), 3);
    /* a term before the random one still orders: Ann's books first, in some order */
    for (int round = 0; round < 3; round++) {
        const char *s =
            titles(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "author__name,?"));
        cr_expect(strcmp(s, "Dune,Emma,Odes 50% off_sale") == 0 ||
                      strcmp(s, "Emma,Dune,Odes 50% off_sale") == 0,
                  "%s", s);
        s = titles(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "-author__name,?"));
        cr_expect(strncmp(s, "Odes 50% off_sale,", 18) == 0, "%s", s);
    }
}

Test(orm_fixes2, distinct_with_a_related_ordering)
{
    mn_qs *qs = mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "-author__name,title");
    mn_rows *r = mn_qs_fetch(qs);
    cr_assert_not_null(r, "%s", mn_orm_error(t.o));
    cr_assert_eq(r->len, 3);
    Book *odes = r->items[0], *dune = r->items[1];
    cr_expect_str_eq(odes->title, "Odes 50% off_sale");
    cr_expect_str_eq(dune->title, "Dune");
    cr_expect_str_eq(dune->price, "19.99", "the row is read right despite the extra column");
    cr_expect_eq(mn_obj_pk(dune), mn_obj_pk(lib.dune));
    /* values(): only the asked-for keys, each row once */
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()),
                                                      "author__name,title"),
                                       "title")),
        "[{'title': 'Dune'}, {'title': 'Emma'}, {'title': 'Odes 50% off_sale'}]");
    /* a relation orders by its model's Meta.ordering (Author: name) */
    cr_expect_str_eq(titles(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "-author,title")),
                     "Odes 50% off_sale,Dune,Emma");
    cr_expect_str_eq(
        titles(mn_qs_order_by(mn_qs_select_related(mn_qs_distinct(classic_or_poetry()), "author"),
                              "author__name,-title")),
        "Emma,Dune,Odes 50% off_sale");
}

Test(orm_fixes2, a_distinct_ordered_queryset_as_an_in_subquery)
{
    /* unsliced, its ordering is dropped as Django's clear_ordering(): the ordering column
     * distinct() would select must not become a second column of the subquery */
    mn_qs *sub = mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "author__name");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "pk__in", sub)), 3, "%s",
                 mn_orm_error(t.o));
    sub = mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "pk__in", sub)), 3, "%s",
                 mn_orm_error(t.o));
    sub = mn_qs_slice(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?"), 0, 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "pk__in", sub)), 2, "%s",
                 mn_orm_error(t.o));
    /* sliced, the ordering decides which rows: kept */
    sub = mn_qs_slice(mn_qs_order_by(mn_all(t.o, Book), "-title"), 0, 2);
    cr_expect_str_eq(titles(mn_qs_order_by(mn_filter(mn_all(t.o, Book), "pk__in", sub), "title")),
                     "Odes 50% off_sale,SQL in Depth");
    /* an aggregate and an update over such a queryset */
    mn_value *v = mn_qs_aggregate(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?"), "n",
                                  mn_Count(t.o, "id", false, NULL));
    cr_expect_str_eq(v ? tdb_repr(&t, v) : mn_orm_error(t.o), "{'n': 3}");
    cr_expect_eq(mn_update(mn_qs_order_by(mn_qs_distinct(classic_or_poetry()), "?"), "pages", 7), 3,
                 "%s", mn_orm_error(t.o));
}

/* ---- A7: bulk_create's conflict options, checked as Django's _check_bulk_create_options ---- */
static Author *new_author(const char *name, const char *email)
{
    Author *a = mn_new(t.o, Author);
    cr_assert_not_null(a);
    a->name = name;
    a->email = email;
    return a;
}

static void expect_refused(const mn_bulk_opts *opts, int code, const char *msg)
{
    Author *a = new_author("Zed", "z@x.org");
    int64_t before = mn_qs_count(mn_all(t.o, Author));
    int rc = mn_bulk_create(t.o, &Author_model, (void **)&a, 1, opts);
    cr_expect_eq(rc, code, "%s: %d %s", msg, rc, mn_orm_error(t.o));
    cr_expect(strstr(mn_orm_error(t.o), msg), "want '%s', got '%s'", msg, mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), before, "nothing inserted: %s", msg);
}

Test(orm_fixes2, bulk_create_conflict_options_are_checked)
{
    expect_refused(&(mn_bulk_opts){.ignore_conflicts = true,
                                   .update_conflicts_fields = "email",
                                   .unique_fields = "name"},
                   MN_EINVAL, "ignore_conflicts and update_conflicts are mutually exclusive.");
    expect_refused(&(mn_bulk_opts){.update_conflicts = true, .unique_fields = "name"}, MN_EINVAL,
                   "Fields that will be updated when a row insertion fails on conflicts must be "
                   "provided.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = " , ", .unique_fields = "name"},
                   MN_EINVAL,
                   "Fields that will be updated when a row insertion fails on conflicts must be "
                   "provided.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "email"}, MN_EINVAL,
                   "Unique fields that can trigger the upsert must be provided.");
    expect_refused(&(mn_bulk_opts){.update_conflicts = true, .update_conflicts_fields = "email"},
                   MN_EINVAL, "Unique fields that can trigger the upsert must be provided.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "email,id", .unique_fields = "name"},
                   MN_EINVAL, "bulk_create() cannot be used with primary keys in update_fields.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "pk", .unique_fields = "name"},
                   MN_EINVAL, "bulk_create() cannot be used with primary keys in update_fields.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "mentees", .unique_fields = "name"},
                   MN_EINVAL,
                   "bulk_create() can only be used with concrete fields in update_fields.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "clubs", .unique_fields = "name"},
                   MN_EINVAL,
                   "bulk_create() can only be used with concrete fields in update_fields.");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "email", .unique_fields = "clubs"},
                   MN_EINVAL,
                   "bulk_create() can only be used with concrete fields in unique_fields.");
    /* a misspelt name says which, with the closest one, as every other field name does */
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "email", .unique_fields = "nmae"},
                   MN_EFIELD, "Author has no field 'nmae'; did you mean 'name'?");
    expect_refused(&(mn_bulk_opts){.update_conflicts_fields = "emial", .unique_fields = "name"},
                   MN_EFIELD, "Author has no field 'emial'; did you mean 'email'?");

    /* the right options upsert; "pk" is a valid conflict target */
    Author *a = new_author("Ann", "new@x.org");
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)&a, 1,
                                &(mn_bulk_opts){.update_conflicts = true,
                                                .update_conflicts_fields = "email",
                                                .unique_fields = "name"}),
                 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Author *)mn_get(mn_all(t.o, Author), "name", "Ann"))->email, "new@x.org");
    Author *b = new_author("Bob", "b2@x.org");
    b->id = lib.bob->id;
    cr_expect_eq(
        mn_bulk_create(t.o, &Author_model, (void **)&b, 1,
                       &(mn_bulk_opts){.update_conflicts_fields = "email", .unique_fields = "pk"}),
        0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Author *)mn_get(mn_all(t.o, Author), "name", "Bob"))->email, "b2@x.org");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 3);
}

/* ---- a failed bulk operation inside atomic() marks the block for rollback ---- */
static void expect_block_refuses(const char *what)
{
    cr_expect_null(mn_create(t.o, Tag, "name", "after"), "%s: the block takes no more", what);
    cr_expect_eq(mn_orm_errcode(t.o), MN_ETRANSACTION_MANAGEMENT, "%s: %s", what,
                 mn_orm_error(t.o));
    cr_expect(strstr(mn_orm_error(t.o), "You can't execute queries until the end of the 'atomic'"),
              "%s: %s", what, mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "%s: %s", what,
                 mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_depth(t.o), 0);
}

Test(orm_fixes2, a_failed_bulk_create_marks_the_atomic_block)
{
    int64_t tags = mn_qs_count(mn_all(t.o, Tag));
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Tag, "name", "before"), "%s", mn_orm_error(t.o));
    Author *dup[2] = {new_author("New", NULL), new_author("Ann", NULL)};
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)dup, 2, NULL), MN_EDB_INTEGRITY, "%s",
                 mn_orm_error(t.o));
    expect_block_refuses("bulk_create");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), tags, "the whole block rolled back");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "name", "New")), 0);

    /* inside a nested block only that block is marked; the outer one goes on */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)dup, 2, NULL), MN_EDB_INTEGRITY);
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)dup, 1, NULL),
                 MN_ETRANSACTION_MANAGEMENT, "a marked block refuses bulk_create too");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_not_null(mn_create(t.o, Tag, "name", "outer"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), tags + 1);

    /* outside any block it is all or nothing, and the session goes on */
    Author *two[2] = {new_author("New2", NULL), new_author("Bob", NULL)};
    cr_expect_eq(mn_bulk_create(t.o, &Author_model, (void **)two, 2, NULL), MN_EDB_INTEGRITY);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "name", "New2")), 0);
    cr_expect_not_null(mn_create(t.o, Tag, "name", "autocommit"), "%s", mn_orm_error(t.o));
}

Test(orm_fixes2, a_failed_bulk_update_marks_the_atomic_block)
{
    int64_t tags = mn_qs_count(mn_all(t.o, Tag));
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Tag, "name", "before"), "%s", mn_orm_error(t.o));
    lib.cy->name = "Ann"; /* unique */
    cr_expect_eq(mn_bulk_update(t.o, &Author_model, (void **)&lib.cy, 1, "name", 0),
                 MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    expect_block_refuses("bulk_update");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), tags, "the whole block rolled back");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Author), "name", "Cy")), 1);
}

/* ---- A8: a decimal wider than the field is refused on SQLite as on PostgreSQL ---- */
static void expect_overflow(int rc, const char *what)
{
    cr_expect_eq(rc, MN_EDB_DATA, "%s: %d %s", what, rc, mn_orm_error(t.o));
    cr_expect(strstr(mn_orm_error(t.o), "Book.price"), "%s: %s", what, mn_orm_error(t.o));
}

static const char *stored_price(const Book *b)
{
    mn_rows *r =
        mn_qs_fetch(mn_qs_values_list(mn_filter(mn_all(t.o, Book), "pk", b->id), "price", true));
    cr_assert(r && r->len == 1, "%s", mn_orm_error(t.o));
    return tdb_repr(&t, r->items[0]);
}

Test(orm_fixes2, decimal_overflow_is_refused_on_both)
{
    /* Book.price: max_digits=8, decimal_places=2, so at most 6 digits before the point */
    Book *b = lib.dune;
    b->price = "1234567.00";
    expect_overflow(mn_save(t.o, b), "save 7 integer digits");
    b->price = "999999.995"; /* rounds to 1000000.00: 9 digits */
    expect_overflow(mn_save(t.o, b), "save rounding up past max_digits");
    b->price = "-1234567";
    expect_overflow(mn_save(t.o, b), "save a negative one");
    b->price = "123456789012345678901234567890";
    expect_overflow(mn_save(t.o, b), "save one wider than 64 bits");
    cr_expect_str_eq(stored_price(b), "Decimal('19.99')", "nothing was written");

    expect_overflow((int)mn_update(mn_filter(mn_all(t.o, Book), "pk", b->id), "price", "10000000"),
                    "update");
    Book *n = mn_new(t.o, Book);
    n->title = "Big";
    n->author.id = lib.ann->id;
    n->price = "1000000";
    expect_overflow(mn_bulk_create(t.o, &Book_model, (void **)&n, 1, NULL), "bulk_create");
    expect_overflow(mn_save(t.o, n), "create");
    b->price = "1000000";
    expect_overflow((int)mn_bulk_update(t.o, &Book_model, (void **)&b, 1, "price", 0),
                    "bulk_update");
    cr_expect_str_eq(stored_price(b), "Decimal('19.99')");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "title", "Big")), 0);

    /* the widest that fits is stored; extra places are rounded to the field's scale, half
     * away from zero, as PostgreSQL's numeric does */
    b->price = "999999.99";
    cr_expect_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(b), "Decimal('999999.99')");
    b->price = "999999.994";
    cr_expect_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(b), "Decimal('999999.99')");
    b->price = "12.345";
    cr_expect_eq(mn_save(t.o, b), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(b), "Decimal('12.35')");
    Everything *e = mn_create(t.o, Everything, "amount", "-1.2345"); /* (12, 3) */
    cr_assert_not_null(e, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Everything *)mn_get(mn_all(t.o, Everything), "pk", e->id))->amount,
                     "-1.235");
    cr_expect_null(mn_create(t.o, Everything, "amount", "-1234567890"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_DATA, "%s", mn_orm_error(t.o));
    cr_expect(strstr(mn_orm_error(t.o), "Everything.amount"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_update(mn_filter(mn_all(t.o, Book), "pk", b->id), "price", "0.004"), 1, "%s",
                 mn_orm_error(t.o));
    cr_expect_str_eq(stored_price(b), "Decimal('0.00')");
    /* a filter compares with any width: no overflow there */
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "price__lt", "123456789.5")), 4, "%s",
                 mn_orm_error(t.o));
}
