/* sqlite.c — the embedded default driver. SQLite calls never park the coroutine (they run to
 * completion on the worker's thread; busy_timeout bounds lock waits), so the "pool" is a free
 * list of open connections. Each connection is set up as Django users expect of a production
 * SQLite (WAL, foreign keys on, busy timeout) and keeps a small LRU cache of prepared
 * statements keyed by SQL text, since the ORM emits the same few shapes again and again. */
#include <manouche/db.h>
#include <manouche/rt.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { STMT_CACHE_SIZE = 64 };

typedef struct cached_stmt {
    char *sql;
    uint64_t hash; /* of sql: a lookup compares one word per entry, not 64 strings */
    sqlite3_stmt *stmt;
    uint64_t last_used;
    /* Its column names, read once (NULL until a result first needs them): every result
     * gets a copy in its arena with one allocation and one memcpy instead of a
     * sqlite3_column_name() and a strdup per column. `names` is one block of names_size
     * bytes: ncols mn_str, then their NUL-terminated text. */
    mn_str *names;
    size_t ncols, names_size;
    int reprepared; /* SQLITE_STMTSTATUS_REPREPARE when the names were read */
} cached_stmt;

typedef struct sqlite_conn {
    mn_dbconn base; /* first: the driver interface casts between the two */
    sqlite3 *handle;
    struct sqlite_conn *next_idle;
    cached_stmt cache[STMT_CACHE_SIZE];
    uint64_t clock;
    int last; /* the entry used last: a view repeating one query finds it with one strcmp */
    cached_stmt *current;  /* the entry of the statement being run */
    int64_t busy_since_ms; /* when the current lock wait began */
} sqlite_conn;

typedef struct sqlite_pool {
    sqlite_conn *idle;
    int open;       /* connections in existence (idle + borrowed) */
    char *filename; /* what sqlite3_open_v2 gets */
} sqlite_pool;

/* ---- REGEXP, which SQLite leaves to the application; PCRE2 as RegexValidator uses. ---- */
static void free_code(void *p)
{
    pcre2_code_free(p);
}

static void regexp_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return; /* NULL, as a comparison with NULL */
    pcre2_code *re = sqlite3_get_auxdata(ctx, 0);
    if (!re) {
        const unsigned char *pat = sqlite3_value_text(argv[0]);
        int err;
        PCRE2_SIZE off;
        re = pcre2_compile(pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
        if (!re) {
            sqlite3_result_error(ctx, "invalid regular expression", -1);
            return;
        }
        sqlite3_set_auxdata(ctx, 0, re, free_code);
        re = sqlite3_get_auxdata(ctx, 0);
        if (!re) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    const unsigned char *subject = sqlite3_value_text(argv[1]);
    int n = sqlite3_value_bytes(argv[1]);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int rc = pcre2_match(re, subject, (PCRE2_SIZE)n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    sqlite3_result_int(ctx, rc >= 0);
}

/* mn_decimal_fits(v, max_digits, decimal_places, 'Model.field'): v, a DecimalField value as
 * SQLite stores it (an integer scaled by 10^decimal_places; a REAL once the arithmetic left
 * 64 bits), if it has at most max_digits digits, else an error as PostgreSQL's "numeric
 * field overflow" (22003): the ORM wraps decimal expressions of an UPDATE in it. */
static void decimal_fits_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int t = sqlite3_value_type(argv[0]);
    int md = sqlite3_value_int(argv[1]), dp = sqlite3_value_int(argv[2]);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) { /* NULL, or text the column converts */
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    double limit = 1;
    for (int i = 0; i < md; i++)
        limit *= 10;
    char shown[64];
    if (t == SQLITE_INTEGER) {
        sqlite3_int64 v = sqlite3_value_int64(argv[0]);
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        uint64_t ilimit = 1;
        for (int i = 0; i < md && i < 19; i++)
            ilimit *= 10;
        if (md > 19 || mag < ilimit) {
            sqlite3_result_int64(ctx, v);
            return;
        }
        char digs[32];
        int n = snprintf(digs, sizeof digs, "%llu", (unsigned long long)mag);
        int whole = n - dp; /* at least 1: mag >= 10^max_digits >= 10^decimal_places */
        snprintf(shown, sizeof shown, "%s%.*s%s%s", v < 0 ? "-" : "", whole, digs, dp ? "." : "",
                 digs + whole);
    } else {
        double x = sqlite3_value_double(argv[0]);
        if (x < limit && x > -limit) {
            sqlite3_result_double(ctx, x);
            return;
        }
        double s = x;
        for (int i = 0; i < dp; i++)
            s /= 10;
        snprintf(shown, sizeof shown, "%.*f", dp, s);
    }
    const unsigned char *label = sqlite3_value_text(argv[3]);
    char *msg = sqlite3_mprintf("numeric field overflow: '%s' does not fit %s (max_digits=%d, "
                                "decimal_places=%d: at most %d digit%s before the decimal point)",
                                shown, label ? (const char *)label : "a DecimalField", md, dp,
                                md - dp, md - dp == 1 ? "" : "s");
    if (!msg) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_error(ctx, msg, -1);
    sqlite3_result_error_code(ctx, SQLITE_TOOBIG); /* a data error (MN_EDB_DATA), not a bug */
    sqlite3_free(msg);
}

/* ---- lock waits ----
 * SQLite's own busy_timeout sleeps the thread, and with it every coroutine of the worker,
 * including the one holding the lock: a writer waiting on a transaction that another request
 * keeps open across a yield could never succeed. This handler parks only the waiting
 * coroutine (mn_sleep), so the lock holder runs, commits, and the waiter then proceeds. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int busy_wait(void *arg, int count)
{
    sqlite_conn *c = arg;
    int64_t now = mono_ms();
    if (count == 0)
        c->busy_since_ms = now;
    if (now - c->busy_since_ms >= c->base.db->config.busy_timeout_ms)
        return 0; /* give up: SQLITE_BUSY, "database is locked" */
    mn_sleep(count < 10 ? 1 : 5);
    return 1;
}

