/* floor_server.h — the minimal single-threaded epoll HTTP/1.1 server shared by the floors
 * (bench/floor, bench/dbfloor): everything but the routes. The idea: be honestly fast, so that
 * "0.8 x the floor" means something. Reads go into one shared buffer and every complete
 * request in it is answered into one shared output buffer, flushed with a single write
 * (pipelining costs one syscall per batch). A connection only owns heap memory while it holds
 * a partial request or unsent output, so an idle keep-alive connection is a small struct and
 * its socket. The Date header is formatted once per second.
 *
 * A floor defines FLOOR_NAME ("bench-floor"), FLOOR_SERVER (the Server header) and
 * OUT_RESERVE (room one response needs), includes this file, then defines floor_route(),
 * which answers one parsed request with the respond_* helpers. */
#ifndef FLOOR_SERVER_H
#define FLOOR_SERVER_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

enum {
    READ_CHUNK = 64 * 1024,  /* one read() at most */
    OUT_SIZE = 256 * 1024,   /* shared output buffer, flushed when nearly full */
    MAX_REQUEST = 64 * 1024, /* a request head larger than this is refused */
    MAX_EVENTS = 1024,
};

/* One connection. Invariant: pending is NULL unless a partial request is waiting for more
 * bytes; unsent is NULL unless a write could not finish (then EPOLLOUT is armed). */
typedef struct conn {
    int fd;
    bool want_close; /* close once unsent output is flushed */
    char *pending;   /* bytes of an incomplete request */
    size_t pending_len;
    char *unsent; /* output the socket would not take yet */
    size_t unsent_len, unsent_off;
} conn;

static int epfd;
static char inbuf[READ_CHUNK];
static char outbuf[OUT_SIZE];
static size_t outlen;
static char date_hdr[64]; /* "Date: Tue, 25 Nov 2026 00:00:00 GMT\r\n" */
static size_t date_len;
static time_t date_sec = -1;

static void refresh_date(void)
{
    time_t now = time(NULL);
    if (now == date_sec)
        return;
    date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    date_len = strftime(date_hdr, sizeof date_hdr, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void out_put(const char *s, size_t n)
{
    memcpy(outbuf + outlen, s, n);
    outlen += n;
}

#define OUT_LIT(s) out_put(s, sizeof(s) - 1)

static void out_uint(size_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_put(tmp + i, sizeof tmp - (size_t)i);
}

/* Writes s as a JSON string (quotes included), escaping what JSON requires. */
static size_t json_string(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char *p = dst;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return (size_t)(p - dst);
}

static void respond_head(const char *status, const char *ctype, size_t clen, bool close)
{
    out_put(status, strlen(status));
    OUT_LIT("Server: " FLOOR_SERVER "\r\n");
    out_put(date_hdr, date_len);
    OUT_LIT("Content-Type: ");
    out_put(ctype, strlen(ctype));
    OUT_LIT("\r\nContent-Length: ");
    out_uint(clen);
    if (close)
        OUT_LIT("\r\nConnection: close");
    OUT_LIT("\r\n\r\n");
}

static void respond_plaintext(bool close)
{
    respond_head("HTTP/1.1 200 OK\r\n", "text/plain", 13, close);
    OUT_LIT("Hello, World!");
}

static void respond_json(bool close)
{
    /* Serialised per request: {"message":"Hello, World!"} */
    char body[128];
    size_t n = 0;
    body[n++] = '{';
    n += json_string(body + n, "message");
    body[n++] = ':';
    n += json_string(body + n, "Hello, World!");
    body[n++] = '}';
    respond_head("HTTP/1.1 200 OK\r\n", "application/json", n, close);
    out_put(body, n);
}

static void respond_error(const char *status, bool close)
{
    respond_head(status, "text/plain", 0, close);
}

static bool ieq_prefix(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - p) < n)
        return false;
    return strncasecmp(p, lit, n) == 0;
}

static bool contains_token(const char *p, const char *end, const char *tok)
{
    size_t n = strlen(tok);
    for (; p + n <= end; p++)
        if (strncasecmp(p, tok, n) == 0)
            return true;
    return false;
}

/* Answers one request (the floor's routes); close: the client asked to close. */
static void floor_route(bool get, const char *target, size_t tlen, bool close);

/* Parses and answers one request at buf[0..len). Returns the bytes it used, 0 when the request
 * is not complete yet, or -1 when the connection must close after the output is flushed. */
static long handle_one(const char *buf, size_t len, conn *c)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end && len <= MAX_REQUEST)
        return 0;
    if (!end) {
        respond_error("HTTP/1.1 431 Request Header Fields Too Large\r\n", true);
        return -1;
    }
    const char *head_end = end + 2; /* keeps the last header's CRLF */
    size_t used = (size_t)(end + 4 - buf);

    /* Request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    const char *eol = memchr(buf, '\r', (size_t)(head_end - buf));
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        respond_error("HTTP/1.1 400 Bad Request\r\n", true);
        return -1;
    }
    bool http10 = sp2[8] == '0';
    bool keep_alive = !http10;
    size_t body_len = 0;

    /* Headers: only Connection and Content-Length matter here. */
    for (const char *h = eol + 2; h < head_end;) {
        const char *hend = memchr(h, '\r', (size_t)(head_end - h));
        if (!hend)
            break;
        if (ieq_prefix(h, hend, "connection:")) {
            if (contains_token(h + 11, hend, "close"))
                keep_alive = false;
            else if (contains_token(h + 11, hend, "keep-alive"))
                keep_alive = true;
        } else if (ieq_prefix(h, hend, "content-length:")) {
            const char *p = h + 15;
            while (p < hend && *p == ' ')
                p++;
            body_len = 0;
            for (; p < hend && *p >= '0' && *p <= '9'; p++)
                body_len = body_len * 10 + (size_t)(*p - '0');
            if (body_len > MAX_REQUEST) {
                respond_error("HTTP/1.1 413 Content Too Large\r\n", true);
                return -1;
            }
        }
        h = hend + 2;
    }
    if (len - used < body_len)
        return 0;
    used += body_len;

    size_t mlen = (size_t)(sp1 - buf), tlen = (size_t)(sp2 - sp1 - 1);
    bool get = mlen == 3 && memcmp(buf, "GET", 3) == 0;
    floor_route(get, sp1 + 1, tlen, !keep_alive);
    c->want_close = !keep_alive;
    return keep_alive ? (long)used : -1;
}

