/* render.c — walks a compiled node tree and writes the output straight into the caller's
 * buffer (django.template.base.NodeList.render and the nodes of defaulttags/loader_tags).
 *
 * Variables resolve through the context frames, then value lookups; filters run with
 * Django's is_safe / needs_autoescape / expects_localtime rules; output is escaped unless
 * safe. Every render is bounded: nesting depth, output size and loop iterations have
 * limits from the engine options, so no template can recurse or loop without end. */
#include "template/internal.h"

#include <stdatomic.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
#define DEFAULT_MAX_DEPTH 100
#define DEFAULT_MAX_ITER 10000000

static int render_node(mn_template_state *r, const node *n, mn_buf *out);

/* ---- Errors. ---- */

int mn__render_fail(mn_template_state *r, int code, const char *fmt, ...)
{
    mn_template_error *err = r->err;
    if (!err || err->code)
        return code;
    memset(err, 0, sizeof *err);
    err->code = code;
    const node *n = r->cur;
    const mn_template *t = n && n->tpl ? n->tpl : r->tpl;
    snprintf(err->template_name, sizeof err->template_name, "%s", t && t->name ? t->name : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n && t && t->source && n->line > 0) {
        err->line = n->line;
        err->column = n->column;
        const char *s = t->source;
        size_t len = t->source_len, pos = 0;
        for (int l = 1; l < n->line && pos < len; pos++)
            if (s[pos] == '\n')
                l++;
        size_t e = pos;
        while (e < len && s[e] != '\n')
            e++;
        snprintf(err->source_line, sizeof err->source_line, "%.*s", (int)(e - pos), s + pos);
    }
    return code;
}

static int check_output(mn_template_state *r, const mn_buf *out)
{
    if (out->len > r->opt->max_output)
        return mn__render_fail(r, MN_ETOOBIG, "Output is larger than the limit of %zu bytes",
                               r->opt->max_output);
    return MN_OK;
}

/* ---- Per-render node state (cycles, ifchanged): an open-addressing map by node. ---- */

void **mn__state_slot(mn_template_state *r, const void *key)
{
    if (r->nslots * 2 >= r->cap_slots) {
        size_t cap = r->cap_slots ? r->cap_slots * 2 : 16;
        state_slot *s = mn_arena_calloc(r->arena, cap, sizeof *s);
        if (!s)
            return NULL;
        for (size_t i = 0; i < r->cap_slots; i++) {
            if (!r->slots[i].key)
                continue;
            size_t h = ((uintptr_t)r->slots[i].key >> 4) & (cap - 1);
            while (s[h].key)
                h = (h + 1) & (cap - 1);
            s[h] = r->slots[i];
        }
        r->slots = s;
        r->cap_slots = cap;
    }
    size_t h = ((uintptr_t)key >> 4) & (r->cap_slots - 1);
    while (r->slots[h].key && r->slots[h].key != key)
        h = (h + 1) & (r->cap_slots - 1);
    if (!r->slots[h].key) {
        r->slots[h].key = key;
        r->slots[h].value = NULL;
        r->nslots++;
    }
    return &r->slots[h].value;
}

/* ---- Time zones. ---- */

/* An aware datetime moved to the engine's current time zone (template_localtime). */
static mn_value *to_localtime(mn_template_state *r, mn_value *v)
{
    if (!v || v->kind != MN_VALUE_DATETIME || !v->u.dt.aware)
        return v;
    const mn_datetime *t = &v->u.dt;
    int32_t target = r->opt->time_zone_offset;
    if (t->utc_offset == target)
        return v;
    int64_t secs = mn__days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
                   t->minute * 60 + t->second - t->utc_offset + target;
    mn_datetime n = *t;
    mn__datetime_from_epoch(secs, t->microsecond, &n);
    n.utc_offset = target;
    n.tzname = r->opt->time_zone_name;
    mn_value *o = mn_value_datetime(r->arena, &n);
    return o ? o : v;
}

/* ---- Resolving variables and applying filters. ---- */

/* The context's value for the path's first name. hint[0] holds where it was found last
 * (frame << 16 | index): when that is in the top frame it is the answer if the name is
 * there, as names are unique within a frame and the top frame is searched first. The
 * loop variables always are, so a loop body finds them without a search. */
static mn_value *context_lookup_hinted(const mn_context *c, const arg_expr *a)
{
    mn_str name = a->path[0];
    uint32_t h = __atomic_load_n(&a->hint[0], __ATOMIC_RELAXED);
    int top = c->nframes - 1;
    if ((int)(h >> 16) == top && (int)(h & 0xffff) < c->frames[top].n) {
        const ctx_var *v = &c->frames[top].vars[h & 0xffff];
        if (v->name.len == name.len &&
            (v->name.ptr == name.ptr || mn__name_eq(v->name.ptr, name.ptr, name.len)))
            return v->value;
    }
    for (int f = top; f >= 0; f--) {
        const ctx_frame *fr = &c->frames[f];
        for (int i = fr->n - 1; i >= 0; i--) {
            if (fr->vars[i].name.len == name.len &&
                mn__name_eq(fr->vars[i].name.ptr, name.ptr, name.len)) {
                if (f <= 0xffff && i <= 0xffff)
                    __atomic_store_n(&a->hint[0], (uint32_t)f << 16 | (uint32_t)i,
                                     __ATOMIC_RELAXED);
                return fr->vars[i].value;
            }
        }
    }
    return mn__context_builtin(name);
}

__attribute__((noinline)) static int lookup_path_slow(mn_template_state *r, const arg_expr *a,
                                                      mn_value **out)
{
    mn_value *v = context_lookup_hinted(r->ctx, a);
    if (!v)
        return MN_ENOTFOUND;
    for (int i = 1; i < a->npath; i++) {
        mn_value *next = NULL;
        if (v->kind == MN_VALUE_DICT && a->hint) {
            /* the key where it was last time, else a scan that remembers where it was;
             * relaxed atomics: the hint may be shared with renders on other threads */
            mn_str key = a->path[i];
            size_t len = v->u.dict.len;
            const mn_value_dict_entry *es = v->u.dict.entries;
            uint32_t h = __atomic_load_n(&a->hint[i], __ATOMIC_RELAXED);
            if (h < len && es[h].key.len == key.len &&
                mn__name_eq(es[h].key.ptr, key.ptr, key.len)) {
                next = es[h].value;
            } else {
                for (size_t k = 0; k < len; k++) {
                    if (es[k].key.len == key.len && mn__name_eq(es[k].key.ptr, key.ptr, key.len)) {
                        next = es[k].value;
                        if (k <= UINT32_MAX)
                            __atomic_store_n(&a->hint[i], (uint32_t)k, __ATOMIC_RELAXED);
                        break;
                    }
                }
            }
            if (next) {
                v = next;
                continue;
            }
        }
        int rc = mn_value_lookup(v, a->path[i], r->arena, &next);
        if (rc < 0)
            return rc;
        v = next ? next : mn_value_none();
    }
    *out = v;
    return MN_OK;
}

/* The common lookups without a search: a name of the top frame (the loop variable) found
 * where it was last, by its interned pointer, and one key of a dict found at the entry it
 * had last time. Anything else takes lookup_path_slow, which refreshes the hints. */
static inline int lookup_path(mn_template_state *r, const arg_expr *a, mn_value **out)
{
    const mn_context *c = r->ctx;
    uint32_t h = __atomic_load_n(&a->hint[0], __ATOMIC_RELAXED);
    uint32_t top = (uint32_t)c->nframes - 1;
    const ctx_frame *fr = &c->frames[top];
    if ((h >> 16) == top && (h & 0xffff) < (uint32_t)fr->n && a->npath <= 2) {
        const ctx_var *cv = &fr->vars[h & 0xffff];
        if (cv->name.ptr == a->path[0].ptr && cv->name.len == a->path[0].len) {
            mn_value *v = cv->value;
            if (a->npath == 1) {
                *out = v;
                return MN_OK;
            }
            if (v->kind == MN_VALUE_DICT) {
                uint32_t k = __atomic_load_n(&a->hint[1], __ATOMIC_RELAXED);
                mn_str key = a->path[1];
                if (k < v->u.dict.len) {
                    const mn_value_dict_entry *e = &v->u.dict.entries[k];
                    if (e->key.len == key.len && mn__name_eq(e->key.ptr, key.ptr, key.len) &&
                        e->value) {
                        *out = e->value;
                        return MN_OK;
                    }
                }
            }
        }
    }
    return lookup_path_slow(r, a, out);
}

static int resolve_arg(mn_template_state *r, const arg_expr *a, mn_value **out)
{
    if (a->literal) {
        *out = a->literal;
        return MN_OK;
    }
    int rc = lookup_path(r, a, out);
    if (rc == MN_ENOTFOUND)
        return mn__render_fail(r, MN_EINVAL, "Failed lookup for key [%.*s]", (int)a->path[0].len,
                               a->path[0].ptr);
    if (rc < 0)
        return mn__render_fail(r, rc, "Looking up '%.*s' failed: %s", (int)a->text.len, a->text.ptr,
                               mn_value_strerror(rc));
    return rc;
}

