/* test_client_cursors.c — DB_DISABLE_SERVER_SIDE_CURSORS (mn_dbconfig's
 * disable_server_side_cursors), as Django's DISABLE_SERVER_SIDE_CURSORS: on PostgreSQL,
 * iterator() then reads its whole result at once and hands it out chunk by chunk, with no
 * DECLARE (a pooler in transaction mode would lose a server-side cursor between fetches). On
 * SQLite, which has no server-side cursors, the setting changes nothing. */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DB_SUITE(orm_client_cursors);

static const mn_datetime when = {2024, 5, 1, 12, 0, 0, 0, 0, true, "UTC"};

enum { NQUESTIONS = 5 };

/* A session on the test database through a database configured with the setting. */
static mn_orm *session_without_cursors(mn_arena *a, mn_db **db)
{
    char url[200];
    if (tdb_is_pg(&t))
        snprintf(url, sizeof url, "%s", getenv("MN_TEST_DATABASE_URL"));
    else
        snprintf(url, sizeof url, "sqlite:///%s/test.db", t.dir);
    char err[256] = "";
    *db = mn_db_new(&(mn_dbconfig){.url = url, .pool_size = 2, .disable_server_side_cursors = true},
                    err, sizeof err);
    cr_assert_not_null(*db, "%s", err);
    mn_orm *o = mn_orm_new(a, *db);
    cr_assert_not_null(o);
    if (tdb_is_pg(&t)) {
        mn_dbconn *c = mn_orm_conn(o, NULL);
        cr_assert_not_null(c, "%s", mn_orm_error(o));
        char sql[160];
        snprintf(sql, sizeof sql, "SET search_path TO \"%s\"", t.schema);
        cr_assert_eq(mn_dbconn_exec_script(c, sql), 0, "%s", mn_dbconn_errmsg(c));
    }
    return o;
}

static void fill(void)
{
    for (int i = 0; i < NQUESTIONS; i++)
        cr_assert_not_null(mn_create(t.o, Question, "text", "q", "pub_date", &when), "%s",
                           mn_orm_error(t.o));
}

typedef struct seen {
    mn_orm *o;
    int rows;
    int64_t cursors; /* the server-side cursors open during the first row (PostgreSQL) */
} seen;

static int count_row(void *row, void *user)
{
    seen *s = user;
    if (s->rows++ > 0 || !tdb_is_pg(&t))
        return 0;
    mn_dbconn *c = mn_orm_conn(s->o, NULL);
    mn_dbresult res;
    if (!c ||
        mn_dbconn_exec(c, mn_orm_arena(s->o), "SELECT count(*) FROM pg_cursors WHERE name <> ''",
                       NULL, 0, &res) != 0)
        return -1;
    s->cursors = mn_dbresult_cell(&res, 0, 0)->v.i;
    (void)row;
    return 0;
}

