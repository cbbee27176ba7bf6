/* test_errors_paths.c — a wrong field, relation or lookup name anywhere a path is written
 * (filter, order_by, values, only, defer, select_related) fails with a message that names the
 * model, the path and the closest valid name; mn_orm_error() is the error of the last call.
 * Same messages on SQLite and PostgreSQL. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <manouche/template.h>
#include <string.h>

LIBRARY_SUITE(orm_errors_paths);

/* The message a filter on Book with this lookup fails with ("" if it does not fail). */
static const char *filter_error(const char *lookup, mn_arg v)
{
    mn_qs *qs = mn_qs_filter_kv(mn_all(t.o, Book), &(mn_kv){lookup, v}, 1);
    if (mn_qs_fetch(qs))
        return "";
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD, "%s: %s", lookup, mn_orm_error(t.o));
    const char *fetched = mn_arena_strdup(t.arena, mn_orm_error(t.o));
    /* count() compiles the same condition and must say the same */
    cr_expect_lt(mn_qs_count(mn_qs_filter_kv(mn_all(t.o, Book), &(mn_kv){lookup, v}, 1)), 0);
    cr_expect_str_eq(mn_orm_error(t.o), fetched, "count() and fetch() disagree on %s", lookup);
    return fetched;
}
#define FERR(lookup, v) filter_error((lookup), MN_ARG(v))

Test(orm_errors_paths, a_wrong_field_after_a_relation_names_the_related_model)
{
    cr_expect_str_eq(FERR("autor__name", "x"), "Book has no field 'autor'; did you mean 'author'?");
    cr_expect_str_eq(FERR("author__nam", "x"),
                     "Author has no field 'nam'; did you mean 'name'? (in 'author__nam')");
    cr_expect_str_eq(
        FERR("author__nam__icontains", "x"),
        "Author has no field 'nam'; did you mean 'name'? (in 'author__nam__icontains')");
    /* through the reverse accessor the model reached is Book again */
    cr_expect_str_eq(
        FERR("author__books__titel", "x"),
        "Book has no field 'titel'; did you mean 'title'? (in 'author__books__titel')");
    cr_expect_str_eq(
        FERR("author__books__titel__iexact", "x"),
        "Book has no field 'titel'; did you mean 'title'? (in 'author__books__titel__iexact')");
    cr_expect_str_eq(FERR("tags__nme", "x"),
                     "Tag has no field 'nme'; did you mean 'name'? (in 'tags__nme')");
    cr_expect_str_eq(FERR("reviews__strs__gt", 1),
                     "Review has no field 'strs'; did you mean 'stars'? (in 'reviews__strs__gt')");
    cr_expect_str_eq(
        FERR("author__mentor__nme__startswith", "x"),
        "Author has no field 'nme'; did you mean 'name'? (in 'author__mentor__nme__startswith')");
    /* nothing close: the choices are listed */
    const char *e = FERR("author__zzzzzzzz", "x");
    cr_expect(strncmp(e, "Author has no field 'zzzzzzzz'; choices are: id, name, email, mentor, ",
                      69) == 0,
              "%s", e);
    cr_expect(strstr(e, "books") && strstr(e, "mentees") && strstr(e, "clubs"), "%s", e);
    cr_expect(strstr(e, " (in 'author__zzzzzzzz')"), "%s", e);
}

