/* pg_internal.h — the PostgreSQL connection underneath the driver in pg.c: non-blocking libpq
 * with the coroutine parked (mn_wait_fd) whenever the socket is not ready, a per-connection
 * prepared-statement cache and pipelined batches. Private to src/db. */
#ifndef MN_DB_PG_INTERNAL_H
#define MN_DB_PG_INTERNAL_H

#include <manouche/core.h>

#include <libpq-fe.h>

/* A statement seen on this connection: prepared once it has run twice (as psycopg's
 * prepare_threshold), so one-off statements (DDL, ad-hoc SQL) do not fill the server's cache. */
typedef struct mn__pg_stmt {
    char *sql; /* NULL: empty slot */
    uint64_t hash;
    uint32_t uses;
    uint32_t id;   /* server-side name "mn_<id>" once prepared, 0 before */
    char name[16]; /* that name, formatted once (not on every run) */
} mn__pg_stmt;

typedef struct mn__pg_conn {
    PGconn *pg;
    int fd;                /* libpq's socket as the loop knows it (-1: none) */
    bool broken;           /* the connection is unusable: the pool must drop it */
    uint32_t cursor_seq;   /* server-side cursors declared so far (their names) */
    int64_t io_timeout_ms; /* client-side deadline for one round trip (< 0: none) */
    int64_t connect_timeout_ms;
    mn__pg_stmt *stmts;     /* open addressing, power-of-two capacity */
    const char *last_sql;   /* the text pointer of the statement run last... */
    mn__pg_stmt *last_stmt; /* ... and its entry (checked with strcmp, not trusted) */
    uint32_t stmt_cap, stmt_count, next_id;
    char sqlstate[6];  /* of the last error ("" when none) */
    char message[512]; /* of the last error, one line */
} mn__pg_conn;

/* The options of a connection. */
typedef struct mn__pg_options {
    int64_t connect_timeout_ms;   /* <= 0: 10 s */
    int64_t statement_timeout_ms; /* server-side statement_timeout; 0: none */
    int64_t io_timeout_ms;        /* client-side round-trip deadline; 0: statement timeout + 5 s
                                     (or none without one) */
    bool prepare;                 /* use the prepared-statement cache (default true via pg.c) */
} mn__pg_options;

/* Connects with libpq keywords/values (NULL-terminated arrays, as PQconnectdbParams), parking
 * while libpq waits. On failure returns a negative code and a one-line reason in err. */
int mn__pg_connect_params(const char *const *keys, const char *const *vals,
                          const mn__pg_options *opt, mn__pg_conn **out, char *err,
                          size_t errlen) MN_MAY_YIELD;
void mn__pg_close(mn__pg_conn *c);
/* Frees a connection inherited across fork() without ending the session, which still
 * belongs to the parent process. */
void mn__pg_abandon(mn__pg_conn *c);

/* Runs one statement. values[i] NULL means SQL NULL; lengths/formats as PQexecParams (formats
 * NULL: all text). *res gets the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK) for the caller
 * to PQclear. Errors: MN_EIO with c->sqlstate/c->message set (c->broken when the connection
 * is lost), MN_ETIMEDOUT (and broken), MN_ENOMEM. With nparams == 0 and allow_multi the simple
 * protocol runs several ;-separated statements and *res is the last result. */
int mn__pg_exec(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                const char *const *values, const int *lengths, const int *formats, bool allow_multi,
                PGresult **res) MN_MAY_YIELD;

/* Server-side cursors (for streaming results too large to hold). declare writes a fresh name
 * into name and runs DECLARE <name> NO SCROLL CURSOR FOR sql, WITH HOLD when no transaction
 * block is open, with the parameters as mn__pg_exec takes them; fetch runs FETCH FORWARD
 * max_rows FROM <name> (*res: up to max_rows rows, the caller clears it); close runs CLOSE
 * <name> unless the connection is lost, ignoring a refusal (inside a failed transaction the
 * rollback drops the cursor). None is prepared. Between these calls the connection is idle
 * and runs other statements. */
