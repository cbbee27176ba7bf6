/* internal.h — the runtime's private structures, shared by loop.c, coro.c, timer.c, sock.c,
 * offload.c and proc.c. Nothing here is installed.
 *
 * Invariants worth knowing before reading the sources:
 * - Everything in an mn_loop is touched only by the thread that runs it, except the offload
 *   completion list (guarded by its mutex and signalled with an eventfd).
 * - A coroutine's struct lives at the top of its own stack mapping, so spawning from the pool
 *   allocates nothing; the mapping is kept on the loop's free list when the coroutine ends.
 * - Waiting (fd or timer) never allocates: the waiter and its timer node live on the waiting
 *   coroutine's stack. */
#ifndef MN_RT_INTERNAL_H
#define MN_RT_INTERNAL_H

/* accept4, pipe2, IOV_MAX...: every rt source includes this header first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <manouche/rt.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Timers: a hashed timing wheel with 1 ms slots (timer.c). ---- */
#define MN__WHEEL_BITS 12
#define MN__WHEEL_SLOTS (1u << MN__WHEEL_BITS)
#define MN__WHEEL_MASK (MN__WHEEL_SLOTS - 1)

typedef struct mn__tnode mn__tnode;
struct mn__tnode {
    mn__tnode *next, *prev; /* in a wheel slot's list; prev == NULL when not scheduled */
    int64_t deadline;       /* absolute mn_now_ms() */
    void (*fire)(mn__tnode *node);
};

typedef struct mn__wheel {
    mn__tnode slots[MN__WHEEL_SLOTS];    /* list heads (circular, sentinel) */
    uint64_t busy[MN__WHEEL_SLOTS / 64]; /* bit per non-empty slot */
    int64_t processed;                   /* every deadline <= this has fired */
    size_t count;
} mn__wheel;

void mn__wheel_init(mn__wheel *w, int64_t now);
void mn__timer_add(mn_loop *loop, mn__tnode *node, int64_t deadline);
void mn__timer_del(mn_loop *loop, mn__tnode *node);
static inline bool mn__timer_pending(const mn__tnode *node)
{
    return node->prev != NULL;
}
/* Fires every timer due at now. */
void mn__wheel_advance(mn_loop *loop, int64_t now);
/* Milliseconds until the nearest slot with a timer (0 if due), or -1 when there is none. */
int64_t mn__wheel_timeout(const mn__wheel *w, int64_t now);
void mn__timers_free(mn_loop *loop);

/* ---- Coroutines (coro.c). ---- */
enum { MN__CORO_READY = 1, MN__CORO_RUNNING, MN__CORO_PARKED, MN__CORO_DONE };

struct mn_coro {
    void *ctx; /* asm: saved stack pointer; ucontext: ucontext_t in the mapping */
    mn_loop *loop;
    mn_coro_fn fn;
    void *arg;
    void *local;
    mn_coro *next_ready;            /* ready queue link */
    mn_coro *prev_live, *next_live; /* every coroutine not yet finished */
    mn_coro *next_free;             /* the loop's pool of finished mappings */
    char *map;                      /* the whole mapping: guard page, stack, this struct */
    size_t map_size;
    size_t stack_size; /* usable bytes below this struct */
    void *fake_stack;  /* ASan's fake stack while switched away */
    int state;
};

/* ---- Fds (loop.c): one entry per fd number the loop has seen. ---- */
typedef struct mn__waiter {
    mn_coro *coro;
    mn__tnode timer;
    int fd;
    int result;
    bool done;
} mn__waiter;

typedef struct mn__fdstate {
    mn__waiter *reader, *writer;
    bool registered; /* added to epoll (edge-triggered, in and out) */
    /* mn__fd_watch: called from the loop with the epoll events of each edge, after any
     * waiter has been made ready. */
    void (*watch)(void *arg, uint32_t events);
    void *watch_arg;
} mn__fdstate;

/* ---- Offload (offload.c). ---- */
typedef struct mn__job mn__job;
struct mn__job {
    void (*fn)(void *arg);
    void *arg;
    mn_coro *coro;
    mn__job *next;
};

typedef struct mn__pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    mn__job *head, *tail; /* queued, not started */
    mn__job *done;        /* finished, waiting for the loop */
    pthread_t threads[8];
    int nthreads;
    bool quit;
    int eventfd; /* -1 until the pool starts */
} mn__pool;

