/* manouche/web.h — routing, views, middleware and the project definition.
 *
 * A project lists its routes as const tables (MN_PATH, MN_RE_PATH, MN_INCLUDE, MN_END), its
 * apps and its error handlers in one mn_project; mn_site_new() compiles that (patterns,
 * templates, middleware in MIDDLEWARE order) against the loaded settings, and mn_site_handle()
 * is the mn_handler the server runs for every request.
 *
 * Views are plain C functions, `void view(mn_req *r)`, run on the request's coroutine. A view
 * answers through the mn_resp_* calls of http.h or the helpers below. The helpers that END a
 * view with an HTTP error (mn_http_404(), mn_abort(), ...) are MN_NORETURN: they longjmp back
 * to the dispatcher on the same coroutine, which then runs the middleware error hooks and the
 * error handler. That is safe because everything the view allocated lives in the request's
 * arena and other resources are released by mn_arena_defer() callbacks; a view must not hold
 * a heap pointer or a lock across such a call. */
#ifndef MANOUCHE_WEB_H
#define MANOUCHE_WEB_H

#include <manouche/core.h>
#include <manouche/http.h>
#include <manouche/settings.h>
#include <manouche/template.h>
#include <manouche/value.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mn_view)(mn_req *r);

/* ---- Converters: path("<name:param>/") parts. Built in: str, int, slug, uuid, path. ---- */
typedef struct mn_converter {
    const char *name;  /* as written in patterns: <name:param> */
    const char *regex; /* PCRE2 syntax, without anchors or capturing groups */
    /* Optional extra check after the regex matched (Django's to_python raising ValueError):
     * false makes the route not match (and reverse refuse the value). */
    bool (*accepts)(mn_str value);
} mn_converter;

/* ---- Route tables. ---- */
typedef enum mn_route_kind {
    MN_ROUTE_END = 0,
    MN_ROUTE_PATH,    /* Django path(): literal text and <converter:name> parts */
    MN_ROUTE_RE_PATH, /* Django re_path(): PCRE2 with named groups, anchored at the start */
    MN_ROUTE_INCLUDE, /* a prefix (path() syntax) in front of another table */
} mn_route_kind;

typedef struct mn_route {
    mn_route_kind kind;
    const char *pattern;
    mn_view view;
    const char *name;                /* for mn_reverse(); NULL: unnamed */
    const struct mn_route *children; /* MN_INCLUDE: the included table */
    const char *methods;             /* "GET,POST": others get 405 with Allow; NULL: any */
} mn_route;

#define MN_PATH(pattern, view, name)                                                               \
    {                                                                                              \
        MN_ROUTE_PATH, (pattern), (view), (name), NULL, NULL                                       \
    }
#define MN_PATH_METHODS(pattern, view, name, methods)                                              \
    {                                                                                              \
        MN_ROUTE_PATH, (pattern), (view), (name), NULL, (methods)                                  \
    }
#define MN_RE_PATH(pattern, view, name)                                                            \
    {                                                                                              \
        MN_ROUTE_RE_PATH, (pattern), (view), (name), NULL, NULL                                    \
    }
/* include(): `namespace` (may be NULL) prefixes the names inside: "polls:detail". */
#define MN_INCLUDE(prefix, table, namespace_)                                                      \
    {                                                                                              \
        MN_ROUTE_INCLUDE, (prefix), NULL, (namespace_), (table), NULL                              \
    }
#define MN_END                                                                                     \
    {                                                                                              \
        MN_ROUTE_END, NULL, NULL, NULL, NULL, NULL                                                 \
    }

/* ---- The router: a route table compiled once, read by every request. ---- */
typedef struct mn_router mn_router;

/* Compiles routes (includes flattened) with the built-in converters plus `converters`
 * (NULL-name-terminated, may be NULL). NULL on a bad pattern, with a one-line message in err
 * naming the pattern: "polls/<foo:id>/: unknown converter 'foo'". */
