/* pg.c — the PostgreSQL driver behind db.h: maps mn_dbparam/mn_dbresult and the PEP 249
 * error kinds onto the non-blocking connection of pg_conn.c, pooled by pool.c.
 *
 * The idea: values travel in libpq's text format both ways (bytea parameters go binary), and
 * a result's text cells are not copied: the PGresult is kept alive until the caller's arena
 * is reset (mn_arena_defer), and text cells point straight into it. Numbers, booleans and
 * bytea are decoded into typed cells; exact types (numeric, dates, uuid, json) stay text, as
 * db.h asks. Every session runs in UTC with ISO dates, so what the ORM parses is stable. */
#include <manouche/db.h>

#include "pg_internal.h"
#include "pool.h"

#include <manouche/rt.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Type OIDs from the server's pg_type.dat, stable across versions. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
};

enum { YIELD_ROWS = 8192 }; /* rows decoded between two yields to the loop (a power of two) */

typedef struct pg_dbconn {
    mn_dbconn base;     /* first: db.c casts between the two */
    mn__pool_item link; /* the pool's idle list */
    mn__pg_conn *pg;
    /* Scratch for binding parameters, reused across statements. */
    mn_buf text; /* every text parameter, NUL-terminated, back to back */
    size_t cap;  /* capacity of the arrays below */
    const char **values;
    int *lengths, *formats;
    Oid *types;
    size_t *offs;        /* where each text parameter starts in text (SIZE_MAX: NULL) */
    int64_t released_ms; /* when it last went back to the pool (mn__pg_clock_ms: the real
                            clock, as a loop iteration may block for a long time) */
} pg_dbconn;

typedef struct pg_pool {
    mn__pool *pool;
    mn_db *db;
    pid_t pid;       /* the process the connections belong to */
    bool abandoning; /* freeing connections inherited across fork() */
} pg_pool;

#define CONN_OF(item) ((pg_dbconn *)((char *)(item)-offsetof(pg_dbconn, link)))

/* ---- errors ---- */

static mn_dberr_kind kind_of(const char *sqlstate)
{
    switch (mn__pg_classify(sqlstate)) {
    case MN__PG_ERR_NONE: return MN_DBERR_NONE;
    case MN__PG_ERR_INTEGRITY: return MN_DBERR_INTEGRITY;
    case MN__PG_ERR_PROGRAMMING: return MN_DBERR_PROGRAMMING;
    case MN__PG_ERR_DATA: return MN_DBERR_DATA;
    case MN__PG_ERR_NOT_SUPPORTED: return MN_DBERR_NOT_SUPPORTED;
    case MN__PG_ERR_OPERATIONAL:
    case MN__PG_ERR_INTERNAL: break;
    }
    /* db.h has no InternalError; like a lost connection it is something the caller cannot
     * fix by changing the query. */
    return MN_DBERR_OPERATIONAL;
}

/* Copies the connection's last error onto the mn_dbconn and returns the MN_EDB_* code. */
static int fail(pg_dbconn *c, int rc)
{
    if (rc == MN_ENOMEM)
        return mn__dbconn_set_error(&c->base, MN_DBERR_OPERATIONAL, NULL, "out of memory"),
               MN_ENOMEM;
    c->base.broken = c->pg->broken;
    const char *state = c->pg->sqlstate;
    mn_dberr_kind kind = rc == MN_ETIMEDOUT ? MN_DBERR_OPERATIONAL : kind_of(state);
    /* A protocol violation on a connection that is still fine was caused by the request
     * itself (for example fewer parameters than placeholders): the caller's mistake. */
    if (strcmp(state, "08P01") == 0 && !c->base.broken)
        kind = MN_DBERR_PROGRAMMING;
    return mn__dbconn_set_error(&c->base, kind, state, "%s",
                                c->pg->message[0] ? c->pg->message : mn_strerror(rc));
}

/* ---- parameters ---- */

static int grow_params(pg_dbconn *c, size_t n)
{
    if (n <= c->cap)
        return MN_OK;
    size_t cap = c->cap ? c->cap : 8;
    while (cap < n)
        cap *= 2;
    const char **values = mn_realloc(c->values, cap * sizeof *values);
    if (values)
        c->values = values;
    int *lengths = mn_realloc(c->lengths, cap * sizeof *lengths);
    if (lengths)
        c->lengths = lengths;
    int *formats = mn_realloc(c->formats, cap * sizeof *formats);
    if (formats)
        c->formats = formats;
    Oid *types = mn_realloc(c->types, cap * sizeof *types);
    if (types)
        c->types = types;
    size_t *offs = mn_realloc(c->offs, cap * sizeof *offs);
    if (offs)
        c->offs = offs;
    if (!values || !lengths || !formats || !types || !offs)
        return MN_ENOMEM;
    c->cap = cap;
    return MN_OK;
}

