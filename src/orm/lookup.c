/* lookup.c — the heart of the SQL compiler: lookup paths ("choices__votes__gt") resolved
 * against the model metadata into joins (one per distinct path) and a column, then the
 * lookup's operator for the dialect; Q trees; F expressions and aggregates. User values only
 * ever become parameters; identifiers are always quoted. exclude() across a multi-valued
 * relation becomes a subquery, as Django's split_exclude. */
#include "compile.h"

#include <ctype.h>
#include <manouche/json.h>
#include <math.h>
#include <stdlib.h>

int mn__cc_fail(cc *c, int code, const char *fmt, ...)
{
    if (c->err)
        return c->err;
    va_list ap;
    va_start(ap, fmt);
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->err = code;
    return mn__orm_fail(c->o, code, "%s", msg);
}

void mn__quote(mn_buf *b, const char *ident)
{
    mn_buf_putc(b, '"');
    for (const char *p = ident; *p; p++) {
        if (*p == '"')
            mn_buf_putc(b, '"');
        mn_buf_putc(b, *p);
    }
    mn_buf_putc(b, '"');
}

void mn__placeholder(mn_buf *b, mn_dbdialect d, size_t n)
{
    mn_buf_putc(b, d == MN_DIALECT_POSTGRESQL ? '$' : '?');
    mn_buf_put_u64(b, n);
}

void mn__cc_col(cc *c, mn_buf *b, int alias, const char *column)
{
    /* by hand, not printf: this runs for every column of every query */
    mn_buf_putc(b, '"');
    mn_buf_putc(b, c->prefix);
    mn_buf_put_i64(b, alias);
    mn_buf_puts(b, "\".");
    mn__quote(b, column);
}

void mn__cc_param(cc *c, mn_buf *b, mn_dbparam p)
{
    if (c->np == c->capp) {
        size_t ncap = c->capp ? c->capp * 2 : 16;
        mn_dbparam *n =
            mn_arena_realloc(c->o->arena, c->params, c->capp * sizeof *n, ncap * sizeof *n);
        if (!n) {
            mn__cc_fail(c, MN_ENOMEM, "out of memory");
            return;
        }
        c->params = n;
        c->capp = ncap;
    }
    c->params[c->np] = p;
    mn_buf_putc(b, '\x01');
    mn_buf_put_u64(b, c->np);
    mn_buf_putc(b, '\x02');
    c->np++;
}

/* ---- joins ---- */
int mn__cc_add_join(cc *c, const char *key, const mn_model *m, int left_alias, const char *left_col,
                    const char *right_col, bool multi, bool nullable)
{
    /* one join per path, per filter() call for a multi-valued one, and after a fresh join
     * (its left alias differs) a fresh one */
    int gen = multi ? c->gen : 0;
    int parent = -1;
    if (!key) /* a caller's key that could not be built */
        return mn__cc_fail(c, MN_ENOMEM, "out of memory"), 0;
    for (size_t i = 0; i < c->nj; i++) {
        if (c->joins[i].left == left_alias && c->joins[i].gen == gen &&
            strcmp(c->joins[i].key, key) == 0)
            return c->joins[i].alias;
        if (c->joins[i].alias == left_alias)
            parent = (int)i;
    }
    if (c->nj == c->capj) {
        size_t ncap = c->capj ? c->capj * 2 : 8;
        join *n = mn_arena_realloc(c->o->arena, c->joins, c->capj * sizeof *n, ncap * sizeof *n);
        if (!n)
            return mn__cc_fail(c, MN_ENOMEM, "out of memory"), 0;
        c->joins = n;
        c->capj = ncap;
    }
    const char *own = mn_arena_strdup(c->o->arena, key);
    if (!own)
        return mn__cc_fail(c, MN_ENOMEM, "out of memory"), 0;
    int alias = c->next_alias++;
    c->joins[c->nj++] = (join){.key = own,
                               .alias = alias,
                               .left = left_alias,
                               .gen = gen,
                               .m = m,
                               .multi = multi,
                               .nullable = nullable,
                               .parent = parent,
                               .left_col = left_col,
                               .right_col = right_col};
    return alias;
}

/* Django's join types: LEFT OUTER where the join may find no row or hangs from a LEFT OUTER
 * one, unless a WHERE condition needs the matched row (demoted to INNER, with the joins it
 * hangs from). */
static bool join_is_outer(const cc *c, int i)
{
    for (; i >= 0; i = c->joins[i].parent) {
        if (c->joins[i].inner)
            return false;
        if (c->joins[i].nullable)
            return true;
    }
    return false;
}

void mn__cc_put_joins(cc *c, mn_buf *out)
{
    for (size_t i = 0; i < c->nj; i++) {
        const join *j = &c->joins[i];
        mn_buf_puts(out, join_is_outer(c, (int)i) ? " LEFT OUTER JOIN " : " INNER JOIN ");
        mn__quote(out, mrt(j->m)->table);
        mn_buf_printf(out, " \"%c%d\" ON (", c->prefix, j->alias);
        mn__cc_col(c, out, j->left, j->left_col);
        mn_buf_puts(out, " = ");
        mn__cc_col(c, out, j->alias, j->right_col);
        mn_buf_putc(out, ')');
    }
}

/* The joins from the base table to alias, as a set of join indexes (the first 64: a join
 * past them keeps its type, LEFT OUTER being the safe one). */
static uint64_t join_chain(const cc *c, int alias)
{
    uint64_t set = 0;
    int i = -1;
    for (size_t k = 0; k < c->nj; k++)
        if (c->joins[k].alias == alias)
            i = (int)k;
    for (; i >= 0; i = c->joins[i].parent)
        if (i < 64)
            set |= (uint64_t)1 << i;
    return set;
}

static const mn_fielddef *through_fk(const mn_model *through, const mn_model *to, bool second)
{
    /* the through model's FK to `to`; for self-referential M2M the first or second one */
    const mn_fielddef *found = NULL;
    for (size_t i = 0; i < through->nfields; i++) {
        const mn_fielddef *f = &through->fields[i];
        if ((f->type == MN_FK || f->type == MN_O2O) && f->rel_model == to) {
            if (!second)
                return f;
            found = f;
        }
    }
    return found;
}

static bool is_lookup_word(const char *s, size_t n);
/* ---- lookups ---- */
static const char *const lookups[] = {
    "exact",     "iexact", "contains", "icontains",  "in",          "gt",
    "gte",       "lt",     "lte",      "startswith", "istartswith", "endswith",
    "iendswith", "range",  "isnull",   "regex",      "iregex",      NULL};
static const char *const transforms[] = {
    "date", "time",     "year",    "month", "day",    "week_day", "iso_week_day",
    "week", "iso_year", "quarter", "hour",  "minute", "second",   NULL};

static int bad_lookup(cc *c, const mn_fielddef *f, mn_ftype as, const char *applied,
                      const char *name, size_t n, const char *path);

/* The length of the first "__"-separated segment of s. */
static size_t seg_len(const char *s)
{
    const char *dd = strstr(s, "__");
    return dd ? (size_t)(dd - s) : strlen(s);
}

/* After a relation, next names neither a field of rm nor (in a filter) a lookup: the
 * mistake is a field name of the related model ("author__nam__icontains"). */
static bool bad_after_relation(cc *c, const mn_model *rm, const char *next, bool allow_rest,
                               const char *path)
{
    size_t nn = seg_len(next);
    if (allow_rest && is_lookup_word(next, nn))
        return false;
    if (allow_rest && next[nn] == '\0') {
        /* "author__isnul": the last word is closer to a lookup than to a field of rm */
        size_t limit = nn <= 4 ? 1 : nn / 3 + 1, best_l = 99, best_f = 99;
        const char *best = NULL;
        for (size_t i = 0; lookups[i]; i++) {
            size_t d = mn__edit_distance(next, nn, lookups[i], strlen(lookups[i]));
            if (d < best_l)
                best_l = d, best = lookups[i];
        }
        for (size_t i = 0; i < rm->nfields; i++) {
            size_t d = mn__edit_distance(next, nn, rm->fields[i].name, strlen(rm->fields[i].name));
            if (d < best_f)
                best_f = d;
        }
        if (best && best_l <= limit && best_l < best_f) {
            mn__cc_fail(c, MN_EFIELD,
                        "Related Field got invalid lookup: %.*s; did you mean '%s'? (in '%s')",
                        (int)nn, next, best, path);
            return true;
        }
    }
    if (mn__no_field_in(c->o, rm, next, nn, path))
        c->err = MN_EFIELD;
    return true;
}

