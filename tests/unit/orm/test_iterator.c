/* test_iterator.c — mn_qs_iterator as Django's QuerySet.iterator(): queries (reads and
 * writes, even the iterator's own SQL) run from inside the callback, on SQLite and on a
 * PostgreSQL server-side cursor; early stops, atomic blocks, errors mid-iteration;
 * prefetch_related per chunk (counted queries) and values() streamed, with bounded memory. */
#include "helper_db.h"
#include "helper_models.h"

#include <criterion/criterion.h>
#include <manouche/db.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

DB_SUITE(orm_iter);

/* n questions "q0".."q<n-1>", question i with i % 3 choices. */
static void make_polls(int n)
{
    mn_datetime now = {.year = 2024, .month = 4, .day = 1, .aware = true};
    for (int i = 0; i < n; i++) {
        char text[16];
        snprintf(text, sizeof text, "q%d", i);
        Question *q = mn_create(t.o, Question, "text", text, "pub_date", &now);
        cr_assert_not_null(q, "%s", mn_orm_error(t.o));
        for (int k = 0; k < i % 3; k++)
            cr_assert_not_null(mn_create(t.o, Choice, "question", q, "text", "c", "votes", k), "%s",
                               mn_orm_error(t.o));
    }
}

static mn_qs *by_id(void)
{
    return mn_qs_order_by(mn_all(t.o, Question), "id");
}

typedef struct seen {
    int rows;
    int64_t choices;
    char texts[512];
    int stop_at; /* return 7 on this row (1-based); 0: never */
} seen;

static int count_choices(void *row, void *user)
{
    seen *s = user;
    Question *q = row;
    int64_t n = mn_qs_count(mn_related(t.o, q, "choices"));
    if (n < 0)
        cr_assert_fail("nested count: %s", mn_orm_error(t.o));
    s->choices += n;
    s->rows++;
    size_t len = strlen(s->texts);
    snprintf(s->texts + len, sizeof s->texts - len, "%s%s", len ? "," : "", q->text);
    return s->stop_at && s->rows == s->stop_at ? 7 : 0;
}

Test(orm_iter, a_query_per_row_inside_the_callback)
{
    make_polls(7); /* choices: 0+1+2+0+1+2+0 = 6 */
    seen s = {0};
    int rc = mn_qs_iterator(by_id(), 2, count_choices, &s);
    cr_assert_eq(rc, 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(s.rows, 7);
    cr_expect_eq(s.choices, 6);
    cr_expect_str_eq(s.texts, "q0,q1,q2,q3,q4,q5,q6");
}

static int same_sql_inside(void *row, void *user)
{
    seen *s = user;
    mn_rows *all = mn_qs_fetch(by_id()); /* the very statement the cursor is stepping */
    if (!all || all->len != 5)
        cr_assert_fail("nested fetch of the same SQL: %s", mn_orm_error(t.o));
    s->rows++;
    size_t len = strlen(s->texts);
    snprintf(s->texts + len, sizeof s->texts - len, "%s%s", len ? "," : "",
             ((Question *)row)->text);
    return 0;
}

Test(orm_iter, the_same_sql_nested_gets_its_own_statement)
{
    make_polls(5);
    for (size_t chunk = 1; chunk <= 6; chunk += 5) {
        seen s = {0};
        cr_assert_eq(mn_qs_iterator(by_id(), chunk, same_sql_inside, &s), 0, "%s",
                     mn_orm_error(t.o));
        cr_expect_str_eq(s.texts, "q0,q1,q2,q3,q4", "chunk %zu", chunk);
    }
}

static int write_inside(void *row, void *user)
{
    seen *s = user;
    Question *q = row;
    char text[32];
    snprintf(text, sizeof text, "%s!", q->text);
    q->text = mn_arena_strdup(mn_orm_arena(t.o), text);
    if (mn_save(t.o, q) != 0)
        cr_assert_fail("save: %s", mn_orm_error(t.o));
    if (mn_update(mn_related(t.o, q, "choices"), "votes", 10) < 0)
        cr_assert_fail("update: %s", mn_orm_error(t.o));
    s->rows++;
    return 0;
}

static void check_written(int n)
{
    mn_rows *qs = mn_qs_fetch(by_id());
    cr_assert_not_null(qs, "%s", mn_orm_error(t.o));
    cr_assert_eq(qs->len, (size_t)n);
    for (size_t i = 0; i < qs->len; i++) {
        char want[16];
        snprintf(want, sizeof want, "q%zu!", i);
        cr_expect_str_eq(((Question *)qs->items[i])->text, want);
    }
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Choice), "votes", 10)),
                 mn_qs_count(mn_all(t.o, Choice)), "every choice updated");
}