Test(orm_errors_paths, a_wrong_lookup_names_the_field_class_model_and_path)
{
    cr_expect_str_eq(FERR("title__year", 2021),
                     "Unsupported lookup 'year' for CharField Book.title or join on the field not "
                     "permitted (in 'title__year')");
    cr_expect_str_eq(FERR("title__bogus", "x"),
                     "Unsupported lookup 'bogus' for CharField Book.title or join on the field not "
                     "permitted (in 'title__bogus')");
    cr_expect_str_eq(FERR("title__icontans", "x"),
                     "Unsupported lookup 'icontans' for CharField Book.title or join on the field "
                     "not permitted; did you mean 'icontains'? (in 'title__icontans')");
    cr_expect_str_eq(
        FERR("author__name__strtswith", "x"),
        "Unsupported lookup 'strtswith' for CharField Author.name or join on the "
        "field not permitted; did you mean 'startswith'? (in 'author__name__strtswith')");
    /* transforms are suggested for dates, and after one the field is an integer */
    cr_expect_str_eq(FERR("published__yaer", 2021),
                     "Unsupported lookup 'yaer' for DateField Book.published or join on the field "
                     "not permitted; did you mean 'year'? (in 'published__yaer')");
    cr_expect_str_eq(FERR("published__year__gtee", 2021),
                     "Unsupported lookup 'gtee' for IntegerField Book.published__year or join on "
                     "the field not permitted; did you mean 'gte'? (in 'published__year__gtee')");
    cr_expect_str_eq(FERR("pages__isnul", true),
                     "Unsupported lookup 'isnul' for PositiveIntegerField Book.pages or join on "
                     "the field not permitted; did you mean 'isnull'? (in 'pages__isnul')");
    /* after a relation's primary key, the next word is a lookup of that key */
    cr_expect_str_eq(FERR("author__id__bogus", 1),
                     "Unsupported lookup 'bogus' for BigAutoField Author.id or join on the field "
                     "not permitted (in 'author__id__bogus')");
    cr_expect_str_eq(FERR("pk__bogus", 1),
                     "Unsupported lookup 'bogus' for BigAutoField Book.id or join on the field "
                     "not permitted (in 'pk__bogus')");
    cr_expect_str_eq(FERR("author__year", 1),
                     "Unsupported lookup 'year' for ForeignKey Book.author or join on the field "
                     "not permitted (in 'author__year')");
}

Test(orm_errors_paths, valid_paths_still_work)
{
    cr_expect_str_eq(FERR("author__name__icontains", "AN"), "");
    cr_expect_str_eq(FERR("author__books__title", "Dune"), "");
    cr_expect_str_eq(FERR("author__books__in", MN_IN(lib.dune->id)), "");
    cr_expect_str_eq(FERR("author__books__isnull", false), "");
    cr_expect_str_eq(FERR("author__id__gt", 0), "");
    cr_expect_str_eq(FERR("author__pk", lib.ann->id), "");
    cr_expect_str_eq(FERR("tags__name__startswith", "c"), "");
    cr_expect_str_eq(FERR("published__year__gte", 2000), "");
    cr_expect_str_eq(FERR("author__mentor__name", "Ann"), "");
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Book), "author__books__title", "Dune")), 2);
}

