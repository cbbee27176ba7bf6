/* Tests for the per-worker connection pool (src/db/pool.c) with the PostgreSQL driver, on
 * coroutines in one loop: many requests over a few connections, the wait timeout (the web
 * layer's 503), FIFO fairness, and handing on the slot of a connection that broke. Run
 * through scripts/with-pg. */
#include "helper_pg.h"

#include <string.h>

static mn_loop *loop;

static void setup(void)
{
    loop = mn_loop_new();
    cr_assert_not_null(loop);
}

static void teardown(void)
{
    mn_loop_free(loop);
    loop = NULL;
}

TestSuite(pool, .init = setup, .fini = teardown);

static void run_loop(void)
{
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
}

/* The number of threads of this process, from /proc. */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

/* ---- many coroutines, few connections ---- */

typedef struct sleepers {
    mn_db *db;
    int in_use, max_in_use, ok, failed;
    char first_error[256];
} sleepers;

static void sleeper(void *arg)
{
    sleepers *s = arg;
    mn_dbconn *conn = NULL;
    int rc = mn_db_acquire(s->db, 60000, &conn);
    if (rc == 0) {
        s->in_use++;
        if (s->in_use > s->max_in_use)
            s->max_in_use = s->in_use;
        rc = mn_dbconn_exec(conn, NULL, "SELECT pg_sleep(0.05)", NULL, 0, NULL);
        if (rc != 0 && !s->first_error[0])
            snprintf(s->first_error, sizeof s->first_error, "%s", mn_dbconn_errmsg(conn));
        s->in_use--;
        mn_db_release(conn);
    } else if (!s->first_error[0]) {
        snprintf(s->first_error, sizeof s->first_error, "acquire: %s", mn_db_errmsg(s->db));
    }
    if (rc == 0)
        s->ok++;
    else
        s->failed++;
}

Test(pool, a_thousand_coroutines_share_ten_connections_in_about_five_seconds, .timeout = 60)
{
    char url[512];
    snprintf(url, sizeof url, "%s?application_name=mn_pool_thousand", pgt_url());
    mn_dbconfig cfg = {.url = url, .pool_size = 10};
    char err[256];
    sleepers s = {.db = mn_db_new(&cfg, err, sizeof err)};
    cr_assert_not_null(s.db, "%s", err);
    int threads_before = thread_count();

    for (int i = 0; i < 1000; i++)
        cr_assert_not_null(mn_coro_spawn(loop, sleeper, &s));
    double t0 = pgt_now_s();
    run_loop();
    double took = pgt_now_s() - t0;

    cr_assert_eq(s.failed, 0, "%d failed, first: %s", s.failed, s.first_error);
    cr_assert_eq(s.ok, 1000);
    cr_assert_eq(s.max_in_use, 10, "the pool never lends more than its size");
    /* 1000 x 50 ms over 10 connections cannot take less than 5 s; the pool adds little. */
    cr_assert_geq(took, 4.9, "took %.2f s", took);
    /* One at a time it would take 50 s; anything near 5 s proves ten in flight at once. */
    cr_assert_lt(took, 10.0, "took %.2f s: waiting is not overlapping", took);
    cr_assert_eq(thread_count(), threads_before, "no thread per request");

    /* The server saw exactly ten sessions from this pool. */
    mn_dbconn *conn = pgt_acquire(s.db);
    mn_arena *a = mn_arena_new(0);
    mn_dbresult r;
    cr_assert_eq(mn_dbconn_exec(conn, a,
                                "SELECT count(*) FROM pg_stat_activity "
                                "WHERE application_name = 'mn_pool_thousand'",
                                NULL, 0, &r),
                 0);
    cr_assert_eq(mn_dbresult_cell(&r, 0, 0)->v.i, 10);
    mn_db_release(conn);
    mn_arena_free(a);
    mn_db_free(s.db);
    cr_log_info("1000 x pg_sleep(0.05) over 10 connections: %.2f s", took);
}

/* ---- the wait timeout ---- */

typedef struct timeout_case {
    mn_db *db;
    int holder_rc, waiter_rc, late_rc;
    double waited;
    char waiter_msg[256];
} timeout_case;

static void holder(void *arg)
{
    timeout_case *t = arg;
    mn_dbconn *conn = NULL;
    t->holder_rc = mn_db_acquire(t->db, -1, &conn);
    if (t->holder_rc == 0) {
        mn_sleep(400);
        mn_db_release(conn);
    }
}

static void impatient(void *arg)
{
    timeout_case *t = arg;
    mn_sleep(20); /* let the holder take the only connection */
    mn_dbconn *conn = NULL;
    double t0 = pgt_now_s();
    t->waiter_rc = mn_db_acquire(t->db, -1, &conn); /* the configured 100 ms */
    t->waited = pgt_now_s() - t0;
    snprintf(t->waiter_msg, sizeof t->waiter_msg, "%s", mn_db_errmsg(t->db));
    if (conn)
        mn_db_release(conn);
}

static void latecomer(void *arg)
{
    timeout_case *t = arg;
    mn_sleep(300); /* arrives while the holder still holds; it frees the connection at 400 */
    mn_dbconn *conn = NULL;
    t->late_rc = mn_db_acquire(t->db, 1000, &conn);
    if (conn) {
        t->late_rc = mn_dbconn_exec(conn, NULL, "SELECT 1", NULL, 0, NULL);
        mn_db_release(conn);
    }
}

