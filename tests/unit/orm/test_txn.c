/* test_txn.c — atomic() with savepoint nesting, on_commit callbacks, rollback of what a
 * session leaves open, signals (pre/post save and delete, m2m_changed), and the per-session
 * query log used by assert_num_queries. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <string.h>

DB_SUITE(orm_txn);

static int64_t tags(void)
{
    return mn_qs_count(mn_all(t.o, Tag));
}
static void tag(const char *name)
{
    cr_assert_not_null(mn_create(t.o, Tag, "name", name), "%s", mn_orm_error(t.o));
}

static int ran[8];
static void mark(void *arg)
{
    ran[(intptr_t)arg]++;
}

Test(orm_txn, atomic_nests_with_savepoints)
{
    memset(ran, 0, sizeof ran);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag("outer");
    mn_on_commit(t.o, mark, (void *)1);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    cr_expect_eq(mn_atomic_depth(t.o), 2);
    tag("inner-kept");
    mn_on_commit(t.o, mark, (void *)2);
    cr_assert_eq(mn_atomic_end(t.o, true), 0);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    tag("inner-dropped");
    mn_on_commit(t.o, mark, (void *)3);
    cr_assert_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(ran[1] + ran[2] + ran[3], 0, "nothing runs before the outer commit");
    cr_assert_eq(mn_atomic_end(t.o, true), 0);
    cr_expect_eq(ran[1], 1);
    cr_expect_eq(ran[2], 1);
    cr_expect_eq(ran[3], 0, "a rolled back block drops its callbacks");
    cr_expect_eq(tags(), 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "name", "inner-dropped")), 0);
    mn_on_commit(t.o, mark, (void *)4);
    cr_expect_eq(ran[4], 1, "outside a transaction on_commit runs at once");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_EINVAL);
}

Test(orm_txn, rollback_of_the_outer_block_undoes_everything)
{
    memset(ran, 0, sizeof ran);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    tag("a");
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    tag("b");
    mn_on_commit(t.o, mark, (void *)5);
    cr_assert_eq(mn_atomic_end(t.o, true), 0);
    cr_assert_eq(mn_atomic_end(t.o, false), 0);
    cr_expect_eq(tags(), 0);
    cr_expect_eq(ran[5], 0);
}

static int failing_body(mn_orm *o, void *arg)
{
    (void)arg;
    cr_assert_not_null(mn_create(o, Tag, "name", "doomed"));
    cr_assert_not_null(mn_create(o, Author, "name", "Dup"));
    return mn_create(o, Author, "name", "Dup") ? 0 : mn_orm_errcode(o);
}

static int ok_body(mn_orm *o, void *arg)
{
    (void)arg;
    return mn_create(o, Tag, "name", "kept") ? 0 : mn_orm_errcode(o);
}

Test(orm_txn, atomic_helper_commits_or_rolls_back)
{
    cr_expect_eq(mn_atomic(t.o, failing_body, NULL), MN_EDB_INTEGRITY);
    cr_expect_eq(tags(), 0);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 0);
    cr_expect_eq(mn_atomic(t.o, ok_body, NULL), 0);
    cr_expect_eq(tags(), 1);
    cr_expect_eq(mn_atomic_depth(t.o), 0);
}

Test(orm_txn, an_integrity_error_inside_a_savepoint_leaves_the_transaction_usable)
{
    tag("x");
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    cr_assert_not_null(mn_create(t.o, Author, "name", "Ann"));
    /* the failing insert runs in an inner block: rolling back its savepoint keeps the
     * outer transaction usable (PostgreSQL would otherwise refuse every later statement) */
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    cr_expect_null(mn_create(t.o, Author, "name", "Ann"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY);
    cr_assert_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    bool created;
    Author *a =
        mn_qs_get_or_create(mn_all(t.o, Author), MN_KVS("name", "Ann"), 1, NULL, 0, &created);
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    cr_expect_not(created);
    tag("y");
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(tags(), 2);
}

Test(orm_txn, closing_the_session_rolls_back_an_open_transaction)
{
    mn_arena *a = mn_arena_new(0);
    mn_orm *o2 = tdb_session(&t, a);
    cr_assert_eq(mn_atomic_begin(o2), 0, "%s", mn_orm_error(o2));
    cr_assert_not_null(mn_create(o2, Tag, "name", "left-open"));
    mn_arena_free(a); /* the request ends with the transaction open */
    cr_expect_eq(tags(), 0);
}

