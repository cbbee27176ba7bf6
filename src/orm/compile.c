/* compile.c — the SQL compiler's statements: a queryset becomes one SELECT, COUNT, UPDATE,
 * DELETE or aggregate with bound parameters, in the SQLite or PostgreSQL dialect (lookup.c
 * compiles the conditions and expressions inside it).
 *
 * Placeholders are written as a marker (\x01 index \x02) while the pieces (select list,
 * joins, where, having, order) are built in whatever order paths are discovered; the final
 * pass renumbers them in textual order, so each dialect gets ?1.. or $1.. that match. */
#include "compile.h"

#include <stdlib.h>

static bool names_agg_annotation(mn_qs *qs, const char *path, int depth);

/* Does e aggregate, itself or through an annotation it names (F("n") * 2 with n=Count)? */
static bool expr_aggregates(mn_qs *qs, const mn_expr *e, int depth)
{
    if (!e || depth > 16)
        return false;
    if (e->kind == E_AGG)
        return true;
    if (e->kind == E_FIELD)
        return names_agg_annotation(qs, e->path, depth + 1);
    return e->kind == E_OP &&
           (expr_aggregates(qs, e->a, depth) || expr_aggregates(qs, e->b, depth));
}

static bool names_agg_annotation(mn_qs *qs, const char *path, int depth)
{
    const char *dd = strstr(path, "__");
    size_t n = dd ? (size_t)(dd - path) : strlen(path);
    for (size_t i = 0; i < qs->nannots; i++)
        if (strlen(qs->annots[i].name) == n && strncmp(qs->annots[i].name, path, n) == 0)
            return expr_aggregates(qs, qs->annots[i].expr, depth);
    return false;
}

/* Which top-level conjuncts of where mention an aggregate annotation (they go to HAVING). */
static bool q_mentions_agg(mn_qs *qs, const mn_q *q)
{
    if (!q)
        return false;
    if (q->kind == Q_LEAF)
        return names_agg_annotation(qs, q->lookup, 0);
    return q_mentions_agg(qs, q->a) || q_mentions_agg(qs, q->b);
}

static void split_where(cc *c, mn_qs *qs, const mn_q *q, mn_buf *where, mn_buf *having)
{
    if (!q || (q->kind == Q_AND && !q->a)) /* Q() adds nothing to a conjunction */
        return;
    if (q->kind == Q_AND && q->a) {
        split_where(c, qs, q->a, where, having);
        int saved = c->gen;
        if (q->lookup == mn__filter_chain)
            c->gen = ++c->ngen; /* the next filter() call: its own multi-valued joins */
        split_where(c, qs, q->b, where, having);
        c->gen = saved;
        return;
    }
    mn_buf *dst = q_mentions_agg(qs, q) ? having : where;
    if (dst->len)
        mn_buf_puts(dst, " AND ");
    if (dst == where)
        mn__cc_where(c, dst, q); /* the joins it needs matched become INNER */
    else
        mn__cc_q(c, dst, q);
}

