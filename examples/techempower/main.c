/* techempower — the TechEmpower Framework Benchmarks app, an ordinary Manouche project serving
 * all six test types to that benchmark's rules:
 *
 *   GET /plaintext  200, text/plain, "Hello, World!"
 *   GET /json       200, application/json, {"message":"Hello, World!"}, serialised per request
 *   GET /db         one random World row (id 1..10000) as {"id":..,"randomNumber":..}
 *   GET /queries?queries=N   N separate single-row queries (N clamped to 1..500; a missing or
 *                   non-numeric value counts as 1), a JSON array of World objects
 *   GET /updates?queries=N   as /queries, then each row gets a new random 1..10000 and all of
 *                   them are written back (one batched UPDATE, which the rules allow)
 *   GET /fortunes   every Fortune row plus one added at request time, sorted by message,
 *                   rendered by the template engine (escaped), text/html; charset=utf-8
 *   every response carries Server, Date and Content-Length.
 *
 *   build/bin/techempower serve 0.0.0.0:8080 --workers 4   production (make techempower)
 *   build/bin/techempower runserver                        development, one process
 *
 * The database is DATABASE_URL (default sqlite:///db.sqlite3 in this folder). On start, before
 * the workers fork, the app creates the tables World and Fortune when they are missing and
 * fills them as TechEmpower's setup scripts do (10,000 worlds, the 12 fortunes), on SQLite or
 * PostgreSQL alike. Views use the request's session (mn_req_orm): each worker opens its own
 * pool on its first request.
 *
 * This app only changes four defaults, each still overridable by the environment: no
 * middleware (the benchmark measures the framework's floor; access logging is off as the rules
 * allow), any Host accepted, a fixed SECRET_KEY, since nothing here is signed, and no table
 * creation at a worker's first requests (done above, once, before the fork: TechEmpower's
 * verifier counts every statement that names the world or fortune table). */
#include <manouche/cli.h>
#include <manouche/http.h>
#include <manouche/json.h>
#include <manouche/orm.h>
#include <manouche/web.h>
#include <manouche/webdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* TechEmpower's schema: tables World and Fortune, PostgreSQL folds the unquoted names to
 * world, fortune and randomnumber (SQLite compares identifiers case-insensitively). */
/* clang-format off */
#define WORLD_FIELDS(F)                                                                    \
    F(id, MN_AUTO)                                                                         \
    F(randomNumber, MN_INT, .db_column = "randomnumber", .default_int = 0)
/* clang-format on */
/* clang-format off */
#define FORTUNE_FIELDS(F)                                                                  \
    F(id, MN_AUTO)                                                                         \
    F(message, MN_CHAR, .max_length = 2048)
/* clang-format on */
MN_MODEL(World, WORLD_FIELDS);
MN_MODEL(Fortune, FORTUNE_FIELDS);
MN_MODEL_DEFINE(World, techempower, WORLD_FIELDS, .db_table = "world");
MN_MODEL_DEFINE(Fortune, techempower, FORTUNE_FIELDS, .db_table = "fortune");

enum { WORLD_ROWS = 10000, MAX_QUERIES = 500 };

/* The rows of TechEmpower's setup scripts (toolset/databases/<db>/create*.sql), in id order. */
static const char *const fortunes_seed[] = {
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \xe2\x80\x94 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \xe2\x80\x94 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "フレームワークのベンチマーク", /* UTF-8, as this file */
};

static const char fortunes_html[] =
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
    "<tr><th>id</th><th>message</th></tr>"
    "{% for f in fortunes %}<tr><td>{{ f.id }}</td><td>{{ f.message }}</td></tr>{% endfor %}"
    "</table></body></html>";

/* ---- The database ---- */
static char db_url[4096];
static pid_t rng_pid;
static uint64_t rng_state;

/* DATABASE_URL as the site reads it, with a relative SQLite path taken from the project folder
 * (as the request sessions of webdb.h do), for the set-up before the workers fork. */
static int resolve_url(mn_site *site)
{
    const char *url = mn_settings_str(mn_site_settings(site), "DATABASE_URL");
    if (!url || !*url)
        url = "sqlite:///db.sqlite3";
    mn_arena *a = mn_arena_new(1024);
    if (!a)
        return MN_ENOMEM;
    mn_dburl u;
    const char *why = NULL;
    int rc = mn_dburl_parse(url, a, &u, &why);
    if (rc != 0)
        fprintf(stderr, "techempower: DATABASE_URL: %s\n", why ? why : "invalid");
    else if (u.dialect == MN_DIALECT_SQLITE && u.path[0] != '/' && strcmp(u.path, ":memory:"))
        snprintf(db_url, sizeof db_url, "sqlite:///%s/%s", mn_site_dir(site), u.path);
    else
        snprintf(db_url, sizeof db_url, "%s", url);
    mn_arena_free(a);
    return rc;
}

