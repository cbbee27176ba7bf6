/* Tests for src/rt/coro.c and the loop's scheduling: spawn, switch, yield, park/wake, locals,
 * stack reuse, and freeing a loop that still has parked coroutines. test_coro_ucontext.c runs
 * this same file against the ucontext(3) switch. */
#include <criterion/criterion.h>
#include <manouche/rt.h>
#include "rt/internal.h"
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifndef CORO_SUITE
#define CORO_SUITE coro
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

static int order[64];
static int norder;

static void record(void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
}

Test(CORO_SUITE, spawned_coroutines_run_in_order_when_the_loop_runs)
{
    norder = 0;
    mn_loop *loop = mn_loop_new();
    cr_assert_not_null(loop);
    for (int i = 0; i < 5; i++)
        cr_assert_not_null(mn_coro_spawn(loop, record, (void *)(intptr_t)i));
    cr_assert_eq(norder, 0, "a coroutine must not run before the loop does");
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    cr_assert_eq(norder, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(order[i], i);
    mn_loop_free(loop);
}

static void yielder(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        order[norder++] = id * 10 + i;
        mn_coro_yield();
    }
}

Test(CORO_SUITE, yield_interleaves_ready_coroutines)
{
    norder = 0;
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, yielder, (void *)1);
    mn_coro_spawn(loop, yielder, (void *)2);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    int expect[] = {10, 20, 11, 21, 12, 22};
    cr_assert_eq(norder, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(order[i], expect[i], "step %d: %d", i, order[i]);
    mn_loop_free(loop);
}

static mn_coro *parked;
static int park_steps;

static void parker(void *arg)
{
    parked = mn_coro_current();
    cr_assert_not_null(parked);
    park_steps = 1;
    mn_coro_park();
    park_steps = 2;
}

static void waker(void *arg)
{
    cr_assert_eq(park_steps, 1);
    mn_coro_yield(); /* the parked one must stay parked across iterations */
    cr_assert_eq(park_steps, 1);
    mn_coro_wake(parked);
    mn_coro_wake(parked); /* a second wake of a ready coroutine is harmless */
}

Test(CORO_SUITE, park_suspends_until_wake)
{
    park_steps = 0;
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, parker, NULL);
    mn_coro_spawn(loop, waker, NULL);
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    cr_assert_eq(park_steps, 2);
    mn_loop_free(loop);
}

static void check_local(void *arg)
{
    mn_coro *self = mn_coro_current();
    mn_coro_set_local(self, arg);
    mn_coro_yield();
    cr_assert_eq(mn_coro_get_local(self), arg);
    cr_assert_eq(mn_loop_current(), mn_loop_current());
}

Test(CORO_SUITE, locals_are_per_coroutine)
{
    mn_loop *loop = mn_loop_new();
    static int a, b;
    mn_coro_spawn(loop, check_local, &a);
    mn_coro_spawn(loop, check_local, &b);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_null(mn_coro_current(), "no coroutine runs outside the loop");
    mn_loop_free(loop);
}

static long total;

/* Under ASan every fresh stack also faults in its shadow memory, which on a shared VM costs
 * seconds for 10,000; the plain build proves the 10,000, the sanitizer build the mechanics. */
#if defined(__SANITIZE_ADDRESS__) || defined(MN_SANITIZE)
#define MANY 2000
#else
#define MANY 10000
#endif

static void deep_work(void *arg)
{
    /* Keeps state on its own stack across a switch. */
    volatile char buf[1024];
    memset((char *)buf, (int)(intptr_t)arg & 0x7f, sizeof buf);
    mn_coro_yield();
    long sum = 0;
    for (size_t i = 0; i < sizeof buf; i += 512)
        sum += buf[i];
    total += sum;
}

Test(CORO_SUITE, ten_thousand_coroutines_with_their_own_stacks)
{
    total = 0;
    mn_loop *loop = mn_loop_new();
    long expect = 0;
    for (int i = 0; i < MANY; i++) {
        cr_assert_not_null(mn_coro_spawn(loop, deep_work, (void *)(intptr_t)i));
        expect += (long)(i & 0x7f) * (1024 / 512);
    }
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    cr_assert_eq(total, expect);
    mn_loop_free(loop);
}

