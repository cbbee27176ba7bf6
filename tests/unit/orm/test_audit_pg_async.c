/* test_audit_pg_async.c — the ORM on PostgreSQL under concurrency: many request sessions on
 * coroutines of one loop, each with its own connection. Two atomic blocks at once never share
 * a connection or see each other's uncommitted rows, on_commit callbacks run in the
 * committing coroutine, select_for_update makes a second coroutine wait (and NOWAIT fails at
 * once), a template iterating a lazy queryset parks while a timer coroutine ticks, a full pool
 * times out promptly, a statement timeout and a failed batch leave the connection usable, and
 * a large result does not stall the loop for long. PostgreSQL only (on SQLite they skip: one
 * connection, no row locks, queries that never park), except the count of the queries of
 * prefetch_related paths that share a first level. */
#include "helper_db.h"
#include "helper_models.h"

#include <manouche/rt.h>
#include <manouche/template.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

DB_SUITE(orm_audit_pg_async);

static mn_loop *loop;

/* The longest stretch of CPU the loop may be kept from running by decoding 100,000 rows (a
 * few milliseconds between two yields; tens without them). Sanitizers make it slower. */
#if defined(__SANITIZE_ADDRESS__)
#define STALL_CPU_S 0.1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STALL_CPU_S 0.1
#endif
#endif
#ifndef STALL_CPU_S
#define STALL_CPU_S 0.018
#endif

static void need_pg(void)
{
    if (!tdb_is_pg(&t))
        cr_skip_test("PostgreSQL only: SQLite queries never park");
    loop = mn_loop_new();
    cr_assert_not_null(loop);
}

static void run_loop(void)
{
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    mn_loop_free(loop);
    loop = NULL;
}

