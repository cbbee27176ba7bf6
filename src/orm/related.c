/* related.c — related objects: loading what a foreign key points to, reverse and
 * many-to-many relations as querysets (using prefetched rows when there are), and the M2M
 * add/remove/set/clear operations on the through table. */
#include "internal.h"

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
            return mn_qs_get(mn_qs_filter_kv(mn_qs_all(o, r->from),
                                             &(mn_kv){r->field->name, mn_arg_obj(obj)}, 1));
        if (!f)
            mn__no_field(o, h->model, field, strlen(field));
        else
            mn__orm_fail(o, MN_EINVAL, "%s.%s is not a foreign key", h->model->name, field);
        return NULL;
    }
    mn_fk *fk = mn__fptr(obj, f);
    if (fk->obj)
        return fk->obj;
    if (mn__is_null(obj, f))
        return NULL;
    fk->obj = mn_qs_get(mn_qs_filter_kv(mn_qs_all_at(o, f->rel_model, file, line),
                                        &(mn_kv){"pk", mn__fk_arg(obj, f)}, 1));
    return fk->obj;
}

mn_qs *mn_related(mn_orm *o, const void *obj, const char *accessor)
{
    const mn_obj *h = obj;
    if (mn__ready(o) != 0)
        return NULL;
    const mn_model *m = h->model;
    const revrel *r = mn__revrel(m, accessor, strlen(accessor), true);
    mn_qs *qs = NULL;
    if (r) {
        qs = mn_qs_filter_kv(mn_qs_all(o, r->from), &(mn_kv){r->field->name, mn_arg_obj(obj)}, 1);
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
        qs = mn_qs_filter_kv(mn_qs_all(o, f->rel_model), &(mn_kv){"pk__in", mn_arg_qs(ids)}, 1);
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

static int m2m_parts(mn_orm *o, void *obj, const char *field, const mn_model **t,
                     const mn_fielddef **src, const mn_fielddef **dst)
{
    mn_obj *h = obj;
    if (mn__ready(o) != 0)
        return o->errcode;
    const mn_fielddef *f = mn__field(h->model, field, strlen(field));
    if (!f || f->type != MN_M2M)
        return f ? mn__orm_fail(o, MN_EINVAL, "%s is not a many-to-many field", field)
                 : mn__no_field(o, h->model, field, strlen(field));
    *t = f->through_model;
    *src = *dst = NULL;
    for (size_t i = 0; i < (*t)->nfields; i++) {
        const mn_fielddef *tf = &(*t)->fields[i];
        if (tf->type != MN_FK)
            continue;
        if (!*src && tf->rel_model == h->model)
            *src = tf;
        else if (!*dst && tf->rel_model == f->rel_model)
            *dst = tf;
    }
    if (!mn__pk_set(obj))
        return mn__orm_fail(o, MN_EINVAL,
                            "\"%s\" needs to have a value for field \"%s\" before "
                            "this many-to-many relationship can be used.",
                            mn_obj_str(o, obj), h->model->pk->name);
    return *src && *dst ? 0 : MN_EINVAL;
}

int mn_m2m_add(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const mn_model *t;
    const mn_fielddef *src, *dst;
    int rc = m2m_parts(o, obj, field, &t, &src, &dst);
    if (rc || n == 0)
        return m2m_done(o, rc);
    mn_dbdialect d = mn__dialect(o, NULL);
    mn_buf sql;
    mn_buf_init(&sql, o->arena);
    mn_dbparam *ps = mn_arena_alloc(o->arena, 2 * n * sizeof *ps);
    if (!ps)
        return MN_ENOMEM;
    mn_buf_puts(&sql, "INSERT INTO ");
    mn__quote(&sql, mrt(t)->table);
    mn_buf_puts(&sql, " (");
    mn__quote(&sql, src->column);
    mn_buf_puts(&sql, ", ");
    mn__quote(&sql, dst->column);
    mn_buf_puts(&sql, ") VALUES ");
    for (size_t i = 0; i < n; i++) {
        if ((rc = mn__arg_param(o, src, mn_arg_obj(obj), d, &ps[2 * i])) != 0 ||
            (rc = mn__arg_param(o, dst, mn_arg_obj(others[i]), d, &ps[2 * i + 1])) != 0)
            return rc;
        mn_buf_puts(&sql, i ? ", (" : "(");
        mn__placeholder(&sql, d, 2 * i + 1);
        mn_buf_puts(&sql, ", ");
        mn__placeholder(&sql, d, 2 * i + 2);
        mn_buf_putc(&sql, ')');
    }
    mn_buf_puts(&sql, " ON CONFLICT DO NOTHING");
    rc = mn__signal(o, MN_M2M_CHANGED, t, obj, true);
    if (rc == 0)
        rc = mn_buf_cstr(&sql) ? mn__exec(o, NULL, sql.data, ps, 2 * n, NULL) : MN_ENOMEM;
    if (rc == 0) /* mn_orm_error() is the last call's: "" after a success */
        mn_orm_clear_error(o);
    return rc;
}

int mn_m2m_remove(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const mn_model *t;
    const mn_fielddef *src, *dst;
    int rc = m2m_parts(o, obj, field, &t, &src, &dst);
    if (rc || n == 0)
        return m2m_done(o, rc);
    mn_arg *ids = mn_arena_alloc(o->arena, n * sizeof *ids);
    if (!ids)
        return MN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = mn__pk_arg(others[i]);
    char *in = mn_arena_printf(o->arena, "%s__in", dst->name);
    mn_kv kv[2] = {{src->name, mn_arg_obj(obj)}, {in, mn_arg_list(ids, n)}};
    mn__signal(o, MN_M2M_CHANGED, t, obj, false);
    int64_t r = mn_qs_delete(mn_qs_filter_kv(mn_qs_all(o, t), kv, 2), NULL);
    return m2m_done(o, r < 0 ? (int)r : 0);
}

int mn_m2m_clear(mn_orm *o, void *obj, const char *field)
{
    const mn_model *t;
    const mn_fielddef *src, *dst;
    int rc = m2m_parts(o, obj, field, &t, &src, &dst);
    if (rc)
        return rc;
    mn__signal(o, MN_M2M_CHANGED, t, obj, false);
    int64_t r = mn_qs_delete(
        mn_qs_filter_kv(mn_qs_all(o, t), &(mn_kv){src->name, mn_arg_obj(obj)}, 1), NULL);
    return m2m_done(o, r < 0 ? (int)r : 0);
}

int mn_m2m_set(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    int rc = mn_m2m_clear(o, obj, field);
    return rc ? rc : m2m_done(o, mn_m2m_add(o, obj, field, others, n));
}
