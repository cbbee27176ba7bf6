/* manouche/db.h — the database layer: configured databases (DATABASE_URL), a driver interface
 * that SQLite (embedded default) and PostgreSQL (non-blocking libpq) implement, per-worker
 * connection pools, bound-parameter execution, transactions and savepoints, typed result
 * cells, DB-API style error kinds and a query log hook.
 *
 * The idea: the ORM above speaks only this header. A query is SQL text in the driver's own
 * placeholder style (mn_db_placeholder() tells which) plus an array of typed parameters; user
 * values never enter the SQL text. Results are materialised into a caller-supplied arena
 * (request lifetime), or streamed in chunks through a cursor for large results. Every call
 * that may wait is MN_MAY_YIELD: SQLite simply runs; PostgreSQL parks the coroutine (rt.h). */
#ifndef MANOUCHE_DB_H
#define MANOUCHE_DB_H

#include <manouche/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Error codes (in addition to core.h's), mirroring PEP 249's exception classes. ---- */
enum {
    MN_EDB_INTEGRITY = -100,     /* IntegrityError: unique, foreign key, not-null, check */
    MN_EDB_OPERATIONAL = -101,   /* OperationalError: connection lost, locked, server down */
    MN_EDB_PROGRAMMING = -102,   /* ProgrammingError: bad SQL, missing table, wrong arity */
    MN_EDB_DATA = -103,          /* DataError: value out of range, bad text for a type */
    MN_EDB_NOT_SUPPORTED = -104, /* NotSupportedError */
};
/* Like mn_strerror() but also names the MN_EDB_* codes. Never NULL. */
const char *mn_db_strerror(int err);

/* ---- Values: one type for bound parameters and for result cells. ---- */
typedef enum mn_dbtype {
    MN_DBT_NULL = 0,
    MN_DBT_INT,   /* int64 (integers and booleans read back from the database) */
    MN_DBT_FLOAT, /* double */
    MN_DBT_TEXT,  /* UTF-8 text slice (exact decimals, dates, uuids, JSON travel as text) */
    MN_DBT_BLOB,  /* bytes slice */
    MN_DBT_BOOL,  /* parameters only: a boolean (SQLite binds 0/1, PostgreSQL 't'/'f') */
} mn_dbtype;

typedef struct mn_dbval {
    mn_dbtype type;
    union {
        int64_t i; /* MN_DBT_INT, MN_DBT_BOOL */
        double f;  /* MN_DBT_FLOAT */
        mn_str s;  /* MN_DBT_TEXT, MN_DBT_BLOB: borrowed, not NUL-terminated in general */
    } v;
} mn_dbval;
typedef mn_dbval mn_dbparam; /* a bound parameter */
typedef mn_dbval mn_dbcell;  /* a result cell */

/* Small constructors, handy for parameter arrays. */
mn_dbparam mn_dbp_null(void);
mn_dbparam mn_dbp_int(int64_t i);
mn_dbparam mn_dbp_float(double f);
mn_dbparam mn_dbp_bool(bool b);
mn_dbparam mn_dbp_text(const char *s); /* NUL-terminated; NULL gives a SQL NULL */
mn_dbparam mn_dbp_textn(const char *s, size_t len);
mn_dbparam mn_dbp_blob(const void *p, size_t len);

/* ---- Results: rows of typed cells with column names, all in the caller's arena. ---- */
typedef struct mn_dbresult {
    size_t nrows;
    size_t ncols;
    const mn_str *colnames; /* ncols names (NUL-terminated) */
    const mn_dbcell *cells; /* nrows * ncols cells, row-major */
    int64_t rows_affected;  /* INSERT/UPDATE/DELETE: rows changed; else 0 */
    int64_t last_insert_id; /* SQLite: rowid of the last INSERT; PostgreSQL: 0 (use RETURNING) */
} mn_dbresult;