/* before, the author table's quoted name, after (in a). */
static const char *author_sql(mn_arena *a, const char *before, const char *after)
{
    return mn_arena_printf(a, "%s\"%s\"%s", before, mn_model_table(&Author_model), after);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A coroutine that ticks every 10 ms until *stop, recording the longest gap between ticks. */
typedef struct ticker {
    volatile bool stop;
    int ticks;
    double max_gap;
    double max_cpu_gap; /* the same in this thread's CPU time: what others ran, not how long the
                           machine kept us waiting (the bound that does not flake under load) */
} ticker;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tick(void *arg)
{
    ticker *tk = arg;
    double last = now_s(), last_cpu = cpu_s();
    while (!tk->stop) {
        mn_sleep(10);
        double n = now_s(), c = cpu_s();
        if (n - last > tk->max_gap)
            tk->max_gap = n - last;
        if (c - last_cpu > tk->max_cpu_gap)
            tk->max_cpu_gap = c - last_cpu;
        last = n;
        last_cpu = c;
        tk->ticks++;
    }
}

/* Parks until *flag is set (other coroutines set it), or about 5 s: the order of the steps
 * of a test is made by these, not by sleeps that a loaded machine would stretch. */
static bool wait_for(volatile bool *flag)
{
    for (int i = 0; i < 1000 && !*flag; i++)
        mn_sleep(5);
    return *flag;
}

/* ---- two atomic blocks at once ---- */

typedef struct blockcase {
    const char *name, *other;
    volatile bool *before_counting; /* set when this block may count (NULL: at once) */
    volatile bool *after_counting;  /* ...and a second flag, for x: both others wrote */
    volatile bool created, done;
    bool commit;
    mn_dbconn *conn;
    int64_t own_seen, other_seen;
    int begin_rc, end_rc;
    mn_coro *coro;
    mn_coro *callback_coro;
    int callbacks;
    int64_t other_seen_in_callback; /* the other block's row, seen from the callback */
    mn_orm *o;
} blockcase;

static void on_commit_cb(void *arg)
{
    blockcase *b = arg;
    b->callbacks++;
    b->callback_coro = mn_coro_current();
    b->other_seen_in_callback = mn_qs_count(mn_filter(mn_all(b->o, Author), "name", b->other));
}

static void block_body(void *arg)
{
    blockcase *b = arg;
    mn_arena *a = mn_arena_new(0);
    b->o = tdb_session(&t, a);
    b->coro = mn_coro_current();
    b->begin_rc = mn_atomic_begin(b->o);
    b->conn = mn_orm_conn(b->o, NULL);
    mn_create(b->o, Author, "name", b->name);
    mn_on_commit(b->o, on_commit_cb, b);
    b->created = true;
    if (b->before_counting)
        wait_for(b->before_counting);
    if (b->after_counting)
        wait_for(b->after_counting);
    b->own_seen = mn_qs_count(mn_filter(mn_all(b->o, Author), "name", b->name));
    b->other_seen = mn_qs_count(mn_filter(mn_all(b->o, Author), "name", b->other));
    b->end_rc = mn_atomic_end(b->o, b->commit);
    b->done = true;
    mn_arena_free(a);
}

Test(orm_audit_pg_async, two_atomic_blocks_at_once_have_their_own_connections_and_rows)
{
    need_pg();
    /* x counts once y and z wrote their rows (not committed yet) and commits; y and z count
     * after that; y commits, z rolls back */
    blockcase x = {.name = "x", .other = "y", .commit = true};
    blockcase y = {.name = "y", .other = "x", .before_counting = &x.done, .commit = true};
    blockcase z = {.name = "z", .other = "x", .before_counting = &x.done, .commit = false};
    x.before_counting = &y.created;
    x.after_counting = &z.created;
    mn_coro_spawn(loop, block_body, &x);
    mn_coro_spawn(loop, block_body, &y);
    mn_coro_spawn(loop, block_body, &z);
    run_loop();
    blockcase *all[] = {&x, &y, &z};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(all[i]->begin_rc, 0, "%s", all[i]->name);
        cr_expect_eq(all[i]->end_rc, 0, "%s", all[i]->name);
        cr_expect_eq(all[i]->own_seen, 1, "%s sees its own row", all[i]->name);
    }
    cr_expect(x.conn && y.conn && z.conn && x.conn != y.conn && x.conn != z.conn &&
                  y.conn != z.conn,
              "each block has a connection of its own");
    /* x committed before y counted: y sees it (read committed); x counted before y committed */
    cr_expect_eq(x.other_seen, 0, "x never sees y's uncommitted row");
    cr_expect_eq(y.other_seen, 1, "y sees x's committed row");
    cr_expect_eq(z.other_seen, 1, "z sees x's committed row");
    /* callbacks: once, in the coroutine that committed, after its commit */
    cr_expect_eq(x.callbacks, 1);
    cr_expect_eq(x.callback_coro, x.coro);
    cr_expect_eq(x.other_seen_in_callback, 0, "x's callback ran before y committed");
    cr_expect_eq(y.callbacks, 1);
    cr_expect_eq(y.callback_coro, y.coro);
    cr_expect_eq(y.other_seen_in_callback, 1);
    cr_expect_eq(z.callbacks, 0, "a rolled back block runs no callback");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Author)), 2, "x and y, not z");
}

/* ---- a session whose query is in flight keeps its connection ---- */

typedef struct stealcase {
    volatile bool slow_in_flight, fast_done;
    bool late_while_slow; /* the late session ran while the slow query was in flight */
    mn_dbconn *slow_conn, *fast_conn, *late_conn;
    int slow_rows, late_rows;
    int64_t slow_value, late_value;
} stealcase;

static void slow_session(void *arg)
{
    stealcase *s = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    s->slow_conn = mn_orm_conn(o, NULL);
    mn_dbresult res;
    s->slow_in_flight = true;
    int rc = mn_dbconn_exec(s->slow_conn, a, "SELECT 41 + 1 FROM pg_sleep(0.5)", NULL, 0, &res);
    s->slow_in_flight = false;
    if (rc == 0) {
        s->slow_rows = (int)res.nrows;
        s->slow_value = res.nrows ? res.cells[0].v.i : 0;
    }
    mn_arena_free(a);
}