/* ---- errors ---- */
static int set_sqlite_error(mn_dbconn *conn, sqlite3 *h, int rc)
{
    mn_dberr_kind kind;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: kind = MN_DBERR_INTEGRITY; break;
    case SQLITE_ERROR:
    case SQLITE_RANGE: kind = MN_DBERR_PROGRAMMING; break;
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG: kind = MN_DBERR_DATA; break;
    default: kind = MN_DBERR_OPERATIONAL; break;
    }
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_CANTOPEN)
        conn->broken = true;
    return mn__dbconn_set_error(conn, kind, NULL, "%s", h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
}

/* ---- connections ---- */
static void close_conn(sqlite_conn *c)
{
    for (int i = 0; i < STMT_CACHE_SIZE; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        mn_free(c->cache[i].sql);
        mn_free(c->cache[i].names);
    }
    sqlite3_close_v2(c->handle);
    mn_free(c);
}

static int open_conn(mn_db *db, sqlite_pool *pool, sqlite_conn **out)
{
    sqlite_conn *c = mn_calloc(1, sizeof *c);
    if (!c)
        return MN_ENOMEM;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(pool->filename, &c->handle, flags, NULL);
    if (rc != SQLITE_OK) {
        mn__db_set_errmsg(db, "cannot open SQLite database '%s': %s", db->url.path,
                          c->handle ? sqlite3_errmsg(c->handle) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->handle);
        mn_free(c);
        return MN_EDB_OPERATIONAL;
    }
    c->base.db = db;
    sqlite3_busy_handler(c->handle, busy_wait, c);
    sqlite3_extended_result_codes(c->handle, 1);
    bool memory = strcmp(db->url.path, ":memory:") == 0;
    const char *setup = memory ? "PRAGMA foreign_keys=ON;"
                               : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                 "PRAGMA foreign_keys=ON;";
    char *msg = NULL;
    rc = sqlite3_exec(c->handle, setup, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(c->handle, "regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, regexp_fn, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(c->handle, "mn_decimal_fits", 4,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, decimal_fits_fn,
                                     NULL, NULL);
    if (rc != SQLITE_OK) {
        mn__db_set_errmsg(db, "cannot set up SQLite database '%s': %s", db->url.path,
                          msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        close_conn(c);
        return MN_EDB_OPERATIONAL;
    }
    pool->open++;
    *out = c;
    return 0;
}

static sqlite_pool *get_pool(mn_db *db)
{
    if (db->pool)
        return db->pool;
    sqlite_pool *pool = mn_calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    if (strcmp(db->url.path, ":memory:") == 0) {
        /* Every connection of this mn_db must see the same in-memory database. */
        char name[96];
        snprintf(name, sizeof name, "file:mn_mem_%p?mode=memory&cache=shared", (void *)db);
        pool->filename = mn_strdup(name);
    } else {
        pool->filename = mn_strdup(db->url.path);
    }
    if (!pool->filename) {
        mn_free(pool);
        return NULL;
    }
    db->pool = pool;
    return pool;
}

static int sq_acquire(mn_db *db, int64_t timeout_ms, mn_dbconn **out)
{
    (void)timeout_ms;
    sqlite_pool *pool = get_pool(db);
    if (!pool)
        return MN_ENOMEM;
    sqlite_conn *c = pool->idle;
    if (c) {
        pool->idle = c->next_idle;
        c->next_idle = NULL;
    } else {
        int rc = open_conn(db, pool, &c);
        if (rc != 0)
            return rc;
    }
    c->base.broken = false;
    *out = &c->base;
    return 0;
}

static void sq_release(mn_db *db, mn_dbconn *conn)
{
    sqlite_pool *pool = db->pool;
    sqlite_conn *c = (sqlite_conn *)conn;
    /* Keep at most pool_size idle connections; a broken one is never reused. */
    int idle = 0;
    for (sqlite_conn *i = pool->idle; i; i = i->next_idle)
        idle++;
    if (conn->broken || idle >= db->config.pool_size) {
        pool->open--;
        close_conn(c);
        return;
    }
    c->next_idle = pool->idle;
    pool->idle = c;
}

static void sq_pool_free(mn_db *db)
{
    sqlite_pool *pool = db->pool;
    if (!pool)
        return;
    while (pool->idle) {
        sqlite_conn *c = pool->idle;
        pool->idle = c->next_idle;
        close_conn(c);
    }
    mn_free(pool->filename);
    mn_free(pool);
    db->pool = NULL;
}

/* ---- statements ---- */
static uint64_t sql_hash(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int prepare(sqlite_conn *c, const char *sql, sqlite3_stmt **out)
{
    c->clock++;
    cached_stmt *last = &c->cache[c->last];
    if (last->sql && strcmp(last->sql, sql) == 0) {
        last->last_used = c->clock;
        c->current = last;
        *out = last->stmt;
        return 0;
    }
    uint64_t hash = sql_hash(sql);
    cached_stmt *victim = &c->cache[0];
    for (int i = 0; i < STMT_CACHE_SIZE; i++) {
        cached_stmt *e = &c->cache[i];
        if (e->sql && e->hash == hash && strcmp(e->sql, sql) == 0) {
            c->last = i;
            e->last_used = c->clock;
            c->current = e;
            *out = e->stmt;
            return 0;
        }
        if (e->last_used < victim->last_used)
            victim = e;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(c->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return set_sqlite_error(&c->base, c->handle, rc);
    if (!stmt)
        return mn__dbconn_set_error(&c->base, MN_DBERR_PROGRAMMING, NULL, "empty SQL statement");
    char *copy = mn_strdup(sql);
    if (!copy) {
        sqlite3_finalize(stmt);
        return MN_ENOMEM;
    }
    sqlite3_finalize(victim->stmt);
    mn_free(victim->sql);
    mn_free(victim->names);
    victim->names = NULL;
    victim->sql = copy;
    victim->hash = hash;
    victim->stmt = stmt;
    c->last = (int)(victim - c->cache);
    victim->last_used = c->clock;
    c->current = victim;
    *out = stmt;
    return 0;
}

static int bind_params(sqlite_conn *c, sqlite3_stmt *st, const mn_dbparam *params, size_t n)
{
    int expected = sqlite3_bind_parameter_count(st);
    if ((size_t)expected != n)
        return mn__dbconn_set_error(&c->base, MN_DBERR_PROGRAMMING, NULL,
                                    "the statement takes %d parameters, %zu given", expected, n);
    for (size_t i = 0; i < n; i++) {
        int idx = (int)i + 1, rc;
        const mn_dbparam *p = &params[i];
        switch (p->type) {
        case MN_DBT_NULL: rc = sqlite3_bind_null(st, idx); break;
        case MN_DBT_INT:
        case MN_DBT_BOOL: rc = sqlite3_bind_int64(st, idx, p->v.i); break;
        case MN_DBT_FLOAT: rc = sqlite3_bind_double(st, idx, p->v.f); break;
        case MN_DBT_TEXT:
            rc = sqlite3_bind_text64(st, idx, p->v.s.ptr, p->v.s.len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case MN_DBT_BLOB:
            rc = sqlite3_bind_blob64(st, idx, p->v.s.ptr, p->v.s.len, SQLITE_STATIC);
            break;
        default:
            return mn__dbconn_set_error(&c->base, MN_DBERR_PROGRAMMING, NULL,
                                        "parameter %d has an unknown type", idx);
        }
        if (rc != SQLITE_OK)
            return set_sqlite_error(&c->base, c->handle, rc);
    }
    return 0;
}

/* Bindings are left in place: every run binds all the parameters again (bind_params
 * refuses any other count), so clearing them would be work for nothing. */
static void done_with(sqlite3_stmt *st)
{
    sqlite3_reset(st);
}

/* Reads the statement's column names into its cache entry (once per prepared statement). */
static int cache_names(cached_stmt *e, sqlite3_stmt *st, size_t ncols)
{
    size_t size = ncols * sizeof(mn_str);
    for (size_t i = 0; i < ncols; i++) {
        const char *n = sqlite3_column_name(st, (int)i);
        size += (n ? strlen(n) : 0) + 1;
    }
    mn_str *names = mn_malloc(size);
    if (!names)
        return MN_ENOMEM;
    char *text = (char *)(names + ncols);
    for (size_t i = 0; i < ncols; i++) {
        const char *n = sqlite3_column_name(st, (int)i);
        size_t len = n ? strlen(n) : 0;
        memcpy(text, n ? n : "", len + 1);
        names[i] = (mn_str){text, len};
        text += len + 1;
    }
    e->names = names;
    e->ncols = ncols;
    e->names_size = size;
    e->reprepared = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_REPREPARE, 0);
    return 0;
}

static int column_names(cached_stmt *e, sqlite3_stmt *st, mn_arena *arena, mn_dbresult *out)
{
    size_t ncols = (size_t)sqlite3_column_count(st);
    out->ncols = ncols;
    if (!ncols || !arena)
        return 0;
    /* A statement SQLite re-prepared after a schema change (SELECT * after a column was
     * added or renamed) may have other columns. */
    if (e->names && (e->ncols != ncols ||
                     e->reprepared != sqlite3_stmt_status(st, SQLITE_STMTSTATUS_REPREPARE, 0))) {
        mn_free(e->names);
        e->names = NULL;
    }
    if (!e->names && cache_names(e, st, ncols) != 0)
        return MN_ENOMEM;
    mn_str *names = mn_arena_alloc(arena, e->names_size);
    if (!names)
        return MN_ENOMEM;
    memcpy(names, e->names, e->names_size);
    for (size_t i = 0; i < ncols; i++) /* the same place in the copy */
        names[i].ptr = (const char *)names + (e->names[i].ptr - (const char *)e->names);
    out->colnames = names;
    return 0;
}

static int read_cell(sqlite3_stmt *st, int col, mn_arena *arena, mn_dbcell *cell)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL: cell->type = MN_DBT_NULL; return 0;
    case SQLITE_INTEGER:
        cell->type = MN_DBT_INT;
        cell->v.i = sqlite3_column_int64(st, col);
        return 0;
    case SQLITE_FLOAT:
        cell->type = MN_DBT_FLOAT;
        cell->v.f = sqlite3_column_double(st, col);
        return 0;
    default: {
        bool blob = sqlite3_column_type(st, col) == SQLITE_BLOB;
        const void *p = blob ? sqlite3_column_blob(st, col) : sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        char *copy = mn_arena_strndup(arena, p, n); /* NUL-terminated, blobs too */
        if (!copy)
            return MN_ENOMEM;
        cell->type = blob ? MN_DBT_BLOB : MN_DBT_TEXT;
        cell->v.s.ptr = copy;
        cell->v.s.len = n;
        return 0;
    }
    }
}

/* Steps up to max_rows rows of st into out (rows appended); *done when the statement ended. */
/* The columns (count and names) are read after the first step: a statement that SQLite
 * re-prepares after a schema change (SELECT * once a column was added) only has its new
 * columns from then on. */
static int step_rows(sqlite_conn *c, cached_stmt *e, sqlite3_stmt *st, mn_arena *arena,
                     size_t max_rows, mn_dbresult *out, bool *done)
{
    size_t cap = 0;
    *done = false;
    for (bool first = true; out->nrows < max_rows; first = false) {
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            return set_sqlite_error(&c->base, c->handle, rc);
        int names = first ? column_names(e, st, arena, out) : 0;
        if (names != 0)
            return names;
        if (rc == SQLITE_DONE) {
            *done = true;
            break;
        }
        if (!arena)
            continue; /* rows not wanted */
        mn_dbcell *row = mn__dbresult_grow(out, arena, &cap, 1);
        if (!row)
            return MN_ENOMEM;
        for (size_t i = 0; i < out->ncols; i++) {
            int r = read_cell(st, (int)i, arena, &row[i]);
            if (r)
                return r;
        }
        out->nrows++;
    }
    return 0;
}

static int sq_exec(mn_dbconn *conn, mn_arena *arena, const char *sql, const mn_dbparam *params,
                   size_t nparams, mn_dbresult *out)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, &st);
    if (rc)
        return rc;
    rc = bind_params(c, st, params, nparams);
    bool done = false;
    if (rc == 0)
        rc = step_rows(c, c->current, st, arena, SIZE_MAX, out, &done);
    done_with(st);
    if (rc == 0) {
        out->rows_affected = sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes64(c->handle);
        out->last_insert_id = sqlite3_last_insert_rowid(c->handle);
    }
    return rc;
}

static int sq_exec_script(mn_dbconn *conn, const char *sql)
{
    sqlite_conn *c = (sqlite_conn *)conn;
    char *msg = NULL;
    int rc = sqlite3_exec(c->handle, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    sqlite3_free(msg);
    return set_sqlite_error(conn, c->handle, rc);
}

/* A cursor: its statement, prepared for it alone and finalized at close (never one of the
 * cache's): statements, and other cursors, may run between its fetches, and one of the same
 * SQL, or one evicting a cache entry, must not reset or finalize it mid-iteration. Its column
 * names are cached in it as in a cache entry (stmt NULL: exhausted). */
typedef struct sq_cursor {
    mn_dbcursor base; /* first: db.c allocates and links it */
    cached_stmt st;
} sq_cursor;

static void cursor_finish(sq_cursor *cur)
{
    sqlite3_finalize(cur->st.stmt); /* the statement's reads end: its implicit transaction too */
    mn_free(cur->st.names);
    memset(&cur->st, 0, sizeof cur->st);
}

static int sq_cursor_open(mn_dbcursor *base, const char *sql, const mn_dbparam *params,
                          size_t nparams)
{
    sq_cursor *cur = (sq_cursor *)base;
    sqlite_conn *c = (sqlite_conn *)base->conn;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->handle, sql, -1, 0, &st, NULL);
    if (rc != SQLITE_OK)
        return set_sqlite_error(&c->base, c->handle, rc);
    if (!st)
        return mn__dbconn_set_error(&c->base, MN_DBERR_PROGRAMMING, NULL, "empty SQL statement");
    cur->st.stmt = st;
    rc = bind_params(c, st, params, nparams);
    if (rc)
        cursor_finish(cur);
    return rc;
}

static int sq_cursor_fetch(mn_dbcursor *base, mn_arena *arena, size_t max_rows, mn_dbresult *out)
{
    sq_cursor *cur = (sq_cursor *)base;
    if (!cur->st.stmt)
        return 0; /* already exhausted */
    bool done = false;
    int rc =
        step_rows((sqlite_conn *)base->conn, &cur->st, cur->st.stmt, arena, max_rows, out, &done);
    if (rc || done)
        cursor_finish(cur);
    return rc;
}

static void sq_cursor_close(mn_dbcursor *base)
{
    cursor_finish((sq_cursor *)base);
}

const mn_dbdriver mn__sqlite_driver = {
    .vendor = "sqlite",
    .dialect = MN_DIALECT_SQLITE,
    .placeholder = '?',
    .acquire = sq_acquire,
    .release = sq_release,
    .pool_free = sq_pool_free,
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .cursor_size = sizeof(sq_cursor),
    .cursor_open = sq_cursor_open,
    .cursor_fetch = sq_cursor_fetch,
    .cursor_close = sq_cursor_close,
    .exec_during_cursor = true,
};
