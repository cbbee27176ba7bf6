/* sock.c — coroutine-aware TCP sockets for every layer above (HTTP server, PostgreSQL, Redis).
 *
 * The idea: every socket is non-blocking; a call tries the system call first and, on EAGAIN,
 * parks the coroutine on the fd (edge-triggered, see loop.c) until it is ready or the call's
 * deadline passes. Off a coroutine the same calls wait with poll(2), so a CLI command can use
 * the code a view uses. One timeout covers a whole call (all of write_all, not each chunk).
 * Name resolution blocks in getaddrinfo(3), so a name (not a numeric address) is resolved on
 * the offload pool. */
#include "rt/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Where a call waits: on the loop (a coroutine) or in poll(2), against one deadline. */
typedef struct io_ctx {
    mn_loop *loop; /* NULL: off-coroutine */
    int64_t deadline;
} io_ctx;

static io_ctx io_begin(int64_t timeout_ms)
{
    mn_loop *loop = mn__current_loop;
    io_ctx io = {.loop = loop && loop->current ? loop : NULL, .deadline = -1};
    if (timeout_ms >= 0)
        io.deadline = (io.loop ? io.loop->now : mn__clock_ms()) + timeout_ms;
    return io;
}

static int io_wait(const io_ctx *io, int fd, unsigned events)
{
    return io->loop ? mn__wait_fd_until(io->loop, fd, events, io->deadline)
                    : mn__poll_fd_until(fd, events, io->deadline);
}

static int errno_code(int e)
{
    switch (e) {
    case EPIPE:
    case ECONNRESET: return MN_ECLOSED;
    case ETIMEDOUT: return MN_ETIMEDOUT;
    case ENOMEM:
    case ENOBUFS: return MN_ENOMEM;
    case EBADF:
    case EINVAL:
    case ENOTSOCK: return MN_EINVAL;
    default: return MN_EIO;
    }
}

static bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK;
}

/* After a system call on fd failed with errno e: MN_OK to try it again (interrupted, or fd
 * has become ready for events), else the code the call returns. Every retry loop below ends
 * in this. */
static int io_retry(const io_ctx *io, int fd, unsigned events, int e)
{
    if (e == EINTR)
        return MN_OK;
    if (!would_block(e))
        return errno_code(e);
    return io_wait(io, fd, events);
}

/* A brand-new fd: whatever the table remembers about an earlier fd with this number is stale. */
static void fd_fresh(int fd)
{
    mn__fd_reset(mn__current_loop, fd, MN_ECANCELED);
}

int mn_sock_close(int fd)
{
    if (fd < 0)
        return MN_EINVAL;
    mn__fd_reset(mn__current_loop, fd, MN_ECANCELED);
    return close(fd) == 0 || errno == EINTR ? MN_OK : errno_code(errno);
}

int mn_tcp_listen(const char *host, int port, int backlog, bool reuseport)
{
    if (port < 0 || port > 65535)
        return MN_EINVAL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    if (getaddrinfo(host && *host ? host : NULL, service, &hints, &res) != 0)
        return MN_ENOTFOUND;
    int fd = -1, err = MN_EIO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno_code(errno);
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if ((!reuseport || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0) &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, backlog > 0 ? backlog : SOMAXCONN) == 0)
            break;
        err = errno_code(errno);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        fd_fresh(fd);
    return fd >= 0 ? fd : err;
}

int mn_sock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return errno_code(errno);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return MN_EINVAL;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int mn_sock_accept(int listen_fd, int64_t timeout_ms)
{
    io_ctx io = io_begin(timeout_ms);
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            set_nodelay(fd);
            fd_fresh(fd);
            return fd;
        }
        int e = errno;
        int rc = e == ECONNABORTED ? MN_OK : io_retry(&io, listen_fd, MN_READ, e);
        if (rc != MN_OK)
            return rc;
    }
}

/* Connects one address. fd or a negative code (errno is left from the failure). */
static int connect_addr(const struct sockaddr *sa, socklen_t len, const io_ctx *io)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno_code(errno);
    fd_fresh(fd);
    int rc = MN_OK;
    if (connect(fd, sa, len) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            rc = errno_code(errno);
        } else {
            rc = io_wait(io, fd, MN_WRITE);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (rc == MN_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
                errno = soerr;
                rc = errno_code(soerr);
            }
        }
    }
    if (rc != MN_OK) {
        int e = errno;
        mn_sock_close(fd);
        errno = e;
        return rc;
    }
    set_nodelay(fd);
    return fd;
}