/* The cell at (row, col), or NULL out of range. */
const mn_dbcell *mn_dbresult_cell(const mn_dbresult *res, size_t row, size_t col);
/* The index of a column by name, or -1. */
int mn_dbresult_col(const mn_dbresult *res, const char *name);

/* ---- Configuration: DATABASE_URL as dj-database-url reads it (DESIGN.md section 7). ---- */
typedef enum mn_dbdialect {
    MN_DIALECT_SQLITE = 1,
    MN_DIALECT_POSTGRESQL = 2,
} mn_dbdialect;

/* A parsed database URL. Strings live in the arena given to mn_dburl_parse (NULL: absent).
 *   sqlite:///relative.db      -> path "relative.db"
 *   sqlite:////abs/path.db     -> path "/abs/path.db"
 *   sqlite://:memory: or sqlite:// -> path ":memory:"
 *   postgres://user:pw@host:port/name?sslmode=disable (also postgresql://, pgsql://) */
typedef struct mn_dburl {
    mn_dbdialect dialect;
    const char *path; /* SQLite file path */
    const char *user; /* PostgreSQL fields, percent-decoded */
    const char *password;
    const char *host;    /* may be a socket directory (%2F-encoded in the URL) */
    int port;            /* 0: the driver's default */
    const char *name;    /* database name */
    const char *options; /* the raw query string after '?', or NULL */
} mn_dburl;

/* Parses url into out. 0, or MN_EINVAL with a one-line reason in *why (static text). */
int mn_dburl_parse(const char *url, mn_arena *arena, mn_dburl *out, const char **why);

typedef struct mn_dbconfig {
    const char *alias;            /* "default" when NULL */
    const char *url;              /* NULL: $DATABASE_URL, else sqlite:///db.sqlite3 */
    int pool_size;                /* connections per worker; <= 0: 10 (SQLite: 1 writer) */
    int64_t pool_timeout_ms;      /* how long acquire waits for a free connection; <= 0: 5000 */
    int64_t connect_timeout_ms;   /* <= 0: 5000 */
    int64_t busy_timeout_ms;      /* SQLite busy_timeout; <= 0: 5000 */
    int64_t statement_timeout_ms; /* PostgreSQL statement_timeout; 0: none */
    /* PostgreSQL behind a pooler in transaction mode (Django's DISABLE_SERVER_SIDE_CURSORS):
     * a cursor reads its whole result at open, client-side, instead of DECLARE / FETCH. */
    bool disable_server_side_cursors;
} mn_dbconfig;

typedef struct mn_db mn_db;
typedef struct mn_dbconn mn_dbconn;
typedef struct mn_dbcursor mn_dbcursor;

/* A configured database. Opens no connection yet (connections are made on first acquire, so
 * a master may configure before forking its workers). NULL on a bad URL or no memory, with
 * the reason written to err (errlen bytes, may be 0). Free with mn_db_free(). */
mn_db *mn_db_new(const mn_dbconfig *config, char *err, size_t errlen);
/* Closes every pooled connection and frees the database. Connections must be released. */
void mn_db_free(mn_db *db);
const char *mn_db_alias(const mn_db *db);
mn_dbdialect mn_db_dialect(const mn_db *db);
const char *mn_db_vendor(const mn_db *db); /* "sqlite" or "postgresql" */
const mn_dburl *mn_db_url(const mn_db *db);
/* Placeholder style of the driver: '?' for SQLite ("?1", "?2"...), '$' for PostgreSQL
 * ("$1", "$2"...). Both number from 1. */
char mn_db_placeholder(const mn_db *db);

/* ---- Pool: a connection is borrowed for a request (or less) and given back. ---- */
/* Borrows a connection, connecting if the pool has room, else parking until one is released.
 * timeout_ms < 0 uses the configured pool_timeout_ms. 0, MN_ETIMEDOUT (the web layer answers
 * 503), or MN_EDB_OPERATIONAL when the server cannot be reached (detail: mn_db_errmsg). */
