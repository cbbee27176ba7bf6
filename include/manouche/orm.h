/* manouche/orm.h — models, querysets, relations, transactions and signals (Django's ORM).
 *
 * A model is declared once, as an X-macro field list (DESIGN.md section 1):
 *
 *     #define QUESTION_FIELDS(F)                                        \
 *         F(id,       MN_BIGAUTO)                                       \
 *         F(text,     MN_CHAR,     .max_length = 200)                   \
 *         F(pub_date, MN_DATETIME, .verbose_name = "date published")
 *     MN_MODEL(Question, QUESTION_FIELDS)              (in a header: the typed struct)
 *     MN_MODEL_DEFINE(Question, polls, QUESTION_FIELDS, .ordering = "-pub_date")  (in one .c)
 *
 * MN_MODEL gives `typedef struct Question { mn_obj _mn; int64_t id; const char *text;
 * mn_datetime pub_date; } Question;` and MN_MODEL_DEFINE the runtime metadata (mn_model
 * Question_model), registered in the app registry before main() runs. An abstract base's
 * fields are a list reused inside another list (`#define POST_FIELDS(F) STAMPED_FIELDS(F)
 * F(...)`); `.base = &Stamped_model` gives the child its Meta options and methods too.
 *
 * Queries go through an mn_orm: the per-request session (arena, borrowed connection,
 * transaction stack, query log, error detail). QuerySets are lazy, immutable and chainable;
 * each call returns a new one in the session's arena. Values are passed as mn_arg, built by
 * MN_ARG(x) from any C scalar, string, mn_datetime*, instance, expression or queryset:
 *
 *     mn_qs *latest = mn_qs_order_by(mn_all(o, Question), "-pub_date");
 *     Question *q = mn_get(mn_all(o, Question), "pk", 3);
 *     int64_t n = mn_update(mn_filter(mn_all(o, Choice), "question", q), "votes",
 *                           mn_F_add(o, "votes", 1));
 *
 * Errors: functions return NULL or a negative code and keep a message naming the model, the
 * path and the closest valid name in mn_orm_error() ("Question has no field 'pub_dte'; did
 * you mean 'pub_date'?"). All SQL uses bound parameters and quoted identifiers. */
#ifndef MANOUCHE_ORM_H
#define MANOUCHE_ORM_H

#include <manouche/core.h>
#include <manouche/db.h>
#include <manouche/value.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Error codes, in addition to core.h's and db.h's (MN_EDB_INTEGRITY...). ---- */
enum {
    MN_EDOES_NOT_EXIST = -120, /* get(): no row (Model.DoesNotExist) */
    MN_EMULTIPLE = -121,       /* get(): more than one row (MultipleObjectsReturned) */
    MN_EPROTECTED = -122,      /* delete blocked by on_delete=PROTECT (ProtectedError) */
    MN_ERESTRICTED = -123,     /* delete blocked by on_delete=RESTRICT (RestrictedError) */
    MN_EFIELD = -124,          /* unknown field, lookup or relation (FieldError) */
    MN_EVALIDATION = -125,     /* full_clean found errors (ValidationError) */
    /* a query in an atomic block after one failed in it (TransactionManagementError) */
    MN_ETRANSACTION_MANAGEMENT = -126,
    MN_EPAGE_NOT_AN_INTEGER = -130, /* a page number that is not an integer (PageNotAnInteger) */
    MN_EEMPTY_PAGE = -131,          /* a page number out of range (EmptyPage) */
};
const char *mn_orm_strerror(int err); /* also knows core.h's and db.h's codes */

/* ---- Field types. ---- */
typedef enum mn_ftype {
    MN_AUTO = 1,
    MN_BIGAUTO,
    MN_SMALLAUTO,
    MN_SMALLINT,
    MN_INT,
    MN_BIGINT,
    MN_POSSMALLINT,
    MN_POSINT,
    MN_POSBIGINT,
    MN_FLOAT,
    MN_DECIMAL,
    MN_BOOL,
    MN_CHAR,
    MN_TEXT,
    MN_EMAIL,
    MN_URL,
    MN_SLUG,
    MN_FILEPATH,
    MN_GENERICIP,
    MN_DATE,
    MN_DATETIME,
    MN_TIME,
    MN_DURATION,
    MN_UUID,
    MN_JSON,
    MN_BINARY,
    MN_FK,
    MN_O2O,
    MN_M2M
} mn_ftype;

/* The C type of each field in the model struct. Integers are int64_t; decimals are exact
 * text ("12.50"); date/datetime/time are mn_datetime (datetimes in UTC, aware); duration is
 * microseconds; uuid is its canonical 36-character text; JSON is its text; binary a slice.
 * A foreign key holds the related primary key (or its to_field's value) and, once loaded, the
 * related instance. The key is `id` when that key is an integer (the usual case), `key`
 * when it is text (a CharField or UUIDField with primary_key): city->country.key = "FR". */
typedef struct mn_fk {
    int64_t id;      /* the related row's integer primary key (Django's question_id) */
    void *obj;       /* the related instance once loaded (select_related, mn_fk_get), or NULL */
    const char *key; /* the related row's text primary key (country_id = "FR"), or NULL */
} mn_fk;
typedef struct mn_m2m {
    char unused_; /* M2M has no column: use mn_m2m_all/add/remove/set/clear */
} mn_m2m;
#define MN__CT_MN_AUTO int64_t
#define MN__CT_MN_BIGAUTO int64_t
#define MN__CT_MN_SMALLAUTO int64_t
#define MN__CT_MN_SMALLINT int64_t
#define MN__CT_MN_INT int64_t
#define MN__CT_MN_BIGINT int64_t
#define MN__CT_MN_POSSMALLINT int64_t
#define MN__CT_MN_POSINT int64_t
#define MN__CT_MN_POSBIGINT int64_t
#define MN__CT_MN_FLOAT double
#define MN__CT_MN_DECIMAL const char *
#define MN__CT_MN_BOOL bool
#define MN__CT_MN_CHAR const char *
#define MN__CT_MN_TEXT const char *
#define MN__CT_MN_EMAIL const char *
#define MN__CT_MN_URL const char *
#define MN__CT_MN_SLUG const char *
#define MN__CT_MN_FILEPATH const char *
#define MN__CT_MN_GENERICIP const char *
#define MN__CT_MN_DATE mn_datetime
#define MN__CT_MN_DATETIME mn_datetime
#define MN__CT_MN_TIME mn_datetime
#define MN__CT_MN_DURATION int64_t
#define MN__CT_MN_UUID const char *
#define MN__CT_MN_JSON const char *
#define MN__CT_MN_BINARY mn_str
#define MN__CT_MN_FK mn_fk
#define MN__CT_MN_O2O mn_fk
#define MN__CT_MN_M2M mn_m2m

typedef enum mn_on_delete {
    MN_CASCADE = 1,
    MN_PROTECT,
    MN_RESTRICT,
    MN_SET_NULL,
    MN_SET_DEFAULT,
    MN_DO_NOTHING
} mn_on_delete;

/* Django's editable=True default expressed so that a zero-initialised option means "unset". */
typedef enum mn_tristate { MN_UNSET = 0, MN_YES = 1, MN_NO = 2 } mn_tristate;