Test(orm_iter, save_and_update_inside_the_callback)
{
    make_polls(5);
    seen s = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 2, write_inside, &s), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(s.rows, 5, "each row once, the saved ones too");
    check_written(5);
    /* a second session sees the writes: they were committed */
    mn_arena *a = mn_arena_new(0);
    mn_orm *o2 = tdb_session(&t, a);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(o2, Question), "text__endswith", "!")), 5);
    mn_orm_close(o2);
    mn_arena_free(a);
}

Test(orm_iter, inside_an_atomic_block)
{
    make_polls(5);
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    seen s = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 2, write_inside, &s), 0, "%s", mn_orm_error(t.o));
    seen c = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 3, count_choices, &c), 0, "%s", mn_orm_error(t.o));
    cr_expect_str_eq(c.texts, "q0!,q1!,q2!,q3!,q4!", "the block's own writes are seen");
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    check_written(5);

    /* rolled back: the writes made from the callback go with the block */
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    seen r = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 2, write_inside, &r), 0, "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_end(t.o, false), 0, "%s", mn_orm_error(t.o));
    check_written(5);
}

static int nested_atomic_inside(void *row, void *user)
{
    seen *s = user;
    Question *q = row;
    if (mn_atomic_begin(t.o) != 0)
        cr_assert_fail("atomic inside: %s", mn_orm_error(t.o));
    q->text = "x";
    if (mn_save(t.o, q) != 0)
        cr_assert_fail("save: %s", mn_orm_error(t.o));
    /* odd rows roll back */
    if (mn_atomic_end(t.o, s->rows % 2 == 0) != 0)
        cr_assert_fail("atomic end: %s", mn_orm_error(t.o));
    s->rows++;
    return 0;
}

Test(orm_iter, atomic_blocks_inside_the_callback)
{
    make_polls(4);
    seen s = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 3, nested_atomic_inside, &s), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(s.rows, 4);
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "text", "x")), 2);
}

Test(orm_iter, an_early_stop_closes_the_cursor)
{
    make_polls(7);
    seen s = {.stop_at = 3};
    cr_expect_eq(mn_qs_iterator(by_id(), 2, count_choices, &s), 7, "fn's code is returned");
    cr_expect_str_eq(s.texts, "q0,q1,q2");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 7, "%s", mn_orm_error(t.o));
    mn_datetime when = {.year = 2024, .month = 1, .day = 1, .aware = true};
    cr_expect_not_null(mn_create(t.o, Question, "text", "late", "pub_date", &when), "%s",
                       mn_orm_error(t.o));
    seen all = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 2, count_choices, &all), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(all.rows, 8, "a new cursor after the stopped one");
    /* stopping inside an atomic block leaves the block usable */
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    seen in = {.stop_at = 1};
    cr_expect_eq(mn_qs_iterator(by_id(), 100, count_choices, &in), 7);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 8, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
}

static int fail_on_third(void *row, void *user)
{
    seen *s = user;
    s->rows++;
    if (s->rows == 3) /* a statement that fails: the block is marked for rollback */
        cr_expect_null(mn_raw(t.o, &Question_model, "SELECT * FROM no_such_table", NULL, 0));
    (void)row;
    return 0;
}

