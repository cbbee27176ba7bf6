/* test_pagination.c — Django's Paginator (page numbers, orphans, the empty first page, page
 * numbers read from a query string, get_page()'s fallbacks, EmptyPage/PageNotAnInteger with
 * Django's messages) and DRF-style cursor pagination walked forwards and back. */
#include "helper_models.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

DB_SUITE(orm_pagination);

/* n books titled B00.., with `pages` given per book (or i), by one author. */
static mn_qs *books(int n, const int *pages)
{
    Author *a = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    for (int i = 0; i < n; i++) {
        Book *b = mn_create(t.o, Book, "title", mn_arena_printf(t.arena, "B%02d", i), "author", a,
                            "price", "1.00", "pages", pages ? pages[i] : i);
        if (!b)
            cr_assert_fail("%s", mn_orm_error(t.o));
    }
    return mn_qs_order_by(mn_all(t.o, Book), "title");
}

static const char *titles(mn_rows *rows)
{
    mn_buf b;
    mn_buf_init(&b, t.arena);
    for (size_t i = 0; i < rows->len; i++)
        mn_buf_printf(&b, "%s%s", i ? "," : "", ((Book *)rows->items[i])->title);
    return mn_buf_cstr(&b) ? b.data : "";
}

#define EXPECT_PAGE(p, num, pages, cnt, start, end, prev, next, list)                              \
    do {                                                                                           \
        if ((p).number != (num) || (p).num_pages != (pages) || (p).count != (cnt) ||               \
            (p).start_index != (start) || (p).end_index != (end) ||                                \
            (p).previous_page_number != (prev) || (p).next_page_number != (next) ||                \
            (p).has_previous != ((prev) != 0) || (p).has_next != ((next) != 0) ||                  \
            strcmp(titles((p).rows), (list)) != 0)                                                 \
            cr_expect_fail(                                                                        \
                "line %d: page %lld/%lld count %lld [%lld..%lld] prev %lld next %lld: %s",         \
                __LINE__, (long long)(p).number, (long long)(p).num_pages, (long long)(p).count,   \
                (long long)(p).start_index, (long long)(p).end_index,                              \
                (long long)(p).previous_page_number, (long long)(p).next_page_number,              \
                titles((p).rows));                                                                 \
    } while (0)

Test(orm_pagination, pages_counts_and_indexes)
{
    mn_qs *qs = books(7, NULL);
    mn_page p;
    cr_assert_eq(mn_paginate(qs, 3, 0, 1, &p), 0, "%s", mn_orm_error(t.o));
    EXPECT_PAGE(p, 1, 3, 7, 1, 3, 0, 2, "B00,B01,B02");
    cr_assert_eq(mn_paginate(qs, 3, 0, 2, &p), 0);
    EXPECT_PAGE(p, 2, 3, 7, 4, 6, 1, 3, "B03,B04,B05");
    cr_assert_eq(mn_paginate(qs, 3, 0, 3, &p), 0);
    EXPECT_PAGE(p, 3, 3, 7, 7, 7, 2, 0, "B06");
    /* orphans=1: the lone last row joins page 2 rather than having a page of its own */
    cr_assert_eq(mn_paginate(qs, 3, 1, 2, &p), 0);
    EXPECT_PAGE(p, 2, 2, 7, 4, 7, 1, 0, "B03,B04,B05,B06");
    cr_expect_eq(mn_paginate(qs, 3, 1, 3, &p), MN_EEMPTY_PAGE);
    /* orphans=3 on 7 rows of 3: ceil(4/3) = 2 pages; 2 orphans + 2 = 4 would not fit */
    cr_assert_eq(mn_paginate(qs, 3, 3, 1, &p), 0);
    EXPECT_PAGE(p, 1, 2, 7, 1, 3, 0, 2, "B00,B01,B02");
    cr_assert_eq(mn_paginate(qs, 3, 4, 1, &p), 0, "orphans >= the rest: one page");
    EXPECT_PAGE(p, 1, 1, 7, 1, 7, 0, 0, "B00,B01,B02,B03,B04,B05,B06");
    cr_assert_eq(mn_paginate(qs, 7, 0, 1, &p), 0);
    EXPECT_PAGE(p, 1, 1, 7, 1, 7, 0, 0, "B00,B01,B02,B03,B04,B05,B06");
    cr_expect_eq(mn_paginate(qs, 0, 0, 1, &p), MN_EINVAL);
    cr_expect_eq(mn_paginate(qs, 3, -1, 1, &p), MN_EINVAL);
}