/* Resolves path against the model, creating joins; for lookups, the rest after the field. */
int mn__cc_resolve(cc *c, const char *path, bool allow_rest, resolved *out)
{
    memset(out, 0, sizeof *out);
    const mn_model *m = c->m;
    int alias = 0;
    const char *p = path;
    const char *seg_end;
    if (c->qs) {
        size_t n0 = strcspn(path, "_");
        const char *dd = strstr(path, "__");
        n0 = dd ? (size_t)(dd - path) : strlen(path);
        for (size_t i = 0; i < c->qs->nannots; i++)
            if (strlen(c->qs->annots[i].name) == n0 &&
                strncmp(path, c->qs->annots[i].name, n0) == 0) {
                out->ann = &c->qs->annots[i];
                out->rest = dd ? dd + 2 : "";
                return 0;
            }
    }
    while (1) {
        const char *dd = strstr(p, "__");
        seg_end = dd ? dd : p + strlen(p);
        size_t n = (size_t)(seg_end - p);
        const char *next = dd ? dd + 2 : NULL;
        const char *keyend = seg_end;
        char *key = mn_arena_strndup(c->o->arena, path, (size_t)(keyend - path));
        const mn_fielddef *f = mn__field(m, p, n);
        if (f && (f->type == MN_FK || f->type == MN_O2O)) {
            const mn_model *rm = f->rel_model;
            const mn_fielddef *tf = mn__rel_field(f); /* what the column holds: pk or to_field */
            size_t nn = next ? strcspn(next, "_") : 0;
            const char *ndd = next ? strstr(next, "__") : NULL;
            nn = next ? (ndd ? (size_t)(ndd - next) : strlen(next)) : 0;
            bool next_is_field =
                next && (mn__field(rm, next, nn) || mn__revrel(rm, next, nn, false));
            bool next_is_pk = next_is_field && mn__field(rm, next, nn) == tf;
            bool after_pk_more = next_is_pk && ndd &&
                                 ((tf->rel_model || /* an O2O key: its target's fields */
                                   mn__field(rm, ndd + 2, strcspn(ndd + 2, "_")) != NULL) &&
                                  !is_lookup_word(ndd + 2, strlen(ndd + 2)));
            if (next_is_field && !(next_is_pk && !after_pk_more)) {
                alias = mn__cc_add_join(c, key, rm, alias, f->column, tf->column, false, f->null);
                out->joined = true;
                m = rm;
                p = next;
                continue;
            }
            if (next && !next_is_field && bad_after_relation(c, rm, next, allow_rest, path))
                return c->err;
            if (allow_rest && next_is_pk && ndd && !is_lookup_word(ndd + 2, seg_len(ndd + 2)))
                /* "author__id__bogus": a lookup of the related primary key */
                return bad_lookup(c, tf, tf->type, "", ndd + 2, seg_len(ndd + 2), path);
            out->f = f;
            out->alias = alias;
            out->rest = next_is_pk ? (ndd ? ndd + 2 : "") : (next ? next : "");
            break;
        }
        if (f && f->type == MN_M2M) {
            const mn_model *t = f->through_model;
            const mn_fielddef *src = through_fk(t, m, false);
            const mn_fielddef *dst = through_fk(t, f->rel_model, f->rel_model == m);
            char *tkey = mn_arena_printf(c->o->arena, "%s#through", key);
            int ta = mn__cc_add_join(c, tkey, t, alias, m->pk->column, src->column, true, true);
            out->joined = true;
            size_t nn = 0;
            const char *ndd = next ? strstr(next, "__") : NULL;
            nn = next ? (ndd ? (size_t)(ndd - next) : strlen(next)) : 0;
            const mn_model *rm = f->rel_model;
            bool next_is_field =
                next && (mn__field(rm, next, nn) || mn__revrel(rm, next, nn, false));
            if (next_is_field && mn__field(rm, next, nn) != rm->pk) {
                alias = mn__cc_add_join(c, key, rm, ta, dst->column, rm->pk->column, true, false);
                m = rm;
                p = next;
                continue;
            }
            if (next && !next_is_field && bad_after_relation(c, rm, next, allow_rest, path))
                return c->err;
            out->f = dst;
            out->alias = ta;
            out->rest = next_is_field ? (ndd ? ndd + 2 : "") : (next ? next : "");
            break;
        }
        if (f) {
            out->f = f;
            out->alias = alias;
            out->rest = next ? next : "";
            break;
        }
        const revrel *r = mn__revrel(m, p, n, false);
        if (r) {
            const mn_model *rm = r->from;
            int ra;
            if (r->field->type == MN_M2M) {
                const mn_model *t = r->field->through_model;
                const mn_fielddef *to_here = through_fk(t, m, rm == m);
                const mn_fielddef *to_from = through_fk(t, rm, false);
                char *tkey = mn_arena_printf(c->o->arena, "%s#through", key);
                int ta =
                    mn__cc_add_join(c, tkey, t, alias, m->pk->column, to_here->column, true, true);
                ra = mn__cc_add_join(c, key, rm, ta, to_from->column, rm->pk->column, true, false);
            } else {
                ra = mn__cc_add_join(c, key, rm, alias, mn__rel_field(r->field)->column,
                                     r->field->column, r->field->type != MN_O2O, true);
            }
            out->joined = true;
            const char *ndd = next ? strstr(next, "__") : NULL;
            size_t nn = next ? (ndd ? (size_t)(ndd - next) : strlen(next)) : 0;
            if (next && (mn__field(rm, next, nn) || mn__revrel(rm, next, nn, false))) {
                alias = ra;
                m = rm;
                p = next;
                continue;
            }
            if (next && bad_after_relation(c, rm, next, allow_rest, path))
                return c->err;
            out->f = rm->pk;
            out->alias = ra;
            out->rest = next ? next : "";
            break;
        }
        if (p == path && c->qs && c->qs->nannots) {
            /* order_by("-nrevs") after annotate(nrev=...): the annotation is the closest */
            const char *best = NULL;
            size_t best_d = 99, limit = n <= 4 ? 1 : n / 3 + 1;
            for (size_t i = 0; i < c->qs->nannots; i++) {
                const char *a = c->qs->annots[i].name;
                size_t d = mn__edit_distance(p, n, a, strlen(a));
                if (d < best_d)
                    best_d = d, best = a;
            }
            if (best && best_d <= limit)
                return mn__cc_fail(c, MN_EFIELD, "%s has no field '%.*s'; did you mean '%s'?",
                                   m->name, (int)n, p, best);
        }
        return mn__no_field_in(c->o, m, p, n, path) ? (c->err = MN_EFIELD) : 0;
    }
    if (!allow_rest && *out->rest) {
        const char *r = out->rest;
        if (out->f->rel_model)
            return mn__no_field_in(c->o, out->f->rel_model, r, seg_len(r), path)
                       ? (c->err = MN_EFIELD)
                       : 0;
        /* order_by("title__bogus"): a plain field has nothing to join to */
        return mn__cc_fail(c, MN_EFIELD,
                           "Cannot resolve keyword '%.*s' into field. Join on '%s' not permitted"
                           " (%s.%s is a %s; in '%s')",
                           (int)seg_len(r), r, out->f->name, out->f->model->name, out->f->name,
                           mn__django_class(out->f->type), path);
    }
    return 0;
}

/* Does the path cross a multi-valued relation (reverse FK or M2M)? No joins are made. */
static bool path_is_multi(const mn_model *m, const char *path)
{
    const char *p = path;
    while (p && *p) {
        const char *dd = strstr(p, "__");
        size_t n = dd ? (size_t)(dd - p) : strlen(p);
        const mn_fielddef *f = mn__field(m, p, n);
        if (f) {
            if (f->type == MN_M2M)
                return true;
            if (f->type != MN_FK && f->type != MN_O2O)
                return false;
            m = f->rel_model;
        } else {
            const revrel *r = mn__revrel(m, p, n, false);
            if (!r)
                return false;
            if (r->field->type != MN_O2O)
                return true;
            m = r->from;
        }
        p = dd ? dd + 2 : NULL;
    }
    return false;
}

static bool in_list(const char *const *list, const char *s, size_t n)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && strncmp(list[i], s, n) == 0)
            return true;
    return false;
}

static bool is_lookup_word(const char *s, size_t n)
{
    return in_list(lookups, s, n) || in_list(transforms, s, n);
}

bool mn__is_lookup_word(const char *s, size_t n)
{
    return is_lookup_word(s, n);
}

static bool is_temporal(mn_ftype t)
{
    return t == MN_DATE || t == MN_DATETIME || t == MN_TIME;
}

/* Does a value of type `as` have the transform s[0..n)? As Django registers them: the date
 * parts on DateField, hour/minute/second on TimeField, all of them and date/time on
 * DateTimeField (a DateField's hour would otherwise read as midnight, not fail). */
static bool has_transform(mn_ftype as, const char *s, size_t n)
{
    static const char *const time_parts[] = {"hour", "minute", "second", NULL};
    if (!in_list(transforms, s, n))
        return false;
    if (as == MN_DATETIME)
        return true;
    if (as == MN_TIME)
        return in_list(time_parts, s, n);
    /* DateField__date is the date itself: Django has no such transform, kept as harmless */
    return as == MN_DATE && !in_list(time_parts, s, n) && !(n == 4 && memcmp(s, "time", 4) == 0);
}

