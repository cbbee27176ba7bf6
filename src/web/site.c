/* site.c — a project compiled against its settings, and the request dispatcher.
 *
 * mn_site_handle() is the one mn_handler of a project: it runs the middleware before-hooks
 * (outermost first), resolves the path, runs the view, then the after-hooks (innermost
 * first). Every call that may end with mn_abort() runs under mn__protected(), a setjmp on
 * the request's own coroutine stack, so an error helper anywhere in a view unwinds straight
 * to here; the request arena owns everything the view made, so nothing leaks. */
#include "web/internal.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t mn__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int err_out(char *err, size_t errlen, const char *fmt, ...) MN_PRINTF(3, 4);
static int err_out(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return MN_EINVAL;
}

/* project->dir may name the folder or a file in it (`__FILE__` in the project's main.c). */
static void resolve_dir(mn_site *s)
{
    const char *d = s->project->dir;
    struct stat st;
    if (d && stat(d, &st) == 0) {
        snprintf(s->dir, sizeof s->dir, "%s", d);
        if (!S_ISDIR(st.st_mode)) {
            char *slash = strrchr(s->dir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(s->dir, sizeof s->dir, ".");
        }
        return;
    }
    if (!getcwd(s->dir, sizeof s->dir))
        snprintf(s->dir, sizeof s->dir, ".");
}

static void path_in(const mn_site *s, const char *rel, char *out, size_t cap)
{
    if (rel[0] == '/')
        snprintf(out, cap, "%s", rel);
    else
        snprintf(out, cap, "%s/%s", s->dir, rel);
}

/* {% url %}: template values to strings, then the router's reverse. */
static int template_reverse(void *userdata, const char *name, size_t argc, mn_value *const *argv,
                            size_t kwargc, const mn_str *kwnames, mn_value *const *kwvals,
                            mn_buf *out)
{
    const mn_router *rt = userdata;
    mn_arena *a = mn_arena_new(0);
    if (!a)
        return MN_ENOMEM;
    size_t n = kwargc ? kwargc : argc;
    const char **names = kwargc ? mn_arena_calloc(a, n + 1, sizeof *names) : NULL;
    const char **vals = mn_arena_calloc(a, n + 1, sizeof *vals);
    int rc = vals && (!kwargc || names) ? 0 : MN_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        mn_str text;
        rc = mn_value_to_text(kwargc ? kwvals[i] : argv[i], a, &text);
        if (rc == 0)
            vals[i] = mn_arena_strndup(a, text.ptr, text.len);
        if (rc == 0 && kwargc)
            names[i] = mn_arena_strndup(a, kwnames[i].ptr, kwnames[i].len);
    }
    if (rc == 0 && kwargc && argc)
        rc = MN_EINVAL; /* Django: "Don't mix *args and **kwargs in call to reverse()!" */
    if (rc == 0) {
        char err[512];
        rc = mn_router_reverse(rt, name, n, names, vals, out, err, sizeof err);
    }
    mn_arena_free(a);
    return rc;
}

static int build_templates(mn_site *s, char *err, size_t errlen)
{
    s->engine = mn_template_engine_new();
    if (!s->engine)
        return MN_ENOMEM;
    mn_template_engine_options(s->engine)->debug = s->cfg.debug;
    char path[4096];
    size_t n;
    const char *const *dirs = mn_settings_list(s->settings, "TEMPLATES_DIRS", &n);
    for (size_t i = 0; i < n; i++) {
        path_in(s, dirs[i], path, sizeof path);
        if (mn_template_engine_add_dir(s->engine, path) != 0)
            return MN_ENOMEM;
    }
    for (size_t i = 0; s->project->apps && s->project->apps[i]; i++) {
        const mn_app *app = s->project->apps[i];
        if (app->templates_dir) {
            path_in(s, app->templates_dir, path, sizeof path);
            if (mn_template_engine_add_app_dir(s->engine, app->name, path) != 0)
                return MN_ENOMEM;
        }
        if (app->templates && mn_template_engine_add_embedded_table(s->engine, app->templates))
            return err_out(err, errlen, "app %s: cannot register its templates", app->name);
    }
    mn_template_engine_set_reverse(s->engine, template_reverse, s->router);
    return 0;
}

