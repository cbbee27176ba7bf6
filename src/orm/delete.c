/* delete.c — deletion with Django's on_delete collector: starting from the rows to delete,
 * follow every foreign key pointing at them (CASCADE collects more rows, PROTECT and
 * RESTRICT refuse, SET_NULL/SET_DEFAULT update, DO_NOTHING leaves them), clear implicit M2M
 * rows, then delete children before parents inside one atomic block and report the counts
 * per model as Django's delete() returns them. Keys are mn_args (integers, or text for
 * CharField/UUIDField primary keys), so one collector serves every kind of primary key. */
#include "internal.h"

enum { IN_BATCH = 500 };

typedef struct delset {
    const mn_model *m;
    mn_arg *pks;
    size_t n, cap;
    /* An index of pks (open addressing; a slot holds position + 1, 0 when empty), so that
     * asking whether a row is already collected does not walk the list: deleting a table's
     * 100,000 rows was quadratic. */
    size_t *slots;
    size_t nslots; /* a power of two, at least twice n */
} delset;

typedef struct fixup { /* SET_NULL / SET_DEFAULT */
    const mn_fielddef *f;
    mn_arg *pks;
    size_t n;
} fixup;

/* Rows of f->model that reference through f: RESTRICT's, and the rows a refusal names. */
typedef struct restricted {
    const mn_fielddef *f;
    mn_arg *pks;
    size_t n;
} restricted;

typedef struct collector {
    mn_orm *o;
    /* the model deleted, which RestrictedError names */
    const mn_model *top;
    const char *alias; /* the database of the delete: every lookup and statement runs there */
    delset *sets;
    size_t nsets, capsets;
    fixup *fix;
    size_t nfix, capfix;
    restricted *res;
    size_t nres, capres;
    /* the rows that refuse the delete (Django's protected_objects / restricted_objects) */
    restricted *blocked;
    size_t nblocked, capblocked;
    /* the instance mn_delete() was given: its signals get it, not a copy read back, as
     * Django's collector holds the instance itself */
    void *self;
} collector;

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t nc_ = (cap) ? (cap)*2 : 8;                                                      \
            void *p_ = mn_arena_realloc(col->o->arena, (arr), (cap) * sizeof *(arr),               \
                                        nc_ * sizeof *(arr));                                      \
            if (!p_)                                                                               \
                return MN_ENOMEM;                                                                  \
            (arr) = p_;                                                                            \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

static delset *set_for(collector *col, const mn_model *m)
{
    for (size_t i = 0; i < col->nsets; i++)
        if (col->sets[i].m == m)
            return &col->sets[i];
    return NULL;
}

static uint64_t key_hash(mn_arg k)
{
    if (k.type == MN_ARG_INT)
        return (uint64_t)k.v.i * 0x9e3779b97f4a7c15ull;
    uint64_t h = 1469598103934665603u;
    for (const char *p = k.type == MN_ARG_STR ? k.v.s : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return h * 0x9e3779b97f4a7c15ull;
}

static size_t pk_slot(const delset *s, mn_arg pk)
{
    uint64_t h = key_hash(pk);
    size_t mask = s->nslots - 1;
    for (size_t i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask)
        if (!s->slots[i] || mn__arg_eq(s->pks[s->slots[i] - 1], pk))
            return i;
}

static bool has_pk(const delset *s, mn_arg pk)
{
    return s && s->nslots && s->slots[pk_slot(s, pk)];
}

/* Appends pk (not yet in s) to the list and its index. */
static int add_pk(mn_orm *o, delset *s, mn_arg pk)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        mn_arg *p = mn_arena_realloc(o->arena, s->pks, s->cap * sizeof *p, nc * sizeof *p);
        if (!p)
            return MN_ENOMEM;
        s->pks = p;
        s->cap = nc;
    }
    if (2 * (s->n + 1) > s->nslots) {
        size_t ns = s->nslots ? s->nslots * 2 : 32;
        size_t *slots = mn_arena_calloc(o->arena, ns, sizeof *slots);
        if (!slots)
            return MN_ENOMEM;
        s->slots = slots;
        s->nslots = ns;
        for (size_t i = 0; i < s->n; i++)
            s->slots[pk_slot(s, s->pks[i])] = i + 1;
    }
    s->pks[s->n++] = pk;
    s->slots[pk_slot(s, pk)] = s->n;
    return 0;
}

