/* internal.h — the ORM's private structures shared by its files: the session, queryset,
 * Q and expression nodes, per-model runtime data (reverse relations), and the SQL compiler's
 * entry points. */
#ifndef MN_ORM_INTERNAL_H
#define MN_ORM_INTERNAL_H

#include <manouche/orm.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { MAX_DBS = 8 };

typedef struct oncommit {
    void (*fn)(void *arg);
    void *arg;
    int db;    /* the database whose block registered it */
    int depth; /* that database's atomic depth when it was registered */
} oncommit;

/* The transaction state of one database of a session, as Django keeps it per connection
 * (in_atomic_block, needs_rollback, savepoint ids): blocks on different databases nest
 * independently. */
typedef struct txnstate {
    int depth;          /* open blocks on this database; 0: autocommit */
    int needs_rollback; /* 0, or the code of a statement that failed in its innermost block */
    int savepoint_seq;
} txnstate;

struct mn_orm {
    mn_arena *arena;
    mn_db *dbs[MAX_DBS];
    mn_dbconn *conns[MAX_DBS];
    size_t ndbs;
    const char *(*route)(const mn_model *m, bool write, void *user);
    void *route_user;
    const void *route_hint; /* the instance being routed, for mn_orm_route_instance() */
    int (*allow_relation)(const void *obj1, const void *obj2, void *user);
    void *allow_relation_user;
    int errcode;
    mn_dblog *log;
    txnstate txn[MAX_DBS];       /* by database index */
    int atomic_depth;            /* open blocks on all databases */
    unsigned char *atomic_stack; /* the database of each open block, outermost first */
    int atomic_stack_cap;
    mn_dbdialect default_dialect; /* dbs[0]'s, asked by every query that has no using() */
    oncommit *oncommit;
    size_t noncommit, oncommit_cap;
    bool closed;
    int repeat_threshold; /* N+1 warning; 0: off */
    struct repeat {
        uint64_t hash;
        int count;
    } * repeats;
    size_t nrepeats, caprepeats;
    int max_repeats;
    bool request_atomic; /* ATOMIC_REQUESTS opened the outermost block */
    const char *at_file; /* where the running query was built, for the N+1 warning */
    int at_line;
    mn_orm_raise_fn raise; /* MN_FOREACH's failures, see mn_orm_set_raise */
    void *raise_user;
    mn_rows *blocked; /* the instances that refused the last delete, mn_delete_blocked_objects */
    char errmsg[512]; /* last: mn_orm_new zeroes only what comes before it */
};

/* A reverse relation: another model's FK/O2O/M2M pointing here. */
typedef struct revrel {
    const char *query_name; /* filter(choices__...) / related_query_name */
    const char *accessor;   /* question.choices / question.choice_set */
    const mn_model *from;   /* the model holding the field */
    const mn_fielddef *field;
    struct revrel *next;
} revrel;

/* A compiled SELECT kept for reuse (see fetch.c, "the query cache"): its text with
 * numbered placeholders, and the base-model columns it reads back, in order. */
typedef struct cached_sql {
    const char *sql;
    const mn_fielddef **cols;
    size_t ncols;
} cached_sql;

/* The query shapes the cache knows: filter(pk=<integer>) with a LIMIT, unordered (get) or
 * ordered by pk (first). */
enum { SHAPE_PK_GET, SHAPE_PK_FIRST, NSHAPES };

typedef struct model_rt {
    revrel *reverse;
    const char *table;
    const char *label; /* "polls.Question" */
    /* The query cache, by [dialect == PostgreSQL][shape]; filled on first use, published
     * atomically (worker threads share the models), never freed (lives as the registry). */
    _Atomic(cached_sql *) sql_cache[2][NSHAPES];
} model_rt;

static inline model_rt *mrt(const mn_model *m)
{
    return (model_rt *)m->rt_;
}

typedef enum qkind { Q_LEAF = 1, Q_AND, Q_OR, Q_NOT } qkind;
struct mn_q {
    qkind kind;
    const char *lookup;
    mn_arg value;
    const mn_q *a, *b;
};

typedef enum ekind { E_FIELD = 1, E_VALUE, E_OP, E_AGG } ekind;
typedef enum aggfn { AGG_COUNT = 1, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX } aggfn;
struct mn_expr {
    ekind kind;
    char op;
    const char *path;
    mn_arg value;
    const mn_expr *a, *b;
    aggfn agg;
    bool distinct;
    const mn_q *filter;
    bool has_default; /* E_AGG: COALESCE(aggregate, value) (default=) */
};

