/* write.c — the write side: new instances, save (insert or update, update_fields),
 * create, update(), get_or_create/update_or_create, bulk_create/bulk_update, related-object
 * access (FK loads, reverse and M2M querysets, add/remove/set/clear), refresh, display. */
#include "internal.h"

#include <time.h>

static const char *write_alias(mn_orm *o, const mn_model *m)
{
    return o->route ? o->route(m, true, o->route_user) : NULL;
}

void *mn_obj_new(mn_orm *o, const mn_model *m)
{
    if (!o || !m || mn__ready(o) != 0)
        return NULL;
    mn_obj *h = mn_arena_calloc(o->arena, 1, m->size);
    if (!h)
        return NULL;
    h->model = m;
    h->orm = o;
    mn__apply_defaults(o, m, h);
    return h;
}

int mn_obj_set(mn_orm *o, void *obj, const char *field, mn_arg a)
{
    mn_obj *h = obj;
    const mn_model *m = h->model;
    if (mn__ready(o) != 0)
        return o->errcode;
    const mn_fielddef *f = mn__field(m, field, strlen(field));
    if (!f)
        return mn__no_field(o, m, field, strlen(field));
    void *p = mn__fptr(obj, f);
    if (a.type == MN_ARG_NULL || (a.type == MN_ARG_STR && !a.v.s)) {
        mn__set_null(obj, f, true);
        if (mn__is_text_type(f->type) || f->type == MN_DECIMAL)
            *(const char **)p = NULL;
        else if (f->type == MN_FK || f->type == MN_O2O)
            *(mn_fk *)p = (mn_fk){0, NULL};
        return 0;
    }
    mn__set_null(obj, f, false);
    h->deferred &= ~(UINT64_C(1) << f->index);
    if (f->type == MN_FK || f->type == MN_O2O) {
        mn_fk *fk = p;
        if (a.type == MN_ARG_INSTANCE) {
            fk->obj = (void *)a.v.obj;
            fk->id = mn_obj_pk(a.v.obj);
            return 0;
        }
        fk->obj = NULL;
    }
    if (f->type == MN_M2M)
        return mn__orm_fail(o, MN_EINVAL, "Direct assignment to the forward side of a many-to-many "
                            "set is prohibited. Use %s.set() instead.", f->name);
    /* convert through the parameter path, then store as if read back from the database */
    mn_dbdialect d = mn__dialect(o, NULL);
    mn_dbparam prm;
    int rc = mn__arg_param(o, f, a, d, &prm);
    if (rc)
        return rc;
    if (f->type == MN_DECIMAL) {
        /* keep the user's exact text, normalised to the field's places by a round trip */
        mn_dbcell c = prm;
        return mn__cell_store(o, obj, f, &c);
    }
    mn_dbcell c = prm;
    if (c.type == MN_DBT_BOOL)
        c.type = MN_DBT_INT;
    if (c.type == MN_DBT_TEXT || c.type == MN_DBT_BLOB) {
        char *copy = mn_arena_alloc(o->arena, c.v.s.len + 1);
        if (!copy)
            return MN_ENOMEM;
        memcpy(copy, c.v.s.ptr, c.v.s.len);
        copy[c.v.s.len] = '\0';
        c.v.s.ptr = copy;
    }
    return mn__cell_store(o, obj, f, &c);
}

static void now_utc(mn_datetime *dt)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    *dt = (mn_datetime){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, (int32_t)(ts.tv_nsec / 1000), 0, true, "UTC"};
}

static void touch_auto_now(void *obj, const mn_model *m, bool adding)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if ((f->auto_now || (f->auto_now_add && adding)) &&
            (f->type == MN_DATETIME || f->type == MN_DATE)) {
            mn_datetime *dt = mn__fptr(obj, f);
            now_utc(dt);
            if (f->type == MN_DATE)
                dt->hour = dt->minute = dt->second = dt->microsecond = 0;
            mn__set_null(obj, f, false);
        }
    }
}

static bool auto_pk(const mn_model *m)
{
    mn_ftype t = m->pk->type;
    return t == MN_AUTO || t == MN_BIGAUTO || t == MN_SMALLAUTO;
}

static bool in_names(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t k = strcspn(p, ", ");
        if (k == n && strncmp(p, name, n) == 0)
            return true;
        p += k;
    }
    return false;
}