Test(orm_errors_paths, order_by_a_wrong_name_fails_where_it_is_written)
{
    mn_qs *all = mn_all(t.o, Book);
    mn_qs *bad = mn_qs_order_by(all, "-titel");
    cr_expect_null(bad, "a misspelt ordering must not sort by nothing");
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'titel'; did you mean 'title'?");
    /* the error carries through the chain: nothing is counted or fetched */
    cr_expect_lt(mn_qs_count(bad), 0);
    cr_expect_null(mn_qs_fetch(mn_qs_slice(bad, 0, 2)));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'titel'; did you mean 'title'?");

    cr_expect_null(mn_qs_order_by(all, "pages, author__nme"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Author has no field 'nme'; did you mean 'name'? (in 'author__nme')");
    cr_expect_null(mn_qs_order_by(all, "author__books__titel"));
    cr_expect_str_eq(
        mn_orm_error(t.o),
        "Book has no field 'titel'; did you mean 'title'? (in 'author__books__titel')");
    cr_expect_null(mn_qs_order_by(all, "title__bogus"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Cannot resolve keyword 'bogus' into field. Join on 'title' not permitted "
                     "(Book.title is a CharField; in 'title__bogus')");
    cr_expect_null(mn_get(mn_qs_order_by(all, "+titel"), "pk", lib.dune->id));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);

    /* every valid form still orders */
    const char *good[] = {"-title",
                          "?",
                          "pk",
                          "-pk",
                          "author__name,title",
                          "author",
                          "author_id",
                          "-author__mentor__name",
                          "tags__name",
                          "+pages"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        mn_qs *qs = mn_qs_order_by(all, good[i]);
        cr_expect_not_null(qs, "%s: %s", good[i], mn_orm_error(t.o));
        cr_expect_not_null(mn_qs_fetch(qs), "%s: %s", good[i], mn_orm_error(t.o));
    }
    mn_rows *rows = mn_qs_fetch(mn_qs_order_by(all, "-author__name,title"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(((Book *)rows->items[0])->title, "Odes 50% off_sale"); /* bob's first */
    /* an annotation is a valid ordering once it exists */
    mn_qs *ann = mn_qs_annotate(all, "nrev", mn_Count(t.o, "reviews", false, NULL));
    cr_expect_not_null(mn_qs_fetch(mn_qs_order_by(ann, "-nrev,title")), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_qs_order_by(ann, "-nrevs"));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'nrevs'; did you mean 'nrev'?");
    cr_expect_null(mn_qs_order_by(ann, "-nrevs__gt"));
    cr_expect_null(mn_qs_order_by(ann, "zzzzzzzzzz"));
    cr_expect(strstr(mn_orm_error(t.o), "Book has no field 'zzzzzzzzzz'; choices are: id, title,"),
              "%s", mn_orm_error(t.o));
}

Test(orm_errors_paths, values_only_defer_and_select_related_check_their_names)
{
    mn_qs *all = mn_all(t.o, Book);
    cr_expect_null(mn_qs_values(all, "title, autor__name"));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'autor'; did you mean 'author'?");
    cr_expect_null(mn_qs_values(all, "author__nam"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Author has no field 'nam'; did you mean 'name'? (in 'author__nam')");
    cr_expect_null(mn_qs_values_list(all, "titel", true));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'titel'; did you mean 'title'?");
    cr_expect_null(mn_qs_only(all, "title,pgaes"));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'pgaes'; did you mean 'pages'?");
    cr_expect_null(mn_qs_defer(all, "ratng"));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'ratng'; did you mean 'rating'?");
    cr_expect_null(mn_qs_select_related(all, "autor"));
    cr_expect_str_eq(mn_orm_error(t.o), "Book has no field 'autor'; did you mean 'author'?");
    cr_expect_null(mn_qs_select_related(all, "author__mentr"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Author has no field 'mentr'; did you mean 'mentor'? (in 'author__mentr')");
    cr_expect_null(mn_qs_select_related(all, "title"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_related: 'title' (Book.title is a "
                     "CharField, not a relation; in 'title'). Choices are: author");
    cr_expect_null(mn_qs_select_related(all, "author__name"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_related: 'name' (Author.name is a "
                     "CharField, not a relation; in 'author__name'). Choices are: mentor");
    cr_expect_lt(mn_qs_count(mn_qs_only(all, "pgaes")), 0);

    /* and the right names still load what they name */
    mn_rows *rows = mn_qs_fetch(mn_qs_values(mn_qs_order_by(all, "title"), "title,author__name"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 4);
    cr_expect_not_null(mn_qs_fetch(mn_qs_only(all, "title,author")), "%s", mn_orm_error(t.o));
    cr_expect_not_null(mn_qs_fetch(mn_qs_defer(all, "rating,author_id")), "%s", mn_orm_error(t.o));
    cr_expect_not_null(mn_qs_fetch(mn_qs_values_list(all, "pk", true)), "%s", mn_orm_error(t.o));
    cr_expect_not_null(mn_qs_fetch(mn_qs_select_related(all, "author__mentor")), "%s",
                       mn_orm_error(t.o));
}

Test(orm_errors_paths, the_error_is_the_last_calls)
{
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Book)), 4);
    cr_expect_str_eq(mn_orm_error(t.o), "", "a successful count leaves no stale message");
    cr_expect_eq(mn_orm_errcode(t.o), 0);

    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "title__bogus", 1)));
    cr_expect_not_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "title", "Dune")));
    cr_expect_str_eq(mn_orm_error(t.o), "");

    /* first() returns NULL for "empty" and for "failed": the code tells them apart */
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "pages__bogus", 1)));
    cr_expect_null(mn_qs_first(mn_filter(mn_all(t.o, Book), "title", "No such book")));
    cr_expect_eq(mn_orm_errcode(t.o), 0, "%s", mn_orm_error(t.o));

    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
    cr_expect_eq(mn_qs_exists(mn_filter(mn_all(t.o, Book), "title", "Dune")), 1);
    cr_expect_eq(mn_orm_errcode(t.o), 0);

    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
    cr_expect_not_null(mn_qs_aggregate(mn_all(t.o, Book), "n", mn_Count(t.o, NULL, false, NULL)));
    cr_expect_str_eq(mn_orm_error(t.o), "");

    /* a failure is still there when read right after it */
    cr_expect_null(mn_get(mn_all(t.o, Book), "pk", 999999));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDOES_NOT_EXIST);
    cr_expect_str_eq(mn_orm_error(t.o), "Book matching query does not exist.");
}

