/* The database in a web request (webdb.h) through the test client: the lazy per-request
 * session, ATOMIC_REQUESTS (commit, rollback on an error helper or an exception-like 500, not on a
 * 5xx status, on_commit), get_or_404 / get_list_or_404, the query log and the DEBUG page,
 * a database that is gone and comes back, named databases, and (on PostgreSQL, where a pool
 * can be full) 503. SQLite by default; MN_TEST_DATABASE_URL (scripts/with-pg) switches to
 * PostgreSQL, as tests/integration/test_polls_db.sh does. */
#include "helper_site.h"

#include <manouche/orm.h>
#include <manouche/webdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* clang-format off */
#define NOTE_FIELDS(F)                                                                        \
    F(id, MN_BIGAUTO)                                                                         \
    F(text, MN_CHAR, .max_length = 100)                                                       \
    F(n, MN_INT, .default_int = 0)
/* clang-format on */
MN_MODEL(Note, webdbtest, NOTE_FIELDS);

static char dir[256];
static char url[512];
static bool on_pg;

static void db_setup(void)
{
    const char *pg = getenv("MN_TEST_DATABASE_URL");
    snprintf(dir, sizeof dir, "/tmp/mn-webdb-%d-XXXXXX", (int)getpid());
    cr_assert_not_null(mkdtemp(dir));
    on_pg = pg && *pg;
    if (on_pg)
        snprintf(url, sizeof url, "%s", pg);
    else
        snprintf(url, sizeof url, "sqlite:///%s/db.sqlite3", dir);
}

static void rm_dir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- Views. ---- */

static void v_nodb(mn_req *r)
{
    mn_resp_puts(r, "no database here");
}

static void v_count(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    mn_resp_printf(r, "notes=%lld", (long long)mn_qs_count(mn_all(o, Note)));
}

static void v_add(mn_req *r)
{
    const char *text = mn_path_str(r, "text");
    Note *n = mn_create(mn_req_orm(r), Note, "text", text);
    if (!n)
        mn_http_500(r, mn_orm_error(mn_req_orm(r)));
    mn_resp_printf(r, "added %lld", (long long)n->id);
}

static void v_add_then_500(mn_req *r)
{
    mn_create(mn_req_orm(r), Note, "text", "doomed");
    mn_http_500(r, "the view failed after writing");
}

static void v_add_then_404(mn_req *r)
{
    mn_create(mn_req_orm(r), Note, "text", "doomed");
    mn_http_404(r, "gone");
}

static void v_add_then_503_status(mn_req *r)
{
    mn_create(mn_req_orm(r), Note, "text", "doomed");
    mn_resp_send(r, 503, "text/plain", "try later"); /* returns normally, with a 5xx */
}

static int committed_flag;
static void on_commit_cb(void *arg)
{
    *(int *)arg = 1;
}

static void v_add_on_commit(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    mn_create(o, Note, "text", "kept");
    mn_on_commit(o, on_commit_cb, &committed_flag);
    /* inside ATOMIC_REQUESTS the callback waits for the commit after the view */
    mn_resp_printf(r, "depth=%d flag=%d", mn_atomic_depth(o), committed_flag);
}

/* The view's own atomic block: inside ATOMIC_REQUESTS, a savepoint. */
static void v_savepoint(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    if (mn_atomic_begin(o) != 0)
        mn_http_500(r, mn_orm_error(o));
    Note *n = mn_create(o, Note, "text", "inner");
    if (mn_atomic_end(o, n != NULL) != 0 || !n)
        mn_http_500(r, mn_orm_error(o));
    mn_resp_puts(r, "saved");
}

static void v_get(mn_req *r)
{
    Note *n = mn_get_or_404(r, Note, "pk", mn_path_int(r, "id"));
    mn_resp_printf(r, "note %s", n->text);
}

static void v_list(mn_req *r)
{
    mn_rows *rows = mn_get_list_or_404(r, Note, "text", mn_path_str(r, "text"));
    mn_resp_printf(r, "%zu notes", rows->len);
}

/* A loop over a query that fails (a misspelt field): the loop cannot return the error. */
static void v_foreach_fails(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    size_t n = 0;
    MN_FOREACH(Note, note, mn_filter(mn_all(o, Note), "txt", "x"))
    n++;
    mn_resp_printf(r, "%zu notes: a short list as if all went well", n);
}

static void v_query_then_boom(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    mn_qs_count(mn_filter(mn_all(o, Note), "text", "needle-<b>"));
    mn_http_500(r, "boom after a query");
}

