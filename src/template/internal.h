/* internal.h — the template engine's private structures, shared by lexer.c, parser.c,
 * tags.c, render.c, context.c and engine.c.
 *
 * A compiled template is a tree of nodes allocated in the template's own arena. Rendering
 * walks it with a switch on the node type and writes into the caller's mn_buf; per-render
 * state (cycle positions, ifchanged memories, the block stacks of {% extends %}) lives in a
 * small table in the render arena, keyed by node. */
#ifndef MN_TEMPLATE_INTERNAL_H
#define MN_TEMPLATE_INTERNAL_H

#include <manouche/template.h>

#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* ---- Tokens (lexer.c). ---- */
typedef enum tok_type { TOK_TEXT, TOK_VAR, TOK_BLOCK, TOK_COMMENT } tok_type;

typedef struct token {
    tok_type type;
    mn_str contents; /* TEXT: the raw text; others: the stripped inside */
    size_t offset;   /* byte offset of the token in the source */
    int line;        /* 1-based */
} token;

/* Splits source into tokens (array in arena). Returns the count, or a negative code. */
int mn__template_tokenize(mn_arena *a, const char *src, size_t len, token **out);
/* Django's smart_split: whitespace-separated bits, quoted strings kept whole. */
int mn__template_smart_split(mn_arena *a, mn_str s, mn_str **bits);
/* A quoted string starting at s.ptr[i] (a quote, backslash escapes inside): the index after
 * its closing quote, or 0 when it does not close. */
size_t mn__quoted_end(mn_str s, size_t i);

/* ---- Libraries. ---- */
typedef enum tag_kind { TAG_BUILTIN, TAG_CUSTOM, TAG_SIMPLE, TAG_INCLUSION } tag_kind;

/* A built-in filter's second form, for the last filter of {{ var|...|f }}: writes what
 * writing fn's result would write, straight into out, without making the result value (no
 * arena string, no second escaping pass). `escape` is true when a non-safe result would be
 * escaped there (autoescape on, and not is_safe with a safe input). Returns 0 once written,
 * MN_FILTER_DECLINE having written nothing (fn then runs as usual: the writer handles only
 * the common inputs), or a negative code. */
#define MN_FILTER_DECLINE 1
typedef int (*filter_write_fn)(const mn_filter_call *c, mn_value *v, mn_value *arg, bool escape,
                               mn_buf *out) MN_MAY_YIELD;

typedef struct filter_def {
    const char *name;
    mn_filter_fn fn;
    unsigned flags;
    filter_write_fn write; /* NULL: fn only (every filter registered through the public API) */
} filter_def;

struct node;
struct parser;
typedef int (*builtin_compile_fn)(struct parser *p, const token *tok, mn_str *bits, int nbits,
                                  struct node **out);

typedef struct tag_def {
    const char *name;
    tag_kind kind;
    builtin_compile_fn builtin;
    mn_tag_compile_fn compile;
    mn_tag_render_fn render;
    mn_simple_tag_fn simple;
    mn_inclusion_tag_fn inclusion;
    const char *template_name;
    int min_args, max_args;
    void *userdata;
} tag_def;

struct mn_template_library {
    char *name;
    filter_def *filters;
    size_t nfilters, cap_filters;
    tag_def *tags;
    size_t ntags, cap_tags;
    struct mn_template_library *next;
};

const filter_def *mn__library_filter(const mn_template_library *lib, mn_str name);
/* Gives the built-in filter `name` its writer. 0 or MN_ENOTFOUND. */
int mn__library_set_filter_writer(mn_template_library *lib, const char *name, filter_write_fn w);

/* mn_buf_append with the common case (room left) inlined: rendering is mostly appends. */
static inline int mn__put(mn_buf *out, const char *p, size_t n)
{
    if (out->cap - out->len > n) {
        char *d = out->data + out->len;
        /* the short pieces between tags ("</td><td>") as two overlapping moves, not a call */
        if (n >= 8 && n <= 16) {
            memcpy(d, p, 8);
            memcpy(d + n - 8, p + n - 8, 8);
        } else if (n >= 4 && n < 8) {
            memcpy(d, p, 4);
            memcpy(d + n - 4, p + n - 4, 4);
        } else {
            memcpy(d, p, n);
        }
        out->len += n;
        return MN_OK;
    }
    return mn_buf_append(out, p, n);
}

