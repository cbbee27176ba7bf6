/* test_join_types.c — which joins are INNER and which LEFT OUTER, as Django chooses them, and
 * that the rows are Django's: select_related over non-null and nullable FKs (and what is
 * chained after a LEFT OUTER join), filter() across forward FK, reverse FK and M2M, the joins
 * an OR, isnull=True, exclude()/~Q, order_by(), values() and Count() keep LEFT OUTER. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

LIBRARY_SUITE(orm_joins);

/* The joins of qs's SQL in order, "INNER library_author, LEFT library_book" (subqueries'
 * joins included, where they come). */
static const char *joins(mn_qs *qs)
{
    const char *sql = mn_qs_sql(qs, NULL);
    cr_assert_not_null(sql, "%s", mn_orm_error(t.o));
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (const char *p = sql; (p = strstr(p, " JOIN \"")); p += 7) {
        bool inner = p - sql >= 6 && strncmp(p - 6, " INNER", 6) == 0;
        bool outer = p - sql >= 11 && strncmp(p - 11, " LEFT OUTER", 11) == 0;
        cr_assert(inner || outer, "a join neither INNER nor LEFT OUTER: %s", sql);
        const char *table = p + 7;
        mn_buf_printf(&b, "%s%s %.*s", b.len ? ", " : "", inner ? "INNER" : "LEFT",
                      (int)strcspn(table, "\""), table);
    }
    return mn_buf_cstr(&b);
}

static const char *author_names(mn_qs *qs)
{
    return tdb_rows_repr(&t, mn_qs_values_list(mn_qs_order_by(qs, "name"), "name", true));
}

static const char *review_bodies(mn_qs *qs)
{
    return tdb_rows_repr(&t, mn_qs_values_list(mn_qs_order_by(qs, "pk"), "body", true));
}

/* A review of no book (the library's three reviews all have one). */
static void orphan_review(void)
{
    cr_assert_not_null(mn_create(t.o, Review, "stars", 1, "body", "orphan"), "%s",
                       mn_orm_error(t.o));
}

Test(orm_joins, select_related_is_inner_over_a_non_null_fk_and_outer_over_a_nullable_one)
{
    mn_qs *books = mn_qs_select_related(mn_all(t.o, Book), "author");
    cr_expect_str_eq(joins(books), "INNER library_author");
    mn_rows *rows = mn_qs_fetch(books);
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows->len, 4);
    for (size_t i = 0; i < rows->len; i++)
        cr_expect_not_null(((Book *)rows->items[i])->author.obj);

    /* mentor is nullable: Ann and Cy, who have none, stay */
    mn_qs *authors = mn_qs_select_related(mn_all(t.o, Author), "mentor");
    cr_expect_str_eq(joins(authors), "LEFT library_author");
    cr_expect_str_eq(author_names(authors), "['Ann', 'Bob', 'Cy']");
    rows = mn_qs_fetch(mn_qs_order_by(authors, "name"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 3);
    cr_expect_null(((Author *)rows->items[0])->mentor.obj);
    cr_assert_not_null(((Author *)rows->items[1])->mentor.obj);
    cr_expect_str_eq(((Author *)((Author *)rows->items[1])->mentor.obj)->name, "Ann");
}

Test(orm_joins, select_related_after_a_nullable_fk_is_outer_all_the_way)
{
    orphan_review();
    /* book is nullable, book.author is not: the author join hangs from an outer one */
    mn_qs *qs = mn_qs_select_related(mn_all(t.o, Review), "book__author");
    cr_expect_str_eq(joins(qs), "LEFT library_book, LEFT library_author");
    cr_expect_str_eq(review_bodies(qs), "['great', 'long', '', 'orphan']");
    mn_rows *rows = mn_qs_fetch(mn_qs_order_by(qs, "pk"));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 4);
    Book *dune = ((Review *)rows->items[0])->book.obj;
    cr_assert_not_null(dune);
    cr_expect_str_eq(dune->title, "Dune");
    cr_assert_not_null(dune->author.obj);
    cr_expect_str_eq(((Author *)dune->author.obj)->name, "Ann");
    cr_expect_null(((Review *)rows->items[3])->book.obj);
    /* a non-null O2O */
    cr_assert_not_null(mn_create(t.o, Profile, "author", lib.ann, "bio", "writes"));
    mn_qs *profiles = mn_qs_select_related(mn_all(t.o, Profile), "author__mentor");
    cr_expect_str_eq(joins(profiles), "INNER library_author, LEFT library_author");
    cr_expect_eq(mn_qs_count(profiles), 1);
}

