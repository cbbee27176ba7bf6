/* value.c — the tagged values templates render: constructors, lists and dicts, and the
 * Python semantics templates copy (str(), repr(), bool(), len(), ==, <, int(), float()).
 *
 * Values point into arenas and never own memory. Dicts are ordered arrays searched linearly:
 * template contexts and rows are small, and insertion order must be kept as Python's. */
#include <manouche/value.h>

#include "template/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mn_value none_value = {.kind = MN_VALUE_NONE};
static mn_value true_value = {.kind = MN_VALUE_BOOL, .u.b = true};
static mn_value false_value = {.kind = MN_VALUE_BOOL, .u.b = false};
static mn_value empty_string = {.kind = MN_VALUE_STRING, .u.str = {"", 0}};

mn_value *mn_value_none(void)
{
    return &none_value;
}
mn_value *mn_value_true(void)
{
    return &true_value;
}
mn_value *mn_value_false(void)
{
    return &false_value;
}
mn_value *mn_value_bool(bool b)
{
    return b ? &true_value : &false_value;
}
mn_value *mn_value_empty_string(void)
{
    return &empty_string;
}

static mn_value *new_value(mn_arena *a, mn_value_kind kind)
{
    mn_value *v = mn_arena_alloc(a, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    return v;
}

mn_value *mn_value_int(mn_arena *a, int64_t i)
{
    mn_value *v = new_value(a, MN_VALUE_INT);
    if (v)
        v->u.i = i;
    return v;
}

mn_value *mn_value_double(mn_arena *a, double d)
{
    mn_value *v = new_value(a, MN_VALUE_DOUBLE);
    if (v)
        v->u.d = d;
    return v;
}

static mn_value *str_value(mn_arena *a, mn_value_kind kind, const char *s, size_t len, bool copy,
                           bool safe)
{
    mn_value *v = new_value(a, kind);
    if (!v)
        return NULL;
    if (copy && len) {
        char *p = mn_arena_strndup(a, s, len);
        if (!p)
            return NULL;
        s = p;
    }
    v->u.str.ptr = len ? s : "";
    v->u.str.len = len;
    v->safe = safe;
    return v;
}

mn_value *mn_value_decimal(mn_arena *a, const char *digits, size_t len)
{
    return str_value(a, MN_VALUE_DECIMAL, digits, len, true, false);
}
mn_value *mn_value_str(mn_arena *a, const char *s, size_t len)
{
    return str_value(a, MN_VALUE_STRING, s, len, true, false);
}
mn_value *mn_value_cstr(mn_arena *a, const char *s)
{
    return str_value(a, MN_VALUE_STRING, s ? s : "", s ? strlen(s) : 0, true, false);
}
mn_value *mn_value_str_ref(mn_arena *a, const char *s, size_t len)
{
    return str_value(a, MN_VALUE_STRING, s, len, false, false);
}
mn_value *mn_value_safe(mn_arena *a, const char *s, size_t len)
{
    return str_value(a, MN_VALUE_STRING, s, len, true, true);
}
mn_value *mn_value_safe_ref(mn_arena *a, const char *s, size_t len)
{
    return str_value(a, MN_VALUE_STRING, s, len, false, true);
}

mn_value *mn_value_mark_safe(mn_arena *a, const mn_value *v)
{
    if (v && v->kind == MN_VALUE_STRING) {
        if (v->safe)
            return (mn_value *)v;
        return str_value(a, MN_VALUE_STRING, v->u.str.ptr, v->u.str.len, false, true);
    }
    mn_str text;
    if (mn_value_to_text(v, a, &text) < 0)
        return NULL;
    return str_value(a, MN_VALUE_STRING, text.ptr, text.len, false, true);
}

mn_value *mn_value_date(mn_arena *a, int year, int month, int day)
{
    mn_value *v = new_value(a, MN_VALUE_DATE);
    if (v) {
        v->u.dt.year = year;
        v->u.dt.month = month;
        v->u.dt.day = day;
    }
    return v;
}

mn_value *mn_value_datetime(mn_arena *a, const mn_datetime *dt)
{
    mn_value *v = new_value(a, MN_VALUE_DATETIME);
    if (v)
        v->u.dt = *dt;
    return v;
}

mn_value *mn_value_time(mn_arena *a, const mn_datetime *t)
{
    mn_value *v = new_value(a, MN_VALUE_TIME);
    if (v) {
        v->u.dt = *t;
        v->u.dt.year = 1900;
        v->u.dt.month = 1;
        v->u.dt.day = 1;
    }
    return v;
}

mn_value *mn_value_list(mn_arena *a, size_t capacity_hint)
{
    mn_value *v = new_value(a, MN_VALUE_LIST);
    if (v && capacity_hint) {
        v->u.list.items = mn_arena_alloc(a, capacity_hint * sizeof(mn_value *));
        if (!v->u.list.items)
            return NULL;
        v->u.list.cap = capacity_hint;
    }
    return v;
}

mn_value *mn_value_dict(mn_arena *a, size_t capacity_hint)
{
    mn_value *v = new_value(a, MN_VALUE_DICT);
    if (v && capacity_hint) {
        v->u.dict.entries = mn_arena_alloc(a, capacity_hint * sizeof(mn_value_dict_entry));
        if (!v->u.dict.entries)
            return NULL;
        v->u.dict.cap = capacity_hint;
    }
    return v;
}

mn_value *mn_value_object(mn_arena *a, const mn_value_class *cls, void *self)
{
    mn_value *v = new_value(a, MN_VALUE_OBJECT);
    if (v) {
        v->u.obj.cls = cls;
        v->u.obj.self = self;
    }
    return v;
}

/* ---- Calendar (Howard Hinnant's algorithms). ---- */

int64_t mn__days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int32_t *y, int32_t *m, int32_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp + (mp < 10 ? 3 : -9);
    *y = (int32_t)(yy + (mm <= 2));
    *m = (int32_t)mm;
    *d = (int32_t)dd;
}