typedef enum qsmode { MODE_OBJECTS = 0, MODE_VALUES, MODE_VALUES_LIST, MODE_FLAT } qsmode;

typedef struct annot {
    const char *name;
    const mn_expr *expr;
} annot;

typedef struct prefetch {
    const char *path;
    mn_qs *custom;
    const char *to_attr; /* Prefetch(to_attr=...): the last level's rows go there; NULL */
} prefetch;

/* Lists in a queryset are shared between clones and never mutated: a chained call copies. */
struct mn_qs {
    mn_orm *o;
    const mn_model *m;
    const mn_q *where;
    const char **order;
    size_t norder;
    bool order_set; /* order_by() called (else Meta.ordering applies) */
    bool reversed;
    bool distinct;
    bool none;
    bool for_update;
    /* select_for_update()'s options: NOWAIT, SKIP LOCKED, FOR NO KEY UPDATE, and the "of"
     * names ("self", select_related paths) checked when the query is compiled */
    bool sfu_nowait, sfu_skip_locked, sfu_no_key;
    const char **sfu_of;
    size_t nsfu_of;
    int64_t low, high; /* slice; high < 0: none */
    qsmode mode;
    const char **vfields;
    size_t nvfields;
    const char **only, **defer;
    size_t nonly, ndefer;
    const char **related;
    size_t nrelated;
    prefetch *prefetch;
    size_t nprefetch;
    annot *annots;
    size_t nannots;
    const char *alias;
    const void *hint; /* the instance it relates to (Django's instance= hint), for routing */
    mn_rows *cache;
    const char *file; /* where mn_all() was written */
    int line;
    /* a reverse manager's (mn_related(o, q, "choices")): create(), get_or_create() and
     * update_or_create() set this foreign key to that instance, as Django's RelatedManager */
    const mn_fielddef *rel_fk;
    const void *rel_obj;
    /* a many-to-many manager's (mn_related(o, book, "tags")): the relation's name on rel_obj;
     * create(), get_or_create() and update_or_create() link what they create */
    const char *rel_m2m;
    /* internal, a sliced prefetch's (fetch.c): the annotation whose value the slice applies
     * per, as Django 4.2+ does in SQL: ROW_NUMBER() OVER (PARTITION BY it ORDER BY the
     * ordering), kept where it falls in [low, high) */
    const char *window_by;
};

static inline void mn__where(mn_qs *qs)
{
    qs->o->at_file = qs->file;
    qs->o->at_line = qs->line;
}

/* ---- model.c ---- */
int mn__orm_fail(mn_orm *o, int code, const char *fmt, ...) MN_PRINTF(3, 4);
int mn__ready(mn_orm *o);
const mn_fielddef *mn__field(const mn_model *m, const char *name, size_t len);
const revrel *mn__revrel(const mn_model *m, const char *name, size_t len, bool accessor);
/* "Question has no field 'pub_dte'; did you mean 'pub_date'?" */
int mn__no_field(mn_orm *o, const mn_model *m, const char *name, size_t len);
/* The same, naming the whole lookup path when the bad name is part of a longer one. */
int mn__no_field_in(mn_orm *o, const mn_model *m, const char *name, size_t len, const char *path);
/* The same for prefetch_related: the closest relation field or reverse accessor. */
int mn__no_relation_in(mn_orm *o, const mn_model *m, const char *name, size_t len,
                       const char *path);
/* inline: the query cache asks it on every get() by pk */
static inline bool mn__is_int_type(mn_ftype t)
{
    return (t >= MN_AUTO && t <= MN_POSBIGINT) || t == MN_DURATION || t == MN_FK || t == MN_O2O;
}
bool mn__is_text_type(mn_ftype t);
bool mn__has_column(const mn_fielddef *f);
void *mn__fptr(const void *obj, const mn_fielddef *f);
/* Keys of any type (model.c): a primary key is an integer or text; it travels as an mn_arg
 * (MN_ARG_INT or MN_ARG_STR; MN_ARG_NULL when unset). */
bool mn__pk_is_text(const mn_model *m);
/* The field whose type a relation's column takes: the target's pk, followed through a pk that
 * is itself a OneToOneField (a model keyed by its parent's key); f itself when not a FK/O2O. */
const mn_fielddef *mn__key_field(const mn_fielddef *f);
/* The target field a FK/O2O's column holds: its to_field, else the target's pk (Django's
 * target_field). Every join, lookup, prefetch match and delete cascade goes through it. */
static inline const mn_fielddef *mn__rel_field(const mn_fielddef *f)
{
    return f->rel_field ? f->rel_field : f->rel_model ? f->rel_model->pk : NULL;
}
/* The value of f's target field in rel, an instance of f's target model: what f's column
 * stores when it points at rel (its pk unless f has a to_field). */