/* Sends the FK caches' ids down before writing (obj.question = q then q saved later). */
static void sync_fks(void *obj, const mn_model *m)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (f->type != MN_FK && f->type != MN_O2O)
            continue;
        mn_fk *fk = mn__fptr(obj, f);
        if (fk->obj && mn_obj_pk(fk->obj))
            fk->id = mn_obj_pk(fk->obj);
    }
}

static int do_insert(mn_orm *o, void *obj, const mn_model *m, const char *alias)
{
    mn_dbdialect d = mn__dialect(o, alias);
    mn_buf sql;
    mn_buf_init(&sql, o->arena);
    mn_dbparam *ps = mn_arena_alloc(o->arena, (m->nfields + 1) * sizeof *ps);
    if (!ps)
        return MN_ENOMEM;
    size_t n = 0;
    bool skip_pk = auto_pk(m) && mn_obj_pk(obj) == 0;
    mn_buf_puts(&sql, "INSERT INTO ");
    mn__quote(&sql, mrt(m)->table);
    mn_buf vals;
    mn_buf_init(&vals, o->arena);
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (!mn__has_column(f) || (f == m->pk && skip_pk))
            continue;
        int rc = mn__obj_param(o, obj, f, d, &ps[n]);
        if (rc)
            return rc;
        mn_buf_puts(&sql, n ? ", " : " (");
        mn__quote(&sql, f->column);
        if (n)
            mn_buf_puts(&vals, ", ");
        n++;
        mn__placeholder(&vals, d, n);
    }
    if (n) {
        mn_buf_puts(&sql, ") VALUES (");
        mn_buf_append(&sql, vals.data, vals.len);
        mn_buf_putc(&sql, ')');
    } else {
        mn_buf_puts(&sql, " DEFAULT VALUES");
    }
    mn_buf_puts(&sql, " RETURNING ");
    mn__quote(&sql, m->pk->column);
    mn_dbresult res;
    if (!mn_buf_cstr(&sql))
        return MN_ENOMEM;
    int rc = mn__exec(o, alias, sql.data, ps, n, &res);
    if (rc)
        return rc;
    const mn_dbcell *c = mn_dbresult_cell(&res, 0, 0);
    if (c && skip_pk)
        mn__cell_store(o, obj, m->pk, c);
    return 0;
}

static int do_update(mn_orm *o, void *obj, const mn_model *m, const char *fields,
                     const char *alias, int64_t *affected)
{
    mn_dbdialect d = mn__dialect(o, alias);
    mn_buf sql;
    mn_buf_init(&sql, o->arena);
    mn_dbparam *ps = mn_arena_alloc(o->arena, (m->nfields + 2) * sizeof *ps);
    if (!ps)
        return MN_ENOMEM;
    size_t n = 0;
    const mn_obj *h = obj;
    mn_buf_puts(&sql, "UPDATE ");
    mn__quote(&sql, mrt(m)->table);
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (!mn__has_column(f) || f == m->pk || !in_names(fields, f->name))
            continue;
        if (!fields && (h->deferred & (UINT64_C(1) << i)))
            continue; /* a deferred field keeps its stored value */
        int rc = mn__obj_param(o, obj, f, d, &ps[n]);
        if (rc)
            return rc;
        mn_buf_puts(&sql, n ? ", " : " SET ");
        mn__quote(&sql, f->column);
        mn_buf_puts(&sql, " = ");
        mn__placeholder(&sql, d, ++n);
    }
    if (n == 0) { /* nothing to write: Django still checks the row exists */
        *affected = 1;
        return 0;
    }
    mn_buf_puts(&sql, " WHERE ");
    mn__quote(&sql, m->pk->column);
    mn_buf_puts(&sql, " = ");
    ps[n] = mn_dbp_int(mn_obj_pk(obj));
    mn__placeholder(&sql, d, ++n);
    mn_dbresult res;
    if (!mn_buf_cstr(&sql))
        return MN_ENOMEM;
    int rc = mn__exec(o, alias, sql.data, ps, n, &res);
    *affected = res.rows_affected;
    return rc;
}