void mn__datetime_from_epoch(int64_t secs, int32_t usec, mn_datetime *t)
{
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    civil_from_days(days, &t->year, &t->month, &t->day);
    t->hour = (int32_t)(rem / 3600);
    t->minute = (int32_t)(rem / 60 % 60);
    t->second = (int32_t)(rem % 60);
    t->microsecond = usec;
}

/* ---- Lists and dicts. ---- */

int mn_value_list_append(mn_arena *a, mn_value *list, mn_value *item)
{
    if (!list || list->kind != MN_VALUE_LIST)
        return MN_EINVAL;
    if (list->u.list.len == list->u.list.cap) {
        size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 8;
        mn_value **items = mn_arena_realloc(
            a, list->u.list.items, list->u.list.cap * sizeof(mn_value *), cap * sizeof(mn_value *));
        if (!items)
            return MN_ENOMEM;
        list->u.list.items = items;
        list->u.list.cap = cap;
    }
    list->u.list.items[list->u.list.len++] = item ? item : &none_value;
    return MN_OK;
}

size_t mn_value_list_len(const mn_value *list)
{
    return list && list->kind == MN_VALUE_LIST ? list->u.list.len : 0;
}

mn_value *mn_value_list_get(const mn_value *list, size_t i)
{
    if (!list || list->kind != MN_VALUE_LIST || i >= list->u.list.len)
        return NULL;
    return list->u.list.items[i];
}

/* Small dicts (a context, a row of values()) are searched in order: that beats hashing for
 * a handful of keys. From DICT_INDEX_MIN entries on, a dict also keeps an open-addressing
 * hash of its keys, so building or reading a dict of 100,000 keys (in_bulk, a JSON document)
 * stays linear. The hash covers entries[0, indexed); entries appended past it by code that
 * fills `entries` directly are still found, by the scan of the tail. */
enum { DICT_INDEX_MIN = 32 };
struct mn_value_dict_index {
    uint32_t mask;    /* slots - 1; slots is a power of two, at least twice the entries */
    uint32_t indexed; /* entries[0, indexed) are in the hash */
    uint32_t slot[];  /* entry number + 1; 0: empty */
};

static uint32_t key_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h;
}

static void index_put(struct mn_value_dict_index *ix, const mn_value_dict_entry *entries,
                      uint32_t i)
{
    uint32_t s = key_hash(entries[i].key.ptr, entries[i].key.len) & ix->mask;
    while (ix->slot[s])
        s = (s + 1) & ix->mask;
    ix->slot[s] = i + 1;
}

/* (Re)builds the hash when the dict has outgrown it; no memory just leaves the dict to the
 * ordered search. */
static void index_grow(mn_arena *a, mn_value *dict)
{
    size_t len = dict->u.dict.len;
    struct mn_value_dict_index *ix = dict->u.dict.index;
    if (len < DICT_INDEX_MIN || len > (1u << 28))
        return;
    if (ix && (size_t)ix->indexed * 2 + 2 <= ix->mask) {
        while (ix->indexed < len)
            index_put(ix, dict->u.dict.entries, ix->indexed++);
        return;
    }
    uint32_t slots = 64;
    while (slots < len * 4)
        slots *= 2;
    ix = mn_arena_alloc(a, sizeof *ix + slots * sizeof(uint32_t));
    if (!ix)
        return;
    memset(ix->slot, 0, slots * sizeof(uint32_t));
    ix->mask = slots - 1;
    for (ix->indexed = 0; ix->indexed < len; ix->indexed++)
        index_put(ix, dict->u.dict.entries, ix->indexed);
    dict->u.dict.index = ix;
}

static bool entry_is(const mn_value_dict_entry *e, const char *key, size_t len)
{
    return e->key.len == len && mn__name_eq(e->key.ptr, key, len);
}

static mn_value_dict_entry *dict_find(const mn_value *dict, const char *key, size_t len)
{
    const struct mn_value_dict_index *ix = dict->u.dict.index;
    size_t from = 0;
    if (ix) {
        for (uint32_t s = key_hash(key, len) & ix->mask; ix->slot[s]; s = (s + 1) & ix->mask) {
            mn_value_dict_entry *e = &dict->u.dict.entries[ix->slot[s] - 1];
            if (entry_is(e, key, len))
                return e;
        }
        from = ix->indexed;
    }
    for (size_t i = from; i < dict->u.dict.len; i++) {
        mn_value_dict_entry *e = &dict->u.dict.entries[i];
        if (entry_is(e, key, len))
            return e;
    }
    return NULL;
}

int mn_value_dict_set(mn_arena *a, mn_value *dict, const char *key, size_t key_len, mn_value *val)
{
    if (!dict || dict->kind != MN_VALUE_DICT)
        return MN_EINVAL;
    if (!val)
        val = &none_value;
    mn_value_dict_entry *e = dict_find(dict, key, key_len);
    if (e) {
        e->value = val;
        return MN_OK;
    }
    if (dict->u.dict.len == dict->u.dict.cap) {
        size_t cap = dict->u.dict.cap ? dict->u.dict.cap * 2 : 8;
        mn_value_dict_entry *n = mn_arena_realloc(a, dict->u.dict.entries,
                                                  dict->u.dict.cap * sizeof *n, cap * sizeof *n);
        if (!n)
            return MN_ENOMEM;
        dict->u.dict.entries = n;
        dict->u.dict.cap = cap;
    }
    char *k = mn_arena_strndup(a, key, key_len);
    if (!k)
        return MN_ENOMEM;
    dict->u.dict.entries[dict->u.dict.len++] = (mn_value_dict_entry){{k, key_len}, val};
    index_grow(a, dict);
    return MN_OK;
}