mn_router *mn_router_new(const mn_route *routes, const mn_converter *converters, char *err,
                         size_t errlen);
void mn_router_free(mn_router *router);

enum { MN_ROUTE_MAX_PARAMS = 16 };

/* The result of resolving a path: no allocation; slices point into the path matched. */
typedef struct mn_route_match {
    const mn_route *route;    /* the endpoint */
    const char *full_name;    /* "polls:detail", or NULL when unnamed */
    const char *full_pattern; /* "polls/<int:question_id>/" */
    size_t param_count;
    const char *param_names[MN_ROUTE_MAX_PARAMS]; /* NULL for a positional re_path group */
    mn_str params[MN_ROUTE_MAX_PARAMS];
} mn_route_match;

/* Resolves a request path ("/polls/5/", leading slash optional) for method (NULL: any).
 * 0 on a match; MN_ENOTFOUND when no pattern matches; MN_EUNSUPPORTED when patterns match but
 * none allows the method: then allow (if given) receives the allowed methods, "GET, HEAD". */
int mn_router_resolve(const mn_router *router, mn_str path, const char *method,
                      mn_route_match *match, char *allow, size_t allow_len);

/* Reverse: the path ("/polls/5/") for route `name` with argc string arguments (positional) or
 * named ones (names != NULL, argc pairs). Values are checked against their converter and
 * percent-encoded (as django.urls.reverse). 0, or MN_ENOTFOUND with a message in err:
 * "Reverse for 'polls:detail' with arguments ('x') not found. 1 pattern(s) tried: [...]". */
int mn_router_reverse(const mn_router *router, const char *name, size_t argc,
                      const char *const *names, const char *const *values, mn_buf *out, char *err,
                      size_t errlen);

/* Iteration for `urls`: the i-th endpoint's full pattern, name and methods; false past the
 * end. */
bool mn_router_route_at(const mn_router *router, size_t i, const char **full_pattern,
                        const char **full_name, const char **methods, mn_view *view);

/* ---- Apps and the project. ---- */
struct mn_command;
typedef struct mn_site mn_site;
typedef struct mn_middleware mn_middleware;

typedef struct mn_app {
    const char *name;                       /* "polls" */
    const char *templates_dir;              /* its templates folder, relative to the project dir */
    const char *static_dir;                 /* its static folder, relative to the project dir */
    const mn_template_embedded *templates;  /* templates compiled in, NULL-name-terminated */
    const mn_setting_def *settings;         /* its own settings, NULL-name-terminated */
    const struct mn_command *commands;      /* its management commands, NULL-name-terminated */
    const mn_middleware *const *middleware; /* middleware it provides (named in MIDDLEWARE) */
    /* Runs once when the site is built (registers template filters, ...). 0 or an error. */
    int (*ready)(mn_site *site);
} mn_app;

typedef struct mn_project {
    const char *name;               /* the binary's name in messages: "polls" */
    const mn_route *urls;           /* ROOT_URLCONF */
    const mn_app *const *apps;      /* INSTALLED_APPS, NULL-terminated */
    const mn_converter *converters; /* user-defined path converters, NULL-name-terminated */
    mn_view handler404;             /* NULL: the built-in page */
    mn_view handler500;
    mn_view handler403;
    mn_view handler400;
    /* The project folder (for .env, templates, static files), or a file in it: `__FILE__`
     * in the project's main.c works. NULL, or a path that does not exist (an installed
     * binary): the current directory. */
    const char *dir;
} mn_project;

/* ---- The site: a project compiled against loaded settings, shared by all requests. ---- */

/* Builds the site: router, template engine (TEMPLATES_DIRS then the apps' folders and
 * embedded templates, {% url %} wired to the router), middleware from MIDDLEWARE. NULL with
 * a one-line message in err on any problem (unknown middleware, bad pattern, ...). */
mn_site *mn_site_new(const mn_project *project, const mn_settings *settings, char *err,
                     size_t errlen);
