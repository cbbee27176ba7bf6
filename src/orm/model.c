/* model.c — the app registry and field metadata: resolving relations by name, implicit M2M
 * through models, reverse accessors, field lookup with "did you mean" help, and NULL-ness of
 * a struct member (convert.c turns members into parameters and cells back into members).
 *
 * Storage (both dialects unless noted): integers as BIGINT; decimals exactly — NUMERIC text
 * on PostgreSQL, an integer scaled by 10^decimal_places on SQLite (so comparisons and SUM stay
 * exact); datetimes in UTC as text on SQLite ("YYYY-MM-DD HH:MM:SS[.ffffff]") and timestamptz
 * on PostgreSQL; durations as microseconds; uuids as canonical text. */
#include "compile.h" /* mn__edit_distance, shared with the lookup suggestions */

#include <ctype.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdlib.h>

enum { MAX_MODELS = 512 };
static mn_model *registry[MAX_MODELS];
static size_t nregistry;
static bool ready_done;
static int ready_rc;
static const char *ready_why;
static mn_arena *registry_arena;

void mn_model_register(mn_model *model)
{
    for (size_t i = 0; i < nregistry; i++)
        if (registry[i] == model)
            return;
    if (nregistry < MAX_MODELS)
        registry[nregistry++] = model;
    ready_done = false;
}

size_t mn_model_count(void)
{
    mn_models_ready(NULL);
    return nregistry;
}

const mn_model *mn_model_at(size_t i)
{
    mn_models_ready(NULL);
    return i < nregistry ? registry[i] : NULL;
}

