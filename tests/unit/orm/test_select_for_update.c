/* test_select_for_update.c — select_for_update(nowait, skip_locked, of, no_key) as Django's:
 * the SQL each option gives on PostgreSQL (none on SQLite, which has no row locks), what a
 * second session sees while the first holds the locks, the `of` names and their errors, and
 * the TransactionManagementError outside an atomic block. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

LIBRARY_SUITE(orm_select_for_update);

static mn_qs *sfu(mn_qs *qs, mn_sfu_opts opts)
{
    return mn_qs_select_for_update_opts(qs, &opts);
}

/* The locking clause at the end of qs's SQL ("" when it has none). */
static const char *lock_clause(mn_qs *qs)
{
    const char *sql = mn_qs_sql(qs, NULL);
    cr_assert_not_null(sql, "%s", mn_orm_error(t.o));
    const char *f = strstr(sql, " FOR ");
    return f ? f : "";
}

static int count_row(void *row, void *user)
{
    (void)row;
    ++*(int *)user;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(orm_select_for_update, nowait_and_skip_locked_together_are_refused)
{
    mn_qs *qs = sfu(mn_all(t.o, Book), (mn_sfu_opts){.nowait = true, .skip_locked = true});
    cr_expect_null(qs);
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_str_eq(mn_orm_error(t.o), "The nowait option cannot be used with skip_locked.");
    mn_orm_clear_error(t.o);
    cr_expect_not_null(sfu(mn_all(t.o, Book), (mn_sfu_opts){.nowait = true}));
    cr_expect_not_null(sfu(mn_all(t.o, Book), (mn_sfu_opts){.skip_locked = true}));
}

Test(orm_select_for_update, each_option_is_in_the_sql_on_postgresql_only)
{
    bool pg = tdb_is_pg(&t);
    mn_qs *books = mn_all(t.o, Book);
    cr_expect_str_eq(lock_clause(mn_qs_select_for_update(books)), pg ? " FOR UPDATE" : "");
    cr_expect_str_eq(lock_clause(sfu(books, (mn_sfu_opts){.nowait = true})),
                     pg ? " FOR UPDATE NOWAIT" : "");
    cr_expect_str_eq(lock_clause(sfu(books, (mn_sfu_opts){.skip_locked = true})),
                     pg ? " FOR UPDATE SKIP LOCKED" : "");
    cr_expect_str_eq(lock_clause(sfu(books, (mn_sfu_opts){.no_key = true})),
                     pg ? " FOR NO KEY UPDATE" : "");
    /* the aliases of the tables named, in the order given, each once */
    mn_qs *reviews = mn_qs_select_related(mn_all(t.o, Review), "book__author");
    cr_expect_str_eq(lock_clause(sfu(reviews, (mn_sfu_opts){.of = "self"})),
                     pg ? " FOR UPDATE OF \"T0\"" : "");
    cr_expect_str_eq(lock_clause(sfu(reviews, (mn_sfu_opts){.of = "book__author, self, book, self",
                                                            .no_key = true,
                                                            .skip_locked = true})),
                     pg ? " FOR NO KEY UPDATE OF \"T2\", \"T0\", \"T1\" SKIP LOCKED" : "");
    /* after LIMIT, as PostgreSQL wants it */
    const char *sql = mn_qs_sql(mn_qs_slice(sfu(books, (mn_sfu_opts){.nowait = true}), 0, 2), NULL);
    cr_assert_not_null(sql);
    if (pg)
        cr_expect(strstr(sql, " LIMIT $1 FOR UPDATE NOWAIT"), "%s", sql);
    /* a later call replaces the options, as Django's */
    cr_expect_str_eq(
        lock_clause(mn_qs_select_for_update(sfu(books, (mn_sfu_opts){.nowait = true}))),
        pg ? " FOR UPDATE" : "");
}

Test(orm_select_for_update, of_names_only_the_relations_the_query_follows)
{
    /* Django's FieldError, with the choices breadth first: self, then each model's followed
     * relations in field order */
    const char *bad[][2] = {
        {"nonexistent", "nonexistent"},
        {"stars", "stars"},
        {"book__nonexistent", "book__nonexistent"},
        {"book__title", "book__title"},
        {"book__author__mentor", "book__author__mentor"},
        {"self, book__nonexistent, book, book__title", "book__nonexistent, book__title"},
    };
    mn_qs *reviews = mn_qs_select_related(mn_all(t.o, Review), "book__author");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mn_orm_clear_error(t.o);
        cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
        mn_rows *rows = mn_qs_fetch(sfu(reviews, (mn_sfu_opts){.of = bad[i][0]}));
        cr_expect_null(rows, "of=%s", bad[i][0]);
        cr_expect_eq(mn_orm_errcode(t.o), MN_EFIELD, "of=%s", bad[i][0]);
        const char *want = mn_arena_printf(
            t.arena,
            "Invalid field name(s) given in select_for_update(of=(...)): %s. Only relational "
            "fields followed in the query are allowed. Choices are: self, book, book__author.",
            bad[i][1]);
        cr_expect_str_eq(mn_orm_error(t.o), want);
        mn_atomic_end(t.o, false);
    }
    /* without select_related only "self" is there to lock */
    cr_expect_null(mn_qs_sql(sfu(mn_all(t.o, Book), (mn_sfu_opts){.of = "author"}), NULL));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_for_update(of=(...)): author. Only "
                     "relational fields followed in the query are allowed. Choices are: self.");
    /* two followed relations of one model, in field order */
    mn_qs *mem = mn_qs_select_related(mn_all(t.o, Membership), "author__mentor, club");
    cr_expect_null(mn_qs_sql(sfu(mem, (mn_sfu_opts){.of = "club__x"}), NULL));
    cr_expect_str_eq(mn_orm_error(t.o),
                     "Invalid field name(s) given in select_for_update(of=(...)): club__x. Only "
                     "relational fields followed in the query are allowed. Choices are: self, "
                     "club, author, author__mentor.");
    /* values() rows are not instances: as Django, `of` is not applied there */
    mn_orm_clear_error(t.o);
    cr_expect_str_eq(
        lock_clause(mn_qs_values(sfu(mn_all(t.o, Book), (mn_sfu_opts){.of = "author"}), "title")),
        tdb_is_pg(&t) ? " FOR UPDATE" : "");
}

