/* manouche/value.h — the values every layer hands to templates (and that filters return).
 *
 * A value is a small tagged struct living in an arena: none, bool, int, double, decimal
 * (digits kept as text), string (with a `safe` flag: Django's SafeString), date, datetime,
 * time, list, dict (ordered, string keys) and object. An object is a pointer plus a class
 * table of callbacks; the ORM plugs model instances and lazy querysets in through it. Object
 * callbacks may park the coroutine (MN_MAY_YIELD): a queryset runs its query when a template
 * first iterates it, a foreign key loads its row when a template first reads it.
 *
 * Ownership: values never own memory; they point into arenas (or static storage) and die with
 * them. The none/true/false/empty-string singletons are static and may be used anywhere.
 * Values are immutable once handed to a template, except lists and dicts that their builder
 * still fills. */
#ifndef MANOUCHE_VALUE_H
#define MANOUCHE_VALUE_H

#include <manouche/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_value_kind {
    MN_VALUE_NONE = 0,
    MN_VALUE_BOOL,
    MN_VALUE_INT,
    MN_VALUE_DOUBLE,
    MN_VALUE_DECIMAL,  /* u.str holds the digits: "-12.50" (as Python's Decimal prints) */
    MN_VALUE_STRING,   /* u.str, with flag safe */
    MN_VALUE_DATE,     /* u.dt: year, month, day */
    MN_VALUE_DATETIME, /* u.dt: every field; aware when dt.aware */
    MN_VALUE_TIME,     /* u.dt: hour, minute, second, microsecond (aware when dt.aware) */
    MN_VALUE_LIST,
    MN_VALUE_DICT,
    MN_VALUE_OBJECT,
} mn_value_kind;

/* Calendar date, wall-clock time and an optional fixed UTC offset (an "aware" value). */
typedef struct mn_datetime {
    int32_t year;
    int32_t month;       /* 1..12 */
    int32_t day;         /* 1..31 */
    int32_t hour;        /* 0..23 */
    int32_t minute;      /* 0..59 */
    int32_t second;      /* 0..59 */
    int32_t microsecond; /* 0..999999 */
    int32_t utc_offset;  /* seconds east of UTC, meaningful when aware */
    bool aware;
    const char *tzname; /* "UTC", "CET", ... or NULL (then the offset names it: "+0100") */
} mn_datetime;

typedef struct mn_value mn_value;
typedef struct mn_value_class mn_value_class;
typedef struct mn_value_dict_entry mn_value_dict_entry;
typedef struct mn_value_slice mn_value_slice;

struct mn_value {
    mn_value_kind kind;
    bool safe; /* strings: already HTML-safe (mark_safe); never escaped again */
    /* DECIMAL: a Python int too wide for int64 (from JSON), kept as its digits; its repr
     * is the digits, not Decimal('...') */
    bool wide_int;
    union {
        bool b;
        int64_t i;
        double d;
        mn_str str; /* STRING and DECIMAL */
        mn_datetime dt;
        struct {
            mn_value **items;
            size_t len, cap;
        } list;
        struct {
            mn_value_dict_entry *entries;
            size_t len, cap;
            struct mn_value_dict_index *index; /* a hash of the keys once the dict is large */
        } dict;
        struct {
            const mn_value_class *cls;
            void *self;
        } obj;
    } u;
};

struct mn_value_dict_entry {
    mn_str key;
    mn_value *value;
};

/* The class table of an object value. Every callback is optional (NULL); the defaults are
 * noted. `arena` is where results are allocated (the render's arena). Callbacks that may run
 * a query are MN_MAY_YIELD and run on the rendering coroutine. */
