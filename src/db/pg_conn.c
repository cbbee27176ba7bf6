/* pg_conn.c — one PostgreSQL connection over non-blocking libpq.
 *
 * The idea: libpq does the protocol, we do the waiting. Every place libpq would block (connect,
 * flushing a query, waiting for the answer) becomes mn_wait_fd() on the connection's socket,
 * which parks the calling coroutine and lets the loop run others; off a coroutine (a CLI
 * command) mn_wait_fd() blocks the thread instead, so the same code serves both. A statement
 * that runs a second time is prepared, so later runs skip parsing and planning on the server. */
#include "pg_internal.h"

#include <manouche/rt.h>

/* For mn__fd_reset: libpq opens and closes its sockets itself, and the loop keeps an fd's
 * epoll registration until told otherwise, so a reused fd number would never wake its
 * waiter. rt.h has no public "forget this fd" call yet; this is the one we need. */
#include "rt/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    STMT_CACHE_MAX = 512,   /* statements remembered per connection */
    PREPARE_AFTER_USES = 2, /* prepare a statement on its second run */
};

int64_t mn__pg_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_after(int64_t timeout_ms)
{
    return timeout_ms < 0 ? -1 : mn__pg_clock_ms() + timeout_ms;
}

/* Tells the loop that fd's registration is stale (libpq closed or replaced the socket). */
static void forget_fd(int fd)
{
    if (fd >= 0)
        mn__fd_reset(mn_loop_current(), fd, MN_ECANCELED);
}

/* Keeps c->fd in step with libpq's socket, forgetting a number libpq has let go of. Called
 * right after libpq calls that may close it, before anything else could reuse the number. */
static void track_socket(mn__pg_conn *c)
{
    int fd = PQsocket(c->pg);
    if (fd != c->fd) {
        forget_fd(c->fd);
        c->fd = fd;
    }
}

/* ---- errors ---- */

static void set_error_v(mn__pg_conn *c, const char *sqlstate, const char *fmt, va_list ap)
    MN_PRINTF(3, 0);
static void set_error_v(mn__pg_conn *c, const char *sqlstate, const char *fmt, va_list ap)
{
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", sqlstate ? sqlstate : "");
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    /* libpq messages end in a newline and may span lines: keep one line. */
    for (char *p = c->message; *p; p++)
        if (*p == '\n' || *p == '\r') {
            if (p[1] == '\0') {
                *p = '\0';
                break;
            }
            *p = ' ';
        }
}

void mn__pg_set_error(mn__pg_conn *c, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error_v(c, sqlstate, fmt, ap);
    va_end(ap);
}

/* The connection is gone or out of sync: record why, and make the pool drop it. */
int mn__pg_lost(mn__pg_conn *c, int code)
{
    c->broken = true;
    track_socket(c);
    const char *msg = PQerrorMessage(c->pg);
    if (code == MN_ETIMEDOUT)
        mn__pg_set_error(c, "57014", "no answer from the PostgreSQL server within %lld ms",
                         (long long)c->io_timeout_ms);
    else if (code == MN_EPROTO)
        mn__pg_set_error(c, "08P01", "out of sync with the PostgreSQL server");
    else if (code == MN_ECANCELED)
        mn__pg_set_error(c, "57P01", "the query was cancelled: the worker is shutting down");
    else
        mn__pg_set_error(c, "08006", "connection to the PostgreSQL server lost: %s",
                         msg && *msg ? msg : "unknown error");
    return code == MN_ETIMEDOUT || code == MN_ECANCELED ? code : MN_EIO;
}

int mn__pg_result_error(mn__pg_conn *c, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    if (!primary)
        primary = PQresultErrorMessage(res);
    if (detail)
        mn__pg_set_error(c, state, "%s (%s)", primary, detail);
    else
        mn__pg_set_error(c, state, "%s", primary);
    if (PQstatus(c->pg) == CONNECTION_BAD)
        c->broken = true;
    return MN_EIO;
}