static int build_static(mn_site *s, char *err, size_t errlen)
{
    const char *url = mn_settings_str(s->settings, "STATIC_URL");
    const char *root = mn_settings_str(s->settings, "STATIC_ROOT");
    char rootpath[4096] = "";
    if (*root)
        path_in(s, root, rootpath, sizeof rootpath);
    s->statics = mn_static_new(url, *root ? rootpath : NULL);
    if (!s->statics)
        return MN_ENOMEM;
    char path[4096];
    size_t n;
    const char *const *dirs = mn_settings_list(s->settings, "STATICFILES_DIRS", &n);
    for (size_t i = 0; i < n; i++) {
        path_in(s, dirs[i], path, sizeof path);
        if (mn_static_add_dir(s->statics, path) != 0)
            return MN_ENOMEM;
    }
    for (size_t i = 0; s->project->apps && s->project->apps[i]; i++) {
        const mn_app *app = s->project->apps[i];
        if (!app->static_dir)
            continue;
        path_in(s, app->static_dir, path, sizeof path);
        if (mn_static_add_app_dir(s->statics, app->name, path) != 0)
            return MN_ENOMEM;
    }
    if (*root && !s->cfg.debug)
        mn_static_load_manifest(s->statics); /* absent manifest: serve plain names */
    if (mn_static_install_tag(s->statics, s->engine) != 0)
        return err_out(err, errlen, "cannot install the static template tag");
    s->cfg.static_url = url[0] == '/' ? url : NULL;
    return 0;
}

static const mn_middleware *find_middleware(const mn_site *s, const char *name)
{
    for (size_t i = 0; s->project->apps && s->project->apps[i]; i++) {
        const mn_middleware *const *mws = s->project->apps[i]->middleware;
        for (size_t j = 0; mws && mws[j]; j++)
            if (strcmp(mws[j]->name, name) == 0)
                return mws[j];
    }
    return mn_middleware_builtin(name);
}

static void read_config(mn_site *s)
{
    const mn_settings *st = s->settings;
    mn__web_config *c = &s->cfg;
    c->debug = mn_settings_bool(st, "DEBUG");
    c->append_slash = mn_settings_bool(st, "APPEND_SLASH");
    c->max_form_fields = (size_t)mn_settings_int(st, "DATA_UPLOAD_MAX_NUMBER_FIELDS");
    c->ssl_redirect = mn_settings_bool(st, "SECURE_SSL_REDIRECT");
    c->ssl_host = mn_settings_str(st, "SECURE_SSL_HOST");
    c->redirect_exempt = mn_settings_list(st, "SECURE_REDIRECT_EXEMPT", &c->redirect_exempt_count);
    c->hsts_seconds = mn_settings_int(st, "SECURE_HSTS_SECONDS");
    c->hsts_subdomains = mn_settings_bool(st, "SECURE_HSTS_INCLUDE_SUBDOMAINS");
    c->hsts_preload = mn_settings_bool(st, "SECURE_HSTS_PRELOAD");
    c->nosniff = mn_settings_bool(st, "SECURE_CONTENT_TYPE_NOSNIFF");
    c->referrer_policy = mn_settings_str(st, "SECURE_REFERRER_POLICY");
    c->coop = mn_settings_str(st, "SECURE_CROSS_ORIGIN_OPENER_POLICY");
    c->use_x_forwarded_host = mn_settings_bool(st, "USE_X_FORWARDED_HOST");
    const char *fmt = mn_settings_str(st, "LOG_FORMAT");
    c->json_logs = strcmp(fmt, "json") == 0 || (strcmp(fmt, "auto") == 0 && !c->debug);
    c->allowed_hosts = mn_settings_allowed_hosts(st, &c->allowed_host_count);
    /* the security headers are the same for every response: build them once */
    snprintf(c->hsts_header, sizeof c->hsts_header, "max-age=%lld%s%s", (long long)c->hsts_seconds,
             c->hsts_subdomains ? "; includeSubDomains" : "", c->hsts_preload ? "; preload" : "");
    size_t used = 0;
    for (const char *p = c->referrer_policy; *p;) {
        size_t len = strcspn(p, ",");
        mn_str item = mn_str_trim((mn_str){p, len});
        if (item.len && used + item.len + 2 < sizeof c->referrer_header)
            used += (size_t)snprintf(c->referrer_header + used, sizeof c->referrer_header - used,
                                     "%s%.*s", used ? "," : "", (int)item.len, item.ptr);
        p += len;
        if (*p)
            p++;
    }
}