Test(orm_pagination, an_empty_queryset_has_one_empty_page)
{
    mn_qs *qs = books(0, NULL);
    mn_page p;
    cr_assert_eq(mn_paginate(qs, 10, 0, 1, &p), 0, "%s", mn_orm_error(t.o));
    EXPECT_PAGE(p, 1, 1, 0, 0, 0, 0, 0, "");
    cr_assert_eq(mn_paginate(qs, 10, 5, 1, &p), 0, "%s", mn_orm_error(t.o));
    EXPECT_PAGE(p, 1, 1, 0, 0, 0, 0, 0, "");
    cr_expect_eq(mn_paginate(qs, 10, 0, 2, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page contains no results");
    cr_assert_eq(mn_paginate_get_page(qs, 10, 0, "7", &p), 0);
    EXPECT_PAGE(p, 1, 1, 0, 0, 0, 0, 0, "");
}

/* Paginator(qs, per_page, allow_empty_first_page=False): no rows, no pages, so even page 1 is
 * EmptyPage, and get_page() has no page to fall back to (Django's page(1) after a number that
 * is not an integer, page(num_pages = 0) after one out of range). */
Test(orm_pagination, without_an_empty_first_page_an_empty_queryset_has_no_pages)
{
    mn_qs *qs = books(0, NULL);
    mn_page p;
    mn_paginate_opts strict = {.no_empty_first_page = true};
    cr_expect_eq(mn_paginate_ex(qs, 10, "1", &strict, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page contains no results");
    cr_expect_eq(p.num_pages, 0);
    cr_expect_null(p.rows);
    cr_expect_eq(mn_paginate_ex(qs, 10, "0", &strict, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page number is less than 1");
    cr_expect_eq(mn_paginate_ex(qs, 10, "x", &strict, &p), MN_EPAGE_NOT_AN_INTEGER);
    strict.get_page = true;
    cr_expect_eq(mn_paginate_ex(qs, 10, "x", &strict, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page contains no results");
    cr_expect_eq(mn_paginate_ex(qs, 10, "3", &strict, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page number is less than 1");
    /* the default (NULL or zeroed options) keeps the one empty page */
    cr_assert_eq(mn_paginate_ex(qs, 10, "1", NULL, &p), 0, "%s", mn_orm_error(t.o));
    EXPECT_PAGE(p, 1, 1, 0, 0, 0, 0, 0, "");
}

/* With rows, allow_empty_first_page changes nothing; orphans and get_page() come through the
 * same options. */
Test(orm_pagination, paginate_ex_options_over_rows)
{
    mn_qs *qs = books(5, NULL);
    mn_page p;
    mn_paginate_opts opts = {.orphans = 1, .no_empty_first_page = true, .get_page = true};
    cr_assert_eq(mn_paginate_ex(qs, 2, "9", &opts, &p), 0, "%s", mn_orm_error(t.o));
    EXPECT_PAGE(p, 2, 2, 5, 3, 5, 1, 0, "B02,B03,B04");
    opts.get_page = false;
    cr_assert_eq(mn_paginate_ex(qs, 2, " 1 ", &opts, &p), 0, "%s", mn_orm_error(t.o));
    EXPECT_PAGE(p, 1, 2, 5, 1, 2, 0, 2, "B00,B01");
    cr_expect_eq(mn_paginate_ex(qs, 2, "3", &opts, &p), MN_EEMPTY_PAGE);
}

Test(orm_pagination, bad_page_numbers_have_djangos_errors)
{
    mn_qs *qs = books(5, NULL);
    mn_page p;
    cr_expect_eq(mn_paginate(qs, 2, 0, 0, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page number is less than 1");
    cr_expect_eq(mn_orm_errcode(t.o), MN_EEMPTY_PAGE);
    cr_expect_eq(mn_paginate(qs, 2, 0, 4, &p), MN_EEMPTY_PAGE);
    cr_expect_str_eq(mn_orm_error(t.o), "That page contains no results");
    cr_expect_null(p.rows);
    cr_expect_str_eq(mn_orm_strerror(MN_EEMPTY_PAGE), "empty page");
    cr_expect_str_eq(mn_orm_strerror(MN_EPAGE_NOT_AN_INTEGER), "page number is not an integer");

    struct {
        const char *text;
        int rc;
        const char *msg;
        int64_t number;
    } cases[] = {
        {"2", 0, NULL, 2},
        {" 2", 0, NULL, 2},
        {"3 \t\n", 0, NULL, 3},
        {"+1", 0, NULL, 1},
        {"0_3", 0, NULL, 3}, /* Python's int() takes underscores between digits */
        {"abc", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"  ", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"2.5", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"2a", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"1__0", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"-", MN_EPAGE_NOT_AN_INTEGER, "That page number is not an integer", 0},
        {"-1", MN_EEMPTY_PAGE, "That page number is less than 1", 0},
        {"0", MN_EEMPTY_PAGE, "That page number is less than 1", 0},
        {"4", MN_EEMPTY_PAGE, "That page contains no results", 0},
        {"99999999999999999999", MN_EEMPTY_PAGE, "That page contains no results", 0},
        {"-99999999999999999999", MN_EEMPTY_PAGE, "That page number is less than 1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mn_orm_clear_error(t.o);
        int rc = mn_paginate_str(qs, 2, 0, cases[i].text, &p);
        if (rc != cases[i].rc || (rc == 0 && p.number != cases[i].number) ||
            (cases[i].msg && strcmp(mn_orm_error(t.o), cases[i].msg) != 0))
            cr_expect_fail("\"%s\": rc %d page %lld: %s", cases[i].text, rc, (long long)p.number,
                           mn_orm_error(t.o));
    }
    cr_expect_eq(mn_paginate_str(qs, 2, 0, NULL, &p), MN_EPAGE_NOT_AN_INTEGER);
}

Test(orm_pagination, get_page_falls_back_to_the_first_or_last_page)
{
    mn_qs *qs = books(5, NULL);
    mn_page p;
    const char *first[] = {"abc", "", "2.5", NULL, "1"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(mn_paginate_get_page(qs, 2, 0, first[i], &p), 0, "%s", mn_orm_error(t.o));
        EXPECT_PAGE(p, 1, 3, 5, 1, 2, 0, 2, "B00,B01");
    }
    const char *last[] = {"4", "99999999999999999999", "-1", "0", " 3 "};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(mn_paginate_get_page(qs, 2, 0, last[i], &p), 0, "%s", mn_orm_error(t.o));
        EXPECT_PAGE(p, 3, 3, 5, 5, 5, 2, 0, "B04");
    }
    cr_assert_eq(mn_paginate_get_page(qs, 2, 1, "3", &p), 0);
    EXPECT_PAGE(p, 2, 2, 5, 3, 5, 1, 0, "B02,B03,B04");
}

/* Walks every page forwards then back from the last; each page must be the slice of the plain
 * ordered fetch at its place, and going back must give the same pages in reverse. */
static void walk(mn_qs *qs, const char *field, const char *plain, int64_t per)
{
    mn_rows *want = mn_qs_fetch(mn_qs_order_by(qs, plain));
    cr_assert_not_null(want, "%s", mn_orm_error(t.o));
    size_t n = want->len;
    size_t npages = n ? (n + (size_t)per - 1) / (size_t)per : 1;
    const char *prevs[64] = {0};
    const char *cursor = NULL;
    mn_cursor_page p;
    for (size_t k = 0; k < npages; k++) {
        if (mn_paginate_cursor(qs, field, per, cursor, "s3cret", &p) != 0)
            cr_assert_fail("%s per %lld page %zu: %s", field, (long long)per, k, mn_orm_error(t.o));
        size_t want_len = k + 1 < npages ? (size_t)per : n - k * (size_t)per;
        if (p.rows->len != want_len || p.has_next != (k + 1 < npages) ||
            (p.next_cursor != NULL) != p.has_next || p.has_previous != (k > 0) ||
            (p.previous_cursor != NULL) != p.has_previous)
            cr_assert_fail("%s per %lld page %zu: %zu rows, next %d, previous %d", field,
                           (long long)per, k, p.rows->len, p.has_next, p.has_previous);
        for (size_t i = 0; i < p.rows->len; i++)
            if (mn_obj_pk(p.rows->items[i]) != mn_obj_pk(want->items[k * (size_t)per + i]))
                cr_assert_fail("%s per %lld page %zu row %zu", field, (long long)per, k, i);
        prevs[k] = p.previous_cursor;
        if (k + 1 < npages)
            cursor = p.next_cursor;
    }
    /* back from the last page, through previous_cursor, to the first */
    for (size_t k = npages - 1; k-- > 0;) {
        if (mn_paginate_cursor(qs, field, per, prevs[k + 1], "s3cret", &p) != 0)
            cr_assert_fail("%s back to page %zu: %s", field, k, mn_orm_error(t.o));
        if (p.rows->len != (size_t)per || !p.has_next || !p.next_cursor ||
            p.has_previous != (k > 0) || (p.previous_cursor != NULL) != (k > 0))
            cr_assert_fail("%s per %lld back to page %zu: %zu rows, next %d, previous %d", field,
                           (long long)per, k, p.rows->len, p.has_next, p.has_previous);
        for (size_t i = 0; i < p.rows->len; i++)
            if (mn_obj_pk(p.rows->items[i]) != mn_obj_pk(want->items[k * (size_t)per + i]))
                cr_assert_fail("%s per %lld back to page %zu row %zu", field, (long long)per, k, i);
        if (k > 0)
            prevs[k] = p.previous_cursor;
        /* next from a page reached backwards is the page after it */
        mn_cursor_page q;
        if (mn_paginate_cursor(qs, field, per, p.next_cursor, "s3cret", &q) != 0 ||
            q.rows->len == 0 ||
            mn_obj_pk(q.rows->items[0]) != mn_obj_pk(want->items[(k + 1) * (size_t)per]))
            cr_assert_fail("%s per %lld next after back to page %zu", field, (long long)per, k);
    }
}

Test(orm_pagination, cursor_walks_forwards_and_back_over_duplicates)
{
    int pages[] = {5, 3, 5, 1, 3, 5, 9, 1, 5, 3, 7};
    mn_qs *qs = books(11, pages);
    for (int64_t per = 1; per <= 12; per++) {
        walk(qs, "pages", "pages,pk", per);
        walk(qs, "-pages", "-pages,-pk", per);
        walk(qs, "title", "title,pk", per);
    }
}

Test(orm_pagination, cursor_walks_over_a_nullable_field)
{
    const char *dates[] = {"2024-03-01", NULL,         "2024-01-01", NULL,        "2024-03-01",
                           NULL,         "2024-02-01", NULL,         "2024-01-01"};
    Author *a = mn_create(t.o, Author, "name", "Ann");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    for (size_t i = 0; i < 9; i++)
        cr_assert_not_null(mn_create(t.o, Book, "title", mn_arena_printf(t.arena, "Z%zu", i),
                                     "author", a, "price", "1.00", "published", dates[i]),
                           "%s", mn_orm_error(t.o));
    mn_qs *qs = mn_all(t.o, Book);
    for (int64_t per = 1; per <= 5; per++) {
        walk(qs, "published", "published,pk", per);
        walk(qs, "-published", "-published,-pk", per);
    }
}

Test(orm_pagination, cursor_pages_stay_put_when_rows_are_inserted)
{
    int pages[] = {10, 20, 30, 40, 50, 60};
    mn_qs *qs = books(6, pages);
    Author *a = mn_qs_first(mn_all(t.o, Author));
    mn_cursor_page p1, p2, back;
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, NULL, "k", &p1), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(titles(p1.rows), "B00,B01");
    cr_expect_null(p1.previous_cursor);
    cr_expect_not(p1.has_previous);
    /* rows arrive before and inside the next page: page numbers would shift, cursors don't */
    cr_assert_not_null(mn_create(t.o, Book, "title", "N1", "author", a, "price", "1", "pages", 5));
    cr_assert_not_null(mn_create(t.o, Book, "title", "N2", "author", a, "price", "1", "pages", 35));
    cr_assert_not_null(mn_create(t.o, Book, "title", "N3", "author", a, "price", "1", "pages", 20));
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, p1.next_cursor, "k", &p2), 0);
    cr_expect_str_eq(titles(p2.rows), "N3,B02", "N3 ties with B01 on pages, and has a higher pk");
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, p2.next_cursor, "k", &p2), 0);
    cr_expect_str_eq(titles(p2.rows), "N2,B03");
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, p2.previous_cursor, "k", &back), 0);
    cr_expect_str_eq(titles(back.rows), "N3,B02", "back gives the rows just before, in order");
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, back.previous_cursor, "k", &back), 0);
    cr_expect_str_eq(titles(back.rows), "B00,B01");
    cr_expect(back.has_previous, "N1 now comes before B00");
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, back.previous_cursor, "k", &back), 0);
    cr_expect_str_eq(titles(back.rows), "N1");
    cr_expect_not(back.has_previous);
    cr_expect_null(back.previous_cursor);

    /* a page whose rows were deleted since: empty, and both ways still lead somewhere */
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, p2.next_cursor, "k", &p2), 0);
    cr_expect_str_eq(titles(p2.rows), "B04,B05");
    cr_assert_geq(mn_qs_delete(mn_filter(mn_all(t.o, Book), "pages__gte", 50), NULL), 0);
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, p2.previous_cursor, "k", &back), 0);
    cr_expect_str_eq(titles(back.rows), "N2,B03");
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, back.next_cursor, "k", &p2), 0);
    cr_expect_str_eq(titles(p2.rows), "");
    cr_expect_not(p2.has_next);
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, p2.previous_cursor, "k", &back), 0);
    cr_expect_str_eq(titles(back.rows), "N2,B03", "back from an empty page keeps its last row");
}