/* Text for a double that reads back as the same double (and PostgreSQL's spellings of the
 * special values). */
static int put_double(mn_buf *b, double f)
{
    if (isnan(f))
        return mn_buf_puts(b, "NaN");
    if (isinf(f))
        return mn_buf_puts(b, f > 0 ? "Infinity" : "-Infinity");
    return mn_buf_printf(b, "%.17g", f);
}

/* An integer in decimal, written straight into the buffer (the pk of every lookup goes
 * through here; mn_buf_put_i64 costs twice as much). */
static int put_int(mn_buf *b, int64_t v)
{
    if (mn_buf_reserve(b, 20) != MN_OK)
        return MN_ENOMEM;
    char digits[20];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    char *p = b->data + b->len;
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = digits[--n];
    b->len = (size_t)(p - b->data);
    return MN_OK;
}

/* Refuses what PostgreSQL cannot take, before anything is sent. */
static int check_params(pg_dbconn *c, const mn_dbparam *params, size_t n)
{
    if (n > 65535)
        return mn__dbconn_set_error(&c->base, MN_DBERR_PROGRAMMING, "54000",
                                    "too many parameters (%zu; PostgreSQL allows 65535)", n);
    for (size_t i = 0; i < n; i++) {
        const mn_dbparam *p = &params[i];
        switch (p->type) {
        case MN_DBT_NULL:
        case MN_DBT_INT:
        case MN_DBT_BOOL:
        case MN_DBT_FLOAT: break;
        case MN_DBT_TEXT:
            if (memchr(p->v.s.ptr, '\0', p->v.s.len))
                return mn__dbconn_set_error(&c->base, MN_DBERR_DATA, "22021",
                                            "parameter %zu: text contains a NUL byte, which "
                                            "PostgreSQL cannot store (use a blob)",
                                            i + 1);
            break;
        case MN_DBT_BLOB:
            if (p->v.s.len > INT32_MAX)
                return mn__dbconn_set_error(&c->base, MN_DBERR_DATA, "54000",
                                            "parameter %zu: blob over 2 GiB", i + 1);
            break;
        default:
            return mn__dbconn_set_error(&c->base, MN_DBERR_PROGRAMMING, NULL,
                                        "parameter %zu: unknown type %d", i + 1, (int)p->type);
        }
    }
    return MN_OK;
}

/* Fills c->values/lengths/formats/types from params (already checked). Text values are copied
 * NUL-terminated into c->text (libpq reads text parameters up to the NUL); blobs are sent
 * binary, in place. 0 or MN_ENOMEM. */
static int bind(pg_dbconn *c, const mn_dbparam *params, size_t n)
{
    if (grow_params(c, n) != MN_OK)
        return MN_ENOMEM;
    mn_buf_reset(&c->text);
    size_t *off = c->offs;
    for (size_t i = 0; i < n; i++) {
        const mn_dbparam *p = &params[i];
        c->formats[i] = 0;
        c->lengths[i] = 0;
        c->types[i] = 0; /* unknown: the server infers the type from the context */
        off[i] = SIZE_MAX;
        int rc = MN_OK;
        switch (p->type) {
        case MN_DBT_INT:
            off[i] = c->text.len;
            rc = put_int(&c->text, p->v.i);
            break;
        case MN_DBT_BOOL:
            off[i] = c->text.len;
            c->types[i] = OID_BOOL;
            rc = mn_buf_puts(&c->text, p->v.i ? "t" : "f");
            break;
        case MN_DBT_FLOAT:
            off[i] = c->text.len;
            rc = put_double(&c->text, p->v.f);
            break;
        case MN_DBT_TEXT:
            off[i] = c->text.len;
            rc = mn_buf_put_str(&c->text, p->v.s);
            break;
        case MN_DBT_BLOB:
            c->types[i] = OID_BYTEA;
            c->formats[i] = 1;
            c->lengths[i] = (int)p->v.s.len;
            c->values[i] = p->v.s.ptr;
            break;
        default: break; /* NULL */
        }
        if (rc == MN_OK && off[i] != SIZE_MAX)
            rc = mn_buf_putc(&c->text, '\0');
        if (rc != MN_OK)
            return MN_ENOMEM;
    }
    /* The buffer has stopped moving: point into it. */
    for (size_t i = 0; i < n; i++) {
        if (params[i].type == MN_DBT_BLOB)
            continue;
        c->values[i] = off[i] == SIZE_MAX ? NULL : c->text.data + off[i];
    }
    return MN_OK;
}