static char *lower_dup(mn_arena *a, const char *s)
{
    char *d = mn_arena_strdup(a, s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

const char *mn__label(const mn_model *m)
{
    return mrt(m)->label;
}
const char *mn_model_table(const mn_model *m)
{
    mn_models_ready(NULL);
    return m->rt_ ? mrt(m)->table : m->db_table;
}

const mn_model *mn_model_lookup(const char *name)
{
    mn_models_ready(NULL);
    const char *dot = strchr(name, '.');
    for (size_t i = 0; i < nregistry; i++) {
        const mn_model *m = registry[i];
        if (dot) {
            size_t alen = (size_t)(dot - name);
            if (strlen(m->app) == alen && strncmp(m->app, name, alen) == 0 &&
                strcasecmp(m->name, dot + 1) == 0)
                return m;
        } else if (strcasecmp(m->name, name) == 0) {
            return m;
        }
    }
    return NULL;
}

static const mn_model *resolve_to(const mn_model *from, const char *to)
{
    if (!to)
        return NULL;
    if (strcmp(to, "self") == 0)
        return from;
    if (strchr(to, '.')) {
        for (size_t i = 0; i < nregistry; i++) {
            const mn_model *m = registry[i];
            const char *dot = strchr(to, '.');
            if (strlen(m->app) == (size_t)(dot - to) &&
                strncmp(m->app, to, (size_t)(dot - to)) == 0 && strcmp(m->name, dot + 1) == 0)
                return m;
        }
        return NULL;
    }
    for (size_t i = 0; i < nregistry; i++) /* same app first */
        if (strcmp(registry[i]->app, from->app) == 0 && strcmp(registry[i]->name, to) == 0)
            return registry[i];
    for (size_t i = 0; i < nregistry; i++)
        if (strcmp(registry[i]->name, to) == 0)
            return registry[i];
    return NULL;
}

/* An implicit M2M table: (id, <from>_id, <to>_id), unique on the pair. */
typedef struct through_row {
    mn_obj _mn;
    int64_t id;
    mn_fk from;
    mn_fk to;
} through_row;

static int make_through(mn_model *m, mn_fielddef *f)
{
    mn_arena *a = registry_arena;
    mn_model *t = mn_arena_calloc(a, 1, sizeof *t);
    mn_fielddef *fs = mn_arena_calloc(a, 3, sizeof *fs);
    if (!t || !fs)
        return MN_ENOMEM;
    const mn_model *target = f->rel_model;
    bool self = target == m;
    char *from_name =
        self ? mn_arena_printf(a, "from_%s", lower_dup(a, m->name)) : lower_dup(a, m->name);
    char *to_name =
        self ? mn_arena_printf(a, "to_%s", lower_dup(a, target->name)) : lower_dup(a, target->name);
    fs[0] = (mn_fielddef){.name = "id", .type = MN_BIGAUTO, .offset = offsetof(through_row, id)};
    fs[1] = (mn_fielddef){.name = from_name,
                          .type = MN_FK,
                          .offset = offsetof(through_row, from),
                          .on_delete = MN_CASCADE,
                          .related_name = "+"};
    fs[2] = (mn_fielddef){.name = to_name,
                          .type = MN_FK,
                          .offset = offsetof(through_row, to),
                          .on_delete = MN_CASCADE,
                          .related_name = "+"};
    fs[1].rel_model = m;
    fs[2].rel_model = target;
    t->name = mn_arena_printf(a, "%s_%s", m->name, f->name);
    t->app = m->app;
    t->size = sizeof(through_row);
    t->fields = fs;
    t->nfields = 3;
    t->db_table = mn_arena_printf(a, "%s_%s", mrt(m)->table, f->name);
    t->unique_together = mn_arena_printf(a, "%s,%s", from_name, to_name);
    t->auto_created = true;
    f->through_model = t;
    if (nregistry >= MAX_MODELS)
        return MN_ETOOBIG;
    registry[nregistry++] = t;
    return 0;
}

static int add_reverse(const mn_model *from, const mn_fielddef *f)
{
    if (f->related_name && strcmp(f->related_name, "+") == 0)
        return 0;
    mn_arena *a = registry_arena;
    revrel *r = mn_arena_calloc(a, 1, sizeof *r);
    if (!r)
        return MN_ENOMEM;
    char *low = lower_dup(a, from->name);
    r->query_name = f->related_name ? f->related_name : low;
    r->accessor = f->related_name     ? f->related_name
                  : f->type == MN_O2O ? low
                                      : mn_arena_printf(a, "%s_set", low);
    r->from = from;
    r->field = f;
    model_rt *rt = mrt(f->rel_model);
    r->next = rt->reverse;
    rt->reverse = r;
    return 0;
}

/* A single-field UNIQUE constraint in Meta.constraints on f (Django accepts it for to_field). */
static bool unique_by_constraint(const mn_model *m, const char *name)
{
    for (const mn_constraint *c = m->constraints; c && c->kind; c++)
        if (c->kind == MN_CONSTRAINT_UNIQUE && c->fields && !c->check &&
            strcmp(c->fields, name) == 0) /* a partial one is not total (Django's) */
            return true;
    return false;
}

/* Sets f->rel_field: the target's field named by to_field, else its primary key. NULL when
 * fine, else the system check's message (Django's fields.E312, fields.E311). */
static const char *resolve_to_field(const mn_model *m, mn_fielddef *f)
{
    const mn_model *rm = f->rel_model;
    f->rel_field = rm->pk;
    if (!f->to_field)
        return NULL;
    const mn_fielddef *tf = NULL;
    for (size_t i = 0; i < rm->nfields && !tf; i++)
        if (strcmp(rm->fields[i].name, f->to_field) == 0)
            tf = &rm->fields[i];
    if (!tf || tf->type == MN_M2M)
        return mn_arena_printf(registry_arena,
                               "%s.%s: (fields.E312) The to_field '%s' doesn't exist on the "
                               "related model '%s'.",
                               mrt(m)->label, f->name, f->to_field, mrt(rm)->label);
    if (!tf->unique && !tf->primary_key && tf->type != MN_O2O &&
        !unique_by_constraint(rm, tf->name))
        return mn_arena_printf(registry_arena,
                               "%s.%s: (fields.E311) '%s.%s' must be unique because it is "
                               "referenced by a foreign key.",
                               mrt(m)->label, f->name, rm->name, tf->name);
    mn_ftype t = tf->type;
    if (!mn__is_int_type(t) && !mn__is_text_type(t))
        return mn_arena_printf(registry_arena,
                               "%s.%s: the to_field '%s' is not an integer or text field, the "
                               "keys a relation holds",
                               mrt(m)->label, f->name, f->to_field);
    f->rel_field = tf;
    return NULL;
}

static int fail_ready(const char *why)
{
    ready_why = why;
    ready_rc = MN_EFIELD;
    return MN_EFIELD;
}

static int prepare_model(mn_model *m)
{
    mn_arena *a = registry_arena;
    if (m->fields_get && !m->fields) {
        size_t n = 0;
        m->fields = m->fields_get(&n);
        m->nfields = n;
    }
    if (m->nfields > 64)
        return fail_ready(mn_arena_printf(a, "%s has more than 64 fields", m->name));
    model_rt *rt = mn_arena_calloc(a, 1, sizeof *rt);
    if (!rt)
        return MN_ENOMEM;
    m->rt_ = rt;
    rt->label = mn_arena_printf(a, "%s.%s", m->app, m->name);
    rt->table =
        m->db_table ? m->db_table : mn_arena_printf(a, "%s_%s", m->app, lower_dup(a, m->name));
    m->pk = NULL;
    for (size_t i = 0; i < m->nfields; i++) {
        mn_fielddef *f = &m->fields[i];
        f->index = (int)i;
        f->model = m;
        /* DateField(auto_now[_add]=True) is editable=False, blank=True; editable=True is
         * the default (forms and the admin read it) */
        if (f->auto_now || f->auto_now_add) {
            f->blank = true;
            if (f->editable == MN_UNSET)
                f->editable = MN_NO;
        }
        if (f->editable == MN_UNSET)
            f->editable = MN_YES;
        if (!f->verbose_name) { /* Django's default: the name, underscores as spaces */
            char *vn = mn_arena_strdup(a, f->name);
            for (char *p = vn; p && *p; p++)
                if (*p == '_')
                    *p = ' ';
            f->verbose_name = vn;
        }
        if (f->type == MN_FK || f->type == MN_O2O)
            f->column = f->db_column ? f->db_column : mn_arena_printf(a, "%s_id", f->name);
        else
            f->column = f->db_column ? f->db_column : f->name;
        bool autof = f->type == MN_AUTO || f->type == MN_BIGAUTO || f->type == MN_SMALLAUTO;
        if ((f->primary_key || autof) && !m->pk) {
            f->primary_key = true;
            m->pk = f;
        }
    }
    if (!m->pk && !m->abstract)
        return fail_ready(mn_arena_printf(
            a, "%s has no primary key: add F(id, MN_BIGAUTO) to its fields", m->name));
    return 0;
}

static const char *ordering_problem(const mn_model *m);

/* Every link of m's chain of .base models is abstract, and the chain ends. NULL when so. */
static const char *base_problem(const mn_model *m)
{
    size_t depth = 0;
    for (const mn_model *c = m; c->base; c = c->base) {
        const mn_model *b = c->base;
        if (!b->abstract)
            return mn_arena_printf(registry_arena,
                                   "%s.%s: .base is %s.%s, which is not abstract: a base model "
                                   "must set .abstract = true",
                                   c->app, c->name, b->app, b->name);
        if (++depth > 64)
            return mn_arena_printf(registry_arena, "%s.%s: its chain of .base models loops", m->app,
                                   m->name);
    }
    return NULL;
}

/* The base's constraint or index names, prefixed with the child's table ("<table>_<name>"),
 * so that two children of one base don't give one schema two objects of the same name
 * (Django asks for %(app_label)s/%(class)s in such names). Unnamed entries stay unnamed:
 * their generated names already hold the table. */
static const mn_constraint *own_constraints(const char *table, const mn_constraint *from)
{
    size_t n = 0;
    while (from[n].kind)
        n++;
    mn_constraint *c = mn_arena_calloc(registry_arena, n + 1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        c[i] = from[i];
        if (from[i].name)
            c[i].name = mn_arena_printf(registry_arena, "%s_%s", table, from[i].name);
    }
    return c;
}

static const mn_index *own_indexes(const char *table, const mn_index *from)
{
    size_t n = 0;
    while (from[n].fields)
        n++;
    mn_index *ix = mn_arena_calloc(registry_arena, n + 1, sizeof *ix);
    if (!ix)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        ix[i] = from[i];
        if (from[i].name)
            ix[i].name = mn_arena_printf(registry_arena, "%s_%s", table, from[i].name);
    }
    return ix;
}

/* A concrete model takes, for each Meta option and method it leaves unset, the value of the
 * nearest base in its chain that sets it (Django's children of an abstract base inherit its
 * Meta and methods). Written into the model itself, so a later pass finds them set and keeps
 * them. Not db_table, verbose_name(_plural) (derived from the child's own name), abstract. */
static int inherit_meta(mn_model *m)
{
#define MN__INHERIT(opt)                                                                           \
    if (!m->opt)                                                                                   \
        for (const mn_model *b = m->base; b && !m->opt; b = b->base)                               \
            m->opt = b->opt;
    MN__INHERIT(ordering)
    MN__INHERIT(get_latest_by)
    MN__INHERIT(unique_together)
    MN__INHERIT(str)
    MN__INHERIT(absolute_url)
#undef MN__INHERIT
    const char *table = mrt(m)->table;
    if (!m->constraints)
        for (const mn_model *b = m->base; b && !m->constraints; b = b->base)
            if (b->constraints && !(m->constraints = own_constraints(table, b->constraints)))
                return MN_ENOMEM;
    if (!m->indexes)
        for (const mn_model *b = m->base; b && !m->indexes; b = b->base)
            if (b->indexes && !(m->indexes = own_indexes(table, b->indexes)))
                return MN_ENOMEM;
    return 0;
}

int mn_models_ready(const char **why)
{
    if (ready_done) {
        if (why)
            *why = ready_why;
        return ready_rc;
    }
    if (!registry_arena && !(registry_arena = mn_arena_new(16384)))
        return MN_ENOMEM;
    ready_done = true;
    ready_rc = 0;
    ready_why = NULL;
    /* Drop previously generated through models: they are rebuilt below. */
    size_t n = 0;
    for (size_t i = 0; i < nregistry; i++)
        if (!registry[i]->auto_created)
            registry[n++] = registry[i];
    nregistry = n;
    for (size_t i = 0; i < nregistry && ready_rc == 0; i++)
        if (prepare_model(registry[i]) != 0 && ready_rc == 0)
            ready_rc = MN_ENOMEM;
    for (size_t i = 0; i < nregistry && ready_rc == 0; i++) {
        mn_model *m = registry[i];
        const char *problem = base_problem(m);
        if (problem)
            fail_ready(problem);
        else if (!m->abstract && m->base && inherit_meta(m) != 0)
            ready_rc = MN_ENOMEM;
    }
    size_t base = nregistry;
    for (size_t i = 0; i < base && ready_rc == 0; i++) {
        mn_model *m = registry[i];
        if (m->abstract)
            continue;
        for (size_t j = 0; j < m->nfields && ready_rc == 0; j++) {
            mn_fielddef *f = &m->fields[j];
            if (f->type != MN_FK && f->type != MN_O2O && f->type != MN_M2M)
                continue;
            f->rel_model = resolve_to(m, f->to);
            if (!f->rel_model) {
                fail_ready(mn_arena_printf(registry_arena, "%s.%s points to unknown model '%s'",
                                           m->name, f->name, f->to ? f->to : "(none: set .to)"));
                break;
            }
            if (f->type == MN_FK || f->type == MN_O2O) {
                if (!f->on_delete)
                    f->on_delete = MN_CASCADE;
                if (f->type == MN_O2O)
                    f->unique = true;
                const char *problem = resolve_to_field(m, f);
                if (problem) {
                    fail_ready(problem);
                    break;
                }
            } else if (f->through) {
                mn_model *t = (mn_model *)resolve_to(m, f->through);
                if (!t) {
                    fail_ready(mn_arena_printf(registry_arena, "%s.%s: unknown through model '%s'",
                                               m->name, f->name, f->through));
                    break;
                }
                f->through_model = t;
            } else if (make_through(m, f) != 0) {
                ready_rc = MN_ENOMEM;
            }
            if (ready_rc == 0 && add_reverse(m, f) != 0)
                ready_rc = MN_ENOMEM;
        }
    }
    for (size_t i = base; i < nregistry && ready_rc == 0; i++) { /* through models */
        mn_model *t = registry[i];
        model_rt *rt = mn_arena_calloc(registry_arena, 1, sizeof *rt);
        if (!rt) {
            ready_rc = MN_ENOMEM;
            break;
        }
        t->rt_ = rt;
        rt->label = mn_arena_printf(registry_arena, "%s.%s", t->app, t->name);
        rt->table = t->db_table;
        for (size_t j = 0; j < t->nfields; j++) {
            mn_fielddef *f = &t->fields[j];
            f->index = (int)j;
            f->model = t;
            f->column = j == 0 ? "id" : mn_arena_printf(registry_arena, "%s_id", f->name);
            if (j > 0)
                f->rel_field = f->rel_model->pk;
        }
        t->pk = &t->fields[0];
        t->fields[0].primary_key = true;
    }
    /* Meta.ordering is checked now, not when rows are first fetched (models.E015) */
    for (size_t i = 0; i < base && ready_rc == 0; i++) {
        const char *problem = registry[i]->abstract ? NULL : ordering_problem(registry[i]);
        if (problem)
            fail_ready(problem);
    }
    if (why)
        *why = ready_why;
    return ready_rc;
}

int mn__ready(mn_orm *o)
{
    const char *why = NULL;
    int rc = mn_models_ready(&why);
    if (rc)
        return mn__orm_fail(o, rc, "%s", why ? why : "the model registry is not ready");
    return 0;
}

/* ---- fields ---- */
const mn_fielddef *mn__field(const mn_model *m, const char *name, size_t len)
{
    if (len == 2 && strncmp(name, "pk", 2) == 0)
        return m->pk;
    for (size_t i = 0; i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
            return f;
        /* the attname of a foreign key: question_id */
        if ((f->type == MN_FK || f->type == MN_O2O) && strlen(f->name) + 3 == len &&
            strncmp(f->name, name, len - 3) == 0 && strncmp(name + len - 3, "_id", 3) == 0)
            return f;
    }
    return NULL;
}

const mn_fielddef *mn_model_field(const mn_model *m, const char *name)
{
    if (mn_models_ready(NULL) != 0 || !name)
        return NULL;
    return mn__field(m, name, strlen(name));
}

const revrel *mn__revrel(const mn_model *m, const char *name, size_t len, bool accessor)
{
    for (const revrel *r = mrt(m)->reverse; r; r = r->next) {
        const char *n = accessor ? r->accessor : r->query_name;
        if (strlen(n) == len && strncmp(n, name, len) == 0)
            return r;
    }
    return NULL;
}

/* Optimal string alignment distance: edits plus adjacent swaps ("txet" is 1 from "text"). */
size_t mn__edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    if (la > 64 || lb > 64)
        return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* The names a misspelt one is compared with: every field and reverse query name (filters,
 * ordering), or only the relations prefetch_related can follow (relation fields and reverse
 * accessors). */
typedef struct candidates {
    const char *best;
    size_t best_d;
    mn_buf *all; /* every candidate, comma-separated, or NULL */
} candidates;

static void consider(candidates *c, const char *name, size_t len, const char *cand)
{
    size_t d = mn__edit_distance(name, len, cand, strlen(cand));
    if (d < c->best_d)
        c->best_d = d, c->best = cand;
    if (c->all)
        mn_buf_printf(c->all, "%s%s", c->all->len ? ", " : "", cand);
}

static void gather(candidates *c, const mn_model *m, const char *name, size_t len,
                   bool relations_only)
{
    c->best = NULL;
    c->best_d = 99;
    for (size_t i = 0; i < m->nfields; i++)
        if (!relations_only || m->fields[i].rel_model)
            consider(c, name, len, m->fields[i].name);
    for (const revrel *r = mrt(m)->reverse; r; r = r->next)
        consider(c, name, len, relations_only ? r->accessor : r->query_name);
}

/* The close-enough valid name ("pub_date" for "pub_dte"), or NULL. */
static const char *closest(const candidates *c, size_t len)
{
    size_t limit = len <= 4 ? 1 : len / 3 + 1;
    return c->best && c->best_d <= limit ? c->best : NULL;
}

static int no_name(mn_orm *o, const mn_model *m, const char *name, size_t len, bool relations)
{
    mn_buf all;
    mn_buf_init(&all, o->arena);
    candidates c = {.all = &all};
    gather(&c, m, name, len, relations);
    const char *best = closest(&c, len);
    if (best)
        return mn__orm_fail(o, MN_EFIELD, "%s has no field '%.*s'; did you mean '%s'?", m->name,
                            (int)len, name, best);
    return mn__orm_fail(o, MN_EFIELD, "%s has no field '%.*s'; choices are: %s", m->name, (int)len,
                        name, mn_buf_cstr(&all) ? all.data : "");
}

int mn__no_field(mn_orm *o, const mn_model *m, const char *name, size_t len)
{
    return no_name(o, m, name, len, false);
}

/* " (in 'question__txet')" after the message when the bad name came after a relation. */
static void name_path(mn_orm *o, const char *name, const char *path)
{
    if (path && name > path && name < path + strlen(path)) {
        size_t used = strlen(o->errmsg);
        snprintf(o->errmsg + used, sizeof o->errmsg - used, " (in '%s')", path);
    }
}

int mn__no_relation_in(mn_orm *o, const mn_model *m, const char *name, size_t len, const char *path)
{
    int rc = no_name(o, m, name, len, true);
    name_path(o, name, path);
    return rc;
}

/* One Meta.ordering item ("-author__name", "pub_date__year", "?") names what exists. NULL
 * when it does, else the message: Django's system check models.E015, with the closest name. */
static const char *ordering_item_problem(const mn_model *m, const char *item)
{
    const char *path = item[0] == '-' || item[0] == '+' ? item + 1 : item;
    if (strcmp(item, "?") == 0)
        return NULL;
    const mn_model *cur = m; /* the model the next name belongs to; NULL after a plain field */
    for (const char *p = path; *p;) {
        const char *dd = strstr(p, "__");
        size_t n = dd ? (size_t)(dd - p) : strlen(p);
        const mn_fielddef *f = cur ? mn__field(cur, p, n) : NULL;
        const revrel *r = !f && cur ? mn__revrel(cur, p, n, false) : NULL;
        bool transform = !f && !r && p != path && mn__is_lookup_word(p, n);
        if (!f && !r && !transform) {
            const char *best = NULL;
            if (cur) {
                candidates c = {0};
                gather(&c, cur, p, n, false);
                best = closest(&c, n);
            }
            return mn_arena_printf(registry_arena,
                                   "%s: (models.E015) 'ordering' refers to the nonexistent "
                                   "field, related field, or lookup '%s'%s%.*s%s%s",
                                   mrt(m)->label, path, best ? "; did you mean '" : ".",
                                   best ? (int)(p - path) : 0, path, best ? best : "",
                                   best ? "'?" : "");
        }
        cur = f ? f->rel_model : r ? r->from : NULL;
        p = dd ? dd + 2 : p + n;
    }
    return NULL;
}

static const char *ordering_problem(const mn_model *m)
{
    for (const char *p = m->ordering; p && *p;) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        mn_str t = mn_str_trim((mn_str){p, (size_t)(e - p)});
        if (t.len) {
            const char *why =
                ordering_item_problem(m, mn_arena_strndup(registry_arena, t.ptr, t.len));
            if (why)
                return why;
        }
        p = *e ? e + 1 : e;
    }
    return NULL;
}

