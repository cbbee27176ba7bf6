/* conn.c — serving one connection: the coroutine that parses requests from the connection's
 * buffer, reads bodies, runs the handler and writes responses, and then gives the connection
 * back to the server's epoll set (no coroutine, no stack) when there is nothing left to read.
 *
 * The idea that makes pipelining fast: responses are appended to one output buffer while the
 * input buffer still holds complete requests, and written with one send() when it runs dry
 * (or max_pipeline answers are waiting). The request head is never copied: its slices point
 * into the input buffer, which is only compacted between requests.
 *
 * The coroutine reads with plain non-blocking read(2) and gives up on EAGAIN; it never parks
 * waiting for the next request. The server's edge-triggered epoll set reports every arrival,
 * so after a short read with no event since, another read would only return EAGAIN: it is
 * skipped (readable_hint), saving a syscall per request. */
#include "http/internal.h"
#include "http/multipart.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DIRECT_BODY 16384 /* bigger bodies are written from where they are, not copied */
#define FLUSH_AT 65536    /* pending output that is written without waiting for more */
#define SCRATCH 65536     /* body bytes read per call when streaming a body */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- Writing. ---- */

/* A client that stopped reading is dropped with a reset: a plain close would leave the kernel
 * trickling megabytes of queued response to it long after we gave up. */
static int note_timeout(mn__conn *c, int rc)
{
    if (rc == MN_ETIMEDOUT)
        c->abort = true;
    return rc;
}

static int write_bytes(mn__conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return note_timeout(
                c, mn_sock_write_all(c->fd, p, n, c->server->limits->write_timeout_ms));
        return MN_ECLOSED;
    }
    return MN_OK;
}

static int flush(mn__conn *c, mn_req *r)
{
    if (r->out.len == 0)
        return MN_OK;
    int rc = write_bytes(c, r->out.data, r->out.len);
    r->bytes_sent += r->out.len;
    mn_buf_reset(&r->out);
    if (rc)
        c->closing = true;
    return rc;
}

/* Answers an error and marks the connection for closing (earlier pipelined answers first). */
static void send_error(mn__conn *c, mn_req *r, int status, const char *message)
{
    mn__resp_error(&r->out, status, message, c->server->config.server_name);
    if (flush(c, r) == MN_OK)
        c->linger = true;
    c->closing = true;
}

/* Closing a socket with unread input makes the kernel send a reset, which can destroy the
 * error answer before the client reads it: so half-close, then read and drop what the client
 * still sends for a moment (a "lingering close", as nginx does). */
static void linger(mn__conn *c)
{
    if (shutdown(c->fd, SHUT_WR) != 0)
        return;
    char sink[4096];
    size_t total = 0;
    int64_t end = mn_now_ms() + 500;
    while (total < (1u << 20)) {
        int64_t left = end - mn_now_ms();
        if (left <= 0)
            break;
        ssize_t n = mn_sock_read(c->fd, sink, sizeof sink, left);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
}

/* ---- Reading. ---- */

/* Reads more bytes into the connection buffer: 1 got some, 0 nothing now, < 0 closed/error,
 * or MN_ETOOBIG when the buffer is at its limit. */
static int read_more(mn__conn *c)
{
    mn_server *s = c->server;
    if (!c->readable_hint && !c->eof_hint)
        return 0;
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (!c->in || c->in_len == c->in_cap) {
        int rc = mn__server_ensure_buf(s, c, c->in_cap ? c->in_cap * 2 : MN__IN_BUF);
        if (rc)
            return rc;
    }
    for (;;) {
        size_t room = c->in_cap - c->in_len;
        ssize_t n = read(c->fd, c->in + c->in_len, room);
        if (n > 0) {
            c->in_len += (size_t)n;
            c->got_bytes = true;
            c->readable_hint = (size_t)n == room; /* a full read may have left more */
            return 1;
        }
        if (n == 0)
            return MN_ECLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->readable_hint = false;
            return 0;
        }
        return MN_EIO;
    }
}

