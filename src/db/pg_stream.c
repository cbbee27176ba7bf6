/* pg_stream.c — the two ways a PostgreSQL connection answers other than one result per
 * statement: server-side cursors (DECLARE / FETCH / CLOSE, for results too large to hold,
 * leaving the connection free for other statements between fetches) and pipelining (many
 * statements in one round trip, for batches). Both build on the waiting and error helpers
 * of pg_conn.c. */
#include "pg_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- server-side cursors ---- */

/* Runs one statement as the unnamed statement, never prepared: a cursor's statements carry
 * its name, so their text is new for every cursor and would only fill the statement cache.
 * *out (may be NULL) gets the result for the caller to PQclear. */
static int run_unnamed(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                       const char *const *values, const int *lengths, const int *formats,
                       PGresult **out)
{
    if (out)
        *out = NULL;
    c->sqlstate[0] = c->message[0] = '\0';
    if (c->broken) {
        mn__pg_set_error(c, "08003", "the connection to the PostgreSQL server is broken");
        return MN_EIO;
    }
    int64_t deadline = mn__pg_io_deadline(c);
    int rc = mn__pg_send_unnamed(c, sql, nparams, types, values, lengths, formats, false);
    if (rc == MN_OK)
        rc = mn__pg_flush(c, deadline);
    if (rc != MN_OK)
        return rc;
    PGresult *keep = NULL;
    int err = MN_OK;
    for (;;) {
        int w = mn__pg_await(c, deadline); /* a lost or silent server: broken, no hang */
        if (w != MN_OK) {
            PQclear(keep);
            return w;
        }
        PGresult *res = PQgetResult(c->pg);
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (err == MN_OK && (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE)) {
            err = mn__pg_result_error(c, res);
        } else if (err == MN_OK && !keep) {
            keep = res;
            continue;
        }
        PQclear(res);
    }
    if (err == MN_OK && !keep) {
        mn__pg_set_error(c, "XX000", "the server sent no result");
        err = MN_EIO;
    }
    if (err != MN_OK || !out)
        PQclear(keep);
    else
        *out = keep;
    return err;
}

int mn__pg_cursor_declare(mn__pg_conn *c, char *name, size_t namelen, const char *sql, int nparams,
                          const Oid *types, const char *const *values, const int *lengths,
                          const int *formats)
{
    /* Outside a transaction block the cursor must outlive the DECLARE's own implicit
     * transaction: WITH HOLD, which makes the server run the query to the end and keep the
     * rows when that transaction commits (as Django's iterator() does). */
    bool hold = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    snprintf(name, namelen, "_mn_curs_%u", ++c->cursor_seq);
    static const char fmt[] = "DECLARE %s NO SCROLL CURSOR%s FOR %s";
    size_t len = sizeof fmt + strlen(name) + strlen(sql) + 16;
    char *stmt = mn_malloc(len);
    if (!stmt)
        return MN_ENOMEM;
    snprintf(stmt, len, fmt, name, hold ? " WITH HOLD" : "", sql);
    int rc = run_unnamed(c, stmt, nparams, types, values, lengths, formats, NULL);
    mn_free(stmt);
    return rc;
}

int mn__pg_cursor_fetch(mn__pg_conn *c, const char *name, size_t max_rows, PGresult **res)
{
    char sql[96];
    snprintf(sql, sizeof sql, "FETCH FORWARD %zu FROM %s", max_rows, name);
    return run_unnamed(c, sql, 0, NULL, NULL, NULL, NULL, res);
}

void mn__pg_cursor_close(mn__pg_conn *c, const char *name)
{
    /* Nothing to close on a lost connection (the server dropped the cursor with the
     * session); inside a failed transaction the CLOSE is refused, and the rollback that must
     * follow drops the cursor, which belongs to that transaction. */
    if (c->broken)
        return;
    char sql[64];
    snprintf(sql, sizeof sql, "CLOSE %s", name);
    char state[6], message[sizeof c->message];
    memcpy(state, c->sqlstate, sizeof state);
    memcpy(message, c->message, sizeof message);
    (void)run_unnamed(c, sql, 0, NULL, NULL, NULL, NULL, NULL);
    /* keep the error that ended the iteration, if any, for the caller */
    memcpy(c->sqlstate, state, sizeof state);
    memcpy(c->message, message, sizeof message);
}