/* Django's class name for a field type, as its FieldError messages say it. */
const char *mn__django_class(mn_ftype t)
{
    static const char *const names[] = {[MN_AUTO] = "AutoField",
                                        [MN_BIGAUTO] = "BigAutoField",
                                        [MN_SMALLAUTO] = "SmallAutoField",
                                        [MN_SMALLINT] = "SmallIntegerField",
                                        [MN_INT] = "IntegerField",
                                        [MN_BIGINT] = "BigIntegerField",
                                        [MN_POSSMALLINT] = "PositiveSmallIntegerField",
                                        [MN_POSINT] = "PositiveIntegerField",
                                        [MN_POSBIGINT] = "PositiveBigIntegerField",
                                        [MN_FLOAT] = "FloatField",
                                        [MN_DECIMAL] = "DecimalField",
                                        [MN_BOOL] = "BooleanField",
                                        [MN_CHAR] = "CharField",
                                        [MN_TEXT] = "TextField",
                                        [MN_EMAIL] = "EmailField",
                                        [MN_URL] = "URLField",
                                        [MN_SLUG] = "SlugField",
                                        [MN_FILEPATH] = "FilePathField",
                                        [MN_GENERICIP] = "GenericIPAddressField",
                                        [MN_DATE] = "DateField",
                                        [MN_DATETIME] = "DateTimeField",
                                        [MN_TIME] = "TimeField",
                                        [MN_DURATION] = "DurationField",
                                        [MN_UUID] = "UUIDField",
                                        [MN_JSON] = "JSONField",
                                        [MN_BINARY] = "BinaryField",
                                        [MN_FK] = "ForeignKey",
                                        [MN_O2O] = "OneToOneField",
                                        [MN_M2M] = "ManyToManyField"};
    if ((size_t)t < sizeof names / sizeof names[0] && names[t])
        return names[t];
    return "Field";
}

/* Django's FieldError for a lookup or transform the field (after the transforms already
 * applied, typed `as`) does not have, with the model, the path and the closest valid name. */
static int bad_lookup(cc *c, const mn_fielddef *f, mn_ftype as, const char *applied,
                      const char *name, size_t n, const char *path)
{
    const char *best = NULL;
    size_t best_d = 99;
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? transforms : lookups;
        if (pass && !is_temporal(as))
            break;
        for (size_t i = 0; list[i]; i++) {
            if (pass && !has_transform(as, list[i], strlen(list[i])))
                continue;
            size_t d = mn__edit_distance(name, n, list[i], strlen(list[i]));
            if (d < best_d)
                best_d = d, best = list[i];
        }
    }
    size_t limit = n <= 4 ? 1 : n / 3 + 1;
    char hint[48] = "";
    if (best && best_d <= limit)
        snprintf(hint, sizeof hint, "; did you mean '%s'?", best);
    if (!f)
        return mn__cc_fail(c, MN_EFIELD,
                           "Unsupported lookup '%.*s' for an annotation of %s%s"
                           " (in '%s')",
                           (int)n, name, c->m->name, hint, path);
    return mn__cc_fail(c, MN_EFIELD,
                       "Unsupported lookup '%.*s' for %s %s.%s%s or join on the field not "
                       "permitted%s (in '%s')",
                       (int)n, name, mn__django_class(as), f->model->name, f->name, applied, hint,
                       path);
}

static void transform_sql(cc *c, mn_buf *b, const char *lhs, const mn_fielddef *f, const char *t)
{
    bool pg = c->d == MN_DIALECT_POSTGRESQL;
    bool dt = f && f->type == MN_DATETIME;
    const char *src = lhs;
    if (pg && dt)
        src = mn_arena_printf(c->o->arena, "(%s AT TIME ZONE 'UTC')", lhs);
    if (strcmp(t, "date") == 0) {
        mn_buf_printf(b, pg ? "(%s)::date" : "date(%s)", src);
        return;
    }
    if (strcmp(t, "time") == 0) {
        mn_buf_printf(b, pg ? "(%s)::time" : "time(%s)", src);
        return;
    }
    if (pg) {
        static const struct {
            const char *name, *field;
        } map[] = {{"year", "YEAR"},          {"month", "MONTH"},      {"day", "DAY"},
                   {"week", "WEEK"},          {"iso_year", "ISOYEAR"}, {"quarter", "QUARTER"},
                   {"hour", "HOUR"},          {"minute", "MINUTE"},    {"second", "SECOND"},
                   {"iso_week_day", "ISODOW"}};
        if (strcmp(t, "week_day") == 0) {
            mn_buf_printf(b, "(CAST(EXTRACT(DOW FROM %s) AS integer) + 1)", src);
            return;
        }
        if (strcmp(t, "second") == 0) {
            /* EXTRACT gives 59.999999: the whole seconds, as Django truncates them (a cast
             * would round up to 60) */
            mn_buf_printf(b, "CAST(FLOOR(EXTRACT(SECOND FROM %s)) AS integer)", src);
            return;
        }
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(t, map[i].name) == 0)
                mn_buf_printf(b, "CAST(EXTRACT(%s FROM %s) AS integer)", map[i].field, src);
        return;
    }
    static const struct {
        const char *name, *fmt;
    } smap[] = {{"year", "%Y"}, {"month", "%m"},  {"day", "%d"},
                {"hour", "%H"}, {"minute", "%M"}, {"second", "%S"}};
    for (size_t i = 0; i < sizeof smap / sizeof smap[0]; i++)
        if (strcmp(t, smap[i].name) == 0) {
            mn_buf_printf(b, "CAST(strftime('%s', %s) AS INTEGER)", smap[i].fmt, src);
            return;
        }
    if (strcmp(t, "week_day") == 0)
        mn_buf_printf(b, "(CAST(strftime('%%w', %s) AS INTEGER) + 1)", src);
    else if (strcmp(t, "iso_week_day") == 0)
        mn_buf_printf(b, "((CAST(strftime('%%w', %s) AS INTEGER) + 6) %% 7 + 1)", src);
    else if (strcmp(t, "quarter") == 0)
        mn_buf_printf(b, "((CAST(strftime('%%m', %s) AS INTEGER) + 2) / 3)", src);
    else if (strcmp(t, "week") == 0) /* ISO week: the week of the Thursday of this week */
        mn_buf_printf(b,
                      "((CAST(strftime('%%j', date(%s, '-3 days', 'weekday 4')) AS INTEGER)"
                      " - 1) / 7 + 1)",
                      src);
    else if (strcmp(t, "iso_year") == 0)
        mn_buf_printf(b, "CAST(strftime('%%Y', date(%s, '-3 days', 'weekday 4')) AS INTEGER)", src);
}

/* Wraps *lhs in the transform named by the n bytes at name; returns the type the transformed
 * value has (date and time keep theirs, every other transform gives an integer). */
static mn_ftype apply_transform(cc *c, mn_buf *lhs, const mn_fielddef *f, const char *name,
                                size_t n)
{
    char *t = mn_arena_strndup(c->o->arena, name, n);
    mn_buf nb;
    mn_buf_init(&nb, c->o->arena);
    transform_sql(c, &nb, mn_buf_cstr(lhs), f, t);
    *lhs = nb;
    return strcmp(t, "date") == 0 ? MN_DATE : strcmp(t, "time") == 0 ? MN_TIME : MN_INT;
}

static const char *applied_text(cc *c, const char *applied, const char *rest);

int mn__cc_order_path(cc *c, const char *path, resolved *out, mn_buf *col, mn_ftype *type)
{
    if (mn__cc_resolve(c, path, true, out) != 0 || c->err)
        return c->err ? c->err : MN_EFIELD;
    const mn_fielddef *f = out->f;
    const char *rest = out->rest;
    if (*rest && (out->ann || !is_temporal(f->type) || !in_list(transforms, rest, seg_len(rest)))) {
        if (!out->ann && is_temporal(f->type)) {
            /* order_by("published__yeer"): the closest transform the field has */
            size_t n = seg_len(rest), best_d = 99, limit = n <= 4 ? 1 : n / 3 + 1;
            const char *best = NULL;
            for (size_t i = 0; transforms[i]; i++) {
                size_t d = mn__edit_distance(rest, n, transforms[i], strlen(transforms[i]));
                if (has_transform(f->type, transforms[i], strlen(transforms[i])) && d < best_d)
                    best_d = d, best = transforms[i];
            }
            if (best && best_d <= limit)
                return mn__cc_fail(c, MN_EFIELD,
                                   "Unsupported lookup '%.*s' for %s %s.%s or join on the field "
                                   "not permitted; did you mean '%s'? (in '%s')",
                                   (int)n, rest, mn__django_class(f->type), f->model->name, f->name,
                                   best, path);
        }
        /* not a transform: the error ordering names give for what follows a field */
        mn__cc_resolve(c, path, false, out);
        return c->err ? c->err : mn__cc_fail(c, MN_EFIELD, "Cannot resolve '%s'", path);
    }
    mn_buf lhs;
    mn_buf_init(&lhs, c->o->arena);
    if (out->ann)
        mn__cc_annotation(c, &lhs, out->ann);
    else
        mn__cc_col(c, &lhs, out->alias, f->column);
    mn_ftype as = f ? f->type : MN_INT;
    const char *applied = rest;
    while (*rest) {
        size_t n = seg_len(rest);
        if (!has_transform(as, rest, n))
            return bad_lookup(c, f, as, applied_text(c, applied, rest), rest, n, path);
        as = apply_transform(c, &lhs, f, rest, n);
        rest += n;
        if (*rest)
            rest += 2;
    }
    if (col)
        mn_buf_append(col, lhs.data, lhs.len);
    if (type)
        *type = as;
    return c->err;
}

static const char *arg_text(cc *c, mn_arg v);
static xty field_xty(const mn_fielddef *f);
static xty cc_type(cc *c, const mn_expr *e);
static int64_t pow10i(int n);