int mn_value_dict_set_cstr(mn_arena *a, mn_value *dict, const char *key, mn_value *val)
{
    return mn_value_dict_set(a, dict, key, strlen(key), val);
}

mn_value *mn_value_dict_get(const mn_value *dict, const char *key, size_t key_len)
{
    if (!dict || dict->kind != MN_VALUE_DICT)
        return NULL;
    mn_value_dict_entry *e = dict_find(dict, key, key_len);
    return e ? e->value : NULL;
}

size_t mn_value_dict_len(const mn_value *dict)
{
    return dict && dict->kind == MN_VALUE_DICT ? dict->u.dict.len : 0;
}

mn_str mn_value_dict_key(const mn_value *dict, size_t i)
{
    if (!dict || dict->kind != MN_VALUE_DICT || i >= dict->u.dict.len)
        return (mn_str){"", 0};
    return dict->u.dict.entries[i].key;
}

mn_value *mn_value_dict_value(const mn_value *dict, size_t i)
{
    if (!dict || dict->kind != MN_VALUE_DICT || i >= dict->u.dict.len)
        return NULL;
    return dict->u.dict.entries[i].value;
}

/* ---- Accessors. ---- */

mn_value_kind mn_value_kind_of(const mn_value *v)
{
    return v ? v->kind : MN_VALUE_NONE;
}
bool mn_value_is_none(const mn_value *v)
{
    return !v || v->kind == MN_VALUE_NONE;
}
bool mn_value_is_string(const mn_value *v)
{
    return v && v->kind == MN_VALUE_STRING;
}

bool mn_value_is_safe(const mn_value *v)
{
    if (!v)
        return false;
    if (v->kind == MN_VALUE_STRING)
        return v->safe;
    return v->kind == MN_VALUE_OBJECT && v->u.obj.cls && v->u.obj.cls->to_string_is_safe;
}

bool mn_value_is_number(const mn_value *v)
{
    return v && (v->kind == MN_VALUE_BOOL || v->kind == MN_VALUE_INT ||
                 v->kind == MN_VALUE_DOUBLE || v->kind == MN_VALUE_DECIMAL);
}

mn_str mn_value_string(const mn_value *v)
{
    if (v && v->kind == MN_VALUE_STRING)
        return v->u.str;
    return (mn_str){"", 0};
}

static double decimal_value(mn_str s)
{
    char tmp[128];
    size_t n = s.len < sizeof tmp - 1 ? s.len : sizeof tmp - 1;
    memcpy(tmp, s.ptr, n);
    tmp[n] = 0;
    return strtod(tmp, NULL);
}

int mn_value_length(const mn_value *v, mn_arena *a, int64_t *out)
{
    if (!v)
        return MN_EINVAL;
    switch (v->kind) {
    case MN_VALUE_STRING: {
        int64_t n = 0;
        for (size_t i = 0; i < v->u.str.len; i++)
            n += ((unsigned char)v->u.str.ptr[i] & 0xC0) != 0x80;
        *out = n;
        return MN_OK;
    }
    case MN_VALUE_LIST: *out = (int64_t)v->u.list.len; return MN_OK;
    case MN_VALUE_DICT: *out = (int64_t)v->u.dict.len; return MN_OK;
    case MN_VALUE_OBJECT: {
        const mn_value_class *c = v->u.obj.cls;
        if (c && c->length)
            return c->length(v->u.obj.self, a, out);
        if (c && c->iterate) {
            mn_value *list;
            int rc = c->iterate(v->u.obj.self, a, &list);
            if (rc < 0)
                return rc;
            *out = (int64_t)mn_value_list_len(list);
            return MN_OK;
        }
        return MN_EINVAL;
    }
    default: return MN_EINVAL;
    }
}

int mn_value_truth(const mn_value *v, mn_arena *a)
{
    if (!v)
        return 0;
    switch (v->kind) {
    case MN_VALUE_NONE: return 0;
    case MN_VALUE_BOOL: return v->u.b;
    case MN_VALUE_INT: return v->u.i != 0;
    case MN_VALUE_DOUBLE: return v->u.d != 0.0;
    case MN_VALUE_DECIMAL:
        for (size_t i = 0; i < v->u.str.len; i++) {
            char c = v->u.str.ptr[i];
            if (c == 'e' || c == 'E')
                break;
            if (c >= '1' && c <= '9')
                return 1;
        }
        return 0;
    case MN_VALUE_STRING: return v->u.str.len > 0;
    case MN_VALUE_LIST: return v->u.list.len > 0;
    case MN_VALUE_DICT: return v->u.dict.len > 0;
    case MN_VALUE_DATE:
    case MN_VALUE_DATETIME:
    case MN_VALUE_TIME: return 1;
    case MN_VALUE_OBJECT: {
        const mn_value_class *c = v->u.obj.cls;
        if (c && c->truth)
            return c->truth(v->u.obj.self, a);
        if (c && (c->length || c->iterate)) {
            int64_t n;
            int rc = mn_value_length(v, a, &n);
            return rc < 0 ? rc : n > 0;
        }
        return 1;
    }
    }
    return 1;
}

static bool parse_int_text(mn_str s, int64_t *out)
{
    s = mn_str_trim(s);
    while (s.len && (s.ptr[s.len - 1] == '\n' || s.ptr[s.len - 1] == '\r'))
        s.len--;
    while (s.len && (s.ptr[0] == '\n' || s.ptr[0] == '\r'))
        s.ptr++, s.len--;
    if (s.len && s.ptr[0] == '+')
        s.ptr++, s.len--;
    return s.len && mn_str_to_i64(s, out) == 0;
}

