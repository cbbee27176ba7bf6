/* manouche/http.h — requests, responses and the HTTP/1.1 server.
 *
 * One object, mn_req, carries a request and the response being built for it, as a view sees
 * them: `void view(mn_req *r)` reads the request and writes the response through the same
 * handle (DESIGN.md section 1). Everything made for a request lives in its arena and goes in
 * one step when the response is done: view code never frees.
 *
 * The server runs each request's handler on a coroutine of the worker's loop. An idle
 * keep-alive connection holds no coroutine, only a small struct and its socket. The same
 * mn_req can be built without a socket (mn_req_new), which is how the test client runs a
 * request through the whole stack in process. */
#ifndef MANOUCHE_HTTP_H
#define MANOUCHE_HTTP_H

#include <manouche/core.h>
#include <manouche/rt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_req mn_req;

/* A header or query/form field: slices valid for the request's lifetime. */
typedef struct mn_field {
    mn_str name;
    mn_str value;
} mn_field;

/* ---- Limits and timeouts: all are settings (web layer), with Django-like defaults. ---- */
typedef struct mn_http_limits {
    size_t max_target;            /* request target bytes; longer: 414 (default 8190) */
    size_t max_header_bytes;      /* whole header block; larger: 431 (default 16384) */
    size_t max_headers;           /* header count; more: 431 (default 100) */
    size_t max_body;              /* DATA_UPLOAD_MAX_MEMORY_SIZE, 413 above (default 2621440) */
    size_t max_form_fields;       /* DATA_UPLOAD_MAX_NUMBER_FIELDS (default 1000; 0: no limit) */
    size_t max_multipart_parts;   /* parts in one multipart body (default 1000; 0: none) */
    size_t max_files;             /* DATA_UPLOAD_MAX_NUMBER_FILES: file parts (default 100;
                                     0: no limit); more: 400 as Django's TooManyFilesSent */
    size_t max_upload;            /* one uploaded file (default 64 MiB; 0: no limit) */
    size_t upload_memory;         /* FILE_UPLOAD_MAX_MEMORY_SIZE: bigger files go to a temp
                                     file (default 2621440) */
    const char *upload_temp_dir;  /* FILE_UPLOAD_TEMP_DIR (NULL: $TMPDIR or /tmp) */
    int64_t header_timeout_ms;    /* whole head must arrive in this time: 408 (default 10000) */
    int64_t body_timeout_ms;      /* gap between body reads (default 30000) */
    int64_t keepalive_timeout_ms; /* idle connection closed after this (default 5000) */
    int64_t write_timeout_ms;     /* a client that stops reading is dropped (default 30000) */
    size_t max_pipeline;          /* parsed-but-unanswered requests per connection (16) */
} mn_http_limits;

/* The defaults above. */
void mn_http_limits_default(mn_http_limits *limits);

/* ---- The request. ---- */
mn_arena *mn_req_arena(mn_req *r);
mn_str mn_req_method(const mn_req *r); /* "GET", "POST", ... as sent (case kept) */
bool mn_req_method_is(const mn_req *r, const char *method);
mn_str mn_req_path(const mn_req *r);         /* percent-decoded, normalised, starts with '/' */
mn_str mn_req_raw_path(const mn_req *r);     /* as sent, without the query */
mn_str mn_req_query_string(const mn_req *r); /* after '?', undecoded; empty when none */
int mn_req_http_minor(const mn_req *r);      /* 0 for HTTP/1.0, 1 for HTTP/1.1 */

/* Query parameters as Django's request.GET: decoded, '+' is a space, multi-valued.
 * mn_req_query() gives the last value (as QueryDict.get), NULL when absent (C string in the
 * arena). mn_req_query_list() fills up to max values in order and returns how many exist. */
const char *mn_req_query(mn_req *r, const char *name);
size_t mn_req_query_list(mn_req *r, const char *name, mn_str *out, size_t max);
const mn_field *mn_req_query_fields(mn_req *r, size_t *count);

/* Headers, names matched without regard to case; repeated headers are kept in order.
 * mn_req_header() gives the first value, or an empty slice with ptr == NULL when absent. */
mn_str mn_req_header(const mn_req *r, const char *name);
const mn_field *mn_req_headers(const mn_req *r, size_t *count);

/* Cookies from the Cookie header (parsed as Django's parse_cookie); NULL when absent. */
const char *mn_req_cookie(mn_req *r, const char *name);

/* The client: the socket peer, or the right-most X-Forwarded-For address that is not a
 * trusted proxy when the peer is one (mn_server_config.trusted_proxies); addresses left of
 * it were written by the client and can be forged. */
