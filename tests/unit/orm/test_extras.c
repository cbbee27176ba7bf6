/* test_extras.c — what helps beyond the basic API: EXPLAIN, the N+1 warning, CheckConstraint
 * validation, cursor (keyset) pagination with signed cursors, and several databases with
 * using() and a router. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

LIBRARY_SUITE(orm_extras);

Test(orm_extras, explain_shows_a_plan)
{
    const char *plan = mn_qs_explain(mn_filter(mn_all(t.o, Book), "author__name", "Ann"));
    cr_assert_not_null(plan, "%s", mn_orm_error(t.o));
    cr_expect(strlen(plan) > 0);
    cr_expect(strstr(plan, tdb_is_pg(&t) ? "Scan" : "library_"), "%s", plan);
}

/* The log written between log_capture_start() and log_capture_end(), at DEBUG level. */
typedef struct log_capture {
    char path[32];
    int fd;
} log_capture;

static log_capture log_capture_start(void)
{
    log_capture c = {.path = "/tmp/mn-orm-log-XXXXXX"};
    c.fd = mkstemp(c.path);
    cr_assert_geq(c.fd, 0);
    mn_log_configure(MN_LOG_DEBUG, false, c.fd);
    return c;
}

static const char *log_capture_end(log_capture *c)
{
    char *buf = mn_arena_alloc(t.arena, 8192);
    cr_assert_not_null(buf);
    lseek(c->fd, 0, SEEK_SET);
    ssize_t n = read(c->fd, buf, 8191);
    buf[n > 0 ? n : 0] = '\0';
    close(c->fd);
    unlink(c->path);
    mn_log_configure(MN_LOG_INFO, false, 2);
    return buf;
}

Test(orm_extras, repeated_queries_are_reported)
{
    log_capture cap = log_capture_start();
    mn_orm_warn_repeats(t.o, 2);
    mn_rows *books = mn_qs_fetch(mn_all(t.o, Book));
    for (size_t i = 0; i < books->len; i++)
        mn_fk_get(t.o, books->items[i], "author"); /* the line the warning names */
    int line = __LINE__ - 1;
    cr_expect_eq(mn_orm_max_repeats(t.o), 4);
    const char *buf = log_capture_end(&cap);
    cr_expect(strstr(buf, "N+1 queries: this request ran the same query more than 2 times"), "%s",
              buf);
    cr_expect(strstr(buf, "library_author"), "%s", buf);
    cr_expect(strstr(buf, mn_arena_printf(t.arena, "test_extras.c:%d", line)), "%s", buf);
    const char *first = strstr(buf, "N+1");
    cr_expect(first && !strstr(first + 1, "N+1"), "warned once per shape");
}

Test(orm_extras, check_constraints_are_validated)
{
    lib.emma->price = "-0.01";
    mn_validation v;
    cr_assert_eq(mn_full_clean(t.o, lib.emma, &v), MN_EVALIDATION);
    cr_assert_eq(v.n, 1);
    cr_expect_null(v.errors[0].field);
    cr_expect_str_eq(v.errors[0].message,
                     "Constraint \xe2\x80\x9cprice_not_negative\xe2\x80\x9d is violated.");
    lib.emma->price = "0";
    cr_expect_eq(mn_full_clean(t.o, lib.emma, &v), 0);
}