Test(orm_select_for_update, of_self_locks_across_a_nullable_relation)
{
    /* the audit's case: FOR UPDATE cannot lock the nullable side of an outer join, and
     * of=("self",) is Django's way out */
    cr_assert_not_null(mn_create(t.o, Review, "stars", 1), "%s", mn_orm_error(t.o)); /* no book */
    /* the fixture's three reviews (stars 2, 4, 5) have books */
    mn_qs *reviews = mn_qs_select_related(mn_qs_order_by(mn_all(t.o, Review), "stars"), "book");
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    mn_rows *rows = mn_qs_fetch(sfu(reviews, (mn_sfu_opts){.of = "self"}));
    cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
    cr_assert_eq(rows->len, 4);
    Review *none = rows->items[0], *dune = rows->items[3];
    cr_expect(mn_obj_is_null(none, "book"));
    cr_expect_null(none->book.obj);
    cr_expect_eq(dune->book.id, lib.dune->id);
    cr_expect_not_null(dune->book.obj, "select_related filled it");
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));

    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    rows = mn_qs_fetch(mn_qs_select_for_update(reviews));
    if (tdb_is_pg(&t)) {
        cr_expect_null(rows, "PostgreSQL refuses FOR UPDATE on a LEFT OUTER JOIN");
        cr_expect(strstr(mn_orm_error(t.o), "nullable side of an outer join"), "%s",
                  mn_orm_error(t.o));
    } else {
        cr_expect(rows && rows->len == 4, "SQLite ignores the lock: %s", mn_orm_error(t.o));
    }
    mn_atomic_end(t.o, false);
}

