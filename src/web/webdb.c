/* webdb.c — the database in a web request (webdb.h): this worker's databases, the request's
 * ORM session, ATOMIC_REQUESTS, the shortcuts that end a view, and the query log.
 *
 * The idea: everything is lazy. A worker opens its databases on the first request that calls
 * mn_req_orm() (after fork: the process id is checked, so a master never shares connections
 * with its workers), and a request makes its session only when it asks for one, so a view
 * that never touches the database pays nothing. The dispatcher (site.c) calls back twice:
 * when the view has run (commit or roll back the ATOMIC_REQUESTS transaction, as Django's
 * BaseHandler.make_view_atomic does) and when the request ends (close the session, which
 * gives the connection back before the response is written). */
#include "web/internal.h"

#include <manouche/rt.h>
#include <manouche/webdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_DATABASES = 8 };

typedef const char *(*router_fn)(const mn_model *m, bool write, void *user);

/* One per site, valid in the process that made it (pid). */
typedef struct mn__webdb_site {
    pid_t pid;
    mn_db *dbs[MAX_DATABASES]; /* [0] is "default" */
    size_t ndbs;
    bool opened;
    bool tables_ready;
    bool tables_creating; /* a request of this worker is creating them: the others wait */
    router_fn route;
    void *route_user;
    int (*allow_relation)(const void *obj1, const void *obj2, void *user);
    void *allow_relation_user;
} mn__webdb_site;

/* Per request (attribute "mn.webdb"): made by mn_req_orm. */
typedef struct webdb_req {
    mn_orm *orm;
    mn_dblog log;
    bool atomic; /* ATOMIC_REQUESTS opened the outermost block */
} webdb_req;

static mn__webdb_site *site_state(mn_site *s)
{
    mn__webdb_site *w = s->webdb;
    if (w && w->pid != getpid()) {
        /* Inherited across fork: the parent's connections are not ours to use or close (a
         * PostgreSQL Terminate would end the parent's session). Forget them. */
        s->webdb = NULL;
        w = NULL;
    }
    if (!w) {
        w = mn_calloc(1, sizeof *w);
        if (!w)
            return NULL;
        w->pid = getpid();
        s->webdb = w;
    }
    return w;
}

void mn__webdb_site_free(mn_site *s)
{
    mn__webdb_site *w = s->webdb;
    if (!w || w->pid != getpid())
        return;
    for (size_t i = 0; i < w->ndbs; i++)
        mn_db_free(w->dbs[i]);
    mn_free(w);
    s->webdb = NULL;
}

void mn_site_set_db_router(mn_site *s, router_fn route, void *user)
{
    mn__webdb_site *w = site_state(s);
    if (!w)
        return;
    w->route = route;
    w->route_user = user;
}

void mn_site_set_db_allow_relation(mn_site *s,
                                   int (*allow)(const void *obj1, const void *obj2, void *user),
                                   void *user)
{
    mn__webdb_site *w = site_state(s);
    if (!w)
        return;
    w->allow_relation = allow;
    w->allow_relation_user = user;
}

/* A relative SQLite path is relative to the project folder (DESIGN.md section 7), not to
 * wherever the binary was started. */
static const char *resolve_url(mn_site *s, const char *url, char *buf, size_t cap)
{
    const char *p = strncmp(url, "sqlite:///", 10) == 0 ? url + 10 : NULL;
    if (!p || p[0] == '/' || !*p || strcmp(url, "sqlite://:memory:") == 0)
        return url;
    snprintf(buf, cap, "sqlite:///%s/%s", mn_site_dir(s), p);
    return buf;
}