int mn_value_to_int(const mn_value *v, int64_t *out)
{
    if (!v)
        return MN_EINVAL;
    switch (v->kind) {
    case MN_VALUE_BOOL: *out = v->u.b; return MN_OK;
    case MN_VALUE_INT: *out = v->u.i; return MN_OK;
    case MN_VALUE_DOUBLE:
    case MN_VALUE_DECIMAL: {
        double d = v->kind == MN_VALUE_DOUBLE ? v->u.d : decimal_value(v->u.str);
        if (!isfinite(d) || fabs(d) >= 9.2e18)
            return MN_EINVAL;
        *out = (int64_t)d;
        return MN_OK;
    }
    case MN_VALUE_STRING: return parse_int_text(v->u.str, out) ? MN_OK : MN_EINVAL;
    default: return MN_EINVAL;
    }
}

int mn_value_to_double(const mn_value *v, double *out)
{
    if (!v)
        return MN_EINVAL;
    switch (v->kind) {
    case MN_VALUE_BOOL: *out = v->u.b; return MN_OK;
    case MN_VALUE_INT: *out = (double)v->u.i; return MN_OK;
    case MN_VALUE_DOUBLE: *out = v->u.d; return MN_OK;
    case MN_VALUE_DECIMAL: *out = decimal_value(v->u.str); return MN_OK;
    case MN_VALUE_STRING: {
        char tmp[128];
        mn_str s = mn_str_trim(v->u.str);
        if (!s.len || s.len >= sizeof tmp)
            return MN_EINVAL;
        memcpy(tmp, s.ptr, s.len);
        tmp[s.len] = 0;
        for (size_t i = 0; i < s.len; i++)
            if (tmp[i] == 'x' || tmp[i] == 'X')
                return MN_EINVAL; /* Python's float() takes no hex */
        char *end;
        errno = 0;
        double d = strtod(tmp, &end);
        if (*end)
            return MN_EINVAL;
        *out = d;
        return MN_OK;
    }
    default: return MN_EINVAL;
    }
}

/* ---- str() and repr(). ---- */

/* Python's repr(float): the shortest digits that round-trip, fixed notation for exponents in
 * [-4, 16), scientific otherwise ("1e+16", "1.5e-05"). */
int mn__double_digits(double d, char digits[24], int *exp10)
{
    static const double p10[18] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                   1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};
    double a = fabs(d);
    /* Fast path, exact for these magnitudes: m / 10^k with m < 2^50 and k <= 17 is one
     * correctly rounded division of two exact doubles, so it equals strtod("m e-k"); the
     * smallest k whose rounded m gives back `a` has the fewest digits, and only one m can
     * (the round-trip interval is narrower than 1/8 in units of m). */
    if (a >= 1e-4 && a < 1e15) {
        for (int k = 0; k < 18; k++) {
            double y = a * p10[k];
            if (y >= 1125899906842624.0) /* 2^50 */
                break;
            double m = floor(y + 0.5);
            if (m / p10[k] != a)
                continue;
            uint64_t u = (uint64_t)m;
            char tmp[24];
            int n = 0;
            do
                tmp[n++] = (char)('0' + u % 10);
            while ((u /= 10) != 0);
            *exp10 = n - 1 - k;
            int nd = 0;
            while (n > 0)
                digits[nd++] = tmp[--n];
            while (nd > 1 && digits[nd - 1] == '0')
                nd--;
            return nd;
        }
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, a);
        if (strtod(tmp, NULL) == a)
            break;
    }
    /* tmp: D[.DDD]e[+-]XX */
    int nd = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    *exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    return nd;
}