int mn__pg_cursor_declare(mn__pg_conn *c, char *name, size_t namelen, const char *sql, int nparams,
                          const Oid *types, const char *const *values, const int *lengths,
                          const int *formats) MN_MAY_YIELD;
int mn__pg_cursor_fetch(mn__pg_conn *c, const char *name, size_t max_rows,
                        PGresult **res) MN_MAY_YIELD;
void mn__pg_cursor_close(mn__pg_conn *c, const char *name) MN_MAY_YIELD;

/* A pipelined batch: send(arg, i) is called for i = 0..n-1 and must queue statement i with
 * mn__pg_pipeline_send (so parameter scratch memory can be reused between statements; libpq
 * copies each statement when it is queued). Then one sync, one flush, and results[i] gets
 * statement i's result (NULL when it was skipped after an earlier failure). Returns 0, MN_EIO
 * with the first failure's sqlstate/message, or a connection-level code (results all NULL). */
int mn__pg_batch(mn__pg_conn *c, int n, int (*send)(void *arg, int i), void *arg,
                 PGresult **results) MN_MAY_YIELD;
int mn__pg_pipeline_send(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                         const char *const *values, const int *lengths, const int *formats);

/* True when the connection may be handed out: not marked broken, libpq status OK and no
 * pending end-of-stream (a server that restarted while the connection sat idle). Never parks. */
bool mn__pg_alive(mn__pg_conn *c);

/* Records an error on the connection (printf-style message). */
void mn__pg_set_error(mn__pg_conn *c, const char *sqlstate, const char *fmt, ...) MN_PRINTF(3, 4);

/* ---- Shared by pg_conn.c and pg_stream.c (not for the driver). ---- */
/* Marks the connection lost (or timed out), records why; returns the code to pass up. */
int mn__pg_lost(mn__pg_conn *c, int code);
/* Records an error result's SQLSTATE and message; returns MN_EIO. */
int mn__pg_result_error(mn__pg_conn *c, const PGresult *res);
/* Sends what libpq has buffered / waits until PQgetResult would not block; park meanwhile. */
int mn__pg_flush(mn__pg_conn *c, int64_t deadline) MN_MAY_YIELD;
int mn__pg_await(mn__pg_conn *c, int64_t deadline) MN_MAY_YIELD;
/* Monotonic milliseconds now (the clock itself, not the loop's cached time). */
int64_t mn__pg_clock_ms(void);
/* The absolute deadline of one round trip from now (-1: none). */
int64_t mn__pg_io_deadline(mn__pg_conn *c);
/* Queues one statement with the unnamed statement (or, allow_multi, the simple protocol). */
int mn__pg_send_unnamed(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                        const char *const *values, const int *lengths, const int *formats,
                        bool allow_multi);
/* Replaces the session with a fresh one on the same PGconn (broken if that fails). */
void mn__pg_reconnect(mn__pg_conn *c) MN_MAY_YIELD;

/* The class of a SQLSTATE as the PEP 249 exceptions psycopg raises for it. */
typedef enum mn__pg_errclass {
    MN__PG_ERR_NONE,
    MN__PG_ERR_INTEGRITY,     /* 23xxx */
    MN__PG_ERR_OPERATIONAL,   /* 08, 53, 54, 55, 57, 58, 40, HV, F0, P0... */
    MN__PG_ERR_PROGRAMMING,   /* 42, 3D, 3F, 26, 2F, 34, 44, 2B (and unknown syntax) */
    MN__PG_ERR_DATA,          /* 22xxx */
    MN__PG_ERR_NOT_SUPPORTED, /* 0Axxx */
    MN__PG_ERR_INTERNAL,      /* 25, 2D, XX, and anything unrecognised */
} mn__pg_errclass;
mn__pg_errclass mn__pg_classify(const char *sqlstate);

#endif
