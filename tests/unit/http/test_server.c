/* test_server.c — the server API in process: a loop, a listening socket on a free port, and
 * client coroutines talking to it over real loopback sockets. Covers the handler contract,
 * connection and active-request counts, drain (in-flight requests finish with
 * Connection: close, then done is called) and freeing a server with open connections. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http/internal.h"

typedef struct test_ctx {
    mn_loop *loop;
    mn_server *server;
    int listen_fd;
    int port;
    char reply[8192];
    size_t reply_len;
    size_t active_seen;
    size_t conns_seen;
    int drained;
} test_ctx;

static void view(mn_req *r, void *arg)
{
    test_ctx *t = arg;
    t->active_seen = mn_server_active_requests(t->server);
    t->conns_seen = mn_server_connections(t->server);
    if (mn_str_eq_cstr(mn_req_path(r), "/sleep"))
        mn_sleep(300);
    mn_resp_send(r, 200, "text/plain", "hi");
}

static void setup_server(test_ctx *t)
{
    t->loop = mn_loop_new();
    cr_assert_not_null(t->loop);
    t->listen_fd = mn_tcp_listen("127.0.0.1", 0, 64, false);
    cr_assert(t->listen_fd >= 0);
    t->port = mn_sock_port(t->listen_fd);
    mn_server_config cfg = {.handler = view, .arg = t};
    mn_http_limits_default(&cfg.limits);
    t->server = mn_server_start(t->loop, t->listen_fd, &cfg);
    cr_assert_not_null(t->server);
}

static void teardown_server(test_ctx *t)
{
    mn_server_free(t->server);
    mn_loop_free(t->loop);
    mn_sock_close(t->listen_fd);
}

static void on_drained(void *arg)
{
    test_ctx *t = arg;
    t->drained++;
    mn_loop_stop(t->loop);
}

/* Sends req and reads until the peer closes or a whole response with body "hi" is in. */
static void exchange(test_ctx *t, int fd, const char *req)
{
    cr_assert_eq(mn_sock_write_all(fd, req, strlen(req), 2000), MN_OK);
    t->reply_len = 0;
    while (t->reply_len < sizeof t->reply - 1) {
        ssize_t n =
            mn_sock_read(fd, t->reply + t->reply_len, sizeof t->reply - 1 - t->reply_len, 2000);
        if (n <= 0)
            break;
        t->reply_len += (size_t)n;
        t->reply[t->reply_len] = '\0';
        if (strstr(t->reply, "\r\n\r\nhi"))
            break;
    }
    t->reply[t->reply_len] = '\0';
}