mn__pg_errclass mn__pg_classify(const char *s)
{
    if (!s || strlen(s) < 2)
        return MN__PG_ERR_INTERNAL;
    /* As psycopg's mapping from SQLSTATE class to DB-API exception. */
    static const struct {
        char cls[3];
        mn__pg_errclass kind;
    } table[] = {
        {"08", MN__PG_ERR_OPERATIONAL}, {"0A", MN__PG_ERR_NOT_SUPPORTED},
        {"20", MN__PG_ERR_PROGRAMMING}, {"21", MN__PG_ERR_PROGRAMMING},
        {"22", MN__PG_ERR_DATA},        {"23", MN__PG_ERR_INTEGRITY},
        {"24", MN__PG_ERR_INTERNAL},    {"25", MN__PG_ERR_INTERNAL},
        {"26", MN__PG_ERR_OPERATIONAL}, {"27", MN__PG_ERR_OPERATIONAL},
        {"28", MN__PG_ERR_OPERATIONAL}, {"2B", MN__PG_ERR_INTERNAL},
        {"2D", MN__PG_ERR_INTERNAL},    {"2F", MN__PG_ERR_INTERNAL},
        {"34", MN__PG_ERR_OPERATIONAL}, {"38", MN__PG_ERR_INTERNAL},
        {"39", MN__PG_ERR_INTERNAL},    {"3B", MN__PG_ERR_INTERNAL},
        {"3D", MN__PG_ERR_PROGRAMMING}, {"3F", MN__PG_ERR_PROGRAMMING},
        {"40", MN__PG_ERR_OPERATIONAL}, {"42", MN__PG_ERR_PROGRAMMING},
        {"44", MN__PG_ERR_PROGRAMMING}, {"53", MN__PG_ERR_OPERATIONAL},
        {"54", MN__PG_ERR_OPERATIONAL}, {"55", MN__PG_ERR_OPERATIONAL},
        {"57", MN__PG_ERR_OPERATIONAL}, {"58", MN__PG_ERR_OPERATIONAL},
        {"HV", MN__PG_ERR_OPERATIONAL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (s[0] == table[i].cls[0] && s[1] == table[i].cls[1])
            return table[i].kind;
    return MN__PG_ERR_INTERNAL;
}

/* ---- waiting ---- */

/* Parks until the socket is ready for events or the deadline (absolute, < 0: none) passes. */
static int wait_socket(mn__pg_conn *c, unsigned events, int64_t deadline)
{
    track_socket(c);
    int fd = c->fd;
    if (fd < 0)
        return MN_EIO;
    int64_t timeout = -1;
    if (deadline >= 0) {
        timeout = deadline - mn__pg_clock_ms();
        if (timeout <= 0)
            return MN_ETIMEDOUT;
    }
    return mn_wait_fd(fd, events, timeout);
}

/* Sends whatever libpq has buffered, reading meanwhile so that a server busy writing back
 * to us cannot deadlock the exchange (as the libpq documentation for PQflush asks). The
 * deadline is for the server's silence: each time the socket moves it starts again, since a
 * large batch may take the server many statements' time to read. */
int mn__pg_flush(mn__pg_conn *c, int64_t deadline)
{
    for (;;) {
        int r = PQflush(c->pg);
        if (r == 0)
            return MN_OK;
        if (r < 0)
            return mn__pg_lost(c, MN_EIO);
        int w = wait_socket(c, MN_READ | MN_WRITE, deadline);
        if (w != MN_OK)
            return mn__pg_lost(c, w);
        if (!PQconsumeInput(c->pg))
            return mn__pg_lost(c, MN_EIO);
        if (deadline >= 0)
            deadline = mn__pg_io_deadline(c);
    }
}

/* Waits until PQgetResult() would not block. */
int mn__pg_await(mn__pg_conn *c, int64_t deadline)
{
    while (PQisBusy(c->pg)) {
        int w = wait_socket(c, MN_READ, deadline);
        if (w != MN_OK)
            return mn__pg_lost(c, w);
        if (!PQconsumeInput(c->pg))
            return mn__pg_lost(c, MN_EIO);
    }
    return MN_OK;
}

/* Collects every result of the command just sent, keeping the first error or else the last
 * result in *out (NULL to discard). Drains to the end so the connection is ready again. */
static int collect(mn__pg_conn *c, int64_t deadline, PGresult **out)
{
    PGresult *keep = NULL;
    int rc = MN_OK;
    for (;;) {
        int w = mn__pg_await(c, deadline);
        if (w != MN_OK) {
            PQclear(keep);
            return w;
        }
        PGresult *res = PQgetResult(c->pg);
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (rc != MN_OK) {
            PQclear(res);
            continue;
        }
        if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
            rc = mn__pg_result_error(c, res);
            PQclear(keep);
            keep = NULL;
            PQclear(res);
            continue;
        }
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            /* COPY needs its own API; refuse rather than leave the connection mid-copy. */
            PQclear(res);
            PQclear(keep);
            mn__pg_set_error(c, "0A000", "COPY is not supported through this API");
            c->broken = true;
            return MN_EIO;
        }
        PQclear(keep);
        keep = res;
    }
    if (rc == MN_OK && !keep) {
        mn__pg_set_error(c, "XX000", "the server sent no result");
        return MN_EIO;
    }
    if (out)
        *out = keep;
    else
        PQclear(keep);
    return rc;
}