Test(orm_joins, filter_across_a_relation_is_inner)
{
    orphan_review();
    mn_qs *forward = mn_filter(mn_all(t.o, Review), "book__title", "Dune");
    cr_expect_str_eq(joins(forward), "INNER library_book");
    cr_expect_str_eq(review_bodies(forward), "['great', 'long']");
    mn_qs *nullable = mn_filter(mn_all(t.o, Author), "mentor__name", "Ann");
    cr_expect_str_eq(joins(nullable), "INNER library_author");
    cr_expect_str_eq(author_names(nullable), "['Bob']");
    mn_qs *reverse = mn_filter(mn_all(t.o, Author), "books__title", "Dune");
    cr_expect_str_eq(joins(reverse), "INNER library_book");
    cr_expect_str_eq(author_names(reverse), "['Ann']");
    mn_qs *m2m = mn_filter(mn_all(t.o, Book), "tags__name", "poetry");
    cr_expect_str_eq(joins(m2m), "INNER library_book_tags, INNER library_tag");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(m2m, "title", true)),
                     "['Odes 50% off_sale']");
    mn_qs *m2m_pk = mn_filter(mn_all(t.o, Book), "tags", lib.tech);
    cr_expect_str_eq(joins(m2m_pk), "INNER library_book_tags");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(m2m_pk, "title", true)),
                     "['SQL in Depth']");
    /* the filter's joins stay INNER when select_related reads the same path */
    mn_qs *both = mn_qs_select_related(mn_filter(mn_all(t.o, Review), "book__author__name", "Ann"),
                                       "book__author");
    cr_expect_str_eq(joins(both), "INNER library_book, INNER library_author");
    cr_expect_str_eq(review_bodies(both), "['great', 'long']");
    /* isnull=False needs the row too */
    mn_qs *has_books = mn_qs_distinct(mn_filter(mn_all(t.o, Author), "books__isnull", false));
    cr_expect_str_eq(joins(has_books), "INNER library_book");
    cr_expect_str_eq(author_names(has_books), "['Ann', 'Bob']");
    /* a subquery's filter too */
    mn_qs *in_sub = mn_filter(mn_all(t.o, Book), "author__in",
                              mn_filter(mn_all(t.o, Author), "mentor__name", "Ann"));
    cr_expect_str_eq(joins(in_sub), "INNER library_author");
    cr_expect_eq(mn_qs_count(in_sub), 2);
}

