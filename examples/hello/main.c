/* hello — the smallest program on the HTTP server: http.h and rt.h only, no router.
 *
 * It exists for the server's integration tests (tests/integration/test_http_*) and as the
 * example of using the server without the web layer. Routes:
 *   /            "Hello, World!"            /sleep?ms=N   answers after N ms
 *   /echo        the request back           /stream?n=&ms=&size=  n chunked pieces, ms apart
 *   /file?path=  a file under --files DIR   /form  /json  /upload  /cookie  /client  /big?size=
 *
 * Usage: hello [--host H] [--port N] [--workers N] [--single] [--files DIR]
 *              [--header-timeout MS] [--keepalive MS] [--body-timeout MS]
 *              [--write-timeout MS] [--max-body N] [--upload-memory N]
 *              [--trusted-proxies LIST]
 * --port 0 picks a free port; the line "listening on HOST:PORT" on stdout says which.
 * --single serves from this process (no master), which tests use to measure its memory. */
#include <manouche/http.h>
#include <manouche/rt.h>

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct options {
    const char *host;
    int port;
    int workers;
    bool single;
    const char *files_dir;
    const char *trusted_proxies;
    mn_http_limits limits;
} options;

/* ---- Routes. ---- */

static int64_t query_int(mn_req *r, const char *name, int64_t fallback)
{
    const char *v = mn_req_query(r, name);
    int64_t out;
    if (!v || mn_str_to_i64(mn_str_from(v), &out) != MN_OK)
        return fallback;
    return out;
}

static void hello(mn_req *r)
{
    mn_resp_send(r, 200, "text/plain", "Hello, World!");
}

static void echo(mn_req *r)
{
    mn_resp_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    mn_str m = mn_req_method(r), p = mn_req_raw_path(r), q = mn_req_query_string(r);
    mn_resp_printf(r, "%.*s %.*s%s%.*s HTTP/1.%d\n", (int)m.len, m.ptr, (int)p.len, p.ptr,
                   q.len ? "?" : "", (int)q.len, q.ptr, mn_req_http_minor(r));
    mn_str path = mn_req_path(r);
    mn_resp_printf(r, "path: %.*s\n", (int)path.len, path.ptr);
    size_t n;
    const mn_field *h = mn_req_headers(r, &n);
    for (size_t i = 0; i < n; i++)
        mn_resp_printf(r, "%.*s: %.*s\n", (int)h[i].name.len, h[i].name.ptr, (int)h[i].value.len,
                       h[i].value.ptr);
    mn_resp_puts(r, "\n");
    mn_str body = mn_req_body(r);
    mn_resp_write(r, body.ptr, body.len);
}

static void stream(mn_req *r)
{
    int64_t n = query_int(r, "n", 5), ms = query_int(r, "ms", 20), size = query_int(r, "size", 0);
    mn_resp_set_header(r, "Content-Type", "text/plain");
    if (mn_resp_stream_start(r) != MN_OK)
        return;
    char *piece = NULL;
    if (size > 0 && (piece = malloc((size_t)size)) != NULL)
        memset(piece, 'x', (size_t)size);
    for (int64_t i = 0; i < n; i++) {
        int rc;
        if (piece) {
            rc = mn_resp_stream_write(r, piece, (size_t)size);
        } else {
            char line[32];
            int len = snprintf(line, sizeof line, "piece %lld\n", (long long)i);
            rc = mn_resp_stream_write(r, line, (size_t)len);
        }
        if (rc != MN_OK)
            break;
        if (ms > 0 && i + 1 < n)
            mn_sleep(ms);
    }
    free(piece);
    mn_resp_stream_end(r);
}

static void sleep_route(mn_req *r)
{
    mn_sleep(query_int(r, "ms", 100));
    mn_resp_send(r, 200, "text/plain", "slept");
}

static void big(mn_req *r)
{
    int64_t size = query_int(r, "size", 1 << 20);
    mn_buf *b = mn_resp_body(r);
    if (size < 0 || mn_buf_reserve(b, (size_t)size) != MN_OK)
        return mn_resp_status(r, 400);
    for (int64_t i = 0; i < size; i++)
        b->data[i] = (char)('a' + i % 26);
    b->len = (size_t)size;
    mn_resp_set_header(r, "Content-Type", "application/octet-stream");
}

static void file_route(mn_req *r, const options *o)
{
    const char *rel = mn_req_query(r, "path");
    if (!o->files_dir || !rel || !*rel || rel[0] == '/' || strstr(rel, ".."))
        return (void)mn_resp_send(r, 404, "text/plain", "no such file");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", o->files_dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return (void)mn_resp_send(r, 404, "text/plain", "no such file");
    }
    mn_resp_set_header(r, "Content-Type", "application/octet-stream");
    mn_resp_sendfile(r, fd, 0, (size_t)st.st_size);
}

