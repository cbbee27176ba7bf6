/* related.c — related objects: loading what a foreign key points to, reverse and
 * many-to-many relations as querysets (using prefetched rows when there are), and the M2M
 * add/remove/set/clear operations on the through table. */
#include "internal.h"
#include "rel_internal.h"

/* ---- relations ---- */
void *mn_fk_get_at(mn_orm *o, void *obj, const char *field, const char *file, int line)
{
    mn_obj *h = obj;
    if (mn__ready(o) != 0)
        return NULL;
    const mn_fielddef *f = mn__field(h->model, field, strlen(field));
    if (!f || (f->type != MN_FK && f->type != MN_O2O)) {
        const revrel *r = mn__revrel(h->model, field, strlen(field), true);
        if (r && r->field->type == MN_O2O) /* reverse one-to-one: place.restaurant */
            return mn_qs_get(mn_qs_filter_kv(mn__qs_hint(mn_qs_all(o, r->from), obj),
                                             &(mn_kv){r->field->name, mn_arg_obj(obj)}, 1));
        if (!f)
            mn__no_field(o, h->model, field, strlen(field));
        else
            mn__orm_fail(o, MN_EINVAL, "%s.%s is not a foreign key", h->model->name, field);
        return NULL;
    }
    mn_fk *fk = mn__fptr(obj, f);
    if (fk->obj && mn__pk_set(fk->obj) && mn__fk_cache_stale(fk, mn__rel_arg(fk->obj, f)))
        fk->obj = NULL; /* the key was changed since: load the row it names, as Django */
    if (fk->obj)
        return fk->obj;
    if (mn__is_null(obj, f))
        return NULL;
    /* routed with obj as the hint (Django's instance=): by default on obj's database */
    fk->obj = mn_qs_get(
        mn_qs_filter_kv(mn__qs_hint(mn_qs_all_at(o, f->rel_model, file, line), obj),
                        &(mn_kv){f->to_field ? f->to_field : "pk", mn__fk_arg(obj, f)}, 1));
    return fk->obj;
}

mn_qs *mn_related_at(mn_orm *o, const void *obj, const char *accessor, const char *file, int line)
{
    const mn_obj *h = obj;
    if (mn__ready(o) != 0)
        return NULL;
    const mn_model *m = h->model;
    const revrel *r = mn__revrel(m, accessor, strlen(accessor), true);
    mn_qs *qs = NULL;
    if (r) {
        qs = mn_qs_filter_kv(mn__qs_hint(mn_qs_all(o, r->from), obj),
                             &(mn_kv){r->field->name, mn_arg_obj(obj)}, 1);
        if (qs && r->field->type == MN_FK) {
            qs->rel_fk = r->field;
            qs->rel_obj = obj;
        } else if (qs && r->field->type == MN_M2M) {
            qs->rel_m2m = mn_arena_strdup(o->arena, accessor);
            qs->rel_obj = obj;
        }
    } else {
        const mn_fielddef *f = mn__field(m, accessor, strlen(accessor));
        if (!f || f->type != MN_M2M) {
            mn__no_field(o, m, accessor, strlen(accessor));
            return NULL;
        }
        /* forward M2M: targets whose pk is in the through rows of obj */
        const mn_model *t = f->through_model;
        const mn_fielddef *src = NULL, *dst = NULL;
        for (size_t i = 0; i < t->nfields; i++) {
            const mn_fielddef *tf = &t->fields[i];
            if (tf->type != MN_FK)
                continue;
            if (!src && tf->rel_model == m)
                src = tf;
            else if (!dst && tf->rel_model == f->rel_model)
                dst = tf;
        }
        if (!src || !dst) {
            mn__orm_fail(o, MN_EINVAL, "%s.%s: the through model lacks its foreign keys", m->name,
                         f->name);
            return NULL;
        }
        mn_qs *ids = mn_qs_values_list(
            mn_qs_filter_kv(mn_qs_all(o, t), &(mn_kv){src->name, mn_arg_obj(obj)}, 1), dst->name,
            true);
        qs = mn_qs_filter_kv(mn__qs_hint(mn_qs_all(o, f->rel_model), obj),
                             &(mn_kv){"pk__in", mn_arg_qs(ids)}, 1);
        if (qs) {
            qs->rel_m2m = f->name;
            qs->rel_obj = obj;
        }
    }
    if (qs) { /* the line the N+1 warning names when the caller loops over objects */
        qs->file = file;
        qs->line = line;
    }
    mn_rows *pre = mn__prefetched(obj, accessor);
    if (qs && pre)
        qs->cache = pre;
    return qs;
}