struct mn_value_class {
    const char *name; /* the type's name, for messages ("Question") */
    /* Attribute (or key) `name`: field, FK (loads the related row), reverse relation,
     * method with no argument (get_absolute_url, get_FOO_display, all, count ...), or an
     * index ("0") on a sequence. Sets *out and returns 0; MN_ENOTFOUND when there is no such
     * attribute; another negative code on failure (the render fails with it). */
    int (*get)(void *self, mn_str name, mn_arena *arena, mn_value **out) MN_MAY_YIELD;
    /* The items, in order, as a list value (a lazy queryset runs its query here, once).
     * Default: not iterable (a for loop over it renders nothing). 0 or a negative code. */
    int (*iterate)(void *self, mn_arena *arena, mn_value **out_list) MN_MAY_YIELD;
    /* Number of items (length filter, forloop.revcounter, |length_is). Default: iterate. */
    int (*length)(void *self, mn_arena *arena, int64_t *out) MN_MAY_YIELD;
    /* Appends Python's str() of the object (unescaped text). Default: "<NAME object>". */
    int (*to_string)(void *self, mn_arena *arena, mn_buf *out) MN_MAY_YIELD;
    /* Truth as Python's bool(): 1 true, 0 false, negative code on failure. Default: length
     * when iterate or length exist, else true. */
    int (*truth)(void *self, mn_arena *arena) MN_MAY_YIELD;
    /* Equality with another object of the same class (==, ifchanged, regroup). Default: same
     * self pointer. */
    bool (*equal)(void *self, void *other);
    /* Set true when to_string's text is already HTML-safe (a form widget, a SafeString). */
    bool to_string_is_safe;
    /* Set true when to_string already writes Python's repr (a QuerySet's str is its repr,
     * "<QuerySet [...]>"); otherwise a repr is "<NAME: to_string>", as a Django model's. */
    bool to_string_is_repr;
    /* Python's self[start:stop:step] for the slice filter, so a lazy sequence slices without
     * fetching every item (a queryset becomes a LIMIT/OFFSET queryset, as Django's). Sets
     * *out and returns 0; MN_EUNSUPPORTED to have the filter slice the iterated items
     * instead; MN_EINVAL where Python would raise ValueError/TypeError (the filter returns
     * the value unchanged, as Django's); another negative code on failure. Default: the
     * items are sliced. */
    int (*slice)(void *self, const mn_value_slice *s, mn_arena *arena, mn_value **out) MN_MAY_YIELD;
};

/* A callback failing with code `err` may say why (the ORM's "Choice has no field 'bogus';
 * ..."): the render's message then carries this text instead of mn_strerror(err). */
void mn_value_fail(int err, const char *fmt, ...) MN_PRINTF(2, 3);
/* The text a callback gave with mn_value_fail for err (taken: asked once), else
 * mn_strerror(err). Never NULL. */
const char *mn_value_strerror(int err);

/* The bounds of a slice: has_* false where the bound was left out ("::2", ":5"). */
struct mn_value_slice {
    bool has_start, has_stop, has_step;
    int64_t start, stop, step;
};

/* ---- Singletons (static, never freed). ---- */
mn_value *mn_value_none(void);
mn_value *mn_value_true(void);
mn_value *mn_value_false(void);
mn_value *mn_value_bool(bool b);
mn_value *mn_value_empty_string(void); /* "" (not safe) */

/* ---- Constructors: values allocated in `a`. NULL when memory runs out. ---- */
mn_value *mn_value_int(mn_arena *a, int64_t i);
mn_value *mn_value_double(mn_arena *a, double d);
/* Digits as Python's str(Decimal) writes them: "-1.50", "0", "1E+2" ... (copied). */
mn_value *mn_value_decimal(mn_arena *a, const char *digits, size_t len);
/* A string, copied into the arena. */
mn_value *mn_value_str(mn_arena *a, const char *s, size_t len);
mn_value *mn_value_cstr(mn_arena *a, const char *s);
/* A string that points at s without copying: s must outlive the arena's use. */
mn_value *mn_value_str_ref(mn_arena *a, const char *s, size_t len);
/* Safe (already escaped) strings, as Django's mark_safe: copied / not copied. */
mn_value *mn_value_safe(mn_arena *a, const char *s, size_t len);
mn_value *mn_value_safe_ref(mn_arena *a, const char *s, size_t len);
/* The string value `v` marked safe (a copy of the value struct; strings only, other values are
 * converted with mn_value_to_text first). */
mn_value *mn_value_mark_safe(mn_arena *a, const mn_value *v);
mn_value *mn_value_date(mn_arena *a, int year, int month, int day);
mn_value *mn_value_datetime(mn_arena *a, const mn_datetime *dt);
mn_value *mn_value_time(mn_arena *a, const mn_datetime *t); /* hour..microsecond, aware */
mn_value *mn_value_list(mn_arena *a, size_t capacity_hint);
mn_value *mn_value_dict(mn_arena *a, size_t capacity_hint);
mn_value *mn_value_object(mn_arena *a, const mn_value_class *cls, void *self);