/* mn_template_escape, with texts under eight bytes ("active", a tag) done here: they
 * are most of the calls, and the call cost more than their bytes. */
static inline int mn__escape(mn_buf *out, const char *s, size_t len);
/* Bytes Django's escape() adds for each byte: & < > " ' become 5, 4, 4, 6, 6 bytes. */
extern const unsigned char mn__escape_extra[256];
/* Word-at-a-time tests: nonzero when the 8 bytes of w hold byte c (exact, any bytes). */
static inline uint64_t mn__has_byte(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (0x0101010101010101u * c);
    return (x - 0x0101010101010101u) & ~x & 0x8080808080808080u;
}
/* Nonzero when w holds a byte that escape() changes. */
static inline uint64_t mn__has_escapable(uint64_t w)
{
    /* & and ' are 0x26 and 0x27, < and > are 0x3C and 0x3E: each pair is one byte once a bit
     * is masked off */
    return mn__has_byte(w & 0xFEFEFEFEFEFEFEFEu, '&') | mn__has_byte(w & 0xFDFDFDFDFDFDFDFDu, '<') |
           mn__has_byte(w, '"');
}

/* Writes c escaped at o (room for 6 bytes) and returns the position after it. */
static inline char *mn__escape_put(char *o, char c)
{
    if (__builtin_expect(!mn__escape_extra[(unsigned char)c], 1)) {
        *o = c;
        return o + 1;
    }
    switch (c) {
    case '&': memcpy(o, "&amp;", 5); return o + 5;
    case '<': memcpy(o, "&lt;", 4); return o + 4;
    case '>': memcpy(o, "&gt;", 4); return o + 4;
    case '"': memcpy(o, "&quot;", 6); return o + 6;
    default: memcpy(o, "&#x27;", 6); return o + 6;
    }
}

static inline int mn__escape(mn_buf *out, const char *s, size_t len)
{
    if (len >= 8 || out->cap - out->len <= 6 * 8)
        return mn_template_escape(out, s, len);
    char *o = out->data + out->len;
    for (size_t i = 0; i < len; i++)
        o = mn__escape_put(o, s[i]);
    out->len = (size_t)(o - out->data);
    return MN_OK;
}
const tag_def *mn__library_tag(const mn_template_library *lib, mn_str name);
int mn__library_add_builtin_tag(mn_template_library *lib, const char *name, builtin_compile_fn fn);
void mn__register_builtin_tags(mn_template_library *lib);

/* ---- Expressions: `var.path|filter:arg|filter`. ---- */
typedef struct arg_expr {
    mn_value *literal; /* a constant (string literals are safe), or NULL */
    mn_str *path;      /* variable: segments */
    /* per segment: the entry index its key was last found at in a dict. Only a guess, checked
     * before use, so renders sharing the template (coroutines, threads) never depend on it;
     * rows of one list have the same key order, so it is nearly always right. */
    uint32_t *hint;
    int npath;
    mn_str text; /* as written (for string_if_invalid's %s) */
} arg_expr;

typedef struct filter_call {
    const filter_def *def;
    bool has_arg;
    arg_expr arg;
} filter_call;

struct mn_template_expr {
    arg_expr var;
    filter_call *filters;
    int nfilters;
};

/* ---- Nodes. ---- */
typedef enum node_type {
    N_TEXT,
    N_VAR,
    N_AUTOESCAPE,
    N_BLOCK,
    N_COMMENT,
    N_CSRF,
    N_CYCLE,
    N_DEBUG,
    N_EXTENDS,
    N_FILTER,
    N_FIRSTOF,
    N_FOR,
    N_IF,
    N_IFCHANGED,
    N_INCLUDE,
    N_LOREM,
    N_NOW,
    N_REGROUP,
    N_RESETCYCLE,
    N_SPACELESS,
    N_URL,
    N_WIDTHRATIO,
    N_WITH,
    N_QUERYSTRING,
    N_PARTIALDEF,
    N_PARTIAL,
    N_SIMPLE,
    N_INCLUSION,
    N_CUSTOM,
} node_type;

struct mn_template_nodelist {
    struct node **items;
    int n;
};
typedef struct mn_template_nodelist nodelist;