/* The end of an M2M write: the error of the last call, "" when it worked. */
static int m2m_done(mn_orm *o, int rc)
{
    if (rc == 0)
        mn_orm_clear_error(o);
    return rc;
}

/* One side of a many-to-many relation, as the manager of `obj.<name>` sees it: the through
 * model, its foreign key to obj's model (src) and to the other side (dst). From the side of
 * the related_name (tag.books) the two keys swap, as Django's reverse manager. */
typedef struct m2m_side {
    const mn_model *t;
    const mn_fielddef *src, *dst;
    const mn_model *other; /* the model of the objects added and removed */
    bool reverse;
    bool explicit_through;
    const char *db; /* where the through rows are read and written */
} m2m_side;

static int m2m_parts(mn_orm *o, void *obj, const char *field, m2m_side *s)
{
    mn_obj *h = obj;
    if (mn__ready(o) != 0)
        return o->errcode;
    *s = (m2m_side){0};
    const mn_fielddef *f = mn__field(h->model, field, strlen(field));
    const mn_model *from = h->model;
    if (!f) {
        const revrel *r = mn__revrel(h->model, field, strlen(field), true);
        if (r && r->field->type == MN_M2M) {
            f = r->field;
            from = r->from;
            s->reverse = true;
        } else if (r) {
            return mn__orm_fail(o, MN_EINVAL, "%s.%s is not a many-to-many relation",
                                h->model->name, field);
        } else {
            return mn__no_field(o, h->model, field, strlen(field));
        }
    } else if (f->type != MN_M2M) {
        return mn__orm_fail(o, MN_EINVAL, "%s is not a many-to-many field", field);
    }
    s->t = f->through_model;
    s->explicit_through = f->through != NULL;
    const mn_fielddef *fwd_src = NULL, *fwd_dst = NULL;
    for (size_t i = 0; i < s->t->nfields; i++) {
        const mn_fielddef *tf = &s->t->fields[i];
        if (tf->type != MN_FK)
            continue;
        if (!fwd_src && tf->rel_model == from)
            fwd_src = tf;
        else if (!fwd_dst && tf->rel_model == f->rel_model)
            fwd_dst = tf;
    }
    s->src = s->reverse ? fwd_dst : fwd_src;
    s->dst = s->reverse ? fwd_src : fwd_dst;
    s->other = s->reverse ? from : f->rel_model;
    if (!mn__pk_set(obj))
        return mn__orm_fail(o, MN_EINVAL,
                            "\"%s\" needs to have a value for field \"%s\" before "
                            "this many-to-many relationship can be used.",
                            mn_obj_str(o, obj), h->model->pk->name);
    if (!s->src || !s->dst)
        return mn__orm_fail(o, MN_EINVAL, "%s.%s: the through model lacks its foreign keys",
                            h->model->name, field);
    /* as Django's ManyRelatedManager: router.db_for_write(through, instance=obj), which falls
     * back to obj's database; add(), remove(), clear() and set() read and write there */
    const char *route = mn__route(o, s->t, true, obj);
    if (!(s->db = mn__db_name(o, route)))
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            route ? route : "default");
    return 0;
}

/* The through table on the relation's database. */
static mn_qs *through_qs(mn_orm *o, const m2m_side *s)
{
    return mn_qs_using(mn_qs_all(o, s->t), s->db);
}

/* The keys of the objects to add or remove; each must be a saved instance of the other
 * side's model (Django: "'Tag' instance expected, got <Book: ...>") that the router lets obj
 * relate to (Django's add() check; remove() is checked too, where Django is silent: the key
 * of another database's instance would remove an unrelated link). */
static int m2m_keys(mn_orm *o, const m2m_side *s, const void *obj, const char *verb,
                    const void *const *others, size_t n, mn_arg **out)
{
    mn_arg *ids = mn_arena_alloc(o->arena, (n ? n : 1) * sizeof *ids);
    if (!ids)
        return MN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const mn_obj *x = others[i];
        if (!x || x->model != s->other)
            return mn__orm_fail(
                o, MN_EINVAL, "'%s' instance expected, got %s", s->other->name,
                x ? mn_arena_printf(o->arena, "<%s: %s>", x->model->name, mn_obj_str(o, x))
                  : "None");
        if (mn__allow_relation(o, x, obj) != 0)
            return mn__orm_fail(o, MN_EINVAL,
                                "Cannot %s \"<%s: %s>\": instance is on database \"%s\", "
                                "value is on database \"%s\"",
                                verb, x->model->name, mn_obj_str(o, x),
                                ((const mn_obj *)obj)->db ? ((const mn_obj *)obj)->db : "None",
                                x->db ? x->db : "None");
        if (!mn__pk_set(x))
            return mn__orm_fail(o, MN_EINVAL,
                                "Cannot %s \"<%s: %s>\": the value for field \"%s\" is None", verb,
                                x->model->name, mn_obj_str(o, x), s->dst->name);
        ids[i] = mn__pk_arg(x);
    }
    *out = ids;
    return 0;
}

