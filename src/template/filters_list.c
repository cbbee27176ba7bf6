/* filters_list.c — Django's sequence filters: first, last, length, join, slice, random,
 * dictsort, dictsortreversed, safeseq, escapeseq and pprint.
 *
 * Sequences follow Python: a string is a sequence of code points, a dict iterates its keys,
 * slices take negative indices and steps, sorting is stable and fails (Django then returns
 * '') where Python's comparison would raise TypeError. */
#include "template/filters_internal.h"
#include "template/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF(name)                                                                                  \
    mn_buf name;                                                                                   \
    mn_buf_init(&name, c->arena)

/* value[0] / value[-1]: '' for an empty sequence, Python's TypeError for a number. */
static mn_value *index_end(const mn_filter_call *c, mn_value *v, bool last)
{
    switch (mn_value_kind_of(v)) {
    case MN_VALUE_STRING: {
        mn_str s = v->u.str;
        if (!s.len)
            return mn_value_empty_string();
        size_t at = 0, i = 0;
        if (last) {
            at = s.len - 1;
            while (at > 0 && ((unsigned char)s.ptr[at] & 0xC0) == 0x80)
                at--;
            i = s.len;
        } else {
            mn__utf8_next(s.ptr, s.len, &i);
        }
        return mn_value_str_ref(c->arena, s.ptr + at, i - at);
    }
    case MN_VALUE_LIST:
    case MN_VALUE_OBJECT: {
        mn_value *l;
        int rc = mn_value_iterate(v, c->arena, &l);
        if (rc < 0)
            return mn__ffail(c, v->kind == MN_VALUE_OBJECT && v->u.obj.cls && v->u.obj.cls->iterate
                                    ? mn_value_strerror(rc)
                                    : "object is not subscriptable");
        size_t n = mn_value_list_len(l);
        if (!n)
            return mn_value_empty_string();
        return mn_value_list_get(l, last ? n - 1 : 0);
    }
    case MN_VALUE_DICT: return mn__ffail(c, last ? "KeyError: -1" : "KeyError: 0");
    default: return mn__ffail(c, "object is not subscriptable");
    }
}

static mn_value *f_first(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return index_end(c, v, false);
}

static mn_value *f_last(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return index_end(c, v, true);
}

static mn_value *f_length(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    int64_t n = 0;
    mn_value_kind k = mn_value_kind_of(v);
    if (k == MN_VALUE_STRING || k == MN_VALUE_LIST || k == MN_VALUE_DICT || k == MN_VALUE_OBJECT) {
        int rc = mn_value_length(v, c->arena, &n);
        /* Django answers len()'s TypeError with 0; a sized object whose length fails (a
         * queryset whose query fails) fails the render, as the database error propagates */
        if (rc < 0 && k == MN_VALUE_OBJECT && v->u.obj.cls &&
            (v->u.obj.cls->length || v->u.obj.cls->iterate))
            return mn__ffail(c, mn_value_strerror(rc));
        if (rc < 0)
            n = 0;
    }
    return mn_value_int(c->arena, n);
}

/* The items of an iterable (a string gives its characters); NULL when not iterable. */
static mn_value *items_of(const mn_filter_call *c, mn_value *v)
{
    if (mn_value_kind_of(v) == MN_VALUE_STRING)
        return mn__fchars(c, v->u.str);
    mn_value_kind k = mn_value_kind_of(v);
    if (k != MN_VALUE_LIST && k != MN_VALUE_DICT && k != MN_VALUE_OBJECT)
        return NULL;
    mn_value *l;
    if (mn_value_iterate(v, c->arena, &l) < 0)
        return NULL;
    return l;
}

/* as defaultfilters.join: items conditionally escaped under autoescape, the separator
 * always; a non-iterable value, or a non-string item without autoescape, returns value. */