Test(orm_iter, refused_in_a_block_marked_for_rollback)
{
    make_polls(6);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    cr_expect_null(mn_raw(t.o, &Question_model, "SELECT * FROM no_such_table", NULL, 0));
    seen s = {0};
    cr_expect_eq(mn_qs_iterator(by_id(), 2, count_choices, &s), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_eq(s.rows, 0);
    cr_expect(strncmp(mn_orm_error(t.o),
                      "An error occurred in the current transaction. You can't execute queries "
                      "until the end of the 'atomic' block",
                      100) == 0,
              "%s", mn_orm_error(t.o));
    mn_atomic_end(t.o, false);

    /* a statement of the callback fails: the chunk ends, no further fetch runs */
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    seen f = {0};
    cr_expect_eq(mn_qs_iterator(by_id(), 2, fail_on_third, &f), MN_ETRANSACTION_MANAGEMENT);
    cr_expect_eq(f.rows, 4, "the rest of the chunk, then no more");
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "rolled back");
    seen after = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 2, count_choices, &after), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(after.rows, 6);
}

/* An error while the cursor is being read (row 5 divides by zero / is bad JSON): the fetch
 * fails, the cursor is closed, and the connection serves the next statement. */
static void error_mid_cursor(bool in_txn)
{
    mn_dbconn *c = mn_orm_conn(t.o, NULL);
    cr_assert_not_null(c);
    const char *sql = tdb_is_pg(&t) ? "SELECT 10 / (5 - g) FROM generate_series(1, 9) g"
                                    : "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 "
                                      "FROM s WHERE g < 9) SELECT CASE WHEN g < 5 THEN g ELSE "
                                      "json('not json') END FROM s";
    if (in_txn)
        cr_assert_eq(mn_dbconn_begin(c), 0, "%s", mn_dbconn_errmsg(c));
    mn_arena *a = mn_arena_new(0);
    mn_dbcursor *cur = NULL;
    int rc = mn_dbconn_cursor_open(c, a, sql, NULL, 0, &cur);
    size_t got = 0;
    while (rc == 0) {
        mn_dbresult res;
        rc = mn_dbcursor_fetch(cur, a, 2, &res);
        got += res.nrows;
        if (rc == 0 && res.nrows < 2)
            break;
    }
    cr_expect_neq(rc, 0, "the error is reported");
    cr_expect_neq(mn_dbconn_errmsg(c)[0], '\0');
    /* PostgreSQL runs a WITH HOLD cursor's query to the end at DECLARE: the error comes
     * first there; otherwise the rows before the bad one come first */
    if (in_txn || !tdb_is_pg(&t))
        cr_expect_eq(got, 4, "rows before the error");
    mn_dbcursor_close(cur);
    if (in_txn)
        mn_dbconn_rollback(c);
    mn_dbresult res;
    cr_expect_eq(mn_dbconn_exec(c, a, "SELECT 1", NULL, 0, &res), 0, "%s", mn_dbconn_errmsg(c));
    cr_expect_eq(res.nrows, 1);
    mn_arena_free(a);
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 0, "%s", mn_orm_error(t.o));
}

Test(orm_iter, an_error_mid_iteration_closes_the_cursor)
{
    error_mid_cursor(false);
    error_mid_cursor(true);
}

