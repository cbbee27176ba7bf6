/* write.c — the write side for single rows: new instances, field assignment by name, save
 * (insert or update, update_fields, auto_now), create, refresh, update(),
 * get_or_create/update_or_create, display and str(). bulk.c and related.c do the rest. */
#include "internal.h"
#include "rel_internal.h"

#include <stdlib.h>
#include <time.h>

const char *mn__write_alias(mn_orm *o, const mn_model *m)
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

void mn__zero_value(void *obj, const mn_fielddef *f)
{
    void *p = mn__fptr(obj, f);
    if (f->type == MN_FLOAT)
        *(double *)p = 0;
    else if (f->type == MN_BOOL)
        *(bool *)p = false;
    else if (mn__is_int_type(f->type) && f->type != MN_FK && f->type != MN_O2O)
        *(int64_t *)p = 0;
}

int mn_obj_set(mn_orm *o, void *obj, const char *field, mn_arg a)
{
    mn_obj *h = obj;
    const mn_model *m = h->model;
    if (mn__ready(o) != 0)
        return o->errcode;
    const mn_fielddef *f = mn__field(m, field, strlen(field));
    if (!f) {
        /* a reverse accessor is a name that exists: say what to do instead (Django's
         * descriptors), never "did you mean" the very name */
        const revrel *r = mn__revrel(m, field, strlen(field), true);
        if (r && r->field->type != MN_O2O)
            return mn__orm_fail(o, MN_EINVAL,
                                "Direct assignment to the reverse side of a %s set is "
                                "prohibited. Use %s.set() instead.",
                                r->field->type == MN_M2M ? "many-to-many" : "related", field);
        return mn__no_field(o, m, field, strlen(field));
    }
    void *p = mn__fptr(obj, f);
    if (a.type == MN_ARG_NULL || (a.type == MN_ARG_STR && !a.v.s)) {
        if (f->type == MN_M2M)
            return mn__orm_fail(o, MN_EINVAL,
                                "Direct assignment to the forward side of a many-to-many "
                                "set is prohibited. Use %s.set() instead.",
                                f->name);
        /* The null bit marks a zero as NULL: a number holding a value is zeroed first, or
         * age = None would leave age = 3 (Django: the field becomes None). */
        mn__zero_value(obj, f);
        mn__set_null(obj, f, true);
        h->deferred &= ~(UINT64_C(1) << f->index);
        return 0;
    }
    if ((f->type == MN_FK || f->type == MN_O2O) && a.type == MN_ARG_INSTANCE && a.v.obj &&
        ((const mn_obj *)a.v.obj)->model != f->rel_model) /* as Django's descriptor */
        return mn__orm_fail(o, MN_EINVAL,
                            "Cannot assign \"<%s: %s>\": \"%s.%s\" must be a \"%s\" instance.",
                            ((const mn_obj *)a.v.obj)->model->name, mn_obj_str(o, a.v.obj), m->name,
                            f->name, f->rel_model->name);
    const char *db = h->db, *reldb = NULL;
    if ((f->type == MN_FK || f->type == MN_O2O) && a.type == MN_ARG_INSTANCE && a.v.obj) {
        /* as Django's ForwardManyToOneDescriptor.__set__: a side without a database yet takes
         * the one the router writes it to, given the other side (by default the other side's
         * own, else default); then the router must allow the relation, by default only within
         * one database. Checked before any change: a refusal leaves both sides as they were. */
        mn_obj *rel = (mn_obj *)a.v.obj; /* Django sets value._state.db too */
        const char *outer = h->db, *relouter = rel->db;
        if (!db)
            db = mn__db_name(o, mn__route(o, m, true, rel));
        h->db = db; /* as the router and the hook see it */
        reldb = rel->db ? rel->db : mn__db_name(o, mn__route(o, rel->model, true, obj));
        rel->db = reldb;
        int rc = mn__allow_relation(o, rel, obj);
        h->db = outer;
        rel->db = relouter;
        if (rc)
            return mn__orm_fail(o, rc,
                                "Cannot assign \"<%s: %s>\": the current database router "
                                "prevents this relation.",
                                rel->model->name, mn_obj_str(o, rel));
    }
    mn__set_null(obj, f, false);
    h->deferred &= ~(UINT64_C(1) << f->index);
    if (f->type == MN_FK || f->type == MN_O2O) {
        mn_fk *fk = p;
        if (a.type == MN_ARG_INSTANCE) {
            h->db = db;
            ((mn_obj *)a.v.obj)->db = reldb;
            fk->obj = (void *)a.v.obj;
            mn_arg k = mn__rel_arg(a.v.obj, f);
            fk->id = k.type == MN_ARG_INT ? k.v.i : 0;
            fk->key = k.type == MN_ARG_STR ? k.v.s : NULL;
            return 0;
        }
        fk->obj = NULL;
    }
    if (f->type == MN_M2M)
        return mn__orm_fail(o, MN_EINVAL,
                            "Direct assignment to the forward side of a many-to-many "
                            "set is prohibited. Use %s.set() instead.",
                            f->name);
    /* convert through the parameter path, then store as if read back from the database */
    mn_dbdialect d = mn__dialect(o, NULL);
    mn_dbparam prm;
    int rc = mn__arg_param(o, f, a, d, &prm);
    if (rc)
        return rc;
    if (f->type == MN_DECIMAL) {
        /* keep the user's exact text, normalised to the field's places by a round trip */
        mn_dbcell c = prm;
        return mn__cell_store(o, obj, f, &c, d);
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
    return mn__cell_store(o, obj, f, &c, d);
}

static void now_utc(mn_datetime *dt)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    *dt = (mn_datetime){tm.tm_year + 1900,
                        tm.tm_mon + 1,
                        tm.tm_mday,
                        tm.tm_hour,
                        tm.tm_min,
                        tm.tm_sec,
                        (int32_t)(ts.tv_nsec / 1000),
                        0,
                        true,
                        "UTC"};
}

