/* offload.c — runs blocking or CPU-heavy work on a small thread pool while the calling coroutine
 * is parked, so the loop keeps serving everyone else.
 *
 * The idea: the job lives on the parked coroutine's stack (no allocation). A pool thread takes
 * it from a mutex-guarded queue, runs it, puts it on the loop's done list and writes the loop's
 * eventfd; the loop, seeing the eventfd readable, wakes the coroutines of the finished jobs.
 * Threads start on first use, one loop owns one pool, and mn_loop_free joins them. */
#include "rt/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { POOL_THREADS = 4 };

void mn__pool_init(mn__pool *pool)
{
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->eventfd = -1;
}

static void *pool_thread(void *arg)
{
    mn_loop *loop = arg;
    mn__pool *pool = &loop->pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->quit)
            pthread_cond_wait(&pool->cond, &pool->lock);
        if (pool->quit)
            break;
        mn__job *job = pool->head;
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        job->fn(job->arg);
        pthread_mutex_lock(&pool->lock);
        bool was_empty = !pool->done;
        job->next = pool->done;
        pool->done = job;
        if (was_empty) {
            uint64_t one = 1;
            ssize_t w = write(pool->eventfd, &one, sizeof one);
            (void)w; /* the counter cannot overflow with one write per batch */
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Creates the eventfd and the threads. Signals are blocked in the threads, so that a worker's
 * signals always reach the thread that runs the loop. */
static int pool_start(mn_loop *loop)
{
    mn__pool *pool = &loop->pool;
    pool->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->eventfd < 0)
        return MN_EIO;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = MN__TAG_POOL};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, pool->eventfd, &ev) != 0) {
        close(pool->eventfd);
        pool->eventfd = -1;
        return MN_EIO;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < POOL_THREADS; i++) {
        if (pthread_create(&pool->threads[pool->nthreads], NULL, pool_thread, loop) != 0)
            break;
        pool->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool->nthreads ? MN_OK : MN_EIO;
}

int mn_offload(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return MN_EINVAL;
    mn_loop *loop = mn__current_loop;
    if (!loop || !loop->current) {
        fn(arg); /* off a coroutine, blocking the thread is the contract */
        return MN_OK;
    }
    mn__pool *pool = &loop->pool;
    if (!pool->nthreads) {
        int rc = pool_start(loop);
        if (rc != MN_OK)
            return rc;
    }
    mn__job job = {.fn = fn, .arg = arg, .coro = loop->current};
    pthread_mutex_lock(&pool->lock);
    if (pool->tail)
        pool->tail->next = &job;
    else
        pool->head = &job;
    pool->tail = &job;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    /* Park until the loop hands the job back; a stray wake must not return early. */
    do {
        mn_coro_park();
    } while (job.coro);
    return MN_OK;
}

void mn__pool_complete(mn_loop *loop)
{
    mn__pool *pool = &loop->pool;
    uint64_t count;
    while (read(pool->eventfd, &count, sizeof count) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&pool->lock);
    mn__job *done = pool->done;
    pool->done = NULL;
    pthread_mutex_unlock(&pool->lock);
    while (done) {
        mn__job *next = done->next;
        mn_coro *c = done->coro;
        done->coro = NULL;
        mn_coro_wake(c);
        done = next;
    }
}

void mn__pool_fini(mn_loop *loop)
{
    mn__pool *pool = &loop->pool;
    pthread_mutex_lock(&pool->lock);
    pool->quit = true;
    pool->head = pool->tail = NULL; /* queued jobs belong to coroutines about to be dropped */
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    pool->nthreads = 0;
    if (pool->eventfd >= 0)
        close(pool->eventfd);
    pool->eventfd = -1;
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
}
