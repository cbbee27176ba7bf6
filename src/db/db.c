/* db.c — the driver-independent half of the database layer: configuring an mn_db from a
 * DATABASE_URL, choosing its driver, and wrapping every driver call so that error detail,
 * transaction depth and the query log are handled once for all drivers. */
#include <manouche/db.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const mn_dbdriver mn__sqlite_driver;
/* The PostgreSQL driver is another file of this library; it is linked in when present. */
#if __has_include("pg.c")
#define MN_HAVE_PG 1
extern const mn_dbdriver mn__pg_driver;
#endif

const char *mn_db_strerror(int err)
{
    switch (err) {
    case MN_EDB_INTEGRITY: return "integrity error";
    case MN_EDB_OPERATIONAL: return "operational error";
    case MN_EDB_PROGRAMMING: return "programming error";
    case MN_EDB_DATA: return "data error";
    case MN_EDB_NOT_SUPPORTED: return "not supported by the database";
    default: return mn_strerror(err);
    }
}

int mn_dberr_code(mn_dberr_kind kind)
{
    switch (kind) {
    case MN_DBERR_NONE: return 0;
    case MN_DBERR_INTEGRITY: return MN_EDB_INTEGRITY;
    case MN_DBERR_OPERATIONAL: return MN_EDB_OPERATIONAL;
    case MN_DBERR_PROGRAMMING: return MN_EDB_PROGRAMMING;
    case MN_DBERR_DATA: return MN_EDB_DATA;
    case MN_DBERR_NOT_SUPPORTED: return MN_EDB_NOT_SUPPORTED;
    }
    return MN_EDB_OPERATIONAL;
}

/* ---- values ---- */
mn_dbparam mn_dbp_null(void)
{
    mn_dbparam p = {.type = MN_DBT_NULL};
    return p;
}
mn_dbparam mn_dbp_int(int64_t i)
{
    mn_dbparam p = {.type = MN_DBT_INT, .v.i = i};
    return p;
}
mn_dbparam mn_dbp_float(double f)
{
    mn_dbparam p = {.type = MN_DBT_FLOAT, .v.f = f};
    return p;
}
mn_dbparam mn_dbp_bool(bool b)
{
    mn_dbparam p = {.type = MN_DBT_BOOL, .v.i = b ? 1 : 0};
    return p;
}
mn_dbparam mn_dbp_text(const char *s)
{
    if (!s)
        return mn_dbp_null();
    return mn_dbp_textn(s, strlen(s));
}
mn_dbparam mn_dbp_textn(const char *s, size_t len)
{
    mn_dbparam p = {.type = MN_DBT_TEXT, .v.s = {s ? s : "", len}};
    return p;
}
mn_dbparam mn_dbp_blob(const void *ptr, size_t len)
{
    mn_dbparam p = {.type = MN_DBT_BLOB, .v.s = {ptr ? (const char *)ptr : "", len}};
    return p;
}

const mn_dbcell *mn_dbresult_cell(const mn_dbresult *res, size_t row, size_t col)
{
    if (!res || row >= res->nrows || col >= res->ncols)
        return NULL;
    return &res->cells[row * res->ncols + col];
}

int mn_dbresult_col(const mn_dbresult *res, const char *name)
{
    for (size_t i = 0; res && i < res->ncols; i++)
        if (mn_str_eq_cstr(res->colnames[i], name))
            return (int)i;
    return -1;
}

mn_dbcell *mn__dbresult_grow(mn_dbresult *out, mn_arena *arena, size_t *cap, size_t nrows)
{
    static mn_dbcell no_cells; /* rows of no columns (SELECT FROM t) still count as rows */
    size_t need = (out->nrows + nrows) * out->ncols;
    if (need == 0)
        return &no_cells;
    mn_dbcell *cells = (mn_dbcell *)out->cells;
    if (need > *cap) {
        size_t ncap = *cap ? *cap * 2 : need;
        while (ncap < need)
            ncap *= 2;
        cells = mn_arena_realloc(arena, cells, *cap * sizeof *cells, ncap * sizeof *cells);
        if (!cells)
            return NULL;
        *cap = ncap;
        out->cells = cells;
    }
    return cells + out->nrows * out->ncols;
}

/* ---- configuration ---- */
static void put_err(char *err, size_t errlen, const char *fmt, ...) MN_PRINTF(3, 4);
static void put_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