static int write_double(mn_buf *out, double d)
{
    if (isnan(d))
        return mn_buf_puts(out, "nan");
    if (isinf(d))
        return mn_buf_puts(out, d < 0 ? "-inf" : "inf");
    char digits[24];
    int exp;
    size_t nd = (size_t)mn__double_digits(d, digits, &exp);
    bool neg = signbit(d) != 0;
    int rc = 0;
    if (neg)
        rc |= mn_buf_putc(out, '-');
    if (exp >= -5 + 1 && exp < 16) {
        if (exp < 0) {
            rc |= mn_buf_puts(out, "0.");
            for (int i = -1; i > exp; i--)
                rc |= mn_buf_putc(out, '0');
            rc |= mn_buf_append(out, digits, nd);
        } else {
            size_t intd = (size_t)exp + 1;
            for (size_t i = 0; i < intd; i++)
                rc |= mn_buf_putc(out, i < nd ? digits[i] : '0');
            rc |= mn_buf_putc(out, '.');
            if (nd > intd)
                rc |= mn_buf_append(out, digits + intd, nd - intd);
            else
                rc |= mn_buf_putc(out, '0');
        }
    } else {
        rc |= mn_buf_putc(out, digits[0]);
        if (nd > 1) {
            rc |= mn_buf_putc(out, '.');
            rc |= mn_buf_append(out, digits + 1, nd - 1);
        }
        rc |= mn_buf_printf(out, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    return rc ? MN_ENOMEM : MN_OK;
}

static int write_offset(mn_buf *out, int32_t off)
{
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    return mn_buf_printf(out, "%c%02d:%02d", sign, off / 3600, off / 60 % 60);
}

static int write_time(mn_buf *out, const mn_datetime *t)
{
    int rc = mn_buf_printf(out, "%02d:%02d:%02d", t->hour, t->minute, t->second);
    if (!rc && t->microsecond)
        rc = mn_buf_printf(out, ".%06d", t->microsecond);
    if (!rc && t->aware)
        rc = write_offset(out, t->utc_offset);
    return rc;
}

/* Python's repr escapes what str.isprintable() rejects: the C1 controls, no-break and other
 * Unicode spaces, soft hyphen and format characters (the common ones are listed). */
static bool repr_nonprintable(mn_str s, size_t i, mn_buf *out, int *rc)
{
    const unsigned char *p = (const unsigned char *)s.ptr + i;
    uint32_t cp;
    if (p[0] >= 0xF0)
        return false;
    if (p[0] < 0xE0)
        cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    else if (i + 2 < s.len)
        cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    else
        return false;
    if (cp <= 0xA0 || cp == 0xAD)
        *rc = mn_buf_printf(out, "\\x%02x", cp);
    else if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
             (cp >= 0x205F && cp <= 0x2064) || cp == 0x3000 || cp == 0xFEFF || cp == 0x1680)
        *rc = mn_buf_printf(out, "\\u%04x", cp);
    else
        return false;
    return true;
}

static int write_repr_str(mn_buf *out, mn_str s)
{
    bool has_single = memchr(s.ptr, '\'', s.len) != NULL;
    bool has_double = memchr(s.ptr, '"', s.len) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    int rc = mn_buf_putc(out, q);
    for (size_t i = 0; i < s.len && !rc; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '\\')
            rc = mn_buf_puts(out, "\\\\");
        else if (c == (unsigned char)q)
            rc = mn_buf_printf(out, "\\%c", q);
        else if (c == '\n')
            rc = mn_buf_puts(out, "\\n");
        else if (c == '\r')
            rc = mn_buf_puts(out, "\\r");
        else if (c == '\t')
            rc = mn_buf_puts(out, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = mn_buf_printf(out, "\\x%02x", c);
        else if (c >= 0xC2 && i + 1 < s.len && repr_nonprintable(s, i, out, &rc))
            i += c >= 0xE0 ? 2 : 1;
        else
            rc = mn_buf_putc(out, (char)c);
    }
    return rc ? rc : mn_buf_putc(out, q);
}

static int write_value(const mn_value *v, mn_arena *a, mn_buf *out, bool repr, int depth);

static int write_items(const mn_value *v, mn_arena *a, mn_buf *out, int depth)
{
    int rc = 0;
    if (v->kind == MN_VALUE_LIST) {
        rc = mn_buf_putc(out, '[');
        for (size_t i = 0; i < v->u.list.len && !rc; i++) {
            if (i)
                rc = mn_buf_puts(out, ", ");
            if (!rc)
                rc = write_value(v->u.list.items[i], a, out, true, depth + 1);
        }
        return rc ? rc : mn_buf_putc(out, ']');
    }
    rc = mn_buf_putc(out, '{');
    for (size_t i = 0; i < v->u.dict.len && !rc; i++) {
        if (i)
            rc = mn_buf_puts(out, ", ");
        if (!rc)
            rc = write_repr_str(out, v->u.dict.entries[i].key);
        if (!rc)
            rc = mn_buf_puts(out, ": ");
        if (!rc)
            rc = write_value(v->u.dict.entries[i].value, a, out, true, depth + 1);
    }
    return rc ? rc : mn_buf_putc(out, '}');
}

static int write_value(const mn_value *v, mn_arena *a, mn_buf *out, bool repr, int depth)
{
    if (depth > 64)
        return mn_buf_puts(out, "[...]");
    if (!v)
        return mn_buf_puts(out, "None");
    const mn_datetime *t = &v->u.dt;
    switch (v->kind) {
    case MN_VALUE_NONE: return mn_buf_puts(out, "None");
    case MN_VALUE_BOOL: return mn_buf_puts(out, v->u.b ? "True" : "False");
    case MN_VALUE_INT: return mn_buf_put_i64(out, v->u.i);
    case MN_VALUE_DOUBLE: return write_double(out, v->u.d);
    case MN_VALUE_DECIMAL:
        if (repr && !v->wide_int) {
            int rc = mn_buf_puts(out, "Decimal('");
            rc |= mn_buf_put_str(out, v->u.str);
            rc |= mn_buf_puts(out, "')");
            return rc ? MN_ENOMEM : MN_OK;
        }
        return mn_buf_put_str(out, v->u.str);
    case MN_VALUE_STRING:
        return repr ? write_repr_str(out, v->u.str) : mn_buf_put_str(out, v->u.str);
    case MN_VALUE_DATE:
        if (repr)
            return mn_buf_printf(out, "datetime.date(%d, %d, %d)", t->year, t->month, t->day);
        return mn_buf_printf(out, "%04d-%02d-%02d", t->year, t->month, t->day);
    case MN_VALUE_DATETIME: {
        if (repr) {
            int rc = mn_buf_printf(out, "datetime.datetime(%d, %d, %d, %d, %d", t->year, t->month,
                                   t->day, t->hour, t->minute);
            if (!rc && (t->second || t->microsecond))
                rc = mn_buf_printf(out, ", %d", t->second);
            if (!rc && t->microsecond)
                rc = mn_buf_printf(out, ", %d", t->microsecond);
            if (!rc && t->aware && t->utc_offset == 0)
                rc = mn_buf_puts(out, ", tzinfo=datetime.timezone.utc");
            return rc ? rc : mn_buf_putc(out, ')');
        }
        int rc = mn_buf_printf(out, "%04d-%02d-%02d ", t->year, t->month, t->day);
        return rc ? rc : write_time(out, t);
    }
    case MN_VALUE_TIME:
        if (repr) {
            int rc = mn_buf_printf(out, "datetime.time(%d, %d", t->hour, t->minute);
            if (!rc && (t->second || t->microsecond))
                rc = mn_buf_printf(out, ", %d", t->second);
            if (!rc && t->microsecond)
                rc = mn_buf_printf(out, ", %d", t->microsecond);
            return rc ? rc : mn_buf_putc(out, ')');
        }
        return write_time(out, t);
    case MN_VALUE_LIST:
    case MN_VALUE_DICT: return write_items(v, a, out, depth);
    case MN_VALUE_OBJECT: {
        const mn_value_class *c = v->u.obj.cls;
        int rc = 0;
        if (repr && c && c->to_string && c->to_string_is_repr)
            return c->to_string(v->u.obj.self, a, out);
        if (repr)
            rc = mn_buf_printf(out, "<%s: ", c && c->name ? c->name : "object");
        if (!rc && c && c->to_string)
            rc = c->to_string(v->u.obj.self, a, out);
        else if (!rc)
            rc = mn_buf_printf(out, "%s object", c && c->name ? c->name : "object");
        if (!rc && repr)
            rc = mn_buf_putc(out, '>');
        return rc;
    }
    }
    return MN_OK;
}

int mn_value_write_text(const mn_value *v, mn_arena *a, mn_buf *out)
{
    return write_value(v, a, out, false, 0);
}

int mn_value_write_repr(const mn_value *v, mn_arena *a, mn_buf *out)
{
    return write_value(v, a, out, true, 0);
}

int mn_value_to_text(const mn_value *v, mn_arena *a, mn_str *out)
{
    if (v && v->kind == MN_VALUE_STRING) {
        *out = v->u.str;
        return MN_OK;
    }
    mn_buf b;
    mn_buf_init(&b, a);
    int rc = write_value(v, a, &b, false, 0);
    if (rc < 0)
        return rc;
    if (!mn_buf_cstr(&b))
        return MN_ENOMEM;
    out->ptr = b.data ? b.data : "";
    out->len = b.len;
    return MN_OK;
}

/* ---- Why a callback failed. ---- */

/* Per thread; set just before the failing callback returns and read as the render reports
 * it, with no yield in between, so coroutines on one thread do not see each other's. */
static _Thread_local char fail_text[512];
static _Thread_local int fail_code;

void mn_value_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fail_text, sizeof fail_text, fmt, ap);
    va_end(ap);
    fail_code = err;
}