const char *mn_req_client_ip(const mn_req *r);
/* True for HTTPS: on a TLS socket, or X-Forwarded-Proto: https from a trusted proxy. */
bool mn_req_is_secure(const mn_req *r);
/* The Host header (or absolute-form authority), port included; empty when absent. */
mn_str mn_req_host(const mn_req *r);

/* The body. The server has read it completely (within max_body) before the handler runs,
 * except for multipart, whose files above upload_memory are already in temporary files. */
mn_str mn_req_body(const mn_req *r);
/* application/x-www-form-urlencoded or multipart fields, as request.POST. NULL when absent
 * or the body is of another type. */
const char *mn_req_form(mn_req *r, const char *name);
size_t mn_req_form_list(mn_req *r, const char *name, mn_str *out, size_t max);
const mn_field *mn_req_form_fields(mn_req *r, size_t *count);
/* The body parsed as JSON (jansson's json_t, owned by the request), or NULL with the parse
 * error in mn_req_error(). */
struct json_t;
struct json_t *mn_req_json(mn_req *r);

/* Uploaded files (request.FILES). Small files are in memory (data), big ones in a temporary
 * file (path) removed when the request ends. */
typedef struct mn_upload {
    const char *field;    /* form field name */
    const char *filename; /* as the client sent it: never trust it for a path */
    const char *content_type;
    size_t size;
    const char *data; /* in memory, or NULL */
    const char *path; /* temporary file, or NULL */
} mn_upload;
const mn_upload *mn_req_file(mn_req *r, const char *field);
const mn_upload *mn_req_files(mn_req *r, size_t *count);

/* A message about the last failure on this request (a body that is not JSON, a malformed
 * multipart part, ...): names what was wrong. Empty string when none. */
const char *mn_req_error(const mn_req *r);

/* Per-request attributes for the layers above (the router stores the route match, the
 * session middleware the session, ...). Keys are compared as strings. */
int mn_req_set_attr(mn_req *r, const char *key, void *value);
void *mn_req_attr(const mn_req *r, const char *key);
/* The web layer's dispatcher state has a slot of its own: it is read several times per
 * request, and an attribute would cost a key copy and string compares each time. NULL until
 * set; every new request starts with NULL. */
void mn_req_set_web_state(mn_req *r, void *state);
void *mn_req_web_state(const mn_req *r);

/* A request id (from X-Request-ID when the setting trusts it, else generated), for logs. */
const char *mn_req_id(mn_req *r);

/* ---- The response. Defaults: 200, Content-Type text/html; charset=utf-8, empty body. ---- */
void mn_resp_status(mn_req *r, int status);
int mn_resp_get_status(const mn_req *r);
/* Adds a header (repeats allowed); mn_resp_set_header replaces every header of that name.
 * Names and values with CR, LF or NUL are refused (MN_EINVAL): no header injection. The
 * strings are copied. */
int mn_resp_add_header(mn_req *r, const char *name, const char *value);
int mn_resp_set_header(mn_req *r, const char *name, const char *value);
/* As mn_resp_set_header, checked the same way, but the strings are not copied: they must stay
 * valid until the response is sent (string literals, static tables). For headers a view sets
 * on every response, such as Server. */
int mn_resp_set_header_static(mn_req *r, const char *name, const char *value);
/* The same with the lengths given (no NUL may occur within them), and for two string literals
 * the macro, whose lengths are known when compiling:
 *     MN_RESP_SET_HEADER_LIT(r, "Server", "Manouche"); */
int mn_resp_set_header_static_n(mn_req *r, const char *name, size_t name_len, const char *value,
                                size_t value_len);
#define MN_RESP_SET_HEADER_LIT(r, name, value)                                                     \
    mn_resp_set_header_static_n((r), "" name, sizeof(name) - 1, "" value, sizeof(value) - 1)
void mn_resp_remove_header(mn_req *r, const char *name);
mn_str mn_resp_get_header(const mn_req *r, const char *name); /* ptr NULL when absent */
const mn_field *mn_resp_headers(const mn_req *r, size_t *count);

/* The buffered body: append to it, or replace it. Content-Length is set when it is sent. */
int mn_resp_write(mn_req *r, const void *data, size_t len);
int mn_resp_puts(mn_req *r, const char *s);
int mn_resp_printf(mn_req *r, const char *fmt, ...) MN_PRINTF(2, 3);
int mn_resp_set_body(mn_req *r, const void *data, size_t len);
mn_buf *mn_resp_body(mn_req *r); /* for middleware that rewrites it (gzip) */
/* Status, Content-Type and body in one call: mn_resp_send(r, 404, "text/plain", "Not found"). */
int mn_resp_send(mn_req *r, int status, const char *content_type, const char *body);

/* Streaming (StreamingHttpResponse): sends the status and headers now with chunked encoding
 * (or, for HTTP/1.0, until close), then each mn_resp_stream_write() sends a piece, parking
 * while the client is slow (back-pressure). Middleware that needs the whole body (gzip,
 * ETag) leaves streamed responses alone. Without a connection (test client), pieces are
 * collected into the body. */