Test(orm_errors_paths, expressions_and_aggregates_name_the_path)
{
    mn_orm *o = t.o;
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(o, Book), "pages__gt", mn_F(o, "author__nam"))));
    cr_expect_str_eq(mn_orm_error(o),
                     "Author has no field 'nam'; did you mean 'name'? (in 'author__nam')");
    cr_expect_null(mn_qs_fetch(
        mn_qs_annotate(mn_all(o, Author), "n", mn_Count(o, "books__titel", false, NULL))));
    cr_expect_str_eq(mn_orm_error(o),
                     "Book has no field 'titel'; did you mean 'title'? (in 'books__titel')");
    cr_expect_null(
        mn_qs_fetch(mn_qs_annotate(mn_all(o, Author), "n", mn_Count(o, "boks", false, NULL))));
    cr_expect_str_eq(mn_orm_error(o), "Author has no field 'boks'; did you mean 'books'?");
}

Test(orm_errors_paths, the_error_is_the_last_calls_on_the_cached_pk_path_too)
{
    /* get() and first() by integer pk reuse the compiled statement: the second of each runs
     * without compiling, and must still not report an earlier call's failure */
    for (int round = 0; round < 2; round++) {
        cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
        cr_expect_not_null(mn_get(mn_all(t.o, Book), "pk", lib.dune->id));
        cr_expect_eq(mn_orm_errcode(t.o), 0, "round %d: %s", round, mn_orm_error(t.o));
        cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
        cr_expect_null(mn_qs_first(mn_filter(mn_all(t.o, Book), "pk", 999999)));
        cr_expect_eq(mn_orm_errcode(t.o), 0, "round %d: %s", round, mn_orm_error(t.o));
        cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
        cr_expect_not_null(mn_qs_first(mn_filter(mn_all(t.o, Book), "pk", lib.emma->id)));
        cr_expect_eq(mn_orm_errcode(t.o), 0, "round %d: %s", round, mn_orm_error(t.o));
    }
}

Test(orm_errors_paths, annotate_checks_its_expression_when_called)
{
    mn_orm *o = t.o;
    mn_qs *authors = mn_all(o, Author);
    cr_expect_null(mn_qs_annotate(authors, "n", mn_Count(o, "boks", false, NULL)));
    cr_expect_str_eq(mn_orm_error(o), "Author has no field 'boks'; did you mean 'books'?");
    cr_expect_null(mn_qs_annotate(authors, "n", mn_Sum(o, "books__pgaes", NULL)));
    cr_expect_str_eq(mn_orm_error(o),
                     "Book has no field 'pgaes'; did you mean 'pages'? (in 'books__pgaes')");
    cr_expect_null(mn_qs_annotate(authors, "n",
                                  mn_Count(o, "books", false, mn_Q(o, "books__pages__gtt", 100))));
    cr_expect_str_eq(mn_orm_error(o),
                     "Unsupported lookup 'gtt' for PositiveIntegerField Book.pages or join on the "
                     "field not permitted; did you mean 'gt'? (in 'books__pages__gtt')");
    /* an annotation may build on an earlier one, and the right names count */
    mn_qs *qs = mn_qs_annotate(authors, "n", mn_Count(o, "books", false, NULL));
    cr_assert_not_null(qs, "%s", mn_orm_error(o));
    qs = mn_qs_annotate(qs, "n2", mn_expr_op(o, '*', mn_F(o, "n"), mn_V(o, mn_arg_int(2))));
    cr_assert_not_null(qs, "%s", mn_orm_error(o));
    cr_expect_null(mn_qs_annotate(qs, "n3", mn_F(o, "n4")));
    mn_rows *rows = mn_qs_fetch(mn_filter(mn_qs_order_by(qs, "-n2,name"), "n2__gt", 0));
    cr_assert_not_null(rows, "%s", mn_orm_error(o));
    cr_expect_eq(rows->len, 2);
}

