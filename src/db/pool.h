/* pool.h — a per-worker pool of network connections (PostgreSQL today), private to src/db.
 *
 * At most `size` connections exist at once. A coroutine that finds none free parks in FIFO
 * order until one is released or its wait times out (MN_ETIMEDOUT: the web layer answers 503
 * rather than hang). A released connection goes straight to the longest waiter. A connection
 * that is broken (server gone, restarted) is closed on release or found dead on acquire, and
 * its slot is used to connect afresh, so requests succeed again once the server is back.
 * Single-threaded: one pool per worker, used only from that worker's loop thread. */
#ifndef MN_DB_POOL_H
#define MN_DB_POOL_H

#include <manouche/core.h>

/* Embedded in each pooled connection; the pool links idle connections through it. */
typedef struct mn__pool_item {
    struct mn__pool_item *next;
} mn__pool_item;

typedef struct mn__pool_ops {
    /* Makes a new connection (may park). 0, or a negative code with a reason in err. */
    int (*open)(void *ctx, mn__pool_item **out, char *err, size_t errlen);
    void (*close)(void *ctx, mn__pool_item *item);
    /* Cheap, non-parking check that an idle connection can be handed out. */
    bool (*alive)(void *ctx, mn__pool_item *item);
} mn__pool_ops;

typedef struct mn__pool mn__pool;

mn__pool *mn__pool_new(const mn__pool_ops *ops, void *ctx, int size);
/* Closes the idle connections and frees the pool; every connection must have been released. */
void mn__pool_free(mn__pool *pool);
/* Borrows a connection: an idle one, a new one if there is room, else waits up to timeout_ms
 * (< 0: no limit). 0; MN_ETIMEDOUT; or open()'s error, with the reason in err. Off a
 * coroutine nothing else can release a connection, so a full pool fails at once. */
int mn__pool_acquire(mn__pool *pool, int64_t timeout_ms, mn__pool_item **out, char *err,
                     size_t errlen) MN_MAY_YIELD;
/* Gives a connection back; broken ones are closed and their slot handed on. */
void mn__pool_release(mn__pool *pool, mn__pool_item *item, bool broken);

/* Counters for tests and the DEBUG page. */
typedef struct mn__pool_stats {
    int size, open, idle, waiting;
    uint64_t timeouts, reconnects;
} mn__pool_stats;
void mn__pool_stats_get(const mn__pool *pool, mn__pool_stats *out);

#endif