/* ---- results ---- */

static int hexdigit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* bytea's text output (bytea_output = hex, the default since 9.0): "\x" then hex pairs. */
static int decode_bytea(mn_arena *arena, const char *s, size_t n, mn_dbcell *cell)
{
    if (n < 2 || s[0] != '\\' || s[1] != 'x')
        return MN_EPROTO;
    size_t len = (n - 2) / 2;
    unsigned char *out = mn_arena_alloc(arena, len + 1);
    if (!out)
        return MN_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        int hi = hexdigit(s[2 + 2 * i]), lo = hexdigit(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return MN_EPROTO;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    out[len] = '\0';
    cell->type = MN_DBT_BLOB;
    cell->v.s = (mn_str){(const char *)out, len};
    return MN_OK;
}

/* PostgreSQL's integer output: an optional '-' and digits. Up to 18 digits cannot overflow,
 * so they skip mn_str_to_i64's per-digit overflow check. */
static int parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = n && s[0] == '-';
    if (n - i == 0 || n - i > 18)
        return mn_str_to_i64((mn_str){s, n}, out) == MN_OK ? MN_OK : MN_EPROTO;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return MN_EPROTO;
        v = v * 10 + d;
    }
    *out = s[0] == '-' ? -(int64_t)v : (int64_t)v;
    return MN_OK;
}

static int decode_cell(mn_arena *arena, Oid type, const char *s, size_t n, mn_dbcell *cell)
{
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID: cell->type = MN_DBT_INT; return parse_int(s, n, &cell->v.i);
    case OID_BOOL:
        cell->type = MN_DBT_INT;
        cell->v.i = s[0] == 't';
        return MN_OK;
    case OID_FLOAT4:
    case OID_FLOAT8: {
        char *end;
        errno = 0;
        cell->type = MN_DBT_FLOAT;
        cell->v.f = strtod(s, &end); /* strtod reads "Infinity", "-Infinity" and "NaN" */
        return end == s + n ? MN_OK : MN_EPROTO;
    }
    case OID_BYTEA: return decode_bytea(arena, s, n, cell);
    default:
        /* Borrowed from the PGresult, which lives as long as the arena. */
        cell->type = MN_DBT_TEXT;
        cell->v.s = (mn_str){s, n};
        return MN_OK;
    }
}

static void clear_result(void *res)
{
    PQclear(res);
}

static int fill_rows(pg_dbconn *c, mn_arena *arena, PGresult *res, size_t first, size_t nrows,
                     mn_dbresult *out, size_t *cap, bool copy);

/* Appends the rows of res to out (cells grown in the arena) and takes ownership of res.
 * Without copy, text cells point into res, which the arena keeps until it is reset (one
 * result holding many rows); with copy, text is copied and res freed at once (the one-row
 * results of a stream, each of which costs libpq a whole block). */
static int append_rows(pg_dbconn *c, mn_arena *arena, PGresult *res, mn_dbresult *out, size_t *cap,
                       bool copy)
{
    int rc = copy ? MN_OK : mn_arena_defer(arena, clear_result, res);
    if (rc != MN_OK) {
        PQclear(res);
        return MN_ENOMEM;
    }
    rc = fill_rows(c, arena, res, 0, (size_t)PQntuples(res), out, cap, copy);
    if (copy)
        PQclear(res);
    return rc;
}