static void fast_session(void *arg)
{
    stealcase *s = arg;
    wait_for(&s->slow_in_flight);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    s->fast_conn = mn_orm_conn(o, NULL);
    mn_qs_count(mn_all(o, Author));
    mn_arena_free(a); /* the request ends: its connection goes back */
    s->fast_done = true;
}

static void late_session(void *arg)
{
    stealcase *s = arg;
    wait_for(&s->fast_done);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    s->late_conn = mn_orm_conn(o, NULL);
    s->late_while_slow = s->slow_in_flight;
    mn_dbresult res;
    if (mn_dbconn_exec(s->late_conn, a, "SELECT 7", NULL, 0, &res) == 0) {
        s->late_rows = (int)res.nrows;
        s->late_value = res.nrows ? res.cells[0].v.i : 0;
    }
    mn_arena_free(a);
}

Test(orm_audit_pg_async, a_parked_query_keeps_its_connection_when_another_request_ends)
{
    need_pg();
    stealcase s = {0};
    mn_coro_spawn(loop, slow_session, &s);
    mn_coro_spawn(loop, fast_session, &s);
    mn_coro_spawn(loop, late_session, &s);
    run_loop();
    cr_expect(s.late_while_slow, "the slow query was still in flight");
    cr_expect_neq(s.late_conn, s.slow_conn, "a connection in use is never handed out");
    cr_expect_eq(s.late_conn, s.fast_conn, "the released one is");
    cr_expect_eq(s.slow_rows, 1);
    cr_expect_eq(s.slow_value, 42);
    cr_expect_eq(s.late_rows, 1);
    cr_expect_eq(s.late_value, 7);
}

/* ---- select_for_update across coroutines ---- */

typedef struct lockcase {
    int64_t pk;
    volatile bool locked;
    double commit_sent_at, waiter_got_at, nowait_took;
    int holder_rc, waiter_rc, nowait_code, nowait_end_rc, after_nowait_rc;
    char waiter_saw[32];
    char nowait_msg[256];
    ticker *tk;
} lockcase;

static void lock_holder(void *arg)
{
    lockcase *l = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_atomic_begin(o);
    Author *row = mn_qs_get(mn_qs_select_for_update(mn_filter(mn_all(o, Author), "pk", l->pk)));
    l->locked = row != NULL;
    if (row) {
        mn_sleep(500);
        row->name = "changed";
        mn_save(o, row);
    }
    l->commit_sent_at = now_s();
    l->holder_rc = mn_atomic_end(o, row != NULL);
    mn_arena_free(a);
}

static void lock_waiter(void *arg)
{
    lockcase *l = arg;
    wait_for(&l->locked);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_atomic_begin(o);
    Author *row = mn_qs_get(mn_qs_select_for_update(mn_filter(mn_all(o, Author), "pk", l->pk)));
    l->waiter_got_at = now_s();
    snprintf(l->waiter_saw, sizeof l->waiter_saw, "%s", row ? row->name : "?");
    l->waiter_rc = mn_atomic_end(o, row != NULL);
    mn_arena_free(a);
    l->tk->stop = true;
}

static void lock_nowait(void *arg)
{
    lockcase *l = arg;
    wait_for(&l->locked);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_atomic_begin(o);
    double t0 = now_s();
    Author *row = mn_qs_get(mn_qs_select_for_update_opts(mn_filter(mn_all(o, Author), "pk", l->pk),
                                                         &(mn_sfu_opts){.nowait = true}));
    l->nowait_took = now_s() - t0;
    l->nowait_code = row ? 0 : mn_orm_errcode(o);
    snprintf(l->nowait_msg, sizeof l->nowait_msg, "%s", mn_orm_error(o));
    l->nowait_end_rc = mn_atomic_end(o, false);
    /* the same session (and connection) goes on */
    l->after_nowait_rc = mn_qs_count(mn_all(o, Author)) == 1 ? 0 : mn_orm_errcode(o);
    mn_arena_free(a);
}

