/* fetch.c — running SELECTs and turning rows into model instances (with select_related
 * objects and annotations), template values (values/values_list) or aggregates; the read
 * side of the queryset API: fetch, count, exists, get, first/last, latest/earliest, in_bulk,
 * aggregate, iterator, prefetch_related, raw. */
#include "compile.h" /* mn__qs_filter_sticky */

#include <manouche/rt.h>

#include <stdlib.h>

typedef struct obj_extra {
    const char **names;
    mn_value **values;
    size_t n;
    struct pcache {
        const char *accessor;
        mn_rows *rows;
        struct pcache *next;
    } * prefetched;
} obj_extra;

/* using() wins; else the router, told about the instance a related queryset belongs to, else
 * that instance's database. A select_for_update() queryset is a write (Django's _for_write):
 * its lock must be taken on the database the transaction writes to. */
static const char *qs_alias(mn_qs *qs, bool write)
{
    if (qs->alias)
        return qs->alias;
    return mn__route(qs->o, qs->m, write || qs->for_update, qs->hint);
}

const char *mn__qs_alias(mn_qs *qs, bool write)
{
    return qs_alias(qs, write);
}

mn_dbdialect mn__qs_dialect(mn_qs *qs)
{
    if (qs->alias || (!qs->o->route && !qs->hint)) /* no router to ask: the common case */
        return mn__dialect(qs->o, qs->alias);
    return mn__dialect(qs->o, qs_alias(qs, false));
}

/* The queryset one execution runs: qs itself when using() names its database or there is no
 * router to ask, else a copy in *tmp with the database the router answers now, asked once (as
 * Django's iterables take queryset.db once), so the SQL is compiled for the database it runs
 * on and the instances record the one they came from, even when a router picks a replica at
 * random on each call. */
static mn_qs *pin(mn_qs *qs, mn_qs *tmp)
{
    if (qs->alias || (!qs->o->route && !qs->hint))
        return qs;
    const char *route = qs_alias(qs, false);
    const char *name = mn__db_name(qs->o, route);
    *tmp = *qs;
    tmp->alias = name ? name : route; /* an unknown name fails when it runs, saying which */
    return tmp;
}

/* The field an aggregate or F() yields, for decoding its cells (NULL: plain number). */
static const mn_fielddef *path_field(const mn_model *m, const char *path)
{
    const char *p = path;
    const mn_fielddef *f = NULL;
    while (p && *p) {
        const char *dd = strstr(p, "__");
        size_t n = dd ? (size_t)(dd - p) : strlen(p);
        f = mn__field(m, p, n);
        if (f) {
            if (f->rel_model && dd)
                m = f->rel_model;
        } else {
            const revrel *r = mn__revrel(m, p, n, false);
            if (!r)
                return NULL;
            m = r->from;
            f = m->pk;
        }
        p = dd ? dd + 2 : NULL;
    }
    return f;
}

static const annot *find_annot(const mn_qs *qs, const char *name)
{
    for (size_t i = 0; qs && i < qs->nannots; i++)
        if (strcmp(qs->annots[i].name, name) == 0)
            return &qs->annots[i];
    return NULL;
}

/* The annotation of qs an F() or an aggregate names (not a field of m), or NULL. */
static const annot *names_annot(const mn_model *m, const mn_qs *qs, const mn_expr *e)
{
    if (!qs || (e->kind != E_FIELD && e->kind != E_AGG) || strcmp(e->path, "*") == 0 ||
        path_field(m, e->path))
        return NULL;
    return find_annot(qs, e->path);
}

/* e reads a DurationField (F, an aggregate of it, arithmetic starting with it), whose
 * value is a timedelta in Django. */
static bool reads_duration(const mn_model *m, const mn_expr *e)
{
    while (e && e->kind == E_OP)
        e = e->a;
    const mn_fielddef *f = e && (e->kind == E_AGG || e->kind == E_FIELD) && strcmp(e->path, "*")
                               ? path_field(m, e->path)
                               : NULL;
    return f && f->type == MN_DURATION && !(e->kind == E_AGG && e->agg == AGG_COUNT);
}

/* The value of cell c, which the expression e of queryset qs (NULL: no annotations to refer
 * to) computed: typed by what e yields, as Django's output_field. */
static mn_value *expr_value_d(mn_orm *o, const mn_model *m, const mn_qs *qs, const mn_expr *e,
                              const mn_dbcell *c, mn_dbdialect dl, int depth)
{
    if (c->type == MN_DBT_NULL)
        return mn_value_none();
    /* F("total") of annotate(total=...) is that annotation's value, with its type */
    const annot *an = depth < 16 ? names_annot(m, qs, e) : NULL;
    if (an && e->kind == E_FIELD)
        return expr_value_d(o, m, qs, an->expr, c, dl, depth + 1);
    /* decode by what the expression yields, not by the driver's column type: SUM(bigint)
     * is numeric text on PostgreSQL, a decimal is a scaled integer on SQLite */
    xty t = e->kind == E_FIELD ? (xty){XT_OTHER, 0} : mn__expr_type(m, qs, e);
    if (t.t == XT_DEC && (e->kind == E_OP || e->agg == AGG_AVG || an))
        return mn__decimal_cell(o, c, t.scale);
    if (t.t == XT_INT && c->type == MN_DBT_TEXT) {
        int64_t v = 0;
        mn_value *n = mn_str_to_i64(c->v.s, &v) == 0 ? mn_value_int(o->arena, v) : NULL;
        if (n && reads_duration(m, e)) /* PostgreSQL's SUM of a bigint is numeric */
            return mn__duration_value(o->arena, n);
        if (n)
            return n;
    }
    if (t.t == XT_FLOAT && e->kind == E_OP)
        return mn_value_double(o->arena, c->type == MN_DBT_FLOAT ? c->v.f
                                         : c->type == MN_DBT_INT ? (double)c->v.i
                                                                 : strtod(c->v.s.ptr, NULL));
    if (t.t == XT_OTHER && e->kind == E_AGG && e->agg == AGG_SUM && c->type == MN_DBT_TEXT) {
        /* Sum() over an annotation (a Count, an expression): PostgreSQL's numeric text is
         * an integer or a decimal, never a string */
        int64_t v = 0;
        if (mn_str_to_i64(c->v.s, &v) == 0)
            return mn_value_int(o->arena, v);
        size_t i = 0, dots = 0, digs = 0;
        const char *p = c->v.s.ptr;
        if (i < c->v.s.len && p[i] == '-')
            i++;
        for (; i < c->v.s.len; i++) {
            if (p[i] == '.')
                dots++;
            else if (p[i] >= '0' && p[i] <= '9')
                digs++;
            else
                break;
        }
        if (i == c->v.s.len && dots == 1 && digs)
            return mn_value_decimal(o->arena, p, c->v.s.len);
    }
    if (e->kind == E_AGG && e->agg == AGG_AVG) {
        double d = c->type == MN_DBT_FLOAT ? c->v.f
                   : c->type == MN_DBT_INT
                       ? (double)c->v.i
                       : strtod(mn_arena_strndup(o->arena, c->v.s.ptr, c->v.s.len), NULL);
        const mn_fielddef *af = strcmp(e->path, "*") ? path_field(m, e->path) : NULL;
        if (af && af->type == MN_DECIMAL && dl == MN_DIALECT_SQLITE)
            for (int i = 0; i < af->decimal_places; i++) /* SQLite averaged the scaled integers */
                d /= 10;
        if (af && af->type == MN_DURATION) { /* Django's Avg of a DurationField: a timedelta */
            mn_value *us = mn_value_int(o->arena, (int64_t)(d < 0 ? d - 0.5 : d + 0.5));
            return us ? mn__duration_value(o->arena, us) : NULL;
        }
        return mn_value_double(o->arena, d);
    }
    if (e->kind == E_AGG && e->agg == AGG_COUNT) {
        int64_t v = c->type == MN_DBT_INT ? c->v.i : 0;
        if (c->type == MN_DBT_TEXT)
            mn_str_to_i64(c->v.s, &v);
        return mn_value_int(o->arena, v);
    }
    const mn_fielddef *f = (e->kind == E_AGG || e->kind == E_FIELD) && strcmp(e->path, "*")
                               ? path_field(m, e->path)
                               : NULL;
    if (e->kind == E_OP) {
        const mn_expr *x = e->a;
        while (x && x->kind == E_OP)
            x = x->a;
        if (x && x->kind == E_FIELD)
            f = path_field(m, x->path);
    }
    if (f && (f->type == MN_FK || f->type == MN_O2O || f->type == MN_M2M))
        f = NULL;
    if (f && e->kind == E_AGG && e->agg == AGG_SUM && mn__is_int_type(f->type) &&
        c->type == MN_DBT_TEXT) {
        int64_t v = 0;
        mn_str_to_i64(c->v.s, &v);
        return mn_value_int(o->arena, v);
    }
    return mn__cell_value(o, f, c, dl);
}