/* The pks of `m` rows whose field f points into pks (batched IN lists). */
static int referencing(collector *col, const mn_fielddef *f, const mn_arg *pks, size_t n,
                       mn_arg **out, size_t *nout)
{
    mn_orm *o = col->o;
    *out = NULL;
    *nout = 0;
    size_t cap = 0;
    /* a to_field FK holds another column of the target: match it through a join on pk */
    char *in = mn_arena_printf(o->arena, f->to_field ? "%s__pk__in" : "%s__in", f->name);
    for (size_t start = 0; start < n; start += IN_BATCH) {
        size_t cnt = n - start < IN_BATCH ? n - start : IN_BATCH;
        mn_qs *qs = mn_qs_using(mn_qs_all(o, f->model), col->alias);
        if (qs) {
            qs->order_set = true; /* no ORDER BY needed */
            qs = mn_qs_values_list(
                mn_qs_filter_kv(qs, &(mn_kv){in, mn_arg_list(pks + start, cnt)}, 1), "pk", true);
        }
        mn_rows *rows = mn_qs_fetch(qs);
        if (!rows)
            return o->errcode ? o->errcode : MN_ENOMEM;
        for (size_t i = 0; i < rows->len; i++) {
            mn_arg v = mn__value_arg(o->arena, rows->items[i]);
            if (v.type == MN_ARG_NULL)
                continue;
            GROW(*out, *nout, cap);
            (*out)[(*nout)++] = v;
        }
    }
    return 0;
}

/* Adds "'Model.field'" to the comma-separated list in b unless it is there (the keys of
 * Django's ProtectedError and RestrictedError messages). */
static void add_key(mn_buf *b, const mn_fielddef *f)
{
    char key[160];
    snprintf(key, sizeof key, "'%s.%s'", f->model->name, f->name);
    if (b->len && mn_buf_cstr(b) && strstr(b->data, key))
        return;
    mn_buf_printf(b, "%s%s", b->len ? ", " : "", key);
}

static int collect(collector *col, const mn_model *m, const mn_arg *pks, size_t n)
{
    mn_orm *o = col->o;
    delset *s = set_for(col, m);
    if (!s) {
        GROW(col->sets, col->nsets, col->capsets);
        s = &col->sets[col->nsets++];
        *s = (delset){.m = m};
    }
    mn_arg *fresh = mn_arena_alloc(o->arena, (n ? n : 1) * sizeof *fresh);
    size_t nf = 0;
    if (!fresh)
        return MN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (has_pk(s, pks[i]))
            continue;
        if (add_pk(o, s, pks[i]) != 0)
            return MN_ENOMEM;
        fresh[nf++] = pks[i];
    }
    if (nf == 0)
        return 0;
    /* As Django's collector, every relation of this level is followed before PROTECT refuses,
     * and a refusal found below a cascade is reported here as that cascading relation, so
     * the message names the model deleted and each relation that leads to protected rows. */
    mn_buf protected;
    mn_buf_init(&protected, o->arena);
    for (const revrel *r = mrt(m)->reverse; r; r = r->next) {
        const mn_fielddef *f = r->field;
        if (f->type == MN_M2M || f->on_delete == MN_DO_NOTHING)
            continue;
        mn_arg *rel;
        size_t nrel;
        int rc = referencing(col, f, fresh, nf, &rel, &nrel);
        if (rc)
            return rc;
        if (nrel == 0)
            continue;
        switch (f->on_delete) {
        case MN_CASCADE:
            rc = collect(col, f->model, rel, nrel);
            if (rc == MN_EPROTECTED)
                add_key(&protected, f);
            else if (rc)
                return rc;
            break;
        case MN_PROTECT:
            add_key(&protected, f);
            GROW(col->blocked, col->nblocked, col->capblocked);
            col->blocked[col->nblocked++] = (restricted){f, rel, nrel};
            break;
        case MN_RESTRICT:
            GROW(col->res, col->nres, col->capres);
            col->res[col->nres++] = (restricted){f, rel, nrel};
            break;
        case MN_SET_NULL:
        case MN_SET_DEFAULT:
            GROW(col->fix, col->nfix, col->capfix);
            col->fix[col->nfix++] = (fixup){f, rel, nrel};
            break;
        default: break;
        }
    }
    if (protected.len)
        return mn__orm_fail(o, MN_EPROTECTED,
                            "Cannot delete some instances of model '%s' because they are "
                            "referenced through protected foreign keys: %s.",
                            m->name, mn_buf_cstr(&protected) ? protected.data : "");
    return 0;
}

