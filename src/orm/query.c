/* query.c — building querysets, Q objects and expressions. Nothing here touches the
 * database: every chained call copies the queryset (a few pointers) and adds one thing, so a
 * queryset can be shared and refined without surprises, as Django's clone-per-call. */
#include "compile.h" /* mn__check_names */

static mn_arg copy_arg(mn_orm *o, mn_arg a)
{
    if (a.type == MN_ARG_LIST) {
        mn_arg *l = mn_arena_alloc(o->arena, (a.v.list.n ? a.v.list.n : 1) * sizeof *l);
        if (!l)
            return mn_arg_null();
        for (size_t i = 0; i < a.v.list.n; i++)
            l[i] = copy_arg(o, a.v.list.items[i]);
        a.v.list.items = l;
    }
    return a;
}

static mn_q *leaf(mn_orm *o, const char *lookup, mn_arg v)
{
    mn_q *q = mn_arena_calloc(o->arena, 1, sizeof *q);
    if (!q)
        return NULL;
    q->kind = Q_LEAF;
    q->lookup = lookup;
    q->value = copy_arg(o, v);
    return q;
}

static mn_q *node(mn_orm *o, qkind k, const mn_q *a, const mn_q *b)
{
    if (!a || (k != Q_NOT && !b))
        return NULL;
    mn_q *q = mn_arena_calloc(o->arena, 1, sizeof *q);
    if (!q)
        return NULL;
    q->kind = k;
    q->a = a;
    q->b = b;
    return q;
}

mn_q *mn_Q_kv(mn_orm *o, const mn_kv *kv, size_t n)
{
    mn_q *acc = NULL;
    for (size_t i = 0; i < n; i++) {
        mn_q *l = leaf(o, kv[i].key, kv[i].value);
        if (!l)
            return NULL;
        acc = acc ? node(o, Q_AND, acc, l) : l;
        if (!acc)
            return NULL;
    }
    if (!acc) { /* Q() matches everything */
        acc = mn_arena_calloc(o->arena, 1, sizeof *acc);
        if (acc)
            acc->kind = Q_AND;
    }
    return acc;
}
mn_q *mn_q_and(mn_orm *o, const mn_q *a, const mn_q *b)
{
    return node(o, Q_AND, a, b);
}
mn_q *mn_q_or(mn_orm *o, const mn_q *a, const mn_q *b)
{
    return node(o, Q_OR, a, b);
}
mn_q *mn_q_not(mn_orm *o, const mn_q *a)
{
    return node(o, Q_NOT, a, NULL);
}

/* ---- expressions ---- */
static mn_expr *expr(mn_orm *o, ekind k)
{
    mn_expr *e = mn_arena_calloc(o->arena, 1, sizeof *e);
    if (e)
        e->kind = k;
    return e;
}

mn_expr *mn_F(mn_orm *o, const char *path)
{
    mn_expr *e = expr(o, E_FIELD);
    if (e)
        e->path = mn_arena_strdup(o->arena, path);
    return e && e->path ? e : NULL; /* out of memory: no half-built expression */
}

mn_expr *mn_V(mn_orm *o, mn_arg v)
{
    mn_expr *e = expr(o, E_VALUE);
    if (e)
        e->value = copy_arg(o, v);
    return e;
}

mn_expr *mn_expr_op(mn_orm *o, char op, const mn_expr *a, const mn_expr *b)
{
    if (!a || !b || !strchr("+-*/%", op)) {
        mn__orm_fail(o, MN_EINVAL, "invalid expression operator '%c'", op);
        return NULL;
    }
    mn_expr *e = expr(o, E_OP);
    if (e) {
        e->op = op;
        e->a = a;
        e->b = b;
    }
    return e;
}

mn_expr *mn_F_add(mn_orm *o, const char *path, int64_t n)
{
    return mn_expr_op(o, '+', mn_F(o, path), mn_V(o, mn_arg_int(n)));
}