/* The argument resolved and the input prepared as the filter's flags ask. */
static int filter_inputs(mn_template_state *r, const filter_call *fc, mn_value **obj,
                         mn_value **arg)
{
    const filter_def *f = fc->def;
    *arg = NULL;
    if (fc->has_arg) {
        int rc = resolve_arg(r, &fc->arg, arg);
        if (rc < 0)
            return rc;
    }
    if (f->flags & MN_FILTER_EXPECTS_LOCALTIME)
        *obj = to_localtime(r, *obj);
    if ((f->flags & MN_FILTER_STRING) && (*obj)->kind != MN_VALUE_STRING) {
        mn_str text;
        int rc = mn_value_to_text(*obj, r->arena, &text);
        if (rc < 0)
            return mn__render_fail(r, rc, "Filter '%s': converting its input failed", f->name);
        *obj = mn_value_str_ref(r->arena, text.ptr, text.len);
        if (!*obj)
            return MN_ENOMEM;
    }
    return MN_OK;
}

static int call_filter(mn_template_state *r, const filter_call *fc, mn_value *obj, mn_value *arg,
                       mn_value **out)
{
    const filter_def *f = fc->def;
    mn_filter_call call = {r->arena, r->autoescape, fc->has_arg, r, r->opt};
    r->filter_error[0] = 0;
    mn_value *res = f->fn(&call, obj, arg);
    if (!res)
        return mn__render_fail(r, MN_EINVAL, "Filter '%s' failed: %s", f->name,
                               r->filter_error[0] ? r->filter_error : "error");
    if ((f->flags & MN_FILTER_IS_SAFE) && mn_value_is_safe(obj) &&
        !(res->kind == MN_VALUE_STRING && res->safe)) {
        res = mn_value_mark_safe(r->arena, res);
        if (!res)
            return MN_ENOMEM;
    }
    *out = res;
    return MN_OK;
}

static int apply_filter(mn_template_state *r, const filter_call *fc, mn_value *obj, mn_value **out)
{
    mn_value *arg;
    int rc = filter_inputs(r, fc, &obj, &arg);
    return rc < 0 ? rc : call_filter(r, fc, obj, arg, out);
}

/* The variable with its first nfilters filters applied. */
static int resolve_upto(mn_template_state *r, const mn_template_expr *x, bool ignore_failures,
                        int nfilters, mn_value **out)
{
    mn_value *obj;
    if (x->var.literal) {
        obj = x->var.literal;
    } else {
        int rc = lookup_path(r, &x->var, &obj);
        if (rc == MN_ENOTFOUND) {
            const char *sii = r->opt->string_if_invalid;
            if (ignore_failures) {
                obj = mn_value_none();
            } else if (sii && *sii) {
                const char *pct = strstr(sii, "%s");
                if (pct)
                    obj = mn_value_str_ref(r->arena, "", 0), obj = NULL;
                mn_buf b;
                mn_buf_init(&b, r->arena);
                if (pct) {
                    mn_buf_append(&b, sii, (size_t)(pct - sii));
                    mn_buf_put_str(&b, x->var.text);
                    mn_buf_puts(&b, pct + 2);
                } else {
                    mn_buf_puts(&b, sii);
                }
                *out = mn_value_str_ref(r->arena, b.data ? b.data : "", b.len);
                return *out ? MN_OK : MN_ENOMEM;
            } else {
                obj = mn_value_empty_string();
            }
        } else if (rc < 0) {
            return mn__render_fail(r, rc, "Looking up '%.*s' failed: %s", (int)x->var.text.len,
                                   x->var.text.ptr, mn_value_strerror(rc));
        }
    }
    for (int i = 0; i < nfilters; i++) {
        int rc = apply_filter(r, &x->filters[i], obj, &obj);
        if (rc < 0)
            return rc;
    }
    *out = obj;
    return MN_OK;
}

int mn__resolve(mn_template_state *r, const mn_template_expr *x, bool ignore_failures,
                mn_value **out)
{
    return resolve_upto(r, x, ignore_failures, x->nfilters, out);
}

/* ---- Writing values (render_value_in_context). ---- */

static const filter_def *builtin_filter(mn_template_state *r, const char *name)
{
    return mn__library_filter(r->engine->libraries, mn_str_from(name));
}

static int write_text(mn_template_state *r, mn_str s, bool safe, mn_buf *out)
{
    if (safe || !r->autoescape)
        return mn__put(out, s.ptr, s.len);
    return mn__escape(out, s.ptr, s.len);
}

/* localize(float/Decimal) as django.utils.numberformat.format: exponent notation is written
 * out in full ("1e+16" -> "10000000000000000", Decimal("1E+2") -> "100") unless that would
 * take more than 200 digits. */
static int write_number(mn_template_state *r, const mn_value *v, mn_buf *out)
{
    mn_str t;
    int rc = mn_value_to_text(v, r->arena, &t);
    if (rc < 0)
        return rc;
    const char *e = NULL;
    for (size_t i = 0; i < t.len; i++)
        if (t.ptr[i] == 'e' || t.ptr[i] == 'E')
            e = t.ptr + i;
    if (!e)
        return mn__put(out, t.ptr, t.len);
    char digits[64];
    size_t nd = 0, point = 0;
    bool neg = false, seen_point = false;
    for (const char *p = t.ptr; p < e; p++) {
        if (*p == '-')
            neg = true;
        else if (*p == '.')
            seen_point = true;
        else if (*p >= '0' && *p <= '9' && nd < sizeof digits) {
            digits[nd++] = *p;
            if (!seen_point)
                point++;
        }
    }
    long exp = strtol(e + 1, NULL, 10);
    if (labs(exp) + (long)nd > 200 || nd == 0)
        return mn__put(out, t.ptr, t.len);
    long pos = (long)point + exp; /* digits before the decimal point */
    if (neg)
        mn_buf_putc(out, '-');
    if (pos <= 0) {
        mn_buf_puts(out, "0.");
        for (long i = 0; i < -pos; i++)
            mn_buf_putc(out, '0');
        return mn_buf_append(out, digits, nd);
    }
    for (long i = 0; i < pos; i++)
        mn_buf_putc(out, i < (long)nd ? digits[i] : '0');
    if ((long)nd > pos) {
        mn_buf_putc(out, '.');
        return mn_buf_append(out, digits + pos, nd - (size_t)pos);
    }
    return MN_OK;
}

int mn_template_write_value(mn_template_state *r, const mn_value *cv, mn_buf *out)
{
    mn_value *v = (mn_value *)cv;
    if (!v)
        v = mn_value_none();
    switch (v->kind) {
    case MN_VALUE_STRING: return write_text(r, v->u.str, v->safe, out);
    case MN_VALUE_INT:
        if (mn__put_small_int(out, v->u.i))
            return MN_OK;
        return mn_buf_put_i64(out, v->u.i);
    case MN_VALUE_DOUBLE:
    case MN_VALUE_DECIMAL: return write_number(r, v, out);
    case MN_VALUE_DATE:
    case MN_VALUE_DATETIME:
    case MN_VALUE_TIME: {
        v = to_localtime(r, v);
        const filter_def *f = builtin_filter(r, v->kind == MN_VALUE_TIME ? "time" : "date");
        if (f) {
            const char *fmt = v->kind == MN_VALUE_DATE       ? "DATE_FORMAT"
                              : v->kind == MN_VALUE_DATETIME ? "DATETIME_FORMAT"
                                                             : "TIME_FORMAT";
            mn_value *arg = mn_value_str_ref(r->arena, fmt, strlen(fmt));
            mn_filter_call call = {r->arena, r->autoescape, true, r, r->opt};
            mn_value *res = arg ? f->fn(&call, v, arg) : NULL;
            if (res && res->kind == MN_VALUE_STRING)
                return write_text(r, res->u.str, res->safe, out);
        }
        break;
    }
    default: break;
    }
    mn_str text;
    int rc = mn_value_to_text(v, r->arena, &text);
    if (rc < 0)
        return mn__render_fail(r, rc, "Converting a value to text failed: %s",
                               mn_value_strerror(rc));
    return write_text(r, text, mn_value_is_safe(v), out);
}

/* mn_template_write_value for the values a page is mostly made of, without the general
 * function's frame (it also handles dates, numbers and objects). */
static inline int write_value_fast(mn_template_state *r, const mn_value *v, mn_buf *out)
{
    if (v && v->kind == MN_VALUE_STRING)
        return write_text(r, v->u.str, v->safe, out);
    return mn_template_write_value(r, v, out);
}

/* The value as render_value_in_context's string, for `as var` forms (a safe string). */
static int value_to_output(mn_template_state *r, mn_value *v, mn_value **out)
{
    mn_buf b;
    mn_buf_init(&b, r->arena);
    int rc = mn_template_write_value(r, v, &b);
    if (rc < 0)
        return rc;
    *out = mn_value_safe_ref(r->arena, b.data ? b.data : "", b.len);
    return *out ? MN_OK : MN_ENOMEM;
}

/* context.set_upward */
static int set_upward(mn_context *c, mn_str name, mn_value *v)
{
    for (int f = c->nframes - 1; f >= 0; f--) {
        ctx_frame *fr = &c->frames[f];
        for (int i = 0; i < fr->n; i++) {
            if (mn_str_eq(fr->vars[i].name, name)) {
                fr->vars[i].value = v;
                return MN_OK;
            }
        }
    }
    return mn__context_set_ref(c, name, v);
}

/* ---- if conditions. ---- */