/* Rows first .. first + nrows - 1 of res. */
static int fill_rows(pg_dbconn *c, mn_arena *arena, PGresult *res, size_t first, size_t nrows,
                     mn_dbresult *out, size_t *cap, bool copy)
{
    size_t ncols = (size_t)PQnfields(res);
    if (!out->colnames && ncols) {
        mn_str *names = mn_arena_alloc(arena, ncols * sizeof *names);
        if (!names)
            return MN_ENOMEM;
        for (size_t j = 0; j < ncols; j++) {
            names[j] = mn_str_from(PQfname(res, (int)j));
            if (copy && !(names[j].ptr = mn_arena_strndup(arena, names[j].ptr, names[j].len)))
                return MN_ENOMEM;
        }
        out->colnames = names;
        out->ncols = ncols;
    }
    if (nrows == 0)
        return MN_OK;
    mn_dbcell *rows = mn__dbresult_grow(out, arena, cap, nrows);
    if (!rows)
        return MN_ENOMEM;
    for (size_t i = 0; i < nrows; i++) {
        /* The rows arrived while the coroutine was parked; decoding 100,000 of them is tens
         * of milliseconds of CPU: let the other requests run now and then. */
        if ((i & (YIELD_ROWS - 1)) == YIELD_ROWS - 1 && mn_coro_current())
            mn_coro_yield();
        mn_dbcell *row = rows + i * ncols;
        int r = (int)(first + i);
        for (size_t j = 0; j < ncols; j++) {
            if (PQgetisnull(res, r, (int)j)) {
                row[j] = (mn_dbcell){.type = MN_DBT_NULL};
                continue;
            }
            const char *s = PQgetvalue(res, r, (int)j);
            size_t n = (size_t)PQgetlength(res, r, (int)j);
            int rc = decode_cell(arena, PQftype(res, (int)j), s, n, &row[j]);
            if (rc == MN_OK && copy && row[j].type == MN_DBT_TEXT &&
                !(row[j].v.s.ptr = mn_arena_strndup(arena, s, n)))
                rc = MN_ENOMEM;
            if (rc == MN_ENOMEM)
                return rc;
            if (rc != MN_OK)
                return mn__dbconn_set_error(&c->base, MN_DBERR_DATA, NULL,
                                            "column '%s': cannot read the value '%.40s' of "
                                            "type %u",
                                            PQfname(res, (int)j), s, PQftype(res, (int)j));
        }
    }
    out->nrows += nrows;
    return MN_OK;
}

static int64_t affected(PGresult *res)
{
    const char *t = PQcmdTuples(res);
    return t && *t ? strtoll(t, NULL, 10) : 0;
}

/* ---- driver entry points ---- */

static int pg_exec(mn_dbconn *conn, mn_arena *arena, const char *sql, const mn_dbparam *params,
                   size_t nparams, mn_dbresult *out)
{
    pg_dbconn *c = (pg_dbconn *)conn;
    int rc = check_params(c, params, nparams);
    if (rc != MN_OK)
        return rc;
    if (bind(c, params, nparams) != MN_OK)
        return fail(c, MN_ENOMEM);
    PGresult *res = NULL;
    rc = mn__pg_exec(c->pg, sql, (int)nparams, c->types, c->values, c->lengths, c->formats, false,
                     &res);
    if (rc != MN_OK)
        return fail(c, rc);
    out->rows_affected = affected(res);
    if (!arena || PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return MN_OK;
    }
    size_t cap = 0;
    return append_rows(c, arena, res, out, &cap, false);
}

static int pg_exec_script(mn_dbconn *conn, const char *sql)
{
    pg_dbconn *c = (pg_dbconn *)conn;
    PGresult *res = NULL;
    int rc = mn__pg_exec(c->pg, sql, 0, NULL, NULL, NULL, NULL, true, &res);
    PQclear(res);
    return rc == MN_OK ? MN_OK : fail(c, rc);
}

/* A cursor: a server-side cursor of that name (unique on the connection), read FETCH by
 * FETCH; or, with the database's disable_server_side_cursors, the whole result read at open
 * and handed out max_rows at a time. */
typedef struct pg_cursor {
    mn_dbcursor base; /* first: db.c allocates and links it */
    char name[32];
    bool done;       /* a FETCH came back short: nothing left to ask for */
    PGresult *held;  /* client-side: the whole result, freed at close */
    size_t held_row; /* client-side: the next row to hand out */
} pg_cursor;