static mn_coro *seen[4];

static void remember_self(void *arg)
{
    seen[(intptr_t)arg] = mn_coro_current();
}

Test(CORO_SUITE, finished_stacks_are_reused)
{
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, remember_self, (void *)0);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    mn_coro_spawn(loop, remember_self, (void *)1);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(seen[0], seen[1], "the second coroutine should get the pooled mapping");
    mn_loop_free(loop);
}

static void park_forever(void *arg)
{
    char *p = mn_malloc(1); /* stays with the coroutine; freed below via the arg */
    *(char **)arg = p;
    mn_coro_park();
    cr_assert_fail("an abandoned coroutine must not be resumed");
}

Test(CORO_SUITE, freeing_the_loop_drops_parked_coroutines)
{
    mn_loop *loop = mn_loop_new();
    char *owned[3] = {0};
    for (int i = 0; i < 3; i++)
        mn_coro_spawn(loop, park_forever, &owned[i]);
    cr_assert_eq(mn__loop_run_once(loop, 0), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_not_null(owned[i], "coroutine %d did not run", i);
    mn_coro_spawn(loop, record, (void *)0); /* one that never ran at all */
    mn_loop_free(loop);                     /* LeakSanitizer checks that every mapping went back */
    for (int i = 0; i < 3; i++)
        mn_free(owned[i]);
}

static long switches;

static void ping(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        mn_coro_yield();
        switches++;
    }
}

Test(CORO_SUITE, switch_cost_is_reported)
{
    mn_loop *loop = mn_loop_new();
#ifdef MN_CORO_UCONTEXT
    long n = 20000; /* swapcontext makes two syscalls per switch */
#else
    long n = 200000;
#endif
    switches = 0;
    mn_coro_spawn(loop, ping, (void *)(intptr_t)n);
    mn_loop_stop(loop);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mn_loop_run(loop);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(switches, n);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
    /* A yield is two switches (to the loop and back) plus a pass of the loop. */
    fprintf(stderr, "[" STR(CORO_SUITE) "] %.1f ns per yield (two switches and a loop pass)\n",
            ns / (double)n);
    mn_loop_free(loop);
}

static void big_frame(void *arg)
{
    /* 200 KiB of locals: needs a bigger stack than the default. */
    volatile char buf[200 * 1024];
    buf[0] = 1;
    buf[sizeof buf - 1] = 2;
    *(int *)arg = buf[0] + buf[sizeof buf - 1];
}

Test(CORO_SUITE, stack_size_is_a_setting)
{
    mn_loop *loop = mn_loop_new();
    mn_loop_set_stack_size(loop, 256 * 1024);
    int result = 0;
    mn_coro_spawn(loop, big_frame, &result);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(result, 3);
    mn_loop_free(loop);
}

/* Unbounded recursion with 1 KiB frames, each touched: it walks into the guard page. */
static volatile int depth_limit = 1 << 30; /* opaque to the compiler: not provably infinite */

static int recurse(int depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    return depth < depth_limit ? recurse(depth + 1) + frame[0] : 0;
}

static void overflow(void *arg)
{
    *(int *)arg = recurse(0);
}

/* Under ASan the overflow is reported and the process exits instead of taking the signal. */
#if defined(__SANITIZE_ADDRESS__) || defined(MN_SANITIZE)
#define OVERFLOW_TEST_DISABLED 1
#else
#define OVERFLOW_TEST_DISABLED 0
#endif

Test(CORO_SUITE, stack_overflow_hits_the_guard_page, .signal = SIGSEGV,
     .disabled = OVERFLOW_TEST_DISABLED)
{
    mn_loop *loop = mn_loop_new();
    int result = 0;
    mn_coro_spawn(loop, overflow, &result);
    mn_loop_stop(loop);
    mn_loop_run(loop);
}
