/* session.c — mn_orm, the per-request ORM session: which databases it may use, the
 * connections it has borrowed (given back when the request's arena goes), the last error's
 * detail, and the small constructors for mn_arg values. */
#include "internal.h"

#include <stdarg.h>

const char *mn_orm_strerror(int err)
{
    switch (err) {
    case MN_EDOES_NOT_EXIST: return "matching object does not exist";
    case MN_EMULTIPLE: return "multiple objects returned";
    case MN_EPROTECTED: return "protected by a foreign key";
    case MN_ERESTRICTED: return "restricted by a foreign key";
    case MN_EFIELD: return "unknown field or lookup";
    case MN_EVALIDATION: return "validation failed";
    case MN_ETRANSACTION_MANAGEMENT: return "transaction management error";
    case MN_EPAGE_NOT_AN_INTEGER: return "page number is not an integer";
    case MN_EEMPTY_PAGE: return "empty page";
    default: return mn_db_strerror(err);
    }
}

int mn__orm_fail(mn_orm *o, int code, const char *fmt, ...)
{
    if (!o)
        return code;
    o->errcode = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->errmsg, sizeof o->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

const char *mn_orm_error(const mn_orm *o)
{
    return o ? o->errmsg : "no session";
}
int mn_orm_errcode(const mn_orm *o)
{
    return o ? o->errcode : MN_EINVAL;
}
void mn_orm_clear_error(mn_orm *o)
{
    o->errcode = 0;
    o->errmsg[0] = '\0';
}
mn_arena *mn_orm_arena(mn_orm *o)
{
    return o->arena;
}

static void close_on_reset(void *arg)
{
    mn_orm_close(arg);
}

mn_orm *mn_orm_new(mn_arena *arena, mn_db *db)
{
    /* One per request: the message buffer is most of it and needs only its first byte. */
    mn_orm *o = mn_arena_alloc(arena, sizeof *o);
    if (!o)
        return NULL;
    memset(o, 0, offsetof(mn_orm, errmsg));
    o->errmsg[0] = '\0';
    o->arena = arena;
    o->default_dialect = db ? mn_db_dialect(db) : MN_DIALECT_SQLITE;
    if (db)
        o->dbs[o->ndbs++] = db;
    if (mn_arena_defer(arena, close_on_reset, o) != 0)
        return NULL;
    return o;
}

int mn_orm_add_db(mn_orm *o, mn_db *db)
{
    if (o->ndbs >= MAX_DBS)
        return MN_ETOOBIG;
    if (o->ndbs == 0)
        o->default_dialect = mn_db_dialect(db);
    o->dbs[o->ndbs++] = db;
    return 0;
}

void mn_orm_set_router(mn_orm *o, const char *(*route)(const mn_model *m, bool write, void *u),
                       void *user)
{
    o->route = route;
    o->route_user = user;
}

static int db_index(mn_orm *o, const char *alias)
{
    if (!alias || !*alias)
        return o->ndbs ? 0 : -1;
    for (size_t i = 0; i < o->ndbs; i++)
        if (strcmp(mn_db_alias(o->dbs[i]), alias) == 0)
            return (int)i;
    return -1;
}

int mn__db_index(mn_orm *o, const char *alias)
{
    return db_index(o, alias);
}

const char *mn__db_name(mn_orm *o, const char *alias)
{
    int i = db_index(o, alias);
    return i < 0 ? NULL : mn_db_alias(o->dbs[i]);
}

const char *mn__route(mn_orm *o, const mn_model *m, bool write, const void *instance)
{
    if (o->route) {
        const void *outer = o->route_hint; /* a router may itself run queries */
        o->route_hint = instance;
        const char *r = o->route(m, write, o->route_user);
        o->route_hint = outer;
        if (r)
            return r;
    }
    return instance ? ((const mn_obj *)instance)->db : NULL;
}

void mn_orm_set_allow_relation(mn_orm *o,
                               int (*allow)(const void *obj1, const void *obj2, void *user),
                               void *user)
{
    o->allow_relation = allow;
    o->allow_relation_user = user;
}

int mn__allow_relation(mn_orm *o, const void *obj1, const void *obj2)
{
    if (o->allow_relation) {
        int r = o->allow_relation(obj1, obj2, o->allow_relation_user);
        if (r >= 0)
            return r ? 0 : MN_EINVAL;
    }
    /* as Django's default: both on one database, a side without one (None) included */
    const char *db1 = ((const mn_obj *)obj1)->db, *db2 = ((const mn_obj *)obj2)->db;
    return db1 == db2 || (db1 && db2 && strcmp(db1, db2) == 0) ? 0 : MN_EINVAL;
}

const void *mn_orm_route_instance(const mn_orm *o)
{
    return o ? o->route_hint : NULL;
}

mn_qs *mn__qs_hint(mn_qs *qs, const void *instance)
{
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->hint = instance;
    return c;
}

mn_db *mn_orm_db(mn_orm *o, const char *alias)
{
    int i = db_index(o, alias);
    return i < 0 ? NULL : o->dbs[i];
}

mn_dbdialect mn__dialect(mn_orm *o, const char *alias)
{
    if (!alias || !*alias) /* the default database, without looking a name up */
        return o->default_dialect;
    mn_db *db = mn_orm_db(o, alias);
    return db ? mn_db_dialect(db) : MN_DIALECT_SQLITE;
}

mn_dbconn *mn_orm_conn(mn_orm *o, const char *alias)
{
    int i = db_index(o, alias);
    if (i < 0) {
        mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                     alias ? alias : "default");
        return NULL;
    }
    if (o->conns[i])
        return o->conns[i];
    mn_dbconn *c = NULL;
    int rc = mn_db_acquire(o->dbs[i], -1, &c);
    if (rc != 0) {
        /* the driver's message may already name the database ("database 'default': all 1
         * database connections are in use"): say it once */
        const char *name = mn_db_alias(o->dbs[i]), *why = mn_db_errmsg(o->dbs[i]);
        size_t nl = strlen(name);
        bool named = strncmp(why, "database '", 10) == 0 && strncmp(why + 10, name, nl) == 0 &&
                     strncmp(why + 10 + nl, "':", 2) == 0;
        if (named)
            mn__orm_fail(o, rc, "%s", why);
        else
            mn__orm_fail(o, rc, "database '%s': %s", name, *why ? why : mn_db_strerror(rc));
        return NULL;
    }
    if (o->log)
        mn_dbconn_set_log(c, mn_dblog_record, o->log, NULL, NULL);
    o->conns[i] = c;
    o->closed = false;
    return c;
}