Test(orm_client_cursors, iterator_reads_every_row_without_a_server_side_cursor)
{
    fill();
    /* the control: the test session iterates through a DECLAREd cursor on PostgreSQL */
    seen s = {.o = t.o, .cursors = -1};
    cr_assert_eq(mn_qs_iterator(mn_all(t.o, Question), 2, count_row, &s), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(s.rows, NQUESTIONS);
    if (tdb_is_pg(&t))
        cr_expect_eq(s.cursors, 1, "a server-side cursor by default: %lld", (long long)s.cursors);

    mn_arena *a = mn_arena_new(0);
    mn_db *db = NULL;
    mn_orm *o = session_without_cursors(a, &db);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    cr_assert_not_null(c, "%s", mn_orm_error(o));
    mn_dblog log;
    mn_dblog_init(&log, a);
    mn_dbconn_set_log(c, mn_dblog_record, &log, NULL, NULL);
    s = (seen){.o = o, .cursors = -1};
    cr_expect_eq(mn_qs_iterator(mn_all(o, Question), 2, count_row, &s), 0, "%s", mn_orm_error(o));
    cr_expect_eq(s.rows, NQUESTIONS, "every row, in chunks of 2");
    if (tdb_is_pg(&t))
        cr_expect_eq(s.cursors, 0, "no server-side cursor");
    /* the query log: the iterator's SELECT, and nothing that opens or reads a cursor */
    cr_assert_geq(log.count, 1);
    if (strncmp(log.entries[0].sql, "SELECT ", 7) != 0)
        cr_expect_fail("first statement: %s", log.entries[0].sql);
    int cursor_statements = 0;
    for (size_t i = 0; i < log.count; i++)
        cursor_statements += strncmp(log.entries[i].sql, "DECLARE", 7) == 0 ||
                             strncmp(log.entries[i].sql, "FETCH", 5) == 0;
    cr_expect_eq(cursor_statements, 0);
    mn_dbconn_set_log(c, NULL, NULL, NULL, NULL);

    /* inside an atomic block too */
    cr_assert_eq(mn_atomic_begin(o), 0, "%s", mn_orm_error(o));
    s = (seen){.o = o, .cursors = -1};
    cr_expect_eq(mn_qs_iterator(mn_all(o, Question), 3, count_row, &s), 0, "%s", mn_orm_error(o));
    cr_expect_eq(s.rows, NQUESTIONS);
    if (tdb_is_pg(&t))
        cr_expect_eq(s.cursors, 0);
    cr_expect_eq(mn_atomic_end(o, true), 0, "%s", mn_orm_error(o));
    mn_orm_close(o);
    mn_arena_free(a);
    mn_db_free(db);
}

Test(orm_client_cursors, a_cursor_hands_out_the_result_in_chunks)
{
    fill();
    mn_arena *a = mn_arena_new(0);
    mn_db *db = NULL;
    mn_orm *o = session_without_cursors(a, &db);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    cr_assert_not_null(c, "%s", mn_orm_error(o));
    /* two cursors at once, read in turns, and one closed before its end */
    mn_dbcursor *all = NULL, *early = NULL;
    const char *sql = "SELECT id, text FROM polls_question ORDER BY id";
    cr_assert_eq(mn_dbconn_cursor_open(c, NULL, sql, NULL, 0, &all), 0, "%s", mn_dbconn_errmsg(c));
    cr_assert_eq(mn_dbconn_cursor_open(c, NULL, sql, NULL, 0, &early), 0, "%s",
                 mn_dbconn_errmsg(c));
    size_t sizes[4] = {0}, n = 0;
    int64_t last_id = 0;
    bool ordered = true;
    for (;;) {
        mn_arena *chunk = mn_arena_new(0);
        mn_dbresult r;
        cr_assert_eq(mn_dbcursor_fetch(all, chunk, 2, &r), 0, "%s", mn_dbconn_errmsg(c));
        if (n < 4)
            sizes[n++] = r.nrows;
        for (size_t i = 0; i < r.nrows; i++) {
            ordered &= mn_dbresult_cell(&r, i, 0)->v.i > last_id;
            last_id = mn_dbresult_cell(&r, i, 0)->v.i;
            ordered &= mn_str_eq_cstr(mn_dbresult_cell(&r, i, 1)->v.s, "q");
        }
        mn_dbresult e;
        cr_assert_eq(mn_dbcursor_fetch(early, chunk, 1, &e), 0, "%s", mn_dbconn_errmsg(c));
        mn_arena_free(chunk);
        if (r.nrows < 2)
            break;
    }
    mn_dbcursor_close(early);
    mn_dbcursor_close(all);
    cr_expect(ordered, "every row once, in order, its text copied out of the result");
    cr_expect(n == 3 && sizes[0] == 2 && sizes[1] == 2 && sizes[2] == 1, "chunks of %zu %zu %zu",
              sizes[0], sizes[1], sizes[2]);
    /* a cursor whose query fails reports it at open */
    mn_dbcursor *bad = NULL;
    cr_expect_neq(mn_dbconn_cursor_open(c, NULL, "SELECT nothing FROM nowhere", NULL, 0, &bad), 0);
    cr_expect_null(bad);
    mn_orm_close(o);
    mn_arena_free(a);
    mn_db_free(db);
}