static mn_db *open_db(mn_site *s, const char *alias, const char *url, char *err, size_t errlen)
{
    const mn_settings *st = mn_site_settings(s);
    char path[4200];
    mn_dbconfig cfg = {
        .alias = alias,
        .url = resolve_url(s, url, path, sizeof path),
        .pool_size = (int)mn_settings_int(st, "DB_POOL_SIZE"),
        .pool_timeout_ms = mn_settings_int(st, "DB_POOL_TIMEOUT"),
        .statement_timeout_ms = mn_settings_int(st, "DB_STATEMENT_TIMEOUT"),
        .disable_server_side_cursors = mn_settings_bool(st, "DB_DISABLE_SERVER_SIDE_CURSORS"),
    };
    char why[256] = "";
    mn_db *db = mn_db_new(&cfg, why, sizeof why);
    /* mn_db_new's message may already name the database: say it once */
    bool named = strncmp(why, "database '", 10) == 0;
    if (!db && err && errlen)
        snprintf(err, errlen, "%s%s%s%s", named ? "" : "database '", named ? "" : alias,
                 named ? "" : "': ", why[0] ? why : "out of memory");
    return db;
}

/* Opens "default" (DATABASE_URL) and every DATABASES entry ("alias=url"). */
static int open_all(mn_site *s, mn__webdb_site *w, char *err, size_t errlen)
{
    if (w->opened)
        return 0;
    const mn_settings *st = mn_site_settings(s);
    mn_db *db = open_db(s, "default", mn_settings_str(st, "DATABASE_URL"), err, errlen);
    if (!db)
        return MN_EINVAL;
    w->dbs[w->ndbs++] = db;
    size_t n;
    const char *const *extra = mn_settings_list(st, "DATABASES", &n);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(extra[i], '=');
        char alias[64];
        if (!eq || eq == extra[i] || (size_t)(eq - extra[i]) >= sizeof alias) {
            snprintf(err, errlen, "DATABASES: '%s' is not alias=URL", extra[i]);
            return MN_EINVAL;
        }
        snprintf(alias, sizeof alias, "%.*s", (int)(eq - extra[i]), extra[i]);
        if (strcmp(alias, "default") == 0 || w->ndbs == MAX_DATABASES) {
            snprintf(err, errlen, "DATABASES: '%s': %s", alias,
                     w->ndbs == MAX_DATABASES ? "too many databases" : "default is DATABASE_URL");
            return MN_EINVAL;
        }
        db = open_db(s, alias, eq + 1, err, errlen);
        if (!db)
            return MN_EINVAL;
        w->dbs[w->ndbs++] = db;
    }
    w->opened = true;
    return 0;
}

mn_db *mn_site_db(mn_site *s, const char *alias, char *err, size_t errlen)
{
    mn__webdb_site *w = site_state(s);
    if (!w || open_all(s, w, err, errlen) != 0)
        return NULL;
    for (size_t i = 0; i < w->ndbs; i++)
        if (!alias || strcmp(mn_db_alias(w->dbs[i]), alias) == 0)
            return w->dbs[i];
    if (err && errlen)
        snprintf(err, errlen, "no database '%s' (DATABASES lists the others)", alias);
    return NULL;
}

static mn_orm *session_new(mn__webdb_site *w, mn_arena *arena)
{
    mn_orm *o = mn_orm_new(arena, w->dbs[0]);
    for (size_t i = 1; o && i < w->ndbs; i++)
        if (mn_orm_add_db(o, w->dbs[i]) != 0)
            return NULL;
    if (o && w->route)
        mn_orm_set_router(o, w->route, w->route_user);
    if (o && w->allow_relation)
        mn_orm_set_allow_relation(o, w->allow_relation, w->allow_relation_user);
    return o;
}

/* The one place tables come from until migrations exist: the migrations issue replaces this
 * body with "apply the migrations" and keeps the call sites. */
int mn_site_create_tables(mn_site *s, char *err, size_t errlen)
{
    mn__webdb_site *w = site_state(s);
    if (!w)
        return MN_ENOMEM;
    int rc = open_all(s, w, err, errlen);
    if (rc != 0)
        return rc;
    mn_arena *a = mn_arena_new(0);
    if (!a)
        return MN_ENOMEM;
    for (size_t i = 0; i < w->ndbs && rc == 0; i++) {
        mn_orm *o = mn_orm_new(a, w->dbs[i]);
        rc = o ? mn_orm_create_tables(o, true) : MN_ENOMEM;
        /* Another worker creating the same table at the same moment: PostgreSQL's CREATE ...
         * IF NOT EXISTS then fails with "already exists" (the other committed after the
         * check) or on its catalog's unique index (it waited for the other's commit). By
         * then the table exists, and a second pass skips it. */
        for (int again = 0; again < 2 && (rc == MN_EDB_INTEGRITY || rc == MN_EDB_PROGRAMMING);
             again++)
            rc = mn_orm_create_tables(o, true);
        if (rc != 0 && err && errlen)
            snprintf(err, errlen, "creating the tables in '%s': %s", mn_db_alias(w->dbs[i]),
                     o ? mn_orm_error(o) : "out of memory");
        if (o)
            mn_orm_close(o);
    }
    mn_arena_free(a);
    if (rc == 0)
        w->tables_ready = true;
    return rc;
}

