/* Tests for mn_wait_fd: readiness that was there before the wait, deadlines, one waiter per
 * direction, fd numbers closed and reused behind the loop's back, and the blocking path. */
#include <criterion/criterion.h>
#include <manouche/rt.h>

#include <sys/socket.h>
#include <unistd.h>

typedef struct wait_test {
    int fd;
    int rc, rc2;
} wait_test;

static void wait_read(void *arg)
{
    wait_test *t = arg;
    t->rc = mn_wait_fd(t->fd, MN_READ, 1000);
}

static void drain_then_wait_again(void *arg)
{
    wait_test *t = arg;
    /* The first wait consumes the edge; the data stays unread, so a second wait must still
     * see the fd as readable (a level the caller has not drained). */
    t->rc = mn_wait_fd(t->fd, MN_READ, 1000);
    t->rc2 = mn_wait_fd(t->fd, MN_READ, 100);
}

static void run1(mn_coro_fn fn, void *arg)
{
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, fn, arg);
    mn_loop_stop(loop);
    cr_assert_eq(mn_loop_run(loop), 0);
    mn_loop_free(loop);
}

Test(wait, data_present_before_the_wait_is_seen)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    wait_test t = {.fd = sv[0], .rc = -99, .rc2 = -99};
    run1(drain_then_wait_again, &t);
    cr_assert_eq(t.rc, 0);
    cr_assert_eq(t.rc2, 0, "an undrained fd must stay ready: %s", mn_strerror(t.rc2));
    close(sv[0]);
    close(sv[1]);
}

static void wait_short(void *arg)
{
    wait_test *t = arg;
    t->rc = mn_wait_fd(t->fd, MN_READ, 30);
}

Test(wait, deadline_passes_without_data)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    wait_test t = {.fd = sv[0]};
    run1(wait_short, &t);
    cr_assert_eq(t.rc, MN_ETIMEDOUT);
    /* Writable at once. */
    cr_assert_eq(mn_wait_fd(sv[0], MN_WRITE, 0), 0);
    close(sv[0]);
    close(sv[1]);
}

static void second_waiter(void *arg)
{
    wait_test *t = arg;
    t->rc2 = mn_wait_fd(t->fd, MN_READ, 1000);
}

static void feeder(void *arg)
{
    int fd = *(int *)arg;
    mn_sleep(20);
    ssize_t w = write(fd, "y", 1);
    (void)w;
}

Test(wait, one_reader_per_fd_at_a_time)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    wait_test t = {.fd = sv[0], .rc = -99, .rc2 = -99};
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, wait_read, &t);
    mn_coro_spawn(loop, second_waiter, &t);
    mn_coro_spawn(loop, feeder, &sv[1]);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(t.rc, 0);
    cr_assert_eq(t.rc2, MN_EINVAL);
    mn_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

static void reuse_number(void *arg)
{
    wait_test *t = arg;
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(mn_wait_fd(sv[0], MN_READ, 10), MN_ETIMEDOUT); /* now registered */
    int old = sv[0];
    close(sv[0]); /* plain close: the loop is not told */
    close(sv[1]);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(sv[0], old, "the kernel should hand out the lowest free number again");
    cr_assert_eq(write(sv[1], "z", 1), 1);
    t->rc = mn_wait_fd(sv[0], MN_READ, 1000);
    close(sv[0]);
    close(sv[1]);
}

Test(wait, a_reused_fd_number_is_registered_again)
{
    wait_test t = {.rc = -99};
    run1(reuse_number, &t);
    cr_assert_eq(t.rc, 0, "%s", mn_strerror(t.rc));
}

Test(wait, bad_arguments)
{
    cr_assert_eq(mn_wait_fd(-1, MN_READ, 0), MN_EINVAL);
    cr_assert_eq(mn_wait_fd(0, 0, 0), MN_EINVAL);
}

Test(wait, off_coroutine_waits_with_poll)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int64_t start = mn_now_ms();
    cr_assert_eq(mn_wait_fd(sv[0], MN_READ, 30), MN_ETIMEDOUT);
    cr_assert_geq(mn_now_ms() - start, 30);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(mn_wait_fd(sv[0], MN_READ, 1000), 0);
    close(sv[0]);
    close(sv[1]);
}