static void v_other(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    int64_t before = mn_qs_count(mn_qs_using(mn_all(o, Note), "other"));
    mn_resp_printf(r, "other=%lld default=%lld", (long long)before,
                   (long long)mn_qs_count(mn_all(o, Note)));
}

/* The N+1 pattern: one query per loop turn. */
static void v_repeat(mn_req *r)
{
    mn_orm *o = mn_req_orm(r);
    for (int i = 0; i < 4; i++)
        mn_qs_count(mn_filter(mn_all(o, Note), "n", i));
    mn_resp_puts(r, "repeated");
}

/* Holds the only connection of a pool of one (the test gives it back), then asks for a
 * session. */
static mn_dbconn *hogged;
static void v_hog(mn_req *r)
{
    mn_db *db = mn_site_db(mn_req_site(r), NULL, NULL, 0);
    cr_assert_eq(mn_db_acquire(db, 100, &hogged), 0, "%s", mn_db_errmsg(db));
    mn_req_orm(r);
    mn_resp_puts(r, "should not get here");
}

static const mn_route urls[] = {
    MN_PATH("nodb/", v_nodb, "nodb"),
    MN_PATH("count/", v_count, "count"),
    MN_PATH("add/<str:text>/", v_add, "add"),
    MN_PATH("add500/", v_add_then_500, "add500"),
    MN_PATH("add404/", v_add_then_404, "add404"),
    MN_PATH("add503/", v_add_then_503_status, "add503"),
    MN_PATH("oncommit/", v_add_on_commit, "oncommit"),
    MN_PATH("note/<int:id>/", v_get, "note"),
    MN_PATH("list/<str:text>/", v_list, "list"),
    MN_PATH("boom/", v_query_then_boom, "boom"),
    MN_PATH("foreach/", v_foreach_fails, "foreach"),
    MN_PATH("other/", v_other, "other"),
    MN_PATH("hog/", v_hog, "hog"),
    MN_PATH("repeat/", v_repeat, "repeat"),
    MN_PATH("savepoint/", v_savepoint, "savepoint"),
    MN_END,
};

static const mn_project project = {.name = "webdbtest", .urls = urls};

/* An app whose ready() installs a router: reads go to "other", writes to "default". */
static const char *reads_to_other(const mn_model *m, bool write, void *user)
{
    (void)m;
    (void)user;
    return write ? NULL : "other";
}

static int routed_ready(mn_site *site)
{
    mn_site_set_db_router(site, reads_to_other, NULL);
    return 0;
}

static const mn_app routed_app = {.name = "routed", .ready = routed_ready};
static const mn_app *const routed_apps[] = {&routed_app, NULL};
static const mn_project routed_project = {.name = "webdbtest", .urls = urls, .apps = routed_apps};

static mn_client *client(const char *const *extra)
{
    const char *env[24];
    size_t n = 0;
    env[n++] = "DATABASE_URL";
    env[n++] = url;
    for (size_t i = 0; extra && extra[i] && n < 22; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    return test_client(&project, env);
}

/* Drops the test table on PostgreSQL, where the database outlives the test. */
static void drop_notes(mn_client *c)
{
    (void)c;
    if (!on_pg)
        return;
    mn_dbconfig cfg = {.url = url};
    mn_db *db = mn_db_new(&cfg, NULL, 0);
    mn_dbconn *conn = NULL;
    if (db && mn_db_acquire(db, 1000, &conn) == 0) {
        mn_dbconn_exec_script(conn, "DROP TABLE IF EXISTS \"webdbtest_note\"");
        mn_db_release(conn);
    }
    mn_db_free(db);
}

/* One request (the assertion macros evaluate their arguments more than once). */
static mn_req *expect(mn_client *c, const char *path, int status)
{
    mn_req *resp = mn_client_get(c, path);
    cr_assert_not_null(resp);
    mn_assert_status(resp, status);
    return resp;
}

/* Criterion does not run .fini after a skip: remove the folder first. */
static void skip(const char *why)
{
    rm_dir();
    cr_skip_test("%s", why);
}

static int64_t count_notes(mn_client *c)
{
    mn_req *resp = mn_client_get(c, "/count/");
    cr_assert_eq(mn_resp_get_status(resp), 200, "%s", mn_resp_text(resp));
    long long n = -1;
    sscanf(mn_resp_text(resp), "notes=%lld", &n);
    return n;
}

static void fresh(void)
{
    db_setup();
    mn_client *c = client(NULL);
    drop_notes(c);
    test_client_done(c);
}

static void cleanup(void)
{
    mn_client *c = client(NULL);
    drop_notes(c);
    test_client_done(c);
    rm_dir();
}

TestSuite(webdb, .init = fresh, .fini = cleanup, .timeout = 20);

Test(webdb, request_without_database_makes_no_session)
{
    mn_client *c = client(NULL);
    mn_req *resp = mn_client_get(c, "/nodb/");
    mn_assert_status(resp, 200);
    cr_assert_eq(mn_client_num_queries(c), 0);
    cr_assert_null(mn_req_queries(resp));
    mn_assert_num_queries(resp, 0);
    test_client_done(c);
}

Test(webdb, session_creates_tables_and_logs_queries)
{
    mn_client *c = client(NULL);
    mn_req *resp = mn_client_get(c, "/count/");
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "notes=0");
    mn_assert_num_queries(resp, 1); /* table creation is not the request's query */
    cr_assert_eq(mn_client_num_queries(c), 1);
    const mn_dblog *log = mn_req_queries(resp);
    cr_assert(strstr(log->entries[0].sql, "webdbtest_note"), "%s", log->entries[0].sql);
    resp = mn_client_get(c, "/add/hello/");
    mn_assert_status(resp, 200);
    cr_assert_eq(count_notes(c), 1);
    test_client_done(c);
}