static mn_expr *agg(mn_orm *o, aggfn fn, const char *path, bool distinct, const mn_q *filter)
{
    mn_expr *e = expr(o, E_AGG);
    if (e) {
        e->agg = fn;
        e->path = path ? mn_arena_strdup(o->arena, path) : "*";
        e->distinct = distinct;
        e->filter = filter;
    }
    return e && e->path ? e : NULL;
}
mn_expr *mn_Count(mn_orm *o, const char *p, bool distinct, const mn_q *filter)
{
    return agg(o, AGG_COUNT, p, distinct, filter);
}
mn_expr *mn_Sum(mn_orm *o, const char *p, const mn_q *f)
{
    return agg(o, AGG_SUM, p, false, f);
}
mn_expr *mn_Avg(mn_orm *o, const char *p, const mn_q *f)
{
    return agg(o, AGG_AVG, p, false, f);
}
mn_expr *mn_Min(mn_orm *o, const char *p, const mn_q *f)
{
    return agg(o, AGG_MIN, p, false, f);
}
mn_expr *mn_Max(mn_orm *o, const char *p, const mn_q *f)
{
    return agg(o, AGG_MAX, p, false, f);
}
mn_expr *mn_agg_default(mn_orm *o, const mn_expr *a, mn_arg value)
{
    if (!o || !a)
        return NULL;
    if (a->kind != E_AGG || a->agg == AGG_COUNT) {
        mn__orm_fail(o, MN_EINVAL,
                     a->kind == E_AGG ? "Count does not allow default."
                                      : "default= needs an aggregate expression");
        return NULL;
    }
    mn_expr *e = expr(o, E_AGG);
    if (!e)
        return NULL;
    *e = *a;
    e->value = value;
    e->has_default = true;
    return e;
}

/* ---- querysets ---- */
mn_qs *mn_qs_all(mn_orm *o, const mn_model *m)
{
    if (!o || !m || mn__ready(o) != 0)
        return NULL;
    if (m->abstract) {
        mn__orm_fail(o, MN_EINVAL, "%s is abstract: it cannot be queried", m->name);
        return NULL;
    }
    mn_qs *qs = mn_arena_calloc(o->arena, 1, sizeof *qs);
    if (!qs)
        return NULL;
    qs->o = o;
    qs->m = m;
    qs->high = -1;
    return qs;
}

mn_qs *mn_qs_all_at(mn_orm *o, const mn_model *m, const char *file, int line)
{
    mn_qs *qs = mn_qs_all(o, m);
    if (qs) {
        qs->file = file;
        qs->line = line;
    }
    return qs;
}

mn_qs *mn_qs_none(mn_orm *o, const mn_model *m)
{
    mn_qs *qs = mn_qs_all(o, m);
    if (qs)
        qs->none = true;
    return qs;
}

mn_qs *mn__qs_clone(mn_qs *qs)
{
    if (!qs)
        return NULL;
    mn_qs *c = mn_arena_alloc(qs->o->arena, sizeof *c);
    if (!c)
        return NULL;
    *c = *qs;
    c->cache = NULL;
    return c;
}

static mn_qs *add_where(mn_qs *qs, const mn_q *q)
{
    if (!qs || !q)
        return NULL;
    if (qs->low != 0 || qs->high >= 0) {
        mn__orm_fail(qs->o, MN_EINVAL, "Cannot filter a query once a slice has been taken.");
        return NULL;
    }
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    const mn_q *before = c->where;
    if (!before && c->nannots)
        /* filter() after annotate(): its own joins, not the annotation's (Django's "order of
         * annotate() and filter() clauses"); Q() stands for the filters before it */
        before = mn_Q_kv(qs->o, NULL, 0);
    if (before) {
        mn_q *chain = (mn_q *)mn_q_and(qs->o, before, q);
        if (chain)
            chain->lookup = mn__filter_chain; /* a new filter() call: fresh multi-valued joins */
        c->where = chain;
    } else {
        c->where = q;
    }
    return c->where ? c : NULL;
}

