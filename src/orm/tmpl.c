/* tmpl.c — model instances and querysets as template values (value.h's object class), so
 * `{{ question.text }}`, `{{ choice.question.text }}`, `{% for c in question.choices.all %}`,
 * `{{ q.get_status_display }}` and `{{ q.get_absolute_url }}` work. A queryset value is lazy:
 * its query runs when the template first iterates it (parking the coroutine on PostgreSQL),
 * and the slice filter narrows it to a LIMIT/OFFSET query, as Django's. */
#include "rel_internal.h"

#include <manouche/rt.h>
#include <jansson.h>
#include <manouche/template.h>
#include <stdatomic.h>
#include <stdlib.h>

static const mn_value_class obj_class;
static const mn_value_class qs_class;
static const mn_value_class manager_class, m2m_manager_class;

/* One value class per model, named after it, so a repr says <Book: Dune> as Django's
 * Model.__repr__ (not <Model: Dune>). Classes are compared by address (mn_value_equal), so
 * each model keeps one for the life of the process, as the registry: made on first use,
 * pushed lock-free onto a list that worker threads share; if two threads race, both use the
 * older entry. */
typedef struct model_class {
    const mn_model *m;
    mn_value_class cls;
    struct model_class *next;
} model_class;
static _Atomic(model_class *) model_classes;

static const mn_value_class *find_class(const mn_model *m)
{
    const mn_value_class *found = NULL;
    for (model_class *c = atomic_load(&model_classes); c; c = c->next)
        if (c->m == m)
            found = &c->cls; /* the last match is the oldest */
    return found;
}

static const mn_value_class *class_of(const mn_model *m)
{
    const mn_value_class *c = find_class(m);
    if (c)
        return c;
    model_class *n = malloc(sizeof *n);
    if (!n)
        return &obj_class;
    n->m = m;
    n->cls = obj_class;
    n->cls.name = m->name;
    n->next = atomic_load(&model_classes);
    while (!atomic_compare_exchange_weak(&model_classes, &n->next, n))
        ;
    return find_class(m);
}

/* Renders park on the queries lazy values run, so the template engine must tell renders
 * apart by coroutine (its mn_template_current() names the N+1 warning's line). */
static const void *current_coro(void)
{
    return mn_coro_current();
}

static void tell_template_of_coroutines(void)
{
    static atomic_bool told;
    if (!atomic_load_explicit(&told, memory_order_relaxed)) {
        mn_template_set_task_fn(current_coro);
        atomic_store_explicit(&told, true, memory_order_relaxed);
    }
}

mn_value *mn_obj_value(mn_orm *o, void *obj)
{
    tell_template_of_coroutines();
    if (!obj)
        return mn_value_none();
    mn_obj *h = obj;
    if (!h->orm)
        h->orm = o;
    return mn_value_object(o->arena, class_of(h->model), obj);
}

mn_value *mn_qs_value(mn_qs *qs)
{
    tell_template_of_coroutines();
    if (!qs)
        return NULL;
    return mn_value_object(qs->o->arena, &qs_class, qs);
}

/* A JSON document as Python's json.loads gives it (Django's JSONField value): dicts, lists,
 * strings, numbers, booleans and None, so {{ e.doc.key.0 }} looks inside. Plain conversion:
 * no tagged {"__safe__": ...} forms, which would let stored data bypass escaping. NULL when
 * memory runs out or the document nests deeper than a coroutine's stack should recurse (as
 * mn_value_from_json's limit). */
static mn_value *json_value(mn_arena *a, const json_t *j, int depth)
{
    if (depth > 200)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        mn_value *d = mn_value_dict(a, json_object_size(j));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)j, k, x)
        {
            mn_value *v = d ? json_value(a, x, depth + 1) : NULL;
            if (!v || mn_value_dict_set(a, d, k, strlen(k), v) != 0)
                return NULL;
        }
        return d;
    }
    case JSON_ARRAY: {
        mn_value *l = mn_value_list(a, json_array_size(j));
        size_t i;
        json_t *x;
        json_array_foreach(j, i, x)
        {
            mn_value *v = l ? json_value(a, x, depth + 1) : NULL;
            if (!v || mn_value_list_append(a, l, v) != 0)
                return NULL;
        }
        return l;
    }
    case JSON_STRING: return mn_value_str(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return mn_value_int(a, (int64_t)json_integer_value(j));
    case JSON_REAL: return mn_value_double(a, json_real_value(j));
    case JSON_TRUE: return mn_value_true();
    case JSON_FALSE: return mn_value_false();
    default: return mn_value_none();
    }
}