static mn_value *expr_value(mn_orm *o, const mn_qs *qs, const mn_expr *e, const mn_dbcell *c)
{
    /* decoded as the database the query ran on stores it (a decimal on SQLite is scaled) */
    return expr_value_d(o, qs->m, qs, e, c, mn__qs_dialect((mn_qs *)qs), 0);
}

static void *new_instance(mn_orm *o, const mn_model *m)
{
    mn_obj *h = mn_arena_calloc(o->arena, 1, m->size);
    if (!h)
        return NULL;
    h->model = m;
    h->orm = o;
    h->persisted = true;
    return h;
}

static int read_objects(mn_qs *qs, const sqlq *q, const mn_dbresult *res, mn_rows *out)
{
    mn_orm *o = qs->o;
    const char *db = res->nrows ? mn__db_name(o, qs_alias(qs, false)) : NULL;
    mn_dbdialect d = mn__qs_dialect(qs); /* decode as the database the rows came from */
    for (size_t r = 0; r < res->nrows; r++) {
        /* 100,000 instances are tens of milliseconds of CPU: let other requests run */
        if ((r & 8191) == 8191 && mn_coro_current())
            mn_coro_yield();
        const mn_dbcell *cells = &res->cells[r * res->ncols];
        size_t ci = 0;
        mn_obj *obj = new_instance(o, qs->m);
        if (!obj)
            return MN_ENOMEM;
        obj->db = db; /* Django's _state.db: later saves and relations go there */
        uint64_t loaded = 0;
        for (size_t i = 0; i < q->ncols; i++) {
            const mn_fielddef *f = q->cols[i];
            const mn_dbcell *c = &cells[ci++];
            /* Integers (every pk) straight into the fresh instance, whose null bits are clear:
             * the integer field types are all int64_t members. */
            int rc = c->type == MN_DBT_INT && f->type >= MN_AUTO && f->type <= MN_POSBIGINT
                         ? (*(int64_t *)mn__fptr(obj, f) = c->v.i, 0)
                         : mn__cell_store(o, obj, f, c, d);
            if (rc)
                return mn__orm_fail(o, rc, "%s.%s: cannot read the value from the database",
                                    qs->m->name, q->cols[i]->name);
            loaded |= UINT64_C(1) << q->cols[i]->index;
        }
        for (size_t i = 0; i < qs->m->nfields; i++)
            if (mn__has_column(&qs->m->fields[i]) && !(loaded & (UINT64_C(1) << i)))
                obj->deferred |= UINT64_C(1) << i;
        void **relobjs = q->nrels ? mn_arena_calloc(o->arena, q->nrels, sizeof *relobjs) : NULL;
        for (size_t k = 0; k < q->nrels; k++) {
            const struct selrel *sr = &q->rels[k];
            void *parent = sr->parent < 0 ? (void *)obj : relobjs[sr->parent];
            bool all_null = true;
            for (size_t i = 0; i < sr->ncols; i++)
                all_null &= cells[ci + i].type == MN_DBT_NULL;
            if (!all_null && parent) {
                mn_obj *ro = new_instance(o, sr->m);
                if (!ro)
                    return MN_ENOMEM;
                ro->db = db;
                for (size_t i = 0; i < sr->ncols; i++)
                    mn__cell_store(o, ro, sr->cols[i], &cells[ci + i], d);
                relobjs[k] = ro;
                ((mn_fk *)mn__fptr(parent, sr->via))->obj = ro;
            }
            ci += sr->ncols;
        }
        if (q->nannots) {
            obj_extra *x = mn_arena_calloc(o->arena, 1, sizeof *x);
            if (!x)
                return MN_ENOMEM;
            x->n = q->nannots;
            x->names = mn_arena_alloc(o->arena, x->n * sizeof *x->names);
            x->values = mn_arena_alloc(o->arena, x->n * sizeof *x->values);
            if (!x->names || !x->values)
                return MN_ENOMEM;
            for (size_t i = 0; i < x->n; i++) {
                x->names[i] = qs->annots[i].name;
                x->values[i] = expr_value(o, qs, qs->annots[i].expr, &cells[ci++]);
            }
            obj->extra = x;
        }
        out->items[out->len++] = obj;
    }
    return 0;
}

/* A values() column that is a transform of a field ("pub_date__year", "at__date"): an
 * integer, or a date or time the database gives as text. */
static mn_value *transform_value(mn_orm *o, mn_ftype t, const mn_dbcell *c)
{
    if (c->type == MN_DBT_NULL)
        return mn_value_none();
    if (t != MN_DATE && t != MN_TIME)
        return c->type == MN_DBT_TEXT
                   ? mn_value_int(
                         o->arena,
                         strtoll(mn_arena_strndup(o->arena, c->v.s.ptr, c->v.s.len), NULL, 10))
               : c->type == MN_DBT_FLOAT ? mn_value_int(o->arena, (int64_t)c->v.f)
                                         : mn_value_int(o->arena, c->v.i);
    mn_datetime dt;
    if (c->type != MN_DBT_TEXT || mn__parse_datetime(c->v.s.ptr, c->v.s.len, t, &dt) != 0)
        return mn_value_none();
    return t == MN_DATE ? mn_value_date(o->arena, dt.year, dt.month, dt.day)
                        : mn_value_time(o->arena, &dt);
}

static int read_values(mn_qs *qs, const sqlq *q, const mn_dbresult *res, mn_rows *out)
{
    mn_orm *o = qs->o;
    mn_dbdialect d = mn__qs_dialect(qs);
    for (size_t r = 0; r < res->nrows; r++) {
        const mn_dbcell *cells = &res->cells[r * res->ncols];
        mn_value *row = qs->mode == MODE_VALUES        ? mn_value_dict(o->arena, q->nv)
                        : qs->mode == MODE_VALUES_LIST ? mn_value_list(o->arena, q->nv)
                                                       : NULL;
        for (size_t i = 0; i < q->nv; i++) {
            const annot *an = find_annot(qs, q->vnames[i]);
            mn_ftype tt = q->vtypes ? q->vtypes[i] : 0;
            mn_value *v = an   ? expr_value(o, qs, an->expr, &cells[i])
                          : tt ? transform_value(o, tt, &cells[i])
                               : mn__cell_value(o, q->vfields[i], &cells[i], d);
            if (!v)
                return MN_ENOMEM;
            if (qs->mode == MODE_VALUES)
                mn_value_dict_set_cstr(o->arena, row, q->vnames[i], v);
            else if (qs->mode == MODE_VALUES_LIST)
                mn_value_list_append(o->arena, row, v);
            else if (i == 0) /* flat: the first column, values_list(flat=True) of every field */
                row = v;
        }
        out->items[out->len++] = row;
    }
    return 0;
}

static int run_prefetch(mn_qs *qs, mn_rows *rows);