void mn_orm_set_log(mn_orm *o, mn_dblog *log)
{
    o->log = log;
    for (size_t i = 0; i < o->ndbs; i++)
        if (o->conns[i])
            mn_dbconn_set_log(o->conns[i], log ? mn_dblog_record : NULL, log, NULL, NULL);
}

void mn_orm_set_raise(mn_orm *o, mn_orm_raise_fn fn, void *user)
{
    o->raise = fn;
    o->raise_user = user;
}

void mn_orm_close(mn_orm *o)
{
    if (!o || o->closed)
        return;
    o->closed = true;
    for (size_t i = 0; i < o->ndbs; i++) {
        if (o->conns[i])
            mn_db_release(o->conns[i]); /* rolls back what the view left open */
        o->conns[i] = NULL;
    }
    o->atomic_depth = 0;
    memset(o->txn, 0, sizeof o->txn);
    o->noncommit = 0;
}

void mn_orm_warn_repeats(mn_orm *o, int threshold)
{
    o->repeat_threshold = threshold;
}
int mn_orm_max_repeats(const mn_orm *o)
{
    return o->max_repeats;
}

/* Counts statements by their text (the "shape": values are parameters, so a loop issuing
 * one query per row repeats the very same text). */
static void count_repeat(mn_orm *o, const char *sql)
{
    /* Only reads: the N+1 pattern is a SELECT per row, which select_related or
     * prefetch_related fix; an INSERT/UPDATE per row is not it (and the advice would be
     * wrong), as django-debug-toolbar's duplicate detection flags only SELECTs. */
    if (strncmp(sql, "SELECT", 6) != 0)
        return;
    uint64_t h = 1469598103934665603u;
    for (const char *p = sql; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    struct repeat *r = NULL;
    for (size_t i = 0; i < o->nrepeats && !r; i++)
        if (o->repeats[i].hash == h)
            r = &o->repeats[i];
    if (!r) {
        if (o->nrepeats == o->caprepeats) {
            size_t nc = o->caprepeats ? o->caprepeats * 2 : 16;
            struct repeat *n =
                mn_arena_realloc(o->arena, o->repeats, o->caprepeats * sizeof *n, nc * sizeof *n);
            if (!n)
                return;
            o->repeats = n;
            o->caprepeats = nc;
        }
        r = &o->repeats[o->nrepeats++];
        *r = (struct repeat){h, 0};
    }
    r->count++;
    if (r->count > o->max_repeats)
        o->max_repeats = r->count;
    if (o->repeat_threshold > 0 && r->count == o->repeat_threshold + 1) {
        char where[200] = "";
        if (o->at_file)
            snprintf(where, sizeof where, " at %s:%d", o->at_file, o->at_line);
        mn_log(MN_LOG_WARNING, "orm",
               "N+1 queries: this request ran the same query more than %d times%s (use "
               "select_related or prefetch_related): %s",
               o->repeat_threshold, where, sql);
    }
}

int mn__exec(mn_orm *o, const char *alias, const char *sql, const mn_dbparam *p, size_t n,
             mn_dbresult *res)
{
    if (o->repeat_threshold > 0)
        count_repeat(o, sql);
    o->at_file = NULL;
    /* As Django's needs_rollback: after a statement failed inside an atomic block (of the
     * query's database: each has its own), the block accepts no more queries until it ends,
     * and its end rolls back; on PostgreSQL the server would refuse them anyway, and SQLite
     * must not go on and commit the rest. */
    int db = db_index(o, alias);
    if (mn__block_marked(o, db))
        return mn__txn_refuse(o, db);
    mn_dbconn *c = mn_orm_conn(o, alias);
    if (!c)
        return o->errcode ? o->errcode : MN_EDB_OPERATIONAL;
    int rc = mn_dbconn_exec(c, o->arena, sql, p, n, res);
    if (rc == 0)
        return 0;
    mn__orm_fail(o, rc, "%s", *mn_dbconn_errmsg(c) ? mn_dbconn_errmsg(c) : mn_db_strerror(rc));
    if (mn__in_block(o, db))
        o->txn[db].needs_rollback = rc;
    else if (c->broken && db >= 0 && o->conns[db] == c) {
        /* The server went away and no block is open on this database (whatever is open on
         * the others): give the connection back (the pool closes it) so this session's next
         * query borrows a fresh one instead of failing forever. A block's own broken
         * connection goes at the block's end (txn.c). */
        mn_db_release(c);
        o->conns[db] = NULL;
    }
    return rc;
}

/* ---- arguments ---- */
mn_arg mn_arg_null(void)
{
    return (mn_arg){.type = MN_ARG_NULL};
}
mn_arg mn_arg_int(int64_t i)
{
    return (mn_arg){.type = MN_ARG_INT, .v.i = i};
}
mn_arg mn_arg_uint(uint64_t u)
{
    return (mn_arg){.type = MN_ARG_INT, .v.i = (int64_t)u};
}
mn_arg mn_arg_float(double f)
{
    return (mn_arg){.type = MN_ARG_FLOAT, .v.f = f};
}
mn_arg mn_arg_bool(bool b)
{
    return (mn_arg){.type = MN_ARG_BOOL, .v.b = b};
}
mn_arg mn_arg_str(const char *s)
{
    return s ? (mn_arg){.type = MN_ARG_STR, .v.s = s} : mn_arg_null();
}
mn_arg mn_arg_dt(const mn_datetime *dt)
{
    return dt ? (mn_arg){.type = MN_ARG_DATETIME, .v.dt = dt} : mn_arg_null();
}
mn_arg mn_arg_obj(const void *o)
{
    return o ? (mn_arg){.type = MN_ARG_INSTANCE, .v.obj = o} : mn_arg_null();
}
mn_arg mn_arg_expr(const mn_expr *e)
{
    return (mn_arg){.type = MN_ARG_EXPR, .v.expr = e};
}
mn_arg mn_arg_qs(const mn_qs *qs)
{
    return (mn_arg){.type = MN_ARG_QS, .v.qs = qs};
}
mn_arg mn_arg_list(const mn_arg *items, size_t n)
{
    return (mn_arg){.type = MN_ARG_LIST, .v.list = {items, n}};
}
mn_arg mn_arg_bytes(const void *p, size_t n)
{
    return (mn_arg){.type = MN_ARG_BYTES, .v.bytes = {p ? (const char *)p : "", n}};
}
mn_arg mn_arg_value(const mn_value *v)
{
    return (mn_arg){.type = MN_ARG_VALUE, .v.value = v};
}
mn_arg mn_arg_id_(mn_arg a)
{
    return a;
}

/* The list lives in `arena`, or (arena NULL, as MN_IN uses it) in a per-thread ring that
 * survives until the queryset has been built from it. */
static mn_arg *list_storage(size_t n, mn_arena *arena)
{
    if (arena)
        return mn_arena_alloc(arena, (n ? n : 1) * sizeof(mn_arg));
    static _Thread_local mn_arena *ring;
    if (!ring && !(ring = mn_arena_new(4096)))
        return NULL;
    if (mn_arena_used(ring) > (1u << 20))
        mn_arena_reset(ring);
    return mn_arena_alloc(ring, (n ? n : 1) * sizeof(mn_arg));
}

mn_arg mn_arg_ints(const int64_t *items, size_t n, mn_arena *arena)
{
    mn_arg *l = list_storage(n, arena);
    if (!l)
        return mn_arg_null();
    for (size_t i = 0; i < n; i++)
        l[i] = mn_arg_int(items[i]);
    return mn_arg_list(l, n);
}

mn_arg mn_arg_strs(const char *const *items, size_t n, mn_arena *arena)
{
    mn_arg *l = list_storage(n, arena);
    if (!l)
        return mn_arg_null();
    for (size_t i = 0; i < n; i++)
        l[i] = mn_arg_str(items[i]);
    return mn_arg_list(l, n);
}