static mn_value *f_join(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_value *l = items_of(c, v);
    if (!l)
        return v;
    size_t n = mn_value_list_len(l);
    if (!c->autoescape) {
        for (size_t i = 0; i < n; i++)
            if (mn_value_kind_of(mn_value_list_get(l, i)) != MN_VALUE_STRING)
                return v; /* str.join raises TypeError */
    }
    if (n == 0)
        return mn_value_safe_ref(c->arena, "", 0);
    BUF(sep);
    if (n > 1 && mn__fcond_escape(c, arg, &sep) < 0)
        return NULL; /* only between items */
    BUF(b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            mn_buf_append(&b, sep.data, sep.len);
        mn_value *it = mn_value_list_get(l, i);
        int rc;
        if (!c->autoescape)
            rc = mn_buf_put_str(&b, it->u.str);
        else if (it->kind == MN_VALUE_STRING && !it->safe) /* the usual item: escape it */
            rc = mn_template_escape(&b, it->u.str.ptr, it->u.str.len);
        else
            rc = mn__fcond_escape(c, it, &b);
        if (rc < 0)
            return NULL;
    }
    if (mn_buf_reserve(&b, 1) < 0)
        return NULL;
    return mn__fresult(c, &b, true);
}

/* ---- slice: Python's value[slice(*bits)]. ---- */

static bool parse_slice_bits(mn_str s, bool have[3], int64_t vals[3], int *nbits)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.ptr[i] != ':')
            continue;
        if (n == 3)
            return false; /* slice() takes at most 3 arguments */
        mn_str part = {s.ptr + start, i - start};
        have[n] = part.len > 0;
        if (have[n]) {
            mn_value tmp = {.kind = MN_VALUE_STRING, .u.str = part};
            if (mn_value_to_int(&tmp, &vals[n]) < 0)
                return false;
        }
        n++;
        start = i + 1;
    }
    *nbits = n;
    return true;
}

/* slice.indices(len) and the resulting positions, as CPython computes them. */
static void slice_indices(int64_t len, bool has_start, int64_t start, bool has_stop, int64_t stop,
                          int64_t step, int64_t *ostart, int64_t *ostop)
{
    if (!has_start) {
        start = step < 0 ? len - 1 : 0;
    } else {
        if (start < 0)
            start += len;
        if (start < 0)
            start = step < 0 ? -1 : 0;
        else if (start >= len)
            start = step < 0 ? len - 1 : len;
    }
    if (!has_stop) {
        stop = step < 0 ? -1 : len;
    } else {
        if (stop < 0)
            stop += len;
        if (stop < 0)
            stop = step < 0 ? -1 : 0;
        else if (stop >= len)
            stop = step < 0 ? len - 1 : len;
    }
    *ostart = start;
    *ostop = stop;
}

static mn_value *f_slice(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    mn_str a;
    if (mn__ftext(c, arg, &a) < 0)
        return NULL;
    bool have[3] = {false, false, false};
    int64_t vals[3] = {0, 0, 1};
    int nbits;
    if (!parse_slice_bits(a, have, vals, &nbits))
        return v;
    bool hs, he, hp;
    int64_t start, stop, step;
    if (nbits == 1) { /* slice(stop) */
        hs = false, he = have[0], hp = false;
        start = 0, stop = vals[0], step = 1;
    } else {
        hs = have[0], he = have[1], hp = nbits == 3 && have[2];
        start = vals[0], stop = vals[1], step = hp ? vals[2] : 1;
    }
    if (step == 0)
        return v; /* ValueError: slice step cannot be zero */
    mn_value_kind k = mn_value_kind_of(v);
    if (k == MN_VALUE_OBJECT && v->u.obj.cls->slice) { /* a lazy sequence slices itself */
        mn_value_slice sl = {hs, he, hp, start, stop, step};
        mn_value *out = NULL;
        int rc = v->u.obj.cls->slice(v->u.obj.self, &sl, c->arena, &out);
        if (rc == 0 && out)
            return out;
        if (rc == MN_EINVAL)
            return v;
        if (rc != MN_EUNSUPPORTED)
            return mn__ffail(c, mn_strerror(rc ? rc : MN_EINVAL));
    }
    mn_value *items;
    if (k == MN_VALUE_STRING)
        items = mn__fchars(c, v->u.str);
    else if (k == MN_VALUE_LIST || k == MN_VALUE_OBJECT)
        items = items_of(c, v);
    else
        return v; /* TypeError */
    if (!items)
        return v;
    int64_t len = (int64_t)mn_value_list_len(items), s0, s1;
    slice_indices(len, hs, start, he, stop, step, &s0, &s1);
    if (k == MN_VALUE_STRING) {
        BUF(b);
        for (int64_t i = s0; step > 0 ? i < s1 : i > s1; i += step)
            mn_buf_put_str(&b, mn_value_list_get(items, (size_t)i)->u.str);
        if (mn_buf_reserve(&b, 1) < 0)
            return NULL;
        return mn__fresult(c, &b, false);
    }
    mn_value *out = mn_value_list(c->arena, 0);
    if (!out)
        return NULL;
    for (int64_t i = s0; step > 0 ? i < s1 : i > s1; i += step)
        if (mn_value_list_append(c->arena, out, mn_value_list_get(items, (size_t)i)) < 0)
            return NULL;
    return out;
}