Test(orm_audit_pg_async, select_for_update_makes_another_coroutine_wait_and_nowait_fail)
{
    need_pg();
    Author *a = mn_create(t.o, Author, "name", "locked");
    cr_assert_not_null(a, "%s", mn_orm_error(t.o));
    ticker tk = {0};
    lockcase l = {.pk = a->id, .tk = &tk};
    mn_coro_spawn(loop, lock_holder, &l);
    mn_coro_spawn(loop, lock_waiter, &l);
    mn_coro_spawn(loop, lock_nowait, &l);
    mn_coro_spawn(loop, tick, &tk);
    run_loop();
    cr_expect_eq(l.holder_rc, 0);
    cr_expect_eq(l.waiter_rc, 0);
    cr_expect_geq(l.waiter_got_at, l.commit_sent_at, "the waiter got the row once A committed");
    cr_expect_str_eq(l.waiter_saw, "changed", "and it reads the committed change");
    cr_expect_eq(l.nowait_code, MN_EDB_OPERATIONAL, "%s", l.nowait_msg);
    cr_expect(strstr(l.nowait_msg, "could not obtain lock"), "%s", l.nowait_msg);
    cr_expect_lt(l.nowait_took, 0.2, "NOWAIT does not wait (%.3f s)", l.nowait_took);
    cr_expect_eq(l.nowait_end_rc, 0);
    cr_expect_eq(l.after_nowait_rc, 0, "the session is usable after NOWAIT failed");
    /* the waiter waited about 0.5 s: the loop ran meanwhile */
    cr_expect(tk.ticks >= 5 && tk.max_gap < 0.3, "%d ticks, longest gap %.3f s", tk.ticks,
              tk.max_gap);
}

/* ---- lazy querysets in a template park the coroutine ---- */

typedef struct rendercase {
    mn_template *tpl;
    const char *out;
    int rc;
    volatile bool locked;
    double started, done, unlocked;
    char err[256];
    ticker *tk;
} rendercase;

static void table_locker(void *arg)
{
    rendercase *r = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_atomic_begin(o);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    r->locked = mn_dbconn_exec(c, NULL, author_sql(a, "LOCK TABLE ", " IN ACCESS EXCLUSIVE MODE"),
                               NULL, 0, NULL) == 0;
    mn_sleep(500);
    r->unlocked = now_s();
    mn_atomic_end(o, true);
    mn_arena_free(a);
}

static void renderer(void *arg)
{
    rendercase *r = arg;
    wait_for(&r->locked);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_context *ctx = mn_context_new(a);
    mn_context_set(ctx, "authors", mn_qs_value(mn_qs_order_by(mn_all(o, Author), "name")));
    mn_buf out;
    mn_buf_init(&out, NULL);
    mn_template_error err;
    memset(&err, 0, sizeof err);
    r->started = now_s();
    r->rc = mn_template_render(r->tpl, ctx, &out, &err);
    r->done = now_s();
    snprintf(r->err, sizeof r->err, "%s", mn_orm_error(o));
    r->out = strdup(mn_buf_cstr(&out));
    mn_buf_free(&out);
    mn_arena_free(a);
    r->tk->stop = true;
}

Test(orm_audit_pg_async, a_template_iterating_a_lazy_queryset_parks)
{
    need_pg();
    mn_create(t.o, Author, "name", "b");
    mn_create(t.o, Author, "name", "a");
    mn_template_engine *engine = mn_template_engine_new();
    static const char src[] = "{% for x in authors %}{{ x.name }};{% endfor %}";
    mn_template_error err;
    memset(&err, 0, sizeof err);
    ticker tk = {0};
    rendercase r = {.tpl = mn_template_compile(engine, "t", src, strlen(src), &err), .tk = &tk};
    cr_assert_not_null(r.tpl);
    mn_coro_spawn(loop, table_locker, &r);
    mn_coro_spawn(loop, renderer, &r);
    mn_coro_spawn(loop, tick, &tk);
    run_loop();
    cr_expect_eq(r.rc, 0, "%s", r.err);
    cr_expect_str_eq(r.out ? r.out : "", "a;b;");
    cr_expect_geq(r.done, r.unlocked, "the render waited for the lock");
    cr_expect_geq(r.done - r.started, 0.3, "took %.3f s", r.done - r.started);
    /* the render waited about 0.5 s: the loop ran meanwhile */
    cr_expect(tk.ticks >= 5 && tk.max_gap < 0.3, "%d ticks, longest gap %.3f s", tk.ticks,
              tk.max_gap);
    free((void *)r.out);
    mn_template_engine_free(engine);
}