/* ---- pipelined batches ---- */

int mn__pg_pipeline_send(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                         const char *const *values, const int *lengths, const int *formats)
{
    if (!PQsendQueryParams(c->pg, sql, nparams, types, values, lengths, formats, 0))
        return mn__pg_lost(c, MN_EIO);
    /* The server keeps a pipeline's results until the sync unless asked: with a client-side
     * deadline (a statement timeout), each result must come as its statement ends, so that a
     * long batch of quick statements is not taken for a silent server. */
    if (c->io_timeout_ms >= 0 && !PQsendFlushRequest(c->pg))
        return mn__pg_lost(c, MN_EIO);
    /* Keep the socket moving so a long batch never waits on a full buffer at the end. */
    if (PQflush(c->pg) < 0)
        return mn__pg_lost(c, MN_EIO);
    return MN_OK;
}

int mn__pg_batch(mn__pg_conn *c, int n, int (*send)(void *arg, int i), void *arg,
                 PGresult **results)
{
    c->sqlstate[0] = c->message[0] = '\0';
    for (int i = 0; i < n; i++)
        results[i] = NULL;
    if (n == 0)
        return MN_OK;
    if (c->broken) {
        mn__pg_set_error(c, "08003", "the connection to the PostgreSQL server is broken");
        return MN_EIO;
    }
    int64_t deadline = mn__pg_io_deadline(c);
    if (!PQenterPipelineMode(c->pg)) {
        mn__pg_set_error(c, "08000", "cannot enter pipeline mode: %s", PQerrorMessage(c->pg));
        return MN_EIO;
    }
    int rc = MN_OK, sent = 0;
    for (; sent < n && rc == MN_OK; sent++)
        rc = send(arg, sent);
    if (rc != MN_OK) {
        /* The caller could not queue an item (out of memory): what was queued cannot be
         * taken back, so give up the session. */
        c->broken = true;
        return rc;
    }
    if (rc == MN_OK && !PQpipelineSync(c->pg))
        rc = mn__pg_lost(c, MN_EIO);
    if (rc == MN_OK)
        rc = mn__pg_flush(c, deadline);

    /* Each statement yields its result then NULL; the sync yields PGRES_PIPELINE_SYNC. The
     * deadline is each statement's, as the server's statement_timeout: a batch of many may
     * take longer in all. The first counts from the end of sending too, which mn__pg_flush
     * lets run past one deadline while the socket moves. */
    int first_error = MN_OK;
    for (int i = 0; i <= n && rc == MN_OK; i++) {
        deadline = mn__pg_io_deadline(c);
        int w = mn__pg_await(c, deadline);
        if (w != MN_OK) {
            rc = w;
            break;
        }
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            rc = mn__pg_lost(c, MN_EPROTO);
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            if (i != n)
                rc = mn__pg_lost(c, MN_EPROTO);
            break;
        }
        if (i == n) { /* more results than statements: out of sync */
            PQclear(r);
            rc = mn__pg_lost(c, MN_EPROTO);
            break;
        }
        if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else {
            results[i] = r;
            if (st == PGRES_FATAL_ERROR && first_error == MN_OK)
                first_error = mn__pg_result_error(c, r);
        }
        /* The NULL that ends this statement's results. */
        w = mn__pg_await(c, deadline);
        if (w != MN_OK) {
            rc = w;
            break;
        }
        PGresult *end = PQgetResult(c->pg);
        if (end) {
            PQclear(end);
            rc = mn__pg_lost(c, MN_EPROTO);
            break;
        }
    }
    if (rc == MN_OK && !PQexitPipelineMode(c->pg))
        rc = mn__pg_lost(c, MN_EPROTO);
    if (rc != MN_OK) {
        c->broken = true;
        for (int i = 0; i < n; i++) {
            PQclear(results[i]);
            results[i] = NULL;
        }
        return rc;
    }
    return first_error;
}
