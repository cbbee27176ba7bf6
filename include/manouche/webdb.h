/* manouche/webdb.h — the database in a web request: the per-request ORM session, ATOMIC_REQUESTS,
 * get_object_or_404 / get_list_or_404, the per-request query log, and creating the tables.
 *
 * Each worker process opens its databases lazily from the settings (DATABASE_URL, DATABASES,
 * DB_POOL_SIZE, DB_POOL_TIMEOUT, DB_STATEMENT_TIMEOUT, DB_DISABLE_SERVER_SIDE_CURSORS) on the
 * first request that asks; a request gets its session from mn_req_orm() on first use, in its
 * arena, and the session is closed (open transaction rolled back, connections given back)
 * when the request ends. A request that never calls mn_req_orm() costs the database nothing.
 *
 *     static void detail(mn_req *r)
 *     {
 *         Question *q = mn_get_or_404(r, Question, "pk", mn_path_int(r, "question_id"));
 *         mn_render(r, "polls/detail.html", MN_CTX("question", mn_obj_value(mn_req_orm(r), q)));
 *     }
 *
 * Failures end the view as Django's would: no connection free within DB_POOL_TIMEOUT is 503
 * Service Unavailable; a database that cannot be reached is 500 with the driver's message
 * logged (and on the DEBUG page with the request's queries). See docs/database.md. */
#ifndef MANOUCHE_WEBDB_H
#define MANOUCHE_WEBDB_H

#include <manouche/db.h>
#include <manouche/http.h>
#include <manouche/orm.h>
#include <manouche/web.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The request's ORM session, made on first use (this worker's databases are opened then, and
 * the default connection is borrowed). With ATOMIC_REQUESTS, the view's queries run in one
 * transaction. Ends the view with 503 when the pool stays full for DB_POOL_TIMEOUT, or 500
 * when the database cannot be reached; NULL only outside a site's request. */
mn_orm *mn_req_orm(mn_req *r) MN_MAY_YIELD;

/* This worker's database `alias` (NULL: "default"), opened from the settings on first use;
 * NULL when the alias is unknown or its URL is bad (reason in err). Owned by the site. */
mn_db *mn_site_db(mn_site *site, const char *alias, char *err, size_t errlen);

/* A database router for every request's session (mn_orm_set_router): route returns the alias
 * to read (write=false) or write model m; NULL: no opinion (the instance's database, else
 * "default", as mn_orm_set_router). Call it from an app's ready(). */
void mn_site_set_db_router(mn_site *site,
                           const char *(*route)(const mn_model *m, bool write, void *user),
                           void *user);
/* The router's allow_relation for every request's session (mn_orm_set_allow_relation): 1
 * allows a relation between obj1 and obj2, 0 refuses it, -1 has no opinion (allowed only
 * within one database). A primary/replica router allows its pool's. */
void mn_site_set_db_allow_relation(mn_site *site,
                                   int (*allow)(const void *obj1, const void *obj2, void *user),
                                   void *user);

/* Until migrations exist: creates the missing tables of every registered model in every
 * configured database (CREATE TABLE IF NOT EXISTS, from model metadata). The first request of
 * each process does it when DB_CREATE_TABLES is on (the default); commands may call it. 0, or
 * a negative code with the reason in err. */
int mn_site_create_tables(mn_site *site, char *err, size_t errlen) MN_MAY_YIELD;

/* The queries the request ran (SQL, parameters, time, status), NULL when it never used the
 * database. Still readable on a finished response of the test client. */
const mn_dblog *mn_req_queries(const mn_req *r);
/* How many queries the request ran (0 when it never used the database). */
size_t mn_req_num_queries(const mn_req *r);

/* ---- Shortcuts (django.shortcuts). They end the view: 404 when nothing matches, 503/500 on
 * a database failure, 500 when get finds several rows (MultipleObjectsReturned). ---- */
/* get_object_or_404(queryset): the only row of qs. */
void *mn_qs_get_or_404(mn_req *r, mn_qs *qs) MN_MAY_YIELD;
/* get_list_or_404(queryset): the rows of qs, 404 when there are none. */
mn_rows *mn_qs_list_or_404(mn_req *r, mn_qs *qs) MN_MAY_YIELD;
/* The same from a model and (lookup, value) pairs; file and line feed the N+1 warning. */
void *mn_get_or_404_kv(mn_req *r, const mn_model *m, const mn_kv *kv, size_t n, const char *file,
                       int line) MN_MAY_YIELD;
mn_rows *mn_get_list_or_404_kv(mn_req *r, const mn_model *m, const mn_kv *kv, size_t n,
                               const char *file, int line) MN_MAY_YIELD;

#ifdef __cplusplus
}
#endif

#if !defined(__cplusplus)
/* Question *q = mn_get_or_404(r, Question, "pk", mn_path_int(r, "question_id")); */
#define mn_get_or_404(r, Model, ...)                                                               \
    ((Model *)mn_get_or_404_kv((r), &Model##_model, MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__),      \
                               __FILE__, __LINE__))
/* mn_rows *rows = mn_get_list_or_404(r, Choice, "question", q); */
#define mn_get_list_or_404(r, Model, ...)                                                          \
    mn_get_list_or_404_kv((r), &Model##_model, MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__), __FILE__, \
                          __LINE__)
#endif

#endif