static bool in_names(const char *list, const char *name);

/* only: update_fields, whose fields alone get their pre_save (Django's _save_table); NULL:
 * every field. */
static void touch_auto_now(void *obj, const mn_model *m, bool adding, const char *only)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if ((f->auto_now || (f->auto_now_add && adding)) &&
            (f->type == MN_DATETIME || f->type == MN_DATE) && (!only || in_names(only, f->name))) {
            mn_datetime *dt = mn__fptr(obj, f);
            now_utc(dt);
            if (f->type == MN_DATE)
                dt->hour = dt->minute = dt->second = dt->microsecond = 0;
            mn__set_null(obj, f, false);
        }
    }
}

void mn__touch_auto_now(void *obj, const mn_model *m, bool adding)
{
    touch_auto_now(obj, m, adding, NULL);
}

bool mn__auto_pk(const mn_model *m)
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

/* Whether the instance cached in fk->obj is not the row the key (id or key) now names: the
 * key was assigned after the relation was loaded (c->question.id = 2, Django's
 * c.question_id = 2, which drops the cached c.question). k: the cached instance's key. */
bool mn__fk_cache_stale(const mn_fk *fk, mn_arg k)
{
    if (k.type == MN_ARG_INT) /* an integer key may be given as text: key = "3" */
        return fk->id != 0 ? fk->id != k.v.i : fk->key && strtoll(fk->key, NULL, 10) != k.v.i;
    if (k.type == MN_ARG_STR)
        return fk->key && strcmp(fk->key, k.v.s) != 0;
    return false;
}

/* Sends the FK caches' ids down before writing (obj.question = q then q saved later), as
 * Django's _prepare_related_fields_for_save: only into an empty key; a key that names
 * another row wins, and the cached instance is dropped. */