static void conn_close(conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c->pending);
    free(c->unsent);
    free(c);
}

static void set_events(conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queues outbuf behind output that is already waiting. false when out of memory. */
static bool append_unsent(conn *c)
{
    char *grown = realloc(c->unsent, c->unsent_len + outlen);
    if (!grown)
        return false;
    c->unsent = grown;
    memcpy(c->unsent + c->unsent_len, outbuf, outlen);
    c->unsent_len += outlen;
    outlen = 0;
    return true;
}

/* Sends outbuf, or queues it when earlier output is still waiting (responses stay in request
 * order). false when the connection died. */
static bool flush_out(conn *c)
{
    if (c->unsent)
        return append_unsent(c);
    size_t off = 0;
    while (off < outlen) {
        ssize_t n = write(c->fd, outbuf + off, outlen - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            c->unsent_len = outlen - off;
            c->unsent_off = 0;
            c->unsent = malloc(c->unsent_len);
            if (!c->unsent)
                return false;
            memcpy(c->unsent, outbuf + off, c->unsent_len);
            set_events(c, EPOLLOUT); /* read no more until this is gone (back-pressure) */
            break;
        } else {
            return false;
        }
    }
    outlen = 0;
    return true;
}

static bool write_unsent(conn *c)
{
    while (c->unsent_off < c->unsent_len) {
        ssize_t n = write(c->fd, c->unsent + c->unsent_off, c->unsent_len - c->unsent_off);
        if (n > 0)
            c->unsent_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return n < 0 && errno == EAGAIN;
    }
    free(c->unsent);
    c->unsent = NULL;
    c->unsent_len = c->unsent_off = 0;
    set_events(c, EPOLLIN);
    return !c->want_close;
}

/* Answers every complete request in data[0..len) with one write; keeps a partial one. */
static bool process(conn *c, const char *data, size_t len)
{
    size_t off = 0;
    bool alive = true;
    while (off < len) {
        if (outlen + OUT_RESERVE > OUT_SIZE && !flush_out(c))
            return false;
        long used = handle_one(data + off, len - off, c);
        if (used == 0)
            break;
        if (used < 0) {
            alive = false;
            break;
        }
        off += (size_t)used;
    }
    if (outlen && !flush_out(c))
        return false;
    if (!alive)
        return c->unsent != NULL; /* linger until the unsent output is gone */
    size_t rest = len - off;
    if (rest == 0) {
        free(c->pending);
        c->pending = NULL;
        c->pending_len = 0;
        return true;
    }
    if (data == c->pending) {
        memmove(c->pending, c->pending + off, rest);
    } else {
        char *p = malloc(rest);
        if (!p)
            return false;
        memcpy(p, data + off, rest);
        free(c->pending);
        c->pending = p;
    }
    c->pending_len = rest;
    return true;
}

static bool on_readable(conn *c)
{
    for (;;) {
        if (c->unsent) /* back-pressure: read no more until the output drains */
            return true;
        ssize_t n;
        if (c->pending) {
            char *grown = realloc(c->pending, c->pending_len + READ_CHUNK);
            if (!grown)
                return false;
            c->pending = grown;
            n = read(c->fd, c->pending + c->pending_len, READ_CHUNK);
            if (n > 0) {
                c->pending_len += (size_t)n;
                if (!process(c, c->pending, c->pending_len))
                    return false;
            }
        } else {
            n = read(c->fd, inbuf, sizeof inbuf);
            if (n > 0 && !process(c, inbuf, (size_t)n))
                return false;
        }
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if ((size_t)n < READ_CHUNK)
            return true;
    }
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of fds: try again on the next event */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static int listen_on(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, FLOOR_NAME ": host %s is not an IPv4 address\n", host);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, FLOOR_NAME ": cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        return -1;
    }
    return fd;
}

/* Listens on host:port, prints the address, and serves forever (returns only on error). */
static int floor_serve(const char *host, int port)
{
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = listen_on(host, port);
    if (lfd < 0)
        return 1;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &salen);
    printf(FLOOR_NAME ": listening on %s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    static int listen_tag; /* its address marks the listening socket in events */
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listen_tag};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror(FLOOR_NAME ": epoll_wait");
            return 1;
        }
        refresh_date();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listen_tag) {
                on_accept(lfd);
                continue;
            }
            conn *c = events[i].data.ptr;
            bool ok = true;
            if ((events[i].events & EPOLLOUT) && c->unsent)
                ok = write_unsent(c);
            if (ok && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                ok = on_readable(c);
            if (!ok)
                conn_close(c);
        }
    }
}

#endif