void mn_site_free(mn_site *site);
/* The mn_handler for the server and the test client (arg is the site). */
void mn_site_handle(mn_req *r, void *site);
const mn_router *mn_site_router(const mn_site *site);
const mn_settings *mn_site_settings(const mn_site *site);
mn_template_engine *mn_site_templates(mn_site *site);
/* The static files (finders, manifest, STATIC_ROOT) built from the settings and the apps. */
struct mn_static *mn_site_static(mn_site *site);
const mn_project *mn_site_project(const mn_site *site);
/* The project folder the site resolved (mn_project.dir): relative paths in settings, such as
 * sqlite:///db.sqlite3, are taken from here. */
const char *mn_site_dir(const mn_site *site);
/* Fills the server limits from the settings. */
void mn_site_http_limits(const mn_site *site, mn_http_limits *limits);
/* The site handling r (NULL outside mn_site_handle). */
mn_site *mn_req_site(const mn_req *r);

/* ---- Middleware: a chain in MIDDLEWARE order. Each hook is optional. ----
 * before() runs on the way in, outermost first; it may answer early by returning true (the
 * response it wrote is then sent back out through the after() hooks of the middleware
 * before it). after() runs on the way out, innermost first, on every response (views, early
 * answers and error pages). on_error() runs, innermost first, when the view ended with an
 * HTTP error; returning true means it wrote the response (else the error handler does). */
struct mn_middleware {
    const char *name; /* as listed in MIDDLEWARE */
    bool (*before)(mn_req *r);
    void (*after)(mn_req *r);
    bool (*on_error)(mn_req *r, int status, const char *message);
};

/* The built-in middleware by name (request_id, host, security, gzip, conditional_get, common),
 * NULL when unknown. */
const mn_middleware *mn_middleware_builtin(const char *name);

/* ---- Path parameters of the matched route. ---- */
/* The captured text (percent-decoded), NULL when the route has no such parameter. */
const char *mn_path_str(mn_req *r, const char *name);
/* An <int:...> (or any digits-only) parameter; ends the view with 404 when absent or out of
 * range, as Django's int converter never hands a view a non-number. */
int64_t mn_path_int(mn_req *r, const char *name);
/* The match itself (route, name, params), NULL before routing. */
const mn_route_match *mn_req_route(const mn_req *r);

/* ---- View helpers. ---- */
/* One context variable for MN_CTX; built by the MN_CTX macro, rarely by hand. */
typedef enum mn_ctx_kind {
    MN_CTX_VALUE,
    MN_CTX_CSTR,
    MN_CTX_INT,
    MN_CTX_DOUBLE,
    MN_CTX_BOOL
} mn_ctx_kind;
typedef struct mn_ctx_item {
    const char *name;
    mn_ctx_kind kind;
    const mn_value *value;
    const char *cstr;
    int64_t i;
    double d;
} mn_ctx_item;
mn_ctx_item mn_ctx_value(const char *name, const mn_value *v);
mn_ctx_item mn_ctx_cstr(const char *name, const char *s);
mn_ctx_item mn_ctx_int(const char *name, int64_t i);
mn_ctx_item mn_ctx_double(const char *name, double d);
mn_ctx_item mn_ctx_bool(const char *name, bool b);

/* Renders a template with the site's engine into the response (200, text/html). A template
 * error ends the view with 500 (the DEBUG page shows the template, line and source).
 * ctx is an array ending with a NULL name (MN_CTX builds one), or NULL. */
void mn_render(mn_req *r, const char *template_name, const mn_ctx_item *ctx) MN_MAY_YIELD;
/* The same into a string in the request's arena (for emails, fragments); NULL on error. */
const char *mn_render_to_string(mn_req *r, const char *template_name,
                                const mn_ctx_item *ctx) MN_MAY_YIELD;
