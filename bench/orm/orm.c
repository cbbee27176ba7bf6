/* bench-orm — in-process ORM figures for bench/run (make bench), each printed as one
 * `RESULT {json}` line:
 *
 *   bench-orm pk DATABASE_URL SECONDS
 *       one World row by primary key, the raw driver (sqlite3 / libpq, a prepared statement
 *       reused, as a hand-written program would) against the ORM the way a view uses it (a
 *       session in a request arena, mn_get(mn_all(o, World), "pk", id), the arena reset).
 *       Alternating rounds of each, so both see the same machine load. Target: ORM <= 1.3x.
 *   bench-orm bulk DATABASE_URL
 *       mn_bulk_create of 10,000 then 100,000 rows into an empty table, both timed: linear
 *       means the second takes ~10x the first.
 *   bench-orm sleep DATABASE_URL [REQUESTS] [POOL]
 *       PostgreSQL: REQUESTS (1,000) coroutines in one loop, each a session running
 *       SELECT pg_sleep(0.05) through the ORM over a pool of POOL (10) connections: no thread
 *       per request, so ~REQUESTS * 50 ms / POOL (5 s) in all.
 *
 * The table is bench_world (not the app's world), created when missing. */
#include <manouche/db.h>
#include <manouche/orm.h>
#include <manouche/rt.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BWORLD_FIELDS(F)                                                                   \
    F(id, MN_AUTO)                                                                         \
    F(randomNumber, MN_INT, .db_column = "randomnumber", .default_int = 0)
MN_MODEL(BWorld, BWORLD_FIELDS);
MN_MODEL_DEFINE(BWorld, bench, BWORLD_FIELDS, .db_table = "bench_world");

