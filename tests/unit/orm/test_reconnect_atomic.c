/* test_reconnect_atomic.c — the database goes away inside an atomic block (the user's, or
 * the one the ORM opens itself in delete and get_or_create): the block's end reports the
 * failure without hiding the error that caused it, and the session's very next query gets a
 * fresh connection (Django closes a connection whose rollback failed). On PostgreSQL the
 * private server is really restarted (scripts/with-pg's MN_TEST_PG_CTL), so the scenarios
 * run one after another in a single test: tests of one file share that server. On SQLite
 * there is no server; the test checks a block whose query failed keeps that query's error. */
#include "helper_data.h"
#include "helper_db.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DB_SUITE(orm_reconnect_atomic);

static void restart_server(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "\"%s\" restart >/dev/null 2>&1", getenv("MN_TEST_PG_CTL"));
    cr_assert_eq(system(cmd), 0, "restarting the server");
}

/* The fresh connection starts in the public schema: point it at this test's tables again. */
static void use_test_schema(void)
{
    mn_dbconn *c = mn_orm_conn(t.o, NULL);
    cr_assert_not_null(c, "connect: %s", mn_orm_error(t.o));
    char sql[160];
    snprintf(sql, sizeof sql, "SET search_path TO \"%s\"", t.schema);
    cr_assert_eq(mn_dbconn_exec_script(c, sql), 0, "%s", mn_dbconn_errmsg(c));
}

/* The session's next query works: it did not keep the dead connection. */
static void next_query_works(const char *after)
{
    mn_orm_clear_error(t.o);
    mn_rows *r = mn_raw(t.o, &Tag_model, "SELECT 7 AS id", NULL, 0);
    cr_assert_not_null(r, "the first query after %s: %s", after, mn_orm_error(t.o));
    cr_expect_eq(((Tag *)r->items[0])->id, 7);
    cr_expect_eq(mn_atomic_depth(t.o), 0);
}

static int restart_receiver(mn_signal sig, const mn_model *sender, void *obj, bool created,
                            mn_orm *o, void *user)
{
    (void)sig, (void)sender, (void)obj, (void)created, (void)o, (void)user;
    restart_server();
    return 0;
}

Test(orm_reconnect_atomic, the_first_query_after_a_block_that_lost_the_server_reconnects)
{
    cr_assert_not_null(mn_create(t.o, Tag, "name", "before"), "%s", mn_orm_error(t.o));
    if (!tdb_is_pg(&t) || !getenv("MN_TEST_PG_CTL")) {
        cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
        cr_expect_null(mn_raw(t.o, &Tag_model, "SELECT nope", NULL, 0));
        char why[256];
        snprintf(why, sizeof why, "%s", mn_orm_error(t.o));
        cr_expect_eq(mn_atomic_end(t.o, false), 0, "the rollback worked: %s", mn_orm_error(t.o));
        cr_expect_str_eq(mn_orm_error(t.o), why, "the query's error stays the one reported");
        next_query_works("a failed block");
        return;
    }

    /* 1. the user's block, rolled back: the original error is the one reported */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_qs_count(mn_all(t.o, Tag)), 1, "%s", mn_orm_error(t.o));
    restart_server();
    cr_expect_lt(mn_qs_count(mn_all(t.o, Tag)), 0, "the server went away");
    char why[512];
    snprintf(why, sizeof why, "%s", mn_orm_error(t.o));
    int code = mn_orm_errcode(t.o);
    cr_expect_neq(mn_atomic_end(t.o, false), 0, "the block's end reports failure");
    cr_expect_eq(mn_orm_errcode(t.o), code);
    cr_expect_str_eq(mn_orm_error(t.o), why, "the rollback's error does not hide the cause");
    next_query_works("a rolled-back block");

    /* 2. the user's block, committed after the server went away */
    use_test_schema();
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    cr_assert_not_null(mn_create(t.o, Tag, "name", "lost"), "%s", mn_orm_error(t.o));
    restart_server();
    cr_expect_neq(mn_atomic_end(t.o, true), 0, "the commit did not happen");
    cr_expect(mn_orm_error(t.o)[0], "the commit's failure is explained");
    next_query_works("a failed commit");
    use_test_schema();
    cr_expect_eq(mn_qs_count(mn_all(t.o, Tag)), 1, "the row was not committed");

    /* 3. the ORM's own block in a cascade delete */
    cr_assert_not_null(mn_create(t.o, Author, "name", "a"), "%s", mn_orm_error(t.o));
    mn_signal_connect(MN_PRE_DELETE, &Author_model, restart_receiver, NULL);
    int64_t n = mn_qs_delete(mn_all(t.o, Author), NULL);
    mn_signal_disconnect(MN_PRE_DELETE, &Author_model, restart_receiver, NULL);
    cr_expect_lt(n, 0, "the delete failed");
    next_query_works("a delete that lost the server");

    /* 4. the ORM's own block in get_or_create's create */
    use_test_schema();
    mn_signal_connect(MN_PRE_SAVE, &Tag_model, restart_receiver, NULL);
    bool created = true;
    void *obj = mn_qs_get_or_create(mn_all(t.o, Tag), MN_KVS("name", "new"), 1, NULL, 0, &created);
    mn_signal_disconnect(MN_PRE_SAVE, &Tag_model, restart_receiver, NULL);
    cr_expect_null(obj, "the create failed");
    cr_expect_not(created);
    next_query_works("a get_or_create that lost the server");
}
