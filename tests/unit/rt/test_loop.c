/* Tests for src/rt/loop.c basics: out-of-memory paths, misuse, the cached clock, a loop
 * that only has timers, and fds watched by a callback (mn__fd_watch). */
#define _GNU_SOURCE /* pipe2 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <manouche/rt.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "rt/internal.h"

static void nothing(void *arg)
{
}

Test(loop, out_of_memory_in_new_returns_null_and_leaks_nothing)
{
    bool succeeded = false;
    for (long n = 1; n < 20 && !succeeded; n++) {
        mn_alloc_fail_after(n);
        mn_loop *loop = mn_loop_new();
        mn_alloc_fail_after(0);
        if (loop) {
            succeeded = true;
            mn_loop_free(loop);
        }
    }
    cr_assert(succeeded, "mn_loop_new never succeeded");
}

Test(loop, out_of_memory_in_timer_start_returns_null)
{
    mn_loop *loop = mn_loop_new();
    mn_alloc_fail_after(1);
    cr_assert_null(mn_timer_start(loop, 10, nothing, NULL));
    mn_alloc_fail_after(0);
    cr_assert_not_null(mn_timer_start(loop, 10, nothing, NULL));
    mn_loop_free(loop);
}

Test(loop, misuse_is_refused)
{
    cr_assert_eq(mn_loop_run(NULL), MN_EINVAL);
    cr_assert_null(mn_coro_spawn(NULL, nothing, NULL));
    mn_loop *loop = mn_loop_new();
    cr_assert_null(mn_coro_spawn(loop, NULL, NULL));
    cr_assert_null(mn_timer_start(loop, 1, NULL, NULL));
    mn_coro_park();  /* off a coroutine: returns at once */
    mn_coro_yield(); /* likewise */
    mn_coro_wake(NULL);
    cr_assert_null(mn_coro_get_local(NULL));
    mn_loop_free(loop);
    mn_loop_free(NULL);
}

Test(loop, current_loop_follows_new_and_free)
{
    cr_assert_null(mn_loop_current());
    mn_loop *loop = mn_loop_new();
    cr_assert_eq(mn_loop_current(), loop);
    mn_loop_free(loop);
    cr_assert_null(mn_loop_current());
}

static int64_t seen[2];

static void read_clock_twice(void *arg)
{
    seen[0] = mn_now_ms();
    for (volatile long i = 0; i < 3000000; i++) {
    }
    seen[1] = mn_now_ms(); /* same iteration: the cached value */
}

Test(loop, now_is_cached_within_an_iteration)
{
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, read_clock_twice, NULL);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(seen[0], seen[1]);
    cr_assert_geq(mn_now_ms(), seen[1]);
    mn_loop_free(loop);
}

static void stop_it(void *arg)
{
    mn_loop_stop(arg);
}

Test(loop, a_loop_with_only_timers_runs_until_stopped)
{
    mn_loop *loop = mn_loop_new();
    int64_t start = mn_now_ms();
    mn_timer_start(loop, 30, stop_it, loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    cr_assert_geq(mn_now_ms() - start, 30);
    mn_loop_free(loop);
}

static int edges;
static uint32_t edge_events;

static void count_edge(void *arg, uint32_t events)
{
    (void)arg;
    edges++;
    edge_events |= events;
}

Test(loop, a_watched_fd_reports_each_edge_until_unwatched)
{
    mn_loop *loop = mn_loop_new();
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    edges = 0;
    cr_assert_eq(mn__fd_watch(loop, p[0], count_edge, NULL), MN_OK);
    cr_assert_eq(mn__loop_run_once(loop, 0), MN_OK);
    cr_assert_eq(edges, 0, "nothing to read yet");
    cr_assert_eq(write(p[1], "a", 1), 1);
    cr_assert_eq(mn__loop_run_once(loop, 1000), MN_OK);
    cr_assert_eq(edges, 1);
    cr_assert(edge_events & EPOLLIN);
    cr_assert_eq(mn__loop_run_once(loop, 0), MN_OK);
    cr_assert_eq(edges, 1, "edge-triggered: unread bytes are not reported again");
    cr_assert_eq(write(p[1], "b", 1), 1);
    cr_assert_eq(mn__loop_run_once(loop, 1000), MN_OK);
    cr_assert_eq(edges, 2, "new bytes are a new edge");
    mn__fd_unwatch(loop, p[0]);
    cr_assert_eq(write(p[1], "c", 1), 1);
    cr_assert_eq(mn__loop_run_once(loop, 0), MN_OK);
    cr_assert_eq(edges, 2, "unwatched");
    cr_assert_eq(mn__fd_watch(loop, p[0], count_edge, NULL), MN_OK);
    cr_assert_eq(mn__loop_run_once(loop, 1000), MN_OK);
    cr_assert_eq(edges, 3, "a new watch reports the bytes already there");
    int fd = p[0];
    mn_sock_close(fd); /* forgets the watch: a file that gets the number starts unwatched */
    cr_assert_null(loop->fds[fd].watch);
    cr_assert_not(loop->fds[fd].registered);
    close(p[1]);
    mn_loop_free(loop);
}

static void close_on_edge(void *arg, uint32_t events)
{
    (void)events;
    edges++;
    mn_sock_close(*(int *)arg);
}

Test(loop, a_watch_callback_may_close_its_fd)
{
    mn_loop *loop = mn_loop_new();
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    edges = 0;
    cr_assert_eq(mn__fd_watch(loop, p[0], close_on_edge, &p[0]), MN_OK);
    cr_assert_eq(write(p[1], "a", 1), 1);
    cr_assert_eq(mn__loop_run_once(loop, 1000), MN_OK);
    cr_assert_eq(edges, 1);
    cr_assert_null(loop->fds[p[0]].watch);
    cr_assert_not(loop->fds[p[0]].registered);
    close(p[1]);
    mn_loop_free(loop);
}

Test(loop, a_watch_on_a_number_closed_behind_the_loops_back_still_reports)
{
    mn_loop *loop = mn_loop_new();
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    /* registered by a wait, then closed with plain close(2), as a driver does */
    cr_assert_eq(mn__fd_watch(loop, p[0], count_edge, NULL), MN_OK);
    mn__fd_get(loop, p[0])->watch = NULL;
    int old = p[0];
    close(p[0]);
    close(p[1]);
    cr_assert(loop->fds[old].registered, "the table still says registered");
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    cr_assert_eq(p[0], old, "the number is handed out again");
    edges = 0;
    cr_assert_eq(mn__fd_watch(loop, p[0], count_edge, NULL), MN_OK);
    cr_assert_eq(write(p[1], "a", 1), 1);
    cr_assert_eq(mn__loop_run_once(loop, 1000), MN_OK);
    cr_assert_eq(edges, 1, "the new file is in the epoll set");
    mn_sock_close(p[0]);
    close(p[1]);
    mn_loop_free(loop);
}

Test(loop, watching_a_bad_fd_is_refused)
{
    mn_loop *loop = mn_loop_new();
    cr_assert_eq(mn__fd_watch(loop, -1, count_edge, NULL), MN_EINVAL);
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(mn__fd_watch(loop, p[0], count_edge, NULL), MN_EINVAL, "closed fd");
    mn_loop_free(loop);
}