typedef struct mn_choice {
    const char *value; /* stored value (as text; integers as "1") */
    const char *label; /* human label (get_FOO_display) */
} mn_choice;

struct mn_orm;
struct mn_fielddef;
struct mn_model;
typedef struct mn_orm mn_orm;
typedef struct mn_fielddef mn_fielddef;
typedef struct mn_model mn_model;

/* A field validator: 0 when the value is fine, else MN_EVALIDATION with a message in *msg
 * (arena or static). The value is the field in obj. */
typedef int (*mn_validator_fn)(const mn_fielddef *field, const void *obj, mn_arena *arena,
                               const char **msg);
/* A default computed per new instance (Django's callable default): sets the field in obj. */
typedef void (*mn_default_fn)(const mn_fielddef *field, void *obj, mn_arena *arena);

/* A field: its name and type (set by the macros), options (designated initialisers in the
 * field list), and data resolved when the registry is ready. Max 64 fields per model. */
struct mn_fielddef {
    const char *name;
    mn_ftype type;
    size_t offset;
    /* options (Django's Field arguments) */
    int max_length; /* CharField etc.; 0: unlimited for TEXT, error for CHAR */
    bool null, blank, unique, db_index, primary_key;
    mn_tristate editable; /* MN_NO for editable=False */
    const char *verbose_name;
    const char *help_text;
    const char *db_column;
    const mn_choice *choices; /* array ending with {NULL, NULL} */
    int64_t default_int;      /* default for integer, bool, duration fields */
    double default_float;
    const char *default_str; /* default for text-like, decimal, uuid, json, date fields */
    bool default_bool;
    mn_default_fn default_fn;
    mn_validator_fn validators[4];
    int max_digits, decimal_places; /* DecimalField */
    bool auto_now, auto_now_add;    /* DateField/DateTimeField */
    /* relations */
    const char *to; /* "app.Model", "Model" (same app) or "self" */
    mn_on_delete on_delete;
    const char *related_name; /* reverse accessor; default "<model>_set"; "+" for none */
    const char *through;      /* M2M explicit through model "app.Model" */
    /* FK/O2O: the unique field of the target the column holds (Django's to_field); NULL: its
     * primary key. An integer field's value goes in the mn_fk's id, a text one's in its key. */
    const char *to_field;
    /* resolved by the registry (read-only for users) */
    const mn_model *model;
    const mn_model *rel_model;     /* FK/O2O/M2M target */
    const mn_model *through_model; /* M2M: auto-created or explicit */
    const mn_fielddef *rel_field;  /* FK/O2O: the target field (to_field, else the pk) */
    const char *column;            /* db_column or name (FK: name_id) */
    int index;                     /* position in the model's field array */
};

/* Meta: constraints and indexes. */
typedef enum mn_constraint_kind {
    MN_CONSTRAINT_UNIQUE = 1,
    MN_CONSTRAINT_CHECK
} mn_constraint_kind;
typedef struct mn_constraint {
    mn_constraint_kind kind;
    const char *name;
    const char *fields; /* UNIQUE: comma-separated field names */
    /* CHECK: a condition as lookups, "price__gte=0,price__lte=100". UNIQUE: when given,
     * the fields are unique among the rows matching it only, a partial unique index
     * (Django's UniqueConstraint(condition=Q(...))) */
    const char *check;
} mn_constraint;
typedef struct mn_index {
    const char *name;   /* NULL: generated */
    const char *fields; /* comma-separated, "-" prefix for descending */
} mn_index;

/* A model's metadata; MN_MODEL_DEFINE fills it. Meta options are designated initialisers. */
struct mn_model {
    const char *name; /* "Question" */
    const char *app;  /* "polls" */
    size_t size;      /* sizeof(Question) */
    mn_fielddef *(*fields_get)(size_t *n);
    /* Meta */
    const char *db_table; /* default "<app>_<model lowercased>" */
    const char *ordering; /* comma-separated, "-" for descending, "?" random */
    const char *verbose_name;
    const char *verbose_name_plural;
    const char *unique_together;      /* "a,b;c,d" */
    const mn_constraint *constraints; /* ends with a zeroed entry */
    const mn_index *indexes;          /* ends with a zeroed entry */
    const char *get_latest_by;
    bool abstract;
    bool managed_no; /* managed=False: schema code skips it */
    /* __str__ and get_absolute_url (optional) */
    const char *(*str)(const void *obj, mn_arena *arena);
    const char *(*absolute_url)(const void *obj, mn_arena *arena);
    /* An abstract model this one extends (Django's `class Post(Stamped)` with Stamped's Meta
     * abstract = True): the registry gives every Meta option and method left unset here the
     * base's (through a chain of bases): ordering, get_latest_by, unique_together,
     * constraints, indexes (names prefixed with this model's table), str, absolute_url. Not
     * db_table, verbose_name(_plural) nor abstract. It adds no field: the field list still
     * includes the base's list macro. */
    const mn_model *base;
    /* resolved by the registry */
    mn_fielddef *fields;
    size_t nfields;
    const mn_fielddef *pk;
    bool auto_created; /* an implicit M2M through table */
    void *rt_;         /* internal */
};

/* Every instance starts with this header (the struct's first member, `_mn`). */
typedef struct mn_obj {
    const mn_model *model;
    mn_orm *orm;       /* the session it was loaded in (lazy relations, templates) */
    uint64_t nulls;    /* bit i: field i is NULL */
    uint64_t deferred; /* bit i: field i was not loaded (only/defer) */
    bool persisted;    /* loaded from or saved to the database (not _state.adding) */
    const char *db;    /* the alias of the database it came from or was saved to (Django's
                        * _state.db); NULL for a new instance */
    void *extra;       /* internal: annotations, prefetch caches */
} mn_obj;