Test(orm_errors_paths, aggregate_names_the_path)
{
    mn_orm *o = t.o;
    mn_qs *few = mn_qs_slice(mn_qs_order_by(mn_all(o, Book), "title"), 0, 2);
    cr_expect_null(mn_qs_aggregate(mn_all(o, Book), "s", mn_Sum(o, "pgaes", NULL)));
    cr_expect_str_eq(mn_orm_error(o), "Book has no field 'pgaes'; did you mean 'pages'?");
    cr_expect_null(mn_qs_aggregate(few, "s", mn_Sum(o, "pgaes", NULL)));
    cr_expect_str_eq(mn_orm_error(o), "Book has no field 'pgaes'; did you mean 'pages'?");
    cr_expect_null(mn_qs_aggregate(few, "s", mn_Max(o, "author__nme", NULL)));
    cr_expect_str_eq(mn_orm_error(o),
                     "Author has no field 'nme'; did you mean 'name'? (in 'author__nme')");
    cr_expect_null(mn_qs_aggregate(few, "s", mn_Max(o, "author__name", NULL)));
    cr_expect_eq(mn_orm_errcode(o), MN_EUNSUPPORTED);
    cr_expect_str_eq(mn_orm_error(o), "aggregate() over a sliced, distinct or annotated Book "
                                      "queryset takes Book's own fields and annotations, not "
                                      "'author__name'");
    cr_expect_not_null(mn_qs_aggregate(few, "s", mn_Sum(o, "pages", NULL)), "%s", mn_orm_error(o));
    cr_expect_not_null(mn_qs_aggregate(mn_all(o, Book), "s", mn_Max(o, "author__name", NULL)), "%s",
                       mn_orm_error(o));
}

/* Leaves a failure in mn_orm_error() for the next write to clear. */
static void fail_a_read(void)
{
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Book), "autor", 1)));
    cr_assert_eq(mn_orm_errcode(t.o), MN_EFIELD);
}

#define EXPECT_CLEARED(what)                                                                       \
    do {                                                                                           \
        cr_expect_eq(mn_orm_errcode(t.o), 0, "%s: %s", what, mn_orm_error(t.o));                   \
        cr_expect_str_eq(mn_orm_error(t.o), "", "%s leaves a stale message", what);                \
    } while (0)

