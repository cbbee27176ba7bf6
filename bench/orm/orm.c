/* bench-orm — in-process ORM figures for bench/run (make bench), each printed as one
 * `RESULT {json}` line:
 *
 *   bench-orm pk DATABASE_URL SECONDS
 *       one World row by primary key, the raw driver (sqlite3 / libpq, a prepared statement
 *       reused, as a hand-written program would) against the ORM the way a view uses it (a
 *       session in a request arena, mn_get(mn_all(o, World), "pk", id), the arena reset).
 *       After a warm-up, alternating rounds of 200 of each, so both see the same machine
 *       load; the figures are the medians over the rounds. Target: ORM <= 1.3x (aim: 1.2x).
 *   bench-orm bulk DATABASE_URL [SMALL LARGE]
 *       mn_bulk_create of SMALL (10,000) and LARGE (100,000) rows into a freshly created
 *       table, one warm-up run then five of each size interleaved, the median of each timed
 *       (wall and CPU time): linear means the same cost per row at both sizes (bench/run:
 *       within 1.5x), judged on CPU time for SQLite (it works in this process) and on wall
 *       time for PostgreSQL (it works in the server).
 *   bench-orm pkloop DATABASE_URL raw|orm N,  bench-orm bulkone DATABASE_URL N
 *       one side of the pk comparison, or one bulk_create, for profilers (see below).
 *   bench-orm sleep DATABASE_URL [REQUESTS] [POOL]
 *       PostgreSQL: REQUESTS (1,000) coroutines in one loop, each a session running
 *       SELECT pg_sleep(0.05) through the ORM over a pool of POOL (10) connections: no thread
 *       per request, so ~REQUESTS * 50 ms / POOL (5 s) in all. No HTTP: the figure of the
 *       database layer alone, beside the one below.
 *   bench-orm serve [ADDRESS] [--workers N] ... (any command of mn_main: runserver, check...)
 *       the same query behind HTTP, as an ordinary Manouche project: GET /sleep runs
 *       SELECT pg_sleep(0.05) through the request's ORM session (mn_req_orm, so the worker's
 *       pool from DATABASE_URL, DB_POOL_SIZE and DB_POOL_TIMEOUT) and answers 200 "slept".
 *       bench/run starts it with one worker and sends 1,000 requests on 1,000 connections at
 *       once (bench/orm/burst.py): the "1,000 concurrent requests each running a 50 ms
 *       query all complete over a pool of 10 connections in one worker, in about 5 s".
 *
 * The table is bench_world (not the app's world), dropped and created afresh for each run. */
#include <manouche/cli.h>
#include <manouche/db.h>
#include <manouche/http.h>
#include <manouche/orm.h>
#include <manouche/rt.h>
#include <manouche/web.h>
#include <manouche/webdb.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* clang-format off */
#define BWORLD_FIELDS(F)                                                                   \
    F(id, MN_AUTO)                                                                         \
    F(randomNumber, MN_INT, .db_column = "randomnumber", .default_int = 0)
/* clang-format on */
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

/* Creates bench_world afresh (dropped first: every timed run starts from the same empty
 * table, not one holding the dead rows of the last run); with fill, puts ROWS rows in. */
