/* manouche/template.h — the Django template language.
 *
 * An engine holds loaders (directories, per-app templates/ folders, templates embedded in
 * the binary), settings (debug, autoescape, string_if_invalid, limits) and libraries of
 * filters and tags. A template is compiled once into a node tree owned by the engine (the
 * cached loader); rendering walks the tree and writes straight into an mn_buf, allocating
 * only what filters make, in the caller's arena.
 *
 * Rendering may park the coroutine: an object value's callbacks (a lazy queryset, a foreign
 * key) may run queries. Nothing else in the engine blocks except loading a template file.
 *
 * Extensions: filters, simple tags, inclusion tags and tags with their own parser are added
 * to a library; the library named "" holds the built-ins (always available); other libraries
 * are made available by {% load name %}. */
#ifndef MANOUCHE_TEMPLATE_H
#define MANOUCHE_TEMPLATE_H

#include <manouche/core.h>
#include <manouche/value.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_template_engine mn_template_engine;
typedef struct mn_template mn_template;
typedef struct mn_template_library mn_template_library;
typedef struct mn_context mn_context;
typedef struct mn_template_state mn_template_state; /* one render in progress (opaque) */

/* ---- Errors: a syntax error names the template, line, column and source line. ---- */
typedef struct mn_template_error {
    int code; /* MN_EINVAL syntax, MN_ENOTFOUND missing template, ... */
    char template_name[256];
    int line;   /* 1-based; 0 when not tied to a place */
    int column; /* 1-based */
    char message[512];
    char source_line[512]; /* the template line holding the error, without its newline */
} mn_template_error;

/* Formats an error as users see it:
 *   TemplateSyntaxError: polls/index.html:3:10: Invalid block tag 'endfo'...
 *       3 | {% for q in qs %}{% endfo %}
 *         |          ^ */
int mn_template_error_format(const mn_template_error *err, mn_buf *out);

/* ---- Engine. ---- */
typedef struct mn_template_options {
    bool debug;                    /* reload changed files (mtime), fuller error text */
    bool autoescape;               /* default true (mn_template_engine_new sets it) */
    const char *string_if_invalid; /* what a missing variable renders as; "" by default */
    size_t max_output;             /* bytes one render may write; 0: 64 MiB */
    int max_depth;                 /* nesting of includes/extends/blocks/tags; 0: 100 */
    int64_t max_loop_iterations;   /* total for-loop iterations per render; 0: 10 million */
    int32_t time_zone_offset;      /* seconds east of UTC: the "current time zone" */
    const char *time_zone_name;    /* its name ("UTC" default) */
} mn_template_options;

/* A new engine with the built-in tags and filters and default options. NULL on ENOMEM. */
mn_template_engine *mn_template_engine_new(void);
void mn_template_engine_free(mn_template_engine *e);
/* The options in force; change fields directly before rendering (strings are not copied). */
mn_template_options *mn_template_engine_options(mn_template_engine *e);
/* Adds a directory searched for templates (DIRS), in order. 0 or MN_ENOMEM. */
int mn_template_engine_add_dir(mn_template_engine *e, const char *dir);
/* Adds an app's template folder (APP_DIRS: usually "<app>/templates"), searched after DIRS. */
int mn_template_engine_add_app_dir(mn_template_engine *e, const char *app, const char *dir);
/* Registers a template compiled into the binary (source not copied: static storage). These
 * are searched after the directories. */
int mn_template_engine_add_embedded(mn_template_engine *e, const char *name, const char *source,
                                    size_t len);
/* Registers a NULL-terminated table of {name, source} pairs (source NUL-terminated). */
typedef struct mn_template_embedded {
    const char *name;
    const char *source;
} mn_template_embedded;
int mn_template_engine_add_embedded_table(mn_template_engine *e, const mn_template_embedded *t);

/* The {% url %} tag's resolver (the web layer sets it): appends the path for view `name`
 * with positional and keyword arguments to out. 0, MN_ENOTFOUND (NoReverseMatch) or another
 * negative code. */
typedef int (*mn_template_reverse_fn)(void *userdata, const char *name, size_t argc,
                                      mn_value *const *argv, size_t kwargc, const mn_str *kwnames,
                                      mn_value *const *kwvals, mn_buf *out);
void mn_template_engine_set_reverse(mn_template_engine *e, mn_template_reverse_fn fn,
                                    void *userdata);

/* Finds and compiles template `name` (the cached loader: compiled once, then shared; in
 * debug, recompiled when its file changed). "page.html#part" names a partial. The template
 * belongs to the engine. NULL on failure, with err filled when given. */
mn_template *mn_template_engine_get(mn_template_engine *e, const char *name,
                                    mn_template_error *err);
/* Compiles source text (copied) under a display name; the result belongs to the engine and
 * is freed with it (or earlier by mn_template_free). NULL with err on a syntax error. */