Test(orm_errors_paths, writes_that_succeed_clear_the_last_error)
{
    fail_a_read();
    Tag *tag = mn_create(t.o, Tag, "name", "fresh");
    cr_assert_not_null(tag, "%s", mn_orm_error(t.o));
    EXPECT_CLEARED("create");

    fail_a_read();
    tag->name = "fresher";
    cr_assert_eq(mn_save(t.o, tag), 0);
    EXPECT_CLEARED("save");

    fail_a_read();
    cr_assert_eq(mn_save_fields(t.o, tag, "name"), 0);
    EXPECT_CLEARED("save(update_fields)");

    fail_a_read();
    const void *tags[] = {tag};
    cr_assert_eq(mn_m2m_add(t.o, lib.dune, "tags", tags, 1), 0);
    EXPECT_CLEARED("m2m add");
    fail_a_read();
    cr_assert_eq(mn_m2m_remove(t.o, lib.dune, "tags", tags, 1), 0);
    EXPECT_CLEARED("m2m remove");
    fail_a_read();
    cr_assert_eq(mn_m2m_set(t.o, lib.dune, "tags", tags, 1), 0);
    EXPECT_CLEARED("m2m set");
    fail_a_read();
    cr_assert_eq(mn_m2m_clear(t.o, lib.dune, "tags"), 0);
    EXPECT_CLEARED("m2m clear");
    fail_a_read();
    cr_assert_eq(mn_m2m_add(t.o, lib.dune, "tags", tags, 0), 0);
    EXPECT_CLEARED("m2m add of nothing");

    fail_a_read();
    Tag *more[2] = {mn_new(t.o, Tag), mn_new(t.o, Tag)};
    more[0]->name = "bulk-a";
    more[1]->name = "bulk-b";
    cr_assert_eq(mn_bulk_create(t.o, &Tag_model, (void **)more, 2, NULL), 0);
    EXPECT_CLEARED("bulk_create");
    fail_a_read();
    more[0]->name = "bulk-c";
    cr_assert_eq(mn_bulk_update(t.o, &Tag_model, (void **)more, 2, "name", 0), 2);
    EXPECT_CLEARED("bulk_update");

    fail_a_read();
    cr_assert_eq(mn_update(mn_filter(mn_all(t.o, Tag), "name", "bulk-b"), "name", "bulk-d"), 1);
    EXPECT_CLEARED("update");

    fail_a_read();
    cr_assert_eq(mn_delete(t.o, more[0], NULL), 1);
    EXPECT_CLEARED("delete");
    fail_a_read();
    cr_assert_eq(mn_qs_delete(mn_filter(mn_all(t.o, Tag), "name", "bulk-d"), NULL), 1);
    EXPECT_CLEARED("queryset delete");

    /* get_or_create's get() fails with "does not exist" before it creates */
    bool created = false;
    cr_assert_not_null(
        mn_qs_get_or_create(mn_all(t.o, Tag), MN_KVS("name", "goc"), 1, NULL, 0, &created));
    cr_expect(created);
    EXPECT_CLEARED("get_or_create");

    /* a failing write still says why */
    cr_expect_null(mn_create(t.o, Author, "name", "Ann"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
}

Test(orm_errors_paths, prefetch_related_names_the_closest_relation)
{
    cr_expect_null(mn_qs_prefetch_related(mn_all(t.o, Question), "choises"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);
    cr_expect_str_eq(mn_orm_error(t.o), "Question has no field 'choises'; did you mean 'choices'?");
    cr_expect_null(mn_qs_prefetch_related(mn_all(t.o, Author), "books__tagz"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Book has no field 'tagz'; did you mean 'tags'? (in 'books__tagz')");
    /* the accessor is what prefetch takes: a reverse FK without related_name is choice_set */
    cr_expect_null(mn_qs_prefetch_related(mn_all(t.o, Author), "membershp_set"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Author has no field 'membershp_set'; did you mean 'membership_set'?");
    cr_expect_null(mn_qs_prefetch(mn_all(t.o, Author), "bokks", mn_all(t.o, Book)));
    cr_expect_str_eq(mn_orm_error(t.o), "Author has no field 'bokks'; did you mean 'books'?");
    cr_expect_null(mn_qs_prefetch_related(mn_all(t.o, Author), "xyz"));
    cr_expect_not_null(strstr(mn_orm_error(t.o), "Author has no field 'xyz'; choices are: "), "%s",
                       mn_orm_error(t.o));
    cr_expect_null(mn_qs_prefetch_related(mn_all(t.o, Author), "books__title"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "'title' does not resolve to an item that supports prefetching - this is an "
                     "invalid parameter to prefetch_related() (Book.title is a CharField; in "
                     "'books__title')");
    /* right names still prefetch */
    mn_rows *rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Author), "books__tags"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    EXPECT_CLEARED("a prefetch that works");
}

/* An impossible date, datetime or time never reaches the database: the same MN_EINVAL and
 * Django's message (naming the model, field and value) on SQLite and PostgreSQL, where SQLite
 * used to store 2024-02-30 and PostgreSQL to refuse it with a database error. An all-zero
 * datetime is refused with a message too, never silently. */
Test(orm_errors_paths, an_impossible_datetime_is_refused_before_the_database)
{
    mn_datetime feb30 = {.year = 2024, .month = 2, .day = 30, .hour = 12, .aware = true};
    cr_expect_null(mn_create(t.o, Question, "text", "bad", "pub_date", &feb30));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL, "%d %s", mn_orm_errcode(t.o), mn_orm_error(t.o));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Question.pub_date: \xe2\x80\x9c"
                     "2024-02-30 12:00:00\xe2\x80\x9d value has the correct format "
                     "(YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) but it is an invalid date/time.");
    struct {
        mn_datetime dt;
        const char *shown;
    } bad[] = {
        {{.year = 2024, .month = 13, .day = 1}, "2024-13-01 00:00:00"},
        {{.year = 2024, .month = 1, .day = 0}, "2024-01-00 00:00:00"},
        {{.year = 2023, .month = 2, .day = 29}, "2023-02-29 00:00:00"},
        {{.year = 2024, .month = 1, .day = 1, .hour = 25}, "2024-01-01 25:00:00"},
        {{.year = 2024, .month = 1, .day = 1, .minute = 60}, "2024-01-01 00:60:00"},
        {{.year = 2024, .month = 1, .day = 1, .microsecond = 1000000},
         "2024-01-01 00:00:00.1000000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (mn_create(t.o, Question, "text", "bad", "pub_date", &bad[i].dt))
            cr_expect_fail("%s was saved", bad[i].shown);
        else if (mn_orm_errcode(t.o) != MN_EINVAL || !strstr(mn_orm_error(t.o), bad[i].shown))
            cr_expect_fail("%s: %d %s", bad[i].shown, mn_orm_errcode(t.o), mn_orm_error(t.o));
    }
    /* a leap day is fine; nothing impossible was stored */
    mn_datetime leap = {
        .year = 2024, .month = 2, .day = 29, .hour = 23, .minute = 59, .aware = true};
    cr_expect_not_null(mn_create(t.o, Question, "text", "leap", "pub_date", &leap), "%s",
                       mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "text", "bad")), 0);

    /* DateField and TimeField say it their way */
    mn_datetime day = {.year = 2023, .month = 4, .day = 31};
    cr_expect_null(mn_create(t.o, Everything, "day", &day));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Everything.day: \xe2\x80\x9c"
                                        "2023-04-31\xe2\x80\x9d value has the correct "
                                        "format (YYYY-MM-DD) but it is an invalid date.");
    mn_datetime clock = {.hour = 24, .minute = 5};
    cr_expect_null(mn_create(t.o, Everything, "clock", &clock));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Everything.clock: \xe2\x80\x9c"
                                        "24:05:00\xe2\x80\x9d value has the correct "
                                        "format (HH:MM[:ss[.uuuuuu]]) but it is an invalid time.");

    /* save() of a loaded object checks the same */
    Question *q = mn_create(t.o, Question, "text", "ok", "pub_date", &leap);
    cr_assert_not_null(q, "%s", mn_orm_error(t.o));
    q->pub_date.month = 0;
    cr_expect_neq(mn_save(t.o, q), 0);
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_not_null(strstr(mn_orm_error(t.o), "Question.pub_date: \xe2\x80\x9c"
                                                 "2024-00-29 23:59:00\xe2\x80\x9d"),
                       "%s", mn_orm_error(t.o));

    /* all zero, given to create(), is no date either */
    cr_expect_null(mn_create(t.o, Question, "text", "x", "pub_date", (&(mn_datetime){0})));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_not_null(strstr(mn_orm_error(t.o), "Question.pub_date: \xe2\x80\x9c"
                                                 "0000-00-00 00:00:00\xe2\x80\x9d"),
                       "%s", mn_orm_error(t.o));
    /* text of the right shape holding no real date says so too (a wrong shape keeps its
     * "invalid format" message) */
    cr_expect_null(mn_create(t.o, Question, "text", "s", "pub_date", "2024-02-30 10:00"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Question.pub_date: \xe2\x80\x9c"
                     "2024-02-30 10:00\xe2\x80\x9d value has the correct format "
                     "(YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) but it is an invalid date/time.");
    cr_expect_null(mn_create(t.o, Everything, "clock", "25:00"));
    cr_expect_str_eq(mn_orm_error(t.o), "Everything.clock: \xe2\x80\x9c"
                                        "25:00\xe2\x80\x9d value has the correct "
                                        "format (HH:MM[:ss[.uuuuuu]]) but it is an invalid time.");
    cr_expect_null(mn_qs_fetch(mn_filter(mn_all(t.o, Everything), "day", "2023-13-01")));
    cr_expect_str_eq(mn_orm_error(t.o), "Everything.day: \xe2\x80\x9c"
                                        "2023-13-01\xe2\x80\x9d value has the correct "
                                        "format (YYYY-MM-DD) but it is an invalid date.");
    cr_expect_null(mn_create(t.o, Everything, "day", "2023-1-01"));
    cr_expect_str_eq(mn_orm_error(t.o), "'2023-1-01' value has an invalid date format.");
    /* in a struct, year 0 is NULL: the NOT NULL column refuses it, as Django's IntegrityError */
    q->pub_date = (mn_datetime){0};
    cr_expect_eq(mn_save(t.o, q), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_not_null(strstr(mn_orm_error(t.o), "pub_date"), "%s", mn_orm_error(t.o));
}

/* A reverse relation or a many-to-many is refused by select_related as Django refuses it,
 * listing the forward relations and pointing to prefetch_related, never "did you mean" the
 * very name given. */
Test(orm_errors_paths, select_related_refuses_many_valued_relations_with_the_choices)
{
    cr_expect_null(mn_qs_select_related(mn_all(t.o, Author), "books"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD);
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_related: 'books' (Author.books is a "
                     "reverse relation: use prefetch_related; in 'books'). Choices are: mentor");
    cr_expect_null(mn_qs_select_related(mn_all(t.o, Book), "tags"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_related: 'tags' (Book.tags is a "
                     "ManyToManyField: use prefetch_related; in 'tags'). Choices are: author");
    cr_expect_null(mn_qs_select_related(mn_all(t.o, Book), "author__books"));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_related: 'books' (Author.books is a "
                     "reverse relation: use prefetch_related; in 'author__books'). Choices are: "
                     "mentor");
    /* a misspelt name still gets the closest one */
    cr_expect_null(mn_qs_select_related(mn_all(t.o, Author), "mentr"));
    cr_expect_str_eq(mn_orm_error(t.o), "Author has no field 'mentr'; did you mean 'mentor'?");
}

/* A queryset with a wrong lookup handed to a template: the render's error carries the ORM's
 * message, not "unknown error". */
Test(orm_errors_paths, a_template_iterating_a_bad_queryset_says_why)
{
    mn_template_engine *e = mn_template_engine_new();
    cr_assert_not_null(e);
    mn_value *qs = mn_qs_value(mn_filter(mn_all(t.o, Book), "bogus", 1));
    cr_assert_not_null(qs);
    const char *srcs[] = {"{% for b in qs %}{{ b }}{% endfor %}", "{{ qs }}", "{{ qs.0 }}",
                          "{% if qs %}x{% endif %}"};
    for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
        mn_template_error err;
        memset(&err, 0, sizeof err);
        mn_template *tpl = mn_template_compile(e, "t", srcs[i], strlen(srcs[i]), &err);
        cr_assert_not_null(tpl);
        mn_context *ctx = mn_context_new(t.arena);
        mn_context_set(ctx, "qs", qs);
        mn_buf out;
        mn_buf_init(&out, t.arena);
        int rc = mn_template_render(tpl, ctx, &out, &err);
        if (rc != MN_EFIELD || !strstr(err.message, "Book has no field 'bogus'; choices are: ") ||
            strstr(err.message, "unknown error"))
            cr_expect_fail("%s: rc %d, %s", srcs[i], rc, err.message);
    }
    mn_template_engine_free(e);
}

static int raised;
static void count_raise(mn_orm *o, void *user)
{
    (void)o;
    *(int *)user += 1;
}

Test(orm_errors_paths, a_failed_foreach_skips_its_body_and_calls_the_raise_hook)
{
    int body = 0;
    MN_FOREACH(Book, b, mn_filter(mn_all(t.o, Book), "titel", "Dune"))
    body++;
    cr_expect_eq(body, 0);
    cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD, "%s", mn_orm_error(t.o));
    cr_expect(strstr(mn_orm_error(t.o), "did you mean 'title'"), "%s", mn_orm_error(t.o));

    mn_orm_set_raise(t.o, count_raise, &raised);
    MN_FOREACH(Book, b, mn_filter(mn_all(t.o, Book), "titel", "Dune"))
    body++;
    cr_expect_eq(raised, 1);
    MN_FOREACH(Book, b, mn_filter(mn_all(t.o, Book), "title", "Dune"))
    body++;
    cr_expect_eq(body, 1);
    cr_expect_eq(raised, 1, "a query that works raises nothing");
    mn_orm_set_raise(t.o, NULL, NULL);
}
