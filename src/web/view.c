/* view.c — what a view calls: render, redirect, reverse, JSON, and the helpers that end the
 * view with an HTTP error.
 *
 * mn_abort() records the status and message on the request and longjmps to the dispatcher's
 * setjmp (mn__protected) on the same coroutine. Nothing between needs unwinding: the view's
 * memory is in the request arena, its other resources behind mn_arena_defer(). */
#include "web/internal.h"

#include <execinfo.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Ending a view. ---- */

void mn_abort(mn_req *r, int status, const char *fmt, ...)
{
    mn__req_state *st = mn__state(r);
    va_list ap;
    va_start(ap, fmt);
    char *msg = mn_arena_vprintf(mn_req_arena(r), fmt, ap);
    va_end(ap);
    if (!st || !st->jump) {
        /* called outside mn_site_handle: there is nowhere to return to */
        mn_log(MN_LOG_ERROR, "manouche.request", "mn_abort(%d) outside a view: %s", status,
               msg ? msg : "");
        abort();
    }
    st->err_status = status;
    st->err_message = msg ? msg : "";
    st->trace_len = 0;
    if (status >= 500) {
        st->trace = mn_arena_alloc(mn_req_arena(r), MN__TRACE_DEPTH * sizeof(void *));
        st->trace_len = st->trace ? backtrace(st->trace, MN__TRACE_DEPTH) : 0;
    }
    longjmp(*st->jump, 1);
}

void mn_http_404(mn_req *r, const char *message)
{
    mn_abort(r, 404, "%s", message ? message : "Not Found");
}

void mn_http_403(mn_req *r, const char *message)
{
    mn_abort(r, 403, "%s", message ? message : "Forbidden");
}

void mn_http_400(mn_req *r, const char *message)
{
    mn_abort(r, 400, "%s", message ? message : "Bad Request");
}

void mn_http_500(mn_req *r, const char *message)
{
    mn_abort(r, 500, "%s", message ? message : "Server Error");
}

void mn_require_methods(mn_req *r, const char *methods)
{
    mn_str m = mn_req_method(r);
    for (const char *p = methods; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == m.len && strncasecmp(p, m.ptr, len) == 0)
            return;
        if (len == 3 && strncasecmp(p, "GET", 3) == 0 && mn_str_ieq_cstr(m, "HEAD"))
            return;
        p += len;
    }
    mn__req_state *st = mn__state(r);
    mn_buf allow;
    mn_buf_init(&allow, mn_req_arena(r));
    for (const char *p = methods; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (len)
            mn_buf_printf(&allow, "%s%.*s", allow.len ? ", " : "", (int)len, p);
        p += len;
    }
    if (st)
        st->allow = mn_buf_cstr(&allow);
    mn_abort(r, 405, "Method Not Allowed (%.*s): %.*s", (int)m.len, m.ptr, (int)mn_req_path(r).len,
             mn_req_path(r).ptr);
}

int mn_error_status(const mn_req *r)
{
    mn__req_state *st = mn__state(r);
    return st ? st->err_status : 0;
}

const char *mn_error_message(const mn_req *r)
{
    mn__req_state *st = mn__state(r);
    return st && st->err_message ? st->err_message : "";
}

/* ---- Rendering. ---- */

mn_ctx_item mn_ctx_value(const char *name, const mn_value *v)
{
    mn_ctx_item it = {name, MN_CTX_VALUE, v, NULL, 0, 0.0};
    return it;
}

mn_ctx_item mn_ctx_cstr(const char *name, const char *s)
{
    mn_ctx_item it = {name, MN_CTX_CSTR, NULL, s, 0, 0.0};
    return it;
}

mn_ctx_item mn_ctx_int(const char *name, int64_t i)
{
    mn_ctx_item it = {name, MN_CTX_INT, NULL, NULL, i, 0.0};
    return it;
}

mn_ctx_item mn_ctx_double(const char *name, double d)
{
    mn_ctx_item it = {name, MN_CTX_DOUBLE, NULL, NULL, 0, d};
    return it;
}

mn_ctx_item mn_ctx_bool(const char *name, bool b)
{
    mn_ctx_item it = {name, MN_CTX_BOOL, NULL, NULL, b, 0.0};
    return it;
}

static mn_value *item_value(mn_arena *a, const mn_ctx_item *it)
{
    switch (it->kind) {
    case MN_CTX_CSTR:
        return it->cstr ? mn_value_str_ref(a, it->cstr, strlen(it->cstr)) : mn_value_none();
    case MN_CTX_INT: return mn_value_int(a, it->i);
    case MN_CTX_DOUBLE: return mn_value_double(a, it->d);
    case MN_CTX_BOOL: return mn_value_bool(it->i != 0);
    default: return it->value ? (mn_value *)it->value : mn_value_none();
    }
}