int mn_db_acquire(mn_db *db, int64_t timeout_ms, mn_dbconn **out) MN_MAY_YIELD;
/* Gives a connection back. An open transaction is rolled back first; a broken connection is
 * closed and its slot freed so the next acquire reconnects. */
void mn_db_release(mn_dbconn *conn) MN_MAY_YIELD;
/* The reason the last acquire on this database failed ("" if none). */
const char *mn_db_errmsg(const mn_db *db);

/* ---- Executing. sql uses the driver's placeholders; params are bound, never spliced. ---- */
/* Runs one statement and materialises all rows into arena (may be NULL when no rows are
 * expected). out may be NULL. 0 or a negative code (MN_EDB_* with detail in
 * mn_dbconn_errmsg). */
int mn_dbconn_exec(mn_dbconn *conn, mn_arena *arena, const char *sql, const mn_dbparam *params,
                   size_t nparams, mn_dbresult *out) MN_MAY_YIELD;
/* Runs a script of statements separated by ';' with no parameters and no rows (DDL). */
int mn_dbconn_exec_script(mn_dbconn *conn, const char *sql) MN_MAY_YIELD;

/* Streaming: open a cursor, fetch up to max_rows per call into an arena (reset it between
 * chunks for bounded memory); a fetch that returns fewer than max_rows rows (0 at the latest)
 * means the end. A cursor is a handle, allocated in `arena` (which must outlive it; NULL:
 * malloc'ed, freed by mn_dbcursor_close, which must then always be called), so several may
 * be open on one connection at once and read in any interleaving, as nested
 * `for q in Question.objects.iterator(): for c in q.choices.iterator()` in Django. While
 * cursors are open, other statements (exec, batches, transactions) may run on the same
 * connection between fetches, as Django allows queries inside `for obj in qs.iterator()`:
 * SQLite steps each cursor's own statement (never one of the statement cache's),
 * PostgreSQL uses a server-side cursor of its own name per handle (DECLARE ... NO SCROLL
 * CURSOR, WITH HOLD outside a transaction, then FETCH FORWARD max_rows per fetch and CLOSE),
 * or with the database's disable_server_side_cursors reads the whole result at open and
 * hands it out max_rows rows per fetch (no snapshot to speak of then: the rows are read).
 * Isolation: a PostgreSQL cursor reads a snapshot taken at open, so rows written between
 * its fetches are not seen. SQLite gives no isolation between statements of one connection:
 * a cursor can see rows inserted (or updated into its remaining range) between fetches, and
 * inserting into the table being read can make it read them too (without end). The query
 * log sees the cursor's SQL once, at open. Errors are recorded on the connection
 * (mn_dbconn_errmsg). Close each cursor on every path; mn_db_release ends the cursors still
 * open on the connection (their statement or server-side cursor, not the handle: a fetch on
 * it then fails with MN_EDB_PROGRAMMING, and mn_dbcursor_close only frees it). */
int mn_dbconn_cursor_open(mn_dbconn *conn, mn_arena *arena, const char *sql,
                          const mn_dbparam *params, size_t nparams, mn_dbcursor **out) MN_MAY_YIELD;
int mn_dbcursor_fetch(mn_dbcursor *cur, mn_arena *arena, size_t max_rows,
                      mn_dbresult *out) MN_MAY_YIELD;
void mn_dbcursor_close(mn_dbcursor *cur) MN_MAY_YIELD;
/* The connection cur reads from; NULL once it is closed (by mn_dbcursor_close, or because
 * its connection was released). */
mn_dbconn *mn_dbcursor_conn(const mn_dbcursor *cur);

/* ---- Batches, for bulk operations and prefetch (added with the PostgreSQL driver): the
 * statements go out together, in pipeline mode on PostgreSQL (one round trip for all). They
 * run in order; the first failure stops the batch (later items get MN_ECANCELED) and is
 * returned, with its detail on conn. Outside a transaction PostgreSQL runs a batch as one
 * implicit transaction (a failure undoes the items before it) while SQLite commits each
 * item; inside begin/commit both behave alike. ---- */