static int pg_cursor_open(mn_dbcursor *base, const char *sql, const mn_dbparam *params,
                          size_t nparams)
{
    pg_cursor *cur = (pg_cursor *)base;
    pg_dbconn *c = (pg_dbconn *)base->conn;
    int rc = check_params(c, params, nparams);
    if (rc != MN_OK)
        return rc;
    if (bind(c, params, nparams) != MN_OK)
        return fail(c, MN_ENOMEM);
    /* As Django's DISABLE_SERVER_SIDE_CURSORS, for a pooler in transaction mode (PgBouncer),
     * where a cursor would not outlive the server connection of its transaction: the rows
     * come at once, as those of mn_dbconn_exec, and no DECLARE is sent. */
    if (base->conn->db->config.disable_server_side_cursors) {
        rc = mn__pg_exec(c->pg, sql, (int)nparams, c->types, c->values, c->lengths, c->formats,
                         false, &cur->held); /* held stays NULL on failure, as in pg_exec */
        return rc == MN_OK ? MN_OK : fail(c, rc);
    }
    /* The parameters go with the DECLARE exactly as with any statement (same types and
     * formats), so the rows decode as those of mn_dbconn_exec. */
    rc = mn__pg_cursor_declare(c->pg, cur->name, sizeof cur->name, sql, (int)nparams, c->types,
                               c->values, c->lengths, c->formats);
    return rc == MN_OK ? MN_OK : fail(c, rc);
}

/* The next max_rows rows of a client-side cursor's result, text copied into arena (the
 * result lives until the cursor is closed, the chunk only until arena is reset). */
static int held_fetch(pg_dbconn *c, pg_cursor *cur, mn_arena *arena, size_t max_rows,
                      mn_dbresult *out)
{
    size_t total = (size_t)PQntuples(cur->held), first = cur->held_row;
    size_t n = total - first < max_rows ? total - first : max_rows;
    cur->held_row += n;
    if (!arena)
        return MN_OK;
    size_t cap = 0;
    int rc = fill_rows(c, arena, cur->held, first, n, out, &cap, true);
    return rc == MN_ENOMEM ? fail(c, rc) : rc;
}

static int pg_cursor_fetch(mn_dbcursor *base, mn_arena *arena, size_t max_rows, mn_dbresult *out)
{
    pg_cursor *cur = (pg_cursor *)base;
    pg_dbconn *c = (pg_dbconn *)base->conn;
    if (cur->held)
        return held_fetch(c, cur, arena, max_rows, out);
    if (cur->done)
        return MN_OK;
    PGresult *res = NULL;
    int rc = mn__pg_cursor_fetch(c->pg, cur->name, max_rows, &res);
    if (rc != MN_OK) {
        cur->done = true;
        return fail(c, rc);
    }
    if ((size_t)PQntuples(res) < max_rows)
        cur->done = true;
    if (!arena) {
        PQclear(res);
        return MN_OK;
    }
    /* One result per chunk: its cells point into it, freed when the chunk's arena resets. */
    size_t cap = 0;
    rc = append_rows(c, arena, res, out, &cap, false);
    return rc == MN_ENOMEM ? fail(c, rc) : rc;
}

static void pg_cursor_close(mn_dbcursor *base)
{
    pg_cursor *cur = (pg_cursor *)base;
    pg_dbconn *c = (pg_dbconn *)base->conn;
    if (cur->held) {
        PQclear(cur->held);
        cur->held = NULL;
        return;
    }
    mn__pg_cursor_close(c->pg, cur->name);
    c->base.broken = c->pg->broken;
}

/* ---- batches (pipeline mode) ---- */

typedef struct batch_ctx {
    pg_dbconn *c;
    mn_dbbatch_item *items;
} batch_ctx;

static int batch_send(void *arg, int i)
{
    batch_ctx *b = arg;
    mn_dbbatch_item *it = &b->items[i];
    if (bind(b->c, it->params, it->nparams) != MN_OK)
        return MN_ENOMEM;
    return mn__pg_pipeline_send(b->c->pg, it->sql, (int)it->nparams, b->c->types, b->c->values,
                                b->c->lengths, b->c->formats);
}