/* Reads body bytes from the socket (parking up to the body timeout). > 0, or an error. */
static ssize_t read_socket(mn__conn *c, char *buf, size_t n)
{
    ssize_t got = mn_sock_read(c->fd, buf, n, c->server->limits->body_timeout_ms);
    if (got == 0)
        return MN_ECLOSED;
    return got;
}

typedef struct body_sink {
    mn_req *r;
    mn_buf buf; /* collected body, in the arena */
    bool multipart;
} body_sink;

static int sink_put(body_sink *b, const char *data, size_t len)
{
    if (len == 0)
        return MN_OK;
    if (b->multipart)
        return mn__upload_feed(b->r, data, len);
    return mn_buf_append(&b->buf, data, len);
}

static int body_from_length(mn__conn *c, body_sink *b, size_t *consumed)
{
    mn_req *r = b->r;
    size_t head_len = r->head.head_len;
    const char *avail = c->in + c->in_off + head_len;
    size_t avail_len = c->in_len - c->in_off - head_len;
    size_t cl = (size_t)r->head.content_length;
    if (!b->multipart) {
        if (cl <= avail_len) { /* all here: the body is a slice of the buffer */
            r->body = (mn_str){avail, cl};
            *consumed = head_len + cl;
            return MN_OK;
        }
        char *body = mn_arena_alloc(r->arena, cl + 1);
        if (!body)
            return MN_ENOMEM;
        memcpy(body, avail, avail_len);
        size_t got = avail_len;
        *consumed = head_len + avail_len;
        while (got < cl) {
            ssize_t n = read_socket(c, body + got, cl - got);
            if (n < 0)
                return (int)n;
            got += (size_t)n;
        }
        body[cl] = '\0';
        r->body = (mn_str){body, cl};
        return MN_OK;
    }
    size_t take = avail_len < cl ? avail_len : cl;
    int rc = sink_put(b, avail, take);
    *consumed = head_len + take;
    size_t left = cl - take;
    char *scratch = left ? mn_arena_alloc(r->arena, SCRATCH) : NULL;
    if (left && !scratch)
        return MN_ENOMEM;
    while (rc == MN_OK && left > 0) {
        ssize_t n = read_socket(c, scratch, left < SCRATCH ? left : SCRATCH);
        if (n < 0)
            return (int)n;
        left -= (size_t)n;
        rc = sink_put(b, scratch, (size_t)n);
    }
    return rc;
}

static int chunk_error(mn_req *r, const mn__chunked *ch)
{
    mn__req_set_error(r, "%s", ch->error.message ? ch->error.message : "bad chunked body");
    switch (ch->error.status) {
    case 413: return MN_ETOOBIG;
    case 431: return -431;
    default: return MN_EPROTO;
    }
}

static int body_from_chunks(mn__conn *c, body_sink *b, size_t *consumed)
{
    mn_req *r = b->r;
    mn__chunked ch;
    mn__chunked_init(&ch, b->multipart ? 0 : r->limits->max_body);
    size_t head_len = r->head.head_len;
    char *avail = c->in + c->in_off + head_len;
    size_t avail_len = c->in_len - c->in_off - head_len;
    size_t out_len = 0, used = 0;
    /* Decoded in place: the output never overtakes the input, and the head before it and any
     * pipelined request after it are left alone. */
    mn__http_result res = mn__chunked_decode(&ch, avail, avail_len, avail, &out_len, &used);
    if (res == MN__HTTP_ERROR)
        return chunk_error(r, &ch);
    int rc = sink_put(b, avail, out_len);
    if (res == MN__HTTP_DONE) {
        *consumed = head_len + used;
        return rc;
    }
    *consumed = head_len + avail_len;
    char *scratch = mn_arena_alloc(r->arena, SCRATCH);
    if (!scratch)
        return MN_ENOMEM;
    while (rc == MN_OK) {
        ssize_t n = read_socket(c, scratch, SCRATCH);
        if (n < 0)
            return (int)n;
        res = mn__chunked_decode(&ch, scratch, (size_t)n, scratch, &out_len, &used);
        if (res == MN__HTTP_ERROR)
            return chunk_error(r, &ch);
        rc = sink_put(b, scratch, out_len);
        if (res == MN__HTTP_DONE) {
            /* Bytes after the body belong to the next request: they go back to the
             * connection buffer once this request's slices are dead. */
            r->carry = scratch + used;
            r->carry_len = (size_t)n - used;
            break;
        }
    }
    return rc;
}