mn_db *mn_db_new(const mn_dbconfig *config, char *err, size_t errlen)
{
    mn_dbconfig cfg = {0};
    if (config)
        cfg = *config;
    if (!cfg.url || !*cfg.url) {
        const char *env = getenv("DATABASE_URL");
        cfg.url = env && *env ? env : "sqlite:///db.sqlite3";
    }
    if (!cfg.alias)
        cfg.alias = "default";
    if (cfg.pool_size <= 0)
        cfg.pool_size = 10;
    if (cfg.pool_timeout_ms <= 0)
        cfg.pool_timeout_ms = 5000;
    if (cfg.connect_timeout_ms <= 0)
        cfg.connect_timeout_ms = 5000;
    if (cfg.busy_timeout_ms <= 0)
        cfg.busy_timeout_ms = 5000;

    mn_arena *arena = mn_arena_new(1024);
    mn_db *db = arena ? mn_arena_calloc(arena, 1, sizeof *db) : NULL;
    if (!db) {
        mn_arena_free(arena);
        put_err(err, errlen, "out of memory");
        return NULL;
    }
    db->arena = arena;
    const char *why = NULL;
    if (mn_dburl_parse(cfg.url, arena, &db->url, &why) != 0) {
        put_err(err, errlen, "database '%s': %s", cfg.alias, why ? why : "invalid URL");
        mn_arena_free(arena);
        return NULL;
    }
    cfg.alias = db->alias = mn_arena_strdup(arena, cfg.alias);
    cfg.url = mn_arena_strdup(arena, cfg.url);
    if (!db->alias || !cfg.url) {
        put_err(err, errlen, "out of memory");
        mn_arena_free(arena);
        return NULL;
    }
    db->config = cfg;
    if (db->url.dialect == MN_DIALECT_SQLITE) {
        db->driver = &mn__sqlite_driver;
    } else {
#ifdef MN_HAVE_PG
        db->driver = &mn__pg_driver;
#else
        put_err(err, errlen, "database '%s': this build has no PostgreSQL driver", cfg.alias);
        mn_arena_free(arena);
        return NULL;
#endif
    }
    return db;
}

void mn_db_free(mn_db *db)
{
    if (!db)
        return;
    if (db->driver && db->driver->pool_free)
        db->driver->pool_free(db);
    mn_arena_free(db->arena);
}

const char *mn_db_alias(const mn_db *db)
{
    return db->alias;
}
mn_dbdialect mn_db_dialect(const mn_db *db)
{
    return db->driver->dialect;
}
const char *mn_db_vendor(const mn_db *db)
{
    return db->driver->vendor;
}
const mn_dburl *mn_db_url(const mn_db *db)
{
    return &db->url;
}
char mn_db_placeholder(const mn_db *db)
{
    return db->driver->placeholder;
}
const char *mn_db_errmsg(const mn_db *db)
{
    return db->errmsg;
}

void mn__db_set_errmsg(mn_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
    va_end(ap);
}

/* ---- pool ---- */
int mn_db_acquire(mn_db *db, int64_t timeout_ms, mn_dbconn **out)
{
    *out = NULL;
    db->errmsg[0] = '\0';
    if (timeout_ms < 0)
        timeout_ms = db->config.pool_timeout_ms;
    int rc = db->driver->acquire(db, timeout_ms, out);
    if (rc == 0 && *out) {
        (*out)->db = db;
        (*out)->driver = db->driver;
        (*out)->err_kind = MN_DBERR_NONE;
        (*out)->errmsg[0] = '\0';
        (*out)->sqlstate[0] = '\0';
    }
    return rc;
}

static void cursor_detach(mn_dbcursor *cur);

void mn_db_release(mn_dbconn *conn)
{
    if (!conn)
        return;
    while (conn->cursors) /* left open: ended before the rollback, which on PG would drop them */
        cursor_detach(conn->cursors); /* the handles stay their owners' to close */
    if (conn->txn_depth > 0 && !conn->broken)
        mn_dbconn_rollback(conn);
    conn->txn_depth = 0;
    conn->log_fn = NULL;
    conn->log_user = NULL;
    conn->db->driver->release(conn->db, conn);
}

/* ---- errors ---- */
int mn__dbconn_set_error(mn_dbconn *conn, mn_dberr_kind kind, const char *sqlstate, const char *fmt,
                         ...)
{
    conn->err_kind = kind;
    snprintf(conn->sqlstate, sizeof conn->sqlstate, "%s", sqlstate ? sqlstate : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(conn->errmsg, sizeof conn->errmsg, fmt, ap);
    va_end(ap);
    return mn_dberr_code(kind);
}

mn_dberr_kind mn_dbconn_errkind(const mn_dbconn *conn)
{
    return conn->err_kind;
}
const char *mn_dbconn_errmsg(const mn_dbconn *conn)
{
    return conn->errmsg;
}
const char *mn_dbconn_sqlstate(const mn_dbconn *conn)
{
    return conn->sqlstate;
}
mn_db *mn_dbconn_db(const mn_dbconn *conn)
{
    return conn->db;
}
mn_dbdialect mn_dbconn_dialect(const mn_dbconn *conn)
{
    return conn->driver->dialect;
}
bool mn_dbconn_in_transaction(const mn_dbconn *conn)
{
    return conn->txn_depth > 0;
}

/* ---- executing ---- */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void clear_error(mn_dbconn *conn)
{
    conn->err_kind = MN_DBERR_NONE;
    conn->errmsg[0] = '\0';
    conn->sqlstate[0] = '\0';
}

int mn_dbconn_exec(mn_dbconn *conn, mn_arena *arena, const char *sql, const mn_dbparam *params,
                   size_t nparams, mn_dbresult *out)
{
    mn_dbresult scratch;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof *out);
    clear_error(conn);
    if (conn->cursors && !conn->driver->exec_during_cursor)
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL,
                                    "a cursor is open on this connection");
    int64_t t0 = conn->log_fn ? now_us() : 0;
    int rc = conn->driver->exec(conn, arena, sql, params, nparams, out);
    if (conn->log_fn)
        conn->log_fn(conn->log_user, sql, params, nparams, now_us() - t0, rc);
    return rc;
}

