/* test_pg_async_audit.c — the client-side deadline of a PostgreSQL connection (pg_conn.c's
 * io_timeout: statement_timeout + 5 s in the pool) means "no answer from the server for that
 * long", not "the whole exchange within that long": a pipelined batch or a script of many
 * statements, each well within the deadline, must not fail because together they take
 * longer (the server keeps a pipeline's results until its sync unless asked to flush after
 * each, and a script's until its end); a server that goes silent still fails at the deadline.
 * Run through scripts/with-pg. */
#include "helper_pg.h"

#include "db/pg_internal.h"

#include <string.h>

static mn__pg_conn *connect_with(int64_t io_timeout_ms)
{
    pgt_url(); /* skips without a server */
    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *vals[] = {"127.0.0.1", getenv("MN_TEST_PGPORT"), getenv("MN_TEST_PGUSER"),
                          getenv("MN_TEST_PGDATABASE"), NULL};
    mn__pg_options opt = {.io_timeout_ms = io_timeout_ms, .prepare = true};
    mn__pg_conn *c = NULL;
    char err[256] = "";
    int rc = mn__pg_connect_params(keys, vals, &opt, &c, err, sizeof err);
    cr_assert_eq(rc, 0, "connect: %s", err);
    return c;
}

static int send_sleep(void *arg, int i)
{
    (void)i;
    return mn__pg_pipeline_send(arg, "SELECT pg_sleep(0.1)", 0, NULL, NULL, NULL, NULL);
}

Test(pg_async_audit, a_batch_longer_than_the_deadline_runs_when_each_statement_answers_in_time)
{
    mn__pg_conn *c = connect_with(600);
    enum { N = 10 }; /* 1 s in all, 0.1 s each */
    PGresult *results[N];
    int rc = mn__pg_batch(c, N, send_sleep, c, results);
    cr_expect_eq(rc, 0, "%s (%s)", mn_strerror(rc), c->message);
    cr_expect_not(c->broken);
    for (int i = 0; i < N; i++)
        PQclear(results[i]);
    PGresult *res = NULL;
    cr_expect_eq(mn__pg_exec(c, "SELECT 1", 0, NULL, NULL, NULL, NULL, false, &res), 0,
                 "the connection is usable: %s", c->message);
    PQclear(res);
    mn__pg_close(c);
}

Test(pg_async_audit, a_script_longer_than_the_deadline_runs_when_each_statement_answers_in_time)
{
    mn__pg_conn *c = connect_with(600);
    PGresult *res = NULL;
    int rc = mn__pg_exec(c,
                         "SELECT pg_sleep(0.1); SELECT pg_sleep(0.1); SELECT pg_sleep(0.1); "
                         "SELECT pg_sleep(0.1); SELECT pg_sleep(0.1); SELECT pg_sleep(0.1); "
                         "SELECT pg_sleep(0.1); SELECT pg_sleep(0.1); SELECT pg_sleep(0.1); "
                         "SELECT pg_sleep(0.1)",
                         0, NULL, NULL, NULL, NULL, true, &res);
    cr_expect_eq(rc, 0, "%s (%s)", mn_strerror(rc), c->message);
    PQclear(res);
    mn__pg_close(c);
}

Test(pg_async_audit, a_silent_server_still_fails_at_the_deadline)
{
    mn__pg_conn *c = connect_with(300);
    PGresult *res = NULL;
    double t0 = pgt_now_s();
    int rc = mn__pg_exec(c, "SELECT pg_sleep(2)", 0, NULL, NULL, NULL, NULL, false, &res);
    double took = pgt_now_s() - t0;
    cr_expect_eq(rc, MN_ETIMEDOUT, "%s", mn_strerror(rc));
    cr_expect(c->broken);
    cr_expect(took >= 0.29 && took < 1.0, "took %.3f s", took);
    PQclear(res);
    mn__pg_close(c);
}

static void run_batch_in_loop(void *arg)
{
    mn__pg_conn *c = arg;
    PGresult *results[10];
    int rc = mn__pg_batch(c, 10, send_sleep, c, results);
    cr_expect_eq(rc, 0, "%s (%s)", mn_strerror(rc), c->message);
    for (int i = 0; i < 10; i++)
        PQclear(results[i]);
}

Test(pg_async_audit, the_same_on_a_coroutine)
{
    mn__pg_conn *c = connect_with(600);
    mn_loop *loop = mn_loop_new();
    cr_assert_not_null(loop);
    mn_coro_spawn(loop, run_batch_in_loop, c);
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    mn__pg_close(c);
    mn_loop_free(loop);
}

/* With a deadline each statement asks the server to flush; a failure in the middle still
 * skips the rest and leaves the connection in step. */
static int send_mixed(void *arg, int i)
{
    static const char *const sql[] = {"SELECT 1", "SELECT 1 / 0", "SELECT 2", "SELECT 3"};
    return mn__pg_pipeline_send(arg, sql[i], 0, NULL, NULL, NULL, NULL);
}

Test(pg_async_audit, a_failure_in_the_middle_of_a_flushed_batch_leaves_the_connection_usable)
{
    mn__pg_conn *c = connect_with(600);
    for (int round = 0; round < 2; round++) {
        PGresult *results[4];
        int rc = mn__pg_batch(c, 4, send_mixed, c, results);
        cr_expect_eq(rc, MN_EIO, "%s", mn_strerror(rc));
        cr_expect_str_eq(c->sqlstate, "22012", "%s", c->message);
        cr_expect_not(c->broken);
        cr_expect_not_null(results[0]);
        cr_expect_null(results[2], "skipped after the failure");
        cr_expect_null(results[3]);
        for (int i = 0; i < 4; i++)
            PQclear(results[i]);
        PGresult *res = NULL;
        cr_expect_eq(mn__pg_exec(c, "SELECT 42", 0, NULL, NULL, NULL, NULL, false, &res), 0, "%s",
                     c->message);
        cr_expect(res && strcmp(PQgetvalue(res, 0, 0), "42") == 0);
        PQclear(res);
    }
    mn__pg_close(c);
}