/* Reads the whole body (or streams a multipart one into the upload parser). */
static int read_body(mn__conn *c, mn_req *r, bool multipart, size_t *consumed)
{
    body_sink b = {.r = r, .multipart = multipart};
    mn_buf_init(&b.buf, r->arena);
    int rc =
        r->head.chunked ? body_from_chunks(c, &b, consumed) : body_from_length(c, &b, consumed);
    if (rc == MN_OK && multipart)
        rc = mn__upload_finish(r);
    if (rc == MN_OK && !multipart && r->head.chunked) {
        char *data = mn_buf_cstr(&b.buf);
        r->body = (mn_str){data ? data : "", b.buf.len};
    }
    return rc;
}

static bool is_multipart(const mn_req *r)
{
    mn_str ct = mn_req_header(r, "Content-Type");
    return ct.ptr && ct.len >= 19 && mn_str_ieq_cstr((mn_str){ct.ptr, 19}, "multipart/form-data");
}

/* Checks Expect and the body limit, sends 100 Continue when due, reads the body. false:
 * the connection is closing (an answer has been sent when one was due). */
static bool receive_body(mn__conn *c, mn_req *r, size_t *consumed)
{
    mn__http_head *h = &r->head;
    const mn_http_limits *lim = r->limits;
    bool has_body = h->chunked || h->content_length > 0;
    if (!has_body) {
        *consumed = h->head_len;
        return true;
    }
    /* Only a body can be expected: an Expect on a bodiless request changes nothing. */
    if (h->minor >= 1 && !h->expect_continue && mn__http_head_get(h, "Expect")) {
        send_error(c, r, 417, "only Expect: 100-continue is supported");
        return false;
    }
    bool multipart = is_multipart(r);
    if (!multipart && h->content_length > 0 && (uint64_t)h->content_length > lim->max_body) {
        send_error(c, r, 413, "the body is larger than the limit (DATA_UPLOAD_MAX_MEMORY_SIZE)");
        return false;
    }
    if (multipart && mn__upload_begin(r, mn_req_header(r, "Content-Type")) != MN_OK) {
        send_error(c, r, 400, mn_req_error(r));
        return false;
    }
    size_t buffered = c->in_len - c->in_off - h->head_len;
    if (h->expect_continue && buffered == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (flush(c, r) || write_bytes(c, cont, sizeof cont - 1)) {
            c->closing = true;
            return false;
        }
    }
    int rc = read_body(c, r, multipart, consumed);
    switch (rc) {
    case MN_OK: return true;
    case MN_ETIMEDOUT: send_error(c, r, 408, "the body did not arrive in time"); return false;
    case MN_ETOOBIG:
        send_error(c, r, 413, *r->error ? r->error : "the body is larger than the limit");
        return false;
    case MN_EPROTO: send_error(c, r, 400, mn_req_error(r)); return false;
    case -431: send_error(c, r, 431, mn_req_error(r)); return false;
    case MN_ENOMEM: send_error(c, r, 500, "out of memory"); return false;
    default: /* the peer went away */ c->closing = true; return false;
    }
}

/* ---- Sending the response. ---- */

static int send_file(mn__conn *c, mn_req *r)
{
    int rc = flush(c, r);
    if (rc || r->is_head || r->file_len == 0)
        return rc;
    rc = note_timeout(c, mn_sock_sendfile(c->fd, r->file_fd, r->file_offset, r->file_len,
                                          c->server->limits->write_timeout_ms));
    if (rc == MN_OK)
        r->bytes_sent += r->file_len;
    return rc;
}