#define MN__FDECL(name, T, ...) MN__CT_##T name;
#define MN__FDEF(fname_, T, ...)                                                                   \
    {.name = #fname_, .type = T, .offset = offsetof(mn__model_t, fname_), __VA_ARGS__},

/* MN_MODEL(Name, FIELDS): in a header, the typed struct and the metadata's declaration
 * (then MN_MODEL_DEFINE in one .c file).
 * MN_MODEL(Name, app, FIELDS, meta...): everything in one line, usable in a header included
 * by many files (the metadata is a weak definition the linker keeps once), as DESIGN.md's
 * sketch writes it. */
#define MN_MODEL(...) MN__CAT(MN__MODEL_, MN__NARG(__VA_ARGS__))(__VA_ARGS__)
#define MN__MODEL_2(Name, FIELDS)                                                                  \
    typedef struct Name {                                                                          \
        mn_obj _mn;                                                                                \
        FIELDS(MN__FDECL)                                                                          \
    } Name;                                                                                        \
    extern mn_model Name##_model
#define MN__MODEL_FULL(Name, App, FIELDS, ...)                                                     \
    MN__MODEL_2(Name, FIELDS);                                                                     \
    static mn_fielddef *Name##__fields_get(size_t *n)                                              \
    {                                                                                              \
        typedef Name mn__model_t;                                                                  \
        static mn_fielddef fields[] = {FIELDS(MN__FDEF)};                                          \
        *n = sizeof fields / sizeof fields[0];                                                     \
        return fields;                                                                             \
    }                                                                                              \
    __attribute__((weak)) mn_model Name##_model = {.name = #Name,                                  \
                                                   .app = #App,                                    \
                                                   .size = sizeof(Name),                           \
                                                   .fields_get = Name##__fields_get,               \
                                                   __VA_ARGS__};                                   \
    __attribute__((constructor)) static void Name##__register(void)                                \
    {                                                                                              \
        mn_model_register(&Name##_model);                                                          \
    }
#define MN__MODEL_3(...) MN__MODEL_FULL(__VA_ARGS__, )
#define MN__MODEL_4 MN__MODEL_FULL
#define MN__MODEL_5 MN__MODEL_FULL
#define MN__MODEL_6 MN__MODEL_FULL
#define MN__MODEL_7 MN__MODEL_FULL
#define MN__MODEL_8 MN__MODEL_FULL
#define MN__MODEL_9 MN__MODEL_FULL
#define MN__MODEL_10 MN__MODEL_FULL
#define MN__MODEL_11 MN__MODEL_FULL
#define MN__MODEL_12 MN__MODEL_FULL
#define MN__MODEL_13 MN__MODEL_FULL
#define MN__MODEL_14 MN__MODEL_FULL
#define MN__MODEL_15 MN__MODEL_FULL
#define MN__MODEL_16 MN__MODEL_FULL

/* In exactly one .c file: the metadata (Meta options as designated initialisers) and its
 * registration before main(). Choices must be a named static array (C forbids compound
 * literals in a function's static initialiser). */
#define MN_MODEL_DEFINE(Name, App, FIELDS, ...)                                                    \
    static mn_fielddef *Name##__fields_get(size_t *n)                                              \
    {                                                                                              \
        typedef Name mn__model_t;                                                                  \
        static mn_fielddef fields[] = {FIELDS(MN__FDEF)};                                          \
        *n = sizeof fields / sizeof fields[0];                                                     \
        return fields;                                                                             \
    }                                                                                              \
    mn_model Name##_model = {.name = #Name,                                                        \
                             .app = #App,                                                          \
                             .size = sizeof(Name),                                                 \
                             .fields_get = Name##__fields_get,                                     \
                             __VA_ARGS__};                                                         \
    __attribute__((constructor)) static void Name##__register(void)                                \
    {                                                                                              \
        mn_model_register(&Name##_model);                                                          \
    }                                                                                              \
    typedef int Name##__define_needs_semicolon

/* ---- Registry ---- */
void mn_model_register(mn_model *model);
/* Resolves relations (by "app.Model" name), creates implicit M2M through models and reverse
 * accessors. Called lazily by every entry point; 0 or MN_EFIELD with the reason in *why. */
int mn_models_ready(const char **why);
const mn_model *mn_model_lookup(const char *app_dot_model); /* "polls.Question" or NULL */
size_t mn_model_count(void);
const mn_model *mn_model_at(size_t i); /* registration order; auto-created ones last */
const mn_fielddef *mn_model_field(const mn_model *m, const char *name); /* "pk" works too */
const char *mn_model_table(const mn_model *m);
const char *mn_model_verbose_name(const mn_model *m, bool plural, mn_arena *arena);

/* ---- Arguments: one tagged value for filters, updates, creates. Build with MN_ARG(x). ---- */
struct mn_qs;
struct mn_expr;
struct mn_q;
typedef struct mn_qs mn_qs;
typedef struct mn_expr mn_expr;
typedef struct mn_q mn_q;

typedef enum mn_argtype {
    MN_ARG_NULL = 0,
    MN_ARG_INT,
    MN_ARG_FLOAT,
    MN_ARG_BOOL,
    MN_ARG_STR,
    MN_ARG_DATETIME,
    MN_ARG_INSTANCE,
    MN_ARG_EXPR,
    MN_ARG_QS,
    MN_ARG_LIST,
    MN_ARG_BYTES,
    MN_ARG_VALUE
} mn_argtype;
typedef struct mn_arg {
    mn_argtype type;
    union {
        int64_t i;
        double f;
        bool b;
        const char *s;
        const mn_datetime *dt;
        const void *obj; /* an instance (its primary key is used) */
        const mn_expr *expr;
        const mn_qs *qs; /* a subquery (in) */
        struct {
            const struct mn_arg *items;
            size_t n;
        } list;
        mn_str bytes;
        const mn_value *value;
    } v;
} mn_arg;

mn_arg mn_arg_null(void);
mn_arg mn_arg_int(int64_t i);
mn_arg mn_arg_uint(uint64_t u);
mn_arg mn_arg_float(double f);
mn_arg mn_arg_bool(bool b);
mn_arg mn_arg_str(const char *s); /* NULL gives SQL NULL */
mn_arg mn_arg_dt(const mn_datetime *dt);
mn_arg mn_arg_obj(const void *instance);
mn_arg mn_arg_expr(const mn_expr *e);
mn_arg mn_arg_qs(const mn_qs *qs);
mn_arg mn_arg_list(const mn_arg *items, size_t n);
mn_arg mn_arg_bytes(const void *p, size_t n);
mn_arg mn_arg_value(const mn_value *v); /* a template value (int, str, date...) */
mn_arg mn_arg_ints(const int64_t *items, size_t n, mn_arena *arena);
mn_arg mn_arg_strs(const char *const *items, size_t n, mn_arena *arena);

#ifndef __cplusplus
#define MN_ARG(x)                                                                                  \
    _Generic((x), _Bool: mn_arg_bool, char: mn_arg_int, signed char: mn_arg_int,           \
             unsigned char: mn_arg_int, short: mn_arg_int, unsigned short: mn_arg_int,     \
             int: mn_arg_int, unsigned: mn_arg_int, long: mn_arg_int,                      \
             unsigned long: mn_arg_uint, long long: mn_arg_int,                            \
             unsigned long long: mn_arg_uint, float: mn_arg_float, double: mn_arg_float,   \
             char *: mn_arg_str, const char *: mn_arg_str, mn_datetime *: mn_arg_dt,       \
             const mn_datetime *: mn_arg_dt, mn_expr *: mn_arg_expr,                       \
             const mn_expr *: mn_arg_expr, mn_qs *: mn_arg_qs, const mn_qs *: mn_arg_qs,   \
             mn_arg: mn_arg_id_, mn_value *: mn_arg_value, const mn_value *: mn_arg_value, \
             default: mn_arg_obj)(x)
#endif
mn_arg mn_arg_id_(mn_arg a);
/* `"pk__in", MN_IN(1, 2, 3)` and `MN_IN_STR("a", "b")`. */
#define MN_IN(...)                                                                                 \
    mn_arg_ints((const int64_t[]){__VA_ARGS__},                                                    \
                sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t), NULL)
#define MN_IN_STR(...)                                                                             \
    mn_arg_strs((const char *const[]){__VA_ARGS__},                                                \
                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), NULL)

/* A (name, value) pair: lookups for filter, field values for create/update. */
typedef struct mn_kv {
    const char *key;
    mn_arg value;
} mn_kv;

/* Pairs from a flat `"key", value, "key2", value2` list (up to 8 pairs). */
#define MN__KV(k, v)                                                                               \
    {                                                                                              \
        (k), MN_ARG(v)                                                                             \
    }