/* ---- SELECT ---- */
static bool name_in(const char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static bool field_loaded(mn_qs *qs, const mn_fielddef *f)
{
    if (f->primary_key)
        return true;
    if (qs->nonly)
        return name_in(qs->only, qs->nonly, f->name);
    if (qs->ndefer)
        return !name_in(qs->defer, qs->ndefer, f->name);
    return true;
}

static void select_model_cols(cc *c, mn_qs *qs, mn_buf *b, const mn_model *m, int alias, bool base,
                              const mn_fielddef ***cols_out, size_t *ncols)
{
    const mn_fielddef **cols = mn_arena_alloc(c->o->arena, (m->nfields + 1) * sizeof *cols);
    size_t n = 0;
    for (size_t i = 0; cols && i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (!mn__has_column(f) || (base && !field_loaded(qs, f)))
            continue;
        if (b->len)
            mn_buf_puts(b, ", ");
        mn__cc_col(c, b, alias, f->column);
        cols[n++] = f;
    }
    *cols_out = cols;
    *ncols = n;
}

/* ORDER BY into b; the bare ordering expressions also into cols (DISTINCT needs them
 * selected on PostgreSQL). */
static const char **split_ordering(cc *c, const char *s, size_t *n);

/* distinct() with order_by('?') on PostgreSQL, which wants each ORDER BY expression of a
 * SELECT DISTINCT in its select list (Django adds them there): RANDOM() selected would make
 * every row distinct, and each must come once. So the rows are made distinct in a subquery,
 * with the other ordering terms selected under aliases, and the outer query orders them. */
typedef struct outer_order {
    bool on;      /* the ordering has a random term: wrap */
    mn_buf sel;   /* `, expr AS "__orderbycolN"` per ordering term, for the subquery */
    mn_buf order; /* the outer ORDER BY's terms */
    int n;
} outer_order;

/* Records the ordering term just written to b from start as an outer ORDER BY term. */
static void outer_term(outer_order *w, const mn_buf *b, size_t start, bool desc)
{
    if (!w || !w->on)
        return;
    w->n++;
    mn_buf_puts(&w->sel, ", ");
    mn_buf_append(&w->sel, b->data + start, b->len - start);
    mn_buf_printf(&w->sel, " AS \"__orderbycol%d\"", w->n);
    if (w->order.len)
        mn_buf_puts(&w->order, ", ");
    mn_buf_printf(&w->order, "\"__orderbycol%d\" %s", w->n, desc ? "DESC" : "ASC");
}

/* One ORDER BY term. A relation ("author") orders by the related model's Meta.ordering, else
 * its primary key, as Django's order_by does ("-author" reverses each of them). */
static int order_term(cc *c, mn_qs *qs, mn_buf *b, mn_buf *cols, const char *o, bool desc,
                      int depth, outer_order *w)
{
    resolved r;
    mn_buf tcol;
    mn_buf_init(&tcol, c->o->arena);
    if (mn__cc_order_path(c, o, &r, &tcol, NULL) != 0 || c->err)
        return c->err ? c->err : MN_EFIELD;
    if (!r.ann && !*r.rest && (r.f->type == MN_FK || r.f->type == MN_O2O) &&
        r.f->rel_model->ordering && depth < 4) {
        const char *last = strrchr(o, '_');
        last = last && last > o && last[-1] == '_' ? last + 1 : o;
        if (strcmp(last, r.f->name) == 0) {
            size_t n = 0;
            const char **terms = split_ordering(c, r.f->rel_model->ordering, &n);
            for (size_t i = 0; terms && i < n && !c->err; i++) {
                const char *t = terms[i];
                bool d = desc;
                if (*t == '-')
                    d = !d, t++;
                else if (*t == '+')
                    t++;
                if (strcmp(t, "?") == 0)
                    continue;
                if (i)
                    mn_buf_puts(b, ", ");
                order_term(c, qs, b, cols, mn_arena_printf(c->o->arena, "%s__%s", o, t), d,
                           depth + 1, w);
            }
            return c->err;
        }
    }
    size_t start = b->len;
    if (r.ann)
        mn__cc_expr(c, b, r.ann->expr);
    else
        mn_buf_append(b, tcol.data, tcol.len); /* the column, transformed ("pub_date__year") */
    if (!r.ann) {
        mn_buf_puts(cols, ", ");
        mn_buf_append(cols, b->data + start, b->len - start);
    }
    outer_term(w, b, start, desc);
    /* NULLs sort as Django expects on both: first ascending on SQLite, last on PG */
    mn_buf_puts(b, desc ? " DESC" : " ASC");
    return c->err;
}

static const char **split_ordering(cc *c, const char *s, size_t *n)
{
    size_t cap = 1, dn = 0;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    const char **dorder = mn_arena_alloc(c->o->arena, cap * sizeof *dorder);
    const char *p = s;
    while (dorder && *p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        mn_str t = mn_str_trim((mn_str){p, (size_t)(e - p)});
        if (t.len)
            dorder[dn++] = mn_arena_strndup(c->o->arena, t.ptr, t.len);
        p = *e ? e + 1 : e;
    }
    *n = dn;
    return dorder;
}

/* grouped: a GROUP BY query, which Meta.ordering does not order (Django >= 3.1). w, when
 * given, is switched on if the ordering has a random term, and gets the outer ordering. */
static int order_clause(cc *c, mn_qs *qs, mn_buf *b, mn_buf *cols, bool grouped, outer_order *w)
{
    const char **order = qs->order;
    size_t norder = qs->norder;
    size_t dn = 0;
    const char **dorder = NULL;
    if (!qs->order_set && qs->m->ordering && grouped) {
        order = NULL;
        norder = 0;
    } else if (!qs->order_set && qs->m->ordering) {
        const char *s = qs->m->ordering;
        size_t cap = 1;
        for (const char *p = s; *p; p++)
            cap += *p == ',';
        dorder = mn_arena_alloc(c->o->arena, cap * sizeof *dorder);
        const char *p = s;
        while (dorder && *p) {
            const char *e = strchr(p, ',');
            if (!e)
                e = p + strlen(p);
            mn_str t = mn_str_trim((mn_str){p, (size_t)(e - p)});
            if (t.len)
                dorder[dn++] = mn_arena_strndup(c->o->arena, t.ptr, t.len);
            p = *e ? e + 1 : e;
        }
        order = dorder;
        norder = dn;
    }
    if (norder == 0 && qs->reversed) {
        static const char *pk_only[] = {"pk"};
        order = pk_only;
        norder = 1;
    }
    for (size_t i = 0; w && i < norder; i++)
        w->on |= strcmp(order[i], "?") == 0;
    for (size_t i = 0; i < norder; i++) {
        const char *o = order[i];
        bool desc = false;
        mn_buf_puts(b, i ? ", " : " ORDER BY ");
        if (strcmp(o, "?") == 0) {
            mn_buf_puts(b, "RANDOM()");
            if (w && w->on)
                mn_buf_puts(&w->order, w->order.len ? ", RANDOM()" : "RANDOM()");
            continue;
        }
        if (*o == '-')
            desc = true, o++;
        else if (*o == '+')
            o++;
        if (qs->reversed)
            desc = !desc;
        if (order_term(c, qs, b, cols, o, desc, 0, w) != 0)
            return c->err ? c->err : MN_EFIELD;
    }
    return c->err;
}

/* Emits columns for select_related paths, recording how to read them back. */
static int select_related_cols(cc *c, mn_qs *qs, mn_buf *sel, sqlq *meta)
{
    size_t cap = 0;
    for (size_t i = 0; i < qs->nrelated; i++)
        cap += 4;
    meta->rels = cap ? mn_arena_calloc(c->o->arena, cap, sizeof *meta->rels) : NULL;
    meta->nrels = 0;
    for (size_t i = 0; i < qs->nrelated; i++) {
        const char *path = qs->related[i];
        const mn_model *m = c->m;
        int alias = 0, parent = -1;
        const char *p = path;
        char keybuf[256];
        while (p && *p) {
            const char *dd = strstr(p, "__");
            size_t n = dd ? (size_t)(dd - p) : strlen(p);
            const mn_fielddef *f = mn__field(m, p, n);
            if (!f || (f->type != MN_FK && f->type != MN_O2O)) {
                if (!f)
                    return mn__no_field_in(c->o, m, p, n, path) ? (c->err = MN_EFIELD) : 0;
                return mn__cc_fail(
                    c, MN_EFIELD,
                    "Invalid field name(s) given in select_related: '%s'. Choices are "
                    "foreign keys and one-to-one fields",
                    path);
            }
            snprintf(keybuf, sizeof keybuf, "%.*s", (int)(p - path + (ptrdiff_t)n), path);
            /* INNER over a non-null FK, LEFT OUTER over a nullable one and after it */
            alias = mn__cc_add_join(c, keybuf, f->rel_model, alias, f->column,
                                    mn__rel_field(f)->column, false, f->null);
            /* reuse an entry already emitted for this prefix */
            int found = -1;
            for (size_t k = 0; k < meta->nrels; k++)
                if (meta->rels[k].via == f && meta->rels[k].parent == parent)
                    found = (int)k;
            if (found < 0) {
                if (meta->nrels == cap)
                    return mn__cc_fail(c, MN_ETOOBIG, "select_related nests too deeply");
                struct selrel *sr = &meta->rels[meta->nrels];
                sr->via = f;
                sr->parent = parent;
                sr->m = f->rel_model;
                select_model_cols(c, qs, sel, f->rel_model, alias, false, &sr->cols, &sr->ncols);
                found = (int)meta->nrels++;
            }
            parent = found;
            m = f->rel_model;
            p = dd ? dd + 2 : NULL;
        }
    }
    return c->err;
}

/* The WHERE of a query without GROUP BY: none() as "1 = 0", then the filters. 0 or the
 * compiler's error. */
static int plain_where(cc *c, mn_qs *qs, mn_buf *w)
{
    if (qs->none)
        mn_buf_puts(w, "1 = 0");
    if (qs->where) {
        if (w->len)
            mn_buf_puts(w, " AND ");
        mn__cc_where(c, w, qs->where);
    }
    return c->err;
}

/* ` FROM "table" "T0"`, the joins the filters and columns needed, and ` WHERE ...` when
 * there is a condition: the tail that SELECT, COUNT, aggregates and the pk subquery of
 * UPDATE/DELETE share. */
static void put_from_where(cc *c, mn_buf *out, const mn_buf *where)
{
    mn_buf_puts(out, " FROM ");
    mn__quote(out, mrt(c->m)->table);
    mn_buf_printf(out, " \"%c0\"", c->prefix);
    mn__cc_put_joins(c, out);
    if (where->len) {
        mn_buf_puts(out, " WHERE ");
        mn_buf_append(out, where->data, where->len);
    }
}

/* ` FROM (inner) "subquery"`: COUNT and aggregates over sliced, distinct or annotated rows. */
static void put_subquery(mn_buf *out, const mn_buf *inner)
{
    mn_buf_puts(out, " FROM (");
    mn_buf_append(out, inner->data, inner->len);
    mn_buf_puts(out, ") \"subquery\"");
}

/* "head FROM (the queryset's rows, unordered) subquery": for exists() and count() when a
 * slice, DISTINCT or GROUP BY decides which rows there are. */
static int select_from_rows(cc *c, mn_qs *qs, const char *head, mn_buf *out)
{
    mn_buf inner;
    mn_buf_init(&inner, qs->o->arena);
    mn_qs tmp = *qs;
    tmp.order_set = true;
    tmp.norder = 0;
    tmp.reversed = false;
    if (mn__cc_select(c, &tmp, SQL_SELECT, &inner, NULL) != 0)
        return c->err;
    mn_buf_puts(out, head);
    put_subquery(out, &inner);
    return 0;
}

/* Is path one of the queryset's select_related() paths or a prefix of one ("author" of
 * "author__publisher")? */
static bool followed(const mn_qs *qs, const char *path, size_t n)
{
    for (size_t i = 0; i < qs->nrelated; i++)
        if (strncmp(qs->related[i], path, n) == 0 &&
            (qs->related[i][n] == '\0' || strncmp(qs->related[i] + n, "__", 2) == 0))
            return true;
    return false;
}

/* select_for_update(of=...)'s choices, as Django lists them: "self", then the relations the
 * query follows, breadth first, each model's in field order. */
static const char *of_choices(cc *c, const mn_qs *qs)
{
    size_t cap = 1;
    for (size_t i = 0; i < qs->nrelated; i++)
        for (const char *p = qs->related[i]; p; p = strstr(p, "__"), p = p ? p + 2 : NULL)
            cap++;
    const char **paths = mn_arena_alloc(c->o->arena, cap * sizeof *paths);
    const mn_model **models = mn_arena_alloc(c->o->arena, cap * sizeof *models);
    mn_buf b;
    mn_buf_init(&b, c->o->arena);
    if (!paths || !models)
        return NULL;
    size_t n = 1, head = 0;
    paths[0] = NULL; /* self */
    models[0] = c->m;
    mn_buf_puts(&b, "self");
    for (; head < n; head++) {
        const mn_model *m = models[head];
        for (size_t k = 0; k < m->nfields && n < cap; k++) {
            const mn_fielddef *f = &m->fields[k];
            if (f->type != MN_FK && f->type != MN_O2O)
                continue;
            const char *p = paths[head]
                                ? mn_arena_printf(c->o->arena, "%s__%s", paths[head], f->name)
                                : f->name;
            if (!p || !followed(qs, p, strlen(p)))
                continue;
            paths[n] = p;
            models[n++] = f->rel_model;
            mn_buf_printf(&b, ", %s", p);
        }
    }
    return mn_buf_cstr(&b);
}

/* The alias of the select_related() join for path, or -1 when the query does not follow
 * it: the joins select_related_cols() made, one per path prefix. */
static int followed_alias(cc *c, const mn_qs *qs, const char *path)
{
    if (!followed(qs, path, strlen(path)))
        return -1;
    int alias = 0;
    for (const char *p = path; p;) {
        const char *dd = strstr(p, "__");
        size_t n = dd ? (size_t)(dd - path) : strlen(path);
        int found = -1;
        for (size_t i = 0; i < c->nj && found < 0; i++)
            if (c->joins[i].left == alias && c->joins[i].gen == 0 && strlen(c->joins[i].key) == n &&
                strncmp(c->joins[i].key, path, n) == 0)
                found = c->joins[i].alias;
        if (found < 0)
            return -1;
        alias = found;
        p = dd ? dd + 2 : NULL;
    }
    return alias;
}

/* Django's for_update_sql(): FOR [NO KEY] UPDATE [OF "T0", "T1"] [NOWAIT | SKIP LOCKED], on
 * PostgreSQL only (SQLite has no row locks: Django leaves the clause out there). The "of"
 * names apply where the rows are model instances (Django's klass_info): not for values() or
 * exists(). They are checked on SQLite too, so that a misspelt one shows in its tests. */
static void for_update_clause(cc *c, mn_qs *qs, int kind, mn_buf *out)
{
    mn_buf of;
    mn_buf_init(&of, c->o->arena);
    if (qs->nsfu_of && kind == SQL_SELECT && qs->mode == MODE_OBJECTS) {
        mn_buf bad;
        mn_buf_init(&bad, c->o->arena);
        int *seen = mn_arena_calloc(c->o->arena, qs->nsfu_of, sizeof *seen);
        size_t nseen = 0;
        if (!seen) {
            mn__cc_fail(c, MN_ENOMEM, "out of memory");
            return;
        }
        for (size_t i = 0; i < qs->nsfu_of; i++) {
            const char *name = qs->sfu_of[i];
            int alias = strcmp(name, "self") == 0 ? 0 : followed_alias(c, qs, name);
            if (alias < 0) {
                mn_buf_printf(&bad, "%s%s", bad.len ? ", " : "", name);
                continue;
            }
            bool dup = false;
            for (size_t k = 0; k < nseen; k++)
                dup |= seen[k] == alias;
            if (dup)
                continue;
            seen[nseen++] = alias;
            mn_buf_printf(&of, "%s\"%c%d\"", of.len ? ", " : "", c->prefix, alias);
        }
        if (bad.len) {
            const char *choices = of_choices(c, qs);
            mn__cc_fail(c, MN_EFIELD,
                        "Invalid field name(s) given in select_for_update(of=(...)): %s. Only "
                        "relational fields followed in the query are allowed. Choices are: %s.",
                        mn_buf_cstr(&bad), choices ? choices : "self");
            return;
        }
    }
    if (c->d != MN_DIALECT_POSTGRESQL)
        return;
    mn_buf_puts(out, qs->sfu_no_key ? " FOR NO KEY UPDATE" : " FOR UPDATE");
    if (of.len) {
        mn_buf_puts(out, " OF ");
        mn_buf_append(out, of.data, of.len);
    }
    if (qs->sfu_nowait)
        mn_buf_puts(out, " NOWAIT");
    if (qs->sfu_skip_locked)
        mn_buf_puts(out, " SKIP LOCKED");
}

int mn__cc_select(cc *c, mn_qs *qs, int kind, mn_buf *out, sqlq *meta)
{
    sqlq dummy;
    if (!meta)
        meta = &dummy;
    memset(meta, 0, sizeof *meta);
    c->qs = qs;
    mn_buf sel, where, having, order, group;
    mn_buf_init(&sel, c->o->arena);
    mn_buf_init(&where, c->o->arena);
    mn_buf_init(&having, c->o->arena);
    mn_buf_init(&order, c->o->arena);
    mn_buf_init(&group, c->o->arena);
    bool aggregate_annots = false;
    for (size_t i = 0; i < qs->nannots; i++)
        aggregate_annots |= mn__has_aggregate(qs->annots[i].expr);
    /* an __in subquery's one column: where it ends in sel, and its name if aliased */
    size_t first_end = 0, nvalues = 0;
    const char *first_alias = NULL;

    /* select list */
    if (kind == SQL_PKS) {
        mn__cc_col(c, &sel, 0, c->m->pk->column);
        if (aggregate_annots) /* the pk decides the rest of the row's columns */
            mn__cc_col(c, &group, 0, c->m->pk->column);
    } else if (kind == SQL_EXISTS) {
        mn_buf_puts(&sel, "1 AS \"a\"");
    } else if (qs->mode != MODE_OBJECTS) {
        size_t n = qs->nvfields;
        const char **names = qs->vfields;
        size_t ng = 0;
        const char *const *gnames = mn__qs_group(qs, &ng);
        bool every = n == 0;
        if (every) { /* every concrete field (FKs as name_id), then annotations */
            names = mn_arena_alloc(c->o->arena, (c->m->nfields + qs->nannots + 1) * sizeof *names);
            for (size_t i = 0; names && i < c->m->nfields; i++)
                if (mn__has_column(&c->m->fields[i]))
                    names[n++] = c->m->fields[i].type == MN_FK || c->m->fields[i].type == MN_O2O
                                     ? c->m->fields[i].column
                                     : c->m->fields[i].name;
            for (size_t i = 0; names && i < qs->nannots; i++)
                names[n++] = qs->annots[i].name;
        }
        /* Otherwise exactly the names asked for: values("name") after annotate() has no n
         * (Django), and values("genre").annotate(n=...) listed n itself (query.c). */
        meta->vnames = names;
        meta->vfields = mn_arena_calloc(c->o->arena, n + 1, sizeof *meta->vfields);
        mn_ftype *vtypes = mn_arena_calloc(c->o->arena, n + 1, sizeof *vtypes);
        meta->vtypes = vtypes;
        meta->nv = n;
        if (!names || !meta->vfields || !vtypes)
            return mn__cc_fail(c, MN_ENOMEM, "out of memory");
        /* values() after annotate(): grouped per model row, as the annotation was */
        if (aggregate_annots && !gnames && !every)
            for (size_t i = 0; i < c->m->nfields; i++)
                if (mn__has_column(&c->m->fields[i])) {
                    if (group.len)
                        mn_buf_puts(&group, ", ");
                    mn__cc_col(c, &group, 0, c->m->fields[i].column);
                }
        for (size_t i = 0; i < n; i++) {
            resolved r;
            mn_buf tcol;
            mn_buf_init(&tcol, c->o->arena);
            mn_ftype as = 0;
            if (mn__cc_order_path(c, names[i], &r, &tcol, &as) != 0 || c->err)
                return c->err ? c->err : MN_EFIELD;
            if (sel.len)
                mn_buf_puts(&sel, ", ");
            if (r.ann) {
                mn__cc_expr(c, &sel, r.ann->expr);
                mn_buf_puts(&sel, " AS "); /* aggregate() over this reads it by name */
                mn__quote(&sel, r.ann->name);
                const mn_expr *e = r.ann->expr;
                if (e->kind == E_AGG && e->agg != AGG_COUNT && e->agg != AGG_AVG) {
                    resolved rr;
                    if (strcmp(e->path, "*") != 0 && mn__cc_resolve(c, e->path, false, &rr) == 0 &&
                        rr.f)
                        meta->vfields[i] = rr.f;
                }
            } else if (*r.rest) { /* values("pub_date__year"): the transformed column */
                mn_buf_append(&sel, tcol.data, tcol.len);
                vtypes[i] = as;
            } else {
                mn__cc_col(c, &sel, r.alias, r.f->column);
                meta->vfields[i] = r.f;
            }
            if (i == 0) {
                first_end = sel.len;
                first_alias = r.ann ? r.ann->name : NULL;
            }
            if (!r.ann) {
                if (aggregate_annots && !gnames &&
                    !(r.alias == 0 && !every && r.f->model == c->m)) {
                    if (group.len)
                        mn_buf_puts(&group, ", ");
                    mn_buf_append(&group, tcol.data, tcol.len);
                }
            }
        }
        for (size_t i = 0; aggregate_annots && gnames && i < ng; i++) {
            resolved r;
            mn_buf tcol;
            mn_buf_init(&tcol, c->o->arena);
            if (mn__cc_order_path(c, gnames[i], &r, &tcol, NULL) != 0 || c->err)
                return c->err ? c->err : MN_EFIELD;
            if (r.ann)
                continue;
            if (group.len)
                mn_buf_puts(&group, ", ");
            mn_buf_append(&group, tcol.data, tcol.len); /* the column, or its transform */
        }
        nvalues = n;
    } else {
        select_model_cols(c, qs, &sel, c->m, 0, true, &meta->cols, &meta->ncols);
        if (aggregate_annots)
            mn_buf_append(&group, sel.data, sel.len);
        if (qs->nrelated && select_related_cols(c, qs, &sel, meta) != 0)
            return c->err;
        if (aggregate_annots && qs->nrelated) {
            group.len = 0;
            mn_buf_append(&group, sel.data, sel.len);
        }
        for (size_t i = 0; i < qs->nannots; i++) {
            mn_buf_puts(&sel, ", ");
            mn__cc_expr(c, &sel, qs->annots[i].expr);
            mn_buf_puts(&sel, " AS ");
            mn__quote(&sel, qs->annots[i].name);
        }
        meta->nannots = qs->nannots;
    }
    if (c->err)
        return c->err;

    if (qs->none)
        mn_buf_puts(&where, "1 = 0");
    split_where(c, qs, qs->where, &where, &having);
    if (c->err)
        return c->err;
    mn_buf ordercols;
    mn_buf_init(&ordercols, c->o->arena);
    outer_order w = {0};
    mn_buf_init(&w.sel, c->o->arena);
    mn_buf_init(&w.order, c->o->arena);
    bool may_wrap = qs->distinct && kind == SQL_SELECT && c->d == MN_DIALECT_POSTGRESQL;
    /* A slice per partition (struct mn_qs's window_by): the rows are numbered in a subquery
     * that selects its ordering values, as for the outer ordering of w below, and the outer
     * query keeps the slice and orders them. */
    const annot *window = NULL;
    for (size_t i = 0; qs->window_by && kind == SQL_SELECT && i < qs->nannots; i++)
        if (strcmp(qs->annots[i].name, qs->window_by) == 0)
            window = &qs->annots[i];
    if (window)
        w.on = may_wrap = true;
    /* An __in subquery (lookup.c; its aliases are not "T") that is not sliced is not
     * ordered, as Django's clear_ordering(force=False): the order means nothing there, and
     * distinct()'s ordering columns would break its one-column select list. */
    bool unordered = c->prefix != 'T' && qs->high < 0 && qs->low <= 0;
    if ((kind == SQL_SELECT || kind == SQL_PKS) && !unordered)
        if (order_clause(c, qs, &order, &ordercols, group.len > 0, may_wrap ? &w : NULL) != 0)
            return c->err;
    if (group.len && ordercols.len)
        /* as Django, the ordering's columns join the GROUP BY (order_by("author") of a
         * values("author").annotate() orders by the author's name) */
        mn_buf_append(&group, ordercols.data, ordercols.len);
    /* A sliced __in subquery (lookup.c) whose distinct() ordering columns join its one-column
     * select list is wrapped so that only that column is selected, as Django's compiler wraps
     * a subquery with extra selects: SELECT "subquery"."__col1" FROM (...) "subquery". */
    bool sub_wrap = c->prefix != 'T' && kind == SQL_SELECT && nvalues == 1 &&
                    (w.on || (qs->distinct && ordercols.len));
    const char *sub_col = first_alias ? first_alias : "__col1";
    if (sub_wrap && !first_alias) {
        mn_buf named;
        mn_buf_init(&named, c->o->arena);
        mn_buf_append(&named, sel.data, first_end);
        mn_buf_puts(&named, " AS \"__col1\"");
        mn_buf_append(&named, sel.data + first_end, sel.len - first_end);
        sel = named;
    }
    if (w.on) /* the subquery's rows carry their ordering values, read by the outer query */
        mn_buf_append(&sel, w.sel.data, w.sel.len);
    if (window) { /* as Django's QUALIFY emulation of a sliced prefetch */
        mn_buf_puts(&sel, ", ROW_NUMBER() OVER (PARTITION BY ");
        mn__cc_expr(c, &sel, window->expr);
        mn_buf_append(&sel, order.data, order.len);
        mn_buf_puts(&sel, ") AS \"__rownum\"");
    } else if (qs->distinct && kind == SQL_SELECT && ordercols.len)
        /* PostgreSQL wants ORDER BY expressions in a DISTINCT select list, as Django adds
         * them; the extra trailing columns are never read back */
        mn_buf_append(&sel, ordercols.data, ordercols.len);

    if (sub_wrap) {
        mn_buf_puts(out, "SELECT \"subquery\".");
        mn__quote(out, sub_col);
        mn_buf_puts(out, " FROM (");
    } else if (w.on) {
        mn_buf_puts(out, "SELECT * FROM (");
    }
    mn_buf_puts(out, "SELECT ");
    if (qs->distinct && kind != SQL_EXISTS)
        mn_buf_puts(out, "DISTINCT ");
    mn_buf_append(out, sel.data, sel.len);
    put_from_where(c, out, &where);
    if (group.len) {
        mn_buf_puts(out, " GROUP BY ");
        mn_buf_append(out, group.data, group.len);
    }
    if (having.len) {
        mn_buf_puts(out, " HAVING ");
        mn_buf_append(out, having.data, having.len);
    }
    if (window) {
        mn_buf_puts(out, ") \"subquery\" WHERE \"__rownum\" > ");
        mn__cc_param(c, out, mn_dbp_int(qs->low));
        if (qs->high >= 0) {
            mn_buf_puts(out, " AND \"__rownum\" <= ");
            mn__cc_param(c, out, mn_dbp_int(qs->high));
        }
        if (w.order.len)
            mn_buf_puts(out, " ORDER BY ");
        mn_buf_append(out, w.order.data, w.order.len);
    } else if (w.on) {
        mn_buf_puts(out, ") \"subquery\" ORDER BY ");
        mn_buf_append(out, w.order.data, w.order.len);
    } else {
        mn_buf_append(out, order.data, order.len);
    }
    if (kind == SQL_EXISTS) {
        mn_buf_puts(out, " LIMIT 1");
    } else if (!window && (qs->high >= 0 || qs->low > 0)) {
        if (qs->high >= 0) {
            mn_buf_puts(out, " LIMIT ");
            mn__cc_param(c, out, mn_dbp_int(qs->high - qs->low));
        } else if (c->d == MN_DIALECT_SQLITE) {
            mn_buf_puts(out, " LIMIT -1");
        }
        if (qs->low > 0) {
            mn_buf_puts(out, " OFFSET ");
            mn__cc_param(c, out, mn_dbp_int(qs->low));
        }
    }
    if (qs->for_update && (kind == SQL_SELECT || kind == SQL_EXISTS))
        for_update_clause(c, qs, kind, out);
    if (sub_wrap && !w.on)
        mn_buf_puts(out, ") \"subquery\"");
    return c->err;
}

/* Replaces the markers by numbered placeholders and orders the parameters to match. */
static int finish(cc *c, mn_buf *text, sqlq *out)
{
    mn_buf b;
    mn_buf_init(&b, c->o->arena);
    if (!mn_buf_cstr(text))
        return mn__cc_fail(c, MN_ENOMEM, "out of memory");
    /* a marker may come more than once (a decimal rescaled on SQLite repeats its operand) */
    size_t nm = c->np;
    if (nm && memchr(text->data, '\x01', text->len)) {
        nm = 0;
        for (const char *p = text->data;
             (p = memchr(p, '\x01', (size_t)(text->data + text->len - p))); p++)
            nm++;
    }
    mn_dbparam *ps = nm ? mn_arena_alloc(c->o->arena, nm * sizeof *ps) : NULL;
    if (nm && !ps)
        return mn__cc_fail(c, MN_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < text->len; i++) {
        if (text->data[i] == '\x01') {
            size_t idx = strtoull(text->data + i + 1, NULL, 10);
            while (text->data[i] != '\x02')
                i++;
            ps[n++] = c->params[idx];
            mn__placeholder(&b, c->d, n);
        } else {
            mn_buf_putc(&b, text->data[i]);
        }
    }
    out->sql = mn_buf_cstr(&b);
    out->params = ps;
    out->nparams = n;
    return out->sql ? 0 : mn__cc_fail(c, MN_ENOMEM, "out of memory");
}

static void cc_init(cc *c, mn_qs *qs)
{
    memset(c, 0, sizeof *c);
    c->o = qs->o;
    c->qs = qs;
    c->m = qs->m;
    c->d = mn__qs_dialect(qs); /* the SQL of the database it runs on (using, router) */
    c->prefix = 'T';
    c->next_alias = 1;
}

/* A scratch compiler for checking names: its joins and SQL are thrown away, only its
 * verdict counts. */
static void scratch_init(cc *c, mn_qs *qs)
{
    memset(c, 0, sizeof *c);
    c->o = qs->o;
    c->qs = qs;
    c->m = qs->m;
    c->d = MN_DIALECT_SQLITE; /* the names resolve alike in both dialects */
    c->prefix = 'T';
    c->next_alias = 1;
}

int mn__check_expr(mn_qs *qs, const mn_expr *e)
{
    cc c;
    scratch_init(&c, qs);
    mn_buf b;
    mn_buf_init(&b, qs->o->arena);
    mn__cc_expr(&c, &b, e);
    return c.err;
}

int mn__check_names(mn_qs *qs, const char *const *names, size_t n, int how)
{
    bool ordering = how == MN__NAMES_ORDER;
    cc c;
    bool started = false;
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        if (ordering && strcmp(name, "?") == 0)
            continue;
        if (ordering && (*name == '-' || *name == '+'))
            name++;
        if (!strstr(name, "__") && mn__field(qs->m, name, strlen(name)))
            continue; /* the common case needs no compiler */
        if (!started) {
            scratch_init(&c, qs);
            started = true;
        }
        resolved r;
        if ((how != MN__NAMES_PLAIN ? mn__cc_order_path(&c, name, &r, NULL, NULL)
                                    : mn__cc_resolve(&c, name, false, &r)) != 0 ||
            c.err)
            return c.err ? c.err : MN_EFIELD;
    }
    return 0;
}