static int send_response(mn__conn *c, mn_req *r)
{
    mn_server *s = c->server;
    if (s->draining)
        r->close_after = true;
    if (r->streaming) {
        if (!r->stream_ended && !r->stream_failed)
            return mn_resp_stream_end(r);
        return r->stream_failed ? MN_ECLOSED : MN_OK;
    }
    mn__resp_finish(r);
    const char *server_name = s->config.server_name;
    if (r->file_fd >= 0) {
        if (mn__resp_head(r, &r->out, (int64_t)r->file_len, server_name))
            return MN_ENOMEM;
        return send_file(c, r);
    }
    mn_buf *body = &r->resp_body;
    if (body->len <= DIRECT_BODY) /* copied after the head: one write for the batch */
        return mn__resp_head_body(r, &r->out, server_name) ? MN_ENOMEM : MN_OK;
    if (mn__resp_head(r, &r->out, (int64_t)body->len, server_name))
        return MN_ENOMEM;
    if (r->is_head)
        return MN_OK;
    /* a big body: pending answers, this head and the body in one call, the body not copied */
    struct iovec iov[2] = {{r->out.data, r->out.len}, {body->data, body->len}};
    int rc =
        note_timeout(c, mn_sock_writev_all(c->fd, iov, 2, c->server->limits->write_timeout_ms));
    r->bytes_sent += r->out.len + body->len;
    mn_buf_reset(&r->out);
    if (rc)
        c->closing = true;
    return rc;
}

/* ---- Streaming (response.c calls these). ---- */

int mn__conn_stream_start(mn_req *r)
{
    mn__conn *c = r->conn;
    r->stream_chunked = r->head.minor >= 1;
    if (c->server->draining)
        r->close_after = true;
    int rc = mn__resp_head(r, &r->out, -1, c->server->config.server_name);
    if (rc == MN_OK)
        rc = flush(c, r);
    if (rc)
        r->stream_failed = true;
    return rc;
}

int mn__conn_stream_write(mn_req *r, const void *data, size_t len)
{
    mn__conn *c = r->conn;
    if (r->stream_failed)
        return MN_ECLOSED;
    if (r->is_head)
        return MN_OK;
    int rc;
    if (r->stream_chunked) {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        struct iovec iov[3] = {
            {size, (size_t)n},
            {(void *)data, len},
            {(void *)"\r\n", 2},
        };
        rc =
            note_timeout(c, mn_sock_writev_all(c->fd, iov, 3, c->server->limits->write_timeout_ms));
    } else {
        rc = write_bytes(c, data, len);
    }
    if (rc) {
        r->stream_failed = true;
        c->closing = true;
        return rc;
    }
    r->bytes_sent += len;
    return MN_OK;
}

int mn__conn_stream_end(mn_req *r)
{
    mn__conn *c = r->conn;
    if (r->stream_failed)
        return MN_ECLOSED;
    r->stream_ended = true;
    if (!r->stream_chunked || r->is_head)
        return MN_OK;
    int rc = write_bytes(c, "0\r\n\r\n", 5);
    if (rc) {
        r->stream_failed = true;
        c->closing = true;
    }
    return rc;
}

/* ---- One request. ---- */

/* Handles the parsed request in r->head: false when the connection must close. */
static bool handle(mn__conn *c, mn_req *r)
{
    mn_server *s = c->server;
    r->conn = c;
    r->peer_ip = c->peer;
    r->trusted_proxies = s->config.trusted_proxies;
    r->cookie_secure = s->config.cookie_secure;
    if (s->config.on_response)
        r->start_us = now_us();
    int status = mn__req_from_head(r);
    if (status) {
        send_error(c, r, status, mn_req_error(r));
        return false;
    }
    size_t consumed = 0;
    if (!receive_body(c, r, &consumed))
        return false;
    r->close_after = !r->head.keep_alive || s->draining;
    s->active++;
    s->config.handler(r, s->config.arg);
    s->active--;
    int rc = c->closing ? MN_ECLOSED : send_response(c, r);
    if (s->config.on_response)
        s->config.on_response(r, r->status, r->bytes_sent + r->out.len, now_us() - r->start_us,
                              s->config.arg);
    /* The request's slices are dead from here: consume its bytes, take back any carry. */
    c->in_off += consumed;
    if (rc != MN_OK) {
        c->closing = true;
        return false;
    }
    if (r->carry_len) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
        if (mn__server_ensure_buf(s, c, c->in_len + r->carry_len) != MN_OK)
            return false;
        memcpy(c->in + c->in_len, r->carry, r->carry_len);
        c->in_len += r->carry_len;
        r->carry_len = 0;
    }
    return !r->close_after;
}

