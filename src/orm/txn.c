/* txn.c — atomic() blocks (a transaction, savepoints inside it), on_commit callbacks that
 * run only once the outermost block commits, and model signals. */
#include "internal.h"

/* The connection of database i (an mn__db_index). */
static mn_dbconn *db_conn(mn_orm *o, int i)
{
    return mn_orm_conn(o, o->ndbs ? mn_db_alias(o->dbs[i]) : NULL);
}

static int db_fail(mn_orm *o, mn_dbconn *c, int rc)
{
    return mn__orm_fail(o, rc, "%s",
                        *mn_dbconn_errmsg(c) ? mn_dbconn_errmsg(c) : mn_db_strerror(rc));
}

/* A block where a statement failed is marked (o->txn[db].needs_rollback, the failed
 * statement's code; session.c's mn__exec sets it): only the innermost block of that database
 * is, since no query and no inner block can run in it after that; its end rolls back, to its
 * savepoint when nested, which leaves the enclosing block usable (Django's needs_rollback, per
 * connection). The blocks of other databases are not touched. */
int mn__txn_refuse(mn_orm *o, int db)
{
    return mn__orm_fail(o, MN_ETRANSACTION_MANAGEMENT,
                        "An error occurred in the current transaction. You can't execute queries "
                        "until the end of the 'atomic' block (the earlier error: %s).",
                        mn_orm_strerror(o->txn[db].needs_rollback));
}

/* A connection the server dropped (or that broke mid-statement) is of no use any more: once
 * no block is open on it, give it back (the pool closes it) so the session's next query
 * borrows a fresh one, as Django closes the connection when a rollback fails. */
static void drop_if_broken(mn_orm *o, mn_dbconn *c)
{
    if (!c->broken)
        return;
    for (size_t i = 0; i < o->ndbs; i++)
        if (o->conns[i] == c) {
            o->conns[i] = NULL;
            mn_db_release(c);
            return;
        }
}

/* The transaction ATOMIC_REQUESTS wraps a view in (on the default database) is the
 * framework's, not the view's: its BEGIN and COMMIT (or ROLLBACK) stay out of the query log,
 * so turning ATOMIC_REQUESTS on does not change what a test counts (Django's assertNumQueries
 * counts neither; savepoints, which a view's own atomic blocks make inside it, it does). */
static int txn_control(mn_orm *o, int db, mn_dbconn *c, int (*op)(mn_dbconn *c))
{
    if (!o->request_atomic || db != 0)
        return op(c);
    mn_dblog_fn fn;
    void *user;
    mn_dbconn_set_log(c, NULL, NULL, &fn, &user);
    int rc = op(c);
    mn_dbconn_set_log(c, fn, user, NULL, NULL);
    return rc;
}

static int atomic_begin(mn_orm *o, int db);

/* atomic(using=alias). Each database has its own blocks, as each Django connection has:
 * a block on another database inside an open one is a transaction of its own, which
 * commits or rolls back independently of the enclosing one. */
int mn_atomic_begin_using(mn_orm *o, const char *alias)
{
    int i = mn__db_index(o, alias);
    if (i < 0)
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            alias ? alias : "default");
    return atomic_begin(o, i);
}

/* The ORM's own multi-statement writes (delete cascades, m2m set, get_or_create, bulk
 * operations): Django's atomic(using=db), which opens a transaction on db, or a savepoint
 * when a block is already open there, whatever is open on other databases. 1: opened (the
 * caller ends it), or a negative code. */
int mn__atomic_for(mn_orm *o, const char *alias)
{
    int rc = mn_atomic_begin_using(o, alias);
    return rc ? rc : 1;
}

int mn_atomic_begin(mn_orm *o)
{
    return mn_atomic_begin_using(o, NULL);
}

static int atomic_begin(mn_orm *o, int db)
{
    txnstate *t = &o->txn[db];
    if (t->depth > 0 && t->needs_rollback)
        return mn__txn_refuse(o, db);
    if (o->atomic_depth == o->atomic_stack_cap) { /* room for the new level, before any SQL */
        int ncap = o->atomic_stack_cap ? o->atomic_stack_cap * 2 : 8;
        unsigned char *n =
            mn_arena_realloc(o->arena, o->atomic_stack, (size_t)o->atomic_stack_cap, (size_t)ncap);
        if (!n)
            return mn__orm_fail(o, MN_ENOMEM, "out of memory");
        o->atomic_stack = n;
        o->atomic_stack_cap = ncap;
    }
    mn_dbconn *c = db_conn(o, db);
    if (!c)
        return o->errcode;
    int rc;
    if (t->depth == 0) {
        rc = txn_control(o, db, c, mn_dbconn_begin);
    } else {
        char name[32];
        snprintf(name, sizeof name, "s%d_%d", t->depth, ++t->savepoint_seq);
        rc = mn_dbconn_savepoint(c, name);
    }
    if (rc) {
        db_fail(o, c, rc);
        if (t->depth == 0)
            drop_if_broken(o, c);
        return rc;
    }
    t->depth++;
    o->atomic_stack[o->atomic_depth++] = (unsigned char)db;
    return 0;
}