int mn__no_field_in(mn_orm *o, const mn_model *m, const char *name, size_t len, const char *path)
{
    int rc = mn__no_field(o, m, name, len);
    name_path(o, name, path); /* only when the bad name came after a relation */
    return rc;
}

bool mn__is_text_type(mn_ftype t)
{
    return (t >= MN_CHAR && t <= MN_GENERICIP) || t == MN_UUID || t == MN_JSON;
}

bool mn__has_column(const mn_fielddef *f)
{
    return f->type != MN_M2M;
}

void *mn__fptr(const void *obj, const mn_fielddef *f)
{
    return (char *)obj + f->offset;
}

/* NULL is what C already says where it can (a NULL pointer, a foreign key with no id, a
 * date with year 0), so assigning struct members directly just works; numbers, booleans,
 * times and durations use the instance's null bitmap. */
bool mn__is_null(const void *obj, const mn_fielddef *f)
{
    const mn_obj *h = obj;
    const void *p = mn__fptr(obj, f);
    switch (f->type) {
    case MN_FK:
    case MN_O2O: {
        const mn_fk *fk = p;
        return fk->id == 0 && fk->obj == NULL && fk->key == NULL;
    }
    case MN_DATE:
    case MN_DATETIME: return ((const mn_datetime *)p)->year == 0;
    case MN_BINARY: return ((const mn_str *)p)->ptr == NULL && f->null;
    case MN_M2M: return false;
    default:
        if (mn__is_text_type(f->type) || f->type == MN_DECIMAL)
            return *(const char *const *)p == NULL && f->null;
        if (!(h->nulls & (UINT64_C(1) << f->index)))
            return false;
        /* The bit marks a zero as NULL; a value assigned since (q->n = 5) wins. */
        switch (f->type) {
        case MN_FLOAT: return *(const double *)p == 0;
        case MN_BOOL: return !*(const bool *)p;
        case MN_TIME: {
            const mn_datetime *t = p;
            return !t->hour && !t->minute && !t->second && !t->microsecond;
        }
        default: return *(const int64_t *)p == 0;
        }
    }
}