/* A random number for random.choice: the clock's nanoseconds mixed (splitmix64) with a
 * per-call address, so no generator state is shared between renders or threads. */
static uint64_t pick_random(uintptr_t salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t z = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)salt;
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static mn_value *f_random(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    mn_value *l = items_of(c, v);
    if (!l || mn_value_kind_of(v) == MN_VALUE_DICT)
        return mn__ffail(c, "object has no len()");
    size_t n = mn_value_list_len(l);
    if (!n)
        return mn__ffail(c, "Cannot choose from an empty sequence");
    return mn_value_list_get(l, (size_t)(pick_random((uintptr_t)l) % n));
}

/* ---- dictsort: sorted(value, key=_property_resolver(arg)). ---- */

typedef struct keyed {
    mn_value *key, *item;
} keyed;

/* A stable merge sort with Python's comparison; false when two keys do not compare. */
static bool merge_sort(keyed *a, keyed *tmp, size_t n, bool reverse)
{
    if (n < 2)
        return true;
    size_t mid = n / 2;
    if (!merge_sort(a, tmp, mid, reverse) || !merge_sort(a + mid, tmp, n - mid, reverse))
        return false;
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n) {
        int cmp;
        if (mn_value_compare(a[j].key, a[i].key, &cmp) < 0)
            return false;
        bool take_right = reverse ? cmp > 0 : cmp < 0;
        tmp[k++] = take_right ? a[j++] : a[i++];
    }
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
    return true;
}

/* The sort key of item. An argument float() accepts is itemgetter(arg): an int indexes a
 * list or string, a string is a dict key; a dotted path walks keys and attributes.
 * 1: key found; 0: Django's AttributeError/TypeError (dictsort gives ''); -1: an uncaught
 * KeyError/IndexError (the render fails). */