/* The request a log line belongs to: the coroutine's, or (test client, no coroutine) the one
 * being handled on this thread. */
static _Thread_local mn_req *current_req;

static const char *log_request_id(void)
{
    mn_coro *co = mn_coro_current();
    mn_req *r = co ? mn_coro_get_local(co) : current_req;
    return r ? mn_req_id(r) : NULL; /* made only when a line is logged */
}

mn_site *mn_site_new(const mn_project *project, const mn_settings *settings, char *err,
                     size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    mn_site *s = mn_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->project = project;
    s->settings = settings;
    mn_log_set_request_id_source(log_request_id);
    resolve_dir(s);
    read_config(s);
    for (size_t i = 0; project->apps && project->apps[i]; i++) {
        const mn_setting_def *defs = project->apps[i]->settings;
        for (size_t j = 0; defs && defs[j].name; j++)
            if (!mn_settings_find(settings, defs[j].name)) {
                err_out(err, errlen,
                        "app %s: setting %s is not registered (register the app's settings "
                        "before loading them; mn_main does)",
                        project->apps[i]->name, defs[j].name);
                goto fail;
            }
    }
    char rerr[512];
    s->router = mn_router_new(project->urls, project->converters, rerr, sizeof rerr);
    if (!s->router) {
        err_out(err, errlen, "URL pattern %s", rerr);
        goto fail;
    }
    if (build_templates(s, err, errlen) != 0 || build_static(s, err, errlen) != 0) {
        if (err && errlen && !err[0])
            err_out(err, errlen, "out of memory building the site");
        goto fail;
    }
    size_t n;
    const char *const *names = mn_settings_list(settings, "MIDDLEWARE", &n);
    for (size_t i = 0; i < n; i++) {
        const mn_middleware *mw = find_middleware(s, names[i]);
        if (!mw) {
            err_out(err, errlen,
                    "MIDDLEWARE: '%s' is not a known middleware (built in: request_id, host, "
                    "security, gzip, conditional_get, common)",
                    names[i]);
            goto fail;
        }
        if (s->mw_count == MN__MAX_MIDDLEWARE) {
            err_out(err, errlen, "MIDDLEWARE: more than %d entries", MN__MAX_MIDDLEWARE);
            goto fail;
        }
        s->mw[s->mw_count++] = mw;
    }
    for (size_t i = 0; project->apps && project->apps[i]; i++)
        if (project->apps[i]->ready && project->apps[i]->ready(s) != 0) {
            err_out(err, errlen, "app %s: ready() failed", project->apps[i]->name);
            goto fail;
        }
    return s;
fail:
    mn_site_free(s);
    return NULL;
}

void mn_site_free(mn_site *s)
{
    if (!s)
        return;
    mn__webdb_site_free(s);
    mn_template_engine_free(s->engine);
    mn_static_free(s->statics);
    mn_router_free(s->router);
    mn_free(s);
}