const char *mn_value_strerror(int err)
{
    if (err == 0 || err != fail_code || !fail_text[0])
        return mn_strerror(err);
    fail_code = 0;
    return fail_text; /* stays valid until the next mn_value_fail on this thread */
}

/* ---- Iteration and lookup. ---- */

int mn_value_iterate(const mn_value *v, mn_arena *a, mn_value **out_list)
{
    if (!v)
        return MN_EINVAL;
    switch (v->kind) {
    case MN_VALUE_LIST: *out_list = (mn_value *)v; return MN_OK;
    case MN_VALUE_DICT: {
        mn_value *l = mn_value_list(a, v->u.dict.len);
        if (!l)
            return MN_ENOMEM;
        for (size_t i = 0; i < v->u.dict.len; i++) {
            mn_str k = v->u.dict.entries[i].key;
            mn_value *kv = mn_value_str_ref(a, k.ptr, k.len);
            if (!kv || mn_value_list_append(a, l, kv) < 0)
                return MN_ENOMEM;
        }
        *out_list = l;
        return MN_OK;
    }
    case MN_VALUE_STRING: {
        mn_value *l = mn_value_list(a, v->u.str.len);
        if (!l)
            return MN_ENOMEM;
        const char *s = v->u.str.ptr;
        size_t n = v->u.str.len;
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80)
                j++;
            /* iterating a SafeString gives plain str characters, as in Python */
            mn_value *cv = str_value(a, MN_VALUE_STRING, s + i, j - i, false, false);
            if (!cv || mn_value_list_append(a, l, cv) < 0)
                return MN_ENOMEM;
            i = j;
        }
        *out_list = l;
        return MN_OK;
    }
    case MN_VALUE_OBJECT:
        if (v->u.obj.cls && v->u.obj.cls->iterate) {
            int rc = v->u.obj.cls->iterate(v->u.obj.self, a, out_list);
            if (rc == 0 && (!*out_list || (*out_list)->kind != MN_VALUE_LIST))
                return MN_EINVAL;
            return rc;
        }
        return MN_EINVAL;
    default: return MN_EINVAL;
    }
}

static bool index_of(mn_str name, size_t *out)
{
    if (!name.len || name.len > 18)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < name.len; i++) {
        if (name.ptr[i] < '0' || name.ptr[i] > '9')
            return false;
        n = n * 10 + (size_t)(name.ptr[i] - '0');
    }
    *out = n;
    return true;
}

static int dict_method(const mn_value *v, mn_str name, mn_arena *a, mn_value **out)
{
    bool items = mn_str_eq_cstr(name, "items");
    bool keys = mn_str_eq_cstr(name, "keys");
    bool values = mn_str_eq_cstr(name, "values");
    if (!items && !keys && !values)
        return MN_ENOTFOUND;
    mn_value *l = mn_value_list(a, v->u.dict.len);
    if (!l)
        return MN_ENOMEM;
    for (size_t i = 0; i < v->u.dict.len; i++) {
        const mn_value_dict_entry *e = &v->u.dict.entries[i];
        mn_value *item;
        if (values) {
            item = e->value;
        } else {
            mn_value *k = mn_value_str_ref(a, e->key.ptr, e->key.len);
            if (!k)
                return MN_ENOMEM;
            item = k;
            if (items) {
                item = mn_value_list(a, 2);
                if (!item || mn_value_list_append(a, item, k) < 0 ||
                    mn_value_list_append(a, item, e->value) < 0)
                    return MN_ENOMEM;
            }
        }
        if (mn_value_list_append(a, l, item) < 0)
            return MN_ENOMEM;
    }
    *out = l;
    return MN_OK;
}