/* ---- raw() with a slow query parks too ---- */

typedef struct rawcase {
    int n;
    char err[256];
    ticker *tk;
} rawcase;

static void raw_sleeper(void *arg)
{
    rawcase *r = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_rows *rows =
        mn_raw(o, &Author_model, author_sql(a, "SELECT a.* FROM ", " a, (SELECT pg_sleep(0.5)) s"),
               NULL, 0);
    r->n = rows ? (int)rows->len : -1;
    snprintf(r->err, sizeof r->err, "%s", mn_orm_error(o));
    mn_arena_free(a);
    r->tk->stop = true;
}

Test(orm_audit_pg_async, raw_with_a_slow_query_parks)
{
    need_pg();
    mn_create(t.o, Author, "name", "a");
    ticker tk = {0};
    rawcase r = {.tk = &tk};
    mn_coro_spawn(loop, raw_sleeper, &r);
    mn_coro_spawn(loop, tick, &tk);
    run_loop();
    cr_expect_eq(r.n, 1, "%s", r.err);
    cr_expect(tk.ticks >= 5 && tk.max_gap < 0.3, "%d ticks, longest gap %.3f s", tk.ticks,
              tk.max_gap);
}

/* ---- a full pool times out promptly ---- */

typedef struct poolcase {
    mn_db *db;
    volatile bool holding[2], held[2];
    int hold_rc[2], wait_rc, after_rc;
    double waited;
    char msg[256];
} poolcase;

static mn_orm *own_session(mn_db *db, mn_arena *a)
{
    mn_orm *o = mn_orm_new(a, db);
    mn_dbconn *c = o ? mn_orm_conn(o, NULL) : NULL;
    if (c) {
        char sql[160];
        snprintf(sql, sizeof sql, "SET search_path TO \"%s\"", t.schema);
        mn_dbconn_exec_script(c, sql);
    }
    return o;
}

typedef struct holdarg {
    poolcase *p;
    int i;
} holdarg;

static void pool_holder(void *arg)
{
    holdarg *h = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = own_session(h->p->db, a);
    h->p->holding[h->i] = true;
    mn_rows *rows =
        mn_raw(o, &Author_model, author_sql(a, "SELECT a.* FROM ", " a, (SELECT pg_sleep(0.8)) s"),
               NULL, 0);
    h->p->hold_rc[h->i] = rows ? 0 : mn_orm_errcode(o);
    mn_arena_free(a);
    h->p->held[h->i] = true;
}

static void pool_waiter(void *arg)
{
    poolcase *p = arg;
    wait_for(&p->holding[0]);
    wait_for(&p->holding[1]);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = mn_orm_new(a, p->db);
    double t0 = now_s();
    int64_t n = mn_qs_count(mn_all(o, Author));
    p->waited = now_s() - t0;
    p->wait_rc = n < 0 ? (int)n : 0;
    snprintf(p->msg, sizeof p->msg, "%s", mn_orm_error(o));
    wait_for(&p->held[0]); /* the holders are done: the same session gets a connection now */
    wait_for(&p->held[1]);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    p->after_rc = c ? mn_dbconn_exec(c, NULL, "SELECT 1", NULL, 0, NULL) : mn_orm_errcode(o);
    mn_arena_free(a);
}