static bool value_in(mn_template_state *r, mn_value *x, mn_value *y, bool *ok)
{
    *ok = true;
    switch (y->kind) {
    case MN_VALUE_STRING:
        if (x->kind != MN_VALUE_STRING) {
            *ok = false;
            return false;
        }
        if (!x->u.str.len)
            return true;
        for (size_t i = 0; i + x->u.str.len <= y->u.str.len; i++)
            if (memcmp(y->u.str.ptr + i, x->u.str.ptr, x->u.str.len) == 0)
                return true;
        return false;
    case MN_VALUE_DICT:
        return x->kind == MN_VALUE_STRING &&
               mn_value_dict_get(y, x->u.str.ptr, x->u.str.len) != NULL;
    case MN_VALUE_LIST:
    case MN_VALUE_OBJECT: {
        mn_value *l;
        if (mn_value_iterate(y, r->arena, &l) < 0) {
            *ok = false;
            return false;
        }
        for (size_t i = 0; i < l->u.list.len; i++)
            if (mn_value_equal(x, l->u.list.items[i]))
                return true;
        return false;
    }
    default: *ok = false; return false;
    }
}

static bool same_object(const mn_value *a, const mn_value *b)
{
    if (a == b)
        return true;
    if (a->kind == MN_VALUE_NONE && b->kind == MN_VALUE_NONE)
        return true;
    if (a->kind == MN_VALUE_BOOL && b->kind == MN_VALUE_BOOL)
        return a->u.b == b->u.b;
    if (a->kind == MN_VALUE_OBJECT && b->kind == MN_VALUE_OBJECT)
        return a->u.obj.self == b->u.obj.self;
    return false;
}

/* Evaluates to a value (or/and return an operand, as Python's); failures give false. */
static int eval(mn_template_state *r, const cond *c, mn_value **out)
{
    mn_value *a = NULL, *b = NULL;
    int rc, t;
    switch (c->op) {
    case C_VALUE: return mn__resolve(r, c->value, true, out);
    case C_OR:
    case C_AND:
        rc = eval(r, c->a, &a);
        if (rc < 0)
            return rc;
        t = mn_value_truth(a, r->arena);
        if (t < 0)
            return mn__render_fail(r, t, "Evaluating a condition failed: %s", mn_value_strerror(t));
        if ((c->op == C_OR) == (t != 0)) {
            *out = a;
            return MN_OK;
        }
        return eval(r, c->b, out);
    case C_NOT:
        rc = eval(r, c->a, &a);
        if (rc < 0)
            return rc;
        t = mn_value_truth(a, r->arena);
        if (t < 0)
            return mn__render_fail(r, t, "Evaluating a condition failed: %s", mn_value_strerror(t));
        *out = mn_value_bool(!t);
        return MN_OK;
    default: break;
    }
    rc = eval(r, c->a, &a);
    if (rc < 0)
        return rc;
    rc = eval(r, c->b, &b);
    if (rc < 0)
        return rc;
    bool res = false, ok = true;
    int cmp = 0;
    switch (c->op) {
    case C_IN: res = value_in(r, a, b, &ok); break;
    case C_NOT_IN: res = !value_in(r, a, b, &ok); break;
    case C_IS: res = same_object(a, b); break;
    case C_IS_NOT: res = !same_object(a, b); break;
    case C_EQ: res = mn_value_equal(a, b); break;
    case C_NE: res = !mn_value_equal(a, b); break;
    default:
        ok = mn_value_compare(a, b, &cmp) == 0;
        res = c->op == C_LT   ? cmp < 0
              : c->op == C_GT ? cmp > 0
              : c->op == C_LE ? cmp <= 0
                              : cmp >= 0;
        break;
    }
    *out = mn_value_bool(ok && res);
    return MN_OK;
}

int mn__eval_cond(mn_template_state *r, const cond *c, int *truth)
{
    mn_value *v;
    int rc;
    if (c->op == C_VALUE && !c->value->nfilters && !c->value->var.literal &&
        lookup_path(r, &c->value->var, &v) == MN_OK) {
        /* {% if row.active %}: the lookup and the truth of a plain value */
        switch (v->kind) {
        case MN_VALUE_BOOL: *truth = v->u.b; return MN_OK;
        case MN_VALUE_NONE: *truth = 0; return MN_OK;
        case MN_VALUE_INT: *truth = v->u.i != 0; return MN_OK;
        case MN_VALUE_STRING: *truth = v->u.str.len != 0; return MN_OK;
        default: break;
        }
    }
    rc = eval(r, c, &v);
    if (rc < 0)
        return rc;
    int t = mn_value_truth(v, r->arena);
    if (t < 0)
        return mn__render_fail(r, t, "Evaluating a condition failed: %s", mn_value_strerror(t));
    *truth = t;
    return MN_OK;
}

/* ---- Nodes. ---- */

/* Text is written here, without the node machinery; the output limit is checked once the
 * list is done (a list's own text is bounded by the template, and every nested list and
 * every loop iteration checks at its end). */
int mn__render_nodelist(mn_template_state *r, const nodelist *nl, mn_buf *out)
{
    for (int i = 0; i < nl->n; i++) {
        const node *n = nl->items[i];
        if (n->type == N_TEXT) {
            if (mn__put(out, n->u.text.ptr, n->u.text.len) < 0) {
                r->cur = n;
                return mn__render_fail(r, MN_ENOMEM, "out of memory while rendering");
            }
            continue;
        }
        int rc = render_node(r, n, out);
        if (rc < 0)
            return rc;
    }
    return check_output(r, out);
}

static int render_var(mn_template_state *r, const node *n, mn_buf *out)
{
    const mn_template_expr *x = n->u.expr;
    mn_value *v;
    int rc;
    if (x->nfilters == 0 && !x->var.literal) {
        /* {{ row.note }} */
        if ((rc = lookup_path(r, &x->var, &v)) != MN_OK &&
            (rc = resolve_upto(r, x, false, 0, &v)) < 0)
            return rc;
        return write_value_fast(r, v, out);
    }
    const filter_call *last = x->nfilters ? &x->filters[x->nfilters - 1] : NULL;
    /* (string_if_invalid replaces a missing variable with the filters not applied) */
    if (r->writers && last && last->def->write) {
        /* the last filter writes its result itself: no result value, no second pass */
        if (x->nfilters == 1 && !x->var.literal) {
            /* {{ row.name|title }}: the lookup alone (a miss goes the long way for its
             * error or none) */
            if ((rc = lookup_path(r, &x->var, &v)) != MN_OK &&
                (rc = resolve_upto(r, x, false, 0, &v)) < 0)
                return rc;
        } else if ((rc = resolve_upto(r, x, false, x->nfilters - 1, &v)) < 0) {
            return rc;
        }
        mn_value *arg;
        if ((rc = filter_inputs(r, last, &v, &arg)) < 0)
            return rc;
        const filter_def *f = last->def;
        bool safe_in = v->kind == MN_VALUE_STRING ? v->safe : mn_value_is_safe(v);
        bool escape = r->autoescape && !((f->flags & MN_FILTER_IS_SAFE) && safe_in);
        mn_filter_call call = {r->arena, r->autoescape, last->has_arg, r, r->opt};
        r->filter_error[0] = 0;
        rc = f->write(&call, v, arg, escape, out);
        if (rc == MN_OK)
            return MN_OK; /* the node list checks the output's size */
        if (rc < 0)
            return mn__render_fail(r, rc, "Filter '%s' failed: %s", f->name,
                                   r->filter_error[0] ? r->filter_error : mn_strerror(rc));
        /* declined: the filter's value, written as usual */
        if ((rc = call_filter(r, last, v, arg, &v)) < 0)
            return rc;
    } else if ((rc = mn__resolve(r, x, false, &v)) < 0) {
        return rc;
    }
    return mn_template_write_value(r, v, out);
}

static int render_to_value(mn_template_state *r, const nodelist *nl, mn_value **out)
{
    mn_buf b;
    mn_buf_init(&b, r->arena);
    int rc = mn__render_nodelist(r, nl, &b);
    if (rc < 0)
        return rc;
    *out = mn_value_safe_ref(r->arena, b.data ? b.data : "", b.len);
    return *out ? MN_OK : MN_ENOMEM;
}