Test(pool, a_waiter_that_waits_too_long_gets_etimedout)
{
    timeout_case t = {.db = pgt_db(1, 100, 0)};
    mn_coro_spawn(loop, holder, &t);
    mn_coro_spawn(loop, impatient, &t);
    mn_coro_spawn(loop, latecomer, &t);
    run_loop();
    cr_assert_eq(t.holder_rc, 0);
    cr_assert_eq(t.waiter_rc, MN_ETIMEDOUT, "got %s", mn_db_strerror(t.waiter_rc));
    cr_assert_geq(t.waited, 0.09, "waited %.3f s", t.waited);
    cr_assert_lt(t.waited, 0.35, "waited %.3f s: the timeout was not honoured", t.waited);
    cr_assert(strstr(t.waiter_msg, "100 ms"), "the message says how long: %s", t.waiter_msg);
    cr_assert_eq(t.late_rc, 0, "a waiter within its timeout gets the released connection");
    mn_db_free(t.db);
}

Test(pool, off_a_coroutine_a_full_pool_fails_at_once)
{
    mn_db *db = pgt_db(1, 5000, 0);
    mn_dbconn *a = pgt_acquire(db), *b = NULL;
    double t0 = pgt_now_s();
    int rc = mn_db_acquire(db, -1, &b);
    cr_assert_eq(rc, MN_ETIMEDOUT);
    cr_assert_lt(pgt_now_s() - t0, 0.5, "nothing could release it: do not wait");
    cr_assert(strstr(mn_db_errmsg(db), "in use"), "%s", mn_db_errmsg(db));
    mn_db_release(a);
    b = pgt_acquire(db);
    mn_db_release(b);
    mn_db_free(db);
}

/* ---- fairness ---- */

typedef struct fifo_case {
    mn_db *db;
    int order[8];
    int n;
} fifo_case;

typedef struct fifo_arg {
    fifo_case *fc;
    int id;
} fifo_arg;

static void fifo_waiter(void *arg)
{
    fifo_arg *fa = arg;
    mn_dbconn *conn = NULL;
    mn_sleep(fa->id == 0 ? 0 : 10 + fa->id); /* queue up in id order behind the first */
    if (mn_db_acquire(fa->fc->db, 5000, &conn) != 0)
        return;
    fa->fc->order[fa->fc->n++] = fa->id;
    mn_sleep(fa->id == 0 ? 100 : 5);
    mn_db_release(conn);
}

Test(pool, waiters_are_served_first_come_first_served)
{
    fifo_case fc = {.db = pgt_db(1, 5000, 0)};
    fifo_arg args[6];
    /* Spawned in reverse so that spawn order is not what decides. */
    for (int i = 5; i >= 0; i--) {
        args[i] = (fifo_arg){&fc, i};
        mn_coro_spawn(loop, fifo_waiter, &args[i]);
    }
    run_loop();
    cr_assert_eq(fc.n, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(fc.order[i], i, "position %d served %d", i, fc.order[i]);
    mn_db_free(fc.db);
}

/* ---- a broken connection's slot goes to the next waiter ---- */

typedef struct broken_case {
    mn_db *db;
    mn_db *admin;
    int victim_rc, victim_broken, next_rc;
} broken_case;

static void victim(void *arg)
{
    broken_case *b = arg;
    mn_dbconn *conn = NULL;
    if (mn_db_acquire(b->db, -1, &conn) != 0)
        return;
    /* Another session kills this one, as a server restart or an admin would. */
    mn_dbconn *admin = NULL;
    if (mn_db_acquire(b->admin, -1, &admin) == 0) {
        mn_dbparam app = mn_dbp_text("mn_pool_victim");
        mn_dbconn_exec(admin, NULL,
                       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = $1",
                       &app, 1, NULL);
        mn_db_release(admin);
    }
    mn_sleep(50);
    b->victim_rc = mn_dbconn_exec(conn, NULL, "SELECT 1", NULL, 0, NULL);
    b->victim_broken = conn->broken;
    mn_db_release(conn);
}

static void successor(void *arg)
{
    broken_case *b = arg;
    mn_sleep(10);
    mn_dbconn *conn = NULL;
    b->next_rc = mn_db_acquire(b->db, 5000, &conn);
    if (conn) {
        b->next_rc = mn_dbconn_exec(conn, NULL, "SELECT 1", NULL, 0, NULL);
        mn_db_release(conn);
    }
}

Test(pool, a_broken_connection_is_replaced_for_the_next_waiter)
{
    char url[512];
    snprintf(url, sizeof url, "%s?application_name=mn_pool_victim", pgt_url());
    mn_dbconfig cfg = {.url = url, .pool_size = 1};
    char err[256];
    broken_case b = {.db = mn_db_new(&cfg, err, sizeof err), .admin = pgt_db(1, 0, 0)};
    cr_assert_not_null(b.db, "%s", err);
    mn_coro_spawn(loop, victim, &b);
    mn_coro_spawn(loop, successor, &b);
    run_loop();
    cr_assert_eq(b.victim_rc, MN_EDB_OPERATIONAL, "got %s", mn_db_strerror(b.victim_rc));
    cr_assert(b.victim_broken);
    cr_assert_eq(b.next_rc, 0, "the waiter got a fresh connection: %s", mn_db_strerror(b.next_rc));
    mn_db_free(b.db);
    mn_db_free(b.admin);
}