mn_template *mn_template_compile(mn_template_engine *e, const char *name, const char *source,
                                 size_t len, mn_template_error *err);
void mn_template_free(mn_template *t);
const char *mn_template_name(const mn_template *t);

/* ---- Context: a stack of name -> value frames (Django's Context). ---- */
/* A context whose frames and values live in `arena` (usually the request's). */
mn_context *mn_context_new(mn_arena *arena);
mn_arena *mn_context_arena(const mn_context *c);
/* Sets name in the top frame (name is copied). 0 or MN_ENOMEM. */
int mn_context_set(mn_context *c, const char *name, mn_value *v);
/* Sets every key of a dict value in the top frame. 0, MN_EINVAL (not a dict), MN_ENOMEM. */
int mn_context_update(mn_context *c, const mn_value *dict);
/* Looks name up from the top frame down; NULL when absent. */
mn_value *mn_context_get(const mn_context *c, const char *name, size_t len);
/* Pushes an empty frame / pops the top one (the bottom frame is never popped). */
int mn_context_push(mn_context *c);
void mn_context_pop(mn_context *c);
/* Turns autoescaping off for this context (Context(autoescape=False)). */
void mn_context_set_autoescape(mn_context *c, bool on);

/* ---- Rendering. ---- */
/* Renders t with ctx, appending to out. 0, or a negative code with err filled (a missing
 * included template, a failing object callback, the output or depth limit ...). */
int mn_template_render(const mn_template *t, mn_context *ctx, mn_buf *out,
                       mn_template_error *err) MN_MAY_YIELD;
/* Loads (cached) and renders template `name`. */
int mn_template_render_name(mn_template_engine *e, const char *name, mn_context *ctx, mn_buf *out,
                            mn_template_error *err) MN_MAY_YIELD;

/* The template and line this thread is rendering (the tag or variable being evaluated, in
 * an included template its own name), for diagnostics such as the ORM's N+1 warning about a
 * lazy queryset; NULL, line 0, outside a render. */
const char *mn_template_current(int *line);
/* Renders that park (a lazy queryset runs a query) interleave on one thread; fn names the
 * task running now (the runtime's coroutine) so mn_template_current() answers only the
 * render that set it. The layer that runs renders on coroutines sets it (the ORM does when
 * its objects become template values); unset, a thread runs one render at a time. */
void mn_template_set_task_fn(const void *(*fn)(void));

/* Appends s with Django's escape(): & < > " ' become &amp; &lt; &gt; &quot; &#x27;. */
int mn_template_escape(mn_buf *out, const char *s, size_t len);
/* Appends Python str() of v, escaped unless v is safe or autoescape is off (Django's
 * render_value_in_context, with localization of numbers and dates). */
int mn_template_write_value(mn_template_state *r, const mn_value *v, mn_buf *out) MN_MAY_YIELD;

/* ---- Libraries. ---- */
/* The library called name in e, made on first use ("" is the built-in library). {% load name %}
 * brings its filters and tags into a template. NULL on ENOMEM. */
mn_template_library *mn_template_engine_library(mn_template_engine *e, const char *name);

/* ---- Filters. ---- */
/* Flags (Django's filter attributes). Argument handling: a filter takes no argument unless
 * MN_FILTER_ARG or MN_FILTER_ARG_OPTIONAL is set; a wrong count is a syntax error. */
enum {
    MN_FILTER_IS_SAFE = 1 << 0,           /* is_safe=True: safe input gives safe output */
    MN_FILTER_NEEDS_AUTOESCAPE = 1 << 1,  /* reads call->autoescape */
    MN_FILTER_EXPECTS_LOCALTIME = 1 << 2, /* aware datetimes arrive in the current zone */
    MN_FILTER_STRING = 1 << 3,            /* @stringfilter: value arrives as a string */
    MN_FILTER_ARG = 1 << 4,               /* takes exactly one argument */
    MN_FILTER_ARG_OPTIONAL = 1 << 5,      /* takes zero or one argument */
};

typedef struct mn_filter_call {
    mn_arena *arena; /* allocate results here */
    bool autoescape; /* the autoescape state where the filter runs */
    bool has_arg;    /* an argument was written */
    mn_template_state *render;
    const mn_template_options *options; /* time zone, string_if_invalid ... */
} mn_filter_call;

/* A filter: returns the new value (allocated in call->arena, or an existing value), or NULL
 * after mn_filter_fail() to abort the render with an error. `arg` is NULL when absent. Under
 * MN_FILTER_STRING, `value` is always a string (Python's str() of the original; its `safe`
 * flag kept). The engine applies is_safe: with MN_FILTER_IS_SAFE a string result of a safe
 * input is marked safe. */
typedef mn_value *(*mn_filter_fn)(const mn_filter_call *call, mn_value *value,
                                  mn_value *arg)MN_MAY_YIELD;