static void form(mn_req *r)
{
    mn_resp_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    size_t n;
    const mn_field *f = mn_req_form_fields(r, &n);
    for (size_t i = 0; i < n; i++)
        mn_resp_printf(r, "%.*s=%.*s\n", (int)f[i].name.len, f[i].name.ptr, (int)f[i].value.len,
                       f[i].value.ptr);
    if (*mn_req_error(r))
        mn_resp_printf(r, "error: %s\n", mn_req_error(r));
}

/* FNV-1a 64: a checksum the Python tests compute the same way. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void upload_route(mn_req *r)
{
    mn_resp_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    size_t n;
    const mn_field *f = mn_req_form_fields(r, &n);
    for (size_t i = 0; i < n; i++)
        mn_resp_printf(r, "field %.*s=%.*s\n", (int)f[i].name.len, f[i].name.ptr,
                       (int)f[i].value.len, f[i].value.ptr);
    const mn_upload *u = mn_req_files(r, &n);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = 1469598103934665603ull;
        if (u[i].data) {
            h = fnv1a(h, (const unsigned char *)u[i].data, u[i].size);
        } else {
            FILE *fp = fopen(u[i].path, "rb");
            unsigned char buf[8192]; /* handlers run on 64 KiB coroutine stacks */
            size_t got;
            while (fp && (got = fread(buf, 1, sizeof buf, fp)) > 0)
                h = fnv1a(h, buf, got);
            if (fp)
                fclose(fp);
        }
        mn_resp_printf(r, "file %s name=%s type=%s size=%zu fnv=%016llx where=%s%s\n", u[i].field,
                       u[i].filename, u[i].content_type, u[i].size, (unsigned long long)h,
                       u[i].data ? "memory" : "disk", u[i].path ? u[i].path : "");
    }
    if (*mn_req_error(r))
        mn_resp_printf(r, "error: %s\n", mn_req_error(r));
}

static void json_route(mn_req *r)
{
    json_t *out;
    if (mn_req_method_is(r, "POST")) {
        json_t *in = mn_req_json(r);
        if (!in) {
            out = json_pack("{s:s}", "error", mn_req_error(r));
            mn_resp_status(r, 400);
        } else {
            out = json_pack("{s:O}", "received", in);
        }
    } else {
        out = json_pack("{s:s}", "message", "Hello, World!");
    }
    char *text = json_dumps(out, JSON_COMPACT);
    mn_resp_send(r, mn_resp_get_status(r), "application/json", text);
    free(text);
    json_decref(out);
}

static void cookie_route(mn_req *r)
{
    const char *name = mn_req_query(r, "name");
    const char *value = mn_req_query(r, "value");
    if (name && mn_req_query(r, "delete")) {
        mn_resp_delete_cookie(r, name, NULL, NULL);
    } else if (name) {
        mn_cookie c = {.name = name, .value = value ? value : "", .max_age = -1};
        if (mn_req_query(r, "max_age"))
            c.max_age = query_int(r, "max_age", -1);
        if (mn_resp_set_cookie(r, &c) != MN_OK)
            return (void)mn_resp_send(r, 400, "text/plain", "bad cookie");
    }
    mn_resp_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    const char *seen = mn_req_query(r, "show");
    if (seen) {
        const char *v = mn_req_cookie(r, seen);
        mn_resp_printf(r, "%s=%s\n", seen, v ? v : "(none)");
    }
}

static void client_route(mn_req *r)
{
    mn_str host = mn_req_host(r);
    mn_resp_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    mn_resp_printf(r, "ip=%s secure=%d host=%.*s\n", mn_req_client_ip(r),
                   mn_req_is_secure(r) ? 1 : 0, (int)host.len, host.ptr);
}

static void route(mn_req *r, void *arg)
{
    const options *o = arg;
    mn_str p = mn_req_path(r);
    if (mn_str_eq_cstr(p, "/"))
        hello(r);
    else if (mn_str_eq_cstr(p, "/echo"))
        echo(r);
    else if (mn_str_eq_cstr(p, "/stream"))
        stream(r);
    else if (mn_str_eq_cstr(p, "/sleep"))
        sleep_route(r);
    else if (mn_str_eq_cstr(p, "/big"))
        big(r);
    else if (mn_str_eq_cstr(p, "/file"))
        file_route(r, o);
    else if (mn_str_eq_cstr(p, "/form"))
        form(r);
    else if (mn_str_eq_cstr(p, "/upload"))
        upload_route(r);
    else if (mn_str_eq_cstr(p, "/json"))
        json_route(r);
    else if (mn_str_eq_cstr(p, "/cookie"))
        cookie_route(r);
    else if (mn_str_eq_cstr(p, "/client"))
        client_route(r);
    else
        mn_resp_send(r, 404, "text/plain", "Not Found");
}