mn_qs *mn__qs_filter_sticky(mn_qs *qs, const mn_kv *kv, size_t n)
{
    if (!qs || !qs->where)
        return qs ? mn_qs_filter_kv(qs, kv, n) : NULL;
    mn_qs *c = add_where(qs, mn_Q_kv(qs->o, kv, n));
    if (c)
        ((mn_q *)c->where)->lookup = NULL; /* a plain AND: the same filter() call's joins */
    return c;
}

mn_qs *mn_qs_filter_q(mn_qs *qs, const mn_q *q)
{
    return add_where(qs, q);
}
mn_qs *mn_qs_exclude_q(mn_qs *qs, const mn_q *q)
{
    return qs ? add_where(qs, mn_q_not(qs->o, q)) : NULL;
}
mn_qs *mn_qs_filter_kv(mn_qs *qs, const mn_kv *kv, size_t n)
{
    return qs ? add_where(qs, mn_Q_kv(qs->o, kv, n)) : NULL;
}
mn_qs *mn_qs_exclude_kv(mn_qs *qs, const mn_kv *kv, size_t n)
{
    return qs ? add_where(qs, mn_q_not(qs->o, mn_Q_kv(qs->o, kv, n))) : NULL;
}

/* Splits "a, -b,c" into trimmed names in the arena. */
static const char **split_names(mn_orm *o, const char *s, size_t *n)
{
    *n = 0;
    if (!s)
        return NULL;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    const char **out = mn_arena_alloc(o->arena, cap * sizeof *out);
    if (!out)
        return NULL;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        mn_str t = mn_str_trim((mn_str){p, (size_t)(e - p)});
        if (t.len)
            out[(*n)++] = mn_arena_strndup(o->arena, t.ptr, t.len);
        p = *e ? e + 1 : e;
    }
    return out;
}

/* Reordering, reversing or de-duplicating a slice would apply to the whole query under the
 * same LIMIT and return rows that were never in the slice: refused, as Django's TypeError. */
static bool refuse_if_sliced(const mn_qs *qs, const char *what)
{
    if (!qs || (qs->low == 0 && qs->high < 0))
        return false;
    mn__orm_fail(qs->o, MN_EINVAL, "Cannot %s once a slice has been taken.", what);
    return true;
}

mn_qs *mn_qs_order_by(mn_qs *qs, const char *fields)
{
    if (refuse_if_sliced(qs, "reorder a query"))
        return NULL;
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    c->order = split_names(qs->o, fields, &c->norder);
    if (mn__check_names(c, c->order, c->norder, MN__NAMES_ORDER) != 0)
        return NULL; /* as Django's order_by, a name that resolves to nothing fails here */
    c->order_set = true;
    c->reversed = false;
    return c;
}

mn_qs *mn_qs_reverse(mn_qs *qs)
{
    if (refuse_if_sliced(qs, "reverse a query"))
        return NULL;
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->reversed = !c->reversed;
    return c;
}

mn_qs *mn_qs_distinct(mn_qs *qs)
{
    if (refuse_if_sliced(qs, "create distinct fields"))
        return NULL;
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->distinct = true;
    return c;
}

mn_qs *mn_qs_slice(mn_qs *qs, int64_t start, int64_t stop)
{
    if (!qs)
        return NULL;
    if (start < 0) {
        mn__orm_fail(qs->o, MN_EINVAL, "Negative indexing is not supported.");
        return NULL;
    }
    if (stop >= 0 && stop < start)
        stop = start; /* Python's qs[3:1]: an empty queryset, not an error */
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    /* slicing a slice narrows it, as Python's */
    int64_t low = c->low + start;
    int64_t high = stop < 0 ? c->high : c->low + stop;
    if (c->high >= 0 && high > c->high)
        high = c->high;
    if (c->high >= 0 && low > c->high)
        low = c->high;
    c->low = low;
    c->high = high;
    return c;
}