int64_t mn__pg_io_deadline(mn__pg_conn *c)
{
    return deadline_after(c->io_timeout_ms);
}

/* ---- connect / close ---- */

static void copy_err(char *err, size_t errlen, const char *fmt, ...) MN_PRINTF(3, 4);
static void copy_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

/* Server notices (NOTICE, WARNING, and the FATAL of a server shutting down while we are
 * idle) go to the log, not straight to stderr as libpq's default would. A FATAL or PANIC
 * means the server is ending this session: the connection is broken from now on, even if
 * the socket's close has not arrived yet (libpq reads the message and the close in separate
 * steps, and a pool checking an idle connection between them would hand out a dead one). */
static void on_notice(void *arg, const PGresult *res)
{
    mn__pg_conn *c = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        c->broken = true;
    const char *message = PQresultErrorMessage(res);
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n')
        n--;
    mn_log(MN_LOG_DEBUG, "db.postgresql", "%.*s", (int)n, message);
}

/* Drives PQconnectPoll (or PQresetPoll) to the end, parking while libpq waits. */
static int finish_connect(mn__pg_conn *c, bool reset, char *err, size_t errlen)
{
    int64_t deadline = deadline_after(c->connect_timeout_ms);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            copy_err(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c->pg));
            return MN_EIO;
        }
        /* While connecting libpq may close a socket and open another (the next address),
         * which can get the same number: never trust an old registration here. */
        forget_fd(PQsocket(c->pg));
        c->fd = -1;
        int w = wait_socket(c, st == PGRES_POLLING_READING ? MN_READ : MN_WRITE, deadline);
        if (w != MN_OK) {
            copy_err(err, errlen, "cannot connect to PostgreSQL: %s",
                     w == MN_ETIMEDOUT ? "timed out" : mn_strerror(w));
            return w == MN_ETIMEDOUT || w == MN_ECANCELED ? w : MN_EIO;
        }
        st = reset ? PQresetPoll(c->pg) : PQconnectPoll(c->pg);
    }
    track_socket(c);
    PQsetNoticeReceiver(c->pg, on_notice, c);
    if (PQsetnonblocking(c->pg, 1) != 0) {
        copy_err(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c->pg));
        return MN_EIO;
    }
    return MN_OK;
}

