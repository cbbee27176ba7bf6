/* compile.h — the SQL compiler's shared state, between lookup.c (lookup paths, joins,
 * WHERE conditions, expressions) and compile.c (whole statements). */
#ifndef MN_ORM_COMPILE_H
#define MN_ORM_COMPILE_H

#include "internal.h"

/* Join types follow Django's: a join is LEFT OUTER when it may find no row (a nullable FK, a
 * reverse FK or O2O, an M2M) or hangs from a LEFT OUTER one, else INNER; a WHERE condition
 * that can only hold for a matched row (mn__cc_where) makes the joins of its path INNER
 * ("demotes" them), unless an OR branch, isnull=True or a negation says otherwise. */
typedef struct join {
    const char *key;
    int alias;
    int left; /* the alias it hangs from: a join after a fresh one is fresh too */
    int gen;  /* for multi-valued joins: the filter() call that made it (see cc.gen) */
    const mn_model *m;
    bool multi;    /* reached through a reverse FK or M2M */
    bool nullable; /* may find no row: a nullable FK, reverse relation or M2M link */
    bool inner;    /* a WHERE condition needs a matched row here: INNER JOIN */
    int parent;    /* index of the join it hangs from, -1 for the base table */
    const char *left_col, *right_col;
} join;

typedef struct cc {
    mn_orm *o;
    mn_qs *qs;
    const mn_model *m;
    mn_dbdialect d;
    join *joins;
    size_t nj, capj;
    int next_alias;
    char prefix; /* 'T' for the main query, 'U'.. for subqueries */
    mn_dbparam *params;
    size_t np, capp;
    int err;
    int negated;   /* NOT depth parity while compiling where */
    int ann_depth; /* annotations expanded inside annotations (cycles are errors) */
    /* Each chained filter() call gets its own joins across multi-valued relations (Django's
     * "Spanning multi-valued relationships"): gen numbers the call being compiled, ngen
     * counts them. Annotations, ordering and the first filter() share generation 0. */
    int gen, ngen;
} cc;

typedef struct resolved {
    const mn_fielddef *f; /* the column's field */
    int alias;
    const char *rest; /* transforms and lookup after the field ("year__gt"), or "" */
    bool joined;
    const annot *ann; /* the path names an annotation */
} resolved;

/* Records the first error (message in the session) and returns its code. */
int mn__cc_fail(cc *c, int code, const char *fmt, ...) MN_PRINTF(3, 4);
/* "T1"."column" for a table alias. */
void mn__cc_col(cc *c, mn_buf *b, int alias, const char *column);
/* A parameter marker (renumbered when the statement is finished). */
void mn__cc_param(cc *c, mn_buf *b, mn_dbparam p);
/* A join for the path `key` (reused when the same path comes again); its alias. nullable: the
 * join may find no row (see struct join). */
int mn__cc_add_join(cc *c, const char *key, const mn_model *m, int left_alias, const char *left_col,
                    const char *right_col, bool multi, bool nullable);
/* The joins made so far, each INNER or LEFT OUTER (see struct join), for after FROM. */
void mn__cc_put_joins(cc *c, mn_buf *out);
/* Resolves a lookup path into joins and a column; with allow_rest, the lookup after it. */
int mn__cc_resolve(cc *c, const char *path, bool allow_rest, resolved *out);
/* An order_by() name: resolved as a field or annotation, with any transforms after a date,
 * datetime or time field ("pub_date__year", Django's order_by transforms) applied to the
 * column written into col (when not NULL). Anything else after the field fails as
 * mn__cc_resolve without allow_rest does. */