static int pg_exec_batch(mn_dbconn *conn, mn_arena *arena, mn_dbbatch_item *items, size_t n)
{
    pg_dbconn *c = (pg_dbconn *)conn;
    if (n > INT32_MAX)
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL, "batch too large");
    /* Everything is checked before the first statement goes out. */
    for (size_t i = 0; i < n; i++) {
        int rc = check_params(c, items[i].params, items[i].nparams);
        if (rc != MN_OK) {
            char state[sizeof conn->sqlstate], msg[sizeof conn->errmsg];
            memcpy(state, conn->sqlstate, sizeof state);
            memcpy(msg, conn->errmsg, sizeof msg);
            mn__dbconn_set_error(conn, conn->err_kind, state, "batch item %zu: %s", i + 1, msg);
            return items[i].status = rc;
        }
    }
    PGresult **results = mn_calloc(n ? n : 1, sizeof *results);
    if (!results)
        return fail(c, MN_ENOMEM);
    batch_ctx b = {c, items};
    int rc = mn__pg_batch(c->pg, (int)n, batch_send, &b, results);
    int first = MN_OK;
    if (rc != MN_OK)
        first = fail(c, rc);
    for (size_t i = 0; i < n; i++) {
        PGresult *res = results[i];
        if (!res)
            continue; /* skipped: status stays MN_ECANCELED */
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            items[i].status = first;
            PQclear(res);
            continue;
        }
        items[i].result.rows_affected = affected(res);
        items[i].status = MN_OK;
        if (!arena || st != PGRES_TUPLES_OK) {
            PQclear(res);
            continue;
        }
        size_t cap = 0;
        int r = append_rows(c, arena, res, &items[i].result, &cap, false);
        if (r != MN_OK) {
            items[i].status = r;
            if (first == MN_OK)
                first = r == MN_ENOMEM ? fail(c, r) : r;
        }
    }
    mn_free(results);
    return first;
}

/* ---- pool glue ---- */

static void conn_free(pg_dbconn *c)
{
    mn__pg_close(c->pg);
    mn_buf_free(&c->text);
    mn_free(c->values);
    mn_free(c->lengths);
    mn_free(c->formats);
    mn_free(c->types);
    mn_free(c->offs);
    mn_free(c);
}

/* Appends key=value when value is non-empty. */
static void add_kv(const char **k, const char **v, size_t *n, const char *key, const char *value)
{
    if (value && *value) {
        k[*n] = key;
        v[(*n)++] = value;
    }
}

/* libpq keywords from the parsed URL; the query string's key=value pairs pass through. */
static int conninfo(mn_db *db, mn_arena *a, const char ***keys, const char ***vals)
{
    const mn_dburl *u = &db->url;
    size_t max = 16;
    for (const char *p = u->options; p && *p; p++)
        max += *p == '&';
    const char **k = mn_arena_calloc(a, max, sizeof *k);
    const char **v = mn_arena_calloc(a, max, sizeof *v);
    if (!k || !v)
        return MN_ENOMEM;
    size_t n = 0;
    add_kv(k, v, &n, "host", u->host);
    add_kv(k, v, &n, "user", u->user);
    add_kv(k, v, &n, "password", u->password);
    add_kv(k, v, &n, "dbname", u->name);
    if (u->port > 0)
        add_kv(k, v, &n, "port", mn_arena_printf(a, "%d", u->port));
    if (u->options) {
        char *opts = mn_arena_strdup(a, u->options);
        for (char *save = NULL, *kv = opts ? strtok_r(opts, "&", &save) : NULL; kv;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq || n + 1 >= max)
                continue;
            *eq = '\0';
            add_kv(k, v, &n, kv, eq + 1);
        }
    }
    *keys = k;
    *vals = v;
    return MN_OK;
}

static int pool_open(void *ctx, mn__pool_item **out, char *err, size_t errlen)
{
    pg_pool *pp = ctx;
    mn_db *db = pp->db;
    mn_arena *a = mn_arena_new(512);
    const char **keys = NULL, **vals = NULL;
    if (!a || conninfo(db, a, &keys, &vals) != MN_OK) {
        mn_arena_free(a);
        snprintf(err, errlen, "out of memory");
        return MN_ENOMEM;
    }
    mn__pg_options opt = {
        .connect_timeout_ms = db->config.connect_timeout_ms,
        .statement_timeout_ms = db->config.statement_timeout_ms,
        .prepare = true,
    };
    pg_dbconn *c = mn_calloc(1, sizeof *c);
    int rc = c ? mn__pg_connect_params(keys, vals, &opt, &c->pg, err, errlen) : MN_ENOMEM;
    mn_arena_free(a);
    if (rc != MN_OK) {
        mn_free(c);
        if (rc == MN_ENOMEM) {
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        /* Refused, unreachable or silent past connect_timeout: the server cannot be
         * reached. MN_ETIMEDOUT stays reserved for waiting on a busy pool. */
        return MN_EDB_OPERATIONAL;
    }
    mn_buf_init(&c->text, NULL);
    *out = &c->link;
    return MN_OK;
}

/* A connection given back this recently is not polled before it is handed out again. A
 * server that goes away in that window makes the next query fail (connection lost) instead
 * of the acquire, which a caller handles the same way; a busy worker, which reuses its
 * connections within microseconds, saves a poll() per request. */
enum { FRESH_MS = 10 };

static void pool_close(void *ctx, mn__pool_item *item)
{
    pg_pool *pp = ctx;
    pg_dbconn *c = CONN_OF(item);
    if (pp->abandoning) {
        mn__pg_abandon(c->pg);
        c->pg = NULL;
    }
    conn_free(c);
}

static bool pool_alive(void *ctx, mn__pool_item *item)
{
    (void)ctx;
    pg_dbconn *c = CONN_OF(item);
    if (!c->pg->broken && mn__pg_clock_ms() - c->released_ms < FRESH_MS)
        return true;
    return mn__pg_alive(c->pg);
}

static const mn__pool_ops pg_pool_ops = {pool_open, pool_close, pool_alive};

static void pg_pool_free(mn_db *db);

/* getpid() is a system call (glibc no longer caches it) and every acquire asks: keep it,
 * forgotten in a forked child. */
static pid_t self_pid;
static void forget_pid(void)
{
    self_pid = 0;
}
static void register_forget_pid(void)
{
    pthread_atfork(NULL, NULL, forget_pid);
}

static pid_t current_pid(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!self_pid) {
        pthread_once(&once, register_forget_pid);
        self_pid = getpid();
    }
    return self_pid;
}