static int events[16];
static int receiver(mn_signal sig, const mn_model *sender, void *obj, bool created, mn_orm *o,
                    void *user)
{
    (void)o;
    (void)user;
    (void)sender;
    events[sig * 2 + created]++;
    if (sig == MN_PRE_SAVE && strcmp(((Tag *)obj)->name, "forbidden") == 0)
        return MN_EINVAL;
    return 0;
}

Test(orm_txn, signals_fire_around_save_and_delete)
{
    memset(events, 0, sizeof events);
    const mn_signal sigs[] = {MN_PRE_SAVE, MN_POST_SAVE, MN_PRE_DELETE, MN_POST_DELETE};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(mn_signal_connect(sigs[i], &Tag_model, receiver, NULL), 0);
    Tag *x = mn_create(t.o, Tag, "name", "x");
    cr_assert_not_null(x);
    cr_expect_eq(events[MN_PRE_SAVE * 2 + 1], 1);
    cr_expect_eq(events[MN_POST_SAVE * 2 + 1], 1, "post_save created=true");
    x->name = "y";
    cr_assert_eq(mn_save(t.o, x), 0);
    cr_expect_eq(events[MN_POST_SAVE * 2], 1, "post_save created=false");
    cr_expect_null(mn_create(t.o, Tag, "name", "forbidden"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EINVAL);
    cr_expect_eq(tags(), 1, "a pre_save receiver can refuse");
    cr_assert_eq(mn_delete(t.o, x, NULL), 1);
    cr_expect_eq(events[MN_PRE_DELETE * 2], 1);
    cr_expect_eq(events[MN_POST_DELETE * 2], 1);
    cr_assert_not_null(mn_create(t.o, Author, "name", "nobody listens"));
    cr_expect_eq(events[MN_POST_SAVE * 2 + 1], 1, "receivers are per sender");
    for (int i = 0; i < 4; i++)
        mn_signal_disconnect(sigs[i], &Tag_model, receiver, NULL);
    tag("quiet");
    cr_expect_eq(events[MN_POST_SAVE * 2 + 1], 1);
}

Test(orm_txn, query_log_counts_queries)
{
    library lib;
    library_fill(t.o, &lib);
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    mn_rows *books = mn_qs_fetch(mn_all(t.o, Book));
    cr_assert_not_null(books);
    for (size_t i = 0; i < books->len; i++)
        cr_assert_not_null(mn_fk_get(t.o, books->items[i], "author"));
    cr_expect_eq(log.count, 5, "the N+1 pattern costs N+1 queries");
    log.count = 0;
    books = mn_qs_fetch(mn_qs_select_related(mn_all(t.o, Book), "author"));
    for (size_t i = 0; i < books->len; i++)
        cr_assert_not_null(mn_fk_get(t.o, books->items[i], "author"));
    cr_expect_eq(log.count, 1);
    cr_expect_eq(log.entries[0].nparams, 0);
    mn_orm_set_log(t.o, NULL);
}

Test(orm_txn, atomic_requests_commit_or_roll_back_the_whole_view)
{
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    cr_assert_eq(mn_orm_request_begin(o, true), 0, "%s", mn_orm_error(o));
    cr_assert_not_null(mn_create(o, Tag, "name", "kept"));
    cr_assert_eq(mn_orm_request_end(o, true), 0);
    o = tdb_session(&t, a);
    cr_assert_eq(mn_orm_request_begin(o, true), 0);
    cr_assert_not_null(mn_create(o, Tag, "name", "view-failed"));
    cr_assert_eq(mn_atomic_begin(o), 0); /* an inner block the view forgot to close */
    cr_assert_eq(mn_orm_request_end(o, false), 0);
    o = tdb_session(&t, a);
    cr_assert_eq(mn_orm_request_begin(o, false), 0);
    cr_assert_not_null(mn_create(o, Tag, "name", "autocommit"));
    cr_assert_eq(mn_orm_request_end(o, false), 0, "without ATOMIC_REQUESTS each query commits");
    mn_arena_free(a);
    cr_expect_eq(tags(), 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "name", "view-failed")), 0);
}

/* Django's needs_rollback (audit A4): after a failed statement inside an atomic block the same
 * thing happens on SQLite and PostgreSQL: no more queries in that block, and its end rolls
 * back and says so. */
static void expect_refused(mn_orm *o, const char *what)
{
    cr_expect_eq(mn_orm_errcode(o), MN_ETRANSACTION_MANAGEMENT, "%s: %d %s", what,
                 mn_orm_errcode(o), mn_orm_error(o));
    cr_expect(strstr(mn_orm_error(o), "You can't execute queries until the end of the 'atomic'"),
              "%s: %s", what, mn_orm_error(o));
}