Test(orm_iter, statements_between_fetches_on_the_connection)
{
    make_polls(3);
    mn_dbconn *c = mn_orm_conn(t.o, NULL);
    mn_arena *a = mn_arena_new(0);
    mn_dbcursor *cur = NULL;
    cr_assert_eq(
        mn_dbconn_cursor_open(c, a, "SELECT text FROM polls_question ORDER BY id", NULL, 0, &cur),
        0, "%s", mn_dbconn_errmsg(c));
    mn_dbresult res, nested;
    cr_assert_eq(mn_dbcursor_fetch(cur, a, 1, &res), 0, "%s", mn_dbconn_errmsg(c));
    cr_expect_eq(res.nrows, 1);
    /* the cursor's own SQL, a write and a batch between two fetches */
    cr_assert_eq(
        mn_dbconn_exec(c, a, "SELECT text FROM polls_question ORDER BY id", NULL, 0, &nested), 0,
        "%s", mn_dbconn_errmsg(c));
    cr_expect_eq(nested.nrows, 3);
    cr_assert_eq(mn_dbconn_exec(c, a, "UPDATE polls_choice SET votes = 5", NULL, 0, NULL), 0, "%s",
                 mn_dbconn_errmsg(c));
    mn_dbbatch_item items[2] = {{.sql = "SELECT 1"}, {.sql = "SELECT 2"}};
    cr_assert_eq(mn_dbconn_exec_batch(c, a, items, 2), 0, "%s", mn_dbconn_errmsg(c));
    cr_assert_eq(mn_dbcursor_fetch(cur, a, 5, &res), 0, "%s", mn_dbconn_errmsg(c));
    cr_expect_eq(res.nrows, 2, "the rest of the cursor");
    mn_dbcursor_close(cur);
    mn_arena_free(a);
}

static int count_prefetched(void *row, void *user)
{
    seen *s = user;
    /* the prefetched rows: no query */
    mn_rows *ch = mn_qs_fetch(mn_related(t.o, row, "choices"));
    if (!ch)
        cr_assert_fail("%s", mn_orm_error(t.o));
    s->choices += (int64_t)ch->len;
    s->rows++;
    return 0;
}

Test(orm_iter, prefetch_related_per_chunk)
{
    make_polls(7);
    mn_dblog log;
    mn_dblog_init(&log, t.arena);
    mn_orm_set_log(t.o, &log);
    seen s = {0};
    mn_qs *qs = mn_qs_prefetch_related(by_id(), "choices");
    cr_assert_eq(mn_qs_iterator(qs, 3, count_prefetched, &s), 0, "%s", mn_orm_error(t.o));
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(s.rows, 7);
    cr_expect_eq(s.choices, 6);
    /* the cursor's query once (PostgreSQL's DECLARE; its FETCHes are not separate queries,
     * as in Django's query log), then one prefetch per chunk of 3, 3 and 1 rows */
    cr_expect_eq(log.count, 4);
    for (size_t i = 1; i < log.count; i++)
        cr_expect(strstr(log.entries[i].sql, "polls_choice") != NULL, "%s", log.entries[i].sql);

    /* a full last chunk: the short (empty) fetch after it prefetches nothing */
    log.count = 0;
    mn_orm_set_log(t.o, &log);
    seen e = {0};
    cr_assert_eq(mn_qs_iterator(qs, 7, count_prefetched, &e), 0, "%s", mn_orm_error(t.o));
    mn_orm_set_log(t.o, NULL);
    cr_expect_eq(log.count, 2);
    cr_expect_eq(e.choices, 6);
}

static int touch(void *row, void *user)
{
    int64_t *n = user;
    (*n)++;
    return row ? 0 : 1;
}

