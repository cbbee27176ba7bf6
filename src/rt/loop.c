/* loop.c — the event loop: one epoll instance per thread, a FIFO of ready coroutines, the timing
 * wheel and the fd table that maps readiness to the coroutine waiting for it.
 *
 * The idea: each iteration fires due timers, runs the coroutines that were ready when it
 * started (so a yielding coroutine cannot starve I/O), then waits in epoll_wait for at most the
 * time to the nearest timer. Fds are registered once, edge-triggered for both directions, and
 * stay registered: waiting on a socket costs no epoll_ctl, and an idle keep-alive connection
 * costs an fd table entry and no coroutine. Because edges are not remembered, the socket calls
 * always try the system call first and wait only after EAGAIN. */
#include "rt/internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

_Thread_local mn_loop *mn__current_loop;

enum { MAX_EVENTS = 256 };

int64_t mn__clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mn_now_ms(void)
{
    mn_loop *loop = mn__current_loop;
    return loop && loop->running ? loop->now : mn__clock_ms();
}

mn_loop *mn_loop_current(void)
{
    return mn__current_loop;
}

mn_loop *mn_loop_new(void)
{
    mn_loop *loop = mn_calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->epfd = -1;
    loop->pool.eventfd = -1;
    mn__pool_init(&loop->pool);
    loop->now = mn__clock_ms();
    loop->wheel = mn_malloc(sizeof *loop->wheel);
    if (!loop->wheel || mn__coro_sched_init(loop) != MN_OK)
        goto fail;
    mn__wheel_init(loop->wheel, loop->now);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail;
    int drain_fd = mn__worker_drain_fd();
    if (drain_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = MN__TAG_DRAIN};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, drain_fd, &ev) != 0)
            goto fail;
    }
    if (!mn__current_loop)
        mn__current_loop = loop;
    return loop;
fail:
    mn_loop_free(loop);
    return NULL;
}

void mn_loop_free(mn_loop *loop)
{
    if (!loop)
        return;
    loop->freeing = true;
    /* Offload threads may still write into jobs on coroutine stacks: join them first. */
    mn__pool_fini(loop);
    /* Timer nodes of parked coroutines live on their stacks: unlink before unmapping. */
    mn__timers_free(loop);
    while (loop->live)
        mn__coro_release(loop, loop->live);
    loop->ready_head = loop->ready_tail = NULL;
    mn__coro_pool_clear(loop);
    mn__coro_sched_fini(loop);
    mn_free(loop->fds);
    mn_free(loop->drain_cbs);
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (mn__current_loop == loop)
        mn__current_loop = NULL;
    mn_free(loop);
}

void mn_loop_stop(mn_loop *loop)
{
    if (loop)
        loop->stopping = true;
}

mn__fdstate *mn__fd_get(mn_loop *loop, int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= loop->nfds) {
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        mn__fdstate *fds = mn_realloc(loop->fds, n * sizeof *fds);
        if (!fds)
            return NULL;
        memset(fds + loop->nfds, 0, (n - loop->nfds) * sizeof *fds);
        loop->fds = fds;
        loop->nfds = n;
    }
    return &loop->fds[fd];
}

static void wake_waiter(mn__waiter *w, int result)
{
    if (w->done)
        return;
    w->done = true;
    w->result = result;
    mn_coro_wake(w->coro);
}

static void waiter_timeout(mn__tnode *node)
{
    wake_waiter((mn__waiter *)((char *)node - offsetof(mn__waiter, timer)), MN_ETIMEDOUT);
}

static void sleeper_done(mn__tnode *node)
{
    wake_waiter((mn__waiter *)((char *)node - offsetof(mn__waiter, timer)), MN_OK);
}

/* Wakes whoever waits on fd with result and forgets the registration: the fd is closed, or its
 * number was handed out again by the kernel. */
void mn__fd_reset(mn_loop *loop, int fd, int result)
{
    if (!loop || fd < 0 || (size_t)fd >= loop->nfds)
        return;
    mn__fdstate *fs = &loop->fds[fd];
    if (fs->reader)
        wake_waiter(fs->reader, result);
    if (fs->writer)
        wake_waiter(fs->writer, result);
    if (fs->registered)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(fs, 0, sizeof *fs);
}