Test(orm_select_for_update, outside_a_transaction_is_a_transaction_management_error)
{
    const char *msg = "select_for_update cannot be used outside of a transaction.";
    mn_qs *qs = mn_qs_select_for_update(mn_qs_order_by(mn_all(t.o, Book), "pk"));
    bool pg = tdb_is_pg(&t);
    /* fetch, get(), first() and exists() run the locking SELECT */
    mn_rows *rows = mn_qs_fetch(qs);
    void *got = mn_get(qs, "pk", lib.dune->id);
    int errcode_get = mn_orm_errcode(t.o);
    void *first = mn_qs_first(qs);
    int errcode_first = mn_orm_errcode(t.o);
    int exists = mn_qs_exists(qs);
    if (pg) {
        cr_expect_null(rows);
        cr_expect_null(got);
        cr_expect_eq(errcode_get, MN_ETRANSACTION_MANAGEMENT);
        cr_expect_null(first);
        cr_expect_eq(errcode_first, MN_ETRANSACTION_MANAGEMENT);
        cr_expect_eq(exists, MN_ETRANSACTION_MANAGEMENT);
        cr_expect_str_eq(mn_orm_error(t.o), msg);
        /* with options too; the transaction is checked before the `of` names, as Django */
        cr_expect_null(mn_qs_fetch(sfu(mn_all(t.o, Book), (mn_sfu_opts){.of = "nope"})));
        cr_expect_eq(mn_orm_errcode(t.o), MN_ETRANSACTION_MANAGEMENT);
    } else {
        cr_expect_not_null(rows, "SQLite ignores FOR UPDATE, as Django: %s", mn_orm_error(t.o));
        cr_expect_not_null(got, "%s", mn_orm_error(t.o));
        cr_expect_not_null(first, "%s", mn_orm_error(t.o));
        cr_expect_eq(exists, 1);
    }
    /* iterator() and explain() run it too */
    int seen = 0;
    int it = mn_qs_iterator(qs, 2, count_row, &seen);
    const char *plan = mn_qs_explain(qs);
    if (pg) {
        cr_expect_eq(it, MN_ETRANSACTION_MANAGEMENT);
        cr_expect_eq(seen, 0, "no row reaches the callback");
        cr_expect_null(plan);
        cr_expect_eq(mn_orm_errcode(t.o), MN_ETRANSACTION_MANAGEMENT);
    } else {
        cr_expect_eq(it, 0, "%s", mn_orm_error(t.o));
        cr_expect_eq(seen, 4);
        cr_expect_not_null(plan, "%s", mn_orm_error(t.o));
    }
    /* count() locks nothing (Django's get_aggregation drops the lock), sliced or not */
    cr_expect_eq(mn_qs_count(qs), 4, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_qs_slice(qs, 0, 2)), 2, "%s", mn_orm_error(t.o));
    /* inside an atomic block all of them work */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    rows = mn_qs_fetch(qs);
    cr_expect(rows && rows->len == 4, "%s", mn_orm_error(t.o));
    cr_expect_not_null(mn_get(qs, "pk", lib.dune->id), "%s", mn_orm_error(t.o));
    cr_expect_not_null(mn_qs_first(qs), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_exists(qs), 1, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
}

/* Session A holds row locks in an open atomic block; B is a second session (its own
 * connection), as another request or worker. */
typedef struct two {
    mn_arena *arena;
    mn_orm *b;
} two;

