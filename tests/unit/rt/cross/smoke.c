/* A dependency-free smoke test of the runtime for other architectures, built with a cross
 * compiler and run under qemu-user by run.sh (CI does not run it; Criterion is not there).
 * It covers what the context switch can break: ordering across yields, stack contents and
 * callee-saved floating-point registers kept across switches, sockets, offload and sleep. */
#include "rt/internal.h"
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int fails;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #c);                                     \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)
static int order[16], norder;
static void yielder(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        order[norder++] = id * 10 + i;
        mn_coro_yield();
    }
}
static long total;
static void deep(void *arg)
{
    volatile char buf[2048];
    memset((char *)buf, (int)(intptr_t)arg & 0x7f, sizeof buf);
    volatile double d = (double)(intptr_t)arg * 1.5;
    mn_coro_yield();
    long s = 0;
    for (size_t i = 0; i < sizeof buf; i += 256)
        s += buf[i];
    total += s;
    if (d != (double)(intptr_t)arg * 1.5)
        fails++;
}
static double fp_keep(double x)
{
    double a = x * 3.0;
    mn_coro_yield();
    return a;
}
static void fp_coro(void *arg)
{
    double r = fp_keep(*(double *)arg);
    *(double *)arg = r;
}
static int sv[2];
static void echo_srv(void *arg)
{
    char b[8];
    ssize_t n = mn_sock_read(sv[0], b, sizeof b, 1000);
    mn_sock_write_all(sv[0], b, (size_t)n, 1000);
}
static char got[8];
static void echo_cli(void *arg)
{
    mn_sock_write_all(sv[1], "ping", 4, 1000);
    mn_sock_read(sv[1], got, 4, 1000);
}
static void dbl(void *arg)
{
    *(int *)arg *= 2;
}
static int off_val = 21;
static void offl(void *arg)
{
    mn_offload(dbl, &off_val);
}
static int slept[3], nslept;
static void sl(void *arg)
{
    mn_sleep((int)(intptr_t)arg);
    slept[nslept++] = (int)(intptr_t)arg;
}
int main(void)
{
    mn_loop *loop = mn_loop_new();
    mn_coro_spawn(loop, yielder, (void *)1);
    mn_coro_spawn(loop, yielder, (void *)2);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    int expect[] = {10, 20, 11, 21, 12, 22};
    CHECK(norder == 6);
    for (int i = 0; i < 6; i++)
        CHECK(order[i] == expect[i]);
    long ex = 0;
    for (int i = 0; i < 2000; i++) {
        mn_coro_spawn(loop, deep, (void *)(intptr_t)i);
        ex += (long)(i & 0x7f) * 8;
    }
    mn_loop_stop(loop);
    mn_loop_run(loop);
    CHECK(total == ex);
    double v = 7.0;
    mn_coro_spawn(loop, fp_coro, &v);
    mn_coro_spawn(loop, yielder, (void *)3);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    CHECK(v == 21.0);
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    mn_coro_spawn(loop, echo_srv, NULL);
    mn_coro_spawn(loop, echo_cli, NULL);
    mn_coro_spawn(loop, offl, NULL);
    mn_coro_spawn(loop, sl, (void *)30);
    mn_coro_spawn(loop, sl, (void *)10);
    mn_coro_spawn(loop, sl, (void *)20);
    mn_loop_stop(loop);
    mn_loop_run(loop);
    CHECK(memcmp(got, "ping", 4) == 0);
    CHECK(off_val == 42);
    CHECK(slept[0] == 10 && slept[1] == 20 && slept[2] == 30);
    mn_loop_free(loop);
    printf("%s: %d failures\n", fails ? "FAILED" : "ok", fails);
    return fails != 0;
}