typedef struct mn__drain_cb {
    void (*fn)(void *arg);
    void *arg;
} mn__drain_cb;

struct mn_loop {
    int epfd;
    int64_t now;
    int64_t polled_at; /* now at the last epoll_wait */
    bool stopping;
    bool running;
    bool freeing;
    /* Ready queue (FIFO). */
    mn_coro *ready_head, *ready_tail;
    mn_coro *current;
    mn_coro *live; /* doubly linked list of unfinished coroutines */
    size_t nlive;
    mn_coro *free_coros; /* pooled mappings */
    size_t nfree;
    size_t stack_size;
    void *sched_ctx; /* the loop's own context (asm: sp, ucontext: ucontext_t *) */
    /* ASan: the loop stack's bounds, learnt on the first switch back. */
    const void *sched_stack_bottom;
    size_t sched_stack_size;
    void *sched_fake_stack;
    mn__fdstate *fds;
    size_t nfds;
    mn__wheel *wheel;
    struct mn_timer *free_timers; /* recycled public timers */
    mn__pool pool;
    /* Worker drain support (proc.c). */
    mn__drain_cb *drain_cbs;
    size_t ndrain_cbs;
    bool drain_done;
};

/* The loop on this thread. */
extern _Thread_local mn_loop *mn__current_loop;

/* coro.c */
int mn__coro_sched_init(mn_loop *loop);
void mn__coro_sched_fini(mn_loop *loop);
void mn__coro_resume(mn_loop *loop, mn_coro *coro);  /* returns when it parks or ends */
void mn__coro_release(mn_loop *loop, mn_coro *coro); /* finished or abandoned: to the pool */
void mn__coro_pool_clear(mn_loop *loop);

static inline void mn__ready_push(mn_loop *loop, mn_coro *c)
{
    c->next_ready = NULL;
    if (loop->ready_tail)
        loop->ready_tail->next_ready = c;
    else
        loop->ready_head = c;
    loop->ready_tail = c;
}

/* loop.c */
mn__fdstate *mn__fd_get(mn_loop *loop, int fd); /* NULL on ENOMEM or a negative fd */
/* Wakes whoever waits on fd with result and forgets its registration: the fd is being closed,
 * or the kernel handed its number out again. */
void mn__fd_reset(mn_loop *loop, int fd, int result);
/* Parks the current coroutine until fd is ready for events, the deadline (absolute ms,
 * < 0 none) passes, or the fd is closed with mn_sock_close. Must run on a coroutine. */
int mn__wait_fd_until(mn_loop *loop, int fd, unsigned events, int64_t deadline);
/* Has the loop call fn(arg, epoll events) for every edge of fd (registered edge-triggered for
 * in and out, as waiting registers it), until mn__fd_unwatch or mn__fd_reset. fn runs on the
 * loop, not on a coroutine: it must not yield, and may close fd. Waiters on fd are woken as
 * usual. The HTTP server watches its listener and idle connections this way, so one
 * epoll_wait reports them with everything else (declared again in http/internal.h, as no
 * public header offers it). */
int mn__fd_watch(mn_loop *loop, int fd, void (*fn)(void *arg, uint32_t events), void *arg);
/* mn__fd_reset(loop, fd, MN_ECANCELED): no more calls, and fd leaves the epoll set. */
void mn__fd_unwatch(mn_loop *loop, int fd);
/* Off-coroutine: poll(2) with a deadline. */
int mn__poll_fd_until(int fd, unsigned events, int64_t deadline);
int64_t mn__clock_ms(void);
/* One loop iteration waiting at most max_wait_ms (< 0: until something happens); for tests
 * and for code that drives a loop step by step. */
int mn__loop_run_once(mn_loop *loop, int64_t max_wait_ms);

/* offload.c */
void mn__pool_init(mn__pool *pool);
void mn__pool_fini(mn_loop *loop);
void mn__pool_complete(mn_loop *loop); /* eventfd became readable */

/* proc.c: the worker's drain pipe (-1 outside a worker) and the drain hook. */
int mn__worker_drain_fd(void);
void mn__worker_setup(int64_t drain_timeout_ms); /* in a freshly forked worker */
void mn__loop_run_drain(mn_loop *loop);

/* Special epoll tags (fds are >= 0). */
#define MN__TAG_POOL ((uint64_t)1 << 40)
#define MN__TAG_DRAIN ((uint64_t)2 << 40)

#endif