/* n 0 adds nothing unless forced (Django's fast path names the model with 0). */
static int add_count_ex(mn_orm *o, mn_delete_report *rep, const char *label, int64_t n, bool zero)
{
    if (!rep || (n == 0 && !zero))
        return 0;
    rep->total += n;
    for (size_t i = 0; i < rep->n; i++)
        if (strcmp(rep->items[i].label, label) == 0) {
            rep->items[i].count += n;
            return 0;
        }
    void *p = mn_arena_realloc(o->arena, rep->items, rep->n * sizeof *rep->items,
                               (rep->n + 1) * sizeof *rep->items);
    if (!p)
        return MN_ENOMEM;
    rep->items = p;
    rep->items[rep->n].label = label;
    rep->items[rep->n].count = n;
    rep->n++;
    return 0;
}

static int add_count(mn_orm *o, mn_delete_report *rep, const char *label, int64_t n)
{
    return add_count_ex(o, rep, label, n, false);
}

/* Deletes rows of m whose `field` (a name) is in ids, in batches, on alias; adds to
 * *deleted. */
static int delete_in(mn_orm *o, const char *alias, const mn_model *m, const char *field,
                     const mn_arg *ids, size_t n, int64_t *deleted)
{
    char *in = mn_arena_printf(o->arena, "%s__in", field);
    for (size_t start = 0; start < n; start += IN_BATCH) {
        size_t cnt = n - start < IN_BATCH ? n - start : IN_BATCH;
        mn_qs *qs = mn_qs_filter_kv(mn_qs_using(mn_qs_all(o, m), alias),
                                    &(mn_kv){in, mn_arg_list(ids + start, cnt)}, 1);
        if (!qs)
            return o->errcode;
        sqlq q;
        int rc = mn__compile(qs, SQL_DELETE, NULL, 0, &q);
        mn_dbresult res;
        if (rc == 0)
            rc = mn__exec(o, alias, q.sql, q.params, q.nparams, &res);
        if (rc)
            return rc;
        *deleted += res.rows_affected;
    }
    return 0;
}