void mn__sync_fks(void *obj, const mn_model *m)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (f->type != MN_FK && f->type != MN_O2O)
            continue;
        mn_fk *fk = mn__fptr(obj, f);
        if (!fk->obj || !mn__pk_set(fk->obj))
            continue;
        mn_arg k = mn__rel_arg(fk->obj, f);
        if (mn__fk_cache_stale(fk, k)) {
            fk->obj = NULL;
            continue;
        }
        if (k.type == MN_ARG_INT)
            fk->id = k.v.i;
        else if (k.type == MN_ARG_STR)
            fk->key = k.v.s;
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
    bool skip_pk = mn__auto_pk(m) && mn_obj_pk(obj) == 0;
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
        mn__cell_store(o, obj, m->pk, c, d);
    return 0;
}

static int do_update(mn_orm *o, void *obj, const mn_model *m, const char *fields, const char *alias,
                     int64_t *affected)
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
    int rc = mn__arg_param(o, m->pk, mn__pk_arg(obj), d, &ps[n]);
    if (rc)
        return rc;
    mn__placeholder(&sql, d, ++n);
    mn_dbresult res;
    if (!mn_buf_cstr(&sql))
        return MN_ENOMEM;
    rc = mn__exec(o, alias, sql.data, ps, n, &res);
    *affected = res.rows_affected;
    return rc;
}

static size_t field_size(const mn_fielddef *f);

/* A field left out by only()/defer() whose struct member no longer holds zero bytes was
 * assigned directly (b->pages = 500): it counts as loaded from now on, as assigning a
 * deferred attribute makes it in Django, so a save writes it rather than skipping it or
 * reloading the stored value over it. */
void mn__settle_deferred(void *obj)
{
    mn_obj *h = obj;
    const mn_model *m = h->model;
    for (size_t i = 0; h->deferred && i < m->nfields; i++) {
        uint64_t bit = UINT64_C(1) << i;
        if (!(h->deferred & bit))
            continue;
        const unsigned char *p = mn__fptr(obj, &m->fields[i]);
        for (size_t k = 0, n = field_size(&m->fields[i]); k < n; k++)
            if (p[k]) {
                h->deferred &= ~bit;
                break;
            }
    }
}

/* ---- update_fields as pre_save/post_save receivers see it: the save being sent, found by
 * its session (a receiver may park its coroutine while another session saves), as the
 * m2m_changed frames of related.c. */
typedef struct save_frame {
    const mn_orm *o;
    const char *fields;
    struct save_frame *next;
} save_frame;
static _Thread_local save_frame *save_frames;

const char *mn_save_update_fields(const mn_orm *o)
{
    for (const save_frame *f = save_frames; f; f = f->next)
        if (f->o == o)
            return f->fields;
    return NULL;
}

static int save_signal(mn_orm *o, mn_signal sig, const mn_model *m, void *obj, bool created,
                       const char *fields)
{
    if (!mn__has_receivers(sig, m))
        return 0;
    save_frame fr = {o, fields, save_frames};
    save_frames = &fr;
    int rc = mn__signal(o, sig, m, obj, created);
    for (save_frame **pp = &save_frames; *pp; pp = &(*pp)->next)
        if (*pp == &fr) {
            *pp = fr.next;
            break;
        }
    return rc;
}

enum { FORCE_INSERT = 1, FORCE_UPDATE = 2 }; /* save()'s force: 0 or one of these */

/* force_insert: create() and get_or_create() insert, as Django's create(force_insert=True),
 * so a key that is taken (a CharField or OneToOneField pk) is an IntegrityError, not an
 * update of the row that has it. using: save(using=...); NULL routes with obj as the hint
 * (the router, else the database obj came from). */