/* The value for a lookup's right-hand side as a parameter, typed by the column's field. */
static void rhs_param(cc *c, mn_buf *b, const mn_fielddef *f, mn_ftype as, mn_arg v)
{
    mn_dbparam p;
    if (v.type == MN_ARG_EXPR) {
        mn__cc_expr(c, b, v.v.expr);
        return;
    }
    if (as == MN_INT) {
        /* a template value (full_clean's unique checks pass the instance's values so) */
        if (v.type == MN_ARG_VALUE && v.v.value) {
            const mn_value *x = v.v.value;
            if (mn_value_kind_of(x) == MN_VALUE_INT)
                v = mn_arg_int(x->u.i);
            else if (mn_value_kind_of(x) == MN_VALUE_BOOL)
                v = mn_arg_bool(x->u.b);
            else if (mn_value_kind_of(x) == MN_VALUE_STRING)
                v = mn_arg_str(mn_arena_strndup(c->o->arena, x->u.str.ptr, x->u.str.len));
        }
        if (v.type == MN_ARG_INT || v.type == MN_ARG_BOOL) {
            mn__cc_param(c, b, mn_dbp_int(v.type == MN_ARG_INT ? v.v.i : v.v.b));
            return;
        }
        int64_t i;
        if (v.type == MN_ARG_STR && mn_str_to_i64(mn_str_from(v.v.s), &i) == 0) {
            mn__cc_param(c, b, mn_dbp_int(i));
            return;
        }
        const char *shown = arg_text(c, v);
        mn__cc_fail(c, MN_EINVAL, "Field '%s' expected a number but got '%s'.", f->name,
                    shown                   ? shown
                    : v.type == MN_ARG_NULL ? "None"
                                            : "?");
        return;
    }
    mn_fielddef tmp;
    if (as != f->type) {
        tmp = *f;
        tmp.type = as;
        f = &tmp;
    }
    int rc = mn__arg_param(c->o, f, v, c->d, &p);
    if (rc) {
        c->err = rc;
        return;
    }
    mn__cc_param(c, b, p);
}

/* ---- __in with the whole list as one parameter ----
 * PostgreSQL takes at most 65535 parameters per statement and SQLite
 * SQLITE_MAX_VARIABLE_NUMBER (32766 since 3.32, 999 before), so filter(pk__in=<100k ids>),
 * in_bulk() and prefetch_related() over many rows bind the list as ONE value: on PostgreSQL
 * always, as col = ANY($n::type[]) (one statement text for any length, so the driver's
 * prepared statement and the N+1 check see one shape); on SQLite past IN_INLINE_MAX values,
 * as col IN (SELECT value FROM json_each(?n)), where a short list keeps IN (?, ?...). Both
 * match as IN does, NULL elements included (unknown, so NOT IN keeps its meaning). */
enum { IN_INLINE_MAX = 500 };

/* PostgreSQL array literal element for p, quoted unless a number. 0 or MN_ENOMEM. */
static int put_pg_element(mn_buf *b, const mn_dbparam *p)
{
    switch (p->type) {
    case MN_DBT_NULL: return mn_buf_puts(b, "NULL");
    case MN_DBT_INT: return mn_buf_put_i64(b, p->v.i);
    case MN_DBT_BOOL: return mn_buf_putc(b, p->v.i ? 't' : 'f');
    case MN_DBT_FLOAT:
        if (isnan(p->v.f))
            return mn_buf_puts(b, "NaN");
        if (isinf(p->v.f))
            return mn_buf_puts(b, p->v.f > 0 ? "Infinity" : "-Infinity");
        return mn_buf_printf(b, "%.17g", p->v.f);
    case MN_DBT_BLOB: /* bytea's hex input, its backslash escaped for the array */
        mn_buf_puts(b, "\"\\\\x");
        for (size_t i = 0; i < p->v.s.len; i++)
            mn_buf_printf(b, "%02x", (unsigned char)p->v.s.ptr[i]);
        return mn_buf_putc(b, '"');
    default: /* text: quoted, with " and \ escaped */
        mn_buf_putc(b, '"');
        for (size_t i = 0; i < p->v.s.len; i++) {
            char ch = p->v.s.ptr[i];
            if (ch == '"' || ch == '\\')
                mn_buf_putc(b, '\\');
            mn_buf_putc(b, ch);
        }
        return mn_buf_putc(b, '"');
    }
}

/* JSON for p as SQLite's json_each gives it back unchanged: false for what JSON cannot
 * carry (blobs, NaN, infinities). */
static bool put_json_element(mn_json_writer *w, const mn_dbparam *p)
{
    switch (p->type) {
    case MN_DBT_NULL: return mn_json_write_null(w) == 0;
    case MN_DBT_INT:
    case MN_DBT_BOOL: return mn_json_write_int(w, p->v.i) == 0; /* SQLite binds 0/1 */
    case MN_DBT_FLOAT: return isfinite(p->v.f) && mn_json_write_double(w, p->v.f) == 0;
    case MN_DBT_TEXT: return mn_json_write_string_n(w, p->v.s.ptr, p->v.s.len) == 0;
    default: return false;
    }
}

/* L IN <list v> with the list as one parameter (see above); false, with nothing written, when
 * the list stays inline: short on SQLite, an F() among the values, a value JSON cannot carry.
 * The values are converted by the column's field as rhs_param does (errors go to c). */
static bool in_one_param(cc *c, mn_buf *b, const char *L, const mn_fielddef *pf, mn_ftype as,
                         bool field_lhs, mn_arg v)
{
    bool pg = c->d == MN_DIALECT_POSTGRESQL;
    size_t n = v.v.list.n;
    /* an annotation's type is a guess (an integer or decimal), so only a list too long to
     * go inline is cast to it */
    if (n <= IN_INLINE_MAX && (!pg || !field_lhs))
        return false;
    for (size_t i = 0; i < n; i++)
        if (v.v.list.items[i].type == MN_ARG_EXPR || v.v.list.items[i].type == MN_ARG_QS ||
            v.v.list.items[i].type == MN_ARG_LIST)
            return false;
    /* each value as the parameter it would be inline, collected in a scratch compiler */
    cc vc = {.o = c->o, .qs = c->qs, .m = c->m, .d = c->d, .prefix = c->prefix};
    mn_buf marker;
    mn_buf_init(&marker, c->o->arena);
    for (size_t i = 0; i < n && !vc.err; i++) {
        mn_buf_reset(&marker);
        rhs_param(&vc, &marker, pf, as, v.v.list.items[i]);
    }
    if (vc.err) {
        c->err = vc.err; /* the message is in the session already */
        return true;
    }
    mn_buf text;
    mn_buf_init(&text, c->o->arena);
    if (pg) {
        mn_buf_putc(&text, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                mn_buf_putc(&text, ',');
            put_pg_element(&text, &vc.params[i]);
        }
        mn_buf_putc(&text, '}');
    } else {
        mn_json_writer w;
        mn_json_writer_init(&w, &text);
        mn_json_begin_array(&w);
        for (size_t i = 0; i < n; i++)
            if (!put_json_element(&w, &vc.params[i]))
                return false;
        mn_json_end_array(&w);
        if (mn_json_writer_finish(&w) != 0)
            return false;
    }
    if (!mn_buf_cstr(&text)) {
        mn__cc_fail(c, MN_ENOMEM, "out of memory");
        return true;
    }
    mn_dbparam list = mn_dbp_textn(text.data, text.len);
    if (pg) {
        mn_fielddef typed;
        if (pf->type == MN_M2M && pf->rel_model && pf->rel_model->pk) {
            pf = pf->rel_model->pk; /* the link column holds the target's key */
        } else if (as != pf->type) {
            typed = *pf;
            typed.type = as;
            pf = &typed;
        }
        mn_buf_printf(b, "%s = ANY(", L);
        mn__cc_param(c, b, list);
        mn_buf_printf(b, "::%s[])", mn__cast_type(pf, c->d));
    } else {
        mn_buf_printf(b, "%s IN (SELECT value FROM json_each(", L);
        mn__cc_param(c, b, list);
        mn_buf_puts(b, "))");
    }
    return true;
}

/* The __in list without its NULLs, as Django: NULL equals nothing, and left in it would turn
 * exclude(x__in=[1, None]) into NOT (x IN (1, NULL)), which drops every row. */
static mn_arg in_without_nulls(cc *c, mn_arg v)
{
    size_t kept = 0;
    for (size_t i = 0; i < v.v.list.n; i++)
        kept += v.v.list.items[i].type != MN_ARG_NULL;
    if (kept == v.v.list.n)
        return v;
    mn_arg *items = mn_arena_alloc(c->o->arena, (kept ? kept : 1) * sizeof *items);
    if (!items) {
        mn__cc_fail(c, MN_ENOMEM, "out of memory");
        kept = 0;
    }
    for (size_t i = 0, j = 0; items && i < v.v.list.n; i++)
        if (v.v.list.items[i].type != MN_ARG_NULL)
            items[j++] = v.v.list.items[i];
    v.v.list.items = items;
    v.v.list.n = kept;
    return v;
}