static int sort_key(const mn_filter_call *c, mn_value *item, mn_value *arg, bool numeric,
                    mn_value **out)
{
    mn_value_kind k = mn_value_kind_of(item);
    if (numeric) {
        if (arg->kind == MN_VALUE_STRING) {
            if (k != MN_VALUE_DICT)
                return 0; /* list/str indices must be integers */
            *out = mn_value_dict_get(item, arg->u.str.ptr, arg->u.str.len);
            return *out ? 1 : -1;
        }
        if (arg->kind != MN_VALUE_INT && arg->kind != MN_VALUE_BOOL)
            return 0;
        int64_t idx = arg->kind == MN_VALUE_INT ? arg->u.i : arg->u.b;
        if (k == MN_VALUE_DICT)
            return -1; /* KeyError: dict keys here are strings */
        mn_value *l = item;
        if (k == MN_VALUE_STRING) {
            if (mn_value_iterate(item, c->arena, &l) < 0)
                return -1;
        } else if (k != MN_VALUE_LIST) {
            return 0;
        }
        int64_t n = (int64_t)mn_value_list_len(l);
        if (idx < 0)
            idx += n;
        if (idx < 0 || idx >= n)
            return -1; /* IndexError */
        *out = mn_value_list_get(l, (size_t)idx);
        return 1;
    }
    mn_str path = arg->u.str;
    mn_value *cur = item;
    size_t start = 0;
    for (size_t i = 0; i <= path.len; i++) {
        if (i < path.len && path.ptr[i] != '.')
            continue;
        mn_str part = {path.ptr + start, i - start};
        start = i + 1;
        mn_value_kind kc = mn_value_kind_of(cur);
        mn_value *next = NULL;
        if (kc == MN_VALUE_DICT) {
            next = mn_value_dict_get(cur, part.ptr, part.len);
        } else if (kc == MN_VALUE_OBJECT || kc == MN_VALUE_DATE || kc == MN_VALUE_DATETIME ||
                   kc == MN_VALUE_TIME) {
            if (mn_value_lookup(cur, part, c->arena, &next) < 0)
                next = NULL;
        }
        if (!next)
            return 0;
        cur = next;
    }
    *out = cur;
    return 1;
}

static mn_value *dictsort(const mn_filter_call *c, mn_value *v, mn_value *arg, bool reverse)
{
    mn_value *l = items_of(c, v);
    if (!l)
        return mn_value_empty_string();
    double dummy;
    bool numeric = mn_value_to_double(arg, &dummy) == MN_OK && arg->kind != MN_VALUE_NONE;
    if (!numeric) {
        if (arg->kind != MN_VALUE_STRING || !arg->u.str.len)
            return mn_value_empty_string();
        mn_str p = arg->u.str;
        if (p.ptr[0] == '_')
            return mn_value_empty_string();
        for (size_t i = 0; i + 1 < p.len; i++)
            if (p.ptr[i] == '.' && p.ptr[i + 1] == '_')
                return mn_value_empty_string();
    }
    size_t n = mn_value_list_len(l);
    keyed *a = mn_arena_alloc(c->arena, (n + 1) * sizeof *a);
    keyed *tmp = mn_arena_alloc(c->arena, (n + 1) * sizeof *tmp);
    if (!a || !tmp)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        a[i].item = mn_value_list_get(l, i);
        int found = sort_key(c, a[i].item, arg, numeric, &a[i].key);
        if (found < 0)
            return mn__ffail(c, "KeyError/IndexError looking up the sort key");
        if (found == 0)
            return mn_value_empty_string();
    }
    if (!merge_sort(a, tmp, n, reverse))
        return mn_value_empty_string();
    mn_value *out = mn_value_list(c->arena, n);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (mn_value_list_append(c->arena, out, a[i].item) < 0)
            return NULL;
    return out;
}

static mn_value *f_dictsort(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return dictsort(c, v, arg, false);
}

static mn_value *f_dictsortreversed(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    return dictsort(c, v, arg, true);
}

/* safeseq / escapeseq: each item as a safe string (mark_safe / conditional_escape). */
static mn_value *each_item(const mn_filter_call *c, mn_value *v, bool escape)
{
    mn_value *l = items_of(c, v);
    if (!l)
        return mn__ffail(c, "object is not iterable");
    size_t n = mn_value_list_len(l);
    mn_value *out = mn_value_list(c->arena, n);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        mn_value *it = mn_value_list_get(l, i), *r;
        if (escape) {
            BUF(b);
            if (mn__fcond_escape(c, it, &b) < 0 || mn_buf_reserve(&b, 1) < 0)
                return NULL;
            r = mn__fresult(c, &b, true);
        } else {
            r = mn_value_mark_safe(c->arena, it);
        }
        if (!r || mn_value_list_append(c->arena, out, r) < 0)
            return NULL;
    }
    return out;
}

static mn_value *f_safeseq(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return each_item(c, v, false);
}

static mn_value *f_escapeseq(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    return each_item(c, v, true);
}