const mn_router *mn_site_router(const mn_site *s)
{
    return s->router;
}

const mn_settings *mn_site_settings(const mn_site *s)
{
    return s->settings;
}

mn_template_engine *mn_site_templates(mn_site *s)
{
    return s->engine;
}

mn_static *mn_site_static(mn_site *s)
{
    return s->statics;
}

const mn_project *mn_site_project(const mn_site *s)
{
    return s->project;
}

const char *mn_site_dir(const mn_site *s)
{
    return s->dir;
}

void mn_site_http_limits(const mn_site *s, mn_http_limits *l)
{
    const mn_settings *st = s->settings;
    mn_http_limits_default(l);
    l->max_target = mn_settings_size(st, "HTTP_MAX_TARGET");
    l->max_header_bytes = mn_settings_size(st, "HTTP_MAX_HEADER_BYTES");
    l->max_headers = (size_t)mn_settings_int(st, "HTTP_MAX_HEADERS");
    l->max_body = mn_settings_size(st, "DATA_UPLOAD_MAX_MEMORY_SIZE");
    l->max_form_fields = (size_t)mn_settings_int(st, "DATA_UPLOAD_MAX_NUMBER_FIELDS");
    l->max_multipart_parts = (size_t)mn_settings_int(st, "DATA_UPLOAD_MAX_NUMBER_PARTS");
    l->max_files = (size_t)mn_settings_int(st, "DATA_UPLOAD_MAX_NUMBER_FILES");
    l->max_upload = mn_settings_size(st, "FILE_UPLOAD_MAX_SIZE");
    l->upload_memory = mn_settings_size(st, "FILE_UPLOAD_MAX_MEMORY_SIZE");
    const char *tmp = mn_settings_str(st, "FILE_UPLOAD_TEMP_DIR");
    l->upload_temp_dir = *tmp ? tmp : NULL;
    l->header_timeout_ms = mn_settings_int(st, "HTTP_HEADER_TIMEOUT_MS");
    l->body_timeout_ms = mn_settings_int(st, "HTTP_BODY_TIMEOUT_MS");
    l->keepalive_timeout_ms = mn_settings_int(st, "HTTP_KEEPALIVE_TIMEOUT_MS");
    l->write_timeout_ms = mn_settings_int(st, "HTTP_WRITE_TIMEOUT_MS");
    l->max_pipeline = (size_t)mn_settings_int(st, "HTTP_MAX_PIPELINE");
}

/* ---- Per-request state and protected calls. ---- */

mn__req_state *mn__state(const mn_req *r)
{
    return mn_req_web_state(r);
}

mn_site *mn_req_site(const mn_req *r)
{
    mn__req_state *st = mn__state(r);
    return st ? st->site : NULL;
}

bool mn__protected(mn_req *r, void (*fn)(mn_req *r, void *arg), void *arg)
{
    mn__req_state *st = mn__state(r);
    jmp_buf here;
    jmp_buf *volatile outer = st->jump;
    if (setjmp(here) != 0) {
        st->jump = outer;
        return false;
    }
    st->jump = &here;
    fn(r, arg);
    st->jump = outer;
    return true;
}

void mn__web_resp_reset(mn_req *r)
{
    size_t n;
    const mn_field *h = mn_resp_headers(r, &n);
    /* names first: removing changes the array */
    char *names[64];
    size_t count = 0;
    for (size_t i = 0; i < n && count < 64; i++)
        names[count++] = mn_arena_strndup(mn_req_arena(r), h[i].name.ptr, h[i].name.len);
    for (size_t i = 0; i < count; i++)
        if (names[i])
            mn_resp_remove_header(r, names[i]);
    mn_resp_set_body(r, "", 0);
    mn_resp_status(r, 200);
    mn_resp_set_header(r, "Content-Type", "text/html; charset=utf-8");
}

/* ---- Path parameters. ---- */