static int run(collector *col, mn_delete_report *rep, int64_t *total)
{
    mn_orm *o = col->o;
    mn_buf restricted_keys; /* RESTRICT unless cascaded away as well, as Django's */
    mn_buf_init(&restricted_keys, o->arena);
    for (size_t i = 0; i < col->nres; i++) {
        const restricted *r = &col->res[i];
        const delset *s = set_for(col, r->f->model);
        mn_arg *left = mn_arena_alloc(o->arena, r->n * sizeof *left);
        size_t nleft = 0;
        if (!left)
            return MN_ENOMEM;
        for (size_t k = 0; k < r->n; k++)
            if (!has_pk(s, r->pks[k]))
                left[nleft++] = r->pks[k];
        if (nleft == 0)
            continue;
        add_key(&restricted_keys, r->f);
        GROW(col->blocked, col->nblocked, col->capblocked);
        col->blocked[col->nblocked++] = (restricted){r->f, left, nleft};
    }
    if (restricted_keys.len) /* naming the model deleted, as Django's top-level collect() */
        return mn__orm_fail(o, MN_ERESTRICTED,
                            "Cannot delete some instances of model '%s' because they are "
                            "referenced through restricted foreign keys: %s.",
                            col->top->name,
                            mn_buf_cstr(&restricted_keys) ? restricted_keys.data : "");
    /* As Django's Collector.delete(): pre_delete for every collected instance comes first,
     * in deletion order (children first, each model's by pk), before any row changes, so a
     * receiver on the parent still sees its children; post_delete follows each model's
     * delete, in reverse. */
    mn_rows **objs = mn_arena_alloc(o->arena, (col->nsets ? col->nsets : 1) * sizeof *objs);
    if (!objs)
        return MN_ENOMEM;
    for (size_t i = col->nsets; i-- > 0;) {
        const delset *s = &col->sets[i];
        objs[i] = NULL;
        if (!mn__has_receivers(MN_PRE_DELETE, s->m) && !mn__has_receivers(MN_POST_DELETE, s->m))
            continue;
        objs[i] = mn_qs_fetch(
            mn_qs_order_by(mn_qs_filter_kv(mn_qs_using(mn_qs_all(o, s->m), col->alias),
                                           &(mn_kv){"pk__in", mn_arg_list(s->pks, s->n)}, 1),
                           "pk"));
        if (!objs[i])
            return o->errcode ? o->errcode : MN_ENOMEM;
        mn_arg me = col->self && ((mn_obj *)col->self)->model == s->m ? mn__pk_arg(col->self)
                                                                      : mn_arg_null();
        for (size_t k = 0; k < objs[i]->len && me.type != MN_ARG_NULL; k++) {
            if (mn__arg_eq(mn__pk_arg(objs[i]->items[k]), me)) {
                objs[i]->items[k] = col->self;
                break;
            }
        }
        for (size_t k = 0; k < objs[i]->len; k++) {
            int rc = mn__signal(o, MN_PRE_DELETE, s->m, objs[i]->items[k], false);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < col->nfix; i++) {
        const fixup *fx = &col->fix[i];
        const delset *s = set_for(col, fx->f->model);
        mn_arg *keep = mn_arena_alloc(o->arena, fx->n * sizeof *keep);
        size_t nk = 0;
        for (size_t k = 0; keep && k < fx->n; k++)
            if (!has_pk(s, fx->pks[k]))
                keep[nk++] = fx->pks[k];
        if (!keep)
            return MN_ENOMEM;
        for (size_t start = 0; start < nk; start += IN_BATCH) {
            size_t cnt = nk - start < IN_BATCH ? nk - start : IN_BATCH;
            bool text = mn__fk_is_text(fx->f);
            mn_arg v = fx->f->on_delete == MN_SET_NULL ? mn_arg_null()
                       : text                          ? mn_arg_str(fx->f->default_str)
                       : fx->f->default_int            ? mn_arg_int(fx->f->default_int)
                                                       : mn_arg_null();
            mn_qs *qs = mn_qs_filter_kv(mn_qs_using(mn_qs_all(o, fx->f->model), col->alias),
                                        &(mn_kv){"pk__in", mn_arg_list(keep + start, cnt)}, 1);
            int64_t r = mn_qs_update_kv(qs, &(mn_kv){fx->f->name, v}, 1);
            if (r < 0)
                return (int)r;
        }
    }
    /* implicit M2M rows go first: they point at everything else */
    for (size_t i = 0; i < col->nsets; i++) {
        const delset *s = &col->sets[i];
        for (size_t k = 0; k < mn_model_count(); k++) {
            const mn_model *t = mn_model_at(k);
            if (!t->auto_created)
                continue;
            for (size_t j = 1; j < t->nfields; j++) {
                if (t->fields[j].rel_model != s->m)
                    continue;
                int64_t n = 0;
                int rc = delete_in(o, col->alias, t, t->fields[j].name, s->pks, s->n, &n);
                if (rc)
                    return rc;
                if ((rc = add_count(o, rep, mn__label(t), n)) != 0)
                    return rc;
                *total += n;
            }
        }
    }
    for (size_t i = col->nsets; i-- > 0;) { /* children were collected after their parents */
        const delset *s = &col->sets[i];
        int64_t n = 0;
        int rc = delete_in(o, col->alias, s->m, "pk", s->pks, s->n, &n);
        if (rc)
            return rc;
        if ((rc = add_count(o, rep, mn__label(s->m), n)) != 0)
            return rc;
        *total += n;
        for (size_t k = objs[i] ? objs[i]->len : 0; k-- > 0;) {
            ((mn_obj *)objs[i]->items[k])->persisted = false;
            mn__signal(o, MN_POST_DELETE, s->m, objs[i]->items[k], false);
        }
    }
    return 0;
}

/* The instances of col->blocked, each once, grouped by model in the order met and by pk
 * within a model, into o->blocked (Django's ProtectedError.protected_objects and
 * RestrictedError.restricted_objects). The refusal stays the session's error. */
static void load_blocked(collector *col)
{
    mn_orm *o = col->o;
    int code = o->errcode;
    char *msg = mn_arena_strdup(o->arena, o->errmsg);
    mn_rows *all = mn_arena_calloc(o->arena, 1, sizeof *all);
    delset *by_model =
        mn_arena_calloc(o->arena, col->nblocked ? col->nblocked : 1, sizeof *by_model);
    size_t nmodels = 0;
    bool ok = all && by_model && msg;
    for (size_t i = 0; ok && i < col->nblocked; i++) {
        const restricted *b = &col->blocked[i];
        delset *s = NULL;
        for (size_t k = 0; k < nmodels && !s; k++)
            if (by_model[k].m == b->f->model)
                s = &by_model[k];
        if (!s)
            s = &by_model[nmodels++], s->m = b->f->model;
        for (size_t k = 0; ok && k < b->n; k++)
            if (!has_pk(s, b->pks[k]))
                ok = add_pk(o, s, b->pks[k]) == 0;
    }
    size_t total = 0; /* each key finds at most one row */
    for (size_t i = 0; i < nmodels; i++)
        total += by_model[i].n;
    if (ok && !(all->items = mn_arena_alloc(o->arena, (total ? total : 1) * sizeof(void *))))
        ok = false;
    for (size_t i = 0; ok && i < nmodels; i++) {
        const delset *s = &by_model[i];
        for (size_t start = 0; ok && start < s->n; start += IN_BATCH) {
            size_t cnt = s->n - start < IN_BATCH ? s->n - start : IN_BATCH;
            mn_rows *rows = mn_qs_fetch(mn_qs_order_by(
                mn_qs_filter_kv(mn_qs_using(mn_qs_all(o, s->m), col->alias),
                                &(mn_kv){"pk__in", mn_arg_list(s->pks + start, cnt)}, 1),
                "pk"));
            ok = rows != NULL;
            for (size_t k = 0; ok && k < rows->len && all->len < total; k++)
                all->items[all->len++] = rows->items[k];
        }
    }
    o->blocked = ok ? all : NULL;
    mn__orm_fail(o, code, "%s", msg ? msg : "");
}

/* Django's delete fast path (Collector.can_fast_delete for one instance): no delete signal
 * receivers and nothing that points at m could be touched: every foreign key to it
 * DO_NOTHING, and no M2M link table. */
static bool can_fast_delete(const mn_model *m)
{
    if (mn__has_receivers(MN_PRE_DELETE, m) || mn__has_receivers(MN_POST_DELETE, m))
        return false;
    for (const revrel *r = mrt(m)->reverse; r; r = r->next)
        if (r->field->type == MN_M2M || r->field->on_delete != MN_DO_NOTHING)
            return false;
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].type == MN_M2M)
            return false;
    return true;
}