Test(orm_iter, memory_stays_bounded_per_chunk)
{
    make_polls(300);
    mn_qs *qs = mn_qs_prefetch_related(by_id(), "choices");
    size_t before = mn_arena_used(t.arena);
    int64_t n = 0;
    cr_assert_eq(mn_qs_iterator(qs, 40, touch, &n), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(n, 300);
    size_t grew = mn_arena_used(t.arena) - before;
    cr_expect_lt(grew, 20000, "rows and prefetches do not pile up in the session (%zu)", grew);

    before = mn_arena_used(t.arena);
    n = 0;
    cr_assert_eq(mn_qs_iterator(mn_qs_values_list(by_id(), "text", true), 40, touch, &n), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(n, 300, "values_list streamed");
    grew = mn_arena_used(t.arena) - before;
    cr_expect_lt(grew, 20000, "values rows do not pile up either (%zu)", grew);
}

static int values_rows(void *row, void *user)
{
    mn_buf *b = user;
    mn_buf_printf(b, "%s;", tdb_repr(&t, row));
    return 0;
}

Test(orm_iter, values_and_values_list_stream)
{
    make_polls(3);
    mn_buf b;
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_qs_iterator(mn_qs_values(by_id(), "text"), 2, values_rows, &b), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_str_eq(mn_buf_cstr(&b), "{'text': 'q0'};{'text': 'q1'};{'text': 'q2'};");
    mn_buf_init(&b, t.arena);
    cr_assert_eq(mn_qs_iterator(mn_qs_values_list(by_id(), "text", true), 2, values_rows, &b), 0,
                 "%s", mn_orm_error(t.o));
    cr_expect_str_eq(mn_buf_cstr(&b), "'q0';'q1';'q2';");
}

/* ---- nested iterators: a cursor each, on the one connection ---- */
typedef struct nest {
    mn_buf out;
    int outer, inner_stops;
} nest;

static int inner_choice(void *row, void *user)
{
    nest *n = user;
    Choice *c = row;
    Question *q = mn_fk_get(t.o, c, "question"); /* a query beside two open cursors */
    if (!q)
        cr_assert_fail("related: %s", mn_orm_error(t.o));
    mn_buf_printf(&n->out, "%s:%d ", q->text, (int)c->votes);
    return strcmp(q->text, "q5") == 0 ? 5 : 0; /* q5: stop after its first choice */
}

static int outer_question(void *row, void *user)
{
    nest *n = user;
    n->outer++;
    mn_qs *choices = mn_qs_order_by(mn_related(t.o, row, "choices"), "id");
    int rc = mn_qs_iterator(choices, 1, inner_choice, n);
    if (rc == 5)
        n->inner_stops++;
    else if (rc != 0)
        cr_assert_fail("inner iterator: %d %s", rc, mn_orm_error(t.o));
    return 0;
}

static void assert_no_cursor_left(void)
{
    mn_dbconn *c = mn_orm_conn(t.o, NULL);
    cr_assert_not_null(c);
    cr_expect_null(c->cursors, "every cursor closed");
    if (tdb_is_pg(&t)) {
        mn_dbresult res;
        cr_assert_eq(mn_dbconn_exec(c, mn_orm_arena(t.o),
                                    "SELECT count(*) FROM pg_cursors WHERE name <> ''", NULL, 0,
                                    &res),
                     0, "%s", mn_dbconn_errmsg(c));
        cr_expect_eq(mn_dbresult_cell(&res, 0, 0)->v.i, 0, "no server-side cursor left");
    }
}

Test(orm_iter, nested_iterators_with_an_early_stop_inside)
{
    make_polls(7); /* q1: 1 choice, q2: 2, q4: 1, q5: 2 (votes 0, 1) */
    for (int in_block = 0; in_block < 2; in_block++) {
        if (in_block)
            cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
        nest n = {.outer = 0};
        mn_buf_init(&n.out, t.arena);
        cr_assert_eq(mn_qs_iterator(by_id(), 2, outer_question, &n), 0, "%s", mn_orm_error(t.o));
        cr_expect_eq(n.outer, 7, "every question (block %d)", in_block);
        cr_expect_eq(n.inner_stops, 1);
        cr_expect_str_eq(mn_buf_cstr(&n.out), "q1:0 q2:0 q2:1 q4:0 q5:0 ", "block %d", in_block);
        assert_no_cursor_left();
        if (in_block)
            cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    }
}

static int stop_outer_in_inner(void *row, void *user)
{
    (void)row;
    int *calls = user;
    return ++*calls == 2 ? 9 : 0;
}

static int outer_stopped_by_inner(void *row, void *user)
{
    int rc = mn_qs_iterator(mn_all(t.o, Question), 1, stop_outer_in_inner, user);
    (void)row;
    return rc; /* the inner stop ends the outer iterator too */
}

Test(orm_iter, an_inner_stop_returned_by_the_outer_callback_closes_both)
{
    make_polls(4);
    int calls = 0;
    cr_expect_eq(mn_qs_iterator(by_id(), 2, outer_stopped_by_inner, &calls), 9);
    cr_expect_eq(calls, 2);
    assert_no_cursor_left();
}

/* ---- writes to the iterated table inside the callback ---- */
static int insert_one(void *row, void *user)
{
    int *rows = user;
    mn_datetime now = {.year = 2024, .month = 4, .day = 2, .aware = true};
    char text[32];
    snprintf(text, sizeof text, "from %s", ((Question *)row)->text);
    if (!mn_create(t.o, Question, "text", text, "pub_date", &now))
        cr_assert_fail("create: %s", mn_orm_error(t.o));
    return ++*rows > 50 ? 50 : 0; /* the guard, should the cursor see its own inserts */
}

/* PostgreSQL's cursor reads a snapshot taken when it was opened: rows the callback inserts
 * into the same table are not iterated (in an atomic block too). SQLite gives no such
 * isolation within a connection (documented; Django's caveat), so this runs on PG only. */
Test(orm_iter, pg_rows_inserted_by_the_callback_are_not_iterated)
{
    if (!tdb_is_pg(&t))
        return;
    make_polls(3);
    int rows = 0;
    cr_assert_eq(mn_qs_iterator(by_id(), 1, insert_one, &rows), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows, 3, "only the rows there at the start");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 6);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    rows = 0;
    cr_assert_eq(mn_qs_iterator(by_id(), 2, insert_one, &rows), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(rows, 6, "inside a block too");
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 12);
}

static int add_vote(void *row, void *user)
{
    int *rows = user;
    Choice *c = row;
    c->votes += 100;
    if (mn_save(t.o, c) != 0)
        cr_assert_fail("save: %s", mn_orm_error(t.o));
    return ++*rows > 50 ? 50 : 0;
}

/* The safe pattern on both databases: updating other columns of the rows already read
 * repeats none of them (SQLite's cursor sees the new values, not new rows). */
Test(orm_iter, updating_the_rows_read_repeats_none)
{
    make_polls(9); /* 9 choices */
    const char *orders[] = {NULL, "-id", "text"};
    for (size_t i = 0; i < 3; i++) {
        mn_qs *qs = mn_all(t.o, Choice);
        if (orders[i])
            qs = mn_qs_order_by(qs, orders[i]);
        int rows = 0;
        cr_assert_eq(mn_qs_iterator(qs, 1, add_vote, &rows), 0, "%s", mn_orm_error(t.o));
        cr_expect_eq(rows, 9, "each choice once (order %s)", orders[i] ? orders[i] : "none");
    }
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Choice), "votes__gte", 300)), 9);
}