int mn__wait_fd_until(mn_loop *loop, int fd, unsigned events, int64_t deadline)
{
    mn__fdstate *fs = mn__fd_get(loop, fd);
    if (!fs)
        return fd < 0 ? MN_EINVAL : MN_ENOMEM;
    if (((events & MN_READ) && fs->reader) || ((events & MN_WRITE) && fs->writer))
        return MN_EINVAL; /* one reader and one writer per fd at a time */
    if (!fs->registered) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.u64 = (uint64_t)fd};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
            return errno == EBADF ? MN_EINVAL : MN_EIO;
        fs->registered = true;
    }
    if (deadline >= 0 && deadline <= loop->now)
        return MN_ETIMEDOUT;
    mn__waiter w = {.coro = loop->current, .fd = fd};
    if (events & MN_READ)
        fs->reader = &w;
    if (events & MN_WRITE)
        fs->writer = &w;
    if (deadline >= 0) {
        w.timer.fire = waiter_timeout;
        mn__timer_add(loop, &w.timer, deadline);
    }
    mn_coro_park();
    /* The table may have grown (moved) while we were parked. */
    if ((size_t)fd < loop->nfds) {
        fs = &loop->fds[fd];
        if (fs->reader == &w)
            fs->reader = NULL;
        if (fs->writer == &w)
            fs->writer = NULL;
    }
    mn__timer_del(loop, &w.timer);
    return w.result;
}

int mn__poll_fd_until(int fd, unsigned events, int64_t deadline)
{
    struct pollfd p = {.fd = fd};
    if (events & MN_READ)
        p.events |= POLLIN;
    if (events & MN_WRITE)
        p.events |= POLLOUT;
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - mn__clock_ms();
            timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        int n = poll(&p, 1, timeout);
        if (n > 0)
            return (p.revents & POLLNVAL) ? MN_EINVAL : MN_OK;
        if (n == 0 && timeout == 0)
            return MN_ETIMEDOUT;
        if (n < 0 && errno != EINTR)
            return MN_EIO;
    }
}

int mn_wait_fd(int fd, unsigned events, int64_t timeout_ms)
{
    if (fd < 0 || !(events & (MN_READ | MN_WRITE)))
        return MN_EINVAL;
    mn_loop *loop = mn__current_loop;
    if (!loop || !loop->current)
        return mn__poll_fd_until(fd, events, timeout_ms < 0 ? -1 : mn__clock_ms() + timeout_ms);
    /* The caller may not have read until EAGAIN (libpq does not), and edges are not
     * remembered. Re-arming with EPOLL_CTL_MOD queues an event if the fd is ready now, and
     * tells us when the fd number was closed and reused behind our back (ENOENT): one system
     * call for both. An fd not registered yet gets the same from EPOLL_CTL_ADD. */
    mn__fdstate *fs = mn__fd_get(loop, fd);
    if (!fs)
        return MN_ENOMEM;
    if (fs->registered) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.u64 = (uint64_t)fd};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
            if (errno == EBADF)
                return MN_EINVAL;
            fs->registered = false; /* ENOENT: a new file behind an old number */
        }
    }
    return mn__wait_fd_until(loop, fd, events, timeout_ms < 0 ? -1 : loop->now + timeout_ms);
}