const mn_route_match *mn_req_route(const mn_req *r)
{
    mn__req_state *st = mn__state(r);
    return st && st->routed ? &st->match : NULL;
}

const char *mn_path_str(mn_req *r, const char *name)
{
    const mn_route_match *m = mn_req_route(r);
    for (size_t i = 0; m && i < m->param_count; i++)
        if (m->param_names[i] && strcmp(m->param_names[i], name) == 0)
            return mn_arena_strndup(mn_req_arena(r), m->params[i].ptr, m->params[i].len);
    return NULL;
}

int64_t mn_path_int(mn_req *r, const char *name)
{
    const mn_route_match *m = mn_req_route(r);
    for (size_t i = 0; m && i < m->param_count; i++) {
        if (!m->param_names[i] || strcmp(m->param_names[i], name) != 0)
            continue;
        int64_t v;
        if (mn_str_to_i64(m->params[i], &v) != 0 || v < 0)
            mn_abort(r, 404, "path parameter '%s' is not a number in range", name);
        return v;
    }
    mn_abort(r, 404, "the route has no path parameter '%s'", name);
}

/* ---- Dispatch. ---- */

static bool has_media_type(mn_str ct, const char *type)
{
    size_t n = 0;
    while (n < ct.len && ct.ptr[n] != ';')
        n++;
    return mn_str_ieq_cstr(mn_str_trim((mn_str){ct.ptr, n}), type);
}

/* Django raises TooManyFieldsSent / TooManyFilesSent (SuspiciousOperation: 400) when the
 * view reads request.GET/POST/FILES; here the parameters are counted before the view runs,
 * so a view never works on a silently partial form. Only inputs long enough to hold more
 * fields than the limit are parsed here (n fields need n - 1 '&'): the common request pays
 * two comparisons. A multipart body from the socket was checked while it arrived (400). */
static void check_parameter_counts(mn_req *r, const mn__web_config *c)
{
    size_t max = c->max_form_fields;
    if (max && mn_req_query_string(r).len >= max)
        mn_req_query_fields(r, NULL);
    mn_str body = mn_req_body(r);
    if (body.len) {
        mn_str ct = mn_req_header(r, "Content-Type");
        if (ct.ptr &&
            (has_media_type(ct, "multipart/form-data") ||
             (max && body.len >= max && has_media_type(ct, "application/x-www-form-urlencoded"))))
            mn_req_form_fields(r, NULL);
    }
    /* set by the http layer with the error message and the security log line */
    if (mn_req_attr(r, "manouche.suspicious"))
        mn_abort(r, 400, "%s", mn_req_error(r));
}

static void run_view(mn_req *r, void *arg)
{
    mn__req_state *st = arg;
    mn_site *s = st->site;
    mn_str path = mn_req_path(r);
    const mn__web_config *c = &s->cfg;
    /* STATIC_URL on this host: the static files app (development and production) */
    /* the byte after the leading '/' tells most paths from STATIC_URL without a strlen */
    if (c->static_url &&
        (c->static_url[1] == '\0' || (path.len > 1 && path.ptr[1] == c->static_url[1])) &&
        mn_str_starts_with(path, c->static_url)) {
        size_t plen = strlen(c->static_url);
        char *rest = mn_arena_strndup(mn_req_arena(r), path.ptr + plen, path.len - plen);
        if (!rest)
            mn_abort(r, 500, "out of memory");
        mn_static_serve(r, s->statics, rest);
        return;
    }
    char allow[128], buf[32];
    mn_str method = mn_req_method(r);
    const char *m = buf;
    if (method.len == 3 && memcmp(method.ptr, "GET", 3) == 0) {
        m = "GET"; /* most requests: no copy */
    } else {
        size_t mlen = method.len < sizeof buf ? method.len : sizeof buf - 1;
        memcpy(buf, method.ptr, mlen);
        buf[mlen] = '\0';
    }
    int rc = mn_router_resolve(s->router, path, m, &st->match, allow, sizeof allow);
    if (rc == MN_EUNSUPPORTED) {
        st->allow = mn_arena_strdup(mn_req_arena(r), allow);
        mn_abort(r, 405, "Method Not Allowed (%s): %.*s", m, (int)path.len, path.ptr);
    }
    if (rc != 0)
        mn_abort(r, 404, "The current path, %.*s, didn't match any of these.",
                 (int)(path.len > 0 ? path.len - 1 : 0), path.len > 0 ? path.ptr + 1 : "");
    st->routed = true;
    check_parameter_counts(r, c);
    st->match.route->view(r);
}