int mn__pg_connect_params(const char *const *keys, const char *const *vals,
                          const mn__pg_options *opt, mn__pg_conn **out, char *err, size_t errlen)
{
    *out = NULL;
    mn__pg_options o = opt ? *opt : (mn__pg_options){.prepare = true};
    int64_t connect_timeout = o.connect_timeout_ms > 0 ? o.connect_timeout_ms : 10000;

    /* Every session in UTC with ISO dates, so the ORM reads one format; the caller's
     * keywords come first and ours are added after them. */
    enum { OURS = 8 };
    size_t n = 0;
    while (keys && keys[n])
        n++;
    const char **k = mn_calloc(n + OURS + 1, sizeof *k);
    const char **v = mn_calloc(n + OURS + 1, sizeof *v);
    if (!k || !v) {
        mn_free(k);
        mn_free(v);
        copy_err(err, errlen, "%s", "out of memory");
        return MN_ENOMEM;
    }
    /* The user's own options (from the URL) are kept, ours follow them. */
    const char *user_options = "";
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], "options") == 0) {
            user_options = vals[i];
            continue;
        }
        k[m] = keys[i];
        v[m++] = vals[i];
    }
    char options[512];
    int len = snprintf(options, sizeof options, "%s%s-c TimeZone=UTC -c DateStyle=ISO,YMD",
                       user_options, *user_options ? " " : "");
    if (o.statement_timeout_ms > 0 && len > 0 && (size_t)len < sizeof options)
        snprintf(options + len, sizeof options - (size_t)len, " -c statement_timeout=%lld",
                 (long long)o.statement_timeout_ms);
    k[m] = "options", v[m++] = options;
    k[m] = "client_encoding", v[m++] = "UTF8";
    k[m] = "fallback_application_name", v[m++] = "manouche";
    /* Defaults the URL may override. GSSAPI encryption is otherwise tried first, costing a
     * credential-cache lookup on every connect (gssencmode=prefer in the URL brings it back);
     * keepalives make a server that vanished without a word (a cut network) an error within
     * a minute instead of a request that hangs for the kernel's two hours. */
    static const char *const defaults[][2] = {
        {"gssencmode", "disable"},
        {"keepalives_idle", "30"},
        {"keepalives_interval", "10"},
        {"keepalives_count", "3"},
    };
    for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
        bool given = false;
        for (size_t i = 0; i < n; i++)
            given |= strcmp(keys[i], defaults[d][0]) == 0;
        if (!given)
            k[m] = defaults[d][0], v[m++] = defaults[d][1];
    }
    k[m] = NULL, v[m] = NULL;
    PGconn *pg = PQconnectStartParams(k, v, 0);
    mn_free(k);
    mn_free(v);
    if (!pg) {
        copy_err(err, errlen, "%s", "out of memory");
        return MN_ENOMEM;
    }
    if (PQstatus(pg) == CONNECTION_BAD) {
        copy_err(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return MN_EINVAL;
    }
    mn__pg_conn *c = mn_calloc(1, sizeof *c);
    if (!c) {
        PQfinish(pg);
        copy_err(err, errlen, "%s", "out of memory");
        return MN_ENOMEM;
    }
    c->pg = pg;
    c->fd = -1;
    if (o.io_timeout_ms != 0)
        c->io_timeout_ms = o.io_timeout_ms;
    else
        c->io_timeout_ms = o.statement_timeout_ms > 0 ? o.statement_timeout_ms + 5000 : -1;
    c->next_id = 1;
    if (!o.prepare)
        c->stmt_cap = UINT32_MAX; /* marks the cache as disabled */

    c->connect_timeout_ms = connect_timeout;
    int rc = finish_connect(c, false, err, errlen);
    if (rc != MN_OK) {
        mn__pg_close(c);
        return rc;
    }
    *out = c;
    return MN_OK;
}

/* The server forgot our statements (a new session): forget them too. */
static void stmts_forget(mn__pg_conn *c)
{
    if (c->stmt_cap == UINT32_MAX || !c->stmts)
        return;
    for (uint32_t i = 0; i < c->stmt_cap; i++) {
        mn_free(c->stmts[i].sql);
        c->stmts[i] = (mn__pg_stmt){0};
    }
    c->stmt_count = 0;
    c->last_sql = NULL;
    c->last_stmt = NULL;
}

static void stmts_free(mn__pg_conn *c)
{
    if (c->stmt_cap == UINT32_MAX)
        return;
    for (uint32_t i = 0; i < c->stmt_cap; i++)
        mn_free(c->stmts[i].sql);
    mn_free(c->stmts);
    c->stmts = NULL;
    c->stmt_cap = c->stmt_count = 0;
    c->last_sql = NULL;
    c->last_stmt = NULL;
}