static int render_for(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_context *ctx = r->ctx;
    mn_value *parent = mn__context_lookup(ctx, (mn_str){mn__forloop_name, 7});
    mn_value *seq;
    int rc = mn__resolve(r, n->u.forloop.seq, true, &seq);
    if (rc < 0)
        return rc;
    mn_value *items = NULL;
    if (!mn_value_is_none(seq)) {
        rc = mn_value_iterate(seq, r->arena, &items);
        if (rc == MN_EINVAL)
            return mn__render_fail(r, MN_EINVAL, "'%s' object is not iterable",
                                   seq->kind == MN_VALUE_INT      ? "int"
                                   : seq->kind == MN_VALUE_DOUBLE ? "float"
                                   : seq->kind == MN_VALUE_BOOL   ? "bool"
                                   : seq->kind == MN_VALUE_OBJECT && seq->u.obj.cls &&
                                           seq->u.obj.cls->name
                                       ? seq->u.obj.cls->name
                                       : "value");
        if (rc < 0)
            return mn__render_fail(r, rc, "Iterating '%.*s' failed: %s",
                                   (int)n->u.forloop.seq->var.text.len,
                                   n->u.forloop.seq->var.text.ptr, mn_value_strerror(rc));
    }
    /* the {% empty %} body too runs in the loop's own frame, as Django's: what it sets
     * ({% firstof "a" as v %}) is gone after the loop */
    rc = mn_context_push(ctx);
    if (rc < 0)
        return rc;
    size_t len = items ? items->u.list.len : 0;
    if (!len) {
        rc = mn__render_nodelist(r, &n->u.forloop.empty, out);
        mn_context_pop(ctx);
        return rc;
    }
    /* Django 6's key order: parentloop and length first, then the per-iteration values */
    mn_value *loop = mn_value_dict(r->arena, 8);
    static const char *const keys[] = {"parentloop", "length",      "counter0", "counter",
                                       "revcounter", "revcounter0", "first",    "last"};
    if (!loop)
        return MN_ENOMEM;
    for (int k = 0; k < 8; k++)
        if (mn_value_dict_set(r->arena, loop, keys[k], strlen(keys[k]),
                              k == 0 && parent ? parent : NULL) < 0)
            return MN_ENOMEM;
    if (!parent) {
        mn_value *empty = mn_value_dict(r->arena, 0);
        if (!empty)
            return MN_ENOMEM;
        loop->u.dict.entries[0].value = empty;
    }
    /* one value for the whole loop: the length does not change between iterations */
    mn_value *length = mn_value_int(r->arena, (int64_t)len);
    if (!length)
        return MN_ENOMEM;
    loop->u.dict.entries[1].value = length;
    rc = mn__context_set_ref(ctx, (mn_str){mn__forloop_name, 7}, loop);
    int nvars = n->u.forloop.nvars;
    mn_str var0 = n->u.forloop.vars[0];
    int var_slot = -1;
    mn_value *ints_block = NULL, *vtrue = mn_value_true(), *vfalse = mn_value_false();
    size_t ints_left = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        if (++r->iterations > r->opt->max_loop_iterations) {
            rc = mn__render_fail(r, MN_ETOOBIG, "More than %lld loop iterations in one render",
                                 (long long)r->opt->max_loop_iterations);
            break;
        }
        size_t idx = n->u.forloop.reversed ? len - 1 - i : i;
        mn_value *item = items->u.list.items[idx];
        mn_value_dict_entry *e = loop->u.dict.entries;
        /* fresh values each time: a template may keep one ({% with c=forloop.counter %});
         * taken sixteen iterations' worth at a time */
        if (ints_left == 0) {
            size_t batch = len - i < 16 ? len - i : 16;
            ints_block = mn_arena_alloc(r->arena, 4 * batch * sizeof *ints_block);
            if (!ints_block) {
                rc = MN_ENOMEM;
                break;
            }
            ints_left = batch;
        }
        mn_value *ints = ints_block;
        ints_block += 4;
        ints_left--;
        const int64_t counts[4] = {(int64_t)i, (int64_t)i + 1, (int64_t)(len - i),
                                   (int64_t)(len - i - 1)};
        for (int k = 0; k < 4; k++) {
            ints[k].kind = MN_VALUE_INT;
            ints[k].safe = false;
            ints[k].u.i = counts[k];
            e[k + 2].value = &ints[k];
        }
        e[6].value = i == 0 ? vtrue : vfalse;
        e[7].value = i == len - 1 ? vtrue : vfalse;
        if (nvars == 1) {
            /* the loop's own frame: after the first set the name keeps its slot (the body
             * may add names to this frame, never remove one) */
            ctx_frame *fr = &ctx->frames[ctx->nframes - 1];
            if (var_slot >= 0 && var_slot < fr->n && fr->vars[var_slot].name.ptr == var0.ptr) {
                fr->vars[var_slot].value = item ? item : mn_value_none();
            } else {
                rc = mn__context_set_ref(ctx, var0, item);
                for (int k = fr->n - 1; k >= 0 && rc == 0; k--)
                    if (fr->vars[k].name.ptr == var0.ptr && fr->vars[k].name.len == var0.len) {
                        var_slot = k;
                        break;
                    }
            }
        } else {
            mn_value *parts = NULL;
            int64_t ilen = 1;
            if (item->kind == MN_VALUE_STRING || item->kind == MN_VALUE_LIST ||
                item->kind == MN_VALUE_DICT || item->kind == MN_VALUE_OBJECT) {
                if (mn_value_iterate(item, r->arena, &parts) == 0)
                    ilen = (int64_t)parts->u.list.len;
            }
            if (ilen != nvars) {
                rc = mn__render_fail(r, MN_EINVAL,
                                     "Need %d values to unpack in for loop; got "
                                     "%lld. ",
                                     nvars, (long long)ilen);
                break;
            }
            for (int k = 0; k < nvars && rc == 0; k++)
                rc = mn__context_set_ref(ctx, n->u.forloop.vars[k], parts->u.list.items[k]);
        }
        if (rc == 0)
            rc = mn__render_nodelist(r, &n->u.forloop.body, out);
    }
    mn_context_pop(ctx);
    return rc;
}

static int render_if(mn_template_state *r, const node *n, mn_buf *out)
{
    for (int i = 0; i < n->u.ifn.n; i++) {
        int t = 1;
        if (n->u.ifn.conds[i]) {
            int rc = mn__eval_cond(r, n->u.ifn.conds[i], &t);
            if (rc < 0)
                return rc;
        }
        if (t)
            return mn__render_nodelist(r, &n->u.ifn.bodies[i], out);
    }
    return MN_OK;
}

static int render_cycle(mn_template_state *r, const node *n, mn_buf *out)
{
    const node *c = n->u.cycle.target;
    void **slot = mn__state_slot(r, c);
    if (!slot)
        return MN_ENOMEM;
    intptr_t pos = (intptr_t)*slot;
    mn_template_expr *x = c->u.cycle.values[pos % c->u.cycle.nvalues];
    *slot = (void *)((pos + 1) % c->u.cycle.nvalues);
    if (!c->u.cycle.as_name.len && !c->u.cycle.silent && x->var.literal && !x->nfilters &&
        x->var.literal->kind == MN_VALUE_STRING) /* {% cycle 'odd' 'even' %} */
        return write_text(r, x->var.literal->u.str, x->var.literal->safe, out);
    mn_value *v;
    int rc = mn__resolve(r, x, false, &v);
    if (rc < 0)
        return rc;
    if (c->u.cycle.as_name.len) {
        rc = set_upward(r->ctx, c->u.cycle.as_name, v);
        if (rc < 0)
            return rc;
    }
    if (c->u.cycle.silent)
        return MN_OK;
    return mn_template_write_value(r, v, out);
}

/* The value that {{ block }} names: block.super renders the parent's version. */
typedef struct block_ref {
    mn_template_state *r;
    const node *block;
} block_ref;

static int render_block(mn_template_state *r, const node *n, mn_buf *out);

static int block_get(void *self, mn_str name, mn_arena *a, mn_value **out)
{
    block_ref *b = self;
    if (mn_str_eq_cstr(name, "super")) {
        mn_template_state *r = b->r;
        block_stack *st = NULL;
        for (int i = 0; i < r->nblocks; i++)
            if (mn_str_eq(r->blocks[i].name, b->block->u.block.name))
                st = &r->blocks[i];
        if (!st || st->n == 0) {
            *out = mn_value_empty_string();
            return MN_OK;
        }
        mn_buf buf;
        mn_buf_init(&buf, a);
        int rc = render_block(r, b->block, &buf);
        if (rc < 0)
            return rc;
        *out = mn_value_safe_ref(a, buf.data ? buf.data : "", buf.len);
        return *out ? MN_OK : MN_ENOMEM;
    }
    if (mn_str_eq_cstr(name, "name")) {
        *out = mn_value_str_ref(a, b->block->u.block.name.ptr, b->block->u.block.name.len);
        return *out ? MN_OK : MN_ENOMEM;
    }
    return MN_ENOTFOUND;
}

static int block_to_string(void *self, mn_arena *a, mn_buf *out)
{
    (void)a;
    block_ref *b = self;
    return mn_buf_printf(out, "<Block Node: %.*s. Contents: %d nodes>",
                         (int)b->block->u.block.name.len, b->block->u.block.name.ptr,
                         b->block->u.block.body.n);
}

static const mn_value_class block_class = {
    .name = "BlockNode", .get = block_get, .to_string = block_to_string};

static int render_block(mn_template_state *r, const node *n, mn_buf *out)
{
    block_stack *st = NULL;
    for (int i = 0; i < r->nblocks; i++)
        if (mn_str_eq(r->blocks[i].name, n->u.block.name))
            st = &r->blocks[i];
    const node *use = n, *popped = NULL;
    if (r->nblocks || r->blocks) {
        if (st && st->n > 0)
            popped = st->blocks[--st->n];
        if (popped)
            use = popped;
    }
    int rc = mn_context_push(r->ctx);
    if (rc < 0)
        return rc;
    block_ref *ref = mn_arena_alloc(r->arena, sizeof *ref);
    mn_value *bv = ref ? mn_value_object(r->arena, &block_class, ref) : NULL;
    if (!bv) {
        mn_context_pop(r->ctx);
        return MN_ENOMEM;
    }
    ref->r = r;
    ref->block = use;
    rc = mn__context_set_ref(r->ctx, (mn_str){"block", 5}, bv);
    if (rc == 0)
        rc = mn__render_nodelist(r, &use->u.block.body, out);
    mn_context_pop(r->ctx);
    if (popped)
        st->blocks[st->n++] = (node *)popped;
    return rc;
}