static int string_method(const mn_value *v, mn_str name, mn_arena *a, mn_value **out)
{
    bool upper = mn_str_eq_cstr(name, "upper"), lower = mn_str_eq_cstr(name, "lower");
    if (upper || lower) {
        char *p = mn_arena_strndup(a, v->u.str.ptr, v->u.str.len);
        if (!p)
            return MN_ENOMEM;
        for (size_t i = 0; i < v->u.str.len; i++) {
            if (upper && p[i] >= 'a' && p[i] <= 'z')
                p[i] = (char)(p[i] - 32);
            if (lower && p[i] >= 'A' && p[i] <= 'Z')
                p[i] = (char)(p[i] + 32);
        }
        *out = str_value(a, MN_VALUE_STRING, p, v->u.str.len, false, false);
        return *out ? MN_OK : MN_ENOMEM;
    }
    if (mn_str_eq_cstr(name, "strip")) {
        mn_str s = v->u.str;
        while (s.len &&
               (s.ptr[0] == ' ' || s.ptr[0] == '\t' || s.ptr[0] == '\n' || s.ptr[0] == '\r'))
            s.ptr++, s.len--;
        while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t' ||
                         s.ptr[s.len - 1] == '\n' || s.ptr[s.len - 1] == '\r'))
            s.len--;
        *out = str_value(a, MN_VALUE_STRING, s.ptr, s.len, false, false);
        return *out ? MN_OK : MN_ENOMEM;
    }
    return MN_ENOTFOUND;
}

static int date_attribute(const mn_value *v, mn_str name, mn_arena *a, mn_value **out)
{
    static const char *const date_names[] = {"year", "month", "day", NULL};
    static const char *const time_names[] = {"hour", "minute", "second", "microsecond", NULL};
    const mn_datetime *t = &v->u.dt;
    const int32_t dvals[] = {t->year, t->month, t->day};
    const int32_t tvals[] = {t->hour, t->minute, t->second, t->microsecond};
    if (v->kind != MN_VALUE_TIME)
        for (int i = 0; date_names[i]; i++)
            if (mn_str_eq_cstr(name, date_names[i]))
                return (*out = mn_value_int(a, dvals[i])) ? MN_OK : MN_ENOMEM;
    if (v->kind != MN_VALUE_DATE)
        for (int i = 0; time_names[i]; i++)
            if (mn_str_eq_cstr(name, time_names[i]))
                return (*out = mn_value_int(a, tvals[i])) ? MN_OK : MN_ENOMEM;
    return MN_ENOTFOUND;
}

int mn_value_lookup(const mn_value *v, mn_str name, mn_arena *a, mn_value **out)
{
    if (!v)
        return MN_ENOTFOUND;
    size_t idx;
    switch (v->kind) {
    case MN_VALUE_DICT: {
        mn_value_dict_entry *e = dict_find(v, name.ptr, name.len);
        if (e) {
            *out = e->value;
            return MN_OK;
        }
        return dict_method(v, name, a, out);
    }
    case MN_VALUE_LIST:
        if (index_of(name, &idx) && idx < v->u.list.len) {
            *out = v->u.list.items[idx];
            return MN_OK;
        }
        return MN_ENOTFOUND;
    case MN_VALUE_STRING: {
        int rc = string_method(v, name, a, out);
        if (rc != MN_ENOTFOUND)
            return rc;
        if (!index_of(name, &idx))
            return MN_ENOTFOUND;
        const char *s = v->u.str.ptr;
        size_t n = v->u.str.len, i = 0, k = 0;
        while (i < n) {
            size_t j = i + 1;
            while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80)
                j++;
            if (k++ == idx) {
                *out = str_value(a, MN_VALUE_STRING, s + i, j - i, false, v->safe);
                return *out ? MN_OK : MN_ENOMEM;
            }
            i = j;
        }
        return MN_ENOTFOUND;
    }
    case MN_VALUE_DATE:
    case MN_VALUE_DATETIME:
    case MN_VALUE_TIME: return date_attribute(v, name, a, out);
    case MN_VALUE_OBJECT: {
        const mn_value_class *c = v->u.obj.cls;
        if (c && c->get) {
            int rc = c->get(v->u.obj.self, name, a, out);
            if (rc == 0 && !*out)
                *out = &none_value;
            if (rc != MN_ENOTFOUND)
                return rc;
        }
        if (c && c->iterate && index_of(name, &idx)) {
            mn_value *l;
            int rc = c->iterate(v->u.obj.self, a, &l);
            if (rc < 0)
                return rc;
            mn_value *item = mn_value_list_get(l, idx);
            if (!item)
                return MN_ENOTFOUND;
            *out = item;
            return MN_OK;
        }
        return MN_ENOTFOUND;
    }
    default: return MN_ENOTFOUND;
    }
}

/* ---- Comparison. ---- */

static bool numeric(const mn_value *v, double *out)
{
    if (!mn_value_is_number(v))
        return false;
    return mn_value_to_double(v, out) == 0;
}

static int64_t date_key(const mn_datetime *t)
{
    /* days from civil, good enough for ordering */
    int64_t y = t->year, m = t->month;
    if (m <= 2)
        y--, m += 12;
    return 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + t->day;
}

static int64_t moment_key(const mn_datetime *t, bool with_date)
{
    int64_t secs = (int64_t)t->hour * 3600 + t->minute * 60 + t->second;
    if (with_date)
        secs += date_key(t) * 86400;
    if (t->aware)
        secs -= t->utc_offset;
    return secs * 1000000 + t->microsecond;
}

/* Comparisons with a wide int (an integer JSON gave beyond int64) are exact, as Python's:
 * two wide ints by their digits, a wide int and an int by the wide one's sign (it lies
 * outside int64's range). Through doubles, 2**63 would equal 2**63 - 1. False when neither
 * side is a wide int or the other side is no integer. */