/* ---- The query cache ----
 * Looking a row up by primary key is what views do most (/queries does 20 per request), and
 * compiling its SQL cost more than running it on SQLite. The SQL of such a query depends
 * only on the model, the dialect and the shape, so it is compiled once and reused:
 *   where: model_rt.sql_cache (internal.h), one slot per dialect and shape;
 *   key:   model + dialect + shape, the shape being filter(pk=<key>) (an integer for an
 *          integer pk, a string for a CharField/UUIDField one; or the pk's own
 *          name, with or without __exact) on a plain queryset (objects, no distinct, annotations,
 *          only/defer, select_related or prefetch, not for update), sliced [0:n], with no
 *          ordering (SHAPE_PK_GET, as get() runs it) or ordered by "pk" (SHAPE_PK_FIRST).
 * Its parameters are then always (pk, n). The entry is the compiler's own output, checked to
 * have exactly those parameters before it is kept, so a cached query is the same statement
 * as an uncached one (and the driver's prepared-statement cache finds it by its text). */
static int pk_shape(const mn_qs *qs, const mn_arg **pk)
{
    const mn_q *w = qs->where;
    const mn_fielddef *pkf = qs->m->pk;
    if (!w || w->kind != Q_LEAF || !pkf ||
        w->value.type != (mn__is_int_type(pkf->type) ? MN_ARG_INT : MN_ARG_STR) ||
        qs->mode != MODE_OBJECTS || qs->distinct || qs->none || qs->for_update || qs->low != 0 ||
        qs->high < 0 || qs->nvfields || qs->nonly || qs->ndefer || qs->nrelated || qs->nprefetch ||
        qs->nannots || !qs->order_set || qs->reversed)
        return -1;
    const char *l = w->lookup;
    size_t n = l[0] == 'p' && l[1] == 'k' && (l[2] == '\0' || l[2] == '_') ? 2 : strlen(pkf->name);
    if (n != 2 && strncmp(l, pkf->name, n) != 0)
        return -1;
    if (l[n] != '\0' && strcmp(l + n, "__exact") != 0)
        return -1;
    *pk = &w->value;
    if (qs->norder == 0)
        return SHAPE_PK_GET;
    if (qs->norder == 1 && strcmp(qs->order[0], "pk") == 0)
        return SHAPE_PK_FIRST;
    return -1;
}

static bool int_param(const mn_dbparam *p, int64_t v)
{
    return p->type == MN_DBT_INT && p->v.i == v;
}

static bool same_param(const mn_dbparam *p, const mn_dbparam *want)
{
    if (want->type == MN_DBT_INT)
        return int_param(p, want->v.i);
    return p->type == want->type && (p->type == MN_DBT_TEXT || p->type == MN_DBT_BLOB) &&
           p->v.s.len == want->v.s.len && memcmp(p->v.s.ptr, want->v.s.ptr, p->v.s.len) == 0;
}

/* Keeps a freshly compiled query of the shape in the cache (best effort: no memory, or an
 * unexpected statement, only means the next one compiles again). */
static void cache_put(_Atomic(cached_sql *) *slot, const sqlq *q, const mn_dbparam *pk,
                      int64_t limit)
{
    if (q->nparams != 2 || !same_param(&q->params[0], pk) || !int_param(&q->params[1], limit) ||
        q->nrels || q->nannots || q->nv)
        return;
    size_t cols = q->ncols * sizeof *q->cols, len = strlen(q->sql) + 1;
    cached_sql *e = mn_malloc(sizeof *e + cols + len);
    if (!e)
        return;
    e->cols = (const mn_fielddef **)(void *)(e + 1);
    memcpy(e->cols, q->cols, cols);
    e->ncols = q->ncols;
    e->sql = memcpy((char *)e->cols + cols, q->sql, len);
    cached_sql *none = NULL;
    if (!atomic_compare_exchange_strong(slot, &none, e))
        mn_free(e); /* another thread kept the same statement first */
}

/* mn__compile for a SELECT, through the query cache when the queryset has a known shape. */
/* The key as the compiler binds it: an integer as is, a text key converted (uuids
 * normalised). 0, or the conversion's error (message set). */
static int key_param(mn_qs *qs, const mn_arg *key, mn_dbdialect d, mn_dbparam *out)
{
    if (key->type == MN_ARG_INT) {
        *out = mn_dbp_int(key->v.i);
        return 0;
    }
    return mn__arg_param(qs->o, qs->m->pk, *key, d, out);
}

static int compile_select(mn_qs *qs, sqlq *q)
{
    const mn_arg *key;
    int shape = pk_shape(qs, &key);
    if (shape < 0)
        return mn__compile(qs, SQL_SELECT, NULL, 0, q);
    mn_dbdialect d = mn__qs_dialect(qs);
    _Atomic(cached_sql *) *slot = &mrt(qs->m)->sql_cache[d == MN_DIALECT_POSTGRESQL][shape];
    const cached_sql *e = atomic_load_explicit(slot, memory_order_acquire);
    if (!e) {
        int rc = mn__compile(qs, SQL_SELECT, NULL, 0, q);
        mn_dbparam pk;
        if (rc == 0 && key_param(qs, key, d, &pk) == 0)
            cache_put(slot, q, &pk, qs->high);
        return rc;
    }
    mn_orm_clear_error(qs->o); /* as mn__compile does: the error is the last call's */
    memset(q, 0, sizeof *q);
    q->params = mn_arena_alloc(qs->o->arena, 2 * sizeof *q->params);
    if (!q->params)
        return mn__orm_fail(qs->o, MN_ENOMEM, "out of memory");
    if (key->type == MN_ARG_INT)
        q->params[0] = mn_dbp_int(key->v.i);
    else if (key_param(qs, key, d, &q->params[0]) != 0) /* a key the column cannot take: */
        return mn__compile(qs, SQL_SELECT, NULL, 0, q); /* the compiler reports it */
    q->params[1] = mn_dbp_int(qs->high);
    q->nparams = 2;
    q->sql = e->sql;
    q->cols = e->cols;
    q->ncols = e->ncols;
    return 0;
}

int mn__check_for_update(mn_qs *qs)
{
    if (!qs->for_update)
        return 0;
    mn_orm *o = qs->o;
    const char *alias = qs_alias(qs, false);
    /* SQLite takes no row locks: Django leaves the clause out and asks for no transaction */
    if (mn__dialect(o, alias) != MN_DIALECT_POSTGRESQL)
        return 0;
    /* a lock taken in autocommit would end with its statement: a block must be open on the
     * query's database (one on another database does not count) */
    if (mn__in_block(o, mn__db_index(o, alias)))
        return 0;
    return mn__orm_fail(o, MN_ETRANSACTION_MANAGEMENT,
                        "select_for_update cannot be used outside of a transaction.");
}

mn_rows *mn_qs_fetch_or_raise(mn_qs *qs)
{
    mn_rows *rows = mn_qs_fetch(qs);
    if (!rows && qs && qs->o->raise)
        qs->o->raise(qs->o, qs->o->raise_user);
    return rows;
}