/* 0, MN_ENOMEM or MN_EINVAL (bad name). A later registration of the same name wins. */
int mn_template_library_add_filter(mn_template_library *lib, const char *name, mn_filter_fn fn,
                                   unsigned flags);
/* Records why a filter failed; it then returns NULL. */
void mn_filter_fail(const mn_filter_call *call, const char *fmt, ...) MN_PRINTF(2, 3);

/* ---- Simple and inclusion tags (Django's @simple_tag / @inclusion_tag). ---- */
typedef struct mn_tag_call {
    mn_arena *arena;
    mn_context *context; /* takes_context: read (or set) variables */
    bool autoescape;
    void *userdata; /* given at registration */
    mn_template_state *render;
    size_t argc;
    mn_value *const *argv; /* positional arguments, resolved */
    size_t kwargc;
    const mn_str *kwnames; /* keyword arguments (name=value), in written order */
    mn_value *const *kwvals;
} mn_tag_call;

/* A simple tag's result is rendered (escaped unless safe, as conditional_escape) or stored
 * with `{% tag args as var %}`. NULL after mn_tag_fail() aborts the render. */
typedef mn_value *(*mn_simple_tag_fn)(const mn_tag_call *call)MN_MAY_YIELD;
/* An inclusion tag returns the dict of variables the template `template_name` renders with
 * (a new context, as Django's). NULL after mn_tag_fail(). */
typedef mn_value *(*mn_inclusion_tag_fn)(const mn_tag_call *call)MN_MAY_YIELD;

/* min_args/max_args bound the positional count (max -1: any); keyword arguments are always
 * allowed. A wrong count is a syntax error at compile time. */
int mn_template_library_add_simple_tag(mn_template_library *lib, const char *name,
                                       mn_simple_tag_fn fn, int min_args, int max_args,
                                       void *userdata);
int mn_template_library_add_inclusion_tag(mn_template_library *lib, const char *name,
                                          mn_inclusion_tag_fn fn, const char *template_name,
                                          int min_args, int max_args, void *userdata);
void mn_tag_fail(const mn_tag_call *call, const char *fmt, ...) MN_PRINTF(2, 3);

/* ---- Tags with their own parser (Django's @register.tag with a compile function). ---- */
typedef struct mn_tag_parser mn_tag_parser; /* the parser, during compile */
typedef struct mn_template_nodelist mn_template_nodelist;
typedef struct mn_template_expr mn_template_expr; /* a compiled `var|filter:arg` */

/* compile: called with the tag's contents (`name arg1 arg2`), stores its node data in *node.
 * 0, or a negative code after mn_tag_parser_error(). */
typedef int (*mn_tag_compile_fn)(mn_tag_parser *p, mn_str contents, void *userdata, void **node);
/* render: appends the node's output to out. 0 or a negative code (mn_tag_render_fail). */
typedef int (*mn_tag_render_fn)(mn_template_state *r, void *node, mn_buf *out) MN_MAY_YIELD;

int mn_template_library_add_tag(mn_template_library *lib, const char *name,
                                mn_tag_compile_fn compile, mn_tag_render_fn render, void *userdata);

/* Parser helpers for compile functions. */
mn_arena *mn_tag_parser_arena(mn_tag_parser *p); /* lives as long as the template */
/* Splits contents into bits as Django's smart_split (quoted strings kept whole). The array
 * and slices live in the parser's arena. Returns the count or a negative code. */
int mn_tag_parser_split(mn_tag_parser *p, mn_str contents, mn_str **bits);
/* Compiles a filter expression (`name|lower|default:"x"`). 0 or a negative code. */
int mn_tag_parser_compile_expr(mn_tag_parser *p, mn_str text, mn_template_expr **out);
/* Parses nodes until one of the NULL-terminated end tags; *which gets the full contents of
 * the end tag found (e.g. "endmytag" or "else"). 0 or a negative code (unclosed tag). */
int mn_tag_parser_parse_until(mn_tag_parser *p, const char *const *end_tags,
                              mn_template_nodelist **out, mn_str *which);
/* Records a syntax error at the current tag; returns MN_EINVAL. */
int mn_tag_parser_error(mn_tag_parser *p, const char *fmt, ...) MN_PRINTF(2, 3);

/* Render helpers for render functions. */
mn_context *mn_tag_render_context(mn_template_state *r);
mn_arena *mn_tag_render_arena(mn_template_state *r);
bool mn_tag_render_autoescape(mn_template_state *r);
int mn_tag_render_nodelist(mn_template_state *r, const mn_template_nodelist *nl,
                           mn_buf *out) MN_MAY_YIELD;
/* Resolves an expression (filters applied); *out is never NULL on success. */
int mn_tag_render_expr(mn_template_state *r, const mn_template_expr *x,
                       mn_value **out) MN_MAY_YIELD;
int mn_tag_render_fail(mn_template_state *r, const char *fmt, ...) MN_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif
#endif