/* Ends the view for a database failure: 503 when the pool stayed full, else 500. Outside a
 * protected call (no view to end) it only returns. */
static void fail(mn_req *r, int code, const char *what)
{
    mn__req_state *st = mn__state(r);
    if (!st || !st->jump)
        return;
    if (code == MN_ETIMEDOUT)
        mn_abort(r, 503, "no database connection free in time (%s)", what);
    mn_abort(r, 500, "database error: %s", what);
}

/* A query of MN_FOREACH failed: the loop cannot say so, so the view ends as with an uncaught
 * exception in Django (after hooks and error handlers run, with the query on the DEBUG page). */
static void raise_in_view(mn_orm *o, void *r)
{
    fail(r, mn_orm_errcode(o), mn_orm_error(o));
}

static bool routed(mn_req *r)
{
    mn__req_state *st = mn__state(r);
    return st && st->routed;
}

mn_orm *mn_req_orm(mn_req *r)
{
    webdb_req *q = mn_req_attr(r, "mn.webdb");
    if (q && q->orm)
        return q->orm;
    mn_site *s = mn_req_site(r);
    if (!s)
        return NULL;
    const mn_settings *st = mn_site_settings(s);
    mn__webdb_site *w = site_state(s);
    char err[512] = "";
    if (!w || open_all(s, w, err, sizeof err) != 0) {
        fail(r, MN_EINVAL, err[0] ? err : "out of memory");
        return NULL;
    }
    /* The first requests of a worker often come together: one creates the tables and the
     * others wait for it rather than run the same DDL at the same time. */
    while (!w->tables_ready && w->tables_creating)
        mn_sleep(2);
    if (!w->tables_ready && mn_settings_bool(st, "DB_CREATE_TABLES")) {
        w->tables_creating = true;
        int rc = mn_site_create_tables(s, err, sizeof err);
        w->tables_creating = false;
        if (rc != 0) {
            /* (not marked done: the next request tries again, e.g. once the server is up) */
            fail(r, rc, err);
            return NULL;
        }
    }
    mn_arena *a = mn_req_arena(r);
    q = mn_arena_calloc(a, 1, sizeof *q);
    mn_orm *o = q ? session_new(w, a) : NULL;
    if (!o || mn_req_set_attr(r, "mn.webdb", q) != 0) {
        fail(r, MN_ENOMEM, "out of memory");
        return NULL;
    }
    q->orm = o;
    mn__req_state *rs = mn__state(r);
    if (rs)
        rs->webdb = q;
    mn_dblog_init(&q->log, a);
    mn_orm_set_log(o, &q->log);
    mn_orm_set_raise(o, raise_in_view, r);
    int64_t repeats = mn_settings_int(st, "DB_WARN_REPEATS");
    if (mn_settings_bool(st, "DEBUG") && repeats > 0)
        mn_orm_warn_repeats(o, (int)repeats);
    /* Borrow now: a full pool or a server that is gone ends the view here, with the right
     * status, rather than as a NULL from some later query. */
    if (!mn_orm_conn(o, NULL)) {
        fail(r, mn_orm_errcode(o), mn_orm_error(o));
        return o;
    }
    /* (a session first made after the view, by an after hook or an error handler, gets its
     * block committed by mn__webdb_request_end) */
    bool atomic = mn_settings_bool(st, "ATOMIC_REQUESTS") && routed(r);
    if (mn_orm_request_begin(o, atomic) != 0) {
        fail(r, mn_orm_errcode(o), mn_orm_error(o));
        return o;
    }
    q->atomic = atomic;
    return o;
}