mn_rows *mn_qs_fetch(mn_qs *qs)
{
    if (!qs)
        return NULL;
    mn__where(qs);
    if (qs->cache)
        return qs->cache;
    mn_orm *o = qs->o;
    mn_rows *out = mn_arena_calloc(o->arena, 1, sizeof *out);
    if (!out)
        return NULL;
    if (qs->none) {
        qs->cache = out;
        return out;
    }
    mn_qs pinned, *user = qs;
    qs = pin(qs, &pinned);
    if (mn__check_for_update(qs) != 0)
        return NULL;
    sqlq q;
    if (compile_select(qs, &q) != 0)
        return NULL;
    mn_dbresult res;
    if (mn__exec(o, qs_alias(qs, false), q.sql, q.params, q.nparams, &res) != 0)
        return NULL;
    out->items = mn_arena_alloc(o->arena, (res.nrows ? res.nrows : 1) * sizeof *out->items);
    if (!out->items)
        return NULL;
    int rc =
        qs->mode == MODE_OBJECTS ? read_objects(qs, &q, &res, out) : read_values(qs, &q, &res, out);
    if (rc == 0 && qs->rel_fk && qs->rel_obj && qs->mode == MODE_OBJECTS) {
        /* a reverse manager's rows know their parent (Django's known related objects: no
         * query for b.author); only rows that do point at it, a union may bring others */
        mn_arg parent = mn__rel_arg(qs->rel_obj, qs->rel_fk);
        for (size_t i = 0; i < out->len; i++)
            if (mn__arg_eq(mn__fk_arg(out->items[i], qs->rel_fk), parent))
                ((mn_fk *)mn__fptr(out->items[i], qs->rel_fk))->obj = (void *)qs->rel_obj;
    }
    if (rc == 0 && qs->nprefetch && qs->mode == MODE_OBJECTS)
        rc = run_prefetch(qs, out);
    if (rc != 0) {
        if (!o->errcode)
            mn__orm_fail(o, rc, "%s", mn_orm_strerror(rc));
        return NULL;
    }
    user->cache = out;
    return out;
}

int64_t mn_qs_count(mn_qs *qs)
{
    if (!qs)
        return MN_EINVAL;
    mn__where(qs);
    if (qs->cache)
        return (int64_t)qs->cache->len;
    if (qs->none)
        return 0;
    mn_qs pinned;
    qs = pin(qs, &pinned);
    sqlq q;
    int rc = mn__compile(qs, SQL_COUNT, NULL, 0, &q);
    if (rc)
        return rc;
    mn_dbresult res;
    rc = mn__exec(qs->o, qs_alias(qs, false), q.sql, q.params, q.nparams, &res);
    if (rc)
        return rc;
    const mn_dbcell *c = mn_dbresult_cell(&res, 0, 0);
    int64_t n = 0;
    if (c && c->type == MN_DBT_INT)
        n = c->v.i;
    else if (c && c->type == MN_DBT_TEXT)
        mn_str_to_i64(c->v.s, &n);
    return n;
}

int mn_qs_exists(mn_qs *qs)
{
    if (!qs)
        return MN_EINVAL;
    mn__where(qs);
    if (qs->cache)
        return qs->cache->len > 0;
    if (qs->none)
        return 0;
    mn_qs pinned;
    qs = pin(qs, &pinned);
    int rc = mn__check_for_update(qs); /* Django's exists() keeps the lock */
    if (rc)
        return rc;
    sqlq q;
    rc = mn__compile(qs, SQL_EXISTS, NULL, 0, &q);
    if (rc)
        return rc;
    mn_dbresult res;
    rc = mn__exec(qs->o, qs_alias(qs, false), q.sql, q.params, q.nparams, &res);
    return rc ? rc : res.nrows > 0;
}

void *mn_qs_get(mn_qs *qs)
{
    if (!qs)
        return NULL;
    mn_qs *lim = qs, limited;
    if (qs->high < 0 && qs->low == 0) {
        /* A copy on the stack: nothing keeps the limited queryset past this call. */
        limited = *qs;
        limited.cache = NULL;
        lim = &limited;
        lim->high = 21;        /* as Django's MAX_GET_RESULTS */
        lim->order_set = true; /* ordering is pointless for get() */
        lim->norder = 0;
    }
    mn_rows *rows = mn_qs_fetch(lim);
    if (!rows)
        return NULL;
    if (rows->len == 1) {
        mn_orm_clear_error(qs->o);
        return rows->items[0];
    }
    if (rows->len == 0)
        mn__orm_fail(qs->o, MN_EDOES_NOT_EXIST, "%s matching query does not exist.", qs->m->name);
    else
        mn__orm_fail(qs->o, MN_EMULTIPLE, "get() returned more than one %s -- it returned %s%zu!",
                     qs->m->name, rows->len > 20 ? "more than " : "",
                     rows->len > 20 ? (size_t)20 : rows->len);
    return NULL;
}

static void *first_of(mn_qs *qs, bool last)
{
    if (!qs)
        return NULL;
    mn_qs *c = qs;
    /* Django's QuerySet.ordered: an order_by(), else Meta.ordering unless the query groups
     * (an aggregate annotation), where it does not apply */
    bool grouped = false;
    for (size_t i = 0; i < qs->nannots; i++)
        grouped |= mn__has_aggregate(qs->annots[i].expr);
    bool ordered = qs->order_set ? qs->norder > 0 : qs->m->ordering && !grouped;
    if (!ordered) {
        /* values("genre").annotate(n=Count(...)): ordering by the key would split the groups,
         * so Django refuses, unless the key is one of the grouped names */
        size_t ng = 0;
        const char *const *g = mn__qs_group(qs, &ng);
        bool pk_grouped = false;
        for (size_t i = 0; i < ng; i++)
            pk_grouped |= strcmp(g[i], "pk") == 0 || strcmp(g[i], qs->m->pk->name) == 0;
        if (g && !pk_grouped) {
            mn__orm_fail(qs->o, MN_EINVAL,
                         "Cannot use %s() on an unordered queryset with aggregation. Add an "
                         "ordering with order_by().",
                         last ? "last" : "first");
            return NULL;
        }
        c = mn_qs_order_by(qs, "pk");
    }
    if (c && last)
        c = mn_qs_reverse(c);
    if (c)
        c = mn_qs_slice(c, 0, 1);
    mn_rows *rows = mn_qs_fetch(c);
    if (!rows || rows->len == 0)
        return NULL;
    return rows->items[0];
}
void *mn_qs_first(mn_qs *qs)
{
    return first_of(qs, false);
}
void *mn_qs_last(mn_qs *qs)
{
    return first_of(qs, true);
}

static void *latest_of(mn_qs *qs, const char *field, bool latest)
{
    if (!qs)
        return NULL;
    if (!field)
        field = qs->m->get_latest_by;
    if (!field) {
        mn__orm_fail(qs->o, MN_EINVAL,
                     "earliest() and latest() require either fields as positional arguments "
                     "or 'get_latest_by' in the model's Meta.");
        return NULL;
    }
    if (qs->low != 0 || qs->high >= 0) {
        mn__orm_fail(qs->o, MN_EINVAL, "Cannot change a query once a slice has been taken.");
        return NULL;
    }
    const char *ord = field;
    if (latest) { /* latest("a,-b") orders by "-a,b": each field reversed, as Django's */
        mn_buf b;
        mn_buf_init(&b, qs->o->arena);
        for (const char *p = field; *p;) {
            const char *e = strchr(p, ',');
            mn_str t = mn_str_trim((mn_str){p, e ? (size_t)(e - p) : strlen(p)});
            if (t.len)
                mn_buf_printf(&b, "%s%s%.*s", b.len ? "," : "", t.ptr[0] == '-' ? "" : "-",
                              (int)(t.len - (t.ptr[0] == '-')), t.ptr + (t.ptr[0] == '-'));
            p = e ? e + 1 : p + strlen(p);
        }
        ord = mn_buf_cstr(&b);
        if (!ord)
            return NULL;
    }
    return mn_qs_get(mn_qs_slice(mn_qs_order_by(qs, ord), 0, 1));
}
void *mn_qs_latest(mn_qs *qs, const char *f)
{
    return latest_of(qs, f, true);
}
void *mn_qs_earliest(mn_qs *qs, const char *f)
{
    return latest_of(qs, f, false);
}

/* ---- keys to row indexes ----
 * prefetch_related() and in_bulk() match up to hundreds of thousands of rows by key: a hash
 * index keeps that linear (a loop over 70,000 parents per child row is not). Keys compare as
 * mn__arg_eq does: an integer never equals a string, NULL equals nothing. */
typedef struct keyindex {
    const mn_arg *keys;
    size_t *slots; /* 1 + the index of the first key hashed there; 0: empty */
    size_t *next;  /* 1 + the index of the next equal key, in order; 0: none */
    size_t mask;
} keyindex;