/* ---- m2m_changed: the change being sent, found by the session that sends it ----
 * A receiver may run queries (and so park its coroutine while another one sends its own
 * change), so each send is a frame on the sender's stack, linked per thread and looked up by
 * session rather than kept in one global. */
typedef struct m2m_frame {
    const mn_orm *o;
    mn_m2m_change change;
    struct m2m_frame *next;
} m2m_frame;
static _Thread_local m2m_frame *m2m_frames;

const mn_m2m_change *mn_m2m_changed_info(const mn_orm *o)
{
    for (const m2m_frame *f = m2m_frames; f; f = f->next)
        if (f->o == o)
            return &f->change;
    return NULL;
}

static const char *const action_names[] = {
    [MN_M2M_PRE_ADD] = "pre_add",       [MN_M2M_POST_ADD] = "post_add",
    [MN_M2M_PRE_REMOVE] = "pre_remove", [MN_M2M_POST_REMOVE] = "post_remove",
    [MN_M2M_PRE_CLEAR] = "pre_clear",   [MN_M2M_POST_CLEAR] = "post_clear",
};

/* as django.db.models.signals.m2m_changed: sender is the through model. Returns what
 * mn__signal returns (non-zero: a pre_ receiver refused, once txn.c passes that on). */
static int m2m_send(mn_orm *o, const m2m_side *s, void *obj, mn_m2m_action action,
                    const mn_arg *pks, size_t npk)
{
    if (!mn__has_receivers(MN_M2M_CHANGED, s->t))
        return 0;
    m2m_frame fr = {o,
                    {action, action_names[action], s->reverse, s->other,
                     action == MN_M2M_PRE_CLEAR || action == MN_M2M_POST_CLEAR ? NULL : pks,
                     action == MN_M2M_PRE_CLEAR || action == MN_M2M_POST_CLEAR ? 0 : npk},
                    m2m_frames};
    m2m_frames = &fr;
    bool adding = action == MN_M2M_PRE_ADD || action == MN_M2M_POST_ADD;
    int rc = mn__signal(o, MN_M2M_CHANGED, s->t, obj, adding);
    /* unlink this frame wherever it is now: other coroutines may have pushed and popped */
    for (m2m_frame **pp = &m2m_frames; *pp; pp = &(*pp)->next)
        if (*pp == &fr) {
            *pp = fr.next;
            break;
        }
    return rc;
}

/* The keys among ids[0..n) not linked to obj yet, without duplicates (Django's
 * _get_missing_target_ids): add() neither duplicates rows nor reports them as added. */
static int m2m_missing(mn_orm *o, const m2m_side *s, void *obj, const mn_arg *ids, size_t n,
                       mn_arg **out, size_t *nout)
{
    char *in = mn_arena_printf(o->arena, "%s__in", s->dst->name);
    if (!in)
        return MN_ENOMEM;
    mn_kv kv[2] = {{s->src->name, mn_arg_obj(obj)}, {in, mn_arg_list(ids, n)}};
    mn_rows *have = mn_qs_fetch(
        mn_qs_values_list(mn_qs_filter_kv(through_qs(o, s), kv, 2), s->dst->name, true));
    if (!have)
        return o->errcode ? o->errcode : MN_ENOMEM;
    mn_arg *keep = mn_arena_alloc(o->arena, n * sizeof *keep);
    if (!keep)
        return MN_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; !seen && j < have->len; j++)
            seen = mn__arg_eq(ids[i], mn__value_arg(o->arena, have->items[j]));
        for (size_t j = 0; !seen && j < k; j++)
            seen = mn__arg_eq(ids[i], keep[j]);
        if (!seen)
            keep[k++] = ids[i];
    }
    *out = keep;
    *nout = k;
    return 0;
}