const mn_rows *mn_delete_blocked_objects(const mn_orm *o)
{
    return o ? o->blocked : NULL;
}

/* alias: the write database, by name (Django's Collector(using=...)). */
static int64_t delete_pks(mn_orm *o, const char *alias, const mn_model *m, const mn_arg *pks,
                          size_t n, mn_delete_report *rep, void *self)
{
    if (rep)
        memset(rep, 0, sizeof *rep);
    collector col = {.o = o, .top = m, .alias = alias, .self = self};
    int rc = mn__atomic_for(o, alias); /* Django: atomic(using=self.using) */
    if (rc < 0)
        return rc;
    bool atomic = rc == 1;
    int64_t total = 0;
    rc = collect(&col, m, pks, n);
    if (rc == 0)
        rc = run(&col, rep, &total);
    if (rc == MN_EPROTECTED || rc == MN_ERESTRICTED)
        load_blocked(&col);
    int end = atomic ? mn_atomic_end(o, rc == 0) : 0;
    if (rc == 0)
        rc = end;
    if (rc && rep)
        memset(rep, 0, sizeof *rep);
    if (rc == 0) /* mn_orm_error() is the last call's: "" after a delete that worked */
        mn_orm_clear_error(o);
    return rc ? rc : total;
}

int64_t mn_delete(mn_orm *o, void *obj, mn_delete_report *report)
{
    mn_obj *h = obj;
    if (mn__ready(o) != 0)
        return o->errcode;
    o->blocked = NULL;
    mn_arg pk = mn__pk_arg(obj);
    if (!mn__pk_set(obj) && (!h->persisted || pk.type == MN_ARG_NULL))
        return mn__orm_fail(o, MN_EINVAL,
                            "%s object can't be deleted because its %s attribute "
                            "is set to None.",
                            h->model->name, h->model->pk->name);
    /* as Django's Model.delete(): the router's write database for obj, else obj's own */
    const char *route = mn__route(o, h->model, true, obj);
    const char *alias = mn__db_name(o, route);
    if (!alias)
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            route ? route : "default");
    int64_t r = delete_pks(o, alias, h->model, &pk, 1, report, obj);
    /* Django's fast path reports the model even when the row was already gone:
     * (0, {"polls.Question": 0}) */
    if (r == 0 && report && can_fast_delete(h->model)) {
        int rc = add_count_ex(o, report, mn__label(h->model), 0, true);
        if (rc)
            return rc;
    }
    if (r >= 0) { /* Django sets the pk to None: a later save() inserts a new row */
        h->persisted = false;
        mn__set_null(obj, h->model->pk, true);
    }
    return r;
}