/* Each worker draws its own sequence (seeded after the fork). */
static int64_t random_id(void)
{
    if (rng_pid != getpid()) {
        rng_pid = getpid();
        rng_state = ((uint64_t)rng_pid << 32) ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15u;
    }
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (int64_t)((rng_state >> 32) % WORLD_ROWS) + 1;
}

/* The request's session (webdb.h): this worker's pool, opened on its first request. */
static mn_orm *orm(mn_req *r)
{
    return mn_req_orm(r);
}

/* Creates and fills the tables when missing (before the workers fork; PostgreSQL calls block
 * here since no coroutine runs yet). */
static int setup_db(mn_site *site)
{
    int rc = resolve_url(site);
    if (rc != 0)
        return rc;
    char err[256] = "";
    mn_dbconfig cfg = {.url = db_url};
    mn_db *db = mn_db_new(&cfg, err, sizeof err);
    if (!db) {
        fprintf(stderr, "techempower: %s\n", err);
        return MN_EINVAL;
    }
    mn_arena *a = mn_arena_new(1 << 16);
    mn_orm *o = a ? mn_orm_new(a, db) : NULL;
    rc = o ? mn_orm_create_tables(o, true) : MN_ENOMEM;
    int64_t worlds = rc == 0 ? mn_qs_count(mn_all(o, World)) : rc;
    int64_t fortunes = worlds >= 0 ? mn_qs_count(mn_all(o, Fortune)) : worlds;
    if (fortunes < 0)
        rc = (int)fortunes;
    if (rc == 0 && worlds == 0) {
        srand((unsigned)time(NULL));
        void **objs = mn_arena_alloc(a, sizeof(void *) * WORLD_ROWS);
        for (size_t i = 0; objs && i < WORLD_ROWS; i++) {
            World *w = mn_new(o, World);
            w->id = (int64_t)i + 1;
            w->randomNumber = rand() % WORLD_ROWS + 1;
            objs[i] = w;
        }
        rc = objs ? mn_bulk_create(o, &World_model, objs, WORLD_ROWS, NULL) : MN_ENOMEM;
    }
    if (rc == 0 && fortunes == 0) {
        enum { N = sizeof fortunes_seed / sizeof fortunes_seed[0] };
        void *objs[N];
        for (size_t i = 0; i < N; i++) {
            Fortune *f = mn_new(o, Fortune);
            f->id = (int64_t)i + 1;
            f->message = fortunes_seed[i];
            objs[i] = f;
        }
        rc = mn_bulk_create(o, &Fortune_model, objs, N, NULL);
    }
    if (rc != 0)
        fprintf(stderr, "techempower: setting up the database: %s\n",
                o && *mn_orm_error(o) ? mn_orm_error(o) : mn_orm_strerror(rc));
    if (o)
        mn_orm_close(o);
    mn_arena_free(a);
    mn_db_free(db);
    return rc;
}

/* ---- Views ---- */
static void plaintext(mn_req *r)
{
    MN_RESP_SET_HEADER_LIT(r, "Server", "Manouche");
    mn_resp_send(r, 200, "text/plain", "Hello, World!");
}

/* JSON responses are written straight into the response body by the streaming writer
 * (manouche/json.h), serialised afresh on every request as the rules require. */
static void json_begin(mn_req *r, mn_json_writer *w)
{
    MN_RESP_SET_HEADER_LIT(r, "Server", "Manouche");
    mn_resp_status(r, 200);
    MN_RESP_SET_HEADER_LIT(r, "Content-Type", "application/json");
    mn_buf *body = mn_resp_body(r);
    mn_buf_reset(body);
    mn_json_writer_init(w, body);
}

static void json_end(mn_req *r, mn_json_writer *w)
{
    if (mn_json_writer_finish(w) != 0) {
        mn_buf_reset(mn_resp_body(r));
        mn_http_500(r, "out of memory building the JSON response");
    }
}

static void json(mn_req *r)
{
    mn_json_writer w;
    json_begin(r, &w);
    mn_json_begin_object(&w);
    mn_json_key_n(&w, "message", sizeof "message" - 1); /* lengths known: no strlen */
    mn_json_write_string_n(&w, "Hello, World!", sizeof "Hello, World!" - 1);
    mn_json_end_object(&w);
    json_end(r, &w);
}

/* The rules: a missing, empty or non-numeric value is 1; below 1 is 1; above 500 is 500. */
static int queries_param(mn_req *r)
{
    const char *s = mn_req_query(r, "queries");
    if (!s)
        return 1;
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end)
        return 1;
    return n < 1 ? 1 : n > MAX_QUERIES ? MAX_QUERIES : (int)n;
}

static World *get_world(mn_req *r, mn_orm *o)
{
    World *w = mn_get(mn_all(o, World), "pk", random_id());
    if (!w)
        mn_http_500(r, mn_orm_error(o));
    return w;
}

static void world_json(mn_json_writer *w, const World *world)
{
    mn_json_begin_object(w);
    mn_json_key(w, "id");
    mn_json_write_int(w, world->id);
    mn_json_key(w, "randomNumber");
    mn_json_write_int(w, world->randomNumber);
    mn_json_end_object(w);
}