Test(webdb, without_atomic_requests_a_failing_view_keeps_its_writes)
{
    mn_client *c = client(NULL);
    expect(c, "/add500/", 500);
    cr_assert_eq(count_notes(c), 1);
    test_client_done(c);
}

Test(webdb, atomic_requests_roll_back_on_error_helpers_only)
{
    const char *env[] = {"ATOMIC_REQUESTS", "true", NULL};
    mn_client *c = client(env);
    expect(c, "/add500/", 500);
    expect(c, "/add404/", 404);
    cr_assert_eq(count_notes(c), 0);
    /* as Django: a view that returns a 5xx response itself did not fail; its work stays */
    expect(c, "/add503/", 503);
    cr_assert_eq(count_notes(c), 1);
    expect(c, "/add/kept/", 200);
    cr_assert_eq(count_notes(c), 2);
    test_client_done(c);
}

Test(webdb, atomic_requests_run_on_commit_after_the_view)
{
    const char *env[] = {"ATOMIC_REQUESTS", "true", NULL};
    mn_client *c = client(env);
    committed_flag = 0;
    mn_req *resp = mn_client_get(c, "/oncommit/");
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "depth=1 flag=0");
    cr_assert_eq(committed_flag, 1, "on_commit ran after the commit");
    cr_assert_eq(count_notes(c), 1);
    test_client_done(c);
}

Test(webdb, get_or_404_and_get_list_or_404)
{
    mn_client *c = client(NULL);
    expect(c, "/add/first/", 200);
    mn_req *resp = mn_client_get(c, "/note/1/");
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "note first");
    mn_assert_num_queries(resp, 1);
    expect(c, "/note/999/", 404);
    expect(c, "/list/nothing/", 404);
    resp = mn_client_get(c, "/list/first/");
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "1 notes");
    test_client_done(c);
}

Test(webdb, debug_page_lists_the_request_queries)
{
    const char *env[] = {"DEBUG", "true", NULL};
    mn_client *c = client(env);
    mn_req *resp = mn_client_get(c, "/boom/");
    mn_assert_status(resp, 500);
    mn_assert_contains(resp, "SQL queries (1,");
    mn_assert_contains(resp, "webdbtest_note");
    mn_assert_contains(resp, "'needle-&lt;b&gt;'"); /* parameters, escaped */
    test_client_done(c);
}

Test(webdb, a_failed_query_in_a_loop_ends_the_view_with_500)
{
    const char *env[] = {"DEBUG", "true", NULL};
    mn_client *c = client(env);
    mn_req *resp = mn_client_get(c, "/foreach/");
    mn_assert_status(resp, 500);
    mn_assert_contains(resp, "Note has no field &#x27;txt&#x27;");
    cr_expect_null(strstr(mn_resp_text(resp), "as if all went well"));
    test_client_done(c);
}