mn_arg mn__rel_arg(const void *rel, const mn_fielddef *f);
bool mn__fk_is_text(const mn_fielddef *f); /* FK/O2O to a model whose pk is text */
mn_arg mn__pk_arg(const void *obj);
bool mn__pk_set(const void *obj);
mn_arg mn__fk_arg(const void *obj, const mn_fielddef *f); /* the key a FK holds */
bool mn__arg_eq(mn_arg a, mn_arg b);
mn_arg mn__value_arg(mn_arena *a, const mn_value *v); /* an int or string value as a key */
const char *mn__arg_text(mn_arena *a, mn_arg k);      /* "3", "FR"; NULL for NULL */
bool mn__is_null(const void *obj, const mn_fielddef *f);
void mn__set_null(void *obj, const mn_fielddef *f, bool null);
void mn__settle_nulls(void *obj, const mn_model *m, bool (*written)(const char *, const char *),
                      const char *fields);
/* Converts a user argument to the parameter the column stores (Django's get_prep_value). */
int mn__arg_param(mn_orm *o, const mn_fielddef *f, mn_arg a, mn_dbdialect d, mn_dbparam *out);
/* A DecimalField value being written fits max_digits once rounded to decimal_places, else
 * MN_EDB_DATA naming the field: PostgreSQL's numeric field overflow, on SQLite too. */
int mn__decimal_fits(mn_orm *o, const mn_fielddef *f, mn_arg a);
/* A UUID in any form Python's uuid.UUID(hex=s) reads ("{...}", no hyphens, upper case,
 * "urn:uuid:...") in canonical form in *out; MN_EINVAL when it is none. */
int mn__uuid_normalise(mn_arena *a, const char *s, const char **out);
/* Decimal text as Python's Decimal(s) reads it ("-1.50", "0E-10", "1e+3", " 7 "): how many
 * significant digits (leading zeros dropped; 0 for a zero) and the exponent in *ndigits and
 * *exponent (either may be NULL), and in *plain (when given) the same number without
 * exponent ("0.0000000000", "1000"). 0, MN_EINVAL when s is no finite number, MN_ENOMEM. */
int mn__decimal_parse(mn_arena *a, const char *s, const char **plain, int *ndigits, int *exponent);
/* The instance's field as a parameter. */
int mn__obj_param(mn_orm *o, const void *obj, const mn_fielddef *f, mn_dbdialect d,
                  mn_dbparam *out);
/* Stores a result cell into the instance's field. */
int mn__cell_store(mn_orm *o, void *obj, const mn_fielddef *f, const mn_dbcell *c, mn_dbdialect d);
/* A result cell as a template value, typed by f when given. */
mn_value *mn__cell_value(mn_orm *o, const mn_fielddef *f, const mn_dbcell *c, mn_dbdialect d);
/* tmpl.c: a JSONField's stored text as its decoded document (dicts, lists... with no tagged
 * {"__safe__": ...} forms; the text itself when it does not parse), and a DurationField's
 * microseconds as a timedelta object (Python's str()); other values are given back. */
mn_value *mn__json_field_value(mn_arena *a, mn_value *text);
mn_value *mn__duration_value(mn_arena *a, mn_value *us);
int mn__format_datetime(const mn_datetime *dt, mn_ftype t, mn_dbdialect d, char *buf, size_t n);
int mn__parse_datetime(const char *s, size_t len, mn_ftype t, mn_datetime *out);
void mn__apply_defaults(mn_orm *o, const mn_model *m, void *obj);
const char *mn__label(const mn_model *m);
mn_dbdialect mn__dialect(mn_orm *o, const char *alias);

/* ---- compile.c ---- */
typedef struct sqlq {
    const char *sql;
    mn_dbparam *params;
    size_t nparams;
    /* for reading rows back */
    const mn_fielddef **cols; /* base-model fields selected, in order */
    size_t ncols;
    struct selrel {
        const mn_fielddef *via;
        int parent;
        const mn_model *m;
        const mn_fielddef **cols;
        size_t ncols;
    } * rels; /* select_related */
    size_t nrels;
    size_t nannots;
    /* values() columns */
    const char **vnames;
    const mn_fielddef **vfields;
    /* per column, 0 or the type a transform gives it (values("pub_date__year"): MN_INT,
     * "__date": MN_DATE, "__time": MN_TIME); its vfields entry is then NULL */
    const mn_ftype *vtypes;
    size_t nv;
} sqlq;
enum { SQL_SELECT = 1, SQL_COUNT, SQL_EXISTS, SQL_DELETE, SQL_UPDATE, SQL_AGGREGATE, SQL_PKS };
int mn__compile(mn_qs *qs, int kind, const mn_kv *set, size_t nset, sqlq *out);
int mn__compile_aggregate(mn_qs *qs, const char **names, const mn_expr **exprs, size_t n,
                          sqlq *out);