typedef struct mn_dbbatch_item {
    const char *sql;
    const mn_dbparam *params;
    size_t nparams;
    mn_dbresult result; /* out: rows materialised into the arena of mn_dbconn_exec_batch */
    int status;         /* out: 0, the item's error, or MN_ECANCELED when it did not run */
} mn_dbbatch_item;
int mn_dbconn_exec_batch(mn_dbconn *conn, mn_arena *arena, mn_dbbatch_item *items,
                         size_t n) MN_MAY_YIELD;

/* ---- Transactions. Savepoint names must be identifiers (the ORM generates them). ---- */
int mn_dbconn_begin(mn_dbconn *conn) MN_MAY_YIELD;
int mn_dbconn_commit(mn_dbconn *conn) MN_MAY_YIELD;
int mn_dbconn_rollback(mn_dbconn *conn) MN_MAY_YIELD;
int mn_dbconn_savepoint(mn_dbconn *conn, const char *name) MN_MAY_YIELD;
int mn_dbconn_savepoint_release(mn_dbconn *conn, const char *name) MN_MAY_YIELD;
int mn_dbconn_savepoint_rollback(mn_dbconn *conn, const char *name) MN_MAY_YIELD;
bool mn_dbconn_in_transaction(const mn_dbconn *conn);

/* ---- Errors on a connection: the last failed call's detail. ---- */
typedef enum mn_dberr_kind {
    MN_DBERR_NONE = 0,
    MN_DBERR_INTEGRITY,
    MN_DBERR_OPERATIONAL,
    MN_DBERR_PROGRAMMING,
    MN_DBERR_DATA,
    MN_DBERR_NOT_SUPPORTED,
} mn_dberr_kind;
mn_dberr_kind mn_dbconn_errkind(const mn_dbconn *conn);
const char *mn_dbconn_errmsg(const mn_dbconn *conn);   /* "" if none */
const char *mn_dbconn_sqlstate(const mn_dbconn *conn); /* PostgreSQL SQLSTATE or "" */
mn_db *mn_dbconn_db(const mn_dbconn *conn);
mn_dbdialect mn_dbconn_dialect(const mn_dbconn *conn);
/* The MN_EDB_* code for a kind (0 for none). */
int mn_dberr_code(mn_dberr_kind kind);

/* ---- Query log: a hook per connection (the request installs its own while it holds the
 * connection), called after every statement with its SQL, parameters and duration. ---- */
typedef void (*mn_dblog_fn)(void *user, const char *sql, const mn_dbparam *params, size_t nparams,
                            int64_t duration_us, int status);
/* Installs (fn, user) on conn; NULL fn removes it. Returns the previous hook in *prev_fn and
 * *prev_user when those are not NULL, so nested users can restore it. */
void mn_dbconn_set_log(mn_dbconn *conn, mn_dblog_fn fn, void *user, mn_dblog_fn *prev_fn,
                       void **prev_user);

/* A ready-made log that keeps every query in an arena (for tests and the DEBUG page). */
typedef struct mn_dblog_entry {
    const char *sql;
    const mn_dbparam *params; /* copied, text in the log's arena */
    size_t nparams;
    int64_t duration_us;
    int status;
} mn_dblog_entry;
typedef struct mn_dblog {
    mn_arena *arena;
    mn_dblog_entry *entries;
    size_t count;
    size_t cap;
} mn_dblog;
void mn_dblog_init(mn_dblog *log, mn_arena *arena);
/* The mn_dblog_fn to install with user = the mn_dblog. */
void mn_dblog_record(void *log, const char *sql, const mn_dbparam *params, size_t nparams,
                     int64_t duration_us, int status);

/* ---- Driver interface (for src/db/<driver>.c; users never touch it). ----
 * A driver's connection struct starts with an mn_dbconn; a driver's pool lives in
 * mn_db.pool. db.c wraps every call: it resets and records the error detail, times the
 * statement and calls the query log. The PostgreSQL driver is `const mn_dbdriver
 * mn__pg_driver` defined in src/db/pg.c; SQLite's is mn__sqlite_driver. */