/* LIKE/GLOB pattern for contains-style lookups, with the dialect's escaping. */
static const char *pattern(cc *c, const char *s, bool glob, bool lead, bool trail)
{
    mn_buf b;
    mn_buf_init(&b, c->o->arena);
    if (lead)
        mn_buf_putc(&b, glob ? '*' : '%');
    for (const char *p = s; *p; p++) {
        if (glob) {
            if (*p == '*' || *p == '?' || *p == '[')
                mn_buf_printf(&b, "[%c]", *p);
            else
                mn_buf_putc(&b, *p);
        } else {
            if (*p == '%' || *p == '_' || *p == '\\')
                mn_buf_putc(&b, '\\');
            mn_buf_putc(&b, *p);
        }
    }
    if (trail)
        mn_buf_putc(&b, glob ? '*' : '%');
    return mn_buf_cstr(&b);
}

static const char *arg_text(cc *c, mn_arg v)
{
    switch (v.type) {
    case MN_ARG_STR: return v.v.s;
    case MN_ARG_INT: return mn_arena_printf(c->o->arena, "%lld", (long long)v.v.i);
    case MN_ARG_FLOAT: return mn_arena_printf(c->o->arena, "%g", v.v.f);
    default: return NULL;
    }
}

/* "__year" when the transforms from applied to rest were applied, for the messages. */
static const char *applied_text(cc *c, const char *applied, const char *rest)
{
    if (rest == applied)
        return "";
    return mn_arena_printf(c->o->arena, "__%.*s", (int)(rest - applied - 2), applied);
}

static int compile_leaf(cc *c, mn_buf *b, const mn_q *q, uint64_t *votes)
{
    *votes = 0;
    /* exclude() across a multi-valued relation: the row goes when ANY related row matches,
     * as Django's split_exclude does with a subquery. */
    if (c->negated && path_is_multi(c->m, q->lookup)) {
        cc sub = {.o = c->o, .m = c->m, .d = c->d, .prefix = (char)(c->prefix + 1)};
        sub.next_alias = 1;
        sub.params = NULL;
        mn_buf w;
        mn_buf_init(&w, c->o->arena);
        mn__cc_where(&sub, &w, q); /* the rows it matches: its joins INNER as for filter() */
        if (sub.err)
            return c->err = sub.err;
        mn__cc_col(c, b, 0, c->m->pk->column);
        mn_buf_puts(b, " IN (SELECT ");
        mn__cc_col(&sub, b, 0, c->m->pk->column);
        mn_buf_puts(b, " FROM ");
        mn__quote(b, mrt(c->m)->table);
        mn_buf_printf(b, " \"%c0\"", sub.prefix);
        mn__cc_put_joins(&sub, b);
        mn_buf_puts(b, " WHERE ");
        /* re-home the subquery's parameters into ours */
        mn_buf_cstr(&w);
        for (size_t i = 0; i < w.len; i++) {
            if (w.data[i] == '\x01') {
                size_t idx = strtoull(w.data + i + 1, NULL, 10);
                while (w.data[i] != '\x02')
                    i++;
                mn__cc_param(c, b, sub.params[idx]);
            } else {
                mn_buf_putc(b, w.data[i]);
            }
        }
        mn_buf_putc(b, ')');
        return c->err;
    }
    resolved r;
    if (mn__cc_resolve(c, q->lookup, true, &r) != 0 || c->err)
        return c->err ? c->err : MN_EFIELD;
    mn_buf lhs;
    mn_buf_init(&lhs, c->o->arena);
    const mn_fielddef *f = r.f;
    if (r.ann) {
        mn__cc_annotation(c, &lhs, r.ann);
        f = NULL;
    } else {
        mn__cc_col(c, &lhs, r.alias, f->column);
    }
    const char *rest = r.rest;
    mn_ftype as = f ? f->type : MN_INT;
    if (r.ann && r.ann->expr->kind == E_AGG && r.ann->expr->agg != AGG_AVG)
        as = MN_INT;
    const char *applied = rest; /* the transforms applied so far end where rest starts */
    while (*rest) {
        const char *dd = strstr(rest, "__");
        size_t n = dd ? (size_t)(dd - rest) : strlen(rest);
        if (in_list(transforms, rest, n)) {
            if (!f || !has_transform(as, rest, n))
                return bad_lookup(c, f, as, applied_text(c, applied, rest), rest, n, q->lookup);
            as = apply_transform(c, &lhs, f, rest, n);
            rest = dd ? dd + 2 : "";
            continue;
        }
        break;
    }
    const char *lk = *rest ? rest : "exact";
    if (!in_list(lookups, lk, strlen(lk))) {
        size_t n = seg_len(lk);
        if (f && f->rel_model && rest == applied && !is_lookup_word(lk, n)) {
            mn__no_field_in(c->o, f->rel_model, lk, n, q->lookup);
            return c->err = MN_EFIELD;
        }
        /* a lookup followed by more ("exact__gt") is wrong at the word after it */
        if (in_list(lookups, lk, n)) {
            lk += n + 2;
            n = seg_len(lk);
        }
        return bad_lookup(c, f, as, applied_text(c, applied, rest), lk, n, q->lookup);
    }
    const mn_fielddef *pf = f;
    mn_fielddef fake = {.name = "annotation", .type = MN_BIGINT};
    if (!pf) {
        fake.model = c->m;
        pf = &fake;
        xty at = r.ann && applied == rest ? cc_type(c, r.ann->expr) : (xty){XT_OTHER, 0};
        if (at.t == XT_DEC && at.scale >= 0) {
            /* an annotation typed DecimalField compares with "2.25" as a decimal */
            fake.type = MN_DECIMAL;
            fake.max_digits = 38;
            fake.decimal_places = at.scale;
            as = MN_DECIMAL;
        }
    }
    const char *L = mn_buf_cstr(&lhs);
    bool pg = c->d == MN_DIALECT_POSTGRESQL;
    mn_arg v = q->value;
    /* exclude(x=None) is NOT (x IS NULL): only a comparison that is unknown on NULL needs
     * the NULL rows put back */
    /* a JSONField's exact=None is the JSON null, SQL NULL being isnull=True (Django's) */
    bool json_null = f && f->type == MN_JSON && !r.ann && rest == applied &&
                     v.type == MN_ARG_NULL && strcmp(lk, "exact") == 0;
    bool null_exact = !json_null && (strcmp(lk, "exact") == 0 || strcmp(lk, "iexact") == 0) &&
                      v.type == MN_ARG_NULL;
    bool nullable_neg =
        c->negated && strcmp(lk, "isnull") != 0 && !null_exact && (r.joined || (f && f->null));
    /* Django's join promotion: the condition, as it counts here (NOT applied), can be true
     * only for a row matched across the path's joins, unless it asks for NULL (isnull=True,
     * exact=None): then those joins may be INNER. Under NOT only the NULL test can. */
    bool wants_null =
        null_exact || (strcmp(lk, "isnull") == 0 &&
                       ((v.type == MN_ARG_BOOL && v.v.b) || (v.type == MN_ARG_INT && v.v.i == 1)));
    if (!r.ann && r.joined && (c->negated ? wants_null : !wants_null))
        *votes = join_chain(c, r.alias);
    if (nullable_neg)
        mn_buf_putc(b, '(');
    if (strcmp(lk, "isnull") == 0) {
        if (v.type != MN_ARG_BOOL && !(v.type == MN_ARG_INT && (v.v.i == 0 || v.v.i == 1)))
            return mn__cc_fail(c, MN_EINVAL,
                               "The QuerySet value for an isnull lookup must be True or False.");
        bool want = v.type == MN_ARG_BOOL ? v.v.b : v.v.i != 0;
        mn_buf_printf(b, "%s IS %sNULL", L, want ? "" : "NOT ");
    } else if (json_null) {
        mn_buf_printf(b, pg ? "%s = 'null'::jsonb" : "JSON_TYPE(%s) = 'null'", L);
    } else if ((strcmp(lk, "exact") == 0 || strcmp(lk, "iexact") == 0) && v.type == MN_ARG_NULL) {
        mn_buf_printf(b, "%s IS NULL", L);
    } else if (strcmp(lk, "exact") == 0 || strcmp(lk, "gt") == 0 || strcmp(lk, "gte") == 0 ||
               strcmp(lk, "lt") == 0 || strcmp(lk, "lte") == 0) {
        const char *op = lk[0] == 'e'             ? "="
                         : strcmp(lk, "gt") == 0  ? ">"
                         : strcmp(lk, "gte") == 0 ? ">="
                         : strcmp(lk, "lt") == 0  ? "<"
                                                  : "<=";
        xty lt = {XT_OTHER, 0}, rt = {XT_OTHER, 0};
        if (!pg && v.type == MN_ARG_EXPR && applied == rest) {
            lt = r.ann ? cc_type(c, r.ann->expr) : field_xty(f);
            rt = cc_type(c, v.v.expr);
        }
        if (lt.t != XT_OTHER && rt.t != XT_OTHER && (lt.t == XT_DEC || rt.t == XT_DEC) &&
            (lt.t != rt.t || lt.scale != rt.scale)) {
            /* price > F(pages) on SQLite: compare both sides at the finer scale (exact),
             * or as REAL beside a float */
            xty to = {XT_DEC, 0};
            if (lt.t == XT_FLOAT || rt.t == XT_FLOAT || (lt.t == XT_DEC && lt.scale < 0) ||
                (rt.t == XT_DEC && rt.scale < 0))
                to.t = XT_FLOAT;
            else
                to.scale =
                    (lt.t == XT_DEC && lt.scale > rt.scale) || rt.t != XT_DEC ? lt.scale : rt.scale;
            mn_buf rb;
            mn_buf_init(&rb, c->o->arena);
            mn__cc_expr(c, &rb, v.v.expr);
            mn__sqlite_as(b, L, lt, to);
            mn_buf_printf(b, " %s ", op);
            mn__sqlite_as(b, mn_buf_cstr(&rb), rt, to);
        } else {
            mn_buf_printf(b, "%s %s ", L, op);
            rhs_param(c, b, pf, as, v);
        }
    } else if (strcmp(lk, "in") == 0) {
        if (v.type == MN_ARG_QS) {
            mn_qs *sub = (mn_qs *)v.v.qs;
            if (sub->mode == MODE_OBJECTS) {
                /* the rows' pks, or the field a to_field relation holds (Django's RelatedIn) */
                bool by_field = pf && (pf->type == MN_FK || pf->type == MN_O2O) && pf->to_field &&
                                sub->m == pf->rel_model;
                sub = mn_qs_values_list(sub, by_field ? pf->to_field : "pk", true);
                if (!sub)
                    return c->err = c->o->errcode;
            }
            cc s2 = {.o = c->o, .m = sub->m, .d = c->d, .prefix = (char)(c->prefix + 1)};
            s2.next_alias = 1;
            mn_buf sb;
            mn_buf_init(&sb, c->o->arena);
            if (mn__cc_select(&s2, sub, SQL_SELECT, &sb, NULL) != 0)
                return c->err = s2.err ? s2.err : MN_EINVAL;
            mn_buf_printf(b, "%s IN (", L);
            mn_buf_cstr(&sb);
            for (size_t i = 0; i < sb.len; i++) {
                if (sb.data[i] == '\x01') {
                    size_t idx = strtoull(sb.data + i + 1, NULL, 10);
                    while (sb.data[i] != '\x02')
                        i++;
                    mn__cc_param(c, b, s2.params[idx]);
                } else {
                    mn_buf_putc(b, sb.data[i]);
                }
            }
            mn_buf_putc(b, ')');
        } else if (v.type != MN_ARG_LIST) {
            return mn__cc_fail(c, MN_EINVAL, "%s needs a list (MN_IN(...)) or a queryset",
                               q->lookup);
        } else if ((v = in_without_nulls(c, v)).v.list.n == 0) {
            mn_buf_puts(b, "1 = 0"); /* Django: EmptyResultSet */
        } else if (!in_one_param(c, b, L, pf, as, f != NULL, v)) {
            mn_buf_printf(b, "%s IN (", L);
            for (size_t i = 0; i < v.v.list.n; i++) {
                if (i)
                    mn_buf_puts(b, ", ");
                rhs_param(c, b, pf, as, v.v.list.items[i]);
            }
            mn_buf_putc(b, ')');
        }
    } else if (strcmp(lk, "range") == 0) {
        if (v.type != MN_ARG_LIST || v.v.list.n != 2)
            return mn__cc_fail(c, MN_EINVAL, "%s needs a list of two values", q->lookup);
        mn_buf_printf(b, "%s BETWEEN ", L);
        rhs_param(c, b, pf, as, v.v.list.items[0]);
        mn_buf_puts(b, " AND ");
        rhs_param(c, b, pf, as, v.v.list.items[1]);
    } else if (strcmp(lk, "regex") == 0 || strcmp(lk, "iregex") == 0) {
        bool ci = lk[0] == 'i';
        const char *s = arg_text(c, v);
        if (!s)
            return mn__cc_fail(c, MN_EINVAL, "%s needs a string", q->lookup);
        if (pg)
            mn_buf_printf(b, "(%s)::text %s ", L, ci ? "~*" : "~");
        else
            mn_buf_printf(b, "%s REGEXP ", L);
        mn__cc_param(c, b, mn_dbp_text(!pg && ci ? mn_arena_printf(c->o->arena, "(?i)%s", s) : s));
    } else { /* iexact, contains, icontains, startswith, ..., iendswith */
        bool ci = lk[0] == 'i';
        const char *base = ci ? lk + 1 : lk;
        bool lead = strcmp(base, "contains") == 0 || strcmp(base, "endswith") == 0;
        bool trail = strcmp(base, "contains") == 0 || strcmp(base, "startswith") == 0;
        if (v.type == MN_ARG_EXPR) { /* contains=F("other") */
            mn_buf rb;
            mn_buf_init(&rb, c->o->arena);
            mn__cc_expr(c, &rb, v.v.expr);
            const char *R = mn_buf_cstr(&rb);
            /* the other column's wildcards are literal, as a value's are (Django's
             * pattern_ops); SQLite's case-sensitive match is GLOB, as for a value */
            bool glob = !pg && !ci;
            mn_buf w;
            mn_buf_init(&w, c->o->arena);
            if (lead)
                mn_buf_puts(&w, glob ? "'*' || " : "'%' || ");
            if (glob)
                mn_buf_printf(
                    &w, "REPLACE(REPLACE(REPLACE(%s, '[', '[[]'), '*', '[*]'), '?', '[?]')", R);
            else
                mn_buf_printf(&w,
                              "REPLACE(REPLACE(REPLACE(%s%s, '\\', '\\\\'), '%%', '\\%%'), "
                              "'_', '\\_')",
                              R, pg ? "::text" : "");
            if (trail)
                mn_buf_puts(&w, glob ? " || '*'" : " || '%'");
            const char *wrapped = mn_buf_cstr(&w);
            if (pg)
                mn_buf_printf(b, ci ? "UPPER((%s)::text) LIKE UPPER(%s)" : "(%s)::text LIKE %s", L,
                              wrapped);
            else if (glob)
                mn_buf_printf(b, "%s GLOB %s", L, wrapped);
            else
                mn_buf_printf(b, "%s LIKE %s ESCAPE '\\'", L, wrapped);
        } else {
            const char *s = arg_text(c, v);
            if (!s)
                return mn__cc_fail(c, MN_EINVAL, "%s needs a string", q->lookup);
            if (pg) {
                mn_buf_printf(b, ci ? "UPPER((%s)::text) LIKE UPPER(" : "(%s)::text LIKE ", L);
                mn__cc_param(c, b, mn_dbp_text(pattern(c, s, false, lead, trail)));
                if (ci)
                    mn_buf_putc(b, ')');
            } else if (ci) {
                mn_buf_printf(b, "%s LIKE ", L);
                mn__cc_param(c, b, mn_dbp_text(pattern(c, s, false, lead, trail)));
                mn_buf_puts(b, " ESCAPE '\\'");
            } else {
                mn_buf_printf(b, "%s GLOB ", L);
                mn__cc_param(c, b, mn_dbp_text(pattern(c, s, true, lead, trail)));
            }
        }
    }
    if (nullable_neg)
        mn_buf_printf(b, " AND %s IS NOT NULL)", L);
    return c->err;
}