static uint64_t key_hash(mn_arg k)
{
    if (k.type == MN_ARG_INT)
        return (uint64_t)k.v.i * 0x9e3779b97f4a7c15ull;
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *p = k.v.s; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return h * 0x9e3779b97f4a7c15ull;
}

static bool is_key(mn_arg k)
{
    return k.type == MN_ARG_INT || (k.type == MN_ARG_STR && k.v.s);
}

/* The slot of k: the one holding an equal key, else the empty one where it goes. */
static size_t key_slot(const keyindex *x, mn_arg k)
{
    for (size_t i = (size_t)(key_hash(k) >> 32) & x->mask;; i = (i + 1) & x->mask)
        if (!x->slots[i] || mn__arg_eq(x->keys[x->slots[i] - 1], k))
            return i;
}

/* Indexes keys[0..n) (the array must outlive x). 0 or MN_ENOMEM. */
static int keyindex_build(mn_orm *o, keyindex *x, const mn_arg *keys, size_t n)
{
    size_t ns = 16;
    while (ns < 2 * n)
        ns *= 2;
    x->keys = keys;
    x->mask = ns - 1;
    x->slots = mn_arena_calloc(o->arena, ns, sizeof *x->slots);
    x->next = mn_arena_calloc(o->arena, n ? n : 1, sizeof *x->next);
    if (!x->slots || !x->next)
        return MN_ENOMEM;
    for (size_t i = n; i-- > 0;) { /* backwards, so each chain runs in key order */
        if (!is_key(keys[i]))
            continue;
        size_t s = key_slot(x, keys[i]);
        x->next[i] = x->slots[s];
        x->slots[s] = i + 1;
    }
    return 0;
}

/* 1 + the index of the first key equal to k (x->next[i] gives the next), or 0. */
static size_t keyindex_first(const keyindex *x, mn_arg k)
{
    return is_key(k) ? x->slots[key_slot(x, k)] : 0;
}

static mn_value *in_bulk(mn_qs *qs, const mn_arg *keys)
{
    mn_orm *o = qs->o;
    /* rows of values() are no instances (reading them as such crashed): refused as Django */
    if (qs->mode != MODE_OBJECTS) {
        mn__orm_fail(o, MN_EINVAL, "in_bulk() cannot be used with values() or values_list().");
        return NULL;
    }
    if (qs->low != 0 || qs->high >= 0) {
        mn__orm_fail(o, MN_EINVAL, "Cannot use 'limit' or 'offset' with in_bulk().");
        return NULL;
    }
    mn_qs *c = keys ? mn_qs_filter_kv(qs, &(mn_kv){"pk__in", *keys}, 1) : qs;
    mn_rows *rows = mn_qs_fetch(c);
    if (!rows)
        return NULL;
    mn_value *d = mn_value_dict(o->arena, rows->len);
    if (!d)
        return NULL;
    /* {obj.pk: obj for obj in qs}: a repeated key keeps its first place and its last row;
     * the dict hashes its keys once large, so this stays linear */
    for (size_t i = 0; i < rows->len; i++) {
        const char *key = mn_obj_pk_text(o, rows->items[i]);
        mn_value *v = mn_obj_value(o, rows->items[i]);
        if (!key || !v || mn_value_dict_set_cstr(o->arena, d, key, v))
            return NULL;
    }
    return d;
}

mn_value *mn_qs_in_bulk(mn_qs *qs, const int64_t *pks, size_t n)
{
    if (!qs)
        return NULL;
    mn_arg keys = mn_arg_ints(pks, n, qs->o->arena);
    return in_bulk(qs, pks ? &keys : NULL);
}

mn_value *mn_qs_in_bulk_strs(mn_qs *qs, const char *const *pks, size_t n)
{
    if (!qs)
        return NULL;
    mn_arg keys = mn_arg_strs(pks, n, qs->o->arena);
    return in_bulk(qs, pks ? &keys : NULL);
}

mn_value *mn_qs_aggregate(mn_qs *qs, const char *name, const mn_expr *e)
{
    if (!qs || !e)
        return NULL;
    if (e->kind != E_AGG) {
        mn__orm_fail(qs->o, MN_EINVAL, "%s is not an aggregate expression", name);
        return NULL;
    }
    sqlq q;
    mn__where(qs);
    mn_qs pinned;
    qs = pin(qs, &pinned);
    if (mn__compile_aggregate(qs, &name, &e, 1, &q) != 0)
        return NULL;
    mn_dbresult res;
    if (mn__exec(qs->o, qs_alias(qs, false), q.sql, q.params, q.nparams, &res) != 0)
        return NULL;
    mn_value *d = mn_value_dict(qs->o->arena, 1);
    const mn_dbcell *c = mn_dbresult_cell(&res, 0, 0);
    mn_dbcell null_cell = {.type = MN_DBT_NULL};
    mn_value *v = expr_value(qs->o, qs, e, c ? c : &null_cell);
    if (!d || !v || mn_value_dict_set_cstr(qs->o->arena, d, name, v) != 0)
        return NULL;
    return d;
}

/* ---- iterator() ---- */
/* Whether the session still holds c: a statement of fn that lost the connection gives it
 * back (mn__exec), ending the cursors open on it (their handles stay, with no connection). */
static bool holds_conn(const mn_orm *o, const mn_dbconn *c)
{
    for (size_t i = 0; i < o->ndbs; i++)
        if (o->conns[i] == c)
            return true;
    return false;
}

/* A failed open or fetch, as mn__exec reports a failed statement: the message, the atomic
 * block marked for rollback (on the default database), a lost connection given back. */
static int iter_fail(mn_orm *o, const char *alias, mn_dbconn *c, int rc)
{
    mn__orm_fail(o, rc, "%s", *mn_dbconn_errmsg(c) ? mn_dbconn_errmsg(c) : mn_db_strerror(rc));
    int db = mn__db_index(o, alias);
    if (mn__in_block(o, db))
        o->txn[db].needs_rollback = rc;
    return rc;
}

/* One chunk: its rows (and for objects, the prefetches of those rows, as Django 4.1+) built
 * in the chunk's arena, then fn on each row with the session's own arena back in place, so
 * what fn's queries keep (the transaction's on_commit list, the N+1 counts) outlives the
 * chunk. */
static int iter_chunk(mn_qs *qs, const sqlq *q, const mn_dbresult *res, mn_arena *chunk_arena,
                      int (*fn)(void *row, void *user), void *user)
{
    mn_orm *o = qs->o;
    mn_arena *saved = o->arena;
    o->arena = chunk_arena;
    mn_rows rows = {mn_arena_alloc(chunk_arena, res->nrows * sizeof(void *)), 0};
    int rc = !rows.items                ? MN_ENOMEM
             : qs->mode == MODE_OBJECTS ? read_objects(qs, q, res, &rows)
                                        : read_values(qs, q, res, &rows);
    if (rc == 0 && qs->nprefetch && qs->mode == MODE_OBJECTS) {
        /* the same prefetch statements per chunk are no N+1 pattern: not counted */
        int threshold = o->repeat_threshold;
        o->repeat_threshold = 0;
        rc = run_prefetch(qs, &rows);
        o->repeat_threshold = threshold;
    }
    o->arena = saved;
    if (rc) {
        if (!o->errcode)
            mn__orm_fail(o, rc, "%s", mn_orm_strerror(rc));
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < rows.len; i++)
        rc = fn(rows.items[i], user);
    return rc;
}