const char mn__filter_chain[] = "(filter chain)";

/* The values() names, then a NULL, then the names the query groups by (mn__qs_group) and a
 * NULL: the grouping travels with the names, through every clone, without a field of its
 * own in mn_qs. */
static const char **values_names(mn_orm *o, const char *const *names, size_t n,
                                 const char *const *group, size_t ng)
{
    const char **v = mn_arena_alloc(o->arena, (n + ng + 2) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = names[i];
    v[n] = NULL;
    for (size_t i = 0; i < ng; i++)
        v[n + 1 + i] = group[i];
    v[n + 1 + ng] = NULL;
    return v;
}

const char *const *mn__qs_group(const mn_qs *qs, size_t *n)
{
    *n = 0;
    if (qs->mode == MODE_OBJECTS || !qs->vfields)
        return NULL;
    const char *const *g = qs->vfields + qs->nvfields + 1;
    while (g[*n])
        (*n)++;
    return *n ? g : NULL;
}

static mn_qs *with_values(mn_qs *qs, const char *fields, qsmode mode)
{
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    size_t ng = 0;
    const char *const *group = mn__qs_group(qs, &ng);
    c->mode = mode;
    size_t n = 0;
    const char **names = split_names(qs->o, fields, &n);
    if (fields && !names)
        return NULL;
    c->vfields = values_names(qs->o, names, n, group, ng);
    c->nvfields = n;
    if (!c->vfields)
        return NULL;
    if (mn__check_names(c, c->vfields, c->nvfields, MN__NAMES_VALUES) != 0)
        return NULL;
    if (mode == MODE_FLAT && c->nvfields > 1) {
        mn__orm_fail(qs->o, MN_EINVAL,
                     "'flat' is not valid when values_list is called with more than one field.");
        return NULL;
    }
    return c;
}
mn_qs *mn_qs_values(mn_qs *qs, const char *f)
{
    return with_values(qs, f, MODE_VALUES);
}
mn_qs *mn_qs_values_list(mn_qs *qs, const char *f, bool flat)
{
    return with_values(qs, f, flat ? MODE_FLAT : MODE_VALUES_LIST);
}

/* only() and defer() take the model's own fields (a misspelt one would silently load or
 * skip the wrong columns), checked as Django does when the query is built. */
static int check_own_fields(mn_qs *qs, const char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strstr(names[i], "__") && !mn__field(qs->m, names[i], strlen(names[i])))
            return mn__no_field(qs->o, qs->m, names[i], strlen(names[i]));
    return mn__check_names(qs, names, n, MN__NAMES_PLAIN);
}

mn_qs *mn_qs_only(mn_qs *qs, const char *fields)
{
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->only = split_names(qs->o, fields, &c->nonly);
    return c && check_own_fields(c, c->only, c->nonly) == 0 ? c : NULL;
}

mn_qs *mn_qs_defer(mn_qs *qs, const char *fields)
{
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->defer = split_names(qs->o, fields, &c->ndefer);
    return c && check_own_fields(c, c->defer, c->ndefer) == 0 ? c : NULL;
}