/* Compiles q; *votes: the joins (see join_chain) that q, as it counts under the current
 * negation, can be true only through, which Django's JoinPromoter lets be INNER. */
/* Q(), ~Q() and any combination of them: no condition at all. As Django's Q._combine, an
 * empty Q drops out of & and | (Q() | Q(x) is Q(x), not everything), and ~Q() filters
 * nothing. */
static bool q_empty(const mn_q *q)
{
    if (q->kind == Q_NOT)
        return q_empty(q->a);
    if (q->kind == Q_LEAF)
        return false;
    return !q->a || (q_empty(q->a) && q_empty(q->b));
}

static int cc_q(cc *c, mn_buf *b, const mn_q *q, uint64_t *votes)
{
    *votes = 0;
    if (c->err)
        return c->err;
    uint64_t va = 0, vb = 0;
    if (q->kind != Q_LEAF && q_empty(q)) {
        mn_buf_puts(b, "1 = 1");
        return 0;
    }
    switch (q->kind) {
    case Q_LEAF: return compile_leaf(c, b, q, votes);
    case Q_NOT:
        mn_buf_puts(b, "NOT (");
        c->negated = !c->negated;
        cc_q(c, b, q->a, votes);
        c->negated = !c->negated;
        mn_buf_putc(b, ')');
        return c->err;
    case Q_AND:
    case Q_OR:
        if (!q->a) { /* Q() */
            mn_buf_puts(b, "1 = 1");
            return 0;
        }
        bool chain = q->lookup == mn__filter_chain;
        if (chain && q->a->kind == Q_AND && !q->a->a) { /* filter() after annotate() */
            int saved = c->gen;
            c->gen = ++c->ngen;
            cc_q(c, b, q->b, votes);
            c->gen = saved;
            return c->err;
        }
        if (!chain && (q_empty(q->a) || q_empty(q->b)))
            return cc_q(c, b, q_empty(q->a) ? q->b : q->a, votes);
        mn_buf_putc(b, '(');
        cc_q(c, b, q->a, &va);
        mn_buf_puts(b, q->kind == Q_AND ? " AND " : " OR ");
        if (chain) {
            int saved = c->gen;
            c->gen = ++c->ngen;
            cc_q(c, b, q->b, &vb);
            c->gen = saved;
        } else {
            cc_q(c, b, q->b, &vb);
        }
        mn_buf_putc(b, ')');
        /* AND needs what either side needs; OR only what both do (under NOT, the other way
         * round, as De Morgan says) */
        *votes = (q->kind == Q_AND) != (c->negated != 0) ? va | vb : va & vb;
        return c->err;
    }
    return mn__cc_fail(c, MN_EINVAL, "bad Q node");
}