/* mn_atomic_end(o, true) on a marked block: it rolled back, and the caller must know the
 * commit did not happen. */
static int rolled_back(mn_orm *o, int failed)
{
    return mn__orm_fail(o, MN_ETRANSACTION_MANAGEMENT,
                        "the atomic block was rolled back, not committed: a query in it failed "
                        "(%s)",
                        mn_orm_strerror(failed));
}

/* Drops database db's callbacks registered at depth or deeper (all of them for depth 1). */
static void drop_callbacks(mn_orm *o, int db, int depth)
{
    size_t n = 0;
    for (size_t i = 0; i < o->noncommit; i++)
        if (o->oncommit[i].db != db || o->oncommit[i].depth < depth)
            o->oncommit[n++] = o->oncommit[i];
    o->noncommit = n;
}

/* Ends the innermost open block, whichever database it is on (blocks nest as the code that
 * opens them, last opened first ended). */
int mn_atomic_end(mn_orm *o, bool ok)
{
    if (o->atomic_depth <= 0)
        return mn__orm_fail(o, MN_EINVAL, "mn_atomic_end() without mn_atomic_begin()");
    int db = o->atomic_stack[o->atomic_depth - 1];
    txnstate *t = &o->txn[db];
    mn_dbconn *c = db_conn(o, db);
    if (!c)
        return o->errcode;
    int depth = t->depth;
    int failed = t->needs_rollback; /* a marked block can only roll back */
    bool commit = ok && !failed;
    t->needs_rollback = 0;
    int rc;
    if (depth == 1) {
        rc = txn_control(o, db, c, commit ? mn_dbconn_commit : mn_dbconn_rollback);
        if (rc && commit) {
            db_fail(o, c, rc); /* the commit's error is the one to report, not the rollback's */
            txn_control(o, db, c, mn_dbconn_rollback);
        } else if (rc && !ok && o->errcode) {
            /* As Django, a failed rollback does not hide the error that made the caller
             * roll back (often the very failure that broke the connection); it still
             * reports failure. */
            rc = o->errcode;
        } else if (rc) {
            db_fail(o, c, rc);
        }
        t->depth = 0;
        t->savepoint_seq = 0;
        o->atomic_depth--;
        drop_if_broken(o, c);
        if (rc || !commit) {
            drop_callbacks(o, db, 1);
            /* a marked block whose rollback failed is rolled back all the same (the
             * server ends a transaction whose connection is gone): say why */
            return ok && failed ? rolled_back(o, failed) : rc;
        }
        /* this database's callbacks, out of the list first: they may open new blocks */
        size_t n = 0, keep = 0;
        for (size_t i = 0; i < o->noncommit; i++)
            n += o->oncommit[i].db == db;
        oncommit *cbs = n ? mn_arena_alloc(o->arena, n * sizeof *cbs) : NULL;
        n = 0;
        for (size_t i = 0; i < o->noncommit; i++) {
            if (o->oncommit[i].db != db)
                o->oncommit[keep++] = o->oncommit[i];
            else if (cbs)
                cbs[n++] = o->oncommit[i];
        }
        o->noncommit = keep;
        for (size_t i = 0; i < n; i++)
            cbs[i].fn(cbs[i].arg);
        return 0;
    }
    /* savepoint names follow the depth they were made at; find ours by sequence */
    char name[32];
    snprintf(name, sizeof name, "s%d_%d", depth - 1, t->savepoint_seq);
    /* the innermost open savepoint is the latest one made at depth-1 */
    rc = commit ? mn_dbconn_savepoint_release(c, name) : mn_dbconn_savepoint_rollback(c, name);
    t->depth--;
    t->savepoint_seq--;
    o->atomic_depth--;
    if (rc && !commit) /* not even back at the savepoint: the enclosing block must roll back */
        t->needs_rollback = rc;
    if (!commit)
        drop_callbacks(o, db, depth);
    else
        for (size_t i = 0; i < o->noncommit; i++) /* now owned by the enclosing block */
            if (o->oncommit[i].db == db && o->oncommit[i].depth >= depth)
                o->oncommit[i].depth = depth - 1;
    if (rc && !ok && o->errcode) /* as above: keep the error that made the caller roll back */
        return o->errcode;
    return rc ? db_fail(o, c, rc) : ok && failed ? rolled_back(o, failed) : 0;
}

int mn_atomic_depth(const mn_orm *o)
{
    return o->atomic_depth;
}

int mn_on_commit_using(mn_orm *o, const char *alias, void (*fn)(void *arg), void *arg)
{
    int i = mn__db_index(o, alias);
    if (i < 0)
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            alias ? alias : "default");
    if (!mn__in_block(o, i)) { /* no block open on that database: now */
        fn(arg);
        return 0;
    }
    if (o->noncommit == o->oncommit_cap) {
        size_t ncap = o->oncommit_cap ? o->oncommit_cap * 2 : 8;
        oncommit *n =
            mn_arena_realloc(o->arena, o->oncommit, o->oncommit_cap * sizeof *n, ncap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        o->oncommit = n;
        o->oncommit_cap = ncap;
    }
    o->oncommit[o->noncommit++] = (oncommit){fn, arg, i, o->txn[i].depth};
    return 0;
}