static pg_pool *get_pool(mn_db *db)
{
    pg_pool *old = db->pool;
    if (old && old->pid == current_pid())
        return old;
    if (old) {
        /* A worker forked from a process that had used the database: the idle connections
         * are the parent's sessions. Let go of them quietly and start an empty pool. */
        old->abandoning = true;
        pg_pool_free(db);
    }
    pg_pool *pp = mn_calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->db = db;
    pp->pid = current_pid();
    pp->pool = mn__pool_new(&pg_pool_ops, pp, db->config.pool_size);
    if (!pp->pool) {
        mn_free(pp);
        return NULL;
    }
    db->pool = pp;
    return pp;
}

static int pg_acquire(mn_db *db, int64_t timeout_ms, mn_dbconn **out)
{
    pg_pool *pp = get_pool(db);
    if (!pp) {
        mn__db_set_errmsg(db, "out of memory");
        return MN_ENOMEM;
    }
    char err[256] = "";
    mn__pool_item *item = NULL;
    int rc = mn__pool_acquire(pp->pool, timeout_ms, &item, err, sizeof err);
    if (rc != MN_OK) {
        mn__db_set_errmsg(db, "database '%s': %s", db->alias, err);
        return rc == MN_ETIMEDOUT || rc == MN_ENOMEM ? rc : MN_EDB_OPERATIONAL;
    }
    pg_dbconn *c = CONN_OF(item);
    c->base.broken = false;
    c->base.txn_depth = 0;
    c->base.cursors = NULL;
    *out = &c->base;
    return MN_OK;
}

static void pg_release(mn_db *db, mn_dbconn *conn)
{
    pg_dbconn *c = (pg_dbconn *)conn;
    pg_pool *pp = db->pool;
    /* db.c rolled back the transactions it knows of; one begun with raw SQL is ended here so
     * the next borrower starts clean. */
    if (!c->pg->broken && PQtransactionStatus(c->pg->pg) != PQTRANS_IDLE) {
        PGresult *res = NULL;
        if (mn__pg_exec(c->pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, false, &res) != MN_OK)
            c->pg->broken = true;
        PQclear(res);
    }
    c->released_ms = mn__pg_clock_ms();
    mn__pool_release(pp->pool, &c->link, c->base.broken || c->pg->broken);
}

static void pg_pool_free(mn_db *db)
{
    pg_pool *pp = db->pool;
    if (!pp)
        return;
    mn__pool_free(pp->pool);
    mn_free(pp);
    db->pool = NULL;
}

const mn_dbdriver mn__pg_driver = {
    .vendor = "postgresql",
    .dialect = MN_DIALECT_POSTGRESQL,
    .placeholder = '$',
    .acquire = pg_acquire,
    .release = pg_release,
    .pool_free = pg_pool_free,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .cursor_size = sizeof(pg_cursor),
    .cursor_open = pg_cursor_open,
    .cursor_fetch = pg_cursor_fetch,
    .cursor_close = pg_cursor_close,
    .exec_during_cursor = true,
    .exec_batch = pg_exec_batch,
};