int mn__cc_q(cc *c, mn_buf *b, const mn_q *q)
{
    uint64_t votes;
    return cc_q(c, b, q, &votes);
}

int mn__cc_where(cc *c, mn_buf *b, const mn_q *q)
{
    uint64_t votes;
    cc_q(c, b, q, &votes);
    for (size_t i = 0; i < c->nj && i < 64; i++)
        if (votes & ((uint64_t)1 << i))
            c->joins[i].inner = true;
    return c->err;
}

/* ---- expressions ---- */
const char *mn__agg_name(aggfn f)
{
    switch (f) {
    case AGG_COUNT: return "COUNT";
    case AGG_SUM: return "SUM";
    case AGG_AVG: return "AVG";
    case AGG_MIN: return "MIN";
    case AGG_MAX: return "MAX";
    }
    return "COUNT";
}

static int expr_sql(cc *c, mn_buf *b, const mn_expr *e);

int mn__cc_expr(cc *c, mn_buf *b, const mn_expr *e)
{
    if (c->ann_depth > 16)
        return mn__cc_fail(c, MN_EINVAL, "an annotation refers to itself");
    c->ann_depth++;
    int rc = expr_sql(c, b, e);
    c->ann_depth--;
    return rc;
}

int mn__cc_annotation(cc *c, mn_buf *b, const annot *a)
{
    int saved = c->gen;
    c->gen = 0; /* the annotation's joins, whichever filter() names it */
    int rc = mn__cc_expr(c, b, a->expr);
    c->gen = saved;
    return rc;
}

/* ---- expression types (decimals are scaled integers on SQLite) ---- */
static const mn_fielddef *type_path_field(const mn_model *m, const char *path)
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
            else if (dd)
                return NULL; /* a transform or lookup after a plain field */
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

static xty field_xty(const mn_fielddef *f)
{
    xty t = {XT_OTHER, 0};
    for (int i = 0; f && i < 4 && (f->type == MN_FK || f->type == MN_O2O) && f->rel_model; i++)
        f = mn__rel_field(f);
    if (!f)
        return t;
    if (f->type == MN_DECIMAL)
        t = (xty){XT_DEC, f->decimal_places};
    else if (f->type == MN_FLOAT)
        t.t = XT_FLOAT;
    else if (mn__is_int_type(f->type))
        t.t = XT_INT;
    return t;
}

static xty expr_type_d(const mn_model *m, const mn_qs *qs, const mn_expr *e, int depth);

static xty path_type(const mn_model *m, const mn_qs *qs, const char *path, int depth)
{
    const mn_fielddef *f = type_path_field(m, path);
    if (f)
        return field_xty(f);
    for (size_t i = 0; qs && i < qs->nannots; i++)
        if (strcmp(qs->annots[i].name, path) == 0)
            return expr_type_d(m, qs, qs->annots[i].expr, depth + 1);
    return (xty){XT_OTHER, 0};
}

static xty expr_type_d(const mn_model *m, const mn_qs *qs, const mn_expr *e, int depth)
{
    xty o = {XT_OTHER, 0};
    if (!e || depth > 16)
        return o;
    switch (e->kind) {
    case E_FIELD: return path_type(m, qs, e->path, depth);
    case E_VALUE:
        if (e->value.type == MN_ARG_INT)
            o.t = XT_INT;
        else if (e->value.type == MN_ARG_FLOAT)
            o.t = XT_FLOAT;
        return o;
    case E_AGG: {
        if (e->agg == AGG_COUNT)
            return (xty){XT_INT, 0};
        if (strcmp(e->path, "*") == 0)
            return o;
        xty a = path_type(m, qs, e->path, depth);
        if (e->agg != AGG_AVG)
            return a;
        if (a.t == XT_DEC)
            return (xty){XT_DEC, a.scale < 0 ? -1 : a.scale + MN_AVG_EXTRA_PLACES};
        if (a.t == XT_INT || a.t == XT_FLOAT)
            return (xty){XT_FLOAT, 0};
        return o;
    }
    case E_OP: {
        xty a = expr_type_d(m, qs, e->a, depth + 1), b = expr_type_d(m, qs, e->b, depth + 1);
        /* a string constant beside a decimal is a decimal of the same places */
        if (a.t == XT_OTHER && e->a && e->a->kind == E_VALUE && e->a->value.type == MN_ARG_STR &&
            b.t == XT_DEC)
            a = b;
        if (b.t == XT_OTHER && e->b && e->b->kind == E_VALUE && e->b->value.type == MN_ARG_STR &&
            a.t == XT_DEC)
            b = a;
        if (a.t == XT_OTHER || b.t == XT_OTHER)
            return o;
        if (a.t == XT_FLOAT || b.t == XT_FLOAT)
            return (xty){XT_FLOAT, 0};
        if (a.t == XT_INT && b.t == XT_INT)
            return a;
        int sa = a.t == XT_INT ? 0 : a.scale, sb = b.t == XT_INT ? 0 : b.scale;
        if (e->op == '/' || sa < 0 || sb < 0)
            return (xty){XT_DEC, -1};
        if (e->op == '*')
            return (xty){XT_DEC, sa + sb};
        return (xty){XT_DEC, sa > sb ? sa : sb};
    }
    }
    return o;
}

xty mn__expr_type(const mn_model *m, const mn_qs *qs, const mn_expr *e)
{
    return expr_type_d(m, qs, e, 0);
}

static int64_t pow10i(int n)
{
    int64_t p = 1;
    for (int i = 0; i < n && i < 18; i++)
        p *= 10;
    return p;
}

void mn__sqlite_as(mn_buf *b, const char *sql, xty from, xty to)
{
    bool real_from = from.t == XT_FLOAT || (from.t == XT_DEC && from.scale < 0);
    int sf = from.t == XT_DEC ? from.scale : 0;
    if (to.t == XT_FLOAT || (to.t == XT_DEC && to.scale < 0)) {
        if (real_from)
            mn_buf_puts(b, sql);
        else if (sf > 0)
            mn_buf_printf(b, "(CAST(%s AS REAL) / %lld)", sql, (long long)pow10i(sf));
        else
            mn_buf_printf(b, "CAST(%s AS REAL)", sql);
        return;
    }
    int st = to.t == XT_DEC ? to.scale : 0;
    if (real_from)
        mn_buf_printf(b, "CAST(ROUND(%s * %lld) AS INTEGER)", sql, (long long)pow10i(st));
    else if (sf == st)
        mn_buf_puts(b, sql);
    else if (sf < st)
        mn_buf_printf(b, "(%s * %lld)", sql, (long long)pow10i(st - sf));
    else {
        long long d = (long long)pow10i(sf - st);
        /* integer division truncates toward zero: add half the divisor away from zero */
        mn_buf_printf(b, "((%s + CASE WHEN %s < 0 THEN -%lld ELSE %lld END) / %lld)", sql, sql,
                      d / 2, d / 2, d);
    }
}

void mn__dec_avg_sql(mn_dbdialect d, mn_buf *b, const char *X, int scale)
{
    if (d == MN_DIALECT_POSTGRESQL) {
        mn_buf_printf(b, "ROUND(AVG(%s), %d)", X, scale);
        return;
    }
    long long k = (long long)pow10i(MN_AVG_EXTRA_PLACES);
    mn_buf_printf(b,
                  "((SUM(%s) * %lld + CASE WHEN SUM(%s) < 0 THEN -(COUNT(%s) / 2) "
                  "ELSE COUNT(%s) / 2 END) / NULLIF(COUNT(%s), 0))",
                  X, k, X, X, X, X);
}

void mn__sqlite_dec_text(mn_buf *b, const char *n, int scale)
{
    if (scale <= 0) {
        mn_buf_puts(b, n);
        return;
    }
    long long d = (long long)pow10i(scale);
    mn_buf_printf(b,
                  "CASE WHEN %s IS NULL THEN NULL ELSE printf('%%s%%d.%%0%dd', CASE WHEN %s < 0 "
                  "THEN '-' ELSE '' END, ABS(%s) / %lld, ABS(%s) %% %lld) END",
                  n, scale, n, n, d, n, d);
}

static xty cc_type(cc *c, const mn_expr *e)
{
    return mn__expr_type(c->m, c->qs, e);
}

/* One side of a decimal operation on SQLite, written as type `to`. */
static void dec_side(cc *c, mn_buf *b, const mn_expr *e, xty t, xty to)
{
    mn_buf s;
    mn_buf_init(&s, c->o->arena);
    if (e && e->kind == E_VALUE && e->value.type == MN_ARG_STR && t.t == XT_DEC && t.scale >= 0) {
        mn_fielddef df = {.name = "value",
                          .type = MN_DECIMAL,
                          .max_digits = 30,
                          .decimal_places = t.scale,
                          .model = c->m};
        rhs_param(c, &s, &df, MN_DECIMAL, e->value);
    } else {
        mn__cc_expr(c, &s, e);
    }
    mn__sqlite_as(b, mn_buf_cstr(&s), t, to);
}