#define MN__P2(k, v) MN__KV(k, v)
#define MN__P4(k, v, ...) MN__KV(k, v), MN__P2(__VA_ARGS__)
#define MN__P6(k, v, ...) MN__KV(k, v), MN__P4(__VA_ARGS__)
#define MN__P8(k, v, ...) MN__KV(k, v), MN__P6(__VA_ARGS__)
#define MN__P10(k, v, ...) MN__KV(k, v), MN__P8(__VA_ARGS__)
#define MN__P12(k, v, ...) MN__KV(k, v), MN__P10(__VA_ARGS__)
#define MN__P14(k, v, ...) MN__KV(k, v), MN__P12(__VA_ARGS__)
#define MN__P16(k, v, ...) MN__KV(k, v), MN__P14(__VA_ARGS__)
#define MN__NARG(...) MN__NARG_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define MN__NARG_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, ...) N
#define MN__CAT(a, b) MN__CAT_(a, b)
#define MN__CAT_(a, b) a##b
#define MN_KVS(...) ((const mn_kv[]){MN__CAT(MN__P, MN__NARG(__VA_ARGS__))(__VA_ARGS__)})
#define MN_NKV(...) ((size_t)MN__NARG(__VA_ARGS__) / 2)

/* ---- Session ---- */
/* A session over `db` (the "default" database) whose memory is `arena` (a request's). The
 * connection is borrowed on first use and given back when the arena is reset or freed (or
 * by mn_orm_close). */
mn_orm *mn_orm_new(mn_arena *arena, mn_db *db);
/* Adds another database for using("alias"). */
int mn_orm_add_db(mn_orm *o, mn_db *db);
/* A router: the alias for reading (write=false) or writing a model, as Django's
 * db_for_read/db_for_write. NULL is no opinion: the database of the instance the operation is
 * about (its `_mn.db`), else "default"; so a primary/replica router names "default" for
 * writes. */
void mn_orm_set_router(mn_orm *o, const char *(*route)(const mn_model *m, bool write, void *u),
                       void *user);
/* Inside a router: the instance the operation is about (Django's instance= hint: the one
 * saved, deleted, refreshed, or whose relation is followed), NULL when there is none. */
const void *mn_orm_route_instance(const mn_orm *o);
/* A router's allow_relation (Django's): whether obj1 may be assigned to a foreign key or
 * one-to-one of obj2, or added to obj2's many-to-many; 1 yes, 0 no, -1 no opinion. Without an
 * answer a relation is allowed only between instances of one database (a foreign key's side
 * without a database first takes the one the router writes it to, by default the other
 * side's), so a primary/replica router says yes for its pool. Refused: MN_EINVAL. */
void mn_orm_set_allow_relation(mn_orm *o,
                               int (*allow)(const void *obj1, const void *obj2, void *user),
                               void *user);
void mn_orm_close(mn_orm *o) MN_MAY_YIELD; /* rolls back an open transaction */
mn_arena *mn_orm_arena(mn_orm *o);
mn_db *mn_orm_db(mn_orm *o, const char *alias); /* NULL alias: default */
/* The connection for alias (NULL: default), borrowing it now if needed. NULL on failure. */
mn_dbconn *mn_orm_conn(mn_orm *o, const char *alias) MN_MAY_YIELD;
const char *mn_orm_error(const mn_orm *o); /* the last failure's message, "" if none */
int mn_orm_errcode(const mn_orm *o);       /* the last failure's code, 0 if none */
void mn_orm_clear_error(mn_orm *o);
/* Every query of this session goes to log (NULL stops). For assert_num_queries. */
void mn_orm_set_log(mn_orm *o, mn_dblog *log);
/* In DEBUG: logs a warning (logger "orm") when one session runs the same SELECT more than
 * `threshold` times: the N+1 pattern select_related/prefetch_related fix (writes are not
 * counted). It names the line of the view that built the queryset (mn_all) or loaded the
 * relation (mn_fk_get). 0 turns it off. */
void mn_orm_warn_repeats(mn_orm *o, int threshold);
/* Called by MN_FOREACH when its query fails, with the error in mn_orm_errcode/mn_orm_error; it
 * may not return (the web layer's ends the view). Without one (NULL), the loop does not run
 * and the caller checks mn_orm_errcode. */
typedef void (*mn_orm_raise_fn)(mn_orm *o, void *user);
void mn_orm_set_raise(mn_orm *o, mn_orm_raise_fn fn, void *user);
/* How many times the most repeated statement of this session ran (for tests). */
int mn_orm_max_repeats(const mn_orm *o);
/* Creates the tables (and indexes, M2M tables) of every registered concrete model, in
 * dependency order; with if_not_exists, tables already there are skipped. */
int mn_orm_create_tables(mn_orm *o, bool if_not_exists) MN_MAY_YIELD;
/* Drops the tables of every registered concrete model (children first). */
int mn_orm_drop_tables(mn_orm *o) MN_MAY_YIELD;
/* The DDL statements for one model in a dialect (what migrations will drive), in arena. */
int mn_schema_sql(const mn_model *m, mn_dbdialect dialect, mn_arena *arena, mn_buf *out);

/* ---- Instances ---- */
/* A new unsaved instance with its defaults applied (arena memory). */
void *mn_obj_new(mn_orm *o, const mn_model *m);
#define mn_new(o, Model) ((Model *)mn_obj_new((o), &Model##_model))
/* Field access by name (for generic code, forms, the admin). */
int mn_obj_set(mn_orm *o, void *obj, const char *field, mn_arg value);
bool mn_obj_is_null(const void *obj, const char *field);
void mn_obj_set_null(void *obj, const char *field, bool is_null);
/* The field as a template value (NULL -> none). */
mn_value *mn_obj_get_value(mn_orm *o, const void *obj, const char *field);
/* An annotation computed by annotate() or a related count, or NULL. */
mn_value *mn_obj_annotation(const void *obj, const char *name);
/* The primary key when it is an integer (0 when unset, or when the pk is text). */
int64_t mn_obj_pk(const void *obj);
/* The primary key as text, whatever its type ("3", "FR", a uuid); NULL when unset. */
const char *mn_obj_pk_text(mn_orm *o, const void *obj);
/* A default_fn for a UUIDField: a random (version 4) uuid, as Django's default=uuid.uuid4. */
void mn_default_uuid4(const mn_fielddef *field, void *obj, mn_arena *arena);
/* get_FOO_display: the label of the field's choice, or the value as text. */
const char *mn_obj_display(mn_orm *o, const void *obj, const char *field);
/* str(obj): the model's str callback or "Question object (3)". */
const char *mn_obj_str(mn_orm *o, const void *obj);

/* Saves (INSERT for a new instance, UPDATE otherwise; auto primary key filled in). It goes
 * to the router's write database for obj, else the database obj came from, else "default". */
int mn_save(mn_orm *o, void *obj) MN_MAY_YIELD;
/* save(using=alias): saves to that database (an instance read elsewhere is copied there: an
 * UPDATE of the row with its key, else an INSERT), which obj then belongs to. */