Test(orm_joins, a_join_only_one_or_branch_needs_stays_outer)
{
    mn_orm *o = t.o;
    /* Cy has no mentor: an INNER join would lose him */
    mn_qs *qs = mn_qs_filter_q(mn_all(o, Author),
                               mn_q_or(o, mn_Q(o, "mentor__name", "Ann"), mn_Q(o, "name", "Cy")));
    cr_expect_str_eq(joins(qs), "LEFT library_author");
    cr_expect_str_eq(author_names(qs), "['Bob', 'Cy']");
    cr_expect_eq(mn_qs_count(qs), 2);
    /* both branches need it: INNER */
    mn_qs *both = mn_qs_filter_q(mn_all(o, Author), mn_q_or(o, mn_Q(o, "mentor__name", "Ann"),
                                                            mn_Q(o, "mentor__name", "Zed")));
    cr_expect_str_eq(joins(both), "INNER library_author");
    cr_expect_str_eq(author_names(both), "['Bob']");
    /* AND inside the OR: the book join is needed by one branch only, and the author join
     * after the outer book join is outer too */
    orphan_review();
    mn_qs *rev = mn_qs_filter_q(
        mn_all(o, Review), mn_q_or(o, mn_Q(o, "book__author__name", "Ann", "book__pages__gt", 100),
                                   mn_Q(o, "stars", 1)));
    cr_expect_str_eq(joins(rev), "LEFT library_book, LEFT library_author");
    cr_expect_str_eq(review_bodies(rev), "['great', 'long', 'orphan']");
    /* a later filter() call ANDs: its own join is INNER, the OR's stays outer */
    mn_qs *chained =
        mn_filter(mn_qs_filter_q(mn_all(o, Author),
                                 mn_q_or(o, mn_Q(o, "mentor__name", "Ann"), mn_Q(o, "name", "Cy"))),
                  "books__isnull", true);
    cr_expect_str_eq(joins(chained), "LEFT library_author, LEFT library_book");
    cr_expect_str_eq(author_names(chained), "['Cy']");
    /* an earlier filter() call needed the join: it stays INNER through a later OR */
    mn_qs *kept =
        mn_qs_filter_q(mn_filter(mn_all(o, Author), "mentor__name", "Ann"),
                       mn_q_or(o, mn_Q(o, "mentor__email", "x@y.z"), mn_Q(o, "name", "Bob")));
    cr_expect_str_eq(joins(kept), "INNER library_author");
    cr_expect_str_eq(author_names(kept), "['Bob']");
}

Test(orm_joins, isnull_true_and_exact_none_keep_the_join_outer)
{
    mn_orm *o = t.o;
    mn_qs *no_mentor_name = mn_filter(mn_all(o, Author), "mentor__name__isnull", true);
    cr_expect_str_eq(joins(no_mentor_name), "LEFT library_author");
    cr_expect_str_eq(author_names(no_mentor_name), "['Ann', 'Cy']");
    mn_qs *none = mn_filter(mn_all(o, Author), "mentor__email", mn_arg_null());
    cr_expect_str_eq(joins(none), "LEFT library_author");
    cr_expect_str_eq(author_names(none), "['Ann', 'Cy']");
    mn_qs *bookless = mn_filter(mn_all(o, Author), "books__isnull", true);
    cr_expect_str_eq(joins(bookless), "LEFT library_book");
    cr_expect_str_eq(author_names(bookless), "['Cy']");
    mn_qs *untagged = mn_filter(mn_all(o, Tag), "books__isnull", true);
    cr_expect_str_eq(joins(untagged), "LEFT library_book_tags, LEFT library_book");
    cr_expect_eq(mn_qs_count(untagged), 0);
}

Test(orm_joins, exclude_and_not_q_keep_rows_without_a_match)
{
    mn_orm *o = t.o;
    mn_qs *ex = mn_exclude(mn_all(o, Author), "mentor__name", "Ann");
    cr_expect_str_eq(joins(ex), "LEFT library_author");
    cr_expect_str_eq(author_names(ex), "['Ann', 'Cy']");
    mn_qs *notq = mn_qs_filter_q(mn_all(o, Author), mn_q_not(o, mn_Q(o, "mentor__name", "Ann")));
    cr_expect_str_eq(joins(notq), "LEFT library_author");
    cr_expect_str_eq(author_names(notq), "['Ann', 'Cy']");
    /* NOT (name IS NULL) holds only for a matched mentor: Django makes this one INNER */
    mn_qs *named = mn_exclude(mn_all(o, Author), "mentor__name__isnull", true);
    cr_expect_str_eq(joins(named), "INNER library_author");
    cr_expect_str_eq(author_names(named), "['Bob']");
    mn_qs *not_none = mn_exclude(mn_all(o, Author), "mentor__name__isnull", false);
    cr_expect_str_eq(joins(not_none), "LEFT library_author");
    cr_expect_str_eq(author_names(not_none), "['Ann', 'Cy']");
    /* across a multi-valued relation: a subquery whose own joins match the rows to drop */
    mn_qs *untagged = mn_exclude(mn_all(o, Book), "tags__name", "poetry");
    cr_expect_str_eq(joins(untagged), "INNER library_book_tags, INNER library_tag");
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values_list(mn_qs_order_by(untagged, "title"), "title", true)),
        "['Dune', 'Emma', 'SQL in Depth']");
    mn_qs *with_books = mn_exclude(mn_all(o, Author), "books__isnull", true);
    cr_expect_str_eq(joins(with_books), "LEFT library_book");
    cr_expect_str_eq(author_names(with_books), "['Ann', 'Bob']");
}