static void db(mn_req *r)
{
    mn_orm *o = orm(r);
    World *world = get_world(r, o);
    mn_json_writer w;
    json_begin(r, &w);
    world_json(&w, world);
    json_end(r, &w);
}

static void send_worlds(mn_req *r, World **ws, int n)
{
    mn_json_writer w;
    json_begin(r, &w);
    mn_json_begin_array(&w);
    for (int i = 0; i < n; i++)
        world_json(&w, ws[i]);
    mn_json_end_array(&w);
    json_end(r, &w);
}

static World **read_worlds(mn_req *r, mn_orm *o, int n)
{
    World **ws = mn_arena_alloc(mn_req_arena(r), sizeof *ws * (size_t)n);
    if (!ws)
        mn_http_500(r, "out of memory");
    for (int i = 0; i < n; i++)
        ws[i] = get_world(r, o);
    return ws;
}

static void queries(mn_req *r)
{
    int n = queries_param(r);
    mn_orm *o = orm(r);
    send_worlds(r, read_worlds(r, o, n), n);
}

static void updates(mn_req *r)
{
    int n = queries_param(r);
    mn_orm *o = orm(r);
    World **ws = read_worlds(r, o, n);
    for (int i = 0; i < n; i++) {
        int64_t v;
        do /* a new value, so every row really changes */
            v = random_id();
        while (v == ws[i]->randomNumber);
        ws[i]->randomNumber = v;
    }
    /* A row drawn twice keeps the value the response shows last. bulk_update, as Django's,
     * applies only the first of duplicates: hand it each row once, its last draw. */
    World **last = mn_arena_alloc(mn_req_arena(r), sizeof *last * (size_t)n);
    size_t nlast = 0;
    if (!last)
        mn_http_500(r, "out of memory");
    for (int i = n - 1; i >= 0; i--) {
        size_t k = 0;
        while (k < nlast && last[k]->id != ws[i]->id)
            k++;
        if (k == nlast)
            last[nlast++] = ws[i];
    }
    if (mn_bulk_update(o, &World_model, (void **)last, nlast, "randomNumber", 0) < 0)
        mn_http_500(r, mn_orm_error(o));
    send_worlds(r, ws, n);
}

static int by_message(const void *a, const void *b)
{
    const Fortune *x = *(Fortune *const *)a, *y = *(Fortune *const *)b;
    return strcmp(x->message, y->message);
}

static void fortunes(mn_req *r)
{
    mn_orm *o = orm(r);
    mn_arena *a = mn_req_arena(r);
    mn_rows *rows = mn_qs_fetch(mn_all(o, Fortune));
    if (!rows)
        mn_http_500(r, mn_orm_error(o));
    size_t n = rows->len + 1;
    Fortune **fs = mn_arena_alloc(a, sizeof *fs * n);
    Fortune *extra = mn_new(o, Fortune);
    mn_value *list = mn_value_list(a, n);
    if (!fs || !extra || !list)
        mn_http_500(r, "out of memory");
    memcpy(fs, rows->items, sizeof *fs * rows->len);
    extra->id = 0;
    extra->message = "Additional fortune added at request time.";
    fs[n - 1] = extra;
    qsort(fs, n, sizeof *fs, by_message);
    for (size_t i = 0; i < n; i++)
        if (mn_value_list_append(a, list, mn_obj_value(o, fs[i])) != 0)
            mn_http_500(r, "out of memory");
    MN_RESP_SET_HEADER_LIT(r, "Server", "Manouche");
    mn_render(r, "fortunes.html", MN_CTX("fortunes", list));
}

static const mn_route urls[] = {
    MN_PATH_METHODS("plaintext", plaintext, "plaintext", "GET"),
    MN_PATH_METHODS("json", json, "json", "GET"),
    MN_PATH_METHODS("db", db, "db", "GET"),
    MN_PATH_METHODS("queries", queries, "queries", "GET"),
    MN_PATH_METHODS("updates", updates, "updates", "GET"),
    MN_PATH_METHODS("fortunes", fortunes, "fortunes", "GET"),
    MN_END,
};

static const mn_template_embedded templates[] = {
    {"fortunes.html", fortunes_html},
    {NULL, NULL},
};

static const mn_app app = {
    .name = "techempower",
    .templates = templates,
    .ready = setup_db,
};
static const mn_app *const apps[] = {&app, NULL};

static const mn_project project = {
    .name = "techempower",
    .urls = urls,
    .apps = apps,
    .dir = __FILE__,
};

int main(int argc, char **argv)
{
    /* Defaults for this project only: setenv(..., 0) leaves any value the user set. */
    setenv("MIDDLEWARE", "", 0);
    setenv("ALLOWED_HOSTS", "*", 0);
    setenv("SECRET_KEY", "techempower-benchmark-nothing-is-signed", 0);
    setenv("DB_CREATE_TABLES", "false", 0);
    return mn_main(argc, argv, &project);
}
