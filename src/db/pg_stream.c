/* pg_stream.c — the two ways a PostgreSQL connection answers other than one result per
 * statement: streaming (single-row mode, for cursors over results too large to hold) and
 * pipelining (many statements in one round trip, for batches). Both build on the waiting
 * and error helpers of pg_conn.c. */
#include "pg_internal.h"

#include <string.h>

/* ---- streaming ---- */

enum { DRAIN_LIMIT = 1000 }; /* rows of an abandoned stream read before starting afresh */

int mn__pg_stream_open(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                       const char *const *values, const int *lengths, const int *formats)
{
    c->sqlstate[0] = c->message[0] = '\0';
    if (c->broken) {
        mn__pg_set_error(c, "08003", "the connection to the PostgreSQL server is broken");
        return MN_EIO;
    }
    c->stream_in_txn = PQtransactionStatus(c->pg) != PQTRANS_IDLE;
    int rc = mn__pg_send_unnamed(c, sql, nparams, types, values, lengths, formats, false);
    if (rc != MN_OK)
        return rc;
    if (!PQsetSingleRowMode(c->pg)) {
        /* Only fails if called at the wrong moment: a bug here, not the server's. */
        mn__pg_set_error(c, "XX000", "cannot stream this query (single-row mode refused)");
        c->broken = true;
        return MN_EIO;
    }
    rc = mn__pg_flush(c, mn__pg_io_deadline(c));
    if (rc == MN_OK)
        c->streaming = true;
    return rc;
}

/* Reads results until the NULL that ends the query (discarding them). With give_up, stops
 * after DRAIN_LIMIT rows and returns MN_ETOOBIG instead. */
static int drain(mn__pg_conn *c, int64_t deadline, bool give_up)
{
    for (long n = 0;; n++) {
        if (give_up && n == DRAIN_LIMIT)
            return MN_ETOOBIG;
        int w = mn__pg_await(c, deadline);
        if (w != MN_OK)
            return w;
        PGresult *res = PQgetResult(c->pg);
        if (!res)
            return MN_OK;
        PQclear(res);
    }
}

int mn__pg_stream_next(mn__pg_conn *c, PGresult **row)
{
    *row = NULL;
    if (!c->streaming)
        return MN_OK;
    int64_t deadline = mn__pg_io_deadline(c);
    int w = mn__pg_await(c, deadline);
    if (w != MN_OK) {
        c->streaming = false;
        return w;
    }
    PGresult *res = PQgetResult(c->pg);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_TUPLES_OK;
    if (st == PGRES_SINGLE_TUPLE) {
        *row = res;
        return MN_OK;
    }
    /* The end (PGRES_TUPLES_OK with no rows) or an error: finish the query either way. */
    c->streaming = false;
    int rc = MN_OK;
    if (res && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        rc = mn__pg_result_error(c, res);
    PQclear(res);
    if (res) {
        int d = drain(c, deadline, false);
        if (d != MN_OK)
            return d;
    }
    return rc;
}

void mn__pg_stream_close(mn__pg_conn *c)
{
    if (!c->streaming)
        return;
    c->streaming = false;
    /* Inside a transaction the rest must be read (a new session would lose the transaction);
     * outside one, a large remainder is cheaper to drop with the session than to read. */
    int rc = drain(c, mn__pg_io_deadline(c), !c->stream_in_txn);
    if (rc == MN_ETOOBIG)
        mn__pg_reconnect(c);
    else if (rc != MN_OK)
        c->broken = true;
    c->sqlstate[0] = c->message[0] = '\0';
}

/* ---- pipelined batches ---- */

int mn__pg_pipeline_send(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                         const char *const *values, const int *lengths, const int *formats)
{
    if (!PQsendQueryParams(c->pg, sql, nparams, types, values, lengths, formats, 0))
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

    /* Each statement yields its result then NULL; the sync yields PGRES_PIPELINE_SYNC. */
    int first_error = MN_OK;
    for (int i = 0; i <= n && rc == MN_OK; i++) {
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