enum { ROWS = 10000 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252u;
static int64_t rid(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int64_t)(rng % ROWS) + 1;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench-orm: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static mn_db *open_db(const char *url, int pool)
{
    char err[256] = "";
    mn_dbconfig cfg = {.url = url, .pool_size = pool, .pool_timeout_ms = 60000};
    mn_db *db = mn_db_new(&cfg, err, sizeof err);
    if (!db)
        die("database", err);
    return db;
}

/* Empties (or creates) bench_world; with fill, puts ROWS rows in. */
static void reset_table(mn_db *db, size_t fill)
{
    mn_arena *a = mn_arena_new(1 << 20);
    mn_orm *o = mn_orm_new(a, db);
    if (mn_orm_create_tables(o, true) != 0)
        die("create table", mn_orm_error(o));
    if (mn_qs_delete(mn_all(o, BWorld), NULL) < 0)
        die("empty table", mn_orm_error(o));
    if (fill) {
        void **objs = mn_arena_alloc(a, sizeof(void *) * fill);
        for (size_t i = 0; i < fill; i++) {
            BWorld *w = mn_new(o, BWorld);
            w->id = (int64_t)i + 1;
            w->randomNumber = rid();
            objs[i] = w;
        }
        if (mn_bulk_create(o, &BWorld_model, objs, fill, NULL) != 0)
            die("fill", mn_orm_error(o));
    }
    mn_orm_close(o);
    mn_arena_free(a);
}

/* ---- One row by primary key ---- */
typedef struct raw {
    sqlite3 *lite;
    sqlite3_stmt *st;
    PGconn *pg;
} raw;

static void raw_open(raw *r, mn_db *db, const char *url)
{
    memset(r, 0, sizeof *r);
    if (mn_db_dialect(db) == MN_DIALECT_SQLITE) {
        if (sqlite3_open(mn_db_url(db)->path, &r->lite) != SQLITE_OK ||
            sqlite3_prepare_v2(r->lite, "SELECT id, randomnumber FROM bench_world WHERE id = ?1",
                               -1, &r->st, NULL) != SQLITE_OK)
            die("sqlite3", sqlite3_errmsg(r->lite));
        return;
    }
    r->pg = PQconnectdb(url);
    if (PQstatus(r->pg) != CONNECTION_OK)
        die("libpq", PQerrorMessage(r->pg));
    PGresult *res = PQprepare(r->pg, "w", "SELECT id, randomnumber FROM bench_world WHERE id = $1",
                              1, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        die("libpq prepare", PQerrorMessage(r->pg));
    PQclear(res);
}

static int64_t raw_get(raw *r, int64_t id)
{
    if (r->lite) {
        sqlite3_bind_int64(r->st, 1, id);
        int64_t v = -1;
        if (sqlite3_step(r->st) == SQLITE_ROW)
            v = sqlite3_column_int64(r->st, 1);
        sqlite3_reset(r->st);
        return v;
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)id);
    const char *vals[1] = {buf};
    PGresult *res = PQexecPrepared(r->pg, "w", 1, vals, NULL, NULL, 0);
    int64_t v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                    ? atoll(PQgetvalue(res, 0, 1))
                    : -1;
    PQclear(res);
    return v;
}

static void raw_close(raw *r)
{
    if (r->st)
        sqlite3_finalize(r->st);
    if (r->lite)
        sqlite3_close(r->lite);
    if (r->pg)
        PQfinish(r->pg);
}

static int bench_pk(const char *url, double seconds)
{
    mn_db *db = open_db(url, 1);
    reset_table(db, ROWS);
    raw r;
    raw_open(&r, db, url);
    mn_arena *a = mn_arena_new(8192);
    double t_raw = 0, t_orm = 0;
    long n_raw = 0, n_orm = 0;
    int64_t sum = 0;
    double end = now_s() + seconds;
    /* Short alternating rounds: load from other work on the machine hits both alike. */
    while (now_s() < end) {
        double t0 = now_s();
        for (int i = 0; i < 500; i++) {
            int64_t v = raw_get(&r, rid());
            if (v < 0)
                die("raw lookup", "no row");
            sum += v;
        }
        double t1 = now_s();
        for (int i = 0; i < 500; i++) {
            mn_orm *o = mn_orm_new(a, db);
            BWorld *w = o ? mn_get(mn_all(o, BWorld), "pk", rid()) : NULL;
            if (!w)
                die("orm lookup", o ? mn_orm_error(o) : "no memory");
            sum += w->randomNumber;
            mn_arena_reset(a); /* as the end of a request: gives the connection back */
        }
        double t2 = now_s();
        t_raw += t1 - t0;
        t_orm += t2 - t1;
        n_raw += 500;
        n_orm += 500;
    }
    mn_arena_free(a);
    raw_close(&r);
    mn_db_free(db);
    double raw_us = t_raw / (double)n_raw * 1e6, orm_us = t_orm / (double)n_orm * 1e6;
    printf("RESULT {\"test\":\"pk\",\"vendor\":\"%s\",\"raw_us\":%.3f,\"orm_us\":%.3f,"
           "\"ratio\":%.3f,\"lookups\":%ld,\"checksum\":%lld}\n",
           strncmp(url, "sqlite", 6) == 0 ? "sqlite" : "postgresql", raw_us, orm_us,
           orm_us / raw_us, n_raw + n_orm, (long long)sum);
    return 0;
}

/* ---- bulk_create linearity ---- */
static double time_bulk(mn_db *db, size_t n)
{
    reset_table(db, 0);
    mn_arena *a = mn_arena_new(1 << 20);
    mn_orm *o = mn_orm_new(a, db);
    void **objs = mn_arena_alloc(a, sizeof(void *) * n);
    for (size_t i = 0; i < n; i++) {
        BWorld *w = mn_new(o, BWorld);
        w->randomNumber = (int64_t)(i % ROWS) + 1;
        objs[i] = w;
    }
    double t0 = now_s();
    if (mn_bulk_create(o, &BWorld_model, objs, n, NULL) != 0)
        die("bulk_create", mn_orm_error(o));
    double t = now_s() - t0;
    int64_t count = mn_qs_count(mn_all(o, BWorld));
    if (count != (int64_t)n)
        die("bulk_create", "wrong row count afterwards");
    mn_orm_close(o);
    mn_arena_free(a);
    return t;
}

static int bench_bulk(const char *url)
{
    mn_db *db = open_db(url, 1);
    /* The best of a few runs each: 10,000 rows take milliseconds, where one hiccup from
     * other work on the machine would otherwise decide the ratio. */
    double t10 = 1e9, t100 = 1e9;
    for (int i = 0; i < 3; i++) {
        double t = time_bulk(db, 10000);
        t10 = t < t10 ? t : t10;
    }
    for (int i = 0; i < 2; i++) {
        double t = time_bulk(db, 100000);
        t100 = t < t100 ? t : t100;
    }
    reset_table(db, 0);
    mn_db_free(db);
    printf("RESULT {\"test\":\"bulk\",\"vendor\":\"%s\",\"s_10k\":%.4f,\"s_100k\":%.4f,"
           "\"ratio\":%.2f}\n",
           strncmp(url, "sqlite", 6) == 0 ? "sqlite" : "postgresql", t10, t100, t100 / t10);
    return 0;
}

/* ---- 1,000 concurrent 50 ms queries over a pool of 10 ---- */
typedef struct sleeper {
    mn_db *db;
    int remaining;
    int ok;
    bool failed;
    char *error; /* the first failure's message */
} sleeper;

static void sleep_one(void *arg)
{
    sleeper *s = arg;
    mn_arena *a = mn_arena_new(4096);
    mn_orm *o = a ? mn_orm_new(a, s->db) : NULL;
    /* Through the ORM: a raw query mapped onto the model (Manager.raw). */
    mn_rows *rows = o ? mn_raw(o, &BWorld_model,
                               "SELECT 1 AS id, 1 AS randomnumber FROM pg_sleep(0.05)", NULL, 0)
                      : NULL;
    if (rows && rows->len == 1)
        s->ok++;
    else if (!s->error)
        s->error = o ? strdup(mn_orm_error(o)) : NULL;
    if (!rows)
        s->failed = true;
    mn_arena_free(a); /* gives the connection back to the pool */
    if (--s->remaining == 0)
        mn_loop_stop(mn_loop_current());
}

static int bench_sleep(const char *url, int n, int pool)
{
    mn_db *db = open_db(url, pool);
    mn_loop *loop = mn_loop_new();
    if (!loop)
        die("loop", "no memory");
    sleeper s = {.db = db, .remaining = n};
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (!mn_coro_spawn(loop, sleep_one, &s))
            die("spawn", "no memory");
    mn_loop_run(loop);
    double t = now_s() - t0;
    mn_loop_free(loop);
    mn_db_free(db);
    printf("RESULT {\"test\":\"sleep\",\"requests\":%d,\"pool\":%d,\"ok\":%d,\"seconds\":%.3f,"
           "\"ideal_seconds\":%.3f}\n",
           n, pool, s.ok, t, n * 0.05 / pool);
    if (s.error || s.failed)
        fprintf(stderr, "bench-orm sleep: %s\n", s.error ? s.error : "no memory");
    free(s.error);
    return s.ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "pk") == 0)
        return bench_pk(argv[2], atof(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "bulk") == 0)
        return bench_bulk(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "sleep") == 0)
        return bench_sleep(argv[2], argc > 3 ? atoi(argv[3]) : 1000, argc > 4 ? atoi(argv[4]) : 10);
    fprintf(stderr, "usage: bench-orm pk URL SECONDS | bulk URL | sleep URL [N [POOL]]\n");
    return 2;
}