typedef struct mn_dbdriver {
    const char *vendor; /* "sqlite", "postgresql" */
    mn_dbdialect dialect;
    char placeholder; /* '?' or '$' */
    /* Pool: acquire parks up to timeout_ms; release takes the connection back (db.c has
     * already rolled back an open transaction and reset the hook). */
    int (*acquire)(mn_db *db, int64_t timeout_ms, mn_dbconn **out);
    void (*release)(mn_db *db, mn_dbconn *conn);
    void (*pool_free)(mn_db *db); /* closes every idle connection; frees db->pool */
    /* Statements. On failure: return a negative code and call mn__dbconn_set_error. */
    int (*exec)(mn_dbconn *conn, mn_arena *arena, const char *sql, const mn_dbparam *params,
                size_t nparams, mn_dbresult *out);
    int (*exec_script)(mn_dbconn *conn, const char *sql);
    /* Cursors: db.c allocates cursor_size zeroed bytes (an mn_dbcursor first, then the
     * driver's state) with conn set; cursor_open fills the driver part, cursor_close frees
     * what it holds (db.c calls it once per opened cursor, also from mn_db_release). */
    size_t cursor_size;
    int (*cursor_open)(mn_dbcursor *cur, const char *sql, const mn_dbparam *params, size_t nparams);
    int (*cursor_fetch)(mn_dbcursor *cur, mn_arena *arena, size_t max_rows, mn_dbresult *out);
    void (*cursor_close)(mn_dbcursor *cur);
    /* True when exec/exec_batch may run while cursors are open (between their fetches); db.c
     * refuses them otherwise. */
    bool exec_during_cursor;
    /* Optional (NULL: db.c runs exec for each item): the whole batch at once, filling each
     * item's result and status; returns the first failure. */
    int (*exec_batch)(mn_dbconn *conn, mn_arena *arena, mn_dbbatch_item *items, size_t n);
} mn_dbdriver;

struct mn_db {
    const mn_dbdriver *driver;
    char *alias;
    mn_dburl url;       /* strings in arena */
    mn_arena *arena;    /* the database's long-lived memory */
    mn_dbconfig config; /* with defaults filled in (alias/url point into arena) */
    void *pool;         /* the driver's pool state */
    char errmsg[256];   /* why the last acquire failed */
};

struct mn_dbconn {
    mn_db *db;
    const mn_dbdriver *driver;
    int txn_depth;        /* 0 outside a transaction; savepoints count above 1 */
    bool broken;          /* set by the driver when the connection is unusable */
    mn_dbcursor *cursors; /* the open cursors, newest first */
    mn_dberr_kind err_kind;
    char sqlstate[6];
    char errmsg[512];
    mn_dblog_fn log_fn;
    void *log_user;
};

/* A cursor's common part, first in the driver's cursor state. */
struct mn_dbcursor {
    mn_dbconn *conn;                 /* NULL once closed */
    struct mn_dbcursor *prev, *next; /* conn->cursors */
    bool malloced;                   /* freed by mn_dbcursor_close (opened with no arena) */
};

/* For drivers: records the error kind and message on conn and returns mn_dberr_code(kind). */
int mn__dbconn_set_error(mn_dbconn *conn, mn_dberr_kind kind, const char *sqlstate, const char *fmt,
                         ...) MN_PRINTF(4, 5);
/* For drivers: room for nrows more rows at the end of out's cells (out->ncols set), grown in
 * arena by doubling (*cap: the cells allocated so far, 0 at first). The first new row, or
 * NULL when out of memory. The caller fills the rows, then adds nrows to out->nrows. */
mn_dbcell *mn__dbresult_grow(mn_dbresult *out, mn_arena *arena, size_t *cap, size_t nrows);
/* For drivers: sets db->errmsg. */
void mn__db_set_errmsg(mn_db *db, const char *fmt, ...) MN_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif
#endif