/* if-expression tree (smartif). */
typedef enum cond_op {
    C_VALUE,
    C_OR,
    C_AND,
    C_NOT,
    C_IN,
    C_NOT_IN,
    C_IS,
    C_IS_NOT,
    C_EQ,
    C_NE,
    C_LT,
    C_GT,
    C_LE,
    C_GE
} cond_op;

typedef struct cond {
    cond_op op;
    struct cond *a, *b;
    mn_template_expr *value;
} cond;

typedef struct kwarg {
    mn_str name;
    mn_template_expr *value;
} kwarg;

typedef struct node {
    node_type type;
    int line, column;
    struct mn_template *tpl; /* the template the node belongs to (for errors) */
    union {
        mn_str text;
        mn_template_expr *expr;
        struct {
            bool on;
            nodelist body;
        } autoescape;
        struct {
            mn_str name;
            nodelist body;
        } block;
        struct {
            mn_template_expr **values;
            int nvalues;
            mn_str as_name;
            bool silent;
            struct node *target; /* for {% cycle name %}: the named cycle node */
        } cycle;
        struct {
            mn_template_expr *parent;
            nodelist body;
        } extends;
        struct {
            mn_template_expr *filter; /* `var|f1|f2`, var unused */
            nodelist body;
        } filter;
        struct {
            mn_template_expr **values;
            int nvalues;
            mn_str as_name;
        } firstof;
        struct {
            mn_str *vars;
            int nvars;
            mn_template_expr *seq;
            bool reversed;
            nodelist body, empty;
            bool has_empty;
        } forloop;
        struct {
            cond **conds; /* NULL for else */
            nodelist *bodies;
            int n;
        } ifn;
        struct {
            mn_template_expr **values;
            int nvalues;
            nodelist body, other;
        } ifchanged;
        struct {
            mn_template_expr *name;
            kwarg *extra;
            int nextra;
            bool only;
        } include;
        struct {
            mn_template_expr *count;
            char method; /* 'w', 'p', 'b' */
            bool random;
        } lorem;
        struct {
            mn_str format;
            mn_str as_name;
        } now;
        struct {
            mn_template_expr *target;
            mn_template_expr *by; /* resolved with as_name bound to each item */
            mn_str as_name;
        } regroup;
        struct {
            struct node *target;
        } resetcycle;
        struct {
            nodelist body;
        } spaceless;
        struct {
            mn_template_expr *view;
            mn_template_expr **args;
            int nargs;
            kwarg *kwargs;
            int nkwargs;
            mn_str as_name;
        } url;
        struct {
            mn_template_expr *value, *max, *width;
            mn_str as_name;
        } widthratio;
        struct {
            kwarg *vars;
            int nvars;
            nodelist body;
        } with;
        struct {
            kwarg *kwargs; /* name empty: a positional mapping argument */
            int nkwargs;
            mn_str as_name;
        } querystring;
        struct {
            mn_str name;
            bool is_inline;
            nodelist body;
        } partialdef;
        struct {
            mn_str name;
            struct node *def; /* resolved at the end of parsing */
        } partial;
        struct {
            const tag_def *def;
            mn_template_expr **args;
            int nargs;
            kwarg *kwargs;
            int nkwargs;
            mn_str as_name;
        } simple;
        struct {
            const tag_def *def;
            void *data;
        } custom;
    } u;
} node;

/* ---- Templates and the engine. ---- */
typedef struct named_node {
    mn_str name;
    node *n;
} named_node;

struct mn_template {
    mn_template_engine *engine;
    char *name;
    char *origin;          /* file path, or NULL */
    struct timespec mtime; /* of origin when loaded (DEBUG reload compares it and size) */
    off_t size;
    mn_arena *arena; /* nodes, source copy */
    const char *source;
    size_t source_len;
    nodelist root;
    node *extends; /* the {% extends %} node when the template starts with one */
    named_node *blocks;
    int nblocks;
    named_node *partials;
    int npartials;
    const node *partial_root; /* "name#part": the partialdef this template object renders */
    struct mn_template *next; /* the engine's list of templates */
};

typedef struct embedded_tpl {
    const char *name;
    const char *source;
    size_t len;
} embedded_tpl;

typedef struct cache_entry {
    char *name;
    mn_template *tpl;
} cache_entry;