int mn_on_commit(mn_orm *o, void (*fn)(void *arg), void *arg)
{
    return mn_on_commit_using(o, NULL, fn, arg);
}

int mn_atomic(mn_orm *o, int (*fn)(mn_orm *o, void *arg), void *arg)
{
    int rc = mn_atomic_begin(o);
    if (rc)
        return rc;
    int res = fn(o, arg);
    rc = mn_atomic_end(o, res == 0);
    return res ? res : rc;
}

int mn_orm_request_begin(mn_orm *o, bool atomic_requests)
{
    o->request_atomic = atomic_requests;
    return atomic_requests ? mn_atomic_begin(o) : 0;
}

int mn_orm_request_end(mn_orm *o, bool ok)
{
    int rc = 0;
    /* a view that returned normally but left inner blocks open (on any database) is a bug:
     * roll those back; the request's own block is the outermost one, on default */
    bool req = o->request_atomic && o->atomic_depth > 0 && o->atomic_stack[0] == 0;
    while (o->atomic_depth > (req ? 1 : 0))
        mn_atomic_end(o, false);
    if (req && o->atomic_depth == 1) {
        bool marked = o->txn[0].needs_rollback != 0;
        rc = mn_atomic_end(o, ok);
        /* as Django's ATOMIC_REQUESTS: a view that went on after a failed query (say it
         * showed a form error for a duplicate) is rolled back, and its response stands */
        if (marked && rc == MN_ETRANSACTION_MANAGEMENT)
            rc = 0;
    }
    o->request_atomic = false;
    mn_orm_close(o);
    return rc;
}

/* ---- signals: a small process-wide table, set up at start-up like Django's receivers ---- */
enum { MAX_RECEIVERS = 128 };
static struct receiver {
    mn_signal sig;
    const mn_model *sender;
    mn_receiver_fn fn;
    void *user;
} receivers[MAX_RECEIVERS];
static size_t nreceivers;

int mn_signal_connect(mn_signal sig, const mn_model *sender, mn_receiver_fn fn, void *user)
{
    for (size_t i = 0; i < nreceivers; i++)
        if (receivers[i].sig == sig && receivers[i].sender == sender && receivers[i].fn == fn &&
            receivers[i].user == user)
            return 0;
    if (nreceivers >= MAX_RECEIVERS)
        return MN_ETOOBIG;
    receivers[nreceivers++] = (struct receiver){sig, sender, fn, user};
    return 0;
}

void mn_signal_disconnect(mn_signal sig, const mn_model *sender, mn_receiver_fn fn, void *user)
{
    for (size_t i = 0; i < nreceivers; i++)
        if (receivers[i].sig == sig && receivers[i].sender == sender && receivers[i].fn == fn &&
            receivers[i].user == user) { /* the others keep their order (Django's) */
            memmove(&receivers[i], &receivers[i + 1], (--nreceivers - i) * sizeof *receivers);
            return;
        }
}

bool mn__has_receivers(mn_signal sig, const mn_model *m)
{
    for (size_t i = 0; i < nreceivers; i++)
        if (receivers[i].sig == sig && (!receivers[i].sender || receivers[i].sender == m))
            return true;
    return false;
}

int mn__signal(mn_orm *o, mn_signal sig, const mn_model *m, void *obj, bool created)
{
    /* as Django's send(): the receivers connected now, in order, even if one of them
     * connects or disconnects receivers (itself, say) while it runs */
    size_t n = 0;
    for (size_t i = 0; i < nreceivers; i++)
        n += receivers[i].sig == sig && (!receivers[i].sender || receivers[i].sender == m);
    if (!n)
        return 0;
    struct receiver few[8]; /* the usual case, with no arena growth per save */
    struct receiver *live = n <= 8 ? few : mn_arena_alloc(o->arena, n * sizeof *live);
    if (!live)
        return mn__orm_fail(o, MN_ENOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; i < nreceivers; i++)
        if (receivers[i].sig == sig && (!receivers[i].sender || receivers[i].sender == m))
            live[n++] = receivers[i];
    for (size_t i = 0; i < n; i++) {
        struct receiver *r = &live[i];
        int rc = r->fn(sig, m, obj, created, o, r->user);
        if (!rc)
            continue;
        if (sig == MN_PRE_SAVE || sig == MN_PRE_DELETE)
            return mn__orm_fail(o, rc, "a %s receiver for %s refused the operation",
                                sig == MN_PRE_SAVE ? "pre_save" : "pre_delete", m->name);
        /* as raising in a Django pre_add/pre_remove/pre_clear receiver: nothing changes */
        const mn_m2m_change *ch = sig == MN_M2M_CHANGED ? mn_m2m_changed_info(o) : NULL;
        if (ch && (ch->action == MN_M2M_PRE_ADD || ch->action == MN_M2M_PRE_REMOVE ||
                   ch->action == MN_M2M_PRE_CLEAR))
            return mn__orm_fail(o, rc, "a %s receiver for %s refused the operation",
                                ch->action_name, m->name);
    }
    return 0;
}
