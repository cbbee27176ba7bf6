/* Tests for src/rt/sock.c over real loopback sockets: echo between coroutines, deadlines,
 * big partial writes, sendfile, closing a socket someone waits on, name resolution, and the
 * same calls off a coroutine (where they block with poll). */
#include <criterion/criterion.h>
#include <manouche/rt.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct echo_test {
    mn_loop *loop;
    int listen_fd;
    int port;
    const char *connect_host;
    char reply[64];
    int client_rc;
} echo_test;

static void echo_server(void *arg)
{
    echo_test *t = arg;
    int fd = mn_sock_accept(t->listen_fd, 2000);
    cr_assert_geq(fd, 0, "accept: %s", mn_strerror(fd));
    char buf[64];
    for (;;) {
        ssize_t n = mn_sock_read(fd, buf, sizeof buf, 2000);
        cr_assert_geq(n, 0, "read: %s", mn_strerror((int)n));
        if (n == 0)
            break;
        cr_assert_eq(mn_sock_write_all(fd, buf, (size_t)n, 2000), 0);
    }
    mn_sock_close(fd);
}

static void echo_client(void *arg)
{
    echo_test *t = arg;
    int fd = mn_tcp_connect(t->connect_host, t->port, 2000);
    cr_assert_geq(fd, 0, "connect: %s", mn_strerror(fd));
    cr_assert_eq(mn_sock_write_all(fd, "hello", 5, 2000), 0);
    ssize_t n = mn_sock_read(fd, t->reply, sizeof t->reply - 1, 2000);
    cr_assert_eq(n, 5);
    t->reply[n] = 0;
    shutdown(fd, SHUT_WR);
    t->client_rc = (int)mn_sock_read(fd, t->reply + 5, 1, 2000); /* 0: server closed */
    mn_sock_close(fd);
    mn_loop_stop(t->loop);
}

static void run_echo(const char *host)
{
    echo_test t = {.loop = mn_loop_new(), .connect_host = host, .client_rc = -99};
    t.listen_fd = mn_tcp_listen("127.0.0.1", 0, 16, false);
    cr_assert_geq(t.listen_fd, 0);
    t.port = mn_sock_port(t.listen_fd);
    cr_assert_gt(t.port, 0);
    mn_coro_spawn(t.loop, echo_server, &t);
    mn_coro_spawn(t.loop, echo_client, &t);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    cr_assert_str_eq(t.reply, "hello");
    cr_assert_eq(t.client_rc, 0);
    mn_sock_close(t.listen_fd);
    mn_loop_free(t.loop);
}

Test(sock, echo_between_coroutines_over_loopback)
{
    run_echo("127.0.0.1");
}

Test(sock, connect_resolves_a_name_on_the_offload_pool)
{
    run_echo("localhost");
}

Test(sock, connect_to_unknown_name_is_not_found)
{
    cr_assert_eq(mn_tcp_connect("no-such-host.invalid", 80, 2000), MN_ENOTFOUND);
}

typedef struct deadline_test {
    int fd;
    int rc;
    int64_t elapsed;
} deadline_test;

static void read_with_deadline(void *arg)
{
    deadline_test *t = arg;
    char c;
    int64_t start = mn_now_ms();
    t->rc = (int)mn_sock_read(t->fd, &c, 1, 50);
    t->elapsed = mn_now_ms() - start;
}

Test(sock, read_deadline_gives_timedout)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    mn_loop *loop = mn_loop_new();
    deadline_test t = {.fd = sv[0]};
    mn_coro_spawn(loop, read_with_deadline, &t);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(t.rc, MN_ETIMEDOUT);
    cr_assert_geq(t.elapsed, 50);
    cr_assert_lt(t.elapsed, 500);
    mn_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

Test(sock, read_deadline_off_coroutine_blocks_with_poll)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    deadline_test t = {.fd = sv[0]};
    read_with_deadline(&t);
    cr_assert_eq(t.rc, MN_ETIMEDOUT);
    cr_assert_geq(t.elapsed, 50);
    /* With data there, the blocking path returns it. */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    char c = 0;
    cr_assert_eq(mn_sock_read(sv[0], &c, 1, 1000), 1);
    cr_assert_eq(c, 'x');
    close(sv[0]);
    close(sv[1]);
}

/* A thread writes after a delay while the main thread blocks off-coroutine. */
static void *delayed_writer(void *arg)
{
    usleep(30 * 1000);
    ssize_t w = write(*(int *)arg, "late", 4);
    (void)w;
    return NULL;
}

Test(sock, off_coroutine_read_waits_for_data)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    pthread_t th;
    pthread_create(&th, NULL, delayed_writer, &sv[1]);
    char buf[8];
    ssize_t n = mn_sock_read(sv[0], buf, sizeof buf, 2000);
    pthread_join(th, NULL);
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(buf, "late", 4), 0);
    close(sv[0]);
    close(sv[1]);
}

enum { BIG = 8 << 20 };

typedef struct big_test {
    mn_loop *loop;
    int fd[2];
    char *payload;
    size_t received;
    bool match;
    int write_rc;
} big_test;

static void big_writer(void *arg)
{
    big_test *t = arg;
    /* Three pieces, one empty, much larger than the socket buffer: many partial writes. */
    struct iovec iov[3] = {
        {t->payload, 1000}, {t->payload + 1000, 0}, {t->payload + 1000, BIG - 1000}};
    t->write_rc = mn_sock_writev_all(t->fd[0], iov, 3, 5000);
    shutdown(t->fd[0], SHUT_WR);
}

