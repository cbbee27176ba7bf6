/* bench-dbfloor — the floor for the database tests (DESIGN.md section 6): bench-floor's
 * single-threaded epoll HTTP/1.1 server (no framework, no Manouche code) that answers the
 * TechEmpower /db, /queries?queries=N and /updates?queries=N tests by calling the raw driver,
 * sqlite3 or libpq, with prepared statements made once. The queries are blocking calls on one
 * connection: the same single-threaded model, and for SQLite the same work, as one Manouche
 * worker; on PostgreSQL Manouche overlaps requests over a pool (which the floor does not).
 * /updates writes back in one statement per request on PostgreSQL (UPDATE ... FROM unnest) and
 * in one transaction of prepared single-row UPDATEs on SQLite, as the rules allow. SQLite runs
 * with the settings Manouche's driver uses (WAL, synchronous=NORMAL).
 *
 *   bench-dbfloor PORT DATABASE_URL     (sqlite:////abs/path.db or postgres://...; the tables
 *                                        world and fortune must exist: the app creates them) */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

enum {
    READ_CHUNK = 64 * 1024,   /* one read() at most */
    OUT_SIZE = 256 * 1024,    /* shared output buffer, flushed when nearly full */
    OUT_RESERVE = 32 * 1024,  /* room one response needs (500 worlds: ~17 KB) */
    MAX_REQUEST = 64 * 1024,  /* a request head larger than this is refused */
    MAX_EVENTS = 1024,
};

/* One connection. Invariant: pending is NULL unless a partial request is waiting for more
 * bytes; unsent is NULL unless a write could not finish (then EPOLLOUT is armed). */
typedef struct conn {
    int fd;
    bool want_close;     /* close once unsent output is flushed */
    char *pending;       /* bytes of an incomplete request */
    size_t pending_len;
    char *unsent;        /* output the socket would not take yet */
    size_t unsent_len, unsent_off;
} conn;

static int epfd;
static char inbuf[READ_CHUNK];
static char outbuf[OUT_SIZE];
static size_t outlen;
static char date_hdr[64]; /* "Date: Tue, 25 Nov 2026 00:00:00 GMT\r\n" */
static size_t date_len;
static time_t date_sec = -1;