typedef struct hook_call {
    const mn_middleware *mw;
    bool answered;
} hook_call;

static void call_before(mn_req *r, void *arg)
{
    hook_call *h = arg;
    h->answered = h->mw->before(r);
}

static void call_after(mn_req *r, void *arg)
{
    hook_call *h = arg;
    h->mw->after(r);
}

/* The error raised last becomes the response: middleware error hooks first (innermost
 * first, from `from` down), then the error page. */
typedef struct error_call {
    const mn_middleware *mw;
    int status;
    const char *message;
    bool handled;
} error_call;

static void call_on_error(mn_req *r, void *arg)
{
    error_call *e = arg;
    e->handled = e->mw->on_error(r, e->status, e->message);
}

static void handle_error(mn_req *r, mn__req_state *st, size_t from)
{
    int status = st->err_status;
    const char *msg = st->err_message;
    for (size_t i = from; i-- > 0;) {
        error_call e = {st->site->mw[i], status, msg, false};
        if (!e.mw->on_error)
            continue;
        if (!mn__protected(r, call_on_error, &e)) {
            /* the hook itself failed: its error is the one answered */
            mn__error_response(r, st->err_status, st->err_message);
            return;
        }
        if (e.handled)
            return;
    }
    mn__error_response(r, status, msg);
}

void mn_site_handle(mn_req *r, void *arg)
{
    mn_site *s = arg;
    /* not calloc: the match (a few hundred bytes) is written by the router when it matches */
    mn__req_state *st = mn_arena_alloc(mn_req_arena(r), sizeof *st);
    if (!st) {
        mn_resp_send(r, 500, "text/plain; charset=utf-8", "Server Error (500)");
        return;
    }
    mn_req_set_web_state(r, st);
    st->site = s;
    st->webdb = NULL;
    st->routed = false;
    st->jump = NULL;
    st->err_status = 0;
    st->err_message = NULL;
    st->allow = NULL;
    st->trace = NULL;
    st->trace_len = 0;
    st->start_us = 0;
    mn_coro *co = mn_coro_current();
    if (co)
        mn_coro_set_local(co, r);
    else
        current_req = r;

    size_t entered = 0; /* middleware whose before hook ran and did not answer */
    bool answered = false;
    for (; entered < s->mw_count && !answered; entered++) {
        hook_call h = {s->mw[entered], false};
        if (!h.mw->before)
            continue;
        if (!mn__protected(r, call_before, &h)) {
            mn__error_response(r, st->err_status, st->err_message);
            answered = true;
        } else {
            answered = h.answered;
        }
        if (answered)
            break; /* this one answered: only the ones before it see the response */
    }
    if (!answered && !mn__webdb_view_done(r, mn__protected(r, run_view, st)))
        handle_error(r, st, entered);
    for (size_t i = entered; i-- > 0;) {
        hook_call h = {s->mw[i], false};
        if (h.mw->after && !mn__protected(r, call_after, &h))
            mn__error_response(r, st->err_status, st->err_message);
    }
    mn__webdb_request_end(r); /* the connection goes back before the response is written */
    if (co)
        mn_coro_set_local(co, NULL);
    else
        current_req = NULL;
}
