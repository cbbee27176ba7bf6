/* helper_db.h — the database every ORM test runs on: PostgreSQL when MN_TEST_DATABASE_URL is
 * set (the suite is registered a second time through a wrapper that starts a private server),
 * else a fresh SQLite file in a temporary directory. Each test gets its own schema on
 * PostgreSQL (tests of one file run in parallel against one server) and its own file on
 * SQLite, with every test model's table created from metadata. */
#ifndef MN_TEST_HELPER_DB_H
#define MN_TEST_HELPER_DB_H

#include <criterion/criterion.h>
#include <manouche/orm.h>

typedef struct testdb {
    mn_arena *arena;
    mn_db *db;
    mn_orm *o;
    char dir[128];   /* SQLite temporary directory, "" on PostgreSQL */
    char schema[64]; /* PostgreSQL schema, "" on SQLite */
} testdb;

/* Opens the test database, creates the tables; fails the test on any error. */
void tdb_open(testdb *t);
void tdb_close(testdb *t);
bool tdb_is_pg(const testdb *t);
/* A second session on the same database (its own connection). */
mn_orm *tdb_session(testdb *t, mn_arena *arena);

/* A second database, alias "other": a SQLite file in a temporary directory with every test
 * model's table, added to t's session (open after tdb_open). tdb_other_close frees it and its
 * files (after tdb_close, which gives back the session's connections to it). */
typedef struct tdb_other {
    mn_db *db;
    char dir[64];
} tdb_other;
void tdb_other_open(testdb *t, tdb_other *x);
void tdb_other_close(tdb_other *x);

/* Python's repr() of v (in t's arena); fails the test when v is NULL, with the ORM's error. */
const char *tdb_repr(testdb *t, mn_value *v);
/* The repr of the list of qs's rows; fails the test when the query fails. */
const char *tdb_rows_repr(testdb *t, mn_qs *qs);

/* Declares the file's test database `t` and the suite NAME, each of whose tests starts on a
 * fresh, empty database. */
#define DB_SUITE(name)                                                                             \
    static testdb t;                                                                               \
    static void db_suite_setup(void)                                                               \
    {                                                                                              \
        tdb_open(&t);                                                                              \
    }                                                                                              \
    static void db_suite_teardown(void)                                                            \
    {                                                                                              \
        tdb_close(&t);                                                                             \
    }                                                                                              \
    TestSuite(name, .init = db_suite_setup, .fini = db_suite_teardown)

#endif