static int cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static bool is_wide(const mn_value *v)
{
    return v->kind == MN_VALUE_DECIMAL && v->wide_int;
}

static bool wide_compare(const mn_value *x, const mn_value *y, int *out)
{
    if (!is_wide(x) && !is_wide(y))
        return false;
    if (!is_wide(y)) {
        if (y->kind != MN_VALUE_INT && y->kind != MN_VALUE_BOOL)
            return false;
        *out = x->u.str.ptr[0] == '-' ? -1 : 1;
        return true;
    }
    if (!is_wide(x)) {
        if (!wide_compare(y, x, out))
            return false;
        *out = -*out;
        return true;
    }
    bool xneg = x->u.str.ptr[0] == '-', yneg = y->u.str.ptr[0] == '-';
    if (xneg != yneg) {
        *out = xneg ? -1 : 1;
        return true;
    }
    /* same sign, no leading zeros: the longer is larger in magnitude, then digit order */
    int mag = cmp_i64((int64_t)x->u.str.len, (int64_t)y->u.str.len);
    if (!mag) {
        int c = memcmp(x->u.str.ptr, y->u.str.ptr, x->u.str.len);
        mag = (c > 0) - (c < 0);
    }
    *out = xneg ? -mag : mag;
    return true;
}

bool mn_value_equal(const mn_value *x, const mn_value *y)
{
    if (!x)
        x = &none_value;
    if (!y)
        y = &none_value;
    if (x == y)
        return true;
    double a, b;
    if (x->kind == MN_VALUE_INT && y->kind == MN_VALUE_INT)
        return x->u.i == y->u.i;
    int wide;
    if (wide_compare(x, y, &wide))
        return wide == 0;
    if (numeric(x, &a) && numeric(y, &b))
        return a == b;
    if (x->kind != y->kind)
        return false;
    switch (x->kind) {
    case MN_VALUE_NONE: return true;
    case MN_VALUE_STRING: return mn_str_eq(x->u.str, y->u.str);
    case MN_VALUE_DATE: return date_key(&x->u.dt) == date_key(&y->u.dt);
    case MN_VALUE_DATETIME:
        if (x->u.dt.aware != y->u.dt.aware)
            return false;
        return moment_key(&x->u.dt, true) == moment_key(&y->u.dt, true);
    case MN_VALUE_TIME: return moment_key(&x->u.dt, false) == moment_key(&y->u.dt, false);
    case MN_VALUE_LIST:
        if (x->u.list.len != y->u.list.len)
            return false;
        for (size_t i = 0; i < x->u.list.len; i++)
            if (!mn_value_equal(x->u.list.items[i], y->u.list.items[i]))
                return false;
        return true;
    case MN_VALUE_DICT:
        if (x->u.dict.len != y->u.dict.len)
            return false;
        for (size_t i = 0; i < x->u.dict.len; i++) {
            mn_str k = x->u.dict.entries[i].key;
            mn_value *o = mn_value_dict_get(y, k.ptr, k.len);
            if (!o || !mn_value_equal(x->u.dict.entries[i].value, o))
                return false;
        }
        return true;
    case MN_VALUE_OBJECT:
        if (x->u.obj.cls != y->u.obj.cls)
            return false;
        if (x->u.obj.self == y->u.obj.self)
            return true;
        return x->u.obj.cls && x->u.obj.cls->equal &&
               x->u.obj.cls->equal(x->u.obj.self, y->u.obj.self);
    default: return false;
    }
}

int mn_value_compare(const mn_value *x, const mn_value *y, int *out)
{
    if (!x)
        x = &none_value;
    if (!y)
        y = &none_value;
    double a, b;
    if (x->kind == MN_VALUE_INT && y->kind == MN_VALUE_INT) {
        *out = cmp_i64(x->u.i, y->u.i);
        return MN_OK;
    }
    if (wide_compare(x, y, out))
        return MN_OK;
    if (numeric(x, &a) && numeric(y, &b)) {
        if (isnan(a) || isnan(b))
            return MN_EINVAL;
        *out = (a > b) - (a < b);
        return MN_OK;
    }
    if (x->kind != y->kind)
        return MN_EINVAL;
    switch (x->kind) {
    case MN_VALUE_STRING: {
        size_t n = x->u.str.len < y->u.str.len ? x->u.str.len : y->u.str.len;
        int c = n ? memcmp(x->u.str.ptr, y->u.str.ptr, n) : 0;
        *out = c ? (c > 0) - (c < 0) : cmp_i64((int64_t)x->u.str.len, (int64_t)y->u.str.len);
        return MN_OK;
    }
    case MN_VALUE_DATE: *out = cmp_i64(date_key(&x->u.dt), date_key(&y->u.dt)); return MN_OK;
    case MN_VALUE_DATETIME:
        if (x->u.dt.aware != y->u.dt.aware)
            return MN_EINVAL;
        *out = cmp_i64(moment_key(&x->u.dt, true), moment_key(&y->u.dt, true));
        return MN_OK;
    case MN_VALUE_TIME:
        *out = cmp_i64(moment_key(&x->u.dt, false), moment_key(&y->u.dt, false));
        return MN_OK;
    case MN_VALUE_LIST: {
        size_t n = x->u.list.len < y->u.list.len ? x->u.list.len : y->u.list.len;
        for (size_t i = 0; i < n; i++) {
            if (mn_value_equal(x->u.list.items[i], y->u.list.items[i]))
                continue;
            return mn_value_compare(x->u.list.items[i], y->u.list.items[i], out);
        }
        *out = cmp_i64((int64_t)x->u.list.len, (int64_t)y->u.list.len);
        return MN_OK;
    }
    default: return MN_EINVAL;
    }
}