static int save(mn_orm *o, void *obj, const char *fields, int force, const char *using)
{
    mn_obj *h = obj;
    const mn_model *m = h->model;
    bool force_insert = force == FORCE_INSERT;
    if (mn__ready(o) != 0)
        return o->errcode;
    if (force_insert && fields)
        return mn__orm_fail(o, MN_EINVAL, "Cannot force both insert and updating in model saving.");
    if (force == FORCE_UPDATE && !mn__pk_set(obj))
        return mn__orm_fail(o, MN_EINVAL, "Cannot force an update in save() with no primary key.");
    /* every name of update_fields must be a concrete field other than the primary key */
    if (fields) {
        mn_buf names; /* the same fields by name: "question_id" is "question" */
        mn_buf_init(&names, o->arena);
        for (const char *p = fields; *p;) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t k = strcspn(p, ", ");
            if (k) {
                const mn_fielddef *f = mn__field(m, p, k);
                if (!f)
                    return mn__no_field(o, m, p, k);
                if (f->type == MN_M2M || f == m->pk)
                    return mn__orm_fail(
                        o, MN_EINVAL,
                        "The following fields do not exist in this model, are "
                        "m2m fields, primary keys, or are non-concrete fields: %.*s",
                        (int)k, p);
                mn_buf_printf(&names, "%s%s", names.len ? "," : "", f->name);
            }
            p += k;
        }
        if (names.len == 0) /* update_fields=[]: Django saves nothing and sends no signal */
            return 0;
        if (!(fields = mn_buf_cstr(&names)))
            return MN_ENOMEM;
    }
    mn__settle_deferred(obj);
    for (size_t i = 0; fields && h->deferred && i < m->nfields; i++) {
        /* a deferred field named in update_fields is read first, as Django's getattr loads
         * it: its empty struct member would otherwise overwrite the stored value */
        if (!in_names(fields, m->fields[i].name))
            continue;
        int lrc = mn__load_deferred(o, obj, &m->fields[i]);
        if (lrc)
            return lrc;
    }
    bool adding = !h->persisted;
    int rc = save_signal(o, MN_PRE_SAVE, m, obj, adding, fields);
    if (rc)
        return rc;
    mn__sync_fks(obj, m);
    touch_auto_now(obj, m, adding && !fields, fields);
    const char *alias = using ? using : mn__route(o, m, true, obj);
    const char *db = mn__db_name(o, alias);
    if (!db)
        return mn__orm_fail(o, MN_ENOTFOUND, "no database '%s' in this session",
                            alias ? alias : "default");
    bool created = false;
    /* A new instance whose pk has a default (uuid4) is inserted straight away, as Django
     * 3.0+ does: no UPDATE that could only miss. */
    bool pk_default = !h->persisted && (m->pk->default_fn || m->pk->default_str);
    if (force_insert || (force != FORCE_UPDATE && !h->persisted &&
                         ((mn__auto_pk(m) && mn_obj_pk(obj) == 0) || (pk_default && !fields)))) {
        if (fields)
            return mn__orm_fail(o, MN_EINVAL,
                                "Cannot force an update in save() with no primary key.");
        rc = do_insert(o, obj, m, alias);
        created = true;
    } else {
        int64_t affected = 0;
        rc = do_update(o, obj, m, fields, alias, &affected);
        if (rc == 0 && affected == 0) {
            if (fields)
                return mn__orm_fail(o, MN_EDOES_NOT_EXIST,
                                    "Save with update_fields did not affect any rows.");
            if (force == FORCE_UPDATE)
                return mn__orm_fail(o, MN_EDOES_NOT_EXIST,
                                    "Forced update did not affect any rows.");
            rc = do_insert(o, obj, m, alias);
            created = true;
        }
    }
    if (rc)
        return rc;
    h->persisted = true;
    h->db = db;
    mn__settle_nulls(obj, m, in_names, created ? NULL : fields);
    rc = save_signal(o, MN_POST_SAVE, m, obj, created, fields);
    if (rc == 0) /* as reads do: mn_orm_error() is the last call's, "" after a success */
        mn_orm_clear_error(o);
    return rc;
}

int mn_save(mn_orm *o, void *obj)
{
    return save(o, obj, NULL, 0, NULL);
}
int mn_save_using(mn_orm *o, void *obj, const char *alias)
{
    return save(o, obj, NULL, 0, alias);
}
int mn_save_ex(mn_orm *o, void *obj, const mn_save_opts *opts)
{
    if (!opts)
        return save(o, obj, NULL, 0, NULL);
    if (opts->force_insert && opts->force_update)
        return mn__orm_fail(o, MN_EINVAL, "Cannot force both insert and updating in model saving.");
    int force = opts->force_insert ? FORCE_INSERT : 0;
    if (opts->force_update)
        force = FORCE_UPDATE;
    return save(o, obj, opts->update_fields, force, opts->db);
}