void mn__set_null(void *obj, const mn_fielddef *f, bool null)
{
    mn_obj *h = obj;
    if (!null) {
        h->nulls &= ~(UINT64_C(1) << f->index);
        return;
    }
    h->nulls |= UINT64_C(1) << f->index;
    void *p = mn__fptr(obj, f);
    switch (f->type) {
    case MN_FK:
    case MN_O2O: *(mn_fk *)p = (mn_fk){0, NULL, NULL}; break;
    case MN_DATE:
    case MN_DATETIME:
    case MN_TIME: memset(p, 0, sizeof(mn_datetime)); break;
    case MN_BINARY: *(mn_str *)p = (mn_str){NULL, 0}; break;
    case MN_M2M: break;
    default:
        if (mn__is_text_type(f->type) || f->type == MN_DECIMAL)
            *(const char **)p = NULL;
        else /* the bit marks a zero as NULL: age = None on age 3 must not leave 3 */
            memset(p, 0,
                   f->type == MN_FLOAT  ? sizeof(double)
                   : f->type == MN_BOOL ? sizeof(bool)
                                        : sizeof(int64_t));
        break;
    }
}

/* After a write the row holds every non-NULL value that was sent: their null bits (set on a
 * new instance) are cleared, so a later `n->small = 0` saves 0, not NULL. `fields` is the
 * update_fields list (NULL: all). */