/* 302 (or 301) with Location. */
void mn_redirect(mn_req *r, const char *location);
void mn_redirect_permanent(mn_req *r, const char *location);
/* Reverse from a view: mn_reverse(r, "polls:results", q->id). In C, mn_reverse is a macro
 * that passes each argument with its type (any integer, or a string; up to 8), so a string
 * for <int:> or a number for <str:> is converted, not misread. A name or arguments that do
 * not match end the view with 500 (NoReverseMatch). The path is in the request's arena. */
typedef struct mn_url_arg {
    const char *str; /* NULL: the argument is num */
    int64_t num;
} mn_url_arg;
mn_url_arg mn_url_arg_str(const char *s);
mn_url_arg mn_url_arg_int(int64_t i);
const char *mn_reverse_typed(mn_req *r, const char *name, size_t argc, const mn_url_arg *args);
/* The plain variadic form (what C++ calls): arguments follow the route's converters in
 * order, int64_t for <int:>, const char * for every other converter and re_path group. */
const char *(mn_reverse)(mn_req *r, const char *name, ...);
/* The same with string arguments; NULL (no error raised) when nothing matches. */
const char *mn_reverse_args(mn_req *r, const char *name, size_t argc, const char *const *argv);
/* A JSON response: takes a reference to value (jansson's json_t; stolen). */
void mn_json(mn_req *r, int status, struct json_t *value);
/* A JSON response from text already formatted. */
void mn_json_text(mn_req *r, int status, const char *json);

/* Ends the view with an HTTP error: the error handler (custom or built-in) writes the page;
 * message is shown in DEBUG and logged. */
MN_NORETURN void mn_abort(mn_req *r, int status, const char *fmt, ...) MN_PRINTF(3, 4);
MN_NORETURN void mn_http_404(mn_req *r, const char *message);
MN_NORETURN void mn_http_403(mn_req *r, const char *message);
MN_NORETURN void mn_http_400(mn_req *r, const char *message);
MN_NORETURN void mn_http_500(mn_req *r, const char *message);
/* As django.views.decorators.http.require_http_methods: ends with 405 and Allow unless the
 * method is in the comma-separated list ("GET,POST"; HEAD is allowed with GET). */
void mn_require_methods(mn_req *r, const char *methods);
/* In an error handler: the status and message of the error being handled. */
int mn_error_status(const mn_req *r);
const char *mn_error_message(const mn_req *r);

#ifdef __cplusplus
}
#endif

/* mn_reverse (above) and MN_CTX("name", value, "name2", value2, ...): up to 12 pairs; values
 * may be mn_value *, C strings, integers, doubles or bools. C only (_Generic and compound
 * literals). */
#if !defined(__cplusplus)
#define MN__URL_ARG(v)                                                                             \
    _Generic((v), char *: mn_url_arg_str, const char *: mn_url_arg_str, default: mn_url_arg_int)(v)
#define MN__REV0(r, n) mn_reverse_typed((r), (n), 0, NULL)
#define MN__REV1(r, n, a) mn_reverse_typed((r), (n), 1, (const mn_url_arg[]){MN__URL_ARG(a)})
#define MN__REV2(r, n, a, b)                                                                       \
    mn_reverse_typed((r), (n), 2, (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b)})
#define MN__REV3(r, n, a, b, c)                                                                    \
    mn_reverse_typed((r), (n), 3,                                                                  \
                     (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b), MN__URL_ARG(c)})
#define MN__REV4(r, n, a, b, c, d)                                                                 \
    mn_reverse_typed(                                                                              \
        (r), (n), 4,                                                                               \
        (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b), MN__URL_ARG(c), MN__URL_ARG(d)})
#define MN__REV5(r, n, a, b, c, d, e)                                                              \
    mn_reverse_typed((r), (n), 5,                                                                  \
                     (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b), MN__URL_ARG(c),          \
                                          MN__URL_ARG(d), MN__URL_ARG(e)})
#define MN__REV6(r, n, a, b, c, d, e, f)                                                           \
    mn_reverse_typed((r), (n), 6,                                                                  \
                     (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b), MN__URL_ARG(c),          \
                                          MN__URL_ARG(d), MN__URL_ARG(e), MN__URL_ARG(f)})