int mn_save_using(mn_orm *o, void *obj, const char *alias) MN_MAY_YIELD;
/* save(update_fields=[...]): comma-separated field names (or attnames, "question_id"); the
 * primary key is refused; "" saves nothing and sends no signal; NULL saves every field. */
int mn_save_fields(mn_orm *o, void *obj, const char *fields) MN_MAY_YIELD;
/* save(force_insert=, force_update=, update_fields=, using=): force_insert always INSERTs (a
 * key that is taken is an IntegrityError), force_update always UPDATEs (no row:
 * MN_EDOES_NOT_EXIST "Forced update did not affect any rows."); both, or force_insert with
 * update_fields, is MN_EINVAL "Cannot force both insert and updating in model saving.".
 * NULL opts: mn_save. */
typedef struct mn_save_opts {
    bool force_insert, force_update;
    const char *update_fields; /* as mn_save_fields; NULL: every field */
    const char *db;            /* as mn_save_using (Django's using=); NULL: routed */
} mn_save_opts;
int mn_save_ex(mn_orm *o, void *obj, const mn_save_opts *opts) MN_MAY_YIELD;
/* Reloads every field from the database (refresh_from_db). */
int mn_refresh(mn_orm *o, void *obj) MN_MAY_YIELD;
/* refresh_from_db(fields=[...]): reloads only the comma-separated fields (NULL: all). */
int mn_refresh_fields(mn_orm *o, void *obj, const char *fields) MN_MAY_YIELD;

/* What a delete removed: per model label ("polls.Choice"), as Django's delete() returns. */
typedef struct mn_delete_report {
    int64_t total;
    size_t n;
    struct {
        const char *label;
        int64_t count;
    } * items;
} mn_delete_report;
/* Deletes obj and what its relations' on_delete says; report may be NULL. Returns rows
 * deleted or a negative code (MN_EPROTECTED/MN_ERESTRICTED with the blocking relations named
 * in mn_orm_error, the rows in mn_delete_blocked_objects). A row already gone deletes 0; when
 * nothing could follow from obj (no delete signal receivers, every foreign key to its model
 * DO_NOTHING, no M2M), report still names the model, with 0, as Django's fast path. */
int64_t mn_delete(mn_orm *o, void *obj, mn_delete_report *report) MN_MAY_YIELD;

