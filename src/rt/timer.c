/* timer.c — every deadline in a worker (header read, keep-alive idle, query timeout, sleep) is a
 * node in one hashed timing wheel with 1 ms slots.
 *
 * The idea: a node goes into the slot of its deadline modulo the wheel size, in a doubly linked
 * list, so start and stop are O(1) whatever the number of timers. Each loop iteration walks the
 * slots for the milliseconds that passed and fires the nodes whose deadline has come (a node
 * further than one revolution away simply stays in its slot). A bitmap of non-empty slots finds
 * the nearest slot for the epoll_wait timeout in a few word scans. Nodes embed in the waiting
 * frame, so internal waits allocate nothing; public mn_timer objects are recycled per loop. */
#include "rt/internal.h"

#include <string.h>

struct mn_timer {
    mn__tnode node;
    mn_loop *loop;
    void (*cb)(void *arg);
    void *arg;
    struct mn_timer *next_free;
};

void mn__wheel_init(mn__wheel *w, int64_t now)
{
    for (size_t i = 0; i < MN__WHEEL_SLOTS; i++)
        w->slots[i].next = w->slots[i].prev = &w->slots[i];
    memset(w->busy, 0, sizeof w->busy);
    w->processed = now;
    w->count = 0;
}

void mn__timer_add(mn_loop *loop, mn__tnode *node, int64_t deadline)
{
    mn__wheel *w = loop->wheel;
    /* A deadline in a millisecond already walked goes to the next one to be walked. */
    if (deadline <= w->processed)
        deadline = w->processed + 1;
    node->deadline = deadline;
    size_t slot = (size_t)deadline & MN__WHEEL_MASK;
    mn__tnode *head = &w->slots[slot];
    node->next = head;
    node->prev = head->prev;
    head->prev->next = node;
    head->prev = node;
    w->busy[slot / 64] |= (uint64_t)1 << (slot % 64);
    w->count++;
}

void mn__timer_del(mn_loop *loop, mn__tnode *node)
{
    if (!node->prev)
        return;
    mn__wheel *w = loop->wheel;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    mn__tnode *after = node->next;
    node->next = node->prev = NULL;
    w->count--;
    /* Only a list that became empty clears its bit: its head is then the neighbour. */
    if (after->next == after) {
        size_t slot = (size_t)(after - w->slots);
        if (slot < MN__WHEEL_SLOTS)
            w->busy[slot / 64] &= ~((uint64_t)1 << (slot % 64));
    }
}

/* Fires the due nodes of one slot. Callbacks may add and remove timers, including in this
 * slot, so due nodes are first moved to a private list. */
static void fire_slot(mn_loop *loop, size_t slot, int64_t now)
{
    mn__wheel *w = loop->wheel;
    mn__tnode *head = &w->slots[slot];
    mn__tnode due = {.next = &due, .prev = &due};
    for (mn__tnode *n = head->next; n != head;) {
        mn__tnode *next = n->next;
        if (n->deadline <= now) {
            mn__timer_del(loop, n);
            n->next = &due;
            n->prev = due.prev;
            due.prev->next = n;
            due.prev = n;
        }
        n = next;
    }
    while (due.next != &due) {
        mn__tnode *n = due.next;
        due.next = n->next;
        n->next->prev = &due;
        n->next = n->prev = NULL;
        n->fire(n);
    }
}

void mn__wheel_advance(mn_loop *loop, int64_t now)
{
    mn__wheel *w = loop->wheel;
    if (now <= w->processed)
        return;
    int64_t from = w->processed + 1;
    /* After a long stall every slot is due once; walking more would repeat them. */
    if (now - from >= (int64_t)MN__WHEEL_SLOTS)
        from = now - (int64_t)MN__WHEEL_SLOTS + 1;
    w->processed = now;
    for (int64_t t = from; t <= now && w->count; t++) {
        size_t slot = (size_t)t & MN__WHEEL_MASK;
        if (w->busy[slot / 64] & ((uint64_t)1 << (slot % 64)))
            fire_slot(loop, slot, now);
    }
}

int64_t mn__wheel_timeout(const mn__wheel *w, int64_t now)
{
    if (!w->count)
        return -1;
    /* Scan the bitmap circularly from the first slot not yet walked. */
    size_t pos = (size_t)(w->processed + 1) & MN__WHEEL_MASK;
    for (size_t scanned = 0; scanned < MN__WHEEL_SLOTS + 64;) {
        size_t bit = pos % 64;
        uint64_t bits = w->busy[pos / 64] >> bit;
        if (bits) {
            int64_t at = w->processed + 1 + (int64_t)(scanned + (size_t)__builtin_ctzll(bits));
            return at > now ? at - now : 0;
        }
        scanned += 64 - bit;
        pos = (pos + 64 - bit) & MN__WHEEL_MASK;
    }
    return (int64_t)MN__WHEEL_SLOTS;
}

static void public_fire(mn__tnode *node)
{
    struct mn_timer *t = (struct mn_timer *)node;
    mn_loop *loop = t->loop;
    void (*cb)(void *) = t->cb;
    void *arg = t->arg;
    t->next_free = loop->free_timers;
    loop->free_timers = t;
    cb(arg);
}

mn_timer *mn_timer_start(mn_loop *loop, int64_t delay_ms, void (*cb)(void *arg), void *arg)
{
    if (!loop || !cb)
        return NULL;
    struct mn_timer *t = loop->free_timers;
    if (t) {
        loop->free_timers = t->next_free;
    } else {
        t = mn_malloc(sizeof *t);
        if (!t)
            return NULL;
    }
    memset(t, 0, sizeof *t);
    t->loop = loop;
    t->cb = cb;
    t->arg = arg;
    t->node.fire = public_fire;
    /* Before the loop runs, its cached time may be old: count from the real clock. */
    int64_t base = loop->running ? loop->now : mn__clock_ms();
    mn__timer_add(loop, &t->node, base + (delay_ms > 0 ? delay_ms : 0));
    return t;
}

void mn_timer_stop(mn_timer *t)
{
    if (!t || !mn__timer_pending(&t->node))
        return;
    mn_loop *loop = t->loop;
    mn__timer_del(loop, &t->node);
    t->next_free = loop->free_timers;
    loop->free_timers = t;
}

void mn__timers_free(mn_loop *loop)
{
    mn__wheel *w = loop->wheel;
    if (w) {
        /* Public timers still pending belong to the loop; internal nodes live on stacks. */
        for (size_t i = 0; i < MN__WHEEL_SLOTS; i++) {
            mn__tnode *head = &w->slots[i];
            for (mn__tnode *n = head->next; n != head;) {
                mn__tnode *next = n->next;
                n->next = n->prev = NULL;
                if (n->fire == public_fire)
                    mn_free(n);
                n = next;
            }
        }
    }
    while (loop->free_timers) {
        struct mn_timer *t = loop->free_timers;
        loop->free_timers = t->next_free;
        mn_free(t);
    }
    mn_free(w);
    loop->wheel = NULL;
}