static void refresh_date(void)
{
    time_t now = time(NULL);
    if (now == date_sec)
        return;
    date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    date_len = strftime(date_hdr, sizeof date_hdr, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void out_put(const char *s, size_t n)
{
    memcpy(outbuf + outlen, s, n);
    outlen += n;
}

#define OUT_LIT(s) out_put(s, sizeof(s) - 1)

static void out_uint(size_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_put(tmp + i, sizeof tmp - (size_t)i);
}

/* Writes s as a JSON string (quotes included), escaping what JSON requires. */
static size_t json_string(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *p = dst;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return (size_t)(p - dst);
}

static void respond_head(const char *status, const char *ctype, size_t clen, bool close)
{
    out_put(status, strlen(status));
    OUT_LIT("Server: dbfloor\r\n");
    out_put(date_hdr, date_len);
    OUT_LIT("Content-Type: ");
    out_put(ctype, strlen(ctype));
    OUT_LIT("\r\nContent-Length: ");
    out_uint(clen);
    if (close)
        OUT_LIT("\r\nConnection: close");
    OUT_LIT("\r\n\r\n");
}

static void respond_plaintext(bool close)
{
    respond_head("HTTP/1.1 200 OK\r\n", "text/plain", 13, close);
    OUT_LIT("Hello, World!");
}

static void respond_json(bool close)
{
    /* Serialised per request: {"message":"Hello, World!"} */
    char body[128];
    size_t n = 0;
    body[n++] = '{';
    n += json_string(body + n, "message");
    body[n++] = ':';
    n += json_string(body + n, "Hello, World!");
    body[n++] = '}';
    respond_head("HTTP/1.1 200 OK\r\n", "application/json", n, close);
    out_put(body, n);
}

static void respond_error(const char *status, bool close)
{
    respond_head(status, "text/plain", 0, close);
}


/* ---- The database: one connection, statements prepared once. ---- */
static sqlite3 *lite;
static sqlite3_stmt *lite_get, *lite_set, *lite_begin, *lite_commit;
static PGconn *pg;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static int64_t random_id(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (int64_t)((rng_state >> 32) % 10000) + 1;
}

static void db_open(const char *url)
{
    if (strncmp(url, "sqlite:///", 10) == 0) {
        if (sqlite3_open(url + 10, &lite) != SQLITE_OK ||
            sqlite3_exec(lite, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000", NULL, NULL,
                         NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(lite, "SELECT id, randomnumber FROM world WHERE id = ?1", -1,
                               &lite_get, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(lite, "UPDATE world SET randomnumber = ?1 WHERE id = ?2", -1,
                               &lite_set, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(lite, "BEGIN", -1, &lite_begin, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(lite, "COMMIT", -1, &lite_commit, NULL) != SQLITE_OK) {
            fprintf(stderr, "bench-dbfloor: %s\n", sqlite3_errmsg(lite));
            exit(1);
        }
        return;
    }
    pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "bench-dbfloor: %s", PQerrorMessage(pg));
        exit(1);
    }
    PGresult *a = PQprepare(pg, "get", "SELECT id, randomnumber FROM world WHERE id = $1", 1, NULL);
    PGresult *b = PQprepare(pg, "set", "UPDATE world SET randomnumber = v.r FROM "
                            "(SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS r) AS v "
                            "WHERE world.id = v.id", 2, NULL);
    if (PQresultStatus(a) != PGRES_COMMAND_OK || PQresultStatus(b) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench-dbfloor: %s", PQerrorMessage(pg));
        exit(1);
    }
    PQclear(a);
    PQclear(b);
}

static bool db_get(int64_t id, int64_t *value)
{
    if (lite) {
        sqlite3_bind_int64(lite_get, 1, id);
        bool ok = sqlite3_step(lite_get) == SQLITE_ROW;
        if (ok)
            *value = sqlite3_column_int64(lite_get, 1);
        sqlite3_reset(lite_get);
        return ok;
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)id);
    const char *vals[1] = {buf};
    PGresult *r = PQexecPrepared(pg, "get", 1, vals, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        *value = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return ok;
}

static bool db_set(const int64_t *ids, const int64_t *values, int n)
{
    if (lite) {
        bool ok = sqlite3_step(lite_begin) == SQLITE_DONE;
        sqlite3_reset(lite_begin);
        for (int i = 0; ok && i < n; i++) {
            sqlite3_bind_int64(lite_set, 1, values[i]);
            sqlite3_bind_int64(lite_set, 2, ids[i]);
            ok = sqlite3_step(lite_set) == SQLITE_DONE;
            sqlite3_reset(lite_set);
        }
        if (ok) {
            ok = sqlite3_step(lite_commit) == SQLITE_DONE;
            sqlite3_reset(lite_commit);
        } else {
            sqlite3_exec(lite, "ROLLBACK", NULL, NULL, NULL);
        }
        return ok;
    }
    char a[500 * 8 + 4], b[500 * 8 + 4];
    size_t la = 0, lb = 0;
    a[la++] = '{';
    b[lb++] = '{';
    for (int i = 0; i < n; i++) {
        la += (size_t)snprintf(a + la, sizeof a - la, "%s%lld", i ? "," : "", (long long)ids[i]);
        lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s%lld", i ? "," : "",
                               (long long)values[i]);
    }
    a[la++] = '}';
    b[lb++] = '}';
    a[la] = b[lb] = 0;
    const char *vals[2] = {a, b};
    PGresult *r = PQexecPrepared(pg, "set", 2, vals, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* The rules: missing, empty or non-numeric is 1; clamped to 1..500. */
static int queries_param(const char *q, const char *end)
{
    for (const char *p = q; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop - p > 8 && memcmp(p, "queries=", 8) == 0) {
            long n = 0;
            const char *d = p + 8;
            for (; d < stop && *d >= '0' && *d <= '9' && n < 100000; d++)
                n = n * 10 + (*d - '0');
            if (d != stop)
                return 1;
            return n < 1 ? 1 : n > 500 ? 500 : (int)n;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 1;
}

static size_t world_json(char *dst, int64_t id, int64_t value)
{
    return (size_t)sprintf(dst, "{\"id\":%lld,\"randomNumber\":%lld}", (long long)id,
                           (long long)value);
}

/* kind: 0 /db, 1 /queries, 2 /updates */
static void respond_worlds(int kind, int n, bool close)
{
    int64_t ids[500], values[500];
    for (int i = 0; i < n; i++) {
        ids[i] = random_id();
        if (!db_get(ids[i], &values[i])) {
            respond_error("HTTP/1.1 500 Internal Server Error\r\n", close);
            return;
        }
    }
    if (kind == 2) {
        for (int i = 0; i < n; i++) {
            int64_t v;
            do
                v = random_id();
            while (v == values[i]);
            values[i] = v;
        }
        if (!db_set(ids, values, n)) {
            respond_error("HTTP/1.1 500 Internal Server Error\r\n", close);
            return;
        }
    }
    static char body[500 * 40 + 8];
    size_t len = 0;
    if (kind == 0) {
        len = world_json(body, ids[0], values[0]);
    } else {
        body[len++] = '[';
        for (int i = 0; i < n; i++) {
            if (i)
                body[len++] = ',';
            len += world_json(body + len, ids[i], values[i]);
        }
        body[len++] = ']';
    }
    respond_head("HTTP/1.1 200 OK\r\n", "application/json", len, close);
    out_put(body, len);
}

static bool ieq_prefix(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - p) < n)
        return false;
    return strncasecmp(p, lit, n) == 0;
}

static bool contains_token(const char *p, const char *end, const char *tok)
{
    size_t n = strlen(tok);
    for (; p + n <= end; p++)
        if (strncasecmp(p, tok, n) == 0)
            return true;
    return false;
}

/* Parses and answers one request at buf[0..len). Returns the bytes it used, 0 when the request
 * is not complete yet, or -1 when the connection must close after the output is flushed. */
static long handle_one(const char *buf, size_t len, conn *c)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end && len <= MAX_REQUEST)
        return 0;
    if (!end) {
        respond_error("HTTP/1.1 431 Request Header Fields Too Large\r\n", true);
        return -1;
    }
    const char *head_end = end + 2; /* keeps the last header's CRLF */
    size_t used = (size_t)(end + 4 - buf);

    /* Request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    const char *eol = memchr(buf, '\r', (size_t)(head_end - buf));
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        respond_error("HTTP/1.1 400 Bad Request\r\n", true);
        return -1;
    }
    bool http10 = sp2[8] == '0';
    bool keep_alive = !http10;
    size_t body_len = 0;

    /* Headers: only Connection and Content-Length matter here. */
    for (const char *h = eol + 2; h < head_end;) {
        const char *hend = memchr(h, '\r', (size_t)(head_end - h));
        if (!hend)
            break;
        if (ieq_prefix(h, hend, "connection:")) {
            if (contains_token(h + 11, hend, "close"))
                keep_alive = false;
            else if (contains_token(h + 11, hend, "keep-alive"))
                keep_alive = true;
        } else if (ieq_prefix(h, hend, "content-length:")) {
            const char *p = h + 15;
            while (p < hend && *p == ' ')
                p++;
            body_len = 0;
            for (; p < hend && *p >= '0' && *p <= '9'; p++)
                body_len = body_len * 10 + (size_t)(*p - '0');
            if (body_len > MAX_REQUEST) {
                respond_error("HTTP/1.1 413 Content Too Large\r\n", true);
                return -1;
            }
        }
        h = hend + 2;
    }
    if (len - used < body_len)
        return 0;
    used += body_len;

    size_t mlen = (size_t)(sp1 - buf), tlen = (size_t)(sp2 - sp1 - 1);
    const char *target = sp1 + 1;
    bool get = mlen == 3 && memcmp(buf, "GET", 3) == 0;
    if (get && tlen == 10 && memcmp(target, "/plaintext", 10) == 0)
        respond_plaintext(!keep_alive);
    else if (get && tlen == 5 && memcmp(target, "/json", 5) == 0)
        respond_json(!keep_alive);
    else if (get && tlen == 3 && memcmp(target, "/db", 3) == 0)
        respond_worlds(0, 1, !keep_alive);
    else if (get && tlen >= 8 && memcmp(target, "/queries", 8) == 0 &&
             (tlen == 8 || target[8] == '?'))
        respond_worlds(1, queries_param(target + 9, target + tlen), !keep_alive);
    else if (get && tlen >= 8 && memcmp(target, "/updates", 8) == 0 &&
             (tlen == 8 || target[8] == '?'))
        respond_worlds(2, queries_param(target + 9, target + tlen), !keep_alive);
    else
        respond_error("HTTP/1.1 404 Not Found\r\n", !keep_alive);
    c->want_close = !keep_alive;
    return keep_alive ? (long)used : -1;
}

static void conn_close(conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c->pending);
    free(c->unsent);
    free(c);
}

static void set_events(conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queues outbuf behind output that is already waiting. false when out of memory. */
static bool append_unsent(conn *c)
{
    char *grown = realloc(c->unsent, c->unsent_len + outlen);
    if (!grown)
        return false;
    c->unsent = grown;
    memcpy(c->unsent + c->unsent_len, outbuf, outlen);
    c->unsent_len += outlen;
    outlen = 0;
    return true;
}

/* Sends outbuf, or queues it when earlier output is still waiting (responses stay in request
 * order). false when the connection died. */
static bool flush_out(conn *c)
{
    if (c->unsent)
        return append_unsent(c);
    size_t off = 0;
    while (off < outlen) {
        ssize_t n = write(c->fd, outbuf + off, outlen - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            c->unsent_len = outlen - off;
            c->unsent_off = 0;
            c->unsent = malloc(c->unsent_len);
            if (!c->unsent)
                return false;
            memcpy(c->unsent, outbuf + off, c->unsent_len);
            set_events(c, EPOLLOUT); /* read no more until this is gone (back-pressure) */
            break;
        } else {
            return false;
        }
    }
    outlen = 0;
    return true;
}

static bool write_unsent(conn *c)
{
    while (c->unsent_off < c->unsent_len) {
        ssize_t n = write(c->fd, c->unsent + c->unsent_off, c->unsent_len - c->unsent_off);
        if (n > 0)
            c->unsent_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return n < 0 && errno == EAGAIN;
    }
    free(c->unsent);
    c->unsent = NULL;
    c->unsent_len = c->unsent_off = 0;
    set_events(c, EPOLLIN);
    return !c->want_close;
}

/* Answers every complete request in data[0..len) with one write; keeps a partial one. */
static bool process(conn *c, const char *data, size_t len)
{
    size_t off = 0;
    bool alive = true;
    while (off < len) {
        if (outlen + OUT_RESERVE > OUT_SIZE && !flush_out(c))
            return false;
        long used = handle_one(data + off, len - off, c);
        if (used == 0)
            break;
        if (used < 0) {
            alive = false;
            break;
        }
        off += (size_t)used;
    }
    if (outlen && !flush_out(c))
        return false;
    if (!alive)
        return c->unsent != NULL; /* linger until the unsent output is gone */
    size_t rest = len - off;
    if (rest == 0) {
        free(c->pending);
        c->pending = NULL;
        c->pending_len = 0;
        return true;
    }
    if (data == c->pending) {
        memmove(c->pending, c->pending + off, rest);
    } else {
        char *p = malloc(rest);
        if (!p)
            return false;
        memcpy(p, data + off, rest);
        free(c->pending);
        c->pending = p;
    }
    c->pending_len = rest;
    return true;
}

static bool on_readable(conn *c)
{
    for (;;) {
        if (c->unsent) /* back-pressure: read no more until the output drains */
            return true;
        ssize_t n;
        if (c->pending) {
            char *grown = realloc(c->pending, c->pending_len + READ_CHUNK);
            if (!grown)
                return false;
            c->pending = grown;
            n = read(c->fd, c->pending + c->pending_len, READ_CHUNK);
            if (n > 0) {
                c->pending_len += (size_t)n;
                if (!process(c, c->pending, c->pending_len))
                    return false;
            }
        } else {
            n = read(c->fd, inbuf, sizeof inbuf);
            if (n > 0 && !process(c, inbuf, (size_t)n))
                return false;
        }
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if ((size_t)n < READ_CHUNK)
            return true;
    }
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of fds: try again on the next event */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static int listen_on(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bench-dbfloor: host %s is not an IPv4 address\n", host);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "bench-dbfloor: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench-dbfloor PORT DATABASE_URL\n"
                        "  a minimal epoll server answering /db, /queries and /updates\n");
        return 2;
    }
    char *endp;
    long port = strtol(argv[1], &endp, 10);
    if (*endp || port < 0 || port > 65535) {
        fprintf(stderr, "bench-dbfloor: PORT must be a number from 0 to 65535, not '%s'\n", argv[1]);
        return 2;
    }
    const char *host = "127.0.0.1";
    rng_state ^= (uint64_t)getpid() << 20;
    db_open(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = listen_on(host, (int)port);
    if (lfd < 0)
        return 1;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &salen);
    printf("bench-dbfloor: listening on %s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    static int listen_tag; /* its address marks the listening socket in events */
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listen_tag};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("bench-dbfloor: epoll_wait");
            return 1;
        }
        refresh_date();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listen_tag) {
                on_accept(lfd);
                continue;
            }
            conn *c = events[i].data.ptr;
            bool ok = true;
            if ((events[i].events & EPOLLOUT) && c->unsent)
                ok = write_unsent(c);
            if (ok && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                ok = on_readable(c);
            if (!ok)
                conn_close(c);
        }
    }
}