Test(orm_extras, cursor_pagination_walks_every_row_once)
{
    for (int i = 0; i < 23; i++) /* many ties on pages: the pk breaks them */
        cr_assert_not_null(mn_create(t.o, Book, "title", mn_arena_printf(t.arena, "T%02d", i),
                                     "author", lib.cy, "pages", 100 + i % 5));
    const char *secret = "s3cret";
    mn_qs *qs = mn_all(t.o, Book);
    const char *cursor = NULL;
    int seen = 0, pages = 0;
    int64_t last_pages = -1;
    do {
        mn_cursor_page p;
        cr_assert_eq(mn_paginate_cursor(qs, "pages", 5, cursor, secret, &p), 0, "%s",
                     mn_orm_error(t.o));
        for (size_t i = 0; i < p.rows->len; i++) {
            Book *b = p.rows->items[i];
            cr_assert_geq(b->pages, last_pages, "ordered");
            last_pages = b->pages;
        }
        seen += (int)p.rows->len;
        pages++;
        cursor = p.next_cursor;
        cr_assert_eq(p.has_next, cursor != NULL);
    } while (cursor && pages < 20);
    cr_expect_eq(seen, 27);
    cr_expect_eq(pages, 6);

    mn_cursor_page p;
    cr_assert_eq(mn_paginate_cursor(qs, "-price", 2, NULL, secret, &p), 0);
    cr_expect_str_eq(((Book *)p.rows->items[0])->title, "SQL in Depth");
    const char *next = p.next_cursor;
    cr_assert_eq(mn_paginate_cursor(qs, "-price", 2, next, secret, &p), 0);
    cr_expect_str_eq(((Book *)p.rows->items[0])->title, "Odes 50% off_sale");
    cr_expect_eq(mn_paginate_cursor(qs, "-price", 2, next, "other secret", &p), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "Invalid cursor");
    cr_expect_eq(mn_paginate_cursor(qs, "pages", 2, next, secret, &p), MN_EINVAL,
                 "a cursor of another ordering");
    char *forged = mn_arena_strdup(t.arena, next);
    forged[3] = forged[3] == 'A' ? 'B' : 'A';
    cr_expect_eq(mn_paginate_cursor(qs, "-price", 2, forged, secret, &p), MN_EINVAL);
    cr_expect_eq(mn_paginate_cursor(qs, "-prise", 2, NULL, secret, &p), MN_EFIELD);
}

static const char *route_tags(const mn_model *m, bool write, void *user)
{
    (void)write;
    (void)user;
    return m == &Tag_model ? "archive" : NULL;
}