Test(orm_txn, a_failed_query_marks_the_block_for_rollback)
{
    memset(ran, 0, sizeof ran);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag("before");
    mn_on_commit(t.o, mark, (void *)1);
    cr_assert_not_null(mn_create(t.o, Author, "name", "Dup"), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Author, "name", "Dup"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Tag, "name", "after"), "SQLite must not go on either");
    expect_refused(t.o, "create");
    cr_expect_lt(mn_qs_count(mn_all(t.o, Tag)), 0, "reads are refused too");
    expect_refused(t.o, "count");
    cr_expect_eq(mn_atomic_begin(t.o), MN_ETRANSACTION_MANAGEMENT, "nor a savepoint");
    cr_expect_eq(mn_atomic_depth(t.o), 1);
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "commit refused");
    cr_expect(strstr(mn_orm_error(t.o), "rolled back, not committed"), "%s", mn_orm_error(t.o));
    cr_expect(strstr(mn_orm_error(t.o), "integrity error"), "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_depth(t.o), 0);
    cr_expect_eq(ran[1], 0, "on_commit callbacks of a rolled back block are dropped");
    cr_expect_eq(tags(), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 0);
    /* the next block starts clean; a block rolled back on purpose says nothing */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Author, "name", "Dup"), "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Author, "name", "Dup"));
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "the failure's message is kept");
    tag("autocommit");
    cr_expect_eq(tags(), 1);
}

Test(orm_txn, the_outer_block_goes_on_after_an_inner_block_rolled_back)
{
    memset(ran, 0, sizeof ran);
    cr_assert_not_null(mn_create(t.o, Author, "name", "Ann"));
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag("outer");
    mn_on_commit(t.o, mark, (void *)1);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    tag("inner");
    mn_on_commit(t.o, mark, (void *)2);
    cr_expect_null(mn_create(t.o, Author, "name", "Ann"));
    cr_expect_eq(mn_orm_errcode(t.o), MN_EDB_INTEGRITY, "%s", mn_orm_error(t.o));
    cr_expect_null(mn_create(t.o, Tag, "name", "inner-after"));
    expect_refused(t.o, "inner create");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_depth(t.o), 1);
    tag("outer-after"); /* only the inner block was marked */
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(ran[1], 1);
    cr_expect_eq(ran[2], 0, "the inner block's callback went with its rollback");
    cr_expect_eq(tags(), 2);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "name", "inner")), 0);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Tag), "name", "outer-after")), 1);
}

Test(orm_txn, a_failure_in_the_outer_block_refuses_its_inner_blocks)
{
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Author, "name", "Bo"));
    cr_expect_null(mn_create(t.o, Author, "name", "Bo"));
    cr_expect_eq(mn_atomic_begin(t.o), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_null(mn_qs_get_or_create(mn_all(t.o, Tag), MN_KVS("name", "g"), 1, NULL, 0, NULL));
    expect_refused(t.o, "get_or_create");
    cr_expect_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 0);
    cr_expect_eq(tags(), 0);
}

static int swallowing_body(mn_orm *o, void *arg)
{
    (void)arg;
    tag("doomed");
    cr_assert_not_null(mn_create(o, Author, "name", "Dup"));
    (void)mn_create(o, Author, "name", "Dup"); /* the error is "handled" and fn says ok */
    return 0;
}

Test(orm_txn, atomic_helper_reports_the_rollback_of_a_marked_block)
{
    cr_expect_eq(mn_atomic(t.o, swallowing_body, NULL), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_eq(tags(), 0);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 0);
}

Test(orm_txn, atomic_requests_roll_back_a_view_whose_query_failed)
{
    memset(ran, 0, sizeof ran);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    cr_assert_eq(mn_orm_request_begin(o, true), 0, "%s", mn_orm_error(o));
    cr_assert_not_null(mn_create(o, Tag, "name", "view"));
    mn_on_commit(o, mark, (void *)3);
    cr_assert_not_null(mn_create(o, Author, "name", "Dup"));
    cr_expect_null(mn_create(o, Author, "name", "Dup"));
    /* as Django: the view's own response stands (say, a form error), its writes do not */
    cr_expect_eq(mn_orm_request_end(o, true), 0, "%s", mn_orm_error(o));
    mn_arena_free(a);
    cr_expect_eq(ran[3], 0);
    cr_expect_eq(tags(), 0);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 0);
}