typedef struct resolve_job {
    const char *host;
    const char *service;
    struct addrinfo *res;
    int rc;
} resolve_job;

static void resolve(void *arg)
{
    resolve_job *job = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    job->rc = getaddrinfo(job->host, job->service, &hints, &job->res);
}

int mn_tcp_connect(const char *host, int port, int64_t timeout_ms)
{
    if (!host || !*host || port <= 0 || port > 65535)
        return MN_EINVAL;
    io_ctx io = io_begin(timeout_ms);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sin.sin_addr) == 1)
        return connect_addr((struct sockaddr *)&sin, sizeof sin, &io);
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1)
        return connect_addr((struct sockaddr *)&sin6, sizeof sin6, &io);

    char service[8];
    snprintf(service, sizeof service, "%d", port);
    resolve_job job = {.host = host, .service = service};
    int rc = mn_offload(resolve, &job);
    if (rc != MN_OK)
        return rc;
    if (job.rc != 0)
        return job.rc == EAI_MEMORY ? MN_ENOMEM : MN_ENOTFOUND;
    int fd = MN_ENOTFOUND;
    for (struct addrinfo *ai = job.res; ai; ai = ai->ai_next) {
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, &io);
        if (fd >= 0 || fd == MN_ETIMEDOUT)
            break;
    }
    freeaddrinfo(job.res);
    return fd;
}

ssize_t mn_sock_read(int fd, void *buf, size_t n, int64_t timeout_ms)
{
    io_ctx io = io_begin(timeout_ms);
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        int rc = io_retry(&io, fd, MN_READ, errno);
        if (rc != MN_OK)
            return rc;
    }
}

int mn_sock_writev_all(int fd, struct iovec *iov, int iovcnt, int64_t timeout_ms)
{
    if (iovcnt < 0 || (iovcnt > 0 && !iov))
        return MN_EINVAL;
    io_ctx io = io_begin(timeout_ms);
    bool is_socket = true;
    for (;;) {
        while (iovcnt > 0 && iov->iov_len == 0) {
            iov++;
            iovcnt--;
        }
        if (iovcnt == 0)
            return MN_OK;
        int cnt = iovcnt > IOV_MAX ? IOV_MAX : iovcnt;
        ssize_t w;
        if (is_socket) {
            /* sendmsg rather than writev: MSG_NOSIGNAL turns SIGPIPE into EPIPE. */
            struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
            w = sendmsg(fd, &msg, MSG_NOSIGNAL);
            if (w < 0 && errno == ENOTSOCK) {
                is_socket = false;
                continue;
            }
        } else {
            w = writev(fd, iov, cnt);
        }
        if (w < 0) {
            int rc = io_retry(&io, fd, MN_WRITE, errno);
            if (rc != MN_OK)
                return rc;
            continue;
        }
        size_t left = (size_t)w;
        while (left > 0) {
            if (left >= iov->iov_len) {
                left -= iov->iov_len;
                iov++;
                iovcnt--;
            } else {
                iov->iov_base = (char *)iov->iov_base + left;
                iov->iov_len -= left;
                left = 0;
            }
        }
    }
}

int mn_sock_write_all(int fd, const void *buf, size_t n, int64_t timeout_ms)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
    return mn_sock_writev_all(fd, &iov, 1, timeout_ms);
}

int mn_sock_sendfile(int fd, int file_fd, off_t offset, size_t count, int64_t timeout_ms)
{
    io_ctx io = io_begin(timeout_ms);
    while (count > 0) {
        size_t chunk = count > (size_t)1 << 30 ? (size_t)1 << 30 : count;
        ssize_t w = sendfile(fd, file_fd, &offset, chunk);
        if (w > 0) {
            count -= (size_t)w;
            continue;
        }
        if (w == 0)
            return MN_EIO; /* the file is shorter than promised */
        int rc = io_retry(&io, fd, MN_WRITE, errno);
        if (rc != MN_OK)
            return rc;
    }
    return MN_OK;
}