Test(webdb, database_gone_is_500_then_recovers)
{
    if (on_pg)
        skip("SQLite: a database folder that appears later");
    char missing[400], env_url[512];
    snprintf(missing, sizeof missing, "%s/later", dir);
    snprintf(env_url, sizeof env_url, "sqlite:///%s/db.sqlite3", missing);
    const char *env[] = {"DATABASE_URL", env_url, "DEBUG", "true", NULL};
    mn_client *c = client(env);
    mn_req *resp = mn_client_get(c, "/count/");
    mn_assert_status(resp, 500);
    mn_assert_contains(resp, "database error");
    cr_assert_eq(mkdir(missing, 0700), 0);
    resp = mn_client_get(c, "/count/");
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "notes=0");
    test_client_done(c);
}

Test(webdb, named_databases_from_DATABASES)
{
    if (on_pg)
        skip("the second database is a SQLite file");
    char other[600];
    snprintf(other, sizeof other, "other=sqlite:///%s/other.sqlite3", dir);
    const char *env[] = {"DATABASES", other, NULL};
    mn_client *c = client(env);
    expect(c, "/add/x/", 200);
    mn_req *resp = mn_client_get(c, "/other/");
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "other=0 default=1");
    test_client_done(c);
}

Test(webdb, bad_DATABASES_entry_is_a_500_naming_it)
{
    const char *env[] = {"DATABASES", "nourl", "DEBUG", "true", NULL};
    mn_client *c = client(env);
    mn_req *resp = mn_client_get(c, "/count/");
    mn_assert_status(resp, 500);
    mn_assert_contains(resp, "DATABASES: &#x27;nourl&#x27; is not alias=URL");
    test_client_done(c);
}

Test(webdb, full_pool_is_503_not_a_hang)
{
    if (!on_pg)
        skip("SQLite has no connection limit; run under scripts/with-pg");
    const char *env[] = {"DB_POOL_SIZE", "1", "DB_POOL_TIMEOUT", "200", NULL};
    mn_client *c = client(env);
    expect(c, "/count/", 200); /* tables exist */
    mn_req *resp = mn_client_get(c, "/hog/");
    mn_assert_status(resp, 503);
    mn_db_release(hogged);
    expect(c, "/count/", 200); /* the connection came back */
    test_client_done(c);
}

Test(webdb, router_sends_reads_to_the_replica)
{
    if (on_pg)
        skip("the replica is a SQLite file");
    char other[600];
    snprintf(other, sizeof other, "other=sqlite:///%s/other.sqlite3", dir);
    const char *env[] = {"DATABASE_URL", url, "DATABASES", other, NULL};
    mn_client *c = test_client(&routed_project, env);
    expect(c, "/add/x/", 200);                  /* a write: default */
    mn_req *resp = mn_client_get(c, "/count/"); /* a read: the replica, still empty */
    mn_assert_status(resp, 200);
    mn_assert_contains(resp, "notes=0");
    test_client_done(c);
}