int64_t mn_qs_delete(mn_qs *qs, mn_delete_report *report)
{
    if (!qs)
        return MN_EINVAL;
    qs->o->blocked = NULL;
    if (qs->low > 0 || qs->high >= 0)
        return mn__orm_fail(qs->o, MN_EINVAL, "Cannot use 'limit' or 'offset' with delete().");
    if (qs->mode != MODE_OBJECTS)
        return mn__orm_fail(qs->o, MN_EINVAL,
                            "Cannot call delete() after .values() or .values_list()");
    /* a write (Django's _for_write): the rows are looked up where they are deleted */
    const char *route = mn__qs_alias(qs, true);
    const char *alias = mn__db_name(qs->o, route);
    if (!alias)
        return mn__orm_fail(qs->o, MN_ENOTFOUND, "no database '%s' in this session",
                            route ? route : "default");
    mn_qs *ids = mn_qs_values_list(mn_qs_using(qs, alias), "pk", true);
    if (ids)
        ids->order_set = true, ids->norder = 0;
    mn_rows *rows = mn_qs_fetch(ids);
    if (!rows)
        return qs->o->errcode ? qs->o->errcode : MN_ENOMEM;
    mn_arg *pks = mn_arena_alloc(qs->o->arena, (rows->len ? rows->len : 1) * sizeof *pks);
    if (!pks)
        return MN_ENOMEM;
    for (size_t i = 0; i < rows->len; i++)
        pks[i] = mn__value_arg(qs->o->arena, rows->items[i]);
    if (rows->len == 0) {
        if (report)
            memset(report, 0, sizeof *report);
        return 0;
    }
    return delete_pks(qs->o, alias, qs->m, pks, rows->len, report, NULL);
}