int mn__cc_order_path(cc *c, const char *path, resolved *out, mn_buf *col, mn_ftype *type);
/* An aggregate's default= value, written as the aggregate's result is (for COALESCE). */
void mn__cc_agg_default(cc *c, mn_buf *b, const mn_expr *e);
/* A condition; its joins keep the type they were made with (aggregate filters, HAVING). */
int mn__cc_q(cc *c, mn_buf *b, const mn_q *q);
/* A WHERE conjunct: as mn__cc_q, and the joins it can only be true through become INNER. */
int mn__cc_where(cc *c, mn_buf *b, const mn_q *q);
int mn__cc_expr(cc *c, mn_buf *b, const mn_expr *e);
/* An annotation's expression, with the joins of generation 0 (see cc.gen). */
int mn__cc_annotation(cc *c, mn_buf *b, const annot *a);
bool mn__has_aggregate(const mn_expr *e);
const char *mn__agg_name(aggfn f); /* "COUNT", "SUM"... */
/* A whole SELECT for qs (kind SQL_SELECT, SQL_EXISTS or SQL_PKS), with markers. */
int mn__cc_select(cc *c, mn_qs *qs, int kind, mn_buf *out, sqlq *meta);
/* Optimal string alignment distance (model.c): how close a misspelt name is to a valid one. */
size_t mn__edit_distance(const char *a, size_t la, const char *b, size_t lb);
/* Is s[0..n) a lookup ("gt") or a transform ("year")? */
bool mn__is_lookup_word(const char *s, size_t n);
/* Django's class name for a field type ("CharField"), for FieldError-style messages. */
const char *mn__django_class(mn_ftype t);
/* Checks that each of names (an order_by, values, only or defer list) resolves on qs's model
 * or its annotations, so a misspelt name fails where it is written, as Django's order_by
 * does; with MN__NAMES_ORDER, "?" and a leading "-"/"+" are allowed, and with it or
 * MN__NAMES_VALUES a date/time transform after a field ("pub_date__year"). 0 or MN_EFIELD
 * (message set). */
enum { MN__NAMES_PLAIN = 0, MN__NAMES_ORDER = 1, MN__NAMES_VALUES = 2 };
int mn__check_names(mn_qs *qs, const char *const *names, size_t n, int how);
/* Resolves every path of an annotation's expression (and its filter) against qs, as Django's
 * annotate() does when called. 0 or the error (message set). */
int mn__check_expr(mn_qs *qs, const mn_expr *e);

/* The lookup of a Q_AND node that chains two filter() calls (query.c's add_where), as opposed
 * to the conditions of one filter() call or one Q, which share their joins. */
extern const char mn__filter_chain[];
/* filter() that shares the previous filter() call's multi-valued joins, as Django's
 * _next_is_sticky() for a prefetch query: Prefetch("tags", Tag.filter(books__...)) filtered
 * by books__in must read the same link rows as the custom queryset. */
mn_qs *mn__qs_filter_sticky(mn_qs *qs, const mn_kv *kv, size_t n);
/* The values() fields a values().annotate() groups by (Django's group_by, fixed by the first
 * annotate() after values() and kept by later values() calls); NULL when the queryset is
 * not grouped that way. */
const char *const *mn__qs_group(const mn_qs *qs, size_t *n);

/* What an expression yields, so decimal arithmetic stays exact where SQLite stores a
 * DecimalField as an integer scaled by 10^decimal_places: XT_DEC with scale >= 0 is such a
 * scaled integer on SQLite (numeric on PostgreSQL); scale -1 is a decimal that SQLite holds
 * as a REAL (a quotient, as Django computes decimal division on SQLite). */
typedef enum xkind { XT_OTHER = 0, XT_INT, XT_DEC, XT_FLOAT } xkind;
typedef struct xty {
    xkind t;
    int scale;
} xty;
/* qs (may be NULL) names the annotations an F() may refer to; unknown names give XT_OTHER. */
xty mn__expr_type(const mn_model *m, const mn_qs *qs, const mn_expr *e);
/* Places of Avg() over a DecimalField beyond the field's own (docs/orm.md). */
#define MN_AVG_EXTRA_PLACES 4
/* On SQLite, writes sql (a value of type from) as type to: scales decimals up exactly,
 * rounds half away from zero when scaling down, as PostgreSQL's numeric does. */
void mn__sqlite_as(mn_buf *b, const char *sql, xty from, xty to);
/* Avg() over X, a decimal of `scale` places (the field's plus MN_AVG_EXTRA_PLACES): exact. */
void mn__dec_avg_sql(mn_dbdialect d, mn_buf *b, const char *X, int scale);
/* On SQLite, the scaled integer n as decimal text ("-1.50"), for a result whose type the
 * reader cannot know (Sum() over an annotation). */
void mn__sqlite_dec_text(mn_buf *b, const char *n, int scale);
/* A decimal cell of an expression typed XT_DEC: a scaled integer, numeric text or a REAL. */
mn_value *mn__decimal_cell(mn_orm *o, const mn_dbcell *c, int scale);

#endif