/* INSERTs one through row per key: the two foreign keys, and every other column from its
 * default (Django >= 2.2 for explicit through models) or from through_defaults. */
static int m2m_insert(mn_orm *o, const m2m_side *s, void *obj, const mn_arg *ids, size_t n,
                      const mn_kv *tdef, size_t nd)
{
    const mn_model *t = s->t;
    mn_dbdialect d = mn__dialect(o, s->db);
    const mn_fielddef *cols[64];
    size_t ncols = 0;
    for (size_t i = 0; i < t->nfields; i++) {
        const mn_fielddef *f = &t->fields[i];
        if (mn__has_column(f) && !(f == t->pk && mn__auto_pk(t)))
            cols[ncols++] = f;
    }
    mn_dbparam *ps = mn_arena_alloc(o->arena, n * ncols * sizeof *ps);
    if (!ps)
        return MN_ENOMEM;
    mn_buf sql;
    mn_buf_init(&sql, o->arena);
    mn_buf_puts(&sql, "INSERT INTO ");
    mn__quote(&sql, mrt(t)->table);
    for (size_t k = 0; k < ncols; k++) {
        mn_buf_puts(&sql, k ? ", " : " (");
        mn__quote(&sql, cols[k]->column);
    }
    mn_buf_puts(&sql, ") VALUES ");
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        void *row = mn_obj_new(o, t); /* per row: a default function runs for each */
        if (!row)
            return o->errcode ? o->errcode : MN_ENOMEM;
        for (size_t j = 0; j < nd; j++) {
            int rc = mn_obj_set(o, row, tdef[j].key, tdef[j].value);
            if (rc)
                return rc;
        }
        mn_buf_puts(&sql, i ? ", (" : "(");
        for (size_t k = 0; k < ncols; k++) {
            int rc = cols[k] == s->src   ? mn__arg_param(o, s->src, mn_arg_obj(obj), d, &ps[np])
                     : cols[k] == s->dst ? mn__arg_param(o, s->dst, ids[i], d, &ps[np])
                                         : mn__obj_param(o, row, cols[k], d, &ps[np]);
            if (rc)
                return rc;
            if (k)
                mn_buf_puts(&sql, ", ");
            mn__placeholder(&sql, d, ++np);
        }
        mn_buf_putc(&sql, ')');
    }
    mn_buf_puts(&sql, " ON CONFLICT DO NOTHING");
    return mn_buf_cstr(&sql) ? mn__exec(o, s->db, sql.data, ps, np, NULL) : MN_ENOMEM;
}

static int m2m_add(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n,
                   const mn_kv *tdef, size_t nd)
{
    m2m_side s;
    int rc = m2m_parts(o, obj, field, &s);
    if (rc || n == 0)
        return m2m_done(o, rc);
    mn_arg *ids;
    size_t nids;
    if ((rc = m2m_keys(o, &s, obj, "add", others, n, &ids)) != 0 ||
        (rc = m2m_missing(o, &s, obj, ids, n, &ids, &nids)) != 0)
        return rc;
    if ((rc = m2m_send(o, &s, obj, MN_M2M_PRE_ADD, ids, nids)) != 0)
        return rc;
    if (nids)
        rc = m2m_insert(o, &s, obj, ids, nids, tdef, nd);
    if (rc == 0)
        m2m_send(o, &s, obj, MN_M2M_POST_ADD, ids, nids);
    return m2m_done(o, rc);
}

/* ---- a reverse foreign key's manager (q.choices), as Django's RelatedManager with
 * bulk=True: add() points the rows at obj, remove() and clear() set their key to NULL (a
 * nullable key only, where Django offers them), set() does both (only add() on a key that
 * cannot be NULL); one UPDATE each, no signals. */
typedef enum fkm_op { FKM_ADD, FKM_REMOVE, FKM_CLEAR, FKM_SET } fkm_op;

static const revrel *fk_manager_of(mn_orm *o, const void *obj, const char *field)
{
    if (mn__ready(o) != 0)
        return NULL;
    const mn_obj *h = obj;
    const revrel *r = mn__field(h->model, field, strlen(field))
                          ? NULL
                          : mn__revrel(h->model, field, strlen(field), true);
    return r && r->field->type == MN_FK ? r : NULL;
}