/* ---- error paths ---- */
static int kill_connection_inside(void *row, void *user)
{
    (void)row;
    int *calls = user;
    if (++*calls == 2) /* the callback's own statement loses the connection */
        cr_expect_null(
            mn_raw(t.o, &Question_model, "SELECT pg_terminate_backend(pg_backend_pid())", NULL, 0));
    return 0;
}

static int outer_of_killed(void *row, void *user)
{
    (void)row;
    int rc = mn_qs_iterator(mn_all(t.o, Question), 1, kill_connection_inside, user);
    return rc;
}

Test(orm_iter, pg_a_connection_lost_in_the_callback_ends_both_iterators)
{
    if (!tdb_is_pg(&t))
        return;
    make_polls(4);
    int calls = 0;
    int rc = mn_qs_iterator(by_id(), 1, outer_of_killed, &calls);
    cr_expect_eq(rc, MN_EDB_OPERATIONAL, "%d %s", rc, mn_orm_error(t.o));
    cr_expect_eq(calls, 2, "no fetch after the loss");
    /* the next query reconnects (a new session: without the test's search_path) */
    assert_no_cursor_left();
}

static int rollback_savepoint_inside(void *row, void *user)
{
    seen *s = user;
    Question *q = row;
    if (mn_atomic_begin(t.o) != 0) /* a savepoint, in the outer block */
        cr_assert_fail("atomic inside: %s", mn_orm_error(t.o));
    q->text = "gone";
    if (mn_save(t.o, q) != 0)
        cr_assert_fail("save: %s", mn_orm_error(t.o));
    if (mn_atomic_end(t.o, false) != 0) /* rolled back to the savepoint */
        cr_assert_fail("atomic end: %s", mn_orm_error(t.o));
    s->rows++;
    return 0;
}

