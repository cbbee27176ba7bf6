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
#define FLOOR_NAME "bench-dbfloor"
#define FLOOR_SERVER "dbfloor"
#define OUT_RESERVE (32 * 1024) /* room one response needs (500 worlds: ~17 KB) */
#include "../lib/floor_server.h"

#include <libpq-fe.h>
#include <sqlite3.h>

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
            sqlite3_exec(
                lite,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000",
                NULL, NULL, NULL) != SQLITE_OK ||
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
    PGresult *b = PQprepare(pg, "set",
                            "UPDATE world SET randomnumber = v.r FROM "
                            "(SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS r) AS v "
                            "WHERE world.id = v.id",
                            2, NULL);
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
        lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s%lld", i ? "," : "", (long long)values[i]);
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

static void floor_route(bool get, const char *target, size_t tlen, bool close)
{
    if (get && tlen == 10 && memcmp(target, "/plaintext", 10) == 0)
        respond_plaintext(close);
    else if (get && tlen == 5 && memcmp(target, "/json", 5) == 0)
        respond_json(close);
    else if (get && tlen == 3 && memcmp(target, "/db", 3) == 0)
        respond_worlds(0, 1, close);
    else if (get && tlen >= 8 && memcmp(target, "/queries", 8) == 0 &&
             (tlen == 8 || target[8] == '?'))
        respond_worlds(1, queries_param(target + 9, target + tlen), close);
    else if (get && tlen >= 8 && memcmp(target, "/updates", 8) == 0 &&
             (tlen == 8 || target[8] == '?'))
        respond_worlds(2, queries_param(target + 9, target + tlen), close);
    else
        respond_error("HTTP/1.1 404 Not Found\r\n", close);
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
        fprintf(stderr, "bench-dbfloor: PORT must be a number from 0 to 65535, not '%s'\n",
                argv[1]);
        return 2;
    }
    const char *host = "127.0.0.1";
    rng_state ^= (uint64_t)getpid() << 20;
    db_open(argv[2]);
    return floor_serve(host, (int)port);
}