static int fk_manager(mn_orm *o, void *obj, const revrel *r, fkm_op op, const void *const *others,
                      size_t n)
{
    const mn_fielddef *f = r->field;
    mn_obj *h = obj;
    if (!mn__pk_set(obj))
        return mn__orm_fail(o, MN_EINVAL,
                            "'%s' instance needs to have a primary key value before this "
                            "relationship can be used.",
                            h->model->name);
    if ((op == FKM_REMOVE || op == FKM_CLEAR) && !f->null)
        return mn__orm_fail(o, MN_EINVAL,
                            "%s.%s cannot be NULL: the %s manager of %s has no %s() (Django "
                            "offers remove() and clear() on a nullable foreign key only)",
                            r->from->name, f->name, r->accessor, h->model->name,
                            op == FKM_REMOVE ? "remove" : "clear");
    mn_arg val = mn__rel_arg(obj, f);
    mn_arg *pks = mn_arena_alloc(o->arena, (n ? n : 1) * sizeof *pks);
    if (!pks)
        return MN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const mn_obj *x = others[i];
        if (!x || x->model != r->from)
            return mn__orm_fail(
                o, MN_EINVAL, "'%s' instance expected, got %s", r->from->name,
                x ? mn_arena_printf(o->arena, "<%s: %s>", x->model->name, mn_obj_str(o, x))
                  : "None");
        if (!mn__pk_set(x))
            return mn__orm_fail(o, MN_EINVAL,
                                "<%s: %s> instance isn't saved. Use bulk=False or save the "
                                "object first.",
                                x->model->name, mn_obj_str(o, x));
        if (op == FKM_REMOVE && !mn__arg_eq(mn__fk_arg(x, f), val))
            return mn__orm_fail(o, MN_EDOES_NOT_EXIST, "<%s: %s> is not related to <%s: %s>.",
                                x->model->name, mn_obj_str(o, x), h->model->name,
                                mn_obj_str(o, obj));
        pks[i] = mn__pk_arg(x);
    }
    if ((op == FKM_ADD || op == FKM_REMOVE) && n == 0)
        return m2m_done(o, 0);
    mn_qs *mine = mn_qs_filter_kv(mn__qs_hint(mn_qs_all(o, r->from), obj),
                                  &(mn_kv){f->name, mn_arg_obj(obj)}, 1);
    mn_qs *listed = mn_qs_filter_kv(mn__qs_hint(mn_qs_all(o, r->from), obj),
                                    &(mn_kv){"pk__in", mn_arg_list(pks, n)}, 1);
    int64_t rc = 0;
    switch (op) {
    case FKM_CLEAR: rc = mn_qs_update_kv(mine, &(mn_kv){f->name, mn_arg_null()}, 1); break;
    case FKM_REMOVE:
        rc = mn_qs_update_kv(mn_qs_filter_kv(listed, &(mn_kv){f->name, mn_arg_obj(obj)}, 1),
                             &(mn_kv){f->name, mn_arg_null()}, 1);
        break;
    case FKM_SET: { /* the rows not listed leave (nullable), then the listed ones join */
        int atomic = mn__atomic_for(o, mn__db_name(o, mn__route(o, r->from, true, obj)));
        if (atomic < 0)
            return atomic;
        if (f->null)
            rc = mn_qs_update_kv(
                n ? mn_qs_exclude_kv(mine, &(mn_kv){"pk__in", mn_arg_list(pks, n)}, 1) : mine,
                &(mn_kv){f->name, mn_arg_null()}, 1);
        if (rc >= 0 && n)
            rc = mn_qs_update_kv(listed, &(mn_kv){f->name, mn_arg_obj(obj)}, 1);
        int end = mn_atomic_end(o, rc >= 0);
        if (rc >= 0 && end)
            rc = end;
        break;
    }
    case FKM_ADD: rc = mn_qs_update_kv(listed, &(mn_kv){f->name, mn_arg_obj(obj)}, 1); break;
    }
    if (rc < 0)
        return (int)rc;
    for (size_t i = 0; i < n; i++) /* the instances given, as Django's setattr */
        if (op != FKM_CLEAR && mn_obj_set(o, (void *)others[i], f->name,
                                          op == FKM_REMOVE ? mn_arg_null() : mn_arg_obj(obj)) != 0)
            return o->errcode;
    return m2m_done(o, 0);
}

int mn_m2m_add(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const revrel *r = fk_manager_of(o, obj, field);
    return r ? fk_manager(o, obj, r, FKM_ADD, others, n)
             : m2m_add(o, obj, field, others, n, NULL, 0);
}

int mn_m2m_add_through(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n,
                       const mn_kv *through_defaults, size_t nd)
{
    return m2m_add(o, obj, field, others, n, through_defaults, nd);
}