int mn_save_fields(mn_orm *o, void *obj, const char *fields)
{
    return save(o, obj, fields, 0, NULL); /* NULL: update_fields=None, every field */
}

/* A reverse manager's create() sets its foreign key to the manager's instance, over what
 * the caller gave (Django: kwargs[field.name] = self.instance). */
static int set_rel(const mn_qs *qs, void *obj)
{
    return qs && qs->rel_fk ? mn_obj_set(qs->o, obj, qs->rel_fk->name, mn_arg_obj(qs->rel_obj)) : 0;
}

static void *create(mn_orm *o, const mn_model *m, const mn_kv *kv, size_t n, const char *using,
                    const mn_qs *qs)
{
    void *obj = mn_obj_new(o, m);
    if (!obj)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (mn_obj_set(o, obj, kv[i].key, kv[i].value) != 0)
            return NULL;
    if (set_rel(qs, obj) != 0)
        return NULL;
    return save(o, obj, NULL, FORCE_INSERT, using) == 0 ? obj : NULL;
}

void *mn_create_kv(mn_orm *o, const mn_model *m, const mn_kv *kv, size_t n)
{
    return create(o, m, kv, n, NULL, NULL);
}

/* The database a queryset writes to, by name: using(), else the router's write database. */
static const char *qs_write_db(mn_qs *qs)
{
    const char *alias = mn__qs_alias(qs, true);
    const char *db = mn__db_name(qs->o, alias);
    if (!db)
        mn__orm_fail(qs->o, MN_ENOTFOUND, "no database '%s' in this session",
                     alias ? alias : "default");
    return db;
}

/* A many-to-many manager links what its create(), get_or_create() or update_or_create()
 * created (Django's ManyRelatedManager: add() after the create). obj NULL: nothing. */
static void *link_created(mn_qs *qs, void *obj, bool created)
{
    if (!obj || !created || !qs->rel_m2m)
        return obj;
    return mn_m2m_add(qs->o, (void *)qs->rel_obj, qs->rel_m2m, (const void *[]){obj}, 1) == 0
               ? obj
               : NULL;
}

void *mn_qs_create_kv(mn_qs *qs, const mn_kv *kv, size_t n)
{
    if (!qs)
        return NULL;
    const char *db = qs_write_db(qs);
    if (!db)
        return NULL;
    if (!qs->rel_m2m)
        return create(qs->o, qs->m, kv, n, db, qs);
    int atomic = mn__atomic_for(qs->o, db); /* the row and its link, or neither */
    if (atomic < 0)
        return NULL;
    void *obj = link_created(qs, create(qs->o, qs->m, kv, n, db, qs), true);
    int end = mn_atomic_end(qs->o, obj != NULL);
    return obj && end == 0 ? obj : NULL;
}

/* refresh_from_db() reads where obj came from (a router asked with obj as the hint). */
static mn_qs *self_qs(mn_orm *o, void *obj)
{
    mn_obj *h = obj;
    return mn_qs_filter_kv(mn__qs_hint(mn_qs_all(o, h->model), obj),
                           &(mn_kv){"pk", mn__pk_arg(obj)}, 1);
}

int mn_refresh(mn_orm *o, void *obj)
{
    mn_obj *h = obj;
    void *fresh = mn_qs_get(self_qs(o, obj));
    if (!fresh)
        return o->errcode;
    memcpy((char *)obj + sizeof(mn_obj), (char *)fresh + sizeof(mn_obj),
           h->model->size - sizeof(mn_obj));
    h->nulls = ((mn_obj *)fresh)->nulls;
    h->deferred = 0;
    h->persisted = true;
    h->db = ((mn_obj *)fresh)->db;
    return 0;
}

