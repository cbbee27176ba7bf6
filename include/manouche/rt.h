/* manouche/rt.h — the per-worker runtime: one epoll event loop, coroutines with their own
 * stacks, timers, sleep, thread-pool offload, coroutine-aware sockets, and the master process
 * that runs N workers (DESIGN.md section 2).
 *
 * The idea: code running on a coroutine reads like straight-line blocking code. Every call
 * marked MN_MAY_YIELD parks the calling coroutine and returns to the loop until its fd is
 * ready, its timer fires or its offloaded work is done. Called outside a coroutine (on the
 * loop's own stack, or in a program with no loop), those calls block the thread instead, so a
 * CLI command can use the same database code as a view. */
#ifndef MANOUCHE_RT_H
#define MANOUCHE_RT_H

#include <manouche/core.h>

#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Event loop: one per worker process (or thread); not shared between threads. ---- */
typedef struct mn_loop mn_loop;

mn_loop *mn_loop_new(void);
/* Frees the loop; coroutines still parked are destroyed without being resumed. */
void mn_loop_free(mn_loop *loop);
/* Runs until mn_loop_stop() is called and every coroutine has finished. 0 or an error. */
int mn_loop_run(mn_loop *loop);
/* Asks mn_loop_run() to return once no coroutine is left (it does not cancel them). */
void mn_loop_stop(mn_loop *loop);
/* The loop running on this thread, or NULL. */
mn_loop *mn_loop_current(void);
/* Monotonic milliseconds, cached once per loop iteration (cheap to call). */
int64_t mn_now_ms(void);

/* ---- Coroutines. ---- */
typedef struct mn_coro mn_coro;
typedef void (*mn_coro_fn)(void *arg);

/* Starts fn(arg) on a new coroutine (its stack comes from a pool); it first runs on the next
 * loop iteration. NULL when memory runs out. The coroutine is freed when fn returns. */
mn_coro *mn_coro_spawn(mn_loop *loop, mn_coro_fn fn, void *arg);
/* Sets the usable stack size of coroutines spawned on loop from now on (default 64 KiB, at
 * least 16 KiB, rounded up to whole pages). Each stack has a guard page below it. */
void mn_loop_set_stack_size(mn_loop *loop, size_t bytes);
/* The coroutine running now, or NULL on the loop's own stack. */
mn_coro *mn_coro_current(void);
/* Lets the other ready coroutines run, then continues. */
void mn_coro_yield(void) MN_MAY_YIELD;
/* Low-level parking for primitives built on top (pools, channels): mn_coro_park() suspends
 * the current coroutine until someone calls mn_coro_wake() on it (from the loop's thread). */
void mn_coro_park(void) MN_MAY_YIELD;
void mn_coro_wake(mn_coro *coro);
/* A per-coroutine slot for the layer above (the web layer keeps the current request here). */
void mn_coro_set_local(mn_coro *coro, void *value);
void *mn_coro_get_local(mn_coro *coro);

/* ---- Waiting. All return 0, MN_ETIMEDOUT, MN_ECANCELED (the loop is shutting down) or
 * another negative code. A timeout_ms < 0 waits without a deadline. ---- */
enum { MN_READ = 1, MN_WRITE = 2 };
/* Waits until fd is readable/writable. One coroutine per fd and direction at a time. A return
 * of 0 can be early (an old edge): do the operation and wait again on EAGAIN. */
int mn_wait_fd(int fd, unsigned events, int64_t timeout_ms) MN_MAY_YIELD;
int mn_sleep(int64_t ms) MN_MAY_YIELD;

/* Runs fn(arg) on the worker's thread pool; the calling coroutine parks until it has run.
 * For CPU-heavy or unavoidably blocking work (password hashing, a blocking library). */
int mn_offload(void (*fn)(void *arg), void *arg) MN_MAY_YIELD;

/* ---- Timers: callbacks run on the loop's stack (they must not yield). O(1) start/stop. ---- */
typedef struct mn_timer mn_timer;
mn_timer *mn_timer_start(mn_loop *loop, int64_t delay_ms, void (*cb)(void *arg), void *arg);
void mn_timer_stop(mn_timer *timer); /* a timer that has fired or been stopped is gone */

/* ---- Sockets. Read/write calls park the coroutine while the socket is not ready. Every
 * socket these calls create is non-blocking; an fd made elsewhere must be made so too. ---- */
/* A non-blocking listening TCP socket; reuseport sets SO_REUSEPORT. An fd or negative code. */
int mn_tcp_listen(const char *host, int port, int backlog, bool reuseport);
/* The port a socket is bound to (useful after listening on port 0). */
int mn_sock_port(int fd);
/* Accepts one connection (non-blocking fd), parking until one arrives. fd or negative code. */
int mn_sock_accept(int listen_fd, int64_t timeout_ms) MN_MAY_YIELD;
/* Connects to host:port (numeric or a name) with a deadline. fd or negative code. */
int mn_tcp_connect(const char *host, int port, int64_t timeout_ms) MN_MAY_YIELD;
/* Bytes read (> 0), 0 at end of stream, or a negative code. */
ssize_t mn_sock_read(int fd, void *buf, size_t n, int64_t timeout_ms) MN_MAY_YIELD;
/* Writes everything, parking while the socket buffer is full. 0 or a negative code. */
int mn_sock_write_all(int fd, const void *buf, size_t n, int64_t timeout_ms) MN_MAY_YIELD;
/* The same for iovcnt buffers; iov is updated in place as bytes go out. */
int mn_sock_writev_all(int fd, struct iovec *iov, int iovcnt, int64_t timeout_ms) MN_MAY_YIELD;
/* Closes a socket used with these calls: a coroutine waiting on it wakes with MN_ECANCELED and
 * the loop forgets the fd, so its number can be reused safely. Use it instead of close(2). */
int mn_sock_close(int fd);
/* Sends count bytes of file_fd from offset with sendfile(2). 0 or a negative code. */
int mn_sock_sendfile(int fd, int file_fd, off_t offset, size_t count,
                     int64_t timeout_ms) MN_MAY_YIELD;

/* ---- Processes: a master that keeps N workers running (DESIGN.md section 2). ----
 * The master binds one SO_REUSEPORT listening socket per worker slot and keeps them open, so
 * a replaced worker inherits its slot's socket and no connection is refused across a reload.
 * It restarts a crashed worker (with backoff, logged); on SIGTERM/SIGINT it asks every worker
 * to drain and exits 0 when they have; on SIGHUP it starts new workers and drains the old. */
typedef struct mn_proc_config {
    const char *host;         /* address to bind, e.g. "127.0.0.1" */
    int port;                 /* 0 picks a free port */
    int workers;              /* <= 0: one per core */
    int backlog;              /* listen backlog (0: a sensible default) */
    int64_t drain_timeout_ms; /* how long a draining worker may finish in-flight work */
    /* Runs in each worker process; listen_fd is that slot's socket. Return the exit code. */
    int (*worker_main)(int listen_fd, int worker_index, void *arg);
    void *arg;
    /* Called in the master once the sockets are bound (to print the address, say). */
    void (*on_listening)(const char *host, int port, void *arg);
} mn_proc_config;

/* Runs the master until shutdown; returns the process exit code. */
int mn_proc_run(const mn_proc_config *config);
/* In a worker: true once the master asked it to drain (stop accepting, finish, exit). */
bool mn_worker_draining(void);
/* In a worker: registers fn(arg) to run on the loop when a drain is requested. */
void mn_worker_on_drain(mn_loop *loop, void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