void mn__pg_close(mn__pg_conn *c)
{
    if (!c)
        return;
    /* PQfinish sends a Terminate message with a non-blocking write: it never parks. */
    track_socket(c);
    forget_fd(c->fd);
    PQfinish(c->pg);
    stmts_free(c);
    mn_free(c);
}

void mn__pg_abandon(mn__pg_conn *c)
{
    if (!c)
        return;
    /* The socket is shared with the parent process: point our descriptor at /dev/null so
     * that PQfinish's goodbye goes nowhere and the parent's session carries on. */
    int fd = PQsocket(c->pg);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && devnull >= 0)
        dup2(devnull, fd);
    if (devnull >= 0)
        close(devnull);
    c->fd = -1; /* the loop of this process never saw it */
    PQfinish(c->pg);
    c->pg = NULL;
    stmts_free(c);
    mn_free(c);
}

bool mn__pg_alive(mn__pg_conn *c)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK)
        return false;
    if (PQtransactionStatus(c->pg) == PQTRANS_ACTIVE)
        return false; /* a command still in flight: out of sync for the next user */
    /* An idle connection has nothing to read unless the server sent a notice or closed it
     * (a restart, an idle-session timeout): look without blocking. A server going away
     * sends a FATAL message, then closes; libpq reads them in separate steps. */
    for (int round = 0; round < 4; round++) {
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        int r = poll(&p, 1, 0);
        if (r == 0)
            return true;
        if (r < 0 || !PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK || c->broken) {
            c->broken = true;
            track_socket(c);
            return false;
        }
        while (!PQisBusy(c->pg)) {
            PGresult *res = PQgetResult(c->pg);
            if (!res)
                break;
            PQclear(res);
        }
    }
    return true; /* a stream of notices: still a live connection */
}

/* Replaces the session with a fresh one on the same PGconn (new socket, empty statement
 * cache): cheaper than reading an abandoned result to its end. */
void mn__pg_reconnect(mn__pg_conn *c)
{
    track_socket(c);
    forget_fd(c->fd);
    c->fd = -1;
    stmts_forget(c);
    char err[256];
    if (!PQresetStart(c->pg) || finish_connect(c, true, err, sizeof err) != MN_OK)
        c->broken = true;
}

/* ---- prepared-statement cache ---- */

/* Eight bytes a step (the statements the ORM runs are 60 to 200 bytes): every run of a
 * statement hashes its text, so this is on the path of the cheapest query there is. */