/* Arithmetic with a decimal on SQLite, exact on the scaled integers: + - % align the
 * places, * adds them; / and anything with a float go through REAL. */
static int dec_op(cc *c, mn_buf *b, const mn_expr *e)
{
    xty r = cc_type(c, e);
    xty ta = cc_type(c, e->a), tb = cc_type(c, e->b);
    if (ta.t == XT_OTHER)
        ta = tb;
    if (tb.t == XT_OTHER)
        tb = ta;
    xty wa = r, wb = r; /* how each side is written */
    if (r.t == XT_DEC && r.scale >= 0 && e->op == '*') {
        wa = ta;
        wb = tb;
    }
    mn_buf_putc(b, '(');
    dec_side(c, b, e->a, ta, wa);
    mn_buf_printf(b, " %c ", e->op);
    dec_side(c, b, e->b, tb, wb);
    mn_buf_putc(b, ')');
    return c->err;
}

/* An aggregate's default=, written as the aggregate's result is: a decimal at its places
 * (scaled on SQLite), else as a value of the aggregated field, else as it is. */
void mn__cc_agg_default(cc *c, mn_buf *b, const mn_expr *e)
{
    mn_arg v = e->value;
    xty t = cc_type(c, e);
    const mn_fielddef *f = strcmp(e->path, "*") ? type_path_field(c->m, e->path) : NULL;
    if (v.type == MN_ARG_NULL) {
        mn_buf_puts(b, "NULL");
    } else if (t.t == XT_DEC && t.scale >= 0) {
        mn_fielddef df = {.name = "default",
                          .type = MN_DECIMAL,
                          .max_digits = 38,
                          .decimal_places = t.scale,
                          .model = c->m};
        rhs_param(c, b, &df, MN_DECIMAL, v);
        if (c->d == MN_DIALECT_POSTGRESQL)
            mn_buf_puts(b, "::numeric");
    } else if (t.t == XT_FLOAT || e->agg == AGG_AVG) {
        double d = v.type == MN_ARG_FLOAT ? v.v.f : v.type == MN_ARG_INT ? (double)v.v.i : 0;
        if (v.type != MN_ARG_FLOAT && v.type != MN_ARG_INT) {
            mn__cc_fail(c, MN_EINVAL, "default= of %s must be a number", mn__agg_name(e->agg));
            return;
        }
        mn__cc_param(c, b, mn_dbp_float(d));
        if (c->d == MN_DIALECT_POSTGRESQL)
            mn_buf_puts(b, "::double precision");
    } else if (f && !f->rel_model && f->type != MN_DECIMAL) {
        rhs_param(c, b, f, mn__is_int_type(f->type) ? MN_INT : f->type, v);
    } else {
        mn_expr val = {.kind = E_VALUE, .value = v};
        expr_sql(c, b, &val);
    }
}

static int expr_sql(cc *c, mn_buf *b, const mn_expr *e)
{
    if (!e)
        return mn__cc_fail(c, MN_EINVAL, "missing expression");
    switch (e->kind) {
    case E_FIELD: {
        resolved r;
        mn_buf tcol; /* F("pub_date__year"): a transform of a date/time field, as Django 3.2 */
        mn_buf_init(&tcol, c->o->arena);
        if (mn__cc_order_path(c, e->path, &r, &tcol, NULL) != 0 || c->err)
            return c->err ? c->err : MN_EFIELD;
        if (r.ann)
            return mn__cc_annotation(c, b, r.ann);
        mn_buf_append(b, tcol.data, tcol.len);
        return 0;
    }
    case E_VALUE: {
        mn_arg v = e->value;
        switch (v.type) {
        case MN_ARG_INT: mn__cc_param(c, b, mn_dbp_int(v.v.i)); break;
        case MN_ARG_FLOAT:
            mn__cc_param(c, b, mn_dbp_float(v.v.f));
            /* F("pages") * 1.5 is a float (Django's Integer x Float output): PostgreSQL would
             * type the marker as the integer on the other side */
            if (c->d == MN_DIALECT_POSTGRESQL)
                mn_buf_puts(b, "::double precision");
            break;
        case MN_ARG_BOOL: mn__cc_param(c, b, mn_dbp_bool(v.v.b)); break;
        case MN_ARG_STR: mn__cc_param(c, b, mn_dbp_text(v.v.s)); break;
        case MN_ARG_NULL: mn_buf_puts(b, "NULL"); break;
        case MN_ARG_DATETIME: {
            char buf[48];
            mn__format_datetime(v.v.dt, MN_DATETIME, c->d, buf, sizeof buf);
            mn__cc_param(c, b, mn_dbp_text(mn_arena_strdup(c->o->arena, buf)));
            break;
        }
        default: return mn__cc_fail(c, MN_EINVAL, "unsupported value in an expression");
        }
        return 0;
    }
    case E_OP: {
        if (c->d == MN_DIALECT_SQLITE) {
            xty r = cc_type(c, e);
            if ((r.t == XT_DEC || r.t == XT_FLOAT) &&
                (cc_type(c, e->a).t == XT_DEC || cc_type(c, e->b).t == XT_DEC))
                return dec_op(c, b, e);
        }
        /* price + "1.50": the value takes the decimal field's storage (scaled on SQLite) */
        const mn_fielddef *df = NULL;
        const mn_expr *sides[2] = {e->a, e->b};
        for (int i = 0; i < 2 && (e->op == '+' || e->op == '-'); i++)
            if (sides[i] && sides[i]->kind == E_FIELD) {
                resolved r;
                if (mn__cc_resolve(c, sides[i]->path, false, &r) == 0 && r.f &&
                    r.f->type == MN_DECIMAL)
                    df = r.f;
            }
        mn_buf_putc(b, '(');
        for (int i = 0; i < 2; i++) {
            if (i)
                mn_buf_printf(b, " %c ", e->op);
            if (df && sides[i] && sides[i]->kind == E_VALUE)
                rhs_param(c, b, df, MN_DECIMAL, sides[i]->value);
            else
                mn__cc_expr(c, b, sides[i]);
        }
        mn_buf_putc(b, ')');
        return c->err;
    }
    case E_AGG: {
        if (e->has_default) { /* default=: COALESCE(aggregate, value) */
            mn_expr plain = *e;
            plain.has_default = false;
            mn_buf_puts(b, "COALESCE(");
            expr_sql(c, b, &plain);
            mn_buf_puts(b, ", ");
            mn__cc_agg_default(c, b, e);
            mn_buf_putc(b, ')');
            return c->err;
        }
        mn_buf arg;
        mn_buf_init(&arg, c->o->arena);
        if (strcmp(e->path, "*") == 0) {
            mn_buf_puts(&arg, e->filter ? "1" : "*");
        } else {
            resolved r;
            if (mn__cc_resolve(c, e->path, false, &r) != 0 || c->err)
                return c->err ? c->err : MN_EFIELD;
            if (r.ann)
                mn__cc_annotation(c, &arg, r.ann);
            else
                mn__cc_col(c, &arg, r.alias, r.f->column);
        }
        xty at = e->agg == AGG_AVG ? cc_type(c, e) : (xty){XT_OTHER, 0};
        if (at.t == XT_DEC && at.scale >= 0) {
            /* Avg() of a decimal stays exact: PostgreSQL rounds its numeric average,
             * SQLite divides the exact SUM of the scaled integers by the COUNT */
            mn_buf x;
            mn_buf_init(&x, c->o->arena);
            mn_buf_puts(&x, e->distinct ? "DISTINCT " : "");
            if (e->filter) {
                mn_buf_puts(&x, "CASE WHEN ");
                int saved = c->negated;
                c->negated = 0;
                mn__cc_q(c, &x, e->filter);
                c->negated = saved;
                mn_buf_printf(&x, " THEN %s ELSE NULL END", mn_buf_cstr(&arg));
            } else {
                mn_buf_append(&x, arg.data, arg.len);
            }
            mn__dec_avg_sql(c->d, b, mn_buf_cstr(&x), at.scale);
            return c->err;
        }
        mn_buf_printf(b, "%s(%s", mn__agg_name(e->agg), e->distinct ? "DISTINCT " : "");
        if (e->filter) {
            mn_buf_puts(b, "CASE WHEN ");
            int saved = c->negated;
            c->negated = 0;
            mn__cc_q(c, b, e->filter);
            c->negated = saved;
            mn_buf_printf(b, " THEN %s ELSE NULL END", mn_buf_cstr(&arg));
        } else {
            mn_buf_append(b, arg.data, arg.len);
        }
        mn_buf_putc(b, ')');
        return c->err;
    }
    }
    return mn__cc_fail(c, MN_EINVAL, "bad expression");
}

bool mn__has_aggregate(const mn_expr *e)
{
    if (!e)
        return false;
    if (e->kind == E_AGG)
        return true;
    return e->kind == E_OP && (mn__has_aggregate(e->a) || mn__has_aggregate(e->b));
}