int mn__compile(mn_qs *qs, int kind, const mn_kv *set, size_t nset, sqlq *out)
{
    /* mn_orm_error() is the error of the call that just ran: a query that compiles and runs
     * leaves "" there, not an earlier call's failure */
    mn_orm_clear_error(qs->o);
    cc c;
    cc_init(&c, qs);
    mn_buf text;
    mn_buf_init(&text, qs->o->arena);
    memset(out, 0, sizeof *out);
    if (kind == SQL_EXISTS && (qs->low > 0 || qs->high >= 0 || qs->nannots)) {
        /* a slice or a GROUP BY decides which rows there are: ask about them, as Django's
         * exists() keeps both */
        if (select_from_rows(&c, qs, "SELECT 1 AS \"a\"", &text) != 0)
            return c.err;
        mn_buf_puts(&text, " LIMIT 1");
        return finish(&c, &text, out);
    }
    if (kind == SQL_SELECT || kind == SQL_EXISTS || kind == SQL_PKS) {
        if (mn__cc_select(&c, qs, kind, &text, out) != 0)
            return c.err;
        sqlq meta = *out;
        int rc = finish(&c, &text, out);
        out->cols = meta.cols, out->ncols = meta.ncols, out->rels = meta.rels;
        out->nrels = meta.nrels, out->nannots = meta.nannots, out->vnames = meta.vnames;
        out->vfields = meta.vfields, out->vtypes = meta.vtypes, out->nv = meta.nv;
        return rc;
    }
    if (kind == SQL_COUNT) {
        bool wrap =
            qs->distinct || qs->low > 0 || qs->high >= 0 || qs->nannots || qs->mode != MODE_OBJECTS;
        if (wrap) {
            mn_qs nolock = *qs; /* count() locks nothing, as Django's get_aggregation() */
            nolock.for_update = false;
            if (select_from_rows(&c, &nolock, "SELECT COUNT(*)", &text) != 0)
                return c.err;
        } else {
            mn_buf w;
            mn_buf_init(&w, qs->o->arena);
            if (plain_where(&c, qs, &w) != 0)
                return c.err;
            mn_buf_puts(&text, "SELECT COUNT(*)");
            put_from_where(&c, &text, &w);
        }
        return finish(&c, &text, out);
    }
    if (kind == SQL_DELETE || kind == SQL_UPDATE) {
        /* Filters are compiled first into a pk subquery when they need joins. A filter on an
         * aggregate annotation needs the whole grouped query: pk IN (SELECT pk ... GROUP BY
         * ... HAVING ...), as Django's update() of such a queryset. */
        bool grouped = qs->nannots && q_mentions_agg(qs, qs->where);
        mn_buf w;
        mn_buf_init(&w, qs->o->arena);
        if (!grouped && plain_where(&c, qs, &w) != 0)
            return c.err;
        mn_buf head;
        mn_buf_init(&head, qs->o->arena);
        mn_buf_puts(&head, kind == SQL_DELETE ? "DELETE FROM " : "UPDATE ");
        mn__quote(&head, mrt(qs->m)->table);
        mn_buf_puts(&head, " AS \"T0\"");
        if (kind == SQL_UPDATE) {
            mn_buf_puts(&head, " SET ");
            for (size_t i = 0; i < nset; i++) {
                const mn_fielddef *f = mn__field(qs->m, set[i].key, strlen(set[i].key));
                if (!f || !mn__has_column(f)) {
                    if (!f)
                        mn__no_field(qs->o, qs->m, set[i].key, strlen(set[i].key));
                    else
                        mn__orm_fail(qs->o, MN_EFIELD, "%s.%s cannot be updated", qs->m->name,
                                     f->name);
                    return MN_EFIELD;
                }
                if (i)
                    mn_buf_puts(&head, ", ");
                mn__quote(&head, f->column);
                mn_buf_puts(&head, " = ");
                if (set[i].value.type == MN_ARG_EXPR) {
                    size_t before = c.nj;
                    /* SQLite keeps any integer: a decimal wider than max_digits is refused
                     * by sqlite.c's mn_decimal_fits(), as PostgreSQL's numeric(p, s) does */
                    bool check = c.d == MN_DIALECT_SQLITE && f->type == MN_DECIMAL;
                    if (check)
                        mn_buf_puts(&head, "mn_decimal_fits(");
                    xty et = c.d == MN_DIALECT_SQLITE
                                 ? mn__expr_type(qs->m, qs, set[i].value.v.expr)
                                 : (xty){XT_OTHER, 0};
                    xty ft = f->type == MN_DECIMAL      ? (xty){XT_DEC, f->decimal_places}
                             : mn__is_int_type(f->type) ? (xty){XT_INT, 0}
                                                        : (xty){XT_OTHER, 0};
                    if (et.t != XT_OTHER && ft.t != XT_OTHER &&
                        (et.t == XT_DEC || ft.t == XT_DEC)) {
                        /* update(price=F(pages)) on SQLite: store at the field's scale */
                        mn_buf eb;
                        mn_buf_init(&eb, qs->o->arena);
                        mn__cc_expr(&c, &eb, set[i].value.v.expr);
                        mn__sqlite_as(&head, mn_buf_cstr(&eb), et, ft);
                    } else {
                        mn__cc_expr(&c, &head, set[i].value.v.expr);
                    }
                    if (check)
                        mn_buf_printf(&head, ", %d, %d, '%s.%s')",
                                      f->max_digits ? f->max_digits : 18, f->decimal_places,
                                      qs->m->name, f->name);
                    if (c.nj != before)
                        return mn__cc_fail(
                            &c, MN_EFIELD,
                            "Joined field references are not permitted in this query");
                } else {
                    mn_dbparam p;
                    int rc = f->type == MN_DECIMAL ? mn__decimal_fits(qs->o, f, set[i].value) : 0;
                    if (rc == 0)
                        rc = mn__arg_param(qs->o, f, set[i].value, c.d, &p);
                    if (rc)
                        return rc;
                    mn__cc_param(&c, &head, p);
                }
                if (c.err)
                    return c.err;
            }
        }
        mn_buf_append(&text, head.data, head.len);
        if (grouped) {
            mn_buf inner;
            mn_buf_init(&inner, qs->o->arena);
            mn_qs tmp = *qs;
            tmp.mode = MODE_OBJECTS;
            tmp.order_set = true;
            tmp.norder = 0;
            tmp.reversed = false;
            if (mn__cc_select(&c, &tmp, SQL_PKS, &inner, NULL) != 0)
                return c.err;
            mn_buf_puts(&text, " WHERE \"T0\".");
            mn__quote(&text, qs->m->pk->column);
            mn_buf_puts(&text, " IN (");
            mn_buf_append(&text, inner.data, inner.len);
            mn_buf_putc(&text, ')');
        } else if (c.nj) {
            mn_buf_puts(&text, " WHERE \"T0\".");
            mn__quote(&text, qs->m->pk->column);
            mn_buf_puts(&text, " IN (SELECT \"T0\".");
            mn__quote(&text, qs->m->pk->column);
            put_from_where(&c, &text, &w);
            mn_buf_putc(&text, ')');
        } else if (w.len) {
            mn_buf_puts(&text, " WHERE ");
            mn_buf_append(&text, w.data, w.len);
        }
        return finish(&c, &text, out);
    }
    return MN_EINVAL;
}