static int save(mn_orm *o, void *obj, const char *fields)
{
    mn_obj *h = obj;
    const mn_model *m = h->model;
    if (mn__ready(o) != 0)
        return o->errcode;
    if (fields) { /* every name must be a concrete field */
        for (const char *p = fields; *p;) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t k = strcspn(p, ", ");
            if (k) {
                const mn_fielddef *f = mn__field(m, p, k);
                if (!f)
                    return mn__no_field(o, m, p, k);
                if (f->type == MN_M2M)
                    return mn__orm_fail(o, MN_EINVAL,
                                        "The following fields do not exist in this model, are "
                                        "m2m fields, or are non-concrete fields: %s", f->name);
            }
            p += k;
        }
    }
    bool adding = !h->persisted;
    int rc = mn__signal(o, MN_PRE_SAVE, m, obj, adding);
    if (rc)
        return rc;
    sync_fks(obj, m);
    touch_auto_now(obj, m, adding && !fields);
    const char *alias = write_alias(o, m);
    bool created = false;
    if (!h->persisted && auto_pk(m) && mn_obj_pk(obj) == 0) {
        if (fields)
            return mn__orm_fail(o, MN_EINVAL, "Cannot force an update in save() with no primary key.");
        rc = do_insert(o, obj, m, alias);
        created = true;
    } else {
        int64_t affected = 0;
        rc = do_update(o, obj, m, fields, alias, &affected);
        if (rc == 0 && affected == 0) {
            if (fields)
                return mn__orm_fail(o, MN_EDOES_NOT_EXIST, "Save with update_fields did not affect any rows.");
            rc = do_insert(o, obj, m, alias);
            created = true;
        }
    }
    if (rc)
        return rc;
    h->persisted = true;
    return mn__signal(o, MN_POST_SAVE, m, obj, created);
}

int mn_save(mn_orm *o, void *obj) { return save(o, obj, NULL); }
int mn_save_fields(mn_orm *o, void *obj, const char *fields)
{
    return save(o, obj, fields ? fields : "");
}

void *mn_create_kv(mn_orm *o, const mn_model *m, const mn_kv *kv, size_t n)
{
    void *obj = mn_obj_new(o, m);
    if (!obj)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (mn_obj_set(o, obj, kv[i].key, kv[i].value) != 0)
            return NULL;
    return mn_save(o, obj) == 0 ? obj : NULL;
}

int mn_refresh(mn_orm *o, void *obj)
{
    mn_obj *h = obj;
    mn_qs *qs = mn_filter(mn_qs_all(o, h->model), "pk", mn_obj_pk(obj));
    void *fresh = mn_qs_get(qs);
    if (!fresh)
        return o->errcode;
    memcpy((char *)obj + sizeof(mn_obj), (char *)fresh + sizeof(mn_obj),
           h->model->size - sizeof(mn_obj));
    h->nulls = ((mn_obj *)fresh)->nulls;
    h->deferred = 0;
    h->persisted = true;
    return 0;
}

/* ---- update() ---- */
int64_t mn_qs_update_kv(mn_qs *qs, const mn_kv *kv, size_t n)
{
    if (!qs)
        return MN_EINVAL;
    if (qs->low > 0 || qs->high >= 0)
        return mn__orm_fail(qs->o, MN_EINVAL, "Cannot update a query once a slice has been taken.");
    if (n == 0)
        return 0;
    sqlq q;
    int rc = mn__compile(qs, SQL_UPDATE, kv, n, &q);
    if (rc)
        return rc;
    mn_dbresult res;
    rc = mn__exec(qs->o, qs->alias ? qs->alias : write_alias(qs->o, qs->m), q.sql, q.params,
                  q.nparams, &res);
    return rc ? rc : res.rows_affected;
}

/* ---- get_or_create / update_or_create ---- */
static void *lookup_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd)
{
    mn_orm *o = qs->o;
    void *obj = mn_obj_new(o, qs->m);
    if (!obj)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!strstr(lk[i].key, "__") && mn_obj_set(o, obj, lk[i].key, lk[i].value) != 0)
            return NULL;
    for (size_t i = 0; i < nd; i++)
        if (mn_obj_set(o, obj, def[i].key, def[i].value) != 0)
            return NULL;
    if (mn_atomic_begin(o) != 0)
        return NULL;
    int rc = mn_save(o, obj);
    mn_atomic_end(o, rc == 0);
    return rc == 0 ? obj : NULL;
}