void mn__settle_nulls(void *obj, const mn_model *m, bool (*written)(const char *, const char *),
                      const char *fields)
{
    mn_obj *h = obj;
    for (size_t i = 0; h->nulls && i < m->nfields; i++) {
        const mn_fielddef *f = &m->fields[i];
        if ((h->nulls & (UINT64_C(1) << f->index)) && !mn__is_null(obj, f) &&
            (!written || written(fields, f->name)))
            h->nulls &= ~(UINT64_C(1) << f->index);
    }
}

bool mn_obj_is_null(const void *obj, const char *field)
{
    const mn_obj *h = obj;
    const mn_fielddef *f = mn_model_field(h->model, field);
    return f && mn__is_null(obj, f);
}

void mn_obj_set_null(void *obj, const char *field, bool is_null)
{
    const mn_obj *h = obj;
    const mn_fielddef *f = mn_model_field(h->model, field);
    if (f)
        mn__set_null(obj, f, is_null);
}

static bool is_rel(const mn_fielddef *f)
{
    return f->type == MN_FK || f->type == MN_O2O;
}

int64_t mn_obj_pk(const void *obj)
{
    const mn_obj *h = obj;
    if (!h || !h->model || !h->model->pk || !mn__is_int_type(h->model->pk->type))
        return 0;
    if (is_rel(h->model->pk)) { /* a OneToOneField(primary_key=True): the parent's key */
        mn_arg k = mn__fk_arg(obj, h->model->pk);
        return k.type == MN_ARG_INT ? k.v.i : 0;
    }
    return *(const int64_t *)mn__fptr(obj, h->model->pk);
}