/* The hooks find the session in the dispatcher state (a view that used no database made
 * none, and then they cost a load and a test). */
bool mn__webdb_view_done(mn_req *r, bool ok)
{
    mn__req_state *st = mn__state(r);
    webdb_req *q = st ? st->webdb : NULL;
    if (!q || !q->orm)
        return ok;
    mn_orm *o = q->orm;
    int code = mn_orm_errcode(o);
    if (!ok && st->err_status == 500 && code == MN_ETIMEDOUT) {
        /* the view gave up on a NULL from a query that found the pool full */
        st->err_status = 503;
        st->err_message =
            mn_arena_printf(mn_req_arena(r), "%s (%s)", mn_orm_error(o), st->err_message);
        st->trace_len = 0;
    } else if (!ok && st->err_status >= 500 && code == MN_EDB_OPERATIONAL &&
               !(st->err_message && strstr(st->err_message, mn_orm_error(o)))) {
        /* (unless the message already quotes it: mn_req_orm's "database error: ...") */
        st->err_message =
            mn_arena_printf(mn_req_arena(r), "%s (database: %s)", st->err_message, mn_orm_error(o));
    }
    /* Django's ATOMIC_REQUESTS: commit when the view returned, whatever its status (a view
     * that answers 503 itself chose to); roll back when it ended with an error. Blocks the view
     * left open are undone either way. The connection goes back to the pool now: after hooks or an
     * error handler that query again borrow afresh. */
    bool atomic = q->atomic && mn_atomic_depth(o) > 0;
    q->atomic = false;
    if (mn_orm_request_end(o, ok) != 0 && atomic && ok) {
        st->err_status = mn_orm_errcode(o) == MN_ETIMEDOUT ? 503 : 500;
        st->err_message = mn_arena_printf(
            mn_req_arena(r), "committing the request's transaction failed: %s", mn_orm_error(o));
        st->trace_len = 0;
        mn__web_resp_reset(r);
        return false;
    }
    return ok;
}

void mn__webdb_request_end(mn_req *r)
{
    mn__req_state *st = mn__state(r);
    webdb_req *q = st ? st->webdb : NULL;
    if (!q || !q->orm)
        return;
    if (q->atomic) /* opened after the view: it ends with the response */
        mn_orm_request_end(q->orm, mn_resp_get_status(r) < 500);
    q->atomic = false;
    mn_orm_close(q->orm);
}

const mn_dblog *mn_req_queries(const mn_req *r)
{
    webdb_req *q = mn_req_attr(r, "mn.webdb");
    return q && q->orm ? &q->log : NULL;
}

size_t mn_req_num_queries(const mn_req *r)
{
    const mn_dblog *log = mn_req_queries(r);
    return log ? log->count : 0;
}

/* ---- Shortcuts. ---- */

static void get_failed(mn_req *r, mn_orm *o, const char *model)
{
    int code = mn_orm_errcode(o);
    if (code == MN_EDOES_NOT_EXIST)
        mn_abort(r, 404, "No %s matches the given query.", model);
    if (code == MN_EMULTIPLE)
        mn_abort(r, 500, "MultipleObjectsReturned: %s", mn_orm_error(o));
    if (code == MN_ETIMEDOUT)
        fail(r, code, mn_orm_error(o));
    mn_abort(r, 500, "%s", *mn_orm_error(o) ? mn_orm_error(o) : mn_orm_strerror(code));
}

static const char *qs_model_name(mn_qs *qs, const mn_model *m)
{
    (void)qs;
    return m ? m->name : "object";
}

static void *get_or_404(mn_req *r, mn_orm *o, mn_qs *qs, const mn_model *m)
{
    mn_orm_clear_error(o);
    void *obj = mn_qs_get(qs);
    if (!obj)
        get_failed(r, o, qs_model_name(qs, m));
    return obj;
}

static mn_rows *list_or_404(mn_req *r, mn_orm *o, mn_qs *qs, const mn_model *m)
{
    mn_orm_clear_error(o);
    mn_rows *rows = mn_qs_fetch(qs);
    if (!rows)
        get_failed(r, o, qs_model_name(qs, m));
    if (rows->len == 0)
        mn_abort(r, 404, "No %s matches the given query.", qs_model_name(qs, m));
    return rows;
}

