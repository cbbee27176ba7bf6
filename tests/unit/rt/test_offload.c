/* Tests for src/rt/offload.c: work runs on a pool thread while the loop keeps running other
 * coroutines, results come back to the caller, many offloads at once, and off a coroutine
 * the work simply runs inline. */
#include <criterion/criterion.h>
#include <manouche/rt.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

typedef struct job {
    pthread_t ran_on;
    int input, output;
    int sleep_ms;
    atomic_int started; /* set by the pool thread as the work begins */
} job;

static void work(void *arg)
{
    job *j = arg;
    j->ran_on = pthread_self();
    atomic_store(&j->started, 1);
    if (j->sleep_ms)
        usleep((useconds_t)j->sleep_ms * 1000);
    j->output = j->input * 2;
}

static int ticks;

static void ticker(void *arg)
{
    for (int i = 0; i < 10; i++) {
        mn_sleep(5);
        ticks++;
    }
}

static void offloader(void *arg)
{
    job *j = arg;
    cr_assert_eq(mn_offload(work, j), 0);
}

Test(offload, runs_on_another_thread_while_the_loop_goes_on)
{
    ticks = 0;
    mn_loop *loop = mn_loop_new();
    job j = {.input = 21, .sleep_ms = 120};
    mn_coro_spawn(loop, offloader, &j);
    mn_coro_spawn(loop, ticker, NULL);
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    cr_assert_eq(j.output, 42);
    cr_assert(!pthread_equal(j.ran_on, pthread_self()), "the work ran on the loop's thread");
    cr_assert_eq(ticks, 10, "the loop was blocked while the work ran");
    mn_loop_free(loop);
}

Test(offload, many_offloads_all_come_back)
{
    mn_loop *loop = mn_loop_new();
    job jobs[200];
    for (int i = 0; i < 200; i++) {
        jobs[i] = (job){.input = i, .sleep_ms = i % 7 == 0 ? 2 : 0};
        mn_coro_spawn(loop, offloader, &jobs[i]);
    }
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(jobs[i].output, 2 * i);
    mn_loop_free(loop);
}

Test(offload, off_coroutine_runs_inline)
{
    job j = {.input = 5};
    cr_assert_eq(mn_offload(work, &j), 0);
    cr_assert_eq(j.output, 10);
    cr_assert(pthread_equal(j.ran_on, pthread_self()));
    cr_assert_eq(mn_offload(NULL, NULL), MN_EINVAL);
}

static void offload_forever(void *arg)
{
    job *j = arg;
    mn_offload(work, j);
    cr_assert_fail("abandoned with the loop, must not resume");
}

Test(offload, freeing_the_loop_waits_for_running_work)
{
    /* The job lives on the coroutine's stack: the pool must be joined before it goes away. */
    mn_loop *loop = mn_loop_new();
    job j = {.input = 1, .sleep_ms = 50};
    mn_coro_spawn(loop, offload_forever, &j);
    extern int mn__loop_run_once(mn_loop * loop, int64_t max_wait_ms);
    mn__loop_run_once(loop, 0);
    /* wait until a pool thread has taken the job (a fixed sleep lost that race on a loaded
     * machine: a job still queued is dropped with the loop, by design) */
    for (int waited = 0; !atomic_load(&j.started) && waited < 10000; waited++)
        usleep(1000);
    cr_assert(atomic_load(&j.started), "no pool thread took the job within 10 s");
    mn_loop_free(loop);
    cr_assert_eq(j.output, 2);
}