void *mn_qs_get_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                          bool *created)
{
    if (created)
        *created = false;
    if (!qs)
        return NULL;
    void *obj = mn_qs_get(mn_qs_filter_kv(qs, lk, n));
    if (obj || qs->o->errcode != MN_EDOES_NOT_EXIST)
        return obj;
    obj = lookup_create(qs, lk, n, def, nd);
    if (obj) {
        if (created)
            *created = true;
        return obj;
    }
    if (qs->o->errcode == MN_EDB_INTEGRITY) { /* lost a race: the row exists now */
        void *again = mn_qs_get(mn_qs_filter_kv(qs, lk, n));
        if (again)
            return again;
    }
    return NULL;
}

void *mn_qs_update_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def,
                             size_t nd, bool *created)
{
    if (created)
        *created = false;
    if (!qs)
        return NULL;
    mn_orm *o = qs->o;
    if (mn_atomic_begin(o) != 0)
        return NULL;
    void *obj = mn_qs_get(mn_qs_select_for_update(mn_qs_filter_kv(qs, lk, n)));
    if (!obj) {
        bool missing = o->errcode == MN_EDOES_NOT_EXIST;
        mn_atomic_end(o, false);
        if (!missing)
            return NULL;
        obj = lookup_create(qs, lk, n, def, nd);
        if (obj && created)
            *created = true;
        return obj;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nd; i++)
        rc = mn_obj_set(o, obj, def[i].key, def[i].value);
    if (rc == 0)
        rc = mn_save(o, obj);
    mn_atomic_end(o, rc == 0);
    return rc == 0 ? obj : NULL;
}

/* ---- bulk ---- */
static const char *cast_type(const mn_fielddef *f, mn_dbdialect d);

/* Sends every batch statement at once (one round trip in PostgreSQL's pipeline mode), all or
 * nothing inside an atomic block, as Django's bulk operations. */
static int run_batches(mn_orm *o, const char *alias, mn_arena *arena, mn_dbbatch_item *items,
                       size_t n)
{
    if (n == 0)
        return 0;
    mn_dbconn *c = mn_orm_conn(o, alias);
    if (!c)
        return o->errcode ? o->errcode : MN_EDB_OPERATIONAL;
    bool own = alias == NULL; /* atomic() works on the default database */
    int rc = own ? mn_atomic_begin(o) : 0;
    if (rc)
        return rc;
    rc = mn_dbconn_exec_batch(c, arena, items, n);
    if (rc)
        mn__orm_fail(o, rc, "%s", *mn_dbconn_errmsg(c) ? mn_dbconn_errmsg(c) : mn_db_strerror(rc));
    if (own) {
        int end = mn_atomic_end(o, rc == 0);
        if (rc == 0)
            rc = end;
    }
    return rc;
}