int mn_qs_iterator(mn_qs *qs, size_t chunk, int (*fn)(void *row, void *user), void *user)
{
    if (!qs || !fn)
        return MN_EINVAL;
    mn_orm *o = qs->o;
    mn__where(qs);
    if (qs->none)
        return 0;
    mn_qs pinned; /* for the whole iteration: every chunk's rows are from that database */
    qs = pin(qs, &pinned);
    const char *alias = qs_alias(qs, false);
    /* as any query in an atomic block where a statement failed (mn__exec) */
    int db = mn__db_index(o, alias);
    if (mn__block_marked(o, db))
        return mn__txn_refuse(o, db);
    int rc = mn__check_for_update(qs);
    if (rc)
        return rc;
    if (chunk == 0)
        chunk = 2000; /* Django's default chunk_size */
    sqlq q;
    rc = mn__compile(qs, SQL_SELECT, NULL, 0, &q);
    if (rc)
        return rc;
    mn_dbconn *c = mn_orm_conn(o, alias);
    if (!c)
        return o->errcode ? o->errcode : MN_EDB_OPERATIONAL;
    /* a handle of its own (malloc'ed, not in the session's arena: a nested iterator runs
     * once per outer row), so iterators nest as in Django */
    mn_dbcursor *cur = NULL;
    rc = mn_dbconn_cursor_open(c, NULL, q.sql, q.params, q.nparams, &cur);
    if (rc)
        return iter_fail(o, alias, c, rc);
    mn_arena *chunk_arena = mn_arena_new(0);
    if (!chunk_arena) {
        mn_dbcursor_close(cur);
        return mn__orm_fail(o, MN_ENOMEM, "out of memory");
    }
    for (;;) {
        mn_arena_reset(chunk_arena); /* the previous chunk's rows, prefetches and results */
        mn_dbresult res;
        rc = mn_dbcursor_fetch(cur, chunk_arena, chunk, &res);
        if (rc) {
            iter_fail(o, alias, c, rc);
            break;
        }
        if (res.nrows > 0)
            rc = iter_chunk(qs, &q, &res, chunk_arena, fn, user);
        /* fn's statement lost the connection: the cursor went with it (a connection
         * acquired since may even sit at the same address: the handle knows) */
        if (!mn_dbcursor_conn(cur) || !holds_conn(o, c)) {
            c = NULL;
            if (rc == 0)
                rc = mn__orm_fail(o, MN_EDB_OPERATIONAL,
                                  "the connection was lost during iterator()");
            break;
        }
        if (rc || res.nrows < chunk)
            break;
        /* a statement of fn failed in the atomic block: no more fetches, as no more queries */
        if (mn__block_marked(o, db)) {
            rc = mn__txn_refuse(o, db);
            break;
        }
    }
    mn_dbcursor_close(cur);
    if (c) {
        if (c->broken && !mn__in_block(o, db)) { /* as mn__exec: the next query reconnects */
            for (size_t i = 0; i < o->ndbs; i++)
                if (o->conns[i] == c)
                    o->conns[i] = NULL;
            mn_db_release(c);
        }
    }
    mn_arena_free(chunk_arena);
    return rc;
}

/* ---- prefetch_related ---- */
static obj_extra *extra_of(mn_orm *o, void *obj)
{
    mn_obj *h = obj;
    if (!h->extra)
        h->extra = mn_arena_calloc(o->arena, 1, sizeof(obj_extra));
    return h->extra;
}

static int cache_rows(mn_orm *o, void *obj, const char *accessor, mn_rows *rows)
{
    obj_extra *x = extra_of(o, obj);
    struct pcache *p = x ? mn_arena_alloc(o->arena, sizeof *p) : NULL;
    if (!p)
        return MN_ENOMEM;
    p->accessor = accessor;
    p->rows = rows;
    p->next = x->prefetched;
    x->prefetched = p;
    return 0;
}

mn_rows *mn__prefetched(const void *obj, const char *accessor)
{
    const mn_obj *h = obj;
    const obj_extra *x = h->extra;
    for (const struct pcache *p = x ? x->prefetched : NULL; p; p = p->next)
        if (strcmp(p->accessor, accessor) == 0)
            return p->rows;
    return NULL;
}