static void reset_table(mn_db *db, size_t fill)
{
    mn_arena *a = mn_arena_new(1 << 20);
    mn_orm *o = mn_orm_new(a, db);
    mn_dbconn *c = mn_orm_conn(o, NULL);
    if (!c || mn_dbconn_exec_script(c, "DROP TABLE IF EXISTS bench_world") != 0)
        die("drop table", c ? mn_dbconn_errmsg(c) : mn_orm_error(o));
    if (mn_orm_create_tables(o, true) != 0)
        die("create table", mn_orm_error(o));
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
    PGresult *res =
        PQprepare(r->pg, "w", "SELECT id, randomnumber FROM bench_world WHERE id = $1", 1, NULL);
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

/* One lookup the way a view makes it: a session in the request arena, get by pk, and the
 * arena reset as at the end of a request (which gives the connection back). */
static int64_t orm_get(mn_db *db, mn_arena *a)
{
    mn_orm *o = mn_orm_new(a, db);
    BWorld *w = o ? mn_get(mn_all(o, BWorld), "pk", rid()) : NULL;
    if (!w)
        die("orm lookup", o ? mn_orm_error(o) : "no memory");
    int64_t v = w->randomNumber;
    mn_arena_reset(a);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { PK_ROUND = 200, PK_MAX_ROUNDS = 100000 };

static int bench_pk(const char *url, double seconds)
{
    mn_db *db = open_db(url, 1);
    reset_table(db, ROWS);
    raw r;
    raw_open(&r, db, url);
    mn_arena *a = mn_arena_new(8192);
    /* Per round: the raw and the ORM time of PK_ROUND lookups each, and their ratio. */
    double *rraw = malloc(PK_MAX_ROUNDS * sizeof *rraw);
    double *rorm = malloc(PK_MAX_ROUNDS * sizeof *rorm);
    double *rratio = malloc(PK_MAX_ROUNDS * sizeof *rratio);
    if (!rraw || !rorm || !rratio)
        die("memory", "no memory");
    size_t rounds = 0;
    int64_t sum = 0;
    /* A warm-up round of each: the statements get prepared, the caches filled. */
    for (int i = 0; i < 2 * PK_ROUND; i++)
        sum += raw_get(&r, rid()) + orm_get(db, a);
    double end = now_s() + seconds;
    /* Short alternating rounds, so load from other work on the machine hits both alike; the
     * median round is the figure, so a burst of such load does not decide it either. */
    while ((rounds == 0 || now_s() < end) && rounds < PK_MAX_ROUNDS) {
        double t0 = now_s();
        for (int i = 0; i < PK_ROUND; i++) {
            int64_t v = raw_get(&r, rid());
            if (v < 0)
                die("raw lookup", "no row");
            sum += v;
        }
        double t1 = now_s();
        for (int i = 0; i < PK_ROUND; i++)
            sum += orm_get(db, a);
        double t2 = now_s();
        rraw[rounds] = (t1 - t0) / PK_ROUND * 1e6;
        rorm[rounds] = (t2 - t1) / PK_ROUND * 1e6;
        rratio[rounds] = rorm[rounds] / rraw[rounds];
        rounds++;
    }
    mn_arena_free(a);
    raw_close(&r);
    mn_db_free(db);
    double raw_us = median(rraw, rounds), orm_us = median(rorm, rounds);
    double ratio = median(rratio, rounds);
    printf("RESULT {\"test\":\"pk\",\"vendor\":\"%s\",\"raw_us\":%.3f,\"orm_us\":%.3f,"
           "\"ratio\":%.3f,\"rounds\":%zu,\"lookups\":%zu,\"checksum\":%lld}\n",
           strncmp(url, "sqlite", 6) == 0 ? "sqlite" : "postgresql", raw_us, orm_us, ratio, rounds,
           2 * rounds * PK_ROUND, (long long)sum);
    free(rraw);
    free(rorm);
    free(rratio);
    return 0;
}

/* One side only, n lookups, for profilers: `valgrind --tool=callgrind --collect-atstart=no
 * --toggle-collect=pk_loop bench-orm pkloop URL raw|orm N`, or strace -c. */
__attribute__((noinline)) static int64_t pk_loop(raw *r, mn_db *db, mn_arena *a, bool orm, long n)
{
    int64_t sum = 0;
    for (long i = 0; i < n; i++)
        sum += orm ? orm_get(db, a) : raw_get(r, rid());
    return sum;
}

static int bench_pkloop(const char *url, const char *side, long n)
{
    mn_db *db = open_db(url, 1);
    reset_table(db, ROWS);
    raw r;
    raw_open(&r, db, url);
    mn_arena *a = mn_arena_new(8192);
    bool orm = strcmp(side, "orm") == 0;
    pk_loop(&r, db, a, orm, n / 10 + 1); /* warm-up: statements prepared, caches filled */
    int64_t sum = pk_loop(&r, db, a, orm, n);
    mn_arena_free(a);
    raw_close(&r);
    mn_db_free(db);
    printf("checksum %lld\n", (long long)sum);
    return 0;
}

/* ---- bulk_create linearity ---- */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One bulk_create of n rows into a fresh table: its wall time, and (cpu) the CPU time this
 * process spent on it. */
static double time_bulk_cpu(mn_db *db, size_t n, double *cpu)
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
    double t0 = now_s(), c0 = cpu_s();
    if (mn_bulk_create(o, &BWorld_model, objs, n, NULL) != 0)
        die("bulk_create", mn_orm_error(o));
    double t = now_s() - t0;
    if (cpu)
        *cpu = cpu_s() - c0;
    int64_t count = mn_qs_count(mn_all(o, BWorld));
    if (count != (int64_t)n)
        die("bulk_create", "wrong row count afterwards");
    mn_orm_close(o);
    mn_arena_free(a);
    return t;
}

static double time_bulk(mn_db *db, size_t n)
{
    return time_bulk_cpu(db, n, NULL);
}

enum { BULK_RUNS = 5 };

/* The median of BULK_RUNS runs of each size, the sizes interleaved (small, large, small...)
 * after one warm-up run, so that load from elsewhere on the machine and the first run's
 * costs (page faults of a new arena, the server's first inserts into a new table) hit
 * neither figure alone. Linear means the same cost per row at both sizes. */
static int bench_bulk(const char *url, size_t small, size_t large)
{
    mn_db *db = open_db(url, 1);
    bool sqlite = mn_db_dialect(db) == MN_DIALECT_SQLITE;
    double ts[BULK_RUNS], tl[BULK_RUNS], cs[BULK_RUNS], cl[BULK_RUNS];
    time_bulk(db, small);
    for (int i = 0; i < BULK_RUNS; i++) {
        ts[i] = time_bulk_cpu(db, small, &cs[i]);
        tl[i] = time_bulk_cpu(db, large, &cl[i]);
    }
    reset_table(db, 0);
    mn_db_free(db);
    double t10 = median(ts, BULK_RUNS), t100 = median(tl, BULK_RUNS);
    double c10 = median(cs, BULK_RUNS), c100 = median(cl, BULK_RUNS);
    double wall_small = t10 / (double)small * 1e6, wall_large = t100 / (double)large * 1e6;
    double cpu_small = c10 / (double)small * 1e6, cpu_large = c100 / (double)large * 1e6;
    /* The cost per row that linearity is judged on. SQLite works inside this process, so its
     * CPU time is the whole cost and leaves out the time other programs on a shared machine
     * took (a 10,000-row run fits between their bursts, a 100,000-row one seldom does);
     * PostgreSQL works in the server, so there it is the wall time. */
    double us_small = sqlite ? cpu_small : wall_small, us_large = sqlite ? cpu_large : wall_large;
    printf("RESULT {\"test\":\"bulk\",\"vendor\":\"%s\",\"rows_small\":%zu,"
           "\"rows_large\":%zu,\"runs\":%d,\"s_10k\":%.4f,\"s_100k\":%.4f,\"ratio\":%.2f,"
           "\"wall_us_per_row_10k\":%.3f,\"wall_us_per_row_100k\":%.3f,"
           "\"cpu_us_per_row_10k\":%.3f,\"cpu_us_per_row_100k\":%.3f,\"basis\":\"%s\","
           "\"us_per_row_10k\":%.3f,\"us_per_row_100k\":%.3f,\"per_row_ratio\":%.3f}\n",
           sqlite ? "sqlite" : "postgresql", small, large, BULK_RUNS, t10, t100, t100 / t10,
           wall_small, wall_large, cpu_small, cpu_large, sqlite ? "cpu" : "wall", us_small,
           us_large, us_large / us_small);
    return 0;
}

/* One bulk_create of n rows after a small warm-up, for profilers: `valgrind
 * --tool=callgrind --collect-atstart=no --toggle-collect=mn_bulk_create bench-orm bulkone URL
 * N` counts the instructions of the n-row call (and of the warm-up's 1,000). */
static int bench_bulkone(const char *url, size_t n)
{
    mn_db *db = open_db(url, 1);
    time_bulk(db, 1000);
    printf("seconds %.4f\n", time_bulk(db, n));
    reset_table(db, 0);
    mn_db_free(db);
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

/* ---- The same 50 ms query behind HTTP: GET /sleep in a one-worker server ---- */
static const char sleep_sql[] = "SELECT 1 AS id, 1 AS randomnumber FROM pg_sleep(0.05)";

static void sleep_view(mn_req *r)
{
    /* The request's session borrows from the worker's pool, waiting (parked) while all its
     * connections are busy; a pool that stays full past DB_POOL_TIMEOUT ends the view in 503. */
    mn_orm *o = mn_req_orm(r);
    mn_rows *rows = mn_raw(o, &BWorld_model, sleep_sql, NULL, 0);
    if (!rows || rows->len != 1)
        mn_http_500(r, mn_orm_error(o));
    mn_resp_send(r, 200, "text/plain", "slept");
}

static const mn_route sleep_urls[] = {
    MN_PATH_METHODS("sleep", sleep_view, "sleep", "GET"),
    MN_END,
};

static const mn_app sleep_app = {.name = "bench"};
static const mn_app *const sleep_apps[] = {&sleep_app, NULL};

static const mn_project sleep_project = {
    .name = "bench-orm",
    .urls = sleep_urls,
    .apps = sleep_apps,
    .dir = __FILE__,
};

static int serve(int argc, char **argv)
{
    /* Defaults for this program only (the environment still wins): nothing but the view
     * between the socket and the query, any Host, nothing signed, no table to create (the
     * query reads none), and a pool wait long enough for the last of 1,000 requests queued
     * behind 10 connections (~5 s), so the figure is the pool's throughput, not its 503s. */
    setenv("MIDDLEWARE", "", 0);
    setenv("ALLOWED_HOSTS", "*", 0);
    setenv("SECRET_KEY", "bench-orm-nothing-is-signed", 0);
    setenv("DB_CREATE_TABLES", "false", 0);
    setenv("DB_POOL_SIZE", "10", 0);
    setenv("DB_POOL_TIMEOUT", "60000", 0);
    return mn_main(argc, argv, &sleep_project);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "runserver") == 0 ||
                      strcmp(argv[1], "check") == 0))
        return serve(argc, argv);
    if (argc >= 4 && strcmp(argv[1], "pk") == 0)
        return bench_pk(argv[2], atof(argv[3]));
    if (argc >= 5 && strcmp(argv[1], "pkloop") == 0)
        return bench_pkloop(argv[2], argv[3], atol(argv[4]));
    if (argc >= 3 && strcmp(argv[1], "bulk") == 0)
        return bench_bulk(argv[2], argc > 3 ? (size_t)atol(argv[3]) : 10000,
                          argc > 4 ? (size_t)atol(argv[4]) : 100000);
    if (argc >= 4 && strcmp(argv[1], "bulkone") == 0)
        return bench_bulkone(argv[2], (size_t)atol(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "sleep") == 0)
        return bench_sleep(argv[2], argc > 3 ? atoi(argv[3]) : 1000, argc > 4 ? atoi(argv[4]) : 10);
    fprintf(stderr,
            "usage: bench-orm pk URL SECONDS | bulk URL [SMALL LARGE] | sleep URL [N [POOL]]\n"
            "       bench-orm serve [ADDRESS] [--workers N]  (GET /sleep; DATABASE_URL)\n"
            "       bench-orm pkloop URL raw|orm N | bulkone URL N  (for profilers)\n");
    return 2;
}