/* ---- Serving. ---- */

static void drained(void *arg)
{
    mn_loop_stop(arg);
}

typedef struct worker_ctx {
    mn_server *server;
    mn_loop *loop;
    int sigfd; /* --single: SIGTERM/SIGINT arrive here; -1 under the master */
} worker_ctx;

static void on_drain(void *arg)
{
    worker_ctx *w = arg;
    mn_server_drain(w->server, drained, w->loop);
}

/* --single: the process is its own worker, so it drains on SIGTERM itself. */
static void watch_signals(void *arg)
{
    worker_ctx *w = arg;
    if (mn_wait_fd(w->sigfd, MN_READ, -1) != MN_OK)
        return;
    struct signalfd_siginfo si;
    if (read(w->sigfd, &si, sizeof si) > 0)
        mn_server_drain(w->server, drained, w->loop);
}

static int serve(int listen_fd, options *o, int sigfd)
{
    mn_loop *loop = mn_loop_new();
    if (!loop)
        return 1;
    mn_server_config cfg = {
        .handler = route,
        .arg = o,
        .limits = o->limits,
        .trusted_proxies = o->trusted_proxies,
    };
    worker_ctx w = {.server = mn_server_start(loop, listen_fd, &cfg), .loop = loop, .sigfd = sigfd};
    if (!w.server) {
        fprintf(stderr, "hello: cannot start the server\n");
        mn_loop_free(loop);
        return 1;
    }
    if (sigfd >= 0)
        mn_coro_spawn(loop, watch_signals, &w);
    else
        mn_worker_on_drain(loop, on_drain, &w);
    int rc = mn_loop_run(loop);
    mn_server_free(w.server);
    mn_loop_free(loop);
    return rc == 0 ? 0 : 1;
}

static int worker_main(int listen_fd, int index, void *arg)
{
    return serve(listen_fd, arg, -1);
}

static void on_listening(const char *host, int port, void *arg)
{
    printf("listening on %s:%d\n", host, port);
    fflush(stdout);
}

static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--single") == 0) {
            o->single = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: hello [--host H] [--port N] [--workers N] [--single] [--files DIR]\n"
                   "             [--header-timeout MS] [--keepalive MS] [--body-timeout MS]\n"
                   "             [--write-timeout MS] [--max-body N] [--upload-memory N]\n"
                   "             [--trusted-proxies LIST]\n");
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "hello: %s needs a value\n", a);
            return -1;
        }
        i++;
        long long n = strtoll(v, NULL, 10);
        if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--port") == 0)
            o->port = (int)n;
        else if (strcmp(a, "--workers") == 0)
            o->workers = (int)n;
        else if (strcmp(a, "--files") == 0)
            o->files_dir = v;
        else if (strcmp(a, "--trusted-proxies") == 0)
            o->trusted_proxies = v;
        else if (strcmp(a, "--header-timeout") == 0)
            o->limits.header_timeout_ms = n;
        else if (strcmp(a, "--keepalive") == 0)
            o->limits.keepalive_timeout_ms = n;
        else if (strcmp(a, "--body-timeout") == 0)
            o->limits.body_timeout_ms = n;
        else if (strcmp(a, "--write-timeout") == 0)
            o->limits.write_timeout_ms = n;
        else if (strcmp(a, "--max-body") == 0)
            o->limits.max_body = (size_t)n;
        else if (strcmp(a, "--upload-memory") == 0)
            o->limits.upload_memory = (size_t)n;
        else {
            fprintf(stderr, "hello: unknown option %s (see --help)\n", a);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.host = "127.0.0.1", .port = 8000, .workers = 1};
    mn_http_limits_default(&o.limits);
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    if (o.single) {
        int fd = mn_tcp_listen(o.host, o.port, 4096, false);
        if (fd < 0) {
            fprintf(stderr, "hello: cannot listen on %s:%d: %s\n", o.host, o.port, mn_strerror(fd));
            return 1;
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        on_listening(o.host, mn_sock_port(fd), NULL);
        int rc = serve(fd, &o, sigfd);
        mn_sock_close(sigfd);
        mn_sock_close(fd);
        return rc;
    }
    mn_proc_config pc = {
        .host = o.host,
        .port = o.port,
        .workers = o.workers,
        .backlog = 4096,
        .drain_timeout_ms = 10000,
        .worker_main = worker_main,
        .arg = &o,
        .on_listening = on_listening,
    };
    return mn_proc_run(&pc);
}