static int add_blocks(mn_template_state *r, const mn_template *t)
{
    for (int i = 0; i < t->nblocks; i++) {
        block_stack *st = NULL;
        for (int k = 0; k < r->nblocks; k++)
            if (mn_str_eq(r->blocks[k].name, t->blocks[i].name))
                st = &r->blocks[k];
        if (!st) {
            if (r->nblocks == r->cap_blocks) {
                int cap = r->cap_blocks ? r->cap_blocks * 2 : 8;
                block_stack *g =
                    mn_arena_realloc(r->arena, r->blocks, (size_t)r->cap_blocks * sizeof *g,
                                     (size_t)cap * sizeof *g);
                if (!g)
                    return MN_ENOMEM;
                r->blocks = g;
                r->cap_blocks = cap;
            }
            st = &r->blocks[r->nblocks++];
            memset(st, 0, sizeof *st);
            st->name = t->blocks[i].name;
        }
        if (st->n == st->cap) {
            int cap = st->cap ? st->cap * 2 : 4;
            node **g = mn_arena_realloc(r->arena, st->blocks, (size_t)st->cap * sizeof *g,
                                        (size_t)cap * sizeof *g);
            if (!g)
                return MN_ENOMEM;
            st->blocks = g;
            st->cap = cap;
        }
        memmove(st->blocks + 1, st->blocks, (size_t)st->n * sizeof *st->blocks);
        st->blocks[0] = t->blocks[i].n;
        st->n++;
    }
    return MN_OK;
}

/* Loads the template called name: MN_ENOTFOUND, with nothing reported, when no loader has
 * it; any other failure (a syntax error inside it) becomes the render's error. */
static int load_by_name(mn_template_state *r, const char *name, size_t len, const mn_template **out)
{
    mn_template_error lerr;
    memset(&lerr, 0, sizeof lerr);
    mn_template *t = mn__engine_load(r->engine, name, len, &lerr);
    if (t) {
        *out = t;
        return MN_OK;
    }
    if (lerr.code == MN_ENOTFOUND)
        return MN_ENOTFOUND;
    if (r->err)
        *r->err = lerr;
    return lerr.code ? lerr.code : MN_EINVAL;
}

/* The template an {% extends %} or {% include %} names: the tag's expression resolved to a
 * name, or to a list of names tried in turn (select_template). */
static int load_named_template(mn_template_state *r, const mn_template_expr *x, const char *what,
                               const mn_template **out)
{
    mn_value *name;
    int rc = mn__resolve(r, x, false, &name);
    if (rc < 0)
        return rc;
    /* ExtendsNode refuses an empty name before any loader sees it */
    if (name->kind == MN_VALUE_STRING && name->u.str.len == 0 && strcmp(what, "extends") == 0)
        return mn__render_fail(r, MN_EINVAL,
                               "Invalid template name in 'extends' tag: ''. Got "
                               "this from the '%.*s' variable.",
                               (int)x->var.text.len, x->var.text.ptr);
    mn_value *names = NULL;
    if (name->kind == MN_VALUE_LIST)
        names = name;
    if (name->kind != MN_VALUE_STRING && !names)
        return mn__render_fail(r, MN_EINVAL, "Invalid template name in '%s' tag: not a string",
                               what);
    size_t count = names ? names->u.list.len : 1;
    if (!count)
        return mn__render_fail(r, MN_ENOTFOUND, "No template names provided");
    for (size_t i = 0; i < count; i++) {
        mn_value *nv = names ? names->u.list.items[i] : name;
        if (nv->kind != MN_VALUE_STRING)
            continue;
        rc = load_by_name(r, nv->u.str.ptr, nv->u.str.len, out);
        if (rc != MN_ENOTFOUND)
            return rc;
    }
    mn_value *first = names ? names->u.list.items[0] : name;
    mn_str s = mn_value_string(first);
    return mn__render_fail(r, MN_ENOTFOUND, "TemplateDoesNotExist: %.*s", (int)s.len, s.ptr);
}

static int enter(mn_template_state *r)
{
    if (++r->depth > r->opt->max_depth) {
        r->depth--;
        return mn__render_fail(r, MN_ETOOBIG,
                               "Maximum template nesting depth (%d) exceeded: an include or "
                               "extends loop?",
                               r->opt->max_depth);
    }
    return MN_OK;
}

/* Renders template t one nesting level deeper, as the template errors are labelled in. */
static int render_nested(mn_template_state *r, const mn_template *t, mn_buf *out)
{
    int rc = enter(r);
    if (rc < 0)
        return rc;
    const mn_template *saved = r->tpl;
    r->tpl = t;
    rc = mn__render_nodelist(r, &t->root, out);
    r->tpl = saved;
    r->depth--;
    return rc;
}

static int render_extends(mn_template_state *r, const node *n, mn_buf *out)
{
    const mn_template *parent;
    int rc = load_named_template(r, n->u.extends.parent, "extends", &parent);
    if (rc < 0)
        return rc;
    if (parent == n->tpl)
        return mn__render_fail(r, MN_EINVAL, "Template '%s' extends itself", n->tpl->name);
    if (!r->blocks) {
        r->blocks = mn_arena_calloc(r->arena, 8, sizeof *r->blocks);
        if (!r->blocks)
            return MN_ENOMEM;
        r->cap_blocks = 8;
    }
    rc = add_blocks(r, n->tpl);
    if (rc == 0 && !parent->extends)
        rc = add_blocks(r, parent);
    if (rc < 0)
        return rc;
    return render_nested(r, parent, out);
}

/* Renders t as Template.render does for {% include %}: a fresh render context (cycle
 * states and blocks), the same variables. */
int mn__render_template_in(mn_template_state *r, const mn_template *t, mn_buf *out)
{
    block_stack *blocks = r->blocks;
    int nblocks = r->nblocks, cap_blocks = r->cap_blocks;
    state_slot *slots = r->slots;
    size_t nslots = r->nslots, cap_slots = r->cap_slots;
    r->blocks = NULL, r->nblocks = 0, r->cap_blocks = 0;
    r->slots = NULL, r->nslots = 0, r->cap_slots = 0;
    int rc = render_nested(r, t, out);
    r->blocks = blocks, r->nblocks = nblocks, r->cap_blocks = cap_blocks;
    r->slots = slots, r->nslots = nslots, r->cap_slots = cap_slots;
    return rc;
}

static int render_include(mn_template_state *r, const node *n, mn_buf *out)
{
    const mn_template *t;
    int rc = load_named_template(r, n->u.include.name, "include", &t);
    if (rc < 0)
        return rc;
    mn_value **vals = NULL;
    if (n->u.include.nextra) {
        vals = mn_arena_alloc(r->arena, (size_t)n->u.include.nextra * sizeof *vals);
        if (!vals)
            return MN_ENOMEM;
        for (int i = 0; i < n->u.include.nextra; i++) {
            rc = mn__resolve(r, n->u.include.extra[i].value, false, &vals[i]);
            if (rc < 0)
                return rc;
        }
    }
    mn_context *saved = r->ctx;
    if (n->u.include.only) {
        r->ctx = mn__context_new_like(saved);
        if (!r->ctx) {
            r->ctx = saved;
            return MN_ENOMEM;
        }
    } else if ((rc = mn_context_push(r->ctx)) < 0) {
        return rc;
    }
    for (int i = 0; i < n->u.include.nextra && rc == 0; i++)
        rc = mn__context_set_ref(r->ctx, n->u.include.extra[i].name, vals[i]);
    if (rc == 0)
        rc = mn__render_template_in(r, t, out);
    if (n->u.include.only)
        r->ctx = saved;
    else
        mn_context_pop(r->ctx);
    return rc;
}

static int render_ifchanged(mn_template_state *r, const node *n, mn_buf *out)
{
    typedef struct {
        mn_value *loop;
        mn_value *last;
    } memo;
    void **slot = mn__state_slot(r, n);
    if (!slot)
        return MN_ENOMEM;
    memo *m = *slot;
    if (!m) {
        m = mn_arena_calloc(r->arena, 1, sizeof *m);
        if (!m)
            return MN_ENOMEM;
        *slot = m;
    }
    mn_value *loop = mn__context_lookup(r->ctx, (mn_str){mn__forloop_name, 7});
    if (m->loop != loop) {
        m->loop = loop;
        m->last = NULL;
    }
    mn_value *compare;
    mn_value *rendered = NULL;
    int rc;
    if (n->u.ifchanged.nvalues) {
        compare = mn_value_list(r->arena, (size_t)n->u.ifchanged.nvalues);
        if (!compare)
            return MN_ENOMEM;
        for (int i = 0; i < n->u.ifchanged.nvalues; i++) {
            mn_value *v;
            rc = mn__resolve(r, n->u.ifchanged.values[i], true, &v);
            if (rc < 0)
                return rc;
            if (mn_value_list_append(r->arena, compare, v) < 0)
                return MN_ENOMEM;
        }
    } else {
        rc = render_to_value(r, &n->u.ifchanged.body, &rendered);
        if (rc < 0)
            return rc;
        compare = rendered;
    }
    if (!m->last || !mn_value_equal(compare, m->last)) {
        m->last = compare;
        if (rendered && rendered->u.str.len)
            return mn_buf_put_str(out, rendered->u.str);
        return mn__render_nodelist(r, &n->u.ifchanged.body, out);
    }
    return mn__render_nodelist(r, &n->u.ifchanged.other, out);
}

/* regroup's GroupedResult(grouper, list): attributes, and unpacks as a pair. */
static int group_get(void *self, mn_str name, mn_arena *a, mn_value **out)
{
    (void)a;
    mn_value *pair = self;
    if (mn_str_eq_cstr(name, "grouper") || mn_str_eq_cstr(name, "0"))
        *out = pair->u.list.items[0];
    else if (mn_str_eq_cstr(name, "list") || mn_str_eq_cstr(name, "1"))
        *out = pair->u.list.items[1];
    else
        return MN_ENOTFOUND;
    return MN_OK;
}