static void simple_client(void *arg)
{
    test_ctx *t = arg;
    int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
    cr_assert(fd >= 0);
    exchange(t, fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    mn_sock_close(fd);
    mn_server_drain(t->server, on_drained, t);
}

Test(server, answers_and_counts)
{
    test_ctx t = {0};
    setup_server(&t);
    mn_coro_spawn(t.loop, simple_client, &t);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    cr_assert(strncmp(t.reply, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", t.reply);
    cr_assert(strstr(t.reply, "Content-Length: 2\r\n") != NULL);
    cr_assert_eq(t.active_seen, 1, "one request in a handler");
    cr_assert_eq(t.conns_seen, 1, "one open connection");
    cr_assert_eq(t.drained, 1, "drain finished once");
    cr_assert_eq(mn_server_connections(t.server), 0);
    teardown_server(&t);
}

static void inflight_client(void *arg)
{
    test_ctx *t = arg;
    int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
    cr_assert(fd >= 0);
    cr_assert_eq(mn_sock_write_all(fd, "GET /sleep HTTP/1.1\r\nHost: a\r\n\r\n", 32, 2000), MN_OK);
    /* Wait until the handler is running (it sleeps 200 ms), however busy the machine is. */
    for (int i = 0; i < 200 && mn_server_active_requests(t->server) == 0; i++)
        mn_sleep(5);
    cr_assert_eq(mn_server_active_requests(t->server), 1);
    mn_server_drain(t->server, on_drained, t);
    cr_assert_eq(t->drained, 0, "not done while a request is in flight");
    exchange(t, fd, "");
    mn_sock_close(fd);
}

static void idle_client(void *arg)
{
    test_ctx *t = arg;
    int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
    cr_assert(fd >= 0);
    char buf[16];
    /* Never sends: the drain closes it at once. */
    ssize_t n = mn_sock_read(fd, buf, sizeof buf, 3000);
    cr_assert_eq(n, 0, "idle connection closed by the drain");
    mn_sock_close(fd);
}

Test(server, drain_lets_inflight_requests_finish_with_connection_close)
{
    test_ctx t = {0};
    setup_server(&t);
    mn_coro_spawn(t.loop, idle_client, &t);
    mn_coro_spawn(t.loop, inflight_client, &t);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    cr_assert(strstr(t.reply, "HTTP/1.1 200 OK\r\n") != NULL, "%s", t.reply);
    cr_assert(strstr(t.reply, "Connection: close\r\n") != NULL, "%s", t.reply);
    cr_assert_eq(t.drained, 1);
    teardown_server(&t);
}

static void pipeline_client(void *arg)
{
    test_ctx *t = arg;
    int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    cr_assert_eq(mn_sock_write_all(fd, req, strlen(req), 2000), MN_OK);
    t->reply_len = 0;
    for (;;) {
        ssize_t n =
            mn_sock_read(fd, t->reply + t->reply_len, sizeof t->reply - 1 - t->reply_len, 2000);
        if (n <= 0)
            break;
        t->reply_len += (size_t)n;
    }
    t->reply[t->reply_len] = '\0';
    mn_sock_close(fd);
    mn_server_drain(t->server, on_drained, t);
}

Test(server, pipelined_requests_answered_in_one_batch_then_closed)
{
    test_ctx t = {0};
    setup_server(&t);
    mn_coro_spawn(t.loop, pipeline_client, &t);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    int answers = 0;
    for (const char *p = t.reply; (p = strstr(p, "HTTP/1.1 200 OK")) != NULL; p++)
        answers++;
    cr_assert_eq(answers, 3, "%s", t.reply);
    cr_assert(strstr(t.reply, "Connection: close\r\n\r\nhi") != NULL, "the last one closes");
    teardown_server(&t);
}

static void stop_soon(void *arg)
{
    test_ctx *t = arg;
    int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
    cr_assert(fd >= 0);
    mn_sleep(50);
    /* Freeing with a connection open: it is closed, nothing leaks, the loop can end. */
    mn_server_free(t->server);
    t->server = NULL;
    char buf[8];
    cr_assert_eq(mn_sock_read(fd, buf, sizeof buf, 3000), 0);
    mn_sock_close(fd);
    mn_loop_stop(t->loop);
}

Test(server, free_with_open_connections)
{
    test_ctx t = {0};
    setup_server(&t);
    mn_coro_spawn(t.loop, stop_soon, &t);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    teardown_server(&t);
}

Test(server, start_refuses_bad_arguments)
{
    mn_loop *loop = mn_loop_new();
    mn_server_config cfg = {0};
    cr_assert_null(mn_server_start(loop, 3, &cfg), "no handler");
    cfg.handler = view;
    cr_assert_null(mn_server_start(loop, -1, &cfg), "no socket");
    mn_loop_free(loop);
}

typedef struct oom_ctx {
    test_ctx t;
    long fail_at;
    int answered;
} oom_ctx;

static void oom_client(void *arg)
{
    oom_ctx *o = arg;
    test_ctx *t = &o->t;
    for (int i = 0; i < 3; i++) {
        int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
        if (fd < 0)
            continue;
        if (i == 0)
            mn_alloc_fail_after(o->fail_at);
        exchange(t, fd, "POST /x?a=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
        mn_alloc_fail_after(0);
        if (strstr(t->reply, "\r\n\r\nhi"))
            o->answered++;
        mn_sock_close(fd);
    }
    mn_server_drain(t->server, on_drained, t);
}

/* The n-th allocation after a request arrives fails: the request may fail, the server must
 * neither crash nor leak, and must answer again once memory is back. */
Test(server, out_of_memory_while_serving_is_survived)
{
    for (long n = 1; n <= 24; n++) {
        oom_ctx o = {.fail_at = n};
        setup_server(&o.t);
        mn_coro_spawn(o.t.loop, oom_client, &o);
        cr_assert_eq(mn_loop_run(o.t.loop), 0);
        cr_assert(o.answered >= 2, "fail_at %ld: requests after the failure not answered", n);
        teardown_server(&o.t);
    }
}

/* Out of descriptors: the accept fails and the connection waits in the backlog, where no new
 * edge will announce it; the sweep must retry once descriptors are back. */
static struct rlimit saved_nofile;

static void restore_nofile_later(void *arg)
{
    (void)arg;
    mn_sleep(30);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
}

static void starved_client(void *arg)
{
    test_ctx *t = arg;
    int next = dup(0); /* the lowest free number: the client socket gets it */
    cr_assert(next >= 0);
    close(next);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    struct rlimit tight = saved_nofile;
    tight.rlim_cur = (rlim_t)next + 1; /* room for the client's socket, none for the accept */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
    int fd = mn_tcp_connect("127.0.0.1", t->port, 2000);
    cr_assert_eq(fd, next);
    mn_coro_spawn(t->loop, restore_nofile_later, NULL);
    int64_t start = mn_now_ms();
    exchange(t, fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_lt(mn_now_ms() - start, 1500, "answered after the retry, not at a timeout");
    mn_sock_close(fd);
    mn_server_drain(t->server, on_drained, t);
}

Test(server, accept_out_of_descriptors_is_retried_by_the_sweep)
{
    test_ctx t = {0};
    setup_server(&t);
    mn_coro_spawn(t.loop, starved_client, &t);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    cr_assert(strncmp(t.reply, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", t.reply);
    teardown_server(&t);
}