Test(orm_pagination, bad_cursors_are_invalid)
{
    mn_qs *qs = books(5, NULL);
    mn_cursor_page p;
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, "", "k", &p), 0, "\"\": the first page");
    cr_expect_str_eq(titles(p.rows), "B00,B01");
    const char *next = p.next_cursor;
    cr_assert_eq(mn_paginate_cursor(qs, "pages", 2, next, "k", &p), 0);
    const char *prev = p.previous_cursor;
    size_t len = strlen(next);
    const char *bad[] = {
        "garbage",
        "!!!.!!!",
        ".",
        "abc.def",
        mn_arena_strndup(t.arena, next, len - 1),                  /* truncated tag */
        mn_arena_strndup(t.arena, next, len / 2),                  /* cut inside the payload */
        mn_arena_strndup(t.arena, next, strchr(next, '.') - next), /* no tag */
        mn_arena_printf(t.arena, "%sA", next),                     /* a longer tag */
        mn_arena_printf(t.arena, "A%s", next),                     /* payload shifted */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mn_orm_clear_error(t.o);
        int rc = mn_paginate_cursor(qs, "pages", 2, bad[i], "k", &p);
        if (rc != MN_EINVAL || strcmp(mn_orm_error(t.o), "Invalid cursor") != 0)
            cr_expect_fail("cursor %zu \"%s\": %d %s", i, bad[i], rc, mn_orm_error(t.o));
    }
    for (size_t i = 0; i < len; i++) { /* every one-character change is caught */
        char *forged = mn_arena_strdup(t.arena, next);
        forged[i] = forged[i] == 'A' ? 'B' : 'A';
        if (mn_paginate_cursor(qs, "pages", 2, forged, "k", &p) != MN_EINVAL)
            cr_expect_fail("changing character %zu was not noticed", i);
    }
    cr_expect_eq(mn_paginate_cursor(qs, "pages", 2, next, "other", &p), MN_EINVAL);
    cr_expect_eq(mn_paginate_cursor(qs, "-pages", 2, next, "k", &p), MN_EINVAL,
                 "a cursor of another ordering");
    cr_expect_eq(mn_paginate_cursor(qs, "-pages", 2, prev, "k", &p), MN_EINVAL);
    cr_expect_eq(mn_paginate_cursor(qs, "title", 2, next, "k", &p), MN_EINVAL);
}