const mn_fielddef *mn__key_field(const mn_fielddef *f)
{
    /* bounded: a cycle of O2O primary keys is not a model anyone can save */
    for (int hop = 0; hop < 16 && is_rel(f) && f->rel_model && f->rel_model->pk; hop++)
        f = mn__rel_field(f);
    return f;
}

mn_arg mn__rel_arg(const void *rel, const mn_fielddef *f)
{
    const mn_fielddef *tf = mn__rel_field(f);
    const mn_obj *h = rel;
    if (!h || !tf || tf == h->model->pk || tf->model != h->model)
        return mn__pk_arg(rel);
    if (is_rel(tf))
        return mn__fk_arg(rel, tf);
    if (mn__is_null(rel, tf))
        return mn_arg_null();
    const void *p = mn__fptr(rel, tf);
    if (mn__is_int_type(tf->type))
        return mn_arg_int(*(const int64_t *)p);
    return *(const char *const *)p ? mn_arg_str(*(const char *const *)p) : mn_arg_null();
}

/* ---- keys of any type ----
 * A primary key is an integer (auto fields, IntegerField(primary_key=True)) or text
 * (CharField, UUIDField...). Inside the ORM a key travels as an mn_arg, MN_ARG_INT or
 * MN_ARG_STR, so the integer case keeps its plain int64_t all the way to the parameter. */