/* ---- Lists and dicts. ---- */
/* Appends item (not copied) to a list value. 0 or MN_ENOMEM / MN_EINVAL (not a list). */
int mn_value_list_append(mn_arena *a, mn_value *list, mn_value *item);
size_t mn_value_list_len(const mn_value *list);              /* 0 for a non-list */
mn_value *mn_value_list_get(const mn_value *list, size_t i); /* NULL out of range */
/* Sets key (copied) to val; replaces an existing key in place (order kept, as Python's). */
int mn_value_dict_set(mn_arena *a, mn_value *dict, const char *key, size_t key_len, mn_value *val);
int mn_value_dict_set_cstr(mn_arena *a, mn_value *dict, const char *key, mn_value *val);
mn_value *mn_value_dict_get(const mn_value *dict, const char *key, size_t key_len);
size_t mn_value_dict_len(const mn_value *dict);
mn_str mn_value_dict_key(const mn_value *dict, size_t i);
mn_value *mn_value_dict_value(const mn_value *dict, size_t i);

/* ---- Accessors and conversions (Python's semantics, since templates copy Django's). ---- */
mn_value_kind mn_value_kind_of(const mn_value *v); /* NULL counts as none */
bool mn_value_is_none(const mn_value *v);
bool mn_value_is_string(const mn_value *v);
bool mn_value_is_safe(const mn_value *v);   /* a safe string (or safe object) */
bool mn_value_is_number(const mn_value *v); /* bool, int, double or decimal */
mn_str mn_value_string(const mn_value *v);  /* a string's text; empty otherwise */
/* Python's bool(v): 1 true, 0 false, or a negative code (an object's query failed). */
int mn_value_truth(const mn_value *v, mn_arena *a) MN_MAY_YIELD;
/* Python's int(v) for bool/int/double/decimal/numeric strings. 0 or MN_EINVAL. */
int mn_value_to_int(const mn_value *v, int64_t *out);
/* Python's float(v) for numbers and numeric strings. 0 or MN_EINVAL. */
int mn_value_to_double(const mn_value *v, double *out);
/* Python's str(v) appended to out: "None", "True", "1.5" (shortest repr), "2008-01-02",
 * "['a', 1]", "{'k': 'v'}"; objects use their to_string. 0 or a negative code. */
int mn_value_write_text(const mn_value *v, mn_arena *a, mn_buf *out) MN_MAY_YIELD;
/* The same, as a slice in the arena (a string value's own text without copying). */
int mn_value_to_text(const mn_value *v, mn_arena *a, mn_str *out) MN_MAY_YIELD;
/* Python's repr(v) appended to out ('a' quoted as Python quotes it). */
int mn_value_write_repr(const mn_value *v, mn_arena *a, mn_buf *out) MN_MAY_YIELD;
/* Python's len(v): strings (in code points), lists, dicts, objects. MN_EINVAL for others. */
int mn_value_length(const mn_value *v, mn_arena *a, int64_t *out) MN_MAY_YIELD;
/* The items a for loop visits, as a list: a list itself, a dict's keys, a string's
 * characters, an object's iterate(). MN_EINVAL when v is not iterable. */
int mn_value_iterate(const mn_value *v, mn_arena *a, mn_value **out_list) MN_MAY_YIELD;
/* Django's variable lookup of one path segment: dict key, then attribute (object get), then
 * list index. 0 and *out, MN_ENOTFOUND, or another negative code. */
int mn_value_lookup(const mn_value *v, mn_str name, mn_arena *a, mn_value **out) MN_MAY_YIELD;
/* Python's ==, with 1 == 1.0 == True and decimal compared by value. */
bool mn_value_equal(const mn_value *x, const mn_value *y);
/* Python's ordering: *out < 0, 0 or > 0; MN_EINVAL when Python would raise TypeError. */
int mn_value_compare(const mn_value *x, const mn_value *y, int *out);

/* ---- JSON -> value (for the CLI and tests). Objects become dicts (key order kept), arrays
 * lists, integers int, reals double. Tagged one-key objects make the other kinds:
 * {"__date__": "2008-01-02"}, {"__datetime__": "2008-01-02T03:04:05[.ffffff][Z|+01:00]"},
 * {"__time__": "03:04:05"}, {"__decimal__": "1.50"}, {"__safe__": "<b>ok</b>"}.
 * On failure returns NULL and, when errbuf is given, a message naming line and column. */
mn_value *mn_value_from_json(mn_arena *a, const char *json, size_t len, char *errbuf,
                             size_t errbuf_size);
/* The same from an already parsed jansson json_t* (passed as void* to keep jansson out). */
mn_value *mn_value_from_jansson(mn_arena *a, const void *json_t_ptr);

/* Parses "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]][Z|±HH:MM]" or "HH:MM[:SS[.ffffff]]".
 * 0 or MN_EINVAL. kind gets MN_VALUE_DATE, MN_VALUE_DATETIME or MN_VALUE_TIME. */
int mn_datetime_parse(const char *s, size_t len, mn_datetime *out, mn_value_kind *kind);

#ifdef __cplusplus
}
#endif
#endif
