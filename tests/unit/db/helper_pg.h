/* helper_pg.h — shared bits of the PostgreSQL tests (test_pg*.c, test_pool*.c). They run
 * through scripts/with-pg, which starts a private server and sets MN_TEST_DATABASE_URL; run
 * without it they skip, saying so. Criterion runs tests of one file in parallel against the
 * same server, so every test uses its own table names. */
#ifndef MN_TEST_HELPER_PG_H
#define MN_TEST_HELPER_PG_H

#include <criterion/criterion.h>
#include <manouche/db.h>
#include <manouche/rt.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline const char *pgt_url(void)
{
    const char *url = getenv("MN_TEST_DATABASE_URL");
    if (!url || !*url)
        cr_skip_test("MN_TEST_DATABASE_URL is not set: run this test through scripts/with-pg");
    return url;
}

/* A database on the test server with the given pool size and timeouts (0: defaults). */
static inline mn_db *pgt_db(int pool_size, int64_t pool_timeout_ms, int64_t statement_timeout_ms)
{
    mn_dbconfig cfg = {.url = pgt_url(),
                       .pool_size = pool_size,
                       .pool_timeout_ms = pool_timeout_ms,
                       .statement_timeout_ms = statement_timeout_ms};
    char err[256] = "";
    mn_db *db = mn_db_new(&cfg, err, sizeof err);
    cr_assert_not_null(db, "mn_db_new: %s", err);
    cr_assert_eq(mn_db_dialect(db), MN_DIALECT_POSTGRESQL);
    return db;
}

static inline mn_dbconn *pgt_acquire(mn_db *db)
{
    mn_dbconn *conn = NULL;
    int rc = mn_db_acquire(db, -1, &conn);
    cr_assert_eq(rc, 0, "acquire: %s (%s)", mn_db_strerror(rc), mn_db_errmsg(db));
    cr_assert_not_null(conn);
    return conn;
}

/* Runs sql (no parameters) and fails the test on an error. */
static inline void pgt_ok(mn_dbconn *conn, const char *sql)
{
    int rc = mn_dbconn_exec(conn, NULL, sql, NULL, 0, NULL);
    cr_assert_eq(rc, 0, "%s: %s (%s)", sql, mn_db_strerror(rc), mn_dbconn_errmsg(conn));
}

static inline double pgt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