Test(orm_extras, several_databases_with_using_and_a_router)
{
    char dir[] = "/tmp/mn-orm-archive-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char url[128], err[128];
    snprintf(url, sizeof url, "sqlite:///%s/archive.db", dir);
    mn_db *archive = mn_db_new(&(mn_dbconfig){.alias = "archive", .url = url}, err, sizeof err);
    cr_assert_not_null(archive, "%s", err);
    mn_arena *a = mn_arena_new(0);
    mn_orm *setup_o = mn_orm_new(a, archive);
    cr_assert_eq(mn_orm_create_tables(setup_o, false), 0, "%s", mn_orm_error(setup_o));
    cr_assert_eq(mn_orm_add_db(t.o, archive), 0);
    cr_expect_eq(mn_qs_count(mn_qs_using(mn_all(t.o, Tag), "archive")), 0);
    mn_orm_set_router(t.o, route_tags, NULL);
    cr_assert_not_null(mn_create(t.o, Tag, "name", "archived"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), 1, "reads follow the router too");
    cr_expect_eq(mn_qs_count(mn_qs_using(mn_all(t.o, Tag), "default")), 3);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Book)), 4, "other models stay on default");
    mn_orm_set_router(t.o, NULL, NULL);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), 3);
    cr_expect_null(mn_qs_fetch(mn_qs_using(mn_all(t.o, Tag), "nope")));
    cr_expect_str_eq(mn_orm_error(t.o), "no database 'nope' in this session");
    mn_orm_close(t.o);
    mn_arena_free(a);
    mn_db_free(archive);
    char p[200];
    const char *files[] = {"archive.db", "archive.db-wal", "archive.db-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* A nullable ordering field: the NULL rows sit where the queryset's own ORDER BY puts them
 * (first ascending on SQLite, last on PostgreSQL), and pages that end inside the NULL group
 * or just before it still continue through every row, in both directions. */
Test(orm_extras, cursor_pagination_over_a_nullable_field_keeps_the_null_rows)
{
    const char *dates[] = {"2024-03-01", NULL,         "2024-01-01", NULL,        "2024-03-01",
                           NULL,         "2024-02-01", NULL,         "2024-01-01"};
    size_t n = sizeof dates / sizeof *dates;
    for (size_t i = 0; i < n; i++)
        cr_assert_not_null(mn_create(t.o, Book, "title", mn_arena_printf(t.arena, "Z%zu", i),
                                     "author", lib.cy, "published", dates[i]),
                           "%s", mn_orm_error(t.o));
    mn_qs *qs = mn_filter(mn_all(t.o, Book), "title__startswith", "Z");
    const char *orders[] = {"published", "-published"};
    const char *plain[] = {"published,pk", "-published,-pk"};
    for (int d = 0; d < 2; d++) {
        mn_rows *want = mn_qs_fetch(mn_qs_order_by(qs, plain[d]));
        cr_assert(want && want->len == n, "%s", mn_orm_error(t.o));
        for (int64_t per = 1; per <= 5; per++) {
            const char *cursor = NULL;
            size_t seen = 0;
            int pages = 0;
            do {
                mn_cursor_page p;
                if (mn_paginate_cursor(qs, orders[d], per, cursor, "s3cret", &p) != 0)
                    cr_assert_fail("%s per %lld: %s", orders[d], (long long)per, mn_orm_error(t.o));
                if (p.rows->len == 0 || (p.has_next && p.rows->len != (size_t)per))
                    cr_assert_fail("%s per %lld page %d: %zu rows, has_next %d", orders[d],
                                   (long long)per, pages, p.rows->len, p.has_next);
                for (size_t i = 0; i < p.rows->len; i++, seen++)
                    if (seen >= n || mn_obj_pk(p.rows->items[i]) != mn_obj_pk(want->items[seen]))
                        cr_assert_fail("%s per %lld: row %zu is pk %lld, the queryset has %lld",
                                       orders[d], (long long)per, seen,
                                       (long long)mn_obj_pk(p.rows->items[i]),
                                       seen < n ? (long long)mn_obj_pk(want->items[seen]) : -1);
                cursor = p.next_cursor;
                pages++;
            } while (cursor && pages <= 10);
            if (seen != n)
                cr_assert_fail("%s per %lld: %zu of %zu rows", orders[d], (long long)per, seen, n);
        }
    }
}

/* Creating rows in a loop is not the N+1 pattern select_related/prefetch_related fix: the
 * warning counts only SELECTs (as django-debug-toolbar's duplicates), so it stays quiet. */
Test(orm_extras, writes_in_a_loop_are_not_reported_as_n_plus_1)
{
    log_capture cap = log_capture_start();
    mn_orm_warn_repeats(t.o, 2);
    for (int i = 0; i < 6; i++) {
        char title[16];
        snprintf(title, sizeof title, "Loop %d", i);
        Book *b = mn_create(t.o, Book, "title", title, "author", lib.ann->id, "price", "1.00");
        if (!b)
            cr_assert_fail("create %d: %s", i, mn_orm_error(t.o));
        b->pages = i;
        if (mn_save(t.o, b) != 0)
            cr_assert_fail("save %d: %s", i, mn_orm_error(t.o));
    }
    int writes_max = mn_orm_max_repeats(t.o);
    /* the reads of a loop still are */
    for (int i = 0; i < 4; i++)
        mn_qs_count(mn_filter(mn_all(t.o, Book), "pages", i));
    const char *buf = log_capture_end(&cap);
    cr_expect_leq(writes_max, 2, "writes counted: %d", writes_max);
    cr_expect_null(strstr(buf, "INSERT"), "%s", buf);
    cr_expect_null(strstr(buf, "UPDATE"), "%s", buf);
    const char *warn = strstr(buf, "N+1 queries");
    cr_expect(warn && strstr(warn, "SELECT"), "the repeated count is reported: %s", buf);
}

/* A session that cannot get a connection from a full pool says which database once. */
Test(orm_extras, a_full_pool_names_the_database_once)
{
    if (!tdb_is_pg(&t))
        cr_skip_test("SQLite has no connection pool");
    mn_dbconn *held[8];
    size_t nheld = 0;
    while (nheld < 8 && mn_db_acquire(t.db, -1, &held[nheld]) == 0)
        nheld++;
    cr_assert_lt(nheld, 8, "the pool never filled up");
    mn_orm *o = mn_orm_new(t.arena, t.db);
    cr_assert_not_null(o);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mn_orm_error(o));
    int code = mn_orm_errcode(o);
    for (size_t i = 0; i < nheld; i++)
        mn_db_release(held[i]);
    cr_expect_null(c);
    cr_expect_eq(code, MN_ETIMEDOUT);
    cr_expect_str_eq(msg, "database 'default': all 4 database connections are in use");
    mn_orm_close(o);
}