Test(orm_joins, order_by_and_values_over_a_nullable_relation_are_outer)
{
    mn_orm *o = t.o;
    mn_qs *by_mentor = mn_qs_order_by(mn_all(o, Author), "mentor__name,name");
    cr_expect_str_eq(joins(by_mentor), "LEFT library_author");
    cr_expect_eq(mn_qs_count(by_mentor), 3);
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(by_mentor, "name", true)),
                     tdb_is_pg(&t) ? "['Bob', 'Ann', 'Cy']" : "['Ann', 'Cy', 'Bob']");
    mn_qs *by_author = mn_qs_order_by(mn_all(o, Book), "author__name,title");
    cr_expect_str_eq(joins(by_author), "INNER library_author");
    cr_expect_str_eq(tdb_rows_repr(&t, mn_qs_values_list(by_author, "title", true)),
                     "['Dune', 'Emma', 'Odes 50% off_sale', 'SQL in Depth']");
    mn_qs *mentors =
        mn_qs_values_list(mn_qs_order_by(mn_all(o, Author), "name"), "mentor__name", true);
    cr_expect_str_eq(joins(mentors), "LEFT library_author");
    cr_expect_str_eq(tdb_rows_repr(&t, mentors), "[None, 'Ann', None]");
    orphan_review();
    mn_qs *authors =
        mn_qs_values_list(mn_qs_order_by(mn_all(o, Review), "pk"), "book__author__name", true);
    cr_expect_str_eq(joins(authors), "LEFT library_book, LEFT library_author");
    cr_expect_str_eq(tdb_rows_repr(&t, authors), "['Ann', 'Ann', 'Bob', None]");
}

Test(orm_joins, count_of_a_reverse_relation_keeps_zero_counts)
{
    mn_orm *o = t.o;
    mn_qs *qs = mn_qs_annotate(mn_all(o, Author), "n", mn_Count(o, "books", false, NULL));
    cr_expect_str_eq(joins(qs), "LEFT library_book");
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values_list(mn_qs_order_by(qs, "name"), "name,n", false)),
        "[['Ann', 2], ['Bob', 2], ['Cy', 0]]");
    /* the aggregate's own filter does not make its join INNER */
    mn_qs *poets = mn_qs_annotate(mn_all(o, Author), "n",
                                  mn_Count(o, "books", false, mn_Q(o, "books__genre", "po")));
    cr_expect_str_eq(joins(poets), "LEFT library_book");
    cr_expect_str_eq(
        tdb_rows_repr(&t, mn_qs_values_list(mn_qs_order_by(poets, "name"), "name,n", false)),
        "[['Ann', 0], ['Bob', 1], ['Cy', 0]]");
    /* a filter on the count (HAVING) keeps it outer: Cy's 0 matches */
    mn_qs *none = mn_filter(qs, "n", 0);
    cr_expect_str_eq(joins(none), "LEFT library_book");
    cr_expect_str_eq(author_names(none), "['Cy']");
    /* aggregate() over a nullable relation counts every row */
    cr_expect_str_eq(
        tdb_repr(&t, mn_qs_aggregate(mn_all(o, Author), "n", mn_Count(o, "books", false, NULL))),
        "{'n': 4}");
}