/* Creates and saves an instance from (field, value) pairs. NULL on failure. */
void *mn_create_kv(mn_orm *o, const mn_model *m, const mn_kv *kv, size_t n) MN_MAY_YIELD;
#define mn_create(o, Model, ...)                                                                   \
    ((Model *)mn_create_kv((o), &Model##_model, MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__)))

/* Related objects: loads (and caches in fk->obj) the instance a FK field points to. */
void *mn_fk_get_at(mn_orm *o, void *obj, const char *field, const char *file,
                   int line) MN_MAY_YIELD;
/* (file and line name the caller in the N+1 warning) */
#define mn_fk_get(o, obj, field) mn_fk_get_at((o), (obj), (field), __FILE__, __LINE__)
/* A reverse or M2M relation as a queryset: mn_related(o, q, "choices"). */
mn_qs *mn_related_at(mn_orm *o, const void *obj, const char *accessor, const char *file, int line);
/* (file and line name the caller in the N+1 warning) */
#define mn_related(o, obj, accessor) mn_related_at((o), (obj), (accessor), __FILE__, __LINE__)
int mn_m2m_add(mn_orm *o, void *obj, const char *field, const void *const *others,
               size_t n) MN_MAY_YIELD;
int mn_m2m_remove(mn_orm *o, void *obj, const char *field, const void *const *others,
                  size_t n) MN_MAY_YIELD;
int mn_m2m_clear(mn_orm *o, void *obj, const char *field) MN_MAY_YIELD;
int mn_m2m_set(mn_orm *o, void *obj, const char *field, const void *const *others,
               size_t n) MN_MAY_YIELD;
/* add() on a relation with an explicit through model, with values for the through rows'
 * other fields (Django's through_defaults); fields not named take their defaults. The
 * mn_m2m_* calls work from either side: mn_m2m_add(o, tag, "books", ...) by related_name. */
int mn_m2m_add_through(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n,
                       const mn_kv *through_defaults, size_t nd) MN_MAY_YIELD;
/* set() with through_defaults for the rows it adds. */
int mn_m2m_set_through(mn_orm *o, void *obj, const char *field, const void *const *others, size_t n,
                       const mn_kv *through_defaults, size_t nd) MN_MAY_YIELD;

/* ---- Expressions: F(), values, arithmetic, aggregates. Allocated in the session. ---- */
mn_expr *mn_F(mn_orm *o, const char *field_path);
mn_expr *mn_V(mn_orm *o, mn_arg value);
mn_expr *mn_expr_op(mn_orm *o, char op, const mn_expr *a, const mn_expr *b); /* + - * / */
mn_expr *mn_F_add(mn_orm *o, const char *field_path, int64_t n);             /* F(field) + n */
mn_expr *mn_Count(mn_orm *o, const char *field_path, bool distinct, const mn_q *filter);
mn_expr *mn_Sum(mn_orm *o, const char *field_path, const mn_q *filter);
mn_expr *mn_Avg(mn_orm *o, const char *field_path, const mn_q *filter);
mn_expr *mn_Min(mn_orm *o, const char *field_path, const mn_q *filter);
mn_expr *mn_Max(mn_orm *o, const char *field_path, const mn_q *filter);
/* An aggregate's default= (Django 4.0): Sum/Avg/Min/Max give `value` instead of None over no
 * rows, or for a group with none, as Coalesce(aggregate, value) in SQL (so annotations
 * compare and order with it). The value is read as one of the aggregated field's (a decimal
 * "0.00", a date "2020-01-01"). A copy of agg; NULL with MN_EINVAL for Count, which is 0 over
 * no rows ("Count does not allow default."), or for an expression that is not an aggregate. */
mn_expr *mn_agg_default(mn_orm *o, const mn_expr *agg, mn_arg value);

/* ---- Q objects ---- */
mn_q *mn_Q_kv(mn_orm *o, const mn_kv *kv, size_t n); /* AND of the lookups */
#define mn_Q(o, ...) mn_Q_kv((o), MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__))
mn_q *mn_q_and(mn_orm *o, const mn_q *a, const mn_q *b);
mn_q *mn_q_or(mn_orm *o, const mn_q *a, const mn_q *b);
mn_q *mn_q_not(mn_orm *o, const mn_q *a);

/* ---- QuerySets: every call returns a new queryset (NULL in, NULL out: errors carry). ---- */
mn_qs *mn_qs_all(mn_orm *o, const mn_model *m);
/* The same, remembering where in the view it was built (for the N+1 warning). */
mn_qs *mn_qs_all_at(mn_orm *o, const mn_model *m, const char *file, int line);
#define mn_all(o, Model) mn_qs_all_at((o), &Model##_model, __FILE__, __LINE__)
mn_qs *mn_qs_none(mn_orm *o, const mn_model *m);
mn_qs *mn_qs_filter_kv(mn_qs *qs, const mn_kv *kv, size_t n);
mn_qs *mn_qs_exclude_kv(mn_qs *qs, const mn_kv *kv, size_t n);
#define mn_filter(qs, ...) mn_qs_filter_kv((qs), MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__))
#define mn_exclude(qs, ...) mn_qs_exclude_kv((qs), MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__))
mn_qs *mn_qs_filter_q(mn_qs *qs, const mn_q *q);
mn_qs *mn_qs_exclude_q(mn_qs *qs, const mn_q *q);
/* Comma-separated fields, "-" descending, "?" random, "choice__votes" across relations. */
mn_qs *mn_qs_order_by(mn_qs *qs, const char *fields);
mn_qs *mn_qs_reverse(mn_qs *qs);
mn_qs *mn_qs_distinct(mn_qs *qs);
/* Python's qs[start:stop] (stop < 0: no upper bound). */
mn_qs *mn_qs_slice(mn_qs *qs, int64_t start, int64_t stop);
mn_qs *mn_qs_values(mn_qs *qs, const char *fields);                 /* rows as dicts */
mn_qs *mn_qs_values_list(mn_qs *qs, const char *fields, bool flat); /* rows as lists */
/* values() rows hold each field as Django's from_db_value gives it: a JSONField's decoded
 * document (dict, list, string, number...), a DurationField's timedelta (an object printing
 * as "1 day, 2:03:04"), whose microseconds this reads: true when v is a timedelta. */
bool mn_value_duration(const mn_value *v, int64_t *us);
mn_qs *mn_qs_only(mn_qs *qs, const char *fields);
mn_qs *mn_qs_defer(mn_qs *qs, const char *fields);
mn_qs *mn_qs_select_related(mn_qs *qs, const char *paths);   /* "question", "a__b" */
mn_qs *mn_qs_prefetch_related(mn_qs *qs, const char *paths); /* reverse FK and M2M */
/* Prefetches one accessor with a custom queryset (Prefetch("choices", queryset=...)); for a
 * nested path ("choices__votes") it is the last level's; a sliced one (qs[:2]) slices the
 * rows of each instance (reverse FK and M2M), as Django 4.2+. */
mn_qs *mn_qs_prefetch(mn_qs *qs, const char *accessor, mn_qs *custom);
/* Prefetch(accessor, queryset=custom, to_attr=...): the last level's rows go to to_attr, read
 * with mn_obj_prefetched (and {{ obj.to_attr }} in templates), leaving the relation itself
 * unloaded. custom may be NULL. to_attr naming a field or relation is MN_EINVAL ("to_attr=x
 * conflicts with a field on the Question model."). */
mn_qs *mn_qs_prefetch_to_attr(mn_qs *qs, const char *accessor, mn_qs *custom, const char *to_attr);
mn_qs *mn_qs_annotate(mn_qs *qs, const char *name, const mn_expr *e);
/* Every query of the queryset, and every write made through it (update, delete, create,
 * get_or_create, update_or_create; bulk_create with mn_bulk_opts.db), goes to alias. */
mn_qs *mn_qs_using(mn_qs *qs, const char *alias);
/* select_for_update(): SELECT ... FOR UPDATE on PostgreSQL, locking the rows until the
 * atomic block ends; evaluated outside one it fails with MN_ETRANSACTION_MANAGEMENT. SQLite
 * has no row locks and ignores it, as Django does. */
mn_qs *mn_qs_select_for_update(mn_qs *qs);
/* select_for_update(nowait=, skip_locked=, of=, no_key=). */
typedef struct mn_sfu_opts {
    bool nowait;      /* FOR UPDATE NOWAIT: a locked row fails the query (MN_EDB_OPERATIONAL) */
    bool skip_locked; /* FOR UPDATE SKIP LOCKED: leaves out the rows others have locked */
    /* FOR UPDATE OF: comma-separated "self" (the queryset's model) and select_related paths
     * ("author", "author__publisher"); only their rows are locked. Another name fails the
     * query with MN_EFIELD, naming the choices. Ignored by values() querysets, as Django. */
    const char *of;
    bool no_key; /* FOR NO KEY UPDATE: a weaker lock that lets others insert rows pointing here */
} mn_sfu_opts;
/* NULL with MN_EINVAL when both nowait and skip_locked are set. NULL opts: no options. */
mn_qs *mn_qs_select_for_update_opts(mn_qs *qs, const mn_sfu_opts *opts);

/* Evaluation. Results live in the session's arena; a queryset caches its rows. */
typedef struct mn_rows {
    void **items; /* instances, or mn_value* rows for values()/values_list() */
    size_t len;
} mn_rows;
mn_rows *mn_qs_fetch(mn_qs *qs) MN_MAY_YIELD; /* NULL on error */
/* MN_FOREACH's fetch: a loop has no way to return an error, so a failed query calls the
 * session's raise hook (mn_orm_set_raise) before the loop is skipped: in a view, whose session
 * has one, the view ends with 500 (503 for a full pool) as an uncaught exception in Django. */
mn_rows *mn_qs_fetch_or_raise(mn_qs *qs) MN_MAY_YIELD;
/* The rows prefetched on obj under a name: Prefetch(to_attr=...)'s (a forward FK: none or
 * one), or a relation's; NULL when nothing was prefetched there. */
mn_rows *mn_obj_prefetched(const void *obj, const char *to_attr);
#define MN_FOREACH(Type, var, qs)                                                                  \
    for (mn_rows *var##_rows_ = mn_qs_fetch_or_raise(qs); var##_rows_; var##_rows_ = NULL)         \
        for (size_t var##_i_ = 0; var##_i_ < var##_rows_->len; var##_i_++)                         \
            for (Type *var = (Type *)var##_rows_->items[var##_i_]; var; var = NULL)
int64_t mn_qs_count(mn_qs *qs) MN_MAY_YIELD; /* negative code on error */
int mn_qs_exists(mn_qs *qs) MN_MAY_YIELD;    /* 1, 0 or negative */
/* The only row: NULL with MN_EDOES_NOT_EXIST or MN_EMULTIPLE in mn_orm_errcode. */
void *mn_qs_get(mn_qs *qs) MN_MAY_YIELD;
#define mn_get(qs, ...) mn_qs_get(mn_filter((qs), __VA_ARGS__))
void *mn_qs_first(mn_qs *qs) MN_MAY_YIELD; /* NULL when empty (no error) */
void *mn_qs_last(mn_qs *qs) MN_MAY_YIELD;
void *mn_qs_latest(mn_qs *qs, const char *field) MN_MAY_YIELD; /* NULL field: get_latest_by */
void *mn_qs_earliest(mn_qs *qs, const char *field) MN_MAY_YIELD;
/* in_bulk: instances keyed by primary key, as a dict value (keys are the pk as text). */
mn_value *mn_qs_in_bulk(mn_qs *qs, const int64_t *pks, size_t n) MN_MAY_YIELD;
/* The same for text primary keys (CharField/UUIDField pk): keys "FR", "DE"... */
mn_value *mn_qs_in_bulk_strs(mn_qs *qs, const char *const *pks, size_t n) MN_MAY_YIELD;
/* aggregate(): a dict value {name: result}. */
mn_value *mn_qs_aggregate(mn_qs *qs, const char *name, const mn_expr *e) MN_MAY_YIELD;
/* Django's iterator(chunk_size): streams rows through a cursor in chunks of chunk_size (0:
 * 2000), calling fn for each; a chunk's rows (and their prefetched relations, fetched per
 * chunk: one query per prefetch lookup per chunk) are freed before the next, so keep no row
 * past its call. fn returns 0 to go on, anything else stops (and is returned). fn may run
 * queries, writes, atomic blocks and iterators (nested, each with a cursor of its own) on
 * the same connection (on PostgreSQL the cursor is server-side: DECLARE ... WITH HOLD
 * outside a transaction, FETCH per chunk). Writing to the iterated table: PostgreSQL's
 * cursor reads a snapshot and never sees fn's writes; SQLite has no isolation within a
 * connection (Django's caveat): updating rows already read is safe, but rows fn inserts
 * after the cursor's position are read too (inserting a row per row read never ends).
 * values()/values_list() rows stream too. The cursor is closed on every path; refused like
 * any query in an atomic block marked for rollback (MN_ETRANSACTION_MANAGEMENT). */
int mn_qs_iterator(mn_qs *qs, size_t chunk_size, int (*fn)(void *row, void *user),
                   void *user) MN_MAY_YIELD;
/* EXPLAIN (SQLite: EXPLAIN QUERY PLAN) of the queryset's SELECT, one plan line per row, its
 * columns joined by spaces as Django's ("2 0 0 SCAN library_book" on SQLite). */
const char *mn_qs_explain(mn_qs *qs) MN_MAY_YIELD;
/* The SQL and parameter count this queryset would run (for tests, EXPLAIN, debugging). */
const char *mn_qs_sql(mn_qs *qs, size_t *nparams);

/* Writes. */
int64_t mn_qs_update_kv(mn_qs *qs, const mn_kv *kv, size_t n) MN_MAY_YIELD;
#define mn_update(qs, ...) mn_qs_update_kv((qs), MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__))
int64_t mn_qs_delete(mn_qs *qs, mn_delete_report *report) MN_MAY_YIELD;
/* The instances that refused the last mn_delete or mn_qs_delete, which failed with
 * MN_EPROTECTED or MN_ERESTRICTED (Django's ProtectedError.protected_objects and
 * RestrictedError.restricted_objects): each once, by model, in key order. NULL after a delete
 * that was not refused. Valid until the next delete. */
const mn_rows *mn_delete_blocked_objects(const mn_orm *o);
/* create() on the queryset's write database: mn_qs_create(mn_qs_using(qs, "x"), "f", v...). */
void *mn_qs_create_kv(mn_qs *qs, const mn_kv *kv, size_t n) MN_MAY_YIELD;
#define mn_qs_create(qs, ...) mn_qs_create_kv((qs), MN_KVS(__VA_ARGS__), MN_NKV(__VA_ARGS__))
/* get_or_create / update_or_create: lookups select, defaults fill a new row (or update). */
void *mn_qs_get_or_create(mn_qs *qs, const mn_kv *lookups, size_t n, const mn_kv *defaults,
                          size_t nd, bool *created) MN_MAY_YIELD;
void *mn_qs_update_or_create(mn_qs *qs, const mn_kv *lookups, size_t n, const mn_kv *defaults,
                             size_t nd, bool *created) MN_MAY_YIELD;
/* update_or_create(defaults=..., create_defaults=...) (Django 5.0): a row found is updated
 * from defaults (saved with update_fields: their fields and the date/time fields), a new row
 * is filled from the lookups and create_defaults. create_defaults NULL: defaults fill it. */
void *mn_qs_update_or_create_defaults(mn_qs *qs, const mn_kv *lookups, size_t n,
                                      const mn_kv *defaults, size_t nd,
                                      const mn_kv *create_defaults, size_t ncd,
                                      bool *created) MN_MAY_YIELD;
/* bulk_create: inserts objs in batches (0: a default), filling their primary keys. */
typedef struct mn_bulk_opts {
    size_t batch_size;
    bool ignore_conflicts;
    bool update_conflicts;               /* Django's flag; implied by update_conflicts_fields */
    const char *update_conflicts_fields; /* comma-separated: ON CONFLICT DO UPDATE these */
    const char *unique_fields;           /* the conflict target for update_conflicts */
    const char *db;                      /* the database, as using() (NULL: the router's) */
} mn_bulk_opts;
int mn_bulk_create(mn_orm *o, const mn_model *m, void **objs, size_t n,
                   const mn_bulk_opts *opts) MN_MAY_YIELD;
/* bulk_update: sets `fields` (comma-separated) of every obj from its struct, in batches. */
int64_t mn_bulk_update(mn_orm *o, const mn_model *m, void **objs, size_t n, const char *fields,
                       size_t batch_size) MN_MAY_YIELD;

/* Raw SQL with %s placeholders (Django's convention) mapped to the model's fields by column
 * name. */
mn_rows *mn_raw(mn_orm *o, const mn_model *m, const char *sql, const mn_arg *params,
                size_t nparams) MN_MAY_YIELD;
/* A cell read by plain SQL (mn_orm_conn(), or a raw() column no field maps) as the value of
 * field f, as a query gives it: on SQLite a DecimalField's column is the integer scaled by
 * 10^decimal_places, and this gives the Decimal ("1.50") on both databases. NULL: no memory. */
mn_value *mn_field_from_db(mn_orm *o, const mn_fielddef *f, const mn_dbcell *c);
/* The same for a cell read from database alias (mn_orm_conn(o, alias)), decoded as that
 * database stores it, whatever default is (NULL: default). NULL: no memory, or no such
 * database (MN_ENOTFOUND). */
mn_value *mn_field_from_db_using(mn_orm *o, const char *alias, const mn_fielddef *f,
                                 const mn_dbcell *c);

/* ---- Views ---- */
/* get_object_or_404 lives in the web layer (it ends the view); this is the lookup it uses. */

/* ---- Transactions ---- */
/* atomic(): begins a transaction, or a savepoint inside one. 0 or negative. */
int mn_atomic_begin(mn_orm *o) MN_MAY_YIELD;
/* atomic(using=alias): the same on another database. Each database has its own blocks, as
 * each Django connection has: a block on another database inside an open one is a transaction
 * of its own there, committed or rolled back independently; a failed statement marks only the
 * block of its database. mn_atomic_end() ends it. */
int mn_atomic_begin_using(mn_orm *o, const char *alias) MN_MAY_YIELD;
/* Ends the innermost open atomic block, whatever its database: commit (ok) or roll back
 * (!ok). The outermost commit of a database runs its on_commit callbacks; a rollback drops
 * the block's callbacks. */
int mn_atomic_end(mn_orm *o, bool ok) MN_MAY_YIELD;
/* The number of open atomic blocks, on all databases. */
int mn_atomic_depth(const mn_orm *o);
/* Runs fn(arg) after the outermost atomic block on default commits (now if none is open). */
int mn_on_commit(mn_orm *o, void (*fn)(void *arg), void *arg);
/* on_commit(using=alias): after the block open on alias commits; now if none is. */
int mn_on_commit_using(mn_orm *o, const char *alias, void (*fn)(void *arg), void *arg);
/* Runs fn inside an atomic block: committed when fn returns 0, rolled back otherwise. */
int mn_atomic(mn_orm *o, int (*fn)(mn_orm *o, void *arg), void *arg) MN_MAY_YIELD;

/* The request cycle, for the layer that owns requests: begin opens an atomic block when
 * atomic_requests (Django's ATOMIC_REQUESTS); end commits it when the view succeeded (ok) and
 * rolls back everything the view left open otherwise, then gives the connections back. */
int mn_orm_request_begin(mn_orm *o, bool atomic_requests) MN_MAY_YIELD;
int mn_orm_request_end(mn_orm *o, bool ok) MN_MAY_YIELD;

/* ---- Signals ---- */
typedef enum mn_signal {
    MN_PRE_SAVE = 1,
    MN_POST_SAVE,
    MN_PRE_DELETE,
    MN_POST_DELETE,
    MN_M2M_CHANGED
} mn_signal;
/* A receiver; for post_save `created` says insert vs update. A non-zero return from a pre_
 * receiver aborts the operation with that code. sender NULL: every model. */
typedef int (*mn_receiver_fn)(mn_signal sig, const mn_model *sender, void *obj, bool created,
                              mn_orm *o, void *user);
int mn_signal_connect(mn_signal sig, const mn_model *sender, mn_receiver_fn fn, void *user);
void mn_signal_disconnect(mn_signal sig, const mn_model *sender, mn_receiver_fn fn, void *user);
/* m2m_changed (sender: the through model; obj: the instance whose relation changes; created:
 * an add). Each add/remove/clear sends a pre_ and a post_ action; inside the receiver,
 * mn_m2m_changed_info(o) says which, as Django's action, reverse, model and pk_set. */
typedef enum mn_m2m_action {
    MN_M2M_PRE_ADD = 1,
    MN_M2M_POST_ADD,
    MN_M2M_PRE_REMOVE,
    MN_M2M_POST_REMOVE,
    MN_M2M_PRE_CLEAR,
    MN_M2M_POST_CLEAR
} mn_m2m_action;
typedef struct mn_m2m_change {
    mn_m2m_action action;
    const char *action_name; /* "pre_add", "post_add", ... "post_clear" */
    bool reverse;            /* changed from the related_name side (tag.books) */
    const mn_model *model;   /* the model of the objects added or removed */
    const mn_arg *pk_set;    /* their keys (add: only those not linked yet); NULL for clear */
    size_t npk;
} mn_m2m_change;
/* The change an MN_M2M_CHANGED receiver is being told about; NULL outside one. */
const mn_m2m_change *mn_m2m_changed_info(const mn_orm *o);
/* Inside an MN_PRE_SAVE/MN_POST_SAVE receiver: the update_fields of the save being sent, as
 * comma-separated field names ("question,votes"; attnames given as their field's name), or
 * NULL for a save of every field (Django's update_fields=None) and outside a receiver. */
const char *mn_save_update_fields(const mn_orm *o);

/* ---- Validation ---- */
typedef struct mn_field_error {
    const char *field; /* NULL: a non-field error (constraints) */
    const char *message;
} mn_field_error;
typedef struct mn_validation {
    mn_field_error *errors;
    size_t n;
} mn_validation;
/* full_clean(): checks every field (null/blank, max_length, choices, digits, email, url,
 * slug, uuid, JSON, validators) and uniqueness against the database. 0 or MN_EVALIDATION with
 * every error in out. */
int mn_full_clean(mn_orm *o, void *obj, mn_validation *out) MN_MAY_YIELD;

/* ---- Templates: instances and querysets as template values. ---- */
mn_value *mn_obj_value(mn_orm *o, void *obj);
mn_value *mn_qs_value(mn_qs *qs); /* lazy: the query runs when the template iterates */

/* ---- Pagination ---- */
/* Django's Paginator(qs, per_page, orphans).page(number): a page of per_page rows, the last
 * page taking up to `orphans` more rather than leaving them alone on a page of their own.
 * An empty queryset has one empty page (allow_empty_first_page, Django's default): count 0,
 * num_pages 1. The pages are 1..num_pages (Django's page_range). */
typedef struct mn_page {
    int64_t number, num_pages, count;
    int64_t start_index, end_index; /* 1-based, of the first and last row; 0 when empty */
    bool has_next, has_previous;
    mn_rows *rows;
    int64_t next_page_number, previous_page_number; /* 0 when there is none */
} mn_page;
/* A page number out of range is MN_EEMPTY_PAGE (EmptyPage) with Django's message: "That page
 * number is less than 1" or "That page contains no results". */
int mn_paginate(mn_qs *qs, int64_t per_page, int64_t orphans, int64_t number,
                mn_page *out) MN_MAY_YIELD;
/* The number as text, from a query string (?page=2), read as Python's int(): "abc", "", NULL
 * or "2.5" are MN_EPAGE_NOT_AN_INTEGER (PageNotAnInteger), "That page number is not an
 * integer"; " 2 " is 2; "-1" and "99999999999999999999" are integers, so MN_EEMPTY_PAGE. */
int mn_paginate_str(mn_qs *qs, int64_t per_page, int64_t orphans, const char *number,
                    mn_page *out) MN_MAY_YIELD;
/* Django's get_page(): as mn_paginate_str, but a number that is not an integer (or NULL)
 * gives page 1 and one out of range the last page, so only a database error fails it. */
int mn_paginate_get_page(mn_qs *qs, int64_t per_page, int64_t orphans, const char *number,
                         mn_page *out) MN_MAY_YIELD;
/* Paginator's other options; a zeroed struct (or NULL) is Django's defaults. */
typedef struct mn_paginate_opts {
    int64_t orphans;
    /* allow_empty_first_page=False: an empty queryset has no pages (num_pages 0), so every
     * page number, even 1 and through get_page, is MN_EEMPTY_PAGE */
    bool no_empty_first_page;
    bool get_page; /* as mn_paginate_get_page, else as mn_paginate_str */
} mn_paginate_opts;
/* Paginator(qs, per_page, **opts).page(number) or .get_page(number), the number as text read
 * as mn_paginate_str does. */
int mn_paginate_ex(mn_qs *qs, int64_t per_page, const char *number, const mn_paginate_opts *opts,
                   mn_page *out) MN_MAY_YIELD;

/* Cursor (keyset) pagination for APIs over large tables, as Django REST framework's
 * CursorPagination: rows ordered by `field` with the primary key breaking ties ("-field" for
 * descending; a nullable field is fine), `per_page` at a time, from an opaque cursor given
 * by an earlier page (NULL or "": the first page). next_cursor continues after the page's last
 * row, previous_cursor goes back to the rows just before its first one, in the same order;
 * each is NULL when there is nothing that way (previous_cursor on the first page). Cursors
 * are signed with `secret` (HMAC-SHA256): a tampered, truncated or foreign cursor, or one made
 * for another ordering, is MN_EINVAL "Invalid cursor". Stable under inserts, unlike page
 * numbers: a row inserted between requests neither repeats nor hides another row. */
typedef struct mn_cursor_page {
    mn_rows *rows;
    const char *next_cursor;
    bool has_next;
    bool has_previous;
    const char *previous_cursor;
} mn_cursor_page;
int mn_paginate_cursor(mn_qs *qs, const char *field, int64_t per_page, const char *cursor,
                       const char *secret, mn_cursor_page *out) MN_MAY_YIELD;

#ifdef __cplusplus
}
#endif
#endif