Test(orm_iter, savepoints_rolled_back_inside_keep_the_cursor_of_the_block)
{
    make_polls(5);
    cr_assert_eq(mn_atomic_begin(t.o), 0);
    seen s = {0};
    cr_assert_eq(mn_qs_iterator(by_id(), 2, rollback_savepoint_inside, &s), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(s.rows, 5, "the cursor outlives the rolled back savepoints");
    cr_assert_eq(mn_atomic_end(t.o, true), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_filter(mn_all(t.o, Question), "text", "gone")), 0);
    assert_no_cursor_left();
}

/* ---- an iterator on another database inside a block on the default one ---- */
static tdb_other other;

static void other_setup(void)
{
    tdb_open(&t);
    tdb_other_open(&t, &other);
}

static void other_teardown(void)
{
    tdb_close(&t);
    tdb_other_close(&other);
}

TestSuite(orm_iter_other, .init = other_setup, .fini = other_teardown);

static int copy_to_default(void *row, void *user)
{
    seen *s = user;
    Question *q = row;
    s->rows++;
    if (s->rows == 1) {
        mn_datetime now = {.year = 2024, .month = 4, .day = 3, .aware = true};
        if (!mn_create(t.o, Question, "text", q->text, "pub_date", &now)) /* on default */
            cr_assert_fail("create on default: %s", mn_orm_error(t.o));
    } else if (s->rows == 2) { /* fails in the default block: that block is marked */
        cr_expect_null(mn_raw(t.o, &Question_model, "SELECT * FROM no_such_table", NULL, 0));
    } else if (mn_qs_count(mn_qs_using(mn_all(t.o, Question), "other")) != 4) {
        cr_assert_fail("a read on other after the failure: %s", mn_orm_error(t.o));
    }
    return 0;
}

Test(orm_iter_other, an_iterator_on_other_inside_a_default_block)
{
    mn_datetime when = {.year = 2024, .month = 4, .day = 1, .aware = true};
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(mn_qs_create(mn_qs_using(mn_all(t.o, Question), "other"), "text",
                                        i % 2 ? "odd" : "even", "pub_date", &when),
                           "%s", mn_orm_error(t.o));
    cr_assert_eq(mn_atomic_begin(t.o), 0, "%s", mn_orm_error(t.o));
    seen s = {0};
    /* the default block's failure marks that block only: the cursor on "other" reads on,
     * and so do the callback's reads there */
    cr_expect_eq(mn_qs_iterator(mn_qs_using(by_id(), "other"), 1, copy_to_default, &s), 0, "%s",
                 mn_orm_error(t.o));
    cr_expect_eq(s.rows, 4);
    cr_expect_eq(mn_atomic_end(t.o, true), MN_ETRANSACTION_MANAGEMENT, "rolled back");
    cr_expect_eq(mn_qs_count(mn_all(t.o, Question)), 0, "%s", mn_orm_error(t.o));
    cr_expect_eq(mn_qs_count(mn_qs_using(mn_all(t.o, Question), "other")), 4, "%s",
                 mn_orm_error(t.o));
    mn_dbconn *c = mn_orm_conn(t.o, "other");
    cr_assert_not_null(c);
    cr_expect_null(c->cursors, "the cursor on other closed");
}