static size_t field_size(const mn_fielddef *f)
{
    switch (f->type) {
    case MN_FLOAT: return sizeof(double);
    case MN_BOOL: return sizeof(bool);
    case MN_DATE:
    case MN_DATETIME:
    case MN_TIME: return sizeof(mn_datetime);
    case MN_BINARY: return sizeof(mn_str);
    case MN_FK:
    case MN_O2O: return sizeof(mn_fk);
    case MN_M2M: return 0;
    default:
        return mn__is_text_type(f->type) || f->type == MN_DECIMAL ? sizeof(char *)
                                                                  : sizeof(int64_t);
    }
}

/* refresh_from_db(fields=[...]): one query for the named fields, the others untouched. */
int mn_refresh_fields(mn_orm *o, void *obj, const char *fields)
{
    mn_obj *h = obj;
    if (!fields)
        return mn_refresh(o, obj);
    if (mn__ready(o) != 0)
        return o->errcode;
    mn_obj *fresh = mn_qs_get(mn_qs_only(self_qs(o, obj), fields));
    if (!fresh)
        return o->errcode;
    for (size_t i = 0; i < h->model->nfields; i++) {
        const mn_fielddef *f = &h->model->fields[i];
        uint64_t bit = UINT64_C(1) << i;
        if (f == h->model->pk || (fresh->deferred & bit) || !mn__has_column(f))
            continue;
        memcpy(mn__fptr(obj, f), mn__fptr(fresh, f), field_size(f));
        h->nulls = (h->nulls & ~bit) | (fresh->nulls & bit);
        h->deferred &= ~bit;
    }
    return 0;
}

/* A deferred field read by name (template, admin): loaded on first access, as Django's
 * DeferredAttribute does through refresh_from_db(fields=[name]). */
int mn__load_deferred(mn_orm *o, void *obj, const mn_fielddef *f)
{
    mn_obj *h = obj;
    if (!(h->deferred & (UINT64_C(1) << f->index)) || !h->persisted)
        return 0;
    return mn_refresh_fields(o, obj, f->name);
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
    /* a write: on using(), else the router's write database (compiled for its dialect) */
    if (!qs->alias) {
        mn_orm *o = qs->o;
        const char *db = qs_write_db(qs);
        if (!db || !(qs = mn_qs_using(qs, db)))
            return o->errcode ? o->errcode : MN_ENOMEM;
    }
    sqlq q;
    int rc = mn__compile(qs, SQL_UPDATE, kv, n, &q);
    if (rc)
        return rc;
    if (qs->none) /* checked, but nothing to update: no query, as Django's EmptyResultSet */
        return 0;
    mn_dbresult res;
    rc = mn__exec(qs->o, qs->alias, q.sql, q.params, q.nparams, &res);
    return rc ? rc : res.rows_affected;
}

/* ---- get_or_create / update_or_create ----
 * Both are writes (Django's _for_write): the lookup and the create run on the write
 * database, so a lagging replica can neither hide the row nor make a duplicate. qs is already
 * pinned there (for_write). */
static mn_qs *for_write(mn_qs *qs)
{
    const char *db = qs ? qs_write_db(qs) : NULL;
    return db ? mn_qs_using(qs, db) : NULL;
}

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
    if (set_rel(qs, obj) != 0)
        return NULL;
    int atomic = mn__atomic_for(o, qs->alias);
    if (atomic < 0)
        return NULL;
    int rc = save(o, obj, NULL, FORCE_INSERT, qs->alias);
    if (atomic)
        mn_atomic_end(o, rc == 0);
    return rc == 0 ? obj : NULL;
}

static void *get_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                           bool *created);

void *mn_qs_get_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                          bool *created)
{
    bool made = false;
    void *obj = get_or_create(qs, lk, n, def, nd, &made);
    if (created)
        *created = made;
    return qs ? link_created(qs, obj, made) : NULL;
}