int mn_dbconn_exec_script(mn_dbconn *conn, const char *sql)
{
    clear_error(conn);
    int64_t t0 = conn->log_fn ? now_us() : 0;
    int rc = conn->driver->exec_script(conn, sql);
    if (conn->log_fn)
        conn->log_fn(conn->log_user, sql, NULL, 0, now_us() - t0, rc);
    return rc;
}

int mn_dbconn_cursor_open(mn_dbconn *conn, mn_arena *arena, const char *sql,
                          const mn_dbparam *params, size_t nparams, mn_dbcursor **out)
{
    *out = NULL;
    clear_error(conn);
    if (!conn->driver->exec_during_cursor && conn->cursors)
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL,
                                    "a cursor is already open on this connection");
    mn_dbcursor *cur = arena ? mn_arena_calloc(arena, 1, conn->driver->cursor_size)
                             : mn_calloc(1, conn->driver->cursor_size);
    if (!cur) {
        mn__dbconn_set_error(conn, MN_DBERR_OPERATIONAL, NULL, "out of memory");
        return MN_ENOMEM;
    }
    cur->conn = conn;
    int64_t t0 = conn->log_fn ? now_us() : 0;
    int rc = conn->driver->cursor_open(cur, sql, params, nparams);
    if (conn->log_fn)
        conn->log_fn(conn->log_user, sql, params, nparams, now_us() - t0, rc);
    if (rc) {
        if (!arena)
            mn_free(cur);
        return rc;
    }
    cur->malloced = !arena;
    cur->next = conn->cursors;
    if (conn->cursors)
        conn->cursors->prev = cur;
    conn->cursors = cur;
    *out = cur;
    return 0;
}

int mn_dbcursor_fetch(mn_dbcursor *cur, mn_arena *arena, size_t max_rows, mn_dbresult *out)
{
    memset(out, 0, sizeof *out);
    if (!cur || !cur->conn)
        return MN_EDB_PROGRAMMING; /* closed: no connection to record a message on */
    clear_error(cur->conn);
    return cur->conn->driver->cursor_fetch(cur, arena, max_rows ? max_rows : 1, out);
}

/* Ends the cursor's database side and takes it off its connection; the handle stays. */
static void cursor_detach(mn_dbcursor *cur)
{
    mn_dbconn *conn = cur->conn;
    conn->driver->cursor_close(cur);
    if (cur->prev)
        cur->prev->next = cur->next;
    else
        conn->cursors = cur->next;
    if (cur->next)
        cur->next->prev = cur->prev;
    cur->conn = NULL;
    cur->prev = cur->next = NULL;
}

void mn_dbcursor_close(mn_dbcursor *cur)
{
    if (!cur)
        return;
    if (cur->conn)
        cursor_detach(cur);
    if (cur->malloced)
        mn_free(cur);
}

mn_dbconn *mn_dbcursor_conn(const mn_dbcursor *cur)
{
    return cur ? cur->conn : NULL;
}

/* Batches: the driver's pipelined exec_batch when it has one, else one exec per item. */
int mn_dbconn_exec_batch(mn_dbconn *conn, mn_arena *arena, mn_dbbatch_item *items, size_t n)
{
    clear_error(conn);
    for (size_t i = 0; i < n; i++) {
        memset(&items[i].result, 0, sizeof items[i].result);
        items[i].status = MN_ECANCELED;
    }
    if (conn->cursors && !conn->driver->exec_during_cursor)
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL,
                                    "a cursor is open on this connection");
    int64_t t0 = now_us();
    int rc = 0;
    if (conn->driver->exec_batch) {
        rc = conn->driver->exec_batch(conn, arena, items, n);
    } else {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = items[i].status = conn->driver->exec(conn, arena, items[i].sql, items[i].params,
                                                      items[i].nparams, &items[i].result);
    }
    if (conn->log_fn) {
        /* One round trip for all: each item is logged with an equal share of the time. */
        int64_t share = n ? (now_us() - t0) / (int64_t)n : 0;
        for (size_t i = 0; i < n; i++)
            conn->log_fn(conn->log_user, items[i].sql, items[i].params, items[i].nparams, share,
                         items[i].status);
    }
    return rc;
}