/* The stored JSON text of a field as its decoded value; the text itself when it does not
 * parse (a document wider than jansson's integers) or cannot be converted (too deep). */
mn_value *mn__json_field_value(mn_arena *a, mn_value *text)
{
    if (!mn_value_is_string(text))
        return text;
    mn_str s = mn_value_string(text);
    json_error_t err;
    json_t *j = json_loadb(s.ptr, s.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        return text;
    mn_value *v = json_value(a, j, 0);
    json_decref(j);
    return v ? v : text;
}

/* A DurationField's value as Python's timedelta prints it ("1 day, 2:03:04.500000",
 * "-1 day, 23:59:59.999999"), false when zero; the value is microseconds. */
static int duration_to_string(void *self, mn_arena *arena, mn_buf *out)
{
    const int64_t day = INT64_C(86400000000);
    int64_t us = *(const int64_t *)self, days = us / day, rem = us % day;
    (void)arena;
    if (rem < 0) {
        rem += day;
        days--;
    }
    if (days)
        mn_buf_printf(out, "%lld day%s, ", (long long)days, days == 1 || days == -1 ? "" : "s");
    int64_t sec = rem / 1000000, frac = rem % 1000000;
    mn_buf_printf(out, "%lld:%02lld:%02lld", (long long)(sec / 3600), (long long)(sec / 60 % 60),
                  (long long)(sec % 60));
    return frac ? mn_buf_printf(out, ".%06lld", (long long)frac) : 0;
}

static int duration_truth(void *self, mn_arena *arena)
{
    (void)arena;
    return *(const int64_t *)self != 0;
}

static bool duration_equal(void *a, void *b)
{
    return *(const int64_t *)a == *(const int64_t *)b;
}

static const mn_value_class duration_class = {
    .name = "timedelta",
    .to_string = duration_to_string,
    .truth = duration_truth,
    .equal = duration_equal,
};

mn_value *mn__duration_value(mn_arena *a, mn_value *us)
{
    int64_t *p;
    if (mn_value_kind_of(us) != MN_VALUE_INT || !(p = mn_arena_alloc(a, sizeof *p)))
        return us;
    *p = us->u.i;
    return mn_value_object(a, &duration_class, p);
}

bool mn_value_duration(const mn_value *v, int64_t *us)
{
    if (mn_value_kind_of(v) != MN_VALUE_OBJECT || v->u.obj.cls != &duration_class)
        return false;
    if (us)
        *us = *(const int64_t *)v->u.obj.self;
    return true;
}

/* A related manager (question.choices, book.tags) as Django's: its methods (all, count,
 * exists, first, last) answer, but it is no sequence — {% for %} over it renders nothing,
 * |length is 0, {% if %} is always true — and it prints as "polls.Choice.None". */
static mn_value *manager_value(mn_qs *qs, bool m2m)
{
    return qs ? mn_value_object(qs->o->arena, m2m ? &m2m_manager_class : &manager_class, qs) : NULL;
}

/* The session's failure as the template's, with its message; `missing` (MN_ENOTFOUND: an
 * invalid variable) when the lookup found no row. */
static int orm_failed(mn_orm *o, int missing)
{
    if (!o->errcode || o->errcode == MN_EDOES_NOT_EXIST)
        return missing;
    if (*mn_orm_error(o))
        mn_value_fail(o->errcode, "%s", mn_orm_error(o));
    return o->errcode;
}

static int obj_get(void *self, mn_str name, mn_arena *arena, mn_value **out)
{
    /* a query this lookup makes is the template's: the N+1 warning names its line */
    int line;
    const char *tpl = mn_template_current(&line);
    mn_obj *h = self;
    mn_orm *o = h->orm;
    const mn_model *m = h->model;
    char *n = mn_arena_strndup(arena, name.ptr, name.len);
    if (!n)
        return MN_ENOMEM;
    const mn_fielddef *f = mn__field(m, name.ptr, name.len);
    if (f) {
        int rc = mn__load_deferred(o, self, f);
        if (rc)
            return rc;
        bool attname = (f->type == MN_FK || f->type == MN_O2O) && strcmp(n, f->name) != 0;
        if ((f->type == MN_FK || f->type == MN_O2O) && !attname) {
            if (mn__is_null(self, f)) {
                *out = mn_value_none();
                return 0;
            }
            /* a key naming no row is Django's RelatedObjectDoesNotExist: string_if_invalid */
            mn_orm_clear_error(o);
            void *rel = mn_fk_get_at(o, self, f->name, tpl, line);
            if (!rel)
                return orm_failed(o, MN_ENOTFOUND);
            *out = mn_obj_value(o, rel);
            return 0;
        }
        if (f->type == MN_M2M) {
            *out = manager_value(mn_related_at(o, self, f->name, tpl, line), true);
            return *out ? 0 : MN_EINVAL;
        }
        *out = mn_obj_get_value(o, self, f->name);
        if (*out && f->type == MN_JSON)
            *out = mn__json_field_value(arena, *out);
        else if (*out && f->type == MN_DURATION)
            *out = mn__duration_value(arena, *out);
        return *out ? 0 : MN_ENOMEM;
    }
    if (mn_str_starts_with(name, "get_") && mn_str_ends_with(name, "_display") && name.len > 12) {
        /* as Django, only a field with choices has get_FOO_display: for another the template
         * sees an invalid variable (string_if_invalid), not the raw value */
        const mn_fielddef *cf = mn__field(m, name.ptr + 4, name.len - 12);
        const char *d = cf && cf->choices ? mn_obj_display(o, self, cf->name) : NULL;
        if (d) {
            *out = mn_value_cstr(arena, d);
            return 0;
        }
    }
    if (mn_str_eq_cstr(name, "get_absolute_url") && m->absolute_url) {
        const char *u = m->absolute_url(self, arena);
        *out = u ? mn_value_cstr(arena, u) : mn_value_none();
        return 0;
    }
    mn_value *ann = mn_obj_annotation(self, n);
    if (ann) {
        *out = ann;
        return 0;
    }
    const revrel *r = mn__revrel(m, name.ptr, name.len, true);
    if (r) {
        if (r->field->type == MN_O2O) {
            /* a missing one raises RelatedObjectDoesNotExist in Django, which the template
             * engine renders as string_if_invalid */
            void *rel = mn_fk_get_at(o, self, n, tpl, line);
            if (!rel)
                return o->errcode && o->errcode != MN_EDOES_NOT_EXIST ? o->errcode : MN_ENOTFOUND;
            *out = mn_obj_value(o, rel);
            return 0;
        }
        *out = manager_value(mn_related_at(o, self, n, tpl, line), r->field->type == MN_M2M);
        return *out ? 0 : MN_EINVAL;
    }
    mn_rows *pre = mn_obj_prefetched(self, n); /* Prefetch(to_attr=n): a list, as Django */
    if (pre) {
        mn_value *list = mn_value_list(arena, pre->len);
        for (size_t i = 0; list && i < pre->len; i++)
            if (mn_value_list_append(arena, list, mn_obj_value(o, pre->items[i])) != 0)
                list = NULL;
        *out = list;
        return list ? 0 : MN_ENOMEM;
    }
    return MN_ENOTFOUND;
}

static int obj_to_string(void *self, mn_arena *arena, mn_buf *out)
{
    mn_obj *h = self;
    const char *s = mn_obj_str(h->orm, self);
    (void)arena;
    return mn_buf_puts(out, s ? s : "");
}

static bool obj_equal(void *a, void *b)
{
    const mn_obj *x = a, *y = b;
    return x->model == y->model && mn__pk_set(a) && mn__arg_eq(mn__pk_arg(a), mn__pk_arg(b));
}

static const mn_value_class obj_class = {
    .name = "Model",
    .get = obj_get,
    .to_string = obj_to_string,
    .equal = obj_equal,
};

/* The session's failure as the template's: its code, and its message for the render's
 * ("Iterating 'qs' failed: Choice has no field 'bogus'; ..."), not "unknown error". */
static int qs_failed(mn_qs *qs, int fallback)
{
    int rc = qs->o->errcode ? qs->o->errcode : fallback;
    if (qs->o->errcode && *mn_orm_error(qs->o))
        mn_value_fail(rc, "%s", mn_orm_error(qs->o));
    return rc;
}

static int qs_iterate(void *self, mn_arena *arena, mn_value **out)
{
    mn_qs *qs = self;
    mn_rows *rows = mn_qs_fetch(qs);
    if (!rows)
        return qs_failed(qs, MN_EINVAL);
    mn_value *list = mn_value_list(arena, rows->len);
    if (!list)
        return MN_ENOMEM;
    for (size_t i = 0; i < rows->len; i++) {
        mn_value *v =
            qs->mode == MODE_OBJECTS ? mn_obj_value(qs->o, rows->items[i]) : rows->items[i];
        if (!v || mn_value_list_append(arena, list, v) != 0)
            return MN_ENOMEM;
    }
    *out = list;
    return 0;
}

static int qs_length(void *self, mn_arena *arena, int64_t *out)
{
    mn_qs *qs = self;
    (void)arena;
    mn_rows *rows = mn_qs_fetch(qs); /* a template that asks the length usually iterates too */
    if (!rows)
        return qs_failed(qs, MN_EINVAL);
    *out = (int64_t)rows->len;
    return 0;
}

static int qs_get(void *self, mn_str name, mn_arena *arena, mn_value **out)
{
    mn_qs *qs = self;
    if (mn_str_eq_cstr(name, "all")) {
        *out = mn_qs_value(qs);
        return 0;
    }
    if (mn_str_eq_cstr(name, "count")) {
        int64_t n = qs->cache ? (int64_t)qs->cache->len : mn_qs_count(qs);
        if (n < 0)
            return qs_failed(qs, (int)n);
        *out = mn_value_int(arena, n);
        return 0;
    }
    if (mn_str_eq_cstr(name, "exists")) {
        int e = mn_qs_exists(qs);
        if (e < 0)
            return qs_failed(qs, e);
        *out = mn_value_bool(e);
        return 0;
    }
    if (mn_str_eq_cstr(name, "first") || mn_str_eq_cstr(name, "last")) {
        /* an ordered queryset already evaluated (a prefetched relation) answers first()
         * from its rows, as Django's self[:1] on a result cache */
        bool ordered = qs->order_set ? qs->norder > 0 : qs->m->ordering && *qs->m->ordering;
        if (qs->cache && ordered && name.ptr[0] == 'f') {
            void *row = qs->cache->len ? qs->cache->items[0] : NULL;
            *out = !row                       ? mn_value_none()
                   : qs->mode == MODE_OBJECTS ? mn_obj_value(qs->o, row)
                                              : row;
            return 0;
        }
        /* NULL is "no row" or a failed query: the session's error tells them apart */
        mn_orm_clear_error(qs->o);
        void *obj = name.ptr[0] == 'f' ? mn_qs_first(qs) : mn_qs_last(qs);
        if (!obj && qs->o->errcode)
            return qs_failed(qs, MN_EINVAL);
        *out = obj ? (qs->mode == MODE_OBJECTS ? mn_obj_value(qs->o, obj) : obj) : mn_value_none();
        return 0;
    }
    int64_t idx;
    if (mn_str_to_i64(name, &idx) == 0 && idx >= 0 && idx < INT64_MAX) {
        /* as Django's qs[i]: the cached rows, else a one-row query (OFFSET i LIMIT 1) that
         * leaves the queryset unevaluated */
        mn_qs *one = qs->cache ? qs : mn_qs_slice(qs, idx, idx + 1);
        mn_rows *rows = one ? mn_qs_fetch(one) : NULL;
        if (!rows)
            return qs_failed(qs, MN_EINVAL);
        size_t at = qs->cache ? (size_t)idx : 0;
        if (at >= rows->len)
            return MN_ENOTFOUND;
        *out = qs->mode == MODE_OBJECTS ? mn_obj_value(qs->o, rows->items[at]) : rows->items[at];
        return 0;
    }
    return MN_ENOTFOUND;
}

/* As QuerySet.__repr__: the first 20 rows, then "...(remaining elements truncated)...";
 * an unevaluated queryset runs a LIMIT 21 query for it and stays unevaluated. */
static int qs_to_string(void *self, mn_arena *arena, mn_buf *out)
{
    enum { REPR_ROWS = 20 };
    mn_qs *qs = self;
    mn_qs *head = qs->cache ? qs : mn_qs_slice(qs, 0, REPR_ROWS + 1);
    mn_rows *rows = head ? mn_qs_fetch(head) : NULL;
    if (!rows)
        return qs_failed(qs, MN_EINVAL);
    mn_buf_puts(out, "<QuerySet [");
    for (size_t i = 0; i < rows->len; i++) {
        if (i)
            mn_buf_puts(out, ", ");
        if (i == REPR_ROWS) {
            mn_buf_puts(out, "'...(remaining elements truncated)...'");
            break;
        }
        if (qs->mode == MODE_OBJECTS) {
            mn_buf_printf(out, "<%s: %s>", qs->m->name, mn_obj_str(qs->o, rows->items[i]));
        } else {
            mn_value_write_repr(rows->items[i], arena, out);
        }
    }
    return mn_buf_puts(out, "]>");
}

/* qs[start:stop:step] as Django's QuerySet.__getitem__: a narrower lazy queryset (LIMIT and
 * OFFSET, nothing fetched), or with a step the list of those rows; negative bounds are
 * Django's ValueError. A queryset already evaluated slices its cached rows as a list. */
static int qs_slice(void *self, const mn_value_slice *s, mn_arena *arena, mn_value **out)
{
    mn_qs *qs = self;
    if (qs->cache)
        return MN_EUNSUPPORTED;
    if ((s->has_start && s->start < 0) || (s->has_stop && s->stop < 0))
        return MN_EINVAL; /* "Negative indexing is not supported." */
    int64_t start = s->has_start ? s->start : 0;
    int64_t stop = s->has_stop ? (s->stop < start ? start : s->stop) : -1;
    mn_qs *c = mn_qs_slice(qs, start, stop);
    if (!c)
        return qs->o->errcode ? qs->o->errcode : MN_ENOMEM;
    if (!s->has_step) {
        *out = mn_qs_value(c);
        return *out ? 0 : MN_ENOMEM;
    }
    mn_value *rows;
    int rc = qs_iterate(c, arena, &rows);
    if (rc)
        return rc;
    size_t n = mn_value_list_len(rows);
    mn_value *list = mn_value_list(arena, 0);
    if (!list)
        return MN_ENOMEM;
    for (int64_t i = s->step > 0 ? 0 : (int64_t)n - 1; i >= 0 && i < (int64_t)n; i += s->step)
        if (mn_value_list_append(arena, list, mn_value_list_get(rows, (size_t)i)) != 0)
            return MN_ENOMEM;
    *out = list;
    return 0;
}

static const mn_value_class qs_class = {
    .name = "QuerySet",
    .get = qs_get,
    .iterate = qs_iterate,
    .length = qs_length,
    .to_string = qs_to_string,
    .to_string_is_repr = true,
    .slice = qs_slice,
};

static int manager_get(void *self, mn_str name, mn_arena *arena, mn_value **out)
{
    int64_t idx;
    if (mn_str_to_i64(name, &idx) == 0)
        return MN_ENOTFOUND; /* a manager is not subscriptable */
    return qs_get(self, name, arena, out);
}

static int manager_to_string(void *self, mn_arena *arena, mn_buf *out)
{
    const mn_model *m = ((mn_qs *)self)->m;
    (void)arena;
    return mn_buf_printf(out, "%s.%s.None", m->app ? m->app : "", m->name);
}

static const mn_value_class manager_class = {
    .name = "RelatedManager",
    .get = manager_get,
    .to_string = manager_to_string,
};

static const mn_value_class m2m_manager_class = {
    .name = "ManyRelatedManager",
    .get = manager_get,
    .to_string = manager_to_string,
};