bool mn__pk_is_text(const mn_model *m)
{
    return m->pk && !mn__is_int_type(is_rel(m->pk) ? mn__key_field(m->pk)->type : m->pk->type);
}

bool mn__fk_is_text(const mn_fielddef *f)
{
    if (!f->rel_model)
        return false;
    if (!f->to_field) /* the usual case: the target's pk */
        return mn__pk_is_text(f->rel_model);
    return !mn__is_int_type(mn__key_field(f)->type);
}

mn_arg mn__pk_arg(const void *obj)
{
    const mn_obj *h = obj;
    if (!h || !h->model || !h->model->pk)
        return mn_arg_null();
    if (is_rel(h->model->pk))
        return mn__fk_arg(obj, h->model->pk);
    const void *p = mn__fptr(obj, h->model->pk);
    if (!mn__pk_is_text(h->model))
        return mn_arg_int(*(const int64_t *)p);
    return mn_arg_str(*(const char *const *)p); /* NULL: unset */
}

bool mn__pk_set(const void *obj)
{
    mn_arg a = mn__pk_arg(obj);
    return a.type == MN_ARG_INT ? a.v.i != 0 : a.type == MN_ARG_STR;
}

mn_arg mn__fk_arg(const void *obj, const mn_fielddef *f)
{
    if (mn__is_null(obj, f))
        return mn_arg_null();
    const mn_fk *fk = mn__fptr(obj, f);
    if (mn__fk_is_text(f)) {
        if (fk->key)
            return mn_arg_str(fk->key);
        return fk->obj ? mn__rel_arg(fk->obj, f) : mn_arg_null();
    }
    if (fk->obj && !fk->id)
        return f->to_field ? mn__rel_arg(fk->obj, f) : mn_arg_int(mn_obj_pk(fk->obj));
    return mn_arg_int(fk->id);
}