/* ---- transactions: the same SQL on both dialects ---- */
static int simple(mn_dbconn *conn, const char *sql)
{
    return mn_dbconn_exec(conn, NULL, sql, NULL, 0, NULL);
}

int mn_dbconn_begin(mn_dbconn *conn)
{
    if (conn->txn_depth > 0)
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL,
                                    "a transaction is already open");
    int rc = simple(conn, "BEGIN");
    if (rc == 0)
        conn->txn_depth = 1;
    return rc;
}

int mn_dbconn_commit(mn_dbconn *conn)
{
    int rc = simple(conn, "COMMIT");
    if (rc == 0)
        conn->txn_depth = 0;
    return rc;
}

int mn_dbconn_rollback(mn_dbconn *conn)
{
    int rc = simple(conn, "ROLLBACK");
    conn->txn_depth = 0; /* even on failure: the server has no usable transaction left */
    return rc;
}

static bool valid_ident(const char *name)
{
    if (!name || !*name || strlen(name) > 60)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              (p != name && *p >= '0' && *p <= '9')))
            return false;
    return true;
}

static int savepoint_cmd(mn_dbconn *conn, const char *verb, const char *name, int depth_change)
{
    if (!valid_ident(name))
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL, "invalid savepoint name");
    if (conn->txn_depth == 0)
        return mn__dbconn_set_error(conn, MN_DBERR_PROGRAMMING, NULL,
                                    "savepoint outside a transaction");
    char sql[96];
    snprintf(sql, sizeof sql, "%s \"%s\"", verb, name);
    int rc = simple(conn, sql);
    if (rc == 0)
        conn->txn_depth += depth_change;
    return rc;
}

int mn_dbconn_savepoint(mn_dbconn *conn, const char *name)
{
    return savepoint_cmd(conn, "SAVEPOINT", name, 1);
}

int mn_dbconn_savepoint_release(mn_dbconn *conn, const char *name)
{
    int rc = savepoint_cmd(conn, "RELEASE SAVEPOINT", name, -1);
    return rc;
}

int mn_dbconn_savepoint_rollback(mn_dbconn *conn, const char *name)
{
    /* ROLLBACK TO keeps the savepoint; release it too so the depth stays balanced. */
    int rc = savepoint_cmd(conn, "ROLLBACK TO SAVEPOINT", name, 0);
    if (rc == 0)
        rc = savepoint_cmd(conn, "RELEASE SAVEPOINT", name, -1);
    return rc;
}

/* ---- query log ---- */
void mn_dbconn_set_log(mn_dbconn *conn, mn_dblog_fn fn, void *user, mn_dblog_fn *prev_fn,
                       void **prev_user)
{
    if (prev_fn)
        *prev_fn = conn->log_fn;
    if (prev_user)
        *prev_user = conn->log_user;
    conn->log_fn = fn;
    conn->log_user = fn ? user : NULL;
}

void mn_dblog_init(mn_dblog *log, mn_arena *arena)
{
    memset(log, 0, sizeof *log);
    log->arena = arena;
}

void mn_dblog_record(void *user, const char *sql, const mn_dbparam *params, size_t nparams,
                     int64_t duration_us, int status)
{
    mn_dblog *log = user;
    if (log->count == log->cap) {
        size_t ncap = log->cap ? log->cap * 2 : 16;
        mn_dblog_entry *n =
            mn_arena_realloc(log->arena, log->entries, log->cap * sizeof *n, ncap * sizeof *n);
        if (!n)
            return;
        log->entries = n;
        log->cap = ncap;
    }
    mn_dblog_entry *e = &log->entries[log->count];
    e->sql = mn_arena_strdup(log->arena, sql);
    mn_dbparam *copy = nparams ? mn_arena_alloc(log->arena, nparams * sizeof *copy) : NULL;
    for (size_t i = 0; copy && i < nparams; i++) {
        copy[i] = params[i];
        if (params[i].type == MN_DBT_TEXT || params[i].type == MN_DBT_BLOB) {
            char *s = mn_arena_alloc(log->arena, params[i].v.s.len + 1);
            if (s) {
                memcpy(s, params[i].v.s.ptr, params[i].v.s.len);
                s[params[i].v.s.len] = '\0';
            }
            copy[i].v.s.ptr = s ? s : "";
            if (!s)
                copy[i].v.s.len = 0;
        }
    }
    e->params = copy;
    e->nparams = copy ? nparams : 0;
    e->duration_us = duration_us;
    e->status = status;
    if (e->sql)
        log->count++;
}