#define MN__REV7(r, n, a, b, c, d, e, f, g)                                                        \
    mn_reverse_typed((r), (n), 7,                                                                  \
                     (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b), MN__URL_ARG(c),          \
                                          MN__URL_ARG(d), MN__URL_ARG(e), MN__URL_ARG(f),          \
                                          MN__URL_ARG(g)})
#define MN__REV8(r, n, a, b, c, d, e, f, g, h)                                                     \
    mn_reverse_typed((r), (n), 8,                                                                  \
                     (const mn_url_arg[]){MN__URL_ARG(a), MN__URL_ARG(b), MN__URL_ARG(c),          \
                                          MN__URL_ARG(d), MN__URL_ARG(e), MN__URL_ARG(f),          \
                                          MN__URL_ARG(g), MN__URL_ARG(h)})
#define MN__REV_PICK(n, a1, a2, a3, a4, a5, a6, a7, a8, macro, ...) macro
#define mn_reverse(r, ...)                                                                         \
    MN__REV_PICK(__VA_ARGS__, MN__REV8, MN__REV7, MN__REV6, MN__REV5, MN__REV4, MN__REV3,          \
                 MN__REV2, MN__REV1, MN__REV0)                                                     \
    (r, __VA_ARGS__)

#define MN__CTX_ITEM(k, v)                                                                         \
    _Generic((v),                                                                             \
        char *: mn_ctx_cstr, const char *: mn_ctx_cstr,                                       \
        mn_value *: mn_ctx_value, const mn_value *: mn_ctx_value,                             \
        _Bool: mn_ctx_bool,                                                                   \
        float: mn_ctx_double, double: mn_ctx_double,                                          \
        default: mn_ctx_int)((k), (v))
#define MN__CTX_1(k, v) MN__CTX_ITEM(k, v)
#define MN__CTX_2(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_1(__VA_ARGS__)
#define MN__CTX_3(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_2(__VA_ARGS__)
#define MN__CTX_4(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_3(__VA_ARGS__)
#define MN__CTX_5(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_4(__VA_ARGS__)
#define MN__CTX_6(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_5(__VA_ARGS__)
#define MN__CTX_7(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_6(__VA_ARGS__)
#define MN__CTX_8(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_7(__VA_ARGS__)
#define MN__CTX_9(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_8(__VA_ARGS__)
#define MN__CTX_10(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_9(__VA_ARGS__)
#define MN__CTX_11(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_10(__VA_ARGS__)
#define MN__CTX_12(k, v, ...) MN__CTX_ITEM(k, v), MN__CTX_11(__VA_ARGS__)
#define MN__CTX_PICK(a1, b1, a2, b2, a3, b3, a4, b4, a5, b5, a6, b6, a7, b7, a8, b8, a9, b9, a10,  \
                     b10, a11, b11, a12, b12, name, ...)                                           \
    name
#define MN_CTX(...)                                                                                \
    ((const mn_ctx_item[]){                                                                        \
        MN__CTX_PICK(__VA_ARGS__, MN__CTX_12, MN__CTX_ERR, MN__CTX_11, MN__CTX_ERR, MN__CTX_10,    \
                     MN__CTX_ERR, MN__CTX_9, MN__CTX_ERR, MN__CTX_8, MN__CTX_ERR, MN__CTX_7,       \
                     MN__CTX_ERR, MN__CTX_6, MN__CTX_ERR, MN__CTX_5, MN__CTX_ERR, MN__CTX_4,       \
                     MN__CTX_ERR, MN__CTX_3, MN__CTX_ERR, MN__CTX_2, MN__CTX_ERR, MN__CTX_1,       \
                     MN__CTX_ERR)(__VA_ARGS__),                                                    \
        {NULL, MN_CTX_VALUE, NULL, NULL, 0, 0.0}})
#endif

#endif