bool mn__arg_eq(mn_arg a, mn_arg b)
{
    if (a.type == MN_ARG_INT && b.type == MN_ARG_INT)
        return a.v.i == b.v.i;
    if (a.type == MN_ARG_STR && b.type == MN_ARG_STR)
        return strcmp(a.v.s, b.v.s) == 0;
    return false;
}

mn_arg mn__value_arg(mn_arena *a, const mn_value *v)
{
    int64_t i;
    if (!v || mn_value_is_none(v))
        return mn_arg_null();
    if (mn_value_is_string(v)) {
        mn_str s = mn_value_string(v);
        return mn_arg_str(mn_arena_strndup(a, s.ptr, s.len));
    }
    if (mn_value_to_int(v, &i) == 0)
        return mn_arg_int(i);
    return mn_arg_null();
}

const char *mn__arg_text(mn_arena *a, mn_arg k)
{
    if (k.type == MN_ARG_INT)
        return mn_arena_printf(a, "%lld", (long long)k.v.i);
    return k.type == MN_ARG_STR ? k.v.s : NULL;
}

const char *mn_obj_pk_text(mn_orm *o, const void *obj)
{
    const mn_obj *h = obj;
    if (!h || !h->model || !mn__pk_set(obj))
        return NULL;
    return mn__arg_text(o ? o->arena : h->orm->arena, mn__pk_arg(obj));
}

void mn_default_uuid4(const mn_fielddef *f, void *obj, mn_arena *arena)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *s = mn_arena_alloc(arena, 37);
    if (!s)
        return;
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        s[k++] = hex[b[i] >> 4];
        s[k++] = hex[b[i] & 15];
    }
    s[k] = '\0';
    *(const char **)mn__fptr(obj, f) = s;
    mn__set_null(obj, f, false);
}

const char *mn_model_verbose_name(const mn_model *m, bool plural, mn_arena *arena)
{
    if (plural && m->verbose_name_plural)
        return m->verbose_name_plural;
    const char *base = m->verbose_name;
    if (!base) {
        /* CamelCase -> "camel case", as Django's camel_case_to_spaces */
        mn_buf b;
        mn_buf_init(&b, arena);
        for (const char *p = m->name; *p; p++) {
            /* a capital after a lower-case letter, or one followed by a lower-case letter
             * (neither at the end nor before another capital): "HTTPRequest" -> "http
             * request" */
            bool upper = isupper((unsigned char)*p);
            if (upper && p != m->name &&
                (islower((unsigned char)p[-1]) || (p[1] && !isupper((unsigned char)p[1]))))
                mn_buf_putc(&b, ' ');
            mn_buf_putc(&b, (char)tolower((unsigned char)*p));
        }
        base = mn_buf_cstr(&b);
    }
    return plural ? mn_arena_printf(arena, "%ss", base) : base;
}