struct mn_template_engine {
    mn_template_options options;
    char **dirs;
    size_t ndirs;
    char **app_dirs;
    size_t napp_dirs;
    embedded_tpl *embedded;
    size_t nembedded, cap_embedded;
    cache_entry *cache;
    size_t ncache, cap_cache;
    mn_template_library *libraries; /* first: the built-ins ("") */
    mn_template *templates;         /* every template compiled, freed with the engine */
    mn_template_reverse_fn reverse;
    void *reverse_userdata;
};

/* Loads and compiles template `name` (a "#partial" suffix selects a partial). */
mn_template *mn__engine_load(mn_template_engine *e, const char *name, size_t len,
                             mn_template_error *err);

/* ---- Parser (parser.c). The public mn_tag_parser is this struct, cast. ---- */

typedef struct parser {
    mn_template *tpl;
    mn_template_engine *engine;
    mn_arena *arena;
    token *tokens;
    int ntokens;
    int pos;
    const token *cur; /* the tag being compiled */
    mn_template_error *err;
    int depth;
    const mn_template_library **libs; /* loaded libraries: builtins first */
    int nlibs, cap_libs;
    /* `{% load x from lib %}` adds single filters/tags: */
    const filter_def **extra_filters;
    int nextra_filters;
    const tag_def **extra_tags;
    int nextra_tags;
    named_node *cycles; /* named cycles, for {% cycle name %} */
    int ncycles;
    node *last_cycle;
    node **partial_refs;
    int npartial_refs;
    bool seen_nontext;
    mn_str *names; /* interned variable names (mn__intern_name) */
    int nnames, cap_names;
} parser;

/* "forloop", as the for tag binds it: the name every template's forloop.x points at. */
extern const char mn__forloop_name[];
/* {% debug %} (debug_tag.c): nothing unless the engine's debug option is on. */
int mn__render_debug(mn_template_state *r, mn_buf *out);
/* The one copy of a variable name within a template ("forloop" is mn__forloop_name), so
 * that a loop variable and the paths that read it have the same pointer and the context's
 * hinted lookup compares pointers. Names past the first 256 are kept as they are. */
mn_str mn__intern_name(parser *p, mn_str name);

int mn__parser_error(parser *p, const token *tok, const char *fmt, ...) MN_PRINTF(3, 4);
int mn__parse_nodelist(parser *p, const char *const *until, nodelist *out, const token **end);
int mn__compile_expr(parser *p, const token *tok, mn_str text, mn_template_expr **out);
int mn__parse_cond(parser *p, const token *tok, mn_str *bits, int nbits, cond **out);
node *mn__new_node(parser *p, node_type type, const token *tok);
int mn__parse_kwargs(parser *p, const token *tok, mn_str *bits, int nbits, int *used, kwarg **out,
                     int *nout);
bool mn__is_kwarg(mn_str bit);
/* The block tag's first word. */
mn_str mn__tag_name(mn_str contents);

/* ---- Rendering (render.c). ---- */
typedef struct state_slot {
    const void *key;
    void *value;
} state_slot;

typedef struct block_stack {
    mn_str name;
    node **blocks; /* root-most first, most derived last */
    int n, cap;
} block_stack;

struct mn_template_state {
    mn_template_engine *engine;
    const mn_template_options *opt;
    mn_arena *arena;
    mn_context *ctx;
    bool autoescape;
    int depth;
    int64_t iterations;
    mn_template_error *err;
    const mn_template *tpl; /* the template being rendered (for errors) */
    const node *cur;        /* the node being rendered */
    block_stack *blocks;    /* extends: the block stacks */
    int nblocks, cap_blocks;
    bool writers;      /* filter writers may run: no string_if_invalid to honour */
    state_slot *slots; /* per-node state: cycles, ifchanged */
    size_t nslots, cap_slots;
    char filter_error[256];
};

/* Equal names of equal length n: the short names templates use (row, price, forloop) are
 * compared inline; a memcmp call per candidate was a tenth of a bench page. */