int mn__fd_watch(mn_loop *loop, int fd, void (*fn)(void *arg, uint32_t events), void *arg)
{
    mn__fdstate *fs = mn__fd_get(loop, fd);
    if (!fs)
        return fd < 0 ? MN_EINVAL : MN_ENOMEM;
    /* Added even when the table says registered: a driver may have closed an fd of that
     * number behind the loop's back (libpq does), and a fresh accept gets the number again.
     * EEXIST means this very file is in the set already. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
        return errno == EBADF ? MN_EINVAL : MN_EIO;
    fs->registered = true;
    fs->watch = fn;
    fs->watch_arg = arg;
    return MN_OK;
}

void mn__fd_unwatch(mn_loop *loop, int fd)
{
    mn__fd_reset(loop, fd, MN_ECANCELED);
}

int mn_sleep(int64_t ms)
{
    mn_loop *loop = mn__current_loop;
    if (!loop || !loop->current) {
        struct timespec ts = {.tv_sec = ms > 0 ? ms / 1000 : 0,
                              .tv_nsec = ms > 0 ? (ms % 1000) * 1000000 : 0};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        return MN_OK;
    }
    if (ms <= 0) {
        mn_coro_yield();
        return MN_OK;
    }
    mn__waiter w = {.coro = loop->current, .fd = -1};
    w.timer.fire = sleeper_done;
    mn__timer_add(loop, &w.timer, loop->now + ms);
    do {
        mn_coro_park();
    } while (!w.done); /* a stray mn_coro_wake must not cut the sleep short */
    return MN_OK;
}

static void dispatch(mn_loop *loop, const struct epoll_event *ev)
{
    uint64_t tag = ev->data.u64;
    if (tag == MN__TAG_POOL) {
        mn__pool_complete(loop);
        return;
    }
    if (tag == MN__TAG_DRAIN) {
        mn__loop_run_drain(loop);
        return;
    }
    if (tag >= loop->nfds)
        return;
    mn__fdstate *fs = &loop->fds[tag];
    if (fs->reader && (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        wake_waiter(fs->reader, MN_OK);
    if (fs->writer && (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
        wake_waiter(fs->writer, MN_OK);
    if (fs->watch)
        fs->watch(fs->watch_arg, ev->events); /* last: it may close fd or grow the table */
}

/* Runs the coroutines that are ready now; those made ready meanwhile wait for the next pass. */
static void run_ready(mn_loop *loop)
{
    mn_coro *c = loop->ready_head;
    mn_coro *last = loop->ready_tail;
    if (!c)
        return;
    loop->ready_head = loop->ready_tail = NULL;
    for (;;) {
        mn_coro *next = c->next_ready;
        bool end = c == last;
        mn__coro_resume(loop, c);
        if (end)
            break;
        c = next;
    }
}

/* One iteration: timers, the ready coroutines, then at most max_wait_ms in epoll_wait. */
static int iterate(mn_loop *loop, struct epoll_event *events, int64_t max_wait_ms)
{
    loop->now = mn__clock_ms();
    mn__wheel_advance(loop, loop->now);
    run_ready(loop);
    if (loop->stopping && loop->nlive == 0)
        return 1;
    int64_t wait = mn__wheel_timeout(loop->wheel, loop->now);
    if (loop->ready_head) {
        /* Coroutines that keep yielding: look at I/O once per millisecond, not per pass. */
        if (loop->polled_at == loop->now)
            return 0;
        wait = 0;
    }
    if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
        wait = max_wait_ms;
    loop->polled_at = loop->now;
    int n = epoll_wait(loop->epfd, events, MAX_EVENTS, wait > INT_MAX ? INT_MAX : (int)wait);
    if (n < 0)
        return errno == EINTR ? 0 : MN_EIO;
    for (int i = 0; i < n; i++)
        dispatch(loop, &events[i]);
    return 0;
}

int mn__loop_run_once(mn_loop *loop, int64_t max_wait_ms)
{
    struct epoll_event events[MAX_EVENTS];
    mn_loop *outer = mn__current_loop;
    mn__current_loop = loop;
    loop->running = true;
    int rc = iterate(loop, events, max_wait_ms);
    loop->running = false;
    mn__current_loop = outer ? outer : loop;
    return rc < 0 ? rc : MN_OK;
}

int mn_loop_run(mn_loop *loop)
{
    if (!loop || loop->running)
        return MN_EINVAL;
    mn_loop *outer = mn__current_loop;
    mn__current_loop = loop;
    loop->running = true;
    struct epoll_event events[MAX_EVENTS];
    int rc;
    while ((rc = iterate(loop, events, -1)) == 0) {
    }
    loop->running = false;
    loop->stopping = false;
    mn__current_loop = outer ? outer : loop;
    return rc < 0 ? rc : MN_OK;
}