static uint64_t hash_sql(const char *s, size_t *len)
{
    size_t n = strlen(s);
    *len = n;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (; n >= 8; n -= 8, s += 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

/* The cache entry for sql, created if there is room; NULL when caching is off or full. */
static mn__pg_stmt *stmt_lookup(mn__pg_conn *c, const char *sql)
{
    if (c->stmt_cap == UINT32_MAX)
        return NULL;
    /* The ORM runs its cached statements from the same text pointer: one strcmp then. */
    if (sql == c->last_sql && c->last_stmt->sql && strcmp(c->last_stmt->sql, sql) == 0)
        return c->last_stmt;
    if (!c->stmts) {
        c->stmts = mn_calloc(STMT_CACHE_MAX * 2, sizeof *c->stmts);
        if (!c->stmts)
            return NULL;
        c->stmt_cap = STMT_CACHE_MAX * 2;
    }
    size_t len;
    uint64_t h = hash_sql(sql, &len);
    uint32_t mask = c->stmt_cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        mn__pg_stmt *s = &c->stmts[i];
        if (!s->sql) {
            if (c->stmt_count >= STMT_CACHE_MAX)
                return NULL;
            s->sql = mn_malloc(len + 1);
            if (!s->sql)
                return NULL;
            memcpy(s->sql, sql, len + 1);
            s->hash = h;
            c->stmt_count++;
            c->last_sql = sql;
            c->last_stmt = s;
            return s;
        }
        if (s->hash == h && strcmp(s->sql, sql) == 0) {
            c->last_sql = sql;
            c->last_stmt = s;
            return s;
        }
    }
}

/* ---- statements ---- */

int mn__pg_send_unnamed(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                        const char *const *values, const int *lengths, const int *formats,
                        bool allow_multi)
{
    int ok = nparams == 0 && allow_multi
                 ? PQsendQuery(c->pg, sql)
                 : PQsendQueryParams(c->pg, sql, nparams, types, values, lengths, formats, 0);
    if (!ok) {
        if (PQstatus(c->pg) == CONNECTION_BAD)
            return mn__pg_lost(c, MN_EIO);
        mn__pg_set_error(c, "08000", "cannot send the query: %s", PQerrorMessage(c->pg));
        return MN_EIO;
    }
    return MN_OK;
}

static int send_prepare(mn__pg_conn *c, mn__pg_stmt *s, int nparams, const Oid *types,
                        int64_t deadline)
{
    uint32_t id = c->next_id++;
    snprintf(s->name, sizeof s->name, "mn_%u", id);
    if (!PQsendPrepare(c->pg, s->name, s->sql, nparams, types)) {
        if (PQstatus(c->pg) == CONNECTION_BAD)
            return mn__pg_lost(c, MN_EIO);
        mn__pg_set_error(c, "08000", "cannot send the query: %s", PQerrorMessage(c->pg));
        return MN_EIO;
    }
    int rc = mn__pg_flush(c, deadline);
    if (rc == MN_OK)
        rc = collect(c, deadline, NULL);
    if (rc == MN_OK)
        s->id = id;
    return rc;
}

int mn__pg_exec(mn__pg_conn *c, const char *sql, int nparams, const Oid *types,
                const char *const *values, const int *lengths, const int *formats, bool allow_multi,
                PGresult **res)
{
    *res = NULL;
    c->sqlstate[0] = c->message[0] = '\0';
    if (c->broken) {
        mn__pg_set_error(c, "08003", "the connection to the PostgreSQL server is broken");
        return MN_EIO;
    }
    int64_t deadline = mn__pg_io_deadline(c);
    /* A script's statements each have the server's statement_timeout, and the server sends
     * their results together at the end: one deadline per statement (an upper bound: a ';'
     * in a literal only adds time). */
    for (const char *p = sql; deadline >= 0 && allow_multi && nparams == 0 && (p = strchr(p, ';'));
         p++)
        deadline += c->io_timeout_ms;
    mn__pg_stmt *s = allow_multi && nparams == 0 ? NULL : stmt_lookup(c, sql);
    if (s && !s->id && ++s->uses >= PREPARE_AFTER_USES) {
        int rc = send_prepare(c, s, nparams, types, deadline);
        if (rc != MN_OK)
            return rc; /* the same error the statement itself would have raised */
    }
    for (int attempt = 0;; attempt++) {
        int rc;
        if (s && s->id) {
            rc = PQsendQueryPrepared(c->pg, s->name, nparams, values, lengths, formats, 0)
                     ? MN_OK
                     : mn__pg_lost(c, MN_EIO);
        } else {
            rc = mn__pg_send_unnamed(c, sql, nparams, types, values, lengths, formats, allow_multi);
        }
        if (rc == MN_OK)
            rc = mn__pg_flush(c, deadline);
        if (rc == MN_OK)
            rc = collect(c, deadline, res);
        /* A table changed under a prepared statement ("cached plan must not change result
         * type", 0A000) or the session forgot it (DEALLOCATE / DISCARD ALL in raw SQL,
         * 26000): outside a transaction, run it unprepared once and prepare it afresh later. */
        if (rc == MN_EIO && s && s->id && attempt == 0 && !c->broken &&
            (strcmp(c->sqlstate, "0A000") == 0 || strcmp(c->sqlstate, "26000") == 0) &&
            PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
            s->id = 0;
            s->uses = 0;
            continue;
        }
        return rc;
    }
}