int mn_bulk_create(mn_orm *o, const mn_model *m, void **objs, size_t n, const mn_bulk_opts *opts)
{
    if (mn__ready(o) != 0)
        return o->errcode;
    mn_bulk_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    const char *alias = write_alias(o, m);
    mn_dbdialect d = mn__dialect(o, alias);
    const mn_fielddef *cols[64];
    size_t ncols = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (mn__has_column(f) && !(f == m->pk && auto_pk(m)))
            cols[ncols++] = f;
    }
    if (ncols == 0)
        return mn__orm_fail(o, MN_EINVAL, "bulk_create needs at least one column");
    /* stay under SQLite's 32766 and PostgreSQL's 65535 parameters per statement */
    size_t batch = opts->batch_size ? opts->batch_size : 1000;
    if (batch * ncols > 30000)
        batch = 30000 / ncols;
    for (size_t i = 0; i < n; i++) {
        sync_fks(objs[i], m);
        touch_auto_now(objs[i], m, true);
    }
    mn_arena *saved = o->arena;
    mn_arena *scratch = mn_arena_new(0);
    if (!scratch)
        return MN_ENOMEM;
    int rc = 0;
    mn_dbbatch_item *items = NULL;
    size_t nitems = 0, capitems = 0;
    for (size_t start = 0; rc == 0 && start < n; start += batch) {
        size_t end = start + batch < n ? start + batch : n;
        o->arena = scratch; /* SQL text and parameters of the batches */
        mn_buf sql;
        mn_buf_init(&sql, scratch);
        mn_dbparam *ps = mn_arena_alloc(scratch, (end - start) * ncols * sizeof *ps);
        if (!ps) {
            rc = MN_ENOMEM;
            break;
        }
        size_t np = 0;
        mn_buf_puts(&sql, "INSERT INTO ");
        mn__quote(&sql, mrt(m)->table);
        for (size_t k = 0; k < ncols; k++) {
            mn_buf_puts(&sql, k ? ", " : " (");
            mn__quote(&sql, cols[k]->column);
        }
        mn_buf_puts(&sql, ") VALUES ");
        for (size_t i = start; rc == 0 && i < end; i++) {
            mn_buf_puts(&sql, i > start ? ", (" : "(");
            for (size_t k = 0; rc == 0 && k < ncols; k++) {
                rc = mn__obj_param(o, objs[i], cols[k], d, &ps[np]);
                if (k)
                    mn_buf_puts(&sql, ", ");
                mn__placeholder(&sql, d, ++np);
            }
            mn_buf_putc(&sql, ')');
        }
        if (opts->ignore_conflicts) {
            mn_buf_puts(&sql, " ON CONFLICT DO NOTHING");
        } else if (opts->update_conflicts_fields) {
            mn_buf_printf(&sql, " ON CONFLICT (");
            const char *u = opts->unique_fields ? opts->unique_fields : "pk";
            size_t k = 0;
            for (const char *p = u; *p;) {
                while (*p == ' ' || *p == ',')
                    p++;
                size_t len = strcspn(p, ", ");
                if (len) {
                    const mn_fielddef *f = mn__field(m, p, len);
                    if (!f) {
                        rc = mn__no_field(o, m, p, len);
                        break;
                    }
                    if (k++)
                        mn_buf_puts(&sql, ", ");
                    mn__quote(&sql, f->column);
                }
                p += len;
            }
            mn_buf_puts(&sql, ") DO UPDATE SET ");
            k = 0;
            for (const char *p = opts->update_conflicts_fields; rc == 0 && *p;) {
                while (*p == ' ' || *p == ',')
                    p++;
                size_t len = strcspn(p, ", ");
                if (len) {
                    const mn_fielddef *f = mn__field(m, p, len);
                    if (!f) {
                        rc = mn__no_field(o, m, p, len);
                        break;
                    }
                    if (k++)
                        mn_buf_puts(&sql, ", ");
                    mn__quote(&sql, f->column);
                    mn_buf_puts(&sql, " = EXCLUDED.");
                    mn__quote(&sql, f->column);
                }
                p += len;
            }
        }
        bool want_pks = auto_pk(m) && !opts->ignore_conflicts && !opts->update_conflicts_fields;
        if (want_pks) {
            mn_buf_puts(&sql, " RETURNING ");
            mn__quote(&sql, m->pk->column);
        }
        if (rc)
            break;
        if (!mn_buf_cstr(&sql)) {
            rc = MN_ENOMEM;
            break;
        }
        if (nitems == capitems) {
            size_t nc = capitems ? capitems * 2 : 8;
            mn_dbbatch_item *ni = mn_arena_realloc(scratch, items, capitems * sizeof *ni,
                                                   nc * sizeof *ni);
            if (!ni) {
                rc = MN_ENOMEM;
                break;
            }
            items = ni;
            capitems = nc;
        }
        items[nitems++] = (mn_dbbatch_item){.sql = sql.data, .params = ps, .nparams = np};
    }
    o->arena = saved;
    if (rc == 0)
        rc = run_batches(o, alias, scratch, items, nitems);
    for (size_t b = 0; rc == 0 && b < nitems; b++) {
        size_t start = b * batch, end = start + batch < n ? start + batch : n;
        const mn_dbresult *res = &items[b].result;
        bool want_pks = auto_pk(m) && !opts->ignore_conflicts && !opts->update_conflicts_fields;
        if (want_pks && res->nrows == end - start)
            for (size_t i = start; i < end; i++)
                mn__cell_store(o, objs[i], m->pk, &res->cells[(i - start) * res->ncols]);
        for (size_t i = start; i < end; i++)
            ((mn_obj *)objs[i])->persisted = true;
    }
    mn_arena_free(scratch);
    return rc;
}

