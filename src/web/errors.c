/* errors.c — error responses: the project's handlers, Django's plain production pages, and in
 * DEBUG the technical pages (the request, the settings with secrets masked, a backtrace; for
 * 404 the patterns that were tried), as django.views.debug / django.views.defaults. */
#include "web/internal.h"

#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* as django.views.defaults: the production bodies */
static void plain_page(mn_req *r, int status)
{
    const char *title, *body;
    char tbuf[96], bbuf[128];
    switch (status) {
    case 400:
        title = "Bad Request (400)";
        body = "<h1>Bad Request (400)</h1><p></p>";
        break;
    case 403:
        title = "403 Forbidden";
        body = "<h1>403 Forbidden</h1><p></p>";
        break;
    case 404:
        title = "Not Found";
        body = "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>";
        break;
    case 500:
        title = "Server Error (500)";
        body = "<h1>Server Error (500)</h1><p></p>";
        break;
    default:
        snprintf(tbuf, sizeof tbuf, "%s (%d)", mn_http_reason(status), status);
        snprintf(bbuf, sizeof bbuf, "<h1>%s (%d)</h1><p></p>", mn_http_reason(status), status);
        title = tbuf;
        body = bbuf;
    }
    mn_resp_status(r, status);
    mn_resp_printf(r,
                   "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>%s</title>\n</head>\n"
                   "<body>\n  %s\n</body>\n</html>\n",
                   title, body);
}

static void esc(mn_buf *b, const char *s, size_t n)
{
    mn_template_escape(b, s, n);
}

static void esc_c(mn_buf *b, const char *s)
{
    if (s)
        esc(b, s, strlen(s));
}

static const char debug_style[] =
    "<style>body{font:small sans-serif;margin:0;background:#eee}"
    "#summary{background:#ffc;padding:10px 20px;border-bottom:1px solid #ddd}"
    "#info,#trace,#req,#settings{padding:10px 20px}h1{font-weight:normal}"
    "table{border-collapse:collapse;width:100%}td,th{vertical-align:top;padding:2px 6px;"
    "text-align:left}th{width:14em;color:#666}pre{margin:0}"
    "#explanation{background:#f6f6f6;padding:10px 20px;border-top:1px solid #ddd}"
    "</style>";

/* The page's head; the title is title_prefix followed by title_rest (both escaped). */
static void page_head2(mn_buf *b, const char *title_prefix, mn_str title_rest)
{
    mn_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"robots\" content=\"NONE,NOARCHIVE\">\n<title>");
    esc_c(b, title_prefix);
    esc(b, title_rest.ptr, title_rest.len);
    mn_buf_puts(b, "</title>\n");
    mn_buf_puts(b, debug_style);
    mn_buf_puts(b, "\n</head>\n<body>\n");
}

static void page_head(mn_buf *b, const char *title)
{
    page_head2(b, title, (mn_str){"", 0});
}

/* as SafeExceptionReporterFilter: a field whose name looks secret is masked */
static bool secret_name(mn_str name)
{
    static const char *const marks[] = {"api", "key", "pass", "secret", "signature", "token", NULL};
    for (size_t i = 0; marks[i]; i++) {
        size_t n = strlen(marks[i]);
        for (size_t j = 0; j + n <= name.len; j++)
            if (strncasecmp(name.ptr + j, marks[i], n) == 0)
                return true;
    }
    return false;
}

static void fields_table(mn_buf *b, mn_req *r, const char *title, bool form)
{
    size_t n = 0;
    const mn_field *f = form ? mn_req_form_fields(r, &n) : mn_req_query_fields(r, &n);
    mn_buf_printf(b, "<h3>%s</h3>", title);
    if (!f || n == 0) {
        mn_buf_puts(b, "<p>No data.</p>\n");
        return;
    }
    mn_buf_puts(b, "<table>\n");
    for (size_t i = 0; i < n; i++) {
        mn_buf_puts(b, "<tr><th>");
        esc(b, f[i].name.ptr, f[i].name.len);
        mn_buf_puts(b, "</th><td><pre>");
        if (secret_name(f[i].name))
            mn_buf_puts(b, "********************");
        else
            esc(b, f[i].value.ptr, f[i].value.len);
        mn_buf_puts(b, "</pre></td></tr>\n");
    }
    mn_buf_puts(b, "</table>\n");
}