static two lock_in_a(mn_qs *locking)
{
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    mn_rows *held = mn_qs_fetch(locking);
    cr_assert_not_null(held, "%s", mn_orm_error(t.o));
    two w = {mn_arena_new(0), NULL};
    cr_assert_not_null(w.arena);
    w.b = tdb_session(&t, w.arena);
    cr_assert_not_null(w.b);
    if (tdb_is_pg(&t)) {
        /* a lock that should not be waited for fails the test instead of hanging it */
        mn_dbconn *c = mn_orm_conn(w.b, NULL);
        mn_dbresult res;
        cr_assert_not_null(c);
        cr_assert_eq(mn_dbconn_exec(c, w.arena, "SET lock_timeout = '5s'", NULL, 0, &res), 0);
    }
    return w;
}

static void release(two *w)
{
    mn_orm_close(w->b);
    mn_arena_free(w->arena);
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
}

Test(orm_select_for_update, nowait_fails_at_once_on_a_locked_row)
{
    two w = lock_in_a(mn_qs_select_for_update(mn_filter(mn_all(t.o, Book), "pk", lib.dune->id)));
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    double t0 = now_s();
    mn_rows *rows = mn_qs_fetch(sfu(mn_all(w.b, Book), (mn_sfu_opts){.nowait = true}));
    double took = now_s() - t0;
    if (tdb_is_pg(&t)) {
        cr_expect_null(rows);
        /* 55P03 lock_not_available: Django's OperationalError */
        cr_expect_eq(mn_orm_errcode(w.b), MN_EDB_OPERATIONAL, "%s", mn_orm_error(w.b));
        cr_expect(strstr(mn_orm_error(w.b), "could not obtain lock"), "%s", mn_orm_error(w.b));
        cr_expect_lt(took, 2.0, "NOWAIT does not wait (%.2fs)", took);
    } else {
        cr_expect(rows && rows->len == 4, "SQLite has no row locks: %s", mn_orm_error(w.b));
    }
    mn_atomic_end(w.b, false);
    /* the rows A did not lock can be had at once */
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    rows = mn_qs_fetch(
        sfu(mn_exclude(mn_all(w.b, Book), "pk", lib.dune->id), (mn_sfu_opts){.nowait = true}));
    cr_expect(rows && rows->len == 3, "%s", mn_orm_error(w.b));
    cr_expect_eq(mn_atomic_end(w.b, true), 0, "%s", mn_orm_error(w.b));
    release(&w);
}