static int m2m_remove_keys(mn_orm *o, const m2m_side *s, void *obj, const mn_arg *ids, size_t n)
{
    char *in = mn_arena_printf(o->arena, "%s__in", s->dst->name);
    if (!in)
        return MN_ENOMEM;
    mn_kv kv[2] = {{s->src->name, mn_arg_obj(obj)}, {in, mn_arg_list(ids, n)}};
    int rc = m2m_send(o, s, obj, MN_M2M_PRE_REMOVE, ids, n);
    if (rc)
        return rc;
    int64_t r = mn_qs_delete(mn_qs_filter_kv(through_qs(o, s), kv, 2), NULL);
    if (r < 0)
        return (int)r;
    m2m_send(o, s, obj, MN_M2M_POST_REMOVE, ids, n);
    return 0;
}

int mn_m2m_remove(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const revrel *r = fk_manager_of(o, obj, field);
    if (r)
        return fk_manager(o, obj, r, FKM_REMOVE, others, n);
    m2m_side s;
    int rc = m2m_parts(o, obj, field, &s);
    if (rc || n == 0)
        return m2m_done(o, rc);
    mn_arg *ids;
    if ((rc = m2m_keys(o, &s, obj, "remove", others, n, &ids)) != 0)
        return rc;
    return m2m_done(o, m2m_remove_keys(o, &s, obj, ids, n));
}

int mn_m2m_clear(mn_orm *o, void *obj, const char *field)
{
    const revrel *fr = fk_manager_of(o, obj, field);
    if (fr)
        return fk_manager(o, obj, fr, FKM_CLEAR, NULL, 0);
    m2m_side s;
    int rc = m2m_parts(o, obj, field, &s);
    if (rc)
        return rc;
    if ((rc = m2m_send(o, &s, obj, MN_M2M_PRE_CLEAR, NULL, 0)) != 0)
        return rc;
    int64_t r = mn_qs_delete(
        mn_qs_filter_kv(through_qs(o, &s), &(mn_kv){s.src->name, mn_arg_obj(obj)}, 1), NULL);
    if (r < 0)
        return (int)r;
    m2m_send(o, &s, obj, MN_M2M_POST_CLEAR, NULL, 0);
    return m2m_done(o, 0);
}

/* As Django's set(): removes the links not in others, then adds the missing ones, so
 * receivers see a remove and an add of exactly what changed. */
static int m2m_set(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n,
                   const mn_kv *tdef, size_t nd)
{
    m2m_side s;
    int rc = m2m_parts(o, obj, field, &s);
    if (rc)
        return rc;
    mn_arg *ids;
    if ((rc = m2m_keys(o, &s, obj, "add", others, n, &ids)) != 0)
        return rc;
    mn_rows *have = mn_qs_fetch(mn_qs_values_list(
        mn_qs_filter_kv(through_qs(o, &s), &(mn_kv){s.src->name, mn_arg_obj(obj)}, 1), s.dst->name,
        true));
    if (!have)
        return o->errcode ? o->errcode : MN_ENOMEM;
    mn_arg *gone = mn_arena_alloc(o->arena, (have->len ? have->len : 1) * sizeof *gone);
    if (!gone)
        return MN_ENOMEM;
    size_t ngone = 0;
    for (size_t j = 0; j < have->len; j++) {
        mn_arg k = mn__value_arg(o->arena, have->items[j]);
        bool keep = false;
        for (size_t i = 0; !keep && i < n; i++)
            keep = mn__arg_eq(k, ids[i]);
        if (!keep)
            gone[ngone++] = k;
    }
    int atomic = mn__atomic_for(o, s.db); /* Django: atomic(using=db) */
    if (atomic < 0)
        return atomic;
    rc = 0;
    if (ngone)
        rc = m2m_remove_keys(o, &s, obj, gone, ngone);
    if (rc == 0)
        rc = m2m_add(o, obj, field, others, n, tdef, nd);
    int end = atomic ? mn_atomic_end(o, rc == 0) : 0;
    return m2m_done(o, rc ? rc : end);
}

int mn_m2m_set(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const revrel *r = fk_manager_of(o, obj, field);
    return r ? fk_manager(o, obj, r, FKM_SET, others, n)
             : m2m_set(o, obj, field, others, n, NULL, 0);
}

int mn_m2m_set_through(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n,
                       const mn_kv *through_defaults, size_t nd)
{
    return m2m_set(o, obj, field, others, n, through_defaults, nd);
}
