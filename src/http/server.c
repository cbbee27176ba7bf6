/* server.c — the HTTP server of one worker: accepting, the set of idle connections, timeouts,
 * drain, and the pools that keep the hot path free of malloc.
 *
 * The idea: the listening socket and every connection are watched by the loop itself
 * (mn__fd_watch, edge-triggered), so the loop's one epoll_wait per pass reports them along
 * with everything else, and for each connection that became readable the server spawns a
 * coroutine that serves it until it runs dry (conn.c). So a connection costs a coroutine and a
 * stack only while it has work; an idle keep-alive connection is a ~150-byte struct. (A
 * server-owned epoll set, waited on through the loop's, cost a second epoll_wait for every
 * batch of requests.)
 *
 * Timeouts without a timer per connection: idle connections sit on a FIFO list in the order
 * they went idle, all with the same keep-alive timeout, so the expired ones are at its front;
 * connections with a partial head sit on a second list that is swept whole. A coroutine, the
 * sweeper, sweeps every 100 ms. */
#define _GNU_SOURCE
#include "http/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SWEEP_MS 100
#define MAX_EVENTS 256
#define MAX_FREE_REQS 256
#define DRAIN_GRACE_MS 1000

/* ---- Lists. ---- */

void mn__list_remove(mn__list *l, mn__conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->last = c->prev;
    c->prev = c->next = NULL;
    c->list = MN__LIST_NONE;
    l->count--;
}

void mn__list_push(mn__list *l, mn__conn *c, int which)
{
    c->prev = l->last;
    c->next = NULL;
    if (l->last)
        l->last->next = c;
    else
        l->first = c;
    l->last = c;
    c->list = which;
    l->count++;
}

static mn__list *list_of(mn_server *s, mn__conn *c)
{
    switch (c->list) {
    case MN__LIST_IDLE: return &s->idle;
    case MN__LIST_HEAD: return &s->head;
    case MN__LIST_BUSY: return &s->busy;
    default: return NULL;
    }
}

/* ---- Pools. ---- */

mn_req *mn__server_take_req(mn_server *s)
{
    mn_req *r = s->free_reqs;
    if (r) {
        s->free_reqs = r->next_free;
        s->free_req_count--;
        return r;
    }
    r = mn__req_alloc(s->limits);
    if (r)
        mn_buf_init(&r->out, NULL);
    return r;
}

static void req_destroy(mn_req *r)
{
    mn_buf_free(&r->out);
    mn__req_destroy(r);
}

void mn__server_give_req(mn_server *s, mn_req *r)
{
    /* A request that grew a big output buffer (a huge pipelined batch) gives it back. */
    if (r->out.cap > 262144)
        mn_buf_free(&r->out);
    if (s->freed || s->free_req_count >= MAX_FREE_REQS) {
        req_destroy(r);
        return;
    }
    r->next_free = s->free_reqs;
    s->free_reqs = r;
    s->free_req_count++;
}

/* The input buffer may grow to hold the largest head the limits allow. */
static size_t max_in(const mn_server *s)
{
    return s->limits->max_target + s->limits->max_header_bytes + 1024;
}

int mn__server_ensure_buf(mn_server *s, mn__conn *c, size_t want)
{
    if (c->in && c->in_cap >= want)
        return MN_OK;
    if (!c->in && want <= MN__IN_BUF && s->free_buf_count > 0) {
        c->in = s->free_bufs[--s->free_buf_count];
        c->in_cap = MN__IN_BUF;
        return MN_OK;
    }
    size_t limit = max_in(s);
    if (want > limit) {
        if (c->in_cap >= limit)
            return MN_ETOOBIG;
        want = limit;
    }
    size_t cap = want < MN__IN_BUF ? MN__IN_BUF : want;
    char *grown = mn_realloc(c->in, cap);
    if (!grown)
        return MN_ENOMEM;
    c->in = grown;
    c->in_cap = cap;
    return MN_OK;
}

void mn__server_release_buf(mn_server *s, mn__conn *c)
{
    if (!c->in)
        return;
    if (c->in_cap == MN__IN_BUF && s->free_buf_count < sizeof s->free_bufs / sizeof *s->free_bufs)
        s->free_bufs[s->free_buf_count++] = c->in;
    else
        mn_free(c->in);
    c->in = NULL;
    c->in_cap = c->in_len = c->in_off = 0;
}

/* ---- Connections. ---- */

static void server_destroy(mn_server *s);

void mn__server_check_done(mn_server *s)
{
    size_t open = s->idle.count + s->head.count + s->busy.count;
    if (open > 0)
        return;
    if (s->draining && s->drain_done) {
        void (*done)(void *) = s->drain_done;
        s->drain_done = NULL;
        done(s->drain_arg);
    }
    if (s->freed && !s->sweeper_alive)
        server_destroy(s);
}