/* Each segment of a select_related path must be a forward FK or one-to-one. */
static int check_related(mn_qs *qs, const char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const mn_model *m = qs->m;
        for (const char *p = paths[i]; p && *p;) {
            const char *dd = strstr(p, "__");
            size_t len = dd ? (size_t)(dd - p) : strlen(p);
            const mn_fielddef *f = mn__field(m, p, len);
            /* A reverse relation or a many-to-many is a relation, but a JOIN cannot fetch it
             * (many rows): as Django, refused with the choices, pointing to prefetch_related
             * rather than "did you mean" the very name given. */
            const revrel *r = f ? NULL : mn__revrel(m, p, len, true);
            if (!f && !r)
                r = mn__revrel(m, p, len, false);
            if (!f && !r)
                return mn__no_field_in(qs->o, m, p, len, paths[i]);
            if (!f || (f->type != MN_FK && f->type != MN_O2O)) {
                mn_buf choices;
                mn_buf_init(&choices, qs->o->arena);
                for (size_t k = 0; k < m->nfields; k++)
                    if (m->fields[k].type == MN_FK || m->fields[k].type == MN_O2O)
                        mn_buf_printf(&choices, "%s%s", choices.len ? ", " : "", m->fields[k].name);
                const char *what = r ? "a reverse relation: use prefetch_related"
                                   : f->type == MN_M2M
                                       ? "a ManyToManyField: use prefetch_related"
                                       : mn_arena_printf(qs->o->arena, "a %s, not a relation",
                                                         mn__django_class(f->type));
                return mn__orm_fail(qs->o, MN_EFIELD,
                                    "Invalid field name(s) given in select_related: '%.*s' "
                                    "(%s.%.*s is %s; in '%s'). Choices are: %s",
                                    (int)len, p, m->name, (int)len, p, what, paths[i],
                                    choices.len ? mn_buf_cstr(&choices) : "(none)");
            }
            m = f->rel_model;
            p = dd ? dd + 2 : NULL;
        }
    }
    return 0;
}

mn_qs *mn_qs_select_related(mn_qs *qs, const char *paths)
{
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->related = split_names(qs->o, paths, &c->nrelated);
    return c && check_related(c, c->related, c->nrelated) == 0 ? c : NULL;
}

/* Each segment of a prefetch_related path must be a relation (FK, one-to-one, M2M or a
 * reverse accessor), checked where it is written: a misspelt one names the model, the path
 * and the closest relation, as a filter does. */
static int check_prefetch(mn_qs *qs, const char *path, const mn_model **owner)
{
    const mn_model *m = qs->m;
    *owner = m;
    for (const char *p = path; p && *p;) {
        const char *dd = strstr(p, "__");
        size_t len = dd ? (size_t)(dd - p) : strlen(p);
        const revrel *r = mn__revrel(m, p, len, true);
        const mn_fielddef *f = r ? NULL : mn__field(m, p, len);
        if (!r && !f)
            return mn__no_relation_in(qs->o, m, p, len, path);
        if (f && !f->rel_model)
            return mn__orm_fail(qs->o, MN_EFIELD,
                                "'%.*s' does not resolve to an item that supports prefetching - "
                                "this is an invalid parameter to prefetch_related() (%s.%s is a "
                                "%s; in '%s')",
                                (int)len, p, m->name, f->name, mn__django_class(f->type), path);
        *owner = m; /* the model the last level hangs from */
        m = r ? r->from : f->rel_model;
        p = dd ? dd + 2 : NULL;
    }
    return 0;
}

mn_qs *mn_qs_prefetch(mn_qs *qs, const char *accessor, mn_qs *custom)
{
    return mn_qs_prefetch_to_attr(qs, accessor, custom, NULL);
}

mn_qs *mn_qs_prefetch_to_attr(mn_qs *qs, const char *accessor, mn_qs *custom, const char *to_attr)
{
    if (!qs || !accessor)
        return NULL;
    const mn_model *m; /* the last level's owner */
    if (check_prefetch(qs, accessor, &m) != 0)
        return NULL;
    if (to_attr) { /* as Django: not the name of a field or relation of the last level's owner */
        if (mn__field(m, to_attr, strlen(to_attr)) ||
            mn__revrel(m, to_attr, strlen(to_attr), true)) {
            mn__orm_fail(qs->o, MN_EINVAL, "to_attr=%s conflicts with a field on the %s model.",
                         to_attr, m->name);
            return NULL;
        }
    }
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    prefetch *p = mn_arena_alloc(qs->o->arena, (c->nprefetch + 1) * sizeof *p);
    if (!p)
        return NULL;
    if (c->nprefetch)
        memcpy(p, c->prefetch, c->nprefetch * sizeof *p);
    p[c->nprefetch].path = mn_arena_strdup(qs->o->arena, accessor);
    p[c->nprefetch].custom = custom;
    p[c->nprefetch].to_attr = to_attr ? mn_arena_strdup(qs->o->arena, to_attr) : NULL;
    c->prefetch = p;
    c->nprefetch++;
    return c;
}