static int append_row(mn_orm *o, mn_rows *r, void *item)
{
    /* rows grow by doubling; capacity is the next power of two >= len */
    size_t cap = 1;
    while (cap < r->len)
        cap *= 2;
    if (r->len == 0 || r->len == cap) {
        size_t ncap = r->len ? r->len * 2 : 4;
        void **n =
            mn_arena_realloc(o->arena, r->items, (r->len ? cap : 0) * sizeof *n, ncap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        r->items = n;
    }
    r->items[r->len++] = item;
    return 0;
}

/* The next levels of the nested prefetches of qs whose first level is acc (path `from` and
 * the later ones), at once on every object that level loaded: "books__tags" and
 * "books__reviews" prefetch tags and reviews on the same books. A path's queryset and
 * to_attr belong to its last level. */
static int prefetch_nested(mn_orm *o, const mn_model *m, mn_qs *qs, size_t from, const char *acc,
                           mn_rows *objs)
{
    mn_qs *tmp = mn_qs_all(o, m);
    size_t n = strlen(acc);
    for (size_t q = from; tmp && q < qs->nprefetch; q++) {
        const char *path = qs->prefetch[q].path, *dd = strstr(path, "__");
        if (dd && (size_t)(dd - path) == n && strncmp(path, acc, n) == 0)
            tmp = mn_qs_prefetch_to_attr(tmp, dd + 2, qs->prefetch[q].custom,
                                         qs->prefetch[q].to_attr);
    }
    if (!tmp)
        return o->errcode ? o->errcode : MN_ENOMEM;
    return tmp->nprefetch ? run_prefetch(tmp, objs) : 0;
}

static int run_prefetch(mn_qs *qs, mn_rows *rows)
{
    mn_orm *o = qs->o;
    int rc_nested;
    if (rows->len == 0)
        return 0;
    mn_arg *pks = mn_arena_alloc(o->arena, rows->len * sizeof *pks);
    if (!pks)
        return MN_ENOMEM;
    for (size_t i = 0; i < rows->len; i++)
        pks[i] = mn__pk_arg(rows->items[i]);
    keyindex owners = {0}; /* pks, indexed by the first relation that needs it */
    /* The first levels fetched so far (not into a to_attr): each is fetched once and the
     * paths below it go on together ("books", "books__tags" and "books__reviews" fetch the
     * books once), as Django's done_queries. */
    const char **done = mn_arena_alloc(o->arena, qs->nprefetch * sizeof *done);
    size_t ndone = 0;
    if (!done)
        return MN_ENOMEM;
    for (size_t p = 0; p < qs->nprefetch; p++) {
        /* "books__tags": prefetch books here, then tags on all those books at once */
        const char *path = qs->prefetch[p].path;
        const char *dd = strstr(path, "__");
        const char *acc = dd ? mn_arena_strndup(o->arena, path, (size_t)(dd - path)) : path;
        const char *rest = dd ? dd + 2 : NULL;
        mn_qs *custom = rest ? NULL : qs->prefetch[p].custom;
        const char *to_attr = rest ? NULL : qs->prefetch[p].to_attr;
        if (!acc)
            return MN_ENOMEM;
        bool again = false;
        for (size_t k = 0; k < ndone && !to_attr && !custom; k++)
            again |= strcmp(done[k], acc) == 0;
        if (again) /* fetched, and this path's next levels with it */
            continue;
        mn_rows gathered = {NULL, 0};
        const mn_model *next_model = NULL;
        const revrel *r = mn__revrel(qs->m, acc, strlen(acc), true);
        const mn_fielddef *f = r ? NULL : mn__field(qs->m, acc, strlen(acc));
        if (!r && !f)
            return mn__orm_fail(o, MN_EFIELD,
                                "Cannot find '%s' on %s object, '%s' is an invalid parameter to "
                                "prefetch_related()",
                                acc, qs->m->name, acc);
        if (f && (f->type == MN_FK || f->type == MN_O2O)) {
            mn_arg *ids = mn_arena_alloc(o->arena, rows->len * sizeof *ids);
            if (!ids)
                return MN_ENOMEM;
            size_t nids = 0;
            for (size_t i = 0; i < rows->len; i++)
                if (!mn__is_null(rows->items[i], f))
                    ids[nids++] = mn__fk_arg(rows->items[i], f);
            /* each key once, as Django's set of instance keys */
            keyindex x;
            if (keyindex_build(o, &x, ids, nids) != 0)
                return MN_ENOMEM;
            mn_arg *uniq = mn_arena_alloc(o->arena, (nids ? nids : 1) * sizeof *uniq);
            if (!uniq)
                return MN_ENOMEM;
            size_t nuniq = 0;
            for (size_t i = 0; i < nids; i++)
                if (keyindex_first(&x, ids[i]) == i + 1)
                    uniq[nuniq++] = ids[i];
            /* as Django: routed with the first instance as the hint, so on its database */
            mn_qs *rq = mn__qs_hint(custom ? custom : mn_qs_all(o, f->rel_model), rows->items[0]);
            const char *in = f->to_field ? mn_arena_printf(o->arena, "%s__in", f->to_field)
                                         : "pk__in"; /* the target field the column holds */
            mn_rows *rel =
                in ? mn_qs_fetch(mn_qs_filter_kv(rq, &(mn_kv){in, mn_arg_list(uniq, nuniq)}, 1))
                   : NULL;
            if (!rel)
                return o->errcode ? o->errcode : MN_ENOMEM; /* (no "in": out of memory) */
            mn_arg *rks = mn_arena_alloc(o->arena, (rel->len ? rel->len : 1) * sizeof *rks);
            if (!rks)
                return MN_ENOMEM;
            for (size_t k = 0; k < rel->len; k++)
                rks[k] = mn__rel_arg(rel->items[k], f);
            if (keyindex_build(o, &x, rks, rel->len) != 0)
                return MN_ENOMEM;
            for (size_t i = 0; i < rows->len; i++) {
                size_t k = mn__is_null(rows->items[i], f)
                               ? 0
                               : keyindex_first(&x, mn__fk_arg(rows->items[i], f));
                if (to_attr) { /* the instance, or none, in to_attr; the relation untouched */
                    mn_rows *one = mn_arena_calloc(o->arena, 1, sizeof *one);
                    if (!one || (k && append_row(o, one, rel->items[k - 1]) != 0) ||
                        cache_rows(o, rows->items[i], to_attr, one) != 0)
                        return MN_ENOMEM;
                } else if (k) {
                    ((mn_fk *)mn__fptr(rows->items[i], f))->obj = rel->items[k - 1];
                }
            }
            gathered = *rel;
            next_model = f->rel_model;
            if (!to_attr)
                done[ndone++] = acc;
            if ((rc_nested = prefetch_nested(o, next_model, qs, p, acc, &gathered)) != 0)
                return rc_nested;
            continue;
        }
        const mn_model *target;
        const char *back; /* the lookup from the target back to us */
        if (r) {
            target = r->from;
            back = r->field->type == MN_M2M ? r->field->name : r->field->name;
        } else if (f && f->type == MN_M2M) {
            target = f->rel_model;
            const revrel *rr = NULL;
            for (rr = mrt(target)->reverse; rr; rr = rr->next)
                if (rr->field == f)
                    break;
            if (!rr)
                return mn__orm_fail(o, MN_EUNSUPPORTED,
                                    "prefetch_related('%s') needs a reverse name on %s", acc,
                                    target->name);
            back = rr->query_name;
        } else {
            return mn__orm_fail(o, MN_EFIELD, "'%s' does not refer to a relation of %s", acc,
                                qs->m->name);
        }
        /* A sliced custom queryset slices each instance's rows, as Django 4.2+ does with a
         * window function (compile.c, struct mn_qs's window_by), so only those rows are
         * read. Where the window does not fit (DISTINCT, whose rows the numbering would
         * make distinct; GROUP BY; FOR UPDATE, which PostgreSQL refuses with a window),
         * the rows are fetched whole (in its ordering) and cut per instance below. */
        int64_t low = 0, high = -1;
        bool in_sql = false;
        if (custom && (custom->low > 0 || custom->high >= 0)) {
            low = custom->low;
            high = custom->high;
            in_sql = !custom->distinct && !custom->for_update;
            for (size_t i = 0; in_sql && i < custom->nannots; i++)
                in_sql = !mn__has_aggregate(custom->annots[i].expr);
            if (!(custom = mn__qs_clone(custom)))
                return MN_ENOMEM;
            custom->low = 0;
            custom->high = -1;
        }
        mn_qs *rq = mn__qs_hint(custom ? custom : mn_qs_all(o, target), rows->items[0]);
        char *in = mn_arena_printf(o->arena, "%s__in", back);
        char *ann = "_prefetch_related_val";
        mn_arg *keys = pks; /* what the reverse FK's column holds: our pk, or its to_field */
        keyindex by_field = {0}, *own = &owners;
        if (r && r->field->to_field) {
            keys = mn_arena_alloc(o->arena, rows->len * sizeof *keys);
            if (!keys)
                return MN_ENOMEM;
            for (size_t i = 0; i < rows->len; i++)
                keys[i] = mn__rel_arg(rows->items[i], r->field);
            if (keyindex_build(o, &by_field, keys, rows->len) != 0)
                return MN_ENOMEM;
            own = &by_field;
        }
        rq = mn__qs_filter_sticky(rq, &(mn_kv){in, mn_arg_list(keys, rows->len)}, 1);
        rq = mn_qs_annotate(rq, ann, mn_F(o, back));
        if (rq && in_sql) {
            rq->low = low;
            rq->high = high;
            rq->window_by = ann;
            low = 0, high = -1; /* nothing left to cut */
        }
        mn_rows *rel = mn_qs_fetch(rq);
        if (!rel)
            return o->errcode ? o->errcode : MN_EINVAL;
        mn_rows *per = mn_arena_calloc(o->arena, rows->len, sizeof *per);
        if (!per)
            return MN_ENOMEM;
        if (!own->slots && keyindex_build(o, own, pks, rows->len) != 0)
            return MN_ENOMEM;
        int64_t *seen = NULL; /* per instance: its rows met so far, for a slice */
        if ((low > 0 || high >= 0) && !(seen = mn_arena_calloc(o->arena, rows->len, sizeof *seen)))
            return MN_ENOMEM;
        for (size_t k = 0; k < rel->len; k++) {
            mn_arg owner = mn__value_arg(o->arena, mn_obj_annotation(rel->items[k], ann));
            for (size_t i = keyindex_first(own, owner); i; i = own->next[i - 1]) {
                if (seen) {
                    int64_t pos = seen[i - 1]++;
                    if (pos < low || (high >= 0 && pos >= high))
                        continue;
                }
                if (append_row(o, &per[i - 1], rel->items[k]) != 0)
                    return MN_ENOMEM;
                /* a reverse foreign key's row knows its owner, as Django's prefetch sets it */
                if (r && r->field->type == MN_FK && rq->mode == MODE_OBJECTS)
                    ((mn_fk *)mn__fptr(rel->items[k], r->field))->obj = rows->items[i - 1];
            }
        }
        for (size_t i = 0; i < rows->len; i++)
            if (cache_rows(o, rows->items[i], to_attr ? to_attr : acc, &per[i]) != 0)
                return MN_ENOMEM;
        if (!to_attr)
            done[ndone++] = acc;
        if ((rc_nested = prefetch_nested(o, target, qs, p, acc, rel)) != 0)
            return rc_nested;
    }
    return 0;
}

mn_rows *mn_obj_prefetched(const void *obj, const char *to_attr)
{
    return obj && to_attr ? mn__prefetched(obj, to_attr) : NULL;
}

mn_value *mn_obj_annotation(const void *obj, const char *name)
{
    const mn_obj *h = obj;
    const obj_extra *x = h ? h->extra : NULL;
    for (size_t i = 0; x && i < x->n; i++)
        if (strcmp(x->names[i], name) == 0)
            return x->values[i];
    return NULL;
}

/* ---- raw SQL ---- */
mn_rows *mn_raw(mn_orm *o, const mn_model *m, const char *sql, const mn_arg *params, size_t n)
{
    if (mn__ready(o) != 0)
        return NULL;
    if (!m || !sql) { /* raw() maps rows to a model's fields: Django's Manager.raw */
        mn__orm_fail(o, MN_EINVAL, "raw() needs %s; run other SQL on mn_orm_conn()'s connection",
                     m ? "the SQL text" : "a model to map the rows to");
        return NULL;
    }
    const char *alias = mn__route(o, m, false, NULL); /* Django: raw() reads on self.db */
    mn_dbdialect d = mn__dialect(o, alias);
    mn_buf b;
    mn_buf_init(&b, o->arena);
    size_t k = 0;
    for (const char *p = sql; *p; p++) {
        if (p[0] == '%' && p[1] == 's') {
            mn__placeholder(&b, d, ++k);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            mn_buf_putc(&b, '%');
            p++;
        } else {
            mn_buf_putc(&b, *p);
        }
    }
    if (k != n) {
        mn__orm_fail(o, MN_EINVAL,
                     "raw(): the query has %zu %%s placeholders, %zu parameters given", k, n);
        return NULL;
    }
    mn_dbparam *ps = mn_arena_alloc(o->arena, (n ? n : 1) * sizeof *ps);
    for (size_t i = 0; ps && i < n; i++) {
        mn_arg a = params[i];
        switch (a.type) {
        case MN_ARG_NULL: ps[i] = mn_dbp_null(); break;
        case MN_ARG_INT: ps[i] = mn_dbp_int(a.v.i); break;
        case MN_ARG_FLOAT: ps[i] = mn_dbp_float(a.v.f); break;
        case MN_ARG_BOOL: ps[i] = mn_dbp_bool(a.v.b); break;
        case MN_ARG_STR: ps[i] = mn_dbp_text(a.v.s); break;
        case MN_ARG_INSTANCE: {
            mn_arg key = mn__pk_arg(a.v.obj);
            ps[i] = key.type == MN_ARG_INT   ? mn_dbp_int(key.v.i)
                    : key.type == MN_ARG_STR ? mn_dbp_text(key.v.s)
                                             : mn_dbp_null();
            break;
        }
        case MN_ARG_DATETIME: {
            /* as the database adapters take Python's date and datetime: a naive value at
             * midnight is a date ("2020-01-01"), any other a datetime (aware ones in UTC) */
            const mn_datetime *dt = a.v.dt;
            bool date = !dt->aware && !dt->hour && !dt->minute && !dt->second && !dt->microsecond;
            char tb[80];
            if (mn__format_datetime(dt, date ? MN_DATE : MN_DATETIME, d, tb, sizeof tb) < 0) {
                mn__orm_fail(o, MN_EINVAL, "raw(): parameter %zu is no valid date", i + 1);
                return NULL;
            }
            ps[i] = mn_dbp_text(mn_arena_strdup(o->arena, tb));
            break;
        }
        case MN_ARG_BYTES: ps[i] = mn_dbp_blob(a.v.bytes.ptr, a.v.bytes.len); break;
        default: mn__orm_fail(o, MN_EINVAL, "raw(): unsupported parameter %zu", i + 1); return NULL;
        }
    }
    mn_dbresult res;
    if (!mn_buf_cstr(&b) || mn__exec(o, alias, b.data, ps, n, &res) != 0)
        return NULL;
    const char *db = mn__db_name(o, alias);
    mn_rows *out = mn_arena_calloc(o->arena, 1, sizeof *out);
    out->items = mn_arena_alloc(o->arena, (res.nrows ? res.nrows : 1) * sizeof(void *));
    const mn_fielddef **map = mn_arena_calloc(o->arena, res.ncols + 1, sizeof *map);
    if (!out->items || !map)
        return NULL;
    for (size_t c = 0; c < res.ncols; c++)
        for (size_t i = 0; i < m->nfields; i++)
            if (mn__has_column(&m->fields[i]) &&
                mn_str_eq_cstr(res.colnames[c], m->fields[i].column))
                map[c] = &m->fields[i];
    /* the fields with a column the query did not select are deferred (loaded on first read,
     * by primary key), so the key must be there: Django checks the columns, rows or not */
    uint64_t deferred = 0;
    for (size_t i = 0; i < m->nfields; i++)
        if (mn__has_column(&m->fields[i]))
            deferred |= UINT64_C(1) << i;
    for (size_t c = 0; c < res.ncols; c++)
        if (map[c])
            deferred &= ~(UINT64_C(1) << map[c]->index);
    if (deferred & (UINT64_C(1) << m->pk->index)) {
        mn__orm_fail(o, MN_EFIELD, "Raw query must include the primary key");
        return NULL;
    }
    for (size_t r = 0; r < res.nrows; r++) {
        mn_obj *obj = new_instance(o, m);
        if (!obj)
            return NULL;
        obj->db = db;
        obj->deferred = deferred;
        obj_extra *x = NULL;
        for (size_t c = 0; c < res.ncols; c++) {
            const mn_dbcell *cell = &res.cells[r * res.ncols + c];
            if (map[c]) {
                mn__cell_store(o, obj, map[c], cell, d);
            } else { /* extra columns become annotations, as Django's raw() */
                if (!x) {
                    x = mn_arena_calloc(o->arena, 1, sizeof *x);
                    x->names = mn_arena_alloc(o->arena, res.ncols * sizeof *x->names);
                    x->values = mn_arena_alloc(o->arena, res.ncols * sizeof *x->values);
                    obj->extra = x;
                }
                x->names[x->n] = res.colnames[c].ptr;
                x->values[x->n++] = mn__cell_value(o, NULL, cell, d);
            }
        }
        out->items[out->len++] = obj;
    }
    return out;
}

mn_value *mn_field_from_db(mn_orm *o, const mn_fielddef *f, const mn_dbcell *c)
{
    return mn_field_from_db_using(o, NULL, f, c);
}

mn_value *mn_field_from_db_using(mn_orm *o, const char *alias, const mn_fielddef *f,
                                 const mn_dbcell *c)
{
    if (!o || !c)
        return NULL;
    if (alias && !mn_orm_db(o, alias)) { /* mn__dialect would take it for SQLite */
        mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session", alias);
        return NULL;
    }
    return mn__cell_value(o, f, c, mn__dialect(o, alias));
}

const char *mn_qs_explain(mn_qs *qs)
{
    if (!qs)
        return NULL;
    mn_qs pinned;
    qs = pin(qs, &pinned);
    sqlq q; /* EXPLAIN of a locking query is one too (Django checks it the same way) */
    if (mn__check_for_update(qs) != 0 || mn__compile(qs, SQL_SELECT, NULL, 0, &q) != 0)
        return NULL;
    bool pg = mn__qs_dialect(qs) == MN_DIALECT_POSTGRESQL;
    const char *sql =
        mn_arena_printf(qs->o->arena, "%s %s", pg ? "EXPLAIN" : "EXPLAIN QUERY PLAN", q.sql);
    mn_dbresult res;
    if (!sql || mn__exec(qs->o, qs_alias(qs, false), sql, q.params, q.nparams, &res) != 0)
        return NULL;
    mn_buf b;
    mn_buf_init(&b, qs->o->arena);
    /* a row per line, its columns joined by spaces as Django flattens them: SQLite's
     * "2 0 0 SCAN library_book" (id, parent, notused, detail), PostgreSQL's one text */
    for (size_t r = 0; r < res.nrows; r++) {
        if (r)
            mn_buf_putc(&b, '\n');
        for (size_t k = 0; k < res.ncols; k++) {
            const mn_dbcell *c = mn_dbresult_cell(&res, r, k);
            if (k)
                mn_buf_putc(&b, ' ');
            if (c && c->type == MN_DBT_INT)
                mn_buf_printf(&b, "%lld", (long long)c->v.i);
            else if (c && c->type == MN_DBT_TEXT)
                mn_buf_append(&b, c->v.s.ptr, c->v.s.len);
        }
    }
    return mn_buf_cstr(&b);
}