/* What serve() decided about the connection. */
enum { KEEP, CLOSE, MORE };

/* Writes the answers waiting in r->out and reads more input: MORE when bytes came, else what
 * becomes of the connection (KEEP: it waits on the idle or head list, with no coroutine). */
static int refill(mn__conn *c, mn_req *r)
{
    mn_server *s = c->server;
    if (flush(c, r))
        return CLOSE;
    int rd = read_more(c);
    if (rd == MN_ETOOBIG) {
        send_error(c, r, 431, "the request head is too large");
        return CLOSE;
    }
    if (rd < 0)
        return CLOSE;
    if (rd > 0)
        return MORE;
    if (s->draining)
        return CLOSE;
    if (c->in_len == c->in_off) {
        mn__server_release_buf(s, c);
        c->got_bytes = false;
        c->deadline = mn_now_ms() + s->limits->keepalive_timeout_ms;
        mn__list_remove(&s->busy, c);
        mn__list_push(&s->idle, c, MN__LIST_IDLE);
        return KEEP;
    }
    if (mn_now_ms() >= c->head_deadline) {
        send_error(c, r, 408, "the request head did not arrive in time");
        return CLOSE;
    }
    c->deadline = c->head_deadline;
    mn__list_remove(&s->busy, c);
    mn__list_push(&s->head, c, MN__LIST_HEAD);
    return KEEP;
}

static int serve(mn__conn *c, mn_req *r)
{
    mn_server *s = c->server;
    size_t waiting = 0; /* answers in r->out */
    for (;;) {
        if (c->closing || s->freed)
            return CLOSE;
        /* Nothing buffered (the usual end of a keep-alive request): read before the request
         * object is cleared, as it often goes back unused. */
        if (c->in_len == c->in_off) {
            int outcome = refill(c, r);
            if (outcome != MORE)
                return outcome;
            waiting = 0;
        }
        mn__req_clear(r);
        mn__http_result res =
            mn__http_parse_head(&r->head, c->in + c->in_off, c->in_len - c->in_off, s->limits);
        while (res == MN__HTTP_NEED_MORE) {
            int outcome = refill(c, r);
            if (outcome != MORE)
                return outcome;
            waiting = 0;
            res =
                mn__http_parse_head(&r->head, c->in + c->in_off, c->in_len - c->in_off, s->limits);
        }
        if (res == MN__HTTP_ERROR) {
            send_error(c, r, r->head.error.status ? r->head.error.status : 400,
                       r->head.error.message);
            return CLOSE;
        }
        bool keep = handle(c, r);
        mn_arena_reset(r->arena);
        if (!keep) {
            /* Input the client sent after this request (pipelined) is unread: a plain close
             * would answer it with a reset that can destroy the answers just sent. */
            if (flush(c, r) == MN_OK && !c->closing)
                c->linger = true;
            return CLOSE;
        }
        c->head_deadline = mn_now_ms() + s->limits->header_timeout_ms;
        c->got_bytes = c->in_len > c->in_off;
        if (++waiting >= s->limits->max_pipeline || r->out.len >= FLUSH_AT) {
            if (flush(c, r))
                return CLOSE;
            waiting = 0;
        }
    }
}

void mn__conn_run(void *arg)
{
    mn__conn *c = arg;
    mn_server *s = c->server;
    mn_req *r = mn__server_take_req(s);
    int outcome = r ? serve(c, r) : CLOSE;
    if (r) {
        mn_arena_reset(r->arena);
        mn_buf_reset(&r->out);
        mn__server_give_req(s, r);
    }
    if (outcome == CLOSE) {
        if (c->abort) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        } else if (c->linger && !s->freed)
            linger(c);
        mn__conn_close(c);
    }
}