int64_t mn_bulk_update(mn_orm *o, const mn_model *m, void **objs, size_t n, const char *fields,
                       size_t batch_size)
{
    if (mn__ready(o) != 0)
        return o->errcode;
    const char *alias = write_alias(o, m);
    mn_dbdialect d = mn__dialect(o, alias);
    const mn_fielddef *fs[64];
    size_t nf = 0;
    for (const char *p = fields ? fields : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len) {
            const mn_fielddef *f = mn__field(m, p, len);
            if (!f)
                return mn__no_field(o, m, p, len);
            if (f == m->pk || !mn__has_column(f))
                return mn__orm_fail(o, MN_EINVAL, "bulk_update() can only be used with concrete "
                                    "fields that are not primary keys (%s)", f->name);
            fs[nf++] = f;
        }
        p += len;
    }
    if (nf == 0)
        return mn__orm_fail(o, MN_EINVAL, "Field names must be given to bulk_update().");
    /* CASE WHEN pk = ? THEN ? per row: a fixed batch keeps the statement (and its work) linear */
    size_t batch = batch_size ? batch_size : 100;
    int64_t total = 0;
    mn_arena *saved = o->arena;
    mn_arena *scratch = mn_arena_new(0);
    if (!scratch)
        return MN_ENOMEM;
    int rc = 0;
    mn_dbbatch_item *items = NULL;
    size_t nitems = 0, capitems = 0;
    for (size_t start = 0; rc == 0 && start < n; start += batch) {
        size_t end = start + batch < n ? start + batch : n;
        o->arena = scratch;
        mn_buf sql;
        mn_buf_init(&sql, scratch);
        mn_dbparam *ps = mn_arena_alloc(scratch, ((end - start) * (2 * nf + 1)) * sizeof *ps);
        size_t np = 0;
        if (!ps) {
            rc = MN_ENOMEM;
            break;
        }
        mn_buf_puts(&sql, "UPDATE ");
        mn__quote(&sql, mrt(m)->table);
        for (size_t k = 0; rc == 0 && k < nf; k++) {
            mn_buf_puts(&sql, k ? ", " : " SET ");
            mn__quote(&sql, fs[k]->column);
            mn_buf_puts(&sql, " = CASE");
            for (size_t i = start; rc == 0 && i < end; i++) {
                mn_buf_puts(&sql, " WHEN ");
                mn__quote(&sql, m->pk->column);
                mn_buf_puts(&sql, " = ");
                ps[np] = mn_dbp_int(mn_obj_pk(objs[i]));
                mn__placeholder(&sql, d, ++np);
                mn_buf_puts(&sql, " THEN CAST(");
                rc = mn__obj_param(o, objs[i], fs[k], d, &ps[np]);
                mn__placeholder(&sql, d, ++np);
                mn_buf_printf(&sql, " AS %s)", cast_type(fs[k], d));
            }
            mn_buf_puts(&sql, " ELSE ");
            mn__quote(&sql, fs[k]->column);
            mn_buf_puts(&sql, " END");
        }
        mn_buf_puts(&sql, " WHERE ");
        mn__quote(&sql, m->pk->column);
        mn_buf_puts(&sql, " IN (");
        for (size_t i = start; i < end; i++) {
            if (i > start)
                mn_buf_puts(&sql, ", ");
            ps[np] = mn_dbp_int(mn_obj_pk(objs[i]));
            mn__placeholder(&sql, d, ++np);
        }
        mn_buf_putc(&sql, ')');
        if (rc == 0 && !mn_buf_cstr(&sql))
            rc = MN_ENOMEM;
        if (rc == 0 && nitems == capitems) {
            size_t nc = capitems ? capitems * 2 : 8;
            mn_dbbatch_item *ni = mn_arena_realloc(scratch, items, capitems * sizeof *ni,
                                                   nc * sizeof *ni);
            if (!ni)
                rc = MN_ENOMEM;
            items = ni ? ni : items;
            capitems = ni ? nc : capitems;
        }
        if (rc == 0)
            items[nitems++] = (mn_dbbatch_item){.sql = sql.data, .params = ps, .nparams = np};
    }
    o->arena = saved;
    if (rc == 0)
        rc = run_batches(o, alias, scratch, items, nitems);
    for (size_t b = 0; rc == 0 && b < nitems; b++)
        total += items[b].result.rows_affected;
    mn_arena_free(scratch);
    return rc ? rc : total;
}