/* What the site logged while c requested path (a temporary file as the log's fd). */
static char *logged_during(mn_client *c, const char *path)
{
    char name[300];
    snprintf(name, sizeof name, "%s/log.txt", dir);
    FILE *f = fopen(name, "w+");
    cr_assert_not_null(f);
    mn_log_configure(MN_LOG_WARNING, false, fileno(f));
    expect(c, path, 200);
    mn_log_configure(MN_LOG_ERROR, false, 2);
    static char text[8192];
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

Test(webdb, debug_warns_about_n_plus_one_naming_the_view_line)
{
    const char *env[] = {"DEBUG", "true", "DB_WARN_REPEATS", "3", NULL};
    mn_client *c = client(env);
    expect(c, "/count/", 200); /* tables made */
    const char *log = logged_during(c, "/repeat/");
    cr_assert(strstr(log, "N+1 queries"), "no N+1 warning in: %s", log);
    cr_assert(strstr(log, "test_webdb.c:"), "the warning does not name the line: %s", log);
    test_client_done(c);
}

Test(webdb, no_n_plus_one_warning_without_debug)
{
    const char *env[] = {"DB_WARN_REPEATS", "3", NULL};
    mn_client *c = client(env);
    expect(c, "/count/", 200);
    const char *log = logged_during(c, "/repeat/");
    cr_assert_null(strstr(log, "N+1 queries"), "%s", log);
    test_client_done(c);
}

/* A DATABASES entry the site cannot use: the reason names the database once. */
static void v_db_error(mn_req *r)
{
    char err[512] = "";
    mn_db *db = mn_site_db(mn_req_site(r), "other", err, sizeof err);
    mn_resp_puts(r, db ? "opened" : err);
}
static const mn_route db_error_urls[] = {MN_PATH("dberr/", v_db_error, "dberr"), MN_END};
static const mn_project db_error_project = {.name = "webdbtest", .urls = db_error_urls};

Test(webdb, an_unusable_database_url_names_the_database_once)
{
    const char *env[] = {"DATABASE_URL", url, "DATABASES", "other=nosuchdb://host/x", NULL};
    mn_client *c = test_client(&db_error_project, env);
    mn_req *resp = mn_client_get(c, "/dberr/");
    mn_assert_status(resp, 200);
    const char *body = mn_buf_cstr(mn_resp_body(resp));
    const char *first = strstr(body, "database 'other': ");
    cr_assert_not_null(first, "%s", body);
    cr_expect_null(strstr(first + 1, "database 'other'"), "%s", body);
    test_client_done(c);
}

/* A server that cannot be reached: the 500's log line gives the database's message once. */
Test(webdb, an_unreachable_database_is_logged_once)
{
    const char *env[] = {"DATABASE_URL", "postgres://mn@127.0.0.1:1/nowhere", "DB_CREATE_TABLES",
                         "false", NULL};
    mn_client *c = test_client(&project, env);
    char name[300];
    snprintf(name, sizeof name, "%s/log.txt", dir);
    FILE *f = fopen(name, "w+");
    cr_assert_not_null(f);
    mn_log_configure(MN_LOG_WARNING, false, fileno(f));
    mn_req *resp = mn_client_get(c, "/count/");
    mn_log_configure(MN_LOG_ERROR, false, 2);
    static char log[8192];
    rewind(f);
    size_t n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    mn_assert_status(resp, 500);
    const char *first = strstr(log, "database 'default': ");
    cr_assert_not_null(first, "the log does not name the database: %s", log);
    cr_expect_null(strstr(first + 1, "database 'default': "), "said twice: %s", log);
    test_client_done(c);
}

/* ATOMIC_REQUESTS does not change a test's query count: the request's BEGIN and COMMIT are
 * not the view's queries (Django's assertNumQueries counts neither); a savepoint the view's
 * own atomic block makes is. */
Test(webdb, the_request_transaction_is_not_counted)
{
    for (int atomic = 0; atomic < 2; atomic++) {
        const char *env[] = {"ATOMIC_REQUESTS", atomic ? "true" : "false", NULL};
        mn_client *c = client(env);
        expect(c, "/count/", 200); /* tables made */
        mn_req *resp = expect(c, "/count/", 200);
        mn_assert_num_queries(resp, 1);
        cr_expect_eq(mn_client_num_queries(c), 1, "ATOMIC_REQUESTS=%d", atomic);
        if (atomic) {
            resp = expect(c, "/savepoint/", 200);
            const mn_dblog *log = mn_req_queries(resp);
            cr_assert_not_null(log);
            mn_assert_num_queries(resp, 3);
            cr_expect(strncmp(log->entries[0].sql, "SAVEPOINT", 9) == 0, "%s", log->entries[0].sql);
            cr_expect(strncmp(log->entries[2].sql, "RELEASE SAVEPOINT", 17) == 0, "%s",
                      log->entries[2].sql);
            cr_expect_eq(count_notes(c), 1, "committed");
        }
        test_client_done(c);
    }
}

/* What mn_assert_num_queries prints when the count is wrong: the statements, numbered, with
 * their parameters (Django's "Captured queries were:"). */
Test(webdb, a_wrong_query_count_lists_the_captured_queries)
{
    mn_client *c = client(NULL);
    expect(c, "/count/", 200); /* tables made */
    mn_req *resp = expect(c, "/list/needle/", 404);
    const char *text = mn_resp_captured_queries(resp);
    cr_expect(strncmp(text, "1. SELECT ", 10) == 0, "%s", text);
    cr_expect(strstr(text, "webdbtest_note") && strstr(text, " -- params: 'needle'"), "%s", text);
    cr_expect_null(strstr(text, "\n2. "), "one query: %s", text);
    resp = expect(c, "/repeat/", 200);
    text = mn_resp_captured_queries(resp);
    cr_expect(strstr(text, "\n4. SELECT COUNT(*)") && strstr(text, " -- params: 3"), "%s", text);
    cr_expect_str_eq(mn_resp_captured_queries(expect(c, "/nodb/", 200)), "(none)");
    test_client_done(c);
}