/* Quotes an identifier ("name", doubled quotes). */
void mn__quote(mn_buf *b, const char *ident);
/* Appends the placeholder for parameter number n (1-based). */
void mn__placeholder(mn_buf *b, mn_dbdialect d, size_t n);

/* ---- bulk.c ---- */
/* The SQL type of f's column for a CAST (a FK: its target's key), as the column declares it
 * on PostgreSQL ("bigint", "uuid", "inet"...); SQLite's storage class on SQLite. */
const char *mn__cast_type(const mn_fielddef *f, mn_dbdialect d);

/* ---- write.c ---- */
const char *mn__write_alias(mn_orm *o, const mn_model *m);
bool mn__auto_pk(const mn_model *m);
void mn__sync_fks(void *obj, const mn_model *m);
/* Deferred fields whose struct member was assigned directly count as loaded (saved). */
void mn__settle_deferred(void *obj);
/* The instance cached in fk->obj (k: the value of its target field, mn__rel_arg) is not the
 * row fk's id/key names. */
bool mn__fk_cache_stale(const mn_fk *fk, mn_arg k);
void mn__touch_auto_now(void *obj, const mn_model *m, bool adding);

/* ---- session.c, fetch.c ---- */
/* The database an operation on model m goes to (Django's router._router_func): the router's
 * answer, else the database of the instance it is about, else NULL ("default"). */
const char *mn__route(mn_orm *o, const mn_model *m, bool write, const void *instance);
/* The alias as the session names it (a stable string; "default"'s own name for NULL), for an
 * instance's db and for an explicit using(); NULL when there is no such database. */
const char *mn__db_name(mn_orm *o, const char *alias);
/* Django's router.allow_relation(obj1, obj2): 0 when obj1 may be related to obj2, else
 * MN_EINVAL; the caller words the refusal. The hook's answer, else both on one database (an
 * instance with no database yet relates to anything). */
int mn__allow_relation(mn_orm *o, const void *obj1, const void *obj2);
/* A clone of qs routed with instance as the hint. */
mn_qs *mn__qs_hint(mn_qs *qs, const void *instance);
/* The database qs reads from, or writes to (write, or select_for_update). */
const char *mn__qs_alias(mn_qs *qs, bool write);
/* The dialect of the database qs reads from (the SQL compiler writes for it). */
mn_dbdialect mn__qs_dialect(mn_qs *qs);
int mn__exec(mn_orm *o, const char *alias, const char *sql, const mn_dbparam *p, size_t n,
             mn_dbresult *res);
int mn__txn_refuse(mn_orm *o, int db);          /* txn.c: a query refused in db's marked block */
int mn__db_index(mn_orm *o, const char *alias); /* o->dbs index of alias (NULL: 0), or -1 */
/* txn.c: opens an atomic block on alias for an operation that writes there (delete, set(),
 * get_or_create, bulk operations), a savepoint when a block is open there, whatever is open
 * on other databases (Django's atomic(using=db)): 1 (end it with mn_atomic_end), or a
 * negative code. */
int mn__atomic_for(mn_orm *o, const char *alias);
/* An atomic block is open on database i (an mn__db_index). */
static inline bool mn__in_block(const mn_orm *o, int i)
{
    return i >= 0 && o->txn[i].depth > 0;
}
/* A statement failed in the block open on database i: it refuses queries until it ends. */
static inline bool mn__block_marked(const mn_orm *o, int i)
{
    return mn__in_block(o, i) && o->txn[i].needs_rollback != 0;
}
/* fetch.c: 0, or MN_ETRANSACTION_MANAGEMENT with Django's TransactionManagementError message
 * when qs is a select_for_update() on PostgreSQL and no atomic block is open on its database.
 * Every path that runs the locking SELECT asks it first (fetch, get, first, exists, iterator). */
int mn__check_for_update(mn_qs *qs);
mn_qs *mn__qs_clone(mn_qs *qs);
mn_rows *mn__prefetched(const void *obj, const char *accessor);
bool mn__has_receivers(mn_signal sig, const mn_model *m);
int mn__signal(mn_orm *o, mn_signal sig, const mn_model *m, void *obj, bool created);

#endif