static void *get_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                           bool *created)
{
    if (created)
        *created = false;
    if (!(qs = for_write(qs)))
        return NULL;
    void *obj = mn_qs_get(mn_qs_filter_kv(qs, lk, n));
    if (obj || qs->o->errcode != MN_EDOES_NOT_EXIST)
        return obj;
    obj = lookup_create(qs, lk, n, def, nd);
    if (obj) { /* the save cleared the get()'s "does not exist" */
        if (created)
            *created = true;
        return obj;
    }
    if (qs->o->errcode == MN_EDB_INTEGRITY) { /* lost a race: the row exists now */
        const char *why = mn_arena_strdup(qs->o->arena, mn_orm_error(qs->o));
        void *again = mn_qs_get(mn_qs_filter_kv(qs, lk, n));
        if (again)
            return again;
        if (qs->o->errcode == MN_EDOES_NOT_EXIST) /* Django re-raises the IntegrityError */
            mn__orm_fail(qs->o, MN_EDB_INTEGRITY, "%s", why ? why : "");
    }
    return NULL;
}

void *mn_qs_update_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                             bool *created)
{
    return mn_qs_update_or_create_defaults(qs, lk, n, def, nd, NULL, 0, created);
}

static void *update_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                              const mn_kv *create_def, size_t ncd, bool *created);

void *mn_qs_update_or_create_defaults(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def,
                                      size_t nd, const mn_kv *create_def, size_t ncd, bool *created)
{
    bool made = false;
    void *obj = update_or_create(qs, lk, n, def, nd, create_def, ncd, &made);
    if (created)
        *created = made;
    return qs ? link_created(qs, obj, made) : NULL;
}

/* Django 4.2+ saves the row found with update_fields: the defaults' fields and those a
 * pre_save() may change (every date, datetime and time field: auto_now). NULL (a full save)
 * when a name is not a concrete field other than the primary key. */
static const char *update_fields_of(mn_orm *o, const mn_model *m, const mn_kv *def, size_t nd)
{
    mn_buf b;
    mn_buf_init(&b, o->arena);
    for (size_t i = 0; i < nd; i++) {
        const mn_fielddef *f = mn__field(m, def[i].key, strlen(def[i].key));
        if (!f || f == m->pk || !mn__has_column(f))
            return NULL;
        mn_buf_printf(&b, "%s%s", b.len ? "," : "", f->name);
    }
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (f != m->pk && (f->type == MN_DATE || f->type == MN_DATETIME || f->type == MN_TIME))
            mn_buf_printf(&b, "%s%s", b.len ? "," : "", f->name);
    }
    return b.len ? mn_buf_cstr(&b) : "";
}

static void *update_or_create(mn_qs *qs, const mn_kv *lk, size_t n, const mn_kv *def, size_t nd,
                              const mn_kv *create_def, size_t ncd, bool *created)
{
    if (created)
        *created = false;
    if (!(qs = for_write(qs)))
        return NULL;
    mn_orm *o = qs->o;
    int atomic = mn__atomic_for(o, qs->alias); /* Django: atomic(using=self.db) */
    if (atomic < 0)
        return NULL;
    /* the lock lasts until the block ends (Django: select_for_update() in atomic(using=db)) */
    mn_qs *sel = mn_qs_filter_kv(qs, lk, n);
    void *obj = mn_qs_get(atomic ? mn_qs_select_for_update(sel) : sel);
    if (!obj) {
        bool missing = o->errcode == MN_EDOES_NOT_EXIST;
        if (atomic)
            mn_atomic_end(o, false);
        if (!missing)
            return NULL;
        /* Django 5.0's create_defaults: when given (even empty), they fill the new row
         * instead of defaults */
        obj = create_def ? lookup_create(qs, lk, n, create_def, ncd)
                         : lookup_create(qs, lk, n, def, nd);
        if (obj && created)
            *created = true;
        return obj;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nd; i++)
        rc = mn_obj_set(o, obj, def[i].key, def[i].value);
    if (rc == 0)
        rc = save(o, obj, update_fields_of(o, qs->m, def, nd), 0, qs->alias);
    if (atomic)
        mn_atomic_end(o, rc == 0);
    return rc == 0 ? obj : NULL;
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
    if (!h->persisted && !mn__pk_set(obj))
        return mn_arena_printf(o->arena, "%s object (None)", h->model->name);
    return mn_arena_printf(o->arena, "%s object (%s)", h->model->name,
                           mn__arg_text(o->arena, mn__pk_arg(obj)));
}