static void conn_free(mn__conn *c)
{
    mn_server *s = c->server;
    mn__list *l = list_of(s, c);
    if (l)
        mn__list_remove(l, c);
    mn__fd_unwatch(s->loop, c->fd); /* in the server's loop, whichever loop is current */
    mn_sock_close(c->fd);
    mn__server_release_buf(s, c);
    mn_free(c);
}

void mn__conn_close(mn__conn *c)
{
    mn_server *s = c->server;
    conn_free(c);
    mn__server_check_done(s);
}

static void peer_text(const struct sockaddr_storage *ss, char out[46])
{
    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, 46);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) /* "::ffff:1.2.3.4" is the IPv4 client 1.2.3.4 */
            inet_ntop(AF_INET, &a->s6_addr[12], out, 46);
        else
            inet_ntop(AF_INET6, a, out, 46);
    } else if (ss->ss_family == AF_UNIX) {
        strcpy(out, "127.0.0.1");
    }
}

/* The loop reports an edge on a connection. */
static void conn_event(void *arg, uint32_t events)
{
    mn__conn *c = arg;
    mn_server *s = c->server;
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        return; /* room to write: a parked writer has been woken by the loop */
    c->readable_hint = true;
    /* A short read empties the socket of data but not of a pending end of stream, whose
     * event may already have been consumed: so an end or an error is remembered for good. */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->eof_hint = true;
    if (c->list == MN__LIST_BUSY)
        return; /* its coroutine reads before letting go */
    if (c->list == MN__LIST_IDLE)
        c->head_deadline = mn_now_ms() + s->limits->header_timeout_ms;
    mn__list_remove(list_of(s, c), c);
    mn__list_push(&s->busy, c, MN__LIST_BUSY);
    if (!mn_coro_spawn(s->loop, mn__conn_run, c))
        mn__conn_close(c);
}

static void accept_all(mn_server *s)
{
    while (s->accepting) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && mn_now_ms() >= s->next_fd_warning) {
                s->next_fd_warning = mn_now_ms() + 10000; /* once per 10 s, not per retry */
                mn_log(MN_LOG_WARNING, "manouche.http",
                       "accept: out of file descriptors (%zu connections open)",
                       s->idle.count + s->head.count + s->busy.count);
            }
            /* Connections left waiting behind an error get no new edge: the sweep retries. */
            s->accept_retry = errno != EAGAIN && errno != EWOULDBLOCK;
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        mn__conn *c = mn_calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->server = s;
        peer_text(&ss, c->peer);
        c->head_deadline = mn_now_ms() + s->limits->header_timeout_ms;
        c->deadline = c->head_deadline;
        if (mn__fd_watch(s->loop, fd, conn_event, c) != MN_OK) {
            mn__fd_unwatch(s->loop, fd);
            close(fd);
            mn_free(c);
            continue;
        }
        mn__list_push(&s->head, c, MN__LIST_HEAD);
    }
}