static int render_into(mn_req *r, const char *name, const mn_ctx_item *ctx, mn_buf *out)
{
    mn_site *s = mn_req_site(r);
    if (!s)
        mn_abort(r, 500, "mn_render(%s) outside a site", name);
    mn_arena *a = mn_req_arena(r);
    mn_context *c = mn_context_new(a);
    if (!c)
        mn_abort(r, 500, "out of memory");
    for (size_t i = 0; ctx && ctx[i].name; i++) {
        mn_value *v = item_value(a, &ctx[i]);
        if (!v || mn_context_set(c, ctx[i].name, v) != 0)
            mn_abort(r, 500, "out of memory");
    }
    mn_template_error err;
    memset(&err, 0, sizeof err);
    int rc = mn_template_render_name(s->engine, name, c, out, &err);
    if (rc != 0) {
        mn_buf msg;
        mn_buf_init(&msg, a);
        if (err.message[0])
            mn_template_error_format(&err, &msg);
        else
            mn_buf_printf(&msg, "rendering %s failed: %s", name, mn_strerror(rc));
        mn_abort(r, 500, "%s", mn_buf_cstr(&msg) ? msg.data : "template error");
    }
    return 0;
}

void mn_render(mn_req *r, const char *template_name, const mn_ctx_item *ctx)
{
    /* straight into the response body: no copy of the page */
    render_into(r, template_name, ctx, mn_resp_body(r));
}

const char *mn_render_to_string(mn_req *r, const char *template_name, const mn_ctx_item *ctx)
{
    mn_buf out;
    mn_buf_init(&out, mn_req_arena(r));
    render_into(r, template_name, ctx, &out);
    return mn_buf_cstr(&out);
}

/* ---- Redirects and reverse. ---- */

static void redirect(mn_req *r, int status, const char *location)
{
    if (!location || mn_resp_set_header(r, "Location", location) != 0)
        mn_abort(r, 500, "redirect to an invalid location");
    mn_resp_status(r, status);
    mn_resp_set_body(r, "", 0);
}

void mn_redirect(mn_req *r, const char *location)
{
    redirect(r, 302, location);
}

void mn_redirect_permanent(mn_req *r, const char *location)
{
    redirect(r, 301, location);
}

const char *mn_reverse_args(mn_req *r, const char *name, size_t argc, const char *const *argv)
{
    mn_site *s = mn_req_site(r);
    if (!s)
        return NULL;
    mn_buf out;
    mn_buf_init(&out, mn_req_arena(r));
    if (mn_router_reverse(s->router, name, argc, NULL, argv, &out, NULL, 0) != 0)
        return NULL;
    return mn_buf_cstr(&out);
}

mn_url_arg mn_url_arg_str(const char *s)
{
    mn_url_arg a = {s ? s : "", 0};
    return a;
}

mn_url_arg mn_url_arg_int(int64_t i)
{
    mn_url_arg a = {NULL, i};
    return a;
}

const char *mn_reverse_typed(mn_req *r, const char *name, size_t argc, const mn_url_arg *args)
{
    mn_site *s = mn_req_site(r);
    if (!s)
        mn_abort(r, 500, "mn_reverse(%s) outside a site", name);
    if (argc > MN_ROUTE_MAX_PARAMS)
        mn_abort(r, 500, "NoReverseMatch: %zu arguments for '%s'", argc, name);
    const char *vals[MN_ROUTE_MAX_PARAMS];
    for (size_t i = 0; i < argc; i++)
        vals[i] = args[i].str ? args[i].str
                              : mn_arena_printf(mn_req_arena(r), "%lld", (long long)args[i].num);
    char err[1024];
    mn_buf out;
    mn_buf_init(&out, mn_req_arena(r));
    if (mn_router_reverse(s->router, name, argc, NULL, vals, &out, err, sizeof err) != 0)
        mn_abort(r, 500, "NoReverseMatch: %s", err);
    const char *path = mn_buf_cstr(&out);
    if (!path)
        mn_abort(r, 500, "out of memory");
    return path;
}

const char *(mn_reverse)(mn_req *r, const char *name, ...)
{
    mn_site *s = mn_req_site(r);
    if (!s)
        mn_abort(r, 500, "mn_reverse(%s) outside a site", name);
    bool is_int[MN_ROUTE_MAX_PARAMS];
    size_t count = 0;
    char err[1024];
    if (mn__router_param_kinds(s->router, name, is_int, &count) != 0) {
        mn_router_reverse(s->router, name, 0, NULL, NULL, NULL, err, sizeof err);
        mn_abort(r, 500, "NoReverseMatch: %s", err);
    }
    const char *vals[MN_ROUTE_MAX_PARAMS];
    va_list ap;
    va_start(ap, name);
    for (size_t i = 0; i < count; i++) {
        if (is_int[i]) {
            vals[i] = mn_arena_printf(mn_req_arena(r), "%lld", (long long)va_arg(ap, int64_t));
        } else {
            const char *v = va_arg(ap, const char *);
            vals[i] = v ? v : "";
        }
    }
    va_end(ap);
    mn_buf out;
    mn_buf_init(&out, mn_req_arena(r));
    if (mn_router_reverse(s->router, name, count, NULL, vals, &out, err, sizeof err) != 0)
        mn_abort(r, 500, "NoReverseMatch: %s", err);
    const char *path = mn_buf_cstr(&out);
    if (!path)
        mn_abort(r, 500, "out of memory");
    return path;
}

/* ---- JSON. ---- */

void mn_json_text(mn_req *r, int status, const char *json)
{
    mn_resp_send(r, status, "application/json", json);
}

void mn_json(mn_req *r, int status, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(value);
    if (!text)
        mn_abort(r, 500, "mn_json: the value cannot be serialised");
    mn_resp_send(r, status, "application/json", text);
    free(text);
}