mn_qs *mn_qs_prefetch_related(mn_qs *qs, const char *paths)
{
    if (!qs)
        return NULL;
    size_t n;
    const char **names = split_names(qs->o, paths, &n);
    for (size_t i = 0; qs && i < n; i++)
        qs = mn_qs_prefetch(qs, names[i], NULL);
    return qs;
}

mn_qs *mn_qs_annotate(mn_qs *qs, const char *name, const mn_expr *e)
{
    if (!qs || !e)
        return NULL;
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    if (mn__field(qs->m, name, strlen(name))) {
        mn__orm_fail(qs->o, MN_EINVAL, "The annotation '%s' conflicts with a field on the model.",
                     name);
        return NULL;
    }
    annot *a = mn_arena_alloc(qs->o->arena, (c->nannots + 1) * sizeof *a);
    if (!a)
        return NULL;
    if (c->nannots)
        memcpy(a, c->annots, c->nannots * sizeof *a);
    a[c->nannots].name = mn_arena_strdup(qs->o->arena, name);
    a[c->nannots].expr = e;
    c->annots = a;
    /* checked against the annotations before it: it may build on them, not on itself */
    if (mn__check_expr(c, e) != 0)
        return NULL;
    c->nannots++;
    if (c->mode != MODE_OBJECTS && c->nvfields) {
        /* values("author").annotate(n=...): the rows carry n, and an aggregate groups by the
         * values() fields (once: a later annotate() keeps the first grouping) */
        size_t ng = 0;
        const char *const *group = mn__qs_group(c, &ng);
        const char **names = mn_arena_alloc(qs->o->arena, (c->nvfields + 1) * sizeof *names);
        if (!names)
            return NULL;
        memcpy(names, c->vfields, c->nvfields * sizeof *names);
        size_t n = c->nvfields;
        if (c->mode != MODE_FLAT)
            names[n++] = a[c->nannots - 1].name;
        if (!group && mn__has_aggregate(e))
            group = c->vfields, ng = c->nvfields;
        c->vfields = values_names(qs->o, names, n, group, ng);
        if (!c->vfields)
            return NULL;
        c->nvfields = n;
    }
    return c;
}

mn_qs *mn_qs_using(mn_qs *qs, const char *alias)
{
    mn_qs *c = mn__qs_clone(qs);
    if (c)
        c->alias = alias ? mn_arena_strdup(qs->o->arena, alias) : NULL;
    return c;
}

mn_qs *mn_qs_select_for_update(mn_qs *qs)
{
    return mn_qs_select_for_update_opts(qs, NULL);
}

/* The options replace those of an earlier call, as Django's. The "of" names are checked when
 * the query is compiled (compile.c), against the select_related() paths it has by then. */
mn_qs *mn_qs_select_for_update_opts(mn_qs *qs, const mn_sfu_opts *opts)
{
    if (!qs)
        return NULL;
    mn_sfu_opts none = {0};
    if (!opts)
        opts = &none;
    if (opts->nowait && opts->skip_locked) {
        mn__orm_fail(qs->o, MN_EINVAL, "The nowait option cannot be used with skip_locked.");
        return NULL;
    }
    mn_qs *c = mn__qs_clone(qs);
    if (!c)
        return NULL;
    c->for_update = true;
    c->sfu_nowait = opts->nowait;
    c->sfu_skip_locked = opts->skip_locked;
    c->sfu_no_key = opts->no_key;
    c->sfu_of = split_names(qs->o, opts->of, &c->nsfu_of);
    if (opts->of && !c->sfu_of)
        return NULL;
    return c;
}