int mn_resp_stream_start(mn_req *r) MN_MAY_YIELD;
int mn_resp_stream_write(mn_req *r, const void *data, size_t len) MN_MAY_YIELD;
int mn_resp_stream_end(mn_req *r) MN_MAY_YIELD;
bool mn_resp_is_streaming(const mn_req *r);

/* A file body sent with sendfile(2) (FileResponse); the response takes ownership of fd.
 * Content-Length is len. */
int mn_resp_sendfile(mn_req *r, int fd, off_t offset, size_t len);
bool mn_resp_is_file(const mn_req *r);

/* Cookies with secure defaults: HttpOnly and SameSite=Lax unless turned off, Secure when the
 * request is HTTPS, the server says so for every cookie (the COOKIE_SECURE setting) or
 * force_secure is set for this one. */
typedef struct mn_cookie {
    const char *name;
    const char *value;
    int64_t max_age;    /* seconds; < 0: session cookie (no Max-Age/Expires) */
    const char *path;   /* NULL: "/" */
    const char *domain; /* NULL: host only */
    bool not_http_only; /* set to let scripts read it */
    bool force_secure;
    const char *same_site; /* NULL: "Lax"; "Strict", "None" or "" (attribute left out) */
} mn_cookie;
int mn_resp_set_cookie(mn_req *r, const mn_cookie *cookie);
int mn_resp_delete_cookie(mn_req *r, const char *name, const char *path, const char *domain);

/* The reason phrase for a status ("Not Found"), "" when unknown. */
const char *mn_http_reason(int status);

/* ---- Handlers and the server. ---- */
/* Runs on a coroutine; may read, write, sleep, stream. When it returns, the response is
 * sent (unless already streamed). */
typedef void (*mn_handler)(mn_req *r, void *arg);

typedef struct mn_server_config {
    mn_handler handler;
    void *arg;
    mn_http_limits limits;
    /* Peers whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses and CIDR
     * networks (10.0.0.0/8, fd00::/8), comma-separated, or NULL for none. */
    const char *trusted_proxies;
    /* Server header value, NULL for none (the default: say nothing about ourselves). */
    const char *server_name;
    /* Mark every cookie Secure, also on requests that arrived over plain HTTP (the
     * COOKIE_SECURE setting: TLS ends at a proxy the server is not told about). */
    bool cookie_secure;
    /* Called once per finished request (access log): status, bytes sent, duration. */
    void (*on_response)(mn_req *r, int status, size_t bytes, int64_t duration_us, void *arg);
} mn_server_config;

typedef struct mn_server mn_server;

/* Serves listen_fd on loop: accepts connections and runs one coroutine per request being
 * handled. The config is copied. */
mn_server *mn_server_start(mn_loop *loop, int listen_fd, const mn_server_config *config);
/* Stops accepting, lets in-flight requests finish (their responses carry Connection: close)
 * and closes idle connections after a short grace (a request already on its way is still
 * answered); calls done(arg) once the last connection is gone. */
void mn_server_drain(mn_server *server, void (*done)(void *arg), void *arg);
/* Frees the server (after the drain finished, or to abort: open connections are closed). */
void mn_server_free(mn_server *server);
/* Open connections, and requests being handled now (for tests and metrics). */
size_t mn_server_connections(const mn_server *server);
size_t mn_server_active_requests(const mn_server *server);

/* ---- Requests without a socket (the test client, CLI tools). ---- */
typedef struct mn_req_init {
    const char *method;      /* NULL: "GET" */
    const char *target;      /* path with optional ?query, e.g. "/polls/?page=2" */
    const mn_field *headers; /* Host, Cookie, Content-Type, ... */
    size_t header_count;
    const void *body;
    size_t body_len;
    const char *client_ip;        /* NULL: "127.0.0.1" */
    bool secure;                  /* as if received over HTTPS */
    const mn_http_limits *limits; /* NULL: defaults */
    bool cookie_secure;           /* as mn_server_config.cookie_secure */
} mn_req_init;

/* Builds a request as the server would after parsing (body parsed lazily as with the
 * server). NULL with MN_EINVAL for a target that is not origin-form or a header the server
 * would reject. The request owns copies of everything. */
mn_req *mn_req_new(const mn_req_init *init);
/* Runs handler on r as the server does (HEAD bodies dropped, Content-Length set). */
void mn_req_run(mn_req *r, mn_handler handler, void *arg);
/* Serialises the finished response (status line, headers, body) as the server would. */
int mn_resp_serialize(mn_req *r, mn_buf *out);
void mn_req_free(mn_req *r);

#ifdef __cplusplus
}
#endif
#endif