int mn__compile_aggregate(mn_qs *qs, const char **names, const mn_expr **exprs, size_t n, sqlq *out)
{
    mn_orm_clear_error(qs->o);
    cc c;
    cc_init(&c, qs);
    memset(out, 0, sizeof *out);
    mn_buf text, sel;
    mn_buf_init(&text, qs->o->arena);
    mn_buf_init(&sel, qs->o->arena);
    bool wrap = qs->distinct || qs->low > 0 || qs->high >= 0 || qs->nannots;
    if (wrap) {
        /* aggregate over the sliced/annotated rows: an outer query on a subquery */
        mn_buf inner;
        mn_buf_init(&inner, qs->o->arena);
        mn_qs tmp = *qs;
        tmp.for_update = false; /* as Django's get_aggregation(): an aggregate locks nothing */
        size_t ng = 0;
        if (!mn__qs_group(qs, &ng)) /* values(x).annotate(...) keeps its rows, one per x */
            tmp.mode = MODE_OBJECTS;
        if (mn__cc_select(&c, &tmp, SQL_SELECT, &inner, NULL) != 0)
            return c.err;
        mn_buf_puts(&text, "SELECT ");
        for (size_t i = 0; i < n; i++) {
            const mn_expr *e = exprs[i];
            if (e->kind != E_AGG)
                return mn__cc_fail(&c, MN_EINVAL, "aggregate() needs aggregate expressions");
            const mn_fielddef *f =
                strcmp(e->path, "*") ? mn__field(qs->m, e->path, strlen(e->path)) : NULL;
            bool is_ann = false;
            for (size_t k = 0; k < qs->nannots; k++)
                is_ann |= strcmp(qs->annots[k].name, e->path) == 0;
            if (!f && !is_ann && strcmp(e->path, "*") != 0) {
                /* a misspelt path says so; a right one across a relation is not read from
                 * the subquery's columns */
                if (mn__check_names(qs, &e->path, 1, MN__NAMES_PLAIN) != 0)
                    return qs->o->errcode;
                return mn__cc_fail(&c, MN_EUNSUPPORTED,
                                   "aggregate() over a sliced, distinct or annotated %s queryset "
                                   "takes %s's own fields and annotations, not '%s'",
                                   qs->m->name, qs->m->name, e->path);
            }
            if (e->filter)
                /* the condition names the model's fields, not the subquery's columns: refused
                 * rather than ignored */
                return mn__cc_fail(&c, MN_EUNSUPPORTED,
                                   "aggregate() with filter= over a sliced, distinct or annotated "
                                   "%s queryset is not supported",
                                   qs->m->name);
            mn_buf col;
            mn_buf_init(&col, qs->o->arena);
            if (strcmp(e->path, "*") == 0)
                mn_buf_putc(&col, '*');
            else
                mn__quote(&col, f ? f->column : e->path);
            xty t = mn__expr_type(qs->m, qs, e);
            mn_buf_puts(&text, i ? ", " : "");
            if (e->has_default)
                mn_buf_puts(&text, "COALESCE(");
            if (e->agg == AGG_AVG && t.t == XT_DEC && t.scale >= 0) {
                const char *x = mn_buf_cstr(&col);
                mn__dec_avg_sql(c.d, &text,
                                e->distinct ? mn_arena_printf(qs->o->arena, "DISTINCT %s", x) : x,
                                t.scale);
            } else {
                mn_buf agg;
                mn_buf_init(&agg, qs->o->arena);
                mn_buf_printf(&agg, "%s(%s", mn__agg_name(e->agg), e->distinct ? "DISTINCT " : "");
                mn_buf_append(&agg, col.data, col.len);
                mn_buf_putc(&agg, ')');
                if (e->agg == AGG_SUM && is_ann && t.t == XT_DEC && t.scale > 0 &&
                    c.d == MN_DIALECT_SQLITE)
                    mn__sqlite_dec_text(&text, mn_buf_cstr(&agg), t.scale);
                else
                    mn_buf_append(&text, agg.data, agg.len);
            }
            if (e->has_default) {
                mn_buf_puts(&text, ", ");
                mn__cc_agg_default(&c, &text, e);
                mn_buf_putc(&text, ')');
            }
            mn_buf_puts(&text, " AS ");
            mn__quote(&text, names[i]);
        }
        put_subquery(&text, &inner);
        return finish(&c, &text, out);
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            mn_buf_puts(&sel, ", ");
        mn__cc_expr(&c, &sel, exprs[i]);
        mn_buf_puts(&sel, " AS ");
        mn__quote(&sel, names[i]);
    }
    mn_buf w;
    mn_buf_init(&w, qs->o->arena);
    if (plain_where(&c, qs, &w) != 0)
        return c.err;
    mn_buf_puts(&text, "SELECT ");
    mn_buf_append(&text, sel.data, sel.len);
    put_from_where(&c, &text, &w);
    return finish(&c, &text, out);
}

const char *mn_qs_sql(mn_qs *qs, size_t *nparams)
{
    if (!qs)
        return NULL;
    sqlq q;
    if (mn__compile(qs, SQL_SELECT, NULL, 0, &q) != 0)
        return NULL;
    if (nparams)
        *nparams = q.nparams;
    return q.sql;
}
