/* test_sqlite.c — the SQLite driver through db.h: connection set-up (WAL, foreign keys,
 * busy timeout), bound parameters of every type, result cells and column names, error kinds,
 * transactions and savepoints, cursors, the statement cache and the query log. */
#include <manouche/db.h>
#include <manouche/rt.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char url[128];
static mn_db *db;
static mn_dbconn *conn;
static mn_arena *arena;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/mn-sqlite-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:///%s/t.db", dir);
    char err[200];
    db = mn_db_new(&(mn_dbconfig){.url = url, .pool_size = 2}, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(mn_db_acquire(db, -1, &conn), 0, "%s", mn_db_errmsg(db));
    arena = mn_arena_new(0);
}

static void teardown(void)
{
    mn_db_release(conn);
    mn_db_free(db);
    mn_arena_free(arena);
    char p[128];
    const char *f[] = {"t.db", "t.db-wal", "t.db-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, f[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(sqlite, .init = setup, .fini = teardown);

static void ok(const char *sql)
{
    int rc = mn_dbconn_exec(conn, NULL, sql, NULL, 0, NULL);
    cr_assert_eq(rc, 0, "%s: %s", sql, mn_dbconn_errmsg(conn));
}

static mn_dbresult query(const char *sql, const mn_dbparam *p, size_t n)
{
    mn_dbresult res;
    int rc = mn_dbconn_exec(conn, arena, sql, p, n, &res);
    cr_assert_eq(rc, 0, "%s: %s", sql, mn_dbconn_errmsg(conn));
    return res;
}

Test(sqlite, connections_use_wal_and_foreign_keys)
{
    mn_dbresult r = query("PRAGMA journal_mode", NULL, 0);
    cr_assert_str_eq(r.cells[0].v.s.ptr, "wal");
    r = query("PRAGMA foreign_keys", NULL, 0);
    cr_assert_eq(r.cells[0].v.i, 1);
    cr_assert_eq(mn_db_placeholder(db), '?');
    cr_assert_eq(mn_dbconn_dialect(conn), MN_DIALECT_SQLITE);
}

Test(sqlite, parameters_and_cells_keep_their_types)
{
    ok("CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, flag INTEGER)");
    mn_dbparam p[] = {mn_dbp_int(INT64_C(-9007199254740993)),
                      mn_dbp_float(2.5),
                      mn_dbp_textn("it's \"quoted\"; DROP TABLE t", 27),
                      mn_dbp_blob("a\0b", 3),
                      mn_dbp_null(),
                      mn_dbp_bool(true)};
    mn_dbresult w = query("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)", p, 6);
    cr_assert_eq(w.rows_affected, 1);
    cr_assert_eq(w.last_insert_id, 1);
    mn_dbresult r = query("SELECT i, f, s, b, n, flag AS yes FROM t", NULL, 0);
    cr_assert_eq(r.nrows, 1);
    cr_assert_eq(r.ncols, 6);
    cr_assert_eq(mn_dbresult_col(&r, "yes"), 5);
    cr_assert_eq(mn_dbresult_col(&r, "nope"), -1);
    cr_assert_eq(r.cells[0].type, MN_DBT_INT);
    cr_assert_eq(r.cells[0].v.i, INT64_C(-9007199254740993));
    cr_assert_eq(r.cells[1].type, MN_DBT_FLOAT);
    cr_assert_float_eq(r.cells[1].v.f, 2.5, 1e-12);
    cr_assert_eq(r.cells[2].type, MN_DBT_TEXT);
    cr_assert_str_eq(r.cells[2].v.s.ptr, "it's \"quoted\"; DROP TABLE t");
    cr_assert_eq(r.cells[3].type, MN_DBT_BLOB);
    cr_assert_eq(r.cells[3].v.s.len, 3);
    cr_assert_eq(memcmp(r.cells[3].v.s.ptr, "a\0b", 3), 0);
    cr_assert_eq(r.cells[4].type, MN_DBT_NULL);
    cr_assert_eq(mn_dbresult_cell(&r, 0, 5)->v.i, 1);
    cr_assert_null(mn_dbresult_cell(&r, 1, 0));
}

Test(sqlite, errors_have_distinct_kinds_and_messages)
{
    ok("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)");
    ok("CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id))");
    ok("INSERT INTO p VALUES (1, 'a')");
    int rc = mn_dbconn_exec(conn, NULL, "INSERT INTO p VALUES (2, 'a')", NULL, 0, NULL);
    cr_assert_eq(rc, MN_EDB_INTEGRITY);
    cr_assert_eq(mn_dbconn_errkind(conn), MN_DBERR_INTEGRITY);
    cr_assert(strstr(mn_dbconn_errmsg(conn), "UNIQUE"), "%s", mn_dbconn_errmsg(conn));
    rc = mn_dbconn_exec(conn, NULL, "INSERT INTO c VALUES (1, 99)", NULL, 0, NULL);
    cr_assert_eq(rc, MN_EDB_INTEGRITY, "foreign keys are enforced");
    rc = mn_dbconn_exec(conn, NULL, "SELEC 1", NULL, 0, NULL);
    cr_assert_eq(rc, MN_EDB_PROGRAMMING);
    rc = mn_dbconn_exec(conn, NULL, "SELECT * FROM missing", NULL, 0, NULL);
    cr_assert_eq(rc, MN_EDB_PROGRAMMING);
    cr_assert(strstr(mn_dbconn_errmsg(conn), "no such table: missing"));
    rc = mn_dbconn_exec(conn, NULL, "SELECT ?1", NULL, 0, NULL);
    cr_assert_eq(rc, MN_EDB_PROGRAMMING);
    cr_assert_str_eq(mn_dbconn_errmsg(conn), "the statement takes 1 parameters, 0 given");
    ok("SELECT 1");
    cr_assert_eq(mn_dbconn_errkind(conn), MN_DBERR_NONE, "a success clears the error");
    cr_assert_str_eq(mn_db_strerror(MN_EDB_INTEGRITY), "integrity error");
}

Test(sqlite, savepoints_nest_inside_a_transaction)
{
    ok("CREATE TABLE t (v INTEGER)");
    cr_assert_eq(mn_dbconn_begin(conn), 0);
    cr_assert(mn_dbconn_in_transaction(conn));
    ok("INSERT INTO t VALUES (1)");
    cr_assert_eq(mn_dbconn_savepoint(conn, "sp1"), 0);
    ok("INSERT INTO t VALUES (2)");
    cr_assert_eq(mn_dbconn_savepoint_rollback(conn, "sp1"), 0);
    cr_assert_eq(mn_dbconn_savepoint(conn, "sp2"), 0);
    ok("INSERT INTO t VALUES (3)");
    cr_assert_eq(mn_dbconn_savepoint_release(conn, "sp2"), 0);
    cr_assert_eq(mn_dbconn_commit(conn), 0);
    cr_assert_not(mn_dbconn_in_transaction(conn));
    mn_dbresult r = query("SELECT group_concat(v) FROM t", NULL, 0);
    cr_assert_str_eq(r.cells[0].v.s.ptr, "1,3");
    cr_assert_eq(mn_dbconn_savepoint(conn, "x; DROP TABLE t"), MN_EDB_PROGRAMMING);
    cr_assert_eq(mn_dbconn_begin(conn), 0);
    ok("INSERT INTO t VALUES (4)");
    cr_assert_eq(mn_dbconn_rollback(conn), 0);
    r = query("SELECT count(*) FROM t", NULL, 0);
    cr_assert_eq(r.cells[0].v.i, 2);
}

Test(sqlite, release_rolls_back_what_the_borrower_left_open)
{
    ok("CREATE TABLE t (v INTEGER)");
    cr_assert_eq(mn_dbconn_begin(conn), 0);
    ok("INSERT INTO t VALUES (1)");
    mn_db_release(conn);
    cr_assert_eq(mn_db_acquire(db, -1, &conn), 0);
    cr_assert_not(mn_dbconn_in_transaction(conn));
    mn_dbresult r = query("SELECT count(*) FROM t", NULL, 0);
    cr_assert_eq(r.cells[0].v.i, 0);
}

Test(sqlite, cursor_streams_rows_in_chunks)
{
    ok("CREATE TABLE t (v INTEGER)");
    ok("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) "
       "INSERT INTO t SELECT x FROM n");
    mn_dbcursor *cur = NULL;
    cr_assert_eq(mn_dbconn_cursor_open(conn, arena, "SELECT v FROM t WHERE v > ?1 ORDER BY v",
                                       (mn_dbparam[]){mn_dbp_int(10)}, 1, &cur),
                 0);
    cr_assert_eq(mn_dbconn_exec(conn, NULL, "SELECT 1", NULL, 0, NULL), 0,
                 "other statements run while a cursor is open");
    int64_t sum = 0, rows = 0, chunks = 0;
    mn_arena *chunk = mn_arena_new(0);
    for (;;) {
        mn_arena_reset(chunk);
        mn_dbresult r;
        cr_assert_eq(mn_dbcursor_fetch(cur, chunk, 100, &r), 0);
        if (r.nrows == 0)
            break;
        cr_assert_leq(r.nrows, 100);
        chunks++;
        for (size_t i = 0; i < r.nrows; i++)
            sum += r.cells[i].v.i, rows++;
    }
    mn_dbcursor_close(cur);
    mn_arena_free(chunk);
    cr_assert_eq(rows, 990);
    cr_assert_eq(chunks, 10);
    cr_assert_eq(sum, 500500 - 55);
    ok("SELECT 1");
}

/* Two cursors open on one connection, read in turns (nested iterators): each steps its own
 * statement, even with the same SQL, and one closed early leaves the other reading. */
Test(sqlite, two_cursors_interleave_on_one_connection)
{
    ok("CREATE TABLE t (v INTEGER)");
    ok("INSERT INTO t VALUES (1), (2), (3), (4), (5), (6), (7)");
    const char *sql = "SELECT v FROM t ORDER BY v";
    mn_dbcursor *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(mn_dbconn_cursor_open(conn, arena, sql, NULL, 0, &a), 0, "%s",
                 mn_dbconn_errmsg(conn));
    cr_assert_eq(mn_dbconn_cursor_open(conn, arena, sql, NULL, 0, &b), 0, "%s",
                 mn_dbconn_errmsg(conn));
    cr_assert_eq(mn_dbconn_cursor_open(conn, NULL, sql, NULL, 0, &c), 0, "%s",
                 mn_dbconn_errmsg(conn));
    int64_t got_a = 0, got_b = 0, rows_a = 0, rows_b = 0;
    mn_dbresult r;
    cr_assert_eq(mn_dbcursor_fetch(c, arena, 1, &r), 0);
    cr_assert_eq(r.nrows, 1);
    mn_dbcursor_close(c); /* early */
    for (bool more_a = true, more_b = true; more_a || more_b;) {
        if (more_a) {
            cr_assert_eq(mn_dbcursor_fetch(a, arena, 2, &r), 0, "%s", mn_dbconn_errmsg(conn));
            for (size_t i = 0; i < r.nrows; i++)
                got_a += r.cells[i].v.i, rows_a++;
            more_a = r.nrows == 2;
        }
        if (more_b) {
            cr_assert_eq(mn_dbcursor_fetch(b, arena, 3, &r), 0, "%s", mn_dbconn_errmsg(conn));
            for (size_t i = 0; i < r.nrows; i++)
                got_b += r.cells[i].v.i, rows_b++;
            more_b = r.nrows == 3;
        }
    }
    cr_expect_eq(rows_a, 7);
    cr_expect_eq(got_a, 28);
    cr_expect_eq(rows_b, 7);
    cr_expect_eq(got_b, 28);
    mn_dbcursor_close(a);
    mn_dbcursor_close(b);
    ok("DROP TABLE t"); /* SQLite refuses it while an unfinalized statement reads t */
}

/* Cursors left open when the connection goes back to the pool are finalized (else the
 * connection could never close); the handles stay, read as closed. */
Test(sqlite, release_ends_the_cursors_left_open)
{
    mn_dbcursor *a = NULL, *b = NULL;
    cr_assert_eq(mn_dbconn_cursor_open(conn, NULL, "SELECT 1 UNION ALL SELECT 2", NULL, 0, &a), 0);
    cr_assert_eq(mn_dbconn_cursor_open(conn, arena, "SELECT 3 UNION ALL SELECT 4", NULL, 0, &b), 0);
    mn_dbresult r;
    cr_assert_eq(mn_dbcursor_fetch(a, arena, 1, &r), 0);
    mn_db_release(conn);
    cr_expect_null(mn_dbcursor_conn(a));
    cr_expect_null(mn_dbcursor_conn(b));
    cr_expect_eq(mn_dbcursor_fetch(b, arena, 2, &r), MN_EDB_PROGRAMMING);
    mn_dbcursor_close(a); /* frees the malloc'ed handle */
    mn_dbcursor_close(b);
    cr_assert_eq(mn_db_acquire(db, -1, &conn), 0, "%s", mn_db_errmsg(db));
    ok("SELECT 1");
}

Test(sqlite, query_log_records_sql_params_and_time)
{
    mn_dblog log;
    mn_dblog_init(&log, arena);
    mn_dbconn_set_log(conn, mn_dblog_record, &log, NULL, NULL);
    ok("CREATE TABLE t (s TEXT)");
    mn_dbparam p = mn_dbp_text("hello");
    query("INSERT INTO t VALUES (?1)", &p, 1);
    mn_dbconn_exec(conn, NULL, "SELECT nope FROM t", NULL, 0, NULL);
    cr_assert_eq(log.count, 3);
    cr_assert_str_eq(log.entries[1].sql, "INSERT INTO t VALUES (?1)");
    cr_assert_eq(log.entries[1].nparams, 1);
    cr_assert_str_eq(log.entries[1].params[0].v.s.ptr, "hello");
    cr_assert_geq(log.entries[1].duration_us, 0);
    cr_assert_eq(log.entries[2].status, MN_EDB_PROGRAMMING);
    mn_dblog_fn prev = NULL;
    mn_dbconn_set_log(conn, NULL, NULL, &prev, NULL);
    cr_assert_eq(prev, mn_dblog_record);
    ok("SELECT 1");
    cr_assert_eq(log.count, 3);
}

Test(sqlite, statement_cache_survives_more_shapes_than_it_holds)
{
    ok("CREATE TABLE t (v INTEGER)");
    char sql[64];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 100; i++) {
            snprintf(sql, sizeof sql, "INSERT INTO t VALUES (?1 + %d)", i);
            mn_dbparam p = mn_dbp_int(round);
            query(sql, &p, 1);
        }
    mn_dbresult r = query("SELECT count(*), sum(v) FROM t", NULL, 0);
    cr_assert_eq(r.cells[0].v.i, 200);
    cr_assert_eq(r.cells[1].v.i, 2 * 4950 + 100);
}

Test(sqlite, regexp_is_available)
{
    mn_dbparam p[] = {mn_dbp_text("Hello world"), mn_dbp_text("^hel+o")};
    mn_dbresult r = query("SELECT ?1 REGEXP ?2, ?1 REGEXP '(?i)' || ?2", p, 2);
    cr_assert_eq(r.cells[0].v.i, 0);
    cr_assert_eq(r.cells[1].v.i, 1);
}

Test(sqlite, memory_database_is_shared_by_the_pool)
{
    char err[100];
    mn_db *mem = mn_db_new(&(mn_dbconfig){.url = "sqlite://:memory:"}, err, sizeof err);
    cr_assert_not_null(mem, "%s", err);
    mn_dbconn *a, *b;
    cr_assert_eq(mn_db_acquire(mem, -1, &a), 0);
    cr_assert_eq(mn_db_acquire(mem, -1, &b), 0);
    cr_assert_eq(mn_dbconn_exec(a, NULL, "CREATE TABLE m (x)", NULL, 0, NULL), 0);
    cr_assert_eq(mn_dbconn_exec(b, NULL, "INSERT INTO m VALUES (1)", NULL, 0, NULL), 0, "%s",
                 mn_dbconn_errmsg(b));
    mn_db_release(a);
    mn_db_release(b);
    mn_db_free(mem);
}

/* ---- lock waits park the coroutine, not the worker ---- */
static mn_db *lockdb;
static int order[4], norder;

static void holder(void *arg)
{
    (void)arg;
    mn_dbconn *c;
    cr_assert_eq(mn_db_acquire(lockdb, -1, &c), 0);
    cr_assert_eq(mn_dbconn_begin(c), 0);
    cr_assert_eq(mn_dbconn_exec(c, NULL, "INSERT INTO t VALUES (1)", NULL, 0, NULL), 0);
    mn_sleep(100); /* a request that yields with its write transaction open */
    order[norder++] = 1;
    cr_assert_eq(mn_dbconn_commit(c), 0);
    mn_db_release(c);
}

static void waiter(void *arg)
{
    (void)arg;
    mn_dbconn *c;
    mn_sleep(10);
    cr_assert_eq(mn_db_acquire(lockdb, -1, &c), 0);
    int rc = mn_dbconn_exec(c, NULL, "INSERT INTO t VALUES (2)", NULL, 0, NULL);
    cr_assert_eq(rc, 0, "the writer waited for the lock: %s", mn_dbconn_errmsg(c));
    order[norder++] = 2;
    mn_db_release(c);
}

Test(sqlite, a_writer_waits_for_the_lock_without_blocking_the_holder)
{
    ok("CREATE TABLE t (v INTEGER)");
    lockdb = db;
    norder = 0;
    mn_loop *loop = mn_loop_new();
    cr_assert_not_null(loop);
    cr_assert_not_null(mn_coro_spawn(loop, holder, NULL));
    cr_assert_not_null(mn_coro_spawn(loop, waiter, NULL));
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    mn_loop_free(loop);
    cr_assert_eq(norder, 2);
    cr_expect_eq(order[0], 1, "the holder committed first");
    cr_expect_eq(order[1], 2);
    mn_dbresult r = query("SELECT count(*) FROM t", NULL, 0);
    cr_expect_eq(r.cells[0].v.i, 2);
}

Test(sqlite, a_lock_held_too_long_is_an_operational_error)
{
    char err[200];
    mn_db *quick = mn_db_new(&(mn_dbconfig){.url = url, .busy_timeout_ms = 50}, err, sizeof err);
    cr_assert_not_null(quick, "%s", err);
    ok("CREATE TABLE t (v INTEGER)");
    cr_assert_eq(mn_dbconn_begin(conn), 0);
    ok("INSERT INTO t VALUES (1)");
    mn_dbconn *other;
    cr_assert_eq(mn_db_acquire(quick, -1, &other), 0);
    int rc = mn_dbconn_exec(other, NULL, "INSERT INTO t VALUES (2)", NULL, 0, NULL);
    cr_expect_eq(rc, MN_EDB_OPERATIONAL);
    cr_expect_str_eq(mn_dbconn_errmsg(other), "database is locked");
    mn_db_release(other);
    mn_db_free(quick);
    cr_assert_eq(mn_dbconn_rollback(conn), 0);
}

/* Column names are kept with each cached statement; a statement SQLite re-prepares after a
 * schema change must report its new columns, and every result owns its copy of the names. */
Test(sqlite, cached_statements_report_columns_after_a_schema_change)
{
    ok("CREATE TABLE cn (a INTEGER, b TEXT)");
    ok("INSERT INTO cn VALUES (1, 'x')");
    mn_dbresult first = query("SELECT * FROM cn", NULL, 0);
    mn_dbresult again = query("SELECT * FROM cn", NULL, 0);
    cr_assert_eq(again.ncols, 2);
    cr_assert(mn_str_eq_cstr(again.colnames[1], "b"));
    cr_assert_neq(first.colnames, again.colnames, "each result has its own copy");
    ok("ALTER TABLE cn RENAME COLUMN b TO renamed");
    mn_dbresult r = query("SELECT * FROM cn", NULL, 0);
    cr_assert_eq(r.ncols, 2);
    cr_assert(mn_str_eq_cstr(r.colnames[1], "renamed"), "%.*s", (int)r.colnames[1].len,
              r.colnames[1].ptr);
    cr_assert_eq(mn_dbresult_col(&r, "renamed"), 1);
    ok("ALTER TABLE cn ADD COLUMN c INTEGER DEFAULT 7");
    r = query("SELECT * FROM cn", NULL, 0);
    cr_assert_eq(r.ncols, 3);
    cr_assert(mn_str_eq_cstr(r.colnames[2], "c"));
    cr_assert_eq(mn_dbresult_cell(&r, 0, 2)->v.i, 7);
    /* The first result's names are still readable (they were copied into the arena). */
    cr_assert(mn_str_eq_cstr(first.colnames[0], "a"));
    cr_assert(mn_str_eq_cstr(first.colnames[1], "b"));
}
