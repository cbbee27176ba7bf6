/* pool.c — the per-worker connection pool (see pool.h).
 *
 * The idea: waiting is a FIFO queue of waiter records that live on the parked coroutines'
 * own stacks, so waiting costs no allocation. Whoever frees something hands it directly to
 * the head of the queue (a connection, or the right to open one when a broken connection was
 * dropped) and wakes it; a timer per waiter unlinks it and wakes it with MN_ETIMEDOUT. A
 * hand-off can never race a later arrival, so the longest waiter is always served first. */
#include "pool.h"

#include <manouche/rt.h>

#include <stdio.h>

typedef enum waiter_state {
    WAITING,
    GOT_ITEM, /* a released connection was handed over */
    GOT_SLOT, /* a slot was freed: open a new connection in it */
    TIMED_OUT,
} waiter_state;

typedef struct waiter {
    struct waiter *next, *prev;
    mn__pool *pool;
    mn_coro *coro;
    mn_timer *timer;
    mn__pool_item *item;
    waiter_state state;
} waiter;

struct mn__pool {
    const mn__pool_ops *ops;
    void *ctx;
    int size; /* most connections at once */
    int open; /* connections in existence, plus slots reserved for opening */
    int nidle;
    mn__pool_item *idle; /* LIFO: the most recently used connection is the warmest */
    waiter *head, *tail; /* FIFO of parked acquirers */
    int nwaiting;
    uint64_t timeouts, reconnects;
};

mn__pool *mn__pool_new(const mn__pool_ops *ops, void *ctx, int size)
{
    mn__pool *p = mn_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ops = ops;
    p->ctx = ctx;
    p->size = size > 0 ? size : 1;
    return p;
}

void mn__pool_free(mn__pool *p)
{
    if (!p)
        return;
    while (p->idle) {
        mn__pool_item *it = p->idle;
        p->idle = it->next;
        p->ops->close(p->ctx, it);
    }
    mn_free(p);
}

static void unlink_waiter(mn__pool *p, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->tail = w->prev;
    w->next = w->prev = NULL;
    p->nwaiting--;
}

static void on_wait_timeout(void *arg)
{
    waiter *w = arg;
    w->timer = NULL; /* a fired timer is gone */
    if (w->state != WAITING)
        return;
    unlink_waiter(w->pool, w);
    w->state = TIMED_OUT;
    w->pool->timeouts++;
    mn_coro_wake(w->coro);
}

/* Hands an item (or, with item NULL, a reserved slot) to the longest waiter. False if none. */
static bool hand_over(mn__pool *p, mn__pool_item *item)
{
    waiter *w = p->head;
    if (!w)
        return false;
    unlink_waiter(p, w);
    if (w->timer) {
        mn_timer_stop(w->timer);
        w->timer = NULL;
    }
    w->item = item;
    w->state = item ? GOT_ITEM : GOT_SLOT;
    mn_coro_wake(w->coro);
    return true;
}

/* Gives up a slot: to a waiter, who will connect in it, or back to the pool. */
static void free_slot(mn__pool *p)
{
    if (!hand_over(p, NULL))
        p->open--;
}

/* Opens a connection in a slot the caller already holds (counted in p->open). */
static int open_in_slot(mn__pool *p, mn__pool_item **out, char *err, size_t errlen)
{
    int rc = p->ops->open(p->ctx, out, err, errlen);
    if (rc != MN_OK) {
        *out = NULL;
        free_slot(p);
    }
    return rc;
}

/* Parks until something is handed over or the timeout passes. */
static int wait_turn(mn__pool *p, int64_t timeout_ms, mn__pool_item **out, char *err, size_t errlen)
{
    waiter w = {.pool = p, .coro = mn_coro_current(), .state = WAITING, .prev = p->tail};
    if (timeout_ms >= 0) {
        w.timer = mn_timer_start(mn_loop_current(), timeout_ms, on_wait_timeout, &w);
        if (!w.timer)
            return MN_ENOMEM;
    }
    /* The record lives on this coroutine's stack; every way out of the wait below unlinks
     * it first (hand_over, on_wait_timeout), so the queue never points at a dead frame. */
    if (p->tail)
        p->tail->next = &w;
    else
        p->head = &w; /* cppcheck-suppress autoVariables */
    p->tail = &w;     /* cppcheck-suppress autoVariables */
    p->nwaiting++;

    while (w.state == WAITING)
        mn_coro_park();

    switch (w.state) {
    case GOT_ITEM: *out = w.item; return MN_OK;
    case GOT_SLOT: p->reconnects++; return open_in_slot(p, out, err, errlen);
    default:
        if (err && errlen)
            snprintf(err, errlen,
                     "no database connection became free within %lld ms (all %d in use)",
                     (long long)timeout_ms, p->size);
        return MN_ETIMEDOUT;
    }
}

int mn__pool_acquire(mn__pool *p, int64_t timeout_ms, mn__pool_item **out, char *err, size_t errlen)
{
    *out = NULL;
    /* Newcomers queue behind existing waiters even if a connection is idle at this instant
     * (it is already promised to them). */
    if (p->idle && !p->head) {
        mn__pool_item *it = p->idle;
        p->idle = it->next;
        p->nidle--;
        it->next = NULL;
        if (p->ops->alive(p->ctx, it)) {
            *out = it;
            return MN_OK;
        }
        /* Died while idle (server restarted): drop it and reuse its slot right away. */
        p->ops->close(p->ctx, it);
        p->reconnects++;
        return open_in_slot(p, out, err, errlen);
    }
    if (p->open < p->size && !p->head) {
        p->open++;
        return open_in_slot(p, out, err, errlen);
    }
    if (!mn_coro_current()) {
        if (err && errlen)
            snprintf(err, errlen, "all %d database connections are in use", p->size);
        return MN_ETIMEDOUT;
    }
    return wait_turn(p, timeout_ms, out, err, errlen);
}

void mn__pool_release(mn__pool *p, mn__pool_item *item, bool broken)
{
    if (!item)
        return;
    item->next = NULL;
    if (broken) {
        p->ops->close(p->ctx, item);
        free_slot(p);
        return;
    }
    if (hand_over(p, item))
        return;
    item->next = p->idle;
    p->idle = item;
    p->nidle++;
}

void mn__pool_stats_get(const mn__pool *p, mn__pool_stats *out)
{
    *out = (mn__pool_stats){.size = p->size,
                            .open = p->open,
                            .idle = p->nidle,
                            .waiting = p->nwaiting,
                            .timeouts = p->timeouts,
                            .reconnects = p->reconnects};
}