static void big_reader(void *arg)
{
    big_test *t = arg;
    char *buf = malloc(65536);
    t->match = true;
    for (;;) {
        ssize_t n = mn_sock_read(t->fd[1], buf, 65536, 5000);
        cr_assert_geq(n, 0);
        if (n == 0)
            break;
        if (memcmp(buf, t->payload + t->received, (size_t)n) != 0)
            t->match = false;
        t->received += (size_t)n;
    }
    free(buf);
}

Test(sock, writev_all_survives_partial_writes_of_a_big_payload)
{
    big_test t = {.loop = mn_loop_new()};
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t.fd), 0);
    t.payload = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        t.payload[i] = (char)(i * 7 + i / 4096);
    mn_coro_spawn(t.loop, big_writer, &t);
    mn_coro_spawn(t.loop, big_reader, &t);
    mn_loop_stop(t.loop);
    cr_assert_eq(mn_loop_run(t.loop), 0);
    cr_assert_eq(t.write_rc, 0);
    cr_assert_eq(t.received, (size_t)BIG);
    cr_assert(t.match, "bytes arrived out of order or corrupted");
    free(t.payload);
    mn_loop_free(t.loop);
    close(t.fd[0]);
    close(t.fd[1]);
}

static void stalled_writer(void *arg)
{
    big_test *t = arg;
    t->write_rc = mn_sock_write_all(t->fd[0], t->payload, BIG, 50);
}

Test(sock, write_all_deadline_when_the_peer_does_not_read)
{
    big_test t = {.loop = mn_loop_new()};
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t.fd), 0);
    t.payload = calloc(1, BIG);
    mn_coro_spawn(t.loop, stalled_writer, &t);
    mn_loop_stop(t.loop);
    mn_loop_run(t.loop);
    cr_assert_eq(t.write_rc, MN_ETIMEDOUT);
    free(t.payload);
    mn_loop_free(t.loop);
    close(t.fd[0]);
    close(t.fd[1]);
}

static void sendfile_writer(void *arg)
{
    big_test *t = arg;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(t->payload, 1, BIG, f), (size_t)BIG);
    fflush(f);
    t->write_rc = mn_sock_sendfile(t->fd[0], fileno(f), 1000, BIG - 1000, 5000);
    fclose(f);
    shutdown(t->fd[0], SHUT_WR);
}

static void sendfile_reader(void *arg)
{
    big_test *t = arg;
    t->received = 1000; /* compare against the payload from the offset on */
    big_reader(arg);
    t->received -= 1000;
}

Test(sock, sendfile_sends_a_file_range)
{
    big_test t = {.loop = mn_loop_new()};
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t.fd), 0);
    t.payload = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        t.payload[i] = (char)(i * 13 + i / 1000);
    mn_coro_spawn(t.loop, sendfile_writer, &t);
    mn_coro_spawn(t.loop, sendfile_reader, &t);
    mn_loop_stop(t.loop);
    mn_loop_run(t.loop);
    cr_assert_eq(t.write_rc, 0);
    cr_assert_eq(t.received, (size_t)BIG - 1000);
    cr_assert(t.match);
    free(t.payload);
    mn_loop_free(t.loop);
    close(t.fd[0]);
    close(t.fd[1]);
}

static void closer(void *arg)
{
    mn_sleep(20);
    mn_sock_close(*(int *)arg);
}

static void blocked_reader(void *arg)
{
    deadline_test *t = arg;
    char c;
    t->rc = (int)mn_sock_read(t->fd, &c, 1, 5000);
}

Test(sock, closing_a_socket_wakes_its_reader)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    mn_loop *loop = mn_loop_new();
    deadline_test t = {.fd = sv[0]};
    mn_coro_spawn(loop, blocked_reader, &t);
    mn_coro_spawn(loop, closer, &sv[0]);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_eq(t.rc, MN_ECANCELED);
    mn_loop_free(loop);
    close(sv[1]);
}

static void refused_client(void *arg)
{
    *(int *)arg = mn_tcp_connect("127.0.0.1", *(int *)arg, 2000);
}

Test(sock, connect_to_a_closed_port_fails)
{
    int fd = mn_tcp_listen("127.0.0.1", 0, 1, false);
    int port = mn_sock_port(fd);
    mn_sock_close(fd);
    mn_loop *loop = mn_loop_new();
    int rc = port;
    mn_coro_spawn(loop, refused_client, &rc);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    cr_assert_lt(rc, 0);
    cr_assert_neq(rc, MN_ETIMEDOUT);
    mn_loop_free(loop);
}

Test(sock, listen_rejects_a_bad_port)
{
    cr_assert_eq(mn_tcp_listen("127.0.0.1", 70000, 1, false), MN_EINVAL);
    cr_assert_eq(mn_tcp_connect("127.0.0.1", 0, 100), MN_EINVAL);
}

Test(sock, reuseport_lets_two_sockets_share_a_port)
{
    int a = mn_tcp_listen("127.0.0.1", 0, 8, true);
    cr_assert_geq(a, 0);
    int b = mn_tcp_listen("127.0.0.1", mn_sock_port(a), 8, true);
    cr_assert_geq(b, 0);
    cr_assert_eq(mn_sock_port(a), mn_sock_port(b));
    mn_sock_close(a);
    mn_sock_close(b);
}