static void request_table(mn_buf *b, mn_req *r)
{
    mn_str m = mn_req_method(r), raw = mn_req_raw_path(r), q = mn_req_query_string(r);
    mn_buf_puts(b, "<div id=\"req\"><h2>Request information</h2><table>\n<tr><th>Method</th><td>");
    esc(b, m.ptr, m.len);
    mn_buf_puts(b, "</td></tr>\n<tr><th>Path</th><td>");
    esc(b, raw.ptr, raw.len);
    mn_buf_puts(b, "</td></tr>\n<tr><th>Query string</th><td>");
    esc(b, q.ptr, q.len);
    mn_buf_puts(b, "</td></tr>\n<tr><th>Client</th><td>");
    esc_c(b, mn_req_client_ip(r));
    mn_buf_puts(b, "</td></tr>\n<tr><th>Request id</th><td>");
    esc_c(b, mn_req_id(r));
    mn_buf_puts(b, "</td></tr>\n</table>\n");
    fields_table(b, r, "GET", false);
    mn_str ct = mn_req_header(r, "Content-Type");
    if (ct.ptr && (mn_str_starts_with(ct, "application/x-www-form-urlencoded") ||
                   mn_str_starts_with(ct, "multipart/form-data")))
        fields_table(b, r, "POST", true);
    mn_buf_puts(b, "<h3>Headers</h3><table>\n");
    size_t n;
    const mn_field *h = mn_req_headers(r, &n);
    for (size_t i = 0; i < n; i++) {
        mn_buf_puts(b, "<tr><th>");
        esc(b, h[i].name.ptr, h[i].name.len);
        mn_buf_puts(b, "</th><td><pre>");
        /* cookies can carry session ids: masked as Django's cleanse_setting would */
        if (mn_str_ieq_cstr(h[i].name, "Cookie") || mn_str_ieq_cstr(h[i].name, "Authorization"))
            mn_buf_puts(b, "********************");
        else
            esc(b, h[i].value.ptr, h[i].value.len);
        mn_buf_puts(b, "</pre></td></tr>\n");
    }
    mn_buf_puts(b, "</table></div>\n");
}

static void settings_table(mn_buf *b, const mn_settings *s)
{
    mn_buf_puts(b, "<div id=\"settings\"><h2>Settings</h2><table>\n");
    const mn_setting_def *d;
    for (size_t i = 0; (d = mn_settings_def_at(s, i)) != NULL; i++) {
        mn_buf_puts(b, "<tr><th>");
        esc_c(b, d->name);
        mn_buf_puts(b, "</th><td><pre>");
        esc_c(b, mn_settings_display(s, d->name));
        mn_buf_puts(b, "</pre></td></tr>\n");
    }
    mn_buf_puts(b, "</table></div>\n");
}

static void explanation(mn_buf *b, int status)
{
    mn_buf_printf(b,
                  "<div id=\"explanation\"><p>You're seeing this error because you have "
                  "<code>DEBUG = True</code> in your settings. Change that to False, and "
                  "Manouche will display a standard %d page.</p></div>\n",
                  status);
}

void mn__debug_404(mn_req *r, const char *message)
{
    mn__req_state *st = mn__state(r);
    mn_buf *b = mn_resp_body(r);
    mn_resp_set_body(r, "", 0);
    mn_resp_status(r, 404);
    page_head2(b, "Page not found at ", mn_req_path(r)); /* Django: request.path_info */
    mn_str raw = mn_req_raw_path(r);
    mn_buf_puts(b, "<div id=\"summary\"><h1>Page not found <span>(404)</span></h1>\n<table>"
                   "<tr><th>Request Method:</th><td>");
    mn_str m = mn_req_method(r);
    esc(b, m.ptr, m.len);
    mn_buf_puts(b, "</td></tr><tr><th>Request URL:</th><td>");
    esc(b, raw.ptr, raw.len);
    mn_buf_puts(b, "</td></tr></table></div>\n<div id=\"info\">");
    const mn_route_match *match = mn_req_route(r);
    if (match) {
        mn_buf_puts(b, "<p>Raised by the view of <code>");
        esc_c(b, match->full_pattern);
        mn_buf_puts(b, "</code>:</p><pre class=\"exception_value\">");
        esc_c(b, message);
        mn_buf_puts(b, "</pre>");
    } else {
        mn_buf_puts(b, "<p>Using the URLconf defined in <code>");
        esc_c(b, st->site->project->name ? st->site->project->name : "the project");
        mn_buf_puts(b, "</code>, Manouche tried these URL patterns, in this order:</p>\n<ol>\n");
        const char *pat, *name;
        for (size_t i = 0; mn_router_route_at(st->site->router, i, &pat, &name, NULL, NULL); i++) {
            mn_buf_puts(b, "<li>");
            esc_c(b, pat);
            if (name) {
                mn_buf_puts(b, " [name='");
                esc_c(b, name);
                mn_buf_puts(b, "']");
            }
            mn_buf_puts(b, "</li>\n");
        }
        if (st->site->cfg.static_url) {
            mn_buf_puts(b, "<li>");
            esc_c(b, st->site->cfg.static_url + 1);
            mn_buf_puts(b, "&lt;path:path&gt; (static files)</li>\n");
        }
        mn_buf_puts(b, "</ol>\n<p>");
        esc_c(b, message);
        mn_buf_puts(b, "</p>");
    }
    mn_buf_puts(b, "</div>\n");
    explanation(b, 404);
    mn_buf_puts(b, "</body>\n</html>\n");
}