Test(orm_audit_pg_async, a_full_pool_times_out_promptly_while_others_run_queries)
{
    need_pg();
    char err[256];
    poolcase p = {.db = mn_db_new(&(mn_dbconfig){.url = getenv("MN_TEST_DATABASE_URL"),
                                                 .pool_size = 2,
                                                 .pool_timeout_ms = 100},
                                  err, sizeof err)};
    cr_assert_not_null(p.db, "%s", err);
    holdarg h[2] = {{&p, 0}, {&p, 1}};
    mn_coro_spawn(loop, pool_holder, &h[0]);
    mn_coro_spawn(loop, pool_holder, &h[1]);
    mn_coro_spawn(loop, pool_waiter, &p);
    run_loop();
    cr_expect_eq(p.hold_rc[0], 0);
    cr_expect_eq(p.hold_rc[1], 0);
    cr_expect_eq(p.wait_rc, MN_ETIMEDOUT, "%s", p.msg);
    cr_expect(p.waited >= 0.09 && p.waited < 0.6, "waited %.3f s", p.waited);
    cr_expect(strstr(p.msg, "100 ms"), "%s", p.msg);
    cr_expect_eq(p.after_rc, 0, "a session that timed out gets a connection later");
    mn_db_free(p.db);
}

/* ---- statement timeout: the connection stays usable ---- */

typedef struct timeoutcase {
    mn_db *db;
    int plain_rc, plain_after_rc, block_rc, block_end_rc, block_after_rc;
    char sqlstate[6], msg[256];
    mn_dbconn *conns[3];
} timeoutcase;

static void timeout_body(void *arg)
{
    timeoutcase *tc = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = own_session(tc->db, a);
    const char *slow = author_sql(a, "SELECT a.* FROM ", " a, (SELECT pg_sleep(2)) s");
    tc->conns[0] = mn_orm_conn(o, NULL);
    tc->plain_rc = mn_raw(o, &Author_model, slow, NULL, 0) ? 0 : mn_orm_errcode(o);
    snprintf(tc->sqlstate, sizeof tc->sqlstate, "%s", mn_dbconn_sqlstate(tc->conns[0]));
    snprintf(tc->msg, sizeof tc->msg, "%s", mn_orm_error(o));
    tc->plain_after_rc = mn_qs_count(mn_all(o, Author)) == 1 ? 0 : mn_orm_errcode(o);
    tc->conns[1] = mn_orm_conn(o, NULL);
    mn_atomic_begin(o);
    tc->block_rc = mn_raw(o, &Author_model, slow, NULL, 0) ? 0 : mn_orm_errcode(o);
    tc->block_end_rc = mn_atomic_end(o, false);
    tc->block_after_rc = mn_qs_count(mn_all(o, Author)) == 1 ? 0 : mn_orm_errcode(o);
    tc->conns[2] = mn_orm_conn(o, NULL);
    mn_arena_free(a);
}

Test(orm_audit_pg_async, a_statement_timeout_leaves_the_connection_usable)
{
    need_pg();
    mn_create(t.o, Author, "name", "a");
    char err[256];
    timeoutcase tc = {.db = mn_db_new(&(mn_dbconfig){.url = getenv("MN_TEST_DATABASE_URL"),
                                                     .pool_size = 1,
                                                     .statement_timeout_ms = 100},
                                      err, sizeof err)};
    cr_assert_not_null(tc.db, "%s", err);
    mn_coro_spawn(loop, timeout_body, &tc);
    run_loop();
    cr_expect_eq(tc.plain_rc, MN_EDB_OPERATIONAL, "%s", tc.msg);
    cr_expect_str_eq(tc.sqlstate, "57014", "%s", tc.msg);
    cr_expect_eq(tc.plain_after_rc, 0);
    cr_expect_eq(tc.block_rc, MN_EDB_OPERATIONAL);
    cr_expect_eq(tc.block_end_rc, 0);
    cr_expect_eq(tc.block_after_rc, 0);
    cr_expect(tc.conns[0] == tc.conns[1] && tc.conns[1] == tc.conns[2],
              "the same connection throughout: it was not dropped");
    mn_db_free(tc.db);
}

/* ---- a large result and the loop ---- */

typedef struct bigcase {
    int rc;
    size_t rows;
    double took;
    ticker *tk;
} bigcase;

