/* Tests for src/rt/timer.c and mn_sleep: ordering, cancellation, recycling, deadlines far
 * beyond one turn of the wheel (driven with synthetic time), and the loop's wait timeout. */
#include <criterion/criterion.h>
#include <manouche/rt.h>
#include "rt/internal.h"

#include <stdint.h>

static int fired[32];
static int nfired;

static void note(void *arg)
{
    fired[nfired++] = (int)(intptr_t)arg;
}

static void stop_loop(void *arg)
{
    mn_loop_stop(arg);
}

Test(timer, timers_fire_in_deadline_order)
{
    nfired = 0;
    mn_loop *loop = mn_loop_new();
    mn_timer_start(loop, 30, note, (void *)3);
    mn_timer_start(loop, 10, note, (void *)1);
    mn_timer_start(loop, 20, note, (void *)2);
    mn_timer_start(loop, 0, note, (void *)0);
    mn_timer_start(loop, 40, stop_loop, loop);
    int64_t start = mn_now_ms();
    mn_loop_run(loop);
    cr_assert_geq(mn_now_ms() - start, 40);
    cr_assert_eq(nfired, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fired[i], i);
    mn_loop_free(loop);
}

Test(timer, a_stopped_timer_never_fires)
{
    nfired = 0;
    mn_loop *loop = mn_loop_new();
    mn_timer *t = mn_timer_start(loop, 10, note, (void *)7);
    mn_timer_start(loop, 5, note, (void *)1);
    mn_timer_stop(t);
    mn_timer_start(loop, 30, stop_loop, loop);
    mn_loop_run(loop);
    cr_assert_eq(nfired, 1);
    cr_assert_eq(fired[0], 1);
    mn_loop_free(loop);
}

Test(timer, pending_timers_are_freed_with_the_loop)
{
    mn_loop *loop = mn_loop_new();
    for (int i = 0; i < 100; i++)
        mn_timer_start(loop, 100000 + i, note, NULL);
    mn_loop_free(loop); /* LeakSanitizer checks the rest */
}

static void sleeper(void *arg)
{
    int ms = (int)(intptr_t)arg;
    mn_sleep(ms);
    fired[nfired++] = ms;
}

Test(timer, sleeps_wake_in_order_of_their_length)
{
    nfired = 0;
    mn_loop *loop = mn_loop_new();
    int lengths[] = {40, 10, 30, 0, 20};
    for (int i = 0; i < 5; i++)
        mn_coro_spawn(loop, sleeper, (void *)(intptr_t)lengths[i]);
    mn_loop_stop(loop);
    int64_t start = mn_now_ms();
    mn_loop_run(loop);
    int64_t took = mn_now_ms() - start;
    cr_assert_eq(nfired, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(fired[i], i * 10, "position %d woke %d", i, fired[i]);
    cr_assert_geq(took, 40);
    cr_assert_lt(took, 1000);
    mn_loop_free(loop);
}

Test(timer, sleep_off_coroutine_blocks)
{
    int64_t start = mn_now_ms();
    cr_assert_eq(mn_sleep(20), 0);
    cr_assert_geq(mn_now_ms() - start, 20);
}

static mn_coro *parked_sleeper;
static int sleep_rc = -100;

static void long_sleeper(void *arg)
{
    parked_sleeper = mn_coro_current();
    int64_t start = mn_now_ms();
    sleep_rc = mn_sleep(50);
    *(int64_t *)arg = mn_now_ms() - start;
}

static void stray_waker(void *arg)
{
    mn_coro_wake(parked_sleeper);
}

Test(timer, a_stray_wake_does_not_cut_a_sleep_short)
{
    int64_t slept = 0;
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, long_sleeper, &slept);
    mn_coro_spawn(loop, stray_waker, NULL);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(sleep_rc, 0);
    cr_assert_geq(slept, 50);
    mn_loop_free(loop);
}

/* ---- The wheel itself, with synthetic time. ---- */
static int64_t fired_at[8];
static int nwheel;

typedef struct probe {
    mn__tnode node;
    int id;
} probe;

static int64_t fake_now;

static void probe_fire(mn__tnode *node)
{
    probe *p = (probe *)node;
    fired_at[p->id] = fake_now;
    nwheel++;
}

Test(timer, wheel_handles_deadlines_beyond_one_turn)
{
    mn_loop *loop = mn_loop_new();
    mn__wheel_init(loop->wheel, 1000);
    nwheel = 0;
    probe p[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
    int64_t deadlines[4] = {1005, 1000 + MN__WHEEL_SLOTS + 7, 1000 + 3 * MN__WHEEL_SLOTS + 1,
                            1000 + 5};
    for (int i = 0; i < 4; i++) {
        p[i].node.fire = probe_fire;
        mn__timer_add(loop, &p[i].node, deadlines[i]);
    }
    mn__timer_del(loop, &p[3].node); /* same slot as p[0]: the other must stay */
    /* Slots are shared by deadlines whole turns apart, so the wait may end early, never late. */
    int64_t first_wait = mn__wheel_timeout(loop->wheel, 1000);
    cr_assert(first_wait >= 1 && first_wait <= 5, "wait %lld", (long long)first_wait);
    for (fake_now = 1001; fake_now <= 1000 + 4 * MN__WHEEL_SLOTS; fake_now += 3)
        mn__wheel_advance(loop, fake_now);
    cr_assert_eq(nwheel, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_geq(fired_at[i], deadlines[i], "timer %d fired early", i);
        cr_assert_lt(fired_at[i], deadlines[i] + 3, "timer %d fired late", i);
    }
    cr_assert_eq(mn__wheel_timeout(loop->wheel, fake_now), -1);
    mn_loop_free(loop);
}

Test(timer, wheel_catches_up_after_a_long_stall)
{
    mn_loop *loop = mn_loop_new();
    mn__wheel_init(loop->wheel, 0);
    nwheel = 0;
    probe p[2] = {{.id = 0}, {.id = 1}};
    p[0].node.fire = p[1].node.fire = probe_fire;
    mn__timer_add(loop, &p[0].node, 10);
    mn__timer_add(loop, &p[1].node, 3 * MN__WHEEL_SLOTS);
    fake_now = 2 * MN__WHEEL_SLOTS + 17; /* one jump over two whole turns */
    mn__wheel_advance(loop, fake_now);
    cr_assert_eq(nwheel, 1);
    cr_assert(mn__timer_pending(&p[1].node));
    int64_t t = mn__wheel_timeout(loop->wheel, fake_now);
    cr_assert_gt(t, 0);
    cr_assert_leq(t, (int64_t)MN__WHEEL_SLOTS);
    mn__timer_del(loop, &p[1].node);
    mn_loop_free(loop);
}

Test(timer, a_deadline_in_the_past_fires_on_the_next_pass)
{
    mn_loop *loop = mn_loop_new();
    mn__wheel_init(loop->wheel, 500);
    nwheel = 0;
    probe p = {.id = 0};
    p.node.fire = probe_fire;
    mn__timer_add(loop, &p.node, 100);
    cr_assert_leq(mn__wheel_timeout(loop->wheel, 500), 1);
    fake_now = 501;
    mn__wheel_advance(loop, fake_now);
    cr_assert_eq(nwheel, 1);
    mn_loop_free(loop);
}