static const char *cast_type(const mn_fielddef *f, mn_dbdialect d)
{
    bool pg = d == MN_DIALECT_POSTGRESQL;
    switch (f->type) {
    case MN_FLOAT: return pg ? "double precision" : "REAL";
    case MN_BOOL: return pg ? "boolean" : "INTEGER";
    case MN_DECIMAL: return pg ? "numeric" : "INTEGER";
    case MN_DATE: return pg ? "date" : "TEXT";
    case MN_DATETIME: return pg ? "timestamp with time zone" : "TEXT";
    case MN_TIME: return pg ? "time" : "TEXT";
    case MN_UUID: return pg ? "uuid" : "TEXT";
    case MN_JSON: return pg ? "jsonb" : "TEXT";
    case MN_BINARY: return pg ? "bytea" : "BLOB";
    default: return mn__is_int_type(f->type) ? (pg ? "bigint" : "INTEGER") : (pg ? "text" : "TEXT");
    }
}

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
                                        &(mn_kv){"pk", mn_arg_int(fk->id)}, 1));
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
            mn__orm_fail(o, MN_EINVAL, "%s.%s: the through model lacks its foreign keys",
                         m->name, f->name);
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
    if (!mn_obj_pk(obj))
        return mn__orm_fail(o, MN_EINVAL, "\"%s\" needs to have a value for field \"id\" before "
                            "this many-to-many relationship can be used.", mn_obj_str(o, obj));
    return *src && *dst ? 0 : MN_EINVAL;
}

int mn_m2m_add(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const mn_model *t;
    const mn_fielddef *src, *dst;
    int rc = m2m_parts(o, obj, field, &t, &src, &dst);
    if (rc || n == 0)
        return rc;
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
        ps[2 * i] = mn_dbp_int(mn_obj_pk(obj));
        ps[2 * i + 1] = mn_dbp_int(mn_obj_pk(others[i]));
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
    return rc;
}

int mn_m2m_remove(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    const mn_model *t;
    const mn_fielddef *src, *dst;
    int rc = m2m_parts(o, obj, field, &t, &src, &dst);
    if (rc || n == 0)
        return rc;
    int64_t *ids = mn_arena_alloc(o->arena, n * sizeof *ids);
    if (!ids)
        return MN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = mn_obj_pk(others[i]);
    char *in = mn_arena_printf(o->arena, "%s__in", dst->name);
    mn_kv kv[2] = {{src->name, mn_arg_obj(obj)}, {in, mn_arg_ints(ids, n, o->arena)}};
    mn__signal(o, MN_M2M_CHANGED, t, obj, false);
    int64_t r = mn_qs_delete(mn_qs_filter_kv(mn_qs_all(o, t), kv, 2), NULL);
    return r < 0 ? (int)r : 0;
}

int mn_m2m_clear(mn_orm *o, void *obj, const char *field)
{
    const mn_model *t;
    const mn_fielddef *src, *dst;
    int rc = m2m_parts(o, obj, field, &t, &src, &dst);
    if (rc)
        return rc;
    mn__signal(o, MN_M2M_CHANGED, t, obj, false);
    int64_t r = mn_qs_delete(mn_qs_filter_kv(mn_qs_all(o, t), &(mn_kv){src->name, mn_arg_obj(obj)}, 1), NULL);
    return r < 0 ? (int)r : 0;
}

int mn_m2m_set(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n)
{
    int rc = mn_m2m_clear(o, obj, field);
    return rc ? rc : mn_m2m_add(o, obj, field, others, n);
}

/* ---- display ---- */
const char *mn_obj_display(mn_orm *o, const void *obj, const char *field)
{
    const mn_obj *h = obj;
    const mn_fielddef *f = mn_model_field(h->model, field);
    if (!f)
        return NULL;
    mn_value *v = mn_obj_get_value(o, obj, field);
    mn_str text = {"", 0};
    if (v)
        mn_value_to_text(v, o->arena, &text);
    for (const mn_choice *c = f->choices; c && c->value; c++)
        if (mn_str_eq_cstr(text, c->value))
            return c->label;
    if (f->type == MN_BOOL && f->choices == NULL)
        return *(const bool *)mn__fptr(obj, f) ? "True" : "False";
    return mn_arena_strndup(o->arena, text.ptr, text.len);
}

const char *mn_obj_str(mn_orm *o, const void *obj)
{
    const mn_obj *h = obj;
    if (h->model->str)
        return h->model->str(obj, o->arena);
    if (!h->persisted && !mn_obj_pk(obj))
        return mn_arena_printf(o->arena, "%s object (None)", h->model->name);
    return mn_arena_printf(o->arena, "%s object (%lld)", h->model->name,
                           (long long)mn_obj_pk(obj));
}