static int group_iterate(void *self, mn_arena *a, mn_value **out)
{
    (void)a;
    *out = self;
    return MN_OK;
}

static int group_to_string(void *self, mn_arena *a, mn_buf *out)
{
    mn_value *pair = self;
    int rc = mn_buf_puts(out, "GroupedResult(grouper=");
    rc |= mn_value_write_repr(pair->u.list.items[0], a, out);
    rc |= mn_buf_puts(out, ", list=");
    rc |= mn_value_write_repr(pair->u.list.items[1], a, out);
    rc |= mn_buf_putc(out, ')');
    return rc ? MN_ENOMEM : MN_OK;
}

static bool group_equal(void *x, void *y)
{
    return mn_value_equal(x, y);
}

static const mn_value_class group_class = {.name = "GroupedResult",
                                           .get = group_get,
                                           .iterate = group_iterate,
                                           .to_string = group_to_string,
                                           .equal = group_equal};

static int render_regroup(mn_template_state *r, const node *n)
{
    mn_value *target;
    int rc = mn__resolve(r, n->u.regroup.target, true, &target);
    if (rc < 0)
        return rc;
    mn_value *groups = mn_value_list(r->arena, 0);
    if (!groups)
        return MN_ENOMEM;
    if (mn_value_is_none(target))
        return mn__context_set_ref(r->ctx, n->u.regroup.as_name, groups);
    mn_value *items;
    rc = mn_value_iterate(target, r->arena, &items);
    if (rc < 0)
        return mn__render_fail(r, rc, "regroup: '%.*s' is not iterable",
                               (int)n->u.regroup.target->var.text.len,
                               n->u.regroup.target->var.text.ptr);
    mn_value *cur_list = NULL, *cur_key = NULL;
    for (size_t i = 0; i < items->u.list.len; i++) {
        mn_value *item = items->u.list.items[i];
        rc = mn__context_set_ref(r->ctx, n->u.regroup.as_name, item);
        mn_value *key;
        if (rc == 0)
            rc = mn__resolve(r, n->u.regroup.by, true, &key);
        if (rc < 0)
            return rc;
        if (!cur_list || !mn_value_equal(key, cur_key)) {
            mn_value *pair = mn_value_list(r->arena, 2);
            cur_list = mn_value_list(r->arena, 4);
            if (!pair || !cur_list || mn_value_list_append(r->arena, pair, key) < 0 ||
                mn_value_list_append(r->arena, pair, cur_list) < 0)
                return MN_ENOMEM;
            mn_value *g = mn_value_object(r->arena, &group_class, pair);
            if (!g || mn_value_list_append(r->arena, groups, g) < 0)
                return MN_ENOMEM;
            cur_key = key;
        }
        if (mn_value_list_append(r->arena, cur_list, item) < 0)
            return MN_ENOMEM;
    }
    return mn__context_set_ref(r->ctx, n->u.regroup.as_name, groups);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int render_spaceless(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_buf b;
    mn_buf_init(&b, r->arena);
    int rc = mn__render_nodelist(r, &n->u.spaceless.body, &b);
    if (rc < 0)
        return rc;
    size_t s = 0, e = b.len;
    while (s < e && is_space(b.data[s]))
        s++;
    while (e > s && is_space(b.data[e - 1]))
        e--;
    for (size_t i = s; i < e; i++) {
        if (b.data[i] == '>') {
            size_t j = i + 1;
            while (j < e && is_space(b.data[j]))
                j++;
            if (j > i + 1 && j < e && b.data[j] == '<') {
                if (mn_buf_putc(out, '>') < 0)
                    return MN_ENOMEM;
                i = j - 1;
                continue;
            }
        }
        if (mn_buf_putc(out, b.data[i]) < 0)
            return MN_ENOMEM;
    }
    return MN_OK;
}

static int render_filter(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *body;
    int rc = render_to_value(r, &n->u.filter.body, &body);
    if (rc < 0)
        return rc;
    if ((rc = mn_context_push(r->ctx)) < 0)
        return rc;
    rc = mn__context_set_ref(r->ctx, (mn_str){"var", 3}, body);
    mn_value *v = NULL;
    if (rc == 0)
        rc = mn__resolve(r, n->u.filter.filter, false, &v);
    mn_context_pop(r->ctx);
    if (rc < 0)
        return rc;
    mn_str text;
    rc = mn_value_to_text(v, r->arena, &text);
    return rc < 0 ? rc : mn_buf_put_str(out, text);
}

static int render_firstof(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *first = NULL;
    for (int i = 0; i < n->u.firstof.nvalues; i++) {
        mn_value *v;
        int rc = mn__resolve(r, n->u.firstof.values[i], true, &v);
        if (rc < 0)
            return rc;
        int t = mn_value_truth(v, r->arena);
        if (t < 0)
            return mn__render_fail(r, t, "firstof: evaluating a value failed");
        if (t) {
            first = v;
            break;
        }
    }
    if (n->u.firstof.as_name.len) {
        mn_value *s = mn_value_empty_string();
        if (first) {
            int rc = value_to_output(r, first, &s);
            if (rc < 0)
                return rc;
        }
        return mn__context_set_ref(r->ctx, n->u.firstof.as_name, s);
    }
    return first ? mn_template_write_value(r, first, out) : MN_OK;
}

static int render_with(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value **vals = mn_arena_alloc(r->arena, (size_t)n->u.with.nvars * sizeof *vals);
    if (!vals)
        return MN_ENOMEM;
    for (int i = 0; i < n->u.with.nvars; i++) {
        int rc = mn__resolve(r, n->u.with.vars[i].value, false, &vals[i]);
        if (rc < 0)
            return rc;
    }
    int rc = mn_context_push(r->ctx);
    for (int i = 0; i < n->u.with.nvars && rc == 0; i++)
        rc = mn__context_set_ref(r->ctx, n->u.with.vars[i].name, vals[i]);
    if (rc == 0)
        rc = mn__render_nodelist(r, &n->u.with.body, out);
    mn_context_pop(r->ctx);
    return rc;
}

static int render_widthratio(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *val, *max, *width;
    int rc = mn__resolve(r, n->u.widthratio.value, false, &val);
    if (rc == 0)
        rc = mn__resolve(r, n->u.widthratio.max, false, &max);
    if (rc == 0)
        rc = mn__resolve(r, n->u.widthratio.width, false, &width);
    if (rc < 0)
        return rc;
    int64_t w;
    if (mn_value_to_int(width, &w) < 0)
        return mn__render_fail(r, MN_EINVAL, "widthratio final argument must be a number");
    double v, m;
    char res[64] = "";
    if (mn_value_to_double(val, &v) == 0 && mn_value_to_double(max, &m) == 0) {
        if (m == 0) {
            snprintf(res, sizeof res, "0");
        } else {
            double ratio = v / m * (double)w;
            if (isfinite(ratio))
                snprintf(res, sizeof res, "%.0f", nearbyint(ratio));
        }
    }
    if (n->u.widthratio.as_name.len) {
        mn_value *s = mn_value_str(r->arena, res, strlen(res));
        return s ? mn__context_set_ref(r->ctx, n->u.widthratio.as_name, s) : MN_ENOMEM;
    }
    return mn_buf_puts(out, res);
}

static int resolve_list(mn_template_state *r, mn_template_expr **x, int n, mn_value ***out)
{
    mn_value **v = mn_arena_alloc(r->arena, (size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return MN_ENOMEM;
    for (int i = 0; i < n; i++) {
        int rc = mn__resolve(r, x[i], false, &v[i]);
        if (rc < 0)
            return rc;
    }
    *out = v;
    return MN_OK;
}

/* A tag's keyword arguments: their names and resolved values, as two arrays (never NULL,
 * even for none) for the url and simple-tag callbacks. */
static int resolve_kwargs(mn_template_state *r, const kwarg *kw, int nk, mn_str **names,
                          mn_value ***vals)
{
    *names = mn_arena_alloc(r->arena, (size_t)(nk ? nk : 1) * sizeof **names);
    *vals = mn_arena_alloc(r->arena, (size_t)(nk ? nk : 1) * sizeof **vals);
    if (!*names || !*vals)
        return MN_ENOMEM;
    for (int i = 0; i < nk; i++) {
        (*names)[i] = kw[i].name;
        int rc = mn__resolve(r, kw[i].value, false, &(*vals)[i]);
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

static int render_url(mn_template_state *r, const node *n, mn_buf *out)
{
    /* NULL-initialised: gcc -O2 cannot see that resolve_list sets args on success. */
    mn_value *view = NULL, **args = NULL, **kwvals;
    int rc = mn__resolve(r, n->u.url.view, false, &view);
    if (rc == 0)
        rc = resolve_list(r, n->u.url.args, n->u.url.nargs, &args);
    if (rc < 0)
        return rc;
    int nk = n->u.url.nkwargs;
    mn_str *names;
    rc = resolve_kwargs(r, n->u.url.kwargs, nk, &names, &kwvals);
    if (rc < 0)
        return rc;
    mn_str vname;
    rc = mn_value_to_text(view, r->arena, &vname);
    if (rc < 0)
        return rc;
    char *cname = mn_arena_strndup(r->arena, vname.ptr, vname.len);
    if (!cname)
        return MN_ENOMEM;
    mn_buf url;
    mn_buf_init(&url, r->arena);
    if (!r->engine->reverse)
        rc = MN_ENOTFOUND;
    else
        rc = r->engine->reverse(r->engine->reverse_userdata, cname, (size_t)n->u.url.nargs, args,
                                (size_t)nk, names, kwvals, &url);
    if (n->u.url.as_name.len) {
        mn_value *s = rc == 0 ? mn_value_str_ref(r->arena, url.data ? url.data : "", url.len)
                              : mn_value_empty_string();
        if (!s)
            return MN_ENOMEM;
        if (rc < 0 && rc != MN_ENOTFOUND)
            return mn__render_fail(r, rc, "url '%s': %s", cname, mn_strerror(rc));
        return mn__context_set_ref(r->ctx, n->u.url.as_name, s);
    }
    if (rc == MN_ENOTFOUND)
        return mn__render_fail(r, MN_ENOTFOUND,
                               "NoReverseMatch: Reverse for '%s' not found. '%s' is not a valid "
                               "view function or pattern name.",
                               cname, cname);
    if (rc < 0)
        return mn__render_fail(r, rc, "url '%s': %s", cname, mn_strerror(rc));
    return write_text(r, (mn_str){url.data ? url.data : "", url.len}, false, out);
}

static int render_now(mn_template_state *r, const node *n, mn_buf *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    mn_datetime dt;
    memset(&dt, 0, sizeof dt);
    mn__datetime_from_epoch((int64_t)ts.tv_sec + r->opt->time_zone_offset,
                            (int32_t)(ts.tv_nsec / 1000), &dt);
    dt.aware = true;
    dt.utc_offset = r->opt->time_zone_offset;
    dt.tzname = r->opt->time_zone_name;
    mn_value *now = mn_value_datetime(r->arena, &dt);
    mn_value *fmt = mn_value_str_ref(r->arena, n->u.now.format.ptr, n->u.now.format.len);
    if (!now || !fmt)
        return MN_ENOMEM;
    const filter_def *f = builtin_filter(r, "date");
    mn_value *res = NULL;
    if (f) {
        mn_filter_call call = {r->arena, r->autoescape, true, r, r->opt};
        res = f->fn(&call, now, fmt);
    }
    mn_str text;
    if (res && res->kind == MN_VALUE_STRING) {
        text = res->u.str;
    } else {
        int rc = mn_value_to_text(now, r->arena, &text);
        if (rc < 0)
            return rc;
    }
    if (n->u.now.as_name.len) {
        mn_value *s = mn_value_str_ref(r->arena, text.ptr, text.len);
        return s ? mn__context_set_ref(r->ctx, n->u.now.as_name, s) : MN_ENOMEM;
    }
    return mn_buf_put_str(out, text);
}

static int render_csrf(mn_template_state *r, mn_buf *out)
{
    mn_value *tok = mn__context_lookup(r->ctx, (mn_str){"csrf_token", 10});
    if (!tok || mn_value_truth(tok, r->arena) <= 0)
        return MN_OK;
    mn_str text;
    int rc = mn_value_to_text(tok, r->arena, &text);
    if (rc < 0)
        return rc;
    if (mn_str_eq_cstr(text, "NOTPROVIDED"))
        return MN_OK;
    rc = mn_buf_puts(out, "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"");
    if (rc == 0)
        rc = mn_template_escape(out, text.ptr, text.len);
    return rc ? rc : mn_buf_puts(out, "\">");
}

/* urllib.parse.quote_plus */
static int quote_plus(mn_buf *out, mn_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        int rc;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-' || c == '~')
            rc = mn_buf_putc(out, (char)c);
        else if (c == ' ')
            rc = mn_buf_putc(out, '+');
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = mn_buf_append(out, e, 3);
        }
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

/* The values an iterable (not a string) sets for one key, None items dropped, as Django 6's
 * querystring does; an empty result leaves the key without values. */
static int qs_values(mn_template_state *r, mn_value **v)
{
    mn_value *items;
    int rc = mn_value_iterate(*v, r->arena, &items);
    if (rc < 0)
        return rc;
    mn_value *kept = mn_value_list(r->arena, items->u.list.len);
    if (!kept)
        return MN_ENOMEM;
    for (size_t i = 0; i < items->u.list.len; i++)
        if (items->u.list.items[i] && !mn_value_is_none(items->u.list.items[i]) &&
            mn_value_list_append(r->arena, kept, items->u.list.items[i]) < 0)
            return MN_ENOMEM;
    *v = kept;
    return MN_OK;
}

static int qs_set(mn_template_state *r, mn_value *params, mn_str key, mn_value *v)
{
    /* None removes the key; an iterable sets each of its values; anything else one value */
    if (v->kind == MN_VALUE_LIST || v->kind == MN_VALUE_DICT) {
        int rc = qs_values(r, &v);
        if (rc < 0)
            return rc;
    }
    mn_value *nd = mn_value_dict(r->arena, params->u.dict.len + 1);
    if (!nd)
        return MN_ENOMEM;
    for (size_t i = 0; i < params->u.dict.len; i++)
        if (!mn_str_eq(params->u.dict.entries[i].key, key))
            mn_value_dict_set(r->arena, nd, params->u.dict.entries[i].key.ptr,
                              params->u.dict.entries[i].key.len, params->u.dict.entries[i].value);
    bool existed = mn_value_dict_get(params, key.ptr, key.len) != NULL;
    if (!mn_value_is_none(v)) {
        if (existed) {
            /* keep the key's position, as QueryDict assignment does */
            for (size_t i = 0; i < params->u.dict.len; i++)
                if (mn_str_eq(params->u.dict.entries[i].key, key))
                    params->u.dict.entries[i].value = v;
            return MN_OK;
        }
        if (mn_value_dict_set(r->arena, params, key.ptr, key.len, v) < 0)
            return MN_ENOMEM;
        return MN_OK;
    }
    *params = *nd;
    return MN_OK;
}

static int qs_merge(mn_template_state *r, mn_value *params, mn_value *d)
{
    if (!d || d->kind != MN_VALUE_DICT)
        return mn__render_fail(r, MN_EINVAL,
                               "querystring requires mappings for positional "
                               "arguments");
    for (size_t i = 0; i < d->u.dict.len; i++) {
        int rc = qs_set(r, params, d->u.dict.entries[i].key, d->u.dict.entries[i].value);
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

static int render_querystring(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *params = mn_value_dict(r->arena, 8);
    if (!params)
        return MN_ENOMEM;
    bool positional = false;
    for (int i = 0; i < n->u.querystring.nkwargs; i++)
        if (!n->u.querystring.kwargs[i].name.len)
            positional = true;
    int rc;
    if (!positional) {
        mn_value *req = mn__context_lookup(r->ctx, (mn_str){"request", 7}), *get = NULL;
        if (req && mn_value_lookup(req, (mn_str){"GET", 3}, r->arena, &get) == 0 && get &&
            get->kind == MN_VALUE_DICT && (rc = qs_merge(r, params, get)) < 0)
            return rc;
    }
    for (int i = 0; i < n->u.querystring.nkwargs; i++) {
        const kwarg *kw = &n->u.querystring.kwargs[i];
        mn_value *v;
        rc = mn__resolve(r, kw->value, false, &v);
        if (rc < 0)
            return rc;
        rc = kw->name.len ? qs_set(r, params, kw->name, v) : qs_merge(r, params, v);
        if (rc < 0)
            return rc;
    }
    mn_buf q;
    mn_buf_init(&q, r->arena);
    rc = mn_buf_putc(&q, '?');
    bool first = true;
    for (size_t i = 0; i < params->u.dict.len && rc == 0; i++) {
        mn_value *v = params->u.dict.entries[i].value;
        size_t count = v->kind == MN_VALUE_LIST ? v->u.list.len : 1;
        for (size_t k = 0; k < count && rc == 0; k++) {
            mn_value *item = v->kind == MN_VALUE_LIST ? v->u.list.items[k] : v;
            mn_str text;
            rc = mn_value_to_text(item, r->arena, &text);
            if (rc < 0)
                break;
            if (!first)
                mn_buf_putc(&q, '&');
            first = false;
            quote_plus(&q, params->u.dict.entries[i].key);
            mn_buf_putc(&q, '=');
            rc = quote_plus(&q, text);
        }
    }
    if (rc < 0)
        return rc;
    if (n->u.querystring.as_name.len) {
        mn_value *s = mn_value_str_ref(r->arena, q.data, q.len);
        return s ? mn__context_set_ref(r->ctx, n->u.querystring.as_name, s) : MN_ENOMEM;
    }
    return write_text(r, (mn_str){q.data, q.len}, false, out);
}

static int tag_call_args(mn_template_state *r, const node *n, mn_tag_call *call)
{
    mn_value **args, **kwvals;
    int rc = resolve_list(r, n->u.simple.args, n->u.simple.nargs, &args);
    if (rc < 0)
        return rc;
    int nk = n->u.simple.nkwargs;
    mn_str *names;
    rc = resolve_kwargs(r, n->u.simple.kwargs, nk, &names, &kwvals);
    if (rc < 0)
        return rc;
    *call = (mn_tag_call){r->arena,
                          r->ctx,
                          r->autoescape,
                          n->u.simple.def->userdata,
                          r,
                          (size_t)n->u.simple.nargs,
                          args,
                          (size_t)nk,
                          names,
                          kwvals};
    return MN_OK;
}

/* Runs a simple or inclusion tag's callback: its value (for an inclusion tag, the dict of
 * its template's context), or the tag's failure as the render's error. */
static int call_tag(mn_template_state *r, const node *n, mn_value **out)
{
    mn_tag_call call;
    int rc = tag_call_args(r, n, &call);
    if (rc < 0)
        return rc;
    r->filter_error[0] = 0;
    const tag_def *def = n->u.simple.def;
    *out = def->kind == TAG_SIMPLE ? def->simple(&call) : def->inclusion(&call);
    if (!*out)
        return mn__render_fail(r, MN_EINVAL, "Tag '%s' failed: %s", def->name,
                               r->filter_error[0] ? r->filter_error : "error");
    return MN_OK;
}

static int render_simple(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *v;
    int rc = call_tag(r, n, &v);
    if (rc < 0)
        return rc;
    if (n->u.simple.as_name.len)
        return mn__context_set_ref(r->ctx, n->u.simple.as_name, v);
    mn_str text;
    rc = mn_value_to_text(v, r->arena, &text);
    if (rc < 0)
        return rc;
    return write_text(r, text, mn_value_is_safe(v), out);
}

static int render_inclusion(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *d;
    int rc = call_tag(r, n, &d);
    if (rc < 0)
        return rc;
    const char *tn = n->u.simple.def->template_name;
    const mn_template *t;
    rc = load_by_name(r, tn, strlen(tn), &t);
    if (rc == MN_ENOTFOUND)
        return mn__render_fail(r, MN_ENOTFOUND, "TemplateDoesNotExist: %s", tn);
    if (rc < 0)
        return rc;
    mn_context *saved = r->ctx;
    mn_context *nc = mn__context_new_like(saved);
    if (!nc)
        return MN_ENOMEM;
    if (d->kind == MN_VALUE_DICT && (rc = mn_context_update(nc, d)) < 0)
        return rc;
    mn_value *csrf = mn__context_lookup(saved, (mn_str){"csrf_token", 10});
    if (csrf && (rc = mn__context_set_ref(nc, (mn_str){"csrf_token", 10}, csrf)) < 0)
        return rc;
    r->ctx = nc;
    rc = mn__render_template_in(r, t, out);
    r->ctx = saved;
    return rc;
}

static int render_lorem(mn_template_state *r, const node *n, mn_buf *out)
{
    mn_value *cv;
    int rc = mn__resolve(r, n->u.lorem.count, false, &cv);
    if (rc < 0)
        return rc;
    int64_t count;
    if (mn_value_to_int(cv, &count) < 0)
        count = 1;
    size_t before = out->len;
    rc = mn__lorem(out, count, n->u.lorem.method, n->u.lorem.random);
    (void)before;
    return rc < 0 ? rc : check_output(r, out);
}

/* The node being rendered, for mn_template_current(), and the task (coroutine) rendering
 * it. A worker's renders interleave on one thread when they park on a query, so the node is
 * only believed by the task that set it: after another render ran in between, the answer is
 * "unknown" rather than the other request's template. Each node restores the outer pair. */
typedef struct rendering_at {
    const node *node;
    const void *task;
} rendering_at;
static _Thread_local rendering_at rendering;
typedef const void *(*task_fn_t)(void);
static _Atomic task_fn_t task_fn;

void mn_template_set_task_fn(const void *(*fn)(void))
{
    atomic_store_explicit(&task_fn, fn, memory_order_relaxed);
}

static const void *current_task(void)
{
    task_fn_t fn = atomic_load_explicit(&task_fn, memory_order_relaxed);
    return fn ? fn() : NULL;
}

const char *mn_template_current(int *line)
{
    const node *n = rendering.task == current_task() ? rendering.node : NULL;
    if (line)
        *line = n && n->tpl ? n->line : 0;
    return n && n->tpl ? n->tpl->name : NULL;
}

static int render_node(mn_template_state *r, const node *n, mn_buf *out)
{
    const node *saved = r->cur;
    rendering_at outer = rendering;
    r->cur = n;
    rendering = (rendering_at){n, current_task()};
    int rc = MN_OK;
    switch (n->type) {
    case N_TEXT: rc = mn__put(out, n->u.text.ptr, n->u.text.len); break;
    case N_VAR: rc = render_var(r, n, out); break;
    case N_AUTOESCAPE: {
        bool was = r->autoescape;
        r->autoescape = n->u.autoescape.on;
        rc = mn__render_nodelist(r, &n->u.autoescape.body, out);
        r->autoescape = was;
        break;
    }
    case N_BLOCK:
        if ((rc = enter(r)) == 0) {
            rc = render_block(r, n, out);
            r->depth--;
        }
        break;
    case N_COMMENT: break;
    case N_CSRF: rc = render_csrf(r, out); break;
    case N_CYCLE: rc = render_cycle(r, n, out); break;
    case N_DEBUG: rc = mn__render_debug(r, out); break;
    case N_EXTENDS: rc = render_extends(r, n, out); break;
    case N_FILTER: rc = render_filter(r, n, out); break;
    case N_FIRSTOF: rc = render_firstof(r, n, out); break;
    case N_FOR: rc = render_for(r, n, out); break;
    case N_IF: rc = render_if(r, n, out); break;
    case N_IFCHANGED: rc = render_ifchanged(r, n, out); break;
    case N_INCLUDE: rc = render_include(r, n, out); break;
    case N_LOREM: rc = render_lorem(r, n, out); break;
    case N_NOW: rc = render_now(r, n, out); break;
    case N_REGROUP: rc = render_regroup(r, n); break;
    case N_RESETCYCLE: {
        void **slot = mn__state_slot(r, n->u.resetcycle.target);
        if (!slot)
            rc = MN_ENOMEM;
        else
            *slot = NULL;
        break;
    }
    case N_SPACELESS: rc = render_spaceless(r, n, out); break;
    case N_URL: rc = render_url(r, n, out); break;
    case N_WIDTHRATIO: rc = render_widthratio(r, n, out); break;
    case N_WITH: rc = render_with(r, n, out); break;
    case N_QUERYSTRING: rc = render_querystring(r, n, out); break;
    case N_PARTIALDEF:
        if (n->u.partialdef.is_inline)
            rc = mn__render_nodelist(r, &n->u.partialdef.body, out);
        break;
    case N_PARTIAL:
        if ((rc = enter(r)) == 0) {
            rc = mn__render_nodelist(r, &n->u.partial.def->u.partialdef.body, out);
            r->depth--;
        }
        break;
    case N_SIMPLE: rc = render_simple(r, n, out); break;
    case N_INCLUSION: rc = render_inclusion(r, n, out); break;
    case N_CUSTOM:
        r->filter_error[0] = 0;
        rc = n->u.custom.def->render(r, n->u.custom.data, out);
        if (rc < 0 && !(r->err && r->err->code))
            mn__render_fail(r, rc, "Tag '%s' failed: %s", n->u.custom.def->name,
                            r->filter_error[0] ? r->filter_error : mn_strerror(rc));
        break;
    }
    if (rc == MN_ENOMEM && !(r->err && r->err->code))
        mn__render_fail(r, MN_ENOMEM, "out of memory while rendering");
    r->cur = saved;
    rendering = outer;
    return rc;
}

/* ---- Entry points. ---- */

int mn_template_render(const mn_template *t, mn_context *ctx, mn_buf *out, mn_template_error *err)
{
    mn_template_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    mn_template_options opt = t->engine->options;
    if (!opt.max_output)
        opt.max_output = DEFAULT_MAX_OUTPUT;
    if (opt.max_depth <= 0)
        opt.max_depth = DEFAULT_MAX_DEPTH;
    if (opt.max_loop_iterations <= 0)
        opt.max_loop_iterations = DEFAULT_MAX_ITER;
    mn_template_state r;
    memset(&r, 0, sizeof r);
    r.engine = t->engine;
    r.opt = &opt;
    r.arena = ctx->arena;
    r.ctx = ctx;
    r.autoescape = ctx->autoescape && opt.autoescape;
    r.err = err;
    r.tpl = t;
    r.writers = !(opt.string_if_invalid && *opt.string_if_invalid);
    int frames = ctx->nframes;
    int rc = mn__render_nodelist(&r, &t->root, out);
    while (ctx->nframes > frames)
        mn_context_pop(ctx);
    if (rc < 0 && !err->code)
        mn__render_fail(&r, rc, "%s", mn_strerror(rc));
    return rc < 0 ? rc : MN_OK;
}

int mn_template_render_name(mn_template_engine *e, const char *name, mn_context *ctx, mn_buf *out,
                            mn_template_error *err)
{
    mn_template *t = mn_template_engine_get(e, name, err);
    if (!t)
        return err && err->code ? err->code : MN_ENOTFOUND;
    return mn_template_render(t, ctx, out, err);
}

/* ---- Render helpers for custom tags. ---- */

mn_context *mn_tag_render_context(mn_template_state *r)
{
    return r->ctx;
}
mn_arena *mn_tag_render_arena(mn_template_state *r)
{
    return r->arena;
}
bool mn_tag_render_autoescape(mn_template_state *r)
{
    return r->autoescape;
}

int mn_tag_render_nodelist(mn_template_state *r, const mn_template_nodelist *nl, mn_buf *out)
{
    return mn__render_nodelist(r, nl, out);
}

int mn_tag_render_expr(mn_template_state *r, const mn_template_expr *x, mn_value **out)
{
    return mn__resolve(r, x, false, out);
}

int mn_tag_render_fail(mn_template_state *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mn__render_fail(r, MN_EINVAL, "%s", msg);
}