static void big_reader(void *arg)
{
    bigcase *b = arg;
    mn_sleep(20);
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    mn_dbresult res;
    double t0 = now_s();
    b->rc = mn_dbconn_exec(
        c, a, "SELECT g, 'row number ' || g, g * 1.5 FROM generate_series(1, 100000) g", NULL, 0,
        &res);
    b->took = now_s() - t0;
    b->rows = b->rc == 0 ? res.nrows : 0;
    mn_arena_free(a);
    b->tk->stop = true;
}

Test(orm_audit_pg_async, a_large_result_does_not_stall_the_loop_for_long)
{
    need_pg();
    ticker tk = {0};
    bigcase b = {.tk = &tk};
    mn_coro_spawn(loop, big_reader, &b);
    mn_coro_spawn(loop, tick, &tk);
    run_loop();
    cr_expect_eq(b.rc, 0);
    cr_expect_eq(b.rows, 100000);
    /* The transfer parks between socket reads (libpq parses the rows as they come); decoding
     * them into cells at the end yields to the loop every few thousand rows. */
    cr_log_info("100k rows in %.3f s; longest loop stall %.3f s (%.3f s of CPU), %d ticks", b.took,
                tk.max_gap, tk.max_cpu_gap, tk.ticks);
    cr_expect_lt(tk.max_cpu_gap, 0.1, "the loop stalled for %.3f s of CPU", tk.max_cpu_gap);
}

/* ---- a failure in the middle of a pipelined batch ---- */

typedef struct batchcase {
    int rc_outside, rc_inside, end_rc, after_rc;
    int64_t count_after;
    mn_dbconn *conns[2];
    char msg[256];
} batchcase;

static void batch_body(void *arg)
{
    batchcase *bc = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    bc->conns[0] = mn_orm_conn(o, NULL);
    const char *names[4] = {"p", "dup", "dup", "q"}; /* the third insert fails */
    void *list[4];
    for (int i = 0; i < 4; i++) {
        Author *x = mn_new(o, Author);
        x->name = (char *)names[i];
        list[i] = x;
    }
    bc->rc_outside = mn_bulk_create(o, &Author_model, list, 4, &(mn_bulk_opts){.batch_size = 1});
    snprintf(bc->msg, sizeof bc->msg, "%s", mn_orm_error(o));
    mn_atomic_begin(o);
    bc->rc_inside = mn_bulk_create(o, &Author_model, list, 4, &(mn_bulk_opts){.batch_size = 1});
    bc->end_rc = mn_atomic_end(o, false);
    bc->count_after = mn_qs_count(mn_all(o, Author));
    bc->after_rc = mn_orm_errcode(o);
    bc->conns[1] = mn_orm_conn(o, NULL);
    mn_arena_free(a);
}

Test(orm_audit_pg_async, a_failure_in_the_middle_of_a_batch_leaves_the_connection_usable)
{
    need_pg();
    batchcase bc = {0};
    mn_coro_spawn(loop, batch_body, &bc);
    run_loop();
    cr_expect_eq(bc.rc_outside, MN_EDB_INTEGRITY, "%s", bc.msg);
    cr_expect_eq(bc.rc_inside, MN_EDB_INTEGRITY);
    cr_expect_eq(bc.end_rc, 0);
    cr_expect_eq(bc.count_after, 0, "all or nothing, both times");
    cr_expect_eq(bc.conns[0], bc.conns[1], "the connection was kept");
}

typedef struct bigorm {
    ticker *tk;
    double took;
    int n;
    char err[256];
} bigorm;

static void big_orm_reader(void *arg)
{
    bigorm *b = arg;
    mn_arena *a = mn_arena_new(0);
    mn_orm *o = tdb_session(&t, a);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    mn_dbconn_exec(c, NULL,
                   author_sql(a, "INSERT INTO ",
                              " (name) SELECT 'author ' || g FROM generate_series(1, 100000) g"),
                   NULL, 0, NULL);
    mn_sleep(30);
    b->tk->max_gap = b->tk->max_cpu_gap = 0;
    double t0 = now_s();
    mn_rows *rows = mn_qs_fetch(mn_all(o, Author));
    b->took = now_s() - t0;
    b->n = rows ? (int)rows->len : -1;
    snprintf(b->err, sizeof b->err, "%s", mn_orm_error(o));
    mn_arena_free(a);
    b->tk->stop = true;
}