/* Best effort: a connection with no coroutine cannot wait for a slow reader. */
static void send_timeout(mn_server *s, mn__conn *c)
{
    mn_buf out;
    mn_buf_init(&out, NULL);
    if (mn__resp_error(&out, 408, "the request head did not arrive in time",
                       s->config.server_name) == MN_OK) {
        ssize_t n = send(c->fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
    }
    mn_buf_free(&out);
}

static void sweep(mn_server *s)
{
    int64_t now = mn_now_ms();
    while (s->idle.first && s->idle.first->deadline <= now)
        conn_free(s->idle.first);
    mn__conn *c = s->head.first;
    while (c) {
        mn__conn *next = c->next;
        if (c->head_deadline <= now) {
            if (c->in_len > c->in_off)
                send_timeout(s, c); /* slowloris: 408 at the deadline */
            conn_free(c);
        }
        c = next;
    }
    mn__server_check_done(s);
}

static void close_waiting(mn_server *s)
{
    while (s->idle.first)
        conn_free(s->idle.first);
    while (s->head.first)
        conn_free(s->head.first);
}

static void listener_event(void *arg, uint32_t events)
{
    (void)events;
    accept_all(arg);
}

static void sweeper(void *arg)
{
    mn_server *s = arg;
    while (!s->freed) {
        mn_sleep(SWEEP_MS);
        if (s->freed)
            break;
        if (s->accept_retry)
            accept_all(s); /* an earlier accept ran out of descriptors (or memory) */
        sweep(s);
        if (s->draining && s->idle.count + s->head.count + s->busy.count == 0)
            break;
    }
    s->sweeper_alive = false;
    if (s->freed) {
        close_waiting(s);
        mn__server_check_done(s);
    }
}

/* ---- Public API. ---- */

static void fill_limits(mn_http_limits *l)
{
    mn_http_limits d;
    mn_http_limits_default(&d);
    static const mn_http_limits zero;
    if (memcmp(l, &zero, sizeof zero) == 0) {
        *l = d;
        return;
    }
    /* Limits where 0 means "no limit" (max_form_fields, max_multipart_parts, max_files,
     * max_upload: Django's None) keep the caller's 0. */
#define DEF(f)                                                                                     \
    if (!l->f)                                                                                     \
    l->f = d.f
    DEF(max_target);
    DEF(max_header_bytes);
    DEF(max_headers);
    DEF(max_body);
    DEF(upload_memory);
    DEF(header_timeout_ms);
    DEF(body_timeout_ms);
    DEF(keepalive_timeout_ms);
    DEF(write_timeout_ms);
    DEF(max_pipeline);
#undef DEF
}

mn_server *mn_server_start(mn_loop *loop, int listen_fd, const mn_server_config *config)
{
    if (!loop || listen_fd < 0 || !config || !config->handler)
        return NULL;
    mn_server *s = mn_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->listen_fd = listen_fd;
    s->config = *config;
    s->limits = &s->config.limits;
    fill_limits(s->limits);
    s->config.trusted_proxies = config->trusted_proxies ? mn_strdup(config->trusted_proxies) : NULL;
    s->config.server_name = config->server_name ? mn_strdup(config->server_name) : NULL;
    s->config.limits.upload_temp_dir =
        config->limits.upload_temp_dir ? mn_strdup(config->limits.upload_temp_dir) : NULL;
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl >= 0)
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
    s->sweeper_alive = true;
    if (!mn_coro_spawn(loop, sweeper, s)) {
        s->sweeper_alive = false;
        goto fail;
    }
    if (mn__fd_watch(loop, listen_fd, listener_event, s) != MN_OK)
        goto fail; /* the sweeper sees freed and frees the server */
    s->accepting = true;
    /* A client that resets the connection must not kill the worker with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return s;
fail:
    mn__fd_unwatch(loop, listen_fd);
    s->freed = true;
    if (!s->sweeper_alive)
        server_destroy(s);
    return NULL;
}

void mn_server_drain(mn_server *s, void (*done)(void *arg), void *arg)
{
    if (!s)
        return;
    s->draining = true;
    s->drain_done = done;
    s->drain_arg = arg;
    if (s->accepting) {
        s->accepting = false;
        mn__fd_unwatch(s->loop, s->listen_fd);
    }
    /* Closing an idle keep-alive connection races with the client sending its next request
     * on it (which then fails). A busy client sends within milliseconds, so idle connections
     * get a short grace: a request arriving in it is answered with Connection: close. */
    int64_t grace = s->limits->keepalive_timeout_ms < DRAIN_GRACE_MS
                        ? s->limits->keepalive_timeout_ms
                        : DRAIN_GRACE_MS;
    int64_t end = mn_now_ms() + grace;
    for (mn__conn *c = s->idle.first; c; c = c->next)
        if (c->deadline > end)
            c->deadline = end;
    for (mn__conn *c = s->head.first; c; c = c->next)
        if (c->head_deadline > end)
            c->head_deadline = end;
    mn__server_check_done(s);
}

static void server_destroy(mn_server *s)
{
    while (s->free_reqs) {
        mn_req *r = s->free_reqs;
        s->free_reqs = r->next_free;
        req_destroy(r);
    }
    for (size_t i = 0; i < s->free_buf_count; i++)
        mn_free(s->free_bufs[i]);
    mn_free((char *)s->config.trusted_proxies);
    mn_free((char *)s->config.server_name);
    mn_free((char *)s->config.limits.upload_temp_dir);
    mn_free(s);
}

void mn_server_free(mn_server *s)
{
    if (!s)
        return;
    s->freed = true;
    if (s->accepting) {
        s->accepting = false;
        mn__fd_unwatch(s->loop, s->listen_fd);
    }
    close_waiting(s);
    /* Busy connections notice at their next read or write and close; the last one out (or
     * the sweeper) frees the server. */
    for (mn__conn *c = s->busy.first; c; c = c->next) {
        shutdown(c->fd, SHUT_RDWR);
        c->closing = true;
    }
    mn__server_check_done(s);
}

size_t mn_server_connections(const mn_server *s)
{
    return s ? s->idle.count + s->head.count + s->busy.count : 0;
}

size_t mn_server_active_requests(const mn_server *s)
{
    return s ? s->active : 0;
}