void mn__debug_500(mn_req *r, int status, const char *message)
{
    mn__req_state *st = mn__state(r);
    mn_buf *b = mn_resp_body(r);
    mn_resp_set_body(r, "", 0);
    mn_resp_status(r, status);
    mn_str path = mn_req_path(r);
    char *title =
        mn_arena_printf(mn_req_arena(r), "Error %d at %.*s", status, (int)path.len, path.ptr);
    page_head(b, title ? title : "Error");
    mn_buf_puts(b, "<div id=\"summary\"><h1>");
    esc_c(b, title);
    mn_buf_puts(b, "</h1>\n<pre class=\"exception_value\">");
    esc_c(b, message);
    mn_buf_puts(b, "</pre>\n<table><tr><th>Request Method:</th><td>");
    mn_str m = mn_req_method(r), raw = mn_req_raw_path(r);
    esc(b, m.ptr, m.len);
    mn_buf_puts(b, "</td></tr><tr><th>Request URL:</th><td>");
    esc(b, raw.ptr, raw.len);
    mn_buf_puts(b, "</td></tr></table></div>\n");
    if (st->trace_len > 0) {
        mn_buf_puts(b, "<div id=\"trace\"><h2>Backtrace</h2><pre>");
        char **syms = backtrace_symbols(st->trace, st->trace_len);
        for (int i = 0; i < st->trace_len; i++) {
            if (syms)
                esc_c(b, syms[i]);
            else
                mn_buf_printf(b, "%p", st->trace[i]);
            mn_buf_putc(b, '\n');
        }
        free(syms);
        mn_buf_puts(b, "</pre></div>\n");
    }
    mn__webdb_debug_html(r, b);
    request_table(b, r);
    settings_table(b, st->site->settings);
    explanation(b, status);
    mn_buf_puts(b, "</body>\n</html>\n");
}

typedef struct handler_call {
    mn_view view;
} handler_call;

static void call_handler(mn_req *r, void *arg)
{
    ((handler_call *)arg)->view(r);
}

static void log_error(mn_req *r, int status, const char *message)
{
    mn_str p = mn_req_path(r);
    if (status >= 500)
        mn_log(MN_LOG_ERROR, "manouche.request", "%s: %.*s: %s",
               status == 500 ? "Internal Server Error" : mn_http_reason(status), (int)p.len, p.ptr,
               message ? message : "");
    else if (status != 404 || mn__state(r)->site->cfg.debug)
        mn_log(MN_LOG_WARNING, "manouche.request", "%s: %.*s: %s", mn_http_reason(status),
               (int)p.len, p.ptr, message ? message : "");
}

void mn__error_response(mn_req *r, int status, const char *message)
{
    mn__req_state *st = mn__state(r);
    mn_site *s = st->site;
    st->err_status = status;
    st->err_message = message;
    log_error(r, status, message);
    mn__web_resp_reset(r);
    const mn_project *p = s->project;
    mn_view custom = status == 404   ? p->handler404
                     : status == 403 ? p->handler403
                     : status == 400 ? p->handler400
                     : status >= 500 ? p->handler500
                                     : NULL;
    /* DEBUG shows the technical pages, as Django does, even with custom handlers */
    if (s->cfg.debug && status == 404) {
        mn__debug_404(r, message);
    } else if (s->cfg.debug && status >= 500) {
        mn__debug_500(r, status, message);
    } else if (custom) {
        mn_resp_status(r, status);
        handler_call h = {custom};
        if (!mn__protected(r, call_handler, &h)) {
            mn__web_resp_reset(r);
            plain_page(r, status);
        }
    } else if (s->cfg.debug && message && *message && status != 405) {
        plain_page(r, status);
        mn_buf *b = mn_resp_body(r);
        mn_buf_puts(b, "<pre>");
        esc_c(b, message);
        mn_buf_puts(b, "</pre>\n");
    } else {
        plain_page(r, status);
    }
    if (status == 405 && st->allow)
        mn_resp_set_header(r, "Allow", st->allow);
}