Test(orm_select_for_update, skip_locked_leaves_out_the_locked_rows)
{
    two w = lock_in_a(mn_qs_select_for_update(mn_filter(mn_all(t.o, Book), "pk", lib.dune->id)));
    /* a job queue: each worker takes the next row no one holds */
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    mn_qs *free_books =
        sfu(mn_qs_order_by(mn_all(w.b, Book), "pk"), (mn_sfu_opts){.skip_locked = true});
    mn_rows *rows = mn_qs_fetch(free_books);
    cr_assert_not_null(rows, "%s", mn_orm_error(w.b));
    bool pg = tdb_is_pg(&t);
    cr_expect_eq(rows->len, pg ? 3 : 4);
    bool saw_dune = false;
    for (size_t i = 0; i < rows->len; i++)
        saw_dune |= ((Book *)rows->items[i])->id == lib.dune->id;
    cr_expect_eq(saw_dune, !pg, "the locked row is skipped on PostgreSQL only");
    Book *next = mn_qs_first(free_books);
    cr_assert_not_null(next, "%s", mn_orm_error(w.b));
    if (pg)
        cr_expect_neq(next->id, lib.dune->id);
    cr_expect_eq(mn_atomic_end(w.b, true), 0, "%s", mn_orm_error(w.b));
    release(&w);
    /* once A's block ends, the row is free again */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    rows = mn_qs_fetch(sfu(mn_all(t.o, Book), (mn_sfu_opts){.skip_locked = true}));
    cr_expect(rows && rows->len == 4, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
}

Test(orm_select_for_update, of_locks_only_the_tables_named)
{
    /* A locks the reviews of dune (the fixture's two) and not their book */
    mn_qs *reviews = mn_qs_select_related(mn_filter(mn_all(t.o, Review), "book", lib.dune), "book");
    two w = lock_in_a(sfu(reviews, (mn_sfu_opts){.of = "self"}));
    bool pg = tdb_is_pg(&t);
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    mn_rows *rows = mn_qs_fetch(sfu(mn_all(w.b, Book), (mn_sfu_opts){.nowait = true}));
    cr_expect(rows && rows->len == 4, "the books are not locked: %s", mn_orm_error(w.b));
    cr_expect_eq(mn_atomic_end(w.b, true), 0, "%s", mn_orm_error(w.b));
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    rows = mn_qs_fetch(sfu(mn_all(w.b, Review), (mn_sfu_opts){.nowait = true}));
    if (pg)
        cr_expect_eq(mn_orm_errcode(w.b), MN_EDB_OPERATIONAL, "the reviews are: %s",
                     mn_orm_error(w.b));
    else
        cr_expect(rows && rows->len == 3, "%s", mn_orm_error(w.b));
    mn_atomic_end(w.b, false);
    release(&w);

    /* of=("book",): the other way round. Review.book is nullable, so the join is a LEFT
     * OUTER one, which PostgreSQL cannot lock the inner side of; a filter through it makes
     * it INNER, as in Django */
    mn_qs *inner = mn_qs_select_related(
        mn_filter(mn_all(t.o, Review), "book__title", lib.dune->title), "book");
    w = lock_in_a(sfu(inner, (mn_sfu_opts){.of = "book"}));
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    rows = mn_qs_fetch(sfu(mn_all(w.b, Review), (mn_sfu_opts){.nowait = true}));
    cr_expect(rows && rows->len == 3, "the reviews are not locked: %s", mn_orm_error(w.b));
    cr_expect_eq(mn_atomic_end(w.b, true), 0, "%s", mn_orm_error(w.b));
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    rows = mn_qs_fetch(
        sfu(mn_filter(mn_all(w.b, Book), "pk", lib.dune->id), (mn_sfu_opts){.nowait = true}));
    if (pg)
        cr_expect_eq(mn_orm_errcode(w.b), MN_EDB_OPERATIONAL, "its book is: %s", mn_orm_error(w.b));
    else
        cr_expect(rows && rows->len == 1, "%s", mn_orm_error(w.b));
    mn_atomic_end(w.b, false);
    release(&w);
}

Test(orm_select_for_update, no_key_lets_others_insert_rows_pointing_at_the_locked_one)
{
    /* FOR NO KEY UPDATE conflicts with another update, but not with the KEY SHARE lock a
     * foreign key check takes: B can add a review of the book A is changing */
    two w = lock_in_a(
        sfu(mn_filter(mn_all(t.o, Book), "pk", lib.dune->id), (mn_sfu_opts){.no_key = true}));
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    Book *dune = mn_get(mn_all(w.b, Book), "pk", lib.dune->id);
    cr_assert_not_null(dune, "%s", mn_orm_error(w.b));
    cr_expect_not_null(mn_create(w.b, Review, "book", dune, "stars", 4), "%s", mn_orm_error(w.b));
    cr_expect_eq(mn_atomic_end(w.b, true), 0, "%s", mn_orm_error(w.b));
    /* but not lock it for update itself */
    cr_assert_eq(mn_atomic_begin(w.b), 0, "%s", mn_orm_error(w.b));
    mn_rows *rows = mn_qs_fetch(
        sfu(mn_filter(mn_all(w.b, Book), "pk", lib.dune->id), (mn_sfu_opts){.nowait = true}));
    if (tdb_is_pg(&t))
        cr_expect_eq(mn_orm_errcode(w.b), MN_EDB_OPERATIONAL, "%s", mn_orm_error(w.b));
    else
        cr_expect(rows && rows->len == 1, "%s", mn_orm_error(w.b));
    mn_atomic_end(w.b, false);
    release(&w);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Review), "book", lib.dune)), 3);
}
