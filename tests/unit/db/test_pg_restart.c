/* A database that goes away (issue 5): the PostgreSQL server is stopped in the middle of a
 * query and started again. The query in flight fails cleanly as an operational error,
 * requests while the server is down fail fast with a reason, and once it is back the pool
 * replaces its dead connections and requests succeed. Run through scripts/with-pg, which
 * exports MN_TEST_PG_CTL to control its private server; in a file of its own because it
 * takes down the server every other test of a file would share. */
#include "helper_pg.h"

#include <string.h>

typedef struct restart_case {
    mn_db *db;
    int warm_ok;
    int inflight_rc, inflight_broken;
    double inflight_took;
    char inflight_state[6];
    int down_rc;
    char down_msg[256];
    double down_took;
    int after_ok, after_failed;
    char after_msg[256];
    int stop_status, start_status;
} restart_case;

static void warm(void *arg)
{
    restart_case *t = arg;
    mn_dbconn *conn = NULL;
    if (mn_db_acquire(t->db, -1, &conn) != 0)
        return;
    /* Run the same statement twice so it is prepared: the new sessions must not assume it. */
    mn_dbparam p = mn_dbp_int(1);
    if (mn_dbconn_exec(conn, NULL, "SELECT $1::int", &p, 1, NULL) == 0 &&
        mn_dbconn_exec(conn, NULL, "SELECT $1::int", &p, 1, NULL) == 0)
        t->warm_ok++;
    mn_sleep(50); /* hold it so that three connections are open at once */
    mn_db_release(conn);
}

static void inflight(void *arg)
{
    restart_case *t = arg;
    mn_sleep(100);
    mn_dbconn *conn = NULL;
    if (mn_db_acquire(t->db, -1, &conn) != 0)
        return;
    double t0 = pgt_now_s();
    t->inflight_rc = mn_dbconn_exec(conn, NULL, "SELECT pg_sleep(30)", NULL, 0, NULL);
    t->inflight_took = pgt_now_s() - t0;
    t->inflight_broken = conn->broken;
    snprintf(t->inflight_state, sizeof t->inflight_state, "%s", mn_dbconn_sqlstate(conn));
    mn_db_release(conn);
}

static void after(void *arg)
{
    restart_case *t = arg;
    mn_dbconn *conn = NULL;
    int rc = mn_db_acquire(t->db, -1, &conn);
    if (rc == 0) {
        mn_dbparam p = mn_dbp_int(7);
        mn_arena *a = mn_arena_new(0);
        mn_dbresult r;
        for (int i = 0; i < 3 && rc == 0; i++)
            rc = mn_dbconn_exec(conn, a, "SELECT $1::int", &p, 1, &r);
        if (rc == 0 && mn_dbresult_cell(&r, 0, 0)->v.i != 7)
            rc = MN_EPROTO;
        if (rc != 0)
            snprintf(t->after_msg, sizeof t->after_msg, "%s", mn_dbconn_errmsg(conn));
        mn_arena_free(a);
        mn_db_release(conn);
    } else {
        snprintf(t->after_msg, sizeof t->after_msg, "%s", mn_db_errmsg(t->db));
    }
    if (rc == 0)
        t->after_ok++;
    else
        t->after_failed++;
}

static int pg_ctl(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" %s >/dev/null 2>&1", getenv("MN_TEST_PG_CTL"), verb);
    return system(cmd);
}

static void conductor(void *arg)
{
    restart_case *t = arg;
    mn_sleep(400); /* the warm-up is done and the slow query is running */
    /* A connection used and given back just before the server goes, in the same loop
     * iteration: the acquire below must still find it dead (the pool skips its liveness
     * check only for connections given back within the last few milliseconds of real time). */
    mn_dbconn *fresh = NULL;
    if (mn_db_acquire(t->db, -1, &fresh) == 0) {
        mn_dbconn_exec(fresh, NULL, "SELECT 1", NULL, 0, NULL);
        mn_db_release(fresh);
    }
    /* Blocks the loop while the server shuts down (fast mode ends the sessions). */
    t->stop_status = pg_ctl("stop");

    mn_dbconn *conn = NULL;
    double t0 = pgt_now_s();
    t->down_rc = mn_db_acquire(t->db, -1, &conn);
    t->down_took = pgt_now_s() - t0;
    snprintf(t->down_msg, sizeof t->down_msg, "%s", mn_db_errmsg(t->db));
    if (conn)
        mn_db_release(conn);

    t->start_status = pg_ctl("start");
    for (int i = 0; i < 6; i++)
        mn_coro_spawn(mn_loop_current(), after, t);
}

Test(pg_restart, queries_fail_cleanly_while_the_server_is_down_and_succeed_after, .timeout = 60)
{
    pgt_url();
    if (!getenv("MN_TEST_PG_CTL"))
        cr_skip_test("MN_TEST_PG_CTL is not set: run this test through scripts/with-pg");
    mn_loop *loop = mn_loop_new();
    restart_case t = {.db = pgt_db(3, 5000, 0)};
    for (int i = 0; i < 3; i++)
        mn_coro_spawn(loop, warm, &t);
    mn_coro_spawn(loop, inflight, &t);
    mn_coro_spawn(loop, conductor, &t);
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);

    cr_assert_eq(t.warm_ok, 3);
    cr_assert_eq(t.stop_status, 0, "pg_ctl stop failed");
    cr_assert_eq(t.start_status, 0, "pg_ctl start failed");

    cr_assert_eq(t.inflight_rc, MN_EDB_OPERATIONAL, "the query in flight: %s",
                 mn_db_strerror(t.inflight_rc));
    cr_assert(t.inflight_broken, "its connection is marked broken");
    cr_assert_lt(t.inflight_took, 10.0, "it failed as the server went, not at its end");
    cr_assert(strcmp(t.inflight_state, "57P01") == 0 || strncmp(t.inflight_state, "08", 2) == 0,
              "SQLSTATE %s", t.inflight_state);

    cr_assert_eq(t.down_rc, MN_EDB_OPERATIONAL, "while down: %s", mn_db_strerror(t.down_rc));
    cr_assert_lt(t.down_took, 2.0, "a refused connection fails fast");
    cr_assert(strstr(t.down_msg, "cannot connect"), "says why: %s", t.down_msg);

    cr_assert_eq(t.after_failed, 0, "after the restart: %s", t.after_msg);
    cr_assert_eq(t.after_ok, 6);
    mn_db_free(t.db);
    mn_loop_free(loop);
}