/* ---- pprint: pprint.pformat(value) with its defaults (width 80, dict keys sorted). ---- */

static int cmp_entries(const void *x, const void *y)
{
    const mn_value_dict_entry *a = x, *b = y;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int r = memcmp(a->key.ptr, b->key.ptr, n);
    return r ? r : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

static mn_value_dict_entry *sorted_entries(mn_arena *a, const mn_value *d)
{
    size_t n = d->u.dict.len;
    mn_value_dict_entry *e = mn_arena_alloc(a, (n + 1) * sizeof *e);
    if (!e)
        return NULL;
    if (n)
        memcpy(e, d->u.dict.entries, n * sizeof *e);
    qsort(e, n, sizeof *e, cmp_entries);
    return e;
}

/* pprint's _safe_repr: repr() with dict keys sorted at every level. */
static int safe_repr(mn_arena *a, const mn_value *v, mn_buf *out, int depth)
{
    if (depth > 100)
        return MN_ETOOBIG;
    mn_value_kind k = mn_value_kind_of(v);
    if (k == MN_VALUE_DICT) {
        mn_value_dict_entry *e = sorted_entries(a, v);
        if (!e)
            return MN_ENOMEM;
        mn_buf_putc(out, '{');
        for (size_t i = 0; i < v->u.dict.len; i++) {
            if (i)
                mn_buf_puts(out, ", ");
            mn_value key = {.kind = MN_VALUE_STRING, .u.str = e[i].key};
            mn_value_write_repr(&key, a, out);
            mn_buf_puts(out, ": ");
            int rc = safe_repr(a, e[i].value, out, depth + 1);
            if (rc < 0)
                return rc;
        }
        return mn_buf_putc(out, '}');
    }
    if (k == MN_VALUE_LIST) {
        mn_buf_putc(out, '[');
        for (size_t i = 0; i < v->u.list.len; i++) {
            if (i)
                mn_buf_puts(out, ", ");
            int rc = safe_repr(a, v->u.list.items[i], out, depth + 1);
            if (rc < 0)
                return rc;
        }
        return mn_buf_putc(out, ']');
    }
    return mn_value_write_repr(v, a, out);
}

static int64_t repr_width(mn_arena *a, mn_str s, mn_str *rep)
{
    mn_value tmp = {.kind = MN_VALUE_STRING, .u.str = s};
    mn_buf b;
    mn_buf_init(&b, a);
    if (mn_value_write_repr(&tmp, a, &b) < 0)
        return -1;
    *rep = (mn_str){b.data ? b.data : "", b.len};
    return (int64_t)mn__utf8_count(*rep);
}

static bool is_line_break(uint32_t cp)
{
    return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
           cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* PrettyPrinter._pprint_str: a long string becomes adjacent literals, split after the
 * whitespace of each word so every piece fits; parenthesized at the top level. */
static int pprint_str(mn_arena *a, mn_str s, mn_buf *out, int64_t indent, int64_t allowance,
                      int level)
{
    mn_str rep;
    if (!s.len || repr_width(a, s, &rep) < 0)
        return mn_value_write_repr(&(mn_value){.kind = MN_VALUE_STRING, .u.str = s}, a, out);
    if (level == 1)
        indent++, allowance++;
    int64_t max_width = 80 - indent, max_width1 = max_width;
    mn_str *chunks = NULL;
    size_t nchunks = 0, cap = 0;
#define PUSH(x)                                                                                    \
    do {                                                                                           \
        if (nchunks == cap) {                                                                      \
            size_t nc = cap ? cap * 2 : 8;                                                         \
            mn_str *g = mn_arena_realloc(a, chunks, cap * sizeof *g, nc * sizeof *g);              \
            if (!g)                                                                                \
                return MN_ENOMEM;                                                                  \
            chunks = g, cap = nc;                                                                  \
        }                                                                                          \
        chunks[nchunks++] = (x);                                                                   \
    } while (0)
    mn_str last_rep = rep;
    for (size_t ls = 0; ls < s.len;) {
        /* the next line, with its line break (splitlines(True)) */
        size_t le = ls;
        while (le < s.len) {
            uint32_t cp = mn__utf8_next(s.ptr, s.len, &le);
            if (is_line_break(cp)) {
                if (cp == '\r' && le < s.len && s.ptr[le] == '\n')
                    le++;
                break;
            }
        }
        mn_str line = {s.ptr + ls, le - ls};
        bool last_line = le >= s.len;
        ls = le;
        if (repr_width(a, line, &last_rep) < 0)
            return MN_ENOMEM;
        if (last_line)
            max_width1 -= allowance;
        if ((int64_t)mn__utf8_count(last_rep) <= max_width1) {
            PUSH(last_rep);
            continue;
        }
        /* parts: \S*\s* runs */
        int64_t max_width2 = max_width;
        mn_str current = {line.ptr, 0};
        for (size_t ps = 0; ps < line.len;) {
            size_t pe = ps;
            while (pe < line.len) {
                size_t nx = pe;
                if (mn__uni_space(mn__utf8_next(line.ptr, line.len, &nx)))
                    break;
                pe = nx;
            }
            while (pe < line.len) {
                size_t nx = pe;
                if (!mn__uni_space(mn__utf8_next(line.ptr, line.len, &nx)))
                    break;
                pe = nx;
            }
            mn_str part = {line.ptr + ps, pe - ps};
            ps = pe;
            mn_str candidate = {current.len ? current.ptr : part.ptr, current.len + part.len};
            if (ps >= line.len && last_line)
                max_width2 -= allowance;
            mn_str crep;
            if (repr_width(a, candidate, &crep) > max_width2) {
                if (current.len) {
                    mn_str r2;
                    repr_width(a, current, &r2);
                    PUSH(r2);
                }
                current = part;
            } else {
                current = candidate;
            }
        }
        if (current.len) {
            mn_str r2;
            repr_width(a, current, &r2);
            PUSH(r2);
        }
    }
#undef PUSH
    if (nchunks == 1)
        return mn_buf_put_str(out, last_rep);
    if (level == 1)
        mn_buf_putc(out, '(');
    for (size_t i = 0; i < nchunks; i++) {
        if (i) {
            mn_buf_putc(out, '\n');
            for (int64_t k = 0; k < indent; k++)
                mn_buf_putc(out, ' ');
        }
        mn_buf_put_str(out, chunks[i]);
    }
    if (level == 1)
        mn_buf_putc(out, ')');
    return MN_OK;
}

/* PrettyPrinter._format: one line when the repr fits, else one item per line. */
static int pformat(mn_arena *a, const mn_value *v, mn_buf *out, int64_t indent, int64_t allowance,
                   int depth)
{
    mn_buf rep;
    mn_buf_init(&rep, a);
    int rc = safe_repr(a, v, &rep, depth);
    if (rc < 0)
        return rc;
    int64_t max_width = 80 - indent - allowance;
    mn_value_kind k = mn_value_kind_of(v);
    mn_str r = {rep.data ? rep.data : "", rep.len};
    if ((int64_t)mn__utf8_count(r) <= max_width)
        return mn_buf_put_str(out, r);
    if (k == MN_VALUE_STRING)
        return pprint_str(a, v->u.str, out, indent, allowance, depth + 1);
    if ((k != MN_VALUE_DICT && k != MN_VALUE_LIST) ||
        (k == MN_VALUE_DICT ? v->u.dict.len : v->u.list.len) == 0)
        return mn_buf_put_str(out, r);
    if (k == MN_VALUE_DICT) {
        mn_value_dict_entry *e = sorted_entries(a, v);
        if (!e)
            return MN_ENOMEM;
        mn_buf_putc(out, '{');
        int64_t in = indent + 1;
        for (size_t i = 0; i < v->u.dict.len; i++) {
            bool last = i + 1 == v->u.dict.len;
            mn_buf krep;
            mn_buf_init(&krep, a);
            mn_value key = {.kind = MN_VALUE_STRING, .u.str = e[i].key};
            mn_value_write_repr(&key, a, &krep);
            mn_buf_append(out, krep.data, krep.len);
            mn_buf_puts(out, ": ");
            int64_t klen = (int64_t)mn__utf8_count((mn_str){krep.data, krep.len});
            rc = pformat(a, e[i].value, out, in + klen + 2, last ? allowance + 1 : 1, depth + 1);
            if (rc < 0)
                return rc;
            if (!last) {
                mn_buf_puts(out, ",\n");
                for (int64_t s = 0; s < in; s++)
                    mn_buf_putc(out, ' ');
            }
        }
        return mn_buf_putc(out, '}');
    }
    mn_buf_putc(out, '[');
    int64_t in = indent + 1;
    for (size_t i = 0; i < v->u.list.len; i++) {
        bool last = i + 1 == v->u.list.len;
        if (i) {
            mn_buf_puts(out, ",\n");
            for (int64_t s = 0; s < in; s++)
                mn_buf_putc(out, ' ');
        }
        rc = pformat(a, v->u.list.items[i], out, in, last ? allowance + 1 : 1, depth + 1);
        if (rc < 0)
            return rc;
    }
    return mn_buf_putc(out, ']');
}

static mn_value *f_pprint(const mn_filter_call *c, mn_value *v, mn_value *arg)
{
    (void)arg;
    BUF(b);
    int rc = pformat(c->arena, v, &b, 0, 0, 0);
    if (rc < 0 || mn_buf_reserve(&b, 1) < 0)
        return mn__ffail(c, "Error in formatting");
    return mn__fresult(c, &b, false);
}

/* join's writer: a list of strings joined by a string under autoescape (the usual tags
 * list), each piece escaped on its way to the output; the result is safe, so nothing more
 * is escaped. Everything else declines to f_join. */
static int w_join(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape, mn_buf *out)
{
    (void)escape;
    if (!c->autoescape || v->kind != MN_VALUE_LIST || !arg || arg->kind != MN_VALUE_STRING)
        return MN_FILTER_DECLINE;
    size_t n = v->u.list.len;
    for (size_t i = 0; i < n; i++)
        if (v->u.list.items[i]->kind != MN_VALUE_STRING)
            return MN_FILTER_DECLINE;
    for (size_t i = 0; i < n; i++) {
        const mn_value *it = v->u.list.items[i];
        int rc;
        if (i && (rc = arg->safe ? mn__put(out, arg->u.str.ptr, arg->u.str.len)
                                 : mn__escape(out, arg->u.str.ptr, arg->u.str.len)) < 0)
            return rc;
        rc = it->safe ? mn__put(out, it->u.str.ptr, it->u.str.len)
                      : mn__escape(out, it->u.str.ptr, it->u.str.len);
        if (rc < 0)
            return rc;
    }
    return MN_OK;
}

void mn__filters_register_list(mn_template_library *lib)
{
    enum { SAFE = MN_FILTER_IS_SAFE, A = MN_FILTER_ARG };
    mn_template_library_add_filter(lib, "first", f_first, 0);
    mn_template_library_add_filter(lib, "last", f_last, SAFE);
    mn_template_library_add_filter(lib, "length", f_length, 0);
    mn_template_library_add_filter(lib, "join", f_join, SAFE | A | MN_FILTER_NEEDS_AUTOESCAPE);
    mn__library_set_filter_writer(lib, "join", w_join);
    mn_template_library_add_filter(lib, "slice", f_slice, SAFE | A);
    mn_template_library_add_filter(lib, "random", f_random, SAFE);
    mn_template_library_add_filter(lib, "dictsort", f_dictsort, A);
    mn_template_library_add_filter(lib, "dictsortreversed", f_dictsortreversed, A);
    mn_template_library_add_filter(lib, "safeseq", f_safeseq, SAFE);
    mn_template_library_add_filter(lib, "escapeseq", f_escapeseq, SAFE);
    mn_template_library_add_filter(lib, "pprint", f_pprint, SAFE);
}