Test(orm_audit_pg_async, an_orm_fetch_of_100k_rows_lets_the_loop_run)
{
    need_pg();
    ticker tk = {0};
    bigorm b = {.tk = &tk};
    mn_coro_spawn(loop, big_orm_reader, &b);
    mn_coro_spawn(loop, tick, &tk);
    run_loop();
    cr_expect_eq(b.n, 100000, "%s", b.err);
    cr_log_info("ORM fetch of 100k rows in %.3f s; longest loop stall %.3f s (%.3f s of CPU)",
                b.took, tk.max_gap, tk.max_cpu_gap);
    cr_expect_lt(tk.max_cpu_gap, STALL_CPU_S, "the loop stalled for %.3f s of CPU", tk.max_cpu_gap);
}

/* ---- prefetch: a first level shared by several paths is fetched once ---- */

Test(orm_audit_pg_async, prefetch_paths_sharing_a_first_level_fetch_it_once)
{
    /* on both databases: the number of queries, as Django's done_queries */
    Author *a = mn_create(t.o, Author, "name", "a");
    Book *b1 = mn_create(t.o, Book, "title", "b1", "author", mn_arg_obj(a));
    Book *b2 = mn_create(t.o, Book, "title", "b2", "author", mn_arg_obj(a));
    Tag *tg = mn_create(t.o, Tag, "name", "t");
    cr_assert(b1 && b2 && tg, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_m2m_add(t.o, b2, "tags", (const void *const[]){tg}, 1), 0);
    cr_assert_not_null(mn_create(t.o, Review, "book", mn_arg_obj(b1), "stars", 5));
    static const char *const cases[][2] = {
        {"books, books__tags", "3"},          /* authors, books, tags */
        {"books__tags, books", "3"},          /* the same in the other order */
        {"books__tags, books__reviews", "4"}, /* authors, books, tags, reviews */
    };
    int wrong = 0;
    char first_wrong[300] = "";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mn_dblog log;
        mn_dblog_init(&log, t.arena);
        mn_orm_set_log(t.o, &log);
        mn_rows *rows = mn_qs_fetch(mn_qs_prefetch_related(mn_all(t.o, Author), cases[i][0]));
        cr_assert_not_null(rows, "%s", mn_orm_error(t.o));
        size_t queries = log.count;
        /* the cached objects are complete: no query below */
        mn_rows *books = mn_qs_fetch(mn_related(t.o, rows->items[0], "books"));
        size_t ntags = 0, nreviews = 0;
        for (size_t k = 0; books && k < books->len; k++) {
            if (strstr(cases[i][0], "tags"))
                ntags += mn_qs_fetch(mn_related(t.o, books->items[k], "tags"))->len;
            if (strstr(cases[i][0], "reviews"))
                nreviews += mn_qs_fetch(mn_related(t.o, books->items[k], "reviews"))->len;
        }
        char got[300];
        snprintf(got, sizeof got, "%s: %zu queries (%zu after), %zu books, %zu tags, %zu reviews",
                 cases[i][0], queries, log.count - queries, books ? books->len : 0, ntags,
                 nreviews);
        char want[300];
        snprintf(want, sizeof want, "%s: %s queries (0 after), 2 books, 1 tags, %d reviews",
                 cases[i][0], cases[i][1], strstr(cases[i][0], "reviews") ? 1 : 0);
        if (strcmp(got, want) != 0 && !wrong++)
            snprintf(first_wrong, sizeof first_wrong, "%s, want %s", got, want);
        mn_orm_set_log(t.o, NULL);
    }
    cr_expect_eq(wrong, 0, "%s", first_wrong);
}