void *mn_qs_get_or_404(mn_req *r, mn_qs *qs)
{
    return get_or_404(r, mn_req_orm(r), qs, NULL);
}

mn_rows *mn_qs_list_or_404(mn_req *r, mn_qs *qs)
{
    return list_or_404(r, mn_req_orm(r), qs, NULL);
}

void *mn_get_or_404_kv(mn_req *r, const mn_model *m, const mn_kv *kv, size_t n, const char *file,
                       int line)
{
    mn_orm *o = mn_req_orm(r);
    if (!o)
        return NULL;
    return get_or_404(r, o, mn_qs_filter_kv(mn_qs_all_at(o, m, file, line), kv, n), m);
}

mn_rows *mn_get_list_or_404_kv(mn_req *r, const mn_model *m, const mn_kv *kv, size_t n,
                               const char *file, int line)
{
    mn_orm *o = mn_req_orm(r);
    if (!o)
        return NULL;
    return list_or_404(r, o, mn_qs_filter_kv(mn_qs_all_at(o, m, file, line), kv, n), m);
}

/* ---- The DEBUG page's SQL section (as django-debug-toolbar's SQL panel, in short). ---- */

static void esc(mn_buf *b, const char *s, size_t n)
{
    mn_template_escape(b, s, n);
}

/* A query parameter as the SQL literal it stands for, text cut at 200 bytes; html escapes it
 * for the DEBUG page (the test client's failure messages take it plain). */
void mn__param_text(mn_buf *b, const mn_dbparam *p, bool html)
{
    switch (p->type) {
    case MN_DBT_NULL: mn_buf_puts(b, "NULL"); break;
    case MN_DBT_INT: mn_buf_printf(b, "%lld", (long long)p->v.i); break;
    case MN_DBT_BOOL: mn_buf_puts(b, p->v.i ? "true" : "false"); break;
    case MN_DBT_FLOAT: mn_buf_printf(b, "%g", p->v.f); break;
    case MN_DBT_TEXT: {
        size_t n = p->v.s.len < 200 ? p->v.s.len : 200;
        mn_buf_putc(b, '\'');
        if (html)
            esc(b, p->v.s.ptr, n);
        else
            mn_buf_append(b, p->v.s.ptr, n);
        mn_buf_puts(b, p->v.s.len > 200 ? "...'" : "'");
        break;
    }
    case MN_DBT_BLOB: mn_buf_printf(b, "<%zu bytes>", p->v.s.len); break;
    }
}

void mn__webdb_debug_html(mn_req *r, mn_buf *b)
{
    const mn_dblog *log = mn_req_queries(r);
    if (!log)
        return;
    int64_t total = 0;
    for (size_t i = 0; i < log->count; i++)
        total += log->entries[i].duration_us;
    mn_buf_printf(b,
                  "<div id=\"sql\"><h2>SQL queries (%zu, %.3f ms)</h2>\n<table><tr><th>#</th>"
                  "<th>ms</th><th>SQL</th><th>Parameters</th><th>Result</th></tr>\n",
                  log->count, (double)total / 1000.0);
    for (size_t i = 0; i < log->count; i++) {
        const mn_dblog_entry *e = &log->entries[i];
        mn_buf_printf(b, "<tr><td>%zu</td><td>%.3f</td><td><pre>", i + 1,
                      (double)e->duration_us / 1000.0);
        esc(b, e->sql, strlen(e->sql));
        mn_buf_puts(b, "</pre></td><td>");
        for (size_t j = 0; j < e->nparams; j++) {
            if (j)
                mn_buf_puts(b, ", ");
            mn__param_text(b, &e->params[j], true);
        }
        mn_buf_puts(b, "</td><td>");
        const char *what = e->status == 0 ? "ok" : mn_db_strerror(e->status);
        esc(b, what, strlen(what));
        mn_buf_puts(b, "</td></tr>\n");
    }
    mn_buf_puts(b, "</table></div>\n");
}