__attribute__((always_inline)) static inline bool mn__name_eq(const char *a, const char *b,
                                                              size_t n)
{
    if (n == 0)
        return true;
    if (a[0] != b[0]) /* most candidates differ at once: row.name vs row.note, row.tags */
        return false;
    if (n > 16)
        return memcmp(a, b, n) == 0;
    /* 4..16 bytes as two overlapping words from each end (a byte loop was 45 instructions
     * for "counter") */
    if (n >= 8) {
        uint64_t x0, y0, x1, y1;
        memcpy(&x0, a, 8), memcpy(&y0, b, 8);
        memcpy(&x1, a + n - 8, 8), memcpy(&y1, b + n - 8, 8);
        return x0 == y0 && x1 == y1;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4), memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4), memcpy(&y1, b + n - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    for (size_t i = 1; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The shortest round-tripping decimal digits of |d| (finite), as Python's repr picks them:
 * returns how many (no trailing zeros), with d = 0.DIGITS * 10^(exp10+1). */
int mn__double_digits(double d, char digits[24], int *exp10);

/* Non-negative ints below 10,000 (counters, quantities) written digit by digit in place;
 * false (nothing written) for others or without room. */
static inline bool mn__put_small_int(mn_buf *out, int64_t v)
{
    if (v < 0 || v >= 10000 || out->cap - out->len <= 4)
        return false;
    char *o = out->data + out->len;
    unsigned i = (unsigned)v;
    size_t n = i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4;
    for (size_t k = n; k-- > 0; i /= 10)
        o[k] = (char)('0' + i % 10);
    out->len += n;
    return true;
}

/* mn_template_write_value for the values a page is mostly made of (strings, small ints),
 * without the general function's frame (it also does dates, numbers and objects). */
static inline int mn__write_value(mn_template_state *r, const mn_value *v, mn_buf *out)
{
    if (v && v->kind == MN_VALUE_STRING)
        return v->safe || !r->autoescape ? mn__put(out, v->u.str.ptr, v->u.str.len)
                                         : mn__escape(out, v->u.str.ptr, v->u.str.len);
    if (v && v->kind == MN_VALUE_INT && mn__put_small_int(out, v->u.i))
        return MN_OK;
    return mn_template_write_value(r, v, out);
}

int mn__render_nodelist(mn_template_state *r, const nodelist *nl, mn_buf *out);
int mn__render_fail(mn_template_state *r, int code, const char *fmt, ...) MN_PRINTF(3, 4);
/* Resolves an expression; ignore_failures gives none for a missing variable (if/for/...).
 * *out is never NULL on success. */
int mn__resolve(mn_template_state *r, const mn_template_expr *x, bool ignore_failures,
                mn_value **out);
int mn__eval_cond(mn_template_state *r, const cond *c, int *truth);
int mn__render_template_in(mn_template_state *r, const mn_template *t, mn_buf *out);
void **mn__state_slot(mn_template_state *r, const void *key);

/* ---- Context (context.c). ---- */
typedef struct ctx_var {
    mn_str name;
    mn_value *value;
} ctx_var;

typedef struct ctx_frame {
    ctx_var *vars;
    int n, cap;
} ctx_frame;

struct mn_context {
    mn_arena *arena;
    ctx_frame *frames;
    int nframes, cap_frames;
    bool autoescape;
};

/* Sets without copying the name (it must outlive the context: template text). */
int mn__context_set_ref(mn_context *c, mn_str name, mn_value *v);
/* True, False, None or NULL: what a name no frame holds resolves to. */
mn_value *mn__context_builtin(mn_str name);
/* Inline: every variable of a page starts here, and the call's frame setup cost as much as
 * the search (the loop variable is nearly always in the top frame). */
static inline mn_value *mn__context_lookup(const mn_context *c, mn_str name)
{
    for (int f = c->nframes - 1; f >= 0; f--) {
        const ctx_frame *fr = &c->frames[f];
        for (int i = fr->n - 1; i >= 0; i--)
            if (fr->vars[i].name.len == name.len &&
                mn__name_eq(fr->vars[i].name.ptr, name.ptr, name.len))
                return fr->vars[i].value;
    }
    return mn__context_builtin(name);
}
/* A fresh context sharing nothing but the arena (include ... only, inclusion tags). */
mn_context *mn__context_new_like(const mn_context *c);

/* Calendar arithmetic on the proleptic Gregorian calendar (value.c): the days since
 * 1970-01-01 of a date, and the date and time of a count of seconds since the epoch (the
 * other fields of *t are left as they are). */
int64_t mn__days_from_civil(int64_t y, int64_t m, int64_t d);
void mn__datetime_from_epoch(int64_t secs, int32_t usec, mn_datetime *t);

/* Lorem ipsum text (lorem.c). */
int mn__lorem(mn_buf *out, int64_t count, char method, bool random);

#endif
